//! Every release in the spec root (v1.1 … v1.19) loads with zero errors and
//! generates a crate that compiles; operation counts match the spec files.

use matrix_api_tests::{release_dir, spec_root, workspace_root};
use matrix_codegen::emit;
use matrix_codegen::family::Family;
use matrix_codegen::load::spec::releases;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Counts (family → operations) straight from the YAML files, without the
/// generator's loader: every method key under `paths` of every top-level
/// file in `api/<family>/`.
fn operations_in_files(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for family in Family::ALL {
        let fdir = dir.join("api").join(family.dir());
        let mut n = 0;
        for entry in std::fs::read_dir(&fdir).unwrap() {
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

/// All releases: load, count, generate; then one `cargo check` over a
/// workspace holding all 19 generated crates, so dependencies build once.
#[test]
fn every_release_loads_and_its_generated_crate_compiles() {
    let root = spec_root();
    let names = releases(&root).unwrap();
    assert!(
        names.len() >= 19,
        "expected v1.1 … v1.19 under {}, found {names:?}",
        root.display()
    );
    let out = workspace_root().join("target/release-matrix");
    std::fs::create_dir_all(&out).unwrap();
    let runtime = workspace_root().join("runtime");
    let mut members = Vec::new();
    for name in &names {
        let dir = root.join(name);
        let spec = matrix_codegen::load_spec(&dir).unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        assert_eq!(
            ir_counts(&spec.api),
            operations_in_files(&dir),
            "{name}: operation counts differ from the files"
        );
        let mut options = emit::Options::new(name);
        options.crate_name = format!("matrix-api-{}", name.replace('.', "-"));
        options.runtime_dependency = format!("{{ path = {:?} }}", runtime.display().to_string());
        let files = emit::generate(&spec.api, &options).unwrap();
        let crate_dir = out.join(name);
        emit::write::write(&files, &crate_dir).unwrap();
        members.push(format!("{name:?}"));
    }
    std::fs::write(
        out.join("Cargo.toml"),
        format!("[workspace]\nresolver = \"2\"\nmembers = [{}]\n", members.join(", ")),
    )
    .unwrap();
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock")).unwrap();
    let check = |args: &[&str]| {
        Command::new(env!("CARGO"))
            .arg("check")
            .args(args)
            .arg("--quiet")
            .current_dir(&out)
            .env("CARGO_TARGET_DIR", out.join("target"))
            // 19 crates' worth of incremental state would take gigabytes of disk.
            .env("CARGO_INCREMENTAL", "0")
            .status()
            .unwrap()
            .success()
    };
    // Every release's models; the per-operation code of a sample (the first and
    // last Swagger 2.0 release, the first OpenAPI 3.1 one, the newest), to keep CI time sane.
    assert!(
        check(&["--workspace", "--features", "full"]),
        "generated models do not compile (see {})",
        out.display()
    );
    let sample: Vec<String> = ["v1.1", "v1.7", "v1.8", "v1.19"]
        .iter()
        .filter(|r| names.contains(&r.to_string()))
        .flat_map(|r| ["-p".to_owned(), format!("matrix-api-{}", r.replace('.', "-"))])
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
