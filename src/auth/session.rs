//! Sessions: a random secret in an `HttpOnly`, `SameSite=Lax` cookie, and its sha256 in
//! the database, so every replica knows it and a copy of the table signs nobody in. A
//! session ends when idle too long or when its lifetime is over, whichever comes first;
//! signing in always makes a new one (no fixation).

use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::db::entities::{session, user};
use crate::db::{Db, now_ms};
use crate::web::page::hex;

/// The cookie's name.
pub const COOKIE: &str = "hearth_session";

/// How often `last_seen_at` is written for a session in steady use.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Ends after this long unused.
    pub idle: Duration,
    /// Ends this long after sign-in, used or not.
    pub lifetime: Duration,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn id_of(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Starts a session for `user_id`; returns the cookie's secret.
pub async fn start(db: &Db, user_id: i64, policy: Policy) -> Result<String, DbErr> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let secret = hex(&bytes);
    let now = now_ms();
    session::ActiveModel {
        id: Set(id_of(&secret)),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now.saturating_add(millis(policy.lifetime))),
    }
    .insert(db.conn())
    .await?;
    Ok(secret)
}

/// The account a cookie's secret signs in, if its session is live; an expired one is
/// removed.
pub async fn lookup(db: &Db, secret: &str, policy: Policy) -> Result<Option<user::Model>, DbErr> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id = id_of(secret);
    let Some(found) = session::Entity::find_by_id(id.clone())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let now = now_ms();
    if now >= found.expires_at || now - found.last_seen_at >= millis(policy.idle) {
        session::Entity::delete_by_id(id).exec(db.conn()).await?;
        return Ok(None);
    }
    let user_id = found.user_id;
    if now - found.last_seen_at >= TOUCH_EVERY_MS {
        let mut row: session::ActiveModel = found.into();
        row.last_seen_at = Set(now);
        row.update(db.conn()).await?;
    }
    user::Entity::find_by_id(user_id).one(db.conn()).await
}

/// Ends the session a cookie's secret belongs to.
pub async fn end(db: &Db, secret: &str) -> Result<(), DbErr> {
    session::Entity::delete_by_id(id_of(secret))
        .exec(db.conn())
        .await
        .map(drop)
}

/// Ends every session of an account; returns how many there were.
pub async fn end_all(db: &Db, user_id: i64) -> Result<u64, DbErr> {
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db.conn())
        .await
        .map(|r| r.rows_affected)
}

/// The `Set-Cookie` value that starts a session; `secure` when the site is reached over
/// HTTPS.
pub fn cookie(secret: &str, policy: Policy, secure: bool) -> String {
    format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        policy.lifetime.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn removal(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session secret in a request's `Cookie` headers, if any.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}
