//! The send benchmark's load, against one homeserver: `send ours
//! <server binary> <clients> <messages>` (on SQLite), `send ours-postgres
//! <server binary> <processes> <clients> <messages>` (on a new database of
//! a PostgreSQL server of its own that flushes commits as deployed ones do, with one or more server processes, the
//! clients spread over them) or `send synapse <clients> <messages>`.
//! Registers the clients, puts them in one room, has each send its
//! messages while the others do too, then reads every message back from
//! every member's `/sync` (a `limited` timeline filled from `/messages`, as
//! clients do). Prints one JSON line: messages, lost, the seconds sending
//! and reading back took, the median and 99th percentile of one send's
//! latency, and the server processes' CPU seconds over both (from
//! `/proc`; PostgreSQL's own processes are not counted). Rate limits are
//! off (ours) or raised (Synapse, as the interop test configures it), so
//! all do the same work.

use anyhow::{bail, Context as _, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_bench::load::{cpu_seconds, next_batch, quantile_ms, read_back, register, request, send_concurrently};
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our server, stopped when dropped.
struct Ours(Child);

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts our server on the database `db` (`--db` and more arguments).
fn start_ours(binary: &str, db: &[std::ffi::OsString]) -> Result<(Ours, String, u32)> {
    let mut child = Command::new(binary)
        .args([
            "--server-name",
            "bench.local",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
        ])
        .args(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let pid = child.id();
    let ours = Ours(child);
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("the server ended before saying where it listens");
        }
    }
    // Its later output is not read; drained so that it never blocks.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = line.rsplit(' ').next().unwrap_or_default().trim().to_owned();
    if !base.starts_with("http://") {
        bail!("the server did not say where it listens: {line}");
    }
    Ok((ours, base, pid))
}

/// The load on servers at `bases` (the clients spread over them), whose
/// processes are `pids`.
async fn load(bases: &[String], clients: usize, messages: usize, pids: &[u32]) -> Result<Value> {
    let run = format!("r{}", std::process::id());
    let mut members = Vec::new();
    for i in 0..clients {
        members.push(register(&bases[i % bases.len()], &format!("{run}u{i}")).await?);
    }
    let create = request::<cs::create_room::Request>(json!({}), json!({}), json!({ "preset": "public_chat" }))?;
    let cs::create_room::Response::Ok(room) = members[0].create_room(create).await?;
    let room_id = room.room_id;
    for member in &members[1..] {
        member
            .join_room_by_id(request(json!({ "roomId": room_id }), json!({}), json!({}))?)
            .await?;
    }
    let mut tokens = Vec::new();
    for member in &members {
        tokens.push(next_batch(member).await?);
    }

    let cpu = || -> Result<f64> { pids.iter().map(|pid| cpu_seconds(*pid)).sum() };
    let cpu_before = cpu()?;
    let started = Instant::now();
    let latencies = send_concurrently(&members, &room_id, |_| messages).await?;
    let sending = started.elapsed().as_secs_f64();

    let total = clients * messages;
    let reading_started = Instant::now();
    let deadline = reading_started + Duration::from_secs(120);
    let mut readers = Vec::new();
    for (member, since) in members.iter().cloned().zip(tokens) {
        readers.push(tokio::spawn(read_back(member, room_id.clone(), since, total, deadline)));
    }
    let mut lost = 0;
    for reader in readers {
        lost += total - reader.await??;
    }
    let reading = reading_started.elapsed().as_secs_f64();
    let cpu = cpu()? - cpu_before;
    Ok(json!({
        "messages": total, "lost": lost, "send_seconds": sending, "read_seconds": reading, "cpu_seconds": cpu,
        "p50_ms": quantile_ms(&latencies, 0.5), "p99_ms": quantile_ms(&latencies, 0.99),
    }))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize> { args.get(i).context(USAGE)?.parse().context("a count") };
    const USAGE: &str = "usage: send ours <server binary> <clients> <messages> \
                         | send ours-postgres <server binary> <processes> <clients> <messages> \
                         | send synapse <clients> <messages>";
    let result = match args.first().map(String::as_str) {
        Some("ours") => {
            let dir = tempfile::tempdir()?;
            let binary = args.get(1).context("the server binary")?;
            let db = ["--db".into(), dir.path().join("hs.db").into_os_string()];
            let (_ours, base, pid) = start_ours(binary, &db)?;
            load(&[base], number(2)?, number(3)?, &[pid]).await?
        }
        Some("ours-postgres") => {
            let dir = tempfile::tempdir()?;
            let binary = args.get(1).context("the server binary")?;
            let url = matrix_api_tests::postgres::durable_database("bench_send");
            let db = ["--db".into(), url.into(), "--data-dir".into(), dir.path().into()];
            let mut servers = Vec::new();
            // One after the other: the first makes the signing key the others read.
            for _ in 0..number(2)? {
                servers.push(start_ours(binary, &db)?);
            }
            let bases: Vec<String> = servers.iter().map(|(_, base, _)| base.clone()).collect();
            let pids: Vec<u32> = servers.iter().map(|(_, _, pid)| *pid).collect();
            load(&bases, number(3)?, number(4)?, &pids).await?
        }
        Some("synapse") => {
            let synapse = matrix_api_tests::synapse::Synapse::start();
            load(
                std::slice::from_ref(&synapse.base_url),
                number(1)?,
                number(2)?,
                &[synapse.pid()],
            )
            .await?
        }
        _ => bail!(USAGE),
    };
    println!("{result}");
    Ok(())
}
