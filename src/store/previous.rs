//! The previous output's text, read as a stream: proven, measured and later copied from
//! without ever being held in memory (issue #25).
//!
//! The cron cycle copies the lines of unchanged RRsets from the previous output instead
//! of rendering them again (issue #4). That text is as large as the output (600 MB at a
//! million delegations, six gigabytes at ten million), and holding it for the whole run
//! was a quarter of the cycle's peak memory. Instead one pass at load time takes its
//! SHA-256 (the proof that it is what zonesign wrote and verified), the byte range of
//! each RRset's lines, and a checksum of every [`CHUNK`]; the file stays open, and the
//! output stage reads the chunks it copies from again, in order, through a [`Window`].
//!
//! A chunk whose checksum no longer matches (the file was changed in place during the
//! run: zonesign itself only ever replaces it by a rename, which leaves this open file
//! as it was) stops the copying: the rest is rendered from the zone, which gives the
//! same bytes, so the output never carries text that was not proven.
//!
//! The chunk checksum is XXH3-64: it guards against a change between two reads within
//! one locked run, not against a forger (whoever can write the output directory can
//! replace the published file itself); the SHA-256 is what proves the text.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

#[cfg(test)]
use crate::dns::record::rtype;
#[cfg(test)]
use crate::zone::Zone;

/// Bytes read, checked and kept at a time: large enough that reading costs no more
/// than one big read, small enough that the window in memory stays a few megabytes.
pub const CHUNK: usize = 1 << 20;

/// The previous output's text as the load-time pass found it.
pub struct PreviousText {
    /// The file, open since it was proven (a rename over its path leaves it as it was).
    file: File,
    /// Chunk size (always [`CHUNK`] but in tests).
    chunk: usize,
    /// XXH3-64 of each chunk, in file order.
    sums: Vec<u64>,
    /// The file's length when it was proven.
    len: u64,
    /// Where each RRset's lines start, by index into the previous zone: each ends where
    /// the next in the text starts (eight octets an RRset, not sixteen: issue #25).
    starts: Vec<u64>,
    /// Where the last RRset's lines end (the orphan signatures follow).
    end: u64,
    /// Which RRset is the apex SOA, written first.
    apex_soa: Option<usize>,
}

impl PreviousText {
    /// How many RRsets the text has.
    pub fn rrsets(&self) -> usize {
        self.starts.len()
    }

    /// (start, length) of the lines of previous RRset `i`.
    pub fn range(&self, i: usize) -> Option<(u64, u32)> {
        let start = *self.starts.get(i)?;
        let next = next_in_text(i, self.apex_soa);
        let end = self.starts.get(next).copied().unwrap_or(self.end);
        u32::try_from(end.checked_sub(start)?)
            .ok()
            .map(|len| (start, len))
    }
}

/// The RRset written after RRset `i`: the apex SOA comes first, then every other
/// RRset in zone order ([`crate::store::output::render`]). At or past the RRset count
/// after the last.
fn next_in_text(i: usize, apex_soa: Option<usize>) -> usize {
    match apex_soa {
        Some(soa) if soa == i => usize::from(soa == 0),
        Some(soa) if soa == i + 1 => i + 2,
        _ => i + 1,
    }
}

/// What one pass over the previous text found: its SHA-256, and its ranges and chunk
/// checksums when the lines add up to exactly the zone (else the text is not the
/// rendering of that zone, and nothing is copied from it).
pub struct Scan {
    /// SHA-256 (hex) of the whole text.
    pub sha256: String,
    /// The text, ready for copying, when its lines match `zone`.
    pub text: Option<PreviousText>,
}

/// How a zone's rendering is laid out in lines ([`crate::store::output::render`]): the
/// apex SOA first, then every other RRset in zone order, one line per record and per
/// signature, then one per orphan signature. Enough to find each RRset in the text
/// without the RRsets themselves.
pub struct Shape<'a> {
    /// Lines of each RRset (records and signatures), in zone order.
    pub lines: &'a [u32],
    /// Which RRset is the apex SOA.
    pub apex_soa: Option<usize>,
    /// Orphan signatures at the end.
    pub orphans: usize,
}

/// Reads `file` once: its SHA-256, each chunk's checksum, and the byte range of each
/// RRset of a zone rendered as `shape` says.
pub fn scan(file: File, shape: &Shape) -> std::io::Result<Scan> {
    scan_with(file, shape, CHUNK)
}

/// [`scan`] of the rendering of `zone`, in chunks of `chunk` bytes (tests).
#[cfg(test)]
pub(crate) fn scan_zone(file: File, zone: &Zone, chunk: usize) -> std::io::Result<Scan> {
    let lines: Vec<u32> = zone
        .rrsets
        .iter()
        .map(|s| (s.rdatas.len() + s.sigs.len()) as u32)
        .collect();
    let shape = Shape {
        lines: &lines,
        apex_soa: zone.find(&zone.origin, rtype::SOA),
        orphans: zone.orphan_sigs.len(),
    };
    scan_with(file, &shape, chunk)
}

fn scan_with(mut file: File, shape: &Shape, chunk: usize) -> std::io::Result<Scan> {
    let mut sha = Sha256::new();
    let mut sums = Vec::new();
    let mut lines = Lines::new(shape);
    let mut buf = vec![0u8; chunk];
    let mut len = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        let bytes = &buf[..n];
        sha.update(bytes);
        sums.push(xxhash_rust::xxh3::xxh3_64(bytes));
        lines.feed(len, bytes);
        len += n as u64;
        if n < chunk {
            break;
        }
    }
    let sha256 = data_encoding::HEXLOWER.encode(&sha.finalize());
    let apex_soa = shape.apex_soa;
    let text = lines.finish(len).map(|(starts, end)| PreviousText {
        file,
        chunk,
        sums,
        len,
        starts,
        end,
        apex_soa,
    });
    Ok(Scan { sha256, text })
}

/// Fills `buf` as far as the file goes (a short read is not the end of a file).
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Counts lines into RRset ranges as the text streams by (see [`Shape`]).
struct Lines<'s> {
    lines: &'s [u32],
    apex_soa: Option<usize>,
    /// The RRset being counted, in text order ([`next_in_text`]); past the last when
    /// all are done.
    cur: usize,
    /// Lines still to come of that RRset.
    left: u32,
    /// Orphan signature lines still to come after the last RRset.
    orphans: usize,
    starts: Vec<u64>,
    /// Where the last RRset's lines end.
    end: u64,
    /// End of the last complete line.
    at: u64,
    /// False once the text had more lines than the zone, or a range too long.
    fits: bool,
}

impl<'s> Lines<'s> {
    fn new(shape: &Shape<'s>) -> Lines<'s> {
        let mut lines = Lines {
            lines: shape.lines,
            apex_soa: shape.apex_soa,
            cur: shape.apex_soa.unwrap_or(0),
            left: 0,
            orphans: shape.orphans,
            starts: vec![0; shape.lines.len()],
            end: 0,
            at: 0,
            fits: true,
        };
        lines.skip_empty();
        lines
    }

    fn counting(&self) -> bool {
        self.cur < self.lines.len()
    }

    /// Starts the current RRset, closing empty ones where they stand.
    fn skip_empty(&mut self) {
        while self.counting() {
            self.left = self.lines[self.cur];
            self.starts[self.cur] = self.at;
            if self.left > 0 {
                return;
            }
            self.cur = next_in_text(self.cur, self.apex_soa);
        }
        self.end = self.at;
    }

    /// Counts the newlines of `bytes`, which start at offset `base` of the text.
    fn feed(&mut self, base: u64, bytes: &[u8]) {
        for nl in memchr::memchr_iter(b'\n', bytes) {
            self.at = base + nl as u64 + 1;
            self.line_ended();
        }
    }

    fn line_ended(&mut self) {
        if self.counting() {
            self.left -= 1;
            if self.left == 0 {
                self.fits &= u32::try_from(self.at - self.starts[self.cur]).is_ok();
                self.cur = next_in_text(self.cur, self.apex_soa);
                self.skip_empty();
            }
        } else if self.orphans > 0 {
            self.orphans -= 1;
        } else {
            self.fits = false;
        }
    }

    /// Where each RRset starts and the last ends, when the text of `len` bytes had
    /// exactly the zone's lines.
    fn finish(self, len: u64) -> Option<(Vec<u64>, u64)> {
        let complete = !self.counting() && self.orphans == 0 && self.at == len;
        (self.fits && complete).then_some((self.starts, self.end))
    }
}

/// The part of the previous text the output stage is copying from: whole chunks, each
/// checked against its load-time checksum as it is read, and dropped once passed.
pub struct Window<'a> {
    text: &'a PreviousText,
    /// Offset of `bytes` in the text.
    base: u64,
    bytes: Vec<u8>,
    /// Set once a chunk could not be read or had changed: nothing more is copied.
    broken: bool,
}

impl PreviousText {
    /// An empty window at the start of the text.
    pub fn window(&self) -> Window<'_> {
        Window {
            text: self,
            base: 0,
            bytes: Vec::new(),
            broken: false,
        }
    }
}

impl Window<'_> {
    /// Makes `lo..hi` of the text readable through [`Window::get`], dropping what lies
    /// before `lo` (callers move forward through the text). False when that part cannot
    /// be read as it was proven: then nothing is copied any more.
    pub fn cover(&mut self, lo: u64, hi: u64) -> bool {
        if self.broken || hi > self.text.len || lo > hi {
            self.broken = true;
            return false;
        }
        let chunk = self.text.chunk as u64;
        let first = lo / chunk * chunk;
        if first < self.base || first > self.base + self.bytes.len() as u64 {
            // Backwards, or past what is held: start afresh at `lo`'s chunk.
            self.bytes.clear();
            self.base = first;
        } else {
            let drop = (first - self.base) as usize;
            self.bytes.drain(..drop);
            self.base = first;
        }
        while self.base + (self.bytes.len() as u64) < hi {
            if !self.read_next_chunk() {
                self.broken = true;
                self.bytes.clear();
                return false;
            }
        }
        true
    }

    /// Appends the chunk after those held, if it reads back as it was proven.
    fn read_next_chunk(&mut self) -> bool {
        let at = self.base + self.bytes.len() as u64;
        let k = (at / self.text.chunk as u64) as usize;
        let (Some(&sum), Ok(len)) = (
            self.text.sums.get(k),
            usize::try_from((self.text.len - at).min(self.text.chunk as u64)),
        ) else {
            return false;
        };
        let held = self.bytes.len();
        self.bytes.resize(held + len, 0);
        let read = self.text.file.read_exact_at(&mut self.bytes[held..], at);
        if read.is_err() || xxhash_rust::xxh3::xxh3_64(&self.bytes[held..]) != sum {
            self.bytes.truncate(held);
            return false;
        }
        true
    }

    /// Bytes `start..start + len` of the text, if the window holds them.
    pub fn get(&self, start: u64, len: u32) -> Option<&[u8]> {
        if self.broken {
            return None;
        }
        let from = usize::try_from(start.checked_sub(self.base)?).ok()?;
        self.bytes.get(from..from.checked_add(len as usize)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    use crate::store::output::signed_fixture;

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.rewind().unwrap();
        f
    }

    /// Each RRset's range holds exactly its rendering, wherever the chunks are cut.
    #[test]
    fn ranges_are_each_rrsets_lines_at_any_chunk_size() {
        let (zone, text) = signed_fixture();
        let sha = data_encoding::HEXLOWER.encode(&Sha256::digest(&text));
        for chunk in [7, 64, 1000, CHUNK] {
            let scan = scan_zone(file_with(&text), &zone, chunk).unwrap();
            assert_eq!(scan.sha256, sha);
            let prev = scan.text.expect("lines add up");
            assert_eq!(prev.rrsets(), zone.rrsets.len());
            for (i, set) in zone.rrsets.iter().enumerate() {
                let (start, len) = prev.range(i).unwrap();
                let mut one = Vec::new();
                let single = Zone {
                    origin: zone.origin.clone(),
                    rrsets: vec![set.clone()],
                    orphan_sigs: Vec::new(),
                };
                crate::store::output::render(&single, None, &mut one).unwrap();
                let at = start as usize;
                assert_eq!(&text[at..at + len as usize], &one[..], "chunk {chunk}");
            }
        }
    }

    /// The ranges are only given when the text has exactly the lines the zone implies.
    #[test]
    fn a_text_that_is_not_the_zones_rendering_gives_no_ranges() {
        let (zone, text) = signed_fixture();
        let ranges = |bytes: &[u8], zone: &Zone| {
            scan_zone(file_with(bytes), zone, 64)
                .unwrap()
                .text
                .map(|t| (0..t.rrsets()).map(|i| t.range(i)).collect::<Vec<_>>())
        };
        assert!(ranges(&text, &zone).is_some());
        assert!(ranges(&text[..text.len() - 1], &zone).is_none());
        let mut longer = text.clone();
        longer.extend_from_slice(b"extra.example.\t60\tIN\tA\t192.0.2.1\n");
        assert!(ranges(&longer, &zone).is_none());
        let mut other = zone.clone();
        other.rrsets[0].sigs.clear();
        assert!(ranges(&text, &other).is_none());
    }

    /// A window gives back the proven bytes across chunk edges, and refuses everything
    /// once the file no longer reads as it was proven.
    #[test]
    fn a_window_reads_what_was_proven_and_nothing_else() {
        let (zone, text) = signed_fixture();
        let mut file = file_with(&text);
        let prev = scan_zone(file.try_clone().unwrap(), &zone, 64)
            .unwrap()
            .text
            .unwrap();
        let mut w = prev.window();
        let mut at = 0u64;
        while at < text.len() as u64 {
            let len = (150u64).min(text.len() as u64 - at) as u32;
            assert!(w.cover(at, at + u64::from(len)));
            let got = w.get(at, len).unwrap();
            assert_eq!(got, &text[at as usize..(at + u64::from(len)) as usize]);
            at += u64::from(len);
        }
        assert!(
            w.bytes.len() <= 64 * 4,
            "the window keeps only what is ahead"
        );
        // Changed in place after the scan: the changed chunk is refused, and so is all after.
        let mut w = prev.window();
        assert!(w.cover(0, 10));
        file.seek(std::io::SeekFrom::Start(200)).unwrap();
        file.write_all(&[text[200] ^ 0x20]).unwrap();
        assert!(!w.cover(150, 260));
        assert!(w.get(0, 10).is_none());
        assert!(!w.cover(0, 10));
        // Beyond the proven length is never read.
        assert!(!prev.window().cover(0, text.len() as u64 + 1));
    }
}
