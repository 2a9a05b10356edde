//! The content folder: where it is, what it holds, and which revision it is at.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::markdown::MarkdownPage;
use super::post::{Post, Slug};
use super::resume::Resume;
use super::site_toml::SiteToml;

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
    pub resume: Resume,
    /// `about.md`, when there is one.
    pub about: Option<MarkdownPage>,
    /// `pages/*.md` by name (the file name without `.md`), sorted.
    pub pages: Vec<(String, MarkdownPage)>,
    /// `templates/*`: the user's templates by file name, overriding built-in ones.
    pub templates: Vec<(String, String)>,
    /// `static/**`: files served as they are, by path relative to `static/`.
    pub statics: Vec<(String, Vec<u8>)>,
    /// `posts/`: every post, drafts and scheduled ones included, newest first.
    pub posts: Vec<Post>,
    /// Files beside a post's `index.md`: (its slug, path inside its folder, bytes).
    pub post_files: Vec<(Slug, String, Vec<u8>)>,
}

/// Something wrong in a content file: `file:line:column: what`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{}: {message}", location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ContentError {
    /// The file.
    pub file: String,
    /// Line and column (1-based), when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl ContentError {
    /// A problem in `file`, at `location` when known.
    pub fn at(file: &str, location: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            location,
            message: message.into(),
        }
    }
}

/// Every problem found in a content folder, one per line.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Problems(pub Vec<ContentError>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl From<ContentError> for Problems {
    fn from(problem: ContentError) -> Self {
        Problems(vec![problem])
    }
}

/// The demo site, compiled in: (path in the content folder, text).
const BUILTIN: &[(&str, &str)] = &[
    ("site.toml", include_str!("../../examples/site/site.toml")),
    (
        "resume.json",
        include_str!("../../examples/site/resume.json"),
    ),
    ("about.md", include_str!("../../examples/site/about.md")),
    (
        "pages/uses.md",
        include_str!("../../examples/site/pages/uses.md"),
    ),
    (
        "posts/boring-deploys.md",
        include_str!("../../examples/site/posts/boring-deploys.md"),
    ),
    (
        "posts/restore-drills/index.md",
        include_str!("../../examples/site/posts/restore-drills/index.md"),
    ),
    (
        "posts/restore-drills/drill.svg",
        include_str!("../../examples/site/posts/restore-drills/drill.svg"),
    ),
];

/// The files of a content folder, read but not parsed: (path relative to it, bytes).
#[derive(Debug, Default)]
struct Files(Vec<(String, Vec<u8>)>);

impl Files {
    fn read(source: &Source) -> Result<Files, Problems> {
        match source {
            Source::Builtin => Ok(Files(
                BUILTIN
                    .iter()
                    .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
                    .collect(),
            )),
            Source::Dir(dir) => {
                let mut files = Files::default();
                let mut problems = Vec::new();
                for name in ["site.toml", "resume.json", "about.md"] {
                    match std::fs::read(dir.join(name)) {
                        Ok(bytes) => files.0.push((name.to_owned(), bytes)),
                        Err(e)
                            if e.kind() == std::io::ErrorKind::NotFound && name == "about.md" => {}
                        Err(e) => problems.push(ContentError::at(
                            &dir.join(name).display().to_string(),
                            None,
                            format!("cannot read: {e}"),
                        )),
                    }
                }
                for folder in ["pages", "templates", "static", "posts"] {
                    walk(dir, Path::new(folder), &mut files.0, &mut problems);
                }
                files.0.sort_by(|a, b| a.0.cmp(&b.0));
                if problems.is_empty() {
                    Ok(files)
                } else {
                    Err(Problems(problems))
                }
            }
        }
    }

    fn text<'f>(&'f self, name: &str) -> Option<&'f [u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// A hash of every file's name and bytes.
    fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for (name, bytes) in &self.0 {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        format!("sha256:{}", crate::web::page::hex(&hash.finalize()[..6]))
    }
}

/// Collects the files under `dir/folder`, skipping hidden ones and not following
/// symbolic links to folders (which could loop).
fn walk(
    dir: &Path,
    folder: &Path,
    files: &mut Vec<(String, Vec<u8>)>,
    problems: &mut Vec<ContentError>,
) {
    let entries = match std::fs::read_dir(dir.join(folder)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            let shown = dir.join(folder).display().to_string();
            problems.push(ContentError::at(&shown, None, format!("cannot read: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            let shown = entry.path().display().to_string();
            problems.push(ContentError::at(&shown, None, "the file name is not UTF-8"));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let relative = folder.join(name);
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(dir, &relative, files, problems),
            Ok(_) => match std::fs::read(entry.path()) {
                Ok(bytes) => files.push((relative.to_string_lossy().into_owned(), bytes)),
                // A dangling link or a symbolic link to a folder.
                Err(e) if entry.path().is_dir() => tracing::debug!(error = %e, "skipped"),
                Err(e) => problems.push(ContentError::at(
                    &entry.path().display().to_string(),
                    None,
                    format!("cannot read: {e}"),
                )),
            },
            Err(e) => problems.push(ContentError::at(
                &entry.path().display().to_string(),
                None,
                format!("cannot read: {e}"),
            )),
        }
    }
}

impl Content {
    /// Loads content from `source`, reporting every problem found, not just the first.
    pub fn load(source: Source) -> Result<Content, Problems> {
        let files = Files::read(&source)?;
        let revision = match &source {
            Source::Builtin => format!("builtin-{}", crate::telemetry::VERSION),
            Source::Dir(dir) => git_revision(dir).unwrap_or_else(|| files.digest()),
        };
        let name = |file: &str| source.file_name(file);
        let mut problems = Vec::new();
        let text = |file: &str, problems: &mut Vec<ContentError>| -> Option<String> {
            let bytes = files.text(file)?;
            match std::str::from_utf8(bytes) {
                Ok(text) => Some(text.to_owned()),
                Err(e) => {
                    let before = &bytes[..e.valid_up_to()];
                    let location = line_column(&String::from_utf8_lossy(before), before.len());
                    problems.push(ContentError::at(
                        &name(file),
                        Some(location),
                        "not UTF-8 text",
                    ));
                    None
                }
            }
        };
        let site = text("site.toml", &mut problems).and_then(|t| {
            SiteToml::parse(&name("site.toml"), &t)
                .map_err(|mut p| problems.append(&mut p))
                .ok()
        });
        let resume = text("resume.json", &mut problems).and_then(|t| {
            Resume::parse(&name("resume.json"), &t)
                .map_err(|p| problems.push(p))
                .ok()
        });
        let markdown = |file: &str, problems: &mut Vec<ContentError>| {
            let t = text(file, problems)?;
            MarkdownPage::parse(&name(file), &t)
                .map_err(|p| problems.push(p))
                .ok()
        };
        let about = markdown("about.md", &mut problems);
        let mut pages = Vec::new();
        let mut templates = Vec::new();
        let mut statics = Vec::new();
        let mut posts: Vec<Post> = Vec::new();
        let mut post_dirs: Vec<(String, Slug)> = Vec::new();
        let mut sources: Vec<(&str, &str, Option<&str>, String)> = Vec::new();
        for (path, bytes) in &files.0 {
            if let Some(file) = path.strip_prefix("pages/") {
                let Some(slug) = file.strip_suffix(".md") else {
                    continue;
                };
                if let Err(why) = page_name(slug) {
                    problems.push(ContentError::at(&name(path), None, why));
                } else if let Some(page) = markdown(path, &mut problems) {
                    pages.push((slug.to_owned(), page));
                }
            } else if let Some(file) = path.strip_prefix("templates/") {
                if let Some(t) = text(path, &mut problems) {
                    templates.push((file.to_owned(), t));
                }
            } else if let Some(file) = path.strip_prefix("static/") {
                statics.push((file.to_owned(), bytes.clone()));
            } else if let Some(file) = path.strip_prefix("posts/") {
                let (stem, dir) = match file.split_once('/') {
                    Some((dir, "index.md")) => (dir, Some(dir)),
                    Some(_) => continue,
                    None => match file.strip_suffix(".md") {
                        Some(stem) => (stem, None),
                        None => continue,
                    },
                };
                if let Some(text) = text(path, &mut problems) {
                    sources.push((path.as_str(), stem, dir, text));
                }
            }
        }
        // Rendering posts' Markdown is most of loading a big blog: spread it over the cores.
        let parsed = on_all_cores(&sources, |(path, stem, _, text)| {
            Post::parse(&name(path), stem, text)
        });
        let mut slugs = HashSet::new();
        for ((path, _, dir, _), parsed) in sources.iter().zip(parsed) {
            match parsed {
                Ok(post) if !slugs.insert(post.slug.clone()) => problems.push(ContentError::at(
                    &name(path),
                    None,
                    format!("another post has the slug {:?}", post.slug.as_str()),
                )),
                Ok(post) => {
                    if let Some(dir) = dir {
                        post_dirs.push(((*dir).to_owned(), post.slug.clone()));
                    }
                    posts.push(post);
                }
                Err(p) => problems.push(p),
            }
        }
        posts.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
        let post_files = files
            .0
            .iter()
            .filter_map(|(path, bytes)| {
                let (dir, file) = path.strip_prefix("posts/")?.split_once('/')?;
                let slug = post_dirs.iter().find(|(d, _)| d == dir)?.1.clone();
                (file != "index.md").then(|| (slug, file.to_owned(), bytes.clone()))
            })
            .collect();
        match (site, resume) {
            (Some(site), Some(resume)) if problems.is_empty() => Ok(Content {
                source,
                revision,
                site,
                resume,
                about,
                pages,
                templates,
                statics,
                posts,
                post_files,
            }),
            _ => Err(Problems(problems)),
        }
    }

    /// The name a file of this content has in messages: its path, as a user would type it.
    pub fn file_name(&self, file: &str) -> String {
        self.source.file_name(file)
    }
}

impl Source {
    /// The name a file of this content has in messages: its path, as a user would type it.
    pub fn file_name(&self, file: &str) -> String {
        match self {
            Source::Builtin => format!("(built-in)/{file}"),
            Source::Dir(dir) => dir.join(file).display().to_string(),
        }
    }
}

/// `f` applied to every item, on as many threads as there are cores, in order.
pub(crate) fn on_all_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Page names become paths (`pages/uses.md` is `/uses`), so they are kept simple, and
/// clear of the paths hearth itself answers.
fn page_name(name: &str) -> Result<(), String> {
    const TAKEN: &[&str] = &[
        "about",
        "pdf",
        "assets",
        "api",
        "ping",
        "ready",
        "health",
        "metrics",
        "robots.txt",
        "favicon.ico",
        "blog",
        "tags",
        "feed.xml",
        "sitemap.xml",
        "hooks",
        "micropub",
        "login",
        "logout",
        "photos",
        "media",
    ];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        Err(format!(
            "the page name {name:?} becomes its address: use lower-case letters, digits, - and _"
        ))
    } else if TAKEN.contains(&name) {
        Err(format!(
            "the address /{name} is hearth's own; rename the page"
        ))
    } else {
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
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

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn problems(dir: &tempfile::TempDir) -> Vec<String> {
        let err = Content::load(Source::Dir(dir.path().to_owned())).unwrap_err();
        let root = format!("{}/", dir.path().display());
        err.0
            .iter()
            .map(|p| p.to_string().replace(&root, ""))
            .collect()
    }

    #[test]
    fn builtin_demo_loads() {
        let content = Content::load(Source::Builtin).unwrap();
        assert_eq!(content.resume.name(), Some("Ada Example"));
        assert!(content.about.is_some());
        assert_eq!(content.pages[0].0, "uses");
        let slugs: Vec<_> = content.posts.iter().map(|p| p.slug.as_str()).collect();
        assert_eq!(slugs, ["restore-drills", "boring-deploys"], "newest first");
        assert_eq!(content.post_files[0].1, "drill.svg");
    }

    #[test]
    fn every_problem_is_reported_with_file_line_and_column() {
        let dir = folder(&[
            ("site.toml", "title = 3\n"),
            ("resume.json", "{\n  \"basics\": {,\n}"),
            ("about.md", "+++\ntitle = \n+++\n"),
            ("pages/Bad Name.md", "x"),
            ("pages/pdf.md", "x"),
        ]);
        let found = problems(&dir);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("site.toml:1:9: "), "{found:#?}");
        assert!(found[1].starts_with("resume.json:2:14: "), "{found:#?}");
        assert!(found[2].starts_with("about.md:2:"), "{found:#?}");
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("pages/Bad Name.md: the page name"))
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("pages/pdf.md: the address /pdf is hearth's own"))
        );
    }

    #[test]
    fn pages_templates_and_static_files_are_found() {
        let dir = folder(&[
            ("site.toml", "title = \"x\"\n"),
            ("resume.json", "{}"),
            ("pages/now.md", "+++\ntitle = \"Now\"\n+++\nBusy."),
            ("pages/notes.txt", "not a page"),
            ("templates/base.html", "{% block main %}{% endblock %}"),
            ("static/img/me.jpg", "\u{1}\u{2}"),
            ("static/.hidden", "no"),
        ]);
        let content = Content::load(Source::Dir(dir.path().to_owned())).unwrap();
        assert!(content.about.is_none());
        assert_eq!(content.pages.len(), 1);
        assert_eq!(content.pages[0].1.front.title.as_deref(), Some("Now"));
        assert_eq!(content.templates[0].0, "base.html");
        let statics: Vec<_> = content.statics.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(statics, ["img/me.jpg"]);
    }

    #[test]
    fn a_missing_required_file_is_named() {
        let dir = folder(&[("site.toml", "title = \"x\"\n")]);
        let found = problems(&dir);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("resume.json: cannot read: "),
            "{found:#?}"
        );
    }

    #[test]
    fn revision_is_a_hash_outside_git_and_follows_the_files() {
        let dir = folder(&[("site.toml", "title = \"x\"\n"), ("resume.json", "{}")]);
        let load = || {
            Content::load(Source::Dir(dir.path().to_owned()))
                .unwrap()
                .revision
        };
        let first = load();
        assert!(first.starts_with("sha256:"), "{first}");
        std::fs::write(dir.path().join("resume.json"), "{\"basics\":{}}").unwrap();
        assert_ne!(first, load());
    }
}
