//! The five documents the project grew from (`../shared/seeds/`), copied
//! from web views of the spec's repository: four spec files (their page
//! headers, a blame gutter and every line's indentation came along or got
//! lost) and one diff. Each spec file is recovered, loaded as a loose file
//! with the files it refers to taken from the release of its era, generated
//! and compiled, and its operations are found in the output with their
//! documented methods and paths. The diff's result is in the r0.0.0 archive.

use matrix_api_tests::crates::Workspace;
use matrix_api_tests::history::history_releases;
use matrix_api_tests::{release_dir, workspace_root};
use matrix_codegen::load::web_copy;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn seeds_dir() -> PathBuf {
    workspace_root().join("../shared/seeds")
}

/// The seed whose name starts with `prefix` (`000`), as copied.
fn seed_text(prefix: &str) -> String {
    let dir = seeds_dir();
    let path = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no seed {prefix}_* in {}", dir.display()));
    std::fs::read_to_string(path).unwrap()
}

/// A release folder by name: a v1.x release or an archived one.
fn release(name: &str) -> PathBuf {
    if name.starts_with('v') {
        return release_dir(name);
    }
    history_releases()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, dir)| dir)
        .unwrap_or_else(|| panic!("no archived release {name}"))
}

struct SpecSeed {
    prefix: &'static str,
    /// The file it is a copy of, as the release lays it out.
    file: &'static str,
    /// The release the files it refers to come from.
    era: &'static str,
    /// (method, full path, operationId) as the seed documents them.
    operations: &'static [(&'static str, &'static str, &'static str)],
}

const SPEC_SEEDS: [SpecSeed; 4] = [
    SpecSeed {
        prefix: "000",
        file: "api/server-server/third_party_invite.yaml",
        era: "v1.15",
        operations: &[
            (
                "PUT",
                "/_matrix/federation/v1/exchange_third_party_invite/{roomId}",
                "exchangeThirdPartyInvite",
            ),
            (
                "PUT",
                "/_matrix/federation/v1/3pid/onbind",
                "onBindThirdPartyIdentifier",
            ),
        ],
    },
    SpecSeed {
        prefix: "002",
        file: "api/server-server/invites-v2.yaml",
        era: "v1.1",
        operations: &[(
            "PUT",
            "/_matrix/federation/v2/invite/{roomId}/{eventId}",
            "sendInviteV2",
        )],
    },
    SpecSeed {
        // matrix-doc's `api/client-server/v1/membership.yaml` of 2015: no
        // operationIds, and the two forms of `/invite` under two keys.
        prefix: "003",
        file: "api/client-server/membership.yaml",
        era: "r0.0.0",
        operations: &[
            (
                "POST",
                "/_matrix/client/api/v1/rooms/{roomId}/join",
                "postRoomsRoomIdJoin",
            ),
            (
                "POST",
                "/_matrix/client/api/v1/rooms/{roomId}/invite",
                "postRoomsRoomIdInvite",
            ),
            (
                "POST",
                "/_matrix/client/api/v1/rooms/{roomId}/invite",
                "postRoomsRoomIdInvite",
            ),
        ],
    },
    SpecSeed {
        prefix: "004",
        file: "api/identity/v2_associations.yaml",
        era: "v1.10",
        operations: &[
            (
                "GET",
                "/_matrix/identity/v2/3pid/getValidated3pid",
                "getValidated3pidV2",
            ),
            ("POST", "/_matrix/identity/v2/3pid/bind", "bindV2"),
            ("POST", "/_matrix/identity/v2/3pid/unbind", "unbindV2"),
        ],
    },
];

/// The seed recovered into `target/seeds/<prefix>/<file name>`.
fn recovered(seed: &SpecSeed) -> PathBuf {
    let yaml = web_copy::recover(&seed_text(seed.prefix)).unwrap_or_else(|e| panic!("seed {}: {e}", seed.prefix));
    let dir = workspace_root().join("target/seeds").join(seed.prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(Path::new(seed.file).file_name().unwrap());
    // Tests run in parallel and recover the same seeds: each writes its own
    // file and renames it into place, so no test ever reads a half-written
    // one (a plain write truncates the file another test is loading).
    let partial = dir.join(format!(".{}.{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&partial, yaml).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

fn signatures(api: &matrix_codegen::ir::Api) -> Vec<(String, String, String)> {
    let mut ops: Vec<_> = api
        .operations
        .iter()
        .map(|o| (o.method.to_uppercase(), o.path.clone(), o.operation_id.clone()))
        .collect();
    ops.sort();
    ops
}

/// Every spec seed is recovered, loads with the files of its era, and its
/// operations are the ones it documents; then all four generate and compile
/// (models, endpoints, server and client) and their endpoint metadata holds
/// each documented method and path.
#[test]
fn each_spec_seed_generates_and_compiles() {
    let mut workspace = Workspace::new(workspace_root().join("target/seed-matrix"));
    let mut crates = Vec::new();
    for seed in &SPEC_SEEDS {
        let file = recovered(seed);
        let spec = matrix_codegen::load_spec_file(&file, Some(&release(seed.era)))
            .unwrap_or_else(|e| panic!("seed {} does not load: {e}", seed.prefix));
        let mut expected: Vec<_> = seed
            .operations
            .iter()
            .map(|(m, p, id)| (m.to_string(), p.to_string(), id.to_string()))
            .collect();
        expected.sort();
        assert_eq!(signatures(&spec.api), expected, "seed {}", seed.prefix);
        assert!(
            spec.api.operations.iter().all(|o| o.location.file == seed.file),
            "seed {}: operations come from the seed alone",
            seed.prefix
        );
        let member = format!("seed-{}", seed.prefix);
        let dir = workspace.add(&member, &format!("matrix-api-{member}"), &member, &spec.api);
        crates.push((seed, dir));
    }
    assert!(
        workspace.check(&["--workspace", "--features", "full,endpoints,server,client"]),
        "the seeds' generated crates do not compile (see {})",
        workspace.dir().display()
    );
    for (seed, dir) in crates {
        let metadata = endpoint_metadata(&dir.join("src"));
        for (method, path, id) in seed.operations {
            assert!(
                metadata.contains(&(id.to_string(), method.to_string(), path.to_string())),
                "seed {}: no endpoint `{method} {path}` ({id}) in {}: {metadata:?}",
                seed.prefix,
                dir.display()
            );
        }
    }
}

/// `(operation_id, method, path)` of every endpoint's `METADATA` constant
/// in a generated crate's sources.
fn endpoint_metadata(src: &Path) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let value = |line: &str, key: &str| {
                line.trim()
                    .strip_prefix(key)
                    .and_then(|v| v.strip_suffix("\","))
                    .and_then(|v| v.strip_prefix('"'))
                    .map(str::to_owned)
            };
            let lines: Vec<&str> = text.lines().collect();
            for w in lines.windows(3) {
                if let (Some(id), Some(method), Some(path)) = (
                    value(w[0], "operation_id: "),
                    value(w[1], "method: "),
                    value(w[2], "path: "),
                ) {
                    out.insert((id, method, path));
                }
            }
        }
    }
    out
}

/// The two forms of the 2015 invite are kept apart: the trailing-space key
/// and the plain one are two operations with two names.
#[test]
fn the_2015_seed_keeps_both_invite_forms() {
    let seed = &SPEC_SEEDS[2];
    let spec = matrix_codegen::load_spec_file(&recovered(seed), Some(&release(seed.era))).unwrap();
    let invites: Vec<_> = spec
        .api
        .operations
        .iter()
        .filter(|o| o.path.ends_with("/invite"))
        .collect();
    let keys: BTreeSet<&str> = invites.iter().map(|o| o.path_key.as_str()).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["/rooms/{roomId}/invite", "/rooms/{roomId}/invite "])
    );
    let names: BTreeSet<&str> = invites.iter().map(|o| o.type_name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // The third-party form takes `id_server`, `medium`, `address`.
    let bodies: Vec<String> = invites
        .iter()
        .map(|o| format!("{:?}", o.request.as_ref().map(|r| &r.content)))
        .collect();
    assert_ne!(bodies[0], bodies[1]);
}

/// Recovery is exact where the copy lost nothing but indentation: the blame
/// view of `v2_associations.yaml` comes back equal to v1.10's file (strings
/// compared with their whitespace collapsed, since a description's own
/// indentation cannot come back).
#[test]
fn a_recovered_seed_equals_the_file_it_was_copied_from() {
    let seed = &SPEC_SEEDS[3];
    let ours = read_yaml(&recovered(seed));
    let theirs = read_yaml(&release(seed.era).join(seed.file));
    assert_eq!(collapse(ours), collapse(theirs));
}

/// For the others, the operations and their parameters are those of the
/// release file the copy matches best.
#[test]
fn recovered_seeds_have_the_operations_of_their_release_file() {
    for seed in SPEC_SEEDS.iter().filter(|s| s.era.starts_with('v')) {
        let ours = matrix_codegen::load_spec_file(&recovered(seed), Some(&release(seed.era))).unwrap();
        let theirs = matrix_codegen::load_spec(&release(seed.era)).unwrap();
        let shape = |api: &matrix_codegen::ir::Api, file: &str| -> BTreeSet<String> {
            api.operations
                .iter()
                .filter(|o| o.location.file.ends_with(file.rsplit('/').next().unwrap()))
                .map(|o| {
                    let params: Vec<_> = o.params.iter().map(|p| (&p.name, p.place, p.required)).collect();
                    let statuses: Vec<_> = o.responses.iter().map(|r| &r.status).collect();
                    format!("{} {} {} {params:?} {statuses:?}", o.method, o.path, o.operation_id)
                })
                .collect()
        };
        assert_eq!(
            shape(&ours.api, seed.file),
            shape(&theirs.api, seed.file),
            "seed {}",
            seed.prefix
        );
    }
}

fn read_yaml(path: &Path) -> Value {
    matrix_codegen::load::yaml::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn collapse(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.split_whitespace().collect::<Vec<_>>().join(" ")),
        Value::Array(items) => Value::Array(items.into_iter().map(collapse).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, collapse(v))).collect()),
        other => other,
    }
}

/// `001_…` is a diff (matrix-doc commit 306f91edb3, 2015): it documents the
/// third-party form of `/rooms/{roomId}/invite` beside the Matrix-ID form,
/// which moves to a key with a trailing space. Its result is in the r0.0.0
/// archive, which generates with both forms apart (see `releases.rs`).
#[test]
fn the_diff_seed_s_result_is_in_the_r0_0_0_archive() {
    let diff = seed_text("001");
    let r0 = release("r0.0.0");
    let inviting = std::fs::read_to_string(r0.join("api/client-server/inviting.yaml")).unwrap();
    let third_party = std::fs::read_to_string(r0.join("api/client-server/third_party_membership.yaml")).unwrap();
    let trimmed = |text: &str| -> BTreeSet<String> { text.lines().map(|l| l.trim().to_owned()).collect() };
    let (inviting, third_party) = (trimmed(&inviting), trimmed(&third_party));
    for line in [
        "\"/rooms/{roomId}/invite \":",
        "*Note that there are two forms of this API, which are documented separately.",
        "This version of the API requires that the inviter knows the Matrix",
    ] {
        assert!(diff.lines().any(|l| l.trim() == line), "the diff has `{line}`");
        assert!(inviting.contains(line), "r0.0.0 inviting.yaml has `{line}`");
    }
    // By r0.0.0 the third-party form had its own file (its text grew since).
    let line = "This version of the API does not require that the inviter know the Matrix";
    assert!(diff.lines().any(|l| l.trim() == line), "the diff has `{line}`");
    assert!(
        third_party.contains(line),
        "r0.0.0 third_party_membership.yaml has `{line}`"
    );
    let spec = matrix_codegen::load_spec(&r0).unwrap();
    let forms: Vec<_> = spec
        .api
        .operations
        .iter()
        .filter(|o| o.method == "post" && o.path.ends_with("/rooms/{roomId}/invite"))
        .map(|o| o.type_name.clone())
        .collect();
    assert_eq!(forms.len(), 2, "{forms:?}");
}

/// Alone, a seed that refers to files it does not come with is a clear
/// error naming the missing file and where it is referred to, not a panic.
#[test]
fn a_seed_without_its_references_names_what_is_missing() {
    let seed = &SPEC_SEEDS[2];
    let err = matrix_codegen::load_spec_file(&recovered(seed), None)
        .err()
        .expect("definitions/error.yaml is not beside the recovered seed")
        .to_string();
    assert!(
        err.contains("api/client-server/membership.yaml#/paths/") && err.contains("definitions/error.yaml"),
        "{err}"
    );
}
