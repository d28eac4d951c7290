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
use crate::store::output::{Copied, is_proven, is_proven_as, recorded_hash};
use crate::store::previous::PreviousText;
use crate::store::snapshot::snapshot_path;
use crate::zone::checks::{self, Findings};
use crate::zone::{Provenance, RRset, Sig, Zone, is_signed};

/// The previous signed zone, as read back.
pub struct Previous {
    /// Its RRsets with their signatures.
    pub zone: Zone,
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

/// Reads the previous output. `Ok(None)` when there is none; `Err` (a warning for the
/// operator) when it exists but cannot be used, in which case nothing from it is reused.
///
/// The proven snapshot beside it gives the zone; the text is then read once as a
/// stream (see [`crate::store::previous`]), never held. Without a proven snapshot the
/// text is parsed, which gives the same zone more slowly.
pub fn load_previous(path: &Path, origin: &Name) -> Result<Option<Previous>, String> {
    let unusable = |e: std::io::Error| format!("{}: {e}; no signature is reused", path.display());
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unusable(e)),
    };
    let from_snapshot = match load_snapshot(path, origin) {
        Some(zone) => {
            let scan = crate::store::previous::scan(file, &zone).map_err(unusable)?;
            let proven = recorded_hash(path, path).is_some_and(|h| h == scan.sha256);
            proven.then_some((zone, scan.text))
        }
        None => None,
    };
    let (zone, proven, text) = match from_snapshot {
        Some((zone, text)) => (zone, true, text),
        None => {
            // Read whole: proven on the very bytes that are parsed.
            let bytes = std::fs::read(path).map_err(unusable)?;
            let proven = is_proven(path, &bytes);
            (parse_previous(path, &bytes, origin)?, proven, None)
        }
    };
    let serial = zone
        .soa()
        .and_then(|s| soa_serial(&s.rdatas[0]))
        .ok_or_else(|| {
            format!(
                "{}: previous signed zone has no SOA; no signature is reused",
                path.display()
            )
        })?;
    Ok(Some(Previous {
        zone,
        proven,
        serial,
        path: path.to_path_buf(),
        text,
    }))
}

/// The proven snapshot beside a previous output (see [`crate::store::snapshot`]), or
/// `None` when there is none, it is not the recorded one, or it does not decode.
fn load_snapshot(path: &Path, origin: &Name) -> Option<Zone> {
    let snap = snapshot_path(path);
    let bytes = std::fs::read(&snap).ok()?;
    if !is_proven_as(path, &snap, &bytes) {
        return None;
    }
    crate::store::snapshot::decode(&bytes, origin).ok()
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

/// Attaches the previous zone's still-good signatures to `zone` and says what is left
/// to sign and why. `zone` must be complete (DNSKEY and NSEC included) and unsigned.
pub fn attach(
    zone: &mut Zone,
    prev: &mut Previous,
    keys: &[ActiveKey],
    policy: &Policy,
    now: i64,
) -> ReusePlan {
    use rayon::prelude::*;
    let mut plan = ReusePlan::default();
    let ((added, removed), groups) =
        rayon::join(|| count_name_changes(zone, &prev.zone), || zone.names());
    plan.names_added = added;
    plan.names_removed = removed;
    let ctx = AttachContext {
        origin: &zone.origin,
        keys,
        policy,
        now,
        proven: prev.proven,
        ranges: prev.text.as_ref().map(|t| t.ranges.as_slice()),
    };
    // The walk is cut into pieces at owner-name boundaries and the pieces run on all
    // cores: at TLD size it is millions of RRsets (and, for a previous output that is
    // not proven, a cryptographic check per reused signature).
    let parts = split_parts(&groups, &mut zone.rrsets, &mut prev.zone.rrsets);
    let done: Vec<ReusePlan> = parts
        .into_par_iter()
        .map(|part| attach_part(&ctx, part))
        .collect();
    let mut identical =
        zone.rrsets.len() == prev.zone.rrsets.len() && prev.zone.orphan_sigs.is_empty();
    if ctx.ranges.is_some() {
        plan.copy.reserve(zone.rrsets.len());
    }
    for part in done {
        identical &= part.identical;
        plan.reused += part.reused;
        for (reason, n) in part.reasons {
            *plan.reasons.entry(reason).or_default() += n;
        }
        let room = LISTED_DETAILS - plan.details.len();
        plan.details.extend(part.details.into_iter().take(room));
        if ctx.ranges.is_some() {
            plan.copy.extend(part.copy);
        }
    }
    plan.identical = identical && plan.to_make() == 0;
    plan
}

/// What every piece of the comparison shares.
struct AttachContext<'a> {
    origin: &'a Name,
    keys: &'a [ActiveKey],
    policy: &'a Policy,
    now: i64,
    proven: bool,
    /// The previous text's RRset ranges, by index into the whole previous zone.
    ranges: Option<&'a [(u64, u32)]>,
}

/// One piece of the comparison: whole owner names of the new zone and the previous
/// RRsets that sort among them.
struct Part<'a> {
    groups: &'a [crate::zone::NameGroup],
    /// Index of `new[0]` in the new zone.
    new_base: usize,
    new: &'a mut [RRset],
    /// Index of `old[0]` in the previous zone.
    old_base: usize,
    old: &'a mut [RRset],
}

/// Cuts both zones into disjoint pieces at owner-name boundaries of the new zone; the
/// previous zone is cut where each piece's first RRset would sort in it (both are in
/// canonical order), so every previous version lands in the piece of its RRset.
fn split_parts<'a>(
    groups: &'a [crate::zone::NameGroup],
    mut new: &'a mut [RRset],
    mut old: &'a mut [RRset],
) -> Vec<Part<'a>> {
    const PIECES: usize = 64;
    let per = groups.len().div_ceil(PIECES).max(1);
    let mut parts = Vec::new();
    let (mut new_base, mut old_base) = (0, 0);
    for chunk in groups.chunks(per) {
        let new_end = chunk.last().map_or(new_base, |g| g.range.end);
        let (head, rest) = std::mem::take(&mut new).split_at_mut(new_end - new_base);
        new = rest;
        // Where the next piece's first RRset would sort among the previous ones.
        let old_len = match new.first() {
            Some(next) => old.partition_point(|o| {
                o.owner
                    .cmp(&next.owner)
                    .then(o.rtype.cmp(&next.rtype))
                    .is_lt()
            }),
            None => old.len(),
        };
        let (old_head, old_rest) = std::mem::take(&mut old).split_at_mut(old_len);
        old = old_rest;
        parts.push(Part {
            groups: chunk,
            new_base,
            new: head,
            old_base,
            old: old_head,
        });
        new_base = new_end;
        old_base += old_len;
    }
    parts
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
    if ctx.ranges.is_some() {
        plan.copy = vec![None; part.new.len()];
    }
    // Both zones are in canonical order: one merge walk finds each RRset's previous
    // version (a binary search per RRset cost millions of name comparisons).
    let mut j = 0;
    for group in part.groups {
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
            let range = ctx
                .ranges
                .and_then(|r| r.get(part.old_base + j).copied())
                .filter(|_| same_text);
            if !is_signed(group.kind, set.rtype) {
                let unsigned = old.is_none_or(|o| o.sigs.is_empty());
                plan.identical &= unsigned;
                if let Some((start, len)) = range.filter(|_| unsigned) {
                    plan.copy[i] = Some(Copied::new(start, len, 0, set.ttl));
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
            if let Some((start, len)) = range.filter(|_| copyable) {
                plan.copy[i] = Some(Copied::new(start, len, kept.len(), ttl));
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

/// Counts owner names added and removed, by a merge over both canonical orders.
fn count_name_changes(new: &Zone, old: &Zone) -> (usize, usize) {
    let names = |z: &Zone| -> Vec<usize> {
        (0..z.rrsets.len())
            .filter(|&i| i == 0 || z.rrsets[i - 1].owner != z.rrsets[i].owner)
            .collect()
    };
    let (a, b) = (names(new), names(old));
    let (a, b): (Vec<&Name>, Vec<&Name>) = (
        a.iter().map(|&i| &new.rrsets[i].owner).collect(),
        b.iter().map(|&i| &old.rrsets[i].owner).collect(),
    );
    let (mut i, mut j, mut added, mut removed) = (0, 0, 0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                added += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                removed += 1;
                j += 1;
            }
        }
    }
    (added, removed)
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

    /// DPS-6.5: the parallel comparison finds every RRset's previous version in its own
    /// piece, and the pieces cover both zones exactly once, in order.
    #[test]
    fn pieces_cut_both_zones_at_the_same_names() {
        let mut new = zone((0..500).filter(|n| n % 7 != 0));
        let mut old = zone((0..520).filter(|n| n % 11 != 0));
        let (new_len, old_len) = (new.rrsets.len(), old.rrsets.len());
        let groups = new.names();
        let parts = split_parts(&groups, &mut new.rrsets, &mut old.rrsets);
        assert!(parts.len() > 10);
        let (mut new_at, mut old_at) = (0, 0);
        for part in &parts {
            assert_eq!((part.new_base, part.old_base), (new_at, old_at));
            new_at += part.new.len();
            old_at += part.old.len();
            for set in part.new.iter() {
                let in_part = part
                    .old
                    .iter()
                    .any(|o| o.owner == set.owner && o.rtype == set.rtype);
                // The delegation's number, from its `dN` label; the apex is in both.
                let owner = set.owner.to_string();
                let number = owner
                    .split('.')
                    .find_map(|l| l.strip_prefix('d').and_then(|n| n.parse::<usize>().ok()));
                let in_old = number.is_none_or(|n| n < 520 && n % 11 != 0);
                assert_eq!(in_part, in_old, "{} {}", set.owner, set.rtype);
            }
        }
        assert_eq!((new_at, old_at), (new_len, old_len));
    }
}
