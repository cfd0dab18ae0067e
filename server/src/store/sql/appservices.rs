//! [`AppServiceStorage`] on SQL.

use super::conn::{params, Optional};
use super::store::{row_event, row_presence, row_receipt, EVENT_COLUMNS, PRESENCE_COLUMNS, RECEIPT_COLUMNS};
use super::SqlStore;
use crate::store::appservices::{AppServiceStorage, PendingTransaction, StreamPositions};
use crate::store::{Presence, Receipt, StoreResult, StoredEvent};

pub(super) const MIGRATION: &str = "
    CREATE TABLE appservice_state (
        id TEXT PRIMARY KEY, sent_stream INTEGER NOT NULL, transactions INTEGER NOT NULL,
        pending_txn TEXT, pending_upto INTEGER, pending_events TEXT
    );
";

pub(super) const EPHEMERAL_MIGRATION: &str = "
    ALTER TABLE appservice_state ADD COLUMN sent_side INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE appservice_state ADD COLUMN pending_side INTEGER;
    ALTER TABLE appservice_state ADD COLUMN pending_ephemeral TEXT;
";

fn json_list(list: &[String]) -> StoreResult<String> {
    serde_json::to_string(list).map_err(|e| e.to_string())
}

impl AppServiceStorage for SqlStore {
    fn appservice_position(&self, id: &str, start: StreamPositions) -> StoreResult<StreamPositions> {
        self.with(|c| {
            c.run(
                "INSERT INTO appservice_state (id, sent_stream, sent_side, transactions)
                 VALUES (?1, ?2, ?3, 0) ON CONFLICT DO NOTHING",
                params![id, start.events, start.side],
            )?;
            c.row(
                "SELECT sent_stream, sent_side FROM appservice_state WHERE id = ?1",
                params![id],
                |r| {
                    Ok(StreamPositions {
                        events: r.get(0)?,
                        side: r.get(1)?,
                    })
                },
            )
        })
    }

    fn appservice_pending(&self, id: &str) -> StoreResult<Option<PendingTransaction>> {
        type Row = (Option<String>, Option<i64>, Option<i64>, Option<String>, Option<String>);
        self.with(|c| {
            let found: Option<Row> = c
                .row(
                    "SELECT pending_txn, pending_upto, pending_side, pending_events, pending_ephemeral
                     FROM appservice_state WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            Ok(match found {
                Some((Some(txn_id), Some(events_upto), side_upto, Some(events), ephemeral)) => {
                    let list = |json: &str| serde_json::from_str(json).unwrap_or_default();
                    Some(PendingTransaction {
                        txn_id,
                        upto: StreamPositions {
                            events: events_upto,
                            side: side_upto.unwrap_or(0),
                        },
                        event_ids: list(&events),
                        ephemeral: ephemeral.as_deref().map(list).unwrap_or_default(),
                    })
                }
                _ => None,
            })
        })
    }

    fn make_appservice_transaction(
        &self,
        id: &str,
        upto: StreamPositions,
        event_ids: &[String],
        ephemeral: &[String],
    ) -> StoreResult<PendingTransaction> {
        let (events_json, ephemeral_json) = (json_list(event_ids)?, json_list(ephemeral)?);
        self.with(|c| {
            let tx = c.transaction()?;
            let number: i64 = tx.row(
                "UPDATE appservice_state SET transactions = transactions + 1 WHERE id = ?1 RETURNING transactions",
                params![id],
                |r| r.get(0),
            )?;
            let txn_id = number.to_string();
            tx.run(
                "UPDATE appservice_state SET pending_txn = ?2, pending_upto = ?3, pending_side = ?4,
                     pending_events = ?5, pending_ephemeral = ?6 WHERE id = ?1",
                params![id, txn_id, upto.events, upto.side, events_json, ephemeral_json],
            )?;
            tx.commit()?;
            Ok(PendingTransaction {
                txn_id,
                upto,
                event_ids: event_ids.to_vec(),
                ephemeral: ephemeral.to_vec(),
            })
        })
    }

    fn appservice_sent(&self, id: &str, upto: StreamPositions) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "UPDATE appservice_state SET sent_stream = CASE WHEN ?2 > sent_stream THEN ?2 ELSE sent_stream END,
                     sent_side = CASE WHEN ?3 > sent_side THEN ?3 ELSE sent_side END,
                     pending_txn = NULL, pending_upto = NULL, pending_side = NULL,
                     pending_events = NULL, pending_ephemeral = NULL
                 WHERE id = ?1",
                params![id, upto.events, upto.side],
            )
            .map(drop)
        })
    }

    fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        self.with(|c| {
            c.rows(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream > ?1 AND NOT soft_failed ORDER BY stream LIMIT ?2"
                ),
                params![after, limit],
                row_event,
            )
        })
    }

    fn receipts_between(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, Receipt)>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {RECEIPT_COLUMNS}, room_id FROM receipts WHERE pos > ?1 AND pos <= ?2 ORDER BY pos"),
                params![after, upto],
                |r| Ok((r.get(5)?, row_receipt(r)?)),
            )
        })
    }

    fn presence_between(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, Presence)>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {PRESENCE_COLUMNS} FROM presence WHERE pos > ?1 AND pos <= ?2 ORDER BY pos"),
                params![after, upto],
                row_presence,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::testing::on_each_database;
    use crate::store::Storage;

    fn at(events: i64, side: i64) -> StreamPositions {
        StreamPositions { events, side }
    }

    #[test]
    fn a_transaction_stays_pending_until_sent() {
        on_each_database("a_transaction_stays_pending_until_sent", |store| {
            assert_eq!(store.appservice_position("echo", at(5, 2)).unwrap(), at(5, 2));
            // Seen before: where it was.
            assert_eq!(store.appservice_position("echo", at(9, 9)).unwrap(), at(5, 2));
            assert_eq!(store.appservice_pending("echo").unwrap(), None);
            let typing = r#"{"type":"m.typing","room_id":"!r:hs","content":{"user_ids":[]}}"#.to_owned();
            let first = store
                .make_appservice_transaction("echo", at(7, 3), &["$a".into()], &[typing])
                .unwrap();
            assert_eq!(first.txn_id, "1");
            assert_eq!(store.appservice_pending("echo").unwrap(), Some(first));
            store.appservice_sent("echo", at(7, 3)).unwrap();
            assert_eq!(store.appservice_pending("echo").unwrap(), None);
            assert_eq!(store.appservice_position("echo", at(0, 0)).unwrap(), at(7, 3));
            let second = store.make_appservice_transaction("echo", at(8, 3), &[], &[]).unwrap();
            assert_eq!(second.txn_id, "2");
        });
    }

    #[test]
    fn receipts_and_presence_are_read_between_two_side_positions() {
        on_each_database("receipts_and_presence_are_read_between_two_side_positions", |store| {
            let start = store.max_side_stream().unwrap();
            let receipt = |user: &str| Receipt {
                user_id: user.to_owned(),
                receipt_type: "m.read".to_owned(),
                thread_id: String::new(),
                event_id: "$e".to_owned(),
                ts: 1,
            };
            store.set_receipt("!a:hs", &receipt("@x:hs")).unwrap();
            let middle = store.max_side_stream().unwrap();
            store.set_receipt("!b:hs", &receipt("@y:hs")).unwrap();
            let presence = Presence {
                state: "online".to_owned(),
                status_msg: None,
                last_active_ts: 1,
            };
            store.set_presence("@z:hs", &presence).unwrap();
            let end = store.max_side_stream().unwrap();
            let rooms = |after, upto| -> Vec<String> {
                let found = store.receipts_between(after, upto).unwrap();
                found
                    .into_iter()
                    .map(|(room, r)| format!("{room} {}", r.user_id))
                    .collect()
            };
            assert_eq!(rooms(start, middle), ["!a:hs @x:hs"]);
            assert_eq!(rooms(middle, end), ["!b:hs @y:hs"]);
            assert_eq!(
                store.presence_between(start, end).unwrap(),
                [("@z:hs".to_owned(), presence)]
            );
            assert!(store.presence_between(start, middle).unwrap().is_empty());
        });
    }
}
