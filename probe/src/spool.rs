//! Store and forward on flash: every signed measurement is durably written here before upload and
//! deleted only once a verified collector ack says it is stored. See `docs/probe-spool.md`.
//!
//! Layout under `spool.dir`:
//! - `tmp/` — segments being written (`<pid>-<random>.part`); a torn one is deleted on start;
//! - `ready/<seq>-<tag>-<class>.jsonl.gz` — complete segments, gzipped JSON Lines of `Signed`,
//!   one class (`routine` or `evidence`) per file so the drop policy reads names, not contents;
//! - `rejected/<seq>-<tag>.jsonl` — measurements the collector refused for good, with its error
//!   (bounded);
//! - `aside/<seq>-<tag>.jsonl` — measurements the collector's signed ack refused as too large, with
//!   the reason (bounded); `aside/<seq>-<tag>-<class>.jsonl.gz` — ones set aside on no signed
//!   word (an unsigned 413, the probe's own body limit): held, under the spool's own bound;
//! - `state.json` — counters of what was dropped, rejected, set aside or found corrupt;
//! - `retries.json` — how often each measurement was refused with an error code this version
//!   does not know (bounded retries);
//! - `clock.json` — the clock correction applied to new measurements (`crate::skew`).

pub mod atomic;
pub mod batch;
pub mod compact;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_report::Signed;
use vigil_report::protocol::ApiError;

pub use batch::{Applied, Batch};
pub use compact::Class;

use crate::skew::ClockState;

/// At most this many measurements are tracked in `retries.json`; when it is full, a measurement
/// not tracked yet that is refused with an unknown error code is refused for good at once.
pub const MAX_TRACKED_RETRIES: usize = 10_000;

/// Errors of the spool, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool_io: {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("spool_ack: {0}")]
    Ack(String),
}

impl SpoolError {
    pub fn label(&self) -> &'static str {
        match self {
            SpoolError::Io { .. } => "spool_io",
            SpoolError::Ack(_) => "spool_ack",
        }
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_path_buf(), source }
}

/// Cumulative counters (measurements), kept in `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Routine successes shed by the size bound.
    pub dropped_routine: u64,
    /// Evidence shed by the size bound (only when no routine success was left to shed).
    pub dropped_evidence: u64,
    /// Refused by the collector and moved to `rejected/`.
    pub rejected: u64,
    /// Rejected measurements later deleted from `rejected/` to keep it bounded.
    pub rejected_discarded: u64,
    /// Too large for the collector and moved to `aside/`.
    pub set_aside: u64,
    /// Set-aside measurements later deleted from `aside/` to keep it bounded.
    pub set_aside_discarded: u64,
    /// Unreadable lines found in segments (and removed).
    pub corrupt: u64,
}

/// One complete segment in `ready/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    pub seq: u64,
    pub class: Class,
    pub bytes: u64,
}

impl Segment {
    /// `<seq>-<tag>-<class>.jsonl.gz` (or `.jsonl`, uncompressed).
    fn parse(path: PathBuf, bytes: u64) -> Option<Segment> {
        let name = path.file_name()?.to_str()?;
        let name = name.strip_suffix(".jsonl.gz").or_else(|| name.strip_suffix(".jsonl"))?;
        let mut parts = name.split('-');
        let seq = parts.next()?.parse().ok()?;
        let _tag = parts.next()?;
        let class = Class::from_label(parts.next()?)?;
        parts.next().is_none().then_some(Segment { path, seq, class, bytes })
    }
}

/// What [`Spool::add`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    pub stored: u64,
    pub segments: usize,
    pub dropped_routine: u64,
    pub dropped_evidence: u64,
}

/// What `vigil-probe status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpoolStatus {
    pub dir: PathBuf,
    pub segments: usize,
    pub measurements: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub rejected_kept: u64,
    /// Measurements in `aside/` (too large for the collector).
    pub set_aside_kept: u64,
    pub counters: Counters,
    /// The clock correction applied to new measurements.
    pub clock: ClockState,
}

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
}

impl Spool {
    /// Open (creating the directories) the spool at `dir`, bounded to `max_bytes` of segments.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let spool = Spool { dir: dir.to_path_buf(), max_bytes };
        for sub in [spool.tmp_dir(), spool.ready_dir(), spool.rejected_dir(), spool.aside_dir()] {
            fs::create_dir_all(&sub).map_err(io_error(&sub))?;
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }
    fn ready_dir(&self) -> PathBuf {
        self.dir.join("ready")
    }
    fn rejected_dir(&self) -> PathBuf {
        self.dir.join("rejected")
    }
    fn aside_dir(&self) -> PathBuf {
        self.dir.join("aside")
    }
    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    fn retries_path(&self) -> PathBuf {
        self.dir.join("retries.json")
    }
    fn clock_path(&self) -> PathBuf {
        self.dir.join("clock.json")
    }

    /// After a crash: delete torn temporary files left by processes that no longer run. Returns
    /// how many were deleted.
    pub fn recover(&self) -> Result<usize, SpoolError> {
        let tmp = self.tmp_dir();
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).map_err(io_error(&tmp))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let alive = atomic::tmp_owner(&name)
                .is_some_and(|pid| pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_error(&path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Complete segments, oldest first.
    pub fn segments(&self) -> Result<Vec<Segment>, SpoolError> {
        let ready = self.ready_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&ready).map_err(io_error(&ready))?.flatten() {
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if let Some(seg) = Segment::parse(entry.path(), bytes) {
                out.push(seg);
            }
        }
        out.sort_by(|a, b| (a.seq, &a.path).cmp(&(b.seq, &b.path)));
        Ok(out)
    }

    /// Store one run's signed measurements: one segment per class (split when larger than a
    /// sixteenth of the bound), making room by the drop policy: the oldest routine segments go
    /// first, evidence only for newer evidence, and what still does not fit is dropped. Counted.
    pub fn add(&self, items: Vec<(Class, Signed)>) -> Result<AddReport, SpoolError> {
        let ready = self.segments()?;
        let mut next_seq = ready.iter().map(|s| s.seq).max().unwrap_or(0) + 1;
        // Held measurements (too large to send, set aside on no signed word) count against the
        // bound and are shed by the same policy, as the oldest of their class.
        let mut existing = self.held()?;
        existing.extend(ready);
        let mut total: u64 = existing.iter().map(|s| s.bytes).sum();
        let mut counters = self.counters()?;
        let before = counters.clone();
        let mut report = AddReport::default();
        let cap = (self.max_bytes / 16).max(16 * 1024);
        // Evidence first, so this run's routine successes are never written only to make room.
        for class in [Class::Evidence, Class::Routine] {
            let lines: Vec<String> =
                items.iter().filter(|(c, _)| *c == class).filter_map(|(_, s)| serde_json::to_string(s).ok()).collect();
            for chunk in chunk_lines(&lines, cap) {
                // Sizes on flash are compressed sizes: compare like with like, and never evict
                // anything for a chunk that could not fit even in an empty spool.
                let path = self.segment_path(next_seq, class);
                let encoded = encode(&path, &chunk.concat_lines())?;
                let bytes = encoded.len() as u64;
                if bytes > self.max_bytes {
                    *counter(&mut counters, class) += chunk.len() as u64;
                    continue;
                }
                while total + bytes > self.max_bytes {
                    let victim = existing.iter().position(|s| s.class == Class::Routine).or_else(|| {
                        existing.iter().position(|s| s.class == Class::Evidence && class == Class::Evidence)
                    });
                    let Some(index) = victim else { break };
                    let seg = existing.remove(index);
                    let dropped = count_lines(&seg.path)?;
                    atomic::remove(&seg.path).map_err(io_error(&seg.path))?;
                    total -= seg.bytes.min(total);
                    *counter(&mut counters, seg.class) += dropped;
                }
                if total + bytes > self.max_bytes {
                    *counter(&mut counters, class) += chunk.len() as u64;
                    continue;
                }
                let seg = self.store_segment(path, next_seq, class, &encoded)?;
                next_seq += 1;
                total += seg.bytes;
                report.stored += chunk.len() as u64;
                report.segments += 1;
                existing.push(seg);
            }
        }
        report.dropped_routine = counters.dropped_routine - before.dropped_routine;
        report.dropped_evidence = counters.dropped_evidence - before.dropped_evidence;
        if counters != before {
            self.save_counters(&counters)?;
        }
        Ok(report)
    }

    fn segment_path(&self, seq: u64, class: Class) -> PathBuf {
        let tag: u32 = rand::random();
        self.ready_dir().join(format!("{seq:012}-{tag:08x}-{}.jsonl.gz", class.label()))
    }

    fn store_segment(&self, path: PathBuf, seq: u64, class: Class, bytes: &[u8]) -> Result<Segment, SpoolError> {
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, bytes, 0o600).map_err(io_error(&path))?;
        Ok(Segment { path, seq, class, bytes: bytes.len() as u64 })
    }

    /// The measurements of a segment, and how many lines could not be read.
    pub fn read_segment(&self, seg: &Segment) -> Result<(Vec<Signed>, usize), SpoolError> {
        let text = read_lines(&seg.path)?;
        let mut good = Vec::new();
        let mut bad = 0;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<Signed>(line) {
                Ok(s) => good.push(s),
                Err(_) => bad += 1,
            }
        }
        Ok((good, bad))
    }

    /// Atomically replace a segment with `keep` (deleting it when `keep` is empty).
    pub fn rewrite_segment(&self, seg: &Segment, keep: &[Signed]) -> Result<(), SpoolError> {
        if keep.is_empty() {
            return atomic::remove(&seg.path).map_err(io_error(&seg.path));
        }
        let text: Vec<String> = keep.iter().filter_map(|s| serde_json::to_string(s).ok()).collect();
        let bytes = encode(&seg.path, &text.concat_lines())?;
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &seg.path, &bytes, 0o600).map_err(io_error(&seg.path))
    }

    /// Move refused measurements to `rejected/` with the collector's error, keeping `rejected/`
    /// under an eighth of the bound (oldest deleted first). Counted.
    pub fn reject(&self, items: &[(Signed, ApiError)]) -> Result<(), SpoolError> {
        #[derive(Serialize)]
        struct Rejected<'a> {
            error: &'a ApiError,
            measurement: &'a Signed,
        }
        let lines: Vec<String> = items
            .iter()
            .filter_map(|(measurement, error)| serde_json::to_string(&Rejected { error, measurement }).ok())
            .collect();
        let Some(discarded) = self.file_away(&self.rejected_dir(), &lines)? else { return Ok(()) };
        let mut counters = self.counters()?;
        counters.rejected += items.len() as u64;
        counters.rejected_discarded += discarded;
        self.save_counters(&counters)
    }

    /// Move measurements the collector refused as too large in a signed acknowledgement to
    /// `aside/` with the reason, keeping those files under an eighth of the bound (oldest deleted
    /// first, the newest file always kept). Counted. Nothing there is sent again.
    pub fn set_aside(&self, items: &[(Signed, String)]) -> Result<(), SpoolError> {
        let Some(discarded) = self.file_away(&self.aside_dir(), &aside_lines(items))? else { return Ok(()) };
        let mut counters = self.counters()?;
        counters.set_aside += items.len() as u64;
        counters.set_aside_discarded += discarded;
        self.save_counters(&counters)
    }

    /// Move measurements set aside on no signed word (an unsigned HTTP 413, or the probe's own
    /// `max_body_bytes`) to `aside/` as a held file of their class
    /// (`<seq>-<tag>-<class>.jsonl.gz`). Only a signed acknowledgement may discard anything, so
    /// no rolling bound deletes a held file: it counts against the spool's `max_bytes` and goes
    /// only by the drop policy of [`Spool::add`] (routine successes before evidence). Counted as
    /// set aside; nothing there is sent again.
    pub fn hold(&self, items: &[(Signed, String)], class: Class) -> Result<(), SpoolError> {
        let lines = aside_lines(items);
        if lines.is_empty() {
            return Ok(());
        }
        let dir = self.aside_dir();
        let seq = list_sorted(&dir)?.last().and_then(|(p, _)| leading_seq(p)).unwrap_or(0) + 1;
        let tag: u32 = rand::random();
        let path = dir.join(format!("{seq:012}-{tag:08x}-{}.jsonl.gz", class.label()));
        let bytes = encode(&path, &lines.concat_lines())?;
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, &bytes, 0o600).map_err(io_error(&path))?;
        let mut counters = self.counters()?;
        counters.set_aside += items.len() as u64;
        self.save_counters(&counters)
    }

    /// The held files of `aside/` (see [`Spool::hold`]), oldest first.
    pub fn held(&self) -> Result<Vec<Segment>, SpoolError> {
        Ok(list_sorted(&self.aside_dir())?
            .into_iter()
            .filter_map(|(path, bytes)| Segment::parse(path, bytes))
            .collect())
    }

    /// Hold (see [`Spool::hold`]) the measurements with these ids wherever they are in `ready/`
    /// (written to `aside/` before they leave their segments). Returns how many were found.
    pub fn set_aside_ids(&self, ids: &HashSet<String>, reason: &str) -> Result<usize, SpoolError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut found = 0;
        for seg in self.segments()? {
            let (lines, _) = self.read_segment(&seg)?;
            let (out, keep): (Vec<Signed>, Vec<Signed>) =
                lines.into_iter().partition(|s| ids.contains(&compact::measurement_id(s)));
            if out.is_empty() {
                continue;
            }
            found += out.len();
            self.hold(&out.into_iter().map(|s| (s, reason.to_string())).collect::<Vec<_>>(), seg.class)?;
            self.rewrite_segment(&seg, &keep)?;
        }
        Ok(found)
    }

    /// Write `lines` as a new file of `dir`, then delete the oldest files while `dir` is over an
    /// eighth of the bound. Returns how many lines were deleted (None: nothing to write).
    fn file_away(&self, dir: &Path, lines: &[String]) -> Result<Option<u64>, SpoolError> {
        if lines.is_empty() {
            return Ok(None);
        }
        let all = list_sorted(dir)?;
        let seq = all.last().and_then(|(p, _)| leading_seq(p)).unwrap_or(0) + 1;
        // Held files (named with a class) are never deleted here.
        let mut files: Vec<(PathBuf, u64)> =
            all.into_iter().filter(|(p, b)| Segment::parse(p.clone(), *b).is_none()).collect();
        let tag: u32 = rand::random();
        let path = dir.join(format!("{seq:012}-{tag:08x}.jsonl"));
        let text = lines.concat_lines();
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, text.as_bytes(), 0o600).map_err(io_error(&path))?;
        files.push((path, text.len() as u64));
        let mut total: u64 = files.iter().map(|(_, b)| b).sum();
        let mut discarded = 0;
        for (old, bytes) in &files[..files.len() - 1] {
            if total <= self.max_bytes / 8 {
                break;
            }
            discarded += count_lines(old)?;
            atomic::remove(old).map_err(io_error(old))?;
            total -= bytes;
        }
        Ok(Some(discarded))
    }

    /// How often each measurement was refused with an unknown error code (`retries.json`).
    pub fn unknown_attempts(&self) -> Result<BTreeMap<String, u32>, SpoolError> {
        let path = self.retries_path();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Keep these attempt counts (`batch` never tracks more than [`MAX_TRACKED_RETRIES`]).
    pub fn save_unknown_attempts(&self, attempts: &BTreeMap<String, u32>) -> Result<(), SpoolError> {
        let path = self.retries_path();
        let text = serde_json::to_string(attempts).unwrap_or_default();
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, text.as_bytes(), 0o600).map_err(io_error(&path))
    }

    /// Forget the attempt counts of measurements no longer in `ready/` (stored, rejected, set
    /// aside, dropped or lost). Returns how many were forgotten.
    pub fn prune_unknown_attempts(&self) -> Result<usize, SpoolError> {
        let mut attempts = self.unknown_attempts()?;
        if attempts.is_empty() {
            return Ok(0);
        }
        let mut present = HashSet::new();
        for seg in self.segments()? {
            present.extend(self.read_segment(&seg)?.0.iter().map(compact::measurement_id));
        }
        let before = attempts.len();
        attempts.retain(|id, _| present.contains(id));
        if attempts.len() != before {
            self.save_unknown_attempts(&attempts)?;
        }
        Ok(before - attempts.len())
    }

    /// The clock correction to apply to new measurements (none when never measured or unreadable;
    /// one over `skew::MAX_CORRECTION` is not applied).
    pub fn clock(&self) -> ClockState {
        fs::read_to_string(self.clock_path())
            .ok()
            .and_then(|t| serde_json::from_str::<ClockState>(&t).ok())
            .unwrap_or_default()
            .checked()
    }

    /// Keep `clock` as the correction for new measurements. Written when the correction changes
    /// (or none was measured yet), and when an unchanged one's sample is over
    /// `skew::CLOCK_REFRESH` old (so it does not expire while acks confirm it), not at every
    /// ack: flash wears. Returns whether it wrote.
    pub fn note_clock(&self, clock: &ClockState) -> Result<bool, SpoolError> {
        let stored = self.clock();
        let fresh = match (stored.measured(), clock.measured()) {
            (Some(old), Some(new)) => new - old < crate::skew::CLOCK_REFRESH,
            _ => false,
        };
        if fresh && stored.correction_s == clock.correction_s && stored.ignored == clock.ignored {
            return Ok(false);
        }
        self.save_clock(clock).map(|()| true)
    }

    pub fn save_clock(&self, clock: &ClockState) -> Result<(), SpoolError> {
        let path = self.clock_path();
        let text = serde_json::to_string(clock).unwrap_or_default();
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, text.as_bytes(), 0o600).map_err(io_error(&path))
    }

    pub fn counters(&self) -> Result<Counters, SpoolError> {
        let path = self.state_path();
        match fs::read_to_string(&path) {
            // An unreadable state file only loses counters: start again from zero.
            Ok(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counters::default()),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    pub(crate) fn save_counters(&self, counters: &Counters) -> Result<(), SpoolError> {
        let path = self.state_path();
        let text = serde_json::to_string(counters).unwrap_or_default();
        atomic::replace(&atomic::tmp_path(&self.tmp_dir()), &path, text.as_bytes(), 0o600).map_err(io_error(&path))
    }

    /// Sizes and counters (reads every segment to count measurements).
    pub fn status(&self) -> Result<SpoolStatus, SpoolError> {
        let segments = self.segments()?;
        let mut measurements = 0;
        for seg in &segments {
            measurements += count_lines(&seg.path)?;
        }
        let mut rejected_kept = 0;
        for (path, _) in list_sorted(&self.rejected_dir())? {
            rejected_kept += count_lines(&path)?;
        }
        let mut set_aside_kept = 0;
        for (path, _) in list_sorted(&self.aside_dir())? {
            set_aside_kept += count_lines(&path)?;
        }
        Ok(SpoolStatus {
            dir: self.dir.clone(),
            segments: segments.len(),
            measurements,
            bytes: segments.iter().map(|s| s.bytes).sum(),
            max_bytes: self.max_bytes,
            rejected_kept,
            set_aside_kept,
            counters: self.counters()?,
            clock: self.clock(),
        })
    }

    /// No segment waits for upload.
    pub fn is_empty(&self) -> Result<bool, SpoolError> {
        Ok(self.segments()?.is_empty())
    }
}

/// The lines of `aside/`: `{"reason", "bytes", "measurement"}`.
fn aside_lines(items: &[(Signed, String)]) -> Vec<String> {
    #[derive(Serialize)]
    struct Aside<'a> {
        reason: &'a str,
        bytes: usize,
        measurement: &'a Signed,
    }
    items
        .iter()
        .filter_map(|(measurement, reason)| {
            let bytes = batch::item_bytes(measurement);
            serde_json::to_string(&Aside { reason, bytes, measurement }).ok()
        })
        .collect()
}

fn counter(counters: &mut Counters, class: Class) -> &mut u64 {
    match class {
        Class::Routine => &mut counters.dropped_routine,
        Class::Evidence => &mut counters.dropped_evidence,
    }
}

/// Group lines into chunks of at most `cap` bytes (a longer line is a chunk of its own).
fn chunk_lines(lines: &[String], cap: u64) -> Vec<Vec<&str>> {
    let mut chunks: Vec<Vec<&str>> = Vec::new();
    let mut size = 0;
    for line in lines {
        let len = line.len() as u64 + 1;
        match chunks.last_mut() {
            Some(chunk) if size + len <= cap => {
                chunk.push(line);
                size += len;
            }
            _ => {
                chunks.push(vec![line]);
                size = len;
            }
        }
    }
    chunks
}

trait ConcatLines {
    fn concat_lines(&self) -> String;
}

impl<S: AsRef<str>> ConcatLines for [S] {
    /// Each line followed by `\n`.
    fn concat_lines(&self) -> String {
        let mut out = String::with_capacity(self.iter().map(|l| l.as_ref().len() + 1).sum());
        for line in self {
            out.push_str(line.as_ref());
            out.push('\n');
        }
        out
    }
}

/// The file's text, gunzipped when its name ends in `.gz`. A damaged gzip stream yields what
/// could be decoded (its last line then fails to parse and is counted as corrupt).
fn read_lines(path: &Path) -> Result<Vec<u8>, SpoolError> {
    let raw = fs::read(path).map_err(io_error(path))?;
    if !path.to_string_lossy().ends_with(".gz") {
        return Ok(raw);
    }
    let mut text = Vec::with_capacity(raw.len() * 8);
    let _ = flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut text);
    Ok(text)
}

/// `text` as stored at `path`: gzipped when the name ends in `.gz`.
fn encode(path: &Path, text: &str) -> Result<Vec<u8>, SpoolError> {
    if !path.to_string_lossy().ends_with(".gz") {
        return Ok(text.as_bytes().to_vec());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).and_then(|()| gz.finish()).map_err(io_error(path))
}

fn count_lines(path: &Path) -> Result<u64, SpoolError> {
    let bytes = read_lines(path)?;
    Ok(bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64)
}

fn leading_seq(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.split('-').next()?.parse().ok()
}

/// `.jsonl` (and `.jsonl.gz`) files of `dir` with their sizes, by name.
fn list_sorted(dir: &Path) -> Result<Vec<(PathBuf, u64)>, SpoolError> {
    let mut files: Vec<(PathBuf, u64)> = fs::read_dir(dir)
        .map_err(io_error(dir))?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
        })
        .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_parse_and_others_are_ignored() {
        let seg = Segment::parse("/s/ready/000000000042-0badf00d-evidence.jsonl".into(), 10).unwrap();
        assert_eq!((seg.seq, seg.class), (42, Class::Evidence));
        assert!(Segment::parse("/s/ready/000000000043-0badf00d-routine.jsonl.gz".into(), 10).is_some());
        assert!(Segment::parse("/s/ready/000000000042-0badf00d-other.jsonl".into(), 1).is_none());
        assert!(Segment::parse("/s/ready/notes.txt".into(), 1).is_none());
    }

    #[test]
    fn chunks_respect_the_cap_and_keep_order() {
        let lines: Vec<String> = ["aaa", "bb", "cccccccc", "d"].iter().map(|s| s.to_string()).collect();
        let chunks = chunk_lines(&lines, 7);
        assert_eq!(chunks, vec![vec!["aaa", "bb"], vec!["cccccccc"], vec!["d"]]);
        assert_eq!(chunks[0].concat_lines(), "aaa\nbb\n");
    }

    #[test]
    fn segments_are_gzipped_and_a_damaged_stream_keeps_what_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1-a-routine.jsonl.gz");
        let text = "line one\n".repeat(200);
        let bytes = encode(&path, &text).unwrap();
        assert!(bytes.len() < text.len() / 10);
        fs::write(&path, &bytes).unwrap();
        assert_eq!(read_lines(&path).unwrap(), text.as_bytes());
        fs::write(&path, &bytes[..bytes.len() - 12]).unwrap();
        assert!(read_lines(&path).unwrap().starts_with(b"line one\nline one\n"));
    }
}
