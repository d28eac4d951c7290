//! The configuration file (`zonesign.toml`): where the token, PIN, key state, audit log
//! and policy are.
//!
//! `zonesign init` writes one; every other command reads it. Relative paths in it are
//! relative to the file's own directory, so a setup directory can be moved as a whole.
//! The PIN is never in the config or on a command line (SEC-6.1): it comes from
//! `ZONESIGN_PIN` or from a PIN file that only its owner can read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::audit::AuditSection;
use crate::dnssec::policy::Policy;
use crate::error::{Error, KeyError, Result, UsageError};
use crate::hsm::Pin;
pub use crate::zone::ingress::{EgressSection, IngressSection};

/// Environment variable that holds the user PIN (SEC-6.1: never an argument).
pub const PIN_ENV: &str = "ZONESIGN_PIN";
/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "ZONESIGN_CONFIG";
/// Default setup directory of `zonesign init`.
pub const DEFAULT_DIR: &str = ".zonesign";
/// Name of the config file inside a setup directory.
pub const CONFIG_NAME: &str = "zonesign.toml";

/// Where the PKCS#11 module and token are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HsmSection {
    /// Path of the PKCS#11 module (e.g. SoftHSM2's `libsofthsm2.so`).
    pub module: PathBuf,
    /// Label of the token holding the keys (found by label: slot ids are not stable).
    pub token: String,
    /// File holding the user PIN, mode 0600 (used when `ZONESIGN_PIN` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
    /// SoftHSM2 configuration of an embedded token; exported as `SOFTHSM2_CONF`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub softhsm_conf: Option<PathBuf>,
    /// Parallel PKCS#11 sessions for signing; 0 means one per CPU core.
    #[serde(default)]
    pub sessions: usize,
    /// Further tokens that hold the very same keys (the partitions or members of an
    /// HSM cluster, which replicates keys itself): the signing sessions are spread
    /// over `token` and these, round-robin, which is how a registry scales past one
    /// box. Each is a label of `module` logged in with the same PIN, or a table that
    /// names its own `module` (another HSM's library) and `pin-file` (a partition
    /// with a PIN of its own). Each key's public half is checked in every token
    /// before anything is signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_tokens: Vec<ExtraToken>,
    /// Each signing session copies the keys into session objects (sensitive, not
    /// extractable, destroyed with the session) and signs with the copies. On by
    /// default: SoftHSM2's file store re-reads a token object's files at every use,
    /// which made two sessions no faster than one (`Pkcs11Signer::with_session_copies`
    /// has the numbers). Set false where an HSM's policy forbids copies; a token
    /// that refuses them is used through its token objects anyway.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub session_key_copies: bool,
    /// Each signing session runs in its own `zonesign hsm worker` process, which gets
    /// the PIN over a pipe. On by default: the module's crypto library then serves one
    /// session per process (SoftHSM2 on libcrypto 3 lost about a quarter of its rate
    /// to threads sharing it), and a crashing module stops only a worker, which ends
    /// the run with an HSM error. Set false to sign in threads of the main process.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub worker_processes: bool,
}

/// One entry of `extra-tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExtraToken {
    /// A token of the `[hsm]` module, logged in with the same PIN.
    Label(String),
    /// A token with its own module or PIN file.
    Token(TokenSpec),
}

/// A token named with its own module or PIN file (`extra-tokens = [{ token = ... }]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenSpec {
    /// The token's label.
    pub token: String,
    /// Its PKCS#11 module; default: the `[hsm]` module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<PathBuf>,
    /// Its PIN file (mode 0600); default: the `[hsm]` PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
}

/// A token that signs, with everything needed to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningToken {
    /// The token's label.
    pub label: String,
    /// Its PKCS#11 module.
    pub module: PathBuf,
    /// Its own PIN file, or `None` for the `[hsm]` PIN (`ZONESIGN_PIN` or `pin-file`).
    pub pin_file: Option<PathBuf>,
}

/// Serde default for settings that are on unless turned off.
fn yes() -> bool {
    true
}

/// Leaves a default-on setting out of a written config.
fn is_true(b: &bool) -> bool {
    *b
}

/// Where zonesign's own files are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesSection {
    /// The key state file (roles, states, public keys).
    pub keys: PathBuf,
    /// The audit log (JSON lines, DPS-4.4).
    pub audit_log: PathBuf,
    /// An optional policy file; the `[policy]` table of this file applies otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
}

/// The parsed configuration with paths made absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Token and module.
    pub hsm: HsmSection,
    /// Files.
    pub files: FilesSection,
    /// Inline policy overrides.
    #[serde(default, skip_serializing)]
    pub policy: Option<toml::Table>,
    /// Audit forwarding (syslog); absent means the audit log file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSection>,
    /// Ingress limits and check programs (PIPE-1, PIPE-2); the policy file may hold
    /// them instead, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSection>,
    /// Check programs run on the signed zone before it is published (PIPE-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressSection>,
    /// The config file's path (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

impl Config {
    /// Finds the config: `--config`, else `$ZONESIGN_CONFIG`, else `./.zonesign/zonesign.toml`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        match std::env::var_os(CONFIG_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => Path::new(DEFAULT_DIR).join(CONFIG_NAME),
        }
    }

    /// Reads and parses a config file, resolving its relative paths.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Usage(UsageError::NoConfig {
                    path: path.to_path_buf(),
                })
            } else {
                Error::io(path, e)
            }
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|source| {
            Error::Usage(UsageError::BadConfig {
                path: path.to_path_buf(),
                source,
            })
        })?;
        cfg.path = path.to_path_buf();
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        abs(&mut cfg.files.keys);
        abs(&mut cfg.files.audit_log);
        cfg.files.policy.as_mut().map(abs);
        cfg.hsm.pin_file.as_mut().map(abs);
        for extra in &mut cfg.hsm.extra_tokens {
            if let ExtraToken::Token(t) = extra {
                t.pin_file.as_mut().map(abs);
            }
        }
        cfg.hsm.softhsm_conf.as_mut().map(abs);
        if let Some(i) = cfg.ingress.as_mut() {
            resolve_programs(&mut i.checks, &dir);
        }
        if let Some(e) = cfg.egress.as_mut() {
            resolve_programs(&mut e.checks, &dir);
        }
        if let Some(a) = cfg.audit.as_mut() {
            abs(&mut a.socket);
            if crate::audit::facility_code(&a.facility).is_none() {
                return Err(Error::Usage(UsageError::BadAuditFacility {
                    path: path.to_path_buf(),
                    facility: a.facility.clone(),
                }));
            }
        }
        Ok(cfg)
    }

    /// The policy: the policy file if named, else the inline `[policy]` table, else `.se` defaults.
    pub fn policy(&self) -> Result<Policy> {
        if let Some(p) = &self.files.policy {
            return Policy::load(p);
        }
        let Some(table) = &self.policy else {
            return Ok(Policy::default());
        };
        let policy: Policy = table.clone().try_into().map_err(|source| {
            Error::Usage(UsageError::BadPolicyTable {
                path: self.path.clone(),
                source,
            })
        })?;
        policy.validate().map_err(|problem| {
            Error::Usage(UsageError::InvalidPolicy {
                path: self.path.clone(),
                problem,
            })
        })?;
        Ok(policy)
    }

    /// The `[ingress]` and `[egress]` tables in force: this file's, else the policy's,
    /// else the defaults. A table in both places is refused: which one applies would
    /// be a guess.
    pub fn pipeline_checks(&self, policy: &Policy) -> Result<(IngressSection, EgressSection)> {
        let pick = |mine: bool, theirs: bool, table: &'static str| {
            if mine && theirs {
                Err(Error::Usage(UsageError::TableTwice {
                    path: self.path.clone(),
                    table,
                }))
            } else {
                Ok(())
            }
        };
        pick(self.ingress.is_some(), policy.ingress.is_some(), "ingress")?;
        pick(self.egress.is_some(), policy.egress.is_some(), "egress")?;
        let ingress = self.ingress.clone().or_else(|| policy.ingress.clone());
        let egress = self.egress.clone().or_else(|| policy.egress.clone());
        Ok((ingress.unwrap_or_default(), egress.unwrap_or_default()))
    }

    /// Points SoftHSM2 at the embedded token's configuration, before the module loads.
    pub fn export_softhsm_env(&self) {
        if let Some(conf) = &self.hsm.softhsm_conf {
            export_softhsm_conf(conf);
        }
    }

    /// The embedded SoftHSM2 token directory (from `softhsm-conf`) and the folder of its
    /// recovery copies beside the config ([`crate::hsm::recovery`]); `None` for any
    /// other token, whose HSM keeps its own backups.
    pub fn embedded_token_dirs(&self) -> Option<(PathBuf, PathBuf)> {
        let conf = self.hsm.softhsm_conf.as_ref()?;
        let tokens = crate::hsm::recovery::token_dir(conf)?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        Some((tokens, base.join(crate::hsm::recovery::RECOVERY_DIR)))
    }

    /// The number of signing sessions to open.
    pub fn sessions(&self) -> usize {
        match self.hsm.sessions {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// The tokens that sign: `token`, then `extra-tokens`, in that order.
    pub fn signing_tokens(&self) -> Vec<SigningToken> {
        let of_module = |label: &String| SigningToken {
            label: label.clone(),
            module: self.hsm.module.clone(),
            pin_file: None,
        };
        let extras = self.hsm.extra_tokens.iter().map(|e| match e {
            ExtraToken::Label(label) => of_module(label),
            ExtraToken::Token(t) => SigningToken {
                module: t.module.clone().unwrap_or_else(|| self.hsm.module.clone()),
                pin_file: t.pin_file.clone(),
                ..of_module(&t.token)
            },
        });
        std::iter::once(of_module(&self.hsm.token))
            .chain(extras)
            .collect()
    }

    /// The user PIN of `token`: its own PIN file if it has one, else [`Config::pin`].
    pub fn pin_for(&self, token: &SigningToken) -> Result<Pin> {
        match &token.pin_file {
            Some(file) => self.audited_pin(read_pin_file(file)),
            None => self.pin(),
        }
    }

    /// The user PIN: `$ZONESIGN_PIN` if set, else the PIN file (SEC-6.1).
    ///
    /// A PIN file that others can read is refused, as ssh refuses such a key file: a
    /// PIN that every local user can read protects nothing.
    pub fn pin(&self) -> Result<Pin> {
        self.audited_pin(self.read_pin())
    }

    /// Logs a failed PIN read (SEC-6.5) and passes the result on.
    fn audited_pin(&self, pin: Result<Pin>) -> Result<Pin> {
        if let Err(e) = &pin {
            // A failed PIN read is an access attempt too (SEC-6.5). The message names
            // the file and the problem, never a PIN. Failing to log must not hide `e`.
            let _ = crate::audit::AuditLog::new(&self.files.audit_log, &crate::audit::command())
                .record(crate::audit::Event::PinRead {
                    error: e.to_string(),
                });
        }
        pin
    }

    /// The audit settings, defaults (syslog off) when the section is absent.
    pub fn audit(&self) -> AuditSection {
        self.audit.clone().unwrap_or_default()
    }

    fn read_pin(&self) -> Result<Pin> {
        if let Some(p) = std::env::var(PIN_ENV).ok().filter(|p| !p.is_empty()) {
            return Ok(Pin::new(p));
        }
        let Some(file) = &self.hsm.pin_file else {
            return Err(Error::Key(KeyError::NoPin {
                config: self.path.clone(),
            }));
        };
        read_pin_file(file)
    }
}

/// Makes a check program named by a relative path (`checks/zone-ok`) relative to the
/// file that names it, as every other path of the file is; a bare name (`validns`) is
/// left for the `PATH` search, as a shell would do it.
pub fn resolve_programs(checks: &mut [Vec<String>], dir: &Path) {
    for argv in checks {
        if let Some(program) = argv.first_mut()
            && program.contains('/')
            && Path::new(program.as_str()).is_relative()
        {
            *program = dir.join(program.as_str()).to_string_lossy().into_owned();
        }
    }
}

/// Reads a PIN file: only its owner may read it (SEC-6.1), and it must not be empty.
pub(crate) fn read_pin_file(file: &Path) -> Result<Pin> {
    let meta = std::fs::metadata(file).map_err(|source| {
        Error::Key(KeyError::PinFileUnreadable {
            file: file.to_path_buf(),
            source,
        })
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::Key(KeyError::PinFileReadableByOthers {
            file: file.to_path_buf(),
        }));
    }
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let pin = text.trim_end_matches(['\n', '\r']).to_string();
    if pin.is_empty() {
        return Err(Error::Key(KeyError::PinFileEmpty {
            file: file.to_path_buf(),
        }));
    }
    Ok(Pin::new(pin))
}

/// Sets `SOFTHSM2_CONF`, which SoftHSM2 reads at `C_Initialize` (and the signing
/// worker processes inherit). The one place zonesign changes its environment.
///
/// Call it only from the main thread before any other thread exists and before a
/// PKCS#11 module is loaded (`load_config` and `init` do).
pub fn export_softhsm_conf(conf: &Path) {
    // SAFETY: per the contract above, no other thread reads or writes the environment
    // while this runs.
    unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
}
