//! `cargo xtask history`: for every operation and event of the newest
//! release, the release that first had it and every release that changed
//! its shape, computed from the releases themselves, set against what the
//! spec's own `x-addedInMatrixVersion` / `x-changedInMatrixVersion`
//! annotations say.

use super::{diff, normalize_path, Options, Subject};
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

/// `releases` oldest first. Entries are for the newest release's operations
/// and events.
pub fn history(releases: &[(String, Api)]) -> Vec<Entry> {
    let Some((_, newest)) = releases.last() else {
        return Vec::new();
    };
    let first_name = releases.first().map(|(n, _)| n.clone()).unwrap_or_default();
    // For every release after the first: which operation keys and events changed shape.
    let mut op_changes: BTreeMap<(Family, String, String, String), Vec<String>> = BTreeMap::new();
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
        let mut changed_ops = BTreeSet::new();
        let mut changed_events = BTreeSet::new();
        for c in &report.changes {
            if matches!(
                c.rule,
                "operation-added" | "operation-removed" | "schema-added" | "event-added" | "event-removed"
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
                    changed_ops.insert((*family, method.clone(), normalize_path(path), operation_id.clone()));
                }
                Subject::Event { name } => {
                    changed_events.insert(name.clone());
                }
                Subject::Schema { .. } => {}
            }
            for label in &c.reaches {
                if let Some(ops) = by_label.get(label) {
                    changed_ops.extend(ops.iter().map(|o| op_key(o)));
                }
                if let Some(e) = event_by_label.get(label) {
                    changed_events.insert((*e).to_owned());
                }
            }
        }
        for k in changed_ops {
            op_changes.entry(k).or_default().push(name.clone());
        }
        for e in changed_events {
            event_changes.entry(e).or_default().push(name.clone());
        }
    }

    let mut out = Vec::new();
    for o in &newest.operations {
        let key = op_key(o);
        let present: Vec<bool> = releases
            .iter()
            .map(|(_, api)| api.operations.iter().any(|p| op_key(p) == key))
            .collect();
        let first = first_present(releases, &present);
        let changed: Vec<String> = op_changes
            .get(&key)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| later(r, &first))
            .collect();
        let annotations = op_annotations(newest, o);
        let annotated_added = o.added_in.as_deref().map(release_name);
        let annotated_changed: Vec<String> = o.changed_in.iter().map(|(v, _)| release_name(v)).collect();
        let disagreements = compare(
            &first,
            &first_name,
            &changed,
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
            .filter(|r| later(r, &first))
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
            &first,
            &first_name,
            &changed,
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

fn later(release: &str, than: &str) -> bool {
    crate::load::spec::release_key(release) > crate::load::spec::release_key(than)
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
        Some(a) if a != first && (first != oldest || later(a, oldest)) => {
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
        if known.contains(a.as_str()) && later(a, oldest) && !changed.contains(a) {
            out.push(format!(
                "annotated as changed in {a}, but its shape did not change in {a}"
            ));
        }
    }
    out
}
