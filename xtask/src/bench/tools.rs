//! Running the programs benchmarks compare against, and building ours.

use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs a command to completion; fails with its output when it fails.
pub fn run(command: &mut Command, what: &str) -> Result<std::process::Output> {
    let output = command.output().with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Wall time of a command that must succeed.
pub fn timed(command: &mut Command, what: &str) -> Result<f64> {
    let t = Instant::now();
    run(command, what)?;
    Ok(t.elapsed().as_secs_f64())
}

/// The environments the tests use too (name, pip requirements separated by spaces).
const VENVS: &str = include_str!("../../../tests/python/venvs.txt");

/// The Python virtual environment `target/venv-<name>` listed in
/// tests/python/venvs.txt (the folders the tests use), created on first use.
pub fn venv(root: &Path, name: &str) -> Result<PathBuf> {
    let requirement = VENVS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.split_once(' ').filter(|(n, _)| *n == name).map(|(_, r)| r.trim()))
        .with_context(|| format!("no environment `{name}` in tests/python/venvs.txt"))?;
    let dir = root.join("target").join(format!("venv-{name}"));
    let marker = dir.join(".requirements");
    if std::fs::read_to_string(&marker).is_ok_and(|r| r == requirement) {
        return Ok(dir);
    }
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&dir),
        "python3 -m venv",
    )?;
    run(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(requirement.split_whitespace()),
        &format!("pip install {requirement}"),
    )?;
    std::fs::write(marker, requirement)?;
    Ok(dir)
}

/// Builds a binary of the `matrix-bench` crate; returns its path.
pub fn bench_binary(cx: &super::Context, bin: &str, features: &[&str]) -> Result<PathBuf> {
    let mut command = Command::new(env!("CARGO"));
    command.args(["build", "--quiet"]).current_dir(&cx.root);
    if cx.quick && features.is_empty() {
        // Every binary of the workspace, so that features unify as they do
        // for `cargo test --workspace` and its (large) build of the generated
        // crate is reused rather than redone for this package's features.
        command.args(["--workspace", "--bins"]);
    } else {
        command.args(["--package", "matrix-bench", "--bin", bin]);
    }
    command.args(["--profile", cx.profile()]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    built_executable(&mut command, bin, &format!("building the {bin} benchmark"))
}

/// Runs a `cargo build` and returns where cargo put the binary `bin`, as
/// cargo reports it: the target folder may be anywhere (`CARGO_TARGET_DIR`,
/// `build.target-dir`), never assumed to be `<repo>/target`.
fn built_executable(build: &mut Command, bin: &str, what: &str) -> Result<PathBuf> {
    build.arg("--message-format=json-render-diagnostics");
    let output = run(build, what)?;
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("{what}: cargo reported no executable `{bin}`"))
}

/// A short description of this machine for the report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {rustc}")
}

/// Builds our homeserver's binary in the benchmark's profile; its path.
pub fn homeserver_binary(cx: &super::Context) -> Result<PathBuf> {
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "--package",
            "server",
            "--bin",
            "server",
            "--profile",
            cx.profile(),
        ])
        .current_dir(&cx.root);
    built_executable(&mut build, "server", "building the homeserver")
}

/// The figures a load program of `matrix-bench` printed (one JSON object),
/// after checking that it lost no message.
pub struct LoadReport {
    what: String,
    report: Value,
}

/// Runs a load program and reads its report; losing a message is an error.
pub fn load_report(exe: &Path, args: &[&str], what: &str) -> Result<LoadReport> {
    let output = run(Command::new(exe).args(args), what)?;
    let report: Value = serde_json::from_slice(&output.stdout).with_context(|| format!("{what} printed no JSON"))?;
    let report = LoadReport {
        what: what.to_owned(),
        report,
    };
    let lost = report.number("lost")?;
    if lost > 0.0 {
        bail!(
            "{what} lost {lost} messages (never seen by the reader): {}",
            report.report
        );
    }
    Ok(report)
}

impl LoadReport {
    pub fn number(&self, key: &str) -> Result<f64> {
        self.report[key]
            .as_f64()
            .with_context(|| format!("{}: no {key} in {}", self.what, self.report))
    }
}
