//! Security commands against the real binary and a real SoftHSM2 token (issue 7):
//! `zonesign check` (SEC-* checklist), `zonesign audit verify|show` (DPS-4.4), syslog
//! forwarding of audit events (SEC-6.5, RFC 5424 over a Unix datagram socket bound in
//! a temporary directory), and that the PIN reaches no output (SEC-6.1).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
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
    // Key lifecycle events (issue 6), when a run has any, are forwarded too; the HSM
    // session's own events come in this order.
    // The signing worker processes' own logins and logouts (SEC-6.5) come between
    // the parent's login and the sign event, each with its pid.
    let hsm: Vec<String> = new_lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| !v["event"].as_str().unwrap_or("").starts_with("key-"))
        .map(|v| match v["worker"].as_u64() {
            Some(_) => format!("worker {}", v["event"].as_str().unwrap_or("")),
            None => v["event"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    assert_eq!(
        hsm,
        ["login", "worker login", "worker logout", "sign", "logout"],
        "{events:?}"
    );

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
    // login, the worker's login and logout, sign, logout.
    assert_eq!(errors, 5, "one syslog-error per lost event:\n{text}");
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

/// The commands of README's "Recommended deployment" block, with the paths moved under
/// `base`, the binary under test as `target/release/zonesign` and `user` as the
/// dedicated user; the syslog socket is `sock` (never the host's /dev/log). Every
/// substitution must apply, so README and this test cannot drift apart.
fn deployment_script(base: &Path, user: &str, sock: &Path) -> String {
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme
        .split("### Recommended deployment")
        .nth(1)
        .expect("README has a Recommended deployment section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the deployment section has a ```sh block");
    let b = base.display();
    let subs: [(&str, String); 9] = [
        ("/var/lib/zonesign", format!("{b}/var/lib/zonesign")),
        (
            "/usr/local/bin/zonesign",
            format!("{b}/usr/local/bin/zonesign"),
        ),
        (
            "/root/zonesign-offline",
            format!("{b}/root/zonesign-offline"),
        ),
        (
            "target/release/zonesign",
            env!("CARGO_BIN_EXE_zonesign").to_string(),
        ),
        ("-- zonesign ", format!("-- {b}/usr/local/bin/zonesign ")),
        ("nologin zonesign\n", format!("nologin {user}\n")),
        ("-o zonesign -g zonesign", format!("-o {user} -g {user}")),
        ("runuser -u zonesign ", format!("runuser -u {user} ")),
        (
            "facility = \"local0\"\\n'",
            format!(
                "facility = \"local0\"\\nsocket = \"{}\"\\n'",
                sock.display()
            ),
        ),
    ];
    let mut script = block.to_string();
    for (from, to) in subs {
        assert!(
            script.contains(from),
            "README's deployment block no longer has {from:?}:\n{block}"
        );
        script = script.replace(from, &to);
    }
    script
}

/// A system user made for one test and removed afterwards (with its group).
struct TestUser {
    name: String,
    uid: u32,
}

impl TestUser {
    fn name() -> String {
        format!("zonesign-test-{:08x}", rand::random::<u32>())
    }

    /// Reads the uid of a user `useradd` made (the README block makes it).
    fn adopt(name: String) -> TestUser {
        let out = run(Command::new("id").args(["-u", &name]));
        assert_exit(&out, EXIT_OK, &format!("id -u {name}"));
        let uid = stdout(&out).trim().parse().expect("uid");
        TestUser { name, uid }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// SEC-6.2, SEC-6.1, SEC-6.5, DPS-5.2: README's recommended deployment, built with
/// README's own commands (a dedicated system user owning the setup directory, token,
/// 0600 PIN file, key state and audit log; the binary and the module root's; the SO PIN
/// moved out; syslog forwarding on), passes `zonesign check` run as that user: every
/// mandatory row that can be checked says yes, SEC-6.2 too, exit 0. The same check run as
/// root reports SEC-6.2 as a warning (not mandatory) and fails only SEC-6.1's ownership
/// rows: root does not own the PIN file, and the config belongs to another user.
#[test]
fn check_passes_on_readmes_deployment_as_a_dedicated_user() {
    if !unsafe_is_root() {
        eprintln!("SKIPPED: creating a system user needs root (CI runs the suite as root)");
        return;
    }
    let t0 = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    // The dedicated user must be able to reach its directory, as under /var/lib.
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["var/lib", "usr/local/bin", "root", "dev"] {
        fs::create_dir_all(base.join(d)).unwrap();
    }
    let sock_path = base.join("dev/log");
    let sock = bind(&sock_path);
    // Like /dev/log: every local user may send to it.
    fs::set_permissions(&sock_path, fs::Permissions::from_mode(0o666)).unwrap();
    let name = TestUser::name();
    let script = deployment_script(base, &name, &sock_path);
    let out = run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(base));
    // Removed at the end of the test, whatever happens from here on.
    let user = Command::new("id")
        .arg(&name)
        .output()
        .is_ok_and(|o| o.status.success())
        .then(|| TestUser::adopt(name.clone()));
    assert_exit(&out, EXIT_OK, "README's deployment commands");
    let user = user.expect("the user exists");
    let state = base.join("var/lib/zonesign");
    register_pin_file(&state.join("user.pin"));
    register_pin_file(&base.join("root/zonesign-offline/so.pin"));
    sweep_output(&out, "README's deployment commands");
    assert!(
        stdout(&out).contains("every mandatory control that can be checked is in place"),
        "{}",
        describe(&out)
    );

    // What README promises about the layout.
    use std::os::unix::fs::MetadataExt;
    for (rel, mode) in [("", 0o700), ("user.pin", 0o600), ("tokens", 0o700)] {
        let m = fs::metadata(state.join(rel)).unwrap();
        assert_eq!(m.uid(), user.uid, "{rel} is owned by the dedicated user");
        assert_eq!(m.mode() & 0o777, mode, "{rel} mode");
    }
    for rel in ["keys.toml", "audit.log", "zonesign.toml"] {
        let m = fs::metadata(state.join(rel)).unwrap();
        assert_eq!(m.uid(), user.uid, "{rel} is owned by the dedicated user");
        assert_eq!(m.mode() & 0o022, 0, "{rel} is writable by its owner only");
    }
    assert!(!state.join("so.pin").exists(), "the SO PIN was moved out");

    let config = state.join("zonesign.toml");
    let bin = base.join("usr/local/bin/zonesign");
    let check = |as_user: bool| {
        let mut c = if as_user {
            let mut c = Command::new("runuser");
            c.args(["-u", &user.name, "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        c.current_dir(base)
            .arg("--config")
            .arg(&config)
            .args(["check", "--format", "json"]);
        let out = run(&mut c);
        let v: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("check JSON: {e}\n{}", describe(&out)));
        (out, v)
    };
    let (out, v) = check(true);
    assert_exit(&out, EXIT_OK, "zonesign check as the dedicated user");
    assert_eq!(v["passed"], true);
    let rows = v["rows"].as_array().unwrap();
    for r in rows {
        if r["mandatory"] == true {
            let ok = r["status"] == "yes"
                || (r["status"] == "not-checkable"
                    && (r["id"] == "SEC-2.1" || r["id"] == "SEC-5.1"));
            assert!(ok, "mandatory row not in place: {r}");
        }
    }
    let row = |v: &Value, id: &str, word: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id && r["requirement"].as_str().unwrap().contains(word))
            .unwrap_or_else(|| panic!("no {id} row about {word}"))
            .clone()
    };
    let root_row = row(&v, "SEC-6.2", "root");
    assert_eq!(root_row["status"], "yes", "{root_row}");
    assert_eq!(root_row["evidence"], format!("running as uid {}", user.uid));
    assert_eq!(row(&v, "DPS-5.2", "extractable")["status"], "yes");
    assert_eq!(row(&v, "SEC-6.5", "syslog")["status"], "yes");
    // The check's login went to the collector as the user, like every audit event.
    let forwarded = drain(&sock);
    assert!(
        forwarded
            .iter()
            .any(|r| r.contains("\"event\":\"login\"")
                && r.contains(&format!("(uid {})\"", user.uid))),
        "no login event from {} on the syslog socket: {forwarded:#?}",
        user.name
    );

    // The same check as root: SEC-6.2 is a warning; only file ownership fails.
    let (out, v) = check(false);
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "zonesign check as root on the user's setup",
    );
    let root_row = row(&v, "SEC-6.2", "root");
    assert_eq!(root_row["status"], "no");
    assert_eq!(root_row["mandatory"], false, "SEC-6.2 is a warning");
    let failing: Vec<&Value> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mandatory"] == true && r["status"] == "no")
        .collect();
    // Root may not use files another user can change: that user could point the config
    // at any module, which root would then load with the PIN.
    assert_eq!(failing.len(), 2, "{failing:#?}");
    assert!(failing.iter().all(|r| r["id"] == "SEC-6.1"), "{failing:#?}");
    assert!(
        failing[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("NOT the running user"),
        "{}",
        failing[0]
    );
    assert!(
        failing[1]["evidence"]
            .as_str()
            .unwrap()
            .contains("owned by another user"),
        "{}",
        failing[1]
    );
    let text = run(Command::new(&bin)
        .current_dir(base)
        .arg("--config")
        .arg(&config)
        .arg("check"));
    assert!(
        stdout(&text).contains("SEC-6.2  no") && stdout(&text).contains("WARNING"),
        "{}",
        describe(&text)
    );
    sweep_dir(base);
    drop(user);
    eprintln!("README deployment as a dedicated user: {:?}", t0.elapsed());
}

/// DPS-5.2: the keys `init` and `key generate` make are signing keys that never leave
/// the token: sensitive and never extractable since made there, and allowed to sign
/// only (SoftHSM2 would also let a private key decrypt and unwrap unless told not to).
/// Read back with OpenSC's `pkcs11-tool`, not with zonesign's own code.
#[test]
fn generated_private_keys_sign_only_and_never_leave_the_token() {
    for alg in ["rsasha256", "ecdsap256sha256", "ed25519"] {
        let setup = Setup::new(alg);
        let listing = stdout(&setup.pkcs11_tool(&["--list-objects", "--type", "privkey"]));
        let words = |prefix: &str| -> Vec<Vec<String>> {
            listing
                .lines()
                .filter_map(|l| l.trim().strip_prefix(prefix))
                .map(|w| w.split(',').map(|x| x.trim().to_string()).collect())
                .collect()
        };
        let (usage, access) = (words("Usage:"), words("Access:"));
        assert_eq!(usage.len(), 2, "{alg}: a KSK and a ZSK\n{listing}");
        for u in &usage {
            assert_eq!(u, &["sign"], "{alg}\n{listing}");
        }
        for a in &access {
            for want in [
                "sensitive",
                "always sensitive",
                "never extractable",
                "local",
            ] {
                assert!(a.iter().any(|w| w == want), "{alg}: {want}\n{listing}");
            }
        }
    }
}
