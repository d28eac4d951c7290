//! LOC RDATA (RFC 1876): a position on the globe, its size and precision, between the
//! presentation form `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`
//! and the 16 octets of version 0.

use std::fmt::Write as _;

use super::{RdataError, Token, fail, show};

/// 2^31: the equator, the prime meridian (RFC 1876 §2, LATITUDE and LONGITUDE).
const ORIGIN: u32 = 1 << 31;
/// Thousandths of an arc second in a degree.
const MS_PER_DEGREE: u32 = 3_600_000;
/// Centimetres below the WGS 84 spheroid of altitude 0 (RFC 1876 §2, ALTITUDE).
const ALT_BASE: i64 = 10_000_000;

/// Checks version-0 LOC wire data: 16 octets, size and precisions with digits 0-9,
/// latitude within 90 and longitude within 180 degrees (BIND refuses the rest).
pub(super) fn check_loc_wire(v: &[u8]) -> Result<(), RdataError> {
    let [0, siz, hp, vp, rest @ ..] = v else {
        return fail(if v.first().is_some_and(|&b| b != 0) {
            "unknown LOC version (only 0 is defined)"
        } else {
            "truncated"
        });
    };
    if rest.len() != 12 {
        return fail(format!("{} octets, not 16", v.len()));
    }
    if [siz, hp, vp].iter().any(|&&b| b >> 4 > 9 || b & 0xf > 9) {
        return fail("size or precision digit above 9");
    }
    let (lat, lon) = (be32(rest, 0), be32(rest, 4));
    if lat.abs_diff(ORIGIN) > 90 * MS_PER_DEGREE {
        return fail("latitude beyond 90 degrees");
    }
    if lon.abs_diff(ORIGIN) > 180 * MS_PER_DEGREE {
        return fail("longitude beyond 180 degrees");
    }
    Ok(())
}

/// The big-endian u32 at `at`.
fn be32(v: &[u8], at: usize) -> u32 {
    v.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Reads the presentation form into the 16 octets of version 0.
pub(super) fn parse_loc(toks: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut it = toks.iter().map(|t| t.text).peekable();
    let lat = read_angle(&mut it, 90, b'N', b'S', "latitude")?;
    let lon = read_angle(&mut it, 180, b'E', b'W', "longitude")?;
    let alt_text = it
        .next()
        .ok_or_else(|| RdataError::new("missing altitude"))?;
    let alt = metres(alt_text, true)
        .filter(|&cm| (-ALT_BASE..=i64::from(u32::MAX) - ALT_BASE).contains(&cm))
        .ok_or_else(|| RdataError::new(format!("bad altitude '{}'", show(alt_text))))?;
    // Defaults of RFC 1876 §3: size 1m, horizontal precision 10000m, vertical 10m.
    let mut sizes = [0x12u8, 0x16, 0x13];
    for (slot, label) in
        sizes
            .iter_mut()
            .zip(["size", "horizontal precision", "vertical precision"])
    {
        let Some(text) = it.next() else { break };
        *slot = metres(text, false)
            .filter(|&cm| cm <= 9_000_000_000)
            .map(size_octet)
            .ok_or_else(|| RdataError::new(format!("bad {label} '{}'", show(text))))?;
    }
    if let Some(extra) = it.next() {
        return fail(format!("unexpected trailing data '{}'", show(extra)));
    }
    out.push(0);
    out.extend_from_slice(&sizes);
    out.extend_from_slice(&lat.to_be_bytes());
    out.extend_from_slice(&lon.to_be_bytes());
    out.extend_from_slice(&((alt + ALT_BASE) as u32).to_be_bytes());
    Ok(())
}

/// Reads `d [m [s]] H` where H is `pos` or `neg`, as thousandths of an arc second
/// from [`ORIGIN`].
fn read_angle<'a>(
    it: &mut std::iter::Peekable<impl Iterator<Item = &'a [u8]>>,
    max_deg: u32,
    pos: u8,
    neg: u8,
    label: &str,
) -> Result<u32, RdataError> {
    let bad = |t: &[u8]| RdataError::new(format!("bad {label} '{}'", show(t)));
    let mut parts: Vec<&[u8]> = Vec::new();
    let hemi = loop {
        let t = it
            .next()
            .ok_or_else(|| RdataError::new(format!("missing {label}")))?;
        if let [h] = t
            && (h.eq_ignore_ascii_case(&pos) || h.eq_ignore_ascii_case(&neg))
            && !parts.is_empty()
        {
            break h.to_ascii_uppercase();
        }
        if parts.len() == 3 {
            return Err(bad(t));
        }
        parts.push(t);
    };
    let int =
        |t: &[u8], max: u64| crate::dns::registry::parse_decimal(t, max).ok_or_else(|| bad(t));
    let deg = int(parts[0], u64::from(max_deg))?;
    let min = parts.get(1).map_or(Ok(0), |t| int(t, 59))?;
    let ms = match parts.get(2) {
        Some(t) => decimal(t, 3)
            .filter(|&v| v < 60_000)
            .ok_or_else(|| bad(t))?,
        None => 0,
    };
    let total = (deg * 60 + min) as i64 * 60_000 + ms;
    if total > i64::from(max_deg * MS_PER_DEGREE) {
        return Err(bad(parts[0]));
    }
    let off = total as u32;
    Ok(if hemi == pos.to_ascii_uppercase() {
        ORIGIN + off
    } else {
        ORIGIN - off
    })
}

/// Reads an unsigned decimal with at most `frac` fraction digits, scaled by
/// 10^`frac` (`23.5` with 3 gives 23500).
fn decimal(text: &[u8], frac: u32) -> Option<i64> {
    let (int, fr) = match text.iter().position(|&c| c == b'.') {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, &b""[..]),
    };
    // `10.` (a point and no fraction) is read as `10`, as BIND and Knot read it (issue 21).
    if int.is_empty() || fr.len() > frac as usize {
        return None;
    }
    let i = crate::dns::registry::parse_decimal(int, 100_000_000_000)?;
    let mut f = 0i64;
    for k in 0..frac as usize {
        let d = fr.get(k).map_or(0, |c| i64::from(c.wrapping_sub(b'0')));
        if !(0..=9).contains(&d) {
            return None;
        }
        f = f * 10 + d;
    }
    Some(i as i64 * 10i64.pow(frac) + f)
}

/// Reads metres (`12`, `-2.5m`, `0.01m`) as centimetres; a sign only if `signed`.
fn metres(text: &[u8], signed: bool) -> Option<i64> {
    let t = text.strip_suffix(b"m").unwrap_or(text);
    match t.strip_prefix(b"-") {
        Some(rest) if signed => decimal(rest, 2).map(|v| -v),
        Some(_) => None,
        None => decimal(t, 2),
    }
}

/// Centimetres as RFC 1876's size octet: mantissa (high nibble) times ten to the
/// exponent (low nibble), the mantissa cut to one digit as BIND and ldns do.
fn size_octet(cm: i64) -> u8 {
    let mut exp = 0u8;
    let mut v = cm;
    while v >= 10 && exp < 9 {
        v /= 10;
        exp += 1;
    }
    (v.min(9) as u8) << 4 | exp
}

/// A size octet as metres: `1m`, `0.50m`, `10000m`.
fn push_size(octet: u8, out: &mut String) {
    let cm = u64::from(octet >> 4) * 10u64.pow(u32::from(octet & 0xf));
    push_cm(cm as i64, out);
}

/// Centimetres as metres with the fraction only when there is one.
fn push_cm(cm: i64, out: &mut String) {
    let sign = if cm < 0 { "-" } else { "" };
    let a = cm.unsigned_abs();
    if a.is_multiple_of(100) {
        let _ = write!(out, "{sign}{}m", a / 100);
    } else {
        let _ = write!(out, "{sign}{}.{:02}m", a / 100, a % 100);
    }
}

/// Writes version-0 LOC wire data (checked by [`check_loc_wire`]) as text.
pub(super) fn format_loc(v: &[u8], out: &mut String) -> Result<(), RdataError> {
    check_loc_wire(v)?;
    let angle = |raw: u32, pos: char, neg: char, out: &mut String| {
        let (off, h) = if raw >= ORIGIN {
            (raw - ORIGIN, pos)
        } else {
            (ORIGIN - raw, neg)
        };
        let (deg, rest) = (off / MS_PER_DEGREE, off % MS_PER_DEGREE);
        let (min, ms) = (rest / 60_000, rest % 60_000);
        let _ = write!(out, "{deg} {min} {}.{:03} {h}", ms / 1000, ms % 1000);
    };
    angle(be32(v, 4), 'N', 'S', out);
    out.push(' ');
    angle(be32(v, 8), 'E', 'W', out);
    out.push(' ');
    push_cm(i64::from(be32(v, 12)) - ALT_BASE, out);
    for &octet in v.get(1..4).unwrap_or(&[]) {
        out.push(' ');
        push_size(octet, out);
    }
    Ok(())
}
