//! ZONEMD: one message digest over the whole zone (RFC 8976), SIMPLE scheme.
//!
//! DNSSEC proves each RRset on its own; ZONEMD proves that a copy of the zone is the
//! whole zone the publisher made, nothing added or dropped (a zone transferred to a
//! secondary, or handed to the registry's escrow). The digest is the hash of every
//! record of the zone in RFC 4034 §6.2 canonical form, in canonical order (RFC 8976
//! §3.3.1): owner, then type, then RDATA, duplicates once. It excludes the apex ZONEMD
//! RRset and the RRSIGs that cover it, which are made after the digest; it includes
//! glue, occluded data, non-apex ZONEMD records, and every other DNSSEC record. Data
//! outside the origin is not in the zone and is not digested (RFC 8976 Appendix A.2).
//!
//! The [`Zone`] keeps RRSIGs inside the RRset they cover, but in the digest all RRSIGs
//! of an owner are one RRset of type RRSIG (46), placed among the owner's RRsets by its
//! type code (after DS, before NSEC and DNSKEY) and ordered by its own RDATA, each
//! signature with its own TTL. [`digests`] rebuilds that set per owner.
//!
//! A TLD zone is hundreds of megabytes of canonical form, and one SHA-384 stream cannot
//! be split across cores, so the walk writes each record into one reused buffer that is
//! handed to the hash in large pieces, with no buffer the size of the zone.

use sha2::{Digest, Sha384, Sha512};

use crate::dns::name::{Name, read_wire_name};
use crate::dns::record::{CLASS_IN, rtype};
use crate::zone::{RRset, Rdatas, Zone, covered_type};

/// The SIMPLE scheme (RFC 8976 §5.2): the digest of the whole zone at once.
pub const SCHEME_SIMPLE: u8 = 1;

/// Serial, scheme and hash algorithm: the fixed part of ZONEMD RDATA (RFC 8976 §2.2).
const FIXED_LEN: usize = 6;

/// The shortest digest a ZONEMD may carry (RFC 8976 §2.2.4): a truncated digest
/// below this would be too weak to mean anything.
pub const MIN_DIGEST_LEN: usize = 12;

/// Canonical form is handed to the hash in pieces of about this size: large enough
/// that the per-call cost of the hash disappears, small enough to stay in cache.
const FLUSH_AT: usize = 64 * 1024;

/// The ZONEMD hash algorithms zonesign computes (RFC 8976 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlg {
    /// SHA-384, the one every verifier must support (RFC 8976 §2.2.3).
    Sha384 = 1,
    /// SHA-512.
    Sha512 = 2,
}

impl HashAlg {
    /// The algorithm of a Hash Algorithm field, or `None` for one zonesign cannot
    /// compute (reserved 0, private use 240–254, or unassigned).
    pub fn from_code(code: u8) -> Option<HashAlg> {
        match code {
            1 => Some(HashAlg::Sha384),
            2 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// The Hash Algorithm field value.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Length of the digest in octets.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        })
    }
}

/// One ZONEMD record's fields (RFC 8976 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zonemd {
    /// The SOA serial of the zone version the digest is of.
    pub serial: u32,
    /// The Scheme field ([`SCHEME_SIMPLE`] is the only one defined).
    pub scheme: u8,
    /// The Hash Algorithm field (see [`HashAlg`]).
    pub hash_alg: u8,
    /// The digest, at least [`MIN_DIGEST_LEN`] octets.
    pub digest: Vec<u8>,
}

impl Zonemd {
    /// The algorithm to recompute this record's digest with, if zonesign supports both
    /// its scheme and its hash algorithm; `None` means the record cannot be checked.
    pub fn supported(&self) -> Option<HashAlg> {
        (self.scheme == SCHEME_SIMPLE)
            .then(|| HashAlg::from_code(self.hash_alg))
            .flatten()
    }
}

/// What a successful [`check`] verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The serial of the ZONEMD that matched (the SOA serial).
    pub serial: u32,
    /// The algorithm of the ZONEMD that matched.
    pub hash: HashAlg,
}

/// Why a ZONEMD cannot be made or does not verify (RFC 8976 §4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZonemdError {
    /// The RDATA cannot hold serial, scheme, hash algorithm and a 12-octet digest.
    #[error(
        "ZONEMD RDATA of {len} octets is too short: serial, scheme and hash algorithm take 6 and the digest at least 12 (RFC 8976 §2.2.4)"
    )]
    TooShort {
        /// Length of the RDATA.
        len: usize,
    },
    /// No SOA at the apex, or one whose serial cannot be read: the ZONEMD serial has
    /// nothing to match.
    #[error(
        "no readable SOA at the apex: a ZONEMD serial must be the SOA serial (RFC 8976 §2.2.1)"
    )]
    NoSoa,
    /// Two apex ZONEMD records share scheme and hash algorithm, so neither can be
    /// trusted over the other.
    #[error(
        "the apex ZONEMD RRset has more than one record with scheme {scheme} and hash algorithm {hash_alg} (RFC 8976 §2.4)"
    )]
    Duplicate {
        /// The shared Scheme field.
        scheme: u8,
        /// The shared Hash Algorithm field.
        hash_alg: u8,
    },
    /// No apex ZONEMD is of the zone's current version: each describes another serial
    /// (a stale digest carried over).
    #[error(
        "no apex ZONEMD has the SOA serial {soa} (ZONEMD serials: {}): the digest is of another version of the zone (RFC 8976 §4)",
        join(.zonemd)
    )]
    SerialMismatch {
        /// The SOA serial.
        soa: u32,
        /// The serials of the apex ZONEMD records.
        zonemd: Vec<u32>,
    },
    /// The ZONEMD records of the current serial all use a scheme or hash algorithm
    /// zonesign cannot compute, so none can be checked.
    #[error(
        "no apex ZONEMD with serial {serial} has a supported scheme and hash algorithm (SIMPLE with SHA-384 or SHA-512); found (scheme, algorithm) {} (RFC 8976 §4)",
        pairs(.found)
    )]
    Unsupported {
        /// The SOA serial.
        serial: u32,
        /// (scheme, hash algorithm) of each record of that serial.
        found: Vec<(u8, u8)>,
    },
    /// The zone does not hash to any of the supported digests: it was changed after
    /// the digest was made, or is incomplete.
    #[error(
        "ZONEMD digest mismatch: the {hash} record (serial {serial}) says {}, the zone hashes to {} (RFC 8976 §4)",
        hex(.found),
        hex(.computed)
    )]
    Mismatch {
        /// The serial of the first supported record.
        serial: u32,
        /// Its algorithm.
        hash: HashAlg,
        /// Its digest.
        found: Vec<u8>,
        /// The digest of the zone with that algorithm.
        computed: Vec<u8>,
    },
}

/// Lowercase hex, for digests in messages.
fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Serials as "1, 2, 3".
fn join(serials: &[u32]) -> String {
    let text: Vec<String> = serials.iter().map(u32::to_string).collect();
    text.join(", ")
}

/// (scheme, algorithm) pairs as "(1, 240), (241, 1)".
fn pairs(found: &[(u8, u8)]) -> String {
    let text: Vec<String> = found.iter().map(|(s, h)| format!("({s}, {h})")).collect();
    text.join(", ")
}

/// ZONEMD RDATA: serial, scheme SIMPLE, hash algorithm, digest (RFC 8976 §2.2).
pub fn rdata(serial: u32, hash: HashAlg, digest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED_LEN + digest.len());
    out.extend_from_slice(&serial.to_be_bytes());
    out.push(SCHEME_SIMPLE);
    out.push(hash.code());
    out.extend_from_slice(digest);
    out
}

/// Reads ZONEMD RDATA. Any scheme and algorithm is read (a verifier skips those it
/// does not know, RFC 8976 §4); only a digest under 12 octets is refused.
pub fn parse_rdata(rdata: &[u8]) -> Result<Zonemd, ZonemdError> {
    let too_short = || ZonemdError::TooShort { len: rdata.len() };
    let (fixed, digest) = rdata.split_at_checked(FIXED_LEN).ok_or_else(too_short)?;
    if digest.len() < MIN_DIGEST_LEN {
        return Err(too_short());
    }
    Ok(Zonemd {
        serial: u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]),
        scheme: fixed[4],
        hash_alg: fixed[5],
        digest: digest.to_vec(),
    })
}

/// The SIMPLE-scheme digest of `zone` with `hash`; see [`digests`].
pub fn digest(zone: &Zone, hash: HashAlg) -> Vec<u8> {
    digests(zone, &[hash]).remove(0)
}

/// The SIMPLE-scheme digests of `zone` (RFC 8976 §3.3.1), one per entry of `hashes`,
/// in one walk over the zone.
///
/// The apex ZONEMD RRset and the RRSIGs covering it are left out, so a placeholder
/// ZONEMD (§3.1), an old one, or none at all give the same digest. Relies on the
/// [`Zone`] invariant that RRsets are in canonical order (owner, type); RDATA that
/// is out of order within a set is sorted here, as duplicates are dropped.
pub fn digests(zone: &Zone, hashes: &[HashAlg]) -> Vec<Vec<u8>> {
    let mut out = Canonical::new(hashes);
    let orphans = orphan_sigs(zone);
    let mut orphans = &orphans[..];
    let mut walk = OwnerWalk::default();
    let sets = &zone.rrsets[..];
    let mut i = 0;
    while let Some(first) = sets.get(i) {
        let owner = &first.owner;
        let end = i + sets[i..].iter().take_while(|s| s.owner == *owner).count();
        // Signatures whose owner has no RRset at all come before it in canonical order.
        while let Some(o) = orphans.first().filter(|o| o.owner < owner) {
            let n = orphans.iter().take_while(|p| p.owner == o.owner).count();
            walk.owner(zone, o.owner, &[], &orphans[..n], &mut out);
            orphans = &orphans[n..];
        }
        let n = orphans.iter().take_while(|p| p.owner == owner).count();
        walk.owner(zone, owner, &sets[i..end], &orphans[..n], &mut out);
        orphans = &orphans[n..];
        i = end;
    }
    while let Some(o) = orphans.first() {
        let n = orphans.iter().take_while(|p| p.owner == o.owner).count();
        walk.owner(zone, o.owner, &[], &orphans[..n], &mut out);
        orphans = &orphans[n..];
    }
    out.finish()
}

/// The apex ZONEMD RDATA for `hashes` (duplicates once) over `zone` as it stands, with
/// the SOA serial, in canonical order: the RRset to put at the apex after signing
/// everything else (RFC 8976 §3.4), whatever ZONEMD the zone holds now.
pub fn make(zone: &Zone, hashes: &[HashAlg]) -> Result<Rdatas, ZonemdError> {
    let serial = soa_serial(zone)?;
    let mut hashes = hashes.to_vec();
    hashes.sort_unstable();
    hashes.dedup();
    let digests = digests(zone, &hashes);
    let mut records: Vec<Vec<u8>> = hashes
        .iter()
        .zip(&digests)
        .map(|(&h, d)| rdata(serial, h, d))
        .collect();
    records.sort_unstable();
    Ok(records.into_iter().collect())
}

/// Verifies the apex ZONEMD RRset (RFC 8976 §4): `Ok(None)` when there is none;
/// otherwise at least one record with the SOA serial and a supported scheme and
/// algorithm must carry the zone's digest.
///
/// Refused with a typed error: malformed RDATA, two records with one (scheme,
/// algorithm), no record of the SOA serial, none of that serial that can be
/// computed, and a digest that does not match. The zone is walked once, for all the
/// algorithms needed.
pub fn check(zone: &Zone) -> Result<Option<Checked>, ZonemdError> {
    let Some(set) = zone.get(&zone.origin, rtype::ZONEMD) else {
        return Ok(None);
    };
    let records: Vec<Zonemd> = set
        .rdatas
        .iter()
        .map(parse_rdata)
        .collect::<Result<_, _>>()?;
    refuse_duplicates(&records)?;
    let serial = soa_serial(zone)?;
    let current: Vec<&Zonemd> = records.iter().filter(|z| z.serial == serial).collect();
    if current.is_empty() {
        return Err(ZonemdError::SerialMismatch {
            soa: serial,
            zonemd: records.iter().map(|z| z.serial).collect(),
        });
    }
    let usable: Vec<(HashAlg, &Zonemd)> = current
        .iter()
        .filter_map(|z| z.supported().map(|h| (h, *z)))
        .collect();
    let Some(&(first_hash, first)) = usable.first() else {
        return Err(ZonemdError::Unsupported {
            serial,
            found: current.iter().map(|z| (z.scheme, z.hash_alg)).collect(),
        });
    };
    let mut hashes: Vec<HashAlg> = usable.iter().map(|&(h, _)| h).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let computed = digests(zone, &hashes);
    let digest_of = |h: HashAlg| {
        let at = hashes.iter().position(|&x| x == h).unwrap_or(0);
        computed.get(at).map_or(&[][..], |d| &d[..])
    };
    if let Some(&(hash, _)) = usable.iter().find(|(h, z)| digest_of(*h) == z.digest) {
        return Ok(Some(Checked { serial, hash }));
    }
    Err(ZonemdError::Mismatch {
        serial,
        hash: first_hash,
        found: first.digest.clone(),
        computed: digest_of(first_hash).to_vec(),
    })
}

/// Refuses an apex ZONEMD RRset with two records of one scheme and hash algorithm:
/// a publisher makes one digest per pair, so a second is tampering or a bug
/// (RFC 8976 §2.4, §4).
fn refuse_duplicates(records: &[Zonemd]) -> Result<(), ZonemdError> {
    let mut seen: Vec<(u8, u8)> = Vec::with_capacity(records.len());
    for z in records {
        let key = (z.scheme, z.hash_alg);
        if seen.contains(&key) {
            return Err(ZonemdError::Duplicate {
                scheme: key.0,
                hash_alg: key.1,
            });
        }
        seen.push(key);
    }
    Ok(())
}

/// The apex SOA serial: the four octets after its two names.
fn soa_serial(zone: &Zone) -> Result<u32, ZonemdError> {
    let rdata = zone
        .soa()
        .and_then(|s| s.rdatas.first())
        .ok_or(ZonemdError::NoSoa)?;
    let serial = || {
        let (_, m) = read_wire_name(rdata).ok()?;
        let (_, r) = read_wire_name(rdata.get(m..)?).ok()?;
        let b = rdata.get(m + r..m + r + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    serial().ok_or(ZonemdError::NoSoa)
}

/// An RRSIG that covers no RRset of the zone: still a record of the zone, digested at
/// its owner like any other signature.
struct OrphanSig<'z> {
    owner: &'z Name,
    ttl: u32,
    rdata: &'z [u8],
}

/// The zone's orphan signatures, sorted by owner (then RDATA) for the merge walk in
/// [`digests`]: the zone keeps them in that order already, but nothing promises it,
/// and there are few.
fn orphan_sigs(zone: &Zone) -> Vec<OrphanSig<'_>> {
    let mut sigs: Vec<OrphanSig<'_>> = zone
        .orphan_sigs
        .iter()
        .map(|(owner, _, sig)| OrphanSig {
            owner,
            ttl: sig.ttl,
            rdata: &sig.rdata,
        })
        .collect();
    sigs.sort_by(|a, b| a.owner.cmp(b.owner).then_with(|| a.rdata.cmp(b.rdata)));
    sigs
}

/// Buffers reused from one owner to the next, so the walk allocates nothing per name.
#[derive(Default)]
struct OwnerWalk<'z> {
    /// The owner in canonical wire form (lowercase, uncompressed).
    owner: Vec<u8>,
    /// The owner's RRSIG RRset: (RDATA, TTL) of every signature at the owner.
    sigs: Vec<(&'z [u8], u32)>,
    /// One RRset's RDATA, when it must be sorted here.
    sorted: Vec<&'z [u8]>,
}

impl<'z> OwnerWalk<'z> {
    /// Writes every record of one owner name: its RRsets in type order, with the RRSIG
    /// RRset at type 46 (RFC 4034 §6.3). Names outside the zone are skipped
    /// (RFC 8976 Appendix A.2), and at the apex the ZONEMD RRset and its signatures
    /// (RFC 8976 §3.3.1.1).
    fn owner(
        &mut self,
        zone: &Zone,
        name: &Name,
        sets: &'z [RRset],
        orphans: &[OrphanSig<'z>],
        out: &mut Canonical,
    ) {
        if !name.is_subdomain_of(&zone.origin) {
            return;
        }
        let apex = *name == zone.origin;
        let digested = |set: &&RRset| !(apex && set.rtype == rtype::ZONEMD);
        self.owner.clear();
        name.write_canonical(&mut self.owner);
        self.gather_sigs(apex, sets.iter().filter(digested), orphans);
        let mut sigs_pending = !self.sigs.is_empty();
        for set in sets.iter().filter(digested) {
            if set.rtype == rtype::RRSIG {
                continue;
            }
            if sigs_pending && set.rtype > rtype::RRSIG {
                self.write_sigs(out);
                sigs_pending = false;
            }
            self.write_set(set, out);
        }
        if sigs_pending {
            self.write_sigs(out);
        }
    }

    /// Collects the owner's RRSIG RRset: the signatures attached to its RRsets, those
    /// covering nothing, and an RRSIG RRset kept as a set of its own (not made by
    /// [`Zone::from_records`], but nothing forbids it). Sorted by RDATA, each
    /// signature once (the lowest TTL if it appears twice); at the apex without those
    /// covering ZONEMD.
    fn gather_sigs(
        &mut self,
        apex: bool,
        sets: impl Iterator<Item = &'z RRset>,
        orphans: &[OrphanSig<'z>],
    ) {
        self.sigs.clear();
        for set in sets {
            if set.rtype == rtype::RRSIG {
                self.sigs.extend(set.rdatas.iter().map(|r| (r, set.ttl)));
            } else {
                self.sigs
                    .extend(set.sigs.iter().map(|s| (&s.rdata[..], s.ttl)));
            }
        }
        self.sigs.extend(orphans.iter().map(|o| (o.rdata, o.ttl)));
        if apex {
            self.sigs
                .retain(|(r, _)| covered_type(r) != Some(rtype::ZONEMD));
        }
        self.sigs.sort_unstable();
        self.sigs.dedup_by(|later, first| later.0 == first.0);
    }

    /// Writes the gathered RRSIG RRset, each record with its own TTL.
    fn write_sigs(&self, out: &mut Canonical) {
        for &(rdata, ttl) in &self.sigs {
            out.record(&self.owner, rtype::RRSIG, ttl, rdata);
        }
    }

    /// Writes one RRset's records in canonical RDATA order, each once. Zone RRsets are
    /// built that way, so this only checks the order and sorts a set that is not.
    fn write_set(&mut self, set: &'z RRset, out: &mut Canonical) {
        let mut prev: Option<&[u8]> = None;
        let ordered = set.rdatas.iter().all(|r| {
            let ok = prev.is_none_or(|p| p < r);
            prev = Some(r);
            ok
        });
        if ordered {
            for rdata in &set.rdatas {
                out.record(&self.owner, set.rtype, set.ttl, rdata);
            }
            return;
        }
        self.sorted.clear();
        self.sorted.extend(set.rdatas.iter());
        self.sorted.sort_unstable();
        self.sorted.dedup();
        for rdata in &self.sorted {
            out.record(&self.owner, set.rtype, set.ttl, rdata);
        }
    }
}

/// One running hash per requested algorithm, all fed the same canonical form.
enum State {
    Sha384(Sha384),
    Sha512(Sha512),
}

/// The canonical form of the zone on its way into the hashes: records are appended to
/// one buffer, which is hashed and emptied whenever it passes [`FLUSH_AT`].
struct Canonical {
    buf: Vec<u8>,
    states: Vec<State>,
}

impl Canonical {
    fn new(hashes: &[HashAlg]) -> Canonical {
        let states = hashes
            .iter()
            .map(|h| match h {
                HashAlg::Sha384 => State::Sha384(Sha384::new()),
                HashAlg::Sha512 => State::Sha512(Sha512::new()),
            })
            .collect();
        Canonical {
            buf: Vec::with_capacity(FLUSH_AT + 2 * 65_536),
            states,
        }
    }

    /// Appends one RR in canonical form (RFC 4034 §6.2): owner (already canonical),
    /// type, class IN (the only class zonesign signs), TTL, RDATA length, RDATA.
    fn record(&mut self, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
        // RDATA is at most 65535 octets: every reader and signer enforces it before a
        // record exists (see `Rdatas`).
        let len = u16::try_from(rdata.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(owner);
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(rdata);
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for state in &mut self.states {
            match state {
                State::Sha384(h) => h.update(&self.buf),
                State::Sha512(h) => h.update(&self.buf),
            }
        }
        self.buf.clear();
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        self.flush();
        self.states
            .into_iter()
            .map(|state| match state {
                State::Sha384(h) => h.finalize().to_vec(),
                State::Sha512(h) => h.finalize().to_vec(),
            })
            .collect()
    }
}
