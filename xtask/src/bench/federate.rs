//! federate: messages sent on one server into a room with a member on a
//! Synapse, timed until every one is visible there; our server as the
//! sender against a second Synapse as the sender, in the same run, with the
//! same receiving setup. The load is the `federate` program of
//! `matrix-bench`, which starts the servers and reports JSON.

use super::{tools, Context, Row};
use anyhow::Result;

/// What one run reported.
struct Flow {
    messages: f64,
    visible_seconds: f64,
    cpu_seconds: f64,
}

fn run_flow(exe: &std::path::Path, args: &[&str], what: &str) -> Result<Flow> {
    let report = tools::load_report(exe, args, what)?;
    Ok(Flow {
        messages: report.number("messages")?,
        visible_seconds: report.number("visible_seconds")?,
        cpu_seconds: report.number("cpu_seconds")?,
    })
}

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let messages = if cx.quick { 50 } else { 500 };
    let exe = tools::bench_binary(cx, "federate", &[])?;
    let server = tools::homeserver_binary(cx)?;
    tools::venv(&cx.root, "synapse")?;
    let n = messages.to_string();
    let ours = run_flow(
        &exe,
        &["ours", &server.display().to_string(), &n],
        "federation from our server to Synapse",
    )?;
    let synapse = run_flow(&exe, &["synapse", &n], "federation from Synapse to Synapse")?;
    let shape = format!("{messages} messages from 10 clients into a room with a member on Synapse");
    let baseline_name = "Synapse sending to Synapse, same flow".to_owned();
    Ok(vec![
        Row {
            benchmark: "federate",
            measurement: format!("{shape}: seconds until all are visible on the receiving Synapse"),
            ours: ours.visible_seconds,
            baseline_name: baseline_name.clone(),
            baseline: synapse.visible_seconds,
            unit: "s",
            higher_is_better: false,
            goal: None,
            note:
                "read back by paging /messages, which makes Synapse backfill what it dropped from a long inbound queue"
                    .into(),
        },
        Row {
            benchmark: "federate",
            measurement: format!("{shape}: sending server's CPU per message"),
            ours: ours.cpu_seconds * 1000.0 / ours.messages,
            baseline_name,
            baseline: synapse.cpu_seconds * 1000.0 / synapse.messages,
            unit: "ms",
            higher_is_better: false,
            goal: None,
            note: "from /proc, from the first send until all were visible".into(),
        },
    ])
}
