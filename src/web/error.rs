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

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
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
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
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
