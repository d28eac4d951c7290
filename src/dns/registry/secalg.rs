//! The DNS Security Algorithm Numbers registry: the algorithm field of DNSKEY, DS and
//! RRSIG records.
//!
//! The table names every algorithm the zone-file reader accepts by mnemonic in an
//! algorithm field. What zonesign does with a number is decided elsewhere, by name:
//! [`crate::dns::algorithm::Algorithm`] is the subset it signs with, and
//! [`crate::dnssec::crypto`] the subset its verifier checks (5, 7, 8, 10, 13, 14, 15).

use super::registry;

registry! {
    number: u8;

    /// RSA/MD5 (deprecated; its key tag is computed differently, RFC 4034 Appendix B.1).
    RSAMD5 = 1, "RSAMD5";
    /// Diffie-Hellman.
    DH = 2, "DH";
    /// DSA/SHA-1.
    DSA = 3, "DSA";
    /// RSA/SHA-1 (RFC 3110).
    RSASHA1 = 5, "RSASHA1";
    /// DSA/SHA-1 with NSEC3.
    DSA_NSEC3_SHA1 = 6, "DSA-NSEC3-SHA1";
    /// RSA/SHA-1 with NSEC3 (RFC 5155): RSASHA1 under another number.
    RSASHA1_NSEC3_SHA1 = 7, "RSASHA1-NSEC3-SHA1";
    /// RSA/SHA-256 (RFC 5702).
    RSASHA256 = 8, "RSASHA256";
    /// RSA/SHA-512 (RFC 5702).
    RSASHA512 = 10, "RSASHA512";
    /// GOST R 34.10-2001 (RFC 5933).
    ECC_GOST = 12, "ECC-GOST";
    /// ECDSA P-256 with SHA-256 (RFC 6605).
    ECDSAP256SHA256 = 13, "ECDSAP256SHA256";
    /// ECDSA P-384 with SHA-384 (RFC 6605).
    ECDSAP384SHA384 = 14, "ECDSAP384SHA384";
    /// Ed25519 (RFC 8080).
    ED25519 = 15, "ED25519";
    /// Ed448 (RFC 8080).
    ED448 = 16, "ED448";
    /// Reserved for indirect keys.
    INDIRECT = 252, "INDIRECT";
    /// Private algorithm named by a domain name.
    PRIVATEDNS = 253, "PRIVATEDNS";
    /// Private algorithm named by an OID.
    PRIVATEOID = 254, "PRIVATEOID";
}

/// Reads an algorithm field: the number, or a mnemonic in any case.
pub fn from_text(text: &[u8]) -> Option<u8> {
    if let Some(v) = super::parse_decimal(text, 255) {
        return u8::try_from(v).ok();
    }
    from_mnemonic(text)
}
