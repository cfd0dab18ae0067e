//! `Deserialize` for structs that keep the properties they do not declare
//! (`extra`, `additionalProperties`).
//!
//! serde's derive handles `#[serde(flatten)]` by first buffering every
//! field of the object into an intermediate tree and then decoding each
//! declared field from that copy: an allocation per key and per string,
//! paid by every event content. The impl written here reads the object
//! once: declared fields by their wire names, everything else straight into
//! the map, with serde's own errors for missing and duplicate fields.

use proc_macro2::TokenStream;
use quote::quote;

/// How a declared field is read.
pub(super) enum FieldShape {
    /// Required and never `null`: a missing key is an error.
    Required,
    /// `Option<T>`: absent and `null` both give `None` (required but
    /// nullable, or optional).
    Optional,
    /// `Option<Option<T>>`: absent, `null` and a value stay distinct.
    OptionalNullable,
}

/// One declared field: its Rust name, wire name, shape and Rust type.
pub(super) struct DeField {
    pub ident: syn::Ident,
    pub wire: String,
    pub shape: FieldShape,
    pub ty: TokenStream,
}

/// The `impl Deserialize` for struct `name` whose undeclared properties go
/// into the map field `rest` with values of type `rest_value`.
pub(super) fn deserialize_impl(
    name: &syn::Ident,
    fields: &[DeField],
    rest: &syn::Ident,
    rest_value: &TokenStream,
) -> TokenStream {
    let expecting = format!("struct {name}");
    // A slot per field, `None` until its key is read; a nullable optional
    // field is its own slot (absent stays `None`, `null` becomes `Some(None)`).
    let slots = fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let slot = match f.shape {
            FieldShape::OptionalNullable => quote! { #ty },
            _ => quote! { ::std::option::Option<#ty> },
        };
        quote! { let mut #ident: #slot = ::std::option::Option::None; }
    });
    let arms = fields.iter().map(|f| {
        let (ident, wire) = (&f.ident, &f.wire);
        quote! { #wire => ::matrix_api_runtime::__private::next_field(&mut __map, &mut #ident, #wire)?, }
    });
    let finish = fields.iter().map(|f| {
        let (ident, wire) = (&f.ident, &f.wire);
        match f.shape {
            FieldShape::Required => quote! { #ident: ::matrix_api_runtime::__private::required(#ident, #wire)?, },
            FieldShape::Optional => quote! { #ident: #ident.flatten(), },
            FieldShape::OptionalNullable => quote! { #ident, },
        }
    });
    quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                struct __Visitor;
                impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_map<__A: ::serde::de::MapAccess<'de>>(self, mut __map: __A) -> ::std::result::Result<#name, __A::Error> {
                        #(#slots)*
                        let mut #rest = ::std::collections::BTreeMap::new();
                        while let ::std::option::Option::Some(__key) =
                            __map.next_key::<::matrix_api_runtime::__private::Key<'de>>()?
                        {
                            match __key.as_str() {
                                #(#arms)*
                                _ => {
                                    #rest.insert(__key.into_string(), __map.next_value::<#rest_value>()?);
                                }
                            }
                        }
                        ::std::result::Result::Ok(#name { #(#finish)* #rest })
                    }
                }
                deserializer.deserialize_map(__Visitor)
            }
        }
    }
}
