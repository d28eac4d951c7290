//! The key state: which keys exist, which role each has and whether it may sign.
//!
//! Private keys live only in the token (DPS-5.2). This file records what zonesign knows
//! about them — PKCS#11 id and label, role, algorithm, size, state and the public key —
//! so that the signer can decide which key signs what (DPS-6.1: the KSK signs only the
//! DNSKEY RRset, the ZSK everything else) without asking the token, and so that a
//! public key that changed in the token is noticed. It is written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dns::algorithm::Algorithm;
use crate::dns::name::Name;
use crate::dnssec::crypto;
use crate::error::{Error, KeyError, Result, UsageError};

/// What a key is for (DPS-6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Key-signing key: signs the DNSKEY RRset; its DS is in the parent. DNSKEY flags 257.
    Ksk,
    /// Zone-signing key: signs every other RRset. DNSKEY flags 256.
    Zsk,
}

impl Role {
    /// The role whose keys sign an RRset of type `rtype` (DPS-6.1): the KSK signs only
    /// the DNSKEY RRset, the ZSK everything else. The one place this rule lives.
    pub fn signing(rtype: u16) -> Role {
        if rtype == crate::dns::record::rtype::DNSKEY {
            Role::Ksk
        } else {
            Role::Zsk
        }
    }

    /// DNSKEY flags: zone key, plus SEP for a KSK (RFC 4034 §2.1.1).
    pub fn flags(self) -> u16 {
        match self {
            Role::Ksk => 257,
            Role::Zsk => 256,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: column widths in `key list` apply.
        f.pad(match self {
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
        })
    }
}

/// Where a key is in its life, as recorded in the key state (RFC 7583 terms, plus
/// `destroyed`). `ready` is never recorded by the lifecycle: `zonesign key list` shows
/// it for a published key whose DNSKEY is in every cache (see
/// [`crate::dnssec::lifecycle::listed_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// In the token, not yet in the zone.
    Generated,
    /// DNSKEY published, not yet signing.
    Published,
    /// Published long enough to be used.
    Ready,
    /// Published and signing.
    Active,
    /// No longer signing; DNSKEY may still be published.
    Retired,
    /// Gone from the zone; never used again (DPS-5.3). Its private key still exists in
    /// the token until `zonesign key destroy`.
    Removed,
    /// Removed, and its key objects destroyed in the token by `zonesign key destroy`
    /// (DPS-5.3): the end of every key's life. Recorded, not computed, so that the key
    /// state says which keys can no longer exist anywhere.
    Destroyed,
}

impl KeyState {
    /// Whether the key has left the zone for good (removed or destroyed; DPS-5.3).
    pub fn is_gone(self) -> bool {
        matches!(self, KeyState::Removed | KeyState::Destroyed)
    }

    /// Whether the DNSKEY is in the zone's DNSKEY RRset in this state.
    pub fn is_published(self) -> bool {
        matches!(
            self,
            KeyState::Published | KeyState::Ready | KeyState::Active | KeyState::Retired
        )
    }
}

/// One key as recorded in the key state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeyEntry {
    /// PKCS#11 CKA_ID, hex.
    pub id: String,
    /// PKCS#11 CKA_LABEL.
    pub label: String,
    /// KSK or ZSK.
    pub role: Role,
    /// Signing algorithm.
    #[serde(with = "alg_serde")]
    pub algorithm: Algorithm,
    /// Key size in bits.
    pub bits: u32,
    /// DNSSEC key tag (RFC 4034 Appendix B), cached for listings.
    pub tag: u16,
    /// Lifecycle state.
    pub state: KeyState,
    /// When the key was generated (UTC, RFC 3339).
    pub created: String,
    /// The DNSKEY public key field, base64, as exported from the token at generation.
    pub public_key: String,
    /// When the DNSKEY entered the zone (RFC 7583 "Tpub"). Absent in state files written
    /// before key lifecycles existed, hence the serde defaults on every timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// When the key started signing (RFC 7583 "Tact"). For an old state file this is
    /// filled in by the first run that knows about lifecycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// KSK only: when its DNSKEY had been published long enough for its DS to go to the
    /// parent (RFC 7583 "Trdy").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// KSK only: when the operator recorded that the parent publishes this key's DS
    /// (`zonesign key ds-seen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_seen: Option<String>,
    /// When the key stopped signing (RFC 7583 "Tret").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<String>,
    /// When its DNSKEY left the zone (RFC 7583 "Trem"); never used again (DPS-5.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    /// When the private object was destroyed in the token (`zonesign key destroy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed: Option<String>,
    /// Retired because of a suspected compromise (DPS-4.5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compromised: bool,
    /// Where an imported key came from (`key import`): `token` for a key pair another
    /// signer made in the token, `file: NAME` for a BIND key file put into the token.
    /// Such a key was not necessarily generated inside this token (DPS-5.1): `key
    /// list` and `check` say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<String>,
}

impl KeyEntry {
    /// A new entry for a key just generated in the token; it is not in the zone yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new_generated(
        id: String,
        label: String,
        role: Role,
        algorithm: Algorithm,
        bits: u32,
        tag: u16,
        created: i64,
        public_key: String,
    ) -> KeyEntry {
        KeyEntry {
            id,
            label,
            role,
            algorithm,
            bits,
            tag,
            state: KeyState::Generated,
            created: timestamp(created),
            public_key,
            published: None,
            active: None,
            ready: None,
            ds_seen: None,
            retired: None,
            removed: None,
            destroyed: None,
            compromised: false,
            imported: None,
        }
    }

    /// A recorded transition time as seconds since the epoch; `None` if absent or bad.
    pub fn time(field: &Option<String>) -> Option<i64> {
        field.as_deref().and_then(parse_timestamp)
    }

    /// The PKCS#11 id as bytes.
    pub fn id_bytes(&self) -> Result<Vec<u8>> {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(self.id.as_bytes())
            .map_err(|_| {
                Error::Key(KeyError::BadId {
                    tag: self.tag,
                    id: self.id.clone(),
                })
            })
    }

    /// The DNSKEY public key field as bytes.
    pub fn public_key_bytes(&self) -> Result<Vec<u8>> {
        data_encoding::BASE64
            .decode(self.public_key.as_bytes())
            .map_err(|_| Error::Key(KeyError::BadPublicKey { tag: self.tag }))
    }

    /// The DNSKEY RDATA of this key.
    pub fn dnskey_rdata(&self) -> Result<Vec<u8>> {
        Ok(dnskey_rdata(
            self.role.flags(),
            self.algorithm,
            &self.public_key_bytes()?,
        ))
    }
}

/// A time as the key state records it: RFC 3339, UTC, whole seconds (DPS-5.7).
pub fn timestamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses a [`timestamp`] back; `None` if it is not RFC 3339.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// DNSKEY RDATA: flags, protocol 3, algorithm, public key (RFC 4034 §2.1).
pub fn dnskey_rdata(flags: u16, alg: Algorithm, public_key: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(4 + public_key.len());
    r.extend_from_slice(&flags.to_be_bytes());
    r.push(3);
    r.push(alg.number());
    r.extend_from_slice(public_key);
    r
}

/// DS RDATA for a DNSKEY at `owner` with digest type 2 (SHA-256) or 4 (SHA-384).
pub fn ds_for(owner: &Name, dnskey: &[u8], digest_type: u8) -> Result<Vec<u8>> {
    let mut wire = Vec::new();
    owner.write_canonical(&mut wire);
    crypto::ds_rdata(&wire, dnskey, digest_type)
        .ok_or(Error::Usage(UsageError::UnsupportedDigest { digest_type }))
}

/// All keys zonesign manages, in the order they were generated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyStore {
    /// The zone these keys sign, recorded at the first signing, so `key ds` knows the
    /// owner name of the DS without being told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The keys.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyEntry>,
    /// The algorithm roll under way, if any (PIPE-7; see
    /// [`crate::dnssec::lifecycle::algorithm`]).
    #[serde(
        default,
        rename = "algorithm-roll",
        skip_serializing_if = "Option::is_none"
    )]
    pub algorithm_roll: Option<AlgorithmRoll>,
    /// The NSEC3 salt in use and when it was drawn (issue 24): saved with the key
    /// state after the zone that carries it is published, so the salt in force is
    /// always one a published zone was signed with.
    #[serde(
        default,
        rename = "nsec3-salt",
        skip_serializing_if = "Option::is_none"
    )]
    pub nsec3_salt: Option<Nsec3Salt>,
    /// In a pending state file only: the audit line whose presence in the log commits
    /// it (see [`KeyStore::commit`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<Commit>,
}

/// An algorithm roll in progress, RFC 6781 §4.1.4's conservative way: the keys of
/// algorithm `to` sign every RRset before their DNSKEYs are published, and the keys of
/// `from` keep signing after their DNSKEYs were withdrawn. Which keys are old and new
/// follows from the algorithm; the times are the steps taken so far (RFC 3339), each
/// recorded by the sign run that took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AlgorithmRoll {
    /// The algorithm rolled from.
    #[serde(with = "alg_serde")]
    pub from: Algorithm,
    /// The algorithm rolled to.
    #[serde(with = "alg_serde")]
    pub to: Algorithm,
    /// When `key rollover --algorithm` started it.
    pub started: String,
    /// The first sign run whose zone carried the new algorithm's signatures: the wait
    /// for them to be in every cache counts from here, not from the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_signatures: Option<String>,
    /// When the new DNSKEYs were published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_dnskeys: Option<String>,
    /// When the old DNSKEYs were withdrawn (their keys still sign until the roll ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_dnskeys_removed: Option<String>,
}

impl AlgorithmRoll {
    /// Whether the DNSKEY of a published-state key of algorithm `alg` is in the zone's
    /// DNSKEY RRset at this step of the roll.
    pub fn publishes(&self, alg: Algorithm) -> bool {
        if alg == self.to {
            self.new_dnskeys.is_some()
        } else if alg == self.from {
            self.old_dnskeys_removed.is_none()
        } else {
            true
        }
    }
}

/// A random NSEC3 salt and its age ([`crate::ops::denial`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Nsec3Salt {
    /// The salt, hexadecimal (as NSEC3PARAM presents it).
    pub salt: String,
    /// When it was drawn, seconds since the epoch.
    pub created: i64,
}

/// What commits a pending key state: the last audit line of the batch that logs its
/// changes, named by its SHA-256, in the audit log at `audit-log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Commit {
    /// The audit log (an absolute path, so any later run finds it).
    pub audit_log: std::path::PathBuf,
    /// SHA-256 (hex) of the committing line.
    pub line_sha256: String,
}

/// The pending key state beside `path` (`keys.toml` → `keys.toml.pending`).
fn pending_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pending");
    p.into()
}

impl KeyStore {
    /// Reads the key state: a pending state whose audit lines were written (a run
    /// stopped between committing and renaming, see [`KeyStore::commit`]), otherwise
    /// the key state file. Reading changes no file.
    pub fn load(path: &Path) -> Result<KeyStore> {
        if let Some(store) = Self::committed_pending(path)? {
            return Ok(store);
        }
        let mut store = Self::read(path)?;
        store.commit = None;
        Ok(store)
    }

    /// Writes the key state atomically (temporary file, fsync, rename), after
    /// settling a pending state a stopped run left (see [`KeyStore::recover`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        Self::recover(path)?;
        let mut plain = self.clone();
        plain.commit = None;
        crate::store::output::write_atomic(path, plain.encode()?.as_bytes())
    }

    /// Saves a key state whose changes are logged as `events` so that the audit
    /// trail and the state can never disagree, whenever a crash comes (DPS-4.4): the
    /// new state is first written beside the file as `keys.toml.pending`, naming the
    /// last line of the audit batch; the batch is then appended in one write (the
    /// commit point); only then is the pending file renamed over the state file.
    ///
    /// A crash before the append leaves an uncommitted pending file that [`load`]
    /// ignores and the next save removes (nothing happened, nothing is logged); a
    /// crash after it leaves a committed one that [`load`] reads and the next save
    /// renames into place (it happened and is logged exactly once). With no events
    /// this is a plain [`KeyStore::save`].
    ///
    /// [`load`]: KeyStore::load
    pub fn commit(
        &self,
        path: &Path,
        audit: &crate::audit::AuditLog,
        events: Vec<crate::audit::Event>,
    ) -> Result<()> {
        if events.is_empty() {
            return self.save(path);
        }
        Self::recover(path)?;
        let audit_io = |e| Error::io(audit.path(), e);
        let batch = audit.prepare(events).map_err(audit_io)?;
        let mut pending = self.clone();
        pending.commit = Some(Commit {
            audit_log: std::path::absolute(audit.path()).map_err(audit_io)?,
            line_sha256: batch.last_hash().to_string(),
        });
        let pending_file = pending_path(path);
        crate::store::output::write_atomic(&pending_file, pending.encode()?.as_bytes())?;
        if let Err(e) = audit.write_batch(&batch) {
            let _ = std::fs::remove_file(&pending_file);
            return Err(audit_io(e));
        }
        Self::install(&pending_file, path)
    }

    /// Settles a pending key state left by a run that stopped inside
    /// [`KeyStore::commit`]: a committed one replaces the state file, an uncommitted
    /// one is removed.
    pub fn recover(path: &Path) -> Result<()> {
        let pending_file = pending_path(path);
        if !pending_file.exists() {
            return Ok(());
        }
        if Self::committed_pending(path)?.is_some() {
            Self::install(&pending_file, path)
        } else {
            std::fs::remove_file(&pending_file).map_err(|e| Error::io(&pending_file, e))
        }
    }

    /// The pending key state, if there is one and the audit log holds its commit.
    fn committed_pending(path: &Path) -> Result<Option<KeyStore>> {
        let pending_file = pending_path(path);
        if !pending_file.exists() {
            return Ok(None);
        }
        let mut store = Self::read(&pending_file)?;
        let Some(commit) = store.commit.take() else {
            return Ok(None);
        };
        let logged = crate::audit::contains_line(&commit.audit_log, &commit.line_sha256)
            .map_err(|e| Error::io(&commit.audit_log, e))?;
        Ok(logged.then_some(store))
    }

    /// Renames a committed pending file over the state file, keeping its mode, and
    /// makes the rename durable.
    fn install(pending_file: &Path, path: &Path) -> Result<()> {
        if let Ok(m) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(pending_file, m.permissions());
        }
        std::fs::rename(pending_file, path).map_err(|e| Error::io(path, e))?;
        crate::store::output::sync_parent_dir(path);
        Ok(())
    }

    /// Reads one key state file as it is.
    fn read(path: &Path) -> Result<KeyStore> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|source| {
            Error::Key(KeyError::BadStateFile {
                path: path.to_path_buf(),
                source,
            })
        })
    }

    /// The TOML text of the key state.
    fn encode(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Key(KeyError::EncodeState(e)))
    }

    /// Keys of a role that sign now.
    pub fn active(&self, role: Role) -> impl Iterator<Item = &KeyEntry> {
        self.keys
            .iter()
            .filter(move |k| k.role == role && k.state == KeyState::Active)
    }

    /// The key with this tag, if exactly one key that is not removed (or destroyed) has
    /// it; a removed key is found only when no live key shares its tag.
    pub fn by_tag(&self, tag: u16) -> Result<usize> {
        let live: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].tag == tag && !self.keys[i].state.is_gone())
            .collect();
        let all: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].tag == tag)
            .collect();
        match (live.as_slice(), all.as_slice()) {
            ([i], _) => Ok(*i),
            ([], [i]) => Ok(*i),
            ([], []) => Err(Error::Key(KeyError::UnknownTag { tag })),
            _ => Err(Error::Key(KeyError::AmbiguousTag { tag })),
        }
    }

    /// Keys whose DNSKEY belongs in the zone now. During an algorithm roll that is not
    /// every key that signs: see [`AlgorithmRoll::publishes`].
    pub fn published(&self) -> impl Iterator<Item = &KeyEntry> {
        self.keys.iter().filter(|k| {
            k.state.is_published()
                && self
                    .algorithm_roll
                    .as_ref()
                    .is_none_or(|r| r.publishes(k.algorithm))
        })
    }
}

mod alg_serde {
    use crate::dns::algorithm::Algorithm;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, Event, KeyEvent};

    fn store(zone: &str) -> KeyStore {
        KeyStore {
            zone: Some(zone.into()),
            ..KeyStore::default()
        }
    }

    fn events() -> Vec<Event> {
        let change = |event, tag| Event::Key {
            event,
            tag,
            role: "zsk".into(),
            at: "2026-01-01T00:00:00Z".into(),
            detail: "test".into(),
            source: None,
        };
        vec![change(KeyEvent::Active, 1), change(KeyEvent::Retired, 2)]
    }

    /// What a run that stops inside `commit` leaves: the pending file, and the audit
    /// batch written or not.
    fn stopped_commit(path: &Path, audit: &AuditLog, new: &KeyStore, logged: bool) {
        let batch = audit.prepare(events()).unwrap();
        let mut pending = new.clone();
        pending.commit = Some(Commit {
            audit_log: std::path::absolute(audit.path()).unwrap(),
            line_sha256: batch.last_hash().to_string(),
        });
        crate::store::output::write_atomic(
            &pending_path(path),
            pending.encode().unwrap().as_bytes(),
        )
        .unwrap();
        if logged {
            audit.write_batch(&batch).unwrap();
        }
    }

    /// A directory with the key state `old.` saved and an empty audit log.
    fn old_state() -> (tempfile::TempDir, std::path::PathBuf, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let audit = AuditLog::with_syslog(&dir.path().join("audit.log"), "test", None);
        store("old.").save(&path).unwrap();
        (dir, path, audit)
    }

    fn audit_lines(audit: &AuditLog) -> usize {
        std::fs::read_to_string(audit.path())
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn commit_writes_state_and_its_audit_batch_dps_4_4() {
        let (_dir, path, audit) = old_state();
        store("new.").commit(&path, &audit, events()).unwrap();
        assert_eq!(KeyStore::load(&path).unwrap().zone.as_deref(), Some("new."));
        assert!(!pending_path(&path).exists());
        assert_eq!(audit_lines(&audit), 2);
        let text = std::fs::read_to_string(audit.path()).unwrap();
        assert!(crate::audit::verify_chain(&text).is_ok());
    }

    #[test]
    fn a_stop_before_the_audit_append_changes_nothing_dps_4_4() {
        let (_dir, path, audit) = old_state();
        stopped_commit(&path, &audit, &store("new."), false);
        assert_eq!(KeyStore::load(&path).unwrap().zone.as_deref(), Some("old."));
        // The next save drops the uncommitted state.
        store("next.").save(&path).unwrap();
        assert!(!pending_path(&path).exists());
        assert_eq!(
            KeyStore::load(&path).unwrap().zone.as_deref(),
            Some("next.")
        );
        assert_eq!(audit_lines(&audit), 0);
    }

    #[test]
    fn a_stop_after_the_audit_append_keeps_the_logged_state_dps_4_4() {
        let (_dir, path, audit) = old_state();
        stopped_commit(&path, &audit, &store("new."), true);
        let loaded = KeyStore::load(&path).unwrap();
        assert_eq!(loaded.zone.as_deref(), Some("new."));
        assert!(loaded.commit.is_none());
        // A later commit first puts the committed state in place.
        KeyStore::recover(&path).unwrap();
        assert!(!pending_path(&path).exists());
        assert_eq!(KeyStore::read(&path).unwrap().zone.as_deref(), Some("new."));
        assert_eq!(audit_lines(&audit), 2);
    }
}
