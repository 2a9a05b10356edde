//! Publishing from anywhere: posts written into the content folder by the API, Micropub
//! and `hearth publish`, committed when the folder is a git repository, then rendered.
//! The GitHub webhook, which brings the folder up to its remote, lives here too.

pub mod api;
pub mod client;
pub mod git;
pub mod micropub;
pub mod webhook;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::auth::Caller;
use crate::db::audit;
use crate::site::post::{Fields, Slug};
use crate::site::{Post, Source};

/// The routes outside `/api/v1` (which [`crate::web::api`] holds): Micropub and the
/// GitHub webhook.
pub fn router() -> axum::Router<App> {
    micropub::router().merge(webhook::router())
}

/// A post as the API reads and writes it: its front matter fields and Markdown body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostSource {
    /// Its address part; from the title when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Its title.
    pub title: String,
    /// When it was written (RFC 3339); now when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A sentence or two for lists and feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Never public while true.
    #[serde(default)]
    pub draft: bool,
    /// Not public before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_at: Option<DateTime<Utc>>,
    /// Link the site's keywords in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub autolink: bool,
    /// The Markdown body.
    #[serde(default)]
    pub body: String,
}

/// Front matter as publishing writes it: TOML, dates in RFC 3339.
#[derive(Serialize)]
struct FrontOut<'a> {
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    slug: Option<&'a str>,
    date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_at: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    autolink: bool,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl PostSource {
    /// The post held by a file's text.
    pub fn from_fields(fields: Fields, body: &str) -> PostSource {
        PostSource {
            slug: Some(fields.slug.as_str().to_owned()),
            title: fields.title,
            date: Some(fields.date),
            updated: fields.updated,
            tags: fields.tags,
            summary: fields.summary,
            draft: fields.draft,
            publish_at: fields.publish_at,
            autolink: fields.autolink,
            body: body.trim_start_matches(['\r', '\n']).to_owned(),
        }
    }

    /// The file's text: TOML front matter, then the body. `slug` is written only when it
    /// differs from the file's name.
    pub fn to_markdown(&self, file_slug: &str) -> String {
        let front = FrontOut {
            title: &self.title,
            slug: self.slug.as_deref().filter(|s| *s != file_slug),
            date: rfc3339(self.date.unwrap_or_else(Utc::now)),
            updated: self.updated.map(rfc3339),
            tags: &self.tags,
            summary: self.summary.as_deref(),
            draft: self.draft,
            publish_at: self.publish_at.map(rfc3339),
            autolink: self.autolink,
        };
        let toml = toml::to_string(&front).unwrap_or_default();
        let mut text = format!("+++\n{toml}+++\n\n{}", self.body);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}

/// What was sent to be published: a whole Markdown file, or fields.
#[derive(Debug, Clone)]
pub enum Submission {
    /// A Markdown file with front matter, stored byte for byte.
    Markdown(String),
    /// Fields, written out as a Markdown file with TOML front matter.
    Fields(PostSource),
}

/// Why publishing refused or failed. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The slug could leave its folder or is not a slug (400).
    #[error("{0}")]
    BadSlug(String),
    /// The post does not parse: front matter errors name the field (422).
    #[error("{0}")]
    Invalid(String),
    /// A post has this slug already (409).
    #[error("a post with the slug {0:?} exists already; update it with PUT /api/v1/posts/{0}")]
    Exists(String),
    /// No post has this slug (404).
    #[error("no post has the slug {0:?}")]
    NotFound(String),
    /// The server serves the built-in demo site, which cannot be written (409).
    #[error(
        "this server shows the built-in demo site; set `content` to a folder to publish into it"
    )]
    NoContentFolder,
    /// git is needed and missing, or failed (503/500).
    #[error(transparent)]
    Git(#[from] git::GitError),
    /// The file system failed (500).
    #[error("writing the content folder: {0}")]
    Io(#[from] std::io::Error),
}

/// What a publishing request did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Published {
    /// The post's slug.
    pub slug: String,
    /// Its address on the site.
    pub url: String,
    /// Its file, relative to the content folder.
    pub path: String,
    /// Whether it is public now (not a draft, not scheduled for later).
    pub public: bool,
    /// The commit made, when the content folder is a git repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the commit was pushed (when `publish.push` is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<bool>,
    /// What went wrong after the post was saved, if anything (a failed push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A post found in the content folder.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its fields and body.
    pub source: PostSource,
    /// Its slug.
    pub slug: Slug,
    /// Its Markdown file, relative to the content folder (`posts/x.md`, `posts/x/index.md`).
    pub path: String,
    /// Whether it is a folder with its files beside it.
    pub folder: bool,
}

/// The content folder, as publishing sees it.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store of `app`'s content folder.
    pub fn of(app: &App) -> Result<Store, PublishError> {
        match &app.build.source {
            Source::Dir(dir) => Ok(Store { root: dir.clone() }),
            Source::Builtin => Err(PublishError::NoContentFolder),
        }
    }

    /// The content folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `posts/`, created when missing, and checked to be inside the content folder (a
    /// symbolic link must not lead writes elsewhere).
    fn posts_dir(&self) -> Result<PathBuf, PublishError> {
        let dir = self.root.join("posts");
        std::fs::create_dir_all(&dir)?;
        let root = self.root.canonicalize()?;
        let real = dir.canonicalize()?;
        if !real.starts_with(&root) {
            return Err(PublishError::Io(std::io::Error::other(format!(
                "{} leads outside the content folder",
                dir.display()
            ))));
        }
        Ok(dir)
    }

    /// Every post in the folder, drafts included, newest first. Files that do not parse
    /// are skipped: they are the content check's business. Reading a big blog's front
    /// matter is file work, so it runs on the blocking pool.
    pub async fn list(&self) -> Result<Vec<Stored>, PublishError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.list_blocking())
            .await
            .map_err(|e| PublishError::Io(std::io::Error::other(e)))?
    }

    fn list_blocking(&self) -> Result<Vec<Stored>, PublishError> {
        let dir = self.posts_dir()?;
        let mut posts = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let kind = entry.file_type()?;
            let (stem, path, folder) = if kind.is_dir() {
                (name, format!("posts/{name}/index.md"), true)
            } else if let Some(stem) = name.strip_suffix(".md").filter(|_| kind.is_file()) {
                (stem, format!("posts/{name}"), false)
            } else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(self.root.join(&path)) else {
                continue;
            };
            if let Ok((fields, body)) = Fields::parse(&path, stem, &text) {
                posts.push(Stored {
                    slug: fields.slug.clone(),
                    source: PostSource::from_fields(fields, body),
                    path,
                    folder,
                });
            }
        }
        posts.sort_by(|a, b| (b.source.date.cmp(&a.source.date)).then_with(|| a.slug.cmp(&b.slug)));
        Ok(posts)
    }

    /// The post with this slug, if there is one.
    pub async fn find(&self, slug: &Slug) -> Result<Option<Stored>, PublishError> {
        Ok(self.list().await?.into_iter().find(|p| &p.slug == slug))
    }

    /// Writes `text` to `path` (relative) through a temporary file and a rename, so a
    /// reader sees the old file or the new one, never half of one. Returns what was
    /// there before, to put back if what follows fails.
    fn write(&self, path: &str, text: &str) -> Result<Option<Vec<u8>>, PublishError> {
        self.posts_dir()?;
        let target = self.root.join(path);
        let previous = std::fs::read(&target).ok();
        let dir = target.parent().unwrap_or(&self.root);
        let mut temp = tempfile::NamedTempFile::with_prefix_in(".hearth-publish-", dir)?;
        temp.write_all(text.as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(&target).map_err(|e| e.error)?;
        Ok(previous)
    }

    /// Puts back what [`Store::write`] replaced.
    fn restore(&self, path: &str, previous: Option<Vec<u8>>) {
        let target = self.root.join(path);
        let result = match previous {
            Some(bytes) => std::fs::write(&target, bytes),
            None => std::fs::remove_file(&target),
        };
        if let Err(e) = result {
            tracing::error!(path, error = %e, "could not undo a failed publish");
        }
    }
}

/// Checks a slug from an address or a request: 400 for anything that could leave the
/// posts folder or is not a slug.
pub fn slug(text: &str) -> Result<Slug, PublishError> {
    if text.contains('/') || text.contains("..") || text.chars().any(char::is_control) {
        return Err(PublishError::BadSlug(format!(
            "the slug {:?} may not contain '/', '..' or control characters",
            text.escape_debug().to_string()
        )));
    }
    Slug::parse(text).map_err(PublishError::BadSlug)
}

/// The text to store and the post it makes, checked exactly as the site will read it.
fn prepare(
    submission: Submission,
    fixed: Option<&Slug>,
) -> Result<(Slug, String, Fields), PublishError> {
    let (file_slug, text) = match submission {
        Submission::Markdown(text) => {
            // The slug comes from the address, the front matter, or the title.
            let file_slug = match fixed {
                Some(s) => s.clone(),
                None => {
                    let (fields, _) = Fields::parse("the post", "untitled", &text)
                        .map_err(|e| PublishError::Invalid(e.message))?;
                    if fields.slug.as_str() == "untitled" {
                        Slug::from_title(&fields.title).unwrap_or(fields.slug)
                    } else {
                        fields.slug
                    }
                }
            };
            (file_slug, text)
        }
        Submission::Fields(source) => {
            if source.title.trim().is_empty() {
                return Err(PublishError::Invalid(
                    "title: a post needs a title".to_owned(),
                ));
            }
            let file_slug = match (fixed, &source.slug) {
                (Some(s), _) => s.clone(),
                (None, Some(s)) => slug(s)?,
                (None, None) => Slug::from_title(&source.title)
                    .unwrap_or_else(|| fallback_slug(source.date.unwrap_or_else(Utc::now))),
            };
            let text = source.to_markdown(file_slug.as_str());
            (file_slug, text)
        }
    };
    let (fields, _) = Fields::parse("the post", file_slug.as_str(), &text)
        .map_err(|e| PublishError::Invalid(e.message))?;
    if fields.slug != file_slug {
        return Err(PublishError::Invalid(format!(
            "slug: the front matter says {:?}, the address says {:?}; renaming a post is not supported",
            fields.slug.as_str(),
            file_slug.as_str()
        )));
    }
    // Rendering is checked too, so a post that is stored is a post that renders.
    Post::parse("the post", file_slug.as_str(), &text)
        .map_err(|e| PublishError::Invalid(e.message))?;
    Ok((file_slug, text, fields))
}

fn fallback_slug(date: DateTime<Utc>) -> Slug {
    Slug::parse(&date.format("post-%Y%m%d-%H%M%S").to_string()).unwrap_or_else(|_| {
        Slug::from_title("post").unwrap_or_else(|| unreachable!("\"post\" is a slug"))
    })
}

/// The address of a post on the site.
pub fn post_url(app: &App, slug: &Slug) -> String {
    let base = app.site().base_url.clone().unwrap_or_default();
    format!("{base}/blog/{}", slug.as_str())
}

/// Creates a post, at `slug` when given (a file's name); 409 if its slug is taken.
pub async fn create(
    app: &App,
    caller: &Caller,
    submission: Submission,
    slug: Option<&Slug>,
) -> Result<Published, PublishError> {
    let store = Store::of(app)?;
    let (slug, text, fields) = prepare(submission, slug)?;
    let _lock = app.content_lock.lock().await;
    if store.find(&slug).await?.is_some() {
        return Err(PublishError::Exists(slug.as_str().to_owned()));
    }
    let path = format!("posts/{}.md", slug.as_str());
    let message = format!("Publish \"{}\"", fields.title);
    save(
        app,
        &store,
        caller,
        &path,
        &text,
        &message,
        &slug,
        &fields,
        "post.create",
    )
    .await
}

/// Replaces a post's file; 404 if there is none.
pub async fn replace(
    app: &App,
    caller: &Caller,
    slug: &Slug,
    submission: Submission,
) -> Result<Published, PublishError> {
    let store = Store::of(app)?;
    let (slug, text, fields) = prepare(submission, Some(slug))?;
    let _lock = app.content_lock.lock().await;
    let stored = store
        .find(&slug)
        .await?
        .ok_or_else(|| PublishError::NotFound(slug.as_str().to_owned()))?;
    let message = format!("Update \"{}\"", fields.title);
    save(
        app,
        &store,
        caller,
        &stored.path,
        &text,
        &message,
        &slug,
        &fields,
        "post.update",
    )
    .await
}

/// Removes a post, and its folder when it has one; 404 if there is none.
pub async fn delete(
    app: &App,
    caller: &Caller,
    slug: &Slug,
) -> Result<Option<String>, PublishError> {
    let store = Store::of(app)?;
    let _lock = app.content_lock.lock().await;
    let stored = store
        .find(slug)
        .await?
        .ok_or_else(|| PublishError::NotFound(slug.as_str().to_owned()))?;
    let repo = git::is_repository(store.root());
    if repo {
        git::check_available().await?;
    }
    let removed = if stored.folder {
        stored.path.trim_end_matches("/index.md").to_owned()
    } else {
        stored.path.clone()
    };
    let target = store.root().join(&removed);
    if stored.folder {
        std::fs::remove_dir_all(&target)?;
    } else {
        std::fs::remove_file(&target)?;
    }
    let commit = if repo {
        let message = format!("Delete \"{}\"", stored.source.title);
        match git::commit(store.root(), &[&removed], &message, &caller.name).await {
            Ok(id) => Some(id),
            Err(e) => {
                git::restore(store.root(), &removed).await;
                return Err(e.into());
            }
        }
    } else {
        None
    };
    let pushed = push_if_asked(app, &store, repo).await;
    record(app, caller, "post.delete", slug).await;
    drop(_lock);
    app.rerender().await;
    if let Err(warning) = pushed {
        tracing::warn!(slug = slug.as_str(), %warning, "the deletion was not pushed");
    }
    Ok(commit)
}

#[allow(clippy::too_many_arguments)]
async fn save(
    app: &App,
    store: &Store,
    caller: &Caller,
    path: &str,
    text: &str,
    message: &str,
    slug: &Slug,
    fields: &Fields,
    action: &str,
) -> Result<Published, PublishError> {
    let repo = git::is_repository(store.root());
    if repo {
        git::check_available().await?;
    }
    let previous = store.write(path, text)?;
    let commit = if repo {
        match git::commit(store.root(), &[path], message, &caller.name).await {
            Ok(id) => Some(id),
            Err(e) => {
                git::unstage(store.root(), &[path]).await;
                store.restore(path, previous);
                return Err(e.into());
            }
        }
    } else {
        None
    };
    let pushed = push_if_asked(app, store, repo).await;
    record(app, caller, action, slug).await;
    app.rerender().await;
    let (pushed, warning) = match pushed {
        Ok(Some(())) => (Some(true), None),
        Ok(None) => (None, None),
        Err(warning) => {
            tracing::warn!(slug = slug.as_str(), %warning, "the post was saved but not pushed");
            (Some(false), Some(warning))
        }
    };
    Ok(Published {
        url: post_url(app, slug),
        slug: slug.as_str().to_owned(),
        path: path.to_owned(),
        public: fields.is_public(Utc::now()),
        commit,
        pushed,
        warning,
    })
}

/// Pushes when `publish.push` is on: `Ok(None)` when not asked, `Err(why)` when it failed.
async fn push_if_asked(app: &App, store: &Store, repo: bool) -> Result<Option<()>, String> {
    let publish = &app.config.publish;
    if !(repo && publish.push) {
        return Ok(None);
    }
    git::push(store.root(), &publish.remote, &publish.branch)
        .await
        .map(Some)
        .map_err(|e| format!("saved and committed, but not pushed: {e}"))
}

async fn record(app: &App, caller: &Caller, action: &str, slug: &Slug) {
    audit::note(
        app.db.conn(),
        &caller.name,
        action,
        Some(slug.as_str()),
        None,
    )
    .await;
}
