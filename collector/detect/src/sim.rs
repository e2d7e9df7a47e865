//! A seeded fleet simulator: ground-truth events in, the observations (and measurement JSON)
//! of N probes over M ASNs out, with realistic noise: random endpoint failures, probes joining
//! and leaving, probes off at night, clock skew, heartbeat jitter, local outages, and spooled
//! evidence uploaded after a shutdown. Same spec and seed, same output.
//!
//! Issue 16 adds what the real probe does that the first model left out, each off by default so
//! older scenarios draw the same numbers: heartbeats spooled during an outage and uploaded with
//! the rest on return ([`Noise::spool_heartbeats`]), a bounded spool ([`Noise::spool_cap`]), a
//! slow upload after return ([`Noise::upload_rate`]), a constant upload delay
//! ([`Noise::upload_lag`]); and truths that are not censorship: probes retired
//! ([`TruthKind::Retire`]), the collector cut off from one ASN ([`TruthKind::CollectorCut`]), a
//! local power cut ([`TruthKind::PowerCut`]).

pub mod live;
pub mod ooni;

mod json;
mod probe;
pub mod score;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use vigil_report::Mechanism;

use crate::obs::Observation;

pub use json::measurement_json;

const DAY: i64 = 86_400;

/// The fleet to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSpec {
    pub seed: u64,
    /// Unix seconds.
    pub start: i64,
    /// Seconds.
    pub duration: i64,
    pub probes: usize,
    pub countries: Vec<CountrySpec>,
    /// Platforms of the battery.
    pub platforms: Vec<String>,
    /// Neutral control sites of the battery.
    pub controls: Vec<String>,
    /// Run the throttling test for every platform in every battery.
    pub throttling: bool,
    pub noise: Noise,
}

/// A country and its ASNs; probes go to earlier ASNs more often (1 / (1 + rank / 4)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountrySpec {
    pub cc: String,
    pub asns: Vec<u32>,
}

/// The noise of a real fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// Chance that a platform (or control) fails at random in one run.
    pub endpoint_failure: f64,
    /// Share of probes switched off every night (start 21:00-01:00, 5-9 h, ± 20 min per night).
    pub night_off: f64,
    /// Share of probes joining late or leaving early.
    pub churn: f64,
    /// Each probe's clock is off by up to this many seconds.
    pub clock_skew: i64,
    pub heartbeat_interval: i64,
    /// Heartbeats come every interval ± this.
    pub heartbeat_jitter: i64,
    /// Battery runs every `battery_min..=battery_max` seconds.
    pub battery_min: i64,
    pub battery_max: i64,
    /// Outages of one probe's own line (10 min to 3 h), per probe per week.
    pub local_outages_per_week: f64,
    /// Chance that a throttling run says throttled when nothing is.
    pub throttle_false_positive: f64,
    /// Spooled records arrive up to this long after the probe is back.
    pub upload_delay_max: i64,
    /// A heartbeat that cannot be sent is spooled (signed at its time, `spooled` and `uptime_s`
    /// filled) and the probe then checks its controls, spooling `network_down` 10 s later only
    /// when all fail (probe/src/heartbeat.rs `beat`); the spool is uploaded right after the first
    /// heartbeat that gets through (daemon.rs). False: failed heartbeats are lost (the first
    /// model).
    #[serde(default)]
    pub spool_heartbeats: bool,
    /// The spool holds at most this many records; past it the oldest routine records (heartbeats,
    /// successful runs) go first, then the oldest evidence (`network_down`), as the probe's drop
    /// policy (docs/probe-spool.md "Drop policy", counted in records here, not bytes).
    #[serde(default)]
    pub spool_cap: Option<usize>,
    /// After a return the spool drains at this many records per 5 minutes (rate limits, backoff);
    /// None: all within `upload_delay_max`.
    #[serde(default)]
    pub upload_rate: Option<usize>,
    /// Every record reaches the collector this much later than otherwise (a slow uplink or
    /// upload queue; the clocks stay right).
    #[serde(default)]
    pub upload_lag: i64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            endpoint_failure: 0.03,
            night_off: 0.2,
            churn: 0.1,
            clock_skew: 120,
            heartbeat_interval: 300,
            heartbeat_jitter: 30,
            battery_min: 1800,
            battery_max: 3600,
            local_outages_per_week: 1.0,
            throttle_false_positive: 0.005,
            upload_delay_max: 300,
            spool_heartbeats: false,
            spool_cap: None,
            upload_rate: None,
            upload_lag: 0,
        }
    }
}

impl FleetSpec {
    /// A fleet with the default noise, platforms and controls.
    pub fn new(seed: u64, start: i64, days: i64, probes: usize, countries: Vec<CountrySpec>) -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        FleetSpec {
            seed,
            start,
            duration: days * DAY,
            probes,
            countries,
            platforms: s(&["whatsapp", "telegram", "signal", "facebook", "twitter", "youtube"]),
            controls: s(&["example", "wikipedia"]),
            throttling: true,
            noise: Noise::default(),
        }
    }

    pub fn end(&self) -> i64 {
        self.start + self.duration
    }
}

/// A ground-truth event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthEvent {
    pub cc: String,
    /// None = every ASN of the country.
    pub asn: Option<u32>,
    pub kind: TruthKind,
    pub start: i64,
    pub end: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TruthKind {
    Block {
        platform: String,
        mechanism: Mechanism,
    },
    Shutdown,
    Throttle {
        platform: String,
        rate_kbps: f64,
    },
    /// At `start`, the first `probes` probes of the ASN (by id, among those in the fleet then)
    /// leave for good; with `stopping` their last heartbeat says so (SIGTERM's last words).
    /// `end` is not used. Nothing should be published.
    Retire {
        probes: usize,
        #[serde(default)]
        stopping: bool,
    },
    /// The ASN's network works but the collector is unreachable from it: heartbeats are spooled
    /// (controls answer, so no `network_down`), battery runs measure normally and are spooled,
    /// everything arrives after `end`. Nothing should be published.
    CollectorCut,
    /// The first `probes` probes of the ASN lose power from `start` to `end` (they reboot:
    /// `uptime_s` starts again). Nothing should be published.
    PowerCut {
        probes: usize,
    },
}

impl TruthKind {
    /// Not censorship: the detection should publish nothing for it (a decoy).
    pub fn is_decoy(&self) -> bool {
        matches!(self, TruthKind::Retire { .. } | TruthKind::CollectorCut | TruthKind::PowerCut { .. })
    }
}

impl TruthEvent {
    pub fn covers(&self, cc: &str, asn: u32, t: i64) -> bool {
        self.cc == cc && self.asn.is_none_or(|a| a == asn) && self.start <= t && t < self.end
    }
}

/// One simulated probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimProbe {
    pub id: String,
    pub cc: String,
    pub asn: u32,
    /// Its clock minus the true time (s).
    pub skew: i64,
    pub joined: i64,
    pub left: Option<i64>,
    /// Periods it is switched off.
    pub off: Vec<(i64, i64)>,
    /// Periods its own line is down (it records `network_down`).
    pub local_outages: Vec<(i64, i64)>,
    /// Its last heartbeat before it leaves says `stopping` (it was stopped, not cut).
    #[serde(default)]
    pub stopping: bool,
}

impl SimProbe {
    /// Switched on and part of the fleet at `t`.
    pub fn powered(&self, t: i64) -> bool {
        self.joined <= t && self.left.is_none_or(|l| t < l) && !self.off.iter().any(|&(a, b)| a <= t && t < b)
    }

    /// When it was last powered on before `t` (its heartbeats' `uptime_s` counts from it).
    pub fn up_since(&self, t: i64) -> i64 {
        self.off.iter().map(|&(_, b)| b).filter(|&b| b <= t).fold(self.joined, i64::max)
    }
}

/// The simulated fleet and what the collector received from it, sorted by `received_at`.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub probes: Vec<SimProbe>,
    pub observations: Vec<Observation>,
}

/// Simulate the fleet (deterministic for a given spec and seed).
pub fn simulate(spec: &FleetSpec, truth: &[TruthEvent]) -> Fleet {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let asns: Vec<(&str, u32, f64)> = spec
        .countries
        .iter()
        .flat_map(|c| c.asns.iter().enumerate().map(move |(r, &a)| (c.cc.as_str(), a, 1.0 / (1.0 + r as f64 / 4.0))))
        .collect();
    let total: f64 = asns.iter().map(|a| a.2).sum();
    let mut probes = Vec::with_capacity(spec.probes);
    for k in 0..spec.probes {
        // Spread the first probes over every ASN, the rest by weight.
        let (cc, asn) = if k < asns.len() {
            (asns[k].0, asns[k].1)
        } else {
            let mut x = rng.random::<f64>() * total;
            let pick = asns.iter().find(|a| {
                x -= a.2;
                x <= 0.0
            });
            pick.or(asns.last()).map(|a| (a.0, a.1)).unwrap_or(("ZZ", 0))
        };
        probes.push(probe::new_probe(spec, k, cc, asn, &mut rng));
    }
    apply_truth(&mut probes, truth);
    let mut observations: Vec<Observation> = probes
        .iter()
        .enumerate()
        .flat_map(|(k, p)| probe::run(spec, truth, p, &mut StdRng::seed_from_u64(spec.seed ^ ((k as u64 + 1) << 20))))
        .collect();
    observations.sort_by(|a, b| (a.received_at, a.at, &a.probe).cmp(&(b.received_at, b.at, &b.probe)));
    Fleet { probes, observations }
}

/// Retirements and power cuts change the probes themselves (no random draw: older scenarios,
/// which have none, are unchanged).
fn apply_truth(probes: &mut [SimProbe], truth: &[TruthEvent]) {
    for e in truth {
        let (count, stopping, power) = match e.kind {
            TruthKind::Retire { probes, stopping } => (probes, stopping, false),
            TruthKind::PowerCut { probes } => (probes, false, true),
            _ => continue,
        };
        let members = probes
            .iter_mut()
            .filter(|p| p.cc == e.cc && e.asn.is_none_or(|a| a == p.asn))
            .filter(|p| p.joined <= e.start && p.left.is_none_or(|l| l > e.start))
            .take(count);
        for p in members {
            if power {
                p.off.push((e.start, e.end));
            } else {
                p.left = Some(e.start);
                p.stopping = stopping;
            }
        }
    }
}

/// A standard normal deviate (Box-Muller).
pub(crate) fn gauss(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
