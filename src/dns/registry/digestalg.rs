//! The DS RR Type Digest Algorithms registry: the digest types of DS (and CDS) records.
//!
//! The DS digests themselves are computed in [`crate::dnssec::crypto::ds_digest`], for
//! the types that have a constant here and a hash there.

use super::registry;

registry! {
    number: u8;

    /// SHA-1 (RFC 4034 §5.1.4).
    SHA1 = 1, "SHA-1";
    /// SHA-256 (RFC 4509).
    SHA256 = 2, "SHA-256";
    /// GOST R 34.11-94 (RFC 5933; not computed by zonesign).
    GOST = 3, "GOST R 34.11-94";
    /// SHA-384 (RFC 6605).
    SHA384 = 4, "SHA-384";
}
