//! Committing and pushing what publishing writes, with the `git` command. (Fetching for
//! the webhook is done in pure Rust, in [`crate::site::gitsync`]; git has no pure-Rust
//! push yet, so publishing into a git content folder needs the `git` command.)

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

/// Why git could not do what publishing asked.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No `git` command on this machine.
    #[error(
        "the content folder is a git repository, and committing to it needs the `git` command, which is not installed (install git, or publish into a folder that is not a repository)"
    )]
    Missing,
    /// git ran and failed.
    #[error("git {command} failed: {message}")]
    Failed {
        /// The subcommand (`commit`, `push`).
        command: &'static str,
        /// What git said, on one line.
        message: String,
    },
}

/// Whether `root` is the top of a git work tree.
pub fn is_repository(root: &Path) -> bool {
    root.join(".git").exists()
}

/// Fails early, before anything is written, if git is needed and missing.
pub async fn check_available() -> Result<(), GitError> {
    match Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
    {
        Ok(status) if status.success() => Ok(()),
        _ => Err(GitError::Missing),
    }
}

/// Stages `paths` (additions, changes and removals) and commits them with `author` as the
/// author. Returns the new commit's id.
pub async fn commit(
    root: &Path,
    paths: &[&str],
    message: &str,
    author: &str,
) -> Result<String, GitError> {
    let mut add = vec!["add", "--all", "--"];
    add.extend_from_slice(paths);
    run(root, "add", &add).await?;
    let author = format!("{author} <{author}@hearth.invalid>");
    let mut args = vec!["commit", "--quiet", "--no-verify", "-m", message];
    args.extend(["--author", &author, "--"]);
    args.extend_from_slice(paths);
    run(root, "commit", &args).await?;
    run(root, "rev-parse", &["rev-parse", "HEAD"]).await
}

/// Undoes the staging of `paths` after a failed commit.
pub async fn unstage(root: &Path, paths: &[&str]) {
    let mut args = vec!["reset", "--quiet", "--"];
    args.extend_from_slice(paths);
    if let Err(e) = run(root, "reset", &args).await {
        tracing::warn!(error = %e, "could not unstage after a failed commit");
    }
}

/// Brings back `path` as the last commit has it, after a removal that could not be
/// committed.
pub async fn restore(root: &Path, path: &str) {
    unstage(root, &[path]).await;
    if let Err(e) = run(
        root,
        "checkout",
        &["checkout", "--quiet", "HEAD", "--", path],
    )
    .await
    {
        tracing::error!(path, error = %e, "could not undo a failed removal");
    }
}

/// Pushes the current branch to `remote`'s `branch`.
pub async fn push(root: &Path, remote: &str, branch: &str) -> Result<(), GitError> {
    let refspec = format!("HEAD:refs/heads/{branch}");
    run(root, "push", &["push", "--quiet", remote, &refspec])
        .await
        .map(drop)
}

async fn run(root: &Path, command: &'static str, args: &[&str]) -> Result<String, GitError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        // The committer is hearth; no prompt may wait for a terminal that is not there.
        .env("GIT_COMMITTER_NAME", "hearth")
        .env("GIT_COMMITTER_EMAIL", "hearth@hearth.invalid")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GitError::Missing,
            _ => GitError::Failed {
                command,
                message: e.to_string(),
            },
        })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let said = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    Err(GitError::Failed {
        command,
        message: said.split_whitespace().collect::<Vec<_>>().join(" "),
    })
}
