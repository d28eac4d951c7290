//! The Resource Record (RR) TYPEs registry (IANA "Domain Name System (DNS)
//! Parameters"): every record type zonesign knows by name, and whether the names in
//! its RDATA are lowercased in canonical form.
//!
//! The mnemonics here are the ones the zone-file reader accepts in type fields and NSEC
//! bitmaps and the ones every output prints; a type without a row is read and written in
//! the RFC 3597 `TYPEnnn` form.

use std::fmt::Write as _;

use super::{parse_decimal, registry, strip_prefix_ci};

/// What the code needs to know about a record type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeProps {
    /// Names in the RDATA are lowercased in canonical form: RFC 4034 §6.2 as amended
    /// by RFC 6840 §5.1 (which removed NSEC); HINFO's RDATA holds no names. The stored
    /// RDATA is lowercased already, so the text written (for SIG, NXT and A6 in RFC
    /// 3597 form) reads back to the signed wire in a validator that canonicalizes it
    /// (named-checkzone) as in one that keeps it opaque (kzonecheck).
    pub lowercase_names: bool,
}

impl TypeProps {
    /// No special treatment.
    pub const PLAIN: TypeProps = TypeProps {
        lowercase_names: false,
    };
    /// Names in the RDATA are lowercased in canonical form (RFC 4034 §6.2).
    pub const LOWERCASE_NAMES: TypeProps = TypeProps {
        lowercase_names: true,
    };
}

registry! {
    number: u16, props: TypeProps = TypeProps::PLAIN;

    /// IPv4 address.
    A = 1, "A";
    /// Authoritative name server.
    NS = 2, "NS", TypeProps::LOWERCASE_NAMES;
    /// Mail destination (obsolete).
    MD = 3, "MD", TypeProps::LOWERCASE_NAMES;
    /// Mail forwarder (obsolete).
    MF = 4, "MF", TypeProps::LOWERCASE_NAMES;
    /// Canonical name (alias).
    CNAME = 5, "CNAME", TypeProps::LOWERCASE_NAMES;
    /// Start of authority.
    SOA = 6, "SOA", TypeProps::LOWERCASE_NAMES;
    /// Mailbox domain name.
    MB = 7, "MB", TypeProps::LOWERCASE_NAMES;
    /// Mail group member.
    MG = 8, "MG", TypeProps::LOWERCASE_NAMES;
    /// Mail rename domain name.
    MR = 9, "MR", TypeProps::LOWERCASE_NAMES;
    /// Null RR.
    NULL = 10, "NULL";
    /// Well-known service.
    WKS = 11, "WKS";
    /// Domain name pointer.
    PTR = 12, "PTR", TypeProps::LOWERCASE_NAMES;
    /// Host information.
    HINFO = 13, "HINFO";
    /// Mailbox information.
    MINFO = 14, "MINFO", TypeProps::LOWERCASE_NAMES;
    /// Mail exchange.
    MX = 15, "MX", TypeProps::LOWERCASE_NAMES;
    /// Text strings.
    TXT = 16, "TXT";
    /// Responsible person.
    RP = 17, "RP", TypeProps::LOWERCASE_NAMES;
    /// AFS database location.
    AFSDB = 18, "AFSDB", TypeProps::LOWERCASE_NAMES;
    /// X.25 PSDN address.
    X25 = 19, "X25";
    /// ISDN address.
    ISDN = 20, "ISDN";
    /// Route through.
    RT = 21, "RT", TypeProps::LOWERCASE_NAMES;
    /// NSAP address.
    NSAP = 22, "NSAP";
    /// Domain name pointer, NSAP style.
    NSAP_PTR = 23, "NSAP-PTR";
    /// Security signature (obsolete).
    SIG = 24, "SIG", TypeProps::LOWERCASE_NAMES;
    /// Security key (obsolete for DNSSEC).
    KEY = 25, "KEY";
    /// X.400 mapping.
    PX = 26, "PX", TypeProps::LOWERCASE_NAMES;
    /// Geographical position.
    GPOS = 27, "GPOS";
    /// IPv6 address.
    AAAA = 28, "AAAA";
    /// Location information.
    LOC = 29, "LOC";
    /// Next domain (obsolete).
    NXT = 30, "NXT", TypeProps::LOWERCASE_NAMES;
    /// Endpoint identifier (Nimrod, never an RFC; hex as BIND reads it).
    EID = 31, "EID";
    /// Nimrod locator (never an RFC; hex as BIND reads it).
    NIMLOC = 32, "NIMLOC";
    /// Service locator.
    SRV = 33, "SRV", TypeProps::LOWERCASE_NAMES;
    /// ATM address.
    ATMA = 34, "ATMA";
    /// Naming authority pointer.
    NAPTR = 35, "NAPTR", TypeProps::LOWERCASE_NAMES;
    /// Key exchanger.
    KX = 36, "KX", TypeProps::LOWERCASE_NAMES;
    /// Certificate.
    CERT = 37, "CERT";
    /// IPv6 address (historic).
    A6 = 38, "A6", TypeProps::LOWERCASE_NAMES;
    /// Delegation name (subtree alias).
    DNAME = 39, "DNAME", TypeProps::LOWERCASE_NAMES;
    /// Kitchen sink (draft-eastlake-kitchen-sink, as BIND reads it).
    SINK = 40, "SINK";
    /// Address prefix list.
    APL = 42, "APL";
    /// Delegation signer.
    DS = 43, "DS";
    /// SSH key fingerprint.
    SSHFP = 44, "SSHFP";
    /// IPsec key.
    IPSECKEY = 45, "IPSECKEY";
    /// DNSSEC signature.
    RRSIG = 46, "RRSIG", TypeProps::LOWERCASE_NAMES;
    /// Next secure record.
    NSEC = 47, "NSEC";
    /// DNSSEC public key.
    DNSKEY = 48, "DNSKEY";
    /// DHCP identifier.
    DHCID = 49, "DHCID";
    /// Hashed next secure record.
    NSEC3 = 50, "NSEC3";
    /// NSEC3 parameters.
    NSEC3PARAM = 51, "NSEC3PARAM";
    /// TLS certificate association.
    TLSA = 52, "TLSA";
    /// S/MIME certificate association.
    SMIMEA = 53, "SMIMEA";
    /// Host identity protocol.
    HIP = 55, "HIP";
    /// Zone status information (as BIND reads it: text strings).
    NINFO = 56, "NINFO";
    /// Resource key (DNSKEY form, as BIND reads it).
    RKEY = 57, "RKEY";
    /// Trust anchor link (two names, as BIND reads it).
    TALINK = 58, "TALINK";
    /// Child DS.
    CDS = 59, "CDS";
    /// Child DNSKEY.
    CDNSKEY = 60, "CDNSKEY";
    /// OpenPGP public key.
    OPENPGPKEY = 61, "OPENPGPKEY";
    /// Child-to-parent synchronization.
    CSYNC = 62, "CSYNC";
    /// Zone message digest.
    ZONEMD = 63, "ZONEMD";
    /// General service binding.
    SVCB = 64, "SVCB";
    /// HTTPS service binding.
    HTTPS = 65, "HTTPS";
    /// Sender policy framework (TXT format).
    SPF = 99, "SPF";
    /// Reserved (IANA; no presentation format: RFC 3597 form only).
    UINFO = 100, "UINFO";
    /// Reserved (IANA; no presentation format: RFC 3597 form only).
    UID = 101, "UID";
    /// Reserved (IANA; no presentation format: RFC 3597 form only).
    GID = 102, "GID";
    /// Reserved (IANA; no presentation format: RFC 3597 form only).
    UNSPEC = 103, "UNSPEC";
    /// ILNP node identifier.
    NID = 104, "NID";
    /// ILNP 32-bit locator.
    L32 = 105, "L32";
    /// ILNP 64-bit locator.
    L64 = 106, "L64";
    /// ILNP locator FQDN.
    LP = 107, "LP";
    /// 48-bit MAC address.
    EUI48 = 108, "EUI48";
    /// 64-bit MAC address.
    EUI64 = 109, "EUI64";
    /// Uniform resource identifier.
    URI = 256, "URI";
    /// Certification authority authorization.
    CAA = 257, "CAA";
    /// Application visibility and control (text strings).
    AVC = 258, "AVC";
    /// Digital object architecture (draft-durand-doa-over-dns, as BIND reads it).
    DOA = 259, "DOA";
    /// Automatic multicast tunneling relay (RFC 8777).
    AMTRELAY = 260, "AMTRELAY";
    /// Resolver information (RFC 9606: text strings).
    RESINFO = 261, "RESINFO";
    /// Public wallet address (text strings).
    WALLET = 262, "WALLET";
    /// DNSSEC trust authorities (DS form).
    TA = 32768, "TA";
    /// DNSSEC lookaside validation (historic).
    DLV = 32769, "DLV";
}

/// The types that make up nearly all of a TLD zone, compared as written by zone tools
/// (upper case) before the case-insensitive search of the whole table: the reader looks
/// one up per record.
const COMMON: [u16; 6] = [NS, DS, A, AAAA, RRSIG, NSEC];

/// Reads a type field: a mnemonic in any case, or the RFC 3597 `TYPEnnn` form.
pub fn from_text(text: &[u8]) -> Option<u16> {
    let common = COMMON
        .into_iter()
        .find(|&t| mnemonic(t).is_some_and(|m| m.as_bytes() == text));
    if common.is_some() {
        return common;
    }
    if let Some(code) = from_mnemonic(text) {
        return Some(code);
    }
    let digits = strip_prefix_ci(text, b"TYPE")?;
    parse_decimal(digits, u64::from(u16::MAX)).and_then(|v| u16::try_from(v).ok())
}

/// Appends the mnemonic of `code`, or `TYPEnnn` (RFC 3597) when the table has none,
/// without allocating: the output stage writes one per record.
pub fn push_text(code: u16, out: &mut String) {
    match mnemonic(code) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "TYPE{code}");
        }
    }
}

/// The mnemonic of `code`, or `TYPEnnn` (RFC 3597) when the table has none.
pub fn to_text(code: u16) -> String {
    let mut s = String::new();
    push_text(code, &mut s);
    s
}
