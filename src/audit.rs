//! The audit log: one JSON line per HSM activity (DPS-4.4, SEC-6.5).
//!
//! Logins (successful and failed), key generation, signing runs (which keys, how many
//! signatures) and public-key exports each append one line with a UTC time, the OS user
//! and the command. Each line also carries the SHA-256 of the previous line, so a line
//! removed, changed or reordered later breaks the chain and is detectable.
//! Key material and PINs never appear here.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// An append-only audit log file.
pub struct AuditLog {
    path: PathBuf,
    command: String,
}

impl AuditLog {
    /// An audit log at `path` for events of `command` (e.g. "sign", "init").
    pub fn new(path: &Path, command: &str) -> AuditLog {
        AuditLog {
            path: path.to_path_buf(),
            command: command.to_string(),
        }
    }

    /// Appends one event. `fields` are merged into the line.
    ///
    /// Returns an error if the log cannot be written: an HSM act that cannot be
    /// recorded should not silently happen, so callers treat this as an I/O failure.
    pub fn record(&self, event: &str, fields: Value) -> std::io::Result<()> {
        let prev = last_line_hash(&self.path)?;
        let mut line = Map::new();
        line.insert(
            "time".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert("event".into(), json!(event));
        line.insert("user".into(), json!(os_user()));
        line.insert("command".into(), json!(self.command));
        if let Value::Object(extra) = fields {
            line.extend(extra);
        }
        line.insert("prev".into(), json!(prev));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()
    }
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
    Ok(data_encoding::HEXLOWER.encode(&Sha256::digest(last)))
}

/// The name of the user running zonesign, for the log.
pub fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
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

/// Checks the hash chain of a log; returns the 1-based line number where it breaks.
pub fn verify_chain(text: &str) -> Result<usize, usize> {
    let mut prev_hash = data_encoding::HEXLOWER.encode(&Sha256::digest(b""));
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).map_err(|_| i + 1)?;
        if v.get("prev").and_then(Value::as_str) != Some(prev_hash.as_str()) {
            return Err(i + 1);
        }
        prev_hash = data_encoding::HEXLOWER.encode(&Sha256::digest(line.as_bytes()));
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_a_changed_line_dps_4_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::new(&path, "test");
        for n in 0..3 {
            log.record("sign", json!({"signatures": n})).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(verify_chain(&text), Ok(3));
        let tampered = text.replacen("\"signatures\":1", "\"signatures\":9", 1);
        assert_eq!(verify_chain(&tampered), Err(3));
    }
}
