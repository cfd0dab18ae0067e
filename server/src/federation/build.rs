//! This server's events as PDUs: every event it appends is built in the
//! format of its room version (`prev_events` from the room's forward
//! extremities, `depth`, `auth_events` chosen as the server-server API's
//! "Auth events selection" says), hashed and signed, and named by its
//! reference hash from room version 3 on.

use super::identity::SigningIdentity;
use super::pdu::VersionRules;
use crate::store::StoredEvent;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The parts of an event its sender decides.
pub struct Draft<'a> {
    /// `None` only for the create event of a room version that derives the
    /// room ID from it (v12).
    pub room_id: Option<&'a str>,
    pub sender: &'a str,
    pub event_type: &'a str,
    pub state_key: Option<&'a str>,
    pub content: &'a Value,
    pub origin_server_ts: i64,
}

/// A room's forward extremity: an event no other event names as previous.
#[derive(Clone, Debug)]
pub struct Extremity {
    pub event_id: String,
    pub depth: i64,
}

/// A built, signed event.
#[derive(Clone, Debug)]
pub struct Built {
    pub event_id: String,
    pub depth: i64,
    /// The event IDs it names as previous (the extremities it replaces).
    pub prev_events: Vec<String>,
    /// The PDU as it is sent to other servers.
    pub pdu: Map<String, Value>,
    /// Whether this server sends it to the other servers in the room: its
    /// own events and joins it accepted (`send_join`); not events other
    /// servers sent it, which their origin delivers.
    pub fan_out: bool,
}

impl Built {
    /// A PDU another server built and signed, named `event_id` (its depth
    /// and previous events read from it); `fan_out` as for [`Built`].
    pub fn received(event_id: String, pdu: Map<String, Value>, fan_out: bool) -> Result<Built, &'static str> {
        let depth = pdu.get("depth").and_then(Value::as_i64).ok_or("no depth")?;
        Ok(Built {
            event_id,
            depth,
            prev_events: named_events(&pdu, "prev_events"),
            pdu,
            fan_out,
        })
    }
}

/// The IDs of the events that authorize `draft`, from the room's current
/// `state`, in the order the spec lists them.
pub fn auth_event_ids(room_version: &str, state: &[StoredEvent], draft: &Draft<'_>) -> Vec<String> {
    let version: u32 = room_version.parse().unwrap_or(1);
    let find = |event_type: &str, state_key: &str| {
        state
            .iter()
            .find(|e| e.event_type == event_type && e.state_key.as_deref() == Some(state_key))
            .map(|e| e.event_id.clone())
    };
    let mut wanted = Vec::new();
    // From v12 the room ID stands for the create event, which is not listed.
    if version < 12 {
        wanted.push(find("m.room.create", ""));
    }
    wanted.push(find("m.room.power_levels", ""));
    wanted.push(find("m.room.member", draft.sender));
    if draft.event_type == "m.room.member" {
        let content = draft.content;
        let membership = content.get("membership").and_then(Value::as_str).unwrap_or_default();
        if let Some(target) = draft.state_key {
            wanted.push(find("m.room.member", target));
        }
        if matches!(membership, "join" | "invite" | "knock") {
            wanted.push(find("m.room.join_rules", ""));
        }
        if membership == "invite" {
            let token = content
                .get("third_party_invite")
                .and_then(|invite| invite.get("signed"))
                .and_then(|signed| signed.get("token"))
                .and_then(Value::as_str);
            if let Some(token) = token {
                wanted.push(find("m.room.third_party_invite", token));
            }
        }
        if version >= 8 {
            if let Some(via) = content.get("join_authorised_via_users_server").and_then(Value::as_str) {
                wanted.push(find("m.room.member", via));
            }
        }
    }
    let mut ids: Vec<String> = Vec::new();
    for id in wanted.into_iter().flatten() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The unsigned PDU of `draft`, after `extremities`, authorized by
/// `auth_events`: what `make_join` hands a joining server to fill in, and
/// what [`build`] hashes and signs. `reference_hash` gives the reference
/// hash of an earlier event (rooms v1–v2 name events with it beside their
/// IDs; an event this server stored before it kept PDUs has none, and is
/// named with no hash).
pub fn template(
    room_version: &str,
    draft: &Draft<'_>,
    extremities: &[Extremity],
    auth_events: &[String],
    reference_hash: impl Fn(&str) -> Option<[u8; 32]>,
) -> Result<(Map<String, Value>, i64), String> {
    let rules = VersionRules::of(room_version).ok_or_else(|| format!("unknown room version {room_version}"))?;
    let depth = extremities
        .iter()
        .map(|e| e.depth)
        .max()
        // At most 2^63 − 1, the largest depth the spec allows (v6 on).
        .map_or(1, |d| d.saturating_add(1));
    let prev_events: Vec<String> = extremities.iter().map(|e| e.event_id.clone()).collect();
    let name = |ids: &[String]| -> Value {
        Value::Array(
            ids.iter()
                .map(|id| {
                    if !rules.event_id_in_event() {
                        return Value::String(id.clone());
                    }
                    // v1–v2: `[event_id, {"sha256": reference hash}]`.
                    let mut hashes = Map::new();
                    if let Some(hash) = reference_hash(id) {
                        hashes.insert("sha256".to_owned(), Value::String(STANDARD_NO_PAD.encode(hash)));
                    }
                    Value::Array(vec![Value::String(id.clone()), Value::Object(hashes)])
                })
                .collect(),
        )
    };
    let mut pdu = Map::new();
    pdu.insert("auth_events".to_owned(), name(auth_events));
    pdu.insert("prev_events".to_owned(), name(&prev_events));
    pdu.insert("content".to_owned(), draft.content.clone());
    pdu.insert("depth".to_owned(), Value::from(depth));
    pdu.insert("origin_server_ts".to_owned(), Value::from(draft.origin_server_ts));
    if let Some(room_id) = draft.room_id {
        pdu.insert("room_id".to_owned(), Value::String(room_id.to_owned()));
    }
    pdu.insert("sender".to_owned(), Value::String(draft.sender.to_owned()));
    pdu.insert("type".to_owned(), Value::String(draft.event_type.to_owned()));
    if let Some(state_key) = draft.state_key {
        pdu.insert("state_key".to_owned(), Value::String(state_key.to_owned()));
    }
    // Before v11 a redaction names its target at the top level.
    if draft.event_type == "m.room.redaction" && room_version.parse::<u32>().is_ok_and(|v| v < 11) {
        if let Some(redacts) = draft.content.get("redacts") {
            pdu.insert("redacts".to_owned(), redacts.clone());
        }
    }
    Ok((pdu, depth))
}

/// Builds and signs the PDU of `draft` (see [`template`]).
pub fn build(
    room_version: &str,
    identity: &SigningIdentity,
    draft: &Draft<'_>,
    extremities: &[Extremity],
    auth_events: &[String],
    reference_hash: impl Fn(&str) -> Option<[u8; 32]>,
) -> Result<Built, String> {
    let (pdu, depth) = template(room_version, draft, extremities, auth_events, reference_hash)?;
    sign_built(room_version, identity, pdu, depth, extremities)
}

/// Names, hashes and signs a [`template`] of this server's (at `depth`,
/// after `extremities`): the event as it is appended and sent.
pub fn sign_built(
    room_version: &str,
    identity: &SigningIdentity,
    mut pdu: Map<String, Value>,
    depth: i64,
    extremities: &[Extremity],
) -> Result<Built, String> {
    let rules = VersionRules::of(room_version).ok_or_else(|| format!("unknown room version {room_version}"))?;
    let event_id = sign_as_sender(rules, identity, &mut pdu)?;
    Ok(Built {
        event_id,
        depth,
        prev_events: extremities.iter().map(|e| e.event_id.clone()).collect(),
        pdu,
        fan_out: true,
    })
}

/// Names an event this server sends (rooms v1–v2 carry an ID of this
/// server's choosing; later versions are named by their reference hash),
/// hashes and signs it; its event ID.
pub fn sign_as_sender(
    rules: VersionRules,
    identity: &SigningIdentity,
    pdu: &mut Map<String, Value>,
) -> Result<String, String> {
    let opaque_id = rules
        .event_id_in_event()
        .then(|| format!("${}:{}", crate::api::random_id(18), identity.server_name));
    if let Some(id) = &opaque_id {
        pdu.insert("event_id".to_owned(), Value::String(id.clone()));
    }
    rules.hash_and_sign(pdu, &identity.server_name, &identity.key_id, identity.signing_key());
    match opaque_id {
        Some(id) => Ok(id),
        None => rules
            .event_id(pdu)
            .ok_or_else(|| "no event ID for this room version".to_owned()),
    }
}

/// Completes a membership template another server handed out
/// (`make_join`, `make_leave`) as this server's event: sent now, from this
/// server, without whatever hashes and signatures the template carried,
/// then named, hashed and signed. Its event ID.
pub fn sign_remote_template(
    rules: VersionRules,
    identity: &SigningIdentity,
    pdu: &mut Map<String, Value>,
) -> Result<String, String> {
    for key in ["hashes", "signatures", "unsigned"] {
        pdu.remove(key);
    }
    pdu.insert("origin_server_ts".to_owned(), Value::from(crate::api::now_ms()));
    pdu.insert("origin".to_owned(), Value::String(identity.server_name.clone()));
    sign_as_sender(rules, identity, pdu)
}

/// Whether a template another server handed out is `user_id`'s own
/// membership event in `room_id` (what `make_join`/`make_leave` must give).
pub fn is_own_membership_template(pdu: &Map<String, Value>, room_id: &str, user_id: &str) -> bool {
    let text = |key: &str| pdu.get(key).and_then(Value::as_str);
    text("type") == Some("m.room.member")
        && text("sender") == Some(user_id)
        && text("state_key") == Some(user_id)
        && text("room_id") == Some(room_id)
}

/// The event IDs a PDU names in `field` (`prev_events`, `auth_events`):
/// plain strings, or `[id, hashes]` pairs in rooms v1–v2.
pub fn named_events(pdu: &Map<String, Value>, field: &str) -> Vec<String> {
    pdu.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.as_str().or_else(|| entry.get(0)?.as_str()))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity() -> SigningIdentity {
        let dir = tempfile::tempdir().unwrap();
        SigningIdentity::load_or_create(&dir.path().join("key"), "hs.test").unwrap()
    }

    fn stored(event_id: &str, event_type: &str, state_key: &str) -> StoredEvent {
        let mut e = StoredEvent::unstored(0, event_type, Some(state_key), "@a:hs.test", json!({}));
        e.event_id = event_id.to_owned();
        e
    }

    #[test]
    fn auth_events_are_chosen_as_the_spec_lists_them() {
        let state = vec![
            stored("$create", "m.room.create", ""),
            stored("$levels", "m.room.power_levels", ""),
            stored("$rules", "m.room.join_rules", ""),
            stored("$alice", "m.room.member", "@a:hs.test"),
            stored("$bob", "m.room.member", "@b:hs.test"),
            stored("$topic", "m.room.topic", ""),
        ];
        let content = json!({ "body": "hi" });
        let message = Draft {
            room_id: Some("!r:hs.test"),
            sender: "@a:hs.test",
            event_type: "m.room.message",
            state_key: None,
            content: &content,
            origin_server_ts: 1,
        };
        assert_eq!(auth_event_ids("11", &state, &message), ["$create", "$levels", "$alice"]);
        assert_eq!(auth_event_ids("12", &state, &message), ["$levels", "$alice"]);
        let join = json!({ "membership": "join", "join_authorised_via_users_server": "@b:hs.test" });
        let member = Draft {
            sender: "@c:hs.test",
            event_type: "m.room.member",
            state_key: Some("@c:hs.test"),
            content: &join,
            ..message
        };
        assert_eq!(
            auth_event_ids("9", &state, &member),
            ["$create", "$levels", "$rules", "$bob"]
        );
        assert_eq!(auth_event_ids("7", &state, &member), ["$create", "$levels", "$rules"]);
        let leave = json!({ "membership": "leave" });
        let kick = Draft {
            sender: "@a:hs.test",
            state_key: Some("@b:hs.test"),
            content: &leave,
            ..member
        };
        assert_eq!(
            auth_event_ids("11", &state, &kick),
            ["$create", "$levels", "$alice", "$bob"]
        );
    }

    #[test]
    fn built_events_verify_and_are_named_by_their_hash() {
        let identity = identity();
        let content = json!({ "body": "hi" });
        let draft = Draft {
            room_id: Some("!r:hs.test"),
            sender: "@a:hs.test",
            event_type: "m.room.message",
            state_key: None,
            content: &content,
            origin_server_ts: 1,
        };
        let prev = [
            Extremity {
                event_id: "$p1".into(),
                depth: 4,
            },
            Extremity {
                event_id: "$p2".into(),
                depth: 7,
            },
        ];
        let built = build("11", &identity, &draft, &prev, &["$create".to_owned()], |_| None).unwrap();
        assert_eq!(built.depth, 8);
        assert_eq!(built.pdu["prev_events"], json!(["$p1", "$p2"]));
        assert_eq!(built.pdu["auth_events"], json!(["$create"]));
        let rules = VersionRules::of("11").unwrap();
        assert_eq!(rules.event_id(&built.pdu).unwrap(), built.event_id);
        assert!(rules.content_hash_matches(&built.pdu));
        rules
            .verify_signature(&built.pdu, "hs.test", &identity.key_id, &identity.verifying_key())
            .unwrap();
        assert!(!built.pdu.contains_key("event_id"));

        // v1: the ID travels in the event; earlier events are named with their hash.
        let v1 = build("1", &identity, &draft, &prev[..1], &[], |_| Some([9; 32])).unwrap();
        assert!(v1.event_id.ends_with(":hs.test"));
        assert_eq!(v1.pdu["event_id"], json!(v1.event_id));
        assert_eq!(
            v1.pdu["prev_events"],
            json!([["$p1", { "sha256": STANDARD_NO_PAD.encode([9; 32]) }]])
        );

        // A v10 redaction names its target at the top level too.
        let redaction = json!({ "redacts": "$target" });
        let redact = Draft {
            event_type: "m.room.redaction",
            content: &redaction,
            ..draft
        };
        let v10 = build("10", &identity, &redact, &[], &[], |_| None).unwrap();
        assert_eq!(v10.pdu["redacts"], "$target");
        assert_eq!(v10.depth, 1);
        let v11 = build("11", &identity, &redact, &[], &[], |_| None).unwrap();
        assert!(!v11.pdu.contains_key("redacts"));
    }
}
