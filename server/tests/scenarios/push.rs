//! Push rules over raw HTTP: the spec's server-default rules for every new
//! account (clients fetch them before their first `/sync` and retried
//! forever on the `404` this server used to answer), editing them, and
//! what they decide: `unread_notifications` in `/sync` and `/notifications`.

use crate::raw::{code, http, register, serve};
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

    fn send(&self, room: &str, txn: &str, content: Value) -> String {
        let answer = self.ok("PUT", &format!("rooms/{room}/send/m.room.message/{txn}"), Some(content));
        answer["event_id"].as_str().unwrap().to_owned()
    }

    fn unread(&self, room: &str) -> (i64, i64) {
        let sync = self.ok("GET", "sync", None);
        let counts = &sync["rooms"]["join"][room]["unread_notifications"];
        (
            counts["notification_count"].as_i64().unwrap(),
            counts["highlight_count"].as_i64().unwrap(),
        )
    }
}

fn rule_ids(rules: &Value, kind: &str) -> Vec<String> {
    rules[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn new_accounts_have_the_spec_default_rules_and_can_edit_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let alice = Client {
        addr: &addr,
        token: register(&addr, "alice"),
    };
    let all = alice.ok("GET", "pushrules/", None);
    let global = &all["global"];
    assert_eq!(alice.ok("GET", "pushrules/global/", None), *global);
    let overrides = rule_ids(global, "override");
    assert_eq!(overrides[0], ".m.rule.master");
    for id in [
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.is_user_mention",
        ".m.rule.reaction",
    ] {
        assert!(overrides.contains(&id.to_owned()), "{id} in {overrides:?}");
    }
    assert!(rule_ids(global, "underride").contains(&".m.rule.message".to_owned()));
    let invite = &global["override"][2];
    assert_eq!(
        invite["conditions"][2]["pattern"], "@alice:test.local",
        "the owner is filled in"
    );
    assert_eq!(
        alice.ok("GET", "pushrules/global/override/.m.rule.master/enabled", None),
        json!({ "enabled": false })
    );

    // The rules are the account data clients read in /sync, and only the
    // server writes that.
    let sync = alice.ok("GET", "sync", None);
    let pushed = sync["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.push_rules")
        .cloned()
        .expect("m.push_rules in the initial sync");
    assert_eq!(pushed["content"]["global"], *global);
    let set = alice.call(
        "PUT",
        "user/@alice:test.local/account_data/m.push_rules",
        Some(json!({})),
    );
    assert_eq!(code(&set), (405, "M_BAD_JSON"));

    // A user rule, placed and changed.
    let tea = json!({ "pattern": "tea", "actions": ["notify", { "set_tweak": "highlight" }] });
    alice.ok("PUT", "pushrules/global/content/tea", Some(tea));
    alice.ok(
        "PUT",
        "pushrules/global/content/coffee?before=tea",
        Some(json!({ "pattern": "coffee", "actions": [] })),
    );
    let rules = alice.ok("GET", "pushrules/global/", None);
    assert_eq!(rule_ids(&rules, "content"), ["coffee", "tea"]);
    let rule = alice.ok("GET", "pushrules/global/content/tea", None);
    assert_eq!(
        (
            rule["pattern"].as_str(),
            rule["default"].as_bool(),
            rule["enabled"].as_bool()
        ),
        (Some("tea"), Some(false), Some(true))
    );
    alice.ok(
        "PUT",
        "pushrules/global/content/tea/enabled",
        Some(json!({ "enabled": false })),
    );
    alice.ok(
        "PUT",
        "pushrules/global/content/tea/actions",
        Some(json!({ "actions": ["notify"] })),
    );
    assert_eq!(
        alice.ok("GET", "pushrules/global/content/tea/actions", None),
        json!({ "actions": ["notify"] })
    );
    assert_eq!(
        alice.ok("GET", "pushrules/global/content/tea/enabled", None),
        json!({ "enabled": false })
    );
    alice.ok("DELETE", "pushrules/global/content/tea", None);
    assert_eq!(
        code(&alice.call("GET", "pushrules/global/content/tea", None)),
        (404, "M_NOT_FOUND")
    );

    // Server-default rules take new actions but are not replaced or deleted.
    alice.ok(
        "PUT",
        "pushrules/global/underride/.m.rule.message/actions",
        Some(json!({ "actions": [] })),
    );
    let refused: [(&str, &str, Option<Value>); 5] = [
        (
            "PUT",
            "pushrules/global/override/.m.rule.mine",
            Some(json!({ "actions": [] })),
        ),
        ("DELETE", "pushrules/global/override/.m.rule.master", None),
        (
            "PUT",
            "pushrules/global/content/nopattern",
            Some(json!({ "actions": [] })),
        ),
        (
            "PUT",
            "pushrules/global/room/not-a-room",
            Some(json!({ "actions": [] })),
        ),
        (
            "PUT",
            "pushrules/global/override/x?before=.m.rule.master",
            Some(json!({ "actions": [] })),
        ),
    ];
    for (method, path, body) in refused {
        assert_eq!(
            code(&alice.call(method, path, body)),
            (400, "M_INVALID_PARAM"),
            "{method} {path}"
        );
    }
    assert_eq!(
        code(&alice.call(
            "PUT",
            "pushrules/global/override/x?after=nothing",
            Some(json!({ "actions": [] }))
        )),
        (404, "M_NOT_FOUND")
    );
    assert_eq!(code(&alice.call("GET", "pushrules/global/sometimes/x", None)).0, 400);
    assert_eq!(
        code(&alice.call("GET", "pushrules/global/override/.m.rule.nothing", None)),
        (404, "M_NOT_FOUND")
    );
}

#[test]
fn the_rules_decide_unread_counts_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let client = |name: &str| Client {
        addr: &addr,
        token: register(&addr, name),
    };
    let (alice, bob, carol) = (client("alice"), client("bob"), client("carol"));
    let room = alice.ok("POST", "createRoom", Some(json!({ "preset": "public_chat" })))["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.ok("POST", &format!("join/{room}"), Some(json!({})));
    carol.ok("POST", &format!("join/{room}"), Some(json!({})));
    assert_eq!(
        alice.unread(&room),
        (0, 0),
        "joins do not notify (.m.rule.member_event)"
    );

    // Three members: an ordinary message notifies, a notice and a reaction do not,
    // a mention of alice highlights.
    bob.send(&room, "t1", json!({ "msgtype": "m.text", "body": "hello" }));
    bob.send(&room, "t2", json!({ "msgtype": "m.notice", "body": "a bot speaking" }));
    let mention = json!({ "msgtype": "m.text", "body": "alice?", "m.mentions": { "user_ids": ["@alice:test.local"] } });
    let mentioned = bob.send(&room, "t3", mention);
    assert_eq!(alice.unread(&room), (2, 1));
    assert_eq!(carol.unread(&room), (2, 0), "the mention is alice's only");
    assert_eq!(bob.unread(&room), (0, 0), "nobody is notified of their own events");

    let list = alice.ok("GET", "notifications", None);
    let items = list["notifications"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["event"]["event_id"], mentioned.as_str(), "newest first");
    assert_eq!(items[0]["room_id"], room.as_str());
    assert_eq!(items[0]["read"], false);
    let highlights = alice.ok("GET", "notifications?only=highlight", None);
    assert_eq!(highlights["notifications"].as_array().unwrap().len(), 1);
    let page = alice.ok("GET", "notifications?limit=1", None);
    let next = page["next_token"].as_str().unwrap();
    let rest = alice.ok("GET", &format!("notifications?limit=1&from={next}"), None);
    assert_eq!(rest["notifications"][0]["event"]["content"]["body"], "hello");

    // A read receipt on the newest event clears the counts and marks them read.
    alice.ok(
        "POST",
        &format!("rooms/{room}/receipt/m.read/{mentioned}"),
        Some(json!({})),
    );
    assert_eq!(alice.unread(&room), (0, 0));
    let list = alice.ok("GET", "notifications", None);
    assert!(list["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["read"] == true));

    // Disabling a rule, or enabling the master rule, silences.
    alice.ok(
        "PUT",
        "pushrules/global/underride/.m.rule.message/enabled",
        Some(json!({ "enabled": false })),
    );
    bob.send(&room, "t4", json!({ "msgtype": "m.text", "body": "quiet now" }));
    assert_eq!(alice.unread(&room), (0, 0));
    carol.ok(
        "PUT",
        "pushrules/global/override/.m.rule.master/enabled",
        Some(json!({ "enabled": true })),
    );
    bob.send(&room, "t5", json!({ "msgtype": "m.text", "body": "and now" }));
    assert_eq!(
        carol.unread(&room),
        (3, 0),
        "t1, t3 and t4 counted for carol, t5 silenced by the master rule"
    );

    // An invite notifies the invitee (.m.rule.invite_for_me).
    let dave = client("dave");
    alice.ok(
        "POST",
        &format!("rooms/{room}/invite"),
        Some(json!({ "user_id": "@dave:test.local" })),
    );
    let list = dave.ok("GET", "notifications", None);
    assert_eq!(list["notifications"][0]["event"]["content"]["membership"], "invite");
}
