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

/// Like [`record`], for actions that are already done: a failure to record is logged,
/// not returned, so the caller's answer does not depend on the audit log.
pub async fn note(
    conn: &impl ConnectionTrait,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<serde_json::Value>,
) {
    if let Err(e) = record(conn, actor, action, target, detail).await {
        tracing::warn!(error = %e, action, "could not write the audit log");
    }
}
