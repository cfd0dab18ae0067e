//! Hand-written support code for the generated `matrix-api` crate.
//!
//! Features: `server` (the axum glue in [`server`]), `client` (the reqwest
//! client in [`client`]), `rustls` (TLS for the client).
//!
//! Generated code stays data and glue; behaviour that is the same for every
//! type (open string enums, `Option<Option<T>>` fields) lives here, written
//! and tested once.

pub mod checked;
#[cfg(feature = "client")]
pub mod client;
pub mod constant;
pub mod double_option;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod id;
pub mod number;
pub mod path;
#[cfg(feature = "server")]
mod rate_limit;
pub mod raw;
#[cfg(feature = "server")]
pub mod server;
pub mod signing;
pub mod strict;
mod text;
pub mod unmodeled;

pub use endpoint::{
    AuthScheme, ClientEndpoint, ClientResponse, Empty, Encoded, Endpoint, EndpointResponse, HttpResponse, Metadata,
    RawBody, ServerEndpoint,
};
pub use error::{ErrorCode, MatrixError};
pub use raw::Raw;

/// Something that does a job once per operation type: given to the
/// generated `visit_all` functions, which call [`EndpointVisitor::visit`]
/// for every operation of a family (tests, documentation, proxies).
pub trait EndpointVisitor {
    fn visit<E: Endpoint>(&mut self);
}

/// An [`EndpointVisitor`] for operations with both sides compiled (the
/// generated crate's features `client` and `server`): given to the generated
/// `visit_round_trips` functions (a client and a server of one program,
/// such as a loopback test).
pub trait RoundTripVisitor {
    fn visit<E: ClientEndpoint + ServerEndpoint>(&mut self);
}

/// A parsed `Authorization: X-Matrix origin=…,destination=…,key=…,sig=…` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XMatrixHeader {
    pub origin: String,
    pub destination: Option<String>,
    pub key: String,
    pub sig: String,
}

impl XMatrixHeader {
    /// Parses the parameters after `X-Matrix `. Values may be quoted.
    pub fn parse(params: &str) -> Option<XMatrixHeader> {
        let mut x = XMatrixHeader::default();
        for part in params.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "origin" => x.origin = v,
                "destination" => x.destination = Some(v),
                "key" => x.key = v,
                "sig" => x.sig = v,
                _ => {}
            }
        }
        (!x.origin.is_empty() && !x.key.is_empty() && !x.sig.is_empty()).then_some(x)
    }
}

/// Re-exports for generated code.
#[doc(hidden)]
pub mod __private {
    pub use crate::text::{next_field, required, Key};
    pub use bytes::Bytes;
}

/// Implements string conversion and serde for an open string enum: an enum
/// with one unit variant per value the spec lists and `Other(String)` for
/// every other value, so unknown values survive a round trip unchanged.
///
/// ```
/// #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// pub enum Membership { Join, Leave, Other(String) }
/// matrix_api_runtime::string_enum_impls!(Membership { Join => "join", Leave => "leave" });
///
/// assert_eq!(Membership::from("join"), Membership::Join);
/// assert_eq!(Membership::from("knock").as_str(), "knock");
/// ```
#[macro_export]
macro_rules! string_enum_impls {
    ($name:ident { $($variant:ident => $wire:literal),* $(,)? }) => {
        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(value) => value.as_str(),
                }
            }

            /// Whether the value is one the spec lists (not `Other`): a
            /// server uses it to refuse values a closed enum does not allow.
            pub fn is_listed(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                match value.as_str() {
                    $($wire => Self::$variant,)*
                    _ => Self::Other(value),
                }
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                $crate::deserialize_string(deserializer).map(Self::from)
            }
        }
    };
}

/// Deserializes a string, borrowed or owned.
pub fn deserialize_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer).map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    enum Kind {
        Text,
        Other(String),
    }
    crate::string_enum_impls!(Kind { Text => "m.text" });

    #[test]
    fn unknown_values_round_trip() {
        let k: Kind = serde_json::from_str("\"m.custom\"").unwrap();
        assert_eq!(k, Kind::Other("m.custom".into()));
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"m.custom\"");
        let t: Kind = serde_json::from_str("\"m.text\"").unwrap();
        assert_eq!(t, Kind::Text);
        assert_eq!(t.to_string(), "m.text");
        assert!(t.is_listed() && !k.is_listed());
    }

    #[test]
    fn non_strings_are_rejected() {
        assert!(serde_json::from_str::<Kind>("3").is_err());
    }
}
