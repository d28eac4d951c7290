//! The command flows over the stages: signing and verifying a zone ([`pipeline`]),
//! `init` and logins ([`setup`]), `key generate` and `key destroy` ([`keys`]), the
//! security checklist ([`seccheck`]), the token's signing rate ([`hsmbench`]) and the
//! run report with its metrics ([`report`]). The CLI ([`crate::cli`]) only parses and prints.

pub mod hsmbench;
pub mod keys;
pub mod pipeline;
pub mod report;
pub mod seccheck;
pub mod setup;
