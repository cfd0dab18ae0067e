//! Helpers shared by the homeserver's tests.

pub mod http;

use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::Client;
use serde_json::json;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The database the homeservers of a scenario binary store into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Database {
    /// A file in the test's folder.
    Sqlite,
    /// A new database on the tests' own PostgreSQL server, the server's
    /// files in the test's folder.
    Postgres,
}

/// The configuration of a homeserver named `name` whose files are in
/// `dir`, on this binary's database ([`crate::DATABASE`]). The same `dir`
/// again is the same database, as a restart would use it.
pub fn config(name: &str, dir: &Path) -> server::Config {
    match crate::DATABASE {
        Database::Sqlite => server::Config::new(name, &dir.join("hs.db")),
        Database::Postgres => server::Config::postgres(name, &postgres_database(dir), dir),
    }
}

/// The PostgreSQL database of the homeserver in `dir`, made the first time.
fn postgres_database(dir: &Path) -> String {
    static MADE: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, url)) = made.iter().find(|(d, _)| d == dir) {
        return url.clone();
    }
    let url = matrix_api_tests::postgres::database("scenario");
    made.push((dir.to_owned(), url.clone()));
    url
}

/// The server binary's arguments for the database of `dir`: `--db` (and
/// `--data-dir` for PostgreSQL).
pub fn database_args(dir: &Path) -> Vec<OsString> {
    let config = config("test.local", dir);
    let mut args = vec!["--db".into(), config.db.into_os_string()];
    if crate::DATABASE == Database::Postgres {
        args.extend(["--data-dir".into(), dir.as_os_str().to_owned()]);
    }
    args
}

pub use matrix_api_tests::scenario::req;

/// Registers `user` (password `pw`) and returns a client holding its token.
pub async fn register(base: &str, user: &str) -> cs::Client {
    let cs::register::Response::Ok(r) = cs::Client::new(base)
        .register(req(
            json!({}),
            json!({}),
            json!({ "username": user, "password": "pw", "auth": { "type": "m.login.dummy" } }),
        ))
        .await
        .unwrap()
    else {
        panic!("registering {user}: the dummy stage did not complete");
    };
    cs::Client(Client::new(base).with_access_token(r.access_token.unwrap()))
}

/// The server binary, killed when dropped (also when the test fails).
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server binary on the database of `dir` (the same again after
/// a restart), on a port the OS picks, with `args` besides; its base URL,
/// read from the line it prints once it listens (so no other process can
/// take the port first).
pub fn start_binary(dir: &Path, args: &[&str]) -> (ServerProcess, String) {
    use std::io::BufRead;
    let mut server = ServerProcess(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--server-name", "test.local", "--listen", "127.0.0.1:0"])
            .args(args)
            .args(database_args(dir))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server ended before listening"
        );
    }
    // Its later output is not read: drained so that it never blocks.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let base = line.rsplit(' ').next().unwrap().trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "unexpected start line: {line}");
    (server, base)
}
