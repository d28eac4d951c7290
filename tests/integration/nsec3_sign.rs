//! NSEC3 signing (issue 24, DPS-6.2): zones signed by zonesign with `denial = "nsec3"`
//! for algorithms 8, 13 and 15 (no salt, a salt, opt-out) pass `dnssec-verify`,
//! `kzonecheck`, `ldns-verify-zone` and `zonesign verify`; the cron cycle switches
//! NSEC -> NSEC3 -> NSEC with every output valid and reuses NSEC3 signatures; a salt
//! is replaced after its lifetime; RSASHA1 keys refuse NSEC3 with nothing changed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;
use crate::nsec3::combined_zone;

const HOUR: i64 = 3600;

/// The setup's config with `lines` added to its `[policy]` table (the file's last, or
/// a new one).
fn set_policy(s: &Setup, base: &str, lines: &str) {
    let table = if base.contains("[policy]") {
        let tail = base.rsplit("[policy]").next().unwrap_or("");
        assert!(
            !tail.contains("\n["),
            "[policy] is not the last table:\n{base}"
        );
        ""
    } else {
        "\n[policy]"
    };
    let text = format!("{}{table}\n{lines}\n", base.trim_end());
    fs::write(s.config(), text).expect("write config");
}

/// `sign ZONE --out OUT --now T --seed 7 --report R`; returns the report.
fn sign_at(s: &Setup, zone: &Path, origin: &str, out: &Path, t: i64) -> serde_json::Value {
    let report = out.with_extension("report.json");
    let o = s.sign_with(
        zone,
        origin,
        out,
        &[
            "--now",
            &rfc3339(t),
            "--seed",
            "7",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_exit(&o, EXIT_OK, &format!("sign {} at {t}", out.display()));
    serde_json::from_str(&fs::read_to_string(&report).expect("report")).expect("report JSON")
}

/// Every validator on one output; ldns too unless `ldns` is false.
fn validate(s: &Setup, signed: &Path, origin: &str, ds: &Path, ldns: bool) {
    let what = signed.display();
    dnssec_verify(signed, origin).unwrap_or_else(|e| panic!("{what}: {e}"));
    kzonecheck(signed, origin).unwrap_or_else(|e| panic!("{what}: {e}"));
    if ldns {
        ldns_verify(signed, origin, ds).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    let out = s.verify(signed, origin, ds, &[]);
    assert_exit(&out, EXIT_OK, &format!("zonesign verify {what}"));
}

/// The NSEC3PARAM of a signed zone as text (`1 0 ITER SALT`), if any.
fn nsec3param(signed: &Path) -> Option<String> {
    let text = fs::read_to_string(signed).expect("read");
    text.lines().find_map(|l| {
        let t = tokens(l);
        let at = t.iter().position(|x| x == "NSEC3PARAM")?;
        (at > 0 && t[at - 1] != "RRSIG" && t.get(at + 1).is_some_and(|f| f == "1"))
            .then(|| t[at + 1..].join(" "))
    })
}

/// DPS-6.2 (issue 24): for each of algorithms 8, 13 and 15, NSEC3 without salt, with
/// an 8-octet salt, and with opt-out and 2 iterations, over the wildcard, empty
/// non-terminal, glue/occlusion and delegation fixtures (one zone) and the `.se`
/// sample; for algorithm 13 also every feature fixture alone, salted with opt-out;
/// every output passes all validators and `zonesign verify`.
#[test]
fn zonesign_nsec3_zones_pass_every_validator() {
    let cases = [
        ("plain", "denial = \"nsec3\"", "1 0 0 -"),
        (
            "salt",
            "denial = \"nsec3\"\nnsec3-salt-length = 8",
            "1 0 0 ",
        ),
        (
            "optout",
            "denial = \"nsec3\"\nnsec3-opt-out = true\nnsec3-iterations = 2",
            "1 0 2 -",
        ),
    ];
    let now = unix_now();
    for alg in ["rsasha256", "ecdsap256sha256", "ed25519"] {
        let s = Setup::new(alg);
        let base = s.config_text();
        let features = combined_zone(s.tmp.path());
        for (name, policy, param) in cases {
            set_policy(&s, &base, policy);
            let out = s.path(&format!("{name}.signed"));
            let r = sign_at(&s, &features, "example.", &out, now);
            assert_eq!(r["denial"]["type"], "nsec3", "{alg} {name}: {r:#}");
            assert!(r["denial"]["nsec3"].as_u64().unwrap() > 10, "{r:#}");
            let p = nsec3param(&out).expect("an NSEC3PARAM");
            assert!(p.starts_with(param), "{alg} {name}: NSEC3PARAM {p}");
            let ds = s.ds_file("example.");
            validate(&s, &out, "example.", &ds, true);
            if name == "optout" {
                // Every NSEC3 carries the opt-out flag, with 2 iterations.
                let text = fs::read_to_string(&out).unwrap();
                let flags: Vec<String> = text
                    .lines()
                    .map(tokens)
                    .filter(|t| t.get(3).is_some_and(|x| x == "NSEC3"))
                    .map(|t| t[5..7].join(" "))
                    .collect();
                assert!(
                    !flags.is_empty() && flags.iter().all(|f| f == "1 2"),
                    "{flags:?}"
                );
                let warned = r["warnings"].to_string();
                assert!(warned.contains("RFC 9276"), "{warned}");
                let out = s.path("se-optout.signed");
                sign_at(&s, &se_sample(), "se.", &out, now);
                validate(&s, &out, "se.", &s.ds_file("se."), true);
            }
        }
        if alg == "ecdsap256sha256" {
            // Every feature fixture on its own (DNAME at and below the apex, escaped
            // names, unknown types, includes...), salted and with opt-out.
            set_policy(
                &s,
                &base,
                "denial = \"nsec3\"\nnsec3-salt-length = 8\nnsec3-opt-out = true",
            );
            let ds = s.ds_file("example.");
            for zone in feature_zones() {
                let out = s.path(&format!("{}.signed", file_name(&zone)));
                sign_at(&s, &zone, "example.", &out, now);
                validate(&s, &out, "example.", &ds, true);
            }
        }
    }
}

/// The cron cycle (issue 24): NSEC, then NSEC3 (the switch in the next run), NSEC3
/// again two hours later with the NSEC3 signatures reused, then back to NSEC; every
/// output passes all validators and `zonesign verify`.
#[test]
fn switch_nsec_to_nsec3_and_back_over_cron_runs() {
    let s = Setup::new("ecdsap256sha256");
    let base = s.config_text();
    let zone = combined_zone(s.tmp.path());
    let out = s.path("example.signed");
    // In the past, so that the validators, which check at the clock's time, see every
    // run's signatures already valid.
    let t0 = unix_now() - 10 * HOUR;
    let steps: [(&str, &str); 5] = [
        ("nsec", ""),
        ("nsec3", "denial = \"nsec3\""),
        ("nsec3", "denial = \"nsec3\""),
        ("nsec", "denial = \"nsec\""),
        ("nsec", ""),
    ];
    for (i, (want, policy)) in steps.iter().enumerate() {
        set_policy(&s, &base, policy);
        let r = sign_at(&s, &zone, "example.", &out, t0 + 2 * HOUR * i as i64);
        assert_eq!(r["denial"]["type"], *want, "run {i}: {r:#}");
        let ds = s.ds_file("example.");
        validate(&s, &out, "example.", &ds, true);
        let (nsec, nsec3) = (
            r["denial"]["nsec"].as_u64().unwrap(),
            r["denial"]["nsec3"].as_u64().unwrap(),
        );
        if *want == "nsec3" {
            assert!(nsec == 0 && nsec3 > 0, "run {i}: {r:#}");
            assert!(nsec3param(&out).is_some());
        } else {
            assert!(nsec > 0 && nsec3 == 0, "run {i}: {r:#}");
            assert!(nsec3param(&out).is_none());
        }
        let reused = r["denial"]["nsec3_signatures_reused"].as_u64().unwrap();
        match i {
            1 => assert_eq!(reused, 0, "the first NSEC3 run signs its chain: {r:#}"),
            2 => assert_eq!(
                reused, nsec3,
                "unchanged NSEC3 RRsets keep their signatures: {r:#}"
            ),
            _ => {}
        }
    }
}

/// A salt lives `nsec3-salt-lifetime`: kept two hours later, replaced after the
/// lifetime (audited as `nsec3-salt`), every output valid.
#[test]
fn nsec3_salt_is_replaced_after_its_lifetime() {
    let s = Setup::new("ed25519");
    let base = s.config_text();
    set_policy(
        &s,
        &base,
        "denial = \"nsec3\"\nnsec3-salt-length = 4\nnsec3-salt-lifetime = \"3h\"",
    );
    let zone = combined_zone(s.tmp.path());
    let out = s.path("example.signed");
    let t0 = unix_now() - 6 * HOUR;
    let mut params = Vec::new();
    for i in 0..3 {
        let r = sign_at(&s, &zone, "example.", &out, t0 + 2 * HOUR * i);
        validate(&s, &out, "example.", &s.ds_file("example."), true);
        params.push((nsec3param(&out).expect("NSEC3PARAM"), r));
    }
    assert_eq!(params[0].0, params[1].0, "salt kept within its lifetime");
    assert_ne!(params[1].0, params[2].0, "salt replaced after its lifetime");
    assert!(
        params[1].1["denial"]["nsec3_signatures_reused"]
            .as_u64()
            .unwrap()
            > 0,
        "{:#}",
        params[1].1
    );
    let audit = fs::read_to_string(s.dir.join("audit.log")).expect("audit log");
    let salts: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"nsec3-salt\""))
        .collect();
    assert_eq!(salts.len(), 2, "first salt and its replacement:\n{audit}");
    assert!(salts[1].contains("\"reason\":\"lifetime\""), "{}", salts[1]);
}

/// RFC 5155 §2: RSASHA1 keys cannot sign an NSEC3 zone. The run is refused before any
/// work with what to do, exit 2, and nothing changes: no output, key state and audit
/// log as they were.
#[test]
fn nsec3_with_rsasha1_keys_is_refused_with_nothing_changed() {
    let s = Setup::new("rsasha1");
    let base = s.config_text();
    set_policy(&s, &base, "denial = \"nsec3\"");
    let keys: PathBuf = s.dir.join("keys.toml");
    let (keys_before, audit_before) = (
        fs::read(&keys).expect("keys"),
        fs::read(s.dir.join("audit.log")).unwrap_or_default(),
    );
    let out = s.path("example.signed");
    let zone = combined_zone(s.tmp.path());
    let o = s.sign(&zone, "example.", &out);
    assert_exit(&o, EXIT_BAD_INPUT, "sign NSEC3 with RSASHA1 keys");
    let err = stderr(&o);
    for word in [
        "RSASHA1",
        "algorithm 5",
        "RFC 5155",
        "algorithm 8, 13 or 15",
        "nothing was changed",
    ] {
        assert!(err.contains(word), "message lacks {word:?}: {err}");
    }
    assert!(!out.exists(), "no output may be written");
    assert_eq!(fs::read(&keys).unwrap(), keys_before, "key state unchanged");
    assert_eq!(
        fs::read(s.dir.join("audit.log")).unwrap_or_default(),
        audit_before,
        "audit log unchanged"
    );
}

/// The salt in the key state (`[nsec3-salt]` `salt = "..."`), if any.
fn stored_salt(s: &Setup) -> Option<String> {
    let text = fs::read_to_string(s.dir.join("keys.toml")).expect("keys.toml");
    let table = text.split("[nsec3-salt]").nth(1)?;
    let line = table.lines().find(|l| l.trim_start().starts_with("salt"))?;
    Some(line.split('"').nth(1)?.to_string())
}

/// A new salt becomes the salt in force only with the zone that carries it: an
/// `[egress]` check refusing the output after the gate (just before the rename) leaves
/// the published zone, the stored salt and the audit log as they were; the next run
/// publishes a zone whose salt is the stored one.
#[test]
fn a_new_salt_is_kept_only_when_its_zone_is_published() {
    let s = Setup::new("ed25519");
    let veto = s.path("veto");
    let script = s.path("egress.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ -e '{}' ] && {{ echo 'vetoed by egress' >&2; exit 1; }}\nexit 0\n",
            veto.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let base = s.config_text();
    set_policy(
        &s,
        &base,
        "denial = \"nsec3\"\nnsec3-salt-length = 4\nnsec3-salt-lifetime = \"3h\"",
    );
    let with_policy = s.config_text();
    fs::write(
        s.config(),
        format!(
            "{with_policy}\n[egress]\nchecks = [[\"{}\"]]\n",
            script.display()
        ),
    )
    .unwrap();
    let zone = combined_zone(s.tmp.path());
    let out = s.path("example.signed");
    let t0 = unix_now() - 6 * HOUR;
    sign_at(&s, &zone, "example.", &out, t0);
    let first = stored_salt(&s).expect("a stored salt");
    let param = nsec3param(&out).unwrap();
    assert!(param.ends_with(&first), "{param} vs {first}");
    let (published, audit) = (
        fs::read(&out).unwrap(),
        fs::read_to_string(s.dir.join("audit.log")).unwrap(),
    );

    fs::write(&veto, "").unwrap();
    let o = s.sign_with(&zone, "example.", &out, &["--now", &rfc3339(t0 + 4 * HOUR)]);
    assert_exit(&o, EXIT_VERIFY_FAILED, "egress refuses the re-salted zone");
    assert!(stderr(&o).contains("vetoed by egress"), "{}", stderr(&o));
    assert_eq!(
        fs::read(&out).unwrap(),
        published,
        "published zone unchanged"
    );
    assert_eq!(
        stored_salt(&s).as_deref(),
        Some(first.as_str()),
        "old salt in force"
    );
    let audit_now = fs::read_to_string(s.dir.join("audit.log")).unwrap();
    assert_eq!(
        audit_now.matches("\"event\":\"nsec3-salt\"").count(),
        audit.matches("\"event\":\"nsec3-salt\"").count(),
        "no salt event for an unpublished salt"
    );

    fs::remove_file(&veto).unwrap();
    sign_at(&s, &zone, "example.", &out, t0 + 4 * HOUR);
    let second = stored_salt(&s).expect("a stored salt");
    assert_ne!(second, first);
    assert!(nsec3param(&out).unwrap().ends_with(&second));
    validate(&s, &out, "example.", &s.ds_file("example."), true);
}
