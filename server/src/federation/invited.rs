//! Invites of this server's users by other servers (`PUT /invite` v2), and
//! their rejection (`make_leave`/`send_leave` on the inviting server).
//!
//! An invite is checked as the spec asks before this server signs it: an
//! `m.room.member` invite, sent by a user of the requesting server, signed
//! by it with its content hash intact, named by its ID, for an existing
//! user here, in a room version this server supports. The room's stripped
//! state that comes with it (`invite_room_state`) is kept only as far as
//! its events are signed PDUs of that room (from room version 12 anything
//! else is refused, as the spec says servers SHOULD). For a room this
//! server is not in, the invite and that state are recorded outside the
//! room (`Storage::record_outside_room`), so that the invitee's `/sync`
//! shows it, a join goes to the inviting server, and a rejection is sent
//! there.

use super::build;
use super::outlier::Outlier;
use super::pdu::VersionRules;
use super::Federation;
use crate::api::server_of;
use crate::store::NewEvent;
use matrix_api::server_server::endpoints::{make_leave, send_invite_v2, send_leave_v2};
use matrix_api::server_server::EventContainer;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, MatrixError>;

/// The most stripped-state events kept with one invite.
const MAX_INVITE_STATE: usize = 50;

fn internal(e: impl std::fmt::Display) -> MatrixError {
    crate::api::internal(e)
}

fn text<'a>(pdu: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    pdu.get(key).and_then(Value::as_str)
}

impl Federation {
    pub(super) async fn receive_invite(
        &self,
        request: send_invite_v2::Request,
        credentials: Credentials,
    ) -> Result<send_invite_v2::Response> {
        let origin = super::membership::origin(&credentials)?.to_owned();
        let room_id = request.path.room_id;
        let body = request.body;
        let version = body.room_version;
        let rules = VersionRules::of(&version).ok_or_else(|| {
            MatrixError::new(
                400,
                ErrorCode::IncompatibleRoomVersion,
                format!("Room version {version} is not supported here"),
            )
            .with("room_version", version.clone())
        })?;
        let Value::Object(mut invite) = serde_json::to_value(body.event).map_err(internal)? else {
            return Err(MatrixError::invalid_param("the invite is not an object"));
        };
        let invitee = text(&invite, "state_key").unwrap_or_default().to_owned();
        let sender = text(&invite, "sender").unwrap_or_default().to_owned();
        let is_invite = text(&invite, "type") == Some("m.room.member")
            && invite.get("content").and_then(|c| c.get("membership")) == Some(&Value::from("invite"));
        if !is_invite {
            return Err(MatrixError::invalid_param("not an invite"));
        }
        if server_of(&sender) != Some(origin.as_str()) {
            return Err(MatrixError::invalid_param(
                "the inviter is not a user of the requesting server",
            ));
        }
        let is_ours = server_of(&invitee) == Some(self.identity.server_name.as_str());
        if !is_ours || !self.hs.store.user_exists(&invitee).map_err(internal)? {
            return Err(MatrixError::invalid_param("the invitee is not a user of this server"));
        }
        if text(&invite, "room_id") != Some(room_id.as_str()) {
            return Err(MatrixError::invalid_param("the invite is for another room"));
        }
        let event_id = request.path.event_id;
        if rules.id_of(&invite).as_deref() != Some(event_id.as_str()) {
            return Err(MatrixError::invalid_param("the event ID does not match the invite"));
        }
        self.check_signed_by(&rules, &invite, &origin)
            .await
            .map_err(|e| MatrixError::invalid_param(e.body.error))?;
        if !rules.content_hash_matches(&invite) {
            return Err(MatrixError::invalid_param("the invite's content hash does not match"));
        }
        let state = self
            .invite_state(&rules, &version, &room_id, body.invite_room_state.unwrap_or_default())
            .await?;
        // Signing keeps the hash (the content is the same) and adds ours.
        let identity = &self.identity;
        rules.hash_and_sign(
            &mut invite,
            &identity.server_name,
            &identity.key_id,
            identity.signing_key(),
        );
        if self.hs.store.room_info(&room_id).map_err(internal)?.is_none() {
            let mut events = state;
            events.push(Outlier::of(event_id, &room_id, invite.clone()).map_err(MatrixError::invalid_param)?);
            let records: Vec<NewEvent<'_>> = events.iter().map(Outlier::as_new).collect();
            self.hs.store.record_outside_room(&records).map_err(internal)?;
            self.hs.changes.notify_waiters();
        }
        // In a room this server is in, the invite also arrives as a PDU.
        let event = serde_json::from_value(Value::Object(invite)).map_err(internal)?;
        Ok(send_invite_v2::Response::Ok(EventContainer::new(event)))
    }

    /// The signed PDUs of `room_id` among an invite's stripped state (at
    /// most [`MAX_INVITE_STATE`]); from room version 12, anything else
    /// refuses the invite.
    async fn invite_state(
        &self,
        rules: &VersionRules,
        version: &str,
        room_id: &str,
        events: Vec<Map<String, Value>>,
    ) -> Result<Vec<Outlier>> {
        let strict = version.parse::<u32>().unwrap_or(1) >= 12;
        let mut kept = Vec::new();
        let mut has_create = false;
        for pdu in events.into_iter().take(MAX_INVITE_STATE) {
            let checked = async {
                let event_id = rules.id_of(&pdu).ok_or("an event without an ID")?;
                if !super::pdu::is_event_of(&pdu, &event_id, room_id) {
                    return Err("an event of another room".to_owned());
                }
                Outlier::of(event_id, room_id, self.checked_pdu(rules, pdu).await?)
            }
            .await;
            match checked {
                Ok(event) => {
                    has_create |= event.stored.event_type == "m.room.create";
                    kept.push(event);
                }
                Err(why) if strict => {
                    return Err(MatrixError::invalid_param(format!("invite_room_state: {why}")));
                }
                Err(why) => tracing::debug!(room_id, "an invite_room_state event was dropped: {why}"),
            }
        }
        if strict && !has_create {
            return Err(MatrixError::invalid_param("invite_room_state lacks the create event"));
        }
        Ok(kept)
    }

    /// Rejects an invite to a room this server is not in, through the
    /// inviting server (and the room ID's): `make_leave`, signed here,
    /// `send_leave`; the leave is then recorded outside the room.
    pub async fn reject_remote_invite(&self, room_id: &str, user_id: &str, servers: &[String]) -> Result<()> {
        self.through_first(servers, "No server to reject the invite through", |server| {
            self.leave_through(room_id, user_id, server)
        })
        .await
    }

    async fn leave_through(&self, room_id: &str, user_id: &str, server: &str) -> Result<()> {
        let unreachable = |e| super::api::remote_failure("Rejecting the invite", server, e);
        let client = self.client_for(server).await;
        let make_leave::Response::Ok(template) = client
            .make_leave(make_leave::Request::new(room_id.to_owned(), user_id.to_owned()))
            .await
            .map_err(unreachable)?;
        let version = template.room_version.unwrap_or_else(|| "1".to_owned());
        let rules = VersionRules::of(&version).ok_or_else(|| internal("unknown room version"))?;
        let Value::Object(mut leave) = serde_json::to_value(template.event).map_err(internal)? else {
            return Err(internal("the template is not an object"));
        };
        let is_our_leave = build::is_own_membership_template(&leave, room_id, user_id)
            && leave.get("content").and_then(|c| c.get("membership")) == Some(&Value::from("leave"));
        if !is_our_leave {
            return Err(super::api::bad_answer(
                "Rejecting the invite",
                server,
                "the template is not this user's leave",
            ));
        }
        let event_id = build::sign_remote_template(rules, &self.identity, &mut leave).map_err(internal)?;
        let body = serde_json::from_value(Value::Object(leave.clone())).map_err(internal)?;
        let send_leave_v2::Response::Ok(_) = client
            .send_leave_v2(send_leave_v2::Request::new(room_id.to_owned(), event_id.clone(), body))
            .await
            .map_err(unreachable)?;
        let outside = Outlier::of(event_id, room_id, leave).map_err(internal)?;
        self.hs
            .store
            .record_outside_room(&[outside.as_new()])
            .map_err(internal)?;
        self.hs.changes.notify_waiters();
        Ok(())
    }
}
