//! Joining a room that lives on other servers (no user here is in it yet).
//!
//! `make_join` on a resident server hands out the join's template in the
//! room's version; this server puts its user's profile in, names, hashes
//! and signs it, and `send_join` answers with the room's state before the
//! join and that state's auth chain. Every one of those events is checked
//! before anything is stored — it is of this room, its sender's server
//! signed it (keys fetched from that server), its content hash holds (else
//! only its redacted form is kept, as the spec says), and the room's rules
//! allow it on the auth events it names — and the join must be allowed on
//! the state. Then the room, its state and the join are stored in one
//! transaction (`Storage::import_room`): a join that fails leaves nothing.
//! From then on the room is like any other: this server's events go to the
//! servers in it, theirs arrive through `/send`.
//!
//! Not yet: partial state (`omit_members`), fetching auth events a server
//! left out, and joins through a server that answers with a forked state
//! (no state resolution).

use super::build::{self, Built};
use super::outlier::Outlier;
use super::pdu::VersionRules;
use super::Federation;
use crate::api::{now_ms, server_of, Homeserver};
use crate::store::{NewEvent, RoomInfo, StoredEvent};
use matrix_api::server_server::endpoints::{make_join, send_join_v2};
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, MatrixError>;

/// The room versions this server joins (`ver` of `make_join`).
const VERSIONS: std::ops::RangeInclusive<u32> = 1..=12;

/// A resident server's answer that cannot be accepted: `502`.
fn bad_answer(server: &str, why: impl std::fmt::Display) -> MatrixError {
    super::api::bad_answer("Joining", server, why)
}

/// One event of the room's state or auth chain, checked.
struct Received {
    event: Outlier,
    /// In the state (not only in its auth chain).
    in_state: bool,
}

impl Federation {
    /// Asks an alias's own server which room it names, and through which
    /// servers to join it.
    pub async fn resolve_remote_alias(&self, alias: &str) -> Result<(String, Vec<String>)> {
        let server = server_of(alias).ok_or_else(|| MatrixError::invalid_param("an alias without a server name"))?;
        let client = self.client_for(server).await;
        let request = matrix_api::server_server::endpoints::query_room_directory::Request::new(alias.to_owned());
        let matrix_api::server_server::endpoints::query_room_directory::Response::Ok(found) = client
            .query_room_directory(request)
            .await
            .map_err(|e| super::api::remote_failure("Resolving the alias", server, e))?;
        Ok((found.room_id, found.servers))
    }

    /// Joins `user_id` to `room_id` through the first of `servers` that
    /// lets it, with `content` as the membership event's content.
    pub async fn join_remote(&self, room_id: &str, user_id: &str, content: Value, servers: &[String]) -> Result<()> {
        self.through_first(servers, "Unknown room, and no server to join it through", |server| {
            self.join_through(room_id, user_id, &content, server)
        })
        .await
    }

    async fn join_through(&self, room_id: &str, user_id: &str, content: &Value, server: &str) -> Result<()> {
        let client = self.client_for(server).await;
        let mut request = make_join::Request::new(room_id.to_owned(), user_id.to_owned());
        request.query.ver = Some(VERSIONS.map(|v| v.to_string()).collect());
        let make_join::Response::Ok(template) = client
            .make_join(request)
            .await
            .map_err(|e| super::api::remote_failure("Joining", server, e))?;
        let version = template.room_version.unwrap_or_else(|| "1".to_owned());
        let rules = VersionRules::of(&version).ok_or_else(|| {
            MatrixError::new(
                400,
                ErrorCode::IncompatibleRoomVersion,
                format!("The room is of version {version}"),
            )
        })?;
        let event = template.event.ok_or_else(|| bad_answer(server, "no template"))?;
        let Value::Object(mut join) = serde_json::to_value(event).map_err(crate::api::internal)? else {
            return Err(bad_answer(server, "the template is not an object"));
        };
        if !build::is_own_membership_template(&join, room_id, user_id) {
            return Err(bad_answer(server, "the template is not this user's join of this room"));
        }
        // The template's content may carry what the resident server needs
        // (`join_authorised_via_users_server`); the user's profile goes beside it.
        let mut merged = join
            .get("content")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Value::Object(ours) = content {
            merged.extend(ours.clone());
        }
        merged.insert("membership".to_owned(), Value::String("join".to_owned()));
        join.insert("content".to_owned(), Value::Object(merged));
        let event_id = build::sign_remote_template(rules, &self.identity, &mut join).map_err(crate::api::internal)?;
        let body = serde_json::from_value(Value::Object(join.clone())).map_err(crate::api::internal)?;
        let send_join_v2::Response::Ok(answer) = client
            .send_join_v2(send_join_v2::Request::new(room_id.to_owned(), event_id.clone(), body))
            .await
            .map_err(|e| super::api::remote_failure("Joining", server, e))?;
        // The resident server may have co-signed the join (restricted rooms).
        if let Some(signed) = answer
            .event
            .filter(|signed| rules.id_of(signed).as_deref() == Some(&event_id))
        {
            join = signed;
        }
        let mut events = Vec::with_capacity(answer.state.len() + answer.auth_chain.len());
        events.extend(answer.state.into_iter().map(|pdu| (pdu, true)));
        events.extend(answer.auth_chain.into_iter().map(|pdu| (pdu, false)));
        let received = self
            .check_room_events(&rules, &version, room_id, events)
            .await
            .map_err(|why| bad_answer(server, why))?;
        self.store_joined_room(
            &version,
            room_id,
            user_id,
            received,
            Built::received(event_id, join, false),
        )
    }

    /// Checks the state and auth chain of a room being joined; the events
    /// in the order they are to be stored (auth chain, then state, each by
    /// depth), or why they cannot be trusted.
    async fn check_room_events(
        &self,
        rules: &VersionRules,
        version: &str,
        room_id: &str,
        events: Vec<(Map<String, Value>, bool)>,
    ) -> std::result::Result<Vec<Received>, String> {
        let mut by_id: BTreeMap<String, Received> = BTreeMap::new();
        for (pdu, in_state) in events {
            let event_id = rules.id_of(&pdu).ok_or("an event without an ID")?;
            if let Some(seen) = by_id.get_mut(&event_id) {
                seen.in_state |= in_state;
                continue;
            }
            if !super::pdu::is_event_of(&pdu, &event_id, room_id) {
                return Err(format!("{event_id} is not an event of {room_id}"));
            }
            let pdu = self
                .checked_pdu(rules, pdu)
                .await
                .map_err(|why| format!("{event_id}: {why}"))?;
            let event = Outlier::of(event_id.clone(), room_id, pdu)?;
            by_id.insert(event_id, Received { event, in_state });
        }
        let creates: Vec<&Received> = by_id
            .values()
            .filter(|e| {
                e.in_state
                    && e.event.stored.event_type == "m.room.create"
                    && e.event.stored.state_key.as_deref() == Some("")
            })
            .collect();
        let [create] = creates[..] else {
            return Err("the state has no single create event".to_owned());
        };
        let created_version = create
            .event
            .stored
            .content
            .get("room_version")
            .and_then(Value::as_str)
            .unwrap_or("1");
        if created_version != version {
            return Err(format!(
                "the room was created as version {created_version}, not {version}"
            ));
        }
        let create = create.event.stored.clone();
        for Received { event, .. } in by_id.values() {
            let e = &event.stored;
            let mut auth_state = vec![create.clone()];
            for auth_id in super::build::named_events(&event.pdu, "auth_events") {
                let auth = by_id
                    .get(&auth_id)
                    .ok_or_else(|| format!("{} names an auth event {auth_id} not given", e.event_id))?;
                if auth.event.stored.event_id != create.event_id {
                    auth_state.push(auth.event.stored.clone());
                }
            }
            if e.event_id == create.event_id {
                auth_state.clear();
            }
            Homeserver::allowed_on(
                version,
                &auth_state,
                &e.sender,
                &e.event_type,
                e.state_key.as_deref(),
                &e.content,
            )
            .map_err(|why| format!("{} is not allowed by its auth events: {why}", e.event_id))?;
        }
        let mut ordered: Vec<Received> = by_id.into_values().collect();
        ordered.sort_by_key(|e| (e.in_state, e.event.depth));
        Ok(ordered)
    }

    /// Stores the joined room: its state, and the join, which the room's
    /// rules must allow on it.
    fn store_joined_room(
        &self,
        version: &str,
        room_id: &str,
        user_id: &str,
        events: Vec<Received>,
        join: std::result::Result<Built, &'static str>,
    ) -> Result<()> {
        let hs = &self.hs;
        let join = join.map_err(|why| MatrixError::bad_json(format!("the join: {why}")))?;
        let state: Vec<StoredEvent> = events
            .iter()
            .filter(|e| e.in_state)
            .map(|e| e.event.stored.clone())
            .collect();
        let content = join.pdu.get("content").cloned().unwrap_or(Value::Null);
        Homeserver::allowed_on(version, &state, user_id, "m.room.member", Some(user_id), &content)
            .map_err(MatrixError::forbidden)?;
        let create = state
            .iter()
            .find(|e| e.event_type == "m.room.create")
            .ok_or_else(|| crate::api::internal("no create event"))?;
        let legacy_creator = create.content.get("creator").and_then(Value::as_str);
        let creator = match legacy_creator {
            Some(creator) if version.parse::<u32>().unwrap_or(1) < 11 => creator.to_owned(),
            _ => create.sender.clone(),
        };
        let imported: Vec<NewEvent<'_>> = events.iter().map(|e| e.event.as_new()).collect();
        let join_event = NewEvent {
            event_id: &join.event_id,
            room_id,
            sender: user_id,
            event_type: "m.room.member",
            state_key: Some(user_id),
            content: &content,
            origin_server_ts: join
                .pdu
                .get("origin_server_ts")
                .and_then(Value::as_i64)
                .unwrap_or_else(now_ms),
            txn_key: None,
            depth: join.depth,
            prev_events: &join.prev_events,
            pdu: &join.pdu,
            destinations: &[],
            notifications: &[],
            fork: None,
            soft_failed: false,
        };
        let room = RoomInfo {
            creator,
            version: version.to_owned(),
        };
        hs.store
            .import_room(room_id, &room, &imported, join_event)
            .map_err(crate::api::internal)?;
        hs.store.unforget(user_id, room_id).map_err(crate::api::internal)?;
        hs.changes.notify_waiters();
        Ok(())
    }
}
