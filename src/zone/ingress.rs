//! Ingress (PIPE-1): what a new unsigned zone must pass, beyond parsing and the zone
//! checks, before it may replace the *approved zone*, the last input that passed.
//!
//! A registry's worst days came from inputs that parsed: an October 2009 `.se` export
//! whose NS targets had lost their trailing dots, a truncated export. Neither breaks a
//! rule of the zone-file format, so they are caught by comparing the candidate with the
//! approved zone: how many delegations were removed, added or changed, and how many of
//! the new or changed ones name an in-zone server that has no address (what a name gone
//! relative looks like: `ns1.example.net` read as `ns1.example.net.se.`). Limits on
//! those counts are percentages of the approved zone's delegations, with a small
//! absolute allowance so that a tiny zone's ordinary change does not trip them.
//!
//! This module only measures and judges; the flow ([`crate::ops::pipeline`]) decides
//! what a rejection does (the approved zone is signed instead), and the approved zone's
//! files live in [`crate::store::approved`].

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dns::name::Name;
use crate::dns::record::rtype;
use crate::dnssec::policy::serial_gt;
use crate::zone::{NameKind, Zone};

/// The `[ingress]` table (of `zonesign.toml` or of the policy file): change limits
/// against the approved zone and the operator's check programs (PIPE-1, PIPE-2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IngressSection {
    /// Delegations removed, in percent of the approved zone's delegations.
    pub max_removed: f64,
    /// Delegations added, in percent of the approved zone's delegations.
    pub max_added: f64,
    /// Delegations whose NS, DS or glue changed, in percent of the approved zone's.
    pub max_changed: f64,
    /// Added or changed delegations that name an in-zone server without an address
    /// record, in percent of the approved zone's delegations (names gone relative).
    pub max_ns_without_address: f64,
    /// A count of at most this many delegations never trips a percentage limit: in a
    /// zone of a few hundred delegations, one registrar's morning is several percent.
    pub always_allowed: u64,
    /// The fewest delegations a candidate may have (0: no floor).
    pub min_delegations: u64,
    /// Programs that judge the candidate, each an argv (PIPE-2).
    pub checks: Vec<Vec<String>>,
    /// How long a check program may run before it is killed and the input rejected.
    #[serde(deserialize_with = "crate::dnssec::policy::duration")]
    pub check_timeout: u32,
}

/// Defaults chosen against the two yardsticks: a registry's ordinary two hours
/// (about 0.1% of delegations touched) is far below every limit, and a truncated export
/// (10% gone) or names gone relative (a few percent) is far above one.
impl Default for IngressSection {
    fn default() -> Self {
        IngressSection {
            max_removed: 1.0,
            max_added: 2.0,
            max_changed: 1.0,
            max_ns_without_address: 0.1,
            always_allowed: 5,
            min_delegations: 0,
            checks: Vec::new(),
            check_timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }
}

/// The `[egress]` table: check programs run on the signed file before it is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct EgressSection {
    /// Programs that judge the signed temporary file, each an argv (PIPE-2).
    pub checks: Vec<Vec<String>>,
    /// How long a check program may run before it is killed and the run fails.
    #[serde(deserialize_with = "crate::dnssec::policy::duration")]
    pub check_timeout: u32,
}

impl Default for EgressSection {
    fn default() -> Self {
        EgressSection {
            checks: Vec::new(),
            check_timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }
}

/// Ten minutes: a validator over a TLD zone takes a minute or two.
pub const DEFAULT_CHECK_TIMEOUT: u32 = 600;

/// One delegation of a zone: its name and a fingerprint of its NS, DS and glue (every
/// RRset at the cut and below it, with TTLs).
pub type Fingerprint = (Name, u64);

/// The delegations of `zone` in canonical order, each with its fingerprint.
///
/// Canonical order puts a cut's glue directly after it, so a delegation's data is the
/// run of RRsets from its name to the first name outside its subtree.
pub fn fingerprints(zone: &Zone) -> Vec<Fingerprint> {
    let groups = zone.names();
    let cuts: Vec<usize> = (0..groups.len())
        .filter(|&g| groups[g].kind == NameKind::Delegation)
        .collect();
    cuts.par_iter()
        .map(|&g| {
            let start = groups[g].range.start;
            let owner = &zone.rrsets[start].owner;
            let end = groups[g + 1..]
                .iter()
                .find(|n| !zone.rrsets[n.range.start].owner.is_subdomain_of(owner))
                .map_or(zone.rrsets.len(), |n| n.range.start);
            (owner.clone(), digest_sets(&zone.rrsets[start..end]))
        })
        .collect()
}

/// XXH3 (64 bits) over the RRsets' owners, types, TTLs and RDATA. XXH3's output is fixed
/// by its specification, so the fingerprints stored in the approved zone's index
/// compare across runs and builds (std's `DefaultHasher` promises neither), and it is
/// about five times faster than a SHA-256 per delegation, which cost a quarter of a
/// second per cron run at 1M delegations. Not a defence against a forger (the index
/// lives beside the output, in zonesign's own directory): a collision only miscounts
/// one delegation in the delta, never changes what is signed.
fn digest_sets(sets: &[crate::zone::RRset]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for s in sets {
        h.update(s.owner.as_wire());
        h.update(&s.rtype.to_be_bytes());
        h.update(&s.ttl.to_be_bytes());
        for r in &s.rdatas {
            h.update(&(r.len() as u32).to_be_bytes());
            h.update(r);
        }
    }
    h.digest()
}

/// How a candidate's delegations differ from the approved zone's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// Delegations in the approved zone.
    pub approved: u64,
    /// Delegations in the candidate.
    pub candidate: u64,
    /// Delegations of the approved zone that the candidate lacks.
    pub removed: u64,
    /// Delegations of the candidate that the approved zone lacks.
    pub added: u64,
    /// Delegations in both whose NS, DS or glue differ.
    pub changed: u64,
    /// Added or changed delegations naming an in-zone server without an address.
    pub ns_without_address: u64,
}

/// Compares two canonically ordered delegation lists; also returns the names of the
/// candidate's added and changed delegations (for the address check).
pub fn compare(approved: &[Fingerprint], candidate: &[Fingerprint]) -> (Delta, Vec<Name>) {
    let mut d = Delta {
        approved: approved.len() as u64,
        candidate: candidate.len() as u64,
        ..Delta::default()
    };
    let mut touched = Vec::new();
    let (mut a, mut c) = (approved.iter().peekable(), candidate.iter().peekable());
    loop {
        match (a.peek(), c.peek()) {
            (None, None) => break,
            (Some(_), None) => {
                d.removed += 1;
                a.next();
            }
            (None, Some((name, _))) => {
                d.added += 1;
                touched.push(name.clone());
                c.next();
            }
            (Some((an, af)), Some((cn, cf))) => match an.canonical_cmp(cn) {
                std::cmp::Ordering::Less => {
                    d.removed += 1;
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    d.added += 1;
                    touched.push(cn.clone());
                    c.next();
                }
                std::cmp::Ordering::Equal => {
                    if af != cf {
                        d.changed += 1;
                        touched.push(cn.clone());
                    }
                    a.next();
                    c.next();
                }
            },
        }
    }
    (d, touched)
}

/// Counts the delegations among `names` whose NS names a server inside the zone that
/// has no A or AAAA record in it.
pub fn count_ns_without_address(zone: &Zone, names: &[Name]) -> u64 {
    names
        .iter()
        .filter(|n| {
            zone.get(n, rtype::NS)
                .is_some_and(|ns| ns.rdatas.iter().any(|r| lacks_address(zone, r)))
        })
        .count() as u64
}

/// Whether an NS RDATA names a server inside the zone with no address record there.
fn lacks_address(zone: &Zone, ns_rdata: &[u8]) -> bool {
    let Ok(target) = Name::from_wire(ns_rdata) else {
        return false;
    };
    target.is_subdomain_of(&zone.origin)
        && zone.get(&target, rtype::A).is_none()
        && zone.get(&target, rtype::AAAA).is_none()
}

/// What the apex must hold for a zone to be served at all: an SOA and NS records (the
/// zone checks refuse their absence), and for each in-zone name server an address, or
/// resolvers cannot reach the zone's own servers. Not a limit: `--accept-changes` does
/// not lift it.
pub fn apex_problems(zone: &Zone) -> Vec<String> {
    let Some(ns) = zone.get(&zone.origin, rtype::NS) else {
        return vec![format!("no NS records at the apex {}", zone.origin)];
    };
    ns.rdatas
        .iter()
        .filter(|r| lacks_address(zone, r))
        .filter_map(|r| Name::from_wire(r).ok())
        .map(|t| {
            format!(
                "the apex name server {t} is inside the zone but has no address record (A or AAAA)"
            )
        })
        .collect()
}

/// A change limit the candidate exceeds; `--accept-changes` signs it anyway.
#[derive(Debug, Clone, PartialEq)]
pub enum Exceeded {
    /// Too many delegations removed.
    Removed(Share),
    /// Too many delegations added.
    Added(Share),
    /// Too many delegations changed.
    Changed(Share),
    /// Too many new or changed delegations name an in-zone server without an address.
    NsWithoutAddress(Share),
    /// Fewer delegations than `min-delegations`.
    TooFew {
        /// The candidate's delegations.
        count: u64,
        /// The floor.
        min: u64,
    },
    /// The candidate's SOA serial is behind the approved zone's (RFC 1982): an old
    /// export fed again.
    SerialBehind {
        /// The candidate's serial.
        candidate: u32,
        /// The approved zone's serial.
        approved: u32,
    },
}

/// A count against a percentage limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The count.
    pub count: u64,
    /// The approved zone's delegations it is a share of.
    pub of: u64,
    /// The limit, in percent.
    pub limit: f64,
}

impl Share {
    fn percent(&self) -> f64 {
        if self.of == 0 {
            100.0
        } else {
            self.count as f64 * 100.0 / self.of as f64
        }
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:.2}% of {})", self.count, self.percent(), self.of)
    }
}

impl Exceeded {
    /// The config key of the limit.
    pub fn key(&self) -> &'static str {
        match self {
            Exceeded::Removed(_) => "max-removed",
            Exceeded::Added(_) => "max-added",
            Exceeded::Changed(_) => "max-changed",
            Exceeded::NsWithoutAddress(_) => "max-ns-without-address",
            Exceeded::TooFew { .. } => "min-delegations",
            Exceeded::SerialBehind { .. } => "serial",
        }
    }
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Removed(s) => write!(
                f,
                "{s} delegations removed (max-removed {}%; a truncated export?)",
                s.limit
            ),
            Exceeded::Added(s) => write!(f, "{s} delegations added (max-added {}%)", s.limit),
            Exceeded::Changed(s) => write!(
                f,
                "{s} delegations with changed NS, DS or glue (max-changed {}%)",
                s.limit
            ),
            Exceeded::NsWithoutAddress(s) => write!(
                f,
                "{s} new or changed delegations name a server inside the zone without an address record (max-ns-without-address {}%; names that lost their trailing dot?)",
                s.limit
            ),
            Exceeded::TooFew { count, min } => {
                write!(f, "{count} delegations, fewer than min-delegations {min}")
            }
            Exceeded::SerialBehind {
                candidate,
                approved,
            } => write!(
                f,
                "SOA serial {candidate} is behind the approved zone's {approved} (an old export?)"
            ),
        }
    }
}

/// The limits `delta` exceeds. `approved_serial` is `None` on a first run, when there
/// is nothing to compare with but the floor.
pub fn judge(
    delta: Option<&Delta>,
    candidate_delegations: u64,
    serials: Option<(u32, u32)>,
    limits: &IngressSection,
) -> Vec<Exceeded> {
    let mut out = Vec::new();
    if let Some(d) = delta {
        let share = |count: u64, limit: f64| Share {
            count,
            of: d.approved,
            limit,
        };
        let over = |s: &Share| s.count > limits.always_allowed && s.percent() > s.limit;
        let rows = [
            Exceeded::Removed(share(d.removed, limits.max_removed)),
            Exceeded::Added(share(d.added, limits.max_added)),
            Exceeded::Changed(share(d.changed, limits.max_changed)),
            Exceeded::NsWithoutAddress(share(d.ns_without_address, limits.max_ns_without_address)),
        ];
        out.extend(rows.into_iter().filter(|e| match e {
            Exceeded::Removed(s)
            | Exceeded::Added(s)
            | Exceeded::Changed(s)
            | Exceeded::NsWithoutAddress(s) => over(s),
            _ => false,
        }));
    }
    if candidate_delegations < limits.min_delegations {
        out.push(Exceeded::TooFew {
            count: candidate_delegations,
            min: limits.min_delegations,
        });
    }
    if let Some((candidate, approved)) = serials
        && serial_gt(approved, candidate)
    {
        out.push(Exceeded::SerialBehind {
            candidate,
            approved,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(text: &str) -> Zone {
        crate::zone::test_zone(text)
    }

    const HEAD: &str = "$TTL 3600\n@ SOA ns.se. h.se. 1 1 1 1 1\n@ NS a.ns\na.ns A 192.0.2.1\n";

    fn delegations(n: usize, skip: &[usize], changed: &[usize]) -> String {
        let mut s = HEAD.to_string();
        for i in (0..n).filter(|i| !skip.contains(i)) {
            let host = if changed.contains(&i) {
                "other"
            } else {
                "host"
            };
            s.push_str(&format!("d{i} NS ns1.{host}.example.net.\n"));
        }
        s
    }

    #[test]
    fn fingerprints_cover_ns_ds_and_glue_and_nothing_else() {
        let base = zone(&format!(
            "{HEAD}a NS ns.a\nns.a A 192.0.2.9\nb NS x.net.\nwww A 192.0.2.3\n"
        ));
        let glue = zone(&format!(
            "{HEAD}a NS ns.a\nns.a A 192.0.2.8\nb NS x.net.\nwww A 192.0.2.3\n"
        ));
        let other = zone(&format!(
            "{HEAD}a NS ns.a\nns.a A 192.0.2.9\nb NS x.net.\nwww A 192.0.2.4\n"
        ));
        let (f, g, o) = (
            fingerprints(&base),
            fingerprints(&glue),
            fingerprints(&other),
        );
        assert_eq!(f.len(), 2);
        assert_ne!(f[0].1, g[0].1, "glue is part of the delegation");
        assert_eq!(f[1], g[1]);
        assert_eq!(f, o, "authoritative data is not a delegation's");
    }

    #[test]
    fn compare_counts_removed_added_and_changed() {
        let approved = fingerprints(&zone(&delegations(100, &[], &[])));
        let candidate = fingerprints(&zone(&delegations(103, &[5, 6], &[7])));
        let (d, touched) = compare(&approved, &candidate);
        assert_eq!((d.removed, d.added, d.changed), (2, 3, 1));
        assert_eq!((d.approved, d.candidate), (100, 101));
        assert_eq!(touched.len(), 4);
    }

    /// PIPE-1: the defaults never trip on 0.1% churn and always trip on a truncated
    /// export (10% gone) or on a few percent of names gone relative.
    #[test]
    fn default_limits_pass_ordinary_churn_and_trip_on_truncation_and_relative_names() {
        let limits = IngressSection::default();
        let d = |removed, added, changed, ns| Delta {
            approved: 100_000,
            candidate: 100_000,
            removed,
            added,
            changed,
            ns_without_address: ns,
        };
        assert!(judge(Some(&d(40, 40, 20, 0)), 100_000, None, &limits).is_empty());
        let cut = judge(Some(&d(10_000, 0, 0, 0)), 90_000, None, &limits);
        assert!(matches!(cut[..], [Exceeded::Removed(_)]), "{cut:?}");
        let relative = judge(Some(&d(0, 0, 3_000, 3_000)), 100_000, None, &limits);
        assert_eq!(relative.len(), 2, "{relative:?}");
        assert!(relative[1].to_string().contains("trailing dot"));
    }

    #[test]
    fn small_counts_are_always_allowed_and_the_floor_and_serial_apply() {
        let limits = IngressSection {
            min_delegations: 50,
            ..IngressSection::default()
        };
        let d = Delta {
            approved: 40,
            candidate: 40,
            removed: 5,
            ..Delta::default()
        };
        let found = judge(Some(&d), 40, Some((3, 7)), &limits);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].key(), "min-delegations");
        assert_eq!(found[1].key(), "serial");
        assert!(judge(None, 60, Some((7, 7)), &limits).is_empty());
    }

    #[test]
    fn ns_targets_gone_relative_are_counted_and_apex_servers_need_addresses() {
        let z = zone(&format!(
            "{HEAD}d1 NS ns1.example.net.se.\nd2 NS ns1.example.net.\nd3 NS a.ns\n"
        ));
        let names: Vec<Name> = fingerprints(&z).into_iter().map(|(n, _)| n).collect();
        assert_eq!(count_ns_without_address(&z, &names), 1);
        assert!(apex_problems(&z).is_empty());
        let bad = zone("$TTL 3600\n@ SOA ns.se. h.se. 1 1 1 1 1\n@ NS b.ns\n");
        assert!(apex_problems(&bad)[0].contains("b.ns.se."));
    }

    #[test]
    fn the_section_reads_from_toml_with_durations() {
        let s: IngressSection =
            toml::from_str("max-removed = 0.5\nchecks = [[\"/bin/true\"]]\ncheck-timeout = \"2m\"")
                .unwrap();
        assert_eq!(s.max_removed, 0.5);
        assert_eq!(s.check_timeout, 120);
        assert_eq!(s.checks, vec![vec!["/bin/true".to_string()]]);
        assert!(toml::from_str::<IngressSection>("max-remove = 1").is_err());
    }
}
