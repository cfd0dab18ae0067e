//! The one place that writes generated files. A new output directory is
//! written into a temporary directory beside it, then renamed into place.
//! An existing one is updated file by file: only the files whose text
//! changed are rewritten (each into a temporary file renamed over the old,
//! so no file is ever half-written), and files generation no longer makes
//! are removed. Unchanged files keep their modification times, so a build
//! of the generated crate after a run that changed nothing has nothing to
//! do, and a run costs the writes of what changed, not of 500 files. An I/O
//! error midway can leave some files updated and others not; the next run
//! finishes the update, and `--check` (which compares instead of writing)
//! names what is stale.

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

/// Writes `files` as the complete contents of `dir` (its `target/` build
/// folder, dotfiles and `Cargo.lock` aside).
pub fn write(files: &Files, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        update(files, dir)
    } else {
        write_fresh(files, dir)
    }
}

/// Writes a new output directory: into a sibling temporary directory, then
/// renamed into place.
fn write_fresh(files: &Files, dir: &Path) -> Result<()> {
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
    let _ = std::fs::remove_dir_all(&staging);
    for (rel, text) in files {
        let path = staging.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| Error::io(dir, e))
}

/// Brings an existing output directory up to date: rewrites what changed,
/// adds what is missing, removes what is no longer generated.
fn update(files: &Files, dir: &Path) -> Result<()> {
    let stale = check(files, dir)?;
    for rel in stale.changed.iter().chain(&stale.missing) {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        let mut temporary = path.clone().into_os_string();
        temporary.push(format!(".tmp-{}", std::process::id()));
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, &files[rel]).map_err(|e| Error::io(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| Error::io(&path, e))?;
    }
    for rel in &stale.extra {
        let path = dir.join(rel);
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        // Folders left empty go too (a module no longer generated).
        let mut folder = path.parent();
        while let Some(f) = folder.filter(|f| *f != dir) {
            if std::fs::remove_dir(f).is_err() {
                break;
            }
            folder = f.parent();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    /// A second run rewrites only what changed, removes what is no longer
    /// generated (and the folder it leaves empty), and keeps the build folder.
    #[test]
    fn an_existing_output_is_updated_file_by_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write(&files(&[("a.rs", "a"), ("m/b.rs", "b"), ("c.rs", "c")]), &dir).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("target/keep"), "built").unwrap();
        let modified = |rel: &str| std::fs::metadata(dir.join(rel)).unwrap().modified().unwrap();
        let unchanged_before = modified("a.rs");
        std::thread::sleep(std::time::Duration::from_millis(20));

        let next = files(&[("a.rs", "a"), ("c.rs", "c2"), ("n/d.rs", "d")]);
        write(&next, &dir).unwrap();
        assert!(check(&next, &dir).unwrap().is_clean());
        assert_eq!(modified("a.rs"), unchanged_before, "an unchanged file is not rewritten");
        assert_eq!(std::fs::read_to_string(dir.join("c.rs")).unwrap(), "c2");
        assert!(!dir.join("m").exists(), "the emptied folder is removed");
        assert_eq!(std::fs::read_to_string(dir.join("target/keep")).unwrap(), "built");
    }
}
