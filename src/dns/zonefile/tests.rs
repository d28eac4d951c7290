use super::*;
use crate::dns::rdata::format_rdata;
use crate::dns::record::rtype;

fn origin() -> Name {
    Name::parse(b"example.", None).unwrap()
}

fn parse(text: &str) -> Result<ParsedZone, ParseError> {
    parse_bytes(text.as_bytes(), Path::new("zones/test.zone"), &origin())
}

fn err(text: &str) -> ParseError {
    parse(text).unwrap_err()
}

fn show(r: &Record) -> String {
    let mut s = format!("{} {} {} {} ", r.owner, r.ttl, r.class, type_name(r.rtype));
    format_rdata(r.rtype, &r.rdata, &mut s);
    s
}

fn shows(z: &ParsedZone) -> Vec<String> {
    z.records.iter().map(show).collect()
}

#[test]
fn basic_features() {
    let z = parse(
        "$TTL 1h\n\
         @ IN SOA ns1 hostmaster ( 2024010101 ; serial\n\
         \t 2h 15M 1w2d\n\
         \t 1D )\n\
         \tNS ns1\n\
         ns1 300 IN A 192.0.2.1\n\
         WWW in 2d a 192.0.2.2 ; comment\n\
         \tIN 60 AAAA 2001:db8::1\n\
         txt TXT \"a ; (b) \\\"c\\\"\" plain \\065\n\
         esc\\.dot.sub\\065 A 192.0.2.3\n\
         $ORIGIN sub\n\
         x A 192.0.2.4\n\
         $origin Other.\n\
         @ ch A 192.0.2.5\n\
         y CLASS42 A 192.0.2.6\n\
         abs.example. 7 A 192.0.2.7",
    )
    .unwrap();
    assert_eq!(
        shows(&z),
        vec![
            "example. 3600 1 SOA ns1.example. hostmaster.example. 2024010101 7200 900 777600 86400",
            "example. 3600 1 NS ns1.example.",
            "ns1.example. 300 1 A 192.0.2.1",
            "www.example. 172800 1 A 192.0.2.2",
            "www.example. 60 1 AAAA 2001:db8::1",
            "txt.example. 3600 1 TXT \"a ; (b) \\\"c\\\"\" \"plain\" \"A\"",
            "esc\\.dot.suba.example. 3600 1 A 192.0.2.3",
            "x.sub.example. 3600 1 A 192.0.2.4",
            "other. 3600 3 A 192.0.2.5",
            "y.other. 3600 42 A 192.0.2.6",
            "abs.example. 7 42 A 192.0.2.7",
        ]
    );
    let lines: Vec<u32> = z.records.iter().map(|r| r.loc.line).collect();
    assert_eq!(lines, vec![2, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16]);
    assert!(z.records.iter().all(|r| r.loc.file == 0));
    assert_eq!(z.files, vec![PathBuf::from("zones/test.zone")]);
    assert!(z.warnings.is_empty());
}

#[test]
fn crlf_no_final_newline_and_binary_quotes() {
    let mut text = b"$TTL 60\r\na TXT \"\xff\xfe x\"\r\n\r\nb A 192.0.2.1".to_vec();
    text.extend_from_slice(b"\r\n; trailing comment");
    let z = parse_bytes(&text, Path::new("t.zone"), &origin()).unwrap();
    assert_eq!(z.records.len(), 2);
    assert_eq!(&*z.records[0].rdata, b"\x04\xff\xfe x");
    assert_eq!(z.records[1].loc.line, 4);
    let z = parse("$TTL 60\nb A 192.0.2.1").unwrap();
    assert_eq!(z.records.len(), 1);
}

#[test]
fn owners_lowercased_duplicates_kept_rdata_case_rules() {
    let z = parse(
        "$TTL 60\nWWW.Example. MX 10 MAIL.Example.\nwww MX 10 mail\n\
         www NSEC Next.Example. A\n",
    )
    .unwrap();
    assert_eq!(z.records.len(), 3);
    assert_eq!(z.records[0].owner.as_wire(), b"\x03www\x07example\x00");
    assert_eq!(z.records[0].rdata, z.records[1].rdata);
    assert!(z.records[2].rdata.starts_with(b"\x04Next\x07Example\x00"));
}

#[test]
fn ttl_defaults() {
    let e = err("a A 192.0.2.1\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("no TTL, no $TTL"), "{e}");
    let z = parse("a 10 A 192.0.2.1\nb A 192.0.2.2\n").unwrap();
    assert_eq!(z.records[1].ttl, 10);
    assert_eq!(z.warnings.len(), 1);
    assert!(
        z.warnings[0].starts_with("zones/test.zone:2:"),
        "{:?}",
        z.warnings
    );
    let z = parse("a 10 A 192.0.2.1\n$TTL 20\nb A 192.0.2.2\n").unwrap();
    assert_eq!(z.records[1].ttl, 20);
    assert_eq!(
        parse("a 2147483647 A 192.0.2.1\n").unwrap().records[0].ttl,
        2147483647
    );
    assert!(err("$TTL 1x\n").message.contains("bad TTL"));
}

/// A zone without `$TTL` whose SOA gives no TTL: BIND's reading (issue 21). On
/// ```text
/// example. IN SOA ns1.example. host.example. 1 3600 900 604800 300
/// example. IN NS ns1.example.
/// ns1 IN A 192.0.2.1
/// ```
/// `named-checkzone` 9.18 says "a.zone:1: no TTL specified; using SOA MINTTL instead"
/// and gives every record TTL 300; `kzonecheck` 3.2: "No semantic error found". With
/// `www 100 IN A ...` before the SOA, the SOA and what follows take 100 ("using RFC1035
/// TTL semantics"); with `www IN A ...` (no TTL) before it, BIND refuses: "b.zone:1: no
/// TTL specified; zone rejected" (Knot loads it, giving such records 3600).
#[test]
fn no_ttl_takes_the_soa_minimum_as_bind_does() {
    let z = parse(
        "@ IN SOA ns1 host 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww 100 A 192.0.2.2\nx A 192.0.2.3\n",
    )
    .unwrap();
    let ttls: Vec<u32> = z.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [300, 300, 300, 100, 100]);
    assert_eq!(z.warnings.len(), 2, "{:?}", z.warnings);
    assert!(
        z.warnings[0]
            .starts_with("zones/test.zone:1: no $TTL and no TTL on the SOA; using its MINIMUM 300"),
        "{:?}",
        z.warnings
    );
    // One warning at the first record that took the previous TTL, with a count.
    assert!(
        z.warnings[1]
            .starts_with("zones/test.zone:2: no $TTL; using the previous record's TTL 300")
            && z.warnings[1].ends_with("(and for 2 more records without a TTL after it)"),
        "{:?}",
        z.warnings
    );
    // A TTL before the SOA: the SOA takes it, not its MINIMUM.
    let z = parse("www 100 A 192.0.2.2\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n").unwrap();
    assert!(z.records.iter().all(|r| r.ttl == 100));
    assert!(z.warnings.iter().all(|w| !w.contains("MINIMUM")));
    // No TTL at all before the SOA: refused at that line, as BIND refuses it.
    let e = err("\nwww A 192.0.2.2\n@ SOA ns1 host 1 2 3 4 300\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("no TTL, no $TTL"), "{e}");
    // `$TTL` still wins over the SOA MINIMUM.
    let z = parse("$TTL 60\n@ SOA ns1 host 1 2 3 4 300\n").unwrap();
    assert_eq!(z.records[0].ttl, 60);
    assert!(z.warnings.is_empty());
}

/// A TTL above 2^31-1 (RFC 2181 §8) is read as 0 with a warning at its line, as BIND
/// reads it (issue 21; see `over_max_ttl` for why 0). `named-checkzone` 9.18 on
/// `www 2147483648 IN A 192.0.2.2` (and on 4294967295, and on `$TTL 2147483648`):
/// "t.zone:4: $TTL 2147483648 > MAXTTL, setting $TTL to 0", "OK", printed with TTL 0;
/// `kzonecheck` 3.2: "No semantic error found". 4294967296 is refused by both (BIND:
/// "unknown RR type", Knot: "number is bigger than 32 bits"), here too.
#[test]
fn ttl_above_2_31_is_read_as_zero_with_a_warning() {
    let z = parse("$TTL 60\na 2147483648 A 192.0.2.1\nb 4294967295 A 192.0.2.2\nc A 192.0.2.3\n")
        .unwrap();
    let ttls: Vec<u32> = z.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [0, 0, 60]);
    assert_eq!(z.warnings.len(), 2, "{:?}", z.warnings);
    assert!(
        z.warnings[0].starts_with("zones/test.zone:2: TTL 2147483648 is above 2^31-1"),
        "{:?}",
        z.warnings
    );
    assert!(z.warnings[1].starts_with("zones/test.zone:3: TTL 4294967295 is above"));
    let z = parse("\n$TTL 2147483648\na A 192.0.2.1\n").unwrap();
    assert_eq!(z.records[0].ttl, 0);
    assert!(z.warnings[0].starts_with("zones/test.zone:2: $TTL 2147483648 is above"));
    assert!(
        err("a 4294967296 A 192.0.2.1\n")
            .message
            .contains("bad TTL")
    );
    // Many: the first ten are listed, the rest counted in one line.
    let many: String = (0..25)
        .map(|i| format!("a{i} 3000000000 A 192.0.2.1\n"))
        .collect();
    let z = parse(&many).unwrap();
    assert_eq!(z.warnings.len(), 11, "{:?}", z.warnings);
    assert_eq!(
        z.warnings[10],
        "... and 15 more TTLs above 2^31-1 (RFC 2181 §8); read as 0"
    );
}

#[test]
fn error_locations_and_messages() {
    let e = err("$TTL 60\n\na A 1.2.3.4\nb AAAA (\n 2001:db8::g )\n");
    assert_eq!(
        e.to_string(),
        "zones/test.zone:4: AAAA: bad IPv6 address '2001:db8::g'"
    );
    let e = err("$TTL 60\n$GENERATE 1-10 a$ A 1.2.3.$\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("$GENERATE"), "{e}");
    let e = err("$TTL 60\na BOGUS 1\n");
    assert!(e.message.contains("unknown record type 'BOGUS'"), "{e}");
    assert_eq!(err("$TTL 60\na TYPE65280 \\# 1 00 00\n").line, 2);
    assert!(parse("$TTL 60\na TYPE65280 \\# 2 00 00\n").is_ok());
    let e = err("$TTL 60\na TXT ( \"x\"\n\nb A 1.2.3.4\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("unbalanced '('"), "{e}");
    let e = err("$TTL 60\na A 1.2.3.4 )\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("unbalanced ')'"), "{e}");
    let e = err("$TTL 60\n\na TXT \"abc\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("unterminated"), "{e}");
    let e = err(" A 1.2.3.4\n");
    assert!(e.message.contains("no previous owner"), "{e}");
    let e = err("$TTL 60\na..b A 1.2.3.4\n");
    assert!(e.message.contains("bad owner name"), "{e}");
    let e = err("$TTL 60\na 60 IN\n");
    assert!(e.message.contains("missing record type"), "{e}");
    assert!(err("$ORIGIN\n").message.contains("$ORIGIN"));
    assert!(
        err("$TTL 60\na ( ( A 1.2.3.4 ) )\n")
            .message
            .contains("nested")
    );
}

#[test]
fn signed_zone_snippet() {
    let z = parse(
        "$TTL 3600\n\
@ SOA ns.example. admin.example. 2024010101 3600 900 604800 86400\n\
\t RRSIG SOA 13 1 3600 20240201000000 20240101000000 12345 example. AAAA\n\
\t DNSKEY 257 3 13 ( mdsswUyr3DPW132mOi8V9xESWE8jTo0d\n\
\t     xCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ== )\n\
\t RRSIG DNSKEY 13 1 3600 1706745600 1704067200 12345 example. AAAA\n\
\t NSEC a.example. SOA NS RRSIG NSEC DNSKEY NSEC3PARAM CDS CDNSKEY\n\
\t NSEC3PARAM 1 0 0 -\n\
\t CDS 12345 13 2 ( 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE )\n\
\t CDNSKEY 0 3 0 AA==\n\
2vptu5timamqttgl4luu9kg21e0aor3s NSEC3 1 1 0 - ( 35mthgpgcu1qg68fab165klnsnk3dpvl A RRSIG )\n",
    )
    .unwrap();
    let types: Vec<u16> = z.records.iter().map(|r| r.rtype).collect();
    assert_eq!(
        types,
        vec![
            rtype::SOA,
            rtype::RRSIG,
            rtype::DNSKEY,
            rtype::RRSIG,
            rtype::NSEC,
            rtype::NSEC3PARAM,
            rtype::CDS,
            rtype::CDNSKEY,
            rtype::NSEC3
        ]
    );
    assert_eq!(z.records[1].rdata[8..16], z.records[3].rdata[8..16]);
    assert_eq!(z.records[8].loc.line, 11);
}

/// Writes `files` into a temp dir and parses the first.
fn with_files(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<ParsedZone, ParseError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let main = dir.path().join(files[0].0);
    // The main file is there: any error is in the text (an `$INCLUDE` that cannot be
    // read included), never the main file's I/O.
    let res = parse_file(&main, &origin()).map_err(|e| match e {
        crate::error::Error::Parse(e) => e,
        other => panic!("not a parse error: {other}"),
    });
    (dir, res)
}

#[test]
fn include_with_origin_and_restore() {
    let (dir, res) = with_files(&[
        (
            "main.zone",
            "$TTL 60\nhost A 192.0.2.1\n$INCLUDE sub/inc.zone Sub\n\tAAAA ::1\nz A 192.0.2.9\n$INCLUDE sub/plain.zone\n",
        ),
        (
            "sub/inc.zone",
            "x A 192.0.2.2\n@ A 192.0.2.3\n\tA 192.0.2.4\n",
        ),
        ("sub/plain.zone", "$ORIGIN deeper\nw A 192.0.2.5\n"),
    ]);
    let z = res.unwrap();
    assert_eq!(
        shows(&z),
        vec![
            "host.example. 60 1 A 192.0.2.1",
            "x.sub.example. 60 1 A 192.0.2.2",
            "sub.example. 60 1 A 192.0.2.3",
            "sub.example. 60 1 A 192.0.2.4",
            "host.example. 60 1 AAAA ::1",
            "z.example. 60 1 A 192.0.2.9",
            "w.deeper.example. 60 1 A 192.0.2.5",
        ]
    );
    let files: Vec<u32> = z.records.iter().map(|r| r.loc.file).collect();
    assert_eq!(files, vec![0, 1, 1, 1, 0, 0, 2]);
    assert_eq!(z.files[1], dir.path().join("sub/inc.zone"));
    assert_eq!(z.records[2].loc.line, 2);
}

#[test]
fn include_errors() {
    let (dir, res) = with_files(&[
        ("main.zone", "$TTL 60\n\n$INCLUDE inc.zone\n"),
        ("inc.zone", "a A 192.0.2.1\nb A 1.2.3\n"),
    ]);
    let e = res.unwrap_err();
    assert_eq!(e.file, dir.path().join("inc.zone"));
    assert_eq!(e.line, 2);
    assert!(
        e.to_string()
            .ends_with("inc.zone:2: A: bad IPv4 address '1.2.3'"),
        "{e}"
    );

    let (dir, res) = with_files(&[
        ("main.zone", "$TTL 60\n$INCLUDE a.zone\n"),
        ("a.zone", "x A 192.0.2.1\n$INCLUDE main.zone\n"),
    ]);
    let e = res.unwrap_err();
    assert_eq!(e.file, dir.path().join("a.zone"));
    assert_eq!(e.line, 2);
    assert!(e.message.contains("loop"), "{e}");

    let (_dir, res) = with_files(&[("main.zone", "$TTL 60\n\n$INCLUDE missing.zone\n")]);
    let e = res.unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("missing.zone"), "{e}");

    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..20 {
        files.push((format!("f{i}.zone"), format!("$INCLUDE f{}.zone\n", i + 1)));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (_dir, res) = with_files(&refs);
    let e = res.unwrap_err();
    assert!(e.message.contains("nesting deeper than 16"), "{e}");
    assert!(e.file.ends_with("f16.zone"), "{e}");
}

/// Found by tests/fuzz.rs: `$INCLUDE /dev/zero` read until memory ran out.
#[test]
fn include_of_a_device_or_directory_is_refused() {
    for target in ["/dev/zero", "/dev/null", "."] {
        let (_dir, res) = with_files(&[("main.zone", &format!("$TTL 60\n$INCLUDE {target}\n"))]);
        let e = res.unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("not a regular file"), "{target}: {e}");
    }
}

/// Found by tests/fuzz.rs: files that each include the next one four times make
/// 4^depth reads within the depth limit (an include bomb); the total is capped.
#[test]
fn include_bomb_is_bounded() {
    let mut files: Vec<(String, String)> =
        vec![("main.zone".into(), "$TTL 60\n$INCLUDE b0.inc\n".into())];
    for i in 0..15 {
        files.push((
            format!("b{i}.inc"),
            format!(
                "$INCLUDE b{n}.inc\n$INCLUDE b{n}.inc\n$INCLUDE b{n}.inc\n$INCLUDE b{n}.inc\n",
                n = i + 1
            ),
        ));
    }
    files.push(("b15.inc".into(), "x TXT leaf\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let t = std::time::Instant::now();
    let (_dir, res) = with_files(&refs);
    let e = res.unwrap_err();
    assert!(e.message.contains("included files in all"), "{e}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
}

/// A zone file that cannot be read is an I/O error naming it (exit 4), not a parse error.
#[test]
fn io_error_is_an_io_error() {
    let e = parse_file(Path::new("/nonexistent/zonesign/x.zone"), &origin()).unwrap_err();
    assert_eq!(e.exit_code(), crate::error::ExitCode::Io, "{e}");
    match e {
        crate::error::Error::Io { path, source } => {
            assert_eq!(path, PathBuf::from("/nonexistent/zonesign/x.zone"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn class_codes() {
    assert_eq!(class::from_text(b"in"), Some(CLASS_IN));
    assert_eq!(class::from_text(b"CLASS255"), Some(255));
    assert_eq!(class::from_text(b"CLASS65536"), None);
    assert_eq!(class::from_text(b"CLASS"), None);
    assert_eq!(class::from_text(b"A"), None);
}

/// Randomly mutated zone text must give a result or a located error, never a panic.
#[test]
fn mutated_zone_text_never_panics() {
    let base: &[u8] = b"$TTL 1h\n$ORIGIN example.\n@ SOA ns1 host ( 1 2 3 4 5 )\n\
\tNS ns1\nns1 IN 60 A 192.0.2.1\ntxt TXT \"a;b\" \"\\200\" ( c\n d )\n\
s HTTPS 1 . alpn=\"h2,h3\" port=443\nn NSEC a.example. A NS\n\
x TYPE65280 \\# 2 ABCD\n$INCLUDE /nonexistent/zonesign.zone\n";
    let specials = b" \t\n\r;()\"\\$@.0123456789ANSTXIHabc=,-#";
    let mut next = crate::dns::name::test_rng(0x2545_f491_4f6c_dd1du64);
    for _ in 0..20_000 {
        let mut text = base.to_vec();
        for _ in 0..(next() % 6 + 1) {
            let at = (next() % text.len() as u64) as usize;
            match next() % 3 {
                0 => text[at] = specials[(next() % specials.len() as u64) as usize],
                1 => {
                    text.remove(at);
                }
                _ => text.insert(at, next() as u8),
            }
        }
        match parse_bytes(&text, Path::new("m.zone"), &origin()) {
            Ok(z) => assert!(z.records.iter().all(|r| r.loc.line >= 1)),
            Err(e) => assert!(e.line >= 1 && !e.message.is_empty(), "{e}"),
        }
    }
}

/// A zone of `n` delegations, large enough for the parallel read, with `extra` lines
/// inserted after delegation `at`.
fn big_zone(n: usize, at: usize, extra: &str) -> String {
    let mut z = String::from(
        "$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host ( 1 2 3 4 300 )\n@ NS ns1\nns1 A 192.0.2.1\n",
    );
    for i in 0..n {
        z.push_str(&format!(
            "d{i} IN NS ns1.d{i}\n\tIN NS ns2.example.net.\nns1.d{i} 600 A 192.0.2.{}\nd{i} DS 1 8 2 ( {:064X} )\n",
            i % 250,
            i
        ));
        if i == at {
            z.push_str(extra);
        }
    }
    z
}

fn parse_both(text: &str) -> (Result<Vec<String>, String>, Result<Vec<String>, String>) {
    let run = |seq: bool| {
        SEQUENTIAL_ONLY.with(|c| c.set(seq));
        let r = parse(text)
            .map(|z| {
                z.records
                    .iter()
                    .map(|r| format!("{}:{}", r.loc.line, show(r)))
                    .chain(z.warnings.iter().map(|w| format!("warning: {w}")))
                    .collect()
            })
            .map_err(|e| e.to_string());
        SEQUENTIAL_ONLY.with(|c| c.set(false));
        r
    };
    (run(false), run(true))
}

/// A zone without `$TTL` whose records all give their TTL, as signers write them
/// (what `zonesign verify` reads), with `extra` after delegation `at`.
fn explicit_ttl_zone(n: usize, at: usize, extra: &str) -> String {
    let mut z = String::from("$ORIGIN example.\n@ 3600 SOA ns1 host ( 1 2 3 4 300 )\n");
    for i in 0..n {
        z.push_str(&format!(
            "d{i} 3600 IN NS ns1.d{i}\n\t3600 IN NS ns2.example.net.\nns1.d{i} 600 A 192.0.2.{}\n",
            i % 250
        ));
        if i == at {
            z.push_str(extra);
        }
    }
    z
}

/// Zones that test every way a read in parts can go wrong (see
/// [`parallel_read_equals_sequential_read`]).
fn tricky_zones(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("plain", big_zone(n, 0, "")),
        (
            "origin",
            big_zone(
                n,
                40_000,
                "$ORIGIN sub.example.\nx A 192.0.2.9\n$ORIGIN example.\n",
            ),
        ),
        ("ttl", big_zone(n, 10_000, "$TTL 60\nlate A 192.0.2.8\n")),
        ("class", big_zone(n, 16_000, "c CH A 192.0.2.7\n")),
        ("no-$TTL", explicit_ttl_zone(2 * n, 0, "")),
        (
            "no-$TTL inherited",
            explicit_ttl_zone(2 * n, 25_000, "late A 192.0.2.8\n"),
        ),
        // Issue 21: an SOA without TTL gives its MINIMUM; over-large TTLs read as 0.
        (
            "no-$TTL SOA minimum",
            explicit_ttl_zone(2 * n, 25_000, "late A 192.0.2.8\nlate2 A 192.0.2.9\n").replacen(
                "@ 3600 SOA",
                "@ SOA",
                1,
            ),
        ),
        (
            "TTL above 2^31-1",
            explicit_ttl_zone(2 * n, 30_000, "huge 2147483648 A 192.0.2.8\n"),
        ),
        ("error", big_zone(n, 15_000, "bad A 999.1.1.1\n")),
        // Issue 21: an escape or a quote that runs to the line end is an error at its
        // line in a block as in the sequential read, never a record joined to the next.
        (
            "escape at line end",
            big_zone(n, 12_000, "t TXT abc\\\nu TXT def\n"),
        ),
        (
            "open quote",
            big_zone(n, 9_000, "t TXT \"abc\nu TXT def\"\n"),
        ),
        ("parens", {
            let mut z = String::new();
            for i in 0..3 * n {
                // `line )` starts like an owner: a block may begin there, inside the
                // entry, and must be read again from the entry's start.
                z.push_str(&format!(
                    "t{i} TXT ( \"a\"\n\"b;{i}\"\n)\nq{i} TXT ( multi\nline )\n"
                ));
            }
            format!("$ORIGIN example.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 300\n{z}")
        }),
    ]
}

/// The parallel read gives exactly the records, line numbers, warnings and first error
/// of a sequential read: a plain zone, directives and a non-IN class after the head, a
/// record in parentheses and a quoted string over several lines at any place (also
/// across a block boundary), an error far into the file, and zones without `$TTL`
/// (blocks where every record gives its TTL, the sequential read where one takes the
/// previous record's, with its warning).
#[test]
fn parallel_read_equals_sequential_read() {
    let n = 20_000;
    assert!(
        big_zone(n, 0, "").len() > 2 * PARALLEL_MIN,
        "zone too small for blocks"
    );
    let cases = tricky_zones(n);
    for (what, text) in &cases {
        let before = PARALLEL_READS.with(|c| c.get());
        let (par, seq) = parse_both(text);
        // Blocks stand in for the sequential read wherever they can.
        let blocks = PARALLEL_READS.with(|c| c.get()) - before;
        assert!(blocks >= 2, "{what}: {blocks} blocks taken");
        assert_eq!(par, seq, "{what}");
        match (what, &seq) {
            (&"error", Err(e)) => {
                let line = text[..text.find("bad A").unwrap()].matches('\n').count() + 1;
                assert!(e.contains(&format!(":{line}:")), "{e}");
            }
            (&"no-$TTL inherited", Ok(r)) => {
                assert!(r.iter().any(|l| l.contains("previous record's TTL 600")));
            }
            (&"no-$TTL SOA minimum", Ok(r)) => {
                assert!(
                    r.iter()
                        .any(|l| l.contains(":2: no $TTL and no TTL on the SOA"))
                );
                assert!(r.iter().any(|l| l.contains("previous record's TTL 600")
                    && l.ends_with("(and for 1 more records without a TTL after it)")));
                assert!(r.iter().any(|l| l.contains(":example. 300 1 SOA")));
            }
            (&"TTL above 2^31-1", Ok(r)) => {
                assert!(
                    r.iter()
                        .any(|l| l.contains("TTL 2147483648 is above 2^31-1"))
                );
                assert!(r.iter().any(|l| l.contains(":huge.example. 0 1 A")));
            }
            (&"escape at line end", Err(e)) => {
                let line = text[..text.find("t TXT abc").unwrap()]
                    .matches('\n')
                    .count()
                    + 1;
                assert!(
                    e.ends_with(&format!(":{line}: escape '\\' at the end of the line")),
                    "{e}"
                );
            }
            (&"open quote", Err(e)) => {
                let line = text[..text.find("t TXT \"abc").unwrap()]
                    .matches('\n')
                    .count()
                    + 1;
                assert!(
                    e.contains(&format!(":{line}: unterminated quoted string")),
                    "{e}"
                );
            }
            (&"class" | &"error", _) => {}
            (_, Ok(r)) => assert!(r.len() > 40_000, "{what}: {}", r.len()),
            (_, Err(e)) => panic!("{what}: {e}"),
        }
    }
}

/// A file large enough for the parallel read comes back octet for octet, over chunks
/// that do not divide it evenly (DPS-6.6: what is verified is what is on disk).
#[test]
fn large_files_are_read_whole_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.zone");
    let data: Vec<u8> = (0..PARALLEL_MIN * 2 + 12_345)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let got = read_in_parallel(&f, data.len()).unwrap().unwrap();
    assert!(got == data, "parallel read differs");
    // A file that shrank since its size was taken is read again by the caller.
    assert!(read_in_parallel(&f, data.len() + 1).unwrap().is_none());
    // One that grew is read to its end.
    let got = read_in_parallel(&f, data.len() - 1_000).unwrap().unwrap();
    assert!(got == data, "grown file cut short");
    assert!(read_regular(&path).unwrap() == data);
}

/// The zone file itself must be a regular file, like an included one: a device or a
/// directory is refused at once as a file that cannot be read (exit 4), never read
/// until memory runs out.
#[test]
fn main_file_must_be_a_regular_file() {
    for p in ["/dev/zero", "/"] {
        let e = parse_file(Path::new(p), &origin()).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::ExitCode::Io, "{e}");
        assert!(e.to_string().contains(p), "{e}");
    }
}

/// Parses `body` after a minimal zone head (so its first line is line 6) and returns
/// the error, or panics with what was read.
fn err_after_head(body: &str) -> ParseError {
    let text = format!(
        "$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
    );
    match parse(&text) {
        Ok(z) => panic!("{body:?} accepted: {:?}", shows(&z)),
        Err(e) => e,
    }
}

/// Issue 21: a `\` at the very end of a line used to swallow the newline: `t TXT abc\`
/// followed by `u TXT def` became one record `t TXT "abc\010u" "TXT" "def"` and `u`
/// was lost. Both reference parsers refuse it (named-checkzone 9.18:
/// "dns_rdata_fromtext: c1.zone:6: near 'abc\': syntax error"; kzonecheck 3.2: "error
/// in zone, file 'c1.zone', line 6 (invalid number)"), also before CR LF (both the
/// same), inside parentheses (named-checkzone: "near 'abc\': syntax error") and at the
/// end of the file (named-checkzone: "unexpected end of input"; kzonecheck refuses).
/// In an owner name BIND refuses it ("unexpected end of input") where Knot accepts it;
/// zonesign refuses what either refuses. An escaped backslash before the line end
/// (`abc\\`) is an ordinary escape, accepted by both, and by zonesign.
#[test]
fn escape_at_end_of_line_is_an_error() {
    for (body, line, what) in [
        ("t TXT abc\\\nu TXT def\n", 6, "end of the line"),
        ("t TXT abc\\\r\nu TXT def\r\n", 6, "end of the line"),
        ("t TXT ( abc\\\ndef )\nu TXT x\n", 6, "end of the line"),
        ("t TXT abc\\", 6, "end of the file"),
        ("\nt\\\n TXT x\n", 7, "end of the line"),
        ("t TXT \"abc\\\ndef\"\nu TXT x\n", 6, "end of the line"),
        ("t TXT \"abc\\", 6, "end of the file"),
    ] {
        let e = err_after_head(body);
        assert_eq!(e.line, line, "{body:?}: {e}");
        assert!(e.message.starts_with("escape '\\' at the"), "{body:?}: {e}");
        assert!(e.message.contains(what), "{body:?}: {e}");
    }
    let z = parse("$TTL 60\nt TXT abc\\\\\nu TXT def\n").unwrap();
    assert_eq!(
        shows(&z),
        [
            "t.example. 60 1 TXT \"abc\\\\\"",
            "u.example. 60 1 TXT \"def\""
        ]
    );
}

/// Issue 21: a quoted string ends on the line where it began. Until now one could run
/// over any number of lines, newlines included in the string. named-checkzone refuses
/// every form ("c3.zone:6: unbalanced quotes" for `t TXT "abc` / `def"`, the same
/// inside parentheses, for a quote opened inside a word such as `alpn="h2` / `h3"`,
/// and for a quote still open at the end of the file: "unexpected end of input");
/// kzonecheck refuses them outside parentheses ("line 6 (invalid number)" and others)
/// and accepts only the one inside parentheses: refused here, as BIND does. A `\`
/// before the line end inside quotes BIND reads as "\010" while Knot refuses it
/// ("line 6 (invalid number)"): refused (see `escape_at_end_of_line_is_an_error`).
#[test]
fn quoted_string_cannot_span_lines() {
    for body in [
        "t TXT \"abc\ndef\"\nu TXT x\n",
        "t TXT ( \"abc\ndef\" )\nu TXT x\n",
        "s HTTPS 1 . alpn=\"h2\nh3\"\nu TXT x\n",
        "t TXT a\"b\nc\"\nu TXT x\n",
        "t TXT \"abc\n",
        "t TXT \"abc",
        "\"t TXT abc\n",
    ] {
        let e = err_after_head(body);
        assert_eq!(e.line, 6, "{body:?}: {e}");
        assert!(
            e.message.starts_with("unterminated quoted string"),
            "{body:?}: {e}"
        );
    }
    assert!(
        err_after_head("t TXT \"abc\n")
            .message
            .contains("on its line")
    );
    assert!(
        err_after_head("t TXT \"abc")
            .message
            .contains("end of the file")
    );
    // Quotes closed on their line, over several lines in parentheses, still read.
    let z = parse("$TTL 60\nt TXT ( \"a b\"\n \"c;d\" ) ; x\nu TXT \"\"\n").unwrap();
    assert_eq!(
        shows(&z),
        [
            "t.example. 60 1 TXT \"a b\" \"c;d\"",
            "u.example. 60 1 TXT \"\""
        ]
    );
}

/// Issue 21: a `\DDD` escape has exactly three digits; one cut short by the line end
/// or the file end is an error at its line, not a bad escape found later or an escape
/// that takes the newline. named-checkzone: "c5.zone:6: near 'abc\0': syntax error"
/// for `t TXT abc\0` / `12`, "unbalanced quotes" for `"abc\0` / `12"`, "syntax error"
/// for `"abc\09"` and for `abc\0` at the end of the file; kzonecheck refuses all four.
#[test]
fn ddd_escape_cut_short_is_an_error() {
    for (body, cut) in [
        ("t TXT abc\\0\n12\nu TXT x\n", true),
        ("t TXT abc\\01\n2\nu TXT x\n", true),
        ("t TXT \"abc\\0\n12\"\nu TXT x\n", true),
        ("t TXT abc\\0", true),
        ("t TXT abc\\01\r\n", true),
        ("t TXT \"abc\\09\"\n", false),
        ("t\\1x TXT abc\n", false),
    ] {
        let e = err_after_head(body);
        assert_eq!(e.line, 6, "{body:?}: {e}");
        let want = if cut {
            "escape '\\DDD' cut short by the end of the line (three digits needed)"
        } else {
            "bad escape '\\DDD' (three digits needed)"
        };
        assert_eq!(e.message, want, "{body:?}");
    }
    let z = parse("$TTL 60\nt TXT abc\\012 \"\\255\\0001\"\n").unwrap();
    assert_eq!(
        shows(&z),
        ["t.example. 60 1 TXT \"abc\\012\" \"\\255\\0001\""]
    );
}

/// An opening parenthesis never closed is an error at its line (named-checkzone:
/// "c16.zone:7: near eof: unbalanced parentheses"; kzonecheck refuses), also when the
/// entry is otherwise complete, and in an included file, where the includer goes on
/// with its own parentheses (RFC 1035 §5.1: an included file is read on its own).
#[test]
fn unclosed_parenthesis_is_an_error() {
    let e = err_after_head("t TXT ( \"abc\" \n");
    assert_eq!(e.line, 6, "{e}");
    assert_eq!(e.message, "unbalanced '(': missing ')'");
    let e = err_after_head("t TXT \"abc\" )\n");
    assert_eq!((e.line, e.message.as_str()), (6, "unbalanced ')'"));
    let (dir, res) = with_files(&[
        ("main.zone", "$TTL 60\n$INCLUDE inc.zone\nb A 192.0.2.2\n"),
        ("inc.zone", "a A ( 192.0.2.1\n"),
    ]);
    let e = res.unwrap_err();
    assert_eq!(e.file, dir.path().join("inc.zone"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (1, "unbalanced '(': missing ')'")
    );
}

/// Records (with their lines) and warnings of a whole read, or its error.
fn whole_read(path: &Path) -> Result<Vec<String>, String> {
    parse_file(path, &origin())
        .map(|z| {
            z.records
                .iter()
                .map(|r| format!("{}:{}:{}", r.loc.file, r.loc.line, show(r)))
                .chain(z.warnings.iter().map(|w| format!("warning: {w}")))
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// The same through [`parse_file_in_windows`], with how many windows it took.
fn windowed_read(path: &Path, window: usize) -> (Result<Vec<String>, String>, usize) {
    let (mut lines, mut windows) = (Vec::new(), 0);
    let read = parse_file_in_windows(path, &origin(), window, |records, _, _| {
        windows += 1;
        lines.extend(
            records
                .iter()
                .map(|r| format!("{}:{}:{}", r.loc.file, r.loc.line, show(r))),
        );
        std::ops::ControlFlow::Continue(())
    });
    let result = read.map_err(|e| e.to_string()).map(|z| {
        let z = z.expect("never stopped");
        lines.extend(z.warnings.iter().map(|w| format!("warning: {w}")));
        lines
    });
    (result, windows)
}

/// Read a window at a time (issue 25), any zone gives exactly the records, lines,
/// warnings and first error of the whole read, whatever the window: windows that end
/// inside an entry in parentheses or a quoted string, directives and errors in any
/// window, and `$INCLUDE`d files.
#[test]
fn windowed_read_equals_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, String, &[usize])> = tricky_zones(20_000)
        .into_iter()
        .map(|(what, text)| (what, text, &[4_099, 65_536, 1_500_000][..]))
        .collect();
    cases.push((
        "include",
        "$ORIGIN example.\n$TTL 60\n@ SOA ns1 host ( 1 2\n3 4 300 )\nhost A 192.0.2.1\n\
         $INCLUDE inc.zone sub\n\tAAAA ::1\nz A 192.0.2.9\n$INCLUDE inc.zone\nlast TXT ( \"a\"\n\"b\" )\n"
            .to_string(),
        &[1, 7, 30, 100, 4_099],
    ));
    std::fs::write(dir.path().join("inc.zone"), "x A 192.0.2.3\n\tTXT \"in\"\n").unwrap();
    for (what, text, windows) in &cases {
        let path = dir.path().join("main.zone");
        std::fs::write(&path, text).unwrap();
        let whole = whole_read(&path);
        for &window in *windows {
            let (windowed, windows) = windowed_read(&path, window);
            assert_eq!(windowed, whole, "{what}, windows of {window}");
            if whole.is_ok() && text.len() > 2 * window {
                assert!(
                    windows > 1,
                    "{what}, windows of {window}: {windows} windows"
                );
            }
        }
    }
}
