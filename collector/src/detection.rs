//! The detection task of the running server: a pass shortly after ingest (debounced) and on a
//! timer (so silence is noticed), planned on a read connection and written by the writer.

use std::time::Duration;

use crate::events::{self, DEFAULT_WINDOW, PassSummary};
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

/// One pass at `now` (Unix s): detect, reconcile, write. The collector's own downtime comes
/// from what `uptime` recorded, with this process's run (if it serves) as the current one:
/// right after a start, and while nothing is received from anyone, silence is not a shutdown.
pub async fn pass(state: &AppState, now: i64) -> Result<PassSummary, PassError> {
    let me = state.clone();
    let run = state.uptime.current();
    let planned = tokio::task::spawn_blocking(move || {
        me.reads.with(|c| events::plan(c, &me.config.detection, now, DEFAULT_WINDOW, run))
    })
    .await??;
    let (summary, changes) = planned;
    if summary.new + summary.revised > 0 {
        state.writer.write_events(changes, now).await?;
    }
    Ok(summary)
}

/// Run passes until `stop`: after ingest notifies `state.detect_wanted` (waiting a moment to
/// gather more) and on a timer ([`cadence`]).
pub async fn run(state: AppState, stop: CancellationToken) {
    if !state.config.live_detection {
        return;
    }
    let (debounce, tick) = cadence(&state.config.detection);
    let mut tick = tokio::time::interval(tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
            _ = state.detect_wanted.notified() => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(debounce) => {}
                }
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(e) = pass(&state, now).await {
            eprintln!("vigil-collector: {e}");
        }
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
