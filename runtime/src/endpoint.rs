//! What every generated operation implements: its metadata, how its
//! request splits into path, query, headers and body, and how its response
//! maps to an HTTP status and body. The server glue and the client are
//! written once against these traits.

use crate::error::MatrixError;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// The credentials an operation accepts (from its `security`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    /// No credentials.
    None,
    /// A user's (or an application service's) access token, required.
    AccessToken,
    /// An access token is accepted but not required.
    AccessTokenOptional,
    /// Federation: an `Authorization: X-Matrix …` signed request.
    ServerSignature,
    /// An identity-server operation that a user calls with an access token
    /// and a homeserver may call with a signed request instead, addressed
    /// as [`crate::signing::Audience::IdentityServer`].
    AccessTokenOrServerSignature,
}

/// Constants describing an operation.
#[derive(Clone, Copy, Debug)]
pub struct Metadata {
    pub operation_id: &'static str,
    pub method: &'static str,
    /// The path template, with `{param}` placeholders, exactly as the spec writes it.
    pub path: &'static str,
    pub auth: AuthScheme,
    /// Documented with a 429 response.
    pub rate_limited: bool,
    pub deprecated: bool,
    pub added_in: Option<&'static str>,
    pub changed_in: &'static [&'static str],
    /// Names of the path parameters, in order.
    pub path_params: &'static [&'static str],
    /// Names of the query parameters (to tell apart operations documented
    /// twice on one method and path).
    pub query_params: &'static [&'static str],
    /// Names of the header parameters (none: the server reads no header
    /// into the typed request).
    pub header_params: &'static [&'static str],
}

/// An encoded body: content type and bytes, or nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded {
    /// Borrowed for the types an encoder names itself (`application/json`).
    pub content_type: Option<std::borrow::Cow<'static, str>>,
    pub bytes: Bytes,
}

/// A non-JSON body (media uploads and downloads, federation multipart media).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RawBody {
    pub content_type: Option<String>,
    /// `Content-Disposition` of a download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    pub data: Vec<u8>,
}

/// One operation's request. Implemented by every generated `Request`.
///
/// What travels on the wire is split by side, so that a program compiles
/// only the direction it uses: [`ClientEndpoint`] (feature `client` of the
/// generated crate) encodes requests and decodes responses,
/// [`ServerEndpoint`] (feature `server`) decodes requests. Every response
/// can be encoded ([`EndpointResponse::into_http`]): servers send them, and
/// clients use it to check what a decoded response kept.
pub trait Endpoint: Sized + Send + Debug + PartialEq + 'static {
    const METADATA: Metadata;
    type Path: Send;
    type Query: Send;
    type Headers: Send;
    type Body: Send;
    type Response: EndpointResponse;

    fn from_parts(path: Self::Path, query: Self::Query, headers: Self::Headers, body: Self::Body) -> Self;
    fn into_parts(self) -> (Self::Path, Self::Query, Self::Headers, Self::Body);
}

/// The server's half of an operation: its request read from the wire.
pub trait ServerEndpoint: Endpoint<Path: DeserializeOwned, Query: DeserializeOwned, Headers: DeserializeOwned> {
    fn decode_body(content_type: Option<&str>, bytes: Bytes) -> Result<Self::Body, MatrixError>;
}

/// The client's half of an operation: its request written to the wire,
/// its response read back.
pub trait ClientEndpoint:
    Endpoint<Path: Serialize, Query: Serialize, Headers: Serialize, Response: ClientResponse>
{
    fn encode_body(body: &Self::Body) -> Result<Encoded, String>;
}

/// An HTTP response as the glue sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Encoded,
}

/// One operation's successful response: an enum with a case per documented
/// non-error status. Errors travel as [`MatrixError`].
pub trait EndpointResponse: Sized + Send + Debug + PartialEq + Clone + 'static {
    /// Error statuses whose documented body is not a Matrix error (the
    /// user-interactive auth 401): they decode into a case of the response.
    const TYPED_ERRORS: &'static [u16] = &[];
    fn into_http(self) -> Result<HttpResponse, String>;
}

/// A response the client reads from the wire.
pub trait ClientResponse: EndpointResponse {
    fn from_http(response: HttpResponse) -> Result<Self, String>;
}

/// Body codecs the generated code calls.
pub mod body {
    use super::*;

    /// Decodes a JSON body: bytes that are not JSON are `M_NOT_JSON`, JSON
    /// of the wrong shape `M_BAD_JSON` (naming the field), and so is an
    /// object that repeats a key ([`crate::strict`]). An empty body reads as
    /// `{}`, so optional bodies may be left out.
    ///
    /// The [`Raw`](crate::Raw) values in it share `bytes` rather than copy.
    pub fn json<T: DeserializeOwned>(body: &Bytes) -> Result<T, MatrixError> {
        let empty = Bytes::from_static(b"{}");
        let bytes: &Bytes = if body.iter().all(u8::is_ascii_whitespace) {
            &empty
        } else {
            body
        };
        if let Some(key) = crate::strict::repeated_key(bytes) {
            return Err(MatrixError::bad_json(format!("the body repeats the key {key}")));
        }
        // One pass in the common case; on failure, a second tells bytes that
        // are not JSON from JSON of the wrong shape.
        crate::raw::with_shared_input(bytes, || serde_json::from_slice(bytes)).map_err(|shape_error| {
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(syntax_error) => MatrixError::not_json(syntax_error),
                // A value that is JSON of the right type but not a valid identifier.
                Ok(_) if crate::id::is_identifier_error(&shape_error.to_string()) => {
                    MatrixError::invalid_param(shape_error)
                }
                Ok(_) => MatrixError::bad_json(shape_error),
            }
        })
    }

    /// [`json`] for a body the spec marks required: an empty body is
    /// `M_NOT_JSON`, not `{}` (an empty `PUT /send` is not an event with
    /// empty content).
    pub fn json_required<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, MatrixError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(MatrixError::not_json(
                "the body is empty, and this operation requires one",
            ));
        }
        json(bytes)
    }

    pub fn to_json<T: Serialize>(value: &T) -> Result<Encoded, String> {
        let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        Ok(Encoded {
            content_type: Some(std::borrow::Cow::Borrowed("application/json")),
            bytes: bytes.into(),
        })
    }

    pub fn raw(content_type: Option<&str>, bytes: Bytes) -> RawBody {
        RawBody {
            content_type: content_type.map(str::to_owned),
            content_disposition: None,
            data: bytes.to_vec(),
        }
    }

    pub fn from_raw(body: &RawBody) -> Encoded {
        Encoded {
            content_type: body.content_type.clone().map(std::borrow::Cow::Owned),
            bytes: Bytes::from(body.data.clone()),
        }
    }

    /// Decodes a JSON response body (for the client).
    ///
    /// The [`Raw`](crate::Raw) values in it share `bytes` rather than copy.
    pub fn json_response<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return serde_json::from_slice(b"{}").map_err(|e| e.to_string());
        }
        crate::raw::with_shared_input(bytes, || serde_json::from_slice(bytes)).map_err(|e| e.to_string())
    }

    pub fn raw_response(response: &HttpResponse) -> RawBody {
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        RawBody {
            content_type: response
                .body
                .content_type
                .as_deref()
                .map(str::to_owned)
                .or_else(|| header("content-type")),
            content_disposition: header("content-disposition"),
            data: response.body.bytes.to_vec(),
        }
    }

    /// The sandbox a served file (a download, a thumbnail: bytes someone
    /// uploaded) is given, as the spec's content repository module
    /// recommends: never sniffed into another type, never run as a page.
    pub const RAW_SANDBOX: [(&str, &str); 3] = [
        ("x-content-type-options", "nosniff"),
        (
            "content-security-policy",
            "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';",
        ),
        ("cross-origin-resource-policy", "cross-origin"),
    ];

    /// Response headers of a [`RawBody`]: its content disposition, and the
    /// [`RAW_SANDBOX`] headers.
    pub fn raw_headers(body: &RawBody) -> Vec<(String, String)> {
        body.content_disposition
            .iter()
            .map(|d| ("content-disposition".to_owned(), d.clone()))
            .chain(RAW_SANDBOX.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .collect()
    }
}

/// Headers to and from the typed `Headers` struct of an operation.
/// A text value (a path segment or a header) as a serde deserializer: a
/// string, also where an `Option` or a newtype around one is expected.
/// Decoding through it avoids building a JSON value per request.
#[derive(Clone, Copy)]
pub(crate) struct Text<'a>(pub &'a str);

impl<'de, 'a> serde::de::IntoDeserializer<'de, serde::de::value::Error> for Text<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de, 'a> serde::Deserializer<'de> for Text<'a> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_str(self.0)
    }
    fn deserialize_option<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        serde::de::value::StrDeserializer::<Self::Error>::new(self.0).deserialize_enum(name, variants, visitor)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

pub mod headers {
    use serde_json::Value;

    /// A typed headers struct from `(name, value)` pairs (names compared
    /// case-insensitively; the struct's field names are lowercase).
    pub fn decode<T: serde::de::DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, String> {
        use serde::de::value::{Error, MapDeserializer};
        // A header sent twice counts once (the last), as in a map.
        let mut lower: Vec<(String, &str)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let k = k.to_ascii_lowercase();
            match lower.iter_mut().find(|(seen, _)| *seen == k) {
                Some(entry) => entry.1 = v,
                None => lower.push((k, v)),
            }
        }
        let pairs = lower.iter().map(|(k, v)| (k.as_str(), super::Text(v)));
        T::deserialize(MapDeserializer::<_, Error>::new(pairs)).map_err(|e| e.to_string())
    }

    pub fn encode<T: serde::Serialize>(headers: &T) -> Result<Vec<(String, String)>, String> {
        let value = serde_json::to_value(headers).map_err(|e| e.to_string())?;
        Ok(value
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k.clone(), s.clone())),
                        Value::Null => None,
                        other => Some((k.clone(), other.to_string())),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Nothing: the body of an operation without one, or of a response status without content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
