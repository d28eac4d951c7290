//! The signed zone in binary form, written beside the text output and read back by the
//! next run (the two-hour cron cycle, DPS-6.5, issue #4).
//!
//! Why a second file: the cron cycle needs the previous run's RRsets and signatures.
//! Parsing them back from the text output means lexing hundreds of megabytes of
//! presentation format, decoding a million base64 signatures and sorting everything
//! again; at TLD size that was most of a cycle's time. The snapshot holds the very
//! zone the verification gate accepted, RRsets in canonical order with their
//! signatures, in length-prefixed binary blocks that decode in parallel.
//!
//! It is used only when proven: its SHA-256 and the text output's are recorded together
//! in `SIGNED.sha256` after both files are in place, and the text must match too, so a
//! hand-edited output or a snapshot of another run is never taken for this one. Anything
//! else falls back to parsing the text, and a corrupt snapshot is an error, not a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dns::name::Name;
use crate::dns::record::SourceLoc;
use crate::zone::{Provenance, RRset, Sig, Zone};

/// The first bytes of every snapshot; the version changes with the layout.
const MAGIC: &[u8] = b"ZONESIGN-SNAPSHOT-1\n";
/// RRsets per block: blocks are the unit of parallel decoding.
const BLOCK: usize = 32_768;

/// Where the snapshot of a signed zone file lives: `SIGNED.zsnap` beside it.
pub fn snapshot_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".zsnap");
    p.into()
}

/// Writes `zone` in the snapshot format.
///
/// Layout (little-endian): magic, origin (length octet + wire), then blocks of
/// `u32 byte length, u32 RRset count, RRsets`, a zero-length block, and the orphan
/// signatures. An RRset is `owner (length octet + wire), u16 type, u32 TTL, u32 file,
/// u32 line, u32 count, (u16 length, RDATA)*, u32 count, (u32 TTL, u16 length, RRSIG
/// RDATA)*`.
pub fn encode(zone: &Zone, out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    put_name(out, &zone.origin)?;
    let mut block = Vec::with_capacity(BLOCK * 128);
    for chunk in zone.rrsets.chunks(BLOCK) {
        block.clear();
        for set in chunk {
            put_rrset(&mut block, set)?;
        }
        out.write_all(&len32(block.len())?.to_le_bytes())?;
        out.write_all(&len32(chunk.len())?.to_le_bytes())?;
        out.write_all(&block)?;
    }
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&len32(zone.orphan_sigs.len())?.to_le_bytes())?;
    for (owner, covered, sig) in &zone.orphan_sigs {
        put_name(out, owner)?;
        out.write_all(&covered.to_le_bytes())?;
        out.write_all(&sig.ttl.to_le_bytes())?;
        put_bytes(out, &sig.rdata)?;
    }
    Ok(())
}

fn len32(n: usize) -> std::io::Result<u32> {
    u32::try_from(n).map_err(|_| std::io::Error::other("snapshot block too large"))
}

fn put_name(out: &mut impl Write, name: &Name) -> std::io::Result<()> {
    let wire = name.as_wire();
    // A wire name is at most 255 octets (RFC 1035 §3.1), so its length fits one octet.
    out.write_all(&[u8::try_from(wire.len()).unwrap_or(u8::MAX)])?;
    out.write_all(wire)
}

fn put_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("RDATA longer than 65535 octets"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

fn put_rrset(out: &mut Vec<u8>, set: &RRset) -> std::io::Result<()> {
    put_name(out, &set.owner)?;
    out.extend_from_slice(&set.rtype.to_le_bytes());
    out.extend_from_slice(&set.ttl.to_le_bytes());
    out.extend_from_slice(&set.loc.file.to_le_bytes());
    out.extend_from_slice(&set.loc.line.to_le_bytes());
    out.extend_from_slice(&len32(set.rdatas.len())?.to_le_bytes());
    for r in &set.rdatas {
        put_bytes(out, r)?;
    }
    out.extend_from_slice(&len32(set.sigs.len())?.to_le_bytes());
    for s in &set.sigs {
        out.extend_from_slice(&s.ttl.to_le_bytes());
        put_bytes(out, &s.rdata)?;
    }
    Ok(())
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this version.
    #[error("not a zonesign snapshot (bad magic)")]
    Magic,
    /// The snapshot is of another zone.
    #[error("snapshot is for {0}, not for this origin")]
    Origin(String),
    /// The bytes end early or a field is out of range.
    #[error("snapshot is corrupt at offset {0}")]
    Corrupt(usize),
    /// The RRsets are not in canonical order (not what zonesign writes).
    #[error("snapshot RRsets are out of canonical order")]
    Order,
}

/// A bounds-checked reader over the snapshot bytes: every read is checked, so no
/// corrupt or truncated file can make decoding panic.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes` in the whole file, for messages.
    base: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.pos.checked_add(n);
        let out = end.and_then(|e| self.bytes.get(self.pos..e));
        let out = out.ok_or(SnapshotError::Corrupt(self.base + self.pos))?;
        self.pos += n;
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, SnapshotError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn count(&mut self) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        // Each item takes at least two octets: a count larger than what is left is corrupt.
        if n > self.bytes.len().saturating_sub(self.pos) {
            return Err(SnapshotError::Corrupt(self.base + self.pos));
        }
        Ok(n)
    }

    fn name(&mut self) -> Result<Name, SnapshotError> {
        let at = self.base + self.pos;
        let len = usize::from(self.take(1)?[0]);
        Name::from_wire(self.take(len)?).map_err(|_| SnapshotError::Corrupt(at))
    }

    fn bytes(&mut self) -> Result<Box<[u8]>, SnapshotError> {
        self.slice().map(Into::into)
    }

    /// A length-prefixed field, borrowed from the snapshot.
    fn slice(&mut self) -> Result<&'a [u8], SnapshotError> {
        let len = usize::from(self.u16()?);
        self.take(len)
    }

    fn rrset(&mut self) -> Result<RRset, SnapshotError> {
        let owner = self.name()?;
        let rtype = self.u16()?;
        let ttl = self.u32()?;
        let loc = SourceLoc {
            file: self.u32()?,
            line: self.u32()?,
        };
        let n = self.count()?;
        let rdatas = (0..n).map(|_| self.slice()).collect::<Result<_, _>>()?;
        let n = self.count()?;
        let mut sigs = Vec::with_capacity(n);
        for _ in 0..n {
            let ttl = self.u32()?;
            sigs.push(Sig {
                ttl,
                rdata: self.bytes()?,
                provenance: Provenance::Unchecked,
            });
        }
        Ok(RRset {
            owner,
            rtype,
            ttl,
            rdatas,
            sigs,
            loc,
        })
    }
}

/// Decodes a snapshot of the zone at `origin`, blocks in parallel.
pub fn decode(bytes: &[u8], origin: &Name) -> Result<Zone, SnapshotError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        base: 0,
    };
    if r.take(MAGIC.len()).ok() != Some(MAGIC) {
        return Err(SnapshotError::Magic);
    }
    let zone_origin = r.name()?;
    if zone_origin != *origin {
        return Err(SnapshotError::Origin(zone_origin.to_string()));
    }
    let mut blocks = Vec::new();
    loop {
        let len = r.u32()? as usize;
        let count = r.u32()? as usize;
        if len == 0 {
            break;
        }
        let base = r.base + r.pos;
        blocks.push((base, r.take(len)?, count));
    }
    let decoded: Vec<Vec<RRset>> = blocks
        .par_iter()
        .map(|&(base, body, count)| {
            let mut b = Reader {
                bytes: body,
                pos: 0,
                base,
            };
            let sets = (0..count.min(body.len()))
                .map(|_| b.rrset())
                .collect::<Result<Vec<_>, _>>()?;
            if sets.len() != count || b.pos != body.len() {
                return Err(SnapshotError::Corrupt(base + b.pos));
            }
            Ok(sets)
        })
        .collect::<Result<_, _>>()?;
    let mut rrsets = Vec::with_capacity(decoded.iter().map(Vec::len).sum());
    for block in decoded {
        rrsets.extend(block);
    }
    let in_order = rrsets.par_windows(2).all(|w| {
        w[0].owner
            .cmp(&w[1].owner)
            .then(w[0].rtype.cmp(&w[1].rtype))
            .is_lt()
    });
    if !in_order {
        return Err(SnapshotError::Order);
    }
    let n = r.count()?;
    let mut orphan_sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let owner = r.name()?;
        let covered = r.u16()?;
        let ttl = r.u32()?;
        orphan_sigs.push((
            owner,
            covered,
            Sig {
                ttl,
                rdata: r.bytes()?,
                provenance: Provenance::Unchecked,
            },
        ));
    }
    if r.pos != bytes.len() {
        return Err(SnapshotError::Corrupt(r.pos));
    }
    Ok(Zone {
        origin: zone_origin,
        rrsets,
        orphan_sigs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Zone {
        let origin = Name::parse(b"example.", None).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/features/delegations.zone");
        let parsed = crate::dns::zonefile::parse_file(&path, &origin).unwrap();
        let mut zone = Zone::from_records(origin.clone(), parsed.records).0;
        for (i, set) in zone.rrsets.iter_mut().enumerate() {
            set.sigs.push(Sig {
                ttl: set.ttl,
                rdata: vec![0, set.rtype as u8, i as u8, 7].into_boxed_slice(),
                provenance: Provenance::Unchecked,
            });
        }
        zone.orphan_sigs.push((
            origin,
            99,
            Sig {
                ttl: 5,
                rdata: Box::new([1, 2, 3]),
                provenance: Provenance::Unchecked,
            },
        ));
        zone
    }

    fn flat(z: &Zone) -> String {
        format!("{:?} {:?} {:?}", z.origin, z.rrsets, z.orphan_sigs)
    }

    /// What is written is read back exactly, also across many blocks.
    #[test]
    fn round_trip() {
        let zone = sample();
        let mut bytes = Vec::new();
        encode(&zone, &mut bytes).unwrap();
        let back = decode(&bytes, &zone.origin).unwrap();
        assert_eq!(flat(&back), flat(&zone));
    }

    /// Every truncation and every single-octet change either fails cleanly or decodes
    /// to some zone: never a panic. A snapshot of another origin is refused.
    #[test]
    fn corrupt_snapshots_fail_cleanly() {
        let zone = sample();
        let mut bytes = Vec::new();
        encode(&zone, &mut bytes).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &zone.origin).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0xa5;
            let _ = decode(&b, &zone.origin);
        }
        let other = Name::parse(b"other.", None).unwrap();
        assert!(matches!(
            decode(&bytes, &other),
            Err(SnapshotError::Origin(_))
        ));
    }
}
