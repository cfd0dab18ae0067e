//! One way to run the store's SQL on either database.
//!
//! The store's statements are written once, in the SQL that SQLite and
//! PostgreSQL share (`?N` parameters, `ON CONFLICT`, `RETURNING`,
//! `TRUE`/`FALSE`), and run through a [`Conn`]: on SQLite directly, on
//! PostgreSQL with `?N` turned into `$N`. Arguments go as [`Arg`]s, which
//! each database takes in the column's own type (an integer flag becomes a
//! PostgreSQL `BOOLEAN` where the column is one), and rows come back as
//! [`Row`]s of owned [`Field`]s. Statements are prepared once per
//! connection and reused, on both databases.

use super::postgres::PgConn;
use std::fmt;
use std::ops::Deref;

pub type DbResult<T> = Result<T, DbError>;

/// Why a statement failed.
#[derive(Debug)]
pub enum DbError {
    /// A statement that must return a row returned none.
    NoRows,
    /// The database's own error, as it words it.
    Failed(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::NoRows => f.write_str("no row where one was expected"),
            DbError::Failed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        match e {
            rusqlite::Error::QueryReturnedNoRows => DbError::NoRows,
            e => DbError::Failed(e.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> DbError {
        // The server's message (with its detail) says more than the
        // client's summary ("db error").
        match e.as_db_error() {
            Some(db) => DbError::Failed(match db.detail() {
                Some(detail) => format!("{}: {detail}", db.message()),
                None => db.message().to_owned(),
            }),
            None => DbError::Failed(e.to_string()),
        }
    }
}

/// `.optional()` on a single-row result: no row is `None`, not an error.
pub trait Optional<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> Optional<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One statement argument, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
}

/// What can be a statement argument.
pub trait ToArg {
    fn arg(&self) -> Arg<'_>;
}

impl ToArg for str {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for String {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for i64 {
    fn arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}

impl ToArg for bool {
    fn arg(&self) -> Arg<'_> {
        Arg::Bool(*self)
    }
}

impl<T: ToArg> ToArg for Option<T> {
    fn arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::arg)
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn arg(&self) -> Arg<'_> {
        (**self).arg()
    }
}

/// The arguments of a statement: `params![a, b]`.
macro_rules! params {
    ($($arg:expr),* $(,)?) => {
        &[$(&$arg as &dyn $crate::store::sql::ToArg),*] as &[&dyn $crate::store::sql::ToArg]
    };
}
pub(crate) use params;

/// One column's value in a result row.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
}

impl ToArg for Field {
    fn arg(&self) -> Arg<'_> {
        match self {
            Field::Null => Arg::Null,
            Field::Int(n) => Arg::Int(*n),
            Field::Bool(b) => Arg::Bool(*b),
            Field::Text(text) => Arg::Text(text),
        }
    }
}

/// What a column's value can be read as.
pub trait FromField: Sized {
    fn from_field(field: &Field) -> DbResult<Self>;
}

fn mismatch<T>(field: &Field, wanted: &str) -> DbResult<T> {
    Err(DbError::Failed(format!(
        "a column holds {field:?} where {wanted} was expected"
    )))
}

impl FromField for String {
    fn from_field(field: &Field) -> DbResult<Self> {
        match field {
            Field::Text(text) => Ok(text.clone()),
            other => mismatch(other, "text"),
        }
    }
}

impl FromField for i64 {
    fn from_field(field: &Field) -> DbResult<Self> {
        match *field {
            Field::Int(n) => Ok(n),
            Field::Bool(b) => Ok(b.into()),
            ref other => mismatch(other, "an integer"),
        }
    }
}

impl FromField for bool {
    fn from_field(field: &Field) -> DbResult<Self> {
        match *field {
            Field::Bool(b) => Ok(b),
            // SQLite keeps flags as integers.
            Field::Int(n) => Ok(n != 0),
            ref other => mismatch(other, "a flag"),
        }
    }
}

impl<T: FromField> FromField for Option<T> {
    fn from_field(field: &Field) -> DbResult<Self> {
        match field {
            Field::Null => Ok(None),
            other => T::from_field(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug)]
pub struct Row(pub(super) Vec<Field>);

impl Row {
    /// Every column, in the order selected.
    pub fn fields(&self) -> &[Field] {
        &self.0
    }

    /// Column `index` (from 0) as a `T`.
    pub fn get<T: FromField>(&self, index: usize) -> DbResult<T> {
        match self.0.get(index) {
            Some(field) => T::from_field(field),
            None => Err(DbError::Failed(format!(
                "no column {index} in a row of {}",
                self.0.len()
            ))),
        }
    }
}

/// A connection to either database, borrowed for one store call.
#[derive(Clone, Copy)]
pub enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c PgConn),
}

impl<'c> Conn<'c> {
    /// Runs a statement; how many rows it changed.
    pub fn run(&self, sql: &str, args: &[&dyn ToArg]) -> DbResult<usize> {
        match self {
            Conn::Sqlite(c) => super::sqlite::run(c, sql, args),
            Conn::Postgres(c) => c.run(sql, args),
        }
    }

    /// The first row of a query, through `f`; [`DbError::NoRows`] if none.
    pub fn row<T>(&self, sql: &str, args: &[&dyn ToArg], f: impl FnOnce(&Row) -> DbResult<T>) -> DbResult<T> {
        let rows = self.query(sql, args)?;
        f(rows.first().ok_or(DbError::NoRows)?)
    }

    /// Every row of a query, each through `f`.
    pub fn rows<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<C> {
        self.query(sql, args)?.iter().map(f).collect()
    }

    fn query(&self, sql: &str, args: &[&dyn ToArg]) -> DbResult<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => super::sqlite::query(c, sql, args),
            Conn::Postgres(c) => c.query(sql, args),
        }
    }

    /// Runs statements without arguments, one after the other.
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => c.batch(sql),
        }
    }

    /// Starts a write transaction, rolled back unless committed.
    ///
    /// On PostgreSQL it also takes the store's write lock, which every
    /// write transaction of every process sharing the database takes: so
    /// stream positions are handed out in the order their transactions
    /// commit (no reader ever sees position 7 before 6 is visible), and a
    /// check-then-write (a transaction ID seen before?) holds as it does on
    /// SQLite, whose writers are one at a time anyway.
    pub fn transaction(self) -> DbResult<Tx<'c>> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN")?,
            Conn::Postgres(c) => c.begin_locked()?,
        }
        Ok(Tx { conn: self, open: true })
    }
}

/// A transaction in progress.
pub struct Tx<'c> {
    conn: Conn<'c>,
    open: bool,
}

impl<'c> Deref for Tx<'c> {
    type Target = Conn<'c>;
    fn deref(&self) -> &Conn<'c> {
        &self.conn
    }
}

impl Tx<'_> {
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        match self.conn {
            Conn::Sqlite(c) => Ok(c.execute_batch("COMMIT")?),
            Conn::Postgres(c) => c.commit(),
        }
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of it was acknowledged; if the rollback fails, the
            // connection's next statement reports it.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
