//! A message acknowledged with 200 survives SIGKILL of the server process;
//! many clients sending at once each see every message exactly once, in one order.

use crate::common::{register, req, start_binary, ServerProcess};

use matrix_api::client_server::endpoints as cs;

use serde_json::json;

/// Starts the binary on the database of `dir` (the same again after a restart).
fn spawn(dir: &std::path::Path) -> (ServerProcess, String) {
    start_binary(dir, &[])
}

async fn messages(client: &cs::Client, room: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut query = json!({ "dir": "f", "limit": 100 });
        if let Some(f) = &from {
            query["from"] = json!(f);
        }
        let cs::get_room_events::Response::Ok(page) = client
            .get_room_events(req(json!({ "roomId": room }), query, json!({})))
            .await
            .unwrap();
        let page = serde_json::to_value(page).unwrap();
        for e in page["chunk"].as_array().unwrap() {
            if e["type"] == "m.room.message" {
                out.push(e["content"]["body"].as_str().unwrap().to_owned());
            }
        }
        match page["end"].as_str() {
            Some(end) => from = Some(end.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    let (mut server, base) = spawn(db);
    let alice = register(&base, "alice").await;
    let cs::create_room::Response::Ok(room) = alice.create_room(req(json!({}), json!({}), json!({}))).await.unwrap();
    alice
        .send_message(req(
            json!({ "roomId": room.room_id, "eventType": "m.room.message", "txnId": "1" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "durable" }),
        ))
        .await
        .unwrap();
    // SIGKILL: no shutdown of any kind.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let (_server, base) = spawn(db);
    let alice = cs::Client(alice.0.clone().with_base_url(&base));
    assert_eq!(messages(&alice, &room.room_id).await, ["durable"]);
}

/// Keys and to-device messages are acknowledged only once stored: after a
/// SIGKILL, bob still finds alice's device and one-time keys, and alice's
/// device still gets bob's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_keys_and_to_device_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    let (mut server, base) = spawn(db);
    let alice = register(&base, "alice").await;
    let bob = register(&base, "bob").await;
    let cs::get_token_owner::Response::Ok(me) = alice
        .get_token_owner(req(json!({}), json!({}), json!({})))
        .await
        .unwrap();
    let device = me.device_id.unwrap();
    let keys = json!({
        "user_id": "@alice:test.local", "device_id": device, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": { format!("curve25519:{device}"): "curve" },
        "signatures": { "@alice:test.local": { format!("ed25519:{device}"): "sig" } },
    });
    let one_time = json!({ "signed_curve25519:AAAA": { "key": "otk", "signatures": {} } });
    alice
        .upload_keys(req(
            json!({}),
            json!({}),
            json!({ "device_keys": keys, "one_time_keys": one_time }),
        ))
        .await
        .unwrap();
    let messages = json!({ "messages": { "@alice:test.local": { &device: { "room_key": "secret" } } } });
    bob.send_to_device(req(
        json!({ "eventType": "m.room_key", "txnId": "1" }),
        json!({}),
        messages,
    ))
    .await
    .unwrap();
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let (_server, base) = spawn(db);
    let alice = cs::Client(alice.0.clone().with_base_url(&base));
    let bob = cs::Client(bob.0.clone().with_base_url(&base));
    let query = json!({ "device_keys": { "@alice:test.local": [] } });
    let cs::query_keys::Response::Ok(found) = bob.query_keys(req(json!({}), json!({}), query)).await.unwrap();
    let found = serde_json::to_value(found).unwrap();
    assert_eq!(found["device_keys"]["@alice:test.local"][&device]["keys"], keys["keys"]);
    let claim = json!({ "one_time_keys": { "@alice:test.local": { &device: "signed_curve25519" } } });
    let cs::claim_keys::Response::Ok(claimed) = bob.claim_keys(req(json!({}), json!({}), claim)).await.unwrap();
    let claimed = serde_json::to_value(claimed).unwrap();
    assert_eq!(
        claimed["one_time_keys"]["@alice:test.local"][&device]["signed_curve25519:AAAA"]["key"],
        "otk"
    );
    let cs::sync::Response::Ok(sync) = alice.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let inbox = serde_json::to_value(sync.to_device).unwrap();
    assert_eq!(inbox["events"][0]["content"]["room_key"], "secret", "{inbox}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_all_arrive_once_in_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = spawn(dir.path());
    let owner = register(&base, "owner").await;
    let cs::create_room::Response::Ok(room) = owner
        .create_room(req(json!({}), json!({}), json!({ "preset": "public_chat" })))
        .await
        .unwrap();
    let room_id = room.room_id;
    let mut clients = Vec::new();
    for i in 0..20 {
        let c = register(&base, &format!("user{i}")).await;
        c.join_room_by_id(req(json!({ "roomId": room_id }), json!({}), json!({})))
            .await
            .unwrap();
        clients.push(c);
    }
    // Every member follows the room through incremental syncs while the
    // messages are sent (a timeline limit above the total, so no gaps).
    let mut followers = Vec::new();
    for c in &clients {
        let (c, room_id) = (c.clone(), room_id.clone());
        let cs::sync::Response::Ok(initial) = c.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
        followers.push(tokio::spawn(async move {
            let filter = json!({ "room": { "timeline": { "limit": 1000 } } }).to_string();
            let (mut since, mut seen) = (initial.next_batch, Vec::new());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while seen.len() < 500 && std::time::Instant::now() < deadline {
                let cs::sync::Response::Ok(r) = c
                    .sync(req(
                        json!({}),
                        json!({ "since": since, "timeout": 5000, "filter": filter }),
                        json!({}),
                    ))
                    .await
                    .unwrap();
                let r = serde_json::to_value(&r).unwrap();
                let timeline = &r["rooms"]["join"][room_id.as_str()]["timeline"];
                assert_ne!(timeline["limited"], true, "a gap in the timeline");
                for e in timeline["events"].as_array().into_iter().flatten() {
                    if e["type"] == "m.room.message" {
                        seen.push(e["content"]["body"].as_str().unwrap().to_owned());
                    }
                }
                since = r["next_batch"].as_str().unwrap().to_owned();
            }
            seen
        }));
    }
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().cloned().enumerate() {
        let room_id = room_id.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..25 {
                c.send_message(req(
                    json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": format!("{j}") }),
                    json!({}),
                    json!({ "msgtype": "m.text", "body": format!("{i}-{j}") }),
                ))
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let reference = messages(&owner, &room_id).await;
    assert_eq!(reference.len(), 500);
    let unique: std::collections::BTreeSet<_> = reference.iter().collect();
    assert_eq!(unique.len(), 500, "duplicates");
    for c in &clients {
        assert_eq!(messages(c, &room_id).await, reference, "members disagree on the order");
    }
    for (i, follower) in followers.into_iter().enumerate() {
        assert_eq!(
            follower.await.unwrap(),
            reference,
            "user{i}'s sync differs from /messages"
        );
    }
    // Each sender's own messages are in the order sent.
    for i in 0..20 {
        let mine: Vec<_> = reference
            .iter()
            .filter(|b| b.starts_with(&format!("{i}-")))
            .cloned()
            .collect();
        let sent: Vec<_> = (0..25).map(|j| format!("{i}-{j}")).collect();
        assert_eq!(mine, sent);
    }
}

/// Ten senders, ten to-device messages each, all at once to one device,
/// while it syncs: every message arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_to_device_messages_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = spawn(dir.path());
    let alice = register(&base, "alice").await;
    let cs::get_token_owner::Response::Ok(me) = alice
        .get_token_owner(req(json!({}), json!({}), json!({})))
        .await
        .unwrap();
    let device = me.device_id.unwrap();
    let cs::sync::Response::Ok(initial) = alice.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let receiver = tokio::spawn(async move {
        let (mut since, mut seen) = (initial.next_batch, Vec::new());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while seen.len() < 100 && std::time::Instant::now() < deadline {
            let query = json!({ "since": since, "timeout": 5000 });
            let cs::sync::Response::Ok(r) = alice.sync(req(json!({}), query, json!({}))).await.unwrap();
            let r = serde_json::to_value(&r).unwrap();
            for e in r["to_device"]["events"].as_array().into_iter().flatten() {
                seen.push(e["content"]["n"].as_str().unwrap().to_owned());
            }
            since = r["next_batch"].as_str().unwrap().to_owned();
        }
        seen
    });
    let mut senders = Vec::new();
    for i in 0..10 {
        let c = register(&base, &format!("sender{i}")).await;
        let device = device.clone();
        senders.push(tokio::spawn(async move {
            for j in 0..10 {
                let messages = json!({ "messages": { "@alice:test.local": { &device: { "n": format!("{i}-{j}") } } } });
                c.send_to_device(req(
                    json!({ "eventType": "m.test", "txnId": format!("{j}") }),
                    json!({}),
                    messages,
                ))
                .await
                .unwrap();
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let mut seen = receiver.await.unwrap();
    seen.sort();
    let mut expected: Vec<String> = (0..10).flat_map(|i| (0..10).map(move |j| format!("{i}-{j}"))).collect();
    expected.sort();
    assert_eq!(seen, expected, "each message once");
}
