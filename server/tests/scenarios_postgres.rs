//! The scenarios whose outcome rests on the database, run again with the
//! homeserver on PostgreSQL (the `scenarios` binary runs them on SQLite):
//! two users' conversation and its errors, SIGKILL after acknowledgement,
//! twenty senders at once, and bad input that must store nothing; and,
//! for PostgreSQL only, two server processes on one database. The
//! modules are the same files; `DATABASE` is what differs. A failure here
//! and not there is PostgreSQL's.

// The shared helpers also serve modules this binary leaves out.
#![allow(dead_code)]

/// The database of this binary's homeservers.
const DATABASE: common::Database = common::Database::Postgres;

#[path = "scenarios/common/mod.rs"]
mod common;
#[path = "scenarios/raw/mod.rs"]
mod raw;

#[path = "scenarios/bad_input.rs"]
mod bad_input;
#[path = "scenarios/durability.rs"]
mod durability;
#[path = "scenarios/homeserver.rs"]
mod homeserver;
/// Only here: SQLite has one process.
#[path = "scenarios/two_processes.rs"]
mod two_processes;
