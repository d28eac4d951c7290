//! `zonesign init`: the embedded default setup, made in one step.
//!
//! Creates a directory with a SoftHSM2 token, random SO and user PINs in owner-only
//! files, one KSK and one ZSK generated inside the token (DPS-5.1, DPS-5.2), the key
//! state, the audit log and a `zonesign.toml` that ties them together. It asks nothing
//! and refuses to touch an existing setup. If any step fails, the directory it created
//! is removed again, so a failed init leaves nothing half-made behind.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::audit::{AuditLog, Event, KeyEvent, NewKey, Outcome, SavedCopy};
use crate::config::{CONFIG_NAME, Config, FilesSection, HsmSection};
use crate::dns::algorithm::Algorithm;
use crate::dnssec::crypto;
use crate::dnssec::keys::{KeyEntry, KeyState, KeyStore, Role, dnskey_rdata};
use crate::dnssec::policy::Policy;
use crate::error::{Error, KeyError, Result, UsageError};
use crate::hsm::recovery::RECOVERY_DIR;
use crate::hsm::{HsmError, Module, Pin, Token};

/// Where Debian and other distributions install SoftHSM2's module.
pub const SOFTHSM_MODULES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// Options of `zonesign init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The setup directory.
    pub dir: PathBuf,
    /// Algorithm of the two keys.
    pub algorithm: Algorithm,
    /// Token label.
    pub token: String,
    /// PKCS#11 module; SoftHSM2's when absent.
    pub module: Option<PathBuf>,
    /// The keys' creation and activation time (`--now`, else the clock).
    pub now: i64,
}

/// What init made, for the message to the operator.
#[derive(Debug, Clone)]
pub struct InitSummary {
    /// The config file.
    pub config: PathBuf,
    /// The user PIN file.
    pub pin_file: PathBuf,
    /// The SO PIN file.
    pub so_pin_file: PathBuf,
    /// The keys made.
    pub keys: Vec<KeyEntry>,
    /// The folder of the token state's recovery copy ([`crate::hsm::recovery`]).
    pub recovery: PathBuf,
}

/// Runs `zonesign init`.
pub fn init(opts: &InitOptions) -> Result<InitSummary> {
    let module = match &opts.module {
        Some(m) => m.clone(),
        None => default_module().ok_or(Error::Key(KeyError::NoSoftHsmModule))?,
    };
    in_new_setup(&opts.dir, |config| build(opts, &module, config))
}

/// Runs `make` with the config path of a new setup in `dir`: refused when `dir` has a
/// config already; when `make` fails, a `dir` this run created is removed again (an
/// existing directory is left alone).
fn in_new_setup<T>(dir: &Path, make: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let config = dir.join(CONFIG_NAME);
    if config.exists() {
        return Err(Error::Usage(UsageError::ConfigExists { path: config }));
    }
    let created = !dir.exists();
    let result = make(&config);
    if result.is_err() && created {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Options of `zonesign init --adopt`: a config for a token that exists.
#[derive(Debug, Clone)]
pub struct AdoptOptions {
    /// The setup directory.
    pub dir: PathBuf,
    /// The PKCS#11 module of the token.
    pub module: PathBuf,
    /// The token: label or PKCS#11 URI (RFC 7512).
    pub token: String,
    /// The operator's PIN file (mode 0600), named in the config, never copied.
    pub pin_file: PathBuf,
    /// SoftHSM2's configuration, when the token is a SoftHSM2 one.
    pub softhsm_conf: Option<PathBuf>,
    /// The algorithm of the keys to be imported (`--algorithm`), for the policy.
    pub algorithm: Algorithm,
}

/// `zonesign init --adopt` (issue 23): a config and an empty key state for a token that
/// exists, typically another signer's. It creates no token and no key: the keys come
/// from `key import`. The PIN file is checked (owner-only, not empty) and a login is
/// tried, so a wrong module, token or PIN shows now, not at the first sign run; the
/// login and logout are audit lines of the new log.
pub fn adopt(opts: &AdoptOptions) -> Result<PathBuf> {
    in_new_setup(&opts.dir, |config| {
        adopt_in(opts, config).map(|()| config.to_path_buf())
    })
}

fn adopt_in(opts: &AdoptOptions, config_path: &Path) -> Result<()> {
    make_private_dir(&opts.dir)?;
    let pin = crate::config::read_pin_file(&opts.pin_file)?;
    if let Some(conf) = &opts.softhsm_conf {
        // init runs single-threaded, before the PKCS#11 module is loaded.
        crate::config::export_softhsm_conf(&absolute(conf));
    }
    let audit = AuditLog::new(&opts.dir.join("audit.log"), "init");
    let module = Module::load(&opts.module)?;
    let token = login(&module, &opts.token, &pin, &audit)?;
    token
        .logout()
        .map_err(|e| Error::io(opts.dir.join("audit.log"), e))?;
    let cfg = new_config(
        absolute(&opts.module),
        &opts.token,
        absolute(&opts.pin_file),
        opts.softhsm_conf.as_deref().map(absolute),
        config_path,
    );
    KeyStore::default().save(&opts.dir.join("keys.toml"))?;
    let mut text =
        toml::to_string_pretty(&cfg).map_err(|e| Error::Usage(UsageError::EncodeConfig(e)))?;
    // As `init` does: the policy names the keys' algorithm when it is not the practice
    // statement's, so the first run with the imported keys does not warn of a mismatch.
    if opts.algorithm != crate::dnssec::policy::Policy::default().algorithm {
        text.push_str(&format!(
            "\n[policy]\nalgorithm = \"{}\"\n",
            opts.algorithm.name()
        ));
    }
    crate::store::output::write_atomic(config_path, text.as_bytes())
}

/// The config `init` writes (with or without `--adopt`): the token, its PIN file and
/// SoftHSM2 configuration, the key state and audit log beside it, every other setting
/// at its default.
fn new_config(
    module: PathBuf,
    token: &str,
    pin_file: PathBuf,
    softhsm_conf: Option<PathBuf>,
    config_path: &Path,
) -> Config {
    Config {
        hsm: HsmSection {
            module,
            token: token.to_string(),
            pin_file: Some(pin_file),
            softhsm_conf,
            sessions: 0,
            extra_tokens: Vec::new(),
            session_key_copies: true,
            worker_processes: true,
        },
        files: FilesSection {
            keys: PathBuf::from("keys.toml"),
            audit_log: PathBuf::from("audit.log"),
            policy: None,
        },
        policy: None,
        audit: None,
        ingress: None,
        egress: None,
        path: config_path.to_path_buf(),
    }
}

fn default_module() -> Option<PathBuf> {
    SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn build(opts: &InitOptions, module_path: &Path, config_path: &Path) -> Result<InitSummary> {
    let dir = &opts.dir;
    make_private_dir(dir)?;
    let tokens = dir.join("tokens");
    make_private_dir(&tokens)?;
    let softhsm_conf = dir.join("softhsm2.conf");
    let conf_text = format!(
        "# SoftHSM2 configuration of the zonesign embedded token\ndirectories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        absolute(&tokens).display()
    );
    write_private(&softhsm_conf, conf_text.as_bytes())?;
    let cfg = new_config(
        module_path.to_path_buf(),
        &opts.token,
        PathBuf::from("user.pin"),
        Some(PathBuf::from("softhsm2.conf")),
        config_path,
    );
    // init runs single-threaded, before the PKCS#11 module is loaded.
    crate::config::export_softhsm_conf(&absolute(&softhsm_conf));
    let audit = AuditLog::new(&dir.join("audit.log"), "init");
    let module = Module::load(module_path)?;
    let so_pin = random_pin();
    let user_pin = random_pin();
    module.init_token(
        &opts.token,
        &Pin::new(so_pin.clone()),
        &Pin::new(user_pin.clone()),
    )?;
    let audit_io = |e| Error::io(dir.join("audit.log"), e);
    audit
        .record(Event::TokenInit {
            token: opts.token.clone(),
        })
        .map_err(audit_io)?;
    let so_pin_file = dir.join("so.pin");
    let pin_file = dir.join("user.pin");
    write_private(&so_pin_file, format!("{so_pin}\n").as_bytes())?;
    write_private(&pin_file, format!("{user_pin}\n").as_bytes())?;
    let token = login(&module, &opts.token, &Pin::new(user_pin), &audit)?;
    let policy = Policy::default();
    let mut store = KeyStore::default();
    for (role, bits) in [(Role::Ksk, policy.ksk_bits), (Role::Zsk, policy.zsk_bits)] {
        let mut key = generate(&token, role, opts.algorithm, bits, &audit)?;
        // Published and active from init on, recorded like a roll records its keys: the
        // first sign run has no key to adopt, and the ZSK's lifetime (DPS-6.4) counts
        // from init.
        let at = crate::dnssec::keys::timestamp(opts.now);
        key.created = at.clone();
        key.published = Some(at.clone());
        key.active = Some(at);
        store.keys.push(key);
    }
    token.logout().map_err(audit_io)?;
    // The key state and its `key-published`/`key-active` lines go together (DPS-4.4).
    let changes: Vec<crate::dnssec::lifecycle::Change> = store
        .keys
        .iter()
        .flat_map(|k| {
            [KeyEvent::Published, KeyEvent::Active].map(|event| crate::dnssec::lifecycle::Change {
                tag: k.tag,
                role: k.role,
                event,
                at: crate::dnssec::keys::timestamp(opts.now),
                detail: "made by init; in the zone from the first sign run".into(),
                source: None,
            })
        })
        .collect();
    store.commit(
        &dir.join("keys.toml"),
        &audit,
        crate::dnssec::lifecycle::audit_events(&changes),
    )?;
    let mut text =
        toml::to_string_pretty(&cfg).map_err(|e| Error::Usage(UsageError::EncodeConfig(e)))?;
    // The policy names the keys' algorithm when it is not the practice statement's, so
    // that the config tells the truth and a later difference between the two (a policy
    // changed to another algorithm) is warned about at every run (issue 23).
    if opts.algorithm != crate::dnssec::policy::Policy::default().algorithm {
        text.push_str(&format!(
            "\n[policy]\nalgorithm = \"{}\"\n",
            opts.algorithm.name()
        ));
    }
    crate::store::output::write_atomic(config_path, text.as_bytes())?;
    let recovery = save_recovery_copy(&tokens, &dir.join(RECOVERY_DIR), &audit)?;
    Ok(InitSummary {
        recovery,
        config: config_path.to_path_buf(),
        pin_file,
        so_pin_file,
        keys: store.keys,
    })
}

/// Checks the embedded SoftHSM2 token's state files against their recovery copies
/// before anything loads the module ([`crate::hsm::recovery`], issue 19): puts a copy
/// back over a file a killed login left empty, and saves or refreshes the copy of a
/// complete one. Every restore and every new copy is an audit line; the returned
/// warnings are for stderr. Never fails the command: a token that could not be
/// restored fails at login with its own message, and a copy that could not be written
/// is reported here and by `zonesign check`.
pub fn protect_embedded_token(cfg: &Config) -> Vec<String> {
    use crate::hsm::recovery::{Outcome, protect};
    let Some((tokens, store)) = cfg.embedded_token_dirs() else {
        return Vec::new();
    };
    let outcomes = match protect(&tokens, &store) {
        Ok(o) => o,
        Err(e) => {
            let msg = format!(
                "cannot keep the recovery copy of the embedded token's state in {}: {e}; a kill during a login could then lose the token (check the directory's owner and mode)",
                store.display()
            );
            let _ = crate::audit::record_configured(Event::TokenRecovery {
                result: crate::audit::Outcome::failed(&e),
            });
            return vec![msg];
        }
    };
    let mut warnings = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Current { .. } => {}
            Outcome::Saved {
                dir,
                label,
                refreshed,
            } => {
                let _ = crate::audit::record_configured(Event::TokenRecovery {
                    result: crate::audit::Outcome::Ok(SavedCopy {
                        dir,
                        token: label,
                        refreshed,
                    }),
                });
            }
            Outcome::Restored { dir, label, damage } => {
                warnings.push(format!(
                    "the embedded token '{label}' was damaged ({damage}, as a process killed while logging in leaves it); its state file was restored from the recovery copy in {}",
                    store.display()
                ));
                let _ = crate::audit::record_configured(Event::TokenRestored {
                    dir,
                    token: Some(label),
                    damage: damage.to_string(),
                    result: crate::audit::Outcome::OK,
                });
            }
            Outcome::Unrecoverable { dir, damage } => {
                warnings.push(format!(
                    "the embedded token in {} is damaged ({damage}) and there is no recovery copy of it in {}; restore token.object from a backup of the setup directory",
                    tokens.join(&dir).display(),
                    store.display()
                ));
                let _ = crate::audit::record_configured(Event::TokenRestored {
                    dir,
                    token: None,
                    damage: damage.to_string(),
                    result: crate::audit::Outcome::failed("no recovery copy"),
                });
            }
        }
    }
    warnings
}

/// Makes the token files `init` wrote durable (SoftHSM2 never fsyncs) and the first
/// recovery copy of the token's state file ([`crate::hsm::recovery`]), audited.
fn save_recovery_copy(tokens: &Path, store: &Path, audit: &AuditLog) -> Result<PathBuf> {
    crate::hsm::recovery::sync_token_files(tokens);
    let outcomes = crate::hsm::recovery::protect(tokens, store).map_err(|e| Error::io(store, e))?;
    for o in outcomes {
        if let crate::hsm::recovery::Outcome::Saved { dir, label, .. } = o {
            audit
                .record(Event::TokenRecovery {
                    result: Outcome::Ok(SavedCopy {
                        dir,
                        token: label,
                        refreshed: false,
                    }),
                })
                .map_err(|e| Error::io("audit log", e))?;
        }
    }
    Ok(store.to_path_buf())
}

/// A login with its audit bracket: the logged-in token(s) (`T`: one [`Token`], or the
/// [`SigningTokens`]) and the audit log its `login` line went to (DPS-4.4, SEC-6.5).
///
/// Ending it drops the token(s) first, which logs out of the token (`C_Logout`,
/// DPS-5.2: the HSM is locked again), then writes one `logout` line per token
/// (`{"token": label}`, in login order). It ends by [`LoggedIn::logout`] or
/// [`LoggedIn::logout_after`], which return the audit log's write error, or by being
/// dropped (an early return, a `?`, a panic), which writes the same lines and can only
/// ignore a write error: the error the flow is leaving with is the one the operator
/// must see. So a command flow cannot leave a login without its logout line.
///
/// It dereferences to `T` for the work in between. Made only by [`login`] and
/// [`login_signing`], after their `login` line is written.
pub struct LoggedIn<'a, T = Token> {
    /// `Some` until the logout: taken out and dropped before the lines are written.
    held: Option<T>,
    /// The tokens' labels, in login order: one `logout` line each.
    labels: Vec<String>,
    /// Where the `login` line went and the `logout` lines go.
    audit: &'a AuditLog,
}

impl<'a, T> LoggedIn<'a, T> {
    /// The tokens' labels, in login order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Logs out: drops the token(s), then writes the `logout` line(s).
    pub fn logout(self) -> std::io::Result<()> {
        self.end(None)
    }

    /// Logs out with `event` recorded between the token's logout and the `logout`
    /// line(s): the place of an act's outcome that is known only once the token is
    /// closed (`sign`, a refused `keygen`). The `logout` lines are written even if
    /// `event` could not be; the first write error is returned.
    pub fn logout_after(self, event: Event) -> std::io::Result<()> {
        self.end(Some(event))
    }

    /// Drops the token(s), records `event` if any, then the `logout` lines.
    fn end(mut self, event: Option<Event>) -> std::io::Result<()> {
        drop(self.held.take());
        let recorded = event.map_or(Ok(()), |event| self.audit.record(event));
        recorded.and(logout_all(&self.labels, self.audit))
    }
}

impl<T> std::ops::Deref for LoggedIn<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Only `end`, `into_unrecorded` (both taking `self`) and `drop` empty it.
        self.held
            .as_ref()
            .expect("a LoggedIn holds its token until it ends")
    }
}

impl<T> Drop for LoggedIn<'_, T> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            drop(held);
            // Best effort: the error the flow is leaving with is what the operator
            // must see.
            let _ = logout_all(&self.labels, self.audit);
        }
    }
}

/// Logs in and records the attempt, successful or not (DPS-4.4, SEC-6.5); the
/// returned guard records the logout ([`LoggedIn`]).
pub fn login<'a>(
    module: &Module,
    label: &str,
    pin: &Pin,
    audit: &'a AuditLog,
) -> Result<LoggedIn<'a>> {
    Ok(LoggedIn {
        held: Some(open_token(module, label, pin, audit)?),
        labels: vec![label.to_string()],
        audit,
    })
}

/// Opens the token and writes the `login` line, successful or not; the caller makes
/// the [`LoggedIn`] that writes the `logout` line.
fn open_token(module: &Module, label: &str, pin: &Pin, audit: &AuditLog) -> Result<Token> {
    match module.open(label, pin) {
        Ok(t) => {
            let recorded = audit
                .record(Event::Login {
                    token: Some(label.to_string()),
                    worker: None,
                    result: Outcome::OK,
                })
                .map_err(|e| Error::io("audit log", e));
            // A login whose line could not be written is left at once, with no
            // `logout` line, as before the guard.
            recorded.map(|()| t)
        }
        Err(e) => {
            // A failure to log the failure must not hide the HSM error itself.
            let _ = audit.record(Event::Login {
                token: Some(label.to_string()),
                worker: None,
                result: Outcome::failed(&e),
            });
            Err(e.into())
        }
    }
}

/// The signing tokens, logged in: what `sign` and `hsm bench` sign with.
pub struct SigningTokens {
    /// The tokens, in config order (`token`, then `extra-tokens`).
    pub tokens: Vec<Token>,
    /// Each token's label, module and PIN, in the same order: the worker processes
    /// log in with them.
    pub members: Vec<(crate::config::SigningToken, std::sync::Arc<Pin>)>,
}

impl SigningTokens {
    /// The tokens' labels, for messages and the logout events.
    pub fn labels(&self) -> Vec<String> {
        self.members.iter().map(|(t, _)| t.label.clone()).collect()
    }
}

/// Logs in to every signing token (`token`, then `extra-tokens`), each through its
/// own module (loaded once per path) with its own PIN, every attempt audit-logged
/// (see [`login`]). The guard records one `logout` line per token when it ends
/// ([`LoggedIn`]); when one login fails, those already logged in are logged out
/// again at once, and the audit log says so (DPS-4.4).
pub fn login_signing<'a>(
    cfg: &crate::config::Config,
    audit: &'a AuditLog,
) -> Result<LoggedIn<'a, SigningTokens>> {
    let mut modules: Vec<(std::path::PathBuf, Module)> = Vec::new();
    let mut done = LoggedIn {
        held: Some(SigningTokens {
            tokens: Vec::new(),
            members: Vec::new(),
        }),
        labels: Vec::new(),
        audit,
    };
    for t in cfg.signing_tokens() {
        // A failure returns here: dropping `done` logs the tokens so far out.
        let (token, pin) = login_one(cfg, &t, &mut modules, audit)?;
        if let Some(held) = done.held.as_mut() {
            held.tokens.push(token);
            done.labels.push(t.label.clone());
            held.members.push((t, pin));
        }
    }
    Ok(done)
}

/// Reads `t`'s PIN, loads its module (once per path) and logs in.
fn login_one(
    cfg: &crate::config::Config,
    t: &crate::config::SigningToken,
    modules: &mut Vec<(std::path::PathBuf, Module)>,
    audit: &AuditLog,
) -> Result<(Token, std::sync::Arc<Pin>)> {
    let pin = std::sync::Arc::new(cfg.pin_for(t)?);
    let module = match modules.iter().find(|(p, _)| *p == t.module) {
        Some((_, m)) => m.clone(),
        None => {
            let m = Module::load(&t.module)?;
            modules.push((t.module.clone(), m.clone()));
            m
        }
    };
    Ok((open_token(&module, &t.label, &pin, audit)?, pin))
}

/// The signing backend over the logged-in tokens (one member per token) for the keys
/// `handles` (CKA_ID, algorithm): sessions in worker processes when `[hsm]
/// worker-processes` is on and this is the zonesign binary ([`crate::hsm::worker`]),
/// each worker on its token's module with its token's PIN; else in threads. Either
/// way each key is first looked up in each token here, so a missing key or mechanism
/// fails before any worker starts.
pub fn signing_backend(
    cfg: &crate::config::Config,
    command: &str,
    signing: &SigningTokens,
    handles: &[(Vec<u8>, crate::dns::algorithm::Algorithm)],
) -> Result<crate::hsm::Cluster, crate::hsm::HsmError> {
    let exe = worker_processes(cfg)
        .then(crate::hsm::worker::worker_exe)
        .flatten();
    let audit = exe.map(|_| worker_audit(AuditLog::new(&cfg.files.audit_log, command)));
    let mut members: Vec<Box<dyn crate::hsm::SigningBackend>> = Vec::new();
    for (token, (t, pin)) in signing.tokens.iter().zip(&signing.members) {
        let signer = token
            .signer(handles)?
            .with_session_copies(cfg.hsm.session_key_copies);
        members.push(match exe {
            Some(exe) => Box::new(crate::hsm::worker::ProcessSigner::new(
                crate::hsm::worker::WorkerSpec {
                    exe: exe.to_path_buf(),
                    module: t.module.clone(),
                    token: t.label.clone(),
                    pin: std::sync::Arc::clone(pin),
                    keys: handles.to_vec(),
                    session_copies: cfg.hsm.session_key_copies,
                    audit: audit.clone(),
                },
            )),
            None => Box::new(signer),
        });
    }
    Ok(crate::hsm::Cluster::new(members))
}

/// Whether signing sessions run in worker processes: `[hsm] worker-processes` is on
/// and this is the zonesign binary ([`crate::hsm::worker::enable`]).
pub fn worker_processes(cfg: &crate::config::Config) -> bool {
    cfg.hsm.worker_processes && crate::hsm::worker::worker_exe().is_some()
}

/// Records each signing worker's own login and logout in `log` (SEC-6.5), one
/// thread at a time: the events chain to the log's last line.
fn worker_audit(log: AuditLog) -> crate::hsm::worker::AuditHook {
    let log = std::sync::Mutex::new(log);
    std::sync::Arc::new(move |act, token, pid| {
        let token = token.to_string();
        let worker = Some(pid);
        let event = match act {
            crate::hsm::worker::WorkerAct::Login(error) => Event::Login {
                token: Some(token),
                worker,
                result: error.map_or(Outcome::OK, Outcome::failed),
            },
            crate::hsm::worker::WorkerAct::Logout => Event::Logout { token, worker },
        };
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        // As for the parent's own logout: a failure to log must not hide the run's
        // outcome; the sign event after it fails the run if the log is unwritable.
        let _ = log.record(event);
    })
}

/// Records the logout of each of `labels` (the tokens themselves are closed when
/// dropped, before this is called): the lines [`LoggedIn`] writes, and `sign`'s own.
pub fn logout_all(labels: &[String], audit: &AuditLog) -> std::io::Result<()> {
    labels.iter().try_for_each(|label| {
        audit.record(Event::Logout {
            token: label.clone(),
            worker: None,
        })
    })
}

/// Generates one key inside the token and returns its key-state entry (DPS-5.1).
pub fn generate(
    token: &Token,
    role: Role,
    alg: Algorithm,
    rsa_bits: u32,
    audit: &AuditLog,
) -> Result<KeyEntry> {
    let id: [u8; 8] = rand::random();
    let id_hex = data_encoding::HEXLOWER.encode(&id);
    let label = format!("zonesign-{role}-{id_hex}");
    if !token.mechanisms_for(alg) {
        return Err(HsmError::MechanismUnsupported {
            algorithm: alg.name().into(),
        }
        .into());
    }
    let public = token.generate_key(alg, rsa_bits, &id, &label)?;
    let tag = crypto::key_tag(&dnskey_rdata(role.flags(), alg, &public));
    let bits = alg.effective_bits(rsa_bits);
    audit
        .record(Event::Keygen {
            role: role.to_string(),
            algorithm: alg.name().to_string(),
            result: Outcome::Ok(NewKey {
                bits,
                tag,
                id: id_hex.clone(),
                label: label.clone(),
            }),
        })
        .map_err(|e| Error::io("audit log", e))?;
    let mut key = KeyEntry::new_generated(
        id_hex,
        label,
        role,
        alg,
        bits,
        tag,
        chrono::Utc::now().timestamp(),
        data_encoding::BASE64.encode(&public),
    );
    // init's keys go straight into the zone (init records their times); `key generate`
    // makes its keys `generated`.
    key.state = KeyState::Active;
    Ok(key)
}

/// A random PIN: 128 bits as 32 hex digits.
fn random_pin() -> String {
    let bytes: [u8; 16] = rand::random();
    data_encoding::HEXLOWER.encode(&bytes)
}

fn make_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

/// Creates a new file readable only by its owner; never replaces an existing one.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::test_support::{SO_PIN, USER_PIN, module, pin};

    /// Each line of the audit log as (event, token).
    fn lines(path: &Path) -> Vec<(String, String)> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                (s("event"), s("token"))
            })
            .collect()
    }

    /// DPS-4.4, SEC-6.5: every login that succeeded gets its `logout` line, whether
    /// the flow ends it, ends it after its outcome's line, or leaves early with an
    /// error; a failed login gets none, and no login is left open.
    #[test]
    fn a_login_always_ends_with_its_logout_line() {
        let m = module();
        let label = "setup-guard";
        m.init_token(label, &pin(SO_PIN), &pin(USER_PIN))
            .expect("init token");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("audit.log");
        let audit = AuditLog::with_syslog(&log, "test", None);

        let token = login(m, label, &pin(USER_PIN), &audit).expect("login");
        assert_eq!(token.labels(), [label]);
        assert!(token.private_key_ids().expect("listing").is_empty());
        token.logout().expect("logout line");

        let token = login(m, label, &pin(USER_PIN), &audit).expect("login");
        token
            .logout_after(Event::Sign {
                zone: "se.".into(),
                keys: vec![1],
                result: Outcome::Ok(Default::default()),
            })
            .expect("sign and logout lines");

        let early = || -> Result<()> {
            let token = login(m, label, &pin(USER_PIN), &audit)?;
            token.private_key_ids()?;
            Err(Error::Verification("leaving early".into()))
        };
        assert!(early().is_err());

        // Every login above was logged out: a wrong PIN is checked again.
        assert!(login(m, label, &pin("wrong-pin"), &audit).is_err());

        let ev = |e: &str| (e.to_string(), label.to_string());
        let sign = ("sign".to_string(), String::new());
        assert_eq!(
            lines(&log),
            [
                ev("login"),
                ev("logout"),
                ev("login"),
                sign,
                ev("logout"),
                ev("login"),
                ev("logout"),
                ev("login"),
            ]
        );
    }
}
