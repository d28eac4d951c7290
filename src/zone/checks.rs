//! Zone checks before signing: refuse what must not be signed, warn about what is odd.
//!
//! A TLD zone comes from a registry database dump; a bad dump must never be signed and
//! published. These are the rules of issue #3 and RFC 1034/2181/4035: one SOA at the apex,
//! NS at the apex, no CNAME beside other data, nothing outside the origin, DS only at
//! delegations and at most `max_ds_per_delegation` of them (DPS-3.3), one TTL per RRset.
//! Every message names the file and line of the offending record.

use std::path::PathBuf;

use crate::dns::rdata::type_name;
use crate::dns::record::{CLASS_IN, Record, SourceLoc, rtype};
use crate::dnssec::policy::Policy;
use crate::zone::{NameKind, Zone};

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
    unlisted: usize,
}

impl<'a> Findings<'a> {
    /// Starts an empty list for a zone read from `files` (index = `SourceLoc::file`).
    pub fn new(files: &'a [PathBuf]) -> Self {
        Findings {
            files,
            errors: Vec::new(),
            warnings: Vec::new(),
            unlisted: 0,
        }
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
    }
}

/// Checks the grouped zone: apex, CNAME, DS rules (DPS-3.3), occluded data.
pub fn check_zone(zone: &Zone, policy: &Policy, f: &mut Findings) {
    check_apex(zone, f);
    for group in zone.names() {
        let sets = &zone.rrsets[group.range.clone()];
        let types: Vec<u16> = sets.iter().map(|s| s.rtype).collect();
        let first = sets[0].loc;
        let owner = &sets[0].owner;
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
        if let Some(ds) = sets.iter().find(|s| s.rtype == rtype::DS) {
            check_ds(owner, ds, group.kind, policy, f);
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
        let text = format!("$ORIGIN example.\n$TTL 3600\n{body}");
        let origin = Name::parse(b"example.", None).unwrap();
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("z.zone"), &origin).unwrap();
        let mut f = Findings::new(&p.files);
        check_records(&origin, &p.records, &mut f);
        let (zone, _) = Zone::from_records(origin, p.records);
        check_zone(&zone, &Policy::default(), &mut f);
        f.into_errors()
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

    #[test]
    fn missing_soa_and_apex_ns() {
        let e = errors("ns1 A 192.0.2.1\n");
        assert!(e.iter().any(|m| m.contains("no SOA")));
        assert!(e.iter().any(|m| m.contains("no NS records at the apex")));
    }
}
