//! Application services with our homeserver as the real binary
//! (`--appservice FILE`) and the example echo bridge (`matrix_examples`):
//! a transaction the bridge has not acknowledged survives a SIGKILL of the
//! homeserver, is sent again under the same ID after the restart, and is
//! taken once.

use crate::peers::{eventually, register, Ours};
use matrix_api_tests::scenario::req;
use matrix_examples::bridge::{Bridge, BridgeConfig};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    let failing = Arc::new(AtomicBool::new(false));
    let refused: Arc<Mutex<Vec<String>>> = Arc::default();
    let (inner, switch, log) = (bridge.router(), failing.clone(), refused.clone());
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (inner, switch, log) = (inner.clone(), switch.clone(), log.clone());
        async move {
            use axum::response::IntoResponse;
            use tower::ServiceExt;
            let path = request.uri().path().to_owned();
            if let Some(txn) = path.strip_prefix("/_matrix/app/v1/transactions/") {
                if switch.load(Ordering::SeqCst) {
                    log.lock().unwrap().push(txn.to_owned());
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
            inner.oneshot(request).await.into_response()
        }
    });
    tokio::spawn(matrix_api_runtime::server::serve(listener, router));

    let alice = register(&ours.client_base, "alice").await;
    let alias = format!("#echo_lobby:{}", ours.name);
    let matrix_api::client_server::endpoints::join_room::Response::Ok(joined) = alice
        .client
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    let room = joined.room_id.to_string();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    failing.store(true, Ordering::SeqCst);
    alice.say(&room, "before the restart").await;
    let first = eventually("a refused delivery", || async {
        refused.lock().unwrap().first().cloned()
    })
    .await;
    ours.kill();
    let before = refused.lock().unwrap().len();
    ours.restart();
    eventually("the delivery again after the restart", || async {
        (refused.lock().unwrap().len() > before).then_some(())
    })
    .await;
    let ids = refused.lock().unwrap().clone();
    assert!(
        ids.iter().all(|id| *id == first),
        "one transaction ID throughout: {ids:?}"
    );
    failing.store(false, Ordering::SeqCst);

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
