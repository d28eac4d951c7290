//! Signing sessions in worker processes: one `zonesign hsm worker` child per session.
//!
//! Why processes and not only threads: the PKCS#11 module's own crypto library is
//! shared by every thread of a process, and SoftHSM2 on Debian 12's libcrypto 3 loses
//! about a quarter of its rate to that sharing. Measured on the 2-core development
//! machine (`hsm bench`, P-256, session key copies): 2 sessions in one process 16-21k
//! signatures/s; 2 processes of one session each 24k. A child per session also keeps a
//! vendor module that crashes from taking the signer with it: the run stops with an
//! HSM error (exit 3), and nothing is written, as for any other HSM failure. And each
//! child may load another module, which is how sessions spread over several HSMs.
//!
//! The child is the same executable ([`enable`] records it; library users that never
//! call it sign in threads). It learns everything over its stdin (never argv or the
//! environment: SEC-6.1 keeps the PIN off command lines), logs in, opens one session
//! through [`crate::hsm::Pkcs11Signer`] exactly as the threads do (session key copies
//! and transient-error retries included), and then answers batches of to-be-signed
//! data with signatures over its stdout, one round trip per batch.
//!
//! Wire format, all integers little-endian, both directions over pipes:
//! * hello: `ZSW1`, module path, token label, PIN (each a u32 length and bytes), u8
//!   session copies, u16 key count, and per key its CKA_ID (u32 length, bytes) and u8
//!   DNSSEC algorithm number. Answer: u8 0 and u32 number of key copies, or an error.
//! * batch: u32 count, then per item u16 key index, u32 length, bytes. Answer: u8 0 and
//!   per item u32 length and signature bytes, or an error.
//! * error: u8 1, u32 length, UTF-8 message (the child's [`HsmError`] in words).
//! * end: the parent closes the child's stdin; the child logs out and exits 0.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, OnceLock};

use crate::dns::algorithm::Algorithm;
use crate::hsm::{HsmError, Module, Pin, SigningBackend, SigningSession};

/// Opening bytes of a hello, so that a stray invocation fails cleanly.
const MAGIC: &[u8; 4] = b"ZSW1";
/// Largest field the child accepts (a to-be-signed DNSKEY RRset is a few KiB).
const MAX_FIELD: usize = 16 << 20;
/// Largest batch the child accepts.
const MAX_BATCH: usize = 1 << 16;

/// The executable that serves `hsm worker`, once [`enable`] has been called.
static WORKER_EXE: OnceLock<PathBuf> = OnceLock::new();

/// Lets signing use worker processes: records the running executable, which must be
/// the `zonesign` binary (its `main` calls this). Tests of the library run in another
/// executable, so there the sessions stay threads.
pub fn enable() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = WORKER_EXE.set(exe);
    }
}

/// The worker executable, when worker processes are enabled.
pub fn worker_exe() -> Option<&'static Path> {
    WORKER_EXE.get().map(PathBuf::as_path)
}

/// Told of each worker's login and logout, for the audit log (SEC-6.5: every login is
/// logged): what the worker did, the token label and the worker's pid.
pub type AuditHook = Arc<dyn Fn(WorkerAct<'_>, &str, u32) + Send + Sync>;

/// What a worker reports to its [`AuditHook`].
#[derive(Debug, Clone, Copy)]
pub enum WorkerAct<'a> {
    /// Its login, with the error if it failed.
    Login(Option<&'a HsmError>),
    /// Its logout, when its session ended.
    Logout,
}

/// What a worker needs to sign: the same facts a [`crate::hsm::Pkcs11Signer`] is
/// built from.
pub struct WorkerSpec {
    /// The `zonesign` executable to start.
    pub exe: PathBuf,
    /// PKCS#11 module path.
    pub module: PathBuf,
    /// Token label.
    pub token: String,
    /// The user PIN, sent over the pipe only.
    pub pin: Arc<Pin>,
    /// The keys, by CKA_ID and algorithm, in the signer's key order.
    pub keys: Vec<(Vec<u8>, Algorithm)>,
    /// Whether the worker signs with session copies of the keys.
    pub session_copies: bool,
    /// Where the workers' logins and logouts are reported.
    pub audit: Option<AuditHook>,
}

impl std::fmt::Debug for WorkerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSpec")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// A [`SigningBackend`] whose every session is a worker process on one token.
#[derive(Debug)]
pub struct ProcessSigner {
    spec: WorkerSpec,
}

/// Held while a worker starts, by every [`ProcessSigner`] of the process: see
/// [`SigningBackend::open_session`] below.
static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl ProcessSigner {
    /// A signer that starts one worker per session with `spec`.
    pub fn new(spec: WorkerSpec) -> ProcessSigner {
        ProcessSigner { spec }
    }
}

impl SigningBackend for ProcessSigner {
    /// Starts a worker and waits until it is logged in with its session open, one
    /// worker at a time, whatever its token. Why: a login rewrites SoftHSM2's
    /// token.object (it clears the PIN-count flags), and another process that reads
    /// the token directory meanwhile (every C_Initialize reads every token's) can
    /// find no token or get CKR_GENERAL_ERROR from C_GetTokenInfo: seen here with two
    /// workers of one token starting together, and with workers of two tokens of one
    /// directory, a few runs in ten. Starting a worker takes some tens of milliseconds.
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
        let _one = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Box::new(ProcessSession::start(&self.spec)?))
    }
}

/// One worker process and its pipes.
struct ProcessSession {
    child: Child,
    /// The worker's stdin; `None` once closed (drop).
    to: Option<BufWriter<ChildStdin>>,
    from: BufReader<ChildStdout>,
    copies: usize,
    /// The token label and audit hook, for the logout at the end.
    token: String,
    audit: Option<AuditHook>,
}

impl ProcessSession {
    /// Starts the worker and waits for its login and session.
    fn start(spec: &WorkerSpec) -> Result<ProcessSession, HsmError> {
        let mut child = Command::new(&spec.exe)
            .args(["hsm", "worker"])
            // The worker gets the PIN over its pipe; it has no use for a copy in its
            // environment, where the parent may have found it (SEC-6.1).
            .env_remove(crate::config::PIN_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| HsmError::Worker {
                message: format!(
                    "cannot start a signing worker ({}): {e}",
                    spec.exe.display()
                ),
            })?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(lost(&mut child, "no pipes"));
        };
        let mut s = ProcessSession {
            child,
            to: Some(BufWriter::with_capacity(1 << 16, to)),
            from: BufReader::with_capacity(1 << 16, from),
            copies: 0,
            token: spec.token.clone(),
            audit: None,
        };
        let login = s.hello(spec);
        if let Some(hook) = &spec.audit {
            hook(
                WorkerAct::Login(login.as_ref().err()),
                &spec.token,
                s.child.id(),
            );
        }
        login?;
        s.audit = spec.audit.clone();
        Ok(s)
    }

    /// Sends the hello and reads the answer: the worker is logged in and has its
    /// session.
    fn hello(&mut self, spec: &WorkerSpec) -> Result<(), HsmError> {
        self.send(|w| write_hello(w, spec))?;
        self.answer()??;
        self.copies = read_u32(&mut self.from).map_err(|e| self.died(&e))? as usize;
        Ok(())
    }

    /// Writes one message to the worker and flushes it.
    fn send(
        &mut self,
        write: impl FnOnce(&mut BufWriter<ChildStdin>) -> io::Result<()>,
    ) -> Result<(), HsmError> {
        let sent = match self.to.as_mut() {
            Some(w) => write(w).and_then(|_| w.flush()),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        };
        sent.map_err(|e| self.died(&e))
    }

    /// Reads an answer's status byte: `Ok` to read on, or the worker's error.
    fn answer(&mut self) -> Result<Result<(), HsmError>, HsmError> {
        let mut status = [0u8; 1];
        self.from
            .read_exact(&mut status)
            .map_err(|e| self.died(&e))?;
        if status[0] == 0 {
            return Ok(Ok(()));
        }
        let message = read_field(&mut self.from).map_err(|e| self.died(&e))?;
        Ok(Err(HsmError::Worker {
            message: String::from_utf8_lossy(&message).into_owned(),
        }))
    }

    /// The error for a worker whose pipe failed: it died or misbehaved.
    fn died(&mut self, e: &io::Error) -> HsmError {
        self.to = None;
        lost(&mut self.child, &e.to_string())
    }
}

/// The error for a worker that is gone, with its exit status: it is killed first, in
/// case it is alive but speaking nonsense.
fn lost(child: &mut Child, what: &str) -> HsmError {
    let _ = child.kill();
    let status = child
        .wait()
        .map(|s| s.to_string())
        .unwrap_or_else(|e| e.to_string());
    HsmError::WorkerLost {
        pid: child.id(),
        reason: format!("{what}; {status}"),
    }
}

impl SigningSession for ProcessSession {
    fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut sigs = self.sign_batch(&[(key, data)])?;
        sigs.pop().ok_or(HsmError::WorkerLost {
            pid: self.child.id(),
            reason: "empty answer".into(),
        })
    }

    fn sign_batch(&mut self, items: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>, HsmError> {
        self.send(|w| write_batch(w, items))?;
        self.answer()??;
        let mut sigs = Vec::with_capacity(items.len());
        for _ in items {
            sigs.push(read_field(&mut self.from).map_err(|e| self.died(&e))?);
        }
        Ok(sigs)
    }

    fn key_copies(&self) -> usize {
        self.copies
    }
}

impl Drop for ProcessSession {
    /// Closes the worker's stdin (it logs out and exits) and reaps it.
    fn drop(&mut self) {
        if let Some(mut w) = self.to.take() {
            let _ = w.flush();
        }
        let _ = self.child.wait();
        if let Some(hook) = &self.audit {
            hook(WorkerAct::Logout, &self.token, self.child.id());
        }
    }
}

/// `zonesign hsm worker`: serves one parent over stdin and stdout (module docs) and
/// returns the exit code: 0 after the parent closed stdin, 3 after an HSM error (which
/// the parent has been told), 2 for a broken conversation.
///
/// The answers go to a private copy of stdout, and stdout itself becomes stderr: a
/// PKCS#11 module that prints cannot corrupt them.
pub fn serve() -> i32 {
    let Some(out) = protocol_stdout() else {
        return 2;
    };
    let mut input = BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut output = BufWriter::with_capacity(1 << 16, out);
    match serve_on(&mut input, &mut output, Module::load) {
        Ok(None) => 0,
        Ok(Some(e)) => {
            let _ = write_error(&mut output, &e);
            3
        }
        Err(_) => 2,
    }
}

/// Moves stdout out of fd 1 (see [`serve`]).
fn protocol_stdout() -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let out = io::stdout().as_fd().try_clone_to_owned().ok()?;
    // SAFETY: dup2 on the process's own standard descriptors; no Rust object owns fd 1
    // exclusively (std's Stdout only borrows it), and nothing has been written yet.
    if unsafe { libc::dup2(2, 1) } < 0 {
        return None;
    }
    Some(std::fs::File::from(out))
}

/// The worker's conversation: `Ok(None)` at the parent's end of input, `Ok(Some(e))`
/// for an HSM error to report, `Err` for a pipe that failed.
///
/// `load` loads the module: [`Module::load`], except in tests, which share the test
/// process's module (dropping a second handle on it would finalise it for all).
fn serve_on(
    r: &mut impl Read,
    w: &mut impl Write,
    load: impl FnOnce(&Path) -> Result<Module, HsmError>,
) -> io::Result<Option<HsmError>> {
    let hello = read_hello(r)?;
    let opened = load(&hello.module)
        .and_then(|m| m.open(&hello.token, &hello.pin))
        .and_then(|t| t.signer(&hello.keys))
        .and_then(|s| s.with_session_copies(hello.session_copies).open_session());
    drop(hello.pin);
    let mut session = match opened {
        Ok(s) => s,
        Err(e) => return Ok(Some(e)),
    };
    w.write_all(&[0])?;
    w.write_all(&(session.key_copies() as u32).to_le_bytes())?;
    w.flush()?;
    let mut data = Vec::new();
    let mut spans = Vec::new();
    while let Some(n) = read_count(r)? {
        read_items(r, n, &mut data, &mut spans)?;
        let items: Vec<(usize, &[u8])> = spans
            .iter()
            .map(|(k, range)| (*k, &data[range.clone()]))
            .collect();
        match session.sign_batch(&items) {
            Ok(sigs) => {
                w.write_all(&[0])?;
                for sig in &sigs {
                    write_field(w, sig)?;
                }
                w.flush()?;
            }
            Err(e) => return Ok(Some(e)),
        }
    }
    Ok(None)
}

/// A batch's item count, or `None` at the end of input.
fn read_count(r: &mut impl Read) -> io::Result<Option<usize>> {
    let mut b = [0u8; 4];
    match r.read_exact(&mut b) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_le_bytes(b) as usize;
    if n > MAX_BATCH {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "batch too long"));
    }
    Ok(Some(n))
}

/// Reads `n` items into one buffer: key index and byte range of each.
fn read_items(
    r: &mut impl Read,
    n: usize,
    data: &mut Vec<u8>,
    spans: &mut Vec<(usize, std::ops::Range<usize>)>,
) -> io::Result<()> {
    data.clear();
    spans.clear();
    for _ in 0..n {
        let mut k = [0u8; 2];
        r.read_exact(&mut k)?;
        let len = read_u32(r)? as usize;
        if len > MAX_FIELD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "field too long"));
        }
        let start = data.len();
        data.resize(start + len, 0);
        r.read_exact(&mut data[start..])?;
        spans.push((u16::from_le_bytes(k) as usize, start..start + len));
    }
    Ok(())
}

/// What the parent's hello says.
struct Hello {
    module: PathBuf,
    token: String,
    pin: Pin,
    session_copies: bool,
    keys: Vec<(Vec<u8>, Algorithm)>,
}

fn read_hello(r: &mut impl Read) -> io::Result<Hello> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not a zonesign parent"));
    }
    let module =
        PathBuf::from(String::from_utf8(read_field(r)?).map_err(|_| bad("module path not UTF-8"))?);
    let token = String::from_utf8(read_field(r)?).map_err(|_| bad("label not UTF-8"))?;
    let pin = Pin::new(String::from_utf8(read_field(r)?).map_err(|_| bad("PIN not UTF-8"))?);
    let mut b = [0u8; 3];
    r.read_exact(&mut b)?;
    let session_copies = b[0] != 0;
    let n = u16::from_le_bytes([b[1], b[2]]) as usize;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let id = read_field(r)?;
        let mut alg = [0u8; 1];
        r.read_exact(&mut alg)?;
        let alg = Algorithm::from_number(alg[0]).ok_or_else(|| bad("unknown algorithm"))?;
        keys.push((id, alg));
    }
    Ok(Hello {
        module,
        token,
        pin,
        session_copies,
        keys,
    })
}

fn write_error(w: &mut impl Write, e: &HsmError) -> io::Result<()> {
    w.write_all(&[1])?;
    write_field(w, e.to_string().as_bytes())?;
    w.flush()
}

fn write_field(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "field too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_field(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let len = read_u32(r)? as usize;
    if len > MAX_FIELD {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "field too long"));
    }
    let mut v = vec![0u8; len];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn write_hello(w: &mut impl Write, spec: &WorkerSpec) -> io::Result<()> {
    w.write_all(MAGIC)?;
    let module = spec
        .module
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "module path not UTF-8"))?;
    write_field(w, module.as_bytes())?;
    write_field(w, spec.token.as_bytes())?;
    spec.pin.with_bytes(|pin| write_field(w, pin))?;
    w.write_all(&[u8::from(spec.session_copies)])?;
    let n = u16::try_from(spec.keys.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many keys"))?;
    w.write_all(&n.to_le_bytes())?;
    for (id, alg) in &spec.keys {
        write_field(w, id)?;
        w.write_all(&[alg.number()])?;
    }
    Ok(())
}

fn write_batch(w: &mut impl Write, items: &[(usize, &[u8])]) -> io::Result<()> {
    let n = u32::try_from(items.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "batch too long"))?;
    w.write_all(&n.to_le_bytes())?;
    for &(key, data) in items {
        let key = u16::try_from(key)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "key index"))?;
        w.write_all(&key.to_le_bytes())?;
        write_field(w, data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::crypto::VerifyingKey;
    use crate::hsm::test_support::{SOFTHSM_MODULE, module};

    const USER_PIN: &str = "worker-user-4321";

    /// The test process's module, as the worker's loader.
    fn shared(_: &Path) -> Result<Module, HsmError> {
        Ok(module().clone())
    }

    fn spec(label: &str, keys: Vec<(Vec<u8>, Algorithm)>) -> WorkerSpec {
        WorkerSpec {
            exe: PathBuf::from("/nonexistent/zonesign"),
            module: PathBuf::from(SOFTHSM_MODULE),
            token: label.to_string(),
            pin: Arc::new(Pin::new(USER_PIN.to_string())),
            keys,
            session_copies: true,
            audit: None,
        }
    }

    /// The tests' token, made once, with one P-256 key: label, CKA_ID, public key.
    fn worker_token() -> &'static (&'static str, Vec<u8>, Vec<u8>) {
        static TOKEN: std::sync::OnceLock<(&str, Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        TOKEN.get_or_init(|| {
            let m = module();
            let label = "hsm-worker";
            // Other tests of this process initialise tokens too, and SoftHSM2 offers
            // one free slot at a time: a race for it is tried again.
            let mut tries = 0;
            while let Err(e) = m.init_token(
                label,
                &Pin::new("so-9876".into()),
                &Pin::new(USER_PIN.into()),
            ) {
                tries += 1;
                assert!(
                    tries < 100 && matches!(e, HsmError::NoFreeSlot),
                    "init: {e}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let token = m.open(label, &Pin::new(USER_PIN.into())).expect("open");
            let id = vec![0xAB, 1];
            let public = token
                .generate_key(Algorithm::EcdsaP256Sha256, 0, &id, "worker")
                .expect("keygen");
            // The token stays logged in for the tests (login state is per process).
            std::mem::forget(token);
            (label, id, public)
        })
    }

    /// Reads one answer of `serve_on` from `out`: the status, then `read_on`.
    fn status(out: &mut &[u8]) -> u8 {
        let mut b = [0u8; 1];
        out.read_exact(&mut b).expect("status byte");
        b[0]
    }

    /// The whole conversation with a real SoftHSM2 token, without the process: the
    /// hello logs in and makes the session copy, each batch comes back as verifying
    /// signatures in order, and the end of input ends the worker cleanly.
    #[test]
    fn a_worker_signs_each_batch_in_order_and_stops_at_the_end_of_input() {
        let (label, id, public) = worker_token();
        let s = spec(label, vec![(id.clone(), Algorithm::EcdsaP256Sha256)]);
        let batches: [&[&[u8]]; 2] = [&[b"one", b"two", b"three"], &[b"four"]];
        let mut input = Vec::new();
        write_hello(&mut input, &s).unwrap();
        for b in batches {
            let items: Vec<(usize, &[u8])> = b.iter().map(|d| (0, *d)).collect();
            write_batch(&mut input, &items).unwrap();
        }
        let mut out = Vec::new();
        let end = serve_on(&mut &input[..], &mut out, shared).expect("conversation");
        assert!(end.is_none(), "no HSM error: {end:?}");
        let vk = VerifyingKey::from_dnskey(13, public).unwrap();
        let mut r = &out[..];
        assert_eq!(status(&mut r), 0);
        assert_eq!(read_u32(&mut r).unwrap(), 1, "one session copy of the key");
        for b in batches {
            assert_eq!(status(&mut r), 0);
            for data in b {
                let sig = read_field(&mut r).unwrap();
                vk.verify(data, &sig)
                    .expect("the worker's signature verifies");
            }
        }
        assert!(r.is_empty(), "nothing after the last answer");
    }

    /// A hello the token refuses (here: a key id it does not hold) is answered with
    /// the HSM error in words, which the parent turns into [`HsmError::Worker`].
    #[test]
    fn a_worker_reports_an_hsm_error_in_words() {
        let (label, _, _) = worker_token();
        let s = spec(label, vec![(vec![9, 9], Algorithm::RsaSha256)]);
        let mut input = Vec::new();
        write_hello(&mut input, &s).unwrap();
        let mut out = Vec::new();
        let err = serve_on(&mut &input[..], &mut out, shared)
            .expect("conversation")
            .expect("an HSM error");
        assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err}");
        assert!(out.is_empty(), "nothing answered before the error");
    }

    /// Broken conversations are I/O errors, never panics or huge allocations.
    #[test]
    fn malformed_input_is_refused() {
        let mut out = Vec::new();
        let e = serve_on(&mut &b"HELO"[..], &mut out, shared).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut hello = MAGIC.to_vec();
        hello.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = serve_on(&mut &hello[..], &mut out, shared).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "an absurd length");
        let e = serve_on(&mut &MAGIC[..], &mut out, shared).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let mut batch = Vec::new();
        batch.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_count(&mut &batch[..]).is_err(), "an absurd batch");
        assert!(read_count(&mut &[][..]).unwrap().is_none(), "end of input");
    }

    /// The hello carries every field through, the PIN included (and only there).
    #[test]
    fn hello_round_trip() {
        let s = spec(
            "tok",
            vec![
                (vec![1, 2, 3], Algorithm::RsaSha1),
                (vec![4], Algorithm::Ed25519),
            ],
        );
        let mut buf = Vec::new();
        write_hello(&mut buf, &s).unwrap();
        let h = read_hello(&mut &buf[..]).unwrap();
        assert_eq!(h.module, s.module);
        assert_eq!(h.token, "tok");
        assert!(h.pin.found_in(USER_PIN.as_bytes()));
        assert!(h.session_copies);
        assert_eq!(h.keys, s.keys);
    }
}
