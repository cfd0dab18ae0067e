//! compile: clean debug builds of programs that use the generated crate,
//! against the same programs on Ruma (crates.io), each a fresh project with
//! a fresh target folder and the same (default) profile; dependencies are
//! fetched before the clock starts.
//!
//! Each program is a binary making one request value and printing it, so
//! the build links what a user's program links. Ruma's API crates stop at
//! `http` types, so its programs also depend on the HTTP stack a Ruma user
//! adds to get what the generated crate brings (axum, tower-http, tokio for
//! a server; reqwest for a client; the same versions and features as ours),
//! and both sides compile the same kind of program:
//! - every family, client and server;
//! - a typical client: the client-server API with its HTTP client;
//! - a typical server: the client-server API with its router;
//! - a rebuild of the typical client after its own `main.rs` changed, what
//!   a developer waits for all day.
//!
//! Also the size of the source each side compiles.

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

/// The HTTP client of the generated crate (`matrix-api-runtime`'s).
const REQWEST: (&str, &str) = (
    "reqwest",
    r#"{ version = "0.13", default-features = false, features = ["http2"] }"#,
);
/// The server stack of the generated crate.
const SERVER_STACK: &[(&str, &str)] = &[
    (
        "axum",
        r#"{ version = "0.8", default-features = false, features = ["http1", "tokio", "query"] }"#,
    ),
    ("tower-http", r#"{ version = "0.7", features = ["cors"] }"#),
    ("tokio", r#"{ version = "1", features = ["net", "rt", "time"] }"#),
];

/// What a program of the comparison depends on, on each side.
struct Program {
    name: &'static str,
    what: &'static str,
    ours_features: &'static [&'static str],
    ruma_features: &'static [&'static str],
    ruma_stack: Vec<(&'static str, &'static str)>,
    goal: f64,
}

fn programs() -> Vec<Program> {
    let mut everything = vec![REQWEST];
    everything.extend_from_slice(SERVER_STACK);
    vec![
        Program {
            name: "all",
            what: "every family, client + server",
            ours_features: &["full", "server", "client"],
            ruma_features: RUMA_FEATURES,
            ruma_stack: everything,
            goal: 0.6,
        },
        Program {
            name: "client",
            what: "a typical client: client-server API + HTTP client",
            ours_features: &["client-server", "client"],
            ruma_features: &["client-api-c"],
            ruma_stack: vec![REQWEST],
            goal: 0.5,
        },
        Program {
            name: "server",
            what: "a typical server: client-server API + router",
            ours_features: &["client-server", "server"],
            ruma_features: &["client-api-s"],
            ruma_stack: SERVER_STACK.to_vec(),
            goal: 0.6,
        },
    ]
}

/// The user's program: one request value, made and printed.
const OURS_MAIN: &str = "fn main() {
    let request = matrix_api::client_server::endpoints::get_capabilities::Request::new();
    println!(\"{request:?}\");
}
";
const RUMA_MAIN: &str = "fn main() {
    let request = ruma::api::client::discovery::get_capabilities::v3::Request::new();
    println!(\"{request:?}\");
}
";

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    if cx.quick {
        eprintln!("bench: compile skipped in --quick (clean builds take minutes)");
        return Ok(Vec::new());
    }
    let dir = cx.out.join("compile");
    let generated = cx.root.join("generated");
    let ours_dependency = format!(
        "{{ path = {:?}, features = FEATURES }}",
        generated.display().to_string()
    );
    let ruma_dependency = format!("{{ version = {RUMA_VERSION:?}, features = FEATURES }}");
    let mut rows = Vec::new();
    let ruma_name = format!("Ruma {}", RUMA_VERSION.trim_start_matches('='));
    for program in programs() {
        let ours = project(
            &dir.join(format!("ours-{}", program.name)),
            &[(
                "matrix-api",
                &ours_dependency.replace("FEATURES", &toml_list(program.ours_features)),
            )],
            OURS_MAIN,
        )?;
        let ruma_main_dependency = ruma_dependency.replace("FEATURES", &toml_list(program.ruma_features));
        let mut ruma_dependencies = vec![("ruma", ruma_main_dependency.as_str())];
        ruma_dependencies.extend(program.ruma_stack.iter().copied());
        let ruma = project(
            &dir.join(format!("ruma-{}", program.name)),
            &ruma_dependencies,
            RUMA_MAIN,
        )?;
        // In turns, so that a slow phase of the machine hits both alike.
        let (ours_time, ours_own) = clean_build(&ours, "matrix-api")?;
        let (ruma_time, ruma_own) = clean_build(&ruma, "ruma")?;
        let stack: Vec<&str> = program.ruma_stack.iter().map(|(name, _)| *name).collect();
        rows.push(Row {
            benchmark: "compile",
            measurement: format!("clean debug build: {}", program.what),
            ours: ours_time,
            baseline_name: format!(
                "{ruma_name} ({}) + {}",
                program.ruma_features.join(", "),
                stack.join(", ")
            ),
            baseline: ruma_time,
            unit: "s",
            higher_is_better: false,
            goal: Some(program.goal),
            note: "a binary making and printing one request; dependencies fetched beforehand".into(),
        });
        rows.push(Row {
            benchmark: "compile",
            measurement: format!(
                "… {}: the API crates' own units (matrix-api + runtime vs ruma-*, seconds in cargo --timings)",
                program.name
            ),
            ours: ours_own,
            baseline_name: "Ruma's ruma-* crates, macros and build scripts included".into(),
            baseline: ruma_own,
            unit: "s",
            higher_is_better: false,
            goal: None,
            note: "units overlap on two cores, so these add up to more than their share of wall time".into(),
        });
        if program.name == "client" {
            let ours_again = rebuild_after_edit(&ours)?;
            let ruma_again = rebuild_after_edit(&ruma)?;
            rows.push(Row {
                benchmark: "compile",
                measurement: "incremental rebuild of the typical client after its own main.rs changed".into(),
                ours: ours_again,
                baseline_name: format!("the same on {ruma_name} + reqwest"),
                baseline: ruma_again,
                unit: "s",
                higher_is_better: false,
                goal: Some(0.8),
                note: "median of 3: compile main.rs and link the program".into(),
            });
        }
        if program.name == "all" {
            let ours_size = source_lines(&[generated.join("src")]);
            let ruma_size = source_lines(&ruma_sources(&ruma)?);
            rows.push(Row {
                benchmark: "compile",
                measurement: "lines of Rust compiled for the API types and endpoints".into(),
                ours: ours_size as f64,
                baseline_name: "Ruma's ruma-* crates (hand-written, macros)".into(),
                baseline: ruma_size as f64,
                unit: "lines",
                higher_is_better: false,
                goal: None,
                note: "ours is generated; Ruma expands macros on top".into(),
            });
        }
    }
    Ok(rows)
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A standalone binary project with these dependencies (name, TOML value).
fn project(dir: &Path, dependencies: &[(&str, &str)], main: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir.join("src"))?;
    let mut manifest = String::from(
        "[package]\nname = \"compile-bench\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n",
    );
    for (name, value) in dependencies {
        manifest.push_str(&format!("{name} = {value}\n"));
    }
    // Its own workspace, not a member of ours.
    manifest.push_str("\n[workspace]\n");
    // Checked as TOML before cargo sees it.
    manifest.parse::<toml::Table>().context("the benchmark's manifest")?;
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src/main.rs"), main)?;
    tools::run(Command::new(env!("CARGO")).arg("fetch").current_dir(dir), "cargo fetch")?;
    Ok(dir.to_owned())
}

/// The median wall time of three rebuilds, each after `main.rs` changed
/// (a line added), as a developer's edit does.
fn rebuild_after_edit(dir: &Path) -> Result<f64> {
    let main = dir.join("src/main.rs");
    let original = std::fs::read_to_string(&main)?;
    let mut times = Vec::new();
    for i in 0..3 {
        std::fs::write(&main, format!("{original}// edit {i}\n"))?;
        times.push(tools::timed(
            Command::new(env!("CARGO"))
                .args(["build", "--offline", "--quiet", "--target-dir"])
                .arg(dir.join("target"))
                .current_dir(dir),
            &format!("rebuilding {}", dir.display()),
        )?);
    }
    std::fs::write(&main, original)?;
    Ok(super::median(times))
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
