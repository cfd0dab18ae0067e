//! What the homeserver keeps of its users' pushers (`/pushers/set`): where
//! to send their notifications, and how far each pusher got through the
//! user's notifications, so that a restart neither loses nor repeats one.

use super::{Notification, StoreResult};
use serde_json::Value;

/// A pusher as a client set it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pusher {
    pub app_id: String,
    pub pushkey: String,
    /// `http` (or `email`, kept but not served).
    pub kind: String,
    pub app_display_name: String,
    pub device_display_name: String,
    pub profile_tag: Option<String>,
    pub lang: String,
    /// The pusher's `data`, as sent (`url`, `format`, and whatever else the
    /// app's push gateway reads).
    pub data: Value,
    /// When it was set (ms since the epoch).
    pub pushkey_ts: i64,
}

pub trait PusherStorage {
    /// Adds the user's pusher, or replaces theirs with the same app and
    /// pushkey; unless `append`, the same app and pushkey is taken from
    /// every other user. A new pusher starts after the user's newest
    /// notification.
    fn set_pusher(&self, user_id: &str, pusher: &Pusher, append: bool) -> StoreResult<()>;
    /// False when the user has no such pusher.
    fn delete_pusher(&self, user_id: &str, app_id: &str, pushkey: &str) -> StoreResult<bool>;
    fn pushers(&self, user_id: &str) -> StoreResult<Vec<Pusher>>;
    /// Every pusher, with its user and the stream position of the last
    /// notification it delivered.
    fn all_pushers(&self) -> StoreResult<Vec<(String, Pusher, i64)>>;
    /// Notes that the pusher delivered the user's notifications up to `stream`.
    fn pusher_delivered(&self, user_id: &str, app_id: &str, pushkey: &str, stream: i64) -> StoreResult<()>;
    /// Up to `limit` of the user's notifications after `after`, oldest first.
    fn notifications_after(&self, user_id: &str, after: i64, limit: i64) -> StoreResult<Vec<Notification>>;
}
