//! The embedded SoftHSM2 token's recovery copy: what keeps a `kill -9` or a power cut
//! from destroying the token and every key in it (issue 19, DPS-5.2).
//!
//! Why this exists: SoftHSM2 (2.6, and its current code) rewrites a token's
//! `token.object` in place at every `C_Login`, successful or not (it stores the token
//! flags): `ftruncate(0)`, unlock, and the bytes reach the file only at `fclose`, with
//! no temporary file, rename or fsync. A process killed in that window (0.15–1.4 ms)
//! leaves the file empty, and a power cut after it may too. That file holds the
//! PIN-wrapped token key that decrypts every private key object, so an empty one is a
//! token, and keys, gone for good. Every zonesign run logs in once in the parent and
//! once in each signing worker, so every run opens such windows; cron runs do get
//! killed (reboots, OOM kills, timeouts). Logging in less often shrinks the odds but
//! cannot close them, and Debian's SoftHSM2 is built without the sqlite object store.
//!
//! So zonesign keeps, for each token of the embedded token directory (the one `init`
//! made, named by `softhsm-conf` in the config), a verified copy of its `token.object`
//! beside the config (`token-recovery/`, owner-only, written atomically and fsynced),
//! refreshed whenever the live file is complete and differs from it in more than its
//! generation counter. Before anything loads the module, [`protect`] checks every live
//! file; one that is missing, empty or cut short is given back from the copy (again
//! atomically), with a warning and a `token-restored` audit line. The copy holds
//! exactly the bytes the live file held, nothing else: no PIN, no key material in the
//! clear (the key objects themselves stay where they are, only the token's own state
//! file is copied). Tokens of real HSMs are never touched: they have no
//! `softhsm-conf`, and their vendor's backup is the answer there (README).
//!
//! The file format read here is SoftHSM2's `ObjectFile`: an 8-byte generation, then
//! attributes, each a big-endian 8-byte PKCS#11 type, an 8-byte storage kind and the
//! value (boolean 1 byte, unsigned long 8 bytes, byte string 8-byte length + bytes).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// SoftHSM2's vendor attribute base (`CKA_VENDOR_DEFINED + 0x5348`, "SH").
const CKA_VENDOR_SOFTHSM: u64 = 0x8000_0000 + 0x5348;
const CKA_OS_TOKENLABEL: u64 = CKA_VENDOR_SOFTHSM + 1;
const CKA_OS_TOKENSERIAL: u64 = CKA_VENDOR_SOFTHSM + 2;
const CKA_OS_TOKENFLAGS: u64 = CKA_VENDOR_SOFTHSM + 3;
const CKA_OS_SOPIN: u64 = CKA_VENDOR_SOFTHSM + 4;
const CKA_OS_USERPIN: u64 = CKA_VENDOR_SOFTHSM + 5;

/// The storage kinds of SoftHSM2's object files (`ObjectFile.h`).
const BOOLEAN_ATTR: u64 = 1;
const ULONG_ATTR: u64 = 2;
const BYTESTR_ATTR: u64 = 3;

/// The token state file's name in each token directory.
const TOKEN_FILE: &str = "token.object";
/// The folder beside the config that holds the copies, one per token directory.
pub const RECOVERY_DIR: &str = "token-recovery";

/// How long a damaged-looking live file is watched before it is restored: another
/// process may be between its truncate and its write (a window of about a
/// millisecond), and its bytes then arrive. Re-read every [`REREAD_EVERY`].
const SETTLE: Duration = Duration::from_millis(300);
const REREAD_EVERY: Duration = Duration::from_millis(10);

/// What a complete token state file says about its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// The token label (blank-padded to 32 bytes by SoftHSM2, trimmed here).
    pub label: String,
    /// The token serial.
    pub serial: String,
}

/// Why a token state file is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// There is no `token.object` at all.
    Missing,
    /// The file has no bytes: the kill-during-login case.
    Empty,
    /// The file ends in the middle of an attribute, or is otherwise not a complete
    /// token state file.
    Malformed(String),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing => f.write_str("token.object is missing"),
            Damage::Empty => f.write_str("token.object is empty (0 bytes)"),
            Damage::Malformed(why) => write!(f, "token.object is not complete: {why}"),
        }
    }
}

/// Reads a big-endian u64 at `*at`, advancing it.
fn take_u64(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    let v = u64::from_be_bytes(bytes.get(*at..end)?.try_into().ok()?);
    *at = end;
    Some(v)
}

/// Reads `len` bytes at `*at`, advancing it.
fn take<'a>(bytes: &'a [u8], at: &mut usize, len: u64) -> Option<&'a [u8]> {
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let v = bytes.get(*at..end)?;
    *at = end;
    Some(v)
}

/// Parses a SoftHSM2 token state file completely, and checks it holds what a usable
/// token needs: a label, a serial, flags and the SO and user PINs' wrapped keys.
pub fn parse(bytes: &[u8]) -> Result<TokenState, Damage> {
    if bytes.is_empty() {
        return Err(Damage::Empty);
    }
    let bad = |why: String| Damage::Malformed(why);
    let mut at = 0;
    take_u64(bytes, &mut at)
        .ok_or_else(|| bad(format!("{} bytes, shorter than its header", bytes.len())))?;
    let (mut label, mut serial, mut flags, mut so_pin, mut user_pin) =
        (None, None, false, false, false);
    while at < bytes.len() {
        let start = at;
        let cut = || bad(format!("cut short inside the attribute at byte {start}"));
        let kind_of = take_u64(bytes, &mut at).ok_or_else(cut)?;
        let storage = take_u64(bytes, &mut at).ok_or_else(cut)?;
        let value = match storage {
            BOOLEAN_ATTR => take(bytes, &mut at, 1).ok_or_else(cut)?,
            ULONG_ATTR => take(bytes, &mut at, 8).ok_or_else(cut)?,
            BYTESTR_ATTR => {
                let len = take_u64(bytes, &mut at).ok_or_else(cut)?;
                take(bytes, &mut at, len).ok_or_else(cut)?
            }
            other => {
                return Err(bad(format!(
                    "unknown storage kind {other} of the attribute at byte {start}"
                )));
            }
        };
        let text = || String::from_utf8_lossy(value).trim_end().to_string();
        match (kind_of, storage) {
            (CKA_OS_TOKENLABEL, BYTESTR_ATTR) => label = Some(text()),
            (CKA_OS_TOKENSERIAL, BYTESTR_ATTR) => serial = Some(text()),
            (CKA_OS_TOKENFLAGS, ULONG_ATTR) => flags = true,
            (CKA_OS_SOPIN, BYTESTR_ATTR) => so_pin = !value.is_empty(),
            (CKA_OS_USERPIN, BYTESTR_ATTR) => user_pin = !value.is_empty(),
            _ => {}
        }
    }
    // SoftHSM2 writes the attributes in type order, the user PIN's last: a file cut
    // at an attribute boundary lacks at least that one. zonesign's tokens always have
    // a user PIN (it signs only after a user login).
    match (label, serial, flags, so_pin, user_pin) {
        (Some(label), Some(serial), true, true, true) => Ok(TokenState { label, serial }),
        _ => Err(bad(
            "it lacks the token label, serial, flags, SO PIN or user PIN".into(),
        )),
    }
}

/// Two complete state files say the same thing: equal but for the generation counter
/// that SoftHSM2 bumps at every rewrite (every login).
fn same_state(a: &[u8], b: &[u8]) -> bool {
    a.get(8..) == b.get(8..)
}

/// The embedded token directory named by a SoftHSM2 configuration file
/// (`directories.tokendir`), relative paths taken from the file's directory.
pub fn token_dir(softhsm_conf: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(softhsm_conf).ok()?;
    let value = text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "directories.tokendir").then(|| value.trim().to_string())
    })?;
    let dir = PathBuf::from(value);
    Some(if dir.is_absolute() {
        dir
    } else {
        softhsm_conf.parent().unwrap_or(Path::new(".")).join(dir)
    })
}

/// What [`protect`] did or found for one token directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The live file is complete and the copy says the same.
    Current { dir: String, label: String },
    /// The live file is complete; the copy was made or refreshed from it.
    Saved {
        dir: String,
        label: String,
        refreshed: bool,
    },
    /// The live file was damaged and the copy was put back in its place.
    Restored {
        dir: String,
        label: String,
        damage: Damage,
    },
    /// The live file is damaged and there is no usable copy.
    Unrecoverable { dir: String, damage: Damage },
}

/// A token directory and its copy.
struct Pair {
    name: String,
    live: PathBuf,
    copy: PathBuf,
}

/// The token directories under `tokens`, each with its copy's path in `store`, sorted
/// by name. A directory is a token's when it holds a `token.object` or has a copy.
fn pairs(tokens: &Path, store: &Path) -> std::io::Result<Vec<Pair>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(tokens)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let live = entry.path().join(TOKEN_FILE);
        let copy = store.join(format!("{name}.{TOKEN_FILE}"));
        if live.exists() || copy.exists() {
            out.push(Pair { name, live, copy });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads the live file; a damaged one is re-read for [`SETTLE`] in case another
/// process is between SoftHSM2's truncate and write.
fn read_settled(live: &Path) -> Result<Vec<u8>, Damage> {
    let t0 = std::time::Instant::now();
    loop {
        let read = match std::fs::read(live) {
            Ok(bytes) => parse(&bytes).map(|_| bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Damage::Missing),
            Err(e) => Err(Damage::Malformed(format!("cannot be read: {e}"))),
        };
        match read {
            Ok(bytes) => return Ok(bytes),
            Err(d) if t0.elapsed() >= SETTLE => return Err(d),
            Err(_) => std::thread::sleep(REREAD_EVERY),
        }
    }
}

/// Checks every token of the embedded token directory `tokens` against its copy in
/// `store`: saves or refreshes the copy of a complete live file, and puts the copy
/// back in place of a damaged one. Call it before the module is loaded (SoftHSM2 reads
/// the token files at `C_Initialize`).
pub fn protect(tokens: &Path, store: &Path) -> std::io::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    if !tokens.is_dir() {
        return Ok(outcomes);
    }
    for pair in pairs(tokens, store)? {
        remove_stale_temps(pair.live.parent().unwrap_or(tokens));
        let copy = std::fs::read(&pair.copy).ok().filter(|c| parse(c).is_ok());
        let outcome = match read_settled(&pair.live) {
            Ok(live) => {
                let label = parse(&live).map(|s| s.label).unwrap_or_default();
                match &copy {
                    Some(c) if same_state(c, &live) => Outcome::Current {
                        dir: pair.name,
                        label,
                    },
                    _ => {
                        make_private_dir(store)?;
                        write_durably(&pair.copy, &live, 0o600)?;
                        Outcome::Saved {
                            dir: pair.name,
                            label,
                            refreshed: copy.is_some(),
                        }
                    }
                }
            }
            Err(damage) => match copy {
                Some(c) => {
                    let mode = std::fs::metadata(&pair.live)
                        .map(|m| m.permissions().mode() & 0o777)
                        .unwrap_or(0o600);
                    write_durably(&pair.live, &c, mode)?;
                    let label = parse(&c).map(|s| s.label).unwrap_or_default();
                    Outcome::Restored {
                        dir: pair.name,
                        label,
                        damage,
                    }
                }
                None => Outcome::Unrecoverable {
                    dir: pair.name,
                    damage,
                },
            },
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// What `zonesign check` reports of one token directory's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    /// The copy says what the complete live file says.
    Current { dir: String, label: String },
    /// The live file is complete but the copy is missing, damaged or out of date.
    Stale { dir: String, label: String },
    /// The live file is damaged (the next command that loads the token restores it
    /// when `copy` is true).
    LiveDamaged {
        dir: String,
        damage: Damage,
        copy: bool,
    },
}

/// The state of the copies, changing nothing: for `zonesign check`.
pub fn status(tokens: &Path, store: &Path) -> std::io::Result<Vec<CopyState>> {
    let mut states = Vec::new();
    for pair in pairs(tokens, store)? {
        let copy = std::fs::read(&pair.copy).ok().filter(|c| parse(c).is_ok());
        let state = match read_settled(&pair.live) {
            Ok(live) => {
                let label = parse(&live).map(|s| s.label).unwrap_or_default();
                match copy {
                    Some(c) if same_state(&c, &live) => CopyState::Current {
                        dir: pair.name,
                        label,
                    },
                    _ => CopyState::Stale {
                        dir: pair.name,
                        label,
                    },
                }
            }
            Err(damage) => CopyState::LiveDamaged {
                dir: pair.name,
                damage,
                copy: copy.is_some(),
            },
        };
        states.push(state);
    }
    Ok(states)
}

/// Temporary files this module left in a token directory when it was killed between
/// writing and renaming (SoftHSM2 reads only `*.object`, so they are harmless, but
/// they are removed here).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{TOKEN_FILE}.")) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Replaces `path` with `bytes` so that a kill or power cut at any moment leaves the
/// old or the new file whole: a temporary file in the same directory (created 0600),
/// fsynced, given `mode`, renamed over `path`, and the directory fsynced.
fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Makes every file of the token directory durable (fsync of each file and folder):
/// SoftHSM2 never fsyncs, so key objects generated just before a power cut could be
/// lost. Run after `init` and after key generation or destruction; best effort.
pub fn sync_token_files(tokens: &Path) {
    fn sync_tree(dir: &Path, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() && depth > 0 => sync_tree(&e.path(), depth - 1),
                Ok(t) if t.is_file() => {
                    if let Ok(f) = std::fs::File::open(e.path()) {
                        let _ = f.sync_all();
                    }
                }
                _ => {}
            }
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    sync_tree(tokens, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr_bytes(out: &mut Vec<u8>, kind: u64, value: &[u8]) {
        out.extend(kind.to_be_bytes());
        out.extend(BYTESTR_ATTR.to_be_bytes());
        out.extend((value.len() as u64).to_be_bytes());
        out.extend(value);
    }

    /// A token state file as SoftHSM2 2.6 writes it (layout checked against a file
    /// `softhsm2-util --init-token` made).
    fn state_file(generation: u64, label: &str, flags: u64) -> Vec<u8> {
        let mut out = generation.to_be_bytes().to_vec();
        attr_bytes(
            &mut out,
            CKA_OS_TOKENLABEL,
            format!("{label:<32}").as_bytes(),
        );
        attr_bytes(&mut out, CKA_OS_TOKENSERIAL, b"8d3b089bc5cd43ef");
        out.extend(CKA_OS_TOKENFLAGS.to_be_bytes());
        out.extend(ULONG_ATTR.to_be_bytes());
        out.extend(flags.to_be_bytes());
        attr_bytes(&mut out, CKA_OS_SOPIN, &[0x5a; 72]);
        attr_bytes(&mut out, CKA_OS_USERPIN, &[0xa5; 72]);
        out
    }

    #[test]
    fn a_complete_file_parses_and_every_cut_of_it_is_refused() {
        let full = state_file(9, "zonesign", 0x42d);
        let state = parse(&full).expect("complete file");
        assert_eq!(state.label, "zonesign");
        assert_eq!(state.serial, "8d3b089bc5cd43ef");
        assert_eq!(parse(&[]), Err(Damage::Empty));
        for cut in 1..full.len() {
            assert!(
                parse(&full[..cut]).is_err(),
                "a file cut at byte {cut} of {} was taken as complete",
                full.len()
            );
        }
    }

    #[test]
    fn unknown_storage_kinds_are_refused_not_skipped() {
        let mut f = state_file(1, "t", 0);
        f.extend(7u64.to_be_bytes());
        f.extend(99u64.to_be_bytes());
        assert!(matches!(parse(&f), Err(Damage::Malformed(_))));
    }

    #[test]
    fn the_generation_alone_does_not_make_a_new_state() {
        assert!(same_state(&state_file(1, "t", 5), &state_file(2, "t", 5)));
        assert!(!same_state(&state_file(1, "t", 5), &state_file(1, "t", 6)));
    }

    fn token_tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let tokens = tmp.path().join("tokens");
        let store = tmp.path().join(RECOVERY_DIR);
        std::fs::create_dir_all(tokens.join("uuid-1")).unwrap();
        std::fs::write(
            tokens.join("uuid-1").join(TOKEN_FILE),
            state_file(3, "zs", 1),
        )
        .unwrap();
        (tmp, tokens, store)
    }

    #[test]
    fn a_copy_is_made_kept_current_and_put_back_over_an_empty_file() {
        let (_tmp, tokens, store) = token_tree();
        let live = tokens.join("uuid-1").join(TOKEN_FILE);
        let copy = store.join(format!("uuid-1.{TOKEN_FILE}"));
        let out = protect(&tokens, &store).unwrap();
        assert!(matches!(
            &out[..],
            [Outcome::Saved {
                refreshed: false,
                ..
            }]
        ));
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copy is owner-only");
        let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A login rewrites the file with a new generation: the copy is still current.
        std::fs::write(&live, state_file(4, "zs", 1)).unwrap();
        assert!(matches!(
            &protect(&tokens, &store).unwrap()[..],
            [Outcome::Current { .. }]
        ));
        // A PIN change (new wrapped keys, here new flags) refreshes it.
        std::fs::write(&live, state_file(5, "zs", 3)).unwrap();
        assert!(matches!(
            &protect(&tokens, &store).unwrap()[..],
            [Outcome::Saved {
                refreshed: true,
                ..
            }]
        ));
        assert_eq!(std::fs::read(&copy).unwrap(), state_file(5, "zs", 3));
        // A kill during a login leaves the live file empty: it is given back.
        std::fs::write(&live, b"").unwrap();
        let out = protect(&tokens, &store).unwrap();
        assert!(
            matches!(&out[..], [Outcome::Restored { damage: Damage::Empty, label, .. }] if label == "zs"),
            "{out:?}"
        );
        assert_eq!(std::fs::read(&live).unwrap(), state_file(5, "zs", 3));
        // Cut short, or gone: the same.
        let full = state_file(5, "zs", 3);
        std::fs::write(&live, &full[..100]).unwrap();
        assert!(matches!(
            &protect(&tokens, &store).unwrap()[..],
            [Outcome::Restored {
                damage: Damage::Malformed(_),
                ..
            }]
        ));
        std::fs::remove_file(&live).unwrap();
        assert!(matches!(
            &protect(&tokens, &store).unwrap()[..],
            [Outcome::Restored {
                damage: Damage::Missing,
                ..
            }]
        ));
        assert_eq!(std::fs::read(&live).unwrap(), full);
    }

    #[test]
    fn a_damaged_copy_is_never_put_back_or_kept() {
        let (_tmp, tokens, store) = token_tree();
        let live = tokens.join("uuid-1").join(TOKEN_FILE);
        let copy = store.join(format!("uuid-1.{TOKEN_FILE}"));
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(&copy, b"garbage").unwrap();
        std::fs::write(&live, b"").unwrap();
        let out = protect(&tokens, &store).unwrap();
        assert!(matches!(
            &out[..],
            [Outcome::Unrecoverable {
                damage: Damage::Empty,
                ..
            }]
        ));
        assert_eq!(std::fs::read(&live).unwrap(), b"", "nothing was written");
        // A complete live file replaces a damaged copy.
        std::fs::write(&live, state_file(1, "zs", 1)).unwrap();
        assert!(matches!(
            &protect(&tokens, &store).unwrap()[..],
            [Outcome::Saved {
                refreshed: false,
                ..
            }]
        ));
        assert_eq!(std::fs::read(&copy).unwrap(), state_file(1, "zs", 1));
    }

    #[test]
    fn a_file_being_rewritten_by_another_process_is_waited_for_not_restored() {
        let (_tmp, tokens, store) = token_tree();
        let live = tokens.join("uuid-1").join(TOKEN_FILE);
        protect(&tokens, &store).unwrap();
        std::fs::write(&live, b"").unwrap();
        let writer = {
            let live = live.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(40));
                std::fs::write(&live, state_file(8, "zs", 1)).unwrap();
            })
        };
        let out = protect(&tokens, &store).unwrap();
        writer.join().unwrap();
        assert!(matches!(&out[..], [Outcome::Current { .. }]), "{out:?}");
        assert_eq!(std::fs::read(&live).unwrap(), state_file(8, "zs", 1));
    }

    #[test]
    fn the_token_directory_is_read_from_the_softhsm_config() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            "# c\ndirectories.tokendir = /var/lib/t\nlog.level = ERROR\n",
        )
        .unwrap();
        assert_eq!(token_dir(&conf), Some(PathBuf::from("/var/lib/t")));
        std::fs::write(&conf, "directories.tokendir=tokens\n").unwrap();
        assert_eq!(token_dir(&conf), Some(tmp.path().join("tokens")));
    }
}
