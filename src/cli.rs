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

/// A DNSSEC zone signer for TLD operators, with keys in a PKCS#11 token.
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
    /// HSM commands.
    #[command(subcommand)]
    Hsm(HsmCommand),
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

/// HSM commands.
#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// Measure the token's raw signing rate with the active ZSK, N sessions in parallel.
    Bench(BenchArgs),
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
        Command::Hsm(HsmCommand::Bench(a)) => cmd_hsm_bench(cli, a),
    }
}

fn cmd_hsm_bench(cli: &Cli, a: &BenchArgs) -> Result<ExitCode> {
    if !(a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err(Error::Usage("--seconds must be between 0 and 86400".into()));
    }
    let cfg = load_config(cli)?;
    let opts = crate::hsmbench::BenchOptions {
        sessions: a.sessions.unwrap_or(0),
        duration: std::time::Duration::from_secs_f64(a.seconds),
    };
    let report = crate::hsmbench::run(&cfg, &opts)?;
    let text = match a.format {
        Format::Text => report.to_text(),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(ExitCode::Ok)
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
    out.extend_from_slice(b".SH \"EXIT STATUS AND ENVIRONMENT\"\n.nf\n");
    out.extend_from_slice(roff_escape(AFTER_HELP).as_bytes());
    out.extend_from_slice(b"\n.fi\n.SH FILES\n.TP\n\\fB.zonesign/zonesign.toml\\fR\nconfig made by \\fBzonesign init\\fR: module, token label, PIN file, key state, audit log, optional [policy] table\n.TP\n\\fB.zonesign/user.pin\\fR, \\fB.zonesign/so.pin\\fR\nthe token PINs, mode 0600; move the SO PIN offline\n.TP\n\\fB.zonesign/keys.toml\\fR\nthe key state: role, algorithm, size, state, PKCS#11 id and label, public key\n.TP\n\\fB.zonesign/audit.log\\fR\nJSON lines, one per HSM act, hash-chained (DPS-4.4)\n.SH \"SEE ALSO\"\nldns-verify-zone(1), dnssec-verify(1), kzonecheck(1), softhsm2-util(1)\n");
    out
}

fn man_subcommand(out: &mut Vec<u8>, title: &str, cmd: &clap::Command) {
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands() {
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

fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('-', "\\-")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
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

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
