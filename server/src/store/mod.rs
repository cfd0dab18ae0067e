//! Storage: a narrow trait (what the homeserver needs, nothing SQL-shaped),
//! and its implementation on SQL, over SQLite or PostgreSQL (`sql`).

mod appservices;
mod keys;
mod pushers;
pub mod sql;
mod threepids;

pub use appservices::{AppServiceStorage, PendingTransaction, StreamPositions};
pub use keys::{BackedUpKey, BackupVersion, KeyConflict, KeyStorage, NewToDevice, Replaces, ToDevice};
pub use pushers::{Pusher, PusherStorage};
pub use sql::{is_postgres_url, SqlStore};
pub use threepids::{Threepid, ThreepidStorage, ValidationSession};

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A room's state by event ID: `(type, state_key)` → the event.
pub type StateIds = BTreeMap<(String, String), String>;

/// One stored event.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// Position in the server's single event stream.
    pub stream: i64,
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub origin_server_ts: i64,
    /// The redaction event (as clients see it) once this event was redacted.
    pub redacted_because: Option<Value>,
}

/// A new event to append.
pub struct NewEvent<'a> {
    pub event_id: &'a str,
    pub room_id: &'a str,
    pub sender: &'a str,
    pub event_type: &'a str,
    pub state_key: Option<&'a str>,
    pub content: &'a Value,
    pub origin_server_ts: i64,
    /// `user:device:txn` for transaction-ID idempotency.
    pub txn_key: Option<&'a str>,
    /// Its depth in the room's event graph.
    pub depth: i64,
    /// The events it follows: the room's forward extremities it replaces.
    pub prev_events: &'a [String],
    /// The signed PDU, as other servers are sent it.
    pub pdu: &'a Map<String, Value>,
    /// The servers the PDU is to be sent to, queued in the same
    /// transaction (so an acknowledged event is never left unsent).
    pub destinations: &'a [String],
    /// What the members' push rules made of the event, stored with it so
    /// that an acknowledged event never lacks its notifications.
    pub notifications: &'a [NewNotification],
    /// For an event received on a branch of the room's graph other than
    /// the room's current state: the state before it, and the room's state
    /// once it joins the others. `None` for an event after the current state.
    pub fork: Option<Fork<'a>>,
    /// Kept, but out of the room's state, extremities and timeline: the
    /// event passed the rules at its place in the graph but not on the
    /// room's current state ("soft failure").
    pub soft_failed: bool,
}

/// Where a received event's branch meets the room's state.
#[derive(Clone, Copy, Debug)]
pub struct Fork<'a> {
    pub state_before: &'a StateIds,
    pub current_after: &'a StateIds,
}

/// What waits in a destination's queue: a PDU, or an EDU that must reach
/// it even if this process dies first (to-device messages).
#[derive(Clone, Debug, PartialEq)]
pub enum Outbound {
    Pdu(Map<String, Value>),
    Edu(Value),
}

/// An EDU queued for another server with what caused it.
#[derive(Clone, Debug)]
pub struct OutboundEdu {
    pub destination: String,
    pub edu: Value,
}

/// A notification for one user, as the push rules decided it.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub user_id: String,
    /// The matching rule's actions (`notify`, tweaks).
    pub actions: Value,
    pub highlight: bool,
}

/// A stored notification, with the event it is about.
#[derive(Clone, Debug)]
pub struct Notification {
    pub stream: i64,
    pub room_id: String,
    pub event_id: String,
    pub actions: Value,
    pub highlight: bool,
    pub ts: i64,
}

/// A user's presence as last set.
#[derive(Clone, Debug, PartialEq)]
pub struct Presence {
    /// `online`, `unavailable` or `offline`.
    pub state: String,
    pub status_msg: Option<String>,
    /// When the state was last set (ms since the epoch).
    pub last_active_ts: i64,
}

/// One of a user's devices (a login), which its access tokens belong to.
#[derive(Clone, Debug)]
pub struct Device {
    pub device_id: String,
    pub display_name: Option<String>,
    /// When a token for it was last issued.
    pub last_seen_ts: Option<i64>,
}

/// A room's creator and version.
#[derive(Clone, Debug)]
pub struct RoomInfo {
    pub creator: String,
    pub version: String,
}

/// One read receipt.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub user_id: String,
    pub receipt_type: String,
    /// Empty for an unthreaded receipt.
    pub thread_id: String,
    pub event_id: String,
    pub ts: i64,
}

/// What is known of an uploaded file (its bytes live on disk).
#[derive(Clone, Debug)]
pub struct MediaInfo {
    pub uploader: String,
    pub content_type: Option<String>,
    pub filename: Option<String>,
    pub size: i64,
}

/// One account data entry; `room_id` is empty for global account data.
#[derive(Clone, Debug)]
pub struct AccountData {
    pub room_id: String,
    pub data_type: String,
    pub content: Value,
}

/// Another server's verify key, as it published it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerKey {
    /// The public key, unpadded base64.
    pub key: String,
    /// Until when it may be used to check signatures (ms since the epoch).
    pub valid_until_ts: i64,
}

pub type StoreResult<T> = Result<T, String>;

/// Something held until dropped (a lock).
pub type Held = Box<dyn Send>;

/// What the homeserver stores.
///
/// Two stream positions order everything a `/sync` can return: the event
/// stream (rooms' timelines) and the side stream (account data, receipts).
pub trait Storage: KeyStorage + ThreepidStorage + PusherStorage + AppServiceStorage + Send + Sync + 'static {
    /// Returns once everything written before the call is on disk; every
    /// answer waits for it (`crate::durable`), so that nothing reported
    /// to a client or a server is lost, even by a machine losing power.
    fn wait_durable(&self) -> StoreResult<()>;

    // Several processes on one database (PostgreSQL; SQLite has one).
    /// Holds, until the returned value is dropped, the lock under which an
    /// event is checked against its room's state and appended, across every
    /// process (within one, the homeserver's mutex is taken first).
    fn lock_appends(&self) -> StoreResult<Held>;
    /// Whether this process is the one that sends the stored queues (PDUs,
    /// pushes, application-service transactions): it is, or it becomes it
    /// now if no live process is. Asked again, it says whether it still is.
    fn claim_senders(&self) -> StoreResult<bool>;
    /// Tells the other processes `signal` (one line, see [`sql::EVERYTHING`]).
    fn publish(&self, signal: &str);
    /// The other processes' signals (none with only one process).
    fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>>;

    // Users, passwords, tokens.
    fn create_user(&self, user_id: &str, password_hash: &str) -> StoreResult<bool>;
    fn user_exists(&self, user_id: &str) -> StoreResult<bool>;
    fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()>;
    /// Issues a token for a device, creating the device when it is new
    /// (named `display_name`) and noting when it was seen.
    fn add_token(&self, token: &str, user_id: &str, device: &Device) -> StoreResult<()>;
    fn token_owner(&self, token: &str) -> StoreResult<Option<(String, String)>>;
    /// An OpenID token (for other services to learn who a user is) that
    /// holds until `expires_ts`.
    fn add_openid_token(&self, token: &str, user_id: &str, expires_ts: i64) -> StoreResult<()>;
    /// The user of an OpenID token that still holds at `now_ts`.
    fn openid_token_owner(&self, token: &str, now_ts: i64) -> StoreResult<Option<String>>;

    // User-interactive authentication sessions: stored so that any process
    // of several on one database can take the next step.
    /// Stores a session for `user_id`'s `operation`, issued at `now_ts`;
    /// sessions issued before `expired_before` go.
    fn add_uia_session(
        &self,
        session: &str,
        user_id: &str,
        operation: &str,
        now_ts: i64,
        expired_before: i64,
    ) -> StoreResult<()>;
    /// Removes a session and says whose it was: `(user, operation, issued_ts)`.
    fn take_uia_session(&self, session: &str) -> StoreResult<Option<(String, String, i64)>>;

    // Devices.
    fn devices(&self, user_id: &str) -> StoreResult<Vec<Device>>;
    /// False when the user has no such device.
    fn set_device_name(&self, user_id: &str, device_id: &str, name: Option<&str>) -> StoreResult<bool>;
    /// Deletes the devices and every access token of theirs, atomically.
    fn delete_devices(&self, user_id: &str, device_ids: &[String]) -> StoreResult<()>;

    // Profiles: one JSON value per field.
    fn profile(&self, user_id: &str) -> StoreResult<Map<String, Value>>;
    /// Sets (`Some`) or removes (`None`) one profile field.
    fn set_profile_field(&self, user_id: &str, key: &str, value: Option<&Value>) -> StoreResult<()>;

    // Rooms and events.
    fn create_room(&self, room_id: &str, creator: &str, version: &str) -> StoreResult<()>;
    fn room_info(&self, room_id: &str) -> StoreResult<Option<RoomInfo>>;
    /// Appends an event (and updates current state for state events).
    /// With a `txn_key` seen before, returns the earlier event's ID instead.
    fn append(&self, event: NewEvent<'_>) -> StoreResult<(String, i64)>;
    /// Stores a room this server joins through another one, in one
    /// transaction: the room, the events of its state and auth chain as
    /// received (in the order given, the last of each state key becoming
    /// the room's state; none a forward extremity), then the join, whose
    /// stream position is returned. What `record_outside_room` kept of the
    /// room is replaced. Fails if the room is known already.
    fn import_room(
        &self,
        room_id: &str,
        room: &RoomInfo,
        events: &[NewEvent<'_>],
        join: NewEvent<'_>,
    ) -> StoreResult<i64>;
    /// Records events of a room this server is not in (an invite of one of
    /// its users, with the room's stripped state; the rejection of one), in
    /// one transaction: they count as the room's state for the users they
    /// concern, and give way to the real state if the room is joined
    /// (`import_room`). Events stored before are kept as they are.
    fn record_outside_room(&self, events: &[NewEvent<'_>]) -> StoreResult<i64>;
    fn event(&self, event_id: &str) -> StoreResult<Option<StoredEvent>>;
    /// The PDU of an event (none for events stored before PDUs were kept).
    fn pdu(&self, event_id: &str) -> StoreResult<Option<Map<String, Value>>>;
    /// The room's state after an event of its graph (none for events
    /// outside it, and for events stored before the state at each event was kept).
    fn state_after(&self, event_id: &str) -> StoreResult<Option<StateIds>>;
    /// The room's forward extremities, `(event ID, depth)`: the events the
    /// next one follows.
    fn forward_extremities(&self, room_id: &str) -> StoreResult<Vec<(String, i64)>>;
    /// The servers with PDUs (or durable EDUs) waiting to be sent to them.
    fn outbound_destinations(&self) -> StoreResult<Vec<String>>;
    /// Up to `limit` PDUs and durable EDUs waiting for `destination`,
    /// oldest first, with their queue positions.
    fn outbound_batch(&self, destination: &str, limit: i64) -> StoreResult<Vec<(i64, Outbound)>>;
    /// Drops `destination`'s queue up to position `upto`: delivered.
    fn outbound_delivered(&self, destination: &str, upto: i64) -> StoreResult<()>;

    // Other servers' signing keys.
    fn server_key(&self, server_name: &str, key_id: &str) -> StoreResult<Option<ServerKey>>;
    /// Stores a key as last published (replacing what was stored under its ID).
    fn set_server_key(&self, server_name: &str, key_id: &str, key: &ServerKey) -> StoreResult<()>;
    /// A server's last key answer as it signed it, with its validity.
    fn server_key_answer(&self, server_name: &str) -> StoreResult<Option<(Value, i64)>>;
    fn set_server_key_answer(&self, server_name: &str, answer: &Value, valid_until_ts: i64) -> StoreResult<()>;
    /// Replaces an event's content (and PDU) by its redacted form and records why.
    fn redact(
        &self,
        event_id: &str,
        redacted_content: &Value,
        redacted_pdu: Option<&Map<String, Value>>,
        because: &Value,
    ) -> StoreResult<()>;
    fn state_event(&self, room_id: &str, event_type: &str, state_key: &str) -> StoreResult<Option<StoredEvent>>;
    fn current_state(&self, room_id: &str) -> StoreResult<Vec<StoredEvent>>;
    fn membership(&self, room_id: &str, user_id: &str) -> StoreResult<Option<String>>;
    /// Every room the user has a membership in, with that membership.
    fn rooms_of(&self, user_id: &str) -> StoreResult<Vec<(String, String)>>;
    /// Events of a room with stream positions in `(after, upto]`, oldest first.
    fn events_between(&self, room_id: &str, after: i64, upto: i64) -> StoreResult<Vec<StoredEvent>>;
    /// Up to `limit` events of a room before `before` (exclusive), newest first.
    fn events_before(&self, room_id: &str, before: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    fn max_stream(&self) -> StoreResult<i64>;
    fn forget(&self, user_id: &str, room_id: &str) -> StoreResult<()>;
    fn unforget(&self, user_id: &str, room_id: &str) -> StoreResult<()>;
    fn forgotten(&self, user_id: &str, room_id: &str) -> StoreResult<bool>;

    // Side stream: account data and receipts.
    fn max_side_stream(&self) -> StoreResult<i64>;
    fn set_account_data(&self, user_id: &str, room_id: &str, data_type: &str, content: &Value) -> StoreResult<()>;
    fn account_data(&self, user_id: &str, room_id: &str, data_type: &str) -> StoreResult<Option<Value>>;
    /// The user's account data changed after side position `after`.
    fn account_data_since(&self, user_id: &str, after: i64) -> StoreResult<Vec<AccountData>>;
    fn set_receipt(&self, room_id: &str, receipt: &Receipt) -> StoreResult<()>;
    /// Receipts of a room changed after side position `after`.
    fn receipts_since(&self, room_id: &str, after: i64) -> StoreResult<Vec<Receipt>>;

    // Notifications (written by `append`).
    /// The user's notifications, newest first, before stream `before`.
    fn notifications(
        &self,
        user_id: &str,
        before: Option<i64>,
        limit: i64,
        highlights_only: bool,
    ) -> StoreResult<Vec<Notification>>;
    /// `(notifications, highlights)` of a room after stream position `after`.
    fn notification_counts(&self, user_id: &str, room_id: &str, after: i64) -> StoreResult<(i64, i64)>;

    // Presence (on the side stream).
    fn set_presence(&self, user_id: &str, presence: &Presence) -> StoreResult<()>;
    fn presence(&self, user_id: &str) -> StoreResult<Option<Presence>>;
    /// Presence set after side position `after`, by user.
    fn presence_since(&self, after: i64) -> StoreResult<Vec<(String, Presence)>>;

    // Filters.
    fn add_filter(&self, user_id: &str, definition: &Value) -> StoreResult<i64>;
    fn filter(&self, user_id: &str, filter_id: i64) -> StoreResult<Option<Value>>;

    // Room directory.
    /// False when the alias exists already.
    fn add_alias(&self, alias: &str, room_id: &str, creator: &str) -> StoreResult<bool>;
    /// The room and the user who created the alias.
    fn alias(&self, alias: &str) -> StoreResult<Option<(String, String)>>;
    fn delete_alias(&self, alias: &str) -> StoreResult<()>;
    fn aliases_of(&self, room_id: &str) -> StoreResult<Vec<String>>;
    fn set_published(&self, room_id: &str, published: bool) -> StoreResult<()>;
    fn published_rooms(&self) -> StoreResult<Vec<String>>;

    // Media metadata.
    fn add_media(&self, media_id: &str, info: &MediaInfo) -> StoreResult<()>;
    fn media(&self, media_id: &str) -> StoreResult<Option<MediaInfo>>;
}
