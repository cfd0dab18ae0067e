//! State resolution v2 (room versions 2–11) and its v2.1 tweaks (room
//! version 12), as the room version pages describe it: what the state of a
//! room is where branches of its event graph meet.
//!
//! Given the states after each branch, the state both agree on is kept
//! (unconflicted); the rest (the conflicted events, and the events in one
//! branch's auth chains but not all of them) is decided by replaying it
//! under the room's rules: first the events that can take power away
//! (power levels, join rules, kicks and bans), in an order where an event
//! comes after its auth events and the more powerful sender first, then the
//! others in the order of the power levels they were sent under. An event
//! the rules refuse at its turn is left out. From v12 the first replay
//! starts from an empty state, and the events on auth paths between
//! conflicted events take part too.
//!
//! This is the algorithm alone, over events the caller provides;
//! `branches` calls it where a received event's branch meets the others.

use crate::api::auth::{authorize, Proposed, RoomState};
use crate::store::StoredEvent;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// A room's state: `(type, state_key)` → event ID.
pub type StateMap = BTreeMap<(String, String), String>;

/// What resolution reads of an event.
#[derive(Clone, Debug)]
pub struct Event {
    pub event: StoredEvent,
    pub auth_events: Vec<String>,
}

impl Event {
    fn key(&self) -> Option<(String, String)> {
        let state_key = self.event.state_key.clone()?;
        Some((self.event.event_type.clone(), state_key))
    }

    fn is_power_event(&self) -> bool {
        let e = &self.event;
        match (e.event_type.as_str(), e.state_key.as_deref()) {
            ("m.room.power_levels" | "m.room.join_rules", Some("")) => true,
            ("m.room.member", Some(target)) => {
                let membership = e.content.get("membership").and_then(|m| m.as_str());
                matches!(membership, Some("leave" | "ban")) && target != e.sender
            }
            _ => false,
        }
    }
}

/// The events resolution may need, by ID: every event of the state sets
/// and of their auth chains.
pub type Events = BTreeMap<String, Event>;

/// The state where branches with states `states` meet, in a room of
/// `version` (2 or later).
pub fn resolve(version: &str, states: &[StateMap], events: &Events) -> Result<StateMap, String> {
    let number: u32 = version.parse().map_err(|_| format!("unknown room version {version}"))?;
    if number < 2 {
        return Err("room version 1 resolves state with the first algorithm, which this server does not have".into());
    }
    let v2_1 = number >= 12;
    let get = |id: &str| events.get(id).ok_or_else(|| format!("event {id} is not known"));

    // 1. Unconflicted and conflicted state.
    let keys: BTreeSet<&(String, String)> = states.iter().flat_map(|s| s.keys()).collect();
    let mut unconflicted = StateMap::new();
    let mut conflicted: BTreeSet<String> = BTreeSet::new();
    for key in keys {
        let values: BTreeSet<Option<&String>> = states.iter().map(|s| s.get(key)).collect();
        match values.into_iter().collect::<Vec<_>>()[..] {
            [Some(only)] => {
                unconflicted.insert(key.clone(), only.clone());
            }
            ref several => conflicted.extend(several.iter().flatten().map(|id| (*id).clone())),
        }
    }
    if conflicted.is_empty() {
        return Ok(unconflicted);
    }

    // 2. The auth difference: in some state set's auth chain, not in all.
    let chains: Vec<BTreeSet<String>> = states
        .iter()
        .map(|s| auth_chain(s.values(), events))
        .collect::<Result<_, _>>()?;
    let union: BTreeSet<String> = chains.iter().flatten().cloned().collect();
    let mut full: BTreeSet<String> = union
        .iter()
        .filter(|id| !chains.iter().all(|c| c.contains(*id)))
        .cloned()
        .collect();
    full.extend(conflicted.iter().cloned());
    if v2_1 {
        full.extend(conflicted_subgraph(&conflicted, events)?);
    }

    // The create event takes part in every check: from v12 events do not
    // list it, and the first replay starts without it.
    let create = states
        .iter()
        .find_map(|s| s.get(&("m.room.create".to_owned(), String::new())))
        .map(|id| get(id))
        .transpose()?;

    // 3. Power events and their auth chains within the full conflicted set,
    // replayed in reverse topological power order.
    let mut control: BTreeSet<String> = BTreeSet::new();
    for id in &full {
        if get(id)?.is_power_event() {
            control.insert(id.clone());
            for ancestor in auth_chain([id], events)? {
                if full.contains(&ancestor) {
                    control.insert(ancestor);
                }
            }
        }
    }
    let ordered = reverse_topological_power_order(version, &control, create, events)?;
    let mut partial = if v2_1 { StateMap::new() } else { unconflicted.clone() };
    iterative_auth_checks(version, &ordered, &mut partial, create, events)?;

    // 4. The other events, by where they stand on the resolved power
    // levels' mainline.
    let mainline = mainline(partial.get(&("m.room.power_levels".to_owned(), String::new())), events)?;
    let mut others: Vec<(usize, i64, String)> = Vec::new();
    for id in full.iter().filter(|id| !control.contains(*id)) {
        let event = get(id)?;
        others.push((
            mainline_position(event, &mainline, events)?,
            event.event.origin_server_ts,
            id.clone(),
        ));
    }
    others.sort();
    let others: Vec<String> = others.into_iter().map(|(_, _, id)| id).collect();
    iterative_auth_checks(version, &others, &mut partial, create, events)?;

    // 5. What the branches agree on stands.
    partial.extend(unconflicted);
    Ok(partial)
}

/// Every event reachable from `from` through `auth_events`, `from` included.
fn auth_chain<'a>(from: impl IntoIterator<Item = &'a String>, events: &Events) -> Result<BTreeSet<String>, String> {
    let mut chain = BTreeSet::new();
    let mut todo: Vec<String> = from.into_iter().cloned().collect();
    while let Some(id) = todo.pop() {
        if chain.insert(id.clone()) {
            let event = events.get(&id).ok_or_else(|| format!("event {id} is not known"))?;
            todo.extend(event.auth_events.iter().cloned());
        }
    }
    Ok(chain)
}

/// The events on an auth path from one conflicted event to another (v2.1):
/// reachable from a conflicted event, and reaching one.
fn conflicted_subgraph(conflicted: &BTreeSet<String>, events: &Events) -> Result<BTreeSet<String>, String> {
    let ancestors = auth_chain(conflicted.iter(), events)?;
    let mut reaches: BTreeMap<String, bool> = BTreeMap::new();
    fn reaches_conflicted(
        id: &str,
        conflicted: &BTreeSet<String>,
        events: &Events,
        memo: &mut BTreeMap<String, bool>,
    ) -> bool {
        if let Some(known) = memo.get(id) {
            return *known;
        }
        memo.insert(id.to_owned(), false); // auth graphs have no cycles; this guards anyway
        let found = events.get(id).is_some_and(|e| {
            e.auth_events
                .iter()
                .any(|parent| conflicted.contains(parent) || reaches_conflicted(parent, conflicted, events, memo))
        });
        memo.insert(id.to_owned(), found);
        found
    }
    Ok(ancestors
        .into_iter()
        .filter(|id| conflicted.contains(id) || reaches_conflicted(id, conflicted, events, &mut reaches))
        .collect())
}

/// The sender's power level under the event's own auth events (and the
/// create event, which from v12 they do not list).
fn sender_level(version: &str, event: &Event, create: Option<&Event>, events: &Events) -> i64 {
    let mut auth: Vec<StoredEvent> = event
        .auth_events
        .iter()
        .filter_map(|id| events.get(id).map(|e| e.event.clone()))
        .collect();
    if let Some(create) = create.filter(|c| !event.auth_events.contains(&c.event.event_id)) {
        auth.push(create.event.clone());
    }
    RoomState::new(version, &auth).level(&event.event.sender)
}

/// Kahn's algorithm over the auth graph within `set`: an event after its
/// auth events; among those ready, the higher sender level first, then the
/// older, then the smaller event ID.
fn reverse_topological_power_order(
    version: &str,
    set: &BTreeSet<String>,
    create: Option<&Event>,
    events: &Events,
) -> Result<Vec<String>, String> {
    let mut waiting_on: BTreeMap<&String, usize> = BTreeMap::new();
    let mut children: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for id in set {
        let event = events.get(id).ok_or_else(|| format!("event {id} is not known"))?;
        let parents: Vec<&String> = event.auth_events.iter().filter(|p| set.contains(*p)).collect();
        waiting_on.insert(id, parents.len());
        for parent in parents {
            children
                .entry(set.get(parent).expect("in the set"))
                .or_default()
                .push(id);
        }
    }
    // BinaryHeap pops the largest: order by (level, -ts, reversed ID).
    let rank = |id: &String| {
        let event = &events[id];
        (
            sender_level(version, event, create, events),
            std::cmp::Reverse(event.event.origin_server_ts),
            std::cmp::Reverse(id.clone()),
        )
    };
    let mut ready: BinaryHeap<_> = waiting_on
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| (rank(id), (*id).clone()))
        .collect();
    let mut order = Vec::new();
    while let Some((_, id)) = ready.pop() {
        for child in children.get(&id).into_iter().flatten() {
            let n = waiting_on.get_mut(child).expect("counted");
            *n -= 1;
            if *n == 0 {
                ready.push((rank(child), (*child).clone()));
            }
        }
        order.push(id);
    }
    if order.len() != set.len() {
        return Err("the auth events form a cycle".into());
    }
    Ok(order)
}

/// Checks each event in turn against the partially resolved state (its own
/// auth events where that state has nothing for them) and adds those the
/// rules allow.
fn iterative_auth_checks(
    version: &str,
    order: &[String],
    partial: &mut StateMap,
    create: Option<&Event>,
    events: &Events,
) -> Result<(), String> {
    for id in order {
        let event = events.get(id).ok_or_else(|| format!("event {id} is not known"))?;
        let Some(key) = event.key() else { continue };
        let mut auth: BTreeMap<(String, String), StoredEvent> = BTreeMap::new();
        for auth_id in &event.auth_events {
            if let Some(auth_event) = events.get(auth_id) {
                if let Some(auth_key) = auth_event.key() {
                    auth.insert(auth_key, auth_event.event.clone());
                }
            }
        }
        if let Some(create) = create {
            auth.entry(("m.room.create".into(), String::new()))
                .or_insert_with(|| create.event.clone());
        }
        for needed in auth_keys(&event.event) {
            if let Some(resolved) = partial.get(&needed).and_then(|id| events.get(id)) {
                auth.insert(needed, resolved.event.clone());
            }
        }
        let state: Vec<StoredEvent> = auth.into_values().collect();
        let proposed = Proposed {
            event_type: &event.event.event_type,
            state_key: event.event.state_key.as_deref(),
            sender: &event.event.sender,
            content: &event.event.content,
        };
        if authorize(&RoomState::new(version, &state), &proposed).is_ok() {
            partial.insert(key, id.clone());
        }
    }
    Ok(())
}

/// The state an event's authorization reads ("Auth events selection").
fn auth_keys(event: &StoredEvent) -> Vec<(String, String)> {
    let mut keys = vec![
        ("m.room.create".to_owned(), String::new()),
        ("m.room.power_levels".to_owned(), String::new()),
        ("m.room.member".to_owned(), event.sender.clone()),
    ];
    if event.event_type == "m.room.member" {
        if let Some(target) = &event.state_key {
            keys.push(("m.room.member".to_owned(), target.clone()));
        }
        keys.push(("m.room.join_rules".to_owned(), String::new()));
        if let Some(token) = event
            .content
            .get("third_party_invite")
            .and_then(|t| t.get("signed"))
            .and_then(|s| s.get("token"))
            .and_then(|t| t.as_str())
        {
            keys.push(("m.room.third_party_invite".to_owned(), token.to_owned()));
        }
    }
    keys
}

/// The resolved power levels event and the power levels events it was
/// authorized by, back to the first: newest first.
fn mainline(power_levels: Option<&String>, events: &Events) -> Result<Vec<String>, String> {
    let mut line = Vec::new();
    let mut next = power_levels.cloned();
    while let Some(id) = next {
        let event = events.get(&id).ok_or_else(|| format!("event {id} is not known"))?;
        next = power_levels_among(&event.auth_events, events);
        line.push(id);
    }
    Ok(line)
}

fn power_levels_among(ids: &[String], events: &Events) -> Option<String> {
    ids.iter()
        .find(|id| {
            events.get(*id).is_some_and(|e| {
                e.event.event_type == "m.room.power_levels" && e.event.state_key.as_deref() == Some("")
            })
        })
        .cloned()
}

/// How far along the mainline the event was sent: the position (from the
/// oldest, 1-based) of the first mainline event among its power levels
/// ancestors; 0 when there is none.
fn mainline_position(event: &Event, mainline: &[String], events: &Events) -> Result<usize, String> {
    let mut current = Some(event);
    while let Some(e) = current {
        let id = &e.event.event_id;
        if let Some(index) = mainline.iter().position(|m| m == id) {
            return Ok(mainline.len() - index);
        }
        current = power_levels_among(&e.auth_events, events).and_then(|p| events.get(&p));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A room's events, built in order; each state event can be named in
    /// later events' auth events.
    struct Room {
        version: &'static str,
        events: Events,
    }

    impl Room {
        fn new(version: &'static str) -> Room {
            Room {
                version,
                events: Events::new(),
            }
        }

        /// Adds a state event authorized by `auth` and, before v12 (where
        /// the room ID stands for it), by the create event.
        #[allow(clippy::too_many_arguments)]
        fn add(&mut self, id: &str, kind: &str, state_key: &str, sender: &str, content: Value, ts: i64, auth: &[&str]) {
            let lists_create = kind != "m.room.create" && self.version.parse::<u32>().unwrap() < 12;
            let event = StoredEvent {
                stream: self.events.len() as i64,
                event_id: id.to_owned(),
                room_id: "!r".to_owned(),
                sender: sender.to_owned(),
                event_type: kind.to_owned(),
                state_key: Some(state_key.to_owned()),
                content,
                origin_server_ts: ts,
                redacted_because: None,
            };
            let create = lists_create.then_some("create");
            let auth_events = create
                .into_iter()
                .chain(auth.iter().copied())
                .map(str::to_owned)
                .collect();
            self.events.insert(id.to_owned(), Event { event, auth_events });
        }

        /// The state of a branch: the members' room (`base`) without
        /// `replaced`, with `added`.
        fn branch(&self, replaced: &[&str], added: &[&str]) -> StateMap {
            let mut ids = Room::base();
            ids.retain(|id| !replaced.contains(id));
            ids.extend(added.iter().copied());
            self.state(&ids)
        }

        fn state(&self, ids: &[&str]) -> StateMap {
            ids.iter()
                .map(|id| (self.events[*id].key().unwrap(), id.to_string()))
                .collect()
        }

        /// A room where @a (creator, 100) and @b, @c have joined, and @b was
        /// raised to 50.
        fn with_members(version: &'static str) -> Room {
            let mut room = Room::new(version);
            let create_content = if version.parse::<u32>().unwrap() >= 11 {
                json!({ "room_version": version })
            } else {
                json!({ "creator": "@a:x", "room_version": version })
            };
            room.add("create", "m.room.create", "", "@a:x", create_content, 1, &[]);
            room.add(
                "a-join",
                "m.room.member",
                "@a:x",
                "@a:x",
                json!({ "membership": "join" }),
                2,
                &[],
            );
            room.add(
                "pl1",
                "m.room.power_levels",
                "",
                "@a:x",
                levels(version, &[]),
                3,
                &["a-join"],
            );
            room.add(
                "rules",
                "m.room.join_rules",
                "",
                "@a:x",
                json!({ "join_rule": "public" }),
                4,
                &["a-join", "pl1"],
            );
            for (n, user) in ["@b:x", "@c:x"].iter().enumerate() {
                let id = format!("{}-join", &user[1..2]);
                room.add(
                    &id,
                    "m.room.member",
                    user,
                    user,
                    json!({ "membership": "join" }),
                    5 + n as i64,
                    &["pl1", "rules"],
                );
            }
            room.add(
                "pl2",
                "m.room.power_levels",
                "",
                "@a:x",
                levels(version, &[("@b:x", 50)]),
                7,
                &["a-join", "pl1"],
            );
            room
        }

        fn base() -> Vec<&'static str> {
            vec!["create", "a-join", "rules", "b-join", "c-join", "pl2"]
        }
    }

    /// Power levels with Alice at 100 (before v12; from v12 she created the
    /// room, which ranks above every level and may not be listed) and `users`.
    fn levels(version: &str, users: &[(&str, i64)]) -> Value {
        let mut listed: serde_json::Map<String, Value> = users.iter().map(|(u, l)| (u.to_string(), json!(l))).collect();
        if version.parse::<u32>().unwrap() < 12 {
            listed.insert("@a:x".into(), json!(100));
        }
        json!({ "users": listed })
    }

    /// Alice takes back Bob's power while Bob, still at 50 on his branch,
    /// kicks Carol. Alice's change is replayed first (the more powerful
    /// sender), so the kick fails at its turn: Carol stays, Bob is at 0.
    #[test]
    fn a_kick_by_a_user_demoted_on_the_other_branch_does_not_stand() {
        for version in ["10", "11", "12"] {
            let mut room = Room::with_members(version);
            let auth: &[&str] = &["a-join", "pl2"];
            room.add("pl3", "m.room.power_levels", "", "@a:x", levels(version, &[]), 10, auth);
            let auth: &[&str] = &["pl2", "b-join", "c-join"];
            room.add(
                "kick",
                "m.room.member",
                "@c:x",
                "@b:x",
                json!({ "membership": "leave" }),
                9,
                auth,
            );
            let alice = room.branch(&["pl2"], &["pl3"]);
            let bob = room.branch(&["c-join"], &["kick"]);
            let resolved = resolve(version, &[alice, bob], &room.events).unwrap();
            let member_c = ("m.room.member".to_owned(), "@c:x".to_owned());
            assert_eq!(resolved[&member_c], "c-join", "v{version}: Carol stays");
            assert_eq!(resolved[&("m.room.power_levels".to_owned(), String::new())], "pl3");
        }
    }

    /// Two topics on two branches under the same power levels: the later
    /// one wins. A topic sent under newer power levels (later on the
    /// mainline) wins over a later-stamped one sent under older levels.
    #[test]
    fn topics_are_ordered_by_the_power_levels_they_were_sent_under() {
        let mut room = Room::with_members("10");
        let auth: &[&str] = &["pl2", "a-join"];
        room.add(
            "t-old",
            "m.room.topic",
            "",
            "@a:x",
            json!({ "topic": "first" }),
            20,
            auth,
        );
        let auth: &[&str] = &["pl2", "b-join"];
        room.add(
            "t-new",
            "m.room.topic",
            "",
            "@b:x",
            json!({ "topic": "second" }),
            30,
            auth,
        );
        let with_new = room.branch(&[], &["t-new"]);
        let resolved = resolve("10", &[room.branch(&[], &["t-old"]), with_new.clone()], &room.events).unwrap();
        let topic = ("m.room.topic".to_owned(), String::new());
        assert_eq!(resolved[&topic], "t-new", "same mainline position: the later wins");

        // Alice raises the topic level on her branch, then sets the topic
        // (at an earlier time than Bob's): hers comes later on the mainline.
        let auth: &[&str] = &["a-join", "pl2"];
        room.add(
            "pl3",
            "m.room.power_levels",
            "",
            "@a:x",
            json!({ "users": { "@a:x": 100, "@b:x": 50 }, "events": { "m.room.topic": 50 } }),
            15,
            auth,
        );
        let auth: &[&str] = &["pl3", "a-join"];
        room.add(
            "t-alice",
            "m.room.topic",
            "",
            "@a:x",
            json!({ "topic": "alice" }),
            16,
            auth,
        );
        let alice = room.branch(&["pl2"], &["pl3", "t-alice"]);
        let resolved = resolve("10", &[alice, with_new], &room.events).unwrap();
        assert_eq!(resolved[&topic], "t-alice", "sent under the newer power levels");
        assert_eq!(resolved[&("m.room.power_levels".to_owned(), String::new())], "pl3");
    }

    /// What the branches agree on is kept as it is, and a state that only
    /// one branch has is taken when the rules allow it.
    #[test]
    fn unconflicted_state_stands_and_one_sided_state_is_checked() {
        let mut room = Room::with_members("11");
        let auth: &[&str] = &["pl2", "c-join"];
        // Carol (level 0) may set a topic (state default 50)? No: refused.
        room.add(
            "t-carol",
            "m.room.topic",
            "",
            "@c:x",
            json!({ "topic": "carol" }),
            40,
            auth,
        );
        let auth: &[&str] = &["pl2", "b-join"];
        room.add(
            "name-bob",
            "m.room.name",
            "",
            "@b:x",
            json!({ "name": "bob" }),
            41,
            auth,
        );
        let base = room.branch(&[], &[]);
        let resolved = resolve(
            "11",
            &[room.branch(&[], &["t-carol"]), room.branch(&[], &["name-bob"])],
            &room.events,
        )
        .unwrap();
        for (key, id) in &base {
            assert_eq!(&resolved[key], id, "agreed state stands");
        }
        assert_eq!(
            resolved
                .get(&("m.room.name".to_owned(), String::new()))
                .map(String::as_str),
            Some("name-bob")
        );
        assert!(
            !resolved.contains_key(&("m.room.topic".to_owned(), String::new())),
            "Carol may not set the topic"
        );
        // Nothing to resolve: the same state back.
        assert_eq!(
            resolve("11", &[base.clone(), base.clone()], &room.events).unwrap(),
            base
        );
        assert!(resolve("1", std::slice::from_ref(&base), &room.events).is_err());
    }
}
