//! What the load programs (`send`, `federate`) share: registering users,
//! reading a room back through `/sync` as clients do, and a process's CPU
//! time.

use anyhow::{bail, Context as _, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::RoomId;
use matrix_api_runtime::client::Client;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = &stat[stat.rfind(')').context("odd /proc/PID/stat")? + 2..];
    let fields: Vec<f64> = after.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    // utime and stime, in clock ticks (100 a second on Linux).
    let ticks = fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0);
    Ok(ticks / 100.0)
}

/// A generated request from its parts as JSON (no headers).
pub fn request<R>(path: Value, query: Value, body: Value) -> Result<R>
where
    R: matrix_api_runtime::ServerEndpoint,
    R::Body: serde::de::DeserializeOwned,
{
    matrix_api_tests::scenario::try_req(path, query, body).map_err(anyhow::Error::msg)
}

/// Registers `name` through user-interactive auth with the dummy stage.
pub async fn register(base: &str, name: &str) -> Result<cs::Client> {
    let anonymous = cs::Client::new(base);
    let body = json!({ "username": name, "password": "bench-password" });
    let session = match anonymous.register(request(json!({}), json!({}), body.clone())?).await? {
        cs::register::Response::Unauthorized(auth) => auth.session,
        cs::register::Response::Ok(_) => bail!("registration without auth"),
    };
    let mut body = body;
    body["auth"] = json!({ "type": "m.login.dummy", "session": session });
    let cs::register::Response::Ok(user) = anonymous.register(request(json!({}), json!({}), body)?).await? else {
        bail!("the dummy stage did not complete for {name}");
    };
    let token = user.access_token.context("registration logs in")?;
    Ok(cs::Client(Client::new(base).with_access_token(token)))
}

pub async fn next_batch(client: &cs::Client) -> Result<String> {
    let cs::sync::Response::Ok(sync) = client.sync(cs::sync::Request::new()).await?;
    Ok(sync.next_batch)
}

/// Adds the message bodies of a list of events to `seen`.
fn collect(events: &Value, seen: &mut BTreeSet<String>) {
    for event in events.as_array().into_iter().flatten() {
        if event["type"] == "m.room.message" {
            if let Some(body) = event["content"]["body"].as_str() {
                seen.insert(body.to_owned());
            }
        }
    }
}

/// Pages `/messages` backwards from `from` (the newest event when `None`)
/// until `to` (the room's start when `None`), adding the message bodies to
/// `seen`: what a client does with a `limited` timeline (from its
/// `prev_batch` to the gap's start) or to read a whole room.
pub async fn page_back(
    client: &cs::Client,
    room_id: &RoomId,
    from: Option<&str>,
    to: Option<&str>,
    seen: &mut BTreeSet<String>,
) -> Result<()> {
    let mut from = from.map(str::to_owned);
    loop {
        let mut page = cs::get_room_events::Request::new(room_id.clone(), matrix_api::client_server::Dir::B);
        page.query.from = from.take();
        page.query.to = to.map(str::to_owned);
        page.query.limit = Some(100);
        let cs::get_room_events::Response::Ok(page) = client.get_room_events(page).await?;
        let page = serde_json::to_value(&page)?;
        collect(&page["chunk"], seen);
        match page["end"].as_str() {
            Some(end) if page["chunk"].as_array().is_some_and(|c| !c.is_empty()) => from = Some(end.to_owned()),
            _ => return Ok(()),
        }
    }
}

/// Each member sends `count(i)` messages (`"<i>-<j>"`, member `i`) into the
/// room, all members at once; returns when every one is acknowledged.
pub async fn send_concurrently(
    members: &[cs::Client],
    room_id: &RoomId,
    count: impl Fn(usize) -> usize,
) -> Result<Vec<Duration>> {
    let mut senders = Vec::new();
    for (i, member) in members.iter().cloned().enumerate() {
        let room_id = room_id.clone();
        let messages = count(i);
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(messages);
            for j in 0..messages {
                let content = Map::from_iter([
                    ("msgtype".to_owned(), json!("m.text")),
                    ("body".to_owned(), json!(format!("{i}-{j}"))),
                ]);
                let send =
                    cs::send_message::Request::new(room_id.clone(), "m.room.message".into(), format!("t{j}"), content);
                let started = std::time::Instant::now();
                member.send_message(send).await?;
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for sender in senders {
        latencies.extend(sender.await??);
    }
    Ok(latencies)
}

/// The `q` quantile (0..=1) of some durations, in milliseconds.
pub fn quantile_ms(durations: &[Duration], q: f64) -> f64 {
    let mut sorted = durations.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0,
    }
}

/// The message bodies a member sees in `/sync` from `since` (filling gaps
/// as clients do) until it has `expected` of them or `deadline` passes.
pub async fn read_back(
    client: cs::Client,
    room_id: RoomId,
    since: String,
    expected: usize,
    deadline: Instant,
) -> Result<usize> {
    let filter = json!({ "room": { "timeline": { "limit": 10_000 } } }).to_string();
    let (mut since, mut seen) = (since, BTreeSet::new());
    while seen.len() < expected && Instant::now() < deadline {
        let mut sync = cs::sync::Request::new();
        sync.query.since = Some(since.clone());
        sync.query.timeout = Some(2_000);
        sync.query.filter = Some(filter.clone());
        let cs::sync::Response::Ok(response) = client.sync(sync).await?;
        let response = serde_json::to_value(&response)?;
        let timeline = &response["rooms"]["join"][room_id.as_str()]["timeline"];
        collect(&timeline["events"], &mut seen);
        if let (Some(true), Some(prev_batch)) = (timeline["limited"].as_bool(), timeline["prev_batch"].as_str()) {
            page_back(&client, &room_id, Some(prev_batch), Some(&since), &mut seen).await?;
        }
        since = response["next_batch"].as_str().context("next_batch")?.to_owned();
    }
    Ok(seen.len())
}
