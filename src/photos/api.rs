//! `/api/v1/photos`: upload (multipart), list, read, change and delete photos.

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Photo, PhotoFailure, Text};
use crate::App;
use crate::auth::{Caller, Role};
use crate::web::ApiError;
use crate::web::error::Problem;

impl From<PhotoFailure> for ApiError {
    fn from(e: PhotoFailure) -> Self {
        match &e {
            PhotoFailure::Image(image) => {
                let status = StatusCode::from_u16(image.status())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                if status.is_server_error() {
                    return ApiError::internal(e);
                }
                let kind = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too-large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "not-an-image",
                    _ => "bad-image",
                };
                ApiError::new(status, kind, e.to_string())
            }
            PhotoFailure::BadField(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-photo",
                e.to_string(),
            ),
            PhotoFailure::NotFound(_) => ApiError::not_found(e.to_string()),
            PhotoFailure::Storage(_) | PhotoFailure::Db(_) => ApiError::unavailable(e.to_string()),
        }
    }
}

/// The upload form: the file and its text.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Upload {
    /// The image: JPEG, PNG, GIF or WebP (judged by its bytes).
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
    /// Its title.
    title: String,
    /// A longer description.
    caption: Option<String>,
    /// Its album.
    album: Option<String>,
}

/// Upload a photo (`multipart/form-data`: `file`, `title`, `caption`, `album`).
#[utoipa::path(
    post, path = "/photos", tag = "photos",
    request_body(content = Upload, content_type = "multipart/form-data"),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 201, description = "Stored, with its thumbnail and display sizes", body = Photo,
            headers(("Location" = String, description = "The photo's page"))),
        (status = 400, description = "The form could not be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over `photos.max_size`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The file is not a JPEG, PNG, GIF or WebP image", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A truncated or damaged image, too many pixels, or a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database or the object store cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn upload(
    State(app): State<App>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Editor)?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-form",
            format!("send multipart/form-data with a file field: {e}"),
        )
    })?;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        ApiError::new(
            status,
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too-large"
            } else {
                "bad-form"
            },
            format!("the form could not be read: {e}"),
        )
    };
    let mut file: Option<Bytes> = None;
    let mut text = Text::default();
    while let Some(field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => file = Some(field.bytes().await.map_err(bad_form)?),
            "title" | "caption" | "album" => {
                let value = field.text().await.map_err(bad_form)?;
                match name.as_str() {
                    "title" => text.title = Some(value),
                    "caption" => text.caption = Some(value),
                    _ => text.album = Some(value),
                }
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-photo",
                    format!("unknown field {other:?}: send file, title, caption and album"),
                ));
            }
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-photo",
            "file: the form has no file field",
        )
    })?;
    let photo = super::upload(&app, &caller, file, text).await?;
    let mut response = (StatusCode::CREATED, Json(&photo)).into_response();
    if let Ok(location) = HeaderValue::from_str(&photo.url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Which photos to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this album's.
    album: Option<String>,
}

/// Every photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoList {
    /// Newest first.
    photos: Vec<Photo>,
}

/// List photos, newest first.
#[utoipa::path(
    get, path = "/photos", tag = "photos",
    params(ListQuery),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The photos", body = PhotoList),
        (status = 400, description = "The query could not be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<PhotoList>, ApiError> {
    caller.require(Role::Editor)?;
    let photos = super::list(&app, query.album.as_deref())
        .await
        .map_err(|e| ApiError::unavailable(format!("the database failed: {e}")))?;
    Ok(Json(PhotoList { photos }))
}

/// A photo's id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The photo's id.
    #[allow(dead_code)]
    #[param(minimum = 1)]
    id: i64,
}

fn id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-id",
            format!("{raw:?} is not a photo id (a positive whole number)"),
        )
    })
}

/// Read a photo.
#[utoipa::path(
    get, path = "/photos/{id}", tag = "photos",
    params(IdPath),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The photo", body = Photo),
        (status = 400, description = "Not a photo id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No photo has this id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Photo>, ApiError> {
    caller.require(Role::Editor)?;
    Ok(Json(super::get(&app, id(&raw)?).await?))
}

/// Change a photo's title, caption or album.
#[utoipa::path(
    patch, path = "/photos/{id}", tag = "photos",
    params(IdPath),
    request_body = Text,
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The photo as changed", body = Photo),
        (status = 400, description = "Not a photo id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No photo has this id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `server.body_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks its rule, or is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn patch(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    body: Result<Json<Text>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Photo>, ApiError> {
    caller.require(Role::Editor)?;
    let id = id(&raw)?;
    let Json(text) = body.map_err(|e| {
        ApiError::new(
            e.status(),
            if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                "unsupported-media-type"
            } else {
                "invalid-photo"
            },
            e.body_text(),
        )
    })?;
    Ok(Json(super::update(&app, &caller, id, text).await?))
}

/// Delete a photo and the files no other photo uses.
#[utoipa::path(
    delete, path = "/photos/{id}", tag = "photos",
    params(IdPath),
    security(("token" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a photo id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token or session, or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session-authenticated request from another site", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No photo has this id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database or the object store cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Editor)?;
    super::delete(&app, &caller, id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
