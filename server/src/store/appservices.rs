//! What the homeserver keeps of its application services' transactions:
//! how far through the event stream each has been sent, and the
//! transaction in flight (its ID and events), which is sent again as it
//! was until the service acknowledges it: nothing lost, nothing sent twice
//! under one transaction ID, across restarts.

use super::{StoreResult, StoredEvent};

/// A transaction made and not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTransaction {
    pub txn_id: String,
    /// The stream position it covers up to.
    pub upto: i64,
    pub event_ids: Vec<String>,
}

pub trait AppServiceStorage {
    /// The stream position the service has been sent up to; a service seen
    /// for the first time starts at `start`.
    fn appservice_position(&self, id: &str, start: i64) -> StoreResult<i64>;
    fn appservice_pending(&self, id: &str) -> StoreResult<Option<PendingTransaction>>;
    /// Makes the next transaction (its ID numbered by the service's
    /// count) of `event_ids`, up to `upto`; returns it.
    fn make_appservice_transaction(&self, id: &str, upto: i64, event_ids: &[String])
        -> StoreResult<PendingTransaction>;
    /// The service acknowledged its transaction, or there was nothing of
    /// interest up to `upto`: it has been sent up to there.
    fn appservice_sent(&self, id: &str, upto: i64) -> StoreResult<()>;
    /// Up to `limit` timeline events of every room after `after`, oldest first.
    fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
}
