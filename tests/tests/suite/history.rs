//! `cargo xtask history` over every release since 2015: the archived
//! r0.x releases and v1.1 … v1.19 on one timeline, operations followed
//! across their path changes (`/_matrix/client/r0/…` → `/v3/…`), and the
//! first release of some operations checked against the changelogs the
//! archives carry.

use matrix_api_tests::history::history_releases;
use matrix_api_tests::spec_root;
use matrix_codegen::diff::history::{history, Entry};
use matrix_codegen::load::spec::releases;

fn all_releases() -> Vec<(String, matrix_codegen::ir::Api)> {
    let mut out: Vec<_> = history_releases()
        .into_iter()
        .map(|(name, dir)| (name, matrix_codegen::load_spec(&dir).unwrap().api))
        .collect();
    let root = spec_root();
    for name in releases(&root).unwrap() {
        let api = matrix_codegen::load_spec(&root.join(&name)).unwrap().api;
        out.push((name, api));
    }
    out
}

/// The `client_server.rst` changelog section of a release (`r0.3.0`).
fn changelog_section(release: &str) -> String {
    let (_, newest) = history_releases().pop().unwrap();
    let text = std::fs::read_to_string(newest.join("changelogs/client_server.rst")).unwrap();
    let start = text
        .find(&format!("{release}\n====="))
        .unwrap_or_else(|| panic!("no {release} in the changelog"));
    let rest = &text[start + release.len() + 1..];
    let end = rest.find("\nr0.").unwrap_or(rest.len());
    rest[..end].to_owned()
}

fn entry<'a>(entries: &'a [Entry], operation_id: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.kind == "operation" && e.name.ends_with(&format!("({operation_id})")))
        .unwrap_or_else(|| panic!("no history entry for {operation_id}"))
}

#[test]
fn history_spans_every_release_and_matches_the_changelogs() {
    let releases = all_releases();
    assert!(releases.len() >= 24, "{} releases", releases.len());
    let entries = history(&releases);

    // Present since the first release (2015), under three paths since.
    let join = entry(&entries, "joinRoomById");
    assert_eq!(join.first_release, "r0.0.0");
    assert_eq!(
        join.moved_in,
        [("v1.1".to_owned(), "/_matrix/client/r0/rooms/{roomId}/join".to_owned())]
    );
    let sync = entry(&entries, "sync");
    assert_eq!(sync.first_release, "r0.0.0");
    assert!(
        sync.changed_in.iter().any(|r| r == "client-server_r0.2.0"),
        "{:?}",
        sync.changed_in
    );

    // Added in a later r0 release, as its changelog says.
    for (operation_id, release, mention) in [
        ("getTokenOwner", "client-server_r0.3.0", "``GET /account/whoami``"),
        ("getJoinedRooms", "client-server_r0.3.0", "``GET /joined_rooms``"),
        (
            "getJoinedMembersByRoom",
            "client-server_r0.3.0",
            "``GET /rooms/{roomId}/joined_members``",
        ),
        ("getCapabilities", "client_server_r0.5.0", "capabilities"),
    ] {
        let e = entry(&entries, operation_id);
        assert_eq!(e.first_release, release, "{operation_id}");
        let version = release.rsplit('_').next().unwrap();
        assert!(
            changelog_section(version).contains(mention),
            "the {version} changelog mentions {mention}"
        );
    }

    // Annotations exist from v1.1 on: nothing before is held against them.
    for e in &entries {
        assert!(
            e.disagreements.iter().all(|d| !d.contains("r0.")),
            "{}: {:?}",
            e.name,
            e.disagreements
        );
    }
}

/// A diff between two archived releases works across their Swagger layouts,
/// and across the r0 → v3 path change it links the endpoints as moved.
#[test]
fn diffs_work_between_archived_releases_and_across_the_path_change() {
    let history = history_releases();
    let api = |name: &str| {
        let (_, dir) = history.iter().find(|(n, _)| n == name).unwrap();
        matrix_codegen::load_spec(dir).unwrap().api
    };
    let options = matrix_codegen::diff::Options::default();
    let report = matrix_codegen::diff::diff(
        &api("r0.0.0"),
        &api("client_server_r0.5.0"),
        "r0.0.0",
        "r0.5.0",
        options,
    );
    assert!(report.changes.iter().any(|c| c.rule == "operation-added"));
    assert!(report.changes.iter().any(|c| c.rule == "field-added-optional"));

    let v1_1 = matrix_codegen::load_spec(&spec_root().join("v1.1")).unwrap().api;
    let report = matrix_codegen::diff::diff(&api("client_server_r0.5.0"), &v1_1, "r0.5.0", "v1.1", options);
    let moved = report.changes.iter().filter(|c| c.rule == "operation-moved").count();
    let removed = report.changes.iter().filter(|c| c.rule == "operation-removed").count();
    assert!(moved > 100, "{moved} moved");
    assert!(removed < moved / 4, "{removed} removed, {moved} moved");
}
