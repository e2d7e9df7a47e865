//! Episodes of a per-run signal across the probes of one ASN (blocked runs of a platform,
//! throttled runs): where one starts, when it ends (the end rule), and its start/end brackets.
//!
//! A sample is one run: one probe's run (Vigil), or one report (OONI, whose reports carry no
//! stable probe id: the reports of a scope form one *stream*, and each weighs `ooni_weight`
//! toward the minimum evidence). Issue 16 (D6): an episode is judged on enough evidence across
//! probes and runs, never flipped by one probe's latest results.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::bracket;
use crate::params::Params;

/// One run of one probe (or one OONI report): a hit (blocked, throttled) or ok.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample<'a> {
    pub t: i64,
    /// Who reported it: a probe's key id, or one OONI report (`ooni:<report_id>`).
    pub probe: &'a str,
    /// Whose runs follow one another (streaks): the probe; for OONI the source as a whole.
    pub stream: &'a str,
    pub hit: bool,
    /// What the run weighs toward the minimum evidence (a Vigil run 1, an OONI run
    /// `ooni_weight`).
    pub weight: f64,
    /// The observations behind it (a blocked run's blocked URLs; the run's own otherwise).
    pub idx: &'a [usize],
}

/// A stretch from the first hit to the end rule (or to now, when still open).
#[derive(Debug, Clone)]
pub(crate) struct Episode<'a> {
    /// Every sample from the opening hit on (hits and oks).
    pub samples: Vec<Sample<'a>>,
    /// The latest ok sample before the opening hit.
    pub last_ok_before: Option<i64>,
    /// Closed: (the last hit, the first ok after it).
    pub end: Option<(i64, i64)>,
    /// Indices (into the samples cut) of its opening hit and of the sample it closed at (the
    /// last sample, while open).
    pub span: (usize, usize),
}

/// What the end rule needs from the parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub end_fraction: f64,
    pub report_window: i64,
    /// Oks in a row (weighted) a probe needs before its oks count toward closing.
    pub min_consecutive: f64,
    /// A probe silent this long no longer counts among those that reported during the episode
    /// (it retired, or its network is down): it cannot hold an episode open for ever.
    pub reporter_horizon: i64,
}

impl Rules {
    pub fn of(p: &Params) -> Self {
        Rules {
            end_fraction: p.end_ok_fraction,
            report_window: p.report_window,
            min_consecutive: p.block_min_consecutive as f64,
            reporter_horizon: p.unknown_after,
        }
    }
}

/// An episode being cut: the carried state of [`episodes`] (an incremental detector keeps it
/// between passes).
#[derive(Debug, Clone)]
struct Open<'a> {
    first: usize,
    samples: Vec<Sample<'a>>,
    last_ok_before: Option<i64>,
    /// Each probe's latest run during the episode.
    latest: HashMap<&'a str, i64>,
    /// Each stream's current oks in a row (weighted) and the time of the first of them.
    oks: HashMap<&'a str, (f64, i64)>,
    last_hit: i64,
}

/// Cut time-sorted samples into episodes. An episode opens at a hit; it closes on an ok sample
/// when, over the runs of the last `report_window`: at least `end_fraction` of them are ok, and
/// at least two ok runs of *closing* probes (a probe closes with `min_consecutive` oks in a
/// row, weighted) come from at least min(2, probes that reported during the episode) distinct
/// probes. A lone probe's latest oks do not close an episode others saw.
#[cfg(test)]
pub(crate) fn episodes<'a>(samples: &[Sample<'a>], rules: Rules) -> Vec<Episode<'a>> {
    episodes_after(samples, rules, None)
}

/// [`episodes`] of samples that follow a settled point whose latest ok run was at `last_ok`.
pub(crate) fn episodes_after<'a>(samples: &[Sample<'a>], rules: Rules, last_ok: Option<i64>) -> Vec<Episode<'a>> {
    let mut out = Vec::new();
    let mut open: Option<Open<'a>> = None;
    let mut last_ok = last_ok;
    for (k, &s) in samples.iter().enumerate() {
        let Some(cur) = open.as_mut() else {
            if s.hit {
                open = Some(Open {
                    first: k,
                    samples: vec![s],
                    last_ok_before: last_ok,
                    latest: HashMap::from([(s.probe, s.t)]),
                    oks: HashMap::new(),
                    last_hit: s.t,
                });
            } else {
                last_ok = Some(s.t);
            }
            continue;
        };
        cur.samples.push(s);
        cur.latest.insert(s.probe, s.t);
        if s.hit {
            cur.last_hit = s.t;
            cur.oks.remove(s.stream);
            continue;
        }
        last_ok = Some(s.t);
        let streak = cur.oks.entry(s.stream).or_insert((0.0, s.t));
        streak.0 += s.weight;
        if let Some(end) = closes(cur, s.t, rules) {
            let done = open.take().expect("episode is open");
            out.push(Episode {
                samples: done.samples,
                last_ok_before: done.last_ok_before,
                end: Some(end),
                span: (done.first, k),
            });
        }
    }
    if let Some(cur) = open {
        let span = (cur.first, samples.len() - 1);
        out.push(Episode { samples: cur.samples, last_ok_before: cur.last_ok_before, end: None, span });
    }
    out
}

/// A settled point of a time-ordered series of samples (or runs): just after its `skip`-th
/// sample at time `t`. Nothing is open there: every sample up to it belongs to a closed episode
/// or to none, so the episodes after it depend only on the samples after it and `last_ok`, the
/// latest ok sample up to it. An incremental detector keeps it (issue 16, D7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cut {
    pub t: i64,
    pub skip: usize,
    pub last_ok: Option<i64>,
}

/// Where the items after `cut` begin in `items` (sorted by time, holding every item at `cut.t`).
pub(crate) fn tail_start<T>(items: &[T], t: impl Fn(&T) -> i64, cut: Option<&Cut>) -> usize {
    let Some(cut) = cut else { return 0 };
    let first = items.partition_point(|x| t(x) < cut.t);
    let equal = items[first..].iter().take_while(|x| t(x) == cut.t).count();
    first + equal.min(cut.skip)
}

/// The latest settled point of `samples` (the items after `prev`) at or before `before`, among
/// the points after sample `k` where `allowed(k)`, and that `k`; None when there is none after
/// `prev`.
pub(crate) fn settle(
    samples: &[Sample<'_>],
    episodes: &[Episode<'_>],
    prev: Option<&Cut>,
    before: i64,
    allowed: impl Fn(usize) -> bool,
) -> Option<(usize, Cut)> {
    // open[k]: an episode is open just after sample k.
    let mut open = vec![false; samples.len()];
    for e in episodes {
        let until = if e.end.is_some() { e.span.1 } else { samples.len() };
        open[e.span.0..until].iter_mut().for_each(|o| *o = true);
    }
    let k = (0..samples.len()).rev().find(|&k| samples[k].t <= before && !open[k] && allowed(k))?;
    let t = samples[k].t;
    let mut skip = samples[..=k].iter().rev().take_while(|s| s.t == t).count();
    if let Some(prev) = prev
        && prev.t == t
        && samples[..=k].iter().all(|s| s.t == t)
    {
        skip += prev.skip;
    }
    let last_ok = samples[..=k].iter().rev().find(|s| !s.hit).map(|s| s.t).or(prev.and_then(|c| c.last_ok));
    Some((k, Cut { t, skip, last_ok }))
}

/// The end rule, judged at `now` (an ok sample just taken): None while the episode goes on,
/// else its end bracket (the last hit before the closing probes' first ok, that first ok).
fn closes(cur: &Open<'_>, now: i64, rules: Rules) -> Option<(i64, i64)> {
    let from = cur.samples.partition_point(|x| x.t < now - rules.report_window);
    let window = &cur.samples[from..];
    // Each stream's latest run in the window: enough of them ok.
    let mut latest: HashMap<&str, bool> = HashMap::new();
    for x in window {
        latest.insert(x.stream, x.hit);
    }
    let ok = latest.values().filter(|&&hit| !hit).count();
    if (ok as f64) < rules.end_fraction * latest.len() as f64 {
        return None;
    }
    // Ok runs of closing streams (those with enough oks in a row), from enough probes; or,
    // agreement across probes standing in for repetition: at least two streams (Vigil probes;
    // OONI's reports of a network are one stream) whose latest full-weight runs are ok.
    let mut closing = 0usize;
    let mut probes: HashSet<&str> = HashSet::new();
    let mut agreeing: HashSet<&str> = HashSet::new();
    let (mut first_ok, mut first_agreeing) = (i64::MAX, i64::MAX);
    for x in window.iter().filter(|x| !x.hit) {
        let Some(&(n, since)) = cur.oks.get(x.stream) else { continue };
        if x.t < since {
            continue;
        }
        if n >= rules.min_consecutive - 1e-9 {
            closing += 1;
            probes.insert(x.probe);
            first_ok = first_ok.min(since);
        }
        if n >= 1.0 - 1e-9 && x.weight >= 1.0 - 1e-9 {
            agreeing.insert(x.stream);
            first_agreeing = first_agreeing.min(since);
        }
    }
    let reporters = cur.latest.values().filter(|&&t| now - t <= rules.reporter_horizon).count();
    let need = reporters.clamp(1, 2);
    let first_ok = if closing >= 2 && probes.len() >= need {
        first_ok
    } else if agreeing.len() >= 2 && agreeing.len() >= need {
        first_agreeing
    } else {
        return None;
    };
    let last_hit = cur.samples.iter().rev().find(|x| x.hit && x.t < first_ok).map_or(cur.last_hit, |x| x.t);
    Some((last_hit, first_ok))
}

impl<'a> Episode<'a> {
    pub fn hits(&self) -> impl Iterator<Item = &Sample<'a>> {
        self.samples.iter().filter(|s| s.hit)
    }

    /// Each stream's longest run of consecutive hits, weighted.
    pub fn streaks(&self) -> HashMap<&'a str, f64> {
        let mut cur: HashMap<&str, f64> = HashMap::new();
        let mut best: HashMap<&str, f64> = HashMap::new();
        for s in &self.samples {
            let c = cur.entry(s.stream).or_insert(0.0);
            *c = if s.hit { *c + s.weight } else { 0.0 };
            let b = best.entry(s.stream).or_insert(0.0);
            *b = b.max(*c);
        }
        best
    }

    /// The sample the episode starts at: the first hit of the first streak of
    /// `min_consecutive` hits in a row of one stream (hits before it are noise, kept as
    /// evidence); the first hit when no streak is that long.
    fn first_streak(&self, min_consecutive: usize) -> usize {
        let mut run: HashMap<&str, (usize, usize)> = HashMap::new();
        for (k, s) in self.samples.iter().enumerate() {
            if !s.hit {
                run.remove(s.stream);
                continue;
            }
            let r = run.entry(s.stream).or_insert((k, 0));
            r.1 += 1;
            if r.1 >= min_consecutive.max(1) {
                return r.0;
            }
        }
        0
    }

    /// Start estimate and uncertainty: between the latest ok run before the first qualifying
    /// streak (see `first_streak`) and its first hit; `unknown` is the uncertainty when nothing
    /// was seen ok before.
    pub fn start(&self, unknown: i64, min_consecutive: usize) -> (i64, i64) {
        let k = self.first_streak(min_consecutive);
        let first = self.samples[k].t;
        let ok = self.samples[..k].iter().rev().find(|s| !s.hit).map(|s| s.t).or(self.last_ok_before);
        match ok {
            Some(ok) => bracket(ok, first),
            None => (first, unknown),
        }
    }

    /// End estimate and uncertainty; None while open.
    pub fn end_estimate(&self) -> (Option<i64>, Option<i64>) {
        match self.end {
            Some((hit, ok)) => {
                let (m, u) = bracket(hit, ok);
                (Some(m), Some(u))
            }
            None => (None, None),
        }
    }

    /// The time the episode closed at (its first ok after the last hit), or `now`.
    pub fn until(&self, now: i64) -> i64 {
        self.end.map_or(now, |(_, ok)| ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules =
        Rules { end_fraction: 0.5, report_window: 7200, min_consecutive: 2.0, reporter_horizon: 86_400 };

    fn s(t: i64, probe: &str, hit: bool) -> Sample<'_> {
        Sample { t, probe, stream: probe, hit, weight: 1.0, idx: &[] }
    }

    /// One OONI report: its own probe (`ooni:<report>`), the OONI stream, half a Vigil run.
    fn ooni(t: i64, report: &str, hit: bool) -> Sample<'_> {
        Sample { t, probe: report, stream: "ooni", hit, weight: 0.5, idx: &[] }
    }

    #[test]
    fn a_lone_probes_latest_oks_do_not_close_an_episode_others_saw() {
        // Issue 16 D6: a and b see the block; b goes quiet for a while, a sees ok twice. Main
        // closed at a's first ok (b no longer "reporting"); now b's oks are needed too.
        let v = [
            s(0, "a", true),
            s(10, "b", true),
            s(3600, "a", true),
            s(3610, "b", true),
            s(12_000, "a", false),
            s(15_600, "a", false),
            s(16_000, "b", false),
            s(19_600, "b", false),
        ];
        let e = episodes(&v, RULES);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].end, Some((3610, 12_000)));
        assert_eq!(episodes(&v[..6], RULES)[0].end, None, "a's oks alone do not close what b saw");
        // b's first ok agrees with a's: two probes' latest runs ok close it.
        assert_eq!(episodes(&v[..7], RULES)[0].end, Some((3610, 12_000)));
    }

    #[test]
    fn two_probes_one_ok_run_each_close_but_one_probe_needs_two() {
        // The censor lifted, each of two probes runs once: agreement across probes stands in
        // for repetition. One probe alone needs its oks in a row; OONI runs never stand in.
        let v = [s(0, "a", true), s(10, "b", true), s(3600, "a", true), s(3610, "b", true)];
        let mut two = v.to_vec();
        two.extend([s(7200, "a", false), s(7210, "b", false)]);
        assert_eq!(episodes(&two, RULES)[0].end, Some((3610, 7200)));
        let mut one = v.to_vec();
        one.push(s(7200, "a", false));
        assert_eq!(episodes(&one, RULES)[0].end, None);
        let mut ooni_ok = v.to_vec();
        ooni_ok.extend([s(7200, "a", false), ooni(7300, "r1", false), ooni(7400, "r2", false)]);
        assert_eq!(episodes(&ooni_ok, RULES)[0].end, None, "OONI's half-weight runs do not agree for a probe");
    }

    #[test]
    fn one_ok_run_does_not_close_and_a_stray_hit_is_not_the_start() {
        // Issue 16 D6: a stray hit at 3600, one ok run, then the real block from 10 800. Main
        // closed on the single ok (a lone reporter) and started the block at the stray hit.
        let v = [
            s(0, "a", false),
            s(3600, "a", true), // stray
            s(7200, "a", false),
            s(10_800, "a", true),
            s(14_400, "a", true),
            s(18_000, "a", true),
            s(21_600, "a", false),
            s(25_200, "a", false),
        ];
        let e = episodes(&v, RULES);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].samples[0].t, 3600, "the stray hit stays in the episode, as evidence");
        assert_eq!(e[0].start(999, 2), bracket(7200, 10_800));
        assert_eq!(e[0].end, Some((18_000, 21_600)));
        assert_eq!(e[0].end_estimate(), (Some(19_800), Some(1800)));
        // With no ok before the streak: the first hit of the streak, with `unknown` uncertainty.
        assert_eq!(episodes(&v[1..], RULES)[0].start(999, 2), bracket(7200, 10_800));
        assert_eq!(episodes(&v[3..], RULES)[0].start(999, 2), (10_800, 999));
    }

    #[test]
    fn ooni_reports_are_one_stream_of_half_weight_runs() {
        // Each OONI run is its own report: 4 blocked runs in a row weigh 2 (one Vigil probe's
        // two in a row), and closing takes 4 ok runs in a row, 2 of them in the window.
        let hits: Vec<Sample<'_>> =
            ["r1", "r2", "r3", "r4"].iter().enumerate().map(|(k, r)| ooni(k as i64 * 1800, r, true)).collect();
        let e = episodes(&hits, RULES);
        assert_eq!(e[0].streaks()["ooni"], 2.0);
        let mut v = hits.clone();
        for (k, r) in ["o1", "o2", "o3"].iter().enumerate() {
            v.push(ooni(7200 + k as i64 * 1800, r, false));
        }
        assert_eq!(episodes(&v, RULES)[0].end, None, "3 ok OONI runs weigh 1.5: not closed");
        v.push(ooni(7200 + 3 * 1800, "o4", false));
        assert_eq!(episodes(&v, RULES)[0].end, Some((5400, 7200)));
    }

    #[test]
    fn the_share_of_ok_probes_is_judged_on_each_ones_latest_run_in_the_window() {
        // Of four probes, two ok twice in a row and two still blocked: 2 of 4 = 50 %: ended,
        // between the last hit before the closing oks and the first of them.
        let mut v = Vec::new();
        for r in 0..6i64 {
            for (k, p) in ["a", "b", "c", "d"].iter().enumerate() {
                let hit = r >= 1 && (r <= 3 || k >= 2);
                v.push(s(r * 2400 + k as i64 * 300, p, hit));
            }
        }
        let e = episodes(&v, RULES);
        assert_eq!(e[0].end, Some((3 * 2400 + 900, 4 * 2400)));
        // One of four ok: still going.
        let v: Vec<Sample<'_>> = v.into_iter().filter(|x| x.probe != "b").collect();
        assert_eq!(episodes(&v, RULES)[0].end, None);
    }

    #[test]
    fn probes_silent_past_the_horizon_do_not_hold_an_episode_open() {
        let v = [s(0, "a", true), s(10, "b", true), s(5000, "b", false), s(5100, "b", false)];
        let near = Rules { reporter_horizon: 1000, ..RULES };
        assert_eq!(episodes(&v, near)[0].end, Some((10, 5000)));
        assert_eq!(episodes(&v, RULES)[0].end, None);
    }

    #[test]
    fn streaks_count_consecutive_hits_per_stream() {
        let v = [s(0, "a", true), s(1, "b", true), s(2, "a", true), s(3, "a", false), s(4, "a", true), s(5, "b", true)];
        let e = Episode { samples: v.to_vec(), last_ok_before: None, end: None, span: (0, 5) };
        let st = e.streaks();
        assert_eq!((st["a"], st["b"]), (2.0, 2.0));
        assert_eq!(e.hits().count(), 5);
    }
}
