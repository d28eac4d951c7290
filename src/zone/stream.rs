//! A zone built from a file in canonical order a window of records at a time, so
//! that the records of the whole file are never held at once (issue 25).
//!
//! `zonesign verify` of a signed 1M-delegation zone held its text and its seven
//! million records together before grouping them: 1.76 GiB, against 1.3 GiB for
//! kzonecheck. Signed zones come out of every signer in canonical order (zonesign,
//! BIND, Knot, ldns, OpenDNSSEC), so each window's records can become RRsets at once
//! and be appended: the RRsets of one window sort after those of the one before.
//! A file out of order is told to the caller, which then reads it whole.

use rayon::prelude::*;

use super::Zone;
use crate::dns::name::Name;
use crate::dns::record::Record;

/// The file's owners are not in canonical order (or an owner's records are not
/// together): it must be read whole and sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfOrder;

/// A zone being built window by window ([`Assembler::push`]).
pub struct Assembler {
    zone: Zone,
    /// Octets of the whole file, to size the RRset vector once from the first window.
    total: u64,
    /// The records of the last owner read: the next window may hold more of its
    /// records (its RRSIGs, say), so it is built with them.
    carry: Vec<Record>,
}

impl Assembler {
    /// An empty zone for a file of `total` octets.
    pub fn new(origin: Name, total: u64) -> Assembler {
        Assembler {
            zone: Zone {
                origin,
                rrsets: Vec::new(),
                orphan_sigs: Vec::new(),
            },
            total,
            carry: Vec::new(),
        }
    }

    /// Adds the records of the next window (in file order) after `read` octets of the
    /// file. On [`OutOfOrder`] nothing more can be added.
    pub fn push(&mut self, records: Vec<Record>, read: u64) -> Result<(), OutOfOrder> {
        let mut records = if self.carry.is_empty() {
            records
        } else {
            let mut all = std::mem::take(&mut self.carry);
            all.extend(records);
            all
        };
        let after_built = |r: &Record| self.zone.rrsets.last().is_none_or(|l| r.owner > l.owner);
        if !records.first().is_none_or(after_built) || !in_owner_order(&records) {
            return Err(OutOfOrder);
        }
        let last_owner = records.last().map(|r| r.owner.clone());
        let keep = records
            .iter()
            .rposition(|r| Some(&r.owner) != last_owner.as_ref())
            .map_or(0, |p| p + 1);
        self.carry = records.split_off(keep);
        self.append(records, read);
        Ok(())
    }

    /// The zone, with the records still held.
    pub fn finish(mut self) -> Zone {
        let carry = std::mem::take(&mut self.carry);
        self.append(carry, self.total);
        self.zone
    }

    /// Groups records of owners after every one built so far and appends them.
    fn append(&mut self, records: Vec<Record>, read: u64) {
        if records.is_empty() {
            return;
        }
        let (part, _) = Zone::from_records(self.zone.origin.clone(), records);
        let rrsets = &mut self.zone.rrsets;
        if rrsets.capacity() < rrsets.len() + part.rrsets.len() {
            // Sized for the whole file at this window's rate, and a quarter more:
            // room never written costs no memory, while growing by doubling copied
            // the vector and held the old one meanwhile (a transient of half a GB).
            // A file that grew while read still grows by doubling, never window by
            // window.
            let per_octet = (rrsets.len() + part.rrsets.len()) as f64 / read.max(1) as f64;
            let whole = (per_octet * self.total as f64 * 1.25) as usize;
            rrsets.reserve(whole.saturating_sub(rrsets.len()).max(part.rrsets.len()));
        }
        rrsets.extend(part.rrsets);
        self.zone.orphan_sigs.extend(part.orphan_sigs);
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
            let mut a = Assembler::new(origin.clone(), 1000);
            for (k, window) in all.chunks(size).enumerate() {
                a.push(window.to_vec(), ((k + 1) * 100) as u64).unwrap();
            }
            assert_eq!(shape(&a.finish()), want, "windows of {size} records");
        }
    }

    /// Owners out of order, within a window or across two, are told; the same owner
    /// split by another owner too.
    #[test]
    fn out_of_order_is_told() {
        let origin = Name::parse(b"example.", None).unwrap();
        let within = records("$ORIGIN example.\n$TTL 1\nb A 192.0.2.1\na A 192.0.2.1\n");
        let mut a = Assembler::new(origin.clone(), 10);
        assert_eq!(a.push(within, 10), Err(OutOfOrder));

        let mut a = Assembler::new(origin.clone(), 10);
        a.push(
            records("$ORIGIN example.\n$TTL 1\nb A 192.0.2.1\nc A 192.0.2.1\n"),
            5,
        )
        .unwrap();
        let back = records("$ORIGIN example.\n$TTL 1\nb AAAA 2001:db8::1\n");
        assert_eq!(a.push(back, 10), Err(OutOfOrder));

        let mut a = Assembler::new(origin, 10);
        let split =
            records("$ORIGIN example.\n$TTL 1\na A 192.0.2.1\nb A 192.0.2.1\na AAAA 2001:db8::1\n");
        assert_eq!(a.push(split, 10), Err(OutOfOrder));
    }
}
