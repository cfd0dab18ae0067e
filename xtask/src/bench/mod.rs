//! `cargo xtask bench [codegen|compile|decode|server|send|diff|all] [--quick]`:
//! this project measured beside the tools users would otherwise pick, in the
//! same run on the same machine. Every figure comes with its baseline from
//! that run and the ratio between them; the table goes to the terminal and
//! to `target/bench/report.md`, the ratios to `target/bench/ratios.svg`.
//!
//! `--quick` is a reduced run for checking the harness (debug builds, fewer
//! iterations, smaller inputs, no Ruma build): its figures are not the
//! project's numbers.

mod chart;
mod codegen;
mod compile;
mod decode;
mod diff;
mod federate;
mod report;
mod send;
mod server;
mod tools;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// One measured figure beside its baseline.
#[derive(Clone, Debug)]
pub struct Row {
    pub benchmark: &'static str,
    pub measurement: String,
    pub ours: f64,
    pub baseline_name: String,
    pub baseline: f64,
    pub unit: &'static str,
    /// For throughput-like figures; otherwise lower is better.
    pub higher_is_better: bool,
    /// The ratio (ours / baseline) to reach: at most this when lower is
    /// better, at least this when higher is.
    pub goal: Option<f64>,
    pub note: String,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        if self.baseline == 0.0 {
            f64::NAN
        } else {
            self.ours / self.baseline
        }
    }

    pub fn goal_met(&self) -> Option<bool> {
        let r = self.ratio();
        self.goal.map(|g| if self.higher_is_better { r >= g } else { r <= g })
    }
}

/// What a benchmark run needs to know.
pub struct Context {
    pub root: PathBuf,
    pub spec_dir: PathBuf,
    pub spec_label: String,
    pub spec_root: PathBuf,
    pub quick: bool,
    /// `target/bench`.
    pub out: PathBuf,
}

impl Context {
    pub fn iterations(&self, full: usize) -> usize {
        if self.quick {
            full.clamp(1, 3)
        } else {
            full
        }
    }

    /// The cargo profile benchmark programs are built with.
    pub fn profile(&self) -> &'static str {
        if self.quick {
            "dev"
        } else {
            "release"
        }
    }
}

pub const KINDS: &[&str] = &["codegen", "compile", "decode", "server", "send", "federate", "diff"];

pub fn run(
    root: &Path,
    spec_dir: PathBuf,
    spec_label: String,
    spec_root: PathBuf,
    what: &str,
    quick: bool,
) -> Result<()> {
    let kinds: Vec<&str> = match what {
        "all" => KINDS.to_vec(),
        k if KINDS.contains(&k) => vec![k],
        other => bail!("unknown benchmark `{other}` (available: {}, all)", KINDS.join(", ")),
    };
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let cx = Context {
        root: root.to_owned(),
        spec_dir,
        spec_label,
        spec_root,
        quick,
        out,
    };
    let mut rows = Vec::new();
    for kind in kinds {
        eprintln!("bench: {kind}{}", if quick { " (quick)" } else { "" });
        let result = match kind {
            "codegen" => codegen::run(&cx),
            "compile" => compile::run(&cx),
            "decode" => decode::run(&cx),
            "server" => server::run(&cx),
            "send" => send::run(&cx),
            "federate" => federate::run(&cx),
            _ => diff::run(&cx),
        };
        rows.extend(result?);
    }
    let table = report::markdown(&cx, &rows);
    println!("{table}");
    std::fs::write(cx.out.join("report.md"), &table)?;
    chart::write(&cx.out.join("ratios.svg"), &rows)?;
    eprintln!(
        "wrote {} and {}",
        cx.out.join("report.md").display(),
        cx.out.join("ratios.svg").display()
    );
    Ok(())
}

/// The median of some timings.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
