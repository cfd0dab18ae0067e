//! Push gateways with our homeserver as the real binary and the example
//! gateway (`matrix_examples::push_gateway`): a notification the gateway
//! has not acknowledged survives a SIGKILL of the homeserver and is pushed
//! after the restart, once; the ones acknowledged before are not pushed
//! again.

use crate::peers::{eventually, register, Ours};
use matrix_api::client_server::endpoints as cs;
use matrix_api_tests::people::Failing;
use matrix_api_tests::scenario::req;
use matrix_examples::push_gateway::PushGateway;
use serde_json::json;

const APP_ID: &str = "org.example.chat";
const PUSHKEY: &str = "bobs-phone";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_in_flight_survives_a_restart_and_is_pushed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut ours = Ours::start(dir.path(), "hs");
    let gateway = PushGateway::knowing(&[(APP_ID, PUSHKEY)]);
    let faults = Failing::new(gateway.router(), "/_matrix/push/v1/notify");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/_matrix/push/v1/notify", listener.local_addr().unwrap());
    tokio::spawn(matrix_api_runtime::server::serve(listener, faults.router.clone()));

    let alice = register(&ours.client_base, "alice").await;
    let bob = register(&ours.client_base, "bob").await;
    let pusher = json!({
        "pushkey": PUSHKEY, "kind": "http", "app_id": APP_ID, "app_display_name": "Chat",
        "device_display_name": "Bob's phone", "lang": "en", "data": { "url": url },
    });
    let cs::post_pusher::Response::Ok(_) = bob.client.post_pusher(req(json!({}), json!({}), pusher)).await.unwrap();
    let room = alice
        .create_room(json!({ "invite": [bob.id], "is_direct": true }))
        .await;
    bob.join(&room, &ours.name).await;
    let pushed = || -> Vec<String> {
        let delivered = gateway.delivered();
        delivered.into_iter().filter_map(|d| d.notification.event_id).collect()
    };

    let before = alice.say(&room, "before the fault").await;
    eventually("the first notification", || async {
        pushed().contains(&before).then_some(())
    })
    .await;

    faults.fail(true);
    let in_flight = alice.say(&room, "while the gateway fails").await;
    eventually("a refused push", || async {
        (!faults.refused().is_empty()).then_some(())
    })
    .await;
    ours.kill();
    faults.fail(false);
    ours.restart();
    eventually("the push after the restart", || async {
        pushed().contains(&in_flight).then_some(())
    })
    .await;
    // Given time for a second copy, there is none.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let all = pushed();
    let messages: Vec<&String> = all.iter().filter(|id| [&before, &in_flight].contains(id)).collect();
    assert_eq!(messages, [&before, &in_flight], "each once, in order");
    // Bob's invite was pushed too, before the fault: once.
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "nothing pushed twice: {all:?}");
}
