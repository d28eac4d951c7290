//! BIND's key files (`Kzone.+alg+tag.private` and `.key`, as `dnssec-keygen` writes
//! them), read for `zonesign key import --from-file` (issue 23): a registry leaving a
//! file-key signer keeps its keys, whose DS is in the parent.
//!
//! The `.private` file is private-key format v1.2 or v1.3: `Field: value` lines, the key
//! material in base64 (RSA: modulus, exponents, primes, CRT values; ECDSA and EdDSA: one
//! `PrivateKey`), and timing fields that zonesign ignores (its own key state has the
//! times). The `.key` file is one DNSKEY record after `;` comments. Every value read
//! from the `.private` file, and the file's text itself, is wiped from memory when it is
//! dropped ([`Zeroizing`]): the material goes into the token and nowhere else.
//! Messages name the file and line, never a value.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::dns::algorithm::Algorithm;

/// A key file that cannot be used, with the line at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when one line is at fault.
    pub line: Option<usize>,
    /// What is wrong and what to do (never a key value).
    pub problem: String,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError {
                line: Some(line), ..
            } => write!(f, "{}:{line}: {}", self.path.display(), self.problem),
            _ => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// A secret byte string, wiped when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

/// The RSA fields of a `.private` file (RFC 3447 names in BIND's spelling).
pub struct RsaPrivate {
    /// `Modulus` (n).
    pub modulus: Vec<u8>,
    /// `PublicExponent` (e).
    pub public_exponent: Vec<u8>,
    /// `PrivateExponent` (d).
    pub private_exponent: Secret,
    /// `Prime1` (p).
    pub prime1: Secret,
    /// `Prime2` (q).
    pub prime2: Secret,
    /// `Exponent1` (d mod p-1).
    pub exponent1: Secret,
    /// `Exponent2` (d mod q-1).
    pub exponent2: Secret,
    /// `Coefficient` (q^-1 mod p).
    pub coefficient: Secret,
}

/// The private key material of a `.private` file.
pub enum PrivateMaterial {
    /// RSA (algorithms 5 and 8).
    Rsa(RsaPrivate),
    /// The P-256 private scalar, 32 octets big-endian (algorithm 13).
    P256(Secret),
    /// The Ed25519 private key (RFC 8032 seed), 32 octets (algorithm 15).
    Ed25519(Secret),
}

impl fmt::Debug for PrivateMaterial {
    /// Never the values: only which kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrivateMaterial::Rsa(_) => "PrivateMaterial::Rsa(..)",
            PrivateMaterial::P256(_) => "PrivateMaterial::P256(..)",
            PrivateMaterial::Ed25519(_) => "PrivateMaterial::Ed25519(..)",
        })
    }
}

/// A parsed `.private` file.
#[derive(Debug)]
pub struct PrivateKeyFile {
    /// Its `Algorithm`.
    pub algorithm: Algorithm,
    /// Its key material.
    pub material: PrivateMaterial,
}

/// A parsed `.key` file: the DNSKEY record in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyFile {
    /// The owner name as written.
    pub owner: String,
    /// DNSKEY flags (256 ZSK, 257 KSK).
    pub flags: u16,
    /// The algorithm number.
    pub algorithm: u8,
    /// The public key field (RFC 3110, RFC 6605, RFC 8080 form).
    pub key: Vec<u8>,
    /// The line of the record.
    pub line: usize,
}

/// The `.key` file that goes with a `.private` file: same name, other extension.
pub fn key_file_beside(private: &Path) -> Option<PathBuf> {
    (private.extension()? == "private").then(|| private.with_extension("key"))
}

/// The fields of the private-key format that carry no key material and are ignored:
/// the format's own version and BIND's timing metadata.
const IGNORED_FIELDS: [&str; 15] = [
    "Created",
    "Publish",
    "Activate",
    "Revoke",
    "Inactive",
    "Delete",
    "SyncPublish",
    "SyncDelete",
    "DSPublish",
    "DSDelete",
    "PublishCDS",
    "DeleteCDS",
    "Predecessor",
    "Successor",
    "Lifetime",
];

/// Reads a `.private` file's text. Every refusal names the line.
pub fn parse_private(path: &Path, text: &str) -> Result<PrivateKeyFile, KeyFileError> {
    let err = |line: Option<usize>, problem: String| KeyFileError {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut fields: Vec<(&str, usize, Secret)> = Vec::new();
    let (mut format, mut algorithm) = (None, None);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(err(
                Some(n),
                "not a `Field: value` line of BIND's private-key format".into(),
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        match name {
            "Private-key-format" => format = Some((n, value)),
            "Algorithm" => algorithm = Some((n, value)),
            "Engine" | "Label" => {
                return Err(err(
                    Some(n),
                    format!(
                        "`{name}`: this key lives in an HSM already (BIND's PKCS#11 engine), the file holds no key material; import it from that token with `zonesign key import --label` or `--uri`"
                    ),
                ));
            }
            _ if IGNORED_FIELDS.contains(&name) => {}
            _ if KEY_FIELDS.contains(&name) => {
                if fields.iter().any(|(f, _, _)| *f == name) {
                    return Err(err(Some(n), format!("`{name}` appears twice")));
                }
                let bytes = data_encoding::BASE64
                    .decode(value.as_bytes())
                    .map_err(|_| err(Some(n), format!("`{name}` is not base64")))?;
                fields.push((KEY_FIELDS[key_field_index(name)], n, Zeroizing::new(bytes)));
            }
            _ => {
                return Err(err(
                    Some(n),
                    format!("unknown field `{name}` in BIND's private-key format"),
                ));
            }
        }
    }
    let Some((fline, version)) = format else {
        return Err(err(
            None,
            "no `Private-key-format:` line: not a BIND private key file (dnssec-keygen's K*.private)".into(),
        ));
    };
    if !matches!(version, "v1.2" | "v1.3") {
        return Err(err(
            Some(fline),
            format!("private-key format {version:?}: zonesign reads v1.2 and v1.3"),
        ));
    }
    let Some((aline, alg_text)) = algorithm else {
        return Err(err(None, "no `Algorithm:` line".into()));
    };
    let algorithm = algorithm_of(alg_text).map_err(|p| err(Some(aline), p))?;
    let material = material(algorithm, fields).map_err(|(line, p)| err(line, p))?;
    Ok(PrivateKeyFile {
        algorithm,
        material,
    })
}

/// The key-material fields of the format (RSA, then ECDSA/EdDSA).
const KEY_FIELDS: [&str; 9] = [
    "Modulus",
    "PublicExponent",
    "PrivateExponent",
    "Prime1",
    "Prime2",
    "Exponent1",
    "Exponent2",
    "Coefficient",
    "PrivateKey",
];

fn key_field_index(name: &str) -> usize {
    KEY_FIELDS.iter().position(|f| *f == name).unwrap_or(0)
}

/// The algorithm of an `Algorithm: N (NAME)` value; those zonesign does not sign with
/// are refused with what to do.
fn algorithm_of(value: &str) -> Result<Algorithm, String> {
    let number = value.split_whitespace().next().unwrap_or_default();
    let Ok(n) = number.parse::<u8>() else {
        return Err(format!(
            "`Algorithm: {value}`: expected a number, e.g. `13 (ECDSAP256SHA256)`"
        ));
    };
    Algorithm::from_number(n).ok_or_else(|| {
        format!(
            "algorithm {value}: zonesign signs with algorithms 5 (RSASHA1), 8 (RSASHA256), 13 (ECDSAP256SHA256) and 15 (ED25519) only; roll the zone to one of them with the old signer first, or start with new keys (`zonesign init`) and a KSK roll at the parent"
        )
    })
}

/// The key material for `algorithm` from the fields read, each required one present
/// and of the right size; no field of another algorithm.
fn material(
    algorithm: Algorithm,
    mut fields: Vec<(&str, usize, Secret)>,
) -> Result<PrivateMaterial, (Option<usize>, String)> {
    let mut take = |name: &str| -> Result<Secret, (Option<usize>, String)> {
        let i = fields
            .iter()
            .position(|(f, _, _)| *f == name)
            .ok_or((None, format!("`{name}` is missing: the file is incomplete")))?;
        Ok(fields.swap_remove(i).2)
    };
    let material = if algorithm.is_rsa() {
        let modulus = take("Modulus")?.to_vec();
        let public_exponent = take("PublicExponent")?.to_vec();
        PrivateMaterial::Rsa(RsaPrivate {
            modulus,
            public_exponent,
            private_exponent: take("PrivateExponent")?,
            prime1: take("Prime1")?,
            prime2: take("Prime2")?,
            exponent1: take("Exponent1")?,
            exponent2: take("Exponent2")?,
            coefficient: take("Coefficient")?,
        })
    } else {
        let key = take("PrivateKey")?;
        if key.len() != 32 {
            return Err((
                None,
                format!(
                    "`PrivateKey` has {} octets; {algorithm} needs 32",
                    key.len()
                ),
            ));
        }
        match algorithm {
            Algorithm::Ed25519 => PrivateMaterial::Ed25519(key),
            _ => PrivateMaterial::P256(key),
        }
    };
    if let Some((name, line, _)) = fields.first() {
        return Err((
            Some(*line),
            format!("`{name}` does not belong to an {algorithm} key"),
        ));
    }
    Ok(material)
}

/// Reads a `.key` file's text: `;` comments, then one `OWNER [TTL] [IN] DNSKEY FLAGS 3
/// ALG BASE64...` record on one line (as `dnssec-keygen` writes it).
pub fn parse_public(path: &Path, text: &str) -> Result<PublicKeyFile, KeyFileError> {
    let err = |line: Option<usize>, problem: String| KeyFileError {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut found = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(err(
                Some(i + 1),
                "a second record: a .key file holds one DNSKEY".into(),
            ));
        }
        found = Some(dnskey_line(line).map_err(|p| err(Some(i + 1), p))?);
        if let Some(k) = found.as_mut() {
            k.line = i + 1;
        }
    }
    found.ok_or_else(|| err(None, "no DNSKEY record".into()))
}

/// One DNSKEY record line (comments removed).
fn dnskey_line(line: &str) -> Result<PublicKeyFile, String> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let at = tokens
        .iter()
        .position(|t| t.eq_ignore_ascii_case("DNSKEY"))
        .ok_or("not a DNSKEY record")?;
    let (Some(flags), Some(protocol), Some(alg)) =
        (tokens.get(at + 1), tokens.get(at + 2), tokens.get(at + 3))
    else {
        return Err("DNSKEY record without flags, protocol and algorithm".into());
    };
    let flags: u16 = flags.parse().map_err(|_| "DNSKEY flags are not a number")?;
    if *protocol != "3" {
        return Err(format!("DNSKEY protocol {protocol}: must be 3"));
    }
    let algorithm: u8 = alg
        .parse()
        .map_err(|_| "DNSKEY algorithm is not a number")?;
    let b64: String = tokens[at + 4..].concat();
    let key = data_encoding::BASE64
        .decode(b64.as_bytes())
        .map_err(|_| "the DNSKEY public key is not base64")?;
    if key.is_empty() {
        return Err("the DNSKEY has no public key".into());
    }
    Ok(PublicKeyFile {
        owner: tokens[0].to_string(),
        flags,
        algorithm,
        key,
        line: 0,
    })
}

/// The RSA public exponent and modulus of an RFC 3110 public key field.
pub fn rfc3110_parts(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = key.split_first()?;
    let (len, rest) = if first == 0 {
        let (l, rest) = rest.split_at_checked(2)?;
        (usize::from(u16::from_be_bytes([l[0], l[1]])), rest)
    } else {
        (usize::from(first), rest)
    };
    let (e, n) = rest.split_at_checked(len)?;
    (!e.is_empty() && !n.is_empty()).then_some((e, n))
}

/// Whether the `.private` file's public half (RSA: modulus and exponent) is the one in
/// the `.key` file. For ECDSA and EdDSA the file has no public half: the token's probe
/// signature, verified with the `.key` file's key, decides.
pub fn rsa_public_matches(rsa: &RsaPrivate, public: &PublicKeyFile) -> bool {
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    rfc3110_parts(&public.key).is_some_and(|(e, n)| {
        strip(e) == strip(&rsa.public_exponent) && strip(n) == strip(&rsa.modulus)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: m3s8w+bad/PM36v+dg8T8rJI07JZCZ2h9r8OXyIIBJ4=\nCreated: 20261207170634\nPublish: 20261207170634\nActivate: 20261207170634\n";

    fn p() -> &'static Path {
        Path::new("Kse.+013+40606.private")
    }

    #[test]
    fn ecdsa_file_reads() {
        let k = parse_private(p(), EC).unwrap();
        assert_eq!(k.algorithm, Algorithm::EcdsaP256Sha256);
        let PrivateMaterial::P256(s) = &k.material else {
            panic!("{:?}", k.material)
        };
        assert_eq!(s.len(), 32);
        // Debug shows no key material.
        assert_eq!(format!("{:?}", k.material), "PrivateMaterial::P256(..)");
    }

    #[test]
    fn rsa_file_reads_and_matches_its_key() {
        let b = |v: &[u8]| data_encoding::BASE64.encode(v);
        let text = format!(
            "Private-key-format: v1.2\nAlgorithm: 8 (RSASHA256)\nModulus: {}\nPublicExponent: AQAB\nPrivateExponent: {}\nPrime1: {}\nPrime2: {}\nExponent1: {}\nExponent2: {}\nCoefficient: {}\n",
            b(&[0xC1, 0x02, 0x03]),
            b(&[1]),
            b(&[2]),
            b(&[3]),
            b(&[4]),
            b(&[5]),
            b(&[6])
        );
        let k = parse_private(p(), &text).unwrap();
        let PrivateMaterial::Rsa(rsa) = &k.material else {
            panic!()
        };
        let public = parse_public(
            p(),
            &format!(
                "; comment\nse. 3600 IN DNSKEY 256 3 8 {}\n",
                b(&[3, 1, 0, 1, 0xC1, 0x02, 0x03])
            ),
        )
        .unwrap();
        assert_eq!((public.flags, public.algorithm, public.line), (256, 8, 2));
        assert!(rsa_public_matches(rsa, &public));
        let other = parse_public(
            p(),
            &format!("se. IN DNSKEY 256 3 8 {}", b(&[3, 1, 0, 1, 0xC1])),
        )
        .unwrap();
        assert!(!rsa_public_matches(rsa, &other));
    }

    #[test]
    fn refusals_name_the_line() {
        for (text, line, says) in [
            (
                "Private-key-format: v1.3\nAlgorithm 13\n",
                Some(2),
                "Field: value",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 14 (ECDSAP384SHA384)\nPrivateKey: AAAA\n",
                Some(2),
                "signs with algorithms",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 7 (NSEC3RSASHA1)\n",
                Some(2),
                "signs with algorithms",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: *notbase64*\n",
                Some(3),
                "base64",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: AAAA\n",
                None,
                "needs 32",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 8\nModulus: AAAA\n",
                None,
                "missing",
            ),
            (
                "Private-key-format: v2.0\nAlgorithm: 13\n",
                Some(1),
                "v1.2 and v1.3",
            ),
            ("Algorithm: 13\n", None, "Private-key-format"),
            (
                "Private-key-format: v1.3\nAlgorithm: 13\nEngine: pkcs11\nLabel: x\n",
                Some(3),
                "--label",
            ),
            (
                "Private-key-format: v1.3\nAlgorithm: 13\nFoo: 1\n",
                Some(3),
                "unknown field",
            ),
            (&format!("{EC}Modulus: AAAA\n"), Some(7), "does not belong"),
            (&format!("{EC}PrivateKey: AAAA\n"), Some(7), "twice"),
        ] {
            let e = parse_private(p(), text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.to_string().contains(says), "{text}: {e}");
            assert!(e.to_string().starts_with("Kse.+013+40606.private:"), "{e}");
        }
        assert!(parse_public(p(), "; only comments\n").is_err());
        assert_eq!(
            parse_public(p(), "se. IN DNSKEY 256 2 13 AAAA")
                .unwrap_err()
                .line,
            Some(1)
        );
        assert_eq!(
            key_file_beside(Path::new("/d/Kse.+013+40606.private")),
            Some(PathBuf::from("/d/Kse.+013+40606.key"))
        );
        assert_eq!(key_file_beside(Path::new("/d/Kse.+013+40606.key")), None);
    }

    #[test]
    fn rfc3110_long_exponent() {
        let mut key = vec![0, 0, 2, 1, 1];
        key.push(0xAB);
        assert_eq!(rfc3110_parts(&key), Some((&[1u8, 1][..], &[0xABu8][..])));
        assert_eq!(rfc3110_parts(&[5, 1]), None);
    }
}
