//! Reading a spec from disk: files, `$ref`s, and the two OpenAPI dialects.

pub mod api;
pub mod docs;
pub mod manifest;
pub mod quirks;
pub mod spec;
pub mod yaml;
