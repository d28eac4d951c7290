//! The NSEC chain: authenticated denial of existence (DPS-6.2, RFC 4034 §4, RFC 4035 §2.3).
//!
//! One NSEC record per owner name that is not occluded, in canonical order, each pointing
//! to the next name and closing back to the apex. Empty non-terminals have no records and
//! so are not owners. The type bitmap lists the types present, plus NSEC and RRSIG; at a
//! delegation only NS, DS (if present), NSEC and RRSIG, because the parent is not
//! authoritative for anything else there (RFC 4035 §2.3).

use crate::dns::name::Name;
use crate::dns::rdata::encode_type_bitmap;
use crate::dns::record::rtype;
use crate::zone::{NameGroup, NameKind, RRset, Rdatas, Zone, in_nsec_chain};

/// The types an NSEC at a name of `kind` must list, given the name's data types.
///
/// Shared by the chain builder and the verifier so both agree on RFC 4035 §2.3.
pub fn bitmap_types(kind: NameKind, data_types: impl Iterator<Item = u16>) -> Vec<u16> {
    let mut types: Vec<u16> = data_types
        .filter(|&t| t != rtype::NSEC && t != rtype::RRSIG)
        .filter(|&t| kind != NameKind::Delegation || t == rtype::NS || t == rtype::DS)
        .collect();
    types.push(rtype::NSEC);
    types.push(rtype::RRSIG);
    types.sort_unstable();
    types.dedup();
    types
}

/// NSEC RDATA: next owner name (uncompressed) followed by the type bitmap.
pub fn nsec_rdata(next: &Name, types: &[u16]) -> Box<[u8]> {
    let mut rdata = next.as_wire().to_vec();
    rdata.extend_from_slice(&encode_type_bitmap(types));
    rdata.into_boxed_slice()
}

/// The chained names of `groups`, in canonical order, with their NSEC RDATA.
///
/// Returns `(group index, rdata)` pairs so the caller can place each NSEC with its owner.
pub fn chain(zone: &Zone, groups: &[NameGroup]) -> Vec<(usize, Box<[u8]>)> {
    let chained: Vec<usize> = (0..groups.len())
        .filter(|&g| in_nsec_chain(groups[g].kind))
        .collect();
    let owner = |g: usize| &zone.rrsets[groups[g].range.start].owner;
    chained
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let next = chained.get(i + 1).map_or(&zone.origin, |&n| owner(n));
            let types = bitmap_types(
                groups[g].kind,
                zone.rrsets[groups[g].range.clone()].iter().map(|s| s.rtype),
            );
            (g, nsec_rdata(next, &types))
        })
        .collect()
}

/// Adds the NSEC chain to a zone that has none, with TTL `ttl` (DPS-6.7).
///
/// Merged in one pass ([`Zone::merge_rrsets`], in place) rather than inserted one by
/// one, because a TLD zone has a million or more chained names. Each NSEC carries the
/// source location of the RRset it comes before (or of its name's last one).
pub fn add_chain(zone: &mut Zone, ttl: u32) {
    let groups = zone.names();
    let nsecs: Vec<RRset> = chain(zone, &groups)
        .into_iter()
        .filter_map(|(g, rdata)| {
            let sets = &zone.rrsets[groups[g].range.clone()];
            let at = sets
                .iter()
                .find(|s| s.rtype > rtype::NSEC)
                .or(sets.last())?;
            Some(nsec_set(at, ttl, rdata))
        })
        .collect();
    drop(groups);
    zone.merge_rrsets(nsecs);
}

fn nsec_set(neighbour: &RRset, ttl: u32, rdata: Box<[u8]>) -> RRset {
    RRset {
        owner: neighbour.owner.clone(),
        rtype: rtype::NSEC,
        ttl,
        rdatas: Rdatas::one(&rdata),
        sigs: Vec::new(),
        loc: neighbour.loc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rdata::{decode_type_bitmap, type_name};
    use crate::dns::zonefile::parse_bytes;

    const ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
*.wild TXT \"w\"\n\
a.b.c A 192.0.2.2\n\
sub NS ns.sub\nsub DS 1 8 2 AABB\nsub A 192.0.2.9\nns.sub A 192.0.2.3\ndeep.ns.sub TXT \"occluded\"\n\
nods NS ns1.example.\n\
dn DNAME other.org.\nx.dn A 192.0.2.4\n";

    fn zone() -> Zone {
        let p = parse_bytes(
            ZONE.as_bytes(),
            std::path::Path::new("t.zone"),
            &Name::parse(b"example.", None).unwrap(),
        )
        .unwrap();
        Zone::from_records(Name::parse(b"example.", None).unwrap(), p.records).0
    }

    fn kinds(z: &Zone) -> Vec<(String, NameKind)> {
        z.names()
            .iter()
            .map(|g| (z.rrsets[g.range.start].owner.to_string(), g.kind))
            .collect()
    }

    #[test]
    fn names_are_classified_dps_6_2() {
        let z = zone();
        let k = kinds(&z);
        let find = |n: &str| k.iter().find(|(o, _)| o == n).map(|(_, k)| *k);
        assert_eq!(find("example."), Some(NameKind::Apex));
        assert_eq!(find("sub.example."), Some(NameKind::Delegation));
        assert_eq!(find("nods.example."), Some(NameKind::Delegation));
        assert_eq!(find("ns.sub.example."), Some(NameKind::Occluded), "glue");
        assert_eq!(find("deep.ns.sub.example."), Some(NameKind::Occluded));
        assert_eq!(find("dn.example."), Some(NameKind::Authoritative));
        assert_eq!(
            find("x.dn.example."),
            Some(NameKind::Occluded),
            "below DNAME (RFC 6672)"
        );
        assert_eq!(find("*.wild.example."), Some(NameKind::Authoritative));
        // Empty non-terminals have no records, so they are not names at all.
        assert_eq!(find("b.c.example."), None);
        assert_eq!(find("c.example."), None);
    }

    /// Issue 21: a DNAME at the apex occludes every name below it (RFC 6672 §2.4): the
    /// chain is the apex alone, whose bitmap lists the DNAME, and nothing below is signed.
    #[test]
    fn apex_dname_occludes_everything_below() {
        let origin = Name::parse(b"example.", None).unwrap();
        let text = "$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1.other.\n\
                    @ DNAME other.org.\nwww A 192.0.2.1\nsub NS ns1.other.\ndeep.x TXT \"d\"\n";
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin).unwrap();
        let mut z = Zone::from_records(origin, p.records).0;
        let k = kinds(&z);
        assert_eq!(k[0], ("example.".into(), NameKind::Apex));
        assert!(
            k[1..].iter().all(|(_, kind)| *kind == NameKind::Occluded),
            "{k:?}"
        );
        add_chain(&mut z, 300);
        let nsecs: Vec<String> = z
            .rrsets
            .iter()
            .filter(|s| s.rtype == rtype::NSEC)
            .map(|s| s.owner.to_string())
            .collect();
        assert_eq!(nsecs, ["example."]);
        assert_eq!(
            bitmap(&z, "example."),
            ["NS", "SOA", "DNAME", "RRSIG", "NSEC"]
        );
    }

    #[test]
    fn chain_is_canonical_closed_and_skips_glue_rfc_4034_6_1() {
        let mut z = zone();
        add_chain(&mut z, 300);
        let nsecs: Vec<&RRset> = z.rrsets.iter().filter(|s| s.rtype == rtype::NSEC).collect();
        let owners: Vec<String> = nsecs.iter().map(|s| s.owner.to_string()).collect();
        assert_eq!(
            owners,
            [
                "example.",
                "a.b.c.example.",
                "dn.example.",
                "nods.example.",
                "ns1.example.",
                "sub.example.",
                "*.wild.example."
            ]
        );
        for (i, s) in nsecs.iter().enumerate() {
            let (next, _) = crate::dns::name::read_wire_name(&s.rdatas[0]).unwrap();
            let want = owners
                .get(i + 1)
                .cloned()
                .unwrap_or_else(|| "example.".into());
            assert_eq!(next.to_string(), want, "next of {}", s.owner);
            assert_eq!(s.ttl, 300, "DPS-6.7 NSEC TTL");
        }
        // The chain stays sorted with the NSEC in type order at each owner.
        assert!(
            z.rrsets
                .windows(2)
                .all(|w| (&w[0].owner, w[0].rtype) < (&w[1].owner, w[1].rtype))
        );
    }

    fn bitmap(z: &Zone, owner: &str) -> Vec<String> {
        let s = z
            .get(&Name::parse(owner.as_bytes(), None).unwrap(), rtype::NSEC)
            .unwrap();
        let (_, len) = crate::dns::name::read_wire_name(&s.rdatas[0]).unwrap();
        decode_type_bitmap(&s.rdatas[0][len..])
            .unwrap()
            .into_iter()
            .map(type_name)
            .collect()
    }

    #[test]
    fn bitmaps_follow_rfc_4035_2_3() {
        let mut z = zone();
        add_chain(&mut z, 300);
        assert_eq!(bitmap(&z, "example."), ["NS", "SOA", "RRSIG", "NSEC"]);
        // A delegation lists NS, DS, NSEC, RRSIG only: not the A record at the cut.
        assert_eq!(bitmap(&z, "sub.example."), ["NS", "DS", "RRSIG", "NSEC"]);
        assert_eq!(bitmap(&z, "nods.example."), ["NS", "RRSIG", "NSEC"]);
        assert_eq!(bitmap(&z, "dn.example."), ["DNAME", "RRSIG", "NSEC"]);
    }

    #[test]
    fn signing_scope_follows_rfc_4035_2_2() {
        use crate::zone::is_signed;
        assert!(is_signed(NameKind::Apex, rtype::NS));
        assert!(is_signed(NameKind::Delegation, rtype::DS));
        assert!(
            !is_signed(NameKind::Delegation, rtype::NS),
            "delegation NS is not signed (DPS-6.2)"
        );
        assert!(!is_signed(NameKind::Delegation, rtype::A));
        assert!(
            !is_signed(NameKind::Occluded, rtype::A),
            "glue is not signed"
        );
        assert!(is_signed(NameKind::Authoritative, rtype::NSEC));
    }

    #[test]
    fn duplicate_records_merge_and_ttl_mismatch_uses_lowest_rfc_2181() {
        let text = "$ORIGIN example.\n@ 3600 SOA ns1 host 1 2 3 4 300\n@ 3600 NS ns1\n@ 7200 NS ns1\n@ 600 NS NS2\nns1 60 A 192.0.2.1\n";
        let origin = Name::parse(b"example.", None).unwrap();
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin).unwrap();
        let (z, mism) = Zone::from_records(origin.clone(), p.records);
        let ns = z.get(&origin, rtype::NS).unwrap();
        assert_eq!(
            ns.rdatas.len(),
            2,
            "duplicates merged, names compared case-insensitively"
        );
        assert_eq!(ns.ttl, 600);
        assert_eq!(
            (mism.len(), mism[0].lowest, mism[0].highest),
            (1, 600, 7200)
        );
    }
}
