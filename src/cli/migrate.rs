//! `hearth migrate`: apply migrations, show their status, or wait for them.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{TimeZone, Utc};

use crate::config::Config;
use crate::config::types::parse_duration;
use crate::db::Db;
use crate::db::migrate::{self, MigrationState};
use crate::db::migrations::SCHEMA_VERSION;

/// Arguments of `hearth migrate`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// What to do instead of applying migrations.
    #[command(subcommand)]
    pub action: Option<Action>,

    /// Apply migrations up to this version only [default: all]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<i64>,

    /// How long to wait for another runner's lock
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration)]
    pub lock_timeout: Duration,
}

/// `hearth migrate` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List applied and pending migrations; flag any edited since it was applied
    Status,
    /// Exit 0 as soon as the database is at a schema this binary runs on (an init container)
    Wait {
        /// Give up after this long, exiting 1
        #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = duration)]
        timeout: Duration,
    },
}

fn duration(raw: &str) -> Result<Duration, String> {
    parse_duration(raw).map_err(|what| format!("{raw:?} is not {what}"))
}

/// Runs `hearth migrate`.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&config.database)
        .await
        .context("opening the database")?;
    let code = match args.action {
        None => apply(&db, args.to, args.lock_timeout).await?,
        Some(Action::Status) => status(&db).await?,
        Some(Action::Wait { timeout }) => wait(&db, timeout).await,
    };
    db.close().await;
    Ok(code)
}

async fn apply(db: &Db, to: Option<i64>, lock_timeout: Duration) -> anyhow::Result<ExitCode> {
    let report = migrate::migrate(db, to, lock_timeout, |holder| {
        eprintln!("waiting for the migration lock held by {holder}");
    })
    .await?;
    for version in &report.modified {
        eprintln!(
            "warning: migration {version} was changed after it was applied (checksum differs); see `hearth migrate status`"
        );
    }
    for (m, took) in &report.applied {
        println!(
            "applied {:>4} {} ({} ms)",
            m.version,
            m.name,
            took.as_millis()
        );
    }
    if report.applied.is_empty() {
        println!("nothing to apply: schema is at version {}", report.version);
    } else {
        println!("schema is at version {}", report.version);
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(db: &Db) -> anyhow::Result<ExitCode> {
    let (lines, state) = migrate::status(db).await?;
    let when = |ms: i64| {
        Utc.timestamp_millis_opt(ms).single().map_or_else(
            || ms.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    println!(
        "{:>7}  {:<28} {:<10} APPLIED AT",
        "VERSION", "NAME", "STATE"
    );
    for line in &lines {
        let (state, at, note) = match line.state {
            MigrationState::Applied { at } => ("applied", when(at), ""),
            MigrationState::Modified { at } => (
                "MODIFIED",
                when(at),
                "  <- checksum differs from this binary's migration",
            ),
            MigrationState::Pending => ("pending", String::new(), ""),
            MigrationState::Unknown { at } => {
                ("unknown", when(at), "  <- applied by a newer hearth")
            }
        };
        println!(
            "{:>7}  {:<28} {:<10} {at}{note}",
            line.version, line.name, state
        );
    }
    println!("\n{state}; this hearth is written for version {SCHEMA_VERSION}");
    Ok(ExitCode::SUCCESS)
}

async fn wait(db: &Db, timeout: Duration) -> ExitCode {
    let result = migrate::wait(db, timeout, |reason| eprintln!("waiting: {reason}")).await;
    match result {
        Ok(state) => {
            println!("ready: {state}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!(
                "error: timed out after {}: {reason}",
                crate::config::types::format_duration(timeout)
            );
            ExitCode::FAILURE
        }
    }
}
