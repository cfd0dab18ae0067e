//! `cargo xtask diff`: real release pairs and a hand-written fixture pair
//! that exercises every rule.

use matrix_api_tests::{release_dir, spec_root, workspace_root};
use matrix_codegen::diff::{self, rules, Change, Options, Report, Subject};
use matrix_codegen::ir::Api;
use std::collections::BTreeSet;

fn api(dir: &std::path::Path) -> Api {
    matrix_codegen::load_spec(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .api
}

fn release_diff(a: &str, b: &str) -> Report {
    diff::diff(&api(&release_dir(a)), &api(&release_dir(b)), a, b, Options::default())
}

fn pairs(report: &Report) -> BTreeSet<(String, &'static str)> {
    report.changes.iter().map(|c| (c.subject.label(), c.rule)).collect()
}

fn find<'a>(report: &'a Report, label: &str, rule: &str) -> &'a Change {
    report
        .changes
        .iter()
        .find(|c| c.subject.label() == label && c.rule == rule)
        .unwrap_or_else(|| panic!("no `{rule}` on `{label}` in:\n{}", diff::render::text(report, false)))
}

/// Swagger 2.0 → OpenAPI 3.1: the same endpoints, and nothing reported that
/// the format change alone would cause (`*/*` vs `application/octet-stream`,
/// `fields...` query objects, query-token vs bearer credentials, body
/// parameters vs request bodies). What remains is what v1.8 changed in
/// content, each reviewed against the spec files.
#[test]
fn v1_7_to_v1_8_reports_no_format_only_changes() {
    let report = release_diff("v1.7", "v1.8");
    let format_rules = [
        "operation-added",
        "operation-removed",
        "security-changed",
        "content-type-added",
        "content-type-removed",
        "request-body-type-changed",
        "request-body-added",
        "request-body-removed",
        "parameter-added-required",
        "parameter-added-optional",
        "parameter-removed-required",
        "parameter-removed-optional",
        "parameter-renamed",
        "parameter-type-changed",
    ];
    for c in &report.changes {
        assert!(!format_rules.contains(&c.rule), "format-only change reported: {c:?}");
    }
    let expected: BTreeSet<(String, &str)> = [
        // v1.8 gave this 400 response a schema (v1.7 had only an example).
        (
            "GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}",
            "body-schema-added",
        ),
        // New 404 responses documented in v1.8.
        (
            "POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}",
            "response-status-added",
        ),
        ("GET /_matrix/federation/v1/state_ids/{roomId}", "response-status-added"),
        // v1.8 rewrote the `[200, {...}]` tuples as arrays of `anyOf`: a different Rust type.
        (
            "PUT /_matrix/federation/v1/invite/{roomId}/{eventId}",
            "response-body-type-changed",
        ),
        (
            "PUT /_matrix/federation/v1/send_join/{roomId}/{eventId}",
            "response-body-type-changed",
        ),
        (
            "PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId}",
            "response-body-type-changed",
        ),
        ("server_server::SendInviteV1ResponseItem", "schema-added"),
        ("server_server::SendJoinV1ResponseItem", "schema-added"),
        ("server_server::SendLeaveV1ResponseItem", "schema-added"),
        ("server_server::Pdu", "field-type-changed"),
        ("server_server::UnsignedPdu", "field-type-changed"),
        ("server_server::UnsignedPduBase", "field-type-changed"),
        // `auth_events` and `prev_events` items are one type (copies of each other).
        ("server_server::UnsignedPduBasePrevEventsItemItem", "schema-added"),
        // The tuple's second item is named `Option1` now: the same shape, renamed.
        ("server_server::UnsignedPduBasePrevEventsItemItemN1", "schema-renamed"),
        // Room version 11 (v1.8): `redacts` moves into content, `creator` becomes optional.
        ("events::RoomCreateEventContent", "field-became-optional"),
        ("events::RoomRedactionEvent", "field-became-optional"),
        ("events::RoomRedactionEventContent", "field-added-optional"),
        ("server_server::UnsignedPdu", "field-removed-optional"),
        ("server_server::UnsignedPduBase", "field-removed-optional"),
        ("server_server::PduV11", "schema-added"),
        // m.reaction's `type` is pinned to `m.reaction` (v1.8): a constant type now.
        ("events::ReactionEvent", "field-type-changed"),
        // `room_types` entries may be null (v1.8).
        ("client_server::Filter", "field-type-changed"),
        ("server_server::Filter", "field-type-changed"),
        // Claimed one-time keys may be plain strings (v1.8 added `oneOf`).
        ("server_server::ClaimUserEncryptionKeysResponse", "field-type-changed"),
        (
            "server_server::ClaimUserEncryptionKeysResponseOneTimeKeysValueValueValue",
            "schema-added",
        ),
        // Copies are one type (one type per schema). v1.8 made the relations
        // endpoints' `dir` a copy of /messages' and the push rule action lists
        // copies of the `PushRule` definition's (their texts now agree), and
        // the notifications' action list no longer one: the same JSON, other
        // Rust types.
        (
            "GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}",
            "rust-type-changed",
        ),
        (
            "GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}",
            "rust-type-changed",
        ),
        (
            "GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}",
            "rust-type-changed",
        ),
        ("client_server::GetRelatingEventsDir", "schema-removed"),
        ("client_server::GetPushRuleActionsResponse", "rust-type-changed"),
        ("client_server::SetPushRuleActionsRequest", "rust-type-changed"),
        ("client_server::SetPushRuleRequest", "rust-type-changed"),
        ("client_server::SetPushRuleRequestActionsItem", "schema-removed"),
        ("client_server::Notification", "rust-type-changed"),
        (
            "client_server::GetNotificationsResponseNotificationsItemActionsItem",
            "schema-added",
        ),
    ]
    .into_iter()
    .map(|(l, r)| (l.to_owned(), r))
    .collect();
    assert_eq!(pairs(&report), expected);
}

#[test]
fn v1_17_to_v1_18_reports_what_the_release_notes_say() {
    let report = release_diff("v1.17", "v1.18");
    for label in [
        "GET /.well-known/matrix/policy_server",
        "GET /_matrix/client/v1/admin/lock/{userId}",
        "PUT /_matrix/client/v1/admin/lock/{userId}",
        "GET /_matrix/client/v1/admin/suspend/{userId}",
        "PUT /_matrix/client/v1/admin/suspend/{userId}",
        "POST /_matrix/policy/v1/sign",
    ] {
        let c = find(&report, label, "operation-added");
        assert!(!c.breaking.any(), "{label}: an added operation breaks nobody");
    }
    for label in [
        "PUT /_matrix/federation/v1/send_join/{roomId}/{eventId}",
        "PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId}",
    ] {
        let c = find(&report, label, "operation-removed");
        assert!(
            c.breaking.client && c.breaking.rust && !c.breaking.server,
            "{label}: {:?}",
            c.breaking
        );
    }
    // `score` removed from the report-content request body: reported once, under the schema.
    let score = find(&report, "client_server::ReportEventRequest", "field-removed-optional");
    assert!(score.detail.contains("`score`"));
    assert!(!score.breaking.wire() && score.breaking.rust);
    assert_eq!(
        score.reaches,
        ["POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}"]
    );
    // New capabilities: optional fields of the capabilities response.
    let caps: Vec<_> = report
        .changes
        .iter()
        .filter(|c| c.subject.label() == "client_server::Capabilities" && c.rule == "field-added-optional")
        .map(|c| c.detail.clone())
        .collect();
    assert_eq!(
        caps,
        [
            "property `m.account_moderation` added",
            "property `m.forget_forced_upon_leave` added"
        ]
    );
    assert!(find(&report, "client_server::Capabilities", "field-added-optional")
        .reaches
        .contains(&"GET /_matrix/client/v3/capabilities".to_owned()));
}

#[test]
fn every_consecutive_pair_diffs_and_a_release_against_itself_is_empty() {
    let names = matrix_codegen::load::spec::releases(&spec_root()).unwrap();
    let apis: Vec<Api> = names.iter().map(|n| api(&spec_root().join(n))).collect();
    for (i, a) in apis.iter().enumerate() {
        let same = diff::diff(a, a, &names[i], &names[i], Options { include_docs: true });
        assert!(
            same.changes.is_empty(),
            "{}: diff with itself is not empty: {:?}",
            names[i],
            same.changes.first()
        );
        if i > 0 {
            let report = diff::diff(&apis[i - 1], a, &names[i - 1], &names[i], Options::default());
            assert!(
                !report.changes.is_empty(),
                "{} → {}: no changes at all?",
                names[i - 1],
                names[i]
            );
            // Every output format renders.
            assert!(diff::render::json(&report).starts_with('{'));
            assert!(diff::render::markdown(&report).starts_with("## "));
        }
    }
}

fn fixture_report(include_docs: bool) -> Report {
    let dir = workspace_root().join("tests/fixtures/diff");
    diff::diff(
        &api(&dir.join("old")),
        &api(&dir.join("new")),
        "old",
        "new",
        Options { include_docs },
    )
}

#[test]
fn the_fixture_pair_exercises_every_rule() {
    let report = fixture_report(true);
    let used: BTreeSet<&str> = report.changes.iter().map(|c| c.rule).collect();
    let all: BTreeSet<&str> = rules::RULES.iter().map(|r| r.id).collect();
    let missing: Vec<_> = all.difference(&used).collect();
    assert!(missing.is_empty(), "rules no fixture change exercises: {missing:?}");
    // Description changes only with --include-docs.
    assert!(!fixture_report(false)
        .changes
        .iter()
        .any(|c| c.rule == "description-changed"));
}

#[test]
fn a_renamed_path_parameter_is_not_a_new_endpoint() {
    let report = fixture_report(false);
    let c = find(&report, "GET /_matrix/client/v3/params/{ident}", "parameter-renamed");
    assert_eq!(c.detail, "path parameter `id` renamed to `ident`");
    assert!(!c.breaking.wire() && c.breaking.rust);
    assert!(!report
        .changes
        .iter()
        .any(|c| c.subject.label().contains("/params/") && c.rule.starts_with("operation-")));
}

#[test]
fn a_shared_schema_change_is_reported_once_with_what_it_reaches() {
    let report = fixture_report(false);
    let shared: Vec<&Change> = report
        .changes
        .iter()
        .filter(|c| c.subject.label() == "client_server::Shared")
        .collect();
    // One entry per change of the schema, not one per operation using it.
    assert_eq!(shared.len(), 8, "{shared:#?}");
    for c in &shared {
        assert_eq!(
            c.reaches,
            [
                "GET /_matrix/client/v3/shared-b",
                "GET /_matrix/client/v3/shared-c",
                "POST /_matrix/client/v3/shared-a",
            ]
        );
    }
    // None of the three operations repeats it.
    assert!(!report
        .changes
        .iter()
        .any(|c| matches!(&c.subject, Subject::Operation { path, .. } if path.contains("/shared-"))));
}

#[test]
fn classification_follows_direction() {
    let report = fixture_report(false);
    // `Shared` travels in a request and in responses: a new required field
    // breaks old clients (they do not send it) and old servers (they do not return it).
    let b = find(&report, "client_server::Shared", "field-added-required").breaking;
    assert!(b.client && b.server && b.rust);
    // `Kind` is only in a response: a new value breaks old clients, not servers.
    let b = find(&report, "client_server::Kind", "enum-value-added").breaking;
    assert!(b.client && !b.server && b.rust);
    let b = find(&report, "client_server::Kind", "enum-value-removed").breaking;
    assert!(!b.client && b.server && b.rust);
    // An optional field added breaks only Rust struct literals.
    let b = find(&report, "client_server::Shared", "field-added-optional").breaking;
    assert!(!b.client && !b.server && b.rust);
}

/// Query token and bearer token are two ways of sending a credential: one
/// dropped breaks the clients that use it, one added the servers that do
/// not know it.
#[test]
fn each_way_of_sending_a_credential_counts() {
    let report = fixture_report(false);
    let gone = find(&report, "GET /_matrix/client/v3/credentials", "credential-removed");
    assert_eq!(gone.detail, "no longer accepts access token (?access_token=)");
    assert!(gone.breaking.client && !gone.breaking.server && !gone.breaking.rust);
    let added = find(&report, "GET /_matrix/client/v3/credentials", "credential-added");
    assert!(!added.breaking.client && added.breaking.server);
}

/// v1.1 → v1.2, reviewed: every change that breaks someone on the wire,
/// with whom. v1.2 moved the event lists from `event-schemas/` (events::*)
/// to `ClientEvent`; where the JSON shape is the same that is a Rust-only
/// change, and where it is not the verdict follows from the shapes: a
/// `state` list of `StateEvent` (which requires `state_key`) became a list
/// of `ClientEvent` (where `state_key` is optional), so an old client may
/// miss the `state_key` it relies on; a bare `Event` response became a
/// `ClientEvent`, whose required `event_id`, `sender` … an old server never
/// promised. 200 responses that only had an example and got a schema are
/// `body-schema-added` (nothing to compare; Rust only).
#[test]
fn v1_1_to_v1_2_wire_verdicts_are_the_reviewed_ones() {
    let report = release_diff("v1.1", "v1.2");
    let mut got: Vec<(String, &str, String, bool, bool)> = report
        .changes
        .iter()
        .filter(|c| c.breaking.wire())
        .map(|c| {
            (
                c.subject.label(),
                c.rule,
                c.detail.clone(),
                c.breaking.client,
                c.breaking.server,
            )
        })
        .collect();
    got.sort();
    let ev = "events::Event → client_server::ClientEvent";
    let state = "Vec<events::StateEvent> → Vec<client_server::ClientEvent>";
    let mut expected: Vec<(String, &str, String, bool, bool)> = [
        // Responses that are now full client events: old servers never promised their fields.
        (
            "GET /_matrix/client/v3/events/{eventId}",
            "response-body-type-changed",
            format!("status 200 body: {ev}"),
            false,
            true,
        ),
        (
            "GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}",
            "response-body-type-changed",
            format!("status 200 body: {ev}"),
            false,
            true,
        ),
        (
            "client_server::InitialSyncResponse",
            "field-type-changed",
            "property `presence`: Vec<events::Event> → Vec<client_server::ClientEvent>".into(),
            false,
            true,
        ),
        (
            "client_server::RoomInfo",
            "field-type-changed",
            "property `account_data`: Vec<events::Event> → Vec<client_server::ClientEvent>".into(),
            false,
            true,
        ),
        (
            "client_server::Notification",
            "field-type-changed",
            "property `event`: client_server::Event → client_server::ClientEventWithoutRoomId".into(),
            false,
            true,
        ),
        // State lists: `state_key` no longer required by the schema.
        (
            "GET /_matrix/client/v3/rooms/{roomId}/state",
            "response-body-type-changed",
            format!("status 200 body: {state}"),
            true,
            false,
        ),
        (
            "client_server::GetEventContextResponse",
            "field-type-changed",
            format!("property `state`: {state}"),
            true,
            false,
        ),
        (
            "client_server::GetRoomEventsResponse",
            "field-type-changed",
            format!("property `state`: {state}"),
            true,
            false,
        ),
        (
            "client_server::RoomInfo",
            "field-type-changed",
            format!("property `state`: {state}"),
            true,
            false,
        ),
        (
            "client_server::RoomInitialSyncResponse",
            "field-type-changed",
            format!("property `state`: {state}"),
            true,
            false,
        ),
        (
            "client_server::ResultRoomEvents",
            "field-type-changed",
            "property `state`: Map<Vec<events::StateEvent>> → Map<Vec<client_server::ClientEvent>>".into(),
            true,
            false,
        ),
        (
            "client_server::StateEventBatch",
            "field-type-changed",
            "property `events`: Vec<events::SyncStateEvent> → Vec<client_server::ClientEventWithoutRoomId>".into(),
            true,
            false,
        ),
        (
            "client_server::GetMembersByRoomResponse",
            "field-type-changed",
            "property `chunk`: Vec<events::RoomMemberEvent> → Vec<client_server::ClientEvent>".into(),
            true,
            false,
        ),
        (
            "client_server::RoomInfo",
            "field-type-changed",
            "property `invite`: events::RoomMemberEvent → client_server::ClientEvent".into(),
            true,
            false,
        ),
        // An appservice (the server here) receiving transactions now expects full client events.
        (
            "application_service::SendTransactionRequest",
            "field-type-changed",
            "property `events`: Vec<Object> → Vec<client_server::ClientEvent>".into(),
            true,
            false,
        ),
        // Real changes of v1.2.
        (
            "GET /_matrix/app/v1/thirdparty/protocol/{protocol}",
            "response-body-type-changed",
            "status 200 body: application_service::ProtocolMetadata → application_service::Protocol".into(),
            true,
            true,
        ),
        (
            "events::KeyVerificationMRelatesToEvent",
            "field-type-changed",
            "property `event_id`: Object → String".into(),
            true,
            true,
        ),
        (
            "events::RoomJoinRulesEventContentJoinRule",
            "enum-value-added",
            "value `restricted` added".into(),
            true,
            true,
        ),
        (
            "client_server::GetRoomKeysResponse",
            "field-became-required",
            "property `rooms`".into(),
            false,
            true,
        ),
        (
            "client_server::TimelineBatch",
            "field-became-required",
            "property `events`".into(),
            false,
            true,
        ),
        (
            "GET /_matrix/client/v3/profile/{userId}",
            "response-status-added",
            "status 403 added".into(),
            true,
            false,
        ),
        (
            "GET /_matrix/federation/v1/make_join/{roomId}/{userId}",
            "response-status-added",
            "status 403 added".into(),
            true,
            false,
        ),
        (
            "PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}",
            "response-status-added",
            "status 400 added".into(),
            true,
            false,
        ),
        (
            "PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}",
            "response-status-added",
            "status 403 added".into(),
            true,
            false,
        ),
        // Responses documented as JSON where v1.1 gave no content type.
        (
            "GET /_matrix/client/v3/profile/{userId}",
            "content-type-added",
            "status 404: content type `application/json` added".into(),
            true,
            false,
        ),
        (
            "PUT /_matrix/client/v3/user/{userId}/account_data/{type}",
            "content-type-added",
            "status 200: content type `application/json` added".into(),
            true,
            false,
        ),
        (
            "PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}",
            "content-type-added",
            "status 200: content type `application/json` added".into(),
            true,
            false,
        ),
        // v1.1 wrote `schema` under `examples` (a spec mistake read as a media type).
        (
            "POST /_matrix/client/v3/account/3pid",
            "content-type-removed",
            "status 200: content type `schema` removed".into(),
            false,
            true,
        ),
        (
            "POST /_matrix/client/v3/account/3pid/add",
            "content-type-removed",
            "status 200: content type `schema` removed".into(),
            false,
            true,
        ),
        (
            "POST /_matrix/client/v3/account/3pid/bind",
            "content-type-removed",
            "status 200: content type `schema` removed".into(),
            false,
            true,
        ),
    ]
    .into_iter()
    .map(|(l, r, d, c, s): (&str, &str, String, bool, bool)| (l.to_owned(), r, d, c, s))
    .collect();
    expected.sort();
    assert_eq!(got, expected);
    // Most of what v1.2 changed breaks nobody on the wire.
    assert!(report.changes.len() > 4 * got.len(), "{} changes", report.changes.len());
}

/// Constraints the Rust type does not enforce: narrowed breaks senders of
/// what was valid (old clients, in a request body), dropped breaks old
/// readers, changed breaks both.
#[test]
fn constraint_changes_are_classified_by_direction() {
    let report = fixture_report(false);
    let c = find(&report, "client_server::Constrained", "constraint-tightened");
    assert_eq!(c.detail, "property `tightened`: maxLength `10` → `5`");
    assert!(c.breaking.client && !c.breaking.server && !c.breaking.rust);
    let c = find(&report, "client_server::Constrained", "constraint-loosened");
    assert_eq!(c.detail, "property `loosened`: minimum `0` dropped");
    assert!(!c.breaking.client && c.breaking.server);
    let c = find(&report, "client_server::Constrained", "constraint-changed");
    assert!(c.breaking.client && c.breaking.server);
}
