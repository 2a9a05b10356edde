//! `leases`: named locks with an expiry, so exactly one process does a thing at a time.
//! `expires_at` is Unix time in milliseconds: an integer compares the same way on every
//! engine, where timestamp types and their text forms do not.

use sea_orm::entity::prelude::*;

/// One held (or expired) lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    /// What is locked (`schema-migration`, `backup`, …).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Who holds it: host, process id and a random suffix.
    pub holder: String,
    /// Unix milliseconds after which anyone may take it.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
