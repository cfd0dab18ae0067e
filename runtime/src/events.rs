//! What the generated event enums share: the trait that ties a content type
//! to its event type, and reading the few fields that decide which variant a
//! JSON event is (its `type`, whether it has a `state_key`, a `msgtype`)
//! without decoding the rest.

use crate::text::Key;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

mod scan;

/// The content of one event type.
pub trait EventContent {
    /// The event `type` this content travels in (`m.room.message`).
    const EVENT_TYPE: &'static str;
}

/// The fields that pick an event's variant.
#[derive(Debug, Default)]
pub struct EventHead<'a> {
    /// The `type`, if the event has one (borrowed from the JSON text where it can be).
    pub event_type: Option<Cow<'a, str>>,
    /// Whether a `state_key` is present (state events have one, possibly empty).
    pub has_state_key: bool,
    /// The value of the one extra string field asked for (`msgtype`, `method`).
    pub discriminator: Option<Cow<'a, str>>,
    /// Whether `unsigned.redacted_because` is present: a redacted event.
    pub redacted: bool,
}

/// Reads `type`, the presence of `state_key` and the string field
/// `discriminator` (if given) of a JSON object, skipping everything else.
///
/// Text a generated enum captured is valid JSON, and a byte scanner reads
/// its head about three times faster than serde's visitor; where the scanner
/// meets anything it does not expect (escaped keys, malformed text) serde
/// reads the head instead, so the answer and its errors are serde's.
pub fn head<'a>(json: &'a str, discriminator: Option<&'static str>) -> Result<EventHead<'a>, serde_json::Error> {
    match scan::head(json, discriminator) {
        Some(head) => Ok(head),
        None => serde_head(json, discriminator),
    }
}

/// [`head`] through serde: general, and the reference the scanner is tested against.
fn serde_head<'a>(json: &'a str, discriminator: Option<&'static str>) -> Result<EventHead<'a>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    de::Deserializer::deserialize_map(&mut deserializer, HeadVisitor { discriminator })
}

struct HeadVisitor {
    discriminator: Option<&'static str>,
}

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = EventHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventHead<'de>, A::Error> {
        let mut head = EventHead::default();
        // Keys borrowed from the text: `Cow<str>` would allocate every one.
        while let Some(Key(key)) = map.next_key()? {
            if key == "type" {
                head.event_type = Some(map.next_value::<Key<'de>>()?.0);
            } else if key == "unsigned" {
                head.redacted = map.next_value::<RedactedProbe>()?.0;
            } else if key == "state_key" {
                head.has_state_key = true;
                map.next_value::<IgnoredAny>()?;
            } else if Some(key.as_ref()) == self.discriminator {
                head.discriminator = Some(map.next_value::<Key<'de>>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(head)
    }
}

/// Whether an `unsigned` object has a `redacted_because` (anything else,
/// `null` included, is not redacted).
struct RedactedProbe(bool);

impl<'de> serde::Deserialize<'de> for RedactedProbe {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RedactedProbe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("unsigned data")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RedactedProbe, A::Error> {
                let mut redacted = false;
                while let Some(Key(key)) = map.next_key()? {
                    if key == "redacted_because" {
                        redacted |= map.next_value::<Option<IgnoredAny>>()?.is_some();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RedactedProbe(redacted))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RedactedProbe, E> {
                Ok(RedactedProbe(false))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RedactedProbe, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RedactedProbe(false))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Decodes the JSON text of a variant the head has chosen.
pub fn decode<T: DeserializeOwned, E: de::Error>(json: &str) -> Result<T, E> {
    crate::checked::from_checked_str(json).map_err(E::custom)
}

/// Reads the JSON text of a value being decoded (the first step of every
/// generated enum's `Deserialize`): borrowed from the input when the input
/// is text in memory (`from_str`, `from_slice`, `Raw::deserialize`), copied
/// otherwise (`from_reader`, `from_value`).
pub fn capture<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Captured<'de>, D::Error> {
    // serde_json hands raw JSON text to a newtype struct of this name, as a
    // map of one entry whose value is the text: what its own `RawValue`
    // impls ask for; accepting both borrowed and owned text is what they
    // cannot do together.
    use crate::checked::RAW_VALUE_TOKEN;
    struct CaptureVisitor;
    impl<'de> Visitor<'de> for CaptureVisitor {
        type Value = Captured<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any valid JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Captured<'de>, A::Error> {
            if map.next_key::<IgnoredAny>()?.is_none() {
                return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
            }
            map.next_value::<RawText<'de>>().map(|text| text.0)
        }
    }
    struct RawText<'de>(Captured<'de>);
    impl<'de> serde::Deserialize<'de> for RawText<'de> {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct TextVisitor;
            impl<'de> Visitor<'de> for TextVisitor {
                type Value = RawText<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("raw JSON text")
                }
                fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<RawText<'de>, E> {
                    Ok(RawText(Captured::Borrowed(text)))
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<RawText<'de>, E> {
                    RawValue::from_string(text.to_owned())
                        .map(|raw| RawText(Captured::Owned(raw)))
                        .map_err(E::custom)
                }
            }
            deserializer.deserialize_str(TextVisitor)
        }
    }
    deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, CaptureVisitor)
}

/// The JSON text of one value (valid JSON: serde_json checked it while
/// reading), borrowed from the input where it could be.
pub enum Captured<'de> {
    Borrowed(&'de str),
    Owned(Box<RawValue>),
}

impl Captured<'_> {
    /// The text as an owned value (a copy only when it was borrowed).
    pub fn into_owned(self) -> Box<RawValue> {
        match self {
            // Checked again here, as `RawValue` offers no unchecked
            // constructor; only unknown event types take this path.
            Captured::Borrowed(text) => {
                RawValue::from_string(text.to_owned()).expect("serde_json checked this JSON text")
            }
            Captured::Owned(raw) => raw,
        }
    }
}

impl std::ops::Deref for Captured<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Captured::Borrowed(text) => text,
            Captured::Owned(raw) => raw.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::head;
    use serde_json::value::RawValue;

    #[test]
    fn reads_type_state_key_and_discriminator_only() {
        let json = RawValue::from_string(
            r#"{"content":{"msgtype":"m.text","body":"hi"},"type":"m.room.message","state_key":"","x":[1,{"type":"no"}]}"#
                .to_owned(),
        )
        .unwrap();
        let h = head(json.get(), None).unwrap();
        assert_eq!(h.event_type.as_deref(), Some("m.room.message"));
        assert!(h.has_state_key);
        assert!(!h.redacted);
        let redacted = RawValue::from_string(
            r#"{"type":"m.room.message","unsigned":{"age":1,"redacted_because":{"type":"m.room.redaction"}}}"#
                .to_owned(),
        )
        .unwrap();
        assert!(head(redacted.get(), None).unwrap().redacted);
        let not = RawValue::from_string(r#"{"unsigned":{"redacted_because":null}}"#.to_owned()).unwrap();
        assert!(!head(not.get(), None).unwrap().redacted);
        let content = RawValue::from_string(r#"{"body":"hi","msgtype":"m.te\u0078t"}"#.to_owned()).unwrap();
        let h = head(content.get(), Some("msgtype")).unwrap();
        assert_eq!(h.discriminator.as_deref(), Some("m.text"));
        assert_eq!(h.event_type, None);
        assert!(!h.has_state_key);
    }

    /// A value that keeps its JSON text, as the generated enums do.
    struct Text(String, bool);
    impl<'de> serde::Deserialize<'de> for Text {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let captured = super::capture(d)?;
            let borrowed = matches!(captured, super::Captured::Borrowed(_));
            Ok(Text(captured.to_string(), borrowed))
        }
    }

    #[test]
    fn capture_borrows_from_text_and_copies_from_values() {
        let json = r#"{"type":"m.x","content":{"a":[1,2]}}"#;
        let Text(text, borrowed) = serde_json::from_str(json).unwrap();
        assert_eq!((text.as_str(), borrowed), (json, true));
        // A `Value` re-encodes its (sorted) object: the same JSON, copied.
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let Text(text, borrowed) = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            (serde_json::from_str::<serde_json::Value>(&text).unwrap(), borrowed),
            (value, false)
        );
        let Text(text, borrowed) = serde_json::from_reader(json.as_bytes()).unwrap();
        assert_eq!((text.as_str(), borrowed), (json, false));
        let captured = super::capture(&mut serde_json::Deserializer::from_str(json)).unwrap();
        assert_eq!(captured.into_owned().get(), json);
    }

    #[test]
    fn rejects_non_objects() {
        let json = RawValue::from_string("[1]".to_owned()).unwrap();
        assert!(head(json.get(), None).is_err());
    }
}
