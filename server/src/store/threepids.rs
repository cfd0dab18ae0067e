//! What the homeserver keeps of its users' third-party identifiers: the
//! sessions that validate an address (`/account/3pid/email/requestToken`,
//! then the mailed link), the addresses on each account (`/account/3pid/add`),
//! and the identity servers each was bound at (`/account/3pid/bind`), so
//! that `/account/3pid/unbind` and `/delete` know where to unbind.

use super::StoreResult;

/// A validation session (`requestToken`, then the token sent to the
/// address). The identity server keeps the same.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationSession {
    pub sid: String,
    pub client_secret: String,
    pub medium: String,
    pub address: String,
    pub token: String,
    pub send_attempt: i64,
    pub validated_ts: Option<i64>,
}

/// An address on a user's account.
#[derive(Clone, Debug, PartialEq)]
pub struct Threepid {
    pub medium: String,
    pub address: String,
    pub validated_at: i64,
    pub added_at: i64,
}

pub trait ThreepidStorage {
    /// The session of this client secret and address, made from `new` if
    /// there is none; a higher `send_attempt` is recorded. The session, and
    /// whether the token must be sent (a new session, or a new attempt).
    fn validation_session_for(&self, new: ValidationSession, now: i64) -> StoreResult<(ValidationSession, bool)>;
    fn validation_session(&self, sid: &str) -> StoreResult<Option<ValidationSession>>;
    /// Marks the session validated (the first time only); when it was.
    fn validate_session(&self, sid: &str, now: i64) -> StoreResult<Option<i64>>;

    /// Adds the address to the user's account; false when another user has
    /// it (the address is unchanged then).
    fn add_threepid(&self, user_id: &str, threepid: &Threepid) -> StoreResult<bool>;
    fn threepids(&self, user_id: &str) -> StoreResult<Vec<Threepid>>;
    /// The user whose account has the address.
    fn threepid_owner(&self, medium: &str, address: &str) -> StoreResult<Option<String>>;
    /// Removes the address from the user's account; false when not there.
    fn remove_threepid(&self, user_id: &str, medium: &str, address: &str) -> StoreResult<bool>;

    /// Notes that the user bound the address at `id_server`.
    fn add_threepid_binding(&self, user_id: &str, medium: &str, address: &str, id_server: &str) -> StoreResult<()>;
    /// The identity servers the user bound the address at.
    fn threepid_bindings(&self, user_id: &str, medium: &str, address: &str) -> StoreResult<Vec<String>>;
    fn remove_threepid_binding(&self, user_id: &str, medium: &str, address: &str, id_server: &str) -> StoreResult<()>;
}
