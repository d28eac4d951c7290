//! Typed errors of every stage and the exit-code contract of the command line.
//!
//! Each stage returns its own error type; this module folds them into [`Error`], whose
//! [`Error::exit_code`] is the documented contract scripts and cron rely on. Messages are
//! written for operators: they say what is wrong and where (file and line) and, when there
//! is one, what to do about it.

use std::path::PathBuf;

use crate::dns::zonefile::ParseError;
use crate::hsm::HsmError;

/// The exit codes of `zonesign`, documented in `--help` and the man page.
///
/// They are part of the command-line contract: cron wrappers and CI decide on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    Ok = 0,
    /// The zone failed verification: nothing was written (DPS-6.6).
    VerifyFailed = 1,
    /// Bad input or usage: a malformed zone, a failed zone check, a bad option or config.
    BadInput = 2,
    /// HSM or key problem: module, token, PIN, missing or mismatched key.
    Hsm = 3,
    /// I/O problem: a file could not be read or the output could not be written.
    Io = 4,
    /// Another run holds the lock on the output: nothing was changed.
    Locked = 5,
    /// `verify --expiring`: the zone is valid but signatures expire within the window.
    Expiring = 6,
}

impl ExitCode {
    /// Every exit code with its meaning: the one definition that `--help`, the man
    /// page, the README's table (checked by a test) and the integration tests use.
    pub const ALL: [(ExitCode, &'static str); 7] = [
        (ExitCode::Ok, "success"),
        (
            ExitCode::VerifyFailed,
            "the zone failed verification (nothing was written); for `audit verify`: the audit chain is broken; for `check`: a mandatory security control is missing",
        ),
        (
            ExitCode::BadInput,
            "bad input or usage (malformed zone, including an $INCLUDE that cannot be read; failed zone check; bad option; missing or bad config)",
        ),
        (
            ExitCode::Hsm,
            "HSM or key problem (module, token, PIN, missing or mismatched key)",
        ),
        (
            ExitCode::Io,
            "I/O problem (a file could not be read: the zone, an anchor, the key state; or the output could not be written)",
        ),
        (
            ExitCode::Locked,
            "another zonesign run holds the lock on the output (nothing was changed)",
        ),
        (
            ExitCode::Expiring,
            "verify --expiring: the zone is valid, but signatures expire within the window",
        ),
    ];

    /// The process exit status.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The "Exit codes:" block of `--help` and the man page, each meaning wrapped at 80
    /// columns under its code.
    pub fn help() -> String {
        let mut out = String::from("Exit codes:\n");
        for (code, meaning) in ExitCode::ALL {
            let mut line = format!("  {}  ", code.code());
            for word in meaning.split(' ') {
                if line.len() + word.len() + 1 > 80 && line.trim_end().len() > 4 {
                    out.push_str(line.trim_end());
                    out.push('\n');
                    line = "     ".into();
                }
                line.push_str(word);
                line.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Every error zonesign can end with, grouped by the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The zone file (or an anchor file) could not be parsed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The zone parsed but breaks a rule that must hold before signing.
    #[error("the zone failed {} check(s):\n{}", .0.len(), .0.join("\n"))]
    Checks(Vec<String>),
    /// A bad command-line value or configuration.
    #[error("{0}")]
    Usage(String),
    /// The token, module, PIN or a key failed.
    #[error("{0}")]
    Hsm(#[from] HsmError),
    /// The key state does not allow the requested act (no active KSK, key mismatch...).
    #[error("{0}")]
    Key(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The signed zone failed the verification gate or `zonesign verify`.
    #[error("{0}")]
    Verification(String),
    /// Another run is signing into the same output.
    #[error("{0}")]
    Locked(String),
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Parse(_) | Error::Checks(_) | Error::Usage(_) => ExitCode::BadInput,
            Error::Hsm(_) | Error::Key(_) => ExitCode::Hsm,
            Error::Io { .. } => ExitCode::Io,
            Error::Verification(_) => ExitCode::VerifyFailed,
            Error::Locked(_) => ExitCode::Locked,
        }
    }

    /// Wraps an I/O error with the path it concerns, so the message names the file.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's exit-code table lists exactly the codes of [`ExitCode::ALL`], in
    /// order: the contract is defined once and documented where operators read it.
    #[test]
    fn readme_exit_code_table_matches_the_definition() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let section = readme
            .split("### Exit codes")
            .nth(1)
            .expect("README has an exit code section");
        let listed: Vec<i32> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('|').nth(1).unwrap().trim().parse().expect("code"))
            .collect();
        let defined: Vec<i32> = ExitCode::ALL.iter().map(|(c, _)| c.code()).collect();
        assert_eq!(listed, defined);
        assert_eq!(
            defined,
            (0..7).collect::<Vec<_>>(),
            "codes are 0..=6, in order"
        );
    }

    #[test]
    fn help_lists_every_code_within_80_columns() {
        let help = ExitCode::help();
        for (code, _) in ExitCode::ALL {
            assert!(help.contains(&format!("\n  {}  ", code.code())), "{help}");
        }
        assert!(help.lines().all(|l| l.len() <= 80), "{help}");
    }
}
