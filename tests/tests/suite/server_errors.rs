//! Raw HTTP against a generated router (not through the generated client):
//! bad input is answered with the right status and Matrix errcode, never
//! reaches the handler, never becomes a 500, and the server stays up.

use matrix_api::client_server::endpoints::{self as cs, ClientServerApi};
use matrix_api_runtime::server::{Credentials, ServerConfig};
use matrix_api_runtime::MatrixError;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a state request carried: room, event type, state key, access token.
type SeenState = (String, String, String, Option<String>);

/// Implements two operations; everything else keeps the generated default.
#[derive(Clone, Default)]
struct Server {
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<SeenState>>>,
}

impl ClientServerApi for Server {
    fn create_room(
        &self,
        request: cs::create_room::Request,
        credentials: Credentials,
    ) -> impl Future<Output = Result<cs::create_room::Response, MatrixError>> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = credentials.access_token;
        async move {
            let name = request.body.name.unwrap_or_default();
            Ok(cs::create_room::Response::Ok(
                serde_json::from_value(json!({ "room_id": format!("!{name}:{}", token.unwrap_or_default()) })).unwrap(),
            ))
        }
    }

    fn get_room_state_with_key(
        &self,
        request: cs::get_room_state_with_key::Request,
        credentials: Credentials,
    ) -> impl Future<Output = Result<cs::get_room_state_with_key::Response, MatrixError>> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let p = request.path;
        self.seen.lock().unwrap().push((
            p.room_id.into_string(),
            p.event_type,
            p.state_key,
            credentials.access_token,
        ));
        async {
            Ok(cs::get_room_state_with_key::Response::Ok(
                serde_json::from_value(json!({ "name": "Room" })).unwrap(),
            ))
        }
    }
}

async fn start(server: Server, config: ServerConfig) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = cs::router_with_config(server, config);
    tokio::spawn(matrix_api_tests::serve(listener, router));
    addr
}

/// Sends raw bytes, returns (status, headers text, JSON body).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // Chunked bodies: take the JSON between the first `{` and the last `}`.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b >= a => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, head.to_ascii_lowercase(), json)
}

fn request(method: &str, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

const AUTH: &str = "Authorization: Bearer tok\r\n";

#[tokio::test]
async fn bad_input_gets_matrix_errors_and_never_reaches_the_handler() {
    let server = Server::default();
    let addr = start(
        server.clone(),
        ServerConfig {
            body_limit: 1024,
            ..Default::default()
        },
    )
    .await;
    let create = "/_matrix/client/v3/createRoom";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "body not JSON",
            request("POST", create, AUTH, b"{not json"),
            400,
            "M_NOT_JSON",
        ),
        (
            "wrong shape",
            request("POST", create, AUTH, br#"{"name": 5}"#),
            400,
            "M_BAD_JSON",
        ),
        (
            "missing token",
            request("POST", create, "", b"{}"),
            401,
            "M_MISSING_TOKEN",
        ),
        (
            "too large",
            request("POST", create, AUTH, &vec![b' '; 4096]),
            413,
            "M_TOO_LARGE",
        ),
        (
            "wrong method on a known path",
            request("DELETE", create, AUTH, b""),
            405,
            "M_UNRECOGNIZED",
        ),
        (
            "unknown path",
            request("GET", "/_matrix/client/v3/nowhere", AUTH, b""),
            404,
            "M_UNRECOGNIZED",
        ),
        (
            "missing required query parameter",
            request("GET", "/_matrix/client/v3/rooms/!r:x/messages", AUTH, b""),
            400,
            "M_MISSING_PARAM",
        ),
        (
            "malformed query parameter",
            request(
                "GET",
                "/_matrix/client/v3/rooms/!r:x/messages?dir=b&limit=many",
                AUTH,
                b"",
            ),
            400,
            "M_INVALID_PARAM",
        ),
        (
            "not implemented (generated default)",
            request("GET", "/_matrix/client/v3/rooms/!r:x/messages?dir=b", AUTH, b""),
            404,
            "M_UNRECOGNIZED",
        ),
    ];
    for (what, bytes, status, errcode) in cases {
        let (got, _, body) = raw(addr, &bytes).await;
        assert_eq!(
            (got, body["errcode"].as_str()),
            (status, Some(errcode)),
            "{what}: {body}"
        );
    }
    // The wrong-shape error names the field.
    let (_, _, body) = raw(addr, &request("POST", create, AUTH, br#"{"name": 5}"#)).await;
    assert!(body["error"].as_str().unwrap().contains("invalid type"), "{body}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 0, "bad input reached the handler");

    // Still up, and a good request works (token from the legacy query parameter too).
    let (status, _, body) = raw(
        addr,
        &request("POST", &format!("{create}?access_token=qtok"), "", br#"{"name":"n"}"#),
    )
    .await;
    assert_eq!((status, body["room_id"].as_str()), (200, Some("!n:qtok")), "{body}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn path_segments_are_decoded_and_an_empty_state_key_works() {
    let server = Server::default();
    let addr = start(server.clone(), ServerConfig::default()).await;
    for path in [
        "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.name/%40user%3Ahost%3A8448",
        "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.name/",
        "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.name",
        "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.name/%24event%2Fwith%2Bchars",
    ] {
        let (status, _, body) = raw(addr, &request("GET", path, AUTH, b"")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let seen = server.seen.lock().unwrap().clone();
    let keys: Vec<&str> = seen.iter().map(|s| s.2.as_str()).collect();
    assert_eq!(keys, ["@user:host:8448", "", "", "$event/with+chars"]);
    assert!(seen
        .iter()
        .all(|s| s.0 == "!room:example.org" && s.1 == "m.room.name" && s.3.as_deref() == Some("tok")));
}

#[tokio::test]
async fn client_server_answers_cors_preflights() {
    let addr = start(Server::default(), ServerConfig::default()).await;
    let (status, head, _) = raw(
        addr,
        &request(
            "OPTIONS",
            "/_matrix/client/v3/createRoom",
            "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n",
            b"",
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(head.contains("access-control-allow-methods"), "{head}");
    assert!(head.contains("authorization"), "{head}");
}

struct OneKey(ed25519_dalek::VerifyingKey);

impl matrix_api_runtime::server::KeyLookup for OneKey {
    fn key(&self, origin: &str, key_id: &str) -> Option<ed25519_dalek::VerifyingKey> {
        (origin == "origin.example" && key_id == "ed25519:1").then_some(self.0)
    }
}

struct Federation;
impl matrix_api::server_server::endpoints::ServerServerApi for Federation {}

#[tokio::test]
async fn federation_signatures_are_verified_before_the_handler() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let config = ServerConfig {
        server_name: Some("dest.example".into()),
        keys: Some(Arc::new(OneKey(key.verifying_key()))),
        cors: false,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(matrix_api_tests::serve(
        listener,
        matrix_api::server_server::endpoints::router_with_config(Federation, config),
    ));
    let uri = "/_matrix/federation/v1/query/profile?user_id=%40a%3Adest.example";
    let signed = matrix_api_runtime::signing::sign_request(
        &key,
        "ed25519:1",
        "origin.example",
        "dest.example",
        "GET",
        uri,
        None,
    );
    let forged = signed.replace("sig=\"", "sig=\"AAAA");
    let other_uri = matrix_api_runtime::signing::sign_request(
        &key,
        "ed25519:1",
        "origin.example",
        "dest.example",
        "GET",
        "/elsewhere",
        None,
    );
    for (what, auth, status, errcode) in [
        ("unsigned", String::new(), 401, "M_UNAUTHORIZED"),
        ("forged", format!("Authorization: {forged}\r\n"), 401, "M_UNAUTHORIZED"),
        (
            "signed for another URI",
            format!("Authorization: {other_uri}\r\n"),
            401,
            "M_UNAUTHORIZED",
        ),
        // A valid signature reaches the handler, which is the generated default.
        ("valid", format!("Authorization: {signed}\r\n"), 404, "M_UNRECOGNIZED"),
    ] {
        let (got, _, body) = raw(addr, &request("GET", uri, &auth, b"")).await;
        assert_eq!(
            (got, body["errcode"].as_str()),
            (status, Some(errcode)),
            "{what}: {body}"
        );
    }
}
