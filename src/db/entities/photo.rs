//! `photos`: a photo's metadata. Its files are objects in storage, listed in `variants`
//! as JSON (`[{"name","key","width","height","mime","size","sha256"}]`). Times are Unix ms.

use sea_orm::entity::prelude::*;

/// One photo.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    /// Row id, also its address (`/photos/<id>`).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Its title.
    pub title: String,
    /// A longer description (may be empty).
    pub caption: String,
    /// The album it belongs to (may be empty).
    pub album: String,
    /// The uploaded format (`jpeg`, `png`, …).
    pub format: String,
    /// Width after orientation.
    pub width: i32,
    /// Height after orientation.
    pub height: i32,
    /// The stored files, as JSON.
    pub variants: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub created_at: i64,
    /// When its text last changed.
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
