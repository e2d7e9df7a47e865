//! One upload batch taken from the spool (oldest segments first) and what a verified ack does to
//! it: stored (accepted or duplicate) measurements are deleted, permanently rejected ones moved
//! to `rejected/`, too large ones set aside, transiently refused ones kept for a later pass, the
//! rest of each segment atomically rewritten.

use std::collections::HashSet;

use vigil_report::Signed;
use vigil_report::protocol::{ApiError, ItemResult, ItemStatus, Retry};

use super::compact::measurement_id;
use super::{Segment, Spool, SpoolError};

/// An item refused with a code this version does not know is retried in this many upload passes
/// (with the backoff between them), then moved to `rejected/` like a permanent refusal.
pub const MAX_UNKNOWN_ATTEMPTS: u32 = 10;

/// Measurements taken from the spool for one submission.
#[derive(Debug, Default)]
pub struct Batch {
    parts: Vec<Part>,
    /// Measurements found alone over the body limit and set aside while collecting.
    pub set_aside: usize,
}

#[derive(Debug)]
struct Part {
    segment: Segment,
    /// Every readable line of the segment.
    lines: Vec<Signed>,
    /// The indices (increasing) of the lines in this batch.
    taken: Vec<usize>,
}

/// What an ack did to the spool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub accepted: usize,
    pub duplicate: usize,
    /// Refused for good: moved to `rejected/`.
    pub rejected: usize,
    /// Refused for now (e.g. `future_timestamp`, `rate_limited`): kept in the spool for a later pass.
    pub deferred: usize,
    /// Too large for the collector: moved to `aside/`.
    pub set_aside: usize,
    /// The ids of the deferred measurements (not sent again in this pass).
    pub deferred_ids: Vec<String>,
    /// A refusal said the collector itself is busy or failing: stop this pass.
    pub collector_busy: bool,
}

impl Applied {
    /// Add `other`'s counts (and ids) to these.
    pub fn add(&mut self, other: Applied) {
        self.accepted += other.accepted;
        self.duplicate += other.duplicate;
        self.rejected += other.rejected;
        self.deferred += other.deferred;
        self.set_aside += other.set_aside;
        self.deferred_ids.extend(other.deferred_ids);
        self.collector_busy |= other.collector_busy;
    }
}

/// The bytes one measurement adds to a submission's JSON body.
pub fn item_bytes(s: &Signed) -> usize {
    serde_json::to_string(s).map_or(0, |t| t.len() + 1)
}

/// The JSON around the measurements of a submission (`{"measurements":[...]}`).
pub const REQUEST_OVERHEAD: usize = 20;

impl Batch {
    /// Up to `max` measurements, oldest segments first (no size limit, nothing skipped).
    pub fn collect(spool: &Spool, max: usize) -> Result<Batch, SpoolError> {
        Batch::collect_with(spool, max, &HashSet::new(), usize::MAX)
    }

    /// Up to `max` measurements, oldest segments first, leaving out the ids in `skip`, and whose
    /// submission stays within `max_body` bytes (at least one measurement). A measurement that
    /// alone would be over `max_body` is set aside (counted) and never sent. Segments with
    /// unreadable lines are rewritten without them (counted as corrupt) before anything is sent.
    pub fn collect_with(
        spool: &Spool,
        max: usize,
        skip: &HashSet<String>,
        max_body: usize,
    ) -> Result<Batch, SpoolError> {
        let mut parts = Vec::new();
        let mut count = 0;
        let mut bytes = REQUEST_OVERHEAD;
        let mut set_aside = 0;
        'segments: for segment in spool.segments()? {
            if count >= max {
                break;
            }
            let (mut lines, bad) = spool.read_segment(&segment)?;
            let (big, fit): (Vec<Signed>, Vec<Signed>) =
                lines.drain(..).partition(|s| item_bytes(s) + REQUEST_OVERHEAD > max_body);
            lines = fit;
            let any_big = !big.is_empty();
            if any_big {
                let reason = format!("over the collector's body limit as this probe knows it ({max_body} bytes)");
                set_aside += big.len();
                // The probe's own limit, no signed word: held, never deleted by a rolling bound.
                spool.hold(&big.into_iter().map(|s| (s, reason.clone())).collect::<Vec<_>>(), segment.class)?;
            }
            if bad > 0 || any_big {
                spool.rewrite_segment(&segment, &lines)?;
            }
            if bad > 0 {
                let mut counters = spool.counters()?;
                counters.corrupt += bad as u64;
                spool.save_counters(&counters)?;
            }
            let mut taken = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                if count >= max {
                    break;
                }
                if skip.contains(&measurement_id(line)) {
                    continue;
                }
                let size = item_bytes(line);
                if count > 0 && bytes + size > max_body {
                    if !taken.is_empty() {
                        parts.push(Part { segment, lines, taken });
                    }
                    break 'segments;
                }
                bytes += size;
                count += 1;
                taken.push(i);
            }
            if !taken.is_empty() {
                parts.push(Part { segment, lines, taken });
            }
        }
        Ok(Batch { parts, set_aside })
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.taken.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The measurements to submit, in order.
    pub fn measurements(&self) -> Vec<Signed> {
        self.parts.iter().flat_map(|p| p.taken.iter().map(|&i| p.lines[i].clone())).collect()
    }

    /// Check that `results` answer this batch: one per measurement, in order, each naming the
    /// measurement's id. (An empty id is accepted only for a measurement whose id is unreadable
    /// here too, so a replayed ack full of anonymous rejections cannot discard real evidence.)
    pub fn check(&self, results: &[ItemResult]) -> Result<(), String> {
        let sent = self.measurements();
        if results.len() != sent.len() {
            return Err(format!("{} results for {} measurements", results.len(), sent.len()));
        }
        for (i, (r, s)) in results.iter().zip(&sent).enumerate() {
            let id = measurement_id(s);
            if r.id != id {
                return Err(format!("result {i} is for {:?}, not {id:?}", r.id));
            }
        }
        Ok(())
    }

    /// Apply a verified ack's `results`: delete what is stored, move what was refused for good to
    /// `rejected/` and what is too large aside, keep what was refused for now (by
    /// `ErrorCode::retry`), rewrite each touched segment with the rest. Nothing changes if the
    /// results do not answer this batch.
    pub fn apply(self, spool: &Spool, results: &[ItemResult]) -> Result<Applied, SpoolError> {
        self.check(results).map_err(SpoolError::Ack)?;
        let mut applied = Applied::default();
        let mut results = results.iter();
        let mut attempts = spool.unknown_attempts()?;
        let attempts_before = attempts.clone();
        for part in self.parts {
            let mut keep = Vec::new();
            let mut rejected = Vec::new();
            let mut aside = Vec::new();
            let mut taken = part.taken.iter().peekable();
            for (i, line) in part.lines.into_iter().enumerate() {
                if taken.peek() != Some(&&i) {
                    keep.push(line);
                    continue;
                }
                taken.next();
                let Some(result) = results.next() else {
                    keep.push(line);
                    continue;
                };
                let error = || {
                    result.error.clone().unwrap_or_else(|| ApiError {
                        code: "rejected".into(),
                        message: "the collector gave no reason".into(),
                    })
                };
                match result.status {
                    ItemStatus::Accepted => applied.accepted += 1,
                    ItemStatus::Duplicate => applied.duplicate += 1,
                    ItemStatus::Rejected => {
                        let error = error();
                        let code = error.kind();
                        // A refusal without a reason is final (the collector's own refusals all
                        // carry one).
                        let mut retry = if result.error.is_some() { code.retry() } else { Retry::Never };
                        if code.is_unknown() && retry == Retry::ItemLater {
                            // A full table cannot count this one's passes: refused for good at
                            // once rather than retried forever.
                            let full =
                                attempts.len() >= super::MAX_TRACKED_RETRIES && !attempts.contains_key(&result.id);
                            if full || result.id.is_empty() {
                                retry = Retry::Never;
                            } else {
                                let n = attempts.entry(result.id.clone()).or_insert(0);
                                *n += 1;
                                if *n >= MAX_UNKNOWN_ATTEMPTS {
                                    retry = Retry::Never;
                                }
                            }
                        }
                        match retry {
                            Retry::Never => {
                                applied.rejected += 1;
                                rejected.push((line, error));
                            }
                            Retry::SetAside => {
                                applied.set_aside += 1;
                                aside.push((line, format!("refused by the collector: {}: {}", code, error.message)));
                            }
                            Retry::ItemLater | Retry::CollectorLater | Retry::SmallerBatch => {
                                applied.deferred += 1;
                                applied.collector_busy |= retry == Retry::CollectorLater;
                                applied.deferred_ids.push(result.id.clone());
                                keep.push(line);
                            }
                        }
                        if retry != Retry::ItemLater || !code.is_unknown() {
                            attempts.remove(&result.id);
                        }
                        continue;
                    }
                }
                attempts.remove(&result.id);
            }
            // Refused lines are written to rejected/ or aside/ before they leave their segment: a
            // crash in between leaves a copy in both places, never in neither.
            spool.reject(&rejected)?;
            spool.set_aside(&aside)?;
            spool.rewrite_segment(&part.segment, &keep)?;
        }
        if attempts != attempts_before {
            spool.save_unknown_attempts(&attempts)?;
        }
        Ok(applied)
    }
}
