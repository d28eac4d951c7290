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
use crate::zone::Zone;
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

/// One NSEC3 record of the zone, parsed.
struct Rec {
    /// The hash its owner label spells.
    hash: [u8; SHA1_LEN],
    /// Index of its RRset in [`Zone::rrsets`].
    set: usize,
    /// Which RDATA of the RRset.
    nth: usize,
    flags: u8,
    next: [u8; SHA1_LEN],
    /// Offset of the type bitmap in the RDATA.
    bits_at: usize,
}

/// A name that must (or may) be hashed into every complete chain.
struct Want {
    /// The name group it is, or `None` for an empty non-terminal.
    group: Option<usize>,
    /// The empty non-terminal's name (when `group` is `None`).
    ent: Option<Name>,
    /// Must be in the chain; otherwise only an opt-out span may leave it out.
    required: bool,
}

impl Want {
    fn name<'a>(&'a self, zone: &'a Zone, groups: &[GateName]) -> &'a Name {
        match (self.group, &self.ent) {
            (Some(g), _) => &zone.rrsets[groups[g].range.start].owner,
            (None, Some(n)) => n,
            (None, None) => &zone.origin,
        }
    }
}

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
    let wants = wanted_names(zone, groups);
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
        check_chain(zone, groups, &wants, id, chain, allowed_ttls, report);
    }
    true
}

/// The records of chain `id`, in zone order. Sized by a count first: at a million
/// records, a vector grown by doubling costs more in fresh pages than the check itself.
fn members<'a>(ids: &[ChainId], blocks: &'a [Vec<(usize, Rec)>], id: &ChainId) -> Vec<&'a Rec> {
    let Some(k) = ids.iter().position(|x| x == id) else {
        return Vec::new();
    };
    let of_chain = || blocks.iter().flatten().filter(move |(c, _)| *c == k);
    let mut chain = Vec::with_capacity(of_chain().count());
    chain.extend(of_chain().map(|(_, rec)| rec));
    chain
}

/// The chains' parameters, and per block of names each record with the index of its
/// chain's parameters. The blocks are not joined into one vector: only the chains' lists
/// of references are ([`members`]).
type Records = (Vec<ChainId>, Vec<Vec<(usize, Rec)>>);

/// One block's chain parameters and records (indices into its own list), as
/// [`parse_records`] finds them before the lists are joined.
type BlockRecords = (Vec<ChainId>, Vec<(usize, Rec)>);

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
                            Some(((algorithm, iterations, salt), flags, next, bits_at)) => {
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
                                out.push((
                                    k,
                                    Rec {
                                        hash,
                                        set: i,
                                        nth,
                                        flags,
                                        next,
                                        bits_at,
                                    },
                                ));
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
        for (k, _) in &mut recs {
            *k = global[*k];
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

/// NSEC3 RDATA (RFC 5155 §3.2): the chain's (algorithm, iterations, salt), flags, next
/// hash and the bitmap's offset.
#[allow(clippy::type_complexity)]
fn parse_rdata(r: &[u8]) -> Option<((u8, u16, &[u8]), u8, [u8; SHA1_LEN], usize)> {
    let (&algorithm, &flags) = (r.first()?, r.get(1)?);
    let iterations = u16::from_be_bytes([*r.get(2)?, *r.get(3)?]);
    let salt_len = usize::from(*r.get(4)?);
    let salt = r.get(5..5 + salt_len)?;
    let at = 5 + salt_len;
    let hash_len = usize::from(*r.get(at)?);
    if algorithm != SHA1 || hash_len != SHA1_LEN {
        return None;
    }
    let next: [u8; SHA1_LEN] = r.get(at + 1..at + 1 + SHA1_LEN)?.try_into().ok()?;
    Some((
        (algorithm, iterations, salt),
        flags,
        next,
        at + 1 + SHA1_LEN,
    ))
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

/// The names every complete chain hashes: data names by the gate's own reading, and the
/// empty non-terminals above them (which the zone has no records for).
fn wanted_names(zone: &Zone, groups: &[GateName]) -> Vec<Want> {
    let mut per_block: Vec<(Vec<Want>, Vec<Ent>)> = groups
        .par_chunks(NAMES_PER_BLOCK)
        .enumerate()
        .map(|(b, block)| {
            let (mut wants, mut ents) = (Vec::new(), Vec::new());
            for (k, g) in block.iter().enumerate() {
                let sets = &zone.rrsets[g.range.clone()];
                let required = match g.kind {
                    Kind::Apex | Kind::Authoritative => true,
                    Kind::Delegation => sets.iter().any(|s| s.rtype == rtype::DS),
                    _ => continue,
                };
                wants.push(Want {
                    group: Some(b * NAMES_PER_BLOCK + k),
                    ent: None,
                    required,
                });
                // Ancestors up to the first one with data of its own (whose own walk
                // covers the rest): the empty non-terminals (RFC 5155 §7.1 step 4).
                let owner = &sets[0].owner;
                let top = zone.origin.label_count();
                for n in (top + 1..owner.label_count()).rev() {
                    let above = owner.suffix(n);
                    if has_data(zone, &above) {
                        break;
                    }
                    ents.push((above, required));
                }
            }
            (wants, ents)
        })
        .collect();
    let mut ents: BTreeMap<Name, bool> = BTreeMap::new();
    for (name, required) in per_block.iter_mut().flat_map(|(_, e)| e.drain(..)) {
        *ents.entry(name).or_default() |= required;
    }
    // Sized before it is filled: see `members`.
    let named: usize = per_block.iter().map(|(w, _)| w.len()).sum();
    let mut wants = Vec::with_capacity(named + ents.len());
    for (w, _) in per_block {
        wants.extend(w);
    }
    wants.extend(ents.into_iter().map(|(name, required)| Want {
        group: None,
        ent: Some(name),
        required,
    }));
    wants
}

/// An empty non-terminal found above a data name, and whether that name is required.
type Ent = (Name, bool);

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
    zone: &Zone,
    groups: &[GateName],
    wants: &[Want],
    id: &ChainId,
    mut chain: Vec<&Rec>,
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) {
    chain.par_sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
    for w in chain.windows(2).filter(|w| w[0].hash == w[1].hash) {
        let owner = &zone.rrsets[w[1].set].owner;
        report.add(
            "nsec3",
            owner,
            rtype::NSEC3,
            format!(
                "more than one NSEC3 record of {} at one name",
                id.describe()
            ),
        );
    }
    // Hashed in zone order, where each name's RRsets are read in turn; the bitmap each
    // must have is read there too, not later in hash order at random places.
    let mut hashed: Vec<([u8; SHA1_LEN], usize, Option<Expected>)> = wants
        .par_iter()
        .enumerate()
        .map(|(i, w)| {
            let hash = hash_name(w.name(zone, groups), &id.salt, id.iterations);
            (hash, i, expected_bitmap(zone, groups, w))
        })
        .collect();
    hashed.par_sort_unstable();
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
                    .map(|&(_, i, e)| (i, e));
                let next = chain[(k + 1) % chain.len()].hash;
                check_record(
                    zone,
                    groups,
                    wants,
                    name,
                    id,
                    rec,
                    next,
                    allowed_ttls,
                    &mut part,
                );
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
                let want = &wants[i];
                let name = want.name(zone, groups);
                let what = if want.group.is_none() {
                    "empty non-terminal"
                } else {
                    "name"
                };
                if want.required {
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
                            if want.group.is_none() { "empty non-terminal" } else { "delegation" },
                            id.describe(),
                            zone.rrsets[cover.set].owner
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
/// `wants`, `None` when no name of the zone has that hash).
#[allow(clippy::too_many_arguments)]
fn check_record(
    zone: &Zone,
    groups: &[GateName],
    wants: &[Want],
    name: Option<(usize, Option<Expected>)>,
    id: &ChainId,
    rec: &Rec,
    next: [u8; SHA1_LEN],
    allowed_ttls: Option<[u32; 2]>,
    report: &mut Report,
) {
    let set = &zone.rrsets[rec.set];
    let owner = &set.owner;
    if rec.next != next {
        report.add(
            "nsec3-next",
            owner,
            rtype::NSEC3,
            format!(
                "next hashed owner is {}, expected {} ({})",
                label(&rec.next),
                label(&next),
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
    let bits = set.rdatas.get(rec.nth).and_then(|r| r.get(rec.bits_at..));
    if fast.is_some_and(|e| bits == Some(e.wire())) {
        return;
    }
    let want = &wants[i];
    let name = want.name(zone, groups);
    let (expected, has_nsec) = match want.group {
        Some(g) => bitmap_of(zone, &groups[g]),
        None => (Vec::new(), false),
    };
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
/// also whether the name has an NSEC (a chain in transition).
fn bitmap_of(zone: &Zone, group: &GateName) -> (Vec<u16>, bool) {
    let sets = &zone.rrsets[group.range.clone()];
    let mut types: Vec<u16> = sets
        .iter()
        .map(|s| s.rtype)
        .filter(|&t| !matches!(t, rtype::NSEC | rtype::NSEC3 | rtype::RRSIG))
        .filter(|&t| group.kind != Kind::Delegation || matches!(t, rtype::NS | rtype::DS))
        .collect();
    if types.iter().any(|&t| group.kind.must_sign(t)) {
        types.push(rtype::RRSIG);
    }
    types.sort_unstable();
    types.dedup();
    let has_nsec = sets.iter().any(|s| s.rtype == rtype::NSEC);
    (types, has_nsec)
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
}

/// [`Expected`] for a wanted name: `None` where it does not fit inline, or where the
/// name also has an NSEC (a zone between NSEC and NSEC3, whose NSEC3 may list NSEC or
/// not: judged by the full comparison).
fn expected_bitmap(zone: &Zone, groups: &[GateName], want: &Want) -> Option<Expected> {
    let (types, has_nsec) = match want.group {
        Some(g) => bitmap_of(zone, &groups[g]),
        None => (Vec::new(), false),
    };
    if has_nsec {
        return None;
    }
    encode_inline(&types)
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
fn label(hash: &[u8; SHA1_LEN]) -> String {
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
