//! `hearth photos`: housekeeping for the photo store.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;

/// Arguments of `hearth photos`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `hearth photos` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Find objects no photo uses and photos whose files are gone, and remove both
    Gc {
        /// Only report what would be removed
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `hearth photos`.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let Action::Gc { dry_run } = args.action;
    let db = super::open_database(&config).await?;
    let storage = super::open_storage(&config)?;
    let garbage = crate::photos::gc(&db, &storage, dry_run)
        .await
        .context("collecting photo garbage")?;
    db.close().await;
    let verb = if dry_run { "would remove" } else { "removed" };
    for (key, size) in &garbage.orphan_objects {
        println!("{verb} object {key} ({size} bytes): no photo uses it");
    }
    for (id, title) in &garbage.broken_photos {
        println!(
            "{verb} photo {id} ({title:?}): its files are missing from {}",
            storage.describe()
        );
    }
    let bytes: u64 = garbage.orphan_objects.iter().map(|(_, s)| s).sum();
    eprintln!(
        "{} orphan object(s), {bytes} bytes; {} photo(s) without files{}",
        garbage.orphan_objects.len(),
        garbage.broken_photos.len(),
        if dry_run {
            " (dry run: nothing removed)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
