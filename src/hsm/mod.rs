//! The PKCS#11 layer: the only module that talks to the HSM.
//!
//! Private keys never leave the token (SPEC DPS-5.2), so everything zonesign does
//! with them (create them, read their public halves, check their protection
//! attributes, sign) goes through this module. It wraps `cryptoki` so that the rest
//! of the signer sees DNSSEC-shaped values (DNSKEY key fields, RRSIG signature
//! fields) and typed errors instead of raw PKCS#11 return values.
//!
//! Design points, measured against SoftHSM2 2.6.1:
//! * Tokens are found by label every time: slot ids change after `C_InitToken`.
//! * Login state is per application, so worker sessions opened after [`Module::open`]
//!   are already logged in; a `CKR_USER_ALREADY_LOGGED_IN` is treated as success.
//! * One PKCS#11 session per signing thread ([`SigningBackend::open_session`]): sharing
//!   one session behind a lock gives no speed-up.
//! * ECDSA is hashed on the host (`CKM_ECDSA_SHA256` is missing in SoftHSM) and
//!   `CKA_EC_POINT` comes back DER-wrapped.
//!
//! The files, in the order a run meets them (every public item is re-exported here,
//! so callers write `crate::hsm::Token`, never the file):
//!
//! | file | holds |
//! |---|---|
//! | `pin.rs` | [`Pin`]: the PIN in memory, zeroised, never shown |
//! | `module.rs` | [`Module`]: loading, `C_Initialize`, finding a token by label, `init_token`, login |
//! | `token.rs` | [`Token`]: key generation, lookup, attributes, destruction, mechanisms, the signer |
//! | `create.rs` | [`KeyValues`]: a key pair from a file put into the token (`key import --from-file`) |
//! | `encoding.rs` | RSA and EC public keys → DNSKEY key fields |
//! | `session.rs` | [`SigningBackend`], [`SigningSession`], [`Cluster`], [`Pkcs11Signer`]: sessions, key copies, retries |
//! | `error.rs` | [`HsmError`], [`PinTries`], PKCS#11 return values in words |
//! | `worker.rs` | [`worker`]: signing sessions in worker processes |
//! | `recovery.rs` | [`recovery`]: the embedded SoftHSM2 token's recovery copy |
//! | `uri.rs` | [`uri`]: PKCS#11 URIs (RFC 7512) naming a token or a key |
//!
//! The audit bracket around a login (the `login` and `logout` lines) is the command
//! flows' business: [`crate::ops::setup::LoggedIn`].

mod create;
mod encoding;
mod error;
mod module;
mod pin;
pub mod recovery;
mod session;
#[cfg(test)]
pub(crate) mod test_support;
mod token;
pub mod uri;
pub mod worker;

pub use create::KeyValues;
pub use error::{HsmError, PinTries};
pub use module::Module;
pub use pin::Pin;
pub use session::{Cluster, Pkcs11Signer, SESSION_RETRIES, SigningBackend, SigningSession};
pub use token::{DestroyedObjects, ForeignKey, KeyFamily, PrivateKeyAttributes, Token};
