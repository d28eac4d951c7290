//! The audit log: one JSON line per HSM activity (DPS-4.4, SEC-6.5).
//!
//! Logins (successful and failed), failed PIN reads, key generation, signing runs
//! (which keys, how many signatures), public-key exports and logouts each append one
//! line with a UTC time, the OS user and the command. Each line also carries the
//! SHA-256 of the previous line, so a line removed, changed or reordered later breaks
//! the chain and is detectable ([`check_chain`], `zonesign audit verify`).
//! Key material and PINs never appear here.
//!
//! Every kind of line is a variant of [`Event`] with typed fields; [`Event::fields`]
//! renders it to the line's JSON fields (the same names and values the log has always
//! had, so old logs and new lines chain and read alike) and [`format_line`] makes the
//! line around them.
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

/// The outcome of an act: `"result": "ok"`, or `"result": "failed"` with its
/// `"error"`. `T` is what a line says only about an act that happened (the key made,
/// the signatures counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T = ()> {
    /// The act happened.
    Ok(T),
    /// The act failed; the error, in words (never a PIN or key material).
    Failed(String),
}

impl Outcome {
    /// An act that happened, with nothing more to say.
    pub const OK: Outcome = Outcome::Ok(());
}

impl<T> Outcome<T> {
    /// A failure with `error` in words.
    pub fn failed(error: impl std::fmt::Display) -> Outcome<T> {
        Outcome::Failed(error.to_string())
    }

    /// Whether the act failed (the line says `"result": "failed"`).
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// Writes `result` and, for a failure, `error`.
    fn put(&self, f: &mut Map<String, Value>) {
        match self {
            Outcome::Ok(_) => put(f, "result", "ok"),
            Outcome::Failed(e) => {
                put(f, "result", "failed");
                put(f, "error", e);
            }
        }
    }
}

/// What happened to a key in its lifecycle (`dnssec::lifecycle::Change`), logged as
/// `key-<name>` (DPS-4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyEvent {
    /// Its DNSKEY is in the zone.
    Published,
    /// It signs.
    Active,
    /// A new KSK's DS can go to the parent.
    Ready,
    /// The operator recorded the parent's DS (`key ds-seen`).
    DsSeen,
    /// It no longer signs.
    Retired,
    /// Its DNSKEY left the zone.
    Removed,
    /// An old state file's key got its times.
    Adopted,
    /// Suspected compromise (DPS-4.5).
    Compromised,
    /// A roll could not start: a warning, nothing changed.
    RollBlocked,
    /// Its objects were destroyed in the token (DPS-5.3).
    Destroyed,
    /// Algorithm roll: its signatures are in the published zone, its DNSKEY not yet.
    Signing,
    /// Algorithm roll: its DNSKEY left the zone while its signatures stay a while.
    Withdrawn,
    /// Taken over from another signer (`key import`).
    Imported,
}

impl KeyEvent {
    /// The name of the change (`published`, `ds-seen`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeyEvent::Published => "published",
            KeyEvent::Active => "active",
            KeyEvent::Ready => "ready",
            KeyEvent::DsSeen => "ds-seen",
            KeyEvent::Retired => "retired",
            KeyEvent::Removed => "removed",
            KeyEvent::Adopted => "adopted",
            KeyEvent::Compromised => "compromised",
            KeyEvent::RollBlocked => "roll-blocked",
            KeyEvent::Destroyed => "destroyed",
            KeyEvent::Signing => "signing",
            KeyEvent::Withdrawn => "withdrawn",
            KeyEvent::Imported => "imported",
        }
    }

    /// The audit event's name: `key-` and the change's name.
    fn event_name(self) -> &'static str {
        match self {
            KeyEvent::Published => "key-published",
            KeyEvent::Active => "key-active",
            KeyEvent::Ready => "key-ready",
            KeyEvent::DsSeen => "key-ds-seen",
            KeyEvent::Retired => "key-retired",
            KeyEvent::Removed => "key-removed",
            KeyEvent::Adopted => "key-adopted",
            KeyEvent::Compromised => "key-compromised",
            KeyEvent::RollBlocked => "key-roll-blocked",
            KeyEvent::Destroyed => "key-destroyed",
            KeyEvent::Signing => "key-signing",
            KeyEvent::Withdrawn => "key-withdrawn",
            KeyEvent::Imported => "key-imported",
        }
    }
}

impl std::fmt::Display for KeyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// A key made in the token (`keygen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Key size in bits.
    pub bits: u32,
    /// Key tag.
    pub tag: u16,
    /// PKCS#11 CKA_ID, hex.
    pub id: String,
    /// PKCS#11 CKA_LABEL.
    pub label: String,
}

/// A key's objects destroyed in the token, and the key-state change recording it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destruction {
    /// When the change was recorded (UTC).
    pub at: String,
    /// Why, for people.
    pub detail: String,
    /// Private key objects destroyed.
    pub private_objects: usize,
    /// Public key objects destroyed.
    pub public_objects: usize,
}

/// What a signing run did, as its `sign` line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignCounts {
    /// Signatures made.
    pub signatures: usize,
    /// Signatures per key tag, in key order.
    pub per_key: Vec<(u16, usize)>,
    /// Signatures per token label; logged only when not empty (`extra-tokens`).
    pub per_token: Vec<(String, usize)>,
    /// Session copies of keys made; logged only when some were.
    pub session_key_copies: usize,
    /// Whether the sessions ran in worker processes; logged only when they did.
    pub worker_processes: bool,
    /// The unchanged-data proof (PIPE-4): the content digests of the admitted input and
    /// of the signed zone; logged when taken.
    pub content: Option<ContentDigests>,
    /// What the input's ZONEMD said (PIPE-3), when the input had one: `ZONEMD verified
    /// (SHA-384, serial N)` or why it could not be verified; logged when present.
    pub input_zonemd: Option<String>,
}

/// The two digests of the proof of unchanged data (PIPE-4,
/// [`crate::zone::content`]): equal, or the run publishes nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContentDigests {
    /// SHA-256 of the admitted input's non-DNSSEC content (after the DS TTL rule).
    pub input: String,
    /// SHA-256 of the signed zone's non-DNSSEC content.
    pub signed: String,
}

/// The recovery copy of an embedded token's state file that was made or refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCopy {
    /// The token's directory name under the token directory.
    pub dir: String,
    /// The token's label.
    pub token: String,
    /// An older copy was replaced (`refreshed`), else it is new (`created`).
    pub refreshed: bool,
}

/// What `key ds` or `key export` printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exported {
    /// DS records with this digest type.
    Ds {
        /// The DS digest type number.
        digest: u8,
    },
    /// The published DNSKEY records.
    Dnskey,
}

/// One audit event: what an HSM act (or an act on the key state) was, in typed form.
/// [`Event::fields`] renders it to the JSON fields of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `token-init`: `init` made the token.
    TokenInit {
        /// The token's label.
        token: String,
    },
    /// `login`: a login to a token, by the process itself or by a signing worker.
    Login {
        /// The token's label; `None` when the module did not load (a login through
        /// [`record_configured`] then names the configured token).
        token: Option<String>,
        /// The signing worker's pid, for a worker's own login.
        worker: Option<u32>,
        /// Whether the login succeeded.
        result: Outcome,
    },
    /// `logout`.
    Logout {
        /// The token's label.
        token: String,
        /// The signing worker's pid, for a worker's own logout.
        worker: Option<u32>,
    },
    /// `keygen`: a key generated in the token, or a generation refused.
    Keygen {
        /// `ksk` or `zsk`.
        role: String,
        /// The algorithm's name.
        algorithm: String,
        /// The key made (its line has no `result` then), or why none was.
        result: Outcome<NewKey>,
    },
    /// `key-<event>`: a key-state change ([`KeyEvent`]).
    Key {
        /// What happened.
        event: KeyEvent,
        /// The key's tag.
        tag: u16,
        /// `ksk` or `zsk`.
        role: String,
        /// When (the run's time, UTC).
        at: String,
        /// Why, for people.
        detail: String,
        /// What made the change when it was not the command itself: `anchor` for a
        /// `ds-seen` recorded because the run's `--ds-anchor` file held the new DS.
        source: Option<String>,
    },
    /// `key-destroyed` by `key destroy`: the key's objects destroyed in the token, or
    /// the failed attempt.
    KeyDestroyed {
        /// The key's tag.
        tag: u16,
        /// `ksk` or `zsk`.
        role: String,
        /// PKCS#11 CKA_ID, hex.
        id: String,
        /// PKCS#11 CKA_LABEL.
        label: String,
        /// What was destroyed, or the token's error.
        result: Outcome<Destruction>,
    },
    /// `sign`: a signing run over a zone.
    Sign {
        /// The zone's origin.
        zone: String,
        /// The tags of the keys it signed with.
        keys: Vec<u16>,
        /// The counts, or why the run failed.
        result: Outcome<SignCounts>,
    },
    /// `sign` by `hsm bench` (`"what": "benchmark"`).
    Benchmark {
        /// The tags of the keys it signed with.
        keys: Vec<u16>,
        /// Signatures made, or why the benchmark failed.
        result: Outcome<u64>,
    },
    /// `export`: public key data given out (`key ds`, `key export`).
    Export {
        /// DS or DNSKEY records.
        what: Exported,
        /// The zone's origin.
        zone: String,
        /// The keys' tags.
        tags: Vec<u16>,
    },
    /// `pin-read`: a PIN that could not be read (only failures are logged).
    PinRead {
        /// Why, naming the file, never a PIN.
        error: String,
    },
    /// `token-recovery`: the embedded token's recovery copy made or refreshed, or the
    /// copies could not be kept.
    TokenRecovery {
        /// The copy saved, or why the copies could not be kept.
        result: Outcome<SavedCopy>,
    },
    /// `token-restored`: a damaged token state file put back from its copy, or found
    /// with no copy to put back.
    TokenRestored {
        /// The token's directory name.
        dir: String,
        /// The token's label, when it was restored.
        token: Option<String>,
        /// What was wrong with the file.
        damage: String,
        /// Restored, or why not.
        result: Outcome,
    },
    /// `input-rejected`: a new unsigned zone failed ingress (PIPE-1); the approved
    /// zone was signed instead (or, on a first run, nothing was).
    InputRejected {
        /// The zone's origin.
        zone: String,
        /// Why, for people.
        reason: String,
        /// The serial of the approved zone signed instead, if there is one.
        approved_serial: Option<u32>,
        /// When that zone was approved (RFC 3339).
        approved_at: Option<String>,
    },
    /// `changes-accepted`: `sign --accept-changes` signed an input beyond the change
    /// limits; the line's `user` is who accepted it.
    ChangesAccepted {
        /// The zone's origin.
        zone: String,
        /// The limits exceeded, for people.
        exceeded: Vec<String>,
        /// The delegations removed, added and changed against the approved zone.
        delta: crate::zone::ingress::Delta,
    },
    /// `algorithm-deprecated`: a command made or signed with a key of an algorithm
    /// RFC 9905 forbids (RSASHA1); one line per run.
    AlgorithmDeprecated {
        /// The algorithm's name.
        algorithm: String,
        /// The tags of the keys concerned.
        tags: Vec<u16>,
        /// What is true and what to do.
        advice: String,
    },
    /// `nsec3-salt`: a signing run drew a new NSEC3 salt (the first one, or the old
    /// one outlived `nsec3-salt-lifetime`); logged with the key state that records
    /// it, after the zone carrying it was published.
    Nsec3Salt {
        /// The zone's origin.
        zone: String,
        /// The new salt, hexadecimal (public: it is in the NSEC3PARAM record).
        salt: String,
        /// Why a new salt: `first` or `lifetime`.
        reason: String,
    },
    /// `rotated`: the first line of a log whose predecessor was rotated away to
    /// `previous` (logrotate renamed `audit.log` to `audit.log.1`). Its `prev` is the
    /// hash of the predecessor's last line, so the chain runs on across the files
    /// ([`check_files`]).
    Rotated {
        /// The predecessor's file name (`audit.log.1`).
        previous: String,
        /// How many lines the predecessor holds.
        lines: usize,
    },
    /// `syslog-error`: a line that could not be forwarded to syslog.
    SyslogError {
        /// The syslog socket.
        socket: String,
        /// The send error.
        error: String,
        /// The name of the event that was not forwarded.
        lost_event: String,
    },
}

/// Sets `key` in `f` to `value` as `serde_json::json!` would.
fn put(f: &mut Map<String, Value>, key: &str, value: impl Serialize) {
    f.insert(key.into(), json!(value));
}

impl Event {
    /// The event's name in its line (`"event"`).
    pub fn name(&self) -> &'static str {
        match self {
            Event::TokenInit { .. } => "token-init",
            Event::Login { .. } => "login",
            Event::Logout { .. } => "logout",
            Event::Keygen { .. } => "keygen",
            Event::Key { event, .. } => event.event_name(),
            Event::KeyDestroyed { .. } => "key-destroyed",
            Event::Sign { .. } | Event::Benchmark { .. } => "sign",
            Event::Export { .. } => "export",
            Event::PinRead { .. } => "pin-read",
            Event::TokenRecovery { .. } => "token-recovery",
            Event::TokenRestored { .. } => "token-restored",
            Event::InputRejected { .. } => "input-rejected",
            Event::ChangesAccepted { .. } => "changes-accepted",
            Event::AlgorithmDeprecated { .. } => "algorithm-deprecated",
            Event::Nsec3Salt { .. } => "nsec3-salt",
            Event::Rotated { .. } => "rotated",
            Event::SyslogError { .. } => "syslog-error",
        }
    }

    /// Whether the line records a failure (`"result": "failed"`): syslog gets it as a
    /// warning, not a notice.
    pub fn failed(&self) -> bool {
        match self {
            Event::Login { result, .. } | Event::TokenRestored { result, .. } => result.is_failed(),
            Event::Keygen { result, .. } => result.is_failed(),
            Event::KeyDestroyed { result, .. } => result.is_failed(),
            Event::Sign { result, .. } => result.is_failed(),
            Event::Benchmark { result, .. } => result.is_failed(),
            Event::TokenRecovery { result } => result.is_failed(),
            Event::PinRead { .. } | Event::InputRejected { .. } => true,
            Event::TokenInit { .. }
            | Event::Logout { .. }
            | Event::Key { .. }
            | Event::Export { .. }
            | Event::ChangesAccepted { .. }
            | Event::AlgorithmDeprecated { .. }
            | Event::Nsec3Salt { .. }
            | Event::Rotated { .. }
            | Event::SyslogError { .. } => false,
        }
    }

    /// The event's own fields of its line (beside `time`, `event`, `user`, `command`
    /// and `prev`), exactly as the log has always written them: the same names and
    /// values, fields present only when they were before.
    pub fn fields(&self) -> Map<String, Value> {
        let mut f = Map::new();
        match self {
            Event::TokenInit { token } => put(&mut f, "token", token),
            Event::Login {
                token,
                worker,
                result,
            } => {
                if let Some(token) = token {
                    put(&mut f, "token", token);
                }
                if let Some(pid) = worker {
                    put(&mut f, "worker", pid);
                }
                result.put(&mut f);
            }
            Event::Logout { token, worker } => {
                put(&mut f, "token", token);
                if let Some(pid) = worker {
                    put(&mut f, "worker", pid);
                }
            }
            Event::Keygen {
                role,
                algorithm,
                result,
            } => {
                put(&mut f, "role", role);
                put(&mut f, "algorithm", algorithm);
                match result {
                    Outcome::Ok(k) => {
                        put(&mut f, "bits", k.bits);
                        put(&mut f, "tag", k.tag);
                        put(&mut f, "id", &k.id);
                        put(&mut f, "label", &k.label);
                    }
                    Outcome::Failed(_) => result.put(&mut f),
                }
            }
            Event::Key {
                event: _,
                tag,
                role,
                at,
                detail,
                source,
            } => {
                put(&mut f, "tag", tag);
                put(&mut f, "role", role);
                put(&mut f, "at", at);
                put(&mut f, "detail", detail);
                if let Some(source) = source {
                    put(&mut f, "source", source);
                }
            }
            Event::KeyDestroyed {
                tag,
                role,
                id,
                label,
                result,
            } => {
                put(&mut f, "tag", tag);
                put(&mut f, "role", role);
                if let Outcome::Ok(d) = result {
                    put(&mut f, "at", &d.at);
                    put(&mut f, "detail", &d.detail);
                }
                put(&mut f, "id", id);
                put(&mut f, "label", label);
                if let Outcome::Ok(d) = result {
                    put(&mut f, "private-objects", d.private_objects);
                    put(&mut f, "public-objects", d.public_objects);
                }
                result.put(&mut f);
            }
            Event::Sign { zone, keys, result } => {
                put(&mut f, "zone", zone);
                put(&mut f, "keys", keys);
                if let Outcome::Ok(c) = result {
                    put(&mut f, "signatures", c.signatures);
                    put(&mut f, "per_key", &c.per_key);
                }
                result.put(&mut f);
                if let Outcome::Ok(c) = result {
                    if !c.per_token.is_empty() {
                        put(&mut f, "per_token", &c.per_token);
                    }
                    if c.session_key_copies > 0 {
                        put(&mut f, "session_key_copies", c.session_key_copies);
                    }
                    if c.worker_processes {
                        put(&mut f, "worker_processes", true);
                    }
                    if let Some(d) = &c.content {
                        put(&mut f, "content_input", &d.input);
                        put(&mut f, "content_signed", &d.signed);
                    }
                    if let Some(z) = &c.input_zonemd {
                        put(&mut f, "input_zonemd", z);
                    }
                }
            }
            Event::InputRejected {
                zone,
                reason,
                approved_serial,
                approved_at,
            } => {
                put(&mut f, "zone", zone);
                put(&mut f, "reason", reason);
                if let Some(serial) = approved_serial {
                    put(&mut f, "approved_serial", serial);
                }
                if let Some(at) = approved_at {
                    put(&mut f, "approved_at", at);
                }
            }
            Event::ChangesAccepted {
                zone,
                exceeded,
                delta,
            } => {
                put(&mut f, "zone", zone);
                put(&mut f, "exceeded", exceeded);
                put(&mut f, "delta", delta);
            }
            Event::AlgorithmDeprecated {
                algorithm,
                tags,
                advice,
            } => {
                put(&mut f, "algorithm", algorithm);
                put(&mut f, "tags", tags);
                put(&mut f, "advice", advice);
            }
            Event::Nsec3Salt { zone, salt, reason } => {
                put(&mut f, "zone", zone);
                put(&mut f, "salt", salt);
                put(&mut f, "reason", reason);
            }
            Event::Benchmark { keys, result } => {
                put(&mut f, "what", "benchmark");
                put(&mut f, "keys", keys);
                if let Outcome::Ok(n) = result {
                    put(&mut f, "signatures", n);
                }
                result.put(&mut f);
            }
            Event::Export { what, zone, tags } => {
                match what {
                    Exported::Ds { digest } => {
                        put(&mut f, "what", "DS");
                        put(&mut f, "zone", zone);
                        put(&mut f, "digest", digest);
                    }
                    Exported::Dnskey => {
                        put(&mut f, "what", "DNSKEY");
                        put(&mut f, "zone", zone);
                    }
                }
                put(&mut f, "tags", tags);
            }
            Event::PinRead { error } => Outcome::<()>::failed(error).put(&mut f),
            Event::TokenRecovery { result } => {
                result.put(&mut f);
                if let Outcome::Ok(c) = result {
                    put(
                        &mut f,
                        "action",
                        if c.refreshed { "refreshed" } else { "created" },
                    );
                    put(&mut f, "token-dir", &c.dir);
                    put(&mut f, "token", &c.token);
                }
            }
            Event::TokenRestored {
                dir,
                token,
                damage,
                result,
            } => {
                result.put(&mut f);
                put(&mut f, "token-dir", dir);
                if let Some(token) = token {
                    put(&mut f, "token", token);
                }
                put(&mut f, "damage", damage);
            }
            Event::Rotated { previous, lines } => {
                put(&mut f, "previous", previous);
                put(&mut f, "previous-lines", lines);
            }
            Event::SyslogError {
                socket,
                error,
                lost_event,
            } => {
                put(&mut f, "socket", socket);
                put(&mut f, "error", error);
                put(&mut f, "lost-event", lost_event);
            }
        }
        f
    }
}

/// One audit line (no newline): `time`, `event`, `user`, `command`, the event's
/// `fields`, and `prev`, the SHA-256 (hex) of the line before, as one JSON object.
/// The one place the line format is made; [`check_chain`] reads it.
pub fn format_line(
    time: &str,
    event: &str,
    user: &str,
    command: &str,
    fields: Map<String, Value>,
    prev: &str,
) -> String {
    let mut line = Map::new();
    line.insert("time".into(), json!(time));
    line.insert("event".into(), json!(event));
    line.insert("user".into(), json!(user));
    line.insert("command".into(), json!(command));
    line.extend(fields);
    line.insert("prev".into(), json!(prev));
    Value::Object(line).to_string()
}

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
/// The configured token label is added to the line unless the event names one.
pub fn record_configured(event: Event) -> std::io::Result<()> {
    let (log, command, token) = {
        let c = context();
        (c.log.clone(), c.command.clone(), c.token.clone())
    };
    match log {
        Some(path) => AuditLog::new(&path, command.as_deref().unwrap_or(APP_NAME))
            .write_lines(vec![Line::configured(&event, token)]),
        None => Ok(()),
    }
}

/// An event as its line will say it: name, fields, and whether it is a failure.
struct Line {
    event: &'static str,
    fields: Map<String, Value>,
    failed: bool,
}

impl Line {
    fn of(event: &Event) -> Line {
        Line {
            event: event.name(),
            fields: event.fields(),
            failed: event.failed(),
        }
    }

    /// The line of `event` logged through [`record_configured`]: with the configured
    /// `token` unless the event names one.
    fn configured(event: &Event, token: Option<String>) -> Line {
        let mut line = Line::of(event);
        if let Some(token) = token {
            line.fields.entry("token").or_insert(json!(token));
        }
        line
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

    /// Appends one event (its fields: [`Event::fields`]).
    ///
    /// Returns an error if the log file cannot be written: an HSM act that cannot be
    /// recorded should not silently happen, so callers treat this as an I/O failure.
    /// A syslog failure is not an error: it is recorded as a `syslog-error` event.
    pub fn record(&self, event: Event) -> std::io::Result<()> {
        self.record_all(vec![event])
    }

    /// Appends several events in one write (all or none survive a crash), as
    /// [`AuditLog::record`] does for one; no events write nothing.
    pub fn record_all(&self, events: Vec<Event>) -> std::io::Result<()> {
        self.write_lines(events.iter().map(Line::of).collect())
    }

    /// Appends the lines of several events in one write; none write nothing.
    fn write_lines(&self, lines: Vec<Line>) -> std::io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let _lock = AppendLock::take(&self.path)?;
        let batch = self.prepare_lines(lines)?;
        self.write_locked(&batch)
    }

    /// Builds the lines of several events, chained to the log's current last line,
    /// without writing anything: the caller can name the batch (by
    /// [`Batch::last_hash`]) in another file before [`AuditLog::write_batch`] makes
    /// it real. The key state commits this way (see `KeyStore::commit`), under the
    /// key-state lock that every writer of key events holds.
    pub fn prepare(&self, events: Vec<Event>) -> std::io::Result<Batch> {
        let _lock = AppendLock::take(&self.path)?;
        self.prepare_lines(events.iter().map(Line::of).collect())
    }

    /// Writes the `rotated` line that starts a freshly rotated log (empty or missing,
    /// with a non-empty `LOG.1` beside it) now rather than with the next event; does
    /// nothing otherwise. logrotate's `postrotate` calls it (`zonesign audit link`).
    /// Returns whether a line was written.
    pub fn link_rotation(&self) -> std::io::Result<bool> {
        let _lock = AppendLock::take(&self.path)?;
        let batch = self.prepare_lines(Vec::new())?;
        if batch.lines.is_empty() {
            return Ok(false);
        }
        self.write_locked(&batch)?;
        Ok(true)
    }

    /// [`AuditLog::prepare`] for events already rendered; the caller holds the
    /// [`AppendLock`]. A log that was just rotated away (missing or empty, `LOG.1`
    /// beside it) gets a `rotated` line first, chained to `LOG.1`'s last line.
    fn prepare_lines(&self, lines: Vec<Line>) -> std::io::Result<Batch> {
        let start = chain_start(&self.path)?;
        let mut prev = start.prev;
        let mut batch = Batch {
            text: String::new(),
            lines: Vec::with_capacity(lines.len() + 1),
            last_hash: prev.clone(),
        };
        let link = start.rotated.map(|e| Line::of(&e));
        for Line {
            event,
            fields,
            failed,
        } in link.into_iter().chain(lines)
        {
            let (time, line) = self.line(event, fields, &prev);
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
        let _lock = AppendLock::take(&self.path)?;
        self.write_locked(batch)
    }

    /// [`AuditLog::write_batch`]; the caller holds the [`AppendLock`].
    fn write_locked(&self, batch: &Batch) -> std::io::Result<()> {
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
            let record = syslog.format(&p.time, p.event, severity, &p.line);
            if let Err(e) = syslog.send(&record) {
                let lost = self.prepare_lines(vec![Line::of(&Event::SyslogError {
                    socket: syslog.socket().display().to_string(),
                    error: e.to_string(),
                    lost_event: p.event.to_string(),
                })])?;
                self.append_text(&lost.text)?;
            }
        }
        Ok(())
    }

    /// One line of the log (no newline) and its time, chained to `prev`.
    fn line(&self, event: &str, fields: Map<String, Value>, prev: &str) -> (String, String) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = format_line(&time, event, &os_user(), &self.command, fields, prev);
        (time, line)
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
    event: &'static str,
    failed: bool,
    line: String,
}

/// SHA-256 (hex) of one line's text, without its newline: what the next line's
/// `prev` holds.
fn line_hash(line: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(line))
}

/// The exclusive lock every append to one audit log holds from reading the log's last
/// line to the fsync of the new lines, so that two processes (a cron `sign` and an
/// operator's `key ds`) never chain two lines to the same predecessor, and the
/// `rotated` line of a freshly rotated log is written once.
///
/// It is a `flock` on `.NAME.lock` beside the log, a file of its own that rotation
/// never renames: logrotate may rename the log at any moment, and every append still
/// chains to the last line written, in whichever file that line is (see
/// [`chain_start`]). The kernel releases it when the process ends, even after `kill -9`.
struct AppendLock {
    _file: std::fs::File,
}

impl AppendLock {
    fn take(log: &Path) -> std::io::Result<AppendLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(lock_path(log))?;
        file.lock()?;
        Ok(AppendLock { _file: file })
    }
}

/// `.NAME.lock` beside the log `NAME`.
fn lock_path(log: &Path) -> PathBuf {
    let name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    log.with_file_name(format!(".{name}.lock"))
}

/// `LOG.n`: the name logrotate gives the `n`th older file of `LOG`.
pub fn rotated_path(log: &Path, n: usize) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// What a new line of a log chains to.
struct ChainStart {
    /// The SHA-256 (hex) the next line's `prev` holds.
    prev: String,
    /// The `rotated` line to write first, for a log that was just rotated away.
    rotated: Option<Event>,
}

/// Where the next line of the log at `path` chains to: its last line; for a new log,
/// nothing (the hash of the empty string); for a log that logrotate just rotated
/// (missing or empty, with a non-empty `LOG.1`), `LOG.1`'s last line, after a
/// `rotated` line.
fn chain_start(path: &Path) -> std::io::Result<ChainStart> {
    let text = read_or_empty(path)?;
    if text.is_empty() {
        let previous = rotated_path(path, 1);
        let older = read_or_empty(&previous)?;
        if !older.is_empty() {
            let name = previous
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(ChainStart {
                prev: last_line_hash(&older),
                rotated: Some(Event::Rotated {
                    previous: name,
                    lines: older
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count(),
                }),
            });
        }
    }
    Ok(ChainStart {
        prev: last_line_hash(&text),
        rotated: None,
    })
}

/// The file's bytes; a missing file reads as empty.
fn read_or_empty(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// SHA-256 (hex) of the last line of a log's text, or of nothing for an empty one.
fn last_line_hash(text: &[u8]) -> String {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
    line_hash(last)
}

/// Whether the log at `path` holds a line whose SHA-256 (hex) is `hash`; a missing
/// log holds none. This is how a journaled key state learns whether the audit lines
/// that commit it were written before a crash.
/// The log's predecessor `LOG.1` is searched too: logrotate may have rotated the
/// lines away between their write and a crash.
pub fn contains_line(path: &Path, hash: &str) -> std::io::Result<bool> {
    for file in [path.to_path_buf(), rotated_path(path, 1)] {
        let text = read_or_empty(&file)?;
        if text
            .split(|&b| b == b'\n')
            .rev()
            .filter(|l| !l.is_empty())
            .any(|l| line_hash(l) == hash)
        {
            return Ok(true);
        }
    }
    Ok(false)
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
    /// For a log that starts with a `rotated` line and was checked without its
    /// predecessor: the predecessor's name, whose lines this check could not see.
    pub continues: Option<String>,
}

/// Checks the hash chain of a log text, saying where and why it breaks.
///
/// A removed, changed or reordered line breaks the chain at the line after it (or at
/// itself if its own `prev` no longer fits). Removing lines at the end cannot be seen
/// from the file alone; compare `last_hash` with a copy (syslog) for that. A log that
/// starts with a `rotated` line continues a rotated-away predecessor: its first line is
/// taken as given (and named in [`ChainSummary::continues`]); [`check_files`] checks
/// it against the predecessor.
pub fn check_chain(text: &str) -> Result<ChainSummary, ChainBreak> {
    check_chain_after(text, None)
}

/// [`check_chain`] for a log whose first line must chain to `prev` (the hash of the
/// predecessor's last line); `None`: to nothing, or to a predecessor named by a
/// leading `rotated` line.
fn check_chain_after(text: &str, prev: Option<&str>) -> Result<ChainSummary, ChainBreak> {
    let mut prev_hash = match prev {
        Some(p) => p.to_string(),
        None => data_encoding::HEXLOWER.encode(&Sha256::digest(b"")),
    };
    let mut continues = None;
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        let brk = |reason: String| ChainBreak {
            line: i + 1,
            reason,
        };
        let v: Value = serde_json::from_str(line)
            .map_err(|e| brk(format!("not a JSON audit record ({e})")))?;
        let rotated_start = i == 0 && prev.is_none() && is_rotation_link(&v);
        match v.get("prev").and_then(Value::as_str) {
            None => return Err(brk("no \"prev\" hash".into())),
            Some(_) if rotated_start => {
                continues = v
                    .get("previous")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Some(p) if p != prev_hash => {
                return Err(brk(if i == 0 && prev.is_some() {
                    "the first line does not continue the previous file's last line: lines were removed or changed at the rotation".into()
                } else if i == 0 {
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
        continues,
    })
}

/// Whether a parsed line is the `rotated` line that starts a rotated log.
fn is_rotation_link(v: &Value) -> bool {
    v.get("event").and_then(Value::as_str) == Some("rotated")
}

/// The files of a rotated log, oldest first: `LOG.n` .. `LOG.1` (as far as they follow
/// each other without a gap), then `LOG`. Compressed files (`LOG.n.gz`) are not read:
/// the package's logrotate rule does not compress (see `packaging/zonesign.logrotate`).
pub fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let mut files = vec![log.to_path_buf()];
    for n in 1.. {
        let older = rotated_path(log, n);
        if !older.is_file() {
            break;
        }
        files.push(older);
    }
    files.reverse();
    files
}

/// Where a chain over several files breaks: the file (index into the list) and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesBreak {
    /// Index of the file in the list given to [`check_files`].
    pub file: usize,
    /// Where and why.
    pub brk: ChainBreak,
}

/// Checks the chain across several log texts given oldest first (a rotated log:
/// [`rotated_files`]): each file's chain, and that each file's first line carries the
/// hash of the previous file's last line (a `rotated` line, or the first event
/// written after logrotate renamed the file). The oldest file may itself start with a
/// `rotated` line whose predecessor is gone (logrotate's `rotate` count removed it).
/// An empty file (rotated, nothing logged since) passes the chain on unchanged.
/// Returns one summary per file.
pub fn check_files(texts: &[&str]) -> Result<Vec<ChainSummary>, FilesBreak> {
    let mut out: Vec<ChainSummary> = Vec::with_capacity(texts.len());
    for (file, text) in texts.iter().enumerate() {
        let prev = out.last().map(|s| s.last_hash.as_str());
        let s = check_chain_after(text, prev).map_err(|brk| FilesBreak { file, brk })?;
        out.push(s);
    }
    Ok(out)
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
            log.record(Event::Benchmark {
                keys: vec![1],
                result: Outcome::Ok(n),
            })
            .unwrap();
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
            log.record(Event::Logout {
                token: format!("t{n}"),
                worker: None,
            })
            .unwrap();
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
        let login = |result| Event::Login {
            token: Some("zs".into()),
            worker: None,
            result,
        };
        log.record(login(Outcome::OK)).unwrap();
        log.record(login(Outcome::failed("CKR_PIN_INCORRECT")))
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
        log.record(Event::Benchmark {
            keys: vec![1],
            result: Outcome::Ok(1),
        })
        .unwrap();
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

    /// The line of `event` as [`AuditLog`] writes it, with a fixed time, user, command
    /// and `prev`.
    fn line_of(event: &Event, command: &str) -> String {
        format_line(
            "2026-12-07T00:00:00.000Z",
            event.name(),
            "op (uid 1000)",
            command,
            event.fields(),
            "p",
        )
    }

    /// `{"command":...,` .. `"user":"op (uid 1000)"` for the expected lines below.
    fn expected(body: &str) -> String {
        body.replace("TIME", r#""time":"2026-12-07T00:00:00.000Z""#)
            .replace("USER", r#""user":"op (uid 1000)""#)
    }

    /// Every kind of event, with the line today's log writes for it (the `json!`
    /// objects each call site built before the events were typed; serde_json's map
    /// sorts the keys).
    fn every_event() -> Vec<(Event, &'static str, &'static str)> {
        let key_new = NewKey {
            bits: 1024,
            tag: 56413,
            id: "1756c17c335233fd".into(),
            label: "zonesign-zsk-1756c17c335233fd".into(),
        };
        let counts = SignCounts {
            signatures: 460,
            per_key: vec![(26621, 1), (56413, 459)],
            per_token: Vec::new(),
            session_key_copies: 0,
            worker_processes: false,
            content: None,
            input_zonemd: None,
        };
        let destruction = Destruction {
            at: "2027-04-01T00:00:00Z".into(),
            detail: "1 private and 1 public key object(s) destroyed in token 'zonesign'".into(),
            private_objects: 1,
            public_objects: 1,
        };
        vec![
            (
                Event::TokenInit {
                    token: "zonesign".into(),
                },
                "init",
                r#"{"command":"init","event":"token-init","prev":"p",TIME,"token":"zonesign",USER}"#,
            ),
            (
                Event::Login {
                    token: Some("zonesign".into()),
                    worker: None,
                    result: Outcome::OK,
                },
                "sign",
                r#"{"command":"sign","event":"login","prev":"p","result":"ok",TIME,"token":"zonesign",USER}"#,
            ),
            (
                Event::Login {
                    token: Some("zonesign".into()),
                    worker: None,
                    result: Outcome::failed("the token rejected the PIN"),
                },
                "check",
                r#"{"command":"check","error":"the token rejected the PIN","event":"login","prev":"p","result":"failed",TIME,"token":"zonesign",USER}"#,
            ),
            (
                Event::Login {
                    token: Some("zonesign".into()),
                    worker: Some(19719),
                    result: Outcome::OK,
                },
                "sign",
                r#"{"command":"sign","event":"login","prev":"p","result":"ok",TIME,"token":"zonesign",USER,"worker":19719}"#,
            ),
            (
                Event::Login {
                    token: Some("zonesign".into()),
                    worker: Some(19719),
                    result: Outcome::failed("worker died"),
                },
                "sign",
                r#"{"command":"sign","error":"worker died","event":"login","prev":"p","result":"failed",TIME,"token":"zonesign",USER,"worker":19719}"#,
            ),
            (
                Event::Login {
                    token: None,
                    worker: None,
                    result: Outcome::failed("cannot load"),
                },
                "sign",
                r#"{"command":"sign","error":"cannot load","event":"login","prev":"p","result":"failed",TIME,USER}"#,
            ),
            (
                Event::Logout {
                    token: "zonesign".into(),
                    worker: None,
                },
                "init",
                r#"{"command":"init","event":"logout","prev":"p",TIME,"token":"zonesign",USER}"#,
            ),
            (
                Event::Logout {
                    token: "zonesign".into(),
                    worker: Some(19720),
                },
                "sign",
                r#"{"command":"sign","event":"logout","prev":"p",TIME,"token":"zonesign",USER,"worker":19720}"#,
            ),
            (
                Event::Keygen {
                    role: "zsk".into(),
                    algorithm: "rsasha1".into(),
                    result: Outcome::Ok(key_new),
                },
                "init",
                r#"{"algorithm":"rsasha1","bits":1024,"command":"init","event":"keygen","id":"1756c17c335233fd","label":"zonesign-zsk-1756c17c335233fd","prev":"p","role":"zsk","tag":56413,TIME,USER}"#,
            ),
            (
                Event::Keygen {
                    role: "ksk".into(),
                    algorithm: "ed25519".into(),
                    result: Outcome::failed("mechanism missing in the token"),
                },
                "key generate",
                r#"{"algorithm":"ed25519","command":"key generate","error":"mechanism missing in the token","event":"keygen","prev":"p","result":"failed","role":"ksk",TIME,USER}"#,
            ),
            (
                Event::Key {
                    event: KeyEvent::Published,
                    tag: 26621,
                    role: "ksk".into(),
                    at: "2026-12-07T00:00:00Z".into(),
                    detail: "made by init; in the zone from the first sign run".into(),
                    source: None,
                },
                "init",
                r#"{"at":"2026-12-07T00:00:00Z","command":"init","detail":"made by init; in the zone from the first sign run","event":"key-published","prev":"p","role":"ksk","tag":26621,TIME,USER}"#,
            ),
            (
                Event::Key {
                    event: KeyEvent::RollBlocked,
                    tag: 56413,
                    role: "zsk".into(),
                    at: "2027-03-01T00:00:00Z".into(),
                    detail: "no \"generated\" ZSK".into(),
                    source: None,
                },
                "sign",
                r#"{"at":"2027-03-01T00:00:00Z","command":"sign","detail":"no \"generated\" ZSK","event":"key-roll-blocked","prev":"p","role":"zsk","tag":56413,TIME,USER}"#,
            ),
            (
                Event::KeyDestroyed {
                    tag: 51927,
                    role: "zsk".into(),
                    id: "2b245b5e3f8e3ba4".into(),
                    label: "zonesign-zsk-2b245b5e3f8e3ba4".into(),
                    result: Outcome::Ok(destruction),
                },
                "key destroy",
                r#"{"at":"2027-04-01T00:00:00Z","command":"key destroy","detail":"1 private and 1 public key object(s) destroyed in token 'zonesign'","event":"key-destroyed","id":"2b245b5e3f8e3ba4","label":"zonesign-zsk-2b245b5e3f8e3ba4","prev":"p","private-objects":1,"public-objects":1,"result":"ok","role":"zsk","tag":51927,TIME,USER}"#,
            ),
            (
                Event::KeyDestroyed {
                    tag: 51927,
                    role: "zsk".into(),
                    id: "2b245b5e3f8e3ba4".into(),
                    label: "zonesign-zsk-2b245b5e3f8e3ba4".into(),
                    result: Outcome::failed("CKR_DEVICE_ERROR"),
                },
                "key destroy",
                r#"{"command":"key destroy","error":"CKR_DEVICE_ERROR","event":"key-destroyed","id":"2b245b5e3f8e3ba4","label":"zonesign-zsk-2b245b5e3f8e3ba4","prev":"p","result":"failed","role":"zsk","tag":51927,TIME,USER}"#,
            ),
            (
                Event::Sign {
                    zone: "se.".into(),
                    keys: vec![26621, 56413],
                    result: Outcome::Ok(counts.clone()),
                },
                "sign",
                r#"{"command":"sign","event":"sign","keys":[26621,56413],"per_key":[[26621,1],[56413,459]],"prev":"p","result":"ok","signatures":460,TIME,USER,"zone":"se."}"#,
            ),
            (
                Event::Sign {
                    zone: "se.".into(),
                    keys: vec![26621, 56413],
                    result: Outcome::Ok(SignCounts {
                        per_token: vec![("a".into(), 230), ("b".into(), 230)],
                        session_key_copies: 4,
                        worker_processes: true,
                        ..counts.clone()
                    }),
                },
                "sign",
                r#"{"command":"sign","event":"sign","keys":[26621,56413],"per_key":[[26621,1],[56413,459]],"per_token":[["a",230],["b",230]],"prev":"p","result":"ok","session_key_copies":4,"signatures":460,TIME,USER,"worker_processes":true,"zone":"se."}"#,
            ),
            (
                Event::Sign {
                    zone: "se.".into(),
                    keys: vec![26621, 56413],
                    result: Outcome::Ok(SignCounts {
                        content: Some(ContentDigests {
                            input: "ab".repeat(32),
                            signed: "ab".repeat(32),
                        }),
                        input_zonemd: Some("ZONEMD verified (SHA-384, serial 7)".into()),
                        ..counts.clone()
                    }),
                },
                "sign",
                concat!(
                    r#"{"command":"sign","content_input":"abababababababababababababababababababababababababababababababab","#,
                    r#""content_signed":"abababababababababababababababababababababababababababababababab","#,
                    r#""event":"sign","input_zonemd":"ZONEMD verified (SHA-384, serial 7)","keys":[26621,56413],"per_key":[[26621,1],[56413,459]],"prev":"p","result":"ok","signatures":460,TIME,USER,"zone":"se."}"#
                ),
            ),
            (
                Event::Sign {
                    zone: "se.".into(),
                    keys: vec![26621],
                    result: Outcome::failed("the token is gone"),
                },
                "sign",
                r#"{"command":"sign","error":"the token is gone","event":"sign","keys":[26621],"prev":"p","result":"failed",TIME,USER,"zone":"se."}"#,
            ),
            (
                Event::Benchmark {
                    keys: vec![56413],
                    result: Outcome::Ok(12000),
                },
                "hsm bench",
                r#"{"command":"hsm bench","event":"sign","keys":[56413],"prev":"p","result":"ok","signatures":12000,TIME,USER,"what":"benchmark"}"#,
            ),
            (
                Event::Benchmark {
                    keys: vec![56413],
                    result: Outcome::failed("no session"),
                },
                "hsm bench",
                r#"{"command":"hsm bench","error":"no session","event":"sign","keys":[56413],"prev":"p","result":"failed",TIME,USER,"what":"benchmark"}"#,
            ),
            (
                Event::Export {
                    what: Exported::Ds { digest: 2 },
                    zone: "se.".into(),
                    tags: vec![26621],
                },
                "key ds",
                r#"{"command":"key ds","digest":2,"event":"export","prev":"p","tags":[26621],TIME,USER,"what":"DS","zone":"se."}"#,
            ),
            (
                Event::Export {
                    what: Exported::Dnskey,
                    zone: "se.".into(),
                    tags: vec![26621, 56413],
                },
                "key export",
                r#"{"command":"key export","event":"export","prev":"p","tags":[26621,56413],TIME,USER,"what":"DNSKEY","zone":"se."}"#,
            ),
            (
                Event::PinRead {
                    error: "zs/user.pin: readable by others".into(),
                },
                "sign",
                r#"{"command":"sign","error":"zs/user.pin: readable by others","event":"pin-read","prev":"p","result":"failed",TIME,USER}"#,
            ),
            (
                Event::TokenRecovery {
                    result: Outcome::Ok(SavedCopy {
                        dir: "c870dda5".into(),
                        token: "zonesign".into(),
                        refreshed: false,
                    }),
                },
                "init",
                r#"{"action":"created","command":"init","event":"token-recovery","prev":"p","result":"ok",TIME,"token":"zonesign","token-dir":"c870dda5",USER}"#,
            ),
            (
                Event::TokenRecovery {
                    result: Outcome::Ok(SavedCopy {
                        dir: "c870dda5".into(),
                        token: "zonesign".into(),
                        refreshed: true,
                    }),
                },
                "sign",
                r#"{"action":"refreshed","command":"sign","event":"token-recovery","prev":"p","result":"ok",TIME,"token":"zonesign","token-dir":"c870dda5",USER}"#,
            ),
            (
                Event::TokenRecovery {
                    result: Outcome::failed("Permission denied (os error 13)"),
                },
                "sign",
                r#"{"command":"sign","error":"Permission denied (os error 13)","event":"token-recovery","prev":"p","result":"failed",TIME,USER}"#,
            ),
            (
                Event::TokenRestored {
                    dir: "c870dda5".into(),
                    token: Some("zonesign".into()),
                    damage: "token.object is empty (0 bytes)".into(),
                    result: Outcome::OK,
                },
                "sign",
                r#"{"command":"sign","damage":"token.object is empty (0 bytes)","event":"token-restored","prev":"p","result":"ok",TIME,"token":"zonesign","token-dir":"c870dda5",USER}"#,
            ),
            (
                Event::TokenRestored {
                    dir: "c870dda5".into(),
                    token: None,
                    damage: "token.object is missing".into(),
                    result: Outcome::failed("no recovery copy"),
                },
                "sign",
                r#"{"command":"sign","damage":"token.object is missing","error":"no recovery copy","event":"token-restored","prev":"p","result":"failed",TIME,"token-dir":"c870dda5",USER}"#,
            ),
            (
                Event::Rotated {
                    previous: "audit.log.1".into(),
                    lines: 42,
                },
                "sign",
                r#"{"command":"sign","event":"rotated","prev":"p","previous":"audit.log.1","previous-lines":42,TIME,USER}"#,
            ),
            (
                Event::SyslogError {
                    socket: "/dev/log".into(),
                    error: "Connection refused (os error 111)".into(),
                    lost_event: "sign".into(),
                },
                "sign",
                r#"{"command":"sign","error":"Connection refused (os error 111)","event":"syslog-error","lost-event":"sign","prev":"p","socket":"/dev/log",TIME,USER}"#,
            ),
        ]
    }

    /// Issue 20: each typed event renders to the very line the untyped `json!` calls
    /// wrote, byte for byte, so logs read and chain the same.
    #[test]
    fn every_event_renders_to_its_old_line() {
        let events = every_event();
        for (event, command, want) in &events {
            assert_eq!(line_of(event, command), expected(want), "{event:?}");
        }
        // Every variant is covered (a new one needs its expected line here).
        let kinds: std::collections::BTreeSet<_> = events
            .iter()
            .map(|(e, _, _)| std::mem::discriminant(e))
            .map(|d| format!("{d:?}"))
            .collect();
        assert_eq!(kinds.len(), 14);
    }

    /// A line is a failure for syslog exactly when it says `"result": "failed"`, as the
    /// untyped log decided it.
    #[test]
    fn failed_events_are_the_lines_that_say_so() {
        for (event, _, _) in every_event() {
            let says = event.fields().get("result").and_then(Value::as_str) == Some("failed");
            assert_eq!(event.failed(), says, "{event:?}");
        }
    }

    /// Every key-state change is `key-<its name>`, with the same fields.
    #[test]
    fn key_events_are_named_key_and_the_change() {
        let all = [
            (KeyEvent::Published, "key-published"),
            (KeyEvent::Active, "key-active"),
            (KeyEvent::Ready, "key-ready"),
            (KeyEvent::DsSeen, "key-ds-seen"),
            (KeyEvent::Retired, "key-retired"),
            (KeyEvent::Removed, "key-removed"),
            (KeyEvent::Adopted, "key-adopted"),
            (KeyEvent::Compromised, "key-compromised"),
            (KeyEvent::RollBlocked, "key-roll-blocked"),
            (KeyEvent::Destroyed, "key-destroyed"),
        ];
        for (kind, name) in all {
            assert_eq!(format!("key-{kind}"), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.name()));
            let event = Event::Key {
                event: kind,
                tag: 7,
                role: "zsk".into(),
                at: "2026-12-07T00:00:00Z".into(),
                detail: "why".into(),
                source: None,
            };
            assert_eq!(event.name(), name);
            assert_eq!(
                line_of(&event, "sign"),
                expected(&format!(
                    r#"{{"at":"2026-12-07T00:00:00Z","command":"sign","detail":"why","event":"{name}","prev":"p","role":"zsk","tag":7,TIME,USER}}"#
                ))
            );
        }
    }

    /// Events logged outside a command's flow name the configured token unless they
    /// name one themselves.
    #[test]
    fn configured_events_name_the_configured_token() {
        let token = |event: &Event, configured: Option<&str>| {
            let line = Line::configured(event, configured.map(String::from));
            line.fields.get("token").cloned().unwrap_or(Value::Null)
        };
        let module = Event::Login {
            token: None,
            worker: None,
            result: Outcome::failed("cannot load"),
        };
        assert_eq!(token(&module, Some("zs")), json!("zs"));
        assert_eq!(token(&module, None), Value::Null);
        let restored = Event::TokenRestored {
            dir: "d".into(),
            token: Some("other".into()),
            damage: "token.object is missing".into(),
            result: Outcome::OK,
        };
        assert_eq!(token(&restored, Some("zs")), json!("other"));
        let line = Line::configured(&module, Some("zs".into()));
        assert_eq!(
            format_line("t", line.event, "u", "sign", line.fields, "p"),
            r#"{"command":"sign","error":"cannot load","event":"login","prev":"p","result":"failed","time":"t","token":"zs","user":"u"}"#
        );
        assert!(line.failed);
    }

    /// A log written before the events were typed (lines as the untyped code wrote
    /// them, chained here) still verifies; the typed events write the same lines for
    /// the same facts and chain on to it.
    #[test]
    fn an_old_log_still_verifies_and_chains_on() {
        let old = [
            r#"{"command":"init","event":"token-init","prev":"PREV","time":"2026-12-07T09:24:13.027Z","token":"zonesign","user":"uid 0"}"#,
            r#"{"command":"init","event":"login","prev":"PREV","result":"ok","time":"2026-12-07T09:24:13.035Z","token":"zonesign","user":"uid 0"}"#,
            r#"{"algorithm":"rsasha1","bits":2048,"command":"init","event":"keygen","id":"861894982536eed2","label":"zonesign-ksk-861894982536eed2","prev":"PREV","role":"ksk","tag":26621,"time":"2026-12-07T09:24:13.431Z","user":"uid 0"}"#,
            r#"{"command":"init","event":"logout","prev":"PREV","time":"2026-12-07T09:24:13.687Z","token":"zonesign","user":"uid 0"}"#,
            r#"{"at":"2026-12-07T00:00:00Z","command":"init","detail":"made by init; in the zone from the first sign run","event":"key-published","prev":"PREV","role":"ksk","tag":26621,"time":"2026-12-07T09:24:13.691Z","user":"uid 0"}"#,
            r#"{"command":"sign","event":"login","prev":"PREV","result":"ok","time":"2026-12-07T09:24:13.895Z","token":"zonesign","user":"uid 0","worker":19719}"#,
            r#"{"command":"sign","event":"sign","keys":[26621,56413],"per_key":[[26621,1],[56413,459]],"prev":"PREV","result":"ok","session_key_copies":4,"signatures":460,"time":"2026-12-07T09:24:14.095Z","user":"uid 0","worker_processes":true,"zone":"se."}"#,
        ];
        let mut prev = line_hash(b"");
        let mut text = String::new();
        let mut lines = Vec::new();
        for l in old {
            let line = l.replace("PREV", &prev);
            prev = line_hash(line.as_bytes());
            text.push_str(&line);
            text.push('\n');
            lines.push(line);
        }
        let summary = check_chain(&text).unwrap();
        assert_eq!(summary.lines, old.len());
        assert_eq!(summary.last_hash, prev);

        // The same facts, typed, make the same lines.
        let typed = [
            Event::TokenInit {
                token: "zonesign".into(),
            },
            Event::Login {
                token: Some("zonesign".into()),
                worker: None,
                result: Outcome::OK,
            },
            Event::Keygen {
                role: "ksk".into(),
                algorithm: "rsasha1".into(),
                result: Outcome::Ok(NewKey {
                    bits: 2048,
                    tag: 26621,
                    id: "861894982536eed2".into(),
                    label: "zonesign-ksk-861894982536eed2".into(),
                }),
            },
            Event::Logout {
                token: "zonesign".into(),
                worker: None,
            },
            Event::Key {
                event: KeyEvent::Published,
                tag: 26621,
                role: "ksk".into(),
                at: "2026-12-07T00:00:00Z".into(),
                detail: "made by init; in the zone from the first sign run".into(),
                source: None,
            },
            Event::Login {
                token: Some("zonesign".into()),
                worker: Some(19719),
                result: Outcome::OK,
            },
            Event::Sign {
                zone: "se.".into(),
                keys: vec![26621, 56413],
                result: Outcome::Ok(SignCounts {
                    signatures: 460,
                    per_key: vec![(26621, 1), (56413, 459)],
                    per_token: Vec::new(),
                    session_key_copies: 4,
                    worker_processes: true,
                    content: None,
                    input_zonemd: None,
                }),
            },
        ];
        let mut prev = line_hash(b"");
        for (event, old) in typed.iter().zip(&lines) {
            let v: Value = serde_json::from_str(old).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            let line = format_line(
                &s("time"),
                event.name(),
                &s("user"),
                &s("command"),
                event.fields(),
                &prev,
            );
            assert_eq!(&line, old);
            prev = line_hash(line.as_bytes());
        }

        // A typed event appended to the old log chains on to its last line.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, &text).unwrap();
        let log = AuditLog::with_syslog(&path, "sign", None);
        log.record(Event::Logout {
            token: "zonesign".into(),
            worker: None,
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(verify_chain(&text), Ok(old.len() + 1));
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["prev"], json!(summary.last_hash));
        assert_eq!(last["event"], "logout");
    }

    /// Renames `log` to `log.1` (and older ones up) as logrotate does, without
    /// `create`: the next append makes the new file.
    fn rotate_like_logrotate(log: &Path) {
        let files = rotated_files(log);
        for (i, f) in files.iter().enumerate() {
            let n = files.len() - i;
            std::fs::rename(f, rotated_path(log, n)).unwrap();
        }
    }

    fn texts(log: &Path) -> Vec<String> {
        rotated_files(log)
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }

    fn check_all(log: &Path) -> Result<Vec<ChainSummary>, FilesBreak> {
        let t = texts(log);
        check_files(&t.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn logout() -> Event {
        Event::Logout {
            token: "t".into(),
            worker: None,
        }
    }

    /// DPS-4.4 across rotation: the first line after a rotation is a `rotated` line
    /// that carries the hash of the previous file's last line; the files verify
    /// together, and the newest alone verifies as a continuation.
    #[test]
    fn rotation_continues_the_chain_dps_4_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "test", None);
        log.record_all(vec![logout(), logout()]).unwrap();
        let before = std::fs::read(&path).unwrap();
        rotate_like_logrotate(&path);
        log.record(logout()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "rotated");
        assert_eq!(first["previous"], "audit.log.1");
        assert_eq!(first["previous-lines"], 2);
        assert_eq!(first["prev"], last_line_hash(&before));
        assert_eq!(text.lines().count(), 2);

        // Two more rotations, one with `create` (an empty new file) and a link
        // written by logrotate's postrotate before any event.
        rotate_like_logrotate(&path);
        std::fs::write(&path, "").unwrap();
        assert!(log.link_rotation().unwrap());
        assert!(!log.link_rotation().unwrap(), "linked twice");
        log.record(logout()).unwrap();
        rotate_like_logrotate(&path);
        log.record(logout()).unwrap();

        let all = check_all(&path).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(
            all.iter().map(|s| s.lines).collect::<Vec<_>>(),
            vec![2, 2, 2, 2]
        );
        // The newest file alone: a continuation of audit.log.1.
        let alone = check_chain(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(alone.continues.as_deref(), Some("audit.log.1"));
        // Logrotate's `rotate` count removed the oldest: the rest still verifies.
        std::fs::remove_file(rotated_path(&path, 3)).unwrap();
        assert_eq!(check_all(&path).unwrap().len(), 3);
    }

    /// A changed or removed line in a rotated file, or a rotated file left out, is
    /// caught, and the break names the file and line.
    #[test]
    fn tampered_rotated_files_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::with_syslog(&path, "test", None);
        for _ in 0..3 {
            log.record_all(vec![logout(), logout(), logout()]).unwrap();
            rotate_like_logrotate(&path);
        }
        log.record(logout()).unwrap();
        check_all(&path).unwrap();

        // The last line of audit.log.2 (file 1) changed: audit.log.1's first line
        // (file 2) no longer carries its hash.
        let two = rotated_path(&path, 2);
        let orig = std::fs::read_to_string(&two).unwrap();
        let at = orig.rfind("\"token\":\"t\"").unwrap();
        let changed = format!("{}\"token\":\"x\"{}", &orig[..at], &orig[at + 11..]);
        std::fs::write(&two, changed).unwrap();
        let b = check_all(&path).unwrap_err();
        assert_eq!((b.file, b.brk.line), (2, 1), "{b:?}");
        std::fs::write(&two, &orig).unwrap();

        // The last line of audit.log.2 removed: audit.log.1 no longer continues it.
        let cut: Vec<&str> = orig.lines().collect();
        std::fs::write(&two, cut[..cut.len() - 1].join("\n") + "\n").unwrap();
        let b = check_all(&path).unwrap_err();
        assert_eq!((b.file, b.brk.line), (2, 1), "{b:?}");
        assert!(b.brk.reason.contains("rotation"), "{b:?}");
        std::fs::write(&two, &orig).unwrap();

        // A whole rotated file (audit.log.2) left out.
        let t = texts(&path);
        assert_eq!(t.len(), 4);
        let gap = [t[0].as_str(), t[2].as_str(), t[3].as_str()];
        assert_eq!(check_files(&gap).unwrap_err().file, 1);
    }

    /// Concurrent appenders (threads with logs of their own, as separate processes
    /// would have) never chain two lines to one predecessor: the append lock.
    #[test]
    fn concurrent_appends_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let log = AuditLog::with_syslog(&path, "test", None);
                    for _ in 0..25 {
                        log.record(logout()).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(check_chain(&text).unwrap().lines, 100);
    }
}
