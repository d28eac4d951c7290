//! Stage 5, what is published: the signed zone text written atomically, the output
//! lock and hash record ([`output`]), and the snapshot of the previous run that the
//! cron cycle reads back ([`snapshot`]).

pub mod approved;
pub mod output;
pub mod previous;
pub mod snapshot;
