//! DNSSEC cryptography for the verification gate (SPEC DPS-6.6): key tags, DS digests
//! and signature verification from public keys only.
//!
//! Nothing here shares code with the signing path (the HSM token signs; ring,
//! ed25519-dalek and the RustCrypto hashes check), so a signer bug cannot hide itself by
//! being "verified" by the same code that produced it. Every input may come from an untrusted zone file, so every
//! function returns a typed error (or `None`) instead of panicking.

pub mod libcrypto;

use ed25519_dalek::Verifier as _;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

use crate::dns::registry::{digestalg, secalg};

/// DNSKEY RDATA header length: flags (2), protocol (1), algorithm (1) (RFC 4034 §2.1).
const DNSKEY_HEADER_LEN: usize = 4;
/// The only DNSKEY protocol value RFC 4034 §2.1.2 allows.
const DNSKEY_PROTOCOL: u8 = 3;
/// The Zone Key flag (bit 7, RFC 4034 §2.1.1); without it a key must not verify RRSIGs.
const ZONE_KEY_FLAG: u16 = 0x0100;
/// Smallest RSA modulus verified: RFC 3110 §2 allows 512 bits and real zones (RFC 5702's
/// examples, old test zones) use them. A key this weak is still verified, so a zone is
/// judged by its signatures; the verifier reports keys below 1024 bits as a policy
/// finding (the libcrypto path has no floor of its own, unlike ring's 1024).
const RSA_MIN_BITS: usize = 512;
/// Largest RSA modulus RFC 3110/5702 allow for DNSSEC (and the most any signer uses).
const RSA_MAX_BITS: usize = 4096;
/// Widest RSA public exponent we accept: ring caps exponents at 2^33 - 1.
const RSA_MAX_EXPONENT_BITS: usize = 33;

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
/// the special case of algorithm 1 (RSAMD5).
///
/// The key tag is how RRSIG and DS records name their DNSKEY; it is a checksum, not a
/// unique id, so callers must still try every key with a matching tag. Never panics:
/// short RDATA simply yields the checksum of what is there.
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    if dnskey_rdata.get(3) == Some(&secalg::RSAMD5)
        && let Some(tag) = rsamd5_key_tag(dnskey_rdata)
    {
        return tag;
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

/// DS digest types we compute: SHA-1, SHA-256 and SHA-384 ([`digestalg`]; RFC 4034
/// §5.1.4, RFC 4509, RFC 6605). None for others.
///
/// The digest covers the owner name (canonical: lowercased, uncompressed wire form)
/// followed by the DNSKEY RDATA, so a DS binds a key to one zone (RFC 4034 §5.1.4).
pub fn ds_digest(
    owner_canonical_wire: &[u8],
    dnskey_rdata: &[u8],
    digest_type: u8,
) -> Option<Vec<u8>> {
    match digest_type {
        digestalg::SHA1 => Some(hash_two::<Sha1>(owner_canonical_wire, dnskey_rdata)),
        digestalg::SHA256 => Some(hash_two::<Sha256>(owner_canonical_wire, dnskey_rdata)),
        digestalg::SHA384 => Some(hash_two::<Sha384>(owner_canonical_wire, dnskey_rdata)),
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
///
/// ECDSA verification runs on ring (BoringSSL's assembly, 5x the `p256` crate for P-256
/// measured here), or on the key's own table ([`crate::dnssec::crypto::libcrypto::ecdsa_table`]), because the gate
/// checks every signature of a 2-million-RRset zone on every full sign. RSA runs on
/// OpenSSL's libcrypto with the key parsed once: ring has no parsed RSA public key and
/// sets the modulus up again for every signature, which cost more than the modular
/// exponentiation itself for RSA-1024 (see [`verify_rsa`]). Ed25519 stays on
/// ed25519-dalek, which is as fast and also validates the point when the key is parsed.
#[derive(Clone)]
enum KeyKind {
    /// RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA256, RSASHA512 (algorithms 5, 7, 8, 10): the
    /// key as libcrypto holds it (its Montgomery setup cached inside), the modulus
    /// length in octets, and the hash.
    Rsa {
        key: std::sync::Arc<crate::dnssec::crypto::libcrypto::rsa_verify::RsaKey>,
        hash: RsaHash,
    },
    /// ECDSAP256SHA256 and ECDSAP384SHA384 (algorithms 13 and 14): the SEC1 uncompressed
    /// point (0x04 || X || Y), already checked to lie on the curve.
    Ecdsa {
        point: Vec<u8>,
        algorithm: &'static ring::signature::EcdsaVerificationAlgorithm,
        /// P-256 only, on request ([`VerifyingKey::with_table`]): the key's own
        /// precomputed table, used instead of ring.
        table: Option<std::sync::Arc<crate::dnssec::crypto::libcrypto::ecdsa_table::P256Table>>,
    },
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
    /// key field; moduli of 512..=4096 bits, others are `BadKey`), 13
    /// ECDSAP256SHA256 and 14 ECDSAP384SHA384 (X||Y, 64 or 96 octets, RFC 6605), 15
    /// ED25519 (32 octets, RFC 8080). Everything else is `UnsupportedAlgorithm`.
    pub fn from_dnskey(algorithm: u8, public_key: &[u8]) -> Result<VerifyingKey, CryptoError> {
        match algorithm {
            secalg::RSASHA1
            | secalg::RSASHA1_NSEC3_SHA1
            | secalg::RSASHA256
            | secalg::RSASHA512 => parse_rsa(algorithm, public_key),
            secalg::ECDSAP256SHA256 | secalg::ECDSAP384SHA384 => parse_ecdsa(algorithm, public_key),
            secalg::ED25519 => parse_ed25519(public_key),
            other => Err(CryptoError::UnsupportedAlgorithm(other)),
        }
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

    /// Verify `signature` over `message` (the RFC 4034 §3.1.8.1 signed data: RRSIG RDATA
    /// without the signature, then the canonical RRset).
    ///
    /// Any malformed signature (wrong length, out-of-range values) is `BadSignature`, the
    /// same as a well-formed one that does not match: either way the RRSIG is bogus.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let ok = match &self.kind {
            KeyKind::Rsa { key, hash } => verify_rsa(key, *hash, message, signature),
            KeyKind::Ecdsa {
                table: Some(table), ..
            } => table.verify(&sha2::Sha256::digest(message).into(), signature),
            KeyKind::Ecdsa {
                point, algorithm, ..
            } => ring::signature::UnparsedPublicKey::new(*algorithm, point)
                .verify(message, signature)
                .is_ok(),
            KeyKind::Ed25519(key) => verify_ed25519(key, message, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// The same key with a precomputed table of its own when it is an ECDSAP256SHA256
    /// key (unchanged otherwise): worth its 50 ms and 150 KB when the key is to check
    /// thousands of signatures, as the ZSK's are at every sign and verify. See
    /// [`crate::dnssec::crypto::libcrypto::ecdsa_table`] for why and how much faster.
    pub fn with_table(mut self) -> VerifyingKey {
        if let KeyKind::Ecdsa { point, table, .. } = &mut self.kind
            && self.algorithm == secalg::ECDSAP256SHA256
            && table.is_none()
        {
            // A key parse_ecdsa accepted is on the curve; should OpenSSL still refuse
            // it, ring verifies as before.
            *table = crate::dnssec::crypto::libcrypto::ecdsa_table::P256Table::new(&point[1..])
                .ok()
                .map(std::sync::Arc::new);
        }
        self
    }

    /// The P-256 table, when [`VerifyingKey::with_table`] built one: batch checks
    /// ([`crate::dnssec::crypto::libcrypto::ecdsa_table::P256Table::verify_batch`]) share one inversion.
    pub fn p256_table(&self) -> Option<&crate::dnssec::crypto::libcrypto::ecdsa_table::P256Table> {
        match &self.kind {
            KeyKind::Ecdsa { table: Some(t), .. } => Some(t),
            _ => None,
        }
    }

    /// The DNSSEC algorithm number this key verifies for; an RRSIG naming another
    /// algorithm must not be checked with it.
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// Whether this is an RSA key (its [`VerifyingKey::bits`] is the modulus size).
    pub fn is_rsa(&self) -> bool {
        matches!(self.kind, KeyKind::Rsa { .. })
    }

    /// Key size in bits for `key list`: the RSA modulus size, 256 for P-256 and Ed25519,
    /// 384 for P-384.
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

/// Parses and checks an RSA key the way ring will use it, so a key ring would refuse on
/// every signature is refused once here as `BadKey`, with the reason: modulus size
/// (512..=4096 bits) and odd, exponent odd, at least 3 and below 2^33 (RFC 3110 keys
/// use 3 or 65537).
fn parse_rsa(algorithm: u8, key: &[u8]) -> Result<VerifyingKey, CryptoError> {
    let (exponent, modulus) = split_rsa_key(key)?;
    let exponent = strip_leading_zeros(exponent);
    let modulus = strip_leading_zeros(modulus);
    if bit_length(exponent) > RSA_MAX_EXPONENT_BITS {
        return Err(bad_key("RSA exponent is 2^33 or larger"));
    }
    let exponent_value = exponent
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if exponent_value < 3 || exponent_value % 2 == 0 {
        return Err(bad_key(format!(
            "RSA exponent {exponent_value} is not an odd number of at least 3"
        )));
    }
    let bits = bit_length(modulus);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(bad_key(format!(
            "RSA modulus of {bits} bits is outside {RSA_MIN_BITS}..={RSA_MAX_BITS}"
        )));
    }
    if modulus.last().is_some_and(|b| b % 2 == 0) {
        return Err(bad_key("RSA modulus is even"));
    }
    let hash = match algorithm {
        secalg::RSASHA1 | secalg::RSASHA1_NSEC3_SHA1 => RsaHash::Sha1,
        secalg::RSASHA256 => RsaHash::Sha256,
        secalg::RSASHA512 => RsaHash::Sha512,
        other => return Err(CryptoError::UnsupportedAlgorithm(other)),
    };
    let key = crate::dnssec::crypto::libcrypto::rsa_verify::RsaKey::new(modulus, exponent_value)
        .ok_or_else(|| bad_key("libcrypto could not set the RSA modulus up"))?;
    Ok(VerifyingKey {
        algorithm,
        bits: bits as u32,
        kind: KeyKind::Rsa {
            key: std::sync::Arc::new(key),
            hash,
        },
    })
}

/// The hash of an RSA algorithm, with its PKCS#1 v1.5 DigestInfo prefix.
#[derive(Clone, Copy, Debug)]
enum RsaHash {
    Sha1,
    Sha256,
    Sha512,
}

impl RsaHash {
    /// DigestInfo ‖ hash of `message` (RFC 8017 §9.2 step 2), into `out`; its length.
    fn digest_info(self, message: &[u8], out: &mut [u8; 19 + 64]) -> usize {
        const SHA1: [u8; 15] = [
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        const SHA256: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        const SHA512: [u8; 19] = [
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ];
        fn put(out: &mut [u8], prefix: &[u8], digest: &[u8]) -> usize {
            out[..prefix.len()].copy_from_slice(prefix);
            out[prefix.len()..prefix.len() + digest.len()].copy_from_slice(digest);
            prefix.len() + digest.len()
        }
        match self {
            RsaHash::Sha1 => put(out, &SHA1, &Sha1::digest(message)),
            RsaHash::Sha256 => put(out, &SHA256, &Sha256::digest(message)),
            RsaHash::Sha512 => put(out, &SHA512, &sha2::Sha512::digest(message)),
        }
    }
}

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) by "encode and compare": the
/// signature, exactly as long as the modulus, raised to the public exponent must be
/// 00 01 FF..FF 00 and the DigestInfo of the message's hash, octet for octet (no
/// parsing of it, so no Bleichenbacher-style leniency); see [`crate::dnssec::crypto::libcrypto::rsa_verify`].
///
/// Why not ring: its only RSA public key is the unparsed one, so each of the 1.5
/// million checks of a 1M-delegation sign set the modulus up again; here the key's
/// Montgomery setup is made once.
fn verify_rsa(
    key: &crate::dnssec::crypto::libcrypto::rsa_verify::RsaKey,
    hash: RsaHash,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let mut expected = [0u8; 19 + 64];
    let n = hash.digest_info(message, &mut expected);
    key.verify(signature, &expected[..n])
}

/// Parses an RFC 6605 §4 key: the X||Y point without the SEC1 0x04 tag, 64 octets for
/// P-256 (algorithm 13), 96 for P-384 (algorithm 14).
fn parse_ecdsa(algorithm: u8, key: &[u8]) -> Result<VerifyingKey, CryptoError> {
    use ring::{agreement, signature};
    let (len, bits, verify, ecdh): (usize, u32, _, _) = if algorithm == secalg::ECDSAP256SHA256 {
        (
            64,
            256,
            &signature::ECDSA_P256_SHA256_FIXED,
            &agreement::ECDH_P256,
        )
    } else {
        (
            96,
            384,
            &signature::ECDSA_P384_SHA384_FIXED,
            &agreement::ECDH_P384,
        )
    };
    if key.len() != len {
        return Err(bad_key(format!(
            "P-{bits} key is {} octets, not {len}",
            key.len()
        )));
    }
    let mut point = Vec::with_capacity(len + 1);
    point.push(0x04);
    point.extend_from_slice(key);
    if !on_curve(ecdh, &point) {
        return Err(bad_key(format!("P-{bits} key is not a point on the curve")));
    }
    Ok(VerifyingKey {
        algorithm,
        bits,
        kind: KeyKind::Ecdsa {
            point,
            algorithm: verify,
            table: None,
        },
    })
}

/// Whether a SEC1 uncompressed point lies on the curve.
///
/// ring exposes no point check of its own, but its ECDH validates the peer's point
/// (SP 800-56A §5.6.2.3) before using it; one ephemeral agreement per DNSKEY is cheap and
/// lets a bad key be reported as a bad key instead of as a million bad signatures.
fn on_curve(ecdh: &'static ring::agreement::Algorithm, point: &[u8]) -> bool {
    use ring::agreement;
    let rng = ring::rand::SystemRandom::new();
    let Ok(ours) = agreement::EphemeralPrivateKey::generate(ecdh, &rng) else {
        return false;
    };
    agreement::agree_ephemeral(
        ours,
        &agreement::UnparsedPublicKey::new(ecdh, point),
        |_| (),
    )
    .is_ok()
}

/// Parses an RFC 8080 §3 Ed25519 key: the 32-octet RFC 8032 public key.
fn parse_ed25519(key: &[u8]) -> Result<VerifyingKey, CryptoError> {
    let bytes: &[u8; 32] = key
        .try_into()
        .map_err(|_| bad_key(format!("Ed25519 key is {} octets, not 32", key.len())))?;
    let point = ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| bad_key("Ed25519 key is not a valid curve point"))?;
    Ok(VerifyingKey {
        algorithm: secalg::ED25519,
        bits: 256,
        kind: KeyKind::Ed25519(point),
    })
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
mod tests {
    //! Golden vectors from the RFCs (fixtures/rfc/), OpenSSL-made RSA keys
    //! (fixtures/crypto/), malformed input that must fail cleanly, and hickory-proto
    //! as an independent cross-check of key tags and DS digests.

    use super::*;
    use crate::dns::record::{CLASS_IN, rtype};
    use crate::dns::time::parse_rrsig_time;
    use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};

    const RFC4034_5_4: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc4034-5.4.txt"
    ));
    const RFC5702_6_1: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc5702-6.1.txt"
    ));
    const RFC5702_6_2: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc5702-6.2.txt"
    ));
    const RFC6605_6_1: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc6605-6.1.txt"
    ));
    const RFC6605_6_2: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc6605-6.2.txt"
    ));
    const RFC8080_6_1: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc8080-6.1.txt"
    ));
    const RFC8080_6_2: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc8080-6.2.txt"
    ));
    const RSA_OPENSSL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/crypto/rsa-openssl.txt"
    ));

    /// Splits a zone snippet into records of whitespace tokens: comments dropped,
    /// parenthesised continuation lines joined. Just enough for the RFC examples.
    fn records(text: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut current = Vec::new();
        let mut depth = 0i32;
        for line in text.lines() {
            let line = line.split(';').next().unwrap_or("");
            let spaced = line.replace('(', " ( ").replace(')', " ) ");
            for token in spaced.split_whitespace() {
                match token {
                    "(" => depth += 1,
                    ")" => depth -= 1,
                    other => current.push(other.to_string()),
                }
            }
            if depth == 0 && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        out
    }

    /// The one record of type `rt` (tokens: owner ttl class type rdata...).
    fn record(records: &[Vec<String>], rt: u16) -> &[String] {
        let found: Vec<_> = records.iter().filter(|r| type_of(r) == rt).collect();
        assert_eq!(
            found.len(),
            1,
            "exactly one {} record expected",
            rtype::to_text(rt)
        );
        found[0]
    }

    /// Uncompressed, lowercased wire form of an absolute presentation name.
    fn name_wire(name: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        for label in name.trim_end_matches('.').split('.') {
            wire.push(label.len() as u8);
            wire.extend(label.to_ascii_lowercase().bytes());
        }
        wire.push(0);
        wire
    }

    fn b64(parts: &[String]) -> Vec<u8> {
        BASE64
            .decode(parts.concat().as_bytes())
            .expect("fixture base64")
    }

    fn hex(parts: &[String]) -> Vec<u8> {
        HEXLOWER_PERMISSIVE
            .decode(parts.concat().as_bytes())
            .expect("fixture hex")
    }

    /// DNSKEY RDATA from a DNSKEY record: flags | protocol | algorithm | key.
    fn dnskey_rdata(rr: &[String]) -> Vec<u8> {
        let flags: u16 = rr[4].parse().unwrap();
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.push(rr[5].parse().unwrap());
        rdata.push(rr[6].parse().unwrap());
        rdata.extend(b64(&rr[7..]));
        rdata
    }

    /// The type of a record (tokens: owner ttl class type rdata...).
    fn type_of(rr: &[String]) -> u16 {
        rtype::from_text(rr[3].as_bytes()).expect("fixture type")
    }

    /// Canonical RDATA of the covered record (A or MX; MX's name is lowercased).
    fn data_rdata(rr: &[String]) -> Vec<u8> {
        match type_of(rr) {
            rtype::A => rr[4].split('.').map(|o| o.parse::<u8>().unwrap()).collect(),
            rtype::MX => {
                let mut rdata = rr[4].parse::<u16>().unwrap().to_be_bytes().to_vec();
                rdata.extend(name_wire(&rr[5]));
                rdata
            }
            other => panic!("type {other} not needed by the vectors"),
        }
    }

    /// One RFC example: the key, its DS (if given) and the RRSIG over a one-record RRset.
    struct Vector {
        key_owner: Vec<u8>,
        dnskey: Vec<u8>,
        ds: Option<(u16, u8, u8, Vec<u8>)>,
        rrsig_tag: u16,
        signed_data: Vec<u8>,
        signature: Vec<u8>,
    }

    /// Builds the RFC 4034 §3.1.8.1 signed data by hand: RRSIG RDATA without the
    /// signature, then owner | type | class | original TTL | RDLENGTH | RDATA.
    fn load(text: &str, data_type: u16) -> Vector {
        let recs = records(text);
        let key = record(&recs, rtype::DNSKEY);
        let sig = record(&recs, rtype::RRSIG);
        let data = record(&recs, data_type);
        let ds = recs.iter().find(|r| type_of(r) == rtype::DS).map(|r| {
            (
                r[4].parse().unwrap(),
                r[5].parse().unwrap(),
                r[6].parse().unwrap(),
                hex(&r[7..]),
            )
        });
        let original_ttl: u32 = sig[7].parse().unwrap();
        let covered = rtype::from_text(sig[4].as_bytes()).expect("fixture type");
        let mut signed = covered.to_be_bytes().to_vec();
        signed.push(sig[5].parse().unwrap());
        signed.push(sig[6].parse().unwrap());
        signed.extend(original_ttl.to_be_bytes());
        signed.extend(parse_rrsig_time(sig[8].as_bytes()).unwrap().to_be_bytes());
        signed.extend(parse_rrsig_time(sig[9].as_bytes()).unwrap().to_be_bytes());
        signed.extend(sig[10].parse::<u16>().unwrap().to_be_bytes());
        signed.extend(name_wire(&sig[11]));
        let rdata = data_rdata(data);
        signed.extend(name_wire(&data[0]));
        signed.extend(data_type.to_be_bytes());
        signed.extend(CLASS_IN.to_be_bytes());
        signed.extend(original_ttl.to_be_bytes());
        signed.extend((rdata.len() as u16).to_be_bytes());
        signed.extend(rdata);
        Vector {
            key_owner: name_wire(&key[0]),
            dnskey: dnskey_rdata(key),
            ds,
            rrsig_tag: sig[10].parse().unwrap(),
            signed_data: signed,
            signature: b64(&sig[12..]),
        }
    }

    /// The key tag and DS digest hickory-proto computes for the same DNSKEY.
    fn hickory_tag_and_digest(owner: &str, rdata: &[u8], digest_type: u8) -> (u16, Vec<u8>) {
        use hickory_proto::dnssec::rdata::DNSKEY;
        use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
        let flags = u16::from_be_bytes([rdata[0], rdata[1]]);
        let key = PublicKeyBuf::new(rdata[4..].to_vec(), Algorithm::from_u8(rdata[3]));
        let dnskey = DNSKEY::with_flags(flags, key);
        let name = hickory_proto::rr::Name::from_ascii(owner).unwrap();
        let digest = dnskey
            .to_digest(&name, DigestType::from(digest_type))
            .unwrap();
        (
            dnskey.calculate_key_tag().unwrap(),
            digest.as_ref().to_vec(),
        )
    }

    /// Checks the RFC's DS record (tag, algorithm, digest) and the RRSIG's key tag.
    fn check_tag_and_ds(v: &Vector) {
        assert_eq!(key_tag(&v.dnskey), v.rrsig_tag);
        let (tag, alg, digest_type, digest) = v.ds.clone().expect("vector has a DS");
        assert_eq!(key_tag(&v.dnskey), tag);
        assert_eq!(
            ds_digest(&v.key_owner, &v.dnskey, digest_type),
            Some(digest.clone())
        );
        let mut expected = tag.to_be_bytes().to_vec();
        expected.extend([alg, digest_type]);
        expected.extend(digest);
        assert_eq!(
            ds_rdata(&v.key_owner, &v.dnskey, digest_type),
            Some(expected)
        );
    }

    /// Verifies the vector, then checks that one flipped octet anywhere fails.
    fn check_verifies(key: &VerifyingKey, v: &Vector) {
        assert_eq!(key.verify(&v.signed_data, &v.signature), Ok(()));
        let mut message = v.signed_data.clone();
        message[20] ^= 0x01;
        assert_eq!(
            key.verify(&message, &v.signature),
            Err(CryptoError::BadSignature)
        );
        let mut signature = v.signature.clone();
        signature[5] ^= 0x80;
        assert_eq!(
            key.verify(&v.signed_data, &signature),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn rfc4034_5_4_key_tag_and_sha1_ds() {
        let recs = records(RFC4034_5_4);
        let rdata = dnskey_rdata(record(&recs, rtype::DNSKEY));
        let ds = record(&recs, rtype::DS);
        let owner = name_wire("dskey.example.com.");
        assert_eq!(key_tag(&rdata), 60485);
        assert_eq!(ds[4], "60485");
        let expected = hex(&ds[7..]);
        assert_eq!(
            HEXLOWER_PERMISSIVE.encode(&expected),
            "2bb183af5f22588179a53b0a98631fad1a292118"
        );
        assert_eq!(
            ds_digest(&owner, &rdata, digestalg::SHA1),
            Some(expected.clone())
        );
        let mut full = vec![0xEC, 0x45, secalg::RSASHA1, digestalg::SHA1];
        full.extend(expected);
        assert_eq!(ds_rdata(&owner, &rdata, digestalg::SHA1), Some(full));
    }

    #[test]
    fn rfc4034_5_4_sha2_digests_match_hickory() {
        let recs = records(RFC4034_5_4);
        let rdata = dnskey_rdata(record(&recs, rtype::DNSKEY));
        let owner = name_wire("dskey.example.com.");
        for digest_type in [digestalg::SHA1, digestalg::SHA256, digestalg::SHA384] {
            let (tag, digest) = hickory_tag_and_digest("dskey.example.com.", &rdata, digest_type);
            assert_eq!(tag, key_tag(&rdata));
            assert_eq!(ds_digest(&owner, &rdata, digest_type), Some(digest));
        }
    }

    #[test]
    fn unknown_digest_types_give_none() {
        let owner = name_wire("example.");
        for digest_type in [0, 3, 5, 6, 255] {
            assert_eq!(ds_digest(&owner, &[1, 0, 3, 8], digest_type), None);
            assert_eq!(ds_rdata(&owner, &[1, 0, 3, 8], digest_type), None);
        }
        assert_eq!(ds_rdata(&owner, &[1, 0, 3], digestalg::SHA256), None);
    }

    #[test]
    fn all_vector_tags_and_digests_match_hickory() {
        let cases = [
            (RFC5702_6_1, rtype::A, "example.net."),
            (RFC5702_6_2, rtype::A, "example.net."),
            (RFC6605_6_1, rtype::A, "example.net."),
            (RFC6605_6_2, rtype::A, "example.net."),
            (RFC8080_6_1, rtype::MX, "example.com."),
            (RFC8080_6_2, rtype::MX, "example.com."),
        ];
        for (text, data_type, owner) in cases {
            let v = load(text, data_type);
            for digest_type in [digestalg::SHA1, digestalg::SHA256, digestalg::SHA384] {
                let (tag, digest) = hickory_tag_and_digest(owner, &v.dnskey, digest_type);
                assert_eq!(key_tag(&v.dnskey), tag, "{owner} tag");
                assert_eq!(
                    ds_digest(&v.key_owner, &v.dnskey, digest_type),
                    Some(digest)
                );
            }
        }
    }

    #[test]
    fn rfc5702_6_1_rsasha256_512_bit_key() {
        let v = load(RFC5702_6_1, rtype::A);
        assert_eq!(key_tag(&v.dnskey), 9033);
        assert_eq!(v.rrsig_tag, 9033);
        // The example key is 512 bits: verified through the libcrypto path (RFC 3110
        // allows it; the verifier reports it as a policy finding) ...
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        assert_eq!((key.is_rsa(), key.bits()), (true, 512));
        check_verifies(&key, &v);
        // ... and the RFC's signature over our signed data also with the independent
        // `rsa` crate, which proves the vector parsing and signed-data layout.
        use rsa::signature::Verifier;
        let (exponent, modulus) = split_rsa_key(&v.dnskey[4..]).unwrap();
        let public = rsa::PublicKey::new_with_size_limits(
            rsa::BoxedUint::from_be_slice_vartime(modulus),
            rsa::BoxedUint::from_be_slice_vartime(exponent),
            512..=4096,
        )
        .unwrap();
        let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
        let sig = rsa::pkcs1v15::Signature::try_from(&v.signature[..]).unwrap();
        key.verify(&v.signed_data, &sig).unwrap();
    }

    #[test]
    fn rfc5702_6_2_rsasha512() {
        let v = load(RFC5702_6_2, rtype::A);
        assert_eq!(key_tag(&v.dnskey), 3740);
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        assert_eq!((key.algorithm(), key.bits()), (secalg::RSASHA512, 1024));
        check_verifies(&key, &v);
    }

    #[test]
    fn rfc6605_6_1_p256() {
        let v = load(RFC6605_6_1, rtype::A);
        assert_eq!(key_tag(&v.dnskey), 55648);
        check_tag_and_ds(&v);
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        assert_eq!(
            (key.algorithm(), key.bits()),
            (secalg::ECDSAP256SHA256, 256)
        );
        check_verifies(&key, &v);
    }

    #[test]
    fn rfc6605_6_2_p384() {
        let v = load(RFC6605_6_2, rtype::A);
        assert_eq!(key_tag(&v.dnskey), 10771);
        check_tag_and_ds(&v);
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        assert_eq!(
            (key.algorithm(), key.bits()),
            (secalg::ECDSAP384SHA384, 384)
        );
        check_verifies(&key, &v);
    }

    #[test]
    fn rfc8080_6_1_ed25519() {
        let v = load(RFC8080_6_1, rtype::MX);
        assert_eq!(key_tag(&v.dnskey), 3613);
        check_tag_and_ds(&v);
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        assert_eq!((key.algorithm(), key.bits()), (secalg::ED25519, 256));
        check_verifies(&key, &v);
    }

    #[test]
    fn rfc8080_6_2_ed25519() {
        let v = load(RFC8080_6_2, rtype::MX);
        assert_eq!(key_tag(&v.dnskey), 35217);
        check_tag_and_ds(&v);
        let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
        check_verifies(&key, &v);
    }

    /// (algorithm, key field, message, signature) from the OpenSSL fixture.
    type RsaCase = (u8, Vec<u8>, Vec<u8>, Vec<u8>);

    /// The RSA cases of `fixtures/crypto/rsa-openssl.txt`, in file order.
    fn openssl_rsa() -> Vec<RsaCase> {
        let lines: Vec<Vec<&str>> = RSA_OPENSSL
            .lines()
            .filter(|l| !l.starts_with(';'))
            .map(|l| l.splitn(3, ' ').collect())
            .collect();
        lines
            .chunks(3)
            .map(|c| {
                let alg = c[0][1].parse().unwrap();
                let key = BASE64.decode(c[0][2].as_bytes()).unwrap();
                let message = [c[1][1], c[1][2]].join(" ").into_bytes();
                let sig = BASE64.decode(c[2][1].as_bytes()).unwrap();
                (alg, key, message, sig)
            })
            .collect()
    }

    /// Re-encodes an RFC 3110 key with the long form: 0, then a two-octet length.
    fn long_exponent_form(key: &[u8]) -> Vec<u8> {
        let exponent_len = usize::from(key[0]);
        let mut long = vec![0, 0, key[0]];
        long.extend(&key[1..]);
        assert_eq!(long.len(), key.len() + 2);
        assert_eq!(&long[3..3 + exponent_len], &key[1..1 + exponent_len]);
        long
    }

    #[test]
    fn openssl_rsa_keys_verify_in_both_exponent_forms() {
        let cases = openssl_rsa();
        assert_eq!(cases.len(), 2);
        for ((alg, key, message, sig), bits) in cases.into_iter().zip([1024, 2048]) {
            for form in [key.clone(), long_exponent_form(&key)] {
                let vk = VerifyingKey::from_dnskey(alg, &form).unwrap();
                assert_eq!((vk.algorithm(), vk.bits()), (alg, bits));
                assert_eq!(vk.verify(&message, &sig), Ok(()));
                assert_eq!(
                    vk.verify(b"another message", &sig),
                    Err(CryptoError::BadSignature)
                );
                assert_eq!(
                    vk.verify(&message, &sig[..sig.len() - 1]),
                    Err(CryptoError::BadSignature)
                );
                assert_eq!(vk.verify(&message, &[]), Err(CryptoError::BadSignature));
            }
            // The same key under the other RSA hash must not accept the signature.
            let other = if alg == secalg::RSASHA1 {
                secalg::RSASHA256
            } else {
                secalg::RSASHA1
            };
            let vk = VerifyingKey::from_dnskey(other, &key).unwrap();
            assert_eq!(vk.verify(&message, &sig), Err(CryptoError::BadSignature));
        }
    }

    #[test]
    fn algorithm_7_uses_sha1_like_algorithm_5() {
        let (_, key, message, sig) = openssl_rsa().remove(0);
        let vk = VerifyingKey::from_dnskey(secalg::RSASHA1_NSEC3_SHA1, &key).unwrap();
        assert_eq!(vk.algorithm(), secalg::RSASHA1_NSEC3_SHA1);
        assert_eq!(vk.verify(&message, &sig), Ok(()));
    }

    fn assert_bad_key(algorithm: u8, key: &[u8]) {
        match VerifyingKey::from_dnskey(algorithm, key) {
            Err(CryptoError::BadKey(_)) => {}
            other => panic!("alg {algorithm} key {key:02x?}: expected BadKey, got {other:?}"),
        }
    }

    #[test]
    fn malformed_rsa_keys_are_bad_keys() {
        let (_, good, _, _) = openssl_rsa().remove(0);
        for alg in [
            secalg::RSASHA1,
            secalg::RSASHA1_NSEC3_SHA1,
            secalg::RSASHA256,
            secalg::RSASHA512,
        ] {
            assert_bad_key(alg, &[]);
            assert_bad_key(alg, &[3]);
            assert_bad_key(alg, &[3, 1, 0]);
            assert_bad_key(alg, &[5, 1, 0, 1]);
            assert_bad_key(alg, &[0]);
            assert_bad_key(alg, &[0, 1]);
            assert_bad_key(alg, &[0, 0, 0, 1, 2, 3]);
            assert_bad_key(alg, &[0, 0xFF, 0xFF, 1, 0, 1]);
            // Truncated modulus (below 1024 bits), and the exponent alone.
            assert_bad_key(alg, &good[..good.len() - 2]);
            assert_bad_key(alg, &good[..4]);
            // Even modulus, exponent 1, exponent 2, all-zero exponent.
            let mut even = good.clone();
            *even.last_mut().unwrap() &= 0xFE;
            assert_bad_key(alg, &even);
            for exponent in [[0u8, 0, 1], [0, 0, 2], [0, 0, 0]] {
                let mut k = good.clone();
                k[1..4].copy_from_slice(&exponent);
                assert_bad_key(alg, &k);
            }
            // A modulus over 4096 bits.
            let mut huge = vec![3, 1, 0, 1];
            huge.extend(std::iter::repeat_n(0xFF, 513));
            assert_bad_key(alg, &huge);
        }
    }

    #[test]
    fn rfc4034_example_key_parses_as_rsa1024_exponent_3() {
        // Exponent 3 in the one-octet length form, then a 1024-bit modulus.
        let rdata = dnskey_rdata(record(&records(RFC4034_5_4), rtype::DNSKEY));
        assert_eq!(&rdata[4..6], &[1, 3]);
        let key = VerifyingKey::from_dnskey_rdata(&rdata).unwrap();
        assert_eq!((key.algorithm(), key.bits()), (secalg::RSASHA1, 1024));
    }

    #[test]
    fn malformed_curve_keys_are_bad_keys() {
        for alg in [
            secalg::ECDSAP256SHA256,
            secalg::ECDSAP384SHA384,
            secalg::ED25519,
        ] {
            assert_bad_key(alg, &[]);
            assert_bad_key(alg, &[0; 31]);
            assert_bad_key(alg, &[0; 33]);
            assert_bad_key(alg, &[0; 63]);
            assert_bad_key(alg, &[0; 65]);
            assert_bad_key(alg, &[0; 97]);
        }
        // Octet strings of the right length that are not points on the curve.
        assert_bad_key(secalg::ECDSAP256SHA256, &[0; 64]);
        assert_bad_key(secalg::ECDSAP256SHA256, &[0xFF; 64]);
        assert_bad_key(secalg::ECDSAP384SHA384, &[0; 96]);
        assert_bad_key(secalg::ECDSAP384SHA384, &[0xFF; 96]);
        // A valid P-256 point with one coordinate bit flipped falls off the curve.
        let v = load(RFC6605_6_1, rtype::A);
        let mut off = v.dnskey[4..].to_vec();
        off[63] ^= 1;
        assert_bad_key(secalg::ECDSAP256SHA256, &off);
    }

    #[test]
    fn short_and_garbage_signatures_are_bad_signatures() {
        let p256 = load(RFC6605_6_1, rtype::A);
        let ed = load(RFC8080_6_1, rtype::MX);
        let rsa = load(RFC5702_6_2, rtype::A);
        for v in [&p256, &ed, &rsa] {
            let key = VerifyingKey::from_dnskey_rdata(&v.dnskey).unwrap();
            let sig = &v.signature;
            for bad in [
                &[][..],
                &sig[..1],
                &sig[..sig.len() - 1],
                &[0; 64],
                &[0xFF; 64],
            ] {
                assert_eq!(
                    key.verify(&v.signed_data, bad),
                    Err(CryptoError::BadSignature)
                );
            }
            let mut long = sig.clone();
            long.push(0);
            assert_eq!(
                key.verify(&v.signed_data, &long),
                Err(CryptoError::BadSignature)
            );
        }
    }

    #[test]
    fn unsupported_algorithms() {
        for alg in [0, 1, 2, 3, 4, 6, 9, 11, 12, 16, 17, 252, 253, 254, 255] {
            assert_eq!(
                VerifyingKey::from_dnskey(alg, &[0; 64]).unwrap_err(),
                CryptoError::UnsupportedAlgorithm(alg)
            );
        }
    }

    #[test]
    fn dnskey_rdata_header_is_checked() {
        let v = load(RFC8080_6_1, rtype::MX);
        assert_bad_key_rdata(&[]);
        assert_bad_key_rdata(&v.dnskey[..3]);
        let mut wrong_protocol = v.dnskey.clone();
        wrong_protocol[2] = 2;
        assert_bad_key_rdata(&wrong_protocol);
        let mut not_zone_key = v.dnskey.clone();
        not_zone_key[0] = 0;
        assert_bad_key_rdata(&not_zone_key);
        // The SEP bit alone does not matter; 256 (ZSK) and 257 (KSK) both parse.
        let mut zsk = v.dnskey.clone();
        zsk[1] = 0;
        assert!(VerifyingKey::from_dnskey_rdata(&zsk).is_ok());
    }

    fn assert_bad_key_rdata(rdata: &[u8]) {
        assert!(
            matches!(
                VerifyingKey::from_dnskey_rdata(rdata),
                Err(CryptoError::BadKey(_))
            ),
            "{rdata:02x?}"
        );
    }

    #[test]
    fn key_tag_edge_cases_never_panic() {
        assert_eq!(key_tag(&[]), 0);
        assert_eq!(key_tag(&[0x12]), 0x1200);
        // Algorithm 1 (RSA/MD5): the middle two of the last three octets.
        assert_eq!(key_tag(&[1, 0, 3, 1, 3, 1, 0, 1, 0xAB, 0xCD, 0xEF]), 0xABCD);
        // Algorithm 1 without room for a modulus falls back to the checksum.
        assert_eq!(key_tag(&[1, 0, 3, 1]), checksum_key_tag(&[1, 0, 3, 1]));
        // Carry folding: a long run of 0xFF octets.
        let ones = vec![0xFF; 65_535];
        let _ = key_tag(&ones);
    }

    /// A tiny deterministic generator so the no-panic sweep needs no extra crates.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u8 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (self.0 >> 33) as u8
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next()).collect()
        }
    }

    #[test]
    fn random_keys_and_signatures_never_panic() {
        let mut rng = Lcg(0x5eed);
        for round in 0..400 {
            let alg = [
                secalg::RSASHA1,
                secalg::RSASHA1_NSEC3_SHA1,
                secalg::RSASHA256,
                secalg::RSASHA512,
                secalg::ECDSAP256SHA256,
                secalg::ECDSAP384SHA384,
                secalg::ED25519,
                secalg::RSAMD5,
            ][round % 8];
            let len = match round % 5 {
                0 => usize::from(rng.next()),
                1 => 32,
                2 => 64,
                3 => 131,
                _ => 260,
            };
            let key = rng.bytes(len);
            let _ = key_tag(&key);
            let _ = ds_rdata(&key, &key, digestalg::SHA256);
            let _ = VerifyingKey::from_dnskey_rdata(&key);
            if let Ok(vk) = VerifyingKey::from_dnskey(alg, &key) {
                let sig = rng.bytes(len.saturating_sub(4));
                assert_eq!(vk.verify(b"m", &sig), Err(CryptoError::BadSignature));
            }
        }
    }
}
