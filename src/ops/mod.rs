//! The command flows over the stages: signing and verifying a zone ([`pipeline`]), the
//! ingress stage of signing, which picks the new input or the approved zone
//! ([`ingress`]), with the operator's check programs ([`check_programs`]), `init` and logins ([`setup`]), `key generate` and `key destroy` ([`keys`]), `key import`
//! ([`import`]; from BIND key files: [`import_file`]), the
//! security checklist ([`seccheck`]), the token's signing rate ([`hsmbench`]) and the
//! run report with its metrics ([`report`]). The CLI ([`crate::cli`]) only parses and prints.

pub mod check_programs;
pub mod denial;
pub mod hsmbench;
pub mod import;
pub mod import_file;
pub mod ingress;
pub mod keys;
pub mod pipeline;
pub mod report;
pub mod seccheck;
pub mod setup;
pub mod zonemd_steps;
