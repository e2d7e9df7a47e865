//! The collector's own downtime: a collector outage (not running, or hearing no one) with every
//! probe silent publishes no shutdown, neither while it lasts nor after; a real national
//! shutdown is still found when the collector was up, and when the collector's downtime hid
//! its beginning (live once the others reconnect, confirmed by the spooled evidence).

use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{DetectedEvent, Downtime, EventType, Gap, GapKind, Observation, Params, Status, What, detect_with};

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

/// 60 probes over 7 ASNs in 3 countries, 3 days, no throttling test.
fn spec(seed: u64) -> FleetSpec {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut s =
        FleetSpec::new(seed, T0, 3, 60, vec![c("AA", &[100, 101, 102]), c("BB", &[200, 201]), c("CC", &[300, 301])]);
    s.platforms = ["whatsapp", "telegram"].map(String::from).to_vec();
    s.throttling = false;
    s
}

/// What the collector received when it could not hear during `[a, b)`: heartbeats sent then
/// are lost, everything else (spooled) arrives within five minutes after `b`.
fn collector_out(obs: &[Observation], a: i64, b: i64) -> Vec<Observation> {
    let mut out: Vec<Observation> = obs
        .iter()
        .filter(|o| !(a <= o.received_at && o.received_at < b && matches!(o.what, What::Heartbeat | What::Alive)))
        .cloned()
        .map(|mut o| {
            if a <= o.received_at && o.received_at < b {
                o.received_at = b + 30 + (o.at.rem_euclid(270));
            }
            o
        })
        .collect();
    out.sort_by_key(|o| o.received_at);
    out
}

fn shutdowns(obs: &[Observation], now: i64, downtime: &Downtime) -> Vec<DetectedEvent> {
    detect_with(obs, &Params::default(), now, downtime)
        .into_iter()
        .filter(|e| matches!(e.kind, EventType::Shutdown))
        .collect()
}

fn gap(start: i64, end: Option<i64>, kind: GapKind) -> Downtime {
    Downtime { gaps: vec![Gap { start, end, kind }] }
}

#[test]
fn a_collector_outage_with_every_probe_silent_is_no_shutdown() {
    let spec = spec(21);
    let fleet = simulate(&spec, &[]);
    let (a, b) = (T0 + D + 9 * H + 77, T0 + D + 13 * H + 77); // four hours
    let obs = collector_out(&fleet.observations, a, b);
    let none = Downtime::default();
    // Without knowing its own downtime, the collector calls every network shut down (what the
    // issue saw): this test can fail.
    let blind = shutdowns(&obs, a + H, &none);
    eprintln!("without the collector's downtime: {} shutdown events at outage + 1 h", blind.len());
    assert!(blind.iter().filter(|e| e.scope.asn.is_some()).count() >= 5, "{blind:#?}");

    for kind in [GapKind::Down, GapKind::Quiet] {
        // While it lasts (the gap still open), at its end, during the grace, and long after.
        for now in [a + 600, a + H, b - 60, b, b + 300, b + 900, b + H, b + 6 * H, spec.end()] {
            let d = gap(a, (now >= b).then_some(b), kind);
            let e = shutdowns(&obs, now, &d);
            assert!(e.is_empty(), "{kind:?} at {}: {e:#?}", now - a);
        }
    }
    // A restart without downtime is a zero-length gap: the grace alone.
    let obs = collector_out(&fleet.observations, a, a + 60);
    assert!(shutdowns(&obs, a + 600, &gap(a + 60, Some(a + 60), GapKind::Down)).is_empty());
}

#[test]
fn a_real_national_shutdown_is_still_found_around_collector_downtime() {
    let spec = spec(22);
    let (cut, back) = (T0 + 2 * D + 10 * H + 500, T0 + 2 * D + 16 * H);
    let truth = [TruthEvent { cc: "AA".into(), asn: None, kind: TruthKind::Shutdown, start: cut, end: back }];
    let fleet = simulate(&spec, &truth);
    let national = |e: &[DetectedEvent]| e.iter().find(|e| e.scope.cc == "AA" && e.scope.asn.is_none()).cloned();

    // The collector restarted the day before and was cut off for an hour the same morning:
    // the shutdown, during which it was up, is found live and confirmed after.
    let (a, b) = (T0 + 2 * D + 5 * H, T0 + 2 * D + 6 * H);
    let obs = collector_out(&fleet.observations, a, b);
    let earlier = Downtime {
        gaps: vec![
            Gap { start: T0 + D, end: Some(T0 + D + 600), kind: GapKind::Down },
            Gap { start: a, end: Some(b), kind: GapKind::Quiet },
        ],
    };
    let live = national(&shutdowns(&obs, cut + 1800, &earlier)).expect("found live");
    assert_eq!(live.status, Status::Provisional);
    assert!((live.start - cut).abs() <= 600, "start {}", live.start - cut);
    let done = national(&shutdowns(&obs, spec.end(), &earlier)).expect("found after");
    assert_eq!(done.status, Status::Confirmed);
    assert!((done.start - cut).abs() <= 600 && (done.end.expect("ended") - back).abs() <= 600);

    // The collector went down just before the cut and came back 40 minutes into it: the other
    // countries reconnect, AA's probes do not. Once the grace is over, AA's silence is heard
    // (a provisional event, its start uncertain back to before the collector went down); the
    // spooled evidence confirms it with the true times after.
    let (a, b) = (cut - 300, cut + 2400);
    let obs = collector_out(&fleet.observations, a, b);
    let d = gap(a, Some(b), GapKind::Down);
    let grace = Params::default().collector_grace();
    assert!(shutdowns(&obs, b + 300, &d).is_empty(), "nothing during the grace");
    let live = national(&shutdowns(&obs, b + grace + 1200, &d)).expect("found once the grace is over");
    assert_eq!(live.status, Status::Provisional);
    eprintln!(
        "hidden start: live at back + {} s, start {:+} s ± {} s; confirmed start {:+} s, end {:+} s",
        grace + 1200,
        live.start - cut,
        live.start_uncertainty,
        national(&shutdowns(&obs, spec.end(), &d)).map_or(0, |e| e.start - cut),
        national(&shutdowns(&obs, spec.end(), &d)).and_then(|e| e.end).map_or(0, |e| e - back)
    );
    assert!(live.start < b + grace && live.start_uncertainty >= (b - a) / 2, "{live:#?}");
    assert!(shutdowns(&obs, b + grace + 1200, &d).iter().all(|e| e.scope.cc == "AA"), "only AA");
    let done = national(&shutdowns(&obs, spec.end(), &d)).expect("confirmed after");
    assert_eq!(done.status, Status::Confirmed);
    assert!((done.start - cut).abs() <= 600 && (done.end.expect("ended") - back).abs() <= 600, "{done:#?}");
}

#[test]
fn a_national_shutdown_of_a_fleet_in_one_country_is_published_though_the_collector_hears_no_one() {
    // One country, three networks: while it is shut down the collector, up, hears nothing from
    // anyone (a quiet stretch). That evidence cannot tell a national shutdown from the
    // collector's uplink, and the shutdown must not be hidden (a censor could arrange it).
    let c = CountrySpec { cc: "AA".into(), asns: vec![100, 101, 102] };
    let mut one = FleetSpec::new(23, T0, 3, 30, vec![c]);
    one.platforms = ["whatsapp"].map(String::from).to_vec();
    one.throttling = false;
    let (cut, back) = (T0 + 2 * D + 10 * H + 500, T0 + 2 * D + 16 * H);
    let truth = [TruthEvent { cc: "AA".into(), asn: None, kind: TruthKind::Shutdown, start: cut, end: back }];
    let fleet = simulate(&one, &truth);
    let now = cut + 2 * H;
    let heard: Vec<Observation> = fleet.observations.iter().filter(|o| o.received_at <= now).cloned().collect();
    let last = heard.iter().map(|o| o.received_at).max().expect("heard before");
    assert!(last < cut + 300, "nothing heard during the shutdown");
    let quiet = gap(last, None, GapKind::Quiet);
    let e = shutdowns(&heard, now, &quiet);
    assert!(!e.is_empty(), "the shutdown is published");
    assert!(e.iter().all(|e| e.status == Status::Provisional && e.scope.cc == "AA"), "{e:#?}");

    // The same silence of a fleet in three countries at once is the collector's own.
    let fleet = simulate(&spec(24), &[]);
    let (a, now) = (T0 + D + 9 * H + 77, T0 + D + 11 * H);
    let heard: Vec<Observation> = fleet.observations.iter().filter(|o| o.received_at < a).cloned().collect();
    let last = heard.iter().map(|o| o.received_at).max().expect("heard before");
    assert!(shutdowns(&heard, now, &Downtime::default()).len() >= 5, "without the gap every network looks shut down");
    assert!(shutdowns(&heard, now, &gap(last, None, GapKind::Quiet)).is_empty());
}
