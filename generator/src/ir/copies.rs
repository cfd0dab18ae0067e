//! One type per schema: the spec copies some schemas inline (the same enum
//! of push rule kinds in seven operations, the unsigned device info of two
//! responses). Copies — the same shape *and* the same documentation, in the
//! same module — become one type, before names are chosen, so the merged
//! type is named once and every use refers to it.
//!
//! Types with the same shape but their own documentation (a ban's
//! `{user_id, reason}` and a kick's) share one definition too, but keep
//! their names: the first is the struct, the others are aliases of it with
//! their own docs (`pub type KickRequest = BanRequest;`), so `KickRequest`
//! still reads as what it is, and `KickRequest::new(..)` still works, while
//! the compiler sees one type. Event types and event contents stay apart:
//! each event keeps its own content type.

use super::schema::Draft;
use super::{shapes, Api, Ty, TypeDef, TypeId, TypeKind};
use std::collections::BTreeSet;

/// Merges the copies among `drafts`, renumbering every reference in `api`
/// (operations, events, examples) and in the drafts themselves.
pub(super) fn merge(drafts: Vec<Draft>, api: &mut Api) -> Vec<Draft> {
    let defs: Vec<TypeDef> = drafts.iter().map(|d| d.def.clone()).collect();
    // old id → the id that stands for its group (itself when not a copy)
    let mut target: Vec<TypeId> = (0..drafts.len()).collect();
    for group in mergeable_copies(api, &defs) {
        let keep = representative(&drafts, &group);
        for &id in &group {
            target[id] = keep;
        }
    }
    // Renumber: the kept types in their order.
    let mut new_index = vec![usize::MAX; drafts.len()];
    let mut next = 0;
    for id in 0..drafts.len() {
        if target[id] == id {
            new_index[id] = next;
            next += 1;
        }
    }
    let map: Vec<TypeId> = (0..drafts.len()).map(|id| new_index[target[id]]).collect();
    // The kept draft takes the others' names as further candidates.
    let mut extra: Vec<Vec<String>> = vec![Vec::new(); drafts.len()];
    for (id, d) in drafts.iter().enumerate() {
        if target[id] != id {
            extra[target[id]].extend(d.candidates.iter().cloned());
        }
    }
    let mut out = Vec::with_capacity(next);
    for (id, mut draft) in drafts.into_iter().enumerate() {
        if target[id] != id {
            continue;
        }
        for name in std::mem::take(&mut extra[id]) {
            if !draft.candidates.contains(&name) {
                draft.candidates.push(name);
            }
        }
        renumber_def(&mut draft.def, &map);
        out.push(draft);
    }
    renumber_api(api, &map);
    share_shapes(api, &mut out);
    out
}

/// Makes every type with the shape of an earlier-chosen one an alias of it
/// (see the module docs).
fn share_shapes(api: &Api, drafts: &mut [Draft]) {
    let defs: Vec<TypeDef> = drafts.iter().map(|d| d.def.clone()).collect();
    let kept_apart = kept_apart(api, &defs);
    for group in shapes::duplicate_groups_of(&defs) {
        let group: Vec<TypeId> = group.into_iter().filter(|id| !kept_apart.contains(id)).collect();
        if group.len() < 2 {
            continue;
        }
        let keep = representative(drafts, &group);
        for id in group.into_iter().filter(|&id| id != keep) {
            drafts[id].def.kind = TypeKind::Alias(Ty::Named(keep));
        }
    }
}

/// The groups of copies that become one type each: every group of
/// [`shapes::copy_groups`] without the types that stay apart.
pub(crate) fn mergeable_copies(api: &Api, defs: &[TypeDef]) -> Vec<Vec<TypeId>> {
    let kept_apart = kept_apart(api, defs);
    shapes::copy_groups(defs)
        .into_iter()
        .map(|group| {
            group
                .into_iter()
                .filter(|id| !kept_apart.contains(id))
                .collect::<Vec<_>>()
        })
        .filter(|group| group.len() > 1)
        .collect()
}

/// Event types and event contents, which must stay one type each (every
/// event its own content type, with its own event type constant).
pub(crate) fn kept_apart(api: &Api, defs: &[TypeDef]) -> BTreeSet<TypeId> {
    let mut ids = BTreeSet::new();
    for event in &api.events {
        ids.extend(super::ty_refs(&event.ty));
        if let Ty::Named(id) = event.ty {
            if let TypeKind::Struct { fields, .. } = &defs[id].kind {
                for f in fields.iter().filter(|f| f.wire_name == "content") {
                    ids.extend(super::ty_refs(&f.ty));
                }
            }
        }
    }
    for (id, def) in defs.iter().enumerate() {
        if def.origin.file.starts_with("event-schemas/schema/")
            && (def.origin.pointer.is_empty() || def.origin.pointer == "/properties/content")
        {
            ids.insert(id);
        }
    }
    ids
}

/// The copy that names the group: one defined on its own (a whole file or
/// a component) if any, else the one with the shortest name, else the first.
fn representative(drafts: &[Draft], group: &[TypeId]) -> TypeId {
    let standalone = |id: &TypeId| {
        let p = &drafts[*id].def.origin.pointer;
        p.is_empty() || p.starts_with("/components/") || p.starts_with("/definitions/")
    };
    let first_name = |id: &TypeId| drafts[*id].candidates.first().map(String::len).unwrap_or(usize::MAX);
    group
        .iter()
        .copied()
        .min_by_key(|id| (!standalone(id), first_name(id), *id))
        .expect("a group has members")
}

fn renumber_ty(ty: &mut Ty, map: &[TypeId]) {
    match ty {
        Ty::Named(id) => *id = map[*id],
        Ty::Array(inner) | Ty::Map(inner) | Ty::IdMap(_, inner) | Ty::Nullable(inner) => renumber_ty(inner, map),
        Ty::Tuple(items) => items.iter_mut().for_each(|t| renumber_ty(t, map)),
        _ => {}
    }
}

fn renumber_def(def: &mut TypeDef, map: &[TypeId]) {
    match &mut def.kind {
        TypeKind::Struct { fields, additional } => {
            fields.iter_mut().for_each(|f| renumber_ty(&mut f.ty, map));
            if let Some(t) = additional {
                renumber_ty(t, map);
            }
        }
        TypeKind::Union { variants } => variants.iter_mut().for_each(|v| renumber_ty(&mut v.ty, map)),
        TypeKind::Alias(t) => renumber_ty(t, map),
        TypeKind::StringEnum { .. } => {}
    }
}

fn renumber_api(api: &mut Api, map: &[TypeId]) {
    for op in &mut api.operations {
        for p in &mut op.params {
            renumber_ty(&mut p.ty, map);
        }
        let bodies = op.request.iter_mut().flat_map(|b| b.content.iter_mut());
        let responses = op.responses.iter_mut().flat_map(|r| r.content.iter_mut());
        for content in bodies.chain(responses) {
            if let Some(t) = &mut content.ty {
                renumber_ty(t, map);
            }
        }
        for h in op.responses.iter_mut().flat_map(|r| r.headers.iter_mut()) {
            renumber_ty(&mut h.ty, map);
        }
    }
    for event in &mut api.events {
        renumber_ty(&mut event.ty, map);
        if let Some(t) = &mut event.content {
            renumber_ty(t, map);
        }
    }
    for example in &mut api.examples {
        renumber_ty(&mut example.ty, map);
    }
}
