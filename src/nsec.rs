//! The NSEC chain: authenticated denial of existence (DPS-6.2, RFC 4034 §4, RFC 4035 §2.3).
//!
//! One NSEC record per owner name that is not occluded, in canonical order, each pointing
//! to the next name and closing back to the apex. Empty non-terminals have no records and
//! so are not owners. The type bitmap lists the types present, plus NSEC and RRSIG; at a
//! delegation only NS, DS (if present), NSEC and RRSIG, because the parent is not
//! authoritative for anything else there (RFC 4035 §2.3).

use crate::name::Name;
use crate::rdata::encode_type_bitmap;
use crate::record::rtype;
use crate::zone::{NameGroup, NameKind, RRset, Zone, in_nsec_chain};

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
/// Merges in one linear pass rather than inserting one by one, because a TLD zone has
/// a million or more chained names.
pub fn add_chain(zone: &mut Zone, ttl: u32) {
    let groups = zone.names();
    let mut nsecs = chain(zone, &groups).into_iter().peekable();
    let old = std::mem::take(&mut zone.rrsets);
    let mut out = Vec::with_capacity(old.len() + groups.len());
    let mut old = old.into_iter();
    for (g, group) in groups.iter().enumerate() {
        let mut pending = match nsecs.peek() {
            Some((ng, _)) if *ng == g => nsecs.next().map(|(_, r)| r),
            _ => None,
        };
        for _ in group.range.clone() {
            let Some(set) = old.next() else { break };
            if set.rtype > rtype::NSEC
                && let Some(rdata) = pending.take()
            {
                out.push(nsec_set(&set, ttl, rdata));
            }
            out.push(set);
        }
        if let (Some(rdata), Some(last)) = (pending.take(), out.last()) {
            let set = nsec_set(last, ttl, rdata);
            out.push(set);
        }
    }
    zone.rrsets = out;
}

fn nsec_set(neighbour: &RRset, ttl: u32, rdata: Box<[u8]>) -> RRset {
    RRset {
        owner: neighbour.owner.clone(),
        rtype: rtype::NSEC,
        ttl,
        rdatas: vec![rdata],
        sigs: Vec::new(),
        loc: neighbour.loc,
    }
}
