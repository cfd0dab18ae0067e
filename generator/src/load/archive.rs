//! The spec's releases before v1.1, kept as archives (`matrix-spec-history/`:
//! `r0.0.0.tar.gz` … `client_server_r0.5.0.tar.gz`) because their folders
//! link to each other with symbolic links, which an archive keeps exactly.
//! They are unpacked with the system's `tar` into a folder of the caller's
//! choosing (a build folder), once.

use crate::diag::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The archive folder beside a spec root (`../shared/matrix-spec` →
/// `../shared/matrix-spec-history`), if there is one.
pub fn beside(spec_root: &Path) -> Option<PathBuf> {
    let dir = spec_root.parent()?.join("matrix-spec-history");
    dir.is_dir().then_some(dir)
}

/// Every archived release in `archives`, unpacked under `out`, oldest
/// first: (name, folder). The name is the archive's (`r0.0.0`,
/// `client-server_r0.2.0`, …). An archive unpacked before (its size
/// recorded beside it) is not unpacked again.
pub fn releases(archives: &Path, out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(archives).map_err(|e| Error::io(archives, e))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    found.sort();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut releases = Vec::new();
    for archive in found {
        let name = archive
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_owned())
            .unwrap_or_default();
        let dir = out.join(&name);
        unpack(&archive, out, &dir)?;
        releases.push((name, dir));
    }
    releases.sort_by_key(|(name, _)| version_of(name));
    Ok(releases)
}

fn unpack(archive: &Path, out: &Path, dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = out.join(format!("{name}.unpacked"));
    let size = std::fs::metadata(archive)
        .map_err(|e| Error::io(archive, e))?
        .len()
        .to_string();
    if dir.join("api").is_dir() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(size.as_str()) {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(out)
        .status()
        .map_err(|e| Error::Other(format!("running tar for {}: {e}", archive.display())))?;
    if !status.success() || !dir.join("api").is_dir() {
        return Err(Error::Other(format!(
            "{} did not unpack into {} (tar: {status})",
            archive.display(),
            dir.display()
        )));
    }
    std::fs::write(&stamp, size).map_err(|e| Error::io(&stamp, e))
}

/// Sort key: the version at the end of the name (`r0.0.0`,
/// `client-server_r0.2.0`), which is also the order of their dates.
fn version_of(name: &str) -> Vec<u64> {
    let version = name.rsplit('_').next().unwrap_or(name).trim_start_matches('r');
    version.split('.').map(|p| p.parse().unwrap_or(u64::MAX)).collect()
}
