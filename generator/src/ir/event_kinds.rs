//! What kind of event each event schema describes (state, message-like,
//! account data, …) and which schemas are variants of another event's
//! content (`m.room.message$m.text`).
//!
//! The kind comes from the schema where it says it: an event that `allOf`s
//! `core-event-schema/state_event.yaml` is a state event, one that `allOf`s
//! `room_event.yaml` is message-like. Events that only `allOf` the generic
//! `event.yaml` take their kind from the declared data file
//! `api-specs/events.toml`, where each entry quotes the spec's prose.

use super::{Api, EventKind, KindSource};
use crate::diag::{Error, Location, Result};
use crate::load::docs::DocStore;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The data file, compiled in so that every caller of the library (tests,
/// xtask, fuzzing) reads the same facts.
pub const DATA_FILE: &str = include_str!("../../../api-specs/events.toml");

#[derive(Deserialize)]
struct DataFile {
    events: BTreeMap<String, Entry>,
    #[serde(default)]
    redaction: BTreeMap<String, RedactionEntry>,
}

#[derive(Deserialize)]
struct RedactionEntry {
    keep: Vec<String>,
    #[allow(dead_code)] // read by people: where the spec says it
    source: String,
}

#[derive(Deserialize)]
struct Entry {
    kinds: Vec<EventKind>,
    #[allow(dead_code)] // read by people: where the spec says it
    source: String,
}

fn data_file() -> Result<DataFile> {
    toml::from_str(DATA_FILE).map_err(|e| Error::Other(format!("api-specs/events.toml: {e}")))
}

/// The core schema an event schema builds on, by file stem
/// (`state_event`, `room_event`, `event`), found through its `allOf`.
fn core_base(store: &DocStore, loc: &Location, doc: &Value) -> Option<String> {
    let parts = doc.get("allOf")?.as_array()?;
    for (i, part) in parts.iter().enumerate() {
        let Some(reference) = part.get("$ref").and_then(Value::as_str) else {
            continue;
        };
        let Ok(resolved) = store.resolve_ref(&loc.child("allOf").index(i), reference) else {
            continue;
        };
        let file = &resolved.location.file;
        if !file.contains("core-event-schema/") {
            continue;
        }
        let stem = crate::load::docs::doc_stem(file);
        if matches!(
            stem,
            "state_event" | "room_event" | "event" | "sync_room_event" | "sync_state_event"
        ) {
            return Some(stem.to_owned());
        }
    }
    None
}

/// Fills in `kinds`, `kind_source` and `variant_of` of every event, and
/// the API's redaction rules and unused data-file entries: the data file is
/// read once, here.
pub fn assign(store: &DocStore, api: &mut Api) -> Result<()> {
    let file = data_file()?;
    for event in api.events.iter_mut() {
        if let Some((base, value)) = event.schema_name.split_once('$') {
            event.variant_of = Some((base.to_owned(), value.to_owned()));
            continue;
        }
        let loc = Location::new(event.file.clone(), "");
        let base = store.doc(&event.file).and_then(|doc| core_base(store, &loc, doc));
        let (kinds, source) = match base.as_deref() {
            Some("state_event" | "sync_state_event") => (vec![EventKind::State], KindSource::Schema),
            Some("room_event" | "sync_room_event") => (vec![EventKind::MessageLike], KindSource::Schema),
            _ => match file.events.get(event.type_name()) {
                Some(entry) => (entry.kinds.clone(), KindSource::DataFile),
                None => (Vec::new(), KindSource::Unknown),
            },
        };
        event.kinds = kinds;
        event.kind_source = source;
    }
    // Entries that name no event of this spec (a typo, or an event an older
    // release does not have).
    api.unused_kind_entries = file
        .events
        .keys()
        .filter(|t| {
            !api.events
                .iter()
                .any(|e| e.event_type.as_deref() == Some(t.as_str()) || e.schema_name == **t)
        })
        .cloned()
        .collect();
    api.redaction = file.redaction.into_iter().map(|(k, v)| (k, v.keep)).collect();
    Ok(())
}
