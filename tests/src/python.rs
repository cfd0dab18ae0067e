//! Python tools from PyPI (matrix-nio, Synapse, schemathesis,
//! openapi-spec-validator), each in its own virtual environment under
//! `target/`, created on first use so `cargo test` works on a fresh machine.
//! `.ci/run` creates them up front so the tests' own times stay honest.

use crate::workspace_root;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Serialises creation: tests of one binary run in parallel.
static CREATING: Mutex<()> = Mutex::new(());

/// A virtual environment `target/venv-<name>` holding `requirements`.
/// Reinstalled when the requirements change (a marker file records them).
pub fn venv(name: &str, requirements: &[&str]) -> PathBuf {
    let _guard = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace_root().join("target").join(format!("venv-{name}"));
    let marker = dir.join(".requirements");
    let wanted = requirements.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|have| have == wanted) {
        return dir;
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "could not create a Python virtual environment at {}", dir.display());
    let ok = Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "could not install {requirements:?} from PyPI into {}",
        dir.display()
    );
    std::fs::write(&marker, wanted).expect("writing the venv marker");
    dir
}

/// The pinned requirements of each tool, in one place.
pub const NIO: &[&str] = &["matrix-nio==0.26.0"];
pub const SYNAPSE: &[&str] = &["matrix-synapse==1.163.2"];
pub const SCHEMATHESIS: &[&str] = &["schemathesis==4.32.5"];
pub const OPENAPI_SPEC_VALIDATOR: &[&str] = &["openapi-spec-validator==0.8.*"];
