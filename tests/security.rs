//! Security commands against the real binary and a real SoftHSM2 token (issue 7):
//! `zonesign check` (SEC-* checklist), `zonesign audit verify|show` (DPS-4.4), syslog
//! forwarding of audit events (SEC-6.5, RFC 5424 over a Unix datagram socket bound in
//! a temporary directory), and that the PIN reaches no output (SEC-6.1).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Adds an `[audit]` section forwarding to `socket`.
fn enable_syslog(setup: &Setup, socket: &Path) {
    let mut text = setup.config_text();
    text.push_str(&format!(
        "\n[audit]\nsyslog = true\nfacility = \"local4\"\nsocket = \"{}\"\n",
        socket.display()
    ));
    fs::write(setup.config(), text).expect("write config");
}

fn bind(socket: &Path) -> UnixDatagram {
    let s = UnixDatagram::bind(socket).expect("bind syslog socket");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn drain(sock: &UnixDatagram) -> Vec<String> {
    sock.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    sock.set_nonblocking(false).unwrap();
    out
}

/// The recommended deployment passes `zonesign check` (exit 0; running as root is
/// only a warning); each mandatory control that is removed makes it fail (exit 1).
#[test]
fn check_passes_on_a_hardened_setup_and_fails_without_controls() {
    let setup = Setup::new("ed25519");
    let socket = setup.path("log.sock");
    let _syslog = bind(&socket);
    enable_syslog(&setup, &socket);
    let out = run(setup.cmd().args(["check", "--format", "json"]));
    assert_exit(&out, EXIT_OK, "zonesign check on the hardened setup");
    let v: Value = serde_json::from_str(&stdout(&out)).expect("check JSON");
    assert_eq!(v["passed"], true);
    let rows = v["rows"].as_array().unwrap();
    let find = |id: &str, word: &str| {
        rows.iter()
            .find(|r| r["id"] == id && r["requirement"].as_str().unwrap().contains(word))
            .unwrap_or_else(|| panic!("no {id} row about {word}: {v}"))
            .clone()
    };
    assert_eq!(find("SEC-6.1", "PIN file")["status"], "yes");
    assert_eq!(find("SEC-6.1", "command line")["status"], "yes");
    assert_eq!(find("SEC-6.1", "writable")["status"], "yes");
    assert_eq!(find("DPS-5.2", "extractable")["status"], "yes");
    assert_eq!(find("SEC-6.5", "chain")["status"], "yes");
    assert_eq!(find("SEC-6.5", "syslog")["status"], "yes");
    let root = find("SEC-6.2", "root");
    assert_eq!(root["mandatory"], false);
    assert_eq!(root["status"], if unsafe_is_root() { "no" } else { "yes" });
    assert_eq!(find("SEC-2.1", "environment")["status"], "not-checkable");

    let md = stdout(&run(setup.cmd().args(["check", "--format", "markdown"])));
    assert!(md.starts_with("| ID | Requirement |"), "{md}");
    assert!(md.lines().count() >= 11, "{md}");

    // A group-readable PIN file fails SEC-6.1.
    let pin = setup.pin_file();
    fs::set_permissions(&pin, fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(setup.cmd().arg("check"));
    assert_exit(&out, EXIT_VERIFY_FAILED, "check with a 0640 PIN file");
    assert!(stdout(&out).contains("FAIL"), "{}", describe(&out));
    fs::set_permissions(&pin, fs::Permissions::from_mode(0o600)).unwrap();

    // A world-writable config fails.
    fs::set_permissions(setup.config(), fs::Permissions::from_mode(0o666)).unwrap();
    let out = run(setup.cmd().arg("check"));
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "check with a world-writable config",
    );
    fs::set_permissions(setup.config(), fs::Permissions::from_mode(0o644)).unwrap();

    // No syslog socket: forwarding is configured but cannot work.
    fs::remove_file(&socket).unwrap();
    let out = run(setup.cmd().arg("check"));
    assert_exit(&out, EXIT_VERIFY_FAILED, "check without the syslog socket");
    assert!(stdout(&out).contains("is the syslog daemon running"));
}

/// Whether the tests run as root (CI does), read from /proc like zonesign does.
fn unsafe_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `audit verify` names the line where the chain breaks (exit 1); `audit show`
/// prints and filters.
#[test]
fn audit_verify_and_show() {
    let setup = Setup::new("ed25519");
    let log = setup.dir.join("audit.log");
    let out = run(setup.cmd().args(["audit", "verify"]));
    assert_exit(&out, EXIT_OK, "audit verify on a fresh setup");
    assert!(
        stdout(&out).contains("hash chain intact"),
        "{}",
        describe(&out)
    );

    let shown = stdout(&run(setup.cmd().args(["audit", "show"])));
    for event in ["token-init", "login", "keygen", "logout"] {
        assert!(shown.contains(event), "no {event} in\n{shown}");
    }
    assert!(!shown.contains("prev="), "{shown}");
    let logins = stdout(&run(setup
        .cmd()
        .args(["audit", "show", "--event", "keygen"])));
    assert_eq!(logins.lines().count(), 2, "{logins}");
    let future = stdout(&run(setup.cmd().args([
        "audit",
        "show",
        "--since",
        "2999-01-01T00:00:00Z",
    ])));
    assert!(future.is_empty(), "{future}");
    let past = stdout(&run(setup.cmd().args([
        "audit",
        "show",
        "--until",
        "2000-01-01T00:00:00Z",
    ])));
    assert!(past.is_empty(), "{past}");

    // Remove line 3: the chain breaks at (new) line 3.
    let text = fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let tampered = setup.path("tampered.log");
    fs::write(&tampered, lines.join("\n") + "\n").unwrap();
    let out = run(setup.cmd().args(["audit", "verify"]).arg(&tampered));
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "audit verify on a log with a line removed",
    );
    assert!(
        stdout(&out).contains("tampered.log:3: hash chain broken"),
        "{}",
        describe(&out)
    );
    // The file argument works without a config.
    let out = run(zonesign().args(["audit", "verify"]).arg(&log));
    assert_exit(&out, EXIT_OK, "audit verify FILE without a config");
}

/// Every audit event of a real sign reaches the syslog socket as an RFC 5424 record
/// whose message is the very audit line; with the socket gone, signing still works
/// and the outage is in the audit log.
#[test]
fn sign_forwards_audit_events_to_syslog_and_survives_an_outage() {
    let setup = Setup::new("ed25519");
    let socket = setup.path("log.sock");
    let sock = bind(&socket);
    enable_syslog(&setup, &socket);
    let zone = fixture("features/delegations.zone");
    let out = setup.path("example.signed");
    let before = fs::read_to_string(setup.dir.join("audit.log")).unwrap();
    assert_exit(
        &setup.sign(&zone, "example.", &out),
        EXIT_OK,
        "sign with syslog",
    );
    let after = fs::read_to_string(setup.dir.join("audit.log")).unwrap();
    let new_lines: Vec<&str> = after[before.len()..].lines().collect();
    let records = drain(&sock);
    assert_eq!(records.len(), new_lines.len(), "{records:#?}");
    for (rec, line) in records.iter().zip(&new_lines) {
        // local4 = 20 → PRI 160 + severity.
        assert!(
            rec.starts_with("<165>1 ") || rec.starts_with("<164>1 "),
            "{rec}"
        );
        assert!(rec.contains(" zonesign "), "{rec}");
        assert!(rec.ends_with(line), "record {rec}\nline {line}");
    }
    let events: Vec<String> = new_lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Key lifecycle events (issue 6: `key-adopted` on the first run after init) are
    // forwarded too; the HSM session's own events come in this order.
    let hsm: Vec<&String> = events.iter().filter(|e| !e.starts_with("key-")).collect();
    assert_eq!(hsm, ["login", "sign", "logout"], "{events:?}");

    // Outage: the socket is gone. Signing goes on; the outage is recorded.
    drop(sock);
    fs::remove_file(&socket).unwrap();
    // `--previous` of nothing: no signature reused, so the run signs (and logs in) again.
    let none = setup.path("none.signed").display().to_string();
    let r = setup.sign_with(&zone, "example.", &out, &["--previous", &none]);
    assert_exit(&r, EXIT_OK, "sign during a syslog outage");
    let text = fs::read_to_string(setup.dir.join("audit.log")).unwrap();
    let errors = text
        .lines()
        .filter(|l| l.contains("\"syslog-error\""))
        .count();
    assert_eq!(errors, 3, "one syslog-error per lost event:\n{text}");
    assert_exit(
        &run(setup.cmd().args(["audit", "verify"])),
        EXIT_OK,
        "audit verify",
    );
}

/// SEC-6.1: the PIN reaches no stdout, stderr or audit line, whatever the command
/// and however it fails.
#[test]
fn the_pin_is_in_no_output() {
    let setup = Setup::new("ed25519");
    let pin = fs::read_to_string(setup.pin_file())
        .unwrap()
        .trim()
        .to_string();
    let zone = fixture("features/delegations.zone");
    let out = setup.path("example.signed");
    let mut outputs = vec![
        setup.sign(&zone, "example.", &out),
        run(setup.cmd().args(["key", "list"])),
        run(setup.cmd().args(["key", "ds", "--origin", "example."])),
        run(setup.cmd().args(["check", "--format", "json"])),
        run(setup.cmd().args(["audit", "show"])),
        run(setup
            .cmd()
            .env("ZONESIGN_PIN", format!("{pin}x"))
            .arg("check")),
        run(setup
            .cmd()
            .env("ZONESIGN_PIN", format!("{pin}x"))
            .arg("sign")
            .arg(&zone)
            .args(["--origin", "example.", "--out"])
            .arg(&out)
            .args(["--previous", "/nonexistent/none.signed"])),
    ];
    fs::set_permissions(setup.pin_file(), fs::Permissions::from_mode(0o644)).unwrap();
    outputs.push(setup.sign_with(
        &zone,
        "example.",
        &out,
        &["--previous", "/nonexistent/none.signed"],
    ));
    outputs.push(run(setup.cmd().arg("check")));
    for o in &outputs {
        assert!(!stdout(o).contains(&pin), "PIN in stdout:\n{}", describe(o));
        assert!(!stderr(o).contains(&pin), "PIN in stderr:\n{}", describe(o));
    }
    let log = fs::read_to_string(setup.dir.join("audit.log")).unwrap();
    assert!(!log.contains(&pin), "PIN in the audit log");
    assert!(
        log.contains("\"pin-read\""),
        "failed PIN read not logged:\n{log}"
    );
}

/// The suite-wide PIN sweep (SEC-6.1, tests/common: every run's stdout and stderr, and
/// every file a setup leaves) really finds a PIN: in a child's stderr, and in a file
/// that embeds it, but not in the PIN file itself or in the token directory.
#[test]
fn the_pin_sweep_finds_a_pin_in_output_and_files() {
    let pin = format!("sweep-self-test-{:016x}", rand::random::<u64>());
    register_secret(&pin, "the_pin_sweep self-test");
    let out = Command::new("sh")
        .args(["-c", "echo \"login with $P failed\" >&2"])
        .env("P", &pin)
        .output()
        .expect("sh");
    assert_eq!(
        leaks_in_output(&out),
        vec![("stderr", vec!["the_pin_sweep self-test".to_string()])]
    );
    let clean = Command::new("sh").args(["-c", "echo ok"]).output().unwrap();
    assert!(leaks_in_output(&clean).is_empty());

    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("user.pin"), format!("{pin}\n")).unwrap();
    fs::create_dir(dir.path().join("tokens")).unwrap();
    fs::write(dir.path().join("tokens").join("obj"), &pin).unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let leaked = dir.path().join("out").join("run.json");
    fs::write(&leaked, format!("{{\"error\":\"bad PIN {pin}\"}}")).unwrap();
    fs::write(dir.path().join("audit.log"), "{}\n").unwrap();
    let (files, _, leaks) = leaks_in_dir(dir.path());
    assert_eq!(files, 2, "the PIN file and the token directory are skipped");
    assert_eq!(
        leaks,
        vec![(leaked, vec!["the_pin_sweep self-test".to_string()])]
    );
}
