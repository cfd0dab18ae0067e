//! `cargo xtask bundle` output is valid OpenAPI 3.1, checked by a real
//! validator (openapi-spec-validator from PyPI), for every release.

use matrix_api_tests::{python, spec_root};
use matrix_codegen::load::spec::releases;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The validator from a virtual environment under `target/`, installed on
/// first use so that `cargo test` works on a fresh machine.
fn validator() -> PathBuf {
    python::venv("openapi-spec-validator").join("bin/openapi-spec-validator")
}

#[test]
fn bundles_of_every_release_validate_as_openapi_3_1() {
    let exe = validator();
    let out = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for release in releases(&spec_root()).unwrap() {
        let store = matrix_codegen::load::docs::DocStore::load(&spec_root().join(&release)).unwrap();
        let docs = matrix_codegen::bundle::bundle(&store, &release).unwrap();
        assert_eq!(docs.len(), 5, "{release}: expected five families");
        for (family, doc) in docs {
            assert_eq!(doc["openapi"], "3.1.0");
            assert!(
                !doc.to_string().contains("\"$ref\""),
                "{release} {family:?}: unresolved $ref"
            );
            let path = out.path().join(format!("{release}-{}.json", family.dir()));
            std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
            files.push(path);
        }
    }
    // Two validator processes, one per half of the files: it is
    // single-threaded, and CI has two cores.
    let (first, second) = files.split_at(files.len() / 2);
    let spawn = |part: &[PathBuf]| {
        Command::new(&exe)
            .args(["--schema", "3.1"])
            .args(part)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(first), spawn(second)];
    let mut validated = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let not_ok: Vec<_> = stdout
            .lines()
            .filter(|l| l.starts_with('/') && !l.ends_with(": OK"))
            .collect();
        assert!(
            output.status.success() && not_ok.is_empty(),
            "validator rejected:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        validated += stdout.lines().filter(|l| l.ends_with(": OK")).count();
    }
    assert_eq!(validated, files.len());
}

#[test]
fn v1_19_bundle_keeps_every_operation() {
    let store = matrix_codegen::load::docs::DocStore::load(&spec_root().join("v1.19")).unwrap();
    let docs = matrix_codegen::bundle::bundle(&store, "v1.19").unwrap();
    let count: usize = docs
        .values()
        .map(|d| {
            d["paths"]
                .as_object()
                .unwrap()
                .values()
                .map(|item| item.as_object().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(count, 235);
}
