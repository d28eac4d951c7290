//! The gate's own reading of a zone's names (DPS-6.6, issue 21).
//!
//! The gate must be able to catch the signer's mistakes, so it never asks the signer's
//! classification ([`crate::zone::Zone::names`], [`crate::zone::is_signed`],
//! [`crate::zone::nsec::bitmap_types`]) what a name is. It decides from the records in
//! front of it alone, with code of its own and a different method: where the signer
//! makes one scan that remembers the innermost cut, the gate looks up, for each name,
//! every ancestor between the apex and the name, and asks what records are there.
//!
//! * the apex is the origin;
//! * a name below the origin is occluded when an ancestor strictly between the apex
//!   and it owns NS (a zone cut: glue and other data below a delegation, RFC 4035
//!   §2.2), or when any ancestor, the apex included, owns a DNAME (RFC 6672 §2.4);
//! * a name that is not occluded and owns NS is a delegation;
//! * a name whose only records are NSEC and RRSIG has no data of its own: an empty
//!   non-terminal (or a name that does not exist) that the signer chained;
//! * a name whose only records are NSEC3 (and their RRSIGs) is an NSEC3 owner (a
//!   hashed name, RFC 5155 §3), not a name of the zone's data: it is not hashed
//!   itself, and in an NSEC chain only if it has an NSEC (a zone between the two);
//! * anything else is authoritative.

use std::ops::Range;

use rayon::prelude::*;

use crate::dns::name::Name;
use crate::dns::record::rtype;
use crate::zone::{RRset, Zone};

/// What the gate reads an owner name to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The zone apex.
    Apex,
    /// Authoritative data below the apex.
    Authoritative,
    /// A zone cut: NS below the apex, not itself occluded.
    Delegation,
    /// Address records only, below a zone cut.
    Glue,
    /// Other data below a zone cut.
    BelowCut,
    /// Data below a DNAME (RFC 6672 §2.4).
    BelowDname,
    /// A name outside the origin.
    Outside,
    /// Only NSEC and RRSIG: a name without data (an empty non-terminal, or nothing).
    NoData,
    /// Only NSEC3 (and its RRSIG): a hashed owner name of an NSEC3 chain, not a name of
    /// the zone's data (RFC 5155 §7.1); [`super::nsec3`] checks it.
    Nsec3,
    /// An NSEC3 owner name that also has an NSEC: a zone moving between NSEC and NSEC3
    /// whose signer put the hashed names in the NSEC chain too (both ways are seen).
    Nsec3InNsecChain,
}

impl Kind {
    /// Whether the zone must sign an RRset of type `t` here (RFC 4035 §2.2): every
    /// RRset at the apex and at authoritative names, only DS and NSEC at a delegation,
    /// nothing elsewhere. RRSIG itself is never signed.
    pub(crate) fn must_sign(self, t: u16) -> bool {
        match self {
            Kind::Apex | Kind::Authoritative => t != rtype::RRSIG,
            Kind::Delegation => matches!(t, rtype::DS | rtype::NSEC),
            Kind::Nsec3 => t == rtype::NSEC3,
            Kind::Nsec3InNsecChain => matches!(t, rtype::NSEC3 | rtype::NSEC),
            Kind::Glue | Kind::BelowCut | Kind::BelowDname | Kind::Outside | Kind::NoData => false,
        }
    }

    /// Whether the name owns an NSEC in the chain (RFC 4035 §2.3).
    pub(crate) fn chained(self) -> bool {
        matches!(
            self,
            Kind::Apex | Kind::Authoritative | Kind::Delegation | Kind::Nsec3InNsecChain
        )
    }

    /// Whether the name is an NSEC3 owner (hashed name).
    pub(crate) fn is_nsec3_owner(self) -> bool {
        matches!(self, Kind::Nsec3 | Kind::Nsec3InNsecChain)
    }

    /// The kind in words, for the report.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Kind::Apex => "the apex",
            Kind::Authoritative => "authoritative data",
            Kind::Delegation => "a delegation",
            Kind::Glue => "glue below a zone cut",
            Kind::BelowCut => "data occluded by a zone cut",
            Kind::BelowDname => "data occluded by a DNAME (RFC 6672 §2.4)",
            Kind::Outside => "a name outside the zone",
            Kind::NoData => "a name without data (an empty non-terminal)",
            Kind::Nsec3 | Kind::Nsec3InNsecChain => "an NSEC3 owner name",
        }
    }
}

/// The RRsets of one owner name, as the gate reads it.
#[derive(Debug, Clone)]
pub(crate) struct GateName {
    /// Indices into [`Zone::rrsets`].
    pub(crate) range: Range<usize>,
    /// What the name is.
    pub(crate) kind: Kind,
}

/// Groups the RRsets by owner and reads each name from the records; on all cores.
pub(crate) fn read(zone: &Zone) -> Vec<GateName> {
    // Sized for the most there can be, as `Zone::names` (room never written is free);
    // each name is read in place, in the one vector.
    let mut groups = Vec::with_capacity(zone.rrsets.len());
    let mut start = 0;
    for i in 1..=zone.rrsets.len() {
        if i == zone.rrsets.len() || zone.rrsets[i].owner != zone.rrsets[start].owner {
            groups.push(GateName {
                range: start..i,
                kind: Kind::NoData,
            });
            start = i;
        }
    }
    let apex_dname = has_type(zone, &zone.origin, rtype::DNAME);
    groups.par_iter_mut().for_each(|g| {
        g.kind = kind_of(zone, &zone.rrsets[g.range.clone()], apex_dname);
    });
    groups
}

/// The first RRset of the zone that is not strictly after its predecessor in
/// canonical order (owner, then type), if any: the gate's lookups need the order.
pub(crate) fn out_of_order(zone: &Zone) -> Option<&RRset> {
    zone.rrsets
        .par_windows(2)
        .position_first(|w| (&w[0].owner, w[0].rtype) >= (&w[1].owner, w[1].rtype))
        .map(|i| &zone.rrsets[i + 1])
}

fn kind_of(zone: &Zone, sets: &[RRset], apex_dname: bool) -> Kind {
    let owner = &sets[0].owner;
    let has = |t: u16| sets.iter().any(|s| s.rtype == t);
    if !owner.is_subdomain_of(&zone.origin) {
        return Kind::Outside;
    }
    if *owner == zone.origin {
        return Kind::Apex;
    }
    if let Some(kind) = nsec3_owner(sets) {
        // NSEC3 owners hang below the apex whatever data is there: an apex DNAME
        // occludes the zone's data, not its hashed names (RFC 5155 §7.1).
        return kind;
    }
    if apex_dname {
        return Kind::BelowDname;
    }
    // Every ancestor strictly between the apex and the owner, from the top down.
    let top = zone.origin.label_count();
    for n in top + 1..owner.label_count() {
        let above = owner.suffix(n);
        if has_type(zone, &above, rtype::NS) {
            let glue = sets
                .iter()
                .all(|s| matches!(s.rtype, rtype::A | rtype::AAAA));
            return if glue { Kind::Glue } else { Kind::BelowCut };
        }
        if has_type(zone, &above, rtype::DNAME) {
            return Kind::BelowDname;
        }
    }
    if has(rtype::NS) {
        Kind::Delegation
    } else if sets
        .iter()
        .all(|s| matches!(s.rtype, rtype::NSEC | rtype::RRSIG))
    {
        Kind::NoData
    } else {
        Kind::Authoritative
    }
}

/// The kind of a name whose only records are NSEC3 (and possibly NSEC): an NSEC3
/// owner, in the NSEC chain too when it has an NSEC. Where it hangs is checked by
/// [`super::nsec3`]: one hash label below the apex, else an `nsec3-owner` problem.
fn nsec3_owner(sets: &[RRset]) -> Option<Kind> {
    let has = |t: u16| sets.iter().any(|s| s.rtype == t);
    let only = sets
        .iter()
        .all(|s| matches!(s.rtype, rtype::NSEC3 | rtype::NSEC));
    if !only || !has(rtype::NSEC3) {
        None
    } else if has(rtype::NSEC) {
        Some(Kind::Nsec3InNsecChain)
    } else {
        Some(Kind::Nsec3)
    }
}

/// Whether `owner` has an RRset of type `t`, by binary search over the sorted RRsets.
fn has_type(zone: &Zone, owner: &Name, t: u16) -> bool {
    let at = zone.rrsets.partition_point(|s| s.owner < *owner);
    zone.rrsets[at..]
        .iter()
        .take_while(|s| s.owner == *owner)
        .any(|s| s.rtype == t)
}

/// The types an NSEC owned by a name of `kind` must list (RFC 4034 §4.1.2, RFC 4035
/// §2.3): every type present plus NSEC and RRSIG; at a delegation only NS and DS of
/// them, because the parent is authoritative for nothing else there.
pub(crate) fn nsec_types(kind: Kind, sets: &[RRset]) -> Vec<u16> {
    let mut want = vec![rtype::NSEC, rtype::RRSIG];
    for s in sets {
        let keep = match kind {
            Kind::Delegation => matches!(s.rtype, rtype::NS | rtype::DS),
            _ => true,
        };
        if keep && !want.contains(&s.rtype) {
            want.push(s.rtype);
        }
    }
    want.sort_unstable();
    want
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::zonefile::parse_bytes;

    fn kinds(body: &str) -> Vec<(String, Kind)> {
        let text =
            format!("$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n{body}");
        let origin = Name::parse(b"example.", None).unwrap();
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin).unwrap();
        let (zone, _) = Zone::from_records(origin, p.records);
        read(&zone)
            .into_iter()
            .map(|g| (zone.rrsets[g.range.start].owner.to_string(), g.kind))
            .collect()
    }

    /// The gate reads cuts, glue, DNAME occlusion (below the apex and at it) and names
    /// without data from the records alone.
    #[test]
    fn the_gate_reads_names_from_the_records() {
        let k = kinds(
            "ns1 A 192.0.2.1\nsub NS ns.sub\nsub DS 1 8 2 AABB\nns.sub A 192.0.2.3\n\
             deep.ns.sub TXT \"x\"\ndn DNAME other.org.\nx.dn A 192.0.2.4\ny.x.dn NS ns1\n\
             ent.b NSEC c.example. A\nc A 192.0.2.5\nb.ent.b A 192.0.2.6\n",
        );
        let find = |n: &str| k.iter().find(|(o, _)| o == n).map(|(_, k)| *k);
        assert_eq!(find("example."), Some(Kind::Apex));
        assert_eq!(find("ns1.example."), Some(Kind::Authoritative));
        assert_eq!(find("sub.example."), Some(Kind::Delegation));
        assert_eq!(find("ns.sub.example."), Some(Kind::Glue));
        assert_eq!(find("deep.ns.sub.example."), Some(Kind::BelowCut));
        assert_eq!(find("dn.example."), Some(Kind::Authoritative));
        assert_eq!(find("x.dn.example."), Some(Kind::BelowDname));
        assert_eq!(find("y.x.dn.example."), Some(Kind::BelowDname));
        assert_eq!(find("ent.b.example."), Some(Kind::NoData));
        assert_eq!(find("b.ent.b.example."), Some(Kind::Authoritative));

        // NSEC3 owners are hashed names, not data, even below an apex DNAME
        // (issue 24); one with an NSEC too sits in an NSEC chain (a transition).
        let k = kinds(
            "@ DNAME other.org.\n0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 0 0 - 2t7b4g4vsa5smi47k61mv5bv1a22bojr A\n\
             2t7b4g4vsa5smi47k61mv5bv1a22bojr NSEC3 1 0 0 - 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A\n\
             2t7b4g4vsa5smi47k61mv5bv1a22bojr NSEC example. NSEC3 NSEC RRSIG\n",
        );
        let find = |n: &str| k.iter().find(|(o, _)| o.starts_with(n)).map(|(_, k)| *k);
        assert_eq!(find("0p9m"), Some(Kind::Nsec3));
        assert_eq!(find("2t7b"), Some(Kind::Nsec3InNsecChain));

        let k = kinds("@ DNAME other.org.\nns1 A 192.0.2.1\nwww.x A 192.0.2.2\n");
        assert_eq!(k[0], ("example.".into(), Kind::Apex));
        assert!(
            k[1..].iter().all(|(_, kind)| *kind == Kind::BelowDname),
            "{k:?}"
        );
    }
}
