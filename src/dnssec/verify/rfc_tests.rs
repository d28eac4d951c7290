//! `verify` by the RFCs (issue 24): policy rules as findings, ZONEMD (RFC 8976 §4),
//! RFC 9276 iteration limits, a long-lived valid signature never reported as missing,
//! RSA keys from 512 bits.
//!
//! Zones are signed by the real signing path with a software Ed25519 key (as in
//! [`super::tests`]); the token-signed cases are the integration tests.

use std::sync::Arc;

use rand::SeedableRng;
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::tests::SoftKey;
use super::*;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::Role;
use crate::dnssec::policy::{DAY, Policy};
use crate::dnssec::sign::{SignKey, SignParams, sign_zone};
use crate::zone::Rdatas;
use crate::zone::zonemd::{self, HashAlg};

const NOW: i64 = 1_800_000_000;

const ZONE: &str = "$TTL 300\n@ SOA ns1 host 7 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
www A 192.0.2.2\n";

fn origin() -> Name {
    Name::parse(b"example.", None).unwrap()
}

fn parse(text: &str) -> Zone {
    let parsed = crate::dns::zonefile::parse_bytes(
        text.as_bytes(),
        std::path::Path::new("t.zone"),
        &origin(),
    )
    .unwrap();
    Zone::from_records(origin(), parsed.records).0
}

/// Signs `text` with `policy`; `before` runs on the unsigned zone (DNSKEY in, before
/// the NSEC chain), `after` on the signed one, and whatever it leaves unsigned is signed
/// in a second pass. Returns the zone and its anchor.
fn sign(
    text: &str,
    policy: &Policy,
    before: impl FnOnce(&mut Zone),
    after: impl FnOnce(&mut Zone),
) -> (Zone, Vec<Anchor>) {
    let mut zone = parse(text);
    let pair = Arc::new(Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap());
    let dnskey =
        crate::dnssec::keys::dnskey_rdata(257, Algorithm::Ed25519, pair.public_key().as_ref());
    let tag = crypto::key_tag(&dnskey);
    zone.upsert(RRset {
        owner: origin(),
        rtype: rtype::DNSKEY,
        ttl: 300,
        rdatas: Rdatas::one(&dnskey),
        sigs: Vec::new(),
        loc: Default::default(),
    });
    before(&mut zone);
    crate::zone::nsec::add_chain(&mut zone, 300);
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
    let params = SignParams {
        sessions: 1,
        policy,
        now: NOW,
        progress: false,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let backend = SoftKey(pair);
    sign_zone(&mut zone, &keys, &backend, &params, &mut rng).unwrap();
    after(&mut zone);
    sign_zone(&mut zone, &keys, &backend, &params, &mut rng).unwrap();
    (zone, vec![Anchor::Dnskey(dnskey.into_boxed_slice())])
}

fn opts(rules: Rules) -> VerifyOptions {
    let mut o = VerifyOptions::at(NOW, Some(14 * DAY));
    o.rules = rules;
    o
}

/// A placeholder ZONEMD at the apex (RFC 8976 §3.1), filled in after signing.
fn placeholder(zone: &mut Zone) {
    zone.upsert(RRset {
        owner: origin(),
        rtype: rtype::ZONEMD,
        ttl: 300,
        rdatas: Rdatas::one(&zonemd::rdata(7, HashAlg::Sha384, &[0; 48])),
        sigs: Vec::new(),
        loc: Default::default(),
    });
}

/// Fills the apex ZONEMD with `rdatas` and drops its (placeholder) signatures.
fn fill(zone: &mut Zone, rdatas: Rdatas) {
    let i = zone.find(&origin(), rtype::ZONEMD).unwrap();
    zone.rrsets[i].rdatas = rdatas;
    zone.rrsets[i].sigs.clear();
}

fn kinds(list: &[Problem]) -> Vec<&'static str> {
    list.iter().map(|p| p.kind).collect()
}

/// The root zone's case: DNSKEY signatures valid for 21 days. By the RFCs the zone is
/// valid, with a `policy` finding (DPS-6.5); under the practice statement it fails as
/// too long, and never as unsigned: the signature is valid.
#[test]
fn a_21_day_signature_is_a_policy_finding_and_never_missing() {
    let policy = Policy {
        validity_min: 21 * DAY,
        validity_max: 21 * DAY,
        ..Policy::default()
    };
    let (zone, anchors) = sign(ZONE, &policy, |_| {}, |_| {});
    let rfc = verify_zone(&zone, &anchors, &opts(Rules::Rfc));
    assert!(rfc.valid, "{}", rfc.to_text());
    assert!(rfc.total_findings > 0);
    assert!(kinds(&rfc.findings).iter().all(|k| *k == "policy"));
    assert!(
        rfc.findings[0].message.contains("DPS-6.5"),
        "{}",
        rfc.to_text()
    );
    assert!(rfc.to_text().contains("note [policy]"));
    let dps = verify_zone(&zone, &anchors, &opts(Rules::Dps));
    assert!(!dps.valid);
    assert!(
        dps.counts.contains_key("validity-too-long"),
        "{}",
        dps.to_text()
    );
    assert!(!dps.counts.contains_key("unsigned"), "{}", dps.to_text());
    assert!(!dps.counts.contains_key("anchor"), "{}", dps.to_text());
}

/// [`verify_zone`], and the same zone verified a part at a time at every cutting gives
/// the same report (issue 25: the ZONEMD digest taken across parts).
fn in_windows_too(zone: &Zone, anchors: &[Anchor], opts: &VerifyOptions) -> Report {
    let report = verify_zone(zone, anchors, opts);
    assert!(super::tests::windowed_agrees(zone, anchors, opts, &report) > 0);
    report
}

/// A correct ZONEMD made after signing and signed in a second pass is verified.
#[test]
fn a_correct_zonemd_is_verified() {
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let rdatas = zonemd::make(z, &[HashAlg::Sha384, HashAlg::Sha512]).unwrap();
        fill(z, rdatas);
    });
    let report = in_windows_too(&zone, &anchors, &opts(Rules::Dps));
    assert!(report.valid, "{}", report.to_text());
    assert!(report.zonemd.starts_with("verified"), "{}", report.zonemd);
}

/// RFC 8976 §4: a digest that does not match makes the zone invalid (kind `zonemd`),
/// even though every signature, the ZONEMD's included, is good.
#[test]
fn a_wrong_zonemd_digest_is_invalid() {
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let mut d = zonemd::digest(z, HashAlg::Sha384);
        d[0] ^= 1;
        fill(z, Rdatas::one(&zonemd::rdata(7, HashAlg::Sha384, &d)));
    });
    let report = in_windows_too(&zone, &anchors, &opts(Rules::Rfc));
    assert!(!report.valid);
    assert_eq!(kinds(&report.problems), ["zonemd"], "{}", report.to_text());
    assert!(report.problems[0].message.contains("mismatch"));
}

/// Several ZONEMD records: valid when one supported record matches; one that cannot be
/// computed alone is a finding, not a failure.
#[test]
fn several_zonemd_records_and_unsupported_ones() {
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let good = zonemd::digest(z, HashAlg::Sha512);
        let mut rdatas = vec![
            zonemd::rdata(7, HashAlg::Sha384, &[0xAB; 48]),
            zonemd::rdata(7, HashAlg::Sha512, &good),
        ];
        rdatas.sort();
        fill(z, rdatas.into_iter().collect());
    });
    let report = in_windows_too(&zone, &anchors, &opts(Rules::Rfc));
    assert!(report.valid, "{}", report.to_text());
    assert!(report.zonemd.contains("SHA-512"), "{}", report.zonemd);

    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let mut unknown = zonemd::rdata(7, HashAlg::Sha384, &[0xAB; 48]);
        unknown[5] = 240; // private-use hash algorithm
        fill(z, Rdatas::one(&unknown));
    });
    let report = in_windows_too(&zone, &anchors, &opts(Rules::Rfc));
    assert!(report.valid, "{}", report.to_text());
    assert_eq!(kinds(&report.findings), ["zonemd"], "{}", report.to_text());
    assert!(report.zonemd.starts_with("not checked"));
}

/// RFC 9276: iterations above 0 are a policy finding, above 150 with the §3.2 warning.
#[test]
fn nsec3_iterations_are_policy_findings() {
    let mut zone = parse(ZONE);
    let param = |iterations: u16| {
        let mut r = vec![1, 0];
        r.extend_from_slice(&iterations.to_be_bytes());
        r.push(0);
        r
    };
    zone.upsert(RRset {
        owner: origin(),
        rtype: rtype::NSEC3PARAM,
        ttl: 0,
        rdatas: Rdatas::one(&param(200)),
        sigs: Vec::new(),
        loc: Default::default(),
    });
    let mut report = Report::empty();
    check_nsec3_iterations(&zone, &VerifyOptions::at(0, None), &mut report);
    assert_eq!((report.total_problems, report.total_findings), (0, 1));
    assert!(report.findings[0].message.contains("RFC 9276 §3.2"));
    let mut report = Report::empty();
    report.enforce_policy = true;
    check_nsec3_iterations(&zone, &VerifyOptions::at(0, None), &mut report);
    assert_eq!(report.counts.get("nsec3-iterations"), Some(&1));
    // The signing gate notes what the operator's policy allowed (it warned already).
    let mut gate = VerifyOptions::at(0, None);
    gate.expected = Some(ExpectedSigners::default());
    let mut report = Report::empty();
    report.enforce_policy = true;
    check_nsec3_iterations(&zone, &gate, &mut report);
    assert_eq!((report.total_problems, report.total_findings), (0, 1));
    let i = zone.find(&origin(), rtype::NSEC3PARAM).unwrap();
    zone.rrsets[i].rdatas = Rdatas::one(&param(0));
    let mut report = Report::empty();
    check_nsec3_iterations(&zone, &VerifyOptions::at(0, None), &mut report);
    assert_eq!((report.total_problems, report.total_findings), (0, 0));
}

/// RFC 5702 §6.1's 512-bit RSA key verifies its example signature; the key is a
/// `policy` finding, not a malformed key.
#[test]
fn a_512_bit_rsa_key_verifies_with_a_policy_finding() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rfc/rfc5702-6.1.txt"
    ))
    .unwrap();
    let origin = Name::parse(b"example.net.", None).unwrap();
    let parsed =
        crate::dns::zonefile::parse_bytes(text.as_bytes(), std::path::Path::new("r.txt"), &origin)
            .unwrap();
    let zone = Zone::from_records(origin.clone(), parsed.records).0;
    let dnskey = zone.get(&origin, rtype::DNSKEY).unwrap().rdatas[0]
        .to_vec()
        .into_boxed_slice();
    let anchors = [Anchor::Dnskey(dnskey)];
    // The example's signature was made in 2000 and expires in 2030.
    let report = verify_zone(&zone, &anchors, &VerifyOptions::at(NOW, None));
    assert_eq!(report.anchored_keys, [9033]);
    assert_eq!(report.stats.signatures_valid, 1, "{}", report.to_text());
    for kind in ["dnskey", "signature", "anchor", "unknown-key"] {
        assert!(
            !report.counts.contains_key(kind),
            "{kind}: {}",
            report.to_text()
        );
    }
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == "policy" && f.message.contains("512 bits")),
        "{}",
        report.to_text()
    );
}

/// RFC 8976 §4: a verifier ignores a ZONEMD whose serial is not the SOA's when another
/// one verifies. By the RFCs the zone is valid with a finding; the practice statement
/// (and the signing gate) refuses to publish the stale record.
#[test]
fn a_stale_zonemd_beside_a_current_one_is_a_policy_finding() {
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let good = zonemd::digest(z, HashAlg::Sha384);
        let mut rdatas = vec![
            zonemd::rdata(7, HashAlg::Sha384, &good),
            zonemd::rdata(6, HashAlg::Sha512, &[0xAB; 64]),
        ];
        rdatas.sort();
        fill(z, rdatas.into_iter().collect());
    });
    let rfc = verify_zone(&zone, &anchors, &opts(Rules::Rfc));
    assert!(rfc.valid, "{}", rfc.to_text());
    assert_eq!(kinds(&rfc.findings), ["policy"], "{}", rfc.to_text());
    assert!(
        rfc.findings[0].message.contains("stale"),
        "{}",
        rfc.to_text()
    );
    assert!(rfc.zonemd.starts_with("verified"), "{}", rfc.zonemd);
    let dps = verify_zone(&zone, &anchors, &opts(Rules::Dps));
    assert_eq!(kinds(&dps.problems), ["zonemd"], "{}", dps.to_text());

    // Alone, a stale ZONEMD is a problem by the RFCs too.
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let good = zonemd::digest(z, HashAlg::Sha384);
        fill(z, Rdatas::one(&zonemd::rdata(6, HashAlg::Sha384, &good)));
    });
    let rfc = verify_zone(&zone, &anchors, &opts(Rules::Rfc));
    assert_eq!(kinds(&rfc.problems), ["zonemd"], "{}", rfc.to_text());
}

/// The signing gate's split: the first stage runs on the zone with its placeholder
/// ZONEMD signed, the record is filled from the first stage's digest and signed again,
/// and the second stage then says exactly what one pass over the final zone says.
/// A zone whose shape changed between the stages is verified again from the start.
#[test]
fn the_gate_in_two_stages_says_what_one_pass_says() {
    let mut first = None;
    let (zone, anchors) = sign(ZONE, &Policy::default(), placeholder, |z| {
        let dnskey = z.get(&origin(), rtype::DNSKEY).unwrap().rdatas[0].to_vec();
        let anchors = [Anchor::Dnskey(dnskey.into_boxed_slice())];
        let stage = first_stage(z, &anchors, &opts(Rules::Dps));
        let rdatas = zonemd::make_with(z, &[HashAlg::Sha384], &stage.digests()).unwrap();
        assert_eq!(rdatas, zonemd::make(z, &[HashAlg::Sha384]).unwrap());
        fill(z, rdatas);
        first = Some(stage);
    });
    let first = first.unwrap();
    let one_pass = verify_zone(&zone, &anchors, &opts(Rules::Dps));
    assert!(one_pass.valid, "{}", one_pass.to_text());
    assert!(one_pass.zonemd.starts_with("verified"));
    let staged = second_stage(first, &zone, &anchors, &opts(Rules::Dps));
    assert_eq!(staged.to_text(), one_pass.to_text());
    assert_eq!(staged.stats.signatures, one_pass.stats.signatures);

    let mut changed = zone.clone();
    let first = first_stage(&changed, &anchors, &opts(Rules::Dps));
    let www = changed
        .find(&Name::parse(b"www.example.", None).unwrap(), rtype::A)
        .unwrap();
    changed.rrsets.remove(www);
    let staged = second_stage(first, &changed, &anchors, &opts(Rules::Dps));
    let one_pass = verify_zone(&changed, &anchors, &opts(Rules::Dps));
    assert!(!one_pass.valid);
    assert_eq!(staged.to_text(), one_pass.to_text());
}
