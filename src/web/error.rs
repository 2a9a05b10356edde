//! The error answer at the HTTP boundary: RFC 9457 problem+json for the API, the site's
//! 404 page for browsers. Server errors are logged once and shown without internals.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::App;

/// An API error: a status, a stable kind and a message for the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    detail: String,
}

/// An error, as RFC 9457 `application/problem+json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Names the kind of error, stably: `https://hearth.invalid/problems/<kind>`.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    kind: String,
    /// The HTTP status's phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What is wrong, for a person.
    detail: String,
}

impl ApiError {
    /// A client error with a precise message.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
        }
    }

    /// 404 for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", what)
    }

    /// 503: a dependency (the database, usually) cannot answer now; try again later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::warn!(%detail, "request refused: a dependency is unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A server error: `source` is logged, the client sees a generic message.
    pub fn internal(source: impl std::fmt::Display) -> Self {
        tracing::error!(error = %source, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete this request; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("https://hearth.invalid/problems/{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Makes every error answer under `/api/` a problem document, including those made
/// before a handler runs (axum's extractor rejections, 405, the body limit's 413, the
/// time limit's 503), keeping their status and headers (`Allow`, `Retry-After`).
pub async fn api_problems(request: Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said).trim().to_owned();
    let (kind, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this method is not allowed here; the Allow header lists those that are".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            "the body is larger than this server accepts (server.body_limit)".to_owned(),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "unavailable",
            "the request took longer than this server allows (server.request_timeout)".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", said),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-request", said),
        _ if status.is_client_error() => ("bad-request", said),
        _ => (
            "internal",
            "the server could not complete this request; it has been logged".to_owned(),
        ),
    };
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        detail
    };
    let mut problem = ApiError::new(status, kind, detail).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in &parts.headers {
        problem.headers_mut().insert(name.clone(), value.clone());
    }
    problem
}

/// Whatever no route matched: problem+json under `/api`, the 404 page elsewhere.
pub async fn fallback(State(app): State<App>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        api_not_found(path)
    } else {
        crate::site::not_found(&app, request.headers())
    }
}

/// The problem+json 404 for a path under `/api` that nothing answers.
pub fn api_not_found(path: &str) -> Response {
    ApiError::not_found(format!("no API endpoint at {path}")).into_response()
}
