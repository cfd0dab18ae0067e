//! Named types → Rust items: structs, open string enums, untagged unions and
//! aliases, with serde attributes for every wire name.

use super::doc::{doc_attrs, render, DocContext};
use super::flat_de;
use super::types::{ident, needs_box, rust_type};
use crate::ir::{Api, Field, Ty, TypeDef, TypeId, TypeKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn type_item(api: &Api, id: TypeId, ctx: &DocContext) -> TokenStream {
    let def = api.ty(id);
    let name = format_ident!("{}", def.name);
    let mut doc_text = render(&def.doc, ctx);
    if doc_text.is_empty() {
        doc_text = format!("`{}` from the spec.", def.origin.file);
    }
    doc_text.push_str(&format!("\n\nSpec source: `{}`.", origin_text(def)));
    let docs = doc_attrs(&doc_text);
    match &def.kind {
        TypeKind::Struct { fields, additional } => struct_item(api, id, &name, docs, fields, additional.as_ref(), ctx),
        TypeKind::StringEnum { values } => {
            let variants = values.iter().map(|v| {
                let vname = format_ident!("{}", v.rust_name);
                let vdoc = doc_attrs(&format!("`{}`", v.wire));
                quote! { #vdoc #vname, }
            });
            let pairs = values.iter().map(|v| {
                let vname = format_ident!("{}", v.rust_name);
                let wire = &v.wire;
                quote! { #vname => #wire }
            });
            quote! {
                #docs
                #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
                pub enum #name {
                    #(#variants)*
                    /// A value this version of the spec does not list, kept exactly as received.
                    Other(::std::string::String),
                }
                ::matrix_api_runtime::string_enum_impls!(#name { #(#pairs),* });
            }
        }
        TypeKind::Union { variants } => {
            let variants = variants.iter().map(|v| {
                let vname = format_ident!("{}", v.rust_name);
                let mut ty = rust_type(api, &v.ty);
                if needs_box(api, id, &v.ty) {
                    ty = quote! { ::std::boxed::Box<#ty> };
                }
                quote! { #vname(#ty), }
            });
            let text = text_union_impls(&name, variants_of(def));
            quote! {
                #docs
                #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                #[serde(untagged)]
                pub enum #name {
                    #(#variants)*
                }
                #text
            }
        }
        TypeKind::Alias(ty) => {
            let ty = rust_type(api, ty);
            quote! {
                #docs
                pub type #name = #ty;
            }
        }
    }
}

fn variants_of(def: &TypeDef) -> &[crate::ir::Variant] {
    match &def.kind {
        TypeKind::Union { variants } => variants,
        _ => &[],
    }
}

/// A union of identifiers and strings (`RoomId` or `RoomAlias`) is text
/// whichever it is: `as_str`, `AsRef<str>` and `Display`.
fn text_union_impls(name: &syn::Ident, variants: &[crate::ir::Variant]) -> TokenStream {
    if !variants.iter().all(|v| matches!(v.ty, Ty::String | Ty::Identifier(_))) {
        return quote! {};
    }
    let arms = variants.iter().map(|v| {
        let vname = format_ident!("{}", v.rust_name);
        quote! { Self::#vname(value) => value.as_str(), }
    });
    quote! {
        impl #name {
            /// The value as text, whichever variant it is.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#arms)*
                }
            }
        }
        impl ::std::convert::AsRef<str> for #name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    }
}

fn origin_text(def: &TypeDef) -> String {
    if def.origin.pointer.is_empty() {
        def.origin.file.clone()
    } else {
        format!("{}#{}", def.origin.file, def.origin.pointer)
    }
}

/// A struct's item; also used for the redacted subsets of event contents
/// (`id` is the original's, for boxing and its flags).
pub(super) fn struct_item(
    api: &Api,
    id: TypeId,
    name: &syn::Ident,
    docs: TokenStream,
    fields: &[Field],
    additional: Option<&Ty>,
    ctx: &DocContext,
) -> TokenStream {
    let mut all_optional = true;
    let mut field_items = Vec::new();
    // A core event schema is generic over its content (`SyncRoomEvent<C>`):
    // the form of every event of its kind.
    let generic_form = api.is_event_form(id);
    let def_keeps_unknown = api.ty(id).keeps_unknown;
    // `new`: the required fields as arguments, constants filled in, the rest absent.
    let mut args = Vec::new();
    let mut inits = Vec::new();
    let mut de_fields = Vec::new();
    for f in fields {
        let fname = ident(&f.rust_name);
        let mut attrs = Vec::new();
        let wire_as_rust = f.rust_name.trim_start_matches("r#");
        if wire_as_rust != f.wire_name {
            let wire = &f.wire_name;
            attrs.push(quote! { rename = #wire });
        }
        let boxed = needs_box(api, id, &f.ty);
        let base = |ty: &Ty| {
            // Lists of events hold them undecoded, each typed by its kind.
            // (Not beside flattened extra properties: serde buffers those,
            // and buffered input cannot be kept as raw JSON.)
            let raw_list = match ty {
                Ty::Array(item) if additional.is_none() && !def_keeps_unknown => {
                    super::event_enums::raw_item(api, item)
                }
                _ => None,
            };
            let t = match raw_list {
                Some(item) => quote! { ::std::vec::Vec<#item> },
                None => rust_type(api, ty),
            };
            if boxed {
                quote! { ::std::boxed::Box<#t> }
            } else {
                t
            }
        };
        let ty = match (&f.ty, f.required) {
            (Ty::Object, true) if generic_form && f.wire_name == "content" => {
                all_optional = false;
                args.push(quote! { #fname: C });
                inits.push(quote! { #fname, });
                quote! { C }
            }
            // Required: the value as is (`Option` only when `null` is allowed).
            (Ty::Nullable(inner), true) => {
                let t = base(inner);
                all_optional = false;
                args.push(quote! { #fname: ::std::option::Option<#t> });
                inits.push(quote! { #fname, });
                quote! { ::std::option::Option<#t> }
            }
            (ty, true) => {
                let t = base(ty);
                if matches!(ty, Ty::Number) {
                    attrs.push(quote! { serialize_with = "::matrix_api_runtime::number::whole_as_integer" });
                }
                if matches!(ty, Ty::Const(_)) {
                    // A constant has a default: its only value.
                    inits.push(quote! { #fname: #t, });
                } else {
                    all_optional = false;
                    if boxed {
                        let inner = rust_type(api, ty);
                        args.push(quote! { #fname: #inner });
                        inits.push(quote! { #fname: ::std::boxed::Box::new(#fname), });
                    } else {
                        args.push(quote! { #fname: #t });
                        inits.push(quote! { #fname, });
                    }
                }
                t
            }
            // Optional and nullable: absent, `null` and a value stay distinct.
            (Ty::Nullable(inner), false) => {
                inits.push(quote! { #fname: ::std::option::Option::None, });
                attrs.push(quote! { default, skip_serializing_if = "::std::option::Option::is_none", with = "::matrix_api_runtime::double_option" });
                let t = base(inner);
                quote! { ::std::option::Option<::std::option::Option<#t>> }
            }
            (ty, false) => {
                inits.push(quote! { #fname: ::std::option::Option::None, });
                attrs.push(quote! { default, skip_serializing_if = "::std::option::Option::is_none" });
                if matches!(ty, Ty::Number) {
                    attrs.push(quote! { serialize_with = "::matrix_api_runtime::number::option_whole_as_integer" });
                }
                let t = base(ty);
                quote! { ::std::option::Option<#t> }
            }
        };
        let shape = match (&f.ty, f.required) {
            (Ty::Nullable(_), false) => flat_de::FieldShape::OptionalNullable,
            (Ty::Nullable(_), true) | (_, false) => flat_de::FieldShape::Optional,
            (_, true) => flat_de::FieldShape::Required,
        };
        de_fields.push(flat_de::DeField {
            ident: fname.clone(),
            wire: f.wire_name.clone(),
            shape,
            ty: ty.clone(),
        });
        let mut doc = render(&f.doc, ctx);
        if doc.is_empty() {
            doc = format!("`{}`", f.wire_name);
        }
        let fdocs = doc_attrs(&doc);
        let serde_attr = if attrs.is_empty() {
            quote! {}
        } else {
            quote! { #[serde(#(#attrs),*)] }
        };
        field_items.push(quote! {
            #fdocs
            #serde_attr
            pub #fname: #ty,
        });
    }
    // Where undeclared properties go, if anywhere: read by a written
    // `Deserialize` (see `flat_de`) rather than serde's buffering flatten.
    let mut rest = None;
    if let Some(value_ty) = additional {
        let t = rust_type(api, value_ty);
        rest = Some((format_ident!("additional_properties"), t.clone()));
        field_items.push(quote! {
            /// Properties beyond the declared ones (`additionalProperties` / `patternProperties`).
            #[serde(flatten)]
            pub additional_properties: ::std::collections::BTreeMap<::std::string::String, #t>,
        });
        inits.push(quote! { additional_properties: ::std::collections::BTreeMap::new(), });
    } else if def_keeps_unknown {
        rest = Some((format_ident!("extra"), quote! { ::serde_json::Value }));
        field_items.push(quote! {
            /// Fields this version of the spec does not define, kept as received
            /// (extensions such as `m.relates_to` on a message variant, newer fields).
            #[serde(flatten)]
            pub extra: ::std::collections::BTreeMap<::std::string::String, ::serde_json::Value>,
        });
        inits.push(quote! { extra: ::std::collections::BTreeMap::new(), });
    }
    let default = if all_optional {
        quote! { Default, }
    } else {
        quote! {}
    };
    let generics = if generic_form {
        quote! { <C = ::serde_json::Map<::std::string::String, ::serde_json::Value>> }
    } else {
        quote! {}
    };
    let constructor = if all_optional {
        quote! {}
    } else {
        let impl_generics = if generic_form {
            quote! { <C> }
        } else {
            quote! {}
        };
        quote! {
            impl #impl_generics #name #impl_generics {
                /// A value with the required fields; the optional ones are absent.
                #[allow(clippy::too_many_arguments)]
                pub fn new(#(#args),*) -> Self {
                    Self { #(#inits)* }
                }
            }
        }
    };
    let (derive_de, de_impl) = match &rest {
        Some((rest, rest_value)) if !generic_form => {
            (quote! {}, flat_de::deserialize_impl(name, &de_fields, rest, rest_value))
        }
        _ => (quote! { ::serde::Deserialize, }, quote! {}),
    };
    quote! {
        #docs
        #[derive(Clone, Debug, #default PartialEq, ::serde::Serialize, #derive_de)]
        pub struct #name #generics {
            #(#field_items)*
        }
        #constructor
        #de_impl
    }
}
