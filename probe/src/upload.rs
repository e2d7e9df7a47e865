//! Talks to the pinned collector: enrollment, batch upload of the spool checked against the
//! collector's signed ack (transient refusals kept for later, permanent ones moved to `rejected/`,
//! too large ones set aside), the clock offset read from the ack, following signed key rotations,
//! and the retry backoff.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use vigil_report::Signed;
use vigil_report::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, KeyRotation, Retry, SubmitAck, SubmitRequest,
};
use vigil_report::signed::{STATEMENT_FORMAT, decode_public_key, encode_public_key, enrollment_proof, key_id};

use crate::identity::{CollectorPin, IdentityError, probe_key_id};
use crate::skew::{ClockState, Sample, WallClock, system_clock};
use crate::spool::compact::measurement_id;
use crate::spool::{Applied, Batch, Spool, SpoolError};

pub const ENROLL_PATH: &str = "/api/v1/enroll";
pub const SUBMIT_PATH: &str = "/api/v1/submit";
pub const COLLECTOR_KEYS_PATH: &str = "/api/v1/collector-keys";
pub const PROBE_CONFIG_PATH: &str = "/api/v1/probe-config";
/// Largest answer read from the collector.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// The collector's request body limit as the probe assumes it until configured otherwise
/// (`[upload] max_body_bytes`; the collector's default `--max-body-bytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A pass ends after this many measurements in a row were refused alone by an unsigned 413 with
/// nothing acknowledged in between (a middlebox refusing everything): they stay in the spool.
const MAX_413_IN_A_ROW: usize = 16;

/// Errors talking to the collector; `is_retryable` says whether waiting may help.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("collector_unreachable: {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("collector_busy: HTTP {status} from {url}")]
    Busy { url: String, status: u16 },
    #[error("collector_refused: HTTP {status} {code}: {message}")]
    Refused { status: u16, code: ErrorCode, message: String },
    #[error("bad_answer: {url}: {message}")]
    BadAnswer { url: String, message: String },
    #[error("bad_ack: {0}")]
    BadAck(String),
    #[error("not_enrolled: no collector pinned in {0}: run `vigil-probe enroll` first")]
    NotEnrolled(PathBuf),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl UploadError {
    pub fn label(&self) -> &'static str {
        match self {
            UploadError::Unreachable { .. } => "collector_unreachable",
            UploadError::Busy { .. } => "collector_busy",
            UploadError::Refused { .. } => "collector_refused",
            UploadError::BadAnswer { .. } => "bad_answer",
            UploadError::BadAck(_) => "bad_ack",
            UploadError::NotEnrolled(_) => "not_enrolled",
            UploadError::Identity(e) => e.label(),
            UploadError::Spool(e) => e.label(),
        }
    }

    /// Unreachable (timeouts included), 5xx/429, a refusal whose code is transient (or unknown),
    /// or an answer that did not check out: try again after a backoff.
    pub fn is_retryable(&self) -> bool {
        match self {
            UploadError::Refused { code, .. } => code.is_transient(),
            _ => matches!(
                self,
                UploadError::Unreachable { .. }
                    | UploadError::Busy { .. }
                    | UploadError::BadAnswer { .. }
                    | UploadError::BadAck(_)
            ),
        }
    }
}

/// The HTTP client for the collector: the probe's trust roots plus `ca_files`, no proxy.
pub fn http_client(ca_files: &[PathBuf]) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto_provider();
    let tls = crate::tls::client_config(ca_files).map_err(|e| format!("tls_setup: {e}"))?;
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .timeout(Duration::from_secs(60))
        // During a shutdown SYNs vanish: give up on connecting quickly, not after the OS's
        // much longer retry time, so runs and the daemon's schedule are not held up.
        .connect_timeout(CONNECT_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("tls_setup: {e}"))
}

/// How long connecting to the collector may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

async fn call<T: DeserializeOwned>(request: reqwest::RequestBuilder, url: &str) -> Result<T, UploadError> {
    let unreachable = |e: reqwest::Error| UploadError::Unreachable { url: url.into(), message: e.to_string() };
    let mut response = request.send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER_BYTES {
            return Err(UploadError::BadAnswer { url: url.into(), message: "answer too large".into() });
        }
    }
    if status == 429 || status >= 500 {
        return Err(UploadError::Busy { url: url.into(), status });
    }
    if status >= 400 {
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => (e.error.kind(), e.error.message),
            Err(_) => {
                (ErrorCode::Other("http_error".into()), String::from_utf8_lossy(&body).chars().take(200).collect())
            }
        };
        return Err(UploadError::Refused { status, code, message });
    }
    serde_json::from_slice(&body).map_err(|e| UploadError::BadAnswer { url: url.into(), message: e.to_string() })
}

fn post_json<B: serde::Serialize>(http: &reqwest::Client, url: &str, body: &B) -> reqwest::RequestBuilder {
    http.post(url).header("content-type", "application/json").body(serde_json::to_vec(body).unwrap_or_default())
}

/// Enroll `key` with the collector at `url` and pin its key (trust on first use, over TLS).
pub async fn enroll(
    http: &reqwest::Client,
    url: &str,
    key: &SigningKey,
    token: Option<String>,
    pin_path: &Path,
) -> Result<CollectorPin, UploadError> {
    let base = url::Url::parse(url).map_err(|e| UploadError::BadAnswer { url: url.into(), message: e.to_string() })?;
    let request = EnrollRequest {
        public_key: encode_public_key(&key.verifying_key()),
        proof: enrollment_proof(key),
        token,
        software_version: env!("CARGO_PKG_VERSION").into(),
    };
    let endpoint = format!("{}{ENROLL_PATH}", base.as_str().trim_end_matches('/'));
    let answer: EnrollResponse = call(post_json(http, &endpoint, &request), &endpoint).await?;
    let bad = |message: String| UploadError::BadAnswer { url: endpoint.clone(), message };
    if answer.key_id != probe_key_id(key) {
        return Err(bad(format!("enrolled key id {} is not ours ({})", answer.key_id, probe_key_id(key))));
    }
    let pin = CollectorPin {
        url: base.to_string(),
        collector_key: answer.collector_key,
        collector_key_id: answer.collector_key_id,
        key_id: answer.key_id,
    };
    pin.check().map_err(bad)?;
    pin.save(pin_path)?;
    Ok(pin)
}

/// The enrolled collector: its pin, and the key its statements must verify with.
#[derive(Debug)]
pub struct Collector {
    http: reqwest::Client,
    pin: CollectorPin,
    pin_path: PathBuf,
    key: VerifyingKey,
    /// Set when a key rotation was followed (the new key id).
    pub repinned: Option<String>,
    /// The probe's wall clock (for the clock offset).
    wall: WallClock,
    /// The collector's request body limit as the probe knows it.
    max_body: usize,
    /// The size of the last submission's body.
    last_request_bytes: usize,
    /// The clock sample with the shortest round trip since the last [`Collector::take_clock`].
    best_sample: Option<Sample>,
}

impl Collector {
    /// The collector pinned at `pin_path`.
    pub fn load(http: reqwest::Client, pin_path: &Path) -> Result<Collector, UploadError> {
        let pin = CollectorPin::load(pin_path)?.ok_or_else(|| UploadError::NotEnrolled(pin_path.into()))?;
        let key =
            pin.verifying_key().map_err(|e| IdentityError::Pin { path: pin_path.into(), message: e.to_string() })?;
        Ok(Collector {
            http,
            pin,
            pin_path: pin_path.into(),
            key,
            repinned: None,
            wall: system_clock(),
            max_body: DEFAULT_MAX_BODY_BYTES,
            last_request_bytes: 0,
            best_sample: None,
        })
    }

    /// Read time from `wall` instead of the system clock.
    pub fn with_wall(mut self, wall: WallClock) -> Collector {
        self.wall = wall;
        self
    }

    /// The collector's request body limit as the probe knows it (default
    /// [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body(mut self, bytes: usize) -> Collector {
        self.max_body = bytes.max(1024);
        self
    }

    /// The clock state the acks since the last call lead to (the one with the shortest round
    /// trip), if any gave a usable sample.
    pub fn take_clock(&mut self) -> Option<ClockState> {
        self.best_sample.take().map(|s| ClockState::from_sample(&s))
    }

    pub fn pin(&self) -> &CollectorPin {
        &self.pin
    }

    /// Submit a batch; the answer must be an ack signed by the collector. Its signed
    /// `received_at`, against the local times of sending and receiving, is a clock sample.
    pub async fn submit(&mut self, measurements: Vec<Signed>) -> Result<SubmitAck, UploadError> {
        let url = self.pin.endpoint(SUBMIT_PATH);
        let body = serde_json::to_vec(&SubmitRequest { measurements }).unwrap_or_default();
        self.last_request_bytes = body.len();
        let request = self.http.post(&url).header("content-type", "application/json").body(body);
        let sent = self.wall.now();
        let statement: Signed = call(request, &url).await?;
        let received = self.wall.now();
        self.verify_statement(&statement).await?;
        let ack: SubmitAck = statement.payload_as().map_err(|e| UploadError::BadAck(e.to_string()))?;
        if ack.kind != "ack" {
            return Err(UploadError::BadAck(format!("statement kind {:?} is not \"ack\"", ack.kind)));
        }
        if let Some(sample) = Sample::new(sent, received, &ack.received_at)
            && self.best_sample.is_none_or(|best| sample.rtt_ms <= best.rtt_ms)
        {
            self.best_sample = Some(sample);
        }
        Ok(ack)
    }

    /// Fetch the collector's signed probe configuration and check its signature like an ack's
    /// (the pinned key, or the chain of key rotations from it). Its payload is read by
    /// `remote`, row by row.
    pub async fn probe_config(&mut self) -> Result<Signed, UploadError> {
        let url = self.pin.endpoint(PROBE_CONFIG_PATH);
        let statement: Signed = call(self.http.get(&url), &url).await?;
        self.verify_statement(&statement).await?;
        Ok(statement)
    }

    /// Check a collector statement with the pinned key; if it does not verify, follow the
    /// collector's chain of key rotations from the pinned key, and re-pin if it leads to a key
    /// that verifies. Otherwise refuse.
    pub async fn verify_statement(&mut self, statement: &Signed) -> Result<(), UploadError> {
        if statement.verify(STATEMENT_FORMAT, &self.key).is_ok() {
            return Ok(());
        }
        let url = self.pin.endpoint(COLLECTOR_KEYS_PATH);
        let chain: Vec<Signed> = call(self.http.get(&url), &url).await?;
        let mut current = self.key;
        for _ in 0..=chain.len() {
            if statement.verify(STATEMENT_FORMAT, &current).is_ok() {
                self.pin.collector_key = encode_public_key(&current);
                self.pin.collector_key_id = key_id(&current);
                self.pin.save(&self.pin_path)?;
                self.key = current;
                self.repinned = Some(key_id(&current));
                return Ok(());
            }
            match chain.iter().find_map(|s| next_key(s, &current)) {
                Some(next) => current = next,
                None => break,
            }
        }
        Err(UploadError::BadAck(format!(
            "statement signed by key {} does not verify with the pinned key {} nor any key its rotations lead to",
            statement.key_id, self.pin.collector_key_id
        )))
    }
}

/// The new key of a rotation statement signed by `current`.
fn next_key(statement: &Signed, current: &VerifyingKey) -> Option<VerifyingKey> {
    statement.verify(STATEMENT_FORMAT, current).ok()?;
    let rotation: KeyRotation = statement.payload_as().ok()?;
    let new = decode_public_key(&rotation.new_key).ok()?;
    (rotation.kind == "key-rotation" && key_id(&new) == rotation.new_key_id && new != *current).then_some(new)
}

/// What one upload pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub batches: usize,
    pub applied: Applied,
    /// Measurements still in the spool afterwards.
    pub remaining: u64,
    pub repinned: Option<String>,
    /// The clock correction this pass measured (and saved), if an ack gave a usable sample.
    pub clock: Option<ClockState>,
}

impl PassReport {
    /// Something was kept for a later pass (a transient refusal, or an unsigned 413): the caller
    /// retries after a backoff, not at once.
    pub fn retry_later(&self) -> bool {
        self.applied.deferred > 0
    }
}

/// Upload the whole spool in batches of at most `batch_size` measurements (and of the collector's
/// body limit as the probe knows it), oldest first, until everything was sent once or an error
/// stops the pass. In a signed acknowledgement, stored measurements are deleted, permanent
/// refusals move to `rejected/`, refusals as too large move to `aside/`, transient ones stay for
/// a later pass (not sent again in this one); a refusal saying the collector is busy ends the
/// pass. A 413 halves the batch (it grows back after an ack, never to a size refused in this
/// pass); a measurement refused alone by a
/// 413 is skipped for the rest of the pass (which ends after `MAX_413_IN_A_ROW` of them in a row)
/// and, since a plain HTTP status is unsigned (a middlebox could send it), set aside at
/// the end only if the same pass had a smaller submission acknowledged (so the 413 was about its
/// size); otherwise it stays in the spool.
pub async fn upload_pass(
    spool: &Spool,
    collector: &mut Collector,
    batch_size: usize,
) -> Result<PassReport, UploadError> {
    // Forget the unknown-code attempts of measurements no longer in the spool, so stale ids never
    // fill the table.
    spool.prune_unknown_attempts()?;
    let mut report = PassReport::default();
    let mut size = batch_size.max(1);
    let mut skip: HashSet<String> = HashSet::new();
    // Measurements refused alone by an unsigned 413, with their request sizes.
    let mut too_large: Vec<(String, usize)> = Vec::new();
    let mut largest_acked = 0;
    let mut refused_in_a_row = 0;
    // The smallest batch (in measurements) a 413 refused in this pass: never grow back to it.
    let mut smallest_refused = usize::MAX;
    let result = loop {
        let batch = Batch::collect_with(spool, size, &skip, collector.max_body)?;
        report.applied.set_aside += batch.set_aside;
        if batch.is_empty() {
            break Ok(());
        }
        let ack = match collector.submit(batch.measurements()).await {
            Ok(ack) => ack,
            Err(UploadError::Refused { status: 413, .. }) if batch.len() > 1 => {
                smallest_refused = smallest_refused.min(batch.len());
                size = (batch.len() / 2).max(1);
                continue;
            }
            Err(UploadError::Refused { status: 413, code, .. })
                if matches!(code.retry(), Retry::SetAside) || code.is_unknown() =>
            {
                let id = batch.measurements().first().map(measurement_id).unwrap_or_default();
                too_large.push((id.clone(), collector.last_request_bytes));
                skip.insert(id);
                refused_in_a_row += 1;
                if refused_in_a_row >= MAX_413_IN_A_ROW {
                    break Ok(());
                }
                continue;
            }
            Err(e) => break Err(e),
        };
        batch.check(&ack.results).map_err(UploadError::BadAck)?;
        largest_acked = largest_acked.max(collector.last_request_bytes);
        refused_in_a_row = 0;
        // After halving for a 413, grow back, but never to a size a 413 refused in this pass
        // (the limit is likely persistent: growing back to it costs a refused request per ack).
        size = (size * 2).min(batch_size.max(1)).min(smallest_refused.saturating_sub(1).max(1));
        let applied = batch.apply(spool, &ack.results)?;
        report.batches += 1;
        skip.extend(applied.deferred_ids.iter().cloned());
        let busy = applied.collector_busy;
        report.applied.add(applied);
        if busy {
            break Ok(());
        }
    };
    report.repinned = collector.repinned.take();
    if let Some(clock) = collector.take_clock() {
        spool.note_clock(&clock)?;
        report.clock = Some(clock);
    }
    let proven: HashSet<String> = too_large
        .iter()
        .filter(|(_, bytes)| largest_acked > 0 && *bytes > largest_acked)
        .map(|(id, _)| id.clone())
        .collect();
    let reason =
        format!("refused with HTTP 413 while smaller submissions (up to {largest_acked} bytes) were acknowledged");
    report.applied.set_aside += spool.set_aside_ids(&proven, &reason)?;
    report.applied.deferred += too_large.len() - proven.len();
    report.applied.deferred_ids = Vec::new();
    result?;
    report.remaining = spool.status()?.measurements;
    Ok(report)
}

/// Exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base·2ⁿ)].
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, failures: 0 }
    }

    /// The ceiling of the next wait.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Record a failure and return how long to wait.
    pub fn fail(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        ceiling.mul_f64(rand::random::<f64>())
    }

    /// Jump to the cap (after an error waiting will not quickly fix, e.g. a refusal).
    pub fn fail_hard(&mut self) -> Duration {
        self.failures = 31;
        self.fail()
    }

    pub fn succeed(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceiling_doubles_to_the_cap_and_waits_stay_under_it() {
        let mut b = Backoff::new(Duration::from_secs(30), Duration::from_secs(3600));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            let ceiling = b.ceiling();
            ceilings.push(ceiling.as_secs());
            assert!(b.fail() <= ceiling);
        }
        assert_eq!(ceilings, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        b.succeed();
        assert_eq!(b.ceiling(), Duration::from_secs(30));
        assert!(b.fail_hard() <= Duration::from_secs(3600));
        assert_eq!(b.ceiling(), Duration::from_secs(3600));
    }

    #[test]
    fn full_jitter_spreads_waits() {
        let mut b = Backoff::new(Duration::from_secs(100), Duration::from_secs(100));
        let waits: Vec<Duration> = (0..50).map(|_| b.fail()).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_secs(50)));
        assert!(waits.iter().any(|w| *w > Duration::from_secs(50)));
    }
}
