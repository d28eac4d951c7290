//! The audit log: one JSON line per HSM activity (DPS-4.4, SEC-6.5).
//!
//! Logins (successful and failed), failed PIN reads, key generation, signing runs
//! (which keys, how many signatures), public-key exports and logouts each append one
//! line with a UTC time, the OS user and the command. Each line also carries the
//! SHA-256 of the previous line, so a line removed, changed or reordered later breaks
//! the chain and is detectable ([`check_chain`], `zonesign audit verify`).
//! Key material and PINs never appear here.
//!
//! With `[audit] syslog = true` every line is also sent, unchanged, as the message of
//! an RFC 5424 record to the local syslog socket, so a central collector holds a copy
//! (with the same hashes) in real time. A syslog outage never stops the signer: the
//! failure is itself written to the file as a `syslog-error` event.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Where the local syslog daemon listens on Linux.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// The RFC 5424 APP-NAME of every record.
const APP_NAME: &str = "zonesign";

/// Syslog severities used (RFC 5424 §6.2.1).
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_NOTICE: u8 = 5;

/// The syslog facility code of a facility name (RFC 5424 §6.2.1), `None` if unknown.
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: [&str; 12] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp",
    ];
    if let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) {
        return u8::try_from(i).ok();
    }
    let n: u8 = name
        .to_ascii_lowercase()
        .strip_prefix("local")?
        .parse()
        .ok()?;
    (n <= 7).then_some(16 + n)
}

/// A sender of RFC 5424 records to a local Unix datagram syslog socket.
#[derive(Debug, Clone)]
pub struct Syslog {
    socket: PathBuf,
    facility: u8,
    hostname: String,
}

impl Syslog {
    /// A sender for `facility` (a name, see [`facility_code`]) to `socket`.
    pub fn new(socket: &Path, facility: &str) -> Option<Syslog> {
        Some(Syslog {
            socket: socket.to_path_buf(),
            facility: facility_code(facility)?,
            hostname: hostname(),
        })
    }

    /// The sender an audit section asks for, or `None` when forwarding is off.
    pub fn from_section(section: &AuditSection) -> Option<Syslog> {
        if section.syslog {
            Syslog::new(&section.socket, &section.facility)
        } else {
            None
        }
    }

    /// Formats one RFC 5424 record: `<PRI>1 TIMESTAMP HOST zonesign PID MSGID - MSG`.
    ///
    /// The MSG is the audit line itself, so the collector can check the hash chain too.
    pub fn format(&self, time: &str, event: &str, severity: u8, msg: &str) -> String {
        let pri = u16::from(self.facility) * 8 + u16::from(severity);
        let msgid: String = event
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(32)
            .collect();
        let msgid = if msgid.is_empty() { "-".into() } else { msgid };
        let time = if time.is_empty() { "-" } else { time };
        format!(
            "<{pri}>1 {time} {} {APP_NAME} {} {msgid} - {msg}",
            self.hostname,
            std::process::id()
        )
    }

    /// Sends one record. Never blocks: a full or absent socket is an error at once.
    pub fn send(&self, record: &str) -> std::io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        sock.send_to(record.as_bytes(), &self.socket)?;
        Ok(())
    }

    /// The socket path, for messages.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

/// The host name for syslog records (RFC 5424 HOSTNAME: printable ASCII, `-` if unknown).
fn hostname() -> String {
    let h: String = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if h.is_empty() { "-".into() } else { h }
}

/// Process-wide audit settings, set once by the command line after loading the config.
///
/// The signing flow creates its own [`AuditLog`]s; reading the forwarding settings
/// from here means every log made in this process forwards the same way, without
/// threading the config through every stage.
#[derive(Default)]
struct Context {
    command: Option<String>,
    log: Option<PathBuf>,
    token: Option<String>,
    syslog: Option<Arc<Syslog>>,
}

static CONTEXT: Mutex<Context> = Mutex::new(Context {
    command: None,
    log: None,
    token: None,
    syslog: None,
});

fn context() -> std::sync::MutexGuard<'static, Context> {
    CONTEXT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where audit events go besides the audit log file (DPS-4.4, SEC-6.5).
///
/// Optional and off by default, so existing configs keep working; an auditor's
/// central collector is reached through the local syslog daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuditSection {
    /// Also send every audit event to syslog (RFC 5424 over the local socket).
    #[serde(default)]
    pub syslog: bool,
    /// Syslog facility name: `kern`, `user`, `daemon`, `auth`, `authpriv`, `local0`..`local7`...
    #[serde(default = "default_facility")]
    pub facility: String,
    /// The local syslog socket (a Unix datagram socket); tests point it elsewhere.
    #[serde(default = "default_syslog_socket")]
    pub socket: PathBuf,
}

fn default_facility() -> String {
    "local0".into()
}

fn default_syslog_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SYSLOG_SOCKET)
}

impl Default for AuditSection {
    fn default() -> AuditSection {
        AuditSection {
            syslog: false,
            facility: default_facility(),
            socket: default_syslog_socket(),
        }
    }
}

/// Makes every [`AuditLog`] of this process forward as `cfg` says and records
/// `command` as the name used for events logged outside a command's own flow
/// (failed PIN reads, a module that fails to load).
pub fn configure(log: &Path, token: &str, section: &AuditSection, command: &str) {
    let mut c = context();
    c.command = Some(command.to_string());
    c.log = Some(log.to_path_buf());
    c.token = Some(token.to_string());
    c.syslog = Syslog::from_section(section).map(Arc::new);
}

/// The command name set by [`configure`], `zonesign` before.
pub fn command() -> String {
    context().command.clone().unwrap_or_else(|| APP_NAME.into())
}

/// Records an event in the configured audit log (see [`configure`]); does nothing if
/// no config was loaded. Used for HSM failures that happen before a command's own
/// flow could log them, such as a module that does not load.
/// The configured token label is added to `fields` unless they name one.
pub fn record_configured(event: &str, mut fields: Value) -> std::io::Result<()> {
    let (log, command, token) = {
        let c = context();
        (c.log.clone(), c.command.clone(), c.token.clone())
    };
    if let (Value::Object(map), Some(token)) = (&mut fields, token) {
        map.entry("token").or_insert(json!(token));
    }
    match log {
        Some(path) => {
            AuditLog::new(&path, command.as_deref().unwrap_or(APP_NAME)).record(event, fields)
        }
        None => Ok(()),
    }
}

/// An append-only audit log file.
pub struct AuditLog {
    path: PathBuf,
    command: String,
    syslog: Option<Arc<Syslog>>,
}

impl AuditLog {
    /// An audit log at `path` for events of `command` (e.g. "sign", "init"),
    /// forwarding to syslog as [`configure`] set up.
    pub fn new(path: &Path, command: &str) -> AuditLog {
        AuditLog::with_syslog(path, command, context().syslog.clone())
    }

    /// An audit log with explicit forwarding (`None`: the file only).
    pub fn with_syslog(path: &Path, command: &str, syslog: Option<Arc<Syslog>>) -> AuditLog {
        AuditLog {
            path: path.to_path_buf(),
            command: command.to_string(),
            syslog,
        }
    }

    /// Appends one event. `fields` are merged into the line.
    ///
    /// Returns an error if the log file cannot be written: an HSM act that cannot be
    /// recorded should not silently happen, so callers treat this as an I/O failure.
    /// A syslog failure is not an error: it is recorded as a `syslog-error` event.
    pub fn record(&self, event: &str, fields: Value) -> std::io::Result<()> {
        self.record_all(vec![(event.to_string(), fields)])
    }

    /// Appends several events in one write (all or none survive a crash), as
    /// [`AuditLog::record`] does for one; no events write nothing.
    pub fn record_all(&self, events: Vec<(String, Value)>) -> std::io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write_batch(&self.prepare(events)?)
    }

    /// Builds the lines of several events, chained to the log's current last line,
    /// without writing anything: the caller can name the batch (by
    /// [`Batch::last_hash`]) in another file before [`AuditLog::write_batch`] makes
    /// it real. The key state commits this way (see `KeyStore::commit`).
    pub fn prepare(&self, events: Vec<(String, Value)>) -> std::io::Result<Batch> {
        let mut prev = last_line_hash(&self.path)?;
        let mut batch = Batch {
            text: String::new(),
            lines: Vec::with_capacity(events.len()),
            last_hash: prev.clone(),
        };
        for (event, fields) in events {
            let failed = fields.get("result").and_then(Value::as_str) == Some("failed");
            let (time, line) = self.line(&event, fields, &prev);
            prev = line_hash(line.as_bytes());
            batch.text.push_str(&line);
            batch.text.push('\n');
            batch.lines.push(Prepared {
                time,
                event,
                failed,
                line,
            });
        }
        batch.last_hash = prev;
        Ok(batch)
    }

    /// Appends a prepared batch with a single write and an fsync, so that a crash
    /// (even `kill -9`) leaves either all of its lines or none; then forwards each
    /// line to syslog, where a failure is itself logged as a `syslog-error` event.
    pub fn write_batch(&self, batch: &Batch) -> std::io::Result<()> {
        self.append_text(&batch.text)?;
        let Some(syslog) = &self.syslog else {
            return Ok(());
        };
        for p in &batch.lines {
            let severity = if p.failed {
                SEVERITY_WARNING
            } else {
                SEVERITY_NOTICE
            };
            let record = syslog.format(&p.time, &p.event, severity, &p.line);
            if let Err(e) = syslog.send(&record) {
                let fields = json!({
                    "socket": syslog.socket().display().to_string(),
                    "error": e.to_string(),
                    "lost-event": p.event,
                });
                let lost = self.prepare(vec![("syslog-error".into(), fields)])?;
                self.append_text(&lost.text)?;
            }
        }
        Ok(())
    }

    /// One line of the log (no newline) and its time, chained to `prev`.
    fn line(&self, event: &str, fields: Value, prev: &str) -> (String, String) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut line = Map::new();
        line.insert("time".into(), json!(time));
        line.insert("event".into(), json!(event));
        line.insert("user".into(), json!(os_user()));
        line.insert("command".into(), json!(self.command));
        if let Value::Object(extra) = fields {
            line.extend(extra);
        }
        line.insert("prev".into(), json!(prev));
        (time, Value::Object(line).to_string())
    }

    /// Appends `text` with one `write` and an fsync.
    fn append_text(&self, text: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Lines built by [`AuditLog::prepare`], not yet written.
pub struct Batch {
    text: String,
    lines: Vec<Prepared>,
    last_hash: String,
}

impl Batch {
    /// SHA-256 (hex) of the batch's last line: once the batch is written, the log
    /// contains a line with this hash ([`contains_line`]), and before, it does not.
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }
}

/// One prepared line and what syslog forwarding needs to know of it.
struct Prepared {
    time: String,
    event: String,
    failed: bool,
    line: String,
}

/// SHA-256 (hex) of one line's text, without its newline: what the next line's
/// `prev` holds.
fn line_hash(line: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(line))
}

/// SHA-256 (hex) of the last line of the log, or of nothing for a new log.
fn last_line_hash(path: &Path) -> std::io::Result<String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
    Ok(line_hash(last))
}

/// Whether the log at `path` holds a line whose SHA-256 (hex) is `hash`; a missing
/// log holds none. This is how a journaled key state learns whether the audit lines
/// that commit it were written before a crash.
pub fn contains_line(path: &Path, hash: &str) -> std::io::Result<bool> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(text
        .split(|&b| b == b'\n')
        .rev()
        .filter(|l| !l.is_empty())
        .any(|l| line_hash(l) == hash))
}

/// The name of the user running zonesign, for the log.
pub fn os_user() -> String {
    let uid = current_uid();
    let from_env = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    match (from_env, uid) {
        (Some(name), Some(uid)) => format!("{name} (uid {uid})"),
        (Some(name), None) => name,
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "unknown".into(),
    }
}

/// The uid this process runs as (the owner of `/proc/self`), `None` if unknown.
pub fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok()
}

/// Where and why a hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The 1-based line number of the first line that does not fit.
    pub line: usize,
    /// Why, in words.
    pub reason: String,
}

/// The result of checking a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Lines checked.
    pub lines: usize,
    /// SHA-256 of the last line: write it down elsewhere to detect a cut-off tail.
    pub last_hash: String,
}

/// Checks the hash chain of a log text, saying where and why it breaks.
///
/// A removed, changed or reordered line breaks the chain at the line after it (or at
/// itself if its own `prev` no longer fits). Removing lines at the end cannot be seen
/// from the file alone; compare `last_hash` with a copy (syslog) for that.
pub fn check_chain(text: &str) -> Result<ChainSummary, ChainBreak> {
    let mut prev_hash = data_encoding::HEXLOWER.encode(&Sha256::digest(b""));
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        let brk = |reason: String| ChainBreak {
            line: i + 1,
            reason,
        };
        let v: Value = serde_json::from_str(line)
            .map_err(|e| brk(format!("not a JSON audit record ({e})")))?;
        match v.get("prev").and_then(Value::as_str) {
            None => return Err(brk("no \"prev\" hash".into())),
            Some(p) if p != prev_hash => {
                return Err(brk(if i == 0 {
                    "the first line does not start the chain: lines were removed from the start"
                        .into()
                } else {
                    format!(
                        "\"prev\" is not the hash of line {i}: a line was removed, changed or reordered at or before line {}",
                        i + 1
                    )
                }));
            }
            Some(_) => {}
        }
        prev_hash = data_encoding::HEXLOWER.encode(&Sha256::digest(line.as_bytes()));
        lines += 1;
    }
    Ok(ChainSummary {
        lines,
        last_hash: prev_hash,
    })
}

/// Checks the hash chain of a log; returns the 1-based line number where it breaks.
pub fn verify_chain(text: &str) -> Result<usize, usize> {
    check_chain(text).map(|s| s.lines).map_err(|b| b.line)
}

/// Which lines `zonesign audit show` prints.
#[derive(Debug, Clone, Default)]
pub struct ShowFilter {
    /// Only these events (empty: all).
    pub events: Vec<String>,
    /// Only events at or after this time (Unix seconds, UTC).
    pub since: Option<i64>,
    /// Only events at or before this time (Unix seconds, UTC).
    pub until: Option<i64>,
}

impl ShowFilter {
    fn accepts(&self, v: &Value) -> bool {
        let event = v.get("event").and_then(Value::as_str).unwrap_or("");
        if !self.events.is_empty() && !self.events.iter().any(|e| e == event) {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = v
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
        else {
            return false;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// The log as aligned text, one event per line, for people: line number, time,
/// event, user, command, then the other fields as `key=value` (the hash left out).
/// Lines that are not audit records are shown as such, never skipped silently.
pub fn render(text: &str, filter: &ShowFilter) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let Ok(Value::Object(v)) = serde_json::from_str::<Value>(line) else {
            out.push_str(&format!("{:>6}  (not an audit record: {line:?})\n", i + 1));
            continue;
        };
        if !filter.accepts(&Value::Object(v.clone())) {
            continue;
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        let mut row = format!(
            "{:>6}  {:<24}  {:<12}  {:<16}  {:<8}",
            i + 1,
            s("time"),
            s("event"),
            s("user"),
            s("command")
        );
        for (k, val) in &v {
            if ["time", "event", "user", "command", "prev"].contains(&k.as_str()) {
                continue;
            }
            let shown = match val {
                Value::String(t) if !t.is_empty() && !t.contains(char::is_whitespace) => t.clone(),
                other => other.to_string(),
            };
            row.push_str(&format!("  {k}={shown}"));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_a_changed_line_dps_4_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "test", None);
        for n in 0..3 {
            log.record("sign", json!({"signatures": n})).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(verify_chain(&text), Ok(3));
        let tampered = text.replacen("\"signatures\":1", "\"signatures\":9", 1);
        assert_eq!(verify_chain(&tampered), Err(3));
    }

    #[test]
    fn chain_breaks_name_the_line_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "test", None);
        for n in 0..4 {
            log.record("login", json!({"n": n})).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let ok = check_chain(&text).unwrap();
        assert_eq!(ok.lines, 4);
        assert_eq!(
            ok.last_hash,
            data_encoding::HEXLOWER.encode(&Sha256::digest(lines[3].as_bytes()))
        );
        // Removed line 2.
        let removed = [lines[0], lines[2], lines[3]].join("\n");
        let b = check_chain(&removed).unwrap_err();
        assert_eq!(b.line, 2);
        assert!(b.reason.contains("removed, changed or reordered"), "{b:?}");
        // Swapped lines 2 and 3.
        let swapped = [lines[0], lines[2], lines[1], lines[3]].join("\n");
        assert_eq!(check_chain(&swapped).unwrap_err().line, 2);
        // Removed first line.
        let b = check_chain(&lines[1..].join("\n")).unwrap_err();
        assert_eq!(b.line, 1);
        // Garbage.
        let garbage = format!("{}\n{}\nnot json\n", lines[0], lines[1]);
        let b = check_chain(&garbage).unwrap_err();
        assert_eq!(b.line, 3);
        assert!(b.reason.contains("not a JSON"), "{b:?}");
        assert_eq!(check_chain("").unwrap().lines, 0);
    }

    #[test]
    fn facilities_follow_rfc5424() {
        assert_eq!(facility_code("kern"), Some(0));
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("authpriv"), Some(10));
        assert_eq!(facility_code("local0"), Some(16));
        assert_eq!(facility_code("LOCAL7"), Some(23));
        assert_eq!(facility_code("local8"), None);
        assert_eq!(facility_code("nope"), None);
    }

    /// Every event goes to the syslog socket as an RFC 5424 record carrying the very
    /// line written to the file (SEC-6.5: forward to a central log).
    #[test]
    fn events_are_forwarded_to_syslog_sec_6_5() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&sock_path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let syslog = Syslog::new(&sock_path, "local3").unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "sign", Some(Arc::new(syslog)));
        log.record("login", json!({"token": "zs", "result": "ok"}))
            .unwrap();
        log.record("login", json!({"token": "zs", "result": "failed"}))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut buf = vec![0u8; 65536];
        for (line, pri) in text.lines().zip(["<157>", "<156>"]) {
            let n = server.recv(&mut buf).unwrap();
            let rec = std::str::from_utf8(&buf[..n]).unwrap();
            // local3 = 19; notice = 5 → 157, warning = 4 → 156.
            assert!(rec.starts_with(&format!("{pri}1 ")), "{rec}");
            let parts: Vec<&str> = rec.splitn(8, ' ').collect();
            assert_eq!(parts.len(), 8, "{rec}");
            assert!(parts[1].ends_with('Z'), "UTC time: {rec}");
            assert_eq!(parts[3], "zonesign");
            assert_eq!(parts[4], std::process::id().to_string());
            assert_eq!(parts[5], "login");
            assert_eq!(parts[6], "-");
            assert_eq!(parts[7], line, "the message is the audit line");
        }
        assert_eq!(verify_chain(&text), Ok(2));
    }

    /// A syslog outage does not fail the act; it is recorded in the file instead.
    #[test]
    fn syslog_outage_is_recorded_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let syslog = Syslog::new(&dir.path().join("no-such.sock"), "local0").unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "sign", Some(Arc::new(syslog)));
        log.record("sign", json!({"result": "ok"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "sign");
        assert_eq!(lines[1]["event"], "syslog-error");
        assert_eq!(lines[1]["lost-event"], "sign");
        assert_eq!(verify_chain(&text), Ok(2));
    }

    #[test]
    fn show_filters_by_event_and_time() {
        let text = [
            r#"{"time":"2026-01-01T00:00:00.000Z","event":"login","user":"u","command":"sign","result":"ok","prev":"x"}"#,
            r#"{"time":"2026-01-02T00:00:00.000Z","event":"sign","user":"u","command":"sign","signatures":12,"prev":"x"}"#,
            "garbage",
            r#"{"time":"2026-01-03T00:00:00.000Z","event":"login","user":"u","command":"sign","error":"the token rejected","prev":"x"}"#,
        ]
        .join("\n");
        let all = render(&text, &ShowFilter::default());
        assert_eq!(all.lines().count(), 4);
        assert!(all.contains("signatures=12"));
        assert!(all.contains("error=\"the token rejected\""));
        assert!(!all.contains("prev="));
        assert!(all.contains("not an audit record"));
        let logins = render(
            &text,
            &ShowFilter {
                events: vec!["login".into()],
                ..Default::default()
            },
        );
        assert_eq!(logins.lines().filter(|l| l.contains("login")).count(), 2);
        assert!(!logins.contains("signatures"));
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        let window = render(
            &text,
            &ShowFilter {
                events: vec![],
                since: Some(t("2026-01-01T12:00:00Z")),
                until: Some(t("2026-01-02T12:00:00Z")),
            },
        );
        assert!(window.contains("signatures=12"));
        assert!(!window.contains("result=ok"));
        assert!(!window.contains("2026-01-03"));
    }
}
