//! The content folder: where it is, what it holds, and which revision it is at.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The demo site compiled into the binary.
    Builtin,
    /// A folder on disk.
    Dir(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("the built-in demo site"),
            Source::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// `site.toml`. Keys later releases define are accepted and ignored here.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SiteToml {
    /// The site's title.
    pub title: String,
    /// Its public address, for absolute links.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Whose site it is.
    #[serde(default)]
    pub author: Option<String>,
    /// One sentence about it.
    #[serde(default)]
    pub description: Option<String>,
}

/// The files a site is made from, parsed.
#[derive(Debug, Clone)]
pub struct Content {
    /// Where they came from.
    pub source: Source,
    /// The git commit, or a hash of the files when the folder is not in a repository.
    pub revision: String,
    /// `site.toml`.
    pub site: SiteToml,
    /// `resume.json`, a JSON Resume document.
    pub resume: serde_json::Value,
}

/// A content file that could not be read or parsed: `file:line:column: what`.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ContentError {
    /// The file.
    pub file: String,
    /// Line and column, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

const BUILTIN_SITE: &str = include_str!("../../examples/site/site.toml");
const BUILTIN_RESUME: &str = include_str!("../../examples/site/resume.json");

impl Content {
    /// Loads content from `source`.
    pub fn load(source: Source) -> Result<Content, ContentError> {
        match &source {
            Source::Builtin => {
                let revision = format!("builtin-{}", crate::telemetry::VERSION);
                Self::parse(source, revision, BUILTIN_SITE, BUILTIN_RESUME)
            }
            Source::Dir(dir) => {
                let site = read(dir, "site.toml")?;
                let resume = read(dir, "resume.json")?;
                let revision = git_revision(dir).unwrap_or_else(|| {
                    let mut hash = Sha256::new();
                    hash.update(site.as_bytes());
                    hash.update([0]);
                    hash.update(resume.as_bytes());
                    let digest = hash.finalize();
                    format!("sha256:{}", crate::web::page::hex(&digest[..6]))
                });
                Self::parse(source.clone(), revision, &site, &resume)
            }
        }
    }

    fn parse(
        source: Source,
        revision: String,
        site: &str,
        resume: &str,
    ) -> Result<Content, ContentError> {
        let name = |file: &str| match &source {
            Source::Builtin => format!("(built-in)/{file}"),
            Source::Dir(dir) => dir.join(file).display().to_string(),
        };
        let site: SiteToml = toml::from_str(site).map_err(|e| ContentError {
            file: name("site.toml"),
            location: e.span().map(|s| line_column(site, s.start)),
            message: e.message().to_owned(),
        })?;
        let resume: serde_json::Value = serde_json::from_str(resume).map_err(|e| ContentError {
            file: name("resume.json"),
            location: Some((e.line(), e.column())),
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        if !resume.is_object() {
            return Err(ContentError {
                file: name("resume.json"),
                location: None,
                message: "a JSON Resume document is an object".to_owned(),
            });
        }
        Ok(Content {
            source,
            revision,
            site,
            resume,
        })
    }
}

fn read(dir: &Path, file: &str) -> Result<String, ContentError> {
    std::fs::read_to_string(dir.join(file)).map_err(|e| ContentError {
        file: dir.join(file).display().to_string(),
        location: None,
        message: format!("cannot read: {e}"),
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The commit checked out in the repository that holds `dir`, read from `.git` directly.
fn git_revision(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git = if git.is_file() {
        // A worktree: `.git` names the real folder.
        let text = std::fs::read_to_string(&git).ok()?;
        let target = PathBuf::from(text.trim().strip_prefix("gitdir: ")?);
        git.parent()?.join(target)
    } else {
        git
    };
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let sha = match head.strip_prefix("ref: ") {
        None => head.to_owned(),
        Some(reference) => std::fs::read_to_string(git.join(reference))
            .ok()
            .map(|s| s.trim().to_owned())
            .or_else(|| {
                let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
                packed.lines().find_map(|l| {
                    let (sha, name) = l.split_once(' ')?;
                    (name == reference).then(|| sha.to_owned())
                })
            })?,
    };
    (sha.len() >= 12 && sha.chars().all(|c| c.is_ascii_hexdigit())).then(|| sha[..12].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_demo_loads() {
        let content = Content::load(Source::Builtin).unwrap();
        assert_eq!(content.resume["basics"]["name"], "Ada Example");
    }

    #[test]
    fn malformed_files_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.toml"), "title = \"x\"\n").unwrap();
        std::fs::write(dir.path().join("resume.json"), "{\n  \"basics\": {,\n}").unwrap();
        let err = Content::load(Source::Dir(dir.path().to_owned()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("resume.json:2:14: "), "{err}");

        std::fs::write(dir.path().join("site.toml"), "title = 3\n").unwrap();
        let err = Content::load(Source::Dir(dir.path().to_owned()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("site.toml:1:9: "), "{err}");
    }

    #[test]
    fn revision_is_a_hash_outside_git_and_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.toml"), "title = \"x\"\n").unwrap();
        std::fs::write(dir.path().join("resume.json"), "{}").unwrap();
        let first = Content::load(Source::Dir(dir.path().to_owned()))
            .unwrap()
            .revision;
        assert!(first.starts_with("sha256:"), "{first}");
        std::fs::write(dir.path().join("resume.json"), "{\"basics\":{}}").unwrap();
        let second = Content::load(Source::Dir(dir.path().to_owned()))
            .unwrap()
            .revision;
        assert_ne!(first, second);
    }
}
