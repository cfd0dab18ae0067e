//! Bad input over raw HTTP (no generated client in the way): every mistake
//! gets its status and Matrix errcode, the server stays up, and nothing is
//! stored by a request that failed.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Status and JSON body (or `Null`) as the server sent them.
type Answer = (u16, Value);
/// Status and errcode a case must get.
type Expected<'a> = (u16, &'a str);

/// One HTTP/1.1 exchange on a fresh connection.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8], extra: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    // `extra` may announce its own length (a body larger than what is sent).
    let length = if extra.contains("Content-Length") {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{extra}{length}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn code(answer: &Answer) -> Expected<'_> {
    (answer.0, answer.1["errcode"].as_str().unwrap_or_default())
}

fn register(addr: &str, name: &str) -> String {
    let body = json!({ "username": name, "password": "pw", "auth": { "type": "m.login.dummy" } }).to_string();
    let (status, r) = http(addr, "POST", "/_matrix/client/v3/register", None, body.as_bytes(), "");
    assert_eq!(status, 200, "{r}");
    r["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn mistakes_get_their_errcodes_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime.block_on(async {
        let router = server::router("test.local", &dir.path().join("hs.db")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(matrix_api_runtime::server::serve(listener, router));
        addr
    });
    let a = addr.as_str();
    let alice = register(a, "alice");
    let eve = register(a, "eve");
    let json_body = |v: Value| v.to_string().into_bytes();
    let get = |path: &str, token: Option<&str>| http(a, "GET", path, token, b"", "");

    // The stubs' own error cases, now on the homeserver.
    let cases: Vec<(&str, Answer, Expected)> = vec![
        (
            "not JSON",
            http(
                a,
                "POST",
                "/_matrix/client/v3/createRoom",
                Some(&alice),
                b"{not json",
                "",
            ),
            (400, "M_NOT_JSON"),
        ),
        (
            "JSON of the wrong shape",
            http(
                a,
                "POST",
                "/_matrix/client/v3/createRoom",
                Some(&alice),
                &json_body(json!({ "name": 5 })),
                "",
            ),
            (400, "M_BAD_JSON"),
        ),
        (
            "a required query parameter missing",
            get("/_matrix/client/v3/rooms/!x:test.local/messages", Some(&alice)),
            (400, "M_MISSING_PARAM"),
        ),
        (
            "a query parameter of the wrong type",
            get("/_matrix/client/v3/sync?timeout=soon", Some(&alice)),
            (400, "M_INVALID_PARAM"),
        ),
        (
            "no token",
            get("/_matrix/client/v3/account/whoami", None),
            (401, "M_MISSING_TOKEN"),
        ),
        (
            "an unknown token",
            get("/_matrix/client/v3/account/whoami", Some("nope")),
            (401, "M_UNKNOWN_TOKEN"),
        ),
        (
            "an unknown endpoint",
            get("/_matrix/client/v3/no/such/thing", Some(&alice)),
            (404, "M_UNRECOGNIZED"),
        ),
        (
            "an operation the server does not implement",
            get("/_matrix/client/v3/devices", Some(&alice)),
            (404, "M_UNRECOGNIZED"),
        ),
        (
            "a wrong method",
            http(a, "DELETE", "/_matrix/client/versions", None, b"", ""),
            (405, "M_UNRECOGNIZED"),
        ),
        (
            "a wrong password",
            http(
                a,
                "POST",
                "/_matrix/client/v3/login",
                None,
                &json_body(
                    json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" }, "password": "no" }),
                ),
                "",
            ),
            (403, "M_FORBIDDEN"),
        ),
        (
            "a taken username",
            http(
                a,
                "POST",
                "/_matrix/client/v3/register",
                None,
                &json_body(json!({ "username": "alice", "password": "other", "auth": { "type": "m.login.dummy" } })),
                "",
            ),
            (400, "M_USER_IN_USE"),
        ),
        (
            "an invalid username",
            http(
                a,
                "POST",
                "/_matrix/client/v3/register",
                None,
                &json_body(json!({ "username": "Éve!", "password": "x", "auth": { "type": "m.login.dummy" } })),
                "",
            ),
            (400, "M_INVALID_USERNAME"),
        ),
        (
            "an invite list with something not a user ID",
            http(
                a,
                "POST",
                "/_matrix/client/v3/createRoom",
                Some(&eve),
                &json_body(json!({ "name": "half", "invite": ["@ok:test.local", "not-a-user"] })),
                "",
            ),
            (400, "M_INVALID_PARAM"),
        ),
        (
            "an unknown room",
            http(
                a,
                "PUT",
                "/_matrix/client/v3/rooms/!nowhere:test.local/send/m.room.message/t1",
                Some(&eve),
                &json_body(json!({ "msgtype": "m.text", "body": "x" })),
                "",
            ),
            (404, "M_NOT_FOUND"),
        ),
        (
            "a body over the limit",
            http(
                a,
                "POST",
                "/_matrix/media/v3/upload",
                Some(&alice),
                b"",
                "Content-Length: 60000000\r\n",
            ),
            (413, "M_TOO_LARGE"),
        ),
    ];
    for (what, answer, expected) in &cases {
        assert_eq!(code(answer), *expected, "{what}: {}", answer.1);
    }

    // A room eve is not in.
    let (_, room) = http(
        a,
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&alice),
        &json_body(json!({ "preset": "private_chat" })),
        "",
    );
    let room_id = room["room_id"].as_str().unwrap();
    let answer = http(
        a,
        "PUT",
        &format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t2"),
        Some(&eve),
        &json_body(json!({ "msgtype": "m.text", "body": "x" })),
        "",
    );
    assert_eq!(code(&answer), (403, "M_FORBIDDEN"), "sending to a room one is not in");

    // Nothing partial: eve's rejected createRoom left no room, the taken-name
    // attempt did not change alice's password, eve's message is not in the room.
    let (_, rooms) = get("/_matrix/client/v3/joined_rooms", Some(&eve));
    assert_eq!(rooms["joined_rooms"], json!([]));
    let login = |pw: &str| {
        http(
            a,
            "POST",
            "/_matrix/client/v3/login",
            None,
            &json_body(json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" }, "password": pw })),
            "",
        )
        .0
    };
    assert_eq!((login("pw"), login("other")), (200, 403));
    let (_, messages) = http(
        a,
        "GET",
        &format!("/_matrix/client/v3/rooms/{room_id}/messages?dir=b"),
        Some(&alice),
        b"",
        "",
    );
    let from_eve = messages["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sender"] == "@eve:test.local")
        .count();
    assert_eq!(from_eve, 0, "a rejected message was stored");

    // Still up.
    let (status, me) = get("/_matrix/client/v3/account/whoami", Some(&alice));
    assert_eq!((status, me["user_id"].as_str()), (200, Some("@alice:test.local")));
}
