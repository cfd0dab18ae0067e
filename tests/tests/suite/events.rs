//! The typed event layer: every v1.19 event example decodes into its kind's
//! enum as the right variant, in each form its kind has (full, sync,
//! stripped), and re-encodes exactly as the event's own type does; unknown
//! event types and msgtypes keep their whole JSON; identifiers and constants
//! are checked on decode.

use matrix_api::events::{
    AnyEphemeralRoomEvent, AnyGlobalAccountDataEvent, AnyRedactedSyncTimelineEvent, AnyRoomAccountDataEvent,
    AnyRoomMessageEventContent, AnyStrippedStateEvent, AnySyncTimelineEvent, AnyTimelineEvent, AnyToDeviceEvent,
    RoomMemberEventContentMembership, RoomMessageTextEventContent, RoomNameEvent, SyncRoomEvent,
};
use matrix_api::{EventContent, UserId};
use matrix_api_tests::release_dir;
use matrix_codegen::ir::{EventKind, ExampleKind, Ty};
use serde_json::{json, Value};

/// Decodes `value` as `T`, re-encodes it, and names the variant (the text
/// before the first `(` of its `Debug` form).
fn decode_as<T: serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug>(
    value: &Value,
) -> Result<(String, String, Value), String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let debug = format!("{typed:?}");
    let variant = debug.split('(').next().unwrap_or("").to_owned();
    let again = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    Ok((variant, debug, again))
}

/// A state event in its stripped form: `content`, `state_key`, `type`, `sender`.
fn stripped(event: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["content", "state_key", "type", "sender"] {
        if let Some(v) = event.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn without_room_id(event: &Value) -> Value {
    let mut event = event.clone();
    event.as_object_mut().unwrap().remove("room_id");
    event
}

#[test]
fn every_event_example_decodes_as_its_kind_and_variant() {
    let spec = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap();
    let api = &spec.api;
    let mut checked = 0;
    let mut failures = Vec::new();
    for example in api.examples.iter().filter(|e| e.kind == ExampleKind::Event) {
        let Ty::Named(id) = example.ty else { continue };
        let Some(event) = api.events.iter().find(|e| e.ty == example.ty) else {
            continue;
        };
        // A content variant's example is an event of its base type.
        let (base, variant_value) = match &event.variant_of {
            Some((base, value)) => (api.events.iter().find(|e| &e.schema_name == base).unwrap(), Some(value)),
            None => (event, None),
        };
        let base_name = match base.ty {
            Ty::Named(bid) => api.ty(bid).name.clone(),
            _ => continue,
        };
        let expected = base_name.strip_suffix("Event").unwrap_or(&base_name).to_owned();
        let value = spec.store.inline_example(&example.location, &example.value).unwrap();
        // What the event's own type makes of the example (the spec's known
        // example defects are the same for both ways).
        let own_key = format!("events::{}", api.ty(id).name);
        let Some(Ok(own)) = matrix_api::registry::round_trip(&own_key, &value) else {
            continue;
        };
        let mut check = |form: &str, result: Result<(String, String, Value), String>, want: &Value| {
            checked += 1;
            match result {
                Err(e) => failures.push(format!("{}: {form}: {e}", example.location)),
                Ok((variant, debug, again)) => {
                    if variant != expected {
                        failures.push(format!(
                            "{}: {form}: variant {variant}, expected {expected}",
                            example.location
                        ));
                    }
                    if let Some(v) = variant_value {
                        let content_variant = matrix_codegen::ir::naming_pascal(v.strip_prefix("m.").unwrap_or(v));
                        if !debug.contains(&format!("content: {content_variant}(")) {
                            failures.push(format!(
                                "{}: {form}: content is not {content_variant}: {debug}",
                                example.location
                            ));
                        }
                    }
                    if &again != want {
                        failures.push(format!(
                            "{}: {form}: re-encoded {again}, expected {want}",
                            example.location
                        ));
                    }
                }
            }
        };
        // A room event's example has an `event_id`; the same event type's
        // to-device example has not.
        let room_shaped = own.get("event_id").is_some();
        for kind in &base.kinds {
            if matches!(kind, EventKind::MessageLike | EventKind::State) != room_shaped {
                continue;
            }
            match kind {
                EventKind::MessageLike | EventKind::State => {
                    check("full", decode_as::<AnyTimelineEvent>(&own), &own);
                    let sync = without_room_id(&own);
                    check("sync", decode_as::<AnySyncTimelineEvent>(&sync), &sync);
                    if *kind == EventKind::State {
                        let s = stripped(&own);
                        check("stripped", decode_as::<AnyStrippedStateEvent>(&s), &s);
                    }
                }
                EventKind::GlobalAccountData => check("global", decode_as::<AnyGlobalAccountDataEvent>(&own), &own),
                EventKind::RoomAccountData => check("room", decode_as::<AnyRoomAccountDataEvent>(&own), &own),
                EventKind::Ephemeral => check("ephemeral", decode_as::<AnyEphemeralRoomEvent>(&own), &own),
                EventKind::ToDevice => check("to-device", decode_as::<AnyToDeviceEvent>(&own), &own),
                EventKind::Presence => {}
            }
        }
    }
    // Spec examples that contradict the schema of the variant they name.
    let known = [(
        "event-schemas/examples/m.key.verification.start.yaml#: to-device: missing field `key_agreement_protocols`",
        "the generic m.key.verification.start example says `method: m.sas.v1` but has none of that method's required fields",
    )];
    let before = failures.len();
    failures.retain(|f| !known.iter().any(|(k, _)| f.starts_with(k)));
    assert_eq!(
        before - failures.len(),
        known.len(),
        "a known example defect no longer happens"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 100, "only {checked} checks ran");
    eprintln!("{checked} event example checks passed");
}

/// The redaction algorithm applied to a client event: content reduced to
/// the kept keys, the redaction in `unsigned.redacted_because`.
fn redact(event: &Value, keep: Option<&Vec<String>>) -> Value {
    let mut event = event.clone();
    let content = event["content"].as_object().cloned().unwrap_or_default();
    let kept: serde_json::Map<String, Value> = match keep {
        Some(keys) if keys.iter().any(|k| k == "*") => content,
        Some(keys) => content.into_iter().filter(|(k, _)| keys.contains(k)).collect(),
        None => serde_json::Map::new(),
    };
    event["content"] = Value::Object(kept);
    event["unsigned"] = json!({ "redacted_because": {
        "type": "m.room.redaction", "content": { "redacts": event["event_id"] }, "event_id": "$r:x.org",
        "sender": "@mod:x.org", "origin_server_ts": 2
    } });
    event
}

#[test]
fn every_room_event_example_decodes_redacted() {
    let spec = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap();
    let api = &spec.api;
    let rules = &api.redaction;
    let mut checked = 0;
    let mut failures = Vec::new();
    for example in api.examples.iter().filter(|e| e.kind == ExampleKind::Event) {
        let Some(event) = api.events.iter().find(|e| e.ty == example.ty && e.variant_of.is_none()) else {
            continue;
        };
        if !event
            .kinds
            .iter()
            .any(|k| matches!(k, EventKind::MessageLike | EventKind::State))
        {
            continue;
        }
        let value = spec.store.inline_example(&example.location, &example.value).unwrap();
        if value.get("event_id").is_none() {
            continue;
        }
        let event_type = event.type_name();
        let redacted = redact(&without_room_id(&value), rules.get(event_type));
        let Ty::Named(id) = event.ty else { continue };
        let name = api.ty(id).name.clone();
        let expected = format!("Redacted({}(", name.strip_suffix("Event").unwrap_or(&name));
        checked += 1;
        match decode_as::<AnySyncTimelineEvent>(&redacted) {
            Ok((_, debug, again)) if debug.starts_with(&expected) => {
                if again["content"] != redacted["content"] {
                    failures.push(format!("{event_type}: content re-encoded as {}", again["content"]));
                }
            }
            Ok((_, debug, _)) => failures.push(format!("{event_type}: decoded as {debug}")),
            Err(e) => failures.push(format!("{event_type}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 40, "only {checked} redacted events checked");
}

#[test]
fn a_redacted_member_event_keeps_its_membership() {
    let text = json!({
        "type": "m.room.member", "state_key": "@b:x.org", "content": { "membership": "join" },
        "event_id": "$e:x.org", "sender": "@b:x.org", "origin_server_ts": 5,
        "unsigned": { "redacted_because": { "type": "m.room.redaction" } }
    });
    let event: AnySyncTimelineEvent = serde_json::from_value(text).unwrap();
    let AnySyncTimelineEvent::Redacted(AnyRedactedSyncTimelineEvent::RoomMember(member)) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(member.content.membership, RoomMemberEventContentMembership::Join);
    // A redacted message has no body, and still decodes (as redacted).
    let message = json!({
        "type": "m.room.message", "content": {}, "event_id": "$m:x.org", "sender": "@b:x.org",
        "origin_server_ts": 6, "unsigned": { "redacted_because": { "type": "m.room.redaction" } }
    });
    let event: AnySyncTimelineEvent = serde_json::from_value(message).unwrap();
    assert!(
        matches!(
            event,
            AnySyncTimelineEvent::Redacted(AnyRedactedSyncTimelineEvent::RoomMessage(_))
        ),
        "{event:?}"
    );
}

#[test]
fn unknown_event_types_keep_their_whole_json() {
    let text = r#"{"type":"org.example.poll","content":{"question":"?","answers":[1,2]},"event_id":"$e:x.org","sender":"@a:x.org","origin_server_ts":5,"unsigned":{"age":1,"custom":true}}"#;
    let event: AnySyncTimelineEvent = serde_json::from_str(text).unwrap();
    let AnySyncTimelineEvent::Custom(raw) = &event else {
        panic!("expected Custom, got {event:?}")
    };
    assert_eq!(serde_json::to_string(&event).unwrap(), text, "re-encodes byte for byte");

    // And decodes again as the user's own content type.
    #[derive(serde::Deserialize)]
    struct Poll {
        question: String,
        answers: Vec<u8>,
    }
    let poll: SyncRoomEvent<Poll> = raw.deserialize_as().unwrap();
    assert_eq!(
        (poll.content.question.as_str(), poll.content.answers),
        ("?", vec![1, 2])
    );
    assert_eq!(poll.sender, "@a:x.org");
}

#[test]
fn unknown_msgtypes_keep_their_whole_content() {
    let text = r#"{"type":"m.room.message","content":{"msgtype":"org.example.dice","body":"4","sides":6,"m.relates_to":{"rel_type":"m.thread","event_id":"$t:x.org"}},"event_id":"$e:x.org","sender":"@a:x.org","origin_server_ts":5}"#;
    let event: AnySyncTimelineEvent = serde_json::from_str(text).unwrap();
    let AnySyncTimelineEvent::RoomMessage(message) = &event else {
        panic!("expected RoomMessage, got {event:?}")
    };
    let AnyRoomMessageEventContent::Custom(raw) = &message.content else {
        panic!("expected a custom msgtype, got {:?}", message.content)
    };
    assert_eq!(raw.deserialize().unwrap().body, "4", "the base content reads from it");
    let content = r#"{"msgtype":"org.example.dice","body":"4","sides":6,"m.relates_to":{"rel_type":"m.thread","event_id":"$t:x.org"}}"#;
    assert_eq!(
        serde_json::to_string(&message.content).unwrap(),
        content,
        "the content re-encodes byte for byte"
    );
    let again: serde_json::Value = serde_json::to_value(&event).unwrap();
    assert_eq!(again, serde_json::from_str::<serde_json::Value>(text).unwrap());
}

#[test]
fn known_msgtypes_keep_fields_the_spec_does_not_define() {
    let content = json!({
        "msgtype": "m.text", "body": "reply",
        "m.relates_to": { "m.in_reply_to": { "event_id": "$x:x.org" } },
        "m.mentions": { "user_ids": ["@b:x.org"] }
    });
    let typed: AnyRoomMessageEventContent = serde_json::from_value(content.clone()).unwrap();
    let AnyRoomMessageEventContent::Text(text) = &typed else {
        panic!("{typed:?}")
    };
    assert_eq!(text.body, "reply");
    assert!(text.extra.contains_key("m.relates_to"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        content,
        "forwarding loses nothing"
    );
}

#[test]
fn msgtypes_and_event_types_are_checked() {
    let notice = json!({ "msgtype": "m.notice", "body": "hi" });
    let err = serde_json::from_value::<RoomMessageTextEventContent>(notice.clone()).unwrap_err();
    assert!(err.to_string().contains("expected `m.text`, found `m.notice`"), "{err}");
    let content: AnyRoomMessageEventContent = serde_json::from_value(notice).unwrap();
    assert!(matches!(content, AnyRoomMessageEventContent::Notice(_)), "{content:?}");

    let message = json!({
        "type": "m.room.message", "state_key": "", "content": { "name": "x" },
        "event_id": "$e:x.org", "sender": "@a:x.org", "origin_server_ts": 1, "room_id": "!r:x.org"
    });
    let err = serde_json::from_value::<RoomNameEvent>(message).unwrap_err();
    assert!(err.to_string().contains("expected `m.room.name`"), "{err}");

    // Constants are written without being spelled out.
    let text = RoomMessageTextEventContent::new("hello".into());
    assert_eq!(
        serde_json::to_value(&text).unwrap(),
        json!({ "msgtype": "m.text", "body": "hello" })
    );
    assert_eq!(
        <matrix_api::events::AnyRoomMessageEventContent as EventContent>::EVENT_TYPE,
        "m.room.message"
    );
}

#[test]
fn identifiers_are_validated_on_decode() {
    let bad = json!({
        "type": "m.room.message", "content": { "msgtype": "m.text", "body": "hi" },
        "event_id": "$e:x.org", "sender": "not a user", "origin_server_ts": 1
    });
    let err = serde_json::from_value::<AnySyncTimelineEvent>(bad).unwrap_err();
    assert!(err.to_string().contains("invalid user ID `not a user`"), "{err}");
    let alice: UserId = "@alice:example.org:8448".parse().unwrap();
    assert_eq!((alice.localpart(), alice.server_name()), ("alice", "example.org:8448"));
}

#[test]
fn unsigned_data_is_typed_beyond_age() {
    // The event schemas declare only `age`; the declared data file
    // (`[unsigned]` in api-specs/events.toml) completes it from the
    // client-server event format, so what a server sends in `unsigned` is
    // typed rather than left in `extra`.
    let text = r#"{"type":"m.room.name","state_key":"","content":{"name":"New"},"event_id":"$e:x.org","sender":"@a:x.org","origin_server_ts":5,"unsigned":{"age":1,"transaction_id":"t1","prev_content":{"name":"Old"},"membership":"join","replaces_state":"$p:x.org","org.example":true}}"#;
    let event: AnySyncTimelineEvent = serde_json::from_str(text).unwrap();
    let AnySyncTimelineEvent::RoomName(name) = &event else {
        panic!("expected RoomName, got {event:?}")
    };
    let unsigned = name.unsigned.as_ref().expect("unsigned is decoded");
    assert_eq!(unsigned.age, Some(1));
    assert_eq!(unsigned.transaction_id.as_deref(), Some("t1"));
    assert_eq!(unsigned.membership.as_deref(), Some("join"));
    assert_eq!(unsigned.replaces_state.as_ref().map(|id| id.as_str()), Some("$p:x.org"));
    assert_eq!(
        unsigned.prev_content.as_ref().and_then(|c| c.get("name")),
        Some(&json!("Old"))
    );
    assert_eq!(
        unsigned.extra.keys().collect::<Vec<_>>(),
        ["org.example"],
        "only the unknown key is extra"
    );
    let again: Value = serde_json::to_value(&event).unwrap();
    assert_eq!(
        again,
        serde_json::from_str::<Value>(text).unwrap(),
        "re-encodes losslessly"
    );
}
