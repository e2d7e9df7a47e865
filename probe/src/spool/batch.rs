//! One upload batch taken from the spool (oldest segments first) and what a verified ack does to
//! it: stored (accepted or duplicate) measurements are deleted, rejected ones moved aside, the
//! rest of each segment atomically rewritten.

use vigil_report::Signed;
use vigil_report::protocol::{ApiError, ItemResult, ItemStatus};

use super::compact::measurement_id;
use super::{Segment, Spool, SpoolError};

/// Measurements taken from the spool for one submission.
#[derive(Debug, Default)]
pub struct Batch {
    parts: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    segment: Segment,
    /// Every readable line of the segment.
    lines: Vec<Signed>,
    /// The first `taken` lines are in this batch.
    taken: usize,
}

/// What an ack did to the spool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
}

impl Batch {
    /// Up to `max` measurements, oldest segments first. Segments with unreadable lines are
    /// rewritten without them (counted as corrupt) before anything is sent.
    pub fn collect(spool: &Spool, max: usize) -> Result<Batch, SpoolError> {
        let mut parts = Vec::new();
        let mut count = 0;
        for segment in spool.segments()? {
            if count >= max {
                break;
            }
            let (lines, bad) = spool.read_segment(&segment)?;
            if bad > 0 {
                spool.rewrite_segment(&segment, &lines)?;
                let mut counters = spool.counters()?;
                counters.corrupt += bad as u64;
                spool.save_counters(&counters)?;
            }
            if lines.is_empty() {
                continue;
            }
            let taken = lines.len().min(max - count);
            count += taken;
            parts.push(Part { segment, lines, taken });
        }
        Ok(Batch { parts })
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.taken).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The measurements to submit, in order.
    pub fn measurements(&self) -> Vec<Signed> {
        self.parts.iter().flat_map(|p| p.lines[..p.taken].iter().cloned()).collect()
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

    /// Apply a verified ack's `results`: delete what is stored, move what was rejected to
    /// `rejected/`, rewrite each touched segment with the rest. Nothing changes if the results do
    /// not answer this batch.
    pub fn apply(self, spool: &Spool, results: &[ItemResult]) -> Result<Applied, SpoolError> {
        self.check(results).map_err(SpoolError::Ack)?;
        let mut applied = Applied::default();
        let mut rejected = Vec::new();
        let mut results = results.iter();
        for part in self.parts {
            let mut keep = Vec::new();
            for (i, line) in part.lines.into_iter().enumerate() {
                let Some(result) = (i < part.taken).then(|| results.next()).flatten() else {
                    keep.push(line);
                    continue;
                };
                match result.status {
                    ItemStatus::Accepted => applied.accepted += 1,
                    ItemStatus::Duplicate => applied.duplicate += 1,
                    ItemStatus::Rejected => {
                        applied.rejected += 1;
                        let error = result.error.clone().unwrap_or_else(|| ApiError {
                            code: "rejected".into(),
                            message: "the collector gave no reason".into(),
                        });
                        rejected.push((line, error));
                    }
                }
            }
            // Rejected lines are written to rejected/ before they leave their segment: a crash in
            // between leaves a copy in both places, never in neither.
            spool.reject(&rejected)?;
            rejected.clear();
            spool.rewrite_segment(&part.segment, &keep)?;
        }
        Ok(applied)
    }
}
