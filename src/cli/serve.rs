//! `hearth serve`: the web server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::App;
use crate::config::{Config, Engine};
use crate::db::schema::SchemaState;
use crate::db::{Db, migrate};
use crate::ops::metrics::Metrics;
use crate::site::{self, Build, Site, Source};
use crate::web;

/// Arguments of `hearth serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Content folder [default: the built-in demo site]
    #[arg(long, value_name = "DIR")]
    pub content: Option<PathBuf>,

    /// Apply pending migrations before serving (the default for SQLite only)
    #[arg(long, overrides_with = "no_migrate")]
    pub migrate: bool,

    /// Do not migrate on start, even on SQLite
    #[arg(long)]
    pub no_migrate: bool,

    /// Re-render the site when the content folder changes (SIGHUP always does)
    #[arg(long)]
    pub watch: bool,

    /// Show drafts and posts scheduled for later, to preview them (never in production)
    #[arg(long)]
    pub drafts: bool,
}

impl Args {
    pub(super) fn setting_flags(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut flags = Vec::new();
        if let Some(listen) = &self.listen {
            flags.push(("listen", "--listen", listen.clone()));
        }
        if let Some(content) = &self.content {
            flags.push(("content", "--content", content.display().to_string()));
        }
        if self.migrate {
            flags.push(("database.migrate_on_start", "--migrate", "true".to_owned()));
        }
        if self.no_migrate {
            flags.push((
                "database.migrate_on_start",
                "--no-migrate",
                "false".to_owned(),
            ));
        }
        flags
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    // Settings that can only fail are checked before any work.
    let backup_keys = match &config.backup.schedule {
        Some(_) => Some(crate::backup::schedule::keys(&config).context("backup.schedule")?),
        None => None,
    };
    let source = config.content.clone().map_or(Source::Builtin, Source::Dir);
    let build = Build {
        source: source.clone(),
        drafts: args.drafts,
        precompress: true,
    };
    let first = build.clone();
    let site = tokio::task::spawn_blocking(move || Site::build(&first))
        .await
        .context("rendering the content")?
        .context("the content has errors")?;
    let db = Db::connect(&config.database)
        .await
        .context("opening the database")?;
    let metrics = Metrics::new();
    if let Some(version) = prepare_schema(&config, &db).await? {
        metrics.schema_version(version);
    }

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let (pages, bytes) = site.size();
    tracing::info!(
        content.revision = %site.revision,
        duration_ms = site.took.as_millis() as u64,
        pages,
        size_bytes = bytes,
        "content rendered"
    );
    let storage = super::open_storage(&config)?;
    let app = App::new(config, db.clone(), site, metrics, build.clone(), storage);
    site::watch::on_hangup(app.clone(), build.clone());
    site::watch::publish_on_schedule(app.clone(), build.clone());
    if let Some(schedule) = app.config.build_schedule.clone() {
        site::watch::rebuild_on_schedule(app.clone(), schedule);
    }
    if let (Some(schedule), Some(keys)) = (app.config.backup.schedule.clone(), backup_keys) {
        crate::backup::schedule::start(app.clone(), schedule, keys);
    }
    let _watcher = match (&source, args.watch) {
        (Source::Dir(_), true) => Some(
            site::watch::watch(app.clone(), build.clone())
                .with_context(|| format!("watching {source}"))?,
        ),
        (Source::Builtin, true) => anyhow::bail!("--watch needs a content folder (--content DIR)"),
        (_, false) => None,
    };
    tracing::info!(addr = %addr, content.revision = %app.site().revision, "listening");

    let stopped = web::serve(listener, app, web::shutdown_signal())
        .await
        .context("serving")?;
    if stopped == web::Stopped::Drained {
        db.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Migrates first when asked to; otherwise refuses a schema this binary cannot run on.
/// A server database that is down is not a reason to refuse: `/ready` reports it, and
/// migration (when asked for) keeps trying in the background. Returns the schema
/// version when it is known.
async fn prepare_schema(config: &Config, db: &Db) -> anyhow::Result<Option<i64>> {
    if config.migrates_on_start() {
        if db.engine() == Engine::Sqlite {
            let report = migrate::migrate(db, None, Duration::from_secs(60), |_| {})
                .await
                .context("migrating the database")?;
            tracing::info!(schema.version = report.version, "database ready");
            return Ok(Some(report.version));
        }
        tokio::spawn(migrate_in_background(db.clone()));
        return Ok(None);
    }
    match tokio::time::timeout(Duration::from_secs(5), SchemaState::check(db)).await {
        Ok(Ok(state)) if state.is_runnable() => {
            tracing::info!(schema.version = state.version(), "database ready");
            Ok(Some(state.version()))
        }
        Ok(Ok(state)) => anyhow::bail!("{state}"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the database is not reachable; serving anyway, /ready says so");
            Ok(None)
        }
        Err(_) => {
            tracing::warn!("the database did not answer; serving anyway, /ready says so");
            Ok(None)
        }
    }
}

async fn migrate_in_background(db: Db) {
    let mut delay = Duration::from_millis(500);
    loop {
        match migrate::migrate(&db, None, Duration::from_secs(600), |holder| {
            tracing::info!(
                lease.holder = holder,
                "waiting for another migration runner"
            );
        })
        .await
        {
            Ok(report) => {
                tracing::info!(schema.version = report.version, "database migrated");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "migration failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
