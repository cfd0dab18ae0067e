//! Corrections the spec's own text makes to its YAML, from the declared
//! data file `api-specs/errata.toml`.
//!
//! Two kinds: a property the YAML requires and the text does not (the
//! event templates of the server-server API require a top-level `origin`,
//! which room versions 11 and later no longer have; servers leave it out,
//! and a client generated from the YAML as written refuses their answers),
//! and a way to authenticate the text allows and the YAML's `security`
//! leaves out (the identity server's `/3pid/unbind`, signed by the user's
//! homeserver). Each entry is applied to the documents before the IR is
//! built, and every place it changed is returned as a warning, so `stats`
//! shows it.

use crate::diag::{Error, Location, Result};
use crate::load::docs::DocStore;
use serde::Deserialize;
use serde_json::Value;

/// The data file, built into the generator like `events.toml`.
pub const DATA_FILE: &str = include_str!("../../../api-specs/errata.toml");

#[derive(Deserialize)]
struct DataFile {
    #[serde(default)]
    optional: Vec<Optional>,
    #[serde(default)]
    security: Vec<Security>,
    #[serde(default)]
    property: Vec<Property>,
}

/// A property the text gives an operation's JSON request body and the
/// YAML does not list.
#[derive(Deserialize)]
struct Property {
    file: String,
    path: String,
    method: String,
    name: String,
    /// The property's schema.
    schema: Value,
    source: String,
}

/// A security alternative the text allows for one operation.
#[derive(Deserialize)]
struct Security {
    file: String,
    path: String,
    method: String,
    /// The scheme's name, as a `security` list names it.
    add: String,
    source: String,
}

/// A property the YAML requires and the spec's text does not.
#[derive(Deserialize)]
struct Optional {
    property: String,
    files: Vec<String>,
    source: String,
}

fn data() -> Result<DataFile> {
    toml::from_str(DATA_FILE).map_err(|e| Error::Other(format!("api-specs/errata.toml: {e}")))
}

/// Every file an entry names, for checking that each still needs it.
pub fn listed_files() -> Result<Vec<String>> {
    let data = data()?;
    let optional = data.optional.into_iter().flat_map(|entry| entry.files);
    Ok(optional
        .chain(data.security.into_iter().map(|entry| entry.file))
        .collect())
}

/// Applies every entry; returns where each changed a schema, and what.
pub fn apply(store: &mut DocStore) -> Result<Vec<(Location, String)>> {
    let data = data()?;
    let mut changed = Vec::new();
    for entry in &data.optional {
        for file in &entry.files {
            let Some(doc) = store.doc_mut(file) else { continue };
            let mut pointers = Vec::new();
            make_optional(doc, &entry.property, String::new(), &mut pointers);
            changed.extend(pointers.into_iter().map(|pointer| {
                (
                    Location::new(file.clone(), &pointer),
                    format!(
                        "`{}` read as optional (api-specs/errata.toml: {})",
                        entry.property, entry.source
                    ),
                )
            }));
        }
    }
    for entry in &data.security {
        let Some(doc) = store.doc_mut(&entry.file) else {
            continue;
        };
        if let Some(pointer) = add_security(doc, entry) {
            changed.push((
                Location::new(entry.file.clone(), &pointer),
                format!(
                    "`{}` accepted beside the listed credentials (api-specs/errata.toml: {})",
                    entry.add, entry.source
                ),
            ));
        }
    }
    for entry in &data.property {
        let Some(doc) = store.doc_mut(&entry.file) else {
            continue;
        };
        if let Some(pointer) = add_property(doc, entry) {
            changed.push((
                Location::new(entry.file.clone(), &pointer),
                format!(
                    "property `{}` added (api-specs/errata.toml: {})",
                    entry.name, entry.source
                ),
            ));
        }
    }
    Ok(changed)
}

/// Adds the property to the operation's JSON request body schema (an
/// OpenAPI 3 `requestBody`, or a Swagger 2 `in: body` parameter, so that
/// every release reads alike); the schema's pointer, or `None` when there
/// is no such inline schema or it lists the property already.
fn add_property(doc: &mut Value, entry: &Property) -> Option<String> {
    let path = entry.path.replace('~', "~0").replace('/', "~1");
    let operation = format!("/paths/{path}/{}", entry.method);
    let openapi = format!("{operation}/requestBody/content/application~1json/schema");
    let pointer = if doc.pointer(&openapi).is_some() {
        openapi
    } else {
        let parameters = doc.pointer(&format!("{operation}/parameters"))?.as_array()?;
        let body = parameters
            .iter()
            .position(|p| p.get("in").and_then(Value::as_str) == Some("body"))?;
        format!("{operation}/parameters/{body}/schema")
    };
    let schema = doc.pointer_mut(&pointer)?.as_object_mut()?;
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()?;
    if properties.contains_key(&entry.name) {
        return None;
    }
    properties.insert(entry.name.clone(), entry.schema.clone());
    Some(pointer)
}

/// Adds the alternative `{add: []}` to the operation's own `security`
/// (a copy of the document's default, if it has none); the pointer of the
/// list it changed, or `None` when the operation is not there or already
/// lists it.
fn add_security(doc: &mut Value, entry: &Security) -> Option<String> {
    let default = doc.get("security").cloned().unwrap_or_else(|| Value::Array(Vec::new()));
    let operation = doc
        .get_mut("paths")?
        .get_mut(&entry.path)?
        .get_mut(&entry.method)?
        .as_object_mut()?;
    let list = operation.entry("security").or_insert(default).as_array_mut()?;
    if list.iter().any(|alt| alt.get(&entry.add).is_some()) {
        return None;
    }
    // An operation that asked for no credentials still takes none.
    if list.is_empty() {
        list.push(serde_json::json!({}));
    }
    list.push(serde_json::json!({ (entry.add.clone()): [] }));
    let path = entry.path.replace('~', "~0").replace('/', "~1");
    Some(format!("/paths/{path}/{}/security", entry.method))
}

/// Removes `property` from the `required` list of every schema below
/// `value` that also declares it, collecting their JSON pointers.
fn make_optional(value: &mut Value, property: &str, pointer: String, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let declares = map
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| p.contains_key(property));
            if declares {
                if let Some(Value::Array(required)) = map.get_mut("required") {
                    let before = required.len();
                    required.retain(|r| r.as_str() != Some(property));
                    if required.len() != before {
                        found.push(pointer.clone());
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                make_optional(child, property, format!("{pointer}/{escaped}"), found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                make_optional(child, property, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_security_alternative_is_added_once() {
        let entry = Security {
            file: "f.yaml".into(),
            path: "/3pid/unbind".into(),
            method: "post".into(),
            add: "signedRequest".into(),
            source: String::new(),
        };
        let mut doc = json!({
            "security": [{ "accessTokenBearer": [] }],
            "paths": { "/3pid/unbind": { "post": {} } },
        });
        assert_eq!(
            add_security(&mut doc, &entry).as_deref(),
            Some("/paths/~13pid~1unbind/post/security")
        );
        assert_eq!(
            doc["paths"]["/3pid/unbind"]["post"]["security"],
            json!([{ "accessTokenBearer": [] }, { "signedRequest": [] }])
        );
        assert_eq!(add_security(&mut doc, &entry), None);

        // Without credentials before, it takes none or the added ones.
        let mut open = json!({ "paths": { "/3pid/unbind": { "post": {} } } });
        assert!(add_security(&mut open, &entry).is_some());
        assert_eq!(
            open["paths"]["/3pid/unbind"]["post"]["security"],
            json!([{}, { "signedRequest": [] }])
        );
    }

    #[test]
    fn a_required_property_becomes_optional_where_it_is_declared() {
        let mut doc = json!({
            "a": { "properties": { "origin": {}, "sender": {} }, "required": ["origin", "sender"] },
            "b": { "properties": { "sender": {} }, "required": ["origin"] },
        });
        let mut found = Vec::new();
        make_optional(&mut doc, "origin", String::new(), &mut found);
        assert_eq!(found, vec!["/a".to_owned()]);
        assert_eq!(doc["a"]["required"], json!(["sender"]));
        // Not declared there: a `required` of something else is left alone.
        assert_eq!(doc["b"]["required"], json!(["origin"]));
    }
}
