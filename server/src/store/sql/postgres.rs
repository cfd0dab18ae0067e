//! PostgreSQL under [`Conn`](super::Conn): a pool of connections, each
//! with its prepared statements, and the migrations run at open.
//!
//! The store's trait is synchronous (SQLite's calls are), and tokio's
//! PostgreSQL client is asynchronous: each connection's socket is driven
//! by a task on a small runtime of the store's own, on its own thread, and
//! a store call waits for its answers where it is, as it waits for
//! SQLite's. Write transactions commit without waiting for the disk, and
//! every answer waits for a flush that covers them, shared by the answers
//! waiting at once ([`PgDb::wait_durable`]), as on SQLite.

use super::conn::{Arg, Conn, DbError, DbResult, Field, Row, ToArg};
use super::processes::{AppendLock, Processes};
use bytes::BytesMut;
use futures_executor::block_on;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

/// The key of the advisory lock that every write transaction takes.
const WRITE_LOCK: i64 = 0x6d61_7472_6978;

/// How many connections one process keeps at most.
const POOL_SIZE: u32 = 16;

/// One connection, used by one store call at a time.
pub struct PgConn {
    client: Client,
    /// Prepared statements by their SQL as the store writes it.
    statements: RefCell<HashMap<String, Statement>>,
    /// Write transactions committed through any connection of the pool
    /// (see [`PgDb::wait_durable`]).
    commits: Arc<AtomicU64>,
}

impl PgConn {
    fn statement(&self, sql: &str) -> DbResult<Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(self.client.prepare(&numbered(sql)))?;
        self.statements.borrow_mut().insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(super) fn run(&self, sql: &str, args: &[&dyn ToArg]) -> DbResult<usize> {
        let statement = self.statement(sql)?;
        let args: Vec<Arg<'_>> = args.iter().map(|a| a.arg()).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        let changed = block_on(self.client.execute(&statement, &refs))?;
        Ok(changed as usize)
    }

    pub(super) fn query(&self, sql: &str, args: &[&dyn ToArg]) -> DbResult<Vec<Row>> {
        let statement = self.statement(sql)?;
        let args: Vec<Arg<'_>> = args.iter().map(|a| a.arg()).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        let rows = block_on(self.client.query(&statement, &refs))?;
        rows.iter()
            .map(|row| {
                let fields = (0..row.len())
                    .map(|i| row.try_get::<_, Field>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row(fields))
            })
            .collect()
    }

    pub(super) fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(block_on(self.client.batch_execute(sql))?)
    }

    /// Whether the connection has ended (the server went away).
    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// `BEGIN`, then the write lock (see [`Conn::transaction`]).
    ///
    /// The commit does not wait for the disk (`synchronous_commit = off`
    /// for this transaction), so the lock is not held through a flush;
    /// answers wait for one instead ([`PgDb::wait_durable`]).
    pub(super) fn begin_locked(&self) -> DbResult<()> {
        self.batch(&format!(
            "BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ))
    }

    /// `COMMIT` of a transaction [`begin_locked`](Self::begin_locked) began.
    pub(super) fn commit(&self) -> DbResult<()> {
        self.batch("COMMIT")?;
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `?N` → `$N`, outside quoted text: the store writes SQLite's parameters.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

impl ToSql for Arg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (*self, ty) {
            (Arg::Null, _) => Ok(IsNull::Yes),
            (Arg::Text(text), _) => text.to_sql(ty, out),
            (Arg::Bool(b), &Type::BOOL) => b.to_sql(ty, out),
            (Arg::Int(n), &Type::BOOL) => (n != 0).to_sql(ty, out),
            (Arg::Int(n), &Type::INT8) => n.to_sql(ty, out),
            (Arg::Int(n), &Type::INT4) => i32::try_from(n)?.to_sql(ty, out),
            (Arg::Int(n), &Type::INT2) => i16::try_from(n)?.to_sql(ty, out),
            (Arg::Bool(b), &Type::INT8) => i64::from(b).to_sql(ty, out),
            (Arg::Bool(b), &Type::INT4) => i32::from(b).to_sql(ty, out),
            (arg, ty) => Err(format!("{arg:?} where PostgreSQL expects {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked by value in `to_sql`, which knows the argument.
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Field {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Field, Box<dyn Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Field::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Field::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Field::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Field::Bool(bool::from_sql(ty, raw)?),
            _ => Field::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Field, Box<dyn Error + Sync + Send>> {
        Ok(Field::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL | Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME
        )
    }
}

/// The thread whose runtime drives every connection's socket.
struct Driver {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Driver {
    fn start() -> DbResult<Driver> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Failed(format!("starting the PostgreSQL driver: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                })
            })
            .map_err(|e| DbError::Failed(format!("starting the PostgreSQL driver: {e}")))?;
        Ok(Driver {
            handle,
            stop: Some(stop),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Makes the pool's connections.
#[derive(Clone)]
pub(super) struct Connector {
    url: String,
    driver: tokio::runtime::Handle,
    /// Shared by every connection made: see [`PgConn::commits`].
    commits: Arc<AtomicU64>,
}

impl r2d2::ManageConnection for Connector {
    type Connection = PgConn;
    type Error = DbError;

    fn connect(&self) -> DbResult<PgConn> {
        let url = self.url.clone();
        let connecting = self.driver.spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!("PostgreSQL connection: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = block_on(connecting).map_err(|e| DbError::Failed(format!("connecting: {e}")))??;
        Ok(PgConn {
            client,
            statements: RefCell::new(HashMap::new()),
            commits: self.commits.clone(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> DbResult<()> {
        conn.batch("")
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// One PostgreSQL database, through a pool of connections.
pub(super) struct PgDb {
    pool: r2d2::Pool<Connector>,
    /// For the connections outside the pool (the senders' claim).
    connector: Connector,
    /// The commits the last flush covered (see [`PgDb::wait_durable`]).
    synced: Mutex<u64>,
    processes: Processes,
    // Dropped after the pool, whose connections it drives.
    _driver: Driver,
}

impl PgDb {
    /// Connects (a wrong URL or a server that is down is said at once) and
    /// runs the migrations not run yet.
    pub(super) fn open(url: &str, migrations: &[&str]) -> DbResult<PgDb> {
        let driver = Driver::start()?;
        let connector = Connector {
            url: url.to_owned(),
            driver: driver.handle.clone(),
            commits: Arc::new(AtomicU64::new(0)),
        };
        let first = r2d2::ManageConnection::connect(&connector)?;
        migrate(Conn::Postgres(&first), migrations)?;
        let processes = Processes::start(url, driver.handle.clone());
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .build_unchecked(connector.clone());
        Ok(PgDb {
            pool,
            connector,
            synced: Mutex::new(0),
            processes,
            _driver: driver,
        })
    }

    fn pooled(&self) -> DbResult<r2d2::PooledConnection<Connector>> {
        self.pool
            .get()
            .map_err(|e| DbError::Failed(format!("no PostgreSQL connection: {e}")))
    }

    /// Returns once every write transaction this process committed before
    /// the call is on PostgreSQL's disk: group commit, as SQLite's store
    /// does it. Commits do not wait for the disk (see `begin_locked`);
    /// an answer waits here, and the answers waiting at once share one
    /// flush: a small synchronous transaction that writes one row (a
    /// transaction that writes nothing is not flushed), whose commit
    /// PostgreSQL flushes the log up to, past every commit before it.
    /// Nothing to do when nothing was committed since.
    pub(super) fn wait_durable(&self) -> DbResult<()> {
        let written = self.connector.commits.load(Ordering::SeqCst);
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= written {
            return Ok(());
        }
        let covered = self.connector.commits.load(Ordering::SeqCst);
        self.with(|c| c.batch("UPDATE flushes SET n = n + 1"))?;
        *synced = covered;
        Ok(())
    }

    /// See [`Processes`]: the signals other processes hear.
    pub(super) fn processes(&self) -> &Processes {
        &self.processes
    }

    /// Holds the append lock of every process until the lock is dropped.
    pub(super) fn lock_appends(&self) -> DbResult<AppendLock> {
        AppendLock::take(self.pooled()?)
    }

    /// Whether this process sends the stored queues (see [`Processes`]).
    pub(super) fn claim_senders(&self) -> DbResult<bool> {
        self.processes.claim_senders(&self.connector)
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&PgConn) -> DbResult<T>) -> DbResult<T> {
        let conn = self.pooled()?;
        f(&conn)
    }
}

/// Runs the migrations past the database's version, in one transaction
/// under the write lock: two processes starting at once migrate once.
fn migrate(c: Conn<'_>, migrations: &[&str]) -> DbResult<()> {
    let tx = c.transaction()?;
    // No notice that the table exists: the server's first line of output
    // is where it listens.
    tx.batch(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
    )?;
    let version: i64 = tx.row("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[], |r| {
        r.get(0)
    })?;
    for migration in migrations.iter().skip(version as usize) {
        tx.batch(migration)?;
    }
    if migrations.len() as i64 > version {
        tx.run("DELETE FROM schema_version", &[])?;
        tx.run(
            "INSERT INTO schema_version (version) VALUES (?1)",
            &[&(migrations.len() as i64)],
        )?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_numbered_outside_quotes() {
        assert_eq!(
            super::numbered("SELECT '?1' FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1' FROM t WHERE a = $1 AND b = $12"
        );
    }
}
