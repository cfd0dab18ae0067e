//! codegen: `cargo xtask codegen` (the release binary, warm) on the spec,
//! against openapi-generator (PyPI `openapi-generator-cli`, Java) generating
//! its `rust` client from the same client-server document; plus whether
//! each output builds. Also the generator in-process against parsing the
//! spec's YAML alone.

use super::{median, tools, Context, Row};
use anyhow::{Context as _, Result};
use matrix_codegen::emit::{self, write};
use std::process::Command;
use std::time::Instant;

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let mut rows = vec![in_process(cx)?];
    let out = cx.out.join("codegen");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;

    // Ours: the command itself, as a user runs it (first run warms the
    // cache), into a new folder each time as openapi-generator's below (a
    // rerun into an existing folder rewrites only what changed, which would
    // be less work than theirs).
    let exe = std::env::current_exe()?;
    let ours_dir = out.join("ours");
    let mut ours = Vec::new();
    for i in 0..=cx.iterations(5) {
        let _ = std::fs::remove_dir_all(&ours_dir);
        let t = tools::timed(
            Command::new(&exe)
                .args(["codegen", "--spec"])
                .arg(&cx.spec_dir)
                .arg("--out")
                .arg(&ours_dir)
                .current_dir(&cx.root),
            "cargo xtask codegen",
        )?;
        if i > 0 {
            ours.push(t);
        }
    }

    // openapi-generator on the client-server document of the same spec.
    let store = matrix_codegen::load::docs::DocStore::load(&cx.spec_dir)?;
    let docs = matrix_codegen::bundle::bundle(&store, &cx.spec_label)?;
    let document = out.join("client-server.json");
    std::fs::write(
        &document,
        serde_json::to_vec_pretty(&docs[&matrix_codegen::family::Family::ClientServer])?,
    )?;
    let venv = tools::venv(&cx.root, "openapi-generator")?;
    let theirs_dir = out.join("openapi-generator-rust");
    let mut theirs = Vec::new();
    for _ in 0..cx.iterations(3) {
        let _ = std::fs::remove_dir_all(&theirs_dir);
        theirs.push(tools::timed(
            Command::new(venv.join("bin/openapi-generator-cli"))
                .args(["generate", "-g", "rust", "--skip-validate-spec", "-i"])
                .arg(&document)
                .arg("-o")
                .arg(&theirs_dir),
            "openapi-generator generate -g rust",
        )?);
    }

    let note = if cx.quick {
        "builds: not checked in --quick".to_owned()
    } else {
        format!(
            "builds: ours yes (see compile); openapi-generator's {}",
            builds(&theirs_dir, &out.join("openapi-generator-target"))?
        )
    };
    rows.push(Row {
        benchmark: "codegen",
        measurement: format!("generate Rust from {} (wall time)", cx.spec_label),
        ours: median(ours),
        baseline_name: "openapi-generator `rust`, client-server only".into(),
        baseline: median(theirs),
        unit: "s",
        higher_is_better: false,
        goal: Some(0.1),
        note,
    });
    Ok(rows)
}

/// Whether a generated crate builds: "yes", or "no" with its error count.
fn builds(crate_dir: &std::path::Path, target: &std::path::Path) -> Result<String> {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--target-dir"])
        .arg(target)
        .current_dir(crate_dir)
        .output()
        .context("building openapi-generator's output")?;
    if output.status.success() {
        return Ok("yes".into());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with("error[") || l.starts_with("error:"))
        .count();
    Ok(format!("no ({errors} errors)"))
}

/// Full generation in-process (load, IR, emit, format, write) against a
/// baseline measured in the same run: reading and parsing the YAML alone.
fn in_process(cx: &Context) -> Result<Row> {
    let options = emit::Options::new(&cx.spec_label);
    let out = cx.out.join("codegen-in-process");
    let (mut load_only, mut full) = (Vec::new(), Vec::new());
    for _ in 0..cx.iterations(10) {
        let t = Instant::now();
        std::hint::black_box(matrix_codegen::load::docs::DocStore::load(&cx.spec_dir)?);
        load_only.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let spec = matrix_codegen::load_spec(&cx.spec_dir)?;
        let files = emit::generate(&spec.api, &options)?;
        write::write(&files, &out)?;
        full.push(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(Row {
        benchmark: "codegen",
        measurement: format!("load + IR + emit + format + write, in-process, {}", cx.spec_label),
        ours: median(full),
        baseline_name: "read + parse the spec's YAML".into(),
        baseline: median(load_only),
        unit: "s",
        higher_is_better: false,
        goal: None,
        note: "target: under 1 s".into(),
    })
}
