//! The integration tests, in one binary (as ripgrep does): one build of the shared
//! helpers and one link instead of one per file. Each module drives the real
//! `zonesign` binary against a real SoftHSM2 token and the external validators.
//! The fault tests (`tests/faults.rs`) stay a binary of their own: they kill runs and
//! take the token away at measured moments, and run best without unrelated load.
//!
//! Run one module with `cargo test --test integration MODULE::` (e.g. `fuzz::`).

#[path = "../common/mod.rs"]
mod common;

mod algorithm_roll;
mod audit_rotation;
mod bad_input;
mod cron_cycle;
mod differential;
mod fuzz;
mod hsm_bench;
mod hsm_cluster;
mod ingress;
mod key_lifecycle;
mod nsec3;
mod nsec3_sign;
mod security;
mod sign_validators;
mod takeover;
mod takeover_ods;
mod verify_foreign;
mod verify_rfc;
mod zonemd;
