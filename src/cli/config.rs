//! `hearth config`: the effective configuration.

use std::process::ExitCode;

use crate::config::{Loaded, SETTINGS};

/// Arguments of `hearth config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// List every setting with its environment variable and default instead
    #[arg(long)]
    pub list: bool,
}

/// Prints the configuration (loading it already validated it).
pub fn run(args: Args, loaded: &Loaded) -> anyhow::Result<ExitCode> {
    if args.list {
        for s in SETTINGS {
            let default = s.default.unwrap_or("-");
            let alias = s.alias.map(|a| format!(" (or {a})")).unwrap_or_default();
            println!(
                "{:<28} {:<36} {:<16} {}",
                s.key,
                format!("{}{alias}", s.env_name()),
                default,
                s.help
            );
        }
    } else {
        print!("{}", loaded.render());
    }
    Ok(ExitCode::SUCCESS)
}
