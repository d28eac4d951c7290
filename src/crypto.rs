//! DNSSEC cryptography for the verification gate (SPEC DPS-6.6): key tags, DS digests
//! and signature verification from public keys only.
//!
//! Everything here is pure Rust and shares no code with the signing path (the HSM
//! token), so a signer bug cannot hide itself by being "verified" by the same code
//! that produced it. Every input may come from an untrusted zone file, so every
//! function returns a typed error (or `None`) instead of panicking.

// One `signature` 3 trait serves the rsa, p256 and ed25519-dalek key types alike.
use rsa::signature::Verifier as _;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// DNSKEY RDATA header length: flags (2), protocol (1), algorithm (1) (RFC 4034 §2.1).
const DNSKEY_HEADER_LEN: usize = 4;
/// The only DNSKEY protocol value RFC 4034 §2.1.2 allows.
const DNSKEY_PROTOCOL: u8 = 3;
/// The Zone Key flag (bit 7, RFC 4034 §2.1.1); without it a key must not verify RRSIGs.
const ZONE_KEY_FLAG: u16 = 0x0100;
/// Smallest RSA modulus we trust (DPS policy: nothing weaker than RSA-1024).
const RSA_MIN_BITS: usize = 1024;
/// Largest RSA modulus RFC 3110/5702 allow for DNSSEC (and the most any signer uses).
const RSA_MAX_BITS: usize = 4096;
/// Longest RSA public exponent we accept; the `rsa` crate caps exponents at 2^33 - 1.
const RSA_MAX_EXPONENT_LEN: usize = 8;

/// Why a key could not be used or a signature did not verify.
///
/// Callers (the verification gate) report these per RRSIG, so the variants separate
/// "we cannot check this" (unsupported algorithm) from "this is wrong" (bad key or
/// signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The DNSKEY algorithm number is not one this verifier implements.
    #[error("unsupported DNSSEC algorithm {0}")]
    UnsupportedAlgorithm(u8),
    /// The DNSKEY (or its public-key field) is malformed or too weak; the text says why.
    #[error("bad DNSKEY public key: {0}")]
    BadKey(String),
    /// The signature is malformed or does not match the message and key.
    #[error("signature does not verify")]
    BadSignature,
}

/// RFC 4034 Appendix B key tag over the DNSKEY RDATA (flags|protocol|alg|key), including
/// the algorithm-1 special case.
///
/// The key tag is how RRSIG and DS records name their DNSKEY; it is a checksum, not a
/// unique id, so callers must still try every key with a matching tag. Never panics:
/// short RDATA simply yields the checksum of what is there.
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    if dnskey_rdata.get(3) == Some(&1) {
        if let Some(tag) = rsamd5_key_tag(dnskey_rdata) {
            return tag;
        }
    }
    checksum_key_tag(dnskey_rdata)
}

/// Appendix B.1: for RSA/MD5 the tag is the most significant 16 of the least
/// significant 24 bits of the modulus, i.e. the third- and second-last RDATA octets.
fn rsamd5_key_tag(rdata: &[u8]) -> Option<u16> {
    let start = rdata.len().checked_sub(3)?;
    if start < DNSKEY_HEADER_LEN {
        return None;
    }
    Some(u16::from_be_bytes([rdata[start], rdata[start + 1]]))
}

/// Appendix B: the ones'-complement-like sum over the RDATA taken as 16-bit words.
fn checksum_key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u64 = 0;
    for (i, &byte) in rdata.iter().enumerate() {
        ac += if i % 2 == 0 {
            u64::from(byte) << 8
        } else {
            u64::from(byte)
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// DS digest types we compute: 1 SHA-1, 2 SHA-256, 4 SHA-384 (RFC 4034 §5.1.4, RFC 4509,
/// RFC 6605). None for others.
///
/// The digest covers the owner name (canonical: lowercased, uncompressed wire form)
/// followed by the DNSKEY RDATA, so a DS binds a key to one zone (RFC 4034 §5.1.4).
pub fn ds_digest(
    owner_canonical_wire: &[u8],
    dnskey_rdata: &[u8],
    digest_type: u8,
) -> Option<Vec<u8>> {
    match digest_type {
        1 => Some(hash_two::<Sha1>(owner_canonical_wire, dnskey_rdata)),
        2 => Some(hash_two::<Sha256>(owner_canonical_wire, dnskey_rdata)),
        4 => Some(hash_two::<Sha384>(owner_canonical_wire, dnskey_rdata)),
        _ => None,
    }
}

/// Hashes `a || b` without first copying them into one buffer.
fn hash_two<D: Digest>(a: &[u8], b: &[u8]) -> Vec<u8> {
    D::new().chain_update(a).chain_update(b).finalize().to_vec()
}

/// Builds full DS RDATA (key tag | alg | digest type | digest) for a DNSKEY.
///
/// This is what goes to the parent zone, so it is built in one place from the same
/// key-tag and digest code the verifier uses. `None` for an unsupported digest type
/// or DNSKEY RDATA too short to hold an algorithm octet.
pub fn ds_rdata(
    owner_canonical_wire: &[u8],
    dnskey_rdata: &[u8],
    digest_type: u8,
) -> Option<Vec<u8>> {
    let algorithm = *dnskey_rdata.get(3)?;
    let digest = ds_digest(owner_canonical_wire, dnskey_rdata, digest_type)?;
    let mut rdata = Vec::with_capacity(4 + digest.len());
    rdata.extend_from_slice(&key_tag(dnskey_rdata).to_be_bytes());
    rdata.push(algorithm);
    rdata.push(digest_type);
    rdata.extend_from_slice(&digest);
    Some(rdata)
}

/// The parsed key material, one variant per verification routine.
#[derive(Clone)]
enum KeyKind {
    /// RSASHA1 and RSASHA1-NSEC3-SHA1 (algorithms 5 and 7).
    RsaSha1(rsa::pkcs1v15::VerifyingKey<Sha1>),
    /// RSASHA256 (algorithm 8).
    RsaSha256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    /// RSASHA512 (algorithm 10).
    RsaSha512(rsa::pkcs1v15::VerifyingKey<Sha512>),
    /// ECDSAP256SHA256 (algorithm 13).
    P256(p256::ecdsa::VerifyingKey),
    /// ED25519 (algorithm 15).
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A DNSKEY public key parsed once, so verifying a million RRSIGs does not re-parse the
/// key each time.
///
/// It is `Send + Sync` so the verification gate can share one key across threads.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: u8,
    bits: u32,
    kind: KeyKind,
}

impl std::fmt::Debug for VerifyingKey {
    /// Shows what an operator needs (algorithm and size), not the key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .finish()
    }
}

impl VerifyingKey {
    /// Parses the public-key field of a DNSKEY for `algorithm`.
    ///
    /// Algorithms: 5 RSASHA1, 7 RSASHA1-NSEC3-SHA1, 8 RSASHA256, 10 RSASHA512 (RFC 3110
    /// key field; moduli of 1024..=4096 bits, smaller ones are `BadKey`), 13
    /// ECDSAP256SHA256 (64-octet X||Y, RFC 6605), 15 ED25519 (32 octets, RFC 8080).
    /// 14 ECDSAP384SHA384 is `UnsupportedAlgorithm`: no pure-Rust P-384 crate is
    /// available to this build.
    pub fn from_dnskey(algorithm: u8, public_key: &[u8]) -> Result<VerifyingKey, CryptoError> {
        Self::from_dnskey_with_rsa_min_bits(algorithm, public_key, RSA_MIN_BITS)
    }

    /// Parses full DNSKEY RDATA (flags | protocol | algorithm | public key).
    ///
    /// Rejects protocol values other than 3 and keys without the Zone Key flag, because
    /// RFC 4034 §2.1.1–2.1.2 forbid using such keys to verify RRSIGs.
    pub fn from_dnskey_rdata(dnskey_rdata: &[u8]) -> Result<VerifyingKey, CryptoError> {
        let (header, public_key) = dnskey_rdata
            .split_first_chunk::<DNSKEY_HEADER_LEN>()
            .ok_or_else(|| bad_key("DNSKEY RDATA shorter than 4 octets"))?;
        let flags = u16::from_be_bytes([header[0], header[1]]);
        if header[2] != DNSKEY_PROTOCOL {
            return Err(bad_key(format!("DNSKEY protocol {} is not 3", header[2])));
        }
        if flags & ZONE_KEY_FLAG == 0 {
            return Err(bad_key("DNSKEY lacks the Zone Key flag"));
        }
        Self::from_dnskey(header[3], public_key)
    }

    /// Like [`VerifyingKey::from_dnskey`] but with a caller-chosen RSA minimum size, so
    /// tests can check the 512-bit RFC 5702 example without weakening the real policy.
    fn from_dnskey_with_rsa_min_bits(
        algorithm: u8,
        public_key: &[u8],
        rsa_min_bits: usize,
    ) -> Result<VerifyingKey, CryptoError> {
        match algorithm {
            5 | 7 | 8 | 10 => parse_rsa(algorithm, public_key, rsa_min_bits),
            13 => parse_p256(public_key),
            15 => parse_ed25519(public_key),
            other => Err(CryptoError::UnsupportedAlgorithm(other)),
        }
    }

    /// Verify `signature` over `message` (the RFC 4034 §3.1.8.1 signed data: RRSIG RDATA
    /// without the signature, then the canonical RRset).
    ///
    /// Any malformed signature (wrong length, out-of-range values) is `BadSignature`, the
    /// same as a well-formed one that does not match: either way the RRSIG is bogus.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let ok = match &self.kind {
            KeyKind::RsaSha1(key) => verify_rsa(key, message, signature),
            KeyKind::RsaSha256(key) => verify_rsa(key, message, signature),
            KeyKind::RsaSha512(key) => verify_rsa(key, message, signature),
            KeyKind::P256(key) => verify_p256(key, message, signature),
            KeyKind::Ed25519(key) => verify_ed25519(key, message, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// The DNSSEC algorithm number this key verifies for; an RRSIG naming another
    /// algorithm must not be checked with it.
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// Key size in bits for `key list`: the RSA modulus size, or 256 for P-256 and
    /// Ed25519.
    pub fn bits(&self) -> u32 {
        self.bits
    }
}

/// Shorthand for a `BadKey` error with a reason.
fn bad_key(reason: impl Into<String>) -> CryptoError {
    CryptoError::BadKey(reason.into())
}

/// Splits an RFC 3110 §2 RSA key field into (exponent, modulus): one exponent-length
/// octet, or a zero octet then a two-octet length; then the exponent; then the modulus.
fn split_rsa_key(key: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let (&first, rest) = key.split_first().ok_or_else(|| bad_key("empty RSA key"))?;
    let (exponent_len, rest) = if first != 0 {
        (usize::from(first), rest)
    } else {
        let (len, rest) = rest
            .split_first_chunk::<2>()
            .ok_or_else(|| bad_key("RSA key truncated in the exponent length"))?;
        (usize::from(u16::from_be_bytes(*len)), rest)
    };
    if exponent_len == 0 {
        return Err(bad_key("RSA exponent length is zero"));
    }
    if exponent_len > rest.len() {
        return Err(bad_key("RSA exponent length runs past the end of the key"));
    }
    let (exponent, modulus) = rest.split_at(exponent_len);
    Ok((exponent, modulus))
}

/// Drops leading zero octets so sizes are measured on the real number.
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Number of significant bits in a big-endian number without leading zero octets.
fn bit_length(stripped: &[u8]) -> usize {
    match stripped.first() {
        None => 0,
        Some(&top) => stripped.len() * 8 - top.leading_zeros() as usize,
    }
}

/// Parses and size-checks an RSA key, then wraps it with the algorithm's hash.
fn parse_rsa(algorithm: u8, key: &[u8], min_bits: usize) -> Result<VerifyingKey, CryptoError> {
    let (exponent, modulus) = split_rsa_key(key)?;
    let exponent = strip_leading_zeros(exponent);
    let modulus = strip_leading_zeros(modulus);
    if exponent.is_empty() || exponent.len() > RSA_MAX_EXPONENT_LEN {
        return Err(bad_key("RSA exponent is zero or longer than 8 octets"));
    }
    let bits = bit_length(modulus);
    if !(min_bits..=RSA_MAX_BITS).contains(&bits) {
        return Err(bad_key(format!(
            "RSA modulus of {bits} bits is outside {min_bits}..={RSA_MAX_BITS}"
        )));
    }
    let public = rsa::PublicKey::new_with_size_limits(
        rsa::BoxedUint::from_be_slice_vartime(modulus),
        rsa::BoxedUint::from_be_slice_vartime(exponent),
        min_bits..=RSA_MAX_BITS,
    )
    .map_err(|e| bad_key(format!("RSA key rejected: {e}")))?;
    let kind = match algorithm {
        5 | 7 => KeyKind::RsaSha1(rsa::pkcs1v15::VerifyingKey::new(public)),
        8 => KeyKind::RsaSha256(rsa::pkcs1v15::VerifyingKey::new(public)),
        10 => KeyKind::RsaSha512(rsa::pkcs1v15::VerifyingKey::new(public)),
        other => return Err(CryptoError::UnsupportedAlgorithm(other)),
    };
    Ok(VerifyingKey {
        algorithm,
        bits: bits as u32,
        kind,
    })
}

/// Parses an RFC 6605 §4 P-256 key: the 64-octet X||Y point without the SEC1 0x04 tag.
fn parse_p256(key: &[u8]) -> Result<VerifyingKey, CryptoError> {
    if key.len() != 64 {
        return Err(bad_key(format!(
            "P-256 key is {} octets, not 64",
            key.len()
        )));
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(key);
    let point = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| bad_key("P-256 key is not a point on the curve"))?;
    Ok(VerifyingKey {
        algorithm: 13,
        bits: 256,
        kind: KeyKind::P256(point),
    })
}

/// Parses an RFC 8080 §3 Ed25519 key: the 32-octet RFC 8032 public key.
fn parse_ed25519(key: &[u8]) -> Result<VerifyingKey, CryptoError> {
    let bytes: &[u8; 32] = key
        .try_into()
        .map_err(|_| bad_key(format!("Ed25519 key is {} octets, not 32", key.len())))?;
    let point = ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| bad_key("Ed25519 key is not a valid curve point"))?;
    Ok(VerifyingKey {
        algorithm: 15,
        bits: 256,
        kind: KeyKind::Ed25519(point),
    })
}

/// RSASSA-PKCS1-v1_5 check (RFC 3110 §3, RFC 5702 §3); the signature must be exactly
/// as long as the modulus.
fn verify_rsa<D>(key: &rsa::pkcs1v15::VerifyingKey<D>, message: &[u8], signature: &[u8]) -> bool
where
    D: Digest,
{
    match rsa::pkcs1v15::Signature::try_from(signature) {
        Ok(sig) => key.verify(message, &sig).is_ok(),
        Err(_) => false,
    }
}

/// ECDSA P-256/SHA-256 check; RFC 6605 §4 signatures are 64 octets r||s, not DER.
fn verify_p256(key: &p256::ecdsa::VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    if signature.len() != 64 {
        return false;
    }
    match p256::ecdsa::Signature::from_slice(signature) {
        Ok(sig) => key.verify(message, &sig).is_ok(),
        Err(_) => false,
    }
}

/// Ed25519 check (RFC 8080 §4): 64-octet signature over the message itself.
fn verify_ed25519(key: &ed25519_dalek::VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <&[u8; 64]>::try_from(signature) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(bytes);
    key.verify(message, &sig).is_ok()
}

/// Compile-time proof that keys can be shared by the parallel verification gate.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VerifyingKey>();
};

#[cfg(test)]
mod tests {}
