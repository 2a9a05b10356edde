//! Leases: a row per lock with a holder and an expiry. Unlike session-level advisory
//! locks they work behind PgBouncer's transaction pooling, on every engine, and a
//! crashed holder's lease simply runs out; a holder known dead (a process of this host
//! and PID namespace that no longer exists) is taken over at once.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, SqlErr,
};
use tokio::task::JoinHandle;

use super::entities::lease::{self, Column, Entity};
use super::{Db, now_ms};

/// A lease this process holds; it is renewed in the background until released.
#[derive(Debug)]
pub struct Lease {
    db: Db,
    name: String,
    holder: String,
    renewer: JoinHandle<()>,
}

/// Who holds a lease, as seen by someone waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's identity.
    pub holder: String,
    /// When it runs out, Unix milliseconds.
    pub expires_at: i64,
}

impl Lease {
    /// Takes the lease `name` for `ttl` if it is free or expired. Returns `None` when
    /// someone else holds it.
    pub async fn try_acquire(
        db: &Db,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, DbErr> {
        if !take(db.conn(), name, holder, ttl).await? && !take_from_dead(db, name, holder).await? {
            return Ok(None);
        }
        let renewer = tokio::spawn(renew_until_dropped(
            db.clone(),
            name.to_owned(),
            holder.to_owned(),
            ttl,
        ));
        Ok(Some(Lease {
            db: db.clone(),
            name: name.to_owned(),
            holder: holder.to_owned(),
            renewer,
        }))
    }

    /// Who holds `name` now, if anyone (expired leases included).
    pub async fn holder(db: &Db, name: &str) -> Result<Option<Holder>, DbErr> {
        Ok(Entity::find_by_id(name.to_owned())
            .one(db.conn())
            .await?
            .map(|row| Holder {
                holder: row.holder,
                expires_at: row.expires_at,
            }))
    }

    /// Gives the lease back so the next process need not wait for it to expire.
    pub async fn release(self) -> Result<(), DbErr> {
        self.renewer.abort();
        Entity::delete_many()
            .filter(Column::Name.eq(&self.name))
            .filter(Column::Holder.eq(&self.holder))
            .exec(self.db.conn())
            .await?;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// One attempt: extend our own or an expired lease, else insert a new row. The primary
/// key decides between two processes inserting at once.
async fn take(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let updated = Entity::update_many()
        .col_expr(Column::Holder, Expr::value(holder))
        .col_expr(Column::ExpiresAt, Expr::value(expires_at))
        .filter(Column::Name.eq(name))
        .filter(Column::ExpiresAt.lt(now).or(Column::Holder.eq(holder)))
        .exec(conn)
        .await?;
    if updated.rows_affected > 0 {
        return Ok(true);
    }
    let row = lease::ActiveModel {
        name: Set(name.to_owned()),
        holder: Set(holder.to_owned()),
        expires_at: Set(expires_at),
    };
    match row.insert(conn).await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes `name` over if its holder is a process of this host and PID namespace that has
/// died (`kill -9`, say) without releasing it.
async fn take_from_dead(db: &Db, name: &str, holder: &str) -> Result<bool, DbErr> {
    let Some(current) = Lease::holder(db, name).await? else {
        return Ok(false);
    };
    if !is_gone(&current.holder) {
        return Ok(false);
    }
    let updated = Entity::update_many()
        .col_expr(Column::Holder, Expr::value(holder))
        .filter(Column::Name.eq(name))
        .filter(Column::Holder.eq(&current.holder))
        .exec(db.conn())
        .await?;
    if updated.rows_affected > 0 {
        tracing::warn!(lease.name = %name, dead_holder = %current.holder, "took over a lease whose holder died");
    }
    Ok(updated.rows_affected > 0)
}

/// Whether `holder` (a `holder_id`) names a process of this host and PID namespace that
/// no longer runs. A reused pid looks alive, which only means waiting for the expiry.
fn is_gone(holder: &str) -> bool {
    let parts: Vec<&str> = holder.split(':').collect();
    let [host, namespace, pid, _] = parts[..] else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let (this_host, this_namespace) = here();
    host == this_host
        && namespace == this_namespace
        && namespace != "?"
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// This host's name and this process's PID namespace (`?` if unknown).
fn here() -> (String, String) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace(':', "_"))
        .unwrap_or_else(|_| "unknown-host".to_owned());
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|link| {
            let link = link.to_string_lossy().into_owned();
            link.strip_prefix("pid:[")
                .and_then(|l| l.strip_suffix(']'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned());
    (host, namespace)
}

async fn renew_until_dropped(db: Db, name: String, holder: String, ttl: Duration) {
    let mut tick = tokio::time::interval(ttl / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        match take(db.conn(), &name, &holder, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(lease.name = %name, "lease lost to another holder");
                return;
            }
            Err(e) => tracing::warn!(lease.name = %name, error = %e, "could not renew lease"),
        }
    }
}

/// An identity for this process: host, PID namespace, pid and a random part.
pub fn holder_id() -> String {
    let (host, namespace) = here();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{namespace}:{}:{}", std::process::id(), &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_process_of_this_host_and_namespace_is_gone() {
        let me = holder_id();
        assert!(!is_gone(&me), "{me}");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        let (host, namespace) = here();
        assert!(is_gone(&format!("{host}:{namespace}:{pid}:abcd1234")));
        assert!(!is_gone(&format!("elsewhere:{namespace}:{pid}:abcd1234")));
        assert!(!is_gone(&format!("{host}:1:{pid}:abcd1234")));
        assert!(!is_gone("1764000000:someone"));
        assert!(!is_gone("other-host:42:abcd"));
    }
}
