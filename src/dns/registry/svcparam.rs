//! The Service Parameter Keys (SvcParamKeys) registry of RFC 9460 §14.3.2: the keys of
//! SVCB and HTTPS records.
//!
//! Unlike the other registries, the presentation names are case-sensitive (RFC 9460
//! §2.1: lower case only), so [`from_text`] and not the case-insensitive
//! `from_mnemonic` reads them.

use std::fmt::Write as _;

use super::{parse_decimal, registry};

registry! {
    number: u16;

    /// Keys the client must understand to use the record.
    MANDATORY = 0, "mandatory";
    /// Application protocol ids.
    ALPN = 1, "alpn";
    /// The default protocol is not supported.
    NO_DEFAULT_ALPN = 2, "no-default-alpn";
    /// TCP or UDP port.
    PORT = 3, "port";
    /// IPv4 address hints.
    IPV4HINT = 4, "ipv4hint";
    /// Encrypted ClientHello configuration.
    ECH = 5, "ech";
    /// IPv6 address hints.
    IPV6HINT = 6, "ipv6hint";
    /// DNS over HTTPS path template (RFC 9461).
    DOHPATH = 7, "dohpath";
}

/// Reserved as "Invalid key" (RFC 9460 §14.3.2). It has no presentation name (so no
/// row in [`TABLE`]) but is read as `key65535` like any other number (RFC 9460 §2.1:
/// `keyNNNNN` for any number): named-checkzone 9.18, kzonecheck 3.2 and ldns 1.8 all
/// read `key65535` and `key65535=x`, and zonesign reads every zone they read.
pub const INVALID: u16 = 65535;

/// Reads a key: its name, or `keyNNNNN` (case-sensitive).
pub fn from_text(name: &[u8]) -> Option<u16> {
    if let Some(e) = TABLE.iter().find(|e| e.mnemonic.as_bytes() == name) {
        return Some(e.number);
    }
    let digits = name.strip_prefix(b"key")?;
    parse_decimal(digits, u64::from(INVALID)).and_then(|v| u16::try_from(v).ok())
}

/// Appends a key's presentation name, or `keyNNNNN` when the table has none.
pub fn push_text(key: u16, out: &mut String) {
    match mnemonic(key) {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}
