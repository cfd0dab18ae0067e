//! The `unsigned` data of events, completed from the declared data file.
//!
//! From v1.2 the event schemas' `unsigned_prop.yaml` declares only `age`,
//! while the client-server API's event format declares the whole
//! `UnsignedData` (`transaction_id`, `prev_content`, `membership`, ...).
//! `api-specs/events.toml` (`[unsigned]`) names both; before the IR is
//! built, the event schemas' copy gets every property it lacks, so the
//! generated event forms type what servers send instead of leaving it in
//! their `extra` map. Releases that have either file missing (v1.1 still
//! declares the longer list itself; a loose seed file has neither) are left
//! as they are.

use crate::diag::{Error, Location, Result};
use crate::load::docs::DocStore;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct DataFile {
    unsigned: Option<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    /// The short schema, root-relative.
    extends: String,
    /// The full one: root-relative file and JSON pointer.
    schema: String,
    #[allow(dead_code)] // read by people: where the spec says it
    source: String,
}

/// Adds the declared full `UnsignedData`'s properties to the event schemas'
/// short one, where both exist.
pub fn extend(store: &mut DocStore) -> Result<()> {
    let file: DataFile = toml::from_str(super::event_kinds::DATA_FILE)
        .map_err(|e| Error::Other(format!("api-specs/events.toml: {e}")))?;
    let Some(entry) = file.unsigned else { return Ok(()) };
    let Some(full) = full_properties(store, &entry.schema)? else {
        return Ok(());
    };
    let Some(Value::Object(short)) = store.doc_mut(&entry.extends) else {
        return Ok(());
    };
    let properties = short
        .entry("properties")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(properties) = properties else {
        return Ok(());
    };
    for (name, schema) in full {
        properties.entry(name).or_insert(schema);
    }
    Ok(())
}

/// The properties of the full schema, with their `$ref`s made independent of
/// the file they were written in; `None` when the release does not have it.
fn full_properties(store: &DocStore, schema: &str) -> Result<Option<serde_json::Map<String, Value>>> {
    let (file, pointer) = schema.split_once('#').unwrap_or((schema, ""));
    let location = Location::new(file.to_owned(), pointer);
    let Some(value) = store.doc(file).and_then(|doc| doc.pointer(pointer)) else {
        return Ok(None);
    };
    let (location, mut value) = store.deref(&location, value)?;
    store.absolutize(&mut value, &location.file);
    Ok(match value.get_mut("properties").map(Value::take) {
        Some(Value::Object(properties)) => Some(properties),
        _ => None,
    })
}
