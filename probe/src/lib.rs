//! Vigil's probe: measures DNS, TCP, TLS and HTTP reachability of social platforms and decides,
//! like OONI's Web Connectivity but naming the mechanism more precisely, whether each is blocked.
//!
//! Data flows one way: [`dns`], [`tls`] and [`http`] observe the network and record OONI-style
//! events; [`classify`] turns those records into a verdict without touching a socket; [`measure`]
//! runs one endpoint; [`runner`] runs many (a `check`, or the whole [`battery`]) with bounded
//! concurrency; [`cli`] is the command line.

pub mod battery;
pub mod bogon;
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
pub mod spool;
pub mod stats;
pub mod timestamp;
pub mod tls;
pub mod upload;

/// A fresh measurement id: 128 random bits, hex (the idempotency key for uploads).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
