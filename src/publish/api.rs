//! `/api/v1/posts`: list, read, create, replace and delete posts with a bearer token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::{PostSource, PublishError, Published, Submission, git};
use crate::App;
use crate::auth::{Caller, Role};
use crate::web::ApiError;
use crate::web::error::Problem;

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
#[derive(Debug, Serialize, ToSchema)]
pub struct Listed {
    /// Its address part.
    slug: String,
    /// Its title.
    title: String,
    /// When it was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<chrono::DateTime<chrono::Utc>>,
    /// Its tags.
    tags: Vec<String>,
    /// Never public while true.
    draft: bool,
    /// Not public before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its address on the site.
    url: String,
    /// Its file in the content folder.
    path: String,
}

/// Every post.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostList {
    /// Newest first, drafts and scheduled posts included.
    posts: Vec<Listed>,
}

/// List every post, drafts included.
#[utoipa::path(
    get, path = "/posts", tag = "posts",
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Every post, newest first", body = PostList),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The server shows the built-in demo site", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
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
    Ok(Json(PostList { posts: listed }).into_response())
}

/// A post with where it lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct Read {
    /// Its fields and body, as `POST` and `PUT` take them.
    post: PostSource,
    /// Its address on the site.
    url: String,
    /// Its file in the content folder.
    path: String,
}

/// The slug in a post's address.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SlugPath {
    /// Lower-case letters, digits, `-` and `_`.
    #[allow(dead_code)]
    #[param(pattern = "^[a-z0-9_][a-z0-9_-]{0,199}$")]
    slug: String,
}

/// Read a post: its fields and Markdown body.
#[utoipa::path(
    get, path = "/posts/{slug}", tag = "posts",
    params(SlugPath),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The post", body = Read),
        (status = 400, description = "The slug could leave the posts folder or is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No post has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The server shows the built-in demo site", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn read(
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
        post: found.source,
        path: found.path,
    })
    .into_response())
}

/// `POST /api/v1/posts?slug=…`: the slug a file's name gives, when its front matter has none.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// The slug to use when the post gives none (a Markdown file's name).
    #[param(pattern = "^[a-z0-9_][a-z0-9_-]{0,199}$")]
    slug: Option<String>,
}

/// Create a post from a Markdown file with front matter, or from fields.
#[utoipa::path(
    post, path = "/posts", tag = "posts",
    params(CreateQuery),
    request_body(content(
        (PostSource = "application/json"),
        (String = "text/markdown", example = "+++\ntitle = \"Hello\"\ndate = 2026-11-22\n+++\nHello *world*.\n"),
    )),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created and rendered; `Location` is its address", body = Published,
            headers(("Location" = String, description = "The post's address"))),
        (status = 400, description = "The slug could leave the posts folder or is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A post has this slug, or the server shows the built-in demo site", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `server.body_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/markdown nor application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The post does not parse; the detail names the field", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached, or committing needs git", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
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

/// Replace a post (in its folder, if it has one).
#[utoipa::path(
    put, path = "/posts/{slug}", tag = "posts",
    params(SlugPath),
    request_body(content(
        (PostSource = "application/json"),
        (String = "text/markdown"),
    )),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Replaced and rendered", body = Published),
        (status = 400, description = "The slug could leave the posts folder or is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No post has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The server shows the built-in demo site", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `server.body_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/markdown nor application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The post does not parse, or its slug differs from the address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached, or committing needs git", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn replace(
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

/// Delete a post, with its folder if it has one.
#[utoipa::path(
    delete, path = "/posts/{slug}", tag = "posts",
    params(SlugPath),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The slug could leave the posts folder or is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No post has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The server shows the built-in demo site", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached, or committing needs git", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn remove(
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
    let media = crate::web::media_type(headers);
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
