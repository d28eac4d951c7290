//! Zone checks before signing: refuse what must not be signed, warn about what is odd.
//!
//! A TLD zone comes from a registry database dump; a bad dump must never be signed and
//! published. These are the rules of issue #3 and RFC 1034/2181/4035: one SOA at the apex,
//! NS at the apex, no CNAME beside other data, nothing outside the origin, DS only at
//! delegations and at most `max_ds_per_delegation` of them (DPS-3.3), one TTL per RRset;
//! CNAME and DNAME are singletons (RFC 2181 §10.1, RFC 6672 §2.4), and a DNAME never
//! shares its owner with a CNAME. An in-zone name server without an address record is
//! a warning (an error with `--strict`).
//! Every message names the file and line of the offending record.

use std::path::{Path, PathBuf};

use crate::dns::rdata::type_name;
use crate::dns::record::{CLASS_IN, Record, SourceLoc, rtype};
use crate::dnssec::policy::Policy;
use crate::zone::{NameKind, REGENERATED, Zone};

/// At most this many errors are listed; the rest are counted, so one systematic
/// problem in a 2-million-line file does not flood the terminal.
const MAX_LISTED: usize = 50;

/// Collects check errors and warnings with their source locations.
pub struct Findings<'a> {
    files: &'a [PathBuf],
    /// Problems that refuse signing.
    pub errors: Vec<String>,
    /// Problems that are reported but do not stop signing.
    pub warnings: Vec<String>,
    /// `zonesign sign --strict`: what BIND refuses but registries carry (an in-zone name
    /// server without an address record) is an error, not a warning.
    pub strict: bool,
    /// NS records whose in-zone target has no A or AAAA record (see
    /// [`check_ns_addresses`]), for the sign summary and the JSON report.
    pub ns_without_address: usize,
    unlisted: usize,
}

impl<'a> Findings<'a> {
    /// Starts an empty list for a zone read from `files` (index = `SourceLoc::file`).
    pub fn new(files: &'a [PathBuf]) -> Self {
        Findings {
            files,
            errors: Vec::new(),
            warnings: Vec::new(),
            strict: false,
            ns_without_address: 0,
            unlisted: 0,
        }
    }

    /// The same, refusing with `strict` what is otherwise a warning (`sign --strict`).
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Formats `file:line: message` for a record location.
    pub fn at(&self, loc: SourceLoc, msg: impl std::fmt::Display) -> String {
        match self.files.get(loc.file as usize) {
            Some(f) => format!("{}:{}: {msg}", f.display(), loc.line),
            None => msg.to_string(),
        }
    }

    fn error(&mut self, loc: SourceLoc, msg: impl std::fmt::Display) {
        if self.errors.len() < MAX_LISTED {
            let m = self.at(loc, msg);
            self.errors.push(m);
        } else {
            self.unlisted += 1;
        }
    }

    fn warn(&mut self, loc: SourceLoc, msg: impl std::fmt::Display) {
        let m = self.at(loc, msg);
        self.warnings.push(m);
    }

    /// The error list, with a final line counting what was not listed.
    pub fn into_errors(mut self) -> Vec<String> {
        if self.unlisted > 0 {
            self.errors.push(format!("... and {} more", self.unlisted));
        }
        self.errors
    }
}

/// Checks the records one by one: class IN and owner inside the origin.
pub fn check_records(origin: &crate::dns::name::Name, records: &[Record], f: &mut Findings) {
    for r in records {
        if r.class != CLASS_IN {
            f.error(r.loc, format!("{}: class {} is not IN", r.owner, r.class));
        }
        if !r.owner.is_subdomain_of(origin) {
            f.error(r.loc, format!("{} is outside the origin {origin}", r.owner));
        }
        if let Some(why) = unsignable(r.rtype) {
            f.error(r.loc, format!("{}: {why}; remove it", r.owner));
        }
    }
}

/// The errors of [`check_records`] over a file read a window at a time
/// ([`crate::zone::stream`]), listed exactly as one [`Findings`] over all its records
/// lists them (the first [`MAX_LISTED`], then a count of the rest).
#[derive(Default)]
pub struct RecordErrors {
    listed: Vec<String>,
    unlisted: usize,
}

impl RecordErrors {
    /// Checks the records of one window; `files` names the files read so far.
    pub fn check(
        &mut self,
        origin: &crate::dns::name::Name,
        records: &[Record],
        files: &[PathBuf],
    ) {
        let mut f = Findings::new(files);
        f.errors = std::mem::take(&mut self.listed);
        f.unlisted = self.unlisted;
        check_records(origin, records, &mut f);
        (self.listed, self.unlisted) = (f.errors, f.unlisted);
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The error list, with a final line counting what was not listed.
    pub fn into_errors(self) -> Vec<String> {
        let mut f = Findings::new(&[]);
        (f.errors, f.unlisted) = (self.listed, self.unlisted);
        f.into_errors()
    }
}

/// Why records of a type cannot be signed so that every validator accepts the output:
/// ldns (1.8) reads their RDATA, in any text form, as something else than the wire
/// zonesign signs, so ldns-verify-zone calls every signature over them bogus
/// (issue 21).
fn unsignable(t: u16) -> Option<&'static str> {
    match t {
        // ldns reads NSAP-PTR RDATA as a character string, not RFC 1706's name.
        rtype::NSAP_PTR => Some(
            "NSAP-PTR (obsolete, RFC 1706) cannot be signed so that every validator accepts it (ldns reads its RDATA as a string)",
        ),
        // ldns reads SINK RDATA as its first octet only (`\# 6 010000000102` is
        // printed `SINK 1`), checked with a zone signed by dnssec-signzone.
        rtype::SINK => Some(
            "SINK (never an RFC) cannot be signed so that every validator accepts it (ldns reads only the first octet of its RDATA)",
        ),
        _ => None,
    }
}

/// Checks the grouped zone: apex, CNAME, DS rules (DPS-3.3), occluded data.
pub fn check_zone(zone: &Zone, policy: &Policy, f: &mut Findings) {
    check_apex(zone, f);
    // The innermost authoritative DNAME owner seen: canonical order puts its
    // descendants right after it, so address records there are told apart from glue.
    let mut dname: Option<&crate::dns::name::Name> = None;
    for group in zone.names() {
        let sets = &zone.rrsets[group.range.clone()];
        let types: Vec<u16> = sets.iter().map(|s| s.rtype).collect();
        let first = sets[0].loc;
        let owner = &sets[0].owner;
        let below_dname = dname.is_some_and(|d| owner != d && owner.is_subdomain_of(d));
        if group.kind != NameKind::Occluded && types.contains(&rtype::DNAME) {
            dname = Some(owner);
        }
        if let Some(soa) = sets
            .iter()
            .find(|s| s.rtype == rtype::SOA && group.kind != NameKind::Apex)
        {
            f.error(soa.loc, format!("{owner}: SOA below the apex"));
        }
        if let Some(cname) = sets.iter().find(|s| s.rtype == rtype::CNAME) {
            let others: Vec<String> = types
                .iter()
                .filter(|&&t| !is_dnssec_meta(t) && t != rtype::CNAME)
                .map(|&t| type_name(t))
                .collect();
            if !others.is_empty() && group.kind != NameKind::Occluded {
                f.error(
                    cname.loc,
                    format!("{owner}: CNAME beside other data ({})", others.join(" ")),
                );
            }
            if cname.rdatas.len() > 1 {
                f.error(cname.loc, format!("{owner}: more than one CNAME record"));
            }
        }
        // DNAME is a singleton like CNAME (RFC 6672 §2.4): two targets for one subtree
        // would be signed and served as two contradicting redirections.
        if let Some(dname) = sets.iter().find(|s| s.rtype == rtype::DNAME)
            && dname.rdatas.len() > 1
        {
            f.error(
                dname.loc,
                format!(
                    "{owner}: {} DNAME records; at most one is allowed (RFC 6672 §2.4)",
                    dname.rdatas.len()
                ),
            );
        }
        if let Some(ds) = sets.iter().find(|s| s.rtype == rtype::DS) {
            check_ds(owner, ds, group.kind, policy, f);
        }
        if matches!(group.kind, NameKind::Apex | NameKind::Delegation)
            && let Some(ns) = sets.iter().find(|s| s.rtype == rtype::NS)
        {
            check_ns_addresses(zone, ns, group.kind, f);
        }
        match group.kind {
            NameKind::Delegation => {
                let extra: Vec<String> = types
                    .iter()
                    .filter(|&&t| !matches!(t, rtype::NS | rtype::DS) && !is_dnssec_meta(t))
                    .map(|&t| type_name(t))
                    .collect();
                if !extra.is_empty() {
                    f.warn(
                        first,
                        format!(
                            "{owner}: {} at a delegation is not authoritative; copied unsigned",
                            extra.join(" ")
                        ),
                    );
                }
            }
            // Refused, not warned about: such data is never served (the DNAME redirects
            // every name below it, RFC 6672 §2.3), and Knot refuses to load a zone with
            // it ("child record exists under DNAME"), so its signed output would fail
            // kzonecheck. BIND loads it; the README lists the difference.
            NameKind::Occluded if below_dname => {
                f.error(
                    first,
                    format!("{owner}: data below a DNAME is never served (RFC 6672 §2.3) and Knot refuses such a zone; remove it, or the DNAME above it"),
                );
            }
            NameKind::Occluded if !is_glue(&types) => {
                f.warn(
                    first,
                    format!("{owner}: occluded by a zone cut or DNAME above it; copied unsigned"),
                );
            }
            _ => {}
        }
    }
}

fn check_apex(zone: &Zone, f: &mut Findings) {
    let apex_loc = zone.rrsets.first().map(|s| s.loc).unwrap_or_default();
    match zone.soa() {
        None => f.error(
            apex_loc,
            format!("no SOA record at the apex {}", zone.origin),
        ),
        Some(soa) if soa.rdatas.len() > 1 => f.error(
            soa.loc,
            format!(
                "{} SOA records at the apex; exactly one is allowed",
                soa.rdatas.len()
            ),
        ),
        Some(_) => {}
    }
    if zone.get(&zone.origin, rtype::NS).is_none() {
        f.error(
            apex_loc,
            format!("no NS records at the apex {}", zone.origin),
        );
    }
}

/// Warns about (with `--strict`, refuses) each NS record at the apex or a delegation
/// whose target lies inside the zone but has no A or AAAA record in it: at the apex
/// (`@ NS ns1` without `ns1 A`) or as missing glue (`sub NS ns.sub` without `ns.sub A`).
///
/// Why a warning (issue 21): BIND's `named-checkzone` 9.18 refuses the apex case ("NS
/// 'ns1.example' has no address records (A or AAAA)", "not loaded due to errors") and
/// warns about the delegation case ("sub.example/NS 'ns.sub.example' has no REQUIRED
/// GLUE address records (A or AAAA)", zone "OK"); `kzonecheck` 3.2 refuses both
/// ("missing glue record", exit 1). But registries do carry such delegations (a
/// registrant's host records that are gone, a lame delegation), and refusing a whole
/// TLD zone for one of them would stop its re-signing; the signed output is still
/// valid DNSSEC (NS and glue at a delegation are not signed). Operators who want
/// BIND's and Knot's strictness pass `--strict`.
fn check_ns_addresses(zone: &Zone, ns: &crate::zone::RRset, kind: NameKind, f: &mut Findings) {
    let origin = zone.origin.as_wire();
    for rdata in ns.rdatas.iter() {
        // A cheap test first: most targets of a TLD's delegations are in other zones.
        if !rdata.ends_with(origin) {
            continue;
        }
        let Ok(target) = crate::dns::name::Name::from_wire(rdata) else {
            continue;
        };
        if !target.is_subdomain_of(&zone.origin)
            || zone.get(&target, rtype::A).is_some()
            || zone.get(&target, rtype::AAAA).is_some()
        {
            continue;
        }
        f.ns_without_address += 1;
        let (what, who) = match kind {
            NameKind::Apex => (
                "an apex name server",
                "BIND's named-checkzone and Knot's kzonecheck refuse this",
            ),
            _ if target.is_subdomain_of(&ns.owner) => (
                "missing glue: the delegation's name server",
                "Knot's kzonecheck refuses this, BIND's named-checkzone warns",
            ),
            _ => (
                "the delegation's name server",
                "Knot's kzonecheck refuses this, BIND's named-checkzone warns",
            ),
        };
        let msg = format!(
            "{}: NS {target}: {what} is inside the zone but has no address record (A or AAAA); {who}",
            ns.owner
        );
        if f.strict {
            f.error(ns.loc, format!("{msg} (--strict)"));
        } else {
            f.warn(
                ns.loc,
                format!("{msg}; signed anyway (--strict refuses it)"),
            );
        }
    }
}

fn check_ds(
    owner: &crate::dns::name::Name,
    ds: &crate::zone::RRset,
    kind: NameKind,
    policy: &Policy,
    f: &mut Findings,
) {
    match kind {
        NameKind::Delegation => {
            if ds.rdatas.len() > policy.max_ds_per_delegation {
                f.error(
                    ds.loc,
                    format!(
                        "{owner}: {} DS records at one delegation; at most {} are allowed (DPS-3.3)",
                        ds.rdatas.len(),
                        policy.max_ds_per_delegation
                    ),
                );
            }
        }
        NameKind::Apex => f.error(
            ds.loc,
            format!("{owner}: DS at the apex belongs in the parent zone"),
        ),
        NameKind::Authoritative => f.error(
            ds.loc,
            format!("{owner}: DS at a name that is not a delegation (no NS records)"),
        ),
        NameKind::Occluded => {}
    }
}

/// Drops from the input the DNSSEC records signing makes anew ([`REGENERATED`]: RRSIG,
/// NSEC, NSEC3, NSEC3PARAM, DNSKEY) and ZONEMD: the input's ZONEMD is checked before
/// (PIPE-3, [`crate::ops::zonemd_steps::InputScan`]) and never copied, as a digest
/// copied from the input would be stale as soon as the serial or any record moves
/// (RFC 8976 §2.2.1); the signer makes its own. Warns about each kind with the file and line of its first
/// record.
pub fn drop_regenerated(file: &Path, records: Vec<Record>, f: &mut Findings) -> Vec<Record> {
    let mut dropped = 0usize;
    let mut zonemd: Option<(SourceLoc, usize)> = None;
    let kept: Vec<Record> = records
        .into_iter()
        .filter(|r| {
            if !REGENERATED.contains(&r.rtype) {
                return true;
            }
            if r.rtype == rtype::ZONEMD {
                let z = zonemd.get_or_insert((r.loc, 0));
                z.1 += 1;
            } else {
                dropped += 1;
            }
            false
        })
        .collect();
    if dropped > 0 {
        f.warnings.push(format!(
            "{}: dropped {dropped} DNSSEC record(s) (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY); they are made anew",
            file.display()
        ));
    }
    if let Some((loc, n)) = zonemd {
        f.warn(
            loc,
            format!(
                "dropped {n} ZONEMD record(s) of the input: it is checked (PIPE-3) and never copied; the output gets a ZONEMD of its own (RFC 8976)"
            ),
        );
    }
    kept
}

/// Address records below a cut are glue and expected; anything else there is worth a warning.
fn is_glue(types: &[u16]) -> bool {
    types.iter().all(|&t| matches!(t, rtype::A | rtype::AAAA))
}

fn is_dnssec_meta(t: u16) -> bool {
    matches!(t, rtype::RRSIG | rtype::NSEC)
}

/// Turns the TTL disagreements found while grouping into warnings (RFC 2181 §5.2:
/// the lowest TTL is used).
pub fn warn_ttl_mismatches(m: &[crate::zone::TtlMismatch], f: &mut Findings) {
    for x in m {
        f.warn(
            x.loc,
            format!(
                "{} {}: records have different TTLs ({} to {}); using the lowest, {} (RFC 2181 §5.2)",
                x.owner,
                type_name(x.rtype),
                x.lowest,
                x.highest,
                x.lowest
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;
    use crate::dns::zonefile::parse_bytes;

    fn errors(body: &str) -> Vec<String> {
        findings(body, false).0
    }

    /// Over windows of any size, the record errors are listed as over the whole
    /// file: the first fifty, then one line counting the rest.
    #[test]
    fn record_errors_over_windows_equal_the_whole() {
        let origin = Name::parse(b"example.", None).unwrap();
        let files = [PathBuf::from("w.zone")];
        for bad in [0, 3, MAX_LISTED, MAX_LISTED + 7] {
            let mut text = String::from("$ORIGIN example.\n$TTL 60\n");
            for i in 0..120 {
                let owner = if i < bad { "x.other." } else { "ok" };
                text.push_str(&format!("{owner} A 192.0.2.{}\n", i % 250));
            }
            let records = parse_bytes(text.as_bytes(), Path::new("w.zone"), &origin)
                .unwrap()
                .records;
            let mut whole = Findings::new(&files);
            check_records(&origin, &records, &mut whole);
            let whole = whole.into_errors();
            for window in [1, 7, 50, 200] {
                let mut parts = RecordErrors::default();
                for w in records.chunks(window) {
                    parts.check(&origin, w, &files);
                }
                assert_eq!(parts.is_empty(), bad == 0);
                assert_eq!(parts.into_errors(), whole, "{bad} bad, windows of {window}");
            }
        }
    }

    /// Errors, warnings and the count of NS without address, with or without `--strict`.
    fn findings(body: &str, strict: bool) -> (Vec<String>, Vec<String>, usize) {
        let text = format!("$ORIGIN example.\n$TTL 3600\n{body}");
        let origin = Name::parse(b"example.", None).unwrap();
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("z.zone"), &origin).unwrap();
        let mut f = Findings::new(&p.files).with_strict(strict);
        check_records(&origin, &p.records, &mut f);
        let (zone, _) = Zone::from_records(origin, p.records);
        check_zone(&zone, &Policy::default(), &mut f);
        let (warnings, count) = (f.warnings.clone(), f.ns_without_address);
        (f.into_errors(), warnings, count)
    }

    const APEX: &str = "@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n";

    #[test]
    fn a_good_zone_passes() {
        assert!(errors(APEX).is_empty());
    }

    #[test]
    fn each_rule_names_file_and_line() {
        let cases = [
            (
                "www CNAME x\nwww A 192.0.2.1\n",
                "CNAME beside other data",
                6,
            ),
            ("www DS 1 8 2 AABB\n", "not a delegation", 6),
            ("@ DS 1 8 2 AABB\n", "DS at the apex", 6),
            ("www.example.org. A 192.0.2.1\n", "outside the origin", 6),
            ("www CH A 192.0.2.1\n", "not IN", 6),
            ("sub SOA ns1 host 1 2 3 4 5\n", "SOA below the apex", 6),
            (
                "dn DNAME a.example.org.\ndn DNAME b.example.org.\n",
                "2 DNAME records",
                6,
            ),
            (
                "@ DNAME a.example.org.\n@ DNAME b.example.org.\n",
                "2 DNAME records",
                6,
            ),
            (
                "dn DNAME a.example.org.\ndn CNAME b.example.org.\n",
                "CNAME beside other data (DNAME)",
                7,
            ),
            ("www CNAME a.\nwww CNAME b.\n", "more than one CNAME", 6),
        ];
        for (body, want, line) in cases {
            let e = errors(&format!("{APEX}{body}"));
            assert!(
                e.iter()
                    .any(|m| m.contains(want) && m.starts_with(&format!("z.zone:{line}:"))),
                "{want}: {e:?}"
            );
        }
    }

    #[test]
    fn more_than_six_ds_is_refused_dps_3_3() {
        let mut body = String::from("sub NS ns.other.\n");
        for i in 0..7 {
            body.push_str(&format!("sub DS {i} 8 2 AABB\n"));
        }
        assert!(
            errors(&format!("{APEX}{body}"))
                .iter()
                .any(|m| m.contains("DPS-3.3"))
        );
        let six: String = body.lines().take(7).map(|l| format!("{l}\n")).collect();
        assert!(errors(&format!("{APEX}{six}")).is_empty());
    }

    /// A DNAME at the apex or below it is one record and not an error; data below it
    /// is refused, at the apex as below it, each with its line.
    #[test]
    fn one_dname_passes_and_data_below_it_is_refused() {
        // An apex DNAME occludes the whole zone below the apex, in-zone name servers too.
        const APEX_OUT: &str = "@ SOA ns1.example.net. host 1 2 3 4 300\n@ NS ns1.example.net.\n";
        assert!(errors(&format!("{APEX_OUT}@ DNAME other.org.\n")).is_empty());
        assert!(errors(&format!("{APEX}sub DNAME x.org.\nsubway A 192.0.2.7\n")).is_empty());
        let below = errors(&format!("{APEX_OUT}@ DNAME other.org.\nwww A 192.0.2.9\n"));
        assert!(
            below.len() == 1 && below[0].contains("data below a DNAME"),
            "{below:?}"
        );
        let below = errors(&format!("{APEX}sub DNAME x.org.\nb.sub A 192.0.2.8\n"));
        assert!(
            below.len() == 1 && below[0].contains("b.sub.example.: data below a DNAME"),
            "{below:?}"
        );
    }

    /// An input ZONEMD is dropped with a warning naming its line, like the DNSSEC
    /// records signing makes anew; everything else stays.
    #[test]
    fn input_zonemd_and_dnssec_records_are_dropped_with_warnings() {
        let text = format!(
            "$ORIGIN example.\n$TTL 3600\n{APEX}@ ZONEMD 1 1 1 {}\n@ NSEC ns1.example. NS SOA\n",
            "AB".repeat(48)
        );
        let origin = Name::parse(b"example.", None).unwrap();
        let p = parse_bytes(text.as_bytes(), Path::new("z.zone"), &origin).unwrap();
        let before = p.records.len();
        let mut f = Findings::new(&p.files);
        let kept = drop_regenerated(Path::new("z.zone"), p.records, &mut f);
        assert_eq!(kept.len(), before - 2);
        assert!(kept.iter().all(|r| !REGENERATED.contains(&r.rtype)));
        assert!(
            f.warnings
                .iter()
                .any(|w| w.starts_with("z.zone:6: dropped 1 ZONEMD")),
            "{:?}",
            f.warnings
        );
        assert!(f.warnings.iter().any(|w| w.contains("dropped 1 DNSSEC")));
    }

    /// An in-zone NS target without A or AAAA is a warning at the NS line, counted, and
    /// an error with `--strict` (issue 21). On
    /// ```text
    /// example. 3600 IN SOA ns1.example. host.example. 1 3600 900 604800 300
    /// example. 3600 IN NS ns1.example.
    /// example. 3600 IN NS ns2.example.
    /// ns2 3600 IN A 192.0.2.1
    /// sub 3600 IN NS ns.sub.example.
    /// ```
    /// `named-checkzone` 9.18: "NS 'ns1.example' has no address records (A or AAAA)",
    /// "not loaded due to errors" (exit 1); without the apex case only a warning, "has
    /// no REQUIRED GLUE address records (A or AAAA)", and "OK". `kzonecheck` 3.2:
    /// "[example.] missing glue record", "[sub.example.] missing glue record" (exit 1).
    #[test]
    fn ns_without_address_is_a_warning_or_with_strict_an_error() {
        let body = "@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n@ NS ns2\nns2 A 192.0.2.1\n\
                    sub NS ns.sub\nsub NS ns2\nsub NS ns.other.org.\nok NS ns.ok\nns.ok AAAA ::1\n";
        let (errors, warnings, count) = findings(body, false);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(count, 2, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("z.zone:4: example.: NS ns1.example.: an apex name server")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("z.zone:7: sub.example.: NS ns.sub.example.: missing glue")),
            "{warnings:?}"
        );
        let (errors, _, count) = findings(body, true);
        assert_eq!(count, 2);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().all(|e| e.ends_with("(--strict)")),
            "{errors:?}"
        );
        // The usual zone passes, strict or not.
        assert!(findings(APEX, true).0.is_empty());
        assert_eq!(findings(APEX, true).2, 0);
    }

    #[test]
    fn missing_soa_and_apex_ns() {
        let e = errors("ns1 A 192.0.2.1\n");
        assert!(e.iter().any(|m| m.contains("no SOA")));
        assert!(e.iter().any(|m| m.contains("no NS records at the apex")));
    }
}
