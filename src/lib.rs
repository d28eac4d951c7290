//! zonesign: a DNSSEC zone signer for top-level-domain operators.
//!
//! The pipeline runs one way, one module per stage:
//! zone text ([`zonefile`]) → records ([`record`], [`name`], [`rdata`]) → checks
//! ([`checks`]) → canonical order and NSEC ([`zone`], [`nsec`]) → policy ([`policy`]) →
//! keys and the HSM ([`keys`], [`hsm`]) → signatures ([`sign`]) → verification
//! ([`verify`], [`crypto`] with [`rsa_verify`] and [`ecdsa_table`]) → output ([`output`]),
//! with every HSM act in the audit log ([`audit`]). `main.rs` is a thin shell over
//! [`cli`]; [`seccheck`] fills in the SEC-* security checklist (`zonesign check`).

pub mod algorithm;
pub mod audit;
pub mod checks;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod ecdsa_table;
pub mod error;
pub mod hsm;
pub mod hsm_process;
pub mod hsmbench;
pub mod keys;
pub mod lifecycle;
pub mod name;
pub mod nsec;
pub mod output;
pub mod parallel;
pub mod pipeline;
pub mod policy;
pub mod rdata;
pub mod record;
pub mod report;
pub mod resign;
pub mod rrsig;
pub mod rsa_verify;
pub mod seccheck;
pub mod setup;
pub mod sign;
pub mod snapshot;
pub mod token_recovery;
pub mod verify;
pub mod zone;
pub mod zonefile;
