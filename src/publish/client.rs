//! The client side of publishing (`hearth publish`): send a Markdown file to a hearth
//! server, or queue it when the server cannot be reached and send the queue later.
//!
//! The queue is a folder of JSON files, one per post, named so they sort in the order
//! they were queued. Tokens are never written into it: a flush uses the token given then.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::site::Post;

/// A post waiting to be sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    /// The server's address (`https://me.example`).
    pub to: String,
    /// The file's name, for messages.
    pub file: String,
    /// The slug from the file's name, used when its front matter gives none.
    pub slug: String,
    /// Replace an existing post rather than create one.
    pub update: bool,
    /// The Markdown file's text.
    pub text: String,
    /// When it was queued (RFC 3339).
    pub queued_at: String,
}

/// How sending went.
#[derive(Debug)]
pub enum Sent {
    /// The server took it; its address.
    Published(String),
    /// The server could not be reached, or answered that it is unavailable: try later.
    Unreachable(String),
    /// The server refused it; its reason. Sending again will not help.
    Refused(String),
}

/// Reads and checks a post file as the server will, so mistakes show before sending.
pub fn read(file: &Path, to: &str, update: bool) -> anyhow::Result<Queued> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("post.md");
    let stem = match name {
        "index.md" => file
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("post"),
        _ => name.strip_suffix(".md").unwrap_or(name),
    };
    let post = Post::parse(&file.display().to_string(), stem, &text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Queued {
        to: base(to)?,
        file: file.display().to_string(),
        slug: post.slug.as_str().to_owned(),
        update,
        text,
        queued_at: chrono::Utc::now().to_rfc3339(),
    })
}

/// Checks and normalises a server address.
pub fn base(to: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(to).map_err(|e| {
        anyhow::anyhow!(
            "--to {to:?} is not a URL ({e}); give the site's address, like https://me.example"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("--to {to:?} must be an http:// or https:// address");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// An HTTP client for publishing: TLS through rustls and the system's certificates.
pub fn http() -> anyhow::Result<reqwest::Client> {
    crate::install_tls_provider();
    reqwest::Client::builder()
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot make an HTTP client: {e}"))
}

/// Sends one post.
pub async fn send(client: &reqwest::Client, post: &Queued, token: &str) -> Sent {
    let request = if post.update {
        client.put(format!("{}/api/v1/posts/{}", post.to, post.slug))
    } else {
        // A slug is letters, digits, - and _: nothing to escape.
        client.post(format!("{}/api/v1/posts?slug={}", post.to, post.slug))
    };
    let response = request
        .bearer_auth(token)
        .header(
            reqwest::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )
        .body(post.text.clone())
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Sent::Unreachable(describe(&e)),
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if status.is_success() {
        let url = text("url").unwrap_or_else(|| format!("{}/blog/{}", post.to, post.slug));
        if let Some(warning) = text("warning") {
            eprintln!("warning: {warning}");
        }
        return Sent::Published(url);
    }
    let detail = text("detail").unwrap_or_else(|| status.to_string());
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            Sent::Unreachable(format!("the server answered {status}: {detail}"))
        }
        _ => Sent::Refused(format!("the server answered {status}: {detail}")),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The queue folder.
#[derive(Debug)]
pub struct Queue {
    dir: PathBuf,
}

impl Queue {
    /// The queue in `dir`.
    pub fn new(dir: PathBuf) -> Queue {
        Queue { dir }
    }

    /// The queue's default place: `$XDG_STATE_HOME/hearth/publish-queue`, or
    /// `~/.local/state/hearth/publish-queue`.
    pub fn default_dir() -> PathBuf {
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        state.join("hearth").join("publish-queue")
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds a post; returns its file.
    pub fn push(&self, post: &Queued) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        let path = self.dir.join(format!("{stamp}-{}.json", post.slug));
        let json = serde_json::to_vec_pretty(post).map_err(std::io::Error::other)?;
        let temp = self.dir.join(format!(".{stamp}-{}.tmp", post.slug));
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, &path)?;
        Ok(path)
    }

    /// The waiting posts, oldest first.
    pub fn list(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        files.sort();
        Ok(files)
    }

    /// Reads a queued post.
    pub fn read(&self, path: &Path) -> anyhow::Result<Queued> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a queued post: {e}", path.display()))
    }

    /// Sets a refused post aside in `failed/`, with the reason beside it.
    pub fn set_aside(&self, path: &Path, reason: &str) -> std::io::Result<PathBuf> {
        let failed = self.dir.join("failed");
        std::fs::create_dir_all(&failed)?;
        let target = failed.join(path.file_name().unwrap_or_default());
        std::fs::rename(path, &target)?;
        std::fs::write(target.with_extension("reason.txt"), format!("{reason}\n"))?;
        Ok(target)
    }
}
