//! Which named types have the same shape: the same JSON on the wire, read
//! the same way (fields with their wire names, types and required-ness;
//! enum values; union variants), whatever their names and documentation.
//! Types that reference each other are compared by partition refinement,
//! so two structs whose fields are distinct-but-identical types count as
//! identical too.

use super::{Api, Ty, TypeDef, TypeId, TypeKind};
use std::collections::BTreeMap;

/// Groups of two or more types with one shape, each group in id order,
/// groups ordered by their first id.
pub fn duplicate_groups(api: &Api) -> Vec<Vec<TypeId>> {
    duplicate_groups_of(&api.types)
}

/// [`duplicate_groups`] of a list of types. An alias of a named type is
/// the type it names, not a duplicate of it.
pub fn duplicate_groups_of(types: &[TypeDef]) -> Vec<Vec<TypeId>> {
    let classes = shape_classes(types, false);
    let is_shared = |id: &TypeId| matches!(types[*id].kind, TypeKind::Alias(Ty::Named(_)));
    groups_of(&classes)
        .into_iter()
        .map(|g| g.into_iter().filter(|id| !is_shared(id)).collect::<Vec<_>>())
        .filter(|g| g.len() > 1)
        .collect()
}

/// Groups of types that are copies of one schema: the same shape and the
/// same documentation, field by field.
pub fn copy_groups(types: &[TypeDef]) -> Vec<Vec<TypeId>> {
    let is_shared = |id: &TypeId| matches!(types[*id].kind, TypeKind::Alias(Ty::Named(_)));
    groups_of(&shape_classes(types, true))
        .into_iter()
        .map(|g| g.into_iter().filter(|id| !is_shared(id)).collect::<Vec<_>>())
        .filter(|g| g.len() > 1)
        .collect()
}

fn groups_of(classes: &[usize]) -> Vec<Vec<TypeId>> {
    let mut groups: BTreeMap<usize, Vec<TypeId>> = BTreeMap::new();
    for (id, class) in classes.iter().enumerate() {
        groups.entry(*class).or_default().push(id);
    }
    let mut out: Vec<Vec<TypeId>> = groups.into_values().filter(|g| g.len() > 1).collect();
    out.sort();
    out
}

/// A class number per type: equal numbers, equal shapes.
pub fn shape_classes(types: &[TypeDef], with_docs: bool) -> Vec<usize> {
    let n = types.len();
    // Start from the module-free, name-free shape with every named
    // reference in one class; refine until nothing splits.
    let mut classes = vec![0usize; n];
    // Documentation does not change between rounds: its key is made once.
    let docs: Vec<String> = types
        .iter()
        .map(|def| if with_docs { doc_key(def) } else { String::new() })
        .collect();
    loop {
        let mut keys: BTreeMap<String, usize> = BTreeMap::new();
        let next: Vec<usize> = types
            .iter()
            .enumerate()
            .map(|(id, def)| {
                let key = format!("{}|{}|{}", classes[id], shape_key(def, &classes), docs[id]);
                let fresh = keys.len();
                *keys.entry(key).or_insert(fresh)
            })
            .collect();
        let before = classes.iter().collect::<std::collections::BTreeSet<_>>().len();
        let after = keys.len();
        classes = next;
        if after == before {
            return classes;
        }
    }
}

/// The documentation of a type and of its fields and variants.
fn doc_key(def: &TypeDef) -> String {
    let fields = match &def.kind {
        TypeKind::Struct { fields, .. } => fields.iter().map(|f| format!("{:?}", f.doc)).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    format!("{:?}{fields:?}", def.doc)
}

fn shape_key(def: &TypeDef, classes: &[usize]) -> String {
    let ty = |t: &Ty| ty_key(t, classes);
    let kind = match &def.kind {
        TypeKind::Struct { fields, additional } => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}:{}:{}", f.wire_name, f.required, ty(&f.ty)))
                .collect();
            format!(
                "struct{{{}}}+{}",
                fields.join(","),
                additional.as_ref().map(ty).unwrap_or_default()
            )
        }
        TypeKind::StringEnum { values } => {
            let values: Vec<&str> = values.iter().map(|v| v.wire.as_str()).collect();
            format!("enum{values:?}")
        }
        TypeKind::Union { variants } => {
            let variants: Vec<String> = variants.iter().map(|v| ty(&v.ty)).collect();
            format!("union{variants:?}")
        }
        TypeKind::Alias(t) => format!("alias({})", ty(t)),
    };
    // Types of different modules stay apart: merging them would make one
    // family's Cargo feature need another's.
    format!("{kind}/{}/{:?}", def.keeps_unknown, def.module)
}

fn ty_key(ty: &Ty, classes: &[usize]) -> String {
    match ty {
        Ty::Named(id) => format!("#{}", classes[*id]),
        Ty::Array(inner) => format!("[{}]", ty_key(inner, classes)),
        Ty::Map(inner) => format!("{{{}}}", ty_key(inner, classes)),
        Ty::Nullable(inner) => format!("?{}", ty_key(inner, classes)),
        Ty::IdMap(id, inner) => format!("{{id{id}:{}}}", ty_key(inner, classes)),
        Ty::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|t| ty_key(t, classes)).collect();
            format!("({})", items.join(","))
        }
        other => format!("{other:?}"),
    }
}
