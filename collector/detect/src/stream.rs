//! Detection as a stream: a [`Detector`] is fed observations as they arrive, advanced to a
//! time, and asked for the events it supports then. [`crate::detect_with`] is this detector fed
//! at once, so the batch and the incremental paths are one implementation and cannot drift.
//!
//! Design (issue 16, D7). The detector keeps every observation of its window (the caller drops
//! older ones with [`Detector::forget_before`], by whole days) and, beside it, state:
//! - the skew-corrected view (`ViewData`): each record's clock offset is causal (from
//!   heartbeats received before it), so it is computed once, when the record arrives, and the
//!   record is inserted in its group's time order; the view is built again only when records
//!   come out of arrival order, are retired, or are forgotten (once a day).
//! - per (cc, ASN, platform), blocking and throttling: the *freeze point* (`episode::Cut`: the
//!   latest run at or before `now - SETTLE_LAG` with no episode open, plus the CUSUM there) and
//!   the events of the episodes that closed before it (settled: kept, never recomputed), and
//!   the group's platforms with runs.
//! - per (cc, ASN), liveness (`liveness::LiveCache`): each probe's marks, signs of life,
//!   silence threshold and the fold of its marks into outages, with saved points; a pass
//!   re-marks a probe from its earliest new record (less half an interval) and resumes its fold
//!   from the saved point before that. Built again with the view.
//! - per (cc, ASN) shutdown clusters and per country: nothing; every pass judges the outages
//!   (those still going on, ageing, the collector's deaf stretches change with time alone).
//!
//! A pass extends the skew-corrected view and the liveness, judges shutdowns, and reruns
//! blocking and throttling only over the runs after each group's freeze points (and
//! `TAIL_MARGIN` before them, for the controls of a run and a report's URLs). Exactness with
//! [`detect()`] (the gate, tests/incremental.rs: stepped == batch at every step) rests on the
//! tail rules equalling the batch from a freeze point (`blocking::tests::tails_with_carried_state_equal_the_batch_*`)
//! and on dropping a group's tails whenever what they assumed fails: a platform or throttling
//! record received after the tails were cut but timed before `TAIL_MARGIN` past a freeze point
//! (a late upload), one fed out of arrival order, a retirement, or observations forgotten. A
//! late upload resumes from the latest of the group's earlier states (hourly, a day of them)
//! it does not break, when there is one, rather than from nothing.
//! The liveness is exact by construction: a batch is an empty cache fed everything, and what a
//! pass does not redo cannot have changed (records held arrived before every new one).
//! [`Detector::checkpoint`] holds the observations only: a restored detector recomputes its
//! state once (the collector saves only its cursor and re-reads the rows up to it).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::detect::{
    Added, BlockingState, Detection, Group, LiveCaches, ThrottlingState, View, ViewData, blocking_after, detect_batch,
    detect_shutdowns, finish, throttling_after,
};
use crate::downtime::Downtime;
use crate::event::{DetectedEvent, Scope, SetAside};
use crate::obs::{Observation, PlatformKind, Source, What};
use crate::params::Params;

/// Detect the events the observations received by `now` support, oldest first, the collector
/// having heard the fleet throughout (offline replays, the simulator).
pub fn detect(obs: &[Observation], params: &Params, now: i64) -> Vec<DetectedEvent> {
    detect_with(obs, params, now, &Downtime::default())
}

/// [`detect()`] given the collector's own `downtime`: silence is counted only where the
/// collector could hear it (see the `detect` module's documentation). It is a [`Detector`] fed `obs` in
/// their order and advanced to `now`: one implementation for batch and stream.
pub fn detect_with(obs: &[Observation], params: &Params, now: i64, downtime: &Downtime) -> Vec<DetectedEvent> {
    let mut detector = Detector::new(params.clone());
    for o in obs {
        detector.push(o.clone());
    }
    detector.advance(now, downtime);
    detector.events(now)
}

/// What a detector keeps state for and reports changes of: an ASN `(cc, Some(asn))` or a
/// country `(cc, None)`.
pub type ScopeKey = Scope;

/// Detection fed observation by observation (see the module documentation).
#[derive(Debug, Clone)]
pub struct Detector {
    params: Params,
    /// Everything observed, in the order observed, and the sequence number of each
    /// (checkpoints keep it, so a restored detector runs the rules over the same order).
    obs: Vec<Observation>,
    seqs: Vec<u64>,
    next_seq: u64,
    /// Measurement ids observed: re-feeding one is a no-op.
    seen: HashSet<String>,
    /// Probes retired (revoked) and when: what they report after that is ignored.
    retired: HashMap<String, i64>,
    downtime: Downtime,
    /// The time of the last [`Detector::advance`] and the events then.
    now: Option<i64>,
    events: Vec<DetectedEvent>,
    set_aside: Vec<SetAside>,
    /// Blocking and throttling state per (cc, ASN) (see the module documentation).
    tails: HashMap<(String, u32), Tails>,
    /// Probes whose records changed under the tails (fed out of arrival order, retired,
    /// forgotten): the tails of every group they report in are dropped at the next pass.
    dirty: HashSet<String>,
    /// The skew-corrected groups as of the last pass, extended with what arrives since
    /// (`ViewData::extend`); None: built again at the next pass (records removed or changed).
    data: Option<ViewData>,
    /// Each ASN's liveness, kept with `data` (built again with it).
    lives: LiveCaches,
    /// The earliest measurement time held (what [`Detector::forget_before`] looks at).
    oldest: i64,
}

/// A pass settles blocking and throttling episodes that closed at least this long before it:
/// later ones may still change with late uploads (a record arriving this late, less
/// `SAME_RUN`, drops the group's tails: a matter of cost, not of correctness).
const SETTLE_LAG: i64 = 3600;

/// The records of a battery run lie within this of its platform's record
/// (`blocking::SAME_RUN`): a record timed later than this after every freeze point of its
/// group cannot change a run the settled part judged.
const SAME_RUN: i64 = 900;

/// A tail reaches this far before the earliest freeze point of its group: the controls of a
/// run lie within `blocking::SAME_RUN` (15 min) of it and an OONI report's URLs within its span
/// (OONI's web_connectivity reports take minutes). A report measured over longer than this
/// would be cut in two: tests/incremental.rs replays an OONI series to check the stream still
/// equals the batch.
const TAIL_MARGIN: i64 = 1800;

/// The blocking and throttling state of one (cc, ASN) between passes.
#[derive(Debug, Clone, Default)]
struct Tails {
    /// The pass that left it.
    at: i64,
    blocking: BlockingState,
    throttling: ThrottlingState,
    /// The events of episodes closed before the freeze points, in the order found.
    settled: Vec<DetectedEvent>,
    /// The platforms of the group with runs (blocking: true; throttling: false) once counted
    /// (None: not yet): carried, and extended with what each pass adds.
    platforms: Option<BTreeSet<(bool, String)>>,
    /// Earlier states of the group (at least `SNAPSHOT_EVERY` apart, the last `SNAPSHOTS`,
    /// oldest first, each without its own): a late upload that breaks this state resumes from
    /// the latest earlier one it does not break, instead of rerunning the group's window.
    earlier: Vec<Tails>,
}

/// How far apart the kept earlier states of a group are, and how many are kept: a day's worth,
/// hourly (a probe powered off overnight uploads its spooled runs in the morning).
const SNAPSHOT_EVERY: i64 = 3600;
const SNAPSHOTS: usize = 24;

impl Tails {
    /// The freeze points of its platforms (blocking and throttling).
    fn cuts(&self) -> impl Iterator<Item = i64> + '_ {
        self.blocking.platforms.values().map(|c| c.t).chain(self.throttling.platforms.values().map(|(c, _)| c.t))
    }

    /// No platform or throttling record received since the pass that left it (`added`: those
    /// of its group) could belong to a run before a freeze point (a late upload the settled
    /// part would have missed): each is timed more than `SAME_RUN` after the latest one (an
    /// OONI report's URLs: `TAIL_MARGIN`, a report's span).
    fn still_holds(&self, view: &View<'_>, added: &[usize]) -> bool {
        let Some(last) = self.cuts().max() else { return true };
        added.iter().all(|&i| {
            let o = &view.obs[i];
            let judged = matches!(o.what, What::Platform { .. } | What::Throttling { .. });
            let reach = if o.meta.source == Source::Ooni { TAIL_MARGIN } else { SAME_RUN };
            !judged || o.received_at <= self.at || view.t[i] > last + reach
        })
    }

    /// This state broken by `added` (not [`Tails::still_holds`]): the latest earlier state that
    /// holds, with what this one has seen of the group's platforms (later states only add
    /// platforms), and the earlier states before it; else nothing carried. An earlier state
    /// holds for everything received between it and this one: each of those records was timed
    /// after a freeze point at least as late as its own (freeze points only move forward).
    fn rolled_back(mut self, view: &View<'_>, added: &[usize]) -> Tails {
        while let Some(mut s) = self.earlier.pop() {
            if s.still_holds(view, added) {
                s.platforms = self.platforms;
                s.earlier = self.earlier;
                return s;
            }
        }
        Tails::default()
    }

    /// Keep a copy of this state among the earlier ones when the last is `SNAPSHOT_EVERY` old.
    fn remember(&mut self) {
        if self.earlier.last().is_some_and(|s| self.at - s.at < SNAPSHOT_EVERY) {
            return;
        }
        // A copy without the earlier states (each keeps none of its own).
        let mut earlier = std::mem::take(&mut self.earlier);
        earlier.push(self.clone());
        if earlier.len() > SNAPSHOTS {
            earlier.remove(0);
        }
        self.earlier = earlier;
    }
}

/// Blocking and throttling of `group` at `view.now` from `prev`: the rules rerun over the runs
/// after its freeze points only. Returns the group's events (settled and not, in the batch's
/// order: by platform, then episode) and the state to carry.
fn tail(view: &View<'_>, group: &Group, added: &[usize], mut prev: Tails) -> (Vec<DetectedEvent>, Tails) {
    let mut platforms = prev.platforms.take();
    let new: &[usize] = if platforms.is_some() { added } else { &group.idx };
    let platforms = platforms.get_or_insert_default();
    for &i in new {
        match &view.obs[i].what {
            What::Platform { platform, kind: PlatformKind::Platform, .. } => platforms.insert((true, platform.clone())),
            What::Throttling { platform, .. } => platforms.insert((false, platform.clone())),
            _ => false,
        };
    }
    // Every platform needs a freeze point for the tail to start after them; until then, all.
    let cuts: Vec<i64> = prev.cuts().collect();
    let from = match cuts.iter().min() {
        Some(&first) if cuts.len() == platforms.len() => first - TAIL_MARGIN,
        _ => i64::MIN,
    };
    let start = group.idx.partition_point(|&i| view.t[i] < from);
    let sub = Group { cc: group.cc.clone(), asn: group.asn, idx: group.idx[start..].to_vec() };
    let before = view.now - SETTLE_LAG;
    let b = blocking_after(view, &sub, &prev.blocking, before);
    let t = throttling_after(view, &sub, std::mem::take(&mut prev.throttling), before);
    prev.settled.extend(b.settled.into_iter().chain(t.settled));
    let mut events: Vec<DetectedEvent> = prev.settled.iter().cloned().chain(b.unsettled).chain(t.unsettled).collect();
    // Stable: settled before unsettled, each in episode order, within a platform.
    events.sort_by(|a, b| (a.kind.label(), a.kind.platform()).cmp(&(b.kind.label(), b.kind.platform())));
    let mut next = Tails {
        at: view.now,
        blocking: b.state,
        throttling: t.state,
        settled: prev.settled,
        platforms: Some(std::mem::take(platforms)),
        earlier: prev.earlier,
    };
    next.remember();
    (events, next)
}

/// One scope's checkpointed state (this buffer: its observations with their sequence numbers).
#[derive(Serialize, Deserialize)]
struct State {
    obs: Vec<(u64, Observation)>,
}

impl Detector {
    pub fn new(params: Params) -> Self {
        Detector {
            params,
            obs: Vec::new(),
            seqs: Vec::new(),
            next_seq: 0,
            seen: HashSet::new(),
            retired: HashMap::new(),
            downtime: Downtime::default(),
            now: None,
            events: Vec::new(),
            set_aside: Vec::new(),
            tails: HashMap::new(),
            dirty: HashSet::new(),
            data: None,
            lives: LiveCaches::new(),
            oldest: i64::MAX,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Take one observation. Idempotent on `measurement_id`; observations of a retired probe
    /// made after its retirement are ignored.
    pub fn observe(&mut self, o: &Observation) {
        if self.retired.get(&o.probe).is_some_and(|&at| o.at > at) {
            return;
        }
        if let Some(id) = &o.measurement_id
            && !self.seen.insert(id.clone())
        {
            return;
        }
        self.push(o.clone());
    }

    /// Take one observation as it is, unchecked: [`crate::detect_with`]'s input is the
    /// caller's window, used exactly as given (as the batch rules always did).
    pub(crate) fn push(&mut self, o: Observation) {
        if self.now.is_some_and(|now| o.received_at <= now) {
            // Out of arrival order: it may change its probe's clock offset, and so the
            // corrected times its tails were cut on.
            self.dirty.insert(o.probe.clone());
        }
        self.oldest = self.oldest.min(o.at);
        self.obs.push(o);
        self.seqs.push(self.next_seq);
        self.next_seq += 1;
    }

    /// The probe was retired (its key revoked) at `at`: its later observations are dropped, and
    /// its last heartbeat before `at` is read as its last words (`meta.stopping`), so its silence
    /// after it is no outage. Idempotent. (This buffer keeps what it sent before.)
    pub fn retire(&mut self, probe: &str, at: i64) {
        self.retired.insert(probe.to_string(), at);
        let groups: HashSet<(String, u32)> =
            self.obs.iter().filter(|o| o.probe == probe).map(|o| (o.cc.clone(), o.asn)).collect();
        self.tails.retain(|k, _| !groups.contains(k));
        let keep: Vec<bool> = self.obs.iter().map(|o| o.probe != probe || o.at <= at).collect();
        self.keep_only(&keep);
        let last = self
            .obs
            .iter_mut()
            .filter(|o| o.probe == probe && matches!(o.what, crate::obs::What::Heartbeat))
            .max_by_key(|o| o.at);
        if let Some(o) = last {
            o.meta.stopping = true;
        }
    }

    /// Run detection as of `now` given the collector's own `downtime`; returns the scopes whose
    /// events changed since the previous advance (sorted).
    pub fn advance(&mut self, now: i64, downtime: &Downtime) -> Vec<ScopeKey> {
        self.downtime = downtime.clone();
        let Detection { events, set_aside } = self.pass(now);
        let mut changed: BTreeSet<ScopeKey> = BTreeSet::new();
        let (old, new) = (by_scope(&self.events), by_scope(&events));
        for (scope, es) in &new {
            if old.get(scope) != Some(es) {
                changed.insert((*scope).clone());
            }
        }
        changed.extend(old.keys().filter(|s| !new.contains_key(*s)).map(|s| (*s).clone()));
        self.now = Some(now);
        self.events = events;
        self.set_aside = set_aside;
        changed.into_iter().collect()
    }

    /// The events as of `now`, oldest first: those of the last advance when `now` is its time,
    /// else the rules run again over what was observed (with the last advance's downtime).
    pub fn events(&self, now: i64) -> Vec<DetectedEvent> {
        if self.now == Some(now) { self.events.clone() } else { self.run(now).events }
    }

    /// The shutdown clusters the last advance set aside as explained (a power cut, only the
    /// collector unreachable), for [`crate::revise::reconcile_with`]'s retraction reasons.
    pub fn set_aside(&self) -> &[SetAside] {
        &self.set_aside
    }

    /// When the events could next change with nothing new observed (a silence crossing its
    /// threshold, a grace period ending). This buffer cannot tell, so it is always due: the time
    /// of the last advance (None before the first).
    pub fn next_due(&self) -> Option<i64> {
        self.now
    }

    /// The state to store, per scope (an ASN's observations under `(cc, Some(asn))`).
    /// Retirements are not in it: the collector re-applies them from its probe table.
    pub fn checkpoint(&self) -> Vec<(ScopeKey, Vec<u8>)> {
        let mut by_scope: HashMap<ScopeKey, Vec<(u64, Observation)>> = HashMap::new();
        for (seq, o) in self.seqs.iter().zip(&self.obs) {
            by_scope.entry(Scope { cc: o.cc.clone(), asn: Some(o.asn) }).or_default().push((*seq, o.clone()));
        }
        let mut out: Vec<(ScopeKey, Vec<u8>)> = by_scope
            .into_iter()
            .map(|(scope, obs)| (scope, serde_json::to_vec(&State { obs }).unwrap_or_default()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A detector from a [`Detector::checkpoint`]; a state that does not parse (written by
    /// another version) is an error, and the caller rebuilds from its window instead.
    pub fn restore(params: Params, states: &[(ScopeKey, Vec<u8>)]) -> Result<Self, serde_json::Error> {
        let mut d = Detector::new(params);
        let mut obs = Vec::new();
        for (_, bytes) in states {
            obs.extend(serde_json::from_slice::<State>(bytes)?.obs);
        }
        obs.sort_by_key(|(seq, _)| *seq);
        d.next_seq = obs.last().map_or(0, |(seq, _)| seq + 1);
        d.seen = obs.iter().filter_map(|(_, o)| o.measurement_id.clone()).collect();
        (d.seqs, d.obs) = obs.into_iter().unzip();
        d.oldest = d.obs.iter().map(|o| o.at).min().unwrap_or(i64::MAX);
        Ok(d)
    }

    fn run(&self, now: i64) -> Detection {
        detect_batch(&self.obs, &self.params, now, &self.downtime)
    }

    /// [`Detector::run`] for an advance: shutdowns over everything, blocking and throttling over
    /// each group's tail (equal to the batch: see the module documentation).
    fn pass(&mut self, now: i64) -> Detection {
        if self.now.is_some_and(|last| now < last) {
            self.tails.clear();
        }
        if !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            let groups: HashSet<(&str, u32)> =
                self.obs.iter().filter(|o| dirty.contains(&o.probe)).map(|o| (o.cc.as_str(), o.asn)).collect();
            self.tails.retain(|(cc, asn), _| !groups.contains(&(cc.as_str(), *asn)));
        }
        let added = match self.data.as_mut().map(|d| d.extend(&self.obs, &self.params, now)) {
            Some(Ok(added)) => added,
            _ => {
                self.lives.clear();
                let data = self.data.insert(ViewData::default());
                data.extend(&self.obs, &self.params, now).unwrap_or_default()
            }
        };
        let mut added_to: HashMap<(&str, u32), Vec<usize>> = HashMap::new();
        for &i in &added {
            added_to.entry((self.obs[i].cc.as_str(), self.obs[i].asn)).or_default().push(i);
        }
        let data = self.data.as_ref().expect("built above");
        let mut view = View::of(data, &self.obs, &self.params, now);
        view.deaf = self.downtime.deaf(&self.obs, &self.params, now);
        let Detection { mut events, set_aside } = detect_shutdowns(&view, &mut self.lives, Added::Only(&added_to));
        let mut tails = HashMap::with_capacity(view.groups.len());
        let none = Vec::new();
        for group in view.groups {
            let key = (group.cc.clone(), group.asn);
            let added = added_to.get(&(group.cc.as_str(), group.asn)).unwrap_or(&none);
            let prev = match self.tails.remove(&key) {
                Some(t) if t.still_holds(&view, added) => t,
                Some(t) => t.rolled_back(&view, added),
                None => Tails::default(),
            };
            let (found, next) = tail(&view, group, added, prev);
            events.extend(found);
            tails.insert(key, next);
        }
        self.tails = tails;
        Detection { events: finish(events), set_aside }
    }
}

impl Detector {
    /// Drop what was measured before the start of `t`'s day (UTC): the caller's window fell
    /// past it. The detector then holds what a batch over `[held_from(t), ..]` would. Forgetting
    /// by whole days keeps what it carries between passes (the view, the tails) for a day at a
    /// time: forgetting rebuilds them. Its measurement ids are forgotten too, so memory stays
    /// bounded by the window and a day (the caller does not feed rows older than its window).
    pub fn forget_before(&mut self, t: i64) {
        let t = held_from(t);
        if self.oldest >= t {
            return;
        }
        let keep: Vec<bool> = self.obs.iter().map(|o| o.at >= t).collect();
        // The batch over what is left starts its episodes (and its probes' clock offsets)
        // afresh: the tails of the groups concerned are dropped.
        let mut groups: HashSet<(&str, u32)> = HashSet::new();
        for (o, _) in self.obs.iter().zip(&keep).filter(|(_, k)| !**k) {
            if let Some(id) = &o.measurement_id {
                self.seen.remove(id);
            }
            groups.insert((o.cc.as_str(), o.asn));
            if !self.dirty.contains(&o.probe) {
                self.dirty.insert(o.probe.clone());
            }
        }
        self.tails.retain(|(cc, asn), _| !groups.contains(&(cc.as_str(), *asn)));
        self.keep_only(&keep);
        self.oldest = self.obs.iter().map(|o| o.at).min().unwrap_or(i64::MAX);
    }
}

impl Detector {
    /// Keep the observations (and their sequence numbers) that `keep` marks; the view is built
    /// again at the next pass.
    fn keep_only(&mut self, keep: &[bool]) {
        let mut k = keep.iter();
        self.obs.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.seqs.retain(|_| *k.next().unwrap_or(&true));
        self.data = None;
    }
}

/// The start of the UTC day of `t`: what a detector told to forget before `t` keeps
/// ([`Detector::forget_before`]).
pub fn held_from(t: i64) -> i64 {
    t - t.rem_euclid(86_400)
}

/// Events grouped by scope.
fn by_scope(events: &[DetectedEvent]) -> HashMap<&Scope, Vec<&DetectedEvent>> {
    let mut m: HashMap<&Scope, Vec<&DetectedEvent>> = HashMap::new();
    for e in events {
        m.entry(&e.scope).or_default().push(e);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::What;

    fn hb(probe: &str, id: &str, at: i64) -> Observation {
        Observation {
            at,
            received_at: at + 2,
            probe: probe.into(),
            cc: "AA".into(),
            asn: 1,
            measurement_id: Some(id.into()),
            what: What::Heartbeat,
            meta: Default::default(),
        }
    }

    #[test]
    fn observing_is_idempotent_and_retired_probes_are_dropped() {
        let mut d = Detector::new(Params::default());
        d.observe(&hb("p", "a", 100));
        d.observe(&hb("p", "a", 100));
        d.observe(&hb("q", "b", 100));
        assert_eq!(d.obs.len(), 2);
        d.retire("q", 50);
        d.observe(&hb("q", "c", 200));
        assert_eq!(d.obs.len(), 1);
    }

    /// A fleet of 2 ASNs over 5 days: whatsapp blocked twice in ASN 100, youtube throttled
    /// once in ASN 101 (all closed a day before the end).
    fn fleet() -> Vec<Observation> {
        use crate::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
        use vigil_report::Mechanism;
        const T: i64 = 1_740_960_000;
        const H: i64 = 3600;
        let mut spec = FleetSpec::new(5, T, 5, 10, vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }]);
        spec.platforms = ["whatsapp", "youtube"].map(String::from).to_vec();
        spec.throttling = true;
        let ev = |asn, kind, start, end| TruthEvent { cc: "AA".into(), asn: Some(asn), kind, start, end };
        let block = || TruthKind::Block { platform: "whatsapp".into(), mechanism: Mechanism::DnsInjection };
        let truth = [
            ev(100, block(), T + 20 * H, T + 30 * H),
            ev(100, block(), T + 60 * H, T + 70 * H),
            ev(101, TruthKind::Throttle { platform: "youtube".into(), rate_kbps: 150.0 }, T + 40 * H, T + 60 * H),
        ];
        simulate(&spec, &truth).observations
    }

    /// Feed `obs` in arrival order, stepping every `step` up to the last arrival + a day; at
    /// every step the detector's events equal [`detect`]'s over what it was fed.
    fn stepped(obs: &[Observation], step: i64) -> (Detector, i64) {
        let p = Params::default();
        let mut d = Detector::new(p.clone());
        let (first, last) = (obs[0].received_at, obs[obs.len() - 1].received_at);
        let mut next = 0;
        let mut now = first + step;
        while now <= last + 86_400 {
            while next < obs.len() && obs[next].received_at <= now {
                d.observe(&obs[next]);
                next += 1;
            }
            d.advance(now, &Downtime::default());
            assert_eq!(d.events(now), detect(&d.obs, &p, now), "at {now}");
            now += step;
        }
        (d, now - step)
    }

    #[test]
    fn blocking_and_throttling_tails_are_carried_and_equal_the_batch() {
        // Issue 16 D7: the blocking and throttling rules of a pass run only after the freeze
        // points; what closed before them is kept, not recomputed.
        let obs = fleet();
        let (d, now) = stepped(&obs, 3600);
        let settled: Vec<&str> = d.tails.values().flat_map(|t| &t.settled).map(|e| e.kind.label()).collect();
        assert!(settled.contains(&"blocking") && settled.contains(&"throttling"), "{settled:?}");
        let cuts: Vec<(usize, usize)> =
            d.tails.values().map(|t| (t.blocking.platforms.len(), t.throttling.platforms.len())).collect();
        assert!(d.tails.values().all(|t| t.at == now), "{cuts:?}");
        assert_eq!(cuts, vec![(2, 2); 2], "every platform has a freeze point");
        let found = d.events(now);
        assert!(found.iter().filter(|e| e.kind.label() == "blocking").count() >= 2, "{found:#?}");
    }

    /// A blocked whatsapp run of `probe` in AA/100 made at `at`, received at `received_at`.
    fn blocked_whatsapp(probe: &str, id: &str, at: i64, received_at: i64) -> Observation {
        let what = What::Platform {
            platform: "whatsapp".into(),
            kind: PlatformKind::Platform,
            status: vigil_report::PlatformStatus::Blocked,
            family: None,
            mechanism: None,
        };
        let o = Observation { what, measurement_id: Some(id.into()), ..hb(probe, "", at) };
        Observation { cc: "AA".into(), asn: 100, received_at, ..o }
    }

    /// A run uploaded a few hours late breaks the group's state (timed before its freeze
    /// points): the pass resumes from an earlier state the run does not break, keeping the
    /// states before it, and still equals the batch.
    #[test]
    fn a_run_uploaded_hours_late_resumes_from_an_earlier_state() {
        // Hourly passes over the fleet's first three days, data flowing up to the last.
        let obs = fleet();
        let mut d = Detector::new(Params::default());
        let mut now = obs[0].received_at;
        for o in obs.iter().take_while(|o| o.received_at <= obs[0].received_at + 3 * 86_400) {
            while o.received_at > now {
                d.advance(now, &Downtime::default());
                now += 3600;
            }
            d.observe(o);
        }
        let key = ("AA".to_string(), 100);
        let kept = d.tails[&key].earlier.len();
        assert_eq!(kept, SNAPSHOTS, "hourly passes for days keep a day of earlier states");
        let probe = obs.iter().find(|o| o.asn == 100).map(|o| o.probe.clone()).unwrap_or_default();
        let last_cut = d.tails[&key].cuts().max().expect("freeze points");
        let late = blocked_whatsapp(&probe, "late-run", last_cut - 3600, now + 600);
        d.observe(&late);
        let added = [d.obs.len() - 1];
        let data = ViewData::build(&d.obs, &d.params, now + 600);
        let view = View::of(&data, &d.obs, &d.params, now + 600);
        assert!(!d.tails[&key].still_holds(&view, &added), "the late run breaks the latest state");
        d.advance(now + 600, &Downtime::default());
        assert_eq!(d.events(now + 600), detect(&d.obs, &Params::default(), now + 600));
        let earlier = &d.tails[&key].earlier;
        assert!(
            earlier.len() > 1 && earlier.len() < kept,
            "resumed from an earlier state, the ones before it kept: {} of {kept}",
            earlier.len()
        );
    }

    #[test]
    fn a_late_upload_before_a_freeze_point_and_forgetting_keep_the_batch() {
        let obs = fleet();
        let (mut d, now) = stepped(&obs, 6 * 3600);
        let first = obs[0].at;
        // A probe of ASN 100 uploads, now, 8 hourly whatsapp runs made blocked before the fleet
        // started: long before the freeze points, so the settled part would miss them.
        let probe = obs.iter().find(|o| o.asn == 100).map(|o| o.probe.clone()).unwrap_or_default();
        for k in 0..8 {
            d.observe(&blocked_whatsapp(&probe, &format!("late-{k}"), first - 10 * 3600 + k * 3600, now + 600));
        }
        let before = d.events(now).len();
        d.advance(now + 600, &Downtime::default());
        let want = detect(&d.obs, &Params::default(), now + 600);
        assert_eq!(d.events(now + 600), want);
        assert!(want.len() > before, "the late runs make an event: {want:#?}");
        // Forgetting the first two days: the batch over what is left.
        d.forget_before(first + 2 * 86_400);
        d.advance(now + 1200, &Downtime::default());
        assert_eq!(d.events(now + 1200), detect(&d.obs, &Params::default(), now + 1200));
    }

    #[test]
    fn retired_probes_silence_is_no_shutdown() {
        // Three probes of one ASN heartbeat for a day, then all fall silent at once.
        let (t0, day) = (1_740_960_000, 86_400);
        let feed = |d: &mut Detector| {
            for p in ["p", "q", "r"] {
                for k in 0..(day / 300) {
                    d.observe(&hb(p, &format!("{p}{k}"), t0 + k * 300));
                }
            }
        };
        let now = t0 + day + 3 * 3600;
        let mut kept = Detector::new(Params::default());
        feed(&mut kept);
        kept.advance(now, &Downtime::default());
        assert_eq!(kept.events(now).len(), 1, "{:?}", kept.events(now));
        // The operator revoked them at the last heartbeat: their silence after is no outage.
        let mut retired = Detector::new(Params::default());
        feed(&mut retired);
        for p in ["p", "q", "r"] {
            retired.retire(p, t0 + day - 300);
            retired.retire(p, t0 + day - 300);
        }
        retired.advance(now, &Downtime::default());
        assert_eq!(retired.events(now), Vec::new());
    }

    #[test]
    fn a_checkpoint_restores_the_same_detector() {
        let mut d = Detector::new(Params::default());
        for (i, (p, asn)) in [("p", 1), ("q", 2), ("p", 1)].into_iter().enumerate() {
            d.observe(&Observation { asn, ..hb(p, &i.to_string(), 100 * i as i64) });
        }
        let states = d.checkpoint();
        assert_eq!(states.len(), 2);
        let back = Detector::restore(Params::default(), &states).unwrap();
        assert_eq!((&back.obs, &back.seqs), (&d.obs, &d.seqs));
        assert_eq!(back.next_seq, 3);
        assert!(Detector::restore(Params::default(), &[(states[0].0.clone(), b"{".to_vec())]).is_err());
    }
}
