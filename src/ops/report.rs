//! Run reports for cron and monitoring: the JSON report (`--report`) and the Prometheus
//! textfile (`--metrics`) of a signing run (issue #4).
//!
//! The failure mode that takes TLDs down is a re-sign job that silently stopped, so a
//! failed run writes these too: its exit code and error, while the figures of the last
//! good run (its time, the earliest expiry in the published zone) are carried forward.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::ExitCode;
use crate::error::{Error, Result};
use crate::ops::ingress::{InputOutcome, InputStatus};
use crate::ops::pipeline::SignSummary;
use crate::store::output::write_atomic;

/// The JSON report of one `sign` run.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// Zone origin.
    pub zone: String,
    /// Signing time, RFC 3339 UTC.
    pub time: String,
    /// The run's exit code.
    pub exit_code: i32,
    /// The error, for a failed run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// True when the output was left as it was.
    pub unchanged: bool,
    /// SOA serial of the output.
    pub serial: u32,
    /// RRsets in the zone.
    pub rrsets: usize,
    /// Signatures carried over.
    pub signatures_reused: usize,
    /// Signatures made (or, in a dry run, that would be made).
    pub signatures_made: usize,
    /// Signatures made per reason.
    pub reasons: BTreeMap<&'static str, usize>,
    /// Owner names added.
    pub names_added: usize,
    /// Owner names removed.
    pub names_removed: usize,
    /// Earliest signature expiration in the output (RFC 3339), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_expiration: Option<String>,
    /// Wall time in seconds.
    pub elapsed_seconds: f64,
    /// The first RRsets re-signed, with the reason.
    pub resigned: Vec<Resigned>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// NS records whose in-zone target has no A or AAAA record (each also a warning;
    /// an error with `--strict`).
    pub ns_without_address: usize,
    /// What became of the new input (PIPE-1): accepted or rejected, with the reason,
    /// the delegations' delta against the approved zone and that zone's serial and time.
    pub input: InputOutcome,
    /// The proof of unchanged data (PIPE-4): content digests of the admitted input and
    /// of the signed zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<crate::audit::ContentDigests>,
    /// Wall time of each stage in seconds, in order.
    pub stages: Vec<Stage>,
    /// Denial of existence in the output (issue 24).
    pub denial: DenialReport,
}

/// What denial of existence the output uses, and how much of it was carried over.
#[derive(Debug, Serialize)]
pub struct DenialReport {
    /// `nsec` or `nsec3`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// NSEC records.
    pub nsec: usize,
    /// NSEC3 records.
    pub nsec3: usize,
    /// Signatures over NSEC3 RRsets carried over from the previous output.
    pub nsec3_signatures_reused: usize,
}

/// The wall time of one stage of the run.
#[derive(Debug, Serialize)]
pub struct Stage {
    /// What the stage does.
    pub stage: &'static str,
    /// Seconds.
    pub seconds: f64,
}

/// One RRset that got a new signature, and why.
#[derive(Debug, Serialize)]
pub struct Resigned {
    /// Owner name.
    pub owner: String,
    /// Record type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// `changed`, `expiring`, `key` or `untrusted`.
    pub reason: &'static str,
}

pub(crate) fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl RunReport {
    /// The report of a finished run.
    pub fn from_summary(zone: &str, now: i64, s: &SignSummary) -> RunReport {
        RunReport {
            zone: zone.to_string(),
            time: rfc3339(now),
            exit_code: if s.input.rejected() {
                ExitCode::InputRejected.code()
            } else {
                0
            },
            error: None,
            dry_run: s.dry_run,
            unchanged: s.unchanged,
            serial: s.serial,
            rrsets: s.rrsets,
            signatures_reused: s.signatures_reused,
            signatures_made: s.signatures_made,
            reasons: s.reasons.clone(),
            names_added: s.names_added,
            names_removed: s.names_removed,
            earliest_expiration: s.earliest_expiration.map(rfc3339),
            elapsed_seconds: s.elapsed.as_secs_f64(),
            resigned: s
                .details
                .iter()
                .map(|(o, t, r)| Resigned {
                    owner: o.clone(),
                    rtype: t.clone(),
                    reason: r,
                })
                .collect(),
            warnings: s.warnings.clone(),
            ns_without_address: s.ns_without_address,
            input: s.input.clone(),
            content: s.content.clone(),
            stages: s
                .stages
                .iter()
                .map(|(stage, seconds)| Stage {
                    stage,
                    seconds: *seconds,
                })
                .collect(),
            denial: DenialReport {
                kind: s.denial,
                nsec: s.nsec,
                nsec3: s.nsec3,
                nsec3_signatures_reused: s.nsec3_signatures_reused,
            },
        }
    }

    /// The report of a failed run.
    pub fn from_error(zone: &str, now: i64, e: &Error, elapsed: f64) -> RunReport {
        let mut r = RunReport::from_summary(zone, now, &SignSummary::default());
        r.exit_code = e.exit_code() as i32;
        r.error = Some(e.to_string());
        if let Error::InputRejected(reason) = e {
            r.input.status = InputStatus::Rejected;
            r.input.reason = Some(reason.clone());
        }
        r.elapsed_seconds = elapsed;
        r
    }

    /// The one line for cron's mail (stdout, unless `--quiet`), with the count of NS
    /// records without an address when there are any (each is also a warning).
    pub fn summary_line(&self, out: &Path) -> String {
        let mut line = self.summary_base(out);
        match self.input.status {
            InputStatus::Rejected if !self.dry_run => line.push_str(&format!(
                "; INPUT REJECTED: this is the approved zone (serial {}), exit 7",
                self.input
                    .approved_serial
                    .map_or_else(|| "?".into(), |s| s.to_string())
            )),
            InputStatus::AcceptedOverLimits => {
                line.push_str("; input accepted over the change limits (--accept-changes)")
            }
            _ => {}
        }
        if self.ns_without_address > 0 {
            line.push_str(&format!(
                "; {} NS record(s) name an in-zone server without an address (warnings; --strict refuses them)",
                self.ns_without_address
            ));
        }
        line
    }

    /// Why the input was rejected and what was signed instead (exit code 7).
    pub fn rejection_line(&self) -> String {
        let reason = self.input.reason.as_deref().unwrap_or("unknown");
        let serial = self
            .input
            .approved_serial
            .map_or_else(|| "?".into(), |s| s.to_string());
        let at = self.input.approved_at.map_or_else(|| "?".into(), rfc3339);
        let what = if self.dry_run {
            "would be signed instead"
        } else {
            "was signed instead"
        };
        format!(
            "input rejected: {reason}; the approved zone (serial {serial}, approved at {at}) {what}"
        )
    }

    /// The ingress decision in a few lines (`--dry-run`): the delta, the limits exceeded
    /// and the check programs' verdict.
    pub fn input_lines(&self) -> Vec<String> {
        let i = &self.input;
        let mut lines = Vec::new();
        match &i.delta {
            Some(d) => lines.push(format!(
                "delegations: {} approved, {} in the input: {} removed, {} added, {} changed, {} new or changed naming an in-zone server without an address",
                d.approved, d.candidate, d.removed, d.added, d.changed, d.ns_without_address
            )),
            None => lines.push("no approved zone yet: only the floor and the apex are checked".into()),
        }
        for e in &i.exceeded {
            lines.push(format!("limit exceeded: {e}"));
        }
        lines.push(match i.status {
            InputStatus::Accepted => format!(
                "input would be accepted ({} check program(s) passed)",
                i.checks_passed
            ),
            InputStatus::AcceptedOverLimits => format!(
                "input would be accepted over the limits (--accept-changes; {} check program(s) passed)",
                i.checks_passed
            ),
            InputStatus::Rejected => {
                "input would be rejected (why: the last line, on stderr); the approved zone would be signed instead".into()
            }
        });
        lines
    }

    /// [`RunReport::summary_line`] without the count.
    fn summary_base(&self, out: &Path) -> String {
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let why = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        };
        if self.dry_run {
            return format!(
                "zonesign: dry run for {}: would make {} signatures{why} and reuse {}; {} RRsets; names +{} -{}; nothing written",
                self.zone,
                self.signatures_made,
                self.signatures_reused,
                self.rrsets,
                self.names_added,
                self.names_removed
            );
        }
        if self.unchanged {
            return format!(
                "zonesign: {} unchanged: serial {}, {} RRsets, {} signatures still valid, none due; {} left as it was; {:.1}s",
                self.zone,
                self.serial,
                self.rrsets,
                self.signatures_reused,
                out.display(),
                self.elapsed_seconds
            );
        }
        format!(
            "zonesign: {} serial {}: {} RRsets, {} signatures reused, {} made{why}, names +{} -{}, verified, written to {} in {:.1}s",
            self.zone,
            self.serial,
            self.rrsets,
            self.signatures_reused,
            self.signatures_made,
            self.names_added,
            self.names_removed,
            out.display(),
            self.elapsed_seconds
        )
    }

    /// Writes the report as JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        write_atomic(path, text.as_bytes())
    }

    /// Writes the Prometheus textfile (for node_exporter's textfile collector), atomically.
    ///
    /// A failed or dry run keeps the previous file's last-success time and zone figures,
    /// so an alert on "last success too old" or "earliest expiry too close" keeps working.
    pub fn write_metrics(&self, path: &Path, now: i64) -> Result<()> {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let previous = |name: &str| -> Option<f64> {
            old.lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        };
        // A rejected input's run (exit 7) signed and published the approved zone: the
        // zone's figures are fresh, and "last success" means "the zone was re-signed".
        let published = self.exit_code == 0 || self.exit_code == ExitCode::InputRejected.code();
        let success = published && !self.dry_run;
        let pick = |name: &str, fresh: f64| if success { Some(fresh) } else { previous(name) };
        let earliest = self
            .earliest_expiration
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let delta = self.input.delta.as_ref();
        let approved_at = self.input.approved_at;
        let rows: [(&str, &str, Option<f64>); 14] = [
            (
                "zonesign_last_success_timestamp_seconds",
                "Time of the last successful signing run.",
                pick("zonesign_last_success_timestamp_seconds", now as f64),
            ),
            (
                "zonesign_last_run_timestamp_seconds",
                "Time of the last run, successful or not.",
                Some(now as f64),
            ),
            (
                "zonesign_exit_code",
                "Exit code of the last run (0 = success).",
                Some(f64::from(self.exit_code)),
            ),
            (
                "zonesign_duration_seconds",
                "Wall time of the last run.",
                Some(self.elapsed_seconds),
            ),
            (
                "zonesign_rrsets",
                "RRsets in the signed zone.",
                pick("zonesign_rrsets", self.rrsets as f64),
            ),
            (
                "zonesign_signatures_made",
                "Signatures made by the last successful run.",
                pick("zonesign_signatures_made", self.signatures_made as f64),
            ),
            (
                "zonesign_signatures_reused",
                "Signatures reused by the last successful run.",
                pick("zonesign_signatures_reused", self.signatures_reused as f64),
            ),
            (
                "zonesign_earliest_signature_expiry_timestamp_seconds",
                "Earliest RRSIG expiration in the published zone.",
                pick(
                    "zonesign_earliest_signature_expiry_timestamp_seconds",
                    earliest.map_or(0.0, |t| t.timestamp() as f64),
                ),
            ),
            (
                "zonesign_input_rejected",
                "1 if the last run rejected its input and signed the approved zone instead (exit 7).",
                (!self.dry_run).then_some(f64::from(u8::from(
                    self.input.status == InputStatus::Rejected,
                ))),
            ),
            (
                "zonesign_approved_timestamp_seconds",
                "When the approved zone (the last input that passed ingress) was approved.",
                approved_at
                    .map(|t| t as f64)
                    .or_else(|| previous("zonesign_approved_timestamp_seconds")),
            ),
            (
                "zonesign_approved_serial",
                "SOA serial of the approved zone.",
                self.input
                    .approved_serial
                    .map(f64::from)
                    .or_else(|| previous("zonesign_approved_serial")),
            ),
            (
                "zonesign_input_delegations_removed",
                "Delegations of the approved zone missing from the last input.",
                delta.map(|d| d.removed as f64),
            ),
            (
                "zonesign_input_delegations_added",
                "Delegations of the last input not in the approved zone.",
                delta.map(|d| d.added as f64),
            ),
            (
                "zonesign_input_delegations_changed",
                "Delegations whose NS, DS or glue changed in the last input.",
                delta.map(|d| d.changed as f64),
            ),
        ];
        let mut text = String::new();
        let label = self.zone.replace('\\', "\\\\").replace('"', "\\\"");
        for (name, help, value) in rows {
            let Some(v) = value else { continue };
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{zone=\"{label}\"}} {v}\n"
            ));
        }
        write_atomic(path, text.as_bytes())
    }
}
