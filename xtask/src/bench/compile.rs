//! compile: a clean debug build of the generated crate with every family's
//! client and server features, against Ruma (crates.io) with the features
//! covering the same families, each a fresh project with a fresh target
//! folder and the same (default) profile; dependencies are fetched before
//! the clock starts. Also the size of the source each side compiles.

use super::{tools, Context, Row};
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const RUMA_VERSION: &str = "=0.17.2";
const RUMA_FEATURES: &[&str] = &[
    "client-api-c",
    "client-api-s",
    "federation-api-c",
    "federation-api-s",
    "identity-service-api-c",
    "identity-service-api-s",
    "appservice-api-c",
    "appservice-api-s",
    "push-gateway-api-c",
    "push-gateway-api-s",
];

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    if cx.quick {
        eprintln!("bench: compile skipped in --quick (two clean builds take minutes)");
        return Ok(Vec::new());
    }
    let dir = cx.out.join("compile");
    let generated = cx.root.join("generated");
    let ours = project(
        &dir.join("ours"),
        "matrix-api",
        ("path", &generated.display().to_string()),
        &["full", "server", "client"],
        "pub use matrix_api;\n",
    )?;
    let ruma = project(
        &dir.join("ruma"),
        "ruma",
        ("version", RUMA_VERSION),
        RUMA_FEATURES,
        "pub use ruma;\n",
    )?;
    let (ours_time, ours_own) = clean_build(&ours, "matrix-api")?;
    let (ruma_time, ruma_own) = clean_build(&ruma, "ruma")?;
    let ours_size = source_lines(&[generated.join("src")]);
    let ruma_size = source_lines(&ruma_sources(&ruma)?);
    Ok(vec![
        Row {
            benchmark: "compile",
            measurement: "clean debug build, every family, client + server".into(),
            ours: ours_time,
            baseline_name: format!(
                "Ruma {} ({})",
                RUMA_VERSION.trim_start_matches('='),
                RUMA_FEATURES.len()
            ),
            baseline: ruma_time,
            unit: "s",
            higher_is_better: false,
            goal: Some(0.6),
            note: "dependencies included, fetched beforehand; ours brings axum, reqwest and tower-http, Ruma's -c/-s features no HTTP stack".into(),
        },
        Row {
            benchmark: "compile",
            measurement: "the API crates alone: matrix-api + matrix-api-runtime vs ruma-* (seconds of their units in cargo --timings)".into(),
            ours: ours_own,
            baseline_name: "Ruma's ruma-* crates, macros and build scripts included".into(),
            baseline: ruma_own,
            unit: "s",
            higher_is_better: false,
            goal: None,
            note: "the same two builds; units overlap on two cores, so these add up to more than their share of wall time".into(),
        },
        Row {
            benchmark: "compile",
            measurement: "lines of Rust compiled for the API types and endpoints".into(),
            ours: ours_size as f64,
            baseline_name: "Ruma's ruma-* crates (hand-written, macros)".into(),
            baseline: ruma_size as f64,
            unit: "lines",
            higher_is_better: false,
            goal: None,
            note: "ours is generated; Ruma expands macros on top".into(),
        },
    ])
}

/// A standalone project with one dependency (`source`: path or version).
fn project(dir: &Path, name: &str, source: (&str, &str), features: &[&str], lib: &str) -> Result<PathBuf> {
    use toml::{Table, Value};
    std::fs::create_dir_all(dir.join("src"))?;
    let mut package = Table::new();
    package.insert("name".into(), Value::from("compile-bench"));
    package.insert("version".into(), Value::from("0.1.0"));
    package.insert("edition".into(), Value::from("2021"));
    package.insert("publish".into(), Value::from(false));
    let mut dependency = Table::new();
    dependency.insert(source.0.into(), Value::from(source.1));
    dependency.insert("features".into(), Value::from(features.to_vec()));
    let mut dependencies = Table::new();
    dependencies.insert(name.into(), Value::Table(dependency));
    let mut manifest = Table::new();
    manifest.insert("package".into(), Value::Table(package));
    manifest.insert("dependencies".into(), Value::Table(dependencies));
    // Its own workspace, not a member of ours.
    manifest.insert("workspace".into(), Value::Table(Table::new()));
    std::fs::write(dir.join("Cargo.toml"), toml::to_string(&manifest)?)?;
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    tools::run(Command::new(env!("CARGO")).arg("fetch").current_dir(dir), "cargo fetch")?;
    Ok(dir.to_owned())
}

/// Wall time of a clean build, and the seconds cargo's `--timings` report
/// gives the units whose package name starts with `own`.
fn clean_build(dir: &Path, own: &str) -> Result<(f64, f64)> {
    let target = dir.join("target");
    let _ = std::fs::remove_dir_all(&target);
    let wall = tools::timed(
        Command::new(env!("CARGO"))
            .args(["build", "--offline", "--quiet", "--timings", "--target-dir"])
            .arg(&target)
            .current_dir(dir),
        &format!("building {}", dir.display()),
    )?;
    let report = target.join("cargo-timings/cargo-timing.html");
    let html = std::fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?;
    Ok((wall, own_unit_seconds(&html, own)?))
}

/// Sums the `duration` of the units named `prefix…` in the `UNIT_DATA`
/// array that cargo's timing report embeds.
fn own_unit_seconds(html: &str, prefix: &str) -> Result<f64> {
    let start = html
        .find("const UNIT_DATA = ")
        .context("no UNIT_DATA in cargo's timing report")?;
    let rest = &html[start + "const UNIT_DATA = ".len()..];
    let units: Vec<serde_json::Value> = serde_json::Deserializer::from_str(rest)
        .into_iter()
        .next()
        .context("empty UNIT_DATA")?
        .context("reading UNIT_DATA")?;
    Ok(units
        .iter()
        .filter(|u| u["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .filter_map(|u| u["duration"].as_f64())
        .sum())
}

/// The source folders of the `ruma*` packages the project resolved.
fn ruma_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let output = tools::run(
        Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--offline"])
            .current_dir(dir),
        "cargo metadata",
    )?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    Ok(metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with("ruma")))
        .filter_map(|p| p["manifest_path"].as_str())
        .filter_map(|m| Path::new(m).parent().map(|d| d.join("src")))
        .collect())
}

fn source_lines(dirs: &[PathBuf]) -> usize {
    fn walk(dir: &Path, total: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, total);
            } else if path.extension().is_some_and(|e| e == "rs") {
                *total += std::fs::read_to_string(&path).map_or(0, |s| s.lines().count());
            }
        }
    }
    let mut total = 0;
    for d in dirs {
        walk(d, &mut total);
    }
    total
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_own_units_from_a_timing_report() {
        let html = r#"<script>
const UNIT_DATA = [
  {"i": 0, "name": "ruma-common", "duration": 10.5},
  {"i": 1, "name": "serde", "duration": 3.0},
  {"i": 2, "name": "ruma", "duration": 0.5}
];
const CONCURRENCY_DATA = [];</script>"#;
        assert_eq!(super::own_unit_seconds(html, "ruma").unwrap(), 11.0);
        assert!(super::own_unit_seconds("<html></html>", "ruma").is_err());
    }
}
