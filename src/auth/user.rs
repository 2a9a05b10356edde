//! Accounts: made, listed, changed and removed with `hearth user`.

use std::fmt;

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    SqlErr,
};
use serde::Serialize;

use super::password::{self, PasswordError};
use super::session;
use crate::db::entities::{session as session_row, user};
use crate::db::{Db, audit, now_ms};

/// What an account may do. Each endpoint names the least role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes: posts and photos.
    Editor,
    /// Everything, including accounts.
    Admin,
}

impl Role {
    /// Its name in the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Reads a stored role; anything unknown is the least one.
    pub fn from_stored(text: &str) -> Role {
        match text {
            "admin" => Role::Admin,
            _ => Role::Editor,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an account could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name breaks the naming rule.
    #[error("{0:?} is not a user name: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    /// The name is taken.
    #[error("a user named {0:?} exists already")]
    Exists(String),
    /// No such account.
    #[error("no user is named {0:?}")]
    Unknown(String),
    /// The password cannot be used.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// An account as `user list` shows it.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// How many sessions it has open.
    pub sessions: u64,
}

/// Makes an account.
pub async fn add(db: &Db, name: &str, role: Role, password: &str) -> Result<(), UserError> {
    if !super::token::valid_name(name) {
        return Err(UserError::BadName(name.to_owned()));
    }
    let hash = password::hash(password)?;
    let now = now_ms();
    let row = user::ActiveModel {
        name: Set(name.to_owned()),
        password_hash: Set(hash),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match row.insert(db.conn()).await {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(UserError::Exists(name.to_owned()));
        }
        Err(e) => return Err(e.into()),
    }
    let detail = serde_json::json!({ "role": role.as_str() });
    audit::record(db.conn(), "cli", "user.add", Some(name), Some(detail)).await?;
    Ok(())
}

/// The account named `name`, if there is one.
pub async fn find(db: &Db, name: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Name.eq(name))
        .one(db.conn())
        .await
}

async fn existing(db: &Db, name: &str) -> Result<user::Model, UserError> {
    find(db, name)
        .await?
        .ok_or_else(|| UserError::Unknown(name.to_owned()))
}

/// Every account, by name.
pub async fn list(db: &Db) -> Result<Vec<UserInfo>, DbErr> {
    let users = user::Entity::find()
        .order_by_asc(user::Column::Name)
        .all(db.conn())
        .await?;
    let mut listed = Vec::with_capacity(users.len());
    for u in users {
        let sessions = session_row::Entity::find()
            .filter(session_row::Column::UserId.eq(u.id))
            .filter(session_row::Column::ExpiresAt.gt(now_ms()))
            .count(db.conn())
            .await?;
        listed.push(UserInfo {
            name: u.name,
            role: Role::from_stored(&u.role),
            created_at: u.created_at,
            sessions,
        });
    }
    Ok(listed)
}

/// Sets a new password; every session of the account ends, so a stolen one stops working.
pub async fn set_password(db: &Db, name: &str, password: &str) -> Result<u64, UserError> {
    let found = existing(db, name).await?;
    let hash = password::hash(password)?;
    let id = found.id;
    let mut row: user::ActiveModel = found.into();
    row.password_hash = Set(hash);
    row.updated_at = Set(now_ms());
    row.update(db.conn()).await?;
    let ended = session::end_all(db, id).await?;
    audit::record(db.conn(), "cli", "user.passwd", Some(name), None).await?;
    Ok(ended)
}

/// Removes an account and its sessions.
pub async fn remove(db: &Db, name: &str) -> Result<(), UserError> {
    let found = existing(db, name).await?;
    session::end_all(db, found.id).await?;
    user::Entity::delete_by_id(found.id).exec(db.conn()).await?;
    audit::record(db.conn(), "cli", "user.remove", Some(name), None).await?;
    Ok(())
}

/// Ends every session of an account; returns how many there were.
pub async fn revoke_sessions(db: &Db, name: &str) -> Result<u64, UserError> {
    let found = existing(db, name).await?;
    let ended = session::end_all(db, found.id).await?;
    let detail = serde_json::json!({ "sessions": ended });
    audit::record(
        db.conn(),
        "cli",
        "user.sessions.revoke",
        Some(name),
        Some(detail),
    )
    .await?;
    Ok(ended)
}
