//! Server ACLs between two of our servers: once the room's `m.room.server_acl`
//! denies a server, the room's server answers that server's requests on
//! the protected endpoints with `403 M_FORBIDDEN`, refuses its PDUs one by
//! one in `/send`, and ignores its typing notifications and receipts for
//! the room. Every server here is named by an IP literal, so the ACL that
//! denies B is `allow_ip_literals: false`; the glob rules are unit-tested
//! in `server/src/federation/acl.rs`.

use crate::federation::{federation_client, send_one};
use crate::peers::{register, Ours, User};
use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::client::{ClientError, Signer};
use matrix_api_tests::scenario::req;
use serde_json::json;
use server::store::Storage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_server_is_refused_and_its_events_and_edus_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let a = Ours::start(dir.path(), "a");
    let b = Ours::start(dir.path(), "b");
    let alice = register(&a.client_base, "alice").await;
    let bob = register(&b.client_base, "bob").await;
    let room = alice.create_room(json!({ "preset": "public_chat" })).await;
    bob.join(&room, &a.name).await;
    let identity = b.identity();
    let from_b = federation_client(
        &format!("https://{}", a.name),
        Some(Signer {
            origin: b.name.clone(),
            destination: a.name.clone(),
            key_id: identity.key_id.clone(),
            key: identity.signing_key().clone(),
        }),
    );
    let a_store = server::store::SqlStore::open(&a.db).unwrap();
    let b_store = server::store::SqlStore::open(&b.db).unwrap();

    // Allowed while there is no ACL: the same requests that are refused below.
    let before = bob.say(&room, "before the ACL").await;
    alice.sees_message(&room, "before the ACL").await;
    let ss::get_room_state_ids::Response::Ok(_) = from_b
        .get_room_state_ids(ss::get_room_state_ids::Request::new(room.clone(), before.clone()))
        .await
        .unwrap();
    send_typing(&from_b, &b.name, "typing-1", &room, &bob.id, true).await;
    assert_eq!(typing_users(&alice, &room).await, vec![bob.id.clone()]);
    send_typing(&from_b, &b.name, "typing-2", &room, &bob.id, false).await;
    assert!(typing_users(&alice, &room).await.is_empty());

    alice
        .set_state(
            &room,
            "m.room.server_acl",
            json!({ "allow": ["*"], "deny": [], "allow_ip_literals": false }),
        )
        .await;

    // The protected endpoints refuse B.
    let refused = |result: Result<(), ClientError>, what: &str| match result {
        Err(ClientError::Matrix(e)) => assert_eq!(
            (e.status, e.errcode().as_str()),
            (403, "M_FORBIDDEN"),
            "{what}: {}",
            e.body.error
        ),
        other => panic!("{what}: expected 403 M_FORBIDDEN, got {other:?}"),
    };
    refused(
        from_b
            .get_room_state_ids(ss::get_room_state_ids::Request::new(room.clone(), before.clone()))
            .await
            .map(drop),
        "state_ids",
    );
    refused(
        from_b
            .get_room_state(ss::get_room_state::Request::new(room.clone(), before.clone()))
            .await
            .map(drop),
        "state",
    );
    refused(
        from_b
            .backfill_room(ss::backfill_room::Request::new(room.clone(), vec![before.clone()], 10))
            .await
            .map(drop),
        "backfill",
    );
    refused(
        from_b
            .get_event_auth(ss::get_event_auth::Request::new(room.clone(), before.clone()))
            .await
            .map(drop),
        "event_auth",
    );
    let carol = format!("@carol:{}", b.name);
    let mut make_join = ss::make_join::Request::new(room.clone(), carol);
    make_join.query.ver = Some((1..=12).map(|v| v.to_string()).collect());
    refused(from_b.make_join(make_join).await.map(drop), "make_join");
    refused(
        from_b
            .make_leave(ss::make_leave::Request::new(room.clone(), bob.id.clone()))
            .await
            .map(drop),
        "make_leave",
    );

    // Bob's next message, as B made and signed it: refused in /send with
    // its own error, and not stored on A.
    let after = bob.say(&room, "after the ACL").await;
    let pdu = b_store.pdu(&after).unwrap().unwrap();
    let answer = send_one(&from_b, &b.name, "acl-1", pdu).await;
    let error = answer[&after]["error"].as_str().unwrap_or_default();
    assert!(error.contains("server ACL"), "{answer}");
    assert!(a_store.event(&after).unwrap().is_none(), "not stored");

    // B's typing notification for the room is ignored.
    send_typing(&from_b, &b.name, "typing-3", &room, &bob.id, true).await;
    assert!(typing_users(&alice, &room).await.is_empty());

    // A's own users are not subject to the ACL.
    alice.say(&room, "still here").await;
    assert!(alice.messages(&room).await.contains(&"still here".to_owned()));
    assert!(!alice.messages(&room).await.contains(&"after the ACL".to_owned()));
}

/// B tells A in a transaction of its own that `user` is (or stopped) typing.
async fn send_typing(to: &ss::Client, origin: &str, txn: &str, room: &str, user: &str, typing: bool) {
    let edu = json!({
        "edu_type": "m.typing",
        "content": { "room_id": room, "user_id": user, "typing": typing },
    });
    let ss::send_transaction::Response::Ok(_) = to
        .send_transaction(req(
            json!({ "txnId": txn }),
            json!({}),
            json!({ "origin": origin, "origin_server_ts": 1, "pdus": [], "edus": [edu] }),
        ))
        .await
        .unwrap();
}

/// Who `user`'s server says is typing in `room`, from a fresh initial sync.
async fn typing_users(user: &User, room: &str) -> Vec<String> {
    let mut request = matrix_api::client_server::endpoints::sync::Request::new();
    request.query.timeout = Some(0);
    let matrix_api::client_server::endpoints::sync::Response::Ok(sync) = user.client.sync(request).await.unwrap();
    let sync = serde_json::to_value(sync).unwrap();
    let ephemeral = sync["rooms"]["join"][room]["ephemeral"]["events"].as_array().cloned();
    ephemeral
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "m.typing")
        .flat_map(|e| e["content"]["user_ids"].as_array().cloned().unwrap_or_default())
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect()
}
