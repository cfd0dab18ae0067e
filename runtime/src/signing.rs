//! Federation request signing (`Authorization: X-Matrix …`): canonical JSON
//! and ed25519, as the server-server API specifies. The client signs with
//! [`sign_request`]; a server checks a request with [`verify_request`]
//! once it has the origin's public key.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant
/// whitespace, strings escaped as `serde_json` does.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The JSON object a federation request signature covers.
fn signed_object(method: &str, uri: &str, origin: &str, destination: &str, content: Option<&Value>) -> Value {
    let mut object = json!({ "method": method, "uri": uri, "origin": origin, "destination": destination });
    if let Some(content) = content {
        object["content"] = content.clone();
    }
    object
}

/// The `Authorization` header value for a request: `uri` is the path with
/// its query string, exactly as sent.
pub fn sign_request(
    key: &SigningKey,
    key_id: &str,
    origin: &str,
    destination: &str,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> String {
    let object = signed_object(method, uri, origin, destination, content);
    let signature = key.sign(canonical_json(&object).as_bytes());
    format!(
        "X-Matrix origin=\"{origin}\",destination=\"{destination}\",key=\"{key_id}\",sig=\"{}\"",
        STANDARD_NO_PAD.encode(signature.to_bytes())
    )
}

/// Checks an X-Matrix signature against the origin's public key.
pub fn verify_request(
    x_matrix: &crate::XMatrixHeader,
    public_key: &VerifyingKey,
    destination: &str,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> Result<(), String> {
    if let Some(d) = &x_matrix.destination {
        if d != destination {
            return Err(format!("signed for destination `{d}`, not `{destination}`"));
        }
    }
    let bytes = STANDARD_NO_PAD
        .decode(x_matrix.sig.trim_end_matches('='))
        .map_err(|e| format!("signature is not unpadded base64: {e}"))?;
    let signature = Signature::from_slice(&bytes).map_err(|e| e.to_string())?;
    let object = signed_object(method, uri, &x_matrix.origin, destination, content);
    public_key
        .verify(canonical_json(&object).as_bytes(), &signature)
        .map_err(|_| "signature does not verify".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": 2, "a": { "d": [1, "x"], "c": "\u00e9" } }"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":"é","d":[1,"x"]},"b":2}"#);
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let body = json!({ "edus": [], "pdus": [] });
        let header = sign_request(
            &key,
            "ed25519:a1",
            "origin.example",
            "dest.example",
            "PUT",
            "/_matrix/federation/v1/send/1",
            Some(&body),
        );
        let parsed = crate::XMatrixHeader::parse(header.strip_prefix("X-Matrix ").unwrap()).unwrap();
        assert_eq!(parsed.key, "ed25519:a1");
        let public = key.verifying_key();
        verify_request(
            &parsed,
            &public,
            "dest.example",
            "PUT",
            "/_matrix/federation/v1/send/1",
            Some(&body),
        )
        .unwrap();
        assert!(verify_request(
            &parsed,
            &public,
            "dest.example",
            "PUT",
            "/_matrix/federation/v1/send/2",
            Some(&body)
        )
        .is_err());
        assert!(verify_request(
            &parsed,
            &public,
            "other.example",
            "PUT",
            "/_matrix/federation/v1/send/1",
            Some(&body)
        )
        .is_err());
    }
}
