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
