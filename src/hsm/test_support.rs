//! Shared SoftHSM2 fixture for tests across the crate.
//!
//! `SOFTHSM2_CONF` is process-global and SoftHSM reads it once at `C_Initialize`, so
//! every test in the process must use the same module and token directory; tests
//! keep apart by using their own token labels. Also the PINs, test data and the
//! independent signature check the `hsm` tests share.

use std::path::Path;
use std::sync::OnceLock;

use crate::dns::algorithm::Algorithm;
use crate::hsm::{Module, Pin};

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

/// The security officer PIN of the test tokens.
pub(crate) const SO_PIN: &str = "so-secret-1234";
/// The user PIN of the test tokens.
pub(crate) const USER_PIN: &str = "user-secret-5678";

/// A [`Pin`] from test text.
pub(crate) fn pin(s: &str) -> Pin {
    Pin::new(s.to_string())
}

/// Test data: a plausible 180-byte to-be-signed blob that differs per index.
pub(crate) fn tbs(i: u8) -> Vec<u8> {
    (0..180u8)
        .map(|b| b.wrapping_mul(31).wrapping_add(i))
        .collect()
}

/// Checks `sig` over `data` with the DNSKEY key field `dnskey`, using code that shares
/// nothing with zonesign's own verifier (`rsa`, `p256`, `ed25519-dalek`).
pub(crate) fn verify(alg: Algorithm, dnskey: &[u8], data: &[u8], sig: &[u8]) {
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

/// The RSA half of [`verify`]: PKCS#1 v1.5 with the `rsa` crate.
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
