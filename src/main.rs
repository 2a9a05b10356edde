//! The `hearth` binary: parse the command line, load the configuration, start logging,
//! run the role.

use std::process::ExitCode;

use clap::Parser;
use hearth::cli::{self, Cli};
use hearth::config::{Config, LoadOptions};
use hearth::telemetry;

fn main() -> ExitCode {
    hearth::install_tls_provider();
    let cli = Cli::parse();
    let options = LoadOptions {
        file: cli.config.clone(),
        flags: cli.setting_flags(),
        ..LoadOptions::from_process_env()
    };
    let loaded = match Config::load(options) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(
        &loaded.config.log,
        loaded.config.log_format,
        cli.logs_to_stdout(),
    );
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli.command, loaded)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
