//! RRSIG RDATA and the data a signature covers (RFC 4034 §3.1.8.1).
//!
//! Signing and verification must build byte-identical signed data, so both use this
//! one definition. It takes the RRset's RDATA as stored by [`crate::zone`], which is
//! already canonical (names lowercased per RFC 4034 §6.2) and in canonical order, so
//! no re-sorting happens here (unlike hickory's `TBS`, which sorts
//! RDATA case-sensitively).

use crate::dns::name::Name;
use crate::dns::record::CLASS_IN;
use crate::zone::RRset;

/// The fixed-size part of RRSIG RDATA before the signer's name.
const FIXED: usize = 18;

/// The fields of one RRSIG, borrowed from its RDATA.
#[derive(Debug, Clone)]
pub struct Rrsig<'a> {
    /// Type covered.
    pub type_covered: u16,
    /// Algorithm number.
    pub algorithm: u8,
    /// Labels field: label count of the owner without a leading wildcard.
    pub labels: u8,
    /// TTL of the covered RRset when signed.
    pub original_ttl: u32,
    /// Expiration, RFC 4034 32-bit time (see [`crate::dns::time`]).
    pub expiration: u32,
    /// Inception, RFC 4034 32-bit time (see [`crate::dns::time`]).
    pub inception: u32,
    /// Key tag of the signing DNSKEY.
    pub key_tag: u16,
    /// Signer's name (the zone apex), wire form.
    pub signer: Name,
    /// The RDATA up to and including the signer's name: the part that is itself signed.
    pub prefix: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}

impl<'a> Rrsig<'a> {
    /// Splits RRSIG RDATA into its fields; `None` if it is malformed.
    pub fn parse(rdata: &'a [u8]) -> Option<Rrsig<'a>> {
        let fixed = rdata.get(..FIXED)?;
        let name_len = wire_name_len(rdata.get(FIXED..)?)?;
        let split = FIXED + name_len;
        let signer = Name::from_wire(rdata.get(FIXED..split)?).ok()?;
        let u16_at = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
        let u32_at =
            |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        Some(Rrsig {
            type_covered: u16_at(0),
            algorithm: fixed[2],
            labels: fixed[3],
            original_ttl: u32_at(4),
            expiration: u32_at(8),
            inception: u32_at(12),
            key_tag: u16_at(16),
            signer,
            prefix: &rdata[..split],
            signature: &rdata[split..],
        })
    }
}

/// Appends to `out` the RRSIG RDATA without the signature (the part that is signed
/// first). It writes into the caller's buffer because a signing run builds it twice per
/// signature (for the token, then for the finished RRSIG): keeping a copy per planned
/// signature cost about 300 octets each, 430 MB at a million delegations.
#[allow(clippy::too_many_arguments)]
pub fn write_prefix(
    out: &mut Vec<u8>,
    type_covered: u16,
    algorithm: u8,
    labels: u8,
    original_ttl: u32,
    expiration: u32,
    inception: u32,
    key_tag: u16,
    signer: &Name,
) {
    out.reserve(FIXED + signer.as_wire().len());
    out.extend_from_slice(&type_covered.to_be_bytes());
    out.push(algorithm);
    out.push(labels);
    out.extend_from_slice(&original_ttl.to_be_bytes());
    out.extend_from_slice(&expiration.to_be_bytes());
    out.extend_from_slice(&inception.to_be_bytes());
    out.extend_from_slice(&key_tag.to_be_bytes());
    signer.write_canonical(out);
}

/// Appends to `out` the data an RRSIG with `prefix` signs over `set` (RFC 4034 §3.1.8.1):
/// the prefix, then each RR in canonical form with the original TTL. When the RRSIG's
/// labels field is smaller than the owner's label count, the owner was matched by a
/// wildcard and is written as `*.` plus its rightmost `labels` labels (RFC 4035 §5.3.2).
pub fn signed_data(prefix: &[u8], labels: u8, original_ttl: u32, set: &RRset, out: &mut Vec<u8>) {
    out.extend_from_slice(prefix);
    // The owner is written once and copied from there for each further record: no
    // buffer of its own per call (this runs once per signature made and checked).
    let owner = out.len();
    if usize::from(labels) < set.owner.label_count() {
        set.owner
            .suffix(usize::from(labels))
            .wildcard_of()
            .write_canonical(out);
    } else {
        set.owner.write_canonical(out);
    }
    let owner = owner..out.len();
    for (n, rdata) in set.rdatas.iter().enumerate() {
        if n > 0 {
            out.extend_from_within(owner.clone());
        }
        out.extend_from_slice(&set.rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&original_ttl.to_be_bytes());
        // RDATA is at most 65535 bytes by construction of the parser.
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    if set.rdatas.is_empty() {
        out.truncate(owner.start);
    }
}

/// Length of the uncompressed wire name at the start of `bytes`.
fn wire_name_len(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let len = usize::from(*bytes.get(i)?);
        if len > 63 {
            return None;
        }
        i += 1 + len;
        if len == 0 {
            return Some(i);
        }
    }
}
