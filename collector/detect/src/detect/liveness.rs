//! Each probe's signs of life and outages within one ASN: its own silence threshold (from its
//! normal cadence, robustly), the stretches it was silent or reported `network_down`, and
//! whether it is habitually offline at that time of day.

use super::{Group, View};
use crate::downtime::heard_from;
use crate::stats::{median_i64, scale_i64};

const DAY: i64 = 86_400;

/// One probe's outage: no sign of life for longer than its silence threshold, or
/// `network_down` reports (the spooled evidence), between two signs of life.
#[derive(Debug, Clone)]
pub(crate) struct Outage {
    /// Index of the probe in [`Liveness::probes`].
    pub probe: usize,
    /// The last sign of life before it (and its observation).
    pub last_up: Option<(i64, usize)>,
    /// The first sign of life after it; None while still out.
    pub next_up: Option<i64>,
    /// `network_down` observations inside it: (time, observation index).
    pub downs: Vec<(i64, usize)>,
    /// The probe is usually offline then and nothing says the network was down.
    pub habitual: bool,
    /// A silence the collector could not hear at first: when it could hear again (the start
    /// lies between `last_up` and it). It decides whether the outage counts and widens the
    /// start's uncertainty; it is never the onset, which every such silence would share.
    pub heard_from: Option<i64>,
}

impl Outage {
    /// When the probe was last seen normal (or first seen down): outages are grouped by it, so
    /// probes that fell silent one by one while the collector could not hear stay apart.
    pub fn onset(&self) -> Option<i64> {
        self.last_up.map(|(t, _)| t).or(self.downs.first().map(|&(t, _)| t))
    }
}

/// One probe's timeline.
#[derive(Debug)]
pub(crate) struct ProbeLife {
    /// Times of its signs of life, sorted.
    pub up: Vec<i64>,
    pub outages: Vec<Outage>,
}

/// What an ASN's liveness carries from before the observations it is built from (the state an
/// incremental detector keeps per ASN, issue 16): per probe (by id), its last sign of life, its
/// recent gaps between signs of life (for its silence threshold), the outage it is in, and its
/// outages of the last days (for habits). Interface only: nothing builds one yet, and
/// [`Liveness::new`] ignores it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Seed {
    pub probes: Vec<(String, ProbeSeed)>,
}

/// One probe's carried state (see [`Seed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProbeSeed {
    /// Its last sign of life (corrected time).
    pub last_up: Option<i64>,
    /// Gaps between its recent signs of life (s), oldest first.
    pub gaps: Vec<i64>,
    /// The outage it is in: its onset and the `network_down` times seen in it so far.
    pub open: Option<(i64, Vec<i64>)>,
    /// Its closed outages of the last days without `network_down` evidence: (last up, next up).
    pub plain: Vec<(i64, i64)>,
}

/// All probes of one ASN.
#[derive(Debug)]
pub(crate) struct Liveness {
    pub probes: Vec<ProbeLife>,
    active_window: i64,
}

impl Liveness {
    /// The liveness of `group`'s probes, carrying on from `seed` when given (not yet: issue 16's
    /// incremental detector gives one; today it is always None and the whole window is read).
    pub fn new(view: &View<'_>, group: &Group, _seed: Option<&Seed>) -> Self {
        let p = view.params;
        // (probe, time, is_up, observation), grouped by probe then sorted by time.
        let mut marks: Vec<(u32, i64, bool, usize)> = Vec::new();
        for &i in &group.idx {
            let o = &view.obs[i];
            let up = o.is_up(p.live_window);
            if up || o.is_network_down() {
                marks.push((view.probe[i], view.t[i], up, i));
            }
        }
        marks.sort_unstable();
        let mut probes: Vec<ProbeLife> = Vec::new();
        for chunk in marks.chunk_by(|a, b| a.0 == b.0) {
            let m: Vec<(i64, bool, usize)> = chunk.iter().map(|&(_, t, up, i)| (t, up, i)).collect();
            let up: Vec<i64> = m.iter().filter(|x| x.1).map(|x| x.0).collect();
            let silence = silence_threshold(&up, p.silence(), 2 * p.silence());
            let mut outages = outages(probes.len(), &m, silence, view.now);
            if !view.deaf.is_empty() {
                outages = heard(outages, &view.deaf, silence, view.now);
            }
            probes.push(ProbeLife { up, outages });
        }
        let mut live = Liveness { probes, active_window: p.active_window };
        live.mark_habits(p.habit_days, p.heartbeat_interval);
        live
    }

    /// Probes with a sign of life in the `active_window` before `t`.
    pub fn active_at(&self, t: i64) -> usize {
        self.probes.iter().filter(|p| is_active(&p.up, t, self.active_window)).count()
    }

    /// Outages with no `network_down` evidence whose probe was also out, with no evidence, at
    /// the same time of day on `days` or more of the previous seven days.
    fn mark_habits(&mut self, days: usize, interval: i64) {
        for p in &mut self.probes {
            let plain: Vec<(i64, i64)> = p
                .outages
                .iter()
                .filter(|o| o.downs.is_empty())
                .filter_map(|o| Some((o.last_up?.0, o.next_up.unwrap_or(i64::MAX))))
                .collect();
            for o in p.outages.iter_mut().filter(|o| o.downs.is_empty()) {
                let Some((u, _)) = o.last_up else { continue };
                let probe_t = u + interval;
                let earlier =
                    (1..=7).filter(|d| plain.iter().any(|&(a, b)| a <= probe_t - d * DAY && probe_t - d * DAY < b));
                o.habitual = earlier.count() >= days;
            }
        }
    }
}

/// Silences (outages without `network_down` records) as the collector heard them: kept as they
/// are when it could hear throughout, counted from the end of the deaf stretch that hid their
/// beginning (dropped when the probe was back by then plus its threshold, or the collector is
/// still deaf).
fn heard(outages: Vec<Outage>, deaf: &[(i64, i64)], silence: i64, now: i64) -> Vec<Outage> {
    outages
        .into_iter()
        .filter_map(|mut o| {
            let Some((u, _)) = o.last_up.filter(|_| o.downs.is_empty()) else { return Some(o) };
            let from = heard_from(deaf, u, silence)?;
            if from > u {
                if o.next_up.unwrap_or(now) - from <= silence {
                    return None;
                }
                o.heard_from = Some(from);
            }
            Some(o)
        })
        .collect()
}

fn is_active(up: &[i64], t: i64, window: i64) -> bool {
    let i = up.partition_point(|&u| u < t - window);
    i < up.len() && up[i] <= t
}

/// The probe's silence threshold: its normal gap between signs of life (median + 3 robust
/// sigmas of the gaps under an hour), never below `floor` and never above `cap`.
pub(crate) fn silence_threshold(up: &[i64], floor: i64, cap: i64) -> i64 {
    let mut gaps: Vec<i64> = up.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > 30 && g <= 3600).collect();
    let scale = scale_i64(&gaps);
    match median_i64(&mut gaps) {
        Some(m) => (m + 3 * scale).clamp(floor, cap),
        None => floor,
    }
}

/// Cut one probe's time-sorted marks (time, is_up, observation) into outages.
fn outages(probe: usize, marks: &[(i64, bool, usize)], silence: i64, now: i64) -> Vec<Outage> {
    let mut out = Vec::new();
    let mut last_up: Option<(i64, usize)> = None;
    let mut downs = Vec::new();
    for &(t, up, i) in marks {
        if !up {
            downs.push((t, i));
            continue;
        }
        if !downs.is_empty() || last_up.is_some_and(|(u, _)| t - u > silence) {
            out.push(Outage {
                probe,
                last_up,
                next_up: Some(t),
                downs: std::mem::take(&mut downs),
                habitual: false,
                heard_from: None,
            });
        }
        last_up = Some((t, i));
    }
    if !downs.is_empty() || last_up.is_some_and(|(u, _)| now - u > silence) {
        out.push(Outage { probe, last_up, next_up: None, downs, habitual: false, heard_from: None });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_from_silence_and_from_network_down() {
        // Heartbeats every 300 s, a 1-hour silence with spooled downs, a short down, then silence to now.
        let mut m = vec![(0, true, 0), (300, true, 1), (600, true, 2)];
        m.extend([(900, false, 3), (1200, false, 4), (4200, true, 5), (4500, true, 6)]);
        m.extend([(4600, false, 7), (4800, true, 8)]);
        let o = outages(0, &m, 600, 10_000);
        assert_eq!(o.len(), 3);
        assert_eq!((o[0].last_up, o[0].next_up, o[0].downs.len()), (Some((600, 2)), Some(4200), 2));
        assert_eq!((o[1].onset(), o[1].downs.len()), (Some(4500), 1));
        assert_eq!((o[2].onset(), o[2].next_up), (Some(4800), None));
        // Nothing after the last heartbeat, but not long enough ago: no outage.
        assert_eq!(outages(0, &m, 600, 5300).len(), 2);
    }

    #[test]
    fn silence_threshold_follows_the_probes_cadence_within_bounds() {
        let regular: Vec<i64> = (0..50).map(|k| k * 300 + (k * 37 % 41)).collect();
        assert_eq!(silence_threshold(&regular, 600, 1200), 600);
        let slow: Vec<i64> = (0..50).map(|k| k * 700).collect();
        assert_eq!(silence_threshold(&slow, 600, 1200), 700);
        assert_eq!(silence_threshold(&[0], 600, 1200), 600);
        assert!(is_active(&regular, 3000, 1800) && !is_active(&regular, 50_000, 1800));
    }
}
