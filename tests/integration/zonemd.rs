//! ZONEMD in the signing run (issue 24; RFC 8976, PIPE-3, PIPE-4): the output's ZONEMD
//! is fresh every run and accepted by `ldns-verify-zone -ZZ`, `dnssec-verify` and
//! `kzonecheck`; `zonemd = sha512 | none`; an input ZONEMD is checked (wrong: exit 2
//! before an approved zone exists, exit 7 with the approved zone signed after) and never
//! copied; `require-input-zonemd`; the proof of unchanged data refuses a signer that
//! alters a record (debug-build test hook). Real binary, real SoftHSM2 token.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const HOUR: i64 = 3600;
const ORIGIN: &str = "example.";

/// A small zone: apex, glue, a few delegations with and without DS; `extra` lines last.
fn zone_text(serial: u32, extra: &str) -> String {
    let mut s = format!(
        "$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host {serial} 1800 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n"
    );
    for i in 0..8 {
        s.push_str(&format!(
            "d{i} NS ns1.d{i}\nns1.d{i} A 198.51.100.{}\n",
            i + 1
        ));
        if i % 2 == 0 {
            s.push_str(&format!("d{i} DS {} 13 2 {:064X}\n", 1000 + i, i + 1));
        }
    }
    s.push_str(extra);
    s
}

struct Run {
    setup: Setup,
    zone: PathBuf,
    out: PathBuf,
    ds: PathBuf,
    report: PathBuf,
    t0: i64,
}

impl Run {
    fn new() -> Run {
        let t0 = unix_now();
        let setup = Setup::at("ecdsap256sha256", t0 - HOUR);
        Run {
            ds: setup.ds_file(ORIGIN),
            zone: setup.path("example.zone"),
            out: setup.path("example.signed"),
            report: setup.path("report.json"),
            setup,
            t0,
        }
    }

    /// Adds `lines` to the config's `[policy]` table (init wrote it last).
    fn policy(&self, lines: &str) {
        let mut cfg = fs::read_to_string(self.setup.config()).unwrap();
        let last_table = cfg.lines().rev().find(|l| l.trim_start().starts_with('['));
        if last_table.map(str::trim) != Some("[policy]") {
            cfg.push_str("\n[policy]\n");
        }
        cfg.push_str(&format!("\n{lines}\n"));
        fs::write(self.setup.config(), cfg).unwrap();
    }

    fn sign_at(&self, t: i64, env: &[(&str, &str)]) -> Output {
        let now = rfc3339(t);
        let mut cmd = self.setup.cmd();
        cmd.envs(env.iter().copied())
            .arg("sign")
            .arg(&self.zone)
            .args(["--origin", ORIGIN, "--out"])
            .arg(&self.out)
            .args(["--now", &now, "--seed", "7", "--ds-anchor"])
            .arg(&self.ds)
            .arg("--report")
            .arg(&self.report);
        run(&mut cmd)
    }

    /// Signs at `t` with an input that ingress rejects (exit 7, the approved zone
    /// signed instead) for a reason that mentions `why`.
    fn rejected_at(&self, t: i64, why: &str) {
        assert_exit(&self.sign_at(t, &[]), EXIT_INPUT_REJECTED, why);
        let report = self.report();
        let reason = report["input"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{reason}");
    }

    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(&self.report).unwrap()).unwrap()
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap()
    }
}

/// `ldns-verify-zone -ZZ` (ZONEMD required and checked) with the DS anchor at `t`.
fn ldns_zz(zone: &Path, ds: &Path, t: i64) -> Result<(), String> {
    let out = Command::new("ldns-verify-zone")
        .args(["-ZZ", "-k"])
        .arg(ds)
        .args(["-t", &dnssec_time(t)])
        .arg(zone)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(describe(&out))
    }
}

/// The apex ZONEMD records of a zonesign output: (serial, hash algorithm, digest).
fn zonemds(text: &str) -> Vec<(u32, u8, String)> {
    text.lines()
        .map(tokens)
        .filter(|t| t.len() >= 8 && t[0] == ORIGIN && t[3] == "ZONEMD")
        .map(|t| {
            (
                t[4].parse().unwrap(),
                t[6].parse().unwrap(),
                t[7..].concat(),
            )
        })
        .collect()
}

fn soa_serial(text: &str) -> u32 {
    let t = text
        .lines()
        .map(tokens)
        .find(|t| t.len() > 6 && t[3] == "SOA")
        .unwrap();
    t[6].parse().unwrap()
}

fn apex_bitmap_has_zonemd(text: &str) -> bool {
    text.lines().map(tokens).any(|t| {
        t.len() > 4 && t[0] == ORIGIN && t[3] == "NSEC" && t[5..].iter().any(|x| x == "ZONEMD")
    })
}

/// Every output: ZONEMD of the current serial, listed in the apex bitmap, accepted by
/// ldns -ZZ, dnssec-verify and kzonecheck; an unchanged cycle keeps the file; a changed
/// input gets a fresh ZONEMD and never the old one (RFC 8976, PIPE-4 first half).
#[test]
fn outputs_carry_a_fresh_valid_zonemd_every_run() {
    let r = Run::new();
    fs::write(&r.zone, zone_text(1, "")).unwrap();
    assert_exit(&r.sign_at(r.t0, &[]), EXIT_OK, "first sign");
    let first = r.output();
    let z = zonemds(&first);
    assert_eq!(z.len(), 1, "{first}");
    assert_eq!(
        (z[0].0, z[0].1),
        (soa_serial(&first), 1),
        "SHA-384 of the SOA serial"
    );
    assert!(apex_bitmap_has_zonemd(&first));
    ldns_zz(&r.out, &r.ds, r.t0).unwrap();
    all_validators(&r.out, ORIGIN, &r.ds).unwrap();
    let out = r.setup.verify(&r.out, ORIGIN, &r.ds, &["--format", "json"]);
    assert_exit(&out, EXIT_OK, "zonesign verify");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["zonemd"]
            .as_str()
            .unwrap()
            .starts_with("verified (SHA-384"),
        "{v:#}"
    );

    // Nothing changed, nothing due: the published file stays byte for byte.
    assert_exit(&r.sign_at(r.t0 + 2 * HOUR, &[]), EXIT_OK, "unchanged cycle");
    assert!(r.report()["unchanged"].as_bool().unwrap());
    assert_eq!(r.output(), first);

    // A changed input: new serial, new digest, the old ZONEMD and its RRSIG gone.
    fs::write(&r.zone, zone_text(1, "new A 192.0.2.77\n")).unwrap();
    assert_exit(&r.sign_at(r.t0 + 4 * HOUR, &[]), EXIT_OK, "changed cycle");
    let second = r.output();
    let z2 = zonemds(&second);
    assert_eq!(z2.len(), 1);
    assert_eq!(z2[0].0, soa_serial(&second));
    assert_ne!(z2[0].0, z[0].0);
    assert!(!second.contains(&z[0].2), "the old digest was carried over");
    ldns_zz(&r.out, &r.ds, r.t0 + 4 * HOUR).unwrap();
}

/// `zonemd = "sha512"` makes a SHA-512 ZONEMD; `"none"` drops it in the next run
/// (and from the apex bitmap); every output valid.
#[test]
fn zonemd_sha512_and_none() {
    let r = Run::new();
    fs::write(&r.zone, zone_text(1, "")).unwrap();
    r.policy("zonemd = \"sha512\"");
    assert_exit(&r.sign_at(r.t0, &[]), EXIT_OK, "sign with sha512");
    let z = zonemds(&r.output());
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].1, 2, "SHA-512");
    ldns_zz(&r.out, &r.ds, r.t0).unwrap();
    let cfg = fs::read_to_string(r.setup.config()).unwrap();
    fs::write(
        r.setup.config(),
        cfg.replace("zonemd = \"sha512\"", "zonemd = \"none\""),
    )
    .unwrap();
    assert_exit(&r.sign_at(r.t0 + 2 * HOUR, &[]), EXIT_OK, "sign with none");
    let text = r.output();
    assert!(zonemds(&text).is_empty(), "{text}");
    assert!(!apex_bitmap_has_zonemd(&text));
    ldns_verify_at(&r.out, &r.ds, r.t0 + 2 * HOUR).unwrap();
}

/// `serial = "keep"` and a change in unsigned data only (a glue address): no RRset
/// needs a new signature, but the digest changed, so the ZONEMD is filled in anew
/// (same serial) and signed in its own login; the gate compares it with the digest it
/// took itself. Found in session 15: such a run used to fail the gate on every cron
/// run with the old digest. Then nothing changes and the file stays as it is.
#[test]
fn a_glue_only_change_under_serial_keep_gets_a_fresh_zonemd() {
    let r = Run::new();
    r.policy("serial = \"keep\"");
    fs::write(&r.zone, zone_text(5, "")).unwrap();
    assert_exit(&r.sign_at(r.t0, &[]), EXIT_OK, "first sign");
    let first = r.output();
    let before = zonemds(&first);
    assert_eq!(before[0].0, 5);

    fs::write(
        &r.zone,
        zone_text(5, "").replace("ns1.d0 A 198.51.100.1", "ns1.d0 A 198.51.100.201"),
    )
    .unwrap();
    assert_exit(&r.sign_at(r.t0 + 60, &[]), EXIT_OK, "glue-only change");
    let report = r.report();
    assert_eq!(report["signatures_made"], 1, "{report:#}");
    assert_eq!(report["reasons"]["zonemd"], 1, "{report:#}");
    assert!(!report["unchanged"].as_bool().unwrap());
    let second = r.output();
    assert!(second.contains("198.51.100.201"));
    let after = zonemds(&second);
    assert_eq!(after[0].0, 5, "serial kept");
    assert_ne!(after[0].2, before[0].2, "a new digest");
    ldns_zz(&r.out, &r.ds, r.t0 + 60).unwrap();
    all_validators(&r.out, ORIGIN, &r.ds).unwrap();

    assert_exit(&r.sign_at(r.t0 + 120, &[]), EXIT_OK, "unchanged cycle");
    assert!(r.report()["unchanged"].as_bool().unwrap());
    assert_eq!(r.output(), second);
}

/// PIPE-3: an input whose ZONEMD does not match is refused (exit 2, nothing written, on
/// a first run); an input with a correct ZONEMD (made by `ldns-signzone -z 1`, a signed
/// input) is accepted and its ZONEMD never copied; a wrong one later is refused with
/// exit 7 and the approved zone signed; `require-input-zonemd` refuses an input
/// without one.
#[test]
fn input_zonemd_is_checked_and_never_copied() {
    let r = Run::new();
    let wrong = format!("@ ZONEMD 1 1 1 {}\n", "AB".repeat(48));
    fs::write(&r.zone, zone_text(1, &wrong)).unwrap();
    let out = r.sign_at(r.t0, &[]);
    assert_exit(&out, EXIT_BAD_INPUT, "wrong input ZONEMD, first run");
    assert!(
        stderr(&out).contains("ZONEMD") && stderr(&out).contains("PIPE-3"),
        "{}",
        describe(&out)
    );
    assert!(!r.out.exists(), "nothing may be written");

    // A correct ZONEMD by another implementation: ldns-signzone -z 1 over the zone.
    let ldns = r.setup.path("ldns");
    fs::create_dir_all(&ldns).unwrap();
    let plain = ldns.join("plain.zone");
    fs::write(&plain, zone_text(2, "")).unwrap();
    let key = Command::new("ldns-keygen")
        .current_dir(&ldns)
        .args(["-a", "ED25519", ORIGIN])
        .output()
        .unwrap();
    let key = String::from_utf8(key.stdout).unwrap();
    let st = Command::new("ldns-signzone")
        .current_dir(&ldns)
        .args(["-z", "1", "-o", ORIGIN, "-f"])
        .arg(&r.zone)
        .arg(&plain)
        .arg(key.trim())
        .status()
        .unwrap();
    assert!(st.success());
    let input_digest = zonemds(&fs::read_to_string(&r.zone).unwrap().replace("\t", " "));
    let out = r.sign_at(r.t0, &[]);
    assert_exit(&out, EXIT_OK, "input with a correct ZONEMD");
    assert_eq!(
        r.report()["input"]["zonemd"]["status"],
        "verified",
        "{:#}",
        r.report()
    );
    let audit = fs::read_to_string(r.setup.dir.join("audit.log")).unwrap();
    let line = audit
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"sign\""))
        .unwrap();
    assert!(
        line.contains("\"input_zonemd\":\"ZONEMD verified (SHA-384"),
        "{line}"
    );
    let text = r.output();
    let z = zonemds(&text);
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].0, soa_serial(&text));
    for (_, _, d) in &input_digest {
        assert!(
            !text.to_ascii_uppercase().contains(&d.to_ascii_uppercase()),
            "input ZONEMD copied"
        );
    }
    ldns_zz(&r.out, &r.ds, r.t0).unwrap();

    // Later, a wrong ZONEMD: exit 7, the approved zone is signed (valid, fresh ZONEMD).
    fs::write(
        &r.zone,
        zone_text(3, &wrong.replace("@ ZONEMD 1", "@ ZONEMD 3")),
    )
    .unwrap();
    r.rejected_at(r.t0 + 2 * HOUR, "ZONEMD");
    let text = r.output();
    assert!(!text.contains("192.0.2.77"));
    assert_eq!(zonemds(&text)[0].0, soa_serial(&text));
    ldns_zz(&r.out, &r.ds, r.t0 + 2 * HOUR).unwrap();

    // require-input-zonemd: an input without one is refused too.
    r.policy("require-input-zonemd = true");
    fs::write(&r.zone, zone_text(4, "")).unwrap();
    r.rejected_at(r.t0 + 4 * HOUR, "require-input-zonemd");
    ldns_zz(&r.out, &r.ds, r.t0 + 4 * HOUR).unwrap();
}

/// PIPE-4: the debug-build hook alters one record after admission; the gate's proof of
/// unchanged data refuses (exit 1), names the mismatch, and writes nothing. Without the
/// hook the run passes and both digests are in the report and the audit line.
#[test]
fn unchanged_data_proof_refuses_an_altered_record() {
    let r = Run::new();
    fs::write(&r.zone, zone_text(1, "")).unwrap();
    let out = r.sign_at(r.t0, &[("ZONESIGN_TEST_ALTER_AFTER_ADMISSION", "1")]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "altered record after admission");
    let err = stderr(&out);
    assert!(
        err.contains("PIPE-4") && err.contains("differs from the admitted input"),
        "{err}"
    );
    assert!(!r.out.exists(), "nothing may be written");

    assert_exit(&r.sign_at(r.t0, &[]), EXIT_OK, "sign without the hook");
    let content = &r.report()["content"];
    assert_eq!(content["input"], content["signed"], "{content:#}");
    assert_eq!(content["input"].as_str().map(str::len), Some(64));
    let audit = fs::read_to_string(r.setup.dir.join("audit.log")).unwrap();
    let line = audit
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"sign\""))
        .unwrap();
    assert!(line.contains(content["input"].as_str().unwrap()), "{line}");
    assert!(line.contains("content_signed"), "{line}");

    // And on a cron run: the published file stays as it was.
    let before = r.output();
    fs::write(&r.zone, zone_text(1, "new A 192.0.2.78\n")).unwrap();
    let out = r.sign_at(
        r.t0 + 2 * HOUR,
        &[("ZONESIGN_TEST_ALTER_AFTER_ADMISSION", "1")],
    );
    assert_exit(&out, EXIT_VERIFY_FAILED, "altered record in a cron run");
    assert_eq!(r.output(), before);
}
