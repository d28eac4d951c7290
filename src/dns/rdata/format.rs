//! RDATA canonical wire form → presentation form, field by field along the type's
//! table; RFC 3597 generic form for unknown types and for wire data that does not fit
//! its type's layout.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER};

use crate::dns::name::Name;
use crate::dns::registry::rtype;
use crate::dns::time::push_rrsig_time;

use super::RdataError;
use super::bitmap::decode_type_bitmap;
use super::compound;
use super::fields::{Kind, Kind as K, descriptor, walk_wire};
use super::svcb::format_svc_params;

/// Whether a type is written as `TYPEnnn` with `\#` RDATA (RFC 3597) wherever zonesign
/// writes a type (the record's type field, RRSIG type covered, NSEC bitmaps): every
/// validator the output must pass reads the generic form to the very wire that was
/// signed, but not every one reads these types' mnemonics. kzonecheck 3.2 refuses
/// each of them ("unsupported record type", or "invalid number" for WKS, GPOS,
/// WALLET) and with it the zone; ldns 1.8 has no text reader for NXT, A6, ATMA's
/// E.164 form, SINK, NINFO, RKEY, DOA, AMTRELAY, AVC, RESINFO, WALLET or TA. They are
/// still read under their mnemonics and in their presentation forms (as
/// named-checkzone 9.18 reads them), which [`format_typed`] writes for messages and
/// tests. NSAP-PTR and SINK are then refused by the zone checks: ldns reads their
/// RDATA, in any form, as something else than the wire signed.
pub(super) const fn written_generic(t: u16) -> bool {
    use rtype::*;
    matches!(
        t,
        X25 | NSAP_PTR
            | WKS
            | ISDN
            | NSAP
            | SIG
            | GPOS
            | NXT
            | A6
            | EID
            | NIMLOC
            | ATMA
            | SINK
            | HIP
            | NINFO
            | RKEY
            | TALINK
            | UINFO
            | UID
            | GID
            | UNSPEC
            | AVC
            | DOA
            | AMTRELAY
            | RESINFO
            | WALLET
            | TA
    )
}

/// Writes a type mnemonic, or `TYPEnnn` for [`written_generic`] types.
pub fn push_type(t: u16, out: &mut String) {
    if written_generic(t) {
        let _ = write!(out, "TYPE{t}");
    } else {
        rtype::push_text(t, out);
    }
}

/// Writes RDATA as the output carries it: [`format_typed`], except for
/// [`written_generic`] types, which are written in RFC 3597 `\# len hex` form.
pub fn format_rdata(rtype: u16, rdata: &[u8], out: &mut String) {
    if written_generic(rtype) {
        format_generic(rdata, out);
    } else {
        format_typed(rtype, rdata, out);
    }
}

/// Writes RDATA in its type's presentation form. Unknown types, and wire data that
/// does not match the type's layout or whose text would not read back to the same
/// wire, are written in RFC 3597 `\# len hex` form, which every DNS tool reads.
pub(super) fn format_typed(rtype: u16, rdata: &[u8], out: &mut String) {
    if let Some(fields) = descriptor(rtype) {
        // Fields go straight into `out` (no temporary per record); on malformed RDATA
        // the partial text is cut off again and the generic form written instead.
        let start = out.len();
        if walk_wire(fields, rdata, |kind, bytes| {
            format_field(kind, bytes, start, out)
        })
        .is_ok()
            && super::check::check_rdata(rtype, rdata).is_ok()
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
pub(super) fn format_generic(rdata: &[u8], out: &mut String) {
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
        K::U8 | K::Algorithm | K::Protocol => push_u32(out, be(1)),
        K::U16 => push_u32(out, be(2)),
        K::U32 | K::Period => push_u32(out, be(4)),
        K::Type => push_type(be(2) as u16, out),
        K::Time => push_rrsig_time(be(4), out),
        K::Ipv4 => {
            let ip = <[u8; 4]>::try_from(v).map_err(|_| RdataError::new("bad IPv4"))?;
            let _ = write!(out, "{}", Ipv4Addr::from(ip));
        }
        K::Ipv6 => {
            let ip = <[u8; 16]>::try_from(v).map_err(|_| RdataError::new("bad IPv6"))?;
            let _ = write!(out, "{}", Ipv6Addr::from(ip));
        }
        K::CharString | K::GposNumber => write_quoted(v.get(1..).unwrap_or(&[]), out),
        K::OptCharString if v.is_empty() => {}
        K::OptCharString => write_quoted(v.get(1..).unwrap_or(&[]), out),
        K::CharStrings => format_char_strings(v, out),
        K::Base64 | K::Base64Opt => BASE64.encode_append(v, out),
        K::Base64Dash if v.is_empty() => out.push('-'),
        K::Base64Dash => BASE64.encode_append(v, out),
        K::PortBitmap => compound::format_port_bitmap(v, out)?,
        K::NxtBitmap => compound::format_nxt_bitmap(v, out)?,
        K::A6 => compound::format_a6(v, out)?,
        K::Hip => compound::format_hip(v, out)?,
        K::AmtRelay => compound::format_amt_relay(v, out)?,
        K::Atma => compound::format_atma(v, out)?,
        K::Nsap => compound::format_nsap(v, out),
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
        K::CertType => push_u32(out, be(2)),
        K::Loc => super::loc::format_loc(v, out)?,
        K::Apl => super::apl::format_apl(v, out)?,
        K::IpsecGateway => {
            let [gw_type, alg, gw @ ..] = v else {
                return Err(RdataError::new("bad gateway"));
            };
            push_u32(out, u32::from(*gw_type));
            out.push(' ');
            push_u32(out, u32::from(*alg));
            out.push(' ');
            match gw_type {
                0 => out.push('.'),
                1 => format_field(K::Ipv4, gw, out.len(), out)?,
                2 => format_field(K::Ipv6, gw, out.len(), out)?,
                _ => format_field(K::Name, gw, out.len(), out)?,
            }
        }
        K::Eui48 | K::Eui64 => push_hex_groups(v, 1, '-', out),
        K::Ilnp64 => push_hex_groups(v, 2, ':', out),
    }
    Ok(())
}

/// Writes `v` as lowercase hex in groups of `bytes` octets joined by `sep` (EUI-48,
/// EUI-64, ILNP 64-bit values), as BIND writes them.
fn push_hex_groups(v: &[u8], bytes: usize, sep: char, out: &mut String) {
    for (i, g) in v.chunks(bytes).enumerate() {
        if i > 0 {
            out.push(sep);
        }
        for b in g {
            let _ = write!(out, "{b:02x}");
        }
    }
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
        push_type(t, out);
    }
    Ok(())
}

/// Writes bytes as a double-quoted string, escaping `"` and `\` and writing
/// non-printable bytes as `\DDD`, so any byte string survives a round trip.
pub(super) fn write_quoted(s: &[u8], out: &mut String) {
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

/// Appends `n` in decimal, without going through `fmt`.
pub fn push_u32(out: &mut String, n: u32) {
    out.push_str(itoa::Buffer::new().format(n));
}
