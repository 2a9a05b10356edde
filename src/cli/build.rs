//! `hearth build`: render the site without serving it.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::site::{Build, Site, Source};

/// Arguments of `hearth build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Content folder [default: the `content` setting, or the built-in demo site]
    #[arg(long, value_name = "DIR")]
    pub content: Option<PathBuf>,

    /// Render everything, report each problem as `file:line:column: what` and exit 1 if
    /// there is any
    #[arg(long, required = true)]
    pub check: bool,
}

impl Args {
    pub(super) fn setting_flags(&self) -> Vec<(&'static str, &'static str, String)> {
        self.content
            .iter()
            .map(|c| ("content", "--content", c.display().to_string()))
            .collect()
    }
}

/// Renders the whole site, PDF included, and reports what is wrong.
pub fn run(_args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let source = config.content.map_or(Source::Builtin, Source::Dir);
    let build = Build {
        source: source.clone(),
        drafts: false,
    };
    match Site::build(&build) {
        Ok(site) => {
            let (pages, bytes) = site.size();
            println!(
                "ok: {source} renders: {pages} files, {} KiB, in {:.1} ms \
                 (pages {:.1} ms, PDF {:.1} ms beside them; revision {})",
                bytes.div_ceil(1024),
                site.took.as_secs_f64() * 1000.0,
                site.timings.pages.as_secs_f64() * 1000.0,
                site.timings.pdf.as_secs_f64() * 1000.0,
                site.revision
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems.0 {
                eprintln!("{problem}");
            }
            let n = problems.0.len();
            eprintln!(
                "error: {source} has {n} problem{}",
                if n == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
