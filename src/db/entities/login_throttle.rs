//! `login_throttle`: failed sign-ins per account and per client address, so guessing
//! slows down on every replica alike.

use sea_orm::entity::prelude::*;

/// Failures under one key (`user:<name>` or `addr:<ip>`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "login_throttle")]
pub struct Model {
    /// `user:<name>` or `addr:<ip>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// Failures in a row.
    pub failures: i32,
    /// No attempt is checked before this time (Unix ms).
    pub blocked_until: i64,
    /// When the last failure was.
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
