//! Each probe's signs of life and outages within one ASN: its own silence threshold (from its
//! normal cadence, robustly), the stretches it was silent or reported `network_down`, and
//! whether it is habitually offline at that time of day.

use super::View;
use crate::downtime::heard_from;
use crate::obs::{CONNECTIVITY_CHECK, Observation, Source, What};
#[cfg(test)]
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
pub(crate) struct ProbeLife<'a> {
    /// Times of its signs of life, sorted.
    pub up: &'a [i64],
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
pub(crate) struct Liveness<'a> {
    pub probes: Vec<ProbeLife<'a>>,
    active_window: i64,
}

/// One ASN's liveness kept between a detector's passes ([`LiveCache::update`]): per probe, its
/// marks, signs of life, silence threshold and the fold of its marks into outages, with saved
/// points to resume the fold from. A batch is an empty cache updated with every record once:
/// one implementation.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveCache {
    /// By probe number (`View::probe`), ascending.
    probes: Vec<ProbeCache>,
}

/// One probe's part of a [`LiveCache`].
#[derive(Debug, Clone)]
struct ProbeCache {
    number: u32,
    /// Its own records (not OONI's) in the group, by (corrected time, index).
    idx: Vec<usize>,
    /// Its `network_down` records: (time, received, is a connectivity check), sorted.
    downs: Vec<(i64, i64, bool)>,
    /// The mark of each record, by (time, mark, index).
    marks: Vec<(i64, Mark, usize)>,
    /// Times of its signs of life, sorted.
    up: Vec<i64>,
    /// The gaps between them that its silence threshold is computed from, sorted.
    gaps: Gaps,
    /// The fold of all of `marks` (its silence threshold in it).
    fold: Fold,
    /// The fold as it was after some of its `Up` marks, to resume from.
    saved: Vec<Saved>,
}

/// The fold of a probe's marks saved right after an `Up` mark: `pos` marks consumed.
#[derive(Debug, Clone)]
struct Saved {
    pos: usize,
    outages: usize,
    last_up: Option<(i64, usize)>,
    stopping: bool,
    reboot: Option<(usize, i64)>,
}

/// Saved points are this many marks apart at least (a refold replays at most about this many
/// plus what changed).
const SAVE_EVERY: usize = 64;

impl LiveCache {
    /// Take `added`, the group's records new to the view since the last update (every record
    /// of the group for a new cache): their probes' marks are computed again from the earliest
    /// of them (less half a heartbeat interval: a connectivity check also marks the heartbeat
    /// just before it), and their folds resumed from the saved point before that, or redone
    /// when the probe's silence threshold changed. Records already held arrived before every
    /// added one (the view is built again otherwise), so nothing else of their marks changes.
    pub fn update(&mut self, view: &View<'_>, added: &[usize]) {
        let p = view.params;
        // OONI's measurements are no sign of life: its reports are one run each (no probe to
        // fall silent), measured by others' devices at times we cannot check (docs/ooni-import.md).
        let mut by_probe: Vec<(u32, i64, usize)> = added
            .iter()
            .filter(|&&i| view.obs[i].meta.source != Source::Ooni)
            .map(|&i| (view.probe[i], view.t[i], i))
            .collect();
        by_probe.sort_unstable();
        for new in by_probe.chunk_by(|a, b| a.0 == b.0) {
            let number = new[0].0;
            let k = match self.probes.binary_search_by_key(&number, |c| c.number) {
                Ok(k) => k,
                Err(k) => {
                    self.probes.insert(k, ProbeCache::new(number, p.silence()));
                    k
                }
            };
            let c = &mut self.probes[k];
            for &(_, t, i) in new {
                let at = c.idx.partition_point(|&j| (view.t[j], j) < (t, i));
                c.idx.insert(at, i);
                let o = &view.obs[i];
                if o.is_network_down() {
                    let check = matches!(&o.what, What::Platform { platform, .. } if platform == CONNECTIVITY_CHECK);
                    let d = (t, o.received_at, check);
                    let at = c.downs.partition_point(|x| *x < d);
                    c.downs.insert(at, d);
                }
            }
            let from = new.iter().map(|x| x.1).min().unwrap_or(i64::MAX).saturating_sub(p.heartbeat_interval / 2);
            c.remark(view, from);
        }
    }

    /// The liveness as of `view.now` (the collector's deaf stretches, habits and the silences
    /// still going on are judged here, every pass).
    pub fn liveness(&self, view: &View<'_>) -> Liveness<'_> {
        let p = view.params;
        let mut probes = Vec::with_capacity(self.probes.len());
        for c in &self.probes {
            let mut outages = c.fold.finish(view.now);
            for o in &mut outages {
                o.probe = probes.len();
            }
            if !view.deaf.is_empty() {
                outages = heard(outages, &view.deaf, c.fold.silence, view.now);
            }
            let backlog = c
                .marks
                .iter()
                .rev()
                .find(|x| x.1 == Mark::Up && matches!(view.obs[x.2].what, What::Heartbeat))
                .and_then(|x| view.obs[x.2].meta.backlog);
            probes.push(ProbeLife { up: &c.up, outages, backlog });
        }
        let mut live = Liveness { probes, active_window: p.active_window };
        live.mark_habits(p.habit_days, p.heartbeat_interval);
        live
    }
}

impl ProbeCache {
    fn new(number: u32, silence: i64) -> Self {
        ProbeCache {
            number,
            idx: Vec::new(),
            downs: Vec::new(),
            marks: Vec::new(),
            up: Vec::new(),
            gaps: Gaps::default(),
            fold: Fold::new(silence),
            saved: Vec::new(),
        }
    }

    /// Mark again the records timed at or after `from`, then bring the fold up to date.
    fn remark(&mut self, view: &View<'_>, from: i64) {
        let p = view.params;
        // The earliest arrival among the network_down records made at or after each one.
        let mut min = i64::MAX;
        let mut first_arrival: Vec<i64> = self
            .downs
            .iter()
            .rev()
            .map(|d| {
                min = min.min(d.1);
                min
            })
            .collect();
        first_arrival.reverse();
        let keep = self.marks.partition_point(|m| m.0 < from);
        self.marks.truncate(keep);
        let start = self.idx.partition_point(|&j| view.t[j] < from);
        let mut fresh: Vec<(i64, Mark, usize)> =
            self.idx[start..].iter().map(|&i| (view.t[i], mark(view, i, &self.downs, &first_arrival), i)).collect();
        fresh.sort_unstable();
        self.marks.extend(fresh);
        let keep_up = self.up.partition_point(|&u| u < from);
        let first = keep_up.saturating_sub(1);
        for w in self.up[first..].windows(2) {
            self.gaps.remove(w[1] - w[0]);
        }
        self.up.truncate(keep_up);
        self.up.extend(self.marks[keep..].iter().filter(|m| m.1 == Mark::Up).map(|m| m.0));
        for w in self.up[first..].windows(2) {
            self.gaps.add(w[1] - w[0]);
        }
        let silence = self.gaps.threshold(p.silence(), 2 * p.silence());
        // Resume from the last saved point before what changed (from scratch when the
        // threshold the fold compared gaps with changed).
        if silence != self.fold.silence {
            self.saved.clear();
        }
        self.saved.truncate(self.saved.partition_point(|s| s.pos <= keep));
        let pos = match self.saved.last() {
            Some(s) => {
                self.fold.restore(s);
                s.pos
            }
            None => {
                self.fold = Fold::new(silence);
                0
            }
        };
        for (k, &m) in self.marks.iter().enumerate().skip(pos) {
            self.fold.step(m, view.obs);
            let last = self.saved.last().map_or(0, |s| s.pos);
            if m.1 == Mark::Up && k + 1 >= last + SAVE_EVERY {
                self.saved.push(self.fold.save(k + 1));
            }
        }
    }
}

impl Liveness<'_> {
    /// Probes with a sign of life in the `active_window` before `t`.
    pub fn active_at(&self, t: i64) -> usize {
        self.seen_within(t, self.active_window)
    }

    /// Probes with a sign of life in the `window` before `t`.
    pub fn seen_within(&self, t: i64, window: i64) -> usize {
        self.probes.iter().filter(|p| is_active(p.up, t, window)).count()
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

/// A probe's gaps between signs of life that count for its silence threshold (over 30 s, at
/// most an hour), kept sorted as signs of life come and go.
#[derive(Debug, Clone, Default)]
struct Gaps(Vec<i64>);

impl Gaps {
    fn counts(g: i64) -> bool {
        g > 30 && g <= 3600
    }

    fn add(&mut self, g: i64) {
        if Gaps::counts(g) {
            let at = self.0.partition_point(|&x| x < g);
            self.0.insert(at, g);
        }
    }

    fn remove(&mut self, g: i64) {
        if Gaps::counts(g)
            && let Ok(at) = self.0.binary_search(&g)
        {
            self.0.remove(at);
        }
    }

    /// [`silence_threshold`] of the signs of life these are the gaps of, without sorting: the
    /// median is the lower middle, the median absolute deviation the smallest `d` with more
    /// than half (rounded down) of the gaps within `d` of it.
    fn threshold(&self, floor: i64, cap: i64) -> i64 {
        let g = &self.0;
        if g.is_empty() {
            return floor;
        }
        let m = g[(g.len() - 1) / 2];
        let within = |d: i64| g.partition_point(|&x| x <= m + d) - g.partition_point(|&x| x < m - d);
        let need = (g.len() - 1) / 2 + 1;
        let (mut lo, mut hi) = (0, (m - g[0]).max(g[g.len() - 1] - m));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if within(mid) >= need { hi = mid } else { lo = mid + 1 }
        }
        let scale = (lo as f64 * 1.4826).round() as i64;
        (m + 3 * scale).clamp(floor, cap)
    }
}

/// The probe's silence threshold: its normal gap between signs of life (median + 3 robust
/// sigmas of the gaps under an hour), never below `floor` and never above `cap`.
#[cfg(test)]
pub(crate) fn silence_threshold(up: &[i64], floor: i64, cap: i64) -> i64 {
    let mut gaps: Vec<i64> = up.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > 30 && g <= 3600).collect();
    let scale = scale_i64(&gaps);
    match median_i64(&mut gaps) {
        Some(m) => (m + 3 * scale).clamp(floor, cap),
        None => floor,
    }
}

/// The mark of record `i` given its probe's `network_down` records (`downs`, sorted by time,
/// and the earliest arrival among those made at or after each: `first_arrival`).
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
fn mark(view: &View<'_>, i: usize, downs: &[(i64, i64, bool)], first_arrival: &[i64]) -> Mark {
    let p = view.params;
    let o = &view.obs[i];
    let t = view.t[i];
    let late = o.received_at - o.at - view.lag[i];
    match &o.what {
        _ if o.is_network_down() => Mark::Down,
        What::Platform { .. } | What::Throttling { .. } => {
            if late <= p.live_window {
                Mark::Up
            } else {
                Mark::Powered { answered: true }
            }
        }
        What::Heartbeat | What::Alive => {
            let k = downs.partition_point(|x| x.0 <= t);
            let checked = downs[k..].iter().take_while(|x| x.0 <= t + p.heartbeat_interval / 2).any(|x| x.2);
            let overtaken = first_arrival.get(k).is_some_and(|&r| r <= o.received_at);
            let heartbeat = matches!(o.what, What::Heartbeat);
            if late <= p.heartbeat_live_lag && !checked && !overtaken {
                Mark::Up
            } else {
                Mark::Powered { answered: heartbeat && !checked && !overtaken }
            }
        }
    }
}

/// Cut one probe's time-sorted marks (time, mark, observation) into outages: from a live sign
/// of life to the next one when they are more than `silence` apart or `network_down` records
/// lie between. Records that arrived late (spooled) never end one; they are counted in it.
#[cfg(test)]
fn outages(probe: usize, marks: &[(i64, Mark, usize)], silence: i64, now: i64, obs: &[Observation]) -> Vec<Outage> {
    let mut fold = Fold::new(silence);
    for &m in marks {
        fold.step(m, obs);
    }
    let mut out = fold.finish(now);
    for o in &mut out {
        o.probe = probe;
    }
    out
}

/// The state of cutting one probe's marks into outages, mark by mark (see [`outages`]):
/// resumable from a [`Saved`] point.
#[derive(Debug, Clone)]
struct Fold {
    silence: i64,
    out: Vec<Outage>,
    last_up: Option<(i64, usize)>,
    downs: Vec<(i64, usize)>,
    powered: usize,
    answered: usize,
    last_answered: Option<(i64, usize)>,
    /// The probe's last live heartbeat said it was stopping.
    stopping: bool,
    /// A silence closed without evidence, waiting for a heartbeat's uptime: (outage, last up).
    reboot: Option<(usize, i64)>,
}

impl Fold {
    fn new(silence: i64) -> Self {
        Fold {
            silence,
            out: Vec::new(),
            last_up: None,
            downs: Vec::new(),
            powered: 0,
            answered: 0,
            last_answered: None,
            stopping: false,
            reboot: None,
        }
    }

    /// The state right after an `Up` mark, `pos` marks consumed.
    fn save(&self, pos: usize) -> Saved {
        Saved { pos, outages: self.out.len(), last_up: self.last_up, stopping: self.stopping, reboot: self.reboot }
    }

    /// Back to a saved point (the fold went on from it with the same threshold).
    fn restore(&mut self, s: &Saved) {
        self.out.truncate(s.outages);
        (self.last_up, self.stopping, self.reboot) = (s.last_up, s.stopping, s.reboot);
        if let Some((k, _)) = self.reboot {
            // Decided after the saved point: undecided again.
            self.out[k].rebooted = false;
        }
        self.downs.clear();
        (self.powered, self.answered, self.last_answered) = (0, 0, None);
    }

    fn outage(
        &self,
        last_up: Option<(i64, usize)>,
        next_up: Option<i64>,
        downs: Vec<(i64, usize)>,
        powered: usize,
        answered: usize,
    ) -> Outage {
        Outage {
            probe: 0,
            last_up,
            next_up,
            answered: if downs.is_empty() { answered } else { 0 },
            downs,
            habitual: false,
            heard_from: None,
            silence: self.silence,
            powered,
            stopped: self.stopping,
            rebooted: false,
        }
    }

    fn step(&mut self, (t, mark, i): (i64, Mark, usize), obs: &[Observation]) {
        match mark {
            Mark::Down => {
                self.downs.push((t, i));
                return;
            }
            Mark::Powered { answered: a } => {
                self.powered += 1;
                if a {
                    self.answered += 1;
                    self.last_answered = Some((t, i));
                }
                return;
            }
            Mark::Up => {}
        }
        if !self.downs.is_empty() || self.last_up.is_some_and(|(u, _)| t - u > self.silence) {
            let downs = std::mem::take(&mut self.downs);
            let o = self.outage(self.last_up, Some(t), downs, self.powered, self.answered);
            if o.downs.is_empty() {
                self.reboot = self.last_up.map(|(u, _)| (self.out.len(), u));
            }
            self.out.push(o);
        }
        // The first heartbeat after a silence tells how long the probe has been running: less
        // than the silence lasted, it rebooted (lost power).
        if let (Some((k, u)), Some(uptime)) = (self.reboot, obs[i].meta.uptime) {
            self.out[k].rebooted = (uptime as i64) < t - u;
            self.reboot = None;
        }
        (self.powered, self.answered, self.last_answered) = (0, 0, None);
        if matches!(obs[i].what, What::Heartbeat) {
            self.stopping = obs[i].meta.stopping;
        }
        self.last_up = Some((t, i));
    }

    /// The outages as of `now`: those closed, and the one going on if any.
    fn finish(&self, now: i64) -> Vec<Outage> {
        let mut out = self.out.clone();
        if self.downs.is_empty()
            && let Some((a, _)) = self.last_answered
        {
            // Still out, but what it recorded while the collector could not hear it shows its
            // network answered until `a`: the silence (if any) is what follows.
            if now - a > self.silence {
                out.push(self.outage(self.last_answered, None, Vec::new(), self.powered, 0));
            }
            return out;
        }
        if !self.downs.is_empty() || self.last_up.is_some_and(|(u, _)| now - u > self.silence) {
            out.push(self.outage(self.last_up, None, self.downs.clone(), self.powered, self.answered));
        }
        out
    }
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

    #[test]
    fn a_fold_resumed_from_a_saved_point_equals_a_fresh_one() {
        use crate::obs::{Meta, PlatformKind};
        use vigil_report::PlatformStatus;
        // Two heartbeats, a silence closed by a run (no uptime: whether the probe rebooted is
        // decided by the next heartbeat), saved there; then a heartbeat that says it rebooted.
        let hb = |at, uptime| Observation {
            meta: Meta { uptime: Some(uptime), ..Meta::default() },
            ..crate::detect::tests::obs("p", 1, at, at + 2, What::Heartbeat)
        };
        let run = What::Platform {
            platform: "whatsapp".into(),
            kind: PlatformKind::Platform,
            status: PlatformStatus::Ok,
            family: None,
            mechanism: None,
        };
        let obs = vec![
            hb(0, 5000),
            hb(300, 5300),
            crate::detect::tests::obs("p", 1, 5000, 5002, run.clone()),
            hb(5300, 100),
            crate::detect::tests::obs("p", 1, 5300, 5302, run),
        ];
        let up = |i: usize| (obs[i].at, Mark::Up, i);
        let mut fold = Fold::new(600);
        for m in [up(0), up(1), up(2)] {
            fold.step(m, &obs);
        }
        let saved = fold.save(3);
        assert!(saved.reboot.is_some(), "undecided at the saved point");
        fold.step(up(3), &obs);
        assert!(fold.finish(6000)[0].rebooted);
        // Back to the saved point, on with another run: still undecided.
        fold.restore(&saved);
        fold.step(up(4), &obs);
        let mut fresh = Fold::new(600);
        for m in [up(0), up(1), up(2), up(4)] {
            fresh.step(m, &obs);
        }
        let key = |o: &Outage| (o.last_up, o.next_up, o.rebooted, o.powered, o.stopped);
        let (a, b) = (fold.finish(6000), fresh.finish(6000));
        assert_eq!(a.iter().map(key).collect::<Vec<_>>(), b.iter().map(key).collect::<Vec<_>>());
        assert!(!a[0].rebooted);
    }

    #[test]
    fn kept_gaps_give_the_threshold_computed_afresh() {
        // Irregular signs of life (a slow cadence, bursts, long silences), taken and dropped in
        // pieces as a detector's passes do.
        let mut up: Vec<i64> = Vec::new();
        let mut t = 0;
        for k in 0..400i64 {
            t += match k % 13 {
                0 => 5000,
                3 | 4 => 20,
                7 => 900 + k,
                _ => 280 + (k * 37 % 61),
            };
            up.push(t);
        }
        let mut gaps = Gaps::default();
        let mut held: Vec<i64> = Vec::new();
        for (n, cut) in [(50, 40), (120, 118), (300, 200), (400, 399), (400, 0)] {
            let keep = held.partition_point(|&u| u < up[cut]);
            let first = keep.saturating_sub(1);
            for w in held[first..].windows(2) {
                gaps.remove(w[1] - w[0]);
            }
            held.truncate(keep);
            held.extend(&up[keep..n]);
            for w in held[first..].windows(2) {
                gaps.add(w[1] - w[0]);
            }
            assert_eq!(held, up[..n].to_vec());
            for (floor, cap) in [(600, 1200), (0, i64::MAX), (100, 400)] {
                assert_eq!(gaps.threshold(floor, cap), silence_threshold(&held, floor, cap), "{n} {floor}");
            }
        }
    }
}
