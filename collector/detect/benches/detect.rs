//! Detection benchmark: `detect()` over a simulated week of a 200-probe fleet (heartbeats every
//! 5 min, a 6-platform battery with throttling tests every 30-60 min), with a few true events,
//! and the precision, recall and timing errors on that week.
//!
//! Then the collector's loop replayed on a smaller fleet (100 probes, 4 days, no events but the
//! noise): detection every 30 min on what had arrived, reconciled with what was published; it
//! counts the provisional events published live and later retracted (live false alarms).
//!
//! `cargo bench -p vigil-detect --bench detect --profile bench-fast` (environment:
//! `VIGIL_BENCH_PROBES`, default 200; `VIGIL_BENCH_DAYS`, default 7; `VIGIL_BENCH_RUNS`, default 5;
//! `VIGIL_BENCH_LIVE=0` skips the replay).

use std::time::{Duration, Instant};

use vigil_detect::sim::score::{expected, score};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{Change, Params, PublishedEvent, Status, detect, reconcile};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn truth() -> Vec<TruthEvent> {
    let ev = |cc: &str, asn, kind, start, end| TruthEvent { cc: cc.into(), asn, kind, start, end };
    let block = |p: &str, m| TruthKind::Block { platform: p.into(), mechanism: m };
    vec![
        ev("AA", Some(100), block("whatsapp", Mechanism::TlsSniReset), T0 + D + 9 * H, T0 + 3 * D),
        ev("BB", None, block("telegram", Mechanism::DnsInjection), T0 + 2 * D + 8 * H, T0 + 2 * D + 20 * H),
        ev("AA", Some(101), TruthKind::Shutdown, T0 + 3 * D + 13 * H, T0 + 3 * D + 16 * H),
        ev("BB", None, TruthKind::Shutdown, T0 + 4 * D + 10 * H, T0 + 4 * D + 14 * H),
        ev("CC", None, TruthKind::Shutdown, T0 + 5 * D + 22 * H, T0 + 6 * D + 6 * H),
        ev(
            "AA",
            Some(100),
            TruthKind::Throttle { platform: "youtube".into(), rate_kbps: 140.0 },
            T0 + 5 * D,
            T0 + 6 * D,
        ),
    ]
}

fn main() {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let countries =
        vec![c("AA", &[100, 101, 102, 103, 104]), c("BB", &[200, 201, 202, 203]), c("CC", &[300, 301, 302])];
    let spec = FleetSpec::new(42, T0, env("VIGIL_BENCH_DAYS", 7), env("VIGIL_BENCH_PROBES", 200) as usize, countries);
    let truth = truth();
    let t = Instant::now();
    let fleet = simulate(&spec, &truth);
    let sim_time = t.elapsed();
    let params = Params::default();
    let mut times: Vec<Duration> = Vec::new();
    let mut events = Vec::new();
    for _ in 0..env("VIGIL_BENCH_RUNS", 5).max(1) {
        let t = Instant::now();
        events = detect(&fleet.observations, &params, spec.end());
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "fleet: {} probes, {} days, {} observations (simulated in {:.2?})",
        spec.probes,
        spec.duration / D,
        fleet.observations.len(),
        sim_time
    );
    println!(
        "detect(): min {:.1?}, median {:.1?}, max {:.1?} over {} runs; {:.0} observations/s",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len(),
        fleet.observations.len() as f64 / times[times.len() / 2].as_secs_f64()
    );
    let s = score(&expected(&spec, &fleet, &truth), &events);
    println!(
        "events: {} detected ({} confirmed), precision {:.3}, recall {:.3} ({} of {} required)",
        s.detected,
        events.iter().filter(|e| e.status == Status::Confirmed).count(),
        s.precision,
        s.recall,
        s.matched_required,
        s.required
    );
    for label in ["blocking", "shutdown", "throttling"] {
        let (start, end) = s.max_errors(label);
        println!("  {label}: max |start error| {start} s, max |end error| {end} s");
    }
    for fp in &s.false_positives {
        println!(
            "  false positive: {} {:?} {:?} at +{} s",
            fp.kind.label(),
            fp.scope,
            fp.kind.platform(),
            fp.start - T0
        );
    }
    for m in &s.missed {
        println!("  missed: {} {:?} {:?} at +{} s", m.label, m.scope, m.platform, m.start - T0);
    }

    if env("VIGIL_BENCH_LIVE", 1) != 0 {
        live_replay(&countries_small());
    }
}

fn countries_small() -> Vec<CountrySpec> {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    vec![c("AA", &[100, 101, 102, 103]), c("BB", &[200, 201, 202]), c("CC", &[300, 301])]
}

/// Replay the collector's loop over a noise-only fleet; count live false alarms.
fn live_replay(countries: &[CountrySpec]) {
    let spec = FleetSpec::new(7, T0, 4, 100, countries.to_vec());
    let fleet = simulate(&spec, &[]);
    let params = Params::default();
    let mut published: Vec<PublishedEvent> = Vec::new();
    let mut retracted = 0;
    let t = Instant::now();
    let mut steps = 0;
    for now in (spec.start + 1800..=spec.end()).step_by(1800) {
        let n = fleet.observations.partition_point(|o| o.received_at <= now);
        let detected = detect(&fleet.observations[..n], &params, now);
        steps += 1;
        for change in reconcile(&published, &detected, now) {
            match change {
                Change::New(e) => published.push(PublishedEvent { event: e, revision: 1, published_at: now }),
                Change::Revised { id, revision, event, .. } => {
                    retracted += usize::from(event.status == Status::Retracted);
                    if let Some(p) = published.iter_mut().find(|p| p.event.id == id) {
                        *p = PublishedEvent { event, revision, published_at: now };
                    }
                }
                Change::Unchanged { .. } => {}
            }
        }
    }
    println!(
        "live replay: {} probes, {} days, {} detections every 30 min ({:.1?} each on average): {} events published, \
         {} retracted, {} standing",
        spec.probes,
        spec.duration / D,
        steps,
        t.elapsed() / steps,
        published.len(),
        retracted,
        published.iter().filter(|p| p.event.status != Status::Retracted).count()
    );
    for p in &published {
        let e = &p.event;
        println!(
            "  {} {:?} {:?} at +{} s, rev {}, {:?}",
            e.kind.label(),
            e.scope,
            e.kind.platform(),
            e.start - T0,
            p.revision,
            e.status
        );
    }
}
