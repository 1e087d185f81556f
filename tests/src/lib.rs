//! Shared helpers for picospike's cross-crate tests: hand-built networks and blob utilities.
