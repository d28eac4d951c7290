//! The only code that calls libcrypto (OpenSSL 3) through raw FFI, and so the only
//! `unsafe` of the verification crypto.
//!
//! Why raw calls at all: the gate checks every signature of a zone, 1.5 million of the
//! same ZSK at 1M delegations, and the costs that matter are per key, not per
//! signature. libcrypto has the arithmetic to set a key up once (a Montgomery context
//! for an RSA modulus, a precomputed table for a P-256 public key), but neither the
//! `openssl` crate nor openssl-sys 0.9 exposes those functions, so they are declared
//! here, in the two modules that use them, and wrapped in safe types (`RsaKey`,
//! `P256Table`) whose tests hold them to ring and to libcrypto's own high-level calls.
//! libcrypto 3 is the library SoftHSM2 loads anyway. Every `unsafe` block below says
//! why it is sound (the crate denies undocumented ones).

pub mod ecdsa_table;
pub mod rsa_verify;
