//! A fixture spec full of names that break generators (keywords, dots,
//! colons, leading digits, a `$` file name, one title for two shapes, an
//! operationId repeated across families, a trailing-space path key, numeric
//! YAML keys): generate it, then build and test the result with its own
//! test (`tests/fixtures/cursed/fixture_test.rs`) under `-D warnings`.

use matrix_api_tests::workspace_root;
use matrix_codegen::emit;
use std::process::Command;

#[test]
fn cursed_fixture_generates_names_that_compile_and_round_trip() {
    let fixture = workspace_root().join("tests/fixtures/cursed");
    let spec = matrix_codegen::load_spec(&fixture).unwrap();
    assert_eq!(spec.api.operations.len(), 3);
    assert!(spec.api.unhandled.is_empty(), "{:?}", spec.api.unhandled);
    let paths: Vec<_> = spec.api.operations.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/_matrix/client/v3/things", "/_matrix/client/v3/things", "/things"]
    );

    let mut options = emit::Options::new("cursed fixture");
    options.crate_name = "cursed".into();
    options.runtime_dependency = format!(
        "{{ path = {:?} }}",
        workspace_root().join("runtime").display().to_string()
    );
    let mut files = emit::generate(&spec.api, &options).unwrap();
    let cargo_toml = files.get_mut(std::path::Path::new("Cargo.toml")).unwrap();
    // The fixture's own test needs serde_json; the crate is its own workspace.
    *cargo_toml = cargo_toml.replace("[dev-dependencies]\n", "[dev-dependencies]\nserde_json = \"1\"\n");
    cargo_toml.push_str("\n[workspace]\n");
    files.insert(
        "tests/fixture_test.rs".into(),
        std::fs::read_to_string(fixture.join("fixture_test.rs")).unwrap(),
    );

    let out = workspace_root().join("target/cursed-fixture");
    emit::write::write(&files, &out).unwrap();
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock")).unwrap();
    let status = Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--features", "full"])
        .current_dir(&out)
        .env("CARGO_TARGET_DIR", out.join("target"))
        .env("CARGO_INCREMENTAL", "0")
        .env("RUSTFLAGS", "-D warnings")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the cursed fixture's crate failed to build or test (see {})",
        out.display()
    );
}
