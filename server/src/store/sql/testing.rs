//! Store tests run on both databases: a fresh SQLite file and a fresh
//! PostgreSQL database (on the tests' own server, `matrix_api_tests::postgres`).

use super::SqlStore;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Runs `test` on each database in turn; a failure says which one failed.
pub(crate) fn on_each_database(purpose: &str, test: impl Fn(&SqlStore)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = || SqlStore::sqlite(&dir.path().join("hs.db"));
    let postgres = || SqlStore::postgres(&matrix_api_tests::postgres::database(purpose));
    type Open<'a> = &'a dyn Fn() -> Result<SqlStore, String>;
    let databases: [(&str, Open<'_>); 2] = [("sqlite", &sqlite), ("postgres", &postgres)];
    for (name, open) in databases {
        let store = open().unwrap_or_else(|e| panic!("{purpose}, on {name}: opening the store: {e}"));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| test(&store))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
            match message {
                Some(message) => panic!("{purpose}, on {name}: {message}"),
                None => resume_unwind(panic),
            }
        }
    }
}
