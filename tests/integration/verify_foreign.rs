//! `zonesign verify` on zones signed by other signers (ldns-signzone, dnssec-signzone):
//! it accepts them, and rejects each kind of tampering with exit 1 and a named problem
//! (issue 3, "The other way round"; DPS-6.6: verification starts from the parent's DS).
//!
//! `verify` needs no config at all (only the anchor): these tests run the binary from an
//! empty temporary directory with `ZONESIGN_CONFIG`/`ZONESIGN_PIN` removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

const DAY: i64 = 86_400;

/// `zonesign verify SIGNED --origin ORIGIN --anchor ANCHOR [extra]`, no config.
fn verify(signed: &Path, origin: &str, anchor: &Path, extra: &[&str]) -> Output {
    let cwd = signed.parent().expect("parent");
    run_verify(|| {
        let mut cmd = zonesign();
        cmd.current_dir(cwd);
        verify_command(cmd, signed, origin, anchor, extra)
    })
}

/// `verify` accepts the zone: exit 0 in text form, and exit 0 with `valid: true` and no
/// problems in JSON form (so a stub that only exits 0 does not pass).
fn accepted(signed: &Path, origin: &str, anchor: &Path, extra: &[&str]) -> Result<(), String> {
    let out = verify(signed, origin, anchor, extra);
    if out.status.code() != Some(EXIT_OK) {
        return Err(format!("verify: expected exit 0\n{}", describe(&out)));
    }
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = verify(signed, origin, anchor, &args);
    if out.status.code() != Some(EXIT_OK) {
        return Err(format!(
            "verify --format json: expected exit 0\n{}",
            describe(&out)
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("--format json is not JSON ({e})\n{}", describe(&out)))?;
    if report["valid"] != serde_json::Value::Bool(true)
        || !report["problems"].as_array().is_some_and(|p| p.is_empty())
    {
        return Err(format!("expected valid: true and no problems\n{report:#}"));
    }
    Ok(())
}

/// Runs `verify --format json`, requires exit 1, a JSON object with `valid == false` and
/// a non-empty `problems` array of `{kind, message}`; returns the problems' text
/// (kind + message, lowercased) for the caller to look for the named problem.
fn rejected_json(signed: &Path, origin: &str, anchor: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = verify(signed, origin, anchor, &args);
    assert_exit(&out, EXIT_VERIFY_FAILED, "verify of a tampered zone");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--format json is not JSON ({e})\n{}", describe(&out)));
    assert_eq!(
        report["valid"],
        serde_json::Value::Bool(false),
        "report must say valid: false\n{report:#}"
    );
    let problems = report["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no problems array\n{report:#}"));
    assert!(
        !problems.is_empty(),
        "problems must not be empty\n{report:#}"
    );
    let mut text = String::new();
    for p in problems {
        let kind = p["kind"].as_str();
        let message = p["message"].as_str();
        assert!(
            kind.is_some() && message.is_some(),
            "each problem needs string kind and message: {p}"
        );
        // The JSON report names the owner and type in fields of their own.
        let owner = p["owner"].as_str().unwrap_or_default();
        let rtype = p["type"].as_str().unwrap_or_default();
        text.push_str(&format!(
            "{} {owner} {rtype} {}\n",
            kind.unwrap(),
            message.unwrap()
        ));
    }
    text.to_ascii_lowercase()
}

/// `true` when `word` occurs in `text` as a whole word (split on non-alphanumerics).
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

#[track_caller]
fn assert_mentions(problems: &str, any_of: &[&str], what: &str) {
    assert!(
        any_of.iter().any(|k| problems.contains(k)),
        "{what}: expected a problem mentioning one of {any_of:?}, got:\n{problems}"
    );
}

/// A signed copy of `fixtures/features/all-types.zone` (origin `example.`).
fn signed_all_types(signer: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (signed, anchor) = foreign_signed_zone(
        signer,
        &fixture("features/all-types.zone"),
        "example.",
        tmp.path(),
    );
    (tmp, signed, anchor)
}

/// Writes `text` as `tampered.zone` next to `signed`.
fn write_tampered(signed: &Path, text: &str) -> PathBuf {
    let path = signed.with_file_name("tampered.zone");
    fs::write(&path, text).expect("write tampered zone");
    path
}

fn is_rrsig_over(toks: &[String], owner: &str, covered: &str) -> bool {
    toks.len() > 5
        && toks[0].eq_ignore_ascii_case(owner)
        && toks[3] == "RRSIG"
        && toks[4].eq_ignore_ascii_case(covered)
}

// ---------------------------------------------------------------------------------------
// The helpers themselves: every foreign-signed fixture passes all three validators, so
// the tests below start from zones known to be valid. (Needs no zonesign binary.)
// ---------------------------------------------------------------------------------------

/// A copy of `signed` with one bit of the RRSIG over `web.example. A` flipped.
fn web_a_signature_flipped(signed: &Path) -> PathBuf {
    let text = fs::read_to_string(signed).unwrap();
    let (flipped, _) = edit_first_line(
        &text,
        |t| is_rrsig_over(t, "web.example.", "A"),
        |l| Some(flip_rrsig_byte(l)),
    );
    write_tampered(signed, &flipped)
}

#[test]
fn foreign_signed_fixtures_pass_all_validators() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for signer in ["ldns", "bind", "bind-multiline"] {
        for (zone, origin) in all_fixture_zones() {
            let dir = tmp.path().join(file_name(&zone));
            let (signed, anchor) = foreign_signed_zone(signer, &zone, origin, &dir);
            if let Err(e) = all_validators(&signed, origin, &anchor) {
                failures.push(format!("{signer} {}: {e}", file_name(&zone)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn tampering_helpers_break_the_zone_for_ldns_verify_zone() {
    // The tampering used below must be caught by an independent validator too.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let path = web_a_signature_flipped(&signed);
    assert!(ldns_verify(&path, "example.", &anchor).is_err());
    let bad_anchor = signed.with_file_name("bad-anchor.ds");
    fs::write(
        &bad_anchor,
        alter_digest(&fs::read_to_string(&anchor).unwrap()),
    )
    .unwrap();
    assert!(ldns_verify(&signed, "example.", &bad_anchor).is_err());
}

/// The DS text with one hex digit of each digest changed.
fn alter_digest(ds_text: &str) -> String {
    let mut out = String::new();
    for line in ds_text.lines() {
        let toks = tokens(line);
        if let Some(i) = toks.iter().position(|t| t == "DS") {
            let mut toks = toks.clone();
            let digest = &mut toks[i + 4];
            let first = digest.remove(0);
            digest.insert(0, if first == '0' { '1' } else { '0' });
            out.push_str(&toks.join(" "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------
// Acceptance (DPS-6.6: any signer's valid zone passes from the parent's DS)
// ---------------------------------------------------------------------------------------

fn accepts_all_fixtures(signer: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (zone, origin) in all_fixture_zones() {
        let dir = tmp.path().join(file_name(&zone));
        let (signed, anchor) = foreign_signed_zone(signer, &zone, origin, &dir);
        if let Err(e) = accepted(&signed, origin, &anchor, &[]) {
            failures.push(format!("{signer} {}: {e}", file_name(&zone)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn accepts_ldns_signed_fixtures() {
    accepts_all_fixtures("ldns");
}

#[test]
fn accepts_bind_signed_fixtures() {
    // `dnssec-signzone -O full`: one RR per line, base64 split by spaces, comments.
    accepts_all_fixtures("bind");
}

#[test]
fn accepts_ecdsap384_zones() {
    // Algorithm 14 (RFC 6605): zonesign never signs with it, but `verify` must check a
    // zone another signer made with it (DPS-6.6: any signer's valid zone passes).
    let (_tmp, signed, anchor) = signed_all_types("bind-p384");
    accepted(&signed, "example.", &anchor, &[]).unwrap_or_else(|e| panic!("{e}"));
    all_validators(&signed, "example.", &anchor).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn accepts_bind_multiline_output() {
    // BIND's default layout: parentheses, omitted owners, comments (issue 3: the parser
    // reads what any signer writes).
    let (_tmp, signed, anchor) = signed_all_types("bind-multiline");
    accepted(&signed, "example.", &anchor, &[]).unwrap_or_else(|e| panic!("{e}"));
}

/// RRSIG times past 2106: RFC 4034 §3.1.5 makes them serial-number arithmetic modulo
/// 2^32, so a zone signed for January 2107 is valid at a `--now` in that month. Both
/// signers take `21070101000000` and write its value modulo 2^32 in the form their
/// clock places it (`19701124173144`, as zonesign writes it too: `time.rs`,
/// `rrsig_time_past_2106_wraps`); zonesign reads it modulo 2^32 (`parse_rrsig_time`)
/// and places it in 2107 from `--now`. Neither signer takes a window across
/// 2106-02-07 06:28:16 (2^32): dnssec-signzone 9.18 refuses it ("invalid time"),
/// ldns-signzone 1.8 writes the inception as a date of 1969, which Knot and zonesign
/// refuse ("invalid date"; README, parity table). `--max-validity 0`: the check of the
/// window's length (DPS-6.5, 14 days) is not this test's topic.
#[test]
fn accepts_rrsig_times_past_2106() {
    let window = ["21070101000000".to_string(), "21070201000000".to_string()];
    let tmp = tempfile::tempdir().expect("tempdir");
    for signer in ["ldns", "bind"] {
        let (signed, anchor) = foreign_signed_zone_at(
            signer,
            &fixture("features/all-types.zone"),
            "example.",
            tmp.path(),
            &window,
        );
        let text = fs::read_to_string(&signed).unwrap();
        let wrapped = text.lines().map(tokens).any(|t| {
            t.len() > 11 && t[3] == "RRSIG" && t[9] == "19701124173144" && t[11] == "example."
        });
        assert!(
            wrapped,
            "{signer}: expected inception 21070101000000 written modulo 2^32 as 19701124173144\n{text}"
        );
        let in_2107 = ["--now", "2107-01-15T00:00:00Z", "--max-validity", "0"];
        accepted(&signed, "example.", &anchor, &in_2107)
            .unwrap_or_else(|e| panic!("{signer}: {e}"));
        // The same signatures a day after their end, and in 2026 (serial arithmetic
        // then places them in 1970), are expired.
        for now in ["2107-02-02T00:00:00Z", "2026-12-07T00:00:00Z"] {
            let problems = rejected_json(
                &signed,
                "example.",
                &anchor,
                &["--now", now, "--max-validity", "0"],
            );
            assert_mentions(&problems, &["expir"], &format!("{signer} at {now}"));
        }
    }
}

#[test]
fn json_report_of_a_valid_zone() {
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let out = verify(&signed, "example.", &anchor, &["--format", "json"]);
    assert_exit(&out, EXIT_OK, "verify --format json of a valid zone");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--format json is not JSON ({e})\n{}", describe(&out)));
    assert_eq!(report["valid"], serde_json::Value::Bool(true), "{report:#}");
    assert!(
        report["problems"].as_array().is_some_and(|p| p.is_empty()),
        "a valid zone has an empty problems array\n{report:#}"
    );
}

#[test]
fn accepts_with_now_inside_the_validity() {
    // DPS-5.7: --now is UTC; one day after signing the ldns signatures are still valid.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let now = rfc3339(unix_now() + DAY);
    accepted(&signed, "example.", &anchor, &["--now", &now]).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------------
// Rejection: exit 1 and the problem named (DPS-6.6)
// ---------------------------------------------------------------------------------------

fn rejects_flipped_signature_byte(signer: &str) {
    let (_tmp, signed, anchor) = signed_all_types(signer);
    let path = web_a_signature_flipped(&signed);
    let problems = rejected_json(&path, "example.", &anchor, &[]);
    assert_mentions(&problems, &["web.example"], "flipped RRSIG byte: the owner");
    assert_mentions(
        &problems,
        &["signature", "rrsig", "bogus", "verif"],
        "flipped RRSIG byte: a signature problem",
    );
}

#[test]
fn rejects_flipped_signature_byte_ldns() {
    rejects_flipped_signature_byte("ldns");
}

#[test]
fn rejects_flipped_signature_byte_bind() {
    rejects_flipped_signature_byte("bind");
}

fn rejects_removed_nsec(signer: &str) {
    // DPS-6.2: the NSEC chain must be complete and closed.
    let (_tmp, signed, anchor) = signed_all_types(signer);
    let text = fs::read_to_string(&signed).unwrap();
    let (tampered, _) = edit_first_line(
        &text,
        |t| t.len() > 4 && t[0].eq_ignore_ascii_case("web.example.") && t[3] == "NSEC",
        |_| None,
    );
    let path = write_tampered(&signed, &tampered);
    let problems = rejected_json(&path, "example.", &anchor, &[]);
    assert!(
        has_word(&problems, "nsec"),
        "removed NSEC: expected a problem naming NSEC:\n{problems}"
    );
    assert_mentions(&problems, &["web.example"], "removed NSEC: the owner");
}

#[test]
fn rejects_removed_nsec_ldns() {
    rejects_removed_nsec("ldns");
}

#[test]
fn rejects_removed_nsec_bind() {
    rejects_removed_nsec("bind");
}

#[test]
fn rejects_expired_signatures() {
    // DPS-6.5/6.6: 30 days after signing every signature (13 days) has expired.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let now = rfc3339(unix_now() + 30 * DAY);
    let problems = rejected_json(&signed, "example.", &anchor, &["--now", &now]);
    assert_mentions(&problems, &["expir"], "expired signatures");
}

#[test]
fn rejects_not_yet_valid_signatures() {
    // DPS-6.6: "not yet valid at --now": two days before signing.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let now = rfc3339(unix_now() - 2 * DAY);
    rejected_json(&signed, "example.", &anchor, &["--now", &now]);
}

fn rejects_unsigned_rrset(signer: &str) {
    // DPS-6.6: every authoritative RRset is covered by a signature of an active key.
    let (_tmp, signed, anchor) = signed_all_types(signer);
    let text = fs::read_to_string(&signed).unwrap();
    let (tampered, _) =
        edit_first_line(&text, |t| is_rrsig_over(t, "mail.example.", "A"), |_| None);
    let path = write_tampered(&signed, &tampered);
    let problems = rejected_json(&path, "example.", &anchor, &[]);
    assert_mentions(&problems, &["mail.example"], "unsigned RRset: the owner");
    assert_mentions(
        &problems,
        &["sign", "rrsig"],
        "unsigned RRset: a signature problem",
    );
}

#[test]
fn rejects_unsigned_rrset_ldns() {
    rejects_unsigned_rrset("ldns");
}

#[test]
fn rejects_unsigned_rrset_bind() {
    rejects_unsigned_rrset("bind");
}

#[test]
fn rejects_anchor_matching_no_ksk() {
    // DPS-6.6: the DNSKEY RRset must be signed by a KSK matching the parent's DS.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let bad_anchor = signed.with_file_name("bad-anchor.ds");
    fs::write(
        &bad_anchor,
        alter_digest(&fs::read_to_string(&anchor).unwrap()),
    )
    .unwrap();
    let problems = rejected_json(&signed, "example.", &bad_anchor, &[]);
    assert!(
        has_word(&problems, "ds")
            || ["anchor", "ksk", "dnskey", "trust"]
                .iter()
                .any(|k| problems.contains(k)),
        "bad anchor: expected a problem naming the DS/anchor/DNSKEY:\n{problems}"
    );
}

#[test]
fn text_report_of_a_tampered_zone() {
    // Default --format text: exit 1 and a human-readable report that names the owner.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let path = web_a_signature_flipped(&signed);
    let out = verify(&path, "example.", &anchor, &[]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "verify (text) of a tampered zone");
    let all = format!("{}{}", stdout(&out), stderr(&out)).to_ascii_lowercase();
    assert!(
        all.contains("web.example"),
        "text report must name the owner\n{}",
        describe(&out)
    );
}

#[test]
fn missing_anchor_file_is_bad_input() {
    // Exit codes (issue 3): a file that cannot be read is bad input (2) or I/O (4),
    // never "valid" and never "failed verification".
    let (_tmp, signed, _anchor) = signed_all_types("ldns");
    let missing = signed.with_file_name("no-such-anchor.ds");
    let out = verify(&signed, "example.", &missing, &[]);
    assert!(
        matches!(out.status.code(), Some(EXIT_BAD_INPUT) | Some(EXIT_IO)),
        "missing anchor: expected exit 2 or 4\n{}",
        describe(&out)
    );
}

#[test]
fn unreadable_zone_file_exits_4() {
    // Exit codes (issue 3, `--help`): a signed zone that cannot be read is an I/O
    // problem, exit 4: missing, or not a regular file. The message names it, and says
    // nothing on stdout (with or without -q). An `$INCLUDE` the zone names that cannot
    // be read stays bad input (exit 2, at its line), as for `sign`.
    let (tmp, signed, anchor) = signed_all_types("ldns");
    let missing = signed.with_file_name("no-such.signed");
    let dir = tmp.path().join("a-directory.signed");
    fs::create_dir(&dir).unwrap();
    for (what, path) in [("missing zone", &missing), ("zone is a directory", &dir)] {
        for extra in [&[][..], &["-q"]] {
            let out = verify(path, "example.", &anchor, extra);
            assert_exit(&out, EXIT_IO, &format!("verify {extra:?}: {what}"));
            assert!(
                stderr(&out).contains(&file_name(path)) && out.stdout.is_empty(),
                "{what}: expected the file named on stderr and nothing on stdout\n{}",
                describe(&out)
            );
        }
    }
    let with_include = signed.with_file_name("includes-missing.signed");
    let text = fs::read_to_string(&signed).unwrap();
    fs::write(
        &with_include,
        format!("{text}$INCLUDE does-not-exist.inc\n"),
    )
    .unwrap();
    let out = verify(&with_include, "example.", &anchor, &[]);
    assert_exit(
        &out,
        EXIT_BAD_INPUT,
        "verify of a zone with a missing $INCLUDE",
    );
}

#[test]
fn quiet_verify_prints_nothing_on_success() {
    // `-q`: "print nothing on success (errors still go to stderr)". A valid zone: exit
    // 0 and no output at all, in text and JSON form; without -q the report is there.
    let (_tmp, signed, anchor) = signed_all_types("ldns");
    let out = verify(&signed, "example.", &anchor, &[]);
    assert_exit(&out, EXIT_OK, "verify of a valid zone");
    assert!(!out.stdout.is_empty(), "no report without -q");
    for extra in [&["-q"][..], &["--quiet"], &["-q", "--format", "json"]] {
        let out = verify(&signed, "example.", &anchor, extra);
        assert_exit(&out, EXIT_OK, &format!("verify {extra:?} of a valid zone"));
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "verify {extra:?} of a valid zone printed something\n{}",
            describe(&out)
        );
    }
    // A zone that fails is not silenced: exit 1 and the report naming the problem.
    let path = web_a_signature_flipped(&signed);
    let out = verify(&path, "example.", &anchor, &["-q"]);
    assert_exit(&out, EXIT_VERIFY_FAILED, "verify -q of a tampered zone");
    assert!(
        stdout(&out).to_ascii_lowercase().contains("web.example"),
        "verify -q of a tampered zone must still print its report\n{}",
        describe(&out)
    );
}
