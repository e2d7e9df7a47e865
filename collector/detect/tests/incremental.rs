//! The stream and the batch agree: a [`Detector`] fed a simulated fleet's observations as they
//! arrive and advanced step by step gives, at every step, exactly the events `detect` gives over
//! the whole series at that time; a detector restored from a checkpoint carries on the same.
//! (Issue 16 extends this to every scenario and to the incremental engine.)
//!
//! Issue 16 (E2): also on an OONI series (runs of 8 URLs, one stream of reports) and a throttled
//! fleet. The per-(cc, ASN, platform) tails of blocking and throttling (`detect_after` with a
//! carried `Cut` and CUSUM `Baseline`) are checked against the batch in their own unit tests
//! (`detect::blocking::tests::tails_with_carried_state_equal_the_batch_*`: passes every hour and
//! every 6 h over only the tail give exactly the batch's events and state). The [`Detector`] now
//! runs them that way (settled events kept, only the tail rerun; `stream::tests` checks the
//! tails are really carried, and that a late upload before a freeze point is still exact), so
//! every equality below is the tails' equality with the batch.

use std::collections::BTreeSet;

use vigil_detect::sim::ooni::{OoniSeries, ooni_series};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{DetectedEvent, Detector, Downtime, EventType, Observation, Params, Scope, detect};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;

fn ev(cc: &str, asn: Option<u32>, kind: TruthKind, start: i64, end: i64) -> TruthEvent {
    TruthEvent { cc: cc.into(), asn, kind, start, end }
}

#[test]
fn a_detector_fed_step_by_step_equals_detect_at_every_step() {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut spec = FleetSpec::new(7, T0, 2, 40, vec![c("AA", &[100, 101, 102]), c("BB", &[200])]);
    spec.platforms = ["whatsapp", "telegram"].map(String::from).to_vec();
    let truth = [
        ev("AA", Some(100), TruthKind::Shutdown, T0 + 10 * H, T0 + 13 * H),
        ev("AA", None, TruthKind::Shutdown, T0 + 30 * H, T0 + 32 * H),
        ev(
            "BB",
            Some(200),
            TruthKind::Block { platform: "whatsapp".into(), mechanism: Mechanism::DnsNxdomain },
            T0 + 5 * H,
            T0 + 20 * H,
        ),
    ];
    let fleet = simulate(&spec, &truth);
    let obs = &fleet.observations;
    assert!(obs.windows(2).all(|w| w[0].received_at <= w[1].received_at), "the fleet arrives in order");
    let params = Params::default();
    let mut d = Detector::new(params.clone());
    let mut next = 0;
    let mut nonempty = 0;
    let mut before: Vec<DetectedEvent> = Vec::new();
    let mut now = T0 + H;
    while now <= spec.end() + 6 * H {
        while next < obs.len() && obs[next].received_at <= now {
            d.observe(&obs[next]);
            next += 1;
        }
        let changed = d.advance(now, &Downtime::default());
        let want = detect(obs, &params, now);
        assert_eq!(d.events(now), want, "at {}", now - T0);
        // The scopes reported changed are those whose events differ from the previous step's.
        let scopes = |es: &[DetectedEvent]| es.iter().map(|e| e.scope.clone()).collect::<BTreeSet<_>>();
        let differ: Vec<Scope> = scopes(&want)
            .union(&scopes(&before))
            .filter(|s| {
                let of = |es: &[DetectedEvent]| es.iter().filter(|e| &e.scope == *s).cloned().collect::<Vec<_>>();
                of(&want) != of(&before)
            })
            .cloned()
            .collect();
        assert_eq!(changed, differ, "at {}", now - T0);
        before = want.clone();
        nonempty += usize::from(!want.is_empty());
        if now == T0 + 24 * H {
            // Restart from a checkpoint in the middle: nothing is lost.
            d = Detector::restore(params.clone(), &d.checkpoint()).expect("restores");
            d.advance(now, &Downtime::default());
            assert_eq!(d.events(now), want);
        }
        now += H;
    }
    assert!(nonempty > 20, "the scenario has events to compare ({nonempty} steps)");
    // Re-feeding what it has seen changes nothing.
    obs.iter().take(500).for_each(|o| d.observe(o));
    assert!(d.advance(now, &Downtime::default()).is_empty());
}

/// Feed `obs` (in arrival order) to a detector stepped every `step` from `from` to `to`: its
/// events equal `detect`'s at every step. Returns the steps with a blocking or throttling event.
fn stepped_equals_batch(obs: &[Observation], from: i64, to: i64, step: i64) -> usize {
    stepped_equals_batch_counting(obs, from, to, step, |e| {
        matches!(e.kind, EventType::Blocking { .. } | EventType::Throttling { .. })
    })
    .1
}

/// [`stepped_equals_batch`], counting the steps with an event that `counts`; returns (steps,
/// steps counted).
fn stepped_equals_batch_counting(
    obs: &[Observation],
    from: i64,
    to: i64,
    step: i64,
    counts: impl Fn(&DetectedEvent) -> bool,
) -> (usize, usize) {
    let params = Params::default();
    let mut d = Detector::new(params.clone());
    let (mut next, mut steps, mut counted) = (0, 0, 0);
    let mut now = from;
    while now <= to {
        while next < obs.len() && obs[next].received_at <= now {
            d.observe(&obs[next]);
            next += 1;
        }
        d.advance(now, &Downtime::default());
        let want = detect(obs, &params, now);
        assert_eq!(d.events(now), want, "at {}", now - from);
        steps += 1;
        counted += usize::from(want.iter().any(&counts));
        now += step;
    }
    (steps, counted)
}

#[test]
fn a_detector_stepped_over_an_ooni_series_equals_detect() {
    const D: i64 = 86_400;
    let series = OoniSeries::new(61, T0, 30, "UG", 20294, "facebook");
    let truth = [ev(
        "UG",
        Some(20294),
        TruthKind::Block { platform: "facebook".into(), mechanism: Mechanism::TlsSniReset },
        T0 + 10 * D + 13 * H,
        T0 + 21 * D + 7 * H,
    )];
    let obs = ooni_series(&series, &truth);
    assert!(stepped_equals_batch(&obs, T0 + H, T0 + 30 * D, 6 * H) > 20);
}

#[test]
fn a_detector_stepped_over_a_throttled_fleet_equals_detect() {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut spec = FleetSpec::new(13, T0, 3, 20, vec![c("AA", &[100, 101])]);
    spec.platforms = ["youtube"].map(String::from).to_vec();
    spec.throttling = true;
    let truth = [ev(
        "AA",
        Some(100),
        TruthKind::Throttle { platform: "youtube".into(), rate_kbps: 150.0 },
        T0 + 30 * H,
        T0 + 50 * H,
    )];
    let fleet = simulate(&spec, &truth);
    assert!(stepped_equals_batch(&fleet.observations, T0 + H, spec.end() + 6 * H, 2 * H) > 5);
}

/// Issue 16 (D7): the detector's liveness is kept between passes (marks, signs of life and the
/// fold into outages resumed from saved points); spooled heartbeats and `network_down` records
/// that arrive hours late (a slow drain after the return, a capped spool), power cuts (reboots),
/// a network that loses only the collector, skewed clocks and nights off all reach back into it.
/// Stepped every 5 minutes, it still equals the batch at every step.
#[test]
fn a_detector_stepped_over_spooled_outages_equals_detect() {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut spec = FleetSpec::new(29, T0, 2, 24, vec![c("AA", &[100, 101]), c("BB", &[200])]);
    spec.platforms = ["whatsapp"].map(String::from).to_vec();
    spec.noise.spool_heartbeats = true;
    spec.noise.spool_cap = Some(40);
    spec.noise.upload_rate = Some(3);
    spec.noise.clock_skew = 400;
    spec.noise.night_off = 0.2;
    let truth = [
        ev("AA", Some(100), TruthKind::Shutdown, T0 + 9 * H, T0 + 14 * H),
        ev("AA", Some(101), TruthKind::PowerCut { probes: 3 }, T0 + 20 * H, T0 + 22 * H),
        ev("BB", Some(200), TruthKind::CollectorCut, T0 + 30 * H, T0 + 33 * H),
        ev("AA", None, TruthKind::Shutdown, T0 + 38 * H, T0 + 41 * H),
    ];
    let mut obs = simulate(&spec, &truth).observations;
    obs.sort_by_key(|o| o.received_at);
    let late = obs.iter().filter(|o| o.received_at - o.at > 3600).count();
    assert!(late > 100, "records arrive hours late ({late})");
    let (steps, with_shutdowns) = stepped_equals_batch_counting(&obs, T0 + 600, spec.end() + 6 * H, 300, |e| {
        matches!(e.kind, EventType::Shutdown)
    });
    assert!(steps > 600 && with_shutdowns > 50, "{steps} steps, {with_shutdowns} with a shutdown");
}
