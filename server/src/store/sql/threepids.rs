//! [`ThreepidStorage`] on SQL. The validation sessions' statements are
//! public: the identity server (`identity/`) keeps its sessions in the same
//! table and works them with these.

use super::conn::{params, Conn, DbResult, Optional};
use super::SqlStore;
use crate::store::threepids::{Threepid, ThreepidStorage, ValidationSession};
use crate::store::StoreResult;

/// The validation sessions' table.
pub const SESSIONS_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS threepid_sessions (
        sid TEXT PRIMARY KEY, client_secret TEXT NOT NULL, medium TEXT NOT NULL, address TEXT NOT NULL,
        token TEXT NOT NULL, send_attempt INTEGER NOT NULL, created_ts INTEGER NOT NULL, validated_ts INTEGER,
        UNIQUE (client_secret, medium, address)
    );";

/// The homeserver's tables: the sessions ([`SESSIONS_TABLE`]) and these.
pub(super) const MIGRATION: &str = "
    CREATE TABLE user_threepids (
        medium TEXT NOT NULL, address TEXT NOT NULL, user_id TEXT NOT NULL, validated_at INTEGER NOT NULL,
        added_at INTEGER NOT NULL, PRIMARY KEY (medium, address)
    );
    CREATE INDEX user_threepids_by_user ON user_threepids (user_id);
    CREATE TABLE user_threepid_bindings (
        user_id TEXT NOT NULL, medium TEXT NOT NULL, address TEXT NOT NULL, id_server TEXT NOT NULL,
        PRIMARY KEY (user_id, medium, address, id_server)
    );
";

/// See [`ThreepidStorage::validation_session_for`].
pub fn session_for(c: Conn<'_>, new: ValidationSession, now: i64) -> DbResult<(ValidationSession, bool)> {
    let tx = c.transaction()?;
    let found = tx
        .row(
            "SELECT sid, token, send_attempt, validated_ts FROM threepid_sessions
             WHERE client_secret = ?1 AND medium = ?2 AND address = ?3",
            params![new.client_secret, new.medium, new.address],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?, r.get(3)?)),
        )
        .optional()?;
    let outcome =
        match found {
            None => {
                tx.run(
                "INSERT INTO threepid_sessions (sid, client_secret, medium, address, token, send_attempt, created_ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![new.sid, new.client_secret, new.medium, new.address, new.token, new.send_attempt, now],
            )?;
                (new, true)
            }
            Some((sid, token, attempt, validated_ts)) => {
                let again = new.send_attempt > attempt;
                if again {
                    tx.run(
                        "UPDATE threepid_sessions SET send_attempt = ?2 WHERE sid = ?1",
                        params![sid, new.send_attempt],
                    )?;
                }
                let session = ValidationSession {
                    sid,
                    token,
                    send_attempt: attempt.max(new.send_attempt),
                    validated_ts,
                    ..new
                };
                (session, again)
            }
        };
    tx.commit()?;
    Ok(outcome)
}

/// See [`ThreepidStorage::validation_session`].
pub fn session(c: &Conn<'_>, sid: &str) -> DbResult<Option<ValidationSession>> {
    c.row(
        "SELECT sid, client_secret, medium, address, token, send_attempt, validated_ts
         FROM threepid_sessions WHERE sid = ?1",
        params![sid],
        |r| {
            Ok(ValidationSession {
                sid: r.get(0)?,
                client_secret: r.get(1)?,
                medium: r.get(2)?,
                address: r.get(3)?,
                token: r.get(4)?,
                send_attempt: r.get(5)?,
                validated_ts: r.get(6)?,
            })
        },
    )
    .optional()
}

/// See [`ThreepidStorage::validate_session`].
pub fn validate_session(c: &Conn<'_>, sid: &str, now: i64) -> DbResult<Option<i64>> {
    c.run(
        "UPDATE threepid_sessions SET validated_ts = coalesce(validated_ts, ?2) WHERE sid = ?1",
        params![sid, now],
    )?;
    c.row(
        "SELECT validated_ts FROM threepid_sessions WHERE sid = ?1",
        params![sid],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

impl ThreepidStorage for SqlStore {
    fn validation_session_for(&self, new: ValidationSession, now: i64) -> StoreResult<(ValidationSession, bool)> {
        self.with(|c| session_for(c, new, now))
    }

    fn validation_session(&self, sid: &str) -> StoreResult<Option<ValidationSession>> {
        self.with(|c| session(&c, sid))
    }

    fn validate_session(&self, sid: &str, now: i64) -> StoreResult<Option<i64>> {
        self.with(|c| validate_session(&c, sid, now))
    }

    fn add_threepid(&self, user_id: &str, threepid: &Threepid) -> StoreResult<bool> {
        self.with(|c| {
            let changed = c.run(
                "INSERT INTO user_threepids (medium, address, user_id, validated_at, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (medium, address) DO UPDATE SET validated_at = excluded.validated_at
                 WHERE user_threepids.user_id = excluded.user_id",
                params![
                    threepid.medium,
                    threepid.address,
                    user_id,
                    threepid.validated_at,
                    threepid.added_at
                ],
            )?;
            Ok(changed == 1)
        })
    }

    fn threepids(&self, user_id: &str) -> StoreResult<Vec<Threepid>> {
        self.with(|c| {
            c.rows(
                "SELECT medium, address, validated_at, added_at FROM user_threepids
                 WHERE user_id = ?1 ORDER BY added_at, medium, address",
                params![user_id],
                |r| {
                    Ok(Threepid {
                        medium: r.get(0)?,
                        address: r.get(1)?,
                        validated_at: r.get(2)?,
                        added_at: r.get(3)?,
                    })
                },
            )
        })
    }

    fn threepid_owner(&self, medium: &str, address: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            c.row(
                "SELECT user_id FROM user_threepids WHERE medium = ?1 AND address = ?2",
                params![medium, address],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn remove_threepid(&self, user_id: &str, medium: &str, address: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "DELETE FROM user_threepids WHERE user_id = ?1 AND medium = ?2 AND address = ?3",
                params![user_id, medium, address],
            )
            .map(|n| n == 1)
        })
    }

    fn add_threepid_binding(&self, user_id: &str, medium: &str, address: &str, id_server: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "INSERT INTO user_threepid_bindings (user_id, medium, address, id_server)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![user_id, medium, address, id_server],
            )
            .map(drop)
        })
    }

    fn threepid_bindings(&self, user_id: &str, medium: &str, address: &str) -> StoreResult<Vec<String>> {
        self.with(|c| {
            c.rows(
                "SELECT id_server FROM user_threepid_bindings
                 WHERE user_id = ?1 AND medium = ?2 AND address = ?3 ORDER BY id_server",
                params![user_id, medium, address],
                |r| r.get(0),
            )
        })
    }

    fn remove_threepid_binding(&self, user_id: &str, medium: &str, address: &str, id_server: &str) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "DELETE FROM user_threepid_bindings
                 WHERE user_id = ?1 AND medium = ?2 AND address = ?3 AND id_server = ?4",
                params![user_id, medium, address, id_server],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::testing::on_each_database;

    fn session(sid: &str, attempt: i64) -> ValidationSession {
        ValidationSession {
            sid: sid.into(),
            client_secret: "secret".into(),
            medium: "email".into(),
            address: "bob@example.org".into(),
            token: format!("token-{sid}"),
            send_attempt: attempt,
            validated_ts: None,
        }
    }

    #[test]
    fn a_session_is_made_once_and_sent_again_on_a_new_attempt() {
        on_each_database("a_session_is_made_once_and_sent_again_on_a_new_attempt", |store| {
            let (first, send) = store.validation_session_for(session("s1", 1), 10).unwrap();
            assert!(send);
            // The same attempt: the same session, nothing sent.
            let (again, send) = store.validation_session_for(session("s2", 1), 11).unwrap();
            assert_eq!((again.sid.as_str(), send), ("s1", false));
            assert_eq!(again.token, first.token);
            let (_, send) = store.validation_session_for(session("s3", 2), 12).unwrap();
            assert!(send);
            assert_eq!(store.validate_session("s1", 20).unwrap(), Some(20));
            // Validated once: the first time stands.
            assert_eq!(store.validate_session("s1", 30).unwrap(), Some(20));
            assert_eq!(store.validate_session("nope", 30).unwrap(), None);
            assert_eq!(store.validation_session("s1").unwrap().unwrap().validated_ts, Some(20));
        });
    }

    #[test]
    fn an_address_belongs_to_one_account() {
        on_each_database("an_address_belongs_to_one_account", |store| {
            let bob = Threepid {
                medium: "email".into(),
                address: "bob@example.org".into(),
                validated_at: 1,
                added_at: 2,
            };
            assert!(store.add_threepid("@bob:hs", &bob).unwrap());
            assert!(!store.add_threepid("@eve:hs", &bob).unwrap());
            // Adding it again to the same account is not a conflict.
            assert!(store.add_threepid("@bob:hs", &bob).unwrap());
            assert_eq!(store.threepids("@bob:hs").unwrap(), vec![bob.clone()]);
            assert!(store.threepids("@eve:hs").unwrap().is_empty());
            assert_eq!(
                store.threepid_owner("email", "bob@example.org").unwrap().as_deref(),
                Some("@bob:hs")
            );
            assert!(!store.remove_threepid("@eve:hs", "email", "bob@example.org").unwrap());
            assert!(store.remove_threepid("@bob:hs", "email", "bob@example.org").unwrap());
            assert!(store.add_threepid("@eve:hs", &bob).unwrap());
        });
    }

    #[test]
    fn bindings_are_remembered_per_identity_server() {
        on_each_database("bindings_are_remembered_per_identity_server", |store| {
            store
                .add_threepid_binding("@bob:hs", "email", "b@x.org", "is.one")
                .unwrap();
            store
                .add_threepid_binding("@bob:hs", "email", "b@x.org", "is.two")
                .unwrap();
            store
                .add_threepid_binding("@bob:hs", "email", "b@x.org", "is.one")
                .unwrap();
            assert_eq!(
                store.threepid_bindings("@bob:hs", "email", "b@x.org").unwrap(),
                vec!["is.one", "is.two"]
            );
            store
                .remove_threepid_binding("@bob:hs", "email", "b@x.org", "is.one")
                .unwrap();
            assert_eq!(
                store.threepid_bindings("@bob:hs", "email", "b@x.org").unwrap(),
                vec!["is.two"]
            );
        });
    }
}
