//! The DNS CLASSes registry: the classes the zone-file reader accepts by name.
//!
//! zonesign signs class IN only; the others are read (so that the error names the
//! record) and rejected by the checks that follow.

use super::{parse_decimal, registry, strip_prefix_ci};

registry! {
    number: u16;

    /// The Internet class, the only one zonesign signs.
    IN = 1, "IN";
    /// The CSNET class (obsolete; accepted by the parser, rejected later).
    CS = 2, "CS";
    /// The CHAOS class (accepted by the parser, rejected later).
    CH = 3, "CH";
    /// The Hesiod class (accepted by the parser, rejected later).
    HS = 4, "HS";
}

/// Reads a class field: a mnemonic in any case, or the RFC 3597 `CLASSnnn` form (at
/// most five digits).
pub fn from_text(text: &[u8]) -> Option<u16> {
    // Nearly every record that names its class names IN, in upper case.
    if text == b"IN" {
        return Some(IN);
    }
    if let Some(code) = from_mnemonic(text) {
        return Some(code);
    }
    let digits = strip_prefix_ci(text, b"CLASS")?;
    if digits.len() > 5 {
        return None;
    }
    parse_decimal(digits, u64::from(u16::MAX)).and_then(|v| u16::try_from(v).ok())
}
