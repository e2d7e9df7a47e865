//! Prometheus metrics: submissions by outcome and code, enrollments, ingest latency, DB size,
//! rate-limited requests and the client networks each rate limit tracks.

use std::path::Path;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The collector's metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Measurements by `status` (accepted, duplicate, rejected) and `code` (`none` unless rejected).
    pub measurements: IntCounterVec,
    /// Whole submissions refused before any item was looked at, by `code`.
    pub submissions_refused: IntCounterVec,
    /// Enrollments by `result` (new, existing, or the error code).
    pub enrollments: IntCounterVec,
    /// Seconds from receiving a batch to its signed acknowledgement.
    pub ingest_seconds: HistogramVec,
    pub db_size_bytes: IntGauge,
    /// Requests refused by a per-network rate limit, by `limit` (control, enrollment, read).
    pub rate_limited: IntCounterVec,
    /// Client networks each per-network rate limit tracks now, by `limit`.
    pub rate_limit_networks: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let measurements = IntCounterVec::new(
            Opts::new("vigil_measurements_total", "Submitted measurements by outcome and error code"),
            &["status", "code"],
        )
        .expect("valid metric");
        let submissions_refused = IntCounterVec::new(
            Opts::new("vigil_submissions_refused_total", "Whole submissions refused, by error code"),
            &["code"],
        )
        .expect("valid metric");
        let enrollments =
            IntCounterVec::new(Opts::new("vigil_enrollments_total", "Enrollment requests by result"), &["result"])
                .expect("valid metric");
        let ingest_seconds = HistogramVec::new(
            HistogramOpts::new("vigil_ingest_seconds", "Time to check, store and acknowledge a batch")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &[],
        )
        .expect("valid metric");
        let db_size_bytes =
            IntGauge::new("vigil_db_size_bytes", "Size of the SQLite database and its WAL").expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new("vigil_rate_limited_total", "Requests refused by a per-network rate limit"),
            &["limit"],
        )
        .expect("valid metric");
        let rate_limit_networks = IntGaugeVec::new(
            Opts::new("vigil_rate_limit_networks", "Client networks a per-network rate limit tracks"),
            &["limit"],
        )
        .expect("valid metric");
        for c in [
            Box::new(measurements.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(submissions_refused.clone()),
            Box::new(enrollments.clone()),
            Box::new(ingest_seconds.clone()),
            Box::new(db_size_bytes.clone()),
            Box::new(rate_limited.clone()),
            Box::new(rate_limit_networks.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            measurements,
            submissions_refused,
            enrollments,
            ingest_seconds,
            db_size_bytes,
            rate_limited,
            rate_limit_networks,
        }
    }

    /// The text exposition, after refreshing the DB size from `db_path`.
    pub fn render(&self, db_path: &Path) -> String {
        self.db_size_bytes.set(db_size(db_path) as i64);
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            return format!("# encoding metrics failed: {e}\n");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Bytes of the database file plus its WAL.
pub fn db_size(db_path: &Path) -> u64 {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    [db_path.to_path_buf(), wal.into()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}
