//! The state every handler and job shares.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::Config;
use crate::db::Db;
use crate::ops::metrics::Metrics;
use crate::site::Site;

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
    /// The rendered site; replaced whole when content changes.
    site: Arc<RwLock<Arc<Site>>>,
}

impl App {
    /// Assembles the state.
    pub fn new(config: Config, db: Db, site: Site, metrics: Metrics) -> Self {
        Self {
            config: Arc::new(config),
            db,
            metrics,
            site: Arc::new(RwLock::new(Arc::new(site))),
        }
    }

    /// The site as rendered now.
    pub fn site(&self) -> Arc<Site> {
        Arc::clone(&self.site.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in a newly rendered site; requests already running keep the old one.
    pub fn replace_site(&self, site: Site) {
        let site = Arc::new(site);
        *self.site.write().unwrap_or_else(PoisonError::into_inner) = site;
    }
}
