//! The simulator scenario set: single-platform blocks, ASN shutdowns, national shutdowns,
//! nightly curfews, throttling and no-event noise, each a simulated fleet with ground truth.
//! Every scenario asserts precision and recall ≥ 0.95 of the published events (the final
//! detection, retracted ones excluded) and shutdown start/end errors ≤ 2 heartbeat intervals
//! (their probes' spooled evidence arrives); blocks and throttles are timed by the battery
//! cadence (30-60 min) and must be within one battery interval. Matching: `sim::score`.

use vigil_detect::sim::score::{Score, expected, score};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{DetectedEvent, EventType, Params, detect};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

/// 90 probes over 9 ASNs in 3 countries, 4 days; the throttling test runs only where it is
/// under test (it doubles the observations).
fn spec(seed: u64, throttling: bool) -> FleetSpec {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut s = FleetSpec::new(
        seed,
        T0,
        4,
        90,
        vec![c("AA", &[100, 101, 102, 103]), c("BB", &[200, 201, 202]), c("CC", &[300, 301])],
    );
    s.platforms = ["whatsapp", "telegram", "signal", "youtube"].map(String::from).to_vec();
    s.throttling = throttling;
    s
}

fn ev(cc: &str, asn: Option<u32>, kind: TruthKind, start: i64, end: i64) -> TruthEvent {
    TruthEvent { cc: cc.into(), asn, kind, start, end }
}

fn block(platform: &str, mechanism: Mechanism) -> TruthKind {
    TruthKind::Block { platform: platform.into(), mechanism }
}

/// Simulate, detect at the end, score; print the numbers for the report.
fn run(name: &str, seed: u64, throttling: bool, truth: &[TruthEvent]) -> (Score, Vec<DetectedEvent>) {
    let spec = spec(seed, throttling);
    let fleet = simulate(&spec, truth);
    let params = Params::default();
    let events = detect(&fleet.observations, &params, spec.end());
    let s = score(&expected(&spec, &fleet, truth), &events);
    eprintln!(
        "{name}: {} observations, detected {} (matched {}), required {} (found {}), precision {:.3}, recall {:.3}, \
         start errors {:?}, end errors {:?}",
        fleet.observations.len(),
        s.detected,
        s.matched_detected,
        s.required,
        s.matched_required,
        s.precision,
        s.recall,
        s.start_errors,
        s.end_errors
    );
    for fp in &s.false_positives {
        eprintln!(
            "  false positive: {} {:?} {} {}..{:?} {:?}",
            fp.kind.label(),
            fp.scope,
            fp.kind.platform().unwrap_or("*"),
            fp.start - T0,
            fp.end.map(|e| e - T0),
            fp.status
        );
    }
    for m in &s.missed {
        eprintln!("  missed: {} {:?} {:?} {}..{}", m.label, m.scope, m.platform, m.start - T0, m.end - T0);
    }
    assert!(s.precision >= 0.95, "{name}: precision {}", s.precision);
    assert!(s.recall >= 0.95, "{name}: recall {}", s.recall);
    let interval = params.heartbeat_interval;
    let (start, end) = s.max_errors("shutdown");
    assert!(start <= 2 * interval && end <= 2 * interval, "{name}: shutdown errors {start} s / {end} s");
    for label in ["blocking", "throttling"] {
        let (start, end) = s.max_errors(label);
        assert!(
            start <= params.battery_interval && end <= params.battery_interval,
            "{name}: {label} errors {start}/{end}"
        );
    }
    (s, events)
}

#[test]
fn no_event_noise_publishes_nothing() {
    let (s, _) = run("noise", 1, true, &[]);
    assert_eq!(s.detected, 0);
}

#[test]
fn single_platform_blocks() {
    let truth = [
        ev("AA", Some(100), block("whatsapp", Mechanism::TlsSniReset), T0 + D + 10 * H, T0 + 2 * D + 14 * H),
        ev("BB", Some(200), block("telegram", Mechanism::DnsInjection), T0 + 2 * D + 8 * H + 1000, T0 + 2 * D + 20 * H),
        ev("AA", None, block("signal", Mechanism::HttpBlockpage), T0 + 3 * D + 6 * H, T0 + 3 * D + 18 * H),
        ev("CC", Some(300), block("youtube", Mechanism::TcpIpBlackhole), T0 + D + 15 * H, T0 + 5 * D),
    ];
    let (s, events) = run("blocks", 3, false, &truth);
    assert!(s.matched_required >= 7);
    let mechanisms: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventType::Blocking { platform, mechanism, .. } => Some((platform.as_str(), *mechanism)),
            _ => None,
        })
        .collect();
    assert!(mechanisms.contains(&("whatsapp", Some(Mechanism::TlsSniReset))), "{mechanisms:?}");
    assert!(mechanisms.contains(&("telegram", Some(Mechanism::DnsInjection))), "{mechanisms:?}");
}

#[test]
fn asn_shutdowns() {
    let truth = [
        ev("AA", Some(100), TruthKind::Shutdown, T0 + D + 13 * H, T0 + D + 16 * H + 1800),
        ev("BB", Some(200), TruthKind::Shutdown, T0 + 2 * D + 9 * H + 600, T0 + 2 * D + 11 * H),
        ev("CC", Some(300), TruthKind::Shutdown, T0 + 3 * D + 2 * H, T0 + 3 * D + 3 * H),
    ];
    let (s, _) = run("asn shutdowns", 4, false, &truth);
    assert!(s.matched_required >= 2);
}

#[test]
fn national_shutdowns() {
    let truth = [
        ev("BB", None, TruthKind::Shutdown, T0 + 2 * D + 10 * H, T0 + 2 * D + 22 * H),
        ev("AA", None, TruthKind::Shutdown, T0 + 3 * D + 5 * H + 1234, T0 + 3 * D + 9 * H),
    ];
    let (s, _) = run("national shutdowns", 5, false, &truth);
    assert!(s.matched_required >= 5);
}

#[test]
fn nightly_curfews() {
    let mut truth = Vec::new();
    for night in 0..3 {
        let start = T0 + night * D + 22 * H;
        truth.push(ev("AA", None, TruthKind::Shutdown, start, start + 8 * H));
        truth.push(ev("CC", Some(300), TruthKind::Shutdown, start + H, start + 7 * H));
    }
    let (s, _) = run("curfews", 6, false, &truth);
    assert!(s.matched_required >= 12);
}

#[test]
fn throttling() {
    let t = |platform: &str, rate_kbps| TruthKind::Throttle { platform: platform.into(), rate_kbps };
    let truth = [
        ev("AA", Some(100), t("youtube", 140.0), T0 + 2 * D, T0 + 3 * D + 12 * H),
        ev("BB", Some(200), t("telegram", 300.0), T0 + D + 12 * H, T0 + D + 20 * H),
    ];
    let (s, events) = run("throttling", 7, true, &truth);
    assert_eq!(s.matched_required, 2);
    let rates: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventType::Throttling { rate_kbps, .. } => *rate_kbps,
            _ => None,
        })
        .collect();
    assert!(
        rates.iter().any(|r| (r - 140.0).abs() < 15.0) && rates.iter().any(|r| (r - 300.0).abs() < 30.0),
        "{rates:?}"
    );
    // The simulated censor polices, and the probes label their throttled runs so.
    for e in &events {
        if let EventType::Throttling { mechanism, .. } = &e.kind {
            assert_eq!(*mechanism, Some(vigil_report::ThrottleMechanism::Policer), "{e:?}");
        }
    }
}
