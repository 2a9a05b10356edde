//! `hearth build --out DIR`: the rendered site written as files, at the addresses `serve`
//! answers, for nginx or any static host.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::Site;

/// The file that marks a folder as an export, so a new export may replace it.
const MARKER: &str = ".hearth-export";

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// How many files.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The folder holds files that are not a previous export.
    #[error(
        "{0} exists and is not an earlier export (no {MARKER} in it); choose an empty or new folder"
    )]
    NotAnExport(PathBuf),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `site` into `out`: HTML pages at `<path>/index.html`, everything else at its
/// path, the 404 page as `404.html`. The files go to a fresh sibling folder that then
/// replaces `out`, so `out` never holds a half-written or stale site. `progress` is
/// called after each file with (done, total).
pub fn export(
    site: &Site,
    out: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Written, ExportError> {
    if out.exists() && !out.join(MARKER).exists() && !is_empty_dir(out) {
        return Err(ExportError::NotAnExport(out.to_owned()));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = out
        .file_name()
        .map_or("site".into(), |n| n.to_string_lossy());
    let staging = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let mut routes: Vec<_> = site.routes().collect();
    routes.sort_by_key(|(path, _)| *path);
    let total = routes.len() + 1;
    let mut written = Written::default();
    let mut write = |relative: PathBuf, body: &[u8]| -> Result<(), ExportError> {
        let file = staging.join(relative);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&file, body).map_err(io(&file))?;
        written.files += 1;
        written.bytes += body.len() as u64;
        Ok(())
    };
    for (done, (path, page)) in routes.into_iter().enumerate() {
        if let Some(relative) = file_for(path, page.content_type()) {
            write(relative, page.body())?;
        }
        progress(done + 1, total);
    }
    write(PathBuf::from("404.html"), site.not_found().body())?;
    write(PathBuf::from(MARKER), b"written by hearth build --out\n")?;
    progress(total, total);
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    std::fs::rename(&staging, out).map_err(io(out))?;
    Ok(written)
}

/// Where the response at `path` goes: `<path>/index.html` for an HTML page without an
/// extension, else the path itself. Percent-escapes are decoded; a path that would leave
/// the folder gives `None`.
fn file_for(path: &str, content_type: &str) -> Option<PathBuf> {
    let decoded = decode(path.trim_start_matches('/'))?;
    let mut relative = PathBuf::new();
    for part in Path::new(&decoded).components() {
        match part {
            Component::Normal(p) => relative.push(p),
            _ => return None,
        }
    }
    let last = decoded.rsplit('/').next().unwrap_or_default();
    if content_type.starts_with("text/html") && !last.contains('.') {
        relative.push("index.html");
    }
    Some(relative)
}

fn decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

/// A one-line progress bar on standard error, for terminals.
pub fn bar(verb: &str, done: usize, total: usize) {
    let width = 30;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r  {verb} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        let _ = writeln!(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_files() {
        let html = "text/html; charset=utf-8";
        assert_eq!(file_for("/", html), Some("index.html".into()));
        assert_eq!(file_for("/blog/a", html), Some("blog/a/index.html".into()));
        assert_eq!(file_for("/x.html", html), Some("x.html".into()));
        assert_eq!(file_for("/pdf", "application/pdf"), Some("pdf".into()));
        assert_eq!(file_for("/a%20b.txt", "text/plain"), Some("a b.txt".into()));
        assert_eq!(file_for("/../etc/passwd", "text/plain"), None);
        assert_eq!(file_for("/%2e%2e/x", "text/plain"), None);
    }
}
