//! What clients ask for beside rooms: TURN credentials for calls and the
//! third-party networks the server bridges. Both answered `404
//! M_UNRECOGNIZED` before.

use crate::raw::{code, http, register, serve, serve_with};
use matrix_api_runtime::server::ConnectionTimeouts;
use serde_json::json;
use std::time::Duration;

#[test]
fn turn_credentials_follow_the_configured_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_plain, addr) = serve(dir.path());
    let alice = register(&addr, "alice");
    let (status, none) = http(
        &addr,
        "GET",
        "/_matrix/client/v3/voip/turnServer",
        Some(&alice),
        b"",
        "",
    );
    assert_eq!(
        (status, &none["uris"]),
        (200, &json!([])),
        "no TURN server, no URIs: {none}"
    );

    let other = tempfile::tempdir().unwrap();
    let turn = server::api::TurnConfig {
        uris: vec!["turn:turn.test.local:3478?transport=udp".into()],
        secret: "north".into(),
        ttl: Duration::from_secs(3600),
    };
    let (_with_turn, addr) = serve_with(other.path(), |c| c.turn = Some(turn), ConnectionTimeouts::default());
    let bob = register(&addr, "bob");
    let (status, creds) = http(&addr, "GET", "/_matrix/client/v3/voip/turnServer", Some(&bob), b"", "");
    assert_eq!(status, 200, "{creds}");
    assert_eq!(creds["uris"], json!(["turn:turn.test.local:3478?transport=udp"]));
    assert_eq!(creds["ttl"], 3600);
    let username = creds["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, "@bob:test.local");
    assert!(expiry.parse::<u64>().is_ok(), "{username}");
    assert_eq!(creds["password"].as_str().unwrap().len(), 28, "base64 of a SHA-1 HMAC");
    let (status, _) = http(&addr, "GET", "/_matrix/client/v3/voip/turnServer", None, b"", "");
    assert_eq!(status, 401, "only for users");
}

#[test]
fn no_third_party_networks_are_bridged() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let alice = register(&addr, "alice");
    let get = |path: &str| {
        http(
            &addr,
            "GET",
            &format!("/_matrix/client/v3/thirdparty/{path}"),
            Some(&alice),
            b"",
            "",
        )
    };
    assert_eq!(get("protocols"), (200, json!({})));
    assert_eq!(code(&get("protocol/irc")), (404, "M_NOT_FOUND"));
    assert_eq!(code(&get("location/irc?server=x")), (404, "M_NOT_FOUND"));
    assert_eq!(code(&get("user/irc?nick=x")), (404, "M_NOT_FOUND"));
    assert_eq!(get("location?alias=%23irc_x:test.local"), (200, json!([])));
    assert_eq!(get("user?userid=@irc_x:test.local"), (200, json!([])));
}
