//! `/sync`: initial and incremental, with long-polling and filters.
//!
//! A sync token names a position in each of the three streams a sync reads:
//! room events, the side stream (account data, receipts) and typing. Its
//! form is `s{events}_{side}_{typing}`; `/messages` tokens are `s{events}`,
//! and either is accepted where a stream position is expected.

use super::events::{client_event, stripped};
use super::filter::EventFilter;
use super::{internal, typed, Homeserver, Result};
use crate::store::{AccountData, StoredEvent};
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct SyncToken {
    events: i64,
    side: i64,
    typing: i64,
}

impl SyncToken {
    fn parse(token: &str) -> Option<SyncToken> {
        let mut parts = token.strip_prefix('s')?.split('_').map(str::parse::<i64>);
        let events = parts.next()?.ok()?;
        let side = parts.next().transpose().ok()?.unwrap_or(0);
        let typing = parts.next().transpose().ok()?.unwrap_or(0);
        Some(SyncToken { events, side, typing })
    }

    fn render(&self) -> String {
        format!("s{}_{}_{}", self.events, self.side, self.typing)
    }
}

/// The event-stream position of a sync or pagination token.
pub(super) fn stream_position(token: &str) -> Option<i64> {
    SyncToken::parse(token).map(|t| t.events)
}

const DEFAULT_TIMELINE_LIMIT: usize = 20;
const MAX_TIMEOUT_MS: i64 = 60_000;

pub(super) async fn sync(
    hs: &Homeserver,
    request: cs::sync::Request,
    credentials: Credentials,
) -> Result<cs::sync::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let q = request.query;
    let since = match q.since.as_deref() {
        Some(t) => Some(SyncToken::parse(t).ok_or_else(|| MatrixError::invalid_param("since"))?),
        None => None,
    };
    let filter = match q.filter.as_deref() {
        None => Value::Null,
        Some(f) if f.trim_start().starts_with('{') => {
            let filter = serde_json::from_str(f).map_err(|e| MatrixError::invalid_param(format!("filter: {e}")))?;
            super::filter::validate(&filter).map_err(MatrixError::invalid_param)?;
            filter
        }
        Some(id) => id
            .parse()
            .ok()
            .map(|id| hs.store.filter(&user_id, id))
            .transpose()
            .map_err(internal)?
            .flatten()
            .ok_or_else(|| MatrixError::invalid_param("filter: no such filter ID"))?,
    };
    let timeout = Duration::from_millis(q.timeout.unwrap_or(0).clamp(0, MAX_TIMEOUT_MS) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Registered before reading, so no change slips between read and wait.
        let changed = hs.changes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (response, has_news) = build(hs, &user_id, since, &filter)?;
        if since.is_none() || has_news || tokio::time::Instant::now() >= deadline {
            return Ok(cs::sync::Response::Ok(typed(response)?));
        }
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

/// What the sync filter selects, in one place.
struct Selection<'a> {
    rooms: EventFilter<'a>,
    timeline: EventFilter<'a>,
    state: EventFilter<'a>,
    ephemeral: EventFilter<'a>,
    room_account_data: EventFilter<'a>,
    account_data: EventFilter<'a>,
    include_leave: bool,
    timeline_limit: usize,
}

impl<'a> Selection<'a> {
    fn of(filter: &'a Value) -> Self {
        let room = &filter["room"];
        let timeline = EventFilter(&room["timeline"]);
        Selection {
            rooms: EventFilter(room),
            timeline,
            state: EventFilter(&room["state"]),
            ephemeral: EventFilter(&room["ephemeral"]),
            room_account_data: EventFilter(&room["account_data"]),
            account_data: EventFilter(&filter["account_data"]),
            include_leave: room["include_leave"].as_bool().unwrap_or(false),
            timeline_limit: timeline.limit().unwrap_or(DEFAULT_TIMELINE_LIMIT).max(1),
        }
    }
}

fn account_data_events(entries: &[&AccountData], filter: EventFilter<'_>) -> Vec<Value> {
    entries
        .iter()
        .filter(|a| filter.allows(&a.data_type, ""))
        .map(|a| json!({ "type": a.data_type, "content": a.content }))
        .collect()
}

/// The sync response at the current positions, and whether it holds
/// anything new for the user (an incremental sync waits until it does).
fn build(hs: &Homeserver, user_id: &str, since: Option<SyncToken>, filter: &Value) -> Result<(Value, bool)> {
    let now = SyncToken {
        events: hs.store.max_stream().map_err(internal)?,
        side: hs.store.max_side_stream().map_err(internal)?,
        typing: hs.typing.serial(),
    };
    let from = since.unwrap_or_default();
    let select = Selection::of(filter);
    let account_data = hs.store.account_data_since(user_id, from.side).map_err(internal)?;
    let mut room_account_data: BTreeMap<&str, Vec<&AccountData>> = BTreeMap::new();
    let mut global = Vec::new();
    for entry in &account_data {
        if entry.room_id.is_empty() {
            global.push(entry);
        } else {
            room_account_data.entry(&entry.room_id).or_default().push(entry);
        }
    }
    let (mut join, mut invite, mut leave) = (Map::new(), Map::new(), Map::new());
    for (room_id, membership) in hs.store.rooms_of(user_id).map_err(internal)? {
        if !select.rooms.allows_room(&room_id) {
            continue;
        }
        let events = hs
            .store
            .events_between(&room_id, from.events, now.events)
            .map_err(internal)?;
        let own_change = events
            .iter()
            .rev()
            .find(|e| e.event_type == "m.room.member" && e.state_key.as_deref() == Some(user_id));
        let account_data = room_account_data
            .get(room_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        match membership.as_str() {
            "join" => {
                let newly_joined = since.is_none() || own_change.is_some_and(|e| e.content["membership"] == "join");
                let room = joined_room(
                    hs,
                    &room_id,
                    user_id,
                    &events,
                    newly_joined,
                    from,
                    &select,
                    account_data,
                )?;
                if let Some(room) = room {
                    join.insert(room_id, room);
                }
            }
            "invite" if since.is_none() || own_change.is_some() => {
                let state: Vec<Value> = hs
                    .store
                    .current_state(&room_id)
                    .map_err(internal)?
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.event_type.as_str(),
                            "m.room.create" | "m.room.name" | "m.room.join_rules" | "m.room.topic" | "m.room.avatar"
                        ) || (e.event_type == "m.room.member" && e.state_key.as_deref() == Some(user_id))
                    })
                    .map(stripped)
                    .collect();
                invite.insert(room_id, json!({ "invite_state": { "events": state } }));
            }
            "leave" | "ban" => {
                let Some(left) = own_change.filter(|_| since.is_some() || select.include_leave) else {
                    continue;
                };
                if hs.store.forgotten(user_id, &room_id).map_err(internal)? {
                    continue;
                }
                // What happened up to (and including) the user's departure.
                let timeline: Vec<Value> = events
                    .iter()
                    .filter(|e| e.stream <= left.stream && select.timeline.allows(&e.event_type, &e.sender))
                    .map(|e| client_event(e, false))
                    .collect();
                leave.insert(
                    room_id,
                    json!({ "timeline": { "events": timeline, "limited": false }, "state": { "events": [] } }),
                );
            }
            _ => {}
        }
    }
    let global = account_data_events(&global, select.account_data);
    let has_news = !join.is_empty() || !invite.is_empty() || !leave.is_empty() || !global.is_empty();
    let response = json!({
        "next_batch": now.render(),
        "rooms": { "join": join, "invite": invite, "leave": leave },
        "account_data": { "events": global },
        "presence": { "events": [] },
        "to_device": { "events": [] },
        "device_one_time_keys_count": {},
    });
    Ok((response, has_news))
}

/// A joined room's section, or `None` when nothing in it is new.
#[allow(clippy::too_many_arguments)]
fn joined_room(
    hs: &Homeserver,
    room_id: &str,
    user_id: &str,
    events: &[StoredEvent],
    full_state: bool,
    from: SyncToken,
    select: &Selection<'_>,
    account_data: &[&AccountData],
) -> Result<Option<Value>> {
    let visible: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| select.timeline.allows(&e.event_type, &e.sender))
        .collect();
    let limited = visible.len() > select.timeline_limit;
    let timeline = &visible[visible.len().saturating_sub(select.timeline_limit)..];
    // The timeline starts after this position; older events are one `/messages` away.
    let first = timeline
        .first()
        .map_or(events.last().map_or(from.events, |e| e.stream), |e| e.stream);
    let state: Vec<Value> = if full_state || limited {
        hs.store
            .current_state(room_id)
            .map_err(internal)?
            .iter()
            .filter(|e| e.stream < first && (full_state || e.stream > from.events))
            .filter(|e| select.state.allows(&e.event_type, &e.sender))
            .map(|e| client_event(e, false))
            .collect()
    } else {
        Vec::new()
    };
    let mut ephemeral = Vec::new();
    let typing_since = if full_state { i64::MIN } else { from.typing };
    if let Some(users) = hs.typing.changed_since(room_id, typing_since) {
        if select.ephemeral.allows("m.typing", "") {
            ephemeral.push(json!({ "type": "m.typing", "content": { "user_ids": users } }));
        }
    }
    let receipts_since = if full_state { 0 } else { from.side };
    let mut receipts = Map::new();
    for r in hs.store.receipts_since(room_id, receipts_since).map_err(internal)? {
        if r.receipt_type == "m.read.private" && r.user_id != user_id {
            continue;
        }
        let mut detail = json!({ "ts": r.ts });
        if !r.thread_id.is_empty() {
            detail["thread_id"] = json!(r.thread_id);
        }
        let by_type = receipts.entry(r.event_id).or_insert_with(|| json!({}));
        by_type[&r.receipt_type][&r.user_id] = detail;
    }
    if !receipts.is_empty() && select.ephemeral.allows("m.receipt", "") {
        ephemeral.push(json!({ "type": "m.receipt", "content": receipts }));
    }
    let account_data = account_data_events(account_data, select.room_account_data);
    if !full_state && timeline.is_empty() && state.is_empty() && ephemeral.is_empty() && account_data.is_empty() {
        return Ok(None);
    }
    let mut room = json!({
        "timeline": {
            "events": timeline.iter().map(|e| client_event(e, false)).collect::<Vec<_>>(),
            "limited": limited,
            "prev_batch": format!("s{}", first - 1),
        },
        "state": { "events": state },
        "ephemeral": { "events": ephemeral },
        "account_data": { "events": account_data },
    });
    if full_state {
        let members = hs.store.current_state(room_id).map_err(internal)?;
        let count = |m: &str| {
            members
                .iter()
                .filter(|e| e.event_type == "m.room.member" && e.content["membership"] == m)
                .count()
        };
        room["summary"] = json!({ "m.joined_member_count": count("join"), "m.invited_member_count": count("invite") });
    }
    Ok(Some(room))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_accept_pagination_tokens() {
        let t = SyncToken {
            events: 12,
            side: 3,
            typing: 4,
        };
        assert_eq!(SyncToken::parse(&t.render()), Some(t));
        assert_eq!(stream_position("s7"), Some(7));
        assert_eq!(SyncToken::parse("s7").map(|t| t.side), Some(0));
        assert_eq!(SyncToken::parse("x7"), None);
        assert_eq!(SyncToken::parse("s7_a"), None);
    }
}
