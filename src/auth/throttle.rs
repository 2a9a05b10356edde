//! Slowing down password guessing: failures are counted per account and per client
//! address in the database (so every replica counts the same), and after a few, further
//! attempts are refused for a time that doubles with each failure. The answer is the
//! same whether or not the account exists.

use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter};

use crate::db::entities::login_throttle;
use crate::db::{Db, now_ms};

/// Failures allowed per account before attempts are delayed.
const FREE_PER_ACCOUNT: i32 = 5;
/// Failures allowed per client address (several people may share one).
const FREE_PER_ADDRESS: i32 = 20;
/// The first delay, doubled with every further failure.
const FIRST_DELAY: Duration = Duration::from_secs(30);
/// The longest delay.
const LONGEST_DELAY: Duration = Duration::from_secs(3600);

/// The keys an attempt is counted under.
pub fn keys(name: &str, addr: std::net::IpAddr) -> [String; 2] {
    [
        format!("user:{}", name.to_lowercase()),
        format!("addr:{addr}"),
    ]
}

fn free(key: &str) -> i32 {
    if key.starts_with("user:") {
        FREE_PER_ACCOUNT
    } else {
        FREE_PER_ADDRESS
    }
}

/// How long after `failures` failures under `key` the next attempt must wait.
pub fn delay(key: &str, failures: i32) -> Duration {
    let over = failures - free(key);
    if over < 0 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(over).unwrap_or(u32::MAX).min(16);
    FIRST_DELAY
        .saturating_mul(1 << doublings)
        .min(LONGEST_DELAY)
}

/// How long until an attempt under any of `keys` may be checked; `None` if now.
pub async fn blocked(db: &Db, keys: &[String]) -> Result<Option<Duration>, DbErr> {
    let now = now_ms();
    let rows = login_throttle::Entity::find()
        .filter(login_throttle::Column::Subject.is_in(keys.iter().cloned()))
        .all(db.conn())
        .await?;
    let until = rows.iter().map(|r| r.blocked_until).max().unwrap_or(0);
    Ok((until > now).then(|| Duration::from_millis(u64::try_from(until - now).unwrap_or(0))))
}

/// Counts a failure under each key.
pub async fn failed(db: &Db, keys: &[String]) -> Result<(), DbErr> {
    let now = now_ms();
    for key in keys {
        let existing = login_throttle::Entity::find_by_id(key.clone())
            .one(db.conn())
            .await?;
        let failures = existing
            .as_ref()
            .map_or(0, |r| r.failures)
            .saturating_add(1);
        let until =
            now.saturating_add(i64::try_from(delay(key, failures).as_millis()).unwrap_or(0));
        match existing {
            Some(row) => {
                let mut row: login_throttle::ActiveModel = row.into();
                row.failures = Set(failures);
                row.blocked_until = Set(until);
                row.updated_at = Set(now);
                row.update(db.conn()).await?;
            }
            None => {
                let row = login_throttle::ActiveModel {
                    subject: Set(key.clone()),
                    failures: Set(failures),
                    blocked_until: Set(until),
                    updated_at: Set(now),
                };
                // Two replicas may count the first failure at once; one row is enough.
                if let Err(e) = row.insert(db.conn()).await
                    && !matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    )
                {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Forgets the failures of an account that signed in.
pub async fn succeeded(db: &Db, keys: &[String]) -> Result<(), DbErr> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Subject.is_in(keys.iter().cloned()))
        .exec(db.conn())
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_double() {
        assert_eq!(delay("user:pat", 4), Duration::ZERO);
        assert_eq!(delay("user:pat", 5), FIRST_DELAY);
        assert_eq!(delay("user:pat", 6), FIRST_DELAY * 2);
        assert_eq!(delay("user:pat", 7), FIRST_DELAY * 4);
        assert_eq!(delay("user:pat", 60), LONGEST_DELAY);
        assert_eq!(delay("addr:10.0.0.1", 19), Duration::ZERO);
        assert_eq!(delay("addr:10.0.0.1", 20), FIRST_DELAY);
    }
}
