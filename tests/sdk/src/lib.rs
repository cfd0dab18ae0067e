//! No library: the test is in `tests/encrypted_room.rs`.
