//! The public site: content loaded from a folder (or the built-in demo), rendered once
//! into memory, served with validators.

pub mod content;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, context};

use crate::App;
use crate::web::page::Page;
pub use content::{Content, ContentError, Source};

/// A rendered site: every page in memory.
#[derive(Debug)]
pub struct Site {
    /// Where the content came from.
    pub source: Source,
    /// Which revision of it.
    pub revision: String,
    /// Pages by path.
    pages: HashMap<&'static str, Page>,
    /// Static assets by file name.
    assets: HashMap<&'static str, Page>,
    /// The page shown for a path with nothing behind it.
    not_found: Page,
}

const ASSETS: &[(&str, &str, &str)] = &[(
    "site.css",
    include_str!("assets/site.css"),
    "text/css; charset=utf-8",
)];

impl Site {
    /// Loads and renders the site.
    pub fn build(source: Source) -> Result<Site, SiteError> {
        let content = Content::load(source)?;
        let env = templates()?;
        let ctx = context! {
            site => &content.site,
            resume => &content.resume,
            version => crate::telemetry::VERSION,
        };
        let render = |name: &str| -> Result<Page, SiteError> {
            let html = env.get_template(name)?.render(&ctx)?;
            Ok(Page::new(html, "text/html; charset=utf-8"))
        };
        let pages = HashMap::from([("/", render("resume.html")?)]);
        let not_found = render("not_found.html")?;
        let assets = ASSETS
            .iter()
            .map(|(name, body, kind)| (*name, Page::new(*body, kind)))
            .collect();
        Ok(Site {
            source: content.source,
            revision: content.revision,
            pages,
            assets,
            not_found,
        })
    }

    /// The page at `path`, if there is one.
    pub fn page(&self, path: &str) -> Option<&Page> {
        self.pages.get(path)
    }

    /// The 404 page.
    pub fn not_found(&self) -> &Page {
        &self.not_found
    }
}

/// Why the site could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A content file is missing or malformed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A template failed to load or render.
    #[error("template {}: {}", .0.name().unwrap_or("?"), .0)]
    Template(#[from] minijinja::Error),
}

fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.add_template("base.html", include_str!("templates/base.html"))?;
    env.add_template("resume.html", include_str!("templates/resume.html"))?;
    env.add_template("not_found.html", include_str!("templates/not_found.html"))?;
    Ok(env)
}

/// `/` and `/assets/{file}`.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/assets/{file}", get(asset))
}

async fn home(State(app): State<App>, headers: HeaderMap) -> Response {
    let site = app.site();
    match site.page("/") {
        Some(page) => page.respond(&headers),
        None => site
            .not_found()
            .respond_with(StatusCode::NOT_FOUND, &headers),
    }
}

async fn asset(State(app): State<App>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let site = app.site();
    match site.assets.get(file.as_str()) {
        Some(page) => page.respond(&headers),
        None => site
            .not_found()
            .respond_with(StatusCode::NOT_FOUND, &headers),
    }
}

/// The HTML 404 page of the current site.
pub fn not_found(app: &App, headers: &HeaderMap) -> Response {
    app.site()
        .not_found()
        .respond_with(StatusCode::NOT_FOUND, headers)
        .into_response()
}
