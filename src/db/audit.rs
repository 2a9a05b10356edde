//! Writing to `audit_log`.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use super::entities::audit_log;

/// Records that `actor` did `action` to `target`.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<serde_json::Value>,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        // Microseconds: what PostgreSQL keeps, so a backup restores the same time anywhere.
        at: Set(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(str::to_owned)),
        detail: Set(detail.map(|d| d.to_string())),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}
