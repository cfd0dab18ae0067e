//! What end-to-end encryption needs stored: device keys, one-time and
//! fallback keys, cross-signing keys, the device-list change stream and
//! the to-device inboxes. A part of [`super::Storage`] of its own, because
//! none of it touches rooms.
//!
//! Keys are kept as the JSON they were uploaded as: they are signed, and a
//! signature covers every key of the object.

use super::StoreResult;
use serde_json::Value;
use std::collections::BTreeMap;

/// One to-device message waiting in a device's inbox.
#[derive(Clone, Debug)]
pub struct ToDevice {
    /// Side-stream position: delivered by the sync after it, deleted by the
    /// sync that starts from it.
    pub pos: i64,
    pub sender: String,
    pub event_type: String,
    pub content: Value,
}

/// One message of a `sendToDevice` request, for one device.
#[derive(Clone, Debug)]
pub struct NewToDevice {
    pub user_id: String,
    pub device_id: String,
    pub content: Value,
}

/// Why keys were refused.
#[derive(Debug, PartialEq)]
pub enum KeyConflict {
    /// A one-time key ID uploaded again with different content.
    OneTimeKeyChanged(String),
}

/// A key backup version, with what is in it.
#[derive(Clone, Debug)]
pub struct BackupVersion {
    pub version: i64,
    pub algorithm: String,
    pub auth_data: Value,
    /// Changes whenever the backed-up keys change.
    pub etag: i64,
    pub count: i64,
}

/// One backed-up session key: `(room ID, session ID, KeyBackupData)`.
pub type BackedUpKey = (String, String, Value);

/// Decides whether the `new` backup of a session replaces the `old` one.
pub type Replaces<'a> = &'a dyn Fn(&Value, &Value) -> bool;

pub trait KeyStorage {
    /// Stores what `/keys/upload` sent, in one transaction. New or changed
    /// device keys are a device-list change of the user; whether there was one.
    fn upload_keys(
        &self,
        user_id: &str,
        device_id: &str,
        device_keys: Option<&Value>,
        one_time_keys: &[(String, Value)],
        fallback_keys: &[(String, Value)],
    ) -> StoreResult<Result<bool, KeyConflict>>;
    /// Unclaimed one-time keys of a device, by algorithm.
    fn one_time_key_counts(&self, user_id: &str, device_id: &str) -> StoreResult<BTreeMap<String, i64>>;
    /// Algorithms with an unused fallback key.
    fn unused_fallback_key_types(&self, user_id: &str, device_id: &str) -> StoreResult<Vec<String>>;
    /// Device keys of a user, by device.
    fn device_keys(&self, user_id: &str) -> StoreResult<BTreeMap<String, Value>>;
    /// Replaces the stored keys of a device (new signatures on them).
    fn set_device_keys(&self, user_id: &str, device_id: &str, keys: &Value) -> StoreResult<()>;
    /// Takes one one-time key of the algorithm, else marks the fallback key
    /// used and gives it (it stays until replaced); `(key ID, key)`.
    fn claim_key(&self, user_id: &str, device_id: &str, algorithm: &str) -> StoreResult<Option<(String, Value)>>;
    /// Cross-signing keys (`master`, `self_signing`, `user_signing`).
    fn cross_signing_keys(&self, user_id: &str) -> StoreResult<BTreeMap<String, Value>>;
    /// Sets cross-signing keys, a device-list change of the user.
    fn set_cross_signing_keys(&self, user_id: &str, keys: &[(&str, Value)]) -> StoreResult<()>;
    /// Notes that a user's devices or keys changed (a user of another
    /// server, who said so over federation).
    fn note_device_list_change(&self, user_id: &str) -> StoreResult<()>;
    /// Users whose devices or keys changed after side position `after`.
    fn device_list_changes_since(&self, after: i64) -> StoreResult<Vec<String>>;
    /// Queues messages for this server's devices and, in the same
    /// transaction, the EDUs carrying the rest to other servers; a
    /// `(sender, device, txn)` seen before stores nothing.
    fn send_to_device(
        &self,
        sender: &str,
        sender_device: &str,
        txn_id: &str,
        event_type: &str,
        messages: &[NewToDevice],
        remote: &[super::OutboundEdu],
    ) -> StoreResult<()>;
    /// Deletes what a device has received up to `acknowledged`, and gives
    /// what it has not, oldest first.
    fn to_device_inbox(&self, user_id: &str, device_id: &str, acknowledged: i64) -> StoreResult<Vec<ToDevice>>;

    // Server-side key backup (`/room_keys`).
    /// A new backup version, which becomes the current one.
    fn create_backup(&self, user_id: &str, algorithm: &str, auth_data: &Value) -> StoreResult<i64>;
    /// A version of the user's (not deleted), or the current one for `None`.
    fn backup_version(&self, user_id: &str, version: Option<i64>) -> StoreResult<Option<BackupVersion>>;
    /// False when there is no such version.
    fn update_backup(&self, user_id: &str, version: i64, auth_data: &Value) -> StoreResult<bool>;
    /// Deletes a version and its keys; false when there is no such version.
    fn delete_backup(&self, user_id: &str, version: i64) -> StoreResult<bool>;
    /// Keys of a version, all or of one room or one session.
    fn backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<BackedUpKey>>;
    /// Stores keys where `replaces(old, new)` (or nothing is there yet);
    /// returns the version's new `(etag, count)`.
    fn put_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        keys: &[BackedUpKey],
        replaces: Replaces<'_>,
    ) -> StoreResult<(i64, i64)>;
    /// Deletes keys of a version (all, a room's, or one session's).
    fn delete_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<(i64, i64)>;
}
