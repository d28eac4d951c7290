//! `zonesign key import --from-file Kzone.+alg+tag.private`: taking over a key that a
//! file-key signer (BIND's `dnssec-keygen`) made, by putting it into the token (issue
//! 23). The zone keeps its key tags and the parent's DS; from then on the key lives in
//! the HSM like any other (sensitive, not extractable: DPS-5.2), and the file is the
//! operator's to destroy.
//!
//! Everything that can be judged from the files is judged before the token is touched:
//! the `.private` file reads (file and line otherwise), its algorithm is one zonesign
//! signs with, the `.key` file beside it has the same algorithm and (RSA) the same
//! public key, its flags are the role's (a KSK file is not a ZSK: flags 257 vs 256 give
//! another DNSKEY and another key tag), and the key is not in the key state yet. In the
//! token: the key is not there yet (same public key), then it is created, and the
//! checks of `key import` for keys already in a token run on it (sensitive, not
//! extractable, the token's public key is the `.key` file's, a probe signature verifies
//! with the `.key` file's key). A failed check destroys what was created: every refusal
//! leaves keys.toml and the token as they were (exit 2).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::audit::{AuditLog, KeyEvent};
use crate::config::Config;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::crypto::key_tag;
use crate::dnssec::keyfile::{
    KeyFileError, PrivateKeyFile, PrivateMaterial, PublicKeyFile, key_file_beside, parse_private,
    parse_public, rsa_public_matches,
};
use crate::dnssec::keys::{KeyEntry, KeyState, KeyStore, Role, dnskey_rdata, timestamp};
use crate::dnssec::lifecycle::{Change, audit_events, state_name};
use crate::error::{Error, Result, UsageError};
use crate::hsm::{KeyValues, Module, Token};
use crate::ops::setup::login;
use crate::store::output::OutputLock;

/// Options of `zonesign key import --from-file`.
#[derive(Debug, Clone)]
pub struct FileImportOptions {
    /// The `.private` file.
    pub file: PathBuf,
    /// The key's role; must agree with the `.key` file's flags.
    pub role: Role,
    /// The state to record: `active`, `published` or `generated`.
    pub state: KeyState,
    /// Time of the act (`--now`, else the clock).
    pub now: i64,
}

/// A refusal naming the file (and line).
fn refused(path: &Path, line: Option<usize>, problem: impl Into<String>) -> Error {
    Error::Usage(UsageError::KeyFile(KeyFileError {
        path: path.to_path_buf(),
        line,
        problem: problem.into(),
    }))
}

/// Imports the key of a BIND `.private` file into the token; returns its new entry.
pub fn import_file(cfg: &Config, opts: &FileImportOptions) -> Result<KeyEntry> {
    if !matches!(
        opts.state,
        KeyState::Active | KeyState::Published | KeyState::Generated
    ) {
        return Err(refused(
            &opts.file,
            None,
            "--state must be active, published or generated",
        ));
    }
    let (private, public, key_path) = read_files(&opts.file)?;
    check_role(&key_path, &public, opts.role)?;
    let alg = private.algorithm;
    let rdata = dnskey_rdata(opts.role.flags(), alg, &public.key);
    let tag = key_tag(&rdata);
    let values = key_values(&private.material, &public.key)
        .map_err(|p| refused(&key_path, Some(public.line), p))?;
    let _lock = OutputLock::acquire(&cfg.files.keys)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    same_zone(&store, &key_path, &public)?;
    not_in_key_state(&store, &opts.file, &public.key, tag)?;
    let audit = AuditLog::new(&cfg.files.audit_log, "key import");
    let module = Module::load(&cfg.hsm.module)?;
    let token = login(&module, &cfg.hsm.token, &cfg.pin()?, &audit)?;
    let id: [u8; 8] = rand::random();
    let id_hex = data_encoding::HEXLOWER.encode(&id);
    let label = format!("zonesign-{}-{id_hex}", opts.role);
    put_in_token(&token, &values, &id, &label, alg, &public.key).map_err(|e| match e {
        Put::Refused(why) => refused(&opts.file, None, why),
        Put::Hsm(e) => e,
    })?;
    let bits = match &private.material {
        PrivateMaterial::Rsa(rsa) => significant_bits(&rsa.modulus),
        _ => 256,
    };
    let entry = entry(opts, id_hex, label, alg, bits, tag, &public.key);
    let change = Change {
        source: Some("file"),
        ..Change::new(
            &entry,
            KeyEvent::Imported,
            opts.now,
            format!(
                "taken over from the key file {} into the token, {}: private key sensitive and not extractable, public key and key tag those of {}; the file is the operator's to destroy now",
                opts.file.display(),
                state_name(opts.state),
                key_path.display()
            ),
        )
    };
    store.keys.push(entry.clone());
    if let Err(e) = store.commit(&cfg.files.keys, &audit, audit_events(&[change])) {
        // Nothing recorded: the key leaves the token again, so a new try starts clean.
        let _ = token.destroy_key(&id);
        return Err(e);
    }
    token
        .logout()
        .map_err(|e| Error::io(&cfg.files.audit_log, e))?;
    Ok(entry)
}

/// Reads the `.private` file (its text wiped when dropped) and the `.key` file beside
/// it, and checks that they are one key.
fn read_files(path: &Path) -> Result<(PrivateKeyFile, PublicKeyFile, PathBuf)> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map(Zeroizing::new)
            .map_err(|e| refused(p, None, format!("cannot read it: {e}")))
    };
    let key_path = key_file_beside(path).ok_or_else(|| {
        refused(
            path,
            None,
            "give the key's `.private` file (Kzone.+alg+tag.private); its `.key` file is read from beside it",
        )
    })?;
    let private = parse_private(path, &read(path)?).map_err(keyfile)?;
    let public = parse_public(&key_path, &read(&key_path)?).map_err(keyfile)?;
    if public.algorithm != private.algorithm.number() {
        return Err(refused(
            &key_path,
            Some(public.line),
            format!(
                "the DNSKEY's algorithm is {}, the .private file's is {}: they are not one key",
                public.algorithm,
                private.algorithm.number()
            ),
        ));
    }
    if let PrivateMaterial::Rsa(rsa) = &private.material
        && !rsa_public_matches(rsa, &public)
    {
        return Err(refused(
            &key_path,
            Some(public.line),
            format!(
                "the DNSKEY's public key is not the one in {} (modulus or exponent differ): they are not one key",
                path.display()
            ),
        ));
    }
    Ok((private, public, key_path))
}

fn keyfile(e: KeyFileError) -> Error {
    Error::Usage(UsageError::KeyFile(e))
}

/// The `.key` file's flags must be the role's: 257 (zone key, SEP) for a KSK, 256 for
/// a ZSK. Another role would publish another DNSKEY (other flags, other key tag) than
/// the one the parent's DS and resolvers' caches know.
fn check_role(key_path: &Path, public: &PublicKeyFile, role: Role) -> Result<()> {
    if public.flags == role.flags() {
        return Ok(());
    }
    let what = match public.flags {
        257 => "a KSK (flags 257, SEP bit set)".to_string(),
        256 => "a ZSK (flags 256)".to_string(),
        f if f & 0x80 != 0 => format!("revoked (flags {f}, RFC 5011 REVOKE bit)"),
        f => format!("flags {f}, neither a KSK (257) nor a ZSK (256)"),
    };
    let hint = match public.flags {
        257 => " Import it with --role ksk.",
        256 => " Import it with --role zsk.",
        _ => " zonesign imports keys with flags 256 or 257 only.",
    };
    Err(refused(
        key_path,
        Some(public.line),
        format!(
            "the key is {what}, not a {role}: as a {role} it would be published with flags {} and another key tag than the old signer's.{hint}",
            role.flags()
        ),
    ))
}

/// The values to create in the token: the private material and the `.key` file's
/// public key.
fn key_values<'a>(
    material: &'a PrivateMaterial,
    public: &'a [u8],
) -> std::result::Result<KeyValues<'a>, String> {
    Ok(match material {
        PrivateMaterial::Rsa(rsa) => KeyValues::Rsa {
            modulus: &rsa.modulus,
            public_exponent: &rsa.public_exponent,
            private_exponent: &rsa.private_exponent,
            prime1: &rsa.prime1,
            prime2: &rsa.prime2,
            exponent1: &rsa.exponent1,
            exponent2: &rsa.exponent2,
            coefficient: &rsa.coefficient,
        },
        PrivateMaterial::P256(scalar) if public.len() == 64 => {
            KeyValues::P256 { scalar, xy: public }
        }
        PrivateMaterial::Ed25519(seed) if public.len() == 32 => KeyValues::Ed25519 {
            seed,
            point: public,
        },
        _ => {
            return Err(format!(
                "the DNSKEY's public key has {} octets, not a key of the .private file's algorithm",
                public.len()
            ));
        }
    })
}

/// A key of another zone would sign nothing the parent's DS can reach: once the key
/// state knows its zone (recorded at the first signing), the `.key` file's owner must be
/// that zone.
fn same_zone(store: &KeyStore, key_path: &Path, public: &PublicKeyFile) -> Result<()> {
    let canonical = |n: &str| {
        let n = n.to_ascii_lowercase();
        if n.ends_with('.') { n } else { format!("{n}.") }
    };
    match &store.zone {
        Some(zone) if canonical(zone) != canonical(&public.owner) => Err(refused(
            key_path,
            Some(public.line),
            format!(
                "the key is for the zone {}, this key state's zone is {zone}",
                public.owner
            ),
        )),
        _ => Ok(()),
    }
}

/// A key already in the key state (same public key) is not imported again: its tag
/// says which. Nor is one whose tag a live key has (commands name keys by tag).
fn not_in_key_state(store: &KeyStore, file: &Path, public: &[u8], tag: u16) -> Result<()> {
    let b64 = data_encoding::BASE64.encode(public);
    if let Some(k) = store.keys.iter().find(|k| k.public_key == b64) {
        return Err(refused(
            file,
            None,
            format!(
                "this key is already in the key state as {} {} (state {}{}); see `zonesign key list`",
                k.role,
                k.tag,
                state_name(k.state),
                k.imported
                    .as_ref()
                    .map_or(String::new(), |f| format!(", imported from {f}"))
            ),
        ));
    }
    if let Some(k) = store
        .keys
        .iter()
        .find(|k| k.tag == tag && !k.state.is_gone())
    {
        return Err(refused(
            file,
            None,
            format!(
                "a live key ({} {}) already has tag {tag}: commands naming keys by tag would be ambiguous",
                k.role, k.tag
            ),
        ));
    }
    Ok(())
}

/// Why putting the key in the token failed: a refusal of this key, or the HSM.
enum Put {
    Refused(String),
    Hsm(Error),
}

/// Creates the key pair in the token and runs `key import`'s checks on it; a failed
/// check destroys it again.
fn put_in_token(
    token: &Token,
    values: &KeyValues<'_>,
    id: &[u8],
    label: &str,
    alg: Algorithm,
    public: &[u8],
) -> std::result::Result<(), Put> {
    let hsm = |e: crate::hsm::HsmError| Put::Hsm(e.into());
    if let Some((other, other_label)) = token.find_same_public_key(values).map_err(hsm)? {
        let other = data_encoding::HEXLOWER.encode(&other);
        return Err(Put::Refused(format!(
            "the token already holds this key (CKA_ID {other}, label {other_label:?}); if the key state lacks it, adopt it with `zonesign key import --id {other}`"
        )));
    }
    token.create_key_pair(values, id, label).map_err(hsm)?;
    checks(token, id, alg, public).map_err(|why| {
        let _ = token.destroy_key(id);
        Put::Refused(format!(
            "{why}; the objects made in the token were destroyed"
        ))
    })
}

/// The checks `key import` runs on a key already in a token (DPS-5.2), here on the key
/// just created from the file.
fn checks(
    token: &Token,
    id: &[u8],
    alg: Algorithm,
    public: &[u8],
) -> std::result::Result<(), String> {
    let attrs = token.key_attributes(id).map_err(|e| e.to_string())?;
    if !attrs.sensitive || attrs.extractable {
        return Err("the token did not keep the private key sensitive and not extractable".into());
    }
    let in_token = token.public_key(id, alg).map_err(|e| e.to_string())?;
    if in_token != public {
        return Err("the token's public key object is not the .key file's DNSKEY".into());
    }
    crate::ops::import::pair_matches(token, id, alg, public).map_err(|_| {
        "a signature by the .private file's key does not verify with the .key file's DNSKEY: the two files are not one key".to_string()
    })
}

/// The key-state entry of the imported key.
fn entry(
    opts: &FileImportOptions,
    id_hex: String,
    label: String,
    alg: Algorithm,
    bits: u32,
    tag: u16,
    public: &[u8],
) -> KeyEntry {
    let mut entry = KeyEntry::new_generated(
        id_hex,
        label,
        opts.role,
        alg,
        bits,
        tag,
        opts.now,
        data_encoding::BASE64.encode(public),
    );
    let name = opts.file.file_name().map_or_else(
        || opts.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    entry.imported = Some(format!("file: {name}"));
    entry.state = opts.state;
    let at = Some(timestamp(opts.now));
    if opts.state.is_published() {
        entry.published = at.clone();
    }
    if opts.state == KeyState::Active {
        entry.active = at;
    }
    entry
}

/// The size in bits of a big-endian unsigned integer.
fn significant_bits(n: &[u8]) -> u32 {
    let lead = n.iter().take_while(|b| **b == 0).count();
    let Some(top) = n.get(lead) else { return 0 };
    ((n.len() - lead - 1) * 8) as u32 + (8 - top.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_bits_and_role_flags() {
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[0x01, 0, 0]), 17);
        let key = |flags| PublicKeyFile {
            owner: "se.".into(),
            flags,
            algorithm: 13,
            key: vec![0; 64],
            line: 5,
        };
        let p = Path::new("K.key");
        assert!(check_role(p, &key(257), Role::Ksk).is_ok());
        assert!(check_role(p, &key(256), Role::Zsk).is_ok());
        let e = check_role(p, &key(257), Role::Zsk).unwrap_err().to_string();
        assert!(e.contains("K.key:5:") && e.contains("--role ksk"), "{e}");
        let e = check_role(p, &key(385), Role::Ksk).unwrap_err().to_string();
        assert!(e.contains("revoked"), "{e}");
        let mut store = KeyStore::default();
        assert!(
            same_zone(&store, p, &key(257)).is_ok(),
            "no zone recorded yet"
        );
        store.zone = Some("SE.".into());
        assert!(same_zone(&store, p, &key(257)).is_ok());
        let mut other = key(257);
        other.owner = "example".into();
        let e = same_zone(&store, p, &other).unwrap_err().to_string();
        assert!(
            e.contains("K.key:5: the key is for the zone example"),
            "{e}"
        );
        assert_eq!(
            Error::Usage(UsageError::KeyFile(KeyFileError {
                path: p.into(),
                line: None,
                problem: "x".into()
            }))
            .exit_code(),
            crate::error::ExitCode::BadInput
        );
    }
}
