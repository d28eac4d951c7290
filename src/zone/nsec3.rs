//! The NSEC3 chain: hashed authenticated denial of existence (RFC 5155).
//!
//! Where the NSEC chain links the names themselves, NSEC3 links their SHA-1 hashes, so
//! that walking the chain does not list the zone. Each chained name gets one NSEC3 RR
//! owned by `base32hex(hash).origin`; the RRs are in hash order, each pointing to the
//! next hash and the last back to the first (RFC 5155 §7.1 steps 5–7).
//!
//! Which names are chained (RFC 5155 §7.1):
//! - the apex and every authoritative name, and every delegation; with opt-out only the
//!   delegations with a DS (the "MAY be excluded" of step 2, which is what opt-out is for:
//!   a TLD of mostly insecure delegations signs a chain of its secure ones only);
//! - every empty non-terminal between the apex and a chained name (step 4), with an empty
//!   type bitmap. With opt-out, an empty non-terminal that leads only to excluded
//!   delegations is left out, as §7.1 allows ("unless the empty non-terminal is only
//!   derived from an insecure delegation covered by an Opt-Out NSEC3 RR"): every RR of an
//!   opt-out chain has the flag, so every span covers it. `dnssec-signzone -A` does the
//!   same; the chain then depends only on which names are chained, not on what hangs
//!   below excluded delegations;
//! - never occluded names (glue, anything below a zone cut or a DNAME).
//!
//! The type bitmap is [`bitmap_types`]: the types at the original name, plus RRSIG when
//! the name has a signed RRset, plus NSEC3PARAM at the apex, and at a delegation NS and
//! DS only, as for NSEC (RFC 4035 §2.3).
//!
//! The chain is built for a zone without NSEC3 records (the signer drops them from its
//! input, [`crate::zone::REGENERATED`]) and is not wired into signing or verification
//! here: that is the caller's part.

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use crate::dns::name::{MAX_NAME_LEN, Name};
use crate::dns::rdata::encode_type_bitmap;
use crate::dns::record::{SourceLoc, rtype};
use crate::zone::{NameGroup, NameKind, RRset, Rdatas, Zone, is_signed};

/// Hash algorithm SHA-1, the only one of the IANA "DNSSEC NSEC3 Hash Algorithms"
/// registry (RFC 5155 §11).
pub const HASH_SHA1: u8 = 1;

/// The Opt-Out flag of NSEC3 (RFC 5155 §3.1.2.1); NSEC3PARAM always has flags 0
/// (§4.1.2).
pub const FLAG_OPT_OUT: u8 = 0x01;

/// Octets of a SHA-1 hash, the hash length field of every NSEC3 RR made here.
pub const HASH_LEN: usize = 20;

/// TTL of the apex NSEC3PARAM RRset. RFC 5155 sets none; validators never read the
/// record (it tells authoritative servers which chain to answer from), so there is
/// nothing for resolvers to cache. 0 is what `dnssec-signzone` writes.
pub const NSEC3PARAM_TTL: u32 = 0;

/// Characters of a base32hex hash label: 160 bits at 5 bits per character.
const LABEL_LEN: usize = 32;

/// The parameters of an NSEC3 chain (RFC 5155 §3.1: hash algorithm SHA-1 implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Additional hash iterations (0: one hash per name).
    pub iterations: u16,
    /// Salt appended at every iteration (empty: none).
    pub salt: Vec<u8>,
    /// Whether insecure delegations are left out of the chain (RFC 5155 §6).
    pub opt_out: bool,
}

impl Default for Params {
    /// RFC 9276 §3.1: no extra iterations, no salt; opt-out only where it is needed.
    fn default() -> Params {
        Params {
            iterations: 0,
            salt: Vec::new(),
            opt_out: false,
        }
    }
}

/// Why a chain cannot be built; the zone is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nsec3Error {
    /// The salt length field is one octet.
    #[error("NSEC3 salt of {0} octets: at most 255 fit (RFC 5155 section 3.1.4)")]
    SaltTooLong(usize),
    /// The origin leaves no room for the 33 octets of a hash label within 255.
    #[error("origin {0} is too long for NSEC3 owner names (a hash label needs 33 octets)")]
    OriginTooLong(Name),
    /// Two chained names hash alike: RFC 5155 §7.1 says to choose another salt.
    #[error("NSEC3 hash collision between {0} and {1}: choose another salt")]
    Collision(Name, Name),
}

/// The NSEC3 hash of a name (RFC 5155 §5): SHA-1 of the canonical (lowercase) wire name
/// and the salt, then `iterations` more times of the previous digest and the salt.
pub fn hash_name(name: &Name, salt: &[u8], iterations: u16) -> [u8; HASH_LEN] {
    let mut h = Sha1::new();
    // Lowercased piece by piece on the stack: hashing ten million names must not
    // allocate a lowercase copy of each.
    for piece in name.as_wire().chunks(64) {
        let mut low = [0u8; 64];
        let low = &mut low[..piece.len()];
        low.copy_from_slice(piece);
        low.make_ascii_lowercase();
        h.update(&*low);
    }
    h.update(salt);
    let mut digest: [u8; HASH_LEN] = h.finalize().into();
    for _ in 0..iterations {
        let mut h = Sha1::new();
        h.update(digest);
        h.update(salt);
        digest = h.finalize().into();
    }
    digest
}

/// A hash as its owner label: base32hex (RFC 4648 §7) without padding, lowercase as
/// RFC 5155 §3.3 writes it. Order-preserving: label order is hash octet order.
pub fn hash_label(hash: &[u8; HASH_LEN]) -> [u8; LABEL_LEN] {
    let mut label = [0u8; LABEL_LEN];
    data_encoding::BASE32HEX_NOPAD.encode_mut(hash, &mut label);
    label.make_ascii_lowercase();
    label
}

/// The owner of the NSEC3 RR for `hash`: the hash label prepended to the origin.
pub fn hashed_owner(hash: &[u8; HASH_LEN], origin: &Name) -> Result<Name, Nsec3Error> {
    let mut wire = Vec::with_capacity(1 + LABEL_LEN + origin.as_wire().len());
    wire.push(LABEL_LEN as u8);
    wire.extend_from_slice(&hash_label(hash));
    wire.extend_from_slice(origin.as_wire());
    Name::from_wire(&wire).map_err(|_| Nsec3Error::OriginTooLong(origin.clone()))
}

/// The types an NSEC3 at a name of `kind` lists, given the name's data types
/// (RFC 5155 §7.1 step 3): all types at the original name except those NSEC3 itself
/// brings, RRSIG when any RRset there is signed, NSEC3PARAM at the apex. At a delegation
/// only NS and DS, the parent's only data there (RFC 4035 §2.3): an insecure delegation
/// lists NS alone, no RRSIG, because nothing there is signed. An occluded name lists
/// nothing (it is never chained).
///
/// Shared with whoever checks NSEC3 chains, so both read RFC 5155 alike.
pub fn bitmap_types(kind: NameKind, data_types: impl Iterator<Item = u16>) -> Vec<u16> {
    let own = |t: u16| !matches!(t, rtype::NSEC | rtype::NSEC3 | rtype::RRSIG);
    let mut types: Vec<u16> = data_types
        .filter(|&t| own(t))
        .filter(|&t| match kind {
            NameKind::Delegation => t == rtype::NS || t == rtype::DS,
            NameKind::Occluded => false,
            NameKind::Apex | NameKind::Authoritative => true,
        })
        .collect();
    if kind == NameKind::Apex {
        types.push(rtype::NSEC3PARAM);
    }
    if types.iter().any(|&t| is_signed(kind, t)) {
        types.push(rtype::RRSIG);
    }
    types.sort_unstable();
    types.dedup();
    types
}

/// Whether a name of this kind is an owner in the NSEC3 chain: like NSEC, except that
/// with opt-out a delegation without DS is left out (RFC 5155 §7.1 step 2).
pub fn in_nsec3_chain(kind: NameKind, has_ds: bool, opt_out: bool) -> bool {
    match kind {
        NameKind::Apex | NameKind::Authoritative => true,
        NameKind::Delegation => has_ds || !opt_out,
        NameKind::Occluded => false,
    }
}

/// The RDATA fields both records share: hash algorithm, flags, iterations, salt
/// length and salt (RFC 5155 §3.2, §4.2).
fn rdata_head(params: &Params, flags: u8) -> Result<Vec<u8>, Nsec3Error> {
    let salt_len =
        u8::try_from(params.salt.len()).map_err(|_| Nsec3Error::SaltTooLong(params.salt.len()))?;
    let mut head = Vec::with_capacity(5 + params.salt.len());
    head.push(HASH_SHA1);
    head.push(flags);
    head.extend_from_slice(&params.iterations.to_be_bytes());
    head.push(salt_len);
    head.extend_from_slice(&params.salt);
    Ok(head)
}

/// NSEC3 RDATA: the shared head, hash length, next hashed owner (raw octets), bitmap.
fn nsec3_rdata(head: &[u8], next: &[u8; HASH_LEN], bitmap: &[u8]) -> Rdatas {
    let mut rdata = Vec::with_capacity(head.len() + 1 + HASH_LEN + bitmap.len());
    rdata.extend_from_slice(head);
    rdata.push(HASH_LEN as u8);
    rdata.extend_from_slice(next);
    rdata.extend_from_slice(bitmap);
    Rdatas::one(&rdata)
}

/// The NSEC3PARAM RDATA of a chain (RFC 5155 §4.2: flags 0).
pub fn nsec3param_rdata(params: &Params) -> Result<Box<[u8]>, Nsec3Error> {
    Ok(rdata_head(params, 0)?.into_boxed_slice())
}

/// The original names of a chain: the chained names of the zone (by group index) and
/// the empty non-terminals above them, with where each came from.
struct Originals {
    /// Indices into the zone's name groups of the chained names, in canonical order.
    named: Vec<usize>,
    /// Empty non-terminals, each with the source location of the name below it.
    empty: Vec<(Name, SourceLoc)>,
}

impl Originals {
    /// The original name of chain source `s` (a group index, then the empty ones).
    fn name<'a>(&'a self, zone: &'a Zone, groups: &[NameGroup], s: usize) -> &'a Name {
        match self.named.get(s) {
            Some(&g) => &zone.rrsets[groups[g].range.start].owner,
            None => &self.empty[s - self.named.len()].0,
        }
    }

    fn len(&self) -> usize {
        self.named.len() + self.empty.len()
    }
}

/// Finds the chained names and the empty non-terminals above them.
///
/// Canonical order lists a name's whole subtree right after it, so walking up from each
/// chained name stops at the first ancestor the previous chained name lies below: that
/// one, and all above it, were found from an earlier name or exist. Every empty
/// non-terminal is thus found once, with no set and no lookup, and none is a name with
/// data (such a name would be chained, or occlude what is below it). Only ancestors of
/// chained names are found, which leaves out what leads only to opted-out delegations.
fn originals(zone: &Zone, groups: &[NameGroup], params: &Params) -> Originals {
    let owner = |g: usize| &zone.rrsets[groups[g].range.start].owner;
    let has_ds = |g: usize| {
        zone.rrsets[groups[g].range.clone()]
            .iter()
            .any(|s| s.rtype == rtype::DS)
    };
    let named: Vec<usize> = (0..groups.len())
        .filter(|&g| in_nsec3_chain(groups[g].kind, has_ds(g), params.opt_out))
        .collect();
    let mut empty = Vec::new();
    let mut prev: Option<&Name> = None;
    for &g in &named {
        let name = owner(g);
        let mut up = name.parent();
        while let Some(a) = up {
            if a == zone.origin
                || !a.is_subdomain_of(&zone.origin)
                || prev.is_some_and(|p| p.is_subdomain_of(&a))
            {
                break;
            }
            up = a.parent();
            empty.push((a, zone.rrsets[groups[g].range.start].loc));
        }
        prev = Some(name);
    }
    Originals { named, empty }
}

/// One NSEC3 RR in the making: the hash of its original name, its type bitmap, and
/// where the original name was read.
///
/// Why the bitmap is made before the sort: made in zone order it reads each name's
/// RRsets where they lie; made in hash order it read them at random, a few cache misses
/// per name that cost more than the hashing (at 2M delegations, 9.2 s for the chain
/// against 2.6 s now, test build, 2 cores).
///
/// Why the RDATA is made only after it: an allocation made in zone order and read in
/// hash order (the zone order of NSEC3 owners) is a cache miss at every later walk of
/// the zone (the comparison with the previous output, the gate, the ZONEMD digest, the
/// output), about 0.3 s per walk at 1M delegations. The bitmap stays in the link,
/// which the sort moves, and the RDATA is allocated in the order it will be read.
struct Link {
    hash: [u8; HASH_LEN],
    bitmap: Bitmap,
    loc: SourceLoc,
}

/// Octets of a type bitmap kept inside a [`Link`]: a TLD's names need 8 to 12 (window 0
/// up to ZONEMD), so 30 hold nearly every name of any zone.
const INLINE_BITMAP: usize = 30;

/// An RFC 4034 §4.1.2 type bitmap, inline when short (see [`Link`]).
enum Bitmap {
    Inline {
        len: u8,
        octets: [u8; INLINE_BITMAP],
    },
    Heap(Box<[u8]>),
}

impl Bitmap {
    fn of(types: &[u16]) -> Bitmap {
        let wire = encode_type_bitmap(types);
        match u8::try_from(wire.len()) {
            Ok(len) if wire.len() <= INLINE_BITMAP => {
                let mut octets = [0; INLINE_BITMAP];
                octets[..wire.len()].copy_from_slice(&wire);
                Bitmap::Inline { len, octets }
            }
            _ => Bitmap::Heap(wire.into()),
        }
    }

    fn wire(&self) -> &[u8] {
        match self {
            Bitmap::Inline { len, octets } => &octets[..usize::from(*len)],
            Bitmap::Heap(wire) => wire,
        }
    }
}

/// The links of every original name, hashed on all cores and sorted by hash.
fn links(zone: &Zone, groups: &[NameGroup], originals: &Originals, params: &Params) -> Vec<Link> {
    let mut links: Vec<Link> = (0..originals.len())
        .into_par_iter()
        .map(|s| {
            let (types, loc) = match originals.named.get(s) {
                Some(&g) => {
                    let sets = &zone.rrsets[groups[g].range.clone()];
                    let types = bitmap_types(groups[g].kind, sets.iter().map(|s| s.rtype));
                    (types, sets[0].loc)
                }
                None => (Vec::new(), originals.empty[s - originals.named.len()].1),
            };
            Link {
                hash: hash_name(
                    originals.name(zone, groups, s),
                    &params.salt,
                    params.iterations,
                ),
                bitmap: Bitmap::of(&types),
                loc,
            }
        })
        .collect();
    links.par_sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
    links
}

/// The first hash two links share, if any (`links` sorted by hash).
fn collision(links: &[Link]) -> Option<[u8; HASH_LEN]> {
    links
        .windows(2)
        .find(|w| w[0].hash == w[1].hash)
        .map(|w| w[0].hash)
}

/// The original names whose hash is `hash` (the rare path of a collision: hashed
/// again rather than kept for every name).
fn names_with(
    zone: &Zone,
    groups: &[NameGroup],
    originals: &Originals,
    params: &Params,
    hash: &[u8; HASH_LEN],
) -> Vec<Name> {
    (0..originals.len())
        .into_par_iter()
        .map(|s| originals.name(zone, groups, s))
        .filter(|n| hash_name(n, &params.salt, params.iterations) == *hash)
        .map(Name::clone)
        .collect()
}

/// Appends the NSEC3 RRsets of a chain of links sorted by hash to `out`, built on all
/// cores straight into its spare room (a million RRsets collected apart and then moved
/// cost as much again in fresh pages): each gets the next hash, the last the first one's.
///
/// `owner` makes the hashed owner names ([`add_chain`] has refused an origin that
/// leaves no room for the hash label, the only way making one fails).
fn nsec3_sets(
    owner: impl Fn(&[u8; HASH_LEN]) -> Name + Sync,
    links: Vec<Link>,
    head: &[u8],
    ttl: u32,
    out: &mut Vec<RRset>,
) {
    let first = links.first().map(|l| l.hash).unwrap_or_default();
    out.par_extend(links.par_iter().enumerate().map(|(k, link)| {
        let next = links.get(k + 1).map_or(first, |l| l.hash);
        RRset {
            owner: owner(&link.hash),
            rtype: rtype::NSEC3,
            ttl,
            rdatas: nsec3_rdata(head, &next, link.bitmap.wire()),
            sigs: Vec::new(),
            loc: link.loc,
        }
    }));
}

/// Adds the NSEC3 chain and the apex NSEC3PARAM RRset to a zone that has neither.
///
/// `ttl` is the NSEC3 TTL: RFC 9077 §3 (updating RFC 5155 §7.1's SOA MINIMUM) wants the
/// lesser of the SOA TTL and the SOA MINIMUM field; the caller knows the policy. The
/// NSEC3PARAM TTL is [`NSEC3PARAM_TTL`]. With `opt_out`, every NSEC3 RR carries the
/// Opt-Out flag (RFC 5155 §7.1 step 2: "If Opt-Out is being used, set the Opt-Out bit
/// to one").
///
/// Cost: one hash per chained name on all cores, one sort of the hashes, and one merge
/// of the new RRsets into the zone's (they sort among the zone's names by their hash
/// labels), rather than an insertion each: a TLD zone chains millions of names.
///
/// On error (a salt over 255 octets, an origin too long for hash labels, a hash
/// collision) the zone is unchanged.
pub fn add_chain(zone: &mut Zone, params: &Params, ttl: u32) -> Result<(), Nsec3Error> {
    let head = rdata_head(params, if params.opt_out { FLAG_OPT_OUT } else { 0 })?;
    if zone.origin.as_wire().len() + 1 + LABEL_LEN > MAX_NAME_LEN {
        return Err(Nsec3Error::OriginTooLong(zone.origin.clone()));
    }
    let groups = zone.names();
    let originals = originals(zone, &groups, params);
    if originals.len() == 0 {
        return Ok(());
    }
    let links = links(zone, &groups, &originals, params);
    if let Some(hash) = collision(&links) {
        let names = names_with(zone, &groups, &originals, params, &hash);
        let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| zone.origin.clone());
        return Err(Nsec3Error::Collision(name(0), name(1)));
    }
    drop((groups, originals));
    let mut new = Vec::with_capacity(links.len() + 1);
    new.push(nsec3param_set(zone, params)?);
    // A hashed owner fails only on an origin too long for the label, refused above.
    let origin = &zone.origin;
    let owner =
        |hash: &[u8; HASH_LEN]| hashed_owner(hash, origin).unwrap_or_else(|_| origin.clone());
    nsec3_sets(owner, links, &head, ttl, &mut new);
    zone.merge_rrsets(new);
    Ok(())
}

/// The apex NSEC3PARAM RRset (RFC 5155 §7.1 step 8).
fn nsec3param_set(zone: &Zone, params: &Params) -> Result<RRset, Nsec3Error> {
    Ok(RRset {
        owner: zone.origin.clone(),
        rtype: rtype::NSEC3PARAM,
        ttl: NSEC3PARAM_TTL,
        rdatas: Rdatas::one(&nsec3param_rdata(params)?),
        sigs: Vec::new(),
        loc: zone.soa().map(|s| s.loc).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rdata::{decode_type_bitmap, type_name};
    use crate::dns::zonefile::parse_bytes;

    fn name(text: &str) -> Name {
        Name::parse(text.as_bytes(), None).unwrap()
    }

    fn zone_of(origin: &str, text: &str) -> Zone {
        let origin = name(origin);
        let p = parse_bytes(text.as_bytes(), std::path::Path::new("t.zone"), &origin).unwrap();
        Zone::from_records(origin, p.records).0
    }

    fn b32(hash: &[u8; HASH_LEN]) -> String {
        String::from_utf8(hash_label(hash).to_vec()).unwrap()
    }

    /// One NSEC3 RR read back: owner hash label, flags, iterations, salt, next hash
    /// label and type mnemonics (sorted by number, as the bitmap lists them).
    #[derive(Debug, PartialEq, Eq)]
    struct Read {
        owner: String,
        flags: u8,
        iterations: u16,
        salt: Vec<u8>,
        next: String,
        types: Vec<String>,
    }

    fn read(set: &RRset) -> Read {
        let r = &set.rdatas[0];
        assert_eq!(r[0], HASH_SHA1);
        let salt_len = usize::from(r[4]);
        let salt = r[5..5 + salt_len].to_vec();
        let at = 5 + salt_len;
        assert_eq!(usize::from(r[at]), HASH_LEN);
        let next: [u8; HASH_LEN] = r[at + 1..at + 1 + HASH_LEN].try_into().unwrap();
        let types = decode_type_bitmap(&r[at + 1 + HASH_LEN..]).unwrap();
        Read {
            owner: String::from_utf8(set.owner.labels().next().unwrap().to_vec()).unwrap(),
            flags: r[1],
            iterations: u16::from_be_bytes([r[2], r[3]]),
            salt,
            next: b32(&next),
            types: types
                .into_iter()
                .map(|t| type_name(t).to_string())
                .collect(),
        }
    }

    fn nsec3s(z: &Zone) -> Vec<Read> {
        z.rrsets
            .iter()
            .filter(|s| s.rtype == rtype::NSEC3)
            .map(read)
            .collect()
    }

    /// RFC 5155 Appendix A: the example zone's hashes (salt aabbccdd, 12 iterations),
    /// the RFC's own text; each also checked with `ldns-nsec3-hash -s aabbccdd -t 12`.
    const RFC5155_HASHES: [(&str, &str); 13] = [
        ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
        ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
        ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ("ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"),
        ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
        ("y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"),
        ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
        ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
        ("c.example.", "4g6p9u5gvfshp30pqecj98b3maqbn1ck"),
        (
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
            "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
        ),
    ];

    #[test]
    fn hashes_match_rfc_5155_appendix_a() {
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        for (owner, want) in RFC5155_HASHES {
            assert_eq!(b32(&hash_name(&name(owner), &salt, 12)), want, "{owner}");
        }
        // The canonical form is hashed: case does not matter (RFC 5155 §5).
        assert_eq!(
            hash_name(&name("NS1.Example."), &salt, 12),
            hash_name(&name("ns1.example."), &salt, 12)
        );
    }

    /// No salt, no extra iteration (RFC 9276's setting) and a one-iteration case, as
    /// `ldns-nsec3-hash` computes them.
    #[test]
    fn hashes_without_salt_or_iterations() {
        let h = |n: &str, salt: &[u8], it| b32(&hash_name(&name(n), salt, it));
        assert_eq!(h("example.", &[], 0), "3msev9usmd4br9s97v51r2tdvmr9iqo1");
        assert_eq!(h("A.EXAMPLE.", &[], 0), "6cd522290vma0nr8lqu1ivtcofj94rga");
        assert_eq!(h("se.", &[], 0), "7j5bpcejsidt84gmo6dksg546t2ks68m");
        assert_eq!(h("nic.se.", &[], 0), "98unch52mdp0kkrhn97bnm5am9r1r1ud");
        assert_eq!(
            h("example.", &[0x00, 0xff], 1),
            "r2dbbvpkutlfmmm77j1am29notfot58d"
        );
    }

    /// RFC 5155 Appendix A's unsigned data: the signed zone there is this plus DNSSEC
    /// records. `c` is an insecure delegation (opted out), `a` a secure one, `w` and
    /// `y.w` empty non-terminals; the A record owned by ns1's hashed name is the RFC's.
    const RFC5155_ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
@ SOA ns1 bugs.x.w 1 3600 300 3600000 3600\n\
@ NS ns1\n@ NS ns2\n@ MX 1 xx\n\
@ DNSKEY 256 3 7 AwEAAaetidLzsKWUt4swWR8yu0wPHPiUi8LUsAD0QPWU+wzt89epO6tHzkMBVDkC7qphQO2hTY4hHn9npWFRw5BYubE=\n\
@ DNSKEY 257 3 7 AwEAAcUlFV1vhmqx6NSOUOq2R/dsR7Xm3upJj7IommWSpJABVfW8Q0rOvXdM6kzt+TAu92L9AbsUdblMFin8CVF3n4s=\n\
2t7b4g4vsa5smi47k61mv5bv1a22bojr A 192.0.2.127\n\
a NS ns1.a\na NS ns2.a\na DS 58470 5 1 3079F1593EBAD6DC121E202A8B766A6A4837206C\n\
ns1.a A 192.0.2.5\nns2.a A 192.0.2.6\n\
ai A 192.0.2.9\nai HINFO \"KLH-10\" \"ITS\"\nai AAAA 2001:db8::f00:baa9\n\
c NS ns1.c\nc NS ns2.c\nns1.c A 192.0.2.7\nns2.c A 192.0.2.8\n\
ns1 A 192.0.2.1\nns2 A 192.0.2.2\n\
*.w MX 1 ai\nx.w MX 1 xx\nx.y.w MX 1 xx\n\
xx A 192.0.2.10\nxx HINFO \"KLH-10\" \"TOPS-20\"\nxx AAAA 2001:db8::f00:baaa\n";

    /// RFC 5155 Appendix A's NSEC3 RRs (all `1 1 12 aabbccdd`): owner, next hashed owner
    /// and type bitmap, typed in from the RFC in its order (hash order).
    const RFC5155_NSEC3: [(&str, &str, &[&str]); 12] = [
        (
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
            &["MX", "DNSKEY", "NS", "SOA", "NSEC3PARAM", "RRSIG"],
        ),
        (
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
            "2vptu5timamqttgl4luu9kg21e0aor3s",
            &["A", "RRSIG"],
        ),
        (
            "2vptu5timamqttgl4luu9kg21e0aor3s",
            "35mthgpgcu1qg68fab165klnsnk3dpvl",
            &["MX", "RRSIG"],
        ),
        (
            "35mthgpgcu1qg68fab165klnsnk3dpvl",
            "b4um86eghhds6nea196smvmlo4ors995",
            &["NS", "DS", "RRSIG"],
        ),
        (
            "b4um86eghhds6nea196smvmlo4ors995",
            "gjeqe526plbf1g8mklp59enfd789njgi",
            &["MX", "RRSIG"],
        ),
        (
            "gjeqe526plbf1g8mklp59enfd789njgi",
            "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
            &["A", "HINFO", "AAAA", "RRSIG"],
        ),
        (
            "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
            "k8udemvp1j2f7eg6jebps17vp3n8i58h",
            &[],
        ),
        (
            "k8udemvp1j2f7eg6jebps17vp3n8i58h",
            "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
            &[],
        ),
        (
            "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
            "q04jkcevqvmu85r014c7dkba38o0ji5r",
            &["A", "RRSIG"],
        ),
        (
            "q04jkcevqvmu85r014c7dkba38o0ji5r",
            "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
            &["A", "RRSIG"],
        ),
        (
            "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
            "t644ebqk9bibcna874givr6joj62mlhv",
            &["MX", "RRSIG"],
        ),
        (
            "t644ebqk9bibcna874givr6joj62mlhv",
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            &["A", "HINFO", "AAAA", "RRSIG"],
        ),
    ];

    fn rfc_params() -> Params {
        Params {
            iterations: 12,
            salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
            opt_out: true,
        }
    }

    /// The whole chain of RFC 5155 Appendix A: owners, Opt-Out flags, iterations, salt,
    /// next hashed owners and bitmaps, record for record; the NSEC3PARAM `1 0 12
    /// aabbccdd`. The opted-out delegation `c` and the glue below `a` and `c` have none.
    #[test]
    fn chain_matches_rfc_5155_appendix_a() {
        let mut z = zone_of("example.", RFC5155_ZONE);
        add_chain(&mut z, &rfc_params(), 3600).unwrap();
        let got = nsec3s(&z);
        let want: Vec<Read> = RFC5155_NSEC3
            .iter()
            .map(|(owner, next, types)| {
                let mut types: Vec<u16> = types
                    .iter()
                    .map(|t| crate::dns::rdata::type_code(t.as_bytes()).unwrap())
                    .collect();
                types.sort_unstable();
                Read {
                    owner: owner.to_string(),
                    flags: FLAG_OPT_OUT,
                    iterations: 12,
                    salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
                    next: next.to_string(),
                    types: types
                        .into_iter()
                        .map(|t| type_name(t).to_string())
                        .collect(),
                }
            })
            .collect();
        assert_eq!(got, want);
        let param = z.get(&z.origin, rtype::NSEC3PARAM).unwrap();
        assert_eq!(
            &param.rdatas[0],
            &[1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd][..]
        );
        assert_eq!(param.ttl, NSEC3PARAM_TTL);
        assert!(
            z.rrsets
                .iter()
                .filter(|s| s.rtype == rtype::NSEC3)
                .all(|s| s.ttl == 3600)
        );
    }

    /// The NSEC3 RRsets land among the zone's RRsets in canonical order, the zone stays
    /// sorted and free of duplicates (binary search finds each), and where a hashed
    /// owner already owns data (the RFC's A at ns1's hash) the NSEC3 follows it.
    #[test]
    fn chain_keeps_the_zone_in_canonical_order() {
        let mut z = zone_of("example.", RFC5155_ZONE);
        let before = z.rrsets.len();
        add_chain(&mut z, &rfc_params(), 3600).unwrap();
        assert_eq!(z.rrsets.len(), before + 12 + 1);
        assert!(
            z.rrsets
                .windows(2)
                .all(|w| (&w[0].owner, w[0].rtype) < (&w[1].owner, w[1].rtype))
        );
        let shared = name("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.");
        let a = z.find(&shared, rtype::A).unwrap();
        assert_eq!(z.find(&shared, rtype::NSEC3), Some(a + 1));
        for (owner, _, _) in RFC5155_NSEC3 {
            let owner = name(&format!("{owner}.example."));
            assert!(z.get(&owner, rtype::NSEC3).is_some(), "{owner}");
        }
    }

    /// Without opt-out the insecure delegation `c` is chained too, listing NS alone (no
    /// RRSIG: nothing there is signed), and no RR has the Opt-Out flag.
    #[test]
    fn without_opt_out_every_delegation_is_chained() {
        let mut z = zone_of("example.", RFC5155_ZONE);
        let params = Params {
            opt_out: false,
            ..rfc_params()
        };
        add_chain(&mut z, &params, 3600).unwrap();
        let got = nsec3s(&z);
        assert_eq!(got.len(), 13);
        assert!(got.iter().all(|r| r.flags == 0));
        let c = got
            .iter()
            .find(|r| r.owner == "4g6p9u5gvfshp30pqecj98b3maqbn1ck")
            .unwrap();
        assert_eq!(c.types, ["NS"]);
    }

    const ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
a.b.c A 192.0.2.2\n\
sub NS ns.sub\nsub DS 1 8 2 AABB\nsub A 192.0.2.9\nns.sub A 192.0.2.3\ndeep.ns.sub TXT \"o\"\n\
ins.x.y NS ns1.other.\ninsec NS ns1.other.\n\
mix.z NS ns1.other.\nsec.z NS ns1.other.\nsec.z DS 1 8 2 AABB\n\
dn DNAME other.org.\nx.dn A 192.0.2.4\n";

    fn chained_names(params: &Params) -> Vec<(String, Vec<String>)> {
        let mut z = zone_of("example.", ZONE);
        add_chain(&mut z, params, 300).unwrap();
        let got = nsec3s(&z);
        let mut names: Vec<(String, Vec<String>)> = Vec::new();
        for n in [
            "example.",
            "ns1.example.",
            "c.example.",
            "b.c.example.",
            "a.b.c.example.",
            "sub.example.",
            "ns.sub.example.",
            "deep.ns.sub.example.",
            "y.example.",
            "x.y.example.",
            "ins.x.y.example.",
            "insec.example.",
            "z.example.",
            "mix.z.example.",
            "sec.z.example.",
            "dn.example.",
            "x.dn.example.",
        ] {
            let h = b32(&hash_name(&name(n), &params.salt, params.iterations));
            if let Some(r) = got.iter().find(|r| r.owner == h) {
                names.push((n.to_string(), r.types.clone()));
            }
        }
        assert_eq!(names.len(), got.len(), "every NSEC3 is one of the names");
        names
    }

    fn types(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    /// Empty non-terminals get an NSEC3 with an empty bitmap; occluded names (glue,
    /// below a delegation or a DNAME) none; a delegation lists NS and DS only.
    #[test]
    fn empty_non_terminals_and_occluded_names() {
        let got = chained_names(&Params::default());
        let want: Vec<(String, Vec<String>)> = vec![
            (
                "example.".into(),
                types(&["NS", "SOA", "RRSIG", "NSEC3PARAM"]),
            ),
            ("ns1.example.".into(), types(&["A", "RRSIG"])),
            ("c.example.".into(), vec![]),
            ("b.c.example.".into(), vec![]),
            ("a.b.c.example.".into(), types(&["A", "RRSIG"])),
            ("sub.example.".into(), types(&["NS", "DS", "RRSIG"])),
            ("y.example.".into(), vec![]),
            ("x.y.example.".into(), vec![]),
            ("ins.x.y.example.".into(), types(&["NS"])),
            ("insec.example.".into(), types(&["NS"])),
            ("z.example.".into(), vec![]),
            ("mix.z.example.".into(), types(&["NS"])),
            ("sec.z.example.".into(), types(&["NS", "DS", "RRSIG"])),
            ("dn.example.".into(), types(&["DNAME", "RRSIG"])),
        ];
        assert_eq!(got, want);
    }

    /// With opt-out the insecure delegations are skipped, and so are the empty
    /// non-terminals that lead only to them (`y`, `x.y`); `z` stays, for `sec.z`.
    #[test]
    fn opt_out_skips_insecure_delegations_and_their_empty_non_terminals() {
        let got = chained_names(&Params {
            opt_out: true,
            ..Params::default()
        });
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "example.",
                "ns1.example.",
                "c.example.",
                "b.c.example.",
                "a.b.c.example.",
                "sub.example.",
                "z.example.",
                "sec.z.example.",
                "dn.example.",
            ]
        );
    }

    /// Salt and iterations reach every RR; the chain is in hash order and closes: each
    /// RR's next hash is the following owner, the last one's the first owner.
    #[test]
    fn chain_is_sorted_and_closes() {
        for params in [
            Params::default(),
            Params {
                iterations: 3,
                salt: vec![0x01, 0x02, 0x03],
                opt_out: false,
            },
        ] {
            let mut z = zone_of("example.", ZONE);
            add_chain(&mut z, &params, 300).unwrap();
            let got = nsec3s(&z);
            assert_eq!(got.len(), 14);
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.next, got[(i + 1) % got.len()].owner);
                assert_eq!((r.iterations, &r.salt), (params.iterations, &params.salt));
            }
            assert!(got.windows(2).all(|w| w[0].owner < w[1].owner));
            let param = z.get(&z.origin, rtype::NSEC3PARAM).unwrap();
            assert_eq!(param.rdatas[0], *nsec3param_rdata(&params).unwrap());
        }
    }

    /// A salt over 255 octets, an origin with no room for a hash label and a hash
    /// collision are errors that leave the zone as it was, never a panic.
    #[test]
    fn errors_leave_the_zone_unchanged() {
        let mut z = zone_of("example.", ZONE);
        let before = z.rrsets.len();
        let long_salt = Params {
            salt: vec![0; 256],
            ..Params::default()
        };
        assert_eq!(
            add_chain(&mut z, &long_salt, 300),
            Err(Nsec3Error::SaltTooLong(256))
        );
        assert_eq!(z.rrsets.len(), before);

        let label = "a".repeat(63);
        let origin = format!("{label}.{label}.{label}.{}.", "b".repeat(30));
        let mut long = zone_of(
            &origin,
            &format!("$ORIGIN {origin}\n@ 300 SOA ns1.other. host.other. 1 2 3 4 300\n"),
        );
        assert!(matches!(
            add_chain(&mut long, &Params::default(), 300),
            Err(Nsec3Error::OriginTooLong(_))
        ));
        assert_eq!(long.rrsets.len(), 1);

        let link = |b: u8| Link {
            hash: [b; HASH_LEN],
            bitmap: Bitmap::of(&[]),
            loc: SourceLoc::default(),
        };
        assert_eq!(collision(&[link(1), link(2), link(3)]), None);
        assert_eq!(collision(&[link(1), link(2), link(2)]), Some([2; HASH_LEN]));
    }

    /// A link keeps any bitmap: short ones inline, a long one (types in many windows)
    /// on the heap, both the RFC 4034 encoding of the types.
    #[test]
    fn link_bitmaps_inline_and_long() {
        let short = [rtype::NS, rtype::DS, rtype::RRSIG];
        let long: Vec<u16> = (0..40u16).map(|w| w * 256 + 1).collect();
        for types in [&short[..], &long[..], &[]] {
            let bitmap = Bitmap::of(types);
            assert_eq!(bitmap.wire(), &encode_type_bitmap(types)[..]);
            assert_eq!(decode_type_bitmap(bitmap.wire()).unwrap(), types);
            let inline = matches!(bitmap, Bitmap::Inline { .. });
            assert_eq!(inline, types.len() < 40, "{types:?}");
        }
    }

    #[test]
    fn hashed_owner_and_label() {
        let hash = hash_name(&name("example."), &[0xaa, 0xbb, 0xcc, 0xdd], 12);
        assert_eq!(
            hashed_owner(&hash, &name("example.")).unwrap().to_string(),
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example."
        );
        assert_eq!(b32(&[0; HASH_LEN]), "0".repeat(32));
        assert_eq!(b32(&[0xff; HASH_LEN]), "v".repeat(32));
    }

    /// A zone for the peers: every kind of name the chain treats differently (secure,
    /// insecure and deep delegations, glue, data at a cut, a DNAME and what it
    /// occludes, a wildcard, empty non-terminals), with DS digests of their true length.
    const PEER_ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
@ SOA ns1 host 1 3600 300 3600000 300\n@ NS ns1\n@ MX 10 mail\n@ TXT \"apex\"\n\
ns1 A 192.0.2.1\nmail AAAA 2001:db8::25\n\
a.b.c A 192.0.2.2\n*.w TXT \"wild\"\nx.w A 192.0.2.8\n\
sub NS ns.sub\nsub DS 1 13 2 0000000000000000000000000000000000000000000000000000000000000001\n\
sub A 192.0.2.9\nns.sub A 192.0.2.3\ndeep.ns.sub TXT \"o\"\n\
ins.x.y NS ns1.other.\ninsec NS ns1.other.\n\
mix.z NS ns1.other.\nsec.z NS ns1.other.\n\
sec.z DS 2 13 2 0000000000000000000000000000000000000000000000000000000000000002\n\
dn DNAME other.org.\nx.dn A 192.0.2.4\n";

    /// Runs a peer tool, failing the test with its stderr if it fails.
    fn run_tool(cmd: &mut std::process::Command) -> String {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (the peer tools are test requirements)"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd:?} failed: {err}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The NSEC3 RRsets of a zone as (owner, TTL, RDATA), sorted by owner.
    fn nsec3_records(z: &Zone) -> Vec<(String, u32, Vec<u8>)> {
        let mut v: Vec<(String, u32, Vec<u8>)> = z
            .rrsets
            .iter()
            .filter(|s| s.rtype == rtype::NSEC3)
            .flat_map(|s| {
                s.rdatas
                    .iter()
                    .map(|r| (s.owner.to_string(), s.ttl, r.to_vec()))
            })
            .collect();
        v.sort();
        v
    }

    /// Ours, for the peer zone with a DNSKEY at the apex as the peers add theirs.
    fn ours(params: &Params) -> Vec<(String, u32, Vec<u8>)> {
        let text = format!("{PEER_ZONE}@ DNSKEY 257 3 13 {}\n", "A".repeat(88));
        let mut z = zone_of("example.", &text);
        add_chain(&mut z, params, 300).unwrap();
        nsec3_records(&z)
    }

    fn theirs(signed: &std::path::Path) -> Vec<(String, u32, Vec<u8>)> {
        let text = std::fs::read(signed).unwrap();
        nsec3_records(&zone_of("example.", &String::from_utf8_lossy(&text)))
    }

    /// Cross-check against the peers: the same zone signed by `dnssec-signzone -3`
    /// (BIND 9.18) with opt-out (`-A`: it too leaves out insecure delegations and the
    /// empty non-terminals leading only to them) and without, and by `ldns-signzone -n`
    /// without opt-out (its `-p` only sets the flag, chaining every delegation, which
    /// is not what opt-out is for). Owners, TTL (the SOA MINIMUM here), flags,
    /// iterations, salt, next hashed owners and bitmaps agree record for record.
    #[test]
    fn chain_agrees_with_dnssec_signzone_and_ldns_signzone() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let zone = d.join("example.zone");
        std::fs::write(&zone, PEER_ZONE).unwrap();
        for ksk in [true, false] {
            let mut cmd = Command::new("dnssec-keygen");
            cmd.current_dir(d).args(["-q", "-a", "ECDSAP256SHA256"]);
            if ksk {
                cmd.args(["-f", "KSK"]);
            }
            run_tool(cmd.arg("example"));
        }
        let cases = [
            (Params::default(), "-", "0"),
            (
                Params {
                    iterations: 5,
                    salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
                    opt_out: true,
                },
                "aabbccdd",
                "5",
            ),
            (
                Params {
                    iterations: 1,
                    salt: vec![0x01],
                    opt_out: false,
                },
                "01",
                "1",
            ),
        ];
        for (params, salt, iterations) in &cases {
            let out = d.join("bind.signed");
            let mut cmd = Command::new("dnssec-signzone");
            cmd.current_dir(d)
                .args(["-S", "-K", ".", "-O", "full", "-o", "example", "-f"])
                .arg(&out)
                .args(["-3", salt, "-H", iterations]);
            if params.opt_out {
                cmd.arg("-A");
            }
            run_tool(cmd.arg(&zone));
            let want = ours(params);
            assert!(want.len() >= 10, "{want:?}");
            assert_eq!(theirs(&out), want, "dnssec-signzone {params:?}");
        }
        let key = run_tool(Command::new("ldns-keygen").current_dir(d).args([
            "-a",
            "ECDSAP256SHA256",
            "example",
        ]));
        for (params, salt, iterations) in cases.iter().filter(|c| !c.0.opt_out) {
            let out = d.join("ldns.signed");
            let mut cmd = Command::new("ldns-signzone");
            cmd.current_dir(d)
                .args(["-n", "-t", iterations, "-f"])
                .arg(&out);
            if !params.salt.is_empty() {
                cmd.args(["-s", salt]);
            }
            run_tool(cmd.arg(&zone).arg(key.trim()));
            assert_eq!(theirs(&out), ours(params), "ldns-signzone {params:?}");
        }
    }
}
