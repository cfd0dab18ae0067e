//! decode: one large `/sync` response (many rooms, timelines of mixed event
//! types, from the spec's examples) decoded into the generated types and
//! into Ruma's sync response, and encoded back; `serde_json::Value` as a
//! floor. Throughput in MB/s.

use super::{tools, Context, Row};
use anyhow::{Context as _, Result};
use serde_json::Value;
use std::process::Command;

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let features: &[&str] = if cx.quick { &[] } else { &["ruma"] };
    let exe = tools::bench_binary(cx, "decode", features)?;
    let output = tools::run(
        Command::new(exe).arg(&cx.spec_dir).arg(cx.iterations(20).to_string()),
        "the decode benchmark",
    )?;
    let r: Value = serde_json::from_slice(&output.stdout).context("reading the decode benchmark's result")?;
    let bytes = r["bytes"].as_f64().unwrap_or(0.0);
    let mbps = |key: &str| r[key].as_f64().map(|s| bytes / s / 1e6);
    let mut rows = Vec::new();
    let size = format!("{:.1} MB /sync body", bytes / 1e6);
    for (direction, ours, ruma, value) in [
        ("decode", "ours_decode", "ruma_decode", "value_decode"),
        ("encode", "ours_encode", "ruma_encode", "value_encode"),
    ] {
        let ours = mbps(ours).context("no figure for ours")?;
        let (baseline_name, baseline, goal) = match mbps(ruma) {
            Some(ruma) => ("Ruma sync_events::v3::Response".to_owned(), ruma, Some(1.0)),
            None => (
                "serde_json::Value (Ruma not built in --quick)".to_owned(),
                mbps(value).context("no baseline figure")?,
                None,
            ),
        };
        rows.push(Row {
            benchmark: "decode",
            measurement: format!("{direction} {size}"),
            ours,
            baseline_name,
            baseline,
            unit: "MB/s",
            higher_is_better: true,
            goal,
            note: format!(
                "serde_json::Value does it at {:.0} MB/s",
                mbps(value).unwrap_or(f64::NAN)
            ),
        });
    }
    if let Some(deep) = mbps("ruma_decode_deep") {
        rows.push(Row {
            benchmark: "decode",
            measurement: format!("decode {size}, every event read"),
            ours: mbps("ours_decode_deep").context("no deep figure for ours")?,
            baseline_name: "Ruma, then each Raw timeline/state event deserialized".into(),
            baseline: deep,
            unit: "MB/s",
            higher_is_better: true,
            goal: Some(2.0),
            note: "both keep events as Raw and then decode every timeline and state event into its kind's enum".into(),
        });
    }
    Ok(rows)
}
