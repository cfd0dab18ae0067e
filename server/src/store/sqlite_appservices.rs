//! [`AppServiceStorage`] on SQLite.

use super::appservices::{AppServiceStorage, PendingTransaction};
use super::sqlite::{row_event, SqliteStore, EVENT_COLUMNS};
use super::{StoreResult, StoredEvent};
use rusqlite::{params, OptionalExtension};

pub(super) const MIGRATION: &str = "
    CREATE TABLE appservice_state (
        id TEXT PRIMARY KEY, sent_stream INTEGER NOT NULL, transactions INTEGER NOT NULL,
        pending_txn TEXT, pending_upto INTEGER, pending_events TEXT
    );
";

impl AppServiceStorage for SqliteStore {
    fn appservice_position(&self, id: &str, start: i64) -> StoreResult<i64> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO appservice_state (id, sent_stream, transactions) VALUES (?1, ?2, 0)",
                params![id, start],
            )?;
            c.query_row("SELECT sent_stream FROM appservice_state WHERE id = ?1", [id], |r| {
                r.get(0)
            })
        })
    }

    fn appservice_pending(&self, id: &str) -> StoreResult<Option<PendingTransaction>> {
        self.with(|c| {
            let found: Option<(Option<String>, Option<i64>, Option<String>)> = c
                .query_row(
                    "SELECT pending_txn, pending_upto, pending_events FROM appservice_state WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            Ok(match found {
                Some((Some(txn_id), Some(upto), Some(events))) => Some(PendingTransaction {
                    txn_id,
                    upto,
                    event_ids: serde_json::from_str(&events).unwrap_or_default(),
                }),
                _ => None,
            })
        })
    }

    fn make_appservice_transaction(
        &self,
        id: &str,
        upto: i64,
        event_ids: &[String],
    ) -> StoreResult<PendingTransaction> {
        let events = serde_json::to_string(event_ids).map_err(|e| e.to_string())?;
        self.with(|c| {
            let tx = c.transaction()?;
            let number: i64 = tx.query_row(
                "UPDATE appservice_state SET transactions = transactions + 1 WHERE id = ?1 RETURNING transactions",
                [id],
                |r| r.get(0),
            )?;
            let txn_id = number.to_string();
            tx.execute(
                "UPDATE appservice_state SET pending_txn = ?2, pending_upto = ?3, pending_events = ?4 WHERE id = ?1",
                params![id, txn_id, upto, events],
            )?;
            tx.commit()?;
            Ok(PendingTransaction {
                txn_id,
                upto,
                event_ids: event_ids.to_vec(),
            })
        })
    }

    fn appservice_sent(&self, id: &str, upto: i64) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE appservice_state SET sent_stream = max(sent_stream, ?2),
                     pending_txn = NULL, pending_upto = NULL, pending_events = NULL WHERE id = ?1",
                params![id, upto],
            )
            .map(drop)
        })
    }

    fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream > ?1 AND NOT soft_failed ORDER BY stream LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after, limit], row_event)?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_stays_pending_until_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hs.db")).unwrap();
        assert_eq!(store.appservice_position("echo", 5).unwrap(), 5);
        // Seen before: where it was.
        assert_eq!(store.appservice_position("echo", 9).unwrap(), 5);
        assert_eq!(store.appservice_pending("echo").unwrap(), None);
        let first = store.make_appservice_transaction("echo", 7, &["$a".into()]).unwrap();
        assert_eq!(first.txn_id, "1");
        assert_eq!(store.appservice_pending("echo").unwrap(), Some(first));
        store.appservice_sent("echo", 7).unwrap();
        assert_eq!(store.appservice_pending("echo").unwrap(), None);
        assert_eq!(store.appservice_position("echo", 0).unwrap(), 7);
        let second = store.make_appservice_transaction("echo", 8, &[]).unwrap();
        assert_eq!(second.txn_id, "2");
    }
}
