//! The Markdown table of a benchmark run.

use super::{tools, Context, Row};

fn figure(value: f64, unit: &str) -> String {
    match unit {
        "s" if value < 1.0 => format!("{:.0} ms", value * 1000.0),
        "s" => format!("{value:.2} s"),
        "lines" | "req/s" => format!("{value:.0} {unit}"),
        _ => format!("{value:.1} {unit}"),
    }
}

pub fn markdown(cx: &Context, rows: &[Row]) -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut out = format!(
        "# Benchmarks{}\n\n{date}, spec {}, {}.\nRatio = ours / baseline, both measured in this run; \
         the goal says which way is better.\n\n",
        if cx.quick {
            " (--quick: harness check, debug builds, not the project's figures)"
        } else {
            ""
        },
        cx.spec_label,
        tools::machine(),
    );
    out.push_str("| benchmark | measurement | ours | baseline | baseline is | ratio | goal | met | note |\n");
    out.push_str("|---|---|---:|---:|---|---:|---:|---|---|\n");
    for r in rows {
        let goal = r
            .goal
            .map(|g| format!("{} {g}", if r.higher_is_better { "≥" } else { "≤" }))
            .unwrap_or_default();
        let met = match r.goal_met() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} | {goal} | {met} | {} |\n",
            r.benchmark,
            r.measurement,
            figure(r.ours, r.unit),
            figure(r.baseline, r.unit),
            r.baseline_name,
            r.ratio(),
            r.note
        ));
    }
    out
}
