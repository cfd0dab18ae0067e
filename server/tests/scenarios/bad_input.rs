//! Bad input over raw HTTP (no generated client in the way): every mistake
//! gets its status and Matrix errcode, the server stays up, and nothing is
//! stored by a request that failed.

use crate::raw::{code, http, register, serve, Answer, Expected};
use serde_json::{json, Value};

#[test]
fn mistakes_get_their_errcodes_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
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
            http(
                a,
                "POST",
                "/_matrix/client/v3/rooms/!x:test.local/upgrade",
                Some(&alice),
                b"{\"new_version\":\"11\"}",
                "",
            ),
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
            "a filter with an event_format the spec does not list",
            http(
                a,
                "POST",
                "/_matrix/client/v3/user/@alice:test.local/filter",
                Some(&alice),
                &json_body(json!({ "event_format": "AAA" })),
                "",
            ),
            (400, "M_BAD_JSON"),
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

    // An empty body is not an event with empty content.
    for (path, what) in [
        (
            format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t3"),
            "an empty /send",
        ),
        (
            format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.topic/"),
            "an empty PUT /state",
        ),
    ] {
        let answer = http(a, "PUT", &path, Some(&alice), b"", "");
        assert_eq!(code(&answer), (400, "M_NOT_JSON"), "{what}: {}", answer.1);
    }
    // A NUL character in a path parameter (here a state key): refused on
    // either database, and nothing stored.
    let answer = http(
        a,
        "PUT",
        &format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.topic/a%00b"),
        Some(&alice),
        &json_body(json!({ "topic": "nul" })),
        "",
    );
    assert_eq!(
        code(&answer),
        (400, "M_INVALID_PARAM"),
        "a NUL in a state key: {}",
        answer.1
    );
    let (_, state) = get(&format!("/_matrix/client/v3/rooms/{room_id}/state"), Some(&alice));
    assert!(
        !state.as_array().unwrap().iter().any(|e| e["type"] == "m.room.topic"),
        "a topic was stored: {state}"
    );
    let (_, topic) = get(
        &format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.topic/"),
        Some(&alice),
    );
    assert_eq!(topic["errcode"], "M_NOT_FOUND", "an empty topic was stored: {topic}");

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
    let chunk = messages["chunk"].as_array().unwrap();
    let from_eve = chunk.iter().filter(|e| e["sender"] == "@eve:test.local").count();
    assert_eq!(from_eve, 0, "a rejected message was stored");
    assert!(
        !chunk.iter().any(|e| e["type"] == "m.room.message"),
        "an empty message was stored"
    );

    // Still up.
    let (status, me) = get("/_matrix/client/v3/account/whoami", Some(&alice));
    assert_eq!((status, me["user_id"].as_str()), (200, Some("@alice:test.local")));
}
