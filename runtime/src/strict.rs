//! JSON that means one thing: a body whose object repeats a key is read
//! differently by different parsers (serde keeps the last value, others the
//! first), which is how a request that one component checked says something
//! else to the next. Canonical JSON has no repeated keys; bodies with them
//! are refused before anything reads them.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The first key an object of `bytes` repeats, with the path to the object
/// (`content.body`), or `None`. Bytes that are not JSON are not this
/// function's concern (`None`; the decoder reports them).
pub fn repeated_key(bytes: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match (Unique { path: String::new() }).deserialize(&mut de) {
        Err(e) => {
            let text = e.to_string();
            text.strip_prefix(MARK)
                .map(|rest| rest.split(" at line").next().unwrap_or(rest).to_owned())
        }
        Ok(()) => None,
    }
}

const MARK: &str = "repeated key: ";

struct Unique {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Unique {
                path: format!("{}[{i}]", self.path),
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<std::borrow::Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let path = if self.path.is_empty() {
                key.to_string()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                return Err(A::Error::custom(format!("{MARK}`{path}`")));
            }
            map.next_value_seed(Unique { path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::repeated_key;

    #[test]
    fn finds_a_repeated_key_at_any_depth() {
        assert_eq!(repeated_key(br#"{"a":1,"b":2}"#), None);
        assert_eq!(repeated_key(br#"{"a":1,"a":2}"#).as_deref(), Some("`a`"));
        assert_eq!(
            repeated_key(br#"{"content":{"body":"x","body":"y"}}"#).as_deref(),
            Some("`content.body`")
        );
        assert_eq!(repeated_key(br#"[{"k":1},{"k":2,"k":3}]"#).as_deref(), Some("`[1].k`"));
        // Escapes are compared as the keys they spell.
        assert_eq!(repeated_key(br#"{"a":1,"\u0061":2}"#).as_deref(), Some("`a`"));
        assert_eq!(repeated_key(b"{not json"), None);
    }
}
