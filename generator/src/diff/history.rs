//! `cargo xtask history`: for every operation and event of the newest
//! release, the release that first had it and every release that changed
//! its shape, computed from the releases themselves, set against what the
//! spec's own `x-addedInMatrixVersion` / `x-changedInMatrixVersion`
//! annotations say.

use super::{diff, match_operations, normalize_path, Options, Subject};
use crate::family::Family;
use crate::ir::{ty_refs, Api, Doc, Operation, TypeKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Serialize)]
pub struct Entry {
    /// `operation` or `event`.
    pub kind: &'static str,
    /// `GET /path` (with the operationId) or the event schema name.
    pub name: String,
    pub first_release: String,
    /// Releases whose shape differs from the release before.
    pub changed_in: Vec<String>,
    /// Releases where the path changed (`/r0/` → `/v3/`), with the path
    /// before: the operation is the same one, linked by its path modulo the
    /// API version segment or by its operationId.
    pub moved_in: Vec<(String, String)>,
    pub annotated_added: Option<String>,
    pub annotated_changed: Vec<String>,
    /// Where the structure and the annotations disagree.
    pub disagreements: Vec<String>,
}

/// `1.8`, `v1.8` → `v1.8`.
fn release_name(annotation: &str) -> String {
    format!("v{}", annotation.trim().trim_start_matches('v'))
}

fn op_key(o: &Operation) -> (Family, String, String, String) {
    (
        o.family,
        o.method.clone(),
        normalize_path(&o.path),
        o.operation_id.clone(),
    )
}

fn op_label(o: &Operation) -> String {
    format!("{} {}", o.method.to_uppercase(), o.path)
}

/// Annotations on an operation, its parameters and every schema it reaches.
fn op_annotations(api: &Api, o: &Operation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |doc: &Doc| {
        out.extend(doc.added_in.iter().map(|v| release_name(v)));
        out.extend(doc.changed_in.iter().map(|(v, _)| release_name(v)));
    };
    let mut roots = Vec::new();
    for p in &o.params {
        add(&p.doc);
        roots.extend(ty_refs(&p.ty));
    }
    for c in o
        .request
        .iter()
        .flat_map(|b| &b.content)
        .chain(o.responses.iter().flat_map(|r| &r.content))
    {
        roots.extend(c.ty.iter().flat_map(ty_refs));
    }
    reachable_docs(api, roots, &mut add);
    out
}

fn reachable_docs(api: &Api, mut stack: Vec<usize>, add: &mut dyn FnMut(&Doc)) {
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let def = &api.types[id];
        add(&def.doc);
        if let TypeKind::Struct { fields, .. } = &def.kind {
            for f in fields {
                add(&f.doc);
            }
        }
        stack.extend(super::children(def));
    }
}

/// `releases` oldest first (archived releases, then v1.x). Entries are for
/// the newest release's operations and events; an operation is followed
/// back through every release where [`match_operations`] links it, also
/// across a changed path.
pub fn history(releases: &[(String, Api)]) -> Vec<Entry> {
    let Some((_, newest)) = releases.last() else {
        return Vec::new();
    };
    // The spec annotates (`x-addedInMatrixVersion`) from v1.1 on: the first
    // annotated release stands for every release before it.
    let first_name = releases
        .iter()
        .map(|(n, _)| n.clone())
        .find(|n| n.starts_with('v'))
        .or_else(|| releases.first().map(|(n, _)| n.clone()))
        .unwrap_or_default();
    // Per release after the first: the links to the release before, and
    // which operations (by their key in this release) and events changed.
    let mut links: Vec<Vec<(&Operation, &Operation)>> = vec![Vec::new()];
    let mut changed_ops: Vec<BTreeSet<(Family, String, String, String)>> = vec![BTreeSet::new()];
    let mut event_changes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in releases.windows(2) {
        let ((_, old), (name, new)) = (&pair[0], &pair[1]);
        let report = diff(old, new, "", name, Options::default());
        let by_label: BTreeMap<String, Vec<&Operation>> = new.operations.iter().fold(BTreeMap::new(), |mut m, o| {
            m.entry(op_label(o)).or_insert_with(Vec::new).push(o);
            m
        });
        let event_by_label: BTreeMap<String, &str> = new
            .events
            .iter()
            .map(|e| {
                (
                    format!("event {}", e.event_type.as_deref().unwrap_or(&e.schema_name)),
                    e.schema_name.as_str(),
                )
            })
            .collect();
        let mut changed = BTreeSet::new();
        let mut changed_events = BTreeSet::new();
        for c in &report.changes {
            if matches!(
                c.rule,
                "operation-added"
                    | "operation-removed"
                    | "operation-moved"
                    | "schema-added"
                    | "event-added"
                    | "event-removed"
            ) {
                continue;
            }
            match &c.subject {
                Subject::Operation {
                    family,
                    method,
                    path,
                    operation_id,
                } => {
                    changed.insert((*family, method.clone(), normalize_path(path), operation_id.clone()));
                }
                Subject::Event { name } => {
                    changed_events.insert(name.clone());
                }
                Subject::Schema { .. } => {}
            }
            for label in &c.reaches {
                if let Some(ops) = by_label.get(label) {
                    changed.extend(ops.iter().map(|o| op_key(o)));
                }
                if let Some(e) = event_by_label.get(label) {
                    changed_events.insert((*e).to_owned());
                }
            }
        }
        links.push(match_operations(old, new));
        changed_ops.push(changed);
        for e in changed_events {
            event_changes.entry(e).or_default().push(name.clone());
        }
    }

    let mut out = Vec::new();
    for o in &newest.operations {
        let mut current = o;
        let mut first_index = releases.len() - 1;
        let (mut changed, mut moved) = (Vec::new(), Vec::new());
        for i in (1..releases.len()).rev() {
            if changed_ops[i].contains(&op_key(current)) {
                changed.push(releases[i].0.clone());
            }
            let Some((before, _)) = links[i].iter().find(|(_, n)| std::ptr::eq(*n, current)) else {
                break;
            };
            if normalize_path(&before.path) != normalize_path(&current.path) {
                moved.push((releases[i].0.clone(), before.path.clone()));
            }
            current = before;
            first_index = i - 1;
        }
        changed.reverse();
        moved.reverse();
        let first = releases[first_index].0.clone();
        let annotations = op_annotations(newest, o);
        let annotated_added = o.added_in.as_deref().map(release_name);
        let annotated_changed: Vec<String> = o.changed_in.iter().map(|(v, _)| release_name(v)).collect();
        let disagreements = compare(
            annotated_era(&first, &first_name, releases),
            &first_name,
            &annotated_changes(&changed, &first_name, releases),
            annotated_added.as_deref(),
            &annotated_changed,
            &annotations,
            releases,
        );
        out.push(Entry {
            kind: "operation",
            name: format!("{} ({})", op_label(o), o.operation_id),
            first_release: first,
            changed_in: changed,
            moved_in: moved,
            annotated_added,
            annotated_changed,
            disagreements,
        });
    }
    for e in &newest.events {
        let present: Vec<bool> = releases
            .iter()
            .map(|(_, api)| api.events.iter().any(|x| x.schema_name == e.schema_name))
            .collect();
        let first = first_present(releases, &present);
        let changed: Vec<String> = event_changes
            .get(&e.schema_name)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| later(r, &first, releases))
            .collect();
        let mut annotations = BTreeSet::new();
        let (mut added, mut changed_ann) = (None, Vec::new());
        if let crate::ir::Ty::Named(id) = &e.ty {
            let doc = &newest.types[*id].doc;
            added = doc.added_in.as_deref().map(release_name);
            changed_ann = doc.changed_in.iter().map(|(v, _)| release_name(v)).collect();
            reachable_docs(newest, vec![*id], &mut |d: &Doc| {
                annotations.extend(d.added_in.iter().map(|v| release_name(v)));
                annotations.extend(d.changed_in.iter().map(|(v, _)| release_name(v)));
            });
        }
        let disagreements = compare(
            annotated_era(&first, &first_name, releases),
            &first_name,
            &annotated_changes(&changed, &first_name, releases),
            added.as_deref(),
            &changed_ann,
            &annotations,
            releases,
        );
        out.push(Entry {
            kind: "event",
            name: e.schema_name.clone(),
            first_release: first,
            changed_in: changed,
            moved_in: Vec::new(),
            annotated_added: added,
            annotated_changed: changed_ann,
            disagreements,
        });
    }
    out
}

/// The first release of the last unbroken run of releases that have it.
fn first_present(releases: &[(String, Api)], present: &[bool]) -> String {
    let mut i = present.len();
    while i > 0 && present[i - 1] {
        i -= 1;
    }
    releases.get(i).map(|(n, _)| n.clone()).unwrap_or_default()
}

/// The release to hold annotations against: `first` itself, or the first
/// annotated release when `first` is older.
fn annotated_era<'a>(first: &'a str, first_annotated: &'a str, releases: &[(String, Api)]) -> &'a str {
    if later(first_annotated, first, releases) {
        first_annotated
    } else {
        first
    }
}

/// The changes of releases after the first annotated one (what annotations
/// could have said).
fn annotated_changes(changed: &[String], first_annotated: &str, releases: &[(String, Api)]) -> Vec<String> {
    changed
        .iter()
        .filter(|r| later(r, first_annotated, releases))
        .cloned()
        .collect()
}

/// Whether `release` comes after `than`: by their places in `releases`
/// when both are there, else by their version numbers (annotations name
/// releases that may not be loaded). Archived releases (`r0.x`) come
/// before every `v1.x`.
fn later(release: &str, than: &str, releases: &[(String, Api)]) -> bool {
    let place = |name: &str| releases.iter().position(|(n, _)| n == name);
    match (place(release), place(than)) {
        (Some(a), Some(b)) => a > b,
        _ => {
            let key = |name: &str| (name.starts_with('v'), crate::load::spec::release_key(name));
            key(release) > key(than)
        }
    }
}

fn compare(
    first: &str,
    oldest: &str,
    changed: &[String],
    added: Option<&str>,
    changed_annotations: &[String],
    all_annotations: &BTreeSet<String>,
    releases: &[(String, Api)],
) -> Vec<String> {
    let known: BTreeSet<&str> = releases.iter().map(|(n, _)| n.as_str()).collect();
    let mut out = Vec::new();
    match added {
        Some(a) if a != first && (first != oldest || later(a, oldest, releases)) => {
            out.push(format!("annotated as added in {a}, but first present in {first}"))
        }
        None if first != oldest => out.push(format!("first present in {first}, but has no x-addedInMatrixVersion")),
        _ => {}
    }
    for r in changed {
        if !all_annotations.contains(r) {
            out.push(format!(
                "shape changed in {r}, but nothing it uses is annotated with {r}"
            ));
        }
    }
    for a in changed_annotations {
        if known.contains(a.as_str()) && later(a, oldest, releases) && !changed.contains(a) {
            out.push(format!(
                "annotated as changed in {a}, but its shape did not change in {a}"
            ));
        }
    }
    out
}
