//! Applying migrations under a lease, reporting their status, and waiting for them.

use std::time::{Duration, Instant};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, SqlErr, TransactionTrait,
};

use super::audit;
use super::entities::migration;
use super::lease::{Lease, holder_id};
use super::migrations::{MIGRATIONS, Migration, SCHEMA_VERSION, ledger_table};
use super::schema::{SchemaState, applied};
use super::{Db, now_ms};

/// The lease that serialises migration runners.
pub const LOCK_NAME: &str = "schema-migration";
const LOCK_TTL: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// Another runner held the lock for longer than we would wait.
    #[error("timed out after {waited:?} waiting for the migration lock held by {holder}")]
    LockTimeout {
        /// Who held it.
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// `--to` named a version this binary does not have.
    #[error("there is no migration {0}; this hearth knows versions 1 to {SCHEMA_VERSION}")]
    UnknownTarget(i64),
    /// A migration's statements failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// Which one.
        version: i64,
        /// Its name.
        name: &'static str,
        /// What the database said.
        source: DbErr,
    },
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// The migrations applied by this run, with how long each took.
    pub applied: Vec<(&'static Migration, Duration)>,
    /// The schema version afterwards.
    pub version: i64,
    /// Applied migrations whose recorded checksum differs from this binary's.
    pub modified: Vec<i64>,
}

/// Applies pending migrations up to `target` (default: all). Two runners started
/// together are safe: one applies while the other waits on the lease, then finds
/// nothing left to do. `on_wait` is told once who holds the lock, if anyone.
pub async fn migrate(
    db: &Db,
    target: Option<i64>,
    lock_timeout: Duration,
    mut on_wait: impl FnMut(&str),
) -> Result<Report, MigrateError> {
    let target = target.unwrap_or(SCHEMA_VERSION);
    if !MIGRATIONS.iter().any(|m| m.version == target) {
        return Err(MigrateError::UnknownTarget(target));
    }
    let bootstrapped = bootstrap(db).await?;

    let holder = holder_id();
    let started = Instant::now();
    let mut told = false;
    let lease = loop {
        if let Some(lease) = Lease::try_acquire(db, LOCK_NAME, &holder, LOCK_TTL).await? {
            break lease;
        }
        let current = Lease::holder(db, LOCK_NAME)
            .await?
            .map_or_else(|| "another runner".to_owned(), |h| h.holder);
        if started.elapsed() >= lock_timeout {
            return Err(MigrateError::LockTimeout {
                holder: current,
                waited: started.elapsed(),
            });
        }
        if !told {
            on_wait(&current);
            told = true;
        }
        tokio::time::sleep(POLL).await;
    };

    let result = apply_pending(db, target, &holder).await;
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "could not release the migration lock; it expires by itself");
    }
    result.map(|mut report| {
        if let Some(took) = bootstrapped {
            report.applied.insert(0, (&MIGRATIONS[0], took));
        }
        report
    })
}

/// Creates the ledger and migration 1 (the lock's own table). Both use `IF NOT EXISTS`;
/// PostgreSQL can still fail one of two concurrent `CREATE TABLE IF NOT EXISTS`, so a
/// failure is retried a few times before it counts. Returns how long migration 1 took
/// if this call applied it.
async fn bootstrap(db: &Db) -> Result<Option<Duration>, DbErr> {
    let mut attempt = 0;
    loop {
        match try_bootstrap(db).await {
            Ok(applied) => return Ok(applied),
            Err(e) if attempt < 4 => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "retrying migration bootstrap");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn try_bootstrap(db: &Db) -> Result<Option<Duration>, DbErr> {
    let conn = db.conn();
    conn.execute(&ledger_table()).await?;
    let first = &MIGRATIONS[0];
    if applied(db)
        .await?
        .iter()
        .any(|m| m.version == first.version)
    {
        return Ok(None);
    }
    let started = Instant::now();
    for step in (first.steps)() {
        conn.execute_raw(step.build(db.backend())).await?;
    }
    match record(conn, first, started.elapsed()).await {
        Ok(()) => Ok(Some(started.elapsed())),
        // Another runner recorded it first.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn apply_pending(db: &Db, target: i64, holder: &str) -> Result<Report, MigrateError> {
    let done = applied(db).await?;
    let modified = modified(&done);
    let current = done.iter().map(|m| m.version).max().unwrap_or(0);
    let mut report = Report {
        applied: Vec::new(),
        version: current,
        modified,
    };
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        let started = Instant::now();
        let fail = |source| MigrateError::Failed {
            version: m.version,
            name: m.name,
            source,
        };
        // PostgreSQL and SQLite roll a failed migration back whole; MySQL commits each
        // DDL statement by itself, which is why migrations keep to one change each.
        let txn = db.conn().begin().await?;
        for step in (m.steps)() {
            txn.execute_raw(step.build(db.backend()))
                .await
                .map_err(fail)?;
        }
        record(&txn, m, started.elapsed()).await.map_err(fail)?;
        txn.commit().await.map_err(fail)?;
        tracing::info!(
            migration.version = m.version,
            migration.name = m.name,
            duration_ms = started.elapsed().as_millis() as u64,
            "applied migration"
        );
        report.applied.push((m, started.elapsed()));
        report.version = m.version;
    }
    if !report.applied.is_empty() && report.version >= AUDIT_LOG_VERSION {
        let versions: Vec<i64> = report.applied.iter().map(|(m, _)| m.version).collect();
        let detail =
            serde_json::json!({"from": current, "to": report.version, "applied": versions});
        audit::record(
            db.conn(),
            holder,
            "schema.migrate",
            Some("schema"),
            Some(detail),
        )
        .await?;
    }
    Ok(report)
}

/// The migration that creates `audit_log`; runs that end below it have nowhere to write.
const AUDIT_LOG_VERSION: i64 = 2;

async fn record(conn: &impl ConnectionTrait, m: &Migration, took: Duration) -> Result<(), DbErr> {
    migration::ActiveModel {
        version: Set(m.version),
        name: Set(m.name.to_owned()),
        checksum: Set(m.checksum()),
        compatible_from: Set(m.compatible_from),
        applied_at: Set(now_ms()),
        duration_ms: Set(i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn modified(done: &[migration::Model]) -> Vec<i64> {
    done.iter()
        .filter(|row| {
            MIGRATIONS
                .iter()
                .any(|m| m.version == row.version && m.checksum() != row.checksum)
        })
        .map(|row| row.version)
        .collect()
}

/// One line of `hearth migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// The migration's version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
}

/// Where one migration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Applied, as this binary has it.
    Applied {
        /// When, Unix milliseconds.
        at: i64,
    },
    /// Applied, but the recorded checksum differs from this binary's migration.
    Modified {
        /// When, Unix milliseconds.
        at: i64,
    },
    /// Known to this binary, not applied yet.
    Pending,
    /// Applied by a newer hearth; this binary does not know it.
    Unknown {
        /// When, Unix milliseconds.
        at: i64,
    },
}

/// Every migration this binary knows or the database has recorded, in order.
pub async fn status(db: &Db) -> Result<(Vec<StatusLine>, SchemaState), DbErr> {
    let done = applied(db).await?;
    let mut lines: Vec<StatusLine> = MIGRATIONS
        .iter()
        .map(|m| {
            let state = match done.iter().find(|row| row.version == m.version) {
                Some(row) if row.checksum == m.checksum() => {
                    MigrationState::Applied { at: row.applied_at }
                }
                Some(row) => MigrationState::Modified { at: row.applied_at },
                None => MigrationState::Pending,
            };
            StatusLine {
                version: m.version,
                name: m.name.to_owned(),
                state,
            }
        })
        .collect();
    for row in done
        .iter()
        .filter(|row| !MIGRATIONS.iter().any(|m| m.version == row.version))
    {
        lines.push(StatusLine {
            version: row.version,
            name: row.name.clone(),
            state: MigrationState::Unknown { at: row.applied_at },
        });
    }
    lines.sort_by_key(|l| l.version);
    Ok((lines, SchemaState::assess(&done)))
}

/// Waits until the database is at a schema this binary runs on. `on_change` hears each
/// new reason for waiting; the last one is returned if `timeout` passes first.
pub async fn wait(
    db: &Db,
    timeout: Duration,
    mut on_change: impl FnMut(&str),
) -> Result<SchemaState, String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        // Each look is bounded by itself, not by the time left, so the last reason given
        // is a real answer rather than an artefact of the deadline.
        let reason =
            match tokio::time::timeout(Duration::from_secs(5), SchemaState::check(db)).await {
                Ok(Ok(state)) if state.is_runnable() => return Ok(state),
                Ok(Ok(state)) => state.to_string(),
                Ok(Err(e)) => format!("the database is not reachable: {e}"),
                Err(_) => "the database did not answer".to_owned(),
            };
        if reason != last {
            on_change(&reason);
            last = reason;
        }
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}
