//! Our homeserver as a test peer: the real binary started, killed and
//! restarted on its own ports and database, and a registered user with
//! the few client calls the federation scenarios make, each waiting until
//! what it expects has crossed over.

use matrix_api::client_server::endpoints as cs;
use matrix_api::events::{AnyRoomMessageEventContent, AnyTimelineEvent};
use matrix_api_runtime::client::Client;
use matrix_api_tests::process::free_port;
use matrix_api_tests::scenario::req;
use serde_json::{json, Value};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long an event may take to cross to the other server.
pub(crate) const CROSSING: Duration = Duration::from_secs(30);

/// How long a server that was away may take to receive what waited for it.
pub(crate) const BACK_AGAIN: Duration = Duration::from_secs(120);

/// One of our homeservers: the real binary, named after its federation
/// port, with rate limits off; killed (SIGKILL) when dropped.
pub(crate) struct Ours {
    pub(crate) name: String,
    pub(crate) client_base: String,
    pub(crate) db: PathBuf,
    pub(crate) client_port: u16,
    pub(crate) federation_port: u16,
    pub(crate) process: Option<Child>,
    /// More command-line arguments (`--appservice FILE`).
    pub(crate) args: Vec<String>,
}

impl Ours {
    pub(crate) fn start(dir: &Path, label: &str) -> Ours {
        let mut ours = Ours::prepare(dir, label);
        ours.restart();
        ours
    }

    /// Its name, ports and database, not started yet (see [`Ours::restart`]).
    pub(crate) fn prepare(dir: &Path, label: &str) -> Ours {
        let federation_port = free_port();
        let client_port = free_port();
        Ours {
            name: format!("127.0.0.1:{federation_port}"),
            client_base: format!("http://127.0.0.1:{client_port}"),
            db: dir.join(format!("{label}.db")),
            client_port,
            federation_port,
            process: None,
            args: Vec::new(),
        }
    }

    /// Starts the binary (again) on the same ports and database; returns
    /// once both listeners are up (the two lines it prints say so).
    pub(crate) fn restart(&mut self) {
        assert!(self.process.is_none(), "{} is running", self.name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--server-name", &self.name])
            .args(["--listen", &format!("127.0.0.1:{}", self.client_port)])
            .args(["--federation-listen", &format!("127.0.0.1:{}", self.federation_port)])
            // Synapse presents a self-signed certificate, as we do.
            .args(["--insecure-skip-certificate-checks", "--rate-limit", "off"])
            .args(&self.args)
            .arg("--db")
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

    pub(crate) fn log_path(&self) -> PathBuf {
        self.db.with_extension("log")
    }

    /// SIGKILL: whatever it acknowledged must be in its database.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its signing key (made by the binary beside the database).
    pub(crate) fn identity(&self) -> server::federation::SigningIdentity {
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
pub(crate) struct User {
    pub(crate) client: cs::Client,
    pub(crate) id: String,
    pub(crate) since: std::sync::Mutex<Option<String>>,
}

pub(crate) async fn register(base: &str, name: &str) -> User {
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
pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(CROSSING, what, check).await
}

pub(crate) async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
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
    pub(crate) async fn create_room(&self, body: Value) -> String {
        let cs::create_room::Response::Ok(room) =
            self.client.create_room(req(json!({}), json!({}), body)).await.unwrap();
        room.room_id.to_string()
    }

    pub(crate) async fn join(&self, room: &str, via: &str) {
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

    pub(crate) async fn say(&self, room: &str, body: &str) -> String {
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

    pub(crate) async fn set_state(&self, room: &str, event_type: &str, content: Value) {
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
    pub(crate) async fn state(&self, room: &str, event_type: &str, state_key: &str) -> Option<Value> {
        let request = req::<cs::get_room_state_with_key::Request>(
            json!({ "roomId": room, "eventType": event_type, "stateKey": state_key }),
            json!({}),
            json!({}),
        );
        let cs::get_room_state_with_key::Response::Ok(content) =
            self.client.get_room_state_with_key(request).await.ok()?;
        Some(serde_json::to_value(content).unwrap())
    }

    pub(crate) async fn membership_of(&self, room: &str, user: &str) -> Option<String> {
        let content = self.state(room, "m.room.member", user).await?;
        content["membership"].as_str().map(str::to_owned)
    }

    /// Waits until this user's server says `user` has `membership` in `room`.
    pub(crate) async fn sees_membership(&self, room: &str, user: &str, membership: &str) {
        eventually(&format!("{} seeing {user} {membership}", self.id), || async {
            (self.membership_of(room, user).await.as_deref() == Some(membership)).then_some(())
        })
        .await
    }

    /// The bodies of the room's messages, oldest first, as `/messages` gives them.
    pub(crate) async fn messages(&self, room: &str) -> Vec<String> {
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

    pub(crate) async fn sees_message(&self, room: &str, body: &str) {
        eventually(&format!("{} seeing {body:?}", self.id), || async {
            self.messages(room).await.iter().any(|b| b == body).then_some(())
        })
        .await
    }

    /// The room's section of the user's next `/sync` (`join`, `invite` or
    /// `leave`): what changed since the last one. (Synapse answers a
    /// repeated initial `/sync` from a cache, so polling must be incremental.)
    pub(crate) async fn synced_room(&self, section: &str, room: &str) -> Option<Value> {
        let mut request = cs::sync::Request::new();
        request.query.since = self.since.lock().unwrap().clone();
        request.query.timeout = Some(0);
        let cs::sync::Response::Ok(sync) = self.client.sync(request).await.ok()?;
        *self.since.lock().unwrap() = Some(sync.next_batch.clone());
        let sync = serde_json::to_value(sync).unwrap();
        sync["rooms"][section].get(room).cloned()
    }

    /// Sends a to-device message to every device of `user` (on any server);
    /// `txn` is the client's transaction ID.
    pub(crate) async fn send_to_device(&self, user: &str, event_type: &str, txn: &str, content: Value) {
        let request = req::<cs::send_to_device::Request>(
            json!({ "eventType": event_type, "txnId": txn }),
            json!({}),
            json!({ "messages": { user: { "*": content } } }),
        );
        self.client
            .send_to_device(request)
            .await
            .unwrap_or_else(|e| panic!("{} sending {event_type} to {user}: {e}", self.id));
    }

    /// The to-device messages the user's `/sync`s give until `limit` has
    /// passed with `enough` of them seen (then a few more syncs, so that
    /// a repeat would show): each as `(sender, type, content)`.
    pub(crate) async fn to_device_messages(&self, limit: Duration, enough: usize) -> Vec<(String, String, Value)> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        let mut quiet_syncs = 0;
        while quiet_syncs < 5 && tokio::time::Instant::now() < deadline {
            let mut request = cs::sync::Request::new();
            request.query.since = self.since.lock().unwrap().clone();
            request.query.timeout = Some(0);
            let Ok(cs::sync::Response::Ok(sync)) = self.client.sync(request).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            *self.since.lock().unwrap() = Some(sync.next_batch.clone());
            let sync = serde_json::to_value(sync).unwrap();
            for event in sync["to_device"]["events"].as_array().into_iter().flatten() {
                let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
                seen.push((text("sender"), text("type"), event["content"].clone()));
            }
            if seen.len() >= enough {
                quiet_syncs += 1;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        seen
    }

    /// Waits until the user's `/sync` shows an invite to `room`.
    pub(crate) async fn sees_invite(&self, room: &str) {
        eventually(&format!("{} seeing the invite to {room}", self.id), || async {
            self.synced_room("invite", room).await.map(|_| ())
        })
        .await
    }

    /// Waits for an ephemeral event in the room (typing, receipts) that `test` accepts.
    pub(crate) async fn sees_ephemeral(&self, room: &str, what: &str, test: impl Fn(&Value) -> bool) {
        eventually(&format!("{} seeing {what}", self.id), || async {
            let joined = self.synced_room("join", room).await?;
            let events = joined["ephemeral"]["events"].as_array()?.clone();
            events.iter().any(&test).then_some(())
        })
        .await
    }

    pub(crate) async fn typing(&self, room: &str) {
        let request = req::<cs::set_typing::Request>(
            json!({ "roomId": room, "userId": self.id }),
            json!({}),
            json!({ "typing": true, "timeout": 20000 }),
        );
        self.client.set_typing(request).await.unwrap();
    }

    pub(crate) async fn read_up_to(&self, room: &str, event_id: &str) {
        let request = req::<cs::post_receipt::Request>(
            json!({ "roomId": room, "receiptType": "m.read", "eventId": event_id }),
            json!({}),
            json!({}),
        );
        self.client.post_receipt(request).await.unwrap();
    }

    pub(crate) async fn membership_change(&self, room: &str, action: &str, user: &str) {
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
