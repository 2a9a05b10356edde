//! `hearth_migrations`: the ledger of applied migrations.

use sea_orm::entity::prelude::*;

/// One applied migration.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hearth_migrations")]
pub struct Model {
    /// The migration's number; the schema version once it is applied.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    /// Its name.
    pub name: String,
    /// sha256 of its SQL on every engine, to notice a migration edited after release.
    pub checksum: String,
    /// The oldest schema version a binary may know and still run on this schema.
    pub compatible_from: i64,
    /// When it was applied, Unix milliseconds.
    pub applied_at: i64,
    /// How long it took.
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
