//! zonesign: a DNSSEC zone signer for top-level-domain operators.
//!
//! The tree is the pipeline. Data flows one way, each folder one stage
//! (`ARCHITECTURE.md` has the map, the types passed between stages, and where new
//! work goes):
//!
//! 1. [`dns`]: zone text → records (names, the DNS number registries, RDATA, the
//!    zone-file reader);
//! 2. [`zone`]: records → checks, canonical order and RRsets, the NSEC chain;
//! 3. [`dnssec`]: policy, keys and their lifecycle, signatures (new and reused), and
//!    the verification gate with its own crypto;
//! 4. [`hsm`]: everything that touches the PKCS#11 token (PIN, module, sessions,
//!    signing worker processes, the embedded token's recovery copy);
//! 5. [`store`]: the published text and the snapshot beside it, written atomically;
//! 6. [`ops`]: the command flows (sign, verify, init, check, hsm bench) and the run
//!    report, over the stages above.
//!
//! Beside the pipeline: [`audit`] (every HSM act, hash-chained), [`config`],
//! [`error`] (typed errors and the exit codes), [`parallel`] (the one unsafe helper
//! for filling vectors on all cores) and [`cli`], a thin layer over [`ops`] that
//! `main.rs` calls.

pub mod audit;
pub mod cli;
pub mod config;
pub mod dns;
pub mod dnssec;
pub mod error;
pub mod hsm;
pub mod ops;
pub mod parallel;
pub mod store;
pub mod zone;
