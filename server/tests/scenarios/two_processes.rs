//! Two homeserver processes on one PostgreSQL database, their clients
//! spread over both: every member sees every message exactly once and in
//! one order, whichever process it was sent to and whichever it syncs
//! from; a `/sync` waiting on one process is woken by a message sent to
//! the other; a password change challenged by one process is completed on
//! the other; and after one process is killed with SIGKILL, nothing it
//! acknowledged is lost, and a client that sends again what it got no
//! answer for, to the other process, makes each message once.

use crate::common::http::User;
use crate::common::{start_binary, ServerProcess};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// A server process on the database of `dir`; its base URL once it listens.
fn start(dir: &Path) -> (ServerProcess, String) {
    start_binary(dir, &["--rate-limit", "off"])
}

/// The bodies of the room's messages in the order of `user`'s syncs, from
/// the start until `count` are there (each sync waits on its process).
async fn synced_bodies(user: &User, room: &str, count: usize) -> Vec<String> {
    // The whole timeline, not the newest few.
    const FILTER: &str = "%7B%22room%22%3A%7B%22timeline%22%3A%7B%22limit%22%3A1000%7D%7D%7D";
    let mut bodies = Vec::new();
    let mut since: Option<String> = None;
    for _ in 0..20 {
        if bodies.len() >= count {
            break;
        }
        let path = match &since {
            Some(token) => format!("client/v3/sync?timeout=30000&filter={FILTER}&since={token}"),
            None => format!("client/v3/sync?timeout=0&filter={FILTER}"),
        };
        let sync = user.call(Method::GET, &path, None).await;
        let timeline = &sync["rooms"]["join"][room]["timeline"];
        let events = timeline["events"].as_array().cloned().unwrap_or_default();
        assert!(timeline["limited"] != json!(true), "a gap in the timeline");
        bodies.extend(
            events
                .iter()
                .filter(|e| e["type"] == "m.room.message")
                .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)),
        );
        since = Some(sync["next_batch"].as_str().unwrap().to_owned());
    }
    assert_eq!(bodies.len(), count, "after 20 syncs: {bodies:?}");
    bodies
}

/// Every message body of the room, oldest first, through `/messages`.
async fn history(user: &User, room: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let path = match &from {
            Some(token) => format!("client/v3/rooms/{room}/messages?dir=f&limit=100&from={token}"),
            None => format!("client/v3/rooms/{room}/messages?dir=f&limit=100"),
        };
        let page = user.call(Method::GET, &path, None).await;
        let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
        out.extend(
            chunk
                .iter()
                .filter(|e| e["type"] == "m.room.message")
                .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)),
        );
        match page["end"].as_str() {
            Some(end) if !chunk.is_empty() => from = Some(end.to_owned()),
            _ => return out,
        }
    }
}

fn send_path(room: &str, txn: &str) -> String {
    format!("client/v3/rooms/{room}/send/m.room.message/{txn}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, a) = start(dir.path());
    let (_second, b) = start(dir.path());
    let (users, each) = (6, 10);

    // Users registered on one process or the other, all in one room.
    let mut members = Vec::new();
    for n in 0..users {
        let base = if n % 2 == 0 { &a } else { &b };
        members.push(User::register(base, &format!("user{n}")).await);
    }
    let room = members[0]
        .call(
            Method::POST,
            "client/v3/createRoom",
            Some(json!({ "preset": "public_chat" })),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for member in &members[1..] {
        member
            .call(Method::POST, &format!("client/v3/join/{room}"), Some(json!({})))
            .await;
    }

    // A sync waiting on B is woken by a message sent to A.
    let waiting = members[1].call(Method::GET, "client/v3/sync?timeout=0", None).await;
    let since = waiting["next_batch"].as_str().unwrap().to_owned();
    let waiter = {
        let (user, room, since) = (members[1].on(&b), room.clone(), since.clone());
        tokio::spawn(async move {
            let sync = user
                .call(
                    Method::GET,
                    &format!("client/v3/sync?timeout=60000&since={since}"),
                    None,
                )
                .await;
            sync["rooms"]["join"][&room]["timeline"]["events"].clone()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    members[0]
        .call(
            Method::PUT,
            &send_path(&room, "hello"),
            Some(json!({ "msgtype": "m.text", "body": "hello" })),
        )
        .await;
    // It asked to wait 60 s (the server's most): an answer well before
    // then is the wake-up, not the end of its wait.
    let woken: Value = tokio::time::timeout(std::time::Duration::from_secs(45), waiter)
        .await
        .expect("the sync on B was not woken by A's message")
        .unwrap();
    assert_eq!(woken[0]["content"]["body"], "hello", "{woken}");

    // User-interactive authentication: the session A hands out is good on B.
    let change = |auth: Value| json!({ "new_password": "pw2", "logout_devices": false, "auth": auth });
    let challenge = members[0]
        .try_call(Method::POST, "client/v3/account/password", Some(change(Value::Null)))
        .await
        .expect_err("a password change asks for the password first");
    assert!(challenge.starts_with("401"), "{challenge}");
    let session: Value = serde_json::from_str(&challenge[challenge.find('{').unwrap()..]).unwrap();
    let auth = json!({
        "type": "m.login.password",
        "session": session["session"],
        "identifier": { "type": "m.id.user", "user": "user0" },
        "password": "pw",
    });
    members[0]
        .on(&b)
        .call(Method::POST, "client/v3/account/password", Some(change(auth)))
        .await;

    // Everyone sends at once, each to its own process.
    let sending: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(n, member)| {
            let (member, room) = (member.on(&member.base), room.clone());
            tokio::spawn(async move {
                for m in 0..each {
                    let body = json!({ "msgtype": "m.text", "body": format!("{n}.{m}") });
                    member
                        .call(Method::PUT, &send_path(&room, &format!("t{m}")), Some(body))
                        .await;
                }
            })
        })
        .collect();
    for sender in sending {
        sender.await.unwrap();
    }
    let total = 1 + users * each;
    let mut orders = Vec::new();
    for member in &members {
        orders.push(synced_bodies(member, &room, total).await);
    }
    let distinct: BTreeSet<&String> = orders[0].iter().collect();
    assert_eq!(orders[0].len(), total, "every message once");
    assert_eq!(distinct.len(), total, "no message twice");
    for (n, order) in orders.iter().enumerate() {
        assert_eq!(order, &orders[0], "user{n} saw another order");
    }

    // SIGKILL of A while its users send; what it acknowledged stays, and
    // what it did not is sent again to B under the same transaction ID.
    let mut acknowledged = Vec::new();
    let mut unanswered = Vec::new();
    let on_a: Vec<&User> = members.iter().step_by(2).collect();
    for m in 0..each {
        for (k, member) in on_a.iter().enumerate() {
            let (txn, body) = (format!("k{m}"), format!("kill {k}.{m}"));
            if m == each / 2 && k == 0 {
                first.0.kill().unwrap();
                first.0.wait().unwrap();
            }
            let content = json!({ "msgtype": "m.text", "body": body });
            match member
                .try_call(Method::PUT, &send_path(&room, &txn), Some(content))
                .await
            {
                Ok(_) => acknowledged.push(body),
                Err(_) => unanswered.push((k, txn, body)),
            }
        }
    }
    assert!(!unanswered.is_empty(), "the kill came before some sends");
    for (k, txn, body) in &unanswered {
        let content = json!({ "msgtype": "m.text", "body": body });
        on_a[*k]
            .on(&b)
            .call(Method::PUT, &send_path(&room, txn), Some(content))
            .await;
    }
    // One acknowledged send is sent again to B too: the same event, not a second.
    let (k, m) = (0, 0);
    let again = json!({ "msgtype": "m.text", "body": format!("kill {k}.{m}") });
    on_a[k]
        .on(&b)
        .call(Method::PUT, &send_path(&room, &format!("k{m}")), Some(again))
        .await;

    let seen = history(&members[1], &room).await;
    for body in acknowledged.iter().chain(unanswered.iter().map(|(_, _, body)| body)) {
        assert_eq!(
            seen.iter().filter(|s| *s == body).count(),
            1,
            "{body} is in the room once: {seen:?}"
        );
    }
    assert_eq!(seen.len(), total + on_a.len() * each);
}
