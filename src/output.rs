//! Writing the signed zone: text form, then an atomic replace of the output file.
//!
//! One RR per line (`owner TTL IN TYPE RDATA`), absolute names, canonical order, each
//! RRset followed by its RRSIGs, the apex SOA first: readable by BIND, ldns and Knot
//! tools and friendly to `diff`. The file is written to a temporary file in the same
//! directory, fsynced, and renamed over the old one, so a crash at any moment leaves
//! either the old file or the complete new one (DPS-6.6: never a partial zone).

use std::io::{BufWriter, Write};
use std::path::Path;

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
pub fn write_zone(zone: &Zone, path: &Path, gate: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    write_atomic_with(path, |w| render(zone, w), gate)
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
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
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
