//! The `vigil-probe` command line: parse arguments, load the configuration, call the library.
//!
//! Exit codes: 0 = done (for `check`: no blocking found; for `upload`: the spool is empty);
//! 1 = `check` found blocking; 2 = bad usage or configuration (also: `upload` before `enroll`);
//! 3 = the probe could not run (e.g. TLS setup failed, key or spool unusable, collector
//! unreachable during `enroll`); 4 = `upload`: measurements remain in the spool; 5 = `enroll`: the
//! collector refused (its error code is printed).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

mod throttle;
pub use throttle::ThrottleArgs;

use crate::battery::{Battery, Input};
use crate::config::{Config, parse_resolver};
use crate::daemon::{self, Probe};
use crate::identity::{self, CollectorPin};
use crate::measure::Origin;
use crate::spool::Spool;
use crate::upload::{self, UploadError};
use crate::{output, remote, runner};

pub const EXIT_OK: i32 = 0;
pub const EXIT_BLOCKING_FOUND: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_RUNTIME: i32 = 3;
pub const EXIT_PENDING: i32 = 4;
pub const EXIT_REFUSED: i32 = 5;

#[derive(Debug, Parser)]
#[command(name = "vigil-probe", version, about = "Measure whether social platforms are blocked, and how")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test URLs (or tcpconnect://host:port) once and print the verdicts.
    Check(CheckArgs),
    /// Run the platform battery: sign, spool and upload every measurement (forever, or --once).
    Run(RunArgs),
    /// Enroll this probe's key with a collector and pin the collector's key.
    Enroll(EnrollArgs),
    /// Upload the spool once (exit 0 when it is empty afterwards, 4 when measurements remain).
    Upload(ConfigArg),
    /// Show the key id, the pinned collector and the spool.
    Status(StatusArgs),
    /// Run the throttling test once (exit 1 when a platform is throttled); see docs/throttling.md.
    Throttle(ThrottleArgs),
    /// List the built-in battery (platforms and endpoints).
    Battery {
        /// Print the battery as TOML (the file format `battery.file` takes).
        #[arg(long)]
        toml: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// URLs (https://..., http://...) or tcpconnect://host:port; a bare name means https://name/.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Start from this configuration file instead of the defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Plain UDP resolver IP[:PORT] (repeatable); replaces the configured ones.
    #[arg(long = "resolver")]
    pub resolvers: Vec<String>,
    /// Do not ask the system resolver.
    #[arg(long)]
    pub no_system_resolver: bool,
    /// DoH reference resolver URL.
    #[arg(long)]
    pub doh: Option<String>,
    /// Do not use a DoH reference resolver.
    #[arg(long, conflicts_with = "doh")]
    pub no_doh: bool,
    /// Control (test helper) URL for the uncensored view.
    #[arg(long)]
    pub control: Option<String>,
    /// Extra trust root, PEM (repeatable), e.g. a lab CA.
    #[arg(long = "ca-file")]
    pub ca_files: Vec<PathBuf>,
    /// LAB ONLY: a network (CIDR) treated as public and measurable (repeatable).
    #[arg(long = "lab-net")]
    pub lab_nets: Vec<String>,
    /// Country code to write into measurements.
    #[arg(long)]
    pub country: Option<String>,
    /// One timeout (ms) for DNS, connect, TLS and HTTP alike.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Print one JSON measurement per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML); see probe/vigil-probe.toml.
    #[arg(long)]
    pub config: PathBuf,
    /// Run the battery once and exit.
    #[arg(long)]
    pub once: bool,
    /// Print one JSON measurement per line (endpoints, then platform summaries).
    #[arg(long)]
    pub json: bool,
    /// Measure and print only: do not sign, spool or upload (needs --once).
    #[arg(long, requires = "once")]
    pub no_spool: bool,
}

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// Configuration file (TOML); `[identity]` says where the key and the pin live.
    #[arg(long)]
    pub config: PathBuf,
    /// The collector's base URL, e.g. https://collector.example/.
    #[arg(long)]
    pub collector: String,
    /// Enrollment token, when the collector requires one.
    #[arg(long)]
    pub token: Option<String>,
    /// Allow a plain http:// collector that is not on loopback or a lab net (NOT for the field:
    /// anyone on the path could pin their own key and make the probe discard its evidence).
    #[arg(long)]
    pub insecure_http: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run the command line; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Check(args) => check(args).await,
        Command::Run(args) => run(args).await,
        Command::Enroll(args) => enroll(args).await,
        Command::Upload(args) => upload_command(args).await,
        Command::Status(args) => status(args),
        Command::Throttle(args) => throttle::command(args).await,
        Command::Battery { toml } => {
            let battery = Battery::builtin();
            if toml {
                print!("{}", battery.to_toml());
            } else {
                for p in &battery.platforms {
                    println!("{} ({}, {} endpoints)", p.id, p.name, p.endpoints.len());
                    for e in &p.endpoints {
                        println!("  [{}] {}", e.group, e.input);
                    }
                }
            }
            EXIT_OK
        }
    }
}

fn fail(code: i32, message: impl std::fmt::Display) -> i32 {
    eprintln!("vigil-probe: {message}");
    code
}

/// Apply `check`'s flags on top of a configuration.
pub fn check_config(args: &CheckArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if !args.resolvers.is_empty() {
        for r in &args.resolvers {
            parse_resolver(r).map_err(|e| format!("--resolver: {e}"))?;
        }
        config.dns.resolvers = args.resolvers.clone();
    }
    if args.no_system_resolver {
        config.dns.system = false;
    }
    if let Some(doh) = &args.doh {
        config.dns.doh = doh.clone();
    }
    if args.no_doh {
        config.dns.doh.clear();
    }
    if let Some(control) = &args.control {
        config.control.url = control.clone();
    }
    config.network.ca_files.extend(args.ca_files.iter().cloned());
    config.network.lab_nets.extend(args.lab_nets.iter().cloned());
    if let Some(cc) = &args.country {
        config.probe.country = cc.to_ascii_uppercase();
    }
    if let Some(ms) = args.timeout_ms {
        config.dns.timeout_ms = ms;
        config.network.connect_timeout_ms = ms;
        config.network.tls_timeout_ms = ms;
        config.network.http_timeout_ms = ms;
    }
    config.validate().map_err(|e| format!("invalid option: {e}"))?;
    Ok(config)
}

async fn check(args: CheckArgs) -> i32 {
    let config = match check_config(&args) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let mut inputs = Vec::new();
    for text in &args.inputs {
        match Input::parse_lenient(text) {
            Ok(input) => inputs.push((input, Origin::default())),
            Err(e) => return fail(EXIT_USAGE, format!("input {text:?}: {e}")),
        }
    }
    let engine = match runner::engine(&config) {
        Ok(e) => crate::measure::Engine { control_key: control_key(&config), ..e },
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    // With a configuration file, the local fingerprints of the probe configuration kept beside
    // its pin (see `run`); never fetched here.
    let kept = args.config.as_ref().and_then(|_| kept_config(&config));
    let engine = remote::Current::new(engine, kept.as_ref(), &mut say).engine();
    let json = args.json;
    let measurements = runner::run_inputs(engine, inputs, config.network.concurrency, |m| {
        if json {
            print_json(m);
        }
    })
    .await;
    if !json {
        print!("{}", output::endpoint_table(&measurements));
    }
    if measurements.iter().any(|m| m.test_keys.blocking.is_blocked()) { EXIT_BLOCKING_FOUND } else { EXIT_OK }
}

fn say(line: String) {
    eprintln!("vigil-probe: {line}");
}

/// The probe configuration kept beside the pin, if any (a warning when it is unusable).
fn kept_config(config: &Config) -> Option<remote::Kept> {
    remote::load(&remote::path(config)).unwrap_or_else(|e| {
        say(format!("kept probe configuration unusable ({e}): built-in fingerprints only"));
        None
    })
}

/// The probe's key if it has one, to sign its control requests; none (with a warning when the
/// file is unusable) sends them unsigned, which only an open control serves.
fn control_key(config: &Config) -> Option<ed25519_dalek::SigningKey> {
    if config.control.url.is_empty() {
        return None;
    }
    match identity::load_if_exists(&config.identity.key_file) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("vigil-probe: control requests go unsigned: {e}");
            None
        }
    }
}

fn load_config(path: &std::path::Path) -> Result<Config, i32> {
    Config::load(path).map_err(|e| fail(EXIT_USAGE, e))
}

async fn run(args: RunArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let battery = match daemon::load_battery(&config) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let mut engine = match runner::engine(&config) {
        Ok(e) => e,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let probe = if args.no_spool {
        None
    } else {
        match Probe::start(config.clone()) {
            Ok(p) => {
                if p.key_created {
                    eprintln!(
                        "vigil-probe: created key {} in {}",
                        identity::probe_key_id(&p.key),
                        config.identity.key_file.display()
                    );
                }
                Some(p)
            }
            Err(e) => {
                let hint = "[identity] key_file and [spool] dir must be writable; --once --no-spool only measures";
                return fail(EXIT_RUNTIME, format!("{e} ({hint})"));
            }
        }
    };
    engine.control_key = match &probe {
        Some(p) => Some(p.key.clone()),
        None => control_key(&config),
    };
    // Control requests are signed with the clock as corrected for measurements.
    engine.clock = probe.as_ref().map(|p| p.spool.clone());
    // The collector's signed configuration: fetched now for a single run, before each battery
    // for the daemon; the kept one when it cannot be.
    let kept = match &probe {
        Some(p) if args.once => remote::update(p, &mut say).await,
        _ => kept_config(&config),
    };
    let current = remote::Current::new(engine, kept.as_ref(), &mut say);
    let throttling = match throttle::setup(&config, &battery) {
        Ok(t) => t.map(|(tester, jobs)| (Arc::new(tester), Arc::new(jobs))),
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let concurrency = config.network.concurrency;
    let json = args.json;
    if args.once {
        let code = run_once(current.engine(), &battery, concurrency, json, probe.as_ref()).await;
        if let Some((tester, jobs)) = &throttling {
            let runs = tester
                .run_all(jobs, |m| if json { print_json(m) } else { println!("{}", throttle::describe(m)) })
                .await;
            if let Some(probe) = &probe {
                spool_throttling(probe, &runs).await;
            }
        }
        return code;
    }
    let Some(probe) = probe else {
        return fail(EXIT_USAGE, "--no-spool needs --once");
    };
    let every = std::time::Duration::from_secs(config.throttle.interval_hours * 3600);
    let background = throttle::Background::new(throttle::spool_sink(&probe, json), every);
    let log = |line: String| eprintln!("vigil-probe: {} {line}", crate::timestamp::now());
    let measure = || {
        let (probe, current) = (&probe, &current);
        let battery = &battery;
        let (background, throttling) = (&background, &throttling);
        async move {
            let mut log = log;
            let kept = remote::update(probe, &mut log).await;
            let engine = current.apply(kept.as_ref(), &mut log);
            let out = runner::run_battery(engine, battery, concurrency, |m| {
                if json {
                    print_json(m);
                }
            })
            .await;
            if json {
                out.platforms.iter().for_each(print_json);
            }
            // After the battery, so the throttling transfers do not share the link with it.
            background.poll(throttling);
            out
        }
    };
    daemon::run_forever(&probe, measure, daemon::shutdown_signal(), log).await;
    EXIT_OK
}

async fn run_once(
    engine: Arc<crate::measure::Engine>,
    battery: &Battery,
    concurrency: usize,
    json: bool,
    probe: Option<&Probe>,
) -> i32 {
    let total = battery.platforms.iter().map(|p| p.endpoints.len()).sum::<usize>();
    let mut done = 0usize;
    // A progress counter on a terminal; a log or a pipe gets only the results.
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let out = runner::run_battery(engine, battery, concurrency, |m| {
        done += 1;
        if json {
            print_json(m);
        } else if progress {
            eprint!("\rmeasured {done}/{total} endpoints");
        }
    })
    .await;
    if json {
        for p in &out.platforms {
            print_json(p);
        }
    } else {
        eprintln!();
        print!("{}", output::endpoint_table(&out.measurements));
        println!();
        print!("{}", output::platform_table(&out.platforms));
    }
    let Some(probe) = probe else { return EXIT_OK };
    match probe.spool_run(&out) {
        Ok(report) => eprintln!("vigil-probe: {}", daemon::describe_add(&report)),
        Err(e) => return fail(EXIT_RUNTIME, format!("cannot spool the measurements: {e}")),
    }
    match probe.upload().await {
        Ok(report) => eprintln!("vigil-probe: {}", daemon::describe_pass(&report)),
        Err(UploadError::NotEnrolled(_)) => {
            eprintln!("vigil-probe: not enrolled: the measurements stay in the spool until `vigil-probe enroll`")
        }
        Err(e) => eprintln!("vigil-probe: upload failed, the measurements stay in the spool: {e}"),
    }
    EXIT_OK
}

/// Spool these throttling runs, then try one upload (they wait in the spool if it fails).
pub(crate) async fn spool_throttling(probe: &Probe, runs: &[vigil_report::Measurement<vigil_report::ThrottlingKeys>]) {
    match probe.spool_throttling(runs) {
        Ok(report) => eprintln!("vigil-probe: throttling: {}", daemon::describe_add(&report)),
        Err(e) => return eprintln!("vigil-probe: cannot spool the throttling runs: {e}"),
    }
    match probe.upload().await {
        Ok(report) => eprintln!("vigil-probe: {}", daemon::describe_pass(&report)),
        Err(e) => eprintln!("vigil-probe: upload failed, the throttling runs stay in the spool: {e}"),
    }
}

async fn enroll(args: EnrollArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let url = match url::Url::parse(&args.collector) {
        Ok(u) => u,
        Err(e) => return fail(EXIT_USAGE, format!("--collector {:?}: {e}", args.collector)),
    };
    if url.scheme() == "http" && !args.insecure_http && !local_or_lab(&url, &config.network.lab_nets) {
        return fail(
            EXIT_USAGE,
            format!(
                "--collector {}: plain http:// would let anyone on the path pin their own key and make this \
                 probe delete its measurements; use https:// (or --insecure-http in a lab)",
                args.collector
            ),
        );
    }
    let (key, _) = match identity::load_or_create(&config.identity.key_file) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let http = match upload::http_client(&config.network.ca_files) {
        Ok(h) => h,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let pin_path = config.identity.collector_path();
    match upload::enroll(&http, &args.collector, &key, args.token, &pin_path).await {
        Ok(pin) => {
            println!("enrolled key {} with {} (collector key {})", pin.key_id, pin.url, pin.collector_key_id);
            EXIT_OK
        }
        Err(e @ UploadError::Refused { .. }) => fail(EXIT_REFUSED, e),
        Err(e) => fail(EXIT_RUNTIME, e),
    }
}

/// A collector URL on loopback or inside a configured lab net (where plain HTTP is harmless).
fn local_or_lab(url: &url::Url, lab_nets: &[String]) -> bool {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
        Some(url::Host::Domain(d)) => return d == "localhost",
        None => return false,
    };
    ip.is_loopback() || lab_nets.iter().filter_map(|n| n.parse::<ipnet::IpNet>().ok()).any(|n| n.contains(&ip))
}

async fn upload_command(args: ConfigArg) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let probe = match Probe::start(config) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    match probe.upload().await {
        Ok(report) => {
            println!("{}", daemon::describe_pass(&report));
            if report.remaining == 0 { EXIT_OK } else { EXIT_PENDING }
        }
        Err(e @ UploadError::NotEnrolled(_)) => fail(EXIT_USAGE, e),
        Err(e) => {
            eprintln!("vigil-probe: {e}");
            match probe.spool.is_empty() {
                Ok(true) => EXIT_OK,
                _ => EXIT_PENDING,
            }
        }
    }
}

#[derive(serde::Serialize)]
struct Status {
    key_id: Option<String>,
    key_file: PathBuf,
    collector: Option<CollectorPin>,
    spool: crate::spool::SpoolStatus,
}

fn status(args: StatusArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let key_id = match identity::load_if_exists(&config.identity.key_file) {
        Ok(key) => key.map(|k| identity::probe_key_id(&k)),
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let collector = match CollectorPin::load(&config.identity.collector_path()) {
        Ok(pin) => pin,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let spool = match Spool::open(&config.spool.dir, config.spool.max_bytes).and_then(|s| s.status()) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let status = Status { key_id, key_file: config.identity.key_file.clone(), collector, spool };
    if args.json {
        print_json(&status);
        return EXIT_OK;
    }
    println!("key:        {} ({})", status.key_id.as_deref().unwrap_or("none yet"), status.key_file.display());
    match &status.collector {
        Some(pin) => println!("collector:  {} (key {})", pin.url, pin.collector_key_id),
        None => println!("collector:  not enrolled"),
    }
    let s = &status.spool;
    println!(
        "spool:      {} measurements in {} segments, {} of {} bytes ({})",
        s.measurements,
        s.segments,
        s.bytes,
        s.max_bytes,
        s.dir.display()
    );
    let c = &s.counters;
    println!("dropped:    {} routine, {} evidence (spool full)", c.dropped_routine, c.dropped_evidence);
    println!(
        "rejected:   {} by the collector ({} kept in rejected/, {} discarded); {} corrupt lines removed",
        c.rejected, s.rejected_kept, c.rejected_discarded, c.corrupt
    );
    println!(
        "set aside:  {} too large for the collector ({} kept in aside/, {} discarded)",
        c.set_aside, s.set_aside_kept, c.set_aside_discarded
    );
    let clock = &s.clock;
    if clock.measured_at.is_empty() {
        println!("clock:      not measured against the collector yet");
    } else {
        let note = if clock.ignored { ", too far to correct: fix the clock" } else { "" };
        println!(
            "clock:      {} ms off the collector's at {} (round trip {} ms); new measurements corrected by {} s{note}",
            clock.measured_offset_ms, clock.measured_at, clock.rtt_ms, clock.correction_s
        );
    }
    EXIT_OK
}

fn print_json<T: serde::Serialize>(value: &T) {
    let mut stdout = std::io::stdout().lock();
    if let Ok(line) = serde_json::to_string(value) {
        let _ = writeln!(stdout, "{line}");
    }
}

/// With `VIGIL_STATS=1`, print the process's CPU time and peak RSS on stderr (for benchmarks).
pub fn print_stats_if_asked() {
    if std::env::var_os("VIGIL_STATS").is_some_and(|v| v == "1") {
        let cpu = crate::stats::cpu_seconds().unwrap_or(f64::NAN);
        let rss = crate::stats::peak_rss_kib().unwrap_or(0);
        eprintln!("stats: cpu_s={cpu:.3} peak_rss_kib={rss}");
    }
}
