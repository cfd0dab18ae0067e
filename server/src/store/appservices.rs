//! What the homeserver keeps of its application services' transactions:
//! how far through the event stream (and, for a service that receives
//! ephemeral data, the side stream) each has been sent, and the
//! transaction in flight (its ID, events and ephemeral data), which is
//! sent again as it was until the service acknowledges it: nothing lost,
//! nothing sent twice under one transaction ID, across restarts.

use super::{Presence, Receipt, StoreResult, StoredEvent};

/// Where a service has been sent up to, in both streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamPositions {
    /// Rooms' timelines.
    pub events: i64,
    /// Receipts and presence.
    pub side: i64,
}

/// A transaction made and not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTransaction {
    pub txn_id: String,
    /// The stream positions it covers up to.
    pub upto: StreamPositions,
    pub event_ids: Vec<String>,
    /// Its ephemeral data, each entry a JSON object as sent (ephemeral
    /// data has no IDs to look it up by again).
    pub ephemeral: Vec<String>,
}

pub trait AppServiceStorage {
    /// The positions the service has been sent up to; a service seen for
    /// the first time starts at `start`.
    fn appservice_position(&self, id: &str, start: StreamPositions) -> StoreResult<StreamPositions>;
    fn appservice_pending(&self, id: &str) -> StoreResult<Option<PendingTransaction>>;
    /// Makes the next transaction (its ID numbered by the service's
    /// count) of `event_ids` and `ephemeral`, up to `upto`; returns it.
    fn make_appservice_transaction(
        &self,
        id: &str,
        upto: StreamPositions,
        event_ids: &[String],
        ephemeral: &[String],
    ) -> StoreResult<PendingTransaction>;
    /// The service acknowledged its transaction, or there was nothing of
    /// interest up to `upto`: it has been sent up to there.
    fn appservice_sent(&self, id: &str, upto: StreamPositions) -> StoreResult<()>;
    /// Up to `limit` timeline events of every room after `after`, oldest first.
    fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// Receipts of every room set at side positions in `(after, upto]`,
    /// with their rooms, oldest first.
    fn receipts_between(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, Receipt)>>;
    /// Presence set at side positions in `(after, upto]`, by user.
    fn presence_between(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, Presence)>>;
}
