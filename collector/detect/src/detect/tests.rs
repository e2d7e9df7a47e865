//! Unit tests of each detection rule on hand-built observations: minimum evidence, controls,
//! the end rule, provisional → confirmed, retraction of powered-off silences, habits, country
//! shutdowns, stable ids, and `received_at > now` being invisible.

use vigil_report::{Mechanism, PlatformStatus};

use crate::downtime::{Downtime, Gap, GapKind};
use crate::event::{EventType, Status};
use crate::obs::{CONNECTIVITY_CHECK, Observation, PlatformKind, What};
use crate::params::Params;
use crate::{detect, detect_with};

const T: i64 = 1_740_960_000;
const H: i64 = 300;

pub(crate) fn obs(probe: &str, asn: u32, at: i64, received_at: i64, what: What) -> Observation {
    Observation {
        at,
        received_at,
        probe: probe.into(),
        cc: "AA".into(),
        asn,
        measurement_id: Some(format!("{probe}-{at}")),
        what,
        meta: Default::default(),
    }
}

fn platform(name: &str, kind: PlatformKind, status: PlatformStatus, mechanism: Option<Mechanism>) -> What {
    What::Platform { platform: name.into(), kind, status, family: mechanism.map(Mechanism::family), mechanism }
}

/// One battery run of `probe`: whatsapp with `status`, a control with `control`.
fn run(probe: &str, at: i64, status: PlatformStatus, control: PlatformStatus) -> Vec<Observation> {
    let mech = (status == PlatformStatus::Blocked).then_some(Mechanism::TlsSniReset);
    vec![
        obs(probe, 1, at, at + 30, platform("whatsapp", PlatformKind::Platform, status, mech)),
        obs(probe, 1, at + 5, at + 35, platform("example", PlatformKind::Control, control, None)),
    ]
}

/// Runs of several probes: `pattern[k]` is probe k's statuses, one run per 40 min from `T`,
/// probe k offset by k × 5 min. 'O' ok, 'B' blocked, 'X' blocked with failing controls.
fn runs(pattern: &[&str]) -> Vec<Observation> {
    let mut v = Vec::new();
    for (k, p) in pattern.iter().enumerate() {
        for (r, c) in p.chars().enumerate() {
            let at = T + r as i64 * 2400 + k as i64 * H;
            let (s, ctl) = match c {
                'B' => (PlatformStatus::Blocked, PlatformStatus::Ok),
                'X' => (PlatformStatus::Blocked, PlatformStatus::Unknown),
                _ => (PlatformStatus::Ok, PlatformStatus::Ok),
            };
            v.extend(run(&format!("p{k}"), at, s, ctl));
        }
    }
    v
}

fn blocks(v: &[Observation]) -> Vec<crate::DetectedEvent> {
    detect(v, &Params::default(), T + 10 * 86_400)
        .into_iter()
        .filter(|e| matches!(e.kind, EventType::Blocking { .. }))
        .collect()
}

#[test]
fn blocking_needs_two_probes_with_two_blocked_runs_in_a_row_or_five_from_one() {
    assert!(blocks(&runs(&["OOBBOO", "OOBOOO", "OOOOOO"])).is_empty());
    let e = blocks(&runs(&["OOBBOO", "OOBBOO", "OOOOOO"]));
    assert_eq!(e.len(), 1);
    let e = &e[0];
    assert_eq!((e.probes, e.measurements, e.evidence.len()), (2, 4, 4));
    assert!(matches!(e.kind, EventType::Blocking { mechanism: Some(Mechanism::TlsSniReset), .. }));
    // Start: between the last ok (p2's 2nd run) and the first blocked run (p0's 3rd); the runs'
    // 30 s upload delay is no clock offset (issue 16: it once shifted every time by 30 s).
    let (last_ok, first_hit) = (T + 2400 + 2 * H, T + 2 * 2400);
    assert_eq!(e.start, last_ok + (first_hit - last_ok) / 2);
    assert_eq!(e.start_uncertainty, (first_hit - last_ok) / 2);
    assert!(blocks(&runs(&["OBBBBO", "OOOOOO"])).is_empty());
    assert_eq!(blocks(&runs(&["OBBBBBO", "OOOOOOO"])).len(), 1);
}

#[test]
fn blocked_runs_whose_controls_fail_are_not_evidence() {
    assert!(blocks(&runs(&["OOXXOO", "OOXXOO", "OOOOOO"])).is_empty());
}

#[test]
fn a_block_ends_when_half_of_the_reporting_probes_see_it_ok() {
    // p0 and p1 ok again at run 5, p2 and p3 still blocked: 2 of 4 ok = 50 %: ended.
    let e = blocks(&runs(&["OBBBOO", "OBBBOO", "OBBBBB", "OBBBBB"]));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].status, Status::Confirmed);
    let (last_hit, first_ok) = (T + 3 * 2400 + 3 * H, T + 4 * 2400);
    assert_eq!(e[0].end, Some(last_hit + (first_ok - last_hit) / 2));
    // Only one of four ok: still ongoing, confirmed with twice the minimum evidence (4 probes
    // with 2+ blocked runs in a row)...
    let e = blocks(&runs(&["OBBBO", "OBBBB", "OBBBB", "OBBBB"]));
    assert_eq!((e[0].end, e[0].status), (None, Status::Confirmed));
    // ...provisional with the minimum only.
    let e = blocks(&runs(&["OBB", "OBB", "OBB", "OOO"]));
    assert_eq!((e[0].end, e[0].status), (None, Status::Provisional));
}

/// `n` probes heartbeating every 5 min over [from, to), received live.
fn heartbeats(asn: u32, probes: &[&str], from: i64, to: i64) -> Vec<Observation> {
    let mut v = Vec::new();
    for (k, p) in probes.iter().enumerate() {
        let mut t = from + 37 * k as i64;
        while t < to {
            v.push(obs(p, asn, t, t + 2, What::Heartbeat));
            t += H;
        }
    }
    v
}

/// The spooled connectivity checks of a probe over [from, to), delivered at `received`.
fn spooled(asn: u32, probe: &str, from: i64, to: i64, received: i64) -> Vec<Observation> {
    let down = platform(CONNECTIVITY_CHECK, PlatformKind::Control, PlatformStatus::NetworkDown, None);
    (0..).map(|k| from + k * H).take_while(|&t| t < to).map(|t| obs(probe, asn, t, received, down.clone())).collect()
}

fn shutdowns(v: &[Observation], now: i64) -> Vec<crate::DetectedEvent> {
    detect(v, &Params::default(), now).into_iter().filter(|e| matches!(e.kind, EventType::Shutdown)).collect()
}

const PROBES: [&str; 4] = ["a", "b", "c", "d"];

#[test]
fn a_silence_is_provisional_then_confirmed_and_refined_by_spooled_evidence() {
    let (cut, back) = (T + 6 * 3600 + 100, T + 8 * 3600 + 40);
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, T + 12 * 3600));
    for p in PROBES {
        v.extend(spooled(1, p, cut + 150, back, back + 120));
    }
    // Live, 15 minutes in: provisional, open, from silence alone.
    let live = shutdowns(&v, cut + 900);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!((live[0].status, live[0].end, live[0].probes), (Status::Provisional, None, 4));
    assert!((live[0].start - cut).abs() <= H, "{}", live[0].start - cut);
    // Back, evidence not yet uploaded: still provisional.
    assert_eq!(shutdowns(&v, back + 60)[0].status, Status::Provisional);
    // Evidence in: confirmed, start and end within half an interval.
    let done = shutdowns(&v, back + 4 * 3600);
    assert_eq!(done.len(), 1);
    let e = &done[0];
    assert_eq!(e.status, Status::Confirmed);
    assert!((e.start - cut).abs() <= H / 2 && (e.end.unwrap() - back).abs() <= H / 2, "{} {:?}", e.start - cut, e.end);
    assert!(e.evidence.iter().filter(|x| x.received_at == back + 120).count() >= 4 * 20);
    assert_eq!(e.id, live[0].id, "the start moved less than the hour bucket");
}

#[test]
fn probes_back_without_spooled_evidence_were_powered_off_not_cut_off() {
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, T + 12 * 3600));
    assert_eq!(shutdowns(&v, cut + 900).len(), 1);
    assert_eq!(shutdowns(&v, back + 600).len(), 1, "within the spool grace period");
    assert!(shutdowns(&v, back + 3600).is_empty());
}

#[test]
fn two_silent_probes_of_five_are_no_shutdown_but_two_of_three_are() {
    let five = ["a", "b", "c", "d", "e"];
    let mut v = heartbeats(1, &five[..3], T, T + 12 * 3600);
    v.extend(heartbeats(1, &five[3..], T, T + 6 * 3600));
    assert!(shutdowns(&v, T + 7 * 3600).is_empty());
    let mut v = heartbeats(1, &five[..1], T, T + 12 * 3600);
    v.extend(heartbeats(1, &five[1..3], T, T + 6 * 3600));
    assert_eq!(shutdowns(&v, T + 7 * 3600).len(), 1);
}

#[test]
fn probes_habitually_off_at_night_do_not_make_a_shutdown_but_a_curfew_with_evidence_does() {
    let day = 86_400;
    let mut v = Vec::new();
    for d in 0..4 {
        v.extend(heartbeats(1, &PROBES, T + d * day, T + d * day + 23 * 3600));
    }
    // Night 0: nothing known yet, a provisional event; night 3: a habit, nothing.
    assert_eq!(shutdowns(&v, T + 23 * 3600 + 900).len(), 1);
    assert!(shutdowns(&v, T + 3 * day + 23 * 3600 + 900).is_empty());
    // The same nights as a curfew with spooled evidence are not habits: night 3 is detected.
    for d in 0..3 {
        for p in PROBES {
            let (from, to) = (T + d * day + 23 * 3600 + 200, T + (d + 1) * day);
            v.extend(spooled(1, p, from, to, to + 60));
        }
    }
    assert_eq!(shutdowns(&v, T + 3 * day + 23 * 3600 + 900).len(), 4);
}

#[test]
fn a_country_shutdown_needs_most_of_its_asns() {
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let mut v = Vec::new();
    for asn in 1..=3 {
        let names: Vec<String> = PROBES.iter().map(|p| format!("{p}{asn}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let down = asn <= 2;
        v.extend(heartbeats(asn, &names, T, if down { cut } else { back }));
        v.extend(heartbeats(asn, &names, back, T + 12 * 3600));
        if down {
            for p in &names {
                v.extend(spooled(asn, p, cut + 100, back, back + 60));
            }
        }
    }
    let all = shutdowns(&v, T + 12 * 3600);
    let country: Vec<_> = all.iter().filter(|e| e.scope.asn.is_none()).collect();
    assert_eq!((all.len(), country.len()), (3, 1), "{all:?}");
    assert_eq!(country[0].status, Status::Confirmed);
    assert!((country[0].start - cut).abs() <= H && (country[0].end.unwrap() - back).abs() <= H);
    // One ASN of three is not most of the country.
    let one: Vec<Observation> = v.iter().filter(|o| o.asn != 2).cloned().collect();
    assert!(shutdowns(&one, T + 12 * 3600).iter().all(|e| e.scope.asn.is_some()));
}

#[test]
fn ids_are_stable_as_data_arrives_and_unseen_data_is_ignored() {
    let v = runs(&["OBBBBBBBB", "OBBBBBBBB", "OOOOOOOOO"]);
    let early = blocks(&v.iter().filter(|o| o.received_at <= T + 4 * 2400).cloned().collect::<Vec<_>>());
    let later = blocks(&v);
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].id, later[0].id);
    assert!(later[0].measurements > early[0].measurements);
    // Passing `now` hides what was received later.
    let at_now: Vec<_> = detect(&v, &Params::default(), T + 4 * 2400)
        .into_iter()
        .filter(|e| matches!(e.kind, EventType::Blocking { .. }))
        .collect();
    assert_eq!(at_now.len(), 1);
    assert_eq!(at_now[0].measurements, early[0].measurements);
}

#[test]
fn probes_retiring_one_by_one_during_a_long_collector_outage_are_no_shutdown() {
    // The collector is down for three days; four of five probes leave, twelve hours apart. Their
    // last battery runs reach it late (spooled), the fifth probe heartbeats on after it is back.
    let (a, b) = (T + 86_400, T + 4 * 86_400);
    let mut v = heartbeats(1, &["a", "b", "c", "d", "e"], T, a);
    for (k, p) in ["a", "b", "c", "d"].iter().enumerate() {
        let last = a + (k as i64 + 1) * 12 * 3600;
        v.push(obs(p, 1, last, b + 120, platform("whatsapp", PlatformKind::Platform, PlatformStatus::Ok, None)));
    }
    v.extend(heartbeats(1, &["e"], b, b + 86_400));
    let d = Downtime { gaps: vec![Gap { start: a, end: Some(b), kind: GapKind::Down }] };
    for now in [b + 3600, b + 6 * 3600, b + 86_400] {
        let e: Vec<_> = detect_with(&v, &Params::default(), now, &d)
            .into_iter()
            .filter(|e| matches!(e.kind, EventType::Shutdown))
            .collect();
        assert!(e.is_empty(), "at back + {} s: {e:#?}", now - b);
    }
    // The same four going silent together during the outage is still a shutdown.
    let mut v = heartbeats(1, &["a", "b", "c", "d", "e"], T, a);
    for p in ["a", "b", "c", "d"] {
        v.push(obs(
            p,
            1,
            a + 12 * 3600,
            b + 120,
            platform("whatsapp", PlatformKind::Platform, PlatformStatus::Ok, None),
        ));
    }
    v.extend(heartbeats(1, &["e"], b, b + 86_400));
    let e = detect_with(&v, &Params::default(), b + 6 * 3600, &d);
    assert!(e.iter().any(|e| matches!(e.kind, EventType::Shutdown)), "{e:#?}");
}
