//! [`Raw<T>`]: the JSON of a value, kept as received and decoded on demand.
//!
//! Event lists in large responses (`/sync`, `/messages`) hold their events
//! as `Raw`, so that one malformed event never fails a whole response, the
//! bytes of an event are forwarded unchanged, and decoding is paid only for
//! the events that are read.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

/// The JSON text of a `T`, not yet decoded.
///
/// Decoded from a body that [`with_shared_input`] announced (every
/// generated client and server does so for JSON bodies), a `Raw` shares that
/// body's buffer instead of copying its text: decoding a `/sync` response
/// allocates nothing per event, and cloning or dropping a `Raw` only counts
/// references. The price is that a `Raw` kept alone keeps the whole body it
/// came from in memory; [`Raw::detach`] copies the text out.
#[repr(transparent)]
pub struct Raw<T> {
    /// One JSON value, UTF-8 (every constructor takes it from a `str`).
    json: Bytes,
    _type: PhantomData<fn() -> T>,
}

impl<T> Raw<T> {
    /// Wraps JSON text (checked to be JSON, not to be a `T`).
    pub fn from_json_string(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(Self::from_raw_value)
    }

    pub fn from_raw_value(json: Box<RawValue>) -> Self {
        let text: Box<str> = json.into();
        Self::from_checked(Bytes::from(text.into_boxed_bytes()))
    }

    /// `json` must be one JSON value in UTF-8.
    fn from_checked(json: Bytes) -> Self {
        Raw {
            json,
            _type: PhantomData,
        }
    }

    /// The JSON text exactly as received.
    pub fn json(&self) -> &str {
        // SAFETY: every constructor stores the bytes of a `str`.
        unsafe { std::str::from_utf8_unchecked(&self.json) }
    }

    /// The JSON text as a `RawValue` of its own (a copy).
    pub fn into_json(self) -> Box<RawValue> {
        RawValue::from_string(self.json().to_owned()).expect("a Raw holds one JSON value")
    }

    /// The same JSON in a buffer of its own, so that keeping it does not
    /// keep the body it was decoded from.
    pub fn detach(&self) -> Self {
        Self::from_checked(Bytes::copy_from_slice(&self.json))
    }

    /// The same JSON, to be read as another type (a user's own event type,
    /// or a more specific enum).
    pub fn cast<U>(self) -> Raw<U> {
        Raw::from_checked(self.json)
    }

    /// The same JSON as another type, borrowed.
    pub fn cast_ref<U>(&self) -> &Raw<U> {
        // SAFETY: `Raw<T>` and `Raw<U>` are both `repr(transparent)` over
        // the same `Bytes` (the `PhantomData` is zero-sized).
        unsafe { &*(self as *const Raw<T> as *const Raw<U>) }
    }

    /// Decodes one field without decoding the rest (`get_field("type")`).
    pub fn get_field<F: DeserializeOwned>(&self, name: &str) -> Result<Option<F>, serde_json::Error> {
        let fields: std::collections::HashMap<&str, &RawValue> = serde_json::from_str(self.json())?;
        fields
            .get(name)
            .map(|value| serde_json::from_str(value.get()))
            .transpose()
    }

    /// Decodes the JSON as `U`.
    pub fn deserialize_as<U: DeserializeOwned>(&self) -> Result<U, serde_json::Error> {
        crate::checked::from_checked_str(self.json())
    }
}

impl<T: DeserializeOwned> Raw<T> {
    /// Decodes the JSON as `T`.
    pub fn deserialize(&self) -> Result<T, serde_json::Error> {
        crate::checked::from_checked_str(self.json())
    }
}

impl<T: Serialize> Raw<T> {
    /// Encodes `value` as JSON and keeps that.
    pub fn new(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(|text| Self::from_checked(Bytes::from(text)))
    }
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        Raw::from_checked(self.json.clone())
    }
}

impl<T> fmt::Debug for Raw<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raw<{}>({})", std::any::type_name::<T>(), self.json())
    }
}

/// Equal when the JSON text is the same.
impl<T> PartialEq for Raw<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

/// Written as the text itself, through serde_json's raw-value protocol (what
/// `RawValue` does), so serde_json copies it into the output unchanged.
impl<T> Serialize for Raw<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use crate::checked::RAW_VALUE_TOKEN;
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.json())?;
        raw.end()
    }
}

impl<'de, T> Deserialize<'de> for Raw<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match crate::events::capture(deserializer)? {
            crate::events::Captured::Borrowed(text) => Raw::from_checked(shared_slice(text)),
            crate::events::Captured::Owned(raw) => Raw::from_raw_value(raw),
        })
    }
}

thread_local! {
    /// The body being decoded on this thread, if its decoder announced it.
    static SHARED_INPUT: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// Runs `decode` with `input` announced as the buffer it reads, so that the
/// `Raw` values it produces share `input` instead of copying their text.
/// Calls nest; the previous announcement is restored afterwards, also when
/// `decode` panics.
pub fn with_shared_input<R>(input: &Bytes, decode: impl FnOnce() -> R) -> R {
    struct Restore(Option<Bytes>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SHARED_INPUT.with(|shared| *shared.borrow_mut() = previous);
        }
    }
    let _restore = Restore(SHARED_INPUT.with(|shared| shared.replace(Some(input.clone()))));
    decode()
}

/// `text` as a slice of the announced input when it lies inside it, else a copy.
fn shared_slice(text: &str) -> Bytes {
    SHARED_INPUT.with(|shared| match &*shared.borrow() {
        Some(input) if contains(input, text.as_bytes()) => input.slice_ref(text.as_bytes()),
        _ => Bytes::copy_from_slice(text.as_bytes()),
    })
}

fn contains(outer: &[u8], inner: &[u8]) -> bool {
    let (start, end) = (outer.as_ptr() as usize, outer.as_ptr() as usize + outer.len());
    let (first, last) = (inner.as_ptr() as usize, inner.as_ptr() as usize + inner.len());
    start <= first && last <= end
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
        assert_eq!(list[2].json(), r#"{"n":3,"extra":[1, 2]}"#);
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
    fn shares_an_announced_body_and_copies_otherwise() {
        let body = bytes::Bytes::from_static(br#"[{"n":1}, {"n":2}]"#);
        let shared: Vec<Raw<Ping>> = super::with_shared_input(&body, || serde_json::from_slice(&body)).unwrap();
        assert!(super::contains(&body, &shared[1].json));
        let copied: Vec<Raw<Ping>> = serde_json::from_slice(&body).unwrap();
        assert!(!super::contains(&body, &copied[1].json));
        assert_eq!(shared, copied);
        let detached = shared[1].detach();
        assert!(!super::contains(&body, &detached.json));
        assert_eq!(detached.deserialize().unwrap(), Ping { n: 2 });
        // Through serde_json's other serializer, too.
        assert_eq!(
            serde_json::to_value(&shared).unwrap(),
            serde_json::json!([{"n": 1}, {"n": 2}])
        );
        let from_value: Raw<Ping> = serde_json::from_value(serde_json::json!({"n": 3})).unwrap();
        assert_eq!(from_value.json(), r#"{"n":3}"#);
    }

    #[test]
    fn new_encodes() {
        let raw = Raw::new(&Ping { n: 9 }).unwrap();
        assert_eq!(raw.json(), r#"{"n":9}"#);
    }
}
