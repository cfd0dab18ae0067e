//! The state after each event of a room's graph, kept as state groups: a
//! group is the state after one or more events, written as the changes
//! from the group before it (one row for a state event; none for a
//! message, which shares its predecessor's group). A chain of changes is
//! cut by a full snapshot every `SNAPSHOT_EVERY` groups, so reading a
//! group's state reads at most that many groups. The state at an event is
//! only read where branches of the graph meet, so the common case (events
//! appended after the room's current state) writes one column and at most
//! one row.
//!
//! Rooms and events stored before state groups existed have none: a room
//! gets its first group (a snapshot of its current state) at its next
//! event, and the state at an older event is unknown (`None`).

use super::conn::{params, Conn, DbResult, Optional};
use crate::store::{NewEvent, StateIds};

pub(super) const MIGRATION: &str = "
    CREATE TABLE state_groups (
        group_id INTEGER PRIMARY KEY AUTOINCREMENT, prev_group INTEGER, hops INTEGER NOT NULL
    );
    CREATE TABLE state_group_entries (
        group_id INTEGER NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, event_id TEXT NOT NULL,
        PRIMARY KEY (group_id, type, state_key)
    );
    ALTER TABLE rooms ADD COLUMN state_group INTEGER;
    ALTER TABLE events ADD COLUMN state_group INTEGER;
    ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0;";

/// The most groups of changes read to rebuild one group's state.
const SNAPSHOT_EVERY: i64 = 32;

/// A new group: the changes `entries` on top of `prev` (a snapshot if `prev` is none).
fn new_group<'a>(
    tx: &Conn<'_>,
    prev: Option<i64>,
    entries: impl IntoIterator<Item = (&'a (String, String), &'a String)>,
) -> DbResult<i64> {
    let hops = match prev {
        Some(prev) => {
            tx.row(
                "SELECT hops FROM state_groups WHERE group_id = ?1",
                params![prev],
                |r| r.get::<i64>(0),
            )? + 1
        }
        None => 0,
    };
    let group: i64 = tx.row(
        "INSERT INTO state_groups (prev_group, hops) VALUES (?1, ?2) RETURNING group_id",
        params![prev, hops],
        |r| r.get(0),
    )?;
    for ((event_type, state_key), event_id) in entries {
        tx.run(
            "INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?1, ?2, ?3, ?4)",
            params![group, event_type, state_key, event_id],
        )?;
    }
    Ok(group)
}

/// The state of `group`: its own entries over those of the groups before it.
pub(super) fn read_group(conn: &Conn<'_>, group: i64) -> DbResult<StateIds> {
    let mut state = StateIds::new();
    let mut next = Some(group);
    while let Some(group) = next {
        let entries: Vec<((String, String), String)> = conn.rows(
            "SELECT type, state_key, event_id FROM state_group_entries WHERE group_id = ?1",
            params![group],
            |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
        )?;
        for (key, event_id) in entries {
            state.entry(key).or_insert(event_id);
        }
        next = conn.row(
            "SELECT prev_group FROM state_groups WHERE group_id = ?1",
            params![group],
            |r| r.get(0),
        )?;
    }
    Ok(state)
}

/// The group of the room's current state, made from `room_state` the first
/// time it is asked for.
fn current_group(tx: &Conn<'_>, room_id: &str) -> DbResult<i64> {
    let known: Option<i64> = tx.row(
        "SELECT state_group FROM rooms WHERE room_id = ?1",
        params![room_id],
        |r| r.get(0),
    )?;
    if let Some(group) = known {
        return Ok(group);
    }
    let state: StateIds = tx.rows(
        "SELECT s.type, s.state_key, e.event_id FROM room_state s JOIN events e ON e.stream = s.stream
         WHERE s.room_id = ?1",
        params![room_id],
        |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
    )?;
    let group = new_group(tx, None, &state)?;
    tx.run(
        "UPDATE rooms SET state_group = ?2 WHERE room_id = ?1",
        params![room_id, group],
    )?;
    Ok(group)
}

/// The group of the state after `e`, written as needed: the state before
/// it (the room's current state, or the state its fork names) with `e`
/// itself if it is a state event.
pub(super) fn group_after(tx: &Conn<'_>, e: &NewEvent<'_>) -> DbResult<i64> {
    let before = match &e.fork {
        None => current_group(tx, e.room_id)?,
        Some(fork) => new_group(tx, None, fork.state_before)?,
    };
    let Some(state_key) = e.state_key else {
        return Ok(before);
    };
    let key = (e.event_type.to_owned(), state_key.to_owned());
    let event_id = e.event_id.to_owned();
    let hops: i64 = tx.row(
        "SELECT hops FROM state_groups WHERE group_id = ?1",
        params![before],
        |r| r.get(0),
    )?;
    if hops + 1 < SNAPSHOT_EVERY {
        return new_group(tx, Some(before), [(&key, &event_id)]);
    }
    let mut state = read_group(tx, before)?;
    state.insert(key, event_id);
    new_group(tx, None, &state)
}

/// Makes `state` the room's current state (after a fork met the room's
/// other branches), with `after` the group of the event that joined them.
pub(super) fn replace_current(tx: &Conn<'_>, room_id: &str, state: &StateIds, after: i64) -> DbResult<()> {
    tx.run("DELETE FROM room_state WHERE room_id = ?1", params![room_id])?;
    for ((event_type, state_key), event_id) in state {
        tx.run(
            "INSERT INTO room_state (room_id, type, state_key, stream)
             SELECT ?1, ?2, ?3, stream FROM events WHERE event_id = ?4",
            params![room_id, event_type, state_key, event_id],
        )?;
    }
    let group = if read_group(tx, after)? == *state {
        after
    } else {
        new_group(tx, None, state)?
    };
    tx.run(
        "UPDATE rooms SET state_group = ?2 WHERE room_id = ?1",
        params![room_id, group],
    )?;
    Ok(())
}

/// The state after `event_id`, if the event is known and has a group.
pub(super) fn state_after(conn: &Conn<'_>, event_id: &str) -> DbResult<Option<StateIds>> {
    let group: Option<Option<i64>> = conn
        .row(
            "SELECT state_group FROM events WHERE event_id = ?1",
            params![event_id],
            |r| r.get(0),
        )
        .optional()?;
    match group.flatten() {
        Some(group) => read_group(conn, group).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::params;
    use super::super::testing::on_each_database;
    use super::super::SqlStore;
    use crate::store::{Fork, NewEvent, StateIds, Storage};
    use serde_json::{json, Map};

    /// Appends event `id` of type `t` (a state event if `key`) after `prev`.
    fn append(store: &SqlStore, id: &str, key: Option<&str>, prev: &[String], fork: Option<Fork<'_>>) {
        let content = json!({});
        let pdu = Map::new();
        store
            .append(NewEvent {
                event_id: id,
                room_id: "!r:x",
                sender: "@a:x",
                event_type: "t",
                state_key: key,
                content: &content,
                origin_server_ts: 0,
                txn_key: None,
                notifications: &[],
                depth: 1,
                prev_events: prev,
                pdu: &pdu,
                destinations: &[],
                fork,
                soft_failed: false,
            })
            .unwrap();
    }

    fn state(pairs: &[(&str, &str)]) -> StateIds {
        pairs
            .iter()
            .map(|(key, id)| (("t".to_owned(), (*key).to_owned()), (*id).to_owned()))
            .collect()
    }

    /// The state after every event of a long chain is what was current
    /// then (across the snapshots that cut the chains of changes), messages
    /// share their predecessor's state, and a fork's state is what it names.
    #[test]
    fn the_state_after_each_event_is_kept() {
        on_each_database("the_state_after_each_event_is_kept", |store| {
            store.create_room("!r:x", "@a:x", "10").unwrap();
            let mut expected: Vec<(String, StateIds)> = Vec::new();
            let mut current = StateIds::new();
            let mut prev: Vec<String> = Vec::new();
            for n in 0..(3 * super::SNAPSHOT_EVERY) {
                let id = format!("$e{n}");
                let key = (n % 5 != 4).then(|| format!("k{}", n % 7));
                append(store, &id, key.as_deref(), &prev, None);
                if let Some(key) = key {
                    current.insert(("t".to_owned(), key), id.clone());
                }
                expected.push((id.clone(), current.clone()));
                prev = vec![id];
            }
            for (id, state) in &expected {
                assert_eq!(store.state_after(id).unwrap().as_ref(), Some(state), "after {id}");
            }
            let hops: i64 = store
                .with(|c| c.row("SELECT MAX(hops) FROM state_groups", params![], |r| r.get(0)))
                .unwrap();
            assert!(hops < super::SNAPSHOT_EVERY, "{hops}");

            // A fork: its own state before it, the room's resolved state after.
            let before = state(&[("k0", "$e0")]);
            let resolved = state(&[("k0", "$e0"), ("k9", "$fork")]);
            let fork = Fork {
                state_before: &before,
                current_after: &resolved,
            };
            append(store, "$fork", Some("k9"), &["$e0".to_owned()], Some(fork));
            assert_eq!(
                store.state_after("$fork").unwrap(),
                Some(state(&[("k0", "$e0"), ("k9", "$fork")]))
            );
            let now: StateIds = store
                .current_state("!r:x")
                .unwrap()
                .into_iter()
                .map(|e| ((e.event_type, e.state_key.unwrap()), e.event_id))
                .collect();
            assert_eq!(now, resolved);
            assert_eq!(store.state_after("$unknown").unwrap(), None);
        });
    }
}
