//! Spellings found in released specs that are not JSON Schema, each read as
//! what the authors evidently meant. Every fix is reported as a warning by
//! the caller; none is applied silently.

use serde_json::{json, Map, Value};

/// The `type` names JSON Schema (and Swagger 2.0, for `file`) knows.
pub const TYPES: &[&str] = &[
    "string", "integer", "number", "boolean", "object", "array", "null", "file",
];

/// One fix for a schema node, if it needs one: the corrected node and what
/// was done. Call again on the result until it returns `None`.
pub fn fix(obj: &Map<String, Value>) -> Option<(Map<String, Value>, String)> {
    match obj.get("properties") {
        // v1.1 writes `properties: []` once.
        Some(Value::Array(list)) if list.is_empty() => {
            let mut fixed = obj.clone();
            fixed.insert("properties".into(), Value::Object(Map::new()));
            return Some((fixed, "`properties: []` read as no properties".into()));
        }
        _ => {}
    }
    match obj.get("type") {
        // v1.1–v1.7 put a whole schema in a `type` list; that means `oneOf`.
        Some(Value::Array(list)) if list.iter().any(Value::is_object) => {
            let variants: Vec<Value> = list
                .iter()
                .map(|t| match t {
                    Value::String(s) => json!({ "type": s }),
                    other => other.clone(),
                })
                .collect();
            let mut fixed = obj.clone();
            fixed.remove("type");
            fixed.insert("oneOf".into(), Value::Array(variants));
            Some((fixed, "a schema inside a `type` list; read as `oneOf`".into()))
        }
        // v1.8 writes `type: string[]`.
        Some(Value::String(t)) if t.ends_with("[]") && TYPES.contains(&&t[..t.len() - 2]) => {
            let item = &t[..t.len() - 2];
            let mut fixed = obj.clone();
            fixed.insert("type".into(), json!("array"));
            fixed.insert("items".into(), json!({ "type": item }));
            Some((
                fixed,
                format!("`type: {t}` is not JSON Schema; read as an array of {item}"),
            ))
        }
        // v1.7/v1.8 write `type: enum`; the values say what it is.
        Some(Value::String(t))
            if t == "enum"
                && obj
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().all(Value::is_string)) =>
        {
            let mut fixed = obj.clone();
            fixed.insert("type".into(), json!("string"));
            Some((fixed, "`type: enum` is not JSON Schema; read as a string enum".into()))
        }
        _ => None,
    }
}

/// Applies every fix to a whole schema tree (for the bundle).
pub fn fix_tree(value: &mut Value) {
    if let Value::Object(map) = value {
        while let Some((fixed, _)) = fix(map) {
            *map = fixed;
        }
        for (k, child) in map.iter_mut() {
            if !matches!(k.as_str(), "example" | "examples" | "enum") {
                fix_tree(child);
            }
        }
    } else if let Value::Array(items) = value {
        items.iter_mut().for_each(fix_tree);
    }
}
