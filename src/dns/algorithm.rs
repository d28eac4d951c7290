//! The DNSSEC algorithms zonesign signs with, as one enum used across the pipeline.
//!
//! One small enum shared by the key store, the HSM layer, signing and verification,
//! so that "which algorithm" is never a bare `u8` that two modules interpret differently.
//! Its numbers and names come from the algorithm registry ([`secalg`]): the number is
//! the registry's, the name (command line, config files, `key list`) its mnemonic in
//! lower case.

use std::fmt;
use std::str::FromStr;

use crate::dns::registry::secalg;

/// The [`secalg`] mnemonic of `$number` in lower case, as a `&'static str` made at
/// compile time (a number without a mnemonic fails the build).
macro_rules! lowercase_mnemonic {
    ($number:expr) => {{
        const MNEMONIC: &str = match secalg::mnemonic($number) {
            Some(m) => m,
            None => panic!("algorithm without a mnemonic"),
        };
        const BYTES: [u8; MNEMONIC.len()] = {
            let mut b = [0u8; MNEMONIC.len()];
            let mut i = 0;
            while i < b.len() {
                b[i] = MNEMONIC.as_bytes()[i].to_ascii_lowercase();
                i += 1;
            }
            b
        };
        const LOWER: &str = match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("mnemonic is not ASCII"),
        };
        LOWER
    }};
}

/// A DNSSEC signing algorithm zonesign can sign with (DPS-6.1: the choice is policy).
///
/// Verification accepts more algorithms (it must read any signer's zone); those are
/// handled by their [`secalg`] number in the verifier's crypto layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSA/SHA-1, RFC 3110: the `.se` practice statement's profile.
    RsaSha1,
    /// RSA/SHA-256, RFC 5702.
    RsaSha256,
    /// ECDSA P-256 with SHA-256, RFC 6605.
    EcdsaP256Sha256,
    /// Ed25519, RFC 8080.
    Ed25519,
}

impl Algorithm {
    /// All algorithms zonesign can sign with, in registry order.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::RsaSha1,
        Algorithm::RsaSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::Ed25519,
    ];

    /// The IANA algorithm number that goes into DNSKEY, DS and RRSIG RDATA.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::RsaSha1 => secalg::RSASHA1,
            Algorithm::RsaSha256 => secalg::RSASHA256,
            Algorithm::EcdsaP256Sha256 => secalg::ECDSAP256SHA256,
            Algorithm::Ed25519 => secalg::ED25519,
        }
    }

    /// Maps an IANA number back, or `None` for algorithms we cannot sign with.
    pub fn from_number(n: u8) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.number() == n)
    }

    /// The name used on the command line and in config files (lowercase mnemonic).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => lowercase_mnemonic!(secalg::RSASHA1),
            Algorithm::RsaSha256 => lowercase_mnemonic!(secalg::RSASHA256),
            Algorithm::EcdsaP256Sha256 => lowercase_mnemonic!(secalg::ECDSAP256SHA256),
            Algorithm::Ed25519 => lowercase_mnemonic!(secalg::ED25519),
        }
    }

    /// RFC 9905 forbids creating DNSKEY and RRSIG records with RSASHA1 (algorithm 5,
    /// and its NSEC3 alias 7, which zonesign never signs with): the `.se` practice
    /// statement's 2015 profile still names it, so it stays available, and every
    /// command that makes or uses such a key says what is true about it.
    pub fn forbidden_by_rfc9905(self) -> bool {
        self == Algorithm::RsaSha1
    }

    /// The warning for a key of a forbidden algorithm ([`Algorithm::forbidden_by_rfc9905`]).
    pub fn rfc9905_warning(self) -> String {
        format!(
            "RFC 9905: {} (algorithm {}) must no longer be used to create DNSKEY or RRSIG records; validators are dropping it. Move the zone to ecdsap256sha256 (13) or rsasha256 (8) with an algorithm rollover (RFC 6781 §4.1.4): `zonesign key generate --role ksk --algorithm ecdsap256sha256`, the same with `--role zsk`, then `zonesign key rollover --algorithm ecdsap256sha256`; a new zone should start with `zonesign init --algorithm ecdsap256sha256`",
            self.name().to_uppercase(),
            self.number()
        )
    }

    /// True for the RSA family, whose key size is chosen by policy (DPS-6.1).
    pub fn is_rsa(self) -> bool {
        matches!(self, Algorithm::RsaSha1 | Algorithm::RsaSha256)
    }

    /// The key size in bits: RSA keys take the requested size; curves have a fixed one.
    pub fn effective_bits(self, requested_rsa_bits: u32) -> u32 {
        match self {
            Algorithm::RsaSha1 | Algorithm::RsaSha256 => requested_rsa_bits,
            Algorithm::EcdsaP256Sha256 | Algorithm::Ed25519 => 256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so that widths in tables (`key list`) apply.
        f.pad(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    /// Accepts the lowercase mnemonic, the IANA mnemonic in any case, or the number.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if let Ok(n) = lower.parse::<u8>() {
            return Algorithm::from_number(n)
                .ok_or_else(|| format!("unsupported algorithm number {n}"));
        }
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                let (last, rest) = names.split_last().unwrap_or((&"", &[]));
                format!(
                    "unknown algorithm '{s}' (expected {} or {last})",
                    rest.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_number(a.number()), Some(a));
            assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
        }
        assert_eq!(
            "RSASHA256".parse::<Algorithm>().unwrap(),
            Algorithm::RsaSha256
        );
        assert_eq!(
            "13".parse::<Algorithm>().unwrap(),
            Algorithm::EcdsaP256Sha256
        );
        assert!("dsa".parse::<Algorithm>().is_err());
        assert_eq!(
            "dsa".parse::<Algorithm>().unwrap_err(),
            "unknown algorithm 'dsa' (expected rsasha1, rsasha256, ecdsap256sha256 or ed25519)"
        );
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            ["rsasha1", "rsasha256", "ecdsap256sha256", "ed25519"]
        );
    }
}
