//! RDATA presentation form <-> canonical wire form.
//!
//! Each supported type is described by one table of field kinds (`fields`, in the
//! spirit of ldns's rdf descriptors). The same table drives three things, so they can
//! never disagree: parsing presentation tokens (`parse`), validating/canonicalizing
//! RFC 3597 generic (`\# len hex`) RDATA, and printing (`format`). Names inside RDATA
//! of the types listed in RFC 4034 §6.2 (a property in the type registry,
//! [`crate::dns::registry::rtype::TypeProps`]) are stored lowercased, because the
//! stored bytes are what we sign. Type bitmaps (`bitmap`), SVCB/HTTPS parameters
//! (`svcb`), LOC (`loc`) and APL (`apl`) are small formats of their own, each in its
//! file; WKS, NXT, A6, HIP, AMTRELAY, ATMA and NSAP, whose parts depend on each other,
//! are in `compound`.
//!
//! Why our own instead of hickory-proto's: hickory's text parser rejects signed zones,
//! DNAME, RFC 3597 generic RDATA and `\DDD` escapes, reports no line numbers, and its
//! record representation is about 7x slower and 5x bigger than the compact wire bytes
//! kept here.

mod apl;
mod bitmap;
mod check;
mod compound;
mod fields;
mod format;
mod loc;
mod parse;
mod svcb;

pub use bitmap::{decode_type_bitmap, encode_type_bitmap};
pub use format::{format_rdata, push_u32};
pub use parse::{parse_period, parse_rdata, parse_rdata_into};

/// What is wrong with some RDATA, as a message naming the field and the defect; the
/// zone file reader adds the file, line and type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RdataError {
    /// Human-readable description, e.g. "bad IPv4 address '1.2.3'".
    pub message: String,
}

impl RdataError {
    /// Builds an error from any message.
    fn new(message: impl Into<String>) -> RdataError {
        RdataError {
            message: message.into(),
        }
    }
}

/// Shorthand for an `Err` with a message.
fn fail<T>(message: impl Into<String>) -> Result<T, RdataError> {
    Err(RdataError::new(message))
}

/// Shows token bytes in an error message (lossy; only runs on the error path).
fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

/// One token of an RR's RDATA as the tokenizer saw it: raw bytes (escapes NOT yet
/// processed) and whether it was in double quotes. Borrowing the input buffer keeps
/// tokenizing allocation-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token's bytes, without surrounding quotes, escapes untouched.
    pub text: &'a [u8],
    /// True if the token was written in double quotes.
    pub quoted: bool,
}

/// Type mnemonics in type fields and bitmaps: the type registry's lookups, under the
/// names the reader and the printers use.
pub use crate::dns::registry::rtype::{from_text as type_code, to_text as type_name};
pub use format::push_type as push_type_name;

#[cfg(test)]
mod tests;
