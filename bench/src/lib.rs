//! Shared parts of the benchmark programs.

pub mod fixture;
pub mod load;
