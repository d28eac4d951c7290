//! Domain names in uncompressed wire form.
//!
//! Why our own type instead of `hickory_proto::rr::Name`: the signer holds millions of
//! owner names at once and compares them constantly (canonical ordering, NSEC chains).
//! A single boxed wire-format byte string is several times smaller than hickory's
//! label vectors, and comparison needs no allocation. Case is kept exactly as given
//! (RDATA of some types must keep it), while equality, hashing and ordering are
//! case-insensitive, as DNS requires.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest wire-format name allowed by RFC 1035 §2.3.4, root label included.
pub const MAX_NAME_LEN: usize = 255;
/// Longest single label allowed by RFC 1035 §2.3.4.
pub const MAX_LABEL_LEN: usize = 63;
/// Upper bound on the number of labels (excluding root) in a legal name: each
/// label takes at least two octets and the root one, so 127 fit in 255 octets.
const MAX_LABELS: usize = 128;

/// Why a name could not be built, so callers can report the exact defect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The text was empty; a name needs at least "." or "@".
    #[error("empty name")]
    Empty,
    /// Two dots in a row (or a leading dot) make an empty label, which is illegal.
    #[error("empty label in name")]
    EmptyLabel,
    /// A label exceeded 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// The whole name exceeded 255 octets in wire form.
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// A relative name (or "@") was given with no origin to complete it.
    #[error("relative name with no origin")]
    NoOrigin,
    /// A backslash escape was malformed (`\DDD` needs three digits <= 255).
    #[error("bad escape in name")]
    BadEscape,
    /// Wire data ended before the root label, or a label ran off the end.
    #[error("truncated name in wire data")]
    Truncated,
    /// A wire label length had the top bits set (compression pointers are not
    /// allowed in uncompressed RDATA).
    #[error("bad label length in wire data (compression is not allowed)")]
    BadLabelType,
}

/// A domain name, stored as uncompressed wire format including the root label.
///
/// The case of letters is kept as given; comparison, hashing and ordering ignore
/// ASCII case so that a `Name` can be used directly as a map key for DNS data.
#[derive(Clone)]
pub struct Name {
    wire: NameBytes,
}

/// Longest wire name kept inside a [`Name`] rather than on the heap.
const INLINE: usize = 22;

/// The octets of a name: inline when short, else on the heap.
///
/// Why: a zone of a million delegations holds millions of names, and a heap allocation
/// per name cost 32 octets of allocator overhead, a malloc and a free, and a cache miss
/// on every comparison of the sorted zone (grouping, merge walks, NSEC). Wire names of
/// up to 22 octets (nearly every delegation and glue name below a TLD) live in the
/// `Name` itself, which stays 24 octets.
#[derive(Clone)]
enum NameBytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl From<&[u8]> for NameBytes {
    fn from(bytes: &[u8]) -> NameBytes {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..bytes.len()].copy_from_slice(bytes);
                NameBytes::Inline { len, buf }
            }
            _ => NameBytes::Heap(bytes.into()),
        }
    }
}

impl std::ops::Deref for NameBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            NameBytes::Inline { len, buf } => &buf[..usize::from(*len)],
            NameBytes::Heap(b) => b,
        }
    }
}

impl std::ops::DerefMut for NameBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            NameBytes::Inline { len, buf } => &mut buf[..usize::from(*len)],
            NameBytes::Heap(b) => b,
        }
    }
}

/// Reads one wire-format name from the front of `bytes`, returning the name and the
/// number of octets consumed. Used for names embedded inside RDATA.
pub fn read_wire_name(bytes: &[u8]) -> Result<(Name, usize), NameError> {
    let mut pos = 0usize;
    loop {
        let len = usize::from(*bytes.get(pos).ok_or(NameError::Truncated)?);
        if len == 0 {
            pos += 1;
            break;
        }
        if len > MAX_LABEL_LEN {
            return Err(NameError::BadLabelType);
        }
        pos += 1 + len;
        if pos > bytes.len() {
            return Err(NameError::Truncated);
        }
        if pos >= MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
    }
    let wire = bytes.get(..pos).ok_or(NameError::Truncated)?;
    Ok((Name { wire: wire.into() }, pos))
}

impl Name {
    /// The root name ".", the starting point for building absolute names.
    pub fn root() -> Name {
        Name {
            wire: NameBytes::from(&[0u8][..]),
        }
    }

    /// Builds a name from exactly one uncompressed wire-format name, rejecting
    /// anything malformed or trailing bytes, so a `Name` is always valid.
    pub fn from_wire(bytes: &[u8]) -> Result<Name, NameError> {
        let (name, used) = read_wire_name(bytes)?;
        if used != bytes.len() {
            return Err(NameError::BadLabelType);
        }
        Ok(name)
    }

    /// Parses a name in master-file presentation form.
    ///
    /// `@` means the origin; a name ending in an unescaped `.` is absolute, anything
    /// else is relative and gets `origin` appended. `\X` and `\DDD` escapes are
    /// decoded. Errors rather than guesses on every malformed input, since zone
    /// data is untrusted.
    pub fn parse(text: &[u8], origin: Option<&Name>) -> Result<Name, NameError> {
        let wire = parse_presentation(text, origin)?;
        Ok(Name {
            wire: wire.as_slice().into(),
        })
    }

    /// Like [`Name::parse`], but appends the wire form to `out` instead of building a
    /// `Name`, so RDATA parsing needs no allocation per embedded name. Nothing is
    /// appended on error.
    pub fn parse_into(
        text: &[u8],
        origin: Option<&Name>,
        out: &mut Vec<u8>,
    ) -> Result<(), NameError> {
        let wire = parse_presentation(text, origin)?;
        out.extend_from_slice(wire.as_slice());
        Ok(())
    }

    /// The uncompressed wire form, as it goes into RDATA and signatures.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// A copy with ASCII letters lowercased: the canonical form of RFC 4034 §6.2.
    pub fn to_lowercase(&self) -> Name {
        Name {
            wire: NameBytes::from(&self.wire.to_ascii_lowercase()[..]),
        }
    }

    /// Lowercases in place, reusing the allocation; the zone reader calls this for
    /// every owner name, so avoiding a copy matters on large zones.
    pub fn into_lowercase(mut self) -> Name {
        self.wire.make_ascii_lowercase();
        self
    }

    /// Number of labels excluding the root: "www.example." has 2.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The RRSIG Labels field value (RFC 4034 §3.1.3): wildcard "*" is not counted.
    pub fn rrsig_labels(&self) -> u8 {
        let n = self.label_count() - usize::from(self.is_wildcard());
        u8::try_from(n).unwrap_or(u8::MAX)
    }

    /// True when the leftmost label is exactly "*" (RFC 4592 wildcard owner).
    pub fn is_wildcard(&self) -> bool {
        self.wire.starts_with(&[1, b'*'])
    }

    /// True if `self` is at or below `other` (equal names count), ignoring case.
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        // Only the tail as long as `other` can match: one comparison, at a label start.
        let Some(at) = self.wire.len().checked_sub(other.wire.len()) else {
            return false;
        };
        self.wire[at..].eq_ignore_ascii_case(&other.wire)
            && self
                .label_offsets_iter()
                .chain(std::iter::once(self.wire.len() - 1))
                .take_while(|&off| off <= at)
                .any(|off| off == at)
    }

    /// The name with its leftmost label removed, or `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        let first = usize::from(*self.wire.first()?);
        if first == 0 {
            return None;
        }
        let rest = self.wire.get(1 + first..)?;
        Some(Name { wire: rest.into() })
    }

    /// The labels left to right, excluding the root, without their length octets.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> {
        self.label_offsets_iter().filter_map(move |off| {
            let len = usize::from(*self.wire.get(off)?);
            self.wire.get(off + 1..off + 1 + len)
        })
    }

    /// The rightmost `n` labels as a name (the whole name if it has fewer); used to
    /// rebuild the "closest encloser" of a wildcard expansion for signing.
    pub fn suffix(&self, n: usize) -> Name {
        let count = self.label_count();
        let skip = count.saturating_sub(n);
        let off = self
            .label_offsets_iter()
            .nth(skip)
            .unwrap_or(self.wire.len() - 1);
        let wire = self.wire.get(off..).unwrap_or(&[0]);
        Name { wire: wire.into() }
    }

    /// `*.` prepended to this name, for building the wildcard owner an RRSIG covers.
    ///
    /// The result can exceed 255 octets only if `self` is already 254 or 255 octets
    /// long, which cannot happen for a suffix of a longer valid name.
    pub fn wildcard_of(&self) -> Name {
        let mut wire = Vec::with_capacity(self.wire.len() + 2);
        wire.extend_from_slice(&[1, b'*']);
        wire.extend_from_slice(&self.wire);
        Name {
            wire: NameBytes::from(&wire[..]),
        }
    }

    /// RFC 4034 §6.1 canonical ordering: labels compared right to left as lowercased
    /// octet strings, a missing label sorting first. Allocation-free because NSEC
    /// chain building sorts millions of names.
    pub fn canonical_cmp(&self, other: &Name) -> Ordering {
        // Sorting a zone compares each owner with its own other records most of the time.
        if *self.wire == *other.wire {
            return Ordering::Equal;
        }
        let mut a_off = [0u8; MAX_LABELS];
        let mut b_off = [0u8; MAX_LABELS];
        let na = self.fill_offsets(&mut a_off);
        let nb = other.fill_offsets(&mut b_off);
        let a_labels = a_off.get(..na).unwrap_or(&[]).iter().rev();
        let b_labels = b_off.get(..nb).unwrap_or(&[]).iter().rev();
        for (&ao, &bo) in a_labels.zip(b_labels) {
            let ord = cmp_label(self.label_at(ao.into()), other.label_at(bo.into()));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        na.cmp(&nb)
    }

    /// An 8-octet, order-preserving prefix of this name's canonical position among the
    /// names below `origin`, or `None` when the name is not at or below `origin`.
    ///
    /// Sorting a zone by [`Name::canonical_cmp`] alone chases one heap pointer per name
    /// per comparison, and at TLD size those cache misses were most of the sort's time.
    /// With these keys in a flat array most comparisons touch no name at all: when two
    /// keys differ their order is the canonical order; only equal keys need the full
    /// comparison. The labels below `origin` are taken right to left, lowercased, each
    /// ended by a 0 octet; octets 0 and 1 are escaped as 1,1 and 1,2 so that the ending
    /// sorts before any content (a shorter label first, RFC 4034 §6.1).
    pub fn canonical_key_below(&self, origin: &Name) -> Option<u64> {
        if !self.is_subdomain_of(origin) {
            return None;
        }
        let mut offs = [0u8; MAX_LABELS];
        let n = self.fill_offsets(&mut offs);
        let mut key = [0u8; 8];
        let mut k = 0;
        let mut push = |byte: u8| {
            if let Some(slot) = key.get_mut(k) {
                *slot = byte;
                k += 1;
            }
        };
        for &off in offs.get(..n)?.iter().rev().skip(origin.label_count()) {
            for &b in self.label_at(off.into()) {
                match b.to_ascii_lowercase() {
                    low @ (0 | 1) => {
                        push(1);
                        push(low + 1);
                    }
                    low => push(low),
                }
            }
            push(0);
        }
        Some(u64::from_be_bytes(key))
    }

    /// Appends the canonical (lowercased, uncompressed) wire form, as signed data needs.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend(self.wire.iter().map(u8::to_ascii_lowercase));
    }

    /// Offsets of each non-root label's length octet, left to right.
    fn label_offsets_iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut pos = 0usize;
        std::iter::from_fn(move || {
            let len = usize::from(*self.wire.get(pos)?);
            if len == 0 {
                return None;
            }
            let here = pos;
            pos += 1 + len;
            Some(here)
        })
    }

    /// Fills `offs` with label offsets and returns how many there are.
    fn fill_offsets(&self, offs: &mut [u8; MAX_LABELS]) -> usize {
        let mut n = 0;
        for (slot, off) in offs.iter_mut().zip(self.label_offsets_iter()) {
            *slot = u8::try_from(off).unwrap_or(u8::MAX);
            n += 1;
        }
        n
    }

    /// The label bytes whose length octet is at `off`.
    fn label_at(&self, off: usize) -> &[u8] {
        let len = self.wire.get(off).map_or(0, |&l| usize::from(l));
        self.wire.get(off + 1..off + 1 + len).unwrap_or(&[])
    }
}

/// Compares two labels as lowercased octet strings, shorter-prefix first.
fn cmp_label(a: &[u8], b: &[u8]) -> Ordering {
    // Owners are stored lowercase, so bytes mostly differ for real; lowercasing only
    // where they differ keeps this a tight loop (it runs tens of millions of times).
    for (&x, &y) in a.iter().zip(b) {
        if x != y {
            let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
            if x != y {
                return x.cmp(&y);
            }
        }
    }
    a.len().cmp(&b.len())
}

/// A fixed stack buffer for building a wire name without touching the heap; the
/// zone reader parses millions of names, so allocation here would dominate.
struct WireBuf {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl WireBuf {
    /// An empty buffer.
    fn new() -> WireBuf {
        WireBuf {
            buf: [0; MAX_NAME_LEN],
            len: 0,
        }
    }

    /// Appends one byte, failing once the name would exceed 255 octets.
    fn push(&mut self, b: u8) -> Result<(), NameError> {
        let slot = self.buf.get_mut(self.len).ok_or(NameError::NameTooLong)?;
        *slot = b;
        self.len += 1;
        Ok(())
    }

    /// Appends bytes, failing once the name would exceed 255 octets.
    fn extend(&mut self, bytes: &[u8]) -> Result<(), NameError> {
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(NameError::NameTooLong)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// The bytes written so far.
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Writes the length octet of the label starting at `start`, checking its size.
    fn close_label(&mut self, start: usize) -> Result<(), NameError> {
        let len = self.len - start - 1;
        if len == 0 {
            return Err(NameError::EmptyLabel);
        }
        if len > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if let Some(slot) = self.buf.get_mut(start) {
            *slot = len as u8;
        }
        Ok(())
    }
}

/// Parses any presentation name into a stack buffer (see [`Name::parse`]).
fn parse_presentation(text: &[u8], origin: Option<&Name>) -> Result<WireBuf, NameError> {
    let mut wire = WireBuf::new();
    match text {
        [] => return Err(NameError::Empty),
        b"@" => wire.extend(&origin.ok_or(NameError::NoOrigin)?.wire)?,
        b"." => wire.push(0)?,
        _ => parse_labels(text, origin, &mut wire)?,
    }
    Ok(wire)
}

/// Parses a non-trivial presentation name (not "", "@" or ".").
fn parse_labels(text: &[u8], origin: Option<&Name>, wire: &mut WireBuf) -> Result<(), NameError> {
    let mut label_start = 0usize;
    wire.push(0)?;
    let mut absolute = false;
    let mut i = 0usize;
    while let Some(&c) = text.get(i) {
        i += 1;
        match c {
            b'.' => {
                wire.close_label(label_start)?;
                if i == text.len() {
                    absolute = true;
                } else {
                    label_start = wire.len;
                    wire.push(0)?;
                }
            }
            b'\\' => {
                let (byte, used) = decode_escape(text.get(i..).unwrap_or(&[]))?;
                wire.push(byte)?;
                i += used;
            }
            _ => wire.push(c)?,
        }
    }
    if absolute {
        wire.push(0)
    } else {
        wire.close_label(label_start)?;
        let origin = origin.ok_or(NameError::NoOrigin)?;
        wire.extend(&origin.wire)
    }
}

/// Decodes the escape after a backslash: `DDD` (three decimal digits, <= 255) or a
/// single literal byte. Returns the byte and how many input bytes were consumed.
/// Shared with RDATA character-string parsing so both agree on escape rules.
pub fn decode_escape(rest: &[u8]) -> Result<(u8, usize), NameError> {
    match rest {
        [d, ..] if d.is_ascii_digit() => {
            let digits = rest.get(..3).ok_or(NameError::BadEscape)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(NameError::BadEscape);
            }
            let v = digits
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            u8::try_from(v)
                .map(|b| (b, 3))
                .map_err(|_| NameError::BadEscape)
        }
        [c, ..] => Ok((*c, 1)),
        [] => Err(NameError::BadEscape),
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        // Owners are stored lowercase, so equal names are nearly always equal bytes.
        *self.wire == *other.wire || self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.wire.len());
        for b in self.wire.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        self.canonical_cmp(other)
    }
}

impl Name {
    /// Appends the presentation form (see the `Display` impl) to `out`.
    ///
    /// The output stage writes millions of names; pushing bytes directly is several
    /// times faster than going through `fmt` one character at a time.
    pub fn push_text(&self, out: &mut String) {
        let mut any = false;
        for label in self.labels() {
            any = true;
            // Nearly every label is plain LDH text: copied at once, not byte by byte.
            match std::str::from_utf8(label) {
                Ok(plain) if label.iter().all(|&b| is_plain_label_byte(b)) => out.push_str(plain),
                _ => label.iter().for_each(|&b| push_name_byte(out, b)),
            }
            out.push('.');
        }
        if !any {
            out.push('.');
        }
    }
}

impl fmt::Display for Name {
    /// Presentation form, absolute with a trailing dot; special and non-printable
    /// bytes are escaped so the output parses back to the same name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(self.wire.len() + 1);
        self.push_text(&mut text);
        f.write_str(&text)
    }
}

/// Whether a label byte is written as itself (no escape), as [`push_name_byte`] decides.
fn is_plain_label_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
}

/// Appends one label byte in presentation form with the escapes of RFC 1035 §5.1.
fn push_name_byte(out: &mut String, b: u8) {
    match b {
        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
            out.push('\\');
            out.push(char::from(b));
        }
        0x21..=0x7e => out.push(char::from(b)),
        _ => {
            out.push('\\');
            out.push(char::from(b'0' + b / 100));
            out.push(char::from(b'0' + b / 10 % 10));
            out.push(char::from(b'0' + b % 10));
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// A small deterministic generator (xorshift64) for the randomised tests across the
/// crate: the same sequence on every run and machine, without a seeded-RNG setup.
#[cfg(test)]
pub(crate) fn test_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s.as_bytes(), None).unwrap()
    }

    #[test]
    fn rfc4034_canonical_order() {
        let list = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let names: Vec<Name> = list.iter().map(|s| n(s)).collect();
        for w in names.windows(2) {
            assert_eq!(
                w[0].canonical_cmp(&w[1]),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
            assert_eq!(w[1].cmp(&w[0]), Ordering::Greater);
        }
        let mut shuffled = names.clone();
        shuffled.reverse();
        shuffled.sort();
        assert_eq!(shuffled, names);
        assert_eq!(Name::root().cmp(&n("example.")), Ordering::Less);
    }

    #[test]
    fn parse_relative_absolute_and_origin() {
        let origin = n("Example.COM.");
        let a = Name::parse(b"www", Some(&origin)).unwrap();
        assert_eq!(a.as_wire(), b"\x03www\x07Example\x03COM\x00");
        assert_eq!(Name::parse(b"@", Some(&origin)).unwrap(), origin);
        assert_eq!(n("."), Name::root());
        assert_eq!(n("a.b.").label_count(), 2);
        assert_eq!(Name::root().label_count(), 0);
        assert_eq!(Name::parse(b"www", None), Err(NameError::NoOrigin));
        assert_eq!(Name::parse(b"@", None), Err(NameError::NoOrigin));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Name::parse(b"", None), Err(NameError::Empty));
        assert_eq!(Name::parse(b"a..b.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(b".a.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(b"a\\25.", None), Err(NameError::BadEscape));
        assert_eq!(Name::parse(b"a\\256.", None), Err(NameError::BadEscape));
        assert_eq!(Name::parse(b"a\\", None), Err(NameError::BadEscape));
        let long = format!("{}.", "a".repeat(64));
        assert_eq!(
            Name::parse(long.as_bytes(), None),
            Err(NameError::LabelTooLong)
        );
        let many = "abcdefghi.".repeat(26);
        assert_eq!(
            Name::parse(many.as_bytes(), None),
            Err(NameError::NameTooLong)
        );
    }

    #[test]
    fn escapes_and_display() {
        let a = n("a\\.b.c\\032d.\\065.");
        assert_eq!(a.as_wire(), b"\x03a.b\x03c d\x01A\x00");
        assert_eq!(a.to_string(), "a\\.b.c\\032d.A.");
        assert_eq!(Name::root().to_string(), ".");
        let odd = Name::from_wire(b"\x05\"@$;\xff\x00").unwrap();
        assert_eq!(odd.to_string(), "\\\"\\@\\$\\;\\255.");
        assert_eq!(
            Name::parse(odd.to_string().as_bytes(), None)
                .unwrap()
                .as_wire(),
            odd.as_wire()
        );
    }

    #[test]
    fn from_wire_validation() {
        assert!(Name::from_wire(b"\x03www\x00").is_ok());
        assert!(Name::from_wire(b"\x03ww").is_err());
        assert!(Name::from_wire(b"").is_err());
        assert!(Name::from_wire(b"\x03www\x00x").is_err());
        assert!(Name::from_wire(b"\xc0\x0c").is_err());
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(Name::from_wire(&long), Err(NameError::NameTooLong));
    }

    #[test]
    fn case_insensitive_eq_hash() {
        use std::collections::HashSet;
        let mut set = HashSet::new();
        set.insert(n("WWW.Example."));
        assert!(set.contains(&n("www.example.")));
        assert_eq!(n("A.b.").to_lowercase().as_wire(), b"\x01a\x01b\x00");
        let mut out = Vec::new();
        n("A.B.").write_canonical(&mut out);
        assert_eq!(out, b"\x01a\x01b\x00");
    }

    #[test]
    fn structure_helpers() {
        let w = n("*.Sub.example.");
        assert!(w.is_wildcard());
        assert_eq!(w.rrsig_labels(), 2);
        assert_eq!(n("a.b.c.").rrsig_labels(), 3);
        assert_eq!(w.parent().unwrap(), n("sub.example."));
        assert_eq!(Name::root().parent(), None);
        assert!(w.is_subdomain_of(&n("EXAMPLE.")));
        assert!(w.is_subdomain_of(&w));
        assert!(w.is_subdomain_of(&Name::root()));
        assert!(!n("example.").is_subdomain_of(&w));
        assert!(!n("xexample.").is_subdomain_of(&n("example.")));
        let labels: Vec<&[u8]> = w.labels().collect();
        assert_eq!(labels, vec![&b"*"[..], b"Sub", b"example"]);
        assert_eq!(n("a.b.c.").suffix(2), n("b.c."));
        assert_eq!(n("a.b.c.").suffix(0), Name::root());
        assert_eq!(n("a.b.c.").suffix(9), n("a.b.c."));
        assert_eq!(n("b.c.").wildcard_of(), n("*.b.c."));
    }

    #[test]
    fn parse_into_appends_only_on_success() {
        let mut out = vec![9u8];
        Name::parse_into(b"A.b", Some(&n("c.")), &mut out).unwrap();
        assert_eq!(out, b"\x09\x01A\x01b\x01c\x00");
        assert!(Name::parse_into(b"a..", None, &mut out).is_err());
        assert_eq!(out.len(), 8);
    }

    /// Where two names' sort keys differ, they order the names exactly as
    /// `canonical_cmp` does (RFC 4034 §6.1), including escaped 0 and 1 octets, case,
    /// and parents before children; names outside the origin have no key.
    #[test]
    fn canonical_keys_agree_with_canonical_order() {
        let origin = n("se.");
        let mut next = crate::dns::name::test_rng(0x9e37_79b9_7f4a_7c15u64);
        let alphabet = b"\x00\x01\x02aAbz-0";
        let mut names = vec![origin.clone(), n("a.se."), n("a.a.se."), n("A.se.")];
        for _ in 0..3_000 {
            let mut wire = Vec::new();
            for _ in 0..(next() % 3 + 1) {
                let len = (next() % 6 + 1) as usize;
                wire.push(len as u8);
                wire.extend((0..len).map(|_| alphabet[(next() % 9) as usize]));
            }
            wire.extend(origin.as_wire());
            names.push(Name::from_wire(&wire).unwrap());
        }
        let mut differing = 0;
        for (i, a) in names.iter().enumerate() {
            for b in names.iter().skip(i % 7).step_by(7).take(400) {
                let (ka, kb) = (
                    a.canonical_key_below(&origin),
                    b.canonical_key_below(&origin),
                );
                let (ka, kb) = (ka.unwrap(), kb.unwrap());
                if ka != kb {
                    differing += 1;
                    assert_eq!(ka.cmp(&kb), a.canonical_cmp(b), "{a:?} {b:?}");
                }
            }
        }
        assert!(differing > 100_000, "{differing}");
        assert_eq!(n("example.").canonical_key_below(&origin), None);
        assert_eq!(n("se.").canonical_key_below(&origin), Some(0));
    }

    /// Random wire names print and parse back to the same bytes; random text never panics.
    #[test]
    fn random_names_round_trip() {
        let mut next = crate::dns::name::test_rng(0x1234_5678_9abc_def1u64);
        for _ in 0..20_000 {
            let mut wire = Vec::new();
            for _ in 0..(next() % 5) {
                let len = (next() % 8 + 1) as usize;
                wire.push(len as u8);
                wire.extend((0..len).map(|_| next() as u8));
            }
            wire.push(0);
            let name = Name::from_wire(&wire).unwrap();
            let back = Name::parse(name.to_string().as_bytes(), None).unwrap();
            assert_eq!(back.as_wire(), &wire[..], "{name}");
            let text: Vec<u8> = (0..(next() % 12))
                .map(|_| b"a.\\09*@"[(next() % 7) as usize])
                .collect();
            let _ = Name::parse(&text, Some(&name));
            let _ = Name::from_wire(&text);
        }
    }
}
