//! Type expressions ([`Ty`]) as Rust tokens, and the keys that name them in
//! the example registry.

use crate::ir::{Api, Ty, TypeId, TypeKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// An identifier that may be a raw identifier (`r#type`).
pub fn ident(name: &str) -> syn::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => format_ident!("r#{}", raw),
        None => format_ident!("{}", name),
    }
}

/// The fully qualified path of a named type.
pub fn type_path(api: &Api, id: TypeId) -> TokenStream {
    let def = api.ty(id);
    let module = format_ident!("{}", def.module.rust_name());
    let name = format_ident!("{}", def.name);
    quote! { crate::#module::#name }
}

/// The Rust type for a type expression. Paths are fully qualified so that a
/// spec type called `Option` or `String` cannot shadow anything.
pub fn rust_type(api: &Api, ty: &Ty) -> TokenStream {
    match ty {
        Ty::String => quote! { ::std::string::String },
        Ty::Integer => quote! { i64 },
        Ty::Number => quote! { f64 },
        Ty::Boolean => quote! { bool },
        Ty::Bytes => quote! { ::std::vec::Vec<u8> },
        Ty::Any => quote! { ::serde_json::Value },
        Ty::Object => quote! { ::serde_json::Map<::std::string::String, ::serde_json::Value> },
        Ty::Array(inner) => {
            let inner = rust_type(api, inner);
            quote! { ::std::vec::Vec<#inner> }
        }
        Ty::Tuple(items) => {
            let items = items.iter().map(|t| rust_type(api, t));
            quote! { ( #(#items,)* ) }
        }
        Ty::Map(inner) => {
            let inner = rust_type(api, inner);
            quote! { ::std::collections::BTreeMap<::std::string::String, #inner> }
        }
        Ty::Nullable(inner) => {
            let inner = rust_type(api, inner);
            quote! { ::std::option::Option<#inner> }
        }
        Ty::Named(id) => type_path(api, *id),
        Ty::Identifier(id) => identifier_path(api, *id),
        Ty::Const(value) => {
            let name = format_ident!("{}", const_name(api, value));
            quote! { crate::constants::#name }
        }
        Ty::IdMap(key, inner) => {
            let key = identifier_path(api, *key);
            let inner = rust_type(api, inner);
            quote! { ::std::collections::BTreeMap<#key, #inner> }
        }
    }
}

/// The Rust name of the constant type for `value` (`m.room.message` →
/// `MRoomMessage`), unique across the crate.
pub fn const_name(api: &Api, value: &str) -> String {
    api.constants
        .get(value)
        .cloned()
        .unwrap_or_else(|| crate::ir::naming_pascal(value))
}

/// The path of an identifier newtype (`crate::identifiers::UserId`).
pub fn identifier_path(api: &Api, id: crate::ir::IdentifierId) -> TokenStream {
    let name = format_ident!("{}", api.identifiers[id].name);
    quote! { crate::identifiers::#name }
}

/// A stable textual key for a type expression (`Vec<client_server::Foo>`),
/// shared by the registry emitter and the tests that look types up.
pub fn ty_key(api: &Api, ty: &Ty) -> String {
    match ty {
        Ty::String => "String".into(),
        Ty::Integer => "i64".into(),
        Ty::Number => "f64".into(),
        Ty::Boolean => "bool".into(),
        Ty::Bytes => "Bytes".into(),
        Ty::Any => "Value".into(),
        Ty::Object => "Object".into(),
        Ty::Array(inner) => format!("Vec<{}>", ty_key(api, inner)),
        Ty::Tuple(items) => format!(
            "({})",
            items.iter().map(|t| ty_key(api, t)).collect::<Vec<_>>().join(", ")
        ),
        Ty::Map(inner) => format!("Map<{}>", ty_key(api, inner)),
        Ty::Identifier(id) => api.identifiers[*id].name.clone(),
        Ty::Const(value) => format!("{value:?}"),
        Ty::IdMap(key, inner) => format!("Map<{}, {}>", api.identifiers[*key].name, ty_key(api, inner)),
        Ty::Nullable(inner) => format!("Option<{}>", ty_key(api, inner)),
        Ty::Named(id) => {
            let def = api.ty(*id);
            format!("{}::{}", def.module.rust_name(), def.name)
        }
    }
}

/// Whether a value of type `ty`, stored inline in `owner`, would contain
/// `owner` again without indirection (and so needs a `Box`).
pub fn needs_box(api: &Api, owner: TypeId, ty: &Ty) -> bool {
    let mut seen = Vec::new();
    reaches_inline(api, owner, ty, &mut seen)
}

fn reaches_inline(api: &Api, target: TypeId, ty: &Ty, seen: &mut Vec<TypeId>) -> bool {
    match ty {
        Ty::Nullable(inner) => reaches_inline(api, target, inner, seen),
        Ty::Tuple(items) => items.iter().any(|t| reaches_inline(api, target, t, seen)),
        Ty::Named(id) => {
            if *id == target {
                return true;
            }
            if seen.contains(id) {
                return false;
            }
            seen.push(*id);
            match &api.ty(*id).kind {
                TypeKind::Struct { fields, .. } => fields.iter().any(|f| reaches_inline(api, target, &f.ty, seen)),
                TypeKind::Union { variants } => variants.iter().any(|v| reaches_inline(api, target, &v.ty, seen)),
                TypeKind::Alias(t) => reaches_inline(api, target, t, seen),
                TypeKind::StringEnum { .. } => false,
            }
        }
        _ => false,
    }
}
