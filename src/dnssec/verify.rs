//! Verification: the gate before anything is written, and `zonesign verify` (DPS-6.6).
//!
//! Starting from the parent's DS (or a trusted DNSKEY), this checks that the DNSKEY RRset
//! is signed by a key the anchor points at, that every RRSIG verifies with public-key
//! crypto in software ([`crate::dnssec::crypto`]: ring and ed25519-dalek, never the token that
//! made the signatures), that
//! every authoritative RRset is covered by a valid signature, that the NSEC chain (or
//! each NSEC3 chain an NSEC3PARAM names, [`nsec3`]) is complete, closed and has the
//! right bitmaps, that no signature is expired, not yet
//! valid or longer-lived than allowed, and that TTLs follow the rules. It reads any
//! signer's output, so it assumes nothing about who made the zone.
//!
//! It shares no zone model with the signer (issue 21): what each name is (apex,
//! authoritative, delegation, glue, occluded below a cut or a DNAME, a name without
//! data) is read from the records by [`names`], its own code, so a signer that
//! misclassifies a name is caught here rather than trusted.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::dns::name::{Name, read_wire_name};
use crate::dns::rdata::{decode_type_bitmap, type_name};
use crate::dns::record::rtype;
use crate::dnssec::crypto::{self, VerifyingKey};
use crate::dnssec::policy::expand_rrsig_time;
use crate::dnssec::rrsig::{self, Rrsig};
use crate::zone::{RRset, Sig, Zone};

mod names;
mod nsec3;
mod windows;
pub use windows::Windowed;
#[cfg(test)]
mod rfc_tests;
#[cfg(test)]
mod tests;

use names::{GateName, Kind};

/// How many problems a report lists in full; the rest are only counted.
pub const LISTED_PROBLEMS: usize = 20;

/// A trust anchor as published by the parent.
#[derive(Debug, Clone)]
pub enum Anchor {
    /// DS RDATA.
    Ds(Box<[u8]>),
    /// DNSKEY RDATA (a trusted key).
    Dnskey(Box<[u8]>),
}

/// TTLs the policy demands, checked by the signing gate (DPS-6.7).
#[derive(Debug, Clone, Copy)]
pub struct TtlRules {
    /// DNSKEY RRset TTL.
    pub dnskey: u32,
    /// DS RRset TTL.
    pub ds: u32,
    /// NSEC TTL.
    pub nsec: u32,
}

/// Which keys must have signed what: the signing gate's DPS-6.1 check.
#[derive(Debug, Clone, Default)]
pub struct ExpectedSigners {
    /// Key tags that must sign the DNSKEY RRset (and nothing else).
    pub ksk: Vec<u16>,
    /// Key tags that must sign every other signed RRset.
    pub zsk: Vec<u16>,
    /// DNSKEY RDATA of signing keys that are not in the DNSKEY RRset: in an algorithm
    /// roll the new keys sign before their DNSKEYs are published and the old ones after
    /// theirs were withdrawn (RFC 6781 §4.1.4). Their signatures are checked with these.
    pub unpublished: Vec<Box<[u8]>>,
}

/// Which rules decide the verdict.
///
/// The practice statement's rules (DPS-6.5 maximum validity, DPS-6.7 TTLs) and RFC 9276's
/// NSEC3 iteration limits are choices of an operator, not conditions of DNSSEC
/// validity: a zone that breaks them still validates everywhere. `zonesign verify`
/// checks any signer's zone (the root's DNSKEY signatures last 21 days), so by default
/// it reports them as `policy` findings that leave the verdict alone; the signing gate
/// enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Rules {
    /// DNSSEC validity by the RFCs; policy rules are findings only.
    #[default]
    Rfc,
    /// The practice statement's rules fail the zone too (the signing gate).
    Dps,
}

/// What to verify against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Whether policy rules fail the zone or are findings only.
    pub rules: Rules,
    /// The time to check validity at, seconds since the epoch (UTC, DPS-5.7).
    pub now: i64,
    /// Longest allowed validity (DPS-6.5: 14 days), or `None` to skip that check.
    pub max_validity: Option<u32>,
    /// Policy TTLs, when verifying our own output.
    pub ttl_rules: Option<TtlRules>,
    /// Expected signers, when verifying our own output.
    pub expected: Option<ExpectedSigners>,
    /// Skip the cryptographic check of signatures whose [`crate::zone::Provenance`] says this run checked them: carried over
    /// unchanged from a previous output this tool wrote and proved byte for byte (or
    /// checked on the way in); every other check still runs on them (issue #4).
    pub trust_carried: bool,
    /// Count signatures that expire within this many seconds of `now` (monitoring).
    pub expiring_within: Option<u32>,
}

impl VerifyOptions {
    /// Options for checking any signer's zone at `now`, with the DPS-6.5 maximum validity.
    pub fn at(now: i64, max_validity: Option<u32>) -> VerifyOptions {
        VerifyOptions {
            rules: Rules::Rfc,
            now,
            max_validity,
            ttl_rules: None,
            expected: None,
            trust_carried: false,
            expiring_within: None,
        }
    }
}

/// One problem found, for people and for JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A stable short name of the kind of problem (e.g. `signature`, `nsec-next`).
    pub kind: &'static str,
    /// Owner name concerned.
    pub owner: String,
    /// Record type concerned.
    #[serde(rename = "type")]
    pub rtype: String,
    /// What is wrong.
    pub message: String,
}

/// Figures about what was checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// RRsets in the zone.
    pub rrsets: usize,
    /// Signatures checked cryptographically.
    pub signatures: usize,
    /// Signatures that verified (cryptographically or as trusted reused signatures).
    pub signatures_valid: usize,
    /// Signatures whose cryptographic check was skipped as trusted (see [`VerifyOptions::trusted`]).
    pub signatures_trusted: usize,
    /// The earliest signature expiration in the zone, seconds since the epoch.
    pub earliest_expiration: Option<i64>,
    /// Signatures expiring within [`VerifyOptions::expiring_within`] of the check time.
    pub expiring: usize,
    /// NSEC records.
    pub nsec: usize,
    /// NSEC3 records (all chains).
    pub nsec3: usize,
    /// Owner names.
    pub names: usize,
}

/// The verification result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The zone's origin.
    pub zone: String,
    /// True when no problem was found.
    pub valid: bool,
    /// The time checked against (RFC 3339, UTC).
    pub time: String,
    /// Total number of problems.
    pub total_problems: usize,
    /// Problems per kind.
    pub counts: BTreeMap<&'static str, usize>,
    /// The first [`LISTED_PROBLEMS`] problems, in zone order.
    pub problems: Vec<Problem>,
    /// Key tags in the DNSKEY RRset that match the anchor.
    pub anchored_keys: Vec<u16>,
    /// What was checked.
    pub stats: Stats,
    /// Findings that do not change the verdict: policy rules under [`Rules::Rfc`]
    /// (kind `policy`), a ZONEMD that cannot be checked (kind `zonemd`); the first
    /// [`LISTED_PROBLEMS`].
    pub findings: Vec<Problem>,
    /// Total number of findings.
    pub total_findings: usize,
    /// The ZONEMD outcome (RFC 8976 §4): `verified ...`, `absent`, or why it could
    /// not be checked; a wrong digest is a problem of kind `zonemd`.
    pub zonemd: String,
    /// Whether policy rules are problems ([`Rules::Dps`]) or findings.
    #[serde(skip)]
    enforce_policy: bool,
    /// Wall time of each stage of `zonesign verify` (`--stats`), in order; empty for
    /// the sign's gate, whose stages the sign reports itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<(&'static str, f64)>,
}

/// RSA keys below this size verify (old zones, RFC 5702's examples) but are a policy
/// finding.
const RSA_POLICY_MIN_BITS: u32 = 1024;

/// Owner names per block of the parallel per-name checks.
const NAMES_PER_BLOCK: usize = 2_048;

/// RRsets from which the zone's P-256 keys get a precomputed table of their own
/// ([`crate::dnssec::crypto::libcrypto::ecdsa_table`]): below it, building the tables costs more than it saves.
const TABLE_RRSETS: usize = 4_096;

impl Report {
    /// A report with nothing in it, for one block of the per-name checks.
    fn empty() -> Report {
        Report {
            zone: String::new(),
            valid: false,
            time: String::new(),
            total_problems: 0,
            counts: BTreeMap::new(),
            problems: Vec::new(),
            anchored_keys: Vec::new(),
            stats: Stats::default(),
            findings: Vec::new(),
            total_findings: 0,
            zonemd: String::new(),
            enforce_policy: false,
            stages: Vec::new(),
        }
    }

    /// Adds a later block's findings: counts add up, problems stay in zone order.
    fn merge(&mut self, part: Report) {
        self.total_problems += part.total_problems;
        for (kind, n) in part.counts {
            *self.counts.entry(kind).or_default() += n;
        }
        let room = LISTED_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(part.problems.into_iter().take(room));
        self.total_findings += part.total_findings;
        let room = LISTED_PROBLEMS.saturating_sub(self.findings.len());
        self.findings.extend(part.findings.into_iter().take(room));
        let (mine, theirs) = (&mut self.stats, part.stats);
        mine.nsec += theirs.nsec;
        mine.nsec3 += theirs.nsec3;
        mine.signatures += theirs.signatures;
        mine.signatures_valid += theirs.signatures_valid;
        mine.signatures_trusted += theirs.signatures_trusted;
        mine.expiring += theirs.expiring;
        mine.earliest_expiration = match (mine.earliest_expiration, theirs.earliest_expiration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn add(&mut self, kind: &'static str, owner: &Name, t: u16, message: String) {
        self.total_problems += 1;
        *self.counts.entry(kind).or_default() += 1;
        if self.problems.len() < LISTED_PROBLEMS {
            self.problems.push(Problem {
                kind,
                owner: owner.to_string(),
                rtype: type_name(t),
                message,
            });
        }
    }

    /// A policy rule broken (see [`Rules`]): a problem of `kind` under [`Rules::Dps`],
    /// otherwise a finding of kind `policy` that leaves the verdict alone.
    fn rule(&mut self, kind: &'static str, owner: &Name, t: u16, message: String) {
        if self.enforce_policy {
            self.add(kind, owner, t, message);
        } else {
            self.note("policy", owner, t, message);
        }
    }

    /// A finding that does not change the verdict.
    fn note(&mut self, kind: &'static str, owner: &Name, t: u16, message: String) {
        self.total_findings += 1;
        if self.findings.len() < LISTED_PROBLEMS {
            self.findings.push(Problem {
                kind,
                owner: owner.to_string(),
                rtype: type_name(t),
                message,
            });
        }
    }

    /// A human-readable report: a verdict line, then the listed problems.
    pub fn to_text(&self) -> String {
        let mut s = if self.valid {
            format!(
                "{}: valid at {} ({} RRsets, {} signatures verified, {} NSEC, {} NSEC3, anchored keys {:?})\n",
                self.zone,
                self.time,
                self.stats.rrsets,
                self.stats.signatures_valid,
                self.stats.nsec,
                self.stats.nsec3,
                self.anchored_keys
            )
        } else {
            let counts: Vec<String> = self
                .counts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!(
                "{}: INVALID at {}: {} problem(s) ({})\n",
                self.zone,
                self.time,
                self.total_problems,
                counts.join(", ")
            )
        };
        for p in &self.problems {
            s.push_str(&format!(
                "  [{}] {} {}: {}\n",
                p.kind, p.owner, p.rtype, p.message
            ));
        }
        if self.total_problems > self.problems.len() {
            s.push_str(&format!(
                "  ... and {} more\n",
                self.total_problems - self.problems.len()
            ));
        }
        if !self.zonemd.is_empty() {
            s.push_str(&format!("  ZONEMD: {}\n", self.zonemd));
        }
        if self.total_findings > 0 {
            s.push_str(&format!(
                "  {} finding(s) that do not change the verdict:\n",
                self.total_findings
            ));
        }
        for p in &self.findings {
            s.push_str(&format!(
                "  note [{}] {} {}: {}\n",
                p.kind, p.owner, p.rtype, p.message
            ));
        }
        if self.total_findings > self.findings.len() {
            s.push_str(&format!(
                "  ... and {} more finding(s)\n",
                self.total_findings - self.findings.len()
            ));
        }
        s
    }
}

/// One DNSKEY of the zone.
struct ZoneKey {
    tag: u16,
    algorithm: u8,
    key: VerifyingKey,
    anchored: bool,
    /// In the apex DNSKEY RRset (false: one of [`ExpectedSigners::unpublished`]).
    published: bool,
}

/// The outcome of checking one RRSIG.
#[derive(Default)]
struct SigCheck {
    /// Tag of the key that verified it, if one did and the times are right.
    valid_by: Option<u16>,
    /// The algorithm of that key, when it is in the DNSKEY RRset (RFC 4035 §2.2).
    valid_alg: Option<u8>,
    /// Whether that key matches the trust anchor.
    valid_anchored: bool,
    /// The RRSIG names a key that is neither in the DNSKEY RRset nor expected.
    unknown_key: bool,
    /// Problems with this signature.
    problems: Vec<(&'static str, String)>,
    /// Policy rules this otherwise valid signature breaks (see [`Rules`]).
    rules: Vec<(&'static str, String)>,
    /// Whether a cryptographic check ran.
    checked: bool,
    /// Whether the signature was trusted without a cryptographic check.
    trusted: bool,
    /// Expiration, seconds since the epoch, when the RRSIG parsed.
    expiration: Option<i64>,
}

/// Verifies a signed zone against trust anchors: [`first_stage`], then
/// [`second_stage`] on the same zone.
pub fn verify_zone(zone: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> Report {
    let first = first_stage(zone, anchors, opts);
    second_stage(first, zone, anchors, opts)
}

/// What [`first_stage`] found, for [`second_stage`].
///
/// The verification is split at the apex name so that the signer can run the long
/// part while the apex ZONEMD is still a placeholder: the digest leaves the apex
/// ZONEMD RRset and its signatures out (RFC 8976 §3.3.1.1), so the digest taken here,
/// beside the per-name checks, is the one the filled-in ZONEMD must carry. The signer
/// fills it from [`FirstStage::digests`], signs that one RRset, and the second stage
/// checks the apex name and compares the ZONEMD with the digest. One walk of the zone
/// serves the record and its check (at TLD size a walk is about half a second of
/// SHA-384 that cannot be split across cores).
pub struct FirstStage {
    /// Whole-zone checks of the first stage (NSEC3 iterations and chains).
    head: Report,
    /// Per-name checks of the names before the apex in canonical order (names outside
    /// the zone, in a broken zone), then of those after it.
    before: Vec<Report>,
    after: Vec<Report>,
    groups: Vec<GateName>,
    /// Index of the apex in `groups`.
    apex: Option<usize>,
    nsec_ttls: Option<[u32; 2]>,
    nsec_chain: bool,
    /// RRsets of the zone, and the apex's RRsets by type: between the stages only the
    /// apex RRsets' contents may change (see [`second_stage`]).
    shape: (usize, Vec<u16>),
    /// The digests the apex ZONEMD records ask for; `None` if taking them failed.
    digests: Option<crate::zone::zonemd::Digests>,
}

impl FirstStage {
    /// The zone's digests the apex ZONEMD records asked for, taken in this stage.
    pub fn digests(&self) -> crate::zone::zonemd::Digests {
        self.digests.clone().unwrap_or_default()
    }
}

/// The apex's RRset types and the zone's RRset count: what must not change between
/// the two stages.
fn shape(zone: &Zone, groups: &[GateName], apex: Option<usize>) -> (usize, Vec<u16>) {
    let types = apex
        .and_then(|a| groups.get(a))
        .map(|g| {
            zone.rrsets
                .get(g.range.clone())
                .unwrap_or_default()
                .iter()
                .map(|s| s.rtype)
                .collect()
        })
        .unwrap_or_default();
    (zone.rrsets.len(), types)
}

/// Every check but those of the apex name's RRsets, the structure and the ZONEMD
/// comparison; the ZONEMD digests are taken beside the per-name checks.
pub fn first_stage(zone: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> FirstStage {
    // The ZONEMD digest is one hash stream over the whole zone (it cannot be split): it
    // runs on a thread of its own from the start, beside every other check.
    std::thread::scope(|s| {
        let digests = s.spawn(|| crate::zone::zonemd::Digests::for_check(zone));
        let mut first = checks_but_apex(zone, anchors, opts);
        first.digests = digests.join().ok();
        first
    })
}

/// [`first_stage`] without the digests.
fn checks_but_apex(zone: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> FirstStage {
    let mut head = Report::empty();
    head.enforce_policy = opts.rules == Rules::Dps;
    // The key problems are the second stage's to report; the keys are the same.
    let keys = zone_keys(zone, anchors, opts, true, &mut Report::empty());
    let algs = Algorithms::of(&keys, anchors);
    let groups = names::read(zone);
    check_nsec3_iterations(zone, opts, &mut head);
    let nsec_ttls = allowed_nsec_ttls(zone);
    let nsec_chain = needs_nsec_chain(zone, &groups, nsec_ttls, &mut head);
    let apex = groups.iter().position(|g| g.kind == Kind::Apex);
    let ctx = PerName {
        zone,
        groups: &groups,
        keys: &keys,
        algs: &algs,
        opts,
        nsec_ttls,
        nsec_chain,
        enforce_policy: head.enforce_policy,
    };
    let split = apex.unwrap_or(groups.len());
    let before = per_name_checks(&ctx, 0..split);
    let after = per_name_checks(&ctx, (split + 1).min(groups.len())..groups.len());
    let shape = shape(zone, &groups, apex);
    FirstStage {
        head,
        before,
        after,
        groups,
        apex,
        nsec_ttls,
        nsec_chain,
        shape,
        digests: None,
    }
}

/// The rest of [`verify_zone`] after [`first_stage`] on `zone`: the keys, the
/// structure, the apex name, the ZONEMD and the orphan signatures, with the first
/// stage's findings in zone order.
///
/// Between the stages the caller may change the apex RRsets' records and signatures
/// (the signer fills in and signs the ZONEMD), nothing else: the names were read, and
/// every other RRset checked, in the first stage. A zone whose RRset count or apex
/// types changed is verified again from the start.
pub fn second_stage(
    first: FirstStage,
    zone: &Zone,
    anchors: &[Anchor],
    opts: &VerifyOptions,
) -> Report {
    if shape(zone, &first.groups, first.apex) != first.shape {
        return verify_zone(zone, anchors, opts);
    }
    let mut report = Report {
        zone: zone.origin.to_string(),
        valid: false,
        time: chrono::DateTime::from_timestamp(opts.now, 0)
            .unwrap_or_default()
            .to_rfc3339(),
        total_problems: 0,
        counts: BTreeMap::new(),
        problems: Vec::new(),
        anchored_keys: Vec::new(),
        stats: Stats {
            rrsets: zone.rrsets.len(),
            names: first.groups.len(),
            ..Stats::default()
        },
        findings: Vec::new(),
        total_findings: 0,
        zonemd: String::new(),
        enforce_policy: opts.rules == Rules::Dps,
        stages: Vec::new(),
    };
    let keys = zone_keys(zone, anchors, opts, false, &mut report);
    let algs = Algorithms::of(&keys, anchors);
    check_structure(zone, &mut report);
    report.merge(first.head);
    let ctx = PerName {
        zone,
        groups: &first.groups,
        keys: &keys,
        algs: &algs,
        opts,
        nsec_ttls: first.nsec_ttls,
        nsec_chain: first.nsec_chain,
        enforce_policy: report.enforce_policy,
    };
    let apex = first
        .apex
        .map(|a| per_name_checks(&ctx, a..a + 1))
        .unwrap_or_default();
    for part in first.before.into_iter().chain(apex).chain(first.after) {
        report.merge(part);
    }
    match &first.digests {
        Some(known) => {
            let outcome = crate::zone::zonemd::check_with(zone, known);
            report_zonemd(zone, outcome, &mut report);
        }
        None => report.add(
            "zonemd",
            &zone.origin,
            rtype::ZONEMD,
            "the ZONEMD check failed unexpectedly".into(),
        ),
    }
    let orphans = zone.orphan_sigs.iter().map(|(owner, t, _)| (owner, *t));
    report_orphans(orphans, &mut report);
    report.valid = report.total_problems == 0;
    report
}

/// Signatures whose RRset is not in the zone (owner, covered type), in zone order.
fn report_orphans<'z>(orphans: impl Iterator<Item = (&'z Name, u16)>, report: &mut Report) {
    for (owner, t) in orphans {
        report.add(
            "orphan-rrsig",
            owner,
            rtype::RRSIG,
            format!("RRSIG covers {} but there is no such RRset", type_name(t)),
        );
    }
}

/// The per-name checks, on all cores, a block of names at a time; the blocks' findings
/// are merged in zone order by the caller, so the report is the same as a single pass.
/// What the per-name checks read, shared by every block.
struct PerName<'a> {
    zone: &'a Zone,
    groups: &'a [GateName],
    keys: &'a [ZoneKey],
    algs: &'a Algorithms,
    opts: &'a VerifyOptions,
    nsec_ttls: Option<[u32; 2]>,
    /// Whether the zone must have a complete NSEC chain ([`needs_nsec_chain`]).
    nsec_chain: bool,
    enforce_policy: bool,
}

fn per_name_checks(c: &PerName, names: std::ops::Range<usize>) -> Vec<Report> {
    let zone = c.zone;
    let end = names.end;
    names
        .into_par_iter()
        .step_by(NAMES_PER_BLOCK)
        .map(|from| {
            let mut part = Report::empty();
            part.enforce_policy = c.enforce_policy;
            let (mut buf, mut checks) = (Vec::with_capacity(1024), Vec::new());
            for g in from..(from + NAMES_PER_BLOCK).min(end) {
                let group = &c.groups[g];
                for i in group.range.clone() {
                    let set = &zone.rrsets[i];
                    check_sigs(zone, set, c.keys, c.opts, &mut buf, &mut checks);
                    count_sigs(&checks, c.opts, &mut part.stats);
                    report_sigs(set, &checks, &mut part);
                    check_coverage(zone, set, group.kind, &checks, c.keys, c.opts, &mut part);
                    check_algorithms(zone, set, group.kind, &checks, c.algs, &mut part);
                    check_ttls(zone, set, c.opts, &mut part);
                }
                if c.nsec_chain {
                    check_nsec(zone, c.groups, g, c.nsec_ttls, &mut part);
                }
            }
            part
        })
        .collect()
}

/// Puts the outcome of the RFC 8976 §4 ZONEMD check into the report: a digest that does
/// not match (or a malformed or duplicated record) makes the zone invalid (kind
/// `zonemd`); ZONEMD records that zonesign cannot compute are a finding, not a failure.
/// A serial that is not the SOA's is reported by [`check_structure`] already.
fn report_zonemd(
    zone: &Zone,
    outcome: std::result::Result<
        Option<crate::zone::zonemd::Checked>,
        crate::zone::zonemd::ZonemdError,
    >,
    report: &mut Report,
) {
    use crate::zone::zonemd::ZonemdError;
    let (origin, t) = (&zone.origin, rtype::ZONEMD);
    report.zonemd = match outcome {
        Ok(None) => "absent".into(),
        Ok(Some(c)) => format!("verified ({}, serial {})", c.hash, c.serial),
        Err(e @ ZonemdError::Unsupported { .. }) => {
            report.note("zonemd", origin, t, format!("not checked: {e}"));
            "not checked: no supported scheme and hash algorithm".into()
        }
        Err(e @ (ZonemdError::SerialMismatch { .. } | ZonemdError::NoSoa)) => {
            format!("not checked: {e}")
        }
        Err(e) => {
            report.add("zonemd", origin, t, e.to_string());
            "INVALID".into()
        }
    };
}

/// RFC 9276 limits on NSEC3 iterations, read from the NSEC3PARAM and NSEC3 RDATA
/// (hash algorithm, flags, then the 16-bit iterations field, RFC 5155 §3.2 and §4.2):
/// any iteration above 0 is a policy finding (§3.1), and above 150 validators may
/// treat the zone as insecure (§3.2). Each distinct value is reported once.
///
/// In the signing gate they are a finding only: the policy's `nsec3-iterations` was
/// judged when the policy was read (warned about, or refused above what validators
/// accept), and the gate must not refuse what the operator's policy allows.
fn check_nsec3_iterations(zone: &Zone, opts: &VerifyOptions, report: &mut Report) {
    let sets = zone
        .get(&zone.origin, rtype::NSEC3PARAM)
        .into_iter()
        .chain(zone.rrsets.iter().filter(|s| s.rtype == rtype::NSEC3));
    nsec3_iterations(sets, &mut Vec::new(), opts, report);
}

/// [`check_nsec3_iterations`] of `sets`, the values in `seen` already reported.
fn nsec3_iterations<'z>(
    sets: impl Iterator<Item = &'z RRset>,
    seen: &mut Vec<u16>,
    opts: &VerifyOptions,
    report: &mut Report,
) {
    for set in sets {
        for rdata in &set.rdatas {
            let Some(b) = rdata.get(2..4) else { continue };
            let n = u16::from_be_bytes([b[0], b[1]]);
            if n == 0 || seen.contains(&n) {
                continue;
            }
            seen.push(n);
            let mut msg = format!(
                "NSEC3 iterations {n}: RFC 9276 §3.1 says 0; extra iterations cost validators and protect nothing"
            );
            if n > 150 {
                msg.push_str(
                    "; above 150 validators may treat the zone as insecure (RFC 9276 §3.2)",
                );
            }
            if opts.expected.is_some() {
                report.note("policy", &set.owner, set.rtype, msg);
            } else {
                report.rule("nsec3-iterations", &set.owner, set.rtype, msg);
            }
        }
    }
}

/// Reads the apex DNSKEY RRset and marks the keys the anchors point at.
/// The zone's keys (and the expected unpublished signers); `tables`: whether P-256
/// keys may get their table (not for the second stage's few RRsets).
fn zone_keys(
    zone: &Zone,
    anchors: &[Anchor],
    opts: &VerifyOptions,
    tables: bool,
    report: &mut Report,
) -> Vec<ZoneKey> {
    let Some(set) = zone.get(&zone.origin, rtype::DNSKEY) else {
        report.add(
            "anchor",
            &zone.origin,
            rtype::DNSKEY,
            "no DNSKEY RRset at the apex".into(),
        );
        return Vec::new();
    };
    let mut owner = Vec::new();
    zone.origin.write_canonical(&mut owner);
    let mut keys = Vec::new();
    for rdata in &set.rdatas {
        let tag = crypto::key_tag(rdata);
        let flags = u16::from_be_bytes([
            rdata.first().copied().unwrap_or(0),
            rdata.get(1).copied().unwrap_or(0),
        ]);
        if flags & 0x0100 == 0 || rdata.get(2) != Some(&3) {
            continue; // not a zone key (RFC 4034 §2.1.1, §2.1.2): cannot sign zone data
        }
        match VerifyingKey::from_dnskey_rdata(rdata) {
            Ok(key) => {
                if key.is_rsa() && key.bits() < RSA_POLICY_MIN_BITS {
                    report.rule(
                        "key-size",
                        &zone.origin,
                        rtype::DNSKEY,
                        format!(
                            "key {tag}: RSA modulus of {} bits, below {RSA_POLICY_MIN_BITS} (RFC 8624 §3.1 and the practice statement, DPS-6.1)",
                            key.bits()
                        ),
                    );
                }
                // A P-256 table (50 ms per key) pays where thousands of RRsets are checked.
                let key = if tables && zone.rrsets.len() >= TABLE_RRSETS {
                    key.with_table()
                } else {
                    key
                };
                let anchored = anchors
                    .iter()
                    .any(|a| matches_anchor(a, &owner, rdata, tag));
                keys.push(ZoneKey {
                    tag,
                    algorithm: key.algorithm(),
                    key,
                    anchored,
                    published: true,
                });
            }
            Err(e) => report.add(
                "dnskey",
                &zone.origin,
                rtype::DNSKEY,
                format!("key {tag}: {e}"),
            ),
        }
    }
    for rdata in opts.expected.iter().flat_map(|e| &e.unpublished) {
        if let Ok(key) = VerifyingKey::from_dnskey_rdata(rdata) {
            keys.push(ZoneKey {
                tag: crypto::key_tag(rdata),
                algorithm: key.algorithm(),
                key,
                anchored: false,
                published: false,
            });
        }
    }
    report.anchored_keys = keys.iter().filter(|k| k.anchored).map(|k| k.tag).collect();
    if report.anchored_keys.is_empty() {
        report.add(
            "anchor",
            &zone.origin,
            rtype::DNSKEY,
            "no DNSKEY in the zone matches the trust anchor".into(),
        );
    }
    keys
}

fn matches_anchor(anchor: &Anchor, owner: &[u8], dnskey: &[u8], tag: u16) -> bool {
    match anchor {
        Anchor::Dnskey(k) => **k == *dnskey,
        Anchor::Ds(ds) => {
            if ds.len() < 4
                || u16::from_be_bytes([ds[0], ds[1]]) != tag
                || dnskey.get(3) != Some(&ds[2])
            {
                return false;
            }
            crypto::ds_digest(owner, dnskey, ds[3]).is_some_and(|d| d[..] == ds[4..])
        }
    }
}

/// Checks every signature of one RRset into `checks` (cleared first).
///
/// Per RRset, inside the parallel per-name blocks, rather than for the whole zone up
/// front: holding an outcome for each of 1.5 million signatures until the end of the
/// gate took about 200 MB at a million delegations (issue #5's memory target).
fn check_sigs(
    zone: &Zone,
    set: &RRset,
    keys: &[ZoneKey],
    opts: &VerifyOptions,
    buf: &mut Vec<u8>,
    checks: &mut Vec<SigCheck>,
) {
    checks.clear();
    checks.extend(
        set.sigs
            .iter()
            .map(|sig| check_sig(zone, set, sig, keys, opts, buf)),
    );
}

/// Adds one RRset's signature outcomes to the figures.
fn count_sigs(checks: &[SigCheck], opts: &VerifyOptions, stats: &mut Stats) {
    let limit = opts.expiring_within.map(|w| opts.now + i64::from(w));
    for c in checks {
        stats.signatures += usize::from(c.checked);
        stats.signatures_valid += usize::from(c.valid_by.is_some());
        stats.signatures_trusted += usize::from(c.trusted);
        if let Some(e) = c.expiration {
            stats.earliest_expiration = Some(stats.earliest_expiration.map_or(e, |x| x.min(e)));
            stats.expiring += usize::from(limit.is_some_and(|l| e <= l));
        }
    }
}

fn check_sig(
    zone: &Zone,
    set: &RRset,
    &Sig {
        ref rdata,
        provenance,
        ..
    }: &Sig,
    keys: &[ZoneKey],
    opts: &VerifyOptions,
    buf: &mut Vec<u8>,
) -> SigCheck {
    let mut c = SigCheck::default();
    let Some(sig) = Rrsig::parse(rdata) else {
        c.problems.push(("rrsig", "malformed RRSIG RDATA".into()));
        return c;
    };
    if let Some(p) = header_problem(zone, set, &sig) {
        c.problems.push(p);
        return c;
    }
    // Keys with the signature's tag and algorithm (a tag may collide, RFC 4034 §5.3.1),
    // walked twice rather than collected: no allocation per signature.
    let mut candidates = keys
        .iter()
        .filter(|k| k.tag == sig.key_tag && k.algorithm == sig.algorithm);
    if candidates.clone().next().is_none() {
        // Any signer's zone: a validator skips an RRSIG whose key it does not have (RFC
        // 4035 §5.3.1), and rollovers rely on that (RFC 6781 §4.1.4); the RRset then
        // needs another signature. The gate knows every key it signed with.
        c.unknown_key = true;
        if opts.expected.is_some() {
            c.problems.push((
                "unknown-key",
                format!(
                    "signed by key {} (algorithm {}), which is not in the DNSKEY RRset",
                    sig.key_tag, sig.algorithm
                ),
            ));
        }
        return c;
    }
    let published = candidates.clone().any(|k| k.published);
    let anchored = candidates.clone().any(|k| k.published && k.anchored);
    c.expiration = Some(expand_rrsig_time(sig.expiration, opts.now));
    c.trusted = opts.trust_carried && provenance.checked();
    if !c.trusted {
        buf.clear();
        rrsig::signed_data(sig.prefix, sig.labels, sig.original_ttl, set, buf);
        c.checked = true;
        if !candidates.any(|k| k.key.verify(buf, sig.signature).is_ok()) {
            c.problems.push((
                "signature",
                format!("signature by key {} does not verify", sig.key_tag),
            ));
            return c;
        }
    }
    match time_problem(&sig, opts) {
        Some(p) => c.problems.push(p),
        None => {
            c.valid_by = Some(sig.key_tag);
            c.valid_alg = published.then_some(sig.algorithm);
            c.valid_anchored = anchored;
        }
    }
    // A validity longer than the policy allows is a policy matter: the signature is
    // still valid by RFC 4035 §5.3.1 and still covers its RRset (issue 24).
    c.rules.extend(validity_problem(&sig, opts));
    c
}

/// Checks the RRSIG fields that must match the RRset before any crypto (RFC 4035 §5.3.1).
fn header_problem(zone: &Zone, set: &RRset, sig: &Rrsig) -> Option<(&'static str, String)> {
    if sig.signer != zone.origin {
        return Some((
            "rrsig",
            format!("signer name {} is not the zone apex", sig.signer),
        ));
    }
    if usize::from(sig.labels) > set.owner.label_count() {
        return Some((
            "rrsig",
            format!(
                "labels field {} exceeds the owner's label count",
                sig.labels
            ),
        ));
    }
    if sig.original_ttl != set.ttl {
        return Some((
            "ttl",
            format!(
                "original TTL {} differs from the RRset TTL {}",
                sig.original_ttl, set.ttl
            ),
        ));
    }
    None
}

fn time_problem(sig: &Rrsig, opts: &VerifyOptions) -> Option<(&'static str, String)> {
    let exp = expand_rrsig_time(sig.expiration, opts.now);
    let inc = expand_rrsig_time(sig.inception, opts.now);
    let show = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%SZ")
            .to_string()
    };
    if opts.now > exp {
        return Some((
            "expired",
            format!("signature by key {} expired at {}", sig.key_tag, show(exp)),
        ));
    }
    if opts.now < inc {
        return Some((
            "not-yet-valid",
            format!(
                "signature by key {} is valid only from {}",
                sig.key_tag,
                show(inc)
            ),
        ));
    }
    None
}

/// A validity period longer than the policy's maximum (DPS-6.5): a policy rule.
fn validity_problem(sig: &Rrsig, opts: &VerifyOptions) -> Option<(&'static str, String)> {
    let exp = expand_rrsig_time(sig.expiration, opts.now);
    let inc = expand_rrsig_time(sig.inception, opts.now);
    if let Some(max) = opts.max_validity
        && exp - inc > i64::from(max)
    {
        let days = (exp - inc) as f64 / 86_400.0;
        return Some((
            "validity-too-long",
            format!(
                "signature by key {} is valid for {days:.2} days, more than {:.2} (DPS-6.5)",
                sig.key_tag,
                f64::from(max) / 86_400.0
            ),
        ));
    }
    None
}

fn report_sigs(set: &RRset, checks: &[SigCheck], report: &mut Report) {
    for c in checks {
        for (kind, msg) in &c.problems {
            report.add(kind, &set.owner, set.rtype, msg.clone());
        }
        for (kind, msg) in &c.rules {
            report.rule(kind, &set.owner, set.rtype, msg.clone());
        }
    }
}

/// Every RRset that must be signed has a valid signature from a zone key; the DNSKEY
/// RRset from an anchored key; nothing else carries signatures.
fn check_coverage(
    zone: &Zone,
    set: &RRset,
    kind: Kind,
    checks: &[SigCheck],
    keys: &[ZoneKey],
    opts: &VerifyOptions,
    report: &mut Report,
) {
    let valid: Vec<u16> = checks.iter().filter_map(|c| c.valid_by).collect();
    if !kind.must_sign(set.rtype) {
        if !set.sigs.is_empty() {
            report.add(
                "signed-non-authoritative",
                &set.owner,
                set.rtype,
                format!(
                    "RRSIG on data the zone is not authoritative for: {} {}",
                    type_name(set.rtype),
                    match kind {
                        Kind::Delegation => "at a delegation",
                        other => other.what(),
                    }
                ),
            );
        }
        return;
    }
    if valid.is_empty() {
        let msg = if set.sigs.is_empty() {
            "RRset is not signed"
        } else if checks.iter().all(|c| c.unknown_key) {
            "RRset is signed only by keys that are not in the DNSKEY RRset"
        } else {
            "no valid signature covers this RRset"
        };
        report.add("unsigned", &set.owner, set.rtype, msg.into());
        return;
    }
    if set.rtype == rtype::DNSKEY
        && set.owner == zone.origin
        && !valid
            .iter()
            .any(|t| keys.iter().any(|k| k.anchored && k.tag == *t))
    {
        report.add(
            "anchor",
            &set.owner,
            set.rtype,
            "the DNSKEY RRset is not signed by a key that matches the trust anchor".into(),
        );
    }
    if let Some(exp) = &opts.expected {
        let (want, other) = if set.rtype == rtype::DNSKEY {
            (&exp.ksk, &exp.zsk)
        } else {
            (&exp.zsk, &exp.ksk)
        };
        for tag in want.iter().filter(|t| !valid.contains(t)) {
            report.add(
                "key-split",
                &set.owner,
                set.rtype,
                format!("not signed by active key {tag} (DPS-6.1)"),
            );
        }
        for tag in valid
            .iter()
            .filter(|t| other.contains(t) && !want.contains(t))
        {
            report.add(
                "key-split",
                &set.owner,
                set.rtype,
                format!("signed by key {tag}, whose role must not sign this RRset (DPS-6.1)"),
            );
        }
    }
}

/// The algorithms every signed RRset needs (RFC 4035 §2.2) and those the DNSKEY RRset
/// needs a signature by an anchored key of (the parent's DS set).
struct Algorithms {
    /// Algorithms of the zone keys in the apex DNSKEY RRset.
    zone: Vec<u8>,
    /// Algorithms of the anchor's DS records (or trusted DNSKEYs).
    anchor: Vec<u8>,
}

impl Algorithms {
    fn of(keys: &[ZoneKey], anchors: &[Anchor]) -> Algorithms {
        let mut zone: Vec<u8> = keys
            .iter()
            .filter(|k| k.published)
            .map(|k| k.algorithm)
            .collect();
        zone.sort_unstable();
        zone.dedup();
        let mut anchor: Vec<u8> = anchors
            .iter()
            .filter_map(|a| match a {
                Anchor::Ds(ds) => ds.get(2).copied(),
                Anchor::Dnskey(k) => k.get(3).copied(),
            })
            .collect();
        anchor.sort_unstable();
        anchor.dedup();
        Algorithms { zone, anchor }
    }
}

/// RFC 4035 §2.2: every algorithm of the apex DNSKEY RRset signs every signed RRset (a
/// validator that insists on it fails otherwise, and a cache may hold this RRset with
/// any DNSKEY RRset of the same step). The DNSKEY RRset carries a valid signature by an
/// anchored key of every algorithm of the parent's DS set.
fn check_algorithms(
    zone: &Zone,
    set: &RRset,
    kind: Kind,
    checks: &[SigCheck],
    algs: &Algorithms,
    report: &mut Report,
) {
    if !kind.must_sign(set.rtype) || checks.iter().all(|c| c.valid_by.is_none()) {
        return; // unsigned: already reported by the coverage check
    }
    for alg in &algs.zone {
        if !checks.iter().any(|c| c.valid_alg == Some(*alg)) {
            report.add(
                "algorithm",
                &set.owner,
                set.rtype,
                format!(
                    "no valid signature of algorithm {alg}, which the DNSKEY RRset has (RFC 4035 section 2.2)"
                ),
            );
        }
    }
    if set.rtype == rtype::DNSKEY && set.owner == zone.origin {
        for alg in &algs.anchor {
            if !checks
                .iter()
                .any(|c| c.valid_anchored && c.valid_alg == Some(*alg))
            {
                report.add(
                    "anchor",
                    &set.owner,
                    set.rtype,
                    format!(
                        "the trust anchor has a DS of algorithm {alg}, but no key of that algorithm in the DNSKEY RRset signs it"
                    ),
                );
            }
        }
    }
}

fn check_ttls(zone: &Zone, set: &RRset, opts: &VerifyOptions, report: &mut Report) {
    for sig in set.sigs.iter().filter(|s| s.ttl != set.ttl) {
        report.add(
            "ttl",
            &set.owner,
            set.rtype,
            format!(
                "RRSIG TTL {} differs from the RRset TTL {} (DPS-6.7)",
                sig.ttl, set.ttl
            ),
        );
    }
    let Some(rules) = opts.ttl_rules else { return };
    let want = match set.rtype {
        rtype::DNSKEY if set.owner == zone.origin => Some(rules.dnskey),
        rtype::DS => Some(rules.ds),
        rtype::NSEC | rtype::NSEC3 => Some(rules.nsec),
        _ => None,
    };
    if let Some(w) = want.filter(|w| *w != set.ttl) {
        report.rule(
            "ttl",
            &set.owner,
            set.rtype,
            format!("TTL {} where policy requires {w} (DPS-6.7)", set.ttl),
        );
    }
}

fn check_structure(zone: &Zone, report: &mut Report) {
    if let Some(set) = names::out_of_order(zone) {
        report.add(
            "structure",
            &set.owner,
            set.rtype,
            "RRsets are not in canonical order (RFC 4034 §6.1) from here on".into(),
        );
    }
    let serial = zone
        .soa()
        .and_then(|s| s.rdatas.first())
        .and_then(soa_serial);
    if serial.is_none() {
        report.add(
            "structure",
            &zone.origin,
            rtype::SOA,
            "no SOA at the apex".into(),
        );
    }
    // RFC 8976 §4: a ZONEMD whose serial is not the SOA's describes another version of
    // the zone; its digest cannot be right (a stale input ZONEMD carried into the output).
    // Beside one of the SOA serial it is only ignored by the RFC's verification: a
    // policy finding then (a signer should not publish it), a problem otherwise.
    if let (Some(zonemd), Some(serial)) = (zone.get(&zone.origin, rtype::ZONEMD), serial) {
        let serial_of = |rdata: &[u8]| {
            rdata
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let current = zonemd.rdatas.iter().any(|r| serial_of(r) == Some(serial));
        for have in zonemd.rdatas.iter().map(serial_of) {
            if have == Some(serial) {
                continue;
            }
            let have = have.map_or_else(|| "(malformed)".to_string(), |s| s.to_string());
            if current {
                report.rule(
                    "zonemd",
                    &zone.origin,
                    rtype::ZONEMD,
                    format!(
                        "ZONEMD serial {have} is not the SOA serial {serial}: a stale digest beside the current one, ignored by validators (RFC 8976 §4)"
                    ),
                );
            } else {
                report.add(
                    "zonemd",
                    &zone.origin,
                    rtype::ZONEMD,
                    format!(
                        "ZONEMD serial {have} is not the SOA serial {serial}: the digest is stale (RFC 8976 §4)"
                    ),
                );
            }
        }
    }
}

/// Checks the NSEC3 chains ([`nsec3`]) and says whether the NSEC chain must be checked
/// too: always, unless the zone denies with NSEC3 and has no NSEC at all. A zone moving
/// between the two carries both, and then each must be complete and correct.
fn needs_nsec_chain(
    zone: &Zone,
    groups: &[GateName],
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) -> bool {
    let uses_nsec3 = nsec3::check(zone, groups, allowed_ttls, report);
    !uses_nsec3 || zone.rrsets.par_iter().any(|s| s.rtype == rtype::NSEC)
}

/// The NSEC at name group `g`: present exactly where the chain needs it, pointing to
/// the next chained name, with the bitmap the data implies, and an allowed TTL.
fn check_nsec(
    zone: &Zone,
    groups: &[GateName],
    g: usize,
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) {
    let group = &groups[g];
    let sets = &zone.rrsets[group.range.clone()];
    let owner = &sets[0].owner;
    let nsec = sets.iter().find(|s| s.rtype == rtype::NSEC);
    if !group.kind.chained() {
        if nsec.is_some() {
            report.add(
                "nsec-extra",
                owner,
                rtype::NSEC,
                format!(
                    "NSEC at {}, which has no place in the chain",
                    group.kind.what()
                ),
            );
        }
        return;
    }
    let Some(nsec) = nsec else {
        report.add(
            "nsec-missing",
            owner,
            rtype::NSEC,
            "name has no NSEC record; the chain is broken".into(),
        );
        return;
    };
    report.stats.nsec += nsec.rdatas.len();
    if nsec.rdatas.len() != 1 {
        report.add(
            "nsec",
            owner,
            rtype::NSEC,
            format!("{} NSEC records at one name", nsec.rdatas.len()),
        );
    }
    let expected_next = groups[g + 1..]
        .iter()
        .find(|n| n.kind.chained())
        .map_or(&zone.origin, |n| &zone.rrsets[n.range.start].owner);
    let rdata = &nsec.rdatas[0];
    let Some((next, bits)) = read_wire_name(rdata)
        .ok()
        .and_then(|(n, l)| Some((n, rdata.get(l..)?)))
    else {
        report.add("nsec", owner, rtype::NSEC, "malformed NSEC RDATA".into());
        return;
    };
    if next != *expected_next {
        report.add(
            "nsec-next",
            owner,
            rtype::NSEC,
            format!("next name is {next}, expected {expected_next}"),
        );
    }
    let want = names::nsec_types(group.kind, sets);
    match decode_type_bitmap(bits) {
        Ok(have) if have == want => {}
        Ok(have) => {
            let show = |v: &[u16]| {
                v.iter()
                    .map(|&t| type_name(t))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            report.add(
                "nsec-bitmap",
                owner,
                rtype::NSEC,
                format!(
                    "bitmap lists [{}], the data has [{}]",
                    show(&have),
                    show(&want)
                ),
            );
        }
        Err(e) => report.add(
            "nsec-bitmap",
            owner,
            rtype::NSEC,
            format!("bad type bitmap: {e}"),
        ),
    }
    if let Some(allowed) = allowed_ttls
        && !allowed.contains(&nsec.ttl)
    {
        let minimum = allowed[0];
        report.add("ttl", &nsec.owner, rtype::NSEC, format!("NSEC TTL {} is neither the SOA minimum {minimum} nor min(SOA TTL, minimum) (RFC 4034 §4, RFC 9077)", nsec.ttl));
    }
}

/// The NSEC TTLs RFC 4034 §4 and RFC 9077 allow: the SOA minimum, or the smaller of it
/// and the SOA TTL; `None` without a SOA (reported elsewhere).
fn allowed_nsec_ttls(zone: &Zone) -> Option<[u32; 2]> {
    let soa = zone.soa()?;
    let minimum = soa.rdatas.first().and_then(soa_minimum)?;
    Some([minimum, minimum.min(soa.ttl)])
}

/// The SERIAL field of SOA RDATA: the four octets after the two names.
fn soa_serial(rdata: &[u8]) -> Option<u32> {
    let (_, m) = read_wire_name(rdata).ok()?;
    let (_, r) = read_wire_name(rdata.get(m..)?).ok()?;
    let b = rdata.get(m + r..m + r + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The MINIMUM field: the last four bytes of SOA RDATA.
pub fn soa_minimum(rdata: &[u8]) -> Option<u32> {
    let b = rdata.get(rdata.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
