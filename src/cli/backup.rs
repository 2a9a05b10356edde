//! `hearth backup`: so far `retention`, the policy as a pure, explainable function.

use std::io::BufRead;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::backup::retention::{self, Policy};
use crate::config::Config;
use crate::config::types::parse_duration;

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

/// Runs `hearth backup`.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let Action::Retention {
        now,
        keep_all_for,
        keep_daily_for,
    } = args.action;
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
