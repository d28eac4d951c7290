//! Audit log rotation (issue 26; DPS-4.4, SEC-6.5): logrotate renames `audit.log` to
//! `audit.log.1` (older ones up) and makes an empty `audit.log`; `zonesign audit link`
//! (the package's `postrotate`) or the next event starts the new file with a
//! `rotated` line carrying the hash of `audit.log.1`'s last line, and `audit verify`
//! checks the chain across all the files. Through the real binary, with real sign runs
//! against a SoftHSM2 token appending while the log is rotated.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// `LOG.n`.
fn older(log: &Path, n: usize) -> PathBuf {
    PathBuf::from(format!("{}.{n}", log.display()))
}

/// What logrotate does with `rotate N` and `create`, no compression: `LOG.k` becomes
/// `LOG.k+1`, `LOG` becomes `LOG.1`, a new empty `LOG`. Returns how many files there
/// are now.
fn logrotate(log: &Path) -> usize {
    let mut n = 0;
    while older(log, n + 1).exists() {
        n += 1;
    }
    for k in (1..=n).rev() {
        fs::rename(older(log, k), older(log, k + 1)).unwrap();
    }
    fs::rename(log, older(log, 1)).unwrap();
    fs::write(log, "").unwrap();
    n + 2
}

fn audit(setup: &Setup, args: &[&str]) -> std::process::Output {
    run(setup.cmd().arg("audit").args(args))
}

/// Rotates three times between sign runs (once with `audit link` right after, as the
/// logrotate rule does, once leaving the link to the next event), then `audit verify`
/// follows `audit.log.1`..`.3` and passes, `check`'s audit row passes, and a changed or
/// a missing rotated file is caught with its file and line.
#[test]
fn rotated_audit_log_verifies_across_files_dps_4_4() {
    let setup = Setup::new("ecdsap256sha256");
    let log = setup.dir.join("audit.log");
    let ds = setup.ds_file("se.");
    let signed = setup.path("se.signed");
    let sign = |what: &str| {
        let out = run(setup
            .cmd()
            .arg("sign")
            .arg(se_sample())
            .args(["--origin", "se.", "--out"])
            .arg(&signed)
            .arg("--ds-anchor")
            .arg(&ds));
        assert_exit(&out, EXIT_OK, what);
    };
    sign("first sign");
    for round in 0..3 {
        let files = logrotate(&log);
        if round != 1 {
            let out = audit(&setup, &["link"]);
            assert_exit(&out, EXIT_OK, "audit link after a rotation");
            assert!(stdout(&out).contains("rotated line"), "{}", describe(&out));
            // Idempotent: the file is no longer fresh.
            let again = audit(&setup, &["link"]);
            assert!(
                stdout(&again).contains("nothing to do"),
                "{}",
                describe(&again)
            );
        }
        // An unchanged zone is not signed again (no login, no line): `key ds` logs
        // an export, a sign run to a new output a login, sign and logout.
        setup.ds_file("se.");
        if round == 2 {
            sign(&format!("sign after rotation {round}"));
        }
        let first = fs::read_to_string(&log).unwrap();
        let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "rotated", "round {round}");
        assert_eq!(first["previous"], "audit.log.1");
        let out = audit(&setup, &["verify"]);
        assert_exit(&out, EXIT_OK, "audit verify across rotated files");
        let text = stdout(&out);
        assert!(
            text.contains(&format!("across {files} files, hash chain intact")),
            "{text}"
        );
    }
    // `check` (SEC-6.5 row) reads the current file: it starts with a rotation link.
    let out = run(setup.cmd().args(["check", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = report.to_string();
    assert!(rows.contains("hash chain intact"), "{rows}");

    // Several files given explicitly, oldest first, work the same.
    let out = run(zonesign().args(["audit", "verify"]).args([
        older(&log, 3),
        older(&log, 2),
        older(&log, 1),
        log.clone(),
    ]));
    assert_exit(&out, EXIT_OK, "audit verify FILES...");

    // A line changed in audit.log.2: caught, naming that file and line.
    let two = older(&log, 2);
    let orig = fs::read_to_string(&two).unwrap();
    let changed = orig.replacen("\"user\":\"", "\"user\":\"x", 1);
    assert_ne!(changed, orig);
    fs::write(&two, &changed).unwrap();
    let out = audit(&setup, &["verify"]);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "audit verify, audit.log.2 changed",
    );
    assert!(
        stdout(&out).contains("audit.log.2:") && stdout(&out).contains("hash chain broken"),
        "{}",
        describe(&out)
    );
    fs::write(&two, &orig).unwrap();

    // audit.log.2's last line removed: audit.log.1 no longer continues it.
    let mut lines: Vec<&str> = orig.lines().collect();
    lines.pop();
    fs::write(&two, lines.join("\n") + "\n").unwrap();
    let out = audit(&setup, &["verify"]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "audit verify, a rotated tail cut");
    assert!(
        stdout(&out).contains("audit.log.1:1: hash chain broken"),
        "{}",
        describe(&out)
    );
    fs::write(&two, &orig).unwrap();

    // A rotated file left out of an explicit list.
    let out = run(zonesign().args(["audit", "verify"]).args([
        older(&log, 3),
        older(&log, 1),
        log.clone(),
    ]));
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "audit verify with audit.log.2 left out",
    );

    // logrotate's `rotate` count removed the oldest: the rest still verifies, and
    // says where it starts.
    fs::remove_file(older(&log, 3)).unwrap();
    let out = audit(&setup, &["verify"]);
    assert_exit(
        &out,
        EXIT_OK,
        "audit verify after the oldest file was removed",
    );
    assert!(
        stdout(&out).contains("audit.log.2: starts with a rotated line: the file rotated before it (then named audit.log.1) is no longer present"),
        "{}",
        describe(&out)
    );
}

/// Rotations while sign runs append (a run's login, sign, logout and worker lines
/// written while the file is renamed under it): every line chains, whichever file it
/// lands in. The append lock serialises the `rotated` line with the runs' appends.
#[test]
fn rotation_during_sign_runs_keeps_the_chain_sec_6_5() {
    let setup = Setup::new("ed25519");
    let log = setup.dir.join("audit.log");
    let ds = setup.ds_file("se.");
    // One run at a time (a second would wait for the key-state lock and exit 5),
    // each rotated under at a different moment of its run.
    for i in 0..6u64 {
        let signed = setup.path(&format!("se-{i}.signed"));
        let child = setup
            .cmd()
            .arg("sign")
            .arg(se_sample())
            .args(["--origin", "se.", "--out"])
            .arg(&signed)
            .arg("--ds-anchor")
            .arg(&ds)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Not a wait for anything: it only moves the rotation to a different moment of
        // each run (0 to 75 ms in). Every assertion below must hold for any
        // interleaving, because the append lock orders the `rotated` line with the
        // run's own lines.
        std::thread::sleep(std::time::Duration::from_millis(15 * i));
        logrotate(&log);
        assert_exit(&audit(&setup, &["link"]), EXIT_OK, "audit link");
        let out = wait(child, "sign during a rotation");
        assert_exit(&out, EXIT_OK, &format!("sign run {i}"));
    }
    let out = audit(&setup, &["verify"]);
    assert_exit(
        &out,
        EXIT_OK,
        "audit verify after rotations during sign runs",
    );
    // Every run's sign event is somewhere in the files.
    let all: String = (1..=6)
        .map(|n| fs::read_to_string(older(&log, n)).unwrap())
        .rev()
        .chain([fs::read_to_string(&log).unwrap()])
        .collect();
    let signs = all
        .lines()
        .filter(|l| l.contains("\"event\":\"sign\""))
        .count();
    assert_eq!(signs, 6, "{all}");
}
