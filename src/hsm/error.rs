//! What can go wrong between zonesign and the HSM. [`HsmError`] has one variant per
//! thing the operator can act on, each message saying what to check; [`PinTries`] is
//! the user PIN's try counter the token reports after a failed login. The mapping of
//! cryptoki's errors to these lives here too, with return values spelt as in the
//! PKCS#11 specification (`CKR_...`) so they can be looked up in vendor documentation.

use std::fmt;
use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

/// Everything that can go wrong between zonesign and the HSM.
///
/// Each variant names what the operator can do about it, because HSM failures
/// happen at 3 a.m. during a re-sign and the message is all they get.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The PKCS#11 shared library could not be opened or initialised.
    #[error(
        "cannot load the PKCS#11 module {}: {reason}; check `module` in the [hsm] section of the config (or --module for init) and that the HSM's library is installed (SoftHSM2: the softhsm2 package)",
        path.display()
    )]
    ModuleLoad {
        /// The module path that was tried.
        path: PathBuf,
        /// Why loading failed, as reported by the loader or `C_Initialize`.
        reason: String,
    },
    /// The module loaded but `C_Initialize` failed: the HSM or its own configuration
    /// is the problem, not the module path.
    #[error(
        "the PKCS#11 module {} loaded but could not start (C_Initialize returned {code}); check the HSM's own configuration and that it is reachable (SoftHSM2: softhsm-conf in the config, and that its directories.tokendir exists and is readable; opencryptoki: that the pkcsslotd daemon runs)",
        path.display()
    )]
    ModuleInit {
        /// The module path.
        path: PathBuf,
        /// The PKCS#11 return value's name.
        code: String,
    },
    /// No initialised token carries the requested label.
    #[error(
        "no token labelled {label:?} in this PKCS#11 module (tokens present: {}); check `token` in the [hsm] section of the config, and that the HSM is connected (SoftHSM2: that directories.tokendir in SOFTHSM2_CONF exists and is readable)",
        fmt_labels(available)
    )]
    TokenNotFound {
        /// The label that was asked for.
        label: String,
        /// The labels of the initialised tokens that do exist.
        available: Vec<String>,
    },
    /// A PKCS#11 URI naming the token or a key is malformed or ambiguous.
    #[error("PKCS#11 URI {uri:?}: {problem}")]
    BadUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `init_token` was asked to create a label that is already in use.
    #[error("a token labelled {label:?} already exists; refusing to initialise a second one")]
    TokenExists {
        /// The label that is taken.
        label: String,
    },
    /// The label cannot be stored in a token.
    #[error("invalid token label {label:?}: {reason}")]
    InvalidLabel {
        /// The rejected label.
        label: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// `C_Login` returned CKR_PIN_INCORRECT. `tries` is what the token's flags said
    /// right after the failure, so a cron job that keeps failing tells the operator
    /// how close the token is to locking the PIN (or that it just did).
    #[error(
        "the token rejected the PIN (CKR_PIN_INCORRECT){tries}; check ZONESIGN_PIN or the file named by pin-file in the config (repeated failures lock the PIN)"
    )]
    PinIncorrect {
        /// The token's try counter after this failure.
        tries: PinTries,
    },
    /// `C_Login` returned CKR_PIN_LEN_RANGE or CKR_PIN_INVALID: not even a PIN of the
    /// token's form, usually the wrong file or a stray character.
    #[error(
        "the token refused the PIN's form ({code}); check ZONESIGN_PIN or the file named by pin-file in the config for a wrong file or stray characters"
    )]
    PinMalformed {
        /// The PKCS#11 return value's name.
        code: String,
    },
    /// The token or slot went away (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
    /// CKR_TOKEN_NOT_RECOGNIZED): a lost HSM, not a zonesign problem.
    #[error(
        "the token is not available ({op} returned {code}); check that the HSM is connected and powered (SoftHSM2: that directories.tokendir in SOFTHSM2_CONF exists and is readable)"
    )]
    TokenUnavailable {
        /// The PKCS#11 function that failed.
        op: &'static str,
        /// The PKCS#11 return value's name.
        code: String,
    },
    /// A key object found at the start of the run is gone: the token was changed or
    /// lost while zonesign was using it (e.g. SoftHSM's token directory removed).
    #[error(
        "a key object vanished from the token during the run ({call} returned {code}); the token was changed or lost: check the HSM (SoftHSM2: its token directory) and run `zonesign check`"
    )]
    KeyVanished {
        /// The PKCS#11 function that failed.
        call: String,
        /// The PKCS#11 return value's name.
        code: String,
    },
    /// A signing session kept failing with transient errors even on new sessions.
    #[error(
        "PKCS#11 signing failed {attempts} times in a row on fresh sessions ({reason}); check the HSM connection and its logs"
    )]
    SessionRetriesExhausted {
        /// How many attempts were made in all.
        attempts: usize,
        /// The last error, in words.
        reason: String,
    },
    /// A signing worker process ([`crate::hsm::worker`]) reported an HSM error; the
    /// message is the worker's own error in words.
    #[error("{message}")]
    Worker {
        /// The worker's message.
        message: String,
    },
    /// A signing worker process died or broke off the conversation: a crashed PKCS#11
    /// module, or the process was killed.
    #[error(
        "a signing worker process (pid {pid}) stopped answering ({reason}); nothing was written: check the HSM module's logs and the system log for a crash, then sign again"
    )]
    WorkerLost {
        /// The worker's process id.
        pid: u32,
        /// What the pipe said and how the process ended.
        reason: String,
    },
    /// The user PIN is locked after too many failed logins: either the token's flags
    /// said so before zonesign tried (CKF_USER_PIN_LOCKED; then no login was attempted),
    /// or `C_Login` returned CKR_PIN_LOCKED.
    #[error(
        "the token's user PIN is locked after too many failed logins ({}); the security officer must reset it (C_InitPIN with the HSM's tools), then check ZONESIGN_PIN or the file named by pin-file in the config before the next run",
        if *before_login { "CKF_USER_PIN_LOCKED in the token's flags: zonesign did not try to log in, so no try was used" } else { "C_Login returned CKR_PIN_LOCKED" }
    )]
    PinLocked {
        /// True when the lock was seen in C_GetTokenInfo and C_Login was not called.
        before_login: bool,
    },
    /// Every slot already holds an initialised token.
    #[error(
        "no free (uninitialised) token slot in this PKCS#11 module; for SoftHSM check directories.tokendir in SOFTHSM2_CONF"
    )]
    NoFreeSlot,
    /// No private (or public) key object with this CKA_ID exists on the token.
    #[error(
        "no key with CKA_ID {id_hex} on the token; check `token` in the [hsm] section of the config and the key state (`zonesign key list`)"
    )]
    KeyNotFound {
        /// The CKA_ID, hex-encoded.
        id_hex: String,
    },
    /// `key import`: no private key, or several, with the id and label asked for.
    #[error(
        "{count} private keys with {what} in the token (one is needed); `pkcs11-tool --list-objects --type privkey` lists them"
    )]
    ImportCandidates {
        /// How many were found.
        count: usize,
        /// The id and/or label asked for.
        what: String,
    },
    /// More than one object of the same class has this CKA_ID, so the key is ambiguous.
    #[error("more than one key object with CKA_ID {id_hex}; remove the duplicate from the token")]
    AmbiguousKeyId {
        /// The CKA_ID, hex-encoded.
        id_hex: String,
    },
    /// A key with this CKA_ID already exists, so generating another would make it ambiguous.
    #[error("a key with CKA_ID {id_hex} already exists on the token; choose another id")]
    KeyExists {
        /// The CKA_ID, hex-encoded.
        id_hex: String,
    },
    /// The token lacks the mechanisms needed to generate or sign with this algorithm.
    #[error("the token does not support the mechanisms needed for {algorithm}")]
    MechanismUnsupported {
        /// The DNSSEC algorithm name.
        algorithm: String,
    },
    /// The token returned a public key that cannot be turned into a DNSKEY key field.
    #[error("public key with CKA_ID {id_hex} is malformed: {reason}")]
    MalformedPublicKey {
        /// The CKA_ID, hex-encoded.
        id_hex: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A signing session was asked for a key number outside the list given to `signer`.
    #[error("signing key number {index} does not exist (the signer holds {count} keys)")]
    NoSuchSigningKey {
        /// The requested index.
        index: usize,
        /// How many keys the signer was built with.
        count: usize,
    },
    /// A signature the token returned does not verify with the key's public key.
    #[error(
        "the token returned a signature by key {tag} that does not verify with its public key; nothing was written; check the HSM and the key state"
    )]
    SignatureDoesNotVerify {
        /// The key tag.
        tag: u16,
    },
    /// The token returned a signature of the wrong size for the algorithm.
    #[error("the token returned a {len}-byte {algorithm} signature; expected {expected} bytes")]
    BadSignatureLength {
        /// The DNSSEC algorithm name.
        algorithm: String,
        /// The length received.
        len: usize,
        /// The length required by the DNSSEC wire format.
        expected: usize,
    },
    /// Any other PKCS#11 failure, with the function and the return value in words.
    #[error("PKCS#11 {op} failed: {reason}")]
    Pkcs11 {
        /// What zonesign was doing (usually the PKCS#11 function name).
        op: &'static str,
        /// The return value (CKR_ name and its meaning) or other cause.
        reason: String,
    },
}

/// The user PIN's try counter as the token reports it in its `CK_TOKEN_INFO` flags
/// (PKCS#11 §5.3: CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED).
///
/// Read right after a failed login, so that the message of a wrong PIN says whether the
/// next failure locks the token: a cron job retrying every two hours with a stale PIN
/// file would otherwise lock it without anyone having been warned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinTries {
    /// No counter flag set, or the flags could not be read: the token does not say.
    NotReported,
    /// CKF_USER_PIN_COUNT_LOW: a login has failed since the last good one.
    Low,
    /// CKF_USER_PIN_FINAL_TRY: one more failure locks the PIN.
    FinalTry,
    /// CKF_USER_PIN_LOCKED: this failure locked the PIN.
    NowLocked,
}

impl PinTries {
    /// The counter in a token's flags (the strongest flag wins).
    pub(super) fn from_flags(locked: bool, final_try: bool, count_low: bool) -> PinTries {
        if locked {
            PinTries::NowLocked
        } else if final_try {
            PinTries::FinalTry
        } else if count_low {
            PinTries::Low
        } else {
            PinTries::NotReported
        }
    }
}

/// The clause [`HsmError::PinIncorrect`] inserts after "CKR_PIN_INCORRECT" (empty when
/// the token says nothing).
impl fmt::Display for PinTries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinTries::NotReported => "",
            PinTries::Low => {
                "; the token reports failed logins (CKF_USER_PIN_COUNT_LOW): further failures lock the PIN"
            }
            PinTries::FinalTry => {
                "; ONE more failed login locks the PIN (CKF_USER_PIN_FINAL_TRY): stop the cron job or timer until the PIN is fixed"
            }
            PinTries::NowLocked => {
                "; the token has now LOCKED the user PIN (CKF_USER_PIN_LOCKED): the security officer must reset it (C_InitPIN with the HSM's tools)"
            }
        })
    }
}

/// Formats the available-token list for [`HsmError::TokenNotFound`].
fn fmt_labels(labels: &[String]) -> String {
    if labels.is_empty() {
        "none".to_string()
    } else {
        labels
            .iter()
            .map(|l| format!("{l:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Upper-case hex of a CKA_ID, for error messages and listings.
pub(super) fn hex(id: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(id)
}

/// Maps a cryptoki error to an [`HsmError`], picking out the PIN cases that have their own variant.
pub(super) fn ck_err(op: &'static str, e: CkError) -> HsmError {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => HsmError::PinIncorrect {
            tries: PinTries::NotReported,
        },
        CkError::Pkcs11(RvError::PinLocked, _) => HsmError::PinLocked {
            before_login: false,
        },
        CkError::Pkcs11(rv @ (RvError::PinLenRange | RvError::PinInvalid), _) => {
            HsmError::PinMalformed { code: ckr_name(rv) }
        }
        CkError::Pkcs11(
            rv @ (RvError::DeviceRemoved | RvError::TokenNotPresent | RvError::TokenNotRecognized),
            _,
        ) => HsmError::TokenUnavailable {
            op,
            code: ckr_name(rv),
        },
        CkError::Pkcs11(rv @ (RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid), func) => {
            HsmError::KeyVanished {
                call: format!("C_{func:?}"),
                code: ckr_name(rv),
            }
        }
        CkError::Pkcs11(rv, func) => HsmError::Pkcs11 {
            op,
            reason: format!("C_{func:?} returned {} ({rv})", ckr_name(rv)),
        },
        other => HsmError::Pkcs11 {
            op,
            reason: other.to_string(),
        },
    }
}

/// The PKCS#11 spelling of a return value (`GeneralError` → `CKR_GENERAL_ERROR`), so
/// operators can search vendor documentation for it.
pub(super) fn ckr_name(rv: RvError) -> String {
    let mut out = String::from("CKR");
    for c in format!("{rv:?}").chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A closure-friendly form of [`ck_err`] for `map_err`.
pub(super) fn ck(op: &'static str) -> impl FnOnce(CkError) -> HsmError {
    move |e| ck_err(op, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_are_named_like_the_spec() {
        assert_eq!(ckr_name(RvError::GeneralError), "CKR_GENERAL_ERROR");
        let e = ck_err(
            "C_Sign",
            CkError::Pkcs11(RvError::KeyHandleInvalid, cryptoki::context::Function::Sign),
        );
        let msg = e.to_string();
        assert!(
            msg.contains("C_Sign returned CKR_KEY_HANDLE_INVALID"),
            "{msg}"
        );
        assert!(matches!(
            ck_err(
                "C_Login",
                CkError::Pkcs11(RvError::PinLocked, cryptoki::context::Function::Login)
            ),
            HsmError::PinLocked {
                before_login: false
            }
        ));
    }

    /// Every HSM failure an operator can meet at start has its own message saying
    /// what to check.
    #[test]
    fn hsm_failures_have_distinct_actionable_messages() {
        let login = |rv| {
            ck_err(
                "C_Login",
                CkError::Pkcs11(rv, cryptoki::context::Function::Login),
            )
        };
        let msgs = [
            login(RvError::PinIncorrect).to_string(),
            login(RvError::PinLocked).to_string(),
            HsmError::PinLocked { before_login: true }.to_string(),
            HsmError::PinIncorrect {
                tries: PinTries::FinalTry,
            }
            .to_string(),
            HsmError::PinIncorrect {
                tries: PinTries::NowLocked,
            }
            .to_string(),
            HsmError::PinIncorrect {
                tries: PinTries::Low,
            }
            .to_string(),
            login(RvError::PinLenRange).to_string(),
            login(RvError::TokenNotPresent).to_string(),
            HsmError::TokenNotFound {
                label: "zs".into(),
                available: vec![],
            }
            .to_string(),
            HsmError::ModuleLoad {
                path: "/x.so".into(),
                reason: "no such file".into(),
            }
            .to_string(),
            HsmError::ModuleInit {
                path: "/x.so".into(),
                code: "CKR_GENERAL_ERROR".into(),
            }
            .to_string(),
        ];
        for (i, m) in msgs.iter().enumerate() {
            assert!(m.contains("check") || m.contains("must"), "{m}");
            for other in &msgs[i + 1..] {
                assert_ne!(m, other);
            }
        }
        assert!(msgs[0].contains("CKR_PIN_INCORRECT"));
        assert!(!msgs[0].contains("CKF_"), "no counter claimed: {}", msgs[0]);
        assert!(msgs[1].contains("CKR_PIN_LOCKED"));
        assert!(msgs[2].contains("CKF_USER_PIN_LOCKED") && msgs[2].contains("did not try"));
        assert!(
            msgs[3].contains("ONE more failed login locks"),
            "{}",
            msgs[3]
        );
        assert!(msgs[4].contains("now LOCKED"), "{}", msgs[4]);
        assert!(msgs[5].contains("CKF_USER_PIN_COUNT_LOW"), "{}", msgs[5]);
        for m in &msgs[..6] {
            assert!(m.contains("pin-file"), "{m}");
        }
        assert!(msgs[6].contains("CKR_PIN_LEN_RANGE"));
        assert!(msgs[7].contains("CKR_TOKEN_NOT_PRESENT"));
    }
}
