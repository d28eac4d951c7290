//! PKCS#11 URIs (RFC 7512): how OpenDNSSEC, BIND (`pkcs11:` key labels through its
//! OpenSSL provider), p11-kit and every HSM vendor's tooling name a token or a key.
//!
//! A registry taking over its keys copies the URI its old signer was configured with;
//! zonesign accepts it wherever a token or a key is named: `token = "pkcs11:..."` in
//! the config, and `key import --uri`. Written by hand: the parser is forty lines of
//! RFC 7512 §2.3, and the crates found on crates.io either return the attributes still
//! percent-encoded or bring a second PKCS#11 binding along.
//!
//! Only what selects a token or a key is used: `token`, `manufacturer`, `model` and
//! `serial` in the path match the token's info, `object` and `id` the key, `type` must
//! be `private` (or absent). A URI that carries a PIN (`pin-value`) is refused: a PIN in
//! a config file or on a command line is exactly what SEC-6.1 forbids; zonesign reads
//! PINs from the PIN file or `ZONESIGN_PIN`. Other query attributes (`module-path`,
//! `pin-source`, vendor `x-` attributes) are for other programs and are ignored, as
//! RFC 7512 §2.3 lets a consumer do with attributes it does not use.

/// A parsed PKCS#11 URI: the token and key attributes zonesign selects by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer ID.
    pub manufacturer: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `object`: the key's CKA_LABEL.
    pub object: Option<String>,
    /// `id`: the key's CKA_ID.
    pub id: Option<Vec<u8>>,
}

/// Why a PKCS#11 URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a `pkcs11:` URI.
    #[error("not a PKCS#11 URI (RFC 7512): it must start with `pkcs11:`")]
    Scheme,
    /// An attribute without `=`.
    #[error("attribute {0:?} has no `=` (RFC 7512 section 2.3)")]
    NoValue(String),
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in {0:?}")]
    Percent(String),
    /// A path attribute given twice.
    #[error("attribute {0} is given twice (RFC 7512 section 2.3)")]
    Twice(String),
    /// A PIN in the URI.
    #[error(
        "the URI carries a PIN (pin-value): zonesign never takes a PIN from a config file or a command line (SEC-6.1); use the PIN file or ZONESIGN_PIN"
    )]
    Pin,
    /// `type` other than `private`.
    #[error("type={0}: zonesign signs with private keys; use type=private or leave it out")]
    Type(String),
    /// An attribute value that must be text is not UTF-8.
    #[error("attribute {0} is not UTF-8 text")]
    Utf8(&'static str),
}

impl Pkcs11Uri {
    /// Whether `text` is a URI rather than a plain label.
    pub fn is_uri(text: &str) -> bool {
        text.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("pkcs11:"))
    }

    /// Parses a `pkcs11:` URI (RFC 7512 §2.3): path attributes separated by `;`, query
    /// attributes after `?` separated by `&`, values percent-encoded.
    pub fn parse(text: &str) -> Result<Pkcs11Uri, UriError> {
        if !Pkcs11Uri::is_uri(text) {
            return Err(UriError::Scheme);
        }
        let rest = &text[7..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = split_attr(attr)?;
            uri.set(name, value)?;
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (name, _) = split_attr(attr)?;
            if name == "pin-value" {
                return Err(UriError::Pin);
            }
        }
        Ok(uri)
    }

    fn set(&mut self, name: &str, value: Vec<u8>) -> Result<(), UriError> {
        let text =
            |v: Vec<u8>, n: &'static str| String::from_utf8(v).map_err(|_| UriError::Utf8(n));
        let slot_twice = |present: bool| {
            if present {
                Err(UriError::Twice(name.to_string()))
            } else {
                Ok(())
            }
        };
        match name {
            "token" => {
                slot_twice(self.token.is_some())?;
                self.token = Some(text(value, "token")?);
            }
            "manufacturer" => {
                slot_twice(self.manufacturer.is_some())?;
                self.manufacturer = Some(text(value, "manufacturer")?);
            }
            "model" => {
                slot_twice(self.model.is_some())?;
                self.model = Some(text(value, "model")?);
            }
            "serial" => {
                slot_twice(self.serial.is_some())?;
                self.serial = Some(text(value, "serial")?);
            }
            "object" => {
                slot_twice(self.object.is_some())?;
                self.object = Some(text(value, "object")?);
            }
            "id" => {
                slot_twice(self.id.is_some())?;
                self.id = Some(value);
            }
            "type" => {
                let t = text(value, "type")?;
                if t != "private" {
                    return Err(UriError::Type(t));
                }
            }
            "pin-value" => return Err(UriError::Pin),
            // library-*, slot-*: the module and slot are the config's business.
            _ => {}
        }
        Ok(())
    }

    /// Whether a token with this label, manufacturer, model and serial (PKCS#11 space
    /// padding trimmed) is the one the URI names: every attribute it gives matches.
    pub fn matches_token(
        &self,
        label: &str,
        manufacturer: &str,
        model: &str,
        serial: &str,
    ) -> bool {
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.token, label)
            && ok(&self.manufacturer, manufacturer)
            && ok(&self.model, model)
            && ok(&self.serial, serial)
    }
}

/// `name=value`, the value percent-decoded.
fn split_attr(attr: &str) -> Result<(&str, Vec<u8>), UriError> {
    let (name, value) = attr
        .split_once('=')
        .ok_or_else(|| UriError::NoValue(attr.to_string()))?;
    Ok((name, percent_decode(value)?))
}

/// Decodes `%XX` escapes (RFC 3986 §2.1); every other byte stands for itself.
fn percent_decode(value: &str) -> Result<Vec<u8>, UriError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| UriError::Percent(value.to_string()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7512 §3's examples, as far as they name a token or a private key.
    #[test]
    fn rfc_7512_examples() {
        let u = Pkcs11Uri::parse("pkcs11:").unwrap();
        assert_eq!(u, Pkcs11Uri::default());
        let u = Pkcs11Uri::parse("pkcs11:object=my-pubkey;type=private").unwrap();
        assert_eq!(u.object.as_deref(), Some("my-pubkey"));
        let u = Pkcs11Uri::parse(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=private;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(u.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(u.model.as_deref(), Some("1.0"));
        assert_eq!(u.serial.as_deref(), Some(""));
        assert_eq!(
            u.id.as_deref(),
            Some(&[0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91][..])
        );
        assert!(u.matches_token(
            "The Software PKCS#11 Softtoken",
            "Snake Oil, Inc.",
            "1.0",
            ""
        ));
        assert!(!u.matches_token("other", "Snake Oil, Inc.", "1.0", ""));
        let u = Pkcs11Uri::parse("pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?module-path=/usr/lib/libmypkcs11.so").unwrap();
        assert_eq!(u.token.as_deref(), Some("Software PKCS#11 softtoken"));
        assert!(u.object.is_none());
    }

    #[test]
    fn pins_and_bad_uris_are_refused() {
        for (text, want) in [
            ("pkcs11:token=a?pin-value=1234", UriError::Pin),
            ("pkcs11:token=a;pin-value=1234", UriError::Pin),
            ("token=a", UriError::Scheme),
            ("pkcs11:token", UriError::NoValue("token".into())),
            ("pkcs11:token=a%2", UriError::Percent("a%2".into())),
            ("pkcs11:token=a;token=b", UriError::Twice("token".into())),
            ("pkcs11:type=cert", UriError::Type("cert".into())),
        ] {
            assert_eq!(Pkcs11Uri::parse(text), Err(want), "{text}");
        }
        assert!(Pkcs11Uri::is_uri("PKCS11:token=a"));
        assert!(!Pkcs11Uri::is_uri("zonesign"));
    }
}
