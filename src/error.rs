//! Typed errors of every stage and the exit-code contract of the command line.
//!
//! Each stage returns its own error type; this module folds them into [`Error`], whose
//! [`Error::exit_code`] is the documented contract scripts and cron rely on. Messages are
//! written for operators: they say what is wrong and where (file and line) and, when there
//! is one, what to do about it.

use std::path::PathBuf;

use crate::config::PIN_ENV;
use crate::dns::algorithm::Algorithm;
use crate::dns::name::Name;
use crate::dns::zonefile::ParseError;
use crate::dnssec::crypto::CryptoError;
pub use crate::dnssec::lifecycle::{DestroyRefusal, Refusal, RetireRefusal};
pub use crate::dnssec::policy::PolicyProblem;
use crate::hsm::HsmError;

/// The exit codes of `zonesign`, documented in `--help` and the man page.
///
/// They are part of the command-line contract: cron wrappers and CI decide on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    Ok = 0,
    /// The zone failed verification: nothing was written (DPS-6.6).
    VerifyFailed = 1,
    /// Bad input or usage: a malformed zone, a failed zone check, a bad option or config.
    BadInput = 2,
    /// HSM or key problem: module, token, PIN, missing or mismatched key.
    Hsm = 3,
    /// I/O problem: a file could not be read or the output could not be written.
    Io = 4,
    /// Another run holds the lock on the output: nothing was changed.
    Locked = 5,
    /// `verify --expiring`: the zone is valid but signatures expire within the window.
    Expiring = 6,
    /// `sign`: the new input was rejected (PIPE-1); the approved zone was signed,
    /// verified and written instead. The published zone is safe; the input is not.
    InputRejected = 7,
}

impl ExitCode {
    /// Every exit code with its meaning: the one definition that `--help`, the man
    /// page, the README's table (checked by a test) and the integration tests use.
    pub const ALL: [(ExitCode, &'static str); 8] = [
        (ExitCode::Ok, "success"),
        (
            ExitCode::VerifyFailed,
            "the zone failed verification (nothing was written); for `audit verify`: the audit chain is broken; for `check`: a mandatory security control is missing",
        ),
        (
            ExitCode::BadInput,
            "bad input or usage (malformed zone, including an $INCLUDE that cannot be read; failed zone check; bad option; missing or bad config; a key file that `key import --from-file` refuses)",
        ),
        (
            ExitCode::Hsm,
            "HSM or key problem (module, token, PIN, missing or mismatched key)",
        ),
        (
            ExitCode::Io,
            "I/O problem (a file could not be read: the zone, an anchor, the key state; or the output could not be written)",
        ),
        (
            ExitCode::Locked,
            "another zonesign run holds the lock on the output (nothing was changed)",
        ),
        (
            ExitCode::Expiring,
            "verify --expiring: the zone is valid, but signatures expire within the window",
        ),
        (
            ExitCode::InputRejected,
            "sign: the new input was rejected (syntax, zone checks, change limits or a check program); the approved zone was signed, verified and written instead: the published zone is safe, the input is not",
        ),
    ];

    /// The process exit status.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The "Exit codes:" block of `--help` and the man page, each meaning wrapped at 80
    /// columns under its code.
    pub fn help() -> String {
        let mut out = String::from("Exit codes:\n");
        for (code, meaning) in ExitCode::ALL {
            let mut line = format!("  {}  ", code.code());
            for word in meaning.split(' ') {
                if line.len() + word.len() + 1 > 80 && line.trim_end().len() > 4 {
                    out.push_str(line.trim_end());
                    out.push('\n');
                    line = "     ".into();
                }
                line.push_str(word);
                line.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Every error zonesign can end with, grouped by the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The zone file (or an anchor file) could not be parsed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The zone parsed but breaks a rule that must hold before signing.
    #[error("the zone failed {} check(s):\n{}", .0.len(), .0.join("\n"))]
    Checks(Vec<String>),
    /// A bad command-line value or configuration.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The token, module, PIN or a key failed.
    #[error("{0}")]
    Hsm(#[from] HsmError),
    /// The key state does not allow the requested act (no active KSK, key mismatch...).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The signed zone failed the verification gate or `zonesign verify`.
    #[error("{0}")]
    Verification(String),
    /// Another run is signing into the same output.
    #[error("{0}")]
    Locked(String),
    /// The approved zone beside the output is damaged (PIPE-1).
    #[error(transparent)]
    Approved(#[from] crate::store::approved::ApprovedError),
    /// The new input failed ingress and there is no approved zone to sign instead
    /// (a first run): nothing was written (PIPE-1).
    #[error(
        "input rejected: {0}; there is no approved zone yet to sign instead, so nothing was written"
    )]
    InputRejected(String),
    /// An `[egress]` check program refused the signed zone: nothing was published.
    #[error("{0}")]
    EgressRejected(String),
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Parse(_) | Error::Checks(_) | Error::Usage(_) | Error::InputRejected(_) => {
                ExitCode::BadInput
            }
            Error::Hsm(_) | Error::Key(_) => ExitCode::Hsm,
            Error::Io { .. } | Error::Approved(_) => ExitCode::Io,
            Error::Verification(_) | Error::EgressRejected(_) => ExitCode::VerifyFailed,
            Error::Locked(_) => ExitCode::Locked,
        }
    }

    /// Wraps an I/O error with the path it concerns, so the message names the file.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::Key(KeyError::Refused(r))
    }
}

/// A bad command-line value or configuration ([`Error::Usage`], exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A configured check program that cannot run (missing, not executable, empty).
    #[error("{0}")]
    CheckProgram(String),
    /// `[ingress]` or `[egress]` both in the config and in the policy file.
    #[error("{}: [{table}] is set both here and in the policy file; keep one", path.display())]
    TableTwice {
        /// The config file.
        path: PathBuf,
        /// `ingress` or `egress`.
        table: &'static str,
    },
    /// The NSEC3 chain cannot be built for this zone (origin too long, hash collision).
    #[error("NSEC3 chain: {0}")]
    Nsec3Chain(crate::zone::nsec3::Nsec3Error),
    /// `denial = "nsec3"` while the zone has RSASHA1 (algorithm 5) keys (RFC 5155 §2).
    #[error(
        "denial = \"nsec3\" cannot sign with RSASHA1 (algorithm 5) key(s) {tags:?}: RFC 5155 section 2 forbids NSEC3 under algorithm 5, because resolvers that know algorithm 5 but not NSEC3 would take the zone for bogus. Roll the keys to algorithm 8, 13 or 15 (or 7, RSASHA1-NSEC3-SHA1) first, or keep denial = \"nsec\"; nothing was changed"
    )]
    Nsec3WithRsaSha1 {
        /// Tags of the RSASHA1 keys in the DNSKEY RRset.
        tags: Vec<u16>,
    },
    /// `key import --from-file` refused a key file (unreadable, malformed, not the
    /// role's, not matching its `.key`, already imported); nothing was changed.
    #[error("key import refused, nothing changed: {0}")]
    KeyFile(crate::dnssec::keyfile::KeyFileError),
    /// The config file does not exist.
    #[error("no configuration at {} (run `zonesign init` first, or give --config)", path.display())]
    NoConfig {
        /// Where the config was looked for.
        path: PathBuf,
    },
    /// The config file is not valid TOML or has unknown or mistyped fields.
    #[error("{}: bad configuration: {source}", path.display())]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What the TOML reader found.
        source: toml::de::Error,
    },
    /// The `[audit]` facility is not a syslog facility.
    #[error("{}: bad [audit] facility {facility:?} (use e.g. local0..local7, daemon, auth, user)", path.display())]
    BadAuditFacility {
        /// The config file.
        path: PathBuf,
        /// The facility as written.
        facility: String,
    },
    /// The config's inline `[policy]` table does not read as a policy.
    #[error("{}: bad [policy]: {source}", path.display())]
    BadPolicyTable {
        /// The config file.
        path: PathBuf,
        /// What the TOML reader found.
        source: toml::de::Error,
    },
    /// The policy file does not read as a policy.
    #[error("{}: bad policy: {source}", path.display())]
    BadPolicyFile {
        /// The policy file.
        path: PathBuf,
        /// What the TOML reader found.
        source: toml::de::Error,
    },
    /// The policy reads, but breaks a rule of the practice statement.
    #[error("{}: {problem}", path.display())]
    InvalidPolicy {
        /// The file the policy came from (the policy file or the config).
        path: PathBuf,
        /// The rule it breaks.
        problem: PolicyProblem,
    },
    /// `init` found a config where it would write one.
    #[error("{} already exists: refusing to overwrite an existing setup", path.display())]
    ConfigExists {
        /// The existing config file.
        path: PathBuf,
    },
    /// `init` could not encode the config it made.
    #[error("cannot write config: {0}")]
    EncodeConfig(toml::ser::Error),
    /// A trust anchor file holds no DS or DNSKEY record for the zone.
    #[error("{}: no DS or DNSKEY record for {origin}", path.display())]
    NoAnchor {
        /// The anchor file.
        path: PathBuf,
        /// The zone's origin.
        origin: Name,
    },
    /// A DS digest type zonesign cannot compute.
    #[error("unsupported DS digest type {digest_type}")]
    UnsupportedDigest {
        /// The digest type number.
        digest_type: u8,
    },
    /// A command-line option has a value outside its range.
    #[error("{option} must be {requirement}")]
    BadOptionValue {
        /// The option, as typed (`--count`).
        option: &'static str,
        /// What its value must be (`at least 1`).
        requirement: &'static str,
    },
    /// `hsm worker` was run by hand.
    #[error("`hsm worker` is started by zonesign itself")]
    WorkerCommand,
    /// The zone recorded in the key state is not a domain name.
    #[error("{problem}")]
    BadRecordedZone {
        /// The zone as recorded.
        zone: String,
        /// Why it does not parse.
        problem: String,
    },
    /// `key ds` without `--origin` for keys that have not signed a zone.
    #[error("these keys have not signed a zone yet: give --origin")]
    NoOrigin,
}

/// A key problem ([`Error::Key`], exit code 3): the key state, a PIN, or a token's keys
/// do not allow the requested act.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key lifecycle refused a roll, `ds-seen`, `compromised`, `retire` or `destroy`.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Signing needs an active KSK and an active ZSK (DPS-6.1).
    #[error("{}: signing needs an active KSK and an active ZSK (DPS-6.1); see `zonesign key list`", keys.display())]
    NoSigningKeys {
        /// The key state file.
        keys: PathBuf,
    },
    /// `hsm bench` needs an active ZSK.
    #[error("{}: no active ZSK to measure; see `zonesign key list`", keys.display())]
    NoZskToMeasure {
        /// The key state file.
        keys: PathBuf,
    },
    /// No key has this tag.
    #[error("no key with tag {tag}; see `zonesign key list`")]
    UnknownTag {
        /// The tag asked for.
        tag: u16,
    },
    /// Several live keys (or several removed ones) share this tag.
    #[error("several keys have tag {tag}; the key state is ambiguous, see `zonesign key list`")]
    AmbiguousTag {
        /// The tag asked for.
        tag: u16,
    },
    /// A key's PKCS#11 id in the key state is not hex.
    #[error("key {tag}: bad id '{id}' in the key state")]
    BadId {
        /// The key's tag.
        tag: u16,
        /// The id as recorded.
        id: String,
    },
    /// A key's public key in the key state is not base64.
    #[error("key {tag}: bad public key in the key state")]
    BadPublicKey {
        /// The key's tag.
        tag: u16,
    },
    /// A key's DNSKEY in the key state cannot be used for verification.
    #[error("key {tag} in the key state: {source}")]
    UnusableKey {
        /// The key's tag.
        tag: u16,
        /// Why the verifier refuses it.
        source: CryptoError,
    },
    /// A signing key's DNSKEY cannot check the signatures made with it.
    #[error("key {tag}: {source}")]
    UnusableSigningKey {
        /// The key's tag.
        tag: u16,
        /// Why the verifier refuses it.
        source: CryptoError,
    },
    /// The key state file is not valid TOML or not a key state.
    #[error("{}: bad key state: {source}", path.display())]
    BadStateFile {
        /// The key state file.
        path: PathBuf,
        /// What the TOML reader found.
        source: toml::de::Error,
    },
    /// The key state could not be encoded as TOML.
    #[error("cannot encode key state: {0}")]
    EncodeState(toml::ser::Error),
    /// `key ds --tag` named a ZSK.
    #[error("key {tag} is a ZSK: the parent publishes DS records of KSKs only")]
    NotKsk {
        /// The tag asked for.
        tag: u16,
    },
    /// A token of a cluster lacks a recorded key.
    #[error(
        "token {token} lacks key {tag} ({label}): every token of `token` and `extra-tokens` must hold the same keys; refusing to sign"
    )]
    MissingInToken {
        /// The token's label.
        token: String,
        /// The key's tag.
        tag: u16,
        /// The key's label.
        label: String,
    },
    /// A token holds another public key under a recorded key's id.
    #[error("key {tag} ({label}) in token {token} differs from the key state; refusing to sign")]
    PublicKeyMismatch {
        /// The token's label.
        token: String,
        /// The key's tag.
        tag: u16,
        /// The key's label.
        label: String,
    },
    /// The token lacks the PKCS#11 mechanisms of an algorithm.
    #[error(
        "the token '{token}' cannot generate or sign with {algorithm} (its PKCS#11 mechanisms are missing); nothing was generated and the key state is unchanged. Choose an algorithm it supports (--algorithm), or use a token that has it"
    )]
    MechanismMissing {
        /// The token's label.
        token: String,
        /// The algorithm asked for.
        algorithm: Algorithm,
    },
    /// `key import` refused a key; nothing was changed.
    #[error("key import refused, nothing changed: {key}: {why}")]
    ImportRefused {
        /// The key as named on the command line (id, label or URI).
        key: String,
        /// Why, and what to do.
        why: String,
    },
    /// `init` found no SoftHSM2 module and none was given.
    #[error("no SoftHSM2 module found (install the softhsm2 package, or give --module)")]
    NoSoftHsmModule,
    /// Neither the PIN variable nor a PIN file is set.
    #[error("no PIN: set {PIN_ENV} or add pin-file to {}", config.display())]
    NoPin {
        /// The config file.
        config: PathBuf,
    },
    /// The PIN file cannot be read.
    #[error("no PIN: cannot read the PIN file {} ({source}); check pin-file in the config and restore the file, or set {PIN_ENV}", file.display())]
    PinFileUnreadable {
        /// The PIN file.
        file: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The PIN file may be read by others than its owner (SEC-6.1).
    #[error("the PIN file {} is readable by others; run `chmod 600 {}` (SEC-6.1)", file.display(), file.display())]
    PinFileReadableByOthers {
        /// The PIN file.
        file: PathBuf,
    },
    /// The PIN file is empty.
    #[error("the PIN file {} is empty", file.display())]
    PinFileEmpty {
        /// The PIN file.
        file: PathBuf,
    },
    /// A thread of `hsm bench` panicked.
    #[error("a signing thread panicked")]
    SigningThreadPanicked,
}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's exit-code table lists exactly the codes of [`ExitCode::ALL`], in
    /// order: the contract is defined once and documented where operators read it.
    #[test]
    fn readme_exit_code_table_matches_the_definition() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let section = readme
            .split("### Exit codes")
            .nth(1)
            .expect("README has an exit code section");
        let listed: Vec<i32> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('|').nth(1).unwrap().trim().parse().expect("code"))
            .collect();
        let defined: Vec<i32> = ExitCode::ALL.iter().map(|(c, _)| c.code()).collect();
        assert_eq!(listed, defined);
        assert_eq!(
            defined,
            (0..8).collect::<Vec<_>>(),
            "codes are 0..=7, in order"
        );
    }

    /// The typed key and usage errors render the messages operators (and the
    /// integration tests) have always seen, byte for byte, with the same exit codes.
    #[test]
    fn typed_key_errors_render_the_old_messages() {
        use crate::dnssec::keys::{KeyState, Role};
        let cases: Vec<(Error, &str)> = vec![
            (
                Refusal::KskRollInProgress { new: 4711 }.into(),
                "a KSK roll is already in progress (new KSK 4711): finish it first — give the parent its DS (`zonesign key ds`), record it with `zonesign key ds-seen --tag 4711`, and the old KSK is removed DS TTL + propagation later. Two rolls at once would leave the parent's DS set and the DNSKEY RRset out of step",
            ),
            (
                Refusal::ZskRollInProgress {
                    new: 123,
                    signs_from: 1_767_225_600,
                }
                .into(),
                "a ZSK roll is already in progress: ZSK 123 is published and signs from 2026-01-01T00:00:00Z on; wait for it (sign runs advance it)",
            ),
            (
                Refusal::NoSpareKey { role: Role::Zsk }.into(),
                "no pre-generated ZSK with the active key's algorithm: run `zonesign key generate --role zsk` (it needs the PIN; DPS-5.1), then try again",
            ),
            (
                Refusal::NotNewKsk {
                    tag: 7,
                    role: Role::Zsk,
                    state: KeyState::Active,
                }
                .into(),
                "key 7 is not the new KSK of a KSK roll in progress (zsk active): ds-seen records that the parent publishes a new KSK's DS. Start a roll with `zonesign key rollover --role ksk`; `zonesign key list` shows the keys",
            ),
            (
                Refusal::Retire(RetireRefusal::Gone {
                    tag: 9,
                    state: KeyState::Removed,
                })
                .into(),
                "refused, nothing changed: key 9 is already removed; keys are never reused (DPS-5.3)",
            ),
            (
                Refusal::Destroy(DestroyRefusal::Active {
                    tag: 5,
                    role: Role::Ksk,
                })
                .into(),
                "refused, nothing destroyed or changed: KSK 5 is active; it signs the DNSKEY RRset and the parent's DS may point to it: destroying it could leave the zone without a chain from the DS anchor. Roll it first (`zonesign key rollover --role ksk`, or `zonesign key compromised --tag 5` if it may be compromised); once `zonesign key list` shows it removed, destroy it (DPS-5.3)",
            ),
            (
                Refusal::Destroy(DestroyRefusal::Retired {
                    tag: 6,
                    removal: Some("2026-01-01T00:00:00Z".into()),
                })
                .into(),
                "refused, nothing destroyed or changed: key 6 is retired but not yet removed: its DNSKEY stays in the zone until no signature it made can still be in a cache (planned: 2026-01-01T00:00:00Z, at the first sign run from then on). Sign runs remove it; destroy it after that (DPS-5.3)",
            ),
            (
                Refusal::Destroy(DestroyRefusal::Retired {
                    tag: 6,
                    removal: None,
                })
                .into(),
                "refused, nothing destroyed or changed: key 6 is retired but not yet removed: its DNSKEY stays in the zone until no signature it made can still be in a cache. Sign runs remove it; destroy it after that (DPS-5.3)",
            ),
            (
                Refusal::AlreadyDestroyed {
                    tag: 8,
                    label: "zsk-8".into(),
                    at: None,
                }
                .into(),
                "key 8 (zsk-8) was already destroyed at an unrecorded time: its objects are no longer in the token; nothing to do",
            ),
            (
                Error::Key(KeyError::UnknownTag { tag: 1 }),
                "no key with tag 1; see `zonesign key list`",
            ),
            (
                Error::Key(KeyError::MissingInToken {
                    token: "backup".into(),
                    tag: 2,
                    label: "ksk-2".into(),
                }),
                "token backup lacks key 2 (ksk-2): every token of `token` and `extra-tokens` must hold the same keys; refusing to sign",
            ),
            (
                Error::Key(KeyError::MechanismMissing {
                    token: "zonesign".into(),
                    algorithm: Algorithm::Ed25519,
                }),
                "the token 'zonesign' cannot generate or sign with ed25519 (its PKCS#11 mechanisms are missing); nothing was generated and the key state is unchanged. Choose an algorithm it supports (--algorithm), or use a token that has it",
            ),
            (
                Error::Key(KeyError::NoPin {
                    config: "/etc/zonesign/zonesign.toml".into(),
                }),
                "no PIN: set ZONESIGN_PIN or add pin-file to /etc/zonesign/zonesign.toml",
            ),
            (
                Error::Key(KeyError::PinFileReadableByOthers {
                    file: "/etc/zonesign/pin".into(),
                }),
                "the PIN file /etc/zonesign/pin is readable by others; run `chmod 600 /etc/zonesign/pin` (SEC-6.1)",
            ),
        ];
        for (err, old) in cases {
            assert_eq!(err.to_string(), old);
            assert_eq!(err.exit_code(), ExitCode::Hsm, "{old}");
        }
    }

    #[test]
    fn typed_usage_errors_render_the_old_messages() {
        let cases: Vec<(UsageError, &str)> = vec![
            (
                UsageError::NoConfig {
                    path: "/etc/zonesign/zonesign.toml".into(),
                },
                "no configuration at /etc/zonesign/zonesign.toml (run `zonesign init` first, or give --config)",
            ),
            (
                UsageError::BadAuditFacility {
                    path: "z.toml".into(),
                    facility: "local9".into(),
                },
                "z.toml: bad [audit] facility \"local9\" (use e.g. local0..local7, daemon, auth, user)",
            ),
            (
                UsageError::InvalidPolicy {
                    path: "policy.toml".into(),
                    problem: PolicyProblem::RefreshTooLong,
                },
                "policy.toml: refresh must be shorter than validity-min, or every run re-signs all",
            ),
            (
                UsageError::BadOptionValue {
                    option: "--count",
                    requirement: "at least 1",
                },
                "--count must be at least 1",
            ),
            (
                UsageError::BadOptionValue {
                    option: "--seconds",
                    requirement: "between 0 and 86400",
                },
                "--seconds must be between 0 and 86400",
            ),
            (
                UsageError::UnsupportedDigest { digest_type: 3 },
                "unsupported DS digest type 3",
            ),
            (
                UsageError::NoOrigin,
                "these keys have not signed a zone yet: give --origin",
            ),
        ];
        for (err, old) in cases {
            let err = Error::from(err);
            assert_eq!(err.to_string(), old);
            assert_eq!(err.exit_code(), ExitCode::BadInput, "{old}");
        }
    }

    #[test]
    fn help_lists_every_code_within_80_columns() {
        let help = ExitCode::help();
        for (code, _) in ExitCode::ALL {
            assert!(help.contains(&format!("\n  {}  ", code.code())), "{help}");
        }
        assert!(help.lines().all(|l| l.len() <= 80), "{help}");
    }
}
