//! Checks across fields of one record that the per-field tables cannot state, run on
//! the wire form so presentation and RFC 3597 `\#` input get the same verdict (issue 21:
//! BIND 9.18 refuses these records, so a zone that carries them fails named-checkzone).

use crate::dns::registry::rtype;

use super::{RdataError, fail};

/// Checks a record's wire RDATA (already structurally valid for its type).
pub(super) fn check_rdata(rt: u16, wire: &[u8]) -> Result<(), RdataError> {
    match rt {
        rtype::SSHFP => check_sshfp(wire),
        rtype::NAPTR => check_naptr(wire),
        _ => Ok(()),
    }
}

/// SSHFP (RFC 4255 §3.1, RFC 6594): a SHA-1 fingerprint is 20 octets, a SHA-256 one
/// 32. Other fingerprint types take any length, as in BIND.
fn check_sshfp(wire: &[u8]) -> Result<(), RdataError> {
    let (Some(&fp_type), Some(fp)) = (wire.get(1), wire.get(2..)) else {
        return Ok(());
    };
    let (want, name) = match fp_type {
        1 => (20, "SHA-1"),
        2 => (32, "SHA-256"),
        _ => return Ok(()),
    };
    if fp.len() != want {
        return fail(format!(
            "fingerprint: {} octets, but fingerprint type {fp_type} ({name}) is {want} octets (RFC 4255, RFC 6594)",
            fp.len()
        ));
    }
    Ok(())
}

/// NAPTR (RFC 3403 §4.1): the regexp field, when not empty, is a substitution
/// expression (RFC 3402 §3.2) `delim ERE delim repl delim [i]`; checked like BIND's
/// `txt_valid_regex`.
fn check_naptr(wire: &[u8]) -> Result<(), RdataError> {
    // order, preference, then three character strings: flags, services, regexp.
    let mut pos = 4usize;
    for _ in 0..2 {
        let len = wire.get(pos).map_or(0, |&l| usize::from(l));
        pos += 1 + len;
    }
    let Some(&len) = wire.get(pos) else {
        return Ok(());
    };
    let regexp = wire.get(pos + 1..pos + 1 + usize::from(len)).unwrap_or(&[]);
    check_naptr_regexp(regexp).map_err(|why| {
        RdataError::new(format!(
            "regexp '{}': {why} (RFC 3402 §3.2: delim ERE delim replacement delim [i])",
            String::from_utf8_lossy(regexp)
        ))
    })
}

/// BIND's rule for a NAPTR regexp, on its unescaped octets.
fn check_naptr_regexp(re: &[u8]) -> Result<(), String> {
    let Some((&delim, body)) = re.split_first() else {
        return Ok(());
    };
    if delim.is_ascii_digit() || matches!(delim, b'\\' | b'i' | 0) {
        return Err(format!(
            "'{}' cannot be the delimiter (a digit, '\\' or 'i')",
            char::from(delim)
        ));
    }
    let mut ere = Vec::new();
    let mut nsub = 0usize;
    let (mut replace, mut flags) = (false, false);
    let mut it = body.iter().copied();
    while let Some(c) = it.next() {
        if c == 0 {
            return Err("a NUL octet".into());
        }
        if c == delim {
            if !replace {
                replace = true;
                nsub = ere_subexpressions(&ere)?;
            } else if !flags {
                flags = true;
            } else {
                return Err("a delimiter after the flags".into());
            }
            continue;
        }
        if flags {
            if c == b'i' {
                continue;
            }
            return Err(format!("unknown flag '{}' (only 'i')", char::from(c)));
        }
        if !replace {
            ere.push(c);
        }
        if c == b'\\' {
            let Some(e) = it.next() else {
                return Err("a '\\' at the end".into());
            };
            if e == 0 {
                return Err("a NUL octet".into());
            }
            if replace {
                if e == b'0' {
                    return Err("back-reference \\0".into());
                }
                if e.is_ascii_digit() && usize::from(e - b'0') > nsub {
                    return Err(format!(
                        "back-reference \\{} but the ERE has {nsub} subexpression(s)",
                        char::from(e)
                    ));
                }
            } else {
                ere.push(e);
            }
        }
    }
    if !flags {
        return Err("missing the closing delimiter".into());
    }
    Ok(())
}

/// Validates a POSIX extended regular expression the way BIND's `isc_regex_validate`
/// does in outline (balanced groups, closed bracket expressions, no dangling
/// quantifier, not empty) and returns its number of subexpressions.
fn ere_subexpressions(ere: &[u8]) -> Result<usize, String> {
    if ere.is_empty() {
        return Err("an empty ERE".into());
    }
    let (mut depth, mut nsub) = (0usize, 0usize);
    // Whether a quantifier may follow (there is an atom before it).
    let mut atom = false;
    let mut i = 0;
    while let Some(&c) = ere.get(i) {
        i += 1;
        match c {
            b'\\' => {
                if ere.get(i).is_none() {
                    return Err("a '\\' at the end of the ERE".into());
                }
                i += 1;
                atom = true;
            }
            b'(' => {
                depth += 1;
                nsub += 1;
                atom = false;
            }
            b')' => {
                // An unmatched ')' is an ordinary character (BIND accepts it).
                depth = depth.saturating_sub(1);
                atom = true;
            }
            b'|' => atom = false,
            b'*' | b'+' | b'?' => {
                if !atom {
                    return Err(format!("'{}' follows nothing in the ERE", char::from(c)));
                }
            }
            b'{' if atom => {
                let close = ere[i..]
                    .iter()
                    .position(|&b| b == b'}')
                    .ok_or("unclosed '{' in the ERE")?;
                let inner = &ere[i..i + close];
                let ok = !inner.is_empty()
                    && inner.iter().all(|&b| b.is_ascii_digit() || b == b',')
                    && inner.iter().filter(|&&b| b == b',').count() <= 1
                    && inner.first() != Some(&b',');
                if !ok {
                    return Err("a bad '{m,n}' bound in the ERE".into());
                }
                i += close + 1;
            }
            b'[' => {
                // A ']' first (after an optional '^') is literal.
                let mut j = i;
                if ere.get(j) == Some(&b'^') {
                    j += 1;
                }
                if ere.get(j) == Some(&b']') {
                    j += 1;
                }
                loop {
                    match ere.get(j) {
                        None => return Err("unclosed '[' in the ERE".into()),
                        Some(b']') => break,
                        Some(b'[') if matches!(ere.get(j + 1), Some(b':' | b'.' | b'=')) => {
                            let kind = ere[j + 1];
                            let end = ere[j + 2..]
                                .windows(2)
                                .position(|w| w[0] == kind && w[1] == b']')
                                .ok_or("unclosed '[:' class in the ERE")?;
                            j += 2 + end + 2;
                        }
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                atom = true;
            }
            _ => atom = true,
        }
    }
    if depth != 0 {
        return Err("unbalanced '(' in the ERE".into());
    }
    Ok(nsub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshfp_fingerprint_lengths() {
        let rec = |t: u8, n: usize| {
            let mut w = vec![1, t];
            w.resize(2 + n, 0xab);
            check_rdata(rtype::SSHFP, &w)
        };
        assert!(rec(1, 20).is_ok());
        assert!(rec(2, 32).is_ok());
        assert!(rec(1, 19).is_err());
        assert!(rec(1, 32).is_err());
        assert!(rec(2, 20).is_err());
        // Unknown fingerprint types: any length (BIND accepts, even none).
        assert!(rec(0, 1).is_ok());
        assert!(rec(3, 0).is_ok());
        assert!(rec(9, 2).is_ok());
    }

    #[test]
    fn naptr_regexp_bind_verdicts() {
        let ok: &[&str] = &[
            "",
            "!^.*$!sip:x@example.com!",
            "!^.*$!sip:x@example.com!i",
            "!a\\!b!c!",
            "!a!b\\\\!",
            "!(a)!\\1!",
            "/^([0-9]+)$/sip:\\1@x/",
            "!^[]a]+$!x!",
            "!^[[:digit:]]{3,}$!x!",
            "!a)!b!",
        ];
        let bad: &[&str] = &[
            "x",
            "!^.*$!sip:x@example.com!x",
            "!^.*$!sip:x@example.com",
            "!^.*$!sip:x@example.com!!",
            "1^.*$1sip1",
            "i^.*$isipi",
            "\\^.*$\\sip\\",
            "!!!",
            "!a!\\1!",
            "!(a)!\\2!",
            "!a!\\0!",
            "!(a!b!",
            "!a[!b!",
            "!*a!b!",
            "!a!b\\!",
        ];
        for re in ok {
            assert_eq!(check_naptr_regexp(re.as_bytes()), Ok(()), "{re}");
        }
        for re in bad {
            assert!(check_naptr_regexp(re.as_bytes()).is_err(), "{re}");
        }
    }
}
