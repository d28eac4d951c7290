//! Stage 3, DNSSEC: the signing policy ([`policy`]: validity jitter, TTLs, serial),
//! the key state and its lifecycle ([`keys`], [`lifecycle`]), BIND key files for
//! `key import --from-file` ([`keyfile`]), RRSIG building
//! ([`rrsig`]), signing through the HSM's sessions ([`sign`]), reuse of the previous
//! output's signatures in the cron cycle ([`resign`]), and the verification gate
//! ([`verify`]) with its own software crypto ([`crypto`]), which never asks the token.

pub mod crypto;
pub mod keyfile;
pub mod keys;
pub mod lifecycle;
pub mod policy;
pub mod resign;
pub mod rrsig;
pub mod sign;
pub mod verify;
