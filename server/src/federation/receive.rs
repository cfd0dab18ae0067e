//! Events other servers send (`PUT /send/{txnId}`): each PDU is checked
//! before it enters a room — the room is one this server knows, the
//! sender's server signed it (key fetched from that server), the content
//! hash holds (else only the redacted form is kept, as the spec says), its
//! previous events are known here, and the room's rules allow it on the
//! current state — then appended like a local event. One result per PDU.
//!
//! A PDU whose previous events are not known here (this server missed
//! some, say while it was unreachable) makes this server ask the origin
//! for the gap (`/get_missing_events`, from the room's forward extremities
//! here, at most `MAX_MISSING` events); each event it answers is checked
//! and appended like one sent in a transaction, oldest first, and the PDU
//! is then taken if the gap closed.
//!
//! A PDU for a room whose server ACL denies the origin is refused
//! (`acl`), whoever its sender is.
//!
//! EDUs come after the PDUs (`edus`).
//!
//! A PDU whose previous events are not the room's forward extremities
//! here (a branch built elsewhere while the servers did not hear each
//! other) is placed in the graph (`branches`): checked against the state
//! at its place, soft-failed if the room's state here does not allow it,
//! and the room's state becomes the resolution of the branches it meets.

use super::build::Built;
use super::pdu::VersionRules;
use super::Federation;
use matrix_api::server_server::endpoints::{get_missing_previous_events, send_transaction};
use matrix_api::server_server::{GetMissingPreviousEventsRequest, PduProcessingResult, SendTransactionResponse};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The most PDUs one transaction may carry (the spec's limit).
const MAX_PDUS: usize = 50;

/// The most previous events asked for to fill one gap.
const MAX_MISSING: i64 = 20;

impl Federation {
    pub(super) async fn send_transaction(
        &self,
        request: send_transaction::Request,
        credentials: Credentials,
    ) -> Result<send_transaction::Response, MatrixError> {
        let origin = super::membership::origin(&credentials)?.to_owned();
        if request.body.origin != origin {
            return Err(MatrixError::bad_json(
                "the transaction's origin is not the server that signed it",
            ));
        }
        if request.body.pdus.len() > MAX_PDUS {
            return Err(MatrixError::bad_json(format!(
                "more than {MAX_PDUS} PDUs in one transaction"
            )));
        }
        let edus = request.body.edus.unwrap_or_default();
        if edus.len() > super::edus::MAX_EDUS {
            return Err(MatrixError::bad_json(format!(
                "more than {} EDUs in one transaction",
                super::edus::MAX_EDUS
            )));
        }
        let mut results = BTreeMap::new();
        for pdu in request.body.pdus {
            let (event_id, outcome) = self.receive_pdu(&origin, pdu, true).await;
            // A PDU without an ID we can name gets no entry (there is no key for it).
            let Some(event_id) = event_id.and_then(|id| serde_json::from_value(Value::String(id)).ok()) else {
                continue;
            };
            results.insert(event_id, PduProcessingResult { error: outcome.err() });
        }
        // After the PDUs, so that a receipt may name an event of the same transaction.
        self.receive_edus(&origin, edus);
        Ok(send_transaction::Response::Ok(SendTransactionResponse::new(results)))
    }

    /// Checks and appends one PDU from `origin` (asking it for missing
    /// previous events if `fill_gaps`): its event ID (if it has one), and why
    /// it was refused, if it was.
    async fn receive_pdu(
        &self,
        origin: &str,
        pdu: Map<String, Value>,
        fill_gaps: bool,
    ) -> (Option<String>, Result<(), String>) {
        let hs = &self.hs;
        let text = |pdu: &Map<String, Value>, key: &str| pdu.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(room_id) = text(&pdu, "room_id") else {
            return (None, Err("no room_id".to_owned()));
        };
        let Ok(room) = hs.room(&room_id) else {
            return (None, Err(format!("unknown room {room_id}")));
        };
        let Some(rules) = VersionRules::of(&room.version) else {
            return (None, Err(format!("unknown room version {}", room.version)));
        };
        let Some(event_id) = rules.id_of(&pdu) else {
            return (None, Err("no event ID".to_owned()));
        };
        let outcome = async {
            self.check_acl(&room_id, origin).map_err(|e| e.body.error.clone())?;
            if hs.store.event(&event_id).map_err(|e| e.to_string())?.is_some() {
                return Ok(()); // Seen before: a retried transaction.
            }
            let pdu = self.checked_pdu(&rules, pdu).await?;
            let sender = text(&pdu, "sender").ok_or("no sender")?;
            let event_type = text(&pdu, "type").ok_or("no type")?;
            let state_key = text(&pdu, "state_key");
            let content = pdu.get("content").cloned().unwrap_or_else(|| Value::Object(Map::new()));
            let built = Built::received(event_id.clone(), pdu, false)?;
            if fill_gaps && !self.unknown_events(&built.prev_events)?.is_empty() {
                self.fill_gap(origin, &room_id, &event_id).await?;
            }
            if let Some(prev) = self.unknown_events(&built.prev_events)?.first() {
                return Err(format!("previous event {prev} is not known here"));
            }
            hs.append_received(built, &room_id, &sender, &event_type, state_key.as_deref(), content)
                .map(|_| ())
                .map_err(|e| e.body.error.clone())
        }
        .await;
        (Some(event_id), outcome)
    }

    /// The events among `ids` this server does not have.
    fn unknown_events<'a>(&self, ids: &'a [String]) -> Result<Vec<&'a String>, String> {
        let mut unknown = Vec::new();
        for id in ids {
            if self.hs.store.event(id).map_err(|e| e.to_string())?.is_none() {
                unknown.push(id);
            }
        }
        Ok(unknown)
    }

    /// Asks `origin` for the events between the room's forward extremities
    /// here and `latest`, and receives them oldest first (without asking
    /// again for their own gaps).
    async fn fill_gap(&self, origin: &str, room_id: &str, latest: &str) -> Result<(), String> {
        let extremities = self.hs.extremities(room_id).map_err(|e| e.body.error.clone())?;
        let min_depth = extremities.iter().map(|e| e.depth).min().unwrap_or(0);
        let earliest = extremities.into_iter().map(|e| e.event_id).collect();
        let mut body = GetMissingPreviousEventsRequest::new(earliest, vec![latest.to_owned()]);
        body.limit = Some(MAX_MISSING);
        body.min_depth = Some(min_depth);
        let client = self.client_for(origin).await;
        let get_missing_previous_events::Response::Ok(answer) = client
            .get_missing_previous_events(get_missing_previous_events::Request::new(room_id.to_owned(), body))
            .await
            .map_err(|e| format!("asking {origin} for missing events: {e}"))?;
        let mut events = answer.events;
        events.truncate(MAX_MISSING as usize);
        events.sort_by_key(|pdu| pdu.get("depth").and_then(Value::as_i64).unwrap_or(0));
        for pdu in events {
            if pdu.get("room_id").and_then(Value::as_str) != Some(room_id) {
                continue;
            }
            let (event_id, outcome) = Box::pin(self.receive_pdu(origin, pdu, false)).await;
            if let Err(why) = outcome {
                tracing::info!(room_id, ?event_id, "a missing event {origin} gave was refused: {why}");
            }
        }
        Ok(())
    }
}
