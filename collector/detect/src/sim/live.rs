//! The collector's publication loop, in memory: detection every `step` seconds on what had
//! arrived by then (the observations of the last [`WINDOW`]), reconciled with what was
//! published, written by the collector's rules (collector/src/events.rs `plan` and
//! `write_changes`, as on main: events starting within [`EDGE_MARGIN`] of the window's far
//! edge are left as published; a `New` whose id is taken becomes the next revision of that
//! id, "detected again"). The result is every revision ever published, for `score::live`.

use serde::Serialize;

use super::{Fleet, FleetSpec, TruthEvent, simulate};
use crate::event::DetectedEvent;
use crate::obs::Observation;
use crate::revise::{Change, PublishedEvent, reconcile};
use crate::{Downtime, Params, detect_with};

/// The collector's detection window (collector/src/events.rs `DEFAULT_WINDOW`).
pub const WINDOW: i64 = 14 * 86_400;
/// collector/src/events.rs `EDGE_MARGIN`.
pub const EDGE_MARGIN: i64 = 86_400;

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
        let edge = window_from + EDGE_MARGIN.min(WINDOW / 2);
        let arrived = obs.partition_point(|o| o.received_at <= now);
        let seen: Vec<Observation> = obs[..arrived].iter().filter(|o| o.at >= window_from).cloned().collect();
        // load_published: events whose period reaches into the window, whatever their status.
        let published: Vec<PublishedEvent> = histories
            .iter()
            .map(History::last)
            .filter(|r| r.event.end.is_none_or(|e| e >= window_from))
            .filter(|r| r.event.start >= edge)
            .map(|r| PublishedEvent { event: r.event.clone(), revision: r.revision, published_at: r.at })
            .collect();
        let mut detected = detect_with(&seen, params, now, &Downtime::default());
        detected.retain(|e| e.start >= edge);
        for change in reconcile(&published, &detected, now) {
            match change {
                Change::New(e) => match histories.iter_mut().find(|h| h.id == e.id) {
                    Some(h) => {
                        let revision = h.last().revision + 1;
                        h.revisions.push(Revision { revision, at: now, reason: "detected again".into(), event: e });
                    }
                    None => histories.push(History {
                        id: e.id.clone(),
                        revisions: vec![Revision {
                            revision: 1,
                            at: now,
                            reason: "first publication".into(),
                            event: e,
                        }],
                    }),
                },
                Change::Revised { id, revision, event, reason, .. } => {
                    if let Some(h) = histories.iter_mut().find(|h| h.id == id) {
                        h.revisions.push(Revision { revision, at: now, reason, event });
                    }
                }
                Change::Unchanged { .. } => {}
            }
        }
        passes += 1;
        last = now;
        now += step;
    }
    Published { histories, end: last, passes }
}
