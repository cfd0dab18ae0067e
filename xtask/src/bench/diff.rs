//! diff: `cargo xtask diff` from scratch (loading included), the newest
//! release against the oldest v1.x and every consecutive pair from r0.0.0
//! (the archived releases, when they are beside the spec root) to the
//! newest; the baseline is parsing the YAML of the releases involved.

use super::{median, Context, Row};
use anyhow::{Context as _, Result};
use matrix_codegen::diff::{diff, Options};
use matrix_codegen::load::spec;
use std::time::Instant;

fn time(iterations: usize, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
    let mut runs = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        f()?;
        runs.push(t.elapsed().as_secs_f64());
    }
    Ok(median(runs))
}

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let root = &cx.spec_root;
    let names = spec::releases(root)?;
    let (first, last) = (
        names.first().context("no releases")?,
        names.last().context("no releases")?,
    );
    let n = cx.iterations(10);
    let parse = |list: &[&String]| -> Result<()> {
        for name in list {
            std::hint::black_box(matrix_codegen::load::docs::DocStore::load(&root.join(name))?);
        }
        Ok(())
    };
    let parse_two = time(n, &mut || parse(&[first, last]))?;
    let one = time(n, &mut || {
        let a = matrix_codegen::load_spec(&root.join(first))?.api;
        let b = matrix_codegen::load_spec(&root.join(last))?.api;
        std::hint::black_box(diff(&a, &b, first, last, Options::default()));
        Ok(())
    })?;
    let mut rows = vec![Row {
        benchmark: "diff",
        measurement: format!("diff {first} → {last}, loading included"),
        ours: one,
        baseline_name: format!("parse the YAML of {first} and {last}"),
        baseline: parse_two,
        unit: "s",
        higher_is_better: false,
        goal: None,
        note: "target: under 1 s".into(),
    }];
    if cx.quick {
        return Ok(rows);
    }
    // Every release since 2015: the archived ones, then v1.x.
    let mut timeline: Vec<(String, std::path::PathBuf)> = Vec::new();
    if let Some(archives) = matrix_codegen::load::archive::beside(root) {
        timeline.extend(matrix_codegen::load::archive::releases(
            &archives,
            &cx.root.join("target/spec-history"),
        )?);
    }
    timeline.extend(names.iter().map(|name| (name.clone(), root.join(name))));
    let parse_all = time(n, &mut || {
        for (_, dir) in &timeline {
            std::hint::black_box(matrix_codegen::load::docs::DocStore::load(dir)?);
        }
        Ok(())
    })?;
    let all = time(n, &mut || {
        let apis = timeline
            .iter()
            .map(|(_, dir)| Ok(matrix_codegen::load_spec(dir)?.api))
            .collect::<Result<Vec<_>>>()?;
        for (i, w) in apis.windows(2).enumerate() {
            std::hint::black_box(diff(
                &w[0],
                &w[1],
                &timeline[i].0,
                &timeline[i + 1].0,
                Options::default(),
            ));
        }
        Ok(())
    })?;
    let (oldest, newest) = (&timeline[0].0, &timeline[timeline.len() - 1].0);
    rows.push(Row {
        benchmark: "diff",
        measurement: format!(
            "diff all {} consecutive pairs {oldest} … {newest}, loading included",
            timeline.len() - 1
        ),
        ours: all,
        baseline_name: format!("parse the YAML of all {} releases", timeline.len()),
        baseline: parse_all,
        unit: "s",
        higher_is_better: false,
        goal: None,
        note: "target: under 5 s".into(),
    });
    Ok(rows)
}
