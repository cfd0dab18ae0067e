//! Decoding JSON text that serde_json has already checked (the text of a
//! [`Raw`](crate::Raw), the text a generated event enum captured).
//!
//! Every generated event enum starts by asking for its own JSON text
//! (`events::capture`), which serde_json answers by skipping the whole value
//! once to find where it ends. When the input *is* one checked value, that
//! pass is wasted: [`from_checked_str`] hands the text over as it is and
//! leaves every other request to serde_json, so a `Raw` event decodes with
//! one pass over its bytes fewer.

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

/// The name serde_json's `RawValue` asks for: a newtype struct of this name
/// is answered with a map of one entry whose value is the JSON text.
pub(crate) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Decodes `text`, which must be exactly one JSON value as serde_json wrote
/// or checked it (surrounding whitespace allowed). Anything else is decoded
/// as `serde_json::from_str` would, with its errors.
pub fn from_checked_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    T::deserialize(Checked { text })
}

/// A deserializer over checked JSON text.
struct Checked<'a> {
    text: &'a str,
}

impl<'a> Checked<'a> {
    /// Runs one request on a serde_json deserializer over the text, and
    /// checks that nothing follows the value (as `from_str` does).
    fn with_json<T>(
        self,
        request: impl FnOnce(&mut serde_json::Deserializer<serde_json::de::StrRead<'a>>) -> serde_json::Result<T>,
    ) -> serde_json::Result<T> {
        let mut json = serde_json::Deserializer::from_str(self.text);
        let value = request(&mut json)?;
        json.end()?;
        Ok(value)
    }
}

macro_rules! forward_to_json {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {
        $(
            fn $method<V: Visitor<'a>>(self, $($arg: $ty,)* visitor: V) -> serde_json::Result<V::Value> {
                self.with_json(|json| de::Deserializer::$method(json, $($arg,)* visitor))
            }
        )*
    };
}

impl<'a> de::Deserializer<'a> for Checked<'a> {
    type Error = serde_json::Error;

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        if name == RAW_VALUE_TOKEN {
            return visitor.visit_map(RawTextMap {
                text: Some(self.text.trim_matches(|c| matches!(c, ' ' | '\n' | '\r' | '\t'))),
            });
        }
        self.with_json(|json| de::Deserializer::deserialize_newtype_struct(json, name, visitor))
    }

    forward_to_json! {
        deserialize_any()
        deserialize_bool()
        deserialize_i8()
        deserialize_i16()
        deserialize_i32()
        deserialize_i64()
        deserialize_i128()
        deserialize_u8()
        deserialize_u16()
        deserialize_u32()
        deserialize_u64()
        deserialize_u128()
        deserialize_f32()
        deserialize_f64()
        deserialize_char()
        deserialize_str()
        deserialize_string()
        deserialize_bytes()
        deserialize_byte_buf()
        deserialize_option()
        deserialize_unit()
        deserialize_unit_struct(name: &'static str)
        deserialize_seq()
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier()
        deserialize_ignored_any()
    }
}

/// The one-entry map serde_json's `RawValue` protocol expects: the token as
/// key, the text as a borrowed string value.
struct RawTextMap<'a> {
    text: Option<&'a str>,
}

impl<'a> MapAccess<'a> for RawTextMap<'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> serde_json::Result<Option<K::Value>> {
        if self.text.is_none() {
            return Ok(None);
        }
        seed.deserialize(TokenKey).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> serde_json::Result<V::Value> {
        let text = self
            .text
            .take()
            .ok_or_else(|| <serde_json::Error as de::Error>::custom("raw JSON text read twice"))?;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(text))
    }
}

/// The key of [`RawTextMap`]: the token, as a string or an identifier.
struct TokenKey;

impl<'de> de::Deserializer<'de> for TokenKey {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_borrowed_str(RAW_VALUE_TOKEN)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

#[cfg(test)]
mod tests {
    use super::from_checked_str;
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;

    #[test]
    fn raw_text_is_handed_over_whole() {
        let raw: Box<RawValue> = from_checked_str(r#" {"a": [1, 2]} "#).unwrap();
        assert_eq!(raw.get(), r#"{"a": [1, 2]}"#);
        let text = r#"{"a":"\u00e9"}"#;
        let borrowed: &RawValue = <&RawValue as serde::Deserialize>::deserialize(super::Checked { text }).unwrap();
        assert_eq!(borrowed.get(), text);
    }

    #[test]
    fn everything_else_is_serde_json() {
        let map: BTreeMap<String, Vec<u8>> = from_checked_str(r#"{"a":[1,2]}"#).unwrap();
        assert_eq!(map["a"], [1, 2]);
        assert_eq!(from_checked_str::<Option<u8>>("null").unwrap(), None);
        let err = from_checked_str::<u8>("1 2").unwrap_err();
        assert!(err.to_string().contains("trailing characters"), "{err}");
        assert!(from_checked_str::<u8>("\"x\"").is_err());
    }
}
