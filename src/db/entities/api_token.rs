//! `api_tokens`: bearer tokens for the API, by name. Only the sha256 of each secret is
//! kept; times are Unix milliseconds.

use sea_orm::entity::prelude::*;

/// One token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Its owner's name for it (`laptop`); also the author of what it publishes.
    pub name: String,
    /// sha256 of the secret, lowercase hex.
    pub hash: String,
    /// When it was made.
    pub created_at: i64,
    /// When it last authenticated a request, to the minute.
    pub last_used_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
