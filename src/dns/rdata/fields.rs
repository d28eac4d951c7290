//! The field table of each type that has a presentation format, and the walk of wire
//! RDATA along it.
//!
//! One table per type (in the spirit of ldns's rdf descriptors) drives parsing
//! ([`super::parse`]), validating RFC 3597 generic RDATA and printing
//! ([`super::format`]), so the three can never disagree about a type's layout.

use crate::dns::name::read_wire_name;
use crate::dns::registry::rtype;

use super::bitmap::decode_type_bitmap;
use super::compound;
use super::svcb::split_svc_params;
use super::{RdataError, fail};

/// The kind of one RDATA field; decides how it is read, checked and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Uncompressed domain name.
    Name,
    /// 8-bit unsigned integer.
    U8,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 32-bit period that also accepts TTL units.
    Period,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// One length-prefixed character string.
    CharString,
    /// One or more character strings filling the rest.
    CharStrings,
    /// Base64 filling the rest (non-empty).
    Base64,
    /// Hex filling the rest (non-empty).
    Hex,
    /// A type mnemonic stored as u16.
    Type,
    /// A DNSSEC algorithm number or mnemonic stored as u8.
    Algorithm,
    /// An RRSIG timestamp.
    Time,
    /// An NSEC-style type bitmap filling the rest.
    TypeBitmap,
    /// Length-prefixed salt written as hex or "-".
    SaltHex,
    /// Length-prefixed base32hex hash.
    Base32Hash,
    /// CAA tag: length-prefixed alphanumerics.
    CaaTag,
    /// A string filling the rest, without length prefix (CAA value, URI target).
    RawString,
    /// RFC 9460 service parameters filling the rest.
    SvcParams,
    /// CERT certificate type (RFC 4398 §2.1): u16, mnemonic or number.
    CertType,
    /// LOC RDATA (RFC 1876), version 0: the whole 16 octets.
    Loc,
    /// APL items (RFC 3123 §4) filling the rest (may be empty).
    Apl,
    /// IPSECKEY gateway type, algorithm and gateway (RFC 4025 §2.3-2.5).
    IpsecGateway,
    /// EUI-48 address (RFC 7043 §3): six hex pairs joined by hyphens.
    Eui48,
    /// EUI-64 address (RFC 7043 §4): eight hex pairs joined by hyphens.
    Eui64,
    /// ILNP 64-bit NodeID or Locator64 (RFC 6742 §2.1, §2.3): four groups of four
    /// hex digits joined by colons.
    Ilnp64,
    /// WKS protocol (RFC 1035 §3.4.2): u8, a number or a protocol name.
    Protocol,
    /// WKS service bitmap filling the rest (may be empty), written as port numbers.
    PortBitmap,
    /// NXT type bitmap (RFC 2535 §5.2) filling the rest: types 1..=127.
    NxtBitmap,
    /// A6 RDATA (RFC 2874 §3.1): prefix length, address suffix, prefix name.
    A6,
    /// HIP RDATA (RFC 8005 §5): HIT, algorithm, public key, rendezvous servers.
    Hip,
    /// AMTRELAY discovery-optional bit, relay type and relay (RFC 8777 §4.2).
    AmtRelay,
    /// ATMA format and address: AESA hex or `+` E.164 digits.
    Atma,
    /// NSAP address (RFC 1706 §5): `0x` and hex filling the rest.
    Nsap,
    /// A character string that may be left out at the end (ISDN subaddress).
    OptCharString,
    /// A character string holding a real number (GPOS, RFC 1712 §3).
    GposNumber,
    /// Base64 filling the rest, possibly empty (SINK data).
    Base64Opt,
    /// Base64 filling the rest, written `-` when empty (DOA data).
    Base64Dash,
}

/// One field of a type's RDATA: its kind and the name used in error messages.
#[derive(Clone, Copy, Debug)]
pub(super) struct Field {
    pub(super) kind: Kind,
    pub(super) label: &'static str,
}

/// Shorthand constructor so the tables below stay readable.
const fn f(kind: Kind, label: &'static str) -> Field {
    Field { kind, label }
}

use Kind as K;

const F_A: &[Field] = &[f(K::Ipv4, "IPv4 address")];
const F_AAAA: &[Field] = &[f(K::Ipv6, "IPv6 address")];
const F_NAME: &[Field] = &[f(K::Name, "target")];
const F_SOA: &[Field] = &[
    f(K::Name, "primary server"),
    f(K::Name, "mailbox"),
    f(K::U32, "serial"),
    f(K::Period, "refresh"),
    f(K::Period, "retry"),
    f(K::Period, "expire"),
    f(K::Period, "minimum"),
];
const F_HINFO: &[Field] = &[f(K::CharString, "CPU"), f(K::CharString, "OS")];
const F_MINFO: &[Field] = &[f(K::Name, "rmailbx"), f(K::Name, "emailbx")];
const F_PREF_NAME: &[Field] = &[f(K::U16, "preference"), f(K::Name, "exchange")];
const F_TXT: &[Field] = &[f(K::CharStrings, "text")];
const F_RP: &[Field] = &[f(K::Name, "mailbox"), f(K::Name, "TXT domain")];
const F_PX: &[Field] = &[
    f(K::U16, "preference"),
    f(K::Name, "MAP822"),
    f(K::Name, "MAPX400"),
];
const F_SRV: &[Field] = &[
    f(K::U16, "priority"),
    f(K::U16, "weight"),
    f(K::U16, "port"),
    f(K::Name, "target"),
];
const F_NAPTR: &[Field] = &[
    f(K::U16, "order"),
    f(K::U16, "preference"),
    f(K::CharString, "flags"),
    f(K::CharString, "services"),
    f(K::CharString, "regexp"),
    f(K::Name, "replacement"),
];
const F_DS: &[Field] = &[
    f(K::U16, "key tag"),
    f(K::Algorithm, "algorithm"),
    f(K::U8, "digest type"),
    f(K::Hex, "digest"),
];
const F_SSHFP: &[Field] = &[
    f(K::U8, "algorithm"),
    f(K::U8, "fingerprint type"),
    f(K::Hex, "fingerprint"),
];
const F_RRSIG: &[Field] = &[
    f(K::Type, "type covered"),
    f(K::Algorithm, "algorithm"),
    f(K::U8, "labels"),
    f(K::U32, "original TTL"),
    f(K::Time, "expiration"),
    f(K::Time, "inception"),
    f(K::U16, "key tag"),
    f(K::Name, "signer name"),
    f(K::Base64, "signature"),
];
const F_NSEC: &[Field] = &[f(K::Name, "next name"), f(K::TypeBitmap, "type bitmap")];
const F_DNSKEY: &[Field] = &[
    f(K::U16, "flags"),
    f(K::U8, "protocol"),
    f(K::Algorithm, "algorithm"),
    f(K::Base64, "public key"),
];
const F_NSEC3: &[Field] = &[
    f(K::U8, "hash algorithm"),
    f(K::U8, "flags"),
    f(K::U16, "iterations"),
    f(K::SaltHex, "salt"),
    f(K::Base32Hash, "next hashed owner"),
    f(K::TypeBitmap, "type bitmap"),
];
const F_NSEC3PARAM: &[Field] = &[
    f(K::U8, "hash algorithm"),
    f(K::U8, "flags"),
    f(K::U16, "iterations"),
    f(K::SaltHex, "salt"),
];
const F_TLSA: &[Field] = &[
    f(K::U8, "usage"),
    f(K::U8, "selector"),
    f(K::U8, "matching type"),
    f(K::Hex, "certificate data"),
];
const F_OPENPGPKEY: &[Field] = &[f(K::Base64, "public key")];
const F_CSYNC: &[Field] = &[
    f(K::U32, "SOA serial"),
    f(K::U16, "flags"),
    f(K::TypeBitmap, "type bitmap"),
];
const F_ZONEMD: &[Field] = &[
    f(K::U32, "serial"),
    f(K::U8, "scheme"),
    f(K::U8, "hash algorithm"),
    f(K::Hex, "digest"),
];
const F_URI: &[Field] = &[
    f(K::U16, "priority"),
    f(K::U16, "weight"),
    f(K::RawString, "target"),
];
const F_CAA: &[Field] = &[
    f(K::U8, "flags"),
    f(K::CaaTag, "tag"),
    f(K::RawString, "value"),
];
const F_CERT: &[Field] = &[
    f(K::CertType, "certificate type"),
    f(K::U16, "key tag"),
    f(K::Algorithm, "algorithm"),
    f(K::Base64, "certificate"),
];
const F_LOC: &[Field] = &[f(K::Loc, "location")];
const F_APL: &[Field] = &[f(K::Apl, "address prefixes")];
const F_IPSECKEY: &[Field] = &[
    f(K::U8, "precedence"),
    f(K::IpsecGateway, "gateway"),
    f(K::Base64, "public key"),
];
const F_DHCID: &[Field] = &[f(K::Base64, "digest")];
const F_EUI48: &[Field] = &[f(K::Eui48, "EUI-48 address")];
const F_EUI64: &[Field] = &[f(K::Eui64, "EUI-64 address")];
const F_NID: &[Field] = &[f(K::U16, "preference"), f(K::Ilnp64, "NodeID")];
const F_L32: &[Field] = &[f(K::U16, "preference"), f(K::Ipv4, "Locator32")];
const F_L64: &[Field] = &[f(K::U16, "preference"), f(K::Ilnp64, "Locator64")];
const F_LP: &[Field] = &[f(K::U16, "preference"), f(K::Name, "FQDN")];
const F_X25: &[Field] = &[f(K::CharString, "PSDN address")];
const F_WKS: &[Field] = &[
    f(K::Ipv4, "address"),
    f(K::Protocol, "protocol"),
    f(K::PortBitmap, "services"),
];
const F_ISDN: &[Field] = &[
    f(K::CharString, "ISDN address"),
    f(K::OptCharString, "subaddress"),
];
const F_NSAP: &[Field] = &[f(K::Nsap, "NSAP address")];
const F_GPOS: &[Field] = &[
    f(K::GposNumber, "longitude"),
    f(K::GposNumber, "latitude"),
    f(K::GposNumber, "altitude"),
];
const F_NXT: &[Field] = &[f(K::Name, "next name"), f(K::NxtBitmap, "type bitmap")];
const F_A6: &[Field] = &[f(K::A6, "A6 address")];
const F_HEX_DATA: &[Field] = &[f(K::Hex, "data")];
const F_ATMA: &[Field] = &[f(K::Atma, "ATM address")];
const F_SINK: &[Field] = &[
    f(K::U8, "meaning"),
    f(K::U8, "coding"),
    f(K::U8, "subcoding"),
    f(K::Base64Opt, "data"),
];
const F_HIP: &[Field] = &[f(K::Hip, "HIP")];
const F_TALINK: &[Field] = &[f(K::Name, "previous"), f(K::Name, "next")];
const F_DOA: &[Field] = &[
    f(K::U32, "enterprise"),
    f(K::U32, "type"),
    f(K::U8, "location"),
    f(K::CharString, "media type"),
    f(K::Base64Dash, "data"),
];
const F_AMTRELAY: &[Field] = &[f(K::U8, "precedence"), f(K::AmtRelay, "relay")];
const F_SVCB: &[Field] = &[
    f(K::U16, "priority"),
    f(K::Name, "target"),
    f(K::SvcParams, "parameters"),
];

/// The field table for a type, or `None` if only RFC 3597 generic form is supported:
/// types without a row here (UINFO, UID, GID, UNSPEC among those with a mnemonic:
/// reserved by IANA with no presentation format in any RFC; named-checkzone 9.18
/// knows their mnemonics but refuses anything but `\#`, kzonecheck 3.2 knows none).
pub(super) fn descriptor(rt: u16) -> Option<&'static [Field]> {
    use rtype::*;
    Some(match rt {
        A => F_A,
        AAAA => F_AAAA,
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME | NSAP_PTR => F_NAME,
        SOA => F_SOA,
        HINFO => F_HINFO,
        MINFO => F_MINFO,
        MX | AFSDB | RT | KX => F_PREF_NAME,
        TXT | SPF | NINFO | AVC | RESINFO | WALLET => F_TXT,
        RP => F_RP,
        PX => F_PX,
        SRV => F_SRV,
        NAPTR => F_NAPTR,
        DS | CDS | DLV | TA => F_DS,
        SSHFP => F_SSHFP,
        RRSIG | SIG => F_RRSIG,
        NSEC => F_NSEC,
        DNSKEY | CDNSKEY | KEY | RKEY => F_DNSKEY,
        NSEC3 => F_NSEC3,
        NSEC3PARAM => F_NSEC3PARAM,
        TLSA | SMIMEA => F_TLSA,
        OPENPGPKEY => F_OPENPGPKEY,
        CSYNC => F_CSYNC,
        ZONEMD => F_ZONEMD,
        URI => F_URI,
        CAA => F_CAA,
        SVCB | HTTPS => F_SVCB,
        X25 => F_X25,
        CERT => F_CERT,
        LOC => F_LOC,
        APL => F_APL,
        IPSECKEY => F_IPSECKEY,
        DHCID => F_DHCID,
        EUI48 => F_EUI48,
        EUI64 => F_EUI64,
        NID => F_NID,
        L32 => F_L32,
        L64 => F_L64,
        LP => F_LP,
        WKS => F_WKS,
        ISDN => F_ISDN,
        NSAP => F_NSAP,
        GPOS => F_GPOS,
        NXT => F_NXT,
        A6 => F_A6,
        EID | NIMLOC => F_HEX_DATA,
        ATMA => F_ATMA,
        SINK => F_SINK,
        HIP => F_HIP,
        TALINK => F_TALINK,
        DOA => F_DOA,
        AMTRELAY => F_AMTRELAY,
        _ => return None,
    })
}

/// Splits wire RDATA into per-field slices following a field table, validating
/// structure; calls `visit` for each field. Fails on truncation or trailing bytes.
pub(super) fn walk_wire<'w>(
    fields: &[Field],
    wire: &'w [u8],
    mut visit: impl FnMut(Kind, &'w [u8]) -> Result<(), RdataError>,
) -> Result<(), RdataError> {
    let mut pos = 0usize;
    for field in fields {
        let rest = wire.get(pos..).unwrap_or(&[]);
        let len = field_len(field.kind, rest)
            .map_err(|e| RdataError::new(format!("{}: {}", field.label, e.message)))?;
        let slice = rest
            .get(..len)
            .ok_or_else(|| RdataError::new(format!("{}: truncated", field.label)))?;
        visit(field.kind, slice)?;
        pos += len;
    }
    if pos != wire.len() {
        return fail(format!(
            "{} bytes of trailing data",
            wire.len().saturating_sub(pos)
        ));
    }
    Ok(())
}

/// The wire length of a field at the start of `rest`, validating its content.
fn field_len(kind: Kind, rest: &[u8]) -> Result<usize, RdataError> {
    let fixed = |n: usize| {
        if rest.len() >= n {
            Ok(n)
        } else {
            fail("truncated")
        }
    };
    let prefixed = |min: usize| {
        let len = usize::from(*rest.first().ok_or_else(|| RdataError::new("truncated"))?);
        if len < min {
            return fail("empty value");
        }
        fixed(1 + len)
    };
    match kind {
        K::Name => read_wire_name(rest)
            .map(|(_, n)| n)
            .map_err(|e| RdataError::new(e.to_string())),
        K::U8 | K::Algorithm | K::Protocol => fixed(1),
        K::U16 | K::Type | K::CertType => fixed(2),
        K::U32 | K::Period | K::Time | K::Ipv4 => fixed(4),
        K::Ipv6 => fixed(16),
        K::CharString | K::SaltHex => prefixed(0),
        K::OptCharString if rest.is_empty() => Ok(0),
        K::OptCharString => prefixed(0),
        K::GposNumber => {
            let n = prefixed(0)?;
            if rest.get(1..n).is_some_and(compound::is_gpos_number) {
                Ok(n)
            } else {
                fail("not a number (RFC 1712 section 3)")
            }
        }
        K::Base32Hash => prefixed(1),
        K::CaaTag => {
            let n = prefixed(1)?;
            if rest
                .get(1..n)
                .is_some_and(|t| t.iter().all(u8::is_ascii_alphanumeric))
            {
                Ok(n)
            } else {
                fail("tag must be letters and digits")
            }
        }
        K::CharStrings => {
            let mut pos = 0;
            while pos < rest.len() {
                pos += 1 + usize::from(rest.get(pos).copied().unwrap_or(0));
            }
            if rest.is_empty() || pos != rest.len() {
                return fail("malformed character strings");
            }
            Ok(pos)
        }
        K::Base64 | K::Hex => {
            if rest.is_empty() {
                return fail("empty");
            }
            Ok(rest.len())
        }
        K::RawString | K::Base64Opt | K::Base64Dash => Ok(rest.len()),
        K::PortBitmap => compound::check_port_bitmap(rest),
        K::NxtBitmap => compound::check_nxt_bitmap(rest),
        K::A6 => compound::check_a6(rest),
        K::Hip => compound::check_hip(rest),
        K::AmtRelay => compound::check_amt_relay(rest),
        K::Atma => compound::check_atma(rest),
        K::Nsap if rest.is_empty() => fail("empty"),
        K::Nsap => Ok(rest.len()),
        K::TypeBitmap => decode_type_bitmap(rest).map(|_| rest.len()),
        K::SvcParams => split_svc_params(rest).map(|_| rest.len()),
        K::Loc => super::loc::check_loc_wire(rest).map(|()| rest.len()),
        K::Apl => super::apl::split_apl(rest).map(|_| rest.len()),
        K::IpsecGateway => {
            let [gw_type, _alg, tail @ ..] = rest else {
                return fail("truncated");
            };
            let len = match gw_type {
                0 => 0,
                1 => 4,
                2 => 16,
                3 => read_wire_name(tail)
                    .map(|(_, n)| n)
                    .map_err(|e| RdataError::new(e.to_string()))?,
                t => return fail(format!("unknown gateway type {t}")),
            };
            fixed(2 + len)
        }
        K::Eui48 => fixed(6),
        K::Eui64 | K::Ilnp64 => fixed(8),
    }
}
