//! Server discovery through DNS SRV records, end to end: server A is named
//! `hs-a.test`, a name with no address of its own and no `.well-known`;
//! only `_matrix-fed._tcp.hs-a.test` points at `host-a.test` and A's
//! federation port. Server B (an IP literal) finds A through that record,
//! fetches its keys, resolves its alias and joins its room, and the two
//! talk. A DNS server on loopback (`matrix_api_tests::dns`) answers both
//! servers (`Config::dns_server`) and records what it was asked.

use crate::federation::start_in_process;
use crate::peers::register;
use matrix_api_tests::dns::{Data as RData, Name, TestDns, A, SRV};
use serde_json::json;
use std::net::Ipv4Addr;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_found_only_through_its_srv_record_is_joined_and_talked_to() {
    let dir = tempfile::tempdir().unwrap();
    let a_federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a_port = a_federation.local_addr().unwrap().port();
    let dns = TestDns::serve(vec![
        (
            "_matrix-fed._tcp.hs-a.test.",
            RData::SRV(SRV::new(10, 5, a_port, Name::from_ascii("host-a.test.").unwrap())),
        ),
        ("host-a.test.", RData::A(A(Ipv4Addr::LOCALHOST))),
    ])
    .await;
    let with_dns = |config: &mut server::Config| {
        config.rate_limit = None;
        config.dns_server = Some(dns.address);
    };
    let (a_client, _) = start_in_process(dir.path(), "hs-a.test", a_federation, with_dns).await;
    let b_federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_name = b_federation.local_addr().unwrap().to_string();
    let (b_client, _) = start_in_process(dir.path(), &b_name, b_federation, with_dns).await;

    let alice = register(&a_client, "alice").await;
    let bob = register(&b_client, "bob").await;
    assert_eq!(alice.id, "@alice:hs-a.test");
    let room = alice
        .create_room(json!({ "preset": "public_chat", "room_alias_name": "lobby" }))
        .await;

    // B resolves A's alias and joins through A: every request found A by its SRV record.
    bob.join("#lobby:hs-a.test", "hs-a.test").await;
    alice.sees_membership(&room, &bob.id, "join").await;
    bob.say(&room, "found you").await;
    alice.sees_message(&room, "found you").await;
    alice.say(&room, "and I you").await;
    bob.sees_message(&room, "and I you").await;

    let asked = dns.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"SRV _matrix-fed._tcp.hs-a.test.".to_owned()),
        "{asked:?}"
    );
    assert!(asked.contains(&"A host-a.test.".to_owned()), "{asked:?}");
    assert!(
        !asked.iter().any(|q| q.contains("_matrix._tcp.hs-a.test")),
        "the deprecated service is not asked when _matrix-fed answers: {asked:?}"
    );
}
