//! What a type is on the wire: the JSON it reads and writes, whatever the
//! generated Rust type is called. A diff verdict for clients and servers
//! compares these; a schema renamed, moved or merged with a copy changes
//! only the Rust name, which breaks Rust callers and nobody on the wire.

use crate::ir::{Api, Ty, TypeId, TypeKind};

/// The JSON shape of `ty` as text: objects with their properties (wire
/// name, required-ness, shape), enums with their values, unions with their
/// alternatives, identifiers with their format (a format is a constraint
/// the wire carries). Named types are expanded; a type met again inside
/// itself is written as a back-reference.
pub fn wire_key(api: &Api, ty: &Ty) -> String {
    let mut stack = Vec::new();
    key(api, ty, &mut stack)
}

fn key(api: &Api, ty: &Ty, stack: &mut Vec<TypeId>) -> String {
    match ty {
        Ty::String => "string".into(),
        Ty::Integer => "integer".into(),
        Ty::Number => "number".into(),
        Ty::Boolean => "boolean".into(),
        Ty::Bytes => "bytes".into(),
        Ty::Any => "any".into(),
        Ty::Object => "object".into(),
        Ty::Array(inner) => format!("[{}]", key(api, inner, stack)),
        Ty::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|t| key(api, t, stack)).collect();
            format!("({})", items.join(","))
        }
        Ty::Map(inner) => format!("{{*:{}}}", key(api, inner, stack)),
        Ty::Identifier(id) => format!("string({})", api.identifiers[*id].format),
        Ty::IdMap(id, inner) => format!("{{{}:{}}}", api.identifiers[*id].format, key(api, inner, stack)),
        Ty::Const(value) => format!("={value:?}"),
        Ty::Nullable(inner) => format!("{}|null", key(api, inner, stack)),
        Ty::Named(id) => {
            if let Some(depth) = stack.iter().rposition(|s| s == id) {
                return format!("^{}", stack.len() - depth);
            }
            stack.push(*id);
            let def = api.ty(*id);
            let text = match &def.kind {
                TypeKind::Struct { fields, additional } => {
                    let fields: Vec<String> = fields
                        .iter()
                        .map(|f| {
                            format!(
                                "{}{}:{}",
                                f.wire_name,
                                if f.required { "!" } else { "" },
                                key(api, &f.ty, stack)
                            )
                        })
                        .collect();
                    let extra = additional
                        .as_ref()
                        .map(|t| format!(",*:{}", key(api, t, stack)))
                        .unwrap_or_default();
                    format!("{{{}{extra}}}", fields.join(","))
                }
                TypeKind::StringEnum { values } => {
                    let values: Vec<&str> = values.iter().map(|v| v.wire.as_str()).collect();
                    format!("enum{values:?}")
                }
                TypeKind::Union { variants } => {
                    let variants: Vec<String> = variants.iter().map(|v| key(api, &v.ty, stack)).collect();
                    format!("oneOf({})", variants.join("|"))
                }
                TypeKind::Alias(inner) => key(api, inner, stack),
            };
            stack.pop();
            text
        }
    }
}

/// Whether every JSON value of `ty` (in `api`) is also a value of `other`
/// (in `other_api`): a reader written for `other` reads whatever a writer
/// of `ty` sends. Objects are open (a reader ignores properties it does not
/// know); a property the reader requires must be required and fitting in
/// the writer; an identifier fits a string but not the other way round
/// (its format is a constraint), a constant fits a string, everything fits
/// `any`. Types that contain themselves are assumed to fit where they
/// recur (the check is coinductive).
pub fn fits(api: &Api, ty: &Ty, other_api: &Api, other: &Ty) -> bool {
    Fit {
        new: api,
        old: other_api,
        assumed: Vec::new(),
    }
    .fits(ty, other)
}

struct Fit<'a> {
    new: &'a Api,
    old: &'a Api,
    assumed: Vec<(TypeId, TypeId)>,
}

impl Fit<'_> {
    fn fits(&mut self, n: &Ty, o: &Ty) -> bool {
        match (n, o) {
            (_, Ty::Any) => true,
            (Ty::Named(a), Ty::Named(b)) => {
                if self.assumed.contains(&(*a, *b)) {
                    return true;
                }
                self.assumed.push((*a, *b));
                let result = self.named_fits(*a, o);
                self.assumed.pop();
                result
            }
            (Ty::Named(a), _) => self.named_fits(*a, o),
            (_, Ty::Named(b)) => self.fits_named(n, *b),
            (Ty::Nullable(a), Ty::Nullable(b)) => self.fits(a, b),
            (Ty::Nullable(_), _) => false,
            (a, Ty::Nullable(b)) => self.fits(a, b),
            (Ty::Array(a), Ty::Array(b)) => self.fits(a, b),
            (Ty::Tuple(items), Ty::Array(b)) => items.iter().all(|t| self.fits(t, b)),
            (Ty::Tuple(a), Ty::Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| self.fits(x, y)),
            (Ty::Map(a) | Ty::IdMap(_, a), Ty::Map(b)) => self.fits(a, b),
            (Ty::IdMap(x, a), Ty::IdMap(y, b)) => self.same_format(*x, *y) && self.fits(a, b),
            (Ty::Map(_) | Ty::IdMap(..) | Ty::Object, Ty::Object) => true,
            (Ty::Identifier(_) | Ty::Const(_) | Ty::String, Ty::String) => true,
            (Ty::Identifier(x), Ty::Identifier(y)) => self.same_format(*x, *y),
            (Ty::Const(a), Ty::Const(b)) => a == b,
            (Ty::Integer, Ty::Integer | Ty::Number) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    fn same_format(&self, new: usize, old: usize) -> bool {
        self.new.identifiers[new].format == self.old.identifiers[old].format
    }

    /// A named type of the writer's side against any type of the reader's.
    fn named_fits(&mut self, id: TypeId, o: &Ty) -> bool {
        let def = self.new.ty(id);
        match &def.kind {
            TypeKind::Alias(inner) => self.fits(&inner.clone(), o),
            TypeKind::Union { variants } => variants.clone().iter().all(|v| self.fits(&v.ty, o)),
            TypeKind::StringEnum { values } => match o {
                Ty::String => true,
                Ty::Named(b) => match &self.old.ty(*b).kind {
                    TypeKind::StringEnum { values: old } => values.iter().all(|v| old.iter().any(|w| w.wire == v.wire)),
                    _ => false,
                },
                _ => false,
            },
            TypeKind::Struct { fields, additional } => match o {
                Ty::Object => true,
                Ty::Named(b) => match self.old.ty(*b).kind.clone() {
                    TypeKind::Struct { fields: old_fields, .. } => {
                        let fields = fields.clone();
                        old_fields
                            .iter()
                            .all(|of| match fields.iter().find(|f| f.wire_name == of.wire_name) {
                                Some(f) => (f.required || !of.required) && self.fits(&f.ty, &of.ty),
                                None => !of.required,
                            })
                    }
                    TypeKind::Alias(inner) => self.fits(&Ty::Named(id), &inner),
                    TypeKind::Union { variants } => variants.iter().any(|v| self.fits(&Ty::Named(id), &v.ty)),
                    TypeKind::StringEnum { .. } => false,
                },
                Ty::Map(value) => {
                    let value = value.clone();
                    let fields = fields.clone();
                    fields.iter().all(|f| self.fits(&f.ty, &value))
                        && additional.clone().is_none_or(|a| self.fits(&a, &value))
                }
                _ => false,
            },
        }
    }

    /// A plain type of the writer's side against a named type of the reader's.
    fn fits_named(&mut self, n: &Ty, id: TypeId) -> bool {
        match self.old.ty(id).kind.clone() {
            TypeKind::Alias(inner) => self.fits(n, &inner),
            TypeKind::Union { variants } => variants.iter().any(|v| self.fits(n, &v.ty)),
            TypeKind::StringEnum { values } => match n {
                Ty::Const(c) => values.iter().any(|v| &v.wire == c),
                _ => false,
            },
            // A map or an untyped object is not known to have the fields the
            // reader requires; a struct with no required field takes it.
            TypeKind::Struct { fields, .. } => {
                matches!(n, Ty::Map(_) | Ty::Object | Ty::IdMap(..)) && fields.iter().all(|f| !f.required)
            }
        }
    }
}
