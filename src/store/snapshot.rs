//! The signed zone in binary form, written beside the text output and read back by the
//! next run (the two-hour cron cycle, DPS-6.5, issue #4).
//!
//! Why a second file: the cron cycle needs the previous run's RRsets and signatures.
//! Parsing them back from the text output means lexing hundreds of megabytes of
//! presentation format, decoding a million base64 signatures and sorting everything
//! again; at TLD size that was most of a cycle's time. The snapshot holds the very
//! zone the verification gate accepted, RRsets in canonical order with their
//! signatures, in length-prefixed binary blocks that the next run reads one at a time
//! as its comparison reaches them ([`SnapshotFile`]).
//!
//! It is used only when proven: its SHA-256 and the text output's are recorded together
//! in `SIGNED.sha256` after both files are in place, and the text must match too, so a
//! hand-edited output or a snapshot of another run is never taken for this one. Anything
//! else falls back to parsing the text, and a corrupt snapshot is an error, not a panic.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dns::name::Name;
use crate::dns::record::SourceLoc;
use crate::zone::{Provenance, RRset, Sig, Zone, sorts_before};

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
    encode_blocks(zone, out, BLOCK)
}

/// [`encode`] with `per_block` RRsets per block (tests cut small zones into many).
pub(crate) fn encode_blocks(
    zone: &Zone,
    out: &mut impl Write,
    per_block: usize,
) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    put_name(out, &zone.origin)?;
    let mut block = Vec::with_capacity(per_block * 128);
    for chunk in zone.rrsets.chunks(per_block) {
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
    /// The file could not be read.
    #[error("snapshot unreadable: {0}")]
    Read(String),
    /// A block no longer reads as it did when the snapshot was proven.
    #[error("snapshot changed while it was in use")]
    Changed,
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

    /// Steps over one RRset without decoding it: whether it is the apex SOA of
    /// `origin`, and how many records and signatures it has.
    fn skim_rrset(&mut self, origin: &Name) -> Result<(bool, u32), SnapshotError> {
        let len = usize::from(self.take(1)?[0]);
        let owner = self.take(len)?;
        let rtype = self.u16()?;
        self.take(12)?;
        let n = self.count()?;
        for _ in 0..n {
            self.slice()?;
        }
        let m = self.count()?;
        for _ in 0..m {
            self.take(4)?;
            self.slice()?;
        }
        let apex_soa =
            rtype == crate::dns::record::rtype::SOA && owner.eq_ignore_ascii_case(origin.as_wire());
        Ok((apex_soa, (n + m) as u32))
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

/// Where one block of RRsets lies in a snapshot file, with its checksum from the scan.
struct BlockAt {
    at: u64,
    len: usize,
    count: usize,
    sum: u64,
}

/// A snapshot read once and kept open: its blocks are decoded one at a time, in order,
/// when the comparison with the new zone reaches them, so the previous zone is never
/// whole in memory (issue #25: it was a third of the cron cycle's peak).
///
/// The scan proves the file (its SHA-256, compared by the caller with the recorded
/// one) and keeps a checksum per block; a block read again later must match it, so
/// what is decoded is what was proven even if the file changes in place meanwhile
/// (XXH3-64, as for the previous text: see [`crate::store::previous`]).
pub struct SnapshotFile {
    file: File,
    blocks: Vec<BlockAt>,
    /// RRsets in all blocks.
    pub rrsets: usize,
    /// Signatures covering no RRset, from the end of the file.
    pub orphan_sigs: Vec<(Name, u16, Sig)>,
    /// Records and signatures of each RRset: its lines in the text output.
    pub lines: Vec<u32>,
    /// Which RRset is the apex SOA.
    pub apex_soa: Option<usize>,
}

/// Passes bytes through while hashing them.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    pos: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Hashing<R> {
    /// Fills `buf`, or says where the file ended too early.
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        let at = self.pos as usize;
        self.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => SnapshotError::Corrupt(at),
            _ => SnapshotError::Read(e.to_string()),
        })
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

/// Reads the snapshot `file` of the zone at `origin` once: the place and checksum of
/// each block, the orphan signatures, and the SHA-256 (hex) of every byte.
pub fn scan(file: File, origin: &Name) -> Result<(SnapshotFile, String), SnapshotError> {
    let size = file
        .metadata()
        .map_err(|e| SnapshotError::Read(e.to_string()))?
        .len();
    let mut r = Hashing {
        inner: BufReader::with_capacity(1 << 20, &file),
        hash: Sha256::new(),
        pos: 0,
    };
    let mut head = [0u8; MAGIC.len() + 1];
    r.exact(&mut head)?;
    if &head[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let mut wire = vec![0u8; usize::from(head[MAGIC.len()])];
    r.exact(&mut wire)?;
    let zone_origin = Name::from_wire(&wire).map_err(|_| SnapshotError::Corrupt(MAGIC.len()))?;
    if zone_origin != *origin {
        return Err(SnapshotError::Origin(zone_origin.to_string()));
    }
    let (mut blocks, mut rrsets, mut body) = (Vec::new(), 0usize, Vec::new());
    let (mut lines, mut apex) = (Vec::new(), None);
    loop {
        let at = r.pos as usize;
        let len = r.u32()? as usize;
        let count = r.u32()? as usize;
        if len == 0 {
            break;
        }
        // A length beyond the file is corrupt: never allocated.
        if len as u64 > size.saturating_sub(r.pos) || count > len {
            return Err(SnapshotError::Corrupt(at));
        }
        body.resize(len, 0);
        let start = r.pos;
        r.exact(&mut body)?;
        let mut skim = Reader {
            bytes: &body,
            pos: 0,
            base: start as usize,
        };
        for _ in 0..count {
            let (apex_soa, n) = skim.skim_rrset(origin)?;
            if apex_soa {
                apex = Some(lines.len());
            }
            lines.push(n);
        }
        blocks.push(BlockAt {
            at: start,
            len,
            count,
            sum: xxhash_rust::xxh3::xxh3_64(&body),
        });
        rrsets += count;
    }
    let tail_at = r.pos as usize;
    let mut tail = Vec::new();
    r.read_to_end(&mut tail)
        .map_err(|e| SnapshotError::Read(e.to_string()))?;
    let mut t = Reader {
        bytes: &tail,
        pos: 0,
        base: tail_at,
    };
    let n = t.count()?;
    let mut orphan_sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let owner = t.name()?;
        let covered = t.u16()?;
        let ttl = t.u32()?;
        orphan_sigs.push((
            owner,
            covered,
            Sig {
                ttl,
                rdata: t.bytes()?,
                provenance: Provenance::Unchecked,
            },
        ));
    }
    if t.pos != tail.len() {
        return Err(SnapshotError::Corrupt(tail_at + t.pos));
    }
    let sha256 = data_encoding::HEXLOWER.encode(&r.hash.finalize());
    let snapshot = SnapshotFile {
        file,
        blocks,
        rrsets,
        orphan_sigs,
        lines,
        apex_soa: apex,
    };
    Ok((snapshot, sha256))
}

impl SnapshotFile {
    /// How many blocks of RRsets the snapshot has.
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The RRsets of block `k`, in canonical order, if the block reads back as it was
    /// scanned and decodes.
    pub fn block(&self, k: usize) -> Result<Vec<RRset>, SnapshotError> {
        let b = self.blocks.get(k).ok_or(SnapshotError::Changed)?;
        let mut body = vec![0u8; b.len];
        self.file
            .read_exact_at(&mut body, b.at)
            .map_err(|e| SnapshotError::Read(e.to_string()))?;
        if xxhash_rust::xxh3::xxh3_64(&body) != b.sum {
            return Err(SnapshotError::Changed);
        }
        decode_block(&body, b.at as usize, b.count)
    }
}

/// The `count` RRsets of one block's body (at offset `base` of the file), which must be
/// in canonical order.
fn decode_block(body: &[u8], base: usize, count: usize) -> Result<Vec<RRset>, SnapshotError> {
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
    if !sets.windows(2).all(|w| sorts_before(&w[0], &w[1])) {
        return Err(SnapshotError::Order);
    }
    Ok(sets)
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

    /// The zone a snapshot's bytes give back through a file, as the cron cycle reads it.
    fn decode(bytes: &[u8], origin: &Name) -> Result<Zone, SnapshotError> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (snap, _) = scan(file, origin)?;
        let mut rrsets: Vec<RRset> = Vec::new();
        for k in 0..snap.blocks() {
            let block = snap.block(k)?;
            if let (Some(last), Some(first)) = (rrsets.last(), block.first())
                && !sorts_before(last, first)
            {
                return Err(SnapshotError::Order);
            }
            rrsets.extend(block);
        }
        Ok(Zone {
            origin: origin.clone(),
            rrsets,
            orphan_sigs: snap.orphan_sigs,
        })
    }

    /// What is written is read back exactly, and the scan's SHA-256 is that of the bytes.
    #[test]
    fn round_trip() {
        let zone = sample();
        let mut bytes = Vec::new();
        encode_blocks(&zone, &mut bytes, 3).unwrap();
        let back = decode(&bytes, &zone.origin).unwrap();
        assert_eq!(flat(&back), flat(&zone));
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (_, sha) = scan(file, &zone.origin).unwrap();
        assert_eq!(sha, data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes)));
    }

    /// A block changed in place after the scan is refused when it is read (issue #25).
    #[test]
    fn a_block_changed_after_the_scan_is_refused() {
        let zone = sample();
        let mut bytes = Vec::new();
        encode(&zone, &mut bytes).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (snap, _) = scan(file.try_clone().unwrap(), &zone.origin).unwrap();
        assert!(snap.block(0).is_ok());
        let at = (snap.blocks[0].at as usize) + 3;
        file.write_all_at(&[bytes[at] ^ 1], at as u64).unwrap();
        assert!(matches!(snap.block(0), Err(SnapshotError::Changed)));
    }

    /// Every truncation and every single-octet change either fails cleanly or decodes
    /// to some zone: never a panic. A snapshot of another origin is refused.
    #[test]
    fn corrupt_snapshots_fail_cleanly() {
        let zone = sample();
        let mut bytes = Vec::new();
        encode_blocks(&zone, &mut bytes, 5).unwrap();
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
