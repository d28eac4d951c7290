//! Algorithm rollover (PIPE-7, RFC 6781 §4.1.4 conservative approach, RFC 7583 timing).
//!
//! A registry leaving RSASHA1 (RFC 9905) replaces its KSK and ZSK by keys of another
//! algorithm. A validator that follows RFC 4035 §2.2 to the letter expects every
//! algorithm of the DNSKEY RRset to sign every RRset, and a cache may hold an RRset
//! from before any step together with a DNSKEY RRset from after it. So the steps go in
//! the one order that keeps every mix valid:
//!
//! 1. **New signatures.** `key rollover --algorithm ALG` makes the next generated KSK
//!    and ZSK of ALG active: from the next sign run they sign (the KSK the DNSKEY
//!    RRset, the ZSK everything else) next to the old keys, but their DNSKEYs are not
//!    published ([`crate::dnssec::keys::AlgorithmRoll::publishes`]). Those signatures
//!    are ignored by validators that do not know the keys.
//! 2. **New DNSKEYs**, once every cached RRset carries the new signatures: the largest
//!    TTL of the zone plus propagation after the first run that published them.
//! 3. **New DS.** Once the new DNSKEYs are in every cache (DNSKEY TTL + propagation) the
//!    new KSK is `ready`: `key ds` offers its DS, and the parent may swap it in. The
//!    parent's change is recorded by `key ds-seen` or by the `--ds-anchor` file (PIPE-6).
//! 4. **Old DNSKEYs withdrawn**, once the old DS has left every cache (DS TTL +
//!    propagation after ds-seen). The old keys still sign: a cache may hold the DNSKEY
//!    RRset that lists both algorithms.
//! 5. **Old signatures removed**, once that DNSKEY RRset has left every cache (DNSKEY
//!    TTL + propagation): the old keys are retired and removed, the roll is over.
//!
//! Each step is taken by the first sign run at or after its time (as every lifecycle
//! transition, [`super::advance`]) and logged as `key-*` audit lines; nothing here
//! touches the token. While the roll is under way no other roll starts: two at once
//! would leave the DS set and the DNSKEY RRset out of step.

use crate::audit::KeyEvent;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::keys::{AlgorithmRoll, KeyState, KeyStore, Role, timestamp};
use crate::dnssec::policy::Policy;
use crate::error::Result;

use super::{Change, Refusal, active_ksks, indices, t};

/// Why `key rollover --algorithm` refuses; nothing was changed ([`Refusal::Algorithm`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmRefusal {
    /// The zone already signs with that algorithm.
    #[error(
        "the active keys already use {0}; an algorithm roll changes the algorithm (`zonesign key rollover --role ksk|zsk` rolls keys of the same algorithm)"
    )]
    Same(Algorithm),
    /// RFC 9905 forbids signing with the target.
    #[error(
        "{0} must not be used to create DNSKEY or RRSIG records (RFC 9905): roll to ecdsap256sha256, rsasha256 or ed25519"
    )]
    Forbidden(Algorithm),
    /// Another roll of any kind is under way.
    #[error(
        "a {0} is in progress: finish it first (`zonesign key list` shows its steps); two rolls at once would leave the parent's DS set and the DNSKEY RRset out of step"
    )]
    InProgress(&'static str),
    /// The active keys do not share one algorithm.
    #[error(
        "the active keys use several algorithms ({0}); an algorithm roll starts from one. See `zonesign key list`"
    )]
    Mixed(String),
    /// No generated key of the role and algorithm to roll to.
    #[error(
        "no pre-generated {} of {alg}: run `zonesign key generate --role {role} --algorithm {alg}` (it needs the PIN and checks that the token has the mechanisms; DPS-5.1), then try again",
        .role.to_string().to_uppercase()
    )]
    NoSpare {
        /// The role missing.
        role: Role,
        /// The algorithm asked for.
        alg: Algorithm,
    },
}

/// `zonesign key rollover --algorithm ALG`: starts the roll at step 1 (see the module
/// doc) with the next generated KSK and ZSK of `to`.
///
/// Refused, with nothing changed, when the zone already uses `to`, when `to` is
/// RSASHA1, when any roll is under way, when the active keys mix algorithms, or when a
/// generated KSK or ZSK of `to` is missing. The token is not asked: those keys were
/// made by `key generate`, which refuses an algorithm the token lacks the mechanisms
/// for, and every sign run finds its keys in the token before it signs.
pub fn start(store: &mut KeyStore, to: Algorithm, now: i64) -> Result<Vec<Change>> {
    let from = current_algorithm(store)?;
    if from == to {
        return Err(refused(AlgorithmRefusal::Same(to)));
    }
    if to.forbidden_by_rfc9905() {
        return Err(refused(AlgorithmRefusal::Forbidden(to)));
    }
    let ksk = spare_of(store, Role::Ksk, to)?;
    let zsk = spare_of(store, Role::Zsk, to)?;
    let mut changes = Vec::new();
    for i in [ksk, zsk] {
        let k = &mut store.keys[i];
        k.state = KeyState::Active;
        k.active = Some(timestamp(now));
        let what = match k.role {
            Role::Ksk => "the DNSKEY RRset",
            Role::Zsk => "every RRset",
        };
        changes.push(Change::new(
            k,
            KeyEvent::Active,
            now,
            format!(
                "algorithm roll {} -> {}: signs {what} from the next sign run; its DNSKEY follows once those signatures are in every cache (RFC 6781 section 4.1.4)",
                from.name(),
                to.name()
            ),
        ));
    }
    store.algorithm_roll = Some(AlgorithmRoll {
        from,
        to,
        started: timestamp(now),
        new_signatures: None,
        new_dnskeys: None,
        old_dnskeys_removed: None,
    });
    Ok(changes)
}

/// The one algorithm of the active keys, with no roll of any kind under way.
fn current_algorithm(store: &KeyStore) -> Result<Algorithm> {
    if store.algorithm_roll.is_some() {
        return Err(refused(AlgorithmRefusal::InProgress("algorithm roll")));
    }
    if active_ksks(store).len() > 1 {
        return Err(refused(AlgorithmRefusal::InProgress("KSK roll")));
    }
    if !indices(store, Role::Zsk, KeyState::Published).is_empty() {
        return Err(refused(AlgorithmRefusal::InProgress("ZSK roll")));
    }
    let mut algs: Vec<Algorithm> = store
        .keys
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .map(|k| k.algorithm)
        .collect();
    algs.sort();
    algs.dedup();
    match algs.as_slice() {
        [] => Err(Refusal::NoActiveKey { role: Role::Ksk }.into()),
        [one] => Ok(*one),
        many => Err(refused(AlgorithmRefusal::Mixed(
            many.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "),
        ))),
    }
}

/// The next generated key of `role` and `alg`, in generation order.
fn spare_of(store: &KeyStore, role: Role, alg: Algorithm) -> Result<usize> {
    (0..store.keys.len())
        .find(|&i| {
            let k = &store.keys[i];
            k.role == role && k.state == KeyState::Generated && k.algorithm == alg
        })
        .ok_or_else(|| refused(AlgorithmRefusal::NoSpare { role, alg }))
}

fn refused(why: AlgorithmRefusal) -> crate::error::Error {
    Refusal::Algorithm(why).into()
}

/// The step times of a roll, from the policy (RFC 7583 §3.3 intervals): when the new
/// DNSKEYs may be published, the old ones withdrawn, and the old signatures removed.
/// `None` where the step that starts the wait has not happened yet.
struct Due {
    new_dnskeys: Option<i64>,
    withdraw: Option<i64>,
    finish: Option<i64>,
}

fn due(roll: &AlgorithmRoll, ds_seen: Option<i64>, policy: &Policy) -> Due {
    let caches = i64::from(policy.max_zone_ttl) + i64::from(policy.propagation);
    Due {
        new_dnskeys: t(&roll.new_signatures).map(|s| s + caches),
        withdraw: ds_seen.map(|s| s + policy.ksk_retire_after_ds()),
        finish: t(&roll.old_dnskeys_removed).map(|w| w + policy.zsk_prepublish()),
    }
}

/// The new KSK's ds-seen time, if recorded.
fn new_ksk_ds_seen(store: &KeyStore, roll: &AlgorithmRoll) -> Option<i64> {
    active_ksks(store)
        .into_iter()
        .filter(|&i| store.keys[i].algorithm == roll.to)
        .find_map(|i| t(&store.keys[i].ds_seen))
}

/// The keys of the roll of one side (`alg`) that are still active.
fn side(store: &KeyStore, alg: Algorithm) -> Vec<usize> {
    (0..store.keys.len())
        .filter(|&i| store.keys[i].algorithm == alg && store.keys[i].state == KeyState::Active)
        .collect()
}

/// Takes the roll's next step when its time has come; called by every sign run from
/// [`super::advance`]. One step per run at most, as for every other transition.
pub(super) fn advance(store: &mut KeyStore, policy: &Policy, now: i64) -> Vec<Change> {
    let Some(roll) = store.algorithm_roll.clone() else {
        return Vec::new();
    };
    let due = due(&roll, new_ksk_ds_seen(store, &roll), policy);
    let mut changes = Vec::new();
    let mut next = roll.clone();
    if roll.new_signatures.is_none() {
        next.new_signatures = Some(timestamp(now));
        for i in side(store, roll.to) {
            changes.push(Change::new(
                &store.keys[i],
                KeyEvent::Signing,
                now,
                "algorithm roll: this run publishes its signatures; its DNSKEY follows after the largest TTL + propagation",
            ));
        }
    } else if roll.new_dnskeys.is_none() && due.new_dnskeys.is_some_and(|d| d <= now) {
        next.new_dnskeys = Some(timestamp(now));
        for i in side(store, roll.to) {
            let k = &mut store.keys[i];
            k.published = Some(timestamp(now));
            changes.push(Change::new(
                k,
                KeyEvent::Published,
                now,
                "algorithm roll: every cached RRset carries its signature; its DNSKEY is published",
            ));
        }
    } else if roll.old_dnskeys_removed.is_none() && due.withdraw.is_some_and(|d| d <= now) {
        next.old_dnskeys_removed = Some(timestamp(now));
        for i in side(store, roll.from) {
            changes.push(Change::new(
                &store.keys[i],
                KeyEvent::Withdrawn,
                now,
                "algorithm roll: the old DS has left every cache; its DNSKEY is withdrawn, its signatures stay for DNSKEY TTL + propagation",
            ));
        }
    } else if due.finish.is_some_and(|d| d <= now) {
        for i in side(store, roll.from) {
            let k = &mut store.keys[i];
            k.state = KeyState::Removed;
            k.retired = Some(timestamp(now));
            k.removed = Some(timestamp(now));
            let d = format!(
                "algorithm roll to {} done: no cache can hold a DNSKEY RRset with this key any more",
                roll.to.name()
            );
            changes.push(Change::new(k, KeyEvent::Retired, now, d.clone()));
            changes.push(Change::new(k, KeyEvent::Removed, now, d));
        }
        store.algorithm_roll = None;
        return changes;
    }
    store.algorithm_roll = Some(next);
    changes
}

/// The roll's steps for `key list`: (step, time, planned). A planned time is the
/// earliest a sign run takes the step; a step whose wait has not started has no time.
pub fn steps(store: &KeyStore, policy: &Policy) -> Vec<(&'static str, Option<String>, bool)> {
    let Some(roll) = &store.algorithm_roll else {
        return Vec::new();
    };
    let ds_seen = new_ksk_ds_seen(store, roll);
    let due = due(roll, ds_seen, policy);
    // The new KSK is ready DNSKEY TTL + propagation after its DNSKEY went out (recorded,
    // or planned).
    let published = t(&roll.new_dnskeys).or(due.new_dnskeys);
    let step = |done: &Option<String>, planned: Option<i64>| match done {
        Some(at) => (Some(at.clone()), false),
        None => (planned.map(timestamp), true),
    };
    [
        ("started", (Some(roll.started.clone()), false)),
        ("new signatures published", step(&roll.new_signatures, None)),
        (
            "new DNSKEYs published",
            step(&roll.new_dnskeys, due.new_dnskeys),
        ),
        (
            "new DS may go to the parent",
            step(&None, published.map(|p| p + policy.ksk_ds_ready())),
        ),
        ("parent's DS seen", step(&ds_seen.map(timestamp), None)),
        (
            "old DNSKEYs withdrawn",
            step(&roll.old_dnskeys_removed, due.withdraw),
        ),
        ("old signatures removed, roll done", step(&None, due.finish)),
    ]
    .into_iter()
    .map(|(name, (at, planned))| (name, at, planned))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::keys::KeyEntry;
    use crate::dnssec::lifecycle;

    const T0: i64 = 1_798_765_500;
    const H: i64 = 3600;

    fn key(tag: u16, role: Role, alg: Algorithm, state: KeyState) -> KeyEntry {
        let mut k = KeyEntry::new_generated(
            format!("{tag:016x}"),
            format!("k{tag}"),
            role,
            alg,
            256,
            tag,
            T0,
            "AAAA".into(),
        );
        k.state = state;
        if state == KeyState::Active {
            k.published = Some(timestamp(T0));
            k.active = Some(timestamp(T0));
        }
        k
    }

    fn store() -> KeyStore {
        KeyStore {
            zone: Some("se.".into()),
            keys: vec![
                key(1, Role::Ksk, Algorithm::RsaSha1, KeyState::Active),
                key(2, Role::Zsk, Algorithm::RsaSha1, KeyState::Active),
                key(
                    3,
                    Role::Ksk,
                    Algorithm::EcdsaP256Sha256,
                    KeyState::Generated,
                ),
                key(
                    4,
                    Role::Zsk,
                    Algorithm::EcdsaP256Sha256,
                    KeyState::Generated,
                ),
            ],
            ..KeyStore::default()
        }
    }

    fn published(s: &KeyStore) -> Vec<u16> {
        s.published().map(|k| k.tag).collect()
    }

    fn signing(s: &KeyStore) -> Vec<u16> {
        let mut v: Vec<u16> = s
            .active(Role::Ksk)
            .chain(s.active(Role::Zsk))
            .map(|k| k.tag)
            .collect();
        v.sort();
        v
    }

    /// Runs `advance` every 12 hours from `from` until `until`, returning each run's
    /// time and events.
    fn runs(s: &mut KeyStore, p: &Policy, from: i64, until: i64) -> Vec<(i64, Vec<Change>)> {
        let mut out = Vec::new();
        let mut now = from;
        while now <= until {
            let c = lifecycle::advance(s, p, now);
            if !c.is_empty() {
                out.push((now, c));
            }
            now += 12 * H;
        }
        out
    }

    /// PIPE-7: the steps of RFC 6781 §4.1.4 in order, each at the first run at or
    /// after the policy's time, with the new DS ending the wait.
    #[test]
    fn rsasha1_to_p256_goes_through_the_rfc_6781_steps_in_order() {
        let p = Policy::default();
        let mut s = store();
        start(&mut s, Algorithm::EcdsaP256Sha256, T0).unwrap();
        assert_eq!(signing(&s), vec![1, 2, 3, 4]);
        assert_eq!(
            published(&s),
            vec![1, 2],
            "step 1: new keys sign, DNSKEYs not yet"
        );
        let first = T0 + H;
        let c = lifecycle::advance(&mut s, &p, first);
        assert!(c.iter().all(|c| c.event == KeyEvent::Signing), "{c:?}");
        let wait = i64::from(p.max_zone_ttl) + i64::from(p.propagation);
        assert!(lifecycle::advance(&mut s, &p, first + wait - 1).is_empty());
        lifecycle::advance(&mut s, &p, first + wait);
        assert_eq!(published(&s), vec![1, 2, 3, 4], "step 2: new DNSKEYs");
        // The parent may switch only once the new DNSKEY is in every cache.
        let ready = first + wait + p.ksk_ds_ready();
        assert!(lifecycle::ds_seen(&mut s, &p, 3, ready - 1).is_err());
        let c = lifecycle::advance(&mut s, &p, ready);
        assert_eq!(c[0].event, KeyEvent::Ready);
        assert_eq!(lifecycle::parent_ds_keys(&s, &p, ready)[0].tag, 3);
        lifecycle::ds_seen(&mut s, &p, 3, ready).unwrap();
        // Old KSK is not removed the ordinary way: the algorithm roll withdraws both.
        let withdraw = ready + p.ksk_retire_after_ds();
        assert!(lifecycle::advance(&mut s, &p, withdraw - 1).is_empty());
        let c = lifecycle::advance(&mut s, &p, withdraw);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.event == KeyEvent::Withdrawn));
        assert_eq!(published(&s), vec![3, 4], "step 4: old DNSKEYs gone");
        assert_eq!(signing(&s), vec![1, 2, 3, 4], "old keys still sign");
        let finish = withdraw + p.zsk_prepublish();
        assert!(lifecycle::advance(&mut s, &p, finish - 1).is_empty());
        lifecycle::advance(&mut s, &p, finish);
        assert_eq!(signing(&s), vec![3, 4], "step 5: only the new algorithm");
        assert_eq!(published(&s), vec![3, 4]);
        assert!(s.algorithm_roll.is_none());
        assert!(s.keys[..2].iter().all(|k| k.state == KeyState::Removed));
    }

    #[test]
    fn a_roll_over_12_hour_runs_takes_one_step_per_run_and_ends() {
        let p = Policy::default();
        let mut s = store();
        start(&mut s, Algorithm::EcdsaP256Sha256, T0).unwrap();
        let mut seen = false;
        let mut now = T0;
        let mut events = Vec::new();
        while s.algorithm_roll.is_some() && now < T0 + 60 * 86_400 {
            for c in lifecycle::advance(&mut s, &p, now) {
                events.push(c.event);
            }
            if !seen && lifecycle::parent_ds_keys(&s, &p, now)[0].tag == 3 {
                lifecycle::ds_seen(&mut s, &p, 3, now).unwrap();
                seen = true;
            }
            now += 12 * H;
        }
        assert!(s.algorithm_roll.is_none(), "the roll ends");
        assert!(runs(&mut s, &p, now, now + 86_400).is_empty());
        let order: Vec<KeyEvent> = {
            let mut v = events.clone();
            v.dedup();
            v
        };
        assert_eq!(
            order,
            vec![
                KeyEvent::Signing,
                KeyEvent::Published,
                KeyEvent::Ready,
                KeyEvent::Withdrawn,
                KeyEvent::Retired,
                KeyEvent::Removed,
                KeyEvent::Retired,
                KeyEvent::Removed
            ]
        );
    }

    #[test]
    fn refusals_change_nothing_and_say_what_to_do() {
        let mut s = store();
        let before = toml::to_string(&s).unwrap();
        let e = start(&mut s, Algorithm::RsaSha1, T0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("already use"), "{e}");
        let e = start(&mut s, Algorithm::Ed25519, T0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zonesign key generate --role ksk --algorithm ed25519"),
            "{e}"
        );
        assert_eq!(toml::to_string(&s).unwrap(), before, "nothing changed");
        s.keys.retain(|k| k.tag != 4);
        let e = start(&mut s, Algorithm::EcdsaP256Sha256, T0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--role zsk --algorithm ecdsap256sha256"), "{e}");
        let mut s = store();
        start(&mut s, Algorithm::EcdsaP256Sha256, T0).unwrap();
        let e = start(&mut s, Algorithm::Ed25519, T0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("algorithm roll is in progress"), "{e}");
        let e = lifecycle::start_roll(&mut s, &Policy::default(), Role::Zsk, T0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("algorithm roll"), "{e}");
        let mut s = store();
        s.keys[2].algorithm = Algorithm::RsaSha1;
        s.keys[3].algorithm = Algorithm::RsaSha256;
        s.keys[3].state = KeyState::Active;
        let e = start(&mut s, Algorithm::Ed25519, T0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("several algorithms"), "{e}");
    }

    #[test]
    fn the_roll_is_kept_in_the_state_file() {
        let mut s = store();
        start(&mut s, Algorithm::EcdsaP256Sha256, T0).unwrap();
        let text = toml::to_string_pretty(&s).unwrap();
        assert!(text.contains("[algorithm-roll]"), "{text}");
        let back: KeyStore = toml::from_str(&text).unwrap();
        assert_eq!(back.algorithm_roll, s.algorithm_roll);
        assert_eq!(published(&back), vec![1, 2]);
    }
}
