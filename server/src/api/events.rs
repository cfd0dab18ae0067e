//! Events as clients see them, and what the room version decides about them:
//! the format of event and room IDs. (What a redaction keeps is the room
//! version's redaction algorithm, `federation::pdu`, shared with federation.)

use super::{id, object, raw, Result};
use crate::store::StoredEvent;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use matrix_api::client_server::{
    ClientEvent, ClientEventUnsigned, ClientEventWithoutRoomId, ClientEventWithoutRoomIdUnsigned,
};
use matrix_api::events::{AnyStrippedStateEvent, RoomRedactionEventContent, StrippedState};
use matrix_api::{EventId, Raw, UserId};
use matrix_api_runtime::signing::canonical_json;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// An event ID in the format of `version`.
///
/// Versions 1 and 2 use `$opaque:server`; later ones the unpadded base64 of
/// a SHA-256 hash (standard alphabet in v3, URL-safe from v4). This server
/// keeps no event graph, so the hash covers the event's fields and a nonce
/// rather than a signed PDU: the right shape, unique per event.
pub(super) fn event_id(version: &str, server_name: &str, fields: &Value) -> String {
    match version {
        "1" | "2" => format!("${}:{server_name}", super::random_id(18)),
        "3" => format!("${}", STANDARD_NO_PAD.encode(hash_with_nonce(fields))),
        _ => format!("${}", URL_SAFE_NO_PAD.encode(hash_with_nonce(fields))),
    }
}

fn hash_with_nonce(fields: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(canonical_json(fields).as_bytes());
    hasher.update(super::random_id(16).as_bytes());
    hasher.finalize().into()
}

/// The room ID of a new room, and the create event's ID when the version
/// derives the room ID from it (v12: `!` + the create event's hash).
pub(super) fn room_id(version: &str, server_name: &str, create_fields: &Value) -> (String, Option<String>) {
    if room_id_is_create_hash(version) {
        let hash = URL_SAFE_NO_PAD.encode(hash_with_nonce(create_fields));
        (format!("!{hash}"), Some(format!("${hash}")))
    } else {
        (format!("!{}:{server_name}", super::random_id(18)), None)
    }
}

fn room_id_is_create_hash(version: &str) -> bool {
    version.parse::<u32>().is_ok_and(|v| v >= 12)
}

/// From room version 12 the creators outrank every power level.
pub(super) fn creators_are_privileged(version: &str) -> bool {
    room_id_is_create_hash(version)
}

/// The event as clients see it (`ClientEvent`).
pub(super) fn client_event(e: &StoredEvent) -> Result<ClientEvent> {
    let mut event = ClientEvent::new(
        id(&e.event_id)?,
        e.event_type.clone(),
        id(&e.sender)?,
        e.origin_server_ts,
        object(&e.content),
        id(&e.room_id)?,
    );
    event.state_key = e.state_key.clone();
    if let Some(because) = &e.redacted_because {
        event.unsigned = Some(ClientEventUnsigned {
            redacted_because: Some(object(because)),
            ..ClientEventUnsigned::default()
        });
    }
    Ok(event)
}

/// The event as `/sync` gives it: without `room_id`.
pub(super) fn sync_event(e: &StoredEvent) -> Result<ClientEventWithoutRoomId> {
    let mut event = ClientEventWithoutRoomId::new(
        id(&e.event_id)?,
        e.event_type.clone(),
        id(&e.sender)?,
        e.origin_server_ts,
        object(&e.content),
    );
    event.state_key = e.state_key.clone();
    if let Some(because) = &e.redacted_because {
        event.unsigned = Some(ClientEventWithoutRoomIdUnsigned {
            redacted_because: Some(object(because)),
            ..ClientEventWithoutRoomIdUnsigned::default()
        });
    }
    Ok(event)
}

/// An event with the top-level `redacts` of redactions: room versions
/// before 11 carry it there, and clients of all versions read it there, so
/// it is given beside the one in `content`.
#[derive(serde::Serialize)]
struct WithRedacts<E> {
    #[serde(flatten)]
    event: E,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacts: Option<EventId>,
}

fn with_redacts<E: serde::Serialize, T>(e: &StoredEvent, event: E) -> Result<Raw<T>> {
    let redacts = match e.event_type.as_str() {
        "m.room.redaction" => e.content_as::<RoomRedactionEventContent>().and_then(|c| c.redacts),
        _ => None,
    };
    raw(&WithRedacts { event, redacts })
}

/// A room event for a response's event list (`/messages`, `/context`, ...).
pub(super) fn room_event<T>(e: &StoredEvent) -> Result<Raw<T>> {
    with_redacts(e, client_event(e)?)
}

/// A room event for `/sync`'s timeline and state lists.
pub(super) fn sync_room_event<T>(e: &StoredEvent) -> Result<Raw<T>> {
    with_redacts(e, sync_event(e)?)
}

/// The stripped form used for invites.
pub(super) fn stripped(e: &StoredEvent) -> Result<Raw<AnyStrippedStateEvent>> {
    let event = StrippedState::new(
        object(&e.content),
        e.state_key.clone().unwrap_or_default(),
        e.event_type.clone(),
        id::<UserId>(&e.sender)?,
    );
    raw(&event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_ids_follow_the_room_version() {
        let fields = json!({ "type": "m.room.message" });
        assert!(event_id("1", "hs", &fields).ends_with(":hs"));
        let v3 = event_id("3", "hs", &fields);
        assert_eq!(v3.len(), 44);
        assert!(!v3.contains(':'));
        let v11 = event_id("11", "hs", &fields);
        assert_eq!(v11.len(), 44);
        assert!(!v11.contains(['+', '/', ':']));
    }

    #[test]
    fn room_ids_of_version_12_are_the_create_event_hash() {
        let (room, create) = room_id("12", "hs", &json!({}));
        assert!(!room.contains(':'));
        assert_eq!(&room[1..], &create.unwrap()[1..]);
        let (room, create) = room_id("11", "hs", &json!({}));
        assert!(room.ends_with(":hs") && create.is_none());
    }
}
