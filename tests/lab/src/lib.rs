//! Vigil's censorship lab: the real `vigil-probe` measures a fake internet through a real censor,
//! in network namespaces (`probe` ↔ `isp` router/censor ↔ `inet` servers), and every scenario
//! (`tests/lab/scenarios/*.toml`) says which censor rules run and which verdicts the probe must
//! reach. Needs root; see `docs/lab.md`.
//!
//! - [`world`]: the lab internet as data (`world.toml`).
//! - [`scenario`]: scenario files and their expectations.
//! - [`topology`]: namespaces, veths and routes; torn down on drop, on SIGINT/SIGTERM, and at the
//!   next start when a killed run left them behind.
//! - [`host`]: `vigil-lab host`, the servers run inside the `inet` and `isp` namespaces.
//! - [`censor`]: the packet-forging censor program (NFQUEUE + raw socket).
//! - [`run`]: one scenario end to end; [`suite`]: many, and the docs table.
//! - [`throttle`]: the throttling stage (the decoy and `vigil-probe throttle`).

pub mod censor;
pub mod error;
pub mod host;
pub mod publish;
pub mod run;
pub mod scenario;
pub mod shutdown;
pub mod suite;
pub mod throttle;
pub mod topology;
pub mod world;

pub use error::LabError;
pub use scenario::Scenario;
pub use world::World;

use std::path::PathBuf;

/// `tests/lab` in the source tree (scenarios, world.toml).
pub fn lab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where failed scenarios leave their packet trace and probe output: `tests/artifacts/lab`.
pub fn artifacts_dir() -> PathBuf {
    let lab = lab_dir();
    lab.parent().unwrap_or(&lab).join("artifacts").join("lab")
}
