//! The command line: one module per role.

pub mod backup;
pub mod build;
pub mod config;
pub mod migrate;
pub mod photos;
pub mod probe;
pub mod publish;
pub mod serve;
pub mod token;
pub mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Loaded;
use crate::telemetry::LONG_VERSION;

/// hearth: your personal site and the machinery around it, in one binary.
#[derive(Debug, Parser)]
#[command(name = "hearth", version = LONG_VERSION, propagate_version = true)]
pub struct Cli {
    /// Configuration file [default: ./hearth.toml when present, or $HEARTH_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Folder for the SQLite database and local objects [default: ./data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// The role to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server: the site, the API and the operational endpoints
    Serve(serve::Args),
    /// Apply database migrations, show their status, or wait for them
    Migrate(migrate::Args),
    /// Render the site without serving it; `--check` reports every problem in the content
    Build(build::Args),
    /// Publish a Markdown post to a hearth server, or queue it while offline
    Publish(publish::Args),
    /// Photo store housekeeping: `photos gc` removes orphans
    Photos(photos::Args),
    /// Create, list and revoke the API tokens that publish posts
    Token(token::Args),
    /// Add, list, change and remove the accounts that sign in
    User(user::Args),
    /// Take, list, verify, restore and prune backups; explain the retention policy
    Backup(backup::Args),
    /// Print the effective configuration, secrets redacted, with where each value came from
    Config(config::Args),
    /// GET a URL and exit 0 if it answers 200–399: a health check for images without a shell
    Probe(probe::Args),
}

impl Cli {
    /// Flag values that override configuration settings: (key, flag, value).
    pub fn setting_flags(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut flags = Vec::new();
        if let Some(data) = &self.data {
            flags.push(("data", "--data", data.display().to_string()));
        }
        match &self.command {
            Command::Serve(args) => flags.extend(args.setting_flags()),
            Command::Build(args) => flags.extend(args.setting_flags()),
            _ => {}
        }
        flags
    }

    /// Whether this role's output is logs (to stdout) rather than a report (logs to stderr).
    pub fn logs_to_stdout(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

/// Runs the chosen role.
pub async fn run(command: Command, loaded: Loaded) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args, loaded.config).await,
        Command::Migrate(args) => migrate::run(args, loaded.config).await,
        Command::Build(args) => build::run(args, loaded.config),
        Command::Config(args) => config::run(args, &loaded),
        Command::Token(args) => token::run(args, loaded.config).await,
        Command::Publish(args) => publish::run(args).await,
        Command::User(args) => user::run(args, loaded.config).await,
        Command::Photos(args) => photos::run(args, loaded.config).await,
        Command::Backup(args) => backup::run(args, loaded.config).await,
        Command::Probe(args) => probe::run(args).await,
    }
}

/// Opens the object store the configuration names (no request is made yet).
pub fn open_storage(config: &crate::config::Config) -> anyhow::Result<crate::storage::Storage> {
    use anyhow::Context;
    crate::storage::Storage::open(&config.storage.url, &config.storage.s3)
        .with_context(|| format!("opening the object store {}", config.storage.url))
}

/// Opens the database for a command that reads or writes rows. SQLite is migrated first,
/// as `serve` would (nobody else can); a server database must be at a schema this binary
/// runs on, or the command stops saying to run `hearth migrate`.
pub async fn open_database(config: &crate::config::Config) -> anyhow::Result<crate::db::Db> {
    use anyhow::Context;
    let db = crate::db::Db::connect(&config.database)
        .await
        .context("opening the database")?;
    if config.migrates_on_start() && db.engine() == crate::config::Engine::Sqlite {
        crate::db::migrate::migrate(&db, None, std::time::Duration::from_secs(60), |_| {})
            .await
            .context("migrating the database")?;
        return Ok(db);
    }
    let state = crate::db::schema::SchemaState::check(&db)
        .await
        .context("reading the database schema")?;
    if !state.is_runnable() {
        anyhow::bail!("{state}");
    }
    Ok(db)
}
