//! Vigil's collector: enrolls probe keys, checks and stores signed measurements in SQLite
//! (one writer thread, acknowledged only after COMMIT), enriches them with ASN and country
//! (never the address), and serves the API described in `collector/openapi.json`.

pub mod admin_client;
pub mod api_admin;
pub mod api_charts;
pub mod api_disclosures;
pub mod api_events;
pub mod api_measurements;
pub mod api_probe;
pub mod api_public;
pub mod api_timeline;
pub mod asn;
pub mod chart;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod control_auth;
pub mod demo;
pub mod demo_disclosures;
pub mod detect_store;
pub mod detection;
pub mod disclosures;
pub mod disclosures_cli;
pub mod disclosures_reconcile;
pub mod disclosures_stop;
pub mod disclosures_store;
pub mod disclosures_time;
pub mod error;
pub mod escape;
pub mod events;
pub mod ingest;
pub mod inspect;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod ooni_store;
pub mod params;
pub mod probe_keys;
pub mod ratelimit;
pub mod replay;
pub mod routes;
pub mod server;
pub mod store;
pub mod timeline;
pub mod uptime;
pub mod verify;
pub mod web;
pub mod web_data;
pub mod web_disclosures;
pub mod writer;

pub use asn::{AsnDb, AsnInfo};
pub use config::Config;
pub use error::{CollectorError, HttpError};
pub use server::{AppState, Collector, shutdown_signal};
