//! The loaded PKCS#11 library, [`Module`]: `C_Initialize`, the slot list, finding a
//! token by its label (never by a stored slot id, which changes after `C_InitToken`),
//! initialising a token, and the user login that yields a [`Token`], with the PIN
//! flags read around `C_Login`. Also the raw `C_GetTokenInfo` fallback for tokens whose
//! info cryptoki cannot parse (opencryptoki's clock field).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;

use super::error::{HsmError, PinTries, ck, ck_err, ckr_name};
use super::pin::Pin;
use super::token::Token;

/// The longest token label PKCS#11 can store (`CK_TOKEN_INFO.label` is 32 bytes).
const MAX_TOKEN_LABEL: usize = 32;

/// What zonesign reads from `C_GetTokenInfo`: the label, whether the token is
/// initialised, and the user PIN's try counter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenFacts {
    /// The label, PKCS#11 space padding trimmed.
    label: String,
    /// CKF_TOKEN_INITIALIZED.
    initialized: bool,
    /// Manufacturer, model and serial number, trimmed: what a PKCS#11 URI may also
    /// select a token by ([`super::uri`]).
    manufacturer: String,
    model: String,
    serial: String,
    /// CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_COUNT_LOW.
    tries: PinTries,
}

impl TokenFacts {
    fn from_info(info: &cryptoki::slot::TokenInfo) -> TokenFacts {
        TokenFacts {
            label: info.label().trim_end().to_string(),
            initialized: info.token_initialized(),
            manufacturer: info.manufacturer_id().trim_end().to_string(),
            model: info.model().trim_end().to_string(),
            serial: info.serial_number().trim_end().to_string(),
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
            manufacturer: String::from_utf8_lossy(&info.manufacturerID)
                .trim_end()
                .to_string(),
            model: String::from_utf8_lossy(&info.model).trim_end().to_string(),
            serial: String::from_utf8_lossy(&info.serialNumber)
                .trim_end()
                .to_string(),
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

/// Locks a mutex, recovering from poisoning: a panic elsewhere must not turn into a panic here.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The loaded PKCS#11 module: one per process, initialised (`C_Initialize`) once.
///
/// Cheap to clone (an `Arc` inside), so every part of the signer that needs the HSM
/// can hold its own handle without re-loading the library.
#[derive(Clone, Debug)]
pub struct Module {
    pub(super) ctx: Pkcs11,
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
    ///
    /// A token whose info cannot be read is unusable, whatever the return value: SoftHSM2
    /// answers CKR_GENERAL_ERROR when the token's files went away after `C_Initialize`
    /// (a lost or unmounted token directory), so that is reported as the token being
    /// unavailable, with what to check, not as a bare PKCS#11 failure.
    fn token_info(&self, slot: Slot) -> Result<TokenFacts, HsmError> {
        match self.ctx.get_token_info(slot) {
            Ok(info) => Ok(TokenFacts::from_info(&info)),
            Err(CkError::Pkcs11(rv, _)) => Err(HsmError::TokenUnavailable {
                op: "C_GetTokenInfo",
                code: ckr_name(rv),
            }),
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
        Ok(self
            .initialized_token_facts()?
            .into_iter()
            .map(|(slot, f)| (slot, f.label))
            .collect())
    }

    /// Every initialised token as (current slot, its facts).
    fn initialized_token_facts(&self) -> Result<Vec<(Slot, TokenFacts)>, HsmError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList"))?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let info = self.token_info(slot)?;
            if info.initialized {
                out.push((slot, info));
            }
        }
        Ok(out)
    }

    /// Finds the slot currently holding the token with this label.
    ///
    /// Slot ids are not stable (SoftHSM renumbers after `C_InitToken`), so this runs
    /// every time a token is needed instead of storing a slot id.
    ///
    /// `label` may also be a PKCS#11 URI (RFC 7512, [`super::uri`]): the one token
    /// whose label, manufacturer, model and serial match every attribute it gives.
    pub(super) fn find_slot(&self, label: &str) -> Result<Slot, HsmError> {
        let tokens = self.initialized_token_facts()?;
        let found: Vec<Slot> = if super::uri::Pkcs11Uri::is_uri(label) {
            let uri = super::uri::Pkcs11Uri::parse(label).map_err(|e| HsmError::BadUri {
                uri: label.to_string(),
                problem: e.to_string(),
            })?;
            tokens
                .iter()
                .filter(|(_, f)| uri.matches_token(&f.label, &f.manufacturer, &f.model, &f.serial))
                .map(|(slot, _)| *slot)
                .collect()
        } else {
            tokens
                .iter()
                .filter(|(_, f)| f.label == label)
                .map(|(slot, _)| *slot)
                .take(1)
                .collect()
        };
        match found.as_slice() {
            [slot] => Ok(*slot),
            [] => Err(HsmError::TokenNotFound {
                label: label.to_string(),
                available: tokens.into_iter().map(|(_, f)| f.label).collect(),
            }),
            _ => Err(HsmError::BadUri {
                uri: label.to_string(),
                problem: format!(
                    "{} tokens match it; add token=, serial= or manufacturer= to name one",
                    found.len()
                ),
            }),
        }
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
        Ok(Token::logged_in(self.clone(), label, slot, session))
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
    pub(super) fn release_login(&self, label: &str) -> bool {
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

/// Logs `user` in; an already-logged-in application counts as success
/// (SoftHSM2 answers CKR_USER_ALREADY_LOGGED_IN to a second login of the same application).
fn login(session: &Session, user: UserType, pin: &Pin) -> Result<(), HsmError> {
    match session.login(user, Some(pin.auth())) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(ck_err("C_Login", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
