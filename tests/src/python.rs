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

/// The list of environments (shared with `.ci/run` and `cargo xtask bench`).
const VENVS: &str = include_str!("../python/venvs.txt");

/// The pip requirements of environment `name` in tests/python/venvs.txt
/// (separated by spaces).
pub fn requirement(name: &str) -> &'static str {
    VENVS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.split_once(' ').filter(|(n, _)| *n == name).map(|(_, r)| r.trim()))
        .unwrap_or_else(|| panic!("no environment `{name}` in tests/python/venvs.txt"))
}

/// The virtual environment `target/venv-<name>`, created on first use (or
/// again when its requirement changes; a marker file records it).
pub fn venv(name: &str) -> PathBuf {
    let _guard = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let wanted = requirement(name);
    let dir = workspace_root().join("target").join(format!("venv-{name}"));
    let marker = dir.join(".requirements");
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
        .args(wanted.split_whitespace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "could not install {wanted} from PyPI into {}", dir.display());
    std::fs::write(&marker, wanted).expect("writing the venv marker");
    dir
}
