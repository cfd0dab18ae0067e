//! Abuse over raw HTTP: password guessing is rate-limited (`429
//! M_LIMIT_EXCEEDED` with `retry_after_ms`), and connections that are slow
//! to send headers or a body, or sit idle, are closed. Each case held the
//! server's resources without end before: 258 wrong-password logins in
//! 8 s, 300 half-open connections kept for 45 s, a 40 MB body announced
//! and never sent waited on forever.

use crate::raw::{code, exchange, headers_of, http, register, serve, serve_with};
use matrix_api_runtime::server::ConnectionTimeouts;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn password_guessing_runs_into_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");
    let guess = json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" },
                        "password": "guess" })
    .to_string();
    let burst = server::DEFAULT_RATE_LIMIT.burst as usize;
    // Each guess takes a while (password hashing), so the bucket refills a
    // little during the burst: guess until refused, within a bound.
    let mut answers: Vec<(u16, String)> = Vec::new();
    while answers.last().is_none_or(|(status, _)| *status != 429) && answers.len() < 4 * burst {
        answers.push(exchange(
            a,
            "POST",
            "/_matrix/client/v3/login",
            None,
            guess.as_bytes(),
            "",
        ));
    }
    let refused = answers.len() - 1;
    assert!(
        refused >= burst,
        "refused after {refused} guesses, before the burst of {burst}"
    );
    assert!(answers[..refused].iter().all(|(status, _)| *status == 403));
    let (status, text) = &answers[refused];
    assert_eq!(*status, 429, "no 429 in {} guesses: {text}", answers.len());
    let body: serde_json::Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED");
    assert!(
        body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000),
        "{body}"
    );
    assert!(headers_of(text).contains("retry-after: 1"), "{text}");

    // The limit is per operation and requester: alice, logged in, is not
    // held back, and operations without a documented 429 are not limited.
    let profile = http(
        a,
        "PUT",
        "/_matrix/client/v3/profile/@alice:test.local/displayname",
        Some(&alice),
        br#"{"displayname":"Alice"}"#,
        "",
    );
    assert_eq!(profile.0, 200, "{}", profile.1);
    assert_eq!(http(a, "GET", "/_matrix/client/versions", None, b"", "").0, 200);
}

#[test]
fn limits_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve_with(dir.path(), |c| c.rate_limit = None, ConnectionTimeouts::default());
    let guess = br#"{"type":"m.login.password","identifier":{"type":"m.id.user","user":"nobody"},"password":"x"}"#;
    for _ in 0..server::DEFAULT_RATE_LIMIT.burst + 5 {
        assert_eq!(
            code(&http(&addr, "POST", "/_matrix/client/v3/login", None, guess, "")),
            (403, "M_FORBIDDEN")
        );
    }
}

/// Reads until the server closes the connection (or 20 s pass, which
/// fails the test): what it sent before closing.
fn until_closed(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(e) => panic!("the server kept the connection open: {e}"),
    }
}

#[test]
fn slow_idle_and_silent_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let timeouts = ConnectionTimeouts {
        header_read: Duration::from_millis(300),
    };
    let (_runtime, addr) = serve_with(
        dir.path(),
        |c| c.body_read_timeout = Duration::from_millis(300),
        timeouts,
    );

    // Headers that never end (slowloris).
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    until_closed(&mut slow);

    // A kept-alive connection with nothing more to ask.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answered = until_closed(&mut idle);
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // A body announced and never sent.
    let mut silent = TcpStream::connect(&addr).unwrap();
    let head = "POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40000000\r\n\r\n{";
    silent.write_all(head.as_bytes()).unwrap();
    let answered = until_closed(&mut silent);
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");

    // The server still answers.
    assert_eq!(http(&addr, "GET", "/_matrix/client/versions", None, b"", "").0, 200);
}
