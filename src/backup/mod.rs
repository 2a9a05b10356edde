//! Backups. So far: the retention policy (`retention`), a pure function that `backup
//! prune` will apply and that `hearth backup retention` explains.

pub mod archive;
pub mod dump;
pub mod retention;
