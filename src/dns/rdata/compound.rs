//! RDATA formats whose parts depend on each other, so that no plain field table
//! describes them (issue 21): WKS's protocol and service bitmap (RFC 1035 §3.4.2),
//! NXT's bitmap (RFC 2535 §5.2), A6 (RFC 2874 §3.1), HIP (RFC 8005 §5), the AMTRELAY
//! relay (RFC 8777 §4), ATMA (ATM Forum AF-DANS-0152.000) and NSAP (RFC 1706 §5).
//!
//! Each has a wire check (the length of the field, refusing what BIND refuses), a text
//! reader and a writer; the writer fails where its text would not read back to the
//! same wire, so that [`super::format`] falls back to RFC 3597 form.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE, HEXUPPER};

use crate::dns::name::{Name, read_wire_name};
use crate::dns::registry::{parse_decimal, rtype};

use super::parse::parse_str;
use super::{RdataError, Token, fail, show};

/// Protocol names WKS reads (RFC 1035 §3.4.2 writes `TCP`; BIND looks them up with
/// getprotobyname, these being the ones every system has). Written as numbers, as
/// BIND writes them.
const PROTOCOLS: [(&str, u8); 3] = [("icmp", 1), ("tcp", 6), ("udp", 17)];

/// Service names WKS reads. BIND asks the system's services database; this is the
/// part of Debian's `/etc/services` that RFC 1035's examples and common zones use.
/// Written as port numbers, as BIND writes them.
const SERVICES: [(&str, u16); 28] = [
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("qotd", 17),
    ("chargen", 19),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("domain", 53),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("imap2", 143),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("imaps", 993),
    ("pop3s", 995),
];

/// Looks `text` up in a name table, case-insensitively.
fn lookup<T: Copy>(table: &[(&str, T)], text: &[u8]) -> Option<T> {
    table
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(text))
        .map(|&(_, v)| v)
}

/// Reads a WKS protocol: a number 0..=255 or a name of [`PROTOCOLS`].
pub(super) fn parse_protocol(text: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let v = lookup(&PROTOCOLS, text)
        .or_else(|| parse_decimal(text, 255).and_then(|v| u8::try_from(v).ok()))
        .ok_or_else(|| RdataError::new(format!("bad protocol '{}'", show(text))))?;
    out.push(v);
    Ok(())
}

/// Reads a WKS service list (ports 0..=65535 or names of [`SERVICES`]; may be empty)
/// into its bitmap, bit N for port N, without trailing zero octets (as BIND writes it).
pub(super) fn parse_port_bitmap(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut bits: Vec<u8> = Vec::new();
    for t in toks {
        let port = lookup(&SERVICES, t.text)
            .or_else(|| parse_decimal(t.text, 65535).and_then(|v| u16::try_from(v).ok()))
            .ok_or_else(|| RdataError::new(format!("bad service '{}'", show(t.text))))?;
        let idx = usize::from(port / 8);
        if bits.len() <= idx {
            bits.resize(idx + 1, 0);
        }
        if let Some(b) = bits.get_mut(idx) {
            *b |= 0x80 >> (port % 8);
        }
    }
    out.extend_from_slice(&bits);
    Ok(())
}

/// Checks a WKS bitmap: at most 8192 octets (ports up to 65535).
pub(super) fn check_port_bitmap(v: &[u8]) -> Result<usize, RdataError> {
    if v.len() > 8192 {
        return fail("service bitmap longer than 8192 octets");
    }
    Ok(v.len())
}

/// Writes the ports of a WKS bitmap; fails on a trailing zero octet, which the text
/// form cannot express.
pub(super) fn format_port_bitmap(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    if v.last() == Some(&0) {
        return fail("service bitmap with trailing zero octets");
    }
    let mut first = true;
    for (i, byte) in v.iter().enumerate() {
        for bit in 0..8usize {
            if byte & (0x80 >> bit) != 0 {
                if !first {
                    out.push(' ');
                }
                first = false;
                super::format::push_u32(out, (i * 8 + bit) as u32);
            }
        }
    }
    Ok(())
}

/// Reads an NXT type list (RFC 2535 §5.2): types 1..=127 only (BIND refuses others,
/// "out of range"), as a bitmap without trailing zero octets; may be empty.
pub(super) fn parse_nxt_bitmap(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut bits: Vec<u8> = Vec::new();
    for t in toks {
        let code = rtype::from_text(t.text)
            .filter(|c| (1..=127).contains(c))
            .ok_or_else(|| {
                RdataError::new(format!(
                    "type bitmap: '{}' is not a type 1..=127 (RFC 2535 section 5.2)",
                    show(t.text)
                ))
            })?;
        let idx = usize::from(code / 8);
        if bits.len() <= idx {
            bits.resize(idx + 1, 0);
        }
        if let Some(b) = bits.get_mut(idx) {
            *b |= 0x80 >> (code % 8);
        }
    }
    out.extend_from_slice(&bits);
    Ok(())
}

/// Checks an NXT bitmap as BIND does: at most 16 octets, bit 0 clear (a set bit 0
/// announces another format, never defined), no trailing zero octet.
pub(super) fn check_nxt_bitmap(v: &[u8]) -> Result<usize, RdataError> {
    if v.len() > 16 {
        return fail("type bitmap longer than 16 octets");
    }
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        return fail("type bitmap with bit 0 set");
    }
    if v.last() == Some(&0) {
        return fail("type bitmap with trailing zero octets");
    }
    Ok(v.len())
}

/// Writes the types of an NXT bitmap under their mnemonics (the presentation form;
/// the output writes NXT in RFC 3597 form).
pub(super) fn format_nxt_bitmap(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    check_nxt_bitmap(v)?;
    let mut first = true;
    for (i, byte) in v.iter().enumerate() {
        for bit in 0..8u16 {
            if byte & (0x80 >> bit) != 0 {
                if !first {
                    out.push(' ');
                }
                first = false;
                rtype::push_text((i as u16) << 3 | bit, out);
            }
        }
    }
    Ok(())
}

/// The number of address suffix octets of an A6 prefix length (RFC 2874 §3.1.1).
fn a6_suffix_len(prefix: u8) -> usize {
    (128 - usize::from(prefix.min(128))).div_ceil(8)
}

/// Checks A6 RDATA: prefix length 0..=128, the suffix with its pad bits zero (BIND
/// would clear them, signing other bytes than ours), and a name unless the prefix
/// length is 0. Returns the offset of the name (the RDATA length when there is none).
pub(super) fn a6_name_offset(v: &[u8]) -> Result<usize, RdataError> {
    let Some(&prefix) = v.first() else {
        return fail("truncated");
    };
    if prefix > 128 {
        return fail(format!("prefix length {prefix} above 128"));
    }
    let end = 1 + a6_suffix_len(prefix);
    let suffix = v.get(1..end).ok_or_else(|| RdataError::new("truncated"))?;
    if suffix
        .first()
        .is_some_and(|b| b & !(0xff >> (prefix % 8)) != 0)
    {
        return fail("address suffix with pad bits set");
    }
    Ok(end)
}

/// The wire length of A6 RDATA at the start of `v`.
pub(super) fn check_a6(v: &[u8]) -> Result<usize, RdataError> {
    let at = a6_name_offset(v)?;
    if v.first() == Some(&0) {
        return Ok(at);
    }
    let (_, n) = read_wire_name(v.get(at..).unwrap_or(&[]))
        .map_err(|e| RdataError::new(format!("prefix name: {e}")))?;
    Ok(at + n)
}

/// Reads `prefix-length [address-suffix] [prefix-name]` (RFC 2874 §3.1.2): no suffix
/// for 128, no name for 0. The bits of the address above the suffix are dropped, as
/// BIND drops them (`64 2001:db8::1 a.` is read as `64 ::1 a.`).
pub(super) fn parse_a6(
    toks: &[Token],
    origin: &Name,
    lower: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let mut it = toks.iter();
    let p = it
        .next()
        .ok_or_else(|| RdataError::new("missing prefix length"))?;
    let prefix = parse_decimal(p.text, 128)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| {
            RdataError::new(format!(
                "bad prefix length '{}' (want 0..=128)",
                show(p.text)
            ))
        })?;
    out.push(prefix);
    let n = a6_suffix_len(prefix);
    if n > 0 {
        let a = it
            .next()
            .ok_or_else(|| RdataError::new("missing address suffix"))?;
        let ip: Ipv6Addr = parse_str(a.text)
            .ok_or_else(|| RdataError::new(format!("bad IPv6 address '{}'", show(a.text))))?;
        let octets = ip.octets();
        let start = out.len();
        out.extend_from_slice(octets.get(16 - n..).unwrap_or(&[]));
        if let Some(b) = out.get_mut(start) {
            *b &= 0xff >> (prefix % 8);
        }
    }
    if prefix > 0 {
        let name = it
            .next()
            .ok_or_else(|| RdataError::new("missing prefix name"))?;
        let start = out.len();
        Name::parse_into(name.text, Some(origin), out)
            .map_err(|e| RdataError::new(format!("bad prefix name '{}': {e}", show(name.text))))?;
        if lower && let Some(n) = out.get_mut(start..) {
            n.make_ascii_lowercase();
        }
    }
    if let Some(extra) = it.next() {
        return fail(format!("unexpected trailing data '{}'", show(extra.text)));
    }
    Ok(())
}

/// Writes A6 RDATA as BIND does: `64 ::1 a.`, `0 2001:db8::1`, `128 a.`.
pub(super) fn format_a6(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    let at = a6_name_offset(v)?;
    let prefix = v.first().copied().unwrap_or(0);
    super::format::push_u32(out, u32::from(prefix));
    let suffix = v.get(1..at).unwrap_or(&[]);
    if !suffix.is_empty() {
        let mut octets = [0u8; 16];
        if let Some(dst) = octets.get_mut(16 - suffix.len()..) {
            dst.copy_from_slice(suffix);
        }
        let _ = write!(out, " {}", Ipv6Addr::from(octets));
    }
    if prefix > 0 {
        let name = Name::from_wire(v.get(at..).unwrap_or(&[]))
            .map_err(|e| RdataError::new(e.to_string()))?;
        out.push(' ');
        name.push_text(out);
    }
    Ok(())
}

/// The parts of HIP RDATA (RFC 8005 §5): algorithm, HIT, public key, and the offset of
/// the rendezvous servers.
struct Hip<'w> {
    algorithm: u8,
    hit: &'w [u8],
    key: &'w [u8],
    servers: usize,
}

/// Splits HIP RDATA; HIT and public key must not be empty (BIND refuses both).
fn split_hip(v: &[u8]) -> Result<Hip<'_>, RdataError> {
    let [hit_len, algorithm, k0, k1, rest @ ..] = v else {
        return fail("truncated");
    };
    let hit_len = usize::from(*hit_len);
    let key_len = usize::from(u16::from_be_bytes([*k0, *k1]));
    if hit_len == 0 || key_len == 0 {
        return fail("empty HIT or public key");
    }
    let hit = rest
        .get(..hit_len)
        .ok_or_else(|| RdataError::new("truncated HIT"))?;
    let key = rest
        .get(hit_len..hit_len + key_len)
        .ok_or_else(|| RdataError::new("truncated public key"))?;
    Ok(Hip {
        algorithm: *algorithm,
        hit,
        key,
        servers: 4 + hit_len + key_len,
    })
}

/// Checks HIP RDATA: its parts and every rendezvous server name.
pub(super) fn check_hip(v: &[u8]) -> Result<usize, RdataError> {
    let mut pos = split_hip(v)?.servers;
    while pos < v.len() {
        let (_, n) = read_wire_name(v.get(pos..).unwrap_or(&[]))
            .map_err(|e| RdataError::new(format!("rendezvous server: {e}")))?;
        pos += n;
    }
    Ok(v.len())
}

/// Reads `algorithm HIT-hex public-key-base64 [rendezvous-server ...]` (RFC 8005 §6);
/// server names stay as written (HIP is not on RFC 4034 §6.2's list).
pub(super) fn parse_hip(
    toks: &[Token],
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let [alg, hit, key, servers @ ..] = toks else {
        return fail("want algorithm, HIT and public key");
    };
    let algorithm = parse_decimal(alg.text, 255)
        .ok_or_else(|| RdataError::new(format!("bad algorithm '{}'", show(alg.text))))?;
    let hit = HEXLOWER_PERMISSIVE
        .decode(&hit.text.to_ascii_lowercase())
        .ok()
        .filter(|h| (1..=255).contains(&h.len()))
        .ok_or_else(|| RdataError::new(format!("bad HIT '{}'", show(hit.text))))?;
    let key = BASE64
        .decode(key.text)
        .ok()
        .filter(|k| (1..=65535).contains(&k.len()))
        .ok_or_else(|| RdataError::new("public key: invalid base64"))?;
    out.push(hit.len() as u8);
    out.push(algorithm as u8);
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(&hit);
    out.extend_from_slice(&key);
    for s in servers {
        Name::parse_into(s.text, Some(origin), out).map_err(|e| {
            RdataError::new(format!("bad rendezvous server '{}': {e}", show(s.text)))
        })?;
    }
    Ok(())
}

/// Writes HIP RDATA as BIND does (HIT in upper-case hex).
pub(super) fn format_hip(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    let hip = split_hip(v)?;
    super::format::push_u32(out, u32::from(hip.algorithm));
    out.push(' ');
    HEXUPPER.encode_append(hip.hit, out);
    out.push(' ');
    BASE64.encode_append(hip.key, out);
    let mut rest = v.get(hip.servers..).unwrap_or(&[]);
    while !rest.is_empty() {
        let (name, n) = read_wire_name(rest).map_err(|e| RdataError::new(e.to_string()))?;
        out.push(' ');
        name.push_text(out);
        rest = rest.get(n..).unwrap_or(&[]);
    }
    Ok(())
}

/// The relay length of AMTRELAY type `t` (RFC 8777 §4.2.3): none, IPv4, IPv6, or a
/// name; other types are refused (BIND: "not implemented").
fn amt_relay_len(t: u8, rest: &[u8]) -> Result<usize, RdataError> {
    match t {
        0 => Ok(0),
        1 => Ok(4),
        2 => Ok(16),
        3 => read_wire_name(rest)
            .map(|(_, n)| n)
            .map_err(|e| RdataError::new(format!("relay: {e}"))),
        t => fail(format!("unknown relay type {t}")),
    }
}

/// Checks the AMTRELAY discovery-optional bit, type and relay.
pub(super) fn check_amt_relay(v: &[u8]) -> Result<usize, RdataError> {
    let [dt, rest @ ..] = v else {
        return fail("truncated");
    };
    let n = amt_relay_len(dt & 0x7f, rest)?;
    if rest.len() < n {
        return fail("truncated relay");
    }
    Ok(1 + n)
}

/// Reads `D-bit type relay` (RFC 8777 §4.3): D 0 or 1, type 0..=3, relay `.` for type
/// 0 (BIND wants it there), an IPv4 or IPv6 address, or a name kept as written.
pub(super) fn parse_amt_relay(
    toks: &[Token],
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let [d, t, relay, extra @ ..] = toks else {
        return fail("want discovery-optional bit, relay type and relay");
    };
    if let Some(x) = extra.first() {
        return fail(format!("unexpected trailing data '{}'", show(x.text)));
    }
    let d = parse_decimal(d.text, 1).ok_or_else(|| {
        RdataError::new(format!(
            "bad discovery-optional bit '{}' (want 0 or 1)",
            show(d.text)
        ))
    })?;
    let t = parse_decimal(t.text, 3).ok_or_else(|| {
        RdataError::new(format!("bad relay type '{}' (want 0..=3)", show(t.text)))
    })?;
    out.push((d as u8) << 7 | t as u8);
    let bad = |what: &str| RdataError::new(format!("bad relay '{}' ({what})", show(relay.text)));
    match t {
        0 if relay.text == b"." => {}
        0 => return Err(bad("type 0 wants '.'")),
        1 => out.extend_from_slice(
            &parse_str::<Ipv4Addr>(relay.text)
                .ok_or_else(|| bad("want an IPv4 address"))?
                .octets(),
        ),
        2 => out.extend_from_slice(
            &parse_str::<Ipv6Addr>(relay.text)
                .ok_or_else(|| bad("want an IPv6 address"))?
                .octets(),
        ),
        _ => Name::parse_into(relay.text, Some(origin), out)
            .map_err(|e| RdataError::new(format!("bad relay '{}': {e}", show(relay.text))))?,
    }
    Ok(())
}

/// Writes `D-bit type relay`.
pub(super) fn format_amt_relay(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    let [dt, relay @ ..] = v else {
        return fail("truncated");
    };
    let t = dt & 0x7f;
    let _ = write!(out, "{} {t} ", dt >> 7);
    match t {
        0 => out.push('.'),
        1 => {
            let ip = <[u8; 4]>::try_from(relay).map_err(|_| RdataError::new("bad IPv4"))?;
            let _ = write!(out, "{}", Ipv4Addr::from(ip));
        }
        2 => {
            let ip = <[u8; 16]>::try_from(relay).map_err(|_| RdataError::new("bad IPv6"))?;
            let _ = write!(out, "{}", Ipv6Addr::from(ip));
        }
        _ => Name::from_wire(relay)
            .map_err(|e| RdataError::new(e.to_string()))?
            .push_text(out),
    }
    Ok(())
}

/// Decodes hex digits that may be split by dots (NSAP, ATMA), an even number of them,
/// at least one octet.
fn dotted_hex(text: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .iter()
        .filter(|&&c| c != b'.')
        .map(u8::to_ascii_lowercase)
        .collect();
    HEXLOWER_PERMISSIVE
        .decode(&digits)
        .ok()
        .filter(|v| !v.is_empty())
}

/// Reads an NSAP address (RFC 1706 §5): `0x` and hex digits, dots anywhere between.
pub(super) fn parse_nsap(text: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let hex = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .and_then(dotted_hex)
        .ok_or_else(|| {
            RdataError::new(format!(
                "bad NSAP address '{}' (want 0x and an even number of hex digits)",
                show(text)
            ))
        })?;
    out.extend_from_slice(&hex);
    Ok(())
}

/// Writes an NSAP address as BIND does: `0x` and lower-case hex, no dots.
pub(super) fn format_nsap(v: &[u8], out: &mut String) {
    out.push_str("0x");
    for b in v {
        let _ = write!(out, "{b:02x}");
    }
}

/// Checks ATMA RDATA: format 0 (AESA, at least one octet) or 1 (E.164, digits only,
/// at least one); other formats are refused, as BIND refuses them.
pub(super) fn check_atma(v: &[u8]) -> Result<usize, RdataError> {
    match v {
        [0, _, ..] => Ok(v.len()),
        [1, digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            Ok(v.len())
        }
        [] | [0] | [1, ..] => fail("empty or malformed ATM address"),
        [f, ..] => fail(format!("unknown ATM address format {f}")),
    }
}

/// Reads an ATM address: `+` and decimal digits (E.164, format 1), or hex digits with
/// optional dots (AESA, format 0).
pub(super) fn parse_atma(text: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let bad = || RdataError::new(format!("bad ATM address '{}'", show(text)));
    if let Some(digits) = text.strip_prefix(b"+") {
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        out.push(1);
        out.extend_from_slice(digits);
    } else {
        out.push(0);
        out.extend_from_slice(&dotted_hex(text).ok_or_else(bad)?);
    }
    Ok(())
}

/// Writes an ATM address as BIND does (lower-case hex, or `+digits`).
pub(super) fn format_atma(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    check_atma(v)?;
    match v {
        [1, digits @ ..] => {
            out.push('+');
            out.push_str(&String::from_utf8_lossy(digits));
        }
        [_, hex @ ..] => {
            for b in hex {
                let _ = write!(out, "{b:02x}");
            }
        }
        [] => return fail("empty"),
    }
    Ok(())
}

/// Whether `s` is a GPOS coordinate (RFC 1712 §3): a real number, optional sign,
/// digits with at most one decimal point. BIND reads any string; the RFC's own
/// example (`-32.6882 116.8652 10.0`) lies outside its ranges, so none are checked.
pub(super) fn is_gpos_number(s: &[u8]) -> bool {
    let s = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    let digits = s.iter().filter(|c| c.is_ascii_digit()).count();
    let points = s.iter().filter(|&&c| c == b'.').count();
    digits > 0 && points <= 1 && digits + points == s.len()
}
