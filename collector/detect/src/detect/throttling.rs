//! Throttling per (country, ASN, platform): a robust baseline of r = ln(T/C) by hour-of-day ×
//! weekday/weekend, robust z per step, a lower one-sided CUSUM, agreement of ≥ 2 probes, and
//! the same minimum evidence as blocking (rules in the `detect` module documentation).
//!
//! Hours are UTC: the collector does not know a country's time zone yet.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::blocking::{Tail, enough, summarize};
use super::episode::{Cut, Episode, Rules, Sample, episodes_after, settle, tail_start};
use super::{Group, View};
use crate::event::{DetectedEvent, EventType};
use crate::obs::{ThrottleMechanism, ThrottleVerdict, What};
use crate::params::Params;
use crate::stats::{median, median_scale};

const DAY: i64 = 86_400;

/// One throttling run.
struct Run<'a> {
    t: i64,
    probe: &'a str,
    r: f64,
    throttled: bool,
    idx: usize,
}

/// A (cc, ASN)'s throttling state between two passes of an incremental detector: per platform,
/// the settled point its runs have been judged up to (a CUSUM step boundary with no episode
/// open) and the CUSUM there (issue 16, D7).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ThrottlingState {
    pub platforms: BTreeMap<String, (Cut, Cusum)>,
}

pub(crate) fn detect(view: &View<'_>, group: &Group) -> Vec<DetectedEvent> {
    detect_after(view, group, ThrottlingState::default(), i64::MIN).unsettled
}

/// The throttling rules over the runs after `state`'s settled points only, from the CUSUM
/// carried there (as [`super::blocking::detect_after`]; `view` must hold every run after the
/// settled points).
pub(crate) fn detect_after(
    view: &View<'_>,
    group: &Group,
    state: ThrottlingState,
    settle_before: i64,
) -> Tail<ThrottlingState> {
    let mut by_platform: BTreeMap<&str, Vec<Run<'_>>> = BTreeMap::new();
    for &i in &group.idx {
        let o = &view.obs[i];
        let What::Throttling { platform, ratio, verdict, .. } = &o.what else { continue };
        if !(ratio.is_finite() && *ratio > 0.0) {
            continue;
        }
        let run = Run {
            t: view.t[i],
            probe: &o.probe,
            r: ratio.max(1e-4).ln(),
            throttled: *verdict == ThrottleVerdict::Throttled,
            idx: i,
        };
        by_platform.entry(platform).or_default().push(run);
    }
    let p = view.params;
    // The state is taken, not copied: each platform's CUSUM (its baseline's history) is copied
    // once, to run over its tail; the original restarts the run up to the new freeze point.
    let mut out = Tail { state, ..Tail::default() };
    for (platform, runs) in by_platform {
        let (carried, start) = match out.state.platforms.remove(platform) {
            Some((c, start)) => (Some(c), start),
            None => (None, Cusum::default()),
        };
        let cut = carried.as_ref();
        let runs = &runs[tail_start(&runs, |r| r.t, cut)..];
        let mut end_state = start.clone();
        let (z, alarms, bounds) = cusum(runs, p, &mut end_state);
        let samples: Vec<Sample<'_>> = runs
            .iter()
            .zip(&z)
            .map(|(r, &z)| Sample {
                t: r.t,
                probe: r.probe,
                stream: r.probe,
                hit: r.throttled || z < p.throttle_hit_z,
                weight: 1.0,
                idx: std::slice::from_ref(&r.idx),
            })
            .collect();
        let eps = episodes_after(&samples, Rules::of(p), cut.and_then(|c| c.last_ok));
        let next = settle(&samples, &eps, cut, settle_before, |k| bounds.binary_search(&(k + 1)).is_ok());
        for ep in &eps {
            let Some(e) = event(view, group, platform, ep, &alarms) else { continue };
            let done = next.as_ref().is_some_and(|(k, _)| ep.end.is_some() && ep.span.1 <= *k);
            if done { out.settled.push(e) } else { out.unsettled.push(e) }
        }
        if let Some((k, next)) = next {
            // The CUSUM at the settled point: rerun over the runs before it (a step boundary).
            let mut at = start;
            cusum(&runs[..=k], p, &mut at);
            out.state.platforms.insert(platform.to_string(), (next, at));
        } else if let Some(c) = carried {
            out.state.platforms.insert(platform.to_string(), (c, start));
        }
    }
    out
}

/// The event of an episode, if it qualifies: the CUSUM alarmed in it, enough probes agree, and
/// it has the minimum evidence.
fn event(view: &View<'_>, group: &Group, platform: &str, ep: &Episode<'_>, alarms: &[i64]) -> Option<DetectedEvent> {
    let p = view.params;
    let from = ep.samples[0].t;
    let until = ep.until(view.now);
    let alarmed = alarms.iter().any(|&a| from <= a && a <= until);
    let evidence = enough(ep, p.block_min_probes, p.block_min_consecutive, p.block_min_measurements);
    if !alarmed || !evidence || !agree(view, ep, p) {
        return None;
    }
    let mut rates: Vec<f64> = ep
        .hits()
        .filter_map(|s| match &view.obs[s.idx[0]].what {
            What::Throttling { verdict: ThrottleVerdict::Throttled, rate_kbps, .. } => *rate_kbps,
            _ => None,
        })
        .collect();
    let rate_kbps = median(&mut rates).map(|r| r.round());
    let mechanism = dominant_mechanism(view, ep);
    let kind = EventType::Throttling { platform: platform.to_string(), rate_kbps, mechanism };
    let strong = enough(ep, 2 * p.throttle_min_probes, 2, 2 * p.block_min_measurements);
    Some(summarize(view, group, ep, kind, strong))
}

/// The mechanism most throttled runs of the episode named (ties: the first in the enum's order).
fn dominant_mechanism(view: &View<'_>, ep: &Episode<'_>) -> Option<ThrottleMechanism> {
    let mut counts: BTreeMap<u8, (usize, ThrottleMechanism)> = BTreeMap::new();
    for s in ep.hits() {
        if let What::Throttling { verdict: ThrottleVerdict::Throttled, mechanism: Some(m), .. } =
            &view.obs[s.idx[0]].what
        {
            counts.entry(*m as u8).or_insert((0, *m)).0 += 1;
        }
    }
    let best = counts.values().map(|(n, _)| *n).max()?;
    counts.values().find(|(n, _)| *n == best).map(|(_, m)| *m)
}

/// Throttled verdicts from `throttle_min_probes` distinct probes within `throttle_agree_window`.
fn agree(view: &View<'_>, ep: &Episode<'_>, p: &Params) -> bool {
    let throttled: Vec<&Sample<'_>> = ep
        .hits()
        .filter(|s| matches!(view.obs[s.idx[0]].what, What::Throttling { verdict: ThrottleVerdict::Throttled, .. }))
        .collect();
    throttled.iter().enumerate().any(|(i, a)| {
        let mut probes: Vec<&str> =
            throttled[i..].iter().take_while(|b| b.t - a.t <= p.throttle_agree_window).map(|b| b.probe).collect();
        probes.sort_unstable();
        probes.dedup();
        probes.len() >= p.throttle_min_probes
    })
}

/// Hour of day (UTC) and whether it is a weekend day.
fn cell(t: i64) -> (i64, bool) {
    let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Monday
    (t.rem_euclid(DAY) / 3600, weekday >= 5)
}

/// A cell as a small key: hour × 2 + weekend.
fn cell_key(t: i64) -> u8 {
    let (hour, weekend) = cell(t);
    (hour * 2 + i64::from(weekend)) as u8
}

/// Normal runs a baseline history keeps: the most recent ones (bounded state per cell, the same
/// in batch and incremental detection).
const HISTORY: usize = 32;

/// The baseline history of one (ASN, platform): normal runs only (inpainting), at most
/// [`HISTORY`] recent ones per hour × day-type cell and as many over all hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    cells: BTreeMap<u8, History>,
    all: History,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct History {
    values: VecDeque<(i64, f64)>,
}

impl History {
    /// (number of values at most `baseline_days` old, their median, their scale).
    fn stats(&self, since: i64) -> (usize, f64, f64) {
        let recent: Vec<f64> = self.values.iter().filter(|x| x.0 >= since).map(|x| x.1).collect();
        let (m, s) = median_scale(&recent).unwrap_or((0.0, 0.0));
        (recent.len(), m, s)
    }

    fn push(&mut self, t: i64, r: f64) {
        if self.values.len() == HISTORY {
            self.values.pop_front();
        }
        self.values.push_back((t, r));
    }
}

impl Baseline {
    /// Median and scale for a run at `t`: its hour × day-type cell, else all hours, else the prior.
    fn reference(&self, t: i64, p: &Params) -> (f64, f64) {
        let since = t - p.baseline_days * DAY;
        let cell = self.cells.get(&cell_key(t)).map(|h| h.stats(since));
        let (n, m, s) = match cell {
            Some(c) if c.0 >= p.baseline_min_runs => c,
            _ => self.all.stats(since),
        };
        if n >= p.baseline_min_runs { (m, s.max(p.scale_floor)) } else { (0.0, p.prior_scale.max(p.scale_floor)) }
    }

    fn add(&mut self, t: i64, r: f64) {
        self.cells.entry(cell_key(t)).or_default().push(t, r);
        self.all.push(t, r);
    }
}

/// The CUSUM's state at a step boundary: the baseline and the statistic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cusum {
    pub baseline: Baseline,
    pub s: f64,
}

/// Robust z of every run and the times the CUSUM alarmed, from state `c` (left at the last step
/// boundary), and the step boundaries (indices where a step began, and the end). Runs are taken
/// in steps of at least `step_min_probes` probes or `step_min_runs` runs; a step's z is the
/// median over its probes of each probe's median z (over its runs when fewer than
/// `step_min_probes`); S = max(0, S − max(z, −clip) − k), alarm (and restart) when S ≥ h. The
/// clip (a Huber-style CUSUM) makes an alarm need two low steps in a row: two chance throttled
/// runs in one step are not enough.
fn cusum(runs: &[Run<'_>], p: &Params, c: &mut Cusum) -> (Vec<f64>, Vec<i64>, Vec<usize>) {
    let mut z = vec![0.0; runs.len()];
    let mut alarms = Vec::new();
    let mut bounds = vec![0];
    let mut begin = 0;
    for end in 1..=runs.len() {
        let step = &runs[begin..end];
        let mut probes: Vec<&str> = step.iter().map(|r| r.probe).collect();
        probes.sort_unstable();
        probes.dedup();
        let full = probes.len() >= p.step_min_probes || step.len() >= p.step_min_runs;
        if !full && end < runs.len() {
            continue;
        }
        let mut refs: HashMap<u8, (f64, f64)> = HashMap::new();
        for (k, r) in step.iter().enumerate() {
            let (m, sc) = *refs.entry(cell_key(r.t)).or_insert_with(|| c.baseline.reference(r.t, p));
            z[begin + k] = (r.r - m) / sc;
        }
        if full {
            let mut per_probe: Vec<f64> = probes
                .iter()
                .filter_map(|pr| {
                    let mut v: Vec<f64> = (begin..end).filter(|&i| runs[i].probe == *pr).map(|i| z[i]).collect();
                    median(&mut v)
                })
                .collect();
            // The median over probes when there are enough of them, else over the runs (a
            // median of two probes would be their mean, moved by one outlier).
            let zs = if probes.len() >= p.step_min_probes {
                median(&mut per_probe).unwrap_or(0.0)
            } else {
                median(&mut z[begin..end].to_vec()).unwrap_or(0.0)
            };
            c.s = f64::max(0.0, c.s - zs.max(-p.cusum_clip) - p.cusum_k);
            if c.s >= p.cusum_h {
                alarms.push(runs[end - 1].t);
                c.s = 0.0;
            } else {
                for (k, r) in step.iter().enumerate() {
                    if !r.throttled && z[begin + k] > p.throttle_hit_z {
                        c.baseline.add(r.t, r.r);
                    }
                }
            }
            bounds.push(end);
        }
        begin = end;
    }
    (z, alarms, bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[(i64, &'static str, f64, bool)]) -> Vec<Run<'static>> {
        values.iter().map(|&(t, probe, ratio, throttled)| Run { t, probe, r: ratio.ln(), throttled, idx: 0 }).collect()
    }

    #[test]
    fn cells_split_hours_and_weekends() {
        let monday = 1_740_960_000; // 2025-03-03 00:00 UTC
        assert_eq!(cell(monday), (0, false));
        assert_eq!(cell(monday + 5 * DAY + 13 * 3600), (13, true));
        assert_eq!(cell(monday + 7 * DAY - 1), (23, true));
    }

    #[test]
    fn cusum_stays_quiet_on_noise_and_alarms_on_a_drop() {
        let p = Params::default();
        let names = ["a", "b", "c"];
        let mut v = Vec::new();
        for k in 0..300i64 {
            let noise = ((k * 7919) % 21 - 10) as f64 / 100.0; // ±0.1 in ln units
            v.push((k * 600, names[(k % 3) as usize], (noise).exp(), false));
        }
        let (_, alarms, _) = cusum(&runs(&v), &p, &mut Cusum::default());
        assert!(alarms.is_empty(), "{alarms:?}");
        for k in 300..330i64 {
            v.push((k * 600, names[(k % 3) as usize], 0.05, k % 2 == 0));
        }
        let (z, alarms, _) = cusum(&runs(&v), &p, &mut Cusum::default());
        assert!(alarms.first().is_some_and(|&a| (300 * 600..=306 * 600).contains(&a)), "{alarms:?}");
        assert!(z[305] < -10.0);
    }
}
