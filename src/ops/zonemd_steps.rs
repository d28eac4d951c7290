//! ZONEMD in the signing run (RFC 8976 SIMPLE scheme, PIPE-3 and PIPE-4).
//!
//! Out: a placeholder ZONEMD goes to the apex before the denial chain is built, so
//! the apex bitmap lists ZONEMD (RFC 8976 §3.1); everything else is signed; then the
//! gate's first stage (`crate::dnssec::verify::first_stage`) checks every name but the
//! apex and, beside that, takes the digest (which leaves out the apex ZONEMD RRset and
//! its signatures, §3.3.1.1); that digest fills the record in, and that one RRset is
//! signed in a second pass inside the same HSM login. The gate's second stage checks
//! the apex and compares the record with the digest it took. At TLD size the digest is
//! about half a second of SHA-384 that cannot be split across cores: taken once, beside
//! the per-name checks, it costs the cycle little.
//!
//! The placeholder is the previous output's ZONEMD when it has the configured
//! algorithms: the cron cycle's "nothing changed, nothing due" comparison then sees an
//! unchanged RRset, and the published file, whose ZONEMD still matches, stays as it is.
//! When anything changed the digest is made anew (the serial moves too, unless the
//! policy keeps it: then a change in unsigned glue alone still gets a new digest,
//! signed in a login of its own), so an old ZONEMD or its signature is never carried
//! into a new output (the text copy of unchanged RRsets never copies a ZONEMD either,
//! see `store::output`).

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::dns::name::Name;
use crate::dns::record::{Record, rtype};
use crate::hsm::{HsmError, SigningBackend, SigningSession};
use crate::zone::zonemd::{self, HashAlg, ZonemdError};
use crate::zone::{REGENERATED, RRset, Rdatas, Zone};

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
    let reusable = previous.and_then(|p| {
        let serial = p
            .soa()
            .and_then(|s| s.rdatas.first())
            .and_then(crate::dnssec::resign::soa_serial);
        p.get(&p.origin, rtype::ZONEMD)
            .filter(|set| same_algorithms(set, hashes) && of_serial(set, serial))
    });
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

/// Whether every record of a previous ZONEMD RRset has the previous SOA serial: a
/// stale one (another signer's, or an input's copied by an older zonesign) is not
/// kept even when nothing else changed.
fn of_serial(set: &RRset, serial: Option<u32>) -> bool {
    set.rdatas.iter().all(|r| {
        zonemd::parse_rdata(r)
            .ok()
            .is_some_and(|z| Some(z.serial) == serial)
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
    let rdatas = digest_with(zone, hashes, &zonemd::Digests::default());
    fill_with(zone, rdatas)
}

/// The first half of [`fill`], reading the zone only: the new ZONEMD RDATA from the
/// digests `known` holds (those it lacks are taken now), or `None` when there is no
/// ZONEMD to fill.
pub fn digest_with(
    zone: &Zone,
    hashes: &[HashAlg],
    known: &zonemd::Digests,
) -> Option<Result<Rdatas, ZonemdError>> {
    if hashes.is_empty() || zone.find(&zone.origin, rtype::ZONEMD).is_none() {
        return None;
    }
    Some(zonemd::make_with(zone, hashes, known))
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

/// What the input's apex ZONEMD said (PIPE-3), for the report and the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum InputZonemd {
    /// The input has no apex ZONEMD.
    #[default]
    Absent,
    /// A ZONEMD of the input's serial matched the input.
    Verified {
        /// The serial (the input SOA's).
        serial: u32,
        /// The algorithm of the record that matched.
        hash: String,
    },
    /// Every apex ZONEMD has another serial than the input's SOA: it describes
    /// another version and cannot be verified (RFC 8976 §4); treated as absent.
    OtherSerial {
        /// Why, for people.
        detail: String,
    },
    /// The records of the input's serial use a scheme or hash algorithm zonesign
    /// cannot compute; treated as absent.
    Unsupported {
        /// Why, for people.
        detail: String,
    },
    /// A digest that does not match, or malformed or duplicated records: the input is
    /// not the zone its publisher digested. Rejects the input.
    Invalid {
        /// Why, for people.
        detail: String,
    },
}

impl InputZonemd {
    /// Why the input is rejected (PIPE-3), if it is: a ZONEMD that does not verify, or,
    /// with `require-input-zonemd`, none that can be verified.
    pub fn rejection(&self, require: bool) -> Option<String> {
        match self {
            InputZonemd::Invalid { detail } => Some(format!(
                "the input's ZONEMD does not verify (PIPE-3): {detail}"
            )),
            InputZonemd::Verified { .. } => None,
            other if require => Some(format!(
                "the input has no ZONEMD of its serial that zonesign can verify ({}), and the policy sets require-input-zonemd (PIPE-3)",
                other.describe()
            )),
            _ => None,
        }
    }

    /// A warning for a ZONEMD that is there but cannot be verified.
    pub fn warning(&self) -> Option<String> {
        match self {
            InputZonemd::OtherSerial { detail } | InputZonemd::Unsupported { detail } => Some(
                format!("the input's ZONEMD cannot be verified and is treated as absent: {detail}"),
            ),
            _ => None,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            InputZonemd::Absent => "no ZONEMD".into(),
            InputZonemd::Verified { serial, hash } => {
                format!("ZONEMD verified ({hash}, serial {serial})")
            }
            InputZonemd::OtherSerial { detail }
            | InputZonemd::Unsupported { detail }
            | InputZonemd::Invalid { detail } => detail.clone(),
        }
    }
}

/// The input's apex ZONEMD records, found before the records signing makes anew are
/// dropped from the input.
pub struct InputScan {
    apex: Vec<Box<[u8]>>,
    /// The input has other records the digest covers but the signer drops (DNSSEC
    /// records, a ZONEMD below the apex): the ZONEMD is then checked on the zone as
    /// read, whole.
    whole: bool,
}

impl InputScan {
    /// Looks through the parsed records.
    pub fn new(origin: &Name, records: &[Record]) -> InputScan {
        let mut scan = InputScan {
            apex: Vec::new(),
            whole: false,
        };
        for r in records.iter().filter(|r| REGENERATED.contains(&r.rtype)) {
            if r.rtype == rtype::ZONEMD && r.owner == *origin {
                scan.apex.push(r.rdata.clone());
            } else {
                scan.whole = true;
            }
        }
        scan
    }

    /// Whether the check needs the zone as read, whole (see [`InputScan::whole`]).
    pub fn needs_whole_zone(&self) -> bool {
        self.whole && !self.apex.is_empty()
    }

    /// Checks the input's ZONEMD (RFC 8976 §4) against `zone` (the input without the
    /// records signing drops), or against `whole` (the input as read) when the scan
    /// found records the digest covers but `zone` lacks.
    pub fn check(&self, zone: &Zone, whole: Option<&Zone>) -> InputZonemd {
        if self.apex.is_empty() {
            return InputZonemd::Absent;
        }
        let result = match whole {
            Some(w) => zonemd::check(w).and_then(|c| c.ok_or(ZonemdError::NoSoa)),
            None => zonemd::check_records(zone, self.apex.iter().map(|r| &r[..])),
        };
        match result {
            Ok(c) => InputZonemd::Verified {
                serial: c.serial,
                hash: c.hash.to_string(),
            },
            Err(e @ ZonemdError::SerialMismatch { .. }) => InputZonemd::OtherSerial {
                detail: e.to_string(),
            },
            Err(e @ ZonemdError::Unsupported { .. }) => InputZonemd::Unsupported {
                detail: e.to_string(),
            },
            Err(e) => InputZonemd::Invalid {
                detail: e.to_string(),
            },
        }
    }
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
        // A stale previous ZONEMD (another serial than the previous SOA's) is not kept.
        let stale = zone(&format!("@ ZONEMD 6 1 1 {}\n", "AB".repeat(48)));
        let p = placeholder(&z, Some(&stale), &[HashAlg::Sha384], 300).unwrap();
        assert_eq!(zonemd::parse_rdata(&p.rdatas[0]).unwrap().serial, 0);
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

#[cfg(test)]
mod input_tests {
    use super::*;

    fn parsed(text: &str) -> (Name, Vec<Record>) {
        let origin = Name::parse(b"example.", None).unwrap();
        let text =
            format!("$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n{text}");
        let p = crate::dns::zonefile::parse_bytes(
            text.as_bytes(),
            std::path::Path::new("t.zone"),
            &origin,
        )
        .unwrap();
        (origin, p.records)
    }

    /// Runs the scan and check as the input stage does: ZONEMD dropped from the zone.
    fn outcome(text: &str) -> InputZonemd {
        let (origin, records) = parsed(text);
        let scan = InputScan::new(&origin, &records);
        let whole = scan
            .needs_whole_zone()
            .then(|| Zone::from_records(origin.clone(), records.clone()).0);
        let kept: Vec<Record> = records
            .into_iter()
            .filter(|r| !REGENERATED.contains(&r.rtype))
            .collect();
        let zone = Zone::from_records(origin, kept).0;
        scan.check(&zone, whole.as_ref())
    }

    /// The digest of the test zone with `extra`, as an apex ZONEMD line.
    fn good_line(extra: &str, serial: u32) -> String {
        let (origin, records) = parsed(extra);
        let zone = Zone::from_records(origin, records).0;
        let d = zonemd::digest(&zone, HashAlg::Sha384);
        format!(
            "@ ZONEMD {serial} 1 1 {}\n",
            data_encoding::HEXUPPER.encode(&d)
        )
    }

    /// PIPE-3: a matching input ZONEMD is verified; a wrong digest rejects; another
    /// serial or an unknown algorithm is treated as absent, with a warning; with
    /// `require-input-zonemd` absence rejects too.
    #[test]
    fn input_zonemd_outcomes() {
        assert_eq!(outcome(""), InputZonemd::Absent);
        let good = outcome(&good_line("", 7));
        assert!(
            matches!(good, InputZonemd::Verified { serial: 7, .. }),
            "{good:?}"
        );
        assert_eq!(good.rejection(true), None);
        let bad = outcome(&format!("@ ZONEMD 7 1 1 {}\n", "AB".repeat(48)));
        assert!(matches!(bad, InputZonemd::Invalid { .. }), "{bad:?}");
        assert!(bad.rejection(false).unwrap().contains("mismatch"));
        let other = outcome(&format!("@ ZONEMD 6 1 1 {}\n", "AB".repeat(48)));
        assert!(
            matches!(other, InputZonemd::OtherSerial { .. }),
            "{other:?}"
        );
        assert!(other.warning().is_some());
        assert_eq!(other.rejection(false), None);
        assert!(other.rejection(true).is_some());
        let unknown = outcome(&format!("@ ZONEMD 7 1 240 {}\n", "AB".repeat(48)));
        assert!(
            matches!(unknown, InputZonemd::Unsupported { .. }),
            "{unknown:?}"
        );
        assert!(InputZonemd::Absent.rejection(true).is_some());
    }

    /// An input that also carries DNSSEC records is checked on the zone as read: the
    /// digest covers them.
    #[test]
    fn input_with_dnssec_records_is_checked_whole() {
        let extra = "www NSEC ns1 A RRSIG NSEC\nwww A 192.0.2.2\n";
        let text = format!("{extra}{}", good_line(extra, 7));
        assert!(matches!(outcome(&text), InputZonemd::Verified { .. }));
    }
}

/// A signing backend that keeps one session of the first signing pass open for the
/// ZONEMD pass, so that pass opens no session of its own: with `[hsm]
/// worker-processes` a new session is a new worker process, its login and its audit
/// lines (and with `session-key-copies`, key copies made again) for one signature.
///
/// Every session it hands out gives itself back when dropped, and the first one given
/// back is kept for the next [`SigningBackend::open_session`]; the others close as
/// before. The kept session closes when the backend is dropped.
pub struct KeepSession<'a> {
    inner: &'a dyn SigningBackend,
    kept: Arc<Mutex<Option<Box<dyn SigningSession>>>>,
}

impl<'a> KeepSession<'a> {
    /// Wraps `inner`.
    pub fn new(inner: &'a dyn SigningBackend) -> KeepSession<'a> {
        KeepSession {
            inner,
            kept: Arc::new(Mutex::new(None)),
        }
    }
}

impl SigningBackend for KeepSession<'_> {
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner()).take();
        let session = match kept {
            Some(s) => s,
            None => self.inner.open_session()?,
        };
        Ok(Box::new(Kept {
            session: Some(session),
            home: Arc::clone(&self.kept),
        }))
    }
}

/// A session of [`KeepSession`]: signs through the real one, gives it back when dropped.
struct Kept {
    session: Option<Box<dyn SigningSession>>,
    home: Arc<Mutex<Option<Box<dyn SigningSession>>>>,
}

impl SigningSession for Kept {
    fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        match self.session.as_mut() {
            Some(s) => s.sign(key, data),
            None => Err(closed()),
        }
    }

    fn sign_batch(&mut self, items: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>, HsmError> {
        match self.session.as_mut() {
            Some(s) => s.sign_batch(items),
            None => Err(closed()),
        }
    }

    fn key_copies(&self) -> usize {
        self.session.as_ref().map_or(0, |s| s.key_copies())
    }
}

/// The error of a session used after it was given back (it never is: only `Drop`
/// takes it).
fn closed() -> HsmError {
    HsmError::Worker {
        message: "signing session already closed".into(),
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let mut home = self.home.lock().unwrap_or_else(|p| p.into_inner());
        if home.is_none() {
            *home = Some(session);
        }
    }
}

#[cfg(test)]
mod keep_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);
    struct Echo;

    impl SigningBackend for Counting {
        fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Echo))
        }
    }

    impl SigningSession for Echo {
        fn sign(&mut self, key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
            Ok([&[key as u8][..], data].concat())
        }
    }

    /// The second pass gets the first pass's session back: one session opened for two
    /// passes (no second worker process and login); two at once still get two.
    #[test]
    fn the_zonemd_pass_reuses_a_session() {
        let inner = Counting(AtomicUsize::new(0));
        let keep = KeepSession::new(&inner);
        let (mut a, mut b) = (keep.open_session().unwrap(), keep.open_session().unwrap());
        assert_eq!(a.sign(1, b"x").unwrap(), b"\x01x");
        assert_eq!(b.sign_batch(&[(2, b"y")]).unwrap(), [b"\x02y".to_vec()]);
        drop((a, b));
        let mut again = keep.open_session().unwrap();
        assert_eq!(again.sign(3, b"z").unwrap(), b"\x03z");
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }
}
