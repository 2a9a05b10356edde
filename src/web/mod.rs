//! The HTTP server: the route table, the middleware stack, and serving with a graceful,
//! bounded shutdown.

pub mod api;
mod docs;
pub mod error;
pub mod observe;
pub mod page;

use std::future::Future;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::App;

/// The route table. Request bodies are limited to `server.body_limit`, photo uploads
/// to `photos.max_size`.
pub fn routes(app: App) -> Router {
    let body_limit = usize::try_from(app.config.server.body_limit).unwrap_or(usize::MAX);
    Router::new()
        .merge(crate::ops::router())
        .merge(crate::site::router())
        .merge(crate::publish::router())
        .merge(crate::auth::web::router())
        .merge(crate::photos::pages::router())
        .merge(api::router(app.config.photos.max_size))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .route_layer(observe::RouteLabelLayer)
        .fallback(error::fallback)
        .with_state(app)
}

/// The route table inside the layers every request goes through, outermost first:
/// observation (id, log, metrics, security headers), problem documents for API errors,
/// and the time limit.
/// They wrap the router once instead of each route, so a request does not clone them.
/// Compression is not among them: pages are compressed once when rendered, and the
/// routes that build a body per request add [`compression`] themselves.
pub fn service(
    app: App,
) -> impl Service<Request, Response = Response<Body>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    let server = &app.config.server;
    ServiceBuilder::new()
        .layer(observe::ObserveLayer::new(app.metrics.clone()))
        .layer(axum::middleware::from_fn(error::api_problems))
        .layer(axum::middleware::from_fn_with_state(
            (
                server.body_limit,
                app.config.photos.max_size.saturating_add(64 * 1024),
            ),
            declared_length,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            server.request_timeout,
        ))
        .service(routes(app))
}

/// Refuses a body whose declared length is over the limit before reading any of it:
/// `photos.max_size` (and room for the form) for photo uploads, `server.body_limit` for
/// everything else. Bodies without a declared length are bounded where they are read.
async fn declared_length(
    axum::extract::State((body_limit, upload_limit)): axum::extract::State<(u64, u64)>,
    request: Request,
    next: axum::middleware::Next,
) -> Response<Body> {
    let upload =
        request.method() == axum::http::Method::POST && request.uri().path() == "/api/v1/photos";
    let limit = if upload {
        upload_limit.max(body_limit)
    } else {
        body_limit
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        let mut response = Response::new(Body::from(format!(
            "the body is larger than this server accepts ({limit} bytes)\n"
        )));
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return response;
    }
    next.run(request).await
}

/// A request's media type, lower-cased and without parameters (`text/markdown`), or
/// `""` when it has none.
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// On-the-fly compression, for routes whose body is built per request.
pub fn compression() -> CompressionLayer {
    CompressionLayer::new().gzip(true).br(true)
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished.
    Drained,
    /// The grace period ran out with requests still running; exit without waiting more.
    Abandoned,
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish for up to the configured grace period.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Stopped> {
    let grace = app.config.server.shutdown_grace;
    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: draining in-flight requests"
        );
        let _ = draining_tx.send(());
    };
    let listener = listener.tap_io(|tcp| {
        // Small responses should leave at once, not wait for the peer's delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let service = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<
        std::net::SocketAddr,
    >(service(app));
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let bound = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => {
            tracing::info!("all requests finished; stopped");
            result.map(|()| Stopped::Drained)
        }
        () = bound => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over; abandoning the requests still running");
            Ok(Stopped::Abandoned)
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "signal received"),
        () = terminate => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}
