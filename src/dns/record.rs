//! The resource record every later stage consumes.
//!
//! RDATA is kept as canonical wire bytes (names uncompressed, lowercased where
//! RFC 4034 §6.2 requires), because that is what gets sorted, deduplicated and signed;
//! presentation form is only produced again on output.

use crate::dns::name::Name;

/// Where a record came from, for error messages: index into the parsed zone's file
/// list, and 1-based line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SourceLoc {
    /// Index into `ParsedZone::files`.
    pub file: u32,
    /// 1-based line where the record starts.
    pub line: u32,
}

/// One resource record in canonical wire form, with its source location so that
/// later checks can point at the offending line.
#[derive(Clone, Debug)]
pub struct Record {
    /// Owner name (stored lowercased by the zone file reader).
    pub owner: Name,
    /// RR type number (see [`rtype`]).
    pub rtype: u16,
    /// RR class number ([`CLASS_IN`] for anything we sign).
    pub class: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Uncompressed canonical RDATA.
    pub rdata: Box<[u8]>,
    /// Where the record was read from.
    pub loc: SourceLoc,
}

/// RR type numbers (IANA registry) used by name across the pipeline, so no stage
/// writes a bare magic number.
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Authoritative name server.
    pub const NS: u16 = 2;
    /// Mail destination (obsolete).
    pub const MD: u16 = 3;
    /// Mail forwarder (obsolete).
    pub const MF: u16 = 4;
    /// Canonical name (alias).
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Mailbox domain name.
    pub const MB: u16 = 7;
    /// Mail group member.
    pub const MG: u16 = 8;
    /// Mail rename domain name.
    pub const MR: u16 = 9;
    /// Null RR.
    pub const NULL: u16 = 10;
    /// Well-known service.
    pub const WKS: u16 = 11;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Host information.
    pub const HINFO: u16 = 13;
    /// Mailbox information.
    pub const MINFO: u16 = 14;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text strings.
    pub const TXT: u16 = 16;
    /// Responsible person.
    pub const RP: u16 = 17;
    /// AFS database location.
    pub const AFSDB: u16 = 18;
    /// Route through.
    pub const RT: u16 = 21;
    /// X.400 mapping.
    pub const PX: u16 = 26;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service locator.
    pub const SRV: u16 = 33;
    /// Naming authority pointer.
    pub const NAPTR: u16 = 35;
    /// Key exchanger.
    pub const KX: u16 = 36;
    /// IPv6 address (historic).
    pub const A6: u16 = 38;
    /// Delegation name (subtree alias).
    pub const DNAME: u16 = 39;
    /// Delegation signer.
    pub const DS: u16 = 43;
    /// SSH key fingerprint.
    pub const SSHFP: u16 = 44;
    /// DNSSEC signature.
    pub const RRSIG: u16 = 46;
    /// Next secure record.
    pub const NSEC: u16 = 47;
    /// DNSSEC public key.
    pub const DNSKEY: u16 = 48;
    /// Hashed next secure record.
    pub const NSEC3: u16 = 50;
    /// NSEC3 parameters.
    pub const NSEC3PARAM: u16 = 51;
    /// TLS certificate association.
    pub const TLSA: u16 = 52;
    /// S/MIME certificate association.
    pub const SMIMEA: u16 = 53;
    /// Child DS.
    pub const CDS: u16 = 59;
    /// Child DNSKEY.
    pub const CDNSKEY: u16 = 60;
    /// OpenPGP public key.
    pub const OPENPGPKEY: u16 = 61;
    /// Child-to-parent synchronization.
    pub const CSYNC: u16 = 62;
    /// Zone message digest.
    pub const ZONEMD: u16 = 63;
    /// General service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS service binding.
    pub const HTTPS: u16 = 65;
    /// Sender policy framework (TXT format).
    pub const SPF: u16 = 99;
    /// Uniform resource identifier.
    pub const URI: u16 = 256;
    /// Certification authority authorization.
    pub const CAA: u16 = 257;
}

/// The Internet class, the only one zonesign signs.
pub const CLASS_IN: u16 = 1;
/// The CHAOS class (accepted by the parser, rejected later).
pub const CLASS_CH: u16 = 3;
/// The Hesiod class (accepted by the parser, rejected later).
pub const CLASS_HS: u16 = 4;
/// The CSNET class (obsolete; accepted by the parser, rejected later).
pub const CLASS_CS: u16 = 2;
