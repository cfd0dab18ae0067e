//! Named types → Rust items: structs, open string enums, untagged unions and
//! aliases, with serde attributes for every wire name.

use super::doc::{doc_attrs, render, DocContext};
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
            quote! {
                #docs
                #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                #[serde(untagged)]
                pub enum #name {
                    #(#variants)*
                }
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

fn origin_text(def: &TypeDef) -> String {
    if def.origin.pointer.is_empty() {
        def.origin.file.clone()
    } else {
        format!("{}#{}", def.origin.file, def.origin.pointer)
    }
}

fn struct_item(
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
            let t = rust_type(api, ty);
            if boxed {
                quote! { ::std::boxed::Box<#t> }
            } else {
                t
            }
        };
        let ty = match (&f.ty, f.required) {
            // Required: the value as is (`Option` only when `null` is allowed).
            (Ty::Nullable(inner), true) => {
                let t = base(inner);
                quote! { ::std::option::Option<#t> }
            }
            (ty, true) => {
                all_optional = false;
                base(ty)
            }
            // Optional and nullable: absent, `null` and a value stay distinct.
            (Ty::Nullable(inner), false) => {
                attrs.push(quote! { default, skip_serializing_if = "::std::option::Option::is_none", with = "::matrix_api_runtime::double_option" });
                let t = base(inner);
                quote! { ::std::option::Option<::std::option::Option<#t>> }
            }
            (ty, false) => {
                attrs.push(quote! { default, skip_serializing_if = "::std::option::Option::is_none" });
                let t = base(ty);
                quote! { ::std::option::Option<#t> }
            }
        };
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
    if let Some(value_ty) = additional {
        let t = rust_type(api, value_ty);
        field_items.push(quote! {
            /// Properties beyond the declared ones (`additionalProperties` / `patternProperties`).
            #[serde(flatten)]
            pub additional_properties: ::std::collections::BTreeMap<::std::string::String, #t>,
        });
    }
    let default = if all_optional {
        quote! { Default, }
    } else {
        quote! {}
    };
    quote! {
        #docs
        #[derive(Clone, Debug, #default PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct #name {
            #(#field_items)*
        }
    }
}
