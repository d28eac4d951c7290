//! Key lifecycles: scheduled ZSK rolls by pre-publication, KSK rolls by double
//! signature, emergency rolls (DPS-6.4, DPS-4.5; RFC 6781 §4.1, RFC 7583).
//!
//! Every function here works on the in-memory [`KeyStore`] only and returns the list of
//! [`Change`]s it made; the caller saves the store atomically and logs the changes. That
//! is what lets `sign` advance the key state, sign with it, and save it only after the
//! zone was written: if the run fails, neither the zone nor the key state moves.
//!
//! States: generated → published → active → retired → removed. A ZSK is published for
//! [`Policy::zsk_prepublish`] before it signs, and its DNSKEY stays for
//! [`Policy::zsk_retire_interval`] after it stopped signing. A new KSK is published and
//! signs the DNSKEY RRset at once, next to the old one (double signature); once the
//! operator records with `key ds-seen` that the parent publishes its DS, the old KSK
//! signs on for [`Policy::ksk_retire_after_ds`] and is then retired and removed. Keys
//! never go back (DPS-5.3).

use serde::Serialize;

pub mod algorithm;

use crate::audit::{Event, KeyEvent};
use crate::dns::name::Name;
use crate::dnssec::keys::{KeyEntry, KeyState, KeyStore, Role, timestamp};
use crate::dnssec::policy::Policy;
use crate::dnssec::verify::Anchor;
use crate::error::{Error, Result};

/// Why the lifecycle refused an act on the key state; nothing was changed.
///
/// Each message says why and what to do instead ([`crate::error::KeyError::Refused`],
/// exit code 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A roll needs an active key of the role to roll from.
    #[error("no active {role} to roll from; see `zonesign key list`")]
    NoActiveKey {
        /// The role to roll.
        role: Role,
    },
    /// No generated key of the role, with the active key's algorithm, to roll to.
    #[error(
        "no pre-generated {} with the active key's algorithm: run `zonesign key generate --role {role}` (it needs the PIN; DPS-5.1), then try again",
        .role.to_string().to_uppercase()
    )]
    NoSpareKey {
        /// The role to roll.
        role: Role,
    },
    /// A ZSK is already pre-published.
    #[error(
        "a ZSK roll is already in progress: ZSK {new} is published and signs from {} on; wait for it (sign runs advance it)",
        timestamp(*.signs_from)
    )]
    ZskRollInProgress {
        /// The pre-published ZSK's tag.
        new: u16,
        /// When it signs (seconds since the epoch).
        signs_from: i64,
    },
    /// Two KSKs are already active (double signature).
    #[error(
        "a KSK roll is already in progress (new KSK {new}): finish it first — give the parent its DS (`zonesign key ds`), record it with `zonesign key ds-seen --tag {new}`, and the old KSK is removed DS TTL + propagation later. Two rolls at once would leave the parent's DS set and the DNSKEY RRset out of step"
    )]
    KskRollInProgress {
        /// The new KSK's tag.
        new: u16,
    },
    /// `ds-seen` for a key that is not the new KSK of a roll.
    #[error(
        "key {tag} is not the new KSK of a KSK roll in progress ({role} {}): ds-seen records that the parent publishes a new KSK's DS. Start a roll with `zonesign key rollover --role ksk`; `zonesign key list` shows the keys",
        state_name(*.state)
    )]
    NotNewKsk {
        /// The key's tag.
        tag: u16,
        /// The key's role.
        role: Role,
        /// The key's state.
        state: KeyState,
    },
    /// `ds-seen` was already recorded for this KSK.
    #[error("the parent's DS for key {tag} was already recorded at {at}")]
    DsAlreadySeen {
        /// The key's tag.
        tag: u16,
        /// When, as recorded.
        at: String,
    },
    /// `ds-seen` before the new KSK's DNSKEY is in every cache.
    #[error(
        "KSK {tag}'s DNSKEY has not been published long enough (DNSKEY TTL + propagation, until {}): a resolver could meet the new DS while it still caches a DNSKEY RRset without the key. The parent should not publish it yet; run ds-seen once it does, after that time",
        timestamp(*.until)
    )]
    DsTooEarly {
        /// The key's tag.
        tag: u16,
        /// When `ds-seen` is allowed (seconds since the epoch).
        until: i64,
    },
    /// `compromised` for a key that does not sign.
    #[error(
        "key {tag} is {}, not active: it signs nothing; to keep it from ever being used, `zonesign key retire --tag {tag}` a generated key",
        state_name(*.state)
    )]
    NotActive {
        /// The key's tag.
        tag: u16,
        /// The key's state.
        state: KeyState,
    },
    /// `compromised` for the new KSK of a roll in progress.
    #[error(
        "KSK {tag} is the new KSK of the roll in progress; the parent may already publish its DS. Finish the roll first or contact the parent: retiring it now could leave the zone without a chain from the DS anchor"
    )]
    NewKskOfRoll {
        /// The key's tag.
        tag: u16,
    },
    /// `retire` for a key that is not generated.
    #[error("refused, nothing changed: {0}")]
    Retire(RetireRefusal),
    /// `key rollover --algorithm` refused.
    #[error("refused, nothing changed: {0}")]
    Algorithm(algorithm::AlgorithmRefusal),
    /// `key rollover --role` while an algorithm roll is under way.
    #[error(
        "an algorithm roll to {to} is in progress: it replaces both the KSK and the ZSK; roll again once it is done (`zonesign key list` shows its steps)"
    )]
    AlgorithmRollInProgress {
        /// The algorithm rolled to.
        to: crate::dns::algorithm::Algorithm,
    },
    /// `destroy` when several removed keys share the tag.
    #[error(
        "several removed keys have tag {tag}; the key state is ambiguous and nothing was destroyed. See `zonesign key list` (PKCS#11 ids) and `zonesign check`"
    )]
    AmbiguousRemoved {
        /// The tag asked for.
        tag: u16,
    },
    /// `destroy` for a key already destroyed.
    #[error(
        "key {tag} ({label}) was already destroyed at {}: its objects are no longer in the token; nothing to do",
        .at.as_deref().unwrap_or("an unrecorded time")
    )]
    AlreadyDestroyed {
        /// The key's tag.
        tag: u16,
        /// The key's label.
        label: String,
        /// When, as recorded.
        at: Option<String>,
    },
    /// `destroy` for a key that is not removed.
    #[error("refused, nothing destroyed or changed: {0} (DPS-5.3)")]
    Destroy(DestroyRefusal),
}

/// Why `zonesign key retire` refuses a key that is not generated ([`Refusal::Retire`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefusal {
    /// The only active KSK.
    #[error(
        "KSK {tag} is the only active KSK: without it the DNSKEY RRset has no signature from a key whose DS the parent publishes, and the whole zone is bogus. Roll it instead: `zonesign key rollover --role ksk`, give the parent the new DS, `zonesign key ds-seen --tag NEW`; the old KSK is then removed automatically"
    )]
    OnlyActiveKsk {
        /// The key's tag.
        tag: u16,
    },
    /// An active KSK of a roll in progress.
    #[error(
        "KSK {tag} is part of a KSK roll in progress: the roll retires the old KSK by itself DS TTL + propagation after `zonesign key ds-seen`"
    )]
    KskInRoll {
        /// The key's tag.
        tag: u16,
    },
    /// An active ZSK.
    #[error(
        "ZSK {tag} signs the zone: retire it with a roll (`zonesign key rollover --role zsk`) or, if it may be compromised, `zonesign key compromised --tag {tag}`"
    )]
    ActiveZsk {
        /// The key's tag.
        tag: u16,
    },
    /// A published (or ready) key.
    #[error("key {tag} is published and about to sign: let the roll finish, then roll again")]
    Published {
        /// The key's tag.
        tag: u16,
    },
    /// A key already retired, removed or destroyed.
    #[error("key {tag} is already {}; keys are never reused (DPS-5.3)", state_name(*.state))]
    Gone {
        /// The key's tag.
        tag: u16,
        /// The key's state.
        state: KeyState,
    },
}

/// Why `zonesign key destroy` refuses a key that is not removed ([`Refusal::Destroy`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestroyRefusal {
    /// A generated key: retire it first.
    #[error(
        "key {tag} is generated, not removed: take it out of use first with `zonesign key retire --tag {tag}` (it becomes removed at once, never published), then destroy it"
    )]
    Generated {
        /// The key's tag.
        tag: u16,
    },
    /// An active key: roll it first.
    #[error(
        "{} {tag} is active; {}. Roll it first (`zonesign key rollover --role {role}`, or `zonesign key compromised --tag {tag}` if it may be compromised); once `zonesign key list` shows it removed, destroy it",
        .role.to_string().to_uppercase(),
        active_risk(*.role)
    )]
    Active {
        /// The key's tag.
        tag: u16,
        /// The key's role.
        role: Role,
    },
    /// A published (or ready) key: it is needed.
    #[error(
        "key {tag} is published and about to sign; it is needed. Keys leave the zone only through a roll; once `zonesign key list` shows it removed, destroy it"
    )]
    Published {
        /// The key's tag.
        tag: u16,
    },
    /// A retired key whose DNSKEY is still in the zone.
    #[error(
        "key {tag} is retired but not yet removed: its DNSKEY stays in the zone until no signature it made can still be in a cache{}. Sign runs remove it; destroy it after that",
        planned_removal(.removal.as_deref())
    )]
    Retired {
        /// When sign runs remove it, if planned (as [`timestamp`] writes it).
        removal: Option<String>,
        /// The key's tag.
        tag: u16,
    },
}

/// What destroying an active key of `role` would risk ([`DestroyRefusal::Active`]).
fn active_risk(role: Role) -> &'static str {
    match role {
        Role::Ksk => {
            "it signs the DNSKEY RRset and the parent's DS may point to it: destroying it could leave the zone without a chain from the DS anchor"
        }
        Role::Zsk => "it signs the zone: the next sign run would fail without it",
    }
}

/// The planned removal of a retired key, as [`DestroyRefusal::Retired`] mentions it.
fn planned_removal(at: Option<&str>) -> String {
    at.map(|at| format!(" (planned: {at}, at the first sign run from then on)"))
        .unwrap_or_default()
}

/// One thing that happened to one key, for the audit log and the run's stderr.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The key's tag.
    pub tag: u16,
    /// The key's role.
    pub role: Role,
    /// What happened: `published`, `active`, `ready`, `ds-seen`, `retired`, `removed`,
    /// `adopted` (an old state file's key got its times), `compromised`,
    /// `roll-blocked` (a warning: nothing changed), or `destroyed`.
    pub event: KeyEvent,
    /// When (the run's time, UTC).
    pub at: String,
    /// Why, for people.
    pub detail: String,
    /// What made it, when not the command: `anchor` ([`ds_seen_in_anchor`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

impl Change {
    pub(crate) fn new(
        k: &KeyEntry,
        event: KeyEvent,
        now: i64,
        detail: impl Into<String>,
    ) -> Change {
        Change {
            tag: k.tag,
            role: k.role,
            event,
            at: timestamp(now),
            detail: detail.into(),
            source: None,
        }
    }

    /// The audit event of this change (`key-<event>`): tag, role, the (possibly
    /// simulated) time of the change and why. Never key material.
    pub fn audit_event(&self) -> Event {
        Event::Key {
            event: self.event,
            tag: self.tag,
            role: self.role.to_string(),
            at: self.at.clone(),
            detail: self.detail.clone(),
            source: self.source.map(str::to_string),
        }
    }

    /// Whether this is only a warning, with no state change.
    pub fn is_warning(&self) -> bool {
        self.event == KeyEvent::RollBlocked
    }
}

/// The audit events (`key-<event>`) of a run's changes, in order, for one batch
/// committed with the key state ([`KeyStore::commit`]).
pub fn audit_events(changes: &[Change]) -> Vec<Event> {
    changes.iter().map(Change::audit_event).collect()
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}: {} at {}",
            self.role, self.tag, self.event, self.detail, self.at
        )
    }
}

fn t(field: &Option<String>) -> Option<i64> {
    KeyEntry::time(field)
}

fn indices(store: &KeyStore, role: Role, state: KeyState) -> Vec<usize> {
    (0..store.keys.len())
        .filter(|&i| store.keys[i].role == role && store.keys[i].state == state)
        .collect()
}

/// The active KSKs, oldest activation first; in a roll the last one is the new KSK.
fn active_ksks(store: &KeyStore) -> Vec<usize> {
    let mut v = indices(store, Role::Ksk, KeyState::Active);
    v.sort_by_key(|&i| (t(&store.keys[i].active).unwrap_or(i64::MIN), i));
    v
}

/// Whether a KSK roll is under way: more than one KSK signs the DNSKEY RRset.
pub fn ksk_roll_in_progress(store: &KeyStore) -> bool {
    active_ksks(store).len() > 1
}

/// Moves every key as far as the policy's timings allow at `now`, and starts the
/// scheduled ZSK roll when the active ZSK reaches the end of its lifetime.
///
/// Called first by every `sign` run, so cron needs no extra step. A transition happens
/// at the first run at or after its time, never before; one run moves a key by at most
/// one state, so a ZSK published by this run signs at the earliest in a later run.
pub fn advance(store: &mut KeyStore, policy: &Policy, now: i64) -> Vec<Change> {
    let mut changes = Vec::new();
    // Keys from before lifecycles (or activated by hand in `keys.toml`; init records its
    // keys' times) have no times yet: their lifetime starts counting at this run.
    for k in store
        .keys
        .iter_mut()
        .filter(|k| k.state == KeyState::Active)
    {
        if k.active.is_none() {
            k.active = Some(timestamp(now));
            if k.published.is_none() {
                k.published = Some(timestamp(now));
            }
            changes.push(Change::new(
                k,
                KeyEvent::Adopted,
                now,
                "active key without recorded times; its lifetime counts from now",
            ));
        }
    }
    // An algorithm roll moves by its own steps; no other roll runs beside it.
    if store.algorithm_roll.is_some() {
        changes.extend(algorithm::advance(store, policy, now));
        mark_new_ksk_ready(store, policy, now, &mut changes);
        return changes;
    }
    // ZSK pre-publication done: the successor signs, the old ZSK stops.
    let ready_zsk = indices(store, Role::Zsk, KeyState::Published)
        .into_iter()
        .filter(|&i| {
            t(&store.keys[i].published).is_some_and(|p| p + policy.zsk_prepublish() <= now)
        })
        .min_by_key(|&i| t(&store.keys[i].published));
    if let Some(n) = ready_zsk {
        for o in indices(store, Role::Zsk, KeyState::Active) {
            let k = &mut store.keys[o];
            k.state = KeyState::Retired;
            k.retired = Some(timestamp(now));
            let d = format!("replaced by ZSK {}", store.keys[n].tag);
            changes.push(Change::new(&store.keys[o], KeyEvent::Retired, now, d));
        }
        let k = &mut store.keys[n];
        k.state = KeyState::Active;
        k.active = Some(timestamp(now));
        changes.push(Change::new(
            k,
            KeyEvent::Active,
            now,
            "pre-published for DNSKEY TTL + propagation; now signs the zone",
        ));
    }
    // KSK roll: the new KSK's DS may go to the parent once its DNSKEY is in every cache.
    mark_new_ksk_ready(store, policy, now, &mut changes);
    let ksks = active_ksks(store);
    if let Some((&new, _)) = ksks.split_last().filter(|(_, old)| !old.is_empty()) {
        // The parent's new DS has replaced the old one in every cache: the old KSK goes.
        if t(&store.keys[new].ds_seen).is_some_and(|s| s + policy.ksk_retire_after_ds() <= now) {
            let new_tag = store.keys[new].tag;
            for &o in ksks.iter().filter(|&&o| o != new) {
                let k = &mut store.keys[o];
                k.state = KeyState::Removed;
                k.retired = Some(timestamp(now));
                k.removed = Some(timestamp(now));
                let d = format!(
                    "the parent's DS for KSK {new_tag} has been in caches for DS TTL + propagation"
                );
                changes.push(Change::new(
                    &store.keys[o],
                    KeyEvent::Retired,
                    now,
                    d.clone(),
                ));
                changes.push(Change::new(&store.keys[o], KeyEvent::Removed, now, d));
            }
        }
    }
    // A retired ZSK's signatures have left every cache: its DNSKEY goes.
    for i in indices(store, Role::Zsk, KeyState::Retired) {
        let k = &mut store.keys[i];
        if t(&k.retired).is_some_and(|r| r + policy.zsk_retire_interval() <= now) {
            k.state = KeyState::Removed;
            k.removed = Some(timestamp(now));
            changes.push(Change::new(
                k,
                KeyEvent::Removed,
                now,
                "no signature it made can still be cached",
            ));
        }
    }
    // The scheduled ZSK roll (DPS-6.4), pre-published so the switch falls on the lifetime.
    if indices(store, Role::Zsk, KeyState::Published).is_empty() {
        let due = indices(store, Role::Zsk, KeyState::Active)
            .into_iter()
            .filter_map(|i| t(&store.keys[i].active))
            .max()
            .is_some_and(|a| a + i64::from(policy.zsk_lifetime) - policy.zsk_prepublish() <= now);
        if due {
            match start_roll(store, policy, Role::Zsk, now) {
                Ok(c) => changes.extend(c),
                Err(e) => {
                    let old = indices(store, Role::Zsk, KeyState::Active)[0];
                    changes.push(Change::new(
                        &store.keys[old],
                        KeyEvent::RollBlocked,
                        now,
                        format!("the scheduled ZSK roll (DPS-6.4) is due: {e}; signing goes on with this ZSK"),
                    ));
                }
            }
        }
    }
    changes
}

/// In a KSK roll (of either kind), records that the new KSK's DNSKEY has been in the
/// zone long enough for its DS to go to the parent (RFC 7583 "Trdy").
fn mark_new_ksk_ready(store: &mut KeyStore, policy: &Policy, now: i64, changes: &mut Vec<Change>) {
    let ksks = active_ksks(store);
    if let Some((&new, _)) = ksks.split_last().filter(|(_, old)| !old.is_empty()) {
        let k = &mut store.keys[new];
        if k.ready.is_none() && t(&k.published).is_some_and(|p| p + policy.ksk_ds_ready() <= now) {
            k.ready = Some(timestamp(now));
            changes.push(Change::new(
                k,
                KeyEvent::Ready,
                now,
                "DNSKEY published long enough: give the parent this key's DS (`zonesign key ds`), then run `zonesign key ds-seen`",
            ));
        }
    }
}

/// The next generated key of a role and algorithm, in generation order (DPS-5.1: keys
/// come from the ceremony, ahead of time).
fn spare(store: &KeyStore, role: Role, like: Option<usize>) -> Option<usize> {
    let alg = like.map(|i| store.keys[i].algorithm);
    (0..store.keys.len()).find(|&i| {
        let k = &store.keys[i];
        k.role == role && k.state == KeyState::Generated && alg.is_none_or(|a| a == k.algorithm)
    })
}

fn no_spare(role: Role) -> Error {
    Refusal::NoSpareKey { role }.into()
}

/// Starts a roll of `role` now (`zonesign key rollover`, and the scheduled ZSK roll).
///
/// A ZSK roll publishes the next generated ZSK; [`advance`] makes it active after the
/// pre-publication interval. A KSK roll publishes the next generated KSK and makes it
/// sign the DNSKEY RRset at once, next to the old one (double signature). Refused while
/// a roll of the same role is under way, and without a generated key to roll to.
pub fn start_roll(
    store: &mut KeyStore,
    policy: &Policy,
    role: Role,
    now: i64,
) -> Result<Vec<Change>> {
    if let Some(r) = &store.algorithm_roll {
        return Err(Refusal::AlgorithmRollInProgress { to: r.to }.into());
    }
    let active = indices(store, role, KeyState::Active);
    let Some(&current) = active.last() else {
        return Err(Refusal::NoActiveKey { role }.into());
    };
    match role {
        Role::Zsk => {
            if let Some(&p) = indices(store, Role::Zsk, KeyState::Published).first() {
                let at = t(&store.keys[p].published).unwrap_or(now) + policy.zsk_prepublish();
                return Err(Refusal::ZskRollInProgress {
                    new: store.keys[p].tag,
                    signs_from: at,
                }
                .into());
            }
        }
        Role::Ksk => {
            if active.len() > 1 {
                let ksks = active_ksks(store);
                let new = &store.keys[*ksks.last().unwrap_or(&current)];
                return Err(Refusal::KskRollInProgress { new: new.tag }.into());
            }
        }
    }
    let n = spare(store, role, Some(current)).ok_or_else(|| no_spare(role))?;
    let old_tag = store.keys[current].tag;
    let k = &mut store.keys[n];
    k.state = match role {
        Role::Zsk => KeyState::Published,
        Role::Ksk => KeyState::Active,
    };
    k.published = Some(timestamp(now));
    let mut changes = vec![Change::new(
        k,
        KeyEvent::Published,
        now,
        format!("rollover from {role} {old_tag}"),
    )];
    if role == Role::Ksk {
        k.active = Some(timestamp(now));
        changes.push(Change::new(
            k,
            KeyEvent::Active,
            now,
            format!("double signature: signs the DNSKEY RRset next to KSK {old_tag}"),
        ));
    }
    Ok(changes)
}

/// `zonesign key ds-seen`: the parent now publishes the new KSK's DS.
///
/// Only for the new KSK of a roll in progress, after its DNSKEY was published long
/// enough ([`Policy::ksk_ds_ready`]); anything else would let a resolver meet a DS that
/// matches no cached DNSKEY, or retire the key the parent's DS points to.
pub fn ds_seen(store: &mut KeyStore, policy: &Policy, tag: u16, now: i64) -> Result<Vec<Change>> {
    let i = store.by_tag(tag)?;
    let ksks = active_ksks(store);
    let k = &store.keys[i];
    let is_new = k.role == Role::Ksk && ksks.len() > 1 && ksks.last() == Some(&i);
    if !is_new {
        return Err(Refusal::NotNewKsk {
            tag,
            role: k.role,
            state: k.state,
        }
        .into());
    }
    if k.ds_seen.is_some() {
        return Err(Refusal::DsAlreadySeen {
            tag,
            at: k.ds_seen.clone().unwrap_or_default(),
        }
        .into());
    }
    let ready = t(&k.published).unwrap_or(now) + policy.ksk_ds_ready();
    if now < ready {
        return Err(Refusal::DsTooEarly { tag, until: ready }.into());
    }
    let k = &mut store.keys[i];
    k.ds_seen = Some(timestamp(now));
    if k.ready.is_none() {
        k.ready = Some(timestamp(now));
    }
    Ok(vec![Change::new(
        k,
        KeyEvent::DsSeen,
        now,
        format!(
            "the parent publishes its DS; the old KSK is removed after DS TTL + propagation ({})",
            timestamp(now + policy.ksk_retire_after_ds())
        ),
    )])
}

/// PIPE-6: the parent's DS ends a KSK roll by itself. When the run's trust anchors (its
/// `--ds-anchor` file, which the operator's tooling refreshes from the parent) hold the
/// DS (or the DNSKEY) of the new KSK of a roll in progress, the run records `ds-seen`
/// as `key ds-seen --tag N` would, with `source: anchor`. Too early for the policy (the
/// new DNSKEY not yet published long enough) or already recorded: nothing, and a later
/// run records it; `key ds-seen` stays for parents whose DS no file shows.
pub fn ds_seen_in_anchor(
    store: &mut KeyStore,
    policy: &Policy,
    origin: &Name,
    anchors: &[Anchor],
    now: i64,
) -> Vec<Change> {
    let ksks = active_ksks(store);
    let Some(&i) = ksks.last().filter(|_| ksks.len() > 1) else {
        return Vec::new();
    };
    let k = &store.keys[i];
    if k.ds_seen.is_some() || !anchor_names(k, origin, anchors) {
        return Vec::new();
    }
    // An algorithm roll withdraws the old DNSKEYs DS TTL + propagation after ds-seen: the
    // parent must have dropped the old algorithm's DS by then, not only added the new.
    if let Some(r) = &store.algorithm_roll
        && anchors.iter().any(|a| match a {
            Anchor::Ds(ds) => ds.get(2) == Some(&r.from.number()),
            Anchor::Dnskey(k) => k.get(3) == Some(&r.from.number()),
        })
    {
        return Vec::new();
    }
    let tag = k.tag;
    match ds_seen(store, policy, tag, now) {
        Ok(mut changes) => {
            for c in &mut changes {
                c.source = Some("anchor");
                c.detail = format!("seen in the --ds-anchor file: {}", c.detail);
            }
            changes
        }
        Err(_) => Vec::new(),
    }
}

/// Whether `anchors` hold `k`'s DS (of any digest type zonesign computes) or DNSKEY.
fn anchor_names(k: &KeyEntry, origin: &Name, anchors: &[Anchor]) -> bool {
    let Ok(dnskey) = k.dnskey_rdata() else {
        return false;
    };
    anchors.iter().any(|a| match a {
        Anchor::Dnskey(rdata) => **rdata == *dnskey,
        Anchor::Ds(rdata) => rdata
            .get(3)
            .and_then(|&digest_type| crate::dnssec::keys::ds_for(origin, &dnskey, digest_type).ok())
            .is_some_and(|ds| *ds == **rdata),
    })
}

/// `zonesign key compromised` (DPS-4.5).
///
/// A ZSK stops signing at once: it is retired now and a successor (the pre-published
/// one if a roll is under way, else the next generated ZSK) is active now. A resolver
/// that still caches the previous DNSKEY RRset without the successor may fail to
/// validate new signatures for up to DNSKEY TTL + propagation — the price of stopping
/// a compromised key at once; a pre-published successor avoids it. A KSK gets a new KSK
/// in parallel at once (a KSK roll); it stays until the parent's DS has moved.
pub fn compromised(
    store: &mut KeyStore,
    policy: &Policy,
    tag: u16,
    now: i64,
) -> Result<Vec<Change>> {
    let i = store.by_tag(tag)?;
    let k = &store.keys[i];
    if k.state != KeyState::Active {
        return Err(Refusal::NotActive {
            tag,
            state: k.state,
        }
        .into());
    }
    let mut changes = Vec::new();
    match k.role {
        Role::Zsk => {
            let n = indices(store, Role::Zsk, KeyState::Published)
                .first()
                .copied()
                .or_else(|| spare(store, Role::Zsk, Some(i)))
                .ok_or_else(|| no_spare(Role::Zsk))?;
            let o = &mut store.keys[i];
            o.state = KeyState::Retired;
            o.retired = Some(timestamp(now));
            o.compromised = true;
            changes.push(Change::new(
                o,
                KeyEvent::Compromised,
                now,
                "suspected compromise (DPS-4.5): stops signing at once",
            ));
            changes.push(Change::new(
                &store.keys[i],
                KeyEvent::Retired,
                now,
                "compromised",
            ));
            let s = &mut store.keys[n];
            let was_published = s.state == KeyState::Published;
            if !was_published {
                s.published = Some(timestamp(now));
                changes.push(Change::new(
                    s,
                    KeyEvent::Published,
                    now,
                    format!("emergency successor of ZSK {tag}"),
                ));
            }
            s.state = KeyState::Active;
            s.active = Some(timestamp(now));
            let d = if was_published {
                format!("emergency successor of ZSK {tag}, already pre-published")
            } else {
                format!(
                    "emergency successor of ZSK {tag}, active without pre-publication: resolvers that cache the previous DNSKEY RRset may fail to validate for up to DNSKEY TTL + propagation"
                )
            };
            changes.push(Change::new(s, KeyEvent::Active, now, d));
        }
        Role::Ksk => {
            let ksks = active_ksks(store);
            if ksks.len() > 1 && ksks.last() == Some(&i) {
                return Err(Refusal::NewKskOfRoll { tag }.into());
            }
            if ksks.len() == 1 {
                changes.extend(start_roll(store, policy, Role::Ksk, now)?);
            }
            let o = &mut store.keys[i];
            o.compromised = true;
            changes.push(Change::new(o, KeyEvent::Compromised, now, "suspected compromise (DPS-4.5): a new KSK signs in parallel; give the parent its DS and run ds-seen as soon as possible"));
        }
    }
    Ok(changes)
}

/// `zonesign key retire`: takes a generated (never published) key out of use for good.
///
/// Every other state is refused, with why and what to do instead: active and published
/// keys leave through rolls, so that the zone never lacks a chain from the DS anchor.
pub fn retire(store: &mut KeyStore, tag: u16, now: i64) -> Result<Vec<Change>> {
    let i = store.by_tag(tag)?;
    let k = &store.keys[i];
    let why = match (k.role, k.state) {
        (_, KeyState::Generated) => None,
        (Role::Ksk, KeyState::Active) if active_ksks(store).len() == 1 => {
            Some(RetireRefusal::OnlyActiveKsk { tag })
        }
        (Role::Ksk, KeyState::Active) => Some(RetireRefusal::KskInRoll { tag }),
        (Role::Zsk, KeyState::Active) => Some(RetireRefusal::ActiveZsk { tag }),
        (_, KeyState::Published | KeyState::Ready) => Some(RetireRefusal::Published { tag }),
        (_, state @ (KeyState::Retired | KeyState::Removed | KeyState::Destroyed)) => {
            Some(RetireRefusal::Gone { tag, state })
        }
    };
    if let Some(why) = why {
        return Err(Refusal::Retire(why).into());
    }
    let k = &mut store.keys[i];
    k.state = KeyState::Removed;
    k.retired = Some(timestamp(now));
    k.removed = Some(timestamp(now));
    Ok(vec![
        Change::new(k, KeyEvent::Retired, now, "generated key taken out of use"),
        Change::new(k, KeyEvent::Removed, now, "never published"),
    ])
}

/// The key state's name as in the state file.
pub fn state_name(s: KeyState) -> &'static str {
    match s {
        KeyState::Generated => "generated",
        KeyState::Published => "published",
        KeyState::Ready => "ready",
        KeyState::Active => "active",
        KeyState::Retired => "retired",
        KeyState::Removed => "removed",
        KeyState::Destroyed => "destroyed",
    }
}

/// How long a key's DNSKEY must be published before every cache has it (RFC 7583
/// "Ipub" for a ZSK, the DS-ready interval for a KSK).
fn publication_interval(policy: &Policy, role: Role) -> i64 {
    match role {
        Role::Zsk => policy.zsk_prepublish(),
        Role::Ksk => policy.ksk_ds_ready(),
    }
}

/// The state `zonesign key list` shows for key `i` at `now`.
///
/// The recorded state, except that a published key whose DNSKEY has been in the zone
/// for DNSKEY TTL + propagation shows as `ready` (RFC 7583 "Trdy": every cache has it,
/// so it may sign; the first `sign` run from then on makes it active). The lifecycle
/// does not record `ready`, because the same run that could record it makes the key
/// active; listing it tells the operator that the wait is over and only a run is missing.
pub fn listed_state(store: &KeyStore, policy: &Policy, i: usize, now: i64) -> KeyState {
    let k = &store.keys[i];
    match k.state {
        KeyState::Published
            if t(&k.published).is_some_and(|p| p + publication_interval(policy, k.role) <= now) =>
        {
            KeyState::Ready
        }
        s => s,
    }
}

/// Checks that `zonesign key destroy --tag N` may destroy key `tag` and returns its index.
///
/// Only a `removed` key may be destroyed (DPS-5.3): its DNSKEY has left the zone and no
/// signature it made can still be cached, so nothing can ever need it again. Any other
/// state is refused with why and what to do instead; a destroyed key is refused as
/// already destroyed. When a live key and a removed key share the tag, the removed one
/// is meant (only it can be destroyed).
pub fn destroy_check(store: &KeyStore, policy: &Policy, tag: u16) -> Result<usize> {
    let removed: Vec<usize> = (0..store.keys.len())
        .filter(|&i| store.keys[i].tag == tag && store.keys[i].state == KeyState::Removed)
        .collect();
    let i = match removed.as_slice() {
        [i] => return Ok(*i),
        [] => store.by_tag(tag)?,
        _ => {
            return Err(Refusal::AmbiguousRemoved { tag }.into());
        }
    };
    let k = &store.keys[i];
    let role = k.role;
    let why = match k.state {
        KeyState::Destroyed => {
            return Err(Refusal::AlreadyDestroyed {
                tag,
                label: k.label.clone(),
                at: k.destroyed.clone(),
            }
            .into());
        }
        KeyState::Removed => return Ok(i),
        KeyState::Generated => DestroyRefusal::Generated { tag },
        KeyState::Active => DestroyRefusal::Active { tag, role },
        KeyState::Published | KeyState::Ready => DestroyRefusal::Published { tag },
        KeyState::Retired => {
            let removal = timeline(store, policy, i, i64::MIN)
                .into_iter()
                .find(|(e, _, planned)| *e == "removed" && *planned)
                .map(|(_, at, _)| at);
            DestroyRefusal::Retired { tag, removal }
        }
    };
    Err(Refusal::Destroy(why).into())
}

/// Records that key `i`'s objects were destroyed in the token at `now`
/// (`zonesign key destroy`, after [`destroy_check`] and the token's `C_DestroyObject`).
pub fn record_destroyed(store: &mut KeyStore, i: usize, now: i64, detail: String) -> Change {
    let k = &mut store.keys[i];
    k.state = KeyState::Destroyed;
    k.destroyed = Some(timestamp(now));
    Change::new(k, KeyEvent::Destroyed, now, detail)
}

/// Past and planned transitions of a key at `now`: (event, time, planned), for `key
/// list`. A `ready` time that `now` has passed (see [`listed_state`]) is past, not planned.
pub fn timeline(
    store: &KeyStore,
    policy: &Policy,
    i: usize,
    now: i64,
) -> Vec<(&'static str, String, bool)> {
    let k = &store.keys[i];
    let mut v: Vec<(&'static str, String, bool)> = vec![("created", k.created.clone(), false)];
    for (name, f) in [
        ("published", &k.published),
        ("active", &k.active),
        ("ready", &k.ready),
        ("ds-seen", &k.ds_seen),
        ("retired", &k.retired),
        ("removed", &k.removed),
        ("destroyed", &k.destroyed),
    ] {
        if let Some(s) = f {
            v.push((name, s.clone(), false));
        }
    }
    // An algorithm roll's next steps concern every active key of either algorithm.
    if let Some(r) = &store.algorithm_roll
        && k.state == KeyState::Active
        && (k.algorithm == r.from || k.algorithm == r.to)
    {
        for (step, at, planned) in algorithm::steps(store, policy) {
            if let (Some(at), true) = (at, planned) {
                v.push((step, at, true));
            }
        }
        return v;
    }
    let mut plan = |name, at: i64| v.push((name, timestamp(at), true));
    match (k.role, k.state) {
        (Role::Zsk, KeyState::Published) => {
            if let Some(p) = t(&k.published) {
                let ready = p + policy.zsk_prepublish();
                v.push(("ready", timestamp(ready), ready > now));
                // Made active by the first sign run at or after that time.
                v.push(("active", timestamp(ready), true));
            }
        }
        (Role::Zsk, KeyState::Active) => {
            if let Some(a) = t(&k.active) {
                let r = a + i64::from(policy.zsk_lifetime);
                plan("retired", r);
                plan("removed", r + policy.zsk_retire_interval());
            }
        }
        (Role::Zsk, KeyState::Retired) => {
            if let Some(r) = t(&k.retired) {
                plan("removed", r + policy.zsk_retire_interval());
            }
        }
        (Role::Ksk, KeyState::Active) => {
            let ksks = active_ksks(store);
            if ksks.len() > 1
                && ksks.last() == Some(&i)
                && k.ready.is_none()
                && let Some(p) = t(&k.published)
            {
                plan("ready", p + policy.ksk_ds_ready());
            }
            if ksks.len() > 1
                && ksks.last() != Some(&i)
                && let Some(s) = ksks.last().and_then(|&n| t(&store.keys[n].ds_seen))
            {
                plan("removed", s + policy.ksk_retire_after_ds());
            }
        }
        _ => {}
    }
    v
}

/// The DS set the parent should publish now (`zonesign key ds`): the active KSK's; in a
/// roll, the old KSK's until the new KSK is ready, then the new one's.
pub fn parent_ds_keys<'a>(store: &'a KeyStore, policy: &Policy, now: i64) -> Vec<&'a KeyEntry> {
    let ksks = active_ksks(store);
    match ksks.split_last() {
        Some((&new, old)) if !old.is_empty() => {
            let k = &store.keys[new];
            let ready = k.ready.is_some()
                || t(&k.published).is_some_and(|p| p + policy.ksk_ds_ready() <= now);
            if ready {
                vec![k]
            } else {
                old.iter().map(|&o| &store.keys[o]).collect()
            }
        }
        _ => ksks.iter().map(|&i| &store.keys[i]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::algorithm::Algorithm;

    const T0: i64 = 1_798_765_500;
    const H: i64 = 3600;
    const D: i64 = 86_400;

    fn key(tag: u16, role: Role, state: KeyState) -> KeyEntry {
        let mut k = KeyEntry::new_generated(
            format!("{tag:016x}"),
            format!("k{tag}"),
            role,
            Algorithm::EcdsaP256Sha256,
            256,
            tag,
            T0,
            "AAAA".into(),
        );
        k.state = state;
        k
    }

    fn store() -> KeyStore {
        KeyStore {
            zone: Some("se.".into()),
            keys: vec![
                key(1, Role::Ksk, KeyState::Active),
                key(2, Role::Zsk, KeyState::Active),
                key(3, Role::Zsk, KeyState::Generated),
                key(4, Role::Ksk, KeyState::Generated),
            ],
            ..KeyStore::default()
        }
    }

    fn state(s: &KeyStore, tag: u16) -> KeyState {
        s.keys[s.by_tag(tag).unwrap()].state
    }

    #[test]
    fn old_state_files_without_times_still_load() {
        let text = "zone = \"se.\"\n[[key]]\nid = \"00\"\nlabel = \"x\"\nrole = \"ksk\"\nalgorithm = \"rsasha1\"\nbits = 2048\ntag = 7\nstate = \"active\"\ncreated = \"2026-01-01T00:00:00Z\"\npublic-key = \"AAAA\"\n";
        let mut s: KeyStore = toml::from_str(text).unwrap();
        assert!(s.keys[0].active.is_none());
        let c = advance(&mut s, &Policy::default(), T0);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].event, KeyEvent::Adopted);
        assert_eq!(KeyEntry::time(&s.keys[0].active), Some(T0));
    }

    #[test]
    fn scheduled_zsk_roll_prepublishes_then_switches_then_removes() {
        let p = Policy::default();
        let mut s = store();
        advance(&mut s, &p, T0);
        let due = T0 + 84 * D - p.zsk_prepublish();
        assert!(advance(&mut s, &p, due - 1).is_empty());
        advance(&mut s, &p, due);
        assert_eq!(state(&s, 3), KeyState::Published);
        // One run later than the pre-publication interval is not yet over: nothing.
        advance(&mut s, &p, due + p.zsk_prepublish() - 1);
        assert_eq!(state(&s, 2), KeyState::Active);
        advance(&mut s, &p, due + p.zsk_prepublish());
        assert_eq!(state(&s, 3), KeyState::Active);
        assert_eq!(state(&s, 2), KeyState::Retired);
        let switch = T0 + 84 * D;
        advance(&mut s, &p, switch + p.zsk_retire_interval() - 1);
        assert_eq!(state(&s, 2), KeyState::Retired);
        advance(&mut s, &p, switch + p.zsk_retire_interval());
        assert_eq!(state(&s, 2), KeyState::Removed);
        // The next roll is due, with no spare left: a warning, no change.
        let c = advance(&mut s, &p, switch + 84 * D);
        assert!(c.iter().all(Change::is_warning) && !c.is_empty(), "{c:?}");
        assert!(c[0].detail.contains("key generate --role zsk"));
        assert_eq!(state(&s, 3), KeyState::Active);
    }

    #[test]
    fn ksk_roll_by_double_signature() {
        let p = Policy::default();
        let mut s = store();
        advance(&mut s, &p, T0);
        start_roll(&mut s, &p, Role::Ksk, T0 + D).unwrap();
        assert_eq!(state(&s, 4), KeyState::Active);
        assert!(ksk_roll_in_progress(&s));
        assert!(start_roll(&mut s, &p, Role::Ksk, T0 + D).is_err());
        assert_eq!(parent_ds_keys(&s, &p, T0 + D)[0].tag, 1);
        assert!(ds_seen(&mut s, &p, 4, T0 + D + H).is_err(), "too early");
        assert!(ds_seen(&mut s, &p, 1, T0 + D + 3 * H).is_err(), "old KSK");
        assert_eq!(parent_ds_keys(&s, &p, T0 + D + 2 * H)[0].tag, 4);
        ds_seen(&mut s, &p, 4, T0 + 2 * D).unwrap();
        advance(&mut s, &p, T0 + 2 * D + p.ksk_retire_after_ds() - 1);
        assert_eq!(state(&s, 1), KeyState::Active);
        advance(&mut s, &p, T0 + 2 * D + p.ksk_retire_after_ds());
        assert_eq!(state(&s, 1), KeyState::Removed);
        assert!(!ksk_roll_in_progress(&s));
    }

    #[test]
    fn emergency_zsk_roll_and_refusals() {
        let p = Policy::default();
        let mut s = store();
        advance(&mut s, &p, T0);
        assert!(retire(&mut s, 1, T0).is_err(), "only KSK");
        assert!(retire(&mut s, 2, T0).is_err(), "active ZSK");
        let c = compromised(&mut s, &p, 2, T0 + H).unwrap();
        assert!(c.iter().any(|c| c.detail.contains("DNSKEY TTL")));
        assert_eq!(state(&s, 2), KeyState::Retired);
        assert_eq!(state(&s, 3), KeyState::Active);
        assert!(s.keys[s.by_tag(2).unwrap()].compromised);
        // Keys never come back (DPS-5.3).
        assert!(compromised(&mut s, &p, 2, T0 + H).is_err());
        assert!(retire(&mut s, 4, T0).is_ok());
        assert_eq!(state(&s, 4), KeyState::Removed);
        assert!(start_roll(&mut s, &p, Role::Ksk, T0).is_err(), "no spare");
    }

    /// RFC 7583 "ready": a pre-published ZSK shows as ready once its DNSKEY has been in
    /// the zone for DNSKEY TTL + propagation, until a sign run makes it active (DPS-6.4).
    #[test]
    fn a_prepublished_zsk_is_listed_ready_once_caches_have_it() {
        let p = Policy::default();
        let mut s = store();
        advance(&mut s, &p, T0);
        start_roll(&mut s, &p, Role::Zsk, T0).unwrap();
        let n = s.by_tag(3).unwrap();
        let ready = T0 + p.zsk_prepublish();
        assert_eq!(listed_state(&s, &p, n, ready - 1), KeyState::Published);
        assert_eq!(listed_state(&s, &p, n, ready), KeyState::Ready);
        // Only listed: the recorded state is unchanged, and the other keys list as recorded.
        assert_eq!(state(&s, 3), KeyState::Published);
        assert_eq!(
            listed_state(&s, &p, s.by_tag(2).unwrap(), ready),
            KeyState::Active
        );
        let planned = |now| {
            timeline(&s, &p, n, now)
                .into_iter()
                .filter(|e| e.0 == "ready")
                .map(|e| (e.1, e.2))
                .collect::<Vec<_>>()
        };
        assert_eq!(planned(ready - 1), vec![(timestamp(ready), true)]);
        assert_eq!(planned(ready), vec![(timestamp(ready), false)]);
        // The next run makes it active: no longer listed as ready.
        advance(&mut s, &p, ready);
        assert_eq!(listed_state(&s, &p, n, ready), KeyState::Active);
        assert_eq!(state_name(KeyState::Ready), "ready");
    }

    /// DPS-5.3: only a removed key may be destroyed, once; every other state is refused
    /// with what to do, and a refusal changes nothing.
    #[test]
    fn only_removed_keys_can_be_destroyed() {
        let p = Policy::default();
        let mut s = store();
        advance(&mut s, &p, T0);
        let refused = |s: &KeyStore, tag: u16, want: &str| {
            let e = destroy_check(s, &p, tag).unwrap_err().to_string();
            assert!(e.contains(want), "key {tag}: {e}");
            assert!(matches!(destroy_check(s, &p, tag), Err(Error::Key(_))));
        };
        refused(&s, 1, "KSK 1 is active");
        refused(&s, 2, "ZSK 2 is active");
        refused(&s, 3, "key retire --tag 3");
        refused(&s, 9, "no key with tag 9");
        // A retired ZSK waits for its planned removal.
        compromised(&mut s, &p, 2, T0 + H).unwrap();
        refused(&s, 2, "retired but not yet removed");
        refused(&s, 2, &timestamp(T0 + H + p.zsk_retire_interval()));
        advance(&mut s, &p, T0 + H + p.zsk_retire_interval());
        assert_eq!(state(&s, 2), KeyState::Removed);
        let before = format!("{s:?}");
        let i = destroy_check(&s, &p, 2).unwrap();
        assert_eq!(format!("{s:?}"), before, "the check changes nothing");
        let c = record_destroyed(&mut s, i, T0 + 30 * D, "gone".into());
        assert_eq!((c.event, c.tag), (KeyEvent::Destroyed, 2));
        assert_eq!(s.keys[i].state, KeyState::Destroyed);
        assert_eq!(KeyEntry::time(&s.keys[i].destroyed), Some(T0 + 30 * D));
        assert!(!s.keys[i].state.is_published());
        refused(&s, 2, "already destroyed");
        assert!(
            timeline(&s, &p, i, T0 + 30 * D)
                .iter()
                .any(|e| e.0 == "destroyed" && !e.2)
        );
        // Destroyed keys are never reused either (DPS-5.3).
        assert!(compromised(&mut s, &p, 2, T0 + 31 * D).is_err());
        assert!(retire(&mut s, 2, T0 + 31 * D).is_err());
        // The state survives a save and load.
        let text = toml::to_string_pretty(&s).unwrap();
        assert!(text.contains("state = \"destroyed\""), "{text}");
        let back: KeyStore = toml::from_str(&text).unwrap();
        assert_eq!(back.keys[i].state, KeyState::Destroyed);
        // A live key that shares a removed key's tag does not hide the removed one.
        let mut s = store();
        let mut old = key(2, Role::Zsk, KeyState::Removed);
        old.id = "ff".into();
        s.keys.push(old);
        assert_eq!(destroy_check(&s, &p, 2).unwrap(), 4);
    }
}
