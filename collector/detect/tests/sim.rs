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
