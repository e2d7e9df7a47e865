//! The probe's life: run the battery on a schedule, sign and spool every measurement, upload with
//! backoff, and stop cleanly on SIGTERM or SIGINT (a spool write is never interrupted) after one
//! last heartbeat saying so (`stopping`), sent within a short bound or spooled.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::time::{Instant, sleep_until};
use vigil_report::HeartbeatKeys;

use crate::battery::Battery;
use crate::bogon::Scope;
use crate::config::Config;
use crate::heartbeat::{self, Beat};
use crate::identity::{self, IdentityError};
use crate::runner::RunOutput;
use crate::skew::{WallClock, system_clock};
use crate::spool::compact::{seal_platform, seal_web};
use crate::spool::{AddReport, Spool, SpoolError};
use crate::upload::{self, Backoff, Collector, PassReport, UploadError};

/// Errors setting the probe up; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("{0}")]
    Setup(String),
}

/// A probe ready to measure: its key, its spool, the collector HTTP client.
#[derive(Debug)]
pub struct Probe {
    pub config: Config,
    pub key: SigningKey,
    /// The key was created by this start.
    pub key_created: bool,
    pub spool: Spool,
    pub http: reqwest::Client,
    /// The wall clock uploads read to estimate the clock offset (tests fix it).
    pub wall: WallClock,
}

impl Probe {
    /// Load (or create) the key, open the spool and delete torn temporary files.
    pub fn start(config: Config) -> Result<Probe, DaemonError> {
        let (key, key_created) = identity::load_or_create(&config.identity.key_file)?;
        let spool = Spool::open(&config.spool.dir, config.spool.max_bytes)?;
        spool.recover()?;
        let http = upload::http_client(&config.network.ca_files).map_err(DaemonError::Setup)?;
        Ok(Probe { config, key, key_created, spool, http, wall: system_clock() })
    }

    pub fn pin_path(&self) -> PathBuf {
        self.config.identity.collector_path()
    }

    /// `m` with its timestamps corrected by the clock offset measured against the collector
    /// (`crate::skew`; unchanged when there is none). Only for measurements not yet signed.
    pub fn corrected<K: Clone>(&self, m: &vigil_report::Measurement<K>) -> vigil_report::Measurement<K> {
        self.spool.clock().corrected(m)
    }

    /// Correct the clock, compact, sign and spool one run (endpoints and platform summaries).
    pub fn spool_run(&self, out: &RunOutput) -> Result<AddReport, SpoolError> {
        let cap = self.config.spool.evidence_body_bytes;
        // Read clock.json once for the whole run.
        let clock = self.spool.clock();
        let mut items: Vec<_> =
            out.measurements.iter().map(|m| seal_web(&clock.corrected(m), cap, &self.key)).collect();
        items.extend(out.platforms.iter().map(|m| seal_platform(&clock.corrected(m), &self.key)));
        self.spool.add(items)
    }

    /// Sign and spool throttling runs.
    pub fn spool_throttling(
        &self,
        runs: &[vigil_report::Measurement<vigil_report::ThrottlingKeys>],
    ) -> Result<AddReport, SpoolError> {
        self.spool
            .add(runs.iter().map(|m| crate::spool::compact::seal_throttling(&self.corrected(m), &self.key)).collect())
    }

    /// The pinned collector, with this probe's clock and the body limit it knows.
    pub fn collector(&self) -> Result<Collector, UploadError> {
        Ok(Collector::load(self.http.clone(), &self.pin_path())?
            .with_wall(self.wall.clone())
            .with_max_body(self.config.upload.max_body_bytes))
    }

    /// One upload pass to the pinned collector.
    pub async fn upload(&self) -> Result<PassReport, UploadError> {
        let mut collector = self.collector()?;
        upload::upload_pass(&self.spool, &mut collector, self.config.upload.batch_size).await
    }
}

/// The battery the configuration asks for (`battery.file` or the built-in one, then
/// `battery.platforms`).
pub fn load_battery(config: &Config) -> Result<Battery, String> {
    let battery = match &config.battery.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("battery.file {}: {e}", path.display()))?;
            Battery::from_toml(&text).map_err(|e| format!("battery.file {}: {e}", path.display()))?
        }
        None => Battery::builtin(),
    };
    if config.battery.platforms.is_empty() {
        Ok(battery)
    } else {
        battery.select(&config.battery.platforms).map_err(|e| format!("battery.platforms: {e}"))
    }
}

/// One line about a spooled run.
pub fn describe_add(report: &AddReport) -> String {
    let mut text = format!("spooled {} signed measurements", report.stored);
    if report.dropped_routine + report.dropped_evidence > 0 {
        text +=
            &format!(" (spool full: dropped {} routine, {} evidence)", report.dropped_routine, report.dropped_evidence);
    }
    text
}

/// One line about an upload pass.
pub fn describe_pass(report: &PassReport) -> String {
    let a = &report.applied;
    let mut text = format!("uploaded: {} accepted, {} duplicate, {} rejected", a.accepted, a.duplicate, a.rejected);
    if a.set_aside > 0 {
        text += &format!(", {} set aside (too large)", a.set_aside);
    }
    if a.deferred > 0 {
        text += &format!(", {} kept for a later try", a.deferred);
    }
    text += &format!("; {} remain", report.remaining);
    if let Some(clock) = report.clock.as_ref().filter(|c| c.correction_s != 0 || c.ignored) {
        text += &format!(
            "; clock {} ms off the collector's{}",
            clock.measured_offset_ms,
            if clock.ignored { " (too far to correct)" } else { "" }
        );
    }
    if let Some(id) = &report.repinned {
        text += &format!("; followed a collector key rotation to {id}");
    }
    text
}

/// A future that resolves on SIGTERM or SIGINT. The handlers are installed by this call (not on
/// first poll), so a signal arriving at any later moment is caught. Call it inside the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
    }
}

/// `interval` randomised by ±10%.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * rand::random::<f64>())
}

/// Run forever: `measure` a battery now and every `schedule.interval_minutes` (jittered), spool it,
/// upload whenever there is something to send (backing off while the collector is unreachable),
/// and send a heartbeat now and every `schedule.heartbeat_seconds` (±20%; see [`heartbeat`]),
/// until `shutdown` resolves. Battery, heartbeat and upload are abandoned at shutdown; spool
/// writes are synchronous, so one in progress always completes. Then the last words: one
/// heartbeat with `stopping`, sent within [`heartbeat::STOP_LIMIT`] or spooled like any other
/// (with the control check). `log` receives one line per event.
pub async fn run_forever<F, Fut>(probe: &Probe, measure: F, shutdown: impl Future<Output = ()>, log: impl FnMut(String))
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RunOutput>,
{
    let targets = load_battery(&probe.config).map(|b| heartbeat::control_targets(&b)).unwrap_or_default();
    let nets = probe.config.network.lab_nets.iter().filter_map(|n| n.parse().ok()).collect();
    let scope = Scope::lab(nets);
    let cadence = Cadence::from_config(&probe.config);
    let beat = |keys: HeartbeatKeys| {
        let limit = heartbeat::limit_for(&keys, cadence.heartbeat);
        heartbeat::beat(probe, keys, &targets, &scope, limit)
    };
    run_loop(probe, cadence, measure, beat, shutdown, log).await
}

/// How often the daemon runs the battery and sends a heartbeat (before jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub battery: Duration,
    pub heartbeat: Duration,
}

impl Cadence {
    /// `schedule.interval_minutes` and `schedule.heartbeat_seconds`.
    pub fn from_config(config: &Config) -> Cadence {
        let minutes = |m: u32| Duration::from_secs(u64::from(m) * 60);
        Cadence {
            battery: minutes(config.schedule.interval_minutes),
            heartbeat: Duration::from_secs(u64::from(config.schedule.heartbeat_seconds)),
        }
    }
}

/// At most this long from the shutdown signal to the end of the last words, whatever `beat`
/// does (the real one keeps well within it: [`heartbeat::STOP_LIMIT`] twice).
pub const LAST_WORDS_MAX: Duration = Duration::from_secs(4);

/// [`run_forever`] with the cadence and the heartbeat as parameters (tests count heartbeats).
/// After `shutdown`, `beat` is called once more with `stopping` keys, bounded by
/// [`LAST_WORDS_MAX`].
pub async fn run_loop<F, Fut, H, HFut>(
    probe: &Probe,
    cadence: Cadence,
    mut measure: F,
    mut beat: H,
    shutdown: impl Future<Output = ()>,
    mut log: impl FnMut(String),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = RunOutput>,
    H: FnMut(HeartbeatKeys) -> HFut,
    HFut: Future<Output = Beat>,
{
    let mut shutdown = pin!(shutdown);
    let mut backoff = Backoff::new(
        Duration::from_secs(probe.config.upload.backoff_base_s),
        Duration::from_secs(probe.config.upload.backoff_max_s),
    );
    // Between passes that kept measurements for later (transient refusals such as
    // `future_timestamp`): the same backoff, apart from the connectivity one that heartbeats reset.
    let mut later = backoff.clone();
    let started = Instant::now();
    // Measurements waiting in the spool, counted once here and then kept up to date cheaply.
    let mut spooled = probe.spool.status().map(|s| s.measurements).unwrap_or(0);
    let mut next_battery = Instant::now();
    let mut next_upload = Instant::now();
    let mut next_heartbeat = Instant::now();
    // A heartbeat was spooled (the outage's evidence) since the last one that got through.
    let mut beat_spooled = false;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = sleep_until(next_battery) => {
                let out = tokio::select! {
                    out = measure() => out,
                    _ = &mut shutdown => break,
                };
                match probe.spool_run(&out) {
                    Ok(report) => {
                        spooled += report.stored;
                        log(describe_add(&report));
                    }
                    Err(e) => log(format!("cannot spool this run: {e}")),
                }
                next_battery = Instant::now() + jittered(cadence.battery);
                if backoff.failures() == 0 {
                    next_upload = Instant::now();
                }
            }
            _ = sleep_until(next_heartbeat) => {
                let keys = heartbeat::keys(probe, spooled, started.elapsed());
                let result = tokio::select! {
                    b = beat(keys) => b,
                    _ = &mut shutdown => break,
                };
                next_heartbeat = Instant::now() + heartbeat::jittered(cadence.heartbeat);
                match result {
                    // The collector is back: upload what waits (the outage's evidence first of
                    // all) without waiting for the backoff or the next battery.
                    Beat::Sent if backoff.failures() > 0 || beat_spooled => {
                        beat_spooled = false;
                        backoff.succeed();
                        next_upload = Instant::now();
                    }
                    Beat::Sent | Beat::NotEnrolled => {}
                    Beat::Spooled { error, network_down } => {
                        beat_spooled = true;
                        spooled += 1 + u64::from(network_down);
                        let down = if network_down { "; every control failed too: spooled network_down" } else { "" };
                        log(format!("heartbeat not sent ({error}): spooled{down}"));
                    }
                }
            }
            _ = sleep_until(next_upload) => {
                let result = tokio::select! {
                    r = probe.upload() => r,
                    _ = &mut shutdown => break,
                };
                next_upload = match result {
                    Ok(report) => {
                        backoff.succeed();
                        spooled = report.remaining;
                        if report.batches > 0 || report.repinned.is_some() || report.applied.set_aside > 0 {
                            log(describe_pass(&report));
                        }
                        if report.retry_later() {
                            let wait = later.fail();
                            log(format!("kept {} measurements for a later try in {} s", report.applied.deferred, wait.as_secs()));
                            Instant::now() + wait
                        } else {
                            later.succeed();
                            if report.remaining == 0 { next_battery } else { Instant::now() }
                        }
                    }
                    Err(UploadError::NotEnrolled(path)) => {
                        log(format!("not enrolled (no {}): measurements stay in the spool", path.display()));
                        next_battery
                    }
                    Err(e) => {
                        let wait = if e.is_retryable() { backoff.fail() } else { backoff.fail_hard() };
                        log(format!("upload failed: {e}; next try in {} s", wait.as_secs()));
                        Instant::now() + wait
                    }
                };
            }
        }
    }
    // The last words: the collector reads the silence that follows as a stop, not an outage.
    let keys = heartbeat::last_keys(probe, spooled, started.elapsed());
    let words = match tokio::time::timeout(LAST_WORDS_MAX, beat(keys)).await {
        Ok(Beat::Sent) => "last heartbeat (stopping) sent".to_string(),
        Ok(Beat::NotEnrolled) => "not enrolled: no last heartbeat".to_string(),
        Ok(Beat::Spooled { error, .. }) => format!("last heartbeat (stopping) not sent ({error}): spooled"),
        Err(_) => format!("last heartbeat (stopping) abandoned after {} s", LAST_WORDS_MAX.as_secs()),
    };
    log(words);
    log("stopping".into());
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    pub(crate) fn test_probe(dir: &std::path::Path) -> Probe {
        let mut config = Config::default();
        config.identity.key_file = dir.join("probe.key");
        config.spool.dir = dir.join("spool");
        Probe::start(config).unwrap()
    }

    #[tokio::test]
    async fn the_loop_sends_heartbeats_at_the_jittered_cadence() {
        let dir = tempfile::tempdir().unwrap();
        let probe = test_probe(dir.path());
        let cadence = Cadence { battery: Duration::from_secs(3600), heartbeat: Duration::from_millis(100) };
        let beats = Arc::new(Mutex::new(Vec::new()));
        let record = beats.clone();
        let beat = move |keys: HeartbeatKeys| {
            record.lock().unwrap().push((Instant::now(), keys));
            async { Beat::Sent }
        };
        let runs = Arc::new(Mutex::new(0));
        let counted = runs.clone();
        let measure = move || {
            *counted.lock().unwrap() += 1;
            async { RunOutput::default() }
        };
        let stop = tokio::time::sleep(Duration::from_millis(1050));
        run_loop(&probe, cadence, measure, beat, stop, |_| {}).await;
        let beats = beats.lock().unwrap();
        // The last words come last, and only they say `stopping`.
        let (last, beats) = beats.split_last().unwrap();
        assert!(last.1.stopping && beats.iter().all(|(_, k)| !k.stopping));
        // One at start, then one every 80..120 ms for 1.05 s.
        assert!((9..=14).contains(&beats.len()), "{} heartbeats", beats.len());
        for pair in beats.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= Duration::from_millis(79), "heartbeats {gap:?} apart");
        }
        assert!(beats.last().unwrap().1.uptime_s <= 1);
        assert_eq!(*runs.lock().unwrap(), 1, "the battery runs once an hour");
    }

    #[tokio::test]
    async fn a_heartbeat_that_gets_through_after_an_outage_uploads_the_spool_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let probe = test_probe(dir.path());
        let cadence = Cadence { battery: Duration::from_secs(3600), heartbeat: Duration::from_millis(50) };
        // Two heartbeats fail (spooled with network_down evidence), then the network is back.
        let calls = Arc::new(Mutex::new(0));
        let beat = move |_keys: HeartbeatKeys| {
            let n = {
                let mut c = calls.lock().unwrap();
                *c += 1;
                *c
            };
            async move {
                if (2..=3).contains(&n) {
                    Beat::Spooled { error: "collector_unreachable".into(), network_down: true }
                } else {
                    Beat::Sent
                }
            }
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log = {
            let lines = lines.clone();
            move |l: String| lines.lock().unwrap().push(l)
        };
        let stop = tokio::time::sleep(Duration::from_millis(400));
        run_loop(&probe, cadence, || async { RunOutput::default() }, beat, stop, log).await;
        let lines = lines.lock().unwrap();
        // After the outage, one upload as soon as a heartbeat got through again (this probe is
        // not enrolled, so it says so), not an hour later with the next battery.
        let outage_end = lines.iter().rposition(|l| l.starts_with("heartbeat not sent")).expect("an outage");
        let uploads = lines[outage_end..].iter().filter(|l| l.starts_with("not enrolled")).count();
        assert_eq!(uploads, 1, "{lines:#?}");
    }

    #[tokio::test]
    async fn at_shutdown_the_last_words_say_stopping_even_mid_battery_and_end_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let probe = test_probe(dir.path());
        let cadence = Cadence { battery: Duration::from_secs(3600), heartbeat: Duration::from_secs(3600) };
        let beats = Arc::new(Mutex::new(Vec::new()));
        let record = beats.clone();
        let beat = move |keys: HeartbeatKeys| {
            record.lock().unwrap().push(keys);
            async { Beat::Sent }
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log = {
            let lines = lines.clone();
            move |l: String| lines.lock().unwrap().push(l)
        };
        // The battery never ends: the stop abandons it, and the last words still go out.
        let stop = tokio::time::sleep(Duration::from_millis(200));
        run_loop(&probe, cadence, std::future::pending, beat, stop, log).await;
        let beats = beats.lock().unwrap();
        let stopping: Vec<bool> = beats.iter().map(|k| k.stopping).collect();
        // The battery and the first heartbeat are both due at start (either may go first, and
        // the battery then holds the loop): the last words come after either.
        assert!(stopping == [true] || stopping == [false, true], "{stopping:?}");
        let lines = lines.lock().unwrap();
        assert_eq!(lines[lines.len() - 2..], ["last heartbeat (stopping) sent", "stopping"], "{lines:#?}");
    }

    #[tokio::test]
    async fn last_words_that_hang_never_hold_the_stop_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let probe = test_probe(dir.path());
        let cadence = Cadence { battery: Duration::from_secs(3600), heartbeat: Duration::from_secs(3600) };
        // The first heartbeat is sent; the last words never finish.
        let beat = |keys: HeartbeatKeys| async move {
            if keys.stopping {
                std::future::pending::<()>().await;
            }
            Beat::Sent
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log = {
            let lines = lines.clone();
            move |l: String| lines.lock().unwrap().push(l)
        };
        let stop = tokio::time::sleep(Duration::from_millis(100));
        let started = Instant::now();
        run_loop(&probe, cadence, || async { RunOutput::default() }, beat, stop, log).await;
        let took = started.elapsed();
        assert!(took < LAST_WORDS_MAX + Duration::from_millis(900), "the stop took {took:?}");
        assert!(took >= LAST_WORDS_MAX, "abandoned only at the bound: {took:?}");
        let lines = lines.lock().unwrap();
        assert!(lines.iter().any(|l| l.starts_with("last heartbeat (stopping) abandoned")), "{lines:#?}");
    }

    #[test]
    fn the_cadence_comes_from_the_schedule() {
        let c = Cadence::from_config(&Config::default());
        assert_eq!((c.battery.as_secs(), c.heartbeat.as_secs()), (3600, 300));
    }
}
