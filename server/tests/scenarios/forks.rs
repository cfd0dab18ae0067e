//! Two of our own servers, for what Synapse cannot be driven into: a room
//! whose history forks while the servers cannot reach each other, and
//! state resolution (v2) when the branches meet.
//!
//! alice (room creator) and carol are on server A, mallory on server B,
//! with power level 50. While the servers are apart, alice demotes mallory
//! on A, and mallory, who still has 50 on B, changes the topic and kicks
//! carol there; B accepts both, as it must with the state it has. When the
//! servers meet again, the spec's resolution orders alice's demotion
//! (the more powerful sender's power event) before mallory's kick, so the
//! kick and the topic no longer pass the authorization rules: both servers
//! end with alice's topic, carol joined and mallory at 0.

use crate::peers::{register, Ours, User, BACK_AGAIN, CROSSING};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_made_while_apart_resolve_the_same_way_on_both_servers() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Ours::start(dir.path(), "a");
    let mut b = Ours::start(dir.path(), "b");
    let alice = register(&a.client_base, "alice").await;
    let carol = register(&a.client_base, "carol").await;
    let mallory = register(&b.client_base, "mallory").await;

    let room = alice.create_room(json!({ "preset": "public_chat" })).await;
    carol.join(&room, &a.name).await;
    mallory.join(&room, &a.name).await;
    alice
        .set_state(&room, "m.room.topic", json!({ "topic": "before" }))
        .await;
    set_level(&alice, &room, &mallory.id, 50).await;
    let watch = Watch {
        room: &room,
        carol: &carol.id,
        mallory: &mallory.id,
    };
    let both = [&alice, &mallory];
    watch
        .converge(CROSSING, &both, "mallory promoted", |state| {
            state.mallory_level == 50 && state.topic == "before" && state.carol == "join"
        })
        .await;

    // A alone: alice changes the topic, then demotes mallory.
    b.kill();
    alice
        .set_state(&room, "m.room.topic", json!({ "topic": "alice's" }))
        .await;
    set_level(&alice, &room, &mallory.id, 0).await;

    // B alone, with the state it last had (mallory at 50): it accepts
    // mallory's topic and kick of carol.
    a.kill();
    b.restart();
    mallory
        .set_state(&room, "m.room.topic", json!({ "topic": "mallory's" }))
        .await;
    mallory.membership_change(&room, "kick", &carol.id).await;
    let on_b = Seen::of(&mallory, &room, &carol.id, &mallory.id).await;
    assert_eq!(
        (on_b.topic.as_str(), on_b.carol.as_str()),
        ("mallory's", "leave"),
        "B alone accepts mallory's changes"
    );

    // Together again: each server's queue delivers the other's branch.
    a.restart();
    let agreed = |state: &Seen| state.topic == "alice's" && state.carol == "join" && state.mallory_level == 0;
    watch.converge(BACK_AGAIN, &both, "the forks resolved", agreed).await;

    // A message after the meeting joins both branches; it crosses, and the
    // state stays resolved on both sides.
    alice.say(&room, "after the fork").await;
    mallory.sees_message(&room, "after the fork").await;
    carol.sees_message(&room, "after the fork").await;
    watch.converge(CROSSING, &both, "still resolved", agreed).await;
}

/// What the test compares across servers: the topic, carol's membership,
/// and mallory's power level.
#[derive(Debug, PartialEq, Clone)]
struct Seen {
    topic: String,
    carol: String,
    mallory_level: i64,
}

impl Seen {
    async fn of(user: &User, room: &str, carol: &str, mallory: &str) -> Seen {
        let topic = user.state(room, "m.room.topic", "").await.unwrap_or_default();
        let levels = user
            .state(room, "m.room.power_levels", "")
            .await
            .expect("the room has power levels");
        Seen {
            topic: topic["topic"].as_str().unwrap_or_default().to_owned(),
            carol: user.membership_of(room, carol).await.unwrap_or_default(),
            mallory_level: level_of(&levels, mallory),
        }
    }
}

/// A user's power level as the content says (`users_default` otherwise).
fn level_of(levels: &Value, user: &str) -> i64 {
    levels["users"][user]
        .as_i64()
        .or(levels["users_default"].as_i64())
        .unwrap_or(0)
}

/// Sets `user`'s power level, keeping the rest of the room's levels.
async fn set_level(by: &User, room: &str, user: &str, level: i64) {
    let mut levels = by.state(room, "m.room.power_levels", "").await.unwrap();
    levels["users"][user] = json!(level);
    by.set_state(room, "m.room.power_levels", levels).await;
}

/// The room and the two users whose standing the test follows.
struct Watch<'a> {
    room: &'a str,
    carol: &'a str,
    mallory: &'a str,
}

impl Watch<'_> {
    /// Waits, for `limit` at most, until every user's server shows the
    /// same state and `wanted` holds; a failure shows what each last showed.
    async fn converge(&self, limit: Duration, users: &[&User], what: &str, wanted: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let mut seen = Vec::new();
            for user in users {
                seen.push(Seen::of(user, self.room, self.carol, self.mallory).await);
            }
            if seen.windows(2).all(|w| w[0] == w[1]) && wanted(&seen[0]) {
                return seen.swap_remove(0);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {limit:?}; the servers show {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
