//! The approved zone (PIPE-1): the last unsigned input that passed every ingress check,
//! kept beside the signed output so that a run whose new input is rejected can sign it
//! again, without the input file, and so keep the published zone's signatures fresh.
//!
//! Two files beside `SIGNED`:
//! - `SIGNED.approved`: the input file byte for byte ([`write_verbatim`]; an input
//!   with `$INCLUDE`s is rendered whole instead, [`write_candidate`]), behind a
//!   comment header with its origin, SOA serial, time of approval, count of
//!   delegations and the SHA-256 of everything after the header. Any zone tool reads
//!   it (check programs get it as `ZONESIGN_APPROVED`); a run that signs it checks
//!   the SHA-256 first, so a damaged or hand-edited copy is never signed.
//! - `SIGNED.approved.idx`: each delegation's name and fingerprint
//!   ([`crate::zone::ingress::fingerprints`]), bound to the text by its SHA-256. The
//!   change limits compare a candidate with this list every run; re-reading the text
//!   instead would cost seconds at TLD size.
//!
//! Both are written to temporary files first (the text doubles as the candidate that
//! check programs read) and renamed, index first, just before the signed output is:
//! a kill between the renames leaves an index that names another text, which a later
//! run notices and rebuilds, and an approved zone one step ahead of the published one,
//! never behind it (a rejected input then publishes the newer approved zone, which had
//! passed every check and the gate).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dns::name::Name;
use crate::error::{Error, Result};
use crate::store::output::{HashingWriter, sync_parent_dir, temp_beside};
use crate::zone::Zone;
use crate::zone::ingress::Fingerprint;

/// The first line of every approved zone file.
const FIRST_LINE: &str = "; zonesign approved zone: the last input that passed the ingress checks (PIPE-1); do not edit\n";
/// The first bytes of every index. The version names the fingerprint function too
/// (2: XXH3-64): an index of another version is not read but rebuilt from the text,
/// so a build that fingerprints differently never sees every delegation as changed.
const INDEX_MAGIC: &[u8] = b"ZONESIGN-APPROVED-INDEX-2\n";
/// The header's digest line up to the digest.
const DIGEST_KEY: &str = "; sha256 ";

/// `SIGNED.approved`.
pub fn approved_path(out: &Path) -> PathBuf {
    suffixed(out, ".approved")
}

/// `SIGNED.approved.idx`.
pub fn index_path(out: &Path) -> PathBuf {
    suffixed(out, ".approved.idx")
}

fn suffixed(out: &Path, suffix: &str) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

/// What the header of an approved zone file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedInfo {
    /// The approved zone file.
    pub path: PathBuf,
    /// The zone's origin as written.
    pub origin: String,
    /// Its SOA serial (the input's, before signing moved it).
    pub serial: u32,
    /// When it was approved, seconds since the epoch.
    pub approved_at: i64,
    /// Its delegations.
    pub delegations: u64,
    /// SHA-256 (hex) of the text after the header.
    pub sha256: String,
}

impl ApprovedInfo {
    /// The approval time, RFC 3339 UTC.
    pub fn approved_at_text(&self) -> String {
        rfc3339(self.approved_at)
    }

    /// The header; serial and count are padded to a fixed width, so that a verbatim
    /// copy can be written before the parse has counted them, and filled in after.
    fn header(&self) -> String {
        format!(
            "{FIRST_LINE}; origin {}\n; serial {:<10}\n; approved {}\n; delegations {:<20}\n{DIGEST_KEY}{}\n",
            self.origin,
            self.serial,
            self.approved_at_text(),
            self.delegations,
            self.sha256
        )
    }
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why an approved zone file or its index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ApprovedError {
    /// The header is not one zonesign writes.
    #[error("{}: not a zonesign approved zone (bad header)", .0.display())]
    Header(PathBuf),
    /// The text after the header is not what the header's digest says.
    #[error("{}: the approved zone does not match its recorded SHA-256 (damaged or edited); it is not signed", .0.display())]
    Digest(PathBuf),
}

/// Reads the header of `SIGNED.approved`: `Ok(None)` when there is none (a first run).
pub fn read_info(out: &Path) -> Result<Option<ApprovedInfo>> {
    let path = approved_path(out);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut head = Vec::with_capacity(1024);
    file.take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(&path, e))?;
    parse_header(&path, &head)
        .map(|(info, _)| Some(info))
        .ok_or_else(|| bad(ApprovedError::Header(path.clone())))
}

fn bad(e: ApprovedError) -> Error {
    Error::Approved(e)
}

/// Parses the header at the start of `bytes`: the info and the header's length.
fn parse_header(path: &Path, bytes: &[u8]) -> Option<(ApprovedInfo, usize)> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(4096))?)
        .or_else(|e| std::str::from_utf8(&bytes[..e.valid_up_to()]))
        .ok()?;
    let rest = text.strip_prefix(FIRST_LINE)?;
    let mut lines = rest.split_inclusive('\n');
    let mut field = |key: &str| -> Option<String> {
        let line = lines.next()?.strip_suffix('\n')?;
        Some(
            line.strip_prefix("; ")?
                .strip_prefix(key)?
                .strip_prefix(' ')?
                .trim_end()
                .to_string(),
        )
    };
    let origin = field("origin")?;
    let serial = field("serial")?.parse().ok()?;
    let approved_at = chrono::DateTime::parse_from_rfc3339(&field("approved")?)
        .ok()?
        .timestamp();
    let delegations = field("delegations")?.parse().ok()?;
    let sha256 = field("sha256")?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let info = ApprovedInfo {
        path: path.to_path_buf(),
        origin,
        serial,
        approved_at,
        delegations,
        sha256,
    };
    let len = info.header().len();
    Some((info, len))
}

/// Checks that the approved zone file's text is the one its header's digest names,
/// before it is signed.
pub fn check_digest(info: &ApprovedInfo) -> Result<()> {
    let bytes = std::fs::read(&info.path).map_err(|e| Error::io(&info.path, e))?;
    let Some((_, len)) = parse_header(&info.path, &bytes) else {
        return Err(bad(ApprovedError::Header(info.path.clone())));
    };
    let digest = data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes[len..]));
    if digest != info.sha256 {
        return Err(bad(ApprovedError::Digest(info.path.clone())));
    }
    Ok(())
}

/// Reads the delegation index of the approved zone `info` describes: `None` when it is
/// missing, damaged, or belongs to another text (a kill between the two renames).
pub fn read_index(out: &Path, info: &ApprovedInfo) -> Option<Vec<Fingerprint>> {
    let bytes = std::fs::read(index_path(out)).ok()?;
    let rest = bytes.strip_prefix(INDEX_MAGIC)?;
    let (digest, rest) = rest.split_at_checked(32)?;
    if data_encoding::HEXLOWER.encode(digest) != info.sha256 {
        return None;
    }
    let (count, mut rest) = rest.split_at_checked(8)?;
    let count = u64::from_le_bytes(count.try_into().ok()?);
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?.min(rest.len() / 10));
    for _ in 0..count {
        let (&len, tail) = rest.split_first()?;
        let (wire, tail) = tail.split_at_checked(usize::from(len))?;
        let (fp, tail) = tail.split_at_checked(8)?;
        out.push((
            Name::from_wire(wire).ok()?,
            u64::from_le_bytes(fp.try_into().ok()?),
        ));
        rest = tail;
    }
    rest.is_empty().then_some(out)
}

/// A candidate written as the approved zone would be, in temporary files beside the
/// output: check programs read it (`ZONESIGN_CANDIDATE`), and [`Candidate::commit`]
/// makes it the approved zone once the signed zone is about to be published.
pub struct Candidate {
    text: tempfile::NamedTempFile,
    index: tempfile::NamedTempFile,
    /// The fsync of both files, running while the zone is signed ([`Verbatim::finish`]);
    /// joined before the renames, so nothing is renamed before it is on disk.
    syncing: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    /// What the header says.
    pub info: ApprovedInfo,
}

impl Candidate {
    /// The temporary text file.
    pub fn path(&self) -> &Path {
        self.text.path()
    }

    /// Whether `approved` is this very zone (then there is nothing to commit, and the
    /// approval time stays the first one).
    pub fn same_as(&self, approved: Option<&ApprovedInfo>) -> bool {
        approved.is_some_and(|a| a.sha256 == self.info.sha256 && a.origin == self.info.origin)
    }

    /// Renames the index, then the text, into place (see the module's comment for why
    /// in this order) and makes the renames durable.
    pub fn commit(self) -> Result<()> {
        let path = self.info.path.clone();
        if let Some(syncing) = self.syncing {
            syncing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the fsync thread panicked")))
                .map_err(|e| Error::io(self.text.path(), e))?;
        }
        let index = index_path_of(&path);
        self.index
            .persist(&index)
            .map_err(|e| Error::io(&index, e.error))?;
        self.text
            .persist(&path)
            .map_err(|e| Error::io(&path, e.error))?;
        sync_parent_dir(&path);
        Ok(())
    }
}

/// A candidate whose text is the input file byte for byte (behind the header), written
/// while the input is parsed ([`crate::dns::zonefile::parse_file_sharing`]); its serial
/// and delegation count are filled in by [`Verbatim::finish`] once the parse has them.
///
/// Why a copy rather than a rendering: at 1M delegations rendering the zone again took
/// most of a second of both cores on every cron run; the copy costs one SHA-256 pass and
/// a sequential write, on a thread beside the parse. It also keeps the approved zone in
/// the registry's own form, so its SHA-256 is the export's own `sha256sum`.
pub struct Verbatim {
    text: tempfile::NamedTempFile,
    index: PathBuf,
    info: ApprovedInfo,
}

/// What [`write_verbatim`] found.
pub enum Copied {
    /// The input is byte for byte the approved zone: nothing to write.
    Same,
    /// The copy, waiting for its serial and count.
    Written(Verbatim),
}

/// Copies the input's `bytes` behind a header into a temporary file beside `out`
/// (fsynced in the background by [`Verbatim::finish`]), unless they are the approved
/// zone's.
pub fn write_verbatim(
    bytes: &[u8],
    out: &Path,
    origin: &Name,
    now: i64,
    approved: Option<&ApprovedInfo>,
) -> Result<Copied> {
    let sha256 = data_encoding::HEXLOWER.encode(&Sha256::digest(bytes));
    if approved.is_some_and(|a| a.sha256 == sha256 && a.origin == origin.to_string()) {
        return Ok(Copied::Same);
    }
    let path = approved_path(out);
    let info = ApprovedInfo {
        path: path.clone(),
        origin: origin.to_string(),
        serial: 0,
        approved_at: now,
        delegations: 0,
        sha256,
    };
    let text = temp_beside(&path)?;
    let io = |e| Error::io(text.path(), e);
    let mut file = text.as_file();
    file.write_all(info.header().as_bytes()).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    set_mode(file, &path);
    Ok(Copied::Written(Verbatim {
        text,
        index: index_path(out),
        info,
    }))
}

impl Verbatim {
    /// Fills in the serial and the delegation count and writes the index: the candidate.
    pub fn finish(mut self, serial: u32, delegations: &[Fingerprint]) -> Result<Candidate> {
        self.info.serial = serial;
        self.info.delegations = delegations.len() as u64;
        let header = self.info.header();
        let io = |e| Error::io(self.text.path(), e);
        let mut file = self.text.as_file();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(header.as_bytes()).map_err(io)?;
        let index = write_index(&self.index, &self.info.sha256, delegations, false)?;
        // Both files go to disk while the zone is signed: at 1M delegations the fsync of
        // the 190 MB copy took most of a second on the run's critical path.
        let files = [self.text.as_file(), index.as_file()]
            .map(|f| f.try_clone().map_err(|e| Error::io(self.text.path(), e)));
        let [text, idx] = files;
        let (text, idx) = (text?, idx?);
        let syncing = std::thread::Builder::new()
            .name("approved-fsync".into())
            .spawn(move || text.sync_all().and_then(|()| idx.sync_all()))
            .map_err(|e| Error::io(self.text.path(), e))?;
        Ok(Candidate {
            text: self.text,
            index,
            syncing: Some(syncing),
            info: self.info,
        })
    }
}

/// `X.approved.idx` for `X.approved`.
fn index_path_of(approved: &Path) -> PathBuf {
    suffixed(approved, ".idx")
}

/// Writes `zone` (the checked candidate, before any DNSSEC record is added) and its
/// delegation index to temporary files beside `out`, fsynced.
pub fn write_candidate(
    zone: &Zone,
    out: &Path,
    serial: u32,
    now: i64,
    delegations: &[Fingerprint],
) -> Result<Candidate> {
    let path = approved_path(out);
    let mut info = ApprovedInfo {
        path: path.clone(),
        origin: zone.origin.to_string(),
        serial,
        approved_at: now,
        delegations: delegations.len() as u64,
        sha256: "0".repeat(64),
    };
    let text = temp_beside(&path)?;
    let tmp = text.path().to_path_buf();
    let io = |e| Error::io(&tmp, e);
    let header = info.header();
    let mut file = text.as_file();
    let digest = {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        w.write_all(header.as_bytes()).map_err(io)?;
        let mut h = HashingWriter {
            inner: &mut w,
            hash: Sha256::new(),
        };
        crate::store::output::render(zone, None, &mut h).map_err(io)?;
        let digest = data_encoding::HEXLOWER.encode(&h.hash.finalize());
        w.flush().map_err(io)?;
        digest
    };
    // The digest is known only now: it replaces the placeholder of the same width.
    file.seek(SeekFrom::Start((header.len() - 65) as u64))
        .map_err(io)?;
    file.write_all(digest.as_bytes()).map_err(io)?;
    set_mode(text.as_file(), &path);
    text.as_file().sync_all().map_err(io)?;
    info.sha256 = digest;
    let index = write_index(&index_path(out), &info.sha256, delegations, true)?;
    Ok(Candidate {
        text,
        index,
        syncing: None,
        info,
    })
}

/// Writes the index to a temporary file beside `path`; `sync`: and fsyncs it now.
fn write_index(
    path: &Path,
    sha256: &str,
    delegations: &[Fingerprint],
    sync: bool,
) -> Result<tempfile::NamedTempFile> {
    let tmp = temp_beside(path)?;
    let io = |e| Error::io(tmp.path(), e);
    let digest = data_encoding::HEXLOWER
        .decode(sha256.as_bytes())
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        w.write_all(INDEX_MAGIC).map_err(io)?;
        w.write_all(&digest).map_err(io)?;
        w.write_all(&(delegations.len() as u64).to_le_bytes())
            .map_err(io)?;
        for (name, fp) in delegations {
            let wire = name.as_wire();
            // A wire name is at most 255 octets (RFC 1035 §3.1).
            w.write_all(&[u8::try_from(wire.len()).unwrap_or(u8::MAX)])
                .map_err(io)?;
            w.write_all(wire).map_err(io)?;
            w.write_all(&fp.to_le_bytes()).map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    if sync {
        tmp.as_file().sync_all().map_err(io)?;
    }
    Ok(tmp)
}

/// The approved zone is as readable as the signed output beside it (check programs of
/// another user may read both); the index is zonesign's own.
fn set_mode(file: &std::fs::File, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o644);
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(text: &str) -> Zone {
        crate::zone::test_zone(text)
    }

    const ZONE: &str = "$TTL 3600\n@ SOA ns.se. h.se. 7 1 1 1 1\n@ NS a.ns\na.ns A 192.0.2.1\nd1 NS ns.d1\nns.d1 A 192.0.2.2\nd2 NS x.net.\n";

    #[test]
    fn a_committed_candidate_reads_back_with_its_index_and_parses_as_the_zone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("se.signed");
        assert_eq!(read_info(&out).unwrap(), None);
        let z = zone(ZONE);
        let fps = crate::zone::ingress::fingerprints(&z);
        let cand = write_candidate(&z, &out, 7, 1_800_000_000, &fps).unwrap();
        assert!(cand.path().exists());
        let expected = cand.info.clone();
        cand.commit().unwrap();
        let info = read_info(&out).unwrap().unwrap();
        assert_eq!(info, expected);
        assert_eq!((info.serial, info.delegations), (7, 2));
        check_digest(&info).unwrap();
        assert_eq!(read_index(&out, &info).unwrap(), fps);
        let again = crate::dns::zonefile::parse_file(&info.path, &z.origin).unwrap();
        let (back, _) = Zone::from_records(z.origin.clone(), again.records);
        assert_eq!(crate::zone::ingress::fingerprints(&back), fps);
        assert_eq!(back.rrsets.len(), z.rrsets.len());
    }

    #[test]
    fn a_verbatim_copy_is_the_input_behind_its_header_and_an_unchanged_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("se.signed");
        let z = zone(ZONE);
        let fps = crate::zone::ingress::fingerprints(&z);
        let Copied::Written(v) =
            write_verbatim(ZONE.as_bytes(), &out, &z.origin, 60, None).unwrap()
        else {
            panic!("a first copy is written");
        };
        v.finish(7, &fps).unwrap().commit().unwrap();
        let info = read_info(&out).unwrap().unwrap();
        assert_eq!(
            (info.serial, info.delegations, info.approved_at),
            (7, 2, 60)
        );
        let text = std::fs::read_to_string(&info.path).unwrap();
        assert!(text.ends_with(ZONE) && text.starts_with(FIRST_LINE));
        check_digest(&info).unwrap();
        assert_eq!(read_index(&out, &info).unwrap(), fps);
        let again = write_verbatim(ZONE.as_bytes(), &out, &z.origin, 99, Some(&info)).unwrap();
        assert!(matches!(again, Copied::Same));
    }

    #[test]
    fn an_edited_text_or_a_foreign_index_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("se.signed");
        let z = zone(ZONE);
        let fps = crate::zone::ingress::fingerprints(&z);
        write_candidate(&z, &out, 7, 0, &fps)
            .unwrap()
            .commit()
            .unwrap();
        let info = read_info(&out).unwrap().unwrap();
        let path = approved_path(&out);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("192.0.2.2", "192.0.2.3")).unwrap();
        assert!(
            check_digest(&info)
                .unwrap_err()
                .to_string()
                .contains("SHA-256")
        );
        let other = ApprovedInfo {
            sha256: "1".repeat(64),
            ..info
        };
        assert_eq!(read_index(&out, &other), None);
        std::fs::write(&path, "; something else\n").unwrap();
        assert!(read_info(&out).is_err());
    }
}
