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
        super::spool_throttling(probe, &runs).await;
    }
    if runs.iter().any(|m| m.test_keys.verdict == ThrottleVerdict::Throttled) { EXIT_BLOCKING_FOUND } else { EXIT_OK }
}

/// Where the daemon's background runs go, each as soon as it is finished: signed and spooled at
/// once (so a restart or a power cut loses none), printed with `--json`.
pub type Sink = Arc<dyn Fn(&Measurement<ThrottlingKeys>) + Send + Sync>;

/// The daemon's throttling test: started after a battery when none is running, so its
/// transfers never compete with the battery's; a confirmation delay never holds up heartbeats.
pub struct Background {
    running: Mutex<Option<(tokio::time::Instant, JoinHandle<usize>)>>,
    sink: Sink,
    every: std::time::Duration,
}

impl Background {
    /// Tests at most `every` apart, their runs handed to `sink`.
    pub fn new(sink: Sink, every: std::time::Duration) -> Background {
        Background { running: Mutex::new(None), sink, every }
    }

    /// Start a test when none is running and the last one started `every` ago or more; true when
    /// one was started.
    pub fn poll(&self, setup: &Option<(Arc<Tester>, Arc<Vec<Job>>)>) -> bool {
        let Some((tester, jobs)) = setup else { return false };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|(at, h)| !h.is_finished() || at.elapsed() < self.every) {
            return false;
        }
        let (tester, jobs, sink) = (tester.clone(), jobs.clone(), self.sink.clone());
        let task = tokio::spawn(async move { tester.run_all(&jobs, |m| sink(m)).await.len() });
        *running = Some((tokio::time::Instant::now(), task));
        true
    }
}

/// The daemon's sink: seal each run with the probe's key into its spool.
pub fn spool_sink(probe: &Probe, json: bool) -> Sink {
    let (spool, key) = (probe.spool.clone(), probe.key.clone());
    Arc::new(move |m| {
        if json {
            print_json(m);
        }
        match spool.add(vec![crate::spool::compact::seal_throttling(m, &key)]) {
            Ok(report) => eprintln!("vigil-probe: throttling: {}", daemon::describe_add(&report)),
            Err(e) => eprintln!("vigil-probe: cannot spool the throttling run of {}: {e}", m.test_keys.platform),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battery::ThrottleTarget;

    #[tokio::test]
    async fn the_daemon_spools_each_finished_run_and_starts_the_next() {
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
        config.network.lab_nets = vec!["127.0.0.0/8".into()];
        let tester = Arc::new(Tester::new(&config).unwrap());
        let jobs = Arc::new(vec![("x".to_string(), ThrottleTarget { sni: "abs.twimg.com".into(), object: None })]);
        let setup = Some((tester, jobs));
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink: Sink = {
            let got = got.clone();
            Arc::new(move |m| got.lock().unwrap().push(m.test_keys.platform.clone()))
        };
        let background = Background::new(sink, std::time::Duration::from_millis(300));
        assert!(background.poll(&setup), "the first poll starts a test");
        assert!(!background.poll(&setup), "one test at a time");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while got.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(*got.lock().unwrap(), ["x"], "the finished run went to the sink without waiting for a poll");
        while background.running.lock().unwrap().as_ref().is_some_and(|(_, h)| !h.is_finished()) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(background.poll(&setup), "the next test starts once the last one finished and the interval passed");
        assert!(!background.poll(&None));
    }
}
