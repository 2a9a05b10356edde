//! Backups: the retention policy (`retention`), engine-neutral dumps (`dump`), backups in
//! object storage (`archive`), and the schedule `serve` runs them on (`schedule`).

pub mod archive;
pub mod crypt;
pub mod dump;
pub mod retention;
pub mod schedule;
