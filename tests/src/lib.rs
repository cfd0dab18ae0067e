//! Helpers shared by the integration tests and the `check-examples` binary.

pub mod bot;
pub mod crates;
pub mod dns;
pub mod history;
pub mod people;
pub mod postgres;
pub mod process;
pub mod python;
pub mod scenario;
pub mod smtp;
pub mod sydent;
pub mod synapse;

use matrix_codegen::emit::types::ty_key;
use matrix_codegen::family::Module;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The folder holding one folder per release (`MATRIX_SPEC_ROOT` or `../shared/matrix-spec`).
pub fn spec_root() -> PathBuf {
    matrix_codegen::load::spec::spec_root(&workspace_root())
}

/// A release folder, e.g. `release_dir("v1.19")`.
pub fn release_dir(release: &str) -> PathBuf {
    let dir = spec_root().join(release);
    assert!(
        dir.join("api").is_dir(),
        "spec release {} not found at {}",
        release,
        dir.display()
    );
    dir
}

/// JSON equality where numbers compare by value (`5` equals `5.0`): a
/// `number` field decoded as `f64` re-encodes `5` as `5.0`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The first place where two JSON values differ, as a JSON pointer.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    None => return Some(format!("{path}/{k} (dropped)")),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, &format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{k} (added)"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}/{i}"))),
        _ if json_eq(a, b) => None,
        _ => Some(format!("{path}: {a} became {b}")),
    }
}

#[derive(Debug, Serialize)]
pub struct ExampleOutcome {
    pub location: String,
    pub kind: String,
    pub type_key: String,
    /// `None` when it round-tripped; otherwise what went wrong.
    pub failure: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExampleReport {
    pub total: usize,
    pub passed: usize,
    pub passed_by_module: BTreeMap<String, usize>,
    pub outcomes: Vec<ExampleOutcome>,
}

/// Decodes every example of the spec at `dir` into its generated type (via
/// the registry of the committed `generated/` crate) and compares the
/// re-encoded JSON with the original.
pub fn check_examples(dir: &Path) -> ExampleReport {
    let spec = matrix_codegen::load_spec(dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
    let mut outcomes = Vec::new();
    let mut passed_by_module: BTreeMap<String, usize> = BTreeMap::new();
    for example in &spec.api.examples {
        let key = ty_key(&spec.api, &example.ty);
        let kind = serde_json::to_value(example.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let failure = match spec.store.inline_example(&example.location, &example.value) {
            Err(e) => Some(format!("example does not resolve: {e}")),
            Ok(value) => match matrix_api::registry::round_trip(&key, &value) {
                None => Some(format!("type `{key}` is not in the registry")),
                Some(Err(e)) => Some(format!("does not decode: {e}")),
                Some(Ok(back)) if json_eq(&value, &back) => None,
                Some(Ok(back)) => Some(format!(
                    "re-encodes differently at {}",
                    first_difference(&value, &back, "").unwrap_or_default()
                )),
            },
        };
        if failure.is_none() {
            let module = Module::of_file(&example.location.file)
                .map(|m| m.feature())
                .unwrap_or("other");
            *passed_by_module.entry(module.to_owned()).or_default() += 1;
        }
        outcomes.push(ExampleOutcome {
            location: example.location.to_string(),
            kind,
            type_key: key,
            failure,
        });
    }
    ExampleReport {
        total: outcomes.len(),
        passed: outcomes.iter().filter(|o| o.failure.is_none()).count(),
        passed_by_module,
        outcomes,
    }
}

/// Serves an axum router on a bound listener until the test ends.
pub async fn serve(listener: tokio::net::TcpListener, router: matrix_api_runtime::server::Router) {
    let _ = matrix_api_runtime::server::serve(listener, router).await;
}
