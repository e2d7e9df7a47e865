//! Vigil's probe: measures DNS, TCP, TLS and HTTP reachability of social platforms and decides,
//! like OONI's Web Connectivity but naming the mechanism more precisely, whether each is blocked.
//!
//! Data flows one way: [`dns`], [`tls`] and [`http`] observe the network and record OONI-style
//! events; [`classify`] turns those records into a verdict without touching a socket; [`measure`]
//! runs one endpoint; [`runner`] runs many (a `check`, or the whole [`battery`]) with bounded
//! concurrency; [`cli`] is the command line.

pub mod battery;
pub mod bogon;
pub mod charset;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod failure_map;
pub mod fingerprint;
pub mod heartbeat;
pub mod http;
pub mod identity;
pub mod measure;
pub mod output;
pub mod platform;
pub mod runner;
pub mod skew;
pub mod spool;
pub mod stats;
pub mod throttle;
pub mod timestamp;
pub mod tls;
pub mod upload;

/// A measurement envelope with everything the probe's tests share: a fresh id, the format and
/// software versions, and `measurement_start_time` now. Callers override what differs
/// (`resolver_ip`, `test_runtime`, ...) with struct update syntax.
pub fn envelope<K>(
    test_name: &str,
    input: Option<String>,
    test_start_time: String,
    probe_asn: String,
    probe_cc: String,
    test_keys: K,
) -> vigil_report::Measurement<K> {
    vigil_report::Measurement {
        id: new_id(),
        data_format_version: vigil_report::DATA_FORMAT_VERSION.into(),
        measurement_start_time: timestamp::now(),
        test_start_time,
        input,
        test_name: test_name.into(),
        test_version: vigil_report::TEST_VERSION.into(),
        software_name: vigil_report::SOFTWARE_NAME.into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        probe_asn,
        probe_cc,
        resolver_ip: None,
        test_runtime: 0.0,
        annotations: Default::default(),
        test_keys,
    }
}

/// A fresh measurement id: 128 random bits, hex (the idempotency key for uploads).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
