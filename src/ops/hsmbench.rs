//! `zonesign hsm bench`: the raw signing rate of the configured token (issue 5).
//!
//! It logs in like `sign` does (audit-logged), takes the active ZSK, opens one PKCS#11
//! session per worker thread through the same [`SigningBackend`] seam the signer uses,
//! and signs a fixed 180-byte message (the size of a typical RRset's to-be-signed data)
//! in a loop for a fixed time. The result is the HSM limit every zone sign is measured
//! against: a zone of S signatures cannot be signed faster than S ÷ rate seconds.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audit::{AuditLog, Event, Outcome};
use crate::config::Config;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::{KeyStore, Role};
use crate::error::{Error, KeyError, Result};
use crate::hsm::SigningBackend;
use crate::ops::setup::{login_signing, signing_backend};

/// Size of the message signed in the loop, in bytes.
pub const MESSAGE_LEN: usize = 180;

/// Signatures asked for per call, as the signer batches them (a worker process answers
/// a batch per round trip); small enough to stop close to the requested time.
const BATCH: usize = 32;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Parallel sessions (one thread each); 0 means the config's setting (one per core).
    pub sessions: usize,
    /// How long to sign.
    pub duration: Duration,
}

/// The measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Token label (the labels, comma-separated, with `extra-tokens`).
    pub token: String,
    /// Algorithm of the key used.
    pub algorithm: String,
    /// PKCS#11 mechanism as the signer calls it.
    pub mechanism: String,
    /// Key size in bits.
    pub bits: u32,
    /// Key tag of the ZSK used.
    pub key_tag: u16,
    /// Sessions (threads) that signed in parallel.
    pub sessions: usize,
    /// Size of the signed message, bytes.
    pub message_bytes: usize,
    /// Wall time of the measurement, seconds.
    pub seconds: f64,
    /// Signatures made in all sessions.
    pub signatures: u64,
    /// Signatures per second, all sessions together.
    pub rate: f64,
    /// Signatures per second of each session.
    pub per_session: Vec<f64>,
    /// Sessions that signed with their own session copy of the key
    /// (`[hsm] session-key-copies`); fewer than `sessions` means the token refused.
    pub copying_sessions: usize,
    /// Whether each session ran in its own worker process (`[hsm] worker-processes`).
    pub worker_processes: bool,
}

impl BenchReport {
    /// The report for people.
    pub fn to_text(&self) -> String {
        let per: Vec<String> = self.per_session.iter().map(|r| format!("{r:.0}")).collect();
        format!(
            "token '{}': {} {} bits (ZSK {}), {}, {}-byte message\n\
             {} sessions ({}{} with a session copy of the key), {:.1} s: {} signatures, {:.0} signatures/s total ({:.0}/s per session: {})\n",
            self.token,
            self.algorithm,
            self.bits,
            self.key_tag,
            self.mechanism,
            self.message_bytes,
            self.sessions,
            if self.worker_processes {
                "in worker processes, "
            } else {
                "in threads, "
            },
            self.copying_sessions,
            self.seconds,
            self.signatures,
            self.rate,
            self.rate / self.sessions.max(1) as f64,
            per.join(", "),
        )
    }
}

/// The PKCS#11 mechanism the signer uses for `alg` (see `hsm::session::Pkcs11Session`).
pub fn mechanism_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RsaSha1 => "CKM_SHA1_RSA_PKCS",
        Algorithm::RsaSha256 => "CKM_SHA256_RSA_PKCS",
        Algorithm::EcdsaP256Sha256 => "CKM_ECDSA over a host SHA-256",
        Algorithm::Ed25519 => "CKM_EDDSA",
    }
}

/// Measures the token's signing rate with the active ZSK; see the module docs.
pub fn run(cfg: &Config, opts: &BenchOptions) -> Result<BenchReport> {
    let store = KeyStore::load(&cfg.files.keys)?;
    let zsk = store.active(Role::Zsk).next().cloned().ok_or_else(|| {
        Error::Key(KeyError::NoZskToMeasure {
            keys: cfg.files.keys.clone(),
        })
    })?;
    let sessions = if opts.sessions == 0 {
        cfg.sessions()
    } else {
        opts.sessions
    };
    let audit = AuditLog::new(&cfg.files.audit_log, "hsm bench");
    // With `extra-tokens`, the sessions are spread over every token, as when signing.
    // The guard writes the logout lines, after the `sign` line below.
    let signing = login_signing(cfg, &audit)?;
    let labels = signing.labels().to_vec();
    let key = [(zsk.id_bytes()?, zsk.algorithm)];
    let result = signing_backend(cfg, "hsm bench", &signing, &key)
        .map_err(Into::into)
        .and_then(|backend| measure(&backend, sessions, opts.duration));
    let event = Event::Benchmark {
        keys: vec![zsk.tag],
        result: match &result {
            Ok((n, _, _, _)) => Outcome::Ok(*n),
            Err(e) => Outcome::failed(e),
        },
    };
    signing
        .logout_after(event)
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    let (signatures, seconds, per_session, copying_sessions) = result?;
    Ok(BenchReport {
        token: labels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        algorithm: zsk.algorithm.name().to_string(),
        mechanism: mechanism_name(zsk.algorithm).to_string(),
        bits: zsk.bits,
        key_tag: zsk.tag,
        sessions,
        message_bytes: MESSAGE_LEN,
        seconds,
        signatures,
        rate: signatures as f64 / seconds,
        per_session,
        copying_sessions,
        worker_processes: crate::ops::setup::worker_processes(cfg),
    })
}

/// Signs with key 0 of `backend` on `sessions` threads for `duration`; returns the total
/// count, the wall time and each session's rate.
pub fn measure(
    backend: &dyn SigningBackend,
    sessions: usize,
    duration: Duration,
) -> Result<(u64, f64, Vec<f64>, usize)> {
    let sessions = sessions.max(1);
    let message: Vec<u8> = (0..MESSAGE_LEN).map(|i| (i * 7 + 3) as u8).collect();
    let opened = (0..sessions)
        .map(|_| backend.open_session())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let copying = opened.iter().filter(|s| s.key_copies() > 0).count();
    let barrier = Barrier::new(sessions + 1);
    let (started, results) = std::thread::scope(|s| {
        let handles: Vec<_> = opened
            .into_iter()
            .map(|mut session| {
                let (barrier, message) = (&barrier, &message);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut n = 0u64;
                    let batch = vec![(0usize, &message[..]); BATCH];
                    while start.elapsed() < duration {
                        n += session.sign_batch(&batch)?.len() as u64;
                    }
                    Ok::<_, Error>((n, start.elapsed().as_secs_f64()))
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or(Err(Error::Key(KeyError::SigningThreadPanicked)))
            })
            .collect();
        (started, results)
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut total = 0;
    let mut per_session = Vec::with_capacity(sessions);
    for r in results {
        let (n, secs) = r?;
        total += n;
        per_session.push(n as f64 / secs.max(f64::EPSILON));
    }
    Ok((total, seconds, per_session, copying))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::{HsmError, SigningSession};

    struct Fake;
    struct FakeSession;

    impl SigningBackend for Fake {
        fn open_session(&self) -> std::result::Result<Box<dyn SigningSession>, HsmError> {
            Ok(Box::new(FakeSession))
        }
    }

    impl SigningSession for FakeSession {
        fn sign(&mut self, _key: usize, data: &[u8]) -> std::result::Result<Vec<u8>, HsmError> {
            assert_eq!(data.len(), MESSAGE_LEN);
            std::thread::sleep(Duration::from_millis(1));
            Ok(vec![0; 64])
        }
    }

    #[test]
    fn measures_every_session() {
        let (n, secs, per, copying) = measure(&Fake, 3, Duration::from_millis(100)).unwrap();
        assert_eq!(copying, 0);
        assert_eq!(per.len(), 3);
        assert!(n > 3, "{n}");
        assert!(secs >= 0.1, "{secs}");
        assert!(per.iter().all(|&r| r > 0.0), "{per:?}");
    }

    #[test]
    fn mechanisms_are_named() {
        assert_eq!(mechanism_name(Algorithm::RsaSha1), "CKM_SHA1_RSA_PKCS");
        assert!(mechanism_name(Algorithm::EcdsaP256Sha256).contains("CKM_ECDSA"));
    }
}
