//! Health checks: each bounded in time, so a hung dependency makes a slow `fail`, never
//! a hung probe.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::App;
use crate::db::schema::SchemaState;
use crate::telemetry::VERSION;

/// The longest a single check may take.
pub const CHECK_BOUND: Duration = Duration::from_secs(1);

/// How a check (or the whole) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working.
    Ok,
    /// Working, with something to look at.
    Degraded,
    /// Not working.
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Its status.
    pub status: Status,
    /// How long it took.
    pub latency_ms: u64,
    /// What it found, for a person.
    pub detail: String,
    /// The content revision being served (the `content` check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Why newer content is not being served (the `content` check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The body of `GET /health`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The worst status among the checks.
    pub status: Status,
    /// This hearth's version.
    pub version: &'static str,
    /// Each check by name.
    pub checks: BTreeMap<&'static str, Check>,
}

/// Runs every check at once.
pub async fn report(app: &App) -> Report {
    let (database, storage) = tokio::join!(database(app), storage(app));
    let content = content(app);
    let mut checks = BTreeMap::from([
        ("database", database),
        ("content", content),
        ("storage", storage),
    ]);
    if app.config.backup.schedule.is_some() {
        checks.insert("backups", backups(app));
    }
    let status = checks
        .values()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Ok);
    Report {
        status,
        version: VERSION,
        checks,
    }
}

/// Whether the database answers, and at a schema this binary runs on.
pub async fn schema(app: &App) -> Result<SchemaState, String> {
    match tokio::time::timeout(CHECK_BOUND, SchemaState::check(&app.db)).await {
        Ok(Ok(state)) => {
            app.metrics.schema_version(state.version());
            Ok(state)
        }
        Ok(Err(e)) => Err(format!("{} unreachable: {e}", app.db.engine().name())),
        Err(_) => Err(format!(
            "{} did not answer within {} ms",
            app.db.engine().name(),
            CHECK_BOUND.as_millis()
        )),
    }
}

async fn database(app: &App) -> Check {
    let started = Instant::now();
    let (status, detail) = match schema(app).await {
        Ok(state) if state.is_runnable() => {
            (Status::Ok, format!("{}, {state}", app.db.engine().name()))
        }
        Ok(state) => (Status::Fail, format!("{}, {state}", app.db.engine().name())),
        Err(reason) => (Status::Fail, reason),
    };
    Check {
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        detail,
        revision: None,
        error: None,
    }
}

/// Whether the object store answers. Pages are served without it, so it degrades.
async fn storage(app: &App) -> Check {
    let started = Instant::now();
    let (status, detail) = match tokio::time::timeout(CHECK_BOUND, app.storage.check()).await {
        Ok(Ok(())) => (Status::Ok, app.storage.describe()),
        Ok(Err(e)) => (Status::Degraded, e.to_string()),
        Err(_) => (
            Status::Degraded,
            format!(
                "{} did not answer within {} ms",
                app.storage.describe(),
                CHECK_BOUND.as_millis()
            ),
        ),
    };
    Check {
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        detail,
        revision: None,
        error: None,
    }
}

/// Whether scheduled backups keep up: degraded when the newest is older than twice the
/// schedule's interval, or the last attempt here failed.
fn backups(app: &App) -> Check {
    let problem = app.backups.problem(chrono::Utc::now());
    let detail = match (&problem, app.backups.last_success()) {
        (Some(p), _) => p.clone(),
        (None, Some(at)) => format!("the newest backup is from {}", at.to_rfc3339()),
        (None, None) => "no backup yet; the first is taken at the next scheduled time".to_owned(),
    };
    Check {
        status: if problem.is_some() {
            Status::Degraded
        } else {
            Status::Ok
        },
        latency_ms: 0,
        detail,
        revision: None,
        error: None,
    }
}

fn content(app: &App) -> Check {
    let site = app.site();
    let problems = app.site_problems();
    let sync = app.webhook.problem();
    let detail = match (&problems, &sync) {
        (None, None) => format!("loaded from {}, revision {}", site.source, site.revision),
        (Some(_), _) => format!(
            "serving revision {} from {}; the newest content has errors",
            site.revision, site.source
        ),
        (None, Some(_)) => format!(
            "serving revision {} from {}; it could not follow its remote",
            site.revision, site.source
        ),
    };
    let error = match (problems, sync) {
        (None, None) => None,
        (Some(p), None) => Some(p.to_string()),
        (None, Some(s)) => Some(s),
        (Some(p), Some(s)) => Some(format!("{p}\n{s}")),
    };
    Check {
        status: if error.is_some() {
            Status::Degraded
        } else {
            Status::Ok
        },
        latency_ms: 0,
        detail,
        revision: Some(site.revision.clone()),
        error,
    }
}
