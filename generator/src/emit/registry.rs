//! The example registry: decode-and-re-encode by type key, so tests (and
//! users) can check JSON against a type chosen at run time.

use super::types::{rust_type, ty_key};
use crate::family::Module;
use crate::ir::{ty_refs, Api, Ty};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// The type expressions the registry covers: every type an example or event
/// is checked against.
pub fn registry_types(api: &Api) -> BTreeMap<String, Ty> {
    let mut out = BTreeMap::new();
    for ty in api
        .examples
        .iter()
        .map(|e| &e.ty)
        .chain(api.events.iter().map(|e| &e.ty))
    {
        out.entry(ty_key(api, ty)).or_insert_with(|| ty.clone());
    }
    out
}

pub fn registry(api: &Api) -> TokenStream {
    let arms = registry_types(api).into_iter().map(|(key, ty)| {
        let modules: BTreeSet<Module> = ty_refs(&ty).into_iter().map(|id| api.ty(id).module).collect();
        let features: Vec<&str> = modules.iter().map(|m| m.feature()).collect();
        let cfg = match features.as_slice() {
            [] => quote! {},
            [one] => quote! { #[cfg(feature = #one)] },
            many => quote! { #[cfg(all(#(feature = #many),*))] },
        };
        let rt = rust_type(api, &ty);
        quote! {
            #cfg
            #key => ::std::option::Option::Some(round_trip_as::<#rt>(value)),
        }
    });
    quote! {
        //! Decoding by type name, for checking JSON against a type chosen at run time.
        //!
        //! Keys are type expressions such as `client_server::LoginRequest` or
        //! `Vec<events::RoomMessageEvent>`; only the modules whose features are
        //! enabled are present.

        /// What [`round_trip`] returns for a known type: the re-encoded JSON, or
        /// why decoding failed.
        pub type RoundTrip = ::std::result::Result<::serde_json::Value, ::serde_json::Error>;

        /// Decodes `value` as the type named by `type_key` and encodes it again.
        /// `None` when the key is unknown (or its feature is off).
        pub fn round_trip(type_key: &str, value: &::serde_json::Value) -> ::std::option::Option<RoundTrip> {
            match type_key {
                #(#arms)*
                _ => ::std::option::Option::None,
            }
        }

        fn round_trip_as<T>(value: &::serde_json::Value) -> ::std::result::Result<::serde_json::Value, ::serde_json::Error>
        where
            T: ::serde::Serialize + ::serde::de::DeserializeOwned,
        {
            let typed: T = ::serde_json::from_value(value.clone())?;
            ::serde_json::to_value(&typed)
        }
    }
}
