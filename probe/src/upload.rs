//! Talks to the pinned collector: enrollment, batch upload of the spool checked against the
//! collector's signed ack, following signed key rotations, and the retry backoff.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use vigil_report::Signed;
use vigil_report::protocol::{EnrollRequest, EnrollResponse, ErrorBody, KeyRotation, SubmitAck, SubmitRequest};
use vigil_report::signed::{STATEMENT_FORMAT, decode_public_key, encode_public_key, enrollment_proof, key_id};

use crate::identity::{CollectorPin, IdentityError, probe_key_id};
use crate::spool::{Applied, Batch, Spool, SpoolError};

pub const ENROLL_PATH: &str = "/api/v1/enroll";
pub const SUBMIT_PATH: &str = "/api/v1/submit";
pub const COLLECTOR_KEYS_PATH: &str = "/api/v1/collector-keys";
/// Largest answer read from the collector.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Errors talking to the collector; `is_retryable` says whether waiting may help.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("collector_unreachable: {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("collector_busy: HTTP {status} from {url}")]
    Busy { url: String, status: u16 },
    #[error("collector_refused: HTTP {status} {code}: {message}")]
    Refused { status: u16, code: String, message: String },
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

    /// Unreachable, 5xx/429, or an answer that did not check out: try again after a backoff.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            UploadError::Unreachable { .. }
                | UploadError::Busy { .. }
                | UploadError::BadAnswer { .. }
                | UploadError::BadAck(_)
        )
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
            Ok(e) => (e.error.code, e.error.message),
            Err(_) => ("http_error".into(), String::from_utf8_lossy(&body).chars().take(200).collect()),
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
}

impl Collector {
    /// The collector pinned at `pin_path`.
    pub fn load(http: reqwest::Client, pin_path: &Path) -> Result<Collector, UploadError> {
        let pin = CollectorPin::load(pin_path)?.ok_or_else(|| UploadError::NotEnrolled(pin_path.into()))?;
        let key =
            pin.verifying_key().map_err(|e| IdentityError::Pin { path: pin_path.into(), message: e.to_string() })?;
        Ok(Collector { http, pin, pin_path: pin_path.into(), key, repinned: None })
    }

    pub fn pin(&self) -> &CollectorPin {
        &self.pin
    }

    /// Submit a batch; the answer must be an ack signed by the collector.
    pub async fn submit(&mut self, measurements: Vec<Signed>) -> Result<SubmitAck, UploadError> {
        let url = self.pin.endpoint(SUBMIT_PATH);
        let statement: Signed = call(post_json(&self.http, &url, &SubmitRequest { measurements }), &url).await?;
        self.verify_statement(&statement).await?;
        let ack: SubmitAck = statement.payload_as().map_err(|e| UploadError::BadAck(e.to_string()))?;
        if ack.kind != "ack" {
            return Err(UploadError::BadAck(format!("statement kind {:?} is not \"ack\"", ack.kind)));
        }
        Ok(ack)
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
}

/// Upload the whole spool in batches of `batch_size`, oldest first, until it is empty or an
/// error stops the pass. A 413 halves the batch; a 413 for a single measurement stops the pass
/// (the measurement stays in the spool): only a signed acknowledgement may discard anything.
pub async fn upload_pass(
    spool: &Spool,
    collector: &mut Collector,
    batch_size: usize,
) -> Result<PassReport, UploadError> {
    let mut report = PassReport::default();
    let mut size = batch_size.max(1);
    let result = loop {
        let batch = Batch::collect(spool, size)?;
        if batch.is_empty() {
            break Ok(());
        }
        let ack = match collector.submit(batch.measurements()).await {
            Ok(ack) => ack,
            Err(UploadError::Refused { status: 413, .. }) if size > 1 => {
                size /= 2;
                continue;
            }
            // A single measurement refused as too large, by a plain (unsigned) HTTP status: the probe
            // never builds one near the collector's limit, so this is more likely a middlebox than
            // the collector. Keep it and back off rather than discard evidence on unsigned word.
            Err(e) => break Err(e),
        };
        batch.check(&ack.results).map_err(UploadError::BadAck)?;
        let applied = batch.apply(spool, &ack.results)?;
        report.batches += 1;
        report.applied.accepted += applied.accepted;
        report.applied.duplicate += applied.duplicate;
        report.applied.rejected += applied.rejected;
    };
    report.repinned = collector.repinned.take();
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
