//! Fields a server sent that a generated type does not model: decoding
//! drops them, so they are found by comparing the JSON received with the
//! decoded value encoded again. What a client reports with
//! [`crate::client::Client::with_unmodeled_observer`], to find where a
//! server (or an older or newer spec) says more than the spec this crate
//! was generated from.

use serde_json::Value;

/// The JSON paths (`/a/b`, `[]` for array items) where `received` has a
/// field that `reencoded` lacks, sorted and each once. A `null` counts as
/// absent; map keys that are Matrix IDs or numbers show as `{key}`, so one
/// path stands for all.
pub fn dropped_fields(received: &Value, reencoded: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(received, reencoded, "", &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk(received: &Value, reencoded: &Value, path: &str, out: &mut Vec<String>) {
    match (received, reencoded) {
        (Value::Object(r), Value::Object(t)) => {
            for (key, value) in r {
                let shown = if key.starts_with(['!', '@', '$', '#', '+']) || key.chars().all(|c| c.is_ascii_digit()) {
                    "{key}"
                } else {
                    key.as_str()
                };
                let here = format!("{path}/{shown}");
                match t.get(key) {
                    Some(tv) => walk(value, tv, &here, out),
                    None if value.is_null() => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(r), Value::Array(t)) => {
            for (rv, tv) in r.iter().zip(t) {
                walk(rv, tv, &format!("{path}/[]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::dropped_fields;
    use serde_json::json;

    #[test]
    fn dropped_fields_are_found_by_path() {
        let received = json!({
            "kept": 1, "gone": 2, "nothing": null,
            "rooms": { "!a:b": { "extra": true, "x": 1 } },
            "list": [{ "y": 1, "z": 2 }],
        });
        let reencoded = json!({ "kept": 1, "rooms": { "!a:b": { "x": 1 } }, "list": [{ "y": 1 }] });
        assert_eq!(
            dropped_fields(&received, &reencoded),
            vec!["/gone", "/list/[]/z", "/rooms/{key}/extra"]
        );
    }
}
