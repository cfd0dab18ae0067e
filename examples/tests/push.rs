//! The example push gateway (`matrix_examples::push_gateway`) with real
//! homeservers: Synapse 1.163, then ours, each with a pusher pointing at
//! the gateway. A message from another user reaches the gateway exactly
//! once with the documented fields; once the gateway forgets the pushkey,
//! its `rejected` answer makes the homeserver remove the pusher. What the
//! two homeservers sent is compared.

use matrix_api::client_server::endpoints as cs;
use matrix_api_tests::people::{eventually, register, Failing, Person};
use matrix_api_tests::scenario::req;
use matrix_api_tests::synapse::Synapse;
use matrix_examples::push_gateway::{Delivered, PushGateway};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const APP_ID: &str = "org.example.chat";
const PUSHKEY: &str = "bobs-phone";

/// What a homeserver's pushes looked like.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// The fields of the message's notification, and of its device.
    fields: BTreeSet<String>,
    device_fields: BTreeSet<String>,
    /// Values every homeserver must send alike.
    facts: Value,
}

/// How many pushers `person` has.
async fn pushers(person: &Person) -> usize {
    let cs::get_pushers::Response::Ok(list) = person
        .client
        .get_pushers(cs::get_pushers::Request::new())
        .await
        .unwrap();
    list.pushers.unwrap_or_default().len()
}

fn about(delivered: &[Delivered], event_id: &str) -> Vec<Delivered> {
    delivered
        .iter()
        .filter(|d| d.notification.event_id.as_deref() == Some(event_id))
        .cloned()
        .collect()
}

/// The scenario on the homeserver at `base`, pushing to `gateway` at `url`.
async fn pushes(base: &str, gateway: &PushGateway, url: &str) -> Outcome {
    gateway.learn(APP_ID, PUSHKEY);
    let alice = register(base, "alice").await;
    let bob = register(base, "bob").await;
    let pusher = json!({
        "pushkey": PUSHKEY, "kind": "http", "app_id": APP_ID, "app_display_name": "Chat",
        "device_display_name": "Bob's phone", "lang": "en", "data": { "url": url },
    });
    let cs::post_pusher::Response::Ok(_) = bob.client.post_pusher(req(json!({}), json!({}), pusher)).await.unwrap();
    assert_eq!(pushers(&bob).await, 1);

    let cs::create_room::Response::Ok(room) = alice
        .client
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "invite": [bob.id], "is_direct": true }),
        ))
        .await
        .unwrap();
    let room = room.room_id.to_string();
    let cs::join_room::Response::Ok(_) = bob
        .client
        .join_room(req(json!({ "roomIdOrAlias": room }), json!({}), json!({})))
        .await
        .unwrap();

    let hello = alice.say(&room, "hello bob").await;
    let first = eventually("the message's notification", async || {
        about(&gateway.delivered(), &hello).into_iter().next()
    })
    .await;
    // Given time for a second copy, there is none.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        about(&gateway.delivered(), &hello).len(),
        1,
        "{base}: pushed more than once"
    );

    let n = serde_json::to_value(&first.notification).unwrap();
    let device = &n["devices"][0];
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<String>>();
    let facts = json!({
        "type": n["type"], "sender": n["sender"] == json!(alice.id), "room_id": n["room_id"] == json!(room),
        "body": n["content"]["body"], "unread_counted": n["counts"]["unread"].as_i64().is_some_and(|u| u >= 1),
        "app_id": device["app_id"], "pushkey": device["pushkey"], "prio": n["prio"],
        "device_data_has_no_url": device["data"].get("url").is_none(),
    });

    // The gateway no longer knows the device: its answer ends the pusher.
    gateway.forget(APP_ID, PUSHKEY);
    let again = alice.say(&room, "are you there").await;
    eventually("the pusher's removal", async || {
        (pushers(&bob).await == 0).then_some(())
    })
    .await;
    assert!(about(&gateway.delivered(), &again).is_empty());

    Outcome {
        fields: keys(&n),
        device_fields: keys(device),
        facts,
    }
}

/// A gateway on loopback: it and the URL homeservers push to.
async fn start_gateway() -> (PushGateway, String) {
    let gateway = PushGateway::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/_matrix/push/v1/notify", listener.local_addr().unwrap());
    tokio::spawn(matrix_api_runtime::server::serve(listener, gateway.router()));
    (gateway, url)
}

async fn against_ours() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", client.local_addr().unwrap());
    let mut config = server::Config::new(&name, &dir.path().join("hs.db"));
    config.rate_limit = None;
    config.verify_remote_certificates = false;
    let tls = server::federation_tls(&config).unwrap();
    let routers = server::routers(config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        federation,
        routers.federation,
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
    let (gateway, url) = start_gateway().await;
    pushes(&base, &gateway, &url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synapse_and_ours_push_alike_to_the_example_gateway() {
    // Synapse with a federation listener: its outbound requests may reach
    // loopback (where the gateway is), which its default settings forbid.
    let synapse = tokio::task::spawn_blocking(Synapse::start_federating).await.unwrap();
    let (gateway, url) = start_gateway().await;
    let theirs = pushes(&synapse.base_url, &gateway, &url).await;
    drop(synapse);
    let ours = against_ours().await;
    println!("Synapse: {theirs:#?}\nours: {ours:#?}");
    let expected = json!({
        "type": "m.room.message", "sender": true, "room_id": true, "body": "hello bob", "unread_counted": true,
        "app_id": APP_ID, "pushkey": PUSHKEY, "prio": "high", "device_data_has_no_url": true,
    });
    assert_eq!(theirs.facts, expected, "Synapse");
    assert_eq!(ours, theirs, "our homeserver pushes otherwise than Synapse");
}

/// A gateway that fails for a while (`500`) gets, once it answers again,
/// every notification it missed, in order and each once: our homeserver
/// keeps where each pusher got to and retries with growing delays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gateway_gets_every_notification_once_in_order_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", client.local_addr().unwrap());
    let mut config = server::Config::new(&name, &dir.path().join("hs.db"));
    config.rate_limit = None;
    let routers = server::routers(config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));

    // The gateway behind a switch that answers 500 while it is on.
    let gateway = PushGateway::knowing(&[(APP_ID, PUSHKEY)]);
    let faults = Failing::new(gateway.router(), "/_matrix/push/v1/notify");
    faults.fail(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/_matrix/push/v1/notify", listener.local_addr().unwrap());
    tokio::spawn(matrix_api_runtime::server::serve(listener, faults.router.clone()));

    let alice = register(&base, "alice").await;
    let bob = register(&base, "bob").await;
    let pusher = json!({
        "pushkey": PUSHKEY, "kind": "http", "app_id": APP_ID, "app_display_name": "Chat",
        "device_display_name": "Bob's phone", "lang": "en", "data": { "url": url },
    });
    let cs::post_pusher::Response::Ok(_) = bob.client.post_pusher(req(json!({}), json!({}), pusher)).await.unwrap();
    let cs::create_room::Response::Ok(room) = alice
        .client
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "invite": [bob.id], "is_direct": true }),
        ))
        .await
        .unwrap();
    let room = room.room_id.to_string();
    let cs::join_room::Response::Ok(_) = bob
        .client
        .join_room(req(json!({ "roomIdOrAlias": room }), json!({}), json!({})))
        .await
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(alice.say(&room, &format!("message {i}")).await);
    }
    eventually("the gateway refusing twice", async || {
        (faults.refused().len() >= 2).then_some(())
    })
    .await;
    assert!(gateway.delivered().is_empty());
    faults.fail(false);

    let last = sent.last().unwrap().clone();
    eventually("the last message pushed", async || {
        (!about(&gateway.delivered(), &last).is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pushed: Vec<String> = gateway
        .delivered()
        .iter()
        .filter_map(|d| d.notification.event_id.clone())
        .filter(|id| sent.contains(id))
        .collect();
    assert_eq!(pushed, sent, "each message once, in order");
}
