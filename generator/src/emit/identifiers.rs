//! The identifier newtypes: one per `mx-*` string format, each a call of the
//! a string newtype whose impls come from the runtime's `identifier_impls!`
//! macro, which holds the grammar.

use super::doc::{doc_attrs, DocContext};
use crate::ir::Api;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn module(api: &Api, ctx: &DocContext) -> TokenStream {
    let items = api.identifiers.iter().map(|id| {
        let name = format_ident!("{}", id.name);
        let format = &id.format;
        let title = id.title.clone().unwrap_or_else(|| id.name.clone());
        let mut text = match &id.url {
            Some(url) if url.starts_with("http") => format!("{title} ([definition]({url}))."),
            Some(url) => format!("{title} ([spec]({}/{})).", ctx.site, url.trim_start_matches('/')),
            None => format!("{title}."),
        };
        text.push_str(&format!(
            "\n\nThe string format `{format}`: checked against its grammar when parsed or decoded \
             (see `matrix_api_runtime::id` for what is accepted)."
        ));
        if !id.listed {
            text.push_str(" The spec uses this format without listing it in `string-formats.yaml`.");
        }
        let docs = doc_attrs(&text);
        quote! {
            #docs
            #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
            pub struct #name(::std::string::String);
            ::matrix_api_runtime::identifier_impls!(#name, #format);
        }
    });
    quote! {
        //! Matrix identifiers, one type per string format of the spec
        //! (`string-formats.yaml`), used wherever a schema names that format.
        #(#items)*
    }
}
