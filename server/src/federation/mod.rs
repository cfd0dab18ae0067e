//! Federation: this server's signing identity, events as signed PDUs, and
//! the server-server operations on the generated `ServerServerApi` trait.
//!
//! Served on a listener of its own (`--federation-listen`), as the
//! server-server API is in deployments. What is here so far: the persisted
//! signing key, `/_matrix/key/v2/server`, `/_matrix/federation/v1/version`,
//! and the hashing, redaction and signing of PDUs for every room version
//! (checked against the spec appendix's test vectors). Joining, sending and
//! receiving PDUs are not yet wired in (see the README).

pub mod api;
pub mod identity;
pub mod pdu;

pub use api::Federation;
pub use identity::SigningIdentity;
