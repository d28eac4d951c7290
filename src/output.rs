//! Writing the signed zone: text form, then an atomic replace of the output file.
//!
//! One RR per line (`owner TTL IN TYPE RDATA`), absolute names, canonical order, each
//! RRset followed by its RRSIGs, the apex SOA first: readable by BIND, ldns and Knot
//! tools and friendly to `diff`. The file is written to a temporary file in the same
//! directory, fsynced, and renamed over the old one, so a crash at any moment leaves
//! either the old file or the complete new one (DPS-6.6: never a partial zone).

use std::io::{BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::rdata::{format_rdata, type_name};
use crate::record::rtype;
use crate::zone::{RRset, Zone};

/// Renders the zone as master-file text.
pub fn render(zone: &Zone, out: &mut impl Write) -> std::io::Result<()> {
    let mut line = String::with_capacity(512);
    let apex_soa = zone.find(&zone.origin, rtype::SOA);
    if let Some(i) = apex_soa {
        write_rrset(&zone.rrsets[i], &mut line, out)?;
    }
    for (i, set) in zone.rrsets.iter().enumerate() {
        if Some(i) != apex_soa {
            write_rrset(set, &mut line, out)?;
        }
    }
    for (owner, _, sig) in &zone.orphan_sigs {
        write_rr(
            &owner.to_string(),
            sig.ttl,
            rtype::RRSIG,
            &sig.rdata,
            &mut line,
            out,
        )?;
    }
    Ok(())
}

fn write_rrset(set: &RRset, line: &mut String, out: &mut impl Write) -> std::io::Result<()> {
    let owner = set.owner.to_string();
    for rdata in &set.rdatas {
        write_rr(&owner, set.ttl, set.rtype, rdata, line, out)?;
    }
    for sig in &set.sigs {
        write_rr(&owner, sig.ttl, rtype::RRSIG, &sig.rdata, line, out)?;
    }
    Ok(())
}

fn write_rr(
    owner: &str,
    ttl: u32,
    t: u16,
    rdata: &[u8],
    line: &mut String,
    out: &mut impl Write,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    line.clear();
    let _ = write!(line, "{owner}\t{ttl}\tIN\t{}\t", type_name(t));
    format_rdata(t, rdata, line);
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Writes the zone to `path` atomically, but only if `gate` accepts the written
/// temporary file: what was checked is then byte for byte what is published.
/// Returns the SHA-256 (hex) of the bytes written.
///
/// The zone is taken by value and freed as soon as it is rendered, before the gate
/// reads the file back: at TLD size that halves the peak memory.
pub fn write_zone(
    zone: Zone,
    path: &Path,
    gate: impl FnOnce(&Path) -> Result<()>,
) -> Result<String> {
    let mut digest = String::new();
    let out = &mut digest;
    write_atomic_with(
        path,
        move |w| {
            let mut h = HashingWriter {
                inner: w,
                hash: Sha256::new(),
            };
            render(&zone, &mut h)?;
            drop(zone);
            *out = data_encoding::HEXLOWER.encode(&h.hash.finalize());
            Ok(())
        },
        gate,
    )?;
    Ok(digest)
}

/// Passes bytes through while hashing them, so the output is hashed without reading it back.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The file beside a signed zone that records the SHA-256 of what zonesign wrote and
/// verified there, in `sha256sum` format (issue #4: a previous output may be trusted
/// only when it is proven to be byte for byte that file).
pub fn hash_path(out: &Path) -> std::path::PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".sha256");
    p.into()
}

/// Records the SHA-256 of a written output beside it.
pub fn write_hash(out: &Path, hex: &str) -> Result<()> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    write_atomic(&hash_path(out), format!("{hex}  {name}\n").as_bytes())
}

/// Whether `bytes` are exactly what zonesign recorded for `path` (see [`hash_path`]).
pub fn is_proven(path: &Path, bytes: &[u8]) -> bool {
    let Ok(recorded) = std::fs::read_to_string(hash_path(path)) else {
        return false;
    };
    let want = recorded.split_whitespace().next().unwrap_or_default();
    want == data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// An exclusive lock on one output file, held for a whole run, so two runs (a slow cron
/// run and the next one, or an operator's manual sign) never write the same zone at once.
///
/// It is an advisory `flock` on `.NAME.lock` beside the output; the kernel releases it
/// when the process ends, even after `kill -9`, so a crash never leaves a stale lock.
pub struct OutputLock {
    _file: std::fs::File,
}

impl OutputLock {
    /// Takes the lock, or fails at once with [`Error::Locked`] if another run holds it.
    pub fn acquire(out: &Path) -> Result<OutputLock> {
        let dir = parent_dir(out);
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(format!(".{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(OutputLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(format!(
                "another zonesign run holds {} (the lock on {}); nothing was changed",
                path.display(),
                out.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

/// Removes temporary files that a killed run left beside `out`. Call only while holding
/// the [`OutputLock`]: then no live run can own them. Returns how many were removed.
pub fn remove_stale_temps(out: &Path) -> usize {
    let dir = parent_dir(out);
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return 0;
    };
    let prefixes = [format!(".{name}."), format!(".{name}.sha256.")];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".tmp") && prefixes.iter().any(|p| n.starts_with(p.as_str()))
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes bytes to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes), |_| Ok(()))
}

/// Atomic write with a caller-supplied body: the target is replaced only if the whole
/// body was written and synced and `gate` accepted the temporary file; on any failure
/// the temporary file is removed and the target is untouched.
pub fn write_atomic_with(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<&std::fs::File>) -> std::io::Result<()>,
    gate: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        body(&mut w).map_err(|e| Error::io(tmp.path(), e))?;
        w.flush().map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    gate(tmp.path())?;
    let perm = std::fs::metadata(path).map(|m| m.permissions()).ok();
    if let Some(p) = perm {
        // Keep the mode of the file being replaced (e.g. world-readable zone files).
        let _ = tmp.as_file().set_permissions(p);
    } else {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Make the rename itself durable.
        let _ = d.sync_all();
    }
    Ok(())
}
