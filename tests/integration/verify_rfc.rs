//! `zonesign verify` by the RFCs (issue 24): policy rules as findings (`--policy rfc`,
//! the default) or failures (`--policy dps`), ZONEMD checked when present (RFC 8976 §4),
//! RSA keys from 512 bits verified with a `policy` finding.
//!
//! The zones are signed by `dnssec-signzone` and `ldns-signzone`, which need no token;
//! `verify` runs without a config, as in `verify_foreign`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const DAY: i64 = 86_400;

/// A small zone with the serial 7, and optionally an apex ZONEMD line.
fn small_zone(dir: &Path, zonemd: Option<&str>) -> PathBuf {
    let mut text = String::from(
        "$ORIGIN example.\n$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\nsub NS ns.other.\n",
    );
    if let Some(z) = zonemd {
        text.push_str(&format!("@ ZONEMD {z}\n"));
    }
    let path = dir.join("small.zone");
    fs::write(&path, text).expect("write zone");
    path
}

/// Runs a peer tool in `dir` and returns its stdout; it must succeed.
fn peer(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}\n{}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signs `zone` with ldns-signzone and keys made by ldns-keygen (`alg`, `bits`, or
/// `None` for ED25519), with `extra` options; returns (signed, DS anchor).
fn ldns_signed(
    dir: &Path,
    zone: &Path,
    key: (&str, Option<&str>),
    extra: &[&str],
) -> (PathBuf, PathBuf) {
    let keygen = |ksk: bool| {
        let mut args = vec!["-a", key.0];
        if let Some(bits) = key.1 {
            args.extend(["-b", bits]);
        }
        if ksk {
            args.push("-k");
        }
        args.push("example.");
        peer(dir, "ldns-keygen", &args)
    };
    let (zsk, ksk) = (keygen(false), keygen(true));
    let signed = dir.join("signed.zone");
    let mut args = extra.to_vec();
    let (signed_s, zone_s) = (signed.display().to_string(), zone.display().to_string());
    args.extend(["-o", "example.", "-f", &signed_s, &zone_s, &zsk, &ksk]);
    peer(dir, "ldns-signzone", &args);
    let anchor = dir.join("anchor.ds");
    let ds = peer(dir, "ldns-key2ds", &["-n", "-2", &format!("{ksk}.key")]);
    fs::write(&anchor, ds).expect("write anchor");
    (signed, anchor)
}

fn verify(signed: &Path, anchor: &Path, extra: &[&str]) -> Output {
    run_verify(|| {
        let mut cmd = zonesign();
        cmd.current_dir(signed.parent().expect("parent"));
        let args = [&["--format", "json"][..], extra].concat();
        verify_command(cmd, signed, "example.", anchor, &args)
    })
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", describe(out)))
}

fn kinds(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["kind"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A zone signed by `dnssec-signzone` with 21-day signatures (as the root zone's DNSKEY
/// RRset): valid by the RFCs with `policy` findings (exit 0); invalid under `--policy
/// dps` (DPS-6.5), as too long and never as unsigned.
#[test]
fn bind_21_day_validity_is_a_policy_finding_unless_policy_dps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = unix_now();
    let window = [(now - 3600).to_string(), (now + 21 * DAY).to_string()];
    let zone = small_zone(tmp.path(), None);
    let (signed, anchor) = foreign_signed_zone_at("bind", &zone, "example.", tmp.path(), &window);
    let out = verify(&signed, &anchor, &[]);
    assert_exit(&out, EXIT_OK, "verify (rfc) of a 21-day zone");
    let report = json(&out);
    assert_eq!(report["valid"], true, "{report:#}");
    assert!(report["total_findings"].as_u64() > Some(0), "{report:#}");
    assert!(
        kinds(&report, "findings").iter().all(|k| k == "policy"),
        "{report:#}"
    );
    let out = verify(&signed, &anchor, &["--policy", "dps"]);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "verify --policy dps of a 21-day zone",
    );
    let report = json(&out);
    let problems = kinds(&report, "problems");
    assert!(
        problems.iter().all(|k| k == "validity-too-long"),
        "{report:#}"
    );
    assert!(
        !report["counts"]
            .as_object()
            .unwrap()
            .contains_key("unsigned")
    );
}

/// `ldns-signzone -z 1` makes a SHA-384 ZONEMD: verified. The same zone with a wrong
/// ZONEMD digest, signed correctly (ldns-signzone signs an input ZONEMD as data):
/// invalid, naming `zonemd`, as `ldns-verify-zone -ZZ` also says.
#[test]
fn zonemd_from_ldns_is_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = tmp.path().join("good");
    fs::create_dir_all(&good).unwrap();
    let zone = small_zone(&good, None);
    let (signed, anchor) = ldns_signed(&good, &zone, ("ED25519", None), &["-z", "1"]);
    assert!(fs::read_to_string(&signed).unwrap().contains("ZONEMD"));
    let out = verify(&signed, &anchor, &[]);
    assert_exit(&out, EXIT_OK, "verify of ldns-signzone -z 1 output");
    let report = json(&out);
    assert!(
        report["zonemd"]
            .as_str()
            .unwrap()
            .starts_with("verified (SHA-384"),
        "{report:#}"
    );

    let bad = tmp.path().join("bad");
    fs::create_dir_all(&bad).unwrap();
    let zone = small_zone(&bad, Some(&format!("7 1 1 {}", "ab".repeat(48))));
    let (signed, anchor) = ldns_signed(&bad, &zone, ("ED25519", None), &[]);
    assert!(
        ldns_verify(&signed, "example.", &anchor).is_err() || {
            let out = Command::new("ldns-verify-zone")
                .arg("-ZZ")
                .arg(&signed)
                .output()
                .unwrap();
            !out.status.success()
        }
    );
    let out = verify(&signed, &anchor, &[]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "verify of a wrong ZONEMD digest");
    let report = json(&out);
    assert_eq!(kinds(&report, "problems"), ["zonemd"], "{report:#}");
}

/// RFC 3110 allows 512-bit RSA keys (old zones, test zones): the signatures verify, the
/// anchor matches, and the key size is a `policy` finding; `--policy dps` fails it.
#[test]
fn rsa_512_bit_keys_are_verified_with_a_policy_finding() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zone = small_zone(tmp.path(), None);
    let (signed, anchor) = ldns_signed(tmp.path(), &zone, ("RSASHA256", Some("512")), &[]);
    // ldns-signzone's default validity is four weeks: policy findings too.
    let out = verify(&signed, &anchor, &[]);
    assert_exit(&out, EXIT_OK, "verify of a 512-bit RSA zone");
    let report = json(&out);
    assert_eq!(
        report["anchored_keys"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    let text = report["findings"].to_string();
    assert!(text.contains("512 bits"), "{report:#}");
    let out = verify(&signed, &anchor, &["--policy", "dps"]);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "verify --policy dps of a 512-bit RSA zone",
    );
    let report = json(&out);
    assert!(
        kinds(&report, "problems").contains(&"key-size".to_string()),
        "{report:#}"
    );
    assert!(
        !kinds(&report, "problems")
            .iter()
            .any(|k| k == "anchor" || k == "dnskey")
    );
}
