//! The simulator: deterministic per seed, the noise it promises is there, and its measurement
//! JSON is what `vigil-report` parses and what the collector turns back into the same
//! observations.

use vigil_detect::obs::{StoredMeasurement, observe};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};
use vigil_detect::{Observation, What};
use vigil_report::{Measurement, PlatformKeys, PlatformStatus};

const T0: i64 = 1_740_960_000;
const D: i64 = 86_400;

fn spec(seed: u64) -> FleetSpec {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101, 102] }];
    let mut s = FleetSpec::new(seed, T0, 2, 40, countries);
    s.platforms = vec!["whatsapp".into(), "signal".into()];
    s
}

fn shutdown() -> [TruthEvent; 1] {
    [TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: T0 + D, end: T0 + D + 3 * 3600 }]
}

#[test]
fn same_seed_same_fleet_other_seed_other_fleet() {
    let a = simulate(&spec(1), &shutdown());
    let b = simulate(&spec(1), &shutdown());
    let c = simulate(&spec(2), &shutdown());
    assert_eq!(a.observations, b.observations);
    assert_eq!(a.probes, b.probes);
    assert_ne!(a.observations, c.observations);
}

#[test]
fn the_noise_is_there() {
    let spec = spec(3);
    let fleet = simulate(&spec, &shutdown());
    let obs = &fleet.observations;
    assert!(obs.windows(2).all(|w| w[0].received_at <= w[1].received_at), "sorted by arrival");
    assert!(fleet.probes.iter().all(|p| p.skew.abs() <= spec.noise.clock_skew));
    assert!(fleet.probes.iter().any(|p| p.skew.abs() > 60));
    assert!(fleet.probes.iter().any(|p| !p.off.is_empty()), "some probes are off at night");
    assert!(fleet.probes.iter().any(|p| p.joined > spec.start || p.left.is_some()), "churn");
    // Spooled evidence: network_down records of ASN 100 during the shutdown, uploaded after it.
    let spooled: Vec<&Observation> = obs.iter().filter(|o| o.is_network_down() && o.asn == 100).collect();
    assert!(spooled.len() > 100);
    assert!(spooled.iter().filter(|o| o.at > T0 + D + 3600).all(|o| o.received_at >= T0 + D + 3 * 3600));
    // Random failures: a few percent of platform runs outside the shutdown are not ok.
    let runs: Vec<&PlatformStatus> = obs
        .iter()
        .filter(|o| !o.is_network_down())
        .filter_map(|o| match &o.what {
            What::Platform { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    let failed = runs.iter().filter(|s| ***s != PlatformStatus::Ok).count() as f64 / runs.len() as f64;
    assert!((0.01..0.06).contains(&failed), "{failed}");
    // Heartbeats every 5 minutes with jitter: a probe's median gap is 300 ± 30 s.
    let mut gaps: Vec<i64> = Vec::new();
    let p0: Vec<i64> =
        obs.iter().filter(|o| o.probe == "probe-0001" && o.what == What::Heartbeat).map(|o| o.received_at).collect();
    gaps.extend(p0.windows(2).map(|w| w[1] - w[0]).filter(|&g| g < 400));
    gaps.sort_unstable();
    assert!((270..=330).contains(&gaps[gaps.len() / 2]), "{}", gaps[gaps.len() / 2]);
}

#[test]
fn measurement_json_parses_as_vigil_report_and_observes_back_to_the_same_observation() {
    let fleet = simulate(&spec(4), &shutdown());
    let mut kinds = [0usize; 3];
    for o in fleet.observations.iter().step_by(7).take(3000) {
        let json = measurement_json(o).expect("simulated observations have a measurement");
        let text = json.to_string();
        let test_name = json["test_name"].as_str().unwrap();
        let slot = match test_name {
            "vigil_platform" => {
                let m: Measurement<PlatformKeys> = serde_json::from_str(&text).unwrap();
                assert_eq!(m.probe_asn, format!("AS{}", o.asn));
                0
            }
            "vigil_heartbeat" => 1,
            "vigil_throttling" => 2,
            other => panic!("unexpected test {other}"),
        };
        kinds[slot] += 1;
        let row = StoredMeasurement {
            id: json["id"].as_str().unwrap(),
            key_id: &o.probe,
            test_name,
            measurement_start_time: json["measurement_start_time"].as_str().unwrap(),
            received_at: o.received_at,
            asn: o.asn,
            cc: &o.cc,
            payload: &text,
        };
        let back = observe(&row).unwrap();
        match (&back.what, &o.what) {
            (What::Throttling { ratio: a, .. }, What::Throttling { ratio: b, .. }) => {
                assert!((a - b).abs() < 1e-12);
                assert_eq!(Observation { what: o.what.clone(), ..back.clone() }, *o);
            }
            _ => assert_eq!(back, *o),
        }
    }
    assert!(kinds.iter().all(|&k| k > 100), "{kinds:?}");
}

/// Issue 16's noise, as the real probe behaves: a heartbeat that cannot be sent is spooled and
/// followed 10 s later by a `network_down` (only when the network is down, not when only the
/// collector is unreachable), uploaded after the return: the last ones within `live_window`.
#[test]
fn spooled_heartbeats_collector_cuts_power_cuts_and_retirements() {
    let mut spec = spec(5);
    spec.noise.spool_heartbeats = true;
    let (cut, back) = (T0 + D, T0 + D + 3 * 3600);
    let truth = [
        TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: cut, end: back },
        TruthEvent { cc: "AA".into(), asn: Some(101), kind: TruthKind::CollectorCut, start: cut, end: back },
        TruthEvent { cc: "AA".into(), asn: Some(102), kind: TruthKind::PowerCut { probes: 2 }, start: cut, end: back },
        TruthEvent {
            cc: "AA".into(),
            asn: Some(102),
            kind: TruthKind::Retire { probes: 1, stopping: true },
            start: T0 + D + 12 * 3600,
            end: T0 + D + 12 * 3600,
        },
    ];
    let fleet = simulate(&spec, &truth);
    let obs = &fleet.observations;
    let during = |o: &&Observation| o.at >= cut + 150 && o.at < back - 150;
    // The shutdown: spooled heartbeats, each followed by its network_down; the last ones arrive
    // within live_window (600 s) of being made.
    let hb100: Vec<&Observation> =
        obs.iter().filter(during).filter(|o| o.asn == 100 && o.what == What::Heartbeat).collect();
    assert!(hb100.len() > 100, "{}", hb100.len());
    assert!(hb100.iter().all(|o| o.received_at >= back));
    assert!(hb100.iter().any(|o| o.received_at - o.at <= 600), "some spooled heartbeats look live");
    let downs = obs.iter().filter(during).filter(|o| o.asn == 100 && o.is_network_down()).count();
    assert!(downs >= hb100.len());
    // The collector cut: heartbeats and runs spooled, no network_down at all.
    let asn101: Vec<&Observation> = obs.iter().filter(during).filter(|o| o.asn == 101).collect();
    assert!(asn101.iter().filter(|o| o.what == What::Heartbeat).count() > 100);
    assert!(asn101.iter().all(|o| !o.is_network_down() && o.received_at >= back));
    assert!(asn101.iter().any(|o| matches!(o.what, What::Platform { status: PlatformStatus::Ok, .. })));
    // The power cut: two probes of AS102 say nothing, then their uptime restarts.
    let off: Vec<&str> =
        fleet.probes.iter().filter(|p| p.asn == 102 && !p.powered(cut + 60)).map(|p| p.id.as_str()).collect();
    assert!(off.len() >= 2, "{off:?}");
    for id in &off[..2] {
        assert!(!obs.iter().any(|o| o.probe == *id && o.at >= cut + 150 && o.at < back - 150));
        let first = obs.iter().find(|o| o.probe == *id && o.at >= back && o.what == What::Heartbeat).unwrap();
        assert!(first.meta.uptime.unwrap() <= (first.at - back) as u64 + 130, "{:?}", first.meta);
    }
    // The retirement: its last heartbeat says it is stopping, then nothing.
    let retired = fleet.probes.iter().find(|p| p.stopping).expect("a retired probe");
    let last = obs.iter().filter(|o| o.probe == retired.id).max_by_key(|o| o.at).unwrap();
    assert!(last.at < T0 + D + 12 * 3600 + 130);
    let stopping: Vec<&Observation> = obs.iter().filter(|o| o.meta.stopping).collect();
    assert_eq!(stopping.len(), 1, "one probe's last words: {stopping:?}");
    let words = stopping[0];
    assert_eq!((words.probe.as_str(), &words.what), (retired.id.as_str(), &What::Heartbeat));
    let last_beat = obs.iter().filter(|o| o.probe == retired.id && o.what == What::Heartbeat).max_by_key(|o| o.at);
    assert_eq!(last_beat, Some(words), "its last heartbeat is the one that says stopping");
    // Replay JSON carries it: the signed payload says `"stopping": true`, observed back.
    let json = measurement_json(words).unwrap();
    assert_eq!(json["test_keys"]["stopping"], true);
    let text = json.to_string();
    let row = StoredMeasurement {
        id: json["id"].as_str().unwrap(),
        key_id: &words.probe,
        test_name: "vigil_heartbeat",
        measurement_start_time: json["measurement_start_time"].as_str().unwrap(),
        received_at: words.received_at,
        asn: words.asn,
        cc: &words.cc,
        payload: &text,
    };
    assert_eq!(observe(&row).unwrap(), *words);
}

/// A bounded spool sheds the earliest records (routine first), a slow drain spreads the upload,
/// and a constant upload lag delays every record.
#[test]
fn spool_cap_upload_rate_and_upload_lag() {
    let mut base = spec(6);
    base.noise.clock_skew = 0;
    let (cut, back) = (T0 + D, T0 + D + 6 * 3600);
    let truth = [TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: cut, end: back }];
    let mut capped = base.clone();
    capped.noise.spool_heartbeats = true;
    capped.noise.spool_cap = Some(50);
    capped.noise.upload_rate = Some(10);
    let fleet = simulate(&capped, &truth);
    for p in fleet.probes.iter().filter(|p| p.asn == 100 && p.powered(cut) && p.powered(back)) {
        let spooled: Vec<&Observation> =
            fleet.observations.iter().filter(|o| o.probe == p.id && o.at >= cut && o.at < back - 30).collect();
        assert!(spooled.len() <= 50, "{}", spooled.len());
        // What is left is the latest evidence: no heartbeat (routine goes first), no early record.
        assert!(spooled.iter().all(|o| o.is_network_down()), "{spooled:?}");
        assert!(spooled.iter().all(|o| o.at > cut + 3600));
        // 10 records per 5 minutes: the last arrives at least 20 min after the first.
        let (a, b) = (
            spooled.iter().map(|o| o.received_at).min().unwrap(),
            spooled.iter().map(|o| o.received_at).max().unwrap(),
        );
        assert!(b - a >= 4 * 300, "{a} {b}");
    }
    let mut lagged = base.clone();
    lagged.noise.upload_lag = 60;
    let (a, b) = (simulate(&base, &truth), simulate(&lagged, &truth));
    assert_eq!(a.observations.len(), b.observations.len());
    assert!(
        a.observations.iter().zip(&b.observations).all(|(x, y)| y.received_at == x.received_at + 60 && y.at == x.at)
    );
}
