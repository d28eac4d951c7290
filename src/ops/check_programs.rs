//! Operator check programs (PIPE-2): external programs that judge a zone before signing
//! (ingress) or after signing, before publication (egress).
//!
//! A registry lists them in `zonesign.toml` as argv lists, e.g.
//! `checks = [["/usr/local/bin/check-zone", "--strict"], ["validns", "-z"]]`, with a
//! `check-timeout` ("10m" by default). This module runs them; the flows in
//! [`crate::ops::pipeline`] decide what they are shown (the `ZONESIGN_*` paths) and what a
//! failure means.
//!
//! What a run guarantees, and why:
//! - No shell, ever: each argv goes to `execve` as it is, so a zone path or an origin can
//!   never be read as shell syntax. A name without `/` is looked up in `PATH` as `execvp`
//!   does, but by this module, so the up-front check ([`check_configured`]) and the run
//!   find the same file.
//! - The child sees zonesign's environment plus what the caller sets, minus
//!   `ZONESIGN_PIN` and the caller's secrets: a check program is operator code, not the
//!   token's keeper (SEC-6.1).
//! - stdin is `/dev/null`; stdout and stderr are drained by threads, so a program that
//!   prints megabytes never blocks on a full pipe. The first lines of stderr (of stdout
//!   when stderr is empty: `named-checkzone` reports on stdout) are kept for the message.
//! - Each program runs in its own process group, which is killed as a whole when the
//!   program ends or times out: a check's helpers never outlive it, keep reading a zone
//!   that is being published, or hold the run up by keeping its pipes open.
//! - A program that cannot be started is a configuration error ([`ProgramError`]), not a
//!   verdict: a missing checker must not read as a rejected zone, nor as an approved one.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::config::PIN_ENV;
use crate::dnssec::policy::parse_duration;

/// The check timeout when the config names none: long enough for a full validation of a
/// large TLD, short enough that a hung checker does not eat the signing window.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Lines of a failed program's output kept for the message: enough to say what is
/// wrong, few enough for a log line and the run report.
const KEPT_LINES: usize = 20;

/// Bytes of each stream kept, whatever the line count: a program printing one endless
/// line must not fill memory or the message.
const KEPT_BYTES: usize = 4096;

/// How long to wait for the output pipes to close once the program is reaped. Its group
/// is dead by then, so they close at once, unless a helper left the group (setsid) and
/// holds them; the drain threads are then left behind rather than waited on.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The search path when `PATH` is unset, as glibc's `execvp` uses.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// One configured check: the program and its arguments, never a shell line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckProgram {
    /// The program (a path, or a name looked up in `PATH`) and its arguments.
    pub argv: Vec<String>,
}

impl CheckProgram {
    /// A check from its argv; refused if there is no program name.
    pub fn new(argv: Vec<String>) -> Result<CheckProgram, ProgramError> {
        if argv.first().is_none_or(String::is_empty) {
            return Err(ProgramError::Empty { key: None });
        }
        Ok(CheckProgram { argv })
    }

    /// The argv as one shell-quoted line, for messages: what an operator can paste to
    /// run the check by hand.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The program name, `""` only for a hand-built empty argv (refused before any run).
    fn name(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

impl<'de> Deserialize<'de> for CheckProgram {
    /// A TOML array of strings. A plain string is refused with a hint rather than split:
    /// splitting would be a shell's job, and this runner has none.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Argv(Vec<String>),
            Line(String),
        }
        match Raw::deserialize(d)? {
            Raw::Argv(argv) => CheckProgram::new(argv).map_err(D::Error::custom),
            Raw::Line(line) => Err(D::Error::custom(format!(
                "check program \"{line}\" is a string: write it as a list of the program \
                 and its arguments, e.g. [\"validns\", \"-z\"] (no shell splits it into words)"
            ))),
        }
    }
}

/// The environment changes for the check programs: what to add, what to remove.
///
/// Removals win over additions, and `ZONESIGN_PIN` is always removed, so no mistake
/// in a caller can hand the PIN to a check program.
#[derive(Debug, Clone, Default)]
pub struct Env {
    set: Vec<(String, OsString)>,
    unset: Vec<String>,
}

impl Env {
    /// No changes: the parent's environment minus `ZONESIGN_PIN`.
    pub fn new() -> Env {
        Env::default()
    }

    /// Sets `name` (e.g. `ZONESIGN_CANDIDATE` to the candidate zone's path).
    pub fn set(mut self, name: &str, value: impl Into<OsString>) -> Env {
        self.set.push((name.to_owned(), value.into()));
        self
    }

    /// Removes `name`, even if the parent has it: e.g. `ZONESIGN_APPROVED` on a first
    /// run, which must be absent, not empty, so a check cannot mistake it for a path.
    pub fn unset(mut self, name: &str) -> Env {
        self.unset.push(name.to_owned());
        self
    }

    /// Removes `name` because it holds a secret; the same as [`Env::unset`], named for
    /// the reader of the call site.
    pub fn secret(self, name: &str) -> Env {
        self.unset(name)
    }

    /// The child's full environment from the parent's.
    fn apply(
        &self,
        parent: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> BTreeMap<OsString, OsString> {
        let mut vars: BTreeMap<OsString, OsString> = parent.into_iter().collect();
        for (name, value) in &self.set {
            vars.insert(name.into(), value.clone());
        }
        for name in self.unset.iter().map(String::as_str).chain([PIN_ENV]) {
            vars.remove(OsStr::new(name));
        }
        vars
    }
}

/// The result of the checks: all passed, or the first failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every program exited 0.
    Pass,
    /// A program failed; the ones after it did not run.
    Fail(Failure),
}

/// Which output a failure's lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The program's stderr, the usual place for its reasons.
    Stderr,
    /// Its stdout, used only when stderr was empty.
    Stdout,
}

/// A check program's refusal, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The program's argv as one line ([`CheckProgram::display`]).
    pub program: String,
    /// How it ended.
    pub ended: Ended,
    /// The first lines it printed (at most 20 and about 4 KiB; blank lines dropped,
    /// control characters replaced).
    pub lines: Vec<String>,
    /// Where `lines` come from.
    pub stream: Stream,
    /// Whether it printed more than `lines`.
    pub more: bool,
}

impl fmt::Display for Failure {
    /// One paragraph: the program, how it ended, what it said.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check program \"{}\" {}", self.program, self.ended)?;
        if self.lines.is_empty() {
            return f.write_str("; it printed nothing");
        }
        match self.stream {
            Stream::Stderr => f.write_str("; its stderr: ")?,
            Stream::Stdout => f.write_str("; its stdout (stderr was empty): ")?,
        }
        f.write_str(&self.lines.join(" | "))?;
        if self.more {
            f.write_str(" (more not shown)")?;
        }
        Ok(())
    }
}

/// How a failed program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this non-zero status.
    Exited(i32),
    /// A signal killed it (not the timeout's).
    Signal(i32),
    /// It ran past the check timeout and was killed with its process group.
    TimedOut(Duration),
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Signal(sig) => match signal_name(sig) {
                Some(name) => write!(f, "killed by signal {sig} ({name})"),
                None => write!(f, "killed by signal {sig}"),
            },
            Ended::TimedOut(limit) => write!(
                f,
                "killed after the {} check timeout",
                format_duration(limit)
            ),
        }
    }
}

/// A check program that cannot be run: a configuration problem, never a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// An argv without a program.
    #[error(
        "a check program{} is an empty list: write it as [\"program\", \"argument\", ...]",
        in_key(key)
    )]
    Empty {
        /// The config key, when known.
        key: Option<String>,
    },
    /// The program's file does not exist (on its path, or in any `PATH` directory).
    #[error(
        "check program \"{program}\"{}: {name} not found{}",
        in_key(key),
        in_path(searched)
    )]
    NotFound {
        /// The argv as one line.
        program: String,
        /// The program name as configured.
        name: String,
        /// The config key, when known.
        key: Option<String>,
        /// The `PATH` searched, for a name without `/`.
        searched: Option<String>,
    },
    /// The file exists but cannot be executed.
    #[error("check program \"{program}\"{}: {} {why}", in_key(key), path.display())]
    NotExecutable {
        /// The argv as one line.
        program: String,
        /// The file found.
        path: PathBuf,
        /// The config key, when known.
        key: Option<String>,
        /// What is wrong with it ("is a directory", "has no execute permission"...).
        why: String,
    },
    /// The system refused to start it for another reason (no memory, no processes...).
    #[error("cannot start check program \"{program}\"{}: {source}", in_key(key))]
    Spawn {
        /// The argv as one line.
        program: String,
        /// The config key, when known.
        key: Option<String>,
        /// The system's reason.
        source: io::Error,
    },
    /// The program started but could not be watched (no thread, a failed wait); it was
    /// killed, and there is no verdict.
    #[error("lost track of check program \"{program}\" (it was killed): {source}")]
    Supervise {
        /// The argv as one line.
        program: String,
        /// The system's reason.
        source: io::Error,
    },
}

fn in_key(key: &Option<String>) -> String {
    key.as_ref()
        .map_or_else(String::new, |k| format!(" in {k}"))
}

fn in_path(searched: &Option<String>) -> String {
    searched
        .as_ref()
        .map_or_else(String::new, |p| format!(" in PATH ({p})"))
}

/// Checks before any work that every program can be found and is an executable regular
/// file (and its `#!` interpreter exists), so a run fails fast, naming the program and
/// `key` (e.g. `ingress.checks`), instead of after an hour of signing.
///
/// Names without `/` are looked up in zonesign's own `PATH`, as the run does.
pub fn check_configured(programs: &[CheckProgram], key: &str) -> Result<(), ProgramError> {
    let path_var = std::env::var_os("PATH");
    for program in programs {
        resolve(program, path_var.as_deref())
            .map_err(|e| with_key(e, key))
            .and_then(|exe| interpreter_usable(program, &exe, key))?;
    }
    Ok(())
}

/// Runs the programs one after another in the configured order, each within `timeout`,
/// and stops at the first failure: a later check's verdict on a refused zone is noise.
///
/// `Ok(Verdict)` is the checks' judgement; `Err` means a program could not be run at all
/// (a configuration error, see [`ProgramError`]).
pub fn run_all(
    programs: &[CheckProgram],
    env: &Env,
    timeout: Duration,
) -> Result<Verdict, ProgramError> {
    let limits = Limits {
        timeout,
        drain_grace: DRAIN_GRACE,
    };
    run_all_in(programs, &env.apply(std::env::vars_os()), &limits)
}

/// Parses a check timeout ("90s", "10m", "1h", or plain seconds) with the policy file's
/// duration syntax. Zero is refused: it would kill every check at its start.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        0 => Err(format!("check timeout '{text}' is zero: give at least 1s")),
        secs => Ok(Duration::from_secs(secs.into())),
    }
}

/// Serde helper for `check-timeout` (`#[serde(deserialize_with = ...)]`): a duration
/// string or a number of seconds.
pub fn deserialize_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u32),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Seconds(n) => n.to_string(),
        Raw::Text(t) => t,
    };
    parse_timeout(&text).map_err(D::Error::custom)
}

/// Serde helper for `#[serde(default = ...)]`: [`DEFAULT_TIMEOUT`].
pub fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

/// The time limits of one program: its timeout, and the wait for its pipes afterwards
/// (shortened by tests).
struct Limits {
    timeout: Duration,
    drain_grace: Duration,
}

/// [`run_all`] with the child's environment given, so tests need not change the test
/// process's own environment.
fn run_all_in(
    programs: &[CheckProgram],
    vars: &BTreeMap<OsString, OsString>,
    limits: &Limits,
) -> Result<Verdict, ProgramError> {
    for program in programs {
        if let Verdict::Fail(failure) = run_one(program, vars, limits)? {
            return Ok(Verdict::Fail(failure));
        }
    }
    Ok(Verdict::Pass)
}

/// Runs one program to its end (or its timeout) and judges its exit.
fn run_one(
    program: &CheckProgram,
    vars: &BTreeMap<OsString, OsString>,
    limits: &Limits,
) -> Result<Verdict, ProgramError> {
    let exe = resolve(
        program,
        vars.get(OsStr::new("PATH")).map(OsString::as_os_str),
    )?;
    let mut child = Command::new(&exe)
        .arg0(program.name())
        .args(program.argv.iter().skip(1))
        .env_clear()
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| spawn_error(program, &exe, e))?;
    let run = supervise(&mut child, limits).map_err(|source| ProgramError::Supervise {
        program: program.display(),
        source,
    })?;
    Ok(judge(program, &run, limits.timeout))
}

/// What a finished program left: how it ended and what it printed.
struct Finished {
    status: ExitStatus,
    timed_out: bool,
    stderr: Kept,
    stdout: Kept,
}

/// Drains the pipes, waits for the exit within the timeout, kills the process group,
/// reaps. On an error the group is killed and the child reaped before returning.
fn supervise(child: &mut Child, limits: &Limits) -> io::Result<Finished> {
    let start = Instant::now();
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("the program's pid is out of range"));
    };
    let (done_tx, done_rx) = mpsc::channel();
    let watched = start_drain(child.stderr.take(), done_tx.clone()).and_then(|err| {
        let out = start_drain(child.stdout.take(), done_tx)?;
        Ok((err, out, start_waiter(pgid)?))
    });
    let (stderr, stdout, (exited, waiter)) = match watched {
        Ok(w) => w,
        Err(e) => {
            kill_group(pgid);
            let _ = child.wait();
            return Err(e);
        }
    };
    let early = match exited.recv_timeout(limits.timeout.saturating_sub(start.elapsed())) {
        Ok(waited) => Some(waited),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => Some(Err(lost_waiter())),
    };
    let timed_out = early.is_none();
    // The leader has exited or is running, but is not reaped, so `pgid` still names its
    // group.
    kill_group(pgid);
    // After SIGKILL the leader ends; the waiter must see that before the reap, or its
    // pid could be reused under it.
    let waited = early.unwrap_or_else(|| exited.recv().unwrap_or_else(|_| Err(lost_waiter())));
    let _ = waiter.join();
    let status = child.wait()?;
    waited?;
    await_drains(&done_rx, limits.drain_grace);
    Ok(Finished {
        status,
        timed_out,
        stderr: lock(&stderr).clone(),
        stdout: lock(&stdout).clone(),
    })
}

fn lost_waiter() -> io::Error {
    io::Error::other("the wait for the program's exit ended without an answer")
}

/// The verdict from how the program ended. A SIGKILL after the deadline is the
/// timeout's; a program that exited on its own just at the deadline keeps its status.
fn judge(program: &CheckProgram, run: &Finished, timeout: Duration) -> Verdict {
    let ended = match (run.status.code(), run.status.signal()) {
        (Some(0), _) => return Verdict::Pass,
        (Some(code), _) => Ended::Exited(code),
        (None, Some(libc::SIGKILL)) if run.timed_out => Ended::TimedOut(timeout),
        (None, Some(sig)) => Ended::Signal(sig),
        (None, None) => Ended::Exited(-1),
    };
    let (mut lines, mut more) = run.stderr.lines();
    let mut stream = Stream::Stderr;
    if lines.is_empty() {
        (lines, more) = run.stdout.lines();
        stream = Stream::Stdout;
    }
    Verdict::Fail(Failure {
        program: program.display(),
        ended,
        lines,
        stream,
        more,
    })
}

/// The start of one output stream, the rest counted as "more".
#[derive(Debug, Clone, Default)]
struct Kept {
    bytes: Vec<u8>,
    more: bool,
}

impl Kept {
    fn push(&mut self, chunk: &[u8]) {
        let room = KEPT_BYTES.saturating_sub(self.bytes.len()).min(chunk.len());
        let (keep, rest) = chunk.split_at(room);
        self.bytes.extend_from_slice(keep);
        self.more |= !rest.is_empty();
    }

    /// The first [`KEPT_LINES`] non-blank lines, and whether there was more. Control
    /// characters are replaced so a program cannot send escape sequences to the
    /// operator's terminal or break a log line.
    fn lines(&self) -> (Vec<String>, bool) {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut all = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
        let lines = all.by_ref().take(KEPT_LINES).map(printable).collect();
        (lines, self.more || all.next().is_some())
    }
}

fn printable(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn lock(kept: &Mutex<Kept>) -> MutexGuard<'_, Kept> {
    kept.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a thread that reads `pipe` to its end, keeping its start; it says `done` when
/// the pipe closes.
fn start_drain(
    pipe: Option<impl Read + Send + 'static>,
    done: Sender<()>,
) -> io::Result<Arc<Mutex<Kept>>> {
    let kept = Arc::new(Mutex::new(Kept::default()));
    let Some(mut pipe) = pipe else {
        let _ = done.send(());
        return Ok(kept);
    };
    let shared = Arc::clone(&kept);
    thread::Builder::new()
        .name("check-drain".into())
        .spawn(move || {
            drain(&mut pipe, &shared);
            let _ = done.send(());
        })?;
    Ok(kept)
}

/// Reads to the end; after the kept start, reads only to discard.
fn drain(pipe: &mut impl Read, kept: &Mutex<Kept>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut keeping = true;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if keeping {
            let mut k = lock(kept);
            k.push(buf.get(..n).unwrap_or_default());
            keeping = !k.more;
        }
    }
}

/// Waits up to `grace` for both drain threads; any still blocked (a helper that left
/// the group holds the pipe) are left to end on their own.
fn await_drains(done: &Receiver<()>, grace: Duration) {
    let start = Instant::now();
    for _ in 0..2 {
        if done
            .recv_timeout(grace.saturating_sub(start.elapsed()))
            .is_err()
        {
            return;
        }
    }
}

/// Starts a thread that waits for the leader `pid` to exit without reaping it, so the
/// pid, and with it the process group's id, stays ours until [`Child::wait`].
fn start_waiter(
    pid: libc::pid_t,
) -> io::Result<(Receiver<io::Result<()>>, thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("check-wait".into())
        .spawn(move || {
            let _ = tx.send(wait_exited(pid));
        })?;
    Ok((rx, handle))
}

/// Blocks until `pid` has exited, leaving it a zombie (`WNOWAIT`).
fn wait_exited(pid: libc::pid_t) -> io::Result<()> {
    let id = libc::id_t::try_from(pid).map_err(|_| io::Error::other("bad pid"))?;
    loop {
        let mut info = MaybeUninit::<libc::siginfo_t>::uninit();
        // SAFETY: `info` is writable memory of the size of siginfo_t for the whole call,
        // and it is never read. WNOWAIT leaves the child unreaped, so the `Child` that
        // owns it still reaps it exactly once.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                id,
                info.as_mut_ptr(),
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends SIGKILL to the process group `pgid`: the program and every helper it started
/// that stayed in its group. Callers hold the leader unreaped, so the group cannot be
/// someone else's. Errors are ignored: an already empty group is what we want.
fn kill_group(pgid: libc::pid_t) {
    // kill(0) or kill(-1) would hit our own group or every process we may signal.
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill takes no pointers and has no memory-safety preconditions; `-pgid`
    // names only the check program's own group (see above).
    let _ = unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Finds the file to execute, as `execvp` would: a name with `/` is a path; others are
/// looked up in `path_var`'s directories, an empty entry meaning the current one. Like
/// `execvp`, a found but unusable file does not stop the search.
fn resolve(program: &CheckProgram, path_var: Option<&OsStr>) -> Result<PathBuf, ProgramError> {
    let name = program.name();
    if name.is_empty() {
        return Err(ProgramError::Empty { key: None });
    }
    if name.contains('/') {
        let path = PathBuf::from(name);
        return match usable(&path) {
            Ok(()) => Ok(path),
            Err(Unusable::Missing) => Err(not_found(program, None)),
            Err(Unusable::Refused(why)) => Err(not_executable(program, path, why)),
        };
    }
    let dirs = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut refused = None;
    for dir in dirs.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(name);
        match usable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Unusable::Missing) => {}
            Err(Unusable::Refused(why)) => {
                refused.get_or_insert((candidate, why));
            }
        }
    }
    Err(match refused {
        Some((path, why)) => not_executable(program, path, why),
        None => not_found(program, Some(dirs.to_string_lossy().into_owned())),
    })
}

/// Why a file cannot be executed.
enum Unusable {
    Missing,
    Refused(String),
}

/// Whether `path` is a regular file this process may execute.
fn usable(path: &Path) -> Result<(), Unusable> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            return Err(Unusable::Missing);
        }
        Err(e) => return Err(Unusable::Refused(format!("cannot be examined ({e})"))),
    };
    if meta.is_dir() {
        return Err(Unusable::Refused("is a directory".into()));
    }
    if !meta.is_file() {
        return Err(Unusable::Refused("is not a regular file".into()));
    }
    if !may_execute(path) {
        return Err(Unusable::Refused(
            "is not executable by this user (check its mode and owner)".into(),
        ));
    }
    Ok(())
}

/// Whether the kernel would let this process execute `path` (effective ids, as execve).
fn may_execute(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call, which only
    // reads it.
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::X_OK,
            libc::AT_EACCESS,
        ) == 0
    }
}

/// For a script, whether its `#!` interpreter exists: a missing one makes execve fail
/// with "not found" on a file that is plainly there. Files we cannot read are let be.
fn interpreter_usable(program: &CheckProgram, exe: &Path, key: &str) -> Result<(), ProgramError> {
    let Some(interpreter) = shebang(exe) else {
        return Ok(());
    };
    match usable(&interpreter) {
        Ok(()) => Ok(()),
        Err(Unusable::Missing) => Err(with_key(
            not_executable(
                program,
                exe.to_owned(),
                format!("names a missing interpreter {}", interpreter.display()),
            ),
            key,
        )),
        Err(Unusable::Refused(why)) => Err(with_key(
            not_executable(
                program,
                exe.to_owned(),
                format!("names an interpreter that {why}: {}", interpreter.display()),
            ),
            key,
        )),
    }
}

/// The interpreter path of a `#!` line, if the file starts with one.
fn shebang(exe: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(exe).ok()?.read(&mut head).ok()?;
    let line = head.get(..n)?.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let word = line
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())?;
    Some(PathBuf::from(OsStr::from_bytes(word)))
}

fn not_found(program: &CheckProgram, searched: Option<String>) -> ProgramError {
    ProgramError::NotFound {
        program: program.display(),
        name: program.name().to_owned(),
        key: None,
        searched,
    }
}

fn not_executable(program: &CheckProgram, path: PathBuf, why: String) -> ProgramError {
    ProgramError::NotExecutable {
        program: program.display(),
        path,
        key: None,
        why,
    }
}

/// Maps a failed spawn of a found file: it may have changed since it was checked, or be
/// a script whose interpreter is missing (ENOENT on a file that exists).
fn spawn_error(program: &CheckProgram, exe: &Path, e: io::Error) -> ProgramError {
    let why = match e.raw_os_error() {
        Some(libc::ENOENT) if exe.exists() => {
            "cannot be executed: its #! interpreter or loader is missing"
        }
        Some(libc::ENOENT) => return not_found(program, None),
        Some(libc::EACCES) => "cannot be executed: permission denied",
        Some(libc::ENOEXEC) => "is not a format this system executes (a script needs a #! line)",
        _ => {
            return ProgramError::Spawn {
                program: program.display(),
                key: None,
                source: e,
            };
        }
    };
    not_executable(program, exe.to_owned(), why.into())
}

/// The error with its config key filled in.
fn with_key(mut e: ProgramError, key: &str) -> ProgramError {
    match &mut e {
        ProgramError::Empty { key: k }
        | ProgramError::NotFound { key: k, .. }
        | ProgramError::NotExecutable { key: k, .. }
        | ProgramError::Spawn { key: k, .. } => *k = Some(key.to_owned()),
        ProgramError::Supervise { .. } => {}
    }
    e
}

/// An argument as a POSIX shell would need it: bare when safe, else single-quoted.
fn shell_quote(arg: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(bare) {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A duration in the config's own units, for the timeout message.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The names of the signals a check program is likely to die of.
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CheckProgram {
        CheckProgram {
            argv: vec!["sh".into(), "-c".into(), script.into()],
        }
    }

    /// `sh -c script sh arg`: the script reads the path as `$1`.
    fn sh_with(script: &str, arg: &Path) -> CheckProgram {
        CheckProgram {
            argv: vec![
                "sh".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                arg.display().to_string(),
            ],
        }
    }

    fn limits(timeout: Duration) -> Limits {
        Limits {
            timeout,
            drain_grace: Duration::from_millis(300),
        }
    }

    fn run(programs: &[CheckProgram], timeout: Duration) -> Result<Verdict, ProgramError> {
        run_all_in(
            programs,
            &Env::new().apply(std::env::vars_os()),
            &limits(timeout),
        )
    }

    fn failure(v: Verdict) -> Failure {
        match v {
            Verdict::Fail(f) => f,
            Verdict::Pass => panic!("expected a failure"),
        }
    }

    /// Whether `pid` is a live process (a zombie waiting for its reaper counts as gone).
    fn alive(pid: i32) -> bool {
        // SAFETY: kill with signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            return false;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.trim().chars().next());
        state.is_some_and(|s| s != 'Z')
    }

    fn gone_within(pid: i32, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !alive(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn read_pid(file: &Path) -> i32 {
        std::fs::read_to_string(file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn exit_zero_passes() {
        assert_eq!(run(&[sh("exit 0")], SECOND).unwrap(), Verdict::Pass);
        assert_eq!(run(&[], SECOND).unwrap(), Verdict::Pass);
    }

    #[test]
    fn exit_three_fails_with_its_stderr_lines() {
        let p = sh("echo out; echo 'bad: SOA' >&2; echo; printf 'x\\033[2Jy\\n' >&2; exit 3");
        let f = failure(run(std::slice::from_ref(&p), SECOND).unwrap());
        assert_eq!(f.ended, Ended::Exited(3));
        assert_eq!(f.stream, Stream::Stderr);
        assert_eq!(f.lines, ["bad: SOA", "x\u{fffd}[2Jy"]);
        assert!(!f.more);
        assert_eq!(f.program, p.display());
        let text = f.to_string();
        assert!(
            text.starts_with("check program \"sh -c 'echo out;"),
            "{text}"
        );
        assert!(
            text.contains("exited with status 3; its stderr: bad: SOA | x"),
            "{text}"
        );
    }

    #[test]
    fn stdout_is_the_fallback_when_stderr_is_empty() {
        let f = failure(run(&[sh("echo 'zone: bad'; exit 1")], SECOND).unwrap());
        assert_eq!(f.stream, Stream::Stdout);
        assert_eq!(f.lines, ["zone: bad"]);
        assert!(
            f.to_string()
                .contains("its stdout (stderr was empty): zone: bad")
        );
        let f = failure(run(&[sh("exit 1")], SECOND).unwrap());
        assert!(f.lines.is_empty());
        assert!(
            f.to_string()
                .ends_with("exited with status 1; it printed nothing")
        );
    }

    #[test]
    fn only_the_first_lines_are_kept() {
        let f = failure(run(&[sh("seq 1 30 >&2; exit 1")], SECOND).unwrap());
        assert_eq!(f.lines.len(), KEPT_LINES);
        assert_eq!(f.lines.first().map(String::as_str), Some("1"));
        assert!(f.more);
        assert!(f.to_string().ends_with("| 20 (more not shown)"));
    }

    #[test]
    fn ten_megabytes_on_each_stream_do_not_block() {
        let start = Instant::now();
        let p = sh("yes stdout | head -c 10000000; yes stderr | head -c 10000000 >&2");
        assert_eq!(run(&[p], Duration::from_secs(10)).unwrap(), Verdict::Pass);
        let p = sh("yes stderr | head -c 10000000 >&2; exit 1");
        let f = failure(run(&[p], Duration::from_secs(10)).unwrap());
        assert_eq!(f.lines.len(), KEPT_LINES);
        assert!(f.more);
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_slow_program_is_killed_at_the_timeout() {
        let start = Instant::now();
        let p = CheckProgram::new(vec!["sleep".into(), "60".into()]).unwrap();
        let f = failure(run(&[p], Duration::from_millis(300)).unwrap());
        assert!(start.elapsed() < SECOND, "{:?}", start.elapsed());
        assert_eq!(f.ended, Ended::TimedOut(Duration::from_millis(300)));
        assert_eq!(
            f.to_string(),
            "check program \"sleep 60\" killed after the 300ms check timeout; it printed nothing"
        );
    }

    #[test]
    fn the_timeout_kills_the_programs_children_too() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // The background sleep keeps the pipes open as well: the run must not wait on it.
        let p = sh_with(
            "sleep 60 & echo $! > \"$1\"; echo $$ >> \"$1\"; wait",
            &pids,
        );
        let start = Instant::now();
        let f = failure(run(&[p], Duration::from_millis(300)).unwrap());
        assert!(start.elapsed() < SECOND, "{:?}", start.elapsed());
        assert!(matches!(f.ended, Ended::TimedOut(_)));
        let text = std::fs::read_to_string(&pids).unwrap();
        for pid in text.lines().map(|l| l.trim().parse::<i32>().unwrap()) {
            assert!(gone_within(pid, SECOND), "process {pid} survived");
        }
    }

    #[test]
    fn helpers_left_behind_by_a_finished_program_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let p = sh_with("sleep 60 >/dev/null 2>&1 & echo $! > \"$1\"", &pid_file);
        assert_eq!(run(&[p], SECOND).unwrap(), Verdict::Pass);
        assert!(gone_within(read_pid(&pid_file), SECOND));
    }

    #[test]
    fn a_helper_that_left_the_group_does_not_hold_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // setsid puts the sleep beyond the group kill, holding both pipes open; the
        // script exits only once the helper has escaped (written its pid).
        let p = sh_with(
            "setsid sh -c 'echo $$ > \"$1\"; exec sleep 60' sh \"$1\" &
             while [ ! -s \"$1\" ]; do sleep 0.01; done; echo why >&2; exit 4",
            &pid_file,
        );
        let start = Instant::now();
        let f = failure(run(&[p], SECOND).unwrap());
        let took = start.elapsed();
        assert_eq!(f.ended, Ended::Exited(4));
        assert_eq!(f.lines, ["why"]);
        let pid = read_pid(&pid_file);
        let escaped = alive(pid);
        // SAFETY: kill takes no pointers; the pid is the test's own escaped sleep.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(escaped, "the helper did not escape the group");
        // The run waited the grace (300 ms here) for the pipes, then went on.
        assert!(
            took >= Duration::from_millis(250) && took < SECOND,
            "{took:?}"
        );
    }

    #[test]
    fn a_signal_is_reported_with_its_number() {
        let f = failure(run(&[sh("kill -TERM $$")], SECOND).unwrap());
        assert_eq!(f.ended, Ended::Signal(libc::SIGTERM));
        assert!(f.to_string().contains("killed by signal 15 (SIGTERM)"));
    }

    #[test]
    fn the_child_environment_drops_secrets_and_unset_variables() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("env");
        let parent = [
            ("ZONESIGN_PIN", "1234"),
            ("ZONESIGN_APPROVED", "/old/approved"),
            ("TSIG_SECRET", "s3cret"),
            ("KEPT", "yes"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .into_iter()
        .chain(std::env::var_os("PATH").map(|p| ("PATH".into(), p)));
        let env = Env::new()
            .set("ZONESIGN_CANDIDATE", "/tmp/candidate")
            .set("ZONESIGN_PIN", "again")
            .set("ZONESIGN_ORIGIN", "se.")
            .unset("ZONESIGN_APPROVED")
            .secret("TSIG_SECRET");
        let vars = env.apply(parent);
        let p = sh_with("env > \"$1\"", &dump);
        assert_eq!(
            run_all_in(&[p], &vars, &limits(SECOND)).unwrap(),
            Verdict::Pass
        );
        let seen = std::fs::read_to_string(&dump).unwrap();
        let names: Vec<&str> = seen.lines().filter_map(|l| l.split('=').next()).collect();
        for absent in ["ZONESIGN_PIN", "ZONESIGN_APPROVED", "TSIG_SECRET"] {
            assert!(!names.contains(&absent), "{absent} in {seen}");
        }
        assert!(
            seen.lines()
                .any(|l| l == "ZONESIGN_CANDIDATE=/tmp/candidate")
        );
        assert!(seen.lines().any(|l| l == "ZONESIGN_ORIGIN=se."));
        assert!(seen.lines().any(|l| l == "KEPT=yes"));
    }

    #[test]
    fn a_missing_program_is_a_configuration_error() {
        let name = "zonesign-no-such-check-program";
        let p = CheckProgram::new(vec![name.into(), "-z".into()]).unwrap();
        let e = check_configured(std::slice::from_ref(&p), "ingress.checks").unwrap_err();
        assert!(
            matches!(&e, ProgramError::NotFound { name: n, searched: Some(_), .. } if n == name)
        );
        let text = e.to_string();
        assert!(text.starts_with(
            "check program \"zonesign-no-such-check-program -z\" in ingress.checks: \
             zonesign-no-such-check-program not found in PATH ("
        ));
        assert!(matches!(
            run(&[p], SECOND),
            Err(ProgramError::NotFound { .. })
        ));
        let p = CheckProgram::new(vec!["/nonexistent/check".into()]).unwrap();
        let e = check_configured(&[p], "egress.checks").unwrap_err();
        assert_eq!(
            e.to_string(),
            "check program \"/nonexistent/check\" in egress.checks: /nonexistent/check not found"
        );
    }

    #[test]
    fn a_file_that_cannot_be_executed_is_a_configuration_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("check");
        std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = CheckProgram::new(vec![file.display().to_string()]).unwrap();
        let e = check_configured(std::slice::from_ref(&p), "ingress.checks").unwrap_err();
        assert!(matches!(&e, ProgramError::NotExecutable { path, .. } if *path == file));
        assert!(e.to_string().contains("is not executable"), "{e}");
        assert!(matches!(
            run(&[p], SECOND),
            Err(ProgramError::NotExecutable { .. })
        ));
        let d = CheckProgram::new(vec![dir.path().display().to_string()]).unwrap();
        let e = check_configured(&[d], "ingress.checks").unwrap_err();
        assert!(e.to_string().ends_with("is a directory"), "{e}");
    }

    #[test]
    fn a_script_with_a_missing_interpreter_is_caught_up_front() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("check");
        std::fs::write(&file, "#!/nonexistent/python -u\nexit 0\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = CheckProgram::new(vec![file.display().to_string()]).unwrap();
        let e = check_configured(&[p], "ingress.checks").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("names a missing interpreter /nonexistent/python"),
            "{e}"
        );
    }

    #[test]
    fn configured_programs_in_path_pass_the_up_front_check() {
        let programs = [
            sh("exit 0"),
            CheckProgram::new(vec!["/bin/sh".into()]).unwrap(),
        ];
        check_configured(&programs, "ingress.checks").unwrap();
    }

    #[test]
    fn the_first_failure_stops_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let programs = [
            sh_with("touch \"$1\".first; exit 2", &marker),
            sh_with("touch \"$1\"", &marker),
        ];
        let f = failure(run(&programs, SECOND).unwrap());
        assert_eq!(f.ended, Ended::Exited(2));
        assert!(dir.path().join("ran.first").exists());
        assert!(!marker.exists());
        let programs = [sh("exit 0"), sh("exit 5")];
        assert_eq!(
            failure(run(&programs, SECOND).unwrap()).ended,
            Ended::Exited(5)
        );
    }

    #[test]
    fn path_lookup_follows_execvp() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sh");
        std::fs::create_dir(&sub).unwrap();
        // A directory named like the program is skipped, as execvp skips it.
        let path = format!("{}:/bin:/usr/bin", dir.path().display());
        let found = resolve(&sh("exit 0"), Some(OsStr::new(&path))).unwrap();
        assert!(found.ends_with("sh") && found.starts_with("/"), "{found:?}");
        let e = resolve(
            &sh("exit 0"),
            Some(OsStr::new(&dir.path().display().to_string())),
        )
        .unwrap_err();
        assert!(matches!(e, ProgramError::NotExecutable { .. }), "{e}");
    }

    #[test]
    fn check_programs_deserialize_from_toml_arrays() {
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Section {
            checks: Vec<CheckProgram>,
            #[serde(deserialize_with = "deserialize_timeout", default = "default_timeout")]
            check_timeout: Duration,
        }
        let s: Section = toml::from_str(
            "checks = [[\"/usr/local/bin/check-zone\", \"--strict\"], [\"validns\", \"-z\"]]\n\
             check-timeout = \"90s\"",
        )
        .unwrap();
        assert_eq!(s.checks.len(), 2);
        assert_eq!(s.checks[1].argv, ["validns", "-z"]);
        assert_eq!(s.check_timeout, Duration::from_secs(90));
        let s: Section = toml::from_str("checks = []").unwrap();
        assert_eq!(s.check_timeout, DEFAULT_TIMEOUT);
        let e = toml::from_str::<Section>("checks = [[]]").err().unwrap();
        assert!(e.to_string().contains("is an empty list"), "{e}");
        let e = toml::from_str::<Section>("checks = [\"validns -z\"]")
            .err()
            .unwrap();
        assert!(e.to_string().contains("write it as a list"), "{e}");
        let e = toml::from_str::<Section>("checks = []\ncheck-timeout = \"0\"")
            .err()
            .unwrap();
        assert!(e.to_string().contains("is zero"), "{e}");
    }

    #[test]
    fn timeouts_parse_and_print_in_config_units() {
        assert_eq!(parse_timeout("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("45"), Ok(Duration::from_secs(45)));
        assert!(parse_timeout("500ms").is_err());
        assert_eq!(format_duration(DEFAULT_TIMEOUT), "10m");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(
            Ended::TimedOut(DEFAULT_TIMEOUT).to_string(),
            "killed after the 10m check timeout"
        );
    }

    #[test]
    fn argv_display_quotes_what_a_shell_would_split() {
        let p = CheckProgram::new(vec!["check".into(), "a b".into(), "it's".into(), "".into()])
            .unwrap();
        assert_eq!(p.display(), r"check 'a b' 'it'\''s' ''");
        assert!(matches!(
            CheckProgram::new(vec![String::new()]),
            Err(ProgramError::Empty { .. })
        ));
    }
}
