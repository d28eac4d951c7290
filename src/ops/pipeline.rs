//! The commands' flows: sign (zone text → records → signed zone → verified → written)
//! and verify (signed zone text → verified report).
//!
//! Each stage lives in its own module; this one only runs them in order and keeps the
//! promises that span stages: nothing is written unless the verification gate passed
//! on the very bytes that are about to be published (DPS-6.6), the HSM session is
//! closed and logged out as soon as signing ends (DPS-5.2), and every HSM act is in the
//! audit log (DPS-4.4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::SeedableRng;

use crate::audit::{AuditLog, ContentDigests, Event, Outcome, SignCounts};
use crate::config::Config;
use crate::dns::name::Name;
use crate::dns::record::rtype;
use crate::dns::zonefile;
use crate::dnssec::crypto::VerifyingKey;
use crate::dnssec::keys::{KeyEntry, KeyStore, Role, ds_for};
use crate::dnssec::policy::{Policy, SerialPolicy, serial_gt};
use crate::dnssec::resign::{
    ActiveKey, Previous, ReusePlan, attach, fresh_plan, invalidate, load_previous, set_serial,
    soa_serial,
};
use crate::dnssec::sign::{SignKey, SignParams, SignStats, sign_zone};
use crate::dnssec::verify::{
    Anchor, ExpectedSigners, Report, Rules, TtlRules, VerifyOptions, Windowed, soa_minimum,
    verify_zone,
};
use crate::error::{Error, KeyError, Result, UsageError};
use crate::ops::denial;
use crate::ops::ingress::{InputOutcome, Settings, admit, egress_checks};
use crate::store::output::{
    OutputLock, TextCopy, remove_stale_temps, write_hashes, write_snapshot,
};
use crate::store::snapshot::snapshot_path;
use crate::zone::checks::{self, Findings};
use crate::zone::stream::{OutOfOrder, Parts};
use crate::zone::{RRset, Zone};

/// What `zonesign sign` was asked to do.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The unsigned (or previously signed) zone file.
    pub zone_file: PathBuf,
    /// The zone's origin.
    pub origin: Name,
    /// Where the signed zone goes.
    pub out: PathBuf,
    /// The previous signed zone whose signatures may be reused; default: `out`.
    pub previous: Option<PathBuf>,
    /// The parent's DS (or DNSKEY) records; the configured KSKs' DS when absent.
    pub ds_anchor: Option<PathBuf>,
    /// Signing time, seconds since the epoch (UTC).
    pub now: i64,
    /// Seed for the validity jitter, for reproducible runs.
    pub seed: Option<u64>,
    /// Number of PKCS#11 sessions, overriding the config.
    pub sessions: Option<usize>,
    /// Check every signature cryptographically, even reused ones from a proven file.
    pub full_verify: bool,
    /// Read and compare only: no key is touched, nothing is written.
    pub dry_run: bool,
    /// Refuse what is otherwise a warning because registries carry it although BIND
    /// refuses it: an in-zone name server without an address record (issue 21).
    pub strict: bool,
    /// Sign this input although it exceeds the `[ingress]` change limits (audited as
    /// `changes-accepted`); syntax, checks and check programs still apply.
    pub accept_changes: bool,
    /// Show a progress bar while signing (on a terminal, never in cron or with `--quiet`).
    pub progress: bool,
}

/// What a signing run did (or, for a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct SignSummary {
    /// SOA serial of the signed zone.
    pub serial: u32,
    /// Nothing changed and no signature was due: the output was left as it was.
    pub unchanged: bool,
    /// This was a dry run.
    pub dry_run: bool,
    /// RRsets in the signed zone.
    pub rrsets: usize,
    /// NSEC records in the chain.
    pub nsec: usize,
    /// Denial of existence used: `nsec` or `nsec3` (issue 24).
    pub denial: &'static str,
    /// NSEC3 records in the chain.
    pub nsec3: usize,
    /// Signatures over NSEC3 RRsets carried over from the previous output.
    pub nsec3_signatures_reused: usize,
    /// Signatures made (or, in a dry run, that would be made).
    pub signatures_made: usize,
    /// Signatures carried over from the previous output.
    pub signatures_reused: usize,
    /// Signatures made per reason (`changed`, `expiring`, `key`, `untrusted`).
    pub reasons: BTreeMap<&'static str, usize>,
    /// The first RRsets re-signed, with the reason: (owner, type, reason).
    pub details: Vec<(String, String, &'static str)>,
    /// Owner names added since the previous output.
    pub names_added: usize,
    /// Owner names removed since the previous output.
    pub names_removed: usize,
    /// Signatures made per key tag.
    pub per_key: Vec<(u16, usize)>,
    /// The earliest signature expiration in the output, seconds since the epoch.
    pub earliest_expiration: Option<i64>,
    /// Signatures whose cryptographic check the gate skipped as proven.
    pub signatures_trusted: usize,
    /// Temporary files of killed runs removed at the start.
    pub stale_temps_removed: usize,
    /// Warnings about the input or the previous output.
    pub warnings: Vec<String>,
    /// NS records whose in-zone target has no A or AAAA record (each also a warning).
    pub ns_without_address: usize,
    /// What became of the new input (PIPE-1): accepted, or rejected and the approved
    /// zone signed instead.
    pub input: InputOutcome,
    /// The proof of unchanged data (PIPE-4): the content digests of the admitted input
    /// and of the signed zone, when the run got that far.
    pub content: Option<ContentDigests>,
    /// Wall time.
    pub elapsed: Duration,
    /// Wall time of each stage, in order (`--stats`, and the JSON report).
    pub stages: Vec<(&'static str, f64)>,
}

/// Measures the wall time of consecutive stages.
struct Stopwatch {
    last: Instant,
}

impl Stopwatch {
    fn new() -> Stopwatch {
        Stopwatch {
            last: Instant::now(),
        }
    }

    /// Records the time since the previous lap under `stage`.
    fn lap(&mut self, summary: &mut SignSummary, stage: &'static str) {
        self.lap_into(&mut summary.stages, stage);
    }

    /// As [`Stopwatch::lap`], into any list of stage times (`zonesign verify --stats`).
    fn lap_into(&mut self, stages: &mut Vec<(&'static str, f64)>, stage: &'static str) {
        let now = Instant::now();
        stages.push((stage, (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

/// Runs `zonesign sign`: a full sign, or the cron cycle when a previous output exists.
pub fn sign(cfg: &Config, req: &SignRequest) -> Result<SignSummary> {
    let started = Instant::now();
    let _lock = if req.dry_run {
        None
    } else {
        Some(OutputLock::acquire(&req.out)?)
    };
    let mut summary = SignSummary {
        dry_run: req.dry_run,
        ..SignSummary::default()
    };
    if !req.dry_run {
        summary.stale_temps_removed = remove_stale_temps(&req.out);
    }
    let mut sw = Stopwatch::new();
    let policy = cfg.policy()?;
    denial::refuse_before_work(&policy, &cfg.files.keys)?;
    let settings = Settings::load(cfg, &policy)?;
    // The previous output is read while the zone is parsed: both are hundreds of
    // megabytes at TLD size and each leaves a core idle in its serial parts. It needs
    // nothing from the new zone, and a run that fails on the input just drops it.
    let prev_path = req.previous.clone().unwrap_or_else(|| req.out.clone());
    let prev_loader = {
        let (path, origin) = (prev_path.clone(), req.origin.clone());
        std::thread::Builder::new()
            .name("previous-output".into())
            .spawn(move || {
                let t = Instant::now();
                (load_previous(&path, &origin), t.elapsed().as_secs_f64())
            })
            .map_err(|e| Error::io(&prev_path, e))?
    };
    let admitted = admit(cfg, req, &policy, &settings)?;
    let (mut zone, checked, mut candidate) = (admitted.zone, admitted.checked, admitted.candidate);
    summary.warnings = checked.warnings;
    summary.ns_without_address = checked.ns_without_address;
    summary.input = admitted.input;
    sw.lap(
        &mut summary,
        "read, parse, checks, canonical sort and ingress",
    );
    let mut ds_ttl_changed = 0usize;
    for set in zone.rrsets.iter_mut().filter(|s| s.rtype == rtype::DS) {
        ds_ttl_changed += usize::from(set.ttl != policy.ds_ttl);
        set.ttl = policy.ds_ttl; // DPS-6.7
    }
    if ds_ttl_changed > 0 {
        // The policy's one change to non-DNSSEC data, before the PIPE-4 proof starts.
        summary.warnings.push(format!(
            "{ds_ttl_changed} DS RRset(s) got the policy's ds-ttl {} (DPS-6.7)",
            policy.ds_ttl
        ));
    }
    let input_content = admitted_content(&mut zone);
    let input_serial = zone
        .soa()
        .and_then(|s| soa_serial(&s.rdatas[0]))
        .unwrap_or(0);
    // Key commands take the same lock: a `key compromised` during a run must not be
    // overwritten by the run's save of the key state.
    let _keys_lock = (!req.dry_run)
        .then(|| OutputLock::acquire(&cfg.files.keys))
        .transpose()?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let file_anchors = req
        .ds_anchor
        .as_ref()
        .map(|p| read_anchors(p, &req.origin))
        .transpose()?;
    // The key lifecycle moves first, in memory; it is saved only with the zone. The
    // parent's DS in the anchor file ends a KSK roll (PIPE-6).
    let mut key_changes = crate::dnssec::lifecycle::advance(&mut store, &policy, req.now);
    if let Some(anchors) = &file_anchors {
        key_changes.extend(crate::dnssec::lifecycle::ds_seen_in_anchor(
            &mut store,
            &policy,
            &req.origin,
            anchors,
            req.now,
        ));
    }
    // RFC 9905: every run that signs with an RSASHA1 key says so (stderr, report, one
    // audit line).
    let audit = AuditLog::new(&cfg.files.audit_log, "sign");
    let deprecated = crate::ops::keys::rfc9905_warnings(&audit, store.published(), req.dry_run)?;
    summary.warnings.extend(deprecated);
    summary
        .warnings
        .extend(policy_algorithm_warning(&store, &policy));
    denial::refuse_nsec3_with_rsasha1(&policy, &store)?;
    summary.warnings.extend(policy.nsec3_warnings());
    let (ksks, zsks) = signing_keys(cfg, &store)?;
    let (loaded, load_time) = prev_loader.join().unwrap_or_else(|_| {
        (
            Err(format!(
                "{}: reading the previous output failed; no signature is reused",
                prev_path.display()
            )),
            0.0,
        )
    });
    let mut prev = loaded.unwrap_or_else(|w| {
        summary.warnings.push(w);
        None
    });
    sw.lap(&mut summary, "read the previous output (after the zone)");
    summary
        .stages
        .push(("read the previous output (beside the zone)", load_time));
    // Without an anchor file, the DS set the parent can have: the KSKs whose DNSKEY is
    // published (in an algorithm roll the new KSK signs before it is).
    let anchors = match file_anchors {
        Some(anchors) => anchors,
        None => ksks
            .iter()
            .filter(|k| {
                store
                    .algorithm_roll
                    .as_ref()
                    .is_none_or(|r| r.publishes(k.algorithm))
            })
            .map(|k| {
                Ok(Anchor::Ds(
                    ds_for(&req.origin, &k.dnskey_rdata()?, 2)?.into(),
                ))
            })
            .collect::<Result<_>>()?,
    };
    let published: Vec<KeyEntry> = store.published().cloned().collect();
    zone.upsert(dnskey_rrset(&zone.origin, &published, policy.dnskey_ttl)?);
    add_zonemd_placeholder(&mut zone, prev.as_ref(), &policy);
    let nsec_ttl = nsec_ttl(&zone, &policy);
    let origin_text = req.origin.to_string();
    let (nsec3, salt_event) =
        denial::nsec3_params(&policy, &mut store, &origin_text, req.now, req.seed);
    denial::add_denial(&mut zone, nsec3.as_ref(), nsec_ttl)?;
    summary.denial = policy.denial.name();
    sw.lap(&mut summary, "DNSKEY and NSEC chain");
    let signing: Vec<KeyEntry> = ksks.iter().chain(&zsks).cloned().collect();
    let active = active_keys(&signing)?;
    let plan = plan_reuse(
        &mut zone,
        prev.as_mut(),
        &active,
        &policy,
        input_serial,
        req.now,
        summary.input.rejected(),
    );
    summary.serial = zone
        .soa()
        .and_then(|s| soa_serial(&s.rdatas[0]))
        .unwrap_or(0);
    summary.rrsets = zone.rrsets.len();
    summary.nsec = zone
        .rrsets
        .iter()
        .filter(|s| s.rtype == rtype::NSEC)
        .count();
    count_nsec3(&zone, &mut summary);
    summary.signatures_reused = plan.reused;
    summary.signatures_made = plan.to_make();
    summary.reasons = plan.reasons.iter().map(|(r, n)| (r.name(), *n)).collect();
    summary.details = plan
        .details
        .iter()
        .map(|(o, t, r)| (o.clone(), t.clone(), r.name()))
        .collect();
    summary.names_added = plan.names_added;
    summary.warnings.extend(plan.warning.clone());
    summary.names_removed = plan.names_removed;
    // The comparison has read and freed the previous zone, block by block; its proven
    // text stays open for the output stage to copy unchanged RRsets from.
    let (prev_path, prev_text) = match prev {
        Some(p) => (Some(p.path), p.text),
        None => (None, None),
    };
    let copy = prev_text.as_ref().map(|t| TextCopy {
        text: t,
        sets: &plan.copy,
    });
    sw.lap(&mut summary, "compare with the previous output");
    if req.dry_run {
        for c in &key_changes {
            eprintln!("zonesign: dry run: key {c} (not saved)");
        }
        summary.elapsed = started.elapsed();
        return Ok(summary);
    }
    let opts = VerifyOptions {
        // The gate enforces the practice statement (DPS-6.5, DPS-6.7), not only the RFCs.
        rules: Rules::Dps,
        now: req.now,
        max_validity: Some(policy.validity_max),
        ttl_rules: Some(TtlRules {
            dnskey: policy.dnskey_ttl,
            ds: policy.ds_ttl,
            nsec: nsec_ttl,
        }),
        expected: Some(ExpectedSigners {
            ksk: ksks.iter().map(|k| k.tag).collect(),
            zsk: zsks.iter().map(|k| k.tag).collect(),
            unpublished: unpublished_signers(&signing, &published)?,
        }),
        trust_carried: !req.full_verify,
        expiring_within: None,
    };
    let in_place = prev_path.as_ref().is_some_and(|p| same_file(p, &req.out));
    let gate_first = |z: &Zone| first_gate(z, &anchors, &opts);
    let mut first = None;
    if summary.signatures_made == 0 {
        // Nothing to sign but perhaps the ZONEMD (a change in unsigned glue under
        // `serial = keep`, or a previous ZONEMD that was wrong): the gate's first stage
        // tells, with the digest the record must carry.
        let taken = gate_first(&zone);
        if zonemd_current(&zone, &taken, &policy) {
            first = Some(taken);
        } else {
            let proof = zonemd_proof(&summary, &input_content);
            let (stats, taken) = sign_in_hsm(
                cfg,
                &mut zone,
                &signing,
                &policy,
                req,
                proof,
                Passes::ZonemdOnly(Box::new(taken)),
            )?;
            count_zonemd_signatures(&mut summary, stats.signatures);
            summary.per_key = stats.per_key;
            first = Some(taken);
        }
    }
    let first = match first {
        Some(f) => f,
        None => {
            let proof = zonemd_proof(&summary, &input_content);
            let (stats, taken) = sign_in_hsm(
                cfg,
                &mut zone,
                &signing,
                &policy,
                req,
                proof,
                Passes::All(&gate_first),
            )?;
            count_zonemd_signatures(&mut summary, stats.signatures);
            summary.per_key = stats.per_key;
            taken
        }
    };
    // The first stage of the gate ran inside the signing login; it is verification.
    sw.lap(&mut summary, "signing in the HSM");
    if let Some(signing_lap) = summary.stages.last_mut() {
        signing_lap.1 = (signing_lap.1 - first.seconds).max(0.0);
    }
    // PIPE-4: signing changed nothing but DNSSEC data, or nothing is written.
    summary.content = Some(prove_unchanged(&input_content, first.content.clone())?);
    // DPS-6.6: the whole result is verified before anything is written. With
    // `--full-verify` the written temporary file is also read back and verified before
    // it is renamed into place, which also proves the text rendering. In memory, it
    // checks the very structure the output is rendered from, sparing a re-parse of
    // hundreds of megabytes on every cron run.
    let report = gate_verdict(crate::dnssec::verify::second_stage(
        first.stage,
        &zone,
        &anchors,
        &opts,
    ))?;
    sw.lap(&mut summary, "verification");
    if let Some(verify_lap) = summary.stages.last_mut() {
        verify_lap.1 += first.seconds;
    }
    if plan.identical && in_place && summary.signatures_made == 0 {
        // Nothing changed and nothing was due: the gate checked what is published (the
        // in-memory zone equals the proven file byte for byte, or nothing was trusted
        // and every signature is checked).
        if req.full_verify {
            gate_file(&req.out, &req.origin, &anchors, &opts)?;
        }
        summary.unchanged = true;
        // The input equals what is published, but it may be new as the approved zone
        // (the first run of a zonesign that keeps one).
        candidate.take().map(|c| c.commit()).transpose()?;
        finish(&mut summary, &report, started);
        commit_keys(cfg, &store, &key_changes, salt_event)?;
        return Ok(summary);
    }
    // The hash file comes last: a crash before it is rewritten leaves a snapshot or a
    // text that matches no recorded hash, which the next run does not trust. The
    // snapshot only saves time, so failing to write it is a warning.
    let snap = snapshot_path(&req.out);
    let mut reread_time = 0.0;
    let (settings, origin_text) = (&settings, req.origin.to_string());
    // Just before the rename: the operator's egress checks on the very file to be
    // published, then the input becomes the approved zone (see `store::approved` for
    // why in this order).
    let publish = move |tmp: &Path| -> Result<()> {
        egress_checks(settings, tmp, &origin_text)?;
        candidate.map(|c| c.commit()).transpose()?;
        Ok(())
    };
    let (digest, snap_digest) = if req.full_verify {
        let snap_digest = write_snapshot(&zone, &snap);
        let digest = crate::store::output::write_zone(zone, copy.as_ref(), &req.out, |tmp| {
            let t = Instant::now();
            gate_file(tmp, &req.origin, &anchors, &opts)?;
            reread_time = t.elapsed().as_secs_f64();
            publish(tmp)
        })?;
        (digest, snap_digest)
    } else {
        // Both files at once: rendering the text leaves a core idle while it hashes
        // and writes.
        let (digest, snap_digest) = std::thread::scope(|s| {
            let snapshot = s.spawn(|| write_snapshot(&zone, &snap));
            let digest =
                crate::store::output::write_zone_text(&zone, copy.as_ref(), &req.out, publish);
            let snap_digest = snapshot.join().unwrap_or_else(|_| {
                Err(Error::io(
                    &snap,
                    std::io::Error::other("snapshot writer panicked"),
                ))
            });
            (digest, snap_digest)
        });
        zone.free_in_background();
        (digest?, snap_digest)
    };
    sw.lap(&mut summary, "output");
    if req.full_verify {
        if let Some(out) = summary.stages.last_mut() {
            out.1 -= reread_time;
        }
        summary
            .stages
            .push(("verification of the written file", reread_time));
    }
    let mut hashes = vec![(req.out.as_path(), digest.as_str())];
    match &snap_digest {
        Ok(d) => hashes.push((snap.as_path(), d.as_str())),
        Err(e) => summary.warnings.push(format!(
            "{e}; the next run will parse the text output instead"
        )),
    }
    if let Err(e) = write_hashes(&req.out, &hashes) {
        summary
            .warnings
            .push(format!("{e}; the next run will check every signature"));
    }
    if store.zone.is_none() {
        store.zone = Some(req.origin.to_string());
        // A new salt is saved by `commit_keys` below, with its audit line.
        if salt_event.is_none() {
            store.save(&cfg.files.keys)?;
        }
    }
    commit_keys(cfg, &store, &key_changes, salt_event)?;
    finish(&mut summary, &report, started);
    Ok(summary)
}

/// Logs each key change to the audit log and stderr and saves the advanced key state
/// (after the zone was written); a warning alone is logged and saves nothing.
///
/// The state and its audit lines are committed together ([`KeyStore::commit`],
/// DPS-4.4): a crash at any moment leaves either neither or both, so the audit trail
/// never shows a key change that did not happen, nor the state one that is not logged.
///
/// A new NSEC3 salt (`salt`) is state of the same kind: saved and logged with the key
/// changes, after the zone that carries it was published ([`denial`]).
fn commit_keys(
    cfg: &Config,
    store: &KeyStore,
    changes: &[crate::dnssec::lifecycle::Change],
    salt: Option<Event>,
) -> Result<()> {
    let audit = AuditLog::new(&cfg.files.audit_log, "sign");
    for c in changes {
        eprintln!(
            "zonesign: {}key {c}",
            if c.is_warning() { "warning: " } else { "" }
        );
    }
    let mut events = crate::dnssec::lifecycle::audit_events(changes);
    let saves = changes.iter().any(|c| !c.is_warning()) || salt.is_some();
    events.extend(salt);
    if saves {
        store.commit(&cfg.files.keys, &audit, events)
    } else {
        audit
            .record_all(events)
            .map_err(|e| Error::io(&cfg.files.audit_log, e))
    }
}

/// A policy `algorithm` that none of the active keys has: the operator changed the
/// policy, but a zone changes algorithm only by an algorithm rollover (RFC 6781
/// §4.1.4, `key rollover --algorithm`); every run says so until one is started (an
/// active key of the new algorithm is part of it).
fn policy_algorithm_warning(store: &KeyStore, policy: &Policy) -> Option<String> {
    let active: std::collections::BTreeSet<_> = store
        .keys
        .iter()
        .filter(|k| k.state == crate::dnssec::keys::KeyState::Active)
        .map(|k| k.algorithm)
        .collect();
    if active.is_empty() || active.contains(&policy.algorithm) {
        return None;
    }
    let names: Vec<&str> = active.iter().map(|a| a.name()).collect();
    Some(format!(
        "the policy's algorithm is {} but the zone is signed with {}: the zone changes algorithm only by an algorithm rollover (RFC 6781 §4.1.4). Generate a KSK and a ZSK of it (`zonesign key generate --role ksk --algorithm {0}`, then `--role zsk`) and start the roll with `zonesign key rollover --algorithm {0}`; until then it signs on with the active keys",
        policy.algorithm,
        names.join(" and ")
    ))
}

/// NSEC3 records and their carried-over signatures, for the report (issue 24: the
/// cron cycle reuses signatures of unchanged NSEC3 RRsets).
fn count_nsec3(zone: &Zone, summary: &mut SignSummary) {
    let sets = zone.rrsets.iter().filter(|s| s.rtype == rtype::NSEC3);
    for set in sets {
        summary.nsec3 += set.rdatas.len();
        summary.nsec3_signatures_reused += set
            .sigs
            .iter()
            .filter(|g| g.provenance == crate::zone::Provenance::Carried)
            .count();
    }
}

/// Fills in what the verification gate found.
fn finish(summary: &mut SignSummary, report: &Report, started: Instant) {
    summary.earliest_expiration = report.stats.earliest_expiration;
    summary.signatures_trusted = report.stats.signatures_trusted;
    summary.elapsed = started.elapsed();
}

/// The gate on a written file (`--full-verify`): the text is parsed back and verified,
/// so what was checked is byte for byte what is published.
fn gate_file(
    file: &Path,
    origin: &Name,
    anchors: &[Anchor],
    opts: &VerifyOptions,
) -> Result<Report> {
    gate_verdict(verify_file(file, origin, anchors, opts)?)
}

/// Turns a failed report into the error that stops the run.
fn gate_verdict(r: Report) -> Result<Report> {
    if r.valid {
        Ok(r)
    } else {
        Err(Error::Verification(format!(
            "the signed zone failed verification; nothing was written (DPS-6.6)\n{}",
            r.to_text()
        )))
    }
}

/// The DNSKEY RDATA of the signing keys whose DNSKEY is not in the zone (an algorithm
/// roll's new keys before their publication, its old keys after their withdrawal), so
/// that the gate checks their signatures too.
fn unpublished_signers(signing: &[KeyEntry], published: &[KeyEntry]) -> Result<Vec<Box<[u8]>>> {
    signing
        .iter()
        .filter(|k| !published.iter().any(|p| p.id == k.id))
        .map(|k| Ok(k.dnskey_rdata()?.into_boxed_slice()))
        .collect()
}

/// The active KSKs and ZSKs; signing needs at least one of each (DPS-6.1).
fn signing_keys(cfg: &Config, store: &KeyStore) -> Result<(Vec<KeyEntry>, Vec<KeyEntry>)> {
    let ksks: Vec<KeyEntry> = store.active(Role::Ksk).cloned().collect();
    let zsks: Vec<KeyEntry> = store.active(Role::Zsk).cloned().collect();
    if ksks.is_empty() || zsks.is_empty() {
        return Err(Error::Key(KeyError::NoSigningKeys {
            keys: cfg.files.keys.clone(),
        }));
    }
    Ok((ksks, zsks))
}

fn active_keys(keys: &[KeyEntry]) -> Result<Vec<ActiveKey>> {
    keys.iter()
        .map(|k| {
            let key = VerifyingKey::from_dnskey_rdata(&k.dnskey_rdata()?)
                .map_err(|source| Error::Key(KeyError::UnusableKey { tag: k.tag, source }))?;
            Ok(ActiveKey {
                tag: k.tag,
                algorithm: k.algorithm,
                role: k.role,
                key,
            })
        })
        .collect()
}

/// Sets the serial and decides which signatures are reused (issue #4).
///
/// With a previous output, the zone first gets the previous serial (or the input's under
/// the `keep` rule), so an unchanged zone compares equal; if anything differs or a
/// signature is due, the serial moves forward from the larger of input and previous
/// serial, and the SOA is signed anew. `bump` moves it forward in any case: a run that
/// signs the approved zone instead of a rejected input publishes a new serial, so the
/// secondaries and monitoring see the signer at work (PIPE-1).
fn plan_reuse(
    zone: &mut Zone,
    prev: Option<&mut Previous>,
    keys: &[ActiveKey],
    policy: &Policy,
    input: u32,
    now: i64,
    bump: bool,
) -> ReusePlan {
    let Some(prev) = prev else {
        set_serial(zone, policy.next_serial(input, now));
        return fresh_plan(zone, keys);
    };
    let keep = policy.serial == SerialPolicy::Keep;
    set_serial(zone, if keep { input } else { prev.serial });
    let mut plan = attach(zone, prev, keys, policy, now);
    if bump && !keep {
        plan.identical = false;
    }
    if !plan.identical && !keep {
        let base = if serial_gt(input, prev.serial) {
            input
        } else {
            prev.serial
        };
        set_serial(zone, policy.next_serial(base, now));
        let origin = zone.origin.clone();
        if let Some(i) = zone.find(&origin, rtype::SOA) {
            invalidate(zone, i, &mut plan);
        }
    }
    plan
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// What the checks of the input found that does not stop signing.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Warnings, each `file:line: message`.
    pub warnings: Vec<String>,
    /// NS records whose in-zone target has no A or AAAA record.
    pub ns_without_address: usize,
    /// What the input's ZONEMD said (PIPE-3).
    pub zonemd: crate::ops::zonemd_steps::InputZonemd,
}

/// Bytes of zone text per window of [`verify_in_windows`]: 16 parallel blocks.
const VERIFY_WINDOW: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// The environment variable of the test-only window size ([`verify_window`]).
#[cfg(debug_assertions)]
pub const TEST_VERIFY_WINDOW_ENV: &str = "ZONESIGN_TEST_VERIFY_WINDOW";

/// [`VERIFY_WINDOW`]; in a build with debug assertions (never a release build), the
/// octets [`TEST_VERIFY_WINDOW_ENV`] gives, so that the integration tests verify the
/// small zones of other signers in many windows and compare with one.
fn verify_window() -> usize {
    #[cfg(debug_assertions)]
    if let Some(window) = std::env::var(TEST_VERIFY_WINDOW_ENV)
        .ok()
        .and_then(|w| w.parse().ok())
    {
        return window;
    }
    VERIFY_WINDOW
}

/// Verifies a zone file in canonical order a window at a time ([`Parts`],
/// [`Windowed`]): the records of one window, not the whole zone, are held at once
/// (issue 25). `None` if the zone must be read whole: the file is out of order, or
/// the zone is one the windowed pass leaves to the whole-zone verifier.
///
/// The next window is read while the last one is verified (the verifier on a thread
/// of its own): the read is mostly one thread, the checks take both cores, and each
/// fills the other's gaps.
fn verify_in_windows(
    path: &Path,
    origin: &Name,
    anchors: &[Anchor],
    opts: &VerifyOptions,
) -> Result<Option<Report>> {
    use std::ops::ControlFlow;
    use std::sync::atomic::{AtomicBool, Ordering};
    /// A part for the verifier, or the last one.
    enum Part {
        Next(Zone),
        Last(Zone),
    }
    let gave_up = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // One part waiting while one is verified and one read: three windows at most.
        let (send, recv) = std::sync::mpsc::sync_channel::<Part>(1);
        let verifier = scope.spawn(|| {
            let mut windowed = Windowed::new(anchors, opts);
            for part in recv {
                match part {
                    Part::Next(zone) => windowed.push(zone),
                    Part::Last(zone) => return windowed.finish(zone),
                }
                gave_up.store(windowed.needs_whole(), Ordering::Relaxed);
            }
            None
        });
        let mut parts = Some(Parts::new(origin.clone()));
        let mut errors = checks::RecordErrors::default();
        let read =
            zonefile::parse_file_in_windows(path, origin, verify_window(), |records, files, _| {
                errors.check(origin, &records, files);
                // With errors the rest is only read for its own (parse errors come first).
                if !errors.is_empty() {
                    parts = None;
                    return ControlFlow::Continue(());
                }
                match parts.as_mut().map(|p| p.push(records)) {
                    Some(Err(OutOfOrder)) => ControlFlow::Break(()),
                    Some(Ok(part)) => {
                        let sent = send.send(Part::Next(part));
                        match sent.is_err() || gave_up.load(Ordering::Relaxed) {
                            true => ControlFlow::Break(()),
                            false => ControlFlow::Continue(()),
                        }
                    }
                    None => ControlFlow::Continue(()),
                }
            });
        if let (Ok(Some(_)), Some(p)) = (&read, parts.take()) {
            // The verifier ends with the last part; a failed send is its failure,
            // which join reports as no verdict.
            let _ = send.send(Part::Last(p.finish()));
        }
        drop(send);
        let verdict = verifier.join().ok().flatten();
        read?;
        if !errors.is_empty() {
            return Err(Error::Checks(errors.into_errors()));
        }
        Ok(verdict)
    })
}

/// Reads a zone file whole, then checks and sorts its records.
fn read_whole(
    path: &Path,
    origin: &Name,
    sw: &mut Stopwatch,
    stages: &mut Vec<(&'static str, f64)>,
) -> Result<Zone> {
    let parsed = zonefile::parse_file(path, origin)?;
    sw.lap_into(stages, "read and parse");
    let mut findings = Findings::new(&parsed.files);
    checks::check_records(origin, &parsed.records, &mut findings);
    let errors = findings.into_errors();
    if !errors.is_empty() {
        return Err(Error::Checks(errors));
    }
    sw.lap_into(stages, "checks");
    let (zone, _) = Zone::from_records(origin.clone(), parsed.records);
    sw.lap_into(stages, "canonical sort and RRsets");
    Ok(zone)
}

/// Parses the zone, drops old DNSSEC data, runs the checks and groups it canonically;
/// `strict` (`sign --strict`) refuses what is otherwise a warning (see [`Findings::strict`]).
pub fn read_and_check(
    file: &Path,
    origin: &Name,
    policy: &Policy,
    strict: bool,
) -> Result<(Zone, Checked)> {
    check_parsed(
        zonefile::parse_file(file, origin)?,
        file,
        origin,
        policy,
        strict,
    )
}

/// The checks of [`read_and_check`] on a zone already parsed.
pub fn check_parsed(
    parsed: zonefile::ParsedZone,
    file: &Path,
    origin: &Name,
    policy: &Policy,
    strict: bool,
) -> Result<(Zone, Checked)> {
    let mut findings = Findings::new(&parsed.files).with_strict(strict);
    findings.warnings.extend(parsed.warnings.iter().cloned());
    checks::check_records(origin, &parsed.records, &mut findings);
    // PIPE-3: the input's ZONEMD is found before the records made anew are dropped.
    let zonemd_scan = crate::ops::zonemd_steps::InputScan::new(origin, &parsed.records);
    let whole = zonemd_scan
        .needs_whole_zone()
        .then(|| Zone::from_records(origin.clone(), parsed.records.clone()).0);
    let records = checks::drop_regenerated(file, parsed.records, &mut findings);
    let (zone, mismatches) = Zone::from_records(origin.clone(), records);
    checks::warn_ttl_mismatches(&mismatches, &mut findings);
    // The ZONEMD digest (one hash stream over the zone) runs beside the zone checks.
    let zonemd = std::thread::scope(|s| {
        let check = s.spawn(|| zonemd_scan.check(&zone, whole.as_ref()));
        checks::check_zone(&zone, policy, &mut findings);
        check.join()
    })
    .unwrap_or_else(|_| crate::ops::zonemd_steps::InputZonemd::Invalid {
        detail: "the ZONEMD check failed unexpectedly".into(),
    });
    drop(whole);
    findings.warnings.extend(zonemd.warning());
    let checked = Checked {
        warnings: findings.warnings.clone(),
        ns_without_address: findings.ns_without_address,
        zonemd,
    };
    let errors = findings.into_errors();
    if !errors.is_empty() {
        return Err(Error::Checks(errors));
    }
    Ok((zone, checked))
}

fn nsec_ttl(zone: &Zone, policy: &Policy) -> u32 {
    let soa = zone.soa();
    let minimum = soa.and_then(|s| soa_minimum(&s.rdatas[0])).unwrap_or(3600);
    policy.nsec_ttl_for(soa.map_or(minimum, |s| s.ttl), minimum)
}

/// The apex DNSKEY RRset from the published keys, in canonical order.
fn dnskey_rrset(origin: &Name, keys: &[KeyEntry], ttl: u32) -> Result<RRset> {
    let mut rdatas = keys
        .iter()
        .map(|k| Ok(k.dnskey_rdata()?.into_boxed_slice()))
        .collect::<Result<Vec<_>>>()?;
    rdatas.sort();
    rdatas.dedup();
    Ok(RRset {
        owner: origin.clone(),
        rtype: rtype::DNSKEY,
        ttl,
        rdatas: rdatas.into_iter().collect(),
        sigs: Vec::new(),
        loc: Default::default(),
    })
}

/// What one signing login does: every RRset the plan says, the gate's first stage,
/// then the ZONEMD; or the ZONEMD alone, when the first stage found that only it needs
/// a signature.
enum Passes<'a> {
    /// Sign, then take the gate's first stage with this.
    All(&'a dyn Fn(&Zone) -> FirstGate),
    /// The first stage, taken already on the zone as it is.
    ZonemdOnly(Box<FirstGate>),
}

/// Logs in, checks the token's keys are the recorded ones, signs, logs out (DPS-5.2).
/// Also returns the gate's first stage ([`first_gate`]), with the signed zone's
/// content digest (PIPE-4), which the audit line records beside the admitted input's
/// (`proof`: that digest and the input ZONEMD's outcome).
fn sign_in_hsm(
    cfg: &Config,
    zone: &mut Zone,
    keys: &[KeyEntry],
    policy: &Policy,
    req: &SignRequest,
    (input_content, input_zonemd): (&str, Option<String>),
    passes: Passes,
) -> Result<(SignStats, FirstGate)> {
    let audit = AuditLog::new(&cfg.files.audit_log, "sign");
    let signing = crate::ops::setup::login_signing(cfg, &audit)?;
    let tags: Vec<u16> = keys.iter().map(|k| k.tag).collect();
    let result = sign_with_tokens(cfg, &signing, zone, keys, policy, req, passes);
    // Every outcome after a login is recorded, and the logout too (DPS-4.4): a run that
    // fails half-way must not look like an open session in the audit trail. The guard
    // closes the sessions first, then writes `sign` and the `logout` lines.
    let origin = zone.origin.to_string();
    let event = Event::Sign {
        zone: origin,
        keys: tags,
        result: match &result {
            Ok((stats, first)) => Outcome::Ok(SignCounts {
                signatures: stats.signatures,
                per_key: stats.per_key.clone(),
                per_token: stats.per_token.clone(),
                session_key_copies: stats.session_key_copies,
                worker_processes: crate::ops::setup::worker_processes(cfg),
                content: first.content.clone().map(|signed| ContentDigests {
                    input: input_content.to_string(),
                    signed,
                }),
                input_zonemd,
            }),
            Err(e) => Outcome::failed(e),
        },
    };
    let logged = signing.logout_after(event);
    let done = result?;
    logged.map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    Ok(done)
}

/// The input's content digest and ZONEMD outcome, for the audit line of a signing
/// login.
fn zonemd_proof<'a>(summary: &SignSummary, input_content: &'a str) -> (&'a str, Option<String>) {
    let input_zonemd = summary
        .input
        .zonemd
        .as_ref()
        .filter(|z| **z != crate::ops::zonemd_steps::InputZonemd::Absent)
        .map(|z| z.describe());
    (input_content, input_zonemd)
}

/// The gate's first stage ([`crate::dnssec::verify::first_stage`]) with the signed
/// zone's content digest (PIPE-4) taken beside it, and how long both took.
struct FirstGate {
    stage: crate::dnssec::verify::FirstStage,
    /// `None` if taking it failed (the proof then fails).
    content: Option<String>,
    seconds: f64,
}

/// Takes the gate's first stage on the signed zone, whose apex ZONEMD may still be a
/// placeholder: everything but the apex name is checked, and the ZONEMD digest is
/// taken once, for the record and for its check.
fn first_gate(zone: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> FirstGate {
    let t = Instant::now();
    let (content, stage) = std::thread::scope(|s| {
        let content = s.spawn(|| crate::zone::content::digest(zone));
        let stage = crate::dnssec::verify::first_stage(zone, anchors, opts);
        (content.join().ok(), stage)
    });
    FirstGate {
        stage,
        content,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Whether the zone's apex ZONEMD is the one the policy asks for, carrying the
/// digest the first stage took, and signed: then no signing login is needed for it.
fn zonemd_current(zone: &Zone, first: &FirstGate, policy: &Policy) -> bool {
    let hashes = policy.zonemd.hashes();
    let digests = first.stage.digests();
    let want = crate::zone::zonemd::make_with(zone, &hashes, &digests).ok();
    match zone.get(&zone.origin, rtype::ZONEMD) {
        None => hashes.is_empty(),
        Some(set) => want.is_some_and(|w| w == set.rdatas) && !set.sigs.is_empty(),
    }
}

/// The ZONEMD's signatures of the second signing pass (and a placeholder's of the
/// first), which the reuse plan could not foresee, counted as made for reason
/// `zonemd`, so that the report adds up to what the HSM signed.
fn count_zonemd_signatures(summary: &mut SignSummary, signed: usize) {
    let extra = signed.saturating_sub(summary.signatures_made);
    if extra > 0 {
        summary.signatures_made += extra;
        *summary.reasons.entry("zonemd").or_default() += extra;
    }
}

/// The content digest of the admitted zone (PIPE-4, [`crate::zone::content`]), taken
/// right after the DS TTL rule. In a debug build the test-only hook may then alter one
/// record, as a faulty signer would.
///
/// It runs while the previous output is still being read on another thread, where this
/// thread would otherwise soon wait for it.
fn admitted_content(zone: &mut Zone) -> String {
    let digest = crate::zone::content::digest(zone);
    if let Some(what) = crate::zone::content::alter_for_test(zone) {
        eprintln!("zonesign: TEST HOOK: altered {what} after admission");
    }
    digest
}

/// The proof of unchanged data (PIPE-4): the signed zone's content digest (taken in
/// the gate's first stage) must equal the admitted input's, or the run stops with
/// exit 1 and nothing written, like any gate failure.
fn prove_unchanged(input: &str, signed: Option<String>) -> Result<ContentDigests> {
    let signed = match signed {
        Some(s) if s == input => s,
        other => {
            return Err(Error::Verification(format!(
                "the signed zone's non-DNSSEC content differs from the admitted input (PIPE-4): content digest of the input {input}, of the signed zone {}; signing may change DNSSEC data only; nothing was written",
                other.as_deref().unwrap_or("(failed)")
            )));
        }
    };
    Ok(ContentDigests {
        input: input.to_string(),
        signed,
    })
}

/// Checks that every token holds the recorded keys, then signs with one session per
/// worker, the sessions spread over the tokens.
fn sign_with_tokens(
    cfg: &Config,
    signing: &crate::ops::setup::SigningTokens,
    zone: &mut Zone,
    keys: &[KeyEntry],
    policy: &Policy,
    req: &SignRequest,
    passes: Passes,
) -> Result<(SignStats, FirstGate)> {
    let mut handles = Vec::new();
    for k in keys {
        handles.push((k.id_bytes()?, k.algorithm));
    }
    let labels = signing.labels();
    for (token, label) in signing.tokens.iter().zip(&labels) {
        check_token_keys(token, label, keys, &handles, labels.len() > 1)?;
    }
    let signer = crate::ops::setup::signing_backend(cfg, "sign", signing, &handles)?;
    let sign_keys: Vec<SignKey> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let rdata = k.dnskey_rdata()?;
            Ok(SignKey {
                backend_index: i,
                tag: k.tag,
                algorithm: k.algorithm,
                role: k.role,
                // `--full-verify` leaves every check to the gate's own pass.
                verifier: (!req.full_verify)
                    .then(|| VerifyingKey::from_dnskey_rdata(&rdata))
                    .transpose()
                    .map_err(|source| {
                        Error::Key(KeyError::UnusableSigningKey { tag: k.tag, source })
                    })?,
            })
        })
        .collect::<Result<_>>()?;
    let mut rng = match req.seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
    };
    let params = SignParams {
        sessions: req.sessions.unwrap_or(cfg.sessions()),
        policy,
        now: req.now,
        progress: req.progress,
    };
    // One session of the first pass stays open for the ZONEMD pass.
    let keep = crate::ops::zonemd_steps::KeepSession::new(&signer);
    let (mut stats, first) = match passes {
        Passes::All(take_first) => {
            let stats = sign_zone(zone, &sign_keys, &keep, &params, &mut rng)?;
            (stats, take_first(zone))
        }
        Passes::ZonemdOnly(first) => (SignStats::default(), *first),
    };
    sign_zonemd(
        zone, &first, &sign_keys, &keep, &params, &mut rng, &mut stats,
    )?;
    drop(keep);
    if signer.len() > 1 {
        let made = signer.signatures_per_member();
        stats.per_token = labels.iter().map(|l| l.to_string()).zip(made).collect();
    }
    Ok((stats, first))
}

/// Puts the ZONEMD placeholder at the apex before the denial chain is built, so the
/// apex bitmap lists ZONEMD (RFC 8976 §3.1; see [`crate::ops::zonemd_steps`]). Its TTL
/// is the SOA's.
fn add_zonemd_placeholder(zone: &mut Zone, prev: Option<&Previous>, policy: &Policy) {
    let ttl = zone.soa().map_or(policy.dnskey_ttl, |s| s.ttl);
    let hashes = policy.zonemd.hashes();
    if let Some(set) =
        crate::ops::zonemd_steps::placeholder(zone, prev.map(|p| &p.apex), &hashes, ttl)
    {
        zone.upsert(set);
    }
}

/// After everything else is signed and the gate's first stage has taken the digest:
/// the ZONEMD is filled in with it and that one RRset signed in a second pass, in the
/// same login, with one session (RFC 8976 §3.4–3.5). A ZONEMD that already carries the
/// digest and a signature (a reused one) is left alone.
fn sign_zonemd(
    zone: &mut Zone,
    first: &FirstGate,
    keys: &[SignKey],
    signer: &dyn crate::hsm::SigningBackend,
    params: &SignParams,
    rng: &mut rand::rngs::StdRng,
    stats: &mut SignStats,
) -> Result<()> {
    if zonemd_current(zone, first, params.policy) {
        return Ok(());
    }
    let hashes = params.policy.zonemd.hashes();
    let rdatas = crate::ops::zonemd_steps::digest_with(zone, &hashes, &first.stage.digests());
    let filled = crate::ops::zonemd_steps::fill_with(zone, rdatas)
        .map_err(|e| Error::Verification(format!("ZONEMD: {e}; nothing was written")))?;
    if !filled {
        return Ok(());
    }
    let one = SignParams {
        sessions: 1,
        progress: false,
        ..*params
    };
    // The second pass signs a zone of that one RRset: planning over the whole zone
    // again would classify every name and read every signature (about a million of
    // each at TLD size) to find the one RRset left.
    let Some(i) = zone.find(&zone.origin, rtype::ZONEMD) else {
        return Ok(());
    };
    let mut apex = Zone {
        origin: zone.origin.clone(),
        rrsets: vec![zone.rrsets[i].clone()],
        orphan_sigs: Vec::new(),
    };
    let more = sign_zone(&mut apex, keys, signer, &one, rng)?;
    if let Some(signed) = apex.rrsets.pop() {
        zone.rrsets[i].sigs = signed.sigs;
    }
    stats.signatures += more.signatures;
    stats.rrsets += more.rrsets;
    for (tag, n) in more.per_key {
        match stats.per_key.iter_mut().find(|(t, _)| *t == tag) {
            Some(entry) => entry.1 += n,
            None => stats.per_key.push((tag, n)),
        }
    }
    Ok(())
}

/// Checks that `token` holds every recorded key, with the recorded public half: a
/// token that lacks one, or holds another key under its id, must not sign.
fn check_token_keys(
    token: &crate::hsm::Token,
    label: &str,
    keys: &[KeyEntry],
    handles: &[(Vec<u8>, crate::dns::algorithm::Algorithm)],
    cluster: bool,
) -> Result<()> {
    for (k, (id, alg)) in keys.iter().zip(handles) {
        let found = token.public_key(id, *alg).map_err(|e| match e {
            crate::hsm::HsmError::KeyNotFound { .. } if cluster => {
                Error::Key(KeyError::MissingInToken {
                    token: label.to_string(),
                    tag: k.tag,
                    label: k.label.clone(),
                })
            }
            e => e.into(),
        })?;
        if found != k.public_key_bytes()? {
            return Err(Error::Key(KeyError::PublicKeyMismatch {
                token: label.to_string(),
                tag: k.tag,
                label: k.label.clone(),
            }));
        }
    }
    Ok(())
}

/// Reads trust anchors: the DS and DNSKEY records at `origin` in a zone-file snippet.
pub fn read_anchors(path: &Path, origin: &Name) -> Result<Vec<Anchor>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let parsed = zonefile::parse_bytes_with_ttl(&text, path, origin, Some(0))?;
    let anchors: Vec<Anchor> = parsed
        .records
        .into_iter()
        .filter(|r| r.owner == *origin)
        .filter_map(|r| match r.rtype {
            rtype::DS => Some(Anchor::Ds(r.rdata)),
            rtype::DNSKEY => Some(Anchor::Dnskey(r.rdata)),
            _ => None,
        })
        .collect();
    if anchors.is_empty() {
        return Err(Error::Usage(UsageError::NoAnchor {
            path: path.to_path_buf(),
            origin: origin.clone(),
        }));
    }
    Ok(anchors)
}

/// Parses a signed zone file and verifies it: a window at a time where it can
/// ([`verify_in_windows`]), else whole.
pub fn verify_file(
    path: &Path,
    origin: &Name,
    anchors: &[Anchor],
    opts: &VerifyOptions,
) -> Result<Report> {
    let mut sw = Stopwatch::new();
    let mut stages = Vec::new();
    if let Some(mut report) = verify_in_windows(path, origin, anchors, opts)? {
        sw.lap_into(&mut stages, "read and verify, a window at a time");
        report.stages = stages;
        return Ok(report);
    }
    sw.lap_into(
        &mut stages,
        "read in windows until the zone must be read whole",
    );
    let zone = read_whole(path, origin, &mut sw, &mut stages)?;
    let mut report = verify_zone(&zone, anchors, opts);
    sw.lap_into(&mut stages, "verification");
    drop(zone);
    sw.lap_into(&mut stages, "freeing the zone");
    report.stages = stages;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zone in canonical order verified in windows (several: the file is larger
    /// than [`VERIFY_WINDOW`]) gets the report of the zone read whole (here with a
    /// problem at every name: signatures that are not, no NSEC chain); one out of
    /// order is told, and then `verify` reads it whole; check errors are those of the
    /// whole read (issue 25).
    #[test]
    fn windows_give_the_report_of_the_zone_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::parse(b"example.", None).unwrap();
        let mut text =
            String::from("$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n");
        let mut names: Vec<String> = (0..40_000).map(|i| format!("d{i}")).collect();
        names.sort_by_key(|n| Name::parse(format!("{n}.example.").as_bytes(), None).unwrap());
        for n in &names {
            text.push_str(&format!(
                "{n} NS ns.{n}\n{n} DS 1 13 2 {:064X}\n{n} RRSIG DS 13 2 3600 20300101000000 20200101000000 1 example. AAAA\nns.{n} A 192.0.2.2\n",
                n.len()
            ));
        }
        text.push_str("ns1 A 192.0.2.1\n");
        assert!(text.len() > 2 * VERIFY_WINDOW);
        let path = dir.path().join("ordered.zone");
        std::fs::write(&path, &text).unwrap();
        let anchors = [Anchor::Dnskey(vec![1, 1, 3, 13, 9].into_boxed_slice())];
        let opts = VerifyOptions::at(1_800_000_000, None);
        let whole = read_whole(&path, &origin, &mut Stopwatch::new(), &mut Vec::new()).unwrap();
        let want = verify_zone(&whole, &anchors, &opts);
        let windowed = verify_in_windows(&path, &origin, &anchors, &opts)
            .unwrap()
            .expect("in order");
        assert!(want.total_problems > 80_000, "{}", want.total_problems);
        assert_eq!(
            serde_json::to_string(&windowed).unwrap(),
            serde_json::to_string(&want).unwrap()
        );

        let swapped = text.replacen("d1 NS", "zz NS", 1) + "d1 NS ns.d1\n";
        std::fs::write(&path, swapped).unwrap();
        let verify = || verify_in_windows(&path, &origin, &anchors, &opts);
        assert!(verify().unwrap().is_none());

        std::fs::write(&path, text + "x.other. A 192.0.2.9\n").unwrap();
        let Err(Error::Checks(errors)) = verify() else {
            panic!("the record outside the origin is refused")
        };
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("x.other. is outside the origin"),
            "{errors:?}"
        );
    }
}
