//! What changed between two spec versions, and whom it breaks.
//!
//! Built on the IR, so a Swagger 2.0 release and an OpenAPI 3.1 release
//! compare by meaning, not by spelling. A change inside a named schema is
//! reported once, under that schema, with the operations and events it
//! reaches; an operation only reports what is its own (parameters, status
//! codes, content types, credentials, which schema its bodies are).

pub mod history;
pub mod render;
pub mod rules;
pub mod wire;

use crate::emit::types::ty_key;
use crate::family::Family;
use crate::ir::{ty_refs, Api, Doc, Operation, Ty, TypeDef, TypeKind};
use crate::load::api::{ParamIn, SecurityScheme};
use rules::{rule, Breaking, Direction};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use wire::wire_key;

/// What a change is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subject {
    /// `METHOD /full/path` in a family.
    Operation {
        family: Family,
        method: String,
        path: String,
        operation_id: String,
    },
    /// A named schema, as `module::Name` of the generated crate.
    Schema {
        name: String,
    },
    Event {
        name: String,
    },
}

impl Subject {
    pub fn label(&self) -> String {
        match self {
            Subject::Operation { method, path, .. } => format!("{} {}", method.to_uppercase(), path),
            Subject::Schema { name } => name.clone(),
            Subject::Event { name } => name.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub rule: &'static str,
    pub subject: Subject,
    /// What changed, in a sentence.
    pub detail: String,
    pub breaking: Breaking,
    /// For schema changes: the operations and events that use the schema.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reaches: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub changes: Vec<Change>,
}

impl Report {
    pub fn counts(&self) -> (usize, usize, usize) {
        let c = |f: fn(&Breaking) -> bool| self.changes.iter().filter(|ch| f(&ch.breaking)).count();
        (c(|b| b.client), c(|b| b.server), c(|b| b.rust))
    }

    /// Keeps only breaking changes (`--breaking-only`).
    pub fn breaking_only(mut self) -> Self {
        self.changes.retain(|c| c.breaking.any());
        self
    }
}

/// Options of a comparison.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Report description-only changes too.
    pub include_docs: bool,
}

/// Compares two specs.
pub fn diff(old: &Api, new: &Api, from: &str, to: &str, options: Options) -> Report {
    let mut d = Differ {
        old,
        new,
        options,
        changes: Vec::new(),
        old_uses: uses(old),
        new_uses: uses(new),
    };
    d.operations();
    d.schemas();
    d.events();
    d.changes
        .sort_by(|a, b| (&a.subject, a.rule, &a.detail).cmp(&(&b.subject, b.rule, &b.detail)));
    Report {
        from: from.to_owned(),
        to: to.to_owned(),
        changes: d.changes,
    }
}

/// Where each named schema (by `module::Name`) is used: the labels of the
/// operations and events that reach it, and in which direction.
#[derive(Default)]
struct Uses {
    reaches: BTreeMap<String, BTreeSet<String>>,
    direction: BTreeMap<String, Direction>,
}

fn uses(api: &Api) -> Uses {
    let mut out = Uses::default();
    let mark = |root: &Ty, label: &str, dir: Direction, out: &mut Uses| {
        let mut stack: Vec<usize> = ty_refs(root);
        let mut seen = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let def = &api.types[id];
            let key = format!("{}::{}", def.module.rust_name(), def.name);
            out.reaches.entry(key.clone()).or_default().insert(label.to_owned());
            let d = out.direction.entry(key).or_default();
            d.request |= dir.request;
            d.response |= dir.response;
            stack.extend(children(def));
        }
    };
    for op in &api.operations {
        let label = format!("{} {}", op.method.to_uppercase(), op.path);
        for p in &op.params {
            mark(&p.ty, &label, Direction::REQUEST, &mut out);
        }
        for c in op.request.iter().flat_map(|b| &b.content) {
            if let Some(ty) = &c.ty {
                mark(ty, &label, Direction::REQUEST, &mut out);
            }
        }
        for r in &op.responses {
            for c in &r.content {
                if let Some(ty) = &c.ty {
                    mark(ty, &label, Direction::RESPONSE, &mut out);
                }
            }
        }
    }
    for e in &api.events {
        let label = format!("event {}", e.event_type.as_deref().unwrap_or(&e.schema_name));
        mark(&e.ty, &label, Direction::BOTH, &mut out);
    }
    out
}

fn children(def: &TypeDef) -> Vec<usize> {
    match &def.kind {
        TypeKind::Struct { fields, additional } => fields
            .iter()
            .flat_map(|f| ty_refs(&f.ty))
            .chain(additional.iter().flat_map(ty_refs))
            .collect(),
        TypeKind::Union { variants } => variants.iter().flat_map(|v| ty_refs(&v.ty)).collect(),
        TypeKind::Alias(ty) => ty_refs(ty),
        TypeKind::StringEnum { .. } => Vec::new(),
    }
}

/// An operation's identity across versions: family, method and path with
/// parameter names blanked (so a renamed path parameter is the same
/// endpoint), plus the operationId only where two operations share all that.
fn op_keys(api: &Api) -> BTreeMap<(Family, String, String, String), &Operation> {
    let base = |o: &Operation| (o.family, o.method.clone(), normalize_path(&o.path));
    let mut counts: BTreeMap<(Family, String, String), usize> = BTreeMap::new();
    for o in &api.operations {
        *counts.entry(base(o)).or_default() += 1;
    }
    api.operations
        .iter()
        .map(|o| {
            let (f, m, p) = base(o);
            let shared = counts[&(f, m.clone(), p.clone())] > 1;
            (
                (f, m, p, if shared { o.operation_id.clone() } else { String::new() }),
                o,
            )
        })
        .collect()
}

/// The definition a type stands for: itself, or the type an alias names
/// (through chains of aliases, bounded).
fn shared_definition<'a>(api: &'a Api, def: &'a TypeDef) -> &'a TypeDef {
    let mut current = def;
    for _ in 0..16 {
        match &current.kind {
            TypeKind::Alias(Ty::Named(id)) => current = api.ty(*id),
            _ => break,
        }
    }
    current
}

/// The constraints in a doc's notes (`maxLength: \`255\``), by keyword;
/// defaults and documentation-only notes left out.
fn constraints_of(doc: &Doc) -> BTreeMap<String, String> {
    const CONSTRAINTS: &[&str] = &[
        "format",
        "pattern",
        "pattern-format",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
        "property names",
        "one of",
    ];
    doc.notes
        .iter()
        .filter_map(|note| note.split_once(": "))
        .filter(|(key, _)| CONSTRAINTS.contains(key))
        .map(|(key, value)| (key.to_owned(), value.trim_matches('`').to_owned()))
        .collect()
}

/// Whether a constraint's new value is narrower than its old one (`Some`),
/// where the keyword orders its values (bounds; `uniqueItems` turned on).
fn narrower(key: &str, old: &str, new: &str) -> Option<bool> {
    let (o, n) = (old.parse::<f64>(), new.parse::<f64>());
    match key {
        "minItems" | "minProperties" | "minLength" | "minimum" | "exclusiveMinimum" => Some(n.ok()? > o.ok()?),
        "maxItems" | "maxProperties" | "maxLength" | "maximum" | "exclusiveMaximum" => Some(n.ok()? < o.ok()?),
        "uniqueItems" => Some(new == "true"),
        _ => None,
    }
}

/// The operations of two versions that are one endpoint, old and new, in
/// the new version's order: first by [`op_keys`] (same method and path);
/// then, among the rest, an operation whose path only changed its API
/// version segment (`/_matrix/client/r0/…` → `/_matrix/client/v3/…`), or
/// that kept its operationId, when that pairs exactly one old with one new
/// operation.
pub fn match_operations<'a>(old: &'a Api, new: &'a Api) -> Vec<(&'a Operation, &'a Operation)> {
    let (old_keys, new_keys) = (op_keys(old), op_keys(new));
    let mut pairs: Vec<(&Operation, &Operation)> = Vec::new();
    for (key, n) in &new_keys {
        if let Some(o) = old_keys.get(key) {
            pairs.push((o, n));
        }
    }
    let unmatched_old: Vec<&Operation> = old_keys
        .iter()
        .filter(|(k, _)| !new_keys.contains_key(*k))
        .map(|(_, o)| *o)
        .collect();
    let unmatched_new: Vec<&Operation> = new_keys
        .iter()
        .filter(|(k, _)| !old_keys.contains_key(*k))
        .map(|(_, n)| *n)
        .collect();
    let by = |key: &dyn Fn(&Operation) -> (Family, String, String)| {
        let mut found = Vec::new();
        for n in &unmatched_new {
            let olds: Vec<&&Operation> = unmatched_old.iter().filter(|o| key(o) == key(n)).collect();
            let news = unmatched_new.iter().filter(|m| key(m) == key(n)).count();
            if let ([o], 1) = (olds.as_slice(), news) {
                found.push((**o, *n));
            }
        }
        found
    };
    let unversioned = |o: &Operation| (o.family, o.method.clone(), unversioned_path(&normalize_path(&o.path)));
    let by_id = |o: &Operation| (o.family, o.method.clone(), o.operation_id.clone());
    for (o, n) in by(&unversioned).into_iter().chain(by(&by_id)) {
        if !pairs.iter().any(|(a, b)| std::ptr::eq(*a, o) || std::ptr::eq(*b, n)) {
            pairs.push((o, n));
        }
    }
    pairs.sort_by_key(|(_, n)| new.operations.iter().position(|m| std::ptr::eq(m, *n)));
    pairs
}

/// A path with its API version segment blanked: `/_matrix/client/r0/sync`,
/// `/_matrix/client/v3/sync` and `/_matrix/client/api/v1/sync` are all
/// `/_matrix/client/*/sync`.
pub fn unversioned_path(path: &str) -> String {
    let Some(rest) = path.strip_prefix("/_matrix/") else {
        return path.to_owned();
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    let is_version = |s: &str| {
        s == "unstable"
            || s.strip_prefix('r').or_else(|| s.strip_prefix('v')).is_some_and(|n| {
                let n = n.split('_').next().unwrap_or(n);
                !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
            })
    };
    if parts.len() > 2 && parts[1] == "api" && is_version(parts[2]) {
        parts.drain(1..3);
        parts.insert(1, "*");
    } else if parts.len() > 1 && is_version(parts[1]) {
        parts[1] = "*";
    }
    format!("/_matrix/{}", parts.join("/"))
}

/// `/rooms/{roomId}/state/{eventType}` → `/rooms/{}/state/{}`.
pub fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The credentials an operation accepts, by meaning and by how they are
/// sent: the user's access token as the `access_token` query parameter or
/// as a bearer token (two ways, told apart: dropping one breaks clients
/// that use it), an application service token, a server signature. The
/// scheme's name in the spec does not matter.
fn credentials(op: &Operation) -> BTreeSet<String> {
    op.security
        .iter()
        .flat_map(|alt| alt.iter())
        .map(|(name, scheme)| match scheme {
            SecurityScheme::Http { scheme, .. } if scheme.eq_ignore_ascii_case("bearer") => {
                format!("{} (Authorization: Bearer)", credential_of(name))
            }
            SecurityScheme::ApiKey { name: key, place, .. } if key == "access_token" && place == "query" => {
                format!("{} (?access_token=)", credential_of(name))
            }
            SecurityScheme::Http { scheme, .. } => format!("http {scheme}"),
            SecurityScheme::ApiKey { name, place, .. } => format!("key {name} in {place}"),
            SecurityScheme::Other { kind, .. } => format!("{kind} ({name})"),
        })
        .collect()
}

fn credential_of(scheme_name: &str) -> String {
    if scheme_name.to_ascii_lowercase().contains("appservice") {
        "application service token".into()
    } else {
        "access token".into()
    }
}

struct Differ<'a> {
    old: &'a Api,
    new: &'a Api,
    options: Options,
    changes: Vec<Change>,
    old_uses: Uses,
    new_uses: Uses,
}

fn op_subject(o: &Operation) -> Subject {
    Subject::Operation {
        family: o.family,
        method: o.method.clone(),
        path: o.path.clone(),
        operation_id: o.operation_id.clone(),
    }
}

fn place(p: ParamIn) -> &'static str {
    match p {
        ParamIn::Path => "path",
        ParamIn::Query => "query",
        ParamIn::Header => "header",
    }
}

impl Differ<'_> {
    fn push(
        &mut self,
        rule_id: &'static str,
        subject: Subject,
        detail: String,
        direction: Direction,
        reaches: Vec<String>,
    ) {
        let breaking = rule(rule_id).classify(direction);
        self.changes.push(Change {
            rule: rule_id,
            subject,
            detail,
            breaking,
            reaches,
        });
    }

    /// A type change whose verdict for clients and servers follows from the
    /// two JSON shapes (`old` in the old spec, `new` in the new one) and
    /// the direction the value travels: a reader breaks when the writer
    /// may send what it cannot read. Same JSON, other Rust type:
    /// `rust-type-changed`.
    fn push_type_change(
        &mut self,
        rule_id: &'static str,
        subject: Subject,
        detail: String,
        direction: Direction,
        (old, new): (&Ty, &Ty),
    ) {
        if wire_key(self.old, old) == wire_key(self.new, new) {
            return self.push("rust-type-changed", subject, detail, direction, Vec::new());
        }
        // Old readers of what the new side writes, and new readers of what
        // the old side writes.
        let new_read_by_old = wire::fits(self.new, new, self.old, old);
        let old_read_by_new = wire::fits(self.old, old, self.new, new);
        let breaking = Breaking {
            client: (direction.response && !new_read_by_old) || (direction.request && !old_read_by_new),
            server: (direction.request && !new_read_by_old) || (direction.response && !old_read_by_new),
            rust: true,
        };
        self.changes.push(Change {
            rule: rule_id,
            subject,
            detail,
            breaking,
            reaches: Vec::new(),
        });
    }

    /// The constraints Rust does not enforce (`format`, `pattern`,
    /// `maxLength`, `minimum`, a single allowed value …), compared one by
    /// one: one added or made narrower rejects values that were valid
    /// (breaks whoever sends them: old clients in requests, old servers in
    /// responses); one dropped or made wider lets through values old
    /// readers reject; one otherwise changed (another `pattern`) does both.
    fn constraints(&mut self, subject: &Subject, what: &str, old: &Doc, new: &Doc, direction: Direction) {
        let (old, new) = (constraints_of(old), constraints_of(new));
        for (key, value) in &new {
            let (rule, detail) = match old.get(key) {
                None => ("constraint-tightened", format!("{what}: {key} `{value}` added")),
                Some(before) if before == value => continue,
                Some(before) => {
                    let rule = match narrower(key, before, value) {
                        Some(true) => "constraint-tightened",
                        Some(false) => "constraint-loosened",
                        None => "constraint-changed",
                    };
                    (rule, format!("{what}: {key} `{before}` → `{value}`"))
                }
            };
            self.push(rule, subject.clone(), detail, direction, Vec::new());
        }
        for (key, value) in old.iter().filter(|(k, _)| !new.contains_key(*k)) {
            self.push(
                "constraint-loosened",
                subject.clone(),
                format!("{what}: {key} `{value}` dropped"),
                direction,
                Vec::new(),
            );
        }
    }

    fn doc_change(&mut self, subject: Subject, what: &str, old: &Doc, new: &Doc) {
        if self.options.include_docs && old.description.trim() != new.description.trim() {
            self.push(
                "description-changed",
                subject,
                format!("description of {what} changed"),
                Direction::default(),
                Vec::new(),
            );
        }
    }

    fn operations(&mut self) {
        let matched = match_operations(self.old, self.new);
        let is_old_matched = |o: &Operation| matched.iter().any(|(m, _)| std::ptr::eq(*m, o));
        let is_new_matched = |n: &Operation| matched.iter().any(|(_, m)| std::ptr::eq(*m, n));
        for o in self.old.operations.iter().filter(|o| !is_old_matched(o)) {
            self.push(
                "operation-removed",
                op_subject(o),
                format!("`{}` removed", o.operation_id),
                Direction::BOTH,
                Vec::new(),
            );
        }
        for n in self.new.operations.iter().filter(|n| !is_new_matched(n)) {
            self.push(
                "operation-added",
                op_subject(n),
                format!("`{}` added", n.operation_id),
                Direction::BOTH,
                Vec::new(),
            );
        }
        for (o, n) in matched {
            if o.path != n.path && normalize_path(&o.path) != normalize_path(&n.path) {
                self.push(
                    "operation-moved",
                    op_subject(n),
                    format!("moved from {}", o.path),
                    Direction::BOTH,
                    Vec::new(),
                );
            }
            self.operation(o, n);
        }
    }

    fn operation(&mut self, o: &Operation, n: &Operation) {
        let subject = op_subject(n);
        if !o.deprecated && n.deprecated {
            self.push(
                "operation-deprecated",
                subject.clone(),
                "now deprecated".into(),
                Direction::BOTH,
                Vec::new(),
            );
        }
        if self.options.include_docs && (o.description.trim() != n.description.trim() || o.summary != n.summary) {
            self.push(
                "description-changed",
                subject.clone(),
                "summary or description changed".into(),
                Direction::default(),
                Vec::new(),
            );
        }
        // Path parameters by position (a rename is not a removal); others by place and name.
        let path_params = |op: &Operation| {
            op.params
                .iter()
                .filter(|p| p.place == ParamIn::Path)
                .cloned()
                .collect::<Vec<_>>()
        };
        for (po, pn) in path_params(o).iter().zip(path_params(n).iter()) {
            if po.name != pn.name {
                self.push(
                    "parameter-renamed",
                    subject.clone(),
                    format!("path parameter `{}` renamed to `{}`", po.name, pn.name),
                    Direction::REQUEST,
                    Vec::new(),
                );
            }
            self.param_pair(&subject, po, pn);
        }
        let others = |op: &Operation| {
            op.params
                .iter()
                .filter(|p| p.place != ParamIn::Path)
                .map(|p| ((p.place, p.name.clone()), p.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let (oq, nq) = (others(o), others(n));
        for (k, p) in &oq {
            if !nq.contains_key(k) {
                let id = if p.required {
                    "parameter-removed-required"
                } else {
                    "parameter-removed-optional"
                };
                self.push(
                    id,
                    subject.clone(),
                    format!("{} parameter `{}` removed", place(p.place), p.name),
                    Direction::REQUEST,
                    Vec::new(),
                );
            }
        }
        for (k, p) in &nq {
            match oq.get(k) {
                None => {
                    let id = if p.required {
                        "parameter-added-required"
                    } else {
                        "parameter-added-optional"
                    };
                    self.push(
                        id,
                        subject.clone(),
                        format!("{} parameter `{}` added", place(p.place), p.name),
                        Direction::REQUEST,
                        Vec::new(),
                    );
                }
                Some(po) => self.param_pair(&subject, po, p),
            }
        }
        // Request body.
        let (ob, nb) = (request_types(o, self.old), request_types(n, self.new));
        match (ob.is_empty(), nb.is_empty()) {
            (true, false) => self.push(
                "request-body-added",
                subject.clone(),
                "now takes a request body".into(),
                Direction::REQUEST,
                Vec::new(),
            ),
            (false, true) => self.push(
                "request-body-removed",
                subject.clone(),
                "no longer takes a request body".into(),
                Direction::REQUEST,
                Vec::new(),
            ),
            _ => self.content_pair(
                &subject,
                "request",
                &ob,
                &nb,
                Direction::REQUEST,
                "request-body-type-changed",
            ),
        }
        // Responses.
        let responses = |op: &Operation, api: &Api| -> BTreeMap<String, BTreeMap<String, Option<TypeKeys>>> {
            op.responses
                .iter()
                .map(|r| {
                    let c = r
                        .content
                        .iter()
                        .map(|c| {
                            (
                                content_type_key(&c.content_type),
                                c.ty.as_ref().map(|t| TypeKeys::of(api, t)),
                            )
                        })
                        .collect();
                    (r.status.to_uppercase(), c)
                })
                .collect()
        };
        let (or, nr) = (responses(o, self.old), responses(n, self.new));
        for status in or.keys().filter(|s| !nr.contains_key(*s)) {
            self.push(
                "response-status-removed",
                subject.clone(),
                format!("status {status} no longer documented"),
                Direction::RESPONSE,
                Vec::new(),
            );
        }
        for (status, nc) in &nr {
            match or.get(status) {
                None => self.push(
                    "response-status-added",
                    subject.clone(),
                    format!("status {status} added"),
                    Direction::RESPONSE,
                    Vec::new(),
                ),
                Some(oc) => self.content_pair(
                    &subject,
                    &format!("status {status}"),
                    oc,
                    nc,
                    Direction::RESPONSE,
                    "response-body-type-changed",
                ),
            }
        }
        let (oc, nc) = (credentials(o), credentials(n));
        if oc.is_empty() != nc.is_empty() {
            let show = |s: &BTreeSet<String>| {
                if s.is_empty() {
                    "none".to_owned()
                } else {
                    s.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            };
            self.push(
                "security-changed",
                subject,
                format!("accepted credentials: {} → {}", show(&oc), show(&nc)),
                Direction::BOTH,
                Vec::new(),
            );
        } else {
            // One way of sending a credential less (the `access_token` query
            // parameter no longer accepted) or more, each its own change.
            for gone in oc.difference(&nc) {
                self.push(
                    "credential-removed",
                    subject.clone(),
                    format!("no longer accepts {gone}"),
                    Direction::REQUEST,
                    Vec::new(),
                );
            }
            for added in nc.difference(&oc) {
                self.push(
                    "credential-added",
                    subject.clone(),
                    format!("accepts {added} too"),
                    Direction::REQUEST,
                    Vec::new(),
                );
            }
        }
    }

    fn param_pair(&mut self, subject: &Subject, o: &crate::ir::Param, n: &crate::ir::Param) {
        if o.required != n.required {
            let id = if n.required {
                "parameter-became-required"
            } else {
                "parameter-became-optional"
            };
            self.push(
                id,
                subject.clone(),
                format!("{} parameter `{}`", place(n.place), n.name),
                Direction::REQUEST,
                Vec::new(),
            );
        }
        let (ot, nt) = (ty_key(self.old, &o.ty), ty_key(self.new, &n.ty));
        if ot != nt {
            self.push_type_change(
                "parameter-type-changed",
                subject.clone(),
                format!("{} parameter `{}`: {ot} → {nt}", place(n.place), n.name),
                Direction::REQUEST,
                (&o.ty, &n.ty),
            );
        } else {
            let what = format!("{} parameter `{}`", place(n.place), n.name);
            self.constraints(subject, &what, &o.doc, &n.doc, Direction::REQUEST);
        }
    }

    fn content_pair(
        &mut self,
        subject: &Subject,
        what: &str,
        o: &BTreeMap<String, Option<TypeKeys>>,
        n: &BTreeMap<String, Option<TypeKeys>>,
        direction: Direction,
        type_rule: &'static str,
    ) {
        for ct in o.keys().filter(|k| !n.contains_key(*k)) {
            self.push(
                "content-type-removed",
                subject.clone(),
                format!("{what}: content type `{ct}` removed"),
                direction,
                Vec::new(),
            );
        }
        for (ct, nt) in n {
            match o.get(ct) {
                None => self.push(
                    "content-type-added",
                    subject.clone(),
                    format!("{what}: content type `{ct}` added"),
                    direction,
                    Vec::new(),
                ),
                // The same Rust type with another shape is reported under
                // the schema, once.
                Some(ot) if ot.as_ref().map(|k| &k.rust) != nt.as_ref().map(|k| &k.rust) => {
                    let show =
                        |t: &Option<TypeKeys>| t.as_ref().map(|k| k.rust.clone()).unwrap_or_else(|| "no schema".into());
                    let detail = format!("{what} body: {} → {}", show(ot), show(nt));
                    match (ot, nt) {
                        (Some(a), Some(b)) => {
                            self.push_type_change(type_rule, subject.clone(), detail, direction, (&a.ty, &b.ty))
                        }
                        // A body without a schema says nothing to compare
                        // JSON with (Swagger 2.0 releases gave some only an
                        // example): documented now, or no longer.
                        (None, _) => self.push("body-schema-added", subject.clone(), detail, direction, Vec::new()),
                        (_, None) => self.push("body-schema-removed", subject.clone(), detail, direction, Vec::new()),
                    }
                }
                Some(_) => {}
            }
        }
    }

    fn schemas(&mut self) {
        let index = |api: &'_ Api| -> BTreeMap<String, usize> {
            api.types
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("{}::{}", t.module.rust_name(), t.name), i))
                .collect()
        };
        let (old, new) = (index(self.old), index(self.new));
        let renamed = self.renamed_schemas(&old, &new);
        for (from, to) in &renamed {
            let reaches = self
                .new_uses
                .reaches
                .get(to)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            self.push(
                "schema-renamed",
                Subject::Schema { name: from.clone() },
                format!("renamed to {to}"),
                Direction::BOTH,
                reaches,
            );
        }
        for name in old.keys() {
            if !new.contains_key(name) && !renamed.contains_key(name) {
                let reaches = self
                    .old_uses
                    .reaches
                    .get(name)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                self.push(
                    "schema-removed",
                    Subject::Schema { name: name.clone() },
                    "removed".into(),
                    Direction::BOTH,
                    reaches,
                );
            }
        }
        for (name, &j) in &new {
            match old.get(name) {
                None if renamed.values().any(|to| to == name) => {}
                None => self.push(
                    "schema-added",
                    Subject::Schema { name: name.clone() },
                    "added".into(),
                    Direction::BOTH,
                    Vec::new(),
                ),
                Some(&i) => self.schema_pair(name, &self.old.types[i], &self.new.types[j]),
            }
        }
    }

    /// Removed schemas that live on under another name: a removed and an
    /// added schema of one module with the same JSON shape, where that shape
    /// picks exactly one of each. Old name → new name.
    fn renamed_schemas(
        &self,
        old: &BTreeMap<String, usize>,
        new: &BTreeMap<String, usize>,
    ) -> BTreeMap<String, String> {
        let shapes = |api: &Api, names: &BTreeMap<String, usize>, other: &BTreeMap<String, usize>| {
            let mut by_shape: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
            for (name, &id) in names.iter().filter(|(n, _)| !other.contains_key(*n)) {
                let module = api.types[id].module.rust_name().to_owned();
                by_shape
                    .entry((module, wire_key(api, &Ty::Named(id))))
                    .or_default()
                    .push(name.clone());
            }
            by_shape
        };
        let (removed, added) = (shapes(self.old, old, new), shapes(self.new, new, old));
        removed
            .into_iter()
            .filter_map(
                |(shape, from)| match (from.as_slice(), added.get(&shape).map(Vec::as_slice)) {
                    ([from], Some([to])) => Some((from.clone(), to.clone())),
                    _ => None,
                },
            )
            .collect()
    }

    fn schema_pair(&mut self, name: &str, o: &TypeDef, n: &TypeDef) {
        let subject = Subject::Schema { name: name.to_owned() };
        // Used as it is used now, or as it was (a schema may stop being used).
        let mut direction = self.new_uses.direction.get(name).copied().unwrap_or_default();
        if let Some(d) = self.old_uses.direction.get(name) {
            direction.request |= d.request;
            direction.response |= d.response;
        }
        let reaches: Vec<String> = self
            .new_uses
            .reaches
            .get(name)
            .or_else(|| self.old_uses.reaches.get(name))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let before = self.changes.len();
        self.doc_change(subject.clone(), "the schema", &o.doc, &n.doc);
        // A type that shares another's definition (`pub type KickRequest =
        // BanRequest;`) is compared as that definition: which of the two
        // holds it may differ from release to release.
        let (o, n) = (shared_definition(self.old, o), shared_definition(self.new, n));
        match (&o.kind, &n.kind) {
            (
                TypeKind::Struct {
                    fields: of,
                    additional: oa,
                },
                TypeKind::Struct {
                    fields: nf,
                    additional: na,
                },
            ) => {
                for f in of {
                    match nf.iter().find(|g| g.wire_name == f.wire_name) {
                        None => {
                            let id = if f.required {
                                "field-removed-required"
                            } else {
                                "field-removed-optional"
                            };
                            self.push(
                                id,
                                subject.clone(),
                                format!("property `{}` removed", f.wire_name),
                                direction,
                                Vec::new(),
                            );
                        }
                        Some(g) => {
                            if f.required != g.required {
                                let id = if g.required {
                                    "field-became-required"
                                } else {
                                    "field-became-optional"
                                };
                                self.push(
                                    id,
                                    subject.clone(),
                                    format!("property `{}`", g.wire_name),
                                    direction,
                                    Vec::new(),
                                );
                            }
                            let (ot, nt) = (ty_key(self.old, &f.ty), ty_key(self.new, &g.ty));
                            if ot != nt {
                                self.push_type_change(
                                    "field-type-changed",
                                    subject.clone(),
                                    format!("property `{}`: {ot} → {nt}", g.wire_name),
                                    direction,
                                    (&f.ty, &g.ty),
                                );
                            } else {
                                let what = format!("property `{}`", g.wire_name);
                                self.constraints(&subject, &what, &f.doc, &g.doc, direction);
                            }
                            self.doc_change(subject.clone(), &format!("property `{}`", g.wire_name), &f.doc, &g.doc);
                        }
                    }
                }
                for g in nf.iter().filter(|g| !of.iter().any(|f| f.wire_name == g.wire_name)) {
                    let id = if g.required {
                        "field-added-required"
                    } else {
                        "field-added-optional"
                    };
                    self.push(
                        id,
                        subject.clone(),
                        format!("property `{}` added", g.wire_name),
                        direction,
                        Vec::new(),
                    );
                }
                let (oa, na) = (
                    oa.as_ref().map(|t| ty_key(self.old, t)),
                    na.as_ref().map(|t| ty_key(self.new, t)),
                );
                if oa != na {
                    let show = |t: &Option<String>| t.clone().unwrap_or_else(|| "none".into());
                    self.push(
                        "additional-properties-changed",
                        subject.clone(),
                        format!("extra properties: {} → {}", show(&oa), show(&na)),
                        direction,
                        Vec::new(),
                    );
                }
            }
            (TypeKind::StringEnum { values: ov }, TypeKind::StringEnum { values: nv }) => {
                for v in ov.iter().filter(|v| !nv.iter().any(|w| w.wire == v.wire)) {
                    self.push(
                        "enum-value-removed",
                        subject.clone(),
                        format!("value `{}` removed", v.wire),
                        direction,
                        Vec::new(),
                    );
                }
                for v in nv.iter().filter(|v| !ov.iter().any(|w| w.wire == v.wire)) {
                    self.push(
                        "enum-value-added",
                        subject.clone(),
                        format!("value `{}` added", v.wire),
                        direction,
                        Vec::new(),
                    );
                }
            }
            (TypeKind::Union { variants: ov }, TypeKind::Union { variants: nv }) => {
                let keys = |api: &Api, vs: &[crate::ir::Variant]| {
                    vs.iter().map(|v| ty_key(api, &v.ty)).collect::<BTreeSet<_>>()
                };
                let (ok, nk) = (keys(self.old, ov), keys(self.new, nv));
                for k in ok.difference(&nk) {
                    self.push(
                        "union-variant-removed",
                        subject.clone(),
                        format!("alternative {k} removed"),
                        direction,
                        Vec::new(),
                    );
                }
                for k in nk.difference(&ok) {
                    self.push(
                        "union-variant-added",
                        subject.clone(),
                        format!("alternative {k} added"),
                        direction,
                        Vec::new(),
                    );
                }
            }
            (TypeKind::Alias(ot), TypeKind::Alias(nt)) => {
                let (ok, nk) = (ty_key(self.old, ot), ty_key(self.new, nt));
                if ok != nk {
                    self.push(
                        "alias-type-changed",
                        subject.clone(),
                        format!("{ok} → {nk}"),
                        direction,
                        Vec::new(),
                    );
                }
            }
            (ok, nk) => {
                self.push(
                    "schema-kind-changed",
                    subject.clone(),
                    format!("{} → {}", kind_name(ok), kind_name(nk)),
                    direction,
                    Vec::new(),
                );
            }
        }
        for c in &mut self.changes[before..] {
            if c.rule != "description-changed" {
                c.reaches = reaches.clone();
            }
        }
    }

    fn events(&mut self) {
        let index = |api: &'_ Api| -> BTreeMap<String, String> {
            api.events
                .iter()
                .map(|e| (e.schema_name.clone(), ty_key(api, &e.ty)))
                .collect()
        };
        let (old, new) = (index(self.old), index(self.new));
        for name in old.keys().filter(|k| !new.contains_key(*k)) {
            self.push(
                "event-removed",
                Subject::Event { name: name.clone() },
                "removed".into(),
                Direction::BOTH,
                Vec::new(),
            );
        }
        for (name, nt) in &new {
            match old.get(name) {
                None => self.push(
                    "event-added",
                    Subject::Event { name: name.clone() },
                    "added".into(),
                    Direction::BOTH,
                    Vec::new(),
                ),
                Some(ot) if ot != nt => self.push(
                    "event-type-changed",
                    Subject::Event { name: name.clone() },
                    format!("{ot} → {nt}"),
                    Direction::BOTH,
                    Vec::new(),
                ),
                Some(_) => {}
            }
        }
    }
}

/// Content type → body type key of an operation's request.
fn request_types(op: &Operation, api: &Api) -> BTreeMap<String, Option<TypeKeys>> {
    op.request
        .iter()
        .flat_map(|b| &b.content)
        .map(|c| {
            (
                content_type_key(&c.content_type),
                c.ty.as_ref().map(|t| TypeKeys::of(api, t)),
            )
        })
        .collect()
}

/// A body type's Rust name and JSON shape: a change of the first alone
/// breaks Rust callers only.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TypeKeys {
    rust: String,
    ty: Ty,
}

impl TypeKeys {
    fn of(api: &Api, ty: &Ty) -> TypeKeys {
        TypeKeys {
            rust: ty_key(api, ty),
            ty: ty.clone(),
        }
    }
}

/// `*/*` and `application/octet-stream` both mean "any bytes" (Swagger 2.0
/// releases wrote the former, OpenAPI 3.1 releases the latter).
fn content_type_key(content_type: &str) -> String {
    match content_type {
        "*/*" => "application/octet-stream".to_owned(),
        other => other.to_owned(),
    }
}

fn kind_name(kind: &TypeKind) -> &'static str {
    match kind {
        TypeKind::Struct { .. } => "object",
        TypeKind::StringEnum { .. } => "string enum",
        TypeKind::Union { .. } => "union",
        TypeKind::Alias(_) => "plain type",
    }
}
