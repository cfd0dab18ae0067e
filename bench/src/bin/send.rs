//! The send benchmark's load, against one homeserver: `send ours
//! <server binary> <clients> <messages>` or `send synapse <clients>
//! <messages>`. Registers the clients, puts them in one room, has each send
//! its messages while the others do too, then reads every message back
//! from every member's `/sync` (a `limited` timeline filled from
//! `/messages`, as clients do). Prints one JSON line: messages, lost, the
//! seconds sending and reading back took, and the server's CPU seconds
//! over both (from `/proc`). Rate limits are off (ours) or raised (Synapse,
//! as the interop test configures it), so both do the same work.

use anyhow::{bail, Context as _, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_bench::load::{cpu_seconds, next_batch, read_back, register, request, send_concurrently};
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

fn start_ours(binary: &str, dir: &std::path::Path) -> Result<(Ours, String, u32)> {
    let mut child = Command::new(binary)
        .args([
            "--server-name",
            "bench.local",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            "--db",
        ])
        .arg(dir.join("hs.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let pid = child.id();
    let ours = Ours(child);
    let mut line = String::new();
    std::io::BufReader::new(stderr).read_line(&mut line)?;
    let base = line.rsplit(' ').next().unwrap_or_default().trim().to_owned();
    if !base.starts_with("http://") {
        bail!("the server did not say where it listens: {line}");
    }
    Ok((ours, base, pid))
}

async fn load(base: &str, clients: usize, messages: usize, pid: u32) -> Result<Value> {
    let run = format!("r{}", std::process::id());
    let mut members = Vec::new();
    for i in 0..clients {
        members.push(register(base, &format!("{run}u{i}")).await?);
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

    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    send_concurrently(&members, &room_id, |_| messages).await?;
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
    let cpu = cpu_seconds(pid)? - cpu_before;
    Ok(json!({
        "messages": total, "lost": lost, "send_seconds": sending, "read_seconds": reading, "cpu_seconds": cpu,
    }))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize> {
        args.get(i)
            .context("usage: send ours <server binary> <clients> <messages> | send synapse <clients> <messages>")?
            .parse()
            .context("a count")
    };
    let result = match args.first().map(String::as_str) {
        Some("ours") => {
            let dir = tempfile::tempdir()?;
            let binary = args.get(1).context("the server binary")?;
            let (_ours, base, pid) = start_ours(binary, dir.path())?;
            load(&base, number(2)?, number(3)?, pid).await?
        }
        Some("synapse") => {
            let synapse = matrix_api_tests::synapse::Synapse::start();
            load(&synapse.base_url, number(1)?, number(2)?, synapse.pid()).await?
        }
        _ => bail!("usage: send ours <server binary> <clients> <messages> | send synapse <clients> <messages>"),
    };
    println!("{result}");
    Ok(())
}
