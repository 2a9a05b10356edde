//! Prometheus metrics. The recorder belongs to the [`App`](crate::App), not to a global,
//! so every app (and every test) counts on its own; code records through
//! [`Metrics::record`] with the `metrics` crate's macros.

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::process::ProcessStats;
use crate::telemetry::{REVISION, VERSION};

/// Latency buckets, seconds: from a cached page to a slow database call.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// This app's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every hearth metric described.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_owned()),
                LATENCY_BUCKETS,
            )
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let metrics = Self {
            recorder: Arc::new(recorder),
            handle,
        };
        metrics.record(|| {
            describe_counter!(
                "http_requests_total",
                "HTTP requests answered, by route template and status."
            );
            describe_histogram!(
                "http_request_duration_seconds",
                metrics::Unit::Seconds,
                "Time to answer an HTTP request, by route template."
            );
            describe_gauge!(
                "hearth_build_info",
                "Always 1; labels say which hearth this is."
            );
            describe_gauge!(
                "hearth_schema_version",
                "The database schema version last seen."
            );
            gauge!("hearth_build_info", "version" => VERSION, "revision" => REVISION).set(1.0);
        });
        metrics
    }

    /// Runs `f` with this registry as the recorder for the `metrics` macros.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    /// Counts one answered request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.record(|| {
            let labels = [
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ];
            counter!("http_requests_total", &labels).increment(1);
            histogram!(
                "http_request_duration_seconds",
                "method" => method.to_owned(),
                "route" => route.to_owned()
            )
            .record(took.as_secs_f64());
        });
    }

    /// Notes the schema version last seen in the database.
    pub fn schema_version(&self, version: i64) {
        self.record(|| gauge!("hearth_schema_version").set(version as f64));
    }

    /// The Prometheus text exposition, with the process figures read now.
    pub fn render(&self) -> String {
        let mut out = self.handle.render();
        let stats = ProcessStats::read();
        let families = [
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                stats.resident_memory_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                stats.virtual_memory_bytes,
            ),
            (
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent in seconds.",
                stats.cpu_seconds,
            ),
            (
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                stats.open_fds,
            ),
            (
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                stats.max_fds,
            ),
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                stats.start_time_seconds,
            ),
            (
                "process_threads",
                "gauge",
                "Number of OS threads in the process.",
                stats.threads,
            ),
        ];
        for (name, kind, help, value) in families {
            if let Some(value) = value {
                out.push_str(&format!(
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
                ));
            }
        }
        out
    }
}
