//! `server migrate-db`: copies a SQLite database into an empty PostgreSQL
//! one, and proves the copy whole before committing it.
//!
//! Both are first brought to the newest schema (opening a store migrates
//! it), so their tables and columns are the same; the tables and columns
//! copied are PostgreSQL's, read from its catalogue, so a table added to
//! both schemas later is copied without a change here. The SQLite side is
//! read in one transaction (a consistent snapshot, also of a database a
//! running server is writing to, thanks to WAL), and the PostgreSQL side
//! is written in one: after the rows, each table's count and checksum are
//! read back from PostgreSQL inside the same transaction and compared with
//! SQLite's, and any difference rolls everything back.

use super::conn::{params, Conn, DbError, DbResult, Field, Row};
use super::SqlStore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// What was copied: per table, its rows and their checksum (equal on both
/// databases, or nothing was committed).
#[derive(Debug, PartialEq)]
pub struct Copied {
    pub tables: BTreeMap<String, TableSum>,
}

/// A table's contents in brief: how many rows, and a checksum of them that
/// does not depend on their order (the sum of each row's hash), so that the
/// two databases need not sort text alike.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TableSum {
    pub rows: u64,
    pub checksum: u64,
}

impl TableSum {
    fn add(&mut self, row: &Row) {
        let mut hash = Sha256::new();
        for field in row.fields() {
            match field {
                Field::Null => hash.update([0]),
                Field::Int(n) => {
                    hash.update([1]);
                    hash.update(n.to_le_bytes());
                }
                // SQLite keeps flags as integers: a flag sums as one.
                Field::Bool(b) => {
                    hash.update([1]);
                    hash.update(i64::from(*b).to_le_bytes());
                }
                Field::Text(text) => {
                    hash.update([2]);
                    hash.update((text.len() as u64).to_le_bytes());
                    hash.update(text.as_bytes());
                }
            }
        }
        let digest = hash.finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        self.rows += 1;
        self.checksum = self.checksum.wrapping_add(u64::from_le_bytes(first));
    }
}

/// Copies the SQLite database `from` into the PostgreSQL database `to`,
/// which must hold no rows yet.
pub fn sqlite_to_postgres(from: &Path, to: &str) -> Result<Copied, String> {
    if !from.exists() {
        return Err(format!("{}: no such database file", from.display()));
    }
    let source = SqlStore::sqlite(from)?;
    let target = SqlStore::postgres(to)?;
    let failed = |e: String| DbError::Failed(e);
    let copied = source.with(|sqlite| target.with(|postgres| copy(sqlite, postgres)).map_err(failed))?;
    // Reported once it is on PostgreSQL's disk.
    target.wait_durable()?;
    Ok(copied)
}

/// The tables both databases have, with PostgreSQL's columns: those that
/// only PostgreSQL has are its own (`schema_version`, `flushes`).
fn tables(sqlite: &Conn<'_>, postgres: &Conn<'_>) -> DbResult<BTreeMap<String, Vec<String>>> {
    let in_sqlite: std::collections::BTreeSet<String> =
        sqlite.rows("SELECT name FROM sqlite_master WHERE type = 'table'", params![], |r| {
            r.get(0)
        })?;
    let columns: Vec<(String, String)> = postgres.rows(
        "SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in columns.into_iter().filter(|(table, _)| in_sqlite.contains(table)) {
        tables.entry(table).or_default().push(column);
    }
    Ok(tables)
}

fn copy(sqlite: Conn<'_>, postgres: Conn<'_>) -> DbResult<Copied> {
    let tables = tables(&sqlite, &postgres)?;
    for table in tables.keys() {
        let rows: Vec<i64> = postgres.rows(&format!("SELECT 1 FROM {table} LIMIT 1"), params![], |r| r.get(0))?;
        if !rows.is_empty() {
            return Err(DbError::Failed(format!(
                "the PostgreSQL database is not empty (table {table} has rows): nothing was copied"
            )));
        }
    }
    // One snapshot of SQLite; one transaction (under the write lock) on PostgreSQL.
    let read = sqlite.transaction()?;
    let write = postgres.transaction()?;
    let mut copied = Copied {
        tables: BTreeMap::new(),
    };
    for (table, columns) in &tables {
        let list = columns.join(", ");
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", placeholders.join(", "));
        let mut sum = TableSum::default();
        let rows: Vec<Row> = read.rows(&format!("SELECT {list} FROM {table}"), params![], |r| {
            Ok(Row(r.fields().to_vec()))
        })?;
        for row in &rows {
            let args: Vec<&dyn super::ToArg> = row.fields().iter().map(|f| f as &dyn super::ToArg).collect();
            write
                .run(&insert, &args)
                .map_err(|e| DbError::Failed(format!("copying a row of {table}: {e}")))?;
            sum.add(row);
        }
        copied.tables.insert(table.clone(), sum);
    }
    continue_sequences(&read, &write)?;
    // Read back what PostgreSQL now holds, before it is committed.
    for (table, columns) in &tables {
        let mut sum = TableSum::default();
        let rows: Vec<Row> = write.rows(&format!("SELECT {} FROM {table}", columns.join(", ")), params![], |r| {
            Ok(Row(r.fields().to_vec()))
        })?;
        rows.iter().for_each(|row| sum.add(row));
        let expected = copied.tables[table];
        if sum != expected {
            return Err(DbError::Failed(format!(
                "table {table}: {} rows with checksum {:016x} in SQLite, {} with {:016x} in PostgreSQL: \
                 nothing was copied",
                expected.rows, expected.checksum, sum.rows, sum.checksum
            )));
        }
    }
    write.commit()?;
    drop(read);
    Ok(copied)
}

/// Each identity column (a stream position, a queue ID) goes on after the
/// highest value SQLite ever gave (`sqlite_sequence` remembers those of
/// deleted rows too), so that no position or ID is given twice.
fn continue_sequences(sqlite: &Conn<'_>, postgres: &Conn<'_>) -> DbResult<()> {
    let given: BTreeMap<String, i64> = sqlite.rows("SELECT name, seq FROM sqlite_sequence", params![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    let identities: Vec<(String, String)> = postgres.rows(
        "SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (table, column) in identities {
        let highest: i64 = postgres.row(
            &format!("SELECT COALESCE(MAX({column}), 0) FROM {table}"),
            params![],
            |r| r.get(0),
        )?;
        let next_after = highest.max(given.get(&table).copied().unwrap_or(0));
        if next_after > 0 {
            postgres.row(
                "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3)",
                params![table, column, next_after],
                |r| r.get::<i64>(0),
            )?;
        }
    }
    Ok(())
}
