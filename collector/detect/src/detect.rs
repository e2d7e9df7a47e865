//! Detection: a pure function from the observations of a time window to the events they
//! support. The collector calls it with every observation of the window it keeps (28 days
//! gives the throttling baseline its history); only observations received by `now` are used,
//! so replaying a window with an earlier `now` shows what was known then.
//!
//! Rules (parameters in [`Params`]):
//! - **Blocking** per (country, ASN, platform), `blocking` and `episode` modules: one sample
//!   per run — a Vigil summary, or an OONI report's URLs of the platform (blocked when at least
//!   half are blocked with working controls, ok when most are ok); blocked counts only when the
//!   probe's neutral controls of that run did not all fail. OONI's reports of a network form one
//!   stream weighing `ooni_weight`. It is an event when ≥ 2 streams each saw ≥ 2 (weighted)
//!   blocked runs in a row, or one saw ≥ 5; start: between the last ok and the first hit of the
//!   first 2-in-a-row streak. An episode ends, over the runs of the last `report_window`, when at
//!   least half of the streams' latest runs are ok and either ≥ 2 ok runs of probes with
//!   `block_min_consecutive` oks in a row, from ≥ min(2, probes that reported during it within
//!   `unknown_after`) probes, or ≥ 2 probes whose latest full-weight runs are ok (agreement
//!   across probes standing in for repetition); end: between the last hit before those oks and
//!   the first of them. Confidence = agreement × support, agreement = blocked runs / (blocked +
//!   ok runs) during the episode, support = 1 − exp(−runs / 4). Confirmed once ended or with
//!   twice the minimum evidence; provisional before. Events name their `sources`.
//! - **Clock offset and liveness** (`View::new`, `liveness`; docs/detection.md): each probe's
//!   usual lag is the low quartile of its last 32 heartbeats' `received_at - at` received before
//!   the record (causal), applied only beyond `skew_min`. A heartbeat is a live sign of the
//!   network when it arrived within `heartbeat_live_lag` of that and no `network_down` says it
//!   was spooled (a connectivity check right after it, or one made later that arrived first); a
//!   run when it arrived within `live_window`. Later records are spooled: they prove power, never
//!   end an outage, and "answered" when they show the network worked (no failed check after a
//!   spooled heartbeat, a run whose controls answered).
//! - **Shutdown** per ASN (`shutdown` module, built on `liveness`): each probe's outages are
//!   the stretches between live signs of life longer than its silence threshold, or with
//!   `network_down` reports. Outages starting within 2 heartbeat intervals make a cluster; it
//!   is an event with ≥ 3 probes (or ≥ 60 % of the ASN's active probes, and ≥ 2) when one has
//!   `network_down` records, and with more than 60 % of the probes heard in the day before (and
//!   ≥ 2) on silence alone (`basis = silence`, `cannot_tell` = shutdown, power cut, collector
//!   unreachable). A cluster starting within 2 intervals of the previous event's end with half
//!   its members carries it on.
//!   Start = median over the members of the middle of [last sign of life, first `network_down`]
//!   (the last sign + half an interval when there is no `network_down`, or the first comes more
//!   than a silence threshold later: shed spool); end = the time by which half of them are back.
//!   A member is excused (its silence explained) when its last heartbeat said `stopping`, when it
//!   rebooted on return (uptime shorter than the silence: a power cut), when its spooled records
//!   answered (only the collector was unreachable), or when back `spool_grace` with nothing of the
//!   gap uploaded and its spool empty (or `spool_grace_max` passed): the event stands only if
//!   the others are still enough; otherwise the cluster is set aside ([`Detection::set_aside`])
//!   with the cause most excused members showed. Provisional until the probes with spooled
//!   evidence alone meet the minimum; then confirmed. An open silence-only event becomes
//!   `unknown` (ended at the lapse) after `unknown_after` when it rests on fewer than 3 probes and
//!   no other ASN of the country is in shutdown meanwhile, and after `silence_max` in any case.
//!   Probes habitually offline at that time of day (on ≥ 2 earlier days, outside evidenced
//!   outages: IODA's inpainting) do not count. Confidence = support × agreement, support = 1 −
//!   0.5^probes, agreement = share of the resolved members that brought evidence (0.6 while none
//!   is resolved).
//! - **The collector's own downtime** ([`Downtime`], `crate::downtime`): the collector says
//!   when it could not hear the fleet — not running, or running but receiving nothing from
//!   anyone for `collector_quiet` (counted only when the fleet heard just before spanned ≥ 2
//!   networks) — and each such stretch, and each start, is followed by a grace of
//!   `collector_grace_intervals` heartbeat intervals for the probes to reconnect. A silence
//!   that would have become one (its last sign of life + its threshold) inside a deaf stretch
//!   is counted only from the stretch's end: a probe back by then has no outage, one still
//!   silent then has an outage whose start lies between its last sign and that end; while the
//!   collector is still deaf, none. Outages with spooled `network_down` records are evidence
//!   on their own and are kept whatever the collector's state, so a real shutdown that
//!   overlapped the collector's downtime is still found (confirmed) once the probes upload.
//! - **Country shutdown** (`country` module): more than half of the country's ASNs with ≥ 2
//!   active probes (and ≥ 2 ASNs) in shutdown at once; times are the medians of theirs; silence
//!   basis when all of them rest on silence, unknown when all are.
//! - **Throttling** per (country, ASN, platform), `throttling` module: a baseline of
//!   r = ln(T/C) per hour-of-day × weekday/weekend (median, 1.4826 × MAD floored at 0.1),
//!   robust z per step (median over probes of ≥ 3 probes or ≥ 5 runs), a lower one-sided CUSUM
//!   (k = 0.5, h = 5); an episode (as for blocking, a run being a hit when throttled or z < −3)
//!   is an event when the CUSUM alarmed in it, ≥ 2 probes said throttled within 2 h, and it
//!   has blocking's minimum evidence (≥ 2 probes with ≥ 2 hits in a row, or one with ≥ 5):
//!   the probes' 0.5 % false-throttled runs then never make an event by coincidence.
//!   Confidence and status as for blocking.

mod blocking;
mod country;
mod episode;
mod liveness;
mod shutdown;
mod throttling;

use std::collections::HashMap;

use crate::downtime::Downtime;
use crate::event::{DetectedEvent, Evidence, SetAside, event_id};
use crate::obs::{Observation, What};
use crate::params::Params;

/// What one run of the rules gives: the events, and the clusters set aside as explained.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Detection {
    pub events: Vec<DetectedEvent>,
    pub set_aside: Vec<SetAside>,
}

pub(crate) use blocking::{BlockingState, detect_after as blocking_after};
pub(crate) use throttling::{ThrottlingState, detect_after as throttling_after};

/// The rules over everything in `obs` received by `now` (what a [`crate::Detector`] runs).
pub(crate) fn detect_batch(obs: &[Observation], params: &Params, now: i64, downtime: &Downtime) -> Detection {
    let data = ViewData::build(obs, params, now);
    let mut view = View::of(&data, obs, params, now);
    view.deaf = downtime.deaf(obs, params, now);
    let mut events = Vec::new();
    for group in view.groups {
        events.extend(blocking::detect(&view, group));
        events.extend(throttling::detect(&view, group));
    }
    let Detection { events: shutdowns, set_aside } = detect_shutdowns(&view, &mut LiveCaches::new(), Added::All);
    events.extend(shutdowns);
    Detection { events: finish(events), set_aside }
}

/// The shutdown rules (per ASN, then per country) over the whole of `view`, unsorted and
/// without ids (the stream detector runs them beside its blocking and throttling tails).
///
/// Each ASN's liveness comes from its `caches` entry, updated first with the group's records
/// that `added` names (all of them for a new entry's batch).
pub(crate) fn detect_shutdowns(view: &View<'_>, caches: &mut LiveCaches, added: Added<'_>) -> Detection {
    let none = Vec::new();
    for group in view.groups {
        let new: &[usize] = match added {
            Added::All => &group.idx,
            Added::Only(m) => m.get(&(group.cc.as_str(), group.asn)).unwrap_or(&none),
        };
        caches.entry((group.cc.clone(), group.asn)).or_default().update(view, new);
    }
    let mut events = Vec::new();
    let mut asn_shutdowns = Vec::new();
    let mut lives = Vec::new();
    let mut set_aside = Vec::new();
    for group in view.groups {
        let Some(cache) = caches.get(&(group.cc.clone(), group.asn)) else { continue };
        let live = cache.liveness(view);
        let (shutdowns, aside) = shutdown::detect(view, group, &live);
        asn_shutdowns.extend(shutdowns);
        set_aside.extend(aside);
        lives.push((group.cc.as_str(), live));
    }
    shutdown::age(view, &mut asn_shutdowns);
    events.extend(country::detect(view, &asn_shutdowns, &lives));
    events.extend(asn_shutdowns);
    Detection { events, set_aside }
}

/// Each ASN's liveness state between passes ([`detect_shutdowns`]).
pub(crate) type LiveCaches = HashMap<(String, u32), liveness::LiveCache>;

/// Which records are new to the view since the caches were last updated.
#[derive(Clone, Copy)]
pub(crate) enum Added<'a> {
    /// Every record (the caches are new).
    All,
    /// Those listed per (cc, ASN).
    Only(&'a HashMap<(&'a str, u32), Vec<usize>>),
}

/// Give every event its id (a `-2`, `-3`... suffix when two share one) and sort them.
pub(crate) fn finish(mut events: Vec<DetectedEvent>) -> Vec<DetectedEvent> {
    events.sort_by(|a, b| (a.start, &a.scope, a.kind.label()).cmp(&(b.start, &b.scope, b.kind.label())));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &mut events {
        let id = event_id(&e.scope, &e.kind, e.start);
        let n = seen.entry(id.clone()).or_insert(0);
        *n += 1;
        e.id = if *n == 1 { id } else { format!("{id}-{n}") };
    }
    events
}

/// The observations received by `now`, with each probe's clock skew corrected, grouped by
/// (country, ASN): a borrowed look at a [`ViewData`].
pub(crate) struct View<'a> {
    pub obs: &'a [Observation],
    /// Corrected time of each observation (indexed like `obs`).
    pub t: &'a [i64],
    /// The probe's usual upload lag when observation `i` arrived (its clock offset plus its
    /// network delay, estimated from the live heartbeats received before it; indexed like `obs`):
    /// how late observation `i` was is `received_at - at - lag[i]`.
    pub lag: &'a [i64],
    /// A small number per probe (indexed like `obs`).
    pub probe: &'a [u32],
    pub params: &'a Params,
    pub now: i64,
    pub groups: &'a [Group],
    /// The collector's deaf stretches, merged, grace included ([`Downtime::deaf`]).
    pub deaf: Vec<(i64, i64)>,
}

/// The observations of one (country, ASN), sorted by corrected time.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub cc: String,
    pub asn: u32,
    pub idx: Vec<usize>,
}

impl<'a> View<'a> {
    /// The view of `data`, which holds `obs` as received by `now`.
    pub(crate) fn of(data: &'a ViewData, obs: &'a [Observation], params: &'a Params, now: i64) -> Self {
        View {
            obs,
            t: &data.t,
            lag: &data.lag,
            probe: &data.probe,
            params,
            now,
            groups: &data.groups,
            deaf: Vec::new(),
        }
    }

    /// The evidence record of observation `i`.
    pub fn evidence(&self, i: usize) -> Evidence {
        let o = &self.obs[i];
        Evidence {
            probe: o.probe.clone(),
            at: o.at,
            received_at: o.received_at,
            measurement_id: o.measurement_id.clone(),
        }
    }
}

/// Heartbeat lags a probe's skew estimate keeps (the most recent).
const SKEW_SAMPLES: usize = 32;

/// What a [`View`] shows, kept between a detector's passes: each observation's corrected time,
/// usual lag and probe number, and the groups (see [`ViewData::extend`]). A batch builds it at
/// once ([`ViewData::build`]); a detector extends it pass by pass with what arrived: one
/// implementation, so the two cannot differ.
///
/// The lag is the low quartile of the `received_at - at` of the probe's last [`SKEW_SAMPLES`]
/// heartbeats that arrived within `live_window` and strictly before the observation did
/// (causal: what arrives later never changes it); it corrects the time only when larger than
/// `skew_min` either way (probes correct their own clocks: a constant upload delay is not a
/// clock offset).
#[derive(Debug, Clone, Default)]
pub(crate) struct ViewData {
    pub t: Vec<i64>,
    pub lag: Vec<i64>,
    pub probe: Vec<u32>,
    pub groups: Vec<Group>,
    numbers: HashMap<String, u32>,
    skew: Vec<Skew>,
    /// Observations not in a group yet (received after the time it was extended to).
    pending: Vec<usize>,
    /// The time it was last extended to.
    now: Option<i64>,
}

/// One probe's clock-offset estimate as its records arrive.
#[derive(Debug, Clone, Default)]
struct Skew {
    samples: std::collections::VecDeque<i64>,
    estimate: i64,
    /// The estimate before the records received at `last` (they all get it).
    before: i64,
    last: Option<i64>,
}

/// Records reached a [`ViewData`] out of arrival order (received before what it already
/// holds of their probe, or extended to an earlier time): it must be built again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfOrder;

/// Records added to a group in one extension are merged in one sweep, rather than inserted one
/// by one, when there are more than this and at least an eighth of the group's.
const MERGE_ABOVE: usize = 32;

impl ViewData {
    /// The view data of `obs` as received by `now`.
    pub(crate) fn build(obs: &[Observation], params: &Params, now: i64) -> Self {
        let mut data = ViewData::default();
        // Everything is taken in arrival order at once: never out of order.
        let _ = data.extend(obs, params, now);
        data
    }

    /// Where `o`'s group is in `groups` (sorted by country and ASN), or would be inserted.
    fn group_of(&self, o: &Observation) -> Result<usize, usize> {
        self.groups.binary_search_by(|g| (g.cc.as_str(), g.asn).cmp(&(o.cc.as_str(), o.asn)))
    }

    /// Take the records appended to `obs` since the last call (`obs` only ever grows between
    /// builds) and every held record now received by `now` into the groups; returns the
    /// indices added to groups, in arrival order. Records that arrive before what their probe
    /// already showed (or `now` before the last) are refused: the caller builds again.
    pub(crate) fn extend(&mut self, obs: &[Observation], params: &Params, now: i64) -> Result<Vec<usize>, OutOfOrder> {
        if self.now.is_some_and(|last| now < last) {
            return Err(OutOfOrder);
        }
        for (i, o) in obs.iter().enumerate().skip(self.probe.len()) {
            let n = match self.numbers.get(&o.probe) {
                Some(&n) => n,
                None => {
                    let n = self.numbers.len() as u32;
                    self.numbers.insert(o.probe.clone(), n);
                    self.skew.push(Skew::default());
                    n
                }
            };
            self.probe.push(n);
            self.t.push(o.at);
            self.lag.push(0);
            self.pending.push(i);
        }
        let (mut now_in, later): (Vec<usize>, Vec<usize>) =
            self.pending.iter().partition(|&&i| obs[i].received_at <= now);
        now_in.sort_unstable_by_key(|&i| (obs[i].received_at, i));
        if now_in.iter().any(|&i| self.skew[self.probe[i] as usize].last.is_some_and(|l| obs[i].received_at < l)) {
            return Err(OutOfOrder);
        }
        self.pending = later;
        self.now = Some(now);
        for &i in &now_in {
            let o = &obs[i];
            let s = &mut self.skew[self.probe[i] as usize];
            if s.last != Some(o.received_at) {
                s.before = s.estimate;
                s.last = Some(o.received_at);
            }
            let lag = s.before;
            let d = o.received_at - o.at;
            if matches!(o.what, What::Heartbeat) && d.abs() <= params.live_window {
                if s.samples.len() == SKEW_SAMPLES {
                    s.samples.pop_front();
                }
                s.samples.push_back(d);
                let mut v: Vec<i64> = s.samples.iter().copied().collect();
                v.sort_unstable();
                s.estimate = v[(v.len() - 1) / 4];
            }
            self.lag[i] = lag;
            self.t[i] = if lag.abs() > params.skew_min { o.at + lag } else { o.at };
            if let Err(g) = self.group_of(o) {
                self.groups.insert(g, Group { cc: o.cc.clone(), asn: o.asn, idx: Vec::new() });
            }
        }
        // Into each group's time order: a few records inserted one by one, many (a build, a
        // long late upload) sorted and merged in one sweep (never one shift of the group each).
        let mut into: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        for &i in &now_in {
            into[self.group_of(&obs[i]).unwrap_or_default()].push(i);
        }
        let t = &self.t;
        for (group, mut new) in self.groups.iter_mut().zip(into) {
            let idx = &mut group.idx;
            if new.len() <= MERGE_ABOVE || new.len() < idx.len() / 8 {
                for i in new {
                    let at = idx.partition_point(|&j| (t[j], j) < (t[i], i));
                    idx.insert(at, i);
                }
                continue;
            }
            new.sort_unstable_by_key(|&i| (t[i], i));
            let old = std::mem::take(idx);
            idx.reserve(old.len() + new.len());
            let (mut a, mut b) = (old.into_iter().peekable(), new.into_iter().peekable());
            while let (Some(&x), Some(&y)) = (a.peek(), b.peek()) {
                if (t[x], x) < (t[y], y) {
                    idx.push(x);
                    a.next();
                } else {
                    idx.push(y);
                    b.next();
                }
            }
            idx.extend(a);
            idx.extend(b);
        }
        Ok(now_in)
    }
}

/// Middle and half-width of the interval [a, b].
pub(crate) fn bracket(a: i64, b: i64) -> (i64, i64) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (lo + (hi - lo) / 2, (hi - lo + 1) / 2)
}

#[cfg(test)]
mod tests;
