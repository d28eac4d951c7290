//! The proof of unchanged data (PIPE-4): a digest of a zone's non-DNSSEC content.
//!
//! Signing may add and replace DNSSEC data only. The signing run takes this digest of
//! the admitted input, and the gate takes it again of the signed zone just before
//! publication; unless both are equal nothing is written. Left out: DNSKEY, RRSIG,
//! NSEC, NSEC3, NSEC3PARAM, ZONEMD, the apex CDS and CDNSKEY (all made or replaced by
//! the signer) and the SOA serial (which the serial policy moves); everything else,
//! glue and occluded data included, is in, with owner, type, class, TTL and RDATA.
//!
//! Where the input digest is taken: after the policy's DS TTL rule (DPS-6.7, every DS
//! RRset gets `ds-ttl`). That rule is the policy's one deliberate change to non-DNSSEC
//! data, reported in the run's warnings; the proof covers everything after it, so any
//! other change (a signer bug, a memory fault, a bad merge) stops the run.
//!
//! Records are hashed in the zone's canonical order in RFC 4034 §6.2 form (owner in
//! lowercase wire form, type, class, TTL, RDATA length, RDATA), SHA-256, one walk.

use sha2::{Digest, Sha256};

use crate::dns::name::read_wire_name;
use crate::dns::record::{CLASS_IN, rtype};
use crate::zone::{RRset, Zone};

/// Types the signer makes or replaces anywhere in the zone.
const DNSSEC_TYPES: [u16; 6] = [
    rtype::DNSKEY,
    rtype::RRSIG,
    rtype::NSEC,
    rtype::NSEC3,
    rtype::NSEC3PARAM,
    rtype::ZONEMD,
];

/// Whether an RRset is left out of the content digest.
fn excluded(zone: &Zone, set: &RRset) -> bool {
    DNSSEC_TYPES.contains(&set.rtype)
        || (matches!(set.rtype, rtype::CDS | rtype::CDNSKEY) && set.owner == zone.origin)
}

/// The hex SHA-256 of `zone`'s non-DNSSEC content (see the module documentation).
pub fn digest(zone: &Zone) -> String {
    let mut hash = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut owner = Vec::with_capacity(256);
    for set in zone.rrsets.iter().filter(|s| !excluded(zone, s)) {
        owner.clear();
        set.owner.write_canonical(&mut owner);
        let apex_soa = set.rtype == rtype::SOA && set.owner == zone.origin;
        for rdata in &set.rdatas {
            buf.extend_from_slice(&owner);
            buf.extend_from_slice(&set.rtype.to_be_bytes());
            buf.extend_from_slice(&CLASS_IN.to_be_bytes());
            buf.extend_from_slice(&set.ttl.to_be_bytes());
            buf.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            let at = buf.len();
            buf.extend_from_slice(rdata);
            if apex_soa && let Some(serial) = soa_serial_at(rdata) {
                buf[at + serial..at + serial + 4].fill(0);
            }
        }
        if buf.len() >= 64 * 1024 {
            hash.update(&buf);
            buf.clear();
        }
    }
    hash.update(&buf);
    data_encoding::HEXLOWER.encode(&hash.finalize())
}

/// Offset of the SERIAL field in SOA RDATA: after the two names.
fn soa_serial_at(rdata: &[u8]) -> Option<usize> {
    let (_, m) = read_wire_name(rdata).ok()?;
    let (_, r) = read_wire_name(rdata.get(m..)?).ok()?;
    rdata.get(m + r..m + r + 4).map(|_| m + r)
}

/// The environment variable of the test-only hook ([`alter_for_test`]).
#[cfg(debug_assertions)]
pub const TEST_ALTER_ENV: &str = "ZONESIGN_TEST_ALTER_AFTER_ADMISSION";

/// TEST ONLY, compiled only with debug assertions (never in a release build): when
/// [`TEST_ALTER_ENV`] is set, adds one second to the TTL of the first non-apex RRset
/// that is not DNSSEC data, after admission, as a faulty signer would; the
/// integration tests show that the gate then refuses to publish (PIPE-4). Returns
/// what it altered.
#[cfg(debug_assertions)]
pub fn alter_for_test(zone: &mut Zone) -> Option<String> {
    std::env::var_os(TEST_ALTER_ENV)?;
    let origin = zone.origin.clone();
    let set = zone
        .rrsets
        .iter_mut()
        .find(|s| s.owner != origin && !DNSSEC_TYPES.contains(&s.rtype))?;
    set.ttl += 1;
    Some(format!("{} type {} TTL +1", set.owner, set.rtype))
}

/// Release builds have no hook.
#[cfg(not(debug_assertions))]
pub fn alter_for_test(_zone: &mut Zone) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;

    fn zone(text: &str) -> Zone {
        let origin = Name::parse(b"example.", None).unwrap();
        let parsed = crate::dns::zonefile::parse_bytes(
            text.as_bytes(),
            std::path::Path::new("t.zone"),
            &origin,
        )
        .unwrap();
        Zone::from_records(origin, parsed.records).0
    }

    const BASE: &str = "$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
                        sub NS ns.sub\nns.sub A 192.0.2.3\n";

    /// DNSSEC data and the SOA serial leave the digest alone (PIPE-4).
    #[test]
    fn dnssec_data_and_the_serial_are_left_out() {
        let base = digest(&zone(BASE));
        let signed = format!(
            "{}\n@ DNSKEY 257 3 15 {}\n@ CDS 1 15 2 {}\n@ NSEC ns1 NS SOA\n@ ZONEMD 7 1 1 {}\n",
            BASE.replace(" 7 2 3 4", " 9 2 3 4"),
            "A".repeat(44),
            "AB".repeat(32),
            "CD".repeat(48)
        );
        assert_eq!(digest(&zone(&signed)), base);
    }

    /// Any change to non-DNSSEC data changes it: RDATA, TTL, a glue record, a
    /// non-apex CDS, another SOA field.
    #[test]
    fn any_other_change_is_seen() {
        let base = digest(&zone(BASE));
        for changed in [
            BASE.replace("192.0.2.1", "192.0.2.9"),
            BASE.replace("ns1 A", "ns1 301 A"),
            BASE.replace("ns.sub A 192.0.2.3\n", ""),
            format!("{BASE}sub CDS 1 15 2 {}\n", "AB".repeat(32)),
            BASE.replace(" 7 2 3 4 300", " 7 2 3 4 301"),
        ] {
            assert_ne!(digest(&zone(&changed)), base, "{changed}");
        }
    }

    /// The hook is off unless its variable is set.
    #[test]
    fn the_test_hook_is_off_by_default() {
        let mut z = zone(BASE);
        if std::env::var_os(TEST_ALTER_ENV).is_none() {
            assert!(alter_for_test(&mut z).is_none());
        }
    }
}
