//! `/api/v1`: the JSON API's route table and its OpenAPI 3.1 document, generated from the
//! handlers' annotations, served at `/api/v1/openapi.json` with interactive docs at
//! `/api/v1/docs` ([`super::docs`]).

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::HeaderMap;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::page::Page;
use crate::App;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hearth",
        description = "The API of a hearth site: publishing posts, accounts and sessions. \
                       Errors are RFC 9457 problem documents whose `type` names the kind of error.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/", description = "this site")),
    modifiers(&Security),
    tags(
        (name = "posts", description = "Blog posts in the content folder"),
        (name = "session", description = "Signing in and out, and accounts"),
        (name = "photos", description = "Photos: files in object storage, text in the database"),
    ),
)]
struct Doc;

/// The two ways to authenticate: an API token, or the session cookie of a signed-in browser.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from `hearth token create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::session::COOKIE,
                "The session cookie set by signing in; changes must come from the site's own pages",
            ))),
        );
    }
}

/// The API's routes and the document that describes them. Photo uploads may be as large
/// as `photo_limit` (and a little more, for the form around the file); other bodies are
/// limited by the layer around the whole router.
pub fn parts(photo_limit: u64) -> (Router<App>, utoipa::openapi::OpenApi) {
    let uploads = usize::try_from(photo_limit.saturating_add(64 * 1024)).unwrap_or(usize::MAX);
    let v1 = OpenApiRouter::new()
        .routes(routes!(
            crate::publish::api::list,
            crate::publish::api::create
        ))
        .routes(routes!(
            crate::publish::api::read,
            crate::publish::api::replace,
            crate::publish::api::remove
        ))
        .routes(routes!(
            crate::auth::web::whoami,
            crate::auth::web::login_api,
            crate::auth::web::logout_api
        ))
        .routes(routes!(crate::auth::web::users))
        .routes(routes!(crate::photos::api::list))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(crate::photos::api::upload))
                .layer(axum::extract::DefaultBodyLimit::max(uploads)),
        )
        .routes(routes!(
            crate::photos::api::read,
            crate::photos::api::patch,
            crate::photos::api::remove
        ));
    OpenApiRouter::with_openapi(Doc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts()
}

/// The routes, the document and its docs page.
pub fn router(photo_limit: u64) -> Router<App> {
    let (router, spec) = parts(photo_limit);
    // Serialised and compressed on the first request for it, not at start-up.
    let spec = Arc::new(LazyLock::new(move || {
        Page::new(
            serde_json::to_vec(&spec).unwrap_or_default(),
            "application/json",
        )
    }));
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move |headers: HeaderMap| {
                std::future::ready(spec.respond(&headers))
            }),
        )
        .merge(super::docs::router())
}
