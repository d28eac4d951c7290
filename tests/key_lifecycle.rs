//! Key lifecycles (issue 6; DPS-6.4, DPS-4.5, DPS-5.3): a 200-day simulation of the
//! two-hour cron cycle (sampled every two days) with two scheduled ZSK rolls and one KSK
//! roll, an emergency ZSK roll, the refusals, and the audit trail. All through the real
//! binary and a real SoftHSM2 token, with `--now` advancing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

const DAY: i64 = 86_400;
/// 2027-01-01T01:05:00Z: a cron run time (odd UTC hour, DPS-6.5).
const T0: i64 = 1_798_765_500;

/// A small `.se`-like zone: apex, glue, ~50 delegations, some with DS.
fn write_zone(path: &Path) {
    let mut z = String::from(
        "$ORIGIN se.\n$TTL 3600\n@ 3600 IN SOA ns1.se. hostmaster.se. 1 7200 3600 604800 7200\n@ 172800 IN NS ns1.se.\nns1 3600 IN A 192.0.2.1\n",
    );
    for i in 0..50 {
        z.push_str(&format!(
            "d{i} 86400 IN NS ns1.host{}.example.net.\n",
            i % 7
        ));
        if i % 3 == 0 {
            z.push_str(&format!(
                "d{i} 3600 IN DS {} 13 2 {}\n",
                1000 + i,
                format!("{i:02X}").repeat(32)
            ));
        }
    }
    fs::write(path, z).expect("write zone");
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert_exit(&out, EXIT_OK, what);
    stdout(&out)
}

/// Key tags of the zone's DNSKEY RRset: (tag, is KSK).
fn dnskey_tags(rrs: &[Rr]) -> BTreeMap<u16, bool> {
    rrs.iter()
        .filter(|r| r.rtype == "DNSKEY")
        .map(|r| {
            let flags: u16 = r.rdata[0].parse().unwrap();
            let mut rdata = flags.to_be_bytes().to_vec();
            rdata.push(r.rdata[1].parse().unwrap());
            rdata.push(r.rdata[2].parse().unwrap());
            rdata.extend(
                data_encoding::BASE64
                    .decode(r.rdata[3..].concat().as_bytes())
                    .unwrap(),
            );
            (zonesign::crypto::key_tag(&rdata), flags == 257)
        })
        .collect()
}

/// RRSIG signer tags: (covered type is DNSKEY, tag).
fn signer_tags(rrs: &[Rr]) -> BTreeSet<(bool, u16)> {
    rrs.iter()
        .filter(|r| r.rtype == "RRSIG")
        .map(|r| (r.rdata[0] == "DNSKEY", r.rdata[6].parse().unwrap()))
        .collect()
}

fn ds_tags_of(text: &str) -> BTreeSet<u16> {
    text.lines()
        .filter_map(|l| {
            let t = tokens(l);
            (t.get(3).map(String::as_str) == Some("DS")).then(|| t[4].parse().unwrap())
        })
        .collect()
}

fn ldns_at(zone: &Path, ds: &Path, t: i64) -> Result<(), String> {
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

fn key_list(s: &Setup) -> serde_json::Value {
    let text = ok(
        run(s.cmd().args(["key", "list", "--format", "json"])),
        "key list",
    );
    serde_json::from_str(&text).expect("key list JSON")
}

fn tag_of(s: &Setup, role: &str, state: &str) -> Vec<u16> {
    key_list(s)
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["role"] == role && k["state"] == state)
        .map(|k| k["tag"].as_u64().unwrap() as u16)
        .collect()
}

fn sign_at(s: &Setup, zone: &Path, out: &Path, ds: &Path, t: i64) -> std::process::Output {
    let now = rfc3339(t);
    let seed = (t / 3600).to_string();
    s.sign_with(
        zone,
        "se.",
        out,
        &[
            "--now",
            &now,
            "--ds-anchor",
            ds.to_str().unwrap(),
            "--seed",
            &seed,
            "-q",
        ],
    )
}

fn verify_at(s: &Setup, zone: &Path, ds: &Path, t: i64, what: &str) {
    let out = s.verify(zone, "se.", ds, &["--now", &rfc3339(t)]);
    assert_exit(&out, EXIT_OK, what);
}

#[test]
fn two_hundred_days_two_zsk_rolls_one_ksk_roll() {
    let s = Setup::new("rsasha1");
    let zone = s.path("se.zone");
    write_zone(&zone);
    let signed = s.path("se.signed");
    let now0 = rfc3339(T0);
    ok(
        run(s.cmd().args([
            "key", "generate", "--role", "zsk", "--count", "2", "--now", &now0,
        ])),
        "key generate zsk",
    );
    ok(
        run(s
            .cmd()
            .args(["key", "generate", "--role", "ksk", "--now", &now0])),
        "key generate ksk",
    );
    let old_ksk = tag_of(&s, "ksk", "active")[0];
    let new_ksk = tag_of(&s, "ksk", "generated")[0];
    // The parent's DS set, as it changes over time.
    let mut parent = ok(
        run(s
            .cmd()
            .args(["key", "ds", "--origin", "se.", "--now", &now0])),
        "key ds",
    );
    assert_eq!(ds_tags_of(&parent), BTreeSet::from([old_ksk]));
    let mut prev_parent = parent.clone();
    let mut prev_dnskeys: Option<BTreeMap<u16, bool>> = None;
    let mut zsk_signers: Vec<(i64, u16)> = Vec::new();
    let mut ldns_checks = 0;
    // One run every two days, and every run of the two-hour cycle on the days of key
    // steps, so the short intervals (pre-publication, DS TTL + propagation) are exercised
    // at the real cron granularity too.
    let mut times: BTreeSet<i64> = (0..=100).map(|k| T0 + 2 * k * DAY).collect();
    for d in [20, 24, 83, 84, 100, 167, 168] {
        times.extend((0..12).map(|j| T0 + d * DAY + j * 7200));
    }
    for t in times {
        let day = (t - T0) / DAY;
        let hour = (t - T0) % DAY / 3600;
        let now = rfc3339(t);
        if t == T0 + 20 * DAY {
            ok(
                run(s
                    .cmd()
                    .args(["key", "rollover", "--role", "ksk", "--now", &now])),
                "key rollover --role ksk",
            );
        }
        if t == T0 + 24 * DAY {
            // The new KSK is ready: `key ds` now offers its DS, the parent publishes it.
            parent = ok(
                run(s.cmd().args(["key", "ds", "--now", &now])),
                "key ds during the roll",
            );
            assert_eq!(ds_tags_of(&parent), BTreeSet::from([new_ksk]));
            ok(
                run(s.cmd().args([
                    "key",
                    "ds-seen",
                    "--tag",
                    &new_ksk.to_string(),
                    "--now",
                    &now,
                ])),
                "key ds-seen",
            );
        }
        let cur_ds = s.path("parent.ds");
        fs::write(&cur_ds, &parent).unwrap();
        let prev_ds = s.path("parent-prev.ds");
        fs::write(&prev_ds, &prev_parent).unwrap();
        let out = sign_at(&s, &zone, &signed, &cur_ds, t);
        assert_exit(&out, EXIT_OK, &format!("sign on day {day} {hour:02}h"));
        // Validates from the DS the parent has now, and from the one a resolver may
        // still cache.
        verify_at(
            &s,
            &signed,
            &cur_ds,
            t,
            &format!("day {day} {hour:02}h, current DS"),
        );
        verify_at(
            &s,
            &signed,
            &prev_ds,
            t,
            &format!("day {day} {hour:02}h, previous DS"),
        );
        let rrs = parse_flat_zone(&fs::read_to_string(&signed).unwrap()).unwrap();
        let dnskeys = dnskey_tags(&rrs);
        let signers = signer_tags(&rrs);
        if let Some(prev) = &prev_dnskeys {
            // A resolver that caches the previous DNSKEY RRset validates every RRset:
            // each has a signature by a key in that RRset.
            let mut by_set: BTreeMap<(String, String), Vec<u16>> = BTreeMap::new();
            for r in rrs.iter().filter(|r| r.rtype == "RRSIG") {
                by_set
                    .entry((r.owner.clone(), r.rdata[0].clone()))
                    .or_default()
                    .push(r.rdata[6].parse().unwrap());
            }
            for (set, tags) in &by_set {
                assert!(
                    tags.iter().any(|t| prev.contains_key(t)),
                    "day {day} {hour:02}h: {set:?} signed only by {tags:?}, none in the previous DNSKEY RRset {prev:?}"
                );
            }
        }
        // The DNSKEY RRset is signed by a KSK whose DS the parent had before, and now.
        for ds in [&prev_parent, &parent] {
            assert!(
                signers
                    .iter()
                    .any(|(dnskey, t)| *dnskey && ds_tags_of(ds).contains(t)),
                "day {day} {hour:02}h: DNSKEY RRset not signed by a KSK in {:?}",
                ds_tags_of(ds)
            );
        }
        let zsks: Vec<u16> = signers.iter().filter(|s| !s.0).map(|s| s.1).collect();
        assert_eq!(
            zsks.len(),
            1,
            "day {day} {hour:02}h: exactly one ZSK signs: {zsks:?}"
        );
        if zsk_signers.last().map(|z| z.1) != Some(zsks[0]) {
            zsk_signers.push((day, zsks[0]));
        }
        let key_step =
            prev_dnskeys.as_ref() != Some(&dnskeys) || zsk_signers.last().map(|z| z.0) == Some(day);
        if key_step {
            ldns_at(&signed, &cur_ds, t)
                .unwrap_or_else(|e| panic!("day {day} {hour:02}h: ldns-verify-zone: {e}"));
            ldns_checks += 1;
        }
        prev_dnskeys = Some(dnskeys);
        prev_parent = parent.clone();
    }
    // Two scheduled ZSK rolls, 84 days apart (DPS-6.4), with pre-publication.
    assert_eq!(
        zsk_signers.len(),
        3,
        "ZSK signers over time: {zsk_signers:?}"
    );
    assert!((84..=86).contains(&zsk_signers[1].0), "{zsk_signers:?}");
    assert!((168..=172).contains(&zsk_signers[2].0), "{zsk_signers:?}");
    let final_keys = prev_dnskeys.unwrap();
    let ksks: Vec<u16> = final_keys.iter().filter(|k| *k.1).map(|k| *k.0).collect();
    assert_eq!(ksks, vec![new_ksk], "only the new KSK is left");
    assert!(
        ldns_checks >= 6,
        "ldns-verify-zone ran at {ldns_checks} key steps"
    );
    // The key list shows the old keys removed, never reused (DPS-5.3).
    assert_eq!(tag_of(&s, "ksk", "removed"), vec![old_ksk]);
    let removed = tag_of(&s, "zsk", "removed");
    assert_eq!(removed, vec![zsk_signers[0].1, zsk_signers[1].1]);
    // The audit log: one entry per key event, in order, UTC.
    let log = fs::read_to_string(s.dir.join("audit.log")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"].as_str().unwrap().starts_with("key-"))
        .collect();
    let mut seen = BTreeSet::new();
    let mut last = String::new();
    for e in &events {
        let at = e["at"].as_str().unwrap().to_string();
        assert!(at.ends_with('Z') && e["time"].as_str().unwrap().ends_with('Z'));
        assert!(at >= last, "audit log out of order at {e}");
        last = at;
        let key = (
            e["event"].as_str().unwrap().to_string(),
            e["tag"].as_u64().unwrap(),
        );
        assert!(seen.insert(key.clone()), "duplicate key event {key:?}");
    }
    let has = |ev: &str, tag: u16| seen.contains(&(ev.to_string(), u64::from(tag)));
    for ev in ["key-published", "key-active", "key-ready", "key-ds-seen"] {
        assert!(has(ev, new_ksk), "{ev} for the new KSK missing");
    }
    for ev in ["key-retired", "key-removed"] {
        assert!(has(ev, old_ksk), "{ev} for the old KSK missing");
        assert!(has(ev, zsk_signers[0].1), "{ev} for the first ZSK missing");
    }
    for (_, z) in &zsk_signers[1..] {
        assert!(has("key-published", *z) && has("key-active", *z));
    }
}

#[test]
fn emergency_zsk_roll_stops_the_compromised_key_at_once() {
    let s = Setup::new("ecdsap256sha256");
    let zone = s.path("se.zone");
    write_zone(&zone);
    let signed = s.path("se.signed");
    ok(
        run(s
            .cmd()
            .args(["key", "generate", "--role", "zsk", "--now", &rfc3339(T0)])),
        "key generate",
    );
    let ds = s.path("parent.ds");
    fs::write(
        &ds,
        ok(
            run(s.cmd().args(["key", "ds", "--origin", "se."])),
            "key ds",
        ),
    )
    .unwrap();
    let old = tag_of(&s, "zsk", "active")[0];
    for (i, t) in [T0, T0 + 2 * 3600].into_iter().enumerate() {
        assert_exit(
            &sign_at(&s, &zone, &signed, &ds, t),
            EXIT_OK,
            &format!("sign {i}"),
        );
    }
    let t = T0 + 3 * 3600;
    let out = run(s.cmd().args([
        "key",
        "compromised",
        "--tag",
        &old.to_string(),
        "--now",
        &rfc3339(t),
    ]));
    let said = ok(out, "key compromised");
    assert!(
        said.contains("DNSKEY TTL"),
        "the cache caveat is said: {said}"
    );
    let new = tag_of(&s, "zsk", "active")[0];
    assert_ne!(new, old);
    for t in [t + 60, t + 2 * 3600, t + 20 * DAY] {
        assert_exit(
            &sign_at(&s, &zone, &signed, &ds, t),
            EXIT_OK,
            "sign after compromise",
        );
        let rrs = parse_flat_zone(&fs::read_to_string(&signed).unwrap()).unwrap();
        let signers = signer_tags(&rrs);
        assert!(
            !signers.iter().any(|(_, k)| *k == old),
            "the compromised ZSK {old} still signs: {signers:?}"
        );
        assert!(signers.contains(&(false, new)));
        verify_at(&s, &signed, &ds, t, "after the emergency roll");
        ldns_at(&signed, &ds, t).unwrap();
    }
    // 20 days later its signatures have left every cache: the DNSKEY is gone too.
    assert_eq!(tag_of(&s, "zsk", "removed"), vec![old]);
    let log = fs::read_to_string(s.dir.join("audit.log")).unwrap();
    assert!(log.contains("\"key-compromised\""));
}

#[test]
fn unsafe_key_commands_are_refused_and_change_nothing() {
    let s = Setup::new("ecdsap256sha256");
    let keys = s.dir.join("keys.toml");
    let zone = s.path("se.zone");
    write_zone(&zone);
    let signed = s.path("se.signed");
    let ds = s.path("parent.ds");
    fs::write(
        &ds,
        ok(
            run(s.cmd().args(["key", "ds", "--origin", "se."])),
            "key ds",
        ),
    )
    .unwrap();
    assert_exit(&sign_at(&s, &zone, &signed, &ds, T0), EXIT_OK, "first sign");
    let ksk = tag_of(&s, "ksk", "active")[0];
    let zsk = tag_of(&s, "zsk", "active")[0];
    let now = rfc3339(T0 + DAY);
    let refused = |args: &[&str], want: &str| {
        let before = fs::read(&keys).unwrap();
        let out = run(s.cmd().args(args));
        assert_exit(&out, EXIT_HSM, &args.join(" "));
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(
            fs::read(&keys).unwrap(),
            before,
            "{args:?} changed the key state"
        );
    };
    let k = ksk.to_string();
    let z = zsk.to_string();
    refused(
        &["key", "retire", "--tag", &k, "--now", &now],
        "the only active KSK",
    );
    refused(
        &["key", "rollover", "--role", "ksk", "--now", &now],
        "key generate --role ksk",
    );
    refused(
        &["key", "ds-seen", "--tag", &z, "--now", &now],
        "not the new KSK",
    );
    ok(
        run(s
            .cmd()
            .args(["key", "generate", "--role", "ksk", "--count", "2"])),
        "key generate",
    );
    ok(
        run(s
            .cmd()
            .args(["key", "rollover", "--role", "ksk", "--now", &now])),
        "key rollover",
    );
    refused(
        &["key", "rollover", "--role", "ksk", "--now", &now],
        "already in progress",
    );
    refused(
        &["key", "ds-seen", "--tag", &k, "--now", &now],
        "not the new KSK",
    );
    let new = tag_of(&s, "ksk", "active")
        .into_iter()
        .find(|t| *t != ksk)
        .unwrap();
    refused(
        &["key", "ds-seen", "--tag", &new.to_string(), "--now", &now],
        "not been published long enough",
    );
    refused(
        &["key", "retire", "--tag", &k, "--now", &now],
        "KSK roll in progress",
    );
    refused(
        &["key", "retire", "--tag", &z, "--now", &now],
        "rollover --role zsk",
    );
    // While a sign run holds the key-state lock, key commands wait their turn (exit 5)
    // instead of having their change overwritten by the run's save.
    {
        let lock = fs::File::create(s.dir.join(".keys.toml.lock")).unwrap();
        lock.lock().unwrap();
        let before = fs::read(&keys).unwrap();
        let out = run(s
            .cmd()
            .args(["key", "compromised", "--tag", &z, "--now", &now]));
        assert_exit(&out, 5, "key compromised while the lock is held");
        assert_eq!(fs::read(&keys).unwrap(), before);
    }
    // The scheduled ZSK roll is due but no ZSK was pre-generated: cron goes on signing
    // with the old ZSK and says what to do.
    let t = T0 + 84 * DAY;
    let parent = s.path("parent2.ds");
    fs::write(
        &parent,
        ok(
            run(s.cmd().args(["key", "ds", "--now", &rfc3339(t)])),
            "key ds",
        ),
    )
    .unwrap();
    let out = sign_at(&s, &zone, &signed, &parent, t);
    assert_exit(&out, EXIT_OK, "sign with the ZSK roll due and no spare");
    assert!(
        stderr(&out).contains("key generate --role zsk"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tag_of(&s, "zsk", "active"), vec![zsk]);
}

#[test]
fn a_failed_or_dry_run_moves_neither_zone_nor_key_state() {
    let s = Setup::new("ecdsap256sha256");
    let keys = s.dir.join("keys.toml");
    let zone = s.path("se.zone");
    write_zone(&zone);
    let signed = s.path("se.signed");
    ok(
        run(s
            .cmd()
            .args(["key", "generate", "--role", "zsk", "--now", &rfc3339(T0)])),
        "key generate",
    );
    let ds = s.path("parent.ds");
    fs::write(
        &ds,
        ok(
            run(s.cmd().args(["key", "ds", "--origin", "se."])),
            "key ds",
        ),
    )
    .unwrap();
    assert_exit(&sign_at(&s, &zone, &signed, &ds, T0), EXIT_OK, "first sign");
    let spare = tag_of(&s, "zsk", "generated")[0];
    let (zone_before, keys_before) = (fs::read(&signed).unwrap(), fs::read(&keys).unwrap());
    // The scheduled ZSK roll is due; a run whose gate fails (a DS anchor that matches no
    // key) publishes nothing and keeps the key state as it was.
    let t = T0 + 84 * DAY;
    let wrong = s.path("wrong.ds");
    fs::write(
        &wrong,
        "se. 3600 IN DS 1 13 2 0000000000000000000000000000000000000000000000000000000000000000\n",
    )
    .unwrap();
    let out = sign_at(&s, &zone, &signed, &wrong, t);
    assert_exit(&out, EXIT_VERIFY_FAILED, "sign against a wrong anchor");
    assert_eq!(fs::read(&signed).unwrap(), zone_before, "zone moved");
    assert_eq!(fs::read(&keys).unwrap(), keys_before, "key state moved");
    // A dry run says what would change and saves nothing.
    let out = s.sign_with(
        &zone,
        "se.",
        &signed,
        &[
            "--now",
            &rfc3339(t),
            "--ds-anchor",
            ds.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_exit(&out, EXIT_OK, "dry run");
    assert!(stderr(&out).contains("published"), "{}", stderr(&out));
    assert_eq!(
        fs::read(&keys).unwrap(),
        keys_before,
        "dry run saved the key state"
    );
    // The real run moves both.
    assert_exit(&sign_at(&s, &zone, &signed, &ds, t), EXIT_OK, "sign");
    assert_eq!(tag_of(&s, "zsk", "published"), vec![spare]);
}
