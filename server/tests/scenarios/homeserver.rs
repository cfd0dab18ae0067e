//! The homeserver through the generated client, on 127.0.0.1.

use crate::common::{register, req};

use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::ClientError;
use serde_json::{json, Value};

async fn start(dir: &std::path::Path) -> String {
    let router = server::router_with(crate::common::config("test.local", dir)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(listener, router));
    format!("http://{addr}")
}

fn errcode(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Matrix(m) => (m.status, m.errcode().as_str().to_owned()),
        other => panic!("not a Matrix error: {other}"),
    }
}

async fn sync(client: &cs::Client, since: Option<&str>) -> Value {
    let query = match since {
        Some(s) => json!({ "since": s, "timeout": 0 }),
        None => json!({}),
    };
    let cs::sync::Response::Ok(r) = client.sync(req(json!({}), query, json!({}))).await.unwrap();
    serde_json::to_value(r).unwrap()
}

fn bodies(sync: &Value, room: &str) -> Vec<String> {
    sync["rooms"]["join"][room]["timeline"]["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["type"] == "m.room.message")
                .map(|e| e["content"]["body"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_and_see_each_other_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = start(dir.path()).await;
    let alice = register(&base, "alice").await;
    let bob = register(&base, "bob").await;

    // UIA: registration without auth answers 401 with the flows.
    let plain = cs::Client::new(&base);
    let answer = plain
        .register(req(
            json!({}),
            json!({}),
            json!({ "username": "carol", "password": "pw" }),
        ))
        .await
        .unwrap();
    let cs::register::Response::Unauthorized(auth) = answer else {
        panic!("expected the 401 of user-interactive auth, got {answer:?}")
    };
    assert_eq!(auth.flows[0].stages[0], "m.login.dummy");
    assert!(auth.session.is_some());

    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "name": "Chat", "invite": ["@bob:test.local"] }),
        ))
        .await
        .unwrap();
    let room_id = room.room_id;
    let path = |extra: Value| {
        let mut p = json!({ "roomId": room_id });
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p
    };
    // Bob is invited (he sees it in sync) and joins.
    let s = sync(&bob, None).await;
    assert!(s["rooms"]["invite"][room_id.as_str()].is_object(), "{s}");
    bob.join_room_by_id(req(path(json!({})), json!({}), json!({})))
        .await
        .unwrap();
    let bob_since = sync(&bob, None).await["next_batch"].as_str().unwrap().to_owned();
    let alice_since = sync(&alice, None).await["next_batch"].as_str().unwrap().to_owned();

    for (who, client, text) in [
        ("a", &alice, "hello bob"),
        ("b", &bob, "hi alice"),
        ("a", &alice, "how are you?"),
    ] {
        let body = json!({ "msgtype": "m.text", "body": text });
        client
            .send_message(req(
                path(json!({ "eventType": "m.room.message", "txnId": format!("{who}-{text}") })),
                json!({}),
                body,
            ))
            .await
            .unwrap();
    }
    // The same transaction ID again: the same event, not a second one.
    let again = alice
        .send_message(req(
            path(json!({ "eventType": "m.room.message", "txnId": "a-hello bob" })),
            json!({}),
            json!({ "msgtype": "m.text", "body": "hello bob" }),
        ))
        .await
        .unwrap();
    let cs::send_message::Response::Ok(again) = again;
    let expected = ["hello bob", "hi alice", "how are you?"];
    assert_eq!(bodies(&sync(&bob, Some(&bob_since)).await, &room_id), expected);
    assert_eq!(bodies(&sync(&alice, Some(&alice_since)).await, &room_id), expected);
    assert!(again.event_id.starts_with('$'));

    // Bob paginates history backwards.
    let cs::get_room_events::Response::Ok(page) = bob
        .get_room_events(req(path(json!({})), json!({ "dir": "b", "limit": 2 }), json!({})))
        .await
        .unwrap();
    let page = serde_json::to_value(page).unwrap();
    let texts: Vec<&str> = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["how are you?", "hi alice"]);
    let cs::get_room_events::Response::Ok(older) = bob
        .get_room_events(req(
            path(json!({})),
            json!({ "dir": "b", "limit": 1, "from": page["end"] }),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(older).unwrap()["chunk"][0]["content"]["body"],
        "hello bob"
    );

    // Alice sets the topic; Bob sees the state.
    alice
        .set_room_state_with_key(req(
            path(json!({ "eventType": "m.room.topic", "stateKey": "" })),
            json!({}),
            json!({ "topic": "news" }),
        ))
        .await
        .unwrap();
    let cs::get_room_state_with_key::Response::Ok(topic) = bob
        .get_room_state_with_key(req(
            path(json!({ "eventType": "m.room.topic", "stateKey": "" })),
            json!({}),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(topic).unwrap()["topic"], "news");
    // Bob (power 0) may not change the topic (state_default 50).
    let e = bob
        .set_room_state_with_key(req(
            path(json!({ "eventType": "m.room.topic", "stateKey": "" })),
            json!({}),
            json!({ "topic": "mine" }),
        ))
        .await
        .unwrap_err();
    assert_eq!(errcode(e), (403, "M_FORBIDDEN".into()));

    // Logout invalidates the token.
    bob.logout(req(json!({}), json!({}), json!({}))).await.unwrap();
    let e = bob
        .get_token_owner(req(json!({}), json!({}), json!({})))
        .await
        .unwrap_err();
    assert_eq!(errcode(e), (401, "M_UNKNOWN_TOKEN".into()));
}

#[tokio::test]
async fn mistakes_get_the_right_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = start(dir.path()).await;
    let alice = register(&base, "alice").await;
    let eve = register(&base, "eve").await;
    let plain = cs::Client::new(&base);
    let login = |user: &str, pw: &str| {
        req::<cs::login::Request>(
            json!({}),
            json!({}),
            json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": user }, "password": pw }),
        )
    };
    assert_eq!(
        errcode(plain.login(login("alice", "wrong")).await.unwrap_err()),
        (403, "M_FORBIDDEN".into())
    );
    plain.login(login("alice", "pw")).await.unwrap();
    let taken = req(
        json!({}),
        json!({}),
        json!({ "username": "alice", "password": "x", "auth": { "type": "m.login.dummy" } }),
    );
    assert_eq!(
        errcode(plain.register(taken).await.unwrap_err()),
        (400, "M_USER_IN_USE".into())
    );
    let bad = req(
        json!({}),
        json!({}),
        json!({ "username": "Not Valid!", "password": "x", "auth": { "type": "m.login.dummy" } }),
    );
    assert_eq!(
        errcode(plain.register(bad).await.unwrap_err()),
        (400, "M_INVALID_USERNAME".into())
    );

    let cs::create_room::Response::Ok(room) = alice.create_room(req(json!({}), json!({}), json!({}))).await.unwrap();
    let send = |room: &str| {
        req::<cs::send_message::Request>(
            json!({ "roomId": room, "eventType": "m.room.message", "txnId": "t1" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "x" }),
        )
    };
    assert_eq!(
        errcode(eve.send_message(send(&room.room_id)).await.unwrap_err()),
        (403, "M_FORBIDDEN".into())
    );
    assert_eq!(
        errcode(eve.send_message(send("!nowhere:test.local")).await.unwrap_err()),
        (404, "M_NOT_FOUND".into())
    );
    // Not invited to a private room.
    let join = req::<cs::join_room_by_id::Request>(json!({ "roomId": room.room_id }), json!({}), json!({}));
    assert_eq!(
        errcode(eve.join_room_by_id(join).await.unwrap_err()),
        (403, "M_FORBIDDEN".into())
    );
    // Nothing partial was stored: eve is in no room.
    let cs::get_joined_rooms::Response::Ok(rooms) = eve
        .get_joined_rooms(req(json!({}), json!({}), json!({})))
        .await
        .unwrap();
    assert!(rooms.joined_rooms.is_empty());
    // The server is still up.
    alice
        .get_token_owner(req(json!({}), json!({}), json!({})))
        .await
        .unwrap();
}
