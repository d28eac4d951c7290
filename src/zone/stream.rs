//! A zone read from a file in canonical order a window of records at a time and
//! handed out in parts, so that the whole zone is never held at once (issue 25).
//!
//! `zonesign verify` of a signed 1M-delegation zone held its text and its seven
//! million records together before grouping them: 1.76 GiB, against 1.3 GiB for
//! kzonecheck. Signed zones come out of every signer in canonical order (zonesign,
//! BIND, Knot, ldns, OpenDNSSEC), so each window's records can become RRsets at once:
//! the RRsets of one window sort after those of the one before, and the verifier
//! checks them and lets them go ([`crate::dnssec::verify::Windowed`]). A file out of
//! order is told to the caller, which then reads it whole.

use rayon::prelude::*;

use super::Zone;
use crate::dns::name::Name;
use crate::dns::record::Record;

/// The file's owners are not in canonical order (or an owner's records are not
/// together): it must be read whole and sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfOrder;

/// A zone handed out in parts, window by window ([`Parts::push`]): each part holds
/// whole owners (all of an owner's records, its RRSIGs too), after every owner of the
/// parts before. `zonesign verify` checks a part and drops it (issue 25).
pub struct Parts {
    origin: Name,
    /// The last owner handed out.
    last: Option<Name>,
    /// The records of the last owner read: the next window may hold more of its
    /// records (its RRSIGs, say), so they go out with the next part.
    carry: Vec<Record>,
}

impl Parts {
    pub fn new(origin: Name) -> Parts {
        Parts {
            origin,
            last: None,
            carry: Vec::new(),
        }
    }

    /// The part of the zone the records of the next window (in file order) complete.
    /// On [`OutOfOrder`] nothing more can be added.
    pub fn push(&mut self, records: Vec<Record>) -> Result<Zone, OutOfOrder> {
        let mut records = if self.carry.is_empty() {
            records
        } else {
            let mut all = std::mem::take(&mut self.carry);
            all.extend(records);
            all
        };
        let after_last = |r: &Record| self.last.as_ref().is_none_or(|l| r.owner > *l);
        if !records.first().is_none_or(after_last) || !in_owner_order(&records) {
            return Err(OutOfOrder);
        }
        let last_owner = records.last().map(|r| r.owner.clone());
        let keep = records
            .iter()
            .rposition(|r| Some(&r.owner) != last_owner.as_ref())
            .map_or(0, |p| p + 1);
        self.carry = records.split_off(keep);
        if let Some(r) = records.last() {
            self.last = Some(r.owner.clone());
        }
        Ok(self.part(records))
    }

    /// The last part: the records still held.
    pub fn finish(mut self) -> Zone {
        let carry = std::mem::take(&mut self.carry);
        self.part(carry)
    }

    fn part(&self, records: Vec<Record>) -> Zone {
        Zone::from_records(self.origin.clone(), records).0
    }
}

/// Whether each record's owner is at or after the one before (canonical order).
fn in_owner_order(records: &[Record]) -> bool {
    records.par_windows(2).all(|w| w[0].owner <= w[1].owner)
}

/// The RRsets (owner, type, RDATA count, signature count) and orphan signatures of a
/// zone: what tests of a zone built in windows compare with one built whole.
#[cfg(test)]
pub(crate) fn shape(z: &Zone) -> Vec<String> {
    let rrsets = z.rrsets.iter().map(|s| {
        let (n, sigs) = (s.rdatas.len(), s.sigs.len());
        format!("{} {} {n} {sigs}", s.owner, s.rtype)
    });
    let orphans = z
        .orphan_sigs
        .iter()
        .map(|(n, t, _)| format!("orphan {n} {t}"));
    rrsets.chain(orphans).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::zonefile::parse_bytes;
    use std::path::Path;

    const ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n@ RRSIG NS 13 1 3600 20300101000000 20200101000000 1 example. AAAA\n\
a A 192.0.2.1\na RRSIG A 13 2 3600 20300101000000 20200101000000 1 example. AAAA\n\
a AAAA 2001:db8::1\nb.a TXT \"x\"\nb.a RRSIG AAAA 13 3 3600 20300101000000 20200101000000 1 example. AAAA\n\
c NS ns.c\nc DS 1 13 2 AABB\nns.c A 192.0.2.2\nz TXT \"z\"\n";

    fn records(text: &str) -> Vec<Record> {
        let origin = Name::parse(b"example.", None).unwrap();
        parse_bytes(text.as_bytes(), Path::new("t.zone"), &origin)
            .unwrap()
            .records
    }

    /// Cut into windows anywhere, even inside an owner's records, the zone is the one
    /// built from all records at once (RRSIGs of an owner in the next window too).
    #[test]
    fn windows_anywhere_give_the_whole_zone() {
        let all = records(ZONE);
        let origin = Name::parse(b"example.", None).unwrap();
        let want = shape(&Zone::from_records(origin.clone(), all.clone()).0);
        for size in 1..=all.len() {
            let mut parts = Parts::new(origin.clone());
            let mut joined = Vec::new();
            for window in all.chunks(size) {
                joined.extend(shape(&parts.push(window.to_vec()).unwrap()));
            }
            joined.extend(shape(&parts.finish()));
            let (sets, orphans): (Vec<String>, Vec<String>) =
                joined.into_iter().partition(|s| !s.starts_with("orphan"));
            let joined: Vec<String> = sets.into_iter().chain(orphans).collect();
            assert_eq!(joined, want, "windows of {size} records");
        }
    }

    /// Owners out of order, within a window or across two, are told; the same owner
    /// split by another owner too.
    #[test]
    fn out_of_order_is_told() {
        let origin = Name::parse(b"example.", None).unwrap();
        let within = records("$ORIGIN example.\n$TTL 1\nb A 192.0.2.1\na A 192.0.2.1\n");
        let mut a = Parts::new(origin.clone());
        assert_eq!(a.push(within).err(), Some(OutOfOrder));

        let mut a = Parts::new(origin.clone());
        a.push(records(
            "$ORIGIN example.\n$TTL 1\nb A 192.0.2.1\nc A 192.0.2.1\n",
        ))
        .unwrap();
        let back = records("$ORIGIN example.\n$TTL 1\nb AAAA 2001:db8::1\n");
        assert_eq!(a.push(back).err(), Some(OutOfOrder));

        let mut a = Parts::new(origin);
        let split =
            records("$ORIGIN example.\n$TTL 1\na A 192.0.2.1\nb A 192.0.2.1\na AAAA 2001:db8::1\n");
        assert_eq!(a.push(split).err(), Some(OutOfOrder));
    }
}
