//! Ephemeral data other servers send in `/send/{txnId}`: typing
//! notifications, read receipts and presence of their users, which this
//! server's users then see in `/sync` like their neighbours' local ones.
//!
//! A server speaks only for its own users (an EDU about a user of another
//! server is dropped), and only about rooms where they are joined here;
//! presence is kept only for users who share a room with someone here.
//! Typing notifications and receipts for a room whose server ACL denies
//! the origin are dropped. EDUs have no result in the transaction's
//! answer, so one that is dropped is only logged. Device list and signing key updates mark the user's
//! devices as changed for local users sharing a room with them. Direct
//! to-device messages go to the inboxes of the local devices they name,
//! once per `(sender, message_id)` however often the EDU is sent again.

use super::Federation;
use crate::api::{now_ms, server_of};
use crate::store::{NewToDevice, Presence, Receipt};
use matrix_api::identifiers::RoomId;
use matrix_api::server_server::{
    DeviceListUpdateContent, Edu, PresenceContentPushItemPresence as PresenceState, PresenceUpdate, RoomReceipts,
    SigningKeyUpdateContent, ToDeviceMessage, TypingNotification,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a remote user shows as typing without a new notification: the
/// spec gives servers no timeout, and Synapse keeps remote typing for 30 s.
const REMOTE_TYPING: Duration = Duration::from_secs(30);

/// The most EDUs one transaction may carry (the spec's limit).
pub(super) const MAX_EDUS: usize = 100;

impl Federation {
    /// Applies the EDUs of a transaction from `origin`.
    pub(super) fn receive_edus(&self, origin: &str, edus: Vec<Edu>) {
        let mut applied = false;
        for edu in edus {
            let outcome = match edu.edu_type.as_str() {
                "m.typing" => content(edu.content).and_then(|c| self.typing(origin, c)),
                "m.receipt" => content(edu.content).and_then(|c| self.receipts(origin, c)),
                "m.presence" => content(edu.content).and_then(|c| self.presence(origin, c)),
                "m.device_list_update" => content::<DeviceListUpdateContent>(edu.content)
                    .and_then(|c| self.device_list_changed(origin, &c.user_id)),
                "m.signing_key_update" => content::<SigningKeyUpdateContent>(edu.content)
                    .and_then(|c| self.device_list_changed(origin, &c.user_id)),
                "m.direct_to_device" => content(edu.content).and_then(|c| self.to_device(origin, c)),
                other => Err(format!("{other} EDUs are not handled yet")),
            };
            match outcome {
                Ok(()) => applied = true,
                Err(why) => tracing::debug!(origin, edu_type = %edu.edu_type, "EDU dropped: {why}"),
            }
        }
        if applied {
            self.hs.changes.notify_waiters();
        }
    }

    /// Whether `user_id` belongs to `origin`, the room's server ACL allows
    /// `origin`, and the user is joined to `room_id` here.
    fn speaks_for(&self, origin: &str, room_id: &str, user_id: &str) -> Result<(), String> {
        if server_of(user_id) != Some(origin) {
            return Err(format!("{origin} does not speak for {user_id}"));
        }
        self.check_acl(room_id, origin).map_err(|e| e.body.error)?;
        match self.hs.store.membership(room_id, user_id).map_err(|e| e.to_string())? {
            Some(m) if m == "join" => Ok(()),
            _ => Err(format!("{user_id} is not joined to {room_id}")),
        }
    }

    fn typing(&self, origin: &str, typing: TypingNotification) -> Result<(), String> {
        self.speaks_for(origin, &typing.room_id, &typing.user_id)?;
        let until = typing.typing.then(|| Instant::now() + REMOTE_TYPING);
        self.hs.typing.set(&typing.room_id, &typing.user_id, until);
        Ok(())
    }

    /// Each room's receipts on their own: those of a room the origin may
    /// not speak for (its ACL, its users' membership) are dropped, the
    /// other rooms' still apply.
    fn receipts(&self, origin: &str, rooms: BTreeMap<RoomId, RoomReceipts>) -> Result<(), String> {
        for (room_id, receipts) in rooms {
            if let Err(why) = self.room_receipts(origin, room_id.as_str(), receipts) {
                tracing::debug!(origin, %room_id, "receipts dropped: {why}");
            }
        }
        Ok(())
    }

    fn room_receipts(&self, origin: &str, room_id: &str, receipts: RoomReceipts) -> Result<(), String> {
        for (user_id, receipt) in receipts.m_read {
            self.speaks_for(origin, room_id, user_id.as_str())?;
            // A receipt names the newest event read; servers send one.
            let Some(event_id) = receipt.event_ids.last() else {
                continue;
            };
            let known = self.hs.store.event(event_id).map_err(|e| e.to_string())?;
            if known.is_none_or(|e| e.room_id != room_id) {
                return Err(format!("{event_id} is not an event of {room_id} here"));
            }
            let receipt = Receipt {
                user_id: user_id.to_string(),
                receipt_type: "m.read".to_owned(),
                thread_id: receipt.data.thread_id.unwrap_or_default(),
                event_id: event_id.clone(),
                ts: receipt.data.ts,
            };
            self.hs
                .store
                .set_receipt(room_id, &receipt)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Whether a user of another server is joined to a room known here.
    fn shares_a_room(&self, user_id: &str) -> Result<bool, String> {
        Ok(self
            .hs
            .store
            .rooms_of(user_id)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|(_, membership)| membership == "join"))
    }

    /// A user's devices or cross-signing keys changed: local users who
    /// share a room with them see them in `device_lists.changed` of their
    /// next `/sync` (and `/keys/changes`), and query the keys again. The
    /// update itself is not kept: `/keys/query` asks the user's server.
    fn device_list_changed(&self, origin: &str, user_id: &str) -> Result<(), String> {
        if server_of(user_id) != Some(origin) {
            return Err(format!("{origin} does not speak for {user_id}"));
        }
        if !self.shares_a_room(user_id)? {
            return Err(format!("{user_id} shares no room with a user here"));
        }
        self.hs
            .store
            .note_device_list_change(user_id)
            .map_err(|e| e.to_string())
    }

    /// Messages of a remote user for devices here (`*`: all of a user's);
    /// devices of other servers' users are not this server's to fill.
    fn to_device(&self, origin: &str, message: ToDeviceMessage) -> Result<(), String> {
        if server_of(&message.sender) != Some(origin) {
            return Err(format!("{origin} does not speak for {}", message.sender));
        }
        let store = &self.hs.store;
        let mut inbox = Vec::new();
        for (user, devices) in message.messages {
            if server_of(user.as_str()) != Some(self.hs.server_name.as_str()) {
                continue;
            }
            for (device, content) in devices {
                let targets = if device == "*" {
                    let all = store.devices(user.as_str()).map_err(|e| e.to_string())?;
                    all.into_iter().map(|d| d.device_id).collect()
                } else {
                    vec![device]
                };
                inbox.extend(targets.into_iter().map(|device_id| NewToDevice {
                    user_id: user.to_string(),
                    device_id,
                    content: Value::Object(content.clone()),
                }));
            }
        }
        // Remote senders have no device here: the message ID, unique per
        // sender, is what makes a repeated EDU a repeat.
        store
            .send_to_device(&message.sender, "", &message.message_id, &message.r#type, &inbox, &[])
            .map_err(|e| e.to_string())
    }

    fn presence(&self, origin: &str, update: PresenceUpdate) -> Result<(), String> {
        for user in update.push {
            if server_of(&user.user_id) != Some(origin) {
                return Err(format!("{origin} does not speak for {}", user.user_id));
            }
            if !self.shares_a_room(&user.user_id)? {
                continue;
            }
            if matches!(user.presence, PresenceState::Other(_)) {
                return Err(format!("unknown presence {}", user.presence.as_str()));
            }
            let presence = Presence {
                state: user.presence.as_str().to_owned(),
                status_msg: user.status_msg,
                last_active_ts: now_ms() - user.last_active_ago.max(0),
            };
            self.hs
                .store
                .set_presence(&user.user_id, &presence)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// An EDU's content as its schema's type.
fn content<T: DeserializeOwned>(content: serde_json::Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(content)).map_err(|e| format!("malformed content: {e}"))
}
