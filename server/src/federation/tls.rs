//! The certificate the federation listener presents: the one a deployment
//! configures (`--tls-cert`, `--tls-key`, PEM), or else a self-signed one
//! made once for the server's host name and kept beside the database, as a
//! test setup or a server behind a TLS-terminating proxy needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

/// Where the certificate and its key are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// Made (self-signed) when missing, rather than refused.
    pub create_if_missing: bool,
}

/// The rustls configuration of the federation listener.
pub fn server_config(files: &TlsFiles, server_name: &str) -> Result<Arc<ServerConfig>, String> {
    if files.create_if_missing && !files.certificate.exists() {
        self_signed(files, host_of(server_name))?;
    }
    let read = |path: &Path| format!("reading {}", path.display());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(|e| format!("{}: {e}", read(&files.certificate)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", read(&files.certificate)))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", files.certificate.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("{}: {e}", read(&files.key)))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate {}: {e}", files.certificate.display()))?;
    Ok(Arc::new(config))
}

/// The host part of a server name (`example.org:8448`, `[::1]:8448`, `127.0.0.1`).
pub fn host_of(server_name: &str) -> &str {
    crate::server_name::split(server_name).host
}

fn self_signed(files: &TlsFiles, host: &str) -> Result<(), String> {
    let made = rcgen::generate_simple_self_signed(vec![host.to_owned()])
        .map_err(|e| format!("making a certificate for {host}: {e}"))?;
    write_private(&files.key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&files.certificate, made.cert.pem())
        .map_err(|e| format!("writing {}: {e}", files.certificate.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_of("example.org"), "example.org");
        assert_eq!(host_of("example.org:8448"), "example.org");
        assert_eq!(host_of("127.0.0.1:1234"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8448"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }

    #[test]
    fn a_self_signed_certificate_is_made_once_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            certificate: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
            create_if_missing: true,
        };
        server_config(&files, "127.0.0.1:8448").unwrap();
        let first = std::fs::read(&files.certificate).unwrap();
        server_config(&files, "127.0.0.1:8448").unwrap();
        assert_eq!(
            std::fs::read(&files.certificate).unwrap(),
            first,
            "kept, not made again"
        );
        let configured = TlsFiles {
            create_if_missing: false,
            certificate: dir.path().join("missing.crt"),
            ..files
        };
        let error = server_config(&configured, "hs").unwrap_err();
        assert!(error.contains("missing.crt"), "{error}");
    }
}
