//! `zonesign key generate` and `zonesign key destroy`: the two key commands that act in
//! the token.
//!
//! Both run under the key-state lock (a sign run may save the state meanwhile), log in
//! through [`LoggedIn`] (so the `login` and `logout` audit lines always come in pairs,
//! DPS-4.4, SEC-6.5), make the embedded token's files durable after the token changed,
//! and save the key state. The other key commands change only the key state and stay
//! in [`crate::cli`]. The CLI parses the arguments, calls these and prints the result.

use crate::audit::{AuditLog, Destruction, Event, Outcome};
use crate::config::Config;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::{KeyEntry, KeyState, KeyStore, Role, timestamp};
use crate::dnssec::lifecycle::{self, Change};
use crate::error::{Error, KeyError, Result, UsageError};
use crate::hsm::Module;
use crate::ops::setup::{LoggedIn, generate as generate_one, login};
use crate::store::output::OutputLock;

/// Options of `zonesign key generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Role of the new keys.
    pub role: Role,
    /// Algorithm; `None`: that of the active key of this role, else the policy's.
    pub algorithm: Option<Algorithm>,
    /// RSA key size; `None`: the policy's `ksk-bits` or `zsk-bits`.
    pub bits: Option<u32>,
    /// How many keys (at least 1).
    pub count: u32,
    /// The keys' creation time (`--now`, else the clock).
    pub now: i64,
}

/// What `key generate` made.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The new keys, state `generated`, in the order they were made and saved.
    pub keys: Vec<KeyEntry>,
}

/// Generates `opts.count` keys inside the token (DPS-5.1), state `generated`: they are
/// published only by a roll.
///
/// `made` is told of each key as soon as it is in the token, before the state is
/// saved, so the caller can report each one as it comes: a failure later (the next
/// key, the save) leaves the earlier keys in the token and in the state. The state is
/// saved after each key, so no key in the token stays unrecorded. A token without the
/// algorithm's mechanisms gets no key; the refusal is audit-logged as a failed
/// `keygen`.
pub fn generate(
    cfg: &Config,
    opts: &GenerateOptions,
    made: &mut dyn FnMut(&KeyEntry),
) -> Result<Generated> {
    let policy = cfg.policy()?;
    // A sign run holds this lock while it may save the key state (exit 5: try again).
    let _lock = OutputLock::acquire(&cfg.files.keys)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let role = opts.role;
    let alg = opts.algorithm.unwrap_or_else(|| {
        store
            .active(role)
            .next()
            .map_or(policy.algorithm, |k| k.algorithm)
    });
    let bits = opts.bits.unwrap_or(match role {
        Role::Ksk => policy.ksk_bits,
        Role::Zsk => policy.zsk_bits,
    });
    if opts.count == 0 {
        return Err(Error::Usage(UsageError::BadOptionValue {
            option: "--count",
            requirement: "at least 1",
        }));
    }
    let audit = AuditLog::new(&cfg.files.audit_log, "key generate");
    let module = Module::load(&cfg.hsm.module)?;
    let token = login(&module, &cfg.hsm.token, &cfg.pin()?, &audit)?;
    if !token.mechanisms_for(alg) {
        // A refused key generation is an HSM act too (DPS-4.4, SEC-6.5); a failure to
        // log it must not hide the refusal.
        let _ = token.logout_after(Event::Keygen {
            role: role.to_string(),
            algorithm: alg.name().to_string(),
            result: Outcome::failed("mechanism missing in the token"),
        });
        return Err(Error::Key(KeyError::MechanismMissing {
            token: cfg.hsm.token.clone(),
            algorithm: alg,
        }));
    }
    let mut keys = Vec::new();
    for _ in 0..opts.count {
        let mut k = generate_one(&token, role, alg, bits, &audit)?;
        k.state = KeyState::Generated;
        k.created = timestamp(opts.now);
        made(&k);
        store.keys.push(k.clone());
        // Saved after each key, so a failure later leaves no key in the token unrecorded.
        store.save(&cfg.files.keys)?;
        keys.push(k);
    }
    end_session(token, cfg).map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    Ok(Generated { keys })
}

/// Options of `zonesign key destroy`.
#[derive(Debug, Clone, Copy)]
pub struct DestroyOptions {
    /// The key's tag.
    pub tag: u16,
    /// Time of the act (`--now`, else the clock).
    pub now: i64,
}

/// What `key destroy` did.
#[derive(Debug, Clone)]
pub struct Destroyed {
    /// The change recorded in the key state (event `destroyed`).
    pub change: Change,
    /// No object with the key's PKCS#11 id was left in the token (destroyed earlier,
    /// or outside zonesign): the key was only recorded as destroyed, and the CLI warns.
    pub nothing_left: bool,
}

/// Destroys a removed key's objects in the token (DPS-5.3).
///
/// Under the key-state lock: checks the state ([`lifecycle::destroy_check`]; a refusal
/// touches neither token nor state), logs in, destroys the private and public objects,
/// logs `key-destroyed` at once (tag, role, PKCS#11 id and label, never key material;
/// the audit line carries the OS user), logs out, and records the key as destroyed in
/// the key state (saved atomically). The destruction is logged before the state is
/// saved because the token has changed whatever happens next; if the save fails,
/// running the command again completes the record: a key with no objects left is
/// recorded as destroyed ([`Destroyed::nothing_left`]).
pub fn destroy(cfg: &Config, opts: &DestroyOptions) -> Result<Destroyed> {
    let policy = cfg.policy()?;
    let _lock = OutputLock::acquire(&cfg.files.keys)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let i = lifecycle::destroy_check(&store, &policy, opts.tag)?;
    let k = store.keys[i].clone();
    let id = k.id_bytes()?;
    let audit = AuditLog::new(&cfg.files.audit_log, "key destroy");
    let audit_io = |e| Error::io(&cfg.files.audit_log, e);
    let destroyed = |result| Event::KeyDestroyed {
        tag: k.tag,
        role: k.role.to_string(),
        id: k.id.clone(),
        label: k.label.clone(),
        result,
    };
    let module = Module::load(&cfg.hsm.module)?;
    let token = login(&module, &cfg.hsm.token, &cfg.pin()?, &audit)?;
    let objects = match token.destroy_key(&id) {
        Ok(o) => o,
        Err(e) => {
            // A failed attempt on a key is an HSM act too (SEC-6.5); logging it must
            // not hide the HSM error. Dropping `token` writes the logout line.
            let _ = audit.record(destroyed(Outcome::failed(&e)));
            drop(token);
            return Err(e.into());
        }
    };
    let nothing_left = objects.private + objects.public == 0;
    let detail = if nothing_left {
        format!(
            "no object with its PKCS#11 id was left in token '{}' (destroyed earlier, or outside zonesign); recorded as destroyed",
            cfg.hsm.token
        )
    } else {
        format!(
            "{} private and {} public key object(s) destroyed in token '{}'",
            objects.private, objects.public, cfg.hsm.token
        )
    };
    let change = lifecycle::record_destroyed(&mut store, i, opts.now, detail);
    let logged = audit.record(destroyed(Outcome::Ok(Destruction {
        at: change.at.clone(),
        detail: change.detail.clone(),
        private_objects: objects.private,
        public_objects: objects.public,
    })));
    let logout = end_session(token, cfg);
    // The token has changed: the state is saved even if the audit log failed.
    store.save(&cfg.files.keys)?;
    logged.and(logout).map_err(audit_io)?;
    Ok(Destroyed {
        change,
        nothing_left,
    })
}

/// Logs out (the `logout` line) and makes the token's files durable.
fn end_session(token: LoggedIn<'_>, cfg: &Config) -> std::io::Result<()> {
    let logout = token.logout();
    sync_embedded_token(cfg);
    logout
}

/// Makes the embedded token's files durable after the token changed (SoftHSM2 never
/// fsyncs: a power cut could otherwise lose a key generated a moment before).
fn sync_embedded_token(cfg: &Config) {
    if let Some((tokens, _)) = cfg.embedded_token_dirs() {
        crate::hsm::recovery::sync_token_files(&tokens);
    }
}

/// RFC 9905: the warning for the `keys` (made or signing in this run) of an algorithm it
/// forbids, one per algorithm, and, unless `dry_run`, one `algorithm-deprecated` audit
/// line per run. Returns the warnings for the caller to print and report.
pub fn rfc9905_warnings<'a>(
    audit: &AuditLog,
    keys: impl IntoIterator<Item = &'a KeyEntry>,
    dry_run: bool,
) -> Result<Vec<String>> {
    let mut by_alg: std::collections::BTreeMap<Algorithm, Vec<u16>> = Default::default();
    for k in keys
        .into_iter()
        .filter(|k| k.algorithm.forbidden_by_rfc9905())
    {
        by_alg.entry(k.algorithm).or_default().push(k.tag);
    }
    let mut warnings = Vec::new();
    for (alg, tags) in by_alg {
        let advice = alg.rfc9905_warning();
        let list: Vec<String> = tags.iter().map(u16::to_string).collect();
        warnings.push(format!("key(s) {}: {advice}", list.join(", ")));
        if !dry_run {
            audit
                .record(Event::AlgorithmDeprecated {
                    algorithm: alg.name().to_string(),
                    tags,
                    advice,
                })
                .map_err(|e| Error::io(audit.path(), e))?;
        }
    }
    Ok(warnings)
}
