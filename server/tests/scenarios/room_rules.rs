//! The room rules over raw HTTP, as an attacker would try them: power level
//! escalation, joins for someone else through `createRoom`, redactions
//! through `/send`, reused transaction IDs. Each case failed before the
//! authorization rules were applied to every event; the cases that held
//! (non-members) stay here so they cannot regress.

use crate::raw::{code, http, register, serve};
use serde_json::{json, Value};

struct Room<'a> {
    addr: &'a str,
    id: String,
}

impl Room<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/_matrix/client/v3/rooms/{}/{rest}", self.id)
    }

    fn put(&self, token: &str, rest: &str, body: Value) -> (u16, Value) {
        http(
            self.addr,
            "PUT",
            &self.path(rest),
            Some(token),
            body.to_string().as_bytes(),
            "",
        )
    }

    fn post(&self, token: &str, rest: &str, body: Value) -> (u16, Value) {
        http(
            self.addr,
            "POST",
            &self.path(rest),
            Some(token),
            body.to_string().as_bytes(),
            "",
        )
    }

    fn get(&self, token: &str, rest: &str) -> (u16, Value) {
        http(self.addr, "GET", &self.path(rest), Some(token), b"", "")
    }

    fn send(&self, token: &str, txn: &str, body: &str) -> String {
        let (status, r) = self.put(
            token,
            &format!("send/m.room.message/{txn}"),
            json!({ "msgtype": "m.text", "body": body }),
        );
        assert_eq!(status, 200, "{r}");
        r["event_id"].as_str().unwrap().to_owned()
    }

    fn levels(&self, token: &str) -> Value {
        let (status, levels) = self.get(token, "state/m.room.power_levels/");
        assert_eq!(status, 200, "{levels}");
        levels
    }
}

fn create_room(addr: &str, token: &str, body: Value) -> (u16, Value) {
    http(
        addr,
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(token),
        body.to_string().as_bytes(),
        "",
    )
}

fn joined_rooms(addr: &str, token: &str) -> Vec<Value> {
    let (status, r) = http(addr, "GET", "/_matrix/client/v3/joined_rooms", Some(token), b"", "");
    assert_eq!(status, 200, "{r}");
    r["joined_rooms"].as_array().unwrap().clone()
}

#[test]
fn the_room_rules_hold_whichever_endpoint_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");
    let carol = register(a, "carol");
    let moderator = register(a, "mod");
    let bob = register(a, "bob");
    let eve = register(a, "eve");

    // alice (100) and carol (100) administer the room, mod moderates at 50,
    // and at 50 may change power levels; bob is an ordinary member.
    let levels = json!({
        "users": { "@alice:test.local": 100, "@carol:test.local": 100, "@mod:test.local": 50 },
        "events": { "m.room.power_levels": 50 },
    });
    let (status, r) = create_room(
        a,
        &alice,
        json!({ "room_version": "11", "preset": "public_chat", "power_level_content_override": levels }),
    );
    assert_eq!(status, 200, "{r}");
    let room = Room {
        addr: a,
        id: r["room_id"].as_str().unwrap().to_owned(),
    };
    for token in [&carol, &moderator, &bob] {
        let (status, r) = room.post(token, "join", json!({}));
        assert_eq!(status, 200, "{r}");
    }
    let before = room.levels(&alice);
    let with_users = |users: Value| {
        let mut levels = before.clone();
        levels["users"] = users;
        levels
    };

    // A moderator raises himself to 100, or lowers the creator to 0.
    let raise = room.put(
        &moderator,
        "state/m.room.power_levels/",
        with_users(json!({ "@alice:test.local": 100, "@carol:test.local": 100, "@mod:test.local": 100 })),
    );
    assert_eq!(code(&raise), (403, "M_FORBIDDEN"), "{raise:?}");
    let demote = room.put(
        &moderator,
        "state/m.room.power_levels/",
        with_users(json!({ "@alice:test.local": 0, "@carol:test.local": 100, "@mod:test.local": 50 })),
    );
    assert_eq!(code(&demote), (403, "M_FORBIDDEN"), "{demote:?}");
    // An admin demotes another admin of the same level (room versions 1–11).
    let equal = room.put(
        &alice,
        "state/m.room.power_levels/",
        with_users(json!({ "@alice:test.local": 100, "@carol:test.local": 0, "@mod:test.local": 50 })),
    );
    assert_eq!(code(&equal), (403, "M_FORBIDDEN"), "{equal:?}");
    // Power levels as strings, or out of an integer's range.
    let stringy = room.put(
        &alice,
        "state/m.room.power_levels/",
        with_users(json!({ "@alice:test.local": "100" })),
    );
    assert_eq!(stringy.0, 403, "{stringy:?}");
    assert_eq!(
        room.levels(&alice),
        before,
        "a refused change must leave the power levels as they were"
    );
    // What the rules allow: the admin promotes the moderator to his own level.
    let promote = room.put(
        &alice,
        "state/m.room.power_levels/",
        with_users(json!({ "@alice:test.local": 100, "@carol:test.local": 100, "@mod:test.local": 100 })),
    );
    assert_eq!(promote.0, 200, "{promote:?}");

    // createRoom with a join for someone else, or a second create event:
    // refused, and nothing of the room is stored.
    let alice_rooms = joined_rooms(a, &alice).len();
    let forged_join = create_room(
        a,
        &alice,
        json!({ "initial_state": [{ "type": "m.room.member", "state_key": "@bob:test.local", "content": { "membership": "join" } }] }),
    );
    assert_eq!(code(&forged_join), (403, "M_FORBIDDEN"), "{forged_join:?}");
    let second_create = create_room(
        a,
        &alice,
        json!({ "initial_state": [{ "type": "m.room.create", "state_key": "", "content": { "room_version": "1" } }] }),
    );
    assert_eq!(code(&second_create), (403, "M_FORBIDDEN"), "{second_create:?}");
    assert_eq!(
        joined_rooms(a, &alice).len(),
        alice_rooms,
        "a refused createRoom stored a room"
    );
    assert_eq!(
        joined_rooms(a, &bob).len(),
        1,
        "bob was joined to a room by someone else"
    );

    // A redaction through /send by a user at level 0, of someone else's event.
    let alices = room.send(&alice, "a1", "alice's words");
    let forged = room.put(&bob, "send/m.room.redaction/r1", json!({ "redacts": alices }));
    assert_eq!(code(&forged), (403, "M_FORBIDDEN"), "{forged:?}");
    let (_, kept) = room.get(&alice, &format!("event/{alices}"));
    assert_eq!(kept["content"]["body"], "alice's words");
    // One's own redaction through /send is applied.
    let own = room.send(&bob, "b1", "bob's typo");
    let redaction = room.put(&bob, "send/m.room.redaction/r2", json!({ "redacts": own }));
    assert_eq!(redaction.0, 200, "{redaction:?}");
    let (_, redacted) = room.get(&bob, &format!("event/{own}"));
    assert_eq!(redacted["content"], json!({}), "{redacted}");
    assert!(redacted["unsigned"]["redacted_because"].is_object(), "{redacted}");
    // A transaction ID reused for a redaction of another event gives back
    // the first redaction and leaves the other event alone.
    let first = room.send(&bob, "b2", "first");
    let second = room.send(&bob, "b3", "second");
    let (status, r1) = room.put(&bob, &format!("redact/{first}/t1"), json!({}));
    assert_eq!(status, 200, "{r1}");
    let (status, r2) = room.put(&bob, &format!("redact/{second}/t1"), json!({}));
    assert_eq!((status, &r2["event_id"]), (200, &r1["event_id"]), "{r2}");
    let (_, untouched) = room.get(&bob, &format!("event/{second}"));
    assert_eq!(untouched["content"]["body"], "second", "{untouched}");

    // What held before: a non-member neither reads nor writes.
    let read = room.get(&eve, "messages?dir=b");
    assert_eq!(code(&read), (403, "M_FORBIDDEN"), "{read:?}");
    let write = room.put(
        &eve,
        "send/m.room.message/e1",
        json!({ "msgtype": "m.text", "body": "hi" }),
    );
    assert_eq!(code(&write), (403, "M_FORBIDDEN"), "{write:?}");
    let state = room.put(&eve, "state/m.room.topic/", json!({ "topic": "mine" }));
    assert_eq!(code(&state), (403, "M_FORBIDDEN"), "{state:?}");
}

fn bodies(events: &Value) -> Vec<String> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

fn sync(addr: &str, token: &str, query: &str) -> Value {
    let (status, r) = http(
        addr,
        "GET",
        &format!("/_matrix/client/v3/sync?{query}"),
        Some(token),
        b"",
        "",
    );
    assert_eq!(status, 200, "{r}");
    r
}

#[test]
fn history_visibility_is_kept_on_every_read_path() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let alice = register(a, "alice");
    let late = register(a, "late");
    let invitee = register(a, "invitee");
    let rejecter = register(a, "rejecter");

    // (setting, what the late joiner sees, what the one who rejected sees)
    let all = ["before the invite", "after the invite", "after the join"];
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("joined", &all[2..], &[]),
        ("invited", &all[1..], &all[1..]),
        ("shared", &all, &[]),
    ];
    for (setting, late_sees, rejecter_sees) in cases {
        let (status, r) = create_room(a, &alice, json!({ "preset": "private_chat" }));
        assert_eq!(status, 200, "{r}");
        let room = Room {
            addr: a,
            id: r["room_id"].as_str().unwrap().to_owned(),
        };
        let (status, r) = room.put(
            &alice,
            "state/m.room.history_visibility/",
            json!({ "history_visibility": setting }),
        );
        assert_eq!(status, 200, "{r}");
        let secret = room.send(&alice, &format!("{setting}1"), "before the invite");
        for token_user in ["@late:test.local", "@rejecter:test.local"] {
            let (status, r) = room.post(&alice, "invite", json!({ "user_id": token_user }));
            assert_eq!(status, 200, "{r}");
        }
        room.send(&alice, &format!("{setting}2"), "after the invite");
        let (status, r) = room.post(&late, "join", json!({}));
        assert_eq!(status, 200, "{r}");
        room.send(&alice, &format!("{setting}3"), "after the join");
        let (status, r) = room.post(&rejecter, "leave", json!({}));
        assert_eq!(status, 200, "{r}");

        let expected = late_sees.to_vec();
        // /messages, newest first.
        let (status, page) = room.get(&late, "messages?dir=b&limit=50");
        assert_eq!(status, 200, "{page}");
        let mut seen = bodies(&page["chunk"]);
        seen.reverse();
        assert_eq!(seen, expected, "/messages with history_visibility {setting}");
        // /event and /context of what came before.
        let single = room.get(&late, &format!("event/{secret}"));
        let context = room.get(&late, &format!("context/{secret}"));
        if late_sees.contains(&"before the invite") {
            assert_eq!((single.0, context.0), (200, 200), "/event and /context with {setting}");
        } else {
            assert_eq!(code(&single), (404, "M_NOT_FOUND"), "/event with {setting}: {single:?}");
            assert_eq!(
                code(&context),
                (404, "M_NOT_FOUND"),
                "/context with {setting}: {context:?}"
            );
        }
        // An initial /sync.
        let initial = sync(a, &late, "");
        let timeline = &initial["rooms"]["join"][&room.id]["timeline"]["events"];
        assert_eq!(bodies(timeline), expected, "initial /sync with {setting}");
        // Who rejected the invite sees only what was sent while invited,
        // and that only where the setting is `invited`.
        let left = sync(
            a,
            &rejecter,
            "filter=%7B%22room%22%3A%7B%22include_leave%22%3Atrue%7D%7D",
        );
        let timeline = &left["rooms"]["leave"][&room.id]["timeline"]["events"];
        assert_eq!(
            bodies(timeline),
            rejecter_sees,
            "the leave section with {setting}: {timeline}"
        );
        // The invitee of an `invited` room would see from the invite; one who
        // never joined reads nothing through /messages at all.
        let (status, _) = room.get(&invitee, "messages?dir=b");
        assert_eq!(status, 403);
    }
}

/// `/state` and `/members` for those who are not joined: a former member
/// reads the room as it was when they left, a `world_readable` room is
/// readable by anyone, and someone who never joined reads nothing.
#[test]
fn state_and_members_as_visibility_allows() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    let (alice, bob, stranger) = (register(a, "alice"), register(a, "bob"), register(a, "stranger"));
    let (_, r) = create_room(a, &alice, json!({ "preset": "public_chat", "topic": "before" }));
    let room = Room {
        addr: a,
        id: r["room_id"].as_str().unwrap().to_owned(),
    };
    assert_eq!(room.post(&bob, "join", json!({})).0, 200);
    let mid = sync_token(a, &alice);
    assert_eq!(room.post(&bob, "leave", json!({})).0, 200);
    room.put(&alice, "state/m.room.topic/", json!({ "topic": "after bob left" }));
    let (status, topic) = room.get(&bob, "state/m.room.topic/");
    assert_eq!(
        (status, topic["topic"].as_str()),
        (200, Some("before")),
        "bob reads the room as he left it"
    );
    let (status, state) = room.get(&bob, "state");
    assert_eq!(status, 200, "{state}");
    let (_, members) = room.get(&bob, "members");
    let bob_member = members["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["state_key"] == "@bob:test.local")
        .cloned()
        .unwrap();
    assert_eq!(bob_member["content"]["membership"], "leave");
    // Members at a point: while bob was still in.
    let (status, then) = room.get(&alice, &format!("members?at={mid}&membership=join"));
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["chunk"].as_array().unwrap().len(), 2, "{then}");
    // Someone who never joined reads nothing, until the room is world-readable.
    assert_eq!(code(&room.get(&stranger, "state")), (403, "M_FORBIDDEN"));
    assert_eq!(code(&room.get(&stranger, "members")), (403, "M_FORBIDDEN"));
    room.put(
        &alice,
        "state/m.room.history_visibility/",
        json!({ "history_visibility": "world_readable" }),
    );
    let (status, topic) = room.get(&stranger, "state/m.room.topic/");
    assert_eq!((status, topic["topic"].as_str()), (200, Some("after bob left")));
}

/// The `next_batch` of an initial sync.
fn sync_token(addr: &str, token: &str) -> String {
    sync(addr, token, "")["next_batch"].as_str().unwrap().to_owned()
}
