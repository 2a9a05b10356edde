//! `hearth user`: the accounts that sign in to the site.

use std::io::BufRead;
use std::process::ExitCode;

use chrono::{TimeZone, Utc};

use crate::auth::Role;
use crate::auth::user::{self, UserError};
use crate::config::Config;

/// Arguments of `hearth user`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `hearth user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Make an account (an editor, or an admin with --admin)
    Add {
        /// Its name
        name: String,
        /// Make it an admin (accounts and everything else), not an editor
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List accounts: name, role, when made, open sessions
    List,
    /// Set an account's password; its sessions end
    Passwd {
        /// The account
        name: String,
        /// Read the password from the first line of standard input
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Remove an account and its sessions
    Remove {
        /// The account
        name: String,
    },
    /// Manage an account's sessions
    Sessions {
        /// What to do with them.
        #[command(subcommand)]
        action: SessionAction,
    },
}

/// `hearth user sessions` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SessionAction {
    /// End every session of an account (sign it out everywhere)
    Revoke {
        /// The account
        name: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs `hearth user`.
pub async fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let password = match &args.action {
        Action::Add { .. } | Action::Passwd { .. } => Some(read_password()?),
        _ => None,
    };
    let db = super::open_database(&config).await?;
    let password = password.unwrap_or_default();
    let result = match args.action {
        Action::Add { name, admin, .. } => {
            let role = if admin { Role::Admin } else { Role::Editor };
            user::add(&db, &name, role, &password)
                .await
                .map(|()| println!("user {name:?} added ({role})"))
        }
        Action::List => match user::list(&db).await {
            Ok(users) => {
                println!("{:<24} {:<8} {:<20} SESSIONS", "NAME", "ROLE", "CREATED");
                for u in users {
                    let created = Utc
                        .timestamp_millis_opt(u.created_at)
                        .single()
                        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string());
                    println!(
                        "{:<24} {:<8} {:<20} {}",
                        u.name, u.role, created, u.sessions
                    );
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        Action::Passwd { name, .. } => user::set_password(&db, &name, &password)
            .await
            .map(|ended| println!("password of {name:?} changed; {ended} session(s) ended")),
        Action::Remove { name } => user::remove(&db, &name)
            .await
            .map(|()| println!("user {name:?} removed")),
        Action::Sessions {
            action: SessionAction::Revoke { name },
        } => user::revoke_sessions(&db, &name)
            .await
            .map(|ended| println!("{ended} session(s) of {name:?} ended")),
    };
    db.close().await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(UserError::Db(e)) => Err(anyhow::Error::new(e).context("the database failed")),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
