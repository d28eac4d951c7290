//! The zone in canonical order: records grouped into RRsets, names classified.
//!
//! Signing and verification both need the same view of a zone: RRsets sorted by owner
//! in RFC 4034 §6.1 canonical order (then by type), each RRset's RDATA in RFC 4034 §6.3
//! canonical order without duplicates, and every owner name classified as apex,
//! authoritative, delegation or occluded (DPS-6.2). This module builds that view once.
//!
//! RDATA is stored in canonical wire form by the parser (names lowercased where RFC 4034
//! §6.2 says so), so canonical RRset order is plain byte order here. That sidesteps
//! hickory's case-sensitive `TBS` ordering, which sorts RDATA with uppercase names wrongly.

pub mod checks;
pub mod content;
pub mod ingress;
pub mod nsec;
pub mod nsec3;
pub mod stream;
pub mod zonemd;

use std::ops::Range;

use crate::dns::name::Name;
use crate::dns::record::{Record, SourceLoc, rtype};

/// Records signing drops from its input (issue #3): the DNSSEC records it makes anew
/// (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY), and ZONEMD, which it checks (PIPE-3) and
/// makes anew, as the input's would be stale once the serial or any record moves
/// (RFC 8976 §2.2.1); see
/// [`checks::drop_regenerated`].
pub const REGENERATED: [u16; 6] = [
    rtype::RRSIG,
    rtype::NSEC,
    rtype::NSEC3,
    rtype::NSEC3PARAM,
    rtype::DNSKEY,
    rtype::ZONEMD,
];

/// One RRSIG attached to the RRset it covers, with its own TTL as read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sig {
    /// TTL of the RRSIG record (DPS-6.7: equal to the covered RRset's TTL).
    pub ttl: u32,
    /// RRSIG RDATA in wire form, signature included.
    pub rdata: Box<[u8]>,
    /// Where the signature came from: what lets the gate skip its cryptographic check.
    pub provenance: Provenance,
}

/// Where a signature came from. The gate (DPS-6.6) may skip the cryptographic check of
/// a signature only when this says it was already checked by this run (issue #4); every
/// other check still runs on it. This is the one channel from the signing stages back
/// to the gate, and it is explicit: parsed input is always [`Provenance::Unchecked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provenance {
    /// Read from a zone file, or made without a check: the gate checks it.
    #[default]
    Unchecked,
    /// Made by this run's token and checked in software as the token returned it
    /// ([`crate::dnssec::sign`]).
    CheckedOnArrival,
    /// Carried over from the previous output over the very same RRset data, after that
    /// output was proven to be what zonesign wrote and verified, or after its own check
    /// ([`crate::dnssec::resign`]).
    Carried,
}

impl Provenance {
    /// Whether this run has already checked the signature cryptographically.
    pub fn checked(self) -> bool {
        self != Provenance::Unchecked
    }
}

/// All records of one owner, type and class, plus the signatures that cover them.
#[derive(Debug, Clone)]
pub struct RRset {
    /// Owner name (lowercase).
    pub owner: Name,
    /// Record type.
    pub rtype: u16,
    /// TTL shared by all records of the set (RFC 2181 §5.2).
    pub ttl: u32,
    /// RDATA in canonical order, no duplicates.
    pub rdatas: Rdatas,
    /// RRSIGs covering this RRset.
    pub sigs: Vec<Sig>,
    /// Where the first record of the set was read, for messages.
    pub loc: SourceLoc,
}

impl RRset {
    /// An empty RRset that owns no heap memory: a free slot while RRsets are moved.
    fn placeholder() -> RRset {
        RRset {
            owner: Name::root(),
            rtype: 0,
            ttl: 0,
            rdatas: Rdatas::default(),
            sigs: Vec::new(),
            loc: SourceLoc::default(),
        }
    }
}

/// The RDATA of one RRset in canonical order, back to back in one allocation, each
/// preceded by its length (two octets, big-endian, as in the wire format).
///
/// Why not `Vec<Box<[u8]>>`: at a million delegations the zone holds 3.3 million
/// RRsets, and a vector of boxes cost one allocation for the vector plus one per record,
/// each with the allocator's overhead and rounding: about 170 MB more than one buffer
/// per RRset (issue #5's 1 GiB target). RRsets are small (1–3 records), so walking the
/// lengths to reach a record costs nothing that matters.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Rdatas {
    bytes: Box<[u8]>,
}

/// Appends one length-prefixed RDATA to `buf`.
///
/// RDATA is at most 65535 octets (RFC 1035 §3.2.1): every reader (zone file, snapshot,
/// key material) enforces it before a record exists, so a longer one is a bug here.
fn push_prefixed(buf: &mut Vec<u8>, rdata: &[u8]) {
    let len = u16::try_from(rdata.len()).expect("RDATA longer than 65535 octets");
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(rdata);
}

impl Rdatas {
    /// An RRset's RDATA of a single record.
    pub fn one(rdata: &[u8]) -> Rdatas {
        let mut buf = Vec::with_capacity(2 + rdata.len());
        push_prefixed(&mut buf, rdata);
        Rdatas { bytes: buf.into() }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there is no record (never the case for an RRset of a zone).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The records' RDATA in order.
    pub fn iter(&self) -> RdataIter<'_> {
        RdataIter { rest: &self.bytes }
    }

    /// The first record's RDATA.
    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    /// The first record's RDATA, to change in place (the SOA serial): its length stays.
    pub fn first_mut(&mut self) -> Option<&mut [u8]> {
        let len = usize::from(u16::from_be_bytes([
            *self.bytes.first()?,
            *self.bytes.get(1)?,
        ]));
        self.bytes.get_mut(2..2 + len)
    }

    /// The `n`-th record's RDATA.
    pub fn get(&self, n: usize) -> Option<&[u8]> {
        self.iter().nth(n)
    }
}

impl std::fmt::Debug for Rdatas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl std::ops::Index<usize> for Rdatas {
    type Output = [u8];
    /// The `n`-th record's RDATA; panics when there is none, like a slice.
    fn index(&self, n: usize) -> &[u8] {
        self.get(n).expect("RDATA index out of range")
    }
}

impl<'a> IntoIterator for &'a Rdatas {
    type Item = &'a [u8];
    type IntoIter = RdataIter<'a>;
    fn into_iter(self) -> RdataIter<'a> {
        self.iter()
    }
}

impl<R: AsRef<[u8]>> FromIterator<R> for Rdatas {
    fn from_iter<I: IntoIterator<Item = R>>(iter: I) -> Rdatas {
        let mut buf = Vec::new();
        for r in iter {
            push_prefixed(&mut buf, r.as_ref());
        }
        Rdatas { bytes: buf.into() }
    }
}

/// The records of an [`Rdatas`], in order.
#[derive(Clone)]
pub struct RdataIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RdataIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes([head[0], head[1]]));
        let (rdata, rest) = tail.split_at_checked(len)?;
        self.rest = rest;
        Some(rdata)
    }
}

/// What an owner name is, for signing and denial (DPS-6.2, RFC 4035 §2.2–2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// The zone apex: everything is signed.
    Apex,
    /// Ordinary authoritative data: everything is signed.
    Authoritative,
    /// A zone cut below the apex: only DS (and NSEC) is signed, NS is not.
    Delegation,
    /// Glue or other data below a zone cut or DNAME: neither signed nor chained.
    Occluded,
}

/// The RRsets of one owner name: a range into [`Zone::rrsets`].
#[derive(Debug, Clone)]
pub struct NameGroup {
    /// Indices into `Zone::rrsets` of this name's RRsets, in type order.
    pub range: Range<usize>,
    /// What the name is.
    pub kind: NameKind,
}

/// A TTL disagreement inside one RRset, resolved to the lowest TTL (RFC 2181 §5.2).
#[derive(Debug, Clone)]
pub struct TtlMismatch {
    /// Owner of the RRset.
    pub owner: Name,
    /// Type of the RRset.
    pub rtype: u16,
    /// The TTL kept.
    pub lowest: u32,
    /// The highest TTL seen.
    pub highest: u32,
    /// Where the RRset starts.
    pub loc: SourceLoc,
}

/// A zone in canonical order.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone's origin (apex name).
    pub origin: Name,
    /// RRsets sorted by (owner canonical order, type); RRSIGs are attached to the RRsets
    /// they cover, never stored as RRsets of their own.
    pub rrsets: Vec<RRset>,
    /// RRSIG records whose covered RRset does not exist (kept for the verifier to report).
    pub orphan_sigs: Vec<(Name, u16, Sig)>,
}

impl Zone {
    /// Groups records into RRsets in canonical order.
    ///
    /// RRSIG records are attached to the RRset they cover. Duplicate records are
    /// merged; an RRset whose records disagree on TTL gets the lowest one and the
    /// disagreement is returned, so the checks stage can warn about it.
    pub fn from_records(origin: Name, mut records: Vec<Record>) -> (Zone, Vec<TtlMismatch>) {
        use rayon::prelude::*;
        // In place: a second vector of millions of records would double the peak memory.
        let mut sigs: Vec<Record> = records
            .extract_if(.., |r| r.rtype == rtype::RRSIG)
            .collect();
        let mut data = records;
        rayon::join(
            || sort_canonical(&mut data, &origin),
            || sort_canonical(&mut sigs, &origin),
        );
        // Each RRset is built on its own from its run of records, on all cores, straight
        // into its place: grouping one record after another took a quarter of a second
        // of one core for the 5 million records of a signed 1M-delegation zone, and
        // attaching the signatures as long again (`zonesign verify`, issue #5).
        let starts = rrset_starts(&data);
        // Room for a denial chain, one RRset per name at most (and the NSEC3PARAM),
        // merged in later without a second vector ([`Zone::merge_rrsets`]). Room never
        // written is address space, not memory: the kernel gives pages on first write.
        let mut rrsets: Vec<RRset> = Vec::with_capacity(2 * starts.len() + 1);
        let mismatches = group_into(&mut data, &starts, &mut rrsets);
        data.into_par_iter().for_each(drop);
        let mut zone = Zone {
            origin,
            rrsets,
            orphan_sigs: Vec::new(),
        };
        zone.attach_sigs(sigs);
        (zone, mismatches)
    }

    /// Attaches each RRSIG record (sorted like the RRsets: owner, then covered type, the
    /// first two RDATA octets) to the RRset it covers, or keeps it as an orphan.
    ///
    /// The RRsets are cut into pieces, each with its stretch of signatures (found by
    /// binary search at the piece's first RRset) matched in one merge walk, the pieces
    /// on all cores; a binary search per signature cost tens of millions of name
    /// comparisons on a signed TLD zone.
    fn attach_sigs(&mut self, mut sigs: Vec<Record>) {
        use rayon::prelude::*;
        const PIECE: usize = 4096;
        if self.rrsets.is_empty() {
            self.orphan_sigs = attach_piece(&mut [], &mut sigs);
            return;
        }
        let mut places = Vec::new();
        let mut rest = &mut sigs[..];
        for first in self.rrsets.chunks(PIECE).skip(1).map(|p| &p[0]) {
            let at = rest.partition_point(|s| sig_sorts_before(s, first));
            let (piece, after) = rest.split_at_mut(at);
            places.push(piece);
            rest = after;
        }
        places.push(rest);
        let orphans: Vec<Vec<(Name, u16, Sig)>> = self
            .rrsets
            .par_chunks_mut(PIECE)
            .zip(places)
            .map(|(sets, sigs)| attach_piece(sets, sigs))
            .collect();
        self.orphan_sigs = orphans.into_iter().flatten().collect();
    }

    /// Frees the zone on another thread: freeing millions of small allocations takes
    /// seconds that nothing needs to wait for (a process that exits first loses
    /// nothing: the memory goes back to the system with it).
    pub fn free_in_background(self) {
        std::thread::spawn(move || drop(self));
    }

    /// Merges RRsets sorted in zone order into the zone's; where both hold an RRset of
    /// the same owner and type, the new one replaces the old, so the zone never holds
    /// two (every lookup is a binary search).
    ///
    /// In place, from the back: the zone's vector is made with room for a chain
    /// ([`Zone::from_records`]), so only the new RRsets' share of it is written to
    /// fresh memory. A merge into a new vector cost the page faults of the whole zone
    /// again: 0.5 s of one core for the NSEC3 chain at 1M delegations, most of it the
    /// kernel clearing pages. Without the room the vector grows once, as before.
    pub fn merge_rrsets(&mut self, mut new: Vec<RRset>) {
        let v = &mut self.rrsets;
        // Invariant: old RRsets not yet placed are `v[..i]`, the free slots (holding
        // placeholders) `v[i..k]`, everything from `k` on is merged.
        let (mut i, mut k) = (v.len(), v.len() + new.len());
        v.resize_with(k, RRset::placeholder);
        while let Some(last) = new.pop() {
            while i > 0 && sorts_before(&last, &v[i - 1]) {
                v.swap(i - 1, k - 1);
                (i, k) = (i - 1, k - 1);
            }
            if i > 0 && v[i - 1].rtype == last.rtype && v[i - 1].owner == last.owner {
                v[i - 1] = RRset::placeholder();
                i -= 1;
            }
            v[k - 1] = last;
            k -= 1;
        }
        // Each replaced RRset left one free slot behind.
        v.drain(i..k);
    }

    /// Index of the RRset with this owner and type, by binary search.
    pub fn find(&self, owner: &Name, rtype: u16) -> Option<usize> {
        self.rrsets
            .binary_search_by(|s| s.owner.cmp(owner).then(s.rtype.cmp(&rtype)))
            .ok()
    }

    /// The RRset with this owner and type.
    pub fn get(&self, owner: &Name, rtype: u16) -> Option<&RRset> {
        self.find(owner, rtype).map(|i| &self.rrsets[i])
    }

    /// The apex SOA RRset, if there is one.
    pub fn soa(&self) -> Option<&RRset> {
        self.get(&self.origin, rtype::SOA)
    }

    /// Inserts or replaces an RRset, keeping canonical order.
    pub fn upsert(&mut self, set: RRset) {
        match self
            .rrsets
            .binary_search_by(|s| s.owner.cmp(&set.owner).then(s.rtype.cmp(&set.rtype)))
        {
            Ok(i) => self.rrsets[i] = set,
            Err(i) => self.rrsets.insert(i, set),
        }
    }

    /// Removes every RRset of the given types (e.g. old DNSSEC data before re-signing),
    /// and every signature; returns how many records were dropped.
    pub fn strip_dnssec(&mut self, types: &[u16]) -> usize {
        let mut dropped = self.orphan_sigs.len();
        self.orphan_sigs.clear();
        self.rrsets.retain_mut(|s| {
            dropped += s.sigs.len();
            s.sigs.clear();
            if types.contains(&s.rtype) {
                dropped += s.rdatas.len();
                false
            } else {
                true
            }
        });
        dropped
    }

    /// Whether `owner` is one label below the origin (where NSEC3 owners hang).
    fn hangs_below_apex(&self, owner: &Name) -> bool {
        owner.label_count() == self.origin.label_count() + 1 && owner.is_subdomain_of(&self.origin)
    }

    /// Groups RRsets by owner and classifies each name (DPS-6.2).
    ///
    /// Canonical order puts every descendant of a name directly after it, so one scan
    /// that remembers the innermost zone cut (or DNAME) finds all occluded names.
    /// NSEC and RRSIG do not make a name a delegation or give it data of its own.
    pub fn names(&self) -> Vec<NameGroup> {
        // At most one group per RRset, and room never written costs no memory: grown by
        // doubling instead, the 2.5M groups of a 1M-delegation NSEC3 zone were copied
        // to fresh pages again and again, a third of this walk's time.
        let mut groups = Vec::with_capacity(self.rrsets.len());
        let mut cut: Option<&Name> = None;
        let mut i = 0;
        while i < self.rrsets.len() {
            let owner = &self.rrsets[i].owner;
            let start = i;
            while i < self.rrsets.len() && self.rrsets[i].owner == *owner {
                i += 1;
            }
            let types = || self.rrsets[start..i].iter().map(|s| s.rtype);
            let below_cut = cut.is_some_and(|c| owner != c && owner.is_subdomain_of(c));
            let kind = if types().all(|t| t == rtype::NSEC3) && self.hangs_below_apex(owner) {
                // An NSEC3 owner (RFC 5155 §7.1) is signed even where an apex DNAME
                // occludes the zone's data: it is not data, it denies it.
                NameKind::Authoritative
            } else if below_cut || !owner.is_subdomain_of(&self.origin) {
                NameKind::Occluded
            } else if *owner == self.origin {
                NameKind::Apex
            } else if types().any(|t| t == rtype::NS) {
                NameKind::Delegation
            } else {
                NameKind::Authoritative
            };
            // A zone cut (NS below the apex) or a DNAME anywhere, the apex included,
            // occludes every name below it (RFC 6672 §2.4, RFC 4035 §2.2); the DNAME's
            // owner itself is not redirected and stays signed (RFC 6672 §2.3).
            if kind != NameKind::Occluded
                && (kind == NameKind::Delegation || types().any(|t| t == rtype::DNAME))
            {
                cut = Some(owner);
            }
            groups.push(NameGroup {
                range: start..i,
                kind,
            });
        }
        #[cfg(test)]
        test_hook::apply(self, &mut groups);
        groups
    }
}

/// A zone from master-file text at `se.`, unchecked: for unit tests of the stages.
#[cfg(test)]
pub(crate) fn test_zone(text: &str) -> Zone {
    let origin = Name::parse(b"se.", None).expect("se.");
    let parsed = crate::dns::zonefile::parse_bytes(text.as_bytes(), "t.zone".as_ref(), &origin)
        .expect("test zone parses");
    Zone::from_records(origin, parsed.records).0
}

/// A deliberately broken classifier for the signing side, to prove that the gate
/// (DPS-6.6), which reads names on its own ([`crate::dnssec::verify`]), refuses what a
/// misclassifying signer makes.
///
/// It exists only under `cfg(test)`: compiled into this crate's unit tests and nowhere
/// else (not the binary, not a release build, not the integration tests, which link the
/// library built without it), so nothing outside a unit test can switch it on. The
/// rule is per thread and undone when the guard drops; [`Zone::names`] runs on the
/// calling thread for both the NSEC chain ([`nsec::add_chain`]) and the signing plan
/// ([`crate::dnssec::sign::sign_zone`]).
#[cfg(test)]
pub(crate) mod test_hook {
    use std::cell::Cell;
    use std::marker::PhantomData;

    use super::{Name, NameGroup, NameKind, Zone};

    /// Maps a name and its correct kind to the kind the broken signer uses.
    pub(crate) type Rule = fn(&Name, NameKind) -> NameKind;

    thread_local! {
        static RULE: Cell<Option<Rule>> = const { Cell::new(None) };
    }

    /// While this lives, [`Zone::names`] on this thread applies the rule.
    pub(crate) struct Misclassify {
        _this_thread: PhantomData<*const ()>,
    }

    /// Installs `rule` on this thread until the returned guard drops.
    pub(crate) fn misclassify(rule: Rule) -> Misclassify {
        RULE.set(Some(rule));
        Misclassify {
            _this_thread: PhantomData,
        }
    }

    impl Drop for Misclassify {
        fn drop(&mut self) {
            RULE.set(None);
        }
    }

    pub(super) fn apply(zone: &Zone, groups: &mut [NameGroup]) {
        if let Some(rule) = RULE.get() {
            for g in groups {
                g.kind = rule(&zone.rrsets[g.range.start].owner, g.kind);
            }
        }
    }
}

/// Where each RRset's run of records starts in `data` (sorted canonically): at the
/// first record and wherever owner or type changes. Found on all cores.
fn rrset_starts(data: &[Record]) -> Vec<usize> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    data.par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, part)| {
            let base = c * CHUNK;
            (0..part.len()).map(move |i| base + i).filter(|&g| {
                g == 0 || data[g - 1].owner != data[g].owner || data[g - 1].rtype != data[g].rtype
            })
        })
        .collect()
}

/// Builds the RRsets of `data` (sorted; `starts` from [`rrset_starts`]) onto the end of
/// `rrsets`, in pieces on all cores, each RRset straight into its place; returns the TTL
/// disagreements in zone order.
///
/// Each record's RDATA is freed as soon as its RRset holds a copy, as the one-by-one
/// grouping did: keeping all of it until the end raised the 1M full sign's peak by
/// about 80 MiB, past issue #5's 1 GiB.
fn group_into(data: &mut [Record], starts: &[usize], rrsets: &mut Vec<RRset>) -> Vec<TtlMismatch> {
    const PIECE: usize = 8192;
    let count = starts.len();
    let mut rest = data;
    let mut parts = Vec::with_capacity(count.div_ceil(PIECE));
    for first in (0..count).step_by(PIECE) {
        let next = (first + PIECE).min(count);
        let taken = starts
            .get(next)
            .map_or(rest.len(), |&end| end - starts[first]);
        let (records, after) = rest.split_at_mut(taken);
        rest = after;
        parts.push((next - first, (first, next, records)));
    }
    let found =
        crate::parallel::extend_in_parallel(rrsets, parts, |(first, next, records), slots| {
            let base = starts[first];
            let mut found = Vec::new();
            for k in first..next {
                let end = starts.get(k + 1).map_or(base + records.len(), |&e| e);
                let run = &mut records[starts[k] - base..end - base];
                let set = rrset_of(run);
                found.extend(ttl_mismatch(&set, run));
                slots.push(set);
                for r in run {
                    r.rdata = Box::default();
                }
            }
            found
        });
    found.into_iter().flatten().collect()
}

/// The RRset of one run of records (same owner and type, sorted): the lowest TTL
/// (RFC 2181 §5.2; the checks stage warns about the difference), each distinct RDATA
/// once (duplicates sort next to each other), in one allocation of the exact size.
fn rrset_of(run: &[Record]) -> RRset {
    let first = &run[0];
    let distinct = || {
        run.iter()
            .enumerate()
            .filter(|&(i, r)| i == 0 || run[i - 1].rdata != r.rdata)
            .map(|(_, r)| &r.rdata[..])
    };
    let mut bytes = Vec::with_capacity(distinct().map(|d| 2 + d.len()).sum());
    for rdata in distinct() {
        push_prefixed(&mut bytes, rdata);
    }
    RRset {
        owner: first.owner.clone(),
        rtype: first.rtype,
        ttl: run.iter().map(|r| r.ttl).min().unwrap_or(first.ttl),
        rdatas: Rdatas {
            bytes: bytes.into_boxed_slice(),
        },
        sigs: Vec::new(),
        loc: first.loc,
    }
}

/// The TTL disagreement inside one run of records, if its TTLs differ.
fn ttl_mismatch(set: &RRset, run: &[Record]) -> Option<TtlMismatch> {
    let highest = run.iter().map(|r| r.ttl).max()?;
    (highest != set.ttl).then(|| TtlMismatch {
        owner: set.owner.clone(),
        rtype: set.rtype,
        lowest: set.ttl,
        highest,
        loc: set.loc,
    })
}

/// Whether RRSIG record `s` sorts before RRset `set` in the order signatures are
/// matched in: owner, then covered type. RDATA too short for a covered type counts as
/// its octets padded with zeros, which keeps the order of the sorted RDATA.
fn sig_sorts_before(s: &Record, set: &RRset) -> bool {
    let covered = u16::from_be_bytes([
        s.rdata.first().copied().unwrap_or(0),
        s.rdata.get(1).copied().unwrap_or(0),
    ]);
    s.owner
        .cmp(&set.owner)
        .then(covered.cmp(&set.rtype))
        .is_lt()
}

/// Attaches one stretch of sorted signatures to one piece of RRsets in a merge walk
/// (see [`Zone::attach_sigs`]); returns those that cover no RRset of the piece.
fn attach_piece(sets: &mut [RRset], sigs: &mut [Record]) -> Vec<(Name, u16, Sig)> {
    let mut orphans = Vec::new();
    let mut j = 0;
    for s in sigs {
        let covered = covered_type(&s.rdata);
        let sig = Sig {
            ttl: s.ttl,
            rdata: std::mem::take(&mut s.rdata),
            provenance: Provenance::Unchecked,
        };
        let Some(t) = covered else {
            orphans.push((s.owner.clone(), 0, sig));
            continue;
        };
        let key = |set: &RRset| set.owner.cmp(&s.owner).then(set.rtype.cmp(&t));
        while j < sets.len() && key(&sets[j]).is_lt() {
            j += 1;
        }
        match sets.get_mut(j) {
            Some(set) if set.owner == s.owner && set.rtype == t => {
                if !set.sigs.contains(&sig) {
                    set.sigs.push(sig);
                }
            }
            _ => orphans.push((s.owner.clone(), t, sig)),
        }
    }
    orphans
}

/// The "type covered" field of RRSIG RDATA, or `None` if the RDATA is too short.
pub fn covered_type(rrsig_rdata: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([
        *rrsig_rdata.first()?,
        *rrsig_rdata.get(1)?,
    ]))
}

/// Whether RRset `a` sorts before `b` in zone order: owner (canonical), then type;
/// equal is not before. The order of [`Zone::rrsets`], of snapshots and of every merge
/// of two RRset lists.
pub fn sorts_before(a: &RRset, b: &RRset) -> bool {
    a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype)).is_lt()
}

/// Whether an RRset of type `t` at a name of kind `kind` is signed (DPS-6.2, RFC 4035 §2.2).
///
/// At a delegation only DS and NSEC are authoritative; occluded data is never signed.
pub fn is_signed(kind: NameKind, t: u16) -> bool {
    match kind {
        NameKind::Apex | NameKind::Authoritative => t != rtype::RRSIG,
        NameKind::Delegation => t == rtype::DS || t == rtype::NSEC,
        NameKind::Occluded => false,
    }
}

/// Whether a name of this kind is an owner in the NSEC chain (DPS-6.2).
pub fn in_nsec_chain(kind: NameKind) -> bool {
    kind != NameKind::Occluded
}

/// Sorts records by (owner in canonical order, type, RDATA, source location): the order
/// RRsets are grouped and written in.
///
/// Parallel, and in place apart from a 16-octet key per record: a copy of millions of
/// records would double the peak memory. Comparisons run on a flat array of
/// [`Name::canonical_key_below`] keys, so only records whose keys tie (mostly one
/// owner's own records) look at the names; the source location breaks the last ties so
/// the result, and each RRset's `loc`, is deterministic.
fn sort_canonical(records: &mut [Record], origin: &Name) {
    use rayon::prelude::*;
    let full = |a: &Record, b: &Record| {
        a.owner
            .cmp(&b.owner)
            .then(a.rtype.cmp(&b.rtype))
            .then_with(|| a.rdata.cmp(&b.rdata))
            .then(a.loc.cmp(&b.loc))
    };
    // (key, index); index bit 31 marks a name outside the origin, which has no key.
    const OUTSIDE: u32 = 1 << 31;
    let Ok(len) = u32::try_from(records.len()) else {
        records.par_sort_unstable_by(full);
        return;
    };
    if len >= OUTSIDE {
        records.par_sort_unstable_by(full);
        return;
    }
    let mut keys: Vec<(u64, u32)> = records
        .par_iter()
        .zip(0..len)
        .map(|(r, i)| match r.owner.canonical_key_below(origin) {
            Some(k) => (k, i),
            None => (0, i | OUTSIDE),
        })
        .collect();
    let rec = &*records;
    keys.par_sort_unstable_by(|&(ka, ia), &(kb, ib)| {
        let inside = ia & OUTSIDE == 0 && ib & OUTSIDE == 0;
        if inside && ka != kb {
            return ka.cmp(&kb);
        }
        full(
            &rec[(ia & !OUTSIDE) as usize],
            &rec[(ib & !OUTSIDE) as usize],
        )
    });
    let order: Vec<u32> = keys.into_iter().map(|(_, i)| i & !OUTSIDE).collect();
    apply_permutation(records, order);
}

/// Reorders `v` in place so that `v[i]` becomes the old `v[order[i]]`, following each
/// cycle of the permutation with swaps (no second vector of records).
fn apply_permutation<T>(v: &mut [T], mut order: Vec<u32>) {
    for start in 0..v.len() {
        let mut pos = start;
        loop {
            let next = order[pos] as usize;
            order[pos] = pos as u32;
            if next == start {
                break;
            }
            v.swap(pos, next);
            pos = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text.as_bytes(), None).unwrap()
    }

    /// `old` with `new` merged in by [`Zone::merge_rrsets`].
    fn merged(old: Vec<RRset>, new: Vec<RRset>) -> Vec<RRset> {
        let mut zone = Zone {
            origin: Name::root(),
            rrsets: old,
            orphan_sigs: Vec::new(),
        };
        zone.merge_rrsets(new);
        zone.rrsets
    }

    /// The merge gives what sorting both lists together gives, the new RRset
    /// kept where both have an owner and type, whatever the mix.
    #[test]
    fn merge_equals_the_sorted_union() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..200 {
            let pick = |next: &mut dyn FnMut(u64) -> u64, tag: &[u8]| {
                let n = next(20);
                let mut sets: Vec<RRset> = (0..n)
                    .map(|_| RRset {
                        owner: name(&format!("n{}.example.", next(12))),
                        rtype: [rtype::A, rtype::NS, rtype::NSEC3][next(3) as usize],
                        ttl: 0,
                        rdatas: Rdatas::one(tag),
                        sigs: Vec::new(),
                        loc: SourceLoc::default(),
                    })
                    .collect();
                sets.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype)));
                sets.dedup_by(|a, b| a.owner == b.owner && a.rtype == b.rtype);
                sets
            };
            let old = pick(&mut next, b"old");
            let new = pick(&mut next, b"new");
            let mut want: Vec<RRset> = new.clone();
            want.extend(
                old.iter()
                    .filter(|o| !new.iter().any(|n| n.owner == o.owner && n.rtype == o.rtype))
                    .cloned(),
            );
            want.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype)));
            let key = |v: &[RRset]| -> Vec<(String, u16, Vec<u8>)> {
                v.iter()
                    .map(|s| (s.owner.to_string(), s.rtype, s.rdatas[0].to_vec()))
                    .collect()
            };
            assert_eq!(key(&merged(old, new)), key(&want));
        }
    }

    /// An RRset already at an NSEC3 owner and type is replaced, never doubled.
    #[test]
    fn merge_replaces_same_owner_and_type() {
        let set = |owner: &str, rtype: u16, rdata: &[u8]| RRset {
            owner: name(owner),
            rtype,
            ttl: 0,
            rdatas: Rdatas::one(rdata),
            sigs: Vec::new(),
            loc: SourceLoc::default(),
        };
        let old = vec![
            set("example.", rtype::SOA, b"s"),
            set("example.", rtype::NSEC3PARAM, b"old"),
            set("b.example.", rtype::A, b"a"),
        ];
        let new = vec![
            set("example.", rtype::NSEC3PARAM, b"new"),
            set("a.example.", rtype::NSEC3, b"n"),
            set("c.example.", rtype::NSEC3, b"n"),
        ];
        let merged: Vec<(String, u16, Vec<u8>)> = merged(old, new)
            .iter()
            .map(|s| (s.owner.to_string(), s.rtype, s.rdatas[0].to_vec()))
            .collect();
        assert_eq!(
            merged,
            [
                ("example.".into(), rtype::SOA, b"s".to_vec()),
                ("example.".into(), rtype::NSEC3PARAM, b"new".to_vec()),
                ("a.example.".into(), rtype::NSEC3, b"n".to_vec()),
                ("b.example.".into(), rtype::A, b"a".to_vec()),
                ("c.example.".into(), rtype::NSEC3, b"n".to_vec()),
            ]
        );
    }

    #[test]
    fn apply_permutation_follows_every_cycle() {
        let mut v: Vec<u32> = (0..10).map(|i| i * 10).collect();
        let order = vec![3, 0, 1, 2, 4, 9, 8, 7, 6, 5];
        apply_permutation(&mut v, order.clone());
        let want: Vec<u32> = order.iter().map(|&i| i * 10).collect();
        assert_eq!(v, want);
    }

    /// The keyed parallel sort gives exactly the order of the plain comparison sort
    /// (RFC 4034 §6.1 owners, then type, RDATA, source line), also for names with
    /// upper case, escaped octets and names outside the origin.
    #[test]
    fn keyed_sort_equals_plain_canonical_sort() {
        let origin = Name::parse(b"se.", None).unwrap();
        let mut next = crate::dns::name::test_rng(0x2545_f491_4f6c_dd1du64);
        let owners = [
            "se.",
            "a.se.",
            "A.se.",
            "b.a.se.",
            "\\000.se.",
            "\\001x.se.",
            "abcdefghij.se.",
            "abcdefghik.se.",
            "abcdefghij.abcdefghij.se.",
            "*.se.",
            "other.",
            "z.other.",
            "xn--a.se.",
        ];
        let mut records = Vec::new();
        for line in 0..3_000u32 {
            let owner = owners[(next() % owners.len() as u64) as usize];
            records.push(Record {
                owner: Name::parse(owner.as_bytes(), None).unwrap(),
                rtype: [rtype::A, rtype::NS, rtype::DS, rtype::SOA][(next() % 4) as usize],
                class: 1,
                ttl: 3600,
                rdata: vec![(next() % 3) as u8].into_boxed_slice(),
                loc: SourceLoc { file: 0, line },
            });
        }
        let mut plain = records.clone();
        plain.sort_by(|a, b| {
            a.owner
                .cmp(&b.owner)
                .then(a.rtype.cmp(&b.rtype))
                .then_with(|| a.rdata.cmp(&b.rdata))
                .then(a.loc.cmp(&b.loc))
        });
        sort_canonical(&mut records, &origin);
        let lines = |v: &[Record]| v.iter().map(|r| r.loc.line).collect::<Vec<_>>();
        assert_eq!(lines(&records), lines(&plain));
    }

    /// The compact RDATA list gives back exactly what was put in, in order: empty,
    /// zero-length and maximum-length (65535-octet) RDATA included; the SOA serial can
    /// be changed in place through `first_mut`.
    #[test]
    fn rdatas_give_back_every_record_in_order() {
        let long = vec![7u8; 65535];
        let records: Vec<&[u8]> = vec![b"\x01\x02", b"", &long, b"abc"];
        let set: Rdatas = records.iter().collect();
        assert_eq!(set.len(), 4);
        assert_eq!(set.iter().collect::<Vec<_>>(), records);
        assert_eq!(&set[2], &long[..]);
        assert_eq!(set.get(4), None);
        assert!(Rdatas::default().is_empty() && Rdatas::default().first().is_none());
        let mut one = Rdatas::one(b"serial");
        one.first_mut().unwrap()[0] = b'S';
        assert_eq!(one.first(), Some(&b"Serial"[..]));
    }

    /// Grouping keeps each RRset's records in canonical (byte) order and drops exact
    /// duplicates, also when a set has many records (RFC 4034 §6.3, RFC 2181 §5).
    #[test]
    fn grouping_orders_rdata_and_drops_duplicates() {
        let origin = Name::parse(b"se.", None).unwrap();
        let rec = |owner: &str, rtype: u16, rdata: &[u8], line| Record {
            owner: Name::parse(owner.as_bytes(), None).unwrap(),
            rtype,
            class: 1,
            ttl: 3600,
            rdata: rdata.into(),
            loc: SourceLoc { file: 0, line },
        };
        let mut records = Vec::new();
        for i in (0..500u32).rev() {
            records.push(rec("a.se.", 1, &i.to_be_bytes(), i));
            records.push(rec("a.se.", 1, &i.to_be_bytes(), 1000 + i));
        }
        records.push(rec("b.se.", 1, &[1], 2000));
        let (zone, _) = Zone::from_records(origin, records);
        assert_eq!(zone.rrsets.len(), 2);
        let a: Vec<&[u8]> = zone.rrsets[0].rdatas.iter().collect();
        let want: Vec<[u8; 4]> = (0..500u32).map(u32::to_be_bytes).collect();
        assert_eq!(a, want.iter().map(|w| &w[..]).collect::<Vec<_>>());
        assert_eq!(
            zone.rrsets[1].rdatas.iter().collect::<Vec<_>>(),
            vec![&[1u8][..]]
        );
    }

    /// Grouping and signature attachment over many pieces (parallel) give what a
    /// record-by-record reading gives: every RRSIG on the RRset of its owner and covered
    /// type, once; orphans (before the first RRset, between pieces, after the last, too
    /// short to name a type) in sorted order; TTL disagreements with lowest and highest.
    #[test]
    fn grouping_and_signatures_across_pieces() {
        let origin = Name::parse(b"se.", None).unwrap();
        let rec = |owner: String, rtype: u16, ttl: u32, rdata: Vec<u8>| Record {
            owner: Name::parse(owner.as_bytes(), None).unwrap(),
            rtype,
            class: 1,
            ttl,
            rdata: rdata.into(),
            loc: SourceLoc { file: 0, line: 1 },
        };
        let sig = |covered: u16, tag: u8| {
            let mut r = covered.to_be_bytes().to_vec();
            r.extend([tag; 20]);
            r
        };
        let n = 3 * 4096 + 77;
        let mut records = Vec::new();
        let mut want_orphans = Vec::new();
        for i in 0..n {
            let owner = format!("d{i:05}.se.");
            records.push(rec(owner.clone(), rtype::NS, 3600, vec![i as u8]));
            records.push(rec(owner.clone(), rtype::DS, 3600, vec![1]));
            records.push(rec(owner.clone(), rtype::RRSIG, 3600, sig(rtype::DS, 1)));
            records.push(rec(owner.clone(), rtype::RRSIG, 3600, sig(rtype::DS, 1)));
            if i % 1000 == 0 {
                records.push(rec(owner.clone(), rtype::RRSIG, 60, sig(rtype::A, 2)));
                want_orphans.push((owner.clone(), rtype::A));
            }
            if i % 4096 == 0 {
                records.push(rec(owner.clone(), rtype::DS, 60, vec![2]));
            }
        }
        records.push(rec("a.se.".into(), rtype::RRSIG, 1, sig(rtype::NS, 3)));
        records.push(rec("zz.se.".into(), rtype::RRSIG, 1, sig(rtype::NS, 3)));
        records.push(rec("d00005.se.".into(), rtype::RRSIG, 1, vec![0]));
        records.reverse();
        let (zone, mismatches) = Zone::from_records(origin, records);
        assert_eq!(zone.rrsets.len(), 2 * n);
        for set in &zone.rrsets {
            let want = usize::from(set.rtype == rtype::DS);
            assert_eq!(set.sigs.len(), want, "{} {}", set.owner, set.rtype);
        }
        let orphans: Vec<(String, u16)> = zone
            .orphan_sigs
            .iter()
            .map(|(o, t, _)| (o.to_string(), *t))
            .collect();
        want_orphans.insert(0, ("a.se.".into(), rtype::NS));
        want_orphans.insert(2, ("d00005.se.".into(), 0));
        want_orphans.push(("zz.se.".into(), rtype::NS));
        assert_eq!(orphans, want_orphans);
        let m: Vec<(String, u32, u32)> = mismatches
            .iter()
            .map(|m| (m.owner.to_string(), m.lowest, m.highest))
            .collect();
        let want: Vec<(String, u32, u32)> = (0..n)
            .step_by(4096)
            .map(|i| (format!("d{i:05}.se."), 60, 3600))
            .collect();
        assert_eq!(m, want);
    }
}
