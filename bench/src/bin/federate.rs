//! The federation benchmark's load: `federate ours <server binary>
//! <messages>` or `federate synapse <messages>`. A Synapse receives in
//! both; the sending server is ours or a second Synapse. A user of the
//! sending server makes a room, a user of the receiving Synapse joins it
//! over federation, then ten clients of the sending server send the
//! messages between them at once, and the receiving user pages back
//! through `/messages` until it has them all (under a burst, Synapse keeps
//! only the newest of the events waiting in its inbound queue and fetches
//! the rest through `/backfill` when a client pages back, so `/sync` alone
//! does not show them all). Prints one JSON line: messages, lost, the seconds from
//! the first send until every message was visible on the receiving
//! Synapse, and the sending server's CPU seconds meanwhile (from `/proc`).

use anyhow::{bail, Context as _, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::RoomId;
use matrix_api_tests::synapse::Synapse;
use matrix_bench::load::{cpu_seconds, page_back, register, request, send_concurrently};
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Clients sending at once on the sending server.
const SENDERS: usize = 10;

/// Our server with a federation listener, named after its port; stopped
/// when dropped.
struct Ours {
    child: Child,
    name: String,
    base: String,
}

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ours(binary: &str, dir: &std::path::Path) -> Result<Ours> {
    let port = matrix_api_tests::process::free_port();
    let name = format!("127.0.0.1:{port}");
    let mut child = Command::new(binary)
        .args(["--server-name", &name, "--listen", "127.0.0.1:0"])
        .args(["--federation-listen", &name])
        // Synapse's certificate is self-signed.
        .args(["--insecure-skip-certificate-checks", "--rate-limit", "off", "--db"])
        .arg(dir.join("hs.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let mut stderr = std::io::BufReader::new(child.stderr.take().context("no stderr")?);
    let (mut first, mut second) = (String::new(), String::new());
    stderr.read_line(&mut first)?;
    stderr.read_line(&mut second)?;
    // What it logs later is not read; the pipe must not fill up.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let base = first.rsplit(' ').next().unwrap_or_default().trim().to_owned();
    if !base.starts_with("http://") || !second.starts_with("federation for") {
        bail!("the server did not say where it listens: {first}{second}");
    }
    Ok(Ours { child, name, base })
}

/// Whether `user` is joined to `room_id` as `client`'s server sees it.
async fn is_joined(client: &cs::Client, room_id: &str, user: &str) -> bool {
    let Ok(state) = request::<cs::get_room_state_with_key::Request>(
        json!({ "roomId": room_id, "eventType": "m.room.member", "stateKey": user }),
        json!({}),
        json!({}),
    ) else {
        return false;
    };
    match client.get_room_state_with_key(state).await {
        Ok(cs::get_room_state_with_key::Response::Ok(content)) => {
            serde_json::to_value(content).is_ok_and(|c| c["membership"] == "join")
        }
        _ => false,
    }
}

/// How many of the messages `client` sees, paging `/messages` back from
/// the newest event to the room's start.
async fn visible(client: &cs::Client, room_id: &RoomId) -> Result<usize> {
    let mut bodies = std::collections::BTreeSet::new();
    page_back(client, room_id, None, None, &mut bodies).await?;
    Ok(bodies.len())
}

async fn load(sender_base: &str, sender_name: &str, pid: u32, receiver: &Synapse, messages: usize) -> Result<Value> {
    let run = format!("f{}", std::process::id());
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        senders.push(register(sender_base, &format!("{run}s{i}")).await?);
    }
    let reader_id = format!("@{run}r:{}", receiver.server_name);
    let reader = register(&receiver.base_url, &format!("{run}r")).await?;
    let create = request::<cs::create_room::Request>(json!({}), json!({}), json!({ "preset": "public_chat" }))?;
    let cs::create_room::Response::Ok(room) = senders[0].create_room(create).await?;
    let room_id = room.room_id;
    for member in &senders[1..] {
        member
            .join_room_by_id(request(json!({ "roomId": room_id }), json!({}), json!({}))?)
            .await?;
    }
    let join = request::<cs::join_room::Request>(
        json!({ "roomIdOrAlias": room_id }),
        json!({ "via": [sender_name], "server_name": [sender_name] }),
        json!({}),
    )?;
    reader.join_room(join).await.context("joining over federation")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !is_joined(&senders[0], room_id.as_str(), &reader_id).await {
        if Instant::now() > deadline {
            bail!("the sending server never saw the join");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    send_concurrently(&senders, &room_id, |i| {
        messages / SENDERS + usize::from(i < messages % SENDERS)
    })
    .await?;
    let sending = started.elapsed().as_secs_f64();
    let give_up = started + Duration::from_secs(300);
    let mut seen = visible(&reader, &room_id).await?;
    while seen < messages && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = visible(&reader, &room_id).await?;
    }
    let visible = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid)? - cpu_before;
    Ok(json!({
        "messages": messages, "lost": messages - seen, "send_seconds": sending,
        "visible_seconds": visible, "cpu_seconds": cpu,
    }))
}

#[tokio::main]
async fn main() -> Result<()> {
    let usage = "usage: federate ours <server binary> <messages> | federate synapse <messages>";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize> { args.get(i).context(usage)?.parse().context("a count") };
    let receiver = Synapse::start_federating();
    let result = match args.first().map(String::as_str) {
        Some("ours") => {
            let dir = tempfile::tempdir()?;
            let ours = start_ours(args.get(1).context(usage)?, dir.path())?;
            let pid = ours.child.id();
            load(&ours.base, &ours.name, pid, &receiver, number(2)?).await?
        }
        Some("synapse") => {
            let sender = Synapse::start_federating();
            load(
                &sender.base_url,
                &sender.server_name,
                sender.pid(),
                &receiver,
                number(1)?,
            )
            .await?
        }
        _ => bail!(usage),
    };
    println!("{result}");
    Ok(())
}
