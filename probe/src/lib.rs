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
pub mod remote;
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

/// A fresh measurement id (the idempotency key for uploads): a UUIDv7 (RFC 9562) as 32 hex
/// digits — the time in milliseconds, then 74 random bits. Time-ordered ids keep the
/// collector's id index growing at its end instead of dirtying a random page per upload.
pub fn new_id() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    id_at(ms, rand::random())
}

/// The measurement id made at `ms` (Unix milliseconds) from these random bytes.
pub fn id_at(ms: u64, random: [u8; 10]) -> String {
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_ids_are_uuidv7_hex_ordered_by_time() {
        let (a, b) = (id_at(1_735_689_600_000, [0xff; 10]), id_at(1_735_689_600_001, [0; 10]));
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
            // The version nibble (7) and the RFC 9562 variant (10xx).
            assert_eq!(&id[12..13], "7", "{id}");
            assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"), "{id}");
        }
        assert!(a < b, "a later millisecond sorts after, whatever the random bits: {a} {b}");
        assert_eq!(&a[..12], "01941f297c00", "the time leads: 48 bits of Unix milliseconds");
        assert_ne!(new_id(), new_id());
    }
}
