//! `replay`: feed a recorded series of measurements (JSON Lines) through ingest and detection.
//!
//! Each line is one of:
//! - a signed envelope (`format`, `key_id`, `payload`, `signature`) from a key enrolled here;
//! - an unsigned measurement (e.g. `vigil_detect::sim::measurement_json`);
//! - `{"probe": LABEL, "received_at": UNIX_S, "measurement": {...}}`: an unsigned measurement
//!   with the probe it came from and when it arrived (late uploads after a shutdown matter).
//!
//! Unsigned measurements are signed with per-run replay keys, one per probe label, enrolled for
//! the purpose with software version `replay:<run>:<label>` (`demo:` for `demo`) so they are
//! never mistaken for a real probe. Country and ASN come from the payload's `probe_cc`/`probe_asn` (there is no
//! address to enrich from). Detection then runs at every `step` of the recorded time (so the
//! revision history is the one a live collector would have written) and once at the end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use vigil_report::signed::{encode_public_key, key_id};
use vigil_report::{MEASUREMENT_FORMAT, Signed};

use crate::api_events::rfc3339;
use crate::asn::AsnInfo;
use crate::detection;
use crate::events::PassSummary;
use crate::ingest::{CheckContext, Checked, check_items};
use crate::probe_keys::ProbeKey;
use crate::server::{AppState, now_rfc3339};

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error(transparent)]
    Store(#[from] crate::writer::StoreFailure),
    #[error(transparent)]
    Detection(#[from] detection::PassError),
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub lines: usize,
    pub accepted: usize,
    pub duplicates: usize,
    /// `id: code: message` of each rejected item.
    pub rejected: Vec<String>,
    pub passes: usize,
    pub new_events: usize,
    pub revisions: usize,
}

/// How to replay: detection every `step` seconds of recorded time; `source` starts the software
/// version of the replay keys (`replay`, `demo`); `progress` prints progress lines on stderr.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    pub step: i64,
    pub source: &'static str,
    pub progress: bool,
}

/// Progress lines on stderr, at most one a second per phase (and its last).
struct Progress {
    on: bool,
    started: Instant,
    shown: Option<Instant>,
}

impl Progress {
    fn new(on: bool) -> Progress {
        Progress { on, started: Instant::now(), shown: None }
    }

    fn phase(&mut self) {
        self.started = Instant::now();
        self.shown = None;
    }

    fn show(&mut self, what: &str, unit: &str, done: usize, total: usize) {
        let due = self.shown.unwrap_or(self.started).elapsed() >= Duration::from_secs(1);
        if !self.on || !(due || done == total) {
            return;
        }
        self.shown = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let pct = if total == 0 { 100.0 } else { 100.0 * done as f64 / total as f64 };
        eprintln!("  {what}: {done}/{total} ({pct:.0}% done, {:.0} {unit}/s)", done as f64 / secs);
    }
}

struct Item {
    signed: Signed,
    origin: AsnInfo,
    received_at: Option<i64>,
    at: i64,
}

fn origin_of(m: &Value) -> AsnInfo {
    let asn = m["probe_asn"].as_str().and_then(|a| a.trim_start_matches("AS").parse().ok()).unwrap_or(0);
    let cc = m["probe_cc"].as_str().filter(|c| c.len() == 2).unwrap_or("ZZ").to_string();
    AsnInfo { asn, cc }
}

/// Replay `text` (see the module documentation); detection every `step` seconds of recorded time.
pub async fn replay(state: &AppState, text: &str, step: i64) -> Result<ReplayReport, ReplayError> {
    replay_with(state, text, ReplayOptions { step, source: "replay", progress: false }).await
}

/// Replay `text` with options.
pub async fn replay_with(state: &AppState, text: &str, opts: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let step = opts.step;
    let mut progress = Progress::new(opts.progress);
    let total_lines = if opts.progress { text.lines().filter(|l| !l.trim().is_empty()).count() } else { 0 };
    let run = format!("{:08x}", rand::random::<u32>());
    let mut keys: HashMap<String, SigningKey> = HashMap::new();
    let mut items = Vec::new();
    let mut report = ReplayReport::default();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        report.lines += 1;
        progress.show("signing", "lines", report.lines, total_lines);
        let bad = |message: String| ReplayError::Line { line: i + 1, message };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let (signed, payload, label, received_at) = if v.get("signature").is_some() {
            let s: Signed = serde_json::from_value(v).map_err(|e| bad(format!("not a signed envelope: {e}")))?;
            let payload: Value = serde_json::from_str(&s.payload).map_err(|e| bad(format!("payload: {e}")))?;
            (Some(s), payload, None, None)
        } else if let Some(m) = v.get("measurement") {
            let label = v["probe"].as_str().unwrap_or("replay").to_string();
            let received = match &v["received_at"] {
                Value::Null => None,
                Value::Number(n) => Some(n.as_i64().ok_or_else(|| bad("received_at: not an integer".into()))?),
                other => Some(
                    other
                        .as_str()
                        .and_then(crate::events::rfc3339_to_unix)
                        .ok_or_else(|| bad("received_at: expected Unix seconds or RFC 3339".into()))?,
                ),
            };
            (None, m.clone(), Some(label), received)
        } else {
            (None, v, Some("replay".to_string()), None)
        };
        let at = payload["measurement_start_time"]
            .as_str()
            .and_then(vigil_detect::obs::parse_utc)
            .ok_or_else(|| bad("measurement_start_time is not YYYY-MM-DD HH:MM:SS".into()))?;
        let origin = origin_of(&payload);
        let signed = match (signed, label) {
            (Some(s), _) => s,
            (None, label) => {
                let label = label.unwrap_or_default();
                let key = match keys.get(&label) {
                    Some(k) => k.clone(),
                    None => {
                        let k = enroll(state, opts.source, &run, &label).await?;
                        keys.insert(label, k.clone());
                        k
                    }
                };
                Signed::sign(MEASUREMENT_FORMAT, payload.to_string(), &key)
            }
        };
        items.push(Item { signed, origin, received_at, at });
    }
    items.sort_by_key(|it| it.received_at.unwrap_or(it.at));
    let first = items.first().map(|it| it.received_at.unwrap_or(it.at));
    let last = items.iter().map(|it| it.received_at.unwrap_or(it.at)).max();
    progress.phase();
    store(state, items, &mut report, &mut progress).await?;
    if let (Some(first), Some(last)) = (first, last) {
        let step = step.max(60);
        let passes = ((last - first - 1).max(0) / step) as usize + 1;
        progress.phase();
        let mut now = first + step;
        while now < last {
            count(&mut report, detection::pass(state, now).await?);
            progress.show("detecting", "passes", report.passes, passes);
            now += step;
        }
        count(&mut report, detection::pass(state, last + 1).await?);
        progress.show("detecting", "passes", report.passes, report.passes);
    }
    Ok(report)
}

fn count(report: &mut ReplayReport, s: PassSummary) {
    report.passes += 1;
    report.new_events += s.new;
    report.revisions += s.revised;
}

async fn enroll(state: &AppState, source: &str, run: &str, label: &str) -> Result<SigningKey, ReplayError> {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let vk = key.verifying_key();
    let probe = ProbeKey { key: vk, revoked: false };
    let version = format!("{source}:{run}:{label}");
    state.writer.enroll(key_id(&vk), probe, encode_public_key(&vk), version, now_rfc3339()).await?;
    Ok(key)
}

/// Check and store the items in batches of one origin each, with their recorded arrival times.
async fn store(
    state: &AppState,
    items: Vec<Item>,
    report: &mut ReplayReport,
    progress: &mut Progress,
) -> Result<(), ReplayError> {
    let total = items.len();
    let mut done = 0;
    let mut by_origin: HashMap<(String, u32), Vec<Item>> = HashMap::new();
    for it in items {
        by_origin.entry((it.origin.cc.clone(), it.origin.asn)).or_default().push(it);
    }
    for ((cc, asn), items) in by_origin {
        for chunk in items.chunks(5000) {
            let arrivals: Vec<Option<i64>> = chunk.iter().map(|it| it.received_at).collect();
            let ctx = CheckContext {
                keys: state.probe_keys.clone(),
                now: time::OffsetDateTime::now_utc(),
                future_tolerance: state.config.future_tolerance,
                origin: AsnInfo { asn, cc: cc.clone() },
                // The operator's own recordings (the demo's simulated platforms among them).
                platforms: None,
            };
            let signed: Vec<Signed> = chunk.iter().map(|it| it.signed.clone()).collect();
            done += chunk.len();
            let checked = tokio::task::spawn_blocking(move || check_items(signed, &ctx))
                .await
                .map_err(|e| crate::writer::StoreFailure::Db(e.to_string()))?;
            let mut valid = Vec::new();
            for (c, arrived) in checked.into_iter().zip(arrivals) {
                match c {
                    Checked::Valid(mut m) => {
                        m.received_at = arrived.map(rfc3339);
                        valid.push(*m);
                    }
                    Checked::Rejected(r) => report.rejected.push(format!("{}: {}: {}", r.id, r.code, r.message)),
                }
            }
            progress.show("storing", "measurements", done, total);
            if valid.is_empty() {
                continue;
            }
            for outcome in state.writer.insert(now_rfc3339(), valid).await? {
                match outcome {
                    crate::writer::InsertOutcome::Accepted => report.accepted += 1,
                    crate::writer::InsertOutcome::Duplicate => report.duplicates += 1,
                    other => report.rejected.push(format!("{other:?}")),
                }
            }
        }
    }
    Ok(())
}

/// `vigil-collector replay FILE --data-dir DIR`: replay, then the events found as text.
pub async fn run_file(file: &std::path::Path, config: crate::Config, step: i64) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let collector = crate::server::Collector::open(config).map_err(|e| e.to_string())?;
    let state = collector.state().clone();
    let result = replay(&state, &text, step).await;
    let events = state.read(|c| crate::api_events::list(c, &crate::api_events::EventFilter::default())).await;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.map_err(|e| e.to_string())?;
    let r = result.map_err(|e| e.to_string())?;
    let events = events.map_err(|e| e.message)?;
    let mut out = format!(
        "{} lines: {} stored, {} duplicates, {} rejected; {} detection passes: {} events, {} revisions\n",
        r.lines,
        r.accepted,
        r.duplicates,
        r.rejected.len(),
        r.passes,
        r.new_events,
        r.revisions
    );
    for line in r.rejected.iter().take(10) {
        out.push_str(&format!("rejected {line}\n"));
    }
    for e in &events {
        let asn = e.scope.asn.map(|a| format!(" AS{a}")).unwrap_or_default();
        out.push_str(&format!(
            "{} {}{} {} {} {} .. {} ({} probes, {} measurements, {}, rev {})\n",
            e.kind,
            e.scope.cc,
            asn,
            e.platforms.join(","),
            e.mechanism.as_deref().unwrap_or("-"),
            e.start,
            e.end.as_deref().unwrap_or("ongoing"),
            e.probes,
            e.measurements,
            e.status,
            e.revision
        ));
    }
    Ok(out)
}
