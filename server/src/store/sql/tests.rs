//! The store's behaviour, the same on both databases: each test runs on a
//! fresh SQLite file and a fresh PostgreSQL database (`testing`).

use super::conn::params;
use super::testing::on_each_database;
use super::SqlStore;
use crate::store::{
    Device, KeyStorage, MediaInfo, NewEvent, NewNotification, NewToDevice, Outbound, OutboundEdu, Presence, Receipt,
    ServerKey, Storage,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Appends an event of `room` after its current extremities.
fn append(
    store: &SqlStore,
    room: &str,
    id: &str,
    key: Option<&str>,
    content: Value,
    txn: Option<&str>,
) -> (String, i64) {
    append_with(store, room, id, key, content, txn, &[], &[])
}

#[allow(clippy::too_many_arguments)]
fn append_with(
    store: &SqlStore,
    room: &str,
    id: &str,
    key: Option<&str>,
    content: Value,
    txn: Option<&str>,
    notifications: &[NewNotification],
    destinations: &[String],
) -> (String, i64) {
    let prev: Vec<String> = store
        .forward_extremities(room)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut pdu = Map::new();
    pdu.insert("event_id".into(), json!(id));
    store
        .append(NewEvent {
            event_id: id,
            room_id: room,
            sender: "@alice:hs",
            event_type: if key.is_some() {
                "m.room.member"
            } else {
                "m.room.message"
            },
            state_key: key,
            content: &content,
            origin_server_ts: 1_000,
            txn_key: txn,
            depth: 1 + prev.len() as i64,
            prev_events: &prev,
            pdu: &pdu,
            destinations,
            notifications,
            fork: None,
            soft_failed: false,
        })
        .unwrap()
}

#[test]
fn accounts_devices_and_profiles() {
    on_each_database("accounts", |store| {
        assert!(store.create_user("@alice:hs", "hash1").unwrap());
        assert!(!store.create_user("@alice:hs", "other").unwrap(), "a user is made once");
        assert!(store.user_exists("@alice:hs").unwrap());
        assert!(!store.user_exists("@bob:hs").unwrap());
        store.set_password_hash("@alice:hs", "hash2").unwrap();
        assert_eq!(store.password_hash("@alice:hs").unwrap().as_deref(), Some("hash2"));

        let phone = Device {
            device_id: "PHONE".into(),
            display_name: Some("Phone".into()),
            last_seen_ts: Some(5),
        };
        store.add_token("t1", "@alice:hs", &phone).unwrap();
        let again = Device {
            display_name: None,
            last_seen_ts: Some(9),
            ..phone.clone()
        };
        store.add_token("t2", "@alice:hs", &again).unwrap();
        let laptop = Device {
            device_id: "LAPTOP".into(),
            display_name: None,
            last_seen_ts: None,
        };
        store.add_token("t3", "@alice:hs", &laptop).unwrap();
        assert_eq!(
            store.token_owner("t2").unwrap(),
            Some(("@alice:hs".into(), "PHONE".into()))
        );
        let devices = store.devices("@alice:hs").unwrap();
        let summary: Vec<_> = devices
            .iter()
            .map(|d| (d.device_id.as_str(), d.display_name.as_deref(), d.last_seen_ts))
            .collect();
        assert_eq!(
            summary,
            [("LAPTOP", None, None), ("PHONE", Some("Phone"), Some(9))],
            "a new token keeps the device's name"
        );
        assert!(store.set_device_name("@alice:hs", "LAPTOP", Some("Work")).unwrap());
        assert!(!store.set_device_name("@alice:hs", "NONE", Some("x")).unwrap());
        store.delete_devices("@alice:hs", &["PHONE".into()]).unwrap();
        assert_eq!(store.token_owner("t1").unwrap(), None);
        assert_eq!(store.devices("@alice:hs").unwrap().len(), 1);

        store.add_openid_token("o1", "@alice:hs", 100).unwrap();
        assert_eq!(
            store.openid_token_owner("o1", 50).unwrap().as_deref(),
            Some("@alice:hs")
        );
        assert_eq!(store.openid_token_owner("o1", 150).unwrap(), None);

        store
            .set_profile_field("@alice:hs", "displayname", Some(&json!("Alice")))
            .unwrap();
        store
            .set_profile_field("@alice:hs", "m.tz", Some(&json!({"z": 1})))
            .unwrap();
        store
            .set_profile_field("@alice:hs", "displayname", Some(&json!("Al")))
            .unwrap();
        assert_eq!(
            Value::Object(store.profile("@alice:hs").unwrap()),
            json!({"displayname": "Al", "m.tz": {"z": 1}})
        );
        store.set_profile_field("@alice:hs", "m.tz", None).unwrap();
        assert_eq!(
            Value::Object(store.profile("@alice:hs").unwrap()),
            json!({"displayname": "Al"})
        );
    });
}

#[test]
fn events_state_and_their_queues() {
    on_each_database("events", |store| {
        store.create_room("!r:hs", "@alice:hs", "10").unwrap();
        assert_eq!(store.room_info("!r:hs").unwrap().unwrap().version, "10");
        let start = store.max_stream().unwrap();
        let (_, join) = append(
            store,
            "!r:hs",
            "$join",
            Some("@alice:hs"),
            json!({"membership": "join"}),
            None,
        );
        let notify = [NewNotification {
            user_id: "@bob:hs".into(),
            actions: json!(["notify"]),
            highlight: true,
        }];
        let remote = ["other.example".to_owned()];
        let (first, at) = append_with(
            store,
            "!r:hs",
            "$m1",
            None,
            json!({"body": "hi"}),
            Some("alice:D:1"),
            &notify,
            &remote,
        );
        // The same transaction ID again: the first event, nothing new.
        let (again, again_at) = append(
            store,
            "!r:hs",
            "$m1-again",
            None,
            json!({"body": "hi"}),
            Some("alice:D:1"),
        );
        assert_eq!((again.as_str(), again_at), (first.as_str(), at));
        assert!(store.event("$m1-again").unwrap().is_none());
        append(store, "!r:hs", "$m2", None, json!({"body": "there"}), None);
        let end = store.max_stream().unwrap();
        assert!(start < join && join < at && at < end);

        let between: Vec<_> = store
            .events_between("!r:hs", start, end)
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(between, ["$join", "$m1", "$m2"]);
        let before: Vec<_> = store
            .events_before("!r:hs", end, 2)
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(before, ["$m1", "$join"]);
        assert_eq!(store.forward_extremities("!r:hs").unwrap(), [("$m2".to_owned(), 2)]);
        assert_eq!(store.membership("!r:hs", "@alice:hs").unwrap().as_deref(), Some("join"));
        assert_eq!(
            store.rooms_of("@alice:hs").unwrap(),
            [("!r:hs".to_owned(), "join".to_owned())]
        );
        assert_eq!(store.current_state("!r:hs").unwrap().len(), 1);
        assert!(store
            .state_after("$m2")
            .unwrap()
            .unwrap()
            .contains_key(&("m.room.member".into(), "@alice:hs".into())));
        assert_eq!(store.pdu("$m1").unwrap().unwrap()["event_id"], "$m1");

        // The PDU waits for its destination, with a durable EDU after it.
        let edu = OutboundEdu {
            destination: "other.example".into(),
            edu: json!({"edu_type": "m.direct_to_device"}),
        };
        store
            .send_to_device("@alice:hs", "D", "txn", "m.x", &[], std::slice::from_ref(&edu))
            .unwrap();
        assert_eq!(store.outbound_destinations().unwrap(), ["other.example"]);
        let batch = store.outbound_batch("other.example", 10).unwrap();
        assert!(matches!(&batch[0].1, Outbound::Pdu(pdu) if pdu["event_id"] == "$m1"));
        assert_eq!(batch[1].1, Outbound::Edu(edu.edu.clone()));
        store.outbound_delivered("other.example", batch[0].0).unwrap();
        assert_eq!(store.outbound_batch("other.example", 10).unwrap().len(), 1);

        // Notifications, with their highlight counts.
        assert_eq!(store.notification_counts("@bob:hs", "!r:hs", start).unwrap(), (1, 1));
        assert_eq!(store.notification_counts("@bob:hs", "!r:hs", at).unwrap(), (0, 0));
        let found = store.notifications("@bob:hs", None, 10, true).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].event_id.as_str(), found[0].highlight), ("$m1", true));

        store
            .redact("$m1", &json!({}), None, &json!({"event_id": "$redaction"}))
            .unwrap();
        let redacted = store.event("$m1").unwrap().unwrap();
        assert_eq!(redacted.content, json!({}));
        assert_eq!(redacted.redacted_because.unwrap()["event_id"], "$redaction");

        store.forget("@alice:hs", "!r:hs").unwrap();
        store.forget("@alice:hs", "!r:hs").unwrap();
        assert!(store.forgotten("@alice:hs", "!r:hs").unwrap());
        store.unforget("@alice:hs", "!r:hs").unwrap();
        assert!(!store.forgotten("@alice:hs", "!r:hs").unwrap());
    });
}

#[test]
fn the_side_stream_and_the_directory() {
    on_each_database("side_stream", |store| {
        let start = store.max_side_stream().unwrap();
        store
            .set_account_data("@a:hs", "", "m.push_rules", &json!({"x": 1}))
            .unwrap();
        store
            .set_account_data("@a:hs", "!r:hs", "m.tag", &json!({"tags": {}}))
            .unwrap();
        store
            .set_account_data("@a:hs", "", "m.push_rules", &json!({"x": 2}))
            .unwrap();
        let changed: Vec<_> = store
            .account_data_since("@a:hs", start)
            .unwrap()
            .into_iter()
            .map(|d| (d.room_id, d.data_type, d.content))
            .collect();
        assert_eq!(
            changed,
            [
                ("!r:hs".to_owned(), "m.tag".to_owned(), json!({"tags": {}})),
                (String::new(), "m.push_rules".to_owned(), json!({"x": 2})),
            ]
        );
        assert_eq!(
            store.account_data("@a:hs", "", "m.push_rules").unwrap(),
            Some(json!({"x": 2}))
        );
        let receipt = Receipt {
            user_id: "@a:hs".into(),
            receipt_type: "m.read".into(),
            thread_id: String::new(),
            event_id: "$e".into(),
            ts: 7,
        };
        let middle = store.max_side_stream().unwrap();
        store.set_receipt("!r:hs", &receipt).unwrap();
        assert_eq!(store.receipts_since("!r:hs", middle).unwrap().len(), 1);
        let presence = Presence {
            state: "online".into(),
            status_msg: Some("here".into()),
            last_active_ts: 3,
        };
        store.set_presence("@a:hs", &presence).unwrap();
        assert_eq!(store.presence("@a:hs").unwrap(), Some(presence.clone()));
        assert_eq!(store.presence_since(middle).unwrap(), [("@a:hs".to_owned(), presence)]);

        let filter = store.add_filter("@a:hs", &json!({"room": {}})).unwrap();
        assert_eq!(store.filter("@a:hs", filter).unwrap(), Some(json!({"room": {}})));
        assert_eq!(store.filter("@b:hs", filter).unwrap(), None);
        assert!(store.add_filter("@a:hs", &json!({})).unwrap() > filter);

        assert!(store.add_alias("#a:hs", "!r:hs", "@a:hs").unwrap());
        assert!(!store.add_alias("#a:hs", "!s:hs", "@b:hs").unwrap());
        assert!(store.add_alias("#b:hs", "!r:hs", "@a:hs").unwrap());
        assert_eq!(store.alias("#a:hs").unwrap(), Some(("!r:hs".into(), "@a:hs".into())));
        assert_eq!(store.aliases_of("!r:hs").unwrap(), ["#a:hs", "#b:hs"]);
        store.delete_alias("#a:hs").unwrap();
        assert_eq!(store.alias("#a:hs").unwrap(), None);
        store.set_published("!r:hs", true).unwrap();
        store.set_published("!r:hs", true).unwrap();
        assert_eq!(store.published_rooms().unwrap(), ["!r:hs"]);
        store.set_published("!r:hs", false).unwrap();
        assert!(store.published_rooms().unwrap().is_empty());

        let media = MediaInfo {
            uploader: "@a:hs".into(),
            content_type: Some("text/plain".into()),
            filename: None,
            size: 12,
        };
        store.add_media("m1", &media).unwrap();
        assert_eq!(store.media("m1").unwrap().unwrap().size, 12);

        let key = ServerKey {
            key: "abc".into(),
            valid_until_ts: 10,
        };
        store.set_server_key("other", "ed25519:1", &key).unwrap();
        let newer = ServerKey {
            valid_until_ts: 20,
            ..key
        };
        store.set_server_key("other", "ed25519:1", &newer).unwrap();
        assert_eq!(store.server_key("other", "ed25519:1").unwrap(), Some(newer));
        store.set_server_key_answer("other", &json!({"k": 1}), 30).unwrap();
        assert_eq!(store.server_key_answer("other").unwrap(), Some((json!({"k": 1}), 30)));
    });
}

#[test]
fn end_to_end_keys_to_device_and_backups() {
    on_each_database("keys", |store| {
        let otk = |n: u32| (format!("signed_curve25519:K{n}"), json!({"key": n}));
        let changed = store
            .upload_keys(
                "@a:hs",
                "D",
                Some(&json!({"keys": 1})),
                &[otk(1), otk(2)],
                &[("signed_curve25519:F".into(), json!({"fallback": true}))],
            )
            .unwrap()
            .unwrap();
        assert!(changed);
        assert_eq!(store.one_time_key_counts("@a:hs", "D").unwrap()["signed_curve25519"], 2);
        assert!(store
            .upload_keys("@a:hs", "D", None, &[(otk(1).0, json!({"key": 9}))], &[])
            .unwrap()
            .is_err());
        assert_eq!(
            store.claim_key("@a:hs", "D", "signed_curve25519").unwrap(),
            Some(otk(1))
        );
        assert_eq!(
            store.claim_key("@a:hs", "D", "signed_curve25519").unwrap(),
            Some(otk(2))
        );
        assert_eq!(
            store.unused_fallback_key_types("@a:hs", "D").unwrap(),
            ["signed_curve25519"]
        );
        let fallback = store.claim_key("@a:hs", "D", "signed_curve25519").unwrap().unwrap();
        assert_eq!(fallback.0, "signed_curve25519:F");
        assert!(store.unused_fallback_key_types("@a:hs", "D").unwrap().is_empty());

        let before = store.max_side_stream().unwrap();
        store
            .set_cross_signing_keys("@b:hs", &[("master", json!({"m": 1}))])
            .unwrap();
        assert_eq!(store.cross_signing_keys("@b:hs").unwrap()["master"], json!({"m": 1}));
        assert_eq!(store.device_list_changes_since(before).unwrap(), ["@b:hs"]);

        let message = |device: &str| NewToDevice {
            user_id: "@b:hs".into(),
            device_id: device.into(),
            content: json!({"n": 1}),
        };
        store
            .send_to_device("@a:hs", "D", "t1", "m.x", &[message("E")], &[])
            .unwrap();
        store
            .send_to_device("@a:hs", "D", "t1", "m.x", &[message("E")], &[])
            .unwrap();
        let inbox = store.to_device_inbox("@b:hs", "E", 0).unwrap();
        assert_eq!(inbox.len(), 1, "a transaction ID is sent once");
        assert!(store.to_device_inbox("@b:hs", "E", inbox[0].pos).unwrap().is_empty());

        let version = store
            .create_backup("@a:hs", "m.megolm_backup.v1", &json!({"p": 1}))
            .unwrap();
        let always: &dyn Fn(&Value, &Value) -> bool = &|_, _| true;
        let keys = vec![
            ("!r:hs".to_owned(), "s1".to_owned(), json!({"k": 1})),
            ("!r:hs".to_owned(), "s2".to_owned(), json!({"k": 2})),
            ("!q:hs".to_owned(), "s3".to_owned(), json!({"k": 3})),
        ];
        let (etag, count) = store.put_backup_keys("@a:hs", version, &keys, always).unwrap();
        assert_eq!((etag, count), (1, 3));
        assert!(store.put_backup_keys("@b:hs", version, &keys, always).is_err());
        assert_eq!(store.backup_keys("@a:hs", version, None, None).unwrap().len(), 3);
        assert_eq!(
            store.backup_keys("@a:hs", version, Some("!r:hs"), None).unwrap().len(),
            2
        );
        assert_eq!(
            store.backup_keys("@a:hs", version, Some("!r:hs"), Some("s2")).unwrap(),
            [keys[1].clone()]
        );
        assert!(store.backup_keys("@b:hs", version, None, None).unwrap().is_empty());
        assert_eq!(
            store
                .delete_backup_keys("@a:hs", version, Some("!r:hs"), Some("s1"))
                .unwrap(),
            (2, 2)
        );
        let current = store.backup_version("@a:hs", None).unwrap().unwrap();
        assert_eq!((current.version, current.etag, current.count), (version, 2, 2));
        assert!(store.update_backup("@a:hs", version, &json!({"p": 2})).unwrap());
        assert!(store.delete_backup("@a:hs", version).unwrap());
        assert!(store.backup_version("@a:hs", Some(version)).unwrap().is_none());
    });
}

/// Writers on several threads (several connections, on PostgreSQL): each
/// transaction ID makes one event however often it is sent, and stream
/// positions become visible in order: a reader that sees position N also
/// sees every event before it.
#[test]
fn concurrent_writers_keep_transaction_ids_and_stream_order() {
    on_each_database("concurrency", |store| {
        store.create_room("!r:hs", "@alice:hs", "10").unwrap();
        let start = store.max_stream().unwrap();
        let (writers, each) = (8, 25);
        let done = std::sync::atomic::AtomicBool::new(false);
        let seen = std::thread::scope(|s| {
            // What a reader saw: how many events, up to which position.
            let reader = s.spawn(|| {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let upto = store.max_stream().unwrap();
                    let events = store.events_between("!r:hs", start, upto).unwrap();
                    seen.push((events.len(), upto));
                }
                seen
            });
            let handles: Vec<_> = (0..writers)
                .map(|w| {
                    s.spawn(move || {
                        for n in 0..each {
                            let txn = format!("w{w}:D:{n}");
                            // Every message is sent twice, as a client retries.
                            for attempt in 0..2 {
                                let id = format!("$w{w}n{n}a{attempt}");
                                append(store, "!r:hs", &id, None, json!({"n": n}), Some(&txn));
                            }
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            reader.join().unwrap()
        });
        let events = store
            .events_between("!r:hs", start, store.max_stream().unwrap())
            .unwrap();
        for (count, upto) in seen {
            let before = events.iter().filter(|e| e.stream <= upto).count();
            assert_eq!(
                count, before,
                "a reader saw position {upto} without every event before it"
            );
        }
        assert_eq!(events.len(), writers * each, "one event per transaction ID");
        let ids: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert!(
            ids.iter().all(|id| id.ends_with("a0")),
            "the first of each pair was kept"
        );
    });
}

#[test]
fn a_logged_location_hides_the_password() {
    use super::shown;
    use std::path::Path;
    assert_eq!(
        shown(Path::new("postgres://hs:secret@db:5432/matrix")),
        "postgres://hs:***@db:5432/matrix"
    );
    assert_eq!(shown(Path::new("postgres://hs@db/matrix")), "postgres://hs@db/matrix");
    assert_eq!(shown(Path::new("/srv/hs.db")), "/srv/hs.db");
}

/// Two stores on one PostgreSQL database stand for two processes: they
/// hear each other's signals and not their own, one at a time holds the
/// append lock, and one holds the senders' claim until it is gone.
#[test]
fn processes_on_one_postgres_database_coordinate() {
    use std::sync::mpsc;
    use std::time::Duration;
    let url = matrix_api_tests::postgres::database("processes");
    let first = SqlStore::postgres(&url).unwrap();
    let second = SqlStore::postgres(&url).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut heard_by_second = second.subscribe().expect("PostgreSQL has signals");
    let mut heard_by_first = first.subscribe().unwrap();
    let next = |heard: &mut tokio::sync::mpsc::UnboundedReceiver<String>, wait: Duration| {
        runtime
            .block_on(async { tokio::time::timeout(wait, heard.recv()).await })
            .ok()
            .flatten()
    };
    // A listener misses what comes before it listens: a signal is sent
    // again (a bounded number of times) until it is heard.
    let until_heard = |from: &SqlStore, heard: &mut tokio::sync::mpsc::UnboundedReceiver<String>, signal: &str| {
        for _ in 0..50 {
            from.publish(signal);
            if let Some(got) = next(heard, Duration::from_millis(200)) {
                return got;
            }
        }
        panic!("{signal} was never heard");
    };
    assert_eq!(until_heard(&first, &mut heard_by_second, "changes"), "changes");
    assert_eq!(until_heard(&second, &mut heard_by_first, "rules @a:hs"), "rules @a:hs");
    // Drain repeats of those, then: nobody hears itself, so the next thing
    // the first hears is the second's.
    while next(&mut heard_by_first, Duration::from_millis(300)).is_some() {}
    // Nobody hears itself: the next thing the first hears is the second's.
    first.publish("pushes");
    second.publish("outbound");
    assert_eq!(
        next(&mut heard_by_first, Duration::from_secs(10)).as_deref(),
        Some("outbound")
    );

    // The append lock: the second waits for the first to let go.
    let held = first.lock_appends().unwrap();
    let (order, events) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _mine = second.lock_appends().unwrap();
            order.send("second has it").unwrap();
        });
        std::thread::sleep(Duration::from_millis(300));
        order.send("first lets go").unwrap();
        drop(held);
    });
    let order: Vec<&str> = events.try_iter().collect();
    assert_eq!(order, ["first lets go", "second has it"]);

    // The senders' claim: one holder, taken over when it is gone.
    assert!(first.claim_senders().unwrap());
    assert!(first.claim_senders().unwrap(), "asked again, it still holds it");
    assert!(!second.claim_senders().unwrap());
    drop(first);
    let mut taken = false;
    for _ in 0..50 {
        taken = second.claim_senders().unwrap();
        if taken {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(taken, "the claim passed to the second once the first was gone");
}

/// A message in a room of many members notifies each (the rows go in
/// chunks of several a statement).
#[test]
fn every_member_gets_its_notification() {
    on_each_database("notifications", |store| {
        store.create_room("!big:hs", "@alice:hs", "10").unwrap();
        let members: Vec<String> = (0..37).map(|n| format!("@m{n}:hs")).collect();
        let notifications: Vec<NewNotification> = members
            .iter()
            .enumerate()
            .map(|(n, user_id)| NewNotification {
                user_id: user_id.clone(),
                actions: json!(["notify", {"n": n}]),
                highlight: n % 5 == 0,
            })
            .collect();
        let start = store.max_stream().unwrap();
        append_with(
            store,
            "!big:hs",
            "$many",
            None,
            json!({"body": "all"}),
            None,
            &notifications,
            &[],
        );
        for (n, user_id) in members.iter().enumerate() {
            let highlight = i64::from(n % 5 == 0);
            assert_eq!(
                store.notification_counts(user_id, "!big:hs", start).unwrap(),
                (1, highlight)
            );
            let found = store.notifications(user_id, None, 5, false).unwrap();
            assert_eq!(found[0].actions, json!(["notify", {"n": n}]), "{user_id}");
        }
    });
}

/// On PostgreSQL a write transaction commits without waiting for the disk;
/// `wait_durable` returns once the log is flushed past it.
#[test]
fn postgres_answers_wait_for_the_flush_of_what_they_wrote() {
    let store = SqlStore::postgres(&matrix_api_tests::postgres::database("flush")).unwrap();
    store.create_room("!r:hs", "@alice:hs", "10").unwrap();
    append(&store, "!r:hs", "$e", None, json!({"body": "kept"}), None);
    let written: String = store
        .with(|c| {
            c.row("SELECT CAST(pg_current_wal_insert_lsn() AS TEXT)", params![], |r| {
                r.get(0)
            })
        })
        .unwrap();
    store.wait_durable().unwrap();
    let flushed: bool = store
        .with(|c| {
            c.row(
                "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), CAST(CAST(?1 AS TEXT) AS pg_lsn)) >= 0",
                params![written],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert!(flushed, "the log is flushed past the append once the wait returns");
}

/// A user-interactive authentication session is taken once; old ones go
/// when a new one is issued.
#[test]
fn uia_sessions_are_taken_once_and_expire() {
    on_each_database("uia", |store| {
        store
            .add_uia_session("s1", "@a:hs", "change_password", 1_000, 0)
            .unwrap();
        assert_eq!(
            store.take_uia_session("s1").unwrap(),
            Some(("@a:hs".to_owned(), "change_password".to_owned(), 1_000))
        );
        assert_eq!(store.take_uia_session("s1").unwrap(), None, "used up");
        store
            .add_uia_session("old", "@a:hs", "delete_devices", 1_000, 0)
            .unwrap();
        store
            .add_uia_session("new", "@a:hs", "delete_devices", 700_000, 100_000)
            .unwrap();
        assert_eq!(store.take_uia_session("old").unwrap(), None, "expired and removed");
        assert!(store.take_uia_session("new").unwrap().is_some());
    });
}
