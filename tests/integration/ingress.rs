//! Ingress (issue 22; PIPE-1, PIPE-2): a new input that fails (syntax, zone checks, the
//! change limits, a check program) is not signed; the approved zone is signed instead
//! and the run exits 7. Through the real binary, a real SoftHSM2 token and
//! `ldns-verify-zone`; `--now` makes a month of cron runs take seconds.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const ORIGIN: &str = "se.";

/// A registry's export: delegations with NS (out of zone, or in zone with glue) and DS,
/// each shaped by its own number so that removing one changes no other.
struct Export {
    delegations: Vec<(String, usize)>,
}

impl Export {
    fn new(n: usize) -> Export {
        Export {
            delegations: (0..n).map(|i| (format!("reg{i:05}"), i)).collect(),
        }
    }

    fn text(&self) -> String {
        let mut s = String::from(
            "$ORIGIN se.\n$TTL 86400\n@ SOA a.ns.se. hostmaster.se. 2026120701 1800 1800 864000 7200\n@ NS a.ns.se.\n@ NS b.ns.se.\na.ns A 192.0.2.1\nb.ns A 192.0.2.2\n",
        );
        for (d, i) in &self.delegations {
            let i = *i;
            match i % 3 {
                0 => s.push_str(&format!(
                    "{d} NS ns1.{d}\n{d} NS ns2.example.net.\nns1.{d} A 198.51.100.{}\n",
                    i % 250 + 1
                )),
                1 => s.push_str(&format!(
                    "{d} NS ns1.host{}.example.net.\n{d} NS ns2.example.org.\n{d} 3600 DS {} 13 2 {:064X}\n",
                    i % 40,
                    i % 60000 + 1,
                    i
                )),
                _ => s.push_str(&format!("{d} NS ns.provider{}.example.com.\n", i % 17)),
            }
        }
        s
    }

    fn write(&self, path: &Path) {
        fs::write(path, self.text()).unwrap();
    }
}

/// One setup signing `se.` into `se.signed` from `se.zone`.
struct Registry {
    setup: Setup,
    zone: PathBuf,
    out: PathBuf,
    ds: PathBuf,
    report: PathBuf,
    metrics: PathBuf,
}

impl Registry {
    fn new(t0: i64) -> Registry {
        let setup = Setup::at("ecdsap256sha256", t0);
        Registry {
            ds: setup.ds_file(ORIGIN),
            zone: setup.path("se.zone"),
            out: setup.path("se.signed"),
            report: setup.path("report.json"),
            metrics: setup.path("zonesign.prom"),
            setup,
        }
    }

    fn sign(&self, t: i64, extra: &[&str]) -> Output {
        let now = rfc3339(t);
        let mut args = vec![
            "--now",
            &now,
            "--seed",
            "7",
            "--report",
            self.report.to_str().unwrap(),
            "--metrics",
            self.metrics.to_str().unwrap(),
            "--ds-anchor",
            self.ds.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.setup.sign_with(&self.zone, ORIGIN, &self.out, &args)
    }

    fn approved(&self) -> PathBuf {
        self.setup.path("se.signed.approved")
    }

    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(&self.report).unwrap()).unwrap()
    }

    /// Appends `text` (an `[ingress]` or `[egress]` table) to the config.
    fn configure(&self, text: &str) {
        let mut cfg = fs::read_to_string(self.setup.config()).unwrap();
        cfg.push('\n');
        cfg.push_str(text);
        fs::write(self.setup.config(), cfg).unwrap();
    }

    /// A check program (an executable script in the setup's directory).
    fn program(&self, name: &str, body: &str) -> PathBuf {
        let path = self.setup.path(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Checks the output with ldns-verify-zone at `t`, and that its delegations are
    /// exactly the approved zone's.
    fn assert_output_is_the_approved_zone(&self, t: i64, what: &str) {
        ldns_verify_at(&self.out, &self.ds, t).unwrap_or_else(|e| panic!("{what}: {e}"));
        let published = delegations(&fs::read_to_string(&self.out).unwrap());
        let approved = delegations(&canonical_zone(&self.approved(), ORIGIN));
        assert!(!published.is_empty(), "{what}");
        assert_eq!(
            published, approved,
            "{what}: output and approved zone differ"
        );
    }
}

/// `ldns-verify-zone -k DS -t TIME ZONE`: the signed zone validated at `t`.
fn ldns_verify_at(zone: &Path, ds: &Path, t: i64) -> Result<(), String> {
    let out = Command::new("ldns-verify-zone")
        .arg("-k")
        .arg(ds)
        .arg("-t")
        .arg(dnssec_time(t))
        .arg(zone)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(describe(&out))
    }
}

/// The delegations (owner, NS targets) of a zone text with one absolute record per line
/// (zonesign's output, [`canonical_zone`]).
fn delegations(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with(';'))
        .map(tokens)
        .filter(|t| t.len() >= 5 && t[3] == "NS" && t[0] != ORIGIN)
        .map(|t| (t[0].clone(), t[4].clone()))
        .collect()
}

fn serial_of(text: &str) -> u32 {
    text.lines()
        .map(tokens)
        .find(|t| t.len() >= 7 && t[3] == "SOA")
        .map(|t| t[6].parse().unwrap())
        .unwrap()
}

fn audit_events(r: &Registry, event: &str) -> Vec<serde_json::Value> {
    fs::read_to_string(r.setup.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == event)
        .collect()
}

fn t0() -> i64 {
    let now = unix_now();
    now - now % HOUR + HOUR
}

/// PIPE-1, PIPE-2: a truncated export, NS targets that lost their trailing dot, a
/// syntax error and a check program's refusal each exit 7; the output validates and
/// its delegations are exactly the approved zone's; the serial moves forward.
#[test]
fn rejected_inputs_sign_the_approved_zone_instead() {
    let t = t0();
    let r = Registry::new(t - HOUR);
    let export = Export::new(600);
    export.write(&r.zone);
    assert_exit(&r.sign(t, &[]), EXIT_OK, "first run");
    let approved_text = fs::read_to_string(r.approved()).unwrap();
    assert!(approved_text.starts_with("; zonesign approved zone"));
    assert!(
        approved_text.ends_with(&export.text()),
        "the input byte for byte"
    );
    let original = delegations(&canonical_zone(&r.approved(), ORIGIN));
    assert_eq!(original.len(), 1000);
    let checker = r.program(
        "check-zone",
        r#"test -n "$ZONESIGN_PIN" && { echo "PIN in my environment" >&2; exit 9; }
test "$ZONESIGN_ORIGIN" = se. || { echo "origin $ZONESIGN_ORIGIN" >&2; exit 9; }
test -f "$ZONESIGN_APPROVED" || { echo "no approved zone" >&2; exit 9; }
if grep -q forbidden-by-registry "$ZONESIGN_CANDIDATE"; then
    echo "registry rule 12: forbidden-by-registry found" >&2
    exit 3
fi
exit 0"#,
    );
    r.configure(&format!(
        "[ingress]\nchecks = [[\"{}\"]]\n",
        checker.display()
    ));
    let full = export.text();
    let truncated = Export {
        delegations: export.delegations[..510].to_vec(),
    }
    .text();
    // A few percent of the delegations (20 of 600) lose the trailing dot of an NS
    // target, as in the October 2009 .se export: ns1.host1.example.net.se. has no address.
    let relative: String = full
        .lines()
        .map(|l| match l.strip_suffix(".example.net.") {
            Some(head)
                if l.contains(" NS ns1.host")
                    && l.get(3..8)
                        .and_then(|n| n.parse::<usize>().ok())
                        .is_some_and(|n| n < 60) =>
            {
                format!("{head}.example.net\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert_eq!(relative.matches(".example.net\n").count(), 20);
    let syntax = full.replace("reg00100 NS", "reg00100 NS ns1.a.net. (");
    let refused = full.clone() + "www TXT \"forbidden-by-registry\"\n";
    let cases = [
        ("a truncated export", truncated, "delegations removed"),
        (
            "NS targets without their trailing dot",
            relative,
            "trailing dot",
        ),
        ("a syntax error", syntax, "se.zone:"),
        ("a check program's refusal", refused, "registry rule 12"),
    ];
    let mut serial = serial_of(&fs::read_to_string(&r.out).unwrap());
    for (i, (what, text, why)) in cases.iter().enumerate() {
        let at = t + (i as i64 + 1) * 2 * HOUR;
        fs::write(&r.zone, text).unwrap();
        let out = r.sign(at, &[]);
        assert_exit(&out, EXIT_INPUT_REJECTED, what);
        let err = stderr(&out);
        assert!(
            err.contains("input rejected: ") && err.contains(why),
            "{what}: {err}"
        );
        assert!(
            err.contains("the approved zone (serial 2026120701, approved at ")
                && err.contains("was signed instead"),
            "{what}: {err}"
        );
        r.assert_output_is_the_approved_zone(at, what);
        assert_eq!(
            delegations(&fs::read_to_string(&r.out).unwrap()),
            original,
            "{what}"
        );
        let now_serial = serial_of(&fs::read_to_string(&r.out).unwrap());
        assert!(
            now_serial > serial,
            "{what}: serial {now_serial} after {serial}"
        );
        serial = now_serial;
        let report = r.report();
        assert_eq!(report["exit_code"], 7, "{what}");
        assert_eq!(report["input"]["status"], "rejected", "{what}");
        assert!(report["input"]["reason"].as_str().unwrap().contains(why));
        assert_eq!(report["input"]["approved_serial"], 2026120701u32);
        let metrics = fs::read_to_string(&r.metrics).unwrap();
        assert!(
            metrics.contains("zonesign_input_rejected{zone=\"se.\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("zonesign_approved_timestamp_seconds{zone=\"se.\"} "));
    }
    assert_eq!(fs::read_to_string(r.approved()).unwrap(), approved_text);
    let rejected = audit_events(&r, "input-rejected");
    assert_eq!(rejected.len(), 4);
    assert!(
        rejected[3]["reason"]
            .as_str()
            .unwrap()
            .contains("registry rule 12")
    );
    assert_eq!(rejected[3]["approved_serial"], 2026120701u32);
    // The report's delta for the truncated export.
    fs::write(&r.zone, &cases[0].1).unwrap();
    let dry = r.sign(t + 12 * HOUR, &["--dry-run"]);
    assert_exit(&dry, EXIT_INPUT_REJECTED, "dry run of a truncated export");
    assert!(
        stdout(&dry).contains(
            "delegations: 600 approved, 510 in the input: 90 removed, 0 added, 0 changed"
        ),
        "{}",
        stdout(&dry)
    );
    assert_eq!(r.report()["input"]["delta"]["removed"], 90);
}

/// A month of rejected inputs (a run every 12 hours with `--now`): every output
/// validates at its time, signatures keep being renewed, serials increase. Then an
/// ordinary input is accepted and becomes the approved zone, and a truncated one is
/// published with `--accept-changes`, audited with the OS user and the delta.
#[test]
fn a_month_of_rejected_inputs_keeps_the_zone_signed_until_one_passes() {
    let t = t0();
    let r = Registry::new(t - HOUR);
    let mut export = Export::new(900);
    export.write(&r.zone);
    assert_exit(&r.sign(t, &[]), EXIT_OK, "first run");
    let first_approved = fs::read_to_string(r.approved()).unwrap();
    fs::write(
        &r.zone,
        "$ORIGIN se.\n@ SOA a.ns.se. h.se. 1 1 1 1 1\nbroken line\n",
    )
    .unwrap();
    let mut serial = 0;
    let mut renewed = 0;
    let mut at = t;
    while at < t + 30 * DAY {
        at += 12 * HOUR;
        let out = r.sign(at, &[]);
        assert_exit(
            &out,
            EXIT_INPUT_REJECTED,
            &format!("run at {}", rfc3339(at)),
        );
        let verify = r
            .setup
            .verify(&r.out, ORIGIN, &r.ds, &["--now", &rfc3339(at)]);
        assert_exit(
            &verify,
            EXIT_OK,
            &format!("zonesign verify at {}", rfc3339(at)),
        );
        ldns_verify_at(&r.out, &r.ds, at)
            .unwrap_or_else(|e| panic!("ldns-verify-zone at {}: {e}", rfc3339(at)));
        let now_serial = serial_of(&fs::read_to_string(&r.out).unwrap());
        assert!(now_serial > serial);
        serial = now_serial;
        renewed += r.report()["reasons"]["expiring"].as_u64().unwrap_or(0);
    }
    assert!(
        renewed > 1000,
        "signatures renewed over the month: {renewed}"
    );
    r.assert_output_is_the_approved_zone(at, "after a month");
    assert_eq!(fs::read_to_string(r.approved()).unwrap(), first_approved);
    // An ordinary day: one delegation in 900 (0.1%) goes, one comes.
    export.delegations.remove(10);
    export.delegations.push(("newcomer".into(), 100_000));
    export.write(&r.zone);
    at += 2 * HOUR;
    let out = r.sign(at, &[]);
    assert_exit(&out, EXIT_OK, "an ordinary input");
    assert_eq!(r.report()["input"]["status"], "accepted");
    assert_eq!(r.report()["input"]["delta"]["added"], 1);
    let approved = fs::read_to_string(r.approved()).unwrap();
    assert!(approved.contains("\nnewcomer NS "));
    assert!(approved.contains(&format!("; approved {}", rfc3339(at))));
    r.assert_output_is_the_approved_zone(at, "accepted input");
    // A deliberate large change: a fifth of the zone goes, accepted by the operator.
    export.delegations.truncate(720);
    export.write(&r.zone);
    at += 2 * HOUR;
    assert_exit(&r.sign(at, &[]), EXIT_INPUT_REJECTED, "large change");
    let out = r.sign(at + 60, &["--accept-changes"]);
    assert_exit(&out, EXIT_OK, "large change with --accept-changes");
    assert_eq!(r.report()["input"]["status"], "accepted-over-limits");
    r.assert_output_is_the_approved_zone(at + 60, "accepted large change");
    let published = delegations(&fs::read_to_string(&r.out).unwrap());
    assert_eq!(published.len(), 1200);
    let accepted = audit_events(&r, "changes-accepted");
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["delta"]["removed"], 180);
    assert!(accepted[0]["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(
        accepted[0]["exceeded"][0]
            .as_str()
            .unwrap()
            .contains("max-removed")
    );
}

/// On a first run there is no approved zone: a bad input fails as it always has (exit
/// 2) and nothing is written; a missing check program is a configuration error (exit
/// 2), not a rejected input.
#[test]
fn first_runs_and_missing_programs_fail_and_write_nothing() {
    let t = t0();
    let r = Registry::new(t - HOUR);
    fs::write(&r.zone, "$ORIGIN se.\n$TTL 3600\n@ SOA a.ns.se. h.se. 1 1 1 1 1\n@ NS a.ns.se.\na.ns A 192.0.2.1\nbad line here\n").unwrap();
    let out = r.sign(t, &[]);
    assert_exit(&out, EXIT_BAD_INPUT, "a bad first input");
    assert!(!r.out.exists() && !r.approved().exists());
    Export::new(30).write(&r.zone);
    r.configure("[ingress]\nchecks = [[\"no-such-check-program-zs\", \"-x\"]]\n");
    let out = r.sign(t, &[]);
    assert_exit(&out, EXIT_BAD_INPUT, "a missing check program");
    assert!(
        stderr(&out).contains("no-such-check-program-zs"),
        "{}",
        stderr(&out)
    );
    assert!(!r.out.exists() && !r.approved().exists());
}

/// PIPE-2: a check program that hangs is killed at the timeout (and the input
/// rejected); one that prints megabytes does not block the run.
#[test]
fn hanging_and_chatty_check_programs() {
    let t = t0();
    let r = Registry::new(t - HOUR);
    Export::new(60).write(&r.zone);
    assert_exit(&r.sign(t, &[]), EXIT_OK, "first run");
    let chatty = r.program(
        "chatty",
        "head -c 8000000 /dev/zero | tr '\\0' x; head -c 8000000 /dev/zero | tr '\\0' y >&2; exit 0",
    );
    let hang = r.program("hang", "sleep 60 & sleep 60");
    r.configure(&format!(
        "[ingress]\nchecks = [[\"{}\"], [\"{}\"]]\ncheck-timeout = \"2s\"\n",
        chatty.display(),
        hang.display()
    ));
    let started = std::time::Instant::now();
    let out = r.sign(t + 2 * HOUR, &[]);
    let took = started.elapsed();
    assert_exit(&out, EXIT_INPUT_REJECTED, "a hanging check program");
    assert!(
        stderr(&out).contains("killed after the 2s check timeout"),
        "{}",
        stderr(&out)
    );
    assert!(took.as_secs() < 20, "took {took:?}");
    r.assert_output_is_the_approved_zone(t + 2 * HOUR, "after the timeout");
}

/// PIPE-2 after signing: an `[egress]` check sees the signed temporary file; its
/// refusal leaves the published zone and the approved zone as they were (exit 1).
#[test]
fn egress_checks_guard_publication() {
    let t = t0();
    let r = Registry::new(t - HOUR);
    let mut export = Export::new(60);
    export.write(&r.zone);
    let egress = r.program(
        "egress",
        r#"grep -q RRSIG "$ZONESIGN_SIGNED" || { echo "unsigned?" >&2; exit 4; }
if grep -q late-veto "$ZONESIGN_SIGNED"; then echo "vetoed after signing" >&2; exit 1; fi"#,
    );
    r.configure(&format!(
        "[egress]\nchecks = [[\"{}\"]]\n",
        egress.display()
    ));
    assert_exit(&r.sign(t, &[]), EXIT_OK, "egress check passes");
    let (signed, approved) = (fs::read(&r.out).unwrap(), fs::read(r.approved()).unwrap());
    export.delegations[0].0 = "late-veto".into();
    export.write(&r.zone);
    let out = r.sign(t + 2 * HOUR, &[]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "egress refusal");
    assert!(
        stderr(&out).contains("vetoed after signing"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&r.out).unwrap(), signed);
    assert_eq!(fs::read(r.approved()).unwrap(), approved);
}

/// The approved zone of an input with `$INCLUDE`s is the whole zone rendered (the main
/// file alone is not the zone); a lost index is rebuilt from the approved text; an
/// approved zone edited by hand is never signed (exit 4, nothing written).
#[test]
fn includes_a_lost_index_and_a_damaged_approved_zone() {
    let t = t0();
    let setup = Setup::at("ecdsap256sha256", t - HOUR);
    let dir = setup.path("in");
    fs::create_dir(&dir).unwrap();
    for f in ["include.zone", "include-plain.inc", "include-sub.inc"] {
        fs::copy(fixture(&format!("features/{f}")), dir.join(f)).unwrap();
    }
    let zone = dir.join("include.zone");
    let out = setup.path("example.signed");
    let sign = |at: i64| setup.sign_with(&zone, "example.", &out, &["--now", &rfc3339(at)]);
    assert_exit(&sign(t), EXIT_OK, "an input with includes");
    let approved = setup.path("example.signed.approved");
    let records = |p: &Path| -> BTreeSet<String> {
        canonical_zone(p, "example.")
            .lines()
            .map(tokens)
            .filter(|t| {
                t.len() > 4 && !matches!(t[3].as_str(), "SOA" | "RRSIG" | "NSEC" | "DNSKEY")
            })
            .map(|t| format!("{} {} {}", t[0], t[3], t[4..].join(" ")))
            .collect()
    };
    let expected = records(&zone);
    assert!(
        expected.iter().any(|r| r.contains("sub.example.")),
        "{expected:?}"
    );
    assert_eq!(
        records(&approved),
        expected,
        "the included records are approved too"
    );
    // A lost index: the next ordinary run rebuilds it from the approved text.
    fs::remove_file(setup.path("example.signed.approved.idx")).unwrap();
    fs::write(
        dir.join("include-plain.inc"),
        fs::read_to_string(dir.join("include-plain.inc")).unwrap() + "extra IN A 192.0.2.99\n",
    )
    .unwrap();
    assert_exit(
        &sign(t + 2 * HOUR),
        EXIT_OK,
        "an ordinary change without an index",
    );
    assert!(setup.path("example.signed.approved.idx").exists());
    // A syntax error now signs the approved zone, which includes the new record.
    fs::write(
        &zone,
        fs::read_to_string(&zone).unwrap() + "broken IN A 300.1.1.1\n",
    )
    .unwrap();
    assert_exit(&sign(t + 4 * HOUR), EXIT_INPUT_REJECTED, "a broken input");
    assert!(
        records(&out)
            .iter()
            .any(|r| r.starts_with("extra.example. A 192.0.2.99"))
    );
    // A hand-edited approved zone is refused, and nothing is written.
    let signed = fs::read(&out).unwrap();
    let text = fs::read_to_string(&approved).unwrap();
    fs::write(&approved, text.replace("192.0.2.99", "192.0.2.98")).unwrap();
    let out6 = sign(t + 6 * HOUR);
    assert_exit(&out6, EXIT_IO, "a damaged approved zone");
    assert!(
        stderr(&out6).contains("does not match its recorded SHA-256"),
        "{}",
        stderr(&out6)
    );
    assert_eq!(fs::read(&out).unwrap(), signed);
}
