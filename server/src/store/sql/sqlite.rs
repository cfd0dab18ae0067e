//! SQLite under [`Conn`](super::Conn): one connection behind a mutex
//! (SQLite serialises writers anyway), WAL mode with group commit
//! (`sqlite_durable`), and the migrations run when the file is opened.

use super::conn::{Arg, DbResult, Field, Row, ToArg};
use super::sqlite_durable::GroupSync;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params_from_iter, Connection};
use std::path::Path;
use std::sync::Mutex;

/// How many distinct statements the cache keeps: more than the store has.
/// Appending one message runs a dozen statements; parsing them again each
/// time cost about as much as running them.
const STATEMENT_CACHE: usize = 256;

/// One SQLite database file.
pub(super) struct SqliteDb {
    conn: Mutex<Connection>,
    durable: GroupSync,
}

impl SqliteDb {
    pub(super) fn open(path: &Path, migrations: &[&str]) -> DbResult<SqliteDb> {
        let conn = Connection::open(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Commits do not wait for the disk; answers do (`sqlite_durable`).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, migration) in migrations.iter().enumerate().skip(version as usize) {
            conn.execute_batch(&format!("BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
        }
        let durable = GroupSync::new(path)
            .map_err(|e| super::DbError::Failed(format!("syncing the folder of {}: {e}", path.display())))?;
        // The migrations are on disk before the first request.
        durable
            .wait(1, || Ok(conn.total_changes()))
            .map_err(super::DbError::Failed)?;
        Ok(SqliteDb {
            conn: Mutex::new(conn),
            durable,
        })
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn)
    }

    /// Returns once every write made before the call is on disk.
    pub(super) fn wait_durable(&self) -> Result<(), String> {
        let changes = || Ok(self.with(|c| c.total_changes()));
        self.durable.wait(changes()?, changes)
    }

    #[cfg(test)]
    pub(super) fn flushes(&self) -> u64 {
        self.durable.flushes()
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Null => ToSqlOutput::Owned(Value::Null),
            Arg::Int(n) => ToSqlOutput::Owned(Value::Integer(n)),
            Arg::Bool(b) => ToSqlOutput::Owned(Value::Integer(b.into())),
            Arg::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

fn field(value: ValueRef<'_>) -> DbResult<Field> {
    Ok(match value {
        ValueRef::Null => Field::Null,
        ValueRef::Integer(n) => Field::Int(n),
        ValueRef::Text(bytes) => Field::Text(
            std::str::from_utf8(bytes)
                .map_err(|e| super::DbError::Failed(format!("text that is not UTF-8: {e}")))?
                .to_owned(),
        ),
        other => {
            return Err(super::DbError::Failed(format!(
                "a column of type {} where the store keeps none",
                other.data_type()
            )))
        }
    })
}

fn args<'a>(args: &'a [&'a dyn ToArg]) -> impl Iterator<Item = Arg<'a>> {
    args.iter().map(|a| a.arg())
}

pub(super) fn run(c: &Connection, sql: &str, arguments: &[&dyn ToArg]) -> DbResult<usize> {
    Ok(c.prepare_cached(sql)?.execute(params_from_iter(args(arguments)))?)
}

pub(super) fn query(c: &Connection, sql: &str, arguments: &[&dyn ToArg]) -> DbResult<Vec<Row>> {
    let mut statement = c.prepare_cached(sql)?;
    let columns = statement.column_count();
    let mut rows = statement.query(params_from_iter(args(arguments)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let fields = (0..columns)
            .map(|i| field(row.get_ref(i)?))
            .collect::<DbResult<Vec<Field>>>()?;
        out.push(Row(fields));
    }
    Ok(out)
}
