//! `hearth publish`: send a post to a hearth server from anywhere, or queue it while
//! offline and send the queue later with `--flush`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::publish::client::{self, Queue, Sent};

/// Arguments of `hearth publish`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["file", "flush"]))]
pub struct Args {
    /// The post: a Markdown file with front matter (its name is the slug unless the front
    /// matter gives one)
    #[arg(value_name = "FILE.md")]
    pub file: Option<PathBuf>,

    /// The server's address, like https://me.example (with --flush: send every queued
    /// post there instead of where it was meant to go)
    #[arg(long, value_name = "URL", required_unless_present = "flush")]
    pub to: Option<String>,

    /// Replace the post with this slug instead of creating one
    #[arg(long, conflicts_with = "flush")]
    pub update: bool,

    /// Send the posts queued while the server could not be reached
    #[arg(long)]
    pub flush: bool,

    /// Read the API token from this file [default: $HEARTH_TOKEN]
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// The queue folder [default: $XDG_STATE_HOME/hearth/publish-queue]
    #[arg(long, value_name = "DIR")]
    pub queue: Option<PathBuf>,
}

/// Runs `hearth publish`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = token(&args)?;
    let queue = Queue::new(args.queue.clone().unwrap_or_else(Queue::default_dir));
    let http = client::http()?;
    if args.flush {
        return flush(&http, &queue, &token, args.to.as_deref()).await;
    }
    let (Some(file), Some(to)) = (&args.file, &args.to) else {
        anyhow::bail!("give a FILE.md and --to URL, or --flush");
    };
    let post = client::read(file, to, args.update)?;
    match client::send(&http, &post, &token).await {
        Sent::Published(url) => {
            println!("{url}");
            Ok(ExitCode::SUCCESS)
        }
        Sent::Refused(why) => {
            eprintln!("error: {} was not published: {why}", post.file);
            Ok(ExitCode::FAILURE)
        }
        Sent::Unreachable(why) => {
            let queued = queue
                .push(&post)
                .with_context(|| format!("queueing into {}", queue.dir().display()))?;
            eprintln!(
                "queued: {} could not be reached ({why}); the post waits in {} and `hearth publish --flush` sends it",
                post.to,
                queued.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn flush(
    http: &reqwest::Client,
    queue: &Queue,
    token: &str,
    to: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let waiting = queue
        .list()
        .with_context(|| format!("reading the queue {}", queue.dir().display()))?;
    if waiting.is_empty() {
        eprintln!("the queue is empty");
        return Ok(ExitCode::SUCCESS);
    }
    let to = to.map(client::base).transpose()?;
    let (mut sent, mut refused) = (0, 0);
    for (i, path) in waiting.iter().enumerate() {
        let mut post = queue.read(path)?;
        if let Some(to) = &to {
            post.to.clone_from(to);
        }
        match client::send(http, &post, token).await {
            Sent::Published(url) => {
                std::fs::remove_file(path)
                    .with_context(|| format!("removing {} from the queue", path.display()))?;
                println!("{url}");
                sent += 1;
            }
            Sent::Refused(why) => {
                let aside = queue.set_aside(path, &why)?;
                eprintln!(
                    "error: {} was refused: {why}; set aside as {}",
                    post.file,
                    aside.display()
                );
                refused += 1;
            }
            Sent::Unreachable(why) => {
                eprintln!(
                    "{} still cannot be reached ({why}); {} post(s) stay queued",
                    post.to,
                    waiting.len() - i
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    eprintln!("sent {sent}, refused {refused}; the queue is empty");
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn token(args: &Args) -> anyhow::Result<String> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => std::env::var("HEARTH_TOKEN").map_err(|_| {
            anyhow::anyhow!(
                "no API token: set HEARTH_TOKEN or pass --token-file (make one with `hearth token create --name NAME` on the server)"
            )
        })?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("the API token is empty");
    }
    Ok(token)
}
