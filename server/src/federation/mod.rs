//! Federation: this server's signing identity, events as signed PDUs, and
//! the server-server operations on the generated `ServerServerApi` trait.
//!
//! Served on a listener of its own (`--federation-listen`), as the
//! server-server API is in deployments. What is here so far: the persisted
//! signing key, `/_matrix/key/v2/server`, `/_matrix/federation/v1/version`,
//! the hashing, redaction and signing of PDUs for every room version
//! (checked against the spec appendix's test vectors), and every event this
//! server appends built as a signed PDU (`build`: prev and auth events,
//! depth, reference-hash IDs), joins of other servers' users (`join`),
//! PDUs received (`receive`, placed in the graph and resolved where
//! branches meet: `branches`, `state_res`) and sent (`send`), the room's history for
//! other servers (`history`), joins of rooms elsewhere (`join_remote`),
//! invites of other servers' users (`invite_remote`) and of this server's
//! users by others (`invited`), and the notary key query (`api`). What is not yet here is in the README.

mod acl;
pub mod api;
pub(crate) mod branches;
pub mod build;
pub mod discovery;
mod edus;
mod history;
pub mod identity;
mod invite_remote;
mod invited;
mod join_remote;
pub mod keys;
mod membership;
mod outlier;
pub mod pdu;
mod public_rooms;
pub(crate) mod quirks;
mod receive;
pub mod send;
pub mod state_res;
mod third_party;
pub mod tls;
mod user_keys;

pub use api::Federation;
pub use identity::SigningIdentity;
