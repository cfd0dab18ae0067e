//! Matrix identifiers: the grammar of each `mx-*` string format, written once
//! from the spec's appendices, and the [`identifier_impls!`](crate::identifier_impls)
//! macro that the generated crate calls for every format listed in the
//! spec's `string-formats.yaml`.
//!
//! What is accepted (decoding is lenient where real servers are):
//! - user IDs (`mx-user-id`): `@localpart:server_name`, at most 255 bytes.
//!   The localpart may use the *historical* characters (any printable ASCII
//!   but `:`), which the spec requires clients and servers to accept;
//!   [`user_id_is_historical`] tells such IDs from ones a server may create
//!   today (`a-z 0-9 . _ = - / +`).
//! - room IDs (`mx-room-id`): `!opaque_id:server_name`, or `!opaque_id`
//!   alone (room version 12 and later), at most 255 bytes.
//! - event IDs (`mx-event-id`): `$opaque_id`, with `:server_name` in room
//!   versions 1 and 2, at most 255 bytes.
//! - room aliases (`mx-room-alias`): `#alias:server_name`, at most 255 bytes,
//!   the alias without NUL or `:`.
//! - server names (`mx-server-name`): a DNS name, an IPv4 address or a
//!   bracketed IPv6 address, optionally `:port` (1–5 digits).
//! - content URIs (`mx-mxc-uri`): `mxc://server_name/media_id`, the media ID
//!   of `A-Z a-z 0-9 _ -`.
//! - unpadded base64 (`mx-unpadded-base64`) and its URL-safe variant.
//!
//! Formats this runtime does not know are accepted as any string.

use std::fmt;

/// Why a string is not a valid identifier of its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdError {
    /// The format, as the spec names it (`mx-user-id`).
    pub format: &'static str,
    /// What is wrong, in a few words.
    pub reason: &'static str,
    /// The rejected value (shortened when long).
    pub value: String,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} `{}`: {}", title(self.format), self.value, self.reason)
    }
}

impl std::error::Error for IdError {}

/// The most bytes any identifier may have (user IDs, room IDs, event IDs, aliases).
pub const MAX_BYTES: usize = 255;

/// A format's name in the spec, how messages name it, and its grammar.
type Format = (&'static str, &'static str, fn(&str) -> Check);

/// Every format this runtime knows.
const FORMATS: [Format; 8] = [
    ("mx-user-id", "user ID", user_id),
    ("mx-room-id", "room ID", |v| sigil_id(v, '!', "must start with `!`")),
    ("mx-event-id", "event ID", |v| sigil_id(v, '$', "must start with `$`")),
    ("mx-room-alias", "room alias", room_alias),
    ("mx-server-name", "server name", server_name),
    ("mx-mxc-uri", "content URI", mxc_uri),
    ("mx-unpadded-base64", "unpadded base64", |v| base64(v, b"+/")),
    ("mx-urlsafe-unpadded-base64", "URL-safe unpadded base64", |v| {
        base64(v, b"-_")
    }),
];

/// Whether a decoding error is an identifier that failed its grammar (the
/// message [`IdError`] writes), so that servers can answer `M_INVALID_PARAM`
/// rather than `M_BAD_JSON`.
pub fn is_identifier_error(message: &str) -> bool {
    FORMATS
        .iter()
        .any(|(_, title, _)| message.contains(&format!("invalid {title} `")))
}

fn title(format: &str) -> &str {
    FORMATS
        .iter()
        .find(|(name, _, _)| *name == format)
        .map_or(format, |(_, title, _)| title)
}

/// Checks `value` against the grammar of `format` (formats this runtime
/// does not know accept any string).
pub fn validate(format: &'static str, value: &str) -> Result<(), IdError> {
    let Some((_, _, grammar)) = FORMATS.iter().find(|(name, _, _)| *name == format) else {
        return Ok(());
    };
    grammar(value).map_err(|reason| IdError {
        format,
        reason,
        value: shorten(value),
    })
}

fn shorten(value: &str) -> String {
    if value.len() <= 80 {
        return value.to_owned();
    }
    let mut end = 77;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

type Check = Result<(), &'static str>;

fn within_limit(value: &str) -> Check {
    if value.len() > MAX_BYTES {
        return Err("longer than 255 bytes");
    }
    Ok(())
}

fn user_id(value: &str) -> Check {
    within_limit(value)?;
    let rest = value.strip_prefix('@').ok_or("must start with `@`")?;
    let (local, server) = rest.split_once(':').ok_or("must contain `:` before the server name")?;
    if local.is_empty() {
        return Err("empty localpart");
    }
    if !local.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("the localpart may only contain printable ASCII characters");
    }
    server_name(server)
}

/// Whether a (valid) user ID uses characters that only historical user IDs
/// may have: anything beyond `a-z 0-9 . _ = - / +` in the localpart.
pub fn user_id_is_historical(value: &str) -> bool {
    !localpart(value)
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/' | b'+'))
}

/// The part between the sigil and the first `:` (`alice` of `@alice:example.org`).
pub fn localpart(value: &str) -> &str {
    let rest = value.get(1..).unwrap_or("");
    rest.split_once(':').map_or(rest, |(local, _)| local)
}

/// The part after the first `:`, if any (`example.org:8448` of `@alice:example.org:8448`).
pub fn server_part(value: &str) -> Option<&str> {
    value.get(1..)?.split_once(':').map(|(_, server)| server)
}

fn sigil_id(value: &str, sigil: char, missing: &'static str) -> Check {
    within_limit(value)?;
    let rest = value.strip_prefix(sigil).ok_or(missing)?;
    if rest.is_empty() || rest.starts_with(':') {
        return Err("empty opaque part");
    }
    if rest.contains('\0') {
        return Err("contains NUL");
    }
    match rest.split_once(':') {
        Some((_, server)) => server_name(server),
        None => Ok(()),
    }
}

fn room_alias(value: &str) -> Check {
    within_limit(value)?;
    let rest = value.strip_prefix('#').ok_or("must start with `#`")?;
    let (alias, server) = rest.split_once(':').ok_or("must contain `:` before the server name")?;
    if alias.is_empty() {
        return Err("empty alias");
    }
    if alias.contains('\0') {
        return Err("contains NUL");
    }
    server_name(server)
}

/// The grammar of a server name: `hostname [ ":" port ]`.
pub fn server_name(value: &str) -> Check {
    if value.is_empty() {
        return Err("empty server name");
    }
    let (host, port) = split_port(value);
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the port must be 1 to 5 digits");
        }
    }
    if let Some(inner) = host.strip_prefix('[') {
        let literal = inner.strip_suffix(']').ok_or("unclosed `[` in an IPv6 address")?;
        return literal
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "not an IPv6 address inside `[...]`");
    }
    if host.is_empty() || host.len() > 255 {
        return Err("the host name must be 1 to 255 characters");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("the host name may only contain letters, digits, `-` and `.`");
    }
    Ok(())
}

/// Splits `host:port` (an IPv6 literal keeps its brackets).
pub fn split_port(value: &str) -> (&str, Option<&str>) {
    if value.starts_with('[') {
        return match value.find(']') {
            Some(end) => match value[end + 1..].strip_prefix(':') {
                Some(port) => (&value[..=end], Some(port)),
                None => (value, None),
            },
            None => (value, None),
        };
    }
    match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (value, None),
    }
}

fn mxc_uri(value: &str) -> Check {
    let rest = value.strip_prefix("mxc://").ok_or("must start with `mxc://`")?;
    let (server, media) = rest.split_once('/').ok_or("must contain `/` before the media ID")?;
    server_name(server)?;
    if media.is_empty()
        || !media
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("the media ID must be 1 or more of `A-Z a-z 0-9 _ -`");
    }
    Ok(())
}

/// The server name and media ID of a content URI.
pub fn mxc_parts(value: &str) -> (&str, &str) {
    let rest = value.strip_prefix("mxc://").unwrap_or(value);
    rest.split_once('/').unwrap_or((rest, ""))
}

fn base64(value: &str, extra: &[u8; 2]) -> Check {
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b)) {
        return Err(if extra == b"+/" {
            "may only contain `A-Z a-z 0-9 + /` (no padding)"
        } else {
            "may only contain `A-Z a-z 0-9 - _` (no padding)"
        });
    }
    if value.len() % 4 == 1 {
        return Err("not a whole number of bytes");
    }
    Ok(())
}

/// Implements a string newtype for one identifier format, declared by the
/// caller as `pub struct Name(String)`: validated on every way in (`parse`,
/// `FromStr`, `TryFrom`, serde), with the format's parts.
///
/// ```
/// /// A user ID.
/// #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// pub struct UserId(String);
/// matrix_api_runtime::identifier_impls!(UserId, "mx-user-id");
///
/// let alice: UserId = "@alice:example.org".parse().unwrap();
/// assert_eq!(alice.localpart(), "alice");
/// assert_eq!(alice.server_name(), "example.org");
/// assert!("alice".parse::<UserId>().is_err());
/// let decoded: Result<UserId, _> = serde_json::from_str("\"not a user\"");
/// assert!(decoded.unwrap_err().to_string().contains("must start with `@`"));
/// ```
#[macro_export]
macro_rules! identifier_impls {
    ($name:ident, $format:tt) => {
        impl $name {
            /// The spec's name of this string format.
            pub const FORMAT: &'static str = $format;

            /// Checks `value` against the format's grammar.
            pub fn parse(
                value: impl ::std::convert::Into<::std::string::String>,
            ) -> ::std::result::Result<Self, $crate::id::IdError> {
                let value = value.into();
                $crate::id::validate($format, &value)?;
                ::std::result::Result::Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> ::std::string::String {
                self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::id::IdError;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl ::std::convert::TryFrom<&str> for $name {
            type Error = $crate::id::IdError;
            fn try_from(value: &str) -> ::std::result::Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl ::std::convert::TryFrom<::std::string::String> for $name {
            type Error = $crate::id::IdError;
            fn try_from(value: ::std::string::String) -> ::std::result::Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl ::std::convert::From<$name> for ::std::string::String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::cmp::PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl ::std::cmp::PartialEq<::std::string::String> for $name {
            fn eq(&self, other: &::std::string::String) -> bool {
                &self.0 == other
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = $crate::deserialize_string(deserializer)?;
                Self::parse(value).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }

        $crate::__identifier_parts!($name, $format);
    };
}

/// The accessors of one format's parts (see [`identifier_impls!`](crate::identifier_impls)).
#[doc(hidden)]
#[macro_export]
macro_rules! __identifier_parts {
    ($name:ident, "mx-user-id") => {
        impl $name {
            /// The user's name on their server (`alice` of `@alice:example.org`).
            pub fn localpart(&self) -> &str {
                $crate::id::localpart(&self.0)
            }
            /// The user's homeserver (`example.org`).
            pub fn server_name(&self) -> &str {
                $crate::id::server_part(&self.0).unwrap_or("")
            }
            /// Whether the localpart uses characters only historical user IDs
            /// may have (a server must not create such IDs today).
            pub fn is_historical(&self) -> bool {
                $crate::id::user_id_is_historical(&self.0)
            }
            /// `@localpart:server_name`.
            pub fn new(localpart: &str, server_name: &str) -> ::std::result::Result<Self, $crate::id::IdError> {
                Self::parse(::std::format!("@{localpart}:{server_name}"))
            }
        }
    };
    ($name:ident, "mx-room-alias") => {
        impl $name {
            /// The alias on its server (`room` of `#room:example.org`).
            pub fn alias(&self) -> &str {
                $crate::id::localpart(&self.0)
            }
            /// The server the alias belongs to.
            pub fn server_name(&self) -> &str {
                $crate::id::server_part(&self.0).unwrap_or("")
            }
        }
    };
    ($name:ident, "mx-room-id") => {
        impl $name {
            /// The server part of room IDs before room version 12 (none after).
            pub fn server_name(&self) -> ::std::option::Option<&str> {
                $crate::id::server_part(&self.0)
            }
        }
    };
    ($name:ident, "mx-event-id") => {
        impl $name {
            /// The server part of event IDs in room versions 1 and 2 (none after).
            pub fn server_name(&self) -> ::std::option::Option<&str> {
                $crate::id::server_part(&self.0)
            }
        }
    };
    ($name:ident, "mx-server-name") => {
        impl $name {
            /// The host: a DNS name, an IPv4 address or a bracketed IPv6 address.
            pub fn host(&self) -> &str {
                $crate::id::split_port(&self.0).0
            }
            /// The explicit port, if any.
            pub fn port(&self) -> ::std::option::Option<u16> {
                $crate::id::split_port(&self.0).1.and_then(|p| p.parse().ok())
            }
        }
    };
    ($name:ident, "mx-mxc-uri") => {
        impl $name {
            /// The server that holds the media.
            pub fn server_name(&self) -> &str {
                $crate::id::mxc_parts(&self.0).0
            }
            /// The media ID on that server.
            pub fn media_id(&self) -> &str {
                $crate::id::mxc_parts(&self.0).1
            }
            /// `mxc://server_name/media_id`.
            pub fn new(server_name: &str, media_id: &str) -> ::std::result::Result<Self, $crate::id::IdError> {
                Self::parse(::std::format!("mxc://{server_name}/{media_id}"))
            }
        }
    };
    ($name:ident, $other:tt) => {};
}

#[cfg(test)]
mod tests {
    use super::validate;

    fn ok(format: &'static str, values: &[&str]) {
        for v in values {
            assert!(
                validate(format, v).is_ok(),
                "{format} should accept {v:?}: {:?}",
                validate(format, v)
            );
        }
    }

    fn bad(format: &'static str, values: &[&str]) {
        for v in values {
            assert!(validate(format, v).is_err(), "{format} should reject {v:?}");
        }
    }

    #[test]
    fn user_ids() {
        ok(
            "mx-user-id",
            &[
                "@alice:example.com",
                "@a.b_c=d-e/f+g:example.com",
                "@bob:1.2.3.4:8448",
                "@carol:[2001:db8::1]:8448",
                "@dave:localhost",
            ],
        );
        // Historical IDs (any printable ASCII but `:` in the localpart) are accepted.
        ok(
            "mx-user-id",
            &["@Alice:example.com", "@!bang~:example.com", "@a#b$c:example.com"],
        );
        bad(
            "mx-user-id",
            &[
                "alice:example.com",
                "@alice",
                "@:example.com",
                "@al ice:example.com",
                "@alice:",
                "@alice:exa mple.com",
                "@alice:example.com:99999999",
                "@ålice:example.com",
            ],
        );
        let long = format!("@{}:example.com", "a".repeat(250));
        bad("mx-user-id", &[&long]);
        assert!(super::user_id_is_historical("@Alice:example.com"));
        assert!(!super::user_id_is_historical("@alice.b=c:example.com"));
    }

    #[test]
    fn room_and_event_ids() {
        ok(
            "mx-room-id",
            &["!abc:example.com", "!abc:localhost:8008", "!aGVsbG8gd29ybGQ"],
        );
        bad(
            "mx-room-id",
            &[
                "abc:example.com",
                "!",
                "!:example.com",
                "#abc:example.com",
                "!a:bad host",
            ],
        );
        ok(
            "mx-event-id",
            &[
                "$abc:example.com",
                "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk",
                "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
            ],
        );
        bad("mx-event-id", &["abc", "$", "!abc:example.com"]);
    }

    #[test]
    fn aliases_server_names_and_uris() {
        ok("mx-room-alias", &["#room:example.com", "#ü-ñ:example.com"]);
        bad(
            "mx-room-alias",
            &["room:example.com", "#:example.com", "#room", "#a\0b:example.com"],
        );
        ok(
            "mx-server-name",
            &[
                "example.com",
                "example.com:8448",
                "1.2.3.4",
                "[1234:5678::abcd]",
                "[::1]:8448",
                "localhost",
            ],
        );
        bad(
            "mx-server-name",
            &[
                "",
                "example.com:",
                "example.com:123456",
                "exa_mple.com",
                "[1234:5678::abcd",
                "[xyz]",
            ],
        );
        ok(
            "mx-mxc-uri",
            &["mxc://example.com/SEsfnsuifSDFSSEF", "mxc://localhost:8008/a_b-c"],
        );
        bad(
            "mx-mxc-uri",
            &[
                "http://example.com/abc",
                "mxc://example.com/",
                "mxc://example.com",
                "mxc://example.com/a/b",
            ],
        );
    }

    #[test]
    fn base64_alphabets() {
        ok("mx-unpadded-base64", &["", "YWJj", "YWI", "YQ", "a+b/"]);
        bad("mx-unpadded-base64", &["YQ==", "Y", "a-b_"]);
        ok("mx-urlsafe-unpadded-base64", &["a-b_", "YWJj"]);
        bad("mx-urlsafe-unpadded-base64", &["a+b/", "YQ=="]);
    }

    #[test]
    fn unknown_formats_accept_anything() {
        ok("mx-something-new", &["anything at all"]);
    }

    #[test]
    fn errors_name_the_format_and_the_problem() {
        let e = validate("mx-user-id", "not a user").unwrap_err();
        assert_eq!(e.to_string(), "invalid user ID `not a user`: must start with `@`");
    }
}
