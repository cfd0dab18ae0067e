//! Events of other servers kept outside this server's own event graph:
//! the state and auth chain of a room joined through another server, the
//! stripped state and invite of a room this server is not in, a rejected
//! invite. Each is checked before it becomes one of these; none is a
//! forward extremity, notifies anyone, or is sent anywhere.

use crate::store::{NewEvent, StoredEvent};
use serde_json::{Map, Value};

pub(super) struct Outlier {
    /// The event as the room's rules and the store read it.
    pub stored: StoredEvent,
    pub depth: i64,
    /// The PDU as received (or as redacted, if its hash did not match).
    pub pdu: Map<String, Value>,
}

impl Outlier {
    /// The checked PDU `pdu`, named `event_id`, of `room_id`.
    pub fn of(event_id: String, room_id: &str, pdu: Map<String, Value>) -> Result<Outlier, String> {
        let text = |key: &str| pdu.get(key).and_then(Value::as_str).map(str::to_owned);
        let stored = StoredEvent {
            stream: 0,
            room_id: room_id.to_owned(),
            sender: text("sender").unwrap_or_default(),
            event_type: text("type").ok_or_else(|| format!("{event_id} has no type"))?,
            state_key: text("state_key"),
            content: pdu.get("content").cloned().unwrap_or_else(|| Value::Object(Map::new())),
            origin_server_ts: pdu.get("origin_server_ts").and_then(Value::as_i64).unwrap_or(0),
            redacted_because: None,
            event_id,
        };
        Ok(Outlier {
            stored,
            depth: pdu.get("depth").and_then(Value::as_i64).unwrap_or(0),
            pdu,
        })
    }

    /// The event as the store takes it.
    pub fn as_new(&self) -> NewEvent<'_> {
        let e = &self.stored;
        NewEvent {
            event_id: &e.event_id,
            room_id: &e.room_id,
            sender: &e.sender,
            event_type: &e.event_type,
            state_key: e.state_key.as_deref(),
            content: &e.content,
            origin_server_ts: e.origin_server_ts,
            txn_key: None,
            depth: self.depth,
            prev_events: &[],
            pdu: &self.pdu,
            destinations: &[],
            notifications: &[],
            fork: None,
            soft_failed: false,
        }
    }
}
