//! The limits every event this server creates must keep, from the spec's
//! "Size limits" (client-server API, events) and the canonical JSON rules
//! of room versions 6 and later. Checked in one place, where events are
//! appended, whichever endpoint made them.
//!
//! - The complete event must not be larger than 65,536 bytes. It is
//!   measured as stored (content, IDs, type, state key, timestamp), which
//!   is what its federation form adds hashes and signatures to.
//! - `sender`, `room_id`, `type`, `state_key` and the event ID must not
//!   exceed 255 bytes each.
//! - From room version 6, the event must be canonical JSON: integers in
//!   `[-(2^53)+1, 2^53-1]`, no fractions (the v6 rules: "a 400 `M_BAD_JSON`
//!   error on most endpoints"). (Repeated keys never get this far: the
//!   runtime refuses bodies that repeat a key.)

use matrix_api_runtime::error::{ErrorCode, MatrixError};
use serde::Serialize;
use serde_json::Value;

pub const MAX_EVENT_BYTES: usize = 65_536;
pub const MAX_KEY_BYTES: usize = 255;
/// `2^53 - 1`, the largest integer canonical JSON allows (and its negation the smallest).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// An event as it is measured.
#[derive(Serialize)]
struct Measured<'a> {
    content: &'a Value,
    event_id: &'a str,
    origin_server_ts: i64,
    room_id: &'a str,
    sender: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_key: Option<&'a str>,
    #[serde(rename = "type")]
    event_type: &'a str,
}

/// What an event to be appended is made of.
pub struct Parts<'a> {
    pub room_version: &'a str,
    pub event_id: &'a str,
    pub room_id: &'a str,
    pub sender: &'a str,
    pub event_type: &'a str,
    pub state_key: Option<&'a str>,
    pub content: &'a Value,
    pub origin_server_ts: i64,
}

/// `Ok` when the event keeps every limit; else `413 M_TOO_LARGE` or
/// `400 M_BAD_JSON` saying which.
pub fn check(event: &Parts<'_>) -> Result<(), MatrixError> {
    let keys = [
        ("sender", Some(event.sender)),
        ("room_id", Some(event.room_id)),
        ("type", Some(event.event_type)),
        ("state_key", event.state_key),
        ("event_id", Some(event.event_id)),
    ];
    for (name, value) in keys {
        if let Some(value) = value.filter(|v| v.len() > MAX_KEY_BYTES) {
            return Err(too_large(format!(
                "`{name}` is {} bytes; the limit is {MAX_KEY_BYTES}",
                value.len()
            )));
        }
    }
    if canonical_json_required(event.room_version) {
        if let Some(path) = non_canonical_number(event.content, "content") {
            return Err(MatrixError::bad_json(format!(
                "`{path}` is not an integer in [-(2^53)+1, 2^53-1], as canonical JSON requires in room version {}",
                event.room_version
            )));
        }
    }
    let measured = Measured {
        content: event.content,
        event_id: event.event_id,
        origin_server_ts: event.origin_server_ts,
        room_id: event.room_id,
        sender: event.sender,
        state_key: event.state_key,
        event_type: event.event_type,
    };
    let size = serde_json::to_vec(&measured).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_EVENT_BYTES {
        return Err(too_large(format!(
            "the event is {size} bytes; the limit is {MAX_EVENT_BYTES}"
        )));
    }
    Ok(())
}

fn too_large(message: String) -> MatrixError {
    MatrixError::new(413, ErrorCode::TooLarge, message)
}

/// Room versions 1–5 predate the canonical JSON enforcement.
fn canonical_json_required(room_version: &str) -> bool {
    room_version.parse::<u32>().map_or(true, |v| v >= 6)
}

/// The path of the first number that canonical JSON does not allow.
fn non_canonical_number(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Number(n) => {
            let fine = n
                .as_i64()
                .is_some_and(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i));
            (!fine).then(|| path.to_owned())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_canonical_number(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| non_canonical_number(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts<'a>(content: &'a Value, state_key: Option<&'a str>, version: &'a str) -> Parts<'a> {
        Parts {
            room_version: version,
            event_id: "$e",
            room_id: "!r:test.local",
            sender: "@a:test.local",
            event_type: "m.room.message",
            state_key,
            content,
            origin_server_ts: 1,
        }
    }

    #[test]
    fn numbers_follow_canonical_json_from_room_version_6() {
        let big = json!({ "n": 9_007_199_254_740_992_u64 });
        let fraction = json!({ "a": [1, 2.5] });
        let fine = json!({ "n": 9_007_199_254_740_991_i64, "m": -9_007_199_254_740_991_i64 });
        assert_eq!(
            check(&parts(&big, None, "11")).unwrap_err().errcode(),
            &ErrorCode::BadJson
        );
        let err = check(&parts(&fraction, None, "6")).unwrap_err();
        assert!(err.body.error.contains("content.a[1]"), "{}", err.body.error);
        assert!(check(&parts(&fraction, None, "5")).is_ok());
        assert!(check(&parts(&fine, None, "11")).is_ok());
    }

    #[test]
    fn sizes_are_bounded() {
        let content = json!({ "body": "x".repeat(MAX_EVENT_BYTES) });
        assert_eq!(check(&parts(&content, None, "11")).unwrap_err().status, 413);
        let small = json!({});
        let key = "k".repeat(256);
        let err = check(&parts(&small, Some(&key), "11")).unwrap_err();
        assert_eq!((err.status, err.errcode()), (413, &ErrorCode::TooLarge));
        assert!(check(&parts(&small, Some(&"k".repeat(255)), "11")).is_ok());
    }
}
