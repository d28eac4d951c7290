//! The gate against a signer that misclassifies names (DPS-6.6, issue 21).
//!
//! Each case signs a zone with the real signing path (the NSEC chain of
//! [`crate::zone::nsec::add_chain`], the plan and signatures of
//! [`crate::dnssec::sign::sign_zone`]) while [`crate::zone::test_hook`] makes the
//! signer's classification wrong for one name, with a software Ed25519 key so that every
//! signature is good and the only fault is the classification. The gate must refuse.

use ring::signature::{Ed25519KeyPair, KeyPair};
use std::collections::BTreeSet;
use std::sync::Arc;

use rand::SeedableRng;

use super::*;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::Role;
use crate::dnssec::policy::Policy;
use crate::dnssec::sign::{SignKey, SignParams, sign_zone};
use crate::hsm::{HsmError, SigningBackend, SigningSession};
use crate::zone::test_hook::{Rule, misclassify};
use crate::zone::{NameKind, Rdatas};

const NOW: i64 = 1_800_000_000;

const ZONE: &str = "$TTL 300\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
www A 192.0.2.2\n\
sub NS ns.sub\nsub DS 1 15 2 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n\
ns.sub A 192.0.2.3\n\
dn DNAME other.org.\nx.dn A 192.0.2.4\ny.x.dn TXT \"deep\"\n";

/// A software Ed25519 key standing in for the token.
pub(super) struct SoftKey(pub(super) Arc<Ed25519KeyPair>);

struct SoftSession(Arc<Ed25519KeyPair>);

impl SigningBackend for SoftKey {
    fn open_session(&self) -> Result<Box<dyn SigningSession>, HsmError> {
        Ok(Box::new(SoftSession(Arc::clone(&self.0))))
    }
}

impl SigningSession for SoftSession {
    fn sign(&mut self, _key: usize, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        Ok(self.0.sign(data).as_ref().to_vec())
    }
}

/// Signs the test zone through the signer, with `rule` (if any) breaking its
/// classification, and runs the gate on the result.
fn sign_and_verify(rule: Option<Rule>) -> Report {
    sign_and_verify_with(rule, |zone| crate::zone::nsec::add_chain(zone, 300))
}

/// As [`sign_and_verify`], with `denial` adding the denial records before signing;
/// the zone verified in parts says the same ([`windowed_agrees`]).
fn sign_and_verify_with(rule: Option<Rule>, denial: impl FnOnce(&mut Zone)) -> Report {
    let (zone, anchors) = sign_with(ZONE, rule, denial);
    let opts = VerifyOptions::at(NOW, None);
    let report = verify_zone(&zone, &anchors, &opts);
    windowed_agrees(&zone, &anchors, &opts, &report);
    report
}

/// The zone `text` signed as [`sign_and_verify_with`] signs it, and its anchor.
fn sign_with(
    text: &str,
    rule: Option<Rule>,
    denial: impl FnOnce(&mut Zone),
) -> (Zone, [Anchor; 1]) {
    let origin = Name::parse(b"example.", None).unwrap();
    let parsed =
        crate::dns::zonefile::parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin)
            .unwrap();
    let mut zone = Zone::from_records(origin.clone(), parsed.records).0;
    let pair = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let dnskey =
        crate::dnssec::keys::dnskey_rdata(257, Algorithm::Ed25519, pair.public_key().as_ref());
    let tag = crypto::key_tag(&dnskey);
    zone.upsert(RRset {
        owner: origin.clone(),
        rtype: rtype::DNSKEY,
        ttl: 300,
        rdatas: Rdatas::one(&dnskey),
        sigs: Vec::new(),
        loc: Default::default(),
    });
    let keys: Vec<SignKey> = [Role::Ksk, Role::Zsk]
        .into_iter()
        .map(|role| SignKey {
            backend_index: 0,
            tag,
            algorithm: Algorithm::Ed25519,
            role,
            verifier: None,
        })
        .collect();
    let policy = Policy::default();
    let params = SignParams {
        sessions: 1,
        policy: &policy,
        now: NOW,
        progress: false,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    {
        let _broken = rule.map(misclassify);
        denial(&mut zone);
        sign_zone(
            &mut zone,
            &keys,
            &SoftKey(Arc::new(pair)),
            &params,
            &mut rng,
        )
        .unwrap();
    }
    (zone, [Anchor::Dnskey(dnskey.into_boxed_slice())])
}

/// Names beside [`ZONE`]'s for the windowed tests: empty non-terminals above data
/// (`b.deep`, `deep`) and above an insecure delegation (`e`, left out under opt-out),
/// and a wildcard.
const MORE: &str = "a.b.deep A 192.0.2.9\nd.e NS ns1\n*.w TXT \"wild\"\n";

/// A way to add denial records, whether the signed zone is valid, and whether the
/// windowed verifier judges it (rather than leaving it to the whole-zone verifier).
type Case = (Box<dyn FnOnce(&mut Zone)>, bool, bool);

fn windowed_cases() -> Vec<Case> {
    vec![
        (
            Box::new(|z: &mut Zone| crate::zone::nsec::add_chain(z, 300)),
            true,
            true,
        ),
        (Box::new(nsec3_denial(&[b""], false, false)), true, true),
        (
            Box::new(nsec3_denial(&[b"\xab\xcd"], true, false)),
            true,
            true,
        ),
        (
            Box::new(nsec3_denial(&[b"", b"\x01"], false, false)),
            true,
            true,
        ),
        // Between NSEC and NSEC3: left to the whole zone.
        (Box::new(nsec3_denial(&[b""], false, true)), true, false),
        // An NSEC3PARAM with flags 1, which names no chain (RFC 5155 §4.1.2: ignored).
        (
            Box::new(|z: &mut Zone| {
                let p = crate::zone::nsec3::Params {
                    iterations: 0,
                    salt: Vec::new(),
                    opt_out: false,
                };
                let mut param = crate::zone::nsec3::nsec3param_rdata(&p);
                param.as_mut().unwrap()[1] = 1;
                z.upsert(RRset {
                    owner: z.origin.clone(),
                    rtype: rtype::NSEC3PARAM,
                    ttl: 0,
                    rdatas: Rdatas::one(&param.unwrap()),
                    sigs: Vec::new(),
                    loc: Default::default(),
                });
                crate::zone::nsec::add_chain(z, 300)
            }),
            true,
            false,
        ),
        // An NSEC3 record missing: the compact chain only tells that something is wrong.
        (
            Box::new(|z: &mut Zone| {
                nsec3_denial(&[b""], false, false)(z);
                let at = z
                    .rrsets
                    .iter()
                    .position(|s| s.rtype == rtype::NSEC3)
                    .unwrap();
                z.rrsets.remove(at);
            }),
            false,
            false,
        ),
    ]
}

/// Issue 25: valid zones are judged in parts at every cutting, not left to the
/// whole-zone verifier: NSEC, NSEC3 with and without opt-out and a salt, two NSEC3
/// chains, with empty non-terminals and a wildcard; a zone between NSEC and NSEC3, one
/// with an NSEC3PARAM that names no chain, and one whose NSEC3 chain is broken, are
/// left to it; a zone with an orphan signature is
/// judged in parts too. The reports are the whole-zone verifier's ([`windowed_agrees`]).
#[test]
fn valid_zones_are_verified_in_parts() {
    let opts = VerifyOptions::at(NOW, None);
    let more = format!("{ZONE}{MORE}");
    for text in [ZONE, &more] {
        for (k, (denial, valid, in_parts)) in windowed_cases().into_iter().enumerate() {
            let (zone, anchors) = sign_with(text, None, denial);
            let whole = verify_zone(&zone, &anchors, &opts);
            assert_eq!(whole.valid, valid, "case {k}: {}", whole.to_text());
            let reported = windowed_agrees(&zone, &anchors, &opts, &whole);
            let cuttings = zone.names().len() - 1 + 3;
            assert_eq!(reported, if in_parts { cuttings } else { 0 }, "case {k}");
        }
    }
    let (mut zone, anchors) = sign_with(&more, None, |z: &mut Zone| {
        crate::zone::nsec::add_chain(z, 300)
    });
    let www = zone
        .rrsets
        .iter()
        .position(|s| s.owner.to_string() == "www.example." && s.rtype == rtype::A)
        .unwrap();
    let set = zone.rrsets.remove(www);
    for sig in set.sigs {
        zone.orphan_sigs.push((set.owner.clone(), rtype::A, sig));
    }
    let whole = verify_zone(&zone, &anchors, &opts);
    assert!(
        whole.counts.contains_key("orphan-rrsig"),
        "{}",
        whole.to_text()
    );
    let reported = windowed_agrees(&zone, &anchors, &opts, &whole);
    assert_eq!(reported, zone.names().len() - 1 + 3);
}

/// Issue 25: the zone verified a part at a time ([`Windowed`]), cut after every name,
/// after every second and third name, and at every name (after an empty part, as a
/// window inside the apex's records gives), says what the whole-zone
/// verifier says (the same JSON report), or leaves the zone to it; how many cuttings
/// gave a report.
pub(super) fn windowed_agrees(
    zone: &Zone,
    anchors: &[Anchor],
    opts: &VerifyOptions,
    whole: &Report,
) -> usize {
    let starts: Vec<usize> = (0..zone.rrsets.len())
        .filter(|&i| i == 0 || zone.rrsets[i].owner != zone.rrsets[i - 1].owner)
        .collect();
    let mut cuttings: Vec<Vec<usize>> = (1..starts.len()).map(|k| vec![k]).collect();
    for step in 1..=3 {
        cuttings.push((step..starts.len()).step_by(step).collect());
    }
    let want = serde_json::to_string(whole).unwrap();
    let mut reported = 0;
    for cuts in cuttings {
        let mut bounds: Vec<usize> = cuts.iter().map(|&k| starts[k]).collect();
        bounds.insert(0, 0);
        bounds.push(zone.rrsets.len());
        let mut parts: Vec<Zone> = bounds
            .windows(2)
            .map(|w| Zone {
                origin: zone.origin.clone(),
                rrsets: zone.rrsets[w[0]..w[1]].to_vec(),
                orphan_sigs: Vec::new(),
            })
            .collect();
        for orphan in &zone.orphan_sigs {
            let k =
                bounds[1..bounds.len() - 1].partition_point(|&b| zone.rrsets[b].owner <= orphan.0);
            parts[k].orphan_sigs.push(orphan.clone());
        }
        let last = parts.pop().unwrap();
        let mut windowed = Windowed::new(anchors, opts);
        // A window that ends inside the apex's records gives an empty part first.
        windowed.push(Zone {
            origin: zone.origin.clone(),
            rrsets: Vec::new(),
            orphan_sigs: Vec::new(),
        });
        for part in parts {
            windowed.push(part);
        }
        if let Some(report) = windowed.finish(last) {
            let got = serde_json::to_string(&report).unwrap();
            assert_eq!(got, want, "cut at {cuts:?}");
            reported += 1;
        }
    }
    reported
}

/// The (kind, owner) of every problem listed.
fn found(report: &Report) -> BTreeSet<(&'static str, String)> {
    report
        .problems
        .iter()
        .map(|p| (p.kind, p.owner.clone()))
        .collect()
}

fn want(pairs: &[(&'static str, &str)]) -> BTreeSet<(&'static str, String)> {
    pairs.iter().map(|&(k, o)| (k, o.to_string())).collect()
}

/// Without the hook, the signer's output passes the gate: the cases below fail only
/// because of the misclassification.
#[test]
fn correct_classification_passes_the_gate() {
    let report = sign_and_verify(None);
    assert!(report.valid, "{}", report.to_text());
    assert_eq!(report.stats.nsec, 5, "apex, dn, ns1, sub, www");
}

/// Issue 21's bug: names below a DNAME read as authoritative are chained and signed.
#[test]
fn names_below_a_dname_chained_and_signed_are_refused() {
    let report = sign_and_verify(Some(|name, kind| {
        let dn = Name::parse(b"dn.example.", None).unwrap();
        if *name != dn && name.is_subdomain_of(&dn) {
            NameKind::Authoritative
        } else {
            kind
        }
    }));
    assert!(!report.valid);
    let got = found(&report);
    for owner in ["x.dn.example.", "y.x.dn.example."] {
        assert!(got.contains(&("nsec-extra", owner.into())), "{got:?}");
        assert!(
            got.contains(&("signed-non-authoritative", owner.into())),
            "{got:?}"
        );
    }
}

/// A delegation read as authoritative data: its NS gets signed and its NSEC bitmap
/// would claim the child's data.
#[test]
fn a_delegation_signed_as_authoritative_is_refused() {
    let report = sign_and_verify(Some(|name, kind| {
        if name.to_string() == "sub.example." {
            NameKind::Authoritative
        } else {
            kind
        }
    }));
    assert!(!report.valid);
    let got = found(&report);
    assert!(
        got.contains(&("signed-non-authoritative", "sub.example.".into())),
        "{got:?}"
    );
}

/// Glue read as authoritative: chained and signed.
#[test]
fn glue_chained_and_signed_is_refused() {
    let report = sign_and_verify(Some(|name, kind| {
        if name.to_string() == "ns.sub.example." {
            NameKind::Authoritative
        } else {
            kind
        }
    }));
    let got = found(&report);
    assert!(
        got.is_superset(&want(&[
            ("nsec-extra", "ns.sub.example."),
            ("signed-non-authoritative", "ns.sub.example."),
        ])),
        "{got:?}"
    );
}

/// Authoritative data read as occluded: left out of the chain and unsigned.
#[test]
fn authoritative_data_left_unsigned_is_refused() {
    let report = sign_and_verify(Some(|name, kind| {
        if name.to_string() == "www.example." {
            NameKind::Occluded
        } else {
            kind
        }
    }));
    let got = found(&report);
    assert!(
        got.is_superset(&want(&[
            ("nsec-missing", "www.example."),
            ("unsigned", "www.example."),
            ("nsec-next", "sub.example."),
        ])),
        "{got:?}"
    );
}

/// A stale ZONEMD (its serial is not the SOA's) is refused by the gate.
#[test]
fn a_zonemd_with_another_serial_is_refused() {
    let origin = Name::parse(b"example.", None).unwrap();
    let text = format!(
        "$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\n@ ZONEMD 6 1 1 {}\n",
        "AB".repeat(48)
    );
    let parsed =
        crate::dns::zonefile::parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin)
            .unwrap();
    let zone = Zone::from_records(origin, parsed.records).0;
    let report = verify_zone(&zone, &[], &VerifyOptions::at(NOW, None));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == "zonemd" && p.message.contains("serial 6")),
        "{}",
        report.to_text()
    );
}

/// NSEC3 chains for the test zone (salts `salts`, opt-out as given), each built on the
/// zone without the others, merged with one NSEC3PARAM naming each (a parameter change
/// in progress, RFC 5155 §10.4); `nsec` adds the NSEC chain too (a transition).
fn nsec3_denial(salts: &[&[u8]], opt_out: bool, nsec: bool) -> impl FnOnce(&mut Zone) {
    let salts: Vec<Vec<u8>> = salts.iter().map(|s| s.to_vec()).collect();
    move |zone: &mut Zone| {
        let base = zone.clone();
        let mut params = Vec::new();
        for salt in salts {
            let p = crate::zone::nsec3::Params {
                iterations: 0,
                salt,
                opt_out,
            };
            let mut z = base.clone();
            crate::zone::nsec3::add_chain(&mut z, &p, 300).unwrap();
            for set in z.rrsets.into_iter().filter(|s| s.rtype == rtype::NSEC3) {
                zone.upsert(set);
            }
            params.push(crate::zone::nsec3::nsec3param_rdata(&p).unwrap());
        }
        params.sort();
        zone.upsert(RRset {
            owner: zone.origin.clone(),
            rtype: rtype::NSEC3PARAM,
            ttl: 0,
            rdatas: params.into_iter().collect(),
            sigs: Vec::new(),
            loc: Default::default(),
        });
        if nsec {
            crate::zone::nsec::add_chain(zone, 300);
        }
    }
}

/// Issue 24: the gate accepts an NSEC3 zone, with or without opt-out, a zone carrying
/// two complete NSEC3 chains both named by NSEC3PARAM, and one carrying complete NSEC
/// and NSEC3 chains (a transition); it counts the NSEC3 records.
#[test]
fn nsec3_zones_pass_the_gate() {
    for (salts, opt_out, nsec) in [
        (&[&b""[..]][..], false, false),
        (&[&b"\xab\xcd"[..]][..], true, false),
        (&[&b""[..], &b"\x01"[..]][..], false, false),
        (&[&b""[..]][..], false, true),
    ] {
        let report = sign_and_verify_with(None, nsec3_denial(salts, opt_out, nsec));
        assert!(
            report.valid,
            "{salts:?} opt-out {opt_out} nsec {nsec}: {}",
            report.to_text()
        );
        // apex, dn, ns1, sub, www per chain (sub has a DS: chained under opt-out too).
        assert_eq!(report.stats.nsec3, 5 * salts.len(), "{}", report.to_text());
        // The signer's NSEC chain links the NSEC3 owners too (5 names + 5 hashes).
        assert_eq!(report.stats.nsec, if nsec { 10 } else { 0 });
    }
}

/// Issue 24: NSEC next to a complete NSEC3 chain must be a complete chain itself, and
/// an NSEC3PARAM must name a chain the zone has.
#[test]
fn partial_nsec_beside_nsec3_and_a_param_without_chain_are_refused() {
    let report = sign_and_verify_with(None, |zone| {
        nsec3_denial(&[b""], false, false)(zone);
        let mut z = zone.clone();
        crate::zone::nsec::add_chain(&mut z, 300);
        let apex_nsec = z.get(&z.origin, rtype::NSEC).unwrap().clone();
        zone.upsert(apex_nsec);
        let mut param = zone.get(&zone.origin, rtype::NSEC3PARAM).unwrap().clone();
        let mut rdatas: Vec<Box<[u8]>> = param.rdatas.iter().map(Box::from).collect();
        rdatas.push(
            crate::zone::nsec3::nsec3param_rdata(&crate::zone::nsec3::Params {
                iterations: 1,
                salt: vec![9],
                opt_out: false,
            })
            .unwrap(),
        );
        rdatas.sort();
        param.rdatas = rdatas.into_iter().collect();
        zone.upsert(param);
    });
    let got = found(&report);
    assert!(
        got.contains(&("nsec-missing", "www.example.".into()))
            && got.contains(&("nsec3param", "example.".into())),
        "{}",
        report.to_text()
    );
}

/// Issue 24 with issue 21's hook: a signer that leaves authoritative data out of its
/// NSEC3 chain (reading it as occluded) is refused by name, and glue it reads as
/// authoritative is hashed into the chain for a name that does not belong there.
#[test]
fn nsec3_chain_of_a_misclassifying_signer_is_refused() {
    let report = sign_and_verify_with(
        Some(|name, kind| {
            if name.to_string() == "www.example." {
                NameKind::Occluded
            } else {
                kind
            }
        }),
        nsec3_denial(&[b""], false, false),
    );
    let got = found(&report);
    assert!(
        got.contains(&("nsec3-missing", "www.example.".into())),
        "{}",
        report.to_text()
    );
    let report = sign_and_verify_with(
        Some(|name, kind| {
            if name.to_string() == "ns.sub.example." {
                NameKind::Authoritative
            } else {
                kind
            }
        }),
        nsec3_denial(&[b""], false, false),
    );
    assert!(
        report.counts.contains_key("nsec3-extra"),
        "{}",
        report.to_text()
    );
}
