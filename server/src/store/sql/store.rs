//! The core of [`Storage`] on SQL: accounts, rooms and their events,
//! the side stream, and what hangs off them.

use super::conn::{params, Conn, DbResult, Optional, Row};
use super::SqlStore;
use crate::store::{
    AccountData, Device, MediaInfo, NewEvent, Notification, Outbound, Presence, Receipt, RoomInfo, ServerKey, StateIds,
    Storage, StoreResult, StoredEvent,
};
use serde_json::{Map, Value};

/// The columns [`row_notification`] reads, first in a `SELECT`.
pub(super) const NOTIFICATION_COLUMNS: &str = "stream, room_id, event_id, actions, highlight, ts";

pub(super) fn row_notification(row: &Row) -> DbResult<Notification> {
    let actions: String = row.get(3)?;
    Ok(Notification {
        stream: row.get(0)?,
        room_id: row.get(1)?,
        event_id: row.get(2)?,
        actions: serde_json::from_str(&actions).unwrap_or(Value::Null),
        highlight: row.get(4)?,
        ts: row.get(5)?,
    })
}

/// The columns [`row_receipt`] reads, first in a `SELECT`.
pub(super) const RECEIPT_COLUMNS: &str = "user_id, type, thread_id, event_id, ts";

pub(super) fn row_receipt(row: &Row) -> DbResult<Receipt> {
    Ok(Receipt {
        user_id: row.get(0)?,
        receipt_type: row.get(1)?,
        thread_id: row.get(2)?,
        event_id: row.get(3)?,
        ts: row.get(4)?,
    })
}

/// The columns [`row_presence`] reads, first in a `SELECT`.
pub(super) const PRESENCE_COLUMNS: &str = "user_id, state, status_msg, last_active_ts";

pub(super) fn row_presence(row: &Row) -> DbResult<(String, Presence)> {
    let presence = Presence {
        state: row.get(1)?,
        status_msg: row.get(2)?,
        last_active_ts: row.get(3)?,
    };
    Ok((row.get(0)?, presence))
}

pub(super) fn row_event(row: &Row) -> DbResult<StoredEvent> {
    let content: String = row.get(6)?;
    Ok(StoredEvent {
        stream: row.get(0)?,
        event_id: row.get(1)?,
        room_id: row.get(2)?,
        sender: row.get(3)?,
        event_type: row.get(4)?,
        state_key: row.get(5)?,
        content: serde_json::from_str(&content).unwrap_or(Value::Null),
        origin_server_ts: row.get(7)?,
        redacted_because: row
            .get::<Option<String>>(8)?
            .and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// Inserts one event (in the caller's transaction): updates the room's
/// state for a state event, queues its PDU and stores its notifications.
/// With `in_graph`, it is an event of the room's graph: it gets the state
/// after it (`sqlite_state`) and replaces its previous events as the
/// room's forward extremity, unless it was soft-failed, which keeps it out
/// of the room's state, extremities and timeline. Without, it is an event
/// imported with a joined room's state or an invite's, which count as the
/// room's state as they come.
fn insert_event(tx: &Conn<'_>, e: &NewEvent<'_>, in_graph: bool) -> DbResult<i64> {
    let state_group = if in_graph {
        Some(super::state::group_after(tx, e)?)
    } else {
        None
    };
    let stream: i64 = tx.row(
        "INSERT INTO events (event_id, room_id, sender, type, state_key, content, origin_server_ts, txn_key,
                                     depth, pdu, state_group, soft_failed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING stream",
        params![
            e.event_id,
            e.room_id,
            e.sender,
            e.event_type,
            e.state_key,
            e.content.to_string(),
            e.origin_server_ts,
            e.txn_key,
            e.depth,
            Value::Object(e.pdu.clone()).to_string(),
            state_group,
            e.soft_failed,
        ],
        |r| r.get(0),
    )?;
    if e.soft_failed {
        return Ok(stream);
    }
    if in_graph {
        for prev in e.prev_events {
            tx.run(
                "DELETE FROM forward_extremities WHERE room_id = ?1 AND event_id = ?2",
                params![e.room_id, prev],
            )?;
        }
        tx.run(
            "INSERT INTO forward_extremities (room_id, event_id) VALUES (?1, ?2)",
            params![e.room_id, e.event_id],
        )?;
    }
    let pdu = Value::Object(e.pdu.clone()).to_string();
    for destination in e.destinations {
        tx.run(
            "INSERT INTO outbound_pdus (destination, pdu) VALUES (?1, ?2)",
            params![destination, pdu],
        )?;
    }
    insert_notifications(tx, e, stream)?;
    match (&e.fork, state_group) {
        (Some(fork), Some(after)) => super::state::replace_current(tx, e.room_id, fork.current_after, after)?,
        _ => {
            if let Some(key) = e.state_key {
                tx.run(
                    "INSERT INTO room_state (room_id, type, state_key, stream) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (room_id, type, state_key) DO UPDATE SET stream = excluded.stream",
                    params![e.room_id, e.event_type, key, stream],
                )?;
            }
            if let Some(after) = state_group {
                tx.run(
                    "UPDATE rooms SET state_group = ?2 WHERE room_id = ?1",
                    params![e.room_id, after],
                )?;
            }
        }
    }
    Ok(stream)
}

/// Notification rows written by one statement at most: a message in a
/// room of many members notifies each of them, and one statement per row
/// is one round trip per row on PostgreSQL. Chunks of a fixed size keep
/// the distinct statements (each prepared once per connection) few.
const NOTIFICATIONS_AT_ONCE: usize = 16;

/// The event's notifications, [`NOTIFICATIONS_AT_ONCE`] rows a statement.
fn insert_notifications(tx: &Conn<'_>, e: &NewEvent<'_>, stream: i64) -> DbResult<()> {
    for chunk in e.notifications.chunks(NOTIFICATIONS_AT_ONCE) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let first = 5 + 3 * i;
                format!("(?{}, ?1, ?2, ?3, ?{}, ?{}, ?4)", first, first + 1, first + 2)
            })
            .collect();
        let sql = format!(
            "INSERT INTO notifications (user_id, stream, room_id, event_id, actions, highlight, ts) VALUES {}",
            rows.join(", ")
        );
        let actions: Vec<String> = chunk.iter().map(|n| n.actions.to_string()).collect();
        let mut args: Vec<&dyn super::ToArg> = vec![&stream, &e.room_id, &e.event_id, &e.origin_server_ts];
        for (n, actions) in chunk.iter().zip(&actions) {
            args.extend([&n.user_id as &dyn super::ToArg, actions, &n.highlight]);
        }
        tx.run(&sql, &args)?;
    }
    Ok(())
}

pub(super) const EVENT_COLUMNS: &str =
    "stream, event_id, room_id, sender, type, state_key, content, origin_server_ts, redacted_because";

impl Storage for SqlStore {
    fn wait_durable(&self) -> StoreResult<()> {
        SqlStore::wait_durable(self)
    }
    fn lock_appends(&self) -> StoreResult<crate::store::Held> {
        SqlStore::lock_appends(self)
    }
    fn claim_senders(&self) -> StoreResult<bool> {
        SqlStore::claim_senders(self)
    }
    fn publish(&self, signal: &str) {
        SqlStore::publish(self, signal)
    }
    fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        SqlStore::subscribe(self)
    }

    fn create_user(&self, user_id: &str, password_hash: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "INSERT INTO users (user_id, password_hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![user_id, password_hash],
            )
            .map(|n| n == 1)
        })
    }
    fn user_exists(&self, user_id: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.row("SELECT 1 FROM users WHERE user_id = ?1", params![user_id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }
    fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            c.row(
                "SELECT password_hash FROM users WHERE user_id = ?1",
                params![user_id],
                |r| r.get(0),
            )
            .optional()
        })
    }
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "UPDATE users SET password_hash = ?2 WHERE user_id = ?1",
                params![user_id, hash],
            )
            .map(|_| ())
        })
    }
    fn add_token(&self, token: &str, user_id: &str, device: &Device) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.run(
                "INSERT INTO devices (user_id, device_id, display_name, last_seen_ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = excluded.last_seen_ts,
                     display_name = coalesce(excluded.display_name, devices.display_name)",
                params![user_id, device.device_id, device.display_name, device.last_seen_ts],
            )?;
            tx.run(
                "INSERT INTO tokens (token, user_id, device_id) VALUES (?1, ?2, ?3)",
                params![token, user_id, device.device_id],
            )?;
            tx.commit()
        })
    }
    fn token_owner(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        self.with(|c| {
            c.row(
                "SELECT user_id, device_id FROM tokens WHERE token = ?1",
                params![token],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }
    fn add_openid_token(&self, token: &str, user_id: &str, expires_ts: i64) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            // Expired tokens go as new ones come: nothing else reads them.
            tx.run(
                "DELETE FROM openid_tokens WHERE expires_ts < ?1",
                params![expires_ts - 2 * 3_600_000],
            )?;
            tx.run(
                "INSERT INTO openid_tokens (token, user_id, expires_ts) VALUES (?1, ?2, ?3)",
                params![token, user_id, expires_ts],
            )?;
            tx.commit()
        })
    }
    fn openid_token_owner(&self, token: &str, now_ts: i64) -> StoreResult<Option<String>> {
        self.with(|c| {
            c.row(
                "SELECT user_id FROM openid_tokens WHERE token = ?1 AND expires_ts > ?2",
                params![token, now_ts],
                |r| r.get(0),
            )
            .optional()
        })
    }
    fn add_uia_session(
        &self,
        session: &str,
        user_id: &str,
        operation: &str,
        now_ts: i64,
        expired_before: i64,
    ) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.run("DELETE FROM uia_sessions WHERE issued_ts < ?1", params![expired_before])?;
            tx.run(
                "INSERT INTO uia_sessions (session, user_id, operation, issued_ts) VALUES (?1, ?2, ?3, ?4)",
                params![session, user_id, operation, now_ts],
            )?;
            tx.commit()
        })
    }
    fn take_uia_session(&self, session: &str) -> StoreResult<Option<(String, String, i64)>> {
        self.with(|c| {
            c.row(
                "DELETE FROM uia_sessions WHERE session = ?1 RETURNING user_id, operation, issued_ts",
                params![session],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }
    fn devices(&self, user_id: &str) -> StoreResult<Vec<Device>> {
        self.with(|c| {
            c.rows(
                "SELECT device_id, display_name, last_seen_ts FROM devices WHERE user_id = ?1 ORDER BY device_id",
                params![user_id],
                |r| {
                    Ok(Device {
                        device_id: r.get(0)?,
                        display_name: r.get(1)?,
                        last_seen_ts: r.get(2)?,
                    })
                },
            )
        })
    }
    fn set_device_name(&self, user_id: &str, device_id: &str, name: Option<&str>) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "UPDATE devices SET display_name = ?3 WHERE user_id = ?1 AND device_id = ?2",
                params![user_id, device_id, name],
            )
            .map(|n| n == 1)
        })
    }
    fn delete_devices(&self, user_id: &str, device_ids: &[String]) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for device_id in device_ids {
                tx.run(
                    "DELETE FROM tokens WHERE user_id = ?1 AND device_id = ?2",
                    params![user_id, device_id],
                )?;
                tx.run(
                    "DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2",
                    params![user_id, device_id],
                )?;
                super::keys::forget_device(&tx, user_id, device_id)?;
            }
            if !device_ids.is_empty() {
                super::keys::device_list_changed(&tx, user_id)?;
            }
            tx.commit()
        })
    }
    fn create_room(&self, room_id: &str, creator: &str, version: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO rooms (room_id, creator, version) VALUES (?1, ?2, ?3)",
                params![room_id, creator, version],
            )
            .map(|_| ())
        })
    }
    fn room_info(&self, room_id: &str) -> StoreResult<Option<RoomInfo>> {
        self.with(|c| {
            c.row(
                "SELECT creator, version FROM rooms WHERE room_id = ?1",
                params![room_id],
                |r| {
                    Ok(RoomInfo {
                        creator: r.get(0)?,
                        version: r.get(1)?,
                    })
                },
            )
            .optional()
        })
    }
    fn append(&self, e: NewEvent<'_>) -> StoreResult<(String, i64)> {
        self.with(|c| {
            let tx = c.transaction()?;
            if let Some(key) = e.txn_key {
                let earlier: Option<(String, i64)> = tx
                    .row(
                        "SELECT event_id, stream FROM events WHERE txn_key = ?1",
                        params![key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some(earlier) = earlier {
                    return Ok(earlier);
                }
            }
            let stream = insert_event(&tx, &e, true)?;
            tx.commit()?;
            Ok((e.event_id.to_owned(), stream))
        })
    }
    fn record_outside_room(&self, events: &[NewEvent<'_>]) -> StoreResult<i64> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut last = 0;
            for event in events {
                let known: Option<i64> = tx
                    .row(
                        "SELECT stream FROM events WHERE event_id = ?1",
                        params![event.event_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                last = match known {
                    Some(stream) => stream,
                    None => insert_event(&tx, event, false)?,
                };
            }
            tx.commit()?;
            Ok(last)
        })
    }
    fn import_room(
        &self,
        room_id: &str,
        room: &RoomInfo,
        events: &[NewEvent<'_>],
        join: NewEvent<'_>,
    ) -> StoreResult<i64> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.run(
                "INSERT INTO rooms (room_id, creator, version) VALUES (?1, ?2, ?3)",
                params![room_id, room.creator, room.version],
            )?;
            // What an invite left of the room (its stripped state, the
            // invite) gives way to the room's real state.
            tx.run("DELETE FROM room_state WHERE room_id = ?1", params![room_id])?;
            tx.run("DELETE FROM events WHERE room_id = ?1", params![room_id])?;
            for event in events {
                insert_event(&tx, event, false)?;
            }
            let stream = insert_event(&tx, &join, true)?;
            tx.commit()?;
            Ok(stream)
        })
    }
    fn state_event(&self, room_id: &str, event_type: &str, state_key: &str) -> StoreResult<Option<StoredEvent>> {
        self.with(|c| {
            c.row(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream =
                     (SELECT stream FROM room_state WHERE room_id = ?1 AND type = ?2 AND state_key = ?3)"
                ),
                params![room_id, event_type, state_key],
                row_event,
            )
            .optional()
        })
    }
    fn current_state(&self, room_id: &str) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            c.rows(
                &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream IN (SELECT stream FROM room_state WHERE room_id = ?1) ORDER BY stream"
            ), params![room_id], row_event,
            )
        })
    }
    fn membership(&self, room_id: &str, user_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .state_event(room_id, "m.room.member", user_id)?
            .and_then(|e| e.content.get("membership").and_then(Value::as_str).map(str::to_owned)))
    }
    fn rooms_of(&self, user_id: &str) -> StoreResult<Vec<(String, String)>> {
        self.with(|c| {
            let events: Vec<StoredEvent> = c.rows(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream IN
                     (SELECT stream FROM room_state WHERE type = 'm.room.member' AND state_key = ?1) ORDER BY stream"
                ),
                params![user_id],
                row_event,
            )?;
            Ok(events
                .into_iter()
                .map(|e| {
                    (
                        e.room_id,
                        e.content
                            .get("membership")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect())
        })
    }
    fn events_between(&self, room_id: &str, after: i64, upto: i64) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            c.rows(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                 WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3 AND NOT soft_failed ORDER BY stream"
                ),
                params![room_id, after, upto],
                row_event,
            )
        })
    }
    fn events_before(&self, room_id: &str, before: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            c.rows(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                 WHERE room_id = ?1 AND stream < ?2 AND NOT soft_failed ORDER BY stream DESC LIMIT ?3"
                ),
                params![room_id, before, limit],
                row_event,
            )
        })
    }
    fn max_stream(&self) -> StoreResult<i64> {
        self.with(|c| c.row("SELECT COALESCE(MAX(stream), 0) FROM events", params![], |r| r.get(0)))
    }
    fn event(&self, event_id: &str) -> StoreResult<Option<StoredEvent>> {
        self.with(|c| {
            c.row(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"),
                params![event_id],
                row_event,
            )
            .optional()
        })
    }
    fn pdu(&self, event_id: &str) -> StoreResult<Option<Map<String, Value>>> {
        self.with(|c| {
            let text: Option<Option<String>> = c
                .row("SELECT pdu FROM events WHERE event_id = ?1", params![event_id], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(text.flatten().and_then(|text| serde_json::from_str(&text).ok()))
        })
    }
    fn outbound_destinations(&self) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows(
                "SELECT DISTINCT destination FROM outbound_pdus ORDER BY destination",
                params![],
                |r| r.get(0),
            )
        })
    }
    fn outbound_batch(&self, destination: &str, limit: i64) -> StoreResult<Vec<(i64, Outbound)>> {
        self.with(|c| {
            c.rows(
                "SELECT id, pdu, edu FROM outbound_pdus WHERE destination = ?1 ORDER BY id LIMIT ?2",
                params![destination, limit],
                |r| {
                    let text: String = r.get(1)?;
                    let item = if r.get::<bool>(2)? {
                        Outbound::Edu(serde_json::from_str(&text).unwrap_or_default())
                    } else {
                        Outbound::Pdu(serde_json::from_str(&text).unwrap_or_default())
                    };
                    Ok((r.get(0)?, item))
                },
            )
        })
    }
    fn outbound_delivered(&self, destination: &str, upto: i64) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "DELETE FROM outbound_pdus WHERE destination = ?1 AND id <= ?2",
                params![destination, upto],
            )
            .map(|_| ())
        })
    }
    fn server_key(&self, server_name: &str, key_id: &str) -> StoreResult<Option<ServerKey>> {
        self.with(|c| {
            c.row(
                "SELECT key, valid_until_ts FROM server_keys WHERE server_name = ?1 AND key_id = ?2",
                params![server_name, key_id],
                |r| {
                    Ok(ServerKey {
                        key: r.get(0)?,
                        valid_until_ts: r.get(1)?,
                    })
                },
            )
            .optional()
        })
    }
    fn set_server_key(&self, server_name: &str, key_id: &str, key: &ServerKey) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO server_keys (server_name, key_id, key, valid_until_ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (server_name, key_id) DO UPDATE
                     SET key = excluded.key, valid_until_ts = excluded.valid_until_ts",
                params![server_name, key_id, key.key, key.valid_until_ts],
            )
            .map(|_| ())
        })
    }
    fn server_key_answer(&self, server_name: &str) -> StoreResult<Option<(Value, i64)>> {
        self.with(|c| {
            c.row(
                "SELECT answer, valid_until_ts FROM server_key_answers WHERE server_name = ?1",
                params![server_name],
                |r| {
                    let text: String = r.get(0)?;
                    Ok((serde_json::from_str(&text).unwrap_or(Value::Null), r.get(1)?))
                },
            )
            .optional()
        })
    }
    fn set_server_key_answer(&self, server_name: &str, answer: &Value, valid_until_ts: i64) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO server_key_answers (server_name, answer, valid_until_ts) VALUES (?1, ?2, ?3)
                 ON CONFLICT (server_name) DO UPDATE SET answer = excluded.answer, valid_until_ts = excluded.valid_until_ts",
                params![server_name, answer.to_string(), valid_until_ts],
            )
            .map(|_| ())
        })
    }
    fn state_after(&self, event_id: &str) -> StoreResult<Option<StateIds>> {
        self.with(|c| super::state::state_after(&c, event_id))
    }
    fn forward_extremities(&self, room_id: &str) -> StoreResult<Vec<(String, i64)>> {
        self.with(|c| {
            c.rows(
                "SELECT f.event_id, e.depth FROM forward_extremities AS f JOIN events AS e ON e.event_id = f.event_id
                 WHERE f.room_id = ?1 ORDER BY e.stream",
                params![room_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }
    fn redact(
        &self,
        event_id: &str,
        redacted_content: &Value,
        redacted_pdu: Option<&Map<String, Value>>,
        because: &Value,
    ) -> StoreResult<()> {
        let pdu = redacted_pdu.map(|pdu| Value::Object(pdu.clone()).to_string());
        self.with(|c| {
            c.run(
                "UPDATE events SET content = ?2, redacted_because = ?3, pdu = COALESCE(?4, pdu) WHERE event_id = ?1",
                params![event_id, redacted_content.to_string(), because.to_string(), pdu],
            )
            .map(|_| ())
        })
    }
    fn forget(&self, user_id: &str, room_id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO forgotten (user_id, room_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![user_id, room_id],
            )
            .map(|_| ())
        })
    }
    fn unforget(&self, user_id: &str, room_id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "DELETE FROM forgotten WHERE user_id = ?1 AND room_id = ?2",
                params![user_id, room_id],
            )
            .map(|_| ())
        })
    }
    fn forgotten(&self, user_id: &str, room_id: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.row(
                "SELECT 1 FROM forgotten WHERE user_id = ?1 AND room_id = ?2",
                params![user_id, room_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
    }
    fn profile(&self, user_id: &str) -> StoreResult<Map<String, Value>> {
        self.with(|c| {
            c.rows(
                "SELECT key, value FROM profile WHERE user_id = ?1 ORDER BY key",
                params![user_id],
                |r| {
                    let value: String = r.get(1)?;
                    Ok((r.get(0)?, serde_json::from_str(&value).unwrap_or(Value::Null)))
                },
            )
        })
    }
    fn set_profile_field(&self, user_id: &str, key: &str, value: Option<&Value>) -> StoreResult<()> {
        self.with(|c| {
            match value {
                Some(v) => c.run(
                    "INSERT INTO profile (user_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
                    params![user_id, key, v.to_string()],
                ),
                None => c.run(
                    "DELETE FROM profile WHERE user_id = ?1 AND key = ?2",
                    params![user_id, key],
                ),
            }
            .map(|_| ())
        })
    }
    fn max_side_stream(&self) -> StoreResult<i64> {
        self.with(|c| c.row("SELECT COALESCE(MAX(pos), 0) FROM side_stream", params![], |r| r.get(0)))
    }
    fn set_account_data(&self, user_id: &str, room_id: &str, data_type: &str, content: &Value) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let pos = next_side_position(&tx)?;
            tx.run(
                "INSERT INTO account_data (user_id, room_id, type, content, pos) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, pos = excluded.pos",
                params![user_id, room_id, data_type, content.to_string(), pos],
            )?;
            tx.commit()
        })
    }
    fn account_data(&self, user_id: &str, room_id: &str, data_type: &str) -> StoreResult<Option<Value>> {
        self.with(|c| {
            c.row(
                "SELECT content FROM account_data WHERE user_id = ?1 AND room_id = ?2 AND type = ?3",
                params![user_id, room_id, data_type],
                |r| r.get::<String>(0),
            )
            .optional()
            .map(|s| s.and_then(|s| serde_json::from_str(&s).ok()))
        })
    }
    fn account_data_since(&self, user_id: &str, after: i64) -> StoreResult<Vec<AccountData>> {
        self.with(|c| {
            c.rows(
                "SELECT room_id, type, content FROM account_data WHERE user_id = ?1 AND pos > ?2 ORDER BY pos",
                params![user_id, after],
                |r| {
                    Ok(AccountData {
                        room_id: r.get(0)?,
                        data_type: r.get(1)?,
                        content: serde_json::from_str(&r.get::<String>(2)?).unwrap_or(Value::Null),
                    })
                },
            )
        })
    }
    fn set_receipt(&self, room_id: &str, receipt: &Receipt) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let pos = next_side_position(&tx)?;
            tx.run(
                "INSERT INTO receipts (room_id, user_id, type, thread_id, event_id, ts, pos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (room_id, user_id, type, thread_id)
                 DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, pos = excluded.pos",
                params![
                    room_id,
                    receipt.user_id,
                    receipt.receipt_type,
                    receipt.thread_id,
                    receipt.event_id,
                    receipt.ts,
                    pos
                ],
            )?;
            tx.commit()
        })
    }
    fn receipts_since(&self, room_id: &str, after: i64) -> StoreResult<Vec<Receipt>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {RECEIPT_COLUMNS} FROM receipts WHERE room_id = ?1 AND pos > ?2 ORDER BY pos"),
                params![room_id, after],
                row_receipt,
            )
        })
    }
    fn notifications(
        &self,
        user_id: &str,
        before: Option<i64>,
        limit: i64,
        highlights_only: bool,
    ) -> StoreResult<Vec<Notification>> {
        self.with(|c| {
            c.rows(
                &format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                 WHERE user_id = ?1 AND stream < ?2 AND (highlight OR NOT ?3) ORDER BY stream DESC LIMIT ?4"
                ),
                params![user_id, before.unwrap_or(i64::MAX), highlights_only, limit],
                row_notification,
            )
        })
    }
    fn notification_counts(&self, user_id: &str, room_id: &str, after: i64) -> StoreResult<(i64, i64)> {
        self.with(|c| {
            c.row(
                "SELECT count(*), count(*) FILTER (WHERE highlight) FROM notifications
                 WHERE user_id = ?1 AND room_id = ?2 AND stream > ?3",
                params![user_id, room_id, after],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }
    fn set_presence(&self, user_id: &str, presence: &Presence) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let pos = next_side_position(&tx)?;
            tx.run(
                "INSERT INTO presence (user_id, state, status_msg, last_active_ts, pos) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = excluded.status_msg,
                     last_active_ts = excluded.last_active_ts, pos = excluded.pos",
                params![
                    user_id,
                    presence.state,
                    presence.status_msg,
                    presence.last_active_ts,
                    pos
                ],
            )?;
            tx.commit()
        })
    }
    fn presence(&self, user_id: &str) -> StoreResult<Option<Presence>> {
        self.with(|c| {
            c.row(
                "SELECT state, status_msg, last_active_ts FROM presence WHERE user_id = ?1",
                params![user_id],
                |r| {
                    Ok(Presence {
                        state: r.get(0)?,
                        status_msg: r.get(1)?,
                        last_active_ts: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }
    fn presence_since(&self, after: i64) -> StoreResult<Vec<(String, Presence)>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {PRESENCE_COLUMNS} FROM presence WHERE pos > ?1 ORDER BY pos"),
                params![after],
                row_presence,
            )
        })
    }
    fn add_filter(&self, user_id: &str, definition: &Value) -> StoreResult<i64> {
        self.with(|c| {
            c.row(
                "INSERT INTO filters (user_id, definition) VALUES (?1, ?2) RETURNING filter_id",
                params![user_id, definition.to_string()],
                |r| r.get(0),
            )
        })
    }
    fn filter(&self, user_id: &str, filter_id: i64) -> StoreResult<Option<Value>> {
        self.with(|c| {
            c.row(
                "SELECT definition FROM filters WHERE user_id = ?1 AND filter_id = ?2",
                params![user_id, filter_id],
                |r| r.get::<String>(0),
            )
            .optional()
            .map(|s| s.and_then(|s| serde_json::from_str(&s).ok()))
        })
    }
    fn add_alias(&self, alias: &str, room_id: &str, creator: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "INSERT INTO aliases (alias, room_id, creator) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![alias, room_id, creator],
            )
            .map(|n| n == 1)
        })
    }
    fn alias(&self, alias: &str) -> StoreResult<Option<(String, String)>> {
        self.with(|c| {
            c.row(
                "SELECT room_id, creator FROM aliases WHERE alias = ?1",
                params![alias],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }
    fn delete_alias(&self, alias: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run("DELETE FROM aliases WHERE alias = ?1", params![alias])
                .map(|_| ())
        })
    }
    fn aliases_of(&self, room_id: &str) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows(
                "SELECT alias FROM aliases WHERE room_id = ?1 ORDER BY alias",
                params![room_id],
                |r| r.get(0),
            )
        })
    }
    fn set_published(&self, room_id: &str, published: bool) -> StoreResult<()> {
        self.with(|c| {
            if published {
                c.run(
                    "INSERT INTO published (room_id) VALUES (?1) ON CONFLICT DO NOTHING",
                    params![room_id],
                )
            } else {
                c.run("DELETE FROM published WHERE room_id = ?1", params![room_id])
            }
            .map(|_| ())
        })
    }
    fn published_rooms(&self) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows("SELECT room_id FROM published ORDER BY room_id", params![], |r| {
                r.get(0)
            })
        })
    }
    fn add_media(&self, media_id: &str, info: &MediaInfo) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO media (media_id, uploader, content_type, filename, size) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![media_id, info.uploader, info.content_type, info.filename, info.size],
            )
            .map(|_| ())
        })
    }
    fn media(&self, media_id: &str) -> StoreResult<Option<MediaInfo>> {
        self.with(|c| {
            c.row(
                "SELECT uploader, content_type, filename, size FROM media WHERE media_id = ?1",
                params![media_id],
                |r| {
                    Ok(MediaInfo {
                        uploader: r.get(0)?,
                        content_type: r.get(1)?,
                        filename: r.get(2)?,
                        size: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }
}

/// Takes the next position of the side stream (account data, receipts).
pub(super) fn next_side_position(tx: &Conn<'_>) -> DbResult<i64> {
    tx.row("INSERT INTO side_stream DEFAULT VALUES RETURNING pos", params![], |r| {
        r.get(0)
    })
}
