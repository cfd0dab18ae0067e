//! The one place that writes generated files: into a fresh temporary
//! directory beside the target, then swapped in, so a failed run never
//! leaves a half-written crate. `--check` compares instead of writing.

use super::Files;
use crate::diag::{Error, Result};
use std::path::{Path, PathBuf};

/// What differs between the generated files and a directory on disk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    pub changed: Vec<PathBuf>,
    pub missing: Vec<PathBuf>,
    /// Files on disk (under the generated folders) that generation no longer makes.
    pub extra: Vec<PathBuf>,
}

impl Staleness {
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

impl std::fmt::Display for Staleness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (what, list) in [
            ("changed", &self.changed),
            ("missing", &self.missing),
            ("not generated", &self.extra),
        ] {
            for p in list {
                writeln!(f, "  {what}: {}", p.display())?;
            }
        }
        Ok(())
    }
}

/// Files below `dir` that belong to the generated crate (everything but
/// `target/` and dotfiles).
fn existing_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || (dir == root && name == "target") || name == "Cargo.lock" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_owned());
            }
        }
        Ok(())
    }
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Compares generated files with `dir`.
pub fn check(files: &Files, dir: &Path) -> Result<Staleness> {
    let mut stale = Staleness::default();
    for (rel, text) in files {
        match std::fs::read(dir.join(rel)) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            Ok(_) => stale.changed.push(rel.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => stale.missing.push(rel.clone()),
            Err(e) => return Err(Error::io(dir.join(rel), e)),
        }
    }
    for rel in existing_files(dir)? {
        if !files.contains_key(&rel) {
            stale.extra.push(rel);
        }
    }
    Ok(stale)
}

/// Writes `files` as the complete contents of `dir`: into a sibling
/// temporary directory first, then swapped in. `dir/target` (a build
/// folder) is carried over.
pub fn write(files: &Files, dir: &Path) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "generated".into());
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let backup = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (rel, text) in files {
        let path = staging.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    if dir.exists() {
        // Keep a build folder that lives inside the output.
        let target = dir.join("target");
        if target.is_dir() {
            std::fs::rename(&target, staging.join("target")).map_err(|e| Error::io(&target, e))?;
        }
        std::fs::rename(dir, &backup).map_err(|e| Error::io(dir, e))?;
        if let Err(e) = std::fs::rename(&staging, dir) {
            // Put the old output back before reporting.
            let _ = std::fs::rename(&backup, dir);
            return Err(Error::io(dir, e));
        }
        std::fs::remove_dir_all(&backup).map_err(|e| Error::io(&backup, e))?;
    } else {
        std::fs::rename(&staging, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}
