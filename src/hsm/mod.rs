//! The PKCS#11 layer: the only module that talks to the HSM.
//!
//! Private keys never leave the token (SPEC DPS-5.2), so everything zonesign does
//! with them (create them, read their public halves, check their protection
//! attributes, sign) goes through this module. It wraps `cryptoki` so that the rest
//! of the signer sees DNSSEC-shaped values (DNSKEY key fields, RRSIG signature
//! fields) and typed errors instead of raw PKCS#11 return values.
//!
//! Design points, measured against SoftHSM2 2.6.1 (see CRATES.md §4):
//! * Tokens are found by label every time: slot ids change after `C_InitToken`.
//! * Login state is per application, so worker sessions opened after [`Module::open`]
//!   are already logged in; a `CKR_USER_ALREADY_LOGGED_IN` is treated as success.
//! * One PKCS#11 session per signing thread ([`SigningBackend::open_session`]): sharing
//!   one session behind a lock gives no speed-up.
//! * ECDSA is hashed on the host (`CKM_ECDSA_SHA256` is missing in SoftHSM) and
//!   `CKA_EC_POINT` comes back DER-wrapped.

pub mod recovery;
pub mod worker;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::Digest;

use crate::dns::algorithm::Algorithm;

/// DER encoding of the prime256v1 (P-256) curve OID, the `CKA_EC_PARAMS` for algorithm 13.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER encoding of the id-Ed25519 OID (1.3.101.112), the `CKA_EC_PARAMS` for algorithm 15.
const ED25519_PARAMS: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// RSA public exponent F4 = 65537: the universal choice, and what RFC 3110 keys use.
const RSA_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];
/// The longest token label PKCS#11 can store (`CK_TOKEN_INFO.label` is 32 bytes).
const MAX_TOKEN_LABEL: usize = 32;

/// A PIN held only in memory; `Debug` and `Display` never show it.
///
/// PINs unlock the zone's private keys, so they must not end up in logs, error
/// messages or panics. The value lives in a `secrecy` box (cryptoki's `AuthPin`),
/// which zeroes it on drop.
pub struct Pin(AuthPin);

impl Pin {
    /// Wraps a PIN read from the environment, a file or a prompt.
    ///
    /// Takes ownership of the `String` so no other copy stays with the caller.
    pub fn new(s: String) -> Pin {
        Pin(AuthPin::from(s))
    }

    /// The value in the form cryptoki's login and init calls take.
    fn auth(&self) -> &AuthPin {
        &self.0
    }

    /// Hands the PIN's bytes to `f`, for the one place that must pass it on: the pipe
    /// to a signing worker process ([`crate::hsm::worker`]), never argv or a log.
    pub(crate) fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        use secrecy::ExposeSecret;
        f(self.0.expose_secret().as_bytes())
    }

    /// Whether the PIN occurs in `haystack`, e.g. a process's command line (SEC-6.1:
    /// a PIN there is visible to every user), without handing the PIN out.
    pub fn found_in(&self, haystack: &[u8]) -> bool {
        use secrecy::ExposeSecret;
        let needle = self.0.expose_secret().as_bytes();
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    fn from_flags(locked: bool, final_try: bool, count_low: bool) -> PinTries {
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

/// What zonesign reads from `C_GetTokenInfo`: the label, whether the token is
/// initialised, and the user PIN's try counter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenFacts {
    /// The label, PKCS#11 space padding trimmed.
    label: String,
    /// CKF_TOKEN_INITIALIZED.
    initialized: bool,
    /// CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_COUNT_LOW.
    tries: PinTries,
}

impl TokenFacts {
    fn from_info(info: &cryptoki::slot::TokenInfo) -> TokenFacts {
        TokenFacts {
            label: info.label().trim_end().to_string(),
            initialized: info.token_initialized(),
            tries: PinTries::from_flags(
                info.user_pin_locked(),
                info.user_pin_final_try(),
                info.user_pin_count_low(),
            ),
        }
    }

    /// From the raw structure: the label as UTF-8 (lossy), and the flags.
    fn from_raw(info: &cryptoki_sys::CK_TOKEN_INFO) -> TokenFacts {
        let has = |flag: cryptoki_sys::CK_FLAGS| info.flags & flag != 0;
        TokenFacts {
            label: String::from_utf8_lossy(&info.label).trim_end().to_string(),
            initialized: has(cryptoki_sys::CKF_TOKEN_INITIALIZED),
            tries: PinTries::from_flags(
                has(cryptoki_sys::CKF_USER_PIN_LOCKED),
                has(cryptoki_sys::CKF_USER_PIN_FINAL_TRY),
                has(cryptoki_sys::CKF_USER_PIN_COUNT_LOW),
            ),
        }
    }
}

/// `C_GetTokenInfo` through the function list of the module at `path`, without
/// cryptoki's parsing of the structure (see [`Module::token_info`]).
///
/// Loading the path again returns the library cryptoki already loaded and initialised
/// (the dynamic loader counts references), so this is the same module state, not a
/// second instance.
fn raw_token_info(path: &Path, slot: Slot) -> Result<TokenFacts, HsmError> {
    use cryptoki_sys::{CK_FUNCTION_LIST, CK_RV, CK_TOKEN_INFO};
    let fail = |reason: String| HsmError::Pkcs11 {
        op: "C_GetTokenInfo",
        reason,
    };
    // SAFETY: `path` is the PKCS#11 module that `Module::load` loaded and initialised;
    // C_GetFunctionList and C_GetTokenInfo have these signatures in every PKCS#11
    // module, the function list is static data of the library, which `lib` keeps
    // loaded for the duration, and `info` is a writable CK_TOKEN_INFO.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| fail(e.to_string()))?;
        let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
            lib.get(b"C_GetFunctionList")
                .map_err(|e| fail(e.to_string()))?;
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        let rv = get(&mut list);
        cryptoki::error::Rv::from(rv)
            .into_result(cryptoki::context::Function::GetFunctionList)
            .map_err(ck("C_GetFunctionList"))?;
        let Some(get_token_info) = list.as_ref().and_then(|l| l.C_GetTokenInfo) else {
            return Err(fail("the module has no C_GetTokenInfo".into()));
        };
        let mut info: CK_TOKEN_INFO = std::mem::zeroed();
        let rv = get_token_info(slot.id(), &mut info);
        cryptoki::error::Rv::from(rv)
            .into_result(cryptoki::context::Function::GetTokenInfo)
            .map_err(ck("C_GetTokenInfo"))?;
        Ok(TokenFacts::from_raw(&info))
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
fn hex(id: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(id)
}

/// Maps a cryptoki error to an [`HsmError`], picking out the PIN cases that have their own variant.
fn ck_err(op: &'static str, e: CkError) -> HsmError {
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
fn ckr_name(rv: RvError) -> String {
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
fn ck(op: &'static str) -> impl FnOnce(CkError) -> HsmError {
    move |e| ck_err(op, e)
}

/// Locks a mutex, recovering from poisoning: a panic elsewhere must not turn into a panic here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The loaded PKCS#11 module: one per process, initialised (`C_Initialize`) once.
///
/// Cheap to clone (an `Arc` inside), so every part of the signer that needs the HSM
/// can hold its own handle without re-loading the library.
#[derive(Clone, Debug)]
pub struct Module {
    ctx: Pkcs11,
    /// The module's path, for [`raw_token_info`].
    path: Arc<PathBuf>,
    /// Live [`Token`]s per label. PKCS#11 login state is per application, so one
    /// `C_Logout` would log out every handle on that token; only the last one out
    /// may call it.
    logins: Arc<Mutex<HashMap<String, usize>>>,
}

impl Module {
    /// Loads the PKCS#11 library at `path` and initialises it for multi-threaded use.
    ///
    /// Loading the same library twice in one process is tolerated
    /// (`CKR_CRYPTOKI_ALREADY_INITIALIZED` is success), because the library's state is
    /// process-wide anyway.
    pub fn load(path: &Path) -> Result<Module, HsmError> {
        let load_err = |reason: String| HsmError::ModuleLoad {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(load_err("no such file".to_string()));
        }
        let ctx = Pkcs11::new(path).map_err(|e| load_err(e.to_string()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(CkError::Pkcs11(rv, _)) => {
                return Err(HsmError::ModuleInit {
                    path: path.to_path_buf(),
                    code: ckr_name(rv),
                });
            }
            Err(e) => return Err(load_err(format!("C_Initialize failed: {e}"))),
        }
        Ok(Module {
            ctx,
            path: Arc::new(path.to_path_buf()),
            logins: Arc::default(),
        })
    }

    /// The label and flags of the token in `slot` (`C_GetTokenInfo`).
    ///
    /// cryptoki 0.12 fails the whole call when the token's clock field is not
    /// `YYYYMMDDhhmmss00` ("Error parsing string as integer"); opencryptoki 3.8's software
    /// token fills it otherwise. zonesign needs neither the clock nor the other fields, so
    /// such a token is read again through the module's own function list.
    fn token_info(&self, slot: Slot) -> Result<TokenFacts, HsmError> {
        match self.ctx.get_token_info(slot) {
            Ok(info) => Ok(TokenFacts::from_info(&info)),
            Err(e @ CkError::Pkcs11(..)) => Err(ck_err("C_GetTokenInfo", e)),
            Err(_) => raw_token_info(&self.path, slot),
        }
    }

    /// The labels of all initialised tokens, with the PKCS#11 space padding trimmed.
    ///
    /// Used for listings and to tell the operator which labels exist when the one
    /// they asked for does not.
    pub fn token_labels(&self) -> Result<Vec<String>, HsmError> {
        Ok(self
            .initialized_tokens()?
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }

    /// Every initialised token as (current slot, trimmed label).
    ///
    /// Filtered here rather than with cryptoki's `get_slots_with_initialized_token`,
    /// which parses every token's whole info and so fails on some tokens (see
    /// [`Module::token_info`]).
    fn initialized_tokens(&self) -> Result<Vec<(Slot, String)>, HsmError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList"))?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let info = self.token_info(slot)?;
            if info.initialized {
                out.push((slot, info.label));
            }
        }
        Ok(out)
    }

    /// Finds the slot currently holding the token with this label.
    ///
    /// Slot ids are not stable (SoftHSM renumbers after `C_InitToken`), so this runs
    /// every time a token is needed instead of storing a slot id.
    fn find_slot(&self, label: &str) -> Result<Slot, HsmError> {
        let tokens = self.initialized_tokens()?;
        if let Some((slot, _)) = tokens.iter().find(|(_, l)| l == label) {
            return Ok(*slot);
        }
        Err(HsmError::TokenNotFound {
            label: label.to_string(),
            available: tokens.into_iter().map(|(_, l)| l).collect(),
        })
    }

    /// The first slot with a token that has not been initialised yet.
    fn free_slot(&self) -> Result<Slot, HsmError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList"))?;
        for slot in slots {
            if !self.token_info(slot)?.initialized {
                return Ok(slot);
            }
        }
        Err(HsmError::NoFreeSlot)
    }

    /// Initialises a new token in the first free (uninitialised) slot with this label
    /// and sets its user PIN.
    ///
    /// Refuses if a token with that label exists: re-initialising would destroy the
    /// zone's keys, and two tokens with one label would make [`Module::open`] ambiguous.
    pub fn init_token(&self, label: &str, so_pin: &Pin, user_pin: &Pin) -> Result<(), HsmError> {
        check_label(label)?;
        if self.token_labels()?.iter().any(|l| l == label) {
            return Err(HsmError::TokenExists {
                label: label.to_string(),
            });
        }
        let slot = self.free_slot()?;
        self.ctx
            .init_token(slot, so_pin.auth(), label)
            .map_err(ck("C_InitToken"))?;
        // Re-discover the slot: it may have a new id now.
        let slot = self.find_slot(label)?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(ck("C_OpenSession"))?;
        login(&session, UserType::So, so_pin)?;
        let set = session.init_pin(user_pin.auth()).map_err(ck("C_InitPIN"));
        let _ = session.logout();
        set
    }

    /// Opens a logged-in read/write session on the token with this label.
    ///
    /// The token is found by label, never by a stored slot id. The returned [`Token`]
    /// keeps the login alive until it (and every signer made from it) is dropped.
    /// Note that while another `Token` on this label is alive, the token answers
    /// `CKR_USER_ALREADY_LOGGED_IN` without checking `pin` (PKCS#11 login is per
    /// application); that is accepted as success.
    ///
    /// A user PIN the token reports as locked (CKF_USER_PIN_LOCKED) is refused before
    /// `C_Login`, and a rejected PIN is reported with the token's try counter read right
    /// after the failure ([`PinTries`]); see [`Module::user_login`].
    pub fn open(&self, label: &str, pin: &Pin) -> Result<Token, HsmError> {
        let slot = self.find_slot(label)?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(ck("C_OpenSession"))?;
        self.user_login(slot, &session, pin)?;
        *lock(&self.logins).entry(label.to_string()).or_insert(0) += 1;
        Ok(Token {
            inner: Arc::new(TokenInner {
                module: self.clone(),
                label: label.to_string(),
                slot,
                session: Mutex::new(session),
            }),
        })
    }
}

impl Module {
    /// Logs the user in on `session`, reading the token's PIN flags around `C_Login`.
    ///
    /// Before: a token that already reports the user PIN locked gets no `C_Login` at
    /// all, because on some tokens every attempt counts, and the operator needs the
    /// "locked" message, not another "wrong PIN" (SEC-6.5: still logged as a failed
    /// login by the caller). After a rejected PIN: the flags say how many tries are
    /// left, for the message. A token whose flags cannot be read is simply tried.
    fn user_login(&self, slot: Slot, session: &Session, pin: &Pin) -> Result<(), HsmError> {
        if let Ok(info) = self.token_info(slot)
            && info.tries == PinTries::NowLocked
        {
            return Err(HsmError::PinLocked { before_login: true });
        }
        match login(session, UserType::User, pin) {
            Err(HsmError::PinIncorrect { .. }) => Err(HsmError::PinIncorrect {
                tries: self
                    .token_info(slot)
                    .map_or(PinTries::NotReported, |i| i.tries),
            }),
            other => other,
        }
    }

    /// Counts one [`Token`] on `label` as gone; true if it was the last one, so the
    /// caller must log out.
    fn release_login(&self, label: &str) -> bool {
        let mut logins = lock(&self.logins);
        match logins.get_mut(label) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                logins.remove(label);
                true
            }
        }
    }
}

/// Rejects labels PKCS#11 cannot store, before the token truncates them silently.
fn check_label(label: &str) -> Result<(), HsmError> {
    let reason = if label.is_empty() {
        Some("it is empty")
    } else if label.len() > MAX_TOKEN_LABEL {
        Some("it is longer than 32 bytes")
    } else if label != label.trim_end() {
        Some("it ends in whitespace, which PKCS#11 padding would lose")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(HsmError::InvalidLabel {
            label: label.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Logs `user` in; an already-logged-in application counts as success (CRATES.md §4.4).
fn login(session: &Session, user: UserType, pin: &Pin) -> Result<(), HsmError> {
    match session.login(user, Some(pin.auth())) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(ck_err("C_Login", e)),
    }
}

/// The protection attributes of a private key, read back for the DPS-5.2 security checks.
///
/// A key that is extractable, or was ever extractable or non-sensitive, may have
/// left the HSM and must not be trusted for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateKeyAttributes {
    /// CKA_SENSITIVE: the key value cannot be read in plaintext.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: the key can be wrapped out of the token.
    pub extractable: bool,
    /// CKA_NEVER_EXTRACTABLE: the key was never extractable since creation.
    pub never_extractable: bool,
    /// CKA_ALWAYS_SENSITIVE: the key was sensitive since creation.
    pub always_sensitive: bool,
    /// CKA_TOKEN: the key is persistent on the token, not a session object.
    pub token: bool,
    /// CKA_PRIVATE: the key is only visible after login.
    pub private: bool,
}

/// How many key objects [`Token::destroy_key`] destroyed, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestroyedObjects {
    /// Private key objects destroyed (0 or 1).
    pub private: usize,
    /// Public key objects destroyed (0 or 1).
    pub public: usize,
}

/// The logged-in state shared by a [`Token`] and the signers made from it.
struct TokenInner {
    module: Module,
    label: String,
    slot: Slot,
    session: Mutex<Session>,
}

impl Drop for TokenInner {
    /// Logs out so the HSM is locked when the signer stops (DPS-5.2), unless another
    /// [`Token`] on the same label still needs the login; the session itself is
    /// closed by cryptoki's own drop right after.
    fn drop(&mut self) {
        if self.module.release_login(&self.label) {
            let session = self.session.get_mut().unwrap_or_else(|p| p.into_inner());
            let _ = session.logout();
        }
    }
}

/// A logged-in token.
///
/// Dropping it logs out and closes the session (DPS-5.2: the HSM is locked when the
/// signer stops). Signers made with [`Token::signer`] share the login, so the logout
/// happens when the last of them is gone.
pub struct Token {
    inner: Arc<TokenInner>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("slot", &self.inner.slot)
            .finish_non_exhaustive()
    }
}

/// The mechanism that generates key pairs for `alg`.
fn keygen_mechanism(alg: Algorithm) -> Mechanism<'static> {
    match alg {
        Algorithm::RsaSha1 | Algorithm::RsaSha256 => Mechanism::RsaPkcsKeyPairGen,
        Algorithm::EcdsaP256Sha256 => Mechanism::EccKeyPairGen,
        Algorithm::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
    }
}

/// The mechanism that signs for `alg` (ECDSA over a host-computed hash).
fn sign_mechanism(alg: Algorithm) -> Mechanism<'static> {
    match alg {
        Algorithm::RsaSha1 => Mechanism::Sha1RsaPkcs,
        Algorithm::RsaSha256 => Mechanism::Sha256RsaPkcs,
        Algorithm::EcdsaP256Sha256 => Mechanism::Ecdsa,
        Algorithm::Ed25519 => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
    }
}

/// The mechanism types a token must list to generate and sign with `alg`.
fn required_mechanisms(alg: Algorithm) -> [MechanismType; 2] {
    match alg {
        Algorithm::RsaSha1 => [
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            MechanismType::SHA1_RSA_PKCS,
        ],
        Algorithm::RsaSha256 => [
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            MechanismType::SHA256_RSA_PKCS,
        ],
        Algorithm::EcdsaP256Sha256 => [MechanismType::ECC_KEY_PAIR_GEN, MechanismType::ECDSA],
        Algorithm::Ed25519 => [
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            MechanismType::EDDSA,
        ],
    }
}

/// The algorithm-specific public-key template attributes (size or curve).
fn public_key_params(alg: Algorithm, rsa_bits: u32) -> Vec<Attribute> {
    match alg {
        Algorithm::RsaSha1 | Algorithm::RsaSha256 => vec![
            Attribute::ModulusBits(u64::from(rsa_bits).into()),
            Attribute::PublicExponent(RSA_PUBLIC_EXPONENT.to_vec()),
        ],
        Algorithm::EcdsaP256Sha256 => vec![Attribute::EcParams(P256_PARAMS.to_vec())],
        Algorithm::Ed25519 => vec![Attribute::EcParams(ED25519_PARAMS.to_vec())],
    }
}

impl Token {
    /// The token's own session, locked for one operation.
    fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.inner.session)
    }

    /// Generates a key pair on the token and returns its public key in DNSKEY
    /// RDATA key-field format.
    ///
    /// The private key is created with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true and
    /// CKA_EXTRACTABLE false (SPEC DPS-5.2), so it can never leave the HSM. `rsa_bits`
    /// is ignored for the curve algorithms. An existing key with the same `id` is an
    /// error, because the id is how the key store finds the key again.
    pub fn generate_key(
        &self,
        alg: Algorithm,
        rsa_bits: u32,
        id: &[u8],
        label: &str,
    ) -> Result<Vec<u8>, HsmError> {
        if !self.mechanisms_for(alg) {
            return Err(HsmError::MechanismUnsupported {
                algorithm: alg.to_string(),
            });
        }
        if !self.find_by_id(ObjectClass::PRIVATE_KEY, id)?.is_empty()
            || !self.find_by_id(ObjectClass::PUBLIC_KEY, id)?.is_empty()
        {
            return Err(HsmError::KeyExists { id_hex: hex(id) });
        }
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        public.extend(public_key_params(alg, rsa_bits));
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let (pub_handle, _) = self
            .session()
            .generate_key_pair(&keygen_mechanism(alg), &public, &private)
            .map_err(ck("C_GenerateKeyPair"))?;
        self.public_key_of(pub_handle, id, alg)
    }

    /// The public key with CKA_ID `id`, in DNSKEY RDATA key-field format.
    ///
    /// RSA per RFC 3110, P-256 as X‖Y (64 bytes, RFC 6605), Ed25519 as the 32-byte
    /// point (RFC 8080). Used to publish DNSKEYs and to check the key store against the token.
    pub fn public_key(&self, id: &[u8], alg: Algorithm) -> Result<Vec<u8>, HsmError> {
        let handle = self.one_by_id(ObjectClass::PUBLIC_KEY, id)?;
        self.public_key_of(handle, id, alg)
    }

    /// Reads and converts the public key object `handle`.
    fn public_key_of(
        &self,
        handle: ObjectHandle,
        id: &[u8],
        alg: Algorithm,
    ) -> Result<Vec<u8>, HsmError> {
        let malformed = |reason: String| HsmError::MalformedPublicKey {
            id_hex: hex(id),
            reason,
        };
        if alg.is_rsa() {
            let attrs = self.attributes(
                handle,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )?;
            let (mut n, mut e) = (None, None);
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    _ => {}
                }
            }
            let (Some(n), Some(e)) = (n, e) else {
                return Err(malformed("modulus or exponent missing".into()));
            };
            rsa_dnskey(&e, &n).map_err(|r| malformed(r.into()))
        } else {
            let point = self
                .attributes(handle, &[AttributeType::EcPoint])?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::EcPoint(v) => Some(v),
                    _ => None,
                })
                .ok_or_else(|| malformed("CKA_EC_POINT missing".into()))?;
            ec_dnskey(alg, &point).map_err(|r| malformed(r.into()))
        }
    }

    /// Reads the protection attributes of the private key with CKA_ID `id`, so the
    /// key manager can refuse keys that are not locked inside the HSM (DPS-5.2).
    pub fn key_attributes(&self, id: &[u8]) -> Result<PrivateKeyAttributes, HsmError> {
        let handle = self.one_by_id(ObjectClass::PRIVATE_KEY, id)?;
        let attrs = self.attributes(
            handle,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::AlwaysSensitive,
                AttributeType::Token,
                AttributeType::Private,
            ],
        )?;
        // Absent attributes default to the unsafe reading, so a check fails closed.
        let mut out = PrivateKeyAttributes {
            sensitive: false,
            extractable: true,
            never_extractable: false,
            always_sensitive: false,
            token: false,
            private: false,
        };
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => out.sensitive = v,
                Attribute::Extractable(v) => out.extractable = v,
                Attribute::NeverExtractable(v) => out.never_extractable = v,
                Attribute::AlwaysSensitive(v) => out.always_sensitive = v,
                Attribute::Token(v) => out.token = v,
                Attribute::Private(v) => out.private = v,
                _ => {}
            }
        }
        Ok(out)
    }

    /// All private keys on the token as (CKA_ID, CKA_LABEL), for listings and for
    /// finding keys on the token that the key store does not know about.
    pub fn private_key_ids(&self) -> Result<Vec<(Vec<u8>, String)>, HsmError> {
        let handles = self
            .session()
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Token(true),
            ])
            .map_err(ck("C_FindObjects"))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let (mut id, mut label) = (Vec::new(), String::new());
            for a in self.attributes(h, &[AttributeType::Id, AttributeType::Label])? {
                match a {
                    Attribute::Id(v) => id = v,
                    Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                    _ => {}
                }
            }
            out.push((id, label));
        }
        Ok(out)
    }

    /// Destroys the key pair with CKA_ID `id` in the token: the private key object and
    /// the public key object (`C_DestroyObject`), so the key can never sign again.
    ///
    /// This is the one irreversible act on keys (DPS-5.3: a removed key is destroyed
    /// only by an explicit command, `zonesign key destroy`); the caller decides that the
    /// key may go. Both objects are looked up first, so two objects of one class with
    /// this id (an ambiguous id, which could mean another key) destroy nothing. An id
    /// with no objects is not an error: the result says how many were destroyed, so a
    /// destruction whose recording was interrupted can be completed later.
    pub fn destroy_key(&self, id: &[u8]) -> Result<DestroyedObjects, HsmError> {
        let private = self.find_by_id(ObjectClass::PRIVATE_KEY, id)?;
        let public = self.find_by_id(ObjectClass::PUBLIC_KEY, id)?;
        if private.len() > 1 || public.len() > 1 {
            return Err(HsmError::AmbiguousKeyId { id_hex: hex(id) });
        }
        let session = self.session();
        // The private key first: once it is gone the key cannot sign, whatever happens
        // to the public half.
        for &h in private.iter().chain(public.iter()) {
            session.destroy_object(h).map_err(ck("C_DestroyObject"))?;
        }
        Ok(DestroyedObjects {
            private: private.len(),
            public: public.len(),
        })
    }

    /// Whether this token can both generate keys for and sign with `alg`, judged
    /// from its mechanism list. Any failure to read the list counts as "no".
    pub fn mechanisms_for(&self, alg: Algorithm) -> bool {
        let Ok(list) = self.inner.module.ctx.get_mechanism_list(self.inner.slot) else {
            return false;
        };
        required_mechanisms(alg).iter().all(|m| list.contains(m))
    }

    /// A factory of signing sessions for parallel signing.
    ///
    /// Resolves the private-key handles for `keys` once, up front, so a missing key
    /// fails before any signing starts. Each worker thread then calls
    /// [`SigningBackend::open_session`] once and gets its own PKCS#11 session
    /// (sessions are `Send`, not `Sync`; sharing one behind a `Mutex` gives no
    /// speed-up, CRATES.md §4.3). The signer keeps the token logged in while it lives.
    pub fn signer(&self, keys: &[(Vec<u8>, Algorithm)]) -> Result<Pkcs11Signer, HsmError> {
        let mut resolved = Vec::with_capacity(keys.len());
        for (id, alg) in keys {
            if !self.mechanisms_for(*alg) {
                return Err(HsmError::MechanismUnsupported {
                    algorithm: alg.to_string(),
                });
            }
            resolved.push((self.one_by_id(ObjectClass::PRIVATE_KEY, id)?, *alg));
        }
        Ok(Pkcs11Signer {
            token: Arc::clone(&self.inner),
            keys: resolved.into(),
            session_copies: true,
        })
    }

    /// All objects of `class` with CKA_ID `id`.
    fn find_by_id(&self, class: ObjectClass, id: &[u8]) -> Result<Vec<ObjectHandle>, HsmError> {
        self.session()
            // Token objects only: the signing sessions' key copies (session objects,
            // visible to every session of the process) are not a second key.
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Id(id.to_vec()),
                Attribute::Token(true),
            ])
            .map_err(ck("C_FindObjects"))
    }

    /// The single object of `class` with CKA_ID `id`; none or several is an error.
    fn one_by_id(&self, class: ObjectClass, id: &[u8]) -> Result<ObjectHandle, HsmError> {
        match self.find_by_id(class, id)?.as_slice() {
            [h] => Ok(*h),
            [] => Err(HsmError::KeyNotFound { id_hex: hex(id) }),
            _ => Err(HsmError::AmbiguousKeyId { id_hex: hex(id) }),
        }
    }

    /// Reads attributes of one object on the token's session.
    fn attributes(
        &self,
        handle: ObjectHandle,
        types: &[AttributeType],
    ) -> Result<Vec<Attribute>, HsmError> {
        self.session()
            .get_attributes(handle, types)
            .map_err(ck("C_GetAttributeValue"))
    }
}

/// Strips leading zero bytes, which RFC 3110 forbids in exponent and modulus.
fn strip_leading_zeros(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[start..]
}

/// Encodes an RSA public key as the RFC 3110 DNSKEY key field: exponent length (one
/// byte, or zero followed by a 16-bit length if over 255), exponent, modulus.
fn rsa_dnskey(exponent: &[u8], modulus: &[u8]) -> Result<Vec<u8>, &'static str> {
    let e = strip_leading_zeros(exponent);
    let n = strip_leading_zeros(modulus);
    if e.is_empty() || n.is_empty() {
        return Err("zero RSA exponent or modulus");
    }
    let mut out = Vec::with_capacity(3 + e.len() + n.len());
    if let Ok(len) = u8::try_from(e.len()) {
        out.push(len);
    } else {
        let len = u16::try_from(e.len()).map_err(|_| "RSA exponent longer than 65535 bytes")?;
        out.push(0);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(e);
    out.extend_from_slice(n);
    Ok(out)
}

/// Unwraps a DER OCTET STRING (tag 0x04, short or one/two-byte long length) and
/// returns its content, or `None` if `der` is not exactly one such value.
fn der_octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, body) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

/// Converts a CKA_EC_POINT value to the DNSKEY key field for `alg`.
///
/// PKCS#11 says the point is DER-wrapped (SoftHSM does that), but some HSMs return
/// it raw, so both forms are accepted when the length makes them unambiguous.
fn ec_dnskey(alg: Algorithm, point: &[u8]) -> Result<Vec<u8>, &'static str> {
    let raw = der_octet_string(point).unwrap_or(point);
    match alg {
        Algorithm::EcdsaP256Sha256 => match raw {
            [0x04, xy @ ..] if xy.len() == 64 => Ok(xy.to_vec()),
            _ => Err("expected an uncompressed 65-byte P-256 point"),
        },
        Algorithm::Ed25519 if raw.len() == 32 => Ok(raw.to_vec()),
        Algorithm::Ed25519 => Err("expected a 32-byte Ed25519 point"),
        Algorithm::RsaSha1 | Algorithm::RsaSha256 => Err("RSA keys have no EC point"),
    }
}

/// The signing seam: the signing stage only sees this trait and [`SigningSession`],
/// so a network HSM, several tokens, or a test double can stand behind them.
pub trait SigningBackend: Sync {
    /// Opens one signing session; call it once per worker thread.
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError>;
}

/// One worker's signing channel to the keys chosen when the backend was built.
pub trait SigningSession: Send {
    /// Signs `data` (the RFC 4034 §3.1.8.1 to-be-signed bytes) with key number `key`
    /// (index into the list given to [`Token::signer`]), returning the DNSSEC wire
    /// signature: RSA the raw PKCS#1 v1.5 signature, ECDSA the 64-byte r‖s, Ed25519
    /// the 64-byte signature.
    fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError>;

    /// Signs each `(key, data)` of `items`, in order: one call per batch lets a session
    /// whose token is behind a pipe (a worker process, [`crate::hsm::worker`]) or a
    /// network pay one round trip per batch instead of one per signature.
    fn sign_batch(&mut self, items: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>, HsmError> {
        items.iter().map(|&(k, d)| self.sign(k, d)).collect()
    }

    /// How many keys this session signs with through its own session copy (see
    /// [`Pkcs11Signer::with_session_copies`]); reported by `hsm bench`.
    fn key_copies(&self) -> usize {
        0
    }
}

/// Several tokens holding the same keys, behind one [`SigningBackend`]: each new
/// session goes to the next member, round-robin, so `sessions` workers spread evenly
/// over an HSM cluster's members (issue #5: "several slots or tokens at once").
///
/// The members must hold the same key pairs under the same ids, in the order given to
/// [`Token::signer`]: the caller checks each public key in every member first, and
/// every signature is verified as it comes back, so a member that signs with another
/// key stops the run rather than reaching the output.
pub struct Cluster {
    members: Vec<Box<dyn SigningBackend>>,
    next: std::sync::atomic::AtomicUsize,
    /// Signatures made through each member, for the audit trail.
    made: Arc<[std::sync::atomic::AtomicUsize]>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster of these signers (one per token, in threads or in worker processes);
    /// the first session goes to the first.
    pub fn new(members: Vec<Box<dyn SigningBackend>>) -> Cluster {
        let made = members
            .iter()
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect();
        Cluster {
            members,
            next: std::sync::atomic::AtomicUsize::new(0),
            made,
        }
    }

    /// Signatures made so far through each member, in member order: shows an operator
    /// that the load really was spread (or that a member took none).
    pub fn signatures_per_member(&self) -> Vec<usize> {
        self.made
            .iter()
            .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
            .collect()
    }

    /// Number of member tokens.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when there is no member (nothing can be signed).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl SigningBackend for Cluster {
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.members.len().max(1);
        let member = self.members.get(n).ok_or(HsmError::Pkcs11 {
            op: "C_OpenSession",
            reason: "no token to sign with".into(),
        })?;
        Ok(Box::new(MemberSession {
            inner: member.open_session()?,
            made: Arc::clone(&self.made),
            member: n,
        }))
    }
}

/// A session on one member of a [`Cluster`], counting what it signs.
struct MemberSession {
    inner: Box<dyn SigningSession>,
    made: Arc<[std::sync::atomic::AtomicUsize]>,
    member: usize,
}

impl SigningSession for MemberSession {
    fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        let sig = self.inner.sign(key, data)?;
        self.made[self.member].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(sig)
    }

    fn sign_batch(&mut self, items: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>, HsmError> {
        let sigs = self.inner.sign_batch(items)?;
        self.made[self.member].fetch_add(sigs.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(sigs)
    }

    fn key_copies(&self) -> usize {
        self.inner.key_copies()
    }
}

/// The PKCS#11 [`SigningBackend`]: resolved key handles plus the logged-in token.
///
/// Holding the token state keeps the login alive for as long as any signer or
/// signing session exists, so workers cannot find themselves logged out mid-zone.
pub struct Pkcs11Signer {
    token: Arc<TokenInner>,
    keys: Arc<[(ObjectHandle, Algorithm)]>,
    /// Whether each session signs with its own session copy of the keys.
    session_copies: bool,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl SigningBackend for Pkcs11Signer {
    /// Opens a read-only session on the token; it inherits the application's login,
    /// so the PIN is not needed (or kept) here.
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
        Ok(Box::new(self.pkcs11_session()?))
    }
}

impl Pkcs11Signer {
    /// Whether each signing session first copies the keys into session objects
    /// (`[hsm] session-key-copies`, on by default) and signs with the copies.
    ///
    /// Why: SoftHSM2's file store re-reads a token object's generation file (open,
    /// fcntl lock, read, close) on every attribute access, several times per
    /// C_SignInit, and every session of every process contends on those same files.
    /// A session object lives in the token's memory only. Measured here (2 cores,
    /// `hsm bench`, P-256): 12.5k sig/s with one session and the same 12.5k with two
    /// on token objects; 13.4k and 17.9k with session copies. The copy keeps
    /// CKA_SENSITIVE true and CKA_EXTRACTABLE false (PKCS#11 lets a copy only
    /// tighten those, and the copy is checked before use), it never leaves the token,
    /// and it is destroyed with its session. A token that refuses the copy
    /// (CKA_COPYABLE false, or no C_CopyObject) is used through its token object, as
    /// with this setting off.
    pub fn with_session_copies(mut self, on: bool) -> Pkcs11Signer {
        self.session_copies = on;
        self
    }

    /// One worker's session, as the concrete type (the tests reach its handle).
    fn pkcs11_session(&self) -> Result<Pkcs11Session, HsmError> {
        Ok(Pkcs11Session {
            session: WorkerSession::open(&self.token, &self.keys, self.session_copies)
                .map_err(ck("C_OpenSession"))?,
            keys: Arc::clone(&self.keys),
            token: Arc::clone(&self.token),
            session_copies: self.session_copies,
        })
    }
}

/// A worker's read-only PKCS#11 session, opened without cryptoki's close-on-drop so
/// that zonesign decides whether its handle is ever closed.
///
/// A handle the token has reported as gone (CKR_SESSION_HANDLE_INVALID,
/// CKR_SESSION_CLOSED) is never closed again: PKCS#11 lets a module give a dead
/// handle's number to a later session (SoftHSM2 2.6 happens to count up instead), this
/// worker's replacement or another worker's, and "closing the old session" would then
/// close that one and turn one lost session into a run of them. Any other session is
/// closed on drop.
struct WorkerSession {
    /// Always `Some` until drop.
    session: Option<Session>,
    /// The token said this handle no longer exists.
    gone: bool,
    /// The handle to sign with for each key, in key order: this session's copy where
    /// one was made (see [`Pkcs11Signer::with_session_copies`]), else the token object.
    handles: Vec<ObjectHandle>,
    /// How many of `handles` are session copies.
    copies: usize,
}

impl WorkerSession {
    /// Opens a session on the token's slot (it inherits the application's login) and,
    /// with `copies`, makes its session copies of `keys`.
    fn open(
        token: &TokenInner,
        keys: &[(ObjectHandle, Algorithm)],
        copies: bool,
    ) -> Result<WorkerSession, CkError> {
        let session = token.module.ctx.open_ro_session_no_drop(token.slot)?;
        let handles: Vec<ObjectHandle> = keys
            .iter()
            .map(|&(h, _)| {
                copies
                    .then(|| session_copy(&session, h))
                    .flatten()
                    .unwrap_or(h)
            })
            .collect();
        let copies = handles
            .iter()
            .zip(keys)
            .filter(|(c, (h, _))| *c != h)
            .count();
        Ok(WorkerSession {
            session: Some(session),
            gone: false,
            handles,
            copies,
        })
    }

    /// The session; a missing one reads as CKR_SESSION_CLOSED, which the retry cures.
    fn get(&self) -> Result<&Session, CkError> {
        self.session.as_ref().ok_or(CkError::Pkcs11(
            RvError::SessionClosed,
            cryptoki::context::Function::Sign,
        ))
    }

    /// Records what a transient error says about this handle before it is replaced.
    fn note_error(&mut self, e: &CkError) {
        if matches!(
            e,
            CkError::Pkcs11(RvError::SessionHandleInvalid | RvError::SessionClosed, _)
        ) {
            self.gone = true;
        }
    }
}

/// A session copy of the private key `key`, or `None` when the token will not make one
/// or the copy is not what was asked for (then it is destroyed again): the token
/// object signs as before. The copy keeps the key's CKA_SENSITIVE true and
/// CKA_EXTRACTABLE false (PKCS#11 lets a copy only tighten them), and it is read back
/// so that a token that behaved otherwise cannot hand out a weaker key.
fn session_copy(session: &Session, key: ObjectHandle) -> Option<ObjectHandle> {
    // Only CKA_TOKEN is set: SoftHSM2 answers CKR_ATTRIBUTE_READ_ONLY to a copy
    // template naming CKA_SENSITIVE or CKA_EXTRACTABLE even with the values the key
    // already has, and a copy keeps them anyway; the read-back below makes sure.
    let template = [Attribute::Token(false)];
    let copy = session.copy_object(key, &template).ok()?;
    let wanted = [
        AttributeType::Token,
        AttributeType::Sensitive,
        AttributeType::Extractable,
        AttributeType::Sign,
    ];
    let good = session.get_attributes(copy, &wanted).is_ok_and(|attrs| {
        attrs.len() == wanted.len()
            && attrs.iter().all(|a| {
                matches!(
                    a,
                    Attribute::Token(false)
                        | Attribute::Sensitive(true)
                        | Attribute::Extractable(false)
                        | Attribute::Sign(true)
                )
            })
    });
    if good {
        Some(copy)
    } else {
        // Nothing more to do if this fails: the session's end destroys it anyway.
        let _ = session.destroy_object(copy);
        None
    }
}

impl Drop for WorkerSession {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && !self.gone
        {
            // Nothing to do about a failed close at the end of a worker's life.
            let _ = session.close();
        }
    }
}

/// How many times a signing operation is retried on a new session after a transient
/// session error, before the run gives up (issue 7: bounded retries).
pub const SESSION_RETRIES: usize = 3;

/// Whether a PKCS#11 error is one a new session may cure: the session went away
/// (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED) or the device hiccupped
/// (CKR_DEVICE_ERROR). Everything else (a bad key, a lost login) fails at once.
fn is_transient(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid | RvError::SessionClosed | RvError::DeviceError,
            _
        )
    )
}

/// Runs `op` on `session`; after a transient error (see [`is_transient`]) tells the
/// session what happened (`note`, so a handle the token reported gone is not closed
/// again), replaces it in place with `reopen()` and tries again, at most
/// [`SESSION_RETRIES`] times. Generic over the session type so the policy is
/// unit-tested without an HSM; the real token case is tested too.
fn with_session_retry<S, T>(
    session: &mut S,
    mut op: impl FnMut(&S) -> Result<T, CkError>,
    mut note: impl FnMut(&mut S, &CkError),
    mut reopen: impl FnMut() -> Result<S, CkError>,
) -> Result<T, HsmError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let err = match op(session) {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) => e,
            Err(e) => return Err(ck_err("C_Sign", e)),
        };
        note(session, &err);
        if attempts > SESSION_RETRIES {
            return Err(HsmError::SessionRetriesExhausted {
                attempts,
                reason: ck_err("C_Sign", err).to_string(),
            });
        }
        // A failed reopen counts as one more failed attempt if it is transient too.
        let mut reopened = reopen();
        while let Err(e) = &reopened {
            if !is_transient(e) {
                break;
            }
            attempts += 1;
            if attempts > SESSION_RETRIES {
                break;
            }
            reopened = reopen();
        }
        match reopened {
            Ok(s) => *session = s,
            Err(e) if is_transient(&e) => {
                return Err(HsmError::SessionRetriesExhausted {
                    attempts,
                    reason: ck_err("C_OpenSession", e).to_string(),
                });
            }
            Err(e) => return Err(ck_err("C_OpenSession", e)),
        }
    }
}

/// One worker's PKCS#11 session; dropping it closes the session (cryptoki's drop).
///
/// A session that dies mid-zone (a transient HSM error) is replaced in place by a new
/// one on the same token, so the signing core never sees the hiccup.
struct Pkcs11Session {
    session: WorkerSession,
    keys: Arc<[(ObjectHandle, Algorithm)]>,
    token: Arc<TokenInner>,
    /// Whether a replacement session makes its own key copies too.
    session_copies: bool,
}

impl SigningSession for Pkcs11Session {
    fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        let &(_, alg) = self.keys.get(key).ok_or(HsmError::NoSuchSigningKey {
            index: key,
            count: self.keys.len(),
        })?;
        let digest;
        let (mechanism, input) = match alg {
            Algorithm::EcdsaP256Sha256 => {
                digest = sha2::Sha256::digest(data);
                (Mechanism::Ecdsa, &digest[..])
            }
            _ => (sign_mechanism(alg), data),
        };
        let (token, keys, copies) = (&self.token, &self.keys, self.session_copies);
        let sig = with_session_retry(
            &mut self.session,
            |s| s.get()?.sign(&mechanism, s.handles[key], input),
            WorkerSession::note_error,
            || WorkerSession::open(token, keys, copies),
        )?;
        check_signature_length(alg, &sig)?;
        Ok(sig)
    }

    fn key_copies(&self) -> usize {
        self.session.copies
    }
}

/// Rejects curve signatures of the wrong size, which would make unverifiable RRSIGs.
fn check_signature_length(alg: Algorithm, sig: &[u8]) -> Result<(), HsmError> {
    let expected = match alg {
        Algorithm::EcdsaP256Sha256 | Algorithm::Ed25519 => 64,
        Algorithm::RsaSha1 | Algorithm::RsaSha256 if !sig.is_empty() => return Ok(()),
        Algorithm::RsaSha1 | Algorithm::RsaSha256 => 1,
    };
    if sig.len() == expected {
        Ok(())
    } else {
        Err(HsmError::BadSignatureLength {
            algorithm: alg.to_string(),
            len: sig.len(),
            expected,
        })
    }
}

/// Shared SoftHSM2 fixture for tests across the crate.
///
/// `SOFTHSM2_CONF` is process-global and SoftHSM reads it once at `C_Initialize`, so
/// every test in the process must use the same module and token directory; tests
/// keep apart by using their own token labels.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;
    use std::sync::OnceLock;

    use super::Module;

    /// Where Debian's `softhsm2` package puts the module.
    pub(crate) const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

    /// The process-wide module on a fresh temporary token directory.
    pub(crate) fn module() -> &'static Module {
        static FIXTURE: OnceLock<(tempfile::TempDir, Module)> = OnceLock::new();
        &FIXTURE
            .get_or_init(|| {
                let dir = tempfile::tempdir().expect("temp dir");
                let tokens = dir.path().join("tokens");
                std::fs::create_dir(&tokens).expect("token dir");
                let conf = dir.path().join("softhsm2.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                        tokens.display()
                    ),
                )
                .expect("write conf");
                // SAFETY: runs once, inside OnceLock initialisation, before the module
                // reads it; no test reads this variable concurrently.
                unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
                let module = Module::load(Path::new(SOFTHSM_MODULE)).expect("load SoftHSM2");
                (dir, module)
            })
            .1
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::test_support::module;
    use super::*;

    const SO_PIN: &str = "so-secret-1234";
    const USER_PIN: &str = "user-secret-5678";

    fn pin(s: &str) -> Pin {
        Pin::new(s.to_string())
    }

    /// Test data: a plausible 180-byte to-be-signed blob that differs per index.
    fn tbs(i: u8) -> Vec<u8> {
        (0..180u8)
            .map(|b| b.wrapping_mul(31).wrapping_add(i))
            .collect()
    }

    fn verify(alg: Algorithm, dnskey: &[u8], data: &[u8], sig: &[u8]) {
        match alg {
            Algorithm::RsaSha1 | Algorithm::RsaSha256 => verify_rsa(alg, dnskey, data, sig),
            Algorithm::EcdsaP256Sha256 => {
                use p256::ecdsa::signature::Verifier;
                let mut sec1 = vec![0x04];
                sec1.extend_from_slice(dnskey);
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).expect("p256 key");
                let s = p256::ecdsa::Signature::from_slice(sig).expect("p256 sig");
                vk.verify(data, &s).expect("p256 verify");
            }
            Algorithm::Ed25519 => {
                use ed25519_dalek::Verifier;
                let key: [u8; 32] = dnskey.try_into().expect("32-byte key");
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("ed25519 key");
                let s = ed25519_dalek::Signature::from_slice(sig).expect("ed25519 sig");
                vk.verify(data, &s).expect("ed25519 verify");
            }
        }
    }

    fn verify_rsa(alg: Algorithm, dnskey: &[u8], data: &[u8], sig: &[u8]) {
        use rsa::signature::Verifier;
        let elen = usize::from(dnskey[0]);
        assert_ne!(elen, 0, "short exponent form expected");
        let e = rsa::BoxedUint::from_be_slice_vartime(&dnskey[1..1 + elen]);
        let n = rsa::BoxedUint::from_be_slice_vartime(&dnskey[1 + elen..]);
        let pk = rsa::PublicKey::new(n, e).expect("rsa key");
        let s = rsa::pkcs1v15::Signature::try_from(sig).expect("rsa sig");
        match alg {
            Algorithm::RsaSha1 => rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(pk)
                .verify(data, &s)
                .expect("rsa-sha1 verify"),
            _ => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk)
                .verify(data, &s)
                .expect("rsa-sha256 verify"),
        }
    }

    fn check_format(alg: Algorithm, key: &[u8]) {
        match alg {
            Algorithm::RsaSha1 | Algorithm::RsaSha256 => {
                assert_eq!(&key[..4], &[3, 1, 0, 1], "exponent 65537");
                assert_eq!(key.len(), 4 + 128, "RSA-1024 modulus");
                assert_ne!(key[4], 0, "no leading zero in modulus");
            }
            Algorithm::EcdsaP256Sha256 => assert_eq!(key.len(), 64),
            Algorithm::Ed25519 => assert_eq!(key.len(), 32),
        }
    }

    /// One test for everything that needs the real SoftHSM2, so the steps run in order
    /// on one token.
    #[test]
    fn softhsm_end_to_end() {
        let m = module();
        let label = "hsm-test";
        m.init_token(label, &pin(SO_PIN), &pin(USER_PIN))
            .expect("init token");
        assert!(m.token_labels().unwrap().contains(&label.to_string()));
        assert!(matches!(
            m.init_token(label, &pin(SO_PIN), &pin(USER_PIN)),
            Err(HsmError::TokenExists { .. })
        ));

        match m.open("no-such-token", &pin(USER_PIN)) {
            Err(HsmError::TokenNotFound {
                label: l,
                available,
            }) => {
                assert_eq!(l, "no-such-token");
                assert!(available.contains(&label.to_string()));
            }
            other => panic!("expected TokenNotFound, got {other:?}"),
        }
        let err = m.open(label, &pin("wrong-pin")).unwrap_err();
        assert!(matches!(err, HsmError::PinIncorrect { .. }), "{err:?}");
        assert!(!err.to_string().contains("wrong-pin"));

        let token = m.open(label, &pin(USER_PIN)).expect("open");
        let mut keys = Vec::new();
        for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
            assert!(token.mechanisms_for(alg), "{alg} unsupported");
            let id = vec![0xA0, i as u8];
            let t = Instant::now();
            let public = token
                .generate_key(alg, 1024, &id, &format!("k-{alg}"))
                .expect("keygen");
            eprintln!("keygen {alg}: {:?}", t.elapsed());
            check_format(alg, &public);
            assert_eq!(token.public_key(&id, alg).unwrap(), public);
            let attrs = token.key_attributes(&id).unwrap();
            assert!(attrs.sensitive && !attrs.extractable && attrs.never_extractable);
            assert!(attrs.always_sensitive && attrs.token && attrs.private);
            keys.push((id, alg, public));
        }
        assert!(matches!(
            token.generate_key(Algorithm::Ed25519, 0, &[0xA0, 3], "dup"),
            Err(HsmError::KeyExists { .. })
        ));
        assert!(matches!(
            token.public_key(&[0xFF], Algorithm::Ed25519),
            Err(HsmError::KeyNotFound { .. })
        ));
        let mut listed: Vec<_> = token.private_key_ids().unwrap();
        listed.sort();
        assert_eq!(listed.len(), 4);
        assert_eq!(listed[0], (vec![0xA0, 0], "k-rsasha1".to_string()));

        let ids: Vec<_> = keys.iter().map(|(id, alg, _)| (id.clone(), *alg)).collect();
        let signer = token.signer(&ids).expect("signer");
        assert!(matches!(
            token.signer(&[(vec![0xEE], Algorithm::RsaSha1)]),
            Err(HsmError::KeyNotFound { .. })
        ));
        sign_in_parallel(&signer, &keys);

        // The signer keeps the login alive after the token handle is gone, and so
        // does a second Token on the same label.
        let second = m.open(label, &pin(USER_PIN)).expect("second open");
        drop(token);
        let mut s = signer.open_session().unwrap();
        assert!(s.sign(0, b"after drop").is_ok());
        assert!(matches!(
            s.sign(9, b"x"),
            Err(HsmError::NoSuchSigningKey { index: 9, count: 4 })
        ));
        drop((s, signer));
        assert_eq!(second.private_key_ids().unwrap().len(), 4);
        // DPS-5.3: destroying a key removes both objects; a second call finds none.
        let (gone, _, _) = &keys[0];
        assert_eq!(
            second.destroy_key(gone).unwrap(),
            DestroyedObjects {
                private: 1,
                public: 1
            }
        );
        assert_eq!(second.private_key_ids().unwrap().len(), 3);
        assert!(matches!(
            second.public_key(gone, Algorithm::RsaSha1),
            Err(HsmError::KeyNotFound { .. })
        ));
        assert_eq!(
            second.destroy_key(gone).unwrap(),
            DestroyedObjects {
                private: 0,
                public: 0
            }
        );
        // An unrelated session stays open, so only an explicit C_Logout (not the
        // implicit one when the last session closes) makes it public again.
        let bystander = m.ctx.open_ro_session(m.find_slot(label).unwrap()).unwrap();
        drop(second);
        assert_logged_out(&bystander);
    }

    /// Direct calls into the loaded module's PKCS#11 function list, behind cryptoki's
    /// back: the only way to make the token itself invalidate one session handle.
    mod raw {
        use cryptoki_sys::{CK_FUNCTION_LIST, CK_RV, CK_SESSION_HANDLE, CK_SESSION_INFO};

        use super::super::test_support::SOFTHSM_MODULE;

        /// Runs `f` on the function list of the SoftHSM2 module the fixture loaded
        /// (`dlopen` of the same path returns the same, already initialised library).
        fn with_functions<T>(f: impl FnOnce(&CK_FUNCTION_LIST) -> T) -> T {
            // SAFETY: the library is SoftHSM2, already loaded and initialised by the
            // fixture; C_GetFunctionList has this signature in every PKCS#11 module.
            unsafe {
                let lib = libloading::Library::new(SOFTHSM_MODULE).expect("dlopen SoftHSM2");
                let get: libloading::Symbol<
                    unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV,
                > = lib.get(b"C_GetFunctionList").expect("C_GetFunctionList");
                let mut list = std::ptr::null_mut();
                assert_eq!(get(&mut list), cryptoki_sys::CKR_OK);
                f(&*list)
            }
        }

        /// `C_CloseSession(handle)`.
        pub(super) fn close_session(handle: CK_SESSION_HANDLE) -> CK_RV {
            // SAFETY: a plain PKCS#11 call with a handle value; an invalid handle is
            // answered with CKR_SESSION_HANDLE_INVALID, never undefined behaviour.
            with_functions(|f| unsafe { f.C_CloseSession.expect("C_CloseSession")(handle) })
        }

        /// `C_GetSessionInfo(handle)`: the return value and, if CKR_OK, the state.
        pub(super) fn session_state(handle: CK_SESSION_HANDLE) -> (CK_RV, u64) {
            with_functions(|f| {
                let mut info = CK_SESSION_INFO {
                    slotID: 0,
                    state: 0,
                    flags: 0,
                    ulDeviceError: 0,
                };
                // SAFETY: `info` is a valid, writable CK_SESSION_INFO.
                let rv =
                    unsafe { f.C_GetSessionInfo.expect("C_GetSessionInfo")(handle, &mut info) };
                (rv, info.state)
            })
        }
    }

    /// Issue 7 (fault tolerance), on the real SoftHSM2 token: a worker's session that
    /// the token itself has invalidated (C_CloseSession through the module's function
    /// list, so SoftHSM answers CKR_SESSION_HANDLE_INVALID; nothing is simulated) is
    /// replaced by a new session, and the signature is made and verifies. More losses
    /// than [`SESSION_RETRIES`] in one run are fine as long as each is cured. The login
    /// stays alive (other sessions stay open), and a second worker is not disturbed.
    #[test]
    fn a_session_invalidated_by_the_real_token_is_replaced_and_signing_goes_on() {
        const CKS_RO_USER_FUNCTIONS: u64 = 1;
        let m = module();
        let label = "hsm-retry";
        m.init_token(label, &pin(SO_PIN), &pin(USER_PIN))
            .expect("init token");
        let token = m.open(label, &pin(USER_PIN)).expect("open");
        let id = vec![0xB0, 1];
        let public = token
            .generate_key(Algorithm::RsaSha1, 1024, &id, "retry")
            .expect("keygen");
        let signer = token.signer(&[(id, Algorithm::RsaSha1)]).expect("signer");
        let mut worker = signer.pkcs11_session().expect("worker session");
        let mut other = signer.pkcs11_session().expect("second worker session");
        let data = tbs(0);
        verify(
            Algorithm::RsaSha1,
            &public,
            &data,
            &worker.sign(0, &data).unwrap(),
        );
        let mut handles = Vec::new();
        for round in 1..=(SESSION_RETRIES as u8 + 2) {
            let dead = worker.session.get().unwrap().handle();
            assert_eq!(raw::close_session(dead), cryptoki_sys::CKR_OK);
            assert_eq!(
                raw::session_state(dead).0,
                cryptoki_sys::CKR_SESSION_HANDLE_INVALID,
                "the token no longer knows the worker's session"
            );
            let data = tbs(round);
            let sig = worker
                .sign(0, &data)
                .unwrap_or_else(|e| panic!("round {round}: signing after the loss: {e}"));
            verify(Algorithm::RsaSha1, &public, &data, &sig);
            let new = worker.session.get().unwrap().handle();
            assert_eq!(
                raw::session_state(new),
                (cryptoki_sys::CKR_OK, CKS_RO_USER_FUNCTIONS),
                "round {round}: the replacement session is open and logged in"
            );
            handles.push((dead, new));
            let data = tbs(100 + round);
            let sig = other.sign(0, &data).expect("the other worker signs on");
            verify(Algorithm::RsaSha1, &public, &data, &sig);
        }
        eprintln!("session handles (lost, replacement): {handles:?}");
        // Still logged in: private objects are visible on the token's own session.
        assert_eq!(token.private_key_ids().unwrap().len(), 1);
        drop((worker, other, signer));
        assert_eq!(token.private_key_ids().unwrap().len(), 1);
    }

    /// Each signing session signs with its own session copy of the key, which is
    /// sensitive, not extractable (DPS-5.2, SEC rules: never an extractable private
    /// key) and gone with its session; key lookups never mistake a copy for a second
    /// key; with `session-key-copies` off the token object signs. A replacement
    /// session (after a loss) makes its own copy.
    #[test]
    fn signing_sessions_sign_with_their_own_non_extractable_session_copies() {
        let m = module();
        let label = "hsm-copies";
        m.init_token(label, &pin(SO_PIN), &pin(USER_PIN))
            .expect("init token");
        let token = m.open(label, &pin(USER_PIN)).expect("open");
        let id = vec![0xC0, 1];
        let public = token
            .generate_key(Algorithm::EcdsaP256Sha256, 0, &id, "copies")
            .expect("keygen");
        let original = token.one_by_id(ObjectClass::PRIVATE_KEY, &id).unwrap();
        let signer = token
            .signer(&[(id.clone(), Algorithm::EcdsaP256Sha256)])
            .expect("signer");
        let mut a = signer.pkcs11_session().expect("session a");
        let b = signer.pkcs11_session().expect("session b");
        let copy = a.session.handles[0];
        assert_eq!((a.session.copies, b.session.copies), (1, 1));
        assert_ne!(copy, original);
        assert_ne!(copy, b.session.handles[0], "each session has its own copy");
        let attrs = token
            .attributes(
                copy,
                &[
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Private,
                    AttributeType::Id,
                ],
            )
            .unwrap();
        assert_eq!(
            attrs,
            vec![
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Private(true),
                Attribute::Id(id.clone()),
            ]
        );
        let data = tbs(7);
        let sig = a.sign(0, &data).unwrap();
        verify(Algorithm::EcdsaP256Sha256, &public, &data, &sig);
        // Lookups see the one token key while copies exist.
        assert_eq!(token.private_key_ids().unwrap().len(), 1);
        assert!(token.public_key(&id, Algorithm::EcdsaP256Sha256).is_ok());
        assert!(
            token
                .signer(&[(id.clone(), Algorithm::EcdsaP256Sha256)])
                .is_ok()
        );
        // A lost session's replacement copies again and signs.
        let dead = a.session.get().unwrap().handle();
        assert_eq!(raw::close_session(dead), cryptoki_sys::CKR_OK);
        let sig = a.sign(0, &data).expect("sign after the loss");
        verify(Algorithm::EcdsaP256Sha256, &public, &data, &sig);
        assert_eq!(a.session.copies, 1);
        // Copies die with their sessions.
        let all_private = |t: &Token| {
            t.session()
                .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
                .unwrap()
                .len()
        };
        assert_eq!(all_private(&token), 3);
        drop((a, b));
        assert_eq!(all_private(&token), 1);
        // Off: the token object signs, no copy is made.
        let plain = token
            .signer(&[(id, Algorithm::EcdsaP256Sha256)])
            .unwrap()
            .with_session_copies(false);
        let mut c = plain.pkcs11_session().unwrap();
        assert_eq!((c.session.copies, c.session.handles[0]), (0, original));
        assert!(c.sign(0, &data).is_ok());
        assert_eq!(all_private(&token), 1);
    }

    /// After the last Token is dropped the application is logged out (DPS-5.2):
    /// every session is a public one and sees no private keys.
    fn assert_logged_out(session: &Session) {
        let state = session.get_session_info().unwrap().session_state();
        assert_eq!(state, cryptoki::session::SessionState::RoPublic);
        let private = session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .unwrap();
        assert!(private.is_empty());
    }

    fn sign_in_parallel(signer: &Pkcs11Signer, keys: &[(Vec<u8>, Algorithm, Vec<u8>)]) {
        let t = Instant::now();
        std::thread::scope(|scope| {
            for worker in 0..2u8 {
                scope.spawn(move || {
                    let mut session = signer.open_session().expect("session");
                    for (k, (_, alg, public)) in keys.iter().enumerate() {
                        for i in 0..4 {
                            let data = tbs(worker * 16 + i);
                            let sig = session.sign(k, &data).expect("sign");
                            verify(*alg, public, &data, &sig);
                        }
                    }
                });
            }
        });
        eprintln!("32 signatures on 2 threads + verify: {:?}", t.elapsed());
    }

    #[test]
    fn missing_module_is_module_load() {
        let err = Module::load(Path::new("/nonexistent/libpkcs11.so")).unwrap_err();
        assert!(matches!(err, HsmError::ModuleLoad { .. }));
        assert!(err.to_string().contains("/nonexistent/libpkcs11.so"));
    }

    #[test]
    fn non_pkcs11_library_is_module_load() {
        let err = Module::load(Path::new("/etc/hostname")).unwrap_err();
        assert!(matches!(err, HsmError::ModuleLoad { .. }), "{err:?}");
    }

    #[test]
    fn pin_can_be_searched_for() {
        let p = pin("s3cret");
        assert!(p.found_in(b"zonesign\0--pin\0s3cret\0"));
        assert!(!p.found_in(b"zonesign\0sign\0"));
        assert!(!pin("").found_in(b"anything"));
    }

    #[test]
    fn pin_is_never_shown() {
        let p = pin("1234-secret");
        assert!(!format!("{p:?}").contains("secret"));
        assert!(!format!("{p}").contains("secret"));
    }

    #[test]
    fn rsa_dnskey_follows_rfc3110() {
        assert_eq!(
            rsa_dnskey(&[0, 1, 0, 1], &[0, 0, 0xC1, 0x02]).unwrap(),
            vec![3, 1, 0, 1, 0xC1, 0x02]
        );
        let long_e = vec![0x01; 300];
        let key = rsa_dnskey(&long_e, &[0xAB]).unwrap();
        assert_eq!(&key[..3], &[0, 0x01, 0x2C]);
        assert_eq!(key.len(), 3 + 300 + 1);
        assert!(rsa_dnskey(&[0], &[1]).is_err());
    }

    #[test]
    fn ec_point_unwrapping() {
        let mut p256 = vec![0x04, 0x41, 0x04];
        p256.extend([7u8; 64]);
        assert_eq!(
            ec_dnskey(Algorithm::EcdsaP256Sha256, &p256).unwrap(),
            vec![7; 64]
        );
        assert_eq!(
            ec_dnskey(Algorithm::EcdsaP256Sha256, &p256[2..]).unwrap(),
            vec![7; 64]
        );
        let mut ed = vec![0x04, 0x20];
        ed.extend([9u8; 32]);
        assert_eq!(ec_dnskey(Algorithm::Ed25519, &ed).unwrap(), vec![9; 32]);
        assert_eq!(
            ec_dnskey(Algorithm::Ed25519, &ed[2..]).unwrap(),
            vec![9; 32]
        );
        assert!(ec_dnskey(Algorithm::Ed25519, &[0x04, 0x05, 1]).is_err());
        assert!(ec_dnskey(Algorithm::EcdsaP256Sha256, &[]).is_err());
    }

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

    /// The key manager and the signing stage share these across threads.
    #[test]
    fn handles_are_thread_safe() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Module>();
        send_sync::<Token>();
        send_sync::<Pkcs11Signer>();
        send_sync::<HsmError>();
    }

    fn ck_rv(rv: RvError) -> CkError {
        CkError::Pkcs11(rv, cryptoki::context::Function::Sign)
    }

    /// A transient error is retried on a new session, and the new session replaces
    /// the old one in place.
    #[test]
    fn transient_session_errors_are_retried_on_a_new_session() {
        let mut session = 0u32; // the "session" is a generation number
        let mut opened = 0;
        let r = with_session_retry(
            &mut session,
            |s| {
                if *s < 2 {
                    Err(ck_rv(RvError::SessionHandleInvalid))
                } else {
                    Ok(*s)
                }
            },
            |_, _| {},
            || {
                opened += 1;
                Ok(opened)
            },
        );
        assert_eq!(r.unwrap(), 2);
        assert_eq!(session, 2, "the session was replaced in place");
    }

    #[test]
    fn session_retries_are_bounded() {
        for rv in [
            RvError::SessionHandleInvalid,
            RvError::SessionClosed,
            RvError::DeviceError,
        ] {
            let mut calls = 0;
            let mut reopens = 0;
            let r: Result<(), _> = with_session_retry(
                &mut (),
                |_| {
                    calls += 1;
                    Err(ck_rv(rv))
                },
                |_, _| {},
                || {
                    reopens += 1;
                    Ok(())
                },
            );
            assert_eq!(calls, SESSION_RETRIES + 1);
            assert_eq!(reopens, SESSION_RETRIES);
            let e = r.unwrap_err();
            assert!(
                matches!(e, HsmError::SessionRetriesExhausted { attempts, .. } if attempts == SESSION_RETRIES + 1),
                "{e:?}"
            );
            assert!(e.to_string().contains(&ckr_name(rv)), "{e}");
        }
    }

    #[test]
    fn failing_reopen_is_bounded_too() {
        let mut calls = 0;
        let mut reopens = 0;
        let r: Result<(), _> = with_session_retry(
            &mut (),
            |_| {
                calls += 1;
                Err(ck_rv(RvError::DeviceError))
            },
            |_, _| {},
            || {
                reopens += 1;
                Err(ck_rv(RvError::DeviceError))
            },
        );
        assert!(matches!(r, Err(HsmError::SessionRetriesExhausted { .. })));
        assert_eq!(calls, 1);
        assert_eq!(reopens, SESSION_RETRIES);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut reopens = 0;
        let r: Result<(), _> = with_session_retry(
            &mut (),
            |_| Err(ck_rv(RvError::KeyHandleInvalid)),
            |_, _| {},
            || {
                reopens += 1;
                Ok(())
            },
        );
        assert_eq!(reopens, 0);
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("CKR_KEY_HANDLE_INVALID")
        );
        let r: Result<(), _> = with_session_retry(
            &mut (),
            |_| Err(ck_rv(RvError::SessionHandleInvalid)),
            |_, _| {},
            || Err(ck_rv(RvError::UserNotLoggedIn)),
        );
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("CKR_USER_NOT_LOGGED_IN")
        );
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

    /// The raw C_GetTokenInfo fallback (tokens whose clock cryptoki cannot parse) reads
    /// the label and the PIN flags as cryptoki would.
    #[test]
    fn raw_token_info_reads_label_and_pin_flags() {
        // SAFETY: CK_TOKEN_INFO is plain data; all-zero is a valid value.
        let mut info: cryptoki_sys::CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        info.label = [b' '; 32];
        info.label[..7].copy_from_slice(b"ock-tok");
        info.utcTime = *b"12:34:56        ";
        let mut facts = |flags| {
            info.flags = flags;
            TokenFacts::from_raw(&info)
        };
        let f = facts(cryptoki_sys::CKF_TOKEN_INITIALIZED);
        assert_eq!(f.label, "ock-tok");
        assert!(f.initialized);
        assert_eq!(f.tries, PinTries::NotReported);
        assert!(!facts(0).initialized);
        assert_eq!(
            facts(cryptoki_sys::CKF_USER_PIN_COUNT_LOW).tries,
            PinTries::Low
        );
        assert_eq!(
            facts(cryptoki_sys::CKF_USER_PIN_COUNT_LOW | cryptoki_sys::CKF_USER_PIN_FINAL_TRY)
                .tries,
            PinTries::FinalTry
        );
        assert_eq!(
            facts(cryptoki_sys::CKF_USER_PIN_FINAL_TRY | cryptoki_sys::CKF_USER_PIN_LOCKED).tries,
            PinTries::NowLocked
        );
    }

    #[test]
    fn labels_are_checked() {
        assert!(check_label("ok").is_ok());
        assert!(check_label("").is_err());
        assert!(check_label(&"x".repeat(33)).is_err());
        assert!(check_label("trailing ").is_err());
    }
}
