//! One simulated probe: its schedule (heartbeats with jitter, battery runs), what each run
//! sees under the ground truth and the noise, and its spool while the network is down.

use rand::Rng;
use rand::rngs::StdRng;
use vigil_report::{Mechanism, PlatformStatus};

use super::{DAY, FleetSpec, SimProbe, TruthEvent, TruthKind, gauss};
use crate::obs::{CONNECTIVITY_CHECK, Meta, Observation, PlatformKind, ThrottleMechanism, ThrottleVerdict, What};

/// Mechanisms a random endpoint failure is (wrongly) classified as.
const NOISE_MECHANISMS: [Mechanism; 4] =
    [Mechanism::TcpIpBlackhole, Mechanism::DnsNoAnswer, Mechanism::TlsSniTimeout, Mechanism::HttpTimeout];

pub(super) fn new_probe(spec: &FleetSpec, k: usize, cc: &str, asn: u32, rng: &mut StdRng) -> SimProbe {
    let n = &spec.noise;
    let (start, end) = (spec.start, spec.end());
    let mut joined = start;
    let mut left = None;
    let churn: f64 = rng.random();
    if churn < n.churn / 2.0 {
        joined = start + rng.random_range(0..=spec.duration / 2);
    } else if churn < n.churn {
        left = Some(start + spec.duration / 2 + rng.random_range(0..=spec.duration / 2));
    }
    let mut off = Vec::new();
    if rng.random::<f64>() < n.night_off {
        let base = rng.random_range(21 * 3600..=25 * 3600);
        let len = rng.random_range(5 * 3600..=9 * 3600);
        let mut day = start.div_euclid(DAY) * DAY - DAY;
        while day < end {
            let a = day + base + rng.random_range(-1200..=1200);
            off.push((a, a + len + rng.random_range(-1200..=1200)));
            day += DAY;
        }
    }
    let expected = n.local_outages_per_week * spec.duration as f64 / (7 * DAY) as f64;
    let count = expected.floor() as usize + usize::from(rng.random::<f64>() < expected.fract());
    let local_outages = (0..count)
        .map(|_| {
            let a = rng.random_range(start..end);
            (a, a + rng.random_range(600..=3 * 3600))
        })
        .collect();
    SimProbe {
        id: format!("probe-{k:04}"),
        cc: cc.to_string(),
        asn,
        skew: rng.random_range(-n.clock_skew..=n.clock_skew),
        joined,
        left,
        off,
        local_outages,
        stopping: false,
    }
}

/// Everything one probe delivers to the collector.
pub(super) fn run(spec: &FleetSpec, truth: &[TruthEvent], p: &SimProbe, rng: &mut StdRng) -> Vec<Observation> {
    let n = &spec.noise;
    // The issue 16 model (spooled heartbeats, bounded spool, slow drain): its heartbeats report
    // what still waits to be uploaded. Off, every draw is the first model's.
    let spool_model = n.spool_heartbeats || n.spool_cap.is_some() || n.upload_rate.is_some();
    let mut out = Vec::new();
    let mut spool: Vec<Observation> = Vec::new();
    // When each record of the last drain reaches the collector.
    let mut draining: Vec<i64> = Vec::new();
    let mut next_hb = spec.start + rng.random_range(0..n.heartbeat_interval);
    let mut next_run = spec.start + rng.random_range(0..n.battery_max);
    loop {
        let heartbeat = next_hb <= next_run;
        let t = next_hb.min(next_run);
        if t >= spec.end() {
            break;
        }
        if heartbeat {
            next_hb += n.heartbeat_interval + rng.random_range(-n.heartbeat_jitter..=n.heartbeat_jitter);
        } else {
            next_run += rng.random_range(n.battery_min..=n.battery_max);
        }
        if !p.powered(t) {
            continue;
        }
        let down = p.local_outages.iter().any(|&(a, b)| a <= t && t < b)
            || truth.iter().any(|e| matches!(e.kind, TruthKind::Shutdown) && e.covers(&p.cc, p.asn, t));
        let cut = truth.iter().any(|e| matches!(e.kind, TruthKind::CollectorCut) && e.covers(&p.cc, p.asn, t));
        if down && heartbeat && n.spool_heartbeats {
            // The heartbeat is spooled, then the controls fail and `network_down` is spooled.
            let hb = spooled_heartbeat(p, t, spool.len(), rng);
            spool.push(hb);
            let what = platform(CONNECTIVITY_CHECK, PlatformKind::Control, PlatformStatus::NetworkDown, None);
            spool.push(observation(p, t + 10, 0, what, rng));
            shed(&mut spool, n.spool_cap);
            continue;
        }
        if down {
            // The heartbeat fails: the probe checks its controls and spools the result; a battery
            // run spools every platform as network_down.
            let names: Vec<(&str, PlatformKind)> =
                if heartbeat { vec![(CONNECTIVITY_CHECK, PlatformKind::Control)] } else { battery(spec) };
            for (name, kind) in names {
                let what = platform(name, kind, PlatformStatus::NetworkDown, None);
                spool.push(observation(p, t, 0, what, rng));
            }
            shed(&mut spool, n.spool_cap);
            continue;
        }
        if cut {
            // The network works, the collector does not answer: heartbeats are spooled (the
            // controls answer: no network_down), runs measure as usual and wait in the spool.
            if heartbeat {
                let hb = spooled_heartbeat(p, t, spool.len(), rng);
                spool.push(hb);
            } else {
                spool.extend(battery_run(spec, truth, p, t, 0, rng));
            }
            shed(&mut spool, n.spool_cap);
            continue;
        }
        if !spool.is_empty() {
            draining.clear();
        }
        for (i, mut o) in spool.drain(..).enumerate() {
            o.received_at = match n.upload_rate {
                Some(rate) => t + 20 + (i / rate.max(1)) as i64 * 300,
                None => t + rng.random_range(20..=n.upload_delay_max.max(20)),
            };
            draining.push(o.received_at);
            out.push(o);
        }
        if heartbeat {
            let latency = rng.random_range(1..=5);
            let mut o = observation(p, t, latency, What::Heartbeat, rng);
            // Its spool was just drained (the first model) or is being drained (what still
            // waits); it has run since it was last powered on.
            let backlog = if spool_model { draining.iter().filter(|&&r| r > t).count() as u64 } else { 0 };
            let stopping = p.stopping && p.left.is_some_and(|l| next_hb >= l);
            o.meta =
                Meta { backlog: Some(backlog), uptime: Some((t - p.up_since(t)) as u64), stopping, ..Meta::default() };
            out.push(o);
            continue;
        }
        let upload = rng.random_range(10..=60);
        out.extend(battery_run(spec, truth, p, t, upload, rng));
    }
    if n.upload_lag != 0 {
        out.iter_mut().for_each(|o| o.received_at += n.upload_lag);
    }
    out
}

/// One battery run at `t`, uploaded `upload` seconds later (the throttling runs a minute after).
fn battery_run(
    spec: &FleetSpec,
    truth: &[TruthEvent],
    p: &SimProbe,
    t: i64,
    upload: i64,
    rng: &mut StdRng,
) -> Vec<Observation> {
    let mut out = Vec::new();
    for (name, kind) in battery(spec) {
        let what = platform_status(spec, truth, p, name, kind, t, rng);
        out.push(observation(p, t + rng.random_range(0..5), upload, what, rng));
    }
    if spec.throttling {
        for name in &spec.platforms {
            let what = throttling(spec, truth, p, name, t, rng);
            out.push(observation(p, t + rng.random_range(5..60), upload + 60, what, rng));
        }
    }
    out
}

/// A heartbeat that could not be sent, as the probe spools it: signed at `t`, with the spool's
/// size and the probe's uptime (its `received_at` is set when the spool drains).
fn spooled_heartbeat(p: &SimProbe, t: i64, spooled: usize, rng: &mut StdRng) -> Observation {
    let mut o = observation(p, t, 0, What::Heartbeat, rng);
    o.meta = Meta { backlog: Some(spooled as u64), uptime: Some((t - p.up_since(t)) as u64), ..Meta::default() };
    o
}

/// Keep the spool within `cap` records: the oldest routine record goes first (heartbeats,
/// successful runs), then the oldest evidence (`network_down`, blocked runs).
fn shed(spool: &mut Vec<Observation>, cap: Option<usize>) {
    let Some(cap) = cap else { return };
    while spool.len() > cap {
        let evidence = |o: &Observation| match &o.what {
            What::Platform { status, .. } => *status != PlatformStatus::Ok,
            What::Throttling { verdict, .. } => *verdict == ThrottleVerdict::Throttled,
            What::Heartbeat | What::Alive => false,
        };
        let k = spool.iter().position(|o| !evidence(o)).unwrap_or(0);
        spool.remove(k);
    }
}

fn battery(spec: &FleetSpec) -> Vec<(&str, PlatformKind)> {
    let platforms = spec.platforms.iter().map(|s| (s.as_str(), PlatformKind::Platform));
    platforms.chain(spec.controls.iter().map(|s| (s.as_str(), PlatformKind::Control))).collect()
}

fn platform(name: &str, kind: PlatformKind, status: PlatformStatus, mechanism: Option<Mechanism>) -> What {
    What::Platform { platform: name.to_string(), kind, status, family: mechanism.map(Mechanism::family), mechanism }
}

/// An observation measured at true time `t`, received `delay` seconds later.
fn observation(p: &SimProbe, t: i64, delay: i64, what: What, rng: &mut StdRng) -> Observation {
    Observation {
        at: t + p.skew,
        received_at: t + delay,
        probe: p.id.clone(),
        cc: p.cc.clone(),
        asn: p.asn,
        measurement_id: Some(measurement_id(t + p.skew, rng.random::<u128>())),
        what,
        meta: Meta::default(),
    }
}

/// The probe's id for a measurement made at `at` by its clock: a UUIDv7 (`vigil_probe::new_id`),
/// its random bits from `random` (one draw, as the simulator always made, so its worlds stay).
fn measurement_id(at: i64, random: u128) -> String {
    let bytes: [u8; 10] = random.to_le_bytes()[..10].try_into().unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis((at.max(0) * 1000) as u64, &bytes).into_uuid().simple().to_string()
}

fn platform_status(
    spec: &FleetSpec,
    truth: &[TruthEvent],
    p: &SimProbe,
    name: &str,
    kind: PlatformKind,
    t: i64,
    rng: &mut StdRng,
) -> What {
    let blocked = truth.iter().find_map(|e| match &e.kind {
        TruthKind::Block { platform: bp, mechanism } if bp == name && e.covers(&p.cc, p.asn, t) => Some(*mechanism),
        _ => None,
    });
    if let (Some(m), PlatformKind::Platform) = (blocked, kind) {
        return platform(name, kind, PlatformStatus::Blocked, Some(m));
    }
    if rng.random::<f64>() >= spec.noise.endpoint_failure {
        return platform(name, kind, PlatformStatus::Ok, None);
    }
    if kind == PlatformKind::Platform && rng.random::<bool>() {
        let m = NOISE_MECHANISMS[rng.random_range(0..NOISE_MECHANISMS.len())];
        platform(name, kind, PlatformStatus::Blocked, Some(m))
    } else {
        platform(name, kind, PlatformStatus::Unknown, None)
    }
}

fn throttling(spec: &FleetSpec, truth: &[TruthEvent], p: &SimProbe, name: &str, t: i64, rng: &mut StdRng) -> What {
    let control_kbps = (rng.random_range(5_000f64.ln()..50_000f64.ln())).exp();
    let throttle = truth.iter().find_map(|e| match &e.kind {
        TruthKind::Throttle { platform: tp, rate_kbps } if tp == name && e.covers(&p.cc, p.asn, t) => Some(*rate_kbps),
        _ => None,
    });
    let (ratio, verdict, rate) = match throttle {
        Some(rate) => {
            let rate = rate * (0.05 * gauss(rng)).exp();
            let verdict =
                if rng.random::<f64>() < 0.9 { ThrottleVerdict::Throttled } else { ThrottleVerdict::Inconclusive };
            (rate / control_kbps, verdict, Some(rate))
        }
        None if rng.random::<f64>() < spec.noise.throttle_false_positive => {
            let ratio = rng.random_range(0.2..0.5);
            (ratio, ThrottleVerdict::Throttled, Some(ratio * control_kbps))
        }
        None => {
            let ratio = (0.1 * gauss(rng)).exp();
            let verdict = if ratio > 0.7 { ThrottleVerdict::Ok } else { ThrottleVerdict::Inconclusive };
            (ratio, verdict, None)
        }
    };
    let rate_kbps = if verdict == ThrottleVerdict::Throttled { rate.map(|r| (r * 10.0).round() / 10.0) } else { None };
    // The simulated censor polices (Russia 2021), and the probe says so when it sees it.
    let mechanism = (verdict == ThrottleVerdict::Throttled).then_some(ThrottleMechanism::Policer);
    What::Throttling { platform: name.to_string(), ratio, verdict, rate_kbps, mechanism }
}
