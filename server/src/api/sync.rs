//! `/sync`: initial and incremental, with long-polling and filters.
//!
//! A sync token names a position in each of the three streams a sync reads:
//! room events, the side stream (account data, receipts) and typing. Its
//! form is `s{events}_{side}_{typing}`; `/messages` tokens are `s{events}`,
//! and either is accepted where a stream position is expected.

use super::events::{stripped, sync_room_event};
use super::filter::EventFilter;
use super::visibility::Visible;
use super::{ephemeral, id, internal, json_of, object, raw, Homeserver, Result};
use crate::store::{AccountData, StoredEvent};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    EventBatch, InviteState, InvitedRoom, JoinedRoom, LeftRoom, Rooms, StateEventBatch, SyncResponse,
    SyncResponseRoomsJoinValueSummary, TimelineBatch,
};
use matrix_api::events::{AnySyncTimelineEvent, Event};
use matrix_api::{EventContent, Raw, RoomId, UserId};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
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

/// The (event, side) positions of a sync token, for `/keys/changes`.
pub(super) fn positions(token: &str) -> Option<(i64, i64)> {
    SyncToken::parse(token).map(|t| (t.events, t.side))
}

const DEFAULT_TIMELINE_LIMIT: usize = 20;
const MAX_TIMEOUT_MS: i64 = 60_000;

pub(super) async fn sync(
    hs: &Homeserver,
    request: cs::sync::Request,
    credentials: Credentials,
) -> Result<cs::sync::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
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
    // Syncing marks the user online unless the client says otherwise.
    match &q.set_presence {
        Some(p) if !p.is_listed() => return Err(MatrixError::invalid_param(format!("set_presence {p}"))),
        Some(p) => hs.mark_presence(&user_id, p.as_str())?,
        None => hs.mark_presence(&user_id, "online")?,
    }
    let timeout = Duration::from_millis(q.timeout.unwrap_or(0).clamp(0, MAX_TIMEOUT_MS) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Registered before reading, so no change slips between read and wait.
        let changed = hs.changes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let asked = Asked {
            full_state: q.full_state.unwrap_or(false),
            state_after: q.use_state_after.unwrap_or(false),
        };
        let (response, has_news) = build(hs, &user_id, &device_id, since, &filter, asked)?;
        if since.is_none() || has_news || tokio::time::Instant::now() >= deadline {
            return Ok(cs::sync::Response::Ok(response));
        }
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

/// What the query asks for beside the filter.
#[derive(Clone, Copy)]
struct Asked {
    full_state: bool,
    state_after: bool,
}

/// What the sync filter and query select, in one place.
struct Selection<'a> {
    rooms: EventFilter<'a>,
    timeline: EventFilter<'a>,
    state: EventFilter<'a>,
    ephemeral: EventFilter<'a>,
    room_account_data: EventFilter<'a>,
    account_data: EventFilter<'a>,
    presence: EventFilter<'a>,
    include_leave: bool,
    timeline_limit: usize,
    /// `full_state`: every joined room with all its state, as if new.
    full_state: bool,
    /// `use_state_after`: state up to the end of the timeline, in `state_after`.
    state_after: bool,
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
            presence: EventFilter(&filter["presence"]),
            include_leave: room["include_leave"].as_bool().unwrap_or(false),
            timeline_limit: timeline.limit().unwrap_or(DEFAULT_TIMELINE_LIMIT).max(1),
            full_state: false,
            state_after: false,
        }
    }
}

fn account_data_events(entries: &[&AccountData], filter: EventFilter<'_>) -> Result<Vec<Raw<Event>>> {
    entries
        .iter()
        .filter(|a| filter.allows(&a.data_type, ""))
        .map(|a| raw(&Event::new(object(&a.content), a.data_type.clone())))
        .collect()
}

/// An ephemeral or account-data event of a typed content.
fn event_of<C: EventContent + serde::Serialize>(content: C) -> Result<Raw<Event>> {
    raw(&Event::new(content, C::EVENT_TYPE.to_owned()))
}

/// The sync response at the current positions, and whether it holds
/// anything new for the user (an incremental sync waits until it does).
fn build(
    hs: &Homeserver,
    user_id: &str,
    device_id: &str,
    since: Option<SyncToken>,
    filter: &Value,
    asked: Asked,
) -> Result<(SyncResponse, bool)> {
    let now = SyncToken {
        events: hs.store.max_stream().map_err(internal)?,
        side: hs.store.max_side_stream().map_err(internal)?,
        typing: hs.typing.serial(),
    };
    let from = since.unwrap_or_default();
    let select = Selection {
        full_state: asked.full_state,
        state_after: asked.state_after,
        ..Selection::of(filter)
    };
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
    let (mut join, mut invite, mut leave) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for (room_id, membership) in hs.store.rooms_of(user_id).map_err(internal)? {
        if !select.rooms.allows_room(&room_id) {
            continue;
        }
        let typed_room_id: RoomId = id(&room_id)?;
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
                let newly_joined = since.is_none()
                    || select.full_state
                    || own_change.is_some_and(|e| e.content["membership"] == "join");
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
                    join.insert(typed_room_id, room);
                }
            }
            "invite" if since.is_none() || own_change.is_some() => {
                let state = hs
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
                    .collect::<Result<_>>()?;
                let invite_state = InviteState { events: Some(state) };
                invite.insert(
                    typed_room_id,
                    InvitedRoom {
                        invite_state: Some(invite_state),
                    },
                );
            }
            "leave" | "ban" => {
                let Some(left) = own_change.filter(|_| since.is_some() || select.include_leave) else {
                    continue;
                };
                if hs.store.forgotten(user_id, &room_id).map_err(internal)? {
                    continue;
                }
                // What happened up to (and including) the user's departure,
                // of what they could see: a rejected invite or a ban
                // without a join shows only the user's own membership.
                let visible = Visible::compute(hs.store.as_ref(), &room_id, user_id, now.events).map_err(internal)?;
                let timeline = events
                    .iter()
                    .filter(|e| e.stream <= left.stream && select.timeline.allows(&e.event_type, &e.sender))
                    .filter(|e| visible.allows(e))
                    .map(sync_room_event)
                    .collect::<Result<_>>()?;
                let mut timeline = TimelineBatch::new(timeline);
                timeline.limited = Some(false);
                let left = LeftRoom {
                    timeline: Some(timeline),
                    state: Some(StateEventBatch {
                        events: Some(Vec::new()),
                    }),
                    ..LeftRoom::default()
                };
                leave.insert(typed_room_id, left);
            }
            _ => {}
        }
    }
    let global = account_data_events(&global, select.account_data)?;
    let to_device = to_device_events(hs, user_id, device_id, from.side, now.side)?;
    let presence = super::presence::sync_events(hs, user_id, from.side, select.presence)?;
    let (changed, left) = match since {
        Some(since) => super::keys::device_list_delta(hs, user_id, (since.events, since.side), (now.events, now.side))?,
        None => Default::default(),
    };
    let has_news = !join.is_empty()
        || !invite.is_empty()
        || !leave.is_empty()
        || !global.is_empty()
        || !to_device.is_empty()
        || !presence.is_empty()
        || !changed.is_empty()
        || !left.is_empty();
    let mut response = SyncResponse::new(now.render());
    response.rooms = Some(Rooms {
        join: Some(join),
        invite: Some(invite),
        leave: Some(leave),
        ..Rooms::default()
    });
    response.account_data = Some(EventBatch { events: Some(global) });
    response.presence = Some(EventBatch { events: Some(presence) });
    response.to_device = Some(Map::from_iter([("events".to_owned(), Value::Array(to_device))]));
    response.device_lists = Some(Map::from_iter([
        ("changed".to_owned(), Value::from(changed)),
        ("left".to_owned(), Value::from(left)),
    ]));
    response.device_one_time_keys_count = Some(hs.store.one_time_key_counts(user_id, device_id).map_err(internal)?);
    Ok((response, has_news))
}

/// Member counts and heroes: given on a room's first appearance and
/// whenever its membership changed, since a client keeps the last ones.
fn summary(hs: &Homeserver, room_id: &str, user_id: &str) -> Result<SyncResponseRoomsJoinValueSummary> {
    let state = hs.store.current_state(room_id).map_err(internal)?;
    let mut members: Vec<&StoredEvent> = state.iter().filter(|e| e.event_type == "m.room.member").collect();
    members.sort_by_key(|e| e.stream);
    let with = |m: &str| members.iter().filter(|e| e.content["membership"] == m).count() as i64;
    let named = state.iter().any(|e| {
        (e.event_type == "m.room.name" && e.content["name"].as_str().is_some_and(|n| !n.is_empty()))
            || (e.event_type == "m.room.canonical_alias" && e.content["alias"].is_string())
    });
    // The first five others who are joined or invited, else those who left.
    let others = |present: bool| {
        members
            .iter()
            .filter(|e| e.state_key.as_deref() != Some(user_id))
            .filter(|e| matches!(e.content["membership"].as_str(), Some("join" | "invite")) == present)
            .filter_map(|e| e.state_key.as_deref())
            .take(5)
            .map(id)
            .collect::<Result<Vec<UserId>>>()
    };
    let heroes = match others(true)? {
        present if present.is_empty() => others(false)?,
        present => present,
    };
    Ok(SyncResponseRoomsJoinValueSummary {
        m_heroes: (!named).then_some(heroes),
        m_joined_member_count: Some(with("join")),
        m_invited_member_count: Some(with("invite")),
    })
}

/// The device's to-device messages after `from` (those up to it were
/// received: the client asks from there), as `{ sender, type, content }`.
/// Messages queued after `upto` wait for the next sync.
fn to_device_events(hs: &Homeserver, user_id: &str, device_id: &str, from: i64, upto: i64) -> Result<Vec<Value>> {
    hs.store
        .to_device_inbox(user_id, device_id, from)
        .map_err(internal)?
        .into_iter()
        .filter(|m| m.pos <= upto)
        .map(|m| {
            json_of(&ToDeviceMessage {
                sender: m.sender,
                event_type: m.event_type,
                content: m.content,
            })
        })
        .collect()
}

/// A to-device message as `/sync` delivers it (`to_device.events`, which
/// the spec leaves as a free-form object).
#[derive(serde::Serialize)]
struct ToDeviceMessage {
    sender: String,
    #[serde(rename = "type")]
    event_type: String,
    content: Value,
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
) -> Result<Option<JoinedRoom>> {
    let upto = events.last().map_or(from.events, |e| e.stream);
    let history = Visible::compute(hs.store.as_ref(), room_id, user_id, upto).map_err(internal)?;
    let visible: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| select.timeline.allows(&e.event_type, &e.sender) && history.allows(e))
        .collect();
    let limited = visible.len() > select.timeline_limit;
    let timeline = &visible[visible.len().saturating_sub(select.timeline_limit)..];
    // The timeline starts after this position; older events are one `/messages` away.
    let first = timeline
        .first()
        .map_or(events.last().map_or(from.events, |e| e.stream), |e| e.stream);
    // State before the timeline (`state`), or up to its end (`state_after`,
    // which the client reads instead of the timeline's state events).
    let state: Vec<Raw<AnySyncTimelineEvent>> = if select.state_after {
        hs.store
            .current_state(room_id)
            .map_err(internal)?
            .iter()
            .filter(|e| full_state || e.stream > from.events)
            .filter(|e| select.state.allows(&e.event_type, &e.sender))
            .map(sync_room_event)
            .collect::<Result<_>>()?
    } else if full_state || limited {
        hs.store
            .current_state(room_id)
            .map_err(internal)?
            .iter()
            .filter(|e| e.stream < first && (full_state || e.stream > from.events))
            .filter(|e| select.state.allows(&e.event_type, &e.sender))
            .map(sync_room_event)
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let mut ephemeral = Vec::new();
    let typing_since = if full_state { i64::MIN } else { from.typing };
    if let Some(users) = hs.typing.changed_since(room_id, typing_since) {
        if select.ephemeral.allows("m.typing", "") {
            ephemeral.push(event_of(ephemeral::typing_content(&users)?)?);
        }
    }
    let receipts_since = if full_state { 0 } else { from.side };
    let receipts = hs.store.receipts_since(room_id, receipts_since).map_err(internal)?;
    let receipts = ephemeral::receipts_content(&receipts, Some(user_id))?;
    if !receipts.is_empty() && select.ephemeral.allows("m.receipt", "") {
        // m.receipt has no content type of its own: its content is the map.
        ephemeral.push(raw(&Event::new(receipts, "m.receipt".to_owned()))?);
    }
    let account_data = account_data_events(account_data, select.room_account_data)?;
    if !full_state && timeline.is_empty() && state.is_empty() && ephemeral.is_empty() && account_data.is_empty() {
        return Ok(None);
    }
    let mut timeline_batch = TimelineBatch::new(timeline.iter().map(|e| sync_room_event(e)).collect::<Result<_>>()?);
    timeline_batch.limited = Some(limited);
    timeline_batch.prev_batch = Some(format!("s{}", first - 1));
    let mut room = JoinedRoom {
        unread_notifications: Some(hs.unread_counts(room_id, user_id)?),
        timeline: Some(timeline_batch),
        ephemeral: Some(EventBatch {
            events: Some(ephemeral),
        }),
        account_data: Some(EventBatch {
            events: Some(account_data),
        }),
        ..JoinedRoom::default()
    };
    let state = Some(StateEventBatch { events: Some(state) });
    if select.state_after {
        room.state_after = state;
    } else {
        room.state = state;
    }
    let members_changed = events.iter().any(|e| e.event_type == "m.room.member");
    if full_state || members_changed {
        room.summary = Some(summary(hs, room_id, user_id)?);
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
