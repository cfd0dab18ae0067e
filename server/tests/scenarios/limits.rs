//! The spec's size limits and canonical JSON rules over raw HTTP: each
//! oversized or non-canonical request gets its errcode, and nothing of it is
//! stored (the room's timeline and the room list are as before).

use crate::raw;
use crate::raw::{code, http, register, serve};
use serde_json::{json, Value};

struct Room<'a> {
    addr: &'a str,
    id: String,
}

impl Room<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/_matrix/client/v3/rooms/{}/{rest}", self.id)
    }

    fn messages(&self, token: &str) -> Vec<Value> {
        let (status, r) = http(
            self.addr,
            "GET",
            &self.path("messages?dir=b&limit=100"),
            Some(token),
            b"",
            "",
        );
        assert_eq!(status, 200, "{r}");
        r["chunk"].as_array().cloned().unwrap_or_default()
    }
}

fn joined_rooms(addr: &str, token: &str) -> usize {
    let (_, r) = http(addr, "GET", "/_matrix/client/v3/joined_rooms", Some(token), b"", "");
    r["joined_rooms"].as_array().map(Vec::len).unwrap_or(0)
}

#[test]
fn oversized_and_non_canonical_events_are_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");
    let (status, r) = http(a, "POST", "/_matrix/client/v3/createRoom", Some(&alice), b"{}", "");
    assert_eq!(status, 200, "{r}");
    let room = Room {
        addr: a,
        id: r["room_id"].as_str().unwrap().to_owned(),
    };
    let before = room.messages(&alice).len();
    let send = |path: String, body: &[u8]| http(a, "PUT", &path, Some(&alice), body, "");

    let big = json!({ "msgtype": "m.text", "body": "x".repeat(70_000) }).to_string();
    let cases: Vec<(&str, raw::Answer, (u16, &str))> = vec![
        (
            "a 70 kB message",
            send(room.path("send/m.room.message/t1"), big.as_bytes()),
            (413, "M_TOO_LARGE"),
        ),
        (
            "a 300-byte event type",
            send(room.path(&format!("send/{}/t2", "t".repeat(300))), b"{}"),
            (413, "M_TOO_LARGE"),
        ),
        (
            "a 300-byte state key",
            send(
                room.path(&format!("state/m.room.topic/{}", "k".repeat(300))),
                br#"{"topic":"x"}"#,
            ),
            (413, "M_TOO_LARGE"),
        ),
        (
            "a room name of 1 MiB",
            send(
                room.path("state/m.room.name/"),
                json!({ "name": "n".repeat(1 << 20) }).to_string().as_bytes(),
            ),
            (413, "M_TOO_LARGE"),
        ),
        (
            "an integer beyond 2^53 - 1",
            send(
                room.path("send/m.room.message/t3"),
                br#"{"msgtype":"m.text","body":"x","n":9007199254740992}"#,
            ),
            (400, "M_BAD_JSON"),
        ),
        (
            "a fraction",
            send(
                room.path("send/m.room.message/t4"),
                br#"{"msgtype":"m.text","body":"x","n":1.5}"#,
            ),
            (400, "M_BAD_JSON"),
        ),
        (
            "a key written twice",
            send(
                room.path("send/m.room.message/t5"),
                br#"{"msgtype":"m.text","body":"shown","body":"stored"}"#,
            ),
            (400, "M_BAD_JSON"),
        ),
    ];
    for (what, answer, expected) in &cases {
        assert_eq!(code(answer), *expected, "{what}: {answer:?}");
    }
    assert_eq!(
        room.messages(&alice).len(),
        before,
        "nothing of the refused events is in the room"
    );
    // At the limit's edge it goes through: a 255-byte state key.
    let (status, r) = send(
        room.path(&format!("state/m.room.topic/{}", "k".repeat(255))),
        br#"{"topic":"x"}"#,
    );
    assert_eq!(status, 200, "{r}");

    // createRoom checks its whole plan first: an oversized topic stores no room.
    let rooms = joined_rooms(a, &alice);
    let body = json!({ "topic": "t".repeat(70_000) }).to_string();
    let answer = http(
        a,
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&alice),
        body.as_bytes(),
        "",
    );
    assert_eq!(code(&answer), (413, "M_TOO_LARGE"), "{answer:?}");
    assert_eq!(joined_rooms(a, &alice), rooms, "no half-made room");
}

#[test]
fn identifiers_keep_their_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");

    // A localpart that makes a user ID of more than 255 bytes.
    let body = json!({ "username": "u".repeat(250), "password": "pw", "auth": { "type": "m.login.dummy" } });
    let answer = http(
        a,
        "POST",
        "/_matrix/client/v3/register",
        None,
        body.to_string().as_bytes(),
        "",
    );
    assert_eq!(code(&answer), (400, "M_INVALID_USERNAME"), "{answer:?}");

    let (_, r) = http(a, "POST", "/_matrix/client/v3/createRoom", Some(&alice), b"{}", "");
    let room_id = r["room_id"].as_str().unwrap().to_owned();
    let alias_body = json!({ "room_id": room_id }).to_string();
    let put_alias = |alias: &str| {
        let path = format!("/_matrix/client/v3/directory/room/{alias}");
        http(a, "PUT", &path, Some(&alice), alias_body.as_bytes(), "")
    };
    let long = format!("%23{}:test.local", "a".repeat(300));
    assert_eq!(code(&put_alias(&long)), (400, "M_INVALID_PARAM"));
    assert_eq!(code(&put_alias("%23nul%00here:test.local")), (400, "M_INVALID_PARAM"));
    // Nor is there anything to look up under it.
    let answer = http(
        a,
        "GET",
        "/_matrix/client/v3/directory/room/%23nul%00here:test.local",
        None,
        b"",
        "",
    );
    assert_eq!(code(&answer), (400, "M_INVALID_PARAM"), "{answer:?}");
    // createRoom's `room_alias_name` keeps the same limits.
    let body = json!({ "room_alias_name": "a".repeat(300) }).to_string();
    let answer = http(
        a,
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&alice),
        body.as_bytes(),
        "",
    );
    assert_eq!(code(&answer), (400, "M_INVALID_PARAM"), "{answer:?}");
    assert_eq!(code(&put_alias("%23fine:test.local")).0, 200);
}

/// One raw exchange, answered as the status and headers (lowercased).
fn head_of(addr: &str, method: &str, path: &str, token: &str, body: &[u8], extra: &str) -> (u16, String) {
    let (status, text) = raw::exchange(addr, method, path, Some(token), body, extra);
    (status, raw::headers_of(&text))
}

#[test]
fn downloads_are_sandboxed_and_bad_directions_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");

    // An HTML file uploaded as such is served, but never sniffed or run as a page.
    let page = b"<html><script>alert(1)</script></html>";
    let (status, r) = http(
        a,
        "POST",
        "/_matrix/media/v3/upload",
        Some(&alice),
        page,
        "Content-Type: text/html\r\n",
    );
    assert_eq!(status, 200, "{r}");
    let media = r["content_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mxc://")
        .to_owned();
    let (status, headers) = head_of(
        a,
        "GET",
        &format!("/_matrix/client/v1/media/download/{media}"),
        &alice,
        b"",
        "",
    );
    assert_eq!(status, 200, "{headers}");
    for header in [
        "x-content-type-options: nosniff",
        "content-security-policy: sandbox; default-src 'none'; script-src 'none';",
        "cross-origin-resource-policy: cross-origin",
    ] {
        assert!(headers.contains(header), "{header} missing in:\n{headers}");
    }

    // `/messages` pages backwards or forwards, nothing else.
    let (_, r) = http(a, "POST", "/_matrix/client/v3/createRoom", Some(&alice), b"{}", "");
    let room = r["room_id"].as_str().unwrap();
    let answer = http(
        a,
        "GET",
        &format!("/_matrix/client/v3/rooms/{room}/messages?dir=x"),
        Some(&alice),
        b"",
        "",
    );
    assert_eq!(code(&answer), (400, "M_INVALID_PARAM"), "{answer:?}");
    let answer = http(
        a,
        "GET",
        &format!("/_matrix/client/v3/rooms/{room}/messages?dir=f"),
        Some(&alice),
        b"",
        "",
    );
    assert_eq!(answer.0, 200, "{answer:?}");
}
