//! Request metrics: `http_requests_total` and `http_request_duration_seconds`, kept in
//! fixed atomic buckets. Recording is a read lock and a few atomic adds, with constant
//! memory however many requests pass between two scrapes.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use axum::http::Method;

/// Upper bounds of the latency buckets, seconds: from a page served from memory to a
/// slow database call.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counts by route template, then method, then status.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<String, Vec<MethodStats>>>,
}

#[derive(Debug)]
struct MethodStats {
    method: Method,
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    by_status: Vec<(u16, AtomicU64)>,
}

impl MethodStats {
    fn new(method: Method) -> Self {
        Self {
            method,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            by_status: Vec::new(),
        }
    }

    fn record(&self, status: u16, took: Duration) -> bool {
        let Some((_, count)) = self.by_status.iter().find(|(s, _)| *s == status) else {
            return false;
        };
        count.fetch_add(1, Relaxed);
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        true
    }
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn record(&self, method: &Method, route: &str, status: u16, took: Duration) {
        if let Ok(routes) = self.routes.read()
            && let Some(stats) = routes
                .get(route)
                .and_then(|m| m.iter().find(|s| s.method == *method))
            && stats.record(status, took)
        {
            return;
        }
        // First time for this route, method and status: add it, then count.
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let methods = routes.entry(route.to_owned()).or_default();
        let index = match methods.iter().position(|s| s.method == *method) {
            Some(index) => index,
            None => {
                methods.push(MethodStats::new(method.clone()));
                methods.len() - 1
            }
        };
        let stats = &mut methods[index];
        if !stats.by_status.iter().any(|(s, _)| *s == status) {
            stats.by_status.push((status, AtomicU64::new(0)));
        }
        stats.record(status, took);
    }

    /// Appends both families in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        let mut sorted: Vec<_> = routes.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));

        out.push_str(
            "# HELP http_requests_total HTTP requests answered, by route template and status.\n",
        );
        out.push_str("# TYPE http_requests_total counter\n");
        for (route, methods) in &sorted {
            let route = escape(route);
            for stats in methods.iter() {
                for (status, count) in &stats.by_status {
                    let _ = writeln!(
                        out,
                        "http_requests_total{{method=\"{}\",route=\"{route}\",status=\"{status}\"}} {}",
                        stats.method,
                        count.load(Relaxed)
                    );
                }
            }
        }

        out.push_str("# HELP http_request_duration_seconds Time to answer an HTTP request, by route template.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, methods) in &sorted {
            let route = escape(route);
            for stats in methods.iter() {
                let labels = format!("method=\"{}\",route=\"{route}\"", stats.method);
                let mut cumulative = 0;
                for (i, bucket) in stats.buckets.iter().enumerate() {
                    cumulative += bucket.load(Relaxed);
                    let le = LATENCY_BUCKETS
                        .get(i)
                        .map_or_else(|| "+Inf".to_owned(), f64::to_string);
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                let sum = stats.sum_nanos.load(Relaxed) as f64 / 1e9;
                let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {sum}");
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_count{{{labels}}} {cumulative}"
                );
            }
        }
    }
}

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_buckets_and_renders_cumulatively() {
        let m = HttpMetrics::default();
        m.record(&Method::GET, "/", 200, Duration::from_micros(300));
        m.record(&Method::GET, "/", 200, Duration::from_millis(3));
        m.record(&Method::GET, "/", 304, Duration::from_secs(20));
        m.record(&Method::POST, "/", 405, Duration::from_micros(10));
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"304\"} 1\n"));
        assert!(
            out.contains("http_requests_total{method=\"POST\",route=\"/\",status=\"405\"} 1\n")
        );
        let get = "method=\"GET\",route=\"/\"";
        assert!(out.contains(&format!(
            "http_request_duration_seconds_bucket{{{get},le=\"0.0005\"}} 1\n"
        )));
        assert!(out.contains(&format!(
            "http_request_duration_seconds_bucket{{{get},le=\"0.005\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "http_request_duration_seconds_bucket{{{get},le=\"10\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "http_request_duration_seconds_bucket{{{get},le=\"+Inf\"}} 3\n"
        )));
        assert!(out.contains(&format!("http_request_duration_seconds_count{{{get}}} 3\n")));
        assert!(out.contains(&format!(
            "http_request_duration_seconds_sum{{{get}}} 20.0033\n"
        )));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
