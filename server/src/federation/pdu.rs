//! Events as persistent data units: the redaction algorithm of each room
//! version, content hashes, reference hashes (event IDs from room version 3
//! on), and event signatures, as the server-server API's "Signing Events"
//! and the room version specifications describe them.
//!
//! Everything here works on JSON values: a hash or a signature covers the
//! event exactly as sent, unknown keys included, so no typed model may sit
//! between the bytes and the hash.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use matrix_api_runtime::signing::{canonical_json, sign_json, verify_json, SignatureError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What differs between room versions in how an event is hashed and named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRules {
    redaction: Redaction,
    event_ids: EventIds,
}

/// The redaction algorithms, named by the room version that introduced each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Redaction {
    /// v1–v5.
    V1,
    /// v6–v7: `m.room.aliases` keeps nothing.
    V6,
    /// v8: `m.room.join_rules` keeps `allow`.
    V8,
    /// v9–v10: `m.room.member` keeps `join_authorised_via_users_server`.
    V9,
    /// v11 on: `origin`, `membership`, `prev_state` no longer kept; create
    /// keeps all content, power levels keep `invite`, redactions `redacts`,
    /// members `third_party_invite.signed`.
    V11,
}

/// How event IDs are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventIds {
    /// v1–v2: `$opaque:origin`, chosen by the sending server and sent in the event.
    Opaque,
    /// v3: `$` and the reference hash in standard unpadded Base64.
    ReferenceHash,
    /// v4 on: `$` and the reference hash in URL-safe unpadded Base64.
    UrlSafeReferenceHash,
}

impl VersionRules {
    /// The rules of a room version this server knows, or `None`.
    pub fn of(room_version: &str) -> Option<VersionRules> {
        let (redaction, event_ids) = match room_version {
            "1" | "2" => (Redaction::V1, EventIds::Opaque),
            "3" => (Redaction::V1, EventIds::ReferenceHash),
            "4" | "5" => (Redaction::V1, EventIds::UrlSafeReferenceHash),
            "6" | "7" => (Redaction::V6, EventIds::UrlSafeReferenceHash),
            "8" => (Redaction::V8, EventIds::UrlSafeReferenceHash),
            "9" | "10" => (Redaction::V9, EventIds::UrlSafeReferenceHash),
            "11" | "12" => (Redaction::V11, EventIds::UrlSafeReferenceHash),
            _ => return None,
        };
        Some(VersionRules { redaction, event_ids })
    }

    /// Whether events carry their own `event_id` (v1–v2) rather than having
    /// it computed from their reference hash.
    pub fn event_id_in_event(self) -> bool {
        self.event_ids == EventIds::Opaque
    }

    /// The event as the redaction algorithm leaves it: top-level keys outside
    /// the version's list are dropped, and `content` keeps only the keys its
    /// event type protects.
    pub fn redact(self, event: &Map<String, Value>) -> Map<String, Value> {
        let event_type = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let mut redacted = Map::new();
        for (key, value) in event {
            if self.keeps_top_level(key) {
                redacted.insert(key.clone(), value.clone());
            }
        }
        let content = match event.get("content") {
            Some(Value::Object(content)) => self.redact_content(event_type, content),
            _ => Map::new(),
        };
        redacted.insert("content".to_owned(), Value::Object(content));
        redacted
    }

    /// The content a redaction leaves of an event of `event_type`, as
    /// clients are served it once the event is redacted.
    pub fn redacted_content(self, event_type: &str, content: &Value) -> Value {
        match content {
            Value::Object(content) => Value::Object(self.redact_content(event_type, content)),
            _ => Value::Object(Map::new()),
        }
    }

    fn keeps_top_level(self, key: &str) -> bool {
        const ALWAYS: &[&str] = &[
            "event_id",
            "type",
            "room_id",
            "sender",
            "state_key",
            "hashes",
            "signatures",
            "depth",
            "prev_events",
            "auth_events",
            "origin_server_ts",
        ];
        const BEFORE_V11: &[&str] = &["prev_state", "origin", "membership"];
        ALWAYS.contains(&key) || (self.redaction < Redaction::V11 && BEFORE_V11.contains(&key))
    }

    fn redact_content(self, event_type: &str, content: &Map<String, Value>) -> Map<String, Value> {
        let v = self.redaction;
        if event_type == "m.room.create" && v >= Redaction::V11 {
            return content.clone();
        }
        let kept: &[&str] = match event_type {
            "m.room.member" if v >= Redaction::V9 => &["membership", "join_authorised_via_users_server"],
            "m.room.member" => &["membership"],
            "m.room.create" => &["creator"],
            "m.room.join_rules" if v >= Redaction::V8 => &["join_rule", "allow"],
            "m.room.join_rules" => &["join_rule"],
            "m.room.power_levels" if v >= Redaction::V11 => &[
                "ban",
                "events",
                "events_default",
                "invite",
                "kick",
                "redact",
                "state_default",
                "users",
                "users_default",
            ],
            "m.room.power_levels" => &[
                "ban",
                "events",
                "events_default",
                "kick",
                "redact",
                "state_default",
                "users",
                "users_default",
            ],
            "m.room.aliases" if v < Redaction::V6 => &["aliases"],
            "m.room.history_visibility" => &["history_visibility"],
            "m.room.redaction" if v >= Redaction::V11 => &["redacts"],
            _ => &[],
        };
        let mut redacted: Map<String, Value> = content
            .iter()
            .filter(|(key, _)| kept.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        // v11: a member event keeps `third_party_invite`, with only its `signed`.
        if event_type == "m.room.member" && v >= Redaction::V11 {
            if let Some(signed) = content
                .get("third_party_invite")
                .and_then(|invite| invite.get("signed"))
            {
                let mut invite = Map::new();
                invite.insert("signed".to_owned(), signed.clone());
                redacted.insert("third_party_invite".to_owned(), Value::Object(invite));
            }
        }
        redacted
    }

    /// The content hash: SHA-256 of the canonical JSON of the whole event
    /// without `unsigned`, `signatures` and `hashes`.
    pub fn content_hash(self, event: &Map<String, Value>) -> [u8; 32] {
        let mut covered = event.clone();
        for key in ["unsigned", "signatures", "hashes"] {
            covered.remove(key);
        }
        Sha256::digest(canonical_json(&Value::Object(covered)).as_bytes()).into()
    }

    /// The reference hash: SHA-256 of the canonical JSON of the redacted
    /// event without `signatures` and `unsigned`.
    pub fn reference_hash(self, event: &Map<String, Value>) -> [u8; 32] {
        let mut covered = self.redact(event);
        covered.remove("signatures");
        covered.remove("unsigned");
        Sha256::digest(canonical_json(&Value::Object(covered)).as_bytes()).into()
    }

    /// The event ID of an event from room version 3 on (`None` for v1–v2,
    /// whose IDs are chosen by their sender and travel in the event).
    pub fn event_id(self, event: &Map<String, Value>) -> Option<String> {
        let hash = self.reference_hash(event);
        match self.event_ids {
            EventIds::Opaque => None,
            EventIds::ReferenceHash => Some(format!("${}", STANDARD_NO_PAD.encode(hash))),
            EventIds::UrlSafeReferenceHash => Some(format!("${}", URL_SAFE_NO_PAD.encode(hash))),
        }
    }

    /// The ID of an event another server sent: the `event_id` it carries in
    /// v1–v2, its reference hash from v3 on.
    pub fn id_of(self, event: &Map<String, Value>) -> Option<String> {
        match self.event_ids {
            EventIds::Opaque => event.get("event_id").and_then(Value::as_str).map(str::to_owned),
            _ => self.event_id(event),
        }
    }

    /// Adds the content hash and this server's signature to an outgoing
    /// event: the hash covers the full event, the signature its redacted
    /// form (so it still verifies once the event is redacted).
    pub fn hash_and_sign(self, event: &mut Map<String, Value>, server_name: &str, key_id: &str, key: &SigningKey) {
        let hash = STANDARD_NO_PAD.encode(self.content_hash(event));
        let mut hashes = Map::new();
        hashes.insert("sha256".to_owned(), Value::String(hash));
        event.insert("hashes".to_owned(), Value::Object(hashes));
        let mut redacted = Value::Object(self.redact(event));
        sign_json(&mut redacted, server_name, key_id, key);
        if let Some(signatures) = redacted.get("signatures") {
            event.insert("signatures".to_owned(), signatures.clone());
        }
    }

    /// Checks a received event's signature by `server_name` with one key,
    /// over the event's redacted form.
    pub fn verify_signature(
        self,
        event: &Map<String, Value>,
        server_name: &str,
        key_id: &str,
        key: &VerifyingKey,
    ) -> Result<(), SignatureError> {
        verify_json(&Value::Object(self.redact(event)), server_name, key_id, key)
    }

    /// Whether the event's `hashes.sha256` matches its content. When it does
    /// not, the receiver keeps the redacted form ([`Self::redact`]) only.
    pub fn content_hash_matches(self, event: &Map<String, Value>) -> bool {
        let claimed = event
            .get("hashes")
            .and_then(|hashes| hashes.get("sha256"))
            .and_then(Value::as_str)
            .and_then(matrix_api_runtime::signing::decode_base64);
        claimed.is_some_and(|claimed| claimed == self.content_hash(event))
    }
}

/// Whether a received PDU with ID `event_id` is an event of `room_id`: it
/// names the room, or it is the create event of a room version that names
/// rooms after it (v12 on: `!` and the create event's reference hash, and
/// the create event itself has no `room_id`).
pub fn is_event_of(pdu: &Map<String, Value>, event_id: &str, room_id: &str) -> bool {
    match pdu.get("room_id") {
        Some(named) => named.as_str() == Some(room_id),
        None => {
            pdu.get("type").and_then(Value::as_str) == Some("m.room.create")
                && pdu.get("state_key").and_then(Value::as_str) == Some("")
                && !room_id.contains(':')
                && matches!(
                    (room_id.strip_prefix('!'), event_id.strip_prefix('$')),
                    (Some(room_hash), Some(event_hash)) if room_hash == event_hash
                )
        }
    }
}

#[cfg(test)]
mod tests {
    //! The event-signing test vectors of the spec's appendix ("Cryptographic
    //! test vectors"): seed, server `domain`, key `ed25519:1`. The events
    //! there predate room version 11 (they keep `origin`), so they are
    //! checked with the v1 algorithm.

    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        let seed = matrix_api_runtime::signing::decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").unwrap();
        SigningKey::from_bytes(&seed.try_into().unwrap())
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_minimal_event_signs_as_the_appendix_says() {
        let rules = VersionRules::of("1").unwrap();
        let mut event = object(json!({
            "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
            "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X",
            "content": {}, "prev_events": [], "auth_events": [], "depth": 3,
            "unsigned": { "age_ts": 1000000 }
        }));
        rules.hash_and_sign(&mut event, "domain", "ed25519:1", &key());
        assert_eq!(event["hashes"]["sha256"], "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
        assert_eq!(
            event["signatures"]["domain"]["ed25519:1"],
            "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        );
        assert_eq!(event["unsigned"]["age_ts"], 1000000, "unsigned is kept on the event");
        assert!(rules.content_hash_matches(&event));
        let public = key().verifying_key();
        rules.verify_signature(&event, "domain", "ed25519:1", &public).unwrap();
    }

    #[test]
    fn the_event_with_redactable_content_signs_as_the_appendix_says() {
        let rules = VersionRules::of("1").unwrap();
        let mut event = object(json!({
            "content": { "body": "Here is the message content" }, "event_id": "$0:domain",
            "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
            "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
            "unsigned": { "age_ts": 1000000 }
        }));
        rules.hash_and_sign(&mut event, "domain", "ed25519:1", &key());
        assert_eq!(event["hashes"]["sha256"], "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
        assert_eq!(
            event["signatures"]["domain"]["ed25519:1"],
            "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        );
        // The signature covers the redacted form: it survives a redaction,
        // the content hash does not.
        let redacted = rules.redact(&event);
        let public = key().verifying_key();
        rules
            .verify_signature(&redacted, "domain", "ed25519:1", &public)
            .unwrap();
        assert!(!rules.content_hash_matches(&redacted));
        // A changed essential field breaks the signature.
        let mut forged = event.clone();
        forged.insert("sender".to_owned(), json!("@mallory:domain"));
        assert!(rules.verify_signature(&forged, "domain", "ed25519:1", &public).is_err());
        // A changed body keeps the signature but fails the content hash.
        let mut edited = event.clone();
        edited.insert("content".to_owned(), json!({ "body": "edited" }));
        rules.verify_signature(&edited, "domain", "ed25519:1", &public).unwrap();
        assert!(!rules.content_hash_matches(&edited));
    }

    #[test]
    fn each_version_keeps_what_its_redaction_algorithm_lists() {
        let member = object(json!({
            "type": "m.room.member", "origin": "o", "membership": "join", "prev_state": [],
            "extra": 1, "state_key": "@u:o",
            "content": {
                "membership": "join", "displayname": "U", "join_authorised_via_users_server": "@a:o",
                "third_party_invite": { "display_name": "x", "signed": { "token": "t" } }
            }
        }));
        let v1 = VersionRules::of("1").unwrap().redact(&member);
        assert_eq!(v1["content"], json!({ "membership": "join" }));
        assert!(v1.contains_key("origin") && v1.contains_key("membership") && !v1.contains_key("extra"));
        let v9 = VersionRules::of("9").unwrap().redact(&member);
        assert_eq!(
            v9["content"],
            json!({ "membership": "join", "join_authorised_via_users_server": "@a:o" })
        );
        let v11 = VersionRules::of("11").unwrap().redact(&member);
        assert_eq!(
            v11["content"],
            json!({ "membership": "join", "join_authorised_via_users_server": "@a:o",
                    "third_party_invite": { "signed": { "token": "t" } } })
        );
        assert!(!v11.contains_key("origin") && !v11.contains_key("membership") && !v11.contains_key("prev_state"));

        let content_after = |version: &str, event_type: &str, content: Value| {
            let event = object(json!({ "type": event_type, "content": content }));
            VersionRules::of(version).unwrap().redact(&event)["content"].clone()
        };
        let aliases = json!({ "aliases": ["#a:o"] });
        assert_eq!(content_after("5", "m.room.aliases", aliases.clone()), aliases);
        assert_eq!(content_after("6", "m.room.aliases", aliases), json!({}));
        let rules = json!({ "join_rule": "restricted", "allow": [] });
        assert_eq!(
            content_after("7", "m.room.join_rules", rules.clone()),
            json!({ "join_rule": "restricted" })
        );
        assert_eq!(content_after("8", "m.room.join_rules", rules.clone()), rules);
        let create = json!({ "creator": "@u:o", "room_version": "10", "m.federate": false });
        assert_eq!(
            content_after("10", "m.room.create", create.clone()),
            json!({ "creator": "@u:o" })
        );
        assert_eq!(content_after("11", "m.room.create", create.clone()), create);
        let levels = json!({ "invite": 50, "ban": 50, "notifications": { "room": 50 } });
        assert_eq!(
            content_after("10", "m.room.power_levels", levels.clone()),
            json!({ "ban": 50 })
        );
        assert_eq!(
            content_after("11", "m.room.power_levels", levels),
            json!({ "invite": 50, "ban": 50 })
        );
        let redaction = json!({ "redacts": "$e", "reason": "spam" });
        assert_eq!(content_after("10", "m.room.redaction", redaction.clone()), json!({}));
        assert_eq!(
            content_after("11", "m.room.redaction", redaction),
            json!({ "redacts": "$e" })
        );
        assert_eq!(content_after("11", "m.room.message", json!({ "body": "b" })), json!({}));
        assert!(VersionRules::of("13").is_none());
    }

    #[test]
    fn event_ids_are_reference_hashes_from_version_3_on() {
        let event = object(json!({
            "type": "m.room.message", "room_id": "!r:o", "sender": "@u:o", "depth": 2,
            "origin_server_ts": 5, "prev_events": [], "auth_events": [],
            "hashes": { "sha256": "h" }, "content": { "body": "b" }, "unsigned": { "age": 3 },
            "signatures": { "o": { "ed25519:a": "s" } }
        }));
        assert_eq!(VersionRules::of("2").unwrap().event_id(&event), None);
        let v3 = VersionRules::of("3").unwrap().event_id(&event).unwrap();
        let v4 = VersionRules::of("4").unwrap().event_id(&event).unwrap();
        let hash = VersionRules::of("4").unwrap().reference_hash(&event);
        assert_eq!(v3, format!("${}", STANDARD_NO_PAD.encode(hash)));
        assert_eq!(v4, format!("${}", URL_SAFE_NO_PAD.encode(hash)));
        assert_eq!(v4.len(), 44);
        // Signatures, `unsigned` and redactable content do not change the ID;
        // the content hash does.
        let mut resigned = event.clone();
        resigned.insert("signatures".to_owned(), json!({}));
        resigned.insert("unsigned".to_owned(), json!({ "age": 9 }));
        resigned.insert("content".to_owned(), json!({ "body": "other" }));
        assert_eq!(VersionRules::of("4").unwrap().event_id(&resigned).unwrap(), v4);
        let mut rehashed = event.clone();
        rehashed.insert("hashes".to_owned(), json!({ "sha256": "other" }));
        assert_ne!(VersionRules::of("4").unwrap().event_id(&rehashed).unwrap(), v4);
    }

    #[test]
    fn a_v12_create_event_belongs_to_the_room_named_after_it() {
        let create = object(json!({ "type": "m.room.create", "state_key": "", "sender": "@a:o", "content": {} }));
        assert!(is_event_of(&create, "$hash", "!hash"));
        assert!(!is_event_of(&create, "$hash", "!other"));
        assert!(!is_event_of(&create, "hash", "hash"), "sigils required");
        assert!(
            !is_event_of(&create, "$hash", "!hash:o"),
            "rooms named with a server are not"
        );
        let mut message = create.clone();
        message.insert("type".into(), json!("m.room.message"));
        assert!(
            !is_event_of(&message, "$hash", "!hash"),
            "only the create event lacks room_id"
        );
        message.insert("room_id".into(), json!("!r:o"));
        assert!(is_event_of(&message, "$x", "!r:o"));
    }
}
