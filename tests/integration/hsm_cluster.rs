//! Signing over several tokens at once (`extra-tokens`, issue 5: "several slots or
//! tokens can be used at once"), on real SoftHSM2 tokens.
//!
//! An HSM cluster replicates its keys to every member itself; SoftHSM2 has no such
//! thing, so the tests make a member the way a cluster would have it: a copy of the
//! token's directory (the same key objects, wrapped under the same PIN) given its own
//! label and serial number, so that it shows up as a second token in its own slot.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{
    EXIT_HSM, EXIT_OK, Setup, all_validators, assert_exit, fixture, run, stderr, stdout,
};

/// The token directory of a `zonesign init` setup (the one holding `token.object`).
fn token_dir(setup: &Setup) -> PathBuf {
    let tokens = setup.dir.join("tokens");
    fs::read_dir(&tokens)
        .expect("tokens dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.join("token.object").is_file())
        .expect("a token directory")
}

/// Replaces `from` by `to` (same length) wherever it occurs in `bytes`; how many.
fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

/// Copies the setup's token as a cluster member labelled `label` (at most 32 octets).
fn clone_token(setup: &Setup, label: &str) -> PathBuf {
    // Read before the copy exists: two tokens of one serial make SoftHSM2 abort.
    let serial = token_serial(setup);
    let from = token_dir(setup);
    let to = from.with_file_name(format!("cluster-member-{label}"));
    fs::create_dir(&to).expect("member dir");
    for entry in fs::read_dir(&from).expect("read token dir") {
        let path = entry.expect("entry").path();
        fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
    let object = to.join("token.object");
    let mut bytes = fs::read(&object).expect("token.object");
    // CKA label: 32 octets, blank-padded; serial: 16 characters. Both are stored as
    // plain attribute values in SoftHSM2's object file.
    let pad = |s: &str| format!("{s:<32}").into_bytes();
    assert_eq!(
        replace_all(&mut bytes, &pad("zonesign"), &pad(label)),
        1,
        "label in {}",
        object.display()
    );
    let new_serial = format!("{:0>16}", &label[label.len().saturating_sub(16)..]);
    assert_eq!(
        replace_all(&mut bytes, serial.as_bytes(), new_serial.as_bytes()),
        1,
        "serial {serial} in {}",
        object.display()
    );
    fs::write(&object, bytes).expect("write token.object");
    to
}

/// The serial number of the setup's token, from `softhsm2-util --show-slots`.
fn token_serial(setup: &Setup) -> String {
    let out = std::process::Command::new("softhsm2-util")
        .arg("--show-slots")
        .env("SOFTHSM2_CONF", setup.dir.join("softhsm2.conf"))
        .output()
        .expect("softhsm2-util");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Serial number:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("a serial number in {out:?}"))
}

/// Adds `extra-tokens = [...]` to the setup's `[hsm]` table.
fn add_extra_tokens(setup: &Setup, labels: &[&str]) {
    let list: Vec<String> = labels.iter().map(|l| format!("\"{l}\"")).collect();
    let text = setup.config_text().replacen(
        "[hsm]\n",
        &format!("[hsm]\nextra-tokens = [{}]\n", list.join(", ")),
        1,
    );
    fs::write(setup.config(), text).expect("write config");
}

fn audit(setup: &Setup) -> Vec<serde_json::Value> {
    fs::read_to_string(setup.dir.join("audit.log"))
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Signs the sample zone with 2000 more delegations, enough chunks of work for
/// every one of the 4 sessions.
fn sign(setup: &Setup, out: &Path) -> std::process::Output {
    let zone = setup.path("se-bigger.zone");
    if !zone.exists() {
        let mut text = fs::read_to_string(fixture("se-sample.zone")).expect("sample zone");
        for i in 0..2000 {
            text.push_str(&format!("extra{i} IN NS ns1.example.net.\n"));
        }
        fs::write(&zone, text).expect("write zone");
    }
    setup.sign_with(&zone, "se.", out, &["--sessions", "4"])
}

/// Issue 5: with `extra-tokens`, the signing sessions are spread over every token,
/// each token is logged in and out (DPS-4.4), the audit trail says how many signatures
/// each token made, and the zone passes every validator.
#[test]
fn signing_sessions_are_spread_over_every_token_of_a_cluster() {
    let setup = Setup::new("ecdsap256sha256");
    let _ = clone_token(&setup, "zonesign-member-b");
    add_extra_tokens(&setup, &["zonesign-member-b"]);
    let out = setup.path("se.signed");
    let signed = sign(&setup, &out);
    assert_exit(&signed, EXIT_OK, "sign over two tokens");
    all_validators(&out, "se.", &setup.ds_file("se.")).expect("validators");
    let events = audit(&setup);
    for label in ["zonesign", "zonesign-member-b"] {
        for what in ["login", "logout"] {
            assert!(
                events
                    .iter()
                    .any(|e| e["command"] == "sign" && e["event"] == what && e["token"] == label),
                "{what} of {label} in the audit log: {events:#?}"
            );
        }
    }
    // Each session was a worker process with a login and a logout of its own
    // (SEC-6.5), on both tokens.
    let by_worker = |what: &str, label: &str| {
        events
            .iter()
            .filter(|e| e["event"] == what && e["token"] == label && e["worker"].is_u64())
            .count()
    };
    for label in ["zonesign", "zonesign-member-b"] {
        let logins = by_worker("login", label);
        assert!(logins >= 1, "worker logins on {label}: {events:#?}");
        assert_eq!(logins, by_worker("logout", label), "{events:#?}");
    }
    let sign = events
        .iter()
        .find(|e| e["event"] == "sign")
        .unwrap_or_else(|| panic!("a sign event: {events:#?}"));
    let text = sign.to_string();
    assert_eq!(sign["worker_processes"], true, "{text}");
    let per_token: Vec<(String, u64)> =
        serde_json::from_value(sign["per_token"].clone()).expect("per_token pairs");
    let labels: Vec<&str> = per_token.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["zonesign", "zonesign-member-b"], "{text}");
    assert!(
        per_token.iter().all(|(_, n)| *n > 0),
        "both tokens signed: {text}"
    );
    // Each session signed with its own session copies of the KSK and the ZSK
    // (`session-key-copies`), and the audit trail says how many were made.
    let copies = sign["session_key_copies"].as_u64().unwrap_or(0);
    assert!(copies >= 2 && copies % 2 == 0, "{text}");
    // The HSM limit is measured the same way: over every token.
    let flags = ["--sessions", "2", "--seconds", "0.3", "--format", "json"];
    let bench = run(setup.cmd().args(["hsm", "bench"]).args(flags));
    assert_exit(&bench, EXIT_OK, "hsm bench over two tokens");
    let report: serde_json::Value = serde_json::from_str(&stdout(&bench)).expect("JSON");
    assert_eq!(report["token"], "zonesign, zonesign-member-b", "{report}");
    assert!(report["signatures"].as_u64().unwrap_or(0) > 0, "{report}");
}

/// A member that lacks the keys is refused before anything is signed: exit 3 (HSM),
/// a message naming the token, no output written and the earlier one untouched.
#[test]
fn a_cluster_member_without_the_keys_is_refused() {
    let setup = Setup::new("ecdsap256sha256");
    let out = setup.path("se.signed");
    assert_exit(&sign(&setup, &out), EXIT_OK, "sign on one token");
    let before = fs::read(&out).expect("signed");
    // A member whose replication never happened: the token without its key objects.
    let member = clone_token(&setup, "zonesign-empty");
    for entry in fs::read_dir(&member).expect("member dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".object") && name != "token.object" {
            fs::remove_file(&path).expect("remove key object");
        }
    }
    add_extra_tokens(&setup, &["zonesign-empty"]);
    // A new output: everything must be signed, so the tokens are needed.
    let fresh = setup.path("se.fresh.signed");
    let refused = sign(&setup, &fresh);
    assert_exit(&refused, EXIT_HSM, "sign with a member lacking the keys");
    assert!(!fresh.exists(), "no output written");
    let msg = stderr(&refused);
    assert!(
        msg.contains("token zonesign-empty lacks key"),
        "the message names the token: {msg}"
    );
    assert_eq!(fs::read(&out).expect("signed"), before, "output untouched");
}

/// Issue 5, "several modules": a member behind a PKCS#11 module of its own, with a
/// PIN of its own (an HSM partition's), given as `extra-tokens = [{ token, module,
/// pin-file }]`. The module here is a copy of SoftHSM2's library, which the loader
/// maps as an instance of its own (its own C_Initialize and state); the member's PIN
/// is changed with pkcs11-tool (PINs from the environment, not its command line).
/// Both tokens sign, each worker logging in with its token's module and PIN; the
/// member with the main PIN instead is refused: exit 3, the output untouched.
#[test]
fn a_member_behind_another_module_with_its_own_pin_signs_too() {
    let setup = Setup::new("ecdsap256sha256");
    let label = "zonesign-member-c";
    let _ = clone_token(&setup, label);
    let module = setup.path("libsofthsm2-copy.so");
    fs::copy("/usr/lib/softhsm/libsofthsm2.so", &module).expect("copy the module");
    let old = fs::read_to_string(setup.pin_file()).expect("PIN file");
    let new = format!("{}-member-c", old.trim());
    let changed = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&module)
        .args(["--token-label", label, "--login", "--pin", "env:OLD_PIN"])
        .args(["--change-pin", "--new-pin", "env:NEW_PIN"])
        .env("SOFTHSM2_CONF", setup.dir.join("softhsm2.conf"))
        .env("OLD_PIN", old.trim())
        .env("NEW_PIN", &new)
        .output()
        .expect("pkcs11-tool");
    assert!(
        changed.status.success(),
        "change the member's PIN: {changed:?}"
    );
    let pin_file = setup.path("member-c.pin");
    fs::write(&pin_file, &new).expect("write PIN file");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&pin_file, fs::Permissions::from_mode(0o600)).expect("chmod");
    crate::common::register_pin_file(&pin_file);
    let member = |pin: Option<&Path>| {
        let pin = pin.map_or(String::new(), |p| {
            format!(", pin-file = {:?}", p.display().to_string())
        });
        let entry = format!(
            "{{ token = \"{label}\", module = {:?}{pin} }}",
            module.display().to_string()
        );
        let text = setup.config_text();
        let text = match text.find("extra-tokens") {
            Some(_) => text
                .lines()
                .filter(|l| !l.starts_with("extra-tokens"))
                .collect::<Vec<_>>()
                .join("\n"),
            None => text,
        };
        let text = text.replacen("[hsm]\n", &format!("[hsm]\nextra-tokens = [{entry}]\n"), 1);
        fs::write(setup.config(), text + "\n").expect("write config");
    };
    member(Some(&pin_file));
    let out = setup.path("se.signed");
    let signed = sign(&setup, &out);
    assert_exit(&signed, EXIT_OK, "sign over two modules");
    all_validators(&out, "se.", &setup.ds_file("se.")).expect("validators");
    let events = audit(&setup);
    let sign_event = events
        .iter()
        .find(|e| e["event"] == "sign")
        .unwrap_or_else(|| panic!("a sign event: {events:#?}"));
    let per_token: Vec<(String, u64)> =
        serde_json::from_value(sign_event["per_token"].clone()).expect("per_token pairs");
    assert_eq!(per_token.len(), 2, "{sign_event}");
    assert!(per_token.iter().all(|(_, n)| *n > 0), "{sign_event}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "login" && e["token"] == label && e["worker"].is_u64()),
        "a worker logged in to the member: {events:#?}"
    );

    member(None);
    let before = fs::read(&out).expect("signed");
    let refused = setup.sign_with(
        &fixture("se-sample.zone"),
        "se.",
        &out,
        &["--previous", &setup.path("none").display().to_string()],
    );
    assert_exit(&refused, EXIT_HSM, "the member with the main PIN");
    assert!(
        stderr(&refused).contains("rejected the PIN"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(fs::read(&out).expect("signed"), before, "output untouched");
}
