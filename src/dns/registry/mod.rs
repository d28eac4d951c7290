//! The DNS number registries: one table per IANA registry, and the only place in
//! zonesign where a DNS number or its mnemonic is written down.
//!
//! Modelled on the `base::iana` module of NLnet Labs' `domain` crate: each registry is
//! one file with one table ([`rtype`] record types, [`class`] classes, [`secalg`]
//! DNSSEC algorithms, [`digestalg`] DS digest types, [`svcparam`] SVCB/HTTPS parameter
//! keys). Each row of a table gives a constant name, the number, the mnemonic and, where
//! the code needs them, properties of the entry; the `registry!` macro turns the rows
//! into the named constants (`rtype::DNSKEY`), the table itself ([`rtype::TABLE`]), and
//! the lookups number → mnemonic, mnemonic → number and number → properties. Because
//! all of these come from the same row, a number can never be printed under one name and
//! parsed under another, and a number that appears twice in a table fails the build
//! (unreachable pattern, denied by clippy's `-D warnings`).
//!
//! Unlike `domain`, the constants are plain integers (`u16`, `u8`), not newtypes: the
//! pipeline stores record types as `u16` in every [`crate::dns::record::Record`] and
//! RRset, and the compact representation is part of what makes million-record zones fit.

pub mod class;
pub mod digestalg;
pub mod rtype;
pub mod secalg;
pub mod svcparam;

/// One row of a registry table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<N: 'static, P: 'static> {
    /// The number that goes on the wire.
    pub number: N,
    /// The mnemonic of the presentation format (as IANA spells it).
    pub mnemonic: &'static str,
    /// What the code needs to know about the entry (`()` for registries without any).
    pub props: P,
}

/// Parses an unsigned decimal number no larger than `max`: digits only (no sign, no
/// spaces), at most 20 of them. The numeric forms of every registry (`TYPE65280`,
/// `CLASS3`, an algorithm field written as `8`) and RDATA integers share it.
pub(crate) fn parse_decimal(text: &[u8], max: u64) -> Option<u64> {
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

/// Strips an ASCII prefix ignoring case (the `TYPE` of `TYPE65280`).
pub(crate) fn strip_prefix_ci<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// Declares one registry from its table.
///
/// ```text
/// registry! {
///     number: u16, props: TypeProps = TypeProps::PLAIN;
///     /// Doc of the constant.
///     NAME = 2, "MNEMONIC", TypeProps::SOMETHING;   // props optional per row
///     ...
/// }
/// ```
///
/// Generates `pub const NAME` per row, `pub const TABLE`, `mnemonic` and
/// `from_mnemonic`; with `props: P = DEFAULT` also `props`, where a row without props
/// gets `DEFAULT`. Without `props` every row's props are `()`.
macro_rules! registry {
    (
        number: $int:ty;
        $(
            $(#[doc = $doc:literal])*
            $name:ident = $num:literal, $mnemonic:literal;
        )*
    ) => {
        $crate::dns::registry::registry! {
            @table $int, (), ();
            $( $(#[doc = $doc])* $name = $num, $mnemonic; )*
        }
    };
    (
        number: $int:ty, props: $props:ty = $default:expr;
        $(
            $(#[doc = $doc:literal])*
            $name:ident = $num:literal, $mnemonic:literal $(, $prop:expr)?;
        )*
    ) => {
        $crate::dns::registry::registry! {
            @table $int, $props, $default;
            $( $(#[doc = $doc])* $name = $num, $mnemonic $(, $prop)?; )*
        }

        /// The properties of `number` (the default ones for numbers not in the table).
        pub const fn props(number: $int) -> $props {
            match number {
                $( $num => $crate::dns::registry::registry!(@props $default $(, $prop)?), )*
                _ => $default,
            }
        }
    };
    (
        @table $int:ty, $props:ty, $default:expr;
        $(
            $(#[doc = $doc:literal])*
            $name:ident = $num:literal, $mnemonic:literal $(, $prop:expr)?;
        )*
    ) => {
        $(
            $(#[doc = $doc])*
            pub const $name: $int = $num;
        )*

        /// The whole registry, one row per entry, in number order.
        pub const TABLE: &[$crate::dns::registry::Entry<$int, $props>] = &[
            $(
                $crate::dns::registry::Entry {
                    number: $num,
                    mnemonic: $mnemonic,
                    props: $crate::dns::registry::registry!(@props $default $(, $prop)?),
                },
            )*
        ];

        /// The mnemonic of `number`, or `None` if the table has no such entry.
        pub const fn mnemonic(number: $int) -> Option<&'static str> {
            match number {
                $( $num => Some($mnemonic), )*
                _ => None,
            }
        }

        /// The number of a mnemonic written in any case, or `None` if the table has no
        /// such entry.
        pub fn from_mnemonic(text: &[u8]) -> Option<$int> {
            TABLE
                .iter()
                .find(|e| e.mnemonic.as_bytes().eq_ignore_ascii_case(text))
                .map(|e| e.number)
        }
    };
    (@props $default:expr) => { $default };
    (@props $default:expr, $prop:expr) => { $prop };
}
pub(crate) use registry;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table is in number order, and its lookups agree with it both ways.
    #[test]
    fn tables_are_sorted_and_lookups_agree() {
        fn check<N: Copy + Ord + std::fmt::Debug, P>(
            table: &[Entry<N, P>],
            mnemonic: impl Fn(N) -> Option<&'static str>,
            from_mnemonic: impl Fn(&[u8]) -> Option<N>,
        ) {
            assert!(table.windows(2).all(|w| w[0].number < w[1].number));
            for e in table {
                assert_eq!(mnemonic(e.number), Some(e.mnemonic));
                assert_eq!(from_mnemonic(e.mnemonic.as_bytes()), Some(e.number));
                let lower = e.mnemonic.to_ascii_lowercase();
                assert_eq!(from_mnemonic(lower.as_bytes()), Some(e.number));
            }
        }
        check(rtype::TABLE, rtype::mnemonic, rtype::from_mnemonic);
        check(class::TABLE, class::mnemonic, class::from_mnemonic);
        check(secalg::TABLE, secalg::mnemonic, secalg::from_mnemonic);
        check(
            digestalg::TABLE,
            digestalg::mnemonic,
            digestalg::from_mnemonic,
        );
        check(svcparam::TABLE, svcparam::mnemonic, svcparam::from_mnemonic);
    }

    #[test]
    fn decimal_numbers() {
        assert_eq!(parse_decimal(b"65535", 65535), Some(65535));
        assert_eq!(parse_decimal(b"65536", 65535), None);
        assert_eq!(parse_decimal(b"", 9), None);
        assert_eq!(parse_decimal(b"-1", 9), None);
        assert_eq!(parse_decimal(b"000000000000000000001", u64::MAX), None);
        assert_eq!(parse_decimal(b"18446744073709551616", u64::MAX), None);
        assert_eq!(strip_prefix_ci(b"type1", b"TYPE"), Some(&b"1"[..]));
        assert_eq!(strip_prefix_ci(b"TYP", b"TYPE"), None);
    }
}
