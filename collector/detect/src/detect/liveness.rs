//! Each probe's signs of life and outages within one ASN: its own silence threshold (from its
//! normal cadence, robustly), the stretches it was silent or reported `network_down`, and
//! whether it is habitually offline at that time of day.

use std::collections::HashMap;

use super::{Group, View};
use crate::downtime::heard_from;
use crate::obs::{CONNECTIVITY_CHECK, Observation, Source, What};
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
    /// The probe's silence threshold (s).
    pub silence: i64,
    /// Records made inside it that reached the collector late (spooled): they prove the probe
    /// was powered, not that its network worked.
    pub powered: usize,
    /// Of those, the ones that prove the network answered then (a spooled heartbeat with no
    /// `network_down` check right after it; a spooled run whose controls did not all fail): only
    /// the way to the collector was cut. Not counted once the outage has `network_down` records.
    pub answered: usize,
    /// The probe's last words before it: its last heartbeat said it was stopping.
    pub stopped: bool,
    /// On its return: the probe had been running for less than the outage lasted (it rebooted:
    /// it lost power).
    pub rebooted: bool,
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
    /// What its latest live heartbeat said waited in its spool (None: it did not say).
    pub backlog: Option<u64>,
}

/// What one observation says about its probe's network (see [`Liveness::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mark {
    /// The network worked then (a live record).
    Up,
    /// Everything failed, controls included (`network_down`).
    Down,
    /// A record that reached the collector late: powered; `answered` when it also shows the
    /// network answered then.
    Powered { answered: bool },
}

/// All probes of one ASN.
#[derive(Debug)]
pub(crate) struct Liveness {
    pub probes: Vec<ProbeLife>,
    active_window: i64,
}

impl Liveness {
    /// The liveness of `group`'s probes, from every observation of the view.
    pub fn new(view: &View<'_>, group: &Group) -> Self {
        let p = view.params;
        let marks = marks(view, group);
        let mut probes: Vec<ProbeLife> = Vec::new();
        for chunk in marks.chunk_by(|a, b| a.0 == b.0) {
            let m: Vec<(i64, Mark, usize)> = chunk.iter().map(|&(_, t, k, i)| (t, k, i)).collect();
            let up: Vec<i64> = m.iter().filter(|x| x.1 == Mark::Up).map(|x| x.0).collect();
            let silence = silence_threshold(&up, p.silence(), 2 * p.silence());
            let mut outages = outages(probes.len(), &m, silence, view.now, view.obs);
            if !view.deaf.is_empty() {
                outages = heard(outages, &view.deaf, silence, view.now);
            }
            let backlog = m
                .iter()
                .rev()
                .find(|x| x.1 == Mark::Up && matches!(view.obs[x.2].what, What::Heartbeat))
                .and_then(|x| view.obs[x.2].meta.backlog);
            probes.push(ProbeLife { up, outages, backlog });
        }
        let mut live = Liveness { probes, active_window: p.active_window };
        live.mark_habits(p.habit_days, p.heartbeat_interval);
        live
    }

    /// Probes with a sign of life in the `active_window` before `t`.
    pub fn active_at(&self, t: i64) -> usize {
        self.seen_within(t, self.active_window)
    }

    /// Probes with a sign of life in the `window` before `t`.
    pub fn seen_within(&self, t: i64, window: i64) -> usize {
        self.probes.iter().filter(|p| is_active(&p.up, t, window)).count()
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

/// The marks of `group`'s observations: (probe, corrected time, mark, observation), sorted.
///
/// - `network_down` → [`Mark::Down`].
/// - A run (platform or throttling) that did not all fail → [`Mark::Up`] when it arrived within
///   `live_window` of being made (beyond the probe's usual lag), else `Powered { answered: true }`.
/// - A heartbeat or any other record → [`Mark::Up`] when it arrived within
///   `heartbeat_live_lag` (beyond the usual lag) and no `network_down` of the probe says it
///   was spooled: a connectivity check made within half an interval after it (the probe checks
///   its controls right after a heartbeat fails), or any `network_down` made after it that
///   arrived no later (a live heartbeat reaches the collector before anything made later). Else
///   `Powered`, `answered` for a heartbeat with no connectivity check right after it.
pub(crate) fn marks(view: &View<'_>, group: &Group) -> Vec<(u32, i64, Mark, usize)> {
    let p = view.params;
    // OONI's measurements are no sign of life: its reports are one run each (no probe to fall
    // silent), measured by others' devices at times we cannot check (docs/ooni-import.md).
    let own: Vec<usize> = group.idx.iter().copied().filter(|&i| view.obs[i].meta.source != Source::Ooni).collect();
    // Each probe's network_down records: (time, received, is a connectivity check), by time.
    let mut downs: HashMap<u32, Vec<(i64, i64, bool)>> = HashMap::new();
    for &i in own.iter().filter(|&&i| view.obs[i].is_network_down()) {
        let o = &view.obs[i];
        let check = matches!(&o.what, What::Platform { platform, .. } if platform == CONNECTIVITY_CHECK);
        downs.entry(view.probe[i]).or_default().push((view.t[i], o.received_at, check));
    }
    // Per probe: the earliest arrival among the network_down records made at or after each one.
    let mut first_arrival: HashMap<u32, Vec<i64>> = HashMap::new();
    for (&probe, v) in &mut downs {
        v.sort_unstable();
        let mut min = i64::MAX;
        let mut suffix: Vec<i64> = v
            .iter()
            .rev()
            .map(|d| {
                min = min.min(d.1);
                min
            })
            .collect();
        suffix.reverse();
        first_arrival.insert(probe, suffix);
    }
    let none = Vec::new();
    let mut marks: Vec<(u32, i64, Mark, usize)> = Vec::new();
    for &i in &own {
        let o = &view.obs[i];
        let (probe, t) = (view.probe[i], view.t[i]);
        let late = o.received_at - o.at - view.lag[i];
        let mark = match &o.what {
            _ if o.is_network_down() => Mark::Down,
            What::Platform { .. } | What::Throttling { .. } => {
                if late <= p.live_window {
                    Mark::Up
                } else {
                    Mark::Powered { answered: true }
                }
            }
            What::Heartbeat | What::Alive => {
                let d = downs.get(&probe).unwrap_or(&none);
                let k = d.partition_point(|x| x.0 <= t);
                let checked = d[k..].iter().take_while(|x| x.0 <= t + p.heartbeat_interval / 2).any(|x| x.2);
                let overtaken = first_arrival.get(&probe).and_then(|f| f.get(k)).is_some_and(|&r| r <= o.received_at);
                let heartbeat = matches!(o.what, What::Heartbeat);
                if late <= p.heartbeat_live_lag && !checked && !overtaken {
                    Mark::Up
                } else {
                    Mark::Powered { answered: heartbeat && !checked && !overtaken }
                }
            }
        };
        marks.push((probe, t, mark, i));
    }
    marks.sort_unstable();
    marks
}

/// Cut one probe's time-sorted marks (time, mark, observation) into outages: from a live sign
/// of life to the next one when they are more than `silence` apart or `network_down` records
/// lie between. Records that arrived late (spooled) never end one; they are counted in it.
fn outages(probe: usize, marks: &[(i64, Mark, usize)], silence: i64, now: i64, obs: &[Observation]) -> Vec<Outage> {
    let mut out: Vec<Outage> = Vec::new();
    let mut last_up: Option<(i64, usize)> = None;
    let mut downs = Vec::new();
    let (mut powered, mut answered) = (0, 0);
    let mut last_answered: Option<(i64, usize)> = None;
    // The probe's last live heartbeat said it was stopping.
    let mut stopping = false;
    // A silence closed without evidence, waiting for a heartbeat's uptime: (outage, last up).
    let mut reboot: Option<(usize, i64)> = None;
    let new = |last_up, next_up, downs: Vec<(i64, usize)>, powered, answered, stopped| Outage {
        probe,
        last_up,
        next_up,
        answered: if downs.is_empty() { answered } else { 0 },
        downs,
        habitual: false,
        heard_from: None,
        silence,
        powered,
        stopped,
        rebooted: false,
    };
    for &(t, mark, i) in marks {
        match mark {
            Mark::Down => {
                downs.push((t, i));
                continue;
            }
            Mark::Powered { answered: a } => {
                powered += 1;
                if a {
                    answered += 1;
                    last_answered = Some((t, i));
                }
                continue;
            }
            Mark::Up => {}
        }
        if !downs.is_empty() || last_up.is_some_and(|(u, _)| t - u > silence) {
            let o = new(last_up, Some(t), std::mem::take(&mut downs), powered, answered, stopping);
            if o.downs.is_empty() {
                reboot = last_up.map(|(u, _)| (out.len(), u));
            }
            out.push(o);
        }
        // The first heartbeat after a silence tells how long the probe has been running: less
        // than the silence lasted, it rebooted (lost power).
        if let (Some((k, u)), Some(uptime)) = (reboot, obs[i].meta.uptime) {
            out[k].rebooted = (uptime as i64) < t - u;
            reboot = None;
        }
        (powered, answered, last_answered) = (0, 0, None);
        if matches!(obs[i].what, What::Heartbeat) {
            stopping = obs[i].meta.stopping;
        }
        last_up = Some((t, i));
    }
    if downs.is_empty()
        && let Some((a, _)) = last_answered
    {
        // Still out, but what it recorded while the collector could not hear it shows its
        // network answered until `a`: the silence (if any) is what follows.
        if now - a > silence {
            out.push(new(last_answered, None, downs, powered, 0, stopping));
        }
        return out;
    }
    if !downs.is_empty() || last_up.is_some_and(|(u, _)| now - u > silence) {
        out.push(new(last_up, None, downs, powered, answered, stopping));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_from_silence_and_from_network_down() {
        // Heartbeats every 300 s, a 1-hour silence with spooled downs, a short down, then silence to now.
        let (u, d) = (Mark::Up, Mark::Down);
        let mut m = vec![(0, u, 0), (300, u, 1), (600, u, 2)];
        m.extend([(900, d, 3), (1200, d, 4), (4200, u, 5), (4500, u, 6)]);
        m.extend([(4600, d, 7), (4800, u, 8)]);
        let obs = vec![crate::detect::tests::obs("p", 1, 0, 0, What::Heartbeat); 9];
        let o = outages(0, &m, 600, 10_000, &obs);
        assert_eq!(o.len(), 3);
        assert_eq!((o[0].last_up, o[0].next_up, o[0].downs.len()), (Some((600, 2)), Some(4200), 2));
        assert_eq!((o[1].onset(), o[1].downs.len()), (Some(4500), 1));
        assert_eq!((o[2].onset(), o[2].next_up), (Some(4800), None));
        // Nothing after the last heartbeat, but not long enough ago: no outage.
        assert_eq!(outages(0, &m, 600, 5300, &obs).len(), 2);
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
