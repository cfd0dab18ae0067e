//! [`KeyStorage`] on SQL: the tables of SQLite's migration 4.

use super::conn::{params, Conn, DbError, DbResult, Optional};
use super::store::next_side_position;
use super::SqlStore;
use crate::store::keys::{BackedUpKey, BackupVersion, KeyConflict, KeyStorage, NewToDevice, Replaces, ToDevice};
use crate::store::{OutboundEdu, StoreResult};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) const MIGRATION: &str = "
    CREATE TABLE device_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, keys TEXT NOT NULL, PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE one_time_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, key_id TEXT NOT NULL, algorithm TEXT NOT NULL,
        key TEXT NOT NULL, PRIMARY KEY (user_id, device_id, key_id)
    );
    CREATE TABLE fallback_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL,
        key TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (user_id, device_id, algorithm)
    );
    CREATE TABLE cross_signing_keys (
        user_id TEXT NOT NULL, key_type TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (user_id, key_type)
    );
    CREATE TABLE device_list_changes (user_id TEXT PRIMARY KEY, pos INTEGER NOT NULL);
    CREATE INDEX device_list_changes_by_pos ON device_list_changes (pos);
    CREATE TABLE to_device (
        pos INTEGER PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, sender TEXT NOT NULL,
        type TEXT NOT NULL, content TEXT NOT NULL
    );
    CREATE INDEX to_device_by_device ON to_device (user_id, device_id, pos);
    CREATE TABLE to_device_txns (
        sender TEXT NOT NULL, sender_device TEXT NOT NULL, txn_id TEXT NOT NULL,
        PRIMARY KEY (sender, sender_device, txn_id)
    );
    CREATE TABLE backup_versions (
        version INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, algorithm TEXT NOT NULL,
        auth_data TEXT NOT NULL, etag INTEGER NOT NULL, deleted INTEGER NOT NULL
    );
    CREATE TABLE backup_keys (
        version INTEGER NOT NULL, room_id TEXT NOT NULL, session_id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (version, room_id, session_id)
    );";

/// The `(etag, count)` of a version after a change: the etag moves on.
fn bump_etag(tx: &Conn<'_>, version: i64) -> DbResult<(i64, i64)> {
    tx.run(
        "UPDATE backup_versions SET etag = etag + 1 WHERE version = ?1",
        params![version],
    )?;
    let etag = tx.row(
        "SELECT etag FROM backup_versions WHERE version = ?1",
        params![version],
        |r| r.get(0),
    )?;
    let count = tx.row(
        "SELECT count(*) FROM backup_keys WHERE version = ?1",
        params![version],
        |r| r.get(0),
    )?;
    Ok((etag, count))
}

/// The keys of one room (`?2`) and session (`?3`), or of all where `NULL`.
const KEY_SCOPE: &str = "(CAST(?2 AS TEXT) IS NULL OR room_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR session_id = ?3)";

/// Notes that a user's devices or keys changed, at a new side position.
pub(super) fn device_list_changed(tx: &Conn<'_>, user_id: &str) -> DbResult<()> {
    let pos = next_side_position(tx)?;
    tx.run(
        "INSERT INTO device_list_changes (user_id, pos) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos",
        params![user_id, pos],
    )?;
    Ok(())
}

/// Removes everything end-to-end encryption kept for a device.
pub(super) fn forget_device(tx: &Conn<'_>, user_id: &str, device_id: &str) -> DbResult<()> {
    for table in ["device_keys", "one_time_keys", "fallback_keys", "to_device"] {
        tx.run(
            &format!("DELETE FROM {table} WHERE user_id = ?1 AND device_id = ?2"),
            params![user_id, device_id],
        )?;
    }
    Ok(())
}

fn algorithm_of(key_id: &str) -> &str {
    key_id.split_once(':').map_or(key_id, |(algorithm, _)| algorithm)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl KeyStorage for SqlStore {
    fn upload_keys(
        &self,
        user_id: &str,
        device_id: &str,
        device_keys: Option<&Value>,
        one_time_keys: &[(String, Value)],
        fallback_keys: &[(String, Value)],
    ) -> StoreResult<Result<bool, KeyConflict>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut device_keys_changed = false;
            for (key_id, key) in one_time_keys {
                let existing: Option<String> = tx
                    .row(
                        "SELECT key FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 AND key_id = ?3",
                        params![user_id, device_id, key_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                match existing {
                    Some(old) if json(&old) != *key => return Ok(Err(KeyConflict::OneTimeKeyChanged(key_id.clone()))),
                    Some(_) => {}
                    None => {
                        tx.run(
                            "INSERT INTO one_time_keys (user_id, device_id, key_id, algorithm, key)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![user_id, device_id, key_id, algorithm_of(key_id), key.to_string()],
                        )?;
                    }
                }
            }
            for (key_id, key) in fallback_keys {
                tx.run(
                    "INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key, used)
                     VALUES (?1, ?2, ?3, ?4, ?5, FALSE)
                     ON CONFLICT (user_id, device_id, algorithm)
                     DO UPDATE SET key_id = excluded.key_id, key = excluded.key, used = FALSE",
                    params![user_id, device_id, algorithm_of(key_id), key_id, key.to_string()],
                )?;
            }
            if let Some(keys) = device_keys {
                let old: Option<String> = tx
                    .row(
                        "SELECT keys FROM device_keys WHERE user_id = ?1 AND device_id = ?2",
                        params![user_id, device_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if old.as_deref().map(json).as_ref() != Some(keys) {
                    tx.run(
                        "INSERT INTO device_keys (user_id, device_id, keys) VALUES (?1, ?2, ?3)
                         ON CONFLICT (user_id, device_id) DO UPDATE SET keys = excluded.keys",
                        params![user_id, device_id, keys.to_string()],
                    )?;
                    device_list_changed(&tx, user_id)?;
                    device_keys_changed = true;
                }
            }
            tx.commit()?;
            Ok(Ok(device_keys_changed))
        })
    }

    fn one_time_key_counts(&self, user_id: &str, device_id: &str) -> StoreResult<BTreeMap<String, i64>> {
        self.with(|c| {
            c.rows(

                "SELECT algorithm, count(*) FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 GROUP BY algorithm",

                params![user_id, device_id], |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn unused_fallback_key_types(&self, user_id: &str, device_id: &str) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows(

                "SELECT algorithm FROM fallback_keys WHERE user_id = ?1 AND device_id = ?2 AND NOT used ORDER BY algorithm",

                params![user_id, device_id], |r| r.get(0),
            )
        })
    }

    fn device_keys(&self, user_id: &str) -> StoreResult<BTreeMap<String, Value>> {
        self.with(|c| {
            c.rows(
                "SELECT device_id, keys FROM device_keys WHERE user_id = ?1",
                params![user_id],
                |r| Ok((r.get(0)?, json(&r.get::<String>(1)?))),
            )
        })
    }

    fn set_device_keys(&self, user_id: &str, device_id: &str, keys: &Value) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.run(
                "UPDATE device_keys SET keys = ?3 WHERE user_id = ?1 AND device_id = ?2",
                params![user_id, device_id, keys.to_string()],
            )?;
            device_list_changed(&tx, user_id)?;
            tx.commit()
        })
    }

    fn claim_key(&self, user_id: &str, device_id: &str, algorithm: &str) -> StoreResult<Option<(String, Value)>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let one_time: Option<(String, String)> = tx
                .row(
                    "SELECT key_id, key FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 AND algorithm = ?3
                     ORDER BY key_id LIMIT 1",
                    params![user_id, device_id, algorithm],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let claimed = match one_time {
                Some((key_id, key)) => {
                    tx.run(
                        "DELETE FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 AND key_id = ?3",
                        params![user_id, device_id, key_id],
                    )?;
                    Some((key_id, json(&key)))
                }
                None => {
                    let fallback: Option<(String, String)> = tx
                        .row(
                            "SELECT key_id, key FROM fallback_keys WHERE user_id = ?1 AND device_id = ?2 AND algorithm = ?3",
                            params![user_id, device_id, algorithm],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    if fallback.is_some() {
                        tx.run(
                            "UPDATE fallback_keys SET used = TRUE WHERE user_id = ?1 AND device_id = ?2 AND algorithm = ?3",
                            params![user_id, device_id, algorithm],
                        )?;
                    }
                    fallback.map(|(key_id, key)| (key_id, json(&key)))
                }
            };
            tx.commit()?;
            Ok(claimed)
        })
    }

    fn cross_signing_keys(&self, user_id: &str) -> StoreResult<BTreeMap<String, Value>> {
        self.with(|c| {
            c.rows(
                "SELECT key_type, key FROM cross_signing_keys WHERE user_id = ?1",
                params![user_id],
                |r| Ok((r.get(0)?, json(&r.get::<String>(1)?))),
            )
        })
    }

    fn set_cross_signing_keys(&self, user_id: &str, keys: &[(&str, Value)]) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (key_type, key) in keys {
                tx.run(
                    "INSERT INTO cross_signing_keys (user_id, key_type, key) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id, key_type) DO UPDATE SET key = excluded.key",
                    params![user_id, key_type, key.to_string()],
                )?;
            }
            device_list_changed(&tx, user_id)?;
            tx.commit()
        })
    }

    fn note_device_list_change(&self, user_id: &str) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            device_list_changed(&tx, user_id)?;
            tx.commit()
        })
    }

    fn device_list_changes_since(&self, after: i64) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows(
                "SELECT user_id FROM device_list_changes WHERE pos > ?1 ORDER BY user_id",
                params![after],
                |r| r.get(0),
            )
        })
    }

    fn send_to_device(
        &self,
        sender: &str,
        sender_device: &str,
        txn_id: &str,
        event_type: &str,
        messages: &[NewToDevice],
        remote: &[OutboundEdu],
    ) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let new = tx.run(
                "INSERT INTO to_device_txns (sender, sender_device, txn_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![sender, sender_device, txn_id],
            )? == 1;
            if new {
                for m in messages {
                    let pos = next_side_position(&tx)?;
                    tx.run(
                        "INSERT INTO to_device (pos, user_id, device_id, sender, type, content)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![pos, m.user_id, m.device_id, sender, event_type, m.content.to_string()],
                    )?;
                }
                for r in remote {
                    tx.run(
                        "INSERT INTO outbound_pdus (destination, pdu, edu) VALUES (?1, ?2, TRUE)",
                        params![r.destination, r.edu.to_string()],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn to_device_inbox(&self, user_id: &str, device_id: &str, acknowledged: i64) -> StoreResult<Vec<ToDevice>> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.run(
                "DELETE FROM to_device WHERE user_id = ?1 AND device_id = ?2 AND pos <= ?3",
                params![user_id, device_id, acknowledged],
            )?;
            let inbox = {
                tx.rows(
                    "SELECT pos, sender, type, content FROM to_device WHERE user_id = ?1 AND device_id = ?2 ORDER BY pos",
                    params![user_id, device_id],
                    |r| {
                        Ok(ToDevice {
                            pos: r.get(0)?,
                            sender: r.get(1)?,
                            event_type: r.get(2)?,
                            content: json(&r.get::<String>(3)?),
                        })
                    },
                )?
            };
            tx.commit()?;
            Ok(inbox)
        })
    }

    fn create_backup(&self, user_id: &str, algorithm: &str, auth_data: &Value) -> StoreResult<i64> {
        self.with(|c| {
            c.row(
                "INSERT INTO backup_versions (user_id, algorithm, auth_data, etag, deleted)
                 VALUES (?1, ?2, ?3, 0, FALSE) RETURNING version",
                params![user_id, algorithm, auth_data.to_string()],
                |r| r.get(0),
            )
        })
    }

    fn backup_version(&self, user_id: &str, version: Option<i64>) -> StoreResult<Option<BackupVersion>> {
        self.with(|c| {
            c.row(
                "SELECT v.version, v.algorithm, v.auth_data, v.etag,
                        (SELECT count(*) FROM backup_keys k WHERE k.version = v.version)
                 FROM backup_versions v
                 WHERE v.user_id = ?1 AND NOT v.deleted AND (CAST(?2 AS BIGINT) IS NULL OR v.version = ?2)
                 ORDER BY v.version DESC LIMIT 1",
                params![user_id, version],
                |r| {
                    Ok(BackupVersion {
                        version: r.get(0)?,
                        algorithm: r.get(1)?,
                        auth_data: json(&r.get::<String>(2)?),
                        etag: r.get(3)?,
                        count: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    fn update_backup(&self, user_id: &str, version: i64, auth_data: &Value) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "UPDATE backup_versions SET auth_data = ?3 WHERE user_id = ?1 AND version = ?2 AND NOT deleted",
                params![user_id, version, auth_data.to_string()],
            )
            .map(|n| n == 1)
        })
    }

    fn delete_backup(&self, user_id: &str, version: i64) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let deleted = tx.run(
                "UPDATE backup_versions SET deleted = TRUE WHERE user_id = ?1 AND version = ?2 AND NOT deleted",
                params![user_id, version],
            )? == 1;
            if deleted {
                tx.run("DELETE FROM backup_keys WHERE version = ?1", params![version])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<BackedUpKey>> {
        self.with(|c| {
            let sql = format!(
                "SELECT k.room_id, k.session_id, k.data FROM backup_keys k
                 JOIN backup_versions v ON v.version = k.version
                 WHERE k.version = ?1 AND v.user_id = ?4 AND {} ORDER BY k.room_id, k.session_id",
                KEY_SCOPE
                    .replace("room_id", "k.room_id")
                    .replace("session_id", "k.session_id")
            );
            c.rows(&sql, params![version, room_id, session_id, user_id], |r| {
                Ok((r.get(0)?, r.get(1)?, json(&r.get::<String>(2)?)))
            })
        })
    }

    fn put_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        keys: &[BackedUpKey],
        replaces: Replaces<'_>,
    ) -> StoreResult<(i64, i64)> {
        self.with(|c| {
            let tx = c.transaction()?;
            let owner: Option<String> = tx
                .row(
                    "SELECT user_id FROM backup_versions WHERE version = ?1",
                    params![version],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.as_deref() != Some(user_id) {
                return Err(DbError::Failed(format!("{user_id} has no backup version {version}")));
            }
            for (room_id, session_id, data) in keys {
                let old: Option<String> = tx
                    .row(
                        "SELECT data FROM backup_keys WHERE version = ?1 AND room_id = ?2 AND session_id = ?3",
                        params![version, room_id, session_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if old.as_deref().is_none_or(|old| replaces(&json(old), data)) {
                    tx.run(
                        "INSERT INTO backup_keys (version, room_id, session_id, data) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (version, room_id, session_id) DO UPDATE SET data = excluded.data",
                        params![version, room_id, session_id, data.to_string()],
                    )?;
                }
            }
            let answer = bump_etag(&tx, version)?;
            tx.commit()?;
            Ok(answer)
        })
    }

    fn delete_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<(i64, i64)> {
        self.with(|c| {
            let tx = c.transaction()?;
            let sql = format!(
                "DELETE FROM backup_keys WHERE version = ?1
                 AND ?4 = (SELECT user_id FROM backup_versions WHERE version = ?1) AND {KEY_SCOPE}"
            );
            tx.run(&sql, params![version, room_id, session_id, user_id])?;
            let answer = bump_etag(&tx, version)?;
            tx.commit()?;
            Ok(answer)
        })
    }
}
