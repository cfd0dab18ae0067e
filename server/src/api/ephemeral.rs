//! Typing notifications (kept in memory only, as they expire within
//! seconds), read receipts and read markers. Typing and public (`m.read`)
//! receipts are shared with the other servers in the room as EDUs.

use super::{id, internal, joined_servers, json_of, now_ms, typed, Homeserver, Result};
use crate::store::Receipt;
use matrix_api::client_server::endpoints as cs;
use matrix_api::events::{EventReceipts, FullyReadEventContent, Receipt as EventReceipt, TypingEventContent};
use matrix_api::server_server as ss;
use matrix_api::EventContent;
use matrix_api::{EventId, UserId};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::Map;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who is typing where, with a serial number that moves on every change so
/// `/sync` can tell what changed since a token.
#[derive(Default)]
pub struct Typing {
    state: Mutex<TypingState>,
}

#[derive(Default)]
struct TypingState {
    serial: i64,
    /// Per room: the serial of its last change, and typing users with expiry.
    rooms: HashMap<String, RoomTyping>,
}

/// A room's typing: the serial of its last change, and who types until when.
type RoomTyping = (i64, BTreeMap<String, Instant>);

/// Drops the typing in one room that ran out; the room then changed, and
/// takes the next serial.
fn expire_room(serial: &mut i64, (changed, users): &mut RoomTyping, now: Instant) {
    if users.values().any(|t| *t <= now) {
        users.retain(|_, t| *t > now);
        *serial += 1;
        *changed = *serial;
    }
}

impl TypingState {
    /// Drops the typing that ran out in every room.
    fn expire(&mut self, now: Instant) {
        for room in self.rooms.values_mut() {
            expire_room(&mut self.serial, room, now);
        }
    }
}

impl Typing {
    /// The serial as of now (expiries count as changes).
    pub fn serial(&self) -> i64 {
        let Ok(mut state) = self.state.lock() else { return 0 };
        state.expire(Instant::now());
        state.serial
    }

    /// How long until someone's typing runs out, if anyone types.
    pub fn next_expiry(&self) -> Option<Duration> {
        let state = self.state.lock().ok()?;
        let soonest = state.rooms.values().flat_map(|(_, users)| users.values()).min()?;
        Some(soonest.saturating_duration_since(Instant::now()))
    }

    pub(crate) fn set(&self, room_id: &str, user_id: &str, until: Option<Instant>) {
        let Ok(mut state) = self.state.lock() else { return };
        state.serial += 1;
        let serial = state.serial;
        let room = state.rooms.entry(room_id.to_owned()).or_default();
        room.0 = serial;
        match until {
            Some(t) => room.1.insert(user_id.to_owned(), t),
            None => room.1.remove(user_id),
        };
    }

    /// The users typing in a room, if that changed after `since`
    /// (expiries count as changes).
    pub fn changed_since(&self, room_id: &str, since: i64) -> Option<Vec<String>> {
        let mut state = self.state.lock().ok()?;
        let state = &mut *state;
        let room = state.rooms.get_mut(room_id)?;
        expire_room(&mut state.serial, room, Instant::now());
        let (changed, users) = room;
        (*changed > since).then(|| users.keys().cloned().collect())
    }

    /// Every room whose typing users changed after `since` (expiries
    /// count), with who types there now; and the serial they are as of.
    pub fn all_changed_since(&self, since: i64) -> (i64, Vec<(String, Vec<String>)>) {
        let Ok(mut state) = self.state.lock() else {
            return (since, Vec::new());
        };
        state.expire(Instant::now());
        let mut rooms: Vec<(String, Vec<String>)> = state
            .rooms
            .iter()
            .filter(|(_, (changed, _))| *changed > since)
            .map(|(room, (_, users))| (room.clone(), users.keys().cloned().collect()))
            .collect();
        rooms.sort();
        (state.serial, rooms)
    }
}

/// The content of an `m.typing` event naming `users`.
pub(crate) fn typing_content(users: &[String]) -> Result<TypingEventContent> {
    Ok(TypingEventContent::new(
        users.iter().map(|u| id(u)).collect::<Result<_>>()?,
    ))
}

/// The content of an `m.receipt` event of `receipts`: the public ones, and
/// the private ones of `owner` (they are shown to their owner only).
pub(crate) fn receipts_content<'a>(
    receipts: impl IntoIterator<Item = &'a Receipt>,
    owner: Option<&str>,
) -> Result<BTreeMap<EventId, EventReceipts>> {
    let mut out: BTreeMap<EventId, EventReceipts> = BTreeMap::new();
    for r in receipts {
        let private = match r.receipt_type.as_str() {
            "m.read" => false,
            "m.read.private" if owner == Some(r.user_id.as_str()) => true,
            _ => continue,
        };
        let receipt = EventReceipt {
            ts: Some(r.ts),
            thread_id: Some(r.thread_id.clone()).filter(|t| !t.is_empty()),
        };
        let by_type = out.entry(id(&r.event_id)?).or_default();
        let by_user = if private {
            by_type.m_read_private.get_or_insert_default()
        } else {
            by_type.m_read.get_or_insert_default()
        };
        by_user.insert(id::<UserId>(&r.user_id)?, receipt);
    }
    Ok(out)
}

/// Typing notifications last at most this long without renewal.
const MAX_TYPING: Duration = Duration::from_secs(120);

pub(super) fn set_typing(
    hs: &Homeserver,
    request: cs::set_typing::Request,
    credentials: Credentials,
) -> Result<cs::set_typing::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    if p.user_id != user_id {
        return Err(MatrixError::forbidden("You cannot set another user's typing state"));
    }
    hs.require_joined(&p.room_id, &user_id)?;
    let until = request.body.typing.then(|| {
        let timeout = Duration::from_millis(request.body.timeout.unwrap_or(30_000).max(0) as u64);
        Instant::now() + timeout.min(MAX_TYPING)
    });
    hs.typing.set(&p.room_id, &user_id, until);
    hs.store.publish(&crate::signals::typing(&p.room_id, &user_id, until));
    hs.changes.notify_waiters();
    let notification = ss::TypingNotification::new(p.room_id.to_string(), user_id, until.is_some());
    share_edu(hs, &p.room_id, &ss::Typing::new(notification))?;
    Ok(cs::set_typing::Response::Ok(Map::new()))
}

/// Queues an EDU about a room for the other servers with users joined
/// there (none when the room is local only).
fn share_edu<T: serde::Serialize>(hs: &Homeserver, room_id: &str, edu: &T) -> Result<()> {
    let state = hs.store.current_state(room_id).map_err(internal)?;
    queue_edu(hs, joined_servers(&state), edu)
}

/// Queues an EDU for `servers` other than this one.
pub(super) fn queue_edu<T: serde::Serialize>(
    hs: &Homeserver,
    mut servers: std::collections::BTreeSet<String>,
    edu: &T,
) -> Result<()> {
    servers.remove(&hs.server_name);
    if servers.is_empty() {
        return Ok(());
    }
    let edu: ss::Edu = typed(json_of(edu)?)?;
    hs.outbound_edus.push(&servers, &edu);
    hs.outbound.notify_one();
    Ok(())
}

/// The `m.receipt` EDU of one user's public receipt.
fn receipt_edu(room_id: &str, receipt: &Receipt) -> Result<ss::Receipt> {
    let mut data = ss::ReadReceiptMetadata::new(receipt.ts);
    data.thread_id = (!receipt.thread_id.is_empty()).then(|| receipt.thread_id.clone());
    let read = ss::UserReadReceipt::new(vec![receipt.event_id.clone()], data);
    let room = ss::RoomReceipts::new(BTreeMap::from([(id(&receipt.user_id)?, read)]));
    Ok(ss::Receipt::new(BTreeMap::from([(id(room_id)?, room)])))
}

fn require_room_event(hs: &Homeserver, room_id: &str, event_id: &str) -> Result<()> {
    match hs.store.event(event_id).map_err(internal)? {
        Some(e) if e.room_id == room_id => Ok(()),
        _ => Err(MatrixError::not_found("Event not found in this room")),
    }
}

/// Records a receipt of type `m.read` or `m.read.private`, or the
/// `m.fully_read` marker (room account data).
fn mark(
    hs: &Homeserver,
    room_id: &str,
    user_id: &str,
    kind: &str,
    event_id: &str,
    thread: Option<String>,
) -> Result<()> {
    require_room_event(hs, room_id, event_id)?;
    if kind == "m.fully_read" {
        if thread.is_some() {
            return Err(MatrixError::invalid_param("thread_id cannot be given for m.fully_read"));
        }
        hs.store
            .set_account_data(
                user_id,
                room_id,
                FullyReadEventContent::EVENT_TYPE,
                &json_of(&FullyReadEventContent::new(event_id.to_owned()))?,
            )
            .map_err(internal)?;
    } else {
        let receipt = Receipt {
            user_id: user_id.to_owned(),
            receipt_type: kind.to_owned(),
            thread_id: thread.unwrap_or_default(),
            event_id: event_id.to_owned(),
            ts: now_ms(),
        };
        hs.store.set_receipt(room_id, &receipt).map_err(internal)?;
        if kind == "m.read" {
            // Private receipts stay on this server.
            share_edu(hs, room_id, &receipt_edu(room_id, &receipt)?)?;
        }
    }
    hs.changes.notify_waiters();
    Ok(())
}

pub(super) fn post_receipt(
    hs: &Homeserver,
    request: cs::post_receipt::Request,
    credentials: Credentials,
) -> Result<cs::post_receipt::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    hs.require_joined(&p.room_id, &user_id)?;
    let kind = p.receipt_type.as_str();
    if !matches!(kind, "m.read" | "m.read.private" | "m.fully_read") {
        return Err(MatrixError::invalid_param(format!("unknown receipt type {kind}")));
    }
    mark(hs, &p.room_id, &user_id, kind, &p.event_id, request.body.thread_id)?;
    Ok(cs::post_receipt::Response::Ok(Map::new()))
}

pub(super) fn set_read_marker(
    hs: &Homeserver,
    request: cs::set_read_marker::Request,
    credentials: Credentials,
) -> Result<cs::set_read_marker::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let b = request.body;
    for (kind, event_id) in [
        ("m.fully_read", b.m_fully_read),
        ("m.read", b.m_read),
        ("m.read.private", b.m_read_private),
    ] {
        if let Some(event_id) = event_id {
            mark(hs, &room_id, &user_id, kind, &event_id, None)?;
        }
    }
    Ok(cs::set_read_marker::Response::Ok(Map::new()))
}
