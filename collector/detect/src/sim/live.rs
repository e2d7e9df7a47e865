//! The collector's publication loop, in memory: detection every `step` seconds on what had
//! arrived by then (the observations of the last [`WINDOW`]), published by the collector's own
//! rules ([`crate::publish`]: what is left as published, retraction final, fresh ids). The
//! result is every revision ever published, for `score::live`.

use serde::Serialize;

use super::{Fleet, FleetSpec, TruthEvent, simulate};
use crate::event::DetectedEvent;
use crate::obs::Observation;
use crate::publish::{self, Stored};
use crate::revise::PublishedEvent;
use crate::{Detector, Downtime, Params};

/// The collector's detection window.
pub const WINDOW: i64 = publish::WINDOW;

/// One published revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub revision: u32,
    /// When it was published (the pass's `now`).
    pub at: i64,
    pub reason: String,
    pub event: DetectedEvent,
}

/// Everything published under one id, oldest revision first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub id: String,
    pub revisions: Vec<Revision>,
}

impl History {
    /// The current revision.
    pub fn last(&self) -> &Revision {
        self.revisions.last().expect("a history has a revision")
    }
}

/// What the loop published, by first publication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    pub histories: Vec<History>,
    /// The last pass's time.
    pub end: i64,
    /// Passes run.
    pub passes: usize,
}

impl Published {
    /// The current revision of every event.
    pub fn current(&self) -> Vec<&Revision> {
        self.histories.iter().map(History::last).collect()
    }
}

/// Simulate `spec` under `truth` and run the loop every `step` seconds from `spec.start + step`
/// to `spec.end()`.
pub fn publish(spec: &FleetSpec, truth: &[TruthEvent], params: &Params, step: i64) -> (Fleet, Published) {
    let fleet = simulate(spec, truth);
    let published = publish_observations(&fleet.observations, params, spec.start + step, spec.end(), step);
    (fleet, published)
}

/// The loop over `obs` (sorted by `received_at`), passes at `from`, `from + step`, ... ≤ `to`.
pub fn publish_observations(obs: &[Observation], params: &Params, from: i64, to: i64, step: i64) -> Published {
    let mut histories: Vec<History> = Vec::new();
    let mut passes = 0;
    let mut now = from;
    let mut last = from;
    while now <= to {
        let window_from = now - WINDOW;
        let arrived = obs.partition_point(|o| o.received_at <= now);
        let mut detector = Detector::new(params.clone());
        for o in obs[..arrived].iter().filter(|o| o.at >= window_from) {
            detector.push(o.clone());
        }
        detector.advance(now, &Downtime::default());
        let detected = detector.events(now);
        // The collector's `load_published`: events not final whose period reaches into the window.
        let published: Vec<PublishedEvent> = histories
            .iter()
            .map(History::last)
            .filter(|r| r.event.status != crate::Status::Retracted)
            .filter(|r| r.event.end.is_none_or(|e| e >= window_from))
            .map(|r| PublishedEvent { event: r.event.clone(), revision: r.revision, published_at: r.at })
            .collect();
        let changes = publish::changes(&published, &detected, detector.set_aside(), now, WINDOW);
        let stored = |id: &str| {
            Ok::<_, std::convert::Infallible>(histories.iter().find(|h| h.id == id).map(|h| Stored {
                revision: h.last().revision,
                is_final: h.revisions.iter().any(|r| r.event.status == crate::Status::Retracted),
            }))
        };
        let Ok(writes) = publish::writes(&changes, stored);
        for w in writes {
            let revision = Revision { revision: w.revision, at: now, reason: w.reason, event: w.event };
            match histories.iter_mut().find(|h| h.id == w.id) {
                Some(h) => h.revisions.push(revision),
                None => histories.push(History { id: w.id, revisions: vec![revision] }),
            }
        }
        passes += 1;
        last = now;
        now += step;
    }
    Published { histories, end: last, passes }
}
