//! SVCB and HTTPS service parameters (RFC 9460): the `key=value` list that ends their
//! RDATA, read, checked and printed.
//!
//! Apart because it is a small format of its own (sorted keys, per-key value syntax,
//! escapes inside comma lists) inside one field kind of the type tables; the keys are
//! those of the [`svcparam`] registry.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::BASE64;

use crate::dns::registry::parse_decimal;
use crate::dns::registry::svcparam::{
    self, ALPN, DOHPATH, ECH, IPV4HINT, IPV6HINT, MANDATORY, NO_DEFAULT_ALPN, PORT,
};

use super::format::write_quoted;
use super::parse::{parse_str, push_prefixed, unescape_into};
use super::{RdataError, Token, fail, show};

/// Parses `key[=value]` tokens into sorted wire-format SvcParams.
pub(super) fn parse_svc_params(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
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
        let key = svcparam::from_text(key_text)
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
        svcparam::push_text(w.first().map_or(0, |p| p.0), &mut name);
        return fail(format!("duplicate SvcParamKey '{name}'"));
    }
    let pairs: Vec<(u16, &[u8])> = params.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    check_consistent(&pairs)?;
    for (key, value) in params {
        let len = u16::try_from(value.len())
            .map_err(|_| RdataError::new("SvcParamValue longer than 65535 bytes"))?;
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&value);
    }
    Ok(())
}

/// Checks what RFC 9460 asks of the parameters together, on sorted `(key, value)`
/// pairs: every key `mandatory` lists is present (§8; named-checkzone: "disallowed (by
/// application policy)", kzonecheck: "missing mandatory parameter"), and
/// `no-default-alpn` comes with `alpn` (§7.1.1; named-checkzone: "disallowed (by
/// application policy)" where Knot and ldns accept it: refused, as BIND does).
fn check_consistent(params: &[(u16, &[u8])]) -> Result<(), RdataError> {
    let has = |k: u16| params.iter().any(|p| p.0 == k);
    if let Some((_, list)) = params.iter().find(|p| p.0 == MANDATORY) {
        for pair in list.chunks_exact(2) {
            let k = u16::from_be_bytes([
                pair.first().copied().unwrap_or(0),
                pair.get(1).copied().unwrap_or(0),
            ]);
            if !has(k) {
                let mut name = String::new();
                svcparam::push_text(k, &mut name);
                return fail(format!(
                    "mandatory lists '{name}', which is not present (RFC 9460 section 8)"
                ));
            }
        }
    }
    if has(NO_DEFAULT_ALPN) && !has(ALPN) {
        return fail("no-default-alpn without alpn (RFC 9460 section 7.1.1)");
    }
    Ok(())
}

/// Checks a dohpath value (RFC 9461 §5): a relative URI Template (RFC 6570) with a
/// `dns` variable. named-checkzone refuses an empty one, one without the variable, one
/// with an unclosed `{` and one not starting with `/` ("FORMERR", also when written
/// `key7=`); kzonecheck 3.2 reads no `dohpath` at all ("invalid parameter") but reads
/// any `key7` value, which is why it is written `key7` (see [`format_svc_params`]).
fn check_dohpath(v: &[u8]) -> Result<(), RdataError> {
    let bad = |why: &str| fail(format!("dohpath '{}': {why} (RFC 9461 section 5)", show(v)));
    if v.first() != Some(&b'/') {
        return bad("not a relative URI template starting with '/'");
    }
    let mut dns = false;
    let mut rest = v;
    while let Some(&c) = rest.first() {
        match c {
            b'{' => {
                let Some(end) = rest.iter().position(|&c| c == b'}') else {
                    return bad("'{' without '}'");
                };
                let expr = rest.get(1..end).unwrap_or(&[]);
                if expr.contains(&b'{') {
                    return bad("nested '{'");
                }
                let vars = expr
                    .strip_prefix(b"?")
                    .or_else(|| expr.strip_prefix(b"&"))
                    .unwrap_or(expr);
                dns |= vars.split(|&c| c == b',').any(|v| v == b"dns");
                rest = rest.get(end + 1..).unwrap_or(&[]);
                continue;
            }
            b'}' => return bad("'}' without '{'"),
            _ => {}
        }
        rest = rest.get(1..).unwrap_or(&[]);
    }
    if !dns {
        return bad("no 'dns' variable");
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
    let needs_value = matches!(key, MANDATORY | ALPN | PORT | IPV4HINT | ECH | IPV6HINT);
    if needs_value && raw.is_empty() {
        let mut name = String::new();
        svcparam::push_text(key, &mut name);
        return fail(format!("SvcParamKey '{name}' needs a value"));
    }
    match key {
        MANDATORY => encode_mandatory(raw),
        ALPN => encode_alpn(raw),
        NO_DEFAULT_ALPN if has_value => fail("no-default-alpn takes no value"),
        PORT => {
            let port = parse_decimal(raw, 65535)
                .ok_or_else(|| RdataError::new(format!("bad port '{}'", show(raw))))?;
            Ok((port as u16).to_be_bytes().to_vec())
        }
        IPV4HINT => encode_ip_list::<Ipv4Addr>(raw, "ipv4hint", |ip| ip.octets().to_vec()),
        IPV6HINT => encode_ip_list::<Ipv6Addr>(raw, "ipv6hint", |ip| ip.octets().to_vec()),
        ECH => BASE64
            .decode(raw)
            .map_err(|_| RdataError::new("ech: invalid base64")),
        DOHPATH => check_dohpath(raw).map(|()| raw.to_vec()),
        _ => Ok(raw.to_vec()),
    }
}

/// Encodes the `mandatory` key list, sorted, without duplicates or key 0.
fn encode_mandatory(raw: &[u8]) -> Result<Vec<u8>, RdataError> {
    let mut keys = Vec::new();
    for part in raw.split(|&c| c == b',') {
        let k = svcparam::from_text(part)
            .ok_or_else(|| RdataError::new(format!("mandatory: unknown key '{}'", show(part))))?;
        keys.push(k);
    }
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    if keys.len() != n || keys.first() == Some(&MANDATORY) {
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
pub(super) fn split_svc_params(wire: &[u8]) -> Result<Vec<(u16, &[u8])>, RdataError> {
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
    check_consistent(&params)?;
    Ok(params)
}

/// Checks the wire value of a known SvcParamKey.
fn check_svc_value(key: u16, v: &[u8]) -> Result<(), RdataError> {
    let ok = match key {
        MANDATORY => !v.is_empty() && v.len().is_multiple_of(2),
        ALPN => !v.is_empty() && alpn_ids(v).is_some(),
        NO_DEFAULT_ALPN => v.is_empty(),
        PORT => v.len() == 2,
        IPV4HINT => !v.is_empty() && v.len().is_multiple_of(4),
        ECH => !v.is_empty(),
        IPV6HINT => !v.is_empty() && v.len().is_multiple_of(16),
        DOHPATH => return check_dohpath(v),
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
///
/// `dohpath` (RFC 9461) is written `key7`, its number form, which named-checkzone 9.18
/// (it prints it so itself), kzonecheck 3.2 and ldns 1.8 all read: kzonecheck 3.2
/// refuses the name `dohpath` ("invalid parameter"), and a signed zone a validator
/// cannot read is not published.
pub(super) fn format_svc_params(wire: &[u8], out: &mut String) -> Result<(), RdataError> {
    for (i, (key, value)) in split_svc_params(wire)?.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if key == ALPN && !alpn_is_plain(value) {
            return fail("alpn id written only in RFC 3597 form");
        }
        if key == DOHPATH {
            let _ = write!(out, "key{key}");
        } else {
            svcparam::push_text(key, out);
        }
        format_svc_value(key, value, out);
    }
    Ok(())
}

/// Whether every alpn-id is printable ASCII without `,`, `\`, `"` or a space, the
/// only alpn values the three validators read alike. For an id holding `,` the RFC 9460
/// Appendix A form `alpn="a\\,b"` is read by named-checkzone 9.18 as the one id `a,b`
/// but not so by kzonecheck 3.2 or ldns 1.8 (a zone ldns-signzone signs from it fails
/// `kzonecheck -d on`: "no valid signature"), while `alpn=a\,b`, which Knot and ldns
/// read as `a,b`, is two ids `a` and `b` to BIND (it prints `alpn="a,b"`). No text is
/// read alike by all three, so such a record is written as RFC 3597 `\# len hex`
/// ([`format_svc_params`] fails and [`super::format_rdata`] falls back to it), which
/// all three read to the same wire. The same holds for an id of one character before
/// the last (`alpn=a,h3`, valid by RFC 9460 §7.1.1): kzonecheck 3.2 refuses it ("empty
/// comma-separated list item").
fn alpn_is_plain(v: &[u8]) -> bool {
    let ids = alpn_ids(v).unwrap_or_default();
    ids.iter().enumerate().all(|(i, id)| {
        (id.len() > 1 || i + 1 == ids.len())
            && id
                .iter()
                .all(|&b| (0x21..=0x7e).contains(&b) && !matches!(b, b',' | b'\\' | b'"'))
    })
}

/// Writes `=value` for one SvcParam (nothing for valueless ones).
fn format_svc_value(key: u16, v: &[u8], out: &mut String) {
    match key {
        MANDATORY => {
            out.push('=');
            for (i, pair) in v.chunks_exact(2).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                svcparam::push_text(
                    u16::from_be_bytes([
                        pair.first().copied().unwrap_or(0),
                        pair.get(1).copied().unwrap_or(0),
                    ]),
                    out,
                );
            }
        }
        ALPN => {
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
        NO_DEFAULT_ALPN => {}
        PORT => {
            let port = u16::from_be_bytes([
                v.first().copied().unwrap_or(0),
                v.get(1).copied().unwrap_or(0),
            ]);
            let _ = write!(out, "={port}");
        }
        IPV4HINT => write_ip_list(
            v.chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(Ipv4Addr::from),
            out,
        ),
        IPV6HINT => write_ip_list(
            v.chunks_exact(16)
                .filter_map(|c| <[u8; 16]>::try_from(c).ok())
                .map(Ipv6Addr::from),
            out,
        ),
        ECH => {
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
