//! Signing: one RRSIG per signed RRset and active key, made in the HSM (DPS-5.2, 6.3).
//!
//! The RRsets to sign and the key for each follow DPS-6.1 (KSK: DNSKEY only; ZSK:
//! everything else) and RFC 4035 §2.2 (no signatures on delegation NS, glue or occluded
//! data). Validity times are drawn first, in one thread, from the (optionally seeded)
//! random generator, so `--seed` gives the same times however the work is split. Then a
//! pool of workers, each with its own PKCS#11 session (a session serialises its calls:
//! sessions run in parallel, one does not), builds the signed data and asks the token
//! for signatures.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sha2::Digest as _;

use crate::dns::algorithm::Algorithm;
use crate::dnssec::crypto::VerifyingKey;
use crate::dnssec::keys::Role;
use crate::dnssec::policy::Policy;
use crate::dnssec::rrsig;
use crate::hsm::{HsmError, SigningBackend, SigningSession};
use crate::zone::{Provenance, Sig, Zone, is_signed};

/// How a signing run is done.
#[derive(Debug, Clone)]
pub struct SignParams<'a> {
    /// Worker threads, each with its own PKCS#11 session.
    pub sessions: usize,
    /// Validity and TTL rules.
    pub policy: &'a Policy,
    /// Signing time, seconds since the epoch.
    pub now: i64,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// A progress bar with rate and ETA, for long runs on a terminal (stderr).
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "signing {bar:40} {pos}/{len} signatures, {per_sec}, ETA {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// A key that signs in this run.
#[derive(Debug, Clone)]
pub struct SignKey {
    /// Index of the key in the backend's key list.
    pub backend_index: usize,
    /// Key tag of its DNSKEY.
    pub tag: u16,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// KSK or ZSK: decides what it signs (DPS-6.1).
    pub role: Role,
    /// Its public key: when given, each signature is verified by the software verifier
    /// as soon as the token returns it, and marked [`Provenance::CheckedOnArrival`], so the gate's
    /// whole-zone pass (DPS-6.6) need not verify it a second time. A token that returns
    /// a bad signature stops the run at once. The check runs on the rayon pool while
    /// the sessions keep the token busy: for ECDSA, verification costs more CPU than
    /// signing, so it must use every core, not wait for one.
    pub verifier: Option<VerifyingKey>,
}

/// What a signing run did, for the summary and the audit log.
#[derive(Debug, Clone, Default)]
pub struct SignStats {
    /// RRsets signed.
    pub rrsets: usize,
    /// Signatures made.
    pub signatures: usize,
    /// Signatures per key tag.
    pub per_key: Vec<(u16, usize)>,
    /// Signatures per token label, when the sessions were spread over several tokens
    /// (`extra-tokens`); empty with one token.
    pub per_token: Vec<(String, usize)>,
    /// Keys copied into session objects for this run, one per key and session
    /// (`[hsm] session-key-copies`): an act on the HSM, so the audit log shows it.
    pub session_key_copies: usize,
}

/// One signature to make: which RRset, which key, and its validity times.
///
/// The RRSIG prefix is not kept here but written again where it is needed (for the
/// token, for the check, for the finished RRSIG): a planned signature is 24 octets, so a
/// full sign of a million delegations plans 1.5 million of them in 36 MB, where a prefix
/// buffer each took 430 MB (issue #5's memory target).
struct Job {
    rrset: usize,
    /// Index into the run's key list.
    key: usize,
    inception: u32,
    expiration: u32,
}

impl Job {
    /// Appends this job's RRSIG RDATA without the signature to `out`.
    fn write_prefix(&self, zone: &Zone, keys: &[SignKey], out: &mut Vec<u8>) {
        let set = &zone.rrsets[self.rrset];
        let key = &keys[self.key];
        rrsig::write_prefix(
            out,
            set.rtype,
            key.algorithm.number(),
            set.owner.rrsig_labels(),
            set.ttl,
            self.expiration,
            self.inception,
            key.tag,
            &zone.origin,
        );
    }

    /// Writes the data the token signs for this job into `data` (cleared first).
    fn signed_data(&self, zone: &Zone, keys: &[SignKey], prefix: &mut Vec<u8>, data: &mut Vec<u8>) {
        let set = &zone.rrsets[self.rrset];
        prefix.clear();
        self.write_prefix(zone, keys, prefix);
        data.clear();
        rrsig::signed_data(prefix, set.owner.rrsig_labels(), set.ttl, set, data);
    }
}

/// Work is handed out in chunks so workers rarely touch the shared counter.
const CHUNK: usize = 256;

/// Signs every RRset of `zone` that must be signed and lacks a signature by one of the
/// run's keys of the right role. Signatures already attached (reused from the previous
/// output by [`crate::dnssec::resign`]) are kept; signatures by other keys are removed.
pub fn sign_zone(
    zone: &mut Zone,
    keys: &[SignKey],
    backend: &dyn SigningBackend,
    params: &SignParams,
    rng: &mut impl rand::Rng,
) -> Result<SignStats, HsmError> {
    let (policy, now) = (params.policy, params.now);
    let sessions = params.sessions;
    let jobs = plan(zone, keys, policy, now, rng);
    let tabled = with_tables(keys, &jobs);
    let keys = &tabled[..];
    let progress = params.progress.then(|| progress_bar(jobs.len() as u64));
    let copies = AtomicUsize::new(0);
    let sigs = run_pool(
        zone,
        &jobs,
        keys,
        (backend, &copies),
        sessions.max(1),
        progress.as_ref(),
    );
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let sigs = sigs?;
    let mut stats = SignStats {
        session_key_copies: copies.into_inner(),
        ..SignStats::default()
    };
    let mut per_key = vec![0usize; keys.len()];
    let mut last_set = usize::MAX;
    let mut prefix = Vec::with_capacity(256);
    let mut pending = jobs.iter();
    // Chunk by chunk, each freed once its signatures are in their RRSIGs: holding all
    // chunks to the end made both live at once (at 1M delegations with RSA-1024, some
    // 190 MB of chunks on top of the RRSIGs, at the peak of the whole run).
    for chunk in sigs.chunks {
        for (n, job) in (0..chunk.len()).zip(pending.by_ref()) {
            let sig = chunk.get(n);
            prefix.clear();
            job.write_prefix(zone, keys, &mut prefix);
            let mut rdata = Vec::with_capacity(prefix.len() + sig.len());
            rdata.extend_from_slice(&prefix);
            rdata.extend_from_slice(sig);
            let set = &mut zone.rrsets[job.rrset];
            set.sigs.push(Sig {
                ttl: set.ttl,
                rdata: rdata.into_boxed_slice(),
                provenance: if keys[job.key].verifier.is_some() {
                    Provenance::CheckedOnArrival
                } else {
                    Provenance::Unchecked
                },
            });
            per_key[job.key] += 1;
            stats.signatures += 1;
            if job.rrset != last_set {
                stats.rrsets += 1;
                last_set = job.rrset;
            }
        }
    }
    stats.per_key = keys.iter().zip(per_key).map(|(k, n)| (k.tag, n)).collect();
    Ok(stats)
}

/// Signatures of one key from which its P-256 table pays: building it takes about
/// 50 ms, and it saves 60-80 µs per check.
const TABLE_WORTH: usize = 2000;

/// The keys, with a P-256 table for the verifier of each key that makes at least
/// [`TABLE_WORTH`] of the new signatures (in practice the ZSK of a full sign or a
/// big renewal wave), so that small runs do not pay for tables.
fn with_tables(keys: &[SignKey], jobs: &[Job]) -> Vec<SignKey> {
    let mut count = vec![0usize; keys.len()];
    for job in jobs {
        count[job.key] += 1;
    }
    keys.iter()
        .zip(count)
        .map(|(k, n)| {
            let mut k = k.clone();
            if n >= TABLE_WORTH {
                k.verifier = k.verifier.map(VerifyingKey::with_table);
            }
            k
        })
        .collect()
}

/// Lists the signatures to make, with their validity times (DPS-6.5).
fn plan(
    zone: &Zone,
    keys: &[SignKey],
    policy: &Policy,
    now: i64,
    rng: &mut impl rand::Rng,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for group in zone.names() {
        for i in group.range.clone() {
            let set = &zone.rrsets[i];
            if !is_signed(group.kind, set.rtype) {
                continue;
            }
            let role = Role::signing(set.rtype);
            let have = |key: &SignKey| {
                set.sigs.iter().any(|s| {
                    rrsig::Rrsig::parse(&s.rdata).is_some_and(|r| {
                        r.key_tag == key.tag && r.algorithm == key.algorithm.number()
                    })
                })
            };
            for (k, _) in keys
                .iter()
                .enumerate()
                .filter(|(_, k)| k.role == role && !have(k))
            {
                let (inception, expiration) = policy.draw_times(now, rng);
                jobs.push(Job {
                    rrset: i,
                    key: k,
                    inception,
                    expiration,
                });
            }
        }
    }
    jobs
}

/// Signs all jobs on `sessions` worker threads; the chunks come back in job order.
///
/// The workers hand each finished chunk to the calling thread, which has the rayon pool
/// verify it (see [`SignKey::verifier`]) while the sessions go on signing: the token is
/// never idle waiting for a check, and the check is never one thread's queue.
fn run_pool(
    zone: &Zone,
    jobs: &[Job],
    keys: &[SignKey],
    (backend, copies): (&dyn SigningBackend, &AtomicUsize),
    sessions: usize,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Signatures, HsmError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = sessions.min(jobs.len().div_ceil(CHUNK)).max(1);
    let ready = std::sync::Barrier::new(workers);
    let mut chunks: Vec<Option<Chunk>> = (0..jobs.len().div_ceil(CHUNK)).map(|_| None).collect();
    let mut bad = None;
    let results: Vec<Result<(), HsmError>> = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4 * workers);
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let shared = (&next, &failed, &ready);
                s.spawn(move || worker(zone, jobs, keys, (backend, copies), shared, &tx, progress))
            })
            .collect();
        drop(tx);
        for chunk in rx {
            if bad.is_none() {
                bad = check_chunk(zone, jobs, keys, &chunk);
                if bad.is_some() {
                    failed.store(true, Ordering::Relaxed);
                }
            }
            let slot = chunk.start / CHUNK;
            chunks[slot] = Some(chunk);
        }
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(HsmError::Pkcs11 {
                        op: "sign",
                        reason: "a signing thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    for r in results {
        r?;
    }
    if let Some(e) = bad {
        return Err(e);
    }
    let chunks = chunks.into_iter().collect::<Option<Vec<Chunk>>>();
    chunks
        .map(|chunks| Signatures { chunks })
        .ok_or(HsmError::Pkcs11 {
            op: "sign",
            reason: "a signing thread stopped before its work was done".into(),
        })
}

/// Verifies a chunk of new signatures on all cores; the first failure, if any.
///
/// P-256 verification costs more CPU than SoftHSM's signing: on one thread it was the
/// bottleneck of the whole signing stage (measured: 23% of a cron cycle's CPU on the
/// calling thread while both sessions waited on the channel).
fn check_chunk(zone: &Zone, jobs: &[Job], keys: &[SignKey], chunk: &Chunk) -> Option<HsmError> {
    use rayon::prelude::*;
    (0..chunk.len())
        .collect::<Vec<_>>()
        .par_chunks(CHECK_BATCH)
        .find_map_any(|batch| {
            BUFFERS.with_borrow_mut(|(prefix, data)| {
                check_batch(zone, jobs, keys, chunk, batch, prefix, data).err()
            })
        })
}

/// Signatures checked together: P-256 keys with a table share one inversion per batch
/// ([`crate::dnssec::crypto::libcrypto::ecdsa_table`]), and a chunk still spreads over every core.
const CHECK_BATCH: usize = 32;

/// Checks the signatures `batch` (indexes into `chunk`): those of keys with a P-256
/// table in one batch per key, the others one by one.
fn check_batch(
    zone: &Zone,
    jobs: &[Job],
    keys: &[SignKey],
    chunk: &Chunk,
    batch: &[usize],
    prefix: &mut Vec<u8>,
    data: &mut Vec<u8>,
) -> Result<(), HsmError> {
    let mut tabled: Vec<(usize, [u8; 32], &[u8])> = Vec::new();
    for &n in batch {
        let job = &jobs[chunk.start + n];
        let key = &keys[job.key];
        match key.verifier.as_ref().and_then(|v| v.p256_table()) {
            Some(_) => {
                job.signed_data(zone, keys, prefix, data);
                tabled.push((
                    job.key,
                    sha2::Sha256::digest(&data[..]).into(),
                    chunk.get(n),
                ));
            }
            None => check_signature(zone, job, keys, chunk.get(n), prefix, data)?,
        }
    }
    for (k, key) in keys.iter().enumerate() {
        let Some(table) = key.verifier.as_ref().and_then(|v| v.p256_table()) else {
            continue;
        };
        let items: Vec<([u8; 32], &[u8])> = tabled
            .iter()
            .filter(|(kk, _, _)| *kk == k)
            .map(|&(_, d, sig)| (d, sig))
            .collect();
        if !items.is_empty() && table.verify_batch(&items).contains(&false) {
            return Err(HsmError::SignatureDoesNotVerify { tag: key.tag });
        }
    }
    Ok(())
}

thread_local! {
    /// The prefix and to-be-signed buffers of each verifying thread, reused across chunks.
    static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        std::cell::RefCell::new((Vec::with_capacity(256), Vec::with_capacity(4096)));
}

/// Verifies one new signature with its key's public key, when the key has a verifier.
fn check_signature(
    zone: &Zone,
    job: &Job,
    keys: &[SignKey],
    sig: &[u8],
    prefix: &mut Vec<u8>,
    data: &mut Vec<u8>,
) -> Result<(), HsmError> {
    let key = &keys[job.key];
    let Some(v) = &key.verifier else {
        return Ok(());
    };
    job.signed_data(zone, keys, prefix, data);
    v.verify(data, sig)
        .map_err(|_| HsmError::SignatureDoesNotVerify { tag: key.tag })
}

/// The finished signatures of one chunk of consecutive jobs, in one buffer.
///
/// Why not a `Vec<u8>` per signature: at a million delegations that was 1.5 million
/// allocations of 80 octets held to the end of the signing stage (about 150 MB); one
/// buffer per chunk holds the signatures back to back.
struct Chunk {
    /// Index of the chunk's first job.
    start: usize,
    /// The signatures, back to back.
    bytes: Vec<u8>,
    /// End offset in `bytes` of each signature.
    ends: Vec<u32>,
}

impl Chunk {
    fn new(start: usize) -> Chunk {
        Chunk {
            start,
            bytes: Vec::new(),
            ends: Vec::with_capacity(CHUNK),
        }
    }

    fn push(&mut self, sig: &[u8]) {
        self.bytes.extend_from_slice(sig);
        // A chunk holds at most CHUNK signatures of at most 64 KiB each.
        self.ends.push(self.bytes.len() as u32);
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `n`-th signature of the chunk.
    fn get(&self, n: usize) -> &[u8] {
        let start = n.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
        &self.bytes[start..self.ends[n] as usize]
    }
}

/// All signatures of a run, chunk after chunk in job order.
struct Signatures {
    chunks: Vec<Chunk>,
}

#[allow(clippy::too_many_arguments)]
fn worker(
    zone: &Zone,
    jobs: &[Job],
    keys: &[SignKey],
    (backend, copies): (&dyn SigningBackend, &AtomicUsize),
    (next, failed, ready): (&AtomicUsize, &AtomicBool, &std::sync::Barrier),
    done: &std::sync::mpsc::SyncSender<Chunk>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(), HsmError> {
    let opened = backend.open_session();
    if opened.is_err() {
        failed.store(true, Ordering::Relaxed);
    }
    // Every session is open (a worker process logged in) before any signs, so that
    // the first chunks do not all go to whichever session happened to start first.
    ready.wait();
    let mut session: Box<dyn SigningSession> = opened?;
    copies.fetch_add(session.key_copies(), Ordering::Relaxed);
    let mut prefix = Vec::with_capacity(256);
    let mut data = Vec::with_capacity(4096);
    let mut all = Vec::with_capacity(CHUNK * 256);
    let mut spans = Vec::with_capacity(CHUNK);
    while !failed.load(Ordering::Relaxed) {
        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= jobs.len() {
            break;
        }
        let mut out = Chunk::new(start);
        // The chunk's to-be-signed data back to back, signed in one batch.
        all.clear();
        spans.clear();
        for job in jobs.iter().skip(start).take(CHUNK) {
            job.signed_data(zone, keys, &mut prefix, &mut data);
            spans.push((
                keys[job.key].backend_index,
                all.len()..all.len() + data.len(),
            ));
            all.extend_from_slice(&data);
        }
        let items: Vec<(usize, &[u8])> = spans.iter().map(|(k, r)| (*k, &all[r.clone()])).collect();
        match session.sign_batch(&items) {
            Ok(sigs) => sigs.iter().for_each(|sig| out.push(sig)),
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        let n = out.len();
        if done.send(out).is_err() {
            break;
        }
        if let Some(pb) = progress {
            pb.inc(n as u64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::SeedableRng;

    use super::*;
    use crate::dns::name::Name;
    use crate::dnssec::verify::{Anchor, VerifyOptions, verify_zone};
    use crate::hsm::test_support::module;
    use crate::hsm::{Pin, SigningBackend, SigningSession};

    /// The real token's signatures, with the `bad`-th one altered on its way back.
    struct Tamper<'a> {
        inner: &'a dyn SigningBackend,
        bad: usize,
        count: Arc<AtomicUsize>,
    }

    struct TamperSession {
        inner: Box<dyn SigningSession>,
        bad: usize,
        count: Arc<AtomicUsize>,
    }

    impl SigningBackend for Tamper<'_> {
        fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
            Ok(Box::new(TamperSession {
                inner: self.inner.open_session()?,
                bad: self.bad,
                count: Arc::clone(&self.count),
            }))
        }
    }

    impl SigningSession for TamperSession {
        fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
            let mut sig = self.inner.sign(key, data)?;
            if self.count.fetch_add(1, Ordering::Relaxed) == self.bad {
                sig[10] ^= 1;
            }
            Ok(sig)
        }
    }

    /// DPS-6.6: every signature the token returns is verified as it arrives (and
    /// marked so the gate need not repeat it); the whole zone then verifies from the
    /// key. A token that returns one bad signature among hundreds stops the run with
    /// an error naming the key, before anything could be published.
    #[test]
    fn signatures_are_verified_as_the_token_returns_them() {
        let m = module();
        let label = "sign-verify-test";
        let user = Pin::new("user-pin-4321".into());
        m.init_token(label, &Pin::new("so-pin-4321".into()), &user)
            .expect("init token");
        let token = m.open(label, &user).expect("open");
        let alg = Algorithm::EcdsaP256Sha256;
        let id = vec![0x5a, 1];
        let public = token.generate_key(alg, 256, &id, "sign-test").unwrap();
        let dnskey = crate::dnssec::keys::dnskey_rdata(257, alg, &public);
        let tag = crate::dnssec::crypto::key_tag(&dnskey);
        let signer = token.signer(&[(id, alg)]).unwrap();
        let origin = Name::parse(b"example.", None).unwrap();
        let mut text =
            String::from("$TTL 300\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n");
        for i in 0..400 {
            text.push_str(&format!(
                "d{i} NS ns1.example.net.\nd{i} DS 1 13 2 {:064X}\n",
                i
            ));
        }
        let path = std::path::Path::new("sign-test.zone");
        let parsed = crate::dns::zonefile::parse_bytes(text.as_bytes(), path, &origin).unwrap();
        let mut zone = Zone::from_records(origin.clone(), parsed.records).0;
        zone.upsert(crate::zone::RRset {
            owner: origin.clone(),
            rtype: crate::dns::record::rtype::DNSKEY,
            ttl: 300,
            rdatas: crate::zone::Rdatas::one(&dnskey),
            sigs: Vec::new(),
            loc: Default::default(),
        });
        crate::zone::nsec::add_chain(&mut zone, 300);
        // One key in both roles (a combined signing key) is enough here.
        let keys: Vec<SignKey> = [Role::Ksk, Role::Zsk]
            .into_iter()
            .map(|role| SignKey {
                backend_index: 0,
                tag,
                algorithm: alg,
                role,
                verifier: Some(VerifyingKey::from_dnskey_rdata(&dnskey).unwrap()),
            })
            .collect();
        let policy = Policy::default();
        let now = 1_800_000_000;
        let params = SignParams {
            sessions: 2,
            policy: &policy,
            now,
            progress: false,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);

        let mut good = zone.clone();
        let stats = sign_zone(&mut good, &keys, &signer, &params, &mut rng).unwrap();
        assert!(stats.signatures > 800, "{}", stats.signatures);
        assert!(
            good.rrsets
                .iter()
                .flat_map(|s| &s.sigs)
                .all(|s| s.provenance == Provenance::CheckedOnArrival)
        );
        let anchors = [Anchor::Dnskey(dnskey.clone().into_boxed_slice())];
        let report = verify_zone(&good, &anchors, &VerifyOptions::at(now, None));
        assert!(report.valid, "{}", report.to_text());
        assert_eq!(
            report.stats.signatures, stats.signatures,
            "all checked again"
        );

        let tamper = Tamper {
            inner: &signer,
            bad: 500,
            count: Arc::new(AtomicUsize::new(0)),
        };
        let err = sign_zone(&mut zone, &keys, &tamper, &params, &mut rng).unwrap_err();
        assert!(
            matches!(err, HsmError::SignatureDoesNotVerify { tag: t } if t == tag),
            "{err}"
        );
    }
}
