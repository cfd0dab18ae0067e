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
//!
//! A service registered with `receive_ephemeral` is also sent, in the same
//! transactions, the typing notifications and public read receipts of the
//! rooms it is interested in (each with its `room_id`, as the spec asks),
//! and the presence of its users and of the members of those rooms. Each
//! transaction's ephemeral data is stored with it, so a retry sends the
//! same. Typing is kept in memory only, and so is how far each service
//! has been sent it: after a restart, only new typing is sent.

use super::AppService;
use crate::api::ephemeral::{receipts_content, typing_content};
use crate::api::Homeserver;
use crate::retry::{Backoff, IDLE};
use crate::store::{PendingTransaction, Receipt, StoredEvent, StreamPositions};
use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::SendTransactionRequest;
use matrix_api::events::{PresenceEvent, ReceiptEvent, ReceiptEventType, RoomMemberEventContent, TypingEvent};
use matrix_api::Raw;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long a service may take to acknowledge a transaction.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(30);
/// Events looked at, and at most sent, at once.
const BATCH: i64 = 100;

/// Runs for as long as the server.
pub async fn run(hs: Arc<Homeserver>) {
    // Services come from the registration files read at start-up: a server
    // without any has nothing to watch the streams for.
    if hs.appservices.all().iter().all(|service| service.client().is_none()) {
        return;
    }
    let mut backoff: Backoff<String> = Backoff::default();
    // Per service: the typing serial it has been sent up to.
    let mut typing_sent: HashMap<String, i64> = HashMap::new();
    // Per service: the streams as they were when it was last up to date,
    // so that a change elsewhere (a sync, a login) costs it nothing.
    let mut up_to_date: HashMap<String, (i64, i64, i64)> = HashMap::new();
    loop {
        let changed = hs.changes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !hs.is_sending() {
            // Another process on the database sends the transactions.
            changed.await;
            continue;
        }
        let streams = (
            hs.store.max_stream().unwrap_or(i64::MAX),
            hs.store.max_side_stream().unwrap_or(i64::MAX),
            hs.typing.serial(),
        );
        for service in hs.appservices.all() {
            let id = service.id().to_owned();
            if service.client().is_none() || backoff.wait(&id).is_some() || up_to_date.get(&id) == Some(&streams) {
                continue;
            }
            let typing = typing_sent.entry(id.clone()).or_insert(0);
            match send_pending(&hs, service, typing).await {
                Ok(()) => {
                    backoff.succeeded(&id);
                    up_to_date.insert(id, streams);
                }
                Err(e) => {
                    let delay = backoff.failed(id.clone());
                    tracing::warn!(appservice = id, "transaction: {e}; again in {delay:?}");
                }
            }
        }
        tokio::select! {
            _ = changed => {}
            // A service may have to be told that someone stopped typing.
            _ = tokio::time::sleep(backoff.soonest().into_iter().chain(hs.typing.next_expiry()).min().unwrap_or(IDLE)) => {}
        }
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Sends the service its transaction in flight, then every later one,
/// until it is up to date.
async fn send_pending(hs: &Homeserver, service: &AppService, typing_sent: &mut i64) -> Result<(), String> {
    let id = service.id();
    let Some(client) = service.client() else {
        return Ok(());
    };
    loop {
        let pending = match hs.store.appservice_pending(id).map_err(text)? {
            Some(pending) => pending,
            None => match next_transaction(hs, service, typing_sent)? {
                Some(made) => made,
                None => return Ok(()),
            },
        };
        let request = app::send_transaction::Request::new(pending.txn_id.clone(), body(hs, &pending)?);
        tokio::time::timeout(SERVICE_TIMEOUT, client.send_transaction(request))
            .await
            .map_err(|_| format!("{} did not answer within {SERVICE_TIMEOUT:?}", client.0.base_url()))?
            .map_err(|e| format!("{}: {e}", client.0.base_url()))?;
        hs.store.appservice_sent(id, pending.upto).map_err(text)?;
    }
}

/// The body of a transaction as it was made.
fn body(hs: &Homeserver, pending: &PendingTransaction) -> Result<SendTransactionRequest, String> {
    let mut events = Vec::with_capacity(pending.event_ids.len());
    for event_id in &pending.event_ids {
        // An event purged since is left out; the rest go as made.
        if let Some(event) = hs.store.event(event_id).map_err(text)? {
            events.push(crate::api::events::room_event(&event).map_err(text)?);
        }
    }
    let ephemeral: Vec<Raw<_>> = pending
        .ephemeral
        .iter()
        .map(|json| Raw::from_json_string(json.clone()))
        .collect::<Result<_, _>>()
        .map_err(text)?;
    Ok(SendTransactionRequest {
        // The spec lets an empty list be left out.
        ephemeral: (!ephemeral.is_empty()).then_some(ephemeral),
        ..SendTransactionRequest::new(events)
    })
}

/// Makes and stores the service's next transaction: the events after
/// where it was sent up to that interest it, and (if it asked for them)
/// the ephemeral data since; `None` when there is nothing to send.
fn next_transaction(
    hs: &Homeserver,
    service: &AppService,
    typing_sent: &mut i64,
) -> Result<Option<PendingTransaction>, String> {
    let id = service.id();
    loop {
        let now = StreamPositions {
            events: hs.store.max_stream().map_err(text)?,
            side: hs.store.max_side_stream().map_err(text)?,
        };
        let from = hs.store.appservice_position(id, now).map_err(text)?;
        let events = hs.store.events_after(from.events, BATCH).map_err(text)?;
        let upto = StreamPositions {
            events: events.last().map_or(from.events, |e| e.stream),
            side: now.side,
        };
        let mut interest = Interest::new(hs, service);
        let event_ids = interest.events(&events)?;
        let (ephemeral, typing_now) = if service.receives_ephemeral() {
            interest.ephemeral(from.side, now.side, *typing_sent)?
        } else {
            (Vec::new(), *typing_sent)
        };
        if event_ids.is_empty() && ephemeral.is_empty() {
            *typing_sent = typing_now;
            if upto != from {
                hs.store.appservice_sent(id, upto).map_err(text)?;
            }
            if events.len() as i64 == BATCH {
                continue;
            }
            return Ok(None);
        }
        let made = hs
            .store
            .make_appservice_transaction(id, upto, &event_ids, &ephemeral)
            .map_err(text)?;
        *typing_sent = typing_now;
        return Ok(Some(made));
    }
}

/// A room-scoped ephemeral event, with the `room_id` the application
/// service API adds to it.
#[derive(Serialize)]
struct InRoom<'a, E> {
    #[serde(flatten)]
    event: E,
    room_id: &'a str,
}

fn json(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(text)
}

/// What interests one service, with the rooms it looked at remembered.
struct Interest<'a> {
    hs: &'a Homeserver,
    service: &'a AppService,
    rooms: HashMap<String, bool>,
}

impl<'a> Interest<'a> {
    fn new(hs: &'a Homeserver, service: &'a AppService) -> Self {
        Interest {
            hs,
            service,
            rooms: HashMap::new(),
        }
    }

    fn room(&mut self, room_id: &str) -> Result<bool, String> {
        if let Some(known) = self.rooms.get(room_id) {
            return Ok(*known);
        }
        let known = room_interests(self.hs, self.service, room_id)?;
        self.rooms.insert(room_id.to_owned(), known);
        Ok(known)
    }

    /// The IDs of the events the service is interested in, in order.
    fn events(&mut self, events: &[StoredEvent]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for event in events {
            let by_user = self.service.owns_user(&event.sender)
                || (event.event_type == "m.room.member"
                    && event
                        .state_key
                        .as_deref()
                        .is_some_and(|key| self.service.owns_user(key)));
            if by_user || self.room(&event.room_id)? {
                out.push(event.event_id.clone());
            }
        }
        Ok(out)
    }

    /// The ephemeral data for the service: typing changed after serial
    /// `typing_since`, receipts and presence set at side positions in
    /// `(after, upto]`; with the typing serial it is as of.
    fn ephemeral(&mut self, after: i64, upto: i64, typing_since: i64) -> Result<(Vec<String>, i64), String> {
        let mut out = Vec::new();
        let (typing_now, typing) = self.hs.typing.all_changed_since(typing_since);
        for (room_id, users) in typing {
            if self.room(&room_id)? {
                let event = TypingEvent::new(typing_content(&users).map_err(text)?);
                out.push(json(&InRoom {
                    event,
                    room_id: &room_id,
                })?);
            }
        }
        let mut receipts: BTreeMap<String, Vec<Receipt>> = BTreeMap::new();
        for (room_id, receipt) in self.hs.store.receipts_between(after, upto).map_err(text)? {
            receipts.entry(room_id).or_default().push(receipt);
        }
        for (room_id, receipts) in receipts {
            // Private receipts are their owner's alone.
            let content = receipts_content(&receipts, None).map_err(text)?;
            if !content.is_empty() && self.room(&room_id)? {
                let event = ReceiptEvent::new(content, ReceiptEventType::Receipt);
                out.push(json(&InRoom {
                    event,
                    room_id: &room_id,
                })?);
            }
        }
        for (user_id, presence) in self.hs.store.presence_between(after, upto).map_err(text)? {
            if self.presence_interests(&user_id)? {
                let content = crate::api::presence::content(&presence).map_err(text)?;
                out.push(json(&PresenceEvent::new(content, user_id))?);
            }
        }
        Ok((out, typing_now))
    }

    /// Whether the presence of `user_id` interests the service: one of its
    /// users, or a member of a room it is interested in.
    fn presence_interests(&mut self, user_id: &str) -> Result<bool, String> {
        if self.service.owns_user(user_id) {
            return Ok(true);
        }
        for (room_id, membership) in self.hs.store.rooms_of(user_id).map_err(text)? {
            if membership == "join" && self.room(&room_id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
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
