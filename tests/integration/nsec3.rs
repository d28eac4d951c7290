//! NSEC3 (issue 24, DPS-6.2, DPS-6.6): `zonesign verify` on NSEC3 zones of other
//! signers (`dnssec-signzone -3` with and without opt-out, `ldns-signzone -n`,
//! `kzonesign` with an NSEC3 policy), and tampered copies of them named by the
//! chain problem.
//!
//! The test zone combines the feature fixtures: delegations with and without DS,
//! empty non-terminals, wildcards, glue and occluded data.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const ORIGIN: &str = "example.";

/// The feature fixtures as one zone: the records of each below the first's apex.
pub(crate) fn combined_zone(dir: &Path) -> PathBuf {
    let features = [
        "delegations.zone",
        "empty-non-terminals.zone",
        "wildcards.zone",
        "glue-occluded.zone",
    ];
    let mut text = fs::read_to_string(fixture("features/delegations.zone")).expect("fixture");
    for f in &features[1..] {
        let body = fs::read_to_string(fixture(&format!("features/{f}"))).expect("fixture");
        for line in body.lines() {
            let skip = line.starts_with(['$', ';', '@']) || line.contains("SOA");
            if !skip {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let path = dir.join("combined.zone");
    fs::write(&path, text).expect("write zone");
    path
}

/// Runs a tool in `dir`, panicking with its output on failure; returns stdout.
fn tool(dir: &Path, cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}\n{}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Signature window arguments: an hour ago to ten days ahead (within DPS-6.5's 14).
fn window(fmt: &str) -> [String; 2] {
    let now = unix_now();
    let t = |s: i64| match fmt {
        "epoch" => s.to_string(),
        _ => dnssec_time(s),
    };
    [t(now - 3600), t(now + 10 * 86_400)]
}

/// `dnssec-signzone -3 SALT [-A]` with ECDSA P-256 keys; returns (signed, anchor DS).
fn bind_nsec3(dir: &Path, zone: &Path, salt: &str, opt_out: bool) -> (PathBuf, PathBuf) {
    let work = dir.join(if opt_out { "bind-A" } else { "bind" });
    fs::create_dir_all(&work).expect("dir");
    let keygen = |ksk: bool| {
        let mut args = vec!["-q", "-K", ".", "-a", "ECDSAP256SHA256", "-n", "ZONE"];
        if ksk {
            args.extend(["-f", "KSK"]);
        }
        args.push(ORIGIN);
        tool(&work, "dnssec-keygen", &args).trim().to_string()
    };
    keygen(false);
    let ksk = keygen(true);
    let [inception, expiration] = window("epoch");
    let signed = work.join("zone.signed");
    let mut args = vec![
        "-q", "-S", "-K", ".", "-d", ".", "-x", "-O", "full", "-3", salt, "-H", "0",
    ];
    if opt_out {
        args.push("-A");
    }
    args.extend(["-s", &inception, "-e", &expiration, "-o", ORIGIN, "-f"]);
    let (s, z) = (signed.to_str().unwrap(), zone.to_str().unwrap());
    args.extend([s, z]);
    tool(&work, "dnssec-signzone", &args);
    let anchor = work.join("anchor.ds");
    fs::write(&anchor, tool(&work, "dnssec-dsfromkey", &["-2", &ksk])).expect("anchor");
    (signed, anchor)
}

/// `ldns-signzone -n [-s SALT] [-p]` with ldns-keygen ECDSA P-256 keys.
fn ldns_nsec3(dir: &Path, zone: &Path, salt: Option<&str>, opt_out: bool) -> (PathBuf, PathBuf) {
    let work = dir.join(if opt_out { "ldns-p" } else { "ldns" });
    fs::create_dir_all(&work).expect("dir");
    let zsk = tool(&work, "ldns-keygen", &["-a", "ECDSAP256SHA256", ORIGIN]);
    let ksk = tool(
        &work,
        "ldns-keygen",
        &["-k", "-a", "ECDSAP256SHA256", ORIGIN],
    );
    let [inception, expiration] = window("dnssec");
    let signed = work.join("zone.signed");
    let mut args = vec!["-i", &inception, "-e", &expiration, "-n", "-t", "0"];
    if let Some(salt) = salt {
        args.extend(["-s", salt]);
    }
    if opt_out {
        args.push("-p");
    }
    let (s, z) = (signed.to_str().unwrap(), zone.to_str().unwrap());
    args.extend(["-o", ORIGIN, "-f", s, z, zsk.trim(), ksk.trim()]);
    tool(&work, "ldns-signzone", &args);
    let anchor = work.join("anchor.ds");
    let ds = tool(
        &work,
        "ldns-key2ds",
        &["-n", "-2", &format!("{}.key", ksk.trim())],
    );
    fs::write(&anchor, ds).expect("anchor");
    (signed, anchor)
}

/// `kzonesign` with a policy of NSEC3, opt-out and an 8-octet salt (Knot makes its own
/// keys in a KASP database under `dir`); the anchor is the KSK's DNSKEY.
fn knot_nsec3(dir: &Path, zone: &Path) -> (PathBuf, PathBuf) {
    let work = dir.join("knot");
    fs::create_dir_all(work.join("out")).expect("dir");
    fs::copy(zone, work.join("example.zone")).expect("copy zone");
    let w = work.display();
    let conf = format!(
        "database:\n  storage: {w}\n  kasp-db: {w}/kasp\npolicy:\n  - id: n3\n    \
         algorithm: ecdsap256sha256\n    nsec3: on\n    nsec3-iterations: 0\n    \
         nsec3-opt-out: on\n    nsec3-salt-length: 8\n    rrsig-lifetime: 10d\n    \
         rrsig-refresh: 2d\nzone:\n  - domain: {ORIGIN}\n    storage: {w}\n    \
         file: example.zone\n    dnssec-signing: on\n    dnssec-policy: n3\n"
    );
    fs::write(work.join("knot.conf"), conf).expect("conf");
    tool(
        &work,
        "kzonesign",
        &["-c", "knot.conf", "-o", "out", ORIGIN],
    );
    let signed = work.join("out/example.zone");
    let text = fs::read_to_string(&signed).expect("signed");
    let ksk: String = text
        .lines()
        .filter(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.get(2) == Some(&"DNSKEY") && t.get(3) == Some(&"257")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!ksk.is_empty(), "kzonesign made no KSK\n{text}");
    let anchor = work.join("anchor.key");
    fs::write(&anchor, ksk).expect("anchor");
    (signed, anchor)
}

/// `zonesign verify --format json`, no config.
fn verify_json(signed: &Path, anchor: &Path) -> (Output, serde_json::Value) {
    let out = run_verify(|| {
        let mut cmd = zonesign();
        cmd.current_dir(signed.parent().expect("parent"));
        verify_command(cmd, signed, ORIGIN, anchor, &["--format", "json"])
    });
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify output is not JSON ({e})\n{}", describe(&out)));
    (out, report)
}

/// `verify` accepts the zone, and so do BIND's and Knot's validators (the zone is
/// really valid: the test is not of a broken signer).
fn assert_accepted(signed: &Path, anchor: &Path, what: &str) {
    let (out, report) = verify_json(signed, anchor);
    assert_eq!(
        out.status.code(),
        Some(EXIT_OK),
        "{what}: verify must accept\n{report:#}"
    );
    assert_eq!(report["valid"], serde_json::Value::Bool(true), "{what}");
    assert!(
        report["stats"]["nsec3"].as_u64().unwrap_or(0) > 0,
        "{what}: NSEC3 records counted\n{report:#}"
    );
    dnssec_verify(signed, ORIGIN).unwrap_or_else(|e| panic!("{what}: {e}"));
    kzonecheck(signed, ORIGIN).unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// DPS-6.6: NSEC3 zones of BIND (salted, and unsalted with opt-out) pass `verify`.
#[test]
fn verify_accepts_dnssec_signzone_nsec3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = combined_zone(dir.path());
    let (signed, anchor) = bind_nsec3(dir.path(), &zone, "AABBCCDD", false);
    assert_accepted(&signed, &anchor, "dnssec-signzone -3 AABBCCDD");
    let (signed, anchor) = bind_nsec3(dir.path(), &zone, "-", true);
    assert_accepted(&signed, &anchor, "dnssec-signzone -3 - -A");
}

/// DPS-6.6: NSEC3 zones of ldns (salted; opt-out flag set on every record) pass.
#[test]
fn verify_accepts_ldns_signzone_nsec3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = combined_zone(dir.path());
    let (signed, anchor) = ldns_nsec3(dir.path(), &zone, Some("ABCD"), false);
    assert_accepted(&signed, &anchor, "ldns-signzone -n -s ABCD");
    let (signed, anchor) = ldns_nsec3(dir.path(), &zone, None, true);
    assert_accepted(&signed, &anchor, "ldns-signzone -n -p");
}

/// DPS-6.6: a Knot NSEC3 zone (opt-out, 8-octet salt) passes.
#[test]
fn verify_accepts_kzonesign_nsec3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = combined_zone(dir.path());
    let (signed, anchor) = knot_nsec3(dir.path(), &zone);
    assert_accepted(&signed, &anchor, "kzonesign nsec3 opt-out");
}

/// An NSEC3 line of a signed zone in `-O full` form: (owner, flags, next, types).
fn nsec3_fields(line: &str) -> Option<(String, String, String, Vec<String>)> {
    let t: Vec<&str> = line.split_whitespace().collect();
    if t.get(3) != Some(&"NSEC3") {
        return None;
    }
    let types = t.get(9..)?.iter().map(|s| s.to_string()).collect();
    Some((t[0].into(), t[5].into(), t[8].into(), types))
}

/// Rewrites the signed text line by line; `edit` returns the replacement (None: drop).
fn tampered(signed: &Path, name: &str, edit: impl FnMut(&str) -> Option<String>) -> PathBuf {
    let text = fs::read_to_string(signed).expect("read signed");
    let out: String = text
        .lines()
        .filter_map(edit)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(out != text, "{name}: the edit changed nothing");
    let path = signed.with_file_name(format!("{name}.signed"));
    fs::write(&path, out).expect("write tampered");
    path
}

/// `verify` refuses (exit 1) and counts at least one problem of `kind`.
fn assert_rejected_with(signed: &Path, anchor: &Path, kind: &str) {
    let (out, report) = verify_json(signed, anchor);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        &format!("verify of {kind} tampering"),
    );
    assert!(
        report["counts"][kind].as_u64().unwrap_or(0) > 0,
        "expected a {kind} problem\n{report:#}"
    );
}

/// DPS-6.6: each kind of NSEC3 chain damage is named: a missing NSEC3, a wrong next
/// hashed owner, a wrong bitmap, a cleared opt-out flag over a left-out insecure
/// delegation, an NSEC3PARAM naming no chain.
#[test]
fn verify_names_nsec3_chain_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = combined_zone(dir.path());
    let (signed, anchor) = bind_nsec3(dir.path(), &zone, "AABBCCDD", false);
    let text = fs::read_to_string(&signed).expect("read");
    // The NSEC3 of an authoritative name (its bitmap lists A), and another record.
    let (victim, _, _, _) = text
        .lines()
        .filter_map(nsec3_fields)
        .find(|(_, _, _, types)| types.iter().any(|t| t == "A"))
        .expect("an NSEC3 with A");
    let removed = tampered(&signed, "missing", |l| {
        let t: Vec<&str> = l.split_whitespace().collect();
        (t.first() != Some(&victim.as_str())).then(|| l.to_string())
    });
    assert_rejected_with(&removed, &anchor, "nsec3-missing");

    let next = tampered(&signed, "next", |l| match nsec3_fields(l) {
        Some((owner, _, next, _)) if owner == victim => {
            let own_label = owner.split('.').next().unwrap().to_string();
            Some(l.replacen(&next, &own_label, 1))
        }
        _ => Some(l.to_string()),
    });
    assert_rejected_with(&next, &anchor, "nsec3-next");

    let bitmap = tampered(&signed, "bitmap", |l| match nsec3_fields(l) {
        Some((owner, ..)) if owner == victim => Some(format!("{l} MX")),
        _ => Some(l.to_string()),
    });
    assert_rejected_with(&bitmap, &anchor, "nsec3-bitmap");

    let param = tampered(&signed, "param", |l| {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.get(3) == Some(&"NSEC3PARAM") {
            Some(l.replace("AABBCCDD", "01020304"))
        } else {
            Some(l.to_string())
        }
    });
    assert_rejected_with(&param, &anchor, "nsec3param");

    // Opt-out: the chain leaves the insecure delegation out; without the flag on the
    // record covering it, its absence is no longer proven.
    let (signed, anchor) = bind_nsec3(dir.path(), &zone, "-", true);
    let flags = tampered(&signed, "flags", |l| match nsec3_fields(l) {
        Some(_) => Some(l.replacen("NSEC3\t1 1 ", "NSEC3\t1 0 ", 1)),
        None => Some(l.to_string()),
    });
    assert_rejected_with(&flags, &anchor, "nsec3-opt-out");
}
