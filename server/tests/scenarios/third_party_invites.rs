//! Third-party invites through our homeserver: a user invites an email
//! address; the homeserver asks the identity server (a stand-in here, on
//! the generated identity trait, served over TLS) to look the address up
//! and, as it is not bound, to store the invite, and puts the token and the
//! identity server's key into the room (`m.room.third_party_invite`). When
//! the address is bound, the identity server's `/3pid/onbind` carries its
//! signature over the user's ID and the token, and the homeserver turns it
//! into an invite, itself when the inviter is its user, else through the
//! inviter's server (`/exchange_third_party_invite`, then `/invite`).
//! Forged signatures and replays are refused and store nothing.

use crate::federation::federation_client;
use crate::peers::{register, Ours, User};
use ed25519_dalek::SigningKey;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::Invite3pid;
use matrix_api::identity::endpoints::{self as is, get_hash_details, lookup_users_v2, store_invite_v2};
use matrix_api::identity::{GetHashDetailsResponse, LookupUsersV2Response, PublicKey, StoreInviteV2Response};
use matrix_api_runtime::client::ClientError;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use matrix_api_tests::scenario::req;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The token clients hold at the stand-in identity server.
const ID_TOKEN: &str = "id-access-token";
const PEPPER: &str = "matrixrocks";

/// An identity server that knows some bindings, stores invites and signs
/// with one key, as far as a homeserver's third-party invites need it.
struct StandInIdentity {
    name: String,
    key: SigningKey,
    bound: BTreeMap<String, String>,
    stored: Mutex<Vec<matrix_api::identity::StoreInviteV2Request>>,
}

impl StandInIdentity {
    fn authorised(credentials: &Credentials) -> Result<(), MatrixError> {
        match credentials.access_token.as_deref() {
            Some(ID_TOKEN) => Ok(()),
            _ => Err(MatrixError::unauthorized("unknown identity server token")),
        }
    }

    fn public_key(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// What the identity server sends to `/3pid/onbind` for the invite
    /// with `token`, once `mxid` bound `address`, signed with `key`.
    fn on_bind(&self, address: &str, mxid: &str, room: &str, sender: &str, token: &str, key: &SigningKey) -> Value {
        let mut signed = json!({ "mxid": mxid, "token": token });
        matrix_api_runtime::signing::sign_json(&mut signed, &self.name, "ed25519:0", key);
        json!({
            "medium": "email", "address": address, "mxid": mxid,
            "invites": [{ "medium": "email", "address": address, "mxid": mxid, "room_id": room, "sender": sender, "signed": signed }],
        })
    }
}

impl is::IdentityApi for StandInIdentity {
    async fn get_hash_details(
        &self,
        _: get_hash_details::Request,
        credentials: Credentials,
    ) -> Result<get_hash_details::Response, MatrixError> {
        Self::authorised(&credentials)?;
        let algorithms = vec!["none".to_owned(), "sha256".to_owned()];
        Ok(get_hash_details::Response::Ok(GetHashDetailsResponse::new(
            PEPPER.to_owned(),
            algorithms,
        )))
    }

    async fn lookup_users_v2(
        &self,
        request: lookup_users_v2::Request,
        credentials: Credentials,
    ) -> Result<lookup_users_v2::Response, MatrixError> {
        Self::authorised(&credentials)?;
        assert_eq!(request.body.algorithm, "sha256", "the hashed lookup is preferred");
        assert_eq!(request.body.pepper, PEPPER);
        let mut mappings = BTreeMap::new();
        for (address, mxid) in &self.bound {
            let hash = hash_of(address);
            if request.body.addresses.contains(&hash) {
                mappings.insert(hash, mxid.clone());
            }
        }
        Ok(lookup_users_v2::Response::Ok(LookupUsersV2Response::new(mappings)))
    }

    async fn store_invite_v2(
        &self,
        request: store_invite_v2::Request,
        credentials: Credentials,
    ) -> Result<store_invite_v2::Response, MatrixError> {
        Self::authorised(&credentials)?;
        let mut stored = self.stored.lock().unwrap();
        stored.push(request.body);
        let token = format!("token{}", stored.len());
        let key = PublicKey::new(
            self.public_key(),
            format!("https://{}/_matrix/identity/v2/pubkey/isvalid", self.name),
        );
        Ok(store_invite_v2::Response::Ok(StoreInviteV2Response::new(
            token,
            vec![key],
            "b...@example.org".to_owned(),
        )))
    }
}

fn hash_of(address: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(format!("{address} email {PEPPER}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Serves the stand-in on TLS (self-signed, as the test servers accept).
async fn serve_identity(dir: &std::path::Path, bound: &[(&str, &str)]) -> Arc<StandInIdentity> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = listener.local_addr().unwrap().to_string();
    let files = server::federation::tls::TlsFiles {
        certificate: dir.join("identity.crt"),
        key: dir.join("identity.tls.key"),
        create_if_missing: true,
    };
    let tls = server::federation::tls::server_config(&files, &name).unwrap();
    let identity = Arc::new(StandInIdentity {
        name,
        key: SigningKey::from_bytes(&[42; 32]),
        bound: bound.iter().map(|(a, m)| (a.to_string(), m.to_string())).collect(),
        stored: Mutex::new(Vec::new()),
    });
    tokio::spawn(matrix_api_runtime::server::serve_tls(
        listener,
        is::router_shared(identity.clone(), Default::default()),
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    ));
    identity
}

async fn invite_by_email(
    user: &User,
    room: &str,
    id_server: &str,
    token: &str,
    address: &str,
) -> Result<(), ClientError> {
    let body = Invite3pid::new(
        id_server.to_owned(),
        token.to_owned(),
        "email".to_owned(),
        address.to_owned(),
    );
    let request = cs::invite_by3_pid::Request::new(room.parse().unwrap(), body);
    user.client.invite_by3_pid(request).await.map(drop)
}

async fn on_bind(server: &Ours, body: Value) -> Result<(), ClientError> {
    federation_client(&format!("https://{}", server.name), None)
        .on_bind_third_party_identifier(req(json!({}), json!({}), body))
        .await
        .map(drop)
}

fn refused_with(result: Result<(), ClientError>, status: u16, errcode: &str, what: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_invite_becomes_an_invite_once_the_address_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let a = Ours::start(dir.path(), "a");
    let alice = register(&a.client_base, "alice").await;
    let carol = register(&a.client_base, "carol").await;
    let identity = serve_identity(dir.path(), &[("carol@example.org", &carol.id)]).await;
    let room = alice
        .create_room(json!({ "preset": "private_chat", "name": "Plans" }))
        .await;

    // A token the identity server does not know: its refusal, nothing stored.
    let wrong = invite_by_email(&alice, &room, &identity.name, "nonsense", "bob@example.org").await;
    refused_with(wrong, 401, "M_UNAUTHORIZED", "a wrong identity server token");
    assert!(identity.stored.lock().unwrap().is_empty());

    // Carol is not in the room (she was never in it, or left): refused before
    // the identity server is asked.
    let outsider = invite_by_email(&carol, &room, &identity.name, ID_TOKEN, "bob@example.org").await;
    refused_with(outsider, 403, "M_FORBIDDEN", "an invite from outside the room");
    assert!(identity.stored.lock().unwrap().is_empty());

    // Not bound yet: the identity server keeps the invite, the room gets its token and key.
    invite_by_email(&alice, &room, &identity.name, ID_TOKEN, "bob@example.org")
        .await
        .unwrap();
    let stored = identity.stored.lock().unwrap()[0].clone();
    assert_eq!(
        (stored.address.as_str(), stored.sender.as_str()),
        ("bob@example.org", alice.id.as_str())
    );
    assert_eq!(stored.room_name.as_deref(), Some("Plans"));
    let pending = alice
        .state(&room, "m.room.third_party_invite", "token1")
        .await
        .expect("the invite is in the room");
    assert_eq!(pending["public_key"], json!(identity.public_key()));
    assert_eq!(pending["display_name"], json!("b...@example.org"));

    // Bound already: carol is invited as any user.
    invite_by_email(&alice, &room, &identity.name, ID_TOKEN, "carol@example.org")
        .await
        .unwrap();
    assert_eq!(alice.membership_of(&room, &carol.id).await.as_deref(), Some("invite"));
    assert_eq!(
        identity.stored.lock().unwrap().len(),
        1,
        "no invite stored for a bound address"
    );

    // Bob registers and binds the address. An onbind whose signature is
    // not the identity server's is refused, and nothing is stored.
    let bob = register(&a.client_base, "bob").await;
    let forger = SigningKey::from_bytes(&[7; 32]);
    let forged = identity.on_bind("bob@example.org", &bob.id, &room, &alice.id, "token1", &forger);
    refused_with(on_bind(&a, forged).await, 403, "M_FORBIDDEN", "a forged signature");
    assert_eq!(alice.membership_of(&room, &bob.id).await, None);
    let unknown = identity.on_bind("bob@example.org", &bob.id, &room, &alice.id, "token9", &identity.key);
    refused_with(
        on_bind(&a, unknown).await,
        403,
        "M_FORBIDDEN",
        "a token the room does not have",
    );

    let genuine = identity.on_bind("bob@example.org", &bob.id, &room, &alice.id, "token1", &identity.key);
    on_bind(&a, genuine.clone()).await.unwrap();
    let invite = alice.state(&room, "m.room.member", &bob.id).await.unwrap();
    assert_eq!(invite["membership"], "invite");
    assert_eq!(invite["third_party_invite"]["signed"]["token"], "token1");
    assert_eq!(invite["third_party_invite"]["display_name"], "b...@example.org");
    bob.sees_invite(&room).await;
    bob.join(&room, &a.name).await;
    alice.sees_membership(&room, &bob.id, "join").await;

    // The same onbind again (a token used twice): refused, bob stays joined.
    refused_with(on_bind(&a, genuine).await, 403, "M_FORBIDDEN", "a replayed onbind");
    assert_eq!(alice.membership_of(&room, &bob.id).await.as_deref(), Some("join"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_user_of_another_server_is_invited_through_the_inviters_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Ours::start(dir.path(), "a");
    let b = Ours::start(dir.path(), "b");
    let alice = register(&a.client_base, "alice").await;
    let bob = register(&b.client_base, "bob").await;
    let identity = serve_identity(dir.path(), &[]).await;
    let room = alice.create_room(json!({ "preset": "private_chat" })).await;
    invite_by_email(&alice, &room, &identity.name, ID_TOKEN, "bob@example.org")
        .await
        .unwrap();

    // B is not in the room: it asks A, whose rules refuse a forged signature.
    let forger = SigningKey::from_bytes(&[7; 32]);
    let forged = identity.on_bind("bob@example.org", &bob.id, &room, &alice.id, "token1", &forger);
    refused_with(
        on_bind(&b, forged).await,
        403,
        "M_FORBIDDEN",
        "a forged signature, judged by A",
    );
    assert_eq!(alice.membership_of(&room, &bob.id).await, None);

    // A away: B says so with a 5xx, which tells the identity server to keep
    // the invite and try again later.
    let genuine = identity.on_bind("bob@example.org", &bob.id, &room, &alice.id, "token1", &identity.key);
    a.kill();
    match on_bind(&b, genuine.clone()).await {
        Err(ClientError::Matrix(e)) => assert_eq!(e.status, 503, "{}", e.body.error),
        other => panic!("the inviter's server away: expected 503, got {other:?}"),
    }
    a.restart();
    on_bind(&b, genuine).await.unwrap();
    let invite = alice.state(&room, "m.room.member", &bob.id).await.unwrap();
    assert_eq!(invite["membership"], "invite");
    assert_eq!(invite["third_party_invite"]["display_name"], "b...@example.org");
    bob.sees_invite(&room).await;
    bob.join(&room, &a.name).await;
    alice.sees_membership(&room, &bob.id, "join").await;
    alice.say(&room, "welcome, bob").await;
    bob.sees_message(&room, "welcome, bob").await;
}

/// OpenID tokens, which identity servers register users with: a token
/// names its user at `/openid/userinfo`, and nothing else is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_token_names_its_user_to_other_services() {
    let dir = tempfile::tempdir().unwrap();
    let a = Ours::start(dir.path(), "a");
    let alice = register(&a.client_base, "alice").await;
    let bob = register(&a.client_base, "bob").await;
    let request = |user: &str| req(json!({ "userId": user }), json!({}), json!({}));
    let cs::request_open_id_token::Response::Ok(token) =
        alice.client.request_open_id_token(request(&alice.id)).await.unwrap();
    assert_eq!(
        (token.token_type.as_str(), token.matrix_server_name.as_str()),
        ("Bearer", a.name.as_str())
    );
    assert!(token.expires_in > 0);
    let for_bob = alice.client.request_open_id_token(request(&bob.id)).await.map(drop);
    refused_with(for_bob, 403, "M_FORBIDDEN", "a token for another user");

    let userinfo = |token: &str| {
        let federation = federation_client(&format!("https://{}", a.name), None);
        let request = matrix_api::server_server::endpoints::exchange_open_id_token::Request::new(token.to_owned());
        async move { federation.exchange_open_id_token(request).await }
    };
    let matrix_api::server_server::endpoints::exchange_open_id_token::Response::Ok(info) =
        userinfo(&token.access_token).await.unwrap();
    assert_eq!(info.sub, alice.id);
    refused_with(
        userinfo("forged").await.map(drop),
        401,
        "M_UNKNOWN_TOKEN",
        "an unknown token",
    );
}
