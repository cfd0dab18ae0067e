//! The server's federation identity as another server sees it: the keys it
//! publishes are signed by themselves and stay the same across restarts,
//! and `/version` names the implementation. Over the federation listener of
//! the real binary (`--federation-listen`).

use crate::common::ServerProcess;
use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::signing::verify_json;
use serde_json::json;
use std::io::BufRead;
use std::process::{Command, Stdio};

/// Starts the binary with both listeners on ports the OS picks; returns the
/// federation base URL (from the second line it prints).
fn spawn(db: &std::path::Path) -> (ServerProcess, String) {
    let mut server = ServerProcess(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--server-name", "fed.test", "--listen", "127.0.0.1:0"])
            .args(["--federation-listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("federation for fed.test on "),
        "unexpected line: {line}"
    );
    let base = line.rsplit(' ').next().unwrap().trim().to_owned();
    (server, base)
}

/// HTTPS that accepts the servers' self-signed certificates.
fn insecure_https() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// A federation client for `base`, signing as nobody or as `signer`.
pub(crate) fn federation_client(base: &str, signer: Option<matrix_api_runtime::client::Signer>) -> ss::Client {
    let client = matrix_api_runtime::client::Client::new(base).with_http(insecure_https());
    ss::Client(match signer {
        Some(signer) => client.with_signer(signer),
        None => client,
    })
}

async fn keys(base: &str) -> matrix_api::server_server::Keys {
    let ss::get_server_key::Response::Ok(keys) = federation_client(base, None)
        .get_server_key(ss::get_server_key::Request::new())
        .await
        .unwrap();
    keys
}

#[tokio::test]
async fn published_keys_are_self_signed_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hs.db");
    let (server, base) = spawn(&db);
    let first = keys(&base).await;
    assert_eq!(first.server_name, "fed.test");
    assert_eq!(first.verify_keys.len(), 1);
    let (key_id, key) = first.verify_keys.iter().next().unwrap();
    assert!(key_id.starts_with("ed25519:"), "{key_id}");
    let bytes: [u8; 32] = base64::Engine::decode(&base64::engine::general_purpose::STANDARD_NO_PAD, &key.key)
        .unwrap()
        .try_into()
        .unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap();
    let signed = serde_json::to_value(&first).unwrap();
    verify_json(&signed, "fed.test", key_id, &public).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(first.valid_until_ts > now + 3_600_000, "valid for at least an hour");
    // A changed field no longer verifies: the signature covers the keys.
    let mut forged = signed.clone();
    forged["valid_until_ts"] = serde_json::json!(first.valid_until_ts + 1);
    assert!(verify_json(&forged, "fed.test", key_id, &public).is_err());

    drop(server);
    let (_server, base) = spawn(&db);
    let again = keys(&base).await;
    assert_eq!(again.verify_keys, first.verify_keys, "the same key after a restart");

    let ss::get_version::Response::Ok(version) = federation_client(&base, None)
        .get_version(ss::get_version::Request::new())
        .await
        .unwrap();
    assert_eq!(version.server.unwrap().name.as_deref(), Some("server"));
}

use crate::common::{register, req};
use matrix_api::client_server::endpoints as cs;
use server::federation::pdu::VersionRules;
use server::store::Storage;

/// Every event the server appends is a signed PDU of its room's version:
/// named by its reference hash, chained through `prev_events` with rising
/// `depth`, authorized by the events the spec selects, verifiable with the
/// server's published key, and redacted in place when redacted.
#[tokio::test]
async fn appended_events_are_signed_pdus_of_their_room_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hs.db");
    let config = server::Config::new("pdu.test", &db);
    let key_file = config.signing_key.clone();
    let router = server::router_with(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(matrix_api_runtime::server::serve(listener, router));
    let alice = register(&base, "alice").await;
    let identity = server::federation::SigningIdentity::load_or_create(&key_file, "pdu.test").unwrap();

    for version in ["1", "3", "10", "11", "12"] {
        let cs::create_room::Response::Ok(room) = alice
            .create_room(req(
                json!({}),
                json!({}),
                json!({ "room_version": version, "name": "r" }),
            ))
            .await
            .unwrap();
        let room_id = room.room_id.to_string();
        let mut sent = Vec::new();
        for body in ["one", "two"] {
            let cs::send_message::Response::Ok(r) = alice
                .send_message(req(
                    json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": format!("{version}{body}") }),
                    json!({}),
                    json!({ "msgtype": "m.text", "body": body }),
                ))
                .await
                .unwrap();
            sent.push(r.event_id.to_string());
        }
        let cs::redact_event::Response::Ok(_) = alice
            .redact_event(req(
                json!({ "roomId": room_id, "eventId": sent[0], "txnId": format!("r{version}") }),
                json!({}),
                json!({}),
            ))
            .await
            .unwrap();

        let store = server::store::SqlStore::open(&db).unwrap();
        let rules = VersionRules::of(version).unwrap();
        let events = store.events_between(&room_id, 0, store.max_stream().unwrap()).unwrap();
        let mut previous: Option<(String, i64)> = None;
        for event in &events {
            let pdu = store.pdu(&event.event_id).unwrap().expect("every new event has a PDU");
            rules
                .verify_signature(&pdu, "pdu.test", &identity.key_id, &identity.verifying_key())
                .unwrap_or_else(|e| panic!("v{version} {}: {e}", event.event_type));
            if rules.event_id_in_event() {
                assert_eq!(pdu["event_id"], json!(event.event_id), "v{version}");
            } else {
                assert_eq!(
                    rules.event_id(&pdu).as_deref(),
                    Some(event.event_id.as_str()),
                    "v{version}"
                );
            }
            let depth = pdu["depth"].as_i64().unwrap();
            let prevs: Vec<String> = pdu["prev_events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().or_else(|| p[0].as_str()).unwrap().to_owned())
                .collect();
            match &previous {
                None => {
                    assert_eq!(event.event_type, "m.room.create");
                    assert_eq!(
                        (depth, prevs.len()),
                        (1, 0),
                        "v{version}: the create event starts the graph"
                    );
                    if version == "12" {
                        assert!(!pdu.contains_key("room_id"));
                        assert_eq!(
                            &room_id[1..],
                            &event.event_id[1..],
                            "v12: the room ID is the create event's hash"
                        );
                    }
                }
                Some((id, previous_depth)) => {
                    assert_eq!(prevs, std::slice::from_ref(id), "v{version}: one linear chain");
                    assert_eq!(depth, previous_depth + 1, "v{version}");
                }
            }
            previous = Some((event.event_id.clone(), depth));
        }
        // A message is authorized by create (not from v12), levels and the sender's join.
        let message = store.pdu(&sent[1]).unwrap().unwrap();
        let auth = message["auth_events"].as_array().unwrap().len();
        assert_eq!(auth, if version == "12" { 2 } else { 3 }, "v{version}: {message:?}");
        // The redacted message keeps a valid signature, and its content is gone.
        let redacted = store.pdu(&sent[0]).unwrap().unwrap();
        assert_eq!(redacted["content"], json!({}), "v{version}");
        rules
            .verify_signature(&redacted, "pdu.test", &identity.key_id, &identity.verifying_key())
            .unwrap();
        assert!(!rules.content_hash_matches(&redacted));
        let extremities = store.forward_extremities(&room_id).unwrap();
        assert_eq!(extremities.len(), 1);
        assert_eq!(extremities[0].0, events.last().unwrap().event_id);
    }
    task.abort();
}

/// One homeserver in-process, named after its federation port, serving
/// both APIs on loopback; returns its name and both base URLs.
async fn start_named(dir: &std::path::Path) -> (String, String, String, server::Config) {
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let (client_base, config) = start_in_process(dir, &name, federation, |_| {}).await;
    (name.clone(), client_base, format!("https://{name}"), config)
}

/// One homeserver in-process named `name`, serving federation on
/// `federation` and its client API on a port of its own, its configuration
/// adjusted by `adjust`; its client base URL and configuration.
pub(crate) async fn start_in_process(
    dir: &std::path::Path,
    name: &str,
    federation: tokio::net::TcpListener,
    adjust: impl FnOnce(&mut server::Config),
) -> (String, server::Config) {
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client_base = format!("http://{}", client.local_addr().unwrap());
    let mut config = server::Config::new(name, &dir.join(format!("{}.db", name.replace([':', '.'], "_"))));
    config.verify_remote_certificates = false;
    adjust(&mut config);
    let tls = server::federation_tls(&config).unwrap();
    let routers = server::routers(config.clone()).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        federation,
        routers.federation,
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
    (client_base, config)
}

fn signer_of(config: &server::Config, destination: &str) -> matrix_api_runtime::client::Signer {
    let identity =
        server::federation::SigningIdentity::load_or_create(&config.signing_key, &config.server_name).unwrap();
    matrix_api_runtime::client::Signer {
        origin: config.server_name.clone(),
        destination: destination.to_owned(),
        key_id: identity.key_id.clone(),
        key: identity.signing_key().clone(),
    }
}

/// A signed request from one of our servers to another over TLS: the
/// receiver fetches the sender's key from the sender itself and answers;
/// a request signed with another key, from a server that cannot be
/// reached, or not signed at all is refused with `401`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_checked_against_keys_fetched_from_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, _, _, a_config) = start_named(dir.path()).await;
    let (b_name, b_client, b_federation, _) = start_named(dir.path()).await;
    let bob = register(&b_client, "bob").await;
    let cs::set_profile_field::Response::Ok(_) = bob
        .set_profile_field(req(
            json!({ "userId": format!("@bob:{b_name}"), "keyName": "displayname" }),
            json!({}),
            json!({ "displayname": "Bob" }),
        ))
        .await
        .unwrap();

    let profile_request = |field: Option<&str>| -> ss::query_profile::Request {
        let mut query = json!({ "user_id": format!("@bob:{b_name}") });
        if let Some(field) = field {
            query["field"] = json!(field);
        }
        req(json!({}), query, json!({}))
    };
    let signed = federation_client(&b_federation, Some(signer_of(&a_config, &b_name)));
    let ss::query_profile::Response::Ok(profile) = signed.query_profile(profile_request(None)).await.unwrap();
    assert_eq!(profile.displayname.as_deref(), Some("Bob"));
    let ss::query_profile::Response::Ok(profile) =
        signed.query_profile(profile_request(Some("avatar_url"))).await.unwrap();
    assert_eq!(profile.displayname, None, "only the field asked for");

    let status = |result: Result<ss::query_profile::Response, matrix_api_runtime::client::ClientError>| match result {
        Err(matrix_api_runtime::client::ClientError::Matrix(e)) => (e.status, e.errcode().as_str().to_owned()),
        other => panic!("expected a Matrix error, got {other:?}"),
    };
    let mut forged = signer_of(&a_config, &b_name);
    forged.key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let answer = federation_client(&b_federation, Some(forged))
        .query_profile(profile_request(None))
        .await;
    assert_eq!(
        status(answer),
        (401, "M_UNAUTHORIZED".to_owned()),
        "another key, same key ID"
    );
    let mut unreachable = signer_of(&a_config, &b_name);
    unreachable.origin = "127.0.0.1:1".to_owned();
    let answer = federation_client(&b_federation, Some(unreachable))
        .query_profile(profile_request(None))
        .await;
    assert_eq!(
        status(answer),
        (401, "M_UNAUTHORIZED".to_owned()),
        "an origin that cannot be asked"
    );
    let answer = federation_client(&b_federation, None)
        .query_profile(profile_request(None))
        .await;
    assert_eq!(status(answer), (401, "M_UNAUTHORIZED".to_owned()), "unsigned");
    let mut elsewhere = signer_of(&a_config, &b_name);
    elsewhere.destination = "other.example".to_owned();
    let answer = federation_client(&b_federation, Some(elsewhere))
        .query_profile(profile_request(None))
        .await;
    assert_eq!(
        status(answer),
        (401, "M_UNAUTHORIZED".to_owned()),
        "signed for another destination"
    );
    let _ = a_name;
}

/// A fetched key is stored: a server restarted on the same database knows
/// it without asking its origin again, until it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_keys_are_kept_across_restarts_until_they_expire() {
    use matrix_api_runtime::server::KeyLookup;
    use server::federation::discovery::Discovery;
    use server::federation::keys::RemoteKeys;
    use server::store::{ServerKey, SqlStore, Storage};
    let now_ms = || {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        i64::try_from(since_epoch.as_millis()).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let (a_name, _, _, a_config) = start_named(dir.path()).await;
    let own = |name: &str| {
        let path = dir.path().join(format!("{name}.key"));
        std::sync::Arc::new(server::federation::SigningIdentity::load_or_create(&path, name).unwrap())
    };
    let db = dir.path().join("observer.db");
    let key_id = signer_of(&a_config, "observer").key_id;

    let store: std::sync::Arc<dyn Storage> = std::sync::Arc::new(SqlStore::open(&db).unwrap());
    let discovery = |verify| std::sync::Arc::new(Discovery::new(None, verify).unwrap());
    let first = RemoteKeys::new(own("observer"), discovery(false), store);
    assert!(first.key(&a_name, &key_id).is_none(), "not known before it is fetched");
    let fetched = first.fetch(&a_name, &key_id).await.expect("fetched from its origin");
    drop(first);

    // A new process: nothing in memory, and an HTTP client that cannot
    // reach anything, as it refuses self-signed certificates (`key` never
    // fetches).
    let store: std::sync::Arc<dyn Storage> = std::sync::Arc::new(SqlStore::open(&db).unwrap());
    let stored = store.server_key(&a_name, &key_id).unwrap().expect("stored");
    assert!(stored.valid_until_ts > now_ms());
    let restarted = RemoteKeys::new(own("observer"), discovery(true), store.clone());
    assert_eq!(
        restarted.key(&a_name, &key_id),
        Some(fetched),
        "known after the restart"
    );

    let expired = ServerKey {
        valid_until_ts: now_ms() - 1,
        ..stored
    };
    store.set_server_key("expired.example", &key_id, &expired).unwrap();
    let restarted = RemoteKeys::new(own("observer"), discovery(true), store);
    assert_eq!(
        restarted.key("expired.example", &key_id),
        None,
        "an expired key is not used"
    );
    assert_eq!(restarted.key(&a_name, &key_id), Some(fetched));
}

/// This server as a notary (`/_matrix/key/v2/query`): it answers with
/// another server's keys as that server signed them, countersigned; with
/// its own; and leaves out servers it cannot get keys of, or none valid
/// long enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_servers_keys_are_notarised() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, _, a_federation, a_config) = start_named(dir.path()).await;
    let (b_name, _, _, b_config) = start_named(dir.path()).await;
    let identity = |config: &server::Config, name: &str| {
        server::federation::SigningIdentity::load_or_create(&config.signing_key, name).unwrap()
    };
    let (a_identity, b_identity) = (identity(&a_config, &a_name), identity(&b_config, &b_name));
    let notary = federation_client(&a_federation, None);

    let ss::perspectives_key_query::Response::Ok(answer) = notary
        .perspectives_key_query(ss::perspectives_key_query::Request::new(b_name.clone()))
        .await
        .unwrap();
    let keys = answer.server_keys.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].server_name, b_name);
    let signed = serde_json::to_value(&keys[0]).unwrap();
    verify_json(&signed, &b_name, &b_identity.key_id, &b_identity.verifying_key()).expect("signed by B");
    verify_json(&signed, &a_name, &a_identity.key_id, &a_identity.verifying_key()).expect("countersigned by A");

    let criteria = |minimum: Option<i64>| {
        let criteria = matrix_api::server_server::QueryCriteria {
            minimum_valid_until_ts: minimum,
        };
        std::collections::BTreeMap::from([("ed25519:any".to_owned(), criteria)])
    };
    let in_a_week = keys[0].valid_until_ts + 7 * 24 * 60 * 60 * 1000;
    let wanted = std::collections::BTreeMap::from([
        (a_name.clone(), criteria(None)),
        (b_name.clone(), criteria(Some(in_a_week))),
        ("127.0.0.1:1".to_owned(), criteria(None)),
    ]);
    let ss::bulk_perspectives_key_query::Response::Ok(answer) = notary
        .bulk_perspectives_key_query(ss::bulk_perspectives_key_query::Request::new(
            matrix_api::server_server::BulkPerspectivesKeyQueryRequest::new(wanted),
        ))
        .await
        .unwrap();
    let names: Vec<String> = answer.server_keys.unwrap().into_iter().map(|k| k.server_name).collect();
    assert_eq!(
        names,
        vec![a_name.clone()],
        "B's keys expire too soon, 127.0.0.1:1 cannot be asked"
    );
}

/// A user of another server joins a public room here: `make_join` hands
/// out a template in the room's version, the joining server signs it, and
/// `send_join` checks and appends it and answers with the room's state and
/// auth chain; the room's members here see the join. Forged, misdirected
/// and disallowed joins are refused, and nothing of them is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_user_joins_a_room_here_through_make_join_and_send_join() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, a_client, a_federation, _) = start_named(dir.path()).await;
    let (b_name, _, _, b_config) = start_named(dir.path()).await;
    let alice = register(&a_client, "alice").await;
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "preset": "public_chat", "name": "lobby" }),
        ))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    let cs::create_room::Response::Ok(private) = alice
        .create_room(req(json!({}), json!({}), json!({ "preset": "private_chat" })))
        .await
        .unwrap();
    let bob = format!("@bob:{b_name}");
    let versions: Vec<String> = (1..=12).map(|v| v.to_string()).collect();
    let from_b = federation_client(&a_federation, Some(signer_of(&b_config, &a_name)));
    let make_join = |room: &str, user: &str, ver: Option<&[String]>| {
        let mut request = ss::make_join::Request::new(room.to_owned(), user.to_owned());
        request.query.ver = ver.map(<[String]>::to_vec);
        request
    };
    let status = |e: matrix_api_runtime::client::ClientError| match e {
        matrix_api_runtime::client::ClientError::Matrix(e) => (e.status, e.errcode().as_str().to_owned()),
        other => panic!("expected a Matrix error, got {other}"),
    };

    // Refused before any template: another server's user, an invite-only
    // room, a joining server that does not support the room's version.
    let other_user = from_b
        .make_join(make_join(&room_id, &format!("@eve:{a_name}"), Some(&versions)))
        .await;
    assert_eq!(status(other_user.unwrap_err()).0, 403);
    let invite_only = from_b
        .make_join(make_join(private.room_id.as_ref(), &bob, Some(&versions)))
        .await;
    assert_eq!(status(invite_only.unwrap_err()), (403, "M_FORBIDDEN".to_owned()));
    let old_server = from_b.make_join(make_join(&room_id, &bob, None)).await;
    assert_eq!(
        status(old_server.unwrap_err()),
        (400, "M_INCOMPATIBLE_ROOM_VERSION".to_owned())
    );

    let ss::make_join::Response::Ok(template) = from_b
        .make_join(make_join(&room_id, &bob, Some(&versions)))
        .await
        .unwrap();
    let version = template.room_version.clone().unwrap();
    let rules = VersionRules::of(&version).unwrap();
    let serde_json::Value::Object(mut event) = serde_json::to_value(template.event.unwrap()).unwrap() else {
        panic!("the template is not an object");
    };
    assert_eq!(event["room_id"], json!(room_id));
    assert!(event.contains_key("prev_events") && event.contains_key("auth_events") && event.contains_key("depth"));
    let b_identity = server::federation::SigningIdentity::load_or_create(&b_config.signing_key, &b_name).unwrap();
    let sign = |event: &mut serde_json::Map<String, serde_json::Value>, key: &ed25519_dalek::SigningKey| {
        rules.hash_and_sign(event, &b_name, &b_identity.key_id, key);
        rules.event_id(event).unwrap()
    };
    let send_join = |event: &serde_json::Map<String, serde_json::Value>, event_id: &str| {
        ss::send_join_v2::Request::new(
            room_id.clone(),
            event_id.to_owned(),
            serde_json::from_value(serde_json::Value::Object(event.clone())).unwrap(),
        )
    };

    // Signed with a key that is not B's: refused.
    let mut forged = event.clone();
    let forged_id = sign(&mut forged, &ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    let answer = from_b.send_join_v2(send_join(&forged, &forged_id)).await;
    assert_eq!(status(answer.unwrap_err()).0, 403, "a join not signed by its server");
    // Under another event ID than its hash: refused.
    let mut misnamed = event.clone();
    sign(&mut misnamed, b_identity.signing_key());
    let answer = from_b.send_join_v2(send_join(&misnamed, "$not-its-hash")).await;
    assert_eq!(status(answer.unwrap_err()).0, 400);

    let event_id = sign(&mut event, b_identity.signing_key());
    let ss::send_join_v2::Response::Ok(joined) = from_b.send_join_v2(send_join(&event, &event_id)).await.unwrap();
    let state_types: Vec<&str> = joined.state.iter().filter_map(|e| e["type"].as_str()).collect();
    for expected in [
        "m.room.create",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.member",
    ] {
        assert!(state_types.contains(&expected), "{expected} in {state_types:?}");
    }
    assert!(!joined.auth_chain.is_empty());
    assert_eq!(
        joined.servers_in_room.as_deref().map(|s| s[0].as_str()),
        Some(a_name.as_str())
    );

    // Alice sees Bob among the members, and nothing of the refused joins.
    let cs::get_members_by_room::Response::Ok(members) = alice
        .get_members_by_room(req(json!({ "roomId": room_id }), json!({}), json!({})))
        .await
        .unwrap();
    let members = serde_json::to_value(members).unwrap();
    let joined_members: Vec<&str> = members["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"]["membership"] == "join")
        .filter_map(|m| m["state_key"].as_str())
        .collect();
    assert!(joined_members.contains(&bob.as_str()), "{joined_members:?}");
    let store =
        server::store::SqlStore::open(&dir.path().join(format!("{}.db", a_name.replace([':', '.'], "_")))).unwrap();
    // (The forged join had the same event ID: signatures are not hashed.)
    assert_eq!(forged_id, event_id);
    assert_eq!(store.event(&event_id).unwrap().unwrap().sender, bob);
    let stored = store.pdu(&event_id).unwrap().unwrap();
    rules
        .verify_signature(&stored, &b_name, &b_identity.key_id, &b_identity.verifying_key())
        .unwrap();
    assert_eq!(store.forward_extremities(&room_id).unwrap()[0].0, event_id);

    // Bob's server sends his messages in a transaction: each PDU is checked
    // and gets its own result; forged ones and ones the room's rules refuse
    // do not enter the room.
    let id_of = |event_type: &str| {
        joined
            .state
            .iter()
            .find(|e| e["type"] == event_type && e["state_key"] == "")
            .map(|e| rules.event_id(e).unwrap())
            .unwrap()
    };
    let auth = vec![id_of("m.room.create"), id_of("m.room.power_levels"), event_id.clone()];
    let message = |sender: &str, body: &str, key: &ed25519_dalek::SigningKey, prev: &str, depth: i64| {
        let content = json!({ "msgtype": "m.text", "body": body });
        let draft = server::federation::build::Draft {
            room_id: Some(&room_id),
            sender,
            event_type: "m.room.message",
            state_key: None,
            content: &content,
            origin_server_ts: 1,
        };
        let previous = [server::federation::build::Extremity {
            event_id: prev.to_owned(),
            depth,
        }];
        let (mut pdu, _) = server::federation::build::template(&version, &draft, &previous, &auth, |_| None).unwrap();
        rules.hash_and_sign(&mut pdu, &b_name, &b_identity.key_id, key);
        let id = rules.event_id(&pdu).unwrap();
        (pdu, id)
    };
    let depth = event["depth"].as_i64().unwrap();
    let (hello, hello_id) = message(&bob, "hello from B", b_identity.signing_key(), &event_id, depth);
    let (forged, forged_id) = message(
        &bob,
        "forged",
        &ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
        &event_id,
        depth,
    );
    let carol = format!("@carol:{b_name}");
    let (outsider, outsider_id) = message(&carol, "not a member", b_identity.signing_key(), &event_id, depth);
    let transaction =
        |origin: &str, pdus: Vec<serde_json::Map<String, serde_json::Value>>| -> ss::send_transaction::Request {
            req(
                json!({ "txnId": format!("t{}", pdus.len()) }),
                json!({}),
                json!({ "origin": origin, "origin_server_ts": 1, "pdus": pdus }),
            )
        };
    let ss::send_transaction::Response::Ok(results) = from_b
        .send_transaction(transaction(&b_name, vec![hello, forged, outsider]))
        .await
        .unwrap();
    let results = serde_json::to_value(results).unwrap();
    assert_eq!(results["pdus"][&hello_id], json!({}), "{results}");
    assert!(results["pdus"][&forged_id]["error"].is_string(), "{results}");
    assert!(results["pdus"][&outsider_id]["error"].is_string(), "{results}");
    assert_eq!(store.event(&hello_id).unwrap().unwrap().content["body"], "hello from B");
    assert!(store.event(&forged_id).unwrap().is_none());
    assert!(store.event(&outsider_id).unwrap().is_none());
    let cs::get_room_events::Response::Ok(page) = alice
        .get_room_events(req(
            json!({ "roomId": room_id }),
            json!({ "dir": "b", "limit": 1 }),
            json!({}),
        ))
        .await
        .unwrap();
    let page = serde_json::to_value(page).unwrap();
    assert_eq!(page["chunk"][0]["content"]["body"], "hello from B");
    assert_eq!(page["chunk"][0]["sender"], json!(bob));
    // EDUs: Bob types, reads his message and is online; B's claims about
    // Alice, a user of A, are dropped.
    let edus = json!([
        { "edu_type": "m.typing", "content": { "room_id": room_id, "user_id": bob, "typing": true } },
        { "edu_type": "m.typing", "content": { "room_id": room_id, "user_id": format!("@alice:{a_name}"), "typing": true } },
        { "edu_type": "m.receipt", "content": { &room_id: { "m.read": {
            &bob: { "event_ids": [hello_id], "data": { "ts": 1_700_000_000_000i64 } } } } } },
        { "edu_type": "m.presence", "content": { "push": [
            { "user_id": bob, "presence": "online", "status_msg": "from B", "last_active_ago": 5 },
            { "user_id": format!("@alice:{a_name}"), "presence": "offline", "last_active_ago": 5 } ] } },
        { "edu_type": "m.unknown.thing", "content": {} },
    ]);
    let ss::send_transaction::Response::Ok(_) = from_b
        .send_transaction(req(
            json!({ "txnId": "edus" }),
            json!({}),
            json!({ "origin": b_name, "origin_server_ts": 1, "pdus": [], "edus": edus }),
        ))
        .await
        .unwrap();
    let cs::sync::Response::Ok(sync) = alice.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let sync = serde_json::to_value(sync).unwrap();
    let ephemeral = &sync["rooms"]["join"][&room_id]["ephemeral"]["events"];
    let of_type = |events: &serde_json::Value, t: &str| -> Vec<serde_json::Value> {
        events
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"] == t)
            .cloned()
            .collect()
    };
    let typing = of_type(ephemeral, "m.typing");
    assert_eq!(typing.len(), 1, "{ephemeral}");
    assert_eq!(typing[0]["content"]["user_ids"], json!([bob]), "only Bob types");
    let receipts = of_type(ephemeral, "m.receipt");
    assert_eq!(
        receipts[0]["content"][&hello_id]["m.read"][&bob]["ts"],
        json!(1_700_000_000_000i64),
        "{ephemeral}"
    );
    let presence = of_type(&sync["presence"]["events"], "m.presence");
    let of = |user: &str| presence.iter().find(|p| p["sender"] == user).cloned();
    assert_eq!(of(&bob).unwrap()["content"]["status_msg"], "from B", "{presence:?}");
    assert_ne!(
        of(&format!("@alice:{a_name}")).map(|p| p["content"]["presence"].clone()),
        Some(json!("offline")),
        "B cannot set Alice's presence"
    );

    // A transaction whose origin is not the server that signed it.
    let answer = from_b.send_transaction(transaction("elsewhere.example", vec![])).await;
    assert_eq!(status(answer.unwrap_err()).0, 400);

    // The room's history, for a server in it: one event, the state before
    // an event with its auth chain, and earlier events walked back.
    let ss::get_event::Response::Ok(one) = from_b
        .get_event(ss::get_event::Request::new(hello_id.clone()))
        .await
        .unwrap();
    assert_eq!(one.pdus.len(), 1);
    assert_eq!(one.pdus[0]["content"]["body"], "hello from B");
    let ss::get_room_state_ids::Response::Ok(ids) = from_b
        .get_room_state_ids(ss::get_room_state_ids::Request::new(room_id.clone(), event_id.clone()))
        .await
        .unwrap();
    assert!(ids.pdu_ids.contains(&id_of("m.room.create")), "{:?}", ids.pdu_ids);
    assert!(!ids.pdu_ids.contains(&event_id), "the state before Bob's join lacks it");
    assert!(ids.auth_chain_ids.contains(&id_of("m.room.create")));
    let ss::get_room_state_ids::Response::Ok(after_join) = from_b
        .get_room_state_ids(ss::get_room_state_ids::Request::new(room_id.clone(), hello_id.clone()))
        .await
        .unwrap();
    assert!(
        after_join.pdu_ids.contains(&event_id),
        "Bob's join is state before his message"
    );
    let ss::get_room_state::Response::Ok(full) = from_b
        .get_room_state(ss::get_room_state::Request::new(room_id.clone(), hello_id.clone()))
        .await
        .unwrap();
    assert_eq!(full.pdus.len(), after_join.pdu_ids.len());
    let ss::get_event_auth::Response::Ok(auth_of_hello) = from_b
        .get_event_auth(ss::get_event_auth::Request::new(room_id.clone(), hello_id.clone()))
        .await
        .unwrap();
    let auth_ids: Vec<String> = auth_of_hello
        .auth_chain
        .iter()
        .map(|e| rules.event_id(e).unwrap())
        .collect();
    assert!(auth_ids.contains(&event_id) && auth_ids.contains(&id_of("m.room.create")));
    let ss::backfill_room::Response::Ok(back) = from_b
        .backfill_room(req(
            json!({ "roomId": room_id }),
            json!({ "v": [hello_id], "limit": 2 }),
            json!({}),
        ))
        .await
        .unwrap();
    let back_ids: Vec<String> = back.pdus.iter().map(|e| rules.event_id(e).unwrap()).collect();
    assert_eq!(
        back_ids,
        [hello_id.clone(), event_id.clone()],
        "newest first, along prev_events"
    );
    let ss::get_missing_previous_events::Response::Ok(missing) = from_b
        .get_missing_previous_events(req(
            json!({ "roomId": room_id }),
            json!({}),
            json!({ "earliest_events": [id_of("m.room.create")], "latest_events": [hello_id], "limit": 3 }),
        ))
        .await
        .unwrap();
    let missing_ids: Vec<String> = missing.events.iter().map(|e| rules.event_id(e).unwrap()).collect();
    assert_eq!(missing_ids.len(), 3, "{missing_ids:?}");
    assert_eq!(
        missing_ids.last(),
        Some(&event_id),
        "oldest first, ending before the latest"
    );
    assert!(!missing_ids.contains(&hello_id) && !missing_ids.contains(&id_of("m.room.create")));
    let depths: Vec<i64> = missing.events.iter().map(|e| e["depth"].as_i64().unwrap()).collect();
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");

    // A server with nobody in the room reads none of it.
    let (c_name, _, _, c_config) = start_named(dir.path()).await;
    let from_c = federation_client(&a_federation, Some(signer_of(&c_config, &a_name)));
    let outside = from_c
        .get_room_state_ids(ss::get_room_state_ids::Request::new(room_id.clone(), hello_id.clone()))
        .await;
    assert_eq!(status(outside.unwrap_err()).0, 403, "{c_name} is not in the room");
    let outside = from_c.get_event(ss::get_event::Request::new(hello_id.clone())).await;
    assert_eq!(status(outside.unwrap_err()).0, 403);

    // Bob leaves through make_leave and send_leave; a leave for a user of
    // another server is refused.
    let foreign = from_b
        .make_leave(ss::make_leave::Request::new(
            room_id.clone(),
            format!("@alice:{a_name}"),
        ))
        .await;
    assert_eq!(status(foreign.unwrap_err()).0, 403);
    let ss::make_leave::Response::Ok(template) = from_b
        .make_leave(ss::make_leave::Request::new(room_id.clone(), bob.clone()))
        .await
        .unwrap();
    let serde_json::Value::Object(mut leave) = serde_json::to_value(template.event.unwrap()).unwrap() else {
        panic!("the template is not an object");
    };
    assert_eq!(leave["content"]["membership"], "leave");
    let leave_id = sign(&mut leave, b_identity.signing_key());
    let ss::send_leave_v2::Response::Ok(_) = from_b
        .send_leave_v2(ss::send_leave_v2::Request::new(
            room_id.clone(),
            leave_id.clone(),
            serde_json::from_value(serde_json::Value::Object(leave.clone())).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(store.membership(&room_id, &bob).unwrap().as_deref(), Some("leave"));
    assert_eq!(store.forward_extremities(&room_id).unwrap()[0].0, leave_id);
    // Gone, Bob's server no longer reads the room.
    let after_leave = from_b.get_event(ss::get_event::Request::new(hello_id.clone())).await;
    assert_eq!(status(after_leave.unwrap_err()).0, 403);
}

/// A stand-in for another server: publishes its keys and records the
/// transactions it is sent.
struct Recorder {
    identity: server::federation::SigningIdentity,
    received: std::sync::Mutex<Vec<serde_json::Map<String, serde_json::Value>>>,
    /// The EDUs received, with the ID of the transaction that carried each.
    received_edus: std::sync::Mutex<Vec<(String, matrix_api::server_server::Edu)>>,
    /// What `/get_missing_events` answers, and the requests it was asked.
    missing: std::sync::Mutex<Vec<serde_json::Map<String, serde_json::Value>>>,
    asked_missing: std::sync::Mutex<Vec<matrix_api::server_server::GetMissingPreviousEventsRequest>>,
    /// How invites are answered: `sign`, `refuse` or `tamper`; and those received.
    invite_mode: std::sync::Mutex<&'static str>,
    invites: std::sync::Mutex<Vec<matrix_api::server_server::SendInviteV2Request>>,
}

impl Recorder {
    fn new(identity: server::federation::SigningIdentity) -> Recorder {
        Recorder {
            identity,
            received: Default::default(),
            received_edus: Default::default(),
            missing: Default::default(),
            asked_missing: Default::default(),
            invite_mode: std::sync::Mutex::new("sign"),
            invites: Default::default(),
        }
    }
}

/// Serves a stand-in for another server on TLS at `listener` (its name is
/// the listener's address), as a real server would be reached.
fn serve_stand_in<A: ss::ServerServerApi>(
    api: std::sync::Arc<A>,
    listener: tokio::net::TcpListener,
    dir: &std::path::Path,
) {
    let name = listener.local_addr().unwrap().to_string();
    let files = server::federation::tls::TlsFiles {
        certificate: dir.join(format!("{name}.crt").replace([':', '.'], "_")),
        key: dir.join(format!("{name}.tls.key").replace([':', '.'], "_")),
        create_if_missing: true,
    };
    let tls = server::federation::tls::server_config(&files, &name).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        listener,
        ss::router_shared(api, Default::default()),
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
}

/// A stand-in's `/_matrix/key/v2/server` answer: its keys, signed by itself.
fn stand_in_keys(
    identity: &server::federation::SigningIdentity,
) -> Result<ss::get_server_key::Response, matrix_api_runtime::MatrixError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    Ok(ss::get_server_key::Response::Ok(
        server::federation::api::signed_keys(identity, now).unwrap(),
    ))
}

impl ss::ServerServerApi for Recorder {
    async fn get_server_key(
        &self,
        _: ss::get_server_key::Request,
        _: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::get_server_key::Response, matrix_api_runtime::MatrixError> {
        stand_in_keys(&self.identity)
    }

    async fn send_transaction(
        &self,
        request: ss::send_transaction::Request,
        credentials: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::send_transaction::Response, matrix_api_runtime::MatrixError> {
        assert!(credentials.x_matrix.is_some(), "transactions are signed");
        self.received.lock().unwrap().extend(request.body.pdus);
        let txn_id = request.path.txn_id;
        let edus = request.body.edus.unwrap_or_default();
        let mut received_edus = self.received_edus.lock().unwrap();
        received_edus.extend(edus.into_iter().map(|edu| (txn_id.clone(), edu)));
        Ok(ss::send_transaction::Response::Ok(
            matrix_api::server_server::SendTransactionResponse::new(Default::default()),
        ))
    }

    async fn send_invite_v2(
        &self,
        request: ss::send_invite_v2::Request,
        credentials: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::send_invite_v2::Response, matrix_api_runtime::MatrixError> {
        assert!(credentials.x_matrix.is_some(), "requests are signed");
        let body = request.body;
        self.invites.lock().unwrap().push(body.clone());
        let rules = VersionRules::of(&body.room_version).unwrap();
        let serde_json::Value::Object(mut event) = serde_json::to_value(&body.event).unwrap() else {
            unreachable!()
        };
        match *self.invite_mode.lock().unwrap() {
            "refuse" => return Err(matrix_api_runtime::MatrixError::forbidden("not wanted here")),
            "tamper" => {
                event["content"]["membership"] = json!("join");
            }
            _ => {}
        }
        let identity = &self.identity;
        rules.hash_and_sign(
            &mut event,
            &identity.server_name,
            &identity.key_id,
            identity.signing_key(),
        );
        let event = serde_json::from_value(serde_json::Value::Object(event)).unwrap();
        Ok(ss::send_invite_v2::Response::Ok(
            matrix_api::server_server::EventContainer::new(event),
        ))
    }

    async fn get_missing_previous_events(
        &self,
        request: ss::get_missing_previous_events::Request,
        credentials: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::get_missing_previous_events::Response, matrix_api_runtime::MatrixError> {
        assert!(credentials.x_matrix.is_some(), "requests are signed");
        self.asked_missing.lock().unwrap().push(request.body);
        let events = self.missing.lock().unwrap().clone();
        Ok(ss::get_missing_previous_events::Response::Ok(
            matrix_api::server_server::GetMissingPreviousEventsResponse::new(events),
        ))
    }
}

/// Events of this server reach the other servers in the room: a remote
/// user joins (as in the test above), and alice's message then arrives at
/// the remote server in a signed transaction, as the PDU stored here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_here_are_delivered_to_the_servers_in_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, a_client, a_federation, a_config) = start_named(dir.path()).await;
    // The recording server B, on TLS like a real one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_name = listener.local_addr().unwrap().to_string();
    let identity = server::federation::SigningIdentity::load_or_create(&dir.path().join("b.key"), &b_name).unwrap();
    let recorder = std::sync::Arc::new(Recorder::new(identity));
    serve_stand_in(recorder.clone(), listener, dir.path());

    let alice = register(&a_client, "alice").await;
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(json!({}), json!({}), json!({ "preset": "public_chat" })))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    let bob = format!("@bob:{b_name}");
    let signer = matrix_api_runtime::client::Signer {
        origin: b_name.clone(),
        destination: a_name.clone(),
        key_id: recorder.identity.key_id.clone(),
        key: recorder.identity.signing_key().clone(),
    };
    let from_b = federation_client(&a_federation, Some(signer));
    let mut request = ss::make_join::Request::new(room_id.clone(), bob.clone());
    request.query.ver = Some((1..=12).map(|v| v.to_string()).collect());
    let ss::make_join::Response::Ok(template) = from_b.make_join(request).await.unwrap();
    let rules = VersionRules::of(template.room_version.as_deref().unwrap()).unwrap();
    let serde_json::Value::Object(mut join) = serde_json::to_value(template.event.unwrap()).unwrap() else {
        panic!("the template is not an object");
    };
    rules.hash_and_sign(
        &mut join,
        &b_name,
        &recorder.identity.key_id,
        recorder.identity.signing_key(),
    );
    let join_id = rules.event_id(&join).unwrap();
    let body = serde_json::from_value(serde_json::Value::Object(join)).unwrap();
    let ss::send_join_v2::Response::Ok(_) = from_b
        .send_join_v2(ss::send_join_v2::Request::new(room_id.clone(), join_id, body))
        .await
        .unwrap();

    let cs::send_message::Response::Ok(sent) = alice
        .send_message(req(
            json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": "for-b" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "to B" }),
        ))
        .await
        .unwrap();
    let mut delivered = None;
    for _ in 0..100 {
        let received = recorder.received.lock().unwrap().clone();
        if let Some(pdu) = received.into_iter().find(|p| p["content"]["body"] == "to B") {
            delivered = Some(pdu);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let pdu = delivered.expect("alice's message reached B within 10 s");
    assert_eq!(rules.event_id(&pdu).as_deref(), Some(sent.event_id.as_str()));
    let a_identity = server::federation::SigningIdentity::load_or_create(&a_config.signing_key, &a_name).unwrap();
    rules
        .verify_signature(&pdu, &a_name, &a_identity.key_id, &a_identity.verifying_key())
        .unwrap();
    assert!(
        recorder
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|p| p["sender"] != json!(bob)),
        "B is not sent its own join back"
    );
    let store = server::store::SqlStore::open(&a_config.db).unwrap();
    for _ in 0..50 {
        if store.outbound_destinations().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        store.outbound_destinations().unwrap().is_empty(),
        "the queue is emptied once delivered"
    );

    // Typing and public receipts follow as EDUs; a private receipt does not
    // (and nothing else: alice's presence is unchanged until she sets it).
    let receipt = |kind: &str| {
        let path = json!({ "roomId": room_id, "receiptType": kind, "eventId": sent.event_id.as_str() });
        req::<cs::post_receipt::Request>(path, json!({}), json!({}))
    };
    let cs::post_receipt::Response::Ok(_) = alice.post_receipt(receipt("m.read.private")).await.unwrap();
    let alice_id = format!("@alice:{a_name}");
    let cs::set_typing::Response::Ok(_) = alice
        .set_typing(req(
            json!({ "roomId": room_id, "userId": alice_id }),
            json!({}),
            json!({ "typing": true, "timeout": 10000 }),
        ))
        .await
        .unwrap();
    let cs::post_receipt::Response::Ok(_) = alice.post_receipt(receipt("m.read")).await.unwrap();
    let mut edus = Vec::new();
    for _ in 0..100 {
        edus = recorder.received_edus.lock().unwrap().clone();
        if edus.iter().any(|(_, edu)| edu.edu_type == "m.receipt") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let kinds: Vec<&str> = edus.iter().map(|(_, edu)| edu.edu_type.as_str()).collect();
    assert_eq!(kinds, ["m.typing", "m.receipt"], "in order, and no private receipt");
    assert!(
        edus.iter().all(|(txn, _)| txn.starts_with("edu.")),
        "in transactions of their own"
    );
    assert_eq!(
        serde_json::Value::Object(edus[0].1.content.clone()),
        json!({ "room_id": room_id, "user_id": alice_id, "typing": true })
    );
    let read = &edus[1].1.content[&room_id]["m.read"][&alice_id];
    assert_eq!(read["event_ids"], json!([sent.event_id.as_str()]));
    assert!(read["data"]["ts"].is_i64());

    // Presence goes to the servers of those who share a room with alice.
    let cs::set_presence::Response::Ok(_) = alice
        .set_presence(req(
            json!({ "userId": alice_id }),
            json!({}),
            json!({ "presence": "unavailable", "status_msg": "away" }),
        ))
        .await
        .unwrap();
    let mut presence = None;
    for _ in 0..100 {
        let edus = recorder.received_edus.lock().unwrap().clone();
        presence = edus.into_iter().find(|(_, edu)| edu.edu_type == "m.presence");
        if presence.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, presence) = presence.expect("alice's presence reached B within 10 s");
    let push = &presence.content["push"];
    assert_eq!(push.as_array().map(Vec::len), Some(1), "{push}");
    assert_eq!(push[0]["user_id"], json!(alice_id));
    assert_eq!(push[0]["presence"], "unavailable");
    assert_eq!(push[0]["status_msg"], "away");
    assert!(push[0]["last_active_ago"].is_i64());

    // B sends a message whose previous event A never got: A asks B for the
    // gap (`/get_missing_events`) and takes both, oldest first.
    let store = server::store::SqlStore::open(&a_config.db).unwrap();
    let state_id =
        |event_type: &str, key: &str| store.state_event(&room_id, event_type, key).unwrap().unwrap().event_id;
    let auth = vec![
        state_id("m.room.create", ""),
        state_id("m.room.power_levels", ""),
        state_id("m.room.member", &bob),
    ];
    let version = store.room_info(&room_id).unwrap().unwrap().version;
    let (extremity, depth) = store.forward_extremities(&room_id).unwrap().remove(0);
    let message = |body: &str, prev: &str, depth: i64| {
        let content = json!({ "msgtype": "m.text", "body": body });
        let draft = server::federation::build::Draft {
            room_id: Some(&room_id),
            sender: &bob,
            event_type: "m.room.message",
            state_key: None,
            content: &content,
            origin_server_ts: 1,
        };
        let previous = [server::federation::build::Extremity {
            event_id: prev.to_owned(),
            depth,
        }];
        let (mut pdu, _) = server::federation::build::template(&version, &draft, &previous, &auth, |_| None).unwrap();
        let identity = &recorder.identity;
        rules.hash_and_sign(&mut pdu, &b_name, &identity.key_id, identity.signing_key());
        let id = rules.event_id(&pdu).unwrap();
        (pdu, id)
    };
    let (missed, missed_id) = message("missed", &extremity, depth);
    let (latest, latest_id) = message("latest", &missed_id, depth + 1);
    *recorder.missing.lock().unwrap() = vec![missed];
    let ss::send_transaction::Response::Ok(results) = from_b
        .send_transaction(req(
            json!({ "txnId": "gap" }),
            json!({}),
            json!({ "origin": b_name, "origin_server_ts": 1, "pdus": [latest] }),
        ))
        .await
        .unwrap();
    let results = serde_json::to_value(results).unwrap();
    assert_eq!(results["pdus"][&latest_id], json!({}), "{results}");
    let asked = recorder.asked_missing.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].earliest_events.clone(), asked[0].latest_events.clone()),
        (vec![extremity], vec![latest_id.clone()])
    );
    let stream = |id: &str| store.event(id).unwrap().expect("stored").stream;
    assert!(stream(&missed_id) < stream(&latest_id), "the gap first");
    assert_eq!(store.forward_extremities(&room_id).unwrap()[0].0, latest_id);

    // A gap the origin cannot fill: the PDU is refused and not stored.
    *recorder.missing.lock().unwrap() = Vec::new();
    let (_, unseen_id) = message("never sent", &latest_id, depth + 2);
    let (orphan, orphan_id) = message("orphan", &unseen_id, depth + 3);
    let ss::send_transaction::Response::Ok(results) = from_b
        .send_transaction(req(
            json!({ "txnId": "orphan" }),
            json!({}),
            json!({ "origin": b_name, "origin_server_ts": 1, "pdus": [orphan] }),
        ))
        .await
        .unwrap();
    let results = serde_json::to_value(results).unwrap();
    assert!(results["pdus"][&orphan_id]["error"].is_string(), "{results}");
    assert!(store.event(&orphan_id).unwrap().is_none());
}

/// The bodies of the `m.room.message` events in `room_id`'s timeline of
/// one `/sync` of `user` (a full sync: the room's latest events).
async fn timeline_bodies(user: &cs::Client, room_id: &str) -> Vec<String> {
    let cs::sync::Response::Ok(sync) = user.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let sync = serde_json::to_value(sync).unwrap();
    sync["rooms"]["join"][room_id]["timeline"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// Polls `user`'s `/sync` until `body` is in the room's timeline (10 s at most).
async fn wait_for_message(user: &cs::Client, room_id: &str, body: &str) {
    let mut bodies = Vec::new();
    for _ in 0..100 {
        bodies = timeline_bodies(user, room_id).await;
        if bodies.iter().any(|b| b == body) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{body:?} did not arrive within 10 s; the timeline has {bodies:?}");
}

/// A user here joins a room that lives on another server (both of ours):
/// its alias is resolved there (`/query/directory`), and `/join` goes
/// through `make_join`/`send_join` there, the
/// room's state is checked and stored with the join, and from then on
/// messages flow both ways over `/send`. A room nobody can be asked about
/// is a clean error that stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_here_joins_a_room_of_another_server_and_both_sides_talk() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, a_client, _, a_config) = start_named(dir.path()).await;
    let (_, b_client, _, b_config) = start_named(dir.path()).await;
    let alice = register(&a_client, "alice").await;
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "preset": "public_chat", "name": "Over there" }),
        ))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    let send = |user: &cs::Client, txn: &str, body: &str| {
        let request: cs::send_message::Request = req(
            json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": txn }),
            json!({}),
            json!({ "msgtype": "m.text", "body": body }),
        );
        let user = user.clone();
        async move {
            let cs::send_message::Response::Ok(sent) = user.send_message(request).await.unwrap();
            sent.event_id.to_string()
        }
    };
    send(&alice, "t1", "before bob").await;

    let bob = register(&b_client, "bob").await;
    let b_store = server::store::SqlStore::open(&b_config.db).unwrap();
    let nowhere = bob
        .join_room(req(
            json!({ "roomIdOrAlias": "!nowhere:127.0.0.1:1" }),
            json!({}),
            json!({}),
        ))
        .await;
    let Err(matrix_api_runtime::client::ClientError::Matrix(error)) = nowhere else {
        panic!("expected a Matrix error, got {nowhere:?}");
    };
    assert_eq!(error.status, 404, "a server that cannot be reached: {error:?}");
    assert!(
        b_store.room_info("!nowhere:127.0.0.1:1").unwrap().is_none(),
        "nothing stored"
    );

    // The alias is A's: B asks A (`/query/directory`) which room it names.
    let alias = format!("#there:{a_name}");
    let cs::set_room_alias::Response::Ok(_) = alice
        .set_room_alias(req(
            json!({ "roomAlias": alias }),
            json!({}),
            json!({ "room_id": room_id }),
        ))
        .await
        .unwrap();
    let cs::get_room_id_by_alias::Response::Ok(found) = bob
        .get_room_id_by_alias(req(json!({ "roomAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    assert_eq!(found.room_id.map(|r| r.to_string()).as_deref(), Some(room_id.as_str()));
    let servers: Vec<String> = found.servers.into_iter().flatten().map(|s| s.to_string()).collect();
    assert_eq!(servers, vec![a_name.clone()]);
    let unknown = bob
        .get_room_id_by_alias(req(
            json!({ "roomAlias": format!("#nothing:{a_name}") }),
            json!({}),
            json!({}),
        ))
        .await;
    let Err(matrix_api_runtime::client::ClientError::Matrix(error)) = unknown else {
        panic!("expected a Matrix error, got {unknown:?}");
    };
    assert_eq!(error.status, 404, "A's answer passed on");

    let cs::join_room::Response::Ok(joined) = bob
        .join_room(req(json!({ "roomIdOrAlias": alias }), json!({}), json!({})))
        .await
        .unwrap();
    assert_eq!(joined.room_id.as_str(), room_id);
    let bob_id = format!("@bob:{}", b_config.server_name);
    let a_store = server::store::SqlStore::open(&a_config.db).unwrap();
    assert_eq!(a_store.membership(&room_id, &bob_id).unwrap().as_deref(), Some("join"));
    assert_eq!(b_store.membership(&room_id, &bob_id).unwrap().as_deref(), Some("join"));
    let name = b_store
        .state_event(&room_id, "m.room.name", "")
        .unwrap()
        .expect("the room's state");
    assert_eq!(name.content["name"], "Over there");
    let b_extremities = b_store.forward_extremities(&room_id).unwrap();
    assert_eq!(
        b_extremities.len(),
        1,
        "the join is the only extremity: {b_extremities:?}"
    );

    let to_bob = send(&alice, "t2", "hello bob").await;
    wait_for_message(&bob, &room_id, "hello bob").await;
    assert!(b_store.event(&to_bob).unwrap().is_some());

    let to_alice = send(&bob, "t3", "hello alice").await;
    wait_for_message(&alice, &room_id, "hello alice").await;
    let at_a = a_store.event(&to_alice).unwrap().expect("bob's message is stored at A");
    assert_eq!(at_a.sender, bob_id);

    // Joined again: a no-op, nothing asked of A.
    let cs::join_room::Response::Ok(_) = bob
        .join_room(req(json!({ "roomIdOrAlias": room_id }), json!({}), json!({})))
        .await
        .unwrap();

    // Leaving is an event like any other, sent to A.
    let cs::leave_room::Response::Ok(_) = bob
        .leave_room(req(json!({ "roomId": room_id }), json!({}), json!({})))
        .await
        .unwrap();
    for _ in 0..100 {
        if a_store.membership(&room_id, &bob_id).unwrap().as_deref() == Some("leave") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        a_store.membership(&room_id, &bob_id).unwrap().as_deref(),
        Some("leave"),
        "A saw bob leave"
    );
}

/// A resident server written by hand: one room of version 10 whose events
/// it signs itself, served through `make_join`/`send_join`, so that what
/// the joining server checks can be tampered with.
struct HandBuiltRoom {
    identity: server::federation::SigningIdentity,
    room_id: String,
    /// The room's state, as `send_join` answers it.
    state: std::sync::Mutex<Vec<serde_json::Map<String, serde_json::Value>>>,
    /// The auth events of a join (create, power levels, join rules).
    join_auth: std::sync::Mutex<Vec<String>>,
}

impl HandBuiltRoom {
    const VERSION: &str = "10";

    fn rules() -> VersionRules {
        VersionRules::of(Self::VERSION).unwrap()
    }

    /// A signed event of the room (`what`: sender, type, state key and
    /// content); its ID.
    fn event(
        &self,
        depth: i64,
        prev: &[String],
        auth: &[String],
        what: (&str, &str, &str, serde_json::Value),
    ) -> (String, serde_json::Map<String, serde_json::Value>) {
        let (sender, event_type, state_key, content) = what;
        let serde_json::Value::Object(mut pdu) = json!({
            "room_id": self.room_id, "sender": sender, "type": event_type, "state_key": state_key,
            "content": content, "depth": depth, "prev_events": prev, "auth_events": auth,
            "origin": self.identity.server_name, "origin_server_ts": 1_700_000_000_000i64 + depth,
        }) else {
            unreachable!()
        };
        let identity = &self.identity;
        Self::rules().hash_and_sign(
            &mut pdu,
            &identity.server_name,
            &identity.key_id,
            identity.signing_key(),
        );
        (Self::rules().event_id(&pdu).unwrap(), pdu)
    }

    /// Create, the creator's join, power levels and a public join rule.
    fn build(identity: server::federation::SigningIdentity) -> (HandBuiltRoom, Vec<String>) {
        let name = identity.server_name.clone();
        let room = HandBuiltRoom {
            room_id: format!("!built:{name}"),
            identity,
            state: Default::default(),
            join_auth: Default::default(),
        };
        let carol = format!("@carol:{name}");
        let (create, create_pdu) = room.event(
            1,
            &[],
            &[],
            (
                &carol,
                "m.room.create",
                "",
                json!({ "creator": carol, "room_version": Self::VERSION }),
            ),
        );
        let (join, join_pdu) = room.event(
            2,
            std::slice::from_ref(&create),
            std::slice::from_ref(&create),
            (&carol, "m.room.member", &carol, json!({ "membership": "join" })),
        );
        let (levels, levels_pdu) = room.event(
            3,
            std::slice::from_ref(&join),
            &[create.clone(), join.clone()],
            (
                &carol,
                "m.room.power_levels",
                "",
                json!({ "users": { carol.clone(): 100 } }),
            ),
        );
        let (rules, rules_pdu) = room.event(
            4,
            std::slice::from_ref(&levels),
            &[create.clone(), join.clone(), levels.clone()],
            (&carol, "m.room.join_rules", "", json!({ "join_rule": "public" })),
        );
        *room.state.lock().unwrap() = vec![create_pdu, join_pdu, levels_pdu, rules_pdu];
        *room.join_auth.lock().unwrap() = vec![create.clone(), levels.clone(), rules.clone()];
        (room, vec![create, join, levels, rules])
    }
}

impl ss::ServerServerApi for HandBuiltRoom {
    async fn get_server_key(
        &self,
        _: ss::get_server_key::Request,
        _: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::get_server_key::Response, matrix_api_runtime::MatrixError> {
        stand_in_keys(&self.identity)
    }

    async fn make_join(
        &self,
        request: ss::make_join::Request,
        _: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::make_join::Response, matrix_api_runtime::MatrixError> {
        let state = self.state.lock().unwrap().clone();
        let user = request.path.user_id;
        let last = state.iter().map(|e| e["depth"].as_i64().unwrap()).max().unwrap();
        let newest = state.iter().find(|e| e["depth"] == last).unwrap();
        let template = json!({
            "room_id": self.room_id, "sender": user, "state_key": user, "type": "m.room.member",
            "content": { "membership": "join" }, "depth": last + 1, "origin": self.identity.server_name,
            "origin_server_ts": 1_700_000_001_000i64,
            "prev_events": [HandBuiltRoom::rules().event_id(newest).unwrap()],
            "auth_events": *self.join_auth.lock().unwrap(),
        });
        let response = matrix_api::server_server::MakeJoinResponse {
            room_version: Some(Self::VERSION.to_owned()),
            event: Some(serde_json::from_value(template).unwrap()),
        };
        Ok(ss::make_join::Response::Ok(response))
    }

    async fn send_join_v2(
        &self,
        _: ss::send_join_v2::Request,
        _: matrix_api_runtime::server::Credentials,
    ) -> Result<ss::send_join_v2::Response, matrix_api_runtime::MatrixError> {
        let state = self.state.lock().unwrap().clone();
        Ok(ss::send_join_v2::Response::Ok(
            matrix_api::server_server::SendJoinV2Response::new(state.clone(), state),
        ))
    }
}

/// The room state another server answers a join with is checked before
/// anything is stored: an event whose signature does not verify, or one
/// its own auth events do not allow, makes the join fail (`502`) and leaves
/// no trace; the honest answer is joined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_rooms_state_is_checked_before_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (_, b_client, _, b_config) = start_named(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r_name = listener.local_addr().unwrap().to_string();
    let identity = server::federation::SigningIdentity::load_or_create(&dir.path().join("r.key"), &r_name).unwrap();
    let (room, ids) = HandBuiltRoom::build(identity);
    let room = std::sync::Arc::new(room);
    serve_stand_in(room.clone(), listener, dir.path());
    let honest = room.state.lock().unwrap().clone();
    let bob = register(&b_client, "bob").await;
    let b_store = server::store::SqlStore::open(&b_config.db).unwrap();
    let join = || {
        let bob = bob.clone();
        let request = req(json!({ "roomIdOrAlias": room.room_id }), json!({}), json!({}));
        async move { bob.join_room(request).await }
    };
    let refused =
        |outcome: Result<cs::join_room::Response, matrix_api_runtime::client::ClientError>, what: &str| match outcome {
            Err(matrix_api_runtime::client::ClientError::Matrix(e)) => {
                assert_eq!(e.status, 502, "{what}: {e:?}");
                e.body.error
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        };

    // A field the signature covers, changed after signing.
    let mut tampered = honest.clone();
    tampered[2].insert("origin_server_ts".to_owned(), json!(1));
    *room.state.lock().unwrap() = tampered;
    let why = refused(join().await, "a forged signature");
    assert!(why.contains("signature"), "{why}");
    assert!(b_store.room_info(&room.room_id).unwrap().is_none(), "nothing stored");

    // Signed, but sent by someone the room's rules do not let change its name.
    let mallory = format!("@mallory:{r_name}");
    let (_, name) = room.event(
        5,
        std::slice::from_ref(&ids[3]),
        &[ids[0].clone(), ids[2].clone()],
        (&mallory, "m.room.name", "", json!({ "name": "taken over" })),
    );
    let mut unauthorized = honest.clone();
    unauthorized.push(name);
    *room.state.lock().unwrap() = unauthorized;
    let why = refused(join().await, "an unauthorized event");
    assert!(why.contains("not allowed"), "{why}");
    assert!(b_store.room_info(&room.room_id).unwrap().is_none(), "nothing stored");

    // An auth event left out.
    *room.state.lock().unwrap() = honest[1..].to_vec();
    refused(join().await, "no create event");
    assert!(b_store.room_info(&room.room_id).unwrap().is_none(), "nothing stored");

    *room.state.lock().unwrap() = honest;
    let cs::join_room::Response::Ok(joined) = join().await.unwrap();
    assert_eq!(joined.room_id.as_str(), room.room_id);
    let bob_id = format!("@bob:{}", b_config.server_name);
    assert_eq!(
        b_store.membership(&room.room_id, &bob_id).unwrap().as_deref(),
        Some("join")
    );
    assert_eq!(
        b_store.current_state(&room.room_id).unwrap().len(),
        5,
        "four events and the join"
    );
    let info = b_store.room_info(&room.room_id).unwrap().unwrap();
    assert_eq!(
        (info.creator.as_str(), info.version.as_str()),
        (format!("@carol:{r_name}").as_str(), "10")
    );
}

/// One PDU sent to `to` in a transaction of its own; the transaction's
/// answer for each PDU.
pub(crate) async fn send_one(
    to: &ss::Client,
    origin: &str,
    txn: &str,
    pdu: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let ss::send_transaction::Response::Ok(results) = to
        .send_transaction(req(
            json!({ "txnId": txn }),
            json!({}),
            json!({ "origin": origin, "origin_server_ts": 1, "pdus": [pdu] }),
        ))
        .await
        .unwrap();
    serde_json::to_value(results).unwrap()["pdus"].clone()
}

/// Branches of a room's graph that another server built while the two did
/// not hear each other meet here by state resolution: Mallory (level 50)
/// sets the topic on one branch while Carol demotes her on another, so the
/// room's state once both are known has Carol's power levels and no topic
/// (Mallory's topic does not stand on them), although it arrived first. A
/// kick Mallory then sends on her branch is allowed there but not on the
/// room's state here: it is soft-failed (kept, acknowledged, but out of the
/// room's state and timeline), and Bob stays in the room. An event its own
/// branch does not allow is refused. Bob's next message merges both branches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_meet_by_state_resolution_and_soft_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (b_name, b_client, b_federation, b_config) = start_named(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r_name = listener.local_addr().unwrap().to_string();
    let identity = server::federation::SigningIdentity::load_or_create(&dir.path().join("r.key"), &r_name).unwrap();
    let signer = matrix_api_runtime::client::Signer {
        origin: r_name.clone(),
        destination: b_name.clone(),
        key_id: identity.key_id.clone(),
        key: identity.signing_key().clone(),
    };
    let (room, ids) = HandBuiltRoom::build(identity);
    let (create, carol_join, levels, rules) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let carol = format!("@carol:{r_name}");
    let mallory = format!("@mallory:{r_name}");
    let (mallory_join, mallory_join_pdu) = room.event(
        5,
        std::slice::from_ref(rules),
        &[create.clone(), rules.clone(), levels.clone()],
        (&mallory, "m.room.member", &mallory, json!({ "membership": "join" })),
    );
    let (moderated, moderated_pdu) = room.event(
        6,
        std::slice::from_ref(&mallory_join),
        &[create.clone(), levels.clone(), carol_join.clone()],
        (
            &carol,
            "m.room.power_levels",
            "",
            json!({ "users": { &carol: 100, &mallory: 50 } }),
        ),
    );
    room.state.lock().unwrap().extend([mallory_join_pdu, moderated_pdu]);
    *room.join_auth.lock().unwrap() = vec![create.clone(), moderated.clone(), rules.clone()];
    let room = std::sync::Arc::new(room);
    serve_stand_in(room.clone(), listener, dir.path());

    let bob = register(&b_client, "bob").await;
    let bob_id = format!("@bob:{b_name}");
    let cs::join_room::Response::Ok(_) = bob
        .join_room(req(json!({ "roomIdOrAlias": room.room_id }), json!({}), json!({})))
        .await
        .unwrap();
    let b_store = server::store::SqlStore::open(&b_config.db).unwrap();
    let room_id = room.room_id.clone();
    let extremities = || {
        let mut ids: Vec<String> = b_store
            .forward_extremities(&room_id)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    };
    let [bob_join] = &extremities()[..] else {
        panic!("one extremity after the join: {:?}", extremities());
    };
    let bob_join = bob_join.clone();
    let current = |event_type: &str, state_key: &str| {
        b_store
            .current_state(&room_id)
            .unwrap()
            .into_iter()
            .find(|e| e.event_type == event_type && e.state_key.as_deref() == Some(state_key))
            .map(|e| e.event_id)
    };
    let from_r = federation_client(&b_federation, Some(signer));

    // Mallory's branch: her topic, allowed by the levels it was sent under.
    let (topic, topic_pdu) = room.event(
        8,
        std::slice::from_ref(&bob_join),
        &[create.clone(), moderated.clone(), mallory_join.clone()],
        (&mallory, "m.room.topic", "", json!({ "topic": "Mallory's" })),
    );
    assert_eq!(send_one(&from_r, &r_name, "t1", topic_pdu).await[&topic], json!({}));
    assert_eq!(
        current("m.room.topic", "").as_ref(),
        Some(&topic),
        "a topic on the current state"
    );

    // Carol's branch, beside it: Mallory demoted. Resolution replays the
    // topic on Carol's levels, where it does not stand.
    let (demoted, demoted_pdu) = room.event(
        8,
        std::slice::from_ref(&bob_join),
        &[create.clone(), moderated.clone(), carol_join.clone()],
        (&carol, "m.room.power_levels", "", json!({ "users": { &carol: 100 } })),
    );
    assert_eq!(send_one(&from_r, &r_name, "t2", demoted_pdu).await[&demoted], json!({}));
    assert_eq!(current("m.room.power_levels", "").as_ref(), Some(&demoted));
    assert_eq!(current("m.room.topic", ""), None, "Mallory's topic is resolved away");
    let mut both = vec![topic.clone(), demoted.clone()];
    both.sort();
    assert_eq!(extremities(), both, "both branches are extremities");

    // Mallory kicks Bob on her branch: allowed there, not here.
    let (kick, kick_pdu) = room.event(
        9,
        std::slice::from_ref(&topic),
        &[
            create.clone(),
            moderated.clone(),
            mallory_join.clone(),
            bob_join.clone(),
        ],
        (&mallory, "m.room.member", &bob_id, json!({ "membership": "leave" })),
    );
    assert_eq!(
        send_one(&from_r, &r_name, "t3", kick_pdu).await[&kick],
        json!({}),
        "a soft-failed event is accepted"
    );
    assert!(b_store.event(&kick).unwrap().is_some(), "and kept");
    assert_eq!(b_store.membership(&room_id, &bob_id).unwrap().as_deref(), Some("join"));
    assert_eq!(extremities(), both, "a soft-failed event is no extremity");

    // Mallory on Carol's branch, where she is at level 0: refused.
    let (renamed, renamed_pdu) = room.event(
        9,
        std::slice::from_ref(&demoted),
        &[create.clone(), demoted.clone(), mallory_join.clone()],
        (&mallory, "m.room.name", "", json!({ "name": "taken" })),
    );
    let answer = send_one(&from_r, &r_name, "t4", renamed_pdu).await;
    assert!(answer[&renamed]["error"].is_string(), "{answer}");
    assert!(b_store.event(&renamed).unwrap().is_none());

    // Bob's next message follows both branches, on the resolved state.
    let cs::send_message::Response::Ok(sent) = bob
        .send_message(req(
            json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": "m1" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "still here" }),
        ))
        .await
        .unwrap();
    let message = sent.event_id.to_string();
    let pdu = b_store.pdu(&message).unwrap().unwrap();
    let mut prev = server::federation::build::named_events(&pdu, "prev_events");
    prev.sort();
    assert_eq!(prev, both, "the message merges both branches");
    assert_eq!(extremities(), vec![message.clone()]);
    assert_eq!(current("m.room.power_levels", "").as_ref(), Some(&demoted));
    assert_eq!(current("m.room.topic", ""), None);

    // Bob's timeline has both branches and his message, not the kick.
    let cs::get_room_events::Response::Ok(page) = bob
        .get_room_events(req(
            json!({ "roomId": room_id }),
            json!({ "dir": "b", "limit": 10 }),
            json!({}),
        ))
        .await
        .unwrap();
    let seen: Vec<String> = page
        .chunk
        .iter()
        .filter_map(|e| e.get_field("event_id").unwrap())
        .collect();
    for id in [&message, &topic, &demoted] {
        assert!(seen.contains(id), "{id} in {seen:?}");
    }
    assert!(
        !seen.contains(&kick),
        "the soft-failed kick is not in the timeline: {seen:?}"
    );
}

/// Inviting a user of another server: the invite goes to that server first
/// (`/invite` v2, with the room's stripped state as PDUs), and only the
/// event it signed is stored; a refusal is passed on and a tampered answer
/// is refused, neither leaving anything stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_other_servers_are_invited_through_their_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a_client, _, a_config) = start_named(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_name = listener.local_addr().unwrap().to_string();
    let identity = server::federation::SigningIdentity::load_or_create(&dir.path().join("b.key"), &b_name).unwrap();
    let recorder = std::sync::Arc::new(Recorder::new(identity));
    serve_stand_in(recorder.clone(), listener, dir.path());

    let alice = register(&a_client, "alice").await;
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(json!({}), json!({}), json!({ "name": "Invited" })))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    let invite = |user: &str| {
        let request: cs::invite_user::Request =
            req(json!({ "roomId": room_id }), json!({}), json!({ "user_id": user }));
        let alice = alice.clone();
        async move { alice.invite_user(request).await }
    };
    let store = server::store::SqlStore::open(&a_config.db).unwrap();

    let bob = format!("@bob:{b_name}");
    let cs::invite_user::Response::Ok(_) = invite(&bob).await.unwrap();
    assert_eq!(store.membership(&room_id, &bob).unwrap().as_deref(), Some("invite"));
    let stored = store.state_event(&room_id, "m.room.member", &bob).unwrap().unwrap();
    let pdu = store.pdu(&stored.event_id).unwrap().unwrap();
    let version = store.room_info(&room_id).unwrap().unwrap().version;
    let rules = VersionRules::of(&version).unwrap();
    rules
        .verify_signature(
            &pdu,
            &b_name,
            &recorder.identity.key_id,
            &recorder.identity.verifying_key(),
        )
        .expect("the stored invite carries B's signature");
    let sent = recorder.invites.lock().unwrap()[0].clone();
    assert_eq!(sent.room_version, version);
    let types: Vec<String> = sent
        .invite_room_state
        .unwrap_or_default()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    for wanted in ["m.room.create", "m.room.name", "m.room.join_rules", "m.room.member"] {
        assert!(types.iter().any(|t| t == wanted), "{wanted} in {types:?}");
    }

    *recorder.invite_mode.lock().unwrap() = "refuse";
    let carol = format!("@carol:{b_name}");
    let Err(matrix_api_runtime::client::ClientError::Matrix(error)) = invite(&carol).await else {
        panic!("the refusal is passed on");
    };
    assert_eq!(error.status, 403);
    assert_eq!(store.membership(&room_id, &carol).unwrap(), None, "nothing stored");

    *recorder.invite_mode.lock().unwrap() = "tamper";
    let dave = format!("@dave:{b_name}");
    let Err(matrix_api_runtime::client::ClientError::Matrix(error)) = invite(&dave).await else {
        panic!("a tampered answer is refused");
    };
    assert_eq!(error.status, 502);
    assert_eq!(store.membership(&room_id, &dave).unwrap(), None, "nothing stored");
}

/// Invites between two of our servers: B checks and countersigns the
/// invite of its user, who sees it in `/sync` (with the room's name from
/// the stripped state), joins through the inviting server and talks; an
/// invite rejected at B is a leave at A. B refuses to countersign an
/// invite for a user it does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_between_servers_are_countersigned_seen_joined_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a_client, _, a_config) = start_named(dir.path()).await;
    let (b_name, b_client, _, b_config) = start_named(dir.path()).await;
    let alice = register(&a_client, "alice").await;
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(json!({}), json!({}), json!({ "name": "Private talk" })))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    let invite = |user: &str| {
        let request: cs::invite_user::Request =
            req(json!({ "roomId": room_id }), json!({}), json!({ "user_id": user }));
        let alice = alice.clone();
        async move { alice.invite_user(request).await }
    };
    let a_store = server::store::SqlStore::open(&a_config.db).unwrap();
    let b_store = server::store::SqlStore::open(&b_config.db).unwrap();

    let nobody = format!("@nobody:{b_name}");
    let Err(matrix_api_runtime::client::ClientError::Matrix(error)) = invite(&nobody).await else {
        panic!("B has no such user");
    };
    assert_eq!(error.status, 400, "{error:?}");
    assert_eq!(a_store.membership(&room_id, &nobody).unwrap(), None);

    let bob = register(&b_client, "bob").await;
    let bob_id = format!("@bob:{b_name}");
    let cs::invite_user::Response::Ok(_) = invite(&bob_id).await.unwrap();
    assert_eq!(
        a_store.membership(&room_id, &bob_id).unwrap().as_deref(),
        Some("invite")
    );
    let cs::sync::Response::Ok(sync) = bob.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let sync = serde_json::to_value(sync).unwrap();
    let invite_state = &sync["rooms"]["invite"][&room_id]["invite_state"]["events"];
    let name = invite_state
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "m.room.name")
        .map(|e| e["content"]["name"].clone());
    assert_eq!(name, Some(json!("Private talk")), "{invite_state}");

    let cs::join_room::Response::Ok(_) = bob
        .join_room(req(json!({ "roomIdOrAlias": room_id }), json!({}), json!({})))
        .await
        .unwrap();
    assert_eq!(a_store.membership(&room_id, &bob_id).unwrap().as_deref(), Some("join"));
    assert_eq!(b_store.membership(&room_id, &bob_id).unwrap().as_deref(), Some("join"));
    let cs::send_message::Response::Ok(_) = alice
        .send_message(req(
            json!({ "roomId": room_id, "eventType": "m.room.message", "txnId": "m1" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "welcome" }),
        ))
        .await
        .unwrap();
    wait_for_message(&bob, &room_id, "welcome").await;

    // Carol is invited to another room, and says no.
    let cs::create_room::Response::Ok(other) = alice
        .create_room(req(json!({}), json!({}), json!({ "name": "Declined" })))
        .await
        .unwrap();
    let other_id = other.room_id.to_string();
    let carol = register(&b_client, "carol").await;
    let carol_id = format!("@carol:{b_name}");
    let request: cs::invite_user::Request =
        req(json!({ "roomId": other_id }), json!({}), json!({ "user_id": carol_id }));
    let cs::invite_user::Response::Ok(_) = alice.invite_user(request).await.unwrap();
    let cs::leave_room::Response::Ok(_) = carol
        .leave_room(req(json!({ "roomId": other_id }), json!({}), json!({})))
        .await
        .unwrap();
    assert_eq!(
        a_store.membership(&other_id, &carol_id).unwrap().as_deref(),
        Some("leave")
    );
    assert_eq!(
        b_store.membership(&other_id, &carol_id).unwrap().as_deref(),
        Some("leave")
    );
    assert!(
        b_store.room_info(&other_id).unwrap().is_none(),
        "B is still not in the room"
    );
    let cs::sync::Response::Ok(sync) = carol.sync(req(json!({}), json!({}), json!({}))).await.unwrap();
    let sync = serde_json::to_value(sync).unwrap();
    assert!(
        sync["rooms"]["invite"].get(&other_id).is_none(),
        "no longer invited: {}",
        sync["rooms"]
    );

    // createRoom's `invite` list reaches users of other servers too.
    let cs::create_room::Response::Ok(direct) = alice
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "preset": "trusted_private_chat", "is_direct": true, "invite": [carol_id] }),
        ))
        .await
        .unwrap();
    let direct_id = direct.room_id.to_string();
    assert_eq!(
        a_store.membership(&direct_id, &carol_id).unwrap().as_deref(),
        Some("invite")
    );
    assert_eq!(
        b_store.membership(&direct_id, &carol_id).unwrap().as_deref(),
        Some("invite")
    );
}

/// End-to-end encryption across servers: a user here reads the device
/// keys of a user on another server and claims one of their one-time keys
/// through `/keys/query` and `/keys/claim` (asked of that server over
/// federation, once each key); a server that cannot be asked is a
/// failure of that server only; `/user/devices` lists the devices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_users_on_other_servers_are_queried_and_claimed_there() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, a_client, _, a_config) = start_named(dir.path()).await;
    let (b_name, b_client, b_federation, _) = start_named(dir.path()).await;
    let alice = register(&a_client, "alice").await;
    let bob = register(&b_client, "bob").await;
    let bob_id = format!("@bob:{b_name}");
    let (device, keys) = device_keys_of(&bob, &bob_id).await;
    let one_time = json!({ "signed_curve25519:AAAA": { "key": "otk", "signatures": { &bob_id: { format!("ed25519:{device}"): "s" } } } });
    let cs::upload_keys::Response::Ok(_) = bob
        .upload_keys(req(
            json!({}),
            json!({}),
            json!({ "device_keys": keys, "one_time_keys": one_time }),
        ))
        .await
        .unwrap();

    let query = json!({ "device_keys": { &bob_id: [], "@nobody:127.0.0.1:1": [] } });
    let cs::query_keys::Response::Ok(found) = alice.query_keys(req(json!({}), json!({}), query)).await.unwrap();
    let found = serde_json::to_value(found).unwrap();
    let bobs = &found["device_keys"][&bob_id][&device];
    assert_eq!(bobs["keys"][format!("curve25519:{device}")], "curve", "{found}");
    assert_eq!(bobs["signatures"], keys["signatures"], "signed objects arrive whole");
    assert!(found["failures"].get("127.0.0.1:1").is_some(), "{found}");
    assert!(found["failures"].get(&b_name).is_none(), "{found}");

    let claim = || json!({ "one_time_keys": { &bob_id: { &device: "signed_curve25519" } } });
    let cs::claim_keys::Response::Ok(claimed) = alice.claim_keys(req(json!({}), json!({}), claim())).await.unwrap();
    let claimed = serde_json::to_value(claimed).unwrap();
    assert_eq!(
        claimed["one_time_keys"][&bob_id][&device]["signed_curve25519:AAAA"]["key"], "otk",
        "{claimed}"
    );
    let cs::claim_keys::Response::Ok(again) = alice.claim_keys(req(json!({}), json!({}), claim())).await.unwrap();
    let again = serde_json::to_value(again).unwrap();
    assert!(
        again["one_time_keys"].get(&bob_id).is_none(),
        "a one-time key is given once: {again}"
    );

    let from_a = federation_client(&b_federation, Some(signer_of(&a_config, &b_name)));
    let ss::get_user_devices::Response::Ok(devices) = from_a
        .get_user_devices(ss::get_user_devices::Request::new(bob_id.clone()))
        .await
        .unwrap();
    assert_eq!(devices.user_id, bob_id);
    assert_eq!(devices.devices.len(), 1);
    assert_eq!(devices.devices[0].device_id, device);
    assert_eq!(devices.devices[0].keys.keys[&format!("ed25519:{device}")], "edkey");
    let _ = a_name;
}

/// Events Synapse created and signed in a room of version 12, as this
/// server received them in the interop run (`fixtures/synapse_v12_events.json`,
/// with the event IDs Synapse's own client API gave): their reference
/// hashes are Synapse's event IDs, the room ID is the create event's hash,
/// their content hashes match, and Synapse's signatures verify with the key
/// it published. A changed body breaks the content hash but not the
/// signature (which covers the redacted form); a changed sender breaks both.
#[test]
fn events_synapse_signed_check_out_here() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!("../fixtures/synapse_v12_events.json")).unwrap();
    let rules = VersionRules::of(fixture["room_version"].as_str().unwrap()).unwrap();
    let server_name = fixture["server_name"].as_str().unwrap();
    let key_id = fixture["key_id"].as_str().unwrap();
    let key_bytes: [u8; 32] = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        fixture["public_key"].as_str().unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).unwrap();
    let events = fixture["events"].as_array().unwrap();
    assert!(events.len() >= 3, "create, power levels and a message");
    for event in events {
        let serde_json::Value::Object(pdu) = &event["pdu"] else {
            panic!("a PDU is an object");
        };
        let synapse_id = event["event_id_at_synapse"].as_str().unwrap();
        assert_eq!(rules.event_id(pdu).as_deref(), Some(synapse_id), "{}", pdu["type"]);
        assert!(rules.content_hash_matches(pdu), "{synapse_id}");
        rules.verify_signature(pdu, server_name, key_id, &key).unwrap();
        if pdu["type"] == "m.room.create" {
            assert_eq!(
                fixture["room_id"].as_str(),
                synapse_id.strip_prefix('$').map(|h| format!("!{h}")).as_deref()
            );
            assert!(server::federation::pdu::is_event_of(
                pdu,
                synapse_id,
                fixture["room_id"].as_str().unwrap()
            ));
        }
        if pdu["type"] == "m.room.message" {
            let mut changed_body = pdu.clone();
            changed_body.insert("content".into(), json!({ "msgtype": "m.text", "body": "changed" }));
            assert!(!rules.content_hash_matches(&changed_body));
            rules
                .verify_signature(&changed_body, server_name, key_id, &key)
                .unwrap();
            let mut changed_sender = pdu.clone();
            changed_sender.insert("sender".into(), json!("@mallory:127.0.0.1:18448"));
            assert!(rules
                .verify_signature(&changed_sender, server_name, key_id, &key)
                .is_err());
        }
    }
}

/// The device of `user`'s token, and device keys for it (placeholder key
/// material: servers store and pass them on, clients check them).
async fn device_keys_of(user: &cs::Client, user_id: &str) -> (String, serde_json::Value) {
    let cs::get_token_owner::Response::Ok(me) = user
        .get_token_owner(req(json!({}), json!({}), json!({})))
        .await
        .unwrap();
    let device = me.device_id.unwrap();
    let keys = json!({
        "user_id": user_id, "device_id": device, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": { format!("curve25519:{device}"): "curve", format!("ed25519:{device}"): "edkey" },
        "signatures": { user_id: { format!("ed25519:{device}"): "sig" } },
    });
    (device, keys)
}

/// A user's device changes reach the servers of the users sharing a room
/// with them (`m.device_list_update`): the other server's users see the user
/// in `device_lists.changed` of their next `/sync`, after an upload of new
/// device keys and after the device is deleted (a logout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_changes_of_users_elsewhere_reach_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (a_name, a_client, _, _) = start_named(dir.path()).await;
    let (b_name, b_client, _, _) = start_named(dir.path()).await;
    let alice = register(&a_client, "alice").await;
    let bob = register(&b_client, "bob").await;
    let bob_id = format!("@bob:{b_name}");
    let cs::create_room::Response::Ok(room) = alice
        .create_room(req(json!({}), json!({}), json!({ "preset": "public_chat" })))
        .await
        .unwrap();
    let room_id = room.room_id.to_string();
    bob.join_room(req(
        json!({ "roomIdOrAlias": room_id }),
        json!({ "via": [a_name], "server_name": [a_name] }),
        json!({}),
    ))
    .await
    .unwrap();
    let sync = |since: Option<String>| {
        let alice = alice.clone();
        async move {
            let mut request = cs::sync::Request::new();
            request.query.since = since;
            let cs::sync::Response::Ok(sync) = alice.sync(request).await.unwrap();
            let next = sync.next_batch.clone();
            (next, serde_json::to_value(sync).unwrap())
        }
    };
    let (since, _) = sync(None).await;
    let (mut since, quiet) = sync(Some(since)).await;
    assert!(
        !quiet["device_lists"]["changed"]
            .as_array()
            .is_some_and(|c| c.contains(&json!(bob_id))),
        "nothing changed yet: {quiet}"
    );
    // Waits until Alice's `/sync` lists Bob's devices as changed.
    let mut sees_bob_changed = async |what: &str| {
        for _ in 0..100 {
            let (next, response) = sync(Some(since.clone())).await;
            since = next;
            let changed = response["device_lists"]["changed"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if changed.contains(&json!(bob_id)) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("Alice never saw Bob's devices change ({what})");
    };

    let (_, keys) = device_keys_of(&bob, &bob_id).await;
    let cs::upload_keys::Response::Ok(_) = bob
        .upload_keys(req(json!({}), json!({}), json!({ "device_keys": keys })))
        .await
        .unwrap();
    sees_bob_changed("new device keys").await;
    let cs::logout::Response::Ok(_) = bob.logout(req(json!({}), json!({}), json!({}))).await.unwrap();
    sees_bob_changed("a device deleted").await;
}
