//! The spec's older releases (`../shared/matrix-spec-history/`, 2015–2019),
//! unpacked once per build folder into `target/spec-history/`
//! ([`matrix_codegen::load::archive`]).

use crate::workspace_root;
use std::path::PathBuf;

/// The folder holding the archives, beside the spec root.
pub fn history_root() -> PathBuf {
    matrix_codegen::load::archive::beside(&crate::spec_root())
        .unwrap_or_else(|| workspace_root().join("../shared/matrix-spec-history"))
}

/// Every archived release, oldest first: (name, extracted folder).
pub fn history_releases() -> Vec<(String, PathBuf)> {
    // A test binary's tests run in threads; one unpacks, the others wait.
    static UNPACKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = UNPACKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let releases =
        matrix_codegen::load::archive::releases(&history_root(), &workspace_root().join("target/spec-history"))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !releases.is_empty(),
        "no release archives in {}",
        history_root().display()
    );
    releases
}
