//! The detection task of the running server: a pass shortly after ingest (debounced) and on a
//! timer (so silence is noticed), planned on a read connection and written by the writer.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_detect::Params;

use crate::events::{self, DEFAULT_WINDOW, PassSummary};
use crate::server::AppState;

/// At most one pass this soon after ingest asked for one.
pub const DEBOUNCE: Duration = Duration::from_secs(10);
/// A pass at least this often, even without new data.
pub const TICK: Duration = Duration::from_secs(60);

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

/// One pass at `now` (Unix s): detect, reconcile, write.
pub async fn pass(state: &AppState, now: i64) -> Result<PassSummary, PassError> {
    let me = state.clone();
    let planned = tokio::task::spawn_blocking(move || {
        me.reads.with(|c| events::plan(c, &Params::default(), now, DEFAULT_WINDOW))
    })
    .await??;
    let (summary, changes) = planned;
    if summary.new + summary.revised > 0 {
        state.writer.write_events(changes, now).await?;
    }
    Ok(summary)
}

/// Run passes until `stop`: after ingest notifies `state.detect_wanted` (waiting [`DEBOUNCE`]
/// to gather more) and every [`TICK`].
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
            _ = state.detect_wanted.notified() => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(DEBOUNCE) => {}
                }
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(e) = pass(&state, now).await {
            eprintln!("vigil-collector: {e}");
        }
    }
}
