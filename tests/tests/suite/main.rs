//! The generator's and the generated crate's integration tests, in one test
//! binary: each module is one subject (every release, the seeds, examples,
//! interop with Synapse, ...). One binary links the generated crate once
//! instead of once per subject, which keeps a clean build's disk use and link
//! time down; `cargo test -p matrix-api-tests --test suite <module>::` runs
//! one subject.

mod bad_specs;
mod bot;
mod bundle;
mod contract;
mod cursed_names;
mod diff;
mod events;
mod examples;
mod generated_crate;
mod history;
mod interop;
mod loopback;
mod nio_client;
mod one_type_per_schema;
mod releases;
mod robustness;
mod seeds;
mod server_errors;
mod server_typed;
