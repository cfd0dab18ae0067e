//! The homeserver's scenario tests, in one test binary: each module is one
//! subject (room rules, federation, durability, ...). One binary links the
//! server once instead of once per subject, which keeps a clean build's disk
//! use and link time down; `cargo test -p server --test scenarios <module>::`
//! runs one subject.

/// The database of this binary's homeservers; `scenarios_postgres` runs
/// the scenarios that depend on the database again on PostgreSQL.
const DATABASE: common::Database = common::Database::Sqlite;

mod common;
mod peers;
mod raw;

mod abuse;
mod account_threepids;
mod accounts;
mod acl;
mod appservice;
mod bad_input;
mod calls_and_bridges;
mod durability;
mod encryption;
mod federation;
mod forks;
mod homeserver;
mod key_backup;
mod limits;
mod migrate_db;
mod presence;
mod public_rooms;
mod push;
mod push_delivery;
mod room_rules;
mod srv;
mod synapse;
mod sync_options;
mod third_party_invites;
