//! The two-hour cron cycle (issue 4; DPS-6.5): reuse of still-valid signatures, renewal
//! of those expiring within the refresh window, an unchanged run that changes nothing,
//! the lock, untrusted previous outputs, the dry run, the report and the metrics.
//! All through the real binary and a real SoftHSM2 token.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;
use rand::{RngExt, SeedableRng};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A `.se`-like zone whose delegations tests can add, remove and change between runs.
struct TestZone {
    delegations: BTreeMap<String, (Vec<String>, Option<String>)>,
    rng: rand::rngs::StdRng,
    next_id: usize,
}

impl TestZone {
    fn new(n: usize, seed: u64) -> TestZone {
        let mut z = TestZone {
            delegations: BTreeMap::new(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            next_id: 0,
        };
        for _ in 0..n {
            z.add();
        }
        z
    }

    fn add(&mut self) {
        let label = format!("d{}x{}", self.next_id, self.rng.random_range(0..1000u32));
        self.next_id += 1;
        let ns = vec![
            format!("ns1.host{}.example.net.", self.rng.random_range(0..50u32)),
            "ns2.example.org.".to_string(),
        ];
        let ds = self.rng.random_bool(0.5).then(|| {
            let digest: String = (0..32)
                .map(|_| format!("{:02X}", self.rng.random_range(0..=255u8)))
                .collect();
            format!("{} 13 2 {digest}", self.rng.random_range(1..65535u32))
        });
        self.delegations.insert(label, (ns, ds));
    }

    /// Removes, adds and changes a handful of delegations, as a registry does between runs.
    fn churn(&mut self) {
        for _ in 0..2 {
            let i = self.rng.random_range(0..self.delegations.len());
            let key = self.delegations.keys().nth(i).cloned().unwrap();
            self.delegations.remove(&key);
            self.add();
        }
        let i = self.rng.random_range(0..self.delegations.len());
        let key = self.delegations.keys().nth(i).cloned().unwrap();
        let n = self.rng.random_range(0..50u32);
        self.delegations.get_mut(&key).unwrap().0[0] = format!("ns1.changed{n}.example.net.");
    }

    fn text(&self) -> String {
        let mut s = String::from(
            "$ORIGIN se.\n$TTL 86400\n@ SOA a.ns.se. hostmaster.se. 1 1800 1800 864000 7200\n@ NS a.ns.se.\n@ NS b.ns.se.\na.ns A 192.0.2.1\nb.ns A 192.0.2.2\n",
        );
        for (label, (ns, ds)) in &self.delegations {
            for n in ns {
                s.push_str(&format!("{label} NS {n}\n"));
            }
            if let Some(ds) = ds {
                s.push_str(&format!("{label} 3600 DS {ds}\n"));
            }
        }
        s
    }

    fn write(&self, path: &Path) {
        fs::write(path, self.text()).unwrap();
    }
}

/// The JSON report of one run.
fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("report has no {key}: {v:#}"))
}

/// The first run's time: an odd UTC hour (DPS-6.5 runs on odd hours).
fn start_time() -> i64 {
    let now = unix_now();
    let t = now - now % (2 * HOUR) + HOUR;
    if t > now { t - 2 * HOUR } else { t }
}

struct Cycle {
    setup: Setup,
    zone_file: PathBuf,
    out: PathBuf,
    rep: PathBuf,
    ds: PathBuf,
}

impl Cycle {
    fn new(alg: &str) -> Cycle {
        let setup = Setup::new(alg);
        let ds = setup.ds_file("se.");
        Cycle {
            zone_file: setup.path("se.zone"),
            out: setup.path("se.signed"),
            rep: setup.path("report.json"),
            ds,
            setup,
        }
    }

    fn sign_at(&self, t: i64, extra: &[&str]) -> std::process::Output {
        let now = rfc3339(t);
        let rep = self.rep.to_str().unwrap();
        let mut args = vec!["--now", &now, "--report", rep];
        args.extend_from_slice(extra);
        self.setup
            .sign_with(&self.zone_file, "se.", &self.out, &args)
    }
}

#[test]
fn thirty_days_of_two_hour_runs() {
    // issue 4: every 2 simulated hours for 30 days, with churn between runs. After each
    // run the zone validates (zonesign verify and ldns-verify-zone at that time), no
    // signature expires within 10 days minus 2 hours (DPS-6.5), no run after the first
    // signs more than 10% of the signatures (jitter spreads renewals), and the renewals
    // over 30 days match what 12-14 day lifetimes imply within 20%.
    let c = Cycle::new("rsasha256");
    let mut zone = TestZone::new(1500, 7);
    let t0 = start_time();
    let runs = 30 * 12;
    let (mut first, mut expiring, mut sizes) = (0u64, 0u64, Vec::new());
    for k in 0..=runs {
        let t = t0 + k * 2 * HOUR;
        if k > 0 {
            zone.churn();
        }
        zone.write(&c.zone_file);
        let out = c.sign_at(t, &["--seed", &k.to_string()]);
        assert_exit(&out, EXIT_OK, &format!("run {k}"));
        let r = report(&c.rep);
        let (made, reused) = (num(&r, "signatures_made"), num(&r, "signatures_reused"));
        if k == 0 {
            first = made;
            assert_eq!(reused, 0);
        } else {
            assert!(
                made * 10 <= made + reused,
                "run {k} made {made} of {} signatures (> 10%)",
                made + reused
            );
            expiring += r["reasons"]["expiring"].as_u64().unwrap_or(0);
        }
        sizes.push(made + reused);
        // DPS-6.5: nothing expires within 10 days minus 2 hours (verify exits 6 if so).
        // The two validators run side by side to keep the 361 runs quick.
        let ldns = std::process::Command::new("ldns-verify-zone")
            .args(["-k", c.ds.to_str().unwrap(), "-t", &dnssec_time(t)])
            .arg(&c.out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ldns-verify-zone");
        let v = c.setup.verify(
            &c.out,
            "se.",
            &c.ds,
            &["--now", &rfc3339(t), "--expiring", "9d22h"],
        );
        assert_exit(&v, EXIT_OK, &format!("zonesign verify after run {k}"));
        let l = wait(ldns, "ldns-verify-zone");
        assert!(
            l.status.success(),
            "ldns-verify-zone after run {k}:\n{}",
            describe(&l)
        );
    }
    // Renewal interval: mean validity (13 d) minus the refresh window (10 d) minus the
    // inception offset (1 h), plus half a run interval on average.
    let interval = 13 * DAY - 10 * DAY - HOUR + HOUR;
    let mean_size = sizes.iter().sum::<u64>() as f64 / sizes.len() as f64;
    let implied = mean_size * (runs * 2 * HOUR) as f64 / interval as f64;
    let ratio = expiring as f64 / implied;
    assert!(
        (0.8..=1.2).contains(&ratio),
        "renewals {expiring} vs implied {implied:.0} (ratio {ratio:.2}); first run {first}"
    );
}

#[test]
fn unchanged_zone_and_time_makes_nothing_and_keeps_the_file() {
    // issue 4: the second run with the same zone and time window makes 0 signatures and
    // leaves the output byte for byte (and its modification time) as it was.
    let c = Cycle::new("ecdsap256sha256");
    TestZone::new(200, 1).write(&c.zone_file);
    let t = unix_now();
    assert_exit(&c.sign_at(t, &[]), EXIT_OK, "first run");
    let before = fs::read(&c.out).unwrap();
    let mtime = fs::metadata(&c.out).unwrap().modified().unwrap();
    let out = c.sign_at(t + 2 * HOUR, &[]);
    assert_exit(&out, EXIT_OK, "second run");
    let r = report(&c.rep);
    assert_eq!(num(&r, "signatures_made"), 0, "{r:#}");
    assert_eq!(r["unchanged"], true);
    assert!(stdout(&out).contains("unchanged"), "{}", describe(&out));
    assert_eq!(fs::read(&c.out).unwrap(), before);
    assert_eq!(fs::metadata(&c.out).unwrap().modified().unwrap(), mtime);
}

#[test]
fn a_held_lock_refuses_the_run_and_changes_nothing() {
    // issue 4: a second run on the same output exits with the lock code (5).
    let c = Cycle::new("ecdsap256sha256");
    TestZone::new(100, 2).write(&c.zone_file);
    assert_exit(&c.sign_at(unix_now(), &[]), EXIT_OK, "first run");
    let before = fs::read(&c.out).unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(c.setup.path(".se.signed.lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = c.sign_at(unix_now() + 5 * DAY, &[]);
    assert_exit(&out, EXIT_LOCKED, "run while another holds the lock");
    assert!(stderr(&out).contains("lock"), "{}", describe(&out));
    assert_eq!(fs::read(&c.out).unwrap(), before);
    drop(lock);
    assert_exit(
        &c.sign_at(unix_now() + 5 * DAY, &[]),
        EXIT_OK,
        "run after the lock is gone",
    );
}

#[test]
fn concurrent_runs_one_wins_the_other_gets_the_lock_code() {
    // issue 4: two runs started together: exactly one succeeds, the other exits 5, and
    // the output is valid afterwards.
    let c = Cycle::new("rsasha256");
    TestZone::new(1500, 3).write(&c.zone_file);
    let spawn = || {
        c.setup
            .cmd()
            .args([
                "sign",
                c.zone_file.to_str().unwrap(),
                "--origin",
                "se.",
                "--out",
                c.out.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut codes = [
        wait(a, "zonesign sign (first of two)").status.code(),
        wait(b, "zonesign sign (second of two)").status.code(),
    ];
    codes.sort();
    assert_eq!(codes, [Some(EXIT_OK), Some(EXIT_LOCKED)]);
    let v = c.setup.verify(&c.out, "se.", &c.ds, &[]);
    assert_exit(&v, EXIT_OK, "verify after the race");
}

/// Replaces the base64 of the first RRSIG line covering `covered` with a flipped copy.
fn corrupt_first_rrsig(text: &str, covered: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            let t = tokens(l);
            if !done
                && t.get(3).is_some_and(|x| x == "RRSIG")
                && t.get(4).is_some_and(|x| x == covered)
            {
                done = true;
                flip_rrsig_byte(l)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn an_untrusted_previous_output_is_checked_and_never_published_broken() {
    // issue 4: a previous file that is corrupt, truncated, signed by unknown keys or for
    // another origin: its signatures are not trusted; the run re-signs what it must and
    // the output validates.
    let c = Cycle::new("ecdsap256sha256");
    TestZone::new(300, 4).write(&c.zone_file);
    let t = unix_now();
    assert_exit(&c.sign_at(t, &[]), EXIT_OK, "first run");
    let good = fs::read_to_string(&c.out).unwrap();

    // A flipped byte in one NSEC signature (the .sha256 beside it no longer matches).
    fs::write(&c.out, corrupt_first_rrsig(&good, "NSEC")).unwrap();
    assert_exit(
        &c.sign_at(t + 2 * HOUR, &[]),
        EXIT_OK,
        "run over a corrupt previous",
    );
    let r = report(&c.rep);
    assert_eq!(r["reasons"]["untrusted"].as_u64(), Some(1), "{r:#}");
    let at = |h: i64| rfc3339(t + h * HOUR);
    assert_exit(
        &c.setup.verify(&c.out, "se.", &c.ds, &["--now", &at(2)]),
        EXIT_OK,
        "verify after corrupt previous",
    );

    // Truncated in the middle: what is left is not proven, so every signature reused
    // from it is checked first; everything lost with the tail is signed anew.
    let text = fs::read_to_string(&c.out).unwrap();
    let total = text
        .lines()
        .filter(|l| tokens(l).get(3).is_some_and(|t| t == "RRSIG"))
        .count() as u64;
    fs::write(&c.out, &text[..text.len() / 2]).unwrap();
    let out = c.sign_at(t + 4 * HOUR, &[]);
    assert_exit(&out, EXIT_OK, "run over a truncated previous");
    let r = report(&c.rep);
    assert!(
        num(&r, "signatures_reused") < total && num(&r, "signatures_made") > 0,
        "{r:#}"
    );
    assert_exit(
        &c.setup.verify(&c.out, "se.", &c.ds, &["--now", &at(4)]),
        EXIT_OK,
        "verify after truncated previous",
    );

    // Signed by other keys: nothing matches an active key.
    let other = Setup::new("ecdsap256sha256");
    let foreign = other.path("foreign.signed");
    assert_exit(
        &other.sign(&c.zone_file, "se.", &foreign),
        EXIT_OK,
        "sign with other keys",
    );
    let prev = foreign.to_str().unwrap();
    assert_exit(
        &c.sign_at(t + 6 * HOUR, &["--previous", prev]),
        EXIT_OK,
        "run with a foreign previous",
    );
    let r = report(&c.rep);
    assert_eq!(num(&r, "signatures_reused"), 0, "{r:#}");
    assert!(r["reasons"]["key"].as_u64().unwrap_or(0) > 0, "{r:#}");

    // Another origin: refused as a previous, full re-sign.
    let ex = c.setup.path("example.signed");
    assert_exit(
        &c.setup
            .sign(&fixture("features/delegations.zone"), "example.", &ex),
        EXIT_OK,
        "sign example.",
    );
    let out = c.sign_at(t + 8 * HOUR, &["--previous", ex.to_str().unwrap()]);
    assert_exit(&out, EXIT_OK, "run with a previous for another origin");
    assert!(stderr(&out).contains("not for se."), "{}", describe(&out));
    assert_exit(
        &c.setup.verify(&c.out, "se.", &c.ds, &["--now", &at(8)]),
        EXIT_OK,
        "verify after other-origin previous",
    );
}

#[test]
fn dry_run_reports_reasons_and_touches_nothing() {
    // issue 4: --dry-run touches no key and writes nothing, and says what a real run
    // would re-sign and why.
    let c = Cycle::new("ecdsap256sha256");
    let mut zone = TestZone::new(200, 5);
    zone.write(&c.zone_file);
    let t = unix_now();
    assert_exit(&c.sign_at(t, &[]), EXIT_OK, "first run");
    let before = fs::read(&c.out).unwrap();
    let audit = fs::read_to_string(c.setup.path("zs/audit.log")).unwrap_or_default();
    zone.churn();
    zone.write(&c.zone_file);
    let out = c.sign_at(t + 5 * DAY, &["--dry-run"]);
    assert_exit(&out, EXIT_OK, "dry run");
    let r = report(&c.rep);
    assert_eq!(r["dry_run"], true);
    assert!(r["reasons"]["changed"].as_u64().unwrap_or(0) > 0, "{r:#}");
    assert!(r["reasons"]["expiring"].as_u64().unwrap_or(0) > 0, "{r:#}");
    assert!(stdout(&out).contains("would sign"), "{}", describe(&out));
    assert_eq!(
        fs::read(&c.out).unwrap(),
        before,
        "dry run wrote the output"
    );
    assert_eq!(
        fs::read_to_string(c.setup.path("zs/audit.log")).unwrap_or_default(),
        audit,
        "dry run used the HSM"
    );
}

#[test]
fn metrics_keep_the_last_success_across_a_failure() {
    // issue 4: --metrics writes Prometheus text atomically; a failed run records its
    // exit code but keeps the last successful run's time and zone figures.
    let c = Cycle::new("ecdsap256sha256");
    TestZone::new(50, 6).write(&c.zone_file);
    let metrics = c.setup.path("zonesign.prom");
    let m = metrics.to_str().unwrap();
    let t = unix_now();
    assert_exit(&c.sign_at(t, &["--metrics", m]), EXIT_OK, "first run");
    let text = fs::read_to_string(&metrics).unwrap();
    for name in [
        "zonesign_last_success_timestamp_seconds",
        "zonesign_signatures_made",
        "zonesign_signatures_reused",
        "zonesign_rrsets",
        "zonesign_earliest_signature_expiry_timestamp_seconds",
        "zonesign_exit_code",
        "zonesign_duration_seconds",
    ] {
        assert!(
            text.contains(&format!("{name}{{zone=\"se.\"}} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains(&format!(
            "zonesign_last_success_timestamp_seconds{{zone=\"se.\"}} {t}\n"
        )),
        "{text}"
    );
    fs::write(
        &c.zone_file,
        "$ORIGIN se.\n@ 3600 SOA a b 1 2 3 4 5\nbroken AAAA zz\n",
    )
    .unwrap();
    // issue 22: with an approved zone, a bad input is rejected and the approved zone
    // signed instead (exit 7): the zone was re-signed, so that is a success of the job.
    let t2 = t + 2 * HOUR;
    assert_exit(
        &c.sign_at(t2, &["--metrics", m]),
        EXIT_INPUT_REJECTED,
        "bad zone with an approved zone",
    );
    let text = fs::read_to_string(&metrics).unwrap();
    for line in [
        "zonesign_exit_code{zone=\"se.\"} 7\n".to_string(),
        "zonesign_input_rejected{zone=\"se.\"} 1\n".to_string(),
        format!("zonesign_last_success_timestamp_seconds{{zone=\"se.\"}} {t2}\n"),
        format!("zonesign_approved_timestamp_seconds{{zone=\"se.\"}} {t}\n"),
    ] {
        assert!(text.contains(&line), "{line} missing:\n{text}");
    }
    // Without one (as on a first run), the run fails: the last success is kept.
    fs::remove_file(c.setup.path("se.signed.approved")).unwrap();
    assert_exit(
        &c.sign_at(t + 4 * HOUR, &["--metrics", m]),
        EXIT_BAD_INPUT,
        "bad zone",
    );
    let text = fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("zonesign_exit_code{zone=\"se.\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "zonesign_last_success_timestamp_seconds{{zone=\"se.\"}} {t2}\n"
        )),
        "{text}"
    );
    assert_eq!(report(&c.rep)["exit_code"], 2);
}

#[test]
fn verify_expiring_window_exits_6() {
    // issue 4: `verify --expiring WINDOW` exits 6 when a signature expires within it:
    // a re-sign job that silently stopped is caught by monitoring.
    let c = Cycle::new("ecdsap256sha256");
    TestZone::new(20, 8).write(&c.zone_file);
    let t = unix_now();
    assert_exit(&c.sign_at(t, &[]), EXIT_OK, "sign");
    let now = rfc3339(t);
    assert_exit(
        &c.setup
            .verify(&c.out, "se.", &c.ds, &["--now", &now, "--expiring", "3d"]),
        EXIT_OK,
        "3d window",
    );
    let out = c
        .setup
        .verify(&c.out, "se.", &c.ds, &["--now", &now, "--expiring", "13d"]);
    assert_exit(&out, EXIT_EXPIRING, "13d window");
    assert!(stderr(&out).contains("expire within"), "{}", describe(&out));
}
