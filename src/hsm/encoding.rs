//! Public keys as the token returns them, turned into DNSKEY key fields: RSA exponent
//! and modulus per RFC 3110, EC points (DER-wrapped, as PKCS#11 says, or raw, as some
//! HSMs return them) per RFC 6605 and RFC 8080. Pure byte work with no PKCS#11 call,
//! so it is tested without an HSM.

use crate::dns::algorithm::Algorithm;

/// Strips leading zero bytes, which RFC 3110 forbids in exponent and modulus.
fn strip_leading_zeros(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[start..]
}

/// Encodes an RSA public key as the RFC 3110 DNSKEY key field: exponent length (one
/// byte, or zero followed by a 16-bit length if over 255), exponent, modulus.
pub(super) fn rsa_dnskey(exponent: &[u8], modulus: &[u8]) -> Result<Vec<u8>, &'static str> {
    let e = strip_leading_zeros(exponent);
    let n = strip_leading_zeros(modulus);
    if e.is_empty() || n.is_empty() {
        return Err("zero RSA exponent or modulus");
    }
    let mut out = Vec::with_capacity(3 + e.len() + n.len());
    if let Ok(len) = u8::try_from(e.len()) {
        out.push(len);
    } else {
        let len = u16::try_from(e.len()).map_err(|_| "RSA exponent longer than 65535 bytes")?;
        out.push(0);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(e);
    out.extend_from_slice(n);
    Ok(out)
}

/// Unwraps a DER OCTET STRING (tag 0x04, short or one/two-byte long length) and
/// returns its content, or `None` if `der` is not exactly one such value.
fn der_octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, body) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

/// Converts a CKA_EC_POINT value to the DNSKEY key field for `alg`.
///
/// PKCS#11 says the point is DER-wrapped (SoftHSM does that), but some HSMs return
/// it raw, so both forms are accepted when the length makes them unambiguous.
pub(super) fn ec_dnskey(alg: Algorithm, point: &[u8]) -> Result<Vec<u8>, &'static str> {
    let raw = der_octet_string(point).unwrap_or(point);
    match alg {
        Algorithm::EcdsaP256Sha256 => match raw {
            [0x04, xy @ ..] if xy.len() == 64 => Ok(xy.to_vec()),
            _ => Err("expected an uncompressed 65-byte P-256 point"),
        },
        Algorithm::Ed25519 if raw.len() == 32 => Ok(raw.to_vec()),
        Algorithm::Ed25519 => Err("expected a 32-byte Ed25519 point"),
        Algorithm::RsaSha1 | Algorithm::RsaSha256 => Err("RSA keys have no EC point"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_dnskey_follows_rfc3110() {
        assert_eq!(
            rsa_dnskey(&[0, 1, 0, 1], &[0, 0, 0xC1, 0x02]).unwrap(),
            vec![3, 1, 0, 1, 0xC1, 0x02]
        );
        let long_e = vec![0x01; 300];
        let key = rsa_dnskey(&long_e, &[0xAB]).unwrap();
        assert_eq!(&key[..3], &[0, 0x01, 0x2C]);
        assert_eq!(key.len(), 3 + 300 + 1);
        assert!(rsa_dnskey(&[0], &[1]).is_err());
    }

    #[test]
    fn ec_point_unwrapping() {
        let mut p256 = vec![0x04, 0x41, 0x04];
        p256.extend([7u8; 64]);
        assert_eq!(
            ec_dnskey(Algorithm::EcdsaP256Sha256, &p256).unwrap(),
            vec![7; 64]
        );
        assert_eq!(
            ec_dnskey(Algorithm::EcdsaP256Sha256, &p256[2..]).unwrap(),
            vec![7; 64]
        );
        let mut ed = vec![0x04, 0x20];
        ed.extend([9u8; 32]);
        assert_eq!(ec_dnskey(Algorithm::Ed25519, &ed).unwrap(), vec![9; 32]);
        assert_eq!(
            ec_dnskey(Algorithm::Ed25519, &ed[2..]).unwrap(),
            vec![9; 32]
        );
        assert!(ec_dnskey(Algorithm::Ed25519, &[0x04, 0x05, 1]).is_err());
        assert!(ec_dnskey(Algorithm::EcdsaP256Sha256, &[]).is_err());
    }
}
