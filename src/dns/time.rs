//! DNSSEC time: the 32-bit RRSIG inception and expiration fields, their text form, and
//! the RFC 1982 serial-number arithmetic they (and SOA serials) are compared with.
//!
//! One home for what the RDATA reader and printer ([`crate::dns::rdata`]), the signing
//! policy ([`crate::dnssec::policy`]), re-signing and verification all need: RRSIG
//! times are seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5), written as
//! `YYYYMMDDHHmmSS` in UTC or as plain seconds (RFC 4034 §3.2), and compared in serial
//! arithmetic, so a time is read as the one nearest to "now".

use crate::dns::registry::parse_decimal;

/// RFC 1982 "greater than" on 32-bit serials (SOA serials, RRSIG times).
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Converts a time in seconds since the epoch to the 32-bit RRSIG form (RFC 4034 §3.1.5).
pub fn rrsig_time(t: i64) -> u32 {
    // RRSIG times are serial-number arithmetic modulo 2^32: truncation is the rule.
    t.rem_euclid(1 << 32) as u32
}

/// Expands a 32-bit RRSIG time to seconds since the epoch, choosing the value nearest
/// to `now` (RFC 4034 §3.1.5 serial-number arithmetic).
pub fn expand_rrsig_time(t: u32, now: i64) -> i64 {
    let delta = i64::from(t.wrapping_sub(rrsig_time(now)) as i32);
    now + delta
}

/// Parses an RRSIG time field: 14-digit YYYYMMDDHHmmSS in UTC, or seconds since the
/// epoch (RFC 4034 §3.2).
///
/// A date past 2106-02-07 06:28:15 does not fit 32 bits; RFC 4034 §3.2 makes the field
/// the date's seconds modulo 2^32, and BIND and Knot read it so (`named-checkzone` 9.18
/// prints expiration 21070101000000 back as 19701124173144, `kzonecheck` 3.2 loads it),
/// so such signed input is read too (issue 21): its signatures are dropped before
/// signing anyway, and `zonesign verify` reads the value in serial arithmetic
/// ([`expand_rrsig_time`]). Dates before 1970 stay refused (Knot: "invalid date").
pub fn parse_rrsig_time(text: &[u8]) -> Option<u32> {
    if text.len() != 14 {
        return parse_decimal(text, u64::from(u32::MAX)).and_then(|v| u32::try_from(v).ok());
    }
    let part = |a: usize, b: usize| {
        parse_decimal(text.get(a..b)?, 9999).and_then(|v| u32::try_from(v).ok())
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(part(0, 4)?).ok()?,
        part(4, 6)?,
        part(6, 8)?,
    )?;
    let ts = date
        .and_hms_opt(part(8, 10)?, part(10, 12)?, part(12, 14)?)?
        .and_utc()
        .timestamp();
    (ts >= 0).then(|| rrsig_time(ts))
}

/// Appends a 32-bit RRSIG time as YYYYMMDDHHmmSS (UTC).
///
/// By hand (H. Hinnant's civil-from-days) rather than chrono's `format`: every RRSIG
/// has two, and strftime parsing per call was a visible share of the output stage. A
/// unit test checks it against chrono over the whole u32 range.
pub fn push_rrsig_time(t: u32, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrsig_time_wraps_per_rfc_4034() {
        let now = 1_800_000_000;
        assert_eq!(expand_rrsig_time(rrsig_time(now + 100), now), now + 100);
        assert_eq!(expand_rrsig_time(rrsig_time(now - 100), now), now - 100);
        assert!(serial_gt(1, u32::MAX));
    }

    /// The hand-written RRSIG time formatter agrees with chrono over the whole u32 range
    /// (every day boundary of a sampled spread, plus the ends and leap days).
    #[test]
    fn format_time_matches_chrono() {
        let mut samples: Vec<u32> =
            vec![0, 1, 86_399, 86_400, 951_782_400, 4_107_542_399, u32::MAX];
        let mut t: u64 = 0;
        while t <= u64::from(u32::MAX) {
            samples.extend([t as u32, (t as u32).saturating_add(86_399)]);
            t += 86_400 * 37 + 3_601;
        }
        for t in samples {
            let mut ours = String::new();
            push_rrsig_time(t, &mut ours);
            let theirs = chrono::DateTime::from_timestamp(i64::from(t), 0)
                .unwrap()
                .format("%Y%m%d%H%M%S")
                .to_string();
            assert_eq!(ours, theirs, "t = {t}");
            assert_eq!(parse_rrsig_time(ours.as_bytes()), Some(t), "t = {t}");
        }
    }

    #[test]
    fn rrsig_time_text_forms() {
        assert_eq!(parse_rrsig_time(b"20240101000000"), Some(1_704_067_200));
        assert_eq!(parse_rrsig_time(b"1704067200"), Some(1_704_067_200));
        assert_eq!(parse_rrsig_time(b"19700101000010"), Some(10));
        assert_eq!(parse_rrsig_time(b"20241301000000"), None);
        assert_eq!(parse_rrsig_time(b"4294967296"), None);
        assert_eq!(parse_rrsig_time(b"2024x"), None);
        assert_eq!(parse_rrsig_time(b"19691231235959"), None);
    }

    /// A date past 2106 in signed input is read modulo 2^32 (RFC 4034 §3.2), as BIND
    /// and Knot read it: `named-checkzone` 9.18 loads expiration 21070101000000 and
    /// prints it back as 19701124173144 ("OK"), `kzonecheck` 3.2 says "No semantic
    /// error found". Serial arithmetic then places it next to "now": in 2026 it is a
    /// time of 1970 (expired), in 2100 the date of 2107 it was written as.
    #[test]
    fn rrsig_time_past_2106_wraps() {
        let t = parse_rrsig_time(b"21070101000000").unwrap();
        let full: i64 = 4_323_283_200; // 2107-01-01T00:00:00Z
        assert_eq!(i64::from(t), full - (1 << 32));
        let mut text = String::new();
        push_rrsig_time(t, &mut text);
        assert_eq!(text, "19701124173144");
        assert_eq!(parse_rrsig_time(b"21060207062816"), Some(0));
        assert_eq!(parse_rrsig_time(b"99991231235959").map(|_| ()), Some(()));
        let in_2026 = 1_796_083_200;
        assert!(expand_rrsig_time(t, in_2026) < in_2026);
        let in_2100 = 4_102_444_800;
        assert_eq!(expand_rrsig_time(t, in_2100), full);
    }
}
