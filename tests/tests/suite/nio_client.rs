//! A real Matrix client, matrix-nio (PyPI), runs a scripted session
//! (tests/python/nio_session.py) against our homeserver on loopback. The
//! session fails on any error response or anything nio cannot parse. It
//! runs on each of the homeserver's databases: SQLite and PostgreSQL.

use matrix_api_tests::{python, serve, workspace_root};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_nio_session_against_our_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    nio_session(server::Config::new("localhost", &dir.path().join("hs.db")), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_nio_session_against_our_server_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = matrix_api_tests::postgres::database("nio");
    nio_session(server::Config::postgres("localhost", &url, dir.path()), "postgres").await;
}

async fn nio_session(config: server::Config, database: &str) {
    let router = server::router_with(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, router));

    let python = python::venv("nio").join("bin/python");
    let script = workspace_root().join("tests/python/nio_session.py");
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(&base).output())
        .await
        .unwrap()
        .expect("running python");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the nio session failed on {database} ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON summary line");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["messages"], 10);
    assert_eq!(summary["history"], 10);
    println!("nio session on {database}: {summary}");
}
