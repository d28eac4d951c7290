//! The gate's check of NSEC3 chains (RFC 5155), for zones of any signer (issue 24).
//!
//! Like the rest of the verifier it reads the zone from the records alone: which names
//! must be hashed comes from [`super::names`] (the gate's own classification), never
//! from the signer's [`crate::zone::nsec3`] chain builder. Only the hash function itself,
//! [`hash_name`], is shared: it is a pure primitive fixed by RFC 5155 §5 and checked
//! against the RFC's Appendix A vectors, so a second copy would test nothing more, while
//! every decision about *which* names, *which* bitmap and *which* spans is made here.
//!
//! What a chain must be, per chain parameters (hash algorithm, iterations, salt):
//! - every NSEC3 owner is one base32hex hash label below the apex;
//! - the hashed names are the apex, every authoritative name, every delegation and every
//!   empty non-terminal above them (RFC 5155 §7.1); a delegation without DS (and an
//!   empty non-terminal leading only to such delegations) may be left out only where
//!   the NSEC3 covering its hash has the opt-out flag (§6);
//! - no NSEC3 matches a name that is not in the zone; the records, in hash order, each
//!   point at the next and the last at the first (closure);
//! - bitmaps list the types at the original name (at a delegation NS and DS only),
//!   RRSIG where something there is signed, nothing at an empty non-terminal;
//! - TTLs as NSEC's (RFC 5155 §3, RFC 9077).
//!
//! Which chains must be complete: each one an apex NSEC3PARAM (flags 0, SHA-1) names.
//! NSEC3 records with other parameters are allowed (a chain being built or torn down
//! during a parameter change, RFC 5155 §10.4) and only their signatures are checked.
//! A zone with NSEC3 records, no NSEC3PARAM and no NSEC chain gets every chain checked
//! and a `nsec3param` problem: an authoritative server cannot tell which one to use.
//! The per-record and per-name checks run on all cores, a block at a time.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::names::{GateName, Kind};
use super::{NAMES_PER_BLOCK, Report};
use crate::dns::name::Name;
use crate::dns::rdata::{decode_type_bitmap, type_name};
use crate::dns::record::rtype;
use crate::zone::{RRset, Zone};
// The RFC 5155 §5 hash, shared as a primitive (see the module doc).
use crate::zone::nsec3::hash_name;

/// Octets of a SHA-1 hash: the only NSEC3 hash algorithm (RFC 5155 §11).
const SHA1_LEN: usize = 20;

/// The SHA-1 hash algorithm number.
const SHA1: u8 = 1;

/// Opt-out flag bit of NSEC3 (RFC 5155 §3.1.2.1).
const OPT_OUT: u8 = 0x01;

/// The parameters that name a chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ChainId {
    algorithm: u8,
    iterations: u16,
    salt: Box<[u8]>,
}

impl ChainId {
    fn describe(&self) -> String {
        let salt = if self.salt.is_empty() {
            "-".to_string()
        } else {
            data_encoding::HEXUPPER.encode(&self.salt)
        };
        format!(
            "the chain with algorithm {}, {} iterations, salt {salt}",
            self.algorithm, self.iterations
        )
    }
}

/// One NSEC3 record of the zone, parsed. Kept small (36 octets): a TLD has a million
/// of them, and the next hash is read from the RDATA where it is compared (the bitmap
/// beside it is read there anyway). Indices fit 32 bits: a zone of 2^32 RRsets would
/// need 300 GB of [`Zone`].
struct Rec {
    /// The hash its owner label spells.
    hash: [u8; SHA1_LEN],
    /// Index of its RRset in [`Zone::rrsets`].
    set: u32,
    /// Which RDATA of the RRset.
    nth: u32,
    /// Index of its chain's parameters.
    chain: u32,
    /// Offset of the type bitmap in the RDATA (RDATA is at most 65535 octets); the
    /// next hash is the [`SHA1_LEN`] octets before it.
    bits_at: u16,
    flags: u8,
}

impl Rec {
    fn rrset<'z>(&self, zone: &'z Zone) -> &'z RRset {
        &zone.rrsets[self.set as usize]
    }

    fn owner<'z>(&self, zone: &'z Zone) -> &'z Name {
        &self.rrset(zone).owner
    }

    /// The RDATA's next hashed owner and type bitmap.
    fn next_and_bits<'z>(&self, zone: &'z Zone) -> Option<(&'z [u8], &'z [u8])> {
        let rdata = self.rrset(zone).rdatas.iter().nth(self.nth as usize)?;
        let at = usize::from(self.bits_at);
        Some((rdata.get(at - SHA1_LEN..at)?, rdata.get(at..)?))
    }
}

/// The names every complete chain hashes: the data names among the gate's name groups,
/// by the gate's own reading, and the empty non-terminals above them (which the zone
/// has no records for). Wanted name `i` is group `i` when `i < groups.len()` (only
/// groups [`is_wanted`] are ever named), else empty non-terminal `i - groups.len()`:
/// no list of a million entries is made for what the groups already say.
struct Wanted<'z> {
    zone: &'z Zone,
    groups: &'z [GateName],
    /// Empty non-terminals and whether a required name lies below each.
    ents: Vec<(Name, bool)>,
}

/// Whether a name group is hashed into every complete chain, and if so whether it is
/// required (a delegation without DS may be left out under opt-out, RFC 5155 §6).
fn is_wanted(zone: &Zone, group: &GateName) -> Option<bool> {
    match group.kind {
        Kind::Apex | Kind::Authoritative => Some(true),
        Kind::Delegation => Some(
            zone.rrsets[group.range.clone()]
                .iter()
                .any(|s| s.rtype == rtype::DS),
        ),
        _ => None,
    }
}

impl<'z> Wanted<'z> {
    fn name(&self, i: usize) -> &Name {
        match self.groups.get(i) {
            Some(g) => &self.zone.rrsets[g.range.start].owner,
            None => &self.ents[i - self.groups.len()].0,
        }
    }

    fn is_ent(&self, i: usize) -> bool {
        i >= self.groups.len()
    }

    fn required(&self, i: usize) -> bool {
        match self.groups.get(i) {
            Some(g) => is_wanted(self.zone, g).unwrap_or(false),
            None => self.ents[i - self.groups.len()].1,
        }
    }

    /// The types the name's NSEC3 must list, and whether it has an NSEC ([`bitmap_of`]).
    fn bitmap(&self, i: usize) -> (Vec<u16>, bool) {
        match self.groups.get(i) {
            Some(g) => bitmap_of(self.zone, g, Vec::new()),
            None => (Vec::new(), false),
        }
    }

    /// Every wanted name with its hash in chain `id` and its [`Expected`] bitmap, in
    /// hash order. Hashed in zone order, where each name's RRsets are read in turn; the
    /// bitmap each must have is read there too, not later in hash order at random places.
    fn hashed(&self, id: &ChainId) -> Vec<Hashed> {
        let hash = |name: &Name| hash_name(name, &id.salt, id.iterations);
        let mut out: Vec<Hashed> = self
            .groups
            .par_iter()
            .enumerate()
            .filter(|(_, g)| is_wanted(self.zone, g).is_some())
            .map_init(Vec::new, |types, (i, g)| {
                let expected = expected_of(self.zone, g, types);
                (hash(self.name(i)), i as u32, expected)
            })
            .collect();
        let first_ent = self.groups.len();
        out.extend(
            self.ents
                .iter()
                .enumerate()
                .map(|(k, (name, _))| (hash(name), (first_ent + k) as u32, encode_inline(&[]))),
        );
        out.par_sort_unstable();
        out
    }
}

/// A wanted name's hash, its index in [`Wanted`], and the bitmap its NSEC3 must carry
/// when that fits inline.
type Hashed = ([u8; SHA1_LEN], u32, Option<Expected>);

/// Checks the zone's NSEC3 chains into `report`; returns whether the zone uses NSEC3
/// for denial (then an NSEC chain is required only if NSEC records are present).
pub(super) fn check(
    zone: &Zone,
    groups: &[GateName],
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) -> bool {
    let (ids, blocks) = parse_records(zone, groups, report);
    let params = nsec3params(zone, report);
    let total: usize = blocks.iter().map(Vec::len).sum();
    if total == 0 && params.is_empty() {
        return false;
    }
    report.stats.nsec3 += total;
    let to_check: Vec<ChainId> = if !params.is_empty() {
        params
    } else {
        if !zone.rrsets.iter().any(|s| s.rtype == rtype::NSEC) {
            report.add(
                "nsec3param",
                &zone.origin,
                rtype::NSEC3PARAM,
                "NSEC3 records but no NSEC3PARAM at the apex: no chain is named for denial (RFC 5155 §4)".into(),
            );
        }
        let mut all = ids.clone();
        all.sort();
        all
    };
    let wanted = Wanted {
        zone,
        groups,
        ents: empty_non_terminals(zone, groups),
    };
    for id in &to_check {
        let chain = members(&ids, &blocks, id);
        if chain.is_empty() {
            report.add(
                "nsec3param",
                &zone.origin,
                rtype::NSEC3PARAM,
                format!(
                    "NSEC3PARAM names {}, but the zone has no NSEC3 record of it",
                    id.describe()
                ),
            );
            continue;
        }
        check_chain(&wanted, id, chain, allowed_ttls, report);
    }
    true
}

/// The NSEC3 chains of a zone handed over a part at a time in canonical order
/// (`zonesign verify` of a file read in windows, issue 25), kept compact: per record
/// its hash, next hash, flags, bitmap and TTL (60 octets), per wanted name its hash and
/// expected bitmap (40): about 1 GB for a chain of 10M names, against 8 GB of zone.
///
/// It only tells whether the chains the apex NSEC3PARAM names are sound. Where they
/// are not, or the zone is one this compact form does not hold (a bitmap longer than
/// [`INLINE_BITMAP`], an NSEC3 where it does not belong, a zone between NSEC and
/// NSEC3), the caller verifies the zone whole with [`check`], whose report names each
/// problem: a broken chain is reported exactly as before, at the cost of a second read.
pub(super) struct Stream {
    chains: Vec<ChainId>,
    /// Per chain, its records.
    records: Vec<Vec<Compact>>,
    /// Per chain, the wanted names' hashes, whether each is required (1) or may be
    /// left out under opt-out (0), and the bitmaps their NSEC3 must carry.
    wanted: Vec<Vec<Hashed>>,
    /// Empty non-terminals found so far, and whether a required name lies below.
    ents: BTreeMap<Name, bool>,
    allowed_ttls: Option<[u32; 2]>,
    sound: bool,
    /// NSEC3 records of any chain.
    pub(super) total: usize,
}

/// One NSEC3 record of a named chain, without its place in the zone.
struct Compact {
    hash: [u8; SHA1_LEN],
    next: [u8; SHA1_LEN],
    flags: u8,
    bits: Expected,
    ttl: u32,
}

impl Stream {
    /// For the chains the apex NSEC3PARAM of `apex` names; `None` when it names none
    /// or is malformed (the whole-zone check reports that).
    pub(super) fn new(apex: &Zone, allowed_ttls: Option<[u32; 2]>) -> Option<Stream> {
        let mut problems = Report::empty();
        let chains = nsec3params(apex, &mut problems);
        if chains.is_empty() || problems.total_problems > 0 {
            return None;
        }
        Some(Stream {
            records: chains.iter().map(|_| Vec::new()).collect(),
            wanted: chains.iter().map(|_| Vec::new()).collect(),
            chains,
            ents: BTreeMap::new(),
            allowed_ttls,
            sound: true,
            total: 0,
        })
    }

    /// Takes the NSEC3 records and wanted names of the name groups `checked` of a part
    /// (`zone` holds the part and the names above it: the apex and the ancestors).
    pub(super) fn push(&mut self, zone: &Zone, checked: &[GateName]) {
        type Found = (
            Vec<(usize, Compact)>,
            Vec<(usize, Hashed)>,
            Vec<(Name, bool)>,
            bool,
        );
        let found: Vec<Found> = checked
            .par_chunks(NAMES_PER_BLOCK)
            .map(|block| {
                let (mut recs, mut wanted, mut ents, mut sound) =
                    (Vec::new(), Vec::new(), Vec::new(), true);
                let mut types = Vec::new();
                for g in block {
                    sound &= self.records_of(zone, g, &mut recs);
                    let Some(required) = is_wanted(zone, g) else {
                        continue;
                    };
                    let expected = expected_of(zone, g, &mut types);
                    sound &= expected.is_some();
                    let owner = &zone.rrsets[g.range.start].owner;
                    for (k, id) in self.chains.iter().enumerate() {
                        let hash = hash_name(owner, &id.salt, id.iterations);
                        wanted.push((k, (hash, u32::from(required), expected)));
                    }
                    ents_above(zone, owner, required, &mut ents);
                }
                (recs, wanted, ents, sound)
            })
            .collect();
        for (recs, wanted, ents, sound) in found {
            self.sound &= sound;
            self.total += recs.len();
            for (k, rec) in recs {
                if let Some(chain) = self.records.get_mut(k) {
                    chain.push(rec);
                }
            }
            for (k, w) in wanted {
                self.wanted[k].push(w);
            }
            for (name, required) in ents {
                *self.ents.entry(name).or_default() |= required;
            }
        }
    }

    /// The NSEC3 records at one name group into `out`, with the index of their chain
    /// (`usize::MAX` for a chain not named: only counted, as [`check`] checks only its
    /// signatures); whether they fit the compact form.
    fn records_of(&self, zone: &Zone, g: &GateName, out: &mut Vec<(usize, Compact)>) -> bool {
        let mut sound = true;
        for set in &zone.rrsets[g.range.clone()] {
            if set.rtype != rtype::NSEC3 {
                continue;
            }
            let hash = owner_hash(&set.owner, &zone.origin);
            let (Some(hash), true) = (hash, g.kind.is_nsec3_owner()) else {
                return false;
            };
            for rdata in set.rdatas.iter() {
                let Some(((algorithm, iterations, salt), flags, bits_at)) = parse_rdata(rdata)
                else {
                    return false;
                };
                let bits_at = usize::from(bits_at);
                let same = |id: &ChainId| {
                    (id.algorithm, id.iterations, &id.salt[..]) == (algorithm, iterations, salt)
                };
                let k = self.chains.iter().position(same).unwrap_or(usize::MAX);
                let bits = rdata.get(bits_at..).and_then(Expected::from_wire);
                let (Some(bits), Ok(next)) = (bits, rdata[bits_at - SHA1_LEN..bits_at].try_into())
                else {
                    sound = false;
                    continue;
                };
                out.push((
                    k,
                    Compact {
                        hash,
                        next,
                        flags,
                        bits,
                        ttl: set.ttl,
                    },
                ));
            }
        }
        sound
    }

    /// Whether every named chain is sound: what [`check`] would find nothing wrong in.
    pub(super) fn finish(mut self) -> bool {
        if !self.sound {
            return false;
        }
        let ents = std::mem::take(&mut self.ents);
        for (k, id) in self.chains.iter().enumerate() {
            let wanted = &mut self.wanted[k];
            wanted.extend(ents.iter().map(|(name, &required)| {
                let hash = hash_name(name, &id.salt, id.iterations);
                (hash, u32::from(required), encode_inline(&[]))
            }));
            wanted.par_sort_unstable();
            let records = &mut self.records[k];
            records.par_sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
            if !chain_is_sound(records, wanted, self.allowed_ttls) {
                return false;
            }
        }
        true
    }
}

/// The checks of [`check_chain`] on a chain in compact form, without the messages.
fn chain_is_sound(records: &[Compact], wanted: &[Hashed], allowed_ttls: Option<[u32; 2]>) -> bool {
    if records.is_empty() || records.windows(2).any(|w| w[0].hash == w[1].hash) {
        return false;
    }
    let ttl_ok = |ttl: u32| allowed_ttls.is_none_or(|a| a.contains(&ttl));
    let records_ok = records.par_iter().enumerate().all(|(k, rec)| {
        let next = &records[(k + 1) % records.len()].hash;
        let at = wanted.partition_point(|(h, _, _)| *h < rec.hash);
        let name = wanted.get(at).filter(|(h, _, _)| *h == rec.hash);
        rec.next == *next && ttl_ok(rec.ttl) && name.is_some_and(|&(_, _, e)| e == Some(rec.bits))
    });
    records_ok
        && wanted.par_iter().all(|&(hash, required, _)| {
            let at = records.partition_point(|r| r.hash < hash);
            if records.get(at).is_some_and(|r| r.hash == hash) {
                return true;
            }
            let cover = &records[at.checked_sub(1).unwrap_or(records.len() - 1)];
            required == 0 && cover.flags & OPT_OUT != 0
        })
}

/// The records of chain `id`, in zone order. Sized by a count first: at a million
/// records, a vector grown by doubling costs more in fresh pages than the check itself.
fn members<'a>(ids: &[ChainId], blocks: &'a [Vec<Rec>], id: &ChainId) -> Vec<&'a Rec> {
    let Some(k) = ids.iter().position(|x| x == id) else {
        return Vec::new();
    };
    let of_chain = || {
        blocks
            .iter()
            .flatten()
            .filter(move |r| r.chain as usize == k)
    };
    let mut chain = Vec::with_capacity(of_chain().count());
    chain.extend(of_chain());
    chain
}

/// The chains' parameters, and per block of names each record with the index of its
/// chain's parameters. The blocks are not joined into one vector: only the chains' lists
/// of references are ([`members`]).
type Records = (Vec<ChainId>, Vec<Vec<Rec>>);

/// One block's chain parameters and records (indices into its own list), as
/// [`parse_records`] finds them before the lists are joined.
type BlockRecords = (Vec<ChainId>, Vec<Rec>);

/// Every NSEC3 RDATA of the zone with the index of its chain parameters in the first
/// list; malformed ones are reported. Parameters are kept once per chain, not per
/// record: a TLD has a million records and one or two chains.
fn parse_records(zone: &Zone, groups: &[GateName], report: &mut Report) -> Records {
    let parts: Vec<(BlockRecords, Report)> = groups
        .par_chunks(NAMES_PER_BLOCK)
        .map(|block| {
            let (mut ids, mut out, mut part) = (Vec::new(), Vec::new(), Report::empty());
            for g in block {
                for set in zone.rrsets[g.range.clone()].iter().enumerate() {
                    let (i, set) = (g.range.start + set.0, set.1);
                    if set.rtype != rtype::NSEC3 {
                        continue;
                    }
                    if !g.kind.is_nsec3_owner() {
                        part.add(
                            "nsec3-owner",
                            &set.owner,
                            rtype::NSEC3,
                            format!("NSEC3 at {}, which is not an NSEC3 owner name", g.kind.what()),
                        );
                        continue;
                    }
                    let Some(hash) = owner_hash(&set.owner, &zone.origin) else {
                        part.add(
                            "nsec3-owner",
                            &set.owner,
                            rtype::NSEC3,
                            "owner is not a base32hex SHA-1 hash label directly below the apex (RFC 5155 §3)".into(),
                        );
                        continue;
                    };
                    for (nth, rdata) in set.rdatas.iter().enumerate() {
                        match parse_rdata(rdata) {
                            Some(((algorithm, iterations, salt), flags, bits_at)) => {
                                let same = |id: &ChainId| {
                                    (id.algorithm, id.iterations, &id.salt[..])
                                        == (algorithm, iterations, salt)
                                };
                                let k = ids.iter().position(same).unwrap_or_else(|| {
                                    ids.push(ChainId {
                                        algorithm,
                                        iterations,
                                        salt: salt.into(),
                                    });
                                    ids.len() - 1
                                });
                                out.push(Rec {
                                    hash,
                                    set: i as u32,
                                    nth: nth as u32,
                                    chain: k as u32,
                                    bits_at,
                                    flags,
                                });
                            }
                            None => part.add(
                                "nsec3",
                                &set.owner,
                                rtype::NSEC3,
                                "malformed NSEC3 RDATA, or a hash that is not SHA-1".into(),
                            ),
                        }
                    }
                }
            }
            ((ids, out), part)
        })
        .collect();
    let mut ids: Vec<ChainId> = Vec::new();
    let mut blocks = Vec::with_capacity(parts.len());
    for ((block_ids, mut recs), part) in parts {
        let global: Vec<usize> = block_ids
            .into_iter()
            .map(|id| {
                ids.iter().position(|x| *x == id).unwrap_or_else(|| {
                    ids.push(id);
                    ids.len() - 1
                })
            })
            .collect();
        for rec in &mut recs {
            rec.chain = global[rec.chain as usize] as u32;
        }
        blocks.push(recs);
        report.merge(part);
    }
    (ids, blocks)
}

/// The hash an NSEC3 owner spells: one 32-character base32hex label directly below
/// the origin. Read in place: it runs once per NSEC3 record.
fn owner_hash(owner: &Name, origin: &Name) -> Option<[u8; SHA1_LEN]> {
    let wire = owner.as_wire();
    let len = usize::from(*wire.first()?);
    if len != 32 || !wire.get(1 + len..)?.eq_ignore_ascii_case(origin.as_wire()) {
        return None;
    }
    let mut label = [0u8; 32];
    label.copy_from_slice(&wire[1..1 + len]);
    label.make_ascii_uppercase();
    let mut hash = [0u8; SHA1_LEN];
    let n = data_encoding::BASE32HEX_NOPAD
        .decode_mut(&label, &mut hash)
        .ok()?;
    (n == SHA1_LEN).then_some(hash)
}

/// NSEC3 RDATA (RFC 5155 §3.2): the chain's (algorithm, iterations, salt), flags and
/// the bitmap's offset (at most 281: the next hash ends there, see [`Rec`]).
#[allow(clippy::type_complexity)]
fn parse_rdata(r: &[u8]) -> Option<((u8, u16, &[u8]), u8, u16)> {
    let (&algorithm, &flags) = (r.first()?, r.get(1)?);
    let iterations = u16::from_be_bytes([*r.get(2)?, *r.get(3)?]);
    let salt_len = usize::from(*r.get(4)?);
    let salt = r.get(5..5 + salt_len)?;
    let at = 5 + salt_len;
    let hash_len = usize::from(*r.get(at)?);
    if algorithm != SHA1 || hash_len != SHA1_LEN {
        return None;
    }
    let bits_at = at + 1 + SHA1_LEN;
    r.get(..bits_at)?;
    Some(((algorithm, iterations, salt), flags, bits_at as u16))
}

/// The chains the apex NSEC3PARAM RRset names. One with flags other than 0 is ignored
/// (RFC 5155 §4.1.2 "MUST ignore"); one with an unknown hash algorithm is reported.
fn nsec3params(zone: &Zone, report: &mut Report) -> Vec<ChainId> {
    let Some(set) = zone.get(&zone.origin, rtype::NSEC3PARAM) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for r in set.rdatas.iter() {
        let parsed = (|| {
            let salt_len = usize::from(*r.get(4)?);
            let salt = r.get(5..5 + salt_len)?;
            (r.len() == 5 + salt_len).then_some(())?;
            Some((
                r[1],
                ChainId {
                    algorithm: r[0],
                    iterations: u16::from_be_bytes([r[2], r[3]]),
                    salt: salt.into(),
                },
            ))
        })();
        match parsed {
            Some((0, id)) if id.algorithm == SHA1 => ids.push(id),
            Some((0, id)) => report.add(
                "nsec3param",
                &zone.origin,
                rtype::NSEC3PARAM,
                format!(
                    "NSEC3PARAM with hash algorithm {}: only SHA-1 (1) exists (RFC 5155 §11)",
                    id.algorithm
                ),
            ),
            Some(_) => {}
            None => report.add(
                "nsec3param",
                &zone.origin,
                rtype::NSEC3PARAM,
                "malformed NSEC3PARAM RDATA".into(),
            ),
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// The empty non-terminals above the wanted names (RFC 5155 §7.1 step 4), each once,
/// in canonical order, with whether a required name lies below it.
fn empty_non_terminals(zone: &Zone, groups: &[GateName]) -> Vec<(Name, bool)> {
    let found: Vec<Vec<(Name, bool)>> = groups
        .par_chunks(NAMES_PER_BLOCK)
        .map(|block| {
            let mut ents = Vec::new();
            for g in block {
                let Some(required) = is_wanted(zone, g) else {
                    continue;
                };
                let owner = &zone.rrsets[g.range.start].owner;
                ents_above(zone, owner, required, &mut ents);
            }
            ents
        })
        .collect();
    let mut ents: BTreeMap<Name, bool> = BTreeMap::new();
    for (name, required) in found.into_iter().flatten() {
        *ents.entry(name).or_default() |= required;
    }
    ents.into_iter().collect()
}

/// The empty non-terminals above a wanted name into `out`: its ancestors up to the
/// first one with data of its own (whose own walk covers the rest), each with whether
/// the name is required.
fn ents_above(zone: &Zone, owner: &Name, required: bool, out: &mut Vec<(Name, bool)>) {
    let top = zone.origin.label_count();
    for n in (top + 1..owner.label_count()).rev() {
        let above = owner.suffix(n);
        if has_data(zone, &above) {
            break;
        }
        out.push((above, required));
    }
}

/// Whether `name` owns data (anything but denial records), by binary search.
fn has_data(zone: &Zone, name: &Name) -> bool {
    let at = zone.rrsets.partition_point(|s| s.owner < *name);
    zone.rrsets[at..]
        .iter()
        .take_while(|s| s.owner == *name)
        .any(|s| !matches!(s.rtype, rtype::NSEC | rtype::NSEC3))
}

/// One complete chain: membership, closure, next hashes, bitmaps, opt-out spans, TTLs.
fn check_chain(
    wanted: &Wanted,
    id: &ChainId,
    mut chain: Vec<&Rec>,
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) {
    let zone = wanted.zone;
    chain.par_sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
    for w in chain.windows(2).filter(|w| w[0].hash == w[1].hash) {
        report.add(
            "nsec3",
            w[1].owner(zone),
            rtype::NSEC3,
            format!(
                "more than one NSEC3 record of {} at one name",
                id.describe()
            ),
        );
    }
    let hashed = wanted.hashed(id);
    // Each record: a name of the zone, the right next hash and bitmap, an allowed TTL.
    let parts: Vec<Report> = (0..chain.len())
        .into_par_iter()
        .step_by(NAMES_PER_BLOCK)
        .map(|from| {
            let mut part = Report::empty();
            // Both lists are in hash order: one search per block, then a walk.
            let mut at = hashed.partition_point(|(h, _, _)| *h < chain[from].hash);
            for k in from..(from + NAMES_PER_BLOCK).min(chain.len()) {
                let rec = chain[k];
                while hashed.get(at).is_some_and(|(h, _, _)| *h < rec.hash) {
                    at += 1;
                }
                let name = hashed
                    .get(at)
                    .filter(|(h, _, _)| *h == rec.hash)
                    .map(|&(_, i, e)| (i as usize, e));
                let next = &chain[(k + 1) % chain.len()].hash;
                check_record(wanted, name, id, rec, next, allowed_ttls, &mut part);
            }
            part
        })
        .collect();
    for part in parts {
        report.merge(part);
    }
    // Each wanted name: in the chain, or left out under an opt-out span.
    let parts: Vec<Report> = hashed
        .par_chunks(NAMES_PER_BLOCK)
        .map(|block| {
            let mut part = Report::empty();
            let mut at = chain.partition_point(|r| r.hash < block[0].0);
            for &(hash, i, _) in block {
                while chain.get(at).is_some_and(|r| r.hash < hash) {
                    at += 1;
                }
                if chain.get(at).is_some_and(|r| r.hash == hash) {
                    continue;
                }
                let i = i as usize;
                let name = wanted.name(i);
                let what = if wanted.is_ent(i) {
                    "empty non-terminal"
                } else {
                    "name"
                };
                if wanted.required(i) {
                    part.add(
                        "nsec3-missing",
                        name,
                        rtype::NSEC3,
                        format!(
                            "no NSEC3 for this {what} (hash {}) in {}",
                            label(&hash),
                            id.describe()
                        ),
                    );
                    continue;
                }
                // Covered by the record before its hash (the last one wraps around).
                let cover = chain[at.checked_sub(1).unwrap_or(chain.len() - 1)];
                if cover.flags & OPT_OUT == 0 {
                    part.add(
                        "nsec3-opt-out",
                        name,
                        rtype::NSEC3,
                        format!(
                            "this insecure {} is left out of {}, but the NSEC3 covering it, {}, has no opt-out flag (RFC 5155 §6)",
                            if wanted.is_ent(i) { "empty non-terminal" } else { "delegation" },
                            id.describe(),
                            cover.owner(zone)
                        ),
                    );
                }
            }
            part
        })
        .collect();
    for part in parts {
        report.merge(part);
    }
}

/// One record of a chain against the name its hash belongs to (`name`: its index in
/// `wanted` and expected bitmap, `None` when no name of the zone has that hash).
fn check_record(
    wanted: &Wanted,
    name: Option<(usize, Option<Expected>)>,
    id: &ChainId,
    rec: &Rec,
    next: &[u8; SHA1_LEN],
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) {
    let set = rec.rrset(wanted.zone);
    let owner = &set.owner;
    let (has_next, bits) = rec.next_and_bits(wanted.zone).unzip();
    if has_next != Some(&next[..]) {
        report.add(
            "nsec3-next",
            owner,
            rtype::NSEC3,
            format!(
                "next hashed owner is {}, expected {} ({})",
                has_next.map(label).unwrap_or_default(),
                label(next),
                id.describe()
            ),
        );
    }
    if rec.nth == 0
        && let Some(allowed) = allowed_ttls
        && !allowed.contains(&set.ttl)
    {
        report.add(
            "ttl",
            owner,
            rtype::NSEC3,
            format!(
                "NSEC3 TTL {} is neither the SOA minimum {} nor min(SOA TTL, minimum) (RFC 5155 §3, RFC 9077)",
                set.ttl, allowed[0]
            ),
        );
    }
    let Some((i, fast)) = name else {
        report.add(
            "nsec3-extra",
            owner,
            rtype::NSEC3,
            format!(
                "NSEC3 of {} whose hash is no name of the zone that belongs in the chain",
                id.describe()
            ),
        );
        return;
    };
    if fast.is_some_and(|e| bits == Some(e.wire())) {
        return;
    }
    let name = wanted.name(i);
    let (expected, has_nsec) = wanted.bitmap(i);
    match decode_type_bitmap(bits.unwrap_or(&[])) {
        Ok(mut have) => {
            // A zone moving between NSEC and NSEC3 has NSEC at the name: listing it or
            // not are both true to the data.
            if has_nsec {
                have.retain(|&t| t != rtype::NSEC);
            }
            if have != expected {
                report.add(
                    "nsec3-bitmap",
                    owner,
                    rtype::NSEC3,
                    format!(
                        "NSEC3 of {name} lists [{}], the data has [{}]",
                        show(&have),
                        show(&expected)
                    ),
                );
            }
        }
        Err(e) => report.add(
            "nsec3-bitmap",
            owner,
            rtype::NSEC3,
            format!("NSEC3 of {name}: bad type bitmap: {e}"),
        ),
    }
}

/// The types an NSEC3 of this name must list (RFC 5155 §3.2.1, RFC 4035 §2.3): the
/// types present, at a delegation NS and DS only, and RRSIG where something is signed;
/// also whether the name has an NSEC (a chain in transition). Written into `types`
/// (emptied first), so that a million names can share a few buffers.
fn bitmap_of(zone: &Zone, group: &GateName, mut types: Vec<u16>) -> (Vec<u16>, bool) {
    let sets = &zone.rrsets[group.range.clone()];
    types.clear();
    types.extend(
        sets.iter()
            .map(|s| s.rtype)
            .filter(|&t| !matches!(t, rtype::NSEC | rtype::NSEC3 | rtype::RRSIG))
            .filter(|&t| group.kind != Kind::Delegation || matches!(t, rtype::NS | rtype::DS)),
    );
    if types.iter().any(|&t| group.kind.must_sign(t)) {
        types.push(rtype::RRSIG);
    }
    types.sort_unstable();
    types.dedup();
    let has_nsec = sets.iter().any(|s| s.rtype == rtype::NSEC);
    (types, has_nsec)
}

/// The [`Expected`] bitmap of a wanted name group: `None` where it does not fit inline,
/// or where the name also has an NSEC (a zone between NSEC and NSEC3, whose NSEC3 may
/// list NSEC or not: judged by the full comparison). `types` is a buffer to reuse.
fn expected_of(zone: &Zone, group: &GateName, types: &mut Vec<u16>) -> Option<Expected> {
    let (t, has_nsec) = bitmap_of(zone, group, std::mem::take(types));
    let expected = (!has_nsec).then(|| encode_inline(&t)).flatten();
    *types = t;
    expected
}

/// Octets of an expected bitmap kept inline: enough for a TLD's names (a delegation's
/// NS, DS and RRSIG take 8, the apex's types 10); longer ones take the full path.
const INLINE_BITMAP: usize = 14;

/// The type bitmap a wanted name's NSEC3 must carry, in wire form, for a comparison of
/// octets; the full comparison (decoded types, with a message) runs when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    len: u8,
    octets: [u8; INLINE_BITMAP],
}

impl Expected {
    fn wire(&self) -> &[u8] {
        &self.octets[..usize::from(self.len)]
    }

    /// A bitmap as it is in RDATA, kept inline; `None` when longer than that.
    fn from_wire(bits: &[u8]) -> Option<Expected> {
        let len = u8::try_from(bits.len())
            .ok()
            .filter(|&l| usize::from(l) <= INLINE_BITMAP)?;
        let mut octets = [0; INLINE_BITMAP];
        octets[..bits.len()].copy_from_slice(bits);
        Some(Expected { len, octets })
    }
}

/// RFC 4034 §4.1.2 encoding of sorted, distinct types (window, length, bits; no empty
/// window, no trailing zero octet), written here rather than shared with the signer's
/// encoder so that a fault there cannot hide itself in the gate. `None` when it does
/// not fit in [`INLINE_BITMAP`] octets.
fn encode_inline(types: &[u16]) -> Option<Expected> {
    let mut e = Expected {
        len: 0,
        octets: [0; INLINE_BITMAP],
    };
    let (mut n, mut i) = (0usize, 0usize);
    while let Some(&first) = types.get(i) {
        let window = first >> 8;
        let head = n;
        if head + 2 > INLINE_BITMAP {
            return None;
        }
        n += 2;
        let mut len = 0;
        while let Some(&t) = types.get(i).filter(|&&t| t >> 8 == window) {
            let low = usize::from(t & 0xff);
            let octet = *e.octets.get_mut(n + low / 8)?;
            e.octets[n + low / 8] = octet | (0x80 >> (low % 8));
            len = len.max(low / 8 + 1);
            i += 1;
        }
        e.octets[head] = window as u8;
        e.octets[head + 1] = len as u8;
        n += len;
    }
    e.len = n as u8;
    Some(e)
}

fn show(types: &[u16]) -> String {
    types
        .iter()
        .map(|&t| type_name(t))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hash as it is written in owner names (base32hex, lowercase).
fn label(hash: &[u8]) -> String {
    data_encoding::BASE32HEX_NOPAD
        .encode(hash)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rdata::encode_type_bitmap;

    /// The gate's own inline encoder writes what RFC 4034 §4.1.2 says, octet for octet
    /// as the signer's encoder and `decode_type_bitmap` read it, and gives up (full
    /// comparison) where the bitmap does not fit.
    #[test]
    fn inline_bitmaps_are_rfc_4034_bitmaps() {
        let cases: [&[u16]; 6] = [
            &[],
            &[rtype::NS, rtype::DS, rtype::RRSIG],
            &[rtype::NS],
            &[1, 2, 6, 46, 48, 51, 63],
            &[1, 257],
            &[1, 46, 257, 32769],
        ];
        for types in cases {
            let e = encode_inline(types).unwrap();
            assert_eq!(e.wire(), &encode_type_bitmap(types)[..], "{types:?}");
            assert_eq!(decode_type_bitmap(e.wire()).unwrap(), types);
        }
        assert!(encode_inline(&[1, 255]).is_none(), "34 octets");
        assert!(
            encode_inline(&[1, 257, 513, 769, 1025]).is_none(),
            "five windows"
        );
    }
}
