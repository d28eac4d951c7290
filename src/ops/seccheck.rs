//! `zonesign check`: the signing client security checklist (SEC-*), pre-filled.
//!
//! The national signing service's requirements come with a checklist (ID,
//! requirement, control in place, description) that the operator fills in for the
//! auditor. This module checks what a program can see on the running machine and
//! says what it saw, so the evidence column is facts, not promises. Rows a program
//! cannot judge are listed as "not checkable" so the form stays complete.
//!
//! Mandatory rows that fail make `zonesign check` exit non-zero; running as root
//! (SEC-6.2) is a warning only, because some deployments cannot avoid it yet.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;

use crate::audit::{AuditLog, Event, Outcome, check_chain, current_uid};
use crate::config::Config;
use crate::hsm::Module;
use crate::ops::setup::login;

/// Whether a control is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The control is in place.
    Yes,
    /// It is not.
    No,
    /// A program cannot tell; the operator must fill this in.
    NotCheckable,
}

impl Status {
    /// The checklist's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Yes => "yes",
            Status::No => "no",
            Status::NotCheckable => "not checkable",
        }
    }
}

/// One checklist row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Requirement ID (SEC-6.1, DPS-5.2...).
    pub id: &'static str,
    /// The requirement, in short.
    pub requirement: &'static str,
    /// Whether a "no" fails the check (a mandatory requirement) or only warns.
    pub mandatory: bool,
    /// Control in place?
    pub status: Status,
    /// What was looked at and what was found.
    pub evidence: String,
}

/// The filled-in checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// The rows in checklist order.
    pub rows: Vec<Row>,
    /// False when a mandatory row says "no".
    pub passed: bool,
}

/// Fills in the checklist for the setup `cfg` describes, as the current user.
///
/// Reading the keys' attributes needs a login; it is logged in the audit log like
/// every HSM act. The PIN is read only to look for it in the process arguments and
/// to log in; it is never printed.
pub fn run(cfg: &Config) -> Checklist {
    let uid = current_uid();
    let mut rows = vec![
        Row {
            id: "SEC-2.1",
            requirement: "The signing client environment does nothing but signing-related work",
            mandatory: true,
            status: Status::NotCheckable,
            evidence: "a program cannot judge what else this machine is used for; the operator fills this in".into(),
        },
        Row {
            id: "SEC-5.1",
            requirement: "The link to the signing service (HSM) uses vetted algorithms",
            mandatory: true,
            status: Status::NotCheckable,
            evidence: format!(
                "the PKCS#11 module {} hides how it reaches the HSM; check its transport settings (e.g. TLS P-384/AES-256/SHA-384)",
                cfg.hsm.module.display()
            ),
        },
        pin_file_row(cfg.hsm.pin_file.as_deref(), uid),
    ];
    // The own PIN files of `extra-tokens` entries are held to the same rule.
    for t in cfg.signing_tokens() {
        if let Some(file) = &t.pin_file {
            rows.push(pin_file_row(Some(file), uid));
        }
    }
    let pin = cfg.pin();
    rows.push(pin_argument_row(pin.as_ref().ok()));
    rows.push(writable_row(cfg, uid));
    rows.push(root_row(uid));
    rows.push(match &pin {
        Ok(p) => key_row(cfg, p),
        Err(e) => Row {
            id: "DPS-5.2",
            requirement: KEY_REQUIREMENT,
            mandatory: true,
            status: Status::NotCheckable,
            evidence: format!("cannot log in to read the key attributes: {e}"),
        },
    });
    rows.push(recovery_row(cfg));
    rows.push(rfc9905_row(cfg));
    rows.push(audit_chain_row(cfg));
    rows.push(syslog_row(cfg));
    let passed = !rows.iter().any(|r| r.mandatory && r.status == Status::No);
    Checklist { rows, passed }
}

/// RFC 9905: no key in the zone (published or active) is of an algorithm that must no
/// longer sign. Not mandatory: the practice statement's 2015 profile still names
/// RSASHA1, and the way off it is an algorithm rollover, not a failed check.
fn rfc9905_row(cfg: &Config) -> Row {
    let mut row = Row {
        id: "RFC 9905",
        requirement: "No key in the zone uses an algorithm RFC 9905 forbids for signing (RSASHA1)",
        mandatory: false,
        status: Status::Yes,
        evidence: String::new(),
    };
    match crate::dnssec::keys::KeyStore::load(&cfg.files.keys) {
        Err(e) => {
            row.status = Status::NotCheckable;
            row.evidence = format!("cannot read the key state: {e}");
        }
        Ok(store) => {
            let bad: Vec<String> = store
                .published()
                .filter(|k| k.algorithm.forbidden_by_rfc9905())
                .map(|k| format!("{} {} ({})", k.role, k.tag, k.algorithm))
                .collect();
            match bad.first() {
                None => {
                    row.evidence = format!(
                        "the zone's {} key(s) use no forbidden algorithm",
                        store.published().count()
                    )
                }
                Some(_) => {
                    row.status = Status::No;
                    row.evidence = format!(
                        "{}: {}",
                        bad.join(", "),
                        crate::dns::algorithm::Algorithm::RsaSha1.rfc9905_warning()
                    );
                }
            }
        }
    }
    row
}

const KEY_REQUIREMENT: &str = "Every private key in the token is sensitive and never extractable (CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE)";

/// SEC-6.1: the PIN file belongs to the running user and only they can read it.
fn pin_file_row(file: Option<&std::path::Path>, uid: Option<u32>) -> Row {
    let mut row = Row {
        id: "SEC-6.1",
        requirement: "The PIN file is owned by the running user and has mode 0600 or stricter",
        mandatory: true,
        status: Status::No,
        evidence: String::new(),
    };
    let Some(file) = file else {
        row.status = Status::NotCheckable;
        row.evidence = format!(
            "no pin-file in the config; the PIN comes from {} (keep it out of shell history and unit files readable by others)",
            crate::config::PIN_ENV
        );
        return row;
    };
    match std::fs::metadata(file) {
        Err(e) => row.evidence = format!("{}: {e}", file.display()),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o7777;
            let owner_ok = Some(m.uid()) == uid;
            let mode_ok = mode & 0o077 == 0;
            row.status = if owner_ok && mode_ok {
                Status::Yes
            } else {
                Status::No
            };
            row.evidence = format!(
                "{}: owner uid {} ({}), mode {mode:04o} ({})",
                file.display(),
                m.uid(),
                if owner_ok {
                    "the running user"
                } else {
                    "NOT the running user"
                },
                if mode_ok {
                    "owner only"
                } else {
                    "readable or writable by group or others"
                }
            );
        }
    }
    row
}

/// SEC-6.1: the PIN is not on this process's command line (visible to every user).
fn pin_argument_row(pin: Option<&crate::hsm::Pin>) -> Row {
    let mut row = Row {
        id: "SEC-6.1",
        requirement: "The PIN is not given on the command line",
        mandatory: true,
        status: Status::NotCheckable,
        evidence: String::new(),
    };
    let Some(pin) = pin else {
        row.evidence = "no PIN could be read to look for".into();
        return row;
    };
    match std::fs::read("/proc/self/cmdline") {
        Err(e) => row.evidence = format!("/proc/self/cmdline: {e}"),
        Ok(args) => {
            let found = pin.found_in(&args);
            row.status = if found { Status::No } else { Status::Yes };
            row.evidence = if found {
                "the PIN appears in /proc/self/cmdline: every local user can read it; change the PIN and pass it through the PIN file".into()
            } else {
                format!(
                    "the PIN does not appear in /proc/self/cmdline ({} arguments); zonesign takes no PIN argument",
                    args.split(|&b| b == 0).filter(|a| !a.is_empty()).count()
                )
            };
        }
    }
    row
}

/// SEC-6.1: nobody but the owner (the running user or root) can change the config or
/// the module, which decide which code gets the PIN.
fn writable_row(cfg: &Config, uid: Option<u32>) -> Row {
    let mut paths = vec![cfg.path.clone(), cfg.hsm.module.clone()];
    for p in [&cfg.path, &cfg.hsm.module] {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        if let Some(parent) = abs.parent() {
            paths.push(parent.to_path_buf());
        }
    }
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for p in &paths {
        match path_safety(p, uid) {
            Ok(desc) => seen.push(desc),
            Err(desc) => bad.push(desc),
        }
    }
    let status = if bad.is_empty() {
        Status::Yes
    } else {
        Status::No
    };
    Row {
        id: "SEC-6.1",
        requirement: "The config file and the PKCS#11 module (and their directories) are not writable by others",
        mandatory: true,
        status,
        evidence: if bad.is_empty() {
            seen.join("; ")
        } else {
            bad.join("; ")
        },
    }
}

/// `Ok(description)` if only the running user or root owns and can write `path`
/// (following symlinks, as loading does), else `Err(description)`.
fn path_safety(path: &Path, uid: Option<u32>) -> Result<String, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = m.permissions().mode() & 0o7777;
    let owner_ok = m.uid() == 0 || Some(m.uid()) == uid;
    let desc = format!("{} uid {} mode {mode:04o}", path.display(), m.uid());
    if owner_ok && mode & 0o022 == 0 {
        Ok(desc)
    } else if !owner_ok {
        Err(format!("{desc}: owned by another user"))
    } else {
        Err(format!("{desc}: writable by group or others"))
    }
}

/// SEC-6.2: services do not run as root. A warning: root works, but should not.
fn root_row(uid: Option<u32>) -> Row {
    let (status, evidence) = match uid {
        Some(0) => (
            Status::No,
            "running as root (uid 0): run zonesign as a dedicated unprivileged user (warning, not a refusal)".to_string(),
        ),
        Some(u) => (Status::Yes, format!("running as uid {u}")),
        None => (
            Status::NotCheckable,
            "cannot read the uid of /proc/self".to_string(),
        ),
    };
    Row {
        id: "SEC-6.2",
        requirement: "The signer does not run as root",
        mandatory: false,
        status,
        evidence,
    }
}

const RECOVERY_REQUIREMENT: &str = "The token and its keys survive a kill or power cut of the signer (embedded SoftHSM2 token: a current recovery copy of its state file; an HSM: the vendor's backup)";

/// DPS-5.2: the keys live only in the token, so losing the token loses them. The
/// embedded SoftHSM2 token's state file has a recovery copy that zonesign keeps
/// ([`crate::hsm::recovery`]); for any other token only the HSM's own backup helps.
fn recovery_row(cfg: &Config) -> Row {
    use crate::hsm::recovery::{CopyState, status};
    let mut row = Row {
        id: "DPS-5.2",
        requirement: RECOVERY_REQUIREMENT,
        mandatory: true,
        status: Status::NotCheckable,
        evidence: String::new(),
    };
    let Some((tokens, store)) = cfg.embedded_token_dirs() else {
        row.evidence = format!(
            "token '{}' is not the embedded SoftHSM2 token; back it up with the HSM's own tools (backup HSMs or key backups, DPS-5.2) and test a restore",
            cfg.hsm.token
        );
        return row;
    };
    let states = match status(&tokens, &store) {
        Ok(s) => s,
        Err(e) => {
            row.status = Status::No;
            row.evidence = format!(
                "cannot read {} or {}: {e}",
                tokens.display(),
                store.display()
            );
            return row;
        }
    };
    let mut notes = Vec::new();
    let mut ok = !states.is_empty();
    for s in &states {
        match s {
            CopyState::Current { dir, label } => notes.push(format!(
                "token '{label}' ({dir}): recovery copy present and current in {}",
                store.display()
            )),
            CopyState::Stale { dir, label } => {
                ok = false;
                notes.push(format!(
                    "token '{label}' ({dir}): no current recovery copy in {} (is the directory writable by this user?)",
                    store.display()
                ));
            }
            CopyState::LiveDamaged { dir, damage, copy } => {
                ok = false;
                notes.push(format!(
                    "token directory {dir}: {damage}; {}",
                    if *copy {
                        "the next zonesign command restores it from the recovery copy"
                    } else {
                        "there is no recovery copy: restore token.object from a backup"
                    }
                ));
            }
        }
    }
    if states.is_empty() {
        notes.push(format!("no token found in {}", tokens.display()));
    }
    row.status = if ok { Status::Yes } else { Status::No };
    row.evidence = notes.join("; ");
    row
}

/// DPS-5.2: every private key on the token is locked inside it.
fn key_row(cfg: &Config, pin: &crate::hsm::Pin) -> Row {
    let mut row = Row {
        id: "DPS-5.2",
        requirement: KEY_REQUIREMENT,
        mandatory: true,
        status: Status::NotCheckable,
        evidence: String::new(),
    };
    let audit = AuditLog::new(&cfg.files.audit_log, "check");
    let module = match Module::load(&cfg.hsm.module) {
        Ok(m) => m,
        Err(e) => {
            let _ = audit.record(Event::Login {
                token: Some(cfg.hsm.token.clone()),
                worker: None,
                result: Outcome::failed(&e),
            });
            row.evidence = e.to_string();
            return row;
        }
    };
    let token = match login(&module, &cfg.hsm.token, pin, &audit) {
        Ok(t) => t,
        Err(e) => {
            row.evidence = e.to_string();
            return row;
        }
    };
    let mut bad = Vec::new();
    let mut count = 0;
    let from_file = file_imported_ids(cfg);
    let result = token.private_key_ids().map(|ids| {
        for (id, label) in ids {
            count += 1;
            // A key put in from a file was known outside the token before: it cannot be
            // always sensitive or never extractable, only both from the import on.
            let was_a_file = from_file.contains(&data_encoding::HEXLOWER.encode(&id));
            match token.key_attributes(&id) {
                Ok(a)
                    if a.sensitive
                        && !a.extractable
                        && ((a.never_extractable && a.always_sensitive) || was_a_file) => {}
                Ok(a) => bad.push(format!(
                    "{label}: sensitive={} extractable={} never-extractable={} always-sensitive={}",
                    a.sensitive, a.extractable, a.never_extractable, a.always_sensitive
                )),
                Err(e) => bad.push(format!("{label}: {e}")),
            }
        }
    });
    // As before, a logout line that cannot be written does not change the row.
    let _ = token.logout();
    let imported = imported_keys(cfg);
    match result {
        Err(e) => row.evidence = e.to_string(),
        Ok(()) if bad.is_empty() => {
            row.status = Status::Yes;
            row.evidence = format!(
                "token {:?}: {count} private key(s), all sensitive, never extractable, always sensitive{}",
                cfg.hsm.token,
                if from_file.is_empty() {
                    ""
                } else {
                    " (but those imported from a key file: sensitive and not extractable since the import)"
                }
            );
        }
        Ok(()) => {
            row.status = Status::No;
            row.evidence = format!("token {:?}: {}", cfg.hsm.token, bad.join("; "));
        }
    }
    row.evidence.push_str(&imported);
    row
}

/// The keys of the key state that `key import` took over, for the DPS-5.2 row: they
/// were not necessarily generated inside this token, and the operator should know.
/// Those put in from a key file (`--from-file`) are listed apart: their file is the one
/// copy outside the HSM, for the operator to destroy.
fn imported_keys(cfg: &Config) -> String {
    let Ok(store) = crate::dnssec::keys::KeyStore::load(&cfg.files.keys) else {
        return String::new();
    };
    let (mut token, mut file) = (Vec::new(), Vec::new());
    for k in store.keys.iter().filter(|k| !k.state.is_gone()) {
        match k.imported.as_deref() {
            Some(from) if from.starts_with("file") => file.push(format!("{} ({from})", k.tag)),
            Some(from) => token.push(format!("{} ({from})", k.tag)),
            None => {}
        }
    }
    let mut out = String::new();
    if !token.is_empty() {
        out.push_str(&format!(
            "; imported, not necessarily generated in this token: {}",
            token.join(", ")
        ));
    }
    if !file.is_empty() {
        out.push_str(&format!(
            "; imported from a key file, sensitive and not extractable in the token since the import (never always-sensitive): {}: the file, and every copy of it, is the operator's to destroy securely now",
            file.join(", ")
        ));
    }
    out
}

/// The PKCS#11 ids (hex) of the keys imported from a key file, in any state (a removed
/// key's objects stay in the token until `key destroy`).
fn file_imported_ids(cfg: &Config) -> Vec<String> {
    crate::dnssec::keys::KeyStore::load(&cfg.files.keys)
        .map(|store| {
            store
                .keys
                .into_iter()
                .filter(|k| k.imported.as_deref().is_some_and(|f| f.starts_with("file")))
                .map(|k| k.id)
                .collect()
        })
        .unwrap_or_default()
}

/// SEC-6.5 / DPS-4.4: the audit log's hash chain is intact.
fn audit_chain_row(cfg: &Config) -> Row {
    let path = &cfg.files.audit_log;
    let (status, evidence) = match std::fs::read_to_string(path) {
        Err(e) => (Status::No, format!("{}: {e}", path.display())),
        Ok(text) => match check_chain(&text) {
            Ok(s) => (
                Status::Yes,
                format!(
                    "{}: {} lines, hash chain intact, last line SHA-256 {}",
                    path.display(),
                    s.lines,
                    s.last_hash
                ),
            ),
            Err(b) => (
                Status::No,
                format!(
                    "{}: chain broken at line {}: {}",
                    path.display(),
                    b.line,
                    b.reason
                ),
            ),
        },
    };
    Row {
        id: "SEC-6.5",
        requirement: "HSM logins, failed attempts and key use are logged, tamper-evident (audit chain intact)",
        mandatory: true,
        status,
        evidence,
    }
}

/// SEC-6.5: the log is forwarded to a central log server (through local syslog).
fn syslog_row(cfg: &Config) -> Row {
    use std::os::unix::fs::FileTypeExt;
    let a = cfg.audit();
    let (status, evidence) = if !a.syslog {
        (
            Status::No,
            format!(
                "{}: [audit] syslog is off; set syslog = true (and facility) so events reach the central collector",
                cfg.path.display()
            ),
        )
    } else {
        match std::fs::metadata(&a.socket) {
            Ok(m) if m.file_type().is_socket() => (
                Status::Yes,
                format!(
                    "[audit] syslog = true, facility {}, socket {} present; forwarding from there to the central server is the syslog daemon's job",
                    a.facility,
                    a.socket.display()
                ),
            ),
            Ok(_) => (
                Status::No,
                format!(
                    "[audit] syslog = true but {} is not a socket",
                    a.socket.display()
                ),
            ),
            Err(e) => (
                Status::No,
                format!(
                    "[audit] syslog = true but {}: {e} (is the syslog daemon running?)",
                    a.socket.display()
                ),
            ),
        }
    };
    Row {
        id: "SEC-6.5",
        requirement: "Audit events are forwarded to a central log server (syslog)",
        mandatory: true,
        status,
        evidence,
    }
}

impl Checklist {
    /// Plain text, one block per row.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.rows {
            let flag = match (r.status, r.mandatory) {
                (Status::No, true) => "  FAIL",
                (Status::No, false) => "  WARNING",
                _ => "",
            };
            out.push_str(&format!(
                "{:<8} {:<14} {}{flag}\n         {}\n",
                r.id,
                r.status.as_str(),
                r.requirement,
                r.evidence
            ));
        }
        out.push_str(if self.passed {
            "zonesign check: every mandatory control that can be checked is in place\n"
        } else {
            "zonesign check: a mandatory control is NOT in place\n"
        });
        out
    }

    /// A Markdown table in the checklist's own columns, to paste into the form.
    pub fn to_markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = String::from(
            "| ID | Requirement | Mandatory | Control in place | Description |\n|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.id,
                cell(r.requirement),
                if r.mandatory { "yes" } else { "no (warning)" },
                r.status.as_str(),
                cell(&r.evidence)
            ));
        }
        out
    }

    /// One JSON object: `passed` and `rows`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_a_warning_not_a_failure_sec_6_2() {
        let r = root_row(Some(0));
        assert_eq!(r.status, Status::No);
        assert!(!r.mandatory);
        assert_eq!(root_row(Some(1000)).status, Status::Yes);
    }

    #[test]
    fn writable_paths_are_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let uid = current_uid();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(path_safety(&f, uid).is_ok());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(path_safety(&f, uid).unwrap_err().contains("writable"));
        assert!(path_safety(&dir.path().join("missing"), uid).is_err());
    }

    #[test]
    fn formats_carry_every_row() {
        let c = Checklist {
            rows: vec![root_row(Some(0)), root_row(Some(5))],
            passed: true,
        };
        assert_eq!(c.to_markdown().lines().count(), 4);
        assert!(c.to_text().contains("WARNING"));
        let v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(v["rows"][0]["status"], "no");
        assert_eq!(v["rows"][1]["status"], "yes");
        assert_eq!(v["passed"], true);
    }
}
