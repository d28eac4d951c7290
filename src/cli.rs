//! The command line: one clap definition feeds `--help`, the man page and dispatch.
//!
//! This is the edge where typed errors become messages on stderr and the documented
//! exit codes (see [`crate::error::ExitCode`]). Nothing here knows how a stage works.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, DEFAULT_DIR};
use crate::dns::algorithm::Algorithm;
use crate::dns::name::Name;
use crate::dns::rdata::format_rdata;
use crate::dns::record::rtype;
use crate::dnssec::keys::{KeyEntry, KeyStore, Role, ds_for};
use crate::dnssec::lifecycle;
use crate::dnssec::policy::{DAY, parse_duration};
use crate::dnssec::verify::{Rules, VerifyOptions};
use crate::error::{Error, ExitCode, KeyError, Result, UsageError};
use crate::ops::pipeline::{self, SignRequest};
use crate::ops::report::RunReport;
use crate::ops::setup::{InitOptions, init};

/// Prints a line on stdout; a closed pipe (`zonesign ... | head`) is not an error worth
/// a panic, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The two-hour cron cycle (DPS-6.5) as an operator sets it up; in the man page.
/// The man page's MIGRATION section: taking over a live zone's keys (issue 23), from
/// another signer's token or from BIND key files; the README has the long form.
const MIGRATION_HELP: &str = "\
A zone that is signed already keeps its keys: their DS is in the parent. Adopt the
token the keys are in (or the one they are to go into), import the keys that sign the
zone now as active, and sign against the parent's DS.
.PP
Keys in a token (another signer's, e.g. OpenDNSSEC's):
.nf
zonesign init --dir /var/lib/zonesign --adopt --algorithm ALG --module /usr/lib/softhsm/libsofthsm2.so --token 'pkcs11:token=ods' --pin-file /etc/zonesign/user.pin
zonesign key import --role ksk --id HEX --state active
zonesign key import --role zsk --label LABEL --state active
.fi
.PP
Keys in BIND key files (dnssec-keygen's K*.private, the .key beside each is read too):
each key is put into the token, sensitive and not extractable; then destroy the
.private files (shred -u), the only copies outside the token:
.nf
zonesign key import --role ksk --from-file Kse.+013+40606.private --state active
zonesign key import --role zsk --from-file Kse.+013+08093.private --state active
dnssec-dsfromkey -2 Kse.+013+40606.key > parent-ds.txt
.fi
.PP
Then, for either:
.nf
zonesign sign se.zone --origin se. --out se.signed --ds-anchor parent-ds.txt
.fi
.PP
Every refusal changes nothing and says why: a key that is extractable or not
sensitive, a public key that is not the private key's, an algorithm zonesign does not
sign with, a key file whose flags are not the role's (257 KSK, 256 ZSK), a key imported
already. Imported keys show as such in key list and check.";

pub const CRON_HELP: &str = "\
Re-sign every two hours on odd UTC hours (DPS-6.5), as an unprivileged user that owns
the setup directory (SEC-6.2). Each run reuses the signatures of the previous output
that are still valid for more than the refresh window (10 days) and renews the rest.
.PP
crontab:
.nf
CRON_TZ=UTC
5 1-23/2 * * *  zonesign --config /var/lib/zonesign/zonesign.toml -q sign /var/lib/zonesign/se.zone --origin se. --out /var/lib/zonesign/se.signed --ds-anchor /var/lib/zonesign/parent-ds.txt --metrics /var/lib/node_exporter/textfile/zonesign.prom
.fi
.PP
systemd, zonesign.service (the Debian package installs it and zonesign.timer in
/lib/systemd/system, not enabled):
.nf
[Service]
Type=oneshot
User=zonesign
ExecStart=/usr/bin/zonesign --config /var/lib/zonesign/zonesign.toml -q sign /var/lib/zonesign/se.zone --origin se. --out /var/lib/zonesign/se.signed --ds-anchor /var/lib/zonesign/parent-ds.txt
NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes
ReadWritePaths=/var/lib/zonesign
.fi
.PP
zonesign.timer:
.nf
[Timer]
OnCalendar=*-*-* 01/2:05:00 UTC
Persistent=true
.fi
.PP
Monitor with: zonesign verify SIGNED --origin se. --anchor parent-ds.txt --expiring 3d
(exit 6 when a signature expires within three days).";

/// The environment, shown by `--help` and in the man page after the exit codes.
const ENVIRONMENT_HELP: &str = "\
Environment:
  ZONESIGN_PIN     the token user PIN (never give a PIN as an argument; SEC-6.1)
  ZONESIGN_CONFIG  the config file when --config is not given
                   (default: ./.zonesign/zonesign.toml)";

/// Exit codes ([`ExitCode::ALL`]) and environment, shown by `--help` and in the man page.
pub fn after_help() -> String {
    format!("{}\n{ENVIRONMENT_HELP}", ExitCode::help())
}

/// A DNSSEC zone signer for TLD operators, with keys in a PKCS#11 token.
///
/// Signs a zone with NSEC (or NSEC3, by policy) and a KSK/ZSK split, verifies the whole
/// result against the parent's DS anchor and only then writes it, atomically.
#[derive(Debug, Parser)]
#[command(name = "zonesign", version, after_help = after_help(), max_term_width = 100)]
pub struct Cli {
    /// Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print nothing on success (errors still go to stderr).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a local setup: a SoftHSM2 token, PIN files, one KSK and one ZSK, a config.
    ///
    /// Also keeps a recovery copy of the token's state file in DIR/token-recovery/
    /// (owner-only): SoftHSM2 rewrites that file in place at every login, and a process
    /// killed at that moment leaves it empty, which loses the token and its keys; every
    /// later zonesign command puts the copy back if it finds the file damaged.
    Init(InitArgs),
    /// Sign a zone, verify the result against the DS anchor, then write it atomically.
    Sign(SignArgs),
    /// Validate a signed zone (from any signer) against a trust anchor.
    Verify(VerifyArgs),
    /// Key commands.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Audit log commands: check the hash chain, show events (DPS-4.4).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Fill in the SEC-* security checklist for this setup (exit 1 if a mandatory row fails).
    Check(CheckArgs),
    /// HSM commands.
    #[command(subcommand)]
    Hsm(HsmCommand),
}

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain, across its rotated files; say at which line it breaks (exit 1).
    ///
    /// One log (or the config's) is checked together with the files logrotate made of
    /// it, oldest first: FILE.N .. FILE.2, FILE.1, FILE. Each file's first line must
    /// carry the hash of the previous file's last line. Several files are checked in
    /// the order given, oldest first.
    Verify(AuditVerifyArgs),
    /// Print the audit log readably, optionally only some events or a time window.
    Show(AuditShowArgs),
    /// Start a freshly rotated audit log with its `rotated` line now (logrotate's postrotate).
    ///
    /// The line carries the hash of FILE.1's last line, so the chain runs on across
    /// the rotation; without this, the next event writes it. Does nothing unless FILE
    /// is empty or missing and FILE.1 is not. Takes the log's append lock, so it is safe
    /// while a sign run appends.
    Link(AuditLinkArgs),
}

/// Options of `audit verify`.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The audit log (default: the config's audit-log); several: rotated files, oldest first.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Options of `audit link`.
#[derive(Debug, Args)]
pub struct AuditLinkArgs {
    /// The audit log (default: the config's audit-log).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Options of `audit show`.
#[derive(Debug, Args)]
pub struct AuditShowArgs {
    /// The audit log (default: the config's audit-log).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Only this event (login, logout, keygen, sign, export, pin-read, syslog-error...); repeatable.
    #[arg(long, value_name = "E")]
    pub event: Vec<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub since: Option<i64>,
    /// Only events at or before this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub until: Option<i64>,
}

/// Report format of `check`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CheckFormat {
    /// For people.
    Text,
    /// One JSON object.
    Json,
    /// A Markdown table for the checklist form.
    Markdown,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// Options of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory for the token, config, PIN files, key state and audit log.
    #[arg(long, default_value = DEFAULT_DIR, value_name = "DIR")]
    pub dir: PathBuf,
    /// Algorithm of the keys (DPS-6.1: the practice statement uses rsasha1); with --adopt, that of the keys to be imported, for the policy.
    #[arg(long, default_value = "rsasha1", value_parser = parse_algorithm)]
    pub algorithm: Algorithm,
    /// Label of the token to create.
    #[arg(long, default_value = "zonesign", value_name = "LABEL")]
    pub token: String,
    /// PKCS#11 module (default: SoftHSM2's libsofthsm2.so).
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Time recorded for the keys' creation, publication and activation (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
    /// Take over an existing token (another signer's): write a config and an empty key state for it, create no token and no key; then `key import` its keys. Needs --module and --pin-file; --token may be a PKCS#11 URI.
    #[arg(long, requires_all = ["module", "pin_file"])]
    pub adopt: bool,
    /// With --adopt: the file holding the token's user PIN (mode 0600); the config names it.
    #[arg(long, value_name = "FILE", requires = "adopt")]
    pub pin_file: Option<PathBuf>,
    /// With --adopt: the SoftHSM2 configuration of the token, when it is a SoftHSM2 token.
    #[arg(long, value_name = "FILE", requires = "adopt")]
    pub softhsm_conf: Option<PathBuf>,
}

/// Options of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The zone file to sign.
    #[arg(value_name = "ZONEFILE")]
    pub zone: PathBuf,
    /// The zone's origin, e.g. `se.`.
    #[arg(long, value_parser = parse_name)]
    pub origin: Name,
    /// Where to write the signed zone (replaced atomically, only after verification).
    #[arg(long, value_name = "SIGNED")]
    pub out: PathBuf,
    /// DS (or DNSKEY) records as the parent publishes them; default: the DS of the active KSKs.
    #[arg(long, value_name = "FILE")]
    pub ds_anchor: Option<PathBuf>,
    /// Signing time (RFC 3339, e.g. 2026-11-25T12:00:00Z) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
    /// Seed for the validity jitter, for reproducible output.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Parallel PKCS#11 sessions (default: config, else one per core).
    #[arg(long, value_name = "N")]
    pub sessions: Option<usize>,
    /// Previous signed zone whose still-valid signatures are reused (default: --out, if it exists).
    #[arg(long, value_name = "OLD")]
    pub previous: Option<PathBuf>,
    /// Check every signature cryptographically, even those reused from a proven previous output, and read the written file back and verify it again before it replaces the output.
    #[arg(long)]
    pub full_verify: bool,
    /// Read the zone and the previous output, report what would be re-signed and why; touch no key, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the run's summary as JSON to FILE (also on failure).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the run's figures in the Prometheus text format to FILE, for node_exporter's textfile collector.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Print the wall time of each stage (parse, NSEC, signing, verification, output) on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Sign this input although it exceeds the [ingress] change limits against the approved zone (a large intended change); audited as changes-accepted. Syntax, zone checks and check programs still apply.
    #[arg(long)]
    pub accept_changes: bool,
    /// Refuse (exit 2) an in-zone name server without an address record (apex NS or missing glue), which BIND and Knot refuse; without it a warning.
    #[arg(long)]
    pub strict: bool,
}

/// Report format of `verify`, `key list` and `hsm bench`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object.
    Json,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signed zone file.
    #[arg(value_name = "SIGNED")]
    pub zone: PathBuf,
    /// The zone's origin.
    #[arg(long, value_parser = parse_name)]
    pub origin: Name,
    /// DS or DNSKEY records of the zone as the parent publishes them.
    #[arg(long, value_name = "FILE")]
    pub anchor: PathBuf,
    /// Check validity at this time (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Longest allowed signature validity (DPS-6.5); 0 turns the check off.
    #[arg(long, default_value = "14d", value_parser = parse_duration, value_name = "DURATION")]
    pub max_validity: u32,
    /// Which rules fail the zone: `rfc` judges DNSSEC validity by the RFCs and reports the practice statement's rules (maximum validity, TTLs), RFC 9276 NSEC3 iterations and RSA keys under 1024 bits as `policy` findings that leave the exit code alone; `dps` fails on them too, as the signing gate does.
    #[arg(long, value_enum, default_value_t = Rules::Rfc, value_name = "RULES")]
    pub policy: Rules,
    /// Exit 6 when any signature expires within this window of now (e.g. 3d), for monitoring.
    #[arg(long, value_parser = parse_duration, value_name = "WINDOW")]
    pub expiring: Option<u32>,
    /// Print the wall time of each stage to stderr: reading and verifying a window at a time, or, for a zone that must be verified whole, reading, verification and freeing the zone.
    #[arg(long)]
    pub stats: bool,
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the DS set the parent should publish now (DPS-5.1), or one key's DS, as zone-file lines.
    Ds(DsArgs),
    /// List the keys: tag, role, algorithm, bits, state (generated, published, ready, active, retired, removed, destroyed), PKCS#11 id and label, past and planned transitions.
    List(ListArgs),
    /// Generate keys inside the token for later use (a ceremony, DPS-5.1); they are not published until a roll.
    Generate(GenerateArgs),
    /// Print the DNSKEY records of the published keys, as zone-file lines.
    Export(ExportArgs),
    /// Start a key roll now: ZSK by pre-publication, KSK by double signature (DPS-6.4).
    Rollover(RolloverArgs),
    /// Record that the parent now publishes the new KSK's DS; the old KSK is removed DS TTL + propagation later.
    DsSeen(TagArgs),
    /// Suspected compromise (DPS-4.5): a ZSK stops signing at once; a KSK gets a new KSK in parallel.
    Compromised(TagArgs),
    /// Take a generated, never published key out of use for good (DPS-5.3); other states are refused.
    Retire(TagArgs),
    /// Destroy a removed key's private and public objects in the token for good (DPS-5.3); needs the PIN; any other state is refused.
    Destroy(TagArgs),
    /// Take over a key pair another signer made in the token (by PKCS#11 id, label or URI), after checking it is sensitive, not extractable and one pair; needs the PIN.
    Import(ImportArgs),
}

/// Options of `key import`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "label", "uri", "from_file"])))]
pub struct ImportArgs {
    /// The key's role in the zone.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The key's PKCS#11 CKA_ID, hex.
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
    /// The key's PKCS#11 CKA_LABEL.
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
    /// A PKCS#11 URI (RFC 7512) naming the key by `id=` and/or `object=`.
    #[arg(long, value_name = "PKCS11-URI")]
    pub uri: Option<String>,
    /// A BIND key file (Kzone.+alg+tag.private, as dnssec-keygen writes it; the .key beside it is read too): the key is put into the token, sensitive and not extractable, after which the file is yours to destroy.
    #[arg(long, value_name = "PATH", conflicts_with = "algorithm")]
    pub from_file: Option<PathBuf>,
    /// The algorithm; required for RSA keys (rsasha1 or rsasha256 cannot be told from the key).
    #[arg(long, value_parser = parse_algorithm)]
    pub algorithm: Option<Algorithm>,
    /// The state to record: active (it signs the zone now, as under the old signer), published or generated.
    #[arg(long, value_enum, default_value = "generated")]
    pub state: ImportState,
    /// Time of the act (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// States an imported key may be recorded in.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ImportState {
    /// It signs the zone now.
    Active,
    /// Its DNSKEY is in the zone, it does not sign yet.
    Published,
    /// Neither: a roll publishes it.
    Generated,
}

/// Options of `key generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Role of the new keys.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Algorithm (default: that of the active key of this role, else the policy's).
    #[arg(long, value_parser = parse_algorithm)]
    pub algorithm: Option<Algorithm>,
    /// RSA key size (default: the policy's ksk-bits or zsk-bits).
    #[arg(long, value_name = "N")]
    pub bits: Option<u32>,
    /// How many keys to generate.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub count: u32,
    /// Time to record as the keys' creation time (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// Key roles on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RoleArg {
    /// Key-signing key.
    Ksk,
    /// Zone-signing key.
    Zsk,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Ksk => Role::Ksk,
            RoleArg::Zsk => Role::Zsk,
        }
    }
}

/// Options of `key export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Owner name of the DNSKEY records (default: the zone these keys have signed).
    #[arg(long, value_parser = parse_name)]
    pub origin: Option<Name>,
}

/// Options of `key rollover`.
#[derive(Debug, Args)]
pub struct RolloverArgs {
    /// Which role to roll (a key of the same algorithm replaces the active one).
    #[arg(long, value_enum, required_unless_present = "algorithm")]
    pub role: Option<RoleArg>,
    /// Roll both KSK and ZSK to this algorithm (RFC 6781 section 4.1.4; PIPE-7), with the
    /// next generated KSK and ZSK of it. Sign runs carry the roll through its steps.
    #[arg(long, value_parser = parse_algorithm, conflicts_with = "role")]
    pub algorithm: Option<Algorithm>,
    /// Time of the act (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// Options of the key commands that act on one key.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The key's tag (see `zonesign key list`).
    #[arg(long, value_name = "N")]
    pub tag: u16,
    /// Time of the act (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// DS digest types offered.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Digest {
    /// SHA-256 (digest type 2).
    Sha256,
    /// SHA-384 (digest type 4).
    Sha384,
}

/// Options of `key ds`.
#[derive(Debug, Args)]
pub struct DsArgs {
    /// Digest type.
    #[arg(long, value_enum, default_value_t = Digest::Sha256)]
    pub digest: Digest,
    /// Owner name of the DS (default: the zone these keys have signed).
    #[arg(long, value_parser = parse_name)]
    pub origin: Option<Name>,
    /// Print this key's DS only, whatever its state.
    #[arg(long, value_name = "N")]
    pub tag: Option<u16>,
    /// Decide the DS set for this time (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// Options of `key list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show states and planned times as of this time (RFC 3339) instead of the clock.
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub now: Option<i64>,
}

/// HSM commands.
#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// Measure the token's raw signing rate with the active ZSK, N sessions in parallel.
    Bench(BenchArgs),
    /// Internal: one signing session for a parent zonesign process, spoken to over
    /// stdin and stdout (see `zonesign::hsm::worker`); not for people.
    #[command(hide = true)]
    Worker,
}

/// Options of `hsm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Parallel PKCS#11 sessions, one thread each (default: config, else one per core).
    #[arg(long, value_name = "N")]
    pub sessions: Option<usize>,
    /// How long to sign, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    pub seconds: f64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_algorithm(s: &str) -> std::result::Result<Algorithm, String> {
    s.parse()
}

fn parse_name(s: &str) -> std::result::Result<Name, String> {
    let text = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::parse(text.as_bytes(), None)
        .map(|n| n.to_lowercase())
        .map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> std::result::Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|e| format!("bad time '{s}': {e} (use RFC 3339, e.g. 2026-11-25T12:00:00Z)"))
}

/// Parses the arguments, runs the command, prints errors; returns the exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    if let Command::Hsm(HsmCommand::Worker) = cli.command {
        return crate::hsm::worker::serve();
    }
    match dispatch(&cli) {
        Ok(code) => code as i32,
        Err(e) => {
            if let Error::Hsm(
                crate::hsm::HsmError::ModuleLoad { .. } | crate::hsm::HsmError::ModuleInit { .. },
            ) = &e
            {
                // The flows log failed logins themselves; a module that never loaded
                // fails before any login, so it is logged here (SEC-6.5).
                let _ = crate::audit::record_configured(crate::audit::Event::Login {
                    token: None,
                    worker: None,
                    result: crate::audit::Outcome::failed(&e),
                });
            }
            eprintln!("zonesign: error: {e}");
            e.exit_code() as i32
        }
    }
}

fn now_or_clock(t: Option<i64>) -> i64 {
    t.unwrap_or_else(|| chrono::Utc::now().timestamp())
}

fn load_config(cli: &Cli) -> Result<Config> {
    let cfg = Config::load(&Config::locate(cli.config.as_deref()))?;
    cfg.export_softhsm_env();
    crate::audit::configure(
        &cfg.files.audit_log,
        &cfg.hsm.token,
        &cfg.audit(),
        command_name(&cli.command),
    );
    for w in crate::ops::setup::protect_embedded_token(&cfg) {
        eprintln!("zonesign: warning: {w}");
    }
    Ok(cfg)
}

/// The command's name as the audit log records it.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Init(_) => "init",
        Command::Sign(_) => "sign",
        Command::Verify(_) => "verify",
        Command::Key(KeyCommand::Ds(_)) => "key ds",
        Command::Key(KeyCommand::List(_)) => "key list",
        Command::Key(KeyCommand::Generate(_)) => "key generate",
        Command::Key(KeyCommand::Export(_)) => "key export",
        Command::Key(KeyCommand::Rollover(_)) => "key rollover",
        Command::Key(KeyCommand::DsSeen(_)) => "key ds-seen",
        Command::Key(KeyCommand::Compromised(_)) => "key compromised",
        Command::Key(KeyCommand::Retire(_)) => "key retire",
        Command::Key(KeyCommand::Destroy(_)) => "key destroy",
        Command::Key(KeyCommand::Import(_)) => "key import",
        Command::Audit(_) => "audit",
        Command::Check(_) => "check",
        Command::Hsm(HsmCommand::Bench(_)) => "hsm bench",
        Command::Hsm(HsmCommand::Worker) => "hsm worker",
    }
}

fn dispatch(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Init(a) => cmd_init(cli, a),
        Command::Sign(a) => cmd_sign(cli, a),
        Command::Verify(a) => cmd_verify(cli, a),
        Command::Key(
            k @ (KeyCommand::Generate(_)
            | KeyCommand::Export(_)
            | KeyCommand::Rollover(_)
            | KeyCommand::DsSeen(_)
            | KeyCommand::Compromised(_)
            | KeyCommand::Retire(_)
            | KeyCommand::Destroy(_)),
        ) => cmd_key_lifecycle(cli, k),
        Command::Key(KeyCommand::Ds(a)) => cmd_key_ds(cli, a),
        Command::Key(KeyCommand::Import(a)) => cmd_key_import(cli, a),
        Command::Key(KeyCommand::List(a)) => cmd_key_list(cli, a),
        Command::Audit(AuditCommand::Verify(a)) => cmd_audit_verify(cli, a),
        Command::Audit(AuditCommand::Show(a)) => cmd_audit_show(cli, a),
        Command::Audit(AuditCommand::Link(a)) => cmd_audit_link(cli, a),
        Command::Check(a) => cmd_check(cli, a),
        Command::Hsm(HsmCommand::Bench(a)) => cmd_hsm_bench(cli, a),
        // `run` serves it before any dispatch: a worker has no config and no audit log.
        Command::Hsm(HsmCommand::Worker) => Err(Error::Usage(UsageError::WorkerCommand)),
    }
}

/// The audit log to read: the one given, else the config's.
fn audit_file(cli: &Cli, file: &Option<PathBuf>) -> Result<(PathBuf, String)> {
    let path = audit_path(cli, file)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok((path, text))
}

/// The audit log named, else the config's.
fn audit_path(cli: &Cli, file: &Option<PathBuf>) -> Result<PathBuf> {
    Ok(match file {
        Some(f) => f.clone(),
        None => {
            Config::load(&Config::locate(cli.config.as_deref()))?
                .files
                .audit_log
        }
    })
}

/// The files `audit verify` checks, oldest first: those given, or the one log (given
/// or the config's) with its rotated predecessors.
fn audit_verify_files(cli: &Cli, a: &AuditVerifyArgs) -> Result<Vec<PathBuf>> {
    if a.files.len() > 1 {
        return Ok(a.files.clone());
    }
    let log = audit_path(cli, &a.files.first().cloned())?;
    let files = crate::audit::rotated_files(&log);
    let next = crate::audit::rotated_path(&log, files.len());
    let mut gz = next.into_os_string();
    gz.push(".gz");
    if Path::new(&gz).exists() {
        eprintln!(
            "zonesign: note: {} is compressed and not checked; decompress the rotated files to check them too",
            Path::new(&gz).display()
        );
    }
    Ok(files)
}

fn cmd_audit_verify(cli: &Cli, a: &AuditVerifyArgs) -> Result<ExitCode> {
    let files = audit_verify_files(cli, a)?;
    let texts = files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_err(|e| Error::io(f, e)))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    match crate::audit::check_files(&refs) {
        Ok(all) => {
            if !cli.quiet {
                print_audit_summary(&files, &all);
            }
            Ok(ExitCode::Ok)
        }
        Err(b) => {
            println!(
                "{}:{}: hash chain broken: {}",
                files[b.file].display(),
                b.brk.line,
                b.brk.reason
            );
            Ok(ExitCode::VerifyFailed)
        }
    }
}

/// `audit verify`'s report: one line per rotated file, then the whole.
fn print_audit_summary(files: &[PathBuf], all: &[crate::audit::ChainSummary]) {
    let (Some(last_file), Some(last)) = (files.last(), all.last()) else {
        return;
    };
    if let Some(first) = all.first().and_then(|s| s.continues.as_ref()) {
        println!(
            "{}: starts with a rotated line: the file rotated before it (then named {first}) is no longer present and was not checked",
            files[0].display()
        );
    }
    if files.len() > 1 {
        for (f, s) in files.iter().zip(all) {
            println!("{}: {} lines", f.display(), s.lines);
        }
    }
    let lines: usize = all.iter().map(|s| s.lines).sum();
    let across = if files.len() > 1 {
        format!(" across {} files", files.len())
    } else {
        String::new()
    };
    println!(
        "{}: {lines} lines{across}, hash chain intact; last line SHA-256 {}",
        last_file.display(),
        last.last_hash
    );
}

fn cmd_audit_link(cli: &Cli, a: &AuditLinkArgs) -> Result<ExitCode> {
    let path = audit_path(cli, &a.file)?;
    let linked = crate::audit::AuditLog::with_syslog(&path, "audit link", None)
        .link_rotation()
        .map_err(|e| Error::io(&path, e))?;
    if !cli.quiet {
        if linked {
            println!(
                "{}: started with a rotated line continuing {}",
                path.display(),
                crate::audit::rotated_path(&path, 1).display()
            );
        } else {
            println!("{}: not freshly rotated; nothing to do", path.display());
        }
    }
    Ok(ExitCode::Ok)
}

fn cmd_audit_show(cli: &Cli, a: &AuditShowArgs) -> Result<ExitCode> {
    let (_, text) = audit_file(cli, &a.file)?;
    let filter = crate::audit::ShowFilter {
        events: a.event.clone(),
        since: a.since,
        until: a.until,
    };
    let _ = std::io::stdout().write_all(crate::audit::render(&text, &filter).as_bytes());
    Ok(ExitCode::Ok)
}

fn cmd_check(cli: &Cli, a: &CheckArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let list = crate::ops::seccheck::run(&cfg);
    let text = match a.format {
        CheckFormat::Text => list.to_text(),
        CheckFormat::Json => list.to_json(),
        CheckFormat::Markdown => list.to_markdown(),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(if list.passed {
        ExitCode::Ok
    } else {
        ExitCode::VerifyFailed
    })
}

fn cmd_hsm_bench(cli: &Cli, a: &BenchArgs) -> Result<ExitCode> {
    if !(a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err(Error::Usage(UsageError::BadOptionValue {
            option: "--seconds",
            requirement: "between 0 and 86400",
        }));
    }
    let cfg = load_config(cli)?;
    let opts = crate::ops::hsmbench::BenchOptions {
        sessions: a.sessions.unwrap_or(0),
        duration: std::time::Duration::from_secs_f64(a.seconds),
    };
    let report = crate::ops::hsmbench::run(&cfg, &opts)?;
    let text = match a.format {
        Format::Text => report.to_text(),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(ExitCode::Ok)
}

fn cmd_init(cli: &Cli, a: &InitArgs) -> Result<ExitCode> {
    if a.adopt {
        return cmd_init_adopt(cli, a);
    }
    let opts = InitOptions {
        dir: a.dir.clone(),
        algorithm: a.algorithm,
        token: a.token.clone(),
        module: a.module.clone(),
        now: now_or_clock(a.now),
    };
    let s = init(&opts)?;
    let audit = crate::audit::AuditLog::new(&a.dir.join("audit.log"), "init");
    for w in crate::ops::keys::rfc9905_warnings(&audit, &s.keys, false)? {
        eprintln!("zonesign: warning: {w}");
    }
    if !cli.quiet {
        say!("zonesign: created {}", s.config.display());
        say!(
            "  token '{}' (SoftHSM2), user PIN in {} (mode 0600)",
            a.token,
            s.pin_file.display()
        );
        say!(
            "  SO PIN in {} (mode 0600): move it offline; only the security officer needs it (DPS-4.2)",
            s.so_pin_file.display()
        );
        for k in &s.keys {
            say!(
                "  {} {} {} bits, tag {}, label {}",
                k.role,
                k.algorithm,
                k.bits,
                k.tag,
                k.label
            );
        }
        say!(
            "  recovery copy of the token's state file in {} (mode 0700): zonesign restores it if a kill or power cut during a login empties the token's token.object; back up the whole directory as well",
            s.recovery.display()
        );
        say!(
            "next: zonesign --config {} sign ZONEFILE --origin ORIGIN --out SIGNED",
            s.config.display()
        );
    }
    Ok(ExitCode::Ok)
}

fn cmd_sign(cli: &Cli, a: &SignArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let now = now_or_clock(a.now);
    let result = load_config(cli).and_then(|cfg| {
        let req = SignRequest {
            zone_file: a.zone.clone(),
            origin: a.origin.clone(),
            out: a.out.clone(),
            previous: a.previous.clone(),
            ds_anchor: a.ds_anchor.clone(),
            now,
            seed: a.seed,
            sessions: a.sessions,
            full_verify: a.full_verify,
            dry_run: a.dry_run,
            strict: a.strict,
            accept_changes: a.accept_changes,
            progress: !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        pipeline::sign(&cfg, &req)
    });
    let zone = a.origin.to_string();
    let report = match &result {
        Ok(s) => RunReport::from_summary(&zone, now, s),
        Err(e) => RunReport::from_error(&zone, now, e, started.elapsed().as_secs_f64()),
    };
    if let Some(path) = &a.report {
        report.write_json(path)?;
    }
    if let Some(path) = &a.metrics {
        report.write_metrics(path, now)?;
    }
    let s = result?;
    for w in &s.warnings {
        eprintln!("zonesign: warning: {w}");
    }
    if a.stats {
        print_stages(&s.stages);
    }
    if !cli.quiet {
        say!("{}", report.summary_line(&a.out));
        if a.dry_run {
            for line in report.input_lines() {
                say!("  {line}");
            }
            for (owner, t, why) in &s.details {
                say!("  would sign {owner} {t}: {why}");
            }
        }
    }
    if s.input.rejected() {
        // Even with -q: exit 7 is for cron's mail and the monitoring, and this is why.
        eprintln!("zonesign: {}", report.rejection_line());
        return Ok(ExitCode::InputRejected);
    }
    Ok(ExitCode::Ok)
}

/// `--stats`: one stderr line per stage, as `zonesign: stage NAME SECONDS s`.
fn print_stages(stages: &[(&'static str, f64)]) {
    for (stage, secs) in stages {
        eprintln!("zonesign: stage {stage:<45} {secs:>9.3} s");
    }
}

fn cmd_verify(cli: &Cli, a: &VerifyArgs) -> Result<ExitCode> {
    let anchors = pipeline::read_anchors(&a.anchor, &a.origin)?;
    let mut opts = VerifyOptions::at(
        now_or_clock(a.now),
        (a.max_validity > 0).then_some(a.max_validity),
    );
    opts.expiring_within = a.expiring;
    opts.rules = a.policy;
    let report = pipeline::verify_file(&a.zone, &a.origin, &anchors, &opts)?;
    if a.stats {
        print_stages(&report.stages);
    }
    let expiring = a.expiring.filter(|_| report.stats.expiring > 0);
    // -q: a zone that passes prints nothing; a failed or expiring one still prints its report.
    if !(cli.quiet && report.valid && expiring.is_none()) {
        let text = match a.format {
            Format::Text => report.to_text(),
            Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        };
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    if !report.valid {
        return Ok(ExitCode::VerifyFailed);
    }
    if let Some(w) = expiring {
        let earliest = report
            .stats
            .earliest_expiration
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        eprintln!(
            "zonesign: {} signature(s) expire within {w} s of {}; the earliest at {earliest}",
            report.stats.expiring, report.time
        );
        return Ok(ExitCode::Expiring);
    }
    Ok(ExitCode::Ok)
}

/// The key commands of the lifecycle (issue 6), dispatched here so that `dispatch`
/// stays one line per command group.
fn cmd_key_lifecycle(cli: &Cli, k: &KeyCommand) -> Result<ExitCode> {
    match k {
        KeyCommand::Generate(a) => cmd_key_generate(cli, a),
        KeyCommand::Export(a) => cmd_key_export(cli, a),
        KeyCommand::Rollover(a) => cmd_key_change(cli, "key rollover", a.now, |s, p, now| {
            match (a.algorithm, a.role) {
                (Some(alg), _) => lifecycle::algorithm::start(s, alg, now),
                (None, Some(role)) => lifecycle::start_roll(s, p, role.into(), now),
                (None, None) => Err(Error::Usage(UsageError::BadOptionValue {
                    option: "--role",
                    requirement: "--role or --algorithm",
                })),
            }
        }),
        KeyCommand::DsSeen(a) => cmd_key_change(cli, "key ds-seen", a.now, |s, p, now| {
            lifecycle::ds_seen(s, p, a.tag, now)
        }),
        KeyCommand::Compromised(a) => cmd_key_change(cli, "key compromised", a.now, |s, p, now| {
            lifecycle::compromised(s, p, a.tag, now)
        }),
        KeyCommand::Retire(a) => cmd_key_change(cli, "key retire", a.now, |s, _, now| {
            lifecycle::retire(s, a.tag, now)
        }),
        KeyCommand::Destroy(a) => cmd_key_destroy(cli, a),
        KeyCommand::Import(a) => cmd_key_import(cli, a),
        KeyCommand::Ds(a) => cmd_key_ds(cli, a),
        KeyCommand::List(a) => cmd_key_list(cli, a),
    }
}

/// The DS owner: `--origin`, else the zone these keys have signed.
fn key_origin(origin: &Option<Name>, store: &KeyStore) -> Result<Name> {
    match (origin, &store.zone) {
        (Some(o), _) => Ok(o.clone()),
        (None, Some(z)) => parse_name(z).map_err(|problem| {
            Error::Usage(UsageError::BadRecordedZone {
                zone: z.clone(),
                problem,
            })
        }),
        (None, None) => Err(Error::Usage(UsageError::NoOrigin)),
    }
}

fn cmd_key_ds(cli: &Cli, a: &DsArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let store = KeyStore::load(&cfg.files.keys)?;
    let policy = cfg.policy()?;
    let origin = key_origin(&a.origin, &store)?;
    let digest = match a.digest {
        Digest::Sha256 => crate::dns::registry::digestalg::SHA256,
        Digest::Sha384 => crate::dns::registry::digestalg::SHA384,
    };
    let keys: Vec<&KeyEntry> = match a.tag {
        Some(tag) => {
            let k = &store.keys[store.by_tag(tag)?];
            if k.role != Role::Ksk {
                return Err(Error::Key(KeyError::NotKsk { tag }));
            }
            vec![k]
        }
        None => lifecycle::parent_ds_keys(&store, &policy, now_or_clock(a.now)),
    };
    let mut out = String::new();
    for k in &keys {
        let ds = ds_for(&origin, &k.dnskey_rdata()?, digest)?;
        out.push_str(&format!("{origin}\t{}\tIN\tDS\t", DAY / 24));
        format_rdata(rtype::DS, &ds, &mut out);
        out.push('\n');
    }
    let tags: Vec<u16> = keys.iter().map(|k| k.tag).collect();
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, "key ds");
    audit
        .record(crate::audit::Event::Export {
            what: crate::audit::Exported::Ds { digest },
            zone: origin.to_string(),
            tags,
        })
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::Ok)
}

fn cmd_key_export(cli: &Cli, a: &ExportArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let store = KeyStore::load(&cfg.files.keys)?;
    let origin = key_origin(&a.origin, &store)?;
    let ttl = cfg.policy()?.dnskey_ttl;
    let mut out = String::new();
    let mut tags = Vec::new();
    for k in store.published() {
        out.push_str(&format!("{origin}\t{ttl}\tIN\tDNSKEY\t"));
        format_rdata(rtype::DNSKEY, &k.dnskey_rdata()?, &mut out);
        out.push_str(&format!(
            " ; {} {} tag {}\n",
            k.role,
            lifecycle::state_name(k.state),
            k.tag
        ));
        tags.push(k.tag);
    }
    crate::audit::AuditLog::new(&cfg.files.audit_log, "key export")
        .record(crate::audit::Event::Export {
            what: crate::audit::Exported::Dnskey,
            zone: origin.to_string(),
            tags,
        })
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::Ok)
}

/// `zonesign key generate`: new keys in the token, state `generated`
/// ([`crate::ops::keys::generate`]); each key is reported as soon as it is made.
/// `init --adopt`: a config for an existing token ([`crate::ops::setup::adopt`]).
fn cmd_init_adopt(cli: &Cli, a: &InitArgs) -> Result<ExitCode> {
    let (Some(module), Some(pin_file)) = (&a.module, &a.pin_file) else {
        return Err(Error::Usage(UsageError::BadOptionValue {
            option: "--adopt",
            requirement: "--module and --pin-file",
        }));
    };
    let config = crate::ops::setup::adopt(&crate::ops::setup::AdoptOptions {
        dir: a.dir.clone(),
        module: module.clone(),
        token: a.token.clone(),
        pin_file: pin_file.clone(),
        softhsm_conf: a.softhsm_conf.clone(),
        algorithm: a.algorithm,
    })?;
    if !cli.quiet {
        say!(
            "zonesign: created {} for the existing token '{}' (no token, no key created)",
            config.display(),
            a.token
        );
        say!(
            "next: zonesign --config {} key import --role ksk --id HEX --state active (and the ZSK), then sign",
            config.display()
        );
    }
    Ok(ExitCode::Ok)
}

fn cmd_key_import(cli: &Cli, a: &ImportArgs) -> Result<ExitCode> {
    use crate::ops::import::{ImportOptions, KeyName};
    if let Some(file) = &a.from_file {
        return cmd_key_import_file(cli, a, file);
    }
    let cfg = load_config(cli)?;
    let key = match (&a.id, &a.label, &a.uri) {
        (Some(id), _, _) => KeyName::Id(id.clone()),
        (_, Some(l), _) => KeyName::Label(l.clone()),
        (_, _, Some(u)) => KeyName::Uri(u.clone()),
        (None, None, None) => {
            return Err(Error::Usage(UsageError::BadOptionValue {
                option: "--id",
                requirement: "--id, --label or --uri",
            }));
        }
    };
    let opts = ImportOptions {
        key,
        role: a.role.into(),
        algorithm: a.algorithm,
        state: import_state(a.state),
        now: now_or_clock(a.now),
    };
    let k = crate::ops::import::import(&cfg, &opts)?;
    if !cli.quiet {
        say!(
            "imported {} {} {} bits, tag {}, label {}, state {}",
            k.role,
            k.algorithm,
            k.bits,
            k.tag,
            k.label,
            lifecycle::state_name(k.state)
        );
    }
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, "key import");
    for w in crate::ops::keys::rfc9905_warnings(&audit, [&k], false)? {
        eprintln!("zonesign: warning: {w}");
    }
    Ok(ExitCode::Ok)
}

/// `key import --from-file`: the key goes into the token; the output says that the
/// file is now the operator's to destroy.
fn cmd_key_import_file(cli: &Cli, a: &ImportArgs, file: &std::path::Path) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let opts = crate::ops::import_file::FileImportOptions {
        file: file.to_path_buf(),
        role: a.role.into(),
        state: import_state(a.state),
        now: now_or_clock(a.now),
    };
    let k = crate::ops::import_file::import_file(&cfg, &opts)?;
    if !cli.quiet {
        say!(
            "imported {} {} {} bits, tag {}, label {}, state {}, from the file {}",
            k.role,
            k.algorithm,
            k.bits,
            k.tag,
            k.label,
            lifecycle::state_name(k.state),
            file.display()
        );
        say!(
            "the key is now in the token, sensitive and not extractable; {} is the one copy outside it: destroy it securely now (e.g. shred -u), with its backups",
            file.display()
        );
    }
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, "key import");
    for w in crate::ops::keys::rfc9905_warnings(&audit, [&k], false)? {
        eprintln!("zonesign: warning: {w}");
    }
    Ok(ExitCode::Ok)
}

/// The key state an `--state` value records.
fn import_state(s: ImportState) -> crate::dnssec::keys::KeyState {
    match s {
        ImportState::Active => crate::dnssec::keys::KeyState::Active,
        ImportState::Published => crate::dnssec::keys::KeyState::Published,
        ImportState::Generated => crate::dnssec::keys::KeyState::Generated,
    }
}

fn cmd_key_generate(cli: &Cli, a: &GenerateArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let opts = crate::ops::keys::GenerateOptions {
        role: a.role.into(),
        algorithm: a.algorithm,
        bits: a.bits,
        count: a.count,
        now: now_or_clock(a.now),
    };
    let mut made = Vec::new();
    let result = crate::ops::keys::generate(&cfg, &opts, &mut |k| {
        if !cli.quiet {
            say!(
                "generated {} {} {} bits, tag {}, label {} (state generated: published only by a roll)",
                k.role,
                k.algorithm,
                k.bits,
                k.tag,
                k.label
            );
        }
        made.push(k.clone());
    });
    // Keys made before a failure are in the token too: the warning covers them.
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, "key generate");
    for w in crate::ops::keys::rfc9905_warnings(&audit, &made, false)? {
        eprintln!("zonesign: warning: {w}");
    }
    result?;
    Ok(ExitCode::Ok)
}

/// Runs one key-state change and commits the state together with its audit lines
/// ([`KeyStore::commit`]). A refusal changes nothing: the state is saved only when
/// the change succeeded.
fn cmd_key_change(
    cli: &Cli,
    command: &str,
    now: Option<i64>,
    change: impl FnOnce(
        &mut KeyStore,
        &crate::dnssec::policy::Policy,
        i64,
    ) -> Result<Vec<lifecycle::Change>>,
) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let policy = cfg.policy()?;
    // A sign run holds this lock while it may save the key state (exit 5: try again).
    let _lock = crate::store::output::OutputLock::acquire(&cfg.files.keys)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let now = now_or_clock(now);
    let changes = change(&mut store, &policy, now)?;
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, command);
    store.commit(&cfg.files.keys, &audit, lifecycle::audit_events(&changes))?;
    if !cli.quiet {
        for c in &changes {
            say!("key {c}");
        }
    }
    Ok(ExitCode::Ok)
}

/// `zonesign key destroy`: destroys a removed key's objects in the token (DPS-5.3,
/// [`crate::ops::keys::destroy`]); a key that had no objects left is recorded as
/// destroyed with a warning.
fn cmd_key_destroy(cli: &Cli, a: &TagArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let opts = crate::ops::keys::DestroyOptions {
        tag: a.tag,
        now: now_or_clock(a.now),
    };
    let done = crate::ops::keys::destroy(&cfg, &opts)?;
    if done.nothing_left {
        eprintln!("zonesign: warning: key {}", done.change);
    } else if !cli.quiet {
        say!("key {}", done.change);
    }
    Ok(ExitCode::Ok)
}

fn cmd_key_list(cli: &Cli, a: &ListArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let store = KeyStore::load(&cfg.files.keys)?;
    let policy = cfg.policy()?;
    let now = now_or_clock(a.now);
    if a.format == Format::Json {
        let keys: Vec<serde_json::Value> = (0..store.keys.len())
            .map(|i| {
                let mut v = serde_json::to_value(&store.keys[i]).unwrap_or_default();
                let listed = lifecycle::listed_state(&store, &policy, i, now);
                let timeline: Vec<_> = lifecycle::timeline(&store, &policy, i, now)
                    .into_iter()
                    .map(|(e, t, planned)| serde_json::json!({"event": e, "time": t, "planned": planned}))
                    .collect();
                if let Some(o) = v.as_object_mut() {
                    // `state` as listed (with `ready`), `recorded-state` as in keys.toml.
                    o.insert(
                        "recorded-state".into(),
                        lifecycle::state_name(store.keys[i].state).into(),
                    );
                    o.insert("state".into(), lifecycle::state_name(listed).into());
                    o.insert("timeline".into(), timeline.into());
                }
                v
            })
            .collect();
        say!(
            "{}",
            serde_json::to_string_pretty(&keys).unwrap_or_default()
        );
        return Ok(ExitCode::Ok);
    }
    say!(
        "{:>5}  {:<4} {:<16} {:>5}  {:<9} {:<16} LABEL",
        "TAG",
        "ROLE",
        "ALGORITHM",
        "BITS",
        "STATE",
        "ID"
    );
    if let Some(r) = &store.algorithm_roll {
        say!(
            "algorithm roll {} -> {} (RFC 6781 section 4.1.4):",
            r.from,
            r.to
        );
        for (step, at, planned) in lifecycle::algorithm::steps(&store, &policy) {
            let when = at.unwrap_or_else(|| match step {
                "parent's DS seen" => {
                    "when the parent publishes the new DS (`zonesign key ds-seen` or the --ds-anchor file)".into()
                }
                _ => "after the step before it".into(),
            });
            say!(
                "       {step}: {when}{}",
                if planned { " (planned)" } else { "" }
            );
        }
    }
    for (i, k) in store.keys.iter().enumerate() {
        say!(
            "{:>5}  {:<4} {:<16} {:>5}  {:<9} {:<16} {}",
            k.tag,
            k.role,
            k.algorithm,
            k.bits,
            lifecycle::state_name(lifecycle::listed_state(&store, &policy, i, now)),
            k.id,
            k.label
        );
        let line: Vec<String> = lifecycle::timeline(&store, &policy, i, now)
            .into_iter()
            .map(|(e, t, planned)| format!("{e} {t}{}", if planned { " (planned)" } else { "" }))
            .collect();
        say!("       {}", line.join(", "));
        if let Some(from) = &k.imported {
            say!("       imported ({from}): not necessarily generated in this token");
        }
    }
    Ok(ExitCode::Ok)
}

/// The shell completion scripts shipped in `completions/` (bash, zsh, fish), generated
/// from the same clap definition as `--help` and the man page; a test keeps them
/// current. Each entry: the file name and its text.
pub fn completions() -> Vec<(&'static str, Vec<u8>)> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    [
        (Shell::Bash, "zonesign.bash"),
        (Shell::Zsh, "_zonesign"),
        (Shell::Fish, "zonesign.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "zonesign", &mut out);
        (file, out)
    })
    .collect()
}

/// The man page, generated from the same clap definition as `--help`, so the two never
/// disagree. `man/zonesign.1` is this output; a test keeps it current.
pub fn man_page() -> Vec<u8> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone()).date("2026-11-25");
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let _ = man.render_subcommands_section(&mut out);
    for sub in cmd.get_subcommands() {
        man_subcommand(&mut out, &format!("zonesign {}", sub.get_name()), sub);
    }
    out.extend_from_slice(b".SH CRON\n");
    out.extend_from_slice(roff_escape(CRON_HELP).as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(b".SH MIGRATION\n");
    out.extend_from_slice(roff_escape(MIGRATION_HELP).as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(b".SH \"EXIT STATUS AND ENVIRONMENT\"\n.nf\n");
    out.extend_from_slice(roff_escape(&after_help()).as_bytes());
    out.extend_from_slice(b"\n.fi\n.SH FILES\n.TP\n\\fB.zonesign/zonesign.toml\\fR\nconfig made by \\fBzonesign init\\fR: module, token label, PIN file, key state, audit log, optional [policy] table\n.TP\n\\fB.zonesign/user.pin\\fR, \\fB.zonesign/so.pin\\fR\nthe token PINs, mode 0600; move the SO PIN offline\n.TP\n\\fB.zonesign/keys.toml\\fR\nthe key state: role, algorithm, size, state, PKCS#11 id and label, public key; the NSEC3 salt in use\n.TP\n\\fB.zonesign/audit.log\\fR\nJSON lines, one per HSM act, hash-chained (DPS-4.4)\n.TP\n\\fB.zonesign/audit.log.1\\fR, ...\nthe audit log rotated (the Debian package's /etc/logrotate.d/zonesign); each newer file starts with a rotated line chained to the older one's last line\n.SH \"SEE ALSO\"\nldns-verify-zone(1), dnssec-verify(1), kzonecheck(1), softhsm2-util(1)\n");
    out
}

fn man_subcommand(out: &mut Vec<u8>, title: &str, cmd: &clap::Command) {
    if cmd.has_subcommands() {
        // Hidden ones (`hsm worker`) are zonesign's own business, not the reader's.
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            man_subcommand(out, &format!("{title} {}", sub.get_name()), sub);
        }
        return;
    }
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    out.extend_from_slice(
        format!(
            ".SH \"{}\"\n{}\n",
            title.to_uppercase(),
            roff_escape(&about)
        )
        .as_bytes(),
    );
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help")
    {
        let names = match (arg.get_long(), arg.get_value_names()) {
            (Some(l), Some(v)) => format!(
                "\\-\\-{l} {}",
                v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
            ),
            (Some(l), None) if arg.get_action().takes_values() => {
                format!("\\-\\-{l} {}", arg.get_id().as_str().to_uppercase())
            }
            (Some(l), None) => format!("\\-\\-{l}"),
            (None, Some(v)) => v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            (None, None) => arg.get_id().as_str().to_uppercase(),
        };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if defaults.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", defaults.join(","))
        };
        out.extend_from_slice(
            format!(
                ".TP\n\\fB{names}\\fR\n{}{}\n",
                roff_escape(&help),
                roff_escape(&default)
            )
            .as_bytes(),
        );
    }
}

/// Escapes text for roff; lines that are exactly a layout macro (`.nf`, `.fi`, `.PP`) pass.
fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('-', "\\-")
        .lines()
        .map(|l| {
            if matches!(l, ".nf" | ".fi" | ".PP") {
                l.to_string()
            } else if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `man/zonesign.1` is generated from the clap definition; run with
    /// `ZONESIGN_UPDATE_MAN=1 cargo test man_page` after changing a flag.
    #[test]
    fn man_page_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/zonesign.1");
        let fresh = man_page();
        if std::env::var_os("ZONESIGN_UPDATE_MAN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "man/zonesign.1 is stale: run ZONESIGN_UPDATE_MAN=1 cargo test man_page"
        );
    }

    /// `completions/` is generated from the clap definition like the man page; the
    /// same `ZONESIGN_UPDATE_MAN=1 cargo test completions` regenerates it.
    #[test]
    fn completions_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for (file, fresh) in completions() {
            let path = dir.join(file);
            if std::env::var_os("ZONESIGN_UPDATE_MAN").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &fresh).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == fresh,
                "completions/{file} is stale: run ZONESIGN_UPDATE_MAN=1 cargo test completions"
            );
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
