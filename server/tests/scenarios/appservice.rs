//! Application services with our homeserver as the real binary
//! (`--appservice FILE`) and the example echo bridge (`matrix_examples`):
//! a transaction the bridge has not acknowledged survives a SIGKILL of the
//! homeserver, is sent again under the same ID after the restart, and is
//! taken once.

use crate::peers::{eventually, register, Ours};
use matrix_api_tests::people::Failing;
use matrix_api_tests::scenario::req;
use matrix_examples::bridge::{Bridge, BridgeConfig};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_in_flight_survives_a_restart_and_is_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut ours = Ours::prepare(dir.path(), "hs");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge_url = format!("http://{}", listener.local_addr().unwrap());
    let config = BridgeConfig {
        homeserver: ours.client_base.clone(),
        server_name: ours.name.clone(),
        as_token: "as-token-of-the-echo-bridge".to_owned(),
        hs_token: "hs-token-of-the-echo-bridge".to_owned(),
        sender_localpart: "echobot".to_owned(),
    };
    let registration = dir.path().join("echo.yaml");
    std::fs::write(
        &registration,
        serde_norway::to_string(&config.registration(&bridge_url)).unwrap(),
    )
    .unwrap();
    ours.args = vec!["--appservice".to_owned(), registration.display().to_string()];
    ours.restart();

    // The bridge behind a switch that answers 500 to transactions.
    let bridge = Bridge::start(config);
    let faults = Failing::new(bridge.router(), "/_matrix/app/v1/transactions/");
    tokio::spawn(matrix_api_runtime::server::serve(listener, faults.router.clone()));

    let alice = register(&ours.client_base, "alice").await;
    let alias = format!("#echo_lobby:{}", ours.name);
    let matrix_api::client_server::endpoints::join_room::Response::Ok(joined) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    let room = joined.room_id.to_string();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    faults.fail(true);
    alice.say(&room, "before the restart").await;
    let first = eventually("a refused delivery", || async { faults.refused().first().cloned() }).await;
    ours.kill();
    let before = faults.refused().len();
    ours.restart();
    eventually("the delivery again after the restart", || async {
        (faults.refused().len() > before).then_some(())
    })
    .await;
    let ids = faults.refused();
    assert!(
        ids.iter().all(|id| *id == first),
        "one transaction ID throughout: {ids:?}"
    );
    faults.fail(false);

    eventually("the echo", || async {
        (!bridge.activity().echoed.is_empty()).then_some(())
    })
    .await;
    let activity = bridge.activity();
    assert_eq!(activity.echoed, vec!["echo: before the restart".to_owned()]);
    assert_eq!(
        activity.transactions.get(&first),
        Some(&1),
        "{:?}",
        activity.transactions
    );
    assert!(activity.failures.is_empty(), "{:?}", activity.failures);
}

/// Rate limits as an application service's registration sets them (the
/// spec's `rate_limited`: "whether requests from masqueraded users are
/// rate-limited. The sender is excluded"): its sender is never limited;
/// the users it acts as are, each by itself, unless it registered with
/// `rate_limited: false`; an ordinary user is limited as always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_spare_the_sender_and_count_each_puppet_by_itself() {
    use matrix_api::application_service::{Namespace, Namespaces, Registration};
    use matrix_api::client_server::endpoints as cs;
    use matrix_api_runtime::client::{Client, ClientError};

    let dir = tempfile::tempdir().unwrap();
    let name = "limits.test";
    let service = |id: &str, rate_limited: Option<bool>| {
        let users = Some(vec![Namespace::new(format!("@{id}_.*:limits\\.test"), true)]);
        let namespaces = Namespaces {
            users,
            aliases: None,
            rooms: None,
        };
        let mut registration = Registration::new(
            id.to_owned(),
            None,
            format!("as-token-{id}"),
            format!("hs-token-{id}"),
            format!("{id}bot"),
            namespaces,
        );
        registration.rate_limited = rate_limited;
        let file = dir.path().join(format!("{id}.yaml"));
        std::fs::write(&file, serde_norway::to_string(&registration).unwrap()).unwrap();
        file
    };
    let mut config = server::Config::new(name, &dir.path().join("hs.db"));
    config.rate_limit = Some(matrix_api_runtime::server::RateLimit {
        burst: 2,
        per_second: 0.01,
    });
    config.appservices = vec![service("limited", None), service("free", Some(false))];
    let routers = server::routers(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(matrix_api_runtime::server::serve(listener, routers.client));

    let as_service = |id: &str| Client::new(&base).with_access_token(format!("as-token-{id}"));
    // Puppets, registered by their services (as the sender: not limited).
    for (id, puppet) in [("limited", "limited_a"), ("limited", "limited_b"), ("free", "free_a")] {
        let body = json!({ "type": "m.login.application_service", "username": puppet, "inhibit_login": true });
        let cs::register::Response::Ok(_) = cs::Client(as_service(id))
            .register(req(json!({}), json!({}), body))
            .await
            .unwrap()
        else {
            panic!("registering {puppet} asked for more");
        };
    }
    // How many of `n` capability requests are answered before a 429.
    let answered = |client: Client, n: usize| async move {
        let client = cs::Client(client);
        for i in 0..n {
            match client.get_capabilities(cs::get_capabilities::Request::new()).await {
                Ok(_) => {}
                Err(ClientError::Matrix(e)) if e.status == 429 => return i,
                Err(e) => panic!("capabilities: {e}"),
            }
        }
        n
    };
    let acting_as = |id: &str, user: &str| as_service(id).with_query("user_id", format!("@{user}:{name}"));

    assert_eq!(answered(as_service("limited"), 6).await, 6, "the sender is not limited");
    assert_eq!(
        answered(acting_as("limited", "limitedbot"), 6).await,
        6,
        "nor is the sender named by the assertion"
    );
    assert_eq!(
        answered(acting_as("limited", "limited_a"), 6).await,
        2,
        "a puppet is limited"
    );
    assert_eq!(
        answered(acting_as("limited", "limited_b"), 6).await,
        2,
        "another puppet has its own allowance"
    );
    assert_eq!(
        answered(acting_as("free", "free_a"), 6).await,
        6,
        "rate_limited: false spares the puppets"
    );
    let alice = crate::peers::register(&base, "alice").await;
    assert_eq!(
        answered(alice.client.0.clone(), 6).await,
        2,
        "an ordinary user is limited"
    );
}
