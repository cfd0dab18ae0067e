//! A large, realistic `/sync` response assembled from the spec's own event
//! examples: many joined rooms, each with state and a timeline mixing every
//! room event type the spec illustrates, plus receipts, typing and account
//! data. Deterministic: the same spec gives the same bytes.

use anyhow::{Context, Result};
use matrix_codegen::ir::ExampleKind;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The spec's event examples, split into room events and state events.
struct Examples {
    timeline: Vec<Value>,
    state: Vec<Value>,
    ephemeral: Vec<Value>,
    account_data: Vec<Value>,
}

fn examples(spec: &Path) -> Result<Examples> {
    let spec = matrix_codegen::load_spec(spec).with_context(|| format!("loading {}", spec.display()))?;
    let mut out = Examples {
        timeline: Vec::new(),
        state: Vec::new(),
        ephemeral: Vec::new(),
        account_data: Vec::new(),
    };
    let mut events: Vec<&matrix_codegen::ir::Example> = spec
        .api
        .examples
        .iter()
        .filter(|e| e.kind == ExampleKind::Event)
        .collect();
    events.sort_by(|a, b| a.location.file.cmp(&b.location.file));
    for e in events {
        let v = &e.value;
        let (Some(t), true) = (v["type"].as_str(), v["content"].is_object()) else {
            continue;
        };
        if v.get("event_id").is_some() && v.get("sender").is_some() {
            let mut event = v.clone();
            if let Some(o) = event.as_object_mut() {
                o.remove("room_id");
            }
            if v.get("state_key").is_some() {
                out.state.push(event);
            } else {
                out.timeline.push(event);
            }
        } else if matches!(t, "m.receipt" | "m.typing") {
            out.ephemeral.push(json!({ "type": t, "content": v["content"] }));
        } else if v.get("sender").is_none() {
            out.account_data.push(json!({ "type": t, "content": v["content"] }));
        }
    }
    anyhow::ensure!(
        !out.timeline.is_empty() && !out.state.is_empty(),
        "no event examples found"
    );
    Ok(out)
}

/// The response as JSON bytes: `rooms` joined rooms with `timeline` events each.
pub fn sync_response(spec: &Path, rooms: usize, timeline: usize) -> Result<Vec<u8>> {
    let ex = examples(spec)?;
    let mut join = Map::new();
    for r in 0..rooms {
        let room_id = format!("!room{r:05}:example.org");
        let mut events = Vec::new();
        for i in 0..timeline {
            // Mostly messages, with state changes mixed in, as in real rooms.
            let source = if i % 5 == 4 {
                &ex.state[i % ex.state.len()]
            } else {
                &ex.timeline[i % ex.timeline.len()]
            };
            let mut event = source.clone();
            event["event_id"] = json!(format!("$r{r}e{i}"));
            event["origin_server_ts"] = json!(1_700_000_000_000u64 + (r * timeline + i) as u64);
            events.push(event);
        }
        let state: Vec<Value> = ex
            .state
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut s = s.clone();
                s["event_id"] = json!(format!("$r{r}s{i}"));
                s
            })
            .collect();
        join.insert(
            room_id,
            json!({
                "timeline": { "events": events, "limited": true, "prev_batch": format!("p{r}") },
                "state": { "events": state },
                "ephemeral": { "events": ex.ephemeral },
                "account_data": { "events": [] },
                "unread_notifications": { "highlight_count": r % 3, "notification_count": r % 7 },
                "summary": { "m.joined_member_count": 2 + r % 50, "m.invited_member_count": 0, "m.heroes": ["@alice:example.org"] },
            }),
        );
    }
    let body = json!({
        "next_batch": "s72595_4483_1934",
        "rooms": { "join": join, "invite": {}, "leave": {}, "knock": {} },
        "account_data": { "events": ex.account_data },
        "presence": { "events": [] },
        "to_device": { "events": [] },
    });
    Ok(serde_json::to_vec(&body)?)
}
