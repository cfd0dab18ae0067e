//! Events other servers send (`PUT /send/{txnId}`): each PDU is checked
//! before it enters a room — the room is one this server knows, the
//! sender's server signed it (key fetched from that server), the content
//! hash holds (else only the redacted form is kept, as the spec says), its
//! previous events are known here, and the room's rules allow it on the
//! current state — then appended like a local event. One result per PDU.
//!
//! EDUs come after the PDUs (`edus`).
//!
//! Not yet: fetching missing previous events (`get_missing_events`),
//! state resolution when forks meet, and soft failure.

use super::build::Built;
use super::pdu::VersionRules;
use super::Federation;
use matrix_api::server_server::endpoints::send_transaction;
use matrix_api::server_server::{PduProcessingResult, SendTransactionResponse};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The most PDUs one transaction may carry (the spec's limit).
const MAX_PDUS: usize = 50;

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
            let (event_id, outcome) = self.receive_pdu(pdu).await;
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

    /// Checks and appends one PDU: its event ID (if it has one), and why it
    /// was refused, if it was.
    async fn receive_pdu(&self, mut pdu: Map<String, Value>) -> (Option<String>, Result<(), String>) {
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
            if hs.store.event(&event_id).map_err(|e| e.to_string())?.is_some() {
                return Ok(()); // Seen before: a retried transaction.
            }
            let sender = text(&pdu, "sender").ok_or("no sender")?;
            let sender_server = crate::api::server_of(&sender).ok_or("a sender without a server name")?;
            self.check_signed_by(&rules, &pdu, sender_server)
                .await
                .map_err(|e| e.body.error.clone())?;
            if !rules.content_hash_matches(&pdu) {
                pdu = rules.redact(&pdu);
            }
            let event_type = text(&pdu, "type").ok_or("no type")?;
            let state_key = text(&pdu, "state_key");
            let content = pdu.get("content").cloned().unwrap_or_else(|| Value::Object(Map::new()));
            let built = Built::received(event_id.clone(), pdu, false)?;
            for prev in &built.prev_events {
                if hs.store.event(prev).map_err(|e| e.to_string())?.is_none() {
                    return Err(format!("previous event {prev} is not known here"));
                }
            }
            hs.append_event(
                Some(built),
                &room_id,
                &sender,
                &event_type,
                state_key.as_deref(),
                content,
                None,
            )
            .map(|_| ())
            .map_err(|e| e.body.error.clone())
        }
        .await;
        (Some(event_id), outcome)
    }
}
