//! Storage: a narrow trait (what the homeserver needs, nothing SQL-shaped),
//! and its SQLite implementation. Migrations run at open; WAL mode.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

/// One stored event.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// Position in the server's single event stream.
    pub stream: i64,
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub origin_server_ts: i64,
}

/// A new event to append.
pub struct NewEvent<'a> {
    pub event_id: &'a str,
    pub room_id: &'a str,
    pub sender: &'a str,
    pub event_type: &'a str,
    pub state_key: Option<&'a str>,
    pub content: &'a Value,
    pub origin_server_ts: i64,
    /// `user:device:txn` for transaction-ID idempotency.
    pub txn_key: Option<&'a str>,
}

pub type StoreResult<T> = Result<T, String>;

/// What the homeserver stores. Kept narrow so another database could back it.
pub trait Storage: Send + Sync + 'static {
    fn create_user(&self, user_id: &str, password_hash: &str) -> StoreResult<bool>;
    fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()>;
    fn add_token(&self, token: &str, user_id: &str, device_id: &str) -> StoreResult<()>;
    fn token_owner(&self, token: &str) -> StoreResult<Option<(String, String)>>;
    fn delete_token(&self, token: &str) -> StoreResult<()>;
    fn delete_tokens_of(&self, user_id: &str) -> StoreResult<()>;
    fn create_room(&self, room_id: &str, creator: &str, version: &str) -> StoreResult<()>;
    fn room_exists(&self, room_id: &str) -> StoreResult<bool>;
    /// Appends an event (and updates current state for state events).
    /// With a `txn_key` seen before, returns the earlier event's ID instead.
    fn append(&self, event: NewEvent<'_>) -> StoreResult<(String, i64)>;
    fn state_event(&self, room_id: &str, event_type: &str, state_key: &str) -> StoreResult<Option<StoredEvent>>;
    fn current_state(&self, room_id: &str) -> StoreResult<Vec<StoredEvent>>;
    fn membership(&self, room_id: &str, user_id: &str) -> StoreResult<Option<String>>;
    /// Rooms where the user's membership is one of `memberships`.
    fn rooms_of(&self, user_id: &str) -> StoreResult<Vec<(String, String)>>;
    /// Events of a room with stream positions in `(after, upto]`, oldest first.
    fn events_between(&self, room_id: &str, after: i64, upto: i64) -> StoreResult<Vec<StoredEvent>>;
    /// Up to `limit` events of a room before `before` (exclusive), newest first.
    fn events_before(&self, room_id: &str, before: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    fn max_stream(&self) -> StoreResult<i64>;
}

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
     CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL);
     CREATE TABLE rooms (room_id TEXT PRIMARY KEY, creator TEXT NOT NULL, version TEXT NOT NULL);
     CREATE TABLE events (
         stream INTEGER PRIMARY KEY AUTOINCREMENT,
         event_id TEXT NOT NULL UNIQUE,
         room_id TEXT NOT NULL,
         sender TEXT NOT NULL,
         type TEXT NOT NULL,
         state_key TEXT,
         content TEXT NOT NULL,
         origin_server_ts INTEGER NOT NULL,
         txn_key TEXT UNIQUE
     );
     CREATE INDEX events_room ON events (room_id, stream);
     CREATE TABLE room_state (
         room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, stream INTEGER NOT NULL,
         PRIMARY KEY (room_id, type, state_key)
     );",
];

fn err(e: rusqlite::Error) -> String {
    e.to_string()
}

fn row_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
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
    })
}

const EVENT_COLUMNS: &str = "stream, event_id, room_id, sender, type, state_key, content, origin_server_ts";

impl SqliteStore {
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            conn.execute_batch(&format!("BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;", i + 1))
                .map_err(err)?;
        }
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().map_err(|_| "storage lock poisoned".to_owned())?;
        f(&mut conn).map_err(err)
    }
}

impl Storage for SqliteStore {
    fn create_user(&self, user_id: &str, password_hash: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (user_id, password_hash) VALUES (?1, ?2)",
                params![user_id, password_hash],
            )
            .map(|n| n == 1)
        })
    }
    fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT password_hash FROM users WHERE user_id = ?1", [user_id], |r| {
                r.get(0)
            })
            .optional()
        })
    }
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET password_hash = ?2 WHERE user_id = ?1",
                params![user_id, hash],
            )
            .map(|_| ())
        })
    }
    fn add_token(&self, token: &str, user_id: &str, device_id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens (token, user_id, device_id) VALUES (?1, ?2, ?3)",
                params![token, user_id, device_id],
            )
            .map(|_| ())
        })
    }
    fn token_owner(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        self.with(|c| {
            c.query_row("SELECT user_id, device_id FROM tokens WHERE token = ?1", [token], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
    }
    fn delete_token(&self, token: &str) -> StoreResult<()> {
        self.with(|c| c.execute("DELETE FROM tokens WHERE token = ?1", [token]).map(|_| ()))
    }
    fn delete_tokens_of(&self, user_id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute("DELETE FROM tokens WHERE user_id = ?1", [user_id])
                .map(|_| ())
        })
    }
    fn create_room(&self, room_id: &str, creator: &str, version: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO rooms (room_id, creator, version) VALUES (?1, ?2, ?3)",
                params![room_id, creator, version],
            )
            .map(|_| ())
        })
    }
    fn room_exists(&self, room_id: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM rooms WHERE room_id = ?1", [room_id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }
    fn append(&self, e: NewEvent<'_>) -> StoreResult<(String, i64)> {
        self.with(|c| {
            let tx = c.transaction()?;
            if let Some(key) = e.txn_key {
                let earlier: Option<(String, i64)> = tx
                    .query_row("SELECT event_id, stream FROM events WHERE txn_key = ?1", [key], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some(earlier) = earlier {
                    return Ok(earlier);
                }
            }
            tx.execute(
                "INSERT INTO events (event_id, room_id, sender, type, state_key, content, origin_server_ts, txn_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.event_id,
                    e.room_id,
                    e.sender,
                    e.event_type,
                    e.state_key,
                    e.content.to_string(),
                    e.origin_server_ts,
                    e.txn_key
                ],
            )?;
            let stream = tx.last_insert_rowid();
            if let Some(key) = e.state_key {
                tx.execute(
                    "INSERT INTO room_state (room_id, type, state_key, stream) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (room_id, type, state_key) DO UPDATE SET stream = excluded.stream",
                    params![e.room_id, e.event_type, key, stream],
                )?;
            }
            tx.commit()?;
            Ok((e.event_id.to_owned(), stream))
        })
    }
    fn state_event(&self, room_id: &str, event_type: &str, state_key: &str) -> StoreResult<Option<StoredEvent>> {
        self.with(|c| {
            c.query_row(
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
            let mut st = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream IN (SELECT stream FROM room_state WHERE room_id = ?1) ORDER BY stream"
            ))?;
            let rows = st.query_map([room_id], row_event)?;
            rows.collect()
        })
    }
    fn membership(&self, room_id: &str, user_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .state_event(room_id, "m.room.member", user_id)?
            .and_then(|e| e.content.get("membership").and_then(Value::as_str).map(str::to_owned)))
    }
    fn rooms_of(&self, user_id: &str) -> StoreResult<Vec<(String, String)>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream IN
                 (SELECT stream FROM room_state WHERE type = 'm.room.member' AND state_key = ?1) ORDER BY stream"
            ))?;
            let rows = st.query_map([user_id], row_event)?;
            let events: Vec<StoredEvent> = rows.collect::<rusqlite::Result<_>>()?;
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
            let mut st = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream"
            ))?;
            let rows = st.query_map(params![room_id, after, upto], row_event)?;
            rows.collect()
        })
    }
    fn events_before(&self, room_id: &str, before: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE room_id = ?1 AND stream < ?2 ORDER BY stream DESC LIMIT ?3"
            ))?;
            let rows = st.query_map(params![room_id, before, limit], row_event)?;
            rows.collect()
        })
    }
    fn max_stream(&self) -> StoreResult<i64> {
        self.with(|c| c.query_row("SELECT COALESCE(MAX(stream), 0) FROM events", [], |r| r.get(0)))
    }
}
