//! `hearth token`: the bearer tokens that let a laptop, a phone or a script publish.

use std::process::ExitCode;

use chrono::{TimeZone, Utc};

use crate::auth::token::{self, TokenError};
use crate::config::Config;

/// Arguments of `hearth token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `hearth token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Make a token and print it once; only its hash is kept
    Create {
        /// Its name (the device or script that will use it); also the author of its posts
        #[arg(long)]
        name: String,
    },
    /// List tokens: name, when made, when last used
    List,
    /// Revoke a token: requests carrying it are refused from now on
    Revoke {
        /// The token's name
        name: String,
    },
}

/// Runs `hearth token`.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let db = super::open_database(&config).await?;
    let result = match args.action {
        Action::Create { name } => token::create(&db, &name).await.map(|secret| {
            eprintln!("token {name:?} created; it is shown only this once:");
            println!("{secret}");
        }),
        Action::List => match token::list(&db).await {
            Ok(tokens) => {
                println!("{:<24} {:<20} LAST USED", "NAME", "CREATED");
                for t in tokens {
                    println!(
                        "{:<24} {:<20} {}",
                        t.name,
                        when(t.created_at),
                        t.last_used_at.map_or_else(|| "never".to_owned(), when)
                    );
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        Action::Revoke { name } => token::revoke(&db, &name).await.map(|()| {
            println!("token {name:?} revoked");
        }),
    };
    db.close().await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(TokenError::Db(e)) => Err(anyhow::Error::new(e).context("the database failed")),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn when(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}
