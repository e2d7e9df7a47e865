//! The shutdown scenario: every packet is dropped for a while, the probe measures and spools its
//! signed measurements, then the network comes back and the probe uploads every one to the real
//! `vigil-collector`, late. It needs `vigil-collector serve` and `vigil-probe enroll/run/upload`;
//! until both exist the scenario file says `pending` and this flow refuses to run.
//!
//! The plan, once they exist:
//! 1. `inet`: `vigil-collector serve --data-dir RUN/collector --listen 10.77.99.2:80
//!    --enroll-token T --public-url http://10.77.99.2 --asn-db RUN/asn.csv` (the CSV written from
//!    world.toml's servers) plus a lab-net option so its control measures 10.77.0.0/16, with
//!    `/etc/netns/vl<ID>-inet/resolv.conf` pointing its system resolver at the public resolver.
//! 2. `probe`: a config in RUN (key file and spool there, the lab's resolvers, DoH, CA, lab net,
//!    upload backoff of 1-2 s, `battery.file` = the scenario's targets) and `vigil-probe enroll`.
//! 3. Outage: `nft` table with a forward hook, policy drop (and the same on the router's input),
//!    then `vigil-probe run --config C --once --json`: every measurement is made, signed and spooled;
//!    the upload fails.
//! 4. After `outage_s`, delete the table; the probe uploads from its spool; assert that
//!    `GET /api/v1/measurements/{id}` answers for every id printed during the outage, that the spool
//!    is empty, and that the collector received them after the outage ended.

use std::path::Path;

use crate::LabError;
use crate::run::{Bins, ProbeRun};
use crate::scenario::{Scenario, Target};
use crate::topology::Topology;
use crate::world::World;

/// Run the shutdown flow; the measurements returned are those the collector received.
pub async fn run(
    _topo: &Topology,
    _scenario: &Scenario,
    _world: &World,
    bins: &Bins,
    _dir: &Path,
    _targets: &[Target],
) -> Result<ProbeRun, LabError> {
    if bins.collector.is_none() {
        return Err(LabError::MissingBinary {
            path: "vigil-collector".into(),
            hint: "the shutdown scenario runs the real collector: `cargo build -p vigil-collector`".into(),
        });
    }
    Err(LabError::Other(
        "the shutdown flow needs `vigil-collector serve` and `vigil-probe enroll/run/upload`, which are not \
         in the workspace yet"
            .into(),
    ))
}
