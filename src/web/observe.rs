//! The per-request machinery around every route, as one tower layer: the request id,
//! the access log line, request metrics by route template, and the security headers.
//! It is written by hand rather than with `from_fn` because it runs on every request:
//! one boxed future, no per-request clone of the app, no allocation for the metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Response, header};
use bytes::Bytes;
use tower::BoxError;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::ops::metrics::Metrics;

/// The header that carries the request id in and out.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a service with [`Observe`].
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    metrics: Metrics,
    ids: RequestIds,
}

impl ObserveLayer {
    /// Counts into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            shared: Arc::new(Shared {
                metrics,
                ids: RequestIds::new(),
            }),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: HttpBody<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| is_sane_id(v))
            .cloned()
            .unwrap_or_else(|| self.shared.ids.next());
        request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
        let method = request.method().clone();
        let uri = request.uri().clone();
        let span = tracing::info_span!("request", request.id = id.to_str().unwrap_or_default());
        let response = self.inner.call(request).instrument(span);
        let shared = Arc::clone(&self.shared);

        Box::pin(async move {
            let mut response = response.await?;
            let took = started.elapsed();
            let status = response.status().as_u16();
            let route = response
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            shared.metrics.http_request(&method, route, status, took);
            tracing::info!(
                request.id = id.to_str().unwrap_or_default(),
                http.method = method.as_str(),
                http.route = route,
                http.path = uri.path(),
                http.status = status,
                duration_ms = took.as_secs_f64() * 1000.0,
                "request"
            );
            add_default_headers(response.headers_mut(), id);
            Ok(response.map(Body::new))
        })
    }
}

static COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
static PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// Computed at compile time: building a `HeaderValue` at run time checks every byte.
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const CSP: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
);
const REFERRER: HeaderValue = HeaderValue::from_static("strict-origin-when-cross-origin");
const DENY: HeaderValue = HeaderValue::from_static("DENY");
const SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
const PERMISSIONS: HeaderValue =
    HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()");

/// Security headers every response carries unless its handler chose its own, and the
/// request id.
fn add_default_headers(headers: &mut axum::http::HeaderMap, id: HeaderValue) {
    headers.reserve(8);
    headers
        .entry(&header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(NOSNIFF);
    headers
        .entry(&header::CONTENT_SECURITY_POLICY)
        .or_insert(CSP);
    headers.entry(&header::REFERRER_POLICY).or_insert(REFERRER);
    headers.entry(&header::X_FRAME_OPTIONS).or_insert(DENY);
    headers.entry(&COOP).or_insert(SAME_ORIGIN);
    headers.entry(&PERMISSIONS_POLICY).or_insert(PERMISSIONS);
    headers.insert(&REQUEST_ID, id);
}

/// A client's id is kept if it is short and plain; anything else is replaced.
fn is_sane_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// Request ids: a random prefix per process and a counter, so making one is an
/// increment rather than a call into the kernel for randomness.
#[derive(Debug)]
struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let random = uuid::Uuid::new_v4().as_u64_pair();
        Self {
            prefix: random.0,
            next: AtomicU64::new(random.1 >> 32),
        }
    }

    fn next(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut text = [0u8; 32];
        for (i, byte) in self
            .prefix
            .to_be_bytes()
            .iter()
            .chain(&n.to_be_bytes())
            .enumerate()
        {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        HeaderValue::from_maybe_shared(Bytes::copy_from_slice(&text))
            .unwrap_or(HeaderValue::from_static("unknown"))
    }
}

/// Copies the matched route template into the response, where [`Observe`] (which runs
/// before routing) can read it. Applied with `Router::route_layer`.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabelLayer;

impl<S> Layer<S> for RouteLabelLayer {
    type Service = RouteLabel<S>;

    fn layer(&self, inner: S) -> RouteLabel<S> {
        RouteLabel { inner }
    }
}

/// See [`RouteLabelLayer`].
#[derive(Debug, Clone)]
pub struct RouteLabel<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for RouteLabel<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if let Some(route) = route {
                response.extensions_mut().insert(route);
            }
            Ok(response)
        })
    }
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
    }

    #[test]
    fn generated_ids_are_unique_and_sane() {
        let ids = RequestIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_sane_id(&a) && is_sane_id(&b));
        assert_ne!(RequestIds::new().next(), a);
    }
}
