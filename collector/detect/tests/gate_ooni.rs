//! Issue 16 gate (D6, owner E2 "blocking"; the timeline cell rule is E3's, tested in the
//! collector): an OONI-like series for one network over 2 months (one report per run with 8
//! URLs of one platform, one volunteer reporting most hours, stray per-URL failures) with one
//! blocking interval. Exactly one blocking event must come out, its start and end within 2
//! battery intervals of the truth.
//!
//! Before (main 3e32f46): 10472 observations, 96 blocking events (all Confirmed) inside the true
//! interval (the first starting +1585 s after it, the last ending 2569 s before its end): the block
//! was cut into 96 pieces, each closed by the ok URLs of a run or two. Every URL was one sample, so
//! one run's 8 URLs counted as 8 runs, stray hits opened episodes early, and one volunteer's latest
//! ok runs closed them.
//!
//! Now (branch i16-e2, `cargo test --release -p vigil-detect --test gate_ooni -- --nocapture`):
//! 1 blocking event, Confirmed, start -1288 s, end -1084 s (tolerance ±7200 s), 443 reports and
//! 2694 measurements behind it. A run (an OONI report) is one sample, blocked when at least half
//! its URLs are; OONI's reports are one stream whose runs weigh `ooni_weight` (0.5); an episode
//! closes only when closing probes have seen `block_min_consecutive` (weighted) ok runs in a row.

use vigil_detect::sim::ooni::{OoniSeries, ooni_series};
use vigil_detect::sim::{TruthEvent, TruthKind};
use vigil_detect::{EventType, Params, detect};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

#[test]
fn an_ooni_series_gives_one_event_with_its_times() {
    let series = OoniSeries::new(61, T0, 60, "UG", 20294, "facebook");
    let (start, end) = (T0 + 20 * D + 13 * H + 600, T0 + 41 * D + 7 * H);
    let truth = [TruthEvent {
        cc: "UG".into(),
        asn: Some(20294),
        kind: TruthKind::Block { platform: "facebook".into(), mechanism: Mechanism::TlsSniReset },
        start,
        end,
    }];
    let obs = ooni_series(&series, &truth);
    let params = Params::default();
    let events = detect(&obs, &params, T0 + 60 * D);
    let blocking: Vec<_> = events.iter().filter(|e| matches!(e.kind, EventType::Blocking { .. })).collect();
    eprintln!("ooni: {} observations, {} events, {} blocking", obs.len(), events.len(), blocking.len());
    for e in events.iter().filter(|e| !matches!(e.kind, EventType::Blocking { .. })) {
        eprintln!("  (not blocking) {} {:?} {}..{:?}", e.id, e.status, e.start - T0, e.end.map(|x| x - T0));
    }
    for e in &blocking {
        eprintln!(
            "  {} {:?} start {:+} s end {:?} s probes {} measurements {}",
            e.id,
            e.status,
            e.start - start,
            e.end.map(|x| x - end),
            e.probes,
            e.measurements
        );
    }
    let tolerance = 2 * params.battery_interval;
    assert_eq!(blocking.len(), 1, "one blocking event");
    // OONI's measurements are no sign of life: its one-run reports never make a shutdown.
    assert_eq!(events.len(), 1, "nothing but the blocking event");
    let e = blocking[0];
    assert!((e.start - start).abs() <= tolerance, "start error {} s", e.start - start);
    assert!(e.end.is_some_and(|x| (x - end).abs() <= tolerance), "end error {:?}", e.end.map(|x| x - end));
    // It says what supports it: OONI's reports and measurements, nothing else.
    assert_eq!(e.sources.len(), 1, "{:?}", e.sources);
    assert_eq!(e.sources[0].source, vigil_detect::Source::Ooni);
    assert_eq!((e.sources[0].probes, e.sources[0].measurements), (e.probes, e.measurements));
}
