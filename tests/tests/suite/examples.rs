//! Every JSON example in v1.19 — request and response examples, `example`
//! on schemas and properties, parameter examples, and every file in
//! `event-schemas/examples/` — decodes into its generated type and
//! re-encodes to JSON equal to the original.
//!
//! The only exceptions are examples the spec itself gets wrong (a field the
//! schema does not declare, a required field missing, a placeholder string
//! where an object belongs). Each is listed below with the reason, and the
//! test fails if an exception no longer happens, so the list cannot rot.

use matrix_api_tests::{check_examples, release_dir};

/// (where: exact example location or a prefix ending in `/`, what: text the
/// failure contains, why).
const SPEC_EXAMPLE_DEFECTS: &[(&str, &str, &str)] = &[
    (
        "api/client-server/definitions/room_key_bundle.yaml#/properties/room_keys/items/properties/session_key/example",
        "invalid unpadded base64",
        "the example is cut short with `...`, which is not base64 (`format: mx-unpadded-base64`)",
    ),
    (
        "api/client-server/definitions/m.relates_to.yaml#/example",
        "missing field `rel_type`",
        "the spec says it 'deliberately breaks' this example by wrapping it in `m.relates_to`",
    ),
    (
        "api/client-server/definitions/olm_payload.yaml#/example",
        "invalid type: string \"<content for the plaintext event>\"",
        "`content` is a placeholder string where the schema says object",
    ),
    (
        "api/client-server/key_backup.yaml#/paths/",
        "/current_version (dropped)",
        "`current_version` is an error field described only in prose; the error schema declares `errcode` and `error`",
    ),
    (
        "api/client-server/refresh.yaml#/paths/~1refresh/post/responses/401/content/application~1json/examples/response/value",
        "/soft_logout (dropped)",
        "`soft_logout` is an error field described only in prose; the error schema declares `errcode` and `error`",
    ),
    (
        "api/identity/v2_store_invite.yaml#/paths/~1store-invite/post/responses/400/content/application~1json/examples/response/value",
        "/mxid (dropped)",
        "`mxid` is an error field described only in prose; the error schema declares `errcode` and `error`",
    ),
    (
        "api/client-server/notifications.yaml#/paths/~1notifications/get/responses/200/content/application~1json/examples/response/value",
        "/notifications/0/event/room_id (dropped)",
        "the notification's event is typed as ClientEventWithoutRoomID but the example has `room_id`",
    ),
    (
        "api/client-server/third_party_lookup.yaml#/paths/~1thirdparty~1protocols/get/responses/200/content/application~1json/schema/example",
        "missing field `icon`",
        "the example protocol omits `icon`, which protocol.yaml requires",
    ),
    (
        "api/server-server/space_hierarchy.yaml#/paths/~1hierarchy~1{roomId}/get/responses/200/content/application~1json/examples/response/value",
        "/children/0/children_state (dropped)",
        "federation hierarchy children are typed without `children_state`, the example has it",
    ),
    (
        "event-schemas/examples/m.call.sdp_stream_metadata_changed.yaml#",
        "/audio_muted: (dropped)",
        "the example misspells the key as `audio_muted:` (with a colon)",
    ),
    (
        "event-schemas/examples/m.room.encrypted$megolm.yaml#",
        "/event_id (dropped)",
        "m.room.encrypted is typed as the bare Event (it is also a to-device event); the room example has `event_id`",
    ),
    (
        "event-schemas/examples/m.room.encrypted$olm.yaml#",
        "/event_id (dropped)",
        "m.room.encrypted is typed as the bare Event (it is also a to-device event); the room example has `event_id`",
    ),
    (
        "event-schemas/examples/m.sticker.yaml#",
        "/thumbnail_info/is_animated (dropped)",
        "`is_animated` belongs to ImageInfo; the example puts it in `thumbnail_info`",
    ),
];

fn matches(rule: &(&str, &str, &str), location: &str, failure: &str) -> bool {
    let (place, what, _) = rule;
    let place_ok = if place.ends_with('/') {
        location.starts_with(place)
    } else {
        location == *place
    };
    place_ok && failure.contains(what)
}

#[test]
fn every_v1_19_example_round_trips() {
    let report = check_examples(&release_dir("v1.19"));
    let mut unexpected = Vec::new();
    let mut used = vec![false; SPEC_EXAMPLE_DEFECTS.len()];
    for outcome in &report.outcomes {
        let Some(failure) = &outcome.failure else { continue };
        match SPEC_EXAMPLE_DEFECTS
            .iter()
            .position(|rule| matches(rule, &outcome.location, failure))
        {
            Some(i) => used[i] = true,
            None => unexpected.push(format!("{} as {}: {}", outcome.location, outcome.type_key, failure)),
        }
    }
    let failed = report.outcomes.iter().filter(|o| o.failure.is_some()).count();
    println!(
        "v1.19 examples: {} checked, {} round-trip, {} known spec defects",
        report.total, report.passed, failed
    );
    assert!(
        unexpected.is_empty(),
        "examples that do not round-trip:\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<_> = SPEC_EXAMPLE_DEFECTS
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r.0)
        .collect();
    assert!(
        stale.is_empty(),
        "listed spec defects that no longer occur (remove them): {stale:?}"
    );
    // The corpus must really be there (a loader regression would shrink it).
    assert!(report.total > 1200, "only {} examples found", report.total);
}

#[test]
fn every_event_example_file_is_checked() {
    let spec = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap();
    let files: Vec<_> = spec
        .store
        .files()
        .filter_map(|(f, _)| {
            f.strip_prefix("event-schemas/examples/")
                .filter(|n| !n.contains('/'))
                .map(str::to_owned)
        })
        .collect();
    let checked: std::collections::BTreeSet<_> = spec
        .api
        .examples
        .iter()
        .filter_map(|e| {
            e.location
                .file
                .strip_prefix("event-schemas/examples/")
                .map(str::to_owned)
        })
        .collect();
    let skipped: Vec<_> = spec.api.skipped_examples.iter().map(|(l, _)| l.file.clone()).collect();
    for f in &files {
        assert!(
            checked.contains(f) || skipped.contains(&format!("event-schemas/examples/{f}")),
            "{f} is neither checked nor reported as skipped"
        );
    }
    // Only the two stripped-state lists have no event schema of their own.
    let unmatched: Vec<_> = files.iter().filter(|f| !checked.contains(*f)).collect();
    assert_eq!(unmatched, ["invite_room_state.json", "knock_room_state.json"]);
}
