//! The constant types: one unit struct per string value that the spec fixes
//! with a single-value `enum` (an event `type`, a `msgtype`, a login
//! `type`). Encoding writes the value; decoding checks it.

use super::doc::doc_attrs;
use crate::ir::Api;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn module(api: &Api) -> TokenStream {
    let items = api.constants.iter().map(|(value, name)| {
        let name = format_ident!("{}", name);
        let docs = doc_attrs(&format!(
            "The string `{value}`, the only value the spec allows where this type is used."
        ));
        quote! {
            #docs
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
            pub struct #name;
            ::matrix_api_runtime::constant_impls!(#name, #value);
        }
    });
    quote! {
        //! Fixed string values: where a schema allows exactly one value, the field
        //! has one of these types, so it cannot hold anything else, is written
        //! without being spelled out, and is checked when decoding.
        #(#items)*
    }
}
