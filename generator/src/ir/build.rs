//! Builds the [`Api`] from a loaded spec: operations, every schema file,
//! event schemas and the examples that must fit the generated types.

use super::naming::{self, pascal};
use super::schema::{doc_of_map, Converter};
use super::{
    Api, Body, Content, Doc, Event, Example, ExampleKind, KindSource, Operation, Param, Response, Ty, TypeId, TypeKind,
};
use crate::diag::{Location, Result};
use crate::family::Family;
use crate::load::api::{self, RawMedia, RawParam};
use crate::load::docs::{doc_stem, DocStore};
use serde_json::Value;
use std::collections::BTreeMap;

/// Builds the IR for a whole spec. Fails on the first structural error (with
/// file and JSON pointer); constructs that are valid but not expressible are
/// collected in [`Api::unhandled`].
pub fn build(store: &DocStore) -> Result<Api> {
    let mut conv = Converter::new(store);
    let mut api = Api::default();

    let raw_ops = api::operations(store)?;
    api.warnings = raw_ops.warnings;
    for raw in raw_ops.operations {
        conv.family = raw.family.dir().to_owned();
        let op = operation(&mut conv, &mut api, raw)?;
        api.operations.push(op);
    }
    name_operations(&mut api.operations);

    // Every schema file becomes a type, referenced or not.
    for (file, doc) in store.files() {
        if !is_schema_file(file, doc) {
            continue;
        }
        conv.family = file.split('/').take(2).collect::<Vec<_>>().join("/");
        conv.ty(&Location::new(file.clone(), ""), doc)?;
    }

    conv.family = "event-schemas".into();
    for (file, doc) in store.files() {
        let Some(name) = file.strip_prefix("event-schemas/schema/") else {
            continue;
        };
        if name.contains('/') || !is_schema_doc(doc) {
            continue;
        }
        // Releases before 2021 separate a content variant with `#`
        // (`m.room.message#m.text`), later ones with `$`.
        let schema_name = doc_stem(name).replace('#', "$");
        let loc = Location::new(file.clone(), "");
        let ty = conv.ty(&loc, doc)?;
        api.events.push(Event {
            event_type: event_type(store, &loc, doc),
            schema_name,
            file: file.clone(),
            ty,
            content: None,
            kinds: Vec::new(),
            kind_source: KindSource::Unknown,
            variant_of: None,
        });
    }
    super::event_kinds::assign(store, &mut api)?;
    event_examples(store, &mut api)?;

    api.examples.append(&mut conv.examples);
    api.unhandled.append(&mut conv.unhandled);
    api.warnings.append(&mut conv.warnings);
    api.identifiers = std::mem::take(&mut conv.identifiers);
    let drafts = super::copies::merge(std::mem::take(&mut conv.drafts), &mut api);
    naming::assign(drafts, &mut api);
    api.constants = naming::constants(&api);

    for event in &mut api.events {
        if let Ty::Named(id) = event.ty {
            if let TypeKind::Struct { fields, .. } = &api.types[id].kind {
                event.content = fields.iter().find(|f| f.wire_name == "content").map(|f| f.ty.clone());
            }
        }
    }
    mark_open_types(&mut api);
    // One entry per example location (a shared base schema is reached from many parents).
    let mut seen = std::collections::BTreeSet::new();
    api.examples.retain(|e| seen.insert(e.location.clone()));
    api.examples.sort_by(|a, b| a.location.cmp(&b.location));
    api.unhandled.sort();
    api.unhandled.dedup();
    Ok(api)
}

/// Event contents, and the `unsigned` data of the generic event forms, keep
/// fields the spec does not declare: a bridge that forwards an event must
/// not drop what a newer spec (or an extension) put in it.
///
/// So do signed objects (those with a `signatures` property): the spec's
/// Signing JSON appendix signs every key but `signatures` and `unsigned`,
/// so a server that stores device keys or one-time keys and gives them out
/// again must keep each key it was sent, or the receiver's signature check
/// fails. The spec's own examples carry such undeclared keys (`fallback` on
/// fallback keys).
///
/// And so do the server-server API's objects shaped like events (they
/// declare `type`, `content`, `sender` and `origin_server_ts`): event
/// templates and signed PDUs (`make_join`, `send_join`, ...), whose schemas
/// the spec abbreviates to a few fields while the events travel whole,
/// hashes and signatures covering every key. Everything inside them (their
/// `content`, and objects in it) is kept whole for the same reason: a
/// template's content that lost the joining user's `displayname` on its way
/// back would no longer match its hash.
fn mark_open_types(api: &mut Api) {
    let mut open = Vec::new();
    let mut event_shaped = Vec::new();
    for (id, def) in api.types.iter().enumerate() {
        if let TypeKind::Struct { fields, .. } = &def.kind {
            let has = |name: &str| fields.iter().any(|f| f.wire_name == name);
            let is_pdu = def.module == crate::family::Module::Family(crate::family::Family::ServerServer)
                && ["type", "content", "sender", "origin_server_ts"].into_iter().all(has);
            if is_pdu {
                event_shaped.push(id);
            } else if has("signatures") {
                open.push(id);
            }
        }
    }
    open.extend(reachable_structs(api, event_shaped));
    for event in &api.events {
        if let Some(Ty::Named(id)) = event.content {
            open.push(id);
        }
    }
    for id in 0..api.types.len() {
        if !api.is_event_form(id) {
            continue;
        }
        if let TypeKind::Struct { fields, .. } = &api.types[id].kind {
            for f in fields.iter().filter(|f| f.wire_name == "unsigned") {
                if let Ty::Named(u) = f.ty.strip_nullable() {
                    open.push(*u);
                }
            }
        }
    }
    for id in open {
        let def = &mut api.types[id];
        if let TypeKind::Struct { additional: None, .. } = def.kind {
            def.keeps_unknown = true;
        }
    }
}

/// The struct types `roots` are made of, the roots included.
fn reachable_structs(api: &Api, roots: Vec<TypeId>) -> Vec<TypeId> {
    fn named_in(ty: &Ty, out: &mut Vec<TypeId>) {
        match ty {
            Ty::Named(id) => out.push(*id),
            Ty::Array(inner) | Ty::Map(inner) | Ty::IdMap(_, inner) | Ty::Nullable(inner) => named_in(inner, out),
            Ty::Tuple(items) => items.iter().for_each(|item| named_in(item, out)),
            _ => {}
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = roots;
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let TypeKind::Struct { fields, .. } = &api.types[id].kind {
            for field in fields {
                named_in(&field.ty, &mut queue);
            }
        }
    }
    seen.into_iter().collect()
}

fn is_schema_doc(doc: &Value) -> bool {
    let Some(obj) = doc.as_object() else { return false };
    [
        "type",
        "properties",
        "allOf",
        "oneOf",
        "anyOf",
        "$ref",
        "items",
        "enum",
        "additionalProperties",
    ]
    .iter()
    .any(|k| obj.contains_key(*k))
}

/// Schema files: everything under `schemas/`, `event-schemas/schema/` and
/// `api/<family>/` that is not an API description, not an example and looks
/// like a schema (security scheme lists, for one, do not).
fn is_schema_file(file: &str, doc: &Value) -> bool {
    let in_schema_folder = file.starts_with("schemas/")
        || file.starts_with("event-schemas/schema/")
        || (file.starts_with("api/") && !file.contains("/examples/"));
    in_schema_folder && doc.get("paths").is_none() && is_schema_doc(doc)
}

fn event_type(store: &DocStore, loc: &Location, doc: &Value) -> Option<String> {
    let (_, doc) = store.deref(loc, doc).ok()?;
    let from = |v: &Value| {
        v.get("properties")?
            .get("type")?
            .get("enum")?
            .as_array()?
            .first()?
            .as_str()
            .map(str::to_owned)
    };
    if let Some(t) = from(&doc) {
        return Some(t);
    }
    // Declared by one of the allOf parents.
    for (i, part) in doc.get("allOf")?.as_array()?.iter().enumerate() {
        let (_, part) = store.deref(&loc.child("allOf").index(i), part).ok()?;
        if let Some(t) = from(&part) {
            return Some(t);
        }
    }
    None
}

fn is_json(content_type: &str) -> bool {
    content_type == "application/json" || content_type.ends_with("+json")
}

fn param(conv: &mut Converter<'_>, api: &mut Api, raw: &RawParam) -> Result<Param> {
    let ty = conv.ty(&raw.schema.location, &raw.schema.value)?;
    if let Some(example) = &raw.example {
        api.examples.push(Example {
            location: raw.schema.location.child("x-example"),
            value: example.clone(),
            ty: ty.clone(),
            kind: ExampleKind::Parameter,
        });
    }
    let mut doc = raw.schema.value.as_object().map(doc_of_map).unwrap_or_default();
    doc.description = raw.description.clone();
    doc.deprecated |= raw.deprecated;
    Ok(Param {
        name: raw.name.clone(),
        place: raw.place,
        required: raw.required,
        ty,
        doc,
    })
}

/// Describes a body type written inline in an operation, which the spec
/// leaves without a description of its own.
fn describe_inline_body(conv: &mut Converter<'_>, ty: &Ty, location: &Location, what: &str) {
    if let Ty::Named(id) = ty {
        let def = &mut conv.drafts[*id].def;
        if def.origin == *location && def.doc.description.trim().is_empty() {
            def.doc.description = what.to_owned();
        }
    }
}

fn contents(
    conv: &mut Converter<'_>,
    api: &mut Api,
    media: &[RawMedia],
    kind: ExampleKind,
    what: &str,
) -> Result<Vec<Content>> {
    let mut out = Vec::new();
    for m in media {
        let ty = match &m.schema {
            Some(s) if is_json(&m.content_type) => {
                let ty = conv.ty(&s.location, &s.value)?;
                describe_inline_body(conv, &ty, &s.location, what);
                Some(ty)
            }
            Some(s) => {
                // A non-JSON body: still read its schema so nothing goes unchecked.
                conv.ty(&s.location, &s.value)?;
                Some(Ty::Bytes)
            }
            // A non-JSON body without a schema is still bytes.
            None if !is_json(&m.content_type) => Some(Ty::Bytes),
            None => None,
        };
        for ex in &m.examples {
            match (&ty, is_json(&m.content_type)) {
                (Some(ty), true) => api.examples.push(Example {
                    location: ex.location.clone(),
                    value: ex.value.clone(),
                    ty: ty.clone(),
                    kind,
                }),
                _ => api
                    .skipped_examples
                    .push((ex.location.clone(), format!("content type {}", m.content_type))),
            }
        }
        out.push(Content {
            content_type: m.content_type.clone(),
            ty,
        });
    }
    Ok(out)
}

fn operation(conv: &mut Converter<'_>, api: &mut Api, raw: api::RawOperation) -> Result<Operation> {
    let params = raw
        .parameters
        .iter()
        .map(|p| param(conv, api, p))
        .collect::<Result<Vec<_>>>()?;
    let request = match &raw.request_body {
        Some(body) => Some(Body {
            required: body.required,
            description: body.description.clone(),
            content: contents(
                conv,
                api,
                &body.content,
                ExampleKind::Request,
                &format!(
                    "Request body of `{} {}` (`{}`).",
                    raw.method.to_uppercase(),
                    raw.path,
                    raw.operation_id
                ),
            )?,
        }),
        None => None,
    };
    let mut responses = Vec::new();
    for r in &raw.responses {
        let headers = r
            .headers
            .iter()
            .map(|h| param(conv, api, h))
            .collect::<Result<Vec<_>>>()?;
        responses.push(Response {
            status: r.status.clone(),
            description: r.description.clone(),
            content: contents(
                conv,
                api,
                &r.content,
                ExampleKind::Response,
                &format!(
                    "Response body of `{} {}` (`{}`) with status {}: {}",
                    raw.method.to_uppercase(),
                    raw.path,
                    raw.operation_id,
                    r.status,
                    r.description.trim()
                ),
            )?,
            headers,
        });
    }
    Ok(Operation {
        family: raw.family,
        type_name: pascal(&raw.operation_id),
        operation_id: raw.operation_id,
        method: raw.method,
        path: raw.path,
        path_key: raw.path_key,
        location: raw.location,
        summary: raw.summary,
        description: raw.description,
        deprecated: raw.deprecated,
        params,
        request,
        responses,
        security: raw.security,
        added_in: raw.added_in,
        changed_in: raw.changed_in,
    })
}

/// operationIds repeat across families (each family is its own module) and
/// occasionally within one; the latter get a numeric suffix in spec order.
fn name_operations(ops: &mut [Operation]) {
    let mut seen: BTreeMap<(Family, String), usize> = BTreeMap::new();
    for op in ops.iter_mut() {
        let count = seen.entry((op.family, op.type_name.clone())).or_insert(0);
        *count += 1;
        if *count > 1 {
            op.type_name = format!("{}{}", op.type_name, count);
        }
    }
}

/// Matches each file in `event-schemas/examples/` to its event schema: by the
/// same name, or by the part before `$` (`m.room.member$invite_room_state`).
fn event_examples(store: &DocStore, api: &mut Api) -> Result<()> {
    for (file, doc) in store.files() {
        let Some(name) = file.strip_prefix("event-schemas/examples/") else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        let stem = doc_stem(name).replace('#', "$");
        let stem = stem.as_str();
        let base = stem.split('$').next().unwrap_or(stem);
        let event = api
            .events
            .iter()
            .find(|e| e.schema_name == stem)
            .or_else(|| api.events.iter().find(|e| e.schema_name == base));
        let loc = Location::new(file.clone(), "");
        match event {
            Some(event) => {
                let value = store.inline_example(&loc, doc)?;
                api.examples.push(Example {
                    location: loc,
                    value,
                    ty: event.ty.clone(),
                    kind: ExampleKind::Event,
                });
            }
            None => api.skipped_examples.push((loc, "no event schema of that name".into())),
        }
    }
    Ok(())
}

impl Doc {
    pub fn is_empty(&self) -> bool {
        self.description.is_empty() && self.notes.is_empty() && self.title.is_none()
    }
}
