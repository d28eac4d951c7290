//! APL RDATA (RFC 3123): a list of address prefixes `[!]afi:address/prefix`, each on
//! the wire as family, prefix length, negation bit with the address length, and the
//! address without its trailing zero octets.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dns::registry::parse_decimal;

use super::parse::parse_str;
use super::{RdataError, Token, fail, show};

/// One APL item: family, prefix length, negation, the address octets as on the wire.
pub(super) struct AplItem<'w> {
    afi: u16,
    prefix: u8,
    negate: bool,
    afd: &'w [u8],
}

/// Splits wire APL items, refusing what BIND refuses (named-checkzone: `\# 6
/// 000115020100` "FORMERR", a trailing zero octet; `\# 5 0001150201` "unexpected end
/// of input"): a family other than IPv4 (1) and IPv6 (2), a prefix or an address
/// longer than the family's, a trailing zero octet, a truncated item.
pub(super) fn split_apl(mut v: &[u8]) -> Result<Vec<AplItem<'_>>, RdataError> {
    let mut items = Vec::new();
    while !v.is_empty() {
        let [a0, a1, prefix, nlen, tail @ ..] = v else {
            return fail("truncated item");
        };
        let afi = u16::from_be_bytes([*a0, *a1]);
        let max = match afi {
            1 => 4,
            2 => 16,
            _ => return fail(format!("unknown address family {afi}")),
        };
        let len = usize::from(nlen & 0x7f);
        if usize::from(*prefix) > max * 8 || len > max {
            return fail("prefix or address longer than the family's");
        }
        let afd = tail
            .get(..len)
            .ok_or_else(|| RdataError::new("truncated item"))?;
        if afd.last() == Some(&0) {
            return fail("address with trailing zero octets (RFC 3123 section 4)");
        }
        items.push(AplItem {
            afi,
            prefix: *prefix,
            negate: nlen & 0x80 != 0,
            afd,
        });
        v = tail.get(len..).unwrap_or(&[]);
    }
    Ok(items)
}

/// Reads `[!]afi:address/prefix` items (none at all is an empty APL, which BIND and
/// Knot both read).
pub(super) fn parse_apl(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    for t in toks {
        let bad = || RdataError::new(format!("bad APL item '{}'", show(t.text)));
        let (negate, item) = match t.text.strip_prefix(b"!") {
            Some(rest) => (true, rest),
            None => (false, t.text),
        };
        let colon = item.iter().position(|&c| c == b':').ok_or_else(bad)?;
        let slash = item.iter().rposition(|&c| c == b'/').ok_or_else(bad)?;
        let (afi, addr, prefix) = (
            item.get(..colon).unwrap_or(&[]),
            item.get(colon + 1..slash.max(colon + 1)).unwrap_or(&[]),
            item.get(slash + 1..).unwrap_or(&[]),
        );
        let (afi, mut octets) = match parse_decimal(afi, 65535) {
            Some(1) => (
                1u16,
                parse_str::<Ipv4Addr>(addr)
                    .ok_or_else(bad)?
                    .octets()
                    .to_vec(),
            ),
            Some(2) => (
                2u16,
                parse_str::<Ipv6Addr>(addr)
                    .ok_or_else(bad)?
                    .octets()
                    .to_vec(),
            ),
            _ => return Err(bad()),
        };
        let prefix = parse_decimal(prefix, octets.len() as u64 * 8).ok_or_else(bad)?;
        while octets.last() == Some(&0) {
            octets.pop();
        }
        out.extend_from_slice(&afi.to_be_bytes());
        out.push(prefix as u8);
        out.push(u8::from(negate) << 7 | octets.len() as u8);
        out.extend_from_slice(&octets);
    }
    Ok(())
}

/// Writes wire APL items as text. An empty APL fails, so that it is written `\# 0`
/// (RFC 3597), as ldns writes it and named-checkzone, kzonecheck and ldns read it:
/// an empty presentation form would leave a record line without RDATA.
pub(super) fn format_apl(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    if v.is_empty() {
        return fail("empty APL written in RFC 3597 form");
    }
    for (i, item) in split_apl(v)?.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if item.negate {
            out.push('!');
        }
        let _ = write!(out, "{}:", item.afi);
        if item.afi == 1 {
            let mut a = [0u8; 4];
            if let Some(d) = a.get_mut(..item.afd.len()) {
                d.copy_from_slice(item.afd);
            }
            let _ = write!(out, "{}", Ipv4Addr::from(a));
        } else {
            let mut a = [0u8; 16];
            if let Some(d) = a.get_mut(..item.afd.len()) {
                d.copy_from_slice(item.afd);
            }
            let _ = write!(out, "{}", Ipv6Addr::from(a));
        }
        let _ = write!(out, "/{}", item.prefix);
    }
    Ok(())
}
