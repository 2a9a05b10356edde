//! The public site: content loaded from a folder (or the built-in demo), rendered once
//! per change into memory, served with validators and precompressed bodies.

pub mod autolink;
pub mod content;
pub mod export;
mod feed;
pub mod gitsync;
pub mod markdown;
pub mod pdf;
pub mod post;
pub mod render;
pub mod resume;
pub mod site_toml;
mod theme;
pub mod watch;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::App;
use crate::web::page::Page;
pub use content::{Content, ContentError, Problems, Source};
pub use post::Post;

/// A rendered site: every response in memory.
#[derive(Debug)]
pub struct Site {
    /// Where the content came from.
    pub source: Source,
    /// Which revision of it.
    pub revision: String,
    /// Pages, files and assets by request path.
    routes: HashMap<Box<str>, Page>,
    /// The page shown for a path with nothing behind it.
    not_found: Page,
    /// How long loading and rendering took, in all.
    pub took: Duration,
    /// How long rendering the pages and the PDF took.
    pub timings: render::Timings,
    /// When the next scheduled post becomes public, if one is waiting.
    pub next_publish_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The site's public address without a trailing `/`, when `site.toml` gives one.
    pub base_url: Option<String>,
    /// The sign-in page (see `auth::web`).
    pub login: String,
    /// The templates, for pages rendered per request.
    templates: std::sync::Arc<minijinja::Environment<'static>>,
}

/// What to render: the content, and whether drafts and scheduled posts are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Where the content comes from.
    pub source: Source,
    /// Show drafts and posts scheduled for later (`serve --drafts`, for previewing).
    pub drafts: bool,
    /// Make the gzip and brotli forms of every page (to serve them); a static export
    /// does without.
    pub precompress: bool,
}

impl Site {
    /// Loads and renders the site, reporting every problem in the content.
    pub fn build(build: &Build) -> Result<Site, Problems> {
        Self::rebuild(build, None)
    }

    /// Like [`Site::build`], reusing what `previous` rendered where the bytes are the same.
    pub fn rebuild(build: &Build, previous: Option<&Site>) -> Result<Site, Problems> {
        let started = Instant::now();
        let content = Content::load(build.source.clone())?;
        let previous = previous.map(|site| &site.routes);
        let (rendered, timings) = render::render(&content, build, previous)?;
        Ok(Site {
            source: content.source,
            revision: content.revision,
            routes: rendered.routes,
            not_found: rendered.not_found,
            took: started.elapsed(),
            timings,
            next_publish_at: rendered.next_publish_at,
            base_url: content.site.base_url().map(str::to_owned),
            login: rendered.login,
            templates: rendered.templates,
        })
    }

    /// The response at `path`, if there is one.
    pub fn page(&self, path: &str) -> Option<&Page> {
        self.routes.get(path)
    }

    /// Every response, by request path.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &Page)> {
        self.routes.iter().map(|(path, page)| (&**path, page))
    }

    /// The 404 page.
    pub fn not_found(&self) -> &Page {
        &self.not_found
    }

    /// Renders `template` for a page whose data comes per request (the gallery).
    pub fn render_dynamic(
        &self,
        template: &str,
        path: &str,
        title: &str,
        extra: serde_json::Value,
    ) -> Result<String, minijinja::Error> {
        render::dynamic(
            &self.templates,
            self.base_url.as_deref(),
            template,
            path,
            title,
            extra,
        )
    }

    /// How many responses the site holds, and their total size uncompressed.
    pub fn size(&self) -> (usize, usize) {
        let bytes = self.routes.values().map(|p| p.body().len()).sum();
        (self.routes.len(), bytes)
    }
}

/// The site's routes. hearth's own pages each have a route, so metrics tell them apart;
/// Markdown pages and `static/` files share the last one. All are answered from the
/// rendered site by path.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(page))
        .route("/about", get(page))
        .route("/pdf", get(page))
        .route("/robots.txt", get(page))
        .route("/favicon.ico", get(page))
        .route("/blog", get(page))
        .route("/blog/{*rest}", get(page))
        .route("/tags", get(page))
        .route("/tags/{tag}", get(page))
        .route("/feed.xml", get(page))
        .route("/sitemap.xml", get(page))
        .route("/assets/{*file}", get(page))
        .route("/{*path}", get(page))
}

async fn page(State(app): State<App>, request: Request) -> Response {
    let site = app.site();
    let path = request.uri().path();
    if let Some(page) = site.page(path) {
        return page.respond(request.headers());
    }
    if path == "/api" || path.starts_with("/api/") {
        return crate::web::error::api_not_found(path);
    }
    // `/about/` means `/about`: send the visitor to the one address the page has.
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() < path.len()
        && site.page(trimmed).is_some()
        && let Ok(location) = HeaderValue::try_from(trimmed)
    {
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    site.not_found()
        .respond_with(StatusCode::NOT_FOUND, request.headers())
}

/// The HTML 404 page of the current site.
pub fn not_found(app: &App, headers: &axum::http::HeaderMap) -> Response {
    app.site()
        .not_found()
        .respond_with(StatusCode::NOT_FOUND, headers)
}
