//! Detection as a stream: a [`Detector`] is fed observations as they arrive, advanced to a
//! time, and asked for the events it supports then. [`crate::detect_with`] is this detector fed
//! at once, so the batch and the incremental paths are one implementation and cannot drift.
//!
//! Design (issue 16, D7). The detector keeps every observation of its window (the caller drops
//! older ones with [`Detector::forget_before`]) and, beside it, state per scope:
//! - per probe: nothing of its own yet; its clock offset is recomputed each pass, and is causal
//!   (from heartbeats received before each record), so a record's corrected time never changes
//!   once it has been received.
//! - per (cc, ASN, platform), blocking and throttling: the *freeze point* (`episode::Cut`: the
//!   latest run at or before `now - SETTLE_LAG` with no episode open, plus the CUSUM there) and
//!   the events of the episodes that closed before it (settled: kept, never recomputed).
//! - per (cc, ASN), shutdown, and per country: nothing yet; every pass reruns liveness, shutdown,
//!   ageing and the country rule over the whole window (`liveness::Seed` is not used yet).
//! A pass builds the skew-corrected view, reruns shutdown, and reruns blocking and throttling
//! only over the runs after each group's freeze points (and [`TAIL_MARGIN`] before them, for
//! the controls of a run and a report's URLs). Exactness with [`detect()`] (the gate,
//! tests/incremental.rs: stepped == batch at every step) rests on the tail rules equalling the
//! batch from a freeze point (`blocking::tests::tails_with_carried_state_equal_the_batch_*`)
//! and on dropping a group's tails whenever what they assumed fails: a platform or throttling
//! record received after the tails were cut but timed before `TAIL_MARGIN` past a freeze point
//! (a late upload), one fed out of arrival order, a retirement, or observations forgotten.
//! Checkpoints hold the observations only: a restored detector recomputes its tails once.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::detect::{Detection, detect_batch};
use crate::downtime::Downtime;
use crate::event::{DetectedEvent, Scope, SetAside};
use crate::obs::Observation;
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
        self.obs.push(o);
        self.seqs.push(self.next_seq);
        self.next_seq += 1;
    }

    /// The probe was retired (its key revoked) at `at`: its later observations are dropped, so
    /// its silence after `at` is no outage. (This buffer keeps what it sent before.)
    pub fn retire(&mut self, probe: &str, at: i64) {
        self.retired.insert(probe.to_string(), at);
        let keep: Vec<bool> = self.obs.iter().map(|o| o.probe != probe || o.at <= at).collect();
        let mut k = keep.iter();
        self.obs.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.seqs.retain(|_| *k.next().unwrap_or(&true));
    }

    /// Run detection as of `now` given the collector's own `downtime`; returns the scopes whose
    /// events changed since the previous advance (sorted).
    pub fn advance(&mut self, now: i64, downtime: &Downtime) -> Vec<ScopeKey> {
        self.downtime = downtime.clone();
        let Detection { events, set_aside } = self.run(now);
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
        Ok(d)
    }

    fn run(&self, now: i64) -> Detection {
        detect_batch(&self.obs, &self.params, now, &self.downtime)
    }
}

impl Detector {
    /// Drop what was measured before `t` (it fell out of the caller's window): the detector then
    /// holds what a batch over `[t, ..]` would. Its measurement ids are forgotten too, so memory
    /// stays bounded by the window (the caller does not feed rows older than its window).
    pub fn forget_before(&mut self, t: i64) {
        if self.obs.iter().all(|o| o.at >= t) {
            return;
        }
        let keep: Vec<bool> = self.obs.iter().map(|o| o.at >= t).collect();
        for (o, _) in self.obs.iter().zip(&keep).filter(|(_, k)| !**k) {
            if let Some(id) = &o.measurement_id {
                self.seen.remove(id);
            }
        }
        let mut k = keep.iter();
        self.obs.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.seqs.retain(|_| *k.next().unwrap_or(&true));
    }
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
