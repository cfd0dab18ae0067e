//! `/sync` query options and the room summary over raw HTTP:
//! `use_state_after` (state up to the end of the timeline, which
//! matrix-rust-sdk asks for), `full_state`, and member counts and heroes
//! that follow membership changes (a client keeps the last ones it got).

use crate::raw::{http, register, serve};
use serde_json::{json, Value};

fn call(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, answer) = http(
        addr,
        method,
        &format!("/_matrix/client/v3/{path}"),
        Some(token),
        body.as_bytes(),
        "",
    );
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

fn types(batch: &Value) -> Vec<String> {
    batch["events"]
        .as_array()
        .map(|events| events.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn state_after_full_state_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");
    let bob = register(a, "bob");
    let room = call(
        a,
        &alice,
        "POST",
        "createRoom",
        Some(json!({ "preset": "public_chat" })),
    )["room_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Initial sync with use_state_after: all state in state_after, no state.
    let sync = call(a, &alice, "GET", "sync?use_state_after=true", None);
    let joined = &sync["rooms"]["join"][&room];
    assert!(joined.get("state").is_none(), "{joined}");
    let after = types(&joined["state_after"]);
    for t in [
        "m.room.create",
        "m.room.member",
        "m.room.power_levels",
        "m.room.join_rules",
    ] {
        assert!(after.contains(&t.to_owned()), "{t} in {after:?}");
    }
    assert_eq!(joined["summary"]["m.joined_member_count"], 1);
    assert_eq!(joined["summary"]["m.heroes"], json!([]));
    let since = sync["next_batch"].as_str().unwrap().to_owned();

    // A change: in the timeline and in state_after; bob's join updates the summary.
    call(
        a,
        &alice,
        "PUT",
        &format!("rooms/{room}/state/m.room.topic/"),
        Some(json!({ "topic": "tea" })),
    );
    call(a, &bob, "POST", &format!("join/{room}"), Some(json!({})));
    let sync = call(
        a,
        &alice,
        "GET",
        &format!("sync?since={since}&use_state_after=true"),
        None,
    );
    let joined = &sync["rooms"]["join"][&room];
    assert_eq!(types(&joined["state_after"]), ["m.room.topic", "m.room.member"]);
    assert_eq!(types(&joined["timeline"]), ["m.room.topic", "m.room.member"]);
    assert_eq!(joined["summary"]["m.joined_member_count"], 2);
    assert_eq!(joined["summary"]["m.heroes"], json!(["@bob:test.local"]));
    let since = sync["next_batch"].as_str().unwrap().to_owned();

    // Without the option, the state before the timeline is in `state`.
    call(
        a,
        &alice,
        "PUT",
        &format!("rooms/{room}/state/m.room.name/"),
        Some(json!({ "name": "Tea" })),
    );
    let sync = call(a, &alice, "GET", &format!("sync?since={since}"), None);
    let joined = &sync["rooms"]["join"][&room];
    assert!(joined.get("state_after").is_none());
    assert_eq!(types(&joined["state"]), Vec::<String>::new());
    assert!(
        joined.get("summary").is_none(),
        "no membership change, no summary: {joined}"
    );
    let since = sync["next_batch"].as_str().unwrap().to_owned();

    // full_state: the room comes whole though nothing changed; a named room has no heroes.
    let sync = call(a, &alice, "GET", &format!("sync?since={since}&full_state=true"), None);
    let joined = &sync["rooms"]["join"][&room];
    assert!(
        types(&joined["state"]).contains(&"m.room.create".to_owned()),
        "{joined}"
    );
    assert!(joined["summary"].get("m.heroes").is_none());
    assert_eq!(joined["summary"]["m.joined_member_count"], 2);
}
