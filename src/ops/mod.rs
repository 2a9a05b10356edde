//! Operating hearth: liveness, readiness, health and metrics.

pub mod health;
pub mod http_metrics;
pub mod metrics;
pub mod process;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::App;

/// `/ping`, `/ready`, `/health`, `/metrics`.
pub fn router() -> Router<App> {
    Router::new()
        .route("/ping", get(ping))
        .route("/ready", get(ready))
        .route("/health", get(health).layer(crate::web::compression()))
        .route("/metrics", get(metrics).layer(crate::web::compression()))
}

const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// Alive: touches nothing.
async fn ping() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            NO_STORE,
        ],
        "pong",
    )
}

/// Ready for traffic: the database answers at a schema this binary runs on.
async fn ready(State(app): State<App>) -> Response {
    let (status, body) = match health::schema(&app).await {
        Ok(state) if state.is_runnable() => (
            StatusCode::OK,
            json!({"status": "ready", "schema_version": state.version()}),
        ),
        Ok(state) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "not ready", "reason": state.to_string()}),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "not ready", "reason": reason}),
        ),
    };
    (status, [NO_STORE], Json(body)).into_response()
}

/// Every check, as JSON; 503 when one fails.
async fn health(State(app): State<App>) -> Response {
    let report = health::report(&app).await;
    let status = match report.status {
        health::Status::Fail => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (status, [NO_STORE], Json(report)).into_response()
}

/// Prometheus text exposition.
async fn metrics(State(app): State<App>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            NO_STORE,
        ],
        app.metrics.render(),
    )
}
