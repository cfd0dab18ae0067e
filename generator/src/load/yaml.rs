//! YAML (and JSON, which is YAML) into `serde_json::Value`.
//!
//! Mapping keys are kept as the text that was written: the spec has unquoted
//! numeric keys (`200:` for status codes, `1.10:` in `x-changedInMatrixVersion`)
//! that a plain YAML → JSON conversion would turn into numbers, or worse, into
//! `1.1`.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses one YAML document. The error text includes line and column.
pub fn parse(text: &str) -> Result<Value, String> {
    let Node(value) = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    Ok(value)
}

/// A mapping key: always read as its source text, whatever it looks like.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Key)
    }
}

struct Node(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(v)
            .map(|n| Node(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("{v} is not a JSON number")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(Node(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut object = Map::new();
        while let Some((Key(k), Node(v))) = map.next_entry()? {
            object.insert(k, v);
        }
        Ok(Node(Value::Object(object)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_keys_keep_their_text() {
        let v = parse("a:\n  1.10: x\n  200: y\nb: 1.5\n").unwrap();
        let a = v["a"].as_object().unwrap();
        assert_eq!(a.keys().collect::<Vec<_>>(), ["1.10", "200"]);
        assert_eq!(v["b"], serde_json::json!(1.5));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }
}
