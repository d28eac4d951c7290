//! ZONEMD in the signing run (RFC 8976 SIMPLE scheme, PIPE-3 and PIPE-4).
//!
//! Out: a placeholder ZONEMD goes to the apex before the denial chain is built, so
//! the apex bitmap lists ZONEMD (RFC 8976 §3.1); everything else is signed; then the
//! digest (which leaves out the apex ZONEMD RRset and its signatures, §3.3.1.1) fills
//! it in and that one RRset is signed in a second pass inside the same HSM login. The
//! gate verifies it like any `zonesign verify` would.
//!
//! The placeholder is the previous output's ZONEMD when it has the configured
//! algorithms: the cron cycle's "nothing changed, nothing due" comparison then sees an
//! unchanged RRset, and the published file, whose ZONEMD still matches, stays as it is.
//! When anything changed the serial moves and the digest is made anew, so an old
//! ZONEMD or its signature is never carried into a new output (the text copy of
//! unchanged RRsets never copies a ZONEMD either, see `store::output`).

use crate::dns::record::rtype;
use crate::zone::zonemd::{self, HashAlg, ZonemdError};
use crate::zone::{RRset, Rdatas, Zone};

/// The apex ZONEMD RRset to put in before the denial chain, or `None` when the policy
/// makes no ZONEMD (`zonemd = "none"`).
pub fn placeholder(
    zone: &Zone,
    previous: Option<&Zone>,
    hashes: &[HashAlg],
    ttl: u32,
) -> Option<RRset> {
    if hashes.is_empty() {
        return None;
    }
    let reusable = previous
        .and_then(|p| p.get(&p.origin, rtype::ZONEMD))
        .filter(|set| same_algorithms(set, hashes));
    let rdatas = match reusable {
        Some(set) => set.rdatas.clone(),
        None => {
            let mut records: Vec<Vec<u8>> = hashes
                .iter()
                .map(|&h| zonemd::rdata(0, h, &vec![0; h.digest_len()]))
                .collect();
            records.sort_unstable();
            records.dedup();
            records.into_iter().collect()
        }
    };
    Some(RRset {
        owner: zone.origin.clone(),
        rtype: rtype::ZONEMD,
        ttl,
        rdatas,
        sigs: Vec::new(),
        loc: Default::default(),
    })
}

/// Whether a previous ZONEMD RRset holds exactly one SIMPLE record per configured
/// algorithm and nothing else.
fn same_algorithms(set: &RRset, hashes: &[HashAlg]) -> bool {
    let mut have: Vec<Option<HashAlg>> = set
        .rdatas
        .iter()
        .map(|r| zonemd::parse_rdata(r).ok().and_then(|z| z.supported()))
        .collect();
    have.sort_unstable();
    let mut want: Vec<Option<HashAlg>> = hashes.iter().copied().map(Some).collect();
    want.sort_unstable();
    want.dedup();
    have == want
}

/// Fills the apex ZONEMD in with the digest of the signed zone as it stands and drops
/// its signatures (placeholder ones, or reused ones of an earlier digest), leaving it
/// for a second signing pass. `Ok(false)` when the zone has no ZONEMD to fill.
pub fn fill(zone: &mut Zone, hashes: &[HashAlg]) -> Result<bool, ZonemdError> {
    let rdatas = digest(zone, hashes);
    fill_with(zone, rdatas)
}

/// The first half of [`fill`], reading the zone only (so that other hashing can run
/// beside it): the new ZONEMD RDATA, or `None` when there is no ZONEMD to fill.
pub fn digest(zone: &Zone, hashes: &[HashAlg]) -> Option<Result<Rdatas, ZonemdError>> {
    if hashes.is_empty() || zone.find(&zone.origin, rtype::ZONEMD).is_none() {
        return None;
    }
    Some(zonemd::make(zone, hashes))
}

/// The second half of [`fill`]: puts the RDATA of [`digest`] in and drops the
/// ZONEMD's signatures.
pub fn fill_with(
    zone: &mut Zone,
    rdatas: Option<Result<Rdatas, ZonemdError>>,
) -> Result<bool, ZonemdError> {
    let (Some(rdatas), Some(i)) = (rdatas, zone.find(&zone.origin, rtype::ZONEMD)) else {
        return Ok(false);
    };
    let set = &mut zone.rrsets[i];
    set.rdatas = rdatas?;
    set.sigs.clear();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;

    fn zone(extra: &str) -> Zone {
        let origin = Name::parse(b"example.", None).unwrap();
        let text =
            format!("$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n{extra}");
        let parsed = crate::dns::zonefile::parse_bytes(
            text.as_bytes(),
            std::path::Path::new("t.zone"),
            &origin,
        )
        .unwrap();
        Zone::from_records(origin, parsed.records).0
    }

    /// A fresh placeholder per algorithm; none for `zonemd = "none"`; the previous
    /// output's ZONEMD when its algorithms are the configured ones (PIPE-4).
    #[test]
    fn placeholders() {
        let z = zone("");
        assert!(placeholder(&z, None, &[], 300).is_none());
        let p = placeholder(&z, None, &[HashAlg::Sha384], 300).unwrap();
        assert_eq!(p.rdatas.len(), 1);
        assert_eq!(zonemd::parse_rdata(&p.rdatas[0]).unwrap().serial, 0);
        let prev = zone(&format!("@ ZONEMD 7 1 1 {}\n", "AB".repeat(48)));
        let p = placeholder(&z, Some(&prev), &[HashAlg::Sha384], 300).unwrap();
        assert_eq!(zonemd::parse_rdata(&p.rdatas[0]).unwrap().serial, 7);
        let p = placeholder(&z, Some(&prev), &[HashAlg::Sha512], 300).unwrap();
        assert_eq!(zonemd::parse_rdata(&p.rdatas[0]).unwrap().serial, 0);
    }

    /// After the fill the ZONEMD verifies (RFC 8976 §4) and carries the SOA serial.
    #[test]
    fn fill_makes_a_matching_digest() {
        let mut z = zone("");
        z.upsert(placeholder(&z, None, &[HashAlg::Sha512], 300).unwrap());
        assert!(zonemd::check(&z).is_err());
        assert!(fill(&mut z, &[HashAlg::Sha512]).unwrap());
        let checked = zonemd::check(&z).unwrap().unwrap();
        assert_eq!((checked.serial, checked.hash), (7, HashAlg::Sha512));
        let mut none = zone("");
        assert!(!fill(&mut none, &[HashAlg::Sha384]).unwrap());
    }
}
