//! Denial of existence for a signing run: NSEC or NSEC3, as the policy says (DPS-6.2,
//! issue 24).
//!
//! The chain itself is built by [`crate::zone::nsec`] or [`crate::zone::nsec3`]; this
//! module makes the run's decisions around it: whether NSEC3 may be used with the
//! zone's keys at all (never under RSASHA1, RFC 5155 §2), and which salt the chain
//! gets. A random salt lives in the key state ([`KeyStore::nsec3_salt`]) and is saved
//! with it only after the zone carrying it was renamed into place, so a run killed
//! before that leaves the old salt in force; a run killed between the rename and the
//! save publishes a zone consistent with its own new salt, and the next run, finding
//! the old salt still expired, draws another one — a second valid chain change, never
//! an invalid zone.

use rand::{RngExt, SeedableRng};

use crate::audit::Event;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::{KeyStore, Nsec3Salt};
use crate::dnssec::policy::{Denial, Policy};
use crate::error::{Error, Result, UsageError};
use crate::zone::nsec3::{self, Params};
use crate::zone::{Zone, nsec};

/// Refuses `denial = "nsec3"` while the DNSKEY RRset has an RSASHA1 (algorithm 5) key:
/// RFC 5155 §2 reserves NSEC3 for algorithms that imply NSEC3 awareness, so that a
/// resolver that knows algorithm 5 but not NSEC3 never meets an NSEC3 zone. Checked
/// before the zone is read and again after the key lifecycle moved, before signing.
pub fn refuse_nsec3_with_rsasha1(policy: &Policy, store: &KeyStore) -> Result<()> {
    if policy.denial != Denial::Nsec3 {
        return Ok(());
    }
    let tags: Vec<u16> = store
        .published()
        .filter(|k| k.algorithm == Algorithm::RsaSha1)
        .map(|k| k.tag)
        .collect();
    if tags.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(UsageError::Nsec3WithRsaSha1 { tags }))
    }
}

/// [`refuse_nsec3_with_rsasha1`] on the key state as it is on disk, before the run
/// reads the zone; without a key state there is nothing to refuse (the run fails later
/// for want of keys).
pub fn refuse_before_work(policy: &Policy, keys: &std::path::Path) -> Result<()> {
    if policy.denial != Denial::Nsec3 || !keys.exists() {
        return Ok(());
    }
    refuse_nsec3_with_rsasha1(policy, &KeyStore::load(keys)?)
}

/// The NSEC3 parameters of this run, or `None` for NSEC. With a salt length above 0,
/// the stored salt is kept while it has that length and is younger than
/// `nsec3-salt-lifetime`; otherwise a new one is drawn into `store` (saved only with
/// the published zone) and the audit event for it is returned.
///
/// The salt comes from its own generator: seeded from `--seed` and the run's time (so
/// a test run is repeatable, and a rotation under one seed still changes the salt), or
/// from the system otherwise.
pub fn nsec3_params(
    policy: &Policy,
    store: &mut KeyStore,
    origin: &str,
    now: i64,
    seed: Option<u64>,
) -> (Option<Params>, Option<Event>) {
    if policy.denial != Denial::Nsec3 {
        return (None, None);
    }
    let len = usize::from(policy.nsec3_salt_length);
    let mut event = None;
    let salt = if len == 0 {
        Vec::new()
    } else {
        let current = store.nsec3_salt.as_ref().and_then(|s| {
            let bytes = data_encoding::HEXUPPER_PERMISSIVE
                .decode(s.salt.as_bytes())
                .ok()?;
            let fresh = now.saturating_sub(s.created) < i64::from(policy.nsec3_salt_lifetime);
            (bytes.len() == len && fresh).then_some(bytes)
        });
        match current {
            Some(bytes) => bytes,
            None => {
                let mut rng = match seed {
                    Some(s) => rand::rngs::StdRng::seed_from_u64(s ^ now as u64),
                    None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
                };
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let hex = data_encoding::HEXUPPER.encode(&bytes);
                event = Some(Event::Nsec3Salt {
                    zone: origin.to_string(),
                    salt: hex.clone(),
                    reason: if store.nsec3_salt.is_some() {
                        "lifetime"
                    } else {
                        "first"
                    }
                    .into(),
                });
                store.nsec3_salt = Some(Nsec3Salt {
                    salt: hex,
                    created: now,
                });
                bytes
            }
        }
    };
    let params = Params {
        iterations: policy.nsec3_iterations,
        salt,
        opt_out: policy.nsec3_opt_out,
    };
    (Some(params), event)
}

/// Adds the denial chain the run decided on: NSEC3 with `params`, else NSEC; both
/// with the policy's NSEC TTL (RFC 5155 §3 gives NSEC3 the NSEC rule).
pub fn add_denial(zone: &mut Zone, params: Option<&Params>, ttl: u32) -> Result<()> {
    match params {
        Some(p) => {
            nsec3::add_chain(zone, p, ttl).map_err(|e| Error::Usage(UsageError::Nsec3Chain(e)))
        }
        None => {
            nsec::add_chain(zone, ttl);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::policy::DAY;

    fn nsec3_policy(salt: u16) -> Policy {
        Policy {
            denial: Denial::Nsec3,
            nsec3_salt_length: salt,
            ..Policy::default()
        }
    }

    /// The salt is drawn once, kept for its lifetime, then replaced (with an event
    /// each time); no salt means no state and no event.
    #[test]
    fn salt_is_kept_for_its_lifetime_then_replaced() {
        let mut store = KeyStore::default();
        let (p, e) = nsec3_params(&Policy::default(), &mut store, "se.", 0, Some(1));
        assert!(p.is_none() && e.is_none());
        let (p, e) = nsec3_params(&nsec3_policy(0), &mut store, "se.", 0, Some(1));
        assert_eq!(p.unwrap().salt, Vec::<u8>::new());
        assert!(e.is_none() && store.nsec3_salt.is_none());
        let policy = nsec3_policy(8);
        let t0 = 1_800_000_000;
        let (p, e) = nsec3_params(&policy, &mut store, "se.", t0, Some(1));
        let first = p.unwrap().salt;
        assert_eq!(first.len(), 8);
        assert!(matches!(e, Some(Event::Nsec3Salt { ref reason, .. }) if reason == "first"));
        let (p, e) = nsec3_params(
            &policy,
            &mut store,
            "se.",
            t0 + 29 * i64::from(DAY),
            Some(1),
        );
        assert_eq!(p.unwrap().salt, first);
        assert!(e.is_none());
        let (p, e) = nsec3_params(
            &policy,
            &mut store,
            "se.",
            t0 + 30 * i64::from(DAY),
            Some(1),
        );
        assert_ne!(p.unwrap().salt, first);
        assert!(matches!(e, Some(Event::Nsec3Salt { ref reason, .. }) if reason == "lifetime"));
        // Another length: a new salt at once.
        let (p, e) = nsec3_params(
            &nsec3_policy(4),
            &mut store,
            "se.",
            t0 + 31 * i64::from(DAY),
            Some(1),
        );
        assert_eq!(p.unwrap().salt.len(), 4);
        assert!(e.is_some());
    }
}
