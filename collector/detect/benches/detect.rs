//! Detection benchmark: `detect()` over a simulated week of a 200-probe fleet (heartbeats every
//! 5 min, a 6-platform battery with throttling tests every 30-60 min), with a few true events,
//! and the precision, recall and timing errors on that week.
//!
//! Then the collector's loop replayed on a smaller fleet (100 probes, 4 days, no events but the
//! noise): detection every 30 min on what had arrived, reconciled with what was published; it
//! counts the provisional events published live and later retracted (live false alarms).
//!
//! Then the live pass at fleet scale (issue 16, D7): 10,000 probes over 40 countries and 272 ASNs
//! (a few large ASNs per country, many small ones), heartbeats every 5 min and a 6-platform
//! battery every hour (±10%, the probe's default; no throttling runs). A
//! [`vigil_detect::Detector`] is warmed with the first day (observe all, advance), then advanced
//! pass by pass, each pass feeding the next 60 s of arrivals: the pass times (p50, p95, max) and
//! the peak memory of the phase, against `detect()` over the same day, in the same run. Passes
//! stop at `VIGIL_BENCH_STREAM_PASSES` (default 20, at most 29) or once the phase has run
//! `VIGIL_BENCH_STREAM_BUDGET_S` (default 25 s; at least 3 passes), whichever comes first; the
//! count is printed.
//!
//! `cargo bench -p vigil-detect --bench detect --profile bench-fast` (environment:
//! `VIGIL_BENCH_PROBES`, default 200; `VIGIL_BENCH_DAYS`, default 7; `VIGIL_BENCH_RUNS`, default 5;
//! `VIGIL_BENCH_LIVE=0` skips the replay; `VIGIL_BENCH_STREAM_PROBES`, default 10000, 0 skips the
//! fleet-scale passes; `VIGIL_BENCH_BATCH=0` runs only those).

use std::time::{Duration, Instant};

use vigil_detect::sim::score::{expected, score};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{Change, Detector, Downtime, Params, PublishedEvent, Status, detect, reconcile};
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
    if env("VIGIL_BENCH_BATCH", 1) != 0 {
        batch();
    }
    if env("VIGIL_BENCH_STREAM_PROBES", 10_000) > 0 {
        stream(env("VIGIL_BENCH_STREAM_PROBES", 10_000) as usize);
    }
}

/// The week-long batch benchmark and its scores, then the live replay.
fn batch() {
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

/// 40 countries, 272 ASNs: country `i` has `max(2, 24 / (1 + i / 4))` ASNs (a few countries with
/// many networks, most with a handful), and the simulator puts probes on a country's first ASNs
/// more often.
fn many_countries() -> Vec<CountrySpec> {
    let mut next = 1000;
    (0..40)
        .map(|i| {
            let n = (24 / (1 + i / 4)).max(2);
            let asns = (next..next + n).collect();
            next += n;
            CountrySpec { cc: format!("{}{}", (b'A' + (i / 26) as u8) as char, (b'A' + (i % 26) as u8) as char), asns }
        })
        .collect()
}

/// `VmRSS` or `VmHWM` (peak RSS) of this process, in MiB.
fn vm(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok());
    kb.unwrap_or(f64::NAN) / 1024.0
}

/// Reset the peak RSS (`VmHWM`) to the current RSS (Linux: `clear_refs` 5), so each phase
/// reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Live passes over a 10,000-probe fleet (see the module documentation).
fn stream(probes: usize) {
    // The fleet is the same whatever the number of passes: a day and 30 minutes.
    let max_passes = env("VIGIL_BENCH_STREAM_PASSES", 20).clamp(3, 29);
    let budget = Duration::from_secs(env("VIGIL_BENCH_STREAM_BUDGET_S", 25) as u64);
    let mut spec = FleetSpec::new(11, T0, 1, probes, many_countries());
    spec.duration = D + 30 * 60;
    spec.throttling = false;
    spec.noise.battery_min = 3240;
    spec.noise.battery_max = 3960;
    let t = Instant::now();
    let fleet = simulate(&spec, &[]);
    let obs = &fleet.observations;
    let day_end = T0 + D;
    let day = obs.partition_point(|o| o.received_at <= day_end);
    let asns: usize = spec.countries.iter().map(|c| c.asns.len()).sum();
    println!(
        "\nfleet-scale passes: {} probes, {} countries, {} ASNs; a day = {} observations, then {:.0} per minute \
         (simulated in {:.1?}; RSS {:.0} MiB)",
        spec.probes,
        spec.countries.len(),
        asns,
        day,
        (obs.len() - day) as f64 / ((spec.duration - D) as f64 / 60.0),
        t.elapsed(),
        vm("VmRSS")
    );
    let params = Params::default();

    // Today's batch over the same day, as a pass of the collector runs it.
    reset_peak();
    let before = vm("VmRSS");
    let t = Instant::now();
    let events = detect(&obs[..day], &params, day_end);
    let batch_time = t.elapsed();
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &events {
        let scope = if e.scope.asn.is_some() { "ASN" } else { "country" };
        *kinds.entry(format!("{} {scope} {:?}", e.kind.label(), e.status)).or_default() += 1;
    }
    println!(
        "  detect() over the day: {:.2?}, {} events (no truth: all false alarms of the noise, {kinds:?}); \
         peak RSS {:.0} MiB (+{:.0} MiB over the fleet's {:.0})",
        batch_time,
        events.len(),
        vm("VmHWM"),
        vm("VmHWM") - before,
        before
    );
    drop(events);

    // The Detector: warmed with the day, then 60 s of arrivals per pass.
    reset_peak();
    let before = vm("VmRSS");
    let t = Instant::now();
    let mut detector = Detector::new(params);
    let downtime = Downtime::default();
    obs[..day].iter().for_each(|o| detector.observe(o));
    detector.advance(day_end, &downtime);
    let warm = t.elapsed();
    let phase = Instant::now();
    let (mut now, mut fed, mut rows) = (day_end, day, 0);
    let mut times = Vec::new();
    let mut changed = 0;
    while times.len() < max_passes as usize && (times.len() < 3 || phase.elapsed() < budget) {
        now += 60;
        let upto = obs.partition_point(|o| o.received_at <= now);
        let t = Instant::now();
        obs[fed..upto].iter().for_each(|o| detector.observe(o));
        changed += detector.advance(now, &downtime).len();
        let events = detector.events(now);
        times.push(t.elapsed());
        std::hint::black_box(events);
        rows += upto - fed;
        fed = upto;
    }
    let peak = vm("VmHWM");
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "  Detector: warmed with the day in {:.2?}; {} passes of 60 s ({:.0} observations each): p50 {:.2?}, \
         p95 {:.2?}, max {:.2?} per pass ({} scope changes); peak RSS {:.0} MiB (+{:.0} MiB over {:.0})",
        warm,
        times.len(),
        rows as f64 / times.len() as f64,
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.95),
        sorted[sorted.len() - 1],
        changed,
        peak,
        peak - before,
        before
    );
    println!(
        "  pass p50 / detect() over the day: {:.2}",
        percentile(&sorted, 0.5).as_secs_f64() / batch_time.as_secs_f64()
    );
}
