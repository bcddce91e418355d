//! `GET /metrics` (with `ISR_METRICS=1`): the cache's counters in Prometheus's text format.
//!
//! The layer emits its counters through the `metrics` facade (its `metrics` feature); a
//! Prometheus recorder, installed once for the process, collects them and renders them here.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's Prometheus recorder, installed on first use.
///
/// # Panics
///
/// When another recorder was installed for the process first (a process has one).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed in this process")
        })
        .clone()
}

/// `GET /metrics`.
pub(crate) async fn scrape() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/plain; version=0.0.4"),
            (CACHE_CONTROL, "no-store"),
        ],
        recorder().render(),
    )
}
