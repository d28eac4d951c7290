//! The commands' flows: sign (zone text → records → signed zone → verified → written)
//! and verify (signed zone text → verified report).
//!
//! Each stage lives in its own module; this one only runs them in order and keeps the
//! promises that span stages: nothing is written unless the verification gate passed
//! on the very bytes that are about to be published (DPS-6.6), the HSM session is
//! closed and logged out as soon as signing ends (DPS-5.2), and every HSM act is in the
//! audit log (DPS-4.4).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use serde_json::json;

use crate::audit::AuditLog;
use crate::checks::{self, Findings};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::hsm::Module;
use crate::keys::{KeyEntry, KeyStore, Role, ds_for};
use crate::name::Name;
use crate::nsec;
use crate::policy::Policy;
use crate::record::rtype;
use crate::setup::login;
use crate::sign::{SignKey, SignStats, sign_zone};
use crate::verify::{
    Anchor, ExpectedSigners, Report, TtlRules, VerifyOptions, soa_minimum, verify_zone,
};
use crate::zone::{RRset, Zone};
use crate::zonefile;

/// DNSSEC records that signing drops from its input and makes anew (issue #3).
pub const REGENERATED: [u16; 5] = [
    rtype::RRSIG,
    rtype::NSEC,
    rtype::NSEC3,
    rtype::NSEC3PARAM,
    rtype::DNSKEY,
];

/// What `zonesign sign` was asked to do.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The unsigned (or previously signed) zone file.
    pub zone_file: PathBuf,
    /// The zone's origin.
    pub origin: Name,
    /// Where the signed zone goes.
    pub out: PathBuf,
    /// The parent's DS (or DNSKEY) records; the configured KSKs' DS when absent.
    pub ds_anchor: Option<PathBuf>,
    /// Signing time, seconds since the epoch (UTC).
    pub now: i64,
    /// Seed for the validity jitter, for reproducible runs.
    pub seed: Option<u64>,
    /// Number of PKCS#11 sessions, overriding the config.
    pub sessions: Option<usize>,
}

/// What a signing run did.
#[derive(Debug, Clone)]
pub struct SignSummary {
    /// SOA serial of the signed zone.
    pub serial: u32,
    /// Signing statistics.
    pub stats: SignStats,
    /// NSEC records in the chain.
    pub nsec: usize,
    /// RRsets in the signed zone.
    pub rrsets: usize,
    /// Warnings about the input.
    pub warnings: Vec<String>,
    /// The verification report of the written zone.
    pub report: Report,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs `zonesign sign`.
pub fn sign(cfg: &Config, req: &SignRequest) -> Result<SignSummary> {
    let started = Instant::now();
    let policy = cfg.policy()?;
    let (mut zone, warnings) = read_and_check(&req.zone_file, &req.origin, &policy)?;
    let serial = apply_policy(&mut zone, &policy, req.now)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let published = store.published().cloned().collect::<Vec<_>>();
    let ksks: Vec<KeyEntry> = store.active(Role::Ksk).cloned().collect();
    let zsks: Vec<KeyEntry> = store.active(Role::Zsk).cloned().collect();
    if ksks.is_empty() || zsks.is_empty() {
        return Err(Error::Key(format!(
            "{}: signing needs an active KSK and an active ZSK (DPS-6.1); see `zonesign key list`",
            cfg.files.keys.display()
        )));
    }
    let anchors = match &req.ds_anchor {
        Some(p) => read_anchors(p, &req.origin)?,
        None => ksks
            .iter()
            .map(|k| {
                Ok(Anchor::Ds(
                    ds_for(&req.origin, &k.dnskey_rdata()?, 2)?.into(),
                ))
            })
            .collect::<Result<_>>()?,
    };
    zone.upsert(dnskey_rrset(&zone.origin, &published, policy.dnskey_ttl)?);
    let nsec_ttl = nsec_ttl(&zone, &policy);
    nsec::add_chain(&mut zone, nsec_ttl);
    let signing: Vec<KeyEntry> = ksks.iter().chain(&zsks).cloned().collect();
    let stats = sign_in_hsm(cfg, &mut zone, &signing, &policy, req)?;
    let expected = ExpectedSigners {
        ksk: ksks.iter().map(|k| k.tag).collect(),
        zsk: zsks.iter().map(|k| k.tag).collect(),
    };
    let opts = VerifyOptions {
        now: req.now,
        max_validity: Some(policy.validity_max),
        ttl_rules: Some(TtlRules {
            dnskey: policy.dnskey_ttl,
            ds: policy.ds_ttl,
            nsec: nsec_ttl,
        }),
        expected: Some(expected),
    };
    let mut report = None;
    crate::output::write_zone(&zone, &req.out, |tmp| {
        let r = verify_file(tmp, &req.origin, &anchors, &opts)?;
        let valid = r.valid;
        let text = r.to_text();
        report = Some(r);
        if valid {
            Ok(())
        } else {
            Err(Error::Verification(format!(
                "the signed zone failed verification; nothing was written (DPS-6.6)\n{text}"
            )))
        }
    })?;
    if store.zone.is_none() {
        store.zone = Some(req.origin.to_string());
        store.save(&cfg.files.keys)?;
    }
    let nsec = zone
        .rrsets
        .iter()
        .filter(|s| s.rtype == rtype::NSEC)
        .count();
    Ok(SignSummary {
        serial,
        stats,
        nsec,
        rrsets: zone.rrsets.len(),
        warnings,
        report: report.ok_or_else(|| Error::Verification("verification did not run".into()))?,
        elapsed: started.elapsed(),
    })
}

/// Parses the zone, drops old DNSSEC data, runs the checks and groups it canonically.
pub fn read_and_check(file: &Path, origin: &Name, policy: &Policy) -> Result<(Zone, Vec<String>)> {
    let parsed = zonefile::parse_file(file, origin)?;
    let mut findings = Findings::new(&parsed.files);
    findings.warnings.extend(parsed.warnings.iter().cloned());
    checks::check_records(origin, &parsed.records, &mut findings);
    let before = parsed.records.len();
    let records: Vec<_> = parsed
        .records
        .into_iter()
        .filter(|r| !REGENERATED.contains(&r.rtype))
        .collect();
    let dropped = before - records.len();
    if dropped > 0 {
        findings.warnings.push(format!("{}: dropped {dropped} DNSSEC record(s) (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY); they are made anew", file.display()));
    }
    let (zone, mismatches) = Zone::from_records(origin.clone(), records);
    checks::warn_ttl_mismatches(&mismatches, &mut findings);
    checks::check_zone(&zone, policy, &mut findings);
    let warnings = findings.warnings.clone();
    let errors = findings.into_errors();
    if !errors.is_empty() {
        return Err(Error::Checks(errors));
    }
    Ok((zone, warnings))
}

/// Applies the TTL and serial rules (DPS-6.7) and returns the new serial.
fn apply_policy(zone: &mut Zone, policy: &Policy, now: i64) -> Result<u32> {
    for set in zone.rrsets.iter_mut().filter(|s| s.rtype == rtype::DS) {
        set.ttl = policy.ds_ttl;
    }
    let origin = zone.origin.clone();
    let i = zone
        .find(&origin, rtype::SOA)
        .ok_or_else(|| Error::Checks(vec![format!("no SOA at {origin}")]))?;
    let soa = &mut zone.rrsets[i].rdatas[0];
    let at = soa
        .len()
        .checked_sub(20)
        .ok_or_else(|| Error::Checks(vec!["malformed SOA".into()]))?;
    let old = u32::from_be_bytes([soa[at], soa[at + 1], soa[at + 2], soa[at + 3]]);
    let serial = policy.next_serial(old, now);
    soa[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    Ok(serial)
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
        rdatas,
        sigs: Vec::new(),
        loc: Default::default(),
    })
}

/// Logs in, checks the token's keys are the recorded ones, signs, logs out (DPS-5.2).
fn sign_in_hsm(
    cfg: &Config,
    zone: &mut Zone,
    keys: &[KeyEntry],
    policy: &Policy,
    req: &SignRequest,
) -> Result<SignStats> {
    let audit = AuditLog::new(&cfg.files.audit_log, "sign");
    let pin = cfg.pin()?;
    let module = Module::load(&cfg.hsm.module)?;
    let token = login(&module, &cfg.hsm.token, &pin, &audit)?;
    let mut handles = Vec::new();
    for k in keys {
        let id = k.id_bytes()?;
        if token.public_key(&id, k.algorithm)? != k.public_key_bytes()? {
            return Err(Error::Key(format!(
                "key {} ({}) in the token differs from the key state; refusing to sign",
                k.tag, k.label
            )));
        }
        handles.push((id, k.algorithm));
    }
    let signer = token.signer(&handles)?;
    let sign_keys: Vec<SignKey> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| SignKey {
            backend_index: i,
            tag: k.tag,
            algorithm: k.algorithm,
            role: k.role,
        })
        .collect();
    let mut rng = match req.seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
    };
    let sessions = req.sessions.unwrap_or_else(|| cfg.sessions());
    let result = sign_zone(
        zone, &sign_keys, &signer, sessions, policy, req.now, &mut rng,
    );
    drop(signer);
    drop(token);
    let per_key: Vec<_> = keys.iter().zip(&sign_keys).map(|(k, _)| k.tag).collect();
    match &result {
        Ok(stats) => audit.record(
            "sign",
            json!({"zone": zone.origin.to_string(), "keys": per_key, "signatures": stats.signatures, "per_key": stats.per_key, "result": "ok"}),
        ),
        Err(e) => audit.record("sign", json!({"zone": zone.origin.to_string(), "keys": per_key, "result": "failed", "error": e.to_string()})),
    }
    .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    audit
        .record("logout", json!({"token": cfg.hsm.token}))
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    Ok(result?)
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
        return Err(Error::Usage(format!(
            "{}: no DS or DNSKEY record for {origin}",
            path.display()
        )));
    }
    Ok(anchors)
}

/// Parses a signed zone file and verifies it.
pub fn verify_file(
    path: &Path,
    origin: &Name,
    anchors: &[Anchor],
    opts: &VerifyOptions,
) -> Result<Report> {
    let parsed = zonefile::parse_file(path, origin)?;
    let mut findings = Findings::new(&parsed.files);
    checks::check_records(origin, &parsed.records, &mut findings);
    let errors = findings.into_errors();
    if !errors.is_empty() {
        return Err(Error::Checks(errors));
    }
    let (zone, _) = Zone::from_records(origin.clone(), parsed.records);
    Ok(verify_zone(&zone, anchors, opts))
}
