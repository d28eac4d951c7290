//! zonesign: a DNSSEC zone signer for top-level-domain operators.
//!
//! The pipeline runs one way, one module per stage:
//! zone text ([`zonefile`]) → records ([`record`], [`name`], [`rdata`]) → checks
//! ([`checks`]) → canonical order and NSEC ([`zone`], [`nsec`]) → policy ([`policy`]) →
//! keys and the HSM ([`keys`], [`hsm`]) → signatures ([`sign`]) → verification
//! ([`verify`], [`crypto`]) → output ([`output`]), with every HSM act in the audit log
//! ([`audit`]). `main.rs` is a thin shell over [`cli`].

pub mod algorithm;
pub mod name;
pub mod rdata;
pub mod record;
pub mod zonefile;
