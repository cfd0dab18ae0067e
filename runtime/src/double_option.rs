//! `Option<Option<T>>` for fields that are optional *and* nullable, so
//! "absent" (`None`), "explicitly null" (`Some(None)`) and a value stay
//! distinct through a round trip.
//!
//! Use with `#[serde(default, skip_serializing_if = "Option::is_none", with = "matrix_api_runtime::double_option")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct S {
        #[serde(default, skip_serializing_if = "Option::is_none", with = "super")]
        x: Option<Option<u8>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        for (json, value) in [("{}", None), ("{\"x\":null}", Some(None)), ("{\"x\":1}", Some(Some(1)))] {
            let s: S = serde_json::from_str(json).unwrap();
            assert_eq!(s.x, value);
            assert_eq!(serde_json::to_string(&s).unwrap(), json);
        }
    }
}
