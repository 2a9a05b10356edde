//! `audit_log`: who did what, when.

use sea_orm::entity::prelude::*;

/// One recorded action.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When it happened.
    pub at: ChronoDateTimeUtc,
    /// Who did it: a user name, a token name, or `system`.
    pub actor: String,
    /// What was done, dotted (`schema.migrate`, `user.login`).
    pub action: String,
    /// What it was done to, if anything.
    pub target: Option<String>,
    /// Details as a JSON text.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
