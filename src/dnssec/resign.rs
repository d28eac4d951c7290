//! Reusing the previous output's signatures: the two-hour cron cycle (DPS-6.5, issue #4).
//!
//! Re-signing two million RRsets every two hours would keep the HSM busy for minutes and
//! make every run a risk. Like OpenDNSSEC and BIND, zonesign keeps a signature from the
//! previous signed zone when the RRset it covers is unchanged (owner, type, TTL, RDATA),
//! it was made by a key still active for that role, its inception is not in the future,
//! and it expires more than the refresh window (policy, 10 days) after now. Everything
//! else is signed anew with the usual jitter, which spreads renewals over many runs.
//!
//! A previous file that is not byte for byte what zonesign wrote and verified (its
//! SHA-256 beside it does not match) is not trusted: its signatures are checked
//! cryptographically before reuse, and bad ones are replaced, never published.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dns::algorithm::Algorithm;
use crate::dns::name::Name;
use crate::dns::record::rtype;
use crate::dns::zonefile;
use crate::dnssec::crypto::VerifyingKey;
use crate::dnssec::keys::Role;
use crate::dnssec::policy::{Policy, expand_rrsig_time};
use crate::dnssec::rrsig::{self, Rrsig};
use crate::store::output::{Copied, is_proven, recorded_hash};
use crate::store::previous::{PreviousText, Shape};
use crate::store::snapshot::{SnapshotFile, snapshot_path};
use crate::zone::checks::{self, Findings};
use crate::zone::{NameGroup, Provenance, RRset, Sig, Zone, is_signed, sorts_before};

/// The previous signed zone, as read back.
pub struct Previous {
    /// Its RRsets with their signatures.
    pub old: OldZone,
    /// Its apex SOA and ZONEMD RRsets (the ZONEMD placeholder may reuse the latter).
    pub apex: Zone,
    /// True when the file is byte for byte what zonesign wrote and verified.
    pub proven: bool,
    /// Its SOA serial.
    pub serial: u32,
    /// Where it was read from.
    pub path: PathBuf,
    /// The proven text, open, with where each of its RRsets is in it, when the zone
    /// came from the snapshot beside it: unchanged RRsets are then copied, not rendered
    /// again.
    pub text: Option<PreviousText>,
}

/// Where the previous RRsets come from.
pub enum OldZone {
    /// The proven snapshot, read a block at a time during [`attach`] (issue #25).
    Snapshot(SnapshotFile),
    /// The text, parsed whole (no proven snapshot: another signer's output, or one
    /// changed by hand).
    Parsed(Zone),
}

impl OldZone {
    fn rrsets(&self) -> usize {
        match self {
            OldZone::Snapshot(s) => s.rrsets,
            OldZone::Parsed(z) => z.rrsets.len(),
        }
    }

    fn orphans(&self) -> usize {
        match self {
            OldZone::Snapshot(s) => s.orphan_sigs.len(),
            OldZone::Parsed(z) => z.orphan_sigs.len(),
        }
    }
}

/// Reads the previous output. `Ok(None)` when there is none; `Err` (a warning for the
/// operator) when it exists but cannot be used, in which case nothing from it is reused.
///
/// With a proven snapshot beside it, the snapshot and the text are each read once as a
/// stream (see [`crate::store::snapshot::SnapshotFile`], [`crate::store::previous`]) and
/// held by neither; the RRsets are read again block by block by [`attach`]. Without
/// one, the text is parsed whole.
pub fn load_previous(path: &Path, origin: &Name) -> Result<Option<Previous>, String> {
    let unusable = |e: std::io::Error| format!("{}: {e}; no signature is reused", path.display());
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unusable(e)),
    };
    let from_snapshot = match open_snapshot(path, origin) {
        Some((mut snap, apex)) => {
            let shape = Shape {
                lines: &snap.lines,
                apex_soa: snap.apex_soa,
                orphans: snap.orphan_sigs.len(),
            };
            let scan = crate::store::previous::scan(file, &shape).map_err(unusable)?;
            snap.lines = Vec::new();
            let proven = recorded_hash(path, path).is_some_and(|h| h == scan.sha256);
            proven.then_some((snap, apex, scan.text))
        }
        None => None,
    };
    let (old, apex, proven, text) = match from_snapshot {
        Some((snap, apex, text)) => (OldZone::Snapshot(snap), apex, true, text),
        None => {
            // Read whole: proven on the very bytes that are parsed.
            let bytes = std::fs::read(path).map_err(unusable)?;
            let proven = is_proven(path, &bytes);
            let zone = parse_previous(path, &bytes, origin)?;
            let apex = apex_of(origin, &zone.rrsets);
            (OldZone::Parsed(zone), apex, proven, None)
        }
    };
    let serial = apex
        .soa()
        .and_then(|s| soa_serial(&s.rdatas[0]))
        .ok_or_else(|| {
            format!(
                "{}: previous signed zone has no SOA; no signature is reused",
                path.display()
            )
        })?;
    Ok(Some(Previous {
        old,
        apex,
        proven,
        serial,
        path: path.to_path_buf(),
        text,
    }))
}

/// The zone of only the apex SOA and ZONEMD RRsets of `origin` found in `sets`.
fn apex_of(origin: &Name, sets: &[RRset]) -> Zone {
    Zone {
        origin: origin.clone(),
        rrsets: sets
            .iter()
            .filter(|s| s.owner == *origin && matches!(s.rtype, rtype::SOA | rtype::ZONEMD))
            .cloned()
            .collect(),
        orphan_sigs: Vec::new(),
    }
}

/// The proven snapshot beside a previous output, open, with its apex SOA and ZONEMD
/// (from its first block, where the apex is); `None` when there is none, it is not the
/// recorded one, or it does not read.
fn open_snapshot(path: &Path, origin: &Name) -> Option<(SnapshotFile, Zone)> {
    let snap_path = snapshot_path(path);
    let file = std::fs::File::open(&snap_path).ok()?;
    let (snap, sha) = crate::store::snapshot::scan(file, origin).ok()?;
    if recorded_hash(path, &snap_path).is_none_or(|h| h != sha) {
        return None;
    }
    let first = if snap.blocks() > 0 {
        snap.block(0).ok()?
    } else {
        Vec::new()
    };
    Some((snap, apex_of(origin, &first)))
}

/// Parses the previous output's text and groups it into RRsets.
fn parse_previous(path: &Path, bytes: &[u8], origin: &Name) -> Result<Zone, String> {
    let parsed = zonefile::parse_bytes(bytes, path, origin)
        .map_err(|e| format!("previous signed zone unreadable ({e}); no signature is reused"))?;
    let mut f = Findings::new(&parsed.files);
    checks::check_records(origin, &parsed.records, &mut f);
    if let Some(first) = f.into_errors().first() {
        return Err(format!(
            "previous signed zone is not for {origin} ({first}); no signature is reused"
        ));
    }
    Ok(Zone::from_records(origin.clone(), parsed.records).0)
}

/// The SOA serial: the 4 bytes 20 before the end of SOA RDATA.
pub fn soa_serial(rdata: &[u8]) -> Option<u32> {
    let at = rdata.len().checked_sub(20)?;
    Some(u32::from_be_bytes(rdata.get(at..at + 4)?.try_into().ok()?))
}

/// Sets the SOA serial of the zone (no-op without a SOA).
pub fn set_serial(zone: &mut Zone, serial: u32) {
    let origin = zone.origin.clone();
    if let Some(i) = zone.find(&origin, rtype::SOA)
        && let Some(rdata) = zone.rrsets[i].rdatas.first_mut()
        && let Some(at) = rdata.len().checked_sub(20)
    {
        rdata[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    }
}

/// A key that signs in this run, as the reuse decision needs it.
pub struct ActiveKey {
    /// Key tag.
    pub tag: u16,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// What it signs (DPS-6.1).
    pub role: Role,
    /// Its public key, to check signatures of an unproven previous file.
    pub key: VerifyingKey,
}

/// Why a signature is made anew; the dry run and the report list these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The RRset is new, or its data or TTL changed.
    Changed,
    /// The previous signature expires within the refresh window (or is not yet valid).
    Expiring,
    /// No previous signature by this key: a new or rolled key (a retired key's are dropped).
    Key,
    /// The previous signature failed its cryptographic check (unproven previous file).
    Untrusted,
}

impl Reason {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Changed => "changed",
            Reason::Expiring => "expiring",
            Reason::Key => "key",
            Reason::Untrusted => "untrusted",
        }
    }
}

/// How many [`ReusePlan::details`] are kept.
pub const LISTED_DETAILS: usize = 100;

/// The outcome of comparing the new zone with the previous one.
#[derive(Debug, Default)]
pub struct ReusePlan {
    /// Signatures carried over.
    pub reused: usize,
    /// Signatures to make, per reason.
    pub reasons: BTreeMap<Reason, usize>,
    /// The first RRsets that need a signature, with the reason: (owner, type, reason).
    pub details: Vec<(String, String, Reason)>,
    /// Owner names in the new zone but not in the previous one.
    pub names_added: usize,
    /// Owner names in the previous zone but not in the new one.
    pub names_removed: usize,
    /// True when the new zone has exactly the previous zone's RRsets and signatures.
    pub identical: bool,
    /// Per RRset of the new zone (empty when the previous text is not at hand): where
    /// the previous output has it exactly as this run will write it, with the same
    /// records and signatures in the same order (see [`crate::store::output::TextCopy`]).
    pub copy: Vec<Option<Copied>>,
    /// Why reuse stopped part way (the previous zone could not be read to the end).
    pub warning: Option<String>,
}

impl ReusePlan {
    /// Signatures that must be made.
    pub fn to_make(&self) -> usize {
        self.reasons.values().sum()
    }

    fn need(&mut self, set: &RRset, reason: Reason) {
        *self.reasons.entry(reason).or_default() += 1;
        if self.details.len() < LISTED_DETAILS {
            self.details.push((
                set.owner.to_string(),
                crate::dns::rdata::type_name(set.rtype),
                reason,
            ));
        }
    }
}

/// Old blocks decoded and compared at a time, on all cores: a few megabytes each.
const BLOCKS_AT_ONCE: usize = 4;
/// RRsets per block of a parsed previous zone (the snapshot's own blocks are as many).
const PARSED_BLOCK: usize = 32_768;

/// Attaches the previous zone's still-good signatures to `zone` and says what is left
/// to sign and why. `zone` must be complete (DNSKEY and NSEC included) and unsigned.
///
/// The previous zone is read a few blocks at a time, in canonical order, and each block
/// is compared with the stretch of the new zone whose RRsets sort among its own (a
/// merge join: both are in canonical order), so it is never whole in memory (issue
/// #25). A block that can no longer be read as proven ends the reuse there: the rest is
/// signed anew, and [`ReusePlan::warning`] says why.
pub fn attach(
    zone: &mut Zone,
    prev: &mut Previous,
    keys: &[ActiveKey],
    policy: &Policy,
    now: i64,
) -> ReusePlan {
    let groups = zone.names();
    // The zone's RRsets are lent out piece by piece below; the context keeps its own origin.
    let origin = zone.origin.clone();
    let ctx = AttachContext {
        origin: &origin,
        keys,
        policy,
        now,
        proven: prev.proven,
        text_rrsets: prev.text.as_ref().map(PreviousText::rrsets),
    };
    let mut join = Join {
        plan: ReusePlan::default(),
        identical: zone.rrsets.len() == prev.old.rrsets() && prev.old.orphans() == 0,
        names: NameCount::default(),
        compared: 0,
        carry: None,
    };
    if ctx.text_rrsets.is_some() {
        join.plan.copy.reserve(zone.rrsets.len());
    }
    let mut source = OldBlocks::of(&mut prev.old);
    loop {
        let batch = source.next_batch(BLOCKS_AT_ONCE);
        if batch.is_empty() {
            break;
        }
        let mut blocks = Vec::with_capacity(batch.len());
        let mut failed = None;
        for block in batch {
            match block {
                Ok(b) if b.is_empty() => {}
                Ok(b) => blocks.push(b),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Err(e) = join.add(&ctx, zone, &groups, blocks) {
            failed = Some(e);
        }
        if let Some(e) = failed {
            join.plan.warning = Some(format!(
                "{}: {e}; signatures after that point are made anew",
                prev.path.display()
            ));
            join.identical = false;
            break;
        }
    }
    join.finish(&ctx, zone, &groups)
}

/// The merge join of [`attach`] in progress.
struct Join {
    plan: ReusePlan,
    identical: bool,
    names: NameCount,
    /// Where the new zone's RRsets not yet compared start.
    compared: usize,
    /// The last block read: its stretch of the new zone ends where the next block's
    /// begins, unknown until that block is read.
    carry: Option<OldBlock>,
}

/// A block of the previous zone on its way through the join.
struct OldBlock {
    /// Where its stretch of the new zone starts.
    new_start: usize,
    /// Index of its first RRset in the previous zone.
    old_base: usize,
    sets: Vec<RRset>,
}

impl Join {
    /// Compares the carried block and all of `blocks` but the last, which is carried.
    fn add(
        &mut self,
        ctx: &AttachContext,
        zone: &mut Zone,
        groups: &[NameGroup],
        blocks: Vec<Vec<RRset>>,
    ) -> Result<(), String> {
        let mut pending: Vec<OldBlock> = self.carry.take().into_iter().collect();
        for sets in blocks {
            let (new_start, old_base) = match pending.last() {
                Some(before) => {
                    // Snapshot blocks are each in order; so must they be one after another.
                    let (prev_last, first) = (&before.sets[before.sets.len() - 1], &sets[0]);
                    if !sorts_before(prev_last, first) {
                        return Err("the previous zone is out of canonical order".into());
                    }
                    let start = zone.rrsets.partition_point(|s| sorts_before(s, first));
                    (start, before.old_base + before.sets.len())
                }
                None => (0, 0),
            };
            self.names.walk(zone, groups, &sets);
            pending.push(OldBlock {
                new_start,
                old_base,
                sets,
            });
        }
        self.carry = pending.pop();
        let end = self
            .carry
            .as_ref()
            .map_or(zone.rrsets.len(), |c| c.new_start);
        self.compare(ctx, zone, groups, pending, end);
        Ok(())
    }

    /// Compares each block with its stretch of the new zone (up to the next block's
    /// start, the last one up to `end`), on all cores, then frees the blocks.
    fn compare(
        &mut self,
        ctx: &AttachContext,
        zone: &mut Zone,
        groups: &[NameGroup],
        mut blocks: Vec<OldBlock>,
        end: usize,
    ) {
        use rayon::prelude::*;
        let Some(first) = blocks.first().map(|b| b.new_start) else {
            return;
        };
        let ends: Vec<usize> = blocks
            .iter()
            .skip(1)
            .map(|b| b.new_start)
            .chain([end])
            .collect();
        let mut rest = &mut zone.rrsets[first..end];
        let mut parts = Vec::with_capacity(blocks.len());
        for (block, &stop) in blocks.iter_mut().zip(&ends) {
            let (new, after) = std::mem::take(&mut rest).split_at_mut(stop - block.new_start);
            rest = after;
            parts.push(Part {
                groups: clip(groups, block.new_start..stop),
                new_base: block.new_start,
                new,
                old_base: block.old_base,
                old: &mut block.sets,
            });
        }
        let done: Vec<ReusePlan> = parts
            .into_par_iter()
            .map(|part| attach_part(ctx, part))
            .collect();
        blocks.into_par_iter().for_each(drop);
        self.compared = end;
        for part in done {
            self.identical &= part.identical;
            self.plan.reused += part.reused;
            for (reason, n) in part.reasons {
                *self.plan.reasons.entry(reason).or_default() += n;
            }
            let room = LISTED_DETAILS - self.plan.details.len();
            self.plan
                .details
                .extend(part.details.into_iter().take(room));
            self.plan.copy.extend(part.copy);
        }
    }

    /// Compares the carried block (or, without any, an empty one) with what is left of
    /// the new zone, and gives the plan.
    fn finish(mut self, ctx: &AttachContext, zone: &mut Zone, groups: &[NameGroup]) -> ReusePlan {
        let last = self.carry.take().unwrap_or(OldBlock {
            new_start: self.compared,
            old_base: 0,
            sets: Vec::new(),
        });
        let end = zone.rrsets.len();
        self.compare(ctx, zone, groups, vec![last], end);
        self.names.finish(groups);
        self.plan.names_added = self.names.added;
        self.plan.names_removed = self.names.removed;
        self.plan.identical = self.identical && self.plan.to_make() == 0;
        self.plan
    }
}

/// What every piece of the comparison shares.
struct AttachContext<'a> {
    origin: &'a Name,
    keys: &'a [ActiveKey],
    policy: &'a Policy,
    now: i64,
    proven: bool,
    /// How many RRsets the previous text has, when unchanged ones can be copied from it.
    text_rrsets: Option<usize>,
}

/// One piece of the comparison: a block of the previous zone and the stretch of the
/// new zone whose RRsets sort among its own.
struct Part<'a> {
    /// The new zone's names in the stretch (the first and last perhaps cut to it).
    groups: Vec<NameGroup>,
    /// Index of `new[0]` in the new zone.
    new_base: usize,
    new: &'a mut [RRset],
    /// Index of `old[0]` in the previous zone.
    old_base: usize,
    old: &'a mut [RRset],
}

/// Compares one piece: attaches each RRset's reusable signatures, says what is left to
/// sign and why, and where unchanged RRsets can be copied from the previous text.
///
/// The piece's plan has no name counts; `identical` says only that the piece matched.
fn attach_part(ctx: &AttachContext, part: Part) -> ReusePlan {
    let mut plan = ReusePlan {
        identical: true,
        ..ReusePlan::default()
    };
    if ctx.text_rrsets.is_some() {
        plan.copy = vec![None; part.new.len()];
    }
    // Both zones are in canonical order: one merge walk finds each RRset's previous
    // version (a binary search per RRset cost millions of name comparisons).
    let mut j = 0;
    for group in &part.groups {
        for gi in group.range.clone() {
            let i = gi - part.new_base;
            let set = &part.new[i];
            let key = |o: &RRset| o.owner.cmp(&set.owner).then(o.rtype.cmp(&set.rtype));
            while j < part.old.len() && key(&part.old[j]).is_lt() {
                j += 1;
            }
            let old = part.old.get_mut(j).filter(|o| key(o).is_eq());
            let same = old.as_ref().is_some_and(|o| same_data(o, set));
            plan.identical &= same;
            // Written as before only with the same owner octets (case included).
            let same_text = same
                && old
                    .as_ref()
                    .is_some_and(|o| o.owner.as_wire() == set.owner.as_wire());
            // Copied from the previous text when it has this RRset's lines.
            let from = part.old_base + j;
            let range = ctx
                .text_rrsets
                .filter(|&n| same_text && from < n)
                .map(|_| from);
            if !is_signed(group.kind, set.rtype) {
                let unsigned = old.is_none_or(|o| o.sigs.is_empty());
                plan.identical &= unsigned;
                if let Some(from) = range.filter(|_| unsigned) {
                    plan.copy[i] = Copied::new(from, 0, set.ttl);
                }
                continue;
            }
            let role = Role::signing(set.rtype);
            let mut kept = Vec::new();
            let mut all_kept_in_order = true;
            let mut old = old.filter(|_| same);
            for key in ctx.keys.iter().filter(|k| k.role == role) {
                let set = &part.new[i];
                let found = old
                    .as_deref_mut()
                    .map(|o| best_sig(ctx.origin, set, o, key, ctx.policy, ctx.now, ctx.proven));
                match found {
                    Some(Ok((n, sig))) => {
                        all_kept_in_order &= n == kept.len();
                        kept.push(sig);
                    }
                    Some(Err(reason)) => {
                        all_kept_in_order = false;
                        plan.need(set, reason);
                    }
                    None => {
                        all_kept_in_order = false;
                        plan.need(set, Reason::Changed);
                    }
                }
            }
            let all_reused = old.as_ref().is_some_and(|o| o.sigs.len() == kept.len());
            plan.identical &= all_reused;
            let ttl = part.new[i].ttl;
            // The copied lines carry each signature's TTL as written: it must be the set's.
            let same_sig_ttls = old.is_some_and(|o| o.sigs.iter().all(|s| s.ttl == ttl));
            let copyable = all_reused && all_kept_in_order && same_sig_ttls;
            if let Some(from) = range.filter(|_| copyable) {
                plan.copy[i] = Copied::new(from, kept.len(), ttl);
            }
            plan.reused += kept.len();
            part.new[i].sigs = kept;
        }
    }
    plan
}

/// Same owner, type, TTL and RDATA (both are canonical and sorted).
fn same_data(a: &RRset, b: &RRset) -> bool {
    a.ttl == b.ttl && a.rdatas == b.rdatas
}

/// The longest-lived reusable signature by `key` over `set` in `old` (with its position
/// there), or why there is none.
///
/// The chosen signature is moved out of `old` (its RDATA left empty, which no later
/// search can pick): the previous zone is dropped after the comparison, and copying
/// a million signatures only to free the originals cost seconds per cron run.
fn best_sig(
    origin: &Name,
    set: &RRset,
    old: &mut RRset,
    key: &ActiveKey,
    policy: &Policy,
    now: i64,
    proven: bool,
) -> Result<(usize, Sig), Reason> {
    let by_key: Vec<(usize, Rrsig)> = old
        .sigs
        .iter()
        .enumerate()
        .filter_map(|(n, s)| Some((n, Rrsig::parse(&s.rdata)?)))
        .filter(|(_, r)| r.key_tag == key.tag && r.algorithm == key.algorithm.number())
        .collect();
    if by_key.is_empty() {
        return Err(Reason::Key);
    }
    let fresh = |r: &Rrsig| {
        expand_rrsig_time(r.inception, now) <= now
            && expand_rrsig_time(r.expiration, now) > now + i64::from(policy.refresh)
            && r.labels == set.owner.rrsig_labels()
            && r.original_ttl == set.ttl
            && r.signer == *origin
    };
    let mut candidates: Vec<&(usize, Rrsig)> = by_key.iter().filter(|(_, r)| fresh(r)).collect();
    if candidates.is_empty() {
        return Err(Reason::Expiring);
    }
    candidates.sort_by_key(|(_, r)| std::cmp::Reverse(expand_rrsig_time(r.expiration, now)));
    let mut buf = Vec::new();
    let chosen = candidates
        .into_iter()
        .find(|(_, r)| proven || verifies(set, r, &key.key, &mut buf))
        .map(|&(n, _)| n);
    drop(by_key);
    match chosen {
        Some(n) => Ok((
            n,
            Sig {
                ttl: set.ttl,
                rdata: std::mem::take(&mut old.sigs[n].rdata),
                provenance: Provenance::Carried,
            },
        )),
        None => Err(Reason::Untrusted),
    }
}

fn verifies(set: &RRset, r: &Rrsig, key: &VerifyingKey, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    rrsig::signed_data(r.prefix, r.labels, r.original_ttl, set, buf);
    key.verify(buf, r.signature).is_ok()
}

/// Counts owner names added and removed, by a merge of the new zone's names with the
/// previous zone's as its blocks go by.
#[derive(Default)]
struct NameCount {
    /// The next new name (index into the new zone's name groups) not yet matched.
    next: usize,
    added: usize,
    removed: usize,
    /// The previous zone's last owner name, when a block ended with it.
    last: Option<Name>,
}

impl NameCount {
    /// Counts the names of one previous block (the next in order).
    fn walk(&mut self, zone: &Zone, groups: &[NameGroup], block: &[RRset]) {
        let new_name = |g: &NameGroup| &zone.rrsets[g.range.start].owner;
        let mut last = self.last.as_ref();
        for set in block {
            if last == Some(&set.owner) {
                continue;
            }
            last = Some(&set.owner);
            while groups
                .get(self.next)
                .is_some_and(|g| *new_name(g) < set.owner)
            {
                self.added += 1;
                self.next += 1;
            }
            if groups
                .get(self.next)
                .is_some_and(|g| *new_name(g) == set.owner)
            {
                self.next += 1;
            } else {
                self.removed += 1;
            }
        }
        self.last = block.last().map(|s| s.owner.clone());
    }

    /// Counts the new names after the previous zone's last.
    fn finish(&mut self, groups: &[NameGroup]) {
        self.added += groups.len().saturating_sub(self.next);
        self.next = groups.len();
    }
}

/// The name groups of `groups` (the new zone's, in order) within the RRsets `range`,
/// the first and last cut to it: a block of the previous zone may end inside a name.
fn clip(groups: &[NameGroup], range: std::ops::Range<usize>) -> Vec<NameGroup> {
    let from = groups.partition_point(|g| g.range.end <= range.start);
    let to = groups.partition_point(|g| g.range.start < range.end);
    groups[from..to.max(from)]
        .iter()
        .map(|g| NameGroup {
            range: g.range.start.max(range.start)..g.range.end.min(range.end),
            kind: g.kind,
        })
        .collect()
}

/// The previous zone's RRsets, a few blocks at a time.
enum OldBlocks<'a> {
    Snapshot { file: &'a SnapshotFile, next: usize },
    Parsed(std::vec::IntoIter<RRset>),
}

impl<'a> OldBlocks<'a> {
    fn of(old: &'a mut OldZone) -> OldBlocks<'a> {
        match old {
            OldZone::Snapshot(file) => OldBlocks::Snapshot { file, next: 0 },
            OldZone::Parsed(zone) => {
                OldBlocks::Parsed(std::mem::take(&mut zone.rrsets).into_iter())
            }
        }
    }

    /// Up to `n` more blocks, decoded on all cores; none at the end.
    fn next_batch(&mut self, n: usize) -> Vec<Result<Vec<RRset>, String>> {
        use rayon::prelude::*;
        match self {
            OldBlocks::Snapshot { file, next } => {
                let to = (*next + n).min(file.blocks());
                let batch = (*next..to)
                    .into_par_iter()
                    .map(|k| file.block(k).map_err(|e| e.to_string()))
                    .collect();
                *next = to;
                batch
            }
            OldBlocks::Parsed(sets) => (0..n)
                .map(|_| Ok(sets.by_ref().take(PARSED_BLOCK).collect::<Vec<_>>()))
                .take_while(|b| b.as_ref().is_ok_and(|b| !b.is_empty()))
                .collect(),
        }
    }
}

/// The plan when there is no previous zone: every signed RRset needs every key of its role.
pub fn fresh_plan(zone: &Zone, keys: &[ActiveKey]) -> ReusePlan {
    let mut plan = ReusePlan::default();
    for group in zone.names() {
        plan.names_added += 1;
        for set in &zone.rrsets[group.range.clone()] {
            if !is_signed(group.kind, set.rtype) {
                continue;
            }
            let role = Role::signing(set.rtype);
            for _ in keys.iter().filter(|k| k.role == role) {
                plan.need(set, Reason::Changed);
            }
        }
    }
    plan
}

/// Drops the signatures of one RRset whose data changed after [`attach`] (the SOA, when
/// the serial moves forward) and counts them as to be made.
pub fn invalidate(zone: &mut Zone, i: usize, plan: &mut ReusePlan) {
    if let Some(c) = plan.copy.get_mut(i) {
        *c = None;
    }
    let set = &mut zone.rrsets[i];
    let n = set.sigs.len();
    set.sigs.clear();
    plan.reused -= n;
    plan.identical = false;
    let set = &zone.rrsets[i];
    for _ in 0..n {
        plan.need(set, Reason::Changed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(names: impl Iterator<Item = usize>) -> Zone {
        let mut text = String::from("$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n");
        for n in names {
            text.push_str(&format!(
                "d{n} NS ns1.d{n}\nns1.d{n} A 192.0.2.1\nd{n} DS 1 8 2 AABB\n"
            ));
        }
        let origin = Name::parse(b"example.", None).unwrap();
        let parsed = zonefile::parse_bytes(text.as_bytes(), Path::new("t.zone"), &origin).unwrap();
        Zone::from_records(origin, parsed.records).0
    }

    /// A zone with a made-up signature by `tag` (Ed25519) on every RRset the signer
    /// signs: enough for the comparison, which trusts a proven previous zone.
    fn signed(mut z: Zone, tag: u16) -> Zone {
        let groups = z.names();
        for g in groups {
            for set in &mut z.rrsets[g.range.clone()] {
                if !is_signed(g.kind, set.rtype) {
                    continue;
                }
                let mut r = set.rtype.to_be_bytes().to_vec();
                r.extend([15, set.owner.rrsig_labels()]);
                r.extend(set.ttl.to_be_bytes());
                r.extend(2_000_000_000u32.to_be_bytes());
                r.extend(1_700_000_000u32.to_be_bytes());
                r.extend(tag.to_be_bytes());
                r.extend(z.origin.as_wire());
                r.extend([7u8; 64]);
                set.sigs.push(Sig {
                    ttl: set.ttl,
                    rdata: r.into(),
                    provenance: Provenance::Unchecked,
                });
            }
        }
        z
    }

    /// The RFC 8080 §6.1 example key, as an active ZSK and KSK.
    fn keys() -> Vec<ActiveKey> {
        let public = data_encoding::BASE64
            .decode(b"l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=")
            .unwrap();
        let mut rdata = vec![1, 0, 3, 15];
        rdata.extend(&public);
        let key = || VerifyingKey::from_dnskey_rdata(&rdata).unwrap();
        [Role::Zsk, Role::Ksk]
            .into_iter()
            .map(|role| ActiveKey {
                tag: 4711,
                algorithm: Algorithm::Ed25519,
                role,
                key: key(),
            })
            .collect()
    }

    fn previous(old: OldZone) -> Previous {
        Previous {
            old,
            apex: Zone {
                origin: Name::parse(b"example.", None).unwrap(),
                rrsets: Vec::new(),
                orphan_sigs: Vec::new(),
            },
            proven: true,
            serial: 1,
            path: PathBuf::from("prev.zone"),
            text: None,
        }
    }

    /// A file holding the snapshot of `zone` in blocks of `per_block` RRsets, and its bytes.
    fn snapshot_file(zone: &Zone, per_block: usize) -> (std::fs::File, Vec<u8>) {
        let mut bytes = Vec::new();
        crate::store::snapshot::encode_blocks(zone, &mut bytes, per_block).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        (file, bytes)
    }

    /// The comparison of `new` with `old` at a fixed time, with the example keys.
    fn attach_to(new: &mut Zone, old: OldZone) -> ReusePlan {
        attach(
            new,
            &mut previous(old),
            &keys(),
            &Policy::default(),
            1_800_000_000,
        )
    }

    /// What a comparison gave: the plan's counts and every RRset's signatures.
    fn outcome(plan: &ReusePlan, z: &Zone) -> String {
        format!(
            "{} {:?} +{} -{} {} {:?}",
            plan.reused,
            plan.reasons,
            plan.names_added,
            plan.names_removed,
            plan.identical,
            z.rrsets.iter().map(|s| s.sigs.len()).collect::<Vec<_>>()
        )
    }

    /// DPS-6.5, issue #25: the merge join over a snapshot read a few small blocks at a
    /// time (blocks ending inside names, names added and removed on both sides) gives
    /// the very plan and signatures of a comparison with the whole previous zone.
    #[test]
    fn the_join_over_blocks_equals_the_whole_comparison() {
        for (new_names, old_names) in [(7, 11), (11, 7), (1000, 1000), (3, 1000)] {
            let make_new = || zone((0..500).filter(|n| n % new_names != 0));
            let old = signed(zone((0..520).filter(|n| n % old_names != 0)), 4711);
            let mut whole = make_new();
            let plan = attach_to(&mut whole, OldZone::Parsed(old.clone()));
            let want = outcome(&plan, &whole);
            for per_block in [1, 2, 5, 64] {
                let (file, _) = snapshot_file(&old, per_block);
                let (snap, _) = crate::store::snapshot::scan(file, &old.origin).unwrap();
                let mut joined = make_new();
                let plan = attach_to(&mut joined, OldZone::Snapshot(snap));
                assert_eq!(
                    outcome(&plan, &joined),
                    want,
                    "{new_names} {old_names} {per_block}"
                );
                assert!(plan.warning.is_none());
            }
        }
        // A block changed in place after the scan: reuse stops there, with a warning,
        // and what follows is signed anew; what came before is still reused.
        let old = signed(zone(0..200), 4711);
        let (file, bytes) = snapshot_file(&old, 50);
        let (snap, _) =
            crate::store::snapshot::scan(file.try_clone().unwrap(), &old.origin).unwrap();
        let at = bytes.len() / 2;
        std::os::unix::fs::FileExt::write_all_at(&file, &[bytes[at] ^ 1], at as u64).unwrap();
        let mut new = zone(0..200);
        let plan = attach_to(&mut new, OldZone::Snapshot(snap));
        let warning = plan.warning.clone().expect("a warning");
        assert!(warning.contains("changed while it was in use"), "{warning}");
        assert!(
            plan.reused > 0 && plan.to_make() > 0,
            "{}",
            outcome(&plan, &new)
        );
        assert!(!plan.identical);
        // Names: two per delegation (the delegation and its glue).
        let mut new = zone((0..500).filter(|n| n % 7 != 0));
        let old = signed(zone((0..520).filter(|n| n % 11 != 0)), 4711);
        let plan = attach_to(&mut new, OldZone::Parsed(old));
        let (only_new, only_old) = (
            (0..520)
                .filter(|n| *n < 500 && n % 7 != 0 && (n % 11 == 0))
                .count(),
            (0..520)
                .filter(|n| n % 11 != 0 && (*n >= 500 || n % 7 == 0))
                .count(),
        );
        assert_eq!(
            (plan.names_added, plan.names_removed),
            (2 * only_new, 2 * only_old)
        );
        // The same zone again is identical, signatures and all.
        let old = signed(zone(0..50), 4711);
        let mut same = zone(0..50);
        let plan = attach_to(&mut same, OldZone::Parsed(old));
        assert!(
            plan.identical && plan.to_make() == 0,
            "{}",
            outcome(&plan, &same)
        );
    }
}
