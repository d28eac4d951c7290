//! The resource record every later stage consumes.
//!
//! RDATA is kept as canonical wire bytes (names uncompressed, lowercased where
//! RFC 4034 §6.2 requires), because that is what gets sorted, deduplicated and signed;
//! presentation form is only produced again on output.

use crate::dns::name::Name;

/// Where a record came from, for error messages: index into the parsed zone's file
/// list, and 1-based line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SourceLoc {
    /// Index into `ParsedZone::files`.
    pub file: u32,
    /// 1-based line where the record starts.
    pub line: u32,
}

/// One resource record in canonical wire form, with its source location so that
/// later checks can point at the offending line.
#[derive(Clone, Debug)]
pub struct Record {
    /// Owner name (stored lowercased by the zone file reader).
    pub owner: Name,
    /// RR type number (see [`rtype`]).
    pub rtype: u16,
    /// RR class number ([`CLASS_IN`] for anything we sign).
    pub class: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Uncompressed canonical RDATA.
    pub rdata: Box<[u8]>,
    /// Where the record was read from.
    pub loc: SourceLoc,
}

/// RR type numbers, by name, so no stage writes a bare magic number: the record type
/// registry ([`crate::dns::registry::rtype`]), re-exported where the record is.
pub use crate::dns::registry::rtype;

/// The class numbers of the class registry ([`crate::dns::registry::class`]) under the
/// names the pipeline uses: `CLASS_IN`, the only class zonesign signs, and the others
/// the parser accepts and later checks reject.
pub use crate::dns::registry::class::{
    CH as CLASS_CH, CS as CLASS_CS, HS as CLASS_HS, IN as CLASS_IN,
};
