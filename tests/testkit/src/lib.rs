//! Real fake servers on loopback for Vigil's tests, benchmarks and network-namespace lab: DNS
//! resolvers that fail or inject, a DoH resolver, web servers that behave like CDNs and
//! censors, a control ("test helper"), and the lab CA their certificates come from.
//!
//! Every server binds where it is told (an IP for an OS-chosen port, or a full address), reports
//! its bound address, and stops when its handle is dropped.

pub mod blackhole;
pub mod ca;
pub mod control;
pub mod dns;
pub mod doh;
pub mod net;
pub mod web;
pub mod world;
pub mod zone;

pub use blackhole::Blackhole;
pub use ca::{CertAndKey, TestCa, self_signed};
pub use control::ControlServer;
pub use dns::DnsServer;
pub use doh::DohServer;
pub use net::{BindAddr, LOCALHOST};
pub use web::{CertKind, Site, TcpServer, WebBehaviour, WebServer, closed_port};
pub use world::{FakeWorld, PlatformSpec, Profile, WorldOptions};
pub use zone::{DnsBehaviour, Zone};

/// Install ring as rustls' process-wide crypto provider (idempotent).
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
