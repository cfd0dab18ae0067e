//! This server's federation identity: its ed25519 signing key, kept in a
//! file beside the database so that it survives restarts (other servers
//! cache it, and events signed with it must stay verifiable).
//!
//! The file holds one line, `ed25519 <version> <unpadded base64 seed>`, the
//! format Synapse's `signing.key` uses, so a key moves between the two.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// The signing key and the name it signs for.
pub struct SigningIdentity {
    pub server_name: String,
    /// `ed25519:<version>`.
    pub key_id: String,
    key: SigningKey,
}

impl SigningIdentity {
    /// Reads the key at `path`, or creates one there (readable by the owner
    /// only, written to a temporary file and renamed, so that a crash never
    /// leaves half a key).
    pub fn load_or_create(path: &Path, server_name: &str) -> Result<SigningIdentity, String> {
        let shown = path.display();
        let (version, key) = match std::fs::read_to_string(path) {
            Ok(text) => parse(&text).map_err(|e| format!("signing key {shown}: {e}"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let version = crate::api::random_id(6);
                let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                write_new(path, &version, &key).map_err(|e| format!("writing signing key {shown}: {e}"))?;
                (version, key)
            }
            Err(e) => return Err(format!("reading signing key {shown}: {e}")),
        };
        Ok(SigningIdentity {
            server_name: server_name.to_owned(),
            key_id: format!("ed25519:{version}"),
            key,
        })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key in unpadded Base64, as `/_matrix/key/v2/server` publishes it.
    pub fn public_key_base64(&self) -> String {
        STANDARD_NO_PAD.encode(self.verifying_key().as_bytes())
    }

    /// Signs a JSON object with this server's key (appendix "Signing JSON").
    pub fn sign_json(&self, value: &mut Value) {
        matrix_api_runtime::signing::sign_json(value, &self.server_name, &self.key_id, &self.key);
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// `ed25519 <version> <seed>`: the version must be usable in a key ID.
fn parse(text: &str) -> Result<(String, SigningKey), String> {
    let mut words = text.split_whitespace();
    let (Some("ed25519"), Some(version), Some(seed), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("expected one line `ed25519 <version> <base64 seed>`".to_owned());
    };
    if !version.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("key version `{version}` may hold only [a-zA-Z0-9_]"));
    }
    let seed: [u8; 32] = matrix_api_runtime::signing::decode_base64(seed)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("the seed is not 32 bytes of Base64")?;
    Ok((version.to_owned(), SigningKey::from_bytes(&seed)))
}

fn write_new(path: &Path, version: &str, key: &SigningKey) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    writeln!(file, "ed25519 {version} {}", STANDARD_NO_PAD.encode(key.to_bytes()))?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let first = SigningIdentity::load_or_create(&path, "hs.example").unwrap();
        let again = SigningIdentity::load_or_create(&path, "hs.example").unwrap();
        assert_eq!(first.key_id, again.key_id);
        assert_eq!(first.public_key_base64(), again.public_key_base64());
        assert!(first.key_id.starts_with("ed25519:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
        }
    }

    #[test]
    fn a_damaged_key_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        for text in [
            "",
            "ed25519",
            "ed25519 a b c",
            "rsa a AAAA",
            "ed25519 a-b AAAA",
            "ed25519 a AAAA",
        ] {
            std::fs::write(&path, text).unwrap();
            let error = SigningIdentity::load_or_create(&path, "hs").err().unwrap();
            assert!(error.contains("signing.key"), "{text:?}: {error}");
        }
    }
}
