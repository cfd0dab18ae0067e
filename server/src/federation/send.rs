//! Delivering this server's PDUs to the other servers in their rooms. The
//! queue is a table written in the same transaction as each event
//! (`outbound_pdus`), so nothing acknowledged is lost if the process dies
//! before delivery; this loop sends each destination's PDUs in order, up to
//! 50 per transaction (`PUT /send/{txnId}`, the ID fixed by the queue
//! position, so a retry is the same transaction), deletes them once the
//! destination answered, and backs off a destination that did not (1 s,
//! doubling to 10 minutes), without holding up the others.

use super::Federation;
use matrix_api::server_server::endpoints::send_transaction;
use matrix_api::server_server::SendTransactionRequest;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The most PDUs one transaction carries (the spec's limit).
const BATCH: i64 = 50;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(600);
/// How often the queue is looked at without being woken.
const IDLE: Duration = Duration::from_secs(30);

/// A destination that failed: when to try again, and the delay after that.
struct Backoff {
    until: Instant,
    next: Duration,
}

/// Sends queued PDUs until the process ends; `wake` is notified whenever
/// PDUs are queued.
pub async fn deliver(federation: Arc<Federation>, wake: Arc<Notify>) {
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    loop {
        let mut sleep = IDLE;
        let destinations = federation.hs.store.outbound_destinations().unwrap_or_default();
        for destination in destinations {
            let now = Instant::now();
            if let Some(b) = backoff.get(&destination).filter(|b| b.until > now) {
                sleep = sleep.min(b.until - now);
                continue;
            }
            match send_batch(&federation, &destination).await {
                Ok(more) => {
                    backoff.remove(&destination);
                    if more {
                        sleep = Duration::ZERO;
                    }
                }
                Err(why) => {
                    let next = backoff.get(&destination).map_or(FIRST_RETRY, |b| b.next);
                    tracing::warn!(%destination, retry_in = ?next, "federation delivery failed: {why}");
                    backoff.insert(
                        destination,
                        Backoff {
                            until: now + next,
                            next: (next * 2).min(LAST_RETRY),
                        },
                    );
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
    let pdus = batch.into_iter().map(|(_, pdu)| pdu).collect::<Vec<_>>();
    let full = pdus.len() as i64 == BATCH;
    let body = SendTransactionRequest::new(federation.identity.server_name.clone(), crate::api::now_ms(), pdus);
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
