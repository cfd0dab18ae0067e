//! Finding a spec on disk: a directory given directly, or a release name
//! (`v1.18`) looked up under the spec root.

use crate::diag::{Error, Result};
use std::path::{Path, PathBuf};

/// The release used when none is named.
pub const DEFAULT_RELEASE: &str = "v1.19";

/// The environment variable naming the folder that holds one folder per release.
pub const SPEC_ROOT_ENV: &str = "MATRIX_SPEC_ROOT";

/// The spec root: `$MATRIX_SPEC_ROOT` if set, else `../shared/matrix-spec`
/// relative to the workspace (`workspace_root`).
pub fn spec_root(workspace_root: &Path) -> PathBuf {
    match std::env::var_os(SPEC_ROOT_ENV) {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => workspace_root.join("../shared/matrix-spec"),
    }
}

/// Resolves `--spec`: an existing directory holding `api/` is used as is;
/// anything else is taken as a release name under the spec root. The error
/// says every place that was looked at.
pub fn locate(spec: Option<&str>, workspace_root: &Path) -> Result<PathBuf> {
    let spec = spec.unwrap_or(DEFAULT_RELEASE);
    let as_dir = PathBuf::from(spec);
    if as_dir.join("api").is_dir() {
        return Ok(as_dir);
    }
    // A matrix-spec checkout: accept its root as well as its `data/` folder.
    if as_dir.join("data/api").is_dir() {
        return Ok(as_dir.join("data"));
    }
    let root = spec_root(workspace_root);
    let candidate = root.join(spec);
    if candidate.join("api").is_dir() {
        return Ok(candidate);
    }
    let from_env = std::env::var_os(SPEC_ROOT_ENV).is_some();
    Err(Error::Other(format!(
        "no Matrix spec found for `{spec}`: looked for `{}` (a directory holding api/) and for release `{spec}` at `{}` under the spec root `{}` ({}); \
         set {SPEC_ROOT_ENV} or pass --spec <DIR> (see api-specs/README.md)",
        as_dir.join("api").display(),
        candidate.join("api").display(),
        root.display(),
        if from_env { "from $MATRIX_SPEC_ROOT" } else { "default; $MATRIX_SPEC_ROOT is not set" },
    )))
}

/// The releases present under a spec root, oldest first (`v1.2` before `v1.10`).
pub fn releases(root: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("api").is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort_by_key(|n| release_key(n));
    Ok(names)
}

/// Sort key for release names like `v1.10`: numeric components, then the text.
pub fn release_key(name: &str) -> (Vec<u64>, String) {
    let nums = name
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
        .collect();
    (nums, name.to_owned())
}
