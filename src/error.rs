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
