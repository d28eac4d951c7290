//! The ingress stage of `sign` (PIPE-1, PIPE-2): decides which unsigned zone this run
//! signs, the new input or the approved zone.
//!
//! The input must parse, pass the zone checks, keep its apex servable, stay within the
//! change limits against the approved zone ([`crate::zone::ingress`]) and satisfy the
//! operator's check programs ([`crate::ops::check_programs`]). If it does not, and an
//! approved zone exists, the approved zone is signed instead: a registry's export going
//! wrong must never let the published zone's signatures run out (a rejection every two
//! hours for two weeks would otherwise take the TLD down). The run then ends with exit
//! code 7, which says "the published zone is safe; the input is not".

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::audit::{AuditLog, Event};
use crate::config::Config;
use crate::dns::zonefile;
use crate::dnssec::policy::Policy;
use crate::dnssec::resign::soa_serial;
use crate::error::{Error, Result, UsageError};
use crate::ops::check_programs::{self, CheckProgram, Env, Verdict};
use crate::ops::pipeline::{Checked, SignRequest, check_parsed, read_and_check};
use crate::store::approved::{self, ApprovedInfo, Candidate, Copied};
use crate::zone::Zone;
use crate::zone::ingress::{self, Delta, Exceeded, Fingerprint, IngressSection};

/// The environment variable naming the candidate zone file for ingress checks.
pub const CANDIDATE_ENV: &str = "ZONESIGN_CANDIDATE";
/// The environment variable naming the approved zone file (unset on a first run).
pub const APPROVED_ENV: &str = "ZONESIGN_APPROVED";
/// The environment variable holding the zone's origin.
pub const ORIGIN_ENV: &str = "ZONESIGN_ORIGIN";
/// The environment variable naming the signed temporary file for egress checks.
pub const SIGNED_ENV: &str = "ZONESIGN_SIGNED";

/// What became of the new input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputStatus {
    /// It passed everything and is (or, in a dry run, would be) the approved zone.
    #[default]
    Accepted,
    /// It exceeded change limits and `--accept-changes` accepted it.
    AcceptedOverLimits,
    /// It failed; the approved zone was signed instead (or, on a first run, nothing).
    Rejected,
}

/// The ingress part of the run's summary and report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputOutcome {
    /// Accepted or rejected.
    pub status: InputStatus,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The limits it exceeded (accepted anyway, or the reason of the rejection).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceeded: Vec<String>,
    /// Its delegations against the approved zone's, when both were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
    /// Check programs run and passed.
    pub checks_passed: usize,
    /// What the input's ZONEMD said (PIPE-3), when the input got that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zonemd: Option<crate::ops::zonemd_steps::InputZonemd>,
    /// The serial of the approved zone (after this run: the input's if it was accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_serial: Option<u32>,
    /// When that zone was approved, seconds since the epoch (RFC 3339 in the report).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "approved_at_text"
    )]
    pub approved_at: Option<i64>,
}

/// The report writes times in RFC 3339, UTC.
fn approved_at_text<S: serde::Serializer>(
    t: &Option<i64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::ops::report::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

impl InputOutcome {
    /// Whether the approved zone was signed instead of the input.
    pub fn rejected(&self) -> bool {
        self.status == InputStatus::Rejected
    }
}

/// The zone the run goes on to sign, and what to commit when it is published.
pub struct Admitted {
    /// The unsigned zone, checked and in canonical order.
    pub zone: Zone,
    /// What the checks found that does not stop signing.
    pub checked: Checked,
    /// What became of the input.
    pub input: InputOutcome,
    /// The input as the next approved zone, when it is new; committed just before the
    /// signed output is renamed into place ([`Candidate::commit`]).
    pub candidate: Option<Candidate>,
}

/// The `[ingress]` and `[egress]` settings with their programs checked to exist.
pub struct Settings {
    ingress: IngressSection,
    ingress_programs: Vec<CheckProgram>,
    egress_programs: Vec<CheckProgram>,
    egress_timeout: Duration,
}

impl Settings {
    /// Reads the tables and checks, before any work, that every program exists and can
    /// run: a missing one is a configuration error (exit 2), not a rejected input.
    pub fn load(cfg: &Config, policy: &Policy) -> Result<Settings> {
        let (ingress, egress) = cfg.pipeline_checks(policy)?;
        let ingress_programs = programs(&ingress.checks, "[ingress] checks")?;
        let egress_programs = programs(&egress.checks, "[egress] checks")?;
        Ok(Settings {
            ingress_programs,
            egress_programs,
            egress_timeout: timeout(egress.check_timeout),
            ingress,
        })
    }
}

fn programs(argvs: &[Vec<String>], key: &str) -> Result<Vec<CheckProgram>> {
    let usage =
        |e: check_programs::ProgramError| Error::Usage(UsageError::CheckProgram(e.to_string()));
    let list = argvs
        .iter()
        .map(|a| CheckProgram::new(a.clone()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(usage)?;
    check_programs::check_configured(&list, key).map_err(usage)?;
    Ok(list)
}

/// A configured `check-timeout`; zero would kill every program at its start, so it
/// counts as one second.
fn timeout(seconds: u32) -> Duration {
    Duration::from_secs(u64::from(seconds.max(1)))
}

/// Reads the new input and decides: the input, or the approved zone.
pub fn admit(
    cfg: &Config,
    req: &SignRequest,
    policy: &Policy,
    settings: &Settings,
) -> Result<Admitted> {
    let approved = approved_info(&req.out);
    let refuse = |reason: String, exceeded: Vec<String>, delta: Option<Delta>| {
        sign_approved_instead(cfg, req, policy, approved.as_ref(), reason, exceeded, delta)
    };
    // The candidate file (check programs read it; it becomes the approved zone) is the
    // input's bytes, copied while they are parsed; a dry run without check programs
    // needs none.
    let needs_file = !req.dry_run || !settings.ingress_programs.is_empty();
    let read = zonefile::parse_file_sharing(&req.zone_file, &req.origin, |bytes| {
        needs_file
            .then(|| {
                approved::write_verbatim(bytes, &req.out, &req.origin, req.now, approved.as_ref())
            })
            .transpose()
    });
    let (parsed, copy) = match read {
        Ok((parsed, copy)) => (parsed, copy?),
        Err(e) if approved.is_some() => return refuse(e.to_string(), Vec::new(), None),
        Err(e) => return Err(e),
    };
    let included = parsed.files.len() > 1;
    let (zone, checked) =
        match check_parsed(parsed, &req.zone_file, &req.origin, policy, req.strict) {
            Ok(read) => read,
            Err(e) if approved.is_some() => return refuse(e.to_string(), Vec::new(), None),
            Err(e) => return Err(e),
        };
    // PIPE-3: an input whose ZONEMD does not verify (or, if required, has none) is
    // rejected like any other failed input.
    if let Some(reason) = checked.zonemd.rejection(policy.require_input_zonemd) {
        return refuse(reason, Vec::new(), None);
    }
    let apex = ingress::apex_problems(&zone);
    if !apex.is_empty() {
        return refuse(apex.join("; "), Vec::new(), None);
    }
    let serial = zone
        .soa()
        .and_then(|s| soa_serial(&s.rdatas[0]))
        .unwrap_or(0);
    let fingerprints = ingress::fingerprints(&zone);
    let delta = match &approved {
        Some(info) => Some(delta_against(&req.out, info, &zone, &fingerprints, policy)?),
        None => None,
    };
    let exceeded = ingress::judge(
        delta.as_ref(),
        fingerprints.len() as u64,
        approved.as_ref().map(|a| (serial, a.serial)),
        &settings.ingress,
    );
    let exceeded_text: Vec<String> = exceeded.iter().map(Exceeded::to_string).collect();
    let mut input = InputOutcome {
        zonemd: Some(checked.zonemd.clone()),
        delta: delta.clone(),
        exceeded: exceeded_text.clone(),
        ..InputOutcome::default()
    };
    if !exceeded.is_empty() {
        if !req.accept_changes {
            let reason = format!(
                "{} (sign with --accept-changes if this change is intended)",
                exceeded_text.join("; ")
            );
            return refuse(reason, exceeded_text, delta);
        }
        input.status = InputStatus::AcceptedOverLimits;
        if !req.dry_run {
            record(
                cfg,
                Event::ChangesAccepted {
                    zone: req.origin.to_string(),
                    exceeded: exceeded_text,
                    delta: delta.clone().unwrap_or_default(),
                },
            )?;
        }
    }
    // An input with `$INCLUDE`s is more than its file's bytes: it is rendered whole.
    let candidate = match copy {
        _ if included && needs_file => Some(approved::write_candidate(
            &zone,
            &req.out,
            serial,
            req.now,
            &fingerprints,
        )?),
        Some(Copied::Written(v)) => Some(v.finish(serial, &fingerprints)?),
        Some(Copied::Same) | None => None,
    };
    let candidate_path = candidate
        .as_ref()
        .map(|c| c.path().to_path_buf())
        .or_else(|| approved.as_ref().map(|a| a.path.clone()));
    if let Some(path) = candidate_path.filter(|_| !settings.ingress_programs.is_empty()) {
        let env = Env::new()
            .set(CANDIDATE_ENV, path)
            .set(ORIGIN_ENV, req.origin.to_string());
        let env = match &approved {
            Some(a) => env.set(APPROVED_ENV, &a.path),
            None => env.unset(APPROVED_ENV),
        };
        let verdict = check_programs::run_all(
            &settings.ingress_programs,
            &env,
            timeout(settings.ingress.check_timeout),
        )
        .map_err(|e| Error::Usage(UsageError::CheckProgram(e.to_string())))?;
        if let Verdict::Fail(failure) = verdict {
            drop(candidate);
            return refuse(failure.to_string(), Vec::new(), delta);
        }
        input.checks_passed = settings.ingress_programs.len();
    }
    let candidate = candidate.filter(|c| !c.same_as(approved.as_ref()));
    match (&candidate, &approved) {
        (Some(c), _) => {
            input.approved_serial = Some(c.info.serial);
            input.approved_at = Some(c.info.approved_at);
        }
        (None, Some(a)) => {
            input.approved_serial = Some(a.serial);
            input.approved_at = Some(a.approved_at);
        }
        (None, None) => {}
    }
    Ok(Admitted {
        zone,
        checked,
        input,
        candidate,
    })
}

/// The approved zone's header, or `None` with a warning when it cannot be read (then a
/// good input replaces it, and a bad one fails as on a first run).
fn approved_info(out: &Path) -> Option<ApprovedInfo> {
    approved::read_info(out).unwrap_or_else(|e| {
        eprintln!("zonesign: warning: {e}; it is not used");
        None
    })
}

/// The candidate's delegations against the approved zone's, with the count of new or
/// changed ones that name an in-zone server without an address.
fn delta_against(
    out: &Path,
    info: &ApprovedInfo,
    zone: &Zone,
    fingerprints: &[Fingerprint],
    policy: &Policy,
) -> Result<Delta> {
    let approved = match approved::read_index(out, info) {
        Some(list) => list,
        // A kill between the index's rename and the text's, or a lost index: the text
        // is the truth, read once (slow at TLD size, and rare).
        None => {
            approved::check_digest(info)?;
            let (zone, _) = read_and_check(&info.path, &zone.origin, policy, false)?;
            ingress::fingerprints(&zone)
        }
    };
    let (mut delta, touched) = ingress::compare(&approved, fingerprints);
    delta.ns_without_address = ingress::count_ns_without_address(zone, &touched);
    Ok(delta)
}

/// Signs the approved zone instead of a rejected input; on a first run, with nothing
/// approved, the run fails as it always has (exit 2, nothing written).
fn sign_approved_instead(
    cfg: &Config,
    req: &SignRequest,
    policy: &Policy,
    approved: Option<&ApprovedInfo>,
    reason: String,
    exceeded: Vec<String>,
    delta: Option<Delta>,
) -> Result<Admitted> {
    let event = Event::InputRejected {
        zone: req.origin.to_string(),
        reason: reason.clone(),
        approved_serial: approved.map(|a| a.serial),
        approved_at: approved.map(ApprovedInfo::approved_at_text),
    };
    if !req.dry_run {
        record(cfg, event)?;
    }
    let Some(info) = approved else {
        return Err(Error::InputRejected(reason));
    };
    approved::check_digest(info)?;
    let (zone, checked) = read_and_check(&info.path, &req.origin, policy, false).map_err(|e| {
        Error::InputRejected(format!(
            "{reason}; and the approved zone {} no longer passes the checks: {e}",
            info.path.display()
        ))
    })?;
    Ok(Admitted {
        zone,
        checked,
        input: InputOutcome {
            status: InputStatus::Rejected,
            reason: Some(reason),
            exceeded,
            delta,
            checks_passed: 0,
            zonemd: None,
            approved_serial: Some(info.serial),
            approved_at: Some(info.approved_at),
        },
        candidate: None,
    })
}

fn record(cfg: &Config, event: Event) -> Result<()> {
    AuditLog::new(&cfg.files.audit_log, "sign")
        .record(event)
        .map_err(|e| Error::io(&cfg.files.audit_log, e))
}

/// Runs the `[egress]` programs on the signed temporary file, after the gate and before
/// the rename: a refusal leaves the published zone as it was (exit 1).
pub fn egress_checks(settings: &Settings, signed: &Path, origin: &str) -> Result<()> {
    if settings.egress_programs.is_empty() {
        return Ok(());
    }
    let env = Env::new()
        .set(SIGNED_ENV, signed)
        .set(ORIGIN_ENV, origin)
        .unset(CANDIDATE_ENV)
        .unset(APPROVED_ENV);
    match check_programs::run_all(&settings.egress_programs, &env, settings.egress_timeout)
        .map_err(|e| Error::Usage(UsageError::CheckProgram(e.to_string())))?
    {
        Verdict::Pass => Ok(()),
        Verdict::Fail(f) => Err(Error::EgressRejected(format!(
            "the signed zone was refused by an [egress] check; nothing was published: {f}"
        ))),
    }
}
