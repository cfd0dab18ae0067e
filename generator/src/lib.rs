//! `matrix-codegen`: reads the Matrix specification and writes Rust.
//!
//! The data flows one way: [`load`] (files, `$ref`s, Swagger 2.0 and
//! OpenAPI 3.1 normalized) → [`ir`] (operations, named types, events,
//! examples; names decided once) → [`emit`] (token streams, formatted by
//! prettyplease, written in one place).

pub mod bundle;
pub mod diag;
pub mod diff;
pub mod emit;
pub mod family;
pub mod ir;
pub mod load;
pub mod stats;

pub use diag::{Error, Location, Result};

use std::path::Path;

/// A spec read from disk and turned into IR.
pub struct Spec {
    pub store: load::docs::DocStore,
    pub api: ir::Api,
}

/// Loads the spec folder at `dir` (a matrix-spec `data/` folder).
pub fn load_spec(dir: &Path) -> Result<Spec> {
    let mut store = load::docs::DocStore::load(dir)?;
    ir::unsigned_data::extend(&mut store)?;
    let corrected = ir::errata::apply(&mut store)?;
    let mut api = ir::build(&store)?;
    api.warnings.extend(corrected);
    Ok(Spec { store, api })
}

/// Loads one loose API description and the files it refers to, taken from
/// the release folder `refs_from` or else from beside the file
/// ([`load::loose`]).
pub fn load_spec_file(file: &Path, refs_from: Option<&Path>) -> Result<Spec> {
    let mut store = load::loose::load_file(file, refs_from)?;
    ir::unsigned_data::extend(&mut store)?;
    let corrected = ir::errata::apply(&mut store)?;
    let mut api = ir::build(&store)?;
    api.warnings.extend(corrected);
    Ok(Spec { store, api })
}
