//! End to end through the real binary and a real SoftHSM2 token: `zonesign init`, sign
//! every fixture, and require three independent validators (ldns-verify-zone from the
//! DS, BIND's dnssec-verify, Knot's kzonecheck) to accept each output (issue 3,
//! "Integration"; DPS-6.1 algorithms, DPS-6.2 NSEC, DPS-6.3 signature format, DPS-6.6).
//!
//! One `init` per algorithm, reused for every zone (key generation is the slow part).

use std::collections::BTreeSet;
use std::fs;

use crate::common::*;

const DAY: i64 = 86_400;

/// Signs every `fixtures/features/*.zone` and `fixtures/se-sample.zone` with one setup
/// and checks each output with the three validators and `check_signed_output`. Collects
/// all failures so one run shows everything that is wrong.
fn sign_all_fixtures(alg: &str) {
    let setup = Setup::new(alg);
    let mut failures = Vec::new();
    for (zone, origin) in all_fixture_zones() {
        let name = file_name(&zone);
        let out_path = setup.path(&format!("{name}.signed"));
        let out = setup.sign(&zone, origin, &out_path);
        if out.status.code() != Some(EXIT_OK) {
            failures.push(format!("{alg} {name}: sign failed\n{}", describe(&out)));
            continue;
        }
        let Ok(text) = fs::read_to_string(&out_path) else {
            failures.push(format!("{alg} {name}: exit 0 but no output file"));
            continue;
        };
        // DPS-6.6: the DS printed by `key ds` is the anchor the parent holds.
        let ds = setup.ds_file(origin);
        if let Err(e) = all_validators(&out_path, origin, &ds) {
            failures.push(format!("{alg} {name}: {e}"));
        }
        // The binary's own verifier agrees with them (DPS-6.6).
        let v = setup.verify(&out_path, origin, &ds, &[]);
        if v.status.code() != Some(EXIT_OK) {
            failures.push(format!("{alg} {name}: zonesign verify\n{}", describe(&v)));
        }
        // Output form (issue 3 "Output"), DPS-6.2 (nothing below a cut signed or
        // chained), DPS-6.7 (TTLs).
        for p in check_signed_output(&text, origin) {
            failures.push(format!("{alg} {name}: {p}"));
        }
        // DPS-6.1: the signed zone carries the token's DNSKEYs, with this algorithm.
        if let Some(p) = dnskey_algorithm_problem(&text, alg) {
            failures.push(format!("{alg} {name}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// DNSSEC algorithm numbers (RFC 8624) of the `--algorithm` names.
fn algorithm_number(alg: &str) -> u8 {
    match alg {
        "rsasha1" => 5,
        "rsasha256" => 8,
        "ecdsap256sha256" => 13,
        "ed25519" => 15,
        other => panic!("unknown algorithm {other}"),
    }
}

/// DPS-6.1: at least one KSK (flags 257) and one ZSK (flags 256), all of `alg`.
fn dnskey_algorithm_problem(text: &str, alg: &str) -> Option<String> {
    let want = algorithm_number(alg).to_string();
    let rrs = parse_flat_zone(text).ok()?;
    let keys: Vec<&Rr> = rrs.iter().filter(|rr| rr.rtype == "DNSKEY").collect();
    let flags: BTreeSet<&str> = keys.iter().map(|rr| rr.rdata[0].as_str()).collect();
    if !flags.contains("257") || !flags.contains("256") {
        return Some(format!(
            "DNSKEY flags {flags:?}: want a KSK (257) and a ZSK (256)"
        ));
    }
    keys.iter()
        .find(|rr| rr.rdata[2] != want)
        .map(|rr| format!("DNSKEY algorithm {} != {want} ({alg})", rr.rdata[2]))
}

#[test]
fn rsasha1_signed_fixtures_pass_all_validators() {
    // DPS-6.1: the practice statement's profile (RSA/SHA-1, KSK 2048, ZSK 1024).
    sign_all_fixtures("rsasha1");
}

#[test]
fn rsasha256_signed_fixtures_pass_all_validators() {
    sign_all_fixtures("rsasha256");
}

#[test]
fn ecdsap256sha256_signed_fixtures_pass_all_validators() {
    sign_all_fixtures("ecdsap256sha256");
}

#[test]
fn ed25519_signed_fixtures_pass_all_validators() {
    // ldns 1.8, BIND 9.18 and Knot all validate algorithm 15 (RFC 8080).
    sign_all_fixtures("ed25519");
}

/// The RRSIGs of a signed zone as (owner, covered type, expiration, inception).
fn rrsig_times(text: &str) -> Vec<(String, String, i64, i64)> {
    parse_flat_zone(text)
        .expect("one RR per line")
        .into_iter()
        .filter(|rr| rr.rtype == "RRSIG")
        .map(|rr| {
            let exp = parse_dnssec_time(&rr.rdata[4]).expect("expiration YYYYMMDDHHmmSS");
            let inc = parse_dnssec_time(&rr.rdata[5]).expect("inception YYYYMMDDHHmmSS");
            (rr.owner, rr.rdata[0].to_ascii_uppercase(), exp, inc)
        })
        .collect()
}

#[test]
fn validity_policy_and_seeded_jitter() {
    // DPS-6.5: inception one hour before signing time, validity 12 to 14 days, jittered;
    // DPS-5.1: never longer than 14 days; DPS-5.7: --now is UTC. --seed makes the
    // jitter reproducible (issue 3).
    let setup = Setup::new("rsasha256");
    let now = unix_now();
    let now_s = rfc3339(now);
    let zone = se_sample();
    let a = setup.path("a.signed");
    let b = setup.path("b.signed");
    for out in [&a, &b] {
        let o = setup.sign_with(&zone, "se.", out, &["--now", &now_s, "--seed", "42"]);
        assert_exit(&o, EXIT_OK, "sign --now --seed");
    }
    let ta = rrsig_times(&fs::read_to_string(&a).unwrap());
    let tb = rrsig_times(&fs::read_to_string(&b).unwrap());
    assert!(
        ta.len() > 100,
        "expected many RRSIGs in the .se sample, got {}",
        ta.len()
    );
    let mut problems = Vec::new();
    for (owner, covered, exp, inc) in &ta {
        if *inc != now - 3600 {
            problems.push(format!(
                "{owner} RRSIG {covered}: inception {} != --now - 1h {}",
                dnssec_time(*inc),
                dnssec_time(now - 3600)
            ));
        }
        let validity = exp - inc;
        if !(12 * DAY..=14 * DAY).contains(&validity) {
            problems.push(format!(
                "{owner} RRSIG {covered}: validity {validity} s not within 12..14 days"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}",
        problems[..problems.len().min(20)].join("\n")
    );
    let distinct: BTreeSet<i64> = ta.iter().map(|t| t.2).collect();
    assert!(
        distinct.len() > 10,
        "DPS-6.5 jitter: {} RRSIGs share only {} expiration times",
        ta.len(),
        distinct.len()
    );
    assert_eq!(
        ta, tb,
        "same --now and --seed must give the same validity periods"
    );

    let c = setup.path("c.signed");
    let o = setup.sign_with(&zone, "se.", &c, &["--now", &now_s, "--seed", "43"]);
    assert_exit(&o, EXIT_OK, "sign --seed 43");
    let tc = rrsig_times(&fs::read_to_string(&c).unwrap());
    assert_ne!(ta, tc, "a different --seed should give different jitter");
}

#[test]
fn key_list_and_ds_digests() {
    // DPS-5.1: DS export for the parent; `key list` shows tag, role, algorithm, bits.
    let setup = Setup::new("rsasha256");
    let list = run(setup.cmd().args(["key", "list"]));
    assert_exit(&list, EXIT_OK, "key list");
    let listing = stdout(&list).to_ascii_lowercase();
    assert!(
        listing.contains("ksk") && listing.contains("zsk"),
        "{listing}"
    );

    for (digest, number, hex_len) in [("sha256", "2", 64), ("sha384", "4", 96)] {
        let out = run(setup
            .cmd()
            .args(["key", "ds", "--origin", "example.", "--digest", digest]));
        assert_exit(&out, EXIT_OK, &format!("key ds --digest {digest}"));
        let text = stdout(&out);
        let ds: Vec<Vec<String>> = text
            .lines()
            .map(tokens)
            .filter(|t| t.iter().any(|x| x == "DS"))
            .collect();
        assert_eq!(ds.len(), 1, "one KSK, one DS line:\n{text}");
        let t = &ds[0];
        let i = t.iter().position(|x| x == "DS").unwrap();
        assert_eq!(t[i + 2], "8", "DS algorithm:\n{text}");
        assert_eq!(t[i + 3], number, "DS digest type:\n{text}");
        let digest_hex: String = t[i + 4..].concat();
        assert_eq!(digest_hex.len(), hex_len, "digest length:\n{text}");
        // The key tag appears in `key list`.
        assert!(
            listing.contains(&t[i + 1]),
            "DS key tag {} not in key list:\n{listing}",
            t[i + 1]
        );
    }
}

#[test]
fn init_refuses_existing_setup() {
    // issue 3: init refuses to overwrite an existing setup (exit 2), leaving it intact.
    let setup = Setup::new("ecdsap256sha256");
    let before = setup.config_text();
    let out = run(zonesign()
        .arg("init")
        .arg("--dir")
        .arg(&setup.dir)
        .args(["--algorithm", "ecdsap256sha256"]));
    assert_exit(&out, EXIT_BAD_INPUT, "second init in the same directory");
    assert_eq!(
        before,
        setup.config_text(),
        "config changed by a refused init"
    );
}

#[test]
fn init_pin_file_is_owner_only() {
    // SEC-6.1: the PIN lives in a file readable only by its owner (0600).
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new("ed25519");
    let pin = setup.pin_file();
    let mode = fs::metadata(&pin).expect("PIN file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", pin.display());
    assert!(
        !setup
            .config_text()
            .contains(fs::read_to_string(&pin).unwrap().trim()),
        "the PIN itself must not be in the config"
    );
}

#[test]
fn config_from_env_and_pin_from_env() {
    // issue 3: ZONESIGN_CONFIG may point at the config; ZONESIGN_PIN overrides the PIN
    // file (SEC-6.1: never on a command line).
    let setup = Setup::new("ecdsap256sha256");
    let pin = fs::read_to_string(setup.pin_file()).unwrap();
    fs::remove_file(setup.pin_file()).unwrap();
    let out_path = setup.path("env.signed");
    let out = run(zonesign()
        .current_dir(setup.tmp.path())
        .env("ZONESIGN_CONFIG", setup.config())
        .env("ZONESIGN_PIN", pin.trim())
        .arg("sign")
        .arg(fixture("features/delegations.zone"))
        .args(["--origin", "example.", "--out"])
        .arg(&out_path));
    assert_exit(&out, EXIT_OK, "sign with ZONESIGN_CONFIG and ZONESIGN_PIN");
    let ds = setup.ds_file_with_pin(pin.trim(), "example.");
    all_validators(&out_path, "example.", &ds).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn sign_with_explicit_ds_anchor() {
    // issue 3: --ds-anchor FILE is the parent's DS; signing against it works. The DS
    // for example. is taken from a first signing (see `ds_from_signed`).
    let setup = Setup::new("rsasha256");
    let ds = setup.ds_file("example.");
    let zone = fixture("features/wildcards.zone");
    let out_path = setup.path("anchored.signed");
    let out = setup.sign_with(
        &zone,
        "example.",
        &out_path,
        &["--ds-anchor", ds.to_str().unwrap()],
    );
    assert_exit(&out, EXIT_OK, "sign --ds-anchor");
    all_validators(&out_path, "example.", &ds).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn sign_refuses_ds_anchor_matching_no_ksk() {
    // DPS-6.6: verification starts from the parent's DS; a DS that matches no KSK means
    // the zone fails verification: exit 1, nothing written.
    let setup = Setup::new("rsasha256");
    let ds_text = fs::read_to_string(setup.ds_file("example.")).unwrap();
    let mut bad = String::new();
    for line in ds_text.lines() {
        let mut t = tokens(line);
        if let Some(i) = t.iter().position(|x| x == "DS") {
            let d = &mut t[i + 4];
            let first = d.remove(0);
            d.insert(0, if first == '0' { '1' } else { '0' });
            bad.push_str(&t.join(" "));
        } else {
            bad.push_str(line);
        }
        bad.push('\n');
    }
    let bad_path = setup.path("bad-anchor.ds");
    fs::write(&bad_path, bad).unwrap();
    let out_path = setup.path("never.signed");
    let out = setup.sign_with(
        &fixture("features/wildcards.zone"),
        "example.",
        &out_path,
        &["--ds-anchor", bad_path.to_str().unwrap()],
    );
    assert_exit(
        &out,
        EXIT_VERIFY_FAILED,
        "sign with a DS anchor matching no KSK",
    );
    assert!(
        !out_path.exists(),
        "nothing may be written when verification fails"
    );
}

/// Issue 21: records whose text the three validators could read differently from the
/// wire zonesign signed: NID and L64 (written with all four digits of each group, as
/// Knot requires; BIND's own short form `14:4fff:...` Knot refuses, which is why they
/// are not in `fixtures/features/all-types.zone`, signed by BIND in verify_foreign),
/// alpn-ids holding `,`, `\` or `"` (no text form is read alike by named-checkzone,
/// kzonecheck and ldns: written as RFC 3597 `\# len hex`), generic keys with escapes,
/// `dohpath` (written `key7`: kzonecheck 3.2 refuses the name), `key65535` and X25 (written
/// `TYPE19 \#`: kzonecheck 3.2 refuses the mnemonic). The
/// signed output must pass all three validators, and zonesign's own `verify`.
#[test]
fn svcb_alpn_escapes_signed_output_passes_all_validators() {
    let setup = Setup::new("ecdsap256sha256");
    let zone = setup.path("escapes.zone");
    fs::write(
        &zone,
        r#"$ORIGIN example.
$TTL 3600
@     SOA ns1 hostmaster 1 7200 3600 1209600 300
@     NS  ns1
ns1   A   192.0.2.1
ilnp  NID 10 0014:4fff:ff20:ee64
ilnp  L64 10 2001:0DB8:1140:1000
_a    HTTPS 1 . alpn="f\\\\oo\\,bar,h2" port=8443
_b    HTTPS 1 . alpn="a\"b",h3 no-default-alpn
_c    SVCB 1 . alpn=h2 dohpath=/dns-query{?dns} key667="a,b\\c\"d" key668=x\,y key65535
_d    SVCB 2 svc.example. mandatory=key667 key667="" ipv4hint=192.0.2.2
_e    HTTPS 1 . alpn=a,h3
x25   X25 "311061700956"
x25   TXT "beside an X25: both in one NSEC bitmap"
"#,
    )
    .unwrap();
    let out_path = setup.path("escapes.signed");
    let out = setup.sign(&zone, "example.", &out_path);
    assert_exit(&out, EXIT_OK, "sign escapes.zone");
    let text = fs::read_to_string(&out_path).unwrap();
    let line = |owner: &str, rtype: &str| {
        text.lines()
            .map(tokens)
            .find(|t| t.len() > 4 && t[0] == owner && t[3] == rtype)
            .unwrap_or_else(|| panic!("no {owner} {rtype} in\n{text}"))
            .join(" ")
    };
    assert!(line("ilnp.example.", "NID").ends_with("10 0014:4fff:ff20:ee64"));
    // X25: Knot 3.2 refuses the mnemonic, so it is written generically, type and RDATA.
    assert!(line("x25.example.", "TYPE19").ends_with("\\# 13 0C333131303631373030393536"));
    assert!(line("x25.example.", "NSEC").contains(" TYPE19 "));
    assert!(line("ilnp.example.", "L64").ends_with("10 2001:0db8:1140:1000"));
    assert!(line("_a.example.", "HTTPS").contains("\\#"));
    assert!(line("_b.example.", "HTTPS").contains("\\#"));
    // Knot 3.2 refuses `alpn=a,h3` (one character before a comma): generic form too.
    assert!(line("_e.example.", "HTTPS").contains("\\#"));
    let c = line("_c.example.", "SVCB");
    assert!(c.contains("key7=") && c.contains("key65535"), "{c}");
    let ds = setup.ds_file("example.");
    all_validators(&out_path, "example.", &ds).unwrap_or_else(|e| panic!("{e}"));
    let v = setup.verify(&out_path, "example.", &ds, &[]);
    assert_exit(&v, EXIT_OK, "zonesign verify escapes.signed");
}

/// Issue 21: one record of each type zonesign now reads in its presentation form but
/// writes `TYPEnnn \# ...` (`fixtures/types/remaining-types.zone`; kzonecheck 3.2 refuses
/// their mnemonics). The signed output must pass all three validators and zonesign's own
/// `verify`, carry every type in generic form (type field, RRSIG type covered, NSEC
/// bitmap), and the names RFC 4034 §6.2 lists lowercased.
#[test]
fn remaining_types_signed_output_passes_all_validators() {
    let setup = Setup::new("ecdsap256sha256");
    let zone = fixture("types/remaining-types.zone");
    let out_path = setup.path("remaining-types.signed");
    let out = setup.sign(&zone, "example.", &out_path);
    assert_exit(&out, EXIT_OK, "sign remaining-types.zone");
    let text = fs::read_to_string(&out_path).unwrap();
    let ds = setup.ds_file("example.");
    all_validators(&out_path, "example.", &ds).unwrap_or_else(|e| panic!("{e}"));
    let v = setup.verify(&out_path, "example.", &ds, &[]);
    assert_exit(&v, EXIT_OK, "zonesign verify remaining-types.signed");
    let problems = check_signed_output(&text, "example.");
    assert!(problems.is_empty(), "remaining-types.signed: {problems:?}");
    let rrs = parse_flat_zone(&text).unwrap();
    for (owner, number) in [
        ("wks", 11),
        ("isdn", 20),
        ("nsap", 22),
        ("sig", 24),
        ("gpos", 27),
        ("nxt", 30),
        ("eid", 31),
        ("nimloc", 32),
        ("atma", 34),
        ("a6", 38),
        ("hip", 55),
        ("ninfo", 56),
        ("rkey", 57),
        ("talink", 58),
        ("uinfo", 100),
        ("uid", 101),
        ("gid", 102),
        ("unspec", 103),
        ("avc", 258),
        ("doa", 259),
        ("amt", 260),
        ("resinfo", 261),
        ("wallet", 262),
        ("ta", 32768),
    ] {
        let owner = format!("{owner}.example.");
        let t = format!("TYPE{number}");
        let of = |rtype: &str| -> Vec<&Rr> {
            rrs.iter()
                .filter(|rr| rr.owner == owner && rr.rtype == rtype)
                .collect()
        };
        assert!(
            !of(&t).is_empty() && of(&t).iter().all(|rr| rr.rdata[0] == "\\#"),
            "{owner} {t} in RFC 3597 form"
        );
        assert!(
            of("RRSIG").iter().any(|rr| rr.rdata[0] == t),
            "{owner} RRSIG {t}"
        );
        assert!(
            of("NSEC").iter().any(|rr| rr.rdata.contains(&t)),
            "{owner} NSEC {t}"
        );
    }
    // SIG's signer, NXT's next name and A6's prefix name lowercased (RFC 4034 §6.2);
    // HIP's rendezvous server kept as written.
    for lower in ["076578616D706C6500", "046E657874076578616D706C6500"] {
        assert!(text.contains(lower), "{lower} in\n{text}");
    }
    assert!(
        text.contains("03527673074578616D706C6500"),
        "HIP server case kept"
    );
}
