//! Re-rendering while serving: on a change in the content folder (`serve --watch`) and on
//! SIGHUP. A change that does not build leaves the last good site online; the problems
//! are logged with file and line and shown by the `content` health check until fixed.

use std::path::{Component, Path};
use std::time::Duration;

use notify::Watcher as _;
use tokio::sync::mpsc;

use super::{Build, Site, Source};
use crate::App;

/// How long the folder must be quiet before rendering: an editor's save, a `git pull`
/// or a `cp -r` is many events, and one render should follow them.
const QUIET: Duration = Duration::from_millis(150);

/// Renders the site again and swaps it in, or records why it could not.
pub async fn reload(app: &App, build: Build) {
    let previous = app.site();
    let built = tokio::task::spawn_blocking(move || Site::rebuild(&build, Some(&previous))).await;
    match built {
        Ok(Ok(site)) => {
            let (pages, bytes) = site.size();
            let (revision, took, timings) = (site.revision.clone(), site.took, site.timings);
            // Swapped in before it is logged, so whoever reads the log sees the new site.
            app.replace_site(site);
            tracing::info!(
                content.revision = %revision,
                duration_ms = took.as_secs_f64() * 1000.0,
                pages_ms = timings.pages.as_secs_f64() * 1000.0,
                pdf_ms = timings.pdf.as_secs_f64() * 1000.0,
                pages,
                size_bytes = bytes,
                "content rendered"
            );
        }
        Ok(Err(problems)) => {
            let logged = problems.clone();
            app.site_failed(problems);
            for problem in &logged.0 {
                tracing::error!(
                    file = %problem.file,
                    line = problem.location.map(|l| l.0),
                    column = problem.location.map(|l| l.1),
                    "content not rendered, still serving the last good version: {problem}"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "content rendering panicked"),
    }
}

/// Watches `dir` and re-renders on every change, until the process ends. The watcher
/// lives as long as the returned guard.
pub fn watch(app: App, build: Build) -> notify::Result<notify::RecommendedWatcher> {
    let Source::Dir(dir) = build.source.clone() else {
        return Err(notify::Error::generic(
            "only a content folder can be watched",
        ));
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if event.paths.iter().any(|p| matters(p)) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "watching the content folder"),
        })?;
    watcher.watch(&dir, notify::RecursiveMode::Recursive)?;
    tracing::info!(content.dir = %dir.display(), "watching the content folder for changes");
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Wait for a quiet moment, taking every event that arrives meanwhile.
            while let Ok(Some(())) = tokio::time::timeout(QUIET, rx.recv()).await {}
            reload(&app, build.clone()).await;
        }
    });
    Ok(watcher)
}

/// Re-renders on SIGHUP, the conventional "reload your files" signal.
pub fn on_hangup(app: App, build: Build) {
    tokio::spawn(async move {
        let mut hangups =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP");
                    return;
                }
            };
        while hangups.recv().await.is_some() {
            tracing::info!(signal = "SIGHUP", "re-rendering the content");
            reload(&app, build.clone()).await;
        }
    });
}

/// Re-renders when a post scheduled with `publish_at` becomes public, so it appears at
/// that time without a restart; a re-render for another reason reschedules.
pub fn publish_on_schedule(app: App, build: Build) {
    tokio::spawn(async move {
        loop {
            let changed = app.site_changed();
            let Some(at) = app.site().next_publish_at else {
                changed.await;
                continue;
            };
            let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    tracing::info!(publish_at = %at, "a scheduled post is due; re-rendering");
                    reload(&app, build.clone()).await;
                }
                () = changed => {}
            }
        }
    });
}

/// Re-renders on `build.schedule` as well (to pick up what no event announces). Every
/// replica renders its own pages, so each follows the schedule; no lease is needed.
pub fn rebuild_on_schedule(app: App, schedule: crate::schedule::Schedule) {
    tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now();
            let Some(next) = schedule.next_after(now) else {
                tracing::warn!(
                    schedule = schedule.as_str(),
                    "build.schedule names no future time; scheduled re-renders stop"
                );
                return;
            };
            tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
            tracing::info!(schedule = schedule.as_str(), "scheduled re-render");
            app.rerender().await;
        }
    });
}

/// Whether a change at `path` can change the site: not git's own files (but its HEAD and
/// refs, which move the revision), nor editors' swap and backup files.
fn matters(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with('~') || name == "4913" {
        return false;
    }
    let mut components = path.components();
    while let Some(c) = components.next() {
        if c == Component::Normal(".git".as_ref()) {
            let rest = components.as_path();
            return rest == Path::new("HEAD") || rest.starts_with("refs");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_that_can_change_the_site_count() {
        assert!(matters(Path::new("/c/resume.json")));
        assert!(matters(Path::new("/c/..data/site.toml")));
        assert!(matters(Path::new("/c/.git/HEAD")));
        assert!(matters(Path::new("/c/.git/refs/heads/main")));
        assert!(!matters(Path::new("/c/.git/objects/ab/cdef")));
        assert!(!matters(Path::new("/c/.resume.json.swp")));
        assert!(!matters(Path::new("/c/resume.json~")));
    }
}
