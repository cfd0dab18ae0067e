//! `server migrate-db`: a homeserver's SQLite database, made by a
//! conversation, copied into PostgreSQL while that server still runs; the
//! server on PostgreSQL then answers `/messages` and `/sync` as the one on
//! SQLite did, and serves the same media. A second copy into the same
//! database is refused.

use crate::common::http::{json_of, User};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

async fn serve(config: server::Config) -> String {
    let router = server::router_with(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(matrix_api_runtime::server::serve(listener, router));
    base
}

/// Drops what changes by the second (`unsigned.age`, presence's
/// `last_active_ago`), everywhere.
fn without_ages(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("age");
                map.remove("last_active_ago");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// What the server answers: `/messages` and a full `/sync` of each user,
/// and the uploaded file.
async fn answers(alice: &User, bob: &User, room: &str, media: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for user in [alice, bob] {
        let messages = user
            .call(
                Method::GET,
                &format!("client/v3/rooms/{room}/messages?dir=b&limit=50"),
                None,
            )
            .await;
        out.push(without_ages(messages));
        // Not marked online by asking: the answers change nothing.
        let sync = user
            .call(Method::GET, "client/v3/sync?full_state=true&set_presence=offline", None)
            .await;
        out.push(without_ages(sync));
    }
    let file = alice
        .http
        .get(format!(
            "{}/_matrix/client/v1/media/download/test.local/{media}",
            alice.base
        ))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert!(file.status().is_success(), "downloading: {}", file.status());
    out.push(Value::String(file.text().await.unwrap()));
    out
}

fn migrate(dir: &Path, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["migrate-db", "--from"])
        .arg(dir.join("hs.db"))
        .args(["--to", url, "--data-dir"])
        .arg(dir.join("postgres"))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_server_answers_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = serve(server::Config::new("test.local", &dir.path().join("hs.db"))).await;
    let alice = User::register(&sqlite, "alice").await;
    let bob = User::register(&sqlite, "bob").await;
    let room = alice
        .call(
            Method::POST,
            "client/v3/createRoom",
            Some(json!({ "name": "Before", "preset": "public_chat" })),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.call(Method::POST, &format!("client/v3/join/{room}"), Some(json!({})))
        .await;
    let mut last = String::new();
    for n in 0..12 {
        let (user, who) = if n % 3 == 0 { (&bob, "bob") } else { (&alice, "alice") };
        let sent = user
            .call(
                Method::PUT,
                &format!("client/v3/rooms/{room}/send/m.room.message/t{n}"),
                Some(json!({ "msgtype": "m.text", "body": format!("{who} {n}") })),
            )
            .await;
        last = sent["event_id"].as_str().unwrap().to_owned();
    }
    alice
        .call(
            Method::PUT,
            &format!("client/v3/rooms/{room}/state/m.room.topic/"),
            Some(json!({ "topic": "moving house" })),
        )
        .await;
    bob.call(
        Method::POST,
        &format!("client/v3/rooms/{room}/receipt/m.read/{last}"),
        Some(json!({})),
    )
    .await;
    alice
        .call(
            Method::PUT,
            "client/v3/user/@alice:test.local/account_data/org.example.note",
            Some(json!({ "kept": true })),
        )
        .await;
    let upload = json_of(
        alice
            .http
            .post(format!("{sqlite}/_matrix/media/v3/upload"))
            .bearer_auth(&alice.token)
            .header("content-type", "text/plain")
            .body("the same bytes"),
    )
    .await;
    let media = upload["content_uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // Asking once first: a user's first calls mark them present, which
    // moves the side stream; what is compared is what asking again gives.
    answers(&alice, &bob, &room, &media).await;
    let before = answers(&alice, &bob, &room, &media).await;

    // Copied while the SQLite server still runs.
    let url = matrix_api_tests::postgres::database("migrate");
    let copy = tokio::task::spawn_blocking({
        let (dir, url) = (dir.path().to_owned(), url.clone());
        move || migrate(&dir, &url)
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&copy.stdout);
    assert!(
        copy.status.success(),
        "migrate-db failed: {report}{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert!(report.contains("counts and checksums agree"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("events ") && !l.contains(" 0 rows")),
        "{report}"
    );

    let postgres = serve(server::Config::postgres(
        "test.local",
        &url,
        &dir.path().join("postgres"),
    ))
    .await;
    let after = answers(&alice.on(&postgres), &bob.on(&postgres), &room, &media).await;
    for (n, (was, is)) in before.iter().zip(&after).enumerate() {
        assert_eq!(was, is, "answer {n} differs after the migration");
    }
    // The server goes on: a new message comes after the old ones.
    alice
        .on(&postgres)
        .call(
            Method::PUT,
            &format!("client/v3/rooms/{room}/send/m.room.message/after"),
            Some(json!({ "msgtype": "m.text", "body": "after" })),
        )
        .await;
    let newest = alice
        .on(&postgres)
        .call(
            Method::GET,
            &format!("client/v3/rooms/{room}/messages?dir=b&limit=2"),
            None,
        )
        .await;
    assert_eq!(newest["chunk"][0]["content"]["body"], "after");
    assert_eq!(newest["chunk"][1]["type"], "m.room.topic");

    // Into a database that holds rows: refused, and said why.
    let again = tokio::task::spawn_blocking({
        let (dir, url) = (dir.path().to_owned(), url.clone());
        move || {
            std::fs::remove_dir_all(dir.join("postgres")).unwrap();
            migrate(&dir, &url)
        }
    })
    .await
    .unwrap();
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("not empty"), "{said}");
}
