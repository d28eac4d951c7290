//! The verifier over a zone handed over a part at a time in canonical order (`zonesign
//! verify` of a file read in windows, issue 25): the zone is never held whole, so the
//! memory is the window's and the NSEC3 chains' compact form, not the zone's.
//!
//! Each part is checked by the same per-name code as the whole zone ([`super::verify_zone`])
//! in a zone of its own that also holds what those checks look up outside a name:
//! - the apex RRsets (keys, SOA, NSEC3PARAM, ZONEMD), kept from the first part;
//! - the RRsets at the names between the apex and the part's first name (a zone cut
//!   or DNAME above a name makes it glue or occluded). In canonical order every name
//!   below an ancestor directly follows it, so the ancestors of any name of the part
//!   that lie before the part are ancestors of its first name, or that name itself:
//!   those of the last name checked, carried from part to part;
//! - from the last name in the NSEC chain on, a part's names are held back for the
//!   next one, where the name after it is: its NSEC must point there.
//!
//! What spans the zone is gathered as the parts go: the ZONEMD digest
//! ([`crate::zone::zonemd::DigestStream`]), the NSEC3 iteration findings, the NSEC3
//! chains in compact form ([`nsec3::Stream`]), the orphan signatures; the report is
//! put together at the end in the whole-zone verifier's order. Where the zone is not
//! one this pass can judge alike (no apex first, NSEC3 without an NSEC3PARAM naming
//! its chain, a broken NSEC3 chain, a chain in transition), [`Windowed::finish`] says
//! so and the caller verifies the zone whole: its report is the same either way.

use super::names;
use super::nsec3;
use super::{
    Algorithms, Anchor, PerName, Report, Rules, VerifyOptions, ZoneKey, allowed_nsec_ttls,
    check_structure, nsec3_iterations, per_name_checks, report_orphans, report_zonemd, zone_keys,
};
use crate::dns::name::Name;
use crate::dns::record::rtype;
use crate::zone::zonemd::{DigestStream, Digests};
use crate::zone::{RRset, Sig, Zone};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// A zone verified a part at a time ([`Windowed::push`], then [`Windowed::finish`]).
pub struct Windowed<'a> {
    anchors: &'a [Anchor],
    opts: &'a VerifyOptions,
    /// `None` before the first part with records.
    state: Option<State>,
    /// Whether the zone must be verified whole.
    whole: bool,
}

/// What is carried from part to part.
struct State {
    origin: Name,
    /// The apex RRsets.
    apex: Vec<RRset>,
    /// The RRsets at the last checked name and its ancestors below the apex.
    path: Vec<RRset>,
    /// RRsets and orphan signatures held back for the next part.
    tail: Vec<RRset>,
    tail_orphans: Vec<(Name, u16, Sig)>,
    keys: Vec<ZoneKey>,
    algs: Algorithms,
    nsec_ttls: Option<[u32; 2]>,
    /// Whether the apex names an NSEC3 chain, and whether it has an NSEC: the zone's
    /// denial as the whole-zone verifier would find it, if nothing later contradicts.
    apex_nsec3: bool,
    apex_nsec: bool,
    /// Whether any NSEC or NSEC3 record was seen.
    any_nsec: bool,
    any_nsec3: bool,
    nsec3: Option<nsec3::Stream>,
    /// NSEC3 iteration findings (the head of the report), and the values seen.
    head: Report,
    iterations: Vec<u16>,
    /// The per-name checks' findings, in zone order.
    names: Report,
    digests: Digester,
    orphans: Vec<(Name, u16)>,
    rrsets: usize,
    groups: usize,
}

impl<'a> Windowed<'a> {
    pub fn new(anchors: &'a [Anchor], opts: &'a VerifyOptions) -> Windowed<'a> {
        Windowed {
            anchors,
            opts,
            state: None,
            whole: false,
        }
    }

    /// Whether the zone must be verified whole: nothing more need be pushed.
    pub fn needs_whole(&self) -> bool {
        self.whole
    }

    /// Checks the next part (owners after every one before, each owner whole).
    pub fn push(&mut self, part: Zone) {
        self.take(part, false);
    }

    /// The report, after the `last` part; `None` when the zone must be verified
    /// whole for its report (see the module doc).
    pub fn finish(mut self, last: Zone) -> Option<Report> {
        self.take(last, true);
        let state = self.state.take().filter(|_| !self.whole)?;
        state.report(self.anchors, self.opts)
    }

    fn take(&mut self, part: Zone, last: bool) {
        // A window may end before its first owner does: its part is empty.
        let empty = part.rrsets.is_empty() && part.orphan_sigs.is_empty();
        if self.whole || (empty && !last) {
            return;
        }
        if self.state.is_none() {
            match State::new(&part, self.anchors, self.opts) {
                Some(state) => self.state = Some(state),
                None => {
                    self.whole = true;
                    return;
                }
            }
        }
        if let Some(state) = self.state.as_mut() {
            state.check(part, last, self.opts);
        }
    }
}

impl State {
    /// The state for a zone whose first part is `first`; `None` unless it starts with
    /// the apex, and for an apex NSEC3PARAM that names no chain.
    fn new(first: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> Option<State> {
        let origin = first.origin.clone();
        let apex: Vec<RRset> = first
            .rrsets
            .iter()
            .take_while(|s| s.owner == origin)
            .cloned()
            .collect();
        if apex.is_empty() {
            return None;
        }
        let apex_zone = Zone {
            origin: origin.clone(),
            rrsets: apex.clone(),
            orphan_sigs: Vec::new(),
        };
        // The keys with their P-256 tables when the part alone has enough RRsets to
        // pay for them; the key problems are reported from the apex at the end.
        let keys = zone_keys(first, anchors, opts, true, &mut Report::empty());
        let algs = Algorithms::of(&keys, anchors);
        let nsec_ttls = allowed_nsec_ttls(&apex_zone);
        let has = |t: u16| apex.iter().any(|s| s.rtype == t);
        // An NSEC3PARAM that names no chain (flags other than 0, malformed, not SHA-1)
        // is left to the whole-zone verifier, which reports or ignores it.
        let nsec3 = nsec3::Stream::new(&apex_zone, nsec_ttls);
        if has(rtype::NSEC3PARAM) && nsec3.is_none() {
            return None;
        }
        let mut head = Report::empty();
        head.enforce_policy = opts.rules == Rules::Dps;
        let mut iterations = Vec::new();
        let params = apex.iter().filter(|s| s.rtype == rtype::NSEC3PARAM);
        nsec3_iterations(params, &mut iterations, opts, &mut head);
        let mut names = Report::empty();
        names.enforce_policy = head.enforce_policy;
        Some(State {
            apex_nsec3: nsec3.is_some(),
            apex_nsec: has(rtype::NSEC),
            digests: Digester::new(DigestStream::for_check(&apex_zone), origin.clone()),
            origin,
            apex,
            path: Vec::new(),
            tail: Vec::new(),
            tail_orphans: Vec::new(),
            keys,
            algs,
            nsec_ttls,
            any_nsec: false,
            any_nsec3: false,
            nsec3,
            head,
            iterations,
            names,
            orphans: Vec::new(),
            rrsets: 0,
            groups: 0,
        })
    }

    /// Whether the NSEC chain is checked: unless the apex names an NSEC3 chain and has
    /// no NSEC (the whole-zone verifier's `needs_nsec_chain`, confirmed at the end).
    fn nsec_chain(&self) -> bool {
        !self.apex_nsec3 || self.apex_nsec
    }

    /// Checks the names of a part (all of them if it is the `last`), gathers what
    /// spans the zone, and keeps what the next part needs.
    fn check(&mut self, part: Zone, last: bool, opts: &VerifyOptions) {
        let (zone, context) = self.with_context(part);
        let groups = names::read(&zone);
        let own = groups.partition_point(|g| g.range.start < context);
        let held = if last {
            groups.len()
        } else {
            held_back(&groups, own)
        };
        let checked = &groups[own..held];
        let ctx = PerName {
            zone: &zone,
            groups: &groups,
            keys: &self.keys,
            algs: &self.algs,
            opts,
            nsec_ttls: self.nsec_ttls,
            nsec_chain: self.nsec_chain(),
            enforce_policy: self.names.enforce_policy,
        };
        for part in per_name_checks(&ctx, own..held) {
            self.names.merge(part);
        }
        let sets_end = groups
            .get(held)
            .map_or(zone.rrsets.len(), |g| g.range.start);
        let sets = &zone.rrsets[context..sets_end];
        self.groups += checked.len();
        self.gather(sets, opts);
        if let Some(stream) = self.nsec3.as_mut() {
            stream.push(&zone, checked);
        }
        self.carry(zone, context, sets_end);
    }

    /// The zone-wide figures and findings of the checked RRsets.
    fn gather(&mut self, sets: &[RRset], opts: &VerifyOptions) {
        self.rrsets += sets.len();
        self.any_nsec |= sets.iter().any(|s| s.rtype == rtype::NSEC);
        self.any_nsec3 |= sets.iter().any(|s| s.rtype == rtype::NSEC3);
        let nsec3_sets = sets.iter().filter(|s| s.rtype == rtype::NSEC3);
        nsec3_iterations(nsec3_sets, &mut self.iterations, opts, &mut self.head);
    }

    /// Hands the checked RRsets (`context..sets_end` of `zone`) and orphan signatures
    /// to the digest and keeps the rest for the next part: the path to the last name
    /// checked, the held-back RRsets and orphan signatures.
    fn carry(&mut self, zone: Zone, context: usize, sets_end: usize) {
        let split_owner = zone.rrsets.get(sets_end).map(|s| s.owner.clone());
        let last_checked = sets_end
            .checked_sub(1)
            .filter(|&i| i >= context)
            .map(|i| zone.rrsets[i].owner.clone());
        let Zone {
            mut rrsets,
            mut orphan_sigs,
            ..
        } = zone;
        let held_orphans = match &split_owner {
            Some(o) => orphan_sigs.partition_point(|(n, _, _)| n < o),
            None => orphan_sigs.len(),
        };
        let tail_orphans = orphan_sigs.split_off(held_orphans);
        self.orphans
            .extend(orphan_sigs.iter().map(|(n, t, _)| (n.clone(), *t)));
        if let Some(last_checked) = last_checked {
            self.path = path_to(&rrsets, &self.origin, &last_checked);
        }
        self.tail = rrsets.split_off(sets_end);
        self.tail_orphans = tail_orphans;
        self.digests.push(rrsets.split_off(context), orphan_sigs);
    }

    /// The zone a part is checked in: the apex RRsets (unless the apex is still to be
    /// checked: nothing is yet), the path to the last name checked, the held-back
    /// RRsets, the part; and how many RRsets at its front are context.
    fn with_context(&mut self, part: Zone) -> (Zone, usize) {
        let context = if self.rrsets == 0 {
            0
        } else {
            self.apex.len() + self.path.len()
        };
        let mut rrsets = Vec::with_capacity(context + self.tail.len() + part.rrsets.len());
        if context > 0 {
            rrsets.extend(self.apex.iter().cloned());
            rrsets.extend(self.path.iter().cloned());
        }
        rrsets.append(&mut self.tail);
        rrsets.extend(part.rrsets);
        let mut orphan_sigs = std::mem::take(&mut self.tail_orphans);
        orphan_sigs.extend(part.orphan_sigs);
        // Split at an owner below: in owner order (each part's are, and the held-back
        // ones come first).
        orphan_sigs.sort_by(|a, b| a.0.cmp(&b.0));
        let zone = Zone {
            origin: part.origin,
            rrsets,
            orphan_sigs,
        };
        (zone, context)
    }

    /// The report, in the whole-zone verifier's order: keys, structure, NSEC3 head,
    /// per-name findings, ZONEMD, orphan signatures. `None` when the zone must be
    /// verified whole after all.
    fn report(self, anchors: &[Anchor], opts: &VerifyOptions) -> Option<Report> {
        let uses_nsec3 = self.apex_nsec3 || self.any_nsec3;
        if self.nsec_chain() != (!uses_nsec3 || self.any_nsec) {
            return None;
        }
        let mut head = self.head;
        if let Some(stream) = self.nsec3 {
            head.stats.nsec3 += stream.total;
            if !stream.finish() {
                return None;
            }
        } else if self.any_nsec3 {
            return None;
        }
        let apex = Zone {
            origin: self.origin,
            rrsets: self.apex,
            orphan_sigs: Vec::new(),
        };
        let mut report = Report::empty();
        report.zone = apex.origin.to_string();
        report.time = chrono::DateTime::from_timestamp(opts.now, 0)
            .unwrap_or_default()
            .to_rfc3339();
        report.enforce_policy = opts.rules == Rules::Dps;
        report.stats.rrsets = self.rrsets;
        report.stats.names = self.groups;
        zone_keys(&apex, anchors, opts, false, &mut report);
        check_structure(&apex, &mut report);
        report.merge(head);
        report.merge(self.names);
        let digests = self.digests.finish()?;
        let outcome = crate::zone::zonemd::check_with(&apex, &digests);
        report_zonemd(&apex, outcome, &mut report);
        report_orphans(self.orphans.iter().map(|(o, t)| (o, *t)), &mut report);
        report.valid = report.total_problems == 0;
        Some(report)
    }
}

/// Where the names of a part still to be checked start: the last name in the NSEC
/// chain after `own` (the first name of the part's own) and everything after it wait
/// for the next part, where the name the NSEC must point to is.
fn held_back(groups: &[names::GateName], own: usize) -> usize {
    groups[own..]
        .iter()
        .rposition(|g| g.kind.chained())
        .map_or(groups.len(), |p| own + p)
}

/// The ZONEMD digest on a thread of its own, fed the checked RRsets (and left to drop
/// them): one hash stream cannot be split across cores, and the whole-zone verifier
/// takes it beside its checks too, where after each window's checks it would add half
/// a second per million delegations to the wall time.
struct Digester {
    send: Option<SyncSender<Checked>>,
    thread: Option<JoinHandle<Digests>>,
}

/// The RRsets and orphan signatures of the names checked in one part.
type Checked = (Vec<RRset>, Vec<(Name, u16, Sig)>);

impl Digester {
    fn new(mut stream: DigestStream, origin: Name) -> Digester {
        // Two parts in flight at most: the digest keeps up with the checks.
        let (send, recv) = sync_channel::<Checked>(2);
        let thread = std::thread::spawn(move || {
            for (sets, orphans) in recv {
                stream.push(&origin, &sets, &orphans);
            }
            stream.finish()
        });
        Digester {
            send: Some(send),
            thread: Some(thread),
        }
    }

    fn push(&self, sets: Vec<RRset>, orphans: Vec<(Name, u16, Sig)>) {
        if let Some(send) = &self.send {
            // The thread ends only when this side has: it is there to receive.
            let _ = send.send((sets, orphans));
        }
    }

    /// The digests of everything pushed; `None` if the thread failed.
    fn finish(mut self) -> Option<Digests> {
        drop(self.send.take());
        self.thread.take()?.join().ok()
    }
}

/// The RRsets of `zone` at `name` and at its ancestors below `origin`.
fn path_to(rrsets: &[RRset], origin: &Name, name: &Name) -> Vec<RRset> {
    let top = origin.label_count();
    let mut path = Vec::new();
    for n in top + 1..=name.label_count() {
        let above = name.suffix(n);
        let at = rrsets.partition_point(|s| s.owner < above);
        path.extend(
            rrsets[at..]
                .iter()
                .take_while(|s| s.owner == above)
                .cloned(),
        );
    }
    path
}
