//! The detection task of the running server: a pass shortly after ingest (debounced) and on a
//! timer (so silence is noticed), planned on a read connection and written by the writer.
//!
//! The detector lives between passes in `Shared::detector` ([`events::Incremental`]): a pass
//! reads only the observations stored since the previous one. Its checkpoint (cursor and state)
//! is saved with the pass's events every [`CHECKPOINT_EVERY`] and when the server stops; the
//! first pass of a process restores it, or rebuilds from the window when there is none or the
//! detection parameters changed.

use std::time::{Duration, Instant};

use crate::events::{self, DEFAULT_WINDOW, Incremental, PassSummary};
use crate::server::AppState;
use tokio_util::sync::CancellationToken;

/// How long a pass waits after ingest asked for one (to gather more), and how often a pass runs
/// without new data (so silence is noticed): both scale with the nominal heartbeat interval —
/// 10 s and 60 s for the field's 300 s. The timer stays a fifth of an interval down to a
/// quarter of a second, so the lab's scaled-down heartbeats see the field's latency.
pub fn cadence(p: &vigil_detect::Params) -> (Duration, Duration) {
    let hb = p.heartbeat_interval.max(1) as u64 * 1000;
    let debounce = Duration::from_millis((hb / 30).clamp(500, 10_000));
    let tick = Duration::from_millis((hb / 5).clamp(250, 60_000));
    (debounce, tick)
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("detection read failed: {0}")]
    Read(#[from] rusqlite::Error),
    #[error("detection task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("writing events failed: {0}")]
    Write(#[from] crate::writer::StoreFailure),
}

/// How often (wall clock) a running collector saves its detector's checkpoint, besides at stop
/// and at the first pass after a rebuild.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(600);

/// One pass at `now` (Unix s): feed the detector what arrived, detect, reconcile, write (with
/// the checkpoint when one is due). The collector's own downtime comes from what `uptime`
/// recorded, with this process's run (if it serves) as the current one: right after a start,
/// and while nothing is received from anyone, silence is not a shutdown.
pub async fn pass(state: &AppState, now: i64) -> Result<PassSummary, PassError> {
    let mut slot = state.detector.lock().await;
    let held = slot.take();
    let me = state.clone();
    let run = state.uptime.current();
    let (mut inc, summary, changes) = tokio::task::spawn_blocking(move || {
        me.reads.with(|c| {
            let mut inc = match held {
                Some(inc) => inc,
                None => Incremental::open(c, &me.config.detection, now, DEFAULT_WINDOW)?,
            };
            let (summary, changes) = events::plan(c, &mut inc, now, DEFAULT_WINDOW, run)?;
            Ok((inc, summary, changes))
        })
    })
    .await??;
    let due = inc.saved_at.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
    let checkpoint = due.then(|| inc.checkpoint(now));
    if summary.new + summary.revised > 0 || checkpoint.is_some() {
        let saving = checkpoint.is_some();
        let written = state.writer.write_pass(changes, now, checkpoint).await;
        if saving && written.is_ok() {
            inc.saved_at = Some(Instant::now());
        }
        // The detector keeps what it read either way: events not written are planned again.
        *slot = Some(inc);
        written?;
    } else {
        *slot = Some(inc);
    }
    Ok(summary)
}

/// Save the detector's checkpoint now (as of its last pass); false when there is no detector
/// (no pass ran in this process). The server calls it when it stops.
pub async fn save_checkpoint(state: &AppState) -> Result<bool, PassError> {
    let mut slot = state.detector.lock().await;
    let Some(inc) = slot.as_mut() else { return Ok(false) };
    let Some(now) = inc.last_pass else { return Ok(false) };
    let checkpoint = inc.checkpoint(now);
    state.writer.write_pass(Vec::new(), now, Some(checkpoint)).await?;
    inc.saved_at = Some(Instant::now());
    Ok(true)
}

/// Run passes until `stop`: after ingest notifies `state.detect_wanted` (waiting a moment to
/// gather more) and on a timer ([`cadence`]); at `stop`, save the checkpoint.
pub async fn run(state: AppState, stop: CancellationToken) {
    if !state.config.live_detection {
        return;
    }
    let (debounce, tick) = cadence(&state.config.detection);
    let mut tick = tokio::time::interval(tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
            _ = state.detect_wanted.notified() => {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(debounce) => {}
                }
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(e) = pass(&state, now).await {
            eprintln!("vigil-collector: {e}");
        }
    }
    if let Err(e) = save_checkpoint(&state).await {
        eprintln!("vigil-collector: saving the detection checkpoint: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cadence_scales_with_the_heartbeat() {
        let p = |hb| vigil_detect::Params { heartbeat_interval: hb, ..Default::default() };
        assert_eq!(cadence(&p(300)), (Duration::from_secs(10), Duration::from_secs(60)));
        assert_eq!(cadence(&p(3)), (Duration::from_millis(500), Duration::from_millis(600)));
        assert_eq!(cadence(&p(1)), (Duration::from_millis(500), Duration::from_millis(250)));
        assert_eq!(cadence(&p(3600)), (Duration::from_secs(10), Duration::from_secs(60)));
    }
}
