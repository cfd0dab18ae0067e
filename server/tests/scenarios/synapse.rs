//! Our homeserver federating with Synapse, the reference homeserver, over
//! TLS on loopback: a Synapse user joins a room created here and a user
//! here joins a room created on Synapse; messages sent on each side arrive
//! on the other once and in order; state changes, invites over federation,
//! kicks, bans and leaves are seen on both; typing and receipts cross over;
//! and events forged by a third server enter neither side's room.

use crate::peers::{eventually, eventually_within, register, Ours, User, BACK_AGAIN, CROSSING};
use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::client::{Client, Signer};
use matrix_api_tests::synapse::Synapse;
use serde_json::{json, Map, Value};
use server::federation::pdu::VersionRules;
use server::store::Storage;

/// Messages in turns, each awaited on the other side before the next:
/// both sides then list exactly these, once each and in this order.
async fn talk(room: &str, turns: &[(&User, &User, &str)]) {
    for (speaker, listener, body) in turns {
        speaker.say(room, body).await;
        listener.sees_message(room, body).await;
    }
    let expected: Vec<String> = turns.iter().map(|(_, _, body)| body.to_string()).collect();
    for (user, _, _) in turns.iter().take(2) {
        assert_eq!(user.messages(room).await, expected, "the timeline {} sees", user.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_shared_with_synapse_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let ours = Ours::start(dir.path(), "ours");
    let synapse = Synapse::start_federating();
    let alice = register(&ours.client_base, "alice").await;
    let dave = register(&ours.client_base, "dave").await;
    let bob = register(&synapse.base_url, "bob").await;
    let carol = register(&synapse.base_url, "carol").await;

    // A room here, joined from Synapse.
    let here = alice
        .create_room(json!({ "preset": "public_chat", "name": "Here" }))
        .await;
    bob.join(&here, &ours.name).await;
    alice.sees_membership(&here, &bob.id, "join").await;
    talk(
        &here,
        &[
            (&alice, &bob, "alice 1"),
            (&bob, &alice, "bob 1"),
            (&alice, &bob, "alice 2"),
            (&bob, &alice, "bob 2"),
        ],
    )
    .await;

    // State both ways: a topic and a raised power level from here, a new
    // name from Synapse by the user raised.
    alice
        .set_state(&here, "m.room.topic", json!({ "topic": "set here" }))
        .await;
    let mut levels = alice.state(&here, "m.room.power_levels", "").await.unwrap();
    levels["users"][&bob.id] = json!(50);
    alice.set_state(&here, "m.room.power_levels", levels).await;
    eventually("Synapse seeing the topic and Bob's level", || async {
        let topic = bob.state(&here, "m.room.topic", "").await?;
        let levels = bob.state(&here, "m.room.power_levels", "").await?;
        (topic["topic"] == "set here" && levels["users"][&bob.id] == 50).then_some(())
    })
    .await;
    bob.set_state(&here, "m.room.name", json!({ "name": "Renamed on Synapse" }))
        .await;
    eventually("ours seeing Synapse's name", || async {
        let name = alice.state(&here, "m.room.name", "").await?;
        (name["name"] == "Renamed on Synapse").then_some(())
    })
    .await;

    // Typing and receipts, both ways.
    bob.typing(&here).await;
    alice
        .sees_ephemeral(&here, "Bob typing", |e| {
            e["type"] == "m.typing"
                && e["content"]["user_ids"]
                    .as_array()
                    .is_some_and(|u| u.contains(&json!(bob.id)))
        })
        .await;
    alice.typing(&here).await;
    bob.sees_ephemeral(&here, "Alice typing", |e| {
        e["type"] == "m.typing"
            && e["content"]["user_ids"]
                .as_array()
                .is_some_and(|u| u.contains(&json!(alice.id)))
    })
    .await;
    let last = bob.say(&here, "read me").await;
    alice.sees_message(&here, "read me").await;
    alice.read_up_to(&here, &last).await;
    bob.sees_ephemeral(&here, "Alice's receipt", |e| {
        e["type"] == "m.receipt" && !e["content"][&last]["m.read"][&alice.id].is_null()
    })
    .await;
    let answer = alice.say(&here, "read this too").await;
    bob.sees_message(&here, "read this too").await;
    bob.read_up_to(&here, &answer).await;
    alice
        .sees_ephemeral(&here, "Bob's receipt", |e| {
            e["type"] == "m.receipt" && !e["content"][&answer]["m.read"][&bob.id].is_null()
        })
        .await;

    // To-device messages (how room keys travel), both ways; a client's
    // retry of a transaction delivers nothing twice.
    for _ in 0..2 {
        alice
            .send_to_device(&bob.id, "org.example.ping", "ping-1", json!({ "n": 1 }))
            .await;
    }
    let to_bob = bob.to_device_messages(CROSSING, 1).await;
    let ping = (alice.id.clone(), "org.example.ping".to_owned(), json!({ "n": 1 }));
    assert_eq!(to_bob, vec![ping], "Synapse receives our to-device message once");
    bob.send_to_device(&alice.id, "org.example.pong", "pong-1", json!({ "n": 2 }))
        .await;
    let to_alice = alice.to_device_messages(CROSSING, 1).await;
    let pong = (bob.id.clone(), "org.example.pong".to_owned(), json!({ "n": 2 }));
    assert_eq!(to_alice, vec![pong], "we receive Synapse's to-device message once");

    // Memberships: an invite over federation, accepted; a kick, a ban; a leave.
    alice.membership_change(&here, "invite", &carol.id).await;
    carol.sees_invite(&here).await;
    carol.join(&here, &ours.name).await;
    alice.sees_membership(&here, &carol.id, "join").await;
    alice.membership_change(&here, "kick", &carol.id).await;
    bob.sees_membership(&here, &carol.id, "leave").await;
    alice.membership_change(&here, "ban", &carol.id).await;
    bob.sees_membership(&here, &carol.id, "ban").await;
    bob.membership_change(&here, "leave", &bob.id).await;
    alice.sees_membership(&here, &bob.id, "leave").await;

    // A room on Synapse, joined from here by its alias.
    let there = bob
        .create_room(json!({ "preset": "public_chat", "name": "There", "room_alias_name": "there" }))
        .await;
    alice
        .join(&format!("#there:{}", synapse.server_name), &synapse.server_name)
        .await;
    bob.sees_membership(&there, &alice.id, "join").await;
    talk(
        &there,
        &[
            (&bob, &alice, "there bob 1"),
            (&alice, &bob, "there alice 1"),
            (&bob, &alice, "there bob 2"),
            (&alice, &bob, "there alice 2"),
        ],
    )
    .await;
    bob.set_state(&there, "m.room.topic", json!({ "topic": "set on Synapse" }))
        .await;
    eventually("ours seeing Synapse's topic", || async {
        let topic = alice.state(&there, "m.room.topic", "").await?;
        (topic["topic"] == "set on Synapse").then_some(())
    })
    .await;
    // Synapse invites a user here; the invite arrives here and is accepted.
    bob.membership_change(&there, "invite", &dave.id).await;
    dave.sees_invite(&there).await;
    dave.join(&there, &synapse.server_name).await;
    bob.sees_membership(&there, &dave.id, "join").await;
    bob.membership_change(&there, "kick", &dave.id).await;
    alice.sees_membership(&there, &dave.id, "leave").await;

    forged_events_enter_neither_room(&ours, &synapse, &there, &alice, &bob).await;

    alice.membership_change(&there, "leave", &alice.id).await;
    bob.sees_membership(&there, &alice.id, "leave").await;
}

/// A third server (another of ours, whose keys both can fetch) sends both
/// servers two events for the room: one in Bob's name but signed only by
/// itself, and one by its own user, who is not in the room. Each server
/// refuses both; neither appears in either timeline, while a genuine
/// message sent after them does.
async fn forged_events_enter_neither_room(ours: &Ours, synapse: &Synapse, room: &str, alice: &User, bob: &User) {
    let dir = tempfile::tempdir().unwrap();
    let mallory = Ours::start(dir.path(), "mallory");
    let identity = mallory.identity();

    // Bob's last message as ours stored it: a real PDU to build on.
    let genuine = bob.say(room, "genuine before").await;
    alice.sees_message(room, "genuine before").await;
    let store = server::store::SqlStore::open(&ours.db).unwrap();
    let template = store.pdu(&genuine).unwrap().expect("ours keeps Bob's PDU");
    let version = store.room_info(room).unwrap().unwrap().version;
    let rules = VersionRules::of(&version).unwrap();
    let forge = |sender: &str, body: &str| {
        let mut pdu: Map<String, Value> = template.clone();
        for key in ["signatures", "hashes", "unsigned", "event_id"] {
            pdu.remove(key);
        }
        pdu.insert("sender".into(), json!(sender));
        pdu.insert("content".into(), json!({ "msgtype": "m.text", "body": body }));
        pdu.insert("prev_events".into(), json!([genuine]));
        pdu.insert("depth".into(), json!(template["depth"].as_i64().unwrap() + 1));
        rules.hash_and_sign(&mut pdu, &mallory.name, &identity.key_id, identity.signing_key());
        pdu
    };
    let in_bobs_name = forge(&bob.id, "forged in Bob's name");
    let by_an_outsider = forge(&format!("@mallory:{}", mallory.name), "forged by an outsider");
    let insecure = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    for (n, destination) in [&ours.name, &synapse.server_name].into_iter().enumerate() {
        let signer = Signer {
            origin: mallory.name.clone(),
            destination: destination.clone(),
            key_id: identity.key_id.clone(),
            key: identity.signing_key().clone(),
        };
        let client = ss::Client(
            Client::new(format!("https://{destination}"))
                .with_http(insecure.clone())
                .with_signer(signer),
        );
        let body = serde_json::from_value(json!({
            "origin": mallory.name,
            "origin_server_ts": template["origin_server_ts"],
            "pdus": [in_bobs_name, by_an_outsider],
        }))
        .unwrap();
        let answer = client
            .send_transaction(ss::send_transaction::Request::new(format!("forged{n}"), body))
            .await;
        let Ok(ss::send_transaction::Response::Ok(answer)) = answer else {
            panic!("{destination} refused the transaction itself: {answer:?}");
        };
        let refusal = |pdu: &Map<String, Value>| {
            let event_id = rules.event_id(pdu).unwrap();
            let (_, result) = answer.pdus.iter().find(|(id, _)| id.as_str() == event_id)?;
            result.error.clone()
        };
        // Both say why they refuse the event in Bob's name; ours says so of
        // the outsider's too, while Synapse keeps it as a rejected event
        // without saying (what matters, the timelines, is checked below).
        assert!(refusal(&in_bobs_name).is_some(), "{destination}: {:?}", answer.pdus);
        if destination == &ours.name {
            assert!(refusal(&by_an_outsider).is_some(), "{destination}: {:?}", answer.pdus);
        }
    }
    // Genuine messages sent after the forgeries cross; the forgeries never do.
    alice.say(room, "genuine after, from here").await;
    bob.say(room, "genuine after, from Synapse").await;
    bob.sees_message(room, "genuine after, from here").await;
    alice.sees_message(room, "genuine after, from Synapse").await;
    for user in [alice, bob] {
        let messages = user.messages(room).await;
        assert!(
            !messages.iter().any(|m| m.starts_with("forged")),
            "{} sees a forged event: {messages:?}",
            user.id
        );
    }
    for forged in [&in_bobs_name, &by_an_outsider] {
        let event_id = rules.event_id(forged).unwrap();
        assert!(store.event(&event_id).unwrap().is_none(), "ours stored {event_id}");
    }
}

/// Synapse goes away; our users' messages are acknowledged meanwhile; our
/// server is killed (SIGKILL) and started again; Synapse comes back: every
/// message reaches it, once each and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_synapse_was_away_arrive_after_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut ours = Ours::start(dir.path(), "ours");
    let mut synapse = Synapse::start_federating();
    let alice = register(&ours.client_base, "alice").await;
    let bob = register(&synapse.base_url, "bob").await;
    let room = alice
        .create_room(json!({ "preset": "public_chat", "name": "Durable" }))
        .await;
    bob.join(&room, &ours.name).await;
    alice.sees_membership(&room, &bob.id, "join").await;
    talk(&room, &[(&alice, &bob, "before"), (&bob, &alice, "bob before")]).await;

    synapse.kill();
    let away: Vec<String> = (1..=5).map(|n| format!("while away {n}")).collect();
    for body in &away {
        alice.say(&room, body).await;
    }
    alice
        .send_to_device(&bob.id, "org.example.ping", "while-away", json!({ "away": true }))
        .await;
    ours.kill();
    ours.restart();
    synapse.restart();

    let mut expected = vec!["before".to_owned(), "bob before".to_owned()];
    expected.extend(away.iter().cloned());
    // Our server retries a destination after 1 s, doubling each time; an
    // attempt that reaches Synapse while it starts up may wait for the
    // request timeout (30 s) before the next.
    let seen = eventually_within(
        BACK_AGAIN,
        "Synapse receiving what was sent while it was away",
        || async {
            let messages = bob.messages(&room).await;
            (messages.len() >= expected.len()).then_some(messages)
        },
    )
    .await;
    assert_eq!(seen, expected, "once each, in order");
    assert_eq!(alice.messages(&room).await, expected, "and ours kept them");
    let to_bob = bob.to_device_messages(BACK_AGAIN, 1).await;
    let ping = (alice.id.clone(), "org.example.ping".to_owned(), json!({ "away": true }));
    assert_eq!(
        to_bob,
        vec![ping],
        "the to-device message sent while Synapse was away arrives, once"
    );
}
