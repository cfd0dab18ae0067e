//! `type: number` values as JSON: a whole number is written as an integer
//! (`0`, not `0.0`). Both are the same JSON number, but clients validating
//! against their own schemas (matrix-nio's `last_active_ago: integer`) and
//! canonical JSON, which signatures and room versions from v6 require,
//! accept only the integer form.

use serde::Serializer;

/// The largest integer an `f64` holds exactly (2^53).
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Writes `value` as an integer when it is whole and exact, else as a float.
pub fn whole_as_integer<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() <= EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// [`whole_as_integer`] for an optional field.
pub fn option_whole_as_integer<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => whole_as_integer(value, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct Sample {
        #[serde(serialize_with = "super::whole_as_integer")]
        plain: f64,
        #[serde(serialize_with = "super::option_whole_as_integer")]
        optional: Option<f64>,
    }

    fn json(plain: f64, optional: Option<f64>) -> String {
        serde_json::to_string(&Sample { plain, optional }).unwrap()
    }

    #[test]
    fn whole_numbers_are_integers_and_fractions_stay() {
        assert_eq!(json(0.0, Some(1.0)), r#"{"plain":0,"optional":1}"#);
        assert_eq!(json(-3.0, None), r#"{"plain":-3,"optional":null}"#);
        assert_eq!(json(0.5, Some(2.25)), r#"{"plain":0.5,"optional":2.25}"#);
        assert_eq!(json(1e300, None), r#"{"plain":1e+300,"optional":null}"#);
    }
}
