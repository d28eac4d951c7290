//! Key lifecycles (issue 6; DPS-6.4, DPS-4.5, DPS-5.1, DPS-5.3, DPS-4.4): a 200-day
//! simulation of the two-hour cron cycle (sampled every two days) with two scheduled ZSK
//! rolls and one KSK roll, emergency ZSK and KSK rolls, one key's DS checked against
//! ldns and BIND, the `ready` state, destroying removed keys, the refusals, and the
//! audit trail. All through the real binary and a real SoftHSM2 token, with `--now`
//! advancing; the token's objects are checked with OpenSC's `pkcs11-tool`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use zonesign::dnssec::policy::Policy;

use crate::common::*;

const DAY: i64 = 86_400;
/// 2027-01-01T01:05:00Z: a cron run time (odd UTC hour, DPS-6.5).
const T0: i64 = 1_798_765_500;

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
            (zonesign::dnssec::crypto::key_tag(&rdata), flags == 257)
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

/// The zone's RRs after the last sign run.
fn signed_rrs(z: &SeZone) -> Vec<Rr> {
    parse_flat_zone(&fs::read_to_string(&z.signed).unwrap()).unwrap()
}

/// The audit log's lines, parsed.
fn audit_events(s: &Setup) -> Vec<serde_json::Value> {
    fs::read_to_string(s.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `zonesign audit verify` passes: the hash chain is intact (DPS-4.4).
#[track_caller]
fn audit_chain_intact(s: &Setup) {
    s.ok(&["audit", "verify"]);
}

/// The `created`, `published` and `active` times of each key in `keys.toml`, by tag.
fn recorded_times(s: &Setup) -> BTreeMap<u64, [Option<String>; 3]> {
    let text = fs::read_to_string(s.dir.join("keys.toml")).expect("read keys.toml");
    let state: toml::Value = toml::from_str(&text).expect("keys.toml is TOML");
    let field = |k: &toml::Value, f: &str| k.get(f).and_then(|v| v.as_str()).map(String::from);
    state["key"]
        .as_array()
        .expect("keys.toml has keys")
        .iter()
        .map(|k| {
            let tag = k["tag"].as_integer().expect("tag") as u64;
            (
                tag,
                [
                    field(k, "created"),
                    field(k, "published"),
                    field(k, "active"),
                ],
            )
        })
        .collect()
}

/// `init` records its keys' times (created, published, active: `--now`, else the clock),
/// like a roll records its keys', and logs them; so the first `sign` after init has no
/// key to adopt: no "adopted" line on stderr, no `key-adopted` audit line, the times
/// unchanged.
#[test]
fn init_records_key_times_so_the_first_sign_adopts_nothing() {
    let z = SeZone::at("ecdsap256sha256", T0);
    let s = &z.s;
    let at = rfc3339(T0);
    let times = recorded_times(s);
    assert_eq!(times.len(), 2, "{times:?}");
    for (tag, t) in &times {
        assert_eq!(
            t,
            &[Some(at.clone()), Some(at.clone()), Some(at.clone())],
            "key {tag}"
        );
    }
    let logged: BTreeSet<(String, u64, String)> = audit_events(s)
        .iter()
        .filter(|e| e["event"].as_str().unwrap().starts_with("key-"))
        .map(|e| {
            let ev = e["event"].as_str().unwrap().to_string();
            (
                ev,
                e["tag"].as_u64().unwrap(),
                e["at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64, String)> = times
        .keys()
        .flat_map(|&tag| {
            ["key-published", "key-active"].map(|ev| (ev.to_string(), tag, at.clone()))
        })
        .collect();
    assert_eq!(logged, expected, "init's key events in the audit log");
    let out = z.sign_at(&z.ds, T0 + 3600);
    assert_exit(&out, EXIT_OK, "first sign after init");
    assert!(
        !stderr(&out).contains("adopted"),
        "the first sign adopted init's keys\n{}",
        describe(&out)
    );
    assert!(
        !audit_events(s).iter().any(|e| e["event"] == "key-adopted"),
        "key-adopted in the audit log"
    );
    assert_eq!(
        recorded_times(s),
        times,
        "the first sign changed the keys' times"
    );
    audit_chain_intact(s);

    // Without --now: the clock at init, and a sign on the clock adopts nothing either.
    let before = rfc3339(unix_now());
    let s = Setup::new("ed25519");
    let after = rfc3339(unix_now());
    let times = recorded_times(&s);
    for (tag, t) in &times {
        let created = t[0].clone().expect("created");
        assert!(
            before <= created && created <= after,
            "key {tag}: created {created}, init ran from {before} to {after}"
        );
        assert_eq!(
            t,
            &[Some(created.clone()), Some(created.clone()), Some(created)]
        );
    }
    let zone = s.path("se.zone");
    write_se_zone(&zone);
    let out = s.sign(&zone, "se.", &s.path("se.signed"));
    assert_exit(&out, EXIT_OK, "sign on the clock after init");
    assert!(
        !stderr(&out).contains("adopted"),
        "the first sign adopted init's keys\n{}",
        describe(&out)
    );
    assert_eq!(recorded_times(&s), times);
}

#[test]
fn two_hundred_days_two_zsk_rolls_one_ksk_roll() {
    let z = SeZone::at("rsasha1", T0);
    let s = &z.s;
    let now0 = rfc3339(T0);
    s.ok(&[
        "key", "generate", "--role", "zsk", "--count", "2", "--now", &now0,
    ]);
    s.ok(&["key", "generate", "--role", "ksk", "--now", &now0]);
    let old_ksk = s.tags("ksk", "active")[0];
    let new_ksk = s.tags("ksk", "generated")[0];
    // The parent's DS set, as it changes over time.
    let mut parent = s.ok(&["key", "ds", "--origin", "se.", "--now", &now0]);
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
            s.ok(&["key", "rollover", "--role", "ksk", "--now", &now]);
        }
        if t == T0 + 24 * DAY {
            // The new KSK is ready: `key ds` now offers its DS, the parent publishes it.
            parent = s.ok(&["key", "ds", "--now", &now]);
            assert_eq!(ds_tags_of(&parent), BTreeSet::from([new_ksk]));
            s.ok(&[
                "key",
                "ds-seen",
                "--tag",
                &new_ksk.to_string(),
                "--now",
                &now,
            ]);
        }
        let cur_ds = z.ds_file("parent-now.ds", &parent);
        let prev_ds = z.ds_file("parent-prev.ds", &prev_parent);
        let out = z.sign_at(&cur_ds, t);
        assert_exit(&out, EXIT_OK, &format!("sign on day {day} {hour:02}h"));
        // Validates from the DS the parent has now, and from the one a resolver may
        // still cache.
        z.verify_at(&cur_ds, t, &format!("day {day} {hour:02}h, current DS"));
        z.verify_at(&prev_ds, t, &format!("day {day} {hour:02}h, previous DS"));
        let rrs = signed_rrs(&z);
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
            ldns_verify_at(&z.signed, &cur_ds, t)
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
    assert_eq!(s.tags("ksk", "removed"), vec![old_ksk]);
    let removed = s.tags("zsk", "removed");
    assert_eq!(removed, vec![zsk_signers[0].1, zsk_signers[1].1]);
    // The audit log: one entry per key event, in order, UTC.
    let events: Vec<serde_json::Value> = audit_events(s)
        .into_iter()
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

/// DPS-4.5 (ZSK): the compromised ZSK signs nothing after the command, the zone
/// validates throughout; DPS-5.3: its private key can be destroyed only once it is
/// removed, and signing goes on without it.
#[test]
fn emergency_zsk_roll_stops_the_compromised_key_at_once() {
    let z = SeZone::at("ecdsap256sha256", T0);
    let s = &z.s;
    s.ok(&["key", "generate", "--role", "zsk", "--now", &rfc3339(T0)]);
    let old = s.tags("zsk", "active")[0];
    for (i, t) in [T0, T0 + 2 * 3600].into_iter().enumerate() {
        assert_exit(&z.sign_at(&z.ds, t), EXIT_OK, &format!("sign {i}"));
    }
    let t = T0 + 3 * 3600;
    let said = s.ok(&[
        "key",
        "compromised",
        "--tag",
        &old.to_string(),
        "--now",
        &rfc3339(t),
    ]);
    assert!(
        said.contains("DNSKEY TTL"),
        "the cache caveat is said: {said}"
    );
    let new = s.tags("zsk", "active")[0];
    assert_ne!(new, old);
    // Retired, not removed: its DNSKEY is still needed by cached signatures.
    let out = run(s.cmd().args(["key", "destroy", "--tag", &old.to_string()]));
    assert_exit(&out, EXIT_HSM, "destroy a retired ZSK");
    assert!(
        stderr(&out).contains("retired but not yet removed"),
        "{}",
        stderr(&out)
    );
    for t in [t + 60, t + 2 * 3600, t + 20 * DAY] {
        assert_exit(&z.sign_at(&z.ds, t), EXIT_OK, "sign after compromise");
        let signers = signer_tags(&signed_rrs(&z));
        assert!(
            !signers.iter().any(|(_, k)| *k == old),
            "the compromised ZSK {old} still signs: {signers:?}"
        );
        assert!(signers.contains(&(false, new)));
        z.verify_at(&z.ds, t, "after the emergency roll");
        ldns_verify_at(&z.signed, &z.ds, t).unwrap();
    }
    // 20 days later its signatures have left every cache: the DNSKEY is gone too, and
    // the private key may now be destroyed (DPS-5.3); signing does not need it.
    assert_eq!(s.tags("zsk", "removed"), vec![old]);
    let id = s.key(old)["id"].as_str().unwrap().to_string();
    assert!(s.token_objects().private.contains(&id));
    s.ok(&[
        "key",
        "destroy",
        "--tag",
        &old.to_string(),
        "--now",
        &rfc3339(t + 21 * DAY),
    ]);
    assert!(!s.token_objects().private.contains(&id));
    assert_exit(
        &z.sign_at(&z.ds, t + 21 * DAY),
        EXIT_OK,
        "sign after destroy",
    );
    z.verify_at(&z.ds, t + 21 * DAY, "after destroy");
    let log = fs::read_to_string(s.dir.join("audit.log")).unwrap();
    assert!(log.contains("\"key-compromised\"") && log.contains("\"key-destroyed\""));
    audit_chain_intact(s);
}

/// An ECDSA zone signed at `T0` with a second, generated KSK ready for a roll; and the
/// active KSK's tag.
fn signed_with_a_spare_ksk() -> (SeZone, u16) {
    let z = SeZone::at("ecdsap256sha256", T0);
    z.s.ok(&["key", "generate", "--role", "ksk", "--now", &rfc3339(T0)]);
    assert_exit(&z.sign_at(&z.ds, T0), EXIT_OK, "first sign");
    let active = z.s.tags("ksk", "active")[0];
    (z, active)
}

/// DPS-4.5 (KSK): a suspected KSK compromise introduces a new KSK at once, in parallel
/// with the old one, until the old can be removed safely.
///
/// The compromised KSK cannot stop signing at the moment of the command: the parent
/// still publishes its DS, so the DNSKEY RRset must keep a signature by it or every
/// validating resolver sees a bogus zone (the "never a bogus zone"). What the
/// test shows instead: from the command on the new KSK signs the DNSKEY RRset next to
/// it; the compromised KSK never signs anything but the DNSKEY RRset; `key ds` prints
/// the DS the parent must publish at each moment (the old one until the new DNSKEY is
/// in every cache, then the new one); after `ds-seen` plus DS TTL + propagation the
/// compromised KSK signs nothing and is gone from the zone; the zone validates against
/// the parent's DS set at every step (zonesign verify and ldns-verify-zone), and also
/// for a resolver still caching the previous DS.
#[test]
fn emergency_ksk_roll_keeps_the_chain_from_the_parents_ds() {
    let p = Policy::default();
    let (z, old) = signed_with_a_spare_ksk();
    let s = &z.s;
    let old_ds = fs::read_to_string(&z.ds).unwrap();
    assert_eq!(ds_tags_of(&old_ds), BTreeSet::from([old]));

    let t1 = T0 + 3 * 3600;
    let said = s.ok(&[
        "key",
        "compromised",
        "--tag",
        &old.to_string(),
        "--now",
        &rfc3339(t1),
    ]);
    assert!(said.contains("compromised"), "{said}");
    let new = *s
        .tags("ksk", "active")
        .iter()
        .find(|t| **t != old)
        .expect("a new KSK is active at once");
    assert_eq!(s.key(old)["compromised"], true);
    // A second roll on top of the emergency one is refused.
    let out = run(s
        .cmd()
        .args(["key", "rollover", "--role", "ksk", "--now", &rfc3339(t1)]));
    assert_exit(&out, EXIT_HSM, "rollover during the emergency roll");
    // Until the new DNSKEY is in every cache, the parent must keep the old DS only.
    let ds_now = s.ok(&["key", "ds", "--now", &rfc3339(t1)]);
    assert_eq!(ds_tags_of(&ds_now), BTreeSet::from([old]));
    let new_ds_text = s.ok(&["key", "ds", "--tag", &new.to_string()]);
    let new_ds = z.ds_file("new.ds", &new_ds_text);

    let check = |t: i64, parent: &Path, what: &str| -> BTreeSet<(bool, u16)> {
        assert_exit(&z.sign_at(parent, t), EXIT_OK, what);
        z.verify_at(parent, t, what);
        ldns_verify_at(&z.signed, parent, t).unwrap_or_else(|e| panic!("{what}: {e}"));
        let signers = signer_tags(&signed_rrs(&z));
        assert!(
            !signers.contains(&(false, old)),
            "{what}: the compromised KSK signs more than the DNSKEY RRset: {signers:?}"
        );
        signers
    };
    // Double signature at once: both KSKs sign the DNSKEY RRset, so the parent's old DS
    // and the new DS both validate.
    let signers = check(t1 + 60, &z.ds, "right after the command");
    assert!(signers.contains(&(true, old)) && signers.contains(&(true, new)));
    z.verify_at(&new_ds, t1 + 60, "new DS right after the command");

    // DNSKEY TTL + propagation later the parent may switch: `key ds` says so.
    let t2 = t1 + p.ksk_ds_ready();
    let ds_now = s.ok(&["key", "ds", "--now", &rfc3339(t2)]);
    assert_eq!(ds_tags_of(&ds_now), BTreeSet::from([new]));
    assert_eq!(ds_now, new_ds_text, "key ds --tag prints the same DS");
    s.ok(&[
        "key",
        "ds-seen",
        "--tag",
        &new.to_string(),
        "--now",
        &rfc3339(t2),
    ]);
    let parent = z.ds_file("parent2.ds", &ds_now);
    check(t2, &parent, "after ds-seen, new DS");
    z.verify_at(&z.ds, t2, "after ds-seen, a resolver caching the old DS");

    // DS TTL + propagation after ds-seen the old DS has left every cache: the
    // compromised KSK signs nothing and its DNSKEY is gone.
    let t3 = t2 + p.ksk_retire_after_ds();
    let signers = check(t3, &parent, "after the old DS expired");
    assert!(
        !signers.iter().any(|(_, k)| *k == old),
        "the compromised KSK {old} still signs: {signers:?}"
    );
    assert!(!dnskey_tags(&signed_rrs(&z)).contains_key(&old));
    assert_eq!(s.tags("ksk", "removed"), vec![old]);
    // Nothing chains from the compromised key's DS any more.
    let out = s.verify(&z.signed, "se.", &z.ds, &["--now", &rfc3339(t3)]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "verify against the old DS");
    let kinds: Vec<String> = audit_events(s)
        .iter()
        .filter(|e| e["tag"] == old)
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    for ev in ["key-compromised", "key-retired", "key-removed"] {
        assert!(kinds.iter().any(|k| k == ev), "{ev} missing: {kinds:?}");
    }
    audit_chain_intact(s);
}

/// DPS-5.1: `key ds --tag N` prints exactly that key's DS, the digests ldns-key2ds and
/// BIND's dnssec-dsfromkey compute from the DNSKEY `key export` prints; during a KSK
/// roll, for either KSK; a ZSK has no DS.
#[test]
fn key_ds_for_one_tag_matches_ldns_and_bind() {
    let z = SeZone::at("rsasha256", T0);
    let s = &z.s;
    s.ok(&["key", "generate", "--role", "ksk", "--now", &rfc3339(T0)]);
    assert_exit(&z.sign_at(&z.ds, T0), EXIT_OK, "first sign");
    s.ok(&[
        "key",
        "rollover",
        "--role",
        "ksk",
        "--now",
        &rfc3339(T0 + 3600),
    ]);
    let ksks = s.tags("ksk", "active");
    assert_eq!(ksks.len(), 2, "two KSKs during the roll");
    let export = s.ok(&["key", "export", "--origin", "se."]);
    // The DS RDATA fields after "DS", upper-cased, of every DS line.
    let rdata = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter_map(|l| {
                let t = tokens(l);
                let i = t.iter().position(|x| x == "DS")?;
                Some(t[i + 1..].iter().map(|x| x.to_ascii_uppercase()).collect())
            })
            .collect()
    };
    for tag in &ksks {
        let line = export
            .lines()
            .find(|l| l.ends_with(&format!(" tag {tag}")))
            .unwrap_or_else(|| panic!("key export has no DNSKEY for {tag}:\n{export}"));
        let key = s.path(&format!("ksk{tag}.key"));
        fs::write(
            &key,
            format!("{}\n", line.split(';').next().unwrap().trim()),
        )
        .unwrap();
        let tool = |cmd: &mut Command| {
            let out = run(cmd);
            assert_exit(&out, EXIT_OK, &command_line(cmd));
            rdata(&stdout(&out))
        };
        for (digest, ldns_flag, bind_alg) in
            [("sha256", "-2", "SHA-256"), ("sha384", "-4", "SHA-384")]
        {
            let ours = s.ok(&[
                "key",
                "ds",
                "--tag",
                &tag.to_string(),
                "--digest",
                digest,
                "--origin",
                "se.",
            ]);
            let ours = rdata(&ours);
            assert_eq!(ours.len(), 1, "exactly one DS for {tag}: {ours:?}");
            assert_eq!(ours[0][0], tag.to_string());
            let ldns = tool(
                Command::new("ldns-key2ds")
                    .args(["-n", ldns_flag])
                    .arg(&key),
            );
            assert_eq!(ours, ldns, "{digest}: zonesign vs ldns-key2ds for {tag}");
            let bind = tool(
                Command::new("dnssec-dsfromkey")
                    .args(["-a", bind_alg, "-f"])
                    .arg(&key)
                    .arg("se."),
            );
            assert_eq!(
                ours, bind,
                "{digest}: zonesign vs dnssec-dsfromkey for {tag}"
            );
        }
    }
    let zsk = s.tags("zsk", "active")[0];
    let out = run(s.cmd().args(["key", "ds", "--tag", &zsk.to_string()]));
    assert_exit(&out, EXIT_HSM, "key ds --tag ZSK");
    assert!(stderr(&out).contains("ZSK"), "{}", stderr(&out));
    // Each `key ds --tag` is logged as an export of that one key (DPS-4.4).
    let exports: Vec<serde_json::Value> = audit_events(s)
        .into_iter()
        .filter(|e| e["event"] == "export" && e["what"] == "DS")
        .collect();
    for tag in &ksks {
        assert!(
            exports
                .iter()
                .any(|e| e["tags"] == serde_json::json!([tag])),
            "no DS export of {tag} alone"
        );
    }
}

/// Refusal of the issue: generating a key with an algorithm the token cannot do.
///
/// SoftHSM2 implements all four algorithms zonesign signs with (5, 8, 13, 15), so the
/// token is made to lack them for real: SoftHSM2's `slots.mechanisms` setting limits
/// the mechanisms the token offers (C_GetMechanismList and every operation) to ECDSA
/// P-256. `key generate` must then refuse Ed25519 and RSA with a clear message, create
/// no object in the token and leave the key state as it was. An algorithm zonesign
/// itself does not know (14, ECDSAP384SHA384) is refused earlier, as bad input.
#[test]
fn key_generate_refuses_an_algorithm_the_token_lacks() {
    let s = Setup::new("ecdsap256sha256");
    let conf = s.dir.join("softhsm2.conf");
    let mut text = fs::read_to_string(&conf).unwrap();
    text.push_str("slots.mechanisms = CKM_EC_KEY_PAIR_GEN,CKM_ECDSA\n");
    fs::write(&conf, text).unwrap();
    let keys = s.dir.join("keys.toml");
    let before = (fs::read(&keys).unwrap(), s.token_objects());
    assert_eq!(before.1.private.len(), 2);
    for alg in ["ed25519", "rsasha256", "rsasha1"] {
        let out = run(s
            .cmd()
            .args(["key", "generate", "--role", "zsk", "--algorithm", alg]));
        assert_exit(&out, EXIT_HSM, &format!("key generate --algorithm {alg}"));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("cannot generate or sign with {alg}"))
                && err.contains("nothing was generated"),
            "{alg}: {err}"
        );
        assert_eq!(
            (fs::read(&keys).unwrap(), s.token_objects()),
            before,
            "{alg}: key state or token changed"
        );
    }
    let out = run(s
        .cmd()
        .args(["key", "generate", "--role", "zsk", "--algorithm", "14"]));
    assert_exit(&out, EXIT_BAD_INPUT, "key generate --algorithm 14");
    assert!(
        stderr(&out).contains("unsupported algorithm number 14"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&keys).unwrap(), before.0);
    // The refusals are logged as failed key generations; the token itself still works.
    let failed = audit_events(&s)
        .into_iter()
        .filter(|e| e["event"] == "keygen" && e["result"] == "failed")
        .count();
    assert_eq!(failed, 3);
    s.ok(&[
        "key",
        "generate",
        "--role",
        "zsk",
        "--algorithm",
        "ecdsap256sha256",
    ]);
    assert_eq!(s.token_objects().private.len(), 3);
    audit_chain_intact(&s);
}

/// DPS-5.3: a key's objects are destroyed in the token only by `key destroy`, only once
/// the key is removed, and the act is logged (DPS-4.4). Every other state is refused
/// with why and what to do, and changes neither the key state nor the token.
#[test]
fn key_destroy_only_for_removed_keys_and_logged() {
    let z = SeZone::at("ecdsap256sha256", T0);
    let s = &z.s;
    let keys = s.dir.join("keys.toml");
    assert_exit(&z.sign_at(&z.ds, T0), EXIT_OK, "first sign");
    s.ok(&[
        "key",
        "generate",
        "--role",
        "zsk",
        "--count",
        "3",
        "--now",
        &rfc3339(T0),
    ]);
    let ksk = s.tags("ksk", "active")[0];
    let zsk = s.tags("zsk", "active")[0];
    let spares = s.tags("zsk", "generated");
    let now = rfc3339(T0 + DAY);
    let refused = |tag: u16, want: &str| {
        let before = (fs::read(&keys).unwrap(), s.token_objects());
        let out = run(s
            .cmd()
            .args(["key", "destroy", "--tag", &tag.to_string(), "--now", &now]));
        assert_exit(&out, EXIT_HSM, &format!("key destroy --tag {tag}"));
        let err = stderr(&out);
        assert!(err.contains(want), "{tag}: {err}");
        assert_eq!(
            (fs::read(&keys).unwrap(), s.token_objects()),
            before,
            "a refused destroy of {tag} changed something"
        );
    };
    refused(ksk, "is active");
    refused(ksk, "rollover --role ksk");
    refused(zsk, "is active");
    refused(spares[0], &format!("key retire --tag {}", spares[0]));
    // Published: during a ZSK roll.
    s.ok(&["key", "rollover", "--role", "zsk", "--now", &now]);
    refused(spares[0], "published");
    // Take the other spare out of use: removed, never published; now it may go.
    let gone = spares[1];
    s.ok(&["key", "retire", "--tag", &gone.to_string(), "--now", &now]);
    let entry = s.key(gone);
    let (id, label) = (
        entry["id"].as_str().unwrap(),
        entry["label"].as_str().unwrap(),
    );
    let before = s.token_objects();
    assert!(before.private.contains(id) && before.public.contains(id));
    let said = s.ok(&["key", "destroy", "--tag", &gone.to_string(), "--now", &now]);
    assert!(said.contains("destroyed"), "{said}");
    let after = s.token_objects();
    assert!(
        !after.private.contains(id) && !after.public.contains(id),
        "{after:?}"
    );
    assert_eq!(
        after.private.len(),
        before.private.len() - 1,
        "only that key went"
    );
    // Recorded: state destroyed with the time, in keys.toml and in both listings.
    let entry = s.key(gone);
    assert_eq!(entry["state"], "destroyed");
    assert_eq!(entry["recorded-state"], "destroyed");
    assert_eq!(entry["destroyed"], now.as_str());
    let toml_text = fs::read_to_string(&keys).unwrap();
    assert!(toml_text.contains("state = \"destroyed\""), "{toml_text}");
    let text = s.ok(&["key", "list"]);
    let row = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(gone.to_string().as_str()))
        .unwrap_or_else(|| panic!("no row for {gone}:\n{text}"));
    assert!(row.contains(" destroyed "), "{row}");
    assert!(text.contains(&format!("destroyed {now}")), "{text}");
    // A second destroy: clear error, nothing changes.
    refused(gone, "already destroyed");
    // The audit log has the event with tag, id, label and the OS user; the chain holds.
    let ev: Vec<serde_json::Value> = audit_events(s)
        .into_iter()
        .filter(|e| e["event"] == "key-destroyed")
        .collect();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert_eq!(e["tag"], gone);
    assert_eq!(e["id"], id);
    assert_eq!(e["label"], label);
    assert_eq!(e["result"], "ok");
    assert_eq!(e["private-objects"], 1);
    assert_eq!(e["at"], now.as_str());
    assert!(e["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(e["command"], "key destroy");
    // Logged inside the session that did it: login, key-destroyed, logout.
    let acts: Vec<String> = audit_events(s)
        .into_iter()
        .filter(|e| e["command"] == "key destroy")
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(acts, ["login", "key-destroyed", "logout"]);
    let pin = fs::read_to_string(s.pin_file()).unwrap();
    let log = fs::read_to_string(s.dir.join("audit.log")).unwrap();
    assert!(!log.contains(pin.trim()), "the PIN is in the audit log");
    audit_chain_intact(s);
    // Signing goes on: the destroyed key was never needed again.
    assert_exit(&z.sign_at(&z.ds, T0 + DAY), EXIT_OK, "sign after destroy");

    // A destruction whose recording was interrupted (objects gone, state still
    // `removed`, here: deleted with pkcs11-tool) is completed by running it again,
    // with a warning that nothing was left in the token.
    let last = spares[2];
    s.ok(&["key", "retire", "--tag", &last.to_string(), "--now", &now]);
    let last_id = s.key(last)["id"].as_str().unwrap().to_string();
    for class in ["privkey", "pubkey"] {
        s.pkcs11_tool(&["--delete-object", "--type", class, "--id", &last_id]);
    }
    let out = run(s
        .cmd()
        .args(["key", "destroy", "--tag", &last.to_string(), "--now", &now]));
    assert_exit(&out, EXIT_OK, "destroy a removed key with no objects left");
    assert!(
        stderr(&out).contains("warning") && stderr(&out).contains("no object"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.key(last)["recorded-state"], "destroyed");
    let e = audit_events(s)
        .into_iter()
        .rfind(|e| e["event"] == "key-destroyed")
        .unwrap();
    assert_eq!(
        (e["tag"].clone(), e["private-objects"].clone()),
        (last.into(), 0.into())
    );
    audit_chain_intact(s);
}

#[test]
fn unsafe_key_commands_are_refused_and_change_nothing() {
    let z = SeZone::at("ecdsap256sha256", T0);
    let s = &z.s;
    let keys = s.dir.join("keys.toml");
    assert_exit(&z.sign_at(&z.ds, T0), EXIT_OK, "first sign");
    let ksk = s.tags("ksk", "active")[0];
    let zsk = s.tags("zsk", "active")[0];
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
    let z_ = zsk.to_string();
    refused(
        &["key", "retire", "--tag", &k, "--now", &now],
        "the only active KSK",
    );
    refused(
        &["key", "rollover", "--role", "ksk", "--now", &now],
        "key generate --role ksk",
    );
    refused(
        &["key", "ds-seen", "--tag", &z_, "--now", &now],
        "not the new KSK",
    );
    s.ok(&["key", "generate", "--role", "ksk", "--count", "2"]);
    s.ok(&["key", "rollover", "--role", "ksk", "--now", &now]);
    refused(
        &["key", "rollover", "--role", "ksk", "--now", &now],
        "already in progress",
    );
    refused(
        &["key", "ds-seen", "--tag", &k, "--now", &now],
        "not the new KSK",
    );
    let new = s
        .tags("ksk", "active")
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
        &["key", "retire", "--tag", &z_, "--now", &now],
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
            .args(["key", "compromised", "--tag", &z_, "--now", &now]));
        assert_exit(&out, 5, "key compromised while the lock is held");
        let out = run(s
            .cmd()
            .args(["key", "destroy", "--tag", &z_, "--now", &now]));
        assert_exit(&out, 5, "key destroy while the lock is held");
        assert_eq!(fs::read(&keys).unwrap(), before);
    }
    // The scheduled ZSK roll is due but no ZSK was pre-generated: cron goes on signing
    // with the old ZSK and says what to do.
    let t = T0 + 84 * DAY;
    let parent = z.ds_file("parent2.ds", &s.ok(&["key", "ds", "--now", &rfc3339(t)]));
    let out = z.sign_at(&parent, t);
    assert_exit(&out, EXIT_OK, "sign with the ZSK roll due and no spare");
    assert!(
        stderr(&out).contains("key generate --role zsk"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.tags("zsk", "active"), vec![zsk]);
}

/// The whole state change of a run is written with the zone, or not at all; and the
/// RFC 7583 `ready` state is listed for a pre-published ZSK whose DNSKEY is in every
/// cache, until a sign run makes it active (DPS-6.4).
#[test]
fn a_failed_or_dry_run_moves_neither_zone_nor_key_state() {
    let z = SeZone::at("ecdsap256sha256", T0);
    let s = &z.s;
    let keys = s.dir.join("keys.toml");
    s.ok(&["key", "generate", "--role", "zsk", "--now", &rfc3339(T0)]);
    assert_exit(&z.sign_at(&z.ds, T0), EXIT_OK, "first sign");
    let spare = s.tags("zsk", "generated")[0];
    let (zone_before, keys_before) = (fs::read(&z.signed).unwrap(), fs::read(&keys).unwrap());
    // The scheduled ZSK roll is due; a run whose gate fails (a DS anchor that matches no
    // key) publishes nothing and keeps the key state as it was.
    let t = T0 + 84 * DAY;
    let wrong = z.ds_file(
        "wrong.ds",
        "se. 3600 IN DS 1 13 2 0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let out = z.sign_at(&wrong, t);
    assert_exit(&out, EXIT_VERIFY_FAILED, "sign against a wrong anchor");
    assert_eq!(fs::read(&z.signed).unwrap(), zone_before, "zone moved");
    assert_eq!(fs::read(&keys).unwrap(), keys_before, "key state moved");
    // A dry run says what would change and saves nothing.
    let out = s.sign_with(
        &z.zone,
        "se.",
        &z.signed,
        &[
            "--now",
            &rfc3339(t),
            "--ds-anchor",
            z.ds.to_str().unwrap(),
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
    assert_exit(&z.sign_at(&z.ds, t), EXIT_OK, "sign");
    assert_eq!(s.tags("zsk", "published"), vec![spare]);
    // `ready` (RFC 7583): listed once DNSKEY TTL + propagation have passed, in JSON and
    // text, while keys.toml still says published; the next run makes it active.
    let ready_at = t + Policy::default().zsk_prepublish();
    let state_at = |now: i64| {
        let list = s.key_list(Some(now));
        let k = list
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["tag"] == spare)
            .unwrap()
            .clone();
        (k["state"].clone(), k["recorded-state"].clone())
    };
    assert_eq!(
        state_at(ready_at - 1),
        ("published".into(), "published".into())
    );
    assert_eq!(state_at(ready_at), ("ready".into(), "published".into()));
    let text = s.ok(&["key", "list", "--now", &rfc3339(ready_at)]);
    let row = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(spare.to_string().as_str()))
        .unwrap();
    assert!(row.contains(" ready "), "{text}");
    assert_exit(&z.sign_at(&z.ds, ready_at), EXIT_OK, "sign at ready");
    assert_eq!(state_at(ready_at), ("active".into(), "active".into()));
}

/// PIPE-6 (issue 23): the parent's DS ends a KSK roll by itself. Once the `--ds-anchor`
/// file (which the registry's tooling refreshes from the parent) holds the new KSK's
/// DS, the run records `ds-seen` (audited as `key-ds-seen` with `source: anchor`) as
/// `key ds-seen --tag N` would; a DS seen before the new DNSKEY is in every cache is
/// not recorded yet; DS TTL + propagation later the old KSK is gone. No `key ds-seen`.
#[test]
fn a_ksk_roll_ends_when_the_anchor_file_shows_the_new_ds() {
    let p = Policy::default();
    let (z, old) = signed_with_a_spare_ksk();
    let s = &z.s;
    let new = s.tags("ksk", "generated")[0];
    let t1 = T0 + DAY;
    s.ok(&["key", "rollover", "--role", "ksk", "--now", &rfc3339(t1)]);
    assert_exit(&z.sign_at(&z.ds, t1), EXIT_OK, "the roll starts");
    let new_ds_text = s.ok(&["key", "ds", "--tag", &new.to_string()]);
    // Old and new DS at the parent, too early for the policy: nothing is recorded.
    let both = z.ds_file(
        "both.ds",
        &(fs::read_to_string(&z.ds).unwrap() + &new_ds_text),
    );
    assert_exit(&z.sign_at(&both, t1 + 1800), EXIT_OK, "new DS seen early");
    assert!(s.key(new)["ds-seen"].is_null(), "{}", s.key(new));
    // DNSKEY TTL + propagation after the publication, the parent shows the new DS only.
    let t2 = t1 + p.ksk_ds_ready() + 7200;
    let parent = z.ds_file("parent.ds", &new_ds_text);
    assert_exit(&z.sign_at(&parent, t2), EXIT_OK, "the parent switched");
    z.verify_at(&parent, t2, "new DS");
    z.verify_at(&z.ds, t2, "a resolver caching the old DS");
    assert!(s.key(new)["ds-seen"].is_string(), "{}", s.key(new));
    let seen: Vec<serde_json::Value> = audit_events(s)
        .into_iter()
        .filter(|e| e["event"] == "key-ds-seen")
        .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["source"], "anchor");
    assert_eq!(seen[0]["tag"], new);
    // DS TTL + propagation later the old KSK has left.
    let t3 = t2 + p.ksk_retire_after_ds();
    assert_exit(&z.sign_at(&parent, t3), EXIT_OK, "after the old DS expired");
    z.verify_at(&parent, t3, "only the new KSK");
    assert!(!dnskey_tags(&signed_rrs(&z)).contains_key(&old));
    audit_chain_intact(s);
}

/// RFC 9905 (issue 23): RSASHA1 must no longer sign. `init`, `key generate` and every
/// `sign` with such a key warn (stderr, the report, one `algorithm-deprecated` audit
/// line per run) and say how to move off it; `check` has a row for it (a warning, not a
/// failure: the practice statement's profile stays available). ECDSA keys: no warning.
#[test]
fn rsasha1_keys_warn_at_init_generate_sign_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("zs");
    let init =
        run(zonesign()
            .arg("init")
            .arg("--dir")
            .arg(&dir)
            .args(["--algorithm", "rsasha1", "-q"]));
    assert_exit(&init, EXIT_OK, "init rsasha1");
    assert!(
        stderr(&init).contains("RFC 9905: RSASHA1 (algorithm 5) must no longer be used"),
        "{}",
        stderr(&init)
    );
    register_pin_file(&dir.join("user.pin"));
    register_pin_file(&dir.join("so.pin"));
    let cfg = dir.join("zonesign.toml");
    let zs = |args: &[&str]| {
        let mut c = zonesign();
        c.arg("--config").arg(&cfg).args(args);
        run(&mut c)
    };
    let generated = zs(&["key", "generate", "--role", "zsk"]);
    assert_exit(&generated, EXIT_OK, "key generate");
    assert!(
        stderr(&generated).contains("RFC 9905"),
        "{}",
        stderr(&generated)
    );
    let out = tmp.path().join("se.signed");
    let report = tmp.path().join("r.json");
    let sign = zs(&[
        "sign",
        se_sample().to_str().unwrap(),
        "--origin",
        "se.",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "-q",
    ]);
    assert_exit(&sign, EXIT_OK, "sign with RSASHA1");
    assert!(
        stderr(&sign).contains("ecdsap256sha256"),
        "{}",
        stderr(&sign)
    );
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("RFC 9905"))
    );
    let check = zs(&["check", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&check)).unwrap();
    let row = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "RFC 9905")
        .expect("a row for RFC 9905")
        .clone();
    assert_eq!(row["status"], "no", "{row}");
    assert_eq!(row["mandatory"], false);
    let lines = fs::read_to_string(dir.join("audit.log")).unwrap();
    let deprecated: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "algorithm-deprecated")
        .collect();
    let commands: Vec<&str> = deprecated
        .iter()
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["init", "key generate", "sign"]);
    assert_eq!(deprecated[2]["algorithm"], "rsasha1");
    // ECDSA: nothing to say.
    let z = SeZone::at("ecdsap256sha256", T0);
    let out = z.sign_at(&z.ds, T0);
    assert!(!stderr(&out).contains("RFC 9905"), "{}", stderr(&out));
    let check = run(z.s.cmd().args(["check", "--format", "json"]));
    assert!(
        stdout(&check).contains("\"id\": \"RFC 9905\""),
        "{}",
        stdout(&check)
    );
    // init wrote the keys' algorithm into the policy; a policy changed to another one
    // makes every run warn, and the zone signs on with its keys.
    let text = z.s.config_text();
    assert!(text.contains("algorithm = \"ecdsap256sha256\""), "{text}");
    fs::write(
        z.s.config(),
        text.replace("\"ecdsap256sha256\"", "\"rsasha256\""),
    )
    .unwrap();
    for t in [T0 + 7200, T0 + 4 * 7200] {
        let out = z.sign_at(&z.ds, t);
        assert_exit(&out, EXIT_OK, "sign with a policy of another algorithm");
        assert!(
            stderr(&out).contains(
                "the policy's algorithm is rsasha256 but the zone is signed with ecdsap256sha256"
            ),
            "{}",
            stderr(&out)
        );
    }
}
