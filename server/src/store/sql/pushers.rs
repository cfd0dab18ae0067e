//! [`PusherStorage`] on SQL.

use super::conn::{params, DbResult, Row};
use super::store::{row_notification, NOTIFICATION_COLUMNS};
use super::SqlStore;
use crate::store::pushers::{Pusher, PusherStorage};
use crate::store::{Notification, StoreResult};
use serde_json::Value;

pub(super) const MIGRATION: &str = "
    CREATE TABLE pushers (
        user_id TEXT NOT NULL, app_id TEXT NOT NULL, pushkey TEXT NOT NULL, kind TEXT NOT NULL,
        app_display_name TEXT NOT NULL, device_display_name TEXT NOT NULL, profile_tag TEXT, lang TEXT NOT NULL,
        data TEXT NOT NULL, pushkey_ts INTEGER NOT NULL, delivered_stream INTEGER NOT NULL,
        PRIMARY KEY (user_id, app_id, pushkey)
    );
    CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
";

const COLUMNS: &str =
    "app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, pushkey_ts";

fn row_pusher(r: &Row) -> DbResult<Pusher> {
    let data: String = r.get(7)?;
    Ok(Pusher {
        app_id: r.get(0)?,
        pushkey: r.get(1)?,
        kind: r.get(2)?,
        app_display_name: r.get(3)?,
        device_display_name: r.get(4)?,
        profile_tag: r.get(5)?,
        lang: r.get(6)?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        pushkey_ts: r.get(8)?,
    })
}

impl PusherStorage for SqlStore {
    fn set_pusher(&self, user_id: &str, p: &Pusher, append: bool) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            if !append {
                tx.run(
                    "DELETE FROM pushers WHERE app_id = ?1 AND pushkey = ?2 AND user_id != ?3",
                    params![p.app_id, p.pushkey, user_id],
                )?;
            }
            let newest: i64 = tx.row(
                "SELECT coalesce(max(stream), 0) FROM notifications WHERE user_id = ?1",
                params![user_id],
                |r| r.get(0),
            )?;
            tx.run(
                &format!(
                    "INSERT INTO pushers (user_id, {COLUMNS}, delivered_stream)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
                         kind = excluded.kind, app_display_name = excluded.app_display_name,
                         device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag,
                         lang = excluded.lang, data = excluded.data, pushkey_ts = excluded.pushkey_ts"
                ),
                params![
                    user_id,
                    p.app_id,
                    p.pushkey,
                    p.kind,
                    p.app_display_name,
                    p.device_display_name,
                    p.profile_tag,
                    p.lang,
                    p.data.to_string(),
                    p.pushkey_ts,
                    newest
                ],
            )?;
            tx.commit()
        })
    }

    fn delete_pusher(&self, user_id: &str, app_id: &str, pushkey: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.run(
                "DELETE FROM pushers WHERE user_id = ?1 AND app_id = ?2 AND pushkey = ?3",
                params![user_id, app_id, pushkey],
            )
            .map(|n| n == 1)
        })
    }

    fn pushers(&self, user_id: &str) -> StoreResult<Vec<Pusher>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {COLUMNS} FROM pushers WHERE user_id = ?1 ORDER BY pushkey_ts, app_id, pushkey"),
                params![user_id],
                row_pusher,
            )
        })
    }

    fn all_pushers(&self) -> StoreResult<Vec<(String, Pusher, i64)>> {
        self.with(|c| {
            c.rows(
                &format!("SELECT {COLUMNS}, user_id, delivered_stream FROM pushers ORDER BY user_id, app_id, pushkey"),
                params![],
                |r| Ok((r.get(9)?, row_pusher(r)?, r.get(10)?)),
            )
        })
    }

    fn pusher_delivered(&self, user_id: &str, app_id: &str, pushkey: &str, stream: i64) -> StoreResult<()> {
        self.with(|c| {
            c.run(
                "UPDATE pushers SET delivered_stream = CASE WHEN ?4 > delivered_stream THEN ?4 ELSE delivered_stream END
                 WHERE user_id = ?1 AND app_id = ?2 AND pushkey = ?3",
                params![user_id, app_id, pushkey, stream],
            )
            .map(drop)
        })
    }

    fn notifications_after(&self, user_id: &str, after: i64, limit: i64) -> StoreResult<Vec<Notification>> {
        self.with(|c| {
            c.rows(
                &format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = ?1 AND stream > ?2 ORDER BY stream LIMIT ?3"
            ),
                params![user_id, after, limit], row_notification,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::testing::on_each_database;

    fn pusher(app_id: &str, pushkey: &str) -> Pusher {
        Pusher {
            app_id: app_id.into(),
            pushkey: pushkey.into(),
            kind: "http".into(),
            app_display_name: "App".into(),
            device_display_name: "Phone".into(),
            profile_tag: None,
            lang: "en".into(),
            data: serde_json::json!({ "url": "https://push.example/_matrix/push/v1/notify", "x": 1 }),
            pushkey_ts: 5,
        }
    }

    #[test]
    fn a_pushkey_moves_between_users_unless_appended() {
        on_each_database("a_pushkey_moves_between_users_unless_appended", |store| {
            store.set_pusher("@a:hs", &pusher("app", "key"), false).unwrap();
            store.set_pusher("@b:hs", &pusher("app", "key"), true).unwrap();
            assert_eq!(store.pushers("@a:hs").unwrap().len(), 1);
            assert_eq!(store.pushers("@b:hs").unwrap(), vec![pusher("app", "key")]);
            store.set_pusher("@c:hs", &pusher("app", "key"), false).unwrap();
            assert!(store.pushers("@a:hs").unwrap().is_empty());
            assert!(store.pushers("@b:hs").unwrap().is_empty());
            let all = store.all_pushers().unwrap();
            assert_eq!(all, vec![("@c:hs".to_owned(), pusher("app", "key"), 0)]);
            store.pusher_delivered("@c:hs", "app", "key", 7).unwrap();
            store.pusher_delivered("@c:hs", "app", "key", 3).unwrap();
            assert_eq!(store.all_pushers().unwrap()[0].2, 7);
            assert!(store.delete_pusher("@c:hs", "app", "key").unwrap());
            assert!(!store.delete_pusher("@c:hs", "app", "key").unwrap());
        });
    }
}
