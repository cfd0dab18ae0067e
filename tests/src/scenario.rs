//! One client-server scenario, driven only through the generated client,
//! that runs against any homeserver: ours and Synapse. It records what a
//! user would observe (memberships, messages seen, pagination order, error
//! codes of the same mistakes) so two servers can be compared, which
//! operations it used, and every response field the generated types do not
//! model (found by re-encoding each decoded response and comparing it with
//! the bytes the server sent).

use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::{Client, ClientError};
use matrix_api_runtime::{ClientEndpoint, RawBody, ServerEndpoint};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// What a user of the server observes; equal across conforming servers.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// `(moment, user, membership)` as the room's member list shows it.
    pub memberships: Vec<(String, String, String)>,
    /// Message bodies bob received through `/sync`, in order.
    pub bob_saw: Vec<String>,
    /// Message bodies from `/messages`, newest first, page by page.
    pub history_pages: Vec<Vec<String>>,
    /// Bodies around an event from `/context`: before (newest first), after.
    pub context: (Vec<String>, Vec<String>),
    /// `errcode` for each mistake made on purpose.
    pub errors: BTreeMap<String, String>,
    /// Facts checked along the way, by name.
    pub facts: BTreeMap<String, Value>,
}

/// A field the server sent that the generated response type dropped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unmodeled {
    pub operation: String,
    /// JSON path, IDs and map keys replaced by `{key}`.
    pub path: String,
}

/// The scenario's run against one server.
pub struct Session {
    base: String,
    /// What the clients' unmodeled-field observer found, not yet taken.
    found: Arc<Mutex<BTreeSet<Unmodeled>>>,
    /// Operation IDs exercised (successfully or with an expected error).
    pub operations: BTreeSet<String>,
    pub unmodeled: BTreeSet<Unmodeled>,
    pub outcome: Outcome,
    /// Timeline events of every `/sync`, decoded as `AnySyncTimelineEvent`.
    pub timeline: TimelineCounts,
}

/// How the timeline events a server sent decoded.
#[derive(Debug, Default)]
pub struct TimelineCounts {
    /// Decoded into a variant of a type the spec defines.
    pub typed: usize,
    /// Decoded as `Custom`, by event type.
    pub custom: BTreeMap<String, usize>,
    /// Did not decode (the error and the event).
    pub failed: Vec<String>,
}

/// A generated request from its parts as JSON (no headers); the error
/// names the type and the part that did not decode.
pub fn try_req<R>(path: Value, query: Value, body: Value) -> Result<R, String>
where
    R: ServerEndpoint,
    R::Body: DeserializeOwned,
{
    fn part<T: DeserializeOwned, R>(what: &str, value: Value) -> Result<T, String> {
        serde_json::from_value(value)
            .map_err(|e| format!("building a {} request's {what}: {e}", std::any::type_name::<R>()))
    }
    Ok(R::from_parts(
        part::<_, R>("path", path)?,
        part::<_, R>("query", query)?,
        part::<_, R>("headers", json!({}))?,
        part::<_, R>("body", body)?,
    ))
}

/// [`try_req`] for requests a test knows are right.
pub fn req<R>(path: Value, query: Value, body: Value) -> R
where
    R: ServerEndpoint,
    R::Body: DeserializeOwned,
{
    try_req(path, query, body).unwrap_or_else(|e| panic!("{e}"))
}

fn raw_body(content_type: &str, data: &[u8]) -> Value {
    serde_json::to_value(RawBody {
        content_type: Some(content_type.to_owned()),
        content_disposition: None,
        data: data.to_vec(),
    })
    .unwrap()
}

impl Session {
    pub fn new(base: &str) -> Session {
        Session {
            base: base.to_owned(),
            found: Arc::default(),
            operations: BTreeSet::new(),
            unmodeled: BTreeSet::new(),
            outcome: Outcome::default(),
            timeline: TimelineCounts::default(),
        }
    }

    fn client(&self, token: Option<&str>) -> Client {
        let found = self.found.clone();
        let client = Client::new(&self.base).with_unmodeled_observer(move |meta, paths| {
            let mut found = found.lock().unwrap();
            found.extend(paths.iter().map(|path| Unmodeled {
                operation: meta.operation_id.to_owned(),
                path: path.clone(),
            }));
        });
        match token {
            Some(t) => client.with_access_token(t),
            None => client,
        }
    }

    /// Sends a request and records the operation and any unmodeled fields.
    pub async fn call<E: ClientEndpoint>(
        &mut self,
        token: Option<&str>,
        request: E,
    ) -> Result<E::Response, ClientError> {
        let result = self.client(token).send(request).await;
        self.unmodeled.append(&mut self.found.lock().unwrap());
        self.operations.insert(E::METADATA.operation_id.to_owned());
        result
    }

    /// A call that must succeed.
    pub async fn ok<E: ClientEndpoint>(&mut self, token: Option<&str>, request: E) -> E::Response {
        let what = E::METADATA.operation_id;
        self.call(token, request)
            .await
            .unwrap_or_else(|e| panic!("{what} failed against {}: {e}", self.base))
    }

    /// A call that must fail with a Matrix error; records its errcode as `mistake`.
    pub async fn mistake<E: ClientEndpoint>(&mut self, mistake: &str, token: Option<&str>, request: E) {
        let what = E::METADATA.operation_id;
        let code = match self.call(token, request).await {
            Err(ClientError::Matrix(e)) => e.errcode().as_str().to_owned(),
            Err(e) => panic!("{mistake} ({what}): expected a Matrix error, got {e}"),
            Ok(r) => panic!("{mistake} ({what}): expected an error, got {r:?}"),
        };
        self.outcome.errors.insert(mistake.to_owned(), code);
    }

    fn fact(&mut self, name: &str, value: impl Serialize) {
        self.outcome
            .facts
            .insert(name.to_owned(), serde_json::to_value(value).unwrap());
    }
}

fn bodies(events: &Value) -> Vec<String> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

/// A registered user's session token and ID.
pub struct User {
    pub user_id: String,
    pub token: String,
}

impl Session {
    /// Registers through user-interactive auth: the first attempt is
    /// answered `401` with a session, the second completes `m.login.dummy`.
    async fn register(&mut self, name: &str) -> User {
        let body = json!({ "username": name, "password": format!("{name}-password") });
        let session = match self
            .call(None, req::<cs::register::Request>(json!({}), json!({}), body.clone()))
            .await
        {
            // The user-interactive auth 401 decodes as the documented `AuthResponse`.
            Ok(cs::register::Response::Unauthorized(auth)) => auth.session,
            other => panic!("registering {name}: expected a 401 asking for auth, got {other:?}"),
        };
        let mut body = body;
        body["auth"] = json!({ "type": "m.login.dummy", "session": session });
        let cs::register::Response::Ok(r) = self
            .ok(None, req::<cs::register::Request>(json!({}), json!({}), body))
            .await
        else {
            panic!("registering {name}: the dummy stage did not complete");
        };
        User {
            user_id: r.user_id.into_string(),
            token: r.access_token.expect("registration logs in"),
        }
    }

    async fn login(&mut self, user_id: &str, password: &str) -> Result<String, ClientError> {
        let request = req::<cs::login::Request>(
            json!({}),
            json!({}),
            json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": user_id }, "password": password }),
        );
        self.call(None, request)
            .await
            .map(|cs::login::Response::Ok(r)| r.access_token)
    }

    async fn sync(&mut self, user: &User, since: Option<&str>, timeout: i64) -> Value {
        let mut query = json!({ "timeout": timeout });
        if let Some(s) = since {
            query["since"] = json!(s);
        }
        let cs::sync::Response::Ok(r) = self
            .ok(Some(&user.token), req::<cs::sync::Request>(json!({}), query, json!({})))
            .await;
        self.count_timeline(&r);
        to_json(&r)
    }

    fn count_timeline(&mut self, sync: &matrix_api::client_server::SyncResponse) {
        use matrix_api::events::AnySyncTimelineEvent;
        let rooms = sync
            .rooms
            .iter()
            .flat_map(|r| r.join.iter().flatten().map(|(_, room)| room));
        for raw in rooms.flat_map(|room| room.timeline.iter().flat_map(|t| &t.events)) {
            match raw.deserialize() {
                Ok(AnySyncTimelineEvent::Custom(custom)) => {
                    let kind = custom.get_field::<String>("type").ok().flatten().unwrap_or_default();
                    *self.timeline.custom.entry(kind).or_default() += 1;
                }
                Ok(_) => self.timeline.typed += 1,
                Err(e) => self.timeline.failed.push(format!("{e}: {}", raw.json())),
            }
        }
    }

    /// Incremental syncs until `done` holds for a response; returns all responses.
    async fn sync_until(&mut self, user: &User, since: &mut String, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let r = self.sync(user, Some(since), 2000).await;
            *since = r["next_batch"].as_str().unwrap().to_owned();
            let finished = done(&r);
            seen.push(r);
            if finished {
                return seen;
            }
        }
        panic!("{}: condition not met after 20 syncs", self.base);
    }

    async fn send_text(&mut self, user: &User, room: &str, txn: &str, body: &str) -> String {
        let cs::send_message::Response::Ok(r) = self
            .ok(
                Some(&user.token),
                req::<cs::send_message::Request>(
                    json!({ "roomId": room, "eventType": "m.room.message", "txnId": txn }),
                    json!({}),
                    json!({ "msgtype": "m.text", "body": body }),
                ),
            )
            .await;
        r.event_id.into_string()
    }

    async fn members(&mut self, moment: &str, user: &User, room: &str) {
        let cs::get_members_by_room::Response::Ok(r) = self
            .ok(
                Some(&user.token),
                req::<cs::get_members_by_room::Request>(json!({ "roomId": room }), json!({}), json!({})),
            )
            .await;
        let mut list: Vec<(String, String, String)> = to_json(&r)["chunk"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    moment.to_owned(),
                    e["state_key"].as_str().unwrap_or_default().to_owned(),
                    e["content"]["membership"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        list.sort();
        self.outcome.memberships.extend(list);
    }
}

/// Runs the whole scenario. Panics (naming the server) on anything unexpected.
pub async fn run(base: &str) -> Session {
    let mut s = Session::new(base);
    let none = json!({});

    // Server discovery and accounts.
    s.ok(
        None,
        req::<cs::get_versions::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s.ok(
        None,
        req::<cs::get_login_flows::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    s.mistake(
        "register a taken name",
        None,
        req::<cs::register::Request>(
            json!({}),
            json!({}),
            json!({ "username": "alice", "password": "x", "auth": { "type": "m.login.dummy" } }),
        ),
    )
    .await;
    s.mistake(
        "register an invalid name",
        None,
        req::<cs::register::Request>(
            json!({}),
            json!({}),
            json!({ "username": "Not Valid!", "password": "x", "auth": { "type": "m.login.dummy" } }),
        ),
    )
    .await;
    let code = match s.login(&alice.user_id, "wrong").await {
        Err(ClientError::Matrix(e)) => e.errcode().as_str().to_owned(),
        other => panic!("wrong password: {other:?}"),
    };
    s.outcome.errors.insert("log in with a wrong password".into(), code);
    let bob_token2 = s.login(&bob.user_id, "bob-password").await.expect("bob logs in");
    let cs::get_token_owner::Response::Ok(me) = s
        .ok(
            Some(&bob_token2),
            req::<cs::get_token_owner::Request>(json!({}), json!({}), none.clone()),
        )
        .await;
    s.fact("whoami after login", me.user_id == bob.user_id);
    s.mistake(
        "use an unknown token",
        Some("not-a-token"),
        req::<cs::get_token_owner::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    let cs::get_capabilities::Response::Ok(caps) = s
        .ok(
            Some(&alice.token),
            req::<cs::get_capabilities::Request>(json!({}), json!({}), none.clone()),
        )
        .await;
    s.fact(
        "room versions advertised",
        to_json(&caps)["capabilities"]["m.room_versions"]["default"].is_string(),
    );
    s.ok(
        None,
        req::<cs::get_wellknown::Request>(json!({}), json!({}), none.clone()),
    )
    .await;

    // Profile.
    s.ok(
        Some(&alice.token),
        req::<cs::set_profile_field::Request>(
            json!({ "userId": alice.user_id, "keyName": "displayname" }),
            json!({}),
            json!({ "displayname": "Alice A." }),
        ),
    )
    .await;
    let cs::get_profile_field::Response::Ok(name) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_profile_field::Request>(
                json!({ "userId": alice.user_id, "keyName": "displayname" }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact("display name", name.get("displayname"));
    let cs::get_user_profile::Response::Ok(profile) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_user_profile::Request>(json!({ "userId": alice.user_id }), json!({}), none.clone()),
        )
        .await;
    s.fact("profile display name", to_json(&profile)["displayname"].clone());

    // Filters.
    let cs::define_filter::Response::Ok(filter) = s
        .ok(
            Some(&bob.token),
            req::<cs::define_filter::Request>(
                json!({ "userId": bob.user_id }),
                json!({}),
                json!({ "room": { "timeline": { "limit": 50, "types": ["m.room.message"] } } }),
            ),
        )
        .await;
    let cs::get_filter::Response::Ok(stored) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_filter::Request>(
                json!({ "userId": bob.user_id, "filterId": filter.filter_id }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact(
        "filter limit kept",
        to_json(&stored)["room"]["timeline"]["limit"].clone(),
    );
    s.mistake(
        "read an unknown filter",
        Some(&bob.token),
        req::<cs::get_filter::Request>(
            json!({ "userId": bob.user_id, "filterId": "424242" }),
            json!({}),
            none.clone(),
        ),
    )
    .await;

    // A room with initial state and an alias; bob is invited and joins by alias.
    let mut alice_since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let mut bob_since = s.sync(&bob, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let cs::create_room::Response::Ok(created) = s
        .ok(
            Some(&alice.token),
            req::<cs::create_room::Request>(
                json!({}),
                json!({}),
                json!({
                    "name": "Interop", "topic": "first topic", "preset": "public_chat", "visibility": "public",
                    "room_alias_name": "interop",
                    "initial_state": [{ "type": "org.example.settings", "state_key": "", "content": { "colour": "blue" } }],
                }),
            ),
        )
        .await;
    let room = created.room_id.into_string();
    let alias = format!("#interop:{}", alice.user_id.split_once(':').unwrap().1);
    let cs::get_room_id_by_alias::Response::Ok(resolved) = s
        .ok(
            None,
            req::<cs::get_room_id_by_alias::Request>(json!({ "roomAlias": alias }), json!({}), none.clone()),
        )
        .await;
    s.fact("alias resolves", resolved.room_id.as_deref() == Some(room.as_str()));
    let extra_alias = alias.replace("#interop", "#interop-extra");
    s.ok(
        Some(&alice.token),
        req::<cs::set_room_alias::Request>(
            json!({ "roomAlias": extra_alias }),
            json!({}),
            json!({ "room_id": room }),
        ),
    )
    .await;
    s.mistake(
        "create an alias twice",
        Some(&alice.token),
        req::<cs::set_room_alias::Request>(
            json!({ "roomAlias": extra_alias }),
            json!({}),
            json!({ "room_id": room }),
        ),
    )
    .await;
    let cs::get_local_aliases::Response::Ok(aliases) = s
        .ok(
            Some(&alice.token),
            req::<cs::get_local_aliases::Request>(json!({ "roomId": room }), json!({}), none.clone()),
        )
        .await;
    let mut aliases = aliases.aliases;
    aliases.sort();
    s.fact("local aliases", aliases.len());
    s.ok(
        Some(&alice.token),
        req::<cs::delete_room_alias::Request>(json!({ "roomAlias": extra_alias }), json!({}), none.clone()),
    )
    .await;
    s.mistake(
        "resolve a deleted alias",
        None,
        req::<cs::get_room_id_by_alias::Request>(json!({ "roomAlias": extra_alias }), json!({}), none.clone()),
    )
    .await;

    s.ok(
        Some(&alice.token),
        req::<cs::invite_user::Request>(json!({ "roomId": room }), json!({}), json!({ "user_id": bob.user_id })),
    )
    .await;
    let invited = s
        .sync_until(&bob, &mut bob_since, |r| r["rooms"]["invite"].get(&room).is_some())
        .await;
    s.fact("invite seen in sync", !invited.is_empty());
    s.members("after invite", &alice, &room).await;
    s.ok(
        Some(&bob.token),
        req::<cs::join_room::Request>(json!({ "roomIdOrAlias": alias }), json!({}), json!({})),
    )
    .await;
    s.members("after join", &alice, &room).await;
    s.mistake(
        "send to a room one is not in",
        Some(&carol.token),
        req::<cs::send_message::Request>(
            json!({ "roomId": room, "eventType": "m.room.message", "txnId": "c1" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "intruder" }),
        ),
    )
    .await;
    s.mistake(
        "send to an unknown room",
        Some(&carol.token),
        req::<cs::send_message::Request>(
            json!({ "roomId": format!("!doesnotexist:{}", alice.user_id.split_once(':').unwrap().1), "eventType": "m.room.message", "txnId": "c2" }),
            json!({}),
            json!({ "msgtype": "m.text", "body": "nowhere" }),
        ),
    )
    .await;

    // Messages, state, and what each side sees.
    let mut sent = Vec::new();
    let mut ids = Vec::new();
    for i in 0..6 {
        let (user, name) = if i % 2 == 0 { (&alice, "alice") } else { (&bob, "bob") };
        let body = format!("{name} {i}");
        ids.push(s.send_text(user, &room, &format!("t{i}"), &body).await);
        sent.push(body);
    }
    let retried = s.send_text(&alice, &room, "t0", "alice 0").await;
    s.fact("transaction retry returns the same event", retried == ids[0]);
    s.ok(
        Some(&alice.token),
        req::<cs::set_room_state_with_key::Request>(
            json!({ "roomId": room, "eventType": "m.room.topic", "stateKey": "" }),
            json!({}),
            json!({ "topic": "second topic" }),
        ),
    )
    .await;
    let bob_syncs = s
        .sync_until(&bob, &mut bob_since, |r| {
            r["rooms"]["join"][&room]["timeline"]["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["type"] == "m.room.topic"))
        })
        .await;
    let mut saw = Vec::new();
    for r in &bob_syncs {
        saw.extend(bodies(&r["rooms"]["join"][&room]["timeline"]["events"]));
    }
    s.outcome.bob_saw = saw;
    let cs::get_room_state_with_key::Response::Ok(topic) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_room_state_with_key::Request>(
                json!({ "roomId": room, "eventType": "m.room.topic", "stateKey": "" }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact("topic", to_json(&topic)["topic"].clone());
    let cs::get_room_state::Response::Ok(state) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_room_state::Request>(json!({ "roomId": room }), json!({}), none.clone()),
        )
        .await;
    let state = to_json(&state);
    s.fact(
        "initial state kept",
        state
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["type"] == "org.example.settings")
            .map(|e| e["content"]["colour"].clone()),
    );
    let cs::get_one_room_event::Response::Ok(one) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_one_room_event::Request>(
                json!({ "roomId": room, "eventId": ids[1] }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact("single event", to_json(&one)["content"]["body"].clone());

    // History: bob pages backwards, two messages per page.
    let mut from = bob_since.clone();
    for _ in 0..10 {
        let cs::get_room_events::Response::Ok(page) = s
            .ok(
                Some(&bob.token),
                req::<cs::get_room_events::Request>(
                    json!({ "roomId": room }),
                    json!({ "dir": "b", "from": from, "limit": 2, "filter": "{\"types\":[\"m.room.message\"]}" }),
                    none.clone(),
                ),
            )
            .await;
        let page = to_json(&page);
        let chunk = bodies(&page["chunk"]);
        if chunk.is_empty() {
            break;
        }
        s.outcome.history_pages.push(chunk);
        match page["end"].as_str() {
            Some(end) => from = end.to_owned(),
            None => break,
        }
    }
    let cs::get_event_context::Response::Ok(context) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_event_context::Request>(
                json!({ "roomId": room, "eventId": ids[3] }),
                json!({ "limit": 4, "filter": "{\"types\":[\"m.room.message\"]}" }),
                none.clone(),
            ),
        )
        .await;
    let context = to_json(&context);
    s.outcome.context = (bodies(&context["events_before"]), bodies(&context["events_after"]));

    // Redaction: alice removes her first message; bob sees it emptied.
    s.ok(
        Some(&alice.token),
        req::<cs::redact_event::Request>(
            json!({ "roomId": room, "eventId": ids[0], "txnId": "r1" }),
            json!({}),
            json!({ "reason": "typo" }),
        ),
    )
    .await;
    let cs::get_one_room_event::Response::Ok(redacted) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_one_room_event::Request>(
                json!({ "roomId": room, "eventId": ids[0] }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    let redacted = to_json(&redacted);
    s.fact("redacted content", redacted["content"].clone());
    s.fact(
        "redacted_because",
        redacted["unsigned"]["redacted_because"]["type"].clone(),
    );
    s.mistake(
        "redact someone else's message without power",
        Some(&bob.token),
        req::<cs::redact_event::Request>(
            json!({ "roomId": room, "eventId": ids[2], "txnId": "r2" }),
            json!({}),
            json!({}),
        ),
    )
    .await;

    // Typing and receipts reach alice through sync.
    s.ok(
        Some(&bob.token),
        req::<cs::set_typing::Request>(
            json!({ "roomId": room, "userId": bob.user_id }),
            json!({}),
            json!({ "typing": true, "timeout": 20000 }),
        ),
    )
    .await;
    let bob_id = bob.user_id.clone();
    s.sync_until(&alice, &mut alice_since, |r| {
        r["rooms"]["join"][&room]["ephemeral"]["events"]
            .as_array()
            .is_some_and(|e| {
                e.iter()
                    .any(|e| e["type"] == "m.typing" && e["content"]["user_ids"][0] == bob_id)
            })
    })
    .await;
    s.fact("typing seen", true);
    s.ok(
        Some(&bob.token),
        req::<cs::post_receipt::Request>(
            json!({ "roomId": room, "receiptType": "m.read", "eventId": ids[5] }),
            json!({}),
            json!({}),
        ),
    )
    .await;
    let receipt_event = ids[5].clone();
    s.sync_until(&alice, &mut alice_since, |r| {
        r["rooms"]["join"][&room]["ephemeral"]["events"]
            .as_array()
            .is_some_and(|e| {
                e.iter()
                    .any(|e| e["type"] == "m.receipt" && e["content"][&receipt_event]["m.read"][&bob_id].is_object())
            })
    })
    .await;
    s.fact("receipt seen", true);
    s.ok(
        Some(&bob.token),
        req::<cs::set_read_marker::Request>(
            json!({ "roomId": room }),
            json!({}),
            json!({ "m.fully_read": ids[5], "m.read": ids[5] }),
        ),
    )
    .await;
    let cs::get_account_data_per_room::Response::Ok(marker) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_account_data_per_room::Request>(
                json!({ "userId": bob.user_id, "roomId": room, "type": "m.fully_read" }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact("fully read marker", marker.get("event_id") == Some(&json!(ids[5])));

    // Account data, global and per room, also through sync.
    s.ok(
        Some(&bob.token),
        req::<cs::set_account_data::Request>(
            json!({ "userId": bob.user_id, "type": "org.example.prefs" }),
            json!({}),
            json!({ "theme": "dark" }),
        ),
    )
    .await;
    let cs::get_account_data::Response::Ok(prefs) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_account_data::Request>(
                json!({ "userId": bob.user_id, "type": "org.example.prefs" }),
                json!({}),
                none.clone(),
            ),
        )
        .await;
    s.fact("account data", prefs.get("theme"));
    s.mistake(
        "read account data never set",
        Some(&bob.token),
        req::<cs::get_account_data::Request>(
            json!({ "userId": bob.user_id, "type": "org.example.missing" }),
            json!({}),
            none.clone(),
        ),
    )
    .await;
    s.ok(
        Some(&bob.token),
        req::<cs::set_account_data_per_room::Request>(
            json!({ "userId": bob.user_id, "roomId": room, "type": "org.example.room_prefs" }),
            json!({}),
            json!({ "muted": true }),
        ),
    )
    .await;
    s.sync_until(&bob, &mut bob_since, |r| {
        r["account_data"]["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "org.example.prefs"))
            || r["rooms"]["join"][&room]["account_data"]["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["type"] == "org.example.room_prefs"))
    })
    .await;
    s.fact("account data in sync", true);

    // Media: upload, authenticated download (also under another name), config.
    let data: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
    let cs::upload_content::Response::Ok(upload) = s
        .ok(
            Some(&alice.token),
            req::<cs::upload_content::Request>(
                json!({}),
                json!({ "filename": "blob.bin" }),
                raw_body("application/x-interop-test", &data),
            ),
        )
        .await;
    let (server_name, media_id) = upload
        .content_uri
        .strip_prefix("mxc://")
        .and_then(|r| r.split_once('/'))
        .expect("an mxc:// URI");
    let (server_name, media_id) = (server_name.to_owned(), media_id.to_owned());
    let cs::get_content_authed::Response::Ok(download) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_content_authed::Request>(
                json!({ "serverName": server_name, "mediaId": media_id }),
                json!({}),
                none.clone(),
            ),
        )
        .await
    else {
        panic!("get_content_authed redirected");
    };
    s.fact("download identical", download.data == data);
    s.fact("content type kept", download.content_type.clone());
    let cs::get_content_override_name_authed::Response::Ok(named) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_content_override_name_authed::Request>(
                json!({ "serverName": server_name, "mediaId": media_id, "fileName": "renamed.bin" }),
                json!({}),
                none.clone(),
            ),
        )
        .await
    else {
        panic!("get_content_override_name_authed redirected");
    };
    s.fact(
        "download under another name",
        named
            .content_disposition
            .as_deref()
            .is_some_and(|d| d.contains("renamed.bin")),
    );
    s.ok(
        Some(&bob.token),
        req::<cs::get_config_authed::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s.mistake(
        "download without a token",
        None,
        req::<cs::get_content_authed::Request>(
            json!({ "serverName": server_name, "mediaId": media_id }),
            json!({}),
            none.clone(),
        ),
    )
    .await;

    // The public room directory.
    let cs::get_room_visibility_on_directory::Response::Ok(visibility) = s
        .ok(
            None,
            req::<cs::get_room_visibility_on_directory::Request>(json!({ "roomId": room }), json!({}), none.clone()),
        )
        .await;
    s.fact("published at creation", to_json(&visibility)["visibility"].clone());
    let cs::get_public_rooms::Response::Ok(public) = s
        .ok(
            Some(&carol.token),
            req::<cs::get_public_rooms::Request>(json!({}), json!({}), none.clone()),
        )
        .await;
    let public = to_json(&public);
    s.fact(
        "directory lists the room",
        public["chunk"]
            .as_array()
            .map(|c| c.iter().filter(|r| r["room_id"] == room.as_str()).count()),
    );
    let cs::query_public_rooms::Response::Ok(found) = s
        .ok(
            Some(&carol.token),
            req::<cs::query_public_rooms::Request>(
                json!({}),
                json!({}),
                json!({ "filter": { "generic_search_term": "interop" }, "limit": 5 }),
            ),
        )
        .await;
    s.fact("directory search finds it", to_json(&found)["chunk"][0]["name"].clone());
    s.ok(
        Some(&alice.token),
        req::<cs::set_room_visibility_on_directory::Request>(
            json!({ "roomId": room }),
            json!({}),
            json!({ "visibility": "private" }),
        ),
    )
    .await;

    // Membership changes: carol joins (public room), is kicked, rejoins, is
    // banned and unbanned; bob leaves and forgets.
    s.ok(
        Some(&carol.token),
        req::<cs::join_room_by_id::Request>(json!({ "roomId": room }), json!({}), json!({})),
    )
    .await;
    s.mistake(
        "kick without power",
        Some(&carol.token),
        req::<cs::kick::Request>(json!({ "roomId": room }), json!({}), json!({ "user_id": bob.user_id })),
    )
    .await;
    s.ok(
        Some(&alice.token),
        req::<cs::kick::Request>(
            json!({ "roomId": room }),
            json!({}),
            json!({ "user_id": carol.user_id, "reason": "test" }),
        ),
    )
    .await;
    s.members("after kick", &alice, &room).await;
    s.ok(
        Some(&carol.token),
        req::<cs::join_room_by_id::Request>(json!({ "roomId": room }), json!({}), json!({})),
    )
    .await;
    s.ok(
        Some(&alice.token),
        req::<cs::ban::Request>(
            json!({ "roomId": room }),
            json!({}),
            json!({ "user_id": carol.user_id }),
        ),
    )
    .await;
    s.mistake(
        "join while banned",
        Some(&carol.token),
        req::<cs::join_room_by_id::Request>(json!({ "roomId": room }), json!({}), json!({})),
    )
    .await;
    s.members("after ban", &alice, &room).await;
    s.ok(
        Some(&alice.token),
        req::<cs::unban::Request>(
            json!({ "roomId": room }),
            json!({}),
            json!({ "user_id": carol.user_id }),
        ),
    )
    .await;
    s.members("after unban", &alice, &room).await;
    let cs::get_joined_members_by_room::Response::Ok(joined) = s
        .ok(
            Some(&alice.token),
            req::<cs::get_joined_members_by_room::Request>(json!({ "roomId": room }), json!({}), none.clone()),
        )
        .await;
    let joined = to_json(&joined);
    s.fact(
        "alice's display name in joined members",
        joined["joined"][&alice.user_id]["display_name"].clone(),
    );
    s.mistake(
        "forget a room one is in",
        Some(&bob.token),
        req::<cs::forget_room::Request>(json!({ "roomId": room }), json!({}), none.clone()),
    )
    .await;
    s.ok(
        Some(&bob.token),
        req::<cs::leave_room::Request>(json!({ "roomId": room }), json!({}), json!({})),
    )
    .await;
    s.ok(
        Some(&bob.token),
        req::<cs::forget_room::Request>(json!({ "roomId": room }), json!({}), none.clone()),
    )
    .await;
    let cs::get_joined_rooms::Response::Ok(rooms) = s
        .ok(
            Some(&bob.token),
            req::<cs::get_joined_rooms::Request>(json!({}), json!({}), none.clone()),
        )
        .await;
    s.fact("bob's rooms after leaving", rooms.joined_rooms.len());
    s.members("after leave", &alice, &room).await;

    // Sessions end: one token, then all of them.
    s.ok(
        Some(&bob_token2),
        req::<cs::logout::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s.mistake(
        "use a logged-out token",
        Some(&bob_token2),
        req::<cs::get_token_owner::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s.ok(
        Some(&alice.token),
        req::<cs::logout_all::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s.mistake(
        "use a token after logout/all",
        Some(&alice.token),
        req::<cs::get_token_owner::Request>(json!({}), json!({}), none.clone()),
    )
    .await;
    s
}

/// Whether the spec declares the field at `path` (as [`Unmodeled`] writes
/// it) in the success response of `operation_id`. A field the server sent
/// that the spec declares there, yet the generated types dropped, is a
/// generator bug; one the spec does not declare there is the server's own
/// (often a field older spec versions had, such as an event's top-level `age`).
pub fn spec_declares(api: &matrix_codegen::ir::Api, operation_id: &str, path: &str) -> bool {
    let Some(op) = api
        .operations
        .iter()
        .find(|o| o.operation_id == operation_id && o.family == matrix_codegen::family::Family::ClientServer)
    else {
        return false;
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    op.responses
        .iter()
        .filter(|r| r.status.starts_with('2'))
        .flat_map(|r| &r.content)
        .filter_map(|c| c.ty.as_ref())
        .any(|ty| declares(api, ty, &segments, 0))
}

fn declares(api: &matrix_codegen::ir::Api, ty: &matrix_codegen::ir::Ty, path: &[&str], depth: usize) -> bool {
    use matrix_codegen::ir::{Ty, TypeKind};
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    if depth > 64 {
        return false;
    }
    match ty.strip_nullable() {
        Ty::Any | Ty::Object => true,
        Ty::Array(item) => *first == "[]" && declares(api, item, rest, depth + 1),
        Ty::Tuple(items) => *first == "[]" && items.iter().any(|t| declares(api, t, rest, depth + 1)),
        Ty::Map(value) => declares(api, value, rest, depth + 1),
        Ty::Named(id) => match &api.ty(*id).kind {
            TypeKind::Struct { fields, additional } => {
                fields
                    .iter()
                    .filter(|f| f.wire_name == *first || *first == "{key}")
                    .any(|f| declares(api, &f.ty, rest, depth + 1))
                    || additional.as_ref().is_some_and(|a| declares(api, a, rest, depth + 1))
            }
            TypeKind::Union { variants } => variants.iter().any(|v| declares(api, &v.ty, path, depth + 1)),
            TypeKind::Alias(inner) => declares(api, inner, path, depth + 1),
            TypeKind::StringEnum { .. } => false,
        },
        _ => false,
    }
}

/// Every property name the spec's types declare, to tell a field the
/// generated types lost (a bug) from one outside the spec (a server's own).
pub fn spec_property_names(api: &matrix_codegen::ir::Api) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for t in &api.types {
        if let matrix_codegen::ir::TypeKind::Struct { fields, .. } = &t.kind {
            names.extend(fields.iter().map(|f| f.wire_name.clone()));
        }
    }
    names
}
