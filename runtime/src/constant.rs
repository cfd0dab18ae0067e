//! Fixed string values (a single-value `enum` in the spec): unit structs
//! that encode as their value and decode only from it.

use std::fmt;

/// Decodes a string that must equal `expected`, without allocating.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D, expected: &'static str) -> Result<(), D::Error> {
    struct Exactly(&'static str);

    impl serde::de::Visitor<'_> for Exactly {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "the string `{}`", self.0)
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<(), E> {
            if value == self.0 {
                Ok(())
            } else {
                Err(E::custom(format_args!("expected `{}`, found `{value}`", self.0)))
            }
        }
    }

    deserializer.deserialize_str(Exactly(expected))
}

/// Implements a constant: `VALUE`, `as_str`, `Display`, serde (the value,
/// checked on decode), for a unit struct declared by the caller.
///
/// ```
/// #[derive(Clone, Copy, Debug, Default, PartialEq)]
/// pub struct MText;
/// matrix_api_runtime::constant_impls!(MText, "m.text");
///
/// assert_eq!(serde_json::to_string(&MText).unwrap(), "\"m.text\"");
/// assert!(serde_json::from_str::<MText>("\"m.text\"").is_ok());
/// let err = serde_json::from_str::<MText>("\"m.notice\"").unwrap_err();
/// assert!(err.to_string().contains("expected `m.text`, found `m.notice`"));
/// ```
#[macro_export]
macro_rules! constant_impls {
    ($name:ident, $value:literal) => {
        impl $name {
            /// The value.
            pub const VALUE: &'static str = $value;

            pub fn as_str(&self) -> &'static str {
                $value
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                $value
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($value)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str($value)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                $crate::constant::deserialize(deserializer, $value).map(|()| $name)
            }
        }
    };
}
