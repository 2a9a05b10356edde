//! `/api/v1/docs`: Swagger UI over the API's OpenAPI document, entirely from the binary,
//! so the page works offline and loads nothing from elsewhere. The Swagger UI files were
//! gzip-compressed at build time (`build.rs`); the gzip form is served as it is.

use std::sync::LazyLock;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::get;

use super::page::Page;
use crate::App;

const PREFIX: &str = "/api/v1/docs";

/// The page and the files it loads, by name under [`PREFIX`] (the page is `""`), in the
/// order of [`FILES`].
const NAMES: [&str; 4] = [
    "",
    "swagger-initializer.js",
    "swagger-ui-bundle.js",
    "swagger-ui.css",
];

/// Made on the first request for the docs: the bundle is 1.5 MB once inflated.
static FILES: LazyLock<[Page; 4]> = LazyLock::new(|| {
    let built = |gzip: &'static [u8], content_type| {
        // The bytes were compressed by build.rs a moment before they were included.
        Page::from_gzip(gzip, content_type).expect("build.rs wrote valid gzip")
    };
    let javascript = "text/javascript; charset=utf-8";
    [
        Page::new(include_str!("docs/index.html"), "text/html; charset=utf-8"),
        Page::new(include_str!("docs/swagger-initializer.js"), javascript),
        built(
            include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.gz")),
            javascript,
        ),
        built(
            include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.gz")),
            "text/css; charset=utf-8",
        ),
    ]
});

/// `/api/v1/docs` (redirected to the page's own folder, which its relative links need),
/// the page, and its files. Other names under it are the API's 404.
pub fn router() -> Router<App> {
    let mut router = Router::new().route(
        PREFIX,
        get(|| async { Redirect::permanent(&format!("{PREFIX}/")) }),
    );
    for (index, name) in NAMES.into_iter().enumerate() {
        router = router.route(
            &format!("{PREFIX}/{name}"),
            get(move |headers: HeaderMap| std::future::ready(FILES[index].respond(&headers))),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swagger_files_inflate_to_what_the_page_expects() {
        let file = |name: &str| {
            let index = NAMES.iter().position(|n| *n == name).expect(name);
            String::from_utf8_lossy(FILES[index].body()).into_owned()
        };
        assert!(file("swagger-ui-bundle.js").contains("SwaggerUIBundle"));
        assert!(file("swagger-ui.css").contains(".swagger-ui"));
        let page = file("");
        for name in NAMES.iter().filter(|n| !n.is_empty()) {
            assert!(
                page.contains(&format!("\"{name}\"")),
                "the page does not load {name}"
            );
        }
    }
}
