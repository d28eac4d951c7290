//! Algorithm rollover (issue 23; PIPE-7, PIPE-6, RFC 6781 §4.1.4, RFC 9905): a zone
//! leaves RSASHA1 for ECDSA P-256 (and RSASHA256 for Ed25519) over simulated weeks of
//! sign runs every 12 hours, through the real binary and a real SoftHSM2 token.
//!
//! At every run the zone must validate at that time against the DS set the parent then
//! has (zonesign verify, ldns-verify-zone and kzonecheck at the simulated time; BIND's
//! dnssec-verify, which has no time option and cannot run under libfaketime, at the
//! real clock: the roll is simulated in the days just before it, so every signature of
//! every run is still valid then), and a
//! resolver that cached the previous run's DNSKEY RRset, or the previous run's other
//! RRsets, must still validate what it mixes with the new zone. The parent swaps its DS
//! as soon as `key ds` offers the new one, and the run after that sees it in the
//! `--ds-anchor` file and records ds-seen by itself (PIPE-6). The steps must come in
//! RFC 6781's order and with the policy's spacing, and at the end only the new
//! algorithm is left.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use zonesign::dnssec::policy::Policy;

use crate::common::*;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The first run: six days before the clock, on the hour. A roll with the default
/// policy takes under five days, and every signature lasts at least twelve, so
/// dnssec-verify can judge every run's output at the real time.
fn t0() -> i64 {
    (unix_now() - 6 * DAY) / HOUR * HOUR + 300
}

/// DNSSEC algorithm numbers by zonesign name.
fn number(alg: &str) -> u8 {
    match alg {
        "rsasha1" => 5,
        "rsasha256" => 8,
        "ecdsap256sha256" => 13,
        "ed25519" => 15,
        _ => panic!("unknown algorithm {alg}"),
    }
}

/// The algorithms of the DNSKEY RRset and of the RRSIGs (over all RRsets) of a zone.
fn algorithms(text: &str) -> (BTreeSet<u8>, BTreeSet<u8>) {
    let rrs = parse_flat_zone(text).expect("flat zone");
    let keys = rrs
        .iter()
        .filter(|r| r.rtype == "DNSKEY")
        .map(|r| r.rdata[2].parse().unwrap())
        .collect();
    let sigs = rrs
        .iter()
        .filter(|r| r.rtype == "RRSIG")
        .map(|r| r.rdata[1].parse().unwrap())
        .collect();
    (keys, sigs)
}

/// The three judges at simulated time `t` against the parent's DS set `ds`.
#[track_caller]
fn validates(z: &SeZone, zone: &Path, ds: &Path, t: i64, what: &str) {
    let out = z.s.verify(zone, "se.", ds, &["--now", &rfc3339(t)]);
    assert_exit(&out, EXIT_OK, &format!("zonesign verify: {what}"));
    ldns_verify_at(zone, ds, t).unwrap_or_else(|e| panic!("ldns-verify-zone: {what}: {e}"));
    kzonecheck_at(zone, t).unwrap_or_else(|e| panic!("kzonecheck: {what}: {e}"));
    dnssec_verify(zone, "se.").unwrap_or_else(|e| panic!("dnssec-verify: {what}: {e}"));
}

/// `kzonecheck -o se. --dnssec on -t T ZONE`.
fn kzonecheck_at(zone: &Path, t: i64) -> Result<(), String> {
    let out = run(std::process::Command::new("kzonecheck")
        .args(["-o", "se.", "--dnssec", "on", "-t", &t.to_string()])
        .arg(zone));
    if out.status.success() {
        Ok(())
    } else {
        Err(describe(&out))
    }
}

/// The `key-*` audit events of one run (those after `from` lines of the log), as
/// (event, tag).
fn key_events(s: &Setup, from: usize) -> (Vec<(String, u64)>, usize) {
    let text = fs::read_to_string(s.dir.join("audit.log")).expect("audit log");
    let lines: Vec<&str> = text.lines().collect();
    let events = lines[from..]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit JSON"))
        .filter(|e| e["event"].as_str().is_some_and(|n| n.starts_with("key-")))
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["tag"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    (events, lines.len())
}

/// Runs a whole algorithm roll from `from` to `to` and returns its timeline: (hours
/// after the first run, what happened).
fn roll(from: &str, to: &str) -> Vec<(i64, String)> {
    let p = Policy::default();
    let t0 = t0();
    let z = SeZone::at(from, t0);
    let s = &z.s;
    no_zonemd(s);
    assert_exit(&z.sign_at(&z.ds, t0), EXIT_OK, "first sign");
    for role in ["ksk", "zsk"] {
        let now = rfc3339(t0);
        s.ok(&[
            "key",
            "generate",
            "--role",
            role,
            "--algorithm",
            to,
            "--now",
            &now,
        ]);
    }
    let new_ksk = s
        .tags("ksk", "generated")
        .first()
        .copied()
        .expect("a generated KSK");
    let start = t0 + 12 * HOUR;
    s.ok(&[
        "key",
        "rollover",
        "--algorithm",
        to,
        "--now",
        &rfc3339(start),
    ]);
    let listed = s.ok(&["key", "list", "--now", &rfc3339(start)]);
    assert!(listed.contains("algorithm roll"), "{listed}");
    let old_ds = z.ds.clone();
    let mut parent = z.ds.clone();
    let mut timeline = vec![(0, format!("key rollover --algorithm {to}"))];
    let (_, mut audit_at) = key_events(s, 0);
    let mut previous = fs::read_to_string(&z.signed).unwrap();
    let mut withdrawn = false;
    let mut t = start;
    while t < start + 5 * DAY {
        let h = (t - start) / HOUR;
        assert_exit(&z.sign_at(&parent, t), EXIT_OK, &format!("run at +{h} h"));
        let text = fs::read_to_string(&z.signed).unwrap();
        let (events, n) = key_events(s, audit_at);
        audit_at = n;
        for (e, tag) in &events {
            timeline.push((h, format!("{e} {tag}")));
        }
        withdrawn |= events.iter().any(|(e, _)| e == "key-withdrawn");
        validates(&z, &z.signed, &parent, t, &format!("+{h} h, parent's DS"));
        if parent != old_ds && !withdrawn {
            validates(&z, &z.signed, &old_ds, t, &format!("+{h} h, old DS cached"));
        }
        for (name, mixed) in [
            ("cached DNSKEY RRset", mix(&text, &previous)),
            ("cached RRsets, new DNSKEY RRset", mix(&previous, &text)),
        ] {
            let path = s.path("mixed.zone");
            fs::write(&path, mixed).unwrap();
            validates(&z, &path, &parent, t, &format!("+{h} h, {name}"));
        }
        if events.iter().any(|(e, _)| e == "key-published") {
            one_algorithm_missing_is_refused(&z, &text, number(to), t);
        }
        previous = text;
        // The parent swaps its DS as soon as `key ds` offers the new one.
        let offered = s.ok(&["key", "ds", "--now", &rfc3339(t)]);
        if parent == old_ds && offered.contains(&format!("DS\t{new_ksk} ")) {
            parent = z.ds_file("parent-new.ds", &offered);
            timeline.push((h, format!("the parent publishes DS {new_ksk}")));
        }
        if !fs::read_to_string(s.dir.join("keys.toml"))
            .unwrap()
            .contains("[algorithm-roll]")
        {
            break;
        }
        t += 12 * HOUR;
    }
    let (keys, sigs) = algorithms(&fs::read_to_string(&z.signed).unwrap());
    assert_eq!(keys, BTreeSet::from([number(to)]), "only the new DNSKEYs");
    assert_eq!(
        sigs,
        BTreeSet::from([number(to)]),
        "only the new signatures"
    );
    check_spacing(&timeline, &p);
    audit_chain(s);
    timeline
}

/// `zonemd = "none"`: the cache mixes below splice one run's DNSKEY RRset into another
/// run's zone, which no ZONEMD can match; resolvers never read ZONEMD anyway (it
/// proves a zone copy, not an answer), and zonemd.rs tests it.
fn no_zonemd(s: &Setup) {
    let text = s.config_text();
    let text = if text.contains("[policy]") {
        text.replacen("[policy]\n", "[policy]\nzonemd = \"none\"\n", 1)
    } else {
        format!("{text}\n[policy]\nzonemd = \"none\"\n")
    };
    fs::write(s.config(), text).unwrap();
}

/// RFC 4035 §2.2, checked side by side with BIND: with both algorithms in the DNSKEY
/// RRset, an RRset that lost its signature of one of them is refused by `zonesign
/// verify` (kind `algorithm`) and by dnssec-verify.
fn one_algorithm_missing_is_refused(z: &SeZone, text: &str, alg: u8, t: i64) {
    let mut dropped = false;
    let tampered: String = text
        .lines()
        .filter(|l| {
            let f = tokens(l);
            let hit = !dropped
                && f.get(3).is_some_and(|x| x == "RRSIG")
                && f.get(4).is_some_and(|x| x == "SOA")
                && f.get(5).is_some_and(|a| a.parse() == Ok(alg));
            dropped |= hit;
            !hit
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(dropped, "the SOA has a signature of algorithm {alg}");
    let path = z.s.path("tampered.zone");
    fs::write(&path, tampered).unwrap();
    let out = z.s.verify(&path, "se.", &z.ds, &["--now", &rfc3339(t)]);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "zonesign verify of a zone missing one algorithm",
    );
    assert!(
        stdout(&out).contains("RFC 4035 section 2.2"),
        "{}",
        stdout(&out)
    );
    assert!(dnssec_verify(&path, "se.").is_err(), "dnssec-verify agrees");
}

/// RFC 6781 §4.1.4's order, each wait at least the policy's interval (RFC 7583).
fn check_spacing(timeline: &[(i64, String)], p: &Policy) {
    let at = |what: &str| -> i64 {
        timeline
            .iter()
            .find(|(_, e)| e.starts_with(what))
            .unwrap_or_else(|| panic!("no {what} in {timeline:#?}"))
            .0
            * HOUR
    };
    let signing = at("key-signing");
    let published = at("key-published");
    let ready = at("key-ready");
    let seen = at("key-ds-seen");
    let withdrawn = at("key-withdrawn");
    let removed = at("key-removed");
    assert!(
        published - signing >= i64::from(p.max_zone_ttl) + i64::from(p.propagation),
        "{timeline:#?}"
    );
    assert!(ready - published >= p.ksk_ds_ready(), "{timeline:#?}");
    assert!(seen >= ready, "{timeline:#?}");
    assert!(withdrawn - seen >= p.ksk_retire_after_ds(), "{timeline:#?}");
    assert!(removed - withdrawn >= p.zsk_prepublish(), "{timeline:#?}");
}

#[track_caller]
fn audit_chain(s: &Setup) {
    s.ok(&["audit", "verify"]);
}

/// PIPE-7 with RFC 9905's way out: RSASHA1 -> ECDSAP256SHA256. The timeline is printed
/// (`--nocapture`) for the closing note.
#[test]
fn rsasha1_to_ecdsap256sha256_every_run_and_every_cache_mix_validates() {
    for (h, e) in roll("rsasha1", "ecdsap256sha256") {
        println!("+{h:>4} h  {e}");
    }
}

#[test]
fn rsasha256_to_ed25519_every_run_and_every_cache_mix_validates() {
    roll("rsasha256", "ed25519");
}

/// Refusals change nothing and say what to do: no spare key of the algorithm, the
/// same algorithm, RSASHA1 as a target, another roll under way.
#[test]
fn algorithm_roll_refusals_change_nothing() {
    let t0 = t0();
    let z = SeZone::at("rsasha256", t0);
    let s = &z.s;
    let state = || fs::read_to_string(s.dir.join("keys.toml")).unwrap();
    let before = state();
    let refused = |args: &[&str], says: &str| {
        let out = run(s.cmd().args(args));
        assert_exit(&out, EXIT_HSM, &args.join(" "));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    };
    refused(
        &["key", "rollover", "--algorithm", "ecdsap256sha256"],
        "zonesign key generate --role ksk --algorithm ecdsap256sha256",
    );
    refused(
        &["key", "rollover", "--algorithm", "rsasha256"],
        "already use",
    );
    refused(&["key", "rollover", "--algorithm", "rsasha1"], "RFC 9905");
    assert_eq!(state(), before);
    let now = rfc3339(t0);
    for role in ["ksk", "zsk"] {
        s.ok(&[
            "key",
            "generate",
            "--role",
            role,
            "--algorithm",
            "ed25519",
            "--now",
            &now,
        ]);
    }
    s.ok(&["key", "rollover", "--algorithm", "ed25519", "--now", &now]);
    let during = state();
    refused(&["key", "rollover", "--role", "zsk"], "algorithm roll");
    refused(
        &["key", "rollover", "--algorithm", "ecdsap256sha256"],
        "in progress",
    );
    assert_eq!(state(), during);
}
