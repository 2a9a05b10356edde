//! `sessions`: signed-in browsers. The id is the sha256 of the cookie's secret, so a
//! copy of the table signs nobody in. Times are Unix milliseconds.

use sea_orm::entity::prelude::*;

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// sha256 of the cookie's secret, lowercase hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose session it is.
    pub user_id: i64,
    /// When it began (at sign-in).
    pub created_at: i64,
    /// When it was last used, to the minute; idle expiry counts from here.
    pub last_seen_at: i64,
    /// When it ends whatever happens (absolute expiry).
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
