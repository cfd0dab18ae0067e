//! Every release in the spec root (v1.1 … v1.19) and every archived older
//! release (r0.0.0 of 2015 … client-server r0.5.0 of 2019) loads with zero
//! errors and generates a crate that compiles; operation counts match the
//! spec files.

use matrix_api_tests::crates::Workspace;
use matrix_api_tests::history::history_releases;
use matrix_api_tests::{release_dir, spec_root, workspace_root};
use matrix_codegen::family::Family;
use matrix_codegen::load::spec::releases;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Counts (family → operations) straight from the YAML files, without the
/// generator's loader: every method key under `paths` of every top-level
/// file in `api/<family>/`.
fn operations_in_files(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for family in Family::ALL {
        let fdir = dir.join("api").join(family.dir());
        let mut n = 0;
        // The earliest releases have fewer families.
        for entry in std::fs::read_dir(&fdir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let doc: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let Some(paths) = doc.get("paths").and_then(|p| p.as_mapping()) else {
                continue;
            };
            for (_, item) in paths {
                let methods = ["get", "put", "post", "delete", "options", "head", "patch"];
                n += item
                    .as_mapping()
                    .map(|m| m.keys().filter(|k| methods.contains(&k.as_str().unwrap_or(""))).count())
                    .unwrap_or(0);
            }
        }
        counts.insert(family.dir().to_owned(), n);
    }
    counts
}

fn ir_counts(api: &matrix_codegen::ir::Api) -> BTreeMap<String, usize> {
    Family::ALL
        .iter()
        .map(|f| {
            (
                f.dir().to_owned(),
                api.operations.iter().filter(|o| o.family == *f).count(),
            )
        })
        .collect()
}

#[test]
fn v1_19_operation_counts_match_the_spec_files() {
    let dir = release_dir("v1.19");
    let spec = matrix_codegen::load_spec(&dir).unwrap();
    let from_files = operations_in_files(&dir);
    assert_eq!(ir_counts(&spec.api), from_files);
    // The figures the project is known by (166 + 36 + 23 + 9 + 1).
    assert_eq!(from_files.values().sum::<usize>(), 235);
    assert_eq!(from_files["client-server"], 166);
}

#[test]
fn swagger_v1_7_and_openapi_v1_8_have_the_same_endpoints() {
    let endpoints = |release: &str| -> BTreeSet<(Family, String, String)> {
        let spec = matrix_codegen::load_spec(&release_dir(release)).unwrap();
        spec.api
            .operations
            .iter()
            .map(|o| (o.family, o.method.clone(), o.path.clone()))
            .collect()
    };
    let (old, new) = (endpoints("v1.7"), endpoints("v1.8"));
    assert_eq!(
        old.len(),
        218 - 2,
        "two endpoints are documented twice (trailing-space path keys)"
    );
    assert_eq!(old, new);
    // And the same operationIds per family.
    let ids = |release: &str| -> BTreeSet<(Family, String)> {
        let spec = matrix_codegen::load_spec(&release_dir(release)).unwrap();
        spec.api
            .operations
            .iter()
            .map(|o| (o.family, o.operation_id.clone()))
            .collect()
    };
    assert_eq!(ids("v1.7"), ids("v1.8"));
}

/// The package name of a release's generated crate (`matrix-api-v1-19`,
/// `matrix-api-client-server-r0-2-0`).
fn package(release: &str) -> String {
    format!("matrix-api-{}", release.replace(['.', '_'], "-"))
}

/// All releases, archived and current: load, count, generate; then one
/// `cargo check` over a workspace holding every generated crate, so
/// dependencies build once.
#[test]
fn every_release_loads_and_its_generated_crate_compiles() {
    let root = spec_root();
    let names = releases(&root).unwrap();
    assert!(
        names.len() >= 19,
        "expected v1.1 … v1.19 under {}, found {names:?}",
        root.display()
    );
    let history = history_releases();
    assert!(history.len() >= 5, "expected five archived releases, found {history:?}");
    let archived: Vec<String> = history.iter().map(|(name, _)| name.clone()).collect();
    let all: Vec<(String, std::path::PathBuf)> = history
        .into_iter()
        .chain(names.iter().map(|n| (n.clone(), root.join(n))))
        .collect();
    let mut workspace = Workspace::new(workspace_root().join("target/release-matrix"));
    for (name, dir) in &all {
        let spec = matrix_codegen::load_spec(dir).unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        assert_eq!(
            ir_counts(&spec.api),
            operations_in_files(dir),
            "{name}: operation counts differ from the files"
        );
        workspace.add(name, &package(name), name, &spec.api);
    }
    let out = workspace.dir().to_owned();
    let check = |args: &[&str]| workspace.check(args);
    // Every release's models; the per-operation code of every archived release
    // (they are small) and of a sample of the rest (the first and last Swagger
    // 2.0 v1.x release, the first OpenAPI 3.1 one, the newest), to keep CI time sane.
    assert!(
        check(&["--workspace", "--features", "full"]),
        "generated models do not compile (see {})",
        out.display()
    );
    let sample: Vec<String> = archived
        .iter()
        .map(String::as_str)
        .chain(
            ["v1.1", "v1.7", "v1.8", "v1.19"]
                .into_iter()
                .filter(|r| names.contains(&r.to_string())),
        )
        .flat_map(|r| ["-p".to_owned(), package(r)])
        .collect();
    let mut args: Vec<&str> = sample.iter().map(String::as_str).collect();
    args.extend(["--features", "full,endpoints,server,client"]);
    assert!(
        check(&args),
        "generated endpoints do not compile (see {})",
        out.display()
    );
}

#[test]
fn manifest_matches_the_spec_root() {
    use matrix_codegen::load::manifest::{checksum, format_of, Manifest};
    let manifest = Manifest::load(&workspace_root().join("api-specs/manifest.toml")).unwrap();
    let present = releases(&spec_root()).unwrap();
    let listed: Vec<_> = manifest.releases.iter().map(|r| r.name.clone()).collect();
    assert_eq!(listed, present, "manifest and spec root list different releases");
    for release in &manifest.releases {
        let dir = spec_root().join(&release.name);
        assert_eq!(checksum(&dir).unwrap(), release.checksum, "{}: checksum", release.name);
        assert_eq!(format_of(&dir).unwrap(), release.format, "{}: format", release.name);
        assert_eq!(release.upstream_commit.len(), 40);
    }
}

/// What the archived layouts need from the loader, checked where each first
/// appears: unnamed operations, two documented forms of one endpoint, event
/// schemas without an extension (and `#` for content variants), a folder
/// reached through a symbolic link, and the non-spec files beside the YAML.
#[test]
fn archived_layouts_load_as_written() {
    let history: BTreeMap<String, std::path::PathBuf> = history_releases().into_iter().collect();

    // r0.0.0 (2015): no operationIds at all; `/rooms/{roomId}/invite` is
    // documented twice, once under a key with a trailing space.
    let r0 = matrix_codegen::load_spec(&history["r0.0.0"]).unwrap();
    let invites: Vec<_> = r0
        .api
        .operations
        .iter()
        .filter(|o| o.method == "post" && o.path == "/_matrix/client/r0/rooms/{roomId}/invite")
        .collect();
    assert_eq!(invites.len(), 2, "both invite forms are kept");
    assert!(invites.iter().all(|o| o.operation_id == "postRoomsRoomIdInvite"));
    let names: BTreeSet<&str> = invites.iter().map(|o| o.type_name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["PostRoomsRoomIdInvite", "PostRoomsRoomIdInvite2"])
    );
    let files: BTreeSet<&str> = invites.iter().map(|o| o.location.file.as_str()).collect();
    assert_eq!(
        files,
        BTreeSet::from([
            "api/client-server/inviting.yaml",
            "api/client-server/third_party_membership.yaml"
        ])
    );
    assert!(r0.api.warnings.iter().any(|(_, m)| m.contains("have no operationId")));

    // Event schemas named without `.yaml`, content variants with `#`.
    let events: BTreeMap<&str, Option<&str>> = r0
        .api
        .events
        .iter()
        .map(|e| (e.schema_name.as_str(), e.event_type.as_deref()))
        .collect();
    assert_eq!(events.get("m.room.member"), Some(&Some("m.room.member")));
    assert!(events.contains_key("m.room.message$m.text"), "{events:?}");

    // r0.5.0 (2019): `api/client-server/definitions/event-schemas` links to
    // `event-schemas`; files are read once, under their real path.
    let r5 = matrix_codegen::load_spec(&history["client_server_r0.5.0"]).unwrap();
    assert_eq!(
        r5.store
            .links()
            .get("api/client-server/definitions/event-schemas")
            .map(String::as_str),
        Some("event-schemas")
    );
    assert!(r5
        .store
        .files()
        .all(|(file, _)| !file.starts_with("api/client-server/definitions/event-schemas/")));
    let ignored = r5.store.ignored_files();
    for file in [
        "api/README",
        "api/package.json",
        "api/validator.js",
        "event-schemas/README.md",
    ] {
        assert!(
            ignored.iter().any(|f| f == file),
            "{file} is listed as not read: {ignored:?}"
        );
    }
    let stats = matrix_codegen::stats::stats(&r5.api, "r0.5.0").with_files(&r5.store);
    assert!(stats.to_text().contains("api/package.json"));
}

/// The 2015 layout keeps each API version's files in its own folder inside
/// the family's (`api/client-server/v1/`, `v2_alpha/`): both are read.
#[test]
fn versioned_folders_are_read() {
    let dir = workspace_root().join("tests/fixtures/versioned");
    let spec = matrix_codegen::load_spec(&dir).unwrap();
    let ops: BTreeSet<(String, String, String)> = spec
        .api
        .operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone(), o.operation_id.clone()))
        .collect();
    assert_eq!(
        ops,
        BTreeSet::from([
            (
                "post".to_owned(),
                "/_matrix/client/api/v1/rooms/{roomId}/leave".to_owned(),
                "postRoomsRoomIdLeave".to_owned()
            ),
            (
                "get".to_owned(),
                "/_matrix/client/v2_alpha/sync".to_owned(),
                "getSync".to_owned()
            ),
        ])
    );
    // Both 403/400 bodies are the one error type of `v1/definitions/`.
    let errors: BTreeSet<String> = spec
        .api
        .operations
        .iter()
        .flat_map(|o| &o.responses)
        .filter(|r| r.status.starts_with('4'))
        .flat_map(|r| &r.content)
        .filter_map(|c| match &c.ty {
            Some(matrix_codegen::ir::Ty::Named(id)) => Some(spec.api.types[*id].name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
}

/// Every file `api-specs/errata.toml` names is still corrected in the
/// default release, and each correction is reported: once the spec is
/// fixed, its entry must go.
#[test]
fn errata_still_apply() {
    let spec = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap();
    let corrected: BTreeSet<&str> = spec
        .api
        .warnings
        .iter()
        .filter(|(_, message)| message.contains("api-specs/errata.toml"))
        .map(|(location, _)| location.file.as_str())
        .collect();
    let listed = matrix_codegen::ir::errata::listed_files().unwrap();
    assert!(!listed.is_empty());
    for file in &listed {
        assert!(corrected.contains(file.as_str()), "{file}: nothing to correct any more");
    }
    // The generated template reads one without `origin`, as Synapse sends
    // for rooms of version 11 and later.
    let template: matrix_api::server_server::MakeJoinResponseEvent = serde_json::from_value(serde_json::json!({
        "sender": "@a:b", "origin_server_ts": 1, "type": "m.room.member",
        "state_key": "@a:b", "content": { "membership": "join" },
    }))
    .unwrap();
    assert_eq!(template.origin, None);
    // An exchange of a third-party invite without the display name, as
    // Synapse sends it (the room's server fills it in).
    let exchange: matrix_api::server_server::ExchangeThirdPartyInviteRequest =
        serde_json::from_value(serde_json::json!({
            "type": "m.room.member", "room_id": "!r:b", "sender": "@a:b", "state_key": "@c:d",
            "content": { "membership": "invite", "third_party_invite": {
                "signed": { "mxid": "@c:d", "token": "t", "signatures": { "id.example": { "ed25519:0": "c2ln" } } },
            } },
        }))
        .unwrap();
    assert_eq!(exchange.content.third_party_invite.display_name, None);
}
