//! One resolved, self-contained OpenAPI 3.1 document per API family: what
//! matrix-spec's `dump-openapi.py` produces, for any release (Swagger 2.0
//! releases are converted through the normalized operations).

use crate::diag::Result;
use crate::family::Family;
use crate::load::api::{self, ParamIn, RawMedia, RawOperation, RawParam, SecurityScheme};
use crate::load::docs::DocStore;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The bundled documents, by family.
pub fn bundle(store: &DocStore, release: &str) -> Result<BTreeMap<Family, Value>> {
    let ops = api::operations(store)?;
    let mut out = BTreeMap::new();
    for family in Family::ALL {
        let family_ops: Vec<&RawOperation> = ops.operations.iter().filter(|o| o.family == family).collect();
        if family_ops.is_empty() {
            continue;
        }
        let mut paths: Map<String, Value> = Map::new();
        let mut schemes: BTreeMap<String, Value> = BTreeMap::new();
        for op in family_ops {
            let mut operation = operation(store, op)?;
            let mut security = Vec::new();
            for alternative in &op.security {
                let mut requirement = Map::new();
                for (name, scheme) in alternative {
                    if let Some(s) = scheme_json(scheme) {
                        schemes.insert(name.clone(), s);
                        requirement.insert(name.clone(), json!([]));
                    }
                }
                security.push(Value::Object(requirement));
            }
            if !op.security.is_empty() {
                operation.insert("security".into(), Value::Array(security));
            }
            let key = format!("{}{}", op.path.trim_end(), &op.path_key[op.path_key.trim_end().len()..]);
            let item = paths.entry(key).or_insert_with(|| json!({}));
            item[&op.method] = Value::Object(operation);
        }
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": format!("Matrix {}", family.title()),
                "version": release,
                "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
            },
            "servers": [{ "url": "https://localhost:8008" }],
            "paths": paths,
        });
        if !schemes.is_empty() {
            doc["components"] = json!({ "securitySchemes": schemes });
        }
        out.insert(family, doc);
    }
    Ok(out)
}

fn scheme_json(scheme: &SecurityScheme) -> Option<Value> {
    match scheme {
        SecurityScheme::Http { scheme, description } => {
            Some(json!({ "type": "http", "scheme": scheme, "description": description }))
        }
        SecurityScheme::ApiKey {
            name,
            place,
            description,
        } => Some(json!({ "type": "apiKey", "name": name, "in": place, "description": description })),
        SecurityScheme::Other { .. } => None,
    }
}

fn operation(store: &DocStore, op: &RawOperation) -> Result<Map<String, Value>> {
    let mut o = Map::new();
    o.insert("operationId".into(), json!(op.operation_id));
    if !op.summary.is_empty() {
        o.insert("summary".into(), json!(op.summary));
    }
    if !op.description.is_empty() {
        o.insert("description".into(), json!(op.description));
    }
    if !op.tags.is_empty() {
        o.insert("tags".into(), json!(op.tags));
    }
    if op.deprecated {
        o.insert("deprecated".into(), json!(true));
    }
    if let Some(v) = &op.added_in {
        o.insert("x-addedInMatrixVersion".into(), json!(v));
    }
    if !op.changed_in.is_empty() {
        let m: Map<String, Value> = op.changed_in.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        o.insert("x-changedInMatrixVersion".into(), Value::Object(m));
    }
    if !op.parameters.is_empty() {
        let params = op
            .parameters
            .iter()
            .map(|p| parameter(store, p))
            .collect::<Result<Vec<_>>>()?;
        o.insert("parameters".into(), Value::Array(params));
    }
    if let Some(body) = &op.request_body {
        let mut b = Map::new();
        if !body.description.is_empty() {
            b.insert("description".into(), json!(body.description));
        }
        if body.required {
            b.insert("required".into(), json!(true));
        }
        b.insert("content".into(), content(store, &body.content)?);
        o.insert("requestBody".into(), Value::Object(b));
    }
    let mut responses = Map::new();
    for r in &op.responses {
        let mut resp = Map::new();
        resp.insert("description".into(), json!(r.description));
        if !r.content.is_empty() {
            resp.insert("content".into(), content(store, &r.content)?);
        }
        if !r.headers.is_empty() {
            let mut headers = Map::new();
            for h in &r.headers {
                let mut p = parameter(store, h)?;
                if let Value::Object(m) = &mut p {
                    m.remove("name");
                    m.remove("in");
                }
                headers.insert(h.name.clone(), p);
            }
            resp.insert("headers".into(), Value::Object(headers));
        }
        // OpenAPI 3.1 spells status ranges `4XX`; Swagger-era files wrote `4xx`.
        responses.insert(r.status.to_uppercase(), Value::Object(resp));
    }
    o.insert("responses".into(), Value::Object(responses));
    Ok(o)
}

fn parameter(store: &DocStore, p: &RawParam) -> Result<Value> {
    let mut v = json!({
        "name": p.name,
        "in": match p.place { ParamIn::Path => "path", ParamIn::Query => "query", ParamIn::Header => "header" },
        "required": p.required || p.place == ParamIn::Path,
        "schema": schema(store, &p.schema.location, &p.schema.value)?,
    });
    if !p.description.is_empty() {
        v["description"] = json!(p.description);
    }
    if p.deprecated {
        v["deprecated"] = json!(true);
    }
    if let Some(example) = &p.example {
        v["example"] = example.clone();
    }
    Ok(v)
}

fn content(store: &DocStore, media: &[RawMedia]) -> Result<Value> {
    let mut out = Map::new();
    for m in media {
        let mut entry = Map::new();
        if let Some(s) = &m.schema {
            entry.insert("schema".into(), schema(store, &s.location, &s.value)?);
        }
        if !m.examples.is_empty() {
            let mut examples = Map::new();
            for (i, ex) in m.examples.iter().enumerate() {
                let value = store.inline_example(&ex.location, &ex.value)?;
                let name = if i == 0 {
                    "response".to_owned()
                } else {
                    format!("example{i}")
                };
                examples.insert(name, json!({ "value": value }));
            }
            entry.insert("examples".into(), Value::Object(examples));
        }
        out.insert(m.content_type.clone(), Value::Object(entry));
    }
    Ok(Value::Object(out))
}

/// A schema with every `$ref` inlined and Swagger 2.0 spellings converted.
fn schema(store: &DocStore, loc: &crate::diag::Location, value: &Value) -> Result<Value> {
    let mut v = store.inline(loc, value)?;
    crate::load::quirks::fix_tree(&mut v);
    to_openapi31(&mut v);
    Ok(v)
}

/// `type: file` → binary string; `x-nullable`/`nullable` → `type` lists;
/// list-form `items` → `prefixItems`.
fn to_openapi31(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("file") {
                m.insert("type".into(), json!("string"));
                m.insert("format".into(), json!("binary"));
            }
            if matches!(m.get("items"), Some(Value::Array(_))) {
                if let Some(items) = m.remove("items") {
                    m.insert("prefixItems".into(), items);
                }
            }
            for key in ["nullable", "x-nullable"] {
                if m.remove(key) == Some(Value::Bool(true)) {
                    if let Some(Value::String(t)) = m.get("type").cloned() {
                        m.insert("type".into(), json!([t, "null"]));
                    }
                }
            }
            for (k, child) in m.iter_mut() {
                if !matches!(k.as_str(), "example" | "examples" | "default" | "enum") {
                    to_openapi31(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_openapi31),
        _ => {}
    }
}
