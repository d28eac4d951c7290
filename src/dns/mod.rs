//! Stage 1, zone text → records: owner names ([`name`]), the DNS number registries
//! ([`registry`]: record types, classes, DNSSEC algorithms, DS digest types, SVCB
//! keys; [`algorithm`] is the subset zonesign signs with), DNSSEC time ([`time`]),
//! RDATA in canonical wire form with its text form ([`rdata`]), the record
//! ([`record`]), and the streaming zone-file reader with file:line errors
//! ([`zonefile`]).

pub mod algorithm;
pub mod name;
pub mod rdata;
pub mod record;
pub mod registry;
pub mod time;
pub mod zonefile;
