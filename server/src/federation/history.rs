//! A room's history for the other servers in it: one event
//! (`/event/{eventId}`), the state at an event and its auth chain
//! (`/state`, `/state_ids`, `/event_auth`), and earlier events by walking
//! `prev_events` back (`/backfill`, `/get_missing_events`).
//!
//! Who may read what follows the spec's history visibility for servers (as
//! Synapse applies it): the requesting server must have a user joined to
//! the room now, and an event of a room whose history is `invited` or
//! `joined` is given whole only if one of that server's users was invited
//! (`invited`) or joined at that event; otherwise it comes redacted, so the
//! room's graph stays walkable without leaking content.

use super::membership::origin;
use super::pdu::VersionRules;
use super::Federation;
use crate::api::server_of;
use crate::store::StoredEvent;
use matrix_api::events::{
    RoomHistoryVisibilityEventContent, RoomHistoryVisibilityEventContentHistoryVisibility as HistoryVisibility,
    RoomMemberEventContent, RoomMemberEventContentMembership as Membership,
};
use matrix_api::server_server::endpoints::{
    backfill_room, get_event, get_event_auth, get_missing_previous_events, get_room_state, get_room_state_ids,
};
use matrix_api::server_server::{
    GetEventAuthResponse, GetMissingPreviousEventsResponse, GetRoomStateIdsResponse, GetRoomStateResponse,
    SinglePduTransaction, UnlimitedPduTransaction,
};
use matrix_api::EventContent;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

type Result<T> = std::result::Result<T, MatrixError>;
type Pdu = Map<String, Value>;

fn internal(e: impl std::fmt::Display) -> MatrixError {
    crate::api::internal(e)
}

/// How many events `/get_missing_events` returns when not told (the spec's default).
const DEFAULT_MISSING_LIMIT: i64 = 10;
/// The most events one `/backfill` or `/get_missing_events` answer holds,
/// whatever the limit asked (Synapse caps backfill at 100 too).
const MAX_EVENTS: usize = 100;

/// What one server may see of a room's events, replayed in stream order.
struct ServerView {
    /// Stream positions of the events the server may see whole.
    whole: BTreeSet<i64>,
}

impl ServerView {
    /// Replays the room's events up to `upto` (inclusive) for `server`:
    /// each event is judged by the state after it (so the server sees its
    /// own users' joins).
    fn compute(events: &[StoredEvent], server: &str) -> ServerView {
        let mut visibility = HistoryVisibility::Shared;
        let mut memberships: BTreeMap<&str, Membership> = BTreeMap::new();
        let mut whole = BTreeSet::new();
        for e in events {
            if e.event_type == RoomHistoryVisibilityEventContent::EVENT_TYPE && e.state_key.as_deref() == Some("") {
                if let Some(c) = e.content_as::<RoomHistoryVisibilityEventContent>() {
                    visibility = c.history_visibility;
                }
            }
            if e.event_type == RoomMemberEventContent::EVENT_TYPE {
                let ours = e.state_key.as_deref().filter(|user| server_of(user) == Some(server));
                if let (Some(user), Some(m)) = (ours, e.content_as::<RoomMemberEventContent>()) {
                    memberships.insert(user, m.membership);
                }
            }
            let any = |wanted: &[Membership]| memberships.values().any(|m| wanted.contains(m));
            let visible = match visibility {
                HistoryVisibility::WorldReadable | HistoryVisibility::Shared => true,
                HistoryVisibility::Invited => any(&[Membership::Join, Membership::Invite]),
                // `joined`, and any value this server does not know.
                _ => any(&[Membership::Join]),
            };
            if visible {
                whole.insert(e.stream);
            }
        }
        ServerView { whole }
    }
}

impl Federation {
    /// The room's version rules, after checking that `server` has a user
    /// joined to it now.
    fn room_for(&self, room_id: &str, server: &str) -> Result<VersionRules> {
        let version = self.hs.room(room_id)?.version;
        let joined = self.servers_in_room(room_id)?;
        if !joined.iter().skip(1).any(|s| s == server) {
            return Err(MatrixError::forbidden("The requesting server has no user in this room"));
        }
        VersionRules::of(&version).ok_or_else(|| internal("unknown room version"))
    }

    /// An event of `room_id` (any room when `None`) with its PDU.
    fn stored(&self, room_id: Option<&str>, event_id: &str) -> Result<(StoredEvent, Pdu)> {
        let not_found = || MatrixError::not_found("Unknown event");
        let event = self
            .hs
            .store
            .event(event_id)
            .map_err(internal)?
            .filter(|e| room_id.is_none_or(|r| e.room_id == r))
            .ok_or_else(not_found)?;
        let pdu = self.hs.store.pdu(event_id).map_err(internal)?.ok_or_else(not_found)?;
        Ok((event, pdu))
    }

    /// The PDUs as `server` may see them: whole, or redacted.
    fn as_seen_by(
        &self,
        room_id: &str,
        server: &str,
        rules: VersionRules,
        events: Vec<(i64, Pdu)>,
    ) -> Result<Vec<Pdu>> {
        let upto = events.iter().map(|(stream, _)| *stream).max().unwrap_or(i64::MIN);
        let history = self
            .hs
            .store
            .events_between(room_id, i64::MIN, upto)
            .map_err(internal)?;
        let view = ServerView::compute(&history, server);
        Ok(events
            .into_iter()
            .map(|(stream, pdu)| {
                if view.whole.contains(&stream) {
                    pdu
                } else {
                    rules.redact(&pdu)
                }
            })
            .collect())
    }

    /// The room's state before `event_id` (its own effect not applied):
    /// the state events of the stream before it, the latest per key.
    fn state_before(&self, room_id: &str, event: &StoredEvent) -> Result<Vec<StoredEvent>> {
        let earlier = self
            .hs
            .store
            .events_between(room_id, i64::MIN, event.stream - 1)
            .map_err(internal)?;
        let mut state: BTreeMap<(String, String), StoredEvent> = BTreeMap::new();
        for e in earlier {
            if let Some(key) = e.state_key.clone() {
                state.insert((e.event_type.clone(), key), e);
            }
        }
        Ok(state.into_values().collect())
    }

    /// The state before `event_id` of `room_id`: its events, their PDUs,
    /// and the auth chain of those (what `/state` and `/state_ids` answer).
    fn state_with_auth_chain(&self, room_id: &str, event_id: &str) -> Result<(Vec<StoredEvent>, Vec<Pdu>, Vec<Pdu>)> {
        let (event, _) = self.stored(Some(room_id), event_id)?;
        let state = self.state_before(room_id, &event)?;
        let pdus = self.pdus_of(&state)?;
        let auth_chain = self.auth_chain(&pdus)?;
        Ok((state, pdus, auth_chain))
    }

    fn pdus_of(&self, events: &[StoredEvent]) -> Result<Vec<Pdu>> {
        let mut pdus = Vec::new();
        for e in events {
            if let Some(pdu) = self.hs.store.pdu(&e.event_id).map_err(internal)? {
                pdus.push(pdu);
            }
        }
        Ok(pdus)
    }

    pub(super) async fn get_event(
        &self,
        request: get_event::Request,
        credentials: Credentials,
    ) -> Result<get_event::Response> {
        let server = origin(&credentials)?;
        let (event, pdu) = self.stored(None, &request.path.event_id)?;
        let rules = self.room_for(&event.room_id, server)?;
        let pdus = self.as_seen_by(&event.room_id, server, rules, vec![(event.stream, pdu)])?;
        let transaction = SinglePduTransaction::new(self.identity.server_name.clone(), crate::api::now_ms(), pdus);
        Ok(get_event::Response::Ok(transaction))
    }

    pub(super) async fn get_room_state(
        &self,
        request: get_room_state::Request,
        credentials: Credentials,
    ) -> Result<get_room_state::Response> {
        let room_id = &request.path.room_id;
        self.room_for(room_id, origin(&credentials)?)?;
        let (_, pdus, auth_chain) = self.state_with_auth_chain(room_id, &request.query.event_id)?;
        Ok(get_room_state::Response::Ok(GetRoomStateResponse::new(
            auth_chain, pdus,
        )))
    }

    pub(super) async fn get_room_state_ids(
        &self,
        request: get_room_state_ids::Request,
        credentials: Credentials,
    ) -> Result<get_room_state_ids::Response> {
        let room_id = &request.path.room_id;
        let rules = self.room_for(room_id, origin(&credentials)?)?;
        let (state, _, auth_chain) = self.state_with_auth_chain(room_id, &request.query.event_id)?;
        let auth_chain_ids = auth_chain.iter().filter_map(|pdu| rules.id_of(pdu)).collect();
        let pdu_ids = state.into_iter().map(|e| e.event_id).collect();
        Ok(get_room_state_ids::Response::Ok(GetRoomStateIdsResponse::new(
            auth_chain_ids,
            pdu_ids,
        )))
    }

    pub(super) async fn get_event_auth(
        &self,
        request: get_event_auth::Request,
        credentials: Credentials,
    ) -> Result<get_event_auth::Response> {
        let room_id = &request.path.room_id;
        self.room_for(room_id, origin(&credentials)?)?;
        let (_, pdu) = self.stored(Some(room_id), &request.path.event_id)?;
        let auth_chain = self.auth_chain(&[pdu])?;
        Ok(get_event_auth::Response::Ok(GetEventAuthResponse::new(auth_chain)))
    }

    pub(super) async fn backfill(
        &self,
        request: backfill_room::Request,
        credentials: Credentials,
    ) -> Result<backfill_room::Response> {
        let room_id = &request.path.room_id;
        let server = origin(&credentials)?;
        let rules = self.room_for(room_id, server)?;
        let limit = usize::try_from(request.query.limit).unwrap_or(0).min(MAX_EVENTS);
        let walked = self.walk_back(room_id, &request.query.v, &BTreeSet::new(), i64::MIN, limit, true)?;
        let pdus = self.as_seen_by(room_id, server, rules, walked)?;
        let transaction = UnlimitedPduTransaction::new(self.identity.server_name.clone(), crate::api::now_ms(), pdus);
        Ok(backfill_room::Response::Ok(transaction))
    }

    pub(super) async fn get_missing_events(
        &self,
        request: get_missing_previous_events::Request,
        credentials: Credentials,
    ) -> Result<get_missing_previous_events::Response> {
        let room_id = &request.path.room_id;
        let server = origin(&credentials)?;
        let rules = self.room_for(room_id, server)?;
        let body = request.body;
        let limit = usize::try_from(body.limit.unwrap_or(DEFAULT_MISSING_LIMIT))
            .unwrap_or(0)
            .min(MAX_EVENTS);
        let earliest: BTreeSet<String> = body.earliest_events.into_iter().collect();
        let min_depth = body.min_depth.unwrap_or(0);
        let mut walked = self.walk_back(room_id, &body.latest_events, &earliest, min_depth, limit, false)?;
        // Oldest first, as the receiver applies them.
        walked.sort_by_key(|(stream, pdu)| (pdu.get("depth").and_then(Value::as_i64), *stream));
        let events = self.as_seen_by(room_id, server, rules, walked)?;
        Ok(get_missing_previous_events::Response::Ok(
            GetMissingPreviousEventsResponse::new(events),
        ))
    }

    /// Walks the room's graph back from `from` along `prev_events`, deepest
    /// first, never into `stop` or below `min_depth`, collecting up to
    /// `limit` events (`from` themselves only when `include_from`).
    fn walk_back(
        &self,
        room_id: &str,
        from: &[String],
        stop: &BTreeSet<String>,
        min_depth: i64,
        limit: usize,
        include_from: bool,
    ) -> Result<Vec<(i64, Pdu)>> {
        // Deepest first; the PDUs of queued events wait beside the queue.
        let mut queue: BinaryHeap<(i64, i64, String)> = BinaryHeap::new();
        let mut queued: BTreeMap<String, Pdu> = BTreeMap::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        // Events this server does not have are not walked through.
        let mut push = |queue: &mut BinaryHeap<_>, queued: &mut BTreeMap<_, _>, id: String| {
            if stop.contains(&id) || !seen.insert(id.clone()) {
                return;
            }
            if let Ok((event, pdu)) = self.stored(Some(room_id), &id) {
                let depth = pdu.get("depth").and_then(Value::as_i64).unwrap_or(0);
                if depth >= min_depth {
                    queue.push((depth, event.stream, id.clone()));
                    queued.insert(id, pdu);
                }
            }
        };
        for id in from {
            push(&mut queue, &mut queued, id.clone());
        }
        let starts: BTreeSet<&String> = from.iter().collect();
        while let Some((_, stream, id)) = queue.pop() {
            if out.len() >= limit {
                break;
            }
            let Some(pdu) = queued.remove(&id) else { continue };
            for prev in super::build::named_events(&pdu, "prev_events") {
                push(&mut queue, &mut queued, prev);
            }
            // A start point is walked from; it is returned only when asked.
            if include_from || !starts.contains(&id) {
                out.push((stream, pdu));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::ServerView;
    use crate::store::StoredEvent;
    use serde_json::json;

    fn event(stream: i64, event_type: &str, state_key: Option<&str>, content: serde_json::Value) -> StoredEvent {
        StoredEvent {
            stream,
            event_id: format!("$e{stream}"),
            room_id: "!r:a".to_owned(),
            sender: "@alice:a".to_owned(),
            event_type: event_type.to_owned(),
            state_key: state_key.map(str::to_owned),
            content,
            origin_server_ts: stream,
            redacted_because: None,
        }
    }

    #[test]
    fn a_server_sees_joined_history_only_from_its_users_join() {
        let member =
            |stream, user, membership| event(stream, "m.room.member", Some(user), json!({ "membership": membership }));
        let message = |stream| event(stream, "m.room.message", None, json!({ "body": "x" }));
        let events = [
            event(
                1,
                "m.room.history_visibility",
                Some(""),
                json!({ "history_visibility": "joined" }),
            ),
            message(2),
            member(3, "@bob:b", "invite"),
            message(4),
            member(5, "@bob:b", "join"),
            message(6),
            member(7, "@bob:b", "leave"),
            message(8),
        ];
        let view = ServerView::compute(&events, "b");
        assert_eq!(
            view.whole.iter().copied().collect::<Vec<_>>(),
            [5, 6],
            "joined: from the join to the leave"
        );
        let mut invited = events.clone();
        invited[0].content = json!({ "history_visibility": "invited" });
        let view = ServerView::compute(&invited, "b");
        assert_eq!(view.whole.iter().copied().collect::<Vec<_>>(), [3, 4, 5, 6]);
        let mut shared = events.clone();
        shared[0].content = json!({ "history_visibility": "shared" });
        assert_eq!(ServerView::compute(&shared, "b").whole.len(), events.len());
        assert!(ServerView::compute(&events, "c").whole.is_empty());
    }
}
