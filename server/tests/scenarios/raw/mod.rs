//! Raw HTTP/1.1 against the homeserver (no generated client in the way), for
//! the tests that send what a careless client or an attacker would.

use matrix_api_runtime::server::ConnectionTimeouts;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

/// Starts the homeserver on loopback with its database in `dir`; it runs
/// as long as the returned runtime lives.
pub fn serve(dir: &Path) -> (tokio::runtime::Runtime, String) {
    serve_with(dir, |_| {}, ConnectionTimeouts::default())
}

/// [`serve`] with the configuration changed by `configure` and the given
/// connection timeouts.
pub fn serve_with(
    dir: &Path,
    configure: impl FnOnce(&mut server::Config),
    timeouts: ConnectionTimeouts,
) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = crate::common::config("test.local", dir);
    configure(&mut config);
    let addr = runtime.block_on(async {
        let router = server::router_with(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(matrix_api_runtime::server::serve_with(listener, router, timeouts));
        addr
    });
    (runtime, addr)
}

/// Status and JSON body (or `Null`) as the server sent them.
pub type Answer = (u16, Value);
/// Status and errcode a case must get.
pub type Expected<'a> = (u16, &'a str);

/// One HTTP/1.1 exchange on a fresh connection: the status and the whole
/// answer as text (status line, headers, body).
pub fn exchange(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8], extra: &str) -> (u16, String) {
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
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, text)
}

/// The headers of an answer, lowercased.
pub fn headers_of(text: &str) -> String {
    text.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase()
}

/// One HTTP/1.1 exchange on a fresh connection: status and JSON body (or `Null`).
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8], extra: &str) -> Answer {
    let (status, text) = exchange(addr, method, path, token, body, extra);
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

pub fn code(answer: &Answer) -> Expected<'_> {
    (answer.0, answer.1["errcode"].as_str().unwrap_or_default())
}

pub fn register(addr: &str, name: &str) -> String {
    let body = json!({ "username": name, "password": "pw", "auth": { "type": "m.login.dummy" } }).to_string();
    let (status, r) = http(addr, "POST", "/_matrix/client/v3/register", None, body.as_bytes(), "");
    assert_eq!(status, 200, "{r}");
    r["access_token"].as_str().unwrap().to_owned()
}
