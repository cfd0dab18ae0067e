//! The client-server API on the generated trait.
//!
//! The trait implementation at the bottom only routes each operation to the
//! module of its topic; each handler takes the typed request, checks the
//! caller and the room rules, and uses the store. Every operation not listed
//! answers `404 M_UNRECOGNIZED` through the generated default.

mod account;
pub mod account_threepids;
pub(crate) mod auth;
mod backup;
mod devices;
pub(crate) mod directory;
pub(crate) mod ephemeral;
pub(crate) mod events;
mod filter;
mod identity_server;
pub use identity_server::lookup_hash;
pub(crate) mod keys;
mod limits;
mod media;
mod membership;
mod openid;
mod power;
pub(crate) mod presence;
mod profile;
mod push;
mod rooms;
mod server_info;
mod sync;
mod third_party_invites;
mod to_device;
mod uia;
mod user_data;
mod visibility;
mod voip;

use crate::federation::build::{Built, Draft, Extremity};
use crate::signals::Signal;
use crate::store::{NewEvent, RoomInfo, Storage};
use matrix_api::client_server::endpoints::{self as cs, ClientServerApi};
use matrix_api::events::RoomPowerLevelsEventContent;
use matrix_api::{ErrorCode, EventContent, MatrixError, Raw};
use matrix_api_runtime::server::Credentials;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use ephemeral::Typing;
pub use media::MAX_UPLOAD_BYTES;
pub use push::delivery::run as push_delivery;
pub use push::RuleCache;
pub use voip::TurnConfig;

/// The homeserver: configuration, storage and what lives only in memory.
pub struct Homeserver {
    pub server_name: String,
    /// Where clients reach this server (for `/.well-known/matrix/client`).
    pub public_url: Option<String>,
    pub store: Arc<dyn Storage>,
    /// Uploaded files, one per media ID.
    pub media_dir: PathBuf,
    /// Woken on every change a `/sync` could return, for long-polling.
    pub changes: Arc<Signal>,
    /// Woken when notifications are stored or a pusher is set: what the
    /// push delivery waits for (not every change, as `changes`).
    pub pushes: Signal,
    /// Typing notifications (ephemeral: never stored).
    pub typing: Typing,
    /// Held from the room-rules check to the append, so that two events
    /// checked against the same state cannot both be stored (two bans of
    /// each other, two changes of one power level); taken through
    /// [`Homeserver::lock_appends`], with the store's lock for the other
    /// processes on the same database.
    pub appending: std::sync::Mutex<()>,
    /// Push rule sets read so far (the store has the same).
    pub push_cache: push::RuleCache,
    /// The TURN server whose credentials `/voip/turnServer` hands out.
    pub turn: Option<TurnConfig>,
    /// The key every event this server creates is signed with.
    pub identity: Arc<crate::federation::SigningIdentity>,
    /// Woken when PDUs or EDUs are queued for other servers.
    pub outbound: Arc<Signal>,
    /// Whether this process sends the stored queues (PDUs, pushes,
    /// application-service transactions): with several processes on one
    /// database, one does (`signals::claim_senders`).
    pub sending: std::sync::atomic::AtomicBool,
    /// Typing notifications and receipts waiting for other servers.
    pub outbound_edus: crate::federation::send::EduQueue,
    /// The federation side, for what a client asks of other servers
    /// (joining their rooms); set once both sides exist.
    pub federation: std::sync::OnceLock<std::sync::Weak<crate::federation::Federation>>,
    /// What sends this server's email (validation of addresses added to
    /// accounts); without it, email addresses cannot be added.
    pub mail: Option<crate::mail::Mailer>,
    /// The application services this server hosts.
    pub appservices: crate::appservices::AppServices,
}

impl Homeserver {
    /// Holds the lock of appends, in this process and (through the store)
    /// in the others on the same database, until the value is dropped.
    pub(crate) fn lock_appends(&self) -> Result<(std::sync::MutexGuard<'_, ()>, crate::store::Held)> {
        let here = self.appending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let everywhere = self.store.lock_appends().map_err(internal)?;
        Ok((here, everywhere))
    }

    /// Whether this process sends the stored queues (see `sending`).
    pub(crate) fn is_sending(&self) -> bool {
        self.sending.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The federation side, if this server has one running.
    pub(crate) fn federation(&self) -> Option<Arc<crate::federation::Federation>> {
        self.federation.get().and_then(std::sync::Weak::upgrade)
    }
}

type Result<T> = std::result::Result<T, MatrixError>;

/// An event as its sender proposes it, before it is built or placed.
struct Proposal<'a> {
    room_id: &'a str,
    sender: &'a str,
    event_type: &'a str,
    state_key: Option<&'a str>,
    content: Value,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> MatrixError {
    MatrixError::new(500, ErrorCode::Unknown, format!("internal error: {e}"))
}

/// An identifier this server made or stored (an invalid one is a bug here,
/// so it answers 500).
/// The servers with a user joined in `state` (a room's state events).
pub(crate) fn joined_servers(state: &[crate::store::StoredEvent]) -> std::collections::BTreeSet<String> {
    state
        .iter()
        .filter(|e| e.event_type == "m.room.member" && e.content["membership"] == "join")
        .filter_map(|e| e.state_key.as_deref().and_then(server_of))
        .map(str::to_owned)
        .collect()
}

fn id<T: std::str::FromStr<Err = matrix_api::IdError>>(value: &str) -> Result<T> {
    value.parse().map_err(internal)
}

/// Builds a generated response type from JSON the server assembled.
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(internal)
}

/// The JSON of a generated value, for the store (which keeps event content
/// as JSON, whatever its type).
fn json_of<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(internal)
}

/// A generated value as the raw JSON of the type `U` it stands for (an
/// event of some kind, written from its generic form).
fn raw<T: serde::Serialize, U>(value: &T) -> Result<Raw<U>> {
    Ok(Raw::new(value).map_err(internal)?.cast())
}

/// Stored content is always a JSON object (the store takes nothing else).
fn object(value: &Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The content of `C`'s type at `state_key`, among `state`.
fn content_in<C: EventContent + serde::de::DeserializeOwned>(
    state: &[crate::store::StoredEvent],
    state_key: &str,
) -> Option<C> {
    state
        .iter()
        .find(|e| e.event_type == C::EVENT_TYPE && e.state_key.as_deref() == Some(state_key))
        .and_then(|e| e.content_as())
}

impl crate::store::StoredEvent {
    /// An event at stream position `stream` that is not in the store: what
    /// `createRoom` checks its plan against, and what tests build rooms of.
    pub(crate) fn unstored(
        stream: i64,
        event_type: &str,
        state_key: Option<&str>,
        sender: &str,
        content: Value,
    ) -> Self {
        crate::store::StoredEvent {
            stream,
            event_id: format!("$unstored{stream}"),
            room_id: String::new(),
            sender: sender.to_owned(),
            event_type: event_type.to_owned(),
            state_key: state_key.map(str::to_owned),
            content,
            origin_server_ts: 0,
            redacted_because: None,
        }
    }

    /// The content as its generated type; `None` when the stored JSON does
    /// not fit it (content is whatever the sender sent).
    pub(crate) fn content_as<C: serde::de::DeserializeOwned>(&self) -> Option<C> {
        C::deserialize(&self.content).ok()
    }
}

/// The server name of a user ID: what follows the first colon (a server
/// name may hold a port, a localpart no colon).
pub(crate) fn server_of(user_id: &str) -> Option<&str> {
    user_id.split_once(':').map(|(_, server)| server)
}

/// Milliseconds since the Unix epoch, as Matrix timestamps are.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `len` random letters and digits: tokens, session and media IDs.
pub fn random_id(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The room versions this server creates and joins.
const ROOM_VERSIONS: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];
const DEFAULT_ROOM_VERSION: &str = "11";

impl Homeserver {
    /// The caller behind an access token: `(user ID, device ID)`. An
    /// application service's token acts as its sender, or as the user it
    /// asserts (`user_id`), which must be of its namespaces and exist.
    fn user(&self, credentials: &Credentials) -> Result<(String, String)> {
        let token = credentials
            .access_token
            .as_deref()
            .ok_or_else(MatrixError::missing_token)?;
        if let Some(service) = self.appservices.by_token(token) {
            let user_id = credentials.user_id.clone().unwrap_or_else(|| service.sender.clone());
            if !service.owns_user(&user_id) {
                return Err(MatrixError::new(
                    403,
                    ErrorCode::Exclusive,
                    "the user is not in the application service's namespaces",
                ));
            }
            if !self.store.user_exists(&user_id).map_err(internal)? {
                return Err(MatrixError::forbidden(
                    "the application service has not registered this user",
                ));
            }
            return Ok((user_id, format!("appservice:{}", service.id())));
        }
        self.store.token_owner(token).map_err(internal)?.ok_or_else(|| {
            MatrixError::new(401, ErrorCode::UnknownToken, "Unrecognised access token").with("soft_logout", false)
        })
    }

    fn user_id(&self, localpart_or_id: &str) -> String {
        if localpart_or_id.starts_with('@') {
            localpart_or_id.to_owned()
        } else {
            format!("@{}:{}", localpart_or_id, self.server_name)
        }
    }

    pub(crate) fn room(&self, room_id: &str) -> Result<RoomInfo> {
        self.store
            .room_info(room_id)
            .map_err(internal)?
            .ok_or_else(|| MatrixError::not_found("Unknown room"))
    }

    fn membership(&self, room_id: &str, user_id: &str) -> Result<Option<String>> {
        self.store.membership(room_id, user_id).map_err(internal)
    }

    fn require_joined(&self, room_id: &str, user_id: &str) -> Result<RoomInfo> {
        let room = self.room(room_id)?;
        match self.membership(room_id, user_id)?.as_deref() {
            Some("join") => Ok(room),
            _ => Err(MatrixError::forbidden("You are not joined to this room")),
        }
    }

    /// Sends a state event of `C`'s type.
    fn send_state<C: EventContent + serde::Serialize>(
        &self,
        room_id: &str,
        sender: &str,
        state_key: &str,
        content: &C,
    ) -> Result<String> {
        self.send_event(room_id, sender, C::EVENT_TYPE, Some(state_key), json_of(content)?, None)
    }

    /// Appends an event with an ID in the format of the room's version.
    fn send_event(
        &self,
        room_id: &str,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: Value,
        txn_key: Option<&str>,
    ) -> Result<String> {
        self.append_event(None, room_id, sender, event_type, state_key, content, txn_key)
    }

    /// The other servers an event goes to: those with a joined member in the
    /// room before it or because of it (a kicked user's server learns of the
    /// kick), but neither this one nor the sender's.
    fn destinations(
        &self,
        state: &[crate::store::StoredEvent],
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: &Value,
    ) -> Vec<String> {
        let mut servers = joined_servers(state);
        if event_type == "m.room.member" && content.get("membership").and_then(Value::as_str) == Some("join") {
            servers.extend(state_key.and_then(server_of).map(str::to_owned));
        }
        servers.remove(&self.server_name);
        if let Some(origin) = server_of(sender) {
            servers.remove(origin);
        }
        servers.into_iter().collect()
    }

    /// The room's forward extremities: the events the next one follows.
    pub(crate) fn extremities(&self, room_id: &str) -> Result<Vec<Extremity>> {
        Ok(self
            .store
            .forward_extremities(room_id)
            .map_err(internal)?
            .into_iter()
            .map(|(event_id, depth)| Extremity { event_id, depth })
            .collect())
    }

    /// The reference hash of a stored event, in a room of `version` (none
    /// for events stored before PDUs were kept).
    pub(crate) fn reference_hash(&self, version: &str, event_id: &str) -> Option<[u8; 32]> {
        let rules = crate::federation::pdu::VersionRules::of(version)?;
        let pdu = self.store.pdu(event_id).ok().flatten()?;
        Some(rules.reference_hash(&pdu))
    }

    /// Whether the room's rules would let `sender` append this event now
    /// (`M_FORBIDDEN` with the rule's reason if not): what `make_join`
    /// checks before handing out a template.
    pub(crate) fn check_allowed(
        &self,
        room_id: &str,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: &Value,
    ) -> Result<()> {
        let version = self.room(room_id)?.version;
        let state = self.store.current_state(room_id).map_err(internal)?;
        let proposed = auth::Proposed {
            event_type,
            state_key,
            sender,
            content,
        };
        auth::authorize(&auth::RoomState::new(&version, &state), &proposed).map_err(MatrixError::forbidden)
    }

    /// Whether the rules of room `version` allow an event on the state it
    /// names as its auth events: how the state of a room joined through
    /// another server is checked, event by event, before it is stored.
    pub(crate) fn allowed_on(
        version: &str,
        auth_state: &[crate::store::StoredEvent],
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: &Value,
    ) -> std::result::Result<(), String> {
        let proposed = auth::Proposed {
            event_type,
            state_key,
            sender,
            content,
        };
        auth::authorize(&auth::RoomState::new(version, auth_state), &proposed)
    }

    /// Appends an event, built as a signed PDU of the room's version;
    /// `prebuilt` is given only for an event built before its room existed
    /// (the v12 create event, whose hash is the room ID).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_event(
        &self,
        prebuilt: Option<Built>,
        room_id: &str,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: Value,
        txn_key: Option<&str>,
    ) -> Result<String> {
        let event = Proposal {
            room_id,
            sender,
            event_type,
            state_key,
            content,
        };
        self.append(prebuilt, event, txn_key, false)
    }

    /// Appends an event another server built and signed, at its place in
    /// the room's graph (`federation::branches`): the rules must allow it
    /// on the state before it, and it is soft-failed (kept, but out of the
    /// room's state and timeline) if they do not allow it on the room's
    /// state as it stands here; an event that meets other branches makes
    /// the room's state their resolution.
    pub(crate) fn append_received(
        &self,
        built: Built,
        room_id: &str,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: Value,
    ) -> Result<String> {
        let event = Proposal {
            room_id,
            sender,
            event_type,
            state_key,
            content,
        };
        self.append(Some(built), event, None, true)
    }

    /// Appends `event` (built here unless `prebuilt`; placed in the graph
    /// if `received`) under the `appending` lock.
    fn append(
        &self,
        prebuilt: Option<Built>,
        event: Proposal<'_>,
        txn_key: Option<&str>,
        received: bool,
    ) -> Result<String> {
        let Proposal {
            room_id,
            sender,
            event_type,
            state_key,
            content,
        } = event;
        let version = self.room(room_id)?.version;
        let _appending = self.lock_appends()?;
        let proposed = auth::Proposed {
            event_type,
            state_key,
            sender,
            content: &content,
        };
        let placed = match &prebuilt {
            Some(built) if received => {
                let event = crate::store::StoredEvent {
                    stream: 0,
                    event_id: built.event_id.clone(),
                    room_id: room_id.to_owned(),
                    sender: sender.to_owned(),
                    event_type: event_type.to_owned(),
                    state_key: state_key.map(str::to_owned),
                    content: content.clone(),
                    origin_server_ts: built.pdu.get("origin_server_ts").and_then(Value::as_i64).unwrap_or(0),
                    redacted_because: None,
                };
                crate::federation::branches::place(&*self.store, &version, built, &event).map_err(internal)?
            }
            _ => None,
        };
        // The room's rules decide, whichever endpoint asked.
        let (state, soft_failed) = match &placed {
            None => {
                let state = self.store.current_state(room_id).map_err(internal)?;
                auth::authorize(&auth::RoomState::new(&version, &state), &proposed).map_err(MatrixError::forbidden)?;
                (state, false)
            }
            Some(placed) => {
                let events_of = |state| crate::federation::branches::events_of(&*self.store, state).map_err(internal);
                let before = events_of(&placed.state_before)?;
                auth::authorize(&auth::RoomState::new(&version, &before), &proposed).map_err(MatrixError::forbidden)?;
                let now = events_of(&placed.current_before)?;
                let soft_failed = auth::authorize(&auth::RoomState::new(&version, &now), &proposed).is_err();
                (now, soft_failed)
            }
        };
        let room = auth::RoomState::new(&version, &state);
        let built = match prebuilt {
            Some(built) => built,
            None => {
                let draft = Draft {
                    room_id: Some(room_id),
                    sender,
                    event_type,
                    state_key,
                    content: &content,
                    origin_server_ts: now_ms(),
                };
                let extremities = self.extremities(room_id)?;
                let auth_events = crate::federation::build::auth_event_ids(&version, &state, &draft);
                crate::federation::build::build(
                    &version,
                    &self.identity,
                    &draft,
                    &extremities,
                    &auth_events,
                    |event_id| self.reference_hash(&version, event_id),
                )
                .map_err(internal)?
            }
        };
        let event_id = built.event_id.clone();
        let origin_server_ts = built
            .pdu
            .get("origin_server_ts")
            .and_then(Value::as_i64)
            .unwrap_or_else(now_ms);
        limits::check(&limits::Parts {
            room_version: &version,
            event_id: &event_id,
            room_id,
            sender,
            event_type,
            state_key,
            content: &content,
            origin_server_ts,
        })?;
        let destinations = if built.fan_out && !soft_failed {
            self.destinations(&state, sender, event_type, state_key, &content)
        } else {
            Vec::new()
        };
        let notifications = if soft_failed {
            Vec::new()
        } else {
            self.notifications_for(
                &room,
                &state,
                &json!({ "room_id": room_id, "sender": sender, "type": event_type, "state_key": state_key,
                         "content": content }),
            )?
        };
        if soft_failed {
            tracing::info!(
                room_id,
                event_id,
                "soft-failed: the room's current state does not allow it"
            );
        }
        let (id, _) = self
            .store
            .append(NewEvent {
                event_id: &event_id,
                room_id,
                sender,
                event_type,
                state_key,
                content: &content,
                origin_server_ts,
                txn_key,
                notifications: &notifications,
                depth: built.depth,
                prev_events: &built.prev_events,
                pdu: &built.pdu,
                destinations: &destinations,
                fork: placed.as_ref().map(|placed| crate::store::Fork {
                    state_before: &placed.state_before,
                    current_after: &placed.current_after,
                }),
                soft_failed,
            })
            .map_err(internal)?;
        self.changes.notify_waiters();
        if !notifications.is_empty() {
            self.pushes.notify_waiters();
        }
        if !destinations.is_empty() {
            self.outbound.notify_one();
        }
        Ok(id)
    }

    /// A user's power level in a room and the room's power levels, as the
    /// room rules read them (room version 12 puts its creators above every
    /// level).
    fn power_level(&self, room_id: &str, user_id: &str) -> Result<(i64, RoomPowerLevelsEventContent)> {
        let version = self.room(room_id)?.version;
        let state = self.store.current_state(room_id).map_err(internal)?;
        let room = auth::RoomState::new(&version, &state);
        Ok((room.level(user_id), room.levels()))
    }

    /// Fails with `M_FORBIDDEN` unless the user's level reaches `needed(levels)`.
    fn require_level(
        &self,
        room_id: &str,
        user_id: &str,
        needed: impl Fn(&RoomPowerLevelsEventContent) -> i64,
    ) -> Result<i64> {
        let (level, levels) = self.power_level(room_id, user_id)?;
        if level >= needed(&levels) {
            Ok(level)
        } else {
            Err(MatrixError::forbidden("Insufficient power level"))
        }
    }
}

/// The level needed to send a state event of this type.
fn level_for_state(event_type: &str) -> impl Fn(&RoomPowerLevelsEventContent) -> i64 + '_ {
    move |levels| power::state_level(levels, event_type)
}

/// The operation IDs this server implements (the rest answer
/// `M_UNRECOGNIZED`): what contract tests aim at.
pub fn implemented_operations() -> Vec<&'static str> {
    vec![
        cs::get_versions::METADATA.operation_id,
        cs::get_wellknown::METADATA.operation_id,
        cs::get_capabilities::METADATA.operation_id,
        cs::get_login_flows::METADATA.operation_id,
        cs::register::METADATA.operation_id,
        cs::login::METADATA.operation_id,
        cs::logout::METADATA.operation_id,
        cs::logout_all::METADATA.operation_id,
        cs::get_token_owner::METADATA.operation_id,
        cs::change_password::METADATA.operation_id,
        cs::get_user_profile::METADATA.operation_id,
        cs::get_profile_field::METADATA.operation_id,
        cs::set_profile_field::METADATA.operation_id,
        cs::delete_profile_field::METADATA.operation_id,
        cs::create_room::METADATA.operation_id,
        cs::send_message::METADATA.operation_id,
        cs::set_room_state_with_key::METADATA.operation_id,
        cs::get_room_state_with_key::METADATA.operation_id,
        cs::get_room_state::METADATA.operation_id,
        cs::get_one_room_event::METADATA.operation_id,
        cs::redact_event::METADATA.operation_id,
        cs::get_room_events::METADATA.operation_id,
        cs::get_event_context::METADATA.operation_id,
        cs::get_members_by_room::METADATA.operation_id,
        cs::get_joined_members_by_room::METADATA.operation_id,
        cs::get_joined_rooms::METADATA.operation_id,
        cs::join_room_by_id::METADATA.operation_id,
        cs::join_room::METADATA.operation_id,
        cs::invite_user::METADATA.operation_id,
        cs::invite_by3_pid::METADATA.operation_id,
        cs::bind3_pid::METADATA.operation_id,
        cs::request_token_to3_pid_email::METADATA.operation_id,
        cs::add3_pid::METADATA.operation_id,
        cs::get_account3_pi_ds::METADATA.operation_id,
        cs::delete3pid_from_account::METADATA.operation_id,
        cs::unbind3pid_from_account::METADATA.operation_id,
        cs::request_open_id_token::METADATA.operation_id,
        cs::leave_room::METADATA.operation_id,
        cs::kick::METADATA.operation_id,
        cs::ban::METADATA.operation_id,
        cs::unban::METADATA.operation_id,
        cs::forget_room::METADATA.operation_id,
        cs::sync::METADATA.operation_id,
        cs::define_filter::METADATA.operation_id,
        cs::get_filter::METADATA.operation_id,
        cs::set_account_data::METADATA.operation_id,
        cs::get_account_data::METADATA.operation_id,
        cs::set_account_data_per_room::METADATA.operation_id,
        cs::get_account_data_per_room::METADATA.operation_id,
        cs::set_typing::METADATA.operation_id,
        cs::post_receipt::METADATA.operation_id,
        cs::set_read_marker::METADATA.operation_id,
        cs::set_room_alias::METADATA.operation_id,
        cs::get_room_id_by_alias::METADATA.operation_id,
        cs::delete_room_alias::METADATA.operation_id,
        cs::get_local_aliases::METADATA.operation_id,
        cs::get_room_visibility_on_directory::METADATA.operation_id,
        cs::set_room_visibility_on_directory::METADATA.operation_id,
        cs::get_public_rooms::METADATA.operation_id,
        cs::query_public_rooms::METADATA.operation_id,
        cs::upload_content::METADATA.operation_id,
        cs::get_content_authed::METADATA.operation_id,
        cs::get_content_override_name_authed::METADATA.operation_id,
        cs::get_config_authed::METADATA.operation_id,
        cs::get_devices::METADATA.operation_id,
        cs::get_device::METADATA.operation_id,
        cs::update_device::METADATA.operation_id,
        cs::delete_device::METADATA.operation_id,
        cs::delete_devices::METADATA.operation_id,
        cs::get_push_rules::METADATA.operation_id,
        cs::get_push_rules_global::METADATA.operation_id,
        cs::get_push_rule::METADATA.operation_id,
        cs::set_push_rule::METADATA.operation_id,
        cs::delete_push_rule::METADATA.operation_id,
        cs::is_push_rule_enabled::METADATA.operation_id,
        cs::set_push_rule_enabled::METADATA.operation_id,
        cs::get_push_rule_actions::METADATA.operation_id,
        cs::set_push_rule_actions::METADATA.operation_id,
        cs::get_notifications::METADATA.operation_id,
        cs::post_pusher::METADATA.operation_id,
        cs::ping_appservice::METADATA.operation_id,
        cs::get_pushers::METADATA.operation_id,
        cs::upload_keys::METADATA.operation_id,
        cs::query_keys::METADATA.operation_id,
        cs::claim_keys::METADATA.operation_id,
        cs::get_keys_changes::METADATA.operation_id,
        cs::upload_cross_signing_keys::METADATA.operation_id,
        cs::upload_cross_signing_signatures::METADATA.operation_id,
        cs::send_to_device::METADATA.operation_id,
        cs::get_turn_server::METADATA.operation_id,
        cs::post_room_keys_version::METADATA.operation_id,
        cs::get_room_keys_version_current::METADATA.operation_id,
        cs::get_room_keys_version::METADATA.operation_id,
        cs::put_room_keys_version::METADATA.operation_id,
        cs::delete_room_keys_version::METADATA.operation_id,
        cs::put_room_keys::METADATA.operation_id,
        cs::put_room_keys_by_room_id::METADATA.operation_id,
        cs::put_room_key_by_session_id::METADATA.operation_id,
        cs::get_room_keys::METADATA.operation_id,
        cs::get_room_keys_by_room_id::METADATA.operation_id,
        cs::get_room_key_by_session_id::METADATA.operation_id,
        cs::delete_room_keys::METADATA.operation_id,
        cs::delete_room_keys_by_room_id::METADATA.operation_id,
        cs::delete_room_key_by_session_id::METADATA.operation_id,
        cs::set_presence::METADATA.operation_id,
        cs::get_presence::METADATA.operation_id,
        cs::get_protocols::METADATA.operation_id,
        cs::get_protocol_metadata::METADATA.operation_id,
        cs::query_location_by_protocol::METADATA.operation_id,
        cs::query_user_by_protocol::METADATA.operation_id,
        cs::query_location_by_alias::METADATA.operation_id,
        cs::query_user_by_id::METADATA.operation_id,
    ]
}

/// Routes each implemented operation to its handler.
impl ClientServerApi for Homeserver {
    // Server information.
    async fn get_versions(&self, r: cs::get_versions::Request, _: Credentials) -> Result<cs::get_versions::Response> {
        server_info::versions(self, r)
    }
    async fn get_wellknown(
        &self,
        r: cs::get_wellknown::Request,
        _: Credentials,
    ) -> Result<cs::get_wellknown::Response> {
        server_info::well_known(self, r)
    }
    async fn get_capabilities(
        &self,
        r: cs::get_capabilities::Request,
        c: Credentials,
    ) -> Result<cs::get_capabilities::Response> {
        server_info::capabilities(self, r, c)
    }

    // Accounts and sessions.
    async fn get_login_flows(
        &self,
        r: cs::get_login_flows::Request,
        _: Credentials,
    ) -> Result<cs::get_login_flows::Response> {
        account::login_flows(self, r)
    }
    async fn register(&self, r: cs::register::Request, c: Credentials) -> Result<cs::register::Response> {
        account::register(self, r, c).await
    }
    async fn login(&self, r: cs::login::Request, _: Credentials) -> Result<cs::login::Response> {
        account::login(self, r).await
    }
    async fn logout(&self, r: cs::logout::Request, c: Credentials) -> Result<cs::logout::Response> {
        account::logout(self, r, c)
    }
    async fn logout_all(&self, r: cs::logout_all::Request, c: Credentials) -> Result<cs::logout_all::Response> {
        account::logout_all(self, r, c)
    }
    async fn get_token_owner(
        &self,
        r: cs::get_token_owner::Request,
        c: Credentials,
    ) -> Result<cs::get_token_owner::Response> {
        account::whoami(self, r, c)
    }
    async fn change_password(
        &self,
        r: cs::change_password::Request,
        c: Credentials,
    ) -> Result<cs::change_password::Response> {
        account::change_password(self, r, c).await
    }

    // Push rules and notifications.
    async fn get_push_rules(
        &self,
        r: cs::get_push_rules::Request,
        c: Credentials,
    ) -> Result<cs::get_push_rules::Response> {
        push::get_all(self, r, c)
    }
    async fn get_push_rules_global(
        &self,
        r: cs::get_push_rules_global::Request,
        c: Credentials,
    ) -> Result<cs::get_push_rules_global::Response> {
        push::get_global(self, r, c)
    }
    async fn get_push_rule(
        &self,
        r: cs::get_push_rule::Request,
        c: Credentials,
    ) -> Result<cs::get_push_rule::Response> {
        push::get_rule(self, r, c)
    }
    async fn set_push_rule(
        &self,
        r: cs::set_push_rule::Request,
        c: Credentials,
    ) -> Result<cs::set_push_rule::Response> {
        push::set_rule(self, r, c)
    }
    async fn delete_push_rule(
        &self,
        r: cs::delete_push_rule::Request,
        c: Credentials,
    ) -> Result<cs::delete_push_rule::Response> {
        push::delete_rule(self, r, c)
    }
    async fn is_push_rule_enabled(
        &self,
        r: cs::is_push_rule_enabled::Request,
        c: Credentials,
    ) -> Result<cs::is_push_rule_enabled::Response> {
        push::is_enabled(self, r, c)
    }
    async fn set_push_rule_enabled(
        &self,
        r: cs::set_push_rule_enabled::Request,
        c: Credentials,
    ) -> Result<cs::set_push_rule_enabled::Response> {
        push::set_enabled(self, r, c)
    }
    async fn get_push_rule_actions(
        &self,
        r: cs::get_push_rule_actions::Request,
        c: Credentials,
    ) -> Result<cs::get_push_rule_actions::Response> {
        push::get_actions(self, r, c)
    }
    async fn set_push_rule_actions(
        &self,
        r: cs::set_push_rule_actions::Request,
        c: Credentials,
    ) -> Result<cs::set_push_rule_actions::Response> {
        push::set_actions(self, r, c)
    }
    async fn get_notifications(
        &self,
        r: cs::get_notifications::Request,
        c: Credentials,
    ) -> Result<cs::get_notifications::Response> {
        push::list(self, r, c)
    }

    // End-to-end encryption.
    async fn upload_keys(&self, r: cs::upload_keys::Request, c: Credentials) -> Result<cs::upload_keys::Response> {
        keys::upload(self, r, c)
    }
    async fn query_keys(&self, r: cs::query_keys::Request, c: Credentials) -> Result<cs::query_keys::Response> {
        keys::query(self, r, c).await
    }
    async fn claim_keys(&self, r: cs::claim_keys::Request, c: Credentials) -> Result<cs::claim_keys::Response> {
        keys::claim(self, r, c).await
    }
    async fn get_keys_changes(
        &self,
        r: cs::get_keys_changes::Request,
        c: Credentials,
    ) -> Result<cs::get_keys_changes::Response> {
        keys::changes(self, r, c)
    }
    async fn upload_cross_signing_keys(
        &self,
        r: cs::upload_cross_signing_keys::Request,
        c: Credentials,
    ) -> Result<cs::upload_cross_signing_keys::Response> {
        keys::upload_cross_signing(self, r, c).await
    }
    async fn upload_cross_signing_signatures(
        &self,
        r: cs::upload_cross_signing_signatures::Request,
        c: Credentials,
    ) -> Result<cs::upload_cross_signing_signatures::Response> {
        keys::upload_signatures(self, r, c)
    }
    async fn send_to_device(
        &self,
        r: cs::send_to_device::Request,
        c: Credentials,
    ) -> Result<cs::send_to_device::Response> {
        to_device::send(self, r, c)
    }

    // Key backup.
    async fn post_room_keys_version(
        &self,
        r: cs::post_room_keys_version::Request,
        c: Credentials,
    ) -> Result<cs::post_room_keys_version::Response> {
        backup::create_version(self, r, c)
    }
    async fn get_room_keys_version_current(
        &self,
        r: cs::get_room_keys_version_current::Request,
        c: Credentials,
    ) -> Result<cs::get_room_keys_version_current::Response> {
        backup::current_version(self, r, c)
    }
    async fn get_room_keys_version(
        &self,
        r: cs::get_room_keys_version::Request,
        c: Credentials,
    ) -> Result<cs::get_room_keys_version::Response> {
        backup::get_version(self, r, c)
    }
    async fn put_room_keys_version(
        &self,
        r: cs::put_room_keys_version::Request,
        c: Credentials,
    ) -> Result<cs::put_room_keys_version::Response> {
        backup::update_version(self, r, c)
    }
    async fn delete_room_keys_version(
        &self,
        r: cs::delete_room_keys_version::Request,
        c: Credentials,
    ) -> Result<cs::delete_room_keys_version::Response> {
        backup::delete_version(self, r, c)
    }
    async fn put_room_keys(
        &self,
        r: cs::put_room_keys::Request,
        c: Credentials,
    ) -> Result<cs::put_room_keys::Response> {
        backup::put_all(self, r, c)
    }
    async fn put_room_keys_by_room_id(
        &self,
        r: cs::put_room_keys_by_room_id::Request,
        c: Credentials,
    ) -> Result<cs::put_room_keys_by_room_id::Response> {
        backup::put_room(self, r, c)
    }
    async fn put_room_key_by_session_id(
        &self,
        r: cs::put_room_key_by_session_id::Request,
        c: Credentials,
    ) -> Result<cs::put_room_key_by_session_id::Response> {
        backup::put_session(self, r, c)
    }
    async fn get_room_keys(
        &self,
        r: cs::get_room_keys::Request,
        c: Credentials,
    ) -> Result<cs::get_room_keys::Response> {
        backup::get_all(self, r, c)
    }
    async fn get_room_keys_by_room_id(
        &self,
        r: cs::get_room_keys_by_room_id::Request,
        c: Credentials,
    ) -> Result<cs::get_room_keys_by_room_id::Response> {
        backup::get_room(self, r, c)
    }
    async fn get_room_key_by_session_id(
        &self,
        r: cs::get_room_key_by_session_id::Request,
        c: Credentials,
    ) -> Result<cs::get_room_key_by_session_id::Response> {
        backup::get_session(self, r, c)
    }
    async fn delete_room_keys(
        &self,
        r: cs::delete_room_keys::Request,
        c: Credentials,
    ) -> Result<cs::delete_room_keys::Response> {
        backup::delete_all(self, r, c)
    }
    async fn delete_room_keys_by_room_id(
        &self,
        r: cs::delete_room_keys_by_room_id::Request,
        c: Credentials,
    ) -> Result<cs::delete_room_keys_by_room_id::Response> {
        backup::delete_room(self, r, c)
    }
    async fn delete_room_key_by_session_id(
        &self,
        r: cs::delete_room_key_by_session_id::Request,
        c: Credentials,
    ) -> Result<cs::delete_room_key_by_session_id::Response> {
        backup::delete_session(self, r, c)
    }

    // Presence.
    async fn set_presence(&self, r: cs::set_presence::Request, c: Credentials) -> Result<cs::set_presence::Response> {
        presence::set(self, r, c)
    }
    async fn get_presence(&self, r: cs::get_presence::Request, c: Credentials) -> Result<cs::get_presence::Response> {
        presence::get(self, r, c)
    }

    // Calls and third-party networks.
    async fn get_turn_server(
        &self,
        r: cs::get_turn_server::Request,
        c: Credentials,
    ) -> Result<cs::get_turn_server::Response> {
        voip::turn_server(self, r, c)
    }
    async fn get_protocols(
        &self,
        r: cs::get_protocols::Request,
        c: Credentials,
    ) -> Result<cs::get_protocols::Response> {
        server_info::protocols(self, r, c).await
    }
    async fn get_protocol_metadata(
        &self,
        r: cs::get_protocol_metadata::Request,
        c: Credentials,
    ) -> Result<cs::get_protocol_metadata::Response> {
        server_info::protocol(self, r, c).await
    }
    async fn query_location_by_protocol(
        &self,
        r: cs::query_location_by_protocol::Request,
        c: Credentials,
    ) -> Result<cs::query_location_by_protocol::Response> {
        server_info::locations_by_protocol(self, r, c).await
    }
    async fn query_user_by_protocol(
        &self,
        r: cs::query_user_by_protocol::Request,
        c: Credentials,
    ) -> Result<cs::query_user_by_protocol::Response> {
        server_info::users_by_protocol(self, r, c).await
    }
    async fn query_location_by_alias(
        &self,
        r: cs::query_location_by_alias::Request,
        c: Credentials,
    ) -> Result<cs::query_location_by_alias::Response> {
        server_info::locations_by_alias(self, r, c).await
    }
    async fn query_user_by_id(
        &self,
        r: cs::query_user_by_id::Request,
        c: Credentials,
    ) -> Result<cs::query_user_by_id::Response> {
        server_info::users_by_id(self, r, c).await
    }

    // Devices.
    async fn get_devices(&self, r: cs::get_devices::Request, c: Credentials) -> Result<cs::get_devices::Response> {
        devices::list(self, r, c)
    }
    async fn get_device(&self, r: cs::get_device::Request, c: Credentials) -> Result<cs::get_device::Response> {
        devices::get(self, r, c)
    }
    async fn update_device(
        &self,
        r: cs::update_device::Request,
        c: Credentials,
    ) -> Result<cs::update_device::Response> {
        devices::rename(self, r, c)
    }
    async fn delete_device(
        &self,
        r: cs::delete_device::Request,
        c: Credentials,
    ) -> Result<cs::delete_device::Response> {
        devices::delete(self, r, c).await
    }
    async fn delete_devices(
        &self,
        r: cs::delete_devices::Request,
        c: Credentials,
    ) -> Result<cs::delete_devices::Response> {
        devices::delete_many(self, r, c).await
    }

    // Profiles.
    async fn get_user_profile(
        &self,
        r: cs::get_user_profile::Request,
        c: Credentials,
    ) -> Result<cs::get_user_profile::Response> {
        profile::get_profile(self, r, c)
    }
    async fn get_profile_field(
        &self,
        r: cs::get_profile_field::Request,
        c: Credentials,
    ) -> Result<cs::get_profile_field::Response> {
        profile::get_field(self, r, c)
    }
    async fn set_profile_field(
        &self,
        r: cs::set_profile_field::Request,
        c: Credentials,
    ) -> Result<cs::set_profile_field::Response> {
        profile::set_field(self, r, c)
    }
    async fn delete_profile_field(
        &self,
        r: cs::delete_profile_field::Request,
        c: Credentials,
    ) -> Result<cs::delete_profile_field::Response> {
        profile::delete_field(self, r, c)
    }

    // Rooms, state and events.
    async fn create_room(&self, r: cs::create_room::Request, c: Credentials) -> Result<cs::create_room::Response> {
        rooms::create_room(self, r, c).await
    }
    async fn send_message(&self, r: cs::send_message::Request, c: Credentials) -> Result<cs::send_message::Response> {
        rooms::send_message(self, r, c)
    }
    async fn set_room_state_with_key(
        &self,
        r: cs::set_room_state_with_key::Request,
        c: Credentials,
    ) -> Result<cs::set_room_state_with_key::Response> {
        rooms::set_state(self, r, c)
    }
    async fn get_room_state_with_key(
        &self,
        r: cs::get_room_state_with_key::Request,
        c: Credentials,
    ) -> Result<cs::get_room_state_with_key::Response> {
        rooms::get_state_event(self, r, c)
    }
    async fn get_room_state(
        &self,
        r: cs::get_room_state::Request,
        c: Credentials,
    ) -> Result<cs::get_room_state::Response> {
        rooms::get_state(self, r, c)
    }
    async fn get_one_room_event(
        &self,
        r: cs::get_one_room_event::Request,
        c: Credentials,
    ) -> Result<cs::get_one_room_event::Response> {
        rooms::get_event(self, r, c)
    }
    async fn redact_event(&self, r: cs::redact_event::Request, c: Credentials) -> Result<cs::redact_event::Response> {
        rooms::redact(self, r, c)
    }
    async fn get_room_events(
        &self,
        r: cs::get_room_events::Request,
        c: Credentials,
    ) -> Result<cs::get_room_events::Response> {
        rooms::messages(self, r, c)
    }
    async fn get_event_context(
        &self,
        r: cs::get_event_context::Request,
        c: Credentials,
    ) -> Result<cs::get_event_context::Response> {
        rooms::context(self, r, c)
    }
    async fn get_members_by_room(
        &self,
        r: cs::get_members_by_room::Request,
        c: Credentials,
    ) -> Result<cs::get_members_by_room::Response> {
        rooms::members(self, r, c)
    }
    async fn get_joined_members_by_room(
        &self,
        r: cs::get_joined_members_by_room::Request,
        c: Credentials,
    ) -> Result<cs::get_joined_members_by_room::Response> {
        rooms::joined_members(self, r, c)
    }
    async fn get_joined_rooms(
        &self,
        r: cs::get_joined_rooms::Request,
        c: Credentials,
    ) -> Result<cs::get_joined_rooms::Response> {
        rooms::joined_rooms(self, r, c)
    }

    // Membership.
    async fn join_room_by_id(
        &self,
        r: cs::join_room_by_id::Request,
        c: Credentials,
    ) -> Result<cs::join_room_by_id::Response> {
        membership::join_by_id(self, r, c).await
    }
    async fn join_room(&self, r: cs::join_room::Request, c: Credentials) -> Result<cs::join_room::Response> {
        membership::join_by_id_or_alias(self, r, c).await
    }
    async fn request_open_id_token(
        &self,
        r: cs::request_open_id_token::Request,
        c: Credentials,
    ) -> Result<cs::request_open_id_token::Response> {
        openid::request_token(self, r, c)
    }
    async fn bind3_pid(&self, r: cs::bind3_pid::Request, c: Credentials) -> Result<cs::bind3_pid::Response> {
        let (user_id, _) = self.user(&c)?;
        let body = r.body;
        let identity = identity_server::IdentityServer::new(self, &body.id_server, &body.id_access_token)?;
        let bound = identity.bind(&body.sid, &body.client_secret, &user_id).await?;
        account_threepids::remember_binding(self, &user_id, &bound, &body.id_server)?;
        Ok(cs::bind3_pid::Response::Ok(serde_json::Map::new()))
    }
    async fn ping_appservice(
        &self,
        r: cs::ping_appservice::Request,
        c: Credentials,
    ) -> Result<cs::ping_appservice::Response> {
        crate::appservices::ping_from_client(self, r, c).await
    }
    async fn post_pusher(&self, r: cs::post_pusher::Request, c: Credentials) -> Result<cs::post_pusher::Response> {
        push::pushers::set(self, r, c)
    }
    async fn get_pushers(&self, _: cs::get_pushers::Request, c: Credentials) -> Result<cs::get_pushers::Response> {
        push::pushers::list(self, c)
    }
    async fn request_token_to3_pid_email(
        &self,
        r: cs::request_token_to3_pid_email::Request,
        _: Credentials,
    ) -> Result<cs::request_token_to3_pid_email::Response> {
        account_threepids::request_token_email(self, r).await
    }
    async fn add3_pid(&self, r: cs::add3_pid::Request, c: Credentials) -> Result<cs::add3_pid::Response> {
        account_threepids::add(self, r, c).await
    }
    async fn get_account3_pi_ds(
        &self,
        _: cs::get_account3_pi_ds::Request,
        c: Credentials,
    ) -> Result<cs::get_account3_pi_ds::Response> {
        account_threepids::list(self, c)
    }
    async fn delete3pid_from_account(
        &self,
        r: cs::delete3pid_from_account::Request,
        c: Credentials,
    ) -> Result<cs::delete3pid_from_account::Response> {
        account_threepids::delete(self, r, c).await
    }
    async fn unbind3pid_from_account(
        &self,
        r: cs::unbind3pid_from_account::Request,
        c: Credentials,
    ) -> Result<cs::unbind3pid_from_account::Response> {
        account_threepids::unbind(self, r, c).await
    }
    async fn invite_by3_pid(
        &self,
        r: cs::invite_by3_pid::Request,
        c: Credentials,
    ) -> Result<cs::invite_by3_pid::Response> {
        third_party_invites::invite(self, r, c).await
    }
    async fn invite_user(&self, r: cs::invite_user::Request, c: Credentials) -> Result<cs::invite_user::Response> {
        membership::invite(self, r, c).await
    }
    async fn leave_room(&self, r: cs::leave_room::Request, c: Credentials) -> Result<cs::leave_room::Response> {
        membership::leave(self, r, c).await
    }
    async fn kick(&self, r: cs::kick::Request, c: Credentials) -> Result<cs::kick::Response> {
        membership::kick(self, r, c)
    }
    async fn ban(&self, r: cs::ban::Request, c: Credentials) -> Result<cs::ban::Response> {
        membership::ban(self, r, c)
    }
    async fn unban(&self, r: cs::unban::Request, c: Credentials) -> Result<cs::unban::Response> {
        membership::unban(self, r, c)
    }
    async fn forget_room(&self, r: cs::forget_room::Request, c: Credentials) -> Result<cs::forget_room::Response> {
        membership::forget(self, r, c)
    }

    // Sync.
    async fn sync(&self, r: cs::sync::Request, c: Credentials) -> Result<cs::sync::Response> {
        sync::sync(self, r, c).await
    }
    async fn define_filter(
        &self,
        r: cs::define_filter::Request,
        c: Credentials,
    ) -> Result<cs::define_filter::Response> {
        user_data::define_filter(self, r, c)
    }
    async fn get_filter(&self, r: cs::get_filter::Request, c: Credentials) -> Result<cs::get_filter::Response> {
        user_data::get_filter(self, r, c)
    }

    // Account data.
    async fn set_account_data(
        &self,
        r: cs::set_account_data::Request,
        c: Credentials,
    ) -> Result<cs::set_account_data::Response> {
        user_data::set_global(self, r, c)
    }
    async fn get_account_data(
        &self,
        r: cs::get_account_data::Request,
        c: Credentials,
    ) -> Result<cs::get_account_data::Response> {
        user_data::get_global(self, r, c)
    }
    async fn set_account_data_per_room(
        &self,
        r: cs::set_account_data_per_room::Request,
        c: Credentials,
    ) -> Result<cs::set_account_data_per_room::Response> {
        user_data::set_per_room(self, r, c)
    }
    async fn get_account_data_per_room(
        &self,
        r: cs::get_account_data_per_room::Request,
        c: Credentials,
    ) -> Result<cs::get_account_data_per_room::Response> {
        user_data::get_per_room(self, r, c)
    }

    // Typing, receipts, read markers.
    async fn set_typing(&self, r: cs::set_typing::Request, c: Credentials) -> Result<cs::set_typing::Response> {
        ephemeral::set_typing(self, r, c)
    }
    async fn post_receipt(&self, r: cs::post_receipt::Request, c: Credentials) -> Result<cs::post_receipt::Response> {
        ephemeral::post_receipt(self, r, c)
    }
    async fn set_read_marker(
        &self,
        r: cs::set_read_marker::Request,
        c: Credentials,
    ) -> Result<cs::set_read_marker::Response> {
        ephemeral::set_read_marker(self, r, c)
    }

    // Room aliases and the public room directory.
    async fn set_room_alias(
        &self,
        r: cs::set_room_alias::Request,
        c: Credentials,
    ) -> Result<cs::set_room_alias::Response> {
        directory::set_alias(self, r, c)
    }
    async fn get_room_id_by_alias(
        &self,
        r: cs::get_room_id_by_alias::Request,
        _: Credentials,
    ) -> Result<cs::get_room_id_by_alias::Response> {
        directory::resolve_alias(self, r).await
    }
    async fn delete_room_alias(
        &self,
        r: cs::delete_room_alias::Request,
        c: Credentials,
    ) -> Result<cs::delete_room_alias::Response> {
        directory::delete_alias(self, r, c)
    }
    async fn get_local_aliases(
        &self,
        r: cs::get_local_aliases::Request,
        c: Credentials,
    ) -> Result<cs::get_local_aliases::Response> {
        directory::local_aliases(self, r, c)
    }
    async fn get_room_visibility_on_directory(
        &self,
        r: cs::get_room_visibility_on_directory::Request,
        _: Credentials,
    ) -> Result<cs::get_room_visibility_on_directory::Response> {
        directory::get_visibility(self, r)
    }
    async fn set_room_visibility_on_directory(
        &self,
        r: cs::set_room_visibility_on_directory::Request,
        c: Credentials,
    ) -> Result<cs::set_room_visibility_on_directory::Response> {
        directory::set_visibility(self, r, c)
    }
    async fn get_public_rooms(
        &self,
        r: cs::get_public_rooms::Request,
        _: Credentials,
    ) -> Result<cs::get_public_rooms::Response> {
        directory::public_rooms(self, r).await
    }
    async fn query_public_rooms(
        &self,
        r: cs::query_public_rooms::Request,
        c: Credentials,
    ) -> Result<cs::query_public_rooms::Response> {
        directory::search_public_rooms(self, r, c).await
    }

    // Media.
    async fn upload_content(
        &self,
        r: cs::upload_content::Request,
        c: Credentials,
    ) -> Result<cs::upload_content::Response> {
        media::upload(self, r, c).await
    }
    async fn get_content_authed(
        &self,
        r: cs::get_content_authed::Request,
        c: Credentials,
    ) -> Result<cs::get_content_authed::Response> {
        media::download(self, r, c).await
    }
    async fn get_content_override_name_authed(
        &self,
        r: cs::get_content_override_name_authed::Request,
        c: Credentials,
    ) -> Result<cs::get_content_override_name_authed::Response> {
        media::download_as(self, r, c).await
    }
    async fn get_config_authed(
        &self,
        r: cs::get_config_authed::Request,
        c: Credentials,
    ) -> Result<cs::get_config_authed::Response> {
        media::config(self, r, c)
    }
}
