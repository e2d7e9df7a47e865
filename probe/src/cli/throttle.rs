//! `vigil-probe throttle`, and the throttling test inside `vigil-probe run` (after each battery;
//! in the daemon in the background, so a confirmation delay never holds up heartbeats).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use vigil_report::{Measurement, ThrottleVerdict, ThrottlingKeys};

use super::{EXIT_BLOCKING_FOUND, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, fail, load_config, print_json};
use crate::battery::Battery;
use crate::config::Config;
use crate::daemon::{self, Probe};
use crate::throttle::{Job, Tester};

#[derive(Debug, clap::Args)]
pub struct ThrottleArgs {
    /// Configuration file (TOML); `[throttle]` names the decoy and the control object.
    #[arg(long)]
    pub config: PathBuf,
    /// Test only this platform (repeatable); replaces `throttle.platforms`.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// A/A run: arm T1 sends a second innocuous SNI (measures the false-positive rate).
    #[arg(long)]
    pub aa: bool,
    /// Seconds before the confirmation rerun; replaces `throttle.confirm_delay_s`.
    #[arg(long)]
    pub confirm_delay_s: Option<u64>,
    /// Print one JSON measurement per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Measure and print only: do not sign, spool or upload.
    #[arg(long)]
    pub no_spool: bool,
}

/// The tester and its platforms, when the configuration enables a usable test.
pub fn setup(config: &Config, battery: &Battery) -> Result<Option<(Tester, Vec<Job>)>, String> {
    let tester = Tester::new(config)?;
    if !config.throttle.enabled || !tester.usable() {
        return Ok(None);
    }
    let jobs = tester.jobs(battery)?;
    Ok(Some((tester, jobs)))
}

/// One line per run for a terminal.
pub fn describe(m: &Measurement<ThrottlingKeys>) -> String {
    let k = &m.test_keys;
    let verdict = match k.verdict {
        ThrottleVerdict::Ok => "ok",
        ThrottleVerdict::Throttled => "THROTTLED",
        ThrottleVerdict::Inconclusive => "inconclusive",
    };
    let mut line = format!("{:<12} {verdict:<12} ratio {:.3}", k.platform, k.ratio);
    if let Some(mech) = k.mechanism {
        line += &format!(
            " ({})",
            serde_json::to_value(mech).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        );
    }
    if let Some(rate) = k.throttled_rate_kbps {
        line += &format!(" at {rate:.0} kbit/s");
    }
    if let Some(c) = k.control_goodput_kbps {
        line += &format!(", control {c:.0} kbit/s");
    }
    if let Some(r) = &k.reason {
        line += &format!(" [{r}]");
    }
    line + &format!(", {} bytes", k.bytes_received)
}

pub async fn command(args: ThrottleArgs) -> i32 {
    let mut config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !args.platforms.is_empty() {
        config.throttle.platforms = args.platforms.clone();
    }
    if let Some(delay) = args.confirm_delay_s {
        config.throttle.confirm_delay_s = delay;
    }
    config.throttle.enabled = true;
    let battery = match daemon::load_battery(&config) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let (mut tester, jobs) = match setup(&config, &battery) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return fail(EXIT_USAGE, "throttle: set throttle.decoy (and decoy_cert) or throttle.control_object");
        }
        Err(e) => return fail(EXIT_USAGE, e),
    };
    tester.aa = args.aa;
    let probe = if args.no_spool {
        None
    } else {
        match Probe::start(config.clone()) {
            Ok(p) => Some(p),
            Err(e) => return fail(EXIT_RUNTIME, e),
        }
    };
    let json = args.json;
    let runs = tester
        .run_all(&jobs, |m| {
            if json {
                print_json(m);
            } else {
                println!("{}", describe(m));
            }
        })
        .await;
    if let Some(probe) = &probe {
        spool_and_upload(probe, &runs).await;
    }
    if runs.iter().any(|m| m.test_keys.verdict == ThrottleVerdict::Throttled) { EXIT_BLOCKING_FOUND } else { EXIT_OK }
}

async fn spool_and_upload(probe: &Probe, runs: &[Measurement<ThrottlingKeys>]) {
    match probe.spool_throttling(runs) {
        Ok(report) => eprintln!("vigil-probe: {}", daemon::describe_add(&report)),
        Err(e) => {
            eprintln!("vigil-probe: cannot spool the throttling runs: {e}");
            return;
        }
    }
    match probe.upload().await {
        Ok(report) => eprintln!("vigil-probe: {}", daemon::describe_pass(&report)),
        Err(e) => eprintln!("vigil-probe: upload failed, the runs stay in the spool: {e}"),
    }
}

/// The daemon's throttling test: started after a battery when none is running; its runs are
/// handed over (to be spooled) after a later battery once it has finished.
#[derive(Default)]
pub struct Background {
    running: Mutex<Option<JoinHandle<Vec<Measurement<ThrottlingKeys>>>>>,
}

impl Background {
    /// Finished runs (if any), and a new test started when none is running.
    pub fn poll(&self, setup: &Option<(Arc<Tester>, Arc<Vec<Job>>)>) -> Vec<Measurement<ThrottlingKeys>> {
        let Some((tester, jobs)) = setup else { return Vec::new() };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = Vec::new();
        if running.as_ref().is_some_and(|h| h.is_finished())
            && let Some(handle) = running.take()
        {
            // A finished task's result is ready: this does not block.
            done = futures_util::FutureExt::now_or_never(handle).and_then(Result::ok).unwrap_or_default();
        }
        if running.is_none() {
            let (tester, jobs) = (tester.clone(), jobs.clone());
            *running = Some(tokio::spawn(async move { tester.run_all(&jobs, |_| {}).await }));
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battery::ThrottleTarget;

    #[tokio::test]
    async fn the_daemon_hands_over_finished_runs_and_starts_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let tls = vigil_control::decoy::load_or_create(dir.path()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(vigil_control::decoy::serve(listener, tls, std::future::pending()));
        let mut config = Config::default();
        config.throttle.decoy = addr.to_string();
        config.throttle.decoy_cert = Some(vigil_control::decoy::cert_path(dir.path()));
        config.throttle.gap_ms = 0;
        config.throttle.confirm_delay_s = 0;
        let tester = Arc::new(Tester::new(&config).unwrap());
        let jobs = Arc::new(vec![("x".to_string(), ThrottleTarget { sni: "abs.twimg.com".into(), object: None })]);
        let setup = Some((tester, jobs));
        let background = Background::default();
        assert!(background.poll(&setup).is_empty(), "nothing has finished yet");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let runs = loop {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let runs = background.poll(&setup);
            if !runs.is_empty() || tokio::time::Instant::now() > deadline {
                break runs;
            }
        };
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].test_keys.platform, "x");
        assert!(background.running.lock().unwrap().is_some(), "the next test was started");
        assert!(background.poll(&None).is_empty());
    }
}
