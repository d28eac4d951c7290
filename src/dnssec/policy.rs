//! Signing policy: validity jitter, TTL rules and SOA serial (DPS-6.5, DPS-6.7).
//!
//! The `.se` practice statement's values are the built-in default ([`Policy::default`]);
//! a TOML file can override any of them. Algorithm and key sizes live here too, because
//! DPS-6.1 says algorithm choice is policy, not code.

use std::path::Path;

use rand::RngExt;
use serde::{Deserialize, Deserializer};

use crate::dns::algorithm::Algorithm;
use crate::error::{Error, Result, UsageError};

/// RRSIG times and serial arithmetic live in [`crate::dns::time`]; they are re-exported
/// here for the modules that take them together with the policy.
pub use crate::dns::time::{expand_rrsig_time, rrsig_time, serial_gt};

/// How the NSEC TTL is chosen (DPS-6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NsecTtl {
    /// The SOA MINIMUM field, as the practice statement says.
    SoaMinimum,
    /// RFC 9077: the smaller of the SOA TTL and the SOA MINIMUM field.
    Rfc9077,
}

/// Authenticated denial of existence (DPS-6.2: NSEC; NSEC3 per RFC 5155 on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Denial {
    /// An NSEC chain (RFC 4034 §4), the practice statement's choice.
    #[default]
    Nsec,
    /// An NSEC3 chain of hashed names (RFC 5155).
    Nsec3,
}

impl Denial {
    /// The setting's value as written in the policy.
    pub fn name(self) -> &'static str {
        match self {
            Denial::Nsec => "nsec",
            Denial::Nsec3 => "nsec3",
        }
    }
}

/// The most NSEC3 iterations a policy may ask for. RFC 9276 §3.2 lets validators treat
/// any value above 0 as insecure; BIND 9.20 does so above 50 (Unbound, Knot Resolver
/// and PowerDNS above 150): a zone signed with more is unsigned for their users, so
/// such a policy is refused rather than warned about.
pub const MAX_NSEC3_ITERATIONS: u16 = 50;

/// How the SOA serial of the signed zone is derived from the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SerialPolicy {
    /// Keep the input's serial.
    Keep,
    /// Input serial plus one.
    Increment,
    /// Seconds since the epoch, or input + 1 if that is not larger (RFC 1982).
    Unixtime,
    /// `YYYYMMDDnn`, or input + 1 if that is not larger.
    DateCounter,
}

/// The ZONEMD the signer puts at the apex (RFC 8976 SIMPLE scheme), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZonemdSetting {
    /// No ZONEMD in the output.
    None,
    /// SHA-384 (hash algorithm 1).
    Sha384,
    /// SHA-512 (hash algorithm 2).
    Sha512,
}

impl ZonemdSetting {
    /// The hash algorithms to digest the signed zone with; empty for `none`.
    pub fn hashes(self) -> Vec<crate::zone::zonemd::HashAlg> {
        use crate::zone::zonemd::HashAlg;
        match self {
            ZonemdSetting::None => Vec::new(),
            ZonemdSetting::Sha384 => vec![HashAlg::Sha384],
            ZonemdSetting::Sha512 => vec![HashAlg::Sha512],
        }
    }
}

/// The whole policy; every field has the `.se` default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// Shortest signature validity, inception to expiration (DPS-6.5: 12 days).
    #[serde(deserialize_with = "duration")]
    pub validity_min: u32,
    /// Longest signature validity (DPS-6.5 and DPS-5.1: 14 days, never longer).
    #[serde(deserialize_with = "duration")]
    pub validity_max: u32,
    /// How far before the signing time the inception lies (DPS-6.5: one hour), so
    /// resolvers with a slow clock accept fresh signatures.
    #[serde(deserialize_with = "duration")]
    pub inception_offset: u32,
    /// Signatures expiring within this window are renewed by a re-sign (DPS-6.5: 10 days).
    #[serde(deserialize_with = "duration")]
    pub refresh: u32,
    /// DNSKEY RRset TTL (DPS-6.7: 3600).
    pub dnskey_ttl: u32,
    /// TTL of DS RRsets at delegations (DPS-6.7: 3600).
    pub ds_ttl: u32,
    /// NSEC TTL rule (DPS-6.7: SOA minimum).
    pub nsec_ttl: NsecTtl,
    /// SOA serial rule.
    pub serial: SerialPolicy,
    // ZONEMD (RFC 8976, PIPE-3, PIPE-4): one block.
    /// The ZONEMD made after signing (default SHA-384, RFC 8976's mandatory one).
    pub zonemd: ZonemdSetting,
    /// Refuse an input without a ZONEMD of its serial (PIPE-3); default false.
    pub require_input_zonemd: bool,
    /// Most DS records one delegation may have (DPS-3.3: 6).
    pub max_ds_per_delegation: usize,
    /// Algorithm for new keys (DPS-6.1: RSASHA1).
    #[serde(deserialize_with = "algorithm")]
    pub algorithm: Algorithm,
    /// RSA KSK size in bits (DPS-6.1: 2048).
    pub ksk_bits: u32,
    /// RSA ZSK size in bits (DPS-6.1: 1024).
    pub zsk_bits: u32,
    /// How long an active ZSK signs before the scheduled roll replaces it (DPS-6.4: 84
    /// days). The successor is pre-published so that it is active exactly then.
    #[serde(deserialize_with = "duration")]
    pub zsk_lifetime: u32,
    /// Time for a change to reach every secondary (RFC 7583 "propagation delay"); it is
    /// added to every cache interval, because caches only start counting once they see
    /// the change.
    #[serde(deserialize_with = "duration")]
    pub propagation: u32,
    /// The largest TTL in the zone, for how long a resolver may keep an RRset (and its
    /// signature) after the zone stopped serving it.
    #[serde(deserialize_with = "duration")]
    pub max_zone_ttl: u32,
    /// Denial of existence (DPS-6.2: `nsec`).
    pub denial: Denial,
    /// NSEC3 additional hash iterations (RFC 9276 §3.1: 0).
    pub nsec3_iterations: u16,
    /// NSEC3 salt length in octets (RFC 9276 §3.1: 0, no salt); above 0 the salt is
    /// random and replaced every `nsec3-salt-lifetime`.
    pub nsec3_salt_length: u16,
    /// How long one random salt is used (default 30 days).
    #[serde(deserialize_with = "duration")]
    pub nsec3_salt_lifetime: u32,
    /// NSEC3 opt-out: delegations without DS left out of the chain (RFC 5155 §6).
    pub nsec3_opt_out: bool,
    /// The `[ingress]` table, when the policy file holds it rather than the config
    /// (PIPE-1; see [`crate::config::Config::pipeline_checks`]).
    pub ingress: Option<crate::zone::ingress::IngressSection>,
    /// The `[egress]` table, likewise.
    pub egress: Option<crate::zone::ingress::EgressSection>,
}

/// One day in seconds.
pub const DAY: u32 = 86_400;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            validity_min: 12 * DAY,
            validity_max: 14 * DAY,
            inception_offset: 3600,
            refresh: 10 * DAY,
            dnskey_ttl: 3600,
            ds_ttl: 3600,
            nsec_ttl: NsecTtl::SoaMinimum,
            serial: SerialPolicy::Unixtime,
            zonemd: ZonemdSetting::Sha384,
            require_input_zonemd: false,
            max_ds_per_delegation: 6,
            algorithm: Algorithm::RsaSha1,
            ksk_bits: 2048,
            zsk_bits: 1024,
            zsk_lifetime: 84 * DAY,
            propagation: 3600,
            max_zone_ttl: 2 * DAY,
            denial: Denial::Nsec,
            nsec3_iterations: 0,
            nsec3_salt_length: 0,
            nsec3_salt_lifetime: 30 * DAY,
            nsec3_opt_out: false,
            ingress: None,
            egress: None,
        }
    }
}

/// A rule of the practice statement that a policy breaks ([`Policy::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyProblem {
    /// `validity-min` > `validity-max`.
    #[error("validity-min is larger than validity-max")]
    ValidityMinAboveMax,
    /// `validity-max` <= `inception-offset`.
    #[error("validity-max must be longer than inception-offset")]
    ValidityNotBeyondInception,
    /// `zsk-lifetime` <= `dnskey-ttl` + `propagation`.
    #[error("zsk-lifetime must be longer than dnskey-ttl + propagation")]
    ZskLifetimeTooShort,
    /// `refresh` >= `validity-min`.
    #[error("refresh must be shorter than validity-min, or every run re-signs all")]
    RefreshTooLong,
    /// `nsec3-iterations` above [`MAX_NSEC3_ITERATIONS`].
    #[error(
        "nsec3-iterations above 50: validators treat such zones as insecure (RFC 9276 section 3.2; BIND 9.20 above 50, Unbound and Knot Resolver above 150); use 0 (RFC 9276 section 3.1)"
    )]
    Nsec3IterationsTooHigh,
    /// `nsec3-salt-length` above 255 (one length octet, RFC 5155 §3.1.4).
    #[error(
        "nsec3-salt-length above 255 octets: the salt length field is one octet (RFC 5155 section 3.1.4); use 0 (RFC 9276 section 3.1)"
    )]
    Nsec3SaltTooLong,
    /// `nsec3-salt-lifetime` of 0 with a salt: a new salt every run.
    #[error("nsec3-salt-lifetime must be above 0 when nsec3-salt-length is above 0")]
    Nsec3SaltLifetimeZero,
}

impl Policy {
    /// Reads a TOML policy file; fields it does not name keep the `.se` default.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut policy: Policy = toml::from_str(&text).map_err(|source| {
            Error::Usage(UsageError::BadPolicyFile {
                path: path.to_path_buf(),
                source,
            })
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(i) = policy.ingress.as_mut() {
            crate::config::resolve_programs(&mut i.checks, dir);
        }
        if let Some(e) = policy.egress.as_mut() {
            crate::config::resolve_programs(&mut e.checks, dir);
        }
        policy.validate().map_err(|problem| {
            Error::Usage(UsageError::InvalidPolicy {
                path: path.to_path_buf(),
                problem,
            })
        })?;
        Ok(policy)
    }

    /// Rejects policies that would produce signatures the practice statement forbids.
    pub fn validate(&self) -> std::result::Result<(), PolicyProblem> {
        if self.validity_min > self.validity_max {
            return Err(PolicyProblem::ValidityMinAboveMax);
        }
        if self.validity_max <= self.inception_offset {
            return Err(PolicyProblem::ValidityNotBeyondInception);
        }
        if i64::from(self.zsk_lifetime) <= self.zsk_prepublish() {
            return Err(PolicyProblem::ZskLifetimeTooShort);
        }
        if self.refresh >= self.validity_min {
            return Err(PolicyProblem::RefreshTooLong);
        }
        self.validate_nsec3()
    }

    /// The NSEC3 settings' limits (checked whatever `denial` is, so that switching to
    /// NSEC3 later cannot meet a bad value mid-operation).
    fn validate_nsec3(&self) -> std::result::Result<(), PolicyProblem> {
        if self.nsec3_iterations > MAX_NSEC3_ITERATIONS {
            return Err(PolicyProblem::Nsec3IterationsTooHigh);
        }
        if self.nsec3_salt_length > 255 {
            return Err(PolicyProblem::Nsec3SaltTooLong);
        }
        if self.nsec3_salt_length > 0 && self.nsec3_salt_lifetime == 0 {
            return Err(PolicyProblem::Nsec3SaltLifetimeZero);
        }
        Ok(())
    }

    /// NSEC3 settings that differ from RFC 9276's advice, each with the RFC's reason;
    /// none when `denial` is NSEC.
    pub fn nsec3_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.denial != Denial::Nsec3 {
            return w;
        }
        if self.nsec3_iterations > 0 {
            w.push(format!(
                "nsec3-iterations = {}: RFC 9276 section 3.1 says 0; extra iterations cost every server and resolver work and protect nothing (hashes of DNS names are cheap to guess), and validators may treat zones with iterations above 0 as insecure (section 3.2)",
                self.nsec3_iterations
            ));
        }
        if self.nsec3_salt_length > 0 {
            w.push(format!(
                "nsec3-salt-length = {}: RFC 9276 section 3.1 says no salt; a salt adds no protection (the zone's hashes are computed once per salt anyway) and changing it rebuilds the whole chain",
                self.nsec3_salt_length
            ));
        }
        if self.nsec3_opt_out {
            w.push(
                "nsec3-opt-out = true: RFC 9276 section 3.1 advises opt-out only for very large, sparsely signed zones; insecure delegations lose proof of non-existence (anyone can add an insecure delegation to answers)".into(),
            );
        }
        w
    }

    /// Draws one signature's (inception, expiration) for signing time `now`.
    ///
    /// The validity (expiration − inception) is uniform in `[validity_min, validity_max]`
    /// so that expirations spread out and no single run has to re-sign everything
    /// (DPS-6.5); the inception is `inception_offset` before `now`.
    pub fn draw_times(&self, now: i64, rng: &mut impl rand::Rng) -> (u32, u32) {
        let validity = rng.random_range(self.validity_min..=self.validity_max);
        let inception = now - i64::from(self.inception_offset);
        (
            rrsig_time(inception),
            rrsig_time(inception + i64::from(validity)),
        )
    }

    /// Pre-publication interval of a ZSK (RFC 6781 §4.1.1.1, RFC 7583 §3.2): a new ZSK's
    /// DNSKEY is in the zone this long before it signs, so every resolver that sees a
    /// signature by it also has a DNSKEY RRset that contains it.
    pub fn zsk_prepublish(&self) -> i64 {
        i64::from(self.dnskey_ttl) + i64::from(self.propagation)
    }

    /// How long a retired ZSK's DNSKEY stays in the zone: until no signature it made can
    /// still be valid in a cache (longest validity + largest TTL + propagation). This is
    /// more than RFC 7583's minimum, because zonesign re-signs everything at the switch
    /// but a signature may still sit in a cache for its whole validity.
    pub fn zsk_retire_interval(&self) -> i64 {
        i64::from(self.validity_max) + i64::from(self.max_zone_ttl) + i64::from(self.propagation)
    }

    /// How long a new KSK's DNSKEY must be published before its DS may go to the parent
    /// (RFC 6781 §4.1.2, RFC 7583 §3.3.1 "Trdy"): the DNSKEY TTL plus propagation.
    pub fn ksk_ds_ready(&self) -> i64 {
        i64::from(self.dnskey_ttl) + i64::from(self.propagation)
    }

    /// How long after the parent publishes the new DS the old KSK keeps signing and stays
    /// published: until the old DS has left every cache (DS TTL plus the parent's
    /// propagation).
    pub fn ksk_retire_after_ds(&self) -> i64 {
        i64::from(self.ds_ttl) + i64::from(self.propagation)
    }

    /// The NSEC TTL for a zone whose SOA has TTL `soa_ttl` and MINIMUM `soa_minimum`.
    pub fn nsec_ttl_for(&self, soa_ttl: u32, soa_minimum: u32) -> u32 {
        match self.nsec_ttl {
            NsecTtl::SoaMinimum => soa_minimum,
            NsecTtl::Rfc9077 => soa_ttl.min(soa_minimum),
        }
    }

    /// The signed zone's SOA serial given the input serial and the signing time.
    ///
    /// Every rule except `keep` moves the serial forward in RFC 1982 arithmetic, so
    /// secondaries always pick up the newly signed zone.
    pub fn next_serial(&self, input: u32, now: i64) -> u32 {
        let candidate = match self.serial {
            SerialPolicy::Keep => return input,
            SerialPolicy::Increment => input.wrapping_add(1),
            SerialPolicy::Unixtime => rrsig_time(now),
            SerialPolicy::DateCounter => date_counter(now),
        };
        if serial_gt(candidate, input) {
            candidate
        } else {
            input.wrapping_add(1)
        }
    }
}

fn date_counter(now: i64) -> u32 {
    let date = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let ymd: u32 = date.format("%Y%m%d").to_string().parse().unwrap_or(0);
    ymd.saturating_mul(100)
}

/// Parses a duration: plain seconds or BIND-style units (`1w2d`, `12d`, `1h`, `30m`, `10s`).
pub fn parse_duration(text: &str) -> std::result::Result<u32, String> {
    let bad = || format!("bad duration '{text}' (use seconds or units like 12d, 1h, 1w2d)");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            'w' => 604_800,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u32),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(n) => Ok(n),
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

fn algorithm<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Algorithm, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn jitter_stays_within_12_to_14_days_dps_6_5() {
        let p = Policy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let now = 1_800_000_000;
        let (mut lo, mut hi) = (u32::MAX, 0);
        for _ in 0..20_000 {
            let (inc, exp) = p.draw_times(now, &mut rng);
            assert_eq!(i64::from(inc), now - 3600, "inception is one hour back");
            let v = exp - inc;
            assert!(
                (12 * DAY..=14 * DAY).contains(&v),
                "validity {v} out of bounds"
            );
            lo = lo.min(v);
            hi = hi.max(v);
        }
        // The draws really spread over the window (jitter, not a constant).
        assert!(lo < 12 * DAY + 3600 && hi > 14 * DAY - 3600, "{lo} {hi}");
    }

    #[test]
    fn serial_rules_move_forward() {
        let mut p = Policy::default();
        let now = 1_800_000_000;
        assert_eq!(p.next_serial(5, now), 1_800_000_000);
        assert_eq!(p.next_serial(1_900_000_000, now), 1_900_000_001);
        p.serial = SerialPolicy::Keep;
        assert_eq!(p.next_serial(5, now), 5);
        p.serial = SerialPolicy::Increment;
        assert_eq!(p.next_serial(u32::MAX, now), 0);
        p.serial = SerialPolicy::DateCounter;
        // 1_800_000_000 is 2027-01-15.
        assert_eq!(p.next_serial(5, now), 2_027_011_500);
        assert_eq!(p.next_serial(2_027_011_500, now), 2_027_011_501);
    }

    #[test]
    fn nsec_ttl_rules_dps_6_7() {
        let mut p = Policy::default();
        assert_eq!(p.nsec_ttl_for(3600, 7200), 7200);
        p.nsec_ttl = NsecTtl::Rfc9077;
        assert_eq!(p.nsec_ttl_for(3600, 7200), 3600);
    }

    #[test]
    fn zonemd_settings_pipe_3_pipe_4() {
        let p = Policy::default();
        assert_eq!(
            (p.zonemd, p.require_input_zonemd),
            (ZonemdSetting::Sha384, false)
        );
        let p: Policy = toml::from_str("zonemd = \"sha512\"\nrequire-input-zonemd = true").unwrap();
        assert_eq!(
            (p.zonemd, p.require_input_zonemd),
            (ZonemdSetting::Sha512, true)
        );
        assert_eq!(p.zonemd.hashes(), [crate::zone::zonemd::HashAlg::Sha512]);
        let p: Policy = toml::from_str("zonemd = \"none\"").unwrap();
        assert!(p.zonemd.hashes().is_empty());
        assert!(toml::from_str::<Policy>("zonemd = \"sha1\"").is_err());
    }

    #[test]
    fn durations_and_toml_overrides() {
        assert_eq!(parse_duration("1w2d").unwrap(), 9 * DAY);
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert!(parse_duration("12x").is_err());
        assert!(parse_duration("9").is_ok());
        let p: Policy = toml::from_str(
            "validity-max = \"13d\"\nserial = \"keep\"\nalgorithm = \"ecdsap256sha256\"",
        )
        .unwrap();
        assert_eq!(p.validity_max, 13 * DAY);
        assert_eq!(p.validity_min, 12 * DAY);
        assert_eq!(p.serial, SerialPolicy::Keep);
        assert_eq!(p.algorithm, Algorithm::EcdsaP256Sha256);
        assert!(toml::from_str::<Policy>("no-such-field = 1").is_err());
    }

    /// DPS-6.2 default NSEC; RFC 9276 defaults for NSEC3 without warnings; other
    /// values warn with the RFC's reason; values validators reject are refused.
    #[test]
    fn nsec3_settings_rfc_9276() {
        let p = Policy::default();
        assert_eq!(p.denial, Denial::Nsec);
        assert_eq!(
            (p.nsec3_iterations, p.nsec3_salt_length, p.nsec3_opt_out),
            (0, 0, false)
        );
        assert_eq!(p.nsec3_salt_lifetime, 30 * DAY);
        let p: Policy = toml::from_str("denial = \"nsec3\"").unwrap();
        assert_eq!(p.denial, Denial::Nsec3);
        assert!(p.nsec3_warnings().is_empty());
        let p: Policy = toml::from_str(
            "denial = \"nsec3\"\nnsec3-iterations = 5\nnsec3-salt-length = 8\n\
             nsec3-salt-lifetime = \"7d\"\nnsec3-opt-out = true",
        )
        .unwrap();
        assert_eq!(p.nsec3_salt_lifetime, 7 * DAY);
        let w = p.nsec3_warnings().join("\n");
        assert_eq!(p.nsec3_warnings().len(), 3, "{w}");
        assert!(w.contains("RFC 9276") && w.contains("opt-out"), "{w}");
        assert!(toml::from_str::<Policy>("denial = \"nsec5\"").is_err());
        let mut p = Policy {
            nsec3_iterations: 51,
            ..Policy::default()
        };
        assert_eq!(p.validate(), Err(PolicyProblem::Nsec3IterationsTooHigh));
        p.nsec3_iterations = 50;
        p.nsec3_salt_length = 256;
        assert_eq!(p.validate(), Err(PolicyProblem::Nsec3SaltTooLong));
        p.nsec3_salt_length = 255;
        assert_eq!(p.validate(), Ok(()));
    }
}
