//! The seeds' flow end to end with our two servers: our homeserver (in
//! process, both listeners) and our identity server (in process, TLS), an
//! SMTP sink on loopback for the mail. Alice invites `bob@example.org`; the
//! identity server keeps the invite and mails it; Bob registers, proves
//! the address with the mailed token and binds it; the identity server
//! calls the homeserver's `onbind`; Bob is invited, joins, and Alice sees
//! it. Then Bob unbinds, and a lookup no longer finds him. Wrong tokens,
//! unvalidated sessions, binding for another user and forged OpenID tokens
//! are refused.

use matrix_api::client_server::endpoints as cs;
use matrix_api::identity::endpoints as is;
use matrix_api_runtime::client::{Client, ClientError};
use matrix_api_tests::people::{register, Person};
use matrix_api_tests::scenario::req;
use matrix_api_tests::smtp::SmtpSink;
use serde_json::{json, Value};
use std::time::Duration;

/// Fields identity servers sent that the generated identity types do not
/// model, by server name: `(server, operation, path)`.
static UNMODELED: std::sync::Mutex<std::collections::BTreeSet<(String, String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A client of the identity server `identity` (HTTPS, the test servers'
/// certificates accepted) that notes what its answers carried beyond the
/// generated types in [`UNMODELED`].
fn identity_client(identity: &str) -> Client {
    let server = identity.to_owned();
    Client::new(format!("https://{identity}"))
        .with_http(insecure())
        .with_unmodeled_observer(move |meta, paths| {
            let mut seen = UNMODELED.lock().unwrap();
            seen.extend(
                paths
                    .iter()
                    .map(|p| (server.clone(), meta.operation_id.to_owned(), p.clone())),
            );
        })
}

/// Prints what `identity` sent that the generated types do not model, as
/// the Synapse interop test does, and fails on a field the spec declares
/// where it was found (a generator bug).
fn report_unmodeled(identity: &str, label: &str) {
    let spec = matrix_codegen::load_spec(&matrix_api_tests::release_dir("v1.19")).unwrap();
    let seen: Vec<(String, String)> = UNMODELED
        .lock()
        .unwrap()
        .iter()
        .filter(|(server, _, _)| server == identity)
        .map(|(_, operation, path)| (operation.clone(), path.clone()))
        .collect();
    println!(
        "{label}: fields the generated identity types do not model ({}):",
        seen.len()
    );
    let mut declared = Vec::new();
    for (operation, path) in &seen {
        let in_spec = matrix_api_tests::scenario::spec_declares(&spec.api, operation, path);
        println!(
            "  {operation} {path}{}",
            if in_spec { "  <- DECLARED HERE BY THE SPEC" } else { "" }
        );
        if in_spec {
            declared.push(format!("{operation} {path}"));
        }
    }
    assert!(
        declared.is_empty(),
        "{label}: fields the spec declares were dropped: {declared:?}"
    );
}

/// HTTPS that accepts the test servers' self-signed certificates.
fn insecure() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// The homeserver: its name (its federation address) and client base URL.
async fn start_homeserver(dir: &std::path::Path) -> (String, String) {
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client_base = format!("http://{}", client.local_addr().unwrap());
    let mut config = server::Config::new(&name, &dir.join("hs.db"));
    config.verify_remote_certificates = false;
    config.rate_limit = None;
    let tls = server::federation_tls(&config).unwrap();
    let routers = server::routers(config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve(client, routers.client));
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        federation,
        routers.federation,
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
    (name, client_base)
}

/// The identity server, mailing through `smtp`: its name.
async fn start_identity(dir: &std::path::Path, smtp: std::net::SocketAddr) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = listener.local_addr().unwrap().to_string();
    let mut config = identity_server::Config::new(&name, &dir.join("identity.db"));
    config.smtp = smtp.to_string();
    config.verify_certificates = false;
    let files = server::federation::tls::TlsFiles {
        certificate: dir.join("identity.crt"),
        key: dir.join("identity.key"),
        create_if_missing: true,
    };
    let tls = server::federation::tls::server_config(&files, &name).unwrap();
    let router = identity_server::router(&config).unwrap();
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        listener,
        router,
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
    name
}

/// An account at the identity server, from an OpenID token of the homeserver.
async fn identity_account(person: &Person, identity: &str) -> (is::Client, String) {
    let cs::request_open_id_token::Response::Ok(openid) = person
        .client
        .request_open_id_token(req(json!({ "userId": person.id }), json!({}), json!({})))
        .await
        .unwrap();
    let anonymous = is::Client(identity_client(identity));
    let is::register_account::Response::Ok(account) = anonymous
        .register_account(is::register_account::Request::new(openid))
        .await
        .unwrap();
    let client = is::Client(identity_client(identity).with_access_token(account.token.clone()));
    (client, account.token)
}

async fn membership(person: &Person, room: &str, user: &str) -> Option<String> {
    let cs::get_room_state_with_key::Response::Ok(content) = person
        .client
        .get_room_state_with_key(req(
            json!({ "roomId": room, "eventType": "m.room.member", "stateKey": user }),
            json!({}),
            json!({}),
        ))
        .await
        .ok()?;
    serde_json::to_value(content).unwrap()["membership"]
        .as_str()
        .map(str::to_owned)
}

async fn waits_for_membership(person: &Person, room: &str, user: &str, wanted: &str) {
    for _ in 0..150 {
        if membership(person, room, user).await.as_deref() == Some(wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{user} never became {wanted} in {room}");
}

/// The value after `label` on its line of a mail.
fn field(mail: &str, label: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} in {mail}"));
    line.rsplit(' ').next().unwrap().trim().to_owned()
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>, status: u16, errcode: &str, what: &str) {
    match result {
        Err(ClientError::Matrix(e)) => assert_eq!(
            (e.status, e.errcode().as_str()),
            (status, errcode),
            "{what}: {}",
            e.body.error
        ),
        other => panic!("{what}: expected {status} {errcode}, got {other:?}"),
    }
}

async fn lookup(identity: &is::Client, address: &str) -> Option<String> {
    let is::get_hash_details::Response::Ok(details) = identity
        .get_hash_details(is::get_hash_details::Request::new())
        .await
        .unwrap();
    assert!(details.algorithms.contains(&"sha256".to_owned()));
    let hash = identity_server::api::lookup_hash(address, "email", &details.lookup_pepper);
    let body = json!({ "algorithm": "sha256", "pepper": details.lookup_pepper, "addresses": [hash] });
    let is::lookup_users_v2::Response::Ok(found) =
        identity.lookup_users_v2(req(json!({}), json!({}), body)).await.unwrap();
    found.mappings.get(&hash).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_invite_is_delivered_when_the_address_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let (hs_name, hs_base) = start_homeserver(dir.path()).await;
    let identity = start_identity(dir.path(), smtp.address).await;
    let home = Home {
        name: hs_name,
        base: hs_base,
    };
    seeds_flow(&home, &home, &identity, &smtp, "bob@example.org", Refusals::Exact).await;
    report_unmodeled(&identity, "our identity server");
}

/// The same flow with Sydent, the reference identity server, in place of
/// ours: our homeserver against a real identity server, and our generated
/// identity client against every operation Sydent implements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_with_sydent_as_the_identity_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let (hs_name, hs_base) = start_homeserver(dir.path()).await;
    let sydent = matrix_api_tests::sydent::Sydent::start(smtp.address).await;
    let flow = tokio::spawn({
        let (identity, smtp) = (sydent.name.clone(), smtp);
        async move {
            let home = Home {
                name: hs_name,
                base: hs_base,
            };
            seeds_flow(&home, &home, &identity, &smtp, "bob@example.org", Refusals::Any).await
        }
    });
    if let Err(failure) = flow.await {
        eprintln!("--- what Sydent logged ---\n{}", sydent.log_text());
        std::panic::resume_unwind(failure.into_panic());
    }
    report_unmodeled(&sydent.name, "Sydent");
}

/// The same flow with Synapse, the reference homeserver, in place of ours:
/// Synapse's identity client (lookup, store-invite) and its `onbind` and
/// OpenID endpoints against our identity server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_with_synapse_as_the_homeserver() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let identity = start_identity(dir.path(), smtp.address).await;
    let synapse = tokio::task::spawn_blocking(matrix_api_tests::synapse::Synapse::start_federating)
        .await
        .unwrap();
    let home = Home {
        name: synapse.server_name.clone(),
        base: synapse.base_url.clone(),
    };
    seeds_flow(&home, &home, &identity, &smtp, "bob@example.org", Refusals::Exact).await;
}

/// Across servers: the room on Synapse and Bob on our homeserver, then the
/// reverse. The homeserver that hears of the binding is not in the room, so
/// it asks the room's server to make the invite
/// (`/exchange_third_party_invite`), which sends it back with `/invite` v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_invite_crosses_between_synapse_and_our_homeserver() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let identity = start_identity(dir.path(), smtp.address).await;
    let (ours_name, ours_base) = start_homeserver(dir.path()).await;
    let ours = Home {
        name: ours_name,
        base: ours_base,
    };
    let synapse = tokio::task::spawn_blocking(matrix_api_tests::synapse::Synapse::start_federating)
        .await
        .unwrap();
    let theirs = Home {
        name: synapse.server_name.clone(),
        base: synapse.base_url.clone(),
    };
    seeds_flow(&theirs, &ours, &identity, &smtp, "bob@example.org", Refusals::Exact).await;
    seeds_flow(&ours, &theirs, &identity, &smtp, "bob2@example.org", Refusals::Exact).await;
}

/// Bob binds his address through his homeserver (`/account/3pid/bind`),
/// which asks the identity server with Bob's token there; its refusal of a
/// wrong token reaches Bob as it was given. Then his homeserver unbinds it
/// (`/account/3pid/unbind`, with no identity-server token: the homeserver
/// signs the request), and a lookup no longer finds him.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_bound_and_unbound_through_the_homeserver() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let (hs_name, hs_base) = start_homeserver(dir.path()).await;
    let identity = start_identity(dir.path(), smtp.address).await;
    bind_and_unbind_through_homeserver(&hs_base, &identity, &smtp, Refusals::Exact).await;

    // A request signed with another key than the homeserver's is refused,
    // and unbinds nothing.
    let own =
        server::federation::SigningIdentity::load_or_create(&dir.path().join("hs.db.signing.key"), &hs_name).unwrap();
    let forged = matrix_api_runtime::client::Signer {
        origin: hs_name.clone(),
        destination: identity.clone(),
        key_id: own.key_id.clone(),
        key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    };
    let signed_by = |signer| {
        is::Client(
            Client::new(format!("https://{identity}"))
                .with_http(insecure())
                .with_signer(signer),
        )
    };
    let threepid = json!({ "medium": "email", "address": "carol@example.net" });
    let body = json!({ "mxid": format!("@carol:{hs_name}"), "threepid": threepid });
    refused(
        signed_by(forged)
            .unbind_v2(req(json!({}), json!({}), body.clone()))
            .await
            .map(drop),
        401,
        "M_UNAUTHORIZED",
        "a forged homeserver signature",
    );
    // The homeserver's own signature, for a user of another server.
    let genuine = matrix_api_runtime::client::Signer {
        origin: hs_name.clone(),
        destination: identity.clone(),
        key_id: own.key_id.clone(),
        key: own.signing_key().clone(),
    };
    let elsewhere = json!({ "mxid": "@carol:elsewhere.example", "threepid": threepid });
    refused(
        signed_by(genuine)
            .unbind_v2(req(json!({}), json!({}), elsewhere))
            .await
            .map(drop),
        403,
        "M_FORBIDDEN",
        "another server's user",
    );
}

/// The same with Sydent, up to the unbind: Sydent 2.6.1 cannot check a
/// homeserver's signed unbind (it puts Twisted's byte strings for the
/// method and URI into the JSON it verifies, and answers 500 after a
/// `TypeError`), Synapse's as well as ours. It fetches our keys for it
/// (`/_matrix/key/v2/server/`, the pre-v1.1 form, which we serve); our
/// homeserver passes the failure on as `502` and keeps the binding, so
/// that a later unbind tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_bound_and_unbound_at_sydent_through_the_homeserver() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let (_, hs_base) = start_homeserver(dir.path()).await;
    let sydent = matrix_api_tests::sydent::Sydent::start(smtp.address).await;
    let flow = tokio::spawn({
        let identity = sydent.name.clone();
        async move { bind_and_unbind_through_homeserver(&hs_base, &identity, &smtp, Refusals::Any).await }
    });
    if let Err(failure) = flow.await {
        eprintln!("--- what Sydent logged ---\n{}", sydent.log_text());
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Bob validates `bob@example.net` at `identity`, binds it through his
/// homeserver and unbinds it there; Eve, on the same homeserver, cannot
/// unbind it.
async fn bind_and_unbind_through_homeserver(hs_base: &str, identity: &str, smtp: &SmtpSink, refusals: Refusals) {
    let bob = register(hs_base, "bob").await;
    let eve = register(hs_base, "eve").await;
    let (bob_is, bob_token) = identity_account(&bob, identity).await;
    let request = json!({ "client_secret": "secret", "email": "bob@example.net", "send_attempt": 1 });
    let is::email_request_token_v2::Response::Ok(sid) = bob_is
        .email_request_token_v2(req(json!({}), json!({}), request))
        .await
        .unwrap();
    let mailed = field(
        &smtp.wait_for("bob@example.net", "validation token").await,
        "validation token",
    );
    let submit = json!({ "sid": sid.sid, "client_secret": "secret", "token": mailed });
    let is::email_submit_token_post_v2::Response::Ok(_) = bob_is
        .email_submit_token_post_v2(req(json!({}), json!({}), submit))
        .await
        .unwrap();

    let bind = |token: &str| {
        let body =
            json!({ "sid": sid.sid, "client_secret": "secret", "id_server": identity, "id_access_token": token });
        bob.client.bind3_pid(req(json!({}), json!({}), body))
    };
    let wrong = bind("wrong").await.map(drop);
    match refusals {
        Refusals::Exact => refused(wrong, 401, "M_UNAUTHORIZED", "a wrong identity server token"),
        Refusals::Any => assert!(wrong.is_err(), "a wrong identity server token: accepted"),
    }
    assert_eq!(lookup(&bob_is, "bob@example.net").await, None);
    let cs::bind3_pid::Response::Ok(_) = bind(&bob_token).await.unwrap();
    let found = || lookup(&bob_is, "bob@example.net");
    assert_eq!(found().await.as_deref(), Some(bob.id.as_str()));

    // Eve's homeserver signs for Eve, whose address it is not.
    let address = json!({ "medium": "email", "address": "bob@example.net", "id_server": identity });
    let by_eve = eve
        .client
        .unbind3pid_from_account(req(json!({}), json!({}), address.clone()))
        .await;
    if refusals == Refusals::Exact {
        refused(by_eve.map(drop), 404, "M_NOT_FOUND", "Eve unbinding Bob's address");
    }
    assert_eq!(found().await.as_deref(), Some(bob.id.as_str()), "Eve unbound Bob");

    // Bob's homeserver remembers where he bound it.
    let unbind = || {
        let body = json!({ "medium": "email", "address": "bob@example.net" });
        bob.client.unbind3pid_from_account(req(json!({}), json!({}), body))
    };
    if refusals == Refusals::Any {
        // Sydent, whose check of the signature fails (see above): twice,
        // as the binding is kept.
        for _ in 0..2 {
            match unbind().await {
                Err(ClientError::Matrix(e)) if e.status == 502 => {}
                other => panic!("Sydent unbound by signature after all: {other:?}"),
            }
        }
        assert_eq!(found().await.as_deref(), Some(bob.id.as_str()));
        return;
    }
    let cs::unbind3pid_from_account::Response::Ok(result) = unbind().await.unwrap();
    assert_eq!(result.id_server_unbind_result.as_str(), "success");
    assert_eq!(found().await, None);
    // Known nowhere any more.
    let cs::unbind3pid_from_account::Response::Ok(result) = unbind().await.unwrap();
    assert_eq!(result.id_server_unbind_result.as_str(), "no-support");
}

/// A homeserver of the flow: its name and client base URL.
struct Home {
    name: String,
    base: String,
}

/// How refusals are checked: our identity server's exact status and
/// errcode, or (another server) only that the request was refused.
#[derive(Clone, Copy, PartialEq)]
enum Refusals {
    Exact,
    Any,
}

/// Alice (on `alice_home`, where the room is) invites `address`; Bob (on
/// `bob_home`) proves and binds it, is invited and joins.
async fn seeds_flow(
    alice_home: &Home,
    bob_home: &Home,
    identity: &str,
    smtp: &SmtpSink,
    address: &str,
    refusals: Refusals,
) {
    let refused = |result: Result<(), ClientError>, status: u16, errcode: &str, what: &str| match refusals {
        Refusals::Exact => refused(result, status, errcode, what),
        Refusals::Any => assert!(result.is_err(), "{what}: accepted"),
    };

    let alice = register(&alice_home.base, "alice").await;
    let (alice_is, alice_token) = identity_account(&alice, identity).await;
    let is::get_account::Response::Ok(account) = alice_is.get_account(is::get_account::Request::new()).await.unwrap();
    assert_eq!(account.user_id, alice.id);

    // A forged OpenID token: the homeserver does not vouch for it.
    let forged = json!({ "access_token": "forged", "token_type": "Bearer", "matrix_server_name": alice_home.name, "expires_in": 3600 });
    let anonymous = is::Client(identity_client(identity));
    refused(
        anonymous
            .register_account(req(json!({}), json!({}), forged))
            .await
            .map(drop),
        401,
        "M_UNAUTHORIZED",
        "a forged OpenID token",
    );

    // Alice invites an address nobody has bound.
    let cs::create_room::Response::Ok(room) = alice
        .client
        .create_room(req(
            json!({}),
            json!({}),
            json!({ "preset": "private_chat", "name": "Plans" }),
        ))
        .await
        .unwrap();
    let room = room.room_id.to_string();
    let invite_body =
        json!({ "id_server": identity, "id_access_token": alice_token, "medium": "email", "address": address });
    let cs::invite_by3_pid::Response::Ok(_) = alice
        .client
        .invite_by3_pid(req(json!({ "roomId": room }), json!({}), invite_body))
        .await
        .unwrap();
    let invitation = smtp.wait_for(address, "invited you").await;
    let token = field(&invitation, "Invite token:");
    let cs::get_room_state_with_key::Response::Ok(pending) = alice
        .client
        .get_room_state_with_key(req(
            json!({ "roomId": room, "eventType": "m.room.third_party_invite", "stateKey": token }),
            json!({}),
            json!({}),
        ))
        .await
        .unwrap();
    let pending = serde_json::to_value(pending).unwrap();
    let shown = pending["display_name"].as_str().unwrap_or_default();
    assert!(
        shown.starts_with('b') && !shown.contains(address),
        "the address is not shown whole: {shown}"
    );
    assert_eq!(
        pending["public_keys"].as_array().map(Vec::len),
        Some(2),
        "the server's key and the invite's own"
    );

    // Bob registers, proves the address and binds it.
    let bob = register(&bob_home.base, "bob").await;
    let (bob_is, _) = identity_account(&bob, identity).await;
    // Before binding (an identity server may drop an invite's token once it is
    // delivered): the invite's own key is valid, and signs for its invitee.
    let ephemeral = pending["public_keys"][1]["public_key"].as_str().unwrap().to_owned();
    let is::is_ephemeral_pub_key_valid_v2::Response::Ok(valid) = anonymous
        .is_ephemeral_pub_key_valid_v2(is::is_ephemeral_pub_key_valid_v2::Request::new(ephemeral))
        .await
        .unwrap();
    assert!(valid.valid, "the invite's own key is valid");
    let private_key = field(&invitation, "Key:");
    let sign = json!({ "mxid": bob.id, "token": token, "private_key": private_key });
    let is::blindly_sign_stuff_v2::Response::Ok(signed_invite) = bob_is
        .blindly_sign_stuff_v2(req(json!({}), json!({}), sign))
        .await
        .unwrap();
    assert_eq!(
        (signed_invite.mxid.as_str(), signed_invite.sender.as_str()),
        (bob.id.as_str(), alice.id.as_str())
    );
    assert!(!signed_invite.signatures.is_empty());
    let request = json!({ "client_secret": "bobsecret", "email": address, "send_attempt": 1 });
    let is::email_request_token_v2::Response::Ok(sid) = bob_is
        .email_request_token_v2(req(json!({}), json!({}), request))
        .await
        .unwrap();
    let mail = smtp.wait_for(address, "validation token").await;
    let mailed = field(&mail, "validation token");
    let session = |token: &str| json!({ "sid": sid.sid, "client_secret": "bobsecret", "token": token });
    let bind = json!({ "sid": sid.sid, "client_secret": "bobsecret", "mxid": bob.id });
    refused(
        bob_is.bind_v2(req(json!({}), json!({}), bind.clone())).await.map(drop),
        400,
        "M_SESSION_NOT_VALIDATED",
        "binding before validation",
    );
    // A wrong token: refused (ours), or answered `success: false` (Sydent).
    match bob_is
        .email_submit_token_post_v2(req(json!({}), json!({}), session("wrong")))
        .await
    {
        Ok(is::email_submit_token_post_v2::Response::Ok(answer)) if refusals == Refusals::Any => {
            assert!(!answer.success, "a wrong token validated the address")
        }
        other => refused(other.map(drop), 400, "M_INVALID_PARAM", "a wrong token"),
    }
    let is::email_submit_token_post_v2::Response::Ok(done) = bob_is
        .email_submit_token_post_v2(req(json!({}), json!({}), session(&mailed)))
        .await
        .unwrap();
    assert!(done.success);
    let is::get_validated3pid_v2::Response::Ok(validated) = bob_is
        .get_validated3pid_v2(req(
            json!({}),
            json!({ "sid": sid.sid, "client_secret": "bobsecret" }),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        (validated.medium.as_str(), validated.address.as_str()),
        ("email", address)
    );
    let for_alice = json!({ "sid": sid.sid, "client_secret": "bobsecret", "mxid": alice.id });
    refused(
        bob_is.bind_v2(req(json!({}), json!({}), for_alice)).await.map(drop),
        403,
        "M_FORBIDDEN",
        "binding for another user",
    );
    let is::bind_v2::Response::Ok(association) = bob_is.bind_v2(req(json!({}), json!({}), bind)).await.unwrap();
    assert_eq!(association.mxid, bob.id);
    let signed: Value = serde_json::to_value(&association).unwrap();
    let key_id = association.signatures[identity].keys().next().unwrap().clone();
    let is::get_pub_key_v2::Response::Ok(public) = anonymous
        .get_pub_key_v2(is::get_pub_key_v2::Request::new(key_id.clone()))
        .await
        .unwrap();
    let bytes: [u8; 32] = matrix_api_runtime::signing::decode_base64(&public.public_key)
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap();
    matrix_api_runtime::signing::verify_json(&signed, identity, &key_id, &key).expect("the association is signed");

    // The rest of the identity API, once each: its answers decode.
    let is::get_versions::Response::Ok(versions) =
        anonymous.get_versions(is::get_versions::Request::new()).await.unwrap();
    assert!(!versions.versions.is_empty());
    let is::ping_v2::Response::Ok(_) = anonymous.ping_v2(is::ping_v2::Request::new()).await.unwrap();
    let is::get_terms::Response::Ok(_) = anonymous.get_terms(is::get_terms::Request::new()).await.unwrap();
    let is::agree_to_terms::Response::Ok(_) = bob_is
        .agree_to_terms(req(json!({}), json!({}), json!({ "user_accepts": [] })))
        .await
        .unwrap();
    let is::is_pub_key_valid_v2::Response::Ok(valid) = anonymous
        .is_pub_key_valid_v2(is::is_pub_key_valid_v2::Request::new(public.public_key.clone()))
        .await
        .unwrap();
    assert!(valid.valid, "the server's key is valid");

    // The identity server hands the invite to the homeserver; Bob joins.
    waits_for_membership(&alice, &room, &bob.id, "invite").await;
    let cs::join_room::Response::Ok(_) = bob
        .client
        .join_room(req(
            json!({ "roomIdOrAlias": room }),
            json!({ "via": [alice_home.name], "server_name": [alice_home.name] }),
            json!({}),
        ))
        .await
        .unwrap();
    waits_for_membership(&alice, &room, &bob.id, "join").await;

    // Alice finds Bob by his address; after Bob unbinds, she does not.
    assert_eq!(lookup(&alice_is, address).await.as_deref(), Some(bob.id.as_str()));
    let unbind = json!({ "sid": sid.sid, "client_secret": "bobsecret", "mxid": bob.id, "threepid": { "medium": "email", "address": address } });
    let is::unbind_v2::Response::Ok(_) = bob_is.unbind_v2(req(json!({}), json!({}), unbind)).await.unwrap();
    assert_eq!(lookup(&alice_is, address).await, None);

    // Logging out ends the identity server token.
    let is::logout::Response::Ok(_) = bob_is.logout(is::logout::Request::new()).await.unwrap();
    refused(
        bob_is.get_account(is::get_account::Request::new()).await.map(drop),
        401,
        "M_UNAUTHORIZED",
        "a logged-out token",
    );
}
