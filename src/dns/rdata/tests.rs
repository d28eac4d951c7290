use super::fields::descriptor;
use super::format::format_generic;
use super::svcb::split_svc_params;
use super::*;
use crate::dns::name::Name;
use crate::dns::registry::{digestalg, rtype, secalg, svcparam};

/// Minimal test tokenizer: whitespace-separated, double quotes group (the real
/// tokenizer lives in `zonefile` and is tested there).
fn toks(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let quoted = b[i] == b'"';
        if quoted {
            i += 1;
        }
        let start = i;
        let mut in_q = quoted;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 1,
                b'"' if in_q && quoted => break,
                b'"' => in_q = !in_q,
                b' ' if !in_q => break,
                _ => {}
            }
            i += 1;
        }
        out.push(Token {
            text: &b[start..i.min(b.len())],
            quoted,
        });
        if quoted {
            i += 1;
        }
    }
    out
}

fn origin() -> Name {
    Name::parse(b"Example.", None).unwrap()
}

fn parse(rt: u16, s: &str) -> Result<Vec<u8>, RdataError> {
    parse_rdata(rt, &toks(s), &origin())
}

fn fmt(rt: u16, wire: &[u8]) -> String {
    let mut s = String::new();
    format_rdata(rt, wire, &mut s);
    s
}

/// text -> wire -> text -> wire must be stable, and the RFC 3597 form of the wire
/// must parse to the same bytes.
fn round_trip(rt: u16, s: &str) -> Vec<u8> {
    let wire = parse(rt, s).unwrap_or_else(|e| panic!("{} {s}: {e}", type_name(rt)));
    let text = fmt(rt, &wire);
    assert!(
        !text.starts_with("\\#") || super::format::written_generic(rt),
        "{} formatted generically: {text}",
        type_name(rt)
    );
    let wire2 = parse(rt, &text).unwrap_or_else(|e| panic!("reparse {text}: {e}"));
    assert_eq!(wire, wire2, "{} {s} -> {text}", type_name(rt));
    let mut generic = String::new();
    format_generic(&wire, &mut generic);
    assert_eq!(parse(rt, &generic).unwrap(), wire, "generic {generic}");
    wire
}

#[test]
fn round_trip_every_type() {
    use rtype::*;
    let cases: &[(u16, &str)] = &[
        (A, "192.0.2.1"),
        (NS, "NS1.Example.com."),
        (CNAME, "foo"),
        (PTR, "host.example."),
        (DNAME, "Target.Example."),
        (MD, "a.example."),
        (MF, "a.example."),
        (MB, "a.example."),
        (MG, "a.example."),
        (MR, "a.example."),
        (MINFO, "a.example. b.example."),
        (RT, "10 relay.example."),
        (PX, "10 a.example. b.example."),
        (
            SOA,
            "ns1.example. hostmaster.example. 2024010101 1h 15m 1w 1D",
        ),
        (HINFO, "\"Intel x86\" Linux"),
        (MX, "10 mail.example."),
        (AFSDB, "1 afs.example."),
        (KX, "10 kx.example."),
        (
            TXT,
            "\"hello world\" \"semi;colon\" unquoted \"\\200\\\"q\" \"\"",
        ),
        (SPF, "\"v=spf1 -all\""),
        (RP, "admin.example. txt.example."),
        (AAAA, "2001:db8::1"),
        (SRV, "0 5 5060 sip.example."),
        (
            NAPTR,
            "100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp.example.",
        ),
        (DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
        (
            DS,
            "60485 RSASHA1 1 2BB183AF5F22588179A5 3B0A98631FAD1A292118",
        ),
        (CDS, "0 0 0 00"),
        (SSHFP, "2 1 123456789abcdef67890123456789abcdef67890"),
        (
            RRSIG,
            "A 5 3 86400 20030322173103 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3Ap3o=",
        ),
        (
            RRSIG,
            "NSEC ECDSAP256SHA256 2 3600 1700000000 1690000000 12345 Example. AAAA BBBB",
        ),
        (NSEC, "host.Example.com. A MX RRSIG NSEC TYPE1234"),
        (NSEC, "host.example.com."),
        (
            DNSKEY,
            "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==",
        ),
        (CDNSKEY, "0 3 0 AA=="),
        (
            NSEC3,
            "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
        ),
        (NSEC3, "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S"),
        (NSEC3PARAM, "1 0 0 -"),
        (NSEC3PARAM, "1 0 10 AABB"),
        (TLSA, "3 1 1 0123456789ABCDEF"),
        (SMIMEA, "3 1 1 0123456789abcdef"),
        (OPENPGPKEY, "AQID"),
        (CSYNC, "66 3 A NS AAAA"),
        (
            ZONEMD,
            "2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE",
        ),
        (URI, "10 1 \"ftp://ftp1.example.com/public\""),
        (CAA, "0 issue \"ca.example.net; account=230123\""),
        (CAA, "128 tbs Unknown"),
        (CAA, "0 iodef \"\""),
        (
            SVCB,
            "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=AAAA ipv6hint=2001:db8::1,::1 mandatory=alpn,port key65333=ex no-default-alpn",
        ),
        (
            SVCB,
            "1 svc.Example. key667=\"hello\\210qoo\" dohpath=\"/q{?dns}\" key9",
        ),
        (HTTPS, "0 Foo.Example."),
    ];
    for (rt, s) in cases {
        round_trip(*rt, s);
    }
}

#[test]
fn known_wire_vectors() {
    let soa = round_trip(rtype::SOA, "NS1.example. Host.example. 1 2 3 4 1h");
    let mut want = b"\x03ns1\x07example\x00\x04host\x07example\x00".to_vec();
    for v in [1u32, 2, 3, 4, 3600] {
        want.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(soa, want);

    let ds = round_trip(
        rtype::DS,
        "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
    );
    assert_eq!(&ds[..4], &[0xec, 0x45, secalg::RSASHA1, digestalg::SHA1]);
    assert_eq!(ds.len(), 4 + 20);
    assert_eq!(
        fmt(rtype::DS, &ds),
        "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
    );

    let date = parse(
        rtype::RRSIG,
        "A 8 2 300 20240101000000 19700101000010 1 example. AA==",
    )
    .unwrap();
    let epoch = parse(
        rtype::RRSIG,
        "A RSASHA256 2 300 1704067200 10 1 EXAMPLE. AA==",
    )
    .unwrap();
    assert_eq!(date, epoch);
    assert_eq!(&date[8..12], &1_704_067_200u32.to_be_bytes());
    assert_eq!(
        fmt(rtype::RRSIG, &date),
        "A 8 2 300 20240101000000 19700101000010 1 example. AA=="
    );

    let txt = parse(rtype::TXT, "\"a b\" c").unwrap();
    assert_eq!(txt, b"\x03a b\x01c");
    assert_eq!(fmt(rtype::TXT, &txt), "\"a b\" \"c\"");
    assert_eq!(fmt(rtype::TXT, b"\x02\"\xff"), "\"\\\"\\255\"");
}

#[test]
fn rfc4034_nsec_bitmap() {
    // RFC 4034 §4.3: "A MX RRSIG NSEC TYPE1234".
    let wire = parse(rtype::NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234").unwrap();
    let mut want = b"\x04host\x07example\x03com\x00".to_vec();
    want.extend_from_slice(&[0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b]);
    want.extend_from_slice(&[0u8; 26]);
    want.push(0x20);
    assert_eq!(wire, want);
    use rtype::{A, DNSKEY, MX, NS, NSEC, RRSIG, SOA};
    assert_eq!(
        encode_type_bitmap(&[DNSKEY, SOA, A, NS, MX, RRSIG, NSEC, A, SOA]),
        [0x00, 0x07, 0x62, 0x01, 0x00, 0x00, 0x00, 0x03, 0x80]
    );
    assert_eq!(
        decode_type_bitmap(&[0x00, 0x07, 0x62, 0x01, 0x00, 0x00, 0x00, 0x03, 0x80]).unwrap(),
        vec![A, NS, SOA, MX, RRSIG, NSEC, DNSKEY]
    );
    assert!(encode_type_bitmap(&[]).is_empty());
    assert!(decode_type_bitmap(&[0, 0]).is_err());
    assert!(decode_type_bitmap(&[0, 33]).is_err());
    assert!(decode_type_bitmap(&[1, 1, 0x80, 0, 1, 0x80]).is_err());
    assert!(decode_type_bitmap(&[0, 2, 0x80]).is_err());
    assert!(decode_type_bitmap(&[0]).is_err());
}

#[test]
fn canonical_case_rules() {
    let mx = parse(rtype::MX, "10 MAIL.Example.").unwrap();
    assert_eq!(mx, b"\x00\x0a\x04mail\x07example\x00");
    let generic = parse(rtype::MX, "\\# 16 000A 044D41494C 074578616D706C6500").unwrap();
    assert_eq!(generic, mx);
    let nsec = parse(rtype::NSEC, "HOST.Example. A").unwrap();
    assert!(nsec.starts_with(b"\x04HOST\x07Example\x00"));
    let svcb = parse(rtype::SVCB, "1 Svc.Example.").unwrap();
    assert_eq!(svcb, b"\x00\x01\x03Svc\x07Example\x00");
    let rel = parse(rtype::CNAME, "WWW").unwrap();
    assert_eq!(rel, b"\x03www\x07example\x00");
    let sig = parse(rtype::RRSIG, "A 8 2 300 1 0 1 EXAMPLE. AA==").unwrap();
    assert!(sig.ends_with(b"\x07example\x00\x00"));
}

#[test]
fn generic_rdata() {
    let unknown = parse(65280, "\\# 3 ABCDEF").unwrap();
    assert_eq!(unknown, [0xab, 0xcd, 0xef]);
    assert_eq!(fmt(65280, &unknown), "\\# 3 ABCDEF");
    assert_eq!(parse(65280, "\\# 0").unwrap(), Vec::<u8>::new());
    assert_eq!(fmt(65280, &[]), "\\# 0");
    assert_eq!(
        parse(rtype::A, "\\# 4 C0 00 02 01").unwrap(),
        [192, 0, 2, 1]
    );
    assert_eq!(
        parse(rtype::A, "\\# 4 c0000201").unwrap(),
        parse(rtype::A, "192.0.2.1").unwrap()
    );
    assert_eq!(
        parse(rtype::A, "\\# 3 C00002").unwrap_err().message,
        "IPv4 address: truncated"
    );
    assert!(parse(rtype::A, "\\# 5 C000020100").is_err());
    assert!(parse(65280, "\\# 4 ABCDEF").is_err());
    assert!(parse(65280, "\\# x AB").is_err());
    assert!(parse(65280, "\\# 1 GG").is_err());
    assert!(parse(65280, "\\#").is_err());
    // UINFO has a row but no presentation format: only generic form.
    assert!(parse(rtype::UINFO, "\"x\"").is_err());
    assert_eq!(parse(rtype::UINFO, "\\# 1 00").unwrap(), [0]);
    assert_eq!(fmt(rtype::UINFO, &[0]), "\\# 1 00");
    // Undecodable wire of a known type prints generically.
    assert_eq!(fmt(rtype::A, &[1, 2, 3]), "\\# 3 010203");
    assert_eq!(fmt(rtype::NS, b"\x03ab"), "\\# 3 036162");
}

#[test]
fn error_messages() {
    let msg = |rt: u16, s: &str| parse(rt, s).unwrap_err().message;
    assert_eq!(msg(rtype::A, "1.2.3"), "bad IPv4 address '1.2.3'");
    assert_eq!(
        msg(rtype::AAAA, "2001:db8::g"),
        "bad IPv6 address '2001:db8::g'"
    );
    assert_eq!(msg(rtype::DS, "1 5 1 XYZ"), "digest: invalid hex");
    assert_eq!(msg(rtype::MX, "10"), "missing exchange");
    assert_eq!(msg(rtype::A, "1.2.3.4 5"), "unexpected trailing data '5'");
    assert!(msg(rtype::DS, "1 5 256 AA").contains("digest type"));
    assert!(msg(rtype::DS, "1 5 1").contains("missing digest"));
    assert!(msg(rtype::RRSIG, "A 8 2 300 2024x 1 1 example. AA==").contains("expiration"));
    assert!(msg(rtype::RRSIG, "A 8 2 300 20241301000000 1 1 example. AA==").contains("bad time"));
    assert!(msg(rtype::RRSIG, "BOGUS 8 2 300 1 1 1 example. AA==").contains("unknown type"));
    assert!(msg(rtype::RRSIG, "A 8 2 300 1 1 1 example. !!").contains("base64"));
    assert!(msg(rtype::DNSKEY, "256 3 NOPE AA==").contains("unknown algorithm"));
    assert!(msg(rtype::NSEC, "a.example. A BOGUS").contains("BOGUS"));
    assert!(msg(rtype::NSEC3, "1 0 0 - 0123!").contains("base32hex"));
    assert!(msg(rtype::NSEC3, "1 0 0 XY 0123").contains("salt"));
    assert!(msg(rtype::TXT, &"a".repeat(256)).contains("255"));
    assert!(msg(rtype::TXT, "").contains("missing"));
    assert!(msg(rtype::CAA, "0 is-sue x").contains("letters and digits"));
    assert!(msg(rtype::SVCB, "1 . port=1 port=2").contains("duplicate"));
    assert!(msg(rtype::SVCB, "1 . bogus=1").contains("unknown SvcParamKey"));
    assert!(msg(rtype::SVCB, "1 . port=99999").contains("port"));
    assert!(msg(rtype::SVCB, "1 . alpn").contains("needs a value"));
    assert!(msg(rtype::SVCB, "1 . no-default-alpn=x").contains("no value"));
    assert!(msg(rtype::SVCB, "1 . ipv4hint=1.2.3").contains("ipv4hint"));
    assert!(msg(rtype::SVCB, "1 . key65536").contains("unknown"));
    assert!(msg(rtype::NS, "a..b.").contains("bad target name"));
    assert!(msg(rtype::TXT, "\"a\\25\"").contains("bad escape"));
}

#[test]
fn svcb_details() {
    // RFC 9460 Appendix D.2, Figure 6: alpn value with escaped comma and backslash.
    let wire = parse(
        rtype::SVCB,
        "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
    )
    .unwrap();
    let mut want = b"\x00\x10\x03foo\x07example\x03org\x00".to_vec();
    want.extend_from_slice(b"\x00\x01\x00\x0c\x08f\\oo,bar\x02h2");
    assert_eq!(wire, want);
    // Unsorted input is sorted on the wire.
    let w = parse(rtype::SVCB, "1 . port=53 alpn=h2 mandatory=port").unwrap();
    let keys: Vec<u16> = split_svc_params(&w[3..])
        .unwrap()
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        keys,
        vec![svcparam::MANDATORY, svcparam::ALPN, svcparam::PORT]
    );
    assert_eq!(
        fmt(rtype::SVCB, &w),
        "1 . mandatory=port alpn=\"h2\" port=53"
    );
    // Quoted value in a separate token after "key=".
    let split = parse_rdata(
        rtype::HTTPS,
        &[
            Token {
                text: b"1",
                quoted: false,
            },
            Token {
                text: b".",
                quoted: false,
            },
            Token {
                text: b"alpn=",
                quoted: false,
            },
            Token {
                text: b"h2,h3",
                quoted: true,
            },
        ],
        &origin(),
    )
    .unwrap();
    assert_eq!(split, parse(rtype::HTTPS, "1 . alpn=h2,h3").unwrap());
    // Malformed known key on the wire falls back to generic output.
    assert!(fmt(rtype::SVCB, b"\x00\x01\x00\x00\x03\x00\x01\x05").starts_with("\\#"));
}

#[test]
fn numbers_periods_and_types() {
    assert_eq!(parse_period(b"3600"), Some(3600));
    assert_eq!(parse_period(b"1h2m"), Some(3720));
    assert_eq!(parse_period(b"1D"), Some(86400));
    assert_eq!(parse_period(b"1w2d"), Some(777_600));
    assert_eq!(parse_period(b"1h30"), Some(3630));
    assert_eq!(parse_period(b"h"), None);
    assert_eq!(parse_period(b""), None);
    assert_eq!(parse_period(b"1x"), None);
    assert_eq!(parse_period(b"4294967296"), None);
    assert_eq!(parse_period(b"99999999w"), None);
    assert_eq!(type_code(b"a"), Some(rtype::A));
    assert_eq!(type_code(b"Https"), Some(rtype::HTTPS));
    assert_eq!(type_code(b"TYPE65280"), Some(65280));
    assert_eq!(type_code(b"type1"), Some(rtype::A));
    assert_eq!(type_code(b"TYPE65536"), None);
    assert_eq!(type_code(b"TYPE"), None);
    assert_eq!(type_code(b"FOO"), None);
    assert_eq!(type_name(rtype::HTTPS), "HTTPS");
    assert_eq!(type_name(65280), "TYPE65280");
    assert!(parse(rtype::MX, "65536 a.").is_err());
    assert!(parse(rtype::MX, "-1 a.").is_err());
    assert_eq!(parse(rtype::CDS, "0 0 0 00").unwrap(), [0, 0, 0, 0, 0]);
}

/// Tiny deterministic PRNG so the robustness tests need no extra dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random wire RDATA must never panic the formatter, and whatever the formatter
/// prints must parse back to exactly the same bytes (generic or not).
#[test]
fn random_wire_formats_and_reparses() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let types: Vec<u16> = (0..70)
        .chain([rtype::SPF, rtype::URI, rtype::CAA, rtype::DLV, 65280])
        .chain(258..263)
        .chain([rtype::TA])
        .collect();
    let seeds: Vec<Vec<u8>> = vec![
        parse(
            rtype::SVCB,
            "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1 mandatory=alpn",
        )
        .unwrap(),
        parse(rtype::NSEC, "a.example. A NS SOA TYPE1234").unwrap(),
        parse(rtype::RRSIG, "A 8 2 300 1 0 1 example. AAAA").unwrap(),
        parse(
            rtype::NSEC3,
            "1 1 12 aabb 2vptu5timamqttgl4luu9kg21e0aor3s A",
        )
        .unwrap(),
        parse(rtype::TXT, "a b c").unwrap(),
        parse(rtype::CAA, "0 issue x").unwrap(),
    ];
    for i in 0..60_000u32 {
        let rt = types[(rng.next() % types.len() as u64) as usize];
        let mut wire = if i % 2 == 0 {
            seeds[(rng.next() % seeds.len() as u64) as usize].clone()
        } else {
            let len = (rng.next() % 40) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        };
        if !wire.is_empty() {
            let n = rng.next() % 3;
            for _ in 0..n {
                let at = (rng.next() % wire.len() as u64) as usize;
                wire[at] = rng.next() as u8;
            }
            if rng.next().is_multiple_of(4) {
                wire.truncate((rng.next() % wire.len() as u64) as usize);
            }
        }
        // The presentation form, where the output writes the generic one, must read
        // back to the same wire too (or fall back to the generic form itself).
        let mut typed = String::new();
        super::format::format_typed(rt, &wire, &mut typed);
        if let Ok(back) = parse(rt, &typed) {
            if !rtype::props(rt).lowercase_names {
                assert_eq!(back, wire, "{} -> {typed}", type_name(rt));
            }
        } else {
            // X25 with a non-digit address: its text is refused (RFC 1183 §3.1), its
            // wire read; the output writes X25 generically anyway.
            assert!(
                typed.starts_with("\\#") || rt == rtype::X25,
                "{} {wire:?} -> {typed}",
                type_name(rt)
            );
        }
        let text = fmt(rt, &wire);
        if text.starts_with("\\#") && descriptor(rt).is_some() {
            // Printed generically because the wire is invalid for the type: the
            // parser must reject it the same way. Except SVCB/HTTPS with an alpn-id
            // the validators read differently in text: written generically on
            // purpose, read back to the same wire.
            if let Ok(back) = parse(rt, &text) {
                assert!(
                    [rtype::SVCB, rtype::HTTPS].contains(&rt)
                        || (rt == rtype::APL && wire.is_empty())
                        || super::format::written_generic(rt),
                    "{} {text}",
                    type_name(rt)
                );
                assert_eq!(back, wire, "{text}");
            }
            continue;
        }
        let back = parse(rt, &text)
            .unwrap_or_else(|e| panic!("{} {wire:?} -> {text}: {e}", type_name(rt)));
        if !rtype::props(rt).lowercase_names {
            assert_eq!(back, wire, "{} -> {text}", type_name(rt));
        } else {
            assert_eq!(back.len(), wire.len(), "{} -> {text}", type_name(rt));
        }
    }
}

/// Random token soup must never panic the presentation parser.
#[test]
fn random_tokens_never_panic() {
    let mut rng = XorShift(42);
    let words: &[&[u8]] = &[
        b"1",
        b"0",
        b"65535",
        b"4294967296",
        b"-",
        b".",
        b"@",
        b"a.",
        b"\\#",
        b"A",
        b"TYPE1",
        b"AAAA==",
        b"zz",
        b"\\",
        b"\\0",
        b"\\999",
        b"alpn=",
        b"alpn=h2",
        b"port=1",
        b"key1=\"x\"",
        b"mandatory=port",
        b"20240101000000",
        b"1.2.3.4",
        b"::1",
        b"",
        b"\"",
        b"a..b",
        b"ipv6hint=::1,::2",
        b"ech=AA==",
    ];
    for _ in 0..40_000 {
        let rt = (rng.next() % 70) as u16;
        let n = (rng.next() % 10) as usize;
        let toks: Vec<Token> = (0..n)
            .map(|_| Token {
                text: words[(rng.next() % words.len() as u64) as usize],
                quoted: rng.next().is_multiple_of(5),
            })
            .collect();
        if let Ok(wire) = parse_rdata(rt, &toks, &origin()) {
            let text = fmt(rt, &wire);
            assert_eq!(parse(rt, &text).unwrap(), wire, "{text}");
        }
    }
}

/// Issue 21: the types BIND and Knot read in presentation form that zonesign read only
/// as RFC 3597 generic RDATA (each checked with named-checkzone 9.18 and kzonecheck
/// 3.2 first): text -> wire -> text -> wire, and the generic form of the wire.
#[test]
fn round_trip_issue_21_types() {
    use rtype::*;
    let cases: &[(u16, &str, &str)] = &[
        // RFC 4398 §2.2: type and algorithm as mnemonic or number.
        (CERT, "PKIX 1 RSASHA256 AQID", "1 1 8 AQID"),
        (CERT, "URI 0 0 AQID", "253 0 0 AQID"),
        (CERT, "65535 65535 255 AQID", "65535 65535 255 AQID"),
        // RFC 1876 §3 (the example of its §4 and defaults).
        (
            LOC,
            "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            "52 22 23.000 N 4 53 32.000 E -2m 0m 10000m 10m",
        ),
        (
            LOC,
            "42 21 54 N 71 06 18 W -24m 30m",
            "42 21 54.000 N 71 6 18.000 W -24m 30m 10000m 10m",
        ),
        (LOC, "0 S 0 W 0", "0 0 0.000 N 0 0 0.000 E 0m 1m 10000m 10m"),
        (
            LOC,
            "90 0 0 S 180 W 42849672.95m 90000000m 90000000m 0.01",
            "",
        ),
        // RFC 3123 §5, an empty list, host bits kept as written (both accept them).
        (
            APL,
            "1:192.168.32.0/21 !1:192.168.38.0/28 2:ff00::/8",
            "1:192.168.32.0/21 !1:192.168.38.0/28 2:ff00::/8",
        ),
        (
            APL,
            "1:192.168.32.1/21 1:0.0.0.0/0 !2:::/0",
            "1:192.168.32.1/21 1:0.0.0.0/0 !2:::/0",
        ),
        (KEY, "256 3 5 AQID", "256 3 5 AQID"),
        // RFC 4025 §3.3 examples.
        (
            IPSECKEY,
            "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
            "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
        ),
        (IPSECKEY, "10 0 2 . AQID", "10 0 2 . AQID"),
        (
            IPSECKEY,
            "10 3 2 GW.Example.COM. AQID",
            "10 3 2 GW.Example.COM. AQID",
        ),
        (
            IPSECKEY,
            "10 2 2 2001:0DB8:0:8002::2000:1 AQID",
            "10 2 2 2001:db8:0:8002::2000:1 AQID",
        ),
        // RFC 4701 §3.6.
        (
            DHCID,
            "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
            "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
        ),
        // RFC 7043 §3.2, §4.2.
        (EUI48, "00-00-5e-00-53-2a", "00-00-5e-00-53-2a"),
        (EUI64, "00-00-5E-EF-10-00-00-2A", "00-00-5e-ef-10-00-00-2a"),
        // RFC 6742 §2.
        (NID, "10 0014:4fff:ff20:ee64", "10 0014:4fff:ff20:ee64"),
        (L32, "10 10.1.2.0", "10 10.1.2.0"),
        (L64, "10 2001:0DB8:1140:1000", "10 2001:0db8:1140:1000"),
        (LP, "10 L64-Subnet.Example.", "10 L64-Subnet.Example."),
        (
            DLV,
            "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
            "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
        ),
        // Read under their mnemonics, written generically (Knot 3.2 refuses them).
        (X25, "311061700956", "\\# 13 0C333131303631373030393536"),
        (
            NSAP_PTR,
            "foo.Example.",
            "\\# 13 03666F6F074578616D706C6500",
        ),
        (SVCB, "1 . key65535=x", "1 . key65535=\"x\""),
        (SVCB, "1 . key65535", "1 . key65535"),
    ];
    for &(rt, text, want) in cases {
        let wire = round_trip(rt, text);
        if !want.is_empty() || text.is_empty() {
            assert_eq!(fmt(rt, &wire), want, "{} {text}", type_name(rt));
        }
    }
    // An empty APL (both read it) is written `\# 0`, as ldns writes it.
    assert_eq!(parse(APL, "").unwrap(), Vec::<u8>::new());
    assert_eq!(fmt(APL, &[]), "\\# 0");
    // None of them lowercases names in RDATA (RFC 4034 §6.2, RFC 6840 §5.1, and the
    // lists of ldns and Knot agree): LP's FQDN and IPSECKEY's gateway stay as written.
    for rt in [
        CERT, LOC, APL, KEY, IPSECKEY, DHCID, EUI48, EUI64, NID, L32, L64, LP,
    ] {
        assert!(!rtype::props(rt).lowercase_names, "{}", type_name(rt));
    }
    assert!(
        parse(LP, "1 A.Example.")
            .unwrap()
            .ends_with(b"\x01A\x07Example\x00")
    );
    // RFC 1876 §2 wire of the §4 example's position and defaults.
    let loc = parse(LOC, "42 21 54 N 71 06 18 W -24m 30m").unwrap();
    assert_eq!(
        loc,
        [
            0x00, 0x33, 0x16, 0x13, 0x89, 0x17, 0x2d, 0xd0, 0x70, 0xbe, 0x15, 0xf0, 0x00, 0x98,
            0x8d, 0x20
        ]
    );
    // RFC 3123 §4: trailing zero octets of the address are not sent.
    assert_eq!(
        parse(APL, "1:192.168.32.0/21 !2:ff00::/8").unwrap(),
        [0, 1, 21, 3, 192, 168, 32, 0, 2, 8, 0x81, 0xff]
    );
}

/// Issue 21: what BIND or Knot refuse in these types is refused, with the field named.
#[test]
fn issue_21_types_refuse_malformed_text() {
    use rtype::*;
    let msg = |rt: u16, s: &str| match parse(rt, s) {
        Ok(w) => panic!("{} {s} accepted: {w:?}", type_name(rt)),
        Err(e) => e.message,
    };
    // named-checkzone: "unexpected end of input"; kzonecheck: "invalid record data".
    assert!(msg(CERT, "1 1 8").contains("missing certificate"));
    assert!(msg(CERT, "BOGUS 1 8 AQID").contains("certificate type"));
    // KEY without key data: BIND reads it for flags 0xC000, Knot refuses it.
    assert!(msg(KEY, "49152 3 5").contains("missing public key"));
    // IPSECKEY without public key: BIND and ldns refuse it, Knot reads it.
    assert!(msg(IPSECKEY, "10 0 2 .").contains("missing public key"));
    assert!(msg(IPSECKEY, "10 1 0 192.0.2.1").contains("missing public key"));
    assert!(msg(IPSECKEY, "10 4 2 . AQID").contains("gateway type"));
    assert!(msg(IPSECKEY, "10 0 2 a.example. AQID").contains("'.'"));
    assert!(msg(IPSECKEY, "10 1 2 2001:db8::1 AQID").contains("IPv4"));
    // kzonecheck: "missing dash character"; named-checkzone: "bad EUI".
    assert!(msg(EUI48, "00:00:5e:00:53:2a").contains("EUI-48"));
    assert!(msg(EUI48, "00-00-5e-00-53").contains("EUI-48"));
    assert!(msg(EUI64, "00-00-5e-00-53-2a").contains("EUI-64"));
    assert!(msg(EUI48, "0-00-5e-00-53-2a0").contains("EUI-48"));
    // kzonecheck: "invalid hexadecimal character" for groups of fewer than 4 digits.
    assert!(msg(NID, "10 14:4fff:ff20:ee64").contains("NodeID"));
    assert!(msg(L64, "10 2001:DB8:1140:1000").contains("Locator64"));
    assert!(msg(L64, "10 2001:0db8:1140").contains("Locator64"));
    // named-checkzone: "out of range" for a prefix longer than the address.
    assert!(msg(APL, "1:192.168.32.0/33").contains("APL"));
    assert!(msg(APL, "3:192.168.32.0/8").contains("APL"));
    assert!(msg(APL, "1:2001:db8::/8").contains("APL"));
    assert!(msg(APL, "1:192.168.32.0").contains("APL"));
    assert!(msg(LOC, "91 N 0 E 0").contains("latitude"));
    assert!(msg(LOC, "90 0 0.001 N 0 E 0").contains("latitude"));
    assert!(msg(LOC, "0 N 181 E 0").contains("longitude"));
    assert!(msg(LOC, "0 60 N 0 E 0").contains("latitude"));
    assert!(msg(LOC, "0 N 0 E").contains("altitude"));
    assert!(msg(LOC, "0 N 0 E -100000.01m").contains("altitude"));
    assert!(msg(LOC, "0 N 0 E 0 -1m").contains("size"));
    assert!(msg(LOC, "0 N 0 E 0 1 1 1 1").contains("trailing"));
    assert!(msg(LOC, "0 0 0 0 N 0 E 0").contains("latitude"));
    assert!(msg(LOC, "N 0 E 0").contains("latitude"));
}

/// Issue 21: RFC 3597 generic RDATA must have the form of its type: `\# 0` and wrong
/// lengths are refused for types with a fixed or minimum form (named-checkzone refuses
/// `APL \# 6 000115020100`, "FORMERR", and `\# 5 0001150201`, "unexpected end of
/// input", which Knot reads; refused both).
#[test]
fn generic_rdata_of_the_wrong_length_is_refused() {
    use rtype::*;
    for (rt, text) in [
        (A, "\\# 0"),
        (A, "\\# 3 C00002"),
        (AAAA, "\\# 0"),
        (AAAA, "\\# 4 20010DB8"),
        (AAAA, "\\# 17 20010DB8000000000000000000000001FF"),
        (EUI48, "\\# 5 00005E0053"),
        (EUI48, "\\# 7 00005E00532A00"),
        (EUI64, "\\# 6 00005E00532A"),
        (LOC, "\\# 3 000000"),
        (LOC, "\\# 0"),
        (LOC, "\\# 16 00A2161389172DD070BE15F000988D20"),
        (LOC, "\\# 16 01331613891 72DD070BE15F000988D20"),
        (LOC, "\\# 16 00331613FFFFFFFF70BE15F000988D20"),
        (CERT, "\\# 0"),
        (CERT, "\\# 5 0001000108"),
        (KEY, "\\# 4 01000305"),
        (KEY, "\\# 0"),
        (DHCID, "\\# 0"),
        (IPSECKEY, "\\# 3 0A0002"),
        (IPSECKEY, "\\# 5 0A0302FF00"),
        (IPSECKEY, "\\# 5 0A0102C000"),
        (IPSECKEY, "\\# 4 0A040203"),
        (NID, "\\# 9 000A00144FFFFF20EE"),
        (L32, "\\# 5 000A0A0102"),
        (L64, "\\# 0"),
        (LP, "\\# 2 000A"),
        (APL, "\\# 6 000115020100"),
        (APL, "\\# 5 0001150201"),
        (APL, "\\# 3 000115"),
        (APL, "\\# 4 00032100"),
        (APL, "\\# 4 00012100"),
        (TXT, "\\# 0"),
        (MX, "\\# 2 000A"),
        (SVCB, "\\# 0"),
    ] {
        assert!(
            parse(rt, text).is_err(),
            "{} {text} accepted",
            type_name(rt)
        );
    }
    assert_eq!(parse(APL, "\\# 0").unwrap(), Vec::<u8>::new());
    assert_eq!(
        parse(EUI48, "\\# 6 00005E00532A").unwrap(),
        parse(EUI48, "00-00-5e-00-53-2a").unwrap()
    );
}

/// Issue 21, RFC 9460 §7.1.1, §8 and RFC 9461 §5: parameters that must go together, and
/// dohpath's form, refused as named-checkzone and kzonecheck refuse them.
#[test]
fn svcb_consistency() {
    let msg = |s: &str| match parse(rtype::SVCB, s) {
        Ok(w) => panic!("{s} accepted: {w:?}"),
        Err(e) => e.message,
    };
    // named-checkzone: "disallowed (by application policy)"; kzonecheck: "missing
    // mandatory parameter".
    assert!(msg("1 . mandatory=port").contains("not present"));
    assert!(msg("1 . mandatory=alpn,port port=1").contains("'alpn'"));
    assert!(msg("1 . mandatory=key667").contains("'key667'"));
    // named-checkzone: "disallowed"; Knot and ldns read it.
    assert!(msg("1 . no-default-alpn").contains("alpn"));
    // named-checkzone: "FORMERR" / "syntax error"; kzonecheck: "invalid parameter",
    // "empty comma-separated list item".
    assert!(msg("1 . dohpath=\"\"").contains("dohpath"));
    assert!(msg("1 . dohpath=/q").contains("'dns'"));
    assert!(msg("1 . dohpath=/q{?dns").contains("dohpath"));
    assert!(msg("1 . key7=q{?dns}").contains("dohpath"));
    assert!(msg("1 . alpn=\"\"").contains("alpn"));
    assert!(msg("1 . alpn=h2,,h3").contains("alpn"));
    // The same on the wire: mandatory naming port without port.
    assert!(parse(rtype::SVCB, "\\# 9 0001 00 0000 0002 0003").is_err());
    for ok in [
        "1 . mandatory=key667 key667=x",
        "1 . alpn=h2 no-default-alpn",
        "1 . dohpath=/dns-query{?dns}",
        "1 . dohpath=/q{&x,dns}",
        "1 . key667=\"\"",
    ] {
        round_trip(rtype::SVCB, ok);
    }
}

/// Issue 21: SVCB values holding `,`, `\` or `"` are written so that the text reads
/// back to the very wire that was signed, here and in every validator. Generic keys
/// (`key667="a,b\\c\"d"`, `key667=x\,y`) are written as one escaped character-string,
/// which named-checkzone, kzonecheck and ldns read alike (checked: ldns-signzone's
/// output of such records passes `kzonecheck -d on` and dnssec-verify, and so does
/// zonesign's, in `fixtures/features/all-types.zone`). An alpn-id holding `,`, `\` or
/// `"`, or of one character before the last, has no text form the three read alike
/// (see `alpn_is_plain` in svcb.rs), so that record is written in RFC 3597 form (its
/// signed output checked by `sign_validators::svcb_alpn_escapes_signed_output_passes_all_validators`).
#[test]
fn svcb_escaped_values_reread_to_the_same_wire() {
    let wire = parse(
        rtype::SVCB,
        "1 . alpn=h2 key667=\"a,b\\\\c\\\"d\" key668=x\\,y dohpath=/q{?dns}",
    )
    .unwrap();
    let text = fmt(rtype::SVCB, &wire);
    assert_eq!(
        text,
        "1 . alpn=\"h2\" key7=\"/q{?dns}\" key667=\"a,b\\\\c\\\"d\" key668=\"x,y\""
    );
    let params = split_svc_params(&wire[3..]).unwrap();
    assert_eq!(params[2], (667, &b"a,b\\c\"d"[..]));
    assert_eq!(params[3], (668, &b"x,y"[..]));
    assert_eq!(parse(rtype::SVCB, &text).unwrap(), wire);

    for alpn in [
        "alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
        "alpn=a\\\\\\\\b",
        "alpn=\"a\\\"b\"",
        "alpn=\"a b\"",
        "alpn=a\\255",
        // Knot 3.2 refuses a one-character id before the last ("empty comma-separated
        // list item"); the last may be one character.
        "alpn=a,h3",
        "alpn=h3,a,h2",
    ] {
        let wire = parse(rtype::HTTPS, &format!("1 . {alpn} port=1")).unwrap();
        let text = fmt(rtype::HTTPS, &wire);
        assert!(text.starts_with("\\# "), "{alpn}: {text}");
        assert_eq!(parse(rtype::HTTPS, &text).unwrap(), wire, "{alpn}");
    }
    for alpn in ["alpn=h3,a", "alpn=a"] {
        let wire = parse(rtype::HTTPS, &format!("1 . {alpn}")).unwrap();
        assert!(!fmt(rtype::HTTPS, &wire).starts_with("\\# "), "{alpn}");
    }
    let wire = parse(rtype::HTTPS, "1 . alpn=\"f\\\\\\\\oo\\\\,bar,h2\"").unwrap();
    assert!(wire.ends_with(b"\x00\x01\x00\x0c\x08f\\oo,bar\x02h2"));
}

/// Issue 21: X25 and NSAP-PTR are read under their mnemonics but written in the form
/// every validator reads (Knot 3.2 refuses the mnemonics): `TYPEnnn` and `\#` RDATA,
/// also where a type is a field (RRSIG type covered).
#[test]
fn types_knot_cannot_read_are_written_generic() {
    for (rt, text, number) in [
        (rtype::X25, "\"311061700956\"", 19),
        (rtype::NSAP_PTR, "foo.example.", 23),
    ] {
        let wire = parse(rt, text).unwrap();
        let mut out = String::new();
        format_rdata(rt, &wire, &mut out);
        assert!(out.starts_with(&format!("\\# {}", wire.len())), "{out}");
        let mut name = String::new();
        push_type_name(rt, &mut name);
        assert_eq!(name, format!("TYPE{number}"));
        assert_eq!(type_code(name.as_bytes()), Some(rt));
        assert_eq!(
            parse(rt, &out).unwrap(),
            wire,
            "the generic form reads back"
        );
    }
}

/// An RRSIG of signed input whose expiration lies past 2106 is read, its time modulo
/// 2^32 (RFC 4034 §3.2), as BIND and Knot read it (`named-checkzone` 9.18: loaded,
/// printed back as 19701124173144; `kzonecheck` 3.2: "No semantic error found");
/// zonesign refused it before issue 21.
#[test]
fn rrsig_time_past_2106_is_read_modulo_2_32() {
    let wire = parse(
        rtype::RRSIG,
        "A 8 2 3600 21070101000000 20260101000000 12345 example. AAECAwQFBgcICQ==",
    )
    .unwrap();
    let expiration = u32::from_be_bytes(wire[8..12].try_into().unwrap());
    assert_eq!(i64::from(expiration), 4_323_283_200 - (1 << 32));
    assert!(fmt(rtype::RRSIG, &wire).contains(" 19701124173144 20260101000000 "));
}

/// The presentation form of `wire` (what [`format_rdata`] writes for every type not
/// written generically).
fn typed(rt: u16, wire: &[u8]) -> String {
    let mut s = String::new();
    super::format::format_typed(rt, wire, &mut s);
    s
}

/// Issue 21: the remaining IANA types with a presentation form, read and written as
/// named-checkzone 9.18 reads and writes them (each form checked with it first; the
/// expected text is its `-D` dump where it reads the input): text -> wire ->
/// presentation text -> wire. The output writes them `TYPEnnn \# ...` (kzonecheck 3.2
/// refuses every one of their mnemonics), which reads back to the same wire.
#[test]
fn round_trip_remaining_iana_types() {
    use rtype::*;
    let cases: &[(u16, &str, &str)] = &[
        // RFC 1035 §3.4.2; protocol and services as numbers, as BIND writes them.
        (
            WKS,
            "192.0.2.1 TCP smtp domain http",
            "192.0.2.1 6 25 53 80",
        ),
        (WKS, "192.0.2.1 udp domain ntp", "192.0.2.1 17 53 123"),
        (WKS, "192.0.2.1 6", "192.0.2.1 6"),
        (WKS, "192.0.2.1 1 0 7 65535", "192.0.2.1 1 0 7 65535"),
        // RFC 1183 §3.2: address and optional subaddress.
        (
            ISDN,
            "\"150862028003217\" \"004\"",
            "\"150862028003217\" \"004\"",
        ),
        (ISDN, "150862028003217", "\"150862028003217\""),
        (ISDN, "\"\"", "\"\""),
        // RFC 1706 §5.
        (
            NSAP,
            "0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00",
            "0x47000580005a0000000001e133ffffff00016200",
        ),
        (NSAP, "0X4.700", "0x4700"),
        // RFC 1712 §4 (its example, outside its own ranges; BIND reads it).
        (
            GPOS,
            "-32.6882 116.8652 10.0",
            "\"-32.6882\" \"116.8652\" \"10.0\"",
        ),
        (GPOS, "\"+1\" 2 .5", "\"+1\" \"2\" \".5\""),
        // RFC 2535 §4.1 (RRSIG's form) and §5.2.
        (
            SIG,
            "A 5 2 3600 20300101000000 20200101000000 1234 Example. AQID",
            "A 5 2 3600 20300101000000 20200101000000 1234 example. AQID",
        ),
        (NXT, "A.Example. A MX SIG NXT", "a.example. A MX SIG NXT"),
        (NXT, "a.example.", "a.example."),
        (NXT, "a.example. TYPE127", "a.example. TYPE127"),
        // RFC 2874 §3.1.2; the address bits above the suffix dropped, as BIND does.
        (A6, "0 2001:db8::1", "0 2001:db8::1"),
        (
            A6,
            "64 2001:db8::1 Prefix.Example.",
            "64 ::1 prefix.example.",
        ),
        (A6, "1 ::1 a.", "1 ::1 a."),
        (A6, "128 prefix.example.", "128 prefix.example."),
        (EID, "12 34 ab cd", "1234ABCD"),
        (NIMLOC, "1234abcd", "1234ABCD"),
        (
            ATMA,
            "39.246f.00.e7b0000000000000000000.e1e3e300",
            "39246f00e7b0000000000000000000e1e3e300",
        ),
        (ATMA, "+358400123456", "+358400123456"),
        (SINK, "1 0 0 AAEC", "1 0 0 AAEC"),
        (SINK, "1 0 0", "1 0 0"),
        // RFC 8005 §6 (the example's key shortened).
        (
            HIP,
            "2 200100107b1a74df365639cc39f1d578 AwEAAQ== Rvs1.Example. rvs2.example.",
            "2 200100107B1A74DF365639CC39F1D578 AwEAAQ== Rvs1.Example. rvs2.example.",
        ),
        (
            HIP,
            "2 200100107B1A74DF365639CC39F1D578 AwEAAQ==",
            "2 200100107B1A74DF365639CC39F1D578 AwEAAQ==",
        ),
        (NINFO, "\"a\" b", "\"a\" \"b\""),
        (RKEY, "0 3 RSASHA256 AQID", "0 3 8 AQID"),
        (TALINK, "Prev.example. next", "Prev.example. next.Example."),
        (
            DOA,
            "0 1 2 \"\" aHR0cHM6Ly93d3cuaXNjLm9yZy8=",
            "0 1 2 \"\" aHR0cHM6Ly93d3cuaXNjLm9yZy8=",
        ),
        (
            DOA,
            "1234567890 1234567890 1 \"image/gif\" -",
            "1234567890 1234567890 1 \"image/gif\" -",
        ),
        // RFC 8777 §4.3 examples.
        (AMTRELAY, "10 0 0 .", "10 0 0 ."),
        (AMTRELAY, "10 0 1 203.0.113.15", "10 0 1 203.0.113.15"),
        (AMTRELAY, "128 1 2 2600:db8::15", "128 1 2 2600:db8::15"),
        (
            AMTRELAY,
            "10 1 3 AMTrelays.example.com.",
            "10 1 3 AMTrelays.example.com.",
        ),
        (
            AVC,
            "\"app-name:WOLFGANG|app-class:OAM|business=yes\"",
            "\"app-name:WOLFGANG|app-class:OAM|business=yes\"",
        ),
        // RFC 9606 §5.2 example.
        (
            RESINFO,
            "qnamemin exterr=15,16,17 infourl=https://resolver.example.com/guide",
            "\"qnamemin\" \"exterr=15,16,17\" \"infourl=https://resolver.example.com/guide\"",
        ),
        (WALLET, "BTC 1abc", "\"BTC\" \"1abc\""),
        (
            TA,
            "12345 8 2 0123456789abcdef",
            "12345 8 2 0123456789ABCDEF",
        ),
    ];
    for &(rt, text, want) in cases {
        let name = type_name(rt);
        let wire = parse(rt, text).unwrap_or_else(|e| panic!("{name} {text}: {e}"));
        let shown = typed(rt, &wire);
        assert_eq!(shown, want, "{name} {text}");
        let back = parse(rt, &shown).unwrap_or_else(|e| panic!("{name} {shown}: {e}"));
        assert_eq!(back, wire, "{name} {text} -> {shown}");
        // What the output writes: `TYPEnnn` and RFC 3597 RDATA, read back alike.
        let out = fmt(rt, &wire);
        assert!(out.starts_with("\\# "), "{name}: {out}");
        assert_eq!(parse(rt, &out).unwrap(), wire, "{name} {out}");
        let mut t = String::new();
        push_type_name(rt, &mut t);
        assert_eq!(t, format!("TYPE{rt}"));
        assert_eq!(type_code(name.as_bytes()), Some(rt));
    }
    // The mnemonics of these types are read in NSEC bitmaps, and written TYPEnnn.
    let nsec = parse(NSEC, "a.example. WKS A6 TA").unwrap();
    assert_eq!(fmt(NSEC, &nsec), "a.example. TYPE11 TYPE38 TYPE32768");
}

/// Issue 21: wire details of the remaining types (RFC 1035 §3.4.2, RFC 2535 §5.2,
/// RFC 2874 §3.1.1, RFC 8005 §5, RFC 8777 §4.2) and the lowercasing of the names RFC
/// 4034 §6.2 lists (SIG, NXT, A6), from text and from RFC 3597 form alike.
#[test]
fn remaining_types_wire_form() {
    use rtype::*;
    assert_eq!(
        parse(WKS, "192.0.2.1 tcp 0 25").unwrap(),
        [192, 0, 2, 1, 6, 0x80, 0, 0, 0x40]
    );
    assert_eq!(parse(NXT, "a. A MX").unwrap(), [1, b'a', 0, 0x40, 0x01]);
    assert_eq!(
        parse(A6, "64 ::1:2:3:4 P.").unwrap(),
        [64, 0, 1, 0, 2, 0, 3, 0, 4, 1, b'p', 0]
    );
    // Prefix length 1: 16 suffix octets, the top bit cleared.
    let a6 = parse(A6, "1 ffff:: a.").unwrap();
    assert_eq!(&a6[..3], [1, 0x7f, 0xff]);
    assert_eq!(
        parse(A6, "\\# 12 40 0001000200030004 015000").unwrap(),
        parse(A6, "64 ::1:2:3:4 p.").unwrap()
    );
    assert!(
        parse(A6, "\\# 12 40 0001000200030004 017000")
            .unwrap()
            .ends_with(b"\x01p\x00")
    );
    assert_eq!(
        parse(
            SIG,
            "\\# 22 0001 05 02 00000E10 00000002 00000001 04D2 0145 00 AA"
        )
        .unwrap(),
        parse(SIG, "A 5 2 3600 2 1 1234 e. qg==").unwrap()
    );
    assert!(
        parse(NXT, "\\# 4 0141 00 40")
            .unwrap()
            .starts_with(b"\x01a\x00")
    );
    assert_eq!(
        parse(HIP, "2 0102 AAAA a.").unwrap(),
        [2, 2, 0, 3, 1, 2, 0, 0, 0, 1, b'a', 0]
    );
    assert_eq!(
        parse(AMTRELAY, "10 1 1 192.0.2.1").unwrap(),
        [10, 0x81, 192, 0, 2, 1]
    );
    assert_eq!(parse(ATMA, "+12").unwrap(), [1, b'1', b'2']);
    assert_eq!(parse(ATMA, "ab").unwrap(), [0, 0xab]);
    assert_eq!(parse(ISDN, "1").unwrap(), [1, b'1']);
    assert_eq!(
        parse(DOA, "1 2 3 \"\" -").unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 2, 3, 0]
    );
    // HIP rendezvous servers, TALINK and AMTRELAY names keep their case (not on RFC
    // 4034 §6.2's list; checked: a zone with them in mixed case signed by
    // dnssec-signzone passes ldns-verify-zone and kzonecheck in RFC 3597 form).
    for rt in [HIP, TALINK, AMTRELAY, EID, WKS, DOA, TA, RKEY] {
        assert!(!rtype::props(rt).lowercase_names, "{}", type_name(rt));
    }
    for rt in [SIG, NXT, A6] {
        assert!(rtype::props(rt).lowercase_names, "{}", type_name(rt));
    }
    // Wire whose text would read back differently is written generically even in
    // the presentation form: a WKS bitmap with a trailing zero octet.
    assert_eq!(
        typed(WKS, &[192, 0, 2, 1, 6, 0x40, 0]),
        "\\# 7 C0000201064000"
    );
}

/// Issue 21: what named-checkzone refuses in the remaining types (its message in the
/// comment) is refused, with the field named.
#[test]
fn remaining_types_refuse_malformed_text() {
    use rtype::*;
    let msg = |rt: u16, s: &str| match parse(rt, s) {
        Ok(w) => panic!("{} {s} accepted: {w:?}", type_name(rt)),
        Err(e) => e.message,
    };
    // "out of range", "unknown service", "unexpected end of input".
    assert!(msg(WKS, "192.0.2.1 6 65536").contains("service"));
    assert!(msg(WKS, "192.0.2.1 256 1").contains("protocol"));
    assert!(msg(WKS, "192.0.2.1 tcp nosuchsvc").contains("nosuchsvc"));
    assert!(msg(WKS, "192.0.2.1").contains("missing protocol"));
    assert!(msg(WKS, "192.0.2 6").contains("IPv4"));
    // "extra input text".
    assert!(msg(ISDN, "a b c").contains("trailing"));
    assert!(msg(ISDN, "").contains("missing"));
    // "unexpected end of input", "syntax error".
    assert!(msg(NSAP, "0x470").contains("NSAP"));
    assert!(msg(NSAP, "4700").contains("NSAP"));
    assert!(msg(NSAP, "0x").contains("NSAP"));
    assert!(msg(GPOS, "1 2").contains("missing altitude"));
    assert!(msg(GPOS, "abc 1 2").contains("real number"));
    assert!(msg(GPOS, "1 2 1.2.3").contains("altitude"));
    assert!(
        msg(
            SIG,
            "A 5 2 3600 20300101000000 20200101000000 1234 example."
        )
        .contains("signature")
    );
    // "out of range" for types above 127.
    assert!(msg(NXT, "a. TYPE200").contains("1..=127"));
    assert!(msg(NXT, "a. BOGUS").contains("BOGUS"));
    // "extra input text", "unexpected end of input", "out of range".
    assert!(msg(A6, "0 2001:db8::1 foo.").contains("trailing"));
    assert!(msg(A6, "128").contains("missing prefix name"));
    assert!(msg(A6, "129 a.").contains("prefix length"));
    assert!(msg(A6, "64 a.").contains("IPv6"));
    assert!(msg(A6, "").contains("missing prefix length"));
    // "bad hex encoding", "unexpected end of input".
    assert!(msg(EID, "123").contains("hex"));
    assert!(msg(NIMLOC, "").contains("missing"));
    assert!(msg(ATMA, "+12a").contains("ATM"));
    assert!(msg(ATMA, "+").contains("ATM"));
    assert!(msg(ATMA, "39246").contains("ATM"));
    assert!(msg(ATMA, "39 24").contains("trailing"));
    assert!(msg(SINK, "1 0").contains("missing subcoding"));
    assert!(msg(SINK, "256 0 0").contains("meaning"));
    assert!(msg(HIP, "2 200100107B1A74DF365639CC39F1D578").contains("public key"));
    assert!(msg(HIP, "2 XYZ AwEAAQ==").contains("HIT"));
    assert!(msg(HIP, "2 00 !!").contains("base64"));
    assert!(msg(HIP, "256 00 AwEAAQ==").contains("algorithm"));
    assert!(msg(NINFO, "").contains("missing"));
    assert!(msg(RKEY, "0 3 5").contains("missing public key"));
    assert!(msg(TALINK, "a.").contains("missing next"));
    assert!(msg(DOA, "0 1 2 \"\"").contains("missing data"));
    assert!(msg(DOA, "0 1 2 \"\" A").contains("base64"));
    assert!(msg(DOA, "0 1 256 x -").contains("location"));
    // "syntax error", "out of range", "not implemented", "unexpected end of input".
    assert!(msg(AMTRELAY, "10 0 0 foo.").contains("'.'"));
    assert!(msg(AMTRELAY, "10 2 1 1.2.3.4").contains("discovery-optional"));
    assert!(msg(AMTRELAY, "10 0 4 x").contains("relay type"));
    assert!(msg(AMTRELAY, "10 0 0").contains("relay"));
    assert!(msg(AMTRELAY, "10 0 1 2001:db8::1").contains("IPv4"));
    assert!(msg(AMTRELAY, "10 0 0 . x").contains("trailing"));
    assert!(msg(TA, "1 8 2").contains("missing digest"));
    // No presentation format at all (named-checkzone: "unknown class/type").
    for rt in [UINFO, UID, GID, UNSPEC] {
        assert!(msg(rt, "1").contains("RFC 3597"), "{}", type_name(rt));
        assert_eq!(parse(rt, "\\# 1 01").unwrap(), [1]);
    }
    // RFC 3597 RDATA of the wrong form is refused too.
    for (rt, text) in [
        (WKS, "\\# 4 C0000201"),
        (NXT, "\\# 5 0161004000"),
        (NXT, "\\# 4 01610080"),
        (A6, "\\# 1 81"),
        (A6, "\\# 9 40 0001000200030004"),
        (A6, "\\# 12 41 8001000200030004 016100"),
        (HIP, "\\# 6 00020001 AA BB"),
        (HIP, "\\# 5 01020000 AA"),
        (AMTRELAY, "\\# 3 0A0400"),
        (AMTRELAY, "\\# 3 0A0101"),
        (ATMA, "\\# 2 0241"),
        (ATMA, "\\# 2 0141"),
        (ATMA, "\\# 1 00"),
        (NSAP, "\\# 0"),
        (GPOS, "\\# 6 0161 0131 0131"),
        (ISDN, "\\# 4 0131 0232"),
        (SINK, "\\# 2 0100"),
    ] {
        assert!(
            parse(rt, text).is_err(),
            "{} {text} accepted",
            type_name(rt)
        );
    }
}

/// A `"` inside an unquoted character-string word is refused (issue 21: BIND splits
/// there, Knot refuses); an escaped one and a quoted string are fine.
#[test]
fn quote_inside_unquoted_word_refused() {
    let tok = |text: &'static str, quoted: bool| Token {
        text: text.as_bytes(),
        quoted,
    };
    let e = parse_rdata(rtype::TXT, &[tok("a\"b\"", false)], &Name::root()).unwrap_err();
    assert!(
        e.message.contains("a quote inside an unquoted word"),
        "{}",
        e.message
    );
    let naptr = [
        tok("100", false),
        tok("10", false),
        tok("x\"U\"", false),
        tok("E2U+sip", true),
        tok("", true),
        tok(".", false),
    ];
    assert!(parse_rdata(rtype::NAPTR, &naptr, &Name::root()).is_err());
    assert!(parse_rdata(rtype::TXT, &[tok("a\\\"b", false)], &Name::root()).is_ok());
    assert!(parse_rdata(rtype::TXT, &[tok("a\"b", true)], &Name::root()).is_ok());
}
