//! Events as clients see them. (How events are built and named per room
//! version, and what a redaction keeps, is `federation::build` and
//! `federation::pdu`, shared with federation.)

use super::{id, object, raw, Result};
use crate::store::StoredEvent;
use matrix_api::client_server::{
    ClientEvent, ClientEventUnsigned, ClientEventWithoutRoomId, ClientEventWithoutRoomIdUnsigned,
};
use matrix_api::events::{AnyStrippedStateEvent, RoomRedactionEventContent, StrippedState};
use matrix_api::{EventId, Raw, UserId};

/// Whether the room version names its rooms by the create event's
/// reference hash (v12 on: `!` and the hash, no server name).
pub(super) fn room_id_is_create_hash(version: &str) -> bool {
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
pub(crate) fn room_event<T>(e: &StoredEvent) -> Result<Raw<T>> {
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
