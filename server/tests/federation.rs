//! The server's federation identity as another server sees it: the keys it
//! publishes are signed by themselves and stay the same across restarts,
//! and `/version` names the implementation. Over the federation listener of
//! the real binary (`--federation-listen`).

use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::signing::verify_json;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// Kills the server when dropped, also when the test fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with both listeners on ports the OS picks; returns the
/// federation base URL (from the second line it prints).
fn spawn(db: &std::path::Path) -> (Server, String) {
    let mut server = Server(
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

async fn keys(base: &str) -> matrix_api::server_server::Keys {
    let ss::get_server_key::Response::Ok(keys) = ss::Client::new(base)
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

    let ss::get_version::Response::Ok(version) = ss::Client::new(&base)
        .get_version(ss::get_version::Request::new())
        .await
        .unwrap();
    assert_eq!(version.server.unwrap().name.as_deref(), Some("server"));
}
