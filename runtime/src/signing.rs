//! Signing JSON (the spec appendix) and federation request signing
//! (`Authorization: X-Matrix …`): canonical JSON and ed25519. Objects are
//! signed with [`sign_json`] and checked with [`verify_json`]; the client
//! signs requests with [`sign_request`], and a server checks one with
//! [`verify_request`] once it has the origin's public key. A homeserver
//! signs a request to an identity server too ([`Audience::IdentityServer`]).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Map, Value};

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

/// Whom a signed request is addressed to, which names the field of the
/// signed object that holds the receiver's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Another homeserver (federation): `destination`.
    Homeserver,
    /// An identity server, which a homeserver may ask to unbind its user's
    /// address: `destination_is`. The spec says only that such a request is
    /// "signed by the homeserver"; this field is how Synapse signs it and
    /// how Sydent checks it, and the header then carries no `destination`.
    IdentityServer,
}

impl Audience {
    fn field(self) -> &'static str {
        match self {
            Audience::Homeserver => "destination",
            Audience::IdentityServer => "destination_is",
        }
    }
}

/// The JSON object a request signature covers.
fn signed_object(
    audience: Audience,
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    content: Option<&Value>,
) -> Value {
    let mut object = json!({ "method": method, "uri": uri, "origin": origin });
    object[audience.field()] = json!(destination);
    if let Some(content) = content {
        object["content"] = content.clone();
    }
    object
}

/// The `Authorization` header value for a federation request: `uri` is the
/// path with its query string, exactly as sent.
pub fn sign_request(
    key: &SigningKey,
    key_id: &str,
    origin: &str,
    destination: &str,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> String {
    sign_request_to(
        Audience::Homeserver,
        key,
        key_id,
        origin,
        destination,
        method,
        uri,
        content,
    )
}

/// The `Authorization` header value for a request to `audience`.
#[allow(clippy::too_many_arguments)]
pub fn sign_request_to(
    audience: Audience,
    key: &SigningKey,
    key_id: &str,
    origin: &str,
    destination: &str,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> String {
    let object = signed_object(audience, method, uri, origin, destination, content);
    let signature = STANDARD_NO_PAD.encode(key.sign(canonical_json(&object).as_bytes()).to_bytes());
    match audience {
        Audience::Homeserver => {
            format!("X-Matrix origin=\"{origin}\",destination=\"{destination}\",key=\"{key_id}\",sig=\"{signature}\"")
        }
        Audience::IdentityServer => format!("X-Matrix origin=\"{origin}\",key=\"{key_id}\",sig=\"{signature}\""),
    }
}

/// Checks a federation request's X-Matrix signature against the origin's
/// public key.
pub fn verify_request(
    x_matrix: &crate::XMatrixHeader,
    public_key: &VerifyingKey,
    destination: &str,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> Result<(), String> {
    verify_request_to(
        Audience::Homeserver,
        x_matrix,
        public_key,
        destination,
        method,
        uri,
        content,
    )
}

/// Checks an X-Matrix signature of a request to `audience`, which is
/// `destination`.
pub fn verify_request_to(
    audience: Audience,
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
    let object = signed_object(audience, method, uri, &x_matrix.origin, destination, content);
    public_key
        .verify(canonical_json(&object).as_bytes(), &signature)
        .map_err(|_| "signature does not verify".to_owned())
}

/// Decodes Base64 as the spec asks receivers to: padded or not, and with
/// nonzero bits after the last whole byte (the appendix's own test seed
/// has them), in the standard alphabet.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text).ok()
}

/// Why a signed JSON object does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature by this server with this key.
    #[error("no signature by `{server}` with key `{key_id}`")]
    Missing { server: String, key_id: String },
    /// The signature is not unpadded Base64 of 64 bytes.
    #[error("the signature by `{server}` with key `{key_id}` is malformed")]
    Malformed { server: String, key_id: String },
    /// The signature does not match the object.
    #[error("the signature by `{server}` with key `{key_id}` does not match")]
    Mismatch { server: String, key_id: String },
}

/// Signs a JSON object as the appendix "Signing JSON" describes: the
/// canonical JSON of the object without `signatures` and `unsigned` is
/// signed, and the signature added under `signatures.<server>.<key_id>`,
/// beside any signatures already there. A value that is not an object is
/// left as it is.
pub fn sign_json(value: &mut Value, server_name: &str, key_id: &str, key: &SigningKey) {
    let Value::Object(object) = value else {
        return;
    };
    let signature = key.sign(canonical_json(&signed_part(object)).as_bytes());
    let signatures = object.entry("signatures").or_insert_with(|| Value::Object(Map::new()));
    if !signatures.is_object() {
        *signatures = Value::Object(Map::new());
    }
    let by_server = signatures
        .as_object_mut()
        .expect("made an object above")
        .entry(server_name)
        .or_insert_with(|| Value::Object(Map::new()));
    if !by_server.is_object() {
        *by_server = Value::Object(Map::new());
    }
    by_server.as_object_mut().expect("made an object above").insert(
        key_id.to_owned(),
        Value::String(STANDARD_NO_PAD.encode(signature.to_bytes())),
    );
}

/// Checks the signature `signatures.<server>.<key_id>` of a JSON object
/// ("Checking for a signature" in the appendix).
pub fn verify_json(value: &Value, server_name: &str, key_id: &str, key: &VerifyingKey) -> Result<(), SignatureError> {
    let names = || (server_name.to_owned(), key_id.to_owned());
    let missing = || {
        let (server, key_id) = names();
        SignatureError::Missing { server, key_id }
    };
    let object = value.as_object().ok_or_else(missing)?;
    let encoded = object
        .get("signatures")
        .and_then(|s| s.get(server_name))
        .and_then(|s| s.get(key_id))
        .and_then(Value::as_str)
        .ok_or_else(missing)?;
    let signature = decode_base64(encoded)
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| {
            let (server, key_id) = names();
            SignatureError::Malformed { server, key_id }
        })?;
    key.verify(canonical_json(&signed_part(object)).as_bytes(), &signature)
        .map_err(|_| {
            let (server, key_id) = names();
            SignatureError::Mismatch { server, key_id }
        })
}

/// What a JSON signature covers: the object without `signatures` and `unsigned`.
fn signed_part(object: &Map<String, Value>) -> Value {
    let mut part = object.clone();
    part.remove("signatures");
    part.remove("unsigned");
    Value::Object(part)
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

    #[test]
    fn a_request_to_an_identity_server_is_signed_for_destination_is() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let body = json!({ "mxid": "@bob:hs.example", "threepid": { "medium": "email", "address": "b@x" } });
        let uri = "/_matrix/identity/v2/3pid/unbind";
        let header = sign_request_to(
            Audience::IdentityServer,
            &key,
            "ed25519:a",
            "hs.example",
            "is.example",
            "POST",
            uri,
            Some(&body),
        );
        let parsed = crate::XMatrixHeader::parse(header.strip_prefix("X-Matrix ").unwrap()).unwrap();
        // The header names no destination, as Synapse sends it.
        assert_eq!(parsed.destination, None);
        let public = key.verifying_key();
        verify_request_to(
            Audience::IdentityServer,
            &parsed,
            &public,
            "is.example",
            "POST",
            uri,
            Some(&body),
        )
        .unwrap();
        // What Sydent checks: the object with `destination_is`.
        let object = json!({ "method": "POST", "uri": uri, "origin": "hs.example", "destination_is": "is.example", "content": body });
        let signature = Signature::from_slice(&STANDARD_NO_PAD.decode(&parsed.sig).unwrap()).unwrap();
        public.verify(canonical_json(&object).as_bytes(), &signature).unwrap();
        // Not interchangeable with a federation signature, nor for another identity server.
        assert!(verify_request(&parsed, &public, "is.example", "POST", uri, Some(&body)).is_err());
        assert!(verify_request_to(
            Audience::IdentityServer,
            &parsed,
            &public,
            "other.example",
            "POST",
            uri,
            Some(&body)
        )
        .is_err());
    }

    /// The "JSON Signing" test vectors of the appendix.
    #[test]
    fn json_signing_matches_the_appendix_vectors() {
        let seed = decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").unwrap();
        let key = SigningKey::from_bytes(&seed.try_into().unwrap());
        let mut empty = json!({});
        sign_json(&mut empty, "domain", "ed25519:1", &key);
        assert_eq!(
            empty,
            json!({ "signatures": { "domain": { "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ" } } })
        );
        let mut data = json!({ "one": 1, "two": "Two" });
        sign_json(&mut data, "domain", "ed25519:1", &key);
        assert_eq!(
            data["signatures"]["domain"]["ed25519:1"],
            "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
        );
        let public = key.verifying_key();
        verify_json(&data, "domain", "ed25519:1", &public).unwrap();
        // `unsigned` is not covered; anything else is.
        data["unsigned"] = json!({ "age": 1 });
        verify_json(&data, "domain", "ed25519:1", &public).unwrap();
        data["one"] = json!(2);
        assert!(matches!(
            verify_json(&data, "domain", "ed25519:1", &public),
            Err(SignatureError::Mismatch { .. })
        ));
        assert!(matches!(
            verify_json(&data, "other", "ed25519:1", &public),
            Err(SignatureError::Missing { .. })
        ));
        data["signatures"]["domain"]["ed25519:1"] = json!("not base64!");
        assert!(matches!(
            verify_json(&data, "domain", "ed25519:1", &public),
            Err(SignatureError::Malformed { .. })
        ));
    }
}
