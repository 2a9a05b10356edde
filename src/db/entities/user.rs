//! `users`: accounts that sign in to change the site. Times are Unix milliseconds.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The name it signs in with.
    pub name: String,
    /// Argon2id, in the PHC string format.
    pub password_hash: String,
    /// `admin` or `editor`.
    pub role: String,
    /// When it was made.
    pub created_at: i64,
    /// When its password or role last changed.
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
