//! `api-specs/manifest.toml`: the releases the project supports, their
//! upstream commits, and a checksum that tells whether a folder on disk
//! really holds that release.

use crate::diag::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Release {
    pub name: String,
    pub upstream_commit: String,
    pub date: String,
    /// `swagger-2.0` or `openapi-3.1`.
    pub format: String,
    pub checksum: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    #[serde(rename = "release")]
    pub releases: Vec<Release>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }

    pub fn release(&self, name: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.name == name)
    }
}

/// SHA-256 over the sorted lines `"<path>\0<sha256 of file>\n"` of every
/// file below `dir` (paths relative, `/`-separated).
pub fn checksum(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut total = Sha256::new();
    for rel in files {
        let path = dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let file_hash = hex(&Sha256::digest(&bytes));
        total.update(format!("{rel}\0{file_hash}\n").as_bytes());
    }
    Ok(hex(&total.finalize()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The format of the spec at `dir`, as the manifest spells it.
pub fn format_of(dir: &Path) -> Result<&'static str> {
    let store = crate::load::docs::DocStore::load(dir)?;
    let files = crate::load::api::api_files(&store);
    Ok(
        if files.iter().any(|f| f.format == crate::load::api::Format::Swagger2) {
            "swagger-2.0"
        } else {
            "openapi-3.1"
        },
    )
}
