//! Stage 1, zone text → records: owner names ([`name`]), the DNS number registries
//! (record types in [`record`], DNSSEC algorithms and digest types in [`algorithm`]),
//! RDATA in canonical wire form with its text form ([`rdata`]), and the streaming
//! zone-file reader with file:line errors ([`zonefile`]).

pub mod algorithm;
pub mod name;
pub mod rdata;
pub mod record;
pub mod zonefile;
