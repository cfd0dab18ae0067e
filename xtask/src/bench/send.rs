//! send: many clients sending into one room at once, every message then
//! read back from every member's `/sync`, against our homeserver and
//! against Synapse (PyPI, as the interop test runs it: SQLite, rate limits
//! raised; ours with limits off), in the same run; then ours again on
//! PostgreSQL (the tests' own server, `matrix_api_tests::postgres`), with
//! one process and with two sharing the database, the clients split
//! between them. The load itself is the `send` program of `matrix-bench`,
//! which starts each server and reports what it measured as JSON.

use super::{tools, Context, Row};
use anyhow::Result;

/// What one run of the load reported.
struct Load {
    messages: f64,
    send_seconds: f64,
    read_seconds: f64,
    cpu_seconds: f64,
    p99_ms: f64,
}

fn run_load(exe: &std::path::Path, args: &[&str], what: &str) -> Result<Load> {
    let report = tools::load_report(exe, args, what)?;
    Ok(Load {
        messages: report.number("messages")?,
        send_seconds: report.number("send_seconds")?,
        read_seconds: report.number("read_seconds")?,
        cpu_seconds: report.number("cpu_seconds")?,
        p99_ms: report.number("p99_ms")?,
    })
}

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let (clients, messages) = if cx.quick { (4, 5) } else { (20, 25) };
    let exe = tools::bench_binary(cx, "send", &[])?;
    let server = tools::homeserver_binary(cx)?;
    tools::venv(&cx.root, "synapse")?;
    let (c, m) = (clients.to_string(), messages.to_string());
    let ours = run_load(
        &exe,
        &["ours", &server.display().to_string(), &c, &m],
        "the send load on our server",
    )?;
    let synapse = run_load(&exe, &["synapse", &c, &m], "the send load on Synapse")?;
    let server_path = server.display().to_string();
    let postgres =
        |processes: &str, what: &str| run_load(&exe, &["ours-postgres", &server_path, processes, &c, &m], what);
    let on_postgres = postgres("1", "the send load on our server on PostgreSQL")?;
    let on_postgres_twice = postgres("2", "the send load on two of our processes on PostgreSQL")?;
    let shape = format!("{clients} clients × {messages} messages into one room, 0 lost");
    let rate = |l: &Load| l.messages / l.send_seconds;
    let per_message = |l: &Load| l.cpu_seconds * 1000.0 / l.messages;
    let read_back = |l: &Load| l.read_seconds;
    let p99 = |l: &Load| l.p99_ms;
    let rate_row = |measurement: String, ours: &Load, baseline_name: &str, baseline: &Load, note: &str| Row {
        benchmark: "send",
        measurement,
        ours: rate(ours),
        baseline_name: baseline_name.into(),
        baseline: rate(baseline),
        unit: "msg/s",
        higher_is_better: true,
        goal: None,
        note: note.into(),
    };
    let latency_row = |measurement: String, ours: &Load, baseline_name: &str, baseline: &Load| Row {
        benchmark: "send",
        measurement,
        ours: p99(ours),
        baseline_name: baseline_name.into(),
        baseline: p99(baseline),
        unit: "ms",
        higher_is_better: false,
        goal: None,
        note: "99th percentile of one PUT /send, from request to answer".into(),
    };
    let sqlite = "ours on SQLite, same load";
    let one_process = "ours on PostgreSQL, one process, same load";
    Ok(vec![
        Row {
            benchmark: "send",
            measurement: format!("{shape}: messages/s sent"),
            ours: rate(&ours),
            baseline_name: "Synapse (SQLite), same load".into(),
            baseline: rate(&synapse),
            unit: "msg/s",
            higher_is_better: true,
            goal: Some(10.0),
            note: "each message a PUT /send acknowledged after it is stored".into(),
        },
        Row {
            benchmark: "send",
            measurement: format!("{shape}: server CPU per message (user + system, sending and reading back)"),
            ours: per_message(&ours),
            baseline_name: "Synapse (SQLite), same load".into(),
            baseline: per_message(&synapse),
            unit: "ms",
            higher_is_better: false,
            goal: None,
            note: "from /proc".into(),
        },
        Row {
            benchmark: "send",
            measurement: format!("{shape}: every member reads all messages back through /sync"),
            ours: read_back(&ours),
            baseline_name: "Synapse (SQLite), same load".into(),
            baseline: read_back(&synapse),
            unit: "s",
            higher_is_better: false,
            goal: None,
            note: String::new(),
        },
        latency_row(
            format!("{shape}: send latency, p99"),
            &ours,
            "Synapse (SQLite), same load",
            &synapse,
        ),
        rate_row(
            format!("{shape}, on PostgreSQL: messages/s sent"),
            &on_postgres,
            sqlite,
            &ours,
            "PostgreSQL 15 on loopback, flushing to disk; answers wait for a flush shared as on SQLite",
        ),
        latency_row(
            format!("{shape}, on PostgreSQL: send latency, p99"),
            &on_postgres,
            sqlite,
            &ours,
        ),
        rate_row(
            format!("{shape}, on PostgreSQL, two processes: messages/s sent"),
            &on_postgres_twice,
            one_process,
            &on_postgres,
            "clients split over both; appends serialise on the database's write lock",
        ),
        latency_row(
            format!("{shape}, on PostgreSQL, two processes: send latency, p99"),
            &on_postgres_twice,
            one_process,
            &on_postgres,
        ),
    ])
}
