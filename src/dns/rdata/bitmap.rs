//! NSEC, NSEC3 and CSYNC type bitmaps (RFC 4034 §4.1.2): a set of types as windows of
//! bits, between the wire form and a sorted list of type numbers.

use super::{RdataError, fail};

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
