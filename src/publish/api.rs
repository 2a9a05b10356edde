//! `/api/v1/posts`: list, read, create, replace and delete posts with a bearer token.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::{PostSource, PublishError, Submission, git};
use crate::App;
use crate::auth::{Caller, Role};
use crate::web::ApiError;

/// The routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/api/v1/posts", get(list).post(create))
        .route(
            "/api/v1/posts/{slug}",
            get(read).put(replace).delete(remove),
        )
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let (status, kind) = match &e {
            PublishError::BadSlug(_) => (StatusCode::BAD_REQUEST, "bad-slug"),
            PublishError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-post"),
            PublishError::Exists(_) => (StatusCode::CONFLICT, "post-exists"),
            PublishError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            PublishError::NoContentFolder => (StatusCode::CONFLICT, "no-content-folder"),
            PublishError::Git(git::GitError::Missing) => {
                return ApiError::unavailable(e.to_string());
            }
            PublishError::Git(_) | PublishError::Io(_) => return ApiError::internal(e),
        };
        ApiError::new(status, kind, e.to_string())
    }
}

/// A post in a listing.
#[derive(Serialize)]
struct Listed {
    slug: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<chrono::DateTime<chrono::Utc>>,
    tags: Vec<String>,
    draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_at: Option<chrono::DateTime<chrono::Utc>>,
    url: String,
    path: String,
}

async fn list(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let store = super::Store::of(&app)?;
    let posts = store.list().await?;
    let listed: Vec<Listed> = posts
        .into_iter()
        .map(|p| Listed {
            url: super::post_url(&app, &p.slug),
            slug: p.slug.as_str().to_owned(),
            title: p.source.title,
            date: p.source.date,
            tags: p.source.tags,
            draft: p.source.draft,
            publish_at: p.source.publish_at,
            path: p.path,
        })
        .collect();
    Ok(Json(serde_json::json!({ "posts": listed })).into_response())
}

/// A post with where it lives.
#[derive(Serialize)]
struct Read {
    #[serde(flatten)]
    source: PostSource,
    url: String,
    path: String,
}

async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let slug = super::slug(&slug)?;
    let store = super::Store::of(&app)?;
    let found = store
        .find(&slug)
        .await?
        .ok_or_else(|| PublishError::NotFound(slug.as_str().to_owned()))?;
    Ok(Json(Read {
        url: super::post_url(&app, &slug),
        source: found.source,
        path: found.path,
    })
    .into_response())
}

/// `POST /api/v1/posts?slug=…`: the slug a file's name gives, when its front matter has none.
#[derive(serde::Deserialize)]
struct CreateQuery {
    slug: Option<String>,
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    Query(query): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let slug = query.slug.as_deref().map(super::slug).transpose()?;
    let submission = submission(&headers, &body)?;
    let published = super::create(&app, &caller, submission, slug.as_ref()).await?;
    let mut response = (StatusCode::CREATED, Json(&published)).into_response();
    if let Ok(location) = HeaderValue::from_str(&published.url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn replace(
    State(app): State<App>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let slug = super::slug(&slug)?;
    let submission = submission(&headers, &body)?;
    let published = super::replace(&app, &caller, &slug, submission).await?;
    Ok(Json(published).into_response())
}

async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let slug = super::slug(&slug)?;
    super::delete(&app, &caller, &slug).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads a request body as Markdown (`text/markdown`) or JSON fields (`application/json`).
pub fn submission(headers: &HeaderMap, body: &[u8]) -> Result<Submission, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let unprocessable =
        |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-post", detail);
    let text = || {
        std::str::from_utf8(body)
            .map_err(|e| unprocessable(format!("the body is not UTF-8 text: {e}")))
    };
    match media.as_str() {
        "text/markdown" | "text/x-markdown" | "text/plain" => {
            Ok(Submission::Markdown(text()?.to_owned()))
        }
        "application/json" => {
            let mut json = serde_json::Deserializer::from_slice(body);
            serde_path_to_error::deserialize(&mut json)
                .map(Submission::Fields)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    if path == "." {
                        unprocessable(format!("the JSON body is not a post: {inner}"))
                    } else {
                        unprocessable(format!("{path}: {inner}"))
                    }
                })
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "send the post as text/markdown (a file with front matter) or application/json (its fields), not {:?}",
                if other.is_empty() {
                    "no Content-Type"
                } else {
                    other
                }
            ),
        )),
    }
}
