//! An OONI-like series for one network (issue 16, item 8): Web Connectivity runs of a few
//! volunteers, one report per run with `urls` URLs of one platform, one volunteer reporting most
//! hours and now and then a second; per-URL noise (a stray failure read as blocking). What the
//! collector's OONI import makes of such files: observations with `source = ooni`, `run` the
//! report id, `probe = "ooni:" + report_id` (OONI has no stable probe id), received at the
//! run's end.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use vigil_report::{Mechanism, PlatformStatus};

use super::{TruthEvent, TruthKind};
use crate::obs::{Meta, Observation, PlatformKind, Source, What};

/// The series to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OoniSeries {
    pub seed: u64,
    pub start: i64,
    pub duration: i64,
    pub cc: String,
    pub asn: u32,
    pub platform: String,
    /// URLs of the platform per run.
    pub urls: usize,
    /// Chance the main volunteer runs in a given hour.
    pub main_per_hour: f64,
    /// Chance another volunteer runs in a given hour.
    pub other_per_hour: f64,
    /// Chance one URL fails at random and reads as blocked.
    pub url_failure: f64,
    /// Share of URLs blocked in a run under a block.
    pub blocked_share: f64,
}

impl OoniSeries {
    /// One volunteer most hours, another now and then, 8 URLs, 4 % stray failures, 3 URLs in 4
    /// blocked under a block.
    pub fn new(seed: u64, start: i64, days: i64, cc: &str, asn: u32, platform: &str) -> Self {
        OoniSeries {
            seed,
            start,
            duration: days * 86_400,
            cc: cc.to_string(),
            asn,
            platform: platform.to_string(),
            urls: 8,
            main_per_hour: 0.8,
            other_per_hour: 0.1,
            url_failure: 0.04,
            blocked_share: 0.75,
        }
    }
}

/// The observations of the series under `truth` (its `Block`s of this platform and network),
/// sorted by arrival.
pub fn ooni_series(s: &OoniSeries, truth: &[TruthEvent]) -> Vec<Observation> {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut out = Vec::new();
    let mut hour = s.start;
    let mut run = 0u64;
    while hour < s.start + s.duration {
        for (volunteer, chance) in [("main", s.main_per_hour), ("other", s.other_per_hour)] {
            if rng.random::<f64>() >= chance {
                continue;
            }
            run += 1;
            let t0 = hour + rng.random_range(0..3600);
            let report_id = format!("{}_AS{}_{volunteer}_{run:06}", crate::obs::format_utc(t0), s.asn);
            let blocked = truth.iter().find_map(|e| match &e.kind {
                TruthKind::Block { platform, mechanism } if *platform == s.platform && e.covers(&s.cc, s.asn, t0) => {
                    Some(*mechanism)
                }
                _ => None,
            });
            let runtime = s.urls as i64 * 5;
            for k in 0..s.urls {
                let at = t0 + k as i64 * 5;
                let status = match blocked {
                    Some(m) if rng.random::<f64>() < s.blocked_share => Some(m),
                    _ if rng.random::<f64>() < s.url_failure => Some(Mechanism::TcpIpBlackhole),
                    _ => None,
                };
                let what = What::Platform {
                    platform: s.platform.clone(),
                    kind: PlatformKind::Platform,
                    status: if status.is_some() { PlatformStatus::Blocked } else { PlatformStatus::Ok },
                    family: status.map(Mechanism::family),
                    mechanism: status,
                };
                out.push(Observation {
                    at,
                    received_at: t0 + runtime,
                    probe: format!("ooni:{report_id}"),
                    cc: s.cc.clone(),
                    asn: s.asn,
                    measurement_id: Some(format!("ooni-{:032x}", rng.random::<u128>())),
                    what,
                    meta: Meta { source: Source::Ooni, run: Some(report_id.clone()), ..Meta::default() },
                });
            }
        }
        hour += 3600;
    }
    out.sort_by(|a, b| (a.received_at, a.at, &a.probe).cmp(&(b.received_at, b.at, &b.probe)));
    out
}
