//! Presence over raw HTTP: syncing marks a user online, a status set by
//! `PUT /presence` reaches the users who share a room (and only them),
//! in `/sync` and `GET /presence`. Both answered `404 M_UNRECOGNIZED`
//! before, and `/sync`'s presence list was always empty.

use crate::raw::{code, http, register, serve};
use serde_json::{json, Value};

fn call(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http(
        addr,
        method,
        &format!("/_matrix/client/v3/{path}"),
        Some(token),
        body.as_bytes(),
        "",
    )
}

fn presence_of<'a>(sync: &'a Value, user: &str) -> Option<&'a Value> {
    sync["presence"]["events"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["sender"] == user && e["type"] == "m.presence")
        .map(|e| &e["content"])
}

#[test]
fn presence_reaches_those_who_share_a_room() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let (alice, bob, carol) = (register(a, "alice"), register(a, "bob"), register(a, "carol"));
    let (_, room) = call(
        a,
        &alice,
        "POST",
        "createRoom",
        Some(json!({ "preset": "public_chat" })),
    );
    let room = room["room_id"].as_str().unwrap();
    assert_eq!(call(a, &bob, "POST", &format!("join/{room}"), Some(json!({}))).0, 200);
    let (_, first) = call(a, &alice, "GET", "sync?set_presence=offline", None);
    let since = first["next_batch"].as_str().unwrap();

    // Bob syncs: he is online, and alice hears of it.
    call(a, &bob, "GET", "sync", None);
    let (_, sync) = call(
        a,
        &alice,
        "GET",
        &format!("sync?since={since}&timeout=0&set_presence=offline"),
        None,
    );
    let bob_now = presence_of(&sync, "@bob:test.local").expect("bob's presence");
    assert_eq!(
        (bob_now["presence"].as_str(), bob_now["currently_active"].as_bool()),
        (Some("online"), Some(true))
    );
    let since = sync["next_batch"].as_str().unwrap().to_owned();

    // A status he sets reaches alice, in /sync and GET /presence.
    let status = json!({ "presence": "unavailable", "status_msg": "lunch" });
    assert_eq!(
        call(a, &bob, "PUT", "presence/@bob:test.local/status", Some(status)).0,
        200
    );
    let (_, sync) = call(
        a,
        &alice,
        "GET",
        &format!("sync?since={since}&timeout=0&set_presence=offline"),
        None,
    );
    let bob_now = presence_of(&sync, "@bob:test.local").expect("bob's new presence");
    assert_eq!(
        (bob_now["presence"].as_str(), bob_now["status_msg"].as_str()),
        (Some("unavailable"), Some("lunch"))
    );
    let (status, got) = call(a, &alice, "GET", "presence/@bob:test.local/status", None);
    assert_eq!(
        (status, got["presence"].as_str(), got["status_msg"].as_str()),
        (200, Some("unavailable"), Some("lunch"))
    );
    assert!(got["last_active_ago"].is_i64(), "{got}");

    // Carol shares no room with bob: she neither reads nor receives it.
    assert_eq!(
        code(&call(a, &carol, "GET", "presence/@bob:test.local/status", None)),
        (403, "M_FORBIDDEN")
    );
    let (_, carols) = call(a, &carol, "GET", "sync", None);
    assert!(
        presence_of(&carols, "@bob:test.local").is_none(),
        "{}",
        carols["presence"]
    );

    // Only one's own presence, and only the listed states.
    let other = call(
        a,
        &alice,
        "PUT",
        "presence/@bob:test.local/status",
        Some(json!({ "presence": "online" })),
    );
    assert_eq!(code(&other), (403, "M_FORBIDDEN"));
    let bad = call(
        a,
        &bob,
        "PUT",
        "presence/@bob:test.local/status",
        Some(json!({ "presence": "asleep" })),
    );
    assert_eq!(code(&bad), (400, "M_INVALID_PARAM"));
    assert_eq!(
        code(&call(a, &bob, "GET", "sync?set_presence=asleep", None)),
        (400, "M_INVALID_PARAM")
    );
}
