//! Signing. The seam the signing stage sees ([`SigningBackend`], [`SigningSession`]),
//! several tokens behind it ([`Cluster`]), and the PKCS#11 implementation
//! ([`Pkcs11Signer`]: one session per worker, each with its own session copies of the
//! keys), with bounded retries on a fresh session after transient session errors
//! (issue 7).

use std::fmt;
use std::sync::Arc;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use sha2::Digest;

use super::error::{HsmError, ck, ck_err};
use super::token::TokenInner;
use crate::dns::algorithm::Algorithm;

/// The signing seam: the signing stage only sees this trait and [`SigningSession`],
/// so a network HSM, several tokens, or a test double can stand behind them.
pub trait SigningBackend: Sync {
    /// Opens one signing session; call it once per worker thread.
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError>;
}

/// One worker's signing channel to the keys chosen when the backend was built.
pub trait SigningSession: Send {
    /// Signs `data` (the RFC 4034 §3.1.8.1 to-be-signed bytes) with key number `key`
    /// (index into the list given to [`Token::signer`](super::Token::signer)), returning the DNSSEC wire
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
/// [`Token::signer`](super::Token::signer): the caller checks each public key in every member first, and
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
    /// A signer over `token`'s login for the resolved `keys` (see [`Token::signer`]),
    /// with session copies on.
    ///
    /// [`Token::signer`]: super::Token::signer
    pub(super) fn new(
        token: Arc<TokenInner>,
        keys: Vec<(ObjectHandle, Algorithm)>,
    ) -> Pkcs11Signer {
        Pkcs11Signer {
            token,
            keys: keys.into(),
            session_copies: true,
        }
    }

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

/// The mechanism that signs for `alg` (ECDSA over a host-computed hash).
fn sign_mechanism(alg: Algorithm) -> Mechanism<'static> {
    match alg {
        Algorithm::RsaSha1 => Mechanism::Sha1RsaPkcs,
        Algorithm::RsaSha256 => Mechanism::Sha256RsaPkcs,
        Algorithm::EcdsaP256Sha256 => Mechanism::Ecdsa,
        Algorithm::Ed25519 => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
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

#[cfg(test)]
mod tests {
    use cryptoki::object::ObjectClass;

    use super::*;
    use crate::hsm::error::ckr_name;
    use crate::hsm::test_support::{SO_PIN, USER_PIN, module, pin, tbs, verify};
    use crate::hsm::{Module, Token};

    /// Direct calls into the loaded module's PKCS#11 function list, behind cryptoki's
    /// back: the only way to make the token itself invalidate one session handle.
    mod raw {
        use cryptoki_sys::{CK_FUNCTION_LIST, CK_RV, CK_SESSION_HANDLE, CK_SESSION_INFO};

        use crate::hsm::test_support::SOFTHSM_MODULE;

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
}
