//! The PIN in memory. [`Pin`] keeps the value in a box that zeroes it on drop, never
//! shows it in `Debug` or `Display`, and hands its bytes out only to the one place that
//! must pass them on (the pipe to a signing worker process) or to a search for it
//! (SEC-6.1: a PIN on a command line). Kept apart so the rules for the one secret
//! zonesign holds sit in one short file.

use std::fmt;

use cryptoki::types::AuthPin;

/// A PIN held only in memory; `Debug` and `Display` never show it.
///
/// PINs unlock the zone's private keys, so they must not end up in logs, error
/// messages or panics. The value lives in a `secrecy` box (cryptoki's `AuthPin`),
/// which zeroes it on drop.
pub struct Pin(AuthPin);

impl Pin {
    /// Wraps a PIN read from the environment, a file or a prompt.
    ///
    /// Takes ownership of the `String` so no other copy stays with the caller.
    pub fn new(s: String) -> Pin {
        Pin(AuthPin::from(s))
    }

    /// The value in the form cryptoki's login and init calls take.
    pub(super) fn auth(&self) -> &AuthPin {
        &self.0
    }

    /// Hands the PIN's bytes to `f`, for the one place that must pass it on: the pipe
    /// to a signing worker process ([`crate::hsm::worker`]), never argv or a log.
    pub(crate) fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        use secrecy::ExposeSecret;
        f(self.0.expose_secret().as_bytes())
    }

    /// Whether the PIN occurs in `haystack`, e.g. a process's command line (SEC-6.1:
    /// a PIN there is visible to every user), without handing the PIN out.
    pub fn found_in(&self, haystack: &[u8]) -> bool {
        use secrecy::ExposeSecret;
        let needle = self.0.expose_secret().as_bytes();
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use crate::hsm::test_support::pin;

    #[test]
    fn pin_can_be_searched_for() {
        let p = pin("s3cret");
        assert!(p.found_in(b"zonesign\0--pin\0s3cret\0"));
        assert!(!p.found_in(b"zonesign\0sign\0"));
        assert!(!pin("").found_in(b"anything"));
    }

    #[test]
    fn pin_is_never_shown() {
        let p = pin("1234-secret");
        assert!(!format!("{p:?}").contains("secret"));
        assert!(!format!("{p}").contains("secret"));
    }
}
