//! Per-request machinery: the request id, the access log line, request metrics and the
//! security headers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::App;

/// The header that carries the request id in and out.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives the request an id (the caller's `X-Request-Id` if it is sane), runs it inside a
/// span that carries the id, then logs one line and counts it by route template.
pub async fn observe(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| is_sane_id(v))
        .cloned()
        .unwrap_or_else(new_id);
    request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let path = request.uri().path().to_owned();
    let id_text = id.to_str().unwrap_or_default().to_owned();

    let span = tracing::info_span!("request", request.id = %id_text);
    let mut response = next.run(request).instrument(span).await;

    let status = response.status().as_u16();
    let took = started.elapsed();
    app.metrics
        .http_request(method.as_str(), &route, status, took);
    tracing::info!(
        request.id = %id_text,
        http.method = %method,
        http.route = %route,
        http.path = %path,
        http.status = status,
        duration_ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

fn is_sane_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

fn new_id() -> HeaderValue {
    let id = uuid::Uuid::new_v4().simple().to_string();
    HeaderValue::try_from(id).unwrap_or(HeaderValue::from_static("unknown"))
}

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Headers every response carries unless the handler chose its own.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_clients_are_checked() {
        assert!(is_sane_id(&HeaderValue::from_static("abc-123_x.y:z")));
        assert!(!is_sane_id(&HeaderValue::from_static("")));
        assert!(!is_sane_id(&HeaderValue::from_static("has space")));
        assert!(!is_sane_id(
            &HeaderValue::from_str(&"a".repeat(129)).unwrap()
        ));
        assert!(is_sane_id(&new_id()));
    }
}
