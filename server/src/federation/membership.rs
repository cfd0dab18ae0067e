//! Joining and leaving a room of this server from another one (this server
//! resident): `make_join`/`make_leave` hand out the membership event's
//! template, `send_join`/`send_leave` take the other server's signed event,
//! check it (the origin's signature with its fetched key, the content hash,
//! the event ID, the room's rules) and append it; a join is answered with
//! the room's state and its auth chain.

use super::build::{self, Built, Draft};
use super::pdu::VersionRules;
use super::Federation;
use crate::api::server_of;
use matrix_api::server_server::endpoints::{make_join, make_leave, send_join_v2, send_leave_v2};
use matrix_api::server_server::{MakeJoinResponse, MakeLeaveResponse, SendJoinV2Response};
use matrix_api_runtime::server::{Credentials, KeyLookup};
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, VecDeque};

type Result<T> = std::result::Result<T, MatrixError>;

fn internal(e: impl std::fmt::Display) -> MatrixError {
    crate::api::internal(e)
}

/// The origin of a verified federation request.
fn object(value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(pdu) => Ok(pdu),
        _ => Err(MatrixError::bad_json("the event is not an object")),
    }
}

pub(super) fn origin(credentials: &Credentials) -> Result<&str> {
    credentials
        .x_matrix
        .as_ref()
        .map(|x| x.origin.as_str())
        .ok_or_else(|| MatrixError::unauthorized("Missing X-Matrix authorization"))
}

fn membership_content(membership: &str) -> Value {
    let mut content = Map::new();
    content.insert("membership".to_owned(), Value::String(membership.to_owned()));
    Value::Object(content)
}

impl Federation {
    pub(super) async fn make_join(
        &self,
        request: make_join::Request,
        credentials: Credentials,
    ) -> Result<make_join::Response> {
        let (room_id, user_id) = (&request.path.room_id, &request.path.user_id);
        let version = self.hs.room(room_id)?.version;
        // Without `ver` the joining server supports room version 1 only.
        let supported = request.query.ver.clone().unwrap_or_else(|| vec!["1".to_owned()]);
        if !supported.contains(&version) {
            return Err(MatrixError::new(
                400,
                ErrorCode::IncompatibleRoomVersion,
                format!("The room is of version {version}"),
            )
            .with("room_version", version));
        }
        let template = self.membership_template(room_id, &version, user_id, origin(&credentials)?, "join")?;
        let response = MakeJoinResponse {
            room_version: Some(version),
            event: Some(serde_json::from_value(Value::Object(template)).map_err(internal)?),
        };
        Ok(make_join::Response::Ok(response))
    }

    pub(super) async fn make_leave(
        &self,
        request: make_leave::Request,
        credentials: Credentials,
    ) -> Result<make_leave::Response> {
        let (room_id, user_id) = (&request.path.room_id, &request.path.user_id);
        let version = self.hs.room(room_id)?.version;
        let template = self.membership_template(room_id, &version, user_id, origin(&credentials)?, "leave")?;
        let response = MakeLeaveResponse {
            room_version: Some(version),
            event: Some(serde_json::from_value(Value::Object(template)).map_err(internal)?),
        };
        Ok(make_leave::Response::Ok(response))
    }

    /// The template of `user_id`'s `membership` event, for the origin's own
    /// user only and only if the room's rules would accept it now.
    fn membership_template(
        &self,
        room_id: &str,
        version: &str,
        user_id: &str,
        origin: &str,
        membership: &str,
    ) -> Result<Map<String, Value>> {
        let hs = &self.hs;
        if server_of(user_id) != Some(origin) {
            return Err(MatrixError::forbidden(
                "The user does not belong to the requesting server",
            ));
        }
        let content = membership_content(membership);
        hs.check_allowed(room_id, user_id, "m.room.member", Some(user_id), &content)?;
        let draft = Draft {
            room_id: Some(room_id),
            sender: user_id,
            event_type: "m.room.member",
            state_key: Some(user_id),
            content: &content,
            origin_server_ts: crate::api::now_ms(),
        };
        let state = hs.store.current_state(room_id).map_err(internal)?;
        let extremities = hs.extremities(room_id)?;
        let auth_events = build::auth_event_ids(version, &state, &draft);
        let reference_hash = |id: &str| hs.reference_hash(version, id);
        let (mut template, _) =
            build::template(version, &draft, &extremities, &auth_events, reference_hash).map_err(internal)?;
        // The template names the requesting server, as the spec's schema asks.
        template.insert("origin".to_owned(), Value::String(origin.to_owned()));
        Ok(template)
    }

    pub(super) async fn send_join(
        &self,
        request: send_join_v2::Request,
        credentials: Credentials,
    ) -> Result<send_join_v2::Response> {
        let room_id = &request.path.room_id;
        let pdu = object(serde_json::to_value(&request.body).map_err(internal)?)?;
        // The state the joining server will start from: the room's, before the join.
        let state_before = self.hs.store.current_state(room_id).map_err(internal)?;
        let pdu = self
            .accept_membership(room_id, &request.path.event_id, origin(&credentials)?, pdu, "join")
            .await?;
        let state: Vec<Map<String, Value>> = state_before
            .iter()
            .filter_map(|e| self.hs.store.pdu(&e.event_id).ok().flatten())
            .collect();
        let auth_chain = self.auth_chain(&state)?;
        let mut response = SendJoinV2Response::new(auth_chain, state);
        response.event = Some(pdu);
        response.members_omitted = Some(false);
        response.servers_in_room = Some(self.servers_in_room(room_id)?);
        Ok(send_join_v2::Response::Ok(response))
    }

    pub(super) async fn send_leave(
        &self,
        request: send_leave_v2::Request,
        credentials: Credentials,
    ) -> Result<send_leave_v2::Response> {
        let pdu = object(serde_json::to_value(&request.body).map_err(internal)?)?;
        self.accept_membership(
            &request.path.room_id,
            &request.path.event_id,
            origin(&credentials)?,
            pdu,
            "leave",
        )
        .await?;
        Ok(send_leave_v2::Response::Ok(Map::new()))
    }

    /// Checks a membership event another server built from our template
    /// (its user's own, for this room, named by its hash, signed by that
    /// server, content hash intact) and appends it under the room's rules.
    /// Returns the PDU as appended.
    async fn accept_membership(
        &self,
        room_id: &str,
        claimed_event_id: &str,
        origin: &str,
        pdu: Map<String, Value>,
        membership: &str,
    ) -> Result<Map<String, Value>> {
        let hs = &self.hs;
        let version = hs.room(room_id)?.version;
        let rules = VersionRules::of(&version).ok_or_else(|| internal("unknown room version"))?;
        let text = |key: &str| pdu.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (sender, state_key) = (text("sender"), text("state_key"));
        let bad = |why: String| MatrixError::new(400, ErrorCode::BadJson, why);
        if text("type") != "m.room.member"
            || pdu.get("content").and_then(|c| c.get("membership")) != Some(&membership.into())
        {
            return Err(bad(format!("not a {membership} event")));
        }
        if sender != state_key || server_of(&sender) != Some(origin) {
            return Err(MatrixError::forbidden(format!(
                "The {membership} is not for a user of the requesting server"
            )));
        }
        if pdu.get("room_id").and_then(Value::as_str) != Some(room_id) {
            return Err(bad(format!("the {membership} event is for another room")));
        }
        if rules.id_of(&pdu).as_deref() != Some(claimed_event_id) {
            return Err(bad("the event ID does not match the event".to_owned()));
        }
        self.check_signed_by(&rules, &pdu, origin).await?;
        if !rules.content_hash_matches(&pdu) {
            return Err(bad(format!("the {membership} event's content hash does not match")));
        }
        let content = pdu.get("content").cloned().unwrap_or(Value::Null);
        let built = Built::received(claimed_event_id.to_owned(), pdu.clone(), true).map_err(|e| bad(e.to_owned()))?;
        hs.append_event(
            Some(built),
            room_id,
            &sender,
            "m.room.member",
            Some(&state_key),
            content,
            None,
        )?;
        Ok(pdu)
    }

    /// A PDU another server sent, checked as every received event is:
    /// signed by its sender's server (key fetched if needed), and only its
    /// redacted form kept if its content hash does not match, as the spec
    /// says. Why not, if it is refused.
    pub(super) async fn checked_pdu(
        &self,
        rules: &VersionRules,
        pdu: Map<String, Value>,
    ) -> std::result::Result<Map<String, Value>, String> {
        let sender = pdu.get("sender").and_then(Value::as_str).ok_or("no sender")?;
        let server = server_of(sender).ok_or("a sender without a server name")?;
        self.check_signed_by(rules, &pdu, server)
            .await
            .map_err(|e| e.body.error.clone())?;
        Ok(if rules.content_hash_matches(&pdu) {
            pdu
        } else {
            rules.redact(&pdu)
        })
    }

    /// Checks that `server` signed the event with a key of its (fetched if
    /// needed): at least one of its signatures must verify, and none may
    /// fail with a key we know.
    pub(super) async fn check_signed_by(
        &self,
        rules: &VersionRules,
        pdu: &Map<String, Value>,
        server: &str,
    ) -> Result<()> {
        let key_ids: Vec<String> = pdu
            .get("signatures")
            .and_then(|s| s.get(server))
            .and_then(Value::as_object)
            .map(|by_key| by_key.keys().cloned().collect())
            .unwrap_or_default();
        let mut verified = false;
        for key_id in key_ids.iter().filter(|id| id.starts_with("ed25519:")) {
            let Some(key) = self.keys.fetch(server, key_id).await else {
                continue;
            };
            rules
                .verify_signature(pdu, server, key_id, &key)
                .map_err(|e| MatrixError::forbidden(format!("The event's signature does not verify: {e}")))?;
            verified = true;
        }
        if !verified {
            return Err(MatrixError::forbidden(format!(
                "The event carries no signature of {server} we can check"
            )));
        }
        Ok(())
    }

    /// Every event the given events are authorized by, transitively.
    pub(super) fn auth_chain(&self, events: &[Map<String, Value>]) -> Result<Vec<Map<String, Value>>> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> = events
            .iter()
            .flat_map(|e| build::named_events(e, "auth_events"))
            .collect();
        let mut chain = Vec::new();
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(pdu) = self.hs.store.pdu(&id).map_err(internal)? {
                queue.extend(build::named_events(&pdu, "auth_events"));
                chain.push(pdu);
            }
        }
        Ok(chain)
    }

    /// The servers with a joined member in the room, this one first.
    pub(super) fn servers_in_room(&self, room_id: &str) -> Result<Vec<String>> {
        let state = self.hs.store.current_state(room_id).map_err(internal)?;
        let own = &self.identity.server_name;
        let others = crate::api::joined_servers(&state).into_iter().filter(|s| s != own);
        Ok(std::iter::once(own.clone()).chain(others).collect())
    }
}
