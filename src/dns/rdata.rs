//! RDATA presentation form <-> canonical wire form.
//!
//! Each supported type is described by one table of field kinds (in the spirit of
//! ldns's rdf descriptors). The same table drives three things, so they can never
//! disagree: parsing presentation tokens, validating/canonicalizing RFC 3597 generic
//! (`\# len hex`) RDATA, and printing. Names inside RDATA of the types listed in
//! RFC 4034 §6.2 are stored lowercased, because the stored bytes are what we sign.
//!
//! Why our own instead of hickory-proto's: hickory's text parser rejects signed zones,
//! DNAME, RFC 3597 generic RDATA and `\DDD` escapes, reports no line numbers, and its
//! record representation is about 7x slower and 5x bigger than the compact wire bytes
//! kept here.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER, HEXUPPER_PERMISSIVE};

use crate::dns::name::{Name, decode_escape, read_wire_name};
use crate::dns::record::rtype;

/// What is wrong with some RDATA, as a message naming the field and the defect; the
/// zone file reader adds the file, line and type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RdataError {
    /// Human-readable description, e.g. "bad IPv4 address '1.2.3'".
    pub message: String,
}

impl RdataError {
    /// Builds an error from any message.
    fn new(message: impl Into<String>) -> RdataError {
        RdataError {
            message: message.into(),
        }
    }
}

/// Shorthand for an `Err` with a message.
fn fail<T>(message: impl Into<String>) -> Result<T, RdataError> {
    Err(RdataError::new(message))
}

/// Shows token bytes in an error message (lossy; only runs on the error path).
fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

/// One token of an RR's RDATA as the tokenizer saw it: raw bytes (escapes NOT yet
/// processed) and whether it was in double quotes. Borrowing the input buffer keeps
/// tokenizing allocation-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token's bytes, without surrounding quotes, escapes untouched.
    pub text: &'a [u8],
    /// True if the token was written in double quotes.
    pub quoted: bool,
}

/// Type mnemonics we know, so type fields and bitmaps read and print by name.
const TYPE_NAMES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (33, "SRV"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (256, "URI"),
    (257, "CAA"),
    (32769, "DLV"),
];

/// DNSSEC algorithm mnemonics (IANA registry) accepted in Algorithm fields.
const ALGORITHM_NAMES: &[(u8, &str)] = &[
    (1, "RSAMD5"),
    (2, "DH"),
    (3, "DSA"),
    (5, "RSASHA1"),
    (6, "DSA-NSEC3-SHA1"),
    (7, "RSASHA1-NSEC3-SHA1"),
    (8, "RSASHA256"),
    (10, "RSASHA512"),
    (12, "ECC-GOST"),
    (13, "ECDSAP256SHA256"),
    (14, "ECDSAP384SHA384"),
    (15, "ED25519"),
    (16, "ED448"),
    (252, "INDIRECT"),
    (253, "PRIVATEDNS"),
    (254, "PRIVATEOID"),
];

/// Looks up a type mnemonic (case-insensitive) or the RFC 3597 `TYPEnnn` form.
pub fn type_code(mnemonic: &[u8]) -> Option<u16> {
    // The types that make up nearly all of a TLD zone, as written by zone tools
    // (upper case), before the case-insensitive scan of the whole table.
    let common = match mnemonic {
        b"NS" => Some(2),
        b"DS" => Some(43),
        b"A" => Some(1),
        b"AAAA" => Some(28),
        b"RRSIG" => Some(46),
        b"NSEC" => Some(47),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    if let Some(&(code, _)) = TYPE_NAMES
        .iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(mnemonic))
    {
        return Some(code);
    }
    let digits = strip_prefix_ci(mnemonic, b"TYPE")?;
    parse_num(digits, u64::from(u16::MAX)).and_then(|v| u16::try_from(v).ok())
}

/// The mnemonic for a type, or `TYPEnnn` (RFC 3597) when we have no name for it.
pub fn type_name(code: u16) -> String {
    let mut s = String::new();
    push_type_name(code, &mut s);
    s
}

/// Appends the mnemonic of `code` (or `TYPEnnn`) without allocating: the output stage
/// writes one per record.
pub fn push_type_name(code: u16, out: &mut String) {
    // The types of a TLD zone first, without a search of the table.
    let common = match code {
        rtype::NS => Some("NS"),
        rtype::DS => Some("DS"),
        rtype::RRSIG => Some("RRSIG"),
        rtype::NSEC => Some("NSEC"),
        rtype::A => Some("A"),
        rtype::AAAA => Some("AAAA"),
        _ => None,
    };
    if let Some(name) = common {
        out.push_str(name);
        return;
    }
    match TYPE_NAMES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => out.push_str(name),
        None => {
            let _ = write!(out, "TYPE{code}");
        }
    }
}

/// Strips an ASCII prefix ignoring case.
fn strip_prefix_ci<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// Parses an unsigned decimal number no larger than `max`; no sign, no spaces.
pub(crate) fn parse_num(text: &[u8], max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    (v <= max).then_some(v)
}

/// Parses a TTL-like period: a plain number of seconds, or BIND units such as `1h2m`,
/// `1D`, `1W` (s, m, h, d, w; any case). Shared with the zone file reader's TTLs.
pub fn parse_period(text: &[u8]) -> Option<u32> {
    if let Some(v) = parse_num(text, u64::from(u32::MAX)) {
        return u32::try_from(v).ok();
    }
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            let n = num
                .unwrap_or(0)
                .checked_mul(10)?
                .checked_add(u64::from(c - b'0'))?;
            num = Some(n);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            b'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    total = total.checked_add(num.unwrap_or(0))?;
    u32::try_from(total).ok()
}

/// The kind of one RDATA field; decides how it is read, checked and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Uncompressed domain name.
    Name,
    /// 8-bit unsigned integer.
    U8,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 32-bit period that also accepts TTL units.
    Period,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// One length-prefixed character string.
    CharString,
    /// One or more character strings filling the rest.
    CharStrings,
    /// Base64 filling the rest (non-empty).
    Base64,
    /// Hex filling the rest (non-empty).
    Hex,
    /// A type mnemonic stored as u16.
    Type,
    /// A DNSSEC algorithm number or mnemonic stored as u8.
    Algorithm,
    /// An RRSIG timestamp.
    Time,
    /// An NSEC-style type bitmap filling the rest.
    TypeBitmap,
    /// Length-prefixed salt written as hex or "-".
    SaltHex,
    /// Length-prefixed base32hex hash.
    Base32Hash,
    /// CAA tag: length-prefixed alphanumerics.
    CaaTag,
    /// A string filling the rest, without length prefix (CAA value, URI target).
    RawString,
    /// RFC 9460 service parameters filling the rest.
    SvcParams,
}

/// One field of a type's RDATA: its kind and the name used in error messages.
#[derive(Clone, Copy, Debug)]
struct Field {
    kind: Kind,
    label: &'static str,
}

/// Shorthand constructor so the tables below stay readable.
const fn f(kind: Kind, label: &'static str) -> Field {
    Field { kind, label }
}

use Kind as K;

const F_A: &[Field] = &[f(K::Ipv4, "IPv4 address")];
const F_AAAA: &[Field] = &[f(K::Ipv6, "IPv6 address")];
const F_NAME: &[Field] = &[f(K::Name, "target")];
const F_SOA: &[Field] = &[
    f(K::Name, "primary server"),
    f(K::Name, "mailbox"),
    f(K::U32, "serial"),
    f(K::Period, "refresh"),
    f(K::Period, "retry"),
    f(K::Period, "expire"),
    f(K::Period, "minimum"),
];
const F_HINFO: &[Field] = &[f(K::CharString, "CPU"), f(K::CharString, "OS")];
const F_MINFO: &[Field] = &[f(K::Name, "rmailbx"), f(K::Name, "emailbx")];
const F_PREF_NAME: &[Field] = &[f(K::U16, "preference"), f(K::Name, "exchange")];
const F_TXT: &[Field] = &[f(K::CharStrings, "text")];
const F_RP: &[Field] = &[f(K::Name, "mailbox"), f(K::Name, "TXT domain")];
const F_PX: &[Field] = &[
    f(K::U16, "preference"),
    f(K::Name, "MAP822"),
    f(K::Name, "MAPX400"),
];
const F_SRV: &[Field] = &[
    f(K::U16, "priority"),
    f(K::U16, "weight"),
    f(K::U16, "port"),
    f(K::Name, "target"),
];
const F_NAPTR: &[Field] = &[
    f(K::U16, "order"),
    f(K::U16, "preference"),
    f(K::CharString, "flags"),
    f(K::CharString, "services"),
    f(K::CharString, "regexp"),
    f(K::Name, "replacement"),
];
const F_DS: &[Field] = &[
    f(K::U16, "key tag"),
    f(K::Algorithm, "algorithm"),
    f(K::U8, "digest type"),
    f(K::Hex, "digest"),
];
const F_SSHFP: &[Field] = &[
    f(K::U8, "algorithm"),
    f(K::U8, "fingerprint type"),
    f(K::Hex, "fingerprint"),
];
const F_RRSIG: &[Field] = &[
    f(K::Type, "type covered"),
    f(K::Algorithm, "algorithm"),
    f(K::U8, "labels"),
    f(K::U32, "original TTL"),
    f(K::Time, "expiration"),
    f(K::Time, "inception"),
    f(K::U16, "key tag"),
    f(K::Name, "signer name"),
    f(K::Base64, "signature"),
];
const F_NSEC: &[Field] = &[f(K::Name, "next name"), f(K::TypeBitmap, "type bitmap")];
const F_DNSKEY: &[Field] = &[
    f(K::U16, "flags"),
    f(K::U8, "protocol"),
    f(K::Algorithm, "algorithm"),
    f(K::Base64, "public key"),
];
const F_NSEC3: &[Field] = &[
    f(K::U8, "hash algorithm"),
    f(K::U8, "flags"),
    f(K::U16, "iterations"),
    f(K::SaltHex, "salt"),
    f(K::Base32Hash, "next hashed owner"),
    f(K::TypeBitmap, "type bitmap"),
];
const F_NSEC3PARAM: &[Field] = &[
    f(K::U8, "hash algorithm"),
    f(K::U8, "flags"),
    f(K::U16, "iterations"),
    f(K::SaltHex, "salt"),
];
const F_TLSA: &[Field] = &[
    f(K::U8, "usage"),
    f(K::U8, "selector"),
    f(K::U8, "matching type"),
    f(K::Hex, "certificate data"),
];
const F_OPENPGPKEY: &[Field] = &[f(K::Base64, "public key")];
const F_CSYNC: &[Field] = &[
    f(K::U32, "SOA serial"),
    f(K::U16, "flags"),
    f(K::TypeBitmap, "type bitmap"),
];
const F_ZONEMD: &[Field] = &[
    f(K::U32, "serial"),
    f(K::U8, "scheme"),
    f(K::U8, "hash algorithm"),
    f(K::Hex, "digest"),
];
const F_URI: &[Field] = &[
    f(K::U16, "priority"),
    f(K::U16, "weight"),
    f(K::RawString, "target"),
];
const F_CAA: &[Field] = &[
    f(K::U8, "flags"),
    f(K::CaaTag, "tag"),
    f(K::RawString, "value"),
];
const F_SVCB: &[Field] = &[
    f(K::U16, "priority"),
    f(K::Name, "target"),
    f(K::SvcParams, "parameters"),
];

/// The field table for a type, or `None` if only RFC 3597 generic form is supported.
fn descriptor(rt: u16) -> Option<&'static [Field]> {
    use rtype::*;
    Some(match rt {
        A => F_A,
        AAAA => F_AAAA,
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => F_NAME,
        SOA => F_SOA,
        HINFO => F_HINFO,
        MINFO => F_MINFO,
        MX | AFSDB | RT | KX => F_PREF_NAME,
        TXT | SPF => F_TXT,
        RP => F_RP,
        PX => F_PX,
        SRV => F_SRV,
        NAPTR => F_NAPTR,
        DS | CDS => F_DS,
        SSHFP => F_SSHFP,
        RRSIG => F_RRSIG,
        NSEC => F_NSEC,
        DNSKEY | CDNSKEY => F_DNSKEY,
        NSEC3 => F_NSEC3,
        NSEC3PARAM => F_NSEC3PARAM,
        TLSA | SMIMEA => F_TLSA,
        OPENPGPKEY => F_OPENPGPKEY,
        CSYNC => F_CSYNC,
        ZONEMD => F_ZONEMD,
        URI => F_URI,
        CAA => F_CAA,
        SVCB | HTTPS => F_SVCB,
        _ => return None,
    })
}

/// True for the types whose RDATA names are lowercased in canonical form
/// (RFC 4034 §6.2 as amended by RFC 6840 §5.1, which removed NSEC).
fn lowercases_names(rt: u16) -> bool {
    use rtype::*;
    matches!(
        rt,
        NS | MD
            | MF
            | CNAME
            | SOA
            | MB
            | MG
            | MR
            | PTR
            | MINFO
            | MX
            | RP
            | AFSDB
            | RT
            | PX
            | NAPTR
            | KX
            | SRV
            | DNAME
            | A6
            | RRSIG
    )
}

/// Parses the RDATA tokens of one record into canonical wire form.
///
/// Accepts the type's presentation form or, for any type, RFC 3597 `\# len hex`.
/// Both give identical bytes for known types. `origin` completes relative names.
pub fn parse_rdata(rtype: u16, tokens: &[Token], origin: &Name) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::with_capacity(64);
    parse_rdata_into(rtype, tokens, origin, &mut out)?;
    Ok(out)
}

/// Like [`parse_rdata`] but appends to `out`, so the zone reader can reuse one
/// scratch buffer and allocate each record's RDATA exactly once.
pub fn parse_rdata_into(
    rtype: u16,
    tokens: &[Token],
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    if let Some(first) = tokens.first()
        && !first.quoted
        && first.text == b"\\#"
    {
        let bytes = parse_generic(rtype, tokens.get(1..).unwrap_or(&[]))?;
        out.extend_from_slice(&bytes);
        return Ok(());
    }
    let Some(fields) = descriptor(rtype) else {
        return fail(format!(
            "no presentation format support for {}; use RFC 3597 '\\# length hex'",
            type_name(rtype)
        ));
    };
    let mut stream = Tokens {
        toks: tokens,
        pos: 0,
    };
    let lower = lowercases_names(rtype);
    for field in fields {
        parse_field(*field, &mut stream, origin, lower, out)?;
    }
    if let Some(extra) = stream.toks.get(stream.pos) {
        return fail(format!("unexpected trailing data '{}'", show(extra.text)));
    }
    Ok(())
}

/// A cursor over the RDATA tokens.
struct Tokens<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Tokens<'t, 'a> {
    /// The next token, or an error naming the missing field.
    fn next(&mut self, label: &str) -> Result<Token<'a>, RdataError> {
        let tok = self.toks.get(self.pos).copied();
        self.pos += 1;
        tok.ok_or_else(|| RdataError::new(format!("missing {label}")))
    }

    /// All remaining tokens (consumed).
    fn rest(&mut self) -> &'t [Token<'a>] {
        let rest = self.toks.get(self.pos..).unwrap_or(&[]);
        self.pos = self.toks.len();
        rest
    }
}

/// Parses RFC 3597 generic RDATA; for known types validates and canonicalizes it.
fn parse_generic(rt: u16, tokens: &[Token]) -> Result<Vec<u8>, RdataError> {
    let len_tok = tokens
        .first()
        .ok_or_else(|| RdataError::new("\\#: missing length"))?;
    let len = parse_num(len_tok.text, 65535)
        .ok_or_else(|| RdataError::new(format!("\\#: bad length '{}'", show(len_tok.text))))?;
    let hex = concat(tokens.get(1..).unwrap_or(&[]));
    let bytes = HEXUPPER_PERMISSIVE
        .decode(&hex)
        .map_err(|_| RdataError::new("\\#: invalid hex"))?;
    if bytes.len() as u64 != len {
        return fail(format!(
            "\\#: length {len} does not match {} bytes of data",
            bytes.len()
        ));
    }
    match descriptor(rt) {
        Some(fields) => canonical_wire(fields, lowercases_names(rt), &bytes),
        None => Ok(bytes),
    }
}

/// Validates wire RDATA against a field table and returns it with names lowercased
/// when `lower` is set.
fn canonical_wire(fields: &[Field], lower: bool, wire: &[u8]) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::with_capacity(wire.len());
    walk_wire(fields, wire, |kind, bytes| {
        if lower && kind == Kind::Name {
            out.extend(bytes.iter().map(u8::to_ascii_lowercase));
        } else {
            out.extend_from_slice(bytes);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Concatenates token texts (for base64/hex that may be split by whitespace).
fn concat(tokens: &[Token]) -> Vec<u8> {
    let mut v = Vec::with_capacity(tokens.iter().map(|t| t.text.len()).sum());
    for t in tokens {
        v.extend_from_slice(t.text);
    }
    v
}

/// Parses one field from the tokens, appending its wire form to `out`.
fn parse_field(
    field: Field,
    ts: &mut Tokens,
    origin: &Name,
    lower: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let label = field.label;
    match field.kind {
        K::CharStrings => parse_char_strings(ts.rest(), label, out),
        K::Base64 => parse_base64(ts.rest(), label, out),
        K::Hex => parse_hex(ts.rest(), label, out),
        K::TypeBitmap => parse_bitmap(ts.rest(), out),
        K::SvcParams => parse_svc_params(ts.rest(), out),
        _ => {
            let tok = ts.next(label)?;
            parse_single(field, tok, origin, lower, out)
        }
    }
}

/// Parses a field that takes exactly one token.
fn parse_single(
    field: Field,
    tok: Token,
    origin: &Name,
    lower: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let (label, text) = (field.label, tok.text);
    match field.kind {
        K::Name => parse_name_field(text, label, origin, lower, out),
        K::U8 => push_num(text, label, 1, out),
        K::U16 => push_num(text, label, 2, out),
        K::U32 => push_num(text, label, 4, out),
        K::Period => {
            let v = parse_period(text)
                .ok_or_else(|| RdataError::new(format!("bad {label} '{}'", show(text))))?;
            out.extend_from_slice(&v.to_be_bytes());
            Ok(())
        }
        K::Ipv4 => {
            let ip: Ipv4Addr = parse_str(text)
                .ok_or_else(|| RdataError::new(format!("bad IPv4 address '{}'", show(text))))?;
            out.extend_from_slice(&ip.octets());
            Ok(())
        }
        K::Ipv6 => {
            let ip: Ipv6Addr = parse_str(text)
                .ok_or_else(|| RdataError::new(format!("bad IPv6 address '{}'", show(text))))?;
            out.extend_from_slice(&ip.octets());
            Ok(())
        }
        K::CharString => push_char_string(text, label, out),
        K::Type => {
            let t = type_code(text).ok_or_else(|| {
                RdataError::new(format!("{label}: unknown type '{}'", show(text)))
            })?;
            out.extend_from_slice(&t.to_be_bytes());
            Ok(())
        }
        K::Algorithm => {
            let a = algorithm_code(text).ok_or_else(|| {
                RdataError::new(format!("{label}: unknown algorithm '{}'", show(text)))
            })?;
            out.push(a);
            Ok(())
        }
        K::Time => {
            let t = parse_time(text).ok_or_else(|| {
                RdataError::new(format!(
                    "{label}: bad time '{}' (want YYYYMMDDHHmmSS or seconds since 1970)",
                    show(text)
                ))
            })?;
            out.extend_from_slice(&t.to_be_bytes());
            Ok(())
        }
        K::SaltHex => parse_salt(text, label, out),
        K::Base32Hash => parse_base32_hash(text, label, out),
        K::CaaTag => parse_caa_tag(text, label, out),
        K::RawString => unescape_into(text, label, out),
        K::CharStrings | K::Base64 | K::Hex | K::TypeBitmap | K::SvcParams => {
            fail(format!("internal: {label} is not a single-token field"))
        }
    }
}

/// Parses a UTF-8 token with `FromStr` (IP addresses).
fn parse_str<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Parses a name field, lowercasing it if the type requires (RFC 4034 §6.2).
fn parse_name_field(
    text: &[u8],
    label: &str,
    origin: &Name,
    lower: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let start = out.len();
    Name::parse_into(text, Some(origin), out)
        .map_err(|e| RdataError::new(format!("bad {label} name '{}': {e}", show(text))))?;
    if lower && let Some(name) = out.get_mut(start..) {
        name.make_ascii_lowercase();
    }
    Ok(())
}

/// Parses a decimal integer of `size` bytes and appends it big-endian.
fn push_num(text: &[u8], label: &str, size: usize, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let max = match size {
        1 => u64::from(u8::MAX),
        2 => u64::from(u16::MAX),
        _ => u64::from(u32::MAX),
    };
    let v = parse_num(text, max).ok_or_else(|| {
        RdataError::new(format!(
            "bad {label} '{}' (want an integer 0..={max})",
            show(text)
        ))
    })?;
    let bytes = v.to_be_bytes();
    out.extend_from_slice(bytes.get(8 - size..).unwrap_or(&[]));
    Ok(())
}

/// Maps an algorithm number or mnemonic to its number.
fn algorithm_code(text: &[u8]) -> Option<u8> {
    if let Some(v) = parse_num(text, 255) {
        return u8::try_from(v).ok();
    }
    ALGORITHM_NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(text))
        .map(|(c, _)| *c)
}

/// Parses an RRSIG time: 14-digit YYYYMMDDHHmmSS in UTC, or seconds since the epoch.
fn parse_time(text: &[u8]) -> Option<u32> {
    if text.len() != 14 {
        return parse_num(text, u64::from(u32::MAX)).and_then(|v| u32::try_from(v).ok());
    }
    let part =
        |a: usize, b: usize| parse_num(text.get(a..b)?, 9999).and_then(|v| u32::try_from(v).ok());
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(part(0, 4)?).ok()?,
        part(4, 6)?,
        part(6, 8)?,
    )?;
    let ts = date
        .and_hms_opt(part(8, 10)?, part(10, 12)?, part(12, 14)?)?
        .and_utc()
        .timestamp();
    u32::try_from(ts).ok()
}

/// Formats a u32 epoch time as YYYYMMDDHHmmSS (UTC).
///
/// By hand (H. Hinnant's civil-from-days) rather than chrono's `format`: every RRSIG
/// has two, and strftime parsing per call was a visible share of the output stage. A
/// unit test checks it against chrono over the whole u32 range.
fn format_time(t: u32, out: &mut String) {
    let days = i64::from(t / 86_400);
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Digit by digit: `write!` with padding was a visible share of the output stage,
    // which writes two of these per signature. A u32 time never passes year 2106.
    let year = year as u32;
    let mut digits = [0u8; 14];
    let fields = [
        (year, 4),
        (month as u32, 2),
        (day as u32, 2),
        (secs / 3600, 2),
        (secs / 60 % 60, 2),
        (secs % 60, 2),
    ];
    let mut at = 0;
    for (mut v, width) in fields {
        for i in (0..width).rev() {
            digits[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        at += width;
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
}

/// Appends `n` in decimal, without going through `fmt`.
pub fn push_u32(out: &mut String, n: u32) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Decodes `\X` and `\DDD` escapes of a character string and appends the bytes.
fn unescape_into(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        i += 1;
        if c == b'\\' {
            let (b, used) = decode_escape(text.get(i..).unwrap_or(&[]))
                .map_err(|_| RdataError::new(format!("{label}: bad escape in '{}'", show(text))))?;
            out.push(b);
            i += used;
        } else {
            out.push(c);
        }
    }
    Ok(())
}

/// Appends one length-prefixed character string (at most 255 bytes).
fn push_char_string(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let start = out.len();
    out.push(0);
    unescape_into(text, label, out)?;
    let len = out.len() - start - 1;
    let Ok(len8) = u8::try_from(len) else {
        return fail(format!("{label}: character string longer than 255 bytes"));
    };
    if let Some(slot) = out.get_mut(start) {
        *slot = len8;
    }
    Ok(())
}

/// Appends one or more character strings.
fn parse_char_strings(toks: &[Token], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if toks.is_empty() {
        return fail(format!("missing {label}"));
    }
    toks.iter()
        .try_for_each(|t| push_char_string(t.text, label, out))
}

/// Appends base64 data split over the remaining tokens (must not be empty).
fn parse_base64(toks: &[Token], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    decode_tokens(&BASE64, toks, out).map_err(|empty| {
        RdataError::new(if empty {
            format!("missing {label}")
        } else {
            format!("{label}: invalid base64")
        })
    })
}

/// Appends hex data split over the remaining tokens (must not be empty).
fn parse_hex(toks: &[Token], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    decode_tokens(&HEXUPPER_PERMISSIVE, toks, out).map_err(|empty| {
        RdataError::new(if empty {
            format!("missing {label}")
        } else {
            format!("{label}: invalid hex")
        })
    })
}

/// Decodes the concatenated tokens with `enc` straight into `out` (no copy for the
/// common single-token case). The error is `true` when there was no data at all.
fn decode_tokens(
    enc: &data_encoding::Encoding,
    toks: &[Token],
    out: &mut Vec<u8>,
) -> Result<(), bool> {
    let joined;
    let text = match toks {
        [] => return Err(true),
        [one] => one.text,
        _ => {
            joined = concat(toks);
            &joined
        }
    };
    if text.is_empty() {
        return Err(true);
    }
    let max = enc.decode_len(text.len()).map_err(|_| false)?;
    let start = out.len();
    out.resize(start + max, 0);
    let dst = out.get_mut(start..).ok_or(false)?;
    match enc.decode_mut(text, dst) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(_) => {
            out.truncate(start);
            Err(false)
        }
    }
}

/// Appends a type bitmap built from the remaining mnemonic tokens (may be empty).
fn parse_bitmap(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut types = Vec::with_capacity(toks.len());
    for t in toks {
        let code = type_code(t.text).ok_or_else(|| {
            RdataError::new(format!("type bitmap: unknown type '{}'", show(t.text)))
        })?;
        types.push(code);
    }
    out.extend_from_slice(&encode_type_bitmap(&types));
    Ok(())
}

/// Appends a length-prefixed NSEC3 salt; "-" means empty.
fn parse_salt(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if text == b"-" {
        out.push(0);
        return Ok(());
    }
    let bytes = HEXUPPER_PERMISSIVE
        .decode(text)
        .map_err(|_| RdataError::new(format!("{label}: invalid hex '{}'", show(text))))?;
    push_prefixed(&bytes, label, out)
}

/// Appends a length-prefixed base32hex hash (case-insensitive, non-empty).
fn parse_base32_hash(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let bytes = BASE32HEX_NOPAD
        .decode(&text.to_ascii_uppercase())
        .map_err(|_| RdataError::new(format!("{label}: invalid base32hex '{}'", show(text))))?;
    if bytes.is_empty() {
        return fail(format!("{label}: empty hash"));
    }
    push_prefixed(&bytes, label, out)
}

/// Appends bytes with a one-octet length prefix.
fn push_prefixed(bytes: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let len = u8::try_from(bytes.len())
        .map_err(|_| RdataError::new(format!("{label}: longer than 255 bytes")))?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends a CAA tag: 1..=255 ASCII letters and digits (RFC 8659 §4.1).
fn parse_caa_tag(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_alphanumeric) {
        return fail(format!(
            "{label}: '{}' must be letters and digits",
            show(text)
        ));
    }
    push_prefixed(text, label, out)
}

/// Encodes a set of types as an RFC 4034 §4.1.2 bitmap (windows of up to 32 octets).
/// The input may be unsorted and contain duplicates.
pub fn encode_type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut window: Option<(u8, [u8; 32], usize)> = None;
    for t in sorted {
        let [hi, lo] = t.to_be_bytes();
        if window.is_some_and(|(w, _, _)| w != hi) {
            flush_window(window.take(), &mut out);
        }
        let (_, bits, used) = window.get_or_insert((hi, [0u8; 32], 0));
        let idx = usize::from(lo / 8);
        if let Some(b) = bits.get_mut(idx) {
            *b |= 0x80 >> (lo % 8);
        }
        *used = (*used).max(idx + 1);
    }
    flush_window(window, &mut out);
    out
}

/// Appends one bitmap window (number, length, bits) if present.
fn flush_window(window: Option<(u8, [u8; 32], usize)>, out: &mut Vec<u8>) {
    if let Some((w, bits, used)) = window {
        out.push(w);
        out.push(used as u8);
        out.extend_from_slice(bits.get(..used).unwrap_or(&[]));
    }
}

/// Decodes an RFC 4034 §4.1.2 type bitmap into a sorted list of types, rejecting
/// out-of-order windows, bad window lengths and trailing zero octets (all MUST NOTs
/// of the RFC; rejecting them also keeps every accepted bitmap canonical).
pub fn decode_type_bitmap(bits: &[u8]) -> Result<Vec<u16>, RdataError> {
    let mut types = Vec::new();
    let mut rest = bits;
    let mut last_window: Option<u8> = None;
    while let [window, len, tail @ ..] = rest {
        let len = usize::from(*len);
        if len == 0 || len > 32 {
            return fail(format!("type bitmap: bad window length {len}"));
        }
        if last_window.is_some_and(|w| w >= *window) {
            return fail("type bitmap: windows out of order");
        }
        last_window = Some(*window);
        let block = tail
            .get(..len)
            .ok_or_else(|| RdataError::new("type bitmap: truncated window"))?;
        if block.last() == Some(&0) {
            return fail("type bitmap: trailing zero octets (RFC 4034 section 4.1.2)");
        }
        for (i, byte) in block.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(u16::from(*window) << 8 | (i as u16) << 3 | bit);
                }
            }
        }
        rest = tail.get(len..).unwrap_or(&[]);
    }
    if !rest.is_empty() {
        return fail("type bitmap: truncated window header");
    }
    Ok(types)
}

// ---------------------------------------------------------------------------
// SVCB / HTTPS service parameters (RFC 9460)
// ---------------------------------------------------------------------------

/// Service parameter key names of RFC 9460 §14.3.2.
const SVC_KEYS: &[(u16, &str)] = &[
    (0, "mandatory"),
    (1, "alpn"),
    (2, "no-default-alpn"),
    (3, "port"),
    (4, "ipv4hint"),
    (5, "ech"),
    (6, "ipv6hint"),
    (7, "dohpath"),
];

/// Maps a SvcParamKey name or `keyNNNNN` to its number (65535 is reserved).
fn svc_key_code(name: &[u8]) -> Option<u16> {
    if let Some(&(code, _)) = SVC_KEYS.iter().find(|(_, n)| n.as_bytes() == name) {
        return Some(code);
    }
    let digits = name.strip_prefix(b"key")?;
    parse_num(digits, 65534).and_then(|v| u16::try_from(v).ok())
}

/// Writes a SvcParamKey's presentation name.
fn write_svc_key(key: u16, out: &mut String) {
    match SVC_KEYS.iter().find(|(c, _)| *c == key) {
        Some((_, n)) => out.push_str(n),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}

/// Parses `key[=value]` tokens into sorted wire-format SvcParams.
fn parse_svc_params(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        i += 1;
        let (key_text, mut value) = split_param(tok.text);
        if value == Some(&b""[..])
            && let Some(next) = toks.get(i).filter(|t| t.quoted)
        {
            value = Some(next.text);
            i += 1;
        }
        let key = svc_key_code(key_text)
            .ok_or_else(|| RdataError::new(format!("unknown SvcParamKey '{}'", show(key_text))))?;
        let mut raw = Vec::new();
        if let Some(v) = value {
            unescape_into(strip_quotes(v), "SvcParamValue", &mut raw)?;
        }
        let encoded = encode_svc_value(key, value.is_some(), &raw)?;
        params.push((key, encoded));
    }
    params.sort_by_key(|(k, _)| *k);
    if let Some(w) = params
        .windows(2)
        .find(|w| w.first().map(|p| p.0) == w.get(1).map(|p| p.0))
    {
        let mut name = String::new();
        write_svc_key(w.first().map_or(0, |p| p.0), &mut name);
        return fail(format!("duplicate SvcParamKey '{name}'"));
    }
    for (key, value) in params {
        let len = u16::try_from(value.len())
            .map_err(|_| RdataError::new("SvcParamValue longer than 65535 bytes"))?;
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&value);
    }
    Ok(())
}

/// Splits `key=value` at the first '='; the value is `None` when there is no '='.
fn split_param(text: &[u8]) -> (&[u8], Option<&[u8]>) {
    match text.iter().position(|&c| c == b'=') {
        Some(p) => (
            text.get(..p).unwrap_or(&[]),
            Some(text.get(p + 1..).unwrap_or(&[])),
        ),
        None => (text, None),
    }
}

/// Removes one pair of surrounding double quotes, if present (`alpn="h2"` arrives
/// as a single unquoted token from the tokenizer).
fn strip_quotes(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// Encodes one SvcParamValue from its unescaped presentation bytes.
fn encode_svc_value(key: u16, has_value: bool, raw: &[u8]) -> Result<Vec<u8>, RdataError> {
    let needs_value = matches!(key, 0 | 1 | 3 | 4 | 5 | 6);
    if needs_value && raw.is_empty() {
        let mut name = String::new();
        write_svc_key(key, &mut name);
        return fail(format!("SvcParamKey '{name}' needs a value"));
    }
    match key {
        0 => encode_mandatory(raw),
        1 => encode_alpn(raw),
        2 if has_value => fail("no-default-alpn takes no value"),
        3 => {
            let port = parse_num(raw, 65535)
                .ok_or_else(|| RdataError::new(format!("bad port '{}'", show(raw))))?;
            Ok((port as u16).to_be_bytes().to_vec())
        }
        4 => encode_ip_list::<Ipv4Addr>(raw, "ipv4hint", |ip| ip.octets().to_vec()),
        6 => encode_ip_list::<Ipv6Addr>(raw, "ipv6hint", |ip| ip.octets().to_vec()),
        5 => BASE64
            .decode(raw)
            .map_err(|_| RdataError::new("ech: invalid base64")),
        _ => Ok(raw.to_vec()),
    }
}

/// Encodes the `mandatory` key list, sorted, without duplicates or key 0.
fn encode_mandatory(raw: &[u8]) -> Result<Vec<u8>, RdataError> {
    let mut keys = Vec::new();
    for part in raw.split(|&c| c == b',') {
        let k = svc_key_code(part)
            .ok_or_else(|| RdataError::new(format!("mandatory: unknown key '{}'", show(part))))?;
        keys.push(k);
    }
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    if keys.len() != n || keys.first() == Some(&0) {
        return fail("mandatory: duplicate keys or 'mandatory' listed");
    }
    Ok(keys.iter().flat_map(|k| k.to_be_bytes()).collect())
}

/// Encodes an alpn value list: comma-separated, `\,` and `\\` escape within an id.
fn encode_alpn(raw: &[u8]) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::new();
    let mut id = Vec::new();
    let mut iter = raw.iter();
    while let Some(&c) = iter.next() {
        match c {
            b'\\' => id.push(
                *iter
                    .next()
                    .ok_or_else(|| RdataError::new("alpn: dangling '\\'"))?,
            ),
            b',' => push_alpn_id(&mut id, &mut out)?,
            _ => id.push(c),
        }
    }
    push_alpn_id(&mut id, &mut out)?;
    Ok(out)
}

/// Appends one length-prefixed alpn-id and clears the buffer.
fn push_alpn_id(id: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if id.is_empty() {
        return fail("alpn: empty protocol id");
    }
    push_prefixed(id, "alpn", out)?;
    id.clear();
    Ok(())
}

/// Encodes a comma-separated list of IP addresses.
fn encode_ip_list<T: std::str::FromStr>(
    raw: &[u8],
    label: &str,
    octets: impl Fn(T) -> Vec<u8>,
) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::new();
    for part in raw.split(|&c| c == b',') {
        let ip: T = parse_str(part)
            .ok_or_else(|| RdataError::new(format!("{label}: bad address '{}'", show(part))))?;
        out.extend(octets(ip));
    }
    Ok(out)
}

/// Splits wire SvcParams into (key, value) pairs, validating structure and the
/// values of the keys we know.
fn split_svc_params(wire: &[u8]) -> Result<Vec<(u16, &[u8])>, RdataError> {
    let mut params = Vec::new();
    let mut rest = wire;
    let mut last: Option<u16> = None;
    while !rest.is_empty() {
        let [k0, k1, l0, l1, tail @ ..] = rest else {
            return fail("SvcParams: truncated");
        };
        let key = u16::from_be_bytes([*k0, *k1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if last.is_some_and(|l| l >= key) {
            return fail("SvcParams: keys not in strictly increasing order");
        }
        last = Some(key);
        let value = tail
            .get(..len)
            .ok_or_else(|| RdataError::new("SvcParams: truncated value"))?;
        check_svc_value(key, value)?;
        params.push((key, value));
        rest = tail.get(len..).unwrap_or(&[]);
    }
    Ok(params)
}

/// Checks the wire value of a known SvcParamKey.
fn check_svc_value(key: u16, v: &[u8]) -> Result<(), RdataError> {
    let ok = match key {
        0 => !v.is_empty() && v.len().is_multiple_of(2),
        1 => !v.is_empty() && alpn_ids(v).is_some(),
        2 => v.is_empty(),
        3 => v.len() == 2,
        4 => !v.is_empty() && v.len().is_multiple_of(4),
        5 => !v.is_empty(),
        6 => !v.is_empty() && v.len().is_multiple_of(16),
        65535 => false,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        fail(format!("SvcParams: malformed value for key {key}"))
    }
}

/// Splits wire alpn-ids; `None` if malformed.
fn alpn_ids(mut v: &[u8]) -> Option<Vec<&[u8]>> {
    let mut ids = Vec::new();
    while let [len, tail @ ..] = v {
        let len = usize::from(*len);
        if len == 0 {
            return None;
        }
        ids.push(tail.get(..len)?);
        v = tail.get(len..)?;
    }
    Some(ids)
}

/// Writes SvcParams in RFC 9460 presentation form.
fn format_svc_params(wire: &[u8], out: &mut String) -> Result<(), RdataError> {
    for (i, (key, value)) in split_svc_params(wire)?.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_svc_key(key, out);
        format_svc_value(key, value, out);
    }
    Ok(())
}

/// Writes `=value` for one SvcParam (nothing for valueless ones).
fn format_svc_value(key: u16, v: &[u8], out: &mut String) {
    match key {
        0 => {
            out.push('=');
            for (i, pair) in v.chunks_exact(2).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_svc_key(
                    u16::from_be_bytes([
                        pair.first().copied().unwrap_or(0),
                        pair.get(1).copied().unwrap_or(0),
                    ]),
                    out,
                );
            }
        }
        1 => {
            let mut list = Vec::new();
            for (i, id) in alpn_ids(v).unwrap_or_default().into_iter().enumerate() {
                if i > 0 {
                    list.push(b',');
                }
                for &b in id {
                    if b == b',' || b == b'\\' {
                        list.push(b'\\');
                    }
                    list.push(b);
                }
            }
            out.push('=');
            write_quoted(&list, out);
        }
        2 => {}
        3 => {
            let port = u16::from_be_bytes([
                v.first().copied().unwrap_or(0),
                v.get(1).copied().unwrap_or(0),
            ]);
            let _ = write!(out, "={port}");
        }
        4 => write_ip_list(
            v.chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(Ipv4Addr::from),
            out,
        ),
        6 => write_ip_list(
            v.chunks_exact(16)
                .filter_map(|c| <[u8; 16]>::try_from(c).ok())
                .map(Ipv6Addr::from),
            out,
        ),
        5 => {
            out.push('=');
            out.push_str(&BASE64.encode(v));
        }
        _ if v.is_empty() => {}
        _ => {
            out.push('=');
            write_quoted(v, out);
        }
    }
}

/// Writes `=a,b,c` for a list of addresses.
fn write_ip_list<T: std::fmt::Display>(ips: impl Iterator<Item = T>, out: &mut String) {
    out.push('=');
    for (i, ip) in ips.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{ip}");
    }
}

// ---------------------------------------------------------------------------
// Wire walking and formatting
// ---------------------------------------------------------------------------

/// Splits wire RDATA into per-field slices following a field table, validating
/// structure; calls `visit` for each field. Fails on truncation or trailing bytes.
fn walk_wire<'w>(
    fields: &[Field],
    wire: &'w [u8],
    mut visit: impl FnMut(Kind, &'w [u8]) -> Result<(), RdataError>,
) -> Result<(), RdataError> {
    let mut pos = 0usize;
    for field in fields {
        let rest = wire.get(pos..).unwrap_or(&[]);
        let len = field_len(field.kind, rest)
            .map_err(|e| RdataError::new(format!("{}: {}", field.label, e.message)))?;
        let slice = rest
            .get(..len)
            .ok_or_else(|| RdataError::new(format!("{}: truncated", field.label)))?;
        visit(field.kind, slice)?;
        pos += len;
    }
    if pos != wire.len() {
        return fail(format!(
            "{} bytes of trailing data",
            wire.len().saturating_sub(pos)
        ));
    }
    Ok(())
}

/// The wire length of a field at the start of `rest`, validating its content.
fn field_len(kind: Kind, rest: &[u8]) -> Result<usize, RdataError> {
    let fixed = |n: usize| {
        if rest.len() >= n {
            Ok(n)
        } else {
            fail("truncated")
        }
    };
    let prefixed = |min: usize| {
        let len = usize::from(*rest.first().ok_or_else(|| RdataError::new("truncated"))?);
        if len < min {
            return fail("empty value");
        }
        fixed(1 + len)
    };
    match kind {
        K::Name => read_wire_name(rest)
            .map(|(_, n)| n)
            .map_err(|e| RdataError::new(e.to_string())),
        K::U8 | K::Algorithm => fixed(1),
        K::U16 | K::Type => fixed(2),
        K::U32 | K::Period | K::Time | K::Ipv4 => fixed(4),
        K::Ipv6 => fixed(16),
        K::CharString | K::SaltHex => prefixed(0),
        K::Base32Hash => prefixed(1),
        K::CaaTag => {
            let n = prefixed(1)?;
            if rest
                .get(1..n)
                .is_some_and(|t| t.iter().all(u8::is_ascii_alphanumeric))
            {
                Ok(n)
            } else {
                fail("tag must be letters and digits")
            }
        }
        K::CharStrings => {
            let mut pos = 0;
            while pos < rest.len() {
                pos += 1 + usize::from(rest.get(pos).copied().unwrap_or(0));
            }
            if rest.is_empty() || pos != rest.len() {
                return fail("malformed character strings");
            }
            Ok(pos)
        }
        K::Base64 | K::Hex => {
            if rest.is_empty() {
                return fail("empty");
            }
            Ok(rest.len())
        }
        K::RawString => Ok(rest.len()),
        K::TypeBitmap => decode_type_bitmap(rest).map(|_| rest.len()),
        K::SvcParams => split_svc_params(rest).map(|_| rest.len()),
    }
}

/// Writes RDATA in presentation form. Unknown types, and wire data that does not
/// match the type's layout, are written in RFC 3597 `\# len hex` form, which every
/// DNS tool reads.
pub fn format_rdata(rtype: u16, rdata: &[u8], out: &mut String) {
    if let Some(fields) = descriptor(rtype) {
        // Fields go straight into `out` (no temporary per record); on malformed RDATA
        // the partial text is cut off again and the generic form written instead.
        let start = out.len();
        if walk_wire(fields, rdata, |kind, bytes| {
            format_field(kind, bytes, start, out)
        })
        .is_ok()
        {
            let end = out.trim_end().len().max(start);
            out.truncate(end);
            return;
        }
        out.truncate(start);
    }
    format_generic(rdata, out);
}

/// Writes RFC 3597 generic form.
fn format_generic(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        out.push_str(&HEXUPPER.encode(rdata));
    }
}

/// Writes one field, separated from the previous by a space.
fn format_field(kind: Kind, v: &[u8], start: usize, out: &mut String) -> Result<(), RdataError> {
    if out.len() > start && !out.ends_with(' ') {
        out.push(' ');
    }
    let be = |n: usize| {
        v.iter()
            .take(n)
            .fold(0u32, |acc, b| acc << 8 | u32::from(*b))
    };
    match kind {
        K::Name => {
            let name = Name::from_wire(v).map_err(|e| RdataError::new(e.to_string()))?;
            name.push_text(out);
        }
        K::U8 | K::Algorithm => push_u32(out, be(1)),
        K::U16 => push_u32(out, be(2)),
        K::U32 | K::Period => push_u32(out, be(4)),
        K::Type => push_type_name(be(2) as u16, out),
        K::Time => format_time(be(4), out),
        K::Ipv4 => {
            let ip = <[u8; 4]>::try_from(v).map_err(|_| RdataError::new("bad IPv4"))?;
            let _ = write!(out, "{}", Ipv4Addr::from(ip));
        }
        K::Ipv6 => {
            let ip = <[u8; 16]>::try_from(v).map_err(|_| RdataError::new("bad IPv6"))?;
            let _ = write!(out, "{}", Ipv6Addr::from(ip));
        }
        K::CharString => write_quoted(v.get(1..).unwrap_or(&[]), out),
        K::CharStrings => format_char_strings(v, out),
        K::Base64 => BASE64.encode_append(v, out),
        K::Hex => HEXUPPER.encode_append(v, out),
        K::TypeBitmap => format_bitmap(v, out)?,
        K::SaltHex => match v.get(1..) {
            Some(s) if !s.is_empty() => out.push_str(&HEXUPPER.encode(s)),
            _ => out.push('-'),
        },
        K::Base32Hash => {
            let s = BASE32HEX_NOPAD.encode(v.get(1..).unwrap_or(&[]));
            out.push_str(&s.to_ascii_lowercase());
        }
        K::CaaTag => out.push_str(&String::from_utf8_lossy(v.get(1..).unwrap_or(&[]))),
        K::RawString => write_quoted(v, out),
        K::SvcParams => format_svc_params(v, out)?,
    }
    Ok(())
}

/// Writes a sequence of length-prefixed character strings, space separated.
fn format_char_strings(mut v: &[u8], out: &mut String) {
    let mut first = true;
    while let [len, tail @ ..] = v {
        let len = usize::from(*len);
        let s = tail.get(..len).unwrap_or(tail);
        if !first {
            out.push(' ');
        }
        first = false;
        write_quoted(s, out);
        v = tail.get(len..).unwrap_or(&[]);
    }
}

/// Writes type mnemonics of a bitmap, space separated.
fn format_bitmap(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    for (i, t) in decode_type_bitmap(v)?.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_type_name(t, out);
    }
    Ok(())
}

/// Writes bytes as a double-quoted string, escaping `"` and `\` and writing
/// non-printable bytes as `\DDD`, so any byte string survives a round trip.
fn write_quoted(s: &[u8], out: &mut String) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
