//! The command line: one clap definition feeds `--help`, the man page and dispatch.
//!
//! This is the edge where typed errors become messages on stderr and the documented
//! exit codes (see [`crate::error::ExitCode`]). Nothing here knows how a stage works.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::algorithm::Algorithm;
use crate::config::{Config, DEFAULT_DIR};
use crate::error::{Error, ExitCode, Result};
use crate::keys::{KeyStore, Role, ds_for};
use crate::name::Name;
use crate::pipeline::{self, SignRequest};
use crate::policy::{DAY, parse_duration};
use crate::rdata::format_rdata;
use crate::record::rtype;
use crate::setup::{InitOptions, init};
use crate::verify::VerifyOptions;

/// Exit codes and environment, shown by `--help` and in the man page.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the zone failed verification (nothing was written)
  2  bad input or usage (malformed zone, failed zone check, bad option or config)
  3  HSM or key problem (module, token, PIN, missing or mismatched key)
  4  I/O problem (a file could not be read, or the output could not be written)

Environment:
  ZONESIGN_PIN     the token user PIN (never give a PIN as an argument; SEC-6.1)
  ZONESIGN_CONFIG  the config file when --config is not given
                   (default: ./.zonesign/zonesign.toml)";

/// zonesign: a DNSSEC zone signer for TLD operators, with keys in a PKCS#11 token.
///
/// Signs a zone with NSEC and a KSK/ZSK split, verifies the whole result against the
/// parent's DS anchor and only then writes it, atomically.
#[derive(Debug, Parser)]
#[command(name = "zonesign", version, after_help = AFTER_HELP, max_term_width = 100)]
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
    Init(InitArgs),
    /// Sign a zone, verify the result against the DS anchor, then write it atomically.
    Sign(SignArgs),
    /// Validate a signed zone (from any signer) against a trust anchor.
    Verify(VerifyArgs),
    /// Key commands.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Options of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory for the token, config, PIN files, key state and audit log.
    #[arg(long, default_value = DEFAULT_DIR, value_name = "DIR")]
    pub dir: PathBuf,
    /// Algorithm of the keys (DPS-6.1: the practice statement uses rsasha1).
    #[arg(long, default_value = "rsasha1", value_parser = parse_algorithm)]
    pub algorithm: Algorithm,
    /// Label of the token to create.
    #[arg(long, default_value = "zonesign", value_name = "LABEL")]
    pub token: String,
    /// PKCS#11 module (default: SoftHSM2's libsofthsm2.so).
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
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
}

/// Report format of `verify` and `key list`.
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
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the DS records of the KSKs for the parent (DPS-5.1), as zone-file lines.
    Ds(DsArgs),
    /// List the keys: tag, role, algorithm, bits, state, PKCS#11 id and label.
    List(ListArgs),
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
}

/// Options of `key list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
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
    match dispatch(&cli) {
        Ok(code) => code as i32,
        Err(e) => {
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
    Ok(cfg)
}

fn dispatch(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Init(a) => cmd_init(cli, a),
        Command::Sign(a) => cmd_sign(cli, a),
        Command::Verify(a) => cmd_verify(a),
        Command::Key(KeyCommand::Ds(a)) => cmd_key_ds(cli, a),
        Command::Key(KeyCommand::List(a)) => cmd_key_list(cli, a),
    }
}

fn cmd_init(cli: &Cli, a: &InitArgs) -> Result<ExitCode> {
    let opts = InitOptions {
        dir: a.dir.clone(),
        algorithm: a.algorithm,
        token: a.token.clone(),
        module: a.module.clone(),
    };
    let s = init(&opts)?;
    if !cli.quiet {
        println!("zonesign: created {}", s.config.display());
        println!(
            "  token '{}' (SoftHSM2), user PIN in {} (mode 0600)",
            a.token,
            s.pin_file.display()
        );
        println!(
            "  SO PIN in {} (mode 0600): move it offline; only the security officer needs it (DPS-4.2)",
            s.so_pin_file.display()
        );
        for k in &s.keys {
            println!(
                "  {} {} {} bits, tag {}, label {}",
                k.role, k.algorithm, k.bits, k.tag, k.label
            );
        }
        println!(
            "next: zonesign --config {} sign ZONEFILE --origin ORIGIN --out SIGNED",
            s.config.display()
        );
    }
    Ok(ExitCode::Ok)
}

fn cmd_sign(cli: &Cli, a: &SignArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let req = SignRequest {
        zone_file: a.zone.clone(),
        origin: a.origin.clone(),
        out: a.out.clone(),
        ds_anchor: a.ds_anchor.clone(),
        now: now_or_clock(a.now),
        seed: a.seed,
        sessions: a.sessions,
    };
    let s = pipeline::sign(&cfg, &req)?;
    for w in &s.warnings {
        eprintln!("zonesign: warning: {w}");
    }
    if !cli.quiet {
        println!(
            "zonesign: signed {} serial {}: {} RRsets, {} signatures made ({} NSEC), verified ({} signatures), written to {} in {:.1}s",
            a.origin,
            s.serial,
            s.rrsets,
            s.stats.signatures,
            s.nsec,
            s.report.stats.signatures_valid,
            a.out.display(),
            s.elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::Ok)
}

fn cmd_verify(a: &VerifyArgs) -> Result<ExitCode> {
    let anchors = pipeline::read_anchors(&a.anchor, &a.origin)?;
    let opts = VerifyOptions {
        now: now_or_clock(a.now),
        max_validity: (a.max_validity > 0).then_some(a.max_validity),
        ttl_rules: None,
        expected: None,
    };
    let report = pipeline::verify_file(&a.zone, &a.origin, &anchors, &opts)?;
    let text = match a.format {
        Format::Text => report.to_text(),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(if report.valid {
        ExitCode::Ok
    } else {
        ExitCode::VerifyFailed
    })
}

fn cmd_key_ds(cli: &Cli, a: &DsArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let store = KeyStore::load(&cfg.files.keys)?;
    let origin = match (&a.origin, &store.zone) {
        (Some(o), _) => o.clone(),
        (None, Some(z)) => parse_name(z).map_err(Error::Usage)?,
        (None, None) => {
            return Err(Error::Usage(
                "these keys have not signed a zone yet: give --origin".into(),
            ));
        }
    };
    let digest = match a.digest {
        Digest::Sha256 => 2,
        Digest::Sha384 => 4,
    };
    let mut out = String::new();
    for k in store.published().filter(|k| k.role == Role::Ksk) {
        let ds = ds_for(&origin, &k.dnskey_rdata()?, digest)?;
        out.push_str(&format!("{origin}\t{}\tIN\tDS\t", DAY / 24));
        format_rdata(rtype::DS, &ds, &mut out);
        out.push('\n');
    }
    let audit = crate::audit::AuditLog::new(&cfg.files.audit_log, "key ds");
    audit
        .record(
            "export",
            serde_json::json!({"what": "DS", "zone": origin.to_string(), "digest": digest}),
        )
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::Ok)
}

fn cmd_key_list(cli: &Cli, a: &ListArgs) -> Result<ExitCode> {
    let cfg = load_config(cli)?;
    let store = KeyStore::load(&cfg.files.keys)?;
    if a.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&store.keys).unwrap_or_default()
        );
        return Ok(ExitCode::Ok);
    }
    println!(
        "{:>5}  {:<4} {:<16} {:>5}  {:<9} {:<16} LABEL",
        "TAG", "ROLE", "ALGORITHM", "BITS", "STATE", "ID"
    );
    for k in &store.keys {
        let state = serde_json::to_value(k.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        println!(
            "{:>5}  {:<4} {:<16} {:>5}  {:<9} {:<16} {}",
            k.tag, k.role, k.algorithm, k.bits, state, k.id, k.label
        );
    }
    Ok(ExitCode::Ok)
}
