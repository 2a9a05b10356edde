//! API tokens: made by `hearth token create`, shown once, stored as a sha256 hash. A
//! token is 32 random bytes, so a fast hash is enough: there is nothing to guess.

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use sha2::{Digest, Sha256};

use crate::db::entities::api_token;
use crate::db::{Db, audit, now_ms};
use crate::web::page::hex;

/// What every token starts with, so secret scanners and people can recognise one.
pub const PREFIX: &str = "hearth_";

/// How often `last_used_at` is written for a token in steady use.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Why a token could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name breaks the naming rule.
    #[error("{0:?} is not a token name: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    /// A token with this name exists.
    #[error("a token named {0:?} exists already; revoke it first or choose another name")]
    Exists(String),
    /// No token has this name.
    #[error("no token is named {0:?}")]
    Unknown(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A token as `token list` shows it.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms, to the minute).
    pub last_used_at: Option<i64>,
}

/// Whether `name` may name a token (it becomes a git author name, so it stays plain).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Makes a token named `name` and returns its secret, which is stored nowhere.
pub async fn create(db: &Db, name: &str) -> Result<String, TokenError> {
    if !valid_name(name) {
        return Err(TokenError::BadName(name.to_owned()));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let secret = format!("{PREFIX}{}", hex(&bytes));
    let row = api_token::ActiveModel {
        name: Set(name.to_owned()),
        hash: Set(hash(&secret)),
        created_at: Set(now_ms()),
        last_used_at: Set(None),
        ..Default::default()
    };
    match row.insert(db.conn()).await {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(TokenError::Exists(name.to_owned()));
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(db.conn(), "cli", "token.create", Some(name), None).await?;
    Ok(secret)
}

/// Every token, by name.
pub async fn list(db: &Db) -> Result<Vec<TokenInfo>, DbErr> {
    Ok(api_token::Entity::find()
        .order_by_asc(api_token::Column::Name)
        .all(db.conn())
        .await?
        .into_iter()
        .map(|t| TokenInfo {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect())
}

/// Removes the token named `name`; requests carrying it are refused from now on.
pub async fn revoke(db: &Db, name: &str) -> Result<(), TokenError> {
    let removed = api_token::Entity::delete_many()
        .filter(api_token::Column::Name.eq(name))
        .exec(db.conn())
        .await?;
    if removed.rows_affected == 0 {
        return Err(TokenError::Unknown(name.to_owned()));
    }
    audit::record(db.conn(), "cli", "token.revoke", Some(name), None).await?;
    Ok(())
}

/// The name of the token whose secret this is, or `None` for an unknown or revoked one.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<String>, DbErr> {
    if !secret.starts_with(PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    // The lookup is by hash: the secret itself never reaches a comparison that could leak
    // its bytes through timing.
    let Some(token) = api_token::Entity::find()
        .filter(api_token::Column::Hash.eq(hash(secret)))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let now = now_ms();
    if token.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
        let name = token.name.clone();
        let mut row: api_token::ActiveModel = token.into();
        row.last_used_at = Set(Some(now));
        if let Err(e) = row.update(db.conn()).await {
            tracing::warn!(token = %name, error = %e, "could not record a token's use");
        }
        return Ok(Some(name));
    }
    Ok(Some(token.name))
}

fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(valid_name("laptop"));
        assert!(valid_name("phone-2.old_one"));
        assert!(!valid_name(""));
        assert!(!valid_name("has space"));
        assert!(!valid_name("ünï"));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name(&"x".repeat(65)));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
