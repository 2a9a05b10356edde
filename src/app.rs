//! The state every handler and job shares.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::Config;
use crate::db::Db;
use crate::ops::metrics::Metrics;
use crate::site::{Build, Problems, Site};

/// Everything a request or a background job needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database pool; server databases connect lazily, so one that is down does not
    /// stop start-up, and the pool reconnects by itself when it returns.
    pub db: Db,
    /// This app's metrics registry.
    pub metrics: Metrics,
    /// The rendered site, replaced whole when content changes, and why the last change
    /// could not be rendered, if it could not.
    site: Arc<RwLock<Current>>,
    /// Wakes whoever waits for a new site.
    site_changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// How the site is rendered again after a change.
    pub build: Build,
    /// Held by whatever changes the content folder (publishing, the webhook's pull), so
    /// two changes never interleave.
    pub content_lock: Arc<tokio::sync::Mutex<()>>,
    /// The GitHub webhook's deliveries and pulls.
    pub webhook: Arc<crate::publish::webhook::Hook>,
    /// The object store (photos, backups).
    pub storage: crate::storage::Storage,
    /// How scheduled backups are going.
    pub backups: Arc<crate::backup::schedule::Status>,
}

/// The site being served, and the problems of a newer content that did not render.
#[derive(Debug)]
struct Current {
    site: Arc<Site>,
    failed: Option<Arc<Problems>>,
}

impl App {
    /// Assembles the state.
    pub fn new(
        config: Config,
        db: Db,
        site: Site,
        metrics: Metrics,
        build: Build,
        storage: crate::storage::Storage,
    ) -> Self {
        Self {
            storage,
            backups: Arc::default(),
            build,
            content_lock: Arc::default(),
            webhook: Arc::default(),
            config: Arc::new(config),
            db,
            metrics,
            site: Arc::new(RwLock::new(Current {
                site: Arc::new(site),
                failed: None,
            })),
            site_changed: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// The site as rendered now.
    pub fn site(&self) -> Arc<Site> {
        Arc::clone(
            &self
                .site
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .site,
        )
    }

    /// Swaps in a newly rendered site; requests already running keep the old one.
    pub fn replace_site(&self, site: Site) {
        let site = Arc::new(site);
        let mut current = self.site.write().unwrap_or_else(PoisonError::into_inner);
        current.site = site;
        current.failed = None;
        drop(current);
        self.site_changed.send_modify(|n| *n += 1);
    }

    /// Renders the content again and swaps it in (or records why it could not).
    pub async fn rerender(&self) {
        crate::site::watch::reload(self, self.build.clone()).await;
    }

    /// Completes when the site is next replaced (a future made now sees a replacement
    /// that happens before it is first polled).
    pub fn site_changed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.site_changed.subscribe();
        async move {
            let _ = receiver.changed().await;
        }
    }

    /// Records that newer content did not render; the current site stays.
    pub fn site_failed(&self, problems: Problems) {
        self.site
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .failed = Some(Arc::new(problems));
    }

    /// Why the newest content is not being served, if it is not.
    pub fn site_problems(&self) -> Option<Arc<Problems>> {
        self.site
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .failed
            .clone()
    }
}
