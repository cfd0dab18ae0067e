//! What the generated event enums share: the trait that ties a content type
//! to its event type, and reading the few fields that decide which variant a
//! JSON event is (its `type`, whether it has a `state_key`, a `msgtype`)
//! without decoding the rest.

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

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
pub fn head<'a>(json: &'a RawValue, discriminator: Option<&'static str>) -> Result<EventHead<'a>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json.get());
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
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "type" {
                head.event_type = Some(map.next_value::<BorrowedText<'de>>()?.0);
            } else if key == "unsigned" {
                head.redacted = map.next_value::<RedactedProbe>()?.0;
            } else if key == "state_key" {
                head.has_state_key = true;
                map.next_value::<IgnoredAny>()?;
            } else if Some(key.as_ref()) == self.discriminator {
                head.discriminator = Some(map.next_value::<BorrowedText<'de>>()?.0);
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
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
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

/// A string, borrowed from the input when it has no escapes.
struct BorrowedText<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for BorrowedText<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BorrowedText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedText(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedText(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowedText(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Decodes the JSON text of a variant the head has chosen.
pub fn decode<T: DeserializeOwned, E: de::Error>(json: &RawValue) -> Result<T, E> {
    serde_json::from_str(json.get()).map_err(E::custom)
}

/// Reads the JSON text of a value being decoded (the first step of every
/// generated enum's `Deserialize`).
pub fn capture<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Box<RawValue>, D::Error> {
    serde::Deserialize::deserialize(deserializer)
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
        let h = head(&json, None).unwrap();
        assert_eq!(h.event_type.as_deref(), Some("m.room.message"));
        assert!(h.has_state_key);
        assert!(!h.redacted);
        let redacted = RawValue::from_string(
            r#"{"type":"m.room.message","unsigned":{"age":1,"redacted_because":{"type":"m.room.redaction"}}}"#
                .to_owned(),
        )
        .unwrap();
        assert!(head(&redacted, None).unwrap().redacted);
        let not = RawValue::from_string(r#"{"unsigned":{"redacted_because":null}}"#.to_owned()).unwrap();
        assert!(!head(&not, None).unwrap().redacted);
        let content = RawValue::from_string(r#"{"body":"hi","msgtype":"m.te\u0078t"}"#.to_owned()).unwrap();
        let h = head(&content, Some("msgtype")).unwrap();
        assert_eq!(h.discriminator.as_deref(), Some("m.text"));
        assert_eq!(h.event_type, None);
        assert!(!h.has_state_key);
    }

    #[test]
    fn rejects_non_objects() {
        let json = RawValue::from_string("[1]".to_owned()).unwrap();
        assert!(head(&json, None).is_err());
    }
}
