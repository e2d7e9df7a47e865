//! The publication rules: what one detection pass writes, given the stored events and the
//! detection. The collector (collector/src/events.rs) and the simulator's publication loop
//! ([`crate::sim::live`]) both go through [`changes`] and [`writes`], so they cannot drift.
//!
//! - A pass revises only events it can see whole: stored events that are not final, whose
//!   period reaches into its window, and that start at least [`EDGE_MARGIN`] after the window's
//!   far edge (older ones are left as published: the pass no longer sees their beginning, so it
//!   could only truncate or retract them); detected events starting before that are dropped.
//! - Retraction is final: a revision of a final event is never written, and a new event whose
//!   id a final event holds is published under the next free `<id>-N`
//!   ([`crate::revise::fresh_id`], reason [`REASON_AFTER_RETRACTION`]).
//! - A new event whose id a stored event that is not final holds (one the pass could not match:
//!   outside its window, or re-detected after a split) becomes that id's next revision,
//!   "detected again", never a second revision 1.

use std::collections::HashMap;

use crate::event::{DetectedEvent, SetAside, Status};
use crate::revise::{Change, FieldChange, PublishedEvent, REASON_AFTER_RETRACTION, fresh_id, reconcile_with};

/// How far back a pass looks (seconds): the collector's detection window.
pub const WINDOW: i64 = 14 * 86_400;
/// Events that start this close to the window's far edge (or before it) are left as published.
pub const EDGE_MARGIN: i64 = 86_400;
/// The reason of a new event's first publication.
pub const REASON_FIRST: &str = "first publication";
/// The reason of a new event whose id a stored event (not final) already holds.
pub const REASON_AGAIN: &str = "detected again";

/// The earliest start of an event a pass at `now` over `window` may revise or publish.
pub fn edge(now: i64, window: i64) -> i64 {
    now - window + EDGE_MARGIN.min(window / 2)
}

/// The changes of one pass at `now` over `window`: `published` are the stored events (final
/// ones are left out here if the caller did not), `detected` and `set_aside` the detection's
/// output (see the module documentation for what is left as published).
pub fn changes(
    published: &[PublishedEvent],
    detected: &[DetectedEvent],
    set_aside: &[SetAside],
    now: i64,
    window: i64,
) -> Vec<Change> {
    let (from, edge) = (now - window, edge(now, window));
    let published: Vec<PublishedEvent> = published
        .iter()
        .filter(|p| p.event.status != Status::Retracted && p.event.end.is_none_or(|e| e >= from))
        .filter(|p| p.event.start >= edge)
        .cloned()
        .collect();
    let detected: Vec<DetectedEvent> = detected.iter().filter(|e| e.start >= edge).cloned().collect();
    reconcile_with(&published, &detected, set_aside, now)
}

/// An id as stored: its latest revision and whether it is final (retracted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub revision: u32,
    pub is_final: bool,
}

/// One revision to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub id: String,
    pub revision: u32,
    /// The event as published (its `id` is [`Write::id`]).
    pub event: DetectedEvent,
    pub reason: String,
    pub changes: Vec<FieldChange>,
}

/// The revisions to write for `changes`, in order; `stored(id)` says how an id is stored (None:
/// never published). Writes earlier in `changes` count as stored for later ones.
pub fn writes<E>(
    changes: &[Change],
    mut stored: impl FnMut(&str) -> Result<Option<Stored>, E>,
) -> Result<Vec<Write>, E> {
    let mut written: HashMap<String, Stored> = HashMap::new();
    let mut lookup = |written: &HashMap<String, Stored>, id: &str| match written.get(id) {
        Some(s) => Ok(Some(*s)),
        None => stored(id),
    };
    let mut out = Vec::new();
    for change in changes {
        let write = match change {
            Change::New(e) => {
                let (id, renamed) = fresh_id(&e.id, |id| Ok(lookup(&written, id)?.is_some_and(|s| s.is_final)))?;
                let at = lookup(&written, &id)?;
                let mut event = e.clone();
                event.id = id.clone();
                let (revision, reason) = match at {
                    Some(s) => (s.revision + 1, REASON_AGAIN),
                    None if renamed => (1, REASON_AFTER_RETRACTION),
                    None => (1, REASON_FIRST),
                };
                Write { id, revision, event, reason: reason.to_string(), changes: Vec::new() }
            }
            Change::Revised { id, revision, event, changes, reason } => {
                let at = lookup(&written, id)?;
                if at.is_some_and(|s| s.is_final) {
                    continue;
                }
                let revision = (*revision).max(at.map_or(1, |s| s.revision + 1));
                let mut event = event.clone();
                event.id = id.clone();
                Write { id: id.clone(), revision, event, reason: reason.clone(), changes: changes.clone() }
            }
            Change::Unchanged { .. } => continue,
        };
        let is_final = write.event.status == Status::Retracted;
        written.insert(write.id.clone(), Stored { revision: write.revision, is_final });
        out.push(write);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Basis, EventType, Scope};
    use std::convert::Infallible;

    const T: i64 = 1_740_960_000;

    fn event(id: &str, start: i64, end: Option<i64>, status: Status) -> DetectedEvent {
        DetectedEvent {
            id: id.into(),
            scope: Scope { cc: "AA".into(), asn: Some(1) },
            kind: EventType::Shutdown,
            start,
            start_uncertainty: 150,
            end,
            end_uncertainty: end.map(|_| 150),
            probes: 3,
            measurements: 3,
            evidence: Vec::new(),
            confidence: 0.6,
            status,
            basis: Basis::Evidence,
            cannot_tell: Vec::new(),
            sources: Vec::new(),
        }
    }

    fn run(changes: &[Change], table: &[(&str, u32, bool)]) -> Vec<(String, u32, String)> {
        let map: HashMap<String, Stored> = table
            .iter()
            .map(|(id, revision, is_final)| (id.to_string(), Stored { revision: *revision, is_final: *is_final }))
            .collect();
        writes(changes, |id| Ok::<_, Infallible>(map.get(id).copied()))
            .unwrap()
            .into_iter()
            .map(|w| {
                assert_eq!(w.event.id, w.id);
                (w.id, w.revision, w.reason)
            })
            .collect()
    }

    #[test]
    fn new_events_get_a_fresh_id_past_final_ones_and_a_next_revision_on_a_live_one() {
        let e = event("s", T, None, Status::Provisional);
        let new = [Change::New(e.clone())];
        assert_eq!(run(&new, &[]), [("s".into(), 1, REASON_FIRST.into())]);
        assert_eq!(run(&new, &[("s", 2, true)]), [("s-2".into(), 1, REASON_AFTER_RETRACTION.into())]);
        assert_eq!(run(&new, &[("s", 2, true), ("s-2", 3, true)]), [("s-3".into(), 1, REASON_AFTER_RETRACTION.into())]);
        assert_eq!(run(&new, &[("s", 4, false)]), [("s".into(), 5, REASON_AGAIN.into())]);
        assert_eq!(run(&new, &[("s", 2, true), ("s-2", 1, false)]), [("s-2".into(), 2, REASON_AGAIN.into())]);
        // Two new events with one id in one pass: the second is the first's next revision.
        assert_eq!(
            run(&[Change::New(e.clone()), Change::New(e.clone())], &[]),
            [("s".into(), 1, REASON_FIRST.into()), ("s".into(), 2, REASON_AGAIN.into())]
        );
    }

    #[test]
    fn a_final_event_is_never_revised_and_a_retraction_in_the_pass_makes_its_id_final() {
        let revise = |status| Change::Revised {
            id: "s".into(),
            revision: 3,
            event: event("s", T, None, status),
            changes: Vec::new(),
            reason: "x".into(),
        };
        assert_eq!(run(&[revise(Status::Confirmed)], &[("s", 2, true)]), []);
        assert_eq!(run(&[revise(Status::Confirmed)], &[("s", 2, false)]), [("s".into(), 3, "x".into())]);
        // Retracted in this pass, then detected new in the same pass: a fresh id.
        let changes = [revise(Status::Retracted), Change::New(event("s", T + 3600, None, Status::Provisional))];
        assert_eq!(
            run(&changes, &[("s", 2, false)]),
            [("s".into(), 3, "x".into()), ("s-2".into(), 1, REASON_AFTER_RETRACTION.into())]
        );
    }

    #[test]
    fn a_pass_leaves_events_at_the_window_edge_and_final_ones_as_published() {
        let now = T + WINDOW;
        let old = event("old", T + 3600, Some(T + 7200), Status::Confirmed);
        let edge_one = event("edge", edge(now, WINDOW) - 60, None, Status::Provisional);
        let retracted = event("r", now - 3600, None, Status::Retracted);
        let published: Vec<PublishedEvent> = [old, edge_one, retracted]
            .into_iter()
            .map(|event| PublishedEvent { event, revision: 2, published_at: T })
            .collect();
        // Nothing detected: none of them is retracted (again), and an early detection is dropped.
        let early = event("early", edge(now, WINDOW) - 1, None, Status::Provisional);
        assert_eq!(changes(&published, &[early], &[], now, WINDOW), []);
        let fresh = event("fresh", now - 600, None, Status::Provisional);
        assert_eq!(changes(&published, std::slice::from_ref(&fresh), &[], now, WINDOW), [Change::New(fresh)]);
    }
}
