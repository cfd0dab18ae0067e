//! Reading a spec from disk: files, `$ref`s, and the two OpenAPI dialects.

pub mod api;
pub mod archive;
pub mod docs;
pub mod loose;
pub mod manifest;
pub mod quirks;
pub mod spec;
pub mod web_copy;
pub mod yaml;
