//! Prometheus metrics. The recorder belongs to the [`App`](crate::App), not to a global,
//! so every app (and every test) counts on its own; code records through
//! [`Metrics::record`] with the `metrics` crate's macros. Request metrics, recorded on
//! every request, have their own fixed-bucket store ([`HttpMetrics`]): the exporter's
//! histograms keep every sample until a scrape, which costs memory under load.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use metrics::{describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::http_metrics::HttpMetrics;
use super::process::ProcessStats;
use crate::telemetry::{REVISION, VERSION};

/// This app's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    /// Request counts and latencies, kept apart for speed.
    http: Arc<HttpMetrics>,
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
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let metrics = Self {
            recorder: Arc::new(recorder),
            handle,
            http: Arc::default(),
        };
        metrics.record(|| {
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
    pub fn http_request(&self, method: &Method, route: &str, status: u16, took: Duration) {
        self.http.record(method, route, status, took);
    }

    /// Notes the schema version last seen in the database.
    pub fn schema_version(&self, version: i64) {
        self.record(|| gauge!("hearth_schema_version").set(version as f64));
    }

    /// The Prometheus text exposition, with the process figures read now.
    pub fn render(&self) -> String {
        let mut out = self.handle.render();
        self.http.render(&mut out);
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
