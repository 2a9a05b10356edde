//! Backups on `backup.schedule` inside `serve`. At each scheduled time every replica
//! wakes, and a lease in the database (`backup-slot`, held for half the interval) lets
//! exactly one of them take that slot; the run itself holds the `backup` lease, which
//! `hearth backup run` (a Kubernetes CronJob, say) takes too, so the two never overlap.
//! Each backup is verified and then the retention policy prunes. Metrics and `/health`
//! report how it goes.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use metrics::{counter, describe_counter, describe_gauge, gauge};

use super::archive;
use super::crypt::Keys;
use super::retention::{self, Policy};
use crate::App;
use crate::db::lease::{Lease, holder_id};
use crate::schedule::Schedule;

/// What `/health` and the metrics know of scheduled backups.
#[derive(Debug, Default)]
pub struct Status {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The newest complete backup known (taken here, or seen in the store).
    last_success: Option<DateTime<Utc>>,
    /// The schedule's interval, when backups are scheduled.
    interval: Option<chrono::Duration>,
    /// Why the last attempt here failed, until one succeeds.
    last_error: Option<String>,
}

impl Status {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `None` when all is well (or backups are not scheduled); otherwise why not.
    pub fn problem(&self, now: DateTime<Utc>) -> Option<String> {
        let inner = self.inner();
        let interval = inner.interval?;
        if let Some(error) = &inner.last_error {
            return Some(format!("the last scheduled backup failed: {error}"));
        }
        match inner.last_success {
            Some(at) if now - at > interval * 2 => Some(format!(
                "the newest backup is from {at}, more than twice the schedule's interval ago"
            )),
            None => None,
            Some(_) => None,
        }
    }

    /// The newest complete backup known.
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        self.inner().last_success
    }
}

/// Describes the backup metrics in `app`'s registry.
pub fn describe(app: &App) {
    app.metrics.record(|| {
        describe_gauge!(
            "hearth_backup_last_success_timestamp_seconds",
            "When the newest complete backup was taken (Unix seconds)."
        );
        describe_gauge!(
            "hearth_backup_last_attempt_timestamp_seconds",
            "When this process last started a scheduled backup (Unix seconds)."
        );
        describe_gauge!(
            "hearth_backup_duration_seconds",
            "How long the last backup taken here took."
        );
        describe_gauge!(
            "hearth_backup_size_bytes",
            "The stored size of the last backup taken here."
        );
        describe_counter!(
            "hearth_backup_failures_total",
            "Scheduled backups that failed in this process."
        );
        counter!("hearth_backup_failures_total").absolute(0);
    });
}

/// The keys scheduled backups use; refused when backups would be sealed to recipients
/// without the identity that verifies them.
pub fn keys(config: &crate::config::Config) -> Result<Keys, archive::BackupError> {
    let keys = Keys::new(&config.backup.recipients, config.backup.identity.as_deref())?;
    if keys.seals() && !keys.opens() {
        return Err(archive::BackupError::Other(
            "backup.age_recipients is set but backup.age_identity is not: serve verifies every backup it takes, which needs the identity (or set backup.schedule = \"off\" and run `hearth backup run` instead)".to_owned(),
        ));
    }
    Ok(keys)
}

/// Starts the scheduler.
pub fn start(app: App, schedule: Schedule, keys: Keys) {
    describe(&app);
    let now = Utc::now();
    let interval = schedule
        .next_after(now)
        .and_then(|a| schedule.next_after(a).map(|b| b - a))
        .unwrap_or_else(|| chrono::Duration::hours(1));
    app.backups.inner().interval = Some(interval);
    let holder = holder_id();
    tokio::spawn(async move {
        refresh(&app).await;
        loop {
            let now = Utc::now();
            let Some(slot) = schedule.next_after(now) else {
                tracing::warn!(
                    schedule = schedule.as_str(),
                    "backup.schedule names no future time; scheduled backups stop"
                );
                return;
            };
            tokio::time::sleep((slot - now).to_std().unwrap_or_default()).await;
            let slot_ttl = (interval / 2)
                .to_std()
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_millis(500));
            let slot_holder = format!("{}:{holder}", slot.timestamp());
            match Lease::try_acquire(&app.db, "backup-slot", &slot_holder, slot_ttl).await {
                // Dropped, not released: it stays taken until its time runs out.
                Ok(Some(lease)) => drop(lease),
                Ok(None) => {
                    tracing::debug!(%slot, "another replica takes this backup");
                    refresh(&app).await;
                    continue;
                }
                Err(e) => {
                    failed(&app, format!("the database cannot be reached: {e}"));
                    continue;
                }
            }
            once(&app, &holder, &keys).await;
        }
    });
}

/// Learns the newest complete backup from the store.
async fn refresh(app: &App) {
    match archive::list(&app.storage).await {
        Ok((manifests, _)) => {
            if let Some(newest) = manifests.last() {
                let at = newest.created_at;
                let mut inner = app.backups.inner();
                if inner.last_success.is_none_or(|t| t < at) {
                    inner.last_success = Some(at);
                }
                drop(inner);
                app.metrics.record(|| {
                    gauge!("hearth_backup_last_success_timestamp_seconds")
                        .set(at.timestamp() as f64);
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list backups"),
    }
}

fn failed(app: &App, why: String) {
    tracing::error!(error = %why, "scheduled backup failed");
    app.metrics
        .record(|| counter!("hearth_backup_failures_total").increment(1));
    app.backups.inner().last_error = Some(why);
}

/// One scheduled run: back up, verify, prune.
async fn once(app: &App, holder: &str, keys: &Keys) {
    let started = Instant::now();
    app.metrics.record(|| {
        gauge!("hearth_backup_last_attempt_timestamp_seconds").set(Utc::now().timestamp() as f64);
    });
    let lease = match Lease::try_acquire(&app.db, "backup", holder, Duration::from_secs(600)).await
    {
        Ok(Some(lease)) => lease,
        Ok(None) => {
            tracing::info!(
                "a backup is already running elsewhere (a CronJob?); this slot is skipped"
            );
            return;
        }
        Err(e) => return failed(app, format!("the database cannot be reached: {e}")),
    };
    let result = async {
        let (_, interrupted) = archive::list(&app.storage).await?;
        archive::clean_up(&app.storage, &interrupted).await?;
        let content = match &app.build.source {
            crate::site::Source::Dir(dir) => Some(dir.clone()),
            crate::site::Source::Builtin => None,
        };
        let manifest = archive::run(
            &app.db,
            &app.storage,
            content.as_deref(),
            keys,
            &mut |_, _, _| {},
        )
        .await?;
        archive::verify(&app.storage, &manifest.id, keys, &mut |_, _, _| {}).await?;
        archive::mark_verified(&app.storage, &manifest).await?;
        Ok::<_, archive::BackupError>(manifest)
    }
    .await;
    let _ = lease.release().await;
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(e) => return failed(app, e.to_string()),
    };
    let took = started.elapsed();
    {
        let mut inner = app.backups.inner();
        inner.last_success = Some(manifest.created_at);
        inner.last_error = None;
    }
    app.metrics.record(|| {
        gauge!("hearth_backup_last_success_timestamp_seconds")
            .set(manifest.created_at.timestamp() as f64);
        gauge!("hearth_backup_duration_seconds").set(took.as_secs_f64());
        gauge!("hearth_backup_size_bytes").set(manifest.size() as f64);
    });
    tracing::info!(
        backup.id = manifest.id,
        duration_ms = took.as_millis() as u64,
        size_bytes = manifest.size(),
        "scheduled backup taken and verified"
    );
    prune(app).await;
}

/// Deletes what the policy drops (the backup just verified stays, so one verified
/// backup always remains).
async fn prune(app: &App) {
    let policy = Policy {
        keep_all: app.config.backup.keep_all,
        keep_daily: app.config.backup.keep_daily,
    };
    let manifests = match archive::list(&app.storage).await {
        Ok((manifests, _)) => manifests,
        Err(e) => return tracing::warn!(error = %e, "cannot list backups to prune"),
    };
    let times: Vec<_> = manifests.iter().map(|m| m.created_at).collect();
    for (m, verdict) in manifests
        .iter()
        .zip(retention::judge(&times, Utc::now(), policy))
    {
        if verdict.is_none() {
            match archive::delete(&app.storage, m).await {
                Ok(()) => {
                    tracing::info!(backup.id = m.id, created_at = %m.when(), "deleted a backup: the retention policy drops it")
                }
                Err(e) => {
                    tracing::warn!(backup.id = m.id, error = %e, "could not delete a backup the policy drops")
                }
            }
        }
    }
}
