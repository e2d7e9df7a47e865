//! Integration tests of the collector: the real server on 127.0.0.1:0, a real SQLite file in a
//! temporary directory, real signatures with keys made here.

#[path = "api/support.rs"]
mod support;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/blockpages.rs"]
mod blockpages;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/control.rs"]
mod control;
#[path = "api/durability.rs"]
mod durability;
#[path = "api/enrich.rs"]
mod enrich;
#[path = "api/enroll.rs"]
mod enroll;
#[path = "api/escaping.rs"]
mod escaping;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/submit.rs"]
mod submit;
#[path = "api/wal.rs"]
mod wal;
