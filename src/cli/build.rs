//! `hearth build`: render the site without serving it.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;

use anyhow::Context;

use crate::config::Config;
use crate::site::{Build, Site, Source, export};

/// Arguments of `hearth build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Content folder [default: the `content` setting, or the built-in demo site]
    #[arg(long, value_name = "DIR")]
    pub content: Option<PathBuf>,

    /// Render everything, report each problem as `file:line:column: what` and exit 1 if
    /// there is any
    #[arg(long, required_unless_present = "out")]
    pub check: bool,

    /// Write the public site into DIR as files, at the addresses `serve` answers
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Args {
    pub(super) fn setting_flags(&self) -> Vec<(&'static str, &'static str, String)> {
        self.content
            .iter()
            .map(|c| ("content", "--content", c.display().to_string()))
            .collect()
    }
}

/// Renders the whole site, PDF included, and reports what is wrong; with `--out`,
/// writes it as files.
pub fn run(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    let source = config.content.map_or(Source::Builtin, Source::Dir);
    let build = Build {
        source: source.clone(),
        drafts: false,
        // Checking renders what serve would; an export needs no compressed forms.
        precompress: args.out.is_none(),
    };
    match Site::build(&build) {
        Ok(site) => {
            if let Some(out) = &args.out {
                let started = std::time::Instant::now();
                let terminal = std::io::stderr().is_terminal();
                let written = export::export(&site, out, |done, total| {
                    if terminal {
                        export::bar("writing", done, total);
                    }
                })
                .context("writing the site")?;
                println!(
                    "wrote {} files, {} KiB, to {} in {:.1} ms (rendering took {:.1} ms)",
                    written.files,
                    written.bytes.div_ceil(1024),
                    out.display(),
                    (site.took + started.elapsed()).as_secs_f64() * 1000.0,
                    site.took.as_secs_f64() * 1000.0,
                );
                return Ok(ExitCode::SUCCESS);
            }
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
