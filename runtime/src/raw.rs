//! [`Raw<T>`]: the JSON of a value, kept as received and decoded on demand.
//!
//! Event lists in large responses (`/sync`, `/messages`) hold their events
//! as `Raw`, so that one malformed event never fails a whole response, the
//! bytes of an event are forwarded unchanged, and decoding is paid only for
//! the events that are read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;
use std::marker::PhantomData;

/// The JSON text of a `T`, not yet decoded.
#[repr(transparent)]
pub struct Raw<T> {
    json: Box<RawValue>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Raw<T> {
    /// Wraps JSON text (checked to be JSON, not to be a `T`).
    pub fn from_json_string(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(Self::from_raw_value)
    }

    pub fn from_raw_value(json: Box<RawValue>) -> Self {
        Raw {
            json,
            _type: PhantomData,
        }
    }

    /// The JSON text exactly as received.
    pub fn json(&self) -> &RawValue {
        &self.json
    }

    pub fn into_json(self) -> Box<RawValue> {
        self.json
    }

    /// The same JSON, to be read as another type (a user's own event type,
    /// or a more specific enum).
    pub fn cast<U>(self) -> Raw<U> {
        Raw::from_raw_value(self.json)
    }

    /// The same JSON as another type, borrowed.
    pub fn cast_ref<U>(&self) -> &Raw<U> {
        // SAFETY: `Raw<T>` and `Raw<U>` have the same layout: the
        // `PhantomData` is zero-sized and `repr(Rust)` fields of the same
        // types are laid out alike; `Raw` is `repr(transparent)`.
        unsafe { &*(self as *const Raw<T> as *const Raw<U>) }
    }

    /// Decodes one field without decoding the rest (`get_field("type")`).
    pub fn get_field<F: DeserializeOwned>(&self, name: &str) -> Result<Option<F>, serde_json::Error> {
        let fields: std::collections::HashMap<&str, &RawValue> = serde_json::from_str(self.json.get())?;
        fields
            .get(name)
            .map(|value| serde_json::from_str(value.get()))
            .transpose()
    }

    /// Decodes the JSON as `U`.
    pub fn deserialize_as<U: DeserializeOwned>(&self) -> Result<U, serde_json::Error> {
        serde_json::from_str(self.json.get())
    }
}

impl<T: DeserializeOwned> Raw<T> {
    /// Decodes the JSON as `T`.
    pub fn deserialize(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json.get())
    }
}

impl<T: Serialize> Raw<T> {
    /// Encodes `value` as JSON and keeps that.
    pub fn new(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self::from_raw_value)
    }
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        Raw::from_raw_value(self.json.clone())
    }
}

impl<T> fmt::Debug for Raw<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raw<{}>({})", std::any::type_name::<T>(), self.json.get())
    }
}

/// Equal when the JSON text is the same.
impl<T> PartialEq for Raw<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json.get() == other.json.get()
    }
}

impl<T> Serialize for Raw<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Raw<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from_raw_value)
    }
}

#[cfg(test)]
mod tests {
    use super::Raw;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Ping {
        n: u32,
    }

    #[test]
    fn keeps_the_text_and_decodes_on_demand() {
        let list: Vec<Raw<Ping>> = serde_json::from_str(r#"[{"n": 1}, {"n": "bad"},{"n":3,"extra":[1, 2]}]"#).unwrap();
        assert_eq!(list[0].deserialize().unwrap(), Ping { n: 1 });
        assert!(list[1].deserialize().is_err(), "a bad element fails alone");
        assert_eq!(list[2].json().get(), r#"{"n":3,"extra":[1, 2]}"#);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"[{"n": 1},{"n": "bad"},{"n":3,"extra":[1, 2]}]"#
        );
        assert_eq!(list[2].get_field::<Vec<u8>>("extra").unwrap(), Some(vec![1, 2]));
        let value: Raw<serde_json::Value> = list[0].clone().cast();
        assert_eq!(value.deserialize().unwrap()["n"], 1);
        assert_eq!(list[0].cast_ref::<serde_json::Value>().deserialize().unwrap()["n"], 1);
    }

    #[test]
    fn new_encodes() {
        let raw = Raw::new(&Ping { n: 9 }).unwrap();
        assert_eq!(raw.json().get(), r#"{"n":9}"#);
    }
}
