//! Helpers shared by the integration tests: running the real `zonesign` binary against
//! a real SoftHSM2 token, the three external validators (ldns, BIND, Knot), zones signed
//! by foreign signers (ldns-signzone, dnssec-signzone), and small zone-text utilities.
//!
//! The external tools are installed by `scripts/install-deps`; a missing tool FAILS the
//! test (it never silently skips).
#![allow(dead_code)]
// Shared by the test binaries as a private module: `pub` is what they see.
#![allow(unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::TempDir;
use zonesign::error::ExitCode;

/// Exit codes of the CLI contract (issue 3), from its one definition ([`ExitCode::ALL`]).
pub const EXIT_OK: i32 = ExitCode::Ok as i32;
pub const EXIT_VERIFY_FAILED: i32 = ExitCode::VerifyFailed as i32;
pub const EXIT_BAD_INPUT: i32 = ExitCode::BadInput as i32;
pub const EXIT_HSM: i32 = ExitCode::Hsm as i32;
pub const EXIT_IO: i32 = ExitCode::Io as i32;
pub const EXIT_LOCKED: i32 = ExitCode::Locked as i32;
pub const EXIT_EXPIRING: i32 = ExitCode::Expiring as i32;
pub const EXIT_INPUT_REJECTED: i32 = ExitCode::InputRejected as i32;

/// All algorithms `zonesign init --algorithm` accepts (DPS-6.1).
pub const ALGORITHMS: [&str; 4] = ["rsasha1", "rsasha256", "ecdsap256sha256", "ed25519"];

// ---------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

/// `fixtures/se-sample.zone` (origin `se.`).
pub fn se_sample() -> PathBuf {
    fixture("se-sample.zone")
}

/// The `*.zone` files of a fixtures sub-directory, sorted (the `*.inc` files next to them
/// are only `$INCLUDE`d).
pub fn zones_in(sub: &str) -> Vec<PathBuf> {
    let dir = fixture(sub);
    let mut zones: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "zone"))
        .collect();
    zones.sort();
    assert!(!zones.is_empty(), "no *.zone files in {}", dir.display());
    zones
}

/// `fixtures/features/*.zone`, all with origin `example.`.
pub fn feature_zones() -> Vec<PathBuf> {
    zones_in("features")
}

/// `fixtures/bad/*.zone`, each with an `; expect: exit=N line=L` comment.
pub fn bad_zones() -> Vec<PathBuf> {
    zones_in("bad")
}

/// Every zone the signing tests sign, with its origin.
pub fn all_fixture_zones() -> Vec<(PathBuf, &'static str)> {
    let mut zones: Vec<(PathBuf, &'static str)> = feature_zones()
        .into_iter()
        .map(|z| (z, "example."))
        .collect();
    zones.push((se_sample(), "se."));
    zones
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("path has a file name")
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

/// A `Command` for the zonesign binary under test, with `ZONESIGN_PIN` and
/// `ZONESIGN_CONFIG` removed so the caller's environment never leaks into a test.
pub fn zonesign() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zonesign"));
    cmd.env_remove("ZONESIGN_PIN").env_remove("ZONESIGN_CONFIG");
    cmd
}

/// Runs `cmd` to completion and sweeps its stdout and stderr for every PIN this test
/// process knows (SEC-6.1, see [`sweep_output`]).
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command_line(cmd)));
    sweep_output(&out, &command_line(cmd));
    out
}

/// `CMD verify SIGNED --origin ORIGIN --anchor ANCHOR [extra]`.
pub fn verify_command(
    mut cmd: Command,
    signed: &Path,
    origin: &str,
    anchor: &Path,
    extra: &[&str],
) -> Command {
    cmd.arg("verify")
        .arg(signed)
        .arg("--origin")
        .arg(origin)
        .arg("--anchor")
        .arg(anchor)
        .args(extra);
    cmd
}

/// zonesign's test-only `verify` window in octets (builds with debug assertions).
pub const TEST_VERIFY_WINDOW_ENV: &str = "ZONESIGN_TEST_VERIFY_WINDOW";

/// Runs the `zonesign verify` command `cmd` makes, then again reading the file 300
/// octets at a time (dozens of windows even for a small zone), and asserts the same
/// exit code, the same report and the same errors: the windowed verifier, or the
/// whole-zone verifier it leaves a zone to, says what one window says (issue 25).
/// The reports are compared without what the clock puts in (the check time, read a
/// second apart without `--now`, and the JSON's stage times). Returns the first run's
/// output.
pub fn run_verify(cmd: impl Fn() -> Command) -> Output {
    let out = run(&mut cmd());
    let windowed = run(cmd().env(TEST_VERIFY_WINDOW_ENV, "300"));
    let report = |o: &Output| match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
        Ok(mut json) => {
            if let Some(m) = json.as_object_mut() {
                m.remove("stages");
                m.remove("time");
            }
            json.to_string()
        }
        Err(_) => {
            // The verdict line's "at <RFC 3339 time>" (25 characters).
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            match text.find(" at ") {
                Some(at) => format!("{}{}", &text[..at], text.get(at + 4 + 25..).unwrap_or("")),
                None => text,
            }
        }
    };
    assert_eq!(
        (windowed.status.code(), report(&windowed), &windowed.stderr),
        (out.status.code(), report(&out), &out.stderr),
        "verify in windows of 300 octets differs from one window: {}",
        command_line(&cmd())
    );
    out
}

/// Waits for a spawned child (with piped output) and sweeps its output like [`run`].
pub fn wait(child: Child, what: &str) -> Output {
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {what}: {e}"));
    sweep_output(&out, what);
    out
}

/// A command as program and arguments, for messages. Not `{cmd:?}`: that shows the
/// environment the test set, and tests pass PINs through the environment (SEC-6.1).
pub fn command_line(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&a.to_string_lossy());
    }
    line
}

// ---------------------------------------------------------------------------------------
// SEC-6.1, suite-wide: no PIN in any output of any run, nor in any file a setup leaves
// ---------------------------------------------------------------------------------------

/// A PIN this test process knows, and where it came from (a path or a test's word),
/// which is what a leak report names instead of the PIN.
struct Secret {
    value: String,
    origin: String,
}

/// Every PIN of every [`Setup`] made in this process (`user.pin`, `so.pin`) and every
/// PIN a test registered ([`register_secret`]: wrong PINs, other tokens' PINs).
static SECRETS: Mutex<Vec<Secret>> = Mutex::new(Vec::new());

/// What the sweep covered in this process, for the ledger [`write_ledger`] keeps.
static SWEPT_OUTPUTS: AtomicU64 = AtomicU64::new(0);
static SWEPT_OUTPUT_BYTES: AtomicU64 = AtomicU64::new(0);
static SWEPT_DIRS: AtomicU64 = AtomicU64::new(0);
static SWEPT_FILES: AtomicU64 = AtomicU64::new(0);
static SWEPT_FILE_BYTES: AtomicU64 = AtomicU64::new(0);
static LEAKS: AtomicU64 = AtomicU64::new(0);

fn secrets() -> std::sync::MutexGuard<'static, Vec<Secret>> {
    SECRETS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Adds a PIN to the suite-wide sweep: from now on no output of any run of this
/// process, and no file a setup leaves, may contain it. At least 8 characters, so that
/// a hit can only be a leak, never a coincidence in a digest or a signature.
pub fn register_secret(value: &str, origin: &str) {
    let value = value.trim();
    assert!(
        value.len() >= 8,
        "a swept secret needs 8 characters or more ({origin})"
    );
    let mut all = secrets();
    if !all.iter().any(|s| s.value == value) {
        all.push(Secret {
            value: value.to_string(),
            origin: origin.to_string(),
        });
    }
    drop(all);
    write_ledger();
}

/// Registers the PIN in a PIN file (its whole content, trimmed).
pub fn register_pin_file(path: &Path) {
    let pin = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read PIN file {}: {e}", path.display()));
    register_secret(&pin, &path.display().to_string());
}

/// The origins of the known secrets that occur in `bytes`.
fn secrets_in(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    secrets()
        .iter()
        .filter(|s| text.contains(s.value.as_str()))
        .map(|s| s.origin.clone())
        .collect()
}

/// The leaks in a child's output: (stream, origins of the PINs found in it).
pub fn leaks_in_output(out: &Output) -> Vec<(&'static str, Vec<String>)> {
    [("stdout", &out.stdout), ("stderr", &out.stderr)]
        .into_iter()
        .map(|(stream, bytes)| (stream, secrets_in(bytes)))
        .filter(|(_, hits)| !hits.is_empty())
        .collect()
}

/// Fails the test if a child's stdout or stderr contains any PIN this process knows.
/// The report names the stream and the PIN's origin, never the PIN.
pub fn sweep_output(out: &Output, what: &str) {
    SWEPT_OUTPUT_BYTES.fetch_add(
        (out.stdout.len() + out.stderr.len()) as u64,
        Ordering::Relaxed,
    );
    let leaks = leaks_in_output(out);
    if !leaks.is_empty() {
        LEAKS.fetch_add(1, Ordering::Relaxed);
        write_ledger();
        panic!("SEC-6.1: the output of `{what}` contains a PIN: {leaks:?} (stream, whose PIN)");
    }
    SWEPT_OUTPUTS.fetch_add(1, Ordering::Relaxed);
    write_ledger();
}

/// Fails the test if any file under `dir` (audit logs, reports, metrics, signed zones,
/// configs, key state...) contains a PIN this process knows; see [`leaks_in_dir`].
/// Returns how many files were read.
pub fn sweep_dir(dir: &Path) -> u64 {
    let (files, bytes, leaks) = leaks_in_dir(dir);
    SWEPT_FILE_BYTES.fetch_add(bytes, Ordering::Relaxed);
    if !leaks.is_empty() {
        LEAKS.fetch_add(1, Ordering::Relaxed);
        write_ledger();
        panic!("SEC-6.1: files contain a PIN: {leaks:?} (file, whose PIN)");
    }
    SWEPT_DIRS.fetch_add(1, Ordering::Relaxed);
    SWEPT_FILES.fetch_add(files, Ordering::Relaxed);
    write_ledger();
    files
}

/// The files under `dir` that contain a PIN this process knows, as (files read, bytes
/// read, (path, origins of the PINs found)). Skipped: token directories (`tokens`, the
/// HSM's own store) and PIN files themselves (a file whose whole content is a known
/// PIN is where that PIN belongs).
pub fn leaks_in_dir(dir: &Path) -> (u64, u64, Vec<(PathBuf, Vec<String>)>) {
    let known: Vec<String> = secrets().iter().map(|s| s.value.clone()).collect();
    let mut leaks = Vec::new();
    let mut read = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let Ok(meta) = fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                if entry.file_name() != "tokens" {
                    stack.push(p);
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let Ok(bytes) = fs::read(&p) else {
                continue;
            };
            let trimmed = String::from_utf8_lossy(&bytes);
            if known.iter().any(|k| trimmed.trim() == k) {
                continue;
            }
            files += 1;
            read += bytes.len() as u64;
            let hits = secrets_in(&bytes);
            if !hits.is_empty() {
                leaks.push((p, hits));
            }
        }
    }
    (files, read, leaks)
}

/// Writes this process's sweep counts to `<target>/tmp/pin-sweep/<test binary>-<pid>`
/// (one `key=value` line), which `scripts/test` adds up after `cargo test`, and where
/// it checks that every test binary using these helpers swept something.
fn write_ledger() {
    static WRITE: Mutex<()> = Mutex::new(());
    let _guard = WRITE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pin-sweep");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _)| name.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let line = format!(
        "binary={binary} outputs={} output_bytes={} dirs={} files={} file_bytes={} secrets={} leaks={}\n",
        SWEPT_OUTPUTS.load(Ordering::Relaxed),
        SWEPT_OUTPUT_BYTES.load(Ordering::Relaxed),
        SWEPT_DIRS.load(Ordering::Relaxed),
        SWEPT_FILES.load(Ordering::Relaxed),
        SWEPT_FILE_BYTES.load(Ordering::Relaxed),
        secrets().len(),
        LEAKS.load(Ordering::Relaxed),
    );
    let _ = fs::create_dir_all(&dir);
    let path = dir.join(format!("{binary}-{}", std::process::id()));
    let tmp = dir.join(format!(".{binary}-{}.tmp", std::process::id()));
    if fs::write(&tmp, line).is_ok() {
        let _ = fs::rename(&tmp, &path);
    }
}

/// stdout and stderr of an `Output`, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\n{}",
        describe(out)
    );
}

/// A fresh `zonesign init` in a temporary directory: SoftHSM2 token, config, PIN file,
/// one KSK and one ZSK. Keeps the `TempDir` alive as long as the `Setup`.
pub struct Setup {
    pub tmp: TempDir,
    /// The `init --dir` directory (`<tmp>/zs`).
    pub dir: PathBuf,
    pub algorithm: String,
}

/// When a test is done with a setup, every file it left in the setup's temporary
/// directory (audit log, signed zones, reports, metrics, key state, config...) is swept
/// for PINs (SEC-6.1) before the directory goes; not while a test is already failing.
impl Drop for Setup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            sweep_dir(self.tmp.path());
        }
    }
}

impl Setup {
    pub fn new(alg: &str) -> Setup {
        Setup::init_with(alg, &[])
    }

    /// A setup whose `init` ran at `t` (`init --now`): its keys' recorded times.
    pub fn at(alg: &str, t: i64) -> Setup {
        Setup::init_with(alg, &["--now", &rfc3339(t)])
    }

    fn init_with(alg: &str, extra: &[&str]) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("zs");
        let out = run(zonesign()
            .current_dir(tmp.path())
            .arg("init")
            .arg("--dir")
            .arg(&dir)
            .arg("--algorithm")
            .arg(alg)
            .args(extra));
        assert_exit(&out, EXIT_OK, &format!("zonesign init --algorithm {alg}"));
        let setup = Setup {
            tmp,
            dir,
            algorithm: alg.to_string(),
        };
        assert!(
            setup.config().is_file(),
            "init did not create {}",
            setup.config().display()
        );
        for pin in ["user.pin", "so.pin"] {
            register_pin_file(&setup.dir.join(pin));
        }
        setup
    }

    /// `DIR/zonesign.toml`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("zonesign.toml")
    }

    /// A path inside the setup's temporary directory (outside `DIR`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `zonesign --config DIR/zonesign.toml`, run from the temporary directory.
    pub fn cmd(&self) -> Command {
        let mut cmd = zonesign();
        cmd.current_dir(self.tmp.path())
            .arg("--config")
            .arg(self.config());
        cmd
    }

    /// `zonesign --config C sign ZONE --origin ORIGIN --out OUT`.
    pub fn sign(&self, zone: &Path, origin: &str, out: &Path) -> Output {
        self.sign_with(zone, origin, out, &[])
    }

    pub fn sign_with(&self, zone: &Path, origin: &str, out: &Path, extra: &[&str]) -> Output {
        run(self
            .cmd()
            .arg("sign")
            .arg(zone)
            .arg("--origin")
            .arg(origin)
            .arg("--out")
            .arg(out)
            .args(extra))
    }

    /// `zonesign --config C verify SIGNED --origin ORIGIN --anchor ANCHOR [extra]`.
    pub fn verify(&self, signed: &Path, origin: &str, anchor: &Path, extra: &[&str]) -> Output {
        run(&mut verify_command(
            self.cmd(),
            signed,
            origin,
            anchor,
            extra,
        ))
    }

    /// Writes the output of `zonesign key ds` (DPS-5.1) to `<tmp>/ds-anchor.txt` and
    /// returns that path.
    pub fn ds_file(&self, origin: &str) -> PathBuf {
        let out = run(self.cmd().args(["key", "ds", "--origin", origin]));
        assert_exit(&out, EXIT_OK, "zonesign key ds");
        let text = stdout(&out);
        assert!(
            text.lines()
                .any(|l| tokens(l).get(3).is_some_and(|t| t == "DS")
                    || tokens(l).get(2).is_some_and(|t| t == "DS")),
            "zonesign key ds printed no DS record:\n{text}"
        );
        let path = self.path(&format!("ds-anchor-{origin}txt"));
        fs::write(&path, text).expect("write DS file");
        path
    }

    /// As `ds_file`, with the PIN given through `ZONESIGN_PIN` (for a setup whose PIN
    /// file was removed).
    pub fn ds_file_with_pin(&self, pin: &str, origin: &str) -> PathBuf {
        let out = run(self
            .cmd()
            .env("ZONESIGN_PIN", pin)
            .args(["key", "ds", "--origin", origin]));
        assert_exit(&out, EXIT_OK, "ZONESIGN_PIN=... zonesign key ds");
        let path = self.path("ds-anchor.txt");
        fs::write(&path, stdout(&out)).expect("write DS file");
        path
    }

    /// The config file's text.
    pub fn config_text(&self) -> String {
        fs::read_to_string(self.config()).expect("read config")
    }

    /// The PIN file named in the config (`pin_file = "..."` anywhere in the TOML), or
    /// any other regular file in DIR whose name contains "pin".
    pub fn pin_file(&self) -> PathBuf {
        let toml = self.config_text();
        for line in toml.lines() {
            let line = line.trim();
            if let Some((key, value)) = line.split_once('=') {
                let key = key.trim();
                if key.contains("pin") && (key.contains("file") || key.contains("path")) {
                    let value = value.trim().trim_matches('"').trim_matches('\'');
                    let p = PathBuf::from(value);
                    return if p.is_absolute() { p } else { self.dir.join(p) };
                }
            }
        }
        for entry in fs::read_dir(&self.dir).expect("read init dir") {
            let p = entry.expect("entry").path();
            if p.is_file() && file_name(&p).to_lowercase().contains("pin") {
                return p;
            }
        }
        panic!("cannot find the PIN file of this setup; config:\n{toml}");
    }
}

// ---------------------------------------------------------------------------------------
// External validators
// ---------------------------------------------------------------------------------------

/// Runs an external tool; a missing tool is an error (CI installs them all). Its output
/// is swept for PINs like the binary's ([`sweep_output`]).
fn tool(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {}: {e} (run scripts/install-deps: softhsm2 ldnsutils \
             bind9-utils bind9-dnsutils knot-dnssecutils opensc opencryptoki)",
            command_line(cmd)
        )
    })?;
    sweep_output(&out, &command_line(cmd));
    Ok(out)
}

fn tool_result(cmd: &mut Command) -> Result<(), String> {
    let line = command_line(cmd);
    let out = tool(cmd)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{line} failed\n{}", describe(&out)))
    }
}

/// The zone in `file` as BIND reads it, one absolute record per line (`named-checkzone
/// -D`, without its integrity checks, whose lookups of out-of-zone name servers wait for
/// a resolver the test machine may not have): how the tests read a zone file in any form (relative names, `$ORIGIN`, the
/// approved zone, which is the registry's input byte for byte) without a parser of
/// their own.
pub fn canonical_zone(file: &Path, origin: &str) -> String {
    let dump = tempfile::NamedTempFile::new().expect("temp file");
    // BIND reads a relative `$INCLUDE` from its working directory; zonesign (like
    // Knot) from the including file's: run it there.
    let file = file.canonicalize().expect("zone file path");
    let out = Command::new("named-checkzone")
        .current_dir(file.parent().expect("zone file directory"))
        .args(["-i", "none", "-k", "ignore", "-n", "ignore", "-D", "-o"])
        .arg(dump.path())
        .arg(origin)
        .arg(&file)
        .output()
        .expect("run named-checkzone");
    assert!(
        out.status.success(),
        "named-checkzone -D {}: {}",
        file.display(),
        describe(&out)
    );
    fs::read_to_string(dump.path()).expect("read the dump")
}

/// `ldns-verify-zone -k DSFILE ZONE`: with `-k`, ldns checks that the DNSKEY RRset is
/// signed by a key matching the trusted DS (exit 33 and "No keys with the keytag and
/// algorithm from the RRSIG found" otherwise), then every RRSIG, the NSEC chain and the
/// signature times against the current clock. Without `-k` it checks no chain at all.
/// ldns takes the origin from the SOA, so `origin` is not passed.
pub fn ldns_verify(zone: &Path, _origin: &str, ds_file: &Path) -> Result<(), String> {
    tool_result(
        Command::new("ldns-verify-zone")
            .arg("-k")
            .arg(ds_file)
            .arg(ldns_input(zone)),
    )
}

/// The file to give `ldns-verify-zone`: the zone itself, except for an NSEC3 zone with
/// a ZONEMD under ldns before 1.9.0, which spins forever on those (NLnetLabs/ldns#287,
/// fixed in 1.9.0; Debian 12 has 1.8.3; reproduced here on zonesign's salted and
/// iterated NSEC3 outputs). Such a zone is given without its ZONEMD RRset and the
/// RRSIGs over it (everything else, the apex bitmap included, is checked as written);
/// the ZONEMD itself is checked by `zonesign verify` in the same tests and by
/// `ldns-verify-zone -ZZ` on NSEC zones (tests/integration/zonemd.rs).
pub fn ldns_input(zone: &Path) -> PathBuf {
    let Ok(text) = fs::read_to_string(zone) else {
        return zone.to_path_buf();
    };
    let rtype = |l: &str| tokens(l).get(3).cloned().unwrap_or_default();
    let covered = |l: &str| tokens(l).get(4).cloned().unwrap_or_default();
    let has = |t: &str| text.lines().any(|l| rtype(l) == t);
    if !(has("NSEC3") && has("ZONEMD")) || ldns_fixed_287() {
        return zone.to_path_buf();
    }
    let kept: String = text
        .lines()
        .filter(|l| rtype(l) != "ZONEMD" && !(rtype(l) == "RRSIG" && covered(l) == "ZONEMD"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut path = zone.as_os_str().to_owned();
    path.push(".ldns287");
    let path = PathBuf::from(path);
    fs::write(&path, kept).expect("write the ldns copy");
    path
}

/// Whether the installed ldns-verify-zone is 1.9.0 or later (NLnetLabs/ldns#287 fixed).
fn ldns_fixed_287() -> bool {
    let out = Command::new("ldns-verify-zone").arg("-v").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version: Vec<u32> = text
        .split_whitespace()
        .nth(2)
        .unwrap_or("0")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    version >= vec![1, 9, 0]
}

/// `dnssec-verify -o ORIGIN ZONE` (BIND): every RRset signed by every algorithm in the
/// DNSKEY RRset, NSEC chain complete, signatures valid now.
pub fn dnssec_verify(zone: &Path, origin: &str) -> Result<(), String> {
    tool_result(
        Command::new("dnssec-verify")
            .arg("-o")
            .arg(origin)
            .arg(zone),
    )
}

/// `kzonecheck -o ORIGIN --dnssec on ZONE` (Knot): semantic checks including DNSSEC
/// (signatures, NSEC chain and bitmaps, time validity).
pub fn kzonecheck(zone: &Path, origin: &str) -> Result<(), String> {
    tool_result(
        Command::new("kzonecheck")
            .arg("-o")
            .arg(origin)
            .arg("--dnssec")
            .arg("on")
            .arg(zone),
    )
}

/// All three validators; collects every failure.
pub fn all_validators(zone: &Path, origin: &str, ds_file: &Path) -> Result<(), String> {
    let errors: Vec<String> = [
        ldns_verify(zone, origin, ds_file),
        dnssec_verify(zone, origin),
        kzonecheck(zone, origin),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n\n"))
    }
}

/// The DS (SHA-256) of every KSK (DNSKEY flags 257) in a signed zone, computed by
/// `ldns-key2ds -n -2` (independent of zonesign), written to `<out_dir>/<zone>.ksk-ds`.
///
/// Why: a DS digest covers the owner name, and `zonesign key ds` (contract: no origin
/// argument) cannot know which zone the caller means when one setup signs zones of
/// several origins. The validators get this DS; the tests cross-check `key ds` by key
/// tag and algorithm, which do not depend on the owner.
pub fn ds_from_signed(signed: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let text = fs::read_to_string(signed).map_err(|e| format!("{}: {e}", signed.display()))?;
    let rrs = parse_flat_zone(&text)?;
    let mut all = String::new();
    for (i, rr) in rrs
        .iter()
        .filter(|rr| rr.rtype == "DNSKEY" && rr.rdata.first().is_some_and(|f| f == "257"))
        .enumerate()
    {
        let key = out_dir.join(format!("{}.ksk{i}.key", file_name(signed)));
        fs::write(
            &key,
            format!("{} {} IN DNSKEY {}\n", rr.owner, rr.ttl, rr.rdata.join(" ")),
        )
        .map_err(|e| e.to_string())?;
        let out = tool(Command::new("ldns-key2ds").args(["-n", "-2"]).arg(&key))?;
        if !out.status.success() {
            return Err(format!("ldns-key2ds failed\n{}", describe(&out)));
        }
        all.push_str(&stdout(&out));
    }
    if all.is_empty() {
        return Err(format!(
            "{}: no KSK (DNSKEY 257) in the signed zone",
            signed.display()
        ));
    }
    let path = out_dir.join(format!("{}.ksk-ds", file_name(signed)));
    fs::write(&path, all).map_err(|e| e.to_string())?;
    Ok(path)
}

/// (key tag, algorithm) of every DS line in a text.
pub fn ds_tags(text: &str) -> std::collections::BTreeSet<(String, String)> {
    text.lines()
        .map(tokens)
        .filter_map(|t| {
            let i = t.iter().position(|x| x == "DS")?;
            Some((t.get(i + 1)?.clone(), t.get(i + 2)?.clone()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Foreign signers
// ---------------------------------------------------------------------------------------

fn tool_stdout(cmd: &mut Command) -> String {
    let line = command_line(cmd);
    let out = tool(cmd).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{line} failed\n{}", describe(&out));
    stdout(&out)
}

/// Copies `zone` and the `*.inc` files next to it into `dir` (the signers resolve
/// `$INCLUDE` against their working directory) and returns the copy's path.
fn copy_zone(zone: &Path, dir: &Path) -> PathBuf {
    let src_dir = zone.parent().expect("zone has a parent directory");
    for entry in fs::read_dir(src_dir).expect("read zone directory") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "inc") {
            fs::copy(&p, dir.join(p.file_name().unwrap())).expect("copy include");
        }
    }
    let copy = dir.join(zone.file_name().unwrap());
    fs::copy(zone, &copy).expect("copy zone");
    copy
}

/// The text of `zone` with every `$INCLUDE file [origin]` replaced by the included file
/// (relative to the zone's directory), wrapped in `$ORIGIN` lines so relative names keep
/// their meaning. Only what the fixtures use: one level, no quoting.
pub fn expand_includes(zone: &Path, origin: &str) -> String {
    let text = fs::read_to_string(zone).expect("read zone");
    let dir = zone.parent().expect("zone directory");
    let mut current = origin.to_string();
    let mut out = String::new();
    for line in text.lines() {
        let toks = tokens(line);
        match toks.first().map(|t| t.to_ascii_uppercase()).as_deref() {
            Some("$ORIGIN") if toks.len() > 1 => current = toks[1].clone(),
            Some("$INCLUDE") if toks.len() > 1 => {
                let inc = fs::read_to_string(dir.join(&toks[1])).expect("read included file");
                if let Some(o) = toks.get(2) {
                    out.push_str(&format!("$ORIGIN {o}\n"));
                }
                out.push_str(&inc);
                out.push_str(&format!("\n$ORIGIN {current}\n"));
                continue;
            }
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Signs `zone` with a foreign signer and file keys (RSASHA256, ZSK 1024, KSK 2048), NSEC
/// (not NSEC3), inception now-1h and expiration now+13 days (so a verifier enforcing "at
/// most 14 days", DPS-6.5, accepts it). Returns (signed zone, DS of the KSK).
///
/// * `"ldns"` (on a copy with `$INCLUDE` expanded, ldns has none): `ldns-keygen`, `ldns-signzone -i EPOCH -e EPOCH`, `ldns-key2ds -n -2`;
///   one RR per line, tab-separated, absolute names.
/// * `"bind"`: `dnssec-keygen`, `dnssec-signzone -S -x -O full -s EPOCH -e EPOCH`,
///   `dnssec-dsfromkey -2`; `-O full` gives one RR per line (base64 split by spaces,
///   `; resign=` comments).
/// * `"bind-multiline"`: as `"bind"` but BIND's default text output (parentheses,
///   omitted owners and classes, relative TTL layout): a parser test.
/// * `"bind-p384"`: as `"bind"` with ECDSAP384SHA384 keys (algorithm 14).
pub fn foreign_signed_zone(
    signer: &str,
    zone: &Path,
    origin: &str,
    dir: &Path,
) -> (PathBuf, PathBuf) {
    let now = unix_now();
    let window = [(now - 3600).to_string(), (now + 13 * 86400).to_string()];
    foreign_signed_zone_at(signer, zone, origin, dir, &window)
}

/// As [`foreign_signed_zone`], with the signatures' inception and expiration given as
/// the signer takes them (epoch seconds or `YYYYMMDDHHmmSS`). For `"bind"` a window
/// that ends before now or starts after it turns off `dnssec-signzone`'s own check of
/// its output (`-P`), which it runs at the clock's time.
pub fn foreign_signed_zone_at(
    signer: &str,
    zone: &Path,
    origin: &str,
    dir: &Path,
    [inception, expiration]: &[String; 2],
) -> (PathBuf, PathBuf) {
    let work = dir.join(signer);
    fs::create_dir_all(&work).expect("create signer directory");
    let copy = if signer == "ldns" {
        // ldns-signzone: "Syntax error, $INCLUDE not implemented".
        let flat = work.join(zone.file_name().unwrap());
        fs::write(&flat, expand_includes(zone, origin)).expect("write flattened zone");
        flat
    } else {
        copy_zone(zone, &work)
    };
    let now = unix_now();
    let at_now =
        [inception, expiration].map(|t| t.parse::<i64>().ok().or_else(|| parse_dnssec_time(t)));
    let now_inside = matches!(at_now, [Some(i), Some(e)] if i <= now && now <= e);
    let signed = work.join(format!("{}.signed", file_name(zone)));
    let anchor = work.join("anchor.ds");
    match signer {
        "ldns" => {
            let zsk = tool_stdout(Command::new("ldns-keygen").current_dir(&work).args([
                "-a",
                "RSASHA256",
                "-b",
                "1024",
                origin,
            ]));
            let ksk = tool_stdout(Command::new("ldns-keygen").current_dir(&work).args([
                "-k",
                "-a",
                "RSASHA256",
                "-b",
                "2048",
                origin,
            ]));
            let (zsk, ksk) = (zsk.trim(), ksk.trim());
            tool_stdout(
                Command::new("ldns-signzone")
                    .current_dir(&work)
                    .args(["-i", inception, "-e", expiration, "-o", origin, "-f"])
                    .arg(&signed)
                    .arg(&copy)
                    .args([zsk, ksk]),
            );
            let ds = tool_stdout(Command::new("ldns-key2ds").current_dir(&work).args([
                "-n",
                "-2",
                &format!("{ksk}.key"),
            ]));
            fs::write(&anchor, ds).expect("write anchor");
        }
        "bind" | "bind-multiline" | "bind-p384" => {
            // RSASHA256 1024/2048, or ECDSAP384SHA384 (algorithm 14, which zonesign
            // verifies but does not sign with) for "bind-p384".
            let keygen = |bits: &str, ksk: bool| {
                let mut args = vec!["-q", "-K", ".", "-n", "ZONE"];
                if signer == "bind-p384" {
                    args.extend(["-a", "ECDSAP384SHA384"]);
                } else {
                    args.extend(["-a", "RSASHA256", "-b", bits]);
                }
                if ksk {
                    args.extend(["-f", "KSK"]);
                }
                args.push(origin);
                tool_stdout(Command::new("dnssec-keygen").current_dir(&work).args(args))
            };
            keygen("1024", false);
            let ksk = keygen("2048", true);
            let mut cmd = Command::new("dnssec-signzone");
            cmd.current_dir(&work)
                .args(["-q", "-S", "-K", ".", "-d", ".", "-x"]);
            if signer != "bind-multiline" {
                cmd.args(["-O", "full"]);
            }
            if !now_inside {
                cmd.arg("-P");
            }
            cmd.args(["-s", inception, "-e", expiration, "-o", origin, "-f"])
                .arg(&signed)
                .arg(&copy);
            tool_stdout(&mut cmd);
            let ds = tool_stdout(
                Command::new("dnssec-dsfromkey")
                    .current_dir(&work)
                    .args(["-2", ksk.trim()]),
            );
            fs::write(&anchor, ds).expect("write anchor");
        }
        other => panic!("unknown foreign signer {other:?} (ldns, bind, bind-multiline, bind-p384)"),
    }
    assert!(signed.is_file(), "{signer} wrote no {}", signed.display());
    (signed, anchor)
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn split_time(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    (y, m, d, s / 3600, s % 3600 / 60, s % 60)
}

/// `2024-01-01T12:00:00Z` (for `--now`; DPS-5.7: all times UTC).
pub fn rfc3339(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split_time(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `YYYYMMDDHHmmSS` as in RRSIG presentation format (RFC 4034 §3.2).
pub fn dnssec_time(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split_time(t);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

/// Parses `YYYYMMDDHHmmSS` back to a Unix time.
pub fn parse_dnssec_time(s: &str) -> Option<i64> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (hh, mm, ss) = (n(8, 10)?, n(10, 12)?, n(12, 14)?);
    // days_from_civil
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

// ---------------------------------------------------------------------------------------
// Zone text
// ---------------------------------------------------------------------------------------

/// Splits one zone-file line into tokens: whitespace-separated, honouring `"..."` and
/// backslash escapes, stopping at an unquoted `;` comment.
pub fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                in_quotes = !in_quotes;
                cur.push(c);
            }
            ';' if !in_quotes => break,
            c if c.is_whitespace() && !in_quotes => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One RR of a signed zone written as `owner TTL IN TYPE RDATA` on one line.
#[derive(Debug, Clone)]
pub struct Rr {
    /// 1-based line number in the file.
    pub line: usize,
    /// Owner, lowercased (escapes kept as written).
    pub owner: String,
    pub ttl: u32,
    pub rtype: String,
    pub rdata: Vec<String>,
}

/// Parses a signed zone in the one-RR-per-line form `owner TTL IN TYPE RDATA` (the form
/// zonesign, ldns-signzone and `dnssec-signzone -O full` write). Blank lines and lines
/// holding only a comment are skipped; any other line that is not in that form is an
/// error naming the line.
pub fn parse_flat_zone(text: &str) -> Result<Vec<Rr>, String> {
    let mut rrs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let toks = tokens(line);
        if toks.is_empty() {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
        if toks.len() < 5 {
            return Err(bad("fewer than 5 fields (owner TTL IN TYPE RDATA)"));
        }
        if line.starts_with(char::is_whitespace) {
            return Err(bad("owner omitted"));
        }
        if !toks[0].ends_with('.') {
            return Err(bad("owner is not an absolute name"));
        }
        let ttl: u32 = toks[1]
            .parse()
            .map_err(|_| bad("second field is not a numeric TTL"))?;
        if toks[2] != "IN" {
            return Err(bad("third field is not IN"));
        }
        let rtype = &toks[3];
        if !rtype
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("fourth field is not a type mnemonic"));
        }
        if toks.iter().any(|t| t == "(" || t == ")") {
            return Err(bad("parentheses: not one RR per line"));
        }
        rrs.push(Rr {
            line: i + 1,
            owner: toks[0].to_ascii_lowercase(),
            ttl,
            rtype: rtype.clone(),
            rdata: toks[4..].to_vec(),
        });
    }
    Ok(rrs)
}

/// `true` when `name` is strictly below `cut` (both lowercase, absolute).
pub fn is_below(name: &str, cut: &str) -> bool {
    name.len() > cut.len()
        && name.ends_with(cut)
        && name[..name.len() - cut.len()].ends_with('.')
        && !name[..name.len() - cut.len()].ends_with("\\.")
}

/// Structural checks on a signed zone written by zonesign; returns every problem found.
///
/// * one RR per line, `owner TTL IN TYPE RDATA` (issue 3, "Output");
/// * RRSIG expiration and inception are 14-digit `YYYYMMDDHHmmSS` (RFC 4034 §3.2);
/// * DPS-6.2: nothing below a delegation point is signed or in the NSEC chain (no RRSIG,
///   no NSEC owned by glue or occluded names); below a cut only address records (glue)
///   may appear; a delegation's NS is not signed, its DS is;
/// * DPS-6.7: NSEC TTL = SOA MINIMUM, DNSKEY TTL 3600, DS TTL 3600, RRSIG TTL = TTL of
///   the covered RRset.
pub fn check_signed_output(text: &str, origin: &str) -> Vec<String> {
    let origin = origin.to_ascii_lowercase();
    let rrs = match parse_flat_zone(text) {
        Ok(rrs) => rrs,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let cuts: std::collections::BTreeSet<String> = rrs
        .iter()
        .filter(|rr| rr.rtype == "NS" && rr.owner != origin)
        .map(|rr| rr.owner.clone())
        .collect();
    let soa_min: Option<u32> = rrs
        .iter()
        .find(|rr| rr.rtype == "SOA")
        .and_then(|rr| rr.rdata.get(6))
        .and_then(|m| m.parse().ok());
    if soa_min.is_none() {
        problems.push("no SOA with a numeric MINIMUM".to_string());
    }
    let mut ttl_of: std::collections::HashMap<(String, String), u32> = Default::default();
    for rr in &rrs {
        if rr.rtype != "RRSIG" {
            ttl_of.insert((rr.owner.clone(), rr.rtype.clone()), rr.ttl);
        }
    }
    let has = |owner: &str, t: &str| rrs.iter().any(|rr| rr.owner == owner && rr.rtype == t);
    for rr in &rrs {
        let at = format!("line {} ({} {})", rr.line, rr.owner, rr.rtype);
        if !rr.owner.ends_with(&origin) {
            problems.push(format!("{at}: owner outside the origin {origin}"));
        }
        // Occluded data below a cut is copied as it is (like dnssec-signzone and
        // ldns-signzone do), but never signed or chained (DPS-6.2).
        if let Some(cut) = cuts.iter().find(|cut| is_below(&rr.owner, cut))
            && (rr.rtype == "RRSIG" || rr.rtype == "NSEC")
        {
            problems.push(format!(
                "{at}: below the delegation {cut} nothing is signed or chained (DPS-6.2)"
            ));
        }
        match rr.rtype.as_str() {
            "RRSIG" => {
                if rr.rdata.len() < 9 {
                    problems.push(format!("{at}: RRSIG with {} fields", rr.rdata.len()));
                    continue;
                }
                for (i, what) in [(4, "expiration"), (5, "inception")] {
                    if parse_dnssec_time(&rr.rdata[i]).is_none() {
                        problems.push(format!(
                            "{at}: RRSIG {what} {:?} is not YYYYMMDDHHmmSS",
                            rr.rdata[i]
                        ));
                    }
                }
                let covered = rr.rdata[0].to_ascii_uppercase();
                if covered == "NS" && cuts.contains(&rr.owner) {
                    problems.push(format!("{at}: delegation NS is signed (DPS-6.2)"));
                }
                match ttl_of.get(&(rr.owner.clone(), covered.clone())) {
                    None => problems.push(format!("{at}: RRSIG covers {covered}, absent here")),
                    Some(&t) if t != rr.ttl => problems.push(format!(
                        "{at}: RRSIG TTL {} != {covered} TTL {t} (DPS-6.7)",
                        rr.ttl
                    )),
                    _ => {}
                }
                if let Some(&t) = ttl_of.get(&(rr.owner.clone(), covered.clone()))
                    && rr.rdata[3].parse::<u32>().ok() != Some(t)
                {
                    problems.push(format!(
                        "{at}: RRSIG original TTL {} != {covered} TTL {t}",
                        rr.rdata[3]
                    ));
                }
            }
            "NSEC" => {
                if let Some(min) = soa_min
                    && rr.ttl != min
                {
                    problems.push(format!(
                        "{at}: NSEC TTL {} != SOA MINIMUM {min} (DPS-6.7)",
                        rr.ttl
                    ));
                }
            }
            "DNSKEY" | "DS" if rr.ttl != 3600 => {
                problems.push(format!("{at}: TTL {} != 3600 (DPS-6.7)", rr.ttl));
            }
            _ => {}
        }
    }
    for cut in &cuts {
        if has(cut, "DS") {
            let signed = rrs.iter().any(|rr| {
                rr.owner == *cut && rr.rtype == "RRSIG" && rr.rdata[0].eq_ignore_ascii_case("DS")
            });
            if !signed {
                problems.push(format!("delegation {cut}: DS is not signed (DPS-6.2)"));
            }
        }
    }
    problems
}

/// The signature field (base64, possibly split by spaces as BIND's `-O full` writes it)
/// of an RRSIG line, flipped in one byte of the decoded signature, re-encoded. Returns
/// the new line (owner TTL IN RRSIG ... with the signature as one token).
pub fn flip_rrsig_byte(line: &str) -> String {
    use data_encoding::BASE64;
    let toks = tokens(line);
    let t = toks
        .iter()
        .position(|t| t == "RRSIG")
        .unwrap_or_else(|| panic!("not an RRSIG line: {line}"));
    let sig_start = t + 9;
    assert!(toks.len() > sig_start, "RRSIG without signature: {line}");
    let b64: String = toks[sig_start..].concat();
    let mut sig = BASE64
        .decode(b64.as_bytes())
        .unwrap_or_else(|e| panic!("bad base64 in {line}: {e}"));
    let mid = sig.len() / 2;
    sig[mid] ^= 0x01;
    let mut out = toks[..sig_start].join(" ");
    out.push(' ');
    out.push_str(&BASE64.encode(&sig));
    out
}

/// The lines of a zone text, with the first line matching `pred` replaced by `f(line)`
/// (`None` removes it). Panics when nothing matches. Returns (new text, old line).
pub fn edit_first_line(
    text: &str,
    pred: impl Fn(&[String]) -> bool,
    f: impl Fn(&str) -> Option<String>,
) -> (String, String) {
    let mut out = String::with_capacity(text.len());
    let mut found = None;
    for line in text.lines() {
        if found.is_none() && pred(&tokens(line)) {
            found = Some(line.to_string());
            if let Some(new) = f(line) {
                out.push_str(&new);
                out.push('\n');
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let old = found.expect("no line matched the predicate");
    (out, old)
}

// ---------------------------------------------------------------------------------------
// Key lifecycles (tests/key_lifecycle.rs)
// ---------------------------------------------------------------------------------------

/// A small `.se`-like zone: apex, glue, 50 delegations, every third one with DS.
pub fn write_se_zone(path: &Path) {
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

/// The key objects in a setup's token, by CKA_ID (lowercase hex), as `pkcs11-tool`
/// (OpenSC) lists them: independent of zonesign's own PKCS#11 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenObjects {
    pub private: std::collections::BTreeSet<String>,
    pub public: std::collections::BTreeSet<String>,
}

impl Setup {
    /// Runs `zonesign --config C ARGS`, asserts exit 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = run(self.cmd().args(args));
        assert_exit(&out, EXIT_OK, &args.join(" "));
        stdout(&out)
    }

    /// `zonesign key list --format json [--now T]`, parsed.
    pub fn key_list(&self, now: Option<i64>) -> serde_json::Value {
        let mut args = vec!["key", "list", "--format", "json"];
        let t = now.map(rfc3339);
        if let Some(t) = &t {
            args.extend(["--now", t]);
        }
        serde_json::from_str(&self.ok(&args)).expect("key list JSON")
    }

    /// Tags of the keys of `role` whose state in `keys.toml` (`recorded-state` in `key
    /// list`; the listed `state` depends on the clock) is `state`, in generation order.
    pub fn tags(&self, role: &str, state: &str) -> Vec<u16> {
        self.key_list(None)
            .as_array()
            .expect("key list is an array")
            .iter()
            .filter(|k| k["role"] == role && k["recorded-state"] == state)
            .map(|k| k["tag"].as_u64().expect("tag") as u16)
            .collect()
    }

    /// One key of `key list --format json` by tag.
    pub fn key(&self, tag: u16) -> serde_json::Value {
        self.key_list(None)
            .as_array()
            .expect("key list is an array")
            .iter()
            .find(|k| k["tag"] == tag)
            .unwrap_or_else(|| panic!("no key with tag {tag}"))
            .clone()
    }

    /// `pkcs11-tool` (OpenSC) logged in to this setup's token, with `args`; asserts
    /// success. The PIN goes in through the environment (`--pin env:NAME`), never on a
    /// command line (SEC-6.1).
    pub fn pkcs11_tool(&self, args: &[&str]) -> Output {
        // Asked once, never again: a token that SoftHSM2 cannot find is a finding (a
        // login killed mid-write empties token.object; issue 19), not a moment to wait
        // out. Callers that may race a live signer's logins wait for it to end first.
        let out = self.pkcs11_tool_once(args);
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?} failed\n{}",
            describe(&out)
        );
        out
    }

    /// One `pkcs11-tool` run for [`Setup::pkcs11_tool`], whatever its exit status.
    pub fn pkcs11_tool_once(&self, args: &[&str]) -> Output {
        let cfg: toml::Value = toml::from_str(&self.config_text()).expect("config TOML");
        let hsm = &cfg["hsm"];
        let pin = fs::read_to_string(self.pin_file()).expect("read PIN file");
        tool(
            Command::new("pkcs11-tool")
                .env("SOFTHSM2_CONF", self.dir.join("softhsm2.conf"))
                .env("ZONESIGN_TEST_PIN", pin.trim())
                .arg("--module")
                .arg(hsm["module"].as_str().expect("hsm.module"))
                .arg("--token-label")
                .arg(hsm["token"].as_str().expect("hsm.token"))
                .args(["--login", "--pin", "env:ZONESIGN_TEST_PIN"])
                .args(args),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The key objects in the token, listed by `pkcs11-tool --list-objects`.
    pub fn token_objects(&self) -> TokenObjects {
        let out = self.pkcs11_tool(&["--list-objects"]);
        let mut objects = TokenObjects {
            private: Default::default(),
            public: Default::default(),
        };
        let mut class = "";
        for line in stdout(&out).lines() {
            if line.starts_with("Private Key Object") {
                class = "private";
            } else if line.starts_with("Public Key Object") {
                class = "public";
            } else if !line.starts_with(' ') {
                class = "";
            } else if let Some(id) = line.trim().strip_prefix("ID:") {
                let id = id.trim().to_ascii_lowercase();
                match class {
                    "private" => objects.private.insert(id),
                    "public" => objects.public.insert(id),
                    _ => false,
                };
            }
        }
        objects
    }
}

/// A setup with the small `.se` zone of [`write_se_zone`], where it is signed to, and
/// the parent's DS as `zonesign key ds --origin se.` gives it right after init.
pub struct SeZone {
    pub s: Setup,
    pub zone: PathBuf,
    pub signed: PathBuf,
    /// `<tmp>/parent.ds`: the DS set the parent publishes at the start.
    pub ds: PathBuf,
}

impl SeZone {
    pub fn new(alg: &str) -> SeZone {
        SeZone::on(Setup::new(alg))
    }

    /// As [`SeZone::new`], on a setup made by `init` at `t` ([`Setup::at`]).
    pub fn at(alg: &str, t: i64) -> SeZone {
        SeZone::on(Setup::at(alg, t))
    }

    fn on(s: Setup) -> SeZone {
        let zone = s.path("se.zone");
        write_se_zone(&zone);
        let signed = s.path("se.signed");
        let ds = s.path("parent.ds");
        fs::write(&ds, s.ok(&["key", "ds", "--origin", "se."])).expect("write DS");
        SeZone {
            s,
            zone,
            signed,
            ds,
        }
    }

    /// A cron-like `sign` run at `t` against the parent's DS in `ds`, quiet, with a seed
    /// derived from the time so runs are reproducible.
    pub fn sign_at(&self, ds: &Path, t: i64) -> Output {
        let now = rfc3339(t);
        let seed = (t / 3600).to_string();
        self.s.sign_with(
            &self.zone,
            "se.",
            &self.signed,
            &[
                "--now",
                &now,
                "--ds-anchor",
                ds.to_str().expect("UTF-8 path"),
                "--seed",
                &seed,
                "-q",
            ],
        )
    }

    /// `zonesign verify` of the signed zone at `t` against `ds`; asserts it is valid.
    #[track_caller]
    pub fn verify_at(&self, ds: &Path, t: i64, what: &str) {
        let out = self
            .s
            .verify(&self.signed, "se.", ds, &["--now", &rfc3339(t)]);
        assert_exit(&out, EXIT_OK, what);
    }

    /// Writes `text` (DS lines) to `<tmp>/NAME` and returns the path.
    pub fn ds_file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.s.path(name);
        fs::write(&p, text).expect("write DS file");
        p
    }
}

/// `ldns-verify-zone -k DS -t TIME ZONE`: the chain from the DS and every signature,
/// checked by ldns at time `t`.
pub fn ldns_verify_at(zone: &Path, ds: &Path, t: i64) -> Result<(), String> {
    tool_result(
        Command::new("ldns-verify-zone")
            .arg("-k")
            .arg(ds)
            .arg("-t")
            .arg(dnssec_time(t))
            .arg(ldns_input(zone)),
    )
}

// ---------------------------------------------------------------------------------------
// Resolver caches across a change of signer or keys (algorithm_roll.rs, takeover.rs,
// takeover_ods.rs)
// ---------------------------------------------------------------------------------------

/// Whether a line of a flat zone belongs to the apex DNSKEY RRset or its signatures.
pub fn is_dnskey_line(line: &str) -> bool {
    let t = tokens(line);
    t.first().is_some_and(|o| o == "se.")
        && (t.get(3).is_some_and(|x| x == "DNSKEY")
            || (t.get(3).is_some_and(|x| x == "RRSIG") && t.get(4).is_some_and(|x| x == "DNSKEY")))
}

/// `base` with its apex DNSKEY RRset and signatures replaced by those of `keys_from`:
/// what a resolver holds that cached one and fetched the rest from the other.
pub fn mix(base: &str, keys_from: &str) -> String {
    let mut out: String = base
        .lines()
        .filter(|l| !is_dnskey_line(l))
        .map(|l| format!("{l}\n"))
        .collect();
    for l in keys_from.lines().filter(|l| is_dnskey_line(l)) {
        out.push_str(l);
        out.push('\n');
    }
    out
}
