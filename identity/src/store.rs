//! What the identity server keeps, in one SQLite file (WAL): accounts
//! (tokens of users who registered through their homeserver's OpenID),
//! validation sessions, bindings, stored invites and their ephemeral keys,
//! and the lookup pepper. Each write is one transaction.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bindings (
    medium TEXT NOT NULL, address TEXT NOT NULL, mxid TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (medium, address)
);
CREATE TABLE IF NOT EXISTS invites (
    token TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, room_id TEXT NOT NULL,
    sender TEXT NOT NULL, created_ts INTEGER NOT NULL, delivered_ts INTEGER
);
CREATE TABLE IF NOT EXISTS ephemeral_keys (public_key TEXT PRIMARY KEY, private_key TEXT NOT NULL, invite_token TEXT NOT NULL);
";

pub type Result<T> = std::result::Result<T, String>;

use server::store::sql::{threepids as sessions, Conn};
/// A validation session (`requestToken` → `submitToken`), kept as the
/// homeserver keeps its own.
pub use server::store::ValidationSession as Session;

/// An invite stored for an address nobody has bound yet.
#[derive(Clone, Debug)]
pub struct Invite {
    pub token: String,
    pub medium: String,
    pub address: String,
    pub room_id: String,
    pub sender: String,
}

pub struct Store {
    connection: Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> String {
    format!("database: {e}")
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let connection = Connection::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(err)?;
        // The sessions' table had this server's own name before it was
        // shared with the homeserver's.
        let old_sessions: bool = connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessions'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if old_sessions {
            connection
                .execute_batch("ALTER TABLE sessions RENAME TO threepid_sessions")
                .map_err(err)?;
        }
        connection.execute_batch(SCHEMA).map_err(err)?;
        connection.execute_batch(sessions::SESSIONS_TABLE).map_err(err)?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut connection).map_err(err)
    }

    /// Runs the homeserver's statements on the sessions' table, which
    /// this file shares with it.
    fn with_shared<T>(&self, f: impl FnOnce(Conn<'_>) -> server::store::sql::DbResult<T>) -> Result<T> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        f(Conn::Sqlite(&connection)).map_err(|e| format!("database: {e}"))
    }

    /// A setting, made by `make` and kept the first time it is asked for.
    pub fn setting(&self, key: &str, make: impl FnOnce() -> String) -> Result<String> {
        self.with(|c| {
            let tx = c.transaction()?;
            let found: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            let value = match found {
                Some(value) => value,
                None => {
                    let value = make();
                    tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", params![key, value])?;
                    value
                }
            };
            tx.commit()?;
            Ok(value)
        })
    }

    pub fn add_account(&self, token: &str, user_id: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO accounts (token, user_id, created_ts) VALUES (?1, ?2, ?3)",
                params![token, user_id, now],
            )
            .map(drop)
        })
    }

    pub fn account(&self, token: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT user_id FROM accounts WHERE token = ?1", [token], |r| r.get(0))
                .optional()
        })
    }

    pub fn remove_account(&self, token: &str) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM accounts WHERE token = ?1", [token]).map(drop))
    }

    /// The session of this client secret and address, made from `new` if
    /// there is none; whether the email must be sent (a new session, or a
    /// new attempt).
    pub fn session_for(&self, new: Session, now: i64) -> Result<(Session, bool)> {
        self.with_shared(|c| sessions::session_for(c, new, now))
    }

    pub fn session(&self, sid: &str) -> Result<Option<Session>> {
        self.with_shared(|c| sessions::session(&c, sid))
    }

    /// Marks the session validated (the first time only); when it was.
    pub fn validate_session(&self, sid: &str, now: i64) -> Result<Option<i64>> {
        self.with_shared(|c| sessions::validate_session(&c, sid, now))
    }

    /// Binds the address to `mxid`, replacing an earlier binding.
    pub fn bind(&self, medium: &str, address: &str, mxid: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO bindings (medium, address, mxid, ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (medium, address) DO UPDATE SET mxid = excluded.mxid, ts = excluded.ts",
                params![medium, address, mxid, now],
            )
            .map(drop)
        })
    }

    /// Invites not yet handed to a homeserver whose address is now bound,
    /// with the user it is bound to, oldest first.
    pub fn deliverable_invites(&self) -> Result<Vec<(Invite, String)>> {
        self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT i.token, i.medium, i.address, i.room_id, i.sender, b.mxid
                 FROM invites i JOIN bindings b ON b.medium = i.medium AND b.address = i.address
                 WHERE i.delivered_ts IS NULL ORDER BY i.created_ts",
            )?;
            let rows = statement.query_map([], |r| {
                let invite = Invite {
                    token: r.get(0)?,
                    medium: r.get(1)?,
                    address: r.get(2)?,
                    room_id: r.get(3)?,
                    sender: r.get(4)?,
                };
                Ok((invite, r.get(5)?))
            })?;
            rows.collect()
        })
    }

    /// Marks invites as handed over (their homeserver accepted them).
    pub fn mark_delivered(&self, tokens: &[String], now: i64) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for token in tokens {
                tx.execute(
                    "UPDATE invites SET delivered_ts = ?2 WHERE token = ?1",
                    params![token, now],
                )?;
            }
            tx.commit()
        })
    }

    /// Removes the binding if it is to `mxid`; whether there was one.
    pub fn unbind(&self, medium: &str, address: &str, mxid: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "DELETE FROM bindings WHERE medium = ?1 AND address = ?2 AND mxid = ?3",
                params![medium, address, mxid],
            )
            .map(|n| n > 0)
        })
    }

    /// Every binding: `(medium, address, mxid)`.
    pub fn bindings(&self) -> Result<Vec<(String, String, String)>> {
        self.with(|c| {
            let mut statement = c.prepare_cached("SELECT medium, address, mxid FROM bindings")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    pub fn binding(&self, medium: &str, address: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT mxid FROM bindings WHERE medium = ?1 AND address = ?2",
                params![medium, address],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Stores an invite with its ephemeral key pair (base64, public first).
    pub fn add_invite(&self, invite: &Invite, ephemeral: (&str, &str), now: i64) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO invites (token, medium, address, room_id, sender, created_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![invite.token, invite.medium, invite.address, invite.room_id, invite.sender, now],
            )?;
            tx.execute(
                "INSERT INTO ephemeral_keys (public_key, private_key, invite_token) VALUES (?1, ?2, ?3)",
                params![ephemeral.0, ephemeral.1, invite.token],
            )?;
            tx.commit()
        })
    }

    pub fn invite_sender(&self, token: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT sender FROM invites WHERE token = ?1", [token], |r| r.get(0))
                .optional()
        })
    }

    pub fn ephemeral_key_exists(&self, public_key: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM ephemeral_keys WHERE public_key = ?1",
                [public_key],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
    }
}
