//! Server-side key backup over raw HTTP: versions, keys only into the
//! current one, the better backup of a session kept, and each user's
//! backup their own. All of it answered `404 M_UNRECOGNIZED` before.

use crate::raw::{code, http, register, serve};
use serde_json::{json, Value};

const ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";

fn call(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http(
        addr,
        method,
        &format!("/_matrix/client/v3/room_keys/{path}"),
        Some(token),
        body.as_bytes(),
        "",
    )
}

fn session(index: i64, forwarded: i64, verified: bool, tag: &str) -> Value {
    json!({ "first_message_index": index, "forwarded_count": forwarded, "is_verified": verified,
            "session_data": { "ephemeral": tag, "ciphertext": "…", "mac": "…" } })
}

#[test]
fn backups_keep_the_better_key_in_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let (alice, bob) = (register(a, "alice"), register(a, "bob"));
    assert_eq!(code(&call(a, &alice, "GET", "version", None)), (404, "M_NOT_FOUND"));

    let auth_data = json!({ "public_key": "abcdefg", "signatures": {} });
    let (status, created) = call(
        a,
        &alice,
        "POST",
        "version",
        Some(json!({ "algorithm": ALGORITHM, "auth_data": auth_data })),
    );
    assert_eq!(status, 200, "{created}");
    let v1 = created["version"].as_str().unwrap().to_owned();
    let (_, current) = call(a, &alice, "GET", "version", None);
    assert_eq!(
        (current["version"].as_str(), current["count"].as_i64()),
        (Some(v1.as_str()), Some(0))
    );
    assert_eq!(current["auth_data"], auth_data);
    assert_eq!(
        code(&call(a, &bob, "GET", &format!("version/{v1}"), None)),
        (404, "M_NOT_FOUND"),
        "alice's, not bob's"
    );

    // The better backup of a session stays: verified, then lower index, then fewer forwards.
    let put = |path: &str, body: Value| {
        let keys = if path.is_empty() {
            "keys".to_owned()
        } else {
            format!("keys/{path}")
        };
        call(a, &alice, "PUT", &format!("{keys}?version={v1}"), Some(body))
    };
    let (_, first) = put("!room:test.local/s1", session(5, 1, false, "first"));
    assert_eq!(first["count"], 1);
    put("!room:test.local/s1", session(9, 0, false, "worse index"));
    put("!room:test.local/s1", session(5, 0, false, "fewer forwards"));
    put("!room:test.local/s1", session(5, 3, false, "more forwards"));
    let kept = |tag: &str| {
        let (_, got) = call(
            a,
            &alice,
            "GET",
            &format!("keys/!room:test.local/s1?version={v1}"),
            None,
        );
        assert_eq!(got["session_data"]["ephemeral"], tag, "{got}");
    };
    kept("fewer forwards");
    put("!room:test.local/s1", session(20, 9, true, "verified"));
    kept("verified");
    put("!room:test.local/s1", session(0, 0, false, "unverified"));
    kept("verified");

    // Whole rooms and everything; etags move on with each change.
    let (_, many) = put(
        "",
        json!({ "rooms": { "!room:test.local": { "sessions": { "s2": session(0, 0, false, "s2") } },
                           "!other:test.local": { "sessions": { "s3": session(0, 0, false, "s3") } } } }),
    );
    assert_eq!(many["count"], 3);
    let (_, room) = call(a, &alice, "GET", &format!("keys/!room:test.local?version={v1}"), None);
    assert_eq!(room["sessions"].as_object().unwrap().len(), 2);
    let (_, all) = call(a, &alice, "GET", &format!("keys?version={v1}"), None);
    assert_eq!(all["rooms"].as_object().unwrap().len(), 2);
    let (_, deleted) = call(
        a,
        &alice,
        "DELETE",
        &format!("keys/!other:test.local/s3?version={v1}"),
        None,
    );
    assert_eq!(deleted["count"], 2);
    assert_ne!(deleted["etag"], many["etag"]);

    // A new version becomes current: the old one is read-only, then deleted.
    let (_, created) = call(
        a,
        &alice,
        "POST",
        "version",
        Some(json!({ "algorithm": ALGORITHM, "auth_data": {} })),
    );
    let v2 = created["version"].as_str().unwrap().to_owned();
    let stale = put("!room:test.local/s9", session(0, 0, false, "late"));
    assert_eq!(code(&stale), (403, "M_WRONG_ROOM_KEYS_VERSION"));
    assert_eq!(stale.1["current_version"], v2.as_str());
    assert_eq!(call(a, &alice, "GET", &format!("keys?version={v1}"), None).0, 200);
    let changed = json!({ "algorithm": ALGORITHM, "auth_data": { "public_key": "new" }, "version": v2 });
    assert_eq!(call(a, &alice, "PUT", &format!("version/{v2}"), Some(changed)).0, 200);
    let mismatch = json!({ "algorithm": ALGORITHM, "auth_data": {}, "version": v1 });
    assert_eq!(
        code(&call(a, &alice, "PUT", &format!("version/{v2}"), Some(mismatch))),
        (400, "M_INVALID_PARAM")
    );
    assert_eq!(call(a, &alice, "DELETE", &format!("version/{v1}"), None).0, 200);
    assert_eq!(
        code(&call(a, &alice, "GET", &format!("version/{v1}"), None)),
        (404, "M_NOT_FOUND")
    );
    assert_eq!(
        call(a, &alice, "GET", "version", None).1["auth_data"]["public_key"],
        "new"
    );
}
