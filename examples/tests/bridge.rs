//! The example echo bridge (`matrix_examples::bridge`) with Synapse 1.163
//! as its homeserver, which loads the bridge's registration file: Synapse
//! pings the bridge when the bridge asks; a Synapse user joins a room alias
//! in the bridge's namespace (Synapse asks the bridge, which creates the
//! room); her message reaches the bridge in a transaction and the bridge's
//! puppet answers in the room; inviting an unknown puppet makes Synapse
//! ask the bridge for the user, and the puppet joins; third-party lookups
//! reach the bridge; her typing and read receipt in the portal room reach
//! the bridge as ephemeral data with the room's ID; every transaction
//! arrives once; and a request without the homeserver's token is refused.

use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::{Client, ClientError};
use matrix_api_tests::people::{eventually, register, Failing, Person};
use matrix_api_tests::scenario::req;
use matrix_api_tests::synapse::Synapse;
use matrix_examples::bridge::{Bridge, BridgeConfig};
use serde_json::{json, Value};
use std::time::Duration;

/// The room's newest `limit` events as `person` sees them, newest first.
async fn newest(person: &Person, room: &str, limit: u32) -> Vec<Value> {
    let cs::get_room_events::Response::Ok(page) = person
        .client
        .get_room_events(req(
            json!({ "roomId": room }),
            json!({ "dir": "b", "limit": limit }),
            json!({}),
        ))
        .await
        .unwrap();
    serde_json::from_value(serde_json::to_value(&page.chunk).unwrap()).unwrap()
}

/// `(sender, body)` of the room's messages, oldest first, as `person` sees them.
async fn messages(person: &Person, room: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = newest(person, room, 50)
        .await
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| {
            (
                e["sender"].as_str().unwrap().to_owned(),
                e["content"]["body"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    found.reverse();
    found
}

async fn last_event_id(person: &Person, room: &str) -> String {
    newest(person, room, 1).await[0]["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn membership(person: &Person, room: &str, user: &str) -> Option<String> {
    let path = json!({ "roomId": room, "eventType": "m.room.member", "stateKey": user });
    let cs::get_room_state_with_key::Response::Ok(content) = person
        .client
        .get_room_state_with_key(req(path, json!({}), json!({})))
        .await
        .ok()?;
    serde_json::to_value(content).unwrap()["membership"]
        .as_str()
        .map(str::to_owned)
}

async fn get_json(base: &str, token: &str, path_and_query: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{base}{path_and_query}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path_and_query}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// What a homeserver did with the bridge, compared between homeservers.
#[derive(Debug, PartialEq)]
struct Outcome {
    echoed: Vec<String>,
    puppets_made: usize,
    protocols: Value,
    user_lookup: Value,
    location_lookup: Value,
    /// The ephemeral types the bridge saw for Alice in the portal room.
    ephemeral_seen: Vec<String>,
    transactions_once: bool,
}

fn bridge_config(server_name: &str) -> BridgeConfig {
    BridgeConfig {
        homeserver: String::new(),
        server_name: server_name.to_owned(),
        as_token: "as-token-of-the-echo-bridge".to_owned(),
        hs_token: "hs-token-of-the-echo-bridge".to_owned(),
        sender_localpart: "echobot".to_owned(),
    }
}

/// The scenario on the homeserver at `base` (named `server`), driving the
/// bridge served at `bridge_url`.
async fn drives(base: &str, server: &str, bridge: &Bridge, bridge_url: &str, hs_token: &str) -> Outcome {
    // The bridge asks the homeserver to ping it.
    bridge.ping_homeserver("ping-1").await.unwrap();
    assert_eq!(bridge.activity().pings, vec![Some("ping-1".to_owned())]);

    // A room alias in the bridge's namespace: the homeserver asks the bridge.
    let alice = register(base, "alice").await;
    let alias = format!("#echo_lobby:{server}");
    let cs::join_room::Response::Ok(joined) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    let room = joined.room_id.to_string();
    assert_eq!(bridge.activity().rooms.get(&alias), Some(&room));

    // Alice speaks; the parrot answers.
    let path = json!({ "roomId": room, "eventType": "m.room.message", "txnId": "t1" });
    let cs::send_message::Response::Ok(_) = alice
        .client
        .send_message(req(
            path,
            json!({}),
            json!({ "msgtype": "m.text", "body": "hello bridge" }),
        ))
        .await
        .unwrap();
    let parrot = format!("@echo_parrot:{server}");
    eventually("the parrot's answer", async || {
        let messages = messages(&alice, &room).await;
        messages
            .contains(&(parrot.clone(), "echo: hello bridge".to_owned()))
            .then_some(())
    })
    .await;

    // Alice types, and reads the parrot's answer: the bridge asked for
    // ephemeral data, so it is told, with the room's ID.
    let alice_id = format!("@alice:{server}");
    let path = json!({ "roomId": room, "userId": alice_id });
    let cs::set_typing::Response::Ok(_) = alice
        .client
        .set_typing(req(path, json!({}), json!({ "typing": true, "timeout": 30000 })))
        .await
        .unwrap();
    let answer = last_event_id(&alice, &room).await;
    let path = json!({ "roomId": room, "receiptType": "m.read", "eventId": answer });
    let cs::post_receipt::Response::Ok(_) = alice
        .client
        .post_receipt(req(path, json!({}), json!({})))
        .await
        .unwrap();
    let ephemeral_seen = eventually("Alice's typing and receipt at the bridge", async || {
        let mut seen: Vec<String> = bridge
            .activity()
            .ephemeral
            .iter()
            .filter(|e| e.room_id.as_deref() == Some(room.as_str()) && e.users.contains(&alice_id))
            .map(|e| e.event_type.clone())
            .collect();
        seen.sort();
        seen.dedup();
        (seen.len() == 2).then_some(seen)
    })
    .await;

    // An unknown puppet invited to a room of Alice's: the homeserver asks
    // the bridge for the user, the bridge registers it, and the puppet joins.
    let zed = format!("@echo_zed:{server}");
    let cs::create_room::Response::Ok(own) = alice
        .client
        .create_room(req(json!({}), json!({}), json!({ "invite": [zed] })))
        .await
        .unwrap();
    let own = own.room_id.to_string();
    eventually("the puppet joining", async || {
        (membership(&alice, &own, &zed).await.as_deref() == Some("join")).then_some(())
    })
    .await;
    assert!(bridge.activity().puppets.contains(&zed));

    // Third-party lookups reach the bridge through the homeserver.
    let token = &alice.token;
    let protocols = get_json(base, token, "/_matrix/client/v3/thirdparty/protocols").await;
    let users = get_json(base, token, "/_matrix/client/v3/thirdparty/user/echo?name=bob").await;
    let locations = get_json(base, token, "/_matrix/client/v3/thirdparty/location/echo?room=lobby").await;

    // The reverse lookups (by Matrix ID, by alias), asked of the bridge
    // directly, as a homeserver would (Synapse passes on none: without a
    // protocol it asks no application service).
    let as_homeserver = |token: &str| {
        matrix_api::application_service::endpoints::Client(Client::new(bridge_url).with_access_token(token))
    };
    let homeserver = as_homeserver(hs_token);
    use matrix_api::application_service::endpoints::{query_location_by_alias, query_user_by_id};
    let bob = format!("@echo_bob:{server}");
    let query_user_by_id::Response::Ok(found) = homeserver
        .query_user_by_id(req(json!({}), json!({ "userid": bob }), json!({})))
        .await
        .unwrap();
    assert_eq!(found[0].fields["name"], "bob", "{found:?}");
    let query_location_by_alias::Response::Ok(found) = homeserver
        .query_location_by_alias(req(json!({}), json!({ "alias": alias }), json!({})))
        .await
        .unwrap();
    assert_eq!(found[0].fields["room"], "lobby", "{found:?}");

    // The homeserver's token is checked.
    let refused = as_homeserver("not-the-hs-token")
        .send_transaction(req(json!({ "txnId": "forged" }), json!({}), json!({ "events": [] })))
        .await;
    match refused {
        Err(ClientError::Matrix(e)) => assert_eq!((e.status, e.errcode().as_str()), (403, "M_FORBIDDEN")),
        other => panic!("a wrong hs_token: {other:?}"),
    }
    let activity = bridge.activity();
    assert!(!activity.transactions.contains_key("forged"));
    assert!(activity.failures.is_empty(), "{:?}", activity.failures);
    // Names that hold the server's name are compared without it.
    let unnamed = |v: Value| serde_json::from_str::<Value>(&v.to_string().replace(server, "SERVER")).unwrap();
    Outcome {
        echoed: activity.echoed.clone(),
        puppets_made: activity.puppets.len(),
        protocols: unnamed(protocols),
        user_lookup: unnamed(users),
        location_lookup: unnamed(locations),
        ephemeral_seen,
        transactions_once: !activity.transactions.is_empty() && activity.transactions.values().all(|n| *n == 1),
    }
}

async fn against_synapse() -> Outcome {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge_url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = bridge_config("localhost");
    let registration = serde_norway::to_string(&config.registration(&bridge_url)).unwrap();
    let synapse = tokio::task::spawn_blocking(move || Synapse::start_with_appservice(&registration))
        .await
        .unwrap();
    config.homeserver = synapse.base_url.clone();
    let bridge = Bridge::start(config.clone());
    tokio::spawn(matrix_api_runtime::server::serve(listener, bridge.router()));
    drives(&synapse.base_url, "localhost", &bridge, &bridge_url, &config.hs_token).await
}

/// Our homeserver in process with the bridge registered; the bridge is
/// served behind `faults`, which can make it answer transactions with `500`.
struct Ours {
    base: String,
    name: String,
    bridge: Bridge,
    faults: Failing,
    bridge_url: String,
    hs_token: String,
    _dir: tempfile::TempDir,
}

async fn start_ours() -> Ours {
    let dir = tempfile::tempdir().unwrap();
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    drop(federation);
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", client.local_addr().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge_url = format!("http://{}", listener.local_addr().unwrap());
    let mut bridge_config = bridge_config(&name);
    bridge_config.homeserver = base.clone();
    let registration = dir.path().join("echo.yaml");
    let yaml = serde_norway::to_string(&bridge_config.registration(&bridge_url)).unwrap();
    std::fs::write(&registration, yaml).unwrap();
    let mut config = server::Config::new(&name, &dir.path().join("hs.db"));
    config.rate_limit = None;
    config.appservices = vec![registration];
    let routers = server::routers(config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));
    let bridge = Bridge::start(bridge_config.clone());
    let faults = Failing::new(bridge.router(), "/_matrix/app/v1/transactions/");
    tokio::spawn(matrix_api_runtime::server::serve(listener, faults.router.clone()));
    Ours {
        base,
        name,
        bridge,
        faults,
        bridge_url,
        hs_token: bridge_config.hs_token,
        _dir: dir,
    }
}

async fn against_ours() -> Outcome {
    let ours = start_ours().await;
    drives(&ours.base, &ours.name, &ours.bridge, &ours.bridge_url, &ours.hs_token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synapse_and_ours_drive_the_example_bridge_alike() {
    let theirs = against_synapse().await;
    let ours = against_ours().await;
    println!("Synapse: {theirs:#?}\nours: {ours:#?}");
    assert_eq!(theirs.echoed, vec!["echo: hello bridge".to_owned()]);
    assert!(theirs.transactions_once);
    assert_eq!(theirs.protocols["echo"]["user_fields"], json!(["name"]));
    assert_eq!(theirs.ephemeral_seen, ["m.receipt", "m.typing"]);
    assert_eq!(ours, theirs, "our homeserver drives the bridge otherwise than Synapse");
}

/// The bridge failing for a while (`500` to every transaction): our
/// homeserver sends the same transaction again, with growing delays, and
/// once the bridge answers, every message arrives, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_bridge_gets_every_transaction_afterwards_in_order() {
    let ours = start_ours().await;
    let alice = register(&ours.base, "alice").await;
    let alias = format!("#echo_lobby:{}", ours.name);
    let cs::join_room::Response::Ok(joined) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    let room = joined.room_id.to_string();
    // Up to date before the fault: the bridge has what it was sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = ours.bridge.activity().transactions.len();

    ours.faults.fail(true);
    let said: Vec<String> = (0..5).map(|i| format!("message {i}")).collect();
    for (i, text) in said.iter().enumerate() {
        let path = json!({ "roomId": room, "eventType": "m.room.message", "txnId": format!("m{i}") });
        let cs::send_message::Response::Ok(_) = alice
            .client
            .send_message(req(path, json!({}), json!({ "msgtype": "m.text", "body": text })))
            .await
            .unwrap();
    }
    eventually("two refused deliveries", async || {
        (ours.faults.refused().len() >= 2).then_some(())
    })
    .await;
    let refused_ids = ours.faults.refused();
    // Each retry is the same transaction.
    assert!(refused_ids.windows(2).all(|w| w[0] == w[1]), "{refused_ids:?}");
    assert_eq!(ours.bridge.activity().transactions.len(), before);
    ours.faults.fail(false);

    let echoes: Vec<String> = said.iter().map(|text| format!("echo: {text}")).collect();
    eventually("every echo", async || {
        (ours.bridge.activity().echoed.len() >= echoes.len()).then_some(())
    })
    .await;
    let activity = ours.bridge.activity();
    assert_eq!(activity.echoed, echoes, "in order, each once");
    assert!(
        activity.transactions.contains_key(&refused_ids[0]),
        "the refused transaction arrived"
    );
    assert!(
        activity.transactions.values().all(|n| *n == 1),
        "{:?}",
        activity.transactions
    );
    assert!(activity.failures.is_empty(), "{:?}", activity.failures);
}

/// The bridge down (nothing listening at its URL) while a room it is
/// interested in goes on: once it listens, every event arrives, in order,
/// and every transaction once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_down_for_a_while_gets_every_event_in_order_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    drop(federation);
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", client.local_addr().unwrap());
    // The bridge's address, free until the bridge comes up.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bridge_address = reserved.local_addr().unwrap();
    drop(reserved);
    let bridge_url = format!("http://{bridge_address}");
    let mut bridge_config = bridge_config(&name);
    bridge_config.homeserver = base.clone();
    let registration = dir.path().join("echo.yaml");
    std::fs::write(
        &registration,
        serde_norway::to_string(&bridge_config.registration(&bridge_url)).unwrap(),
    )
    .unwrap();
    let mut config = server::Config::new(&name, &dir.path().join("hs.db"));
    config.rate_limit = None;
    config.appservices = vec![registration];
    let routers = server::routers(config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));

    // The bridge's own user, through the application service API (as the
    // bridge would): registered, and in a public room of its own.
    let as_bridge = Client::new(&base).with_access_token(bridge_config.as_token.clone());
    let body = json!({ "type": "m.login.application_service", "username": "echo_zed", "inhibit_login": true });
    let cs::register::Response::Ok(_) = cs::Client(as_bridge.clone())
        .register(req(json!({}), json!({}), body))
        .await
        .unwrap()
    else {
        panic!("the application service's registration asked for more");
    };
    let zed = cs::Client(as_bridge.with_query("user_id", format!("@echo_zed:{name}")));
    let cs::create_room::Response::Ok(room) = zed
        .create_room(req(json!({}), json!({}), json!({ "preset": "public_chat" })))
        .await
        .unwrap();
    let room = room.room_id.to_string();
    let alice = register(&base, "alice").await;
    let cs::join_room::Response::Ok(_) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": room }), json!({}), json!({})))
        .await
        .unwrap();
    let said: Vec<String> = (0..4).map(|i| format!("while down {i}")).collect();
    for (i, text) in said.iter().enumerate() {
        let path = json!({ "roomId": room, "eventType": "m.room.message", "txnId": format!("d{i}") });
        let cs::send_message::Response::Ok(_) = alice
            .client
            .send_message(req(path, json!({}), json!({ "msgtype": "m.text", "body": text })))
            .await
            .unwrap();
    }
    // Down for a while: the homeserver tries, fails, and waits longer.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let bridge = Bridge::start(bridge_config);
    let listener = tokio::net::TcpListener::bind(bridge_address).await.unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(listener, bridge.router()));
    eventually("every message", async || {
        (bridge.activity().messages.len() >= said.len()).then_some(())
    })
    .await;
    let activity = bridge.activity();
    assert_eq!(activity.messages, said, "in order, each once");
    assert!(
        activity.transactions.values().all(|n| *n == 1),
        "{:?}",
        activity.transactions
    );
    let numbers: Vec<u64> = activity.order.iter().map(|id| id.parse().unwrap()).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "transactions in order: {numbers:?}"
    );
}

/// Presence, which the Synapse of these tests has switched off: our
/// homeserver tells the bridge of the presence of a member of its portal
/// room, and not of a user who shares no room with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_homeserver_tells_the_bridge_of_presence_in_its_rooms_only() {
    let ours = start_ours().await;
    let alice = register(&ours.base, "alice").await;
    let bob = register(&ours.base, "bob").await;
    let alias = format!("#echo_lobby:{}", ours.name);
    let cs::join_room::Response::Ok(_) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    let set = |person: &Person, user: String, text: &'static str| {
        let client = person.client.clone();
        async move {
            let body = json!({ "presence": "online", "status_msg": text });
            let cs::set_presence::Response::Ok(_) = client
                .set_presence(req(json!({ "userId": user }), json!({}), body))
                .await
                .unwrap();
        }
    };
    let (alice_id, bob_id) = (format!("@alice:{}", ours.name), format!("@bob:{}", ours.name));
    set(&bob, bob_id.clone(), "elsewhere").await;
    set(&alice, alice_id.clone(), "bridging").await;
    eventually("Alice's presence at the bridge", async || {
        let activity = ours.bridge.activity();
        let found = activity
            .ephemeral
            .iter()
            .any(|e| e.event_type == "m.presence" && e.users == [alice_id.clone()]);
        found.then_some(())
    })
    .await;
    let activity = ours.bridge.activity();
    let presence_of: Vec<&Vec<String>> = activity
        .ephemeral
        .iter()
        .filter(|e| e.event_type == "m.presence")
        .map(|e| &e.users)
        .collect();
    assert!(
        !presence_of.iter().any(|users| users.contains(&bob_id)),
        "{presence_of:?}"
    );
    assert!(
        activity.transactions.values().all(|n| *n == 1),
        "{:?}",
        activity.transactions
    );
}
