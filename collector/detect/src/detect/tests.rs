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
pub(crate) fn heartbeats(asn: u32, probes: &[&str], from: i64, to: i64) -> Vec<Observation> {
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

// ---- Issue 16: shutdown semantics (D1, D3, D4, D5, skew). ----

use crate::detect::{Detection, detect_batch};
use crate::event::{Basis, Cause};
use crate::obs::Meta;

const DOWN: fn() -> What = || platform(CONNECTIVITY_CHECK, PlatformKind::Control, PlatformStatus::NetworkDown, None);

/// A heartbeat of `probe` made at `at`, received at `received`, with this meta.
fn beat(probe: &str, asn: u32, at: i64, received: i64, meta: Meta) -> Observation {
    Observation { meta, ..obs(probe, asn, at, received, What::Heartbeat) }
}

/// What a real probe spools during an outage over [from, to): a heartbeat every interval and,
/// 10 s later, its failed connectivity check; all uploaded at `received`.
fn spooled_beats(asn: u32, probe: &str, from: i64, to: i64, received: i64) -> Vec<Observation> {
    let mut v = Vec::new();
    for t in (0..).map(|k| from + k * H).take_while(|&t| t < to) {
        v.push(obs(probe, asn, t, received, What::Heartbeat));
        v.push(Observation {
            measurement_id: Some(format!("{probe}-{t}-down")),
            ..obs(probe, asn, t + 10, received, DOWN())
        });
    }
    v
}

fn batch(v: &[Observation], now: i64) -> Detection {
    detect_batch(v, &Params::default(), now, &Downtime::default())
}

#[test]
fn spooled_heartbeats_neither_end_an_outage_early_nor_split_it() {
    // Four probes cut off for 2 h; their spool (heartbeats and network_down checks) arrives
    // 30 s after the return: the last spooled heartbeats are less than `live_window` old then.
    let (cut, back) = (T + 6 * 3600 + 100, T + 8 * 3600 + 40);
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, T + 12 * 3600));
    for (k, p) in PROBES.iter().enumerate() {
        v.extend(spooled_beats(1, p, cut + 150 + 37 * k as i64, back, back + 30));
    }
    let done = shutdowns(&v, back + 4 * 3600);
    assert_eq!(done.len(), 1, "one event, not a second short one after a spooled heartbeat: {done:#?}");
    let e = &done[0];
    assert_eq!((e.status, e.basis), (Status::Confirmed, Basis::Evidence));
    assert!((e.end.unwrap() - back).abs() <= H / 2, "ends {} s from the return", e.end.unwrap() - back);
}

#[test]
fn a_constant_upload_delay_is_not_clock_skew() {
    // Clocks right, every record arrives 60 s after it is made: times are not shifted.
    let cut = T + 6 * 3600;
    let late = |mut v: Vec<Observation>| {
        v.iter_mut().for_each(|o| o.received_at = o.at + 60);
        v
    };
    let mut v = late(heartbeats(1, &PROBES, T, cut));
    v.extend(late(heartbeats(1, &PROBES, cut + 7200, T + 12 * 3600)));
    let mut starts = Vec::new();
    for (k, p) in PROBES.iter().enumerate() {
        let last = (0..).map(|j| T + 37 * k as i64 + j * H).take_while(|&t| t < cut).last().unwrap();
        // The next heartbeat fails: its connectivity check is the first network_down.
        v.extend(spooled(1, p, last + H, cut + 7200, cut + 7300));
        starts.push(last + H / 2);
    }
    starts.sort_unstable();
    let e = &shutdowns(&v, T + 12 * 3600)[0];
    // The median of the brackets [last heartbeat, first network_down], on the probes' own clocks.
    let median = starts[(starts.len() - 1) / 2];
    assert_eq!(e.start, median, "shifted by {} s", e.start - median);
    // A real clock offset beyond `skew_min` is still corrected (the 60 s delay cannot be told
    // from it then: it is corrected with it).
    let behind: Vec<Observation> = v.iter().cloned().map(|o| Observation { at: o.at - 400, ..o }).collect();
    let e2 = &shutdowns(&behind, T + 12 * 3600)[0];
    assert_eq!(e2.start - e.start, 60);
}

#[test]
fn shed_network_down_records_do_not_move_the_start() {
    // A 6-day shutdown whose first 3 days of network_down records were shed from the spool.
    let day = 86_400;
    let (cut, back) = (T + 6 * 3600, T + 6 * 3600 + 6 * day);
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, back + 3600));
    for p in PROBES {
        v.extend(spooled(1, p, cut + 3 * day, back, back + 60));
    }
    let e = &shutdowns(&v, back + 3600)[0];
    assert!((e.start - cut).abs() <= H, "start {} s after the cut", e.start - cut);
    assert!(e.start_uncertainty <= H, "{}", e.start_uncertainty);
}

#[test]
fn a_probe_still_draining_its_spool_is_not_excused_until_it_is_empty_or_spool_grace_max() {
    // Back after 2 h, nothing of the outage uploaded yet, and the heartbeats say 500 records wait.
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let p = Params::default();
    let mut v = heartbeats(1, &PROBES, T, cut);
    let mut after = heartbeats(1, &PROBES, back, back + 8 * 3600);
    after.iter_mut().for_each(|o| o.meta = Meta { backlog: Some(500), ..Meta::default() });
    v.extend(after.iter().cloned());
    assert_eq!(shutdowns(&v, back + 3600).len(), 1, "its spool still drains: not excused after spool_grace");
    assert!(shutdowns(&v, back + p.spool_grace_max + 600).is_empty(), "excused after spool_grace_max");
    // Drained (its latest heartbeat says 0): excused after spool_grace, as before.
    let mut v = heartbeats(1, &PROBES, T, cut);
    after.iter_mut().for_each(|o| o.meta = Meta { backlog: Some(0), ..Meta::default() });
    v.extend(after);
    assert!(shutdowns(&v, back + 3600).is_empty());
}

#[test]
fn silence_alone_needs_more_than_the_fraction_of_the_asns_probes() {
    // 3 of 5 silent (a power cut of a few probes): no shutdown; with network_down records, yes.
    let five = ["a", "b", "c", "d", "e"];
    let mut v = heartbeats(1, &five[..2], T, T + 12 * 3600);
    v.extend(heartbeats(1, &five[2..], T, T + 6 * 3600));
    assert!(shutdowns(&v, T + 7 * 3600).is_empty());
    for p in &five[2..] {
        v.extend(spooled(1, p, T + 6 * 3600 + 100, T + 7 * 3600, T + 7 * 3600 - 60));
    }
    let e = shutdowns(&v, T + 7 * 3600);
    assert_eq!((e.len(), e.first().map(|e| e.basis)), (1, Some(Basis::Evidence)), "{e:#?}");
    // 3 of 5 silent while a fourth is off for the night (heard in the day, not active now): 3 of
    // the 4 active, but not more than 60 % of the 5 heard that day.
    let mut v = heartbeats(1, &five[..1], T, T + 12 * 3600);
    v.extend(heartbeats(1, &five[1..2], T, T + 4 * 3600));
    v.extend(heartbeats(1, &five[2..], T, T + 6 * 3600));
    assert!(shutdowns(&v, T + 7 * 3600).iter().all(|e| e.start < T + 5 * 3600), "{:#?}", shutdowns(&v, T + 7 * 3600));
}

#[test]
fn a_live_silence_says_what_it_cannot_tell_apart() {
    let cut = T + 6 * 3600;
    let v = heartbeats(1, &PROBES, T, cut);
    let e = &shutdowns(&v, cut + 1800)[0];
    assert_eq!(e.basis, Basis::Silence);
    assert_eq!(e.cannot_tell, vec![Cause::Shutdown, Cause::PowerCut, Cause::CollectorUnreachable]);
}

#[test]
fn probes_that_rebooted_on_return_are_a_power_cut_set_aside_at_once() {
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let mut v = heartbeats(1, &PROBES, T, cut);
    let mut after = heartbeats(1, &PROBES, back, back + 3600);
    after.iter_mut().for_each(|o| o.meta = Meta { uptime: Some((o.at - back + 60) as u64), ..Meta::default() });
    v.extend(after);
    let d = batch(&v, back + 600);
    assert!(d.events.iter().all(|e| !matches!(e.kind, EventType::Shutdown)), "{:#?}", d.events);
    assert_eq!(d.set_aside.len(), 1, "{:#?}", d.set_aside);
    let s = &d.set_aside[0];
    assert_eq!((s.cause, s.probes, s.scope.asn), (Cause::PowerCut, 4, Some(1)));
    assert!(s.reason.contains("power cut") && s.reason.contains("rebooted"), "{}", s.reason);
    assert!((s.start - cut).abs() <= H, "{}", s.start - cut);
}

#[test]
fn spooled_heartbeats_with_no_failed_check_are_the_collector_unreachable_set_aside_at_once() {
    // The network worked (no network_down after the spooled heartbeats); only the collector was cut.
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, back + 3600));
    for (k, p) in PROBES.iter().enumerate() {
        let t0 = cut + 37 * k as i64 + 200;
        v.extend(
            (0..).map(|j| t0 + j * H).take_while(|&t| t < back).map(|t| beat(p, 1, t, back + 30, Meta::default())),
        );
    }
    let d = batch(&v, back + 300);
    assert!(d.events.iter().all(|e| !matches!(e.kind, EventType::Shutdown)), "{:#?}", d.events);
    assert_eq!(d.set_aside.iter().map(|s| (s.cause, s.probes)).collect::<Vec<_>>(), [(Cause::CollectorUnreachable, 4)]);
    assert!(d.set_aside[0].reason.contains("collector was unreachable"), "{}", d.set_aside[0].reason);
}

#[test]
fn a_lone_silence_ages_into_unknown_but_not_while_another_asn_is_silent() {
    let day = 86_400;
    let cut = T + 6 * 3600;
    // ASN 1: two probes fall silent for good; ASN 2's two probes report on.
    let mut v = heartbeats(1, &["a", "b"], T, cut);
    v.extend(heartbeats(2, &["c", "d"], T, T + 3 * day));
    let p = Params::default();
    let e = &shutdowns(&v, cut + 3600)[0];
    assert_eq!((e.status, e.end), (Status::Provisional, None));
    let e = &shutdowns(&v, cut + day + 3600)[0];
    assert_eq!(e.status, Status::Unknown, "{e:#?}");
    assert_eq!(e.end, Some(e.start + p.unknown_after));
    // ASN 2 silent at the same time too: a correlated silence stays a provisional shutdown.
    let mut v = heartbeats(1, &["a", "b"], T, cut);
    v.extend(heartbeats(2, &["c", "d"], T, cut + 60));
    let all = shutdowns(&v, cut + day + 3600);
    assert!(all.iter().all(|e| e.status == Status::Provisional && e.end.is_none()), "{all:#?}");
    // Any silence alone lapses after silence_max.
    let all = shutdowns(&v, cut + p.silence_max + 3600);
    assert!(all.iter().all(|e| e.status == Status::Unknown), "{all:#?}");
}

#[test]
fn last_words_excuse_the_silence_after_them() {
    let cut = T + 6 * 3600;
    let mut v = heartbeats(1, &PROBES[..3], T, cut);
    for o in v.iter_mut().filter(|o| o.at + H >= cut) {
        o.meta = Meta { stopping: true, ..Meta::default() };
    }
    assert!(shutdowns(&v, cut + 3600).is_empty());
}

#[test]
fn probes_that_flicker_back_for_a_moment_do_not_split_the_shutdown() {
    // Cut for 2 h; one heartbeat of each probe gets through after 1 h, then it is down again.
    let (cut, back) = (T + 6 * 3600, T + 8 * 3600);
    let flick = cut + 3600;
    let mut v = heartbeats(1, &PROBES, T, cut);
    v.extend(heartbeats(1, &PROBES, back, back + 3600));
    for (k, p) in PROBES.iter().enumerate() {
        let f = flick + 37 * k as i64;
        v.push(obs(p, 1, f, f + 2, What::Heartbeat));
        v.extend(spooled(1, p, cut + 150, f, f + 30));
        v.extend(spooled(1, p, f + 250, back, back + 30));
    }
    let e = shutdowns(&v, back + 3600);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!((e[0].end.unwrap() - back).abs() <= H && (e[0].start - cut).abs() <= H, "{:#?}", e[0]);
}

/// The view a detector extends pass by pass is the one a batch builds at once: clock offsets
/// (skewed probes, records arriving together, late ones), probe numbers and groups. Records
/// that arrive before what their probe already showed are refused (the detector rebuilds).
#[test]
fn a_view_extended_pass_by_pass_equals_the_view_built_at_once() {
    use crate::detect::{OutOfOrder, ViewData};
    let p = Params::default();
    let mut all = Vec::new();
    for (k, (probe, asn, skew)) in [("p", 1, 0), ("q", 1, 400), ("r", 2, -300), ("s", 3, 40)].into_iter().enumerate() {
        for n in 0..60 {
            let at = T + n * 300 + k as i64 * 7;
            // Every fifth record arrives with the next one (spooled a little): ties in arrival.
            let received = at + skew + 3 + if n % 5 == 0 { 300 } else { 0 };
            all.push(obs(probe, asn, at, received, What::Heartbeat));
            if n % 7 == 0 {
                let s = PlatformStatus::Ok;
                all.extend(run(probe, at + 60, s, s).into_iter().map(|mut o| {
                    (o.asn, o.received_at) = (asn, o.received_at + skew);
                    o
                }));
            }
        }
    }
    all.sort_by_key(|o| o.received_at);
    let end = T + 61 * 300 + 2000;
    let mut data = ViewData::default();
    let mut fed = 0;
    for now in (T..end).step_by(1234).chain([end]) {
        while fed < all.len() && all[fed].received_at <= now {
            fed += 1;
        }
        // Fed a little ahead of `now` too: what arrives later waits for its pass.
        let ahead = (fed + 3).min(all.len());
        data.extend(&all[..ahead], &p, now).expect("in order");
        let at_once = ViewData::build(&all[..ahead], &p, now);
        assert_eq!((&data.t, &data.lag, &data.probe), (&at_once.t, &at_once.lag, &at_once.probe), "at {now}");
        let idx = |d: &ViewData| d.groups.iter().map(|g| (g.cc.clone(), g.asn, g.idx.clone())).collect::<Vec<_>>();
        assert_eq!(idx(&data), idx(&at_once), "at {now}");
    }
    assert!(data.lag.iter().any(|&l| l > p.skew_min) && data.lag.iter().any(|&l| l < -p.skew_min));
    // A record received before the last one of its probe, or an earlier `now`: refused.
    let mut late = all[10].clone();
    late.measurement_id = Some("late".into());
    let mut more = all.clone();
    more.push(late);
    assert_eq!(data.clone().extend(&more, &p, end), Err(OutOfOrder));
    assert_eq!(data.extend(&all, &p, end - 1), Err(OutOfOrder));
    assert_eq!(all.len(), 4 * 60 + 4 * 9 * 2, "every record was fed");
}

/// A detector's liveness is kept between passes; a connectivity check that arrives in a later
/// pass than the live heartbeat just before it (half an interval) still marks that heartbeat
/// spooled, as the batch does: the start of the shutdown is the same at every step.
#[test]
fn a_check_arriving_after_the_heartbeat_before_it_marks_it_as_the_batch_does() {
    let cut = T + 3 * 3600;
    let back = cut + 2 * 3600;
    let mut all = Vec::new();
    for (k, probe) in ["p", "q", "r", "s"].into_iter().enumerate() {
        let k = k as i64;
        for at in (T + k..back + 3600).step_by(300) {
            // Live before the cut (the one at the cut too); after the return, live again.
            if at <= cut + k || at >= back {
                all.push(obs(probe, 1, at, at + 2, What::Heartbeat));
            }
        }
        // Checks a minute after the last live heartbeat and every 5 minutes after, spooled
        // until the return.
        for at in (cut + k + 60..back).step_by(300) {
            all.push(obs(probe, 1, at, back + 30 + k, DOWN()));
        }
    }
    all.sort_by_key(|o| o.received_at);
    let steps = stepped_equals_detect(&all, (T + 600..back + 3 * 3600).step_by(600));
    assert!(steps.iter().flatten().any(|e| e.kind == EventType::Shutdown));
}

/// A [`crate::Detector`] fed `all` (in arrival order) and advanced to each of `times` gives
/// exactly what `detect` gives at each; returns those events, step by step.
fn stepped_equals_detect(all: &[Observation], times: impl Iterator<Item = i64>) -> Vec<Vec<crate::DetectedEvent>> {
    let p = Params::default();
    let mut d = crate::Detector::new(p.clone());
    let mut fed = 0;
    let mut steps = Vec::new();
    for now in times {
        while fed < all.len() && all[fed].received_at <= now {
            d.observe(&all[fed]);
            fed += 1;
        }
        d.advance(now, &crate::Downtime::default());
        let want = detect(all, &p, now);
        assert_eq!(d.events(now), want, "at {}", now - T);
        steps.push(want);
    }
    steps
}

/// A detector settles blocking episodes a while back and reruns only what follows; runs
/// measured before that point but uploaded late (a probe's spool) reach the settled part: the
/// detector then judges the group again, as the batch does.
#[test]
fn blocked_runs_uploaded_hours_late_reach_a_detectors_settled_runs() {
    let p = Params::default();
    let (ok, blocked) = (PlatformStatus::Ok, PlatformStatus::Blocked);
    let mut all = Vec::new();
    for (k, probe) in ["p", "q", "r"].into_iter().enumerate() {
        for n in 0..24 {
            let at = T + n * 1800 + k as i64 * 60;
            let spooled = probe != "p" && (4..9).contains(&n);
            let status = if spooled { blocked } else { ok };
            all.extend(run(probe, at, status, ok).into_iter().map(|mut o| {
                if spooled {
                    // Uploaded together, hours later.
                    o.received_at = T + 8 * 3600;
                }
                o
            }));
        }
    }
    all.sort_by_key(|o| o.received_at);
    stepped_equals_detect(&all, (T + 900..T + 11 * 3600).step_by(900));
    let blocking = detect(&all, &p, T + 11 * 3600);
    assert!(blocking.iter().any(|e| matches!(e.kind, EventType::Blocking { .. })), "{blocking:?}");
}
