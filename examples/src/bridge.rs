//! An echo bridge on the generated application-service trait: the smallest
//! bridge that does what real ones do. Its "remote network" has one user,
//! the parrot, who repeats what Matrix users say.
//!
//! - Room aliases `#echo_<name>:<server>` are its portal rooms: asked for
//!   one (`/rooms/{roomAlias}`), it creates the room with that alias as its
//!   bot, through the generated client-server client and its `as_token`.
//! - User IDs `@echo_<name>:<server>` are its puppets: asked for one
//!   (`/users/{userId}`), it registers it (`m.login.application_service`).
//! - Transactions (`/transactions/{txnId}`) are taken once per ID (a
//!   retried one is acknowledged and ignored), answered at once, and their
//!   events handled in order by one task: a message in a portal room from
//!   someone who is not a puppet gets `echo: <body>` from the parrot, who
//!   joins first, acting as that puppet (`user_id`, the identity
//!   assertion); a puppet invited anywhere joins.
//! - Third-party lookups for the protocol `echo`: users by `name`,
//!   locations by `room`, and back.
//! - Ephemeral data (it registers with `receive_ephemeral`): who types,
//!   reads and is present where, kept for its operator.
//! - `/ping`, and every request checked for the homeserver's `hs_token`.

use matrix_api::application_service::endpoints::{
    get_protocol_metadata, ping, query_location_by_alias, query_location_by_protocol, query_room_by_alias,
    query_user_by_id, query_user_by_id2, query_user_by_protocol, send_transaction, ApplicationServiceApi,
};
use matrix_api::application_service::{
    FieldType, Location, Namespace, Namespaces, Protocol, Registration, SendTransactionRequest, User,
};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    CreateRoomRequest, CreateRoomRequestPreset, CreateRoomRequestVisibility, JoinRoomByIdRequest,
    PingAppserviceRequest, RegisterKind, RegisterRequest,
};
use matrix_api::constants::MLoginApplicationService;
use matrix_api::events::{
    AnyEphemeralRoomEvent, AnyRoomMessageEventContent, AnyTimelineEvent, Event, PresenceEvent,
    RoomMessageNoticeEventContent,
};
use matrix_api::identifiers::RoomId;
use matrix_api_runtime::client::{Client, ClientError};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::Raw;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The protocol name of third-party lookups.
pub const PROTOCOL: &str = "echo";
/// The prefix of its puppets' localparts and its rooms' aliases.
const PREFIX: &str = "echo_";
/// The puppet that answers.
const PARROT: &str = "echo_parrot";

/// How the bridge is set up: the homeserver it bridges and the tokens of
/// its registration.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// The homeserver's client-server base URL.
    pub homeserver: String,
    /// The homeserver's name (in user IDs and aliases).
    pub server_name: String,
    /// What the bridge authenticates with at the homeserver.
    pub as_token: String,
    /// What the homeserver authenticates with at the bridge.
    pub hs_token: String,
    /// The bridge bot's localpart.
    pub sender_localpart: String,
}

impl BridgeConfig {
    /// The registration file a homeserver needs for this bridge, reached
    /// at `url`.
    pub fn registration(&self, url: &str) -> Registration {
        let server = regex_escape(&self.server_name);
        let namespace = |sigil: &str| Some(vec![Namespace::new(format!("{sigil}{PREFIX}.*:{server}"), true)]);
        let namespaces = Namespaces {
            users: namespace("@"),
            aliases: namespace("#"),
            rooms: Some(Vec::new()),
        };
        let mut registration = Registration::new(
            "echo".to_owned(),
            Some(url.to_owned()),
            self.as_token.clone(),
            self.hs_token.clone(),
            self.sender_localpart.clone(),
            namespaces,
        );
        registration.rate_limited = Some(false);
        registration.receive_ephemeral = Some(true);
        registration.protocols = Some(vec![PROTOCOL.to_owned()]);
        registration
    }

    fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.server_name)
    }

    /// The localpart after the prefix, of an ID with `sigil` on this server.
    fn bridged<'a>(&self, id: &'a str, sigil: char) -> Option<&'a str> {
        let rest = id.strip_prefix(sigil)?.strip_prefix(PREFIX)?;
        let (name, server) = rest.split_once(':')?;
        (server == self.server_name && !name.is_empty()).then_some(name)
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// What the bridge did, for its operator (and the tests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// Each transaction ID with how often it was delivered.
    pub transactions: BTreeMap<String, usize>,
    /// Transaction IDs in the order they were first taken.
    pub order: Vec<String>,
    /// Portal rooms made, by alias.
    pub rooms: BTreeMap<String, String>,
    /// Puppets registered.
    pub puppets: BTreeSet<String>,
    /// What the parrot said, in order.
    pub echoed: Vec<String>,
    /// Pings received (their transaction IDs).
    pub pings: Vec<Option<String>>,
    /// What went wrong handling events.
    pub failures: Vec<String>,
    /// The body of every message it was sent, in the order it took them.
    pub messages: Vec<String>,
    /// The ephemeral data it was sent, in order.
    pub ephemeral: Vec<Ephemeral>,
}

/// One piece of ephemeral data, as the bridge understood it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ephemeral {
    /// `m.typing`, `m.receipt`, `m.presence` or another type.
    pub event_type: String,
    /// The room, for typing and receipts.
    pub room_id: Option<String>,
    /// Who types (all of them), who read (by event), or whose presence.
    pub users: Vec<String>,
}

impl Ephemeral {
    fn read(raw: &Raw<Event>) -> Ephemeral {
        let room_id = raw.get_field::<String>("room_id").ok().flatten();
        let (event_type, users) = match raw.deserialize_as::<AnyEphemeralRoomEvent>() {
            Ok(AnyEphemeralRoomEvent::Typing(typing)) => {
                let users = typing.content.user_ids.iter().map(|u| u.to_string()).collect();
                ("m.typing".to_owned(), users)
            }
            Ok(AnyEphemeralRoomEvent::Receipt(receipt)) => {
                let readers = receipt
                    .content
                    .values()
                    .flat_map(|by_type| by_type.m_read.iter().flatten());
                let users = readers.map(|(user, _)| user.to_string()).collect();
                ("m.receipt".to_owned(), users)
            }
            _ => match raw.deserialize_as::<PresenceEvent>() {
                Ok(presence) => ("m.presence".to_owned(), vec![presence.sender]),
                Err(_) => (raw.get_field("type").ok().flatten().unwrap_or_default(), Vec::new()),
            },
        };
        Ephemeral {
            event_type,
            room_id,
            users,
        }
    }
}

/// The bridge; cloning shares it.
#[derive(Clone)]
pub struct Bridge {
    config: BridgeConfig,
    activity: Arc<Mutex<Activity>>,
    events: tokio::sync::mpsc::UnboundedSender<Vec<AnyTimelineEvent>>,
}

impl Bridge {
    /// A bridge whose event handling runs on the current tokio runtime.
    pub fn start(config: BridgeConfig) -> Bridge {
        let (events, mut queue) = tokio::sync::mpsc::unbounded_channel::<Vec<AnyTimelineEvent>>();
        let bridge = Bridge {
            config,
            activity: Arc::default(),
            events,
        };
        let worker = bridge.clone();
        tokio::spawn(async move {
            while let Some(batch) = queue.recv().await {
                for event in batch {
                    if let Err(e) = worker.handle(event).await {
                        tracing::warn!("handling an event: {e}");
                        worker.lock().failures.push(e.to_string());
                    }
                }
            }
        });
        bridge
    }

    pub fn activity(&self) -> Activity {
        self.lock().clone()
    }

    /// The bridge's router (`/_matrix/app/v1/...`).
    pub fn router(&self) -> matrix_api_runtime::server::Router {
        matrix_api::application_service::endpoints::router(self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The homeserver, as the bridge bot or (with `as_user`) a puppet.
    fn homeserver(&self, as_user: Option<&str>) -> cs::Client {
        let client = Client::new(&self.config.homeserver).with_access_token(self.config.as_token.clone());
        cs::Client(match as_user {
            Some(user_id) => client.with_query("user_id", user_id),
            None => client,
        })
    }

    fn check_token(&self, credentials: &Credentials) -> Result<(), MatrixError> {
        match credentials.access_token.as_deref() {
            Some(token) if token == self.config.hs_token => Ok(()),
            Some(_) => Err(MatrixError::forbidden("this is not the homeserver's hs_token")),
            None => Err(MatrixError::new(
                401,
                ErrorCode::Unauthorized,
                "the hs_token is missing",
            )),
        }
    }

    /// Registers the puppet `localpart` (already registered is fine).
    async fn register_puppet(&self, localpart: &str) -> Result<String, ClientError> {
        let user_id = self.config.user_id(localpart);
        if self.lock().puppets.contains(&user_id) {
            return Ok(user_id);
        }
        let mut request = cs::register::Request::new(RegisterRequest {
            r#type: Some(MLoginApplicationService),
            username: Some(localpart.to_owned()),
            inhibit_login: Some(true),
            ..RegisterRequest::default()
        });
        request.query.kind = Some(RegisterKind::User);
        match self.homeserver(None).register(request).await {
            Ok(_) => {}
            Err(ClientError::Matrix(e)) if e.errcode().as_str() == "M_USER_IN_USE" => {}
            Err(e) => return Err(e),
        }
        self.lock().puppets.insert(user_id.clone());
        Ok(user_id)
    }

    /// Makes the portal room `#echo_<name>`, as the bridge bot.
    async fn create_portal(&self, alias: &str, name: &str) -> Result<String, ClientError> {
        let request = cs::create_room::Request::new(CreateRoomRequest {
            room_alias_name: Some(format!("{PREFIX}{name}")),
            name: Some(format!("Echo: {name}")),
            preset: Some(CreateRoomRequestPreset::PublicChat),
            visibility: Some(CreateRoomRequestVisibility::Private),
            ..CreateRoomRequest::default()
        });
        let cs::create_room::Response::Ok(created) = self.homeserver(None).create_room(request).await?;
        let room_id = created.room_id.to_string();
        self.lock().rooms.insert(alias.to_owned(), room_id.clone());
        Ok(room_id)
    }

    /// One event of a transaction: a message in a portal room from a
    /// Matrix user gets the parrot's echo.
    async fn handle(&self, event: AnyTimelineEvent) -> Result<(), ClientError> {
        let message = match event {
            AnyTimelineEvent::RoomMessage(message) => message,
            AnyTimelineEvent::RoomMember(member) => {
                let invited = member.state_key.to_string();
                if member.content.membership.as_str() == "invite" && self.config.bridged(&invited, '@').is_some() {
                    self.join(&invited, member.room_id.as_ref()).await?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let room_id = message.room_id.to_string();
        let sender = message.sender.to_string();
        if let Some(body) = message_body(&message.content) {
            self.lock().messages.push(body);
        }
        let portal = self.lock().rooms.values().any(|r| *r == room_id);
        if !portal
            || self.config.bridged(&sender, '@').is_some()
            || sender == self.config.user_id(&self.config.sender_localpart)
        {
            return Ok(());
        }
        let Some(body) = message_body(&message.content) else {
            return Ok(());
        };
        let parrot = self.register_puppet(PARROT).await?;
        self.join(&parrot, &room_id).await?;
        let echo = format!("echo: {body}");
        let notice = AnyRoomMessageEventContent::Notice(RoomMessageNoticeEventContent::new(echo.clone()));
        let send =
            cs::send_message::Request::with_content(message.room_id.clone(), message.event_id.to_string(), &notice)
                .map_err(|e| ClientError::Request(e.to_string()))?;
        self.homeserver(Some(&parrot)).send_message(send).await?;
        self.lock().echoed.push(echo);
        Ok(())
    }

    /// The puppet joins the room (joined already is fine).
    async fn join(&self, puppet: &str, room_id: &str) -> Result<(), ClientError> {
        let room_id: RoomId = room_id.parse().map_err(|e| ClientError::Request(format!("{e}")))?;
        let join = cs::join_room_by_id::Request::new(room_id, JoinRoomByIdRequest::default());
        self.homeserver(Some(puppet)).join_room_by_id(join).await.map(drop)
    }

    /// Asks the homeserver to ping the bridge (`/appservice/{id}/ping`):
    /// how long the round trip took, in milliseconds.
    pub async fn ping_homeserver(&self, transaction_id: &str) -> Result<i64, ClientError> {
        let request = cs::ping_appservice::Request::new(
            "echo".to_owned(),
            PingAppserviceRequest {
                transaction_id: Some(transaction_id.to_owned()),
            },
        );
        let cs::ping_appservice::Response::Ok(pong) = self.homeserver(None).ping_appservice(request).await?;
        Ok(pong.duration_ms)
    }
}

/// The text of a text message or notice.
fn message_body(content: &AnyRoomMessageEventContent) -> Option<String> {
    match content {
        AnyRoomMessageEventContent::Text(text) => Some(text.body.clone()),
        AnyRoomMessageEventContent::Notice(notice) => Some(notice.body.clone()),
        _ => None,
    }
}

fn not_found(what: &str) -> MatrixError {
    MatrixError::not_found(format!("{what} is not bridged here"))
}

fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect()
}

impl ApplicationServiceApi for Bridge {
    async fn send_transaction(
        &self,
        request: send_transaction::Request,
        credentials: Credentials,
    ) -> Result<send_transaction::Response, MatrixError> {
        self.check_token(&credentials)?;
        let txn_id = request.path.txn_id;
        let first = {
            let mut activity = self.lock();
            let count = activity.transactions.entry(txn_id.clone()).or_insert(0);
            *count += 1;
            let first = *count == 1;
            if first {
                activity.order.push(txn_id);
            }
            first
        };
        if first {
            let SendTransactionRequest { events, ephemeral } = request.body;
            let seen = ephemeral.iter().flatten().map(Ephemeral::read);
            self.lock().ephemeral.extend(seen);
            // Events that do not decode are not the bridge's to answer.
            let decoded = events.iter().filter_map(|raw| raw.deserialize().ok()).collect();
            let _ = self.events.send(decoded);
        }
        Ok(send_transaction::Response::Ok(Map::new()))
    }

    async fn query_user_by_id2(
        &self,
        request: query_user_by_id2::Request,
        credentials: Credentials,
    ) -> Result<query_user_by_id2::Response, MatrixError> {
        self.check_token(&credentials)?;
        let user_id = request.path.user_id;
        let Some(name) = self.config.bridged(&user_id, '@') else {
            return Err(not_found(&user_id));
        };
        self.register_puppet(&format!("{PREFIX}{name}"))
            .await
            .map_err(|e| MatrixError::new(500, ErrorCode::Unknown, format!("registering {user_id}: {e}")))?;
        Ok(query_user_by_id2::Response::Ok(Map::new()))
    }

    async fn query_room_by_alias(
        &self,
        request: query_room_by_alias::Request,
        credentials: Credentials,
    ) -> Result<query_room_by_alias::Response, MatrixError> {
        self.check_token(&credentials)?;
        let alias = request.path.room_alias;
        let Some(name) = self.config.bridged(&alias, '#') else {
            return Err(not_found(&alias));
        };
        self.create_portal(&alias, name)
            .await
            .map_err(|e| MatrixError::new(500, ErrorCode::Unknown, format!("creating {alias}: {e}")))?;
        Ok(query_room_by_alias::Response::Ok(Map::new()))
    }

    async fn ping(&self, request: ping::Request, credentials: Credentials) -> Result<ping::Response, MatrixError> {
        self.check_token(&credentials)?;
        self.lock().pings.push(request.body.transaction_id);
        Ok(ping::Response::Ok(Map::new()))
    }

    async fn get_protocol_metadata(
        &self,
        request: get_protocol_metadata::Request,
        credentials: Credentials,
    ) -> Result<get_protocol_metadata::Response, MatrixError> {
        self.check_token(&credentials)?;
        if request.path.protocol != PROTOCOL {
            return Err(not_found(&request.path.protocol));
        }
        let field = |placeholder: &str| FieldType::new("[a-z0-9]+".to_owned(), placeholder.to_owned());
        let field_types = BTreeMap::from([
            ("name".to_owned(), field("parrot")),
            ("room".to_owned(), field("lobby")),
        ]);
        Ok(get_protocol_metadata::Response::Ok(Protocol::new(
            vec!["name".to_owned()],
            vec!["room".to_owned()],
            "mxc://example.org/echo".to_owned(),
            field_types,
            Vec::new(),
        )))
    }

    async fn query_user_by_protocol(
        &self,
        request: query_user_by_protocol::Request,
        credentials: Credentials,
    ) -> Result<query_user_by_protocol::Response, MatrixError> {
        self.check_token(&credentials)?;
        if request.path.protocol != PROTOCOL {
            return Err(not_found(&request.path.protocol));
        }
        let name = request.query.fields.get("name").cloned().unwrap_or_default();
        let users = if name.is_empty() {
            Vec::new()
        } else {
            let user_id = self.config.user_id(&format!("{PREFIX}{name}"));
            vec![User::new(user_id, PROTOCOL.to_owned(), fields(&[("name", &name)]))]
        };
        Ok(query_user_by_protocol::Response::Ok(users))
    }

    async fn query_location_by_protocol(
        &self,
        request: query_location_by_protocol::Request,
        credentials: Credentials,
    ) -> Result<query_location_by_protocol::Response, MatrixError> {
        self.check_token(&credentials)?;
        if request.path.protocol != PROTOCOL {
            return Err(not_found(&request.path.protocol));
        }
        let room = request.query.fields.get("room").cloned().unwrap_or_default();
        let locations = if room.is_empty() {
            Vec::new()
        } else {
            let alias = format!("#{PREFIX}{room}:{}", self.config.server_name);
            vec![Location::new(alias, PROTOCOL.to_owned(), fields(&[("room", &room)]))]
        };
        Ok(query_location_by_protocol::Response::Ok(locations))
    }

    async fn query_user_by_id(
        &self,
        request: query_user_by_id::Request,
        credentials: Credentials,
    ) -> Result<query_user_by_id::Response, MatrixError> {
        self.check_token(&credentials)?;
        let user_id = request.query.userid.unwrap_or_default();
        let users = match self.config.bridged(&user_id, '@') {
            Some(name) => vec![User::new(
                user_id.clone(),
                PROTOCOL.to_owned(),
                fields(&[("name", name)]),
            )],
            None => Vec::new(),
        };
        Ok(query_user_by_id::Response::Ok(users))
    }

    async fn query_location_by_alias(
        &self,
        request: query_location_by_alias::Request,
        credentials: Credentials,
    ) -> Result<query_location_by_alias::Response, MatrixError> {
        self.check_token(&credentials)?;
        let alias = request.query.alias.unwrap_or_default();
        let locations = match self.config.bridged(&alias, '#') {
            Some(room) => vec![Location::new(
                alias.clone(),
                PROTOCOL.to_owned(),
                fields(&[("room", room)]),
            )],
            None => Vec::new(),
        };
        Ok(query_location_by_alias::Response::Ok(locations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BridgeConfig {
        BridgeConfig {
            homeserver: "http://127.0.0.1:1".into(),
            server_name: "hs.example:8448".into(),
            as_token: "as".into(),
            hs_token: "hs".into(),
            sender_localpart: "echobot".into(),
        }
    }

    #[test]
    fn its_namespaces_are_its_prefix_on_its_server() {
        let c = config();
        assert_eq!(c.bridged("@echo_bob:hs.example:8448", '@'), Some("bob"));
        assert_eq!(c.bridged("#echo_lobby:hs.example:8448", '#'), Some("lobby"));
        assert_eq!(c.bridged("@echo_bob:other.example", '@'), None);
        assert_eq!(c.bridged("@bob:hs.example:8448", '@'), None);
        assert_eq!(c.bridged("@echo_:hs.example:8448", '@'), None);
        let registration = c.registration("http://127.0.0.1:9");
        let users = registration.namespaces.users.unwrap();
        assert_eq!(users[0].regex, r"@echo_.*:hs\.example:8448");
        assert!(users[0].exclusive);
    }
}
