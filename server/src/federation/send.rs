//! Delivering this server's PDUs to the other servers in their rooms. The
//! queue is a table written in the same transaction as each event
//! (`outbound_pdus`), so nothing acknowledged is lost if the process dies
//! before delivery; this loop sends each destination's PDUs in order, up to
//! 50 per transaction (`PUT /send/{txnId}`, the ID fixed by the queue
//! position, so a retry is the same transaction), deletes them once the
//! destination answered, and backs off a destination that did not (1 s,
//! doubling to 10 minutes), without holding up the others.
//!
//! To-device messages (`m.direct_to_device` EDUs) must not be lost: they
//! wait in the same table, in order with the PDUs, and a batch of at most
//! 50 entries stays within both the PDU and the EDU limit of a transaction.
//!
//! Other EDUs (typing, public read receipts) are ephemeral: they wait in memory
//! (`EduQueue`, at most `MAX_QUEUED_EDUS` per destination, the oldest
//! dropped first) and travel in transactions of their own, so that a
//! retried PDU transaction is always the same one.

use super::edus::MAX_EDUS;
use super::Federation;
use crate::retry::{Backoff, IDLE};
use crate::signals::Signal;
use crate::store::Outbound;
use matrix_api::server_server::endpoints::send_transaction;
use matrix_api::server_server::{Edu, SendTransactionRequest};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most PDUs one transaction carries (the spec's limit).
const BATCH: i64 = 50;

/// EDUs kept for an unreachable destination at most: typing and receipts
/// are superseded quickly, so older ones are worth little.
const MAX_QUEUED_EDUS: usize = 1000;

/// EDUs waiting for their destinations, in the order they were queued.
#[derive(Default)]
pub struct EduQueue {
    waiting: Mutex<BTreeMap<String, VecDeque<Edu>>>,
    /// Numbers the EDU transactions of this process.
    sent: AtomicU64,
    /// When this process started: with `sent`, a transaction ID no earlier
    /// process used.
    started_ms: i64,
}

impl EduQueue {
    pub fn new() -> EduQueue {
        EduQueue {
            started_ms: crate::api::now_ms(),
            ..EduQueue::default()
        }
    }

    /// Queues `edu` for each destination.
    pub fn push(&self, destinations: &BTreeSet<String>, edu: &Edu) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for destination in destinations {
            let queue = waiting.entry(destination.clone()).or_default();
            if queue.len() == MAX_QUEUED_EDUS {
                queue.pop_front();
            }
            queue.push_back(edu.clone());
        }
    }

    fn destinations(&self) -> Vec<String> {
        let waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        waiting.keys().cloned().collect()
    }

    /// Takes up to a transaction's worth of `destination`'s EDUs.
    fn take(&self, destination: &str) -> Vec<Edu> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(queue) = waiting.get_mut(destination) else {
            return Vec::new();
        };
        let taken = queue.drain(..queue.len().min(MAX_EDUS)).collect();
        if queue.is_empty() {
            waiting.remove(destination);
        }
        taken
    }

    /// Puts EDUs that could not be delivered back in front of newer ones.
    fn put_back(&self, destination: &str, edus: Vec<Edu>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let queue = waiting.entry(destination.to_owned()).or_default();
        for edu in edus.into_iter().rev() {
            queue.push_front(edu);
        }
        queue.truncate(MAX_QUEUED_EDUS);
    }

    fn next_txn_id(&self) -> String {
        format!("edu.{}.{}", self.started_ms, self.sent.fetch_add(1, Ordering::Relaxed))
    }
}

/// Sends queued PDUs and EDUs until the process ends; `wake` is notified
/// whenever either is queued.
pub async fn deliver(federation: Arc<Federation>, wake: Arc<Signal>) {
    let mut backoff: Backoff<String> = Backoff::default();
    loop {
        let mut sleep = IDLE;
        // The stored queue is sent by one process of those on the database;
        // each sends the EDUs it holds in memory itself.
        let stored = federation.hs.is_sending();
        let mut destinations: BTreeSet<String> = match stored {
            true => federation
                .hs
                .store
                .outbound_destinations()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            false => BTreeSet::new(),
        };
        destinations.extend(federation.hs.outbound_edus.destinations());
        for destination in destinations {
            if let Some(wait) = backoff.wait(&destination) {
                sleep = sleep.min(wait);
                continue;
            }
            let batch = match stored {
                true => send_batch(&federation, &destination).await,
                false => Ok(false),
            };
            let sent = match batch {
                Ok(more) => send_edus(&federation, &destination)
                    .await
                    .map(|more_edus| more || more_edus),
                failed => failed,
            };
            match sent {
                Ok(more) => {
                    backoff.succeeded(&destination);
                    if more {
                        sleep = Duration::ZERO;
                    }
                }
                Err(why) => {
                    let next = backoff.failed(destination.clone());
                    tracing::warn!(%destination, retry_in = ?next, "federation delivery failed: {why}");
                    sleep = sleep.min(next);
                }
            }
        }
        if sleep > Duration::ZERO {
            let _ = tokio::time::timeout(sleep, wake.notified()).await;
        }
    }
}

/// Sends the oldest queued PDUs of `destination` in one transaction;
/// whether more are waiting.
async fn send_batch(federation: &Federation, destination: &str) -> Result<bool, String> {
    let batch = federation
        .hs
        .store
        .outbound_batch(destination, BATCH)
        .map_err(|e| e.to_string())?;
    let (Some((first, _)), Some((last, _))) = (batch.first(), batch.last()) else {
        return Ok(false);
    };
    let (txn_id, upto) = (first.to_string(), *last);
    let full = batch.len() as i64 == BATCH;
    let (mut pdus, mut edus) = (Vec::new(), Vec::new());
    for (_, item) in batch {
        match item {
            Outbound::Pdu(pdu) => pdus.push(pdu),
            // What a queued EDU should be was checked when it was queued;
            // one that no longer reads as one is dropped with the batch.
            Outbound::Edu(edu) => match serde_json::from_value::<Edu>(edu) {
                Ok(edu) => edus.push(edu),
                Err(e) => tracing::warn!(%destination, "a queued EDU is unreadable, dropped: {e}"),
            },
        }
    }
    let mut body = SendTransactionRequest::new(federation.identity.server_name.clone(), crate::api::now_ms(), pdus);
    body.edus = (!edus.is_empty()).then_some(edus);
    let client = federation.client_for(destination).await;
    // Any answer of the destination's settles the transaction: per-PDU
    // errors are its verdict on each event, not a reason to send it again.
    client
        .send_transaction(send_transaction::Request::new(txn_id, body))
        .await
        .map_err(|e| e.to_string())?;
    federation
        .hs
        .store
        .outbound_delivered(destination, upto)
        .map_err(|e| e.to_string())?;
    Ok(full)
}

/// Sends up to a transaction's worth of `destination`'s queued EDUs; whether
/// more are waiting. Undelivered EDUs go back to the queue.
async fn send_edus(federation: &Federation, destination: &str) -> Result<bool, String> {
    let queue = &federation.hs.outbound_edus;
    let edus = queue.take(destination);
    if edus.is_empty() {
        return Ok(false);
    }
    let full = edus.len() == MAX_EDUS;
    let mut body = SendTransactionRequest::new(
        federation.identity.server_name.clone(),
        crate::api::now_ms(),
        Vec::new(),
    );
    body.edus = Some(edus.clone());
    let client = federation.client_for(destination).await;
    let request = send_transaction::Request::new(queue.next_txn_id(), body);
    match client.send_transaction(request).await {
        Ok(_) => Ok(full),
        Err(e) => {
            queue.put_back(destination, edus);
            Err(e.to_string())
        }
    }
}
