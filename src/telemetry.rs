//! Logging: JSON lines for machines, text for a person at a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global log subscriber. `filter` was validated with the configuration.
/// A server logs to stdout; a command whose stdout is its report logs to stderr.
pub fn init(filter: &str, format: LogFormat, to_stdout: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto if to_stdout => !std::io::stdout().is_terminal(),
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let writer =
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(move || -> Box<dyn std::io::Write> {
            if to_stdout {
                Box::new(std::io::stdout())
            } else {
                Box::new(std::io::stderr())
            }
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // A second init (tests calling a role twice in one process) keeps the first.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

/// The version and git revision compiled into this binary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("HEARTH_REVISION");
/// `0.1.0 (abc123def456)`, for `--version`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("HEARTH_REVISION"),
    ")"
);
