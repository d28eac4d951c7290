//! A logged-in token, [`Token`]: generating key pairs inside it with the DPS-5.2
//! protection attributes, finding keys by CKA_ID, reading their public halves and
//! protection attributes, destroying them (DPS-5.3), checking the mechanism list, and
//! making the signer for the signing stage. The login is shared by the token and every
//! signer made from it (`TokenInner`); the last one gone logs out.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::encoding::{ec_dnskey, rsa_dnskey};
use super::error::{HsmError, ck, hex};
use super::module::{Module, lock};
use super::session::Pkcs11Signer;
use crate::dns::algorithm::Algorithm;

/// DER encoding of the prime256v1 (P-256) curve OID, the `CKA_EC_PARAMS` for algorithm 13.
pub(super) const P256_PARAMS: [u8; 10] =
    [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER encoding of the id-Ed25519 OID (1.3.101.112), the `CKA_EC_PARAMS` for algorithm 15.
pub(super) const ED25519_PARAMS: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// RSA public exponent F4 = 65537: the universal choice, and what RFC 3110 keys use.
const RSA_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

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

/// A private key found in the token by [`Token::find_private_key`]: one zonesign did
/// not make (another signer's, taken over by `key import`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CKA_LABEL.
    pub label: String,
    /// What its key type and parameters allow.
    pub family: KeyFamily,
}

/// The DNSSEC algorithms a token key can serve, read from its type and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA of this modulus size: RSASHA1 or RSASHA256, the key does not say which.
    Rsa {
        /// Modulus bits.
        bits: u32,
    },
    /// EC on P-256: ECDSAP256SHA256.
    P256,
    /// EdDSA on Ed25519.
    Ed25519,
    /// Anything else (another curve, a DSA key...), described.
    Unsupported(String),
    /// Not read yet.
    Other,
}

/// Whether `CKA_EC_PARAMS` names Ed25519: the OID 1.3.101.112, or the printable string
/// "edwards25519" that PKCS#11 3.0 also allows (and SoftHSM2 writes for its own keys).
fn is_ed25519_params(p: &[u8]) -> bool {
    p == ED25519_PARAMS || p == b"\x13\x0cedwards25519"
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
pub(super) struct TokenInner {
    /// The module, for new sessions and the login count.
    pub(super) module: Module,
    /// The token's label, the key of the login count.
    label: String,
    /// The slot the token was in at login.
    pub(super) slot: Slot,
    /// The token's own session (key generation, lookups, destruction).
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
    /// The token just logged in on `session` in `slot`; [`Module::open`] has counted
    /// the login.
    pub(super) fn logged_in(module: Module, label: &str, slot: Slot, session: Session) -> Token {
        Token {
            inner: Arc::new(TokenInner {
                module,
                label: label.to_string(),
                slot,
                session: Mutex::new(session),
            }),
        }
    }

    /// The token's own session, locked for one operation.
    pub(super) fn session(&self) -> MutexGuard<'_, Session> {
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
        self.refuse_used_id(id)?;
        let mut public = public_key_template(id, label);
        public.extend(public_key_params(alg, rsa_bits));
        let private = private_key_template(id, label);
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

    /// The one private key (a token object) with this CKA_ID and/or CKA_LABEL, for
    /// `key import`: its id, label and the algorithm family its key type and
    /// parameters allow. None or several is an error naming what was asked for.
    pub fn find_private_key(
        &self,
        id: Option<&[u8]>,
        label: Option<&str>,
    ) -> Result<ForeignKey, HsmError> {
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Token(true),
        ];
        if let Some(id) = id {
            template.push(Attribute::Id(id.to_vec()));
        }
        if let Some(label) = label {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        let asked = match (id, label) {
            (Some(id), Some(l)) => format!("CKA_ID {} and CKA_LABEL {l:?}", hex(id)),
            (Some(id), None) => format!("CKA_ID {}", hex(id)),
            (None, Some(l)) => format!("CKA_LABEL {l:?}"),
            (None, None) => "any id and label".into(),
        };
        let handles = self
            .session()
            .find_objects(&template)
            .map_err(ck("C_FindObjects"))?;
        let [handle] = handles.as_slice() else {
            return Err(HsmError::ImportCandidates {
                count: handles.len(),
                what: asked,
            });
        };
        let handle = *handle;
        let mut key = ForeignKey {
            id: Vec::new(),
            label: String::new(),
            family: KeyFamily::Other,
        };
        let (mut key_type, mut modulus, mut params) = (None, None, None);
        for a in self.attributes(
            handle,
            &[
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::KeyType,
            ],
        )? {
            match a {
                Attribute::Id(v) => key.id = v,
                Attribute::Label(v) => key.label = String::from_utf8_lossy(&v).into_owned(),
                Attribute::KeyType(t) => key_type = Some(t),
                _ => {}
            }
        }
        if key_type == Some(KeyType::RSA) {
            modulus = self
                .attributes(handle, &[AttributeType::Modulus])?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::Modulus(v) => Some(v),
                    _ => None,
                });
        } else if key_type == Some(KeyType::EC) || key_type == Some(KeyType::EC_EDWARDS) {
            params = self
                .attributes(handle, &[AttributeType::EcParams])?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::EcParams(v) => Some(v),
                    _ => None,
                });
        }
        key.family = match (key_type, modulus, params) {
            (Some(KeyType::RSA), Some(n), _) => {
                let lead = n.iter().take_while(|b| **b == 0).count();
                let bytes = n.len() - lead;
                let top = n.get(lead).map_or(0, |b| 8 - b.leading_zeros());
                KeyFamily::Rsa {
                    bits: (bytes.saturating_sub(1) * 8) as u32 + top,
                }
            }
            (Some(KeyType::EC), _, Some(p)) if p == P256_PARAMS => KeyFamily::P256,
            (Some(KeyType::EC_EDWARDS), _, Some(p)) if is_ed25519_params(&p) => KeyFamily::Ed25519,
            (t, _, p) => KeyFamily::Unsupported(format!(
                "key type {} with parameters {}",
                t.map_or("unknown".to_string(), |t| t.to_string()),
                p.map_or("none".to_string(), |p| hex(&p))
            )),
        };
        Ok(key)
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
    /// [`SigningBackend::open_session`](super::SigningBackend::open_session) once and gets its own PKCS#11 session
    /// (sessions are `Send`, not `Sync`; sharing one behind a `Mutex` gives no
    /// speed-up). The signer keeps the token logged in while it lives.
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
        Ok(Pkcs11Signer::new(Arc::clone(&self.inner), resolved))
    }

    /// All objects of `class` with CKA_ID `id`.
    /// Refuses a CKA_ID that a private or public key object of the token has already.
    pub(crate) fn refuse_used_id(&self, id: &[u8]) -> Result<(), HsmError> {
        if !self.find_by_id(ObjectClass::PRIVATE_KEY, id)?.is_empty()
            || !self.find_by_id(ObjectClass::PUBLIC_KEY, id)?.is_empty()
        {
            return Err(HsmError::KeyExists { id_hex: hex(id) });
        }
        Ok(())
    }

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
    pub(super) fn one_by_id(
        &self,
        class: ObjectClass,
        id: &[u8],
    ) -> Result<ObjectHandle, HsmError> {
        match self.find_by_id(class, id)?.as_slice() {
            [h] => Ok(*h),
            [] => Err(HsmError::KeyNotFound { id_hex: hex(id) }),
            _ => Err(HsmError::AmbiguousKeyId { id_hex: hex(id) }),
        }
    }

    /// Reads attributes of one object on the token's session.
    pub(super) fn attributes(
        &self,
        handle: ObjectHandle,
        types: &[AttributeType],
    ) -> Result<Vec<Attribute>, HsmError> {
        self.session()
            .get_attributes(handle, types)
            .map_err(ck("C_GetAttributeValue"))
    }
}

/// The attributes of a zone's private key object, whether generated in the token or
/// created from an imported key (DPS-5.2): a token object, private, sensitive, never
/// extractable, and a signing key only: SoftHSM2 (and PKCS#11's defaults on some
/// tokens) would also let it decrypt and unwrap, uses a zone key must never have.
pub(crate) fn private_key_template(id: &[u8], label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// The attributes of a zone key's public key object, besides the key itself.
pub(crate) fn public_key_template(id: &[u8], label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::hsm::SigningBackend;
    use crate::hsm::test_support::{SO_PIN, USER_PIN, module, pin, tbs, verify};

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
}
