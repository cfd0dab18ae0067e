//! The generated crate is clean under `clippy -D warnings` and
//! `cargo doc -D warnings` with all features and with each family alone.
//! Runs nested cargo in the workspace's own target folder, so dependencies
//! already built (by `.ci/run`'s clippy step, or the test build) are reused.

use matrix_api_tests::workspace_root;
use std::process::Command;

fn cargo(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .env("RUSTDOCFLAGS", "-D warnings")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// All features, then each family alone (with its server and client halves).
const FEATURE_SETS: &[&str] = &[
    "full,registry,server,client",
    "client-server,server,client",
    "server-server,server,client",
    "identity,server,client",
    "application-service,server,client",
    "push-gateway,server,client,registry",
    "events",
    "common",
    // A family alone, without endpoints: only what its types name of the others.
    "identity",
    "server-server",
];

#[test]
fn clippy_is_clean_for_every_feature_set() {
    for features in FEATURE_SETS {
        let (ok, stderr) = cargo(&[
            "clippy",
            "--quiet",
            "-p",
            "matrix-api",
            "--no-default-features",
            "--features",
            features,
            "--",
            "-D",
            "warnings",
        ]);
        assert!(ok, "clippy --features {features}:\n{stderr}");
    }
}

#[test]
fn docs_build_without_warnings_for_every_feature_set() {
    for features in FEATURE_SETS {
        let (ok, stderr) = cargo(&[
            "doc",
            "--quiet",
            "--no-deps",
            "-p",
            "matrix-api",
            "--no-default-features",
            "--features",
            features,
        ]);
        assert!(ok, "cargo doc --features {features}:\n{stderr}");
    }
}

/// Features narrow: a family's feature compiles, of the other families'
/// modules, only the files holding what its own types and operations name.
#[test]
fn a_family_feature_compiles_only_what_it_uses_of_the_others() {
    use matrix_codegen::emit::gates::Gates;
    use matrix_codegen::family::{Family, Module};
    let spec = matrix_codegen::load_spec(&matrix_api_tests::release_dir("v1.19")).unwrap();
    let modules: Vec<Module> = Module::all().collect();
    let gates = Gates::compute(&spec.api, &modules);
    let client_server = Module::Family(Family::ClientServer);
    let files = |feature: Module, module: Module| gates.files_for(feature, module);
    // The identity service names an OpenID token and the standard error.
    assert_eq!(
        files(Module::Family(Family::Identity), client_server),
        ["definitions_errors_error", "definitions_openid_token"]
    );
    // Events: the account data contents name push rules, tags and recent emoji.
    assert_eq!(
        files(Module::Events, client_server),
        [
            "definitions_push_condition",
            "definitions_push_rule",
            "definitions_push_ruleset",
            "definitions_recent_emoji",
            "definitions_tag"
        ]
    );
    // The client-server API: the third-party lookup answers of application services.
    assert_eq!(
        files(client_server, Module::Family(Family::ApplicationService)),
        [
            "definitions_location",
            "definitions_location_batch",
            "definitions_protocol_base",
            "definitions_user",
            "definitions_user_batch"
        ]
    );
    // A family's own module is compiled whole, and the events module is one unit.
    let all_client_server = files(client_server, client_server);
    assert!(all_client_server.len() > 60 && all_client_server.contains(&"sync"));
    assert_eq!(files(Module::Family(Family::ServerServer), Module::Events), [""]);
    assert!(files(Module::Family(Family::Identity), Module::Events).is_empty());
}
