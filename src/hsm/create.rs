//! Putting a key pair that exists outside the HSM into the token (`key import
//! --from-file`, issue 23): `C_CreateObject` of a private key object that is a token
//! object, private, sensitive, not extractable and can sign (DPS-5.2 from the moment
//! it is in the token), and of its public key object, both under a fresh CKA_ID.
//! Such a key is never CKA_ALWAYS_SENSITIVE nor CKA_NEVER_EXTRACTABLE: the token
//! truthfully says the value was known outside it, and `check` says why.
//!
//! Also the search for a key pair already in the token by its public half, so the same
//! key is not put in twice under two ids.

use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};

use super::error::{HsmError, ck};
use super::token::{ED25519_PARAMS, P256_PARAMS, Token, private_key_template, public_key_template};

/// A key pair's values, borrowed from wherever they were read (and wiped there).
pub enum KeyValues<'a> {
    /// RSA: the public half and the CRT private fields, big-endian.
    Rsa {
        /// n.
        modulus: &'a [u8],
        /// e.
        public_exponent: &'a [u8],
        /// d.
        private_exponent: &'a [u8],
        /// p.
        prime1: &'a [u8],
        /// q.
        prime2: &'a [u8],
        /// d mod p-1.
        exponent1: &'a [u8],
        /// d mod q-1.
        exponent2: &'a [u8],
        /// q^-1 mod p.
        coefficient: &'a [u8],
    },
    /// ECDSA P-256: the private scalar and the public point X‖Y (DNSKEY form).
    P256 {
        /// The private scalar, 32 octets.
        scalar: &'a [u8],
        /// X‖Y, 64 octets.
        xy: &'a [u8],
    },
    /// Ed25519: the private key (RFC 8032 seed) and the public point.
    Ed25519 {
        /// 32 octets.
        seed: &'a [u8],
        /// 32 octets.
        point: &'a [u8],
    },
}

impl KeyValues<'_> {
    /// The public key object's type-specific attributes (what identifies the key).
    fn public_attributes(&self) -> Vec<Attribute> {
        match self {
            KeyValues::Rsa {
                modulus,
                public_exponent,
                ..
            } => vec![
                Attribute::KeyType(KeyType::RSA),
                Attribute::Modulus(modulus.to_vec()),
                Attribute::PublicExponent(public_exponent.to_vec()),
            ],
            KeyValues::P256 { xy, .. } => vec![
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::EcPoint(der_octet_string(&[&[0x04], *xy].concat())),
            ],
            KeyValues::Ed25519 { point, .. } => vec![
                Attribute::KeyType(KeyType::EC_EDWARDS),
                Attribute::EcParams(ED25519_PARAMS.to_vec()),
                Attribute::EcPoint(der_octet_string(point)),
            ],
        }
    }

    /// The private key object's type-specific attributes: the secret values.
    fn private_attributes(&self) -> Vec<Attribute> {
        match self {
            KeyValues::Rsa {
                modulus,
                public_exponent,
                private_exponent,
                prime1,
                prime2,
                exponent1,
                exponent2,
                coefficient,
            } => vec![
                Attribute::KeyType(KeyType::RSA),
                Attribute::Modulus(modulus.to_vec()),
                Attribute::PublicExponent(public_exponent.to_vec()),
                Attribute::PrivateExponent(private_exponent.to_vec()),
                Attribute::Prime1(prime1.to_vec()),
                Attribute::Prime2(prime2.to_vec()),
                Attribute::Exponent1(exponent1.to_vec()),
                Attribute::Exponent2(exponent2.to_vec()),
                Attribute::Coefficient(coefficient.to_vec()),
            ],
            KeyValues::P256 { scalar, .. } => vec![
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Value(scalar.to_vec()),
            ],
            KeyValues::Ed25519 { seed, .. } => vec![
                Attribute::KeyType(KeyType::EC_EDWARDS),
                Attribute::EcParams(ED25519_PARAMS.to_vec()),
                Attribute::Value(seed.to_vec()),
            ],
        }
    }

    /// The attribute that holds the public key itself, in each encoding a token may
    /// have stored it (EC points DER-wrapped or raw), for finding the key.
    fn public_search(&self) -> Vec<Attribute> {
        match self {
            KeyValues::Rsa { modulus, .. } => vec![Attribute::Modulus(modulus.to_vec())],
            KeyValues::P256 { xy, .. } => {
                let raw = [&[0x04], *xy].concat();
                vec![
                    Attribute::EcPoint(der_octet_string(&raw)),
                    Attribute::EcPoint(raw),
                ]
            }
            KeyValues::Ed25519 { point, .. } => vec![
                Attribute::EcPoint(der_octet_string(point)),
                Attribute::EcPoint(point.to_vec()),
            ],
        }
    }
}

/// `bytes` as a DER OCTET STRING (short or one-byte long form: points are small).
fn der_octet_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if bytes.len() < 0x80 {
        out.push(bytes.len() as u8);
    } else {
        out.extend([0x81, bytes.len() as u8]);
    }
    out.extend_from_slice(bytes);
    out
}

/// Overwrites the secret values in a template once the token has them.
fn wipe(template: &mut [Attribute]) {
    use zeroize::Zeroize;
    for a in template {
        match a {
            Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v)
            | Attribute::Value(v) => v.zeroize(),
            _ => {}
        }
    }
}

impl Token {
    /// Creates the key pair `values` in the token under CKA_ID `id` and `label`.
    ///
    /// The objects get the attributes of generated zone keys
    /// ([`super::token::private_key_template`], [`super::token::public_key_template`]).
    /// An id already in use is refused. If the second object cannot be made, the first
    /// is destroyed: the token is left as it was.
    pub fn create_key_pair(
        &self,
        values: &KeyValues<'_>,
        id: &[u8],
        label: &str,
    ) -> Result<(), HsmError> {
        self.refuse_used_id(id)?;
        let mut private = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        private.extend(private_key_template(id, label));
        private.extend(values.private_attributes());
        let made = self.session().create_object(&private);
        wipe(&mut private);
        let private_handle = made.map_err(ck("C_CreateObject"))?;
        let mut public = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
        public.extend(public_key_template(id, label));
        public.extend(values.public_attributes());
        let made = self.session().create_object(&public);
        made.map(|_| ()).map_err(|e| {
            self.undo(private_handle);
            ck("C_CreateObject")(e)
        })
    }

    /// Destroys an object just created, when the rest of the act failed. A failure here
    /// leaves a lone private key object that no key state names; `check` lists it.
    fn undo(&self, handle: ObjectHandle) {
        let _ = self.session().destroy_object(handle);
    }

    /// The (CKA_ID, CKA_LABEL) of a public key object already in the token with the
    /// public key of `values`, if any: the same key must not go in twice.
    pub fn find_same_public_key(
        &self,
        values: &KeyValues<'_>,
    ) -> Result<Option<(Vec<u8>, String)>, HsmError> {
        for attr in values.public_search() {
            let found = self
                .session()
                .find_objects(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Token(true),
                    attr,
                ])
                .map_err(ck("C_FindObjects"))?;
            if let Some(&h) = found.first() {
                let (mut id, mut label) = (Vec::new(), String::new());
                for a in self.attributes(
                    h,
                    &[
                        cryptoki::object::AttributeType::Id,
                        cryptoki::object::AttributeType::Label,
                    ],
                )? {
                    match a {
                        Attribute::Id(v) => id = v,
                        Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                        _ => {}
                    }
                }
                return Ok(Some((id, label)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::algorithm::Algorithm;
    use crate::hsm::SigningBackend;
    use crate::hsm::test_support::{SO_PIN, USER_PIN, module, pin, tbs, verify};

    /// A P-256 key pair made by OpenSSL: (scalar, X‖Y).
    fn p256_pair() -> (Vec<u8>, Vec<u8>) {
        use openssl::ec::{EcGroup, EcKey, PointConversionForm};
        use openssl::nid::Nid;
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        let point = key
            .public_key()
            .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();
        (
            key.private_key().to_vec_padded(32).unwrap(),
            point[1..].to_vec(),
        )
    }

    /// Keys made outside the token go in with the DPS-5.2 attributes, sign there (the
    /// signatures verify with the public half they came with, checked by other code),
    /// are found again by their public half, and an id in use is refused.
    #[test]
    fn key_pairs_from_outside_go_into_softhsm() {
        let m = module();
        let label = "create-test";
        m.init_token(label, &pin(SO_PIN), &pin(USER_PIN)).unwrap();
        let token = m.open(label, &pin(USER_PIN)).unwrap();
        let (scalar, xy) = p256_pair();
        let seed = [7u8; 32];
        let point = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let cases = [
            (
                Algorithm::EcdsaP256Sha256,
                KeyValues::P256 {
                    scalar: &scalar,
                    xy: &xy,
                },
                xy.clone(),
            ),
            (
                Algorithm::Ed25519,
                KeyValues::Ed25519 {
                    seed: &seed,
                    point: &point,
                },
                point.to_vec(),
            ),
        ];
        for (i, (alg, values, public)) in cases.iter().enumerate() {
            let id = [0xC0, i as u8];
            assert_eq!(token.find_same_public_key(values).unwrap(), None);
            token.create_key_pair(values, &id, "imported").unwrap();
            assert_eq!(&token.public_key(&id, *alg).unwrap(), public);
            let a = token.key_attributes(&id).unwrap();
            assert!(
                a.sensitive && !a.extractable && a.token && a.private,
                "{a:?}"
            );
            // The token says truthfully that the value was known outside it.
            assert!(!a.always_sensitive && !a.never_extractable, "{a:?}");
            let signer = token.signer(&[(id.to_vec(), *alg)]).unwrap();
            let sig = signer.open_session().unwrap().sign(0, &tbs(1)).unwrap();
            verify(*alg, public, &tbs(1), &sig);
            assert_eq!(
                token.find_same_public_key(values).unwrap(),
                Some((id.to_vec(), "imported".to_string()))
            );
            assert!(matches!(
                token.create_key_pair(values, &id, "again"),
                Err(HsmError::KeyExists { .. })
            ));
        }
    }

    #[test]
    fn der_wrapping_and_wiping() {
        assert_eq!(der_octet_string(&[1, 2]), vec![4, 2, 1, 2]);
        assert_eq!(&der_octet_string(&[7; 200])[..3], &[4, 0x81, 200]);
        let mut t = vec![
            Attribute::Value(vec![9; 32]),
            Attribute::Modulus(vec![5; 4]),
        ];
        wipe(&mut t);
        assert!(matches!(&t[0], Attribute::Value(v) if v.is_empty()));
        assert!(matches!(&t[1], Attribute::Modulus(v) if v == &vec![5; 4]));
    }
}
