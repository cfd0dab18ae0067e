//! Sending application services the events they are interested in, in
//! transactions (`PUT /_matrix/app/v1/transactions/{txnId}`).
//!
//! Each service is walked through the event stream from where it was
//! last sent to. A transaction is made of the next interesting events and
//! stored (its ID, and the IDs of its events) before it is sent; it is
//! sent again, the same, until the service acknowledges it, with a delay
//! that doubles from 1 s to 10 min while it fails. So a service that is
//! down, answers 500, or a server restarted in between, gets every event
//! once, in order, under one transaction ID each.
//!
//! Interest, as the spec defines it: the event's sender or state key is a
//! user of the service's namespaces (or its sender); or the room is in its
//! room namespaces, has an alias in its alias namespaces, or has a joined
//! member of its user namespaces.

use super::AppService;
use crate::api::Homeserver;
use crate::store::StoredEvent;
use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::SendTransactionRequest;
use matrix_api::events::RoomMemberEventContent;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(600);
/// How long a service may take to acknowledge a transaction.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(30);
/// Events looked at, and at most sent, at once.
const BATCH: i64 = 100;

/// Runs for as long as the server.
pub async fn run(hs: Arc<Homeserver>) {
    let mut waiting: HashMap<String, (Instant, Duration)> = HashMap::new();
    loop {
        let changed = hs.changes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        for service in hs.appservices.all() {
            let id = service.id().to_owned();
            if service.registration.url.is_none() || waiting.get(&id).is_some_and(|(until, _)| *until > Instant::now())
            {
                continue;
            }
            match send_pending(&hs, service).await {
                Ok(()) => {
                    waiting.remove(&id);
                }
                Err(e) => {
                    let delay = waiting.get(&id).map_or(FIRST_RETRY, |(_, d)| (*d * 2).min(LAST_RETRY));
                    tracing::warn!(appservice = id, "transaction: {e}; again in {delay:?}");
                    waiting.insert(id, (Instant::now() + delay, delay));
                }
            }
        }
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(FIRST_RETRY) => {}
        }
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Sends the service its transaction in flight, then every later one,
/// until it is up to date.
async fn send_pending(hs: &Homeserver, service: &AppService) -> Result<(), String> {
    let id = service.id();
    let url = service.registration.url.clone().unwrap_or_default();
    let client = app::Client(
        matrix_api_runtime::client::Client::new(url.trim_end_matches('/'))
            .with_access_token(service.registration.hs_token.clone()),
    );
    loop {
        let pending = match hs.store.appservice_pending(id).map_err(text)? {
            Some(pending) => pending,
            None => {
                let start = hs.store.max_stream().map_err(text)?;
                let from = hs.store.appservice_position(id, start).map_err(text)?;
                let events = hs.store.events_after(from, BATCH).map_err(text)?;
                let Some(last) = events.last() else {
                    return Ok(());
                };
                let upto = last.stream;
                let interesting = interesting(hs, service, &events)?;
                if interesting.is_empty() {
                    hs.store.appservice_sent(id, upto).map_err(text)?;
                    continue;
                }
                hs.store
                    .make_appservice_transaction(id, upto, &interesting)
                    .map_err(text)?
            }
        };
        let mut events = Vec::with_capacity(pending.event_ids.len());
        for event_id in &pending.event_ids {
            // An event purged since is left out; the rest go as made.
            if let Some(event) = hs.store.event(event_id).map_err(text)? {
                events.push(crate::api::events::room_event(&event).map_err(text)?);
            }
        }
        let request: app::send_transaction::Request = serde_json::from_value(serde_json::json!({
            "path": { "txnId": pending.txn_id }, "query": {}, "headers": {}, "body": { "events": [] },
        }))
        .map_err(text)?;
        let request = app::send_transaction::Request {
            body: SendTransactionRequest::new(events),
            ..request
        };
        tokio::time::timeout(SERVICE_TIMEOUT, client.send_transaction(request))
            .await
            .map_err(|_| format!("{url} did not answer within {SERVICE_TIMEOUT:?}"))?
            .map_err(|e| format!("{url}: {e}"))?;
        hs.store.appservice_sent(id, pending.upto).map_err(text)?;
    }
}

/// The IDs of the events the service is interested in, in order.
fn interesting(hs: &Homeserver, service: &AppService, events: &[StoredEvent]) -> Result<Vec<String>, String> {
    let mut rooms: HashMap<&str, bool> = HashMap::new();
    let mut out = Vec::new();
    for event in events {
        let by_user = service.owns_user(&event.sender)
            || (event.event_type == "m.room.member"
                && event.state_key.as_deref().is_some_and(|key| service.owns_user(key)));
        let by_room = match rooms.get(event.room_id.as_str()) {
            Some(known) => *known,
            None => {
                let known = room_interests(hs, service, &event.room_id)?;
                rooms.insert(&event.room_id, known);
                known
            }
        };
        if by_user || by_room {
            out.push(event.event_id.clone());
        }
    }
    Ok(out)
}

/// Whether the room (as it is now) interests the service whatever the event.
fn room_interests(hs: &Homeserver, service: &AppService, room_id: &str) -> Result<bool, String> {
    if service.owns_room(room_id) {
        return Ok(true);
    }
    let aliases = hs.store.aliases_of(room_id).map_err(text)?;
    if aliases.iter().any(|alias| service.owns_alias(alias)) {
        return Ok(true);
    }
    let state = hs.store.current_state(room_id).map_err(text)?;
    let member_of_service = state.iter().any(|e| {
        e.event_type == "m.room.member"
            && e.state_key.as_deref().is_some_and(|user| service.owns_user(user))
            && e.content_as::<RoomMemberEventContent>()
                .is_some_and(|m| m.membership.as_str() == "join")
    });
    Ok(member_of_service)
}
