//! Our homeserver federating with Synapse, the reference homeserver, over
//! TLS on loopback: a Synapse user joins a room created here and a user
//! here joins a room created on Synapse; messages sent on each side arrive
//! on the other once and in order; state changes, invites over federation,
//! kicks, bans and leaves are seen on both; typing and receipts cross over;
//! and events forged by a third server enter neither side's room.

use matrix_api::client_server::endpoints as cs;
use matrix_api::events::{AnyRoomMessageEventContent, AnyTimelineEvent};
use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::client::{Client, Signer};
use matrix_api_tests::process::free_port;
use matrix_api_tests::scenario::req;
use matrix_api_tests::synapse::Synapse;
use serde_json::{json, Map, Value};
use server::federation::pdu::VersionRules;
use server::store::Storage;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long an event may take to cross to the other server.
const CROSSING: Duration = Duration::from_secs(30);

/// How long a server that was away may take to receive what waited for it.
const BACK_AGAIN: Duration = Duration::from_secs(120);

/// One of our homeservers: the real binary, named after its federation
/// port, with rate limits off; killed (SIGKILL) when dropped.
struct Ours {
    name: String,
    client_base: String,
    db: PathBuf,
    client_port: u16,
    federation_port: u16,
    process: Option<Child>,
}

impl Ours {
    fn start(dir: &Path, label: &str) -> Ours {
        let federation_port = free_port();
        let mut ours = Ours {
            name: format!("127.0.0.1:{federation_port}"),
            client_base: String::new(),
            db: dir.join(format!("{label}.db")),
            client_port: free_port(),
            federation_port,
            process: None,
        };
        ours.client_base = format!("http://127.0.0.1:{}", ours.client_port);
        ours.restart();
        ours
    }

    /// Starts the binary (again) on the same ports and database; returns
    /// once both listeners are up (the two lines it prints say so).
    fn restart(&mut self) {
        assert!(self.process.is_none(), "{} is running", self.name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--server-name", &self.name])
            .args(["--listen", &format!("127.0.0.1:{}", self.client_port)])
            .args(["--federation-listen", &format!("127.0.0.1:{}", self.federation_port)])
            // Synapse presents a self-signed certificate, as we do.
            .args(["--insecure-skip-certificate-checks", "--rate-limit", "off", "--db"])
            .arg(&self.db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It says when both listeners are up; what it logs before (a
        // delivery that failed while it started) and after is kept for a
        // failing test to show.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut started = false;
        for _ in 0..50 {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            std::io::Write::write_all(&mut log, line.as_bytes()).unwrap();
            if line.starts_with("federation for") {
                started = true;
                break;
            }
        }
        self.process = Some(child);
        assert!(started, "{} did not start; see its log", self.name);
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut log));
    }

    fn log_path(&self) -> PathBuf {
        self.db.with_extension("log")
    }

    /// SIGKILL: whatever it acknowledged must be in its database.
    fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its signing key (made by the binary beside the database).
    fn identity(&self) -> server::federation::SigningIdentity {
        let key = server::Config::new(&self.name, &self.db).signing_key;
        server::federation::SigningIdentity::load_or_create(&key, &self.name).unwrap()
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            eprintln!("--- what {} logged ---\n{log}", self.name);
        }
    }
}

/// A registered user: a client holding its token, its user ID, and where
/// its last `/sync` ended.
struct User {
    client: cs::Client,
    id: String,
    since: std::sync::Mutex<Option<String>>,
}

async fn register(base: &str, name: &str) -> User {
    let cs::register::Response::Ok(r) = cs::Client::new(base)
        .register(req(
            json!({}),
            json!({}),
            json!({ "username": name, "password": format!("pw-{name}"), "auth": { "type": "m.login.dummy" } }),
        ))
        .await
        .unwrap_or_else(|e| panic!("registering {name} at {base}: {e}"))
    else {
        panic!("registering {name} at {base}: the dummy stage did not complete");
    };
    User {
        client: cs::Client(Client::new(base).with_access_token(r.access_token.unwrap())),
        id: r.user_id.to_string(),
        since: Default::default(),
    }
}

/// Polls `check` until it gives a value, for [`CROSSING`] at most.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(CROSSING, what, check).await
}

async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl User {
    async fn create_room(&self, body: Value) -> String {
        let cs::create_room::Response::Ok(room) =
            self.client.create_room(req(json!({}), json!({}), body)).await.unwrap();
        room.room_id.to_string()
    }

    async fn join(&self, room: &str, via: &str) {
        let request = req::<cs::join_room::Request>(
            json!({ "roomIdOrAlias": room }),
            json!({ "via": [via], "server_name": [via] }),
            json!({}),
        );
        self.client
            .join_room(request)
            .await
            .unwrap_or_else(|e| panic!("{} joining {room} through {via}: {e}", self.id));
    }

    async fn say(&self, room: &str, body: &str) -> String {
        let request = req::<cs::send_message::Request>(
            json!({ "roomId": room, "eventType": "m.room.message", "txnId": body.replace(' ', "-") }),
            json!({}),
            json!({ "msgtype": "m.text", "body": body }),
        );
        let cs::send_message::Response::Ok(sent) = self
            .client
            .send_message(request)
            .await
            .unwrap_or_else(|e| panic!("{} saying {body:?}: {e}", self.id));
        sent.event_id.to_string()
    }

    async fn set_state(&self, room: &str, event_type: &str, content: Value) {
        let request = req::<cs::set_room_state_with_key::Request>(
            json!({ "roomId": room, "eventType": event_type, "stateKey": "" }),
            json!({}),
            content,
        );
        self.client
            .set_room_state_with_key(request)
            .await
            .unwrap_or_else(|e| panic!("{} setting {event_type}: {e}", self.id));
    }

    /// A state event's content, or `None` while there is none.
    async fn state(&self, room: &str, event_type: &str, state_key: &str) -> Option<Value> {
        let request = req::<cs::get_room_state_with_key::Request>(
            json!({ "roomId": room, "eventType": event_type, "stateKey": state_key }),
            json!({}),
            json!({}),
        );
        let cs::get_room_state_with_key::Response::Ok(content) =
            self.client.get_room_state_with_key(request).await.ok()?;
        Some(serde_json::to_value(content).unwrap())
    }

    async fn membership_of(&self, room: &str, user: &str) -> Option<String> {
        let content = self.state(room, "m.room.member", user).await?;
        content["membership"].as_str().map(str::to_owned)
    }

    /// Waits until this user's server says `user` has `membership` in `room`.
    async fn sees_membership(&self, room: &str, user: &str, membership: &str) {
        eventually(&format!("{} seeing {user} {membership}", self.id), || async {
            (self.membership_of(room, user).await.as_deref() == Some(membership)).then_some(())
        })
        .await
    }

    /// The bodies of the room's messages, oldest first, as `/messages` gives them.
    async fn messages(&self, room: &str) -> Vec<String> {
        let request = req::<cs::get_room_events::Request>(
            json!({ "roomId": room }),
            json!({ "dir": "b", "limit": 100 }),
            json!({}),
        );
        let cs::get_room_events::Response::Ok(page) = self.client.get_room_events(request).await.unwrap();
        let mut bodies: Vec<String> = page
            .chunk
            .iter()
            .filter_map(|raw| match raw.deserialize() {
                Ok(AnyTimelineEvent::RoomMessage(message)) => match message.content {
                    AnyRoomMessageEventContent::Text(text) => Some(text.body),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        bodies.reverse();
        bodies
    }

    async fn sees_message(&self, room: &str, body: &str) {
        eventually(&format!("{} seeing {body:?}", self.id), || async {
            self.messages(room).await.iter().any(|b| b == body).then_some(())
        })
        .await
    }

    /// The room's section of the user's next `/sync` (`join`, `invite` or
    /// `leave`): what changed since the last one. (Synapse answers a
    /// repeated initial `/sync` from a cache, so polling must be incremental.)
    async fn synced_room(&self, section: &str, room: &str) -> Option<Value> {
        let mut request = cs::sync::Request::new();
        request.query.since = self.since.lock().unwrap().clone();
        request.query.timeout = Some(0);
        let cs::sync::Response::Ok(sync) = self.client.sync(request).await.ok()?;
        *self.since.lock().unwrap() = Some(sync.next_batch.clone());
        let sync = serde_json::to_value(sync).unwrap();
        sync["rooms"][section].get(room).cloned()
    }

    /// Waits until the user's `/sync` shows an invite to `room`.
    async fn sees_invite(&self, room: &str) {
        eventually(&format!("{} seeing the invite to {room}", self.id), || async {
            self.synced_room("invite", room).await.map(|_| ())
        })
        .await
    }

    /// Waits for an ephemeral event in the room (typing, receipts) that `test` accepts.
    async fn sees_ephemeral(&self, room: &str, what: &str, test: impl Fn(&Value) -> bool) {
        eventually(&format!("{} seeing {what}", self.id), || async {
            let joined = self.synced_room("join", room).await?;
            let events = joined["ephemeral"]["events"].as_array()?.clone();
            events.iter().any(&test).then_some(())
        })
        .await
    }

    async fn typing(&self, room: &str) {
        let request = req::<cs::set_typing::Request>(
            json!({ "roomId": room, "userId": self.id }),
            json!({}),
            json!({ "typing": true, "timeout": 20000 }),
        );
        self.client.set_typing(request).await.unwrap();
    }

    async fn read_up_to(&self, room: &str, event_id: &str) {
        let request = req::<cs::post_receipt::Request>(
            json!({ "roomId": room, "receiptType": "m.read", "eventId": event_id }),
            json!({}),
            json!({}),
        );
        self.client.post_receipt(request).await.unwrap();
    }

    async fn membership_change(&self, room: &str, action: &str, user: &str) {
        let path = json!({ "roomId": room });
        let body = json!({ "user_id": user, "reason": "test" });
        let result = match action {
            "invite" => self.client.invite_user(req(path, json!({}), body)).await.map(|_| ()),
            "kick" => self.client.kick(req(path, json!({}), body)).await.map(|_| ()),
            "ban" => self.client.ban(req(path, json!({}), body)).await.map(|_| ()),
            "leave" => self
                .client
                .leave_room(req(path, json!({}), json!({})))
                .await
                .map(|_| ()),
            other => panic!("no such action {other}"),
        };
        result.unwrap_or_else(|e| panic!("{} {action} {user} in {room}: {e}", self.id));
    }
}

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
    let store = server::store::SqliteStore::open(&ours.db).unwrap();
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
}
