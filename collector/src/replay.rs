//! `replay`: feed a recorded series of measurements (JSON Lines) through ingest and detection.
//!
//! Each line is one of:
//! - a signed envelope (`format`, `key_id`, `payload`, `signature`) from a key enrolled here;
//! - an unsigned measurement (e.g. `vigil_detect::sim::measurement_json`);
//! - `{"probe": LABEL, "received_at": UNIX_S, "measurement": {...}}`: an unsigned measurement
//!   with the probe it came from and when it arrived (late uploads after a shutdown matter);
//! - one of OONI's measurements as published (a `report_id`, no Vigil wrapper): imported by
//!   `import-ooni`'s rules (`ooni`), arriving at its start plus its runtime.
//!
//! A Vigil line arrives, and is stored as received, at its `received_at`, else at its
//! measurement's start (never at the wall clock of the replay: a pass at a recorded time sees
//! what had arrived by then).
//!
//! The file is first indexed (offset, length, arrival time of each line), never held whole;
//! then, step by step of recorded time, the lines that have arrived are read back, checked and
//! stored, and a detection pass runs when something new arrived or detection is due (none
//! before the first accepted line).
//!
//! Unsigned measurements are signed with per-run replay keys, one per probe label, enrolled for
//! the purpose with software version `replay:<run>:<label>` (`demo:` for `demo`) so they are
//! never mistaken for a real probe; their signatures, just made, are not checked again (every
//! other check is). Country and ASN come from the payload's `probe_cc`/`probe_asn` (there is no
//! address to enrich from). Detection runs at the `step`s of the recorded time (so the
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
use crate::ingest::{CheckContext, Checked, check_items, check_own_items};
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
    /// Steps at which no pass ran: before the first accepted line, or nothing new and nothing due.
    pub skipped_steps: usize,
    pub new_events: usize,
    pub revisions: usize,
    /// OONI measurements among the lines (`import-ooni`'s rules): new, already stored, left out.
    pub ooni_imported: usize,
    pub ooni_duplicates: usize,
    pub ooni_skipped: usize,
    /// Where the time went (for the benchmark).
    pub timings: ReplayTimings,
}

/// The wall time of a replay's phases. A step is stored while the pass of the step before runs,
/// so `store` and `detect` overlap: together they may exceed the replay's wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayTimings {
    /// Reading the file once to index its lines.
    pub index: Duration,
    /// Reading lines back, signing, checking and storing them (the writer's commits included).
    pub store: Duration,
    /// Detection passes.
    pub detect: Duration,
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
        if !self.on || !(due || (total > 0 && done == total)) {
            return;
        }
        self.shown = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        if total == 0 {
            eprintln!("  {what}: {done} ({rate:.0} {unit}/s)");
        } else {
            let pct = 100.0 * done as f64 / total as f64;
            eprintln!("  {what}: {done}/{total} ({pct:.0}% done, {rate:.0} {unit}/s)");
        }
    }
}

fn origin_of(m: &Value) -> AsnInfo {
    let asn = m["probe_asn"].as_str().and_then(|a| a.trim_start_matches("AS").parse().ok()).unwrap_or(0);
    let cc = m["probe_cc"].as_str().filter(|c| c.len() == 2).unwrap_or("ZZ").to_string();
    AsnInfo { asn, cc }
}

/// One line of the file: where it is and when it arrives (its sort key).
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    len: u32,
    line: u32,
    key: i64,
}

/// Where the lines are read from: text in memory, or a file read line by line at its offsets
/// (never held whole).
enum Lines<'a> {
    Text(&'a str),
    File(std::fs::File),
}

impl Lines<'_> {
    fn read(&self, e: &Entry) -> std::io::Result<String> {
        match self {
            Lines::Text(t) => Ok(t[e.offset as usize..e.offset as usize + e.len as usize].to_string()),
            Lines::File(f) => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; e.len as usize];
                f.read_exact_at(&mut buf, e.offset)?;
                String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }
        }
    }
}

/// The times read from a measurement (other fields are skipped unparsed).
#[derive(serde::Deserialize)]
struct Times {
    measurement_start_time: Option<String>,
    test_runtime: Option<Value>,
}

/// What the index reads of a line.
#[derive(serde::Deserialize)]
struct Head {
    signature: Option<serde::de::IgnoredAny>,
    payload: Option<String>,
    measurement: Option<Times>,
    received_at: Option<Value>,
    report_id: Option<serde::de::IgnoredAny>,
    measurement_start_time: Option<String>,
    test_runtime: Option<Value>,
}

fn start_of(mst: Option<&str>) -> Result<i64, String> {
    mst.and_then(vigil_detect::obs::parse_utc).ok_or_else(|| "measurement_start_time is not YYYY-MM-DD HH:MM:SS".into())
}

fn received_of(v: &Value) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| "received_at: not an integer".into()),
        other => other
            .as_str()
            .and_then(crate::events::rfc3339_to_unix)
            .map(Some)
            .ok_or_else(|| "received_at: expected Unix seconds or RFC 3339".into()),
    }
}

/// The sort key of one line (when it arrives): None for an OONI measurement whose start does
/// not parse (skipped, counted by the import).
fn key_of(text: &str) -> Result<Option<i64>, String> {
    let h: Head = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if h.signature.is_some() {
        let payload = h.payload.ok_or("not a signed envelope: no payload")?;
        let t: Times = serde_json::from_str(&payload).map_err(|e| format!("payload: {e}"))?;
        return start_of(t.measurement_start_time.as_deref()).map(Some);
    }
    if let Some(m) = h.measurement {
        if let Some(r) = received_of(h.received_at.as_ref().unwrap_or(&Value::Null))? {
            return Ok(Some(r));
        }
        return start_of(m.measurement_start_time.as_deref()).map(Some);
    }
    if h.report_id.is_some() {
        let Ok(at) = start_of(h.measurement_start_time.as_deref()) else { return Ok(None) };
        let runtime = Times { measurement_start_time: None, test_runtime: h.test_runtime };
        let v = serde_json::json!({ "measurement_start_time": vigil_detect::obs::format_utc(at), "test_runtime": runtime.test_runtime });
        return Ok(crate::ooni::received_at(&v));
    }
    start_of(h.measurement_start_time.as_deref()).map(Some)
}

/// Index the lines (offset, length, arrival) in arrival order, file order among equals.
/// Returns the index and the OONI lines left out for want of a start time.
fn index(
    lines: &Lines<'_>,
    max_line: usize,
    progress: &mut Progress,
) -> Result<(Vec<Entry>, usize, usize), ReplayError> {
    let mut entries = Vec::new();
    let mut unkeyed = 0;
    let mut count = 0usize;
    let mut take = |offset: u64, bytes: &[u8], line: usize| -> Result<(), ReplayError> {
        let bad = |message: String| ReplayError::Line { line, message };
        if bytes.len() > max_line {
            return Err(bad(format!("line longer than {max_line} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
        if text.trim().is_empty() {
            return Ok(());
        }
        count += 1;
        match key_of(text).map_err(bad)? {
            Some(key) => entries.push(Entry { offset, len: bytes.len() as u32, line: line as u32, key }),
            None => unkeyed += 1,
        }
        progress.show("indexing", "lines", count, 0);
        Ok(())
    };
    match lines {
        Lines::Text(t) => {
            let mut offset = 0u64;
            for (i, l) in t.split('\n').enumerate() {
                take(offset, l.as_bytes(), i + 1)?;
                offset += l.len() as u64 + 1;
            }
        }
        Lines::File(f) => {
            let mut r = std::io::BufReader::with_capacity(1 << 20, f);
            let mut buf = Vec::new();
            let mut offset = 0u64;
            let mut i = 0;
            loop {
                i += 1;
                let more = crate::ooni::read_line_bounded(&mut r, &mut buf, max_line)
                    .map_err(|e| ReplayError::Line { line: i, message: e.to_string() })?;
                if !more {
                    break;
                }
                take(offset, &buf, i)?;
                offset += buf.len() as u64 + 1;
            }
        }
    }
    entries.sort_by_key(|e| (e.key, e.line));
    Ok((entries, count, unkeyed))
}

/// Replay `text` (see the module documentation); detection every `step` seconds of recorded time.
pub async fn replay(state: &AppState, text: &str, step: i64) -> Result<ReplayReport, ReplayError> {
    replay_with(state, text, ReplayOptions { step, source: "replay", progress: false }).await
}

/// Replay `text` with options.
pub async fn replay_with(state: &AppState, text: &str, opts: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    replay_lines(state, Lines::Text(text), opts).await
}

/// Replay a file, read line by line (see [`replay_with`]).
pub async fn replay_file(
    state: &AppState,
    file: &std::path::Path,
    opts: ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let f = std::fs::File::open(file)
        .map_err(|e| ReplayError::Line { line: 0, message: format!("open {}: {e}", file.display()) })?;
    replay_lines(state, Lines::File(f), opts).await
}

/// What the steps of a replay carry along.
struct Run<'a> {
    state: &'a AppState,
    ooni: crate::ooni::Importer<'a>,
    report: ReplayReport,
}

/// Replay, then make everything stored durable (the replay's inserts do not wait for the disk
/// one by one), whether the replay succeeded or not.
async fn replay_lines(state: &AppState, lines: Lines<'_>, opts: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let replayed = replay_unsynced(state, lines, opts).await;
    let synced = state.writer.sync().await;
    let report = replayed?;
    synced?;
    Ok(report)
}

async fn replay_unsynced(state: &AppState, lines: Lines<'_>, opts: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let mut progress = Progress::new(opts.progress);
    let started = Instant::now();
    let (entries, count, unkeyed) = index(&lines, state.config.import.max_line_bytes, &mut progress)?;
    let indexed = started.elapsed();
    let mut r = Run {
        state,
        ooni: crate::ooni::Importer::new(state, crate::ooni::Battery::builtin()),
        report: ReplayReport { lines: count, ..ReplayReport::default() },
    };
    r.report.timings.index = indexed;
    if unkeyed > 0 {
        *r.ooni.report.skipped.entry("bad or missing measurement_start_time".into()).or_default() += unkeyed;
        r.ooni.report.lines += unkeyed;
    }
    let (Some(first), Some(last)) = (entries.first().map(|e| e.key), entries.last().map(|e| e.key)) else {
        r.finish_ooni();
        return Ok(r.report);
    };
    let step = opts.step.max(60);
    let steps = ((last - first - 1).max(0) / step) as usize + 1;
    progress.phase();
    let signer = Signer {
        state: state.clone(),
        source: opts.source,
        run: format!("{:08x}", rand::random::<u32>()),
        keys: HashMap::new(),
    };
    // The lines of the step that ends at `now` (all the rest once `now` reaches the last line):
    // prepared on a blocking thread while the step before is stored and its pass runs.
    let upto = |next: usize, now: i64| {
        if now < last { next + entries[next..].partition_point(|e| e.key <= now) } else { entries.len() }
    };
    let mut fresh = false;
    let mut now = first + step;
    let mut range = 0..upto(0, now);
    let mut preparing = prepare_ahead(&lines, &entries[range.clone()], signer)?;
    // The pass of the step before, running while this step is stored (it reads only what had
    // arrived by its own time: rows stored meanwhile arrive later and wait for the next pass).
    let mut passing: Option<Passing> = None;
    let mut done_steps = 0;
    let replayed: Result<(), ReplayError> = async {
        loop {
            let t = Instant::now();
            let (signer, prepared) =
                (&mut preparing).await.map_err(|e| crate::writer::StoreFailure::Db(e.to_string()))??;
            if now >= last {
                let stored = r.store(prepared).await;
                r.report.timings.store += t.elapsed();
                r.finish(passing.take()).await?;
                stored?;
                return Ok(());
            }
            range = range.end..upto(range.end, now + step);
            preparing = prepare_ahead(&lines, &entries[range.clone()], signer)?;
            let stored = r.store(prepared).await;
            r.report.timings.store += t.elapsed();
            r.finish(passing.take()).await?;
            fresh |= stored?;
            passing = r.start_pass(now, &mut fresh).await;
            done_steps += 1;
            progress.show("replaying", "steps", done_steps, steps);
            now += step;
        }
    }
    .await;
    if let Err(e) = replayed {
        // What is still running ends before the replay does (a preparation may be enrolling a
        // key, a pass writing its events).
        let _ = r.finish(passing.take()).await;
        if !preparing.is_finished() {
            let _ = preparing.await;
        }
        return Err(e);
    }
    if r.report.accepted + r.ooni.report.imported > 0 {
        // Once at the end, with everything in.
        let t = Instant::now();
        count_pass(&mut r.report, detection::pass(state, last + 1).await?);
        r.report.timings.detect += t.elapsed();
    }
    progress.show("replaying", "steps", steps, steps);
    r.finish_ooni();
    Ok(r.report)
}

impl Run<'_> {
    fn finish_ooni(&mut self) {
        let o = &self.ooni.report;
        self.report.ooni_imported = o.imported;
        self.report.ooni_duplicates = o.duplicates;
        self.report.ooni_skipped = o.skipped.values().sum();
    }

    /// Start a detection pass at `now` when something new arrived since the last one, or when
    /// the detector says its events could change by now with nothing new (`next_due`; unknown
    /// counts as due); none before the first accepted line. The pass before must have finished.
    async fn start_pass(&mut self, now: i64, fresh: &mut bool) -> Option<Passing> {
        if self.report.accepted + self.ooni.report.imported == 0 {
            self.report.skipped_steps += 1;
            return None;
        }
        let due = *fresh || {
            let d = self.state.detector.lock().await;
            d.as_ref().and_then(|d| d.detector.next_due()).is_none_or(|t| t <= now)
        };
        if !due {
            self.report.skipped_steps += 1;
            return None;
        }
        *fresh = false;
        let state = self.state.clone();
        Some(tokio::spawn(async move {
            let t = Instant::now();
            let summary = detection::pass(&state, now).await;
            (summary, t.elapsed())
        }))
    }

    /// Wait for a pass started by [`Run::start_pass`] and count it.
    async fn finish(&mut self, passing: Option<Passing>) -> Result<(), ReplayError> {
        let Some(passing) = passing else { return Ok(()) };
        let (summary, took) = passing.await.map_err(detection::PassError::from)?;
        self.report.timings.detect += took;
        count_pass(&mut self.report, summary?);
        Ok(())
    }

    /// Store a step's prepared lines (OONI measurements first, as the importer takes them, then
    /// the checked items); whether anything new was stored.
    async fn store(&mut self, prepared: Prepared) -> Result<bool, ReplayError> {
        let before = self.report.accepted + self.ooni.report.imported;
        for (v, text) in &prepared.ooni {
            self.ooni.add(v, text).await?;
        }
        self.ooni.flush().await?;
        self.report.rejected.extend(prepared.rejected);
        // One writer transaction (one fsync) per 5000.
        let mut valid = prepared.valid;
        while !valid.is_empty() {
            let rest = valid.split_off(valid.len().min(5000));
            store(self.state, std::mem::replace(&mut valid, rest), &mut self.report).await?;
        }
        Ok(self.report.accepted + self.ooni.report.imported > before)
    }
}

/// One step's lines read, parsed, signed and checked, waiting to be stored.
#[derive(Default)]
struct Prepared {
    /// OONI measurements (parsed, and as read), in arrival order.
    ooni: Vec<(Value, String)>,
    /// The items that passed the checks, in the order they are stored.
    valid: Vec<crate::writer::NewMeasurement>,
    /// `id: code: message` of each item the checks refused.
    rejected: Vec<String>,
}

/// What preparing lines needs: it runs on a blocking thread, one step ahead of the store and
/// the detection pass, and hands itself back with the step's lines.
struct Signer {
    state: AppState,
    source: &'static str,
    run: String,
    /// The replay key of each probe label, enrolled on first use.
    keys: HashMap<String, SigningKey>,
}

/// A detection pass running, and how long it took.
type Passing = tokio::task::JoinHandle<(Result<PassSummary, detection::PassError>, Duration)>;

/// A step's lines being prepared.
type Preparing = tokio::task::JoinHandle<Result<(Signer, Prepared), ReplayError>>;

/// Read these lines here, then parse, sign and check them on a blocking thread (the caller
/// stores the previous step and runs its detection pass meanwhile).
fn prepare_ahead(lines: &Lines<'_>, entries: &[Entry], signer: Signer) -> Result<Preparing, ReplayError> {
    let mut texts = Vec::with_capacity(entries.len());
    for e in entries {
        let text = lines
            .read(e)
            .map_err(|err| ReplayError::Line { line: e.line as usize, message: format!("read: {err}") })?;
        texts.push((e.line as usize, e.key, text));
    }
    Ok(tokio::task::spawn_blocking(move || {
        let mut signer = signer;
        let prepared = signer.prepare(texts)?;
        Ok((signer, prepared))
    }))
}

impl Signer {
    /// Parse, sign (unsigned measurements) and check these lines, in order.
    /// Each line arrives at its key (its `received_at`, else its measurement's start).
    fn prepare(&mut self, texts: Vec<(usize, i64, String)>) -> Result<Prepared, ReplayError> {
        let mut out = Prepared::default();
        let mut by_origin: HashMap<(String, u32), Vec<ToStore>> = HashMap::new();
        for (line, arrival, text) in texts {
            let bad = |message: String| ReplayError::Line { line, message };
            let mut v: Value = serde_json::from_str(&text).map_err(|err| bad(format!("not JSON: {err}")))?;
            if crate::ooni::is_ooni(&v) {
                out.ooni.push((v, text));
                continue;
            }
            let (signed, payload, label) = if v.get("signature").is_some() {
                let s: Signed =
                    serde_json::from_value(v).map_err(|err| bad(format!("not a signed envelope: {err}")))?;
                let payload: Value = serde_json::from_str(&s.payload).map_err(|err| bad(format!("payload: {err}")))?;
                (Some(s), payload, None)
            } else if v.get("measurement").is_some() {
                let label = v["probe"].as_str().unwrap_or("replay").to_string();
                (None, v["measurement"].take(), Some(label))
            } else {
                (None, v, Some("replay".to_string()))
            };
            let origin = origin_of(&payload);
            let (signed, own) = match (signed, label) {
                (Some(s), _) => (s, false),
                (None, label) => {
                    let key = self.key(label.unwrap_or_default())?;
                    (Signed::sign(MEASUREMENT_FORMAT, payload.to_string(), &key), true)
                }
            };
            by_origin.entry((origin.cc, origin.asn)).or_default().push((signed, arrival, own));
        }
        let mut origins: Vec<_> = by_origin.into_iter().collect();
        origins.sort_by(|a, b| a.0.cmp(&b.0));
        for ((cc, asn), items) in origins {
            for chunk in items.chunks(5000) {
                check(&self.state, AsnInfo { asn, cc: cc.clone() }, chunk, &mut out);
            }
        }
        Ok(out)
    }

    /// The replay key of a probe label, enrolled (through the writer) on first use.
    fn key(&mut self, label: String) -> Result<SigningKey, ReplayError> {
        if let Some(k) = self.keys.get(&label) {
            return Ok(k.clone());
        }
        let enrolling = enroll(&self.state, self.source, &self.run, &label);
        let k = tokio::runtime::Handle::current().block_on(enrolling)?;
        self.keys.insert(label, k.clone());
        Ok(k)
    }
}

/// A signed item, its recorded arrival, and whether the replay signed it itself.
type ToStore = (Signed, i64, bool);

fn count_pass(report: &mut ReplayReport, s: PassSummary) {
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

/// Check items of one origin, with their recorded arrival times: those the replay signed itself
/// skip the signature check (every other check stays). The valid ones go to `out`, ready to
/// store, the others to its rejections.
fn check(state: &AppState, origin: AsnInfo, chunk: &[ToStore], out: &mut Prepared) {
    let ctx = CheckContext {
        keys: state.probe_keys.clone(),
        now: time::OffsetDateTime::now_utc(),
        future_tolerance: state.config.future_tolerance,
        origin,
        // The operator's own recordings (the demo's simulated platforms among them).
        platforms: None,
    };
    let (own, others): (Vec<_>, Vec<_>) = chunk.iter().enumerate().partition(|(_, it)| it.2);
    let own_items: Vec<Signed> = own.iter().map(|(_, it)| it.0.clone()).collect();
    let other_items: Vec<Signed> = others.iter().map(|(_, it)| it.0.clone()).collect();
    let order: Vec<usize> = own.iter().chain(&others).map(|(i, _)| *i).collect();
    let mut checked = check_own_items(own_items, &ctx);
    checked.extend(check_items(other_items, &ctx));
    for (c, i) in checked.into_iter().zip(order) {
        match c {
            Checked::Valid(mut m) => {
                m.received_at = Some(rfc3339(chunk[i].1));
                out.valid.push(*m);
            }
            Checked::Rejected(r) => out.rejected.push(format!("{}: {}: {}", r.id, r.code, r.message)),
        }
    }
}

/// Store checked items (one writer transaction, not synced: [`replay_lines`] syncs at its end).
async fn store(
    state: &AppState,
    valid: Vec<crate::writer::NewMeasurement>,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    let ids: Vec<String> = valid.iter().map(|m| m.id.clone()).collect();
    for (outcome, id) in state.writer.insert_unsynced(now_rfc3339(), valid).await?.into_iter().zip(ids) {
        match outcome {
            crate::writer::InsertOutcome::Accepted => report.accepted += 1,
            crate::writer::InsertOutcome::Duplicate => report.duplicates += 1,
            crate::writer::InsertOutcome::IdConflict => {
                report.rejected.push(format!("{id}: id_conflict: the id is stored under another key"))
            }
            crate::writer::InsertOutcome::Revoked => {
                report.rejected.push(format!("{id}: revoked_key: the key was revoked during the replay"))
            }
        }
    }
    Ok(())
}

/// `vigil-collector replay FILE --data-dir DIR`: replay, then the events found as text.
pub async fn run_file(file: &std::path::Path, config: crate::Config, step: i64) -> Result<String, String> {
    std::fs::metadata(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let collector = crate::server::Collector::open(config).map_err(|e| e.to_string())?;
    let state = collector.state().clone();
    let opts = ReplayOptions { step, source: "replay", progress: true };
    let result = replay_file(&state, file, opts).await;
    let events = state.read(|c| crate::api_events::list(c, &crate::api_events::EventFilter::default())).await;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.map_err(|e| e.to_string())?;
    let r = result.map_err(|e| e.to_string())?;
    let events = events.map_err(|e| e.message)?;
    let mut out = format!(
        "{} lines: {} stored, {} duplicates, {} rejected; {} OONI measurements imported, {} duplicates, {} skipped; \
         {} detection passes ({} steps skipped): {} events, {} revisions\n",
        r.lines,
        r.accepted,
        r.duplicates,
        r.rejected.len(),
        r.ooni_imported,
        r.ooni_duplicates,
        r.ooni_skipped,
        r.passes,
        r.skipped_steps,
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
