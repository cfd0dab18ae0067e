//! [`Storage`](super::Storage) on SQL: SQLite (one file, the default) or
//! PostgreSQL (a server, which several homeserver processes can share).
//!
//! The store's code and statements are one, written in the SQL both
//! databases understand ([`conn`]); what differs is how each is reached
//! ([`sqlite`], [`postgres`]) and its schema ([`migrations`]).

mod appservices;
mod conn;
mod keys;
pub mod migrate;
mod migrations;
pub(crate) mod postgres;
mod processes;
mod pushers;
mod sqlite;
mod sqlite_durable;
mod state;
mod store;
pub mod threepids;

pub use conn::{Conn, DbError, DbResult, Field, Optional, Row, ToArg, Tx};
pub use processes::EVERYTHING;

use super::StoreResult;
use std::path::Path;

/// The homeserver's store on either database.
pub struct SqlStore {
    db: Database,
}

enum Database {
    Sqlite(sqlite::SqliteDb),
    Postgres(Box<postgres::PgDb>),
}

impl SqlStore {
    /// Opens (or creates) a SQLite database file.
    pub fn sqlite(path: &Path) -> StoreResult<SqlStore> {
        let db = sqlite::SqliteDb::open(path, migrations::SQLITE).map_err(|e| e.to_string())?;
        Ok(SqlStore {
            db: Database::Sqlite(db),
        })
    }

    /// Connects to a PostgreSQL database (`postgres://user@host:port/name`).
    pub fn postgres(url: &str) -> StoreResult<SqlStore> {
        let db = postgres::PgDb::open(url, migrations::POSTGRES)
            .map_err(|e| format!("PostgreSQL at {}: {e}", shown(Path::new(url))))?;
        Ok(SqlStore {
            db: Database::Postgres(Box::new(db)),
        })
    }

    /// Opens the database `location` names: a PostgreSQL URL, or else the
    /// path of a SQLite file.
    pub fn open(location: &Path) -> StoreResult<SqlStore> {
        match location.to_str().filter(|l| is_postgres_url(l)) {
            Some(url) => SqlStore::postgres(url),
            None => SqlStore::sqlite(location),
        }
    }

    /// Which database this is, for messages: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Runs `f` on a connection (SQLite's one, or one from the pool).
    pub(super) fn with<T>(&self, f: impl FnOnce(Conn<'_>) -> DbResult<T>) -> StoreResult<T> {
        match &self.db {
            Database::Sqlite(db) => db.with(|c| f(Conn::Sqlite(c))),
            Database::Postgres(db) => db.with(|c| f(Conn::Postgres(c))),
        }
        .map_err(|e| e.to_string())
    }

    fn wait_durable(&self) -> StoreResult<()> {
        match &self.db {
            Database::Sqlite(db) => db.wait_durable(),
            Database::Postgres(db) => db.wait_durable().map_err(|e| e.to_string()),
        }
    }

    /// See [`Storage::lock_appends`](super::Storage::lock_appends).
    fn lock_appends(&self) -> StoreResult<super::Held> {
        match &self.db {
            // One process: the homeserver's own mutex is all there is to hold.
            Database::Sqlite(_) => Ok(Box::new(())),
            Database::Postgres(db) => Ok(Box::new(db.lock_appends().map_err(|e| e.to_string())?)),
        }
    }

    fn claim_senders(&self) -> StoreResult<bool> {
        match &self.db {
            Database::Sqlite(_) => Ok(true),
            Database::Postgres(db) => db.claim_senders().map_err(|e| e.to_string()),
        }
    }

    fn publish(&self, signal: &str) {
        if let Database::Postgres(db) = &self.db {
            db.processes().publish(signal);
        }
    }

    fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        match &self.db {
            Database::Sqlite(_) => None,
            Database::Postgres(db) => Some(db.processes().subscribe()),
        }
    }

    /// How many times SQLite's WAL was synced to disk (see `sqlite_durable`).
    #[cfg(test)]
    fn flushes(&self) -> u64 {
        match &self.db {
            Database::Sqlite(db) => db.flushes(),
            Database::Postgres(_) => 0,
        }
    }
}

/// Whether a `--db` value is a PostgreSQL URL rather than a file's path.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A database's location as it may be logged: a URL's password is hidden.
pub fn shown(location: &Path) -> String {
    let text = location.display().to_string();
    let Some((scheme, rest)) = text.split_once("://").filter(|_| is_postgres_url(&text)) else {
        return text;
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{scheme}://{name}:***@{host}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
