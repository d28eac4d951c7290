//! `zonesign key import`: taking over a key pair that another signer made in the token
//! (issue 23). A registry switching signers keeps its keys: their DS is in the parent,
//! and a new key would need a KSK roll at the parent before the first signature.
//!
//! The key is adopted only after the checks a key made by `key generate` passes by
//! construction (DPS-5.2): the private key is a token object, sensitive and not
//! extractable; a public key object with the same CKA_ID exists; a signature made with
//! the private key in the token verifies with that public key (so the pair belongs
//! together, without reading anything secret); and its type and parameters give an
//! algorithm zonesign signs with. Each refusal says why and changes nothing. The key is
//! recorded with `imported = "token"` and the state asked for, and the `key-imported`
//! audit line goes with the saved state (DPS-4.4).

use crate::audit::{AuditLog, KeyEvent};
use crate::config::Config;
use crate::dns::algorithm::Algorithm;
use crate::dnssec::crypto::{VerifyingKey, key_tag};
use crate::dnssec::keys::{KeyEntry, KeyState, KeyStore, Role, dnskey_rdata, timestamp};
use crate::dnssec::lifecycle::Change;
use crate::error::{Error, KeyError, Result};
use crate::hsm::uri::Pkcs11Uri;
use crate::hsm::{ForeignKey, KeyFamily, Module, SigningBackend, Token};
use crate::ops::setup::login;
use crate::store::output::OutputLock;

/// Which key to import, as named on the command line.
#[derive(Debug, Clone)]
pub enum KeyName {
    /// CKA_ID, hex.
    Id(String),
    /// CKA_LABEL.
    Label(String),
    /// A PKCS#11 URI (RFC 7512) with `id` and/or `object`.
    Uri(String),
}

impl std::fmt::Display for KeyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyName::Id(id) => write!(f, "id {id}"),
            KeyName::Label(l) => write!(f, "label {l:?}"),
            KeyName::Uri(u) => write!(f, "{u}"),
        }
    }
}

/// Options of `zonesign key import` (keys already in the token).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The key.
    pub key: KeyName,
    /// Its role in the zone.
    pub role: Role,
    /// The algorithm; needed for RSA keys (5 or 8 cannot be told from the key).
    pub algorithm: Option<Algorithm>,
    /// The state to record: `active` (it signs the zone now), `published` or `generated`.
    pub state: KeyState,
    /// Time of the act (`--now`, else the clock).
    pub now: i64,
}

/// Imports one key pair that is in the token already; returns its new entry.
pub fn import(cfg: &Config, opts: &ImportOptions) -> Result<KeyEntry> {
    let refused = |why: String| {
        Error::Key(KeyError::ImportRefused {
            key: opts.key.to_string(),
            why,
        })
    };
    if !matches!(
        opts.state,
        KeyState::Active | KeyState::Published | KeyState::Generated
    ) {
        return Err(refused(
            "--state must be active, published or generated".into(),
        ));
    }
    let (id, label) = selector(&opts.key).map_err(refused)?;
    let _lock = OutputLock::acquire(&cfg.files.keys)?;
    let mut store = KeyStore::load(&cfg.files.keys)?;
    let audit = AuditLog::new(&cfg.files.audit_log, "key import");
    let module = Module::load(&cfg.hsm.module)?;
    let token = login(&module, &cfg.hsm.token, &cfg.pin()?, &audit)?;
    let checked = check_key(&token, id.as_deref(), label.as_deref(), opts).map_err(refused);
    let audit_io = |e| Error::io(&cfg.files.audit_log, e);
    token.logout().map_err(audit_io)?;
    let (found, alg, public) = checked?;
    let id_hex = hex(&found.id);
    if store.keys.iter().any(|k| k.id == id_hex) {
        return Err(refused(format!(
            "the key state already has a key with PKCS#11 id {id_hex}; see `zonesign key list`"
        )));
    }
    let rdata = dnskey_rdata(opts.role.flags(), alg, &public);
    let tag = key_tag(&rdata);
    if store
        .keys
        .iter()
        .any(|k| k.tag == tag && !k.state.is_gone())
    {
        return Err(refused(format!(
            "a live key already has tag {tag}: commands naming keys by tag would be ambiguous"
        )));
    }
    let bits = match found.family {
        KeyFamily::Rsa { bits } => bits,
        _ => 256,
    };
    let mut entry = KeyEntry::new_generated(
        id_hex,
        found.label.clone(),
        opts.role,
        alg,
        bits,
        tag,
        opts.now,
        data_encoding::BASE64.encode(&public),
    );
    entry.imported = Some("token".into());
    entry.state = opts.state;
    let at = Some(timestamp(opts.now));
    if opts.state.is_published() {
        entry.published = at.clone();
    }
    if opts.state == KeyState::Active {
        entry.active = at;
    }
    let change = Change::new(
        &entry,
        KeyEvent::Imported,
        opts.now,
        format!(
            "taken over from the token (PKCS#11 label {:?}), {}: private key sensitive and not extractable, public key matches",
            found.label,
            crate::dnssec::lifecycle::state_name(opts.state)
        ),
    );
    store.keys.push(entry.clone());
    store.commit(
        &cfg.files.keys,
        &audit,
        crate::dnssec::lifecycle::audit_events(&[change]),
    )?;
    Ok(entry)
}

/// The CKA_ID and CKA_LABEL the key name selects by.
fn selector(key: &KeyName) -> std::result::Result<(Option<Vec<u8>>, Option<String>), String> {
    match key {
        KeyName::Id(hex_id) => data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex_id.as_bytes())
            .map(|id| (Some(id), None))
            .map_err(|_| format!("--id {hex_id} is not hex")),
        KeyName::Label(l) => Ok((None, Some(l.clone()))),
        KeyName::Uri(u) => {
            let uri = Pkcs11Uri::parse(u).map_err(|e| e.to_string())?;
            if uri.id.is_none() && uri.object.is_none() {
                return Err("the URI names no key: give id= or object=".into());
            }
            Ok((uri.id, uri.object))
        }
    }
}

/// Finds the key and runs every check; returns it with its algorithm and public key.
fn check_key(
    token: &Token,
    id: Option<&[u8]>,
    label: Option<&str>,
    opts: &ImportOptions,
) -> std::result::Result<(ForeignKey, Algorithm, Vec<u8>), String> {
    let found = token
        .find_private_key(id, label)
        .map_err(|e| e.to_string())?;
    let alg = algorithm_of(&found.family, opts.algorithm)?;
    if !token.mechanisms_for(alg) {
        return Err(format!(
            "the token lacks the PKCS#11 mechanisms to sign with {alg}"
        ));
    }
    let attrs = token.key_attributes(&found.id).map_err(|e| e.to_string())?;
    if !attrs.sensitive || attrs.extractable {
        return Err(format!(
            "the private key is {}{}: its value may leave the token (DPS-5.2). Generate a new key in the token (`zonesign key generate`) and roll to it instead",
            if attrs.sensitive { "" } else { "not sensitive" },
            if attrs.extractable {
                if attrs.sensitive {
                    "extractable"
                } else {
                    " and extractable"
                }
            } else {
                ""
            }
        ));
    }
    let public = token.public_key(&found.id, alg).map_err(|e| {
        format!("{e}: the key pair's public key object (same CKA_ID) is needed for its DNSKEY")
    })?;
    pair_matches(token, &found.id, alg, &public)?;
    Ok((found, alg, public))
}

/// The algorithm a key serves: its family's, checked against `--algorithm`.
fn algorithm_of(
    family: &KeyFamily,
    asked: Option<Algorithm>,
) -> std::result::Result<Algorithm, String> {
    let alg = match (family, asked) {
        (KeyFamily::Rsa { .. }, Some(a)) if a.is_rsa() => a,
        (KeyFamily::Rsa { bits }, None) => {
            return Err(format!(
                "an RSA key ({bits} bits) serves rsasha1 and rsasha256: say which with --algorithm"
            ));
        }
        (KeyFamily::P256, None | Some(Algorithm::EcdsaP256Sha256)) => Algorithm::EcdsaP256Sha256,
        (KeyFamily::Ed25519, None | Some(Algorithm::Ed25519)) => Algorithm::Ed25519,
        (KeyFamily::Unsupported(what), _) => {
            return Err(format!("{what}: no DNSSEC algorithm zonesign signs with"));
        }
        (family, Some(a)) => {
            return Err(format!("the key is {family:?}, which cannot sign {a}"));
        }
        (KeyFamily::Other, None) => return Err("the key's type could not be read".into()),
    };
    Ok(alg)
}

/// Signs a test message with the private key in the token and verifies it with the
/// public key: the two objects are one key pair (a mismatched public key object would
/// publish a DNSKEY that verifies nothing).
pub(super) fn pair_matches(
    token: &Token,
    id: &[u8],
    alg: Algorithm,
    public: &[u8],
) -> std::result::Result<(), String> {
    const PROBE: &[u8] = b"zonesign key import: does the public key belong to the private key?";
    let signer = token
        .signer(&[(id.to_vec(), alg)])
        .map_err(|e| e.to_string())?;
    let signature = signer
        .open_session()
        .and_then(|mut s| s.sign(0, PROBE))
        .map_err(|e| e.to_string())?;
    let key = VerifyingKey::from_dnskey_rdata(&dnskey_rdata(256, alg, public))
        .map_err(|e| e.to_string())?;
    key.verify(PROBE, &signature).map_err(|_| {
        "a signature by the private key does not verify with the public key object of the same CKA_ID: they are not one key pair".to_string()
    })
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}
