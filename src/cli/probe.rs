//! `hearth probe URL`: one HTTP GET, exit 0 when it answers 200–399 (as Kubernetes'
//! `httpGet` probes judge), 1 otherwise. The image has no shell and no curl; its
//! `HEALTHCHECK` runs this.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::types::parse_duration;

/// Arguments of `hearth probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to GET (http:// or https://)
    #[arg(value_parser = address)]
    pub url: url::Url,
    /// Give up after this long
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub timeout: Duration,
}

fn address(raw: &str) -> Result<url::Url, String> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(format!(
            "{raw:?} is not an http:// or https:// address (like http://127.0.0.1:8080/ping)"
        )),
    }
}

fn duration(raw: &str) -> Result<Duration, String> {
    parse_duration(raw).map_err(|what| format!("{raw:?} is not {what}"))
}

/// Runs `hearth probe`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hearth-probe/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let started = Instant::now();
    match client.get(args.url.clone()).send().await {
        Ok(response) => {
            let status = response.status();
            let took = started.elapsed().as_millis();
            if status.is_success() || status.is_redirection() {
                println!("{} {} in {took} ms", status, args.url);
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: {} answered {status} in {took} ms", args.url);
                Ok(ExitCode::FAILURE)
            }
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!(
                    "no answer within {}",
                    crate::config::types::format_duration(args.timeout)
                )
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                e.to_string()
            };
            eprintln!("error: {}: {why}", args.url);
            Ok(ExitCode::FAILURE)
        }
    }
}
