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

// OpenSSL's SHA-384/512 (libcrypto is linked already, see Cargo.toml): 400 MB hash in
// 0.52 s here against 0.63 s with the sha2 crate (session 15, 2-core EPYC); the digest
// is one stream over the whole zone, so its speed is the ZONEMD's cost.
use openssl::sha::{Sha384, Sha512};

use crate::dns::name::{Name, read_wire_name};
use crate::dns::record::{CLASS_IN, rtype};
use crate::zone::{RRset, Rdatas, Sig, Zone, covered_type};

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
    /// SHA-384, mandatory to implement (RFC 8976).
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
        "the apex ZONEMD RRset has more than one record with scheme {scheme} and hash algorithm {hash_alg} (RFC 8976 §4)"
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
    walk_part(&zone.origin, &zone.rrsets, &zone.orphan_sigs, &mut out);
    out.finish()
}

/// Feeds one part of a zone to `out` in canonical order: `sets` and the orphan
/// signatures among them, owners after every one fed before (an owner's records all
/// in one part).
fn walk_part(origin: &Name, sets: &[RRset], orphans: &[(Name, u16, Sig)], out: &mut Canonical) {
    let orphans = orphan_sigs(orphans);
    let mut orphans = &orphans[..];
    let mut walk = OwnerWalk::default();
    let mut i = 0;
    while let Some(first) = sets.get(i) {
        let owner = &first.owner;
        let end = i + sets[i..].iter().take_while(|s| s.owner == *owner).count();
        // Signatures whose owner has no RRset at all come before it in canonical order.
        while let Some(o) = orphans.first().filter(|o| o.owner < owner) {
            let n = orphans.iter().take_while(|p| p.owner == o.owner).count();
            walk.owner(origin, o.owner, &[], &orphans[..n], out);
            orphans = &orphans[n..];
        }
        let n = orphans.iter().take_while(|p| p.owner == owner).count();
        walk.owner(origin, owner, &sets[i..end], &orphans[..n], out);
        orphans = &orphans[n..];
        i = end;
    }
    while let Some(o) = orphans.first() {
        let n = orphans.iter().take_while(|p| p.owner == o.owner).count();
        walk.owner(origin, o.owner, &[], &orphans[..n], out);
        orphans = &orphans[n..];
    }
}

/// The digests a zone's apex ZONEMD asks for, taken from the zone handed over a part
/// at a time in canonical order, so that the whole zone is never held (`zonesign
/// verify` of a file read in windows, issue 25). Fed the parts of a zone, it gives
/// what [`Digests::for_check`] gives for the whole.
pub struct DigestStream {
    hashes: Vec<HashAlg>,
    out: Canonical,
}

impl DigestStream {
    /// For the algorithms the apex ZONEMD of `apex` asks for (a zone holding at least
    /// the apex's RRsets).
    pub fn for_check(apex: &Zone) -> DigestStream {
        let hashes = distinct(&requested(apex));
        DigestStream {
            out: Canonical::new(&hashes),
            hashes,
        }
    }

    /// Feeds `sets` and the orphan signatures among them, of owners after every one fed
    /// before, all of each owner's records at once.
    pub fn push(&mut self, origin: &Name, sets: &[RRset], orphans: &[(Name, u16, Sig)]) {
        if !self.hashes.is_empty() {
            walk_part(origin, sets, orphans, &mut self.out);
        }
    }

    /// The digests of everything fed.
    pub fn finish(self) -> Digests {
        Digests(self.hashes.into_iter().zip(self.out.finish()).collect())
    }
}

/// The algorithms sorted, each once.
fn distinct(hashes: &[HashAlg]) -> Vec<HashAlg> {
    let mut hashes = hashes.to_vec();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// The apex ZONEMD RDATA for `hashes` (duplicates once) over `zone` as it stands, with
/// the SOA serial, in canonical order: the RRset to put at the apex after signing
/// everything else (RFC 8976 §3.4), whatever ZONEMD the zone holds now.
pub fn make(zone: &Zone, hashes: &[HashAlg]) -> Result<Rdatas, ZonemdError> {
    make_with(zone, hashes, &Digests::default())
}

/// As [`make`], taking the digests `known` already holds instead of walking the zone
/// again (the signing gate takes them beside its first stage, see
/// [`crate::dnssec::verify::first_stage`]).
pub fn make_with(zone: &Zone, hashes: &[HashAlg], known: &Digests) -> Result<Rdatas, ZonemdError> {
    let serial = soa_serial(zone)?;
    let all = known.completed(zone, hashes);
    let mut records: Vec<Vec<u8>> = hashes
        .iter()
        .map(|&h| rdata(serial, h, all.get(h).unwrap_or(&[])))
        .collect();
    records.sort_unstable();
    records.dedup();
    Ok(records.into_iter().collect())
}

/// Digests of one zone, by algorithm, taken once and read by whoever needs them: the
/// verifier's ZONEMD check and the signer's ZONEMD record. The apex ZONEMD RRset and
/// its signatures are not in the digest, so they stay right while only those change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests(Vec<(HashAlg, Vec<u8>)>);

impl Digests {
    /// The digests of `zone` for `hashes`, in one walk (none for no hashes).
    pub fn of(zone: &Zone, hashes: &[HashAlg]) -> Digests {
        let hashes = distinct(hashes);
        if hashes.is_empty() {
            return Digests::default();
        }
        let values = digests(zone, &hashes);
        Digests(hashes.into_iter().zip(values).collect())
    }

    /// The digests the apex ZONEMD records of `zone` ask for (every supported
    /// algorithm, whatever the serial), for a check that comes later.
    pub fn for_check(zone: &Zone) -> Digests {
        Digests::of(zone, &requested(zone))
    }

    /// The digest with `hash`, if taken.
    pub fn get(&self, hash: HashAlg) -> Option<&[u8]> {
        self.0.iter().find(|(h, _)| *h == hash).map(|(_, d)| &d[..])
    }

    /// These digests plus those of `hashes` that are missing, taken now.
    fn completed(&self, zone: &Zone, hashes: &[HashAlg]) -> Digests {
        let missing: Vec<HashAlg> = hashes
            .iter()
            .copied()
            .filter(|&h| self.get(h).is_none())
            .collect();
        let mut all = self.clone();
        all.0.extend(Digests::of(zone, &missing).0);
        all
    }
}

/// The supported algorithms of the zone's apex ZONEMD records, any serial, each once.
fn requested(zone: &Zone) -> Vec<HashAlg> {
    let mut hashes: Vec<HashAlg> = zone
        .get(&zone.origin, rtype::ZONEMD)
        .into_iter()
        .flat_map(|set| set.rdatas.iter())
        .filter_map(|r| parse_rdata(r).ok()?.supported())
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
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
    check_with(zone, &Digests::default())
}

/// As [`check`], with digests of this zone taken earlier ([`Digests::for_check`]);
/// any it lacks are taken now.
pub fn check_with(zone: &Zone, known: &Digests) -> Result<Option<Checked>, ZonemdError> {
    let Some(set) = zone.get(&zone.origin, rtype::ZONEMD) else {
        return Ok(None);
    };
    check_records_with(zone, set.rdatas.iter(), known).map(Some)
}

/// As [`check`], for apex ZONEMD RDATA held apart from `zone` (an input's ZONEMD,
/// dropped from the zone before signing): the digest leaves the apex ZONEMD out, so
/// the zone without it digests the same.
pub fn check_records<'r>(
    zone: &Zone,
    rdatas: impl Iterator<Item = &'r [u8]>,
) -> Result<Checked, ZonemdError> {
    check_records_with(zone, rdatas, &Digests::default())
}

/// [`check_records`] with digests taken earlier.
fn check_records_with<'r>(
    zone: &Zone,
    rdatas: impl Iterator<Item = &'r [u8]>,
    known: &Digests,
) -> Result<Checked, ZonemdError> {
    let records: Vec<Zonemd> = rdatas.map(parse_rdata).collect::<Result<_, _>>()?;
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
    let hashes: Vec<HashAlg> = usable.iter().map(|&(h, _)| h).collect();
    let computed = known.completed(zone, &hashes);
    let digest_of = |h: HashAlg| computed.get(h).unwrap_or(&[]);
    if let Some(&(hash, _)) = usable.iter().find(|(h, z)| digest_of(*h) == z.digest) {
        return Ok(Checked { serial, hash });
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
/// (RFC 8976 §4).
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
fn orphan_sigs(orphans: &[(Name, u16, Sig)]) -> Vec<OrphanSig<'_>> {
    let mut sigs: Vec<OrphanSig<'_>> = orphans
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
        origin: &Name,
        name: &Name,
        sets: &'z [RRset],
        orphans: &[OrphanSig<'z>],
        out: &mut Canonical,
    ) {
        if !name.is_subdomain_of(origin) {
            return;
        }
        let apex = name == origin;
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
                State::Sha384(h) => h.finish().to_vec(),
                State::Sha512(h) => h.finish().to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::record::Record;
    use crate::dns::zonefile::parse_bytes;
    use std::path::Path;

    /// RFC 8976 Appendix A.1: the simple EXAMPLE zone.
    const A1: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 c68090d90a7aed71
                                 6bc459f9340e3d7c
                                 1370d4d24b7e2fc3
                                 a1ddc0b9a87153b9
                                 a9713b3c9ae5cc27
                                 777f98b8e730044c )
ns1           3600   IN  A       203.0.113.63
ns2           3600   IN  AAAA    2001:db8::63
"#;
    const A1_SHA384: &str = "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3\
                             a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c";

    /// RFC 8976 Appendix A.2: the complex EXAMPLE zone (occluded data, duplicates,
    /// out-of-zone data, uppercase names, a wildcard, a non-apex ZONEMD).
    const A2: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 a3b69bad980a3504
                                 e1cffcb0fd6397f9
                                 3848071c93151f55
                                 2ae2f6b1711d4bd2
                                 d8b39808226d7b9d
                                 b71e34b72077f8fe )
ns1           3600   IN  A       203.0.113.63
NS2           3600   IN  AAAA    2001:db8::63
occluded.sub  7200   IN  TXT     "I'm occluded but must be digested"
sub           7200   IN  NS      ns1
duplicate     300    IN  TXT     "I must be digested just once"
duplicate     300    IN  TXT     "I must be digested just once"
foo.test.     555    IN  TXT     "out-of-zone data must be excluded"
UPPERCASE     3600   IN  TXT     "canonicalize uppercase owner names"
*             777    IN  PTR     dont-forget-about-wildcards
mail          3600   IN  MX      20 MAIL1
mail          3600   IN  MX      10 Mail2.Example.
sortme        3600   IN  AAAA    2001:db8::5:61
sortme        3600   IN  AAAA    2001:db8::3:62
sortme        3600   IN  AAAA    2001:db8::4:63
sortme        3600   IN  AAAA    2001:db8::1:65
sortme        3600   IN  AAAA    2001:db8::2:64
non-apex      900    IN  ZONEMD  2018031900 1 1 (
                                 616c6c6f77656420
                                 6275742069676e6f
                                 7265642e20616c6c
                                 6f77656420627574
                                 2069676e6f726564
                                 2e20616c6c6f7765 )
"#;
    const A2_SHA384: &str = "a3b69bad980a3504e1cffcb0fd6397f93848071c93151f55\
                             2ae2f6b1711d4bd2d8b39808226d7b9db71e34b72077f8fe";

    /// RFC 8976 Appendix A.3: the EXAMPLE zone with multiple digests, two of them of
    /// a private-use algorithm (240) and an unassigned scheme (241).
    const A3: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
example.      86400  IN  NS      ns1.example.
example.      86400  IN  NS      ns2.example.
example.      86400  IN  ZONEMD  2018031900 1 1 (
                                 62e6cf51b02e54b9
                                 b5f967d547ce4313
                                 6792901f9f88e637
                                 493daaf401c92c27
                                 9dd10f0edb1c56f8
                                 080211f8480ee306 )
example.      86400  IN  ZONEMD  2018031900 1 2 (
                                 08cfa1115c7b948c
                                 4163a901270395ea
                                 226a930cd2cbcf2f
                                 a9a5e6eb85f37c8a
                                 4e114d884e66f176
                                 eab121cb02db7d65
                                 2e0cc4827e7a3204
                                 f166b47e5613fd27 )
example.      86400  IN  ZONEMD  2018031900 1 240 (
                                 e2d523f654b9422a
                                 96c5a8f44607bbee )
example.      86400  IN  ZONEMD  2018031900 241 1 (
                                 e1846540e33a9e41
                                 89792d18d5d131f6
                                 05fc283e )
ns1.example.  3600   IN  A       203.0.113.63
ns2.example.  86400  IN  TXT     "This example has multiple digests"
NS2.EXAMPLE.  3600   IN  AAAA    2001:db8::63
"#;
    const A3_SHA384: &str = "62e6cf51b02e54b9b5f967d547ce43136792901f9f88e637\
                             493daaf401c92c279dd10f0edb1c56f8080211f8480ee306";
    const A3_SHA512: &str = "08cfa1115c7b948c4163a901270395ea226a930cd2cbcf2f\
                             a9a5e6eb85f37c8a4e114d884e66f176eab121cb02db7d65\
                             2e0cc4827e7a3204f166b47e5613fd27";

    /// RFC 8976 Appendix A.4: the uri.arpa zone as signed in 2021 (RRSIGs of several
    /// TTLs at the apex, NSEC, two DNSKEY signatures, a signed apex ZONEMD).
    const A4: &str = r#"
uri.arpa.       3600 IN SOA sns.dns.icann.org. noc.dns.icann.org. 2018100702 10800 3600 1209600 3600
uri.arpa.       3600 IN RRSIG SOA 8 2 3600 20210217232440 20210120232440 37444 uri.arpa. GzQw+QzwLDJr13REPGVmpEChjD1D2XlX0ie1DnWHpgaEw1E/dhs3lCN3 +BmHd4Kx3tffTRgiyq65HxR6feQ5v7VmAifjyXUYB1DZur1eP5q0Ms2y gCB3byoeMgCNsFS1oKZ2LdzNBRpy3oace8xQn1SpmHGfyrsgg+WbHKCT 1dY=
uri.arpa.       86400 IN NS a.iana-servers.net.
uri.arpa.       86400 IN NS b.iana-servers.net.
uri.arpa.       86400 IN NS c.iana-servers.net.
uri.arpa.       86400 IN NS ns2.lacnic.net.
uri.arpa.       86400 IN NS sec3.apnic.net.
uri.arpa.       86400 IN RRSIG NS 8 2 86400 20210217232440 20210120232440 37444 uri.arpa. M+Iei2lcewWGaMtkPlrhM9FpUAHXFkCHTVpeyrjxjEONeNgKtHZor5e4 V4qJBOzNqo8go/qJpWlFBm+T5Hn3asaBZVstFIYky38/C8UeRLPKq1hT THARYUlFrexr5fMtSUAVOgOQPSBfH3xBq/BgSccTdRb9clD+HE7djpqr LS4=
uri.arpa.       600 IN MX 10 pechora.icann.org.
uri.arpa.       600 IN RRSIG MX 8 2 600 20210217232440 20210120232440 37444 uri.arpa. kQAJQivmv6A5hqYBK8h6Z13ESY69gmosXwKI6WE09I8RFetfrxr24ecd nYd0lpnDtgNNSoHkYRSOoB+C4+zuJsoyAAzGo9uoWMWj97/2xeGhf3PT C9meQ9Ohi6hul9By7OR76XYmGhdWX8PBi60RUmZ1guslFBfQ8izwPqzu phs=
uri.arpa.       3600 IN NSEC ftp.uri.arpa. NS SOA MX RRSIG NSEC DNSKEY ZONEMD
uri.arpa.       3600 IN RRSIG NSEC 8 2 3600 20210217232440 20210120232440 37444 uri.arpa. dU/rXLM/naWd1+1PiWiYVaNJyCkiuyZJSccr91pJI673T8r3685B4ODM YFafZRboVgwnl3ZrXddY6xOhZL3n9V9nxXZwjLJ2HJUojFoKcXTlpnUy YUYvVQ2kj4GHAo6fcGCEp5QFJ2KbCpeJoS+PhKGRRx28icCiNT4/uXQv O2E=
uri.arpa.       3600 IN DNSKEY 256 3 8 AwEAAbMxuFuLeVDuOwIMzYOTD/bTREjLflo7wOi6ieIJhqltEzgjNzmW Jf9kGwwDmzxU7kbthMEhBNBZNn84zmcyRSCMzuStWveL7xmqqUlE3swL 8kLOvdZvc75XnmpHrk3ndTyEb6eZM7slh2C63Oh6K8VR5VkiZAkEGg0u ZIT3NjsF
uri.arpa.       3600 IN DNSKEY 257 3 8 AwEAAdkTaWkZtZuRh7/OobBUFxM+ytTst+bCu0r9w+rEwXD7GbDs0pIM hMenrZzoAvmv1fQxw2MGs6Ri6yPKfNULcFOSt9l8i6BVBLI+SKTY6XXe DUQpSEmSaxohHeRPMQFzpysfjxINp/L2rGtZ7yPmxY/XRiFPSO0myqwG Ja9r06Zw9CHM5UDHKWV/E+zxPFq/I7CfPbrrzbUotBX7Z6Vh3Sarllbe 8cGUB2UFNaTRgwB0TwDBPRD5ER3w2Dzbry9NhbElTr7vVfhaGWeOGuqA UXwlXEg6CrNkmJXJ2F1Rzr9WHUzhp7uWxhAbmJREGfi2dEyPAbUAyCjB qhFaqglknvc=
uri.arpa.       3600 IN DNSKEY 257 3 8 AwEAAenQaBoFmDmvRT+/H5oNbm0Tr5FmNRNDEun0Jpj/ELkzeUrTWhNp QmZeIMC8I0kZ185tEvOnRvn8OvV39B17QIdrvvKGIh2HlgeDRCLolhao jfn2QM0DStjF/WWHpxJOmE6CIuvhqYEU37yoJscGAPpPVPzNvnL1HhYT aao1VRYWQ/maMrJ+bfHg+YX1N6M/8MnRjIKBif1FWjbCKvsn6dnuGGL9 oCWYUFJ3DwofXuhgPyZMkzPc88YkJj5EMvbMH4wtelbCwC+ivx732l0w /rXJn0ciQSOgoeVvDio8dIJmWQITWQAuP+q/ZHFEFHPlrP3gvQh5mcVS 48eLX71Bq7c=
uri.arpa.       3600 IN RRSIG DNSKEY 8 2 3600 20210217232440 20210120232440 12670 uri.arpa. DBE2gkKAoxJCfz47KKxzoImN/0AKArhIVHE7TyTwy0DdRPo44V5R+vL6 thUxlQ1CJi2Rw0jwAXymx5Y3Q873pOEllH+4bJoIT4dmoBmPXfYWW7Cl vw9UPKHRP0igKHmCVwIeBYDTU3gfLcMTbR4nEWPDN0GxlL1Mf7ITaC2I oabo79Ip3M/MR8I3Vx/xZ4ZKKPHtLn3xUuJluPNanqJrED2gTslL2xWZ 1tqjsAjJv7JnJo2HJ8XVRB5zBto0IaJ2oBlqcjdcQ/0VlyoM8uOy1pDw HQ2BJl7322gNMHBP9HSiUPIOaIDNUCwW8eUcW6DIUk+s9u3GN1uTqwWz sYB/rA==
uri.arpa.       3600 IN RRSIG DNSKEY 8 2 3600 20210217232440 20210120232440 30577 uri.arpa. Kx6HwP4UlkGc1UZ7SERXtQjPajOF4iUvkwDj7MEG1xbQFB1KoJiEb/ei W0qmSWdIhMDv8myhgauejRLyJxwxz8HDRV4xOeHWnRGfWBk4XGYwkejV zOHzoIArVdUVRbr2JKigcTOoyFN+uu52cNB7hRYu7dH5y1hlc6UbOnzR pMtGxcgVyKQ+/ARbIqGG3pegdEOvV49wTPWEiyY65P2urqhvnRg5ok/j zwAdMx4XGshiib7Ojq0sRVl2ZIzj4rFgY/qsSO8SEXEhMo2VuSkoJNio fVzYoqpxEeGnANkIT7Tx2xJL1BWyJxyc7E8Wr2QSgCcc+rYL6IkHDtJG Hy7TaQ==
uri.arpa.       3600 IN ZONEMD 2018100702 1 1 0DBC3C4DBFD75777C12CA19C337854B1577799901307C482E9D91D5D 15CD934D16319D98E30C4201CF25A1D5A0254960
uri.arpa.       3600 IN RRSIG ZONEMD 8 2 3600 20210217232440 20210120232440 37444 uri.arpa. QDo4XZcL3HMyn8aAHyCUsu/Tqj4Gkth8xY1EqByOb8XOTwVtA4ZNQORE 1siqNqjtJUbeJPtJSbLNqCL7rCq0CzNNnBscv6IIf4gnqJZjlGtHO30o hXtKvEc4z7SU3IASsi6bB3nLmEAyERdYSeU6UBfx8vatQDIRhkgEnnWU Th4=
ftp.uri.arpa.   604800 IN NAPTR 0 0 "" "" "!^ftp://([^:/?#]*).*$!\\1!i" .
ftp.uri.arpa.   604800 IN RRSIG NAPTR 8 3 604800 20210217232440 20210120232440 37444 uri.arpa. EygekDgl+Lyyq4NMSEpPyOrOywYf9Y3FAB4v1DT44J3R5QGidaH8l7ZF jHoYFI8sY64iYOCV4sBnX/dh6C1L5NgpY+8l5065Xu3vvjyzbtuJ2k6Y YwJrrCbvl5DDn53zAhhO2hL9uLgyLraZGi9i7TFGd0sm3zNyUF/EVL0C cxU=
ftp.uri.arpa.   3600 IN NSEC http.uri.arpa. NAPTR RRSIG NSEC
ftp.uri.arpa.   3600 IN RRSIG NSEC 8 3 3600 20210217232440 20210120232440 37444 uri.arpa. pbP4KxevPXCu/bDqcvXiuBppXyFEmtHyiy0eAN5gS7mi6mp9Z9bWFjx/ LdH9+6oFGYa5vGmJ5itu/4EDMe8iQeZbI8yrpM4TquB7RR/MGfBnTd8S +sjyQtlRYG7yqEu77Vd78Fme22BKPJ+MVqjS0JHMUE/YUGomPkAjLJJw wGw=
http.uri.arpa.  604800 IN NAPTR 0 0 "" "" "!^http://([^:/?#]*).*$!\\1!i" .
http.uri.arpa.  604800 IN RRSIG NAPTR 8 3 604800 20210217232440 20210120232440 37444 uri.arpa. eTqbWvt1GvTeXozuvm4ebaAfkXFQKrtdu0cEiExto80sHIiCbO0WL8UD a/J3cDivtQca7LgUbOb6c17NESsrsVkc6zNPx5RK2tG7ZQYmhYmtqtfg 1oU5BRdHZ5TyqIXcHlw9Blo2pir1Y9IQgshhD7UOGkbkEmvB1Lrd0aHh AAg=
http.uri.arpa.  3600 IN NSEC mailto.uri.arpa. NAPTR RRSIG NSEC
http.uri.arpa.  3600 IN RRSIG NSEC 8 3 3600 20210217232440 20210120232440 37444 uri.arpa. R9rlNzw1CVz2N08q6DhULzcsuUm0UKcPaGAWEU40tr81jEDHsFHNM+kh CdOI8nDstzA42aee4rwCEgijxJpRCcY9hrO1Ysrrr2fdqNz60JikMdar vU5O0p0VXeaaJDfJQT44+o+YXaBwI7Qod3FTMx7aRib8i7istvPm1Rr7 ixA=
mailto.uri.arpa. 604800 IN NAPTR 0 0 "" "" "!^mailto:(.*)@(.*)$!\\2!i" .
mailto.uri.arpa. 604800 IN RRSIG NAPTR 8 3 604800 20210217232440 20210120232440 37444 uri.arpa. Ch2zTG2F1plEvQPyIH4Yd80XXLjXOPvMbiqDjpJBcnCJsV8QF7kr0wTL nUT3dB+asQudOjPyzaHGwFlMzmrrAsszN4XAMJ6htDtFJdsgTMP/NkHh YRSmVv6rLeAhd+mVfObY12M//b/GGVTjeUI/gJaLW0fLVZxr1Fp5U5CR jyw=
mailto.uri.arpa. 3600 IN NSEC urn.uri.arpa. NAPTR RRSIG NSEC
mailto.uri.arpa. 3600 IN RRSIG NSEC 8 3 3600 20210217232440 20210120232440 37444 uri.arpa. fQUbSIE6E7JDi2rosah4SpCOTrKufeszFyj5YEavbQuYlQ5cNFvtm8Ku E2xXMRgRI4RGvM2leVqcoDw5hS3m2pOJLxH8l2WE72YjYvWhvnwc5Rof e/8yB/vaSK9WCnqN8y2q6Vmy73AGP0fuiwmuBra7LlkOiqmyx3amSFiz wms=
urn.uri.arpa.   604800 IN NAPTR 0 0 "" "" "/urn:([^:]+)/\\1/i" .
urn.uri.arpa.   604800 IN RRSIG NAPTR 8 3 604800 20210217232440 20210120232440 37444 uri.arpa. CVt2Tgz0e5ZmaSXqRfNys/8OtVCk9nfP0zhezhN8Bo6MDt6yyKZ2kEEW JPjkN7PCYHjO8fGjnUn0AHZI2qBNv7PKHcpR42VY03q927q85a65weOO 1YE0vPYMzACpua9TOtfNnynM2Ws0uN9URxUyvYkXBdqOC81N3sx1dVEL cwc=
urn.uri.arpa.   3600 IN NSEC uri.arpa. NAPTR RRSIG NSEC
urn.uri.arpa.   3600 IN RRSIG NSEC 8 3 3600 20210217232440 20210120232440 37444 uri.arpa. JuKkMiC3/j9iM3V8/izcouXWAVGnSZjkOgEgFPhutMqoylQNRcSkbEZQ zFK8B/PIVdzZF0Y5xkO6zaKQjOzz6OkSaNPIo1a7Vyyl3wDY/uLCRRAH RJfpknuY7O+AUNXvVVIEYJqZggd4kl/Rjh1GTzPYZTRrVi5eQidI1LqC Oeg=
"#;
    const A4_SHA384: &str = "0dbc3c4dbfd75777c12ca19c337854b1577799901307c482e9d91d5d\
                             15cd934d16319d98e30c4201cf25a1d5a0254960";

    fn name(text: &str) -> Name {
        Name::parse(text.as_bytes(), None).unwrap()
    }

    fn unhex(text: &str) -> Vec<u8> {
        let clean: String = text.split_whitespace().collect();
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(clean.as_bytes())
            .unwrap()
    }

    fn records(text: &str, origin: &str) -> Vec<Record> {
        parse_bytes(text.as_bytes(), Path::new("rfc8976.zone"), &name(origin))
            .unwrap()
            .records
    }

    fn zone_of(records: Vec<Record>, origin: &str) -> Zone {
        Zone::from_records(name(origin), records).0
    }

    fn zone(text: &str, origin: &str) -> Zone {
        zone_of(records(text, origin), origin)
    }

    #[test]
    fn rfc8976_a1_simple_zone() {
        let z = zone(A1, "example.");
        assert_eq!(digest(&z, HashAlg::Sha384), unhex(A1_SHA384));
        let ok = Checked {
            serial: 2018031900,
            hash: HashAlg::Sha384,
        };
        assert_eq!(check(&z), Ok(Some(ok)));
    }

    #[test]
    fn rfc8976_a2_complex_zone() {
        let z = zone(A2, "example.");
        assert_eq!(digest(&z, HashAlg::Sha384), unhex(A2_SHA384));
        assert!(check(&z).unwrap().is_some());
    }

    #[test]
    fn rfc8976_a3_multiple_digests() {
        let z = zone(A3, "example.");
        let both = digests(&z, &[HashAlg::Sha512, HashAlg::Sha384]);
        assert_eq!(both, vec![unhex(A3_SHA512), unhex(A3_SHA384)]);
        assert_eq!(digest(&z, HashAlg::Sha512), unhex(A3_SHA512));
        let apex = z.get(&z.origin, rtype::ZONEMD).unwrap();
        let fields: Vec<(u8, u8, Option<HashAlg>)> = apex
            .rdatas
            .iter()
            .map(|r| parse_rdata(r).unwrap())
            .map(|m| (m.scheme, m.hash_alg, m.supported()))
            .collect();
        assert_eq!(
            fields,
            [
                (1, 1, Some(HashAlg::Sha384)),
                (1, 2, Some(HashAlg::Sha512)),
                (1, 240, None),
                (241, 1, None),
            ]
        );
        assert_eq!(check(&z).unwrap().map(|c| c.hash), Some(HashAlg::Sha384));
    }

    #[test]
    fn rfc8976_a4_uri_arpa_signed_zone() {
        let z = zone(A4, "uri.arpa.");
        assert_eq!(digest(&z, HashAlg::Sha384), unhex(A4_SHA384));
        let ok = Checked {
            serial: 2018100702,
            hash: HashAlg::Sha384,
        };
        assert_eq!(check(&z), Ok(Some(ok)));
    }

    /// Whether RFC 8976 §3.3.1.1 leaves a record out: outside the zone, the apex
    /// ZONEMD, or an RRSIG covering the apex ZONEMD.
    fn excluded(r: &Record, origin: &Name) -> bool {
        let apex = r.owner == *origin;
        !r.owner.is_subdomain_of(origin)
            || (apex && r.rtype == rtype::ZONEMD)
            || (apex && r.rtype == rtype::RRSIG && covered_type(&r.rdata) == Some(rtype::ZONEMD))
    }

    /// Every record counts: one flipped RDATA octet or a lowered TTL in any record
    /// changes the digest (signatures, NSEC, DNSKEY, glue, occluded data and the
    /// non-apex ZONEMD included), except in the records RFC 8976 leaves out.
    #[test]
    fn every_record_but_the_excluded_changes_the_digest() {
        for (text, origin) in [(A2, "example."), (A4, "uri.arpa.")] {
            let base = records(text, origin);
            let o = name(origin);
            let want = digest(&zone_of(base.clone(), origin), HashAlg::Sha384);
            for k in 0..base.len() {
                let what = format!("{} {} (record {k})", base[k].owner, base[k].rtype);
                let mut flipped = base.clone();
                let last = flipped[k].rdata.len() - 1;
                flipped[k].rdata[last] ^= 1;
                let got = digest(&zone_of(flipped, origin), HashAlg::Sha384);
                assert_eq!(got == want, excluded(&base[k], &o), "flipped octet: {what}");
                let mut lowered = base.clone();
                lowered[k].ttl -= 1;
                let got = digest(&zone_of(lowered, origin), HashAlg::Sha384);
                assert_eq!(got == want, excluded(&base[k], &o), "lowered TTL: {what}");
            }
        }
    }

    /// A changed record is refused with the digest found and the one computed.
    #[test]
    fn check_refuses_a_tampered_zone() {
        let tampered = A1.replace("203.0.113.63", "203.0.113.64");
        let z = zone(&tampered, "example.");
        let computed = digest(&z, HashAlg::Sha384);
        assert_ne!(computed, unhex(A1_SHA384));
        assert_eq!(
            check(&z),
            Err(ZonemdError::Mismatch {
                serial: 2018031900,
                hash: HashAlg::Sha384,
                found: unhex(A1_SHA384),
                computed,
            })
        );
        let msg = check(&z).unwrap_err().to_string();
        assert!(
            msg.contains("c68090d90a7aed71") && msg.contains("SHA-384"),
            "{msg}"
        );
    }

    /// One good record of several is enough (RFC 8976 §4): with the SHA-384 digest
    /// spoilt, the SHA-512 one still verifies A.3; with both spoilt it is refused,
    /// naming the first.
    #[test]
    fn check_needs_one_matching_supported_record() {
        let bad384 = A3.replace("62e6cf51b02e54b9", "62e6cf51b02e54ba");
        let z = zone(&bad384, "example.");
        assert_eq!(check(&z).unwrap().map(|c| c.hash), Some(HashAlg::Sha512));
        let both = bad384.replace("08cfa1115c7b948c", "08cfa1115c7b948d");
        let err = check(&zone(&both, "example.")).unwrap_err();
        assert!(
            matches!(
                err,
                ZonemdError::Mismatch {
                    hash: HashAlg::Sha384,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// A ZONEMD of another serial is stale: refused, with both serials.
    #[test]
    fn check_refuses_a_stale_serial() {
        let mut z = zone(A1, "example.");
        crate::dnssec::resign::set_serial(&mut z, 2018031901);
        assert_eq!(
            check(&z),
            Err(ZonemdError::SerialMismatch {
                soa: 2018031901,
                zonemd: vec![2018031900],
            })
        );
    }

    const APEX: &str = "$ORIGIN example.\n$TTL 3600\n@ SOA ns1 admin 2018031900 1800 900 604800 86400\n@ NS ns1\nns1 A 203.0.113.63\n";

    /// Two apex records with one (scheme, algorithm), records that cannot be
    /// computed, malformed RDATA and a missing SOA are each refused with their error;
    /// a zone without ZONEMD has nothing to check.
    #[test]
    fn check_refuses_each_unusable_zonemd_rrset() {
        let with = |extra: &str| zone(&format!("{APEX}{extra}"), "example.");
        let zeros = "00".repeat(48);
        let dup = format!("@ ZONEMD 2018031900 1 1 {A1_SHA384}\n@ ZONEMD 2018031900 1 1 {zeros}\n");
        assert_eq!(
            check(&with(&dup)),
            Err(ZonemdError::Duplicate {
                scheme: 1,
                hash_alg: 1
            })
        );
        let unsupported = "@ ZONEMD 2018031900 1 240 e2d523f654b9422a96c5a8f44607bbee\n\
                           @ ZONEMD 2018031900 241 1 e1846540e33a9e4189792d18d5d131f605fc283e\n\
                           @ ZONEMD 2018031800 1 1 00112233445566778899aabbccddeeff\n";
        assert_eq!(
            check(&with(unsupported)),
            Err(ZonemdError::Unsupported {
                serial: 2018031900,
                found: vec![(1, 240), (241, 1)],
            })
        );
        assert_eq!(
            check(&with("@ ZONEMD 2018031900 1 1 00112233445566778899aa\n")),
            Err(ZonemdError::TooShort { len: 17 })
        );
        assert_eq!(check(&with("")), Ok(None));
        let mut no_soa = with(&format!("@ ZONEMD 2018031900 1 1 {zeros}\n"));
        no_soa.rrsets.retain(|s| s.rtype != rtype::SOA);
        assert_eq!(check(&no_soa), Err(ZonemdError::NoSoa));
    }

    #[test]
    fn rdata_round_trips_and_short_rdata_is_refused() {
        let digest = unhex(A1_SHA384);
        let r = rdata(2018031900, HashAlg::Sha384, &digest);
        assert_eq!(&r[..6], &[0x78, 0x48, 0xb9, 0x1c, 1, 1]);
        let z = parse_rdata(&r).unwrap();
        assert_eq!(
            (z.serial, z.supported(), z.digest),
            (2018031900, Some(HashAlg::Sha384), digest)
        );
        assert_eq!(
            parse_rdata(&r[..17]),
            Err(ZonemdError::TooShort { len: 17 })
        );
        assert_eq!(parse_rdata(&[]), Err(ZonemdError::TooShort { len: 0 }));
        assert!(parse_rdata(&r[..18]).is_ok());
        for h in [HashAlg::Sha384, HashAlg::Sha512] {
            assert_eq!(HashAlg::from_code(h.code()), Some(h));
        }
        assert_eq!(HashAlg::from_code(0), None);
    }

    /// `make` gives the apex RRset to publish: one record per distinct algorithm,
    /// in canonical order, the digest unchanged by whatever ZONEMD the zone held
    /// (none, the RFC's, a placeholder of zeros), and accepted by `check`.
    #[test]
    fn make_builds_the_apex_rrset_check_accepts() {
        let rfc = zone(A2, "example.");
        let mut bare = rfc.clone();
        bare.rrsets
            .retain(|s| !(s.owner == bare.origin && s.rtype == rtype::ZONEMD));
        let made = make(&bare, &[HashAlg::Sha512, HashAlg::Sha384, HashAlg::Sha512]).unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(
            &made[0],
            &rdata(2018031900, HashAlg::Sha384, &unhex(A2_SHA384))[..]
        );
        assert_eq!(
            make(&rfc, &[HashAlg::Sha384, HashAlg::Sha512]).unwrap(),
            made
        );
        let mut placeholder = rfc.clone();
        let zeros = rdata(2018031900, HashAlg::Sha384, &[0; 48]);
        let at = placeholder
            .find(&placeholder.origin, rtype::ZONEMD)
            .unwrap();
        placeholder.rrsets[at].rdatas = Rdatas::one(&zeros);
        assert_eq!(
            make(&placeholder, &[HashAlg::Sha384, HashAlg::Sha512]).unwrap(),
            made
        );
        assert!(matches!(
            check(&placeholder),
            Err(ZonemdError::Mismatch { .. })
        ));
        placeholder.rrsets[at].rdatas = made;
        assert_eq!(
            check(&placeholder).unwrap().map(|c| c.serial),
            Some(2018031900)
        );
    }

    /// The digest the plain way, sharing nothing with the walk above: every record on
    /// its own in canonical form, sorted by owner, type and RDATA, duplicates dropped,
    /// hashed in one piece. A set's TTL is its lowest (as [`Zone`] keeps it); an
    /// RRSIG keeps its own.
    fn reference(origin: &Name, records: &[Record]) -> Vec<u8> {
        let mut lowest: std::collections::HashMap<(Name, u16), u32> = Default::default();
        for r in records {
            let ttl = lowest.entry((r.owner.clone(), r.rtype)).or_insert(r.ttl);
            *ttl = (*ttl).min(r.ttl);
        }
        let mut rrs: Vec<&Record> = records.iter().filter(|r| !excluded(r, origin)).collect();
        let ttl = |r: &Record| match r.rtype {
            rtype::RRSIG => r.ttl,
            t => lowest[&(r.owner.clone(), t)],
        };
        rrs.sort_by(|a, b| {
            (a.owner.cmp(&b.owner))
                .then(a.rtype.cmp(&b.rtype))
                .then_with(|| a.rdata.cmp(&b.rdata))
                .then(ttl(a).cmp(&ttl(b)))
        });
        rrs.dedup_by(|b, a| a.owner == b.owner && a.rtype == b.rtype && a.rdata == b.rdata);
        let mut all = Vec::new();
        for r in rrs {
            r.owner.write_canonical(&mut all);
            all.extend_from_slice(&r.rtype.to_be_bytes());
            all.extend_from_slice(&1u16.to_be_bytes());
            all.extend_from_slice(&ttl(r).to_be_bytes());
            all.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
            all.extend_from_slice(&r.rdata);
        }
        openssl::sha::sha384(&all).to_vec()
    }

    /// Random zones agree with the plain computation: signatures at names with and
    /// without other data, covering types that exist and types that do not (orphans),
    /// of several TTLs, duplicated; RRSIG placed among types below and above 46;
    /// apex and non-apex ZONEMD with their signatures; names in any case, wildcards,
    /// names outside the zone; RDATA duplicated and in any order.
    #[test]
    fn random_zones_agree_with_the_plain_computation() {
        let mut next = crate::dns::name::test_rng(0x5a0e_3d8f_2c41_9b07);
        let owners = [
            "example.",
            "a.example.",
            "B.example.",
            "*.b.example.",
            "x.a.example.",
            "\\000.example.",
            "z.example.",
            "example.org.",
            "org.",
        ];
        let types = [
            rtype::A,
            rtype::NS,
            rtype::SOA,
            rtype::MX,
            rtype::TXT,
            rtype::DS,
            rtype::NSEC,
            rtype::DNSKEY,
            rtype::ZONEMD,
            rtype::RRSIG,
            rtype::RRSIG,
            rtype::RRSIG,
            65280,
        ];
        let origin = name("example.");
        for round in 0..300 {
            let mut records = Vec::new();
            for line in 0..(1 + next() % 60) as u32 {
                let owner = name(owners[(next() % owners.len() as u64) as usize]);
                let rtype = types[(next() % types.len() as u64) as usize];
                let mut rdata: Vec<u8> = (0..next() % 4).map(|_| (next() % 3) as u8).collect();
                if rtype == rtype::RRSIG {
                    let covered = types[(next() % types.len() as u64) as usize];
                    rdata.splice(0..0, covered.to_be_bytes());
                }
                records.push(Record {
                    owner,
                    rtype,
                    class: CLASS_IN,
                    ttl: [60, 300, 3600][(next() % 3) as usize],
                    rdata: rdata.into(),
                    loc: crate::dns::record::SourceLoc { file: 0, line },
                });
            }
            let want = reference(&origin, &records);
            let z = Zone::from_records(origin.clone(), records.clone()).0;
            assert_eq!(
                digest(&z, HashAlg::Sha384),
                want,
                "round {round}: {records:#?}"
            );
        }
    }

    /// Runs a program of the ldns tools in `dir`, returning its standard output.
    fn ldns(dir: &Path, program: &str, args: &[&str]) -> String {
        let out = std::process::Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("{program} (ldns-utils) must be installed: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A zone with what the digest must get right beyond the RFC examples: glue and
    /// data occluded below a delegation and below a DNAME, DS, a wildcard, escaped and
    /// uppercase owners, duplicates, names in RDATA in mixed case, a non-apex ZONEMD.
    const CROSS: &str = r#"$ORIGIN example.
$TTL 3600
@           SOA ns1 hostmaster 2024061501 7200 3600 1209600 300
@           NS  ns1
@           NS  ns.Other.TEST.
@     600   MX  10 Mail.example.
@           TXT "apex" "two strings"
ns1         A   192.0.2.1
ns1         AAAA 2001:db8::1
sub         NS  ns.sub
sub         NS  ns1
sub   86400 DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub      A   192.0.2.2
deep.ns.sub TXT "occluded below a cut"
*.wild      TXT "wildcard"
UPPER       A   192.0.2.3
UPPER       A   192.0.2.3
dn          DNAME target.test.
x.dn        A   192.0.2.4
a\046b      TXT "a dot in a label"
\000        TXT "a zero octet"
ent.deeper.leaf TXT "empty non-terminals above"
other       ZONEMD 2024061501 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677
"#;

    /// Checks a zone ldns-signzone wrote: `check` accepts it, and both digests ldns
    /// put at the apex are ours.
    fn accepts_ldns_output(path: &Path) {
        let text = std::fs::read(path).unwrap();
        let origin = name("example.");
        let parsed = parse_bytes(&text, path, &origin).unwrap();
        let z = Zone::from_records(origin, parsed.records).0;
        let set = z
            .get(&z.origin, rtype::ZONEMD)
            .expect("ldns wrote no ZONEMD");
        let theirs: Vec<Zonemd> = set.rdatas.iter().map(|r| parse_rdata(r).unwrap()).collect();
        assert_eq!(theirs.len(), 2);
        for m in theirs {
            let hash = m.supported().unwrap();
            assert_eq!(digest(&z, hash), m.digest, "{hash} of {}", path.display());
        }
        assert_eq!(
            check(&z).unwrap(),
            Some(Checked {
                serial: 2024061501,
                hash: HashAlg::Sha384,
            })
        );
    }

    /// An independent implementation agrees: ldns-signzone (ldns 1.8.3) digests the
    /// same zone unsigned (`-Z`), signed with a KSK and a ZSK (NSEC, DNSKEY, RRSIGs of
    /// several TTLs, a signed apex ZONEMD), and signed with an opt-out NSEC3 chain
    /// (NSEC3PARAM, hashed owners), SHA-384 and SHA-512.
    #[test]
    fn ldns_signzone_digests_agree() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("example.zone"), CROSS).unwrap();
        let zonemd = ["-z", "1:1", "-z", "1:2", "-o", "example."];
        let mut args = vec!["-Z", "-f", "unsigned.zone"];
        args.extend(zonemd);
        args.push("example.zone");
        ldns(d, "ldns-signzone", &args);
        accepts_ldns_output(&d.join("unsigned.zone"));

        let ksk = ldns(
            d,
            "ldns-keygen",
            &["-k", "-a", "ECDSAP256SHA256", "example."],
        );
        let zsk = ldns(d, "ldns-keygen", &["-a", "ECDSAP256SHA256", "example."]);
        let mut args = vec!["-f", "signed.zone"];
        args.extend(zonemd);
        args.extend(["example.zone", ksk.trim(), zsk.trim()]);
        ldns(d, "ldns-signzone", &args);
        let signed = std::fs::read_to_string(d.join("signed.zone")).unwrap();
        assert!(
            signed.contains("RRSIG\tZONEMD") && signed.contains("NSEC"),
            "{signed}"
        );
        accepts_ldns_output(&d.join("signed.zone"));

        let mut args = vec!["-n", "-t", "0", "-s", "aabbccdd", "-p", "-f", "nsec3.zone"];
        args.extend(zonemd);
        args.extend(["example.zone", ksk.trim(), zsk.trim()]);
        ldns(d, "ldns-signzone", &args);
        let nsec3 = std::fs::read_to_string(d.join("nsec3.zone")).unwrap();
        assert!(
            nsec3.contains("NSEC3PARAM") && nsec3.contains("\tNSEC3\t"),
            "{nsec3}"
        );
        accepts_ldns_output(&d.join("nsec3.zone"));
    }
}
