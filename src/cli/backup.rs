//! `hearth backup`: take, list, verify, restore and prune backups, and explain the
//! retention policy.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::backup::archive::{self, BackupError};
use crate::backup::crypt::{self, Keys};
use crate::backup::retention::{self, Policy};
use crate::config::types::parse_duration;
use crate::config::{Config, DatabaseConfig, DatabaseUrl, MigrateOnStart};
use crate::db::Db;
use crate::db::lease::{Lease, holder_id};

/// Arguments of `hearth backup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `hearth backup` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Take a backup of the database and the content folder; prints its id last
    Run {
        /// Then verify it as `backup verify` does (encrypted: needs backup.age_identity)
        #[arg(long)]
        verify: bool,
        /// Then delete what the retention policy drops, as `backup prune` does
        #[arg(long)]
        prune: bool,
    },
    /// List backups: id, time, size, and the rule that keeps each (or `drop`)
    List,
    /// Download a backup, check every checksum, restore it into a scratch SQLite
    /// database and compare the row counts with its manifest
    Verify {
        /// The backup's id
        id: String,
        /// The age identity file that opens an encrypted backup [default: backup.age_identity]
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Restore a backup into a database (and a content folder)
    Restore {
        /// The backup's id
        id: String,
        /// The database to restore into: sqlite://, postgres:// or mysql://
        #[arg(long, value_name = "DATABASE_URL")]
        to: String,
        /// Also restore the content folder into DIR
        #[arg(long, value_name = "DIR")]
        content: Option<PathBuf>,
        /// Replace what the target holds instead of refusing a non-empty one
        #[arg(long)]
        force: bool,
        /// The age identity file that opens an encrypted backup [default: backup.age_identity]
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Make an age identity for encrypted backups: writes the identity file (keep it
    /// safe, away from the backups) and prints its recipient for backup.age_recipients
    Keygen {
        /// Where to write the identity (refuses an existing file) [default: standard output]
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Delete the backups the retention policy drops
    Prune {
        /// Only print what would be deleted
        #[arg(long)]
        dry_run: bool,
    },
    /// Read RFC 3339 timestamps on standard input, one per line, and print `keep <ts> <rule>`
    /// or `drop <ts>` for each, as the retention policy judges them at --now
    Retention {
        /// The moment ages are measured from (RFC 3339) [default: now]
        #[arg(long, value_name = "RFC3339", value_parser = timestamp)]
        now: Option<DateTime<Utc>>,
        /// Keep every backup younger than this [default: backup.keep_all_for]
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        keep_all_for: Option<chrono::Duration>,
        /// Keep the first backup of each day younger than this [default: backup.keep_daily_for]
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        keep_daily_for: Option<chrono::Duration>,
    },
}

fn timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{raw:?} is not an RFC 3339 timestamp (like 2026-11-22T15:00:00Z)"))
}

fn duration(raw: &str) -> Result<chrono::Duration, String> {
    parse_duration(raw)
        .map_err(|what| format!("{raw:?} is not {what}"))
        .and_then(|d| chrono::Duration::from_std(d).map_err(|e| e.to_string()))
}

/// Progress: a bar on a terminal; otherwise a line each time the step's name changes
/// (the content folder's files are one line, not one each).
fn progress(verb: &'static str) -> impl FnMut(&str, usize, usize) {
    let terminal = std::io::stderr().is_terminal();
    let mut last = String::new();
    move |what: &str, done: usize, total: usize| {
        if terminal {
            crate::site::export::bar(verb, done, total);
        } else if done < total && what != last {
            eprintln!("{verb} {what} ({}/{total})", done + 1);
            last = what.to_owned();
        }
    }
}

/// Runs `hearth backup`.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let result = match args.action {
        Action::Retention {
            now,
            keep_all_for,
            keep_daily_for,
        } => return retention_command(&config, now, keep_all_for, keep_daily_for),
        Action::Run { verify, prune } => take(&config, verify, prune).await,
        Action::List => list(&config).await,
        Action::Verify { id, identity } => verify(&config, &id, identity).await,
        Action::Restore {
            id,
            to,
            content,
            force,
            identity,
        } => restore(&config, &id, &to, content, force, identity).await,
        Action::Keygen { output } => keygen(output),
        Action::Prune { dry_run } => prune(&config, dry_run).await,
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => match e.downcast_ref::<BackupError>() {
            Some(
                BackupError::Corrupt { .. } | BackupError::NotEmpty(_) | BackupError::Unknown(_),
            ) => {
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
            _ => Err(e),
        },
    }
}

async fn take(config: &Config, then_verify: bool, then_prune: bool) -> anyhow::Result<ExitCode> {
    let db = super::open_database(config).await?;
    let store = super::open_storage(config)?;
    let Some(lease) =
        Lease::try_acquire(&db, "backup", &holder_id(), Duration::from_secs(600)).await?
    else {
        let holder = Lease::holder(&db, "backup")
            .await?
            .map(|h| h.holder)
            .unwrap_or_default();
        anyhow::bail!("another backup is running ({holder}); try again when it ends");
    };
    let (_, interrupted) = archive::list(&store).await?;
    if !interrupted.is_empty() {
        let removed = archive::clean_up(&store, &interrupted).await?;
        eprintln!(
            "removed {removed} object(s) left by {} interrupted backup(s)",
            interrupted.len()
        );
    }
    let started = std::time::Instant::now();
    let mut report = progress("backing up");
    let keys = Keys::new(
        &config.backup.recipients,
        config.backup.identity.as_deref().filter(|_| then_verify),
    )?;
    if then_verify && keys.seals() && !keys.opens() {
        anyhow::bail!(
            "--verify needs backup.age_identity: the backup is encrypted to backup.age_recipients"
        );
    }
    let manifest = archive::run(&db, &store, config.content.as_deref(), &keys, &mut report).await;
    let _ = lease.release().await;
    db.close().await;
    let manifest = manifest?;
    let rows: u64 = manifest.tables.values().sum();
    eprintln!(
        "backup of {rows} rows in {} tables{}: {} bytes in {} parts, {:.1} s, in {}",
        manifest.tables.len(),
        if config.content.is_some() {
            " and the content folder"
        } else {
            ""
        },
        manifest.size(),
        manifest.parts.len(),
        started.elapsed().as_secs_f64(),
        store.describe()
    );
    if keys.seals() {
        eprintln!(
            "encrypted with age to {} recipient(s)",
            config.backup.recipients.len()
        );
    }
    if then_verify {
        let mut report = progress("verifying");
        archive::verify(&store, &manifest.id, &keys, &mut report).await?;
        archive::mark_verified(&store, &manifest).await?;
        eprintln!("verified: every checksum matches and it restores");
    }
    if then_prune && prune(config, false).await? != ExitCode::SUCCESS {
        println!("{}", manifest.id);
        return Ok(ExitCode::FAILURE);
    }
    println!("{}", manifest.id);
    Ok(ExitCode::SUCCESS)
}

fn policy(config: &Config) -> Policy {
    Policy {
        keep_all: config.backup.keep_all,
        keep_daily: config.backup.keep_daily,
    }
}

async fn list(config: &Config) -> anyhow::Result<ExitCode> {
    let store = super::open_storage(config)?;
    let (manifests, _) = archive::list(&store).await?;
    let times: Vec<_> = manifests.iter().map(|m| m.created_at).collect();
    let verdicts = retention::judge(&times, Utc::now(), policy(config));
    for (m, verdict) in manifests.iter().zip(verdicts) {
        let verified = if archive::is_verified(&store, m).await? {
            " verified"
        } else {
            ""
        };
        let encrypted = if m.encryption.is_some() {
            " encrypted"
        } else {
            ""
        };
        println!(
            "{}  {}  {:>12}  {}{verified}{encrypted}",
            m.id,
            m.when(),
            m.size(),
            verdict.map_or("drop", |r| r.as_str())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The keys that open backups: `--identity`, else `backup.age_identity`.
fn opening_keys(config: &Config, identity: Option<PathBuf>) -> Result<Keys, BackupError> {
    Keys::new(
        &[],
        identity
            .or_else(|| config.backup.identity.clone())
            .as_deref(),
    )
}

async fn verify(config: &Config, id: &str, identity: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let store = super::open_storage(config)?;
    let keys = opening_keys(config, identity)?;
    let mut report = progress("verifying");
    let verified = archive::verify(&store, id, &keys, &mut report).await?;
    let manifest = archive::manifest(&store, id).await?;
    archive::mark_verified(&store, &manifest).await?;
    for (table, rows) in &verified.tables {
        println!("{table}: {rows} rows, as the manifest says");
    }
    if let Some(files) = verified.content_files {
        println!("content: {files} entries unpack");
    }
    println!("backup {id} is good: every checksum matches and it restores");
    Ok(ExitCode::SUCCESS)
}

async fn restore(
    config: &Config,
    id: &str,
    to: &str,
    content: Option<PathBuf>,
    force: bool,
    identity: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let url =
        DatabaseUrl::parse(to).map_err(|what| anyhow::anyhow!("--to {to:?} is not {what}"))?;
    let store = super::open_storage(config)?;
    let keys = opening_keys(config, identity)?;
    let manifest = archive::manifest(&store, id).await?;
    let target = DatabaseConfig {
        url,
        max_connections: 2,
        timeout: Duration::from_secs(30),
        migrate_on_start: MigrateOnStart::Never,
    };
    let db = Db::connect(&target)
        .await
        .context("opening the target database")?;
    let mut report = progress("restoring");
    let restored =
        archive::restore_database(&store, &manifest, &db, &keys, force, &mut report).await;
    db.close().await;
    let restored = restored?;
    let rows: u64 = restored.values().sum();
    println!(
        "restored {rows} rows in {} tables into {}",
        restored.len(),
        target.url.redacted()
    );
    if let Some(dir) = content {
        let files = archive::restore_content(&store, &manifest, &dir, &keys, force).await?;
        println!("restored {files} entries into {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (file, recipient) = crypt::generate();
    match output {
        Some(path) => {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            out.write_all(file.as_bytes())?;
            out.sync_all()?;
            eprintln!("wrote the identity to {} (mode 600)", path.display());
        }
        None => print!("{file}"),
    }
    eprintln!("public key: {recipient}");
    Ok(ExitCode::SUCCESS)
}

async fn prune(config: &Config, dry_run: bool) -> anyhow::Result<ExitCode> {
    let store = super::open_storage(config)?;
    let (manifests, _) = archive::list(&store).await?;
    let times: Vec<_> = manifests.iter().map(|m| m.created_at).collect();
    let verdicts = retention::judge(&times, Utc::now(), policy(config));
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for (m, verdict) in manifests.iter().zip(verdicts) {
        match verdict {
            Some(_) => kept.push(m),
            None => dropped.push(m),
        }
    }
    if dropped.is_empty() {
        eprintln!("nothing to prune: every backup is kept");
        return Ok(ExitCode::SUCCESS);
    }
    let mut any_verified = false;
    for m in &kept {
        any_verified |= archive::is_verified(&store, m).await?;
    }
    if !any_verified {
        eprintln!(
            "error: not pruning: none of the {} backups that would remain has been verified; run `hearth backup verify ID` first",
            kept.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    for m in dropped {
        if dry_run {
            println!(
                "would delete {} ({}): the retention policy drops it",
                m.id,
                m.when()
            );
        } else {
            archive::delete(&store, m).await?;
            tracing::info!(id = m.id, created_at = %m.when(), "deleted a backup: the retention policy drops it");
            println!(
                "deleted {} ({}): the retention policy drops it",
                m.id,
                m.when()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn retention_command(
    config: &Config,
    now: Option<DateTime<Utc>>,
    keep_all_for: Option<chrono::Duration>,
    keep_daily_for: Option<chrono::Duration>,
) -> anyhow::Result<ExitCode> {
    let policy = Policy {
        keep_all: keep_all_for.unwrap_or(config.backup.keep_all),
        keep_daily: keep_daily_for.unwrap_or(config.backup.keep_daily),
    };
    if policy.keep_all > policy.keep_daily {
        eprintln!("error: --keep-all-for must not be longer than --keep-daily-for");
        return Ok(ExitCode::from(2));
    }
    let now = now.unwrap_or_else(Utc::now);
    let mut lines = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match timestamp(text) {
            Ok(t) => lines.push((text.to_owned(), t)),
            Err(e) => {
                eprintln!("error: line {}: {e}", n + 1);
                return Ok(ExitCode::from(2));
            }
        }
    }
    let times: Vec<DateTime<Utc>> = lines.iter().map(|(_, t)| *t).collect();
    let verdicts = retention::judge(&times, now, policy);
    let mut out = std::io::stdout().lock();
    for ((text, _), verdict) in lines.iter().zip(verdicts) {
        use std::io::Write;
        match verdict {
            Some(rule) => writeln!(out, "keep {text} {rule}")?,
            None => writeln!(out, "drop {text}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
