//! RDATA presentation form → canonical wire form: the type's fields read one by one
//! along its table, or RFC 3597 generic `\# len hex` checked against the table, with
//! names lowercased for the types RFC 4034 §6.2 names.

use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER_PERMISSIVE};

use crate::dns::name::{Name, decode_escape};
use crate::dns::registry::{parse_decimal, rtype, secalg};
use crate::dns::time::parse_rrsig_time;

use super::bitmap::encode_type_bitmap;
use super::check::check_rdata;
use super::compound;
use super::fields::{Field, Kind, Kind as K, descriptor, walk_wire};
use super::svcb::parse_svc_params;
use super::{RdataError, Token, fail, show};

/// Parses a TTL-like period: a plain number of seconds, or BIND units such as `1h2m`,
/// `1D`, `1W` (s, m, h, d, w; any case). Shared with the zone file reader's TTLs.
pub fn parse_period(text: &[u8]) -> Option<u32> {
    if let Some(v) = parse_decimal(text, u64::from(u32::MAX)) {
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
            rtype::to_text(rtype)
        ));
    };
    let start = out.len();
    let mut stream = Tokens {
        toks: tokens,
        pos: 0,
    };
    let lower = rtype::props(rtype).lowercase_names;
    for field in fields {
        parse_field(*field, &mut stream, origin, lower, out)?;
    }
    if let Some(extra) = stream.toks.get(stream.pos) {
        return fail(format!("unexpected trailing data '{}'", show(extra.text)));
    }
    check_rdata(rtype, out.get(start..).unwrap_or(&[]))
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
    let len = parse_decimal(len_tok.text, 65535)
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
        Some(fields) => {
            let wire = canonical_wire(fields, rtype::props(rt).lowercase_names, &bytes)?;
            check_rdata(rt, &wire)?;
            Ok(wire)
        }
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
        } else if lower && kind == Kind::A6 {
            // The prefix name follows the prefix length and address suffix.
            let at = compound::a6_name_offset(bytes)?;
            out.extend_from_slice(bytes.get(..at).unwrap_or(&[]));
            out.extend(
                bytes
                    .get(at..)
                    .unwrap_or(&[])
                    .iter()
                    .map(u8::to_ascii_lowercase),
            );
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
        K::Loc => super::loc::parse_loc(ts.rest(), out),
        K::Apl => super::apl::parse_apl(ts.rest(), out),
        K::IpsecGateway => parse_ipsec_gateway(ts, origin, out),
        K::PortBitmap => compound::parse_port_bitmap(ts.rest(), out),
        K::NxtBitmap => compound::parse_nxt_bitmap(ts.rest(), out),
        K::A6 => compound::parse_a6(ts.rest(), origin, lower, out),
        K::Hip => compound::parse_hip(ts.rest(), origin, out),
        K::AmtRelay => compound::parse_amt_relay(ts.rest(), origin, out),
        K::OptCharString => match ts.rest() {
            [] => Ok(()),
            [one] => {
                refuse_inner_quote(one, label)?;
                push_char_string(one.text, label, out)
            }
            [_, extra, ..] => fail(format!("unexpected trailing data '{}'", show(extra.text))),
        },
        K::Base64Opt => match ts.rest() {
            [] => Ok(()),
            toks => parse_base64(toks, label, out),
        },
        K::Base64Dash => match ts.rest() {
            [dash] if dash.text == b"-" && !dash.quoted => Ok(()),
            toks => parse_base64(toks, label, out),
        },
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
        K::CharString => {
            refuse_inner_quote(&tok, label)?;
            let start = out.len();
            push_char_string(text, label, out)?;
            // X25's PSDN address is decimal digits (RFC 1183 §3.1); BIND refuses any
            // other character ("out of range"), Knot refuses the type (issue 21).
            if label == "PSDN address" && !out[start + 1..].iter().all(u8::is_ascii_digit) {
                return fail(format!(
                    "{label}: '{}' is not decimal digits (RFC 1183 §3.1)",
                    show(text)
                ));
            }
            Ok(())
        }
        K::Type => {
            let t = rtype::from_text(text).ok_or_else(|| {
                RdataError::new(format!("{label}: unknown type '{}'", show(text)))
            })?;
            out.extend_from_slice(&t.to_be_bytes());
            Ok(())
        }
        K::Algorithm => {
            let a = secalg::from_text(text).ok_or_else(|| {
                RdataError::new(format!("{label}: unknown algorithm '{}'", show(text)))
            })?;
            out.push(a);
            Ok(())
        }
        K::Time => {
            let t = parse_rrsig_time(text).ok_or_else(|| {
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
        // The URI target is a quoted string (RFC 7553 §4.5): BIND refuses it unquoted,
        // and both BIND and Knot refuse an unquoted one with a quote inside (issue 21).
        K::RawString if label == "target" && !tok.quoted => fail(format!(
            "URI {label} '{}' must be in double quotes (RFC 7553 §4.5)",
            show(text)
        )),
        K::RawString => unescape_into(text, label, out),
        K::CertType => {
            let v = cert_type(text)
                .ok_or_else(|| RdataError::new(format!("bad {label} '{}'", show(text))))?;
            out.extend_from_slice(&v.to_be_bytes());
            Ok(())
        }
        K::Eui48 => parse_hex_groups(text, label, 6, 1, b'-', out),
        K::Eui64 => parse_hex_groups(text, label, 8, 1, b'-', out),
        K::Ilnp64 => parse_hex_groups(text, label, 4, 2, b':', out),
        K::Protocol => compound::parse_protocol(text, out),
        K::Nsap => compound::parse_nsap(text, out),
        K::Atma => compound::parse_atma(text, out),
        K::GposNumber if compound::is_gpos_number(text) => push_char_string(text, label, out),
        K::GposNumber => fail(format!(
            "bad {label} '{}' (want a real number, RFC 1712 section 3)",
            show(text)
        )),
        K::CharStrings
        | K::Base64
        | K::Hex
        | K::TypeBitmap
        | K::SvcParams
        | K::Loc
        | K::Apl
        | K::IpsecGateway
        | K::PortBitmap
        | K::NxtBitmap
        | K::A6
        | K::Hip
        | K::AmtRelay
        | K::OptCharString
        | K::Base64Opt
        | K::Base64Dash => fail(format!("internal: {label} is not a single-token field")),
    }
}

/// Parses a UTF-8 token with `FromStr` (IP addresses).
pub(super) fn parse_str<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
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
    let v = parse_decimal(text, max).ok_or_else(|| {
        RdataError::new(format!(
            "bad {label} '{}' (want an integer 0..={max})",
            show(text)
        ))
    })?;
    let bytes = v.to_be_bytes();
    out.extend_from_slice(bytes.get(8 - size..).unwrap_or(&[]));
    Ok(())
}

/// Decodes `\X` and `\DDD` escapes of a character string and appends the bytes.
pub(super) fn unescape_into(text: &[u8], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
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

/// Refuses an unquoted character-string token with a `"` inside (`a"b"`): BIND splits
/// it at the quote, Knot refuses it, so no reading is safe (issue 21). SVCB `key="v"`
/// parameters do not come through here.
fn refuse_inner_quote(tok: &Token, label: &str) -> Result<(), RdataError> {
    if tok.quoted {
        return Ok(());
    }
    let mut it = tok.text.iter();
    while let Some(&c) = it.next() {
        match c {
            b'\\' => {
                it.next();
            }
            b'"' => {
                return fail(format!(
                    "{label}: a quote inside an unquoted word '{}' (quote the whole string)",
                    show(tok.text)
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Appends one or more character strings.
fn parse_char_strings(toks: &[Token], label: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if toks.is_empty() {
        return fail(format!("missing {label}"));
    }
    toks.iter().try_for_each(|t| {
        refuse_inner_quote(t, label)?;
        push_char_string(t.text, label, out)
    })
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
        let code = rtype::from_text(t.text).ok_or_else(|| {
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
pub(super) fn push_prefixed(
    bytes: &[u8],
    label: &str,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
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

/// The CERT certificate types of RFC 4398 §2.1 with a mnemonic (§2.2: a type is
/// written as its mnemonic or as a number).
pub(super) const CERT_TYPES: [(&str, u16); 10] = [
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// Reads a CERT certificate type: a mnemonic (any case) or a number 0..=65535.
fn cert_type(text: &[u8]) -> Option<u16> {
    CERT_TYPES
        .iter()
        .find(|(m, _)| m.as_bytes().eq_ignore_ascii_case(text))
        .map(|&(_, v)| v)
        .or_else(|| parse_decimal(text, 65535).and_then(|v| u16::try_from(v).ok()))
}

/// Reads `n` groups of `2 * bytes` hex digits joined by `sep` (EUI-48 and EUI-64
/// addresses, RFC 7043; ILNP NodeIDs and Locator64s, RFC 6742). Every group must have
/// all its digits: kzonecheck refuses `14:4fff:ff20:ee64` ("invalid hexadecimal
/// character") and `00:00:5e:00:53:2a` for an EUI48 ("missing dash character").
fn parse_hex_groups(
    text: &[u8],
    label: &str,
    n: usize,
    bytes: usize,
    sep: u8,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let bad = || RdataError::new(format!("bad {label} '{}'", show(text)));
    let groups: Vec<&[u8]> = text.split(|&c| c == sep).collect();
    if groups.len() != n || groups.iter().any(|g| g.len() != 2 * bytes) {
        return Err(bad());
    }
    for g in groups {
        let v = HEXUPPER_PERMISSIVE.decode(g).map_err(|_| bad())?;
        out.extend_from_slice(&v);
    }
    Ok(())
}

/// Reads an IPSECKEY gateway type, algorithm and gateway (RFC 4025 §2.3-2.5, §3.1):
/// type 0 has no gateway, written `.`; 1 an IPv4 address, 2 an IPv6 address, 3 a
/// domain name (kept as written: IPSECKEY is not on RFC 4034 §6.2's list).
fn parse_ipsec_gateway(
    ts: &mut Tokens,
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let type_tok = ts.next("gateway type")?;
    let gw_type = parse_decimal(type_tok.text, 3).ok_or_else(|| {
        RdataError::new(format!(
            "bad gateway type '{}' (want 0, 1, 2 or 3)",
            show(type_tok.text)
        ))
    })?;
    out.push(gw_type as u8);
    let alg = ts.next("algorithm")?;
    push_num(alg.text, "algorithm", 1, out)?;
    let gw = ts.next("gateway")?;
    let field = |kind| Field {
        kind,
        label: "gateway",
    };
    match gw_type {
        0 if gw.text == b"." => Ok(()),
        0 => fail(format!("gateway type 0 needs '.', not '{}'", show(gw.text))),
        1 => parse_single(field(K::Ipv4), gw, origin, false, out),
        2 => parse_single(field(K::Ipv6), gw, origin, false, out),
        _ => parse_name_field(gw.text, "gateway", origin, false, out),
    }
}
