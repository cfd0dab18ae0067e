//! Where a received event stands in its room's graph, when it does not
//! simply follow the room's current state: its previous events are not
//! exactly the room's forward extremities (another server's branch of the
//! graph, built while the two servers did not hear each other, or an event
//! that merges branches).
//!
//! The state before such an event is the resolution of the states after
//! its previous events (`state_res`); the room's state once it is stored
//! is the resolution of the state after it with the states after the
//! room's other extremities. The state the room would have without it
//! (the state before it resolved with the other extremities) is what the
//! event is checked against for soft failure: an event its own branch
//! allows, but the room as it stands here does not, is kept out of the
//! room's state and timeline.

use super::build::{named_events, Built};
use super::state_res::{self, Event, Events};
use crate::store::{StateIds, Storage, StoredEvent};
use std::collections::BTreeSet;

/// The states a received event is checked against and leads to.
#[derive(Debug)]
pub struct Placed {
    /// The state before the event, at its place in the graph: what the
    /// rules must allow it on.
    pub state_before: StateIds,
    /// The room's state without the event (its branch met with the others):
    /// what decides whether it is soft-failed.
    pub current_before: StateIds,
    /// The room's state with it.
    pub current_after: StateIds,
}

/// Places `built` (an event of room `version`, described by `event`) in its
/// room's graph: `None` when it follows the room's current state (its
/// previous events are the room's forward extremities), and also when the
/// state after one of the events involved is not known (events stored
/// before the state at each event was kept) or the room version's
/// resolution is not implemented (v1), in which cases the current state is
/// the best there is.
pub fn place(store: &dyn Storage, version: &str, built: &Built, event: &StoredEvent) -> Result<Option<Placed>, String> {
    let extremities: BTreeSet<String> = store
        .forward_extremities(&event.room_id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(event_id, _)| event_id)
        .collect();
    let prev: BTreeSet<String> = built.prev_events.iter().cloned().collect();
    if prev == extremities || version == "1" {
        return Ok(None);
    }
    let states_after = |ids: &mut dyn Iterator<Item = &String>| -> Result<Option<Vec<StateIds>>, String> {
        let mut states = Vec::new();
        for id in ids {
            match store.state_after(id).map_err(|e| e.to_string())? {
                Some(state) => states.push(state),
                None => return Ok(None),
            }
        }
        Ok(Some(states))
    };
    let Some(prev_states) = states_after(&mut prev.iter())? else {
        return Ok(None);
    };
    let Some(other_states) = states_after(&mut extremities.difference(&prev))? else {
        return Ok(None);
    };
    let mut events = resolution_events(store, prev_states.iter().chain(&other_states))?;
    events.insert(
        built.event_id.clone(),
        Event {
            event: event.clone(),
            auth_events: named_events(&built.pdu, "auth_events"),
        },
    );
    let resolve = |states: Vec<StateIds>| -> Result<StateIds, String> {
        match &states[..] {
            [only] => Ok(only.clone()),
            _ => state_res::resolve(version, &states, &events),
        }
    };
    let state_before = resolve(prev_states)?;
    let with_others = |state: &StateIds| resolve([state.clone()].into_iter().chain(other_states.clone()).collect());
    let current_before = with_others(&state_before)?;
    let mut after = state_before.clone();
    if let Some(state_key) = &event.state_key {
        after.insert((event.event_type.clone(), state_key.clone()), event.event_id.clone());
    }
    let current_after = with_others(&after)?;
    Ok(Some(Placed {
        state_before,
        current_before,
        current_after,
    }))
}

/// The events of `states` and of their auth chains, as far as the store
/// has them (an auth event it lacks makes resolution fail, naming it).
fn resolution_events<'a>(
    store: &dyn Storage,
    states: impl IntoIterator<Item = &'a StateIds>,
) -> Result<Events, String> {
    let mut events = Events::new();
    let mut todo: Vec<String> = states.into_iter().flat_map(|s| s.values().cloned()).collect();
    while let Some(id) = todo.pop() {
        if events.contains_key(&id) {
            continue;
        }
        let Some(event) = store.event(&id).map_err(|e| e.to_string())? else {
            continue;
        };
        let auth_events = match store.pdu(&id).map_err(|e| e.to_string())? {
            Some(pdu) => named_events(&pdu, "auth_events"),
            None => Vec::new(),
        };
        todo.extend(auth_events.iter().filter(|a| !events.contains_key(*a)).cloned());
        events.insert(id, Event { event, auth_events });
    }
    Ok(events)
}

/// The stored events of `state` (those the store has).
pub fn events_of(store: &dyn Storage, state: &StateIds) -> Result<Vec<StoredEvent>, String> {
    let mut events = Vec::with_capacity(state.len());
    for id in state.values() {
        if let Some(event) = store.event(id).map_err(|e| e.to_string())? {
            events.push(event);
        }
    }
    Ok(events)
}
