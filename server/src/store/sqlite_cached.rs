//! Statements through the connection's prepared-statement cache.
//!
//! `Connection::execute` and `query_row` parse their SQL on every call;
//! appending one message runs a dozen statements (one per notification,
//! extremity and queued PDU), and parsing them again each time cost about
//! as much as running them. The store's statements are fixed strings, so
//! each is parsed once per connection and reused from the cache.

use rusqlite::{Connection, Params, Row};

/// How many distinct statements the cache keeps: more than the store has.
pub(super) const CAPACITY: usize = 256;

/// `execute` and `query_row` with the statement cached (for a statement
/// to step through, `Connection::prepare_cached`).
pub(super) trait Cached {
    fn run<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}
