//! Paths: filling a template with percent-encoded values (client side).
//! Every character outside the RFC 3986 unreserved set is encoded, so
//! room, event and user IDs (`!`, `$`, `@`, `:`, `/`, `+`) survive intact.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub fn encode_segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Replaces each `{name}` in `template` with the encoded value of field
/// `name` of `params` (a serialized path struct).
pub fn fill(template: &str, params: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in {template}"))?
            + start;
        let name = &rest[start + 1..end];
        let value = match params.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => return Err(format!("path parameter `{name}` has no value")),
            Some(other) => other.to_string(),
        };
        out.push_str(&encode_segment(&value));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_identifiers_are_encoded() {
        let params =
            serde_json::json!({ "roomId": "!room:example.org", "eventId": "$event/with+chars", "stateKey": "" });
        assert_eq!(
            fill("/rooms/{roomId}/event/{eventId}", &params).unwrap(),
            "/rooms/%21room%3Aexample.org/event/%24event%2Fwith%2Bchars"
        );
        assert_eq!(fill("/state/{stateKey}", &params).unwrap(), "/state/");
        assert_eq!(encode_segment("@user:host:8448"), "%40user%3Ahost%3A8448");
    }
}
