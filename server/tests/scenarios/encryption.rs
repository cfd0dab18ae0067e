//! End-to-end encryption plumbing over raw HTTP: device and one-time keys
//! kept exactly as signed, claimed once, fallback keys after them,
//! cross-signing keys, to-device messages delivered once, and the
//! `device_lists` of `/sync` and `/keys/changes`. All of it answered
//! `404 M_UNRECOGNIZED` before.

use crate::raw;
use crate::raw::{code, http};
use serde_json::{json, Value};

struct Client<'a> {
    addr: &'a str,
    token: String,
}

impl Client<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        http(
            self.addr,
            method,
            &format!("/_matrix/client/v3/{path}"),
            Some(&self.token),
            body.as_bytes(),
            "",
        )
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    fn sync(&self, since: Option<&str>) -> Value {
        match since {
            Some(since) => self.ok("GET", &format!("sync?since={since}"), None),
            None => self.ok("GET", "sync", None),
        }
    }
}

fn register<'a>(addr: &'a str, name: &str, device: &str) -> Client<'a> {
    let body = json!({ "username": name, "password": "pw", "device_id": device,
                       "initial_device_display_name": format!("{name}'s {device}"),
                       "auth": { "type": "m.login.dummy" } });
    let (status, r) = http(
        addr,
        "POST",
        "/_matrix/client/v3/register",
        None,
        body.to_string().as_bytes(),
        "",
    );
    assert_eq!(status, 200, "{r}");
    Client {
        addr,
        token: r["access_token"].as_str().unwrap().to_owned(),
    }
}

fn device_keys(user: &str, device: &str) -> Value {
    json!({
        "user_id": user, "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": { format!("curve25519:{device}"): "curvekey", format!("ed25519:{device}"): "edkey" },
        "signatures": { user: { format!("ed25519:{device}"): "signature" } },
        // Not in the spec's schema, but signed: it must come back as sent.
        "org.example.extension": { "signed": true },
    })
}

fn signed_key(key: &str, user: &str) -> Value {
    json!({ "key": key, "signatures": { user: { "ed25519:A1": "sig" } } })
}

#[test]
fn keys_are_kept_as_signed_claimed_once_and_changes_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = raw::serve(dir.path());
    let alice = register(&addr, "alice", "A1");
    let bob = register(&addr, "bob", "B1");
    let room = alice.ok("POST", "createRoom", Some(json!({ "preset": "public_chat" })))["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.ok("POST", &format!("join/{room}"), Some(json!({})));
    let before = bob.sync(None)["next_batch"].as_str().unwrap().to_owned();

    // Uploads: keys for another device are refused; the rest is counted.
    let wrong = alice.call(
        "POST",
        "keys/upload",
        Some(json!({ "device_keys": device_keys("@alice:test.local", "B1") })),
    );
    assert_eq!(code(&wrong), (400, "M_INVALID_PARAM"));
    let mut fallback = signed_key("fallbackkey", "@alice:test.local");
    fallback["fallback"] = json!(true);
    let upload = json!({
        "device_keys": device_keys("@alice:test.local", "A1"),
        "one_time_keys": {
            "signed_curve25519:AAAA": signed_key("k1", "@alice:test.local"),
            "signed_curve25519:AAAB": signed_key("k2", "@alice:test.local"),
        },
        "fallback_keys": { "signed_curve25519:AAAC": fallback },
    });
    let counts = alice.ok("POST", "keys/upload", Some(upload));
    assert_eq!(counts["one_time_key_counts"], json!({ "signed_curve25519": 2 }));
    let changed = alice.call(
        "POST",
        "keys/upload",
        Some(json!({ "one_time_keys": { "signed_curve25519:AAAA": signed_key("other", "@alice:test.local") } })),
    );
    assert_eq!(
        code(&changed),
        (400, "M_INVALID_PARAM"),
        "a one-time key ID cannot change its key"
    );

    // Bob sees the change in his sync and in /keys/changes, and the keys as signed.
    let sync = bob.sync(Some(&before));
    assert_eq!(
        sync["device_lists"]["changed"],
        json!(["@alice:test.local"]),
        "{}",
        sync["device_lists"]
    );
    let after = sync["next_batch"].as_str().unwrap();
    let changes = bob.ok("GET", &format!("keys/changes?from={before}&to={after}"), None);
    assert_eq!(changes["changed"], json!(["@alice:test.local"]));
    let query = bob.ok(
        "POST",
        "keys/query",
        Some(json!({ "device_keys": { "@alice:test.local": [] } })),
    );
    let mut expected = device_keys("@alice:test.local", "A1");
    expected["unsigned"] = json!({ "device_display_name": "alice's A1" });
    assert_eq!(query["device_keys"]["@alice:test.local"]["A1"], expected);

    // Claims: each one-time key once, then the fallback key (kept as sent).
    let claim = || {
        let claimed = bob.ok(
            "POST",
            "keys/claim",
            Some(json!({ "one_time_keys": { "@alice:test.local": { "A1": "signed_curve25519" } } })),
        );
        claimed["one_time_keys"]["@alice:test.local"]["A1"].clone()
    };
    let first = claim();
    let second = claim();
    assert_ne!(first, second);
    assert!(first.get("signed_curve25519:AAAA").is_some() || first.get("signed_curve25519:AAAB").is_some());
    let third = claim();
    assert_eq!(third["signed_curve25519:AAAC"]["fallback"], true, "{third}");
    assert_eq!(claim(), third, "the fallback key stays until replaced");
    assert_eq!(alice.sync(None)["device_one_time_keys_count"], json!({}));

    // Cross-signing: the first upload needs no password, a replacement does;
    // others see the master and self-signing keys, only alice her user-signing key.
    let cross = |usage: &str, public: &str| json!({ "user_id": "@alice:test.local", "usage": [usage], "keys": { format!("ed25519:{public}"): public } });
    let keys = json!({
        "master_key": cross("master", "MASTER"),
        "self_signing_key": cross("self_signing", "SELF"),
        "user_signing_key": cross("user_signing", "USER"),
    });
    alice.ok("POST", "keys/device_signing/upload", Some(keys.clone()));
    let again = alice.call("POST", "keys/device_signing/upload", Some(keys));
    assert_eq!(again.0, 401, "{}", again.1);
    assert!(again.1["flows"].is_array() && again.1["session"].is_string());
    let query = json!({ "device_keys": { "@alice:test.local": [] } });
    let seen_by_bob = bob.ok("POST", "keys/query", Some(query.clone()));
    assert_eq!(
        seen_by_bob["master_keys"]["@alice:test.local"]["keys"]["ed25519:MASTER"],
        "MASTER"
    );
    assert!(seen_by_bob["self_signing_keys"]["@alice:test.local"].is_object());
    assert!(seen_by_bob["user_signing_keys"].get("@alice:test.local").is_none());
    let seen_by_alice = alice.ok("POST", "keys/query", Some(query.clone()));
    assert!(seen_by_alice["user_signing_keys"]["@alice:test.local"].is_object());

    // Signatures on her own device are merged into the stored keys.
    let signature = json!({ "@alice:test.local": { "A1": {
        "user_id": "@alice:test.local", "device_id": "A1",
        "signatures": { "@alice:test.local": { "ed25519:SELF": "cross-signature" } },
    } } });
    let answer = alice.ok("POST", "keys/signatures/upload", Some(signature));
    assert_eq!(answer["failures"], json!({}));
    let query = bob.ok("POST", "keys/query", Some(query));
    let signatures = &query["device_keys"]["@alice:test.local"]["A1"]["signatures"]["@alice:test.local"];
    assert_eq!(signatures["ed25519:SELF"], "cross-signature");
    assert_eq!(signatures["ed25519:A1"], "signature");
}

#[test]
fn to_device_messages_arrive_once_and_device_lists_follow_rooms() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = raw::serve(dir.path());
    let alice = register(&addr, "alice", "A1");
    let bob = register(&addr, "bob", "B1");
    let carol = Client {
        addr: &addr,
        token: raw::register(&addr, "carol"),
    };
    let room = alice.ok("POST", "createRoom", Some(json!({ "preset": "public_chat" })))["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = alice.sync(None)["next_batch"].as_str().unwrap().to_owned();

    // A message for A1 and one for every device of alice's, the request sent twice.
    let send = |txn: &str| {
        let messages = json!({ "messages": { "@alice:test.local": {
            "A1": { "room_key": "for A1" }, "*": { "room_key": "for all" },
        } } });
        bob.ok("PUT", &format!("sendToDevice/m.room_key/{txn}"), Some(messages));
    };
    send("t1");
    send("t1");
    let sync = alice.sync(Some(&start));
    let events = sync["to_device"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["sender"] == "@bob:test.local" && e["type"] == "m.room_key"));
    // A sync retried from the same token (its answer lost) gets them again…
    let retried = alice.sync(Some(&start));
    assert_eq!(retried["to_device"]["events"].as_array().unwrap().len(), 2);
    // …until the client syncs from the token after them: then they are gone.
    let next = sync["next_batch"].as_str().unwrap();
    let later = alice.ok("GET", &format!("sync?since={next}&timeout=0"), None);
    assert_eq!(later["to_device"]["events"], json!([]));
    assert_eq!(
        alice.sync(Some(&start))["to_device"]["events"],
        json!([]),
        "acknowledged messages are deleted"
    );

    // Joining a room makes the members' device lists change; leaving the
    // only shared room puts the leaver in `left`.
    let before_join = alice.sync(None)["next_batch"].as_str().unwrap().to_owned();
    carol.ok("POST", &format!("join/{room}"), Some(json!({})));
    let sync = alice.sync(Some(&before_join));
    assert_eq!(sync["device_lists"]["changed"], json!(["@carol:test.local"]));
    let before_leave = sync["next_batch"].as_str().unwrap().to_owned();
    carol.ok("POST", &format!("rooms/{room}/leave"), Some(json!({})));
    let sync = alice.sync(Some(&before_leave));
    assert_eq!(sync["device_lists"]["left"], json!(["@carol:test.local"]));

    // Too large a message is refused whole.
    let big = json!({ "messages": { "@alice:test.local": { "A1": { "pad": "x".repeat(70_000) } } } });
    assert_eq!(
        code(&bob.call("PUT", "sendToDevice/m.room_key/t2", Some(big))),
        (413, "M_TOO_LARGE")
    );
}
