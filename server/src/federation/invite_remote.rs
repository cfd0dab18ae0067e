//! Inviting a user of another server (`PUT /_matrix/federation/v2/invite`).
//!
//! The invite is built and signed here as any event of the room, but before
//! it is stored it goes to the invitee's server with the room's stripped
//! state as PDUs (`invite_room_state`, the create event included, as the
//! spec asks from v1.16): that server adds its signature and answers with
//! the event. The answer must be the same event (same ID, same content
//! hash) signed by the invitee's server; only then is it appended, under the
//! room's rules, and sent to the servers in the room. A refusal is passed
//! on to the client, and nothing is stored.

use super::build::{self, Built, Draft};
use super::pdu::VersionRules;
use super::Federation;
use crate::api::{now_ms, server_of};
use matrix_api::server_server::endpoints::send_invite_v2;
use matrix_api::server_server::SendInviteV2Request;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, MatrixError>;

/// The state an invitee is shown of the room (the client-server API's
/// stripped state), besides the inviter's own membership.
const INVITE_STATE: [&str; 6] = [
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
];

fn internal(e: impl std::fmt::Display) -> MatrixError {
    crate::api::internal(e)
}

impl Federation {
    /// Invites `target` (of another server) to `room_id` as `sender`, with
    /// `content` as the membership event's content.
    pub async fn invite_remote(&self, room_id: &str, sender: &str, target: &str, content: Value) -> Result<()> {
        let hs = &self.hs;
        let version = hs.room(room_id)?.version;
        let rules = VersionRules::of(&version).ok_or_else(|| internal("unknown room version"))?;
        let target_server =
            server_of(target).ok_or_else(|| MatrixError::invalid_param("a user ID without a server"))?;
        hs.check_allowed(room_id, sender, "m.room.member", Some(target), &content)?;
        let state = hs.store.current_state(room_id).map_err(internal)?;
        let draft = Draft {
            room_id: Some(room_id),
            sender,
            event_type: "m.room.member",
            state_key: Some(target),
            content: &content,
            origin_server_ts: now_ms(),
        };
        let extremities = hs.extremities(room_id)?;
        let auth_events = build::auth_event_ids(&version, &state, &draft);
        let (mut pdu, depth) = build::template(&version, &draft, &extremities, &auth_events, |id| {
            hs.reference_hash(&version, id)
        })
        .map_err(internal)?;
        // The invite's schema requires the (legacy) `origin`.
        pdu.insert("origin".to_owned(), Value::String(self.identity.server_name.clone()));
        let built = build::sign_built(&version, &self.identity, pdu, depth, &extremities).map_err(internal)?;
        let invite_state: Vec<Map<String, Value>> = state
            .iter()
            .filter(|e| {
                INVITE_STATE.contains(&e.event_type.as_str())
                    || (e.event_type == "m.room.member" && e.state_key.as_deref() == Some(sender))
            })
            .filter_map(|e| hs.store.pdu(&e.event_id).ok().flatten())
            .collect();
        let event = serde_json::from_value(Value::Object(built.pdu.clone())).map_err(internal)?;
        let mut body = SendInviteV2Request::new(version.clone(), event);
        body.invite_room_state = Some(invite_state);
        let client = self.client_for(target_server).await;
        let request = send_invite_v2::Request::new(room_id.to_owned(), built.event_id.clone(), body);
        let send_invite_v2::Response::Ok(answer) = client
            .send_invite_v2(request)
            .await
            .map_err(|e| super::api::remote_failure("Inviting", target_server, e))?;
        let Value::Object(signed) = serde_json::to_value(answer.event).map_err(internal)? else {
            return Err(refused(target_server, "the answer is not an event"));
        };
        if rules.id_of(&signed).as_deref() != Some(built.event_id.as_str()) || !rules.content_hash_matches(&signed) {
            return Err(refused(target_server, "the answer is not the invite it was sent"));
        }
        self.check_signed_by(&rules, &signed, target_server)
            .await
            .map_err(|e| refused(target_server, e.body.error))?;
        let built = Built { pdu: signed, ..built };
        hs.append_event(
            Some(built),
            room_id,
            sender,
            "m.room.member",
            Some(target),
            content,
            None,
        )?;
        Ok(())
    }
}

/// The invitee's server gave no usable answer: `502`.
fn refused(server: &str, why: impl std::fmt::Display) -> MatrixError {
    super::api::bad_answer("Inviting", server, why)
}
