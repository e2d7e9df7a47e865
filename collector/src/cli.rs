//! The command line: `serve`, `verify`, `measurements`, `admin`, `replay`, `import-ooni`, `demo`. Arguments are parsed
//! here and handed to the library; the binary only starts the runtime and calls `run`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::error::CollectorError;
use crate::server::{Collector, shutdown_signal};
use crate::{admin_client, demo, inspect, verify};

/// Vigil's collector: checks signed measurements, stores them in SQLite, serves the API.
#[derive(Debug, Parser)]
#[command(name = "vigil-collector", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector.
    Serve(Box<ServeArgs>),
    /// Serve the throttling test's decoy: TLS for any SNI with one certificate (docs/throttling.md).
    Decoy {
        /// Where to listen (probes expect port 443: censors match TLS on it).
        #[arg(long, default_value = "0.0.0.0:443")]
        listen: SocketAddr,
        /// Directory of the decoy's certificate and key (created on first start); probes pin
        /// `decoy-cert.pem` as `throttle.decoy_cert`.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Check a file of signed measurements (JSON Lines or a JSON array) against published keys.
    Verify {
        file: PathBuf,
        /// The JSON of `GET /api/v1/probe-keys`.
        #[arg(long)]
        keys: PathBuf,
    },
    /// Show what is stored (read-only, straight from the data dir; safe beside a running server).
    Measurements {
        #[arg(long)]
        data_dir: PathBuf,
        /// The newest N measurements (0: all).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Also write their signed envelopes (JSON Lines) to this file, for `verify`.
        #[arg(long)]
        export: Option<PathBuf>,
        /// Also write the published probe keys (JSON) to this file, for `verify --keys`.
        #[arg(long)]
        export_keys: Option<PathBuf>,
    },
    /// Operator commands against a running collector.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
        #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
        collector: String,
        /// Operator token (or env VIGIL_OPERATOR_TOKEN).
        #[arg(long, global = true)]
        token: Option<String>,
    },
    /// Feed a JSON Lines file of measurements through ingest and detection; print the events.
    Replay {
        file: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        /// Run detection every STEP seconds of the recorded time (the revisions a live collector writes).
        #[arg(long, default_value_t = 3600)]
        step: i64,
        /// Detection parameters (TOML; `collector/detection.toml` lists them with their defaults).
        #[arg(long)]
        detection: Option<PathBuf>,
    },
    /// Import OONI's measurements as published (a .jsonl, .jsonl.gz or .json file, or a directory
    /// of them): web_connectivity and the IM tests, kept apart from Vigil's signed measurements
    /// (docs/ooni-import.md).
    ImportOoni(ImportOoniArgs),
    /// Simulate a fleet with known events (ending now), replay it into DIR, compare what was
    /// published with the truth, then serve it.
    Demo(DemoArgs),
    /// Platforms' and registries' disclosures: import them, reconcile them with the events.
    Disclosures {
        #[command(subcommand)]
        action: DisclosuresAction,
    },
}

#[derive(Debug, clap::Args)]
pub struct ImportOoniArgs {
    /// A measurement file or a directory tree of them.
    pub path: PathBuf,
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The battery (TOML) whose endpoint hosts say which platform a URL is (default: the
    /// probe's built-in battery).
    #[arg(long)]
    pub battery: Option<PathBuf>,
    /// The longest line (one measurement; a whole .json file) read, bytes.
    #[arg(long, default_value_t = config::DEFAULT_IMPORT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Lines read from one file.
    #[arg(long, default_value_t = config::DEFAULT_IMPORT_MAX_LINES)]
    pub max_lines: usize,
    /// Bytes read from one file once decompressed.
    #[arg(long, default_value_t = config::DEFAULT_IMPORT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
    /// Measurement files taken from a directory.
    #[arg(long, default_value_t = config::DEFAULT_IMPORT_MAX_FILES)]
    pub max_files: usize,
}

impl ImportOoniArgs {
    /// The configuration: the data dir and the import's bounds (each at least 1).
    pub fn config(&self) -> Result<Config, String> {
        if self.max_line_bytes == 0 || self.max_lines == 0 || self.max_file_bytes == 0 || self.max_files == 0 {
            return Err("--max-line-bytes, --max-lines, --max-file-bytes and --max-files must be at least 1".into());
        }
        let mut c = Config::new(&self.data_dir);
        c.import = config::ImportLimits {
            max_line_bytes: self.max_line_bytes,
            max_lines: self.max_lines,
            max_file_bytes: self.max_file_bytes,
            max_files: self.max_files,
        };
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
pub enum DisclosuresAction {
    /// Import a disclosure file (docs/disclosures.md); bad rows are reported, good ones stored once.
    Import {
        file: PathBuf,
        /// csv or json (Vigil's format; default by extension) or stop (#KeepItOn STOP CSV export).
        #[arg(long, value_enum)]
        format: Option<crate::disclosures::InputFormat>,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Reconcile the imported disclosures with the published events: rows and scorecard.
    Reconcile {
        #[arg(long)]
        data_dir: PathBuf,
        /// Who published the disclosures (e.g. accessnow-stop).
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        country: Option<String>,
        /// Unix seconds or RFC 3339.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// Seconds added on each side of a disclosed period when matching.
        #[arg(long, default_value_t = crate::disclosures_reconcile::DEFAULT_TOLERANCE)]
        tolerance: i64,
        /// CSV (RFC 4180) instead of text: the rows, or with --scorecard the scorecard.
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        scorecard: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Empty, or holding demo data only.
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value = config::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Load the data, print the summary and exit.
    #[arg(long)]
    pub no_serve: bool,
    /// Days simulated (2-14), ending at --end.
    #[arg(long, default_value_t = demo::DEFAULT_DAYS)]
    pub days: i64,
    /// The end of the simulated period (RFC 3339 or Unix seconds, years 2000-2099); the pages
    /// then show it as of that time. Default: now.
    #[arg(long)]
    pub end: Option<String>,
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
    /// Simulated probes (16-2000).
    #[arg(long, default_value_t = demo::DEFAULT_PROBES)]
    pub probes: usize,
    /// Run detection every STEP seconds of the simulated time.
    #[arg(long, default_value_t = demo::DEFAULT_STEP)]
    pub step: i64,
    /// Detection parameters (TOML).
    #[arg(long)]
    pub detection: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// List enrolled probes.
    Probes,
    /// Revoke a probe key.
    Revoke { key_id: String },
    /// Rotate the collector key.
    RotateKey,
    /// List the published blockpage clusters (public; the first 50).
    Blockpages,
    /// Promote a blockpage cluster to a fingerprint the probe configuration carries.
    Promote {
        cluster_id: String,
        /// The literal to look for in page bodies (default: the cluster's suggested pattern).
        #[arg(long)]
        pattern: Option<String>,
    },
    /// Withdraw the fingerprint promoted from a blockpage cluster.
    Withdraw { cluster_id: String },
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value = config::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// IP-to-ASN file: iptoasn.com TSV or `network,asn,country` CSV.
    #[arg(long)]
    pub asn_db: Option<PathBuf>,
    /// An accepted enrollment token (repeatable).
    #[arg(long = "enroll-token")]
    pub enroll_tokens: Vec<String>,
    /// Accept enrollments without a token (rate-limited).
    #[arg(long)]
    pub open_enrollment: bool,
    /// New open enrollments per client network (IPv4 /24, IPv6 /48) and minute.
    #[arg(long, default_value_t = config::DEFAULT_OPEN_ENROLLMENTS_PER_MINUTE)]
    pub open_enrollments_per_minute: u32,
    /// Control requests per client network and minute in `--control open` mode (0: no limit).
    #[arg(long, default_value_t = config::DEFAULT_CONTROL_PER_MINUTE)]
    pub control_per_minute: u32,
    /// Authenticated control requests per enrolled probe key and minute (`--control enrolled`;
    /// 0: no limit).
    #[arg(long, default_value_t = config::DEFAULT_CONTROL_PER_KEY_PER_MINUTE)]
    pub control_per_key_per_minute: u32,
    /// Control requests refused for their authentication per client network and minute
    /// (`--control enrolled`; over it they get 429; 0: no limit).
    #[arg(long, default_value_t = config::DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE)]
    pub control_auth_failures_per_minute: u32,
    /// Enrollment requests per client network and minute (0: no limit).
    #[arg(long, default_value_t = config::DEFAULT_ENROLL_PER_MINUTE)]
    pub enroll_per_minute: u32,
    /// Heavy public reads (listings, exports, timelines, charts, pages) per client network and
    /// minute (0: no limit).
    #[arg(long, default_value_t = config::DEFAULT_READS_PER_MINUTE)]
    pub reads_per_minute: u32,
    /// Client networks each rate limit tracks at once (beyond it, newcomers share one overflow bucket until a tracked one has refilled).
    #[arg(long, default_value_t = config::DEFAULT_MAX_TRACKED_NETWORKS)]
    pub max_tracked_networks: usize,
    /// Operator token for the admin endpoints (or env VIGIL_OPERATOR_TOKEN).
    #[arg(long)]
    pub operator_token: Option<String>,
    /// This collector's public base URL (announces its control to probes).
    #[arg(long)]
    pub public_url: Option<String>,
    /// A battery (TOML) handed to probes in their configuration.
    #[arg(long)]
    pub battery: Option<PathBuf>,
    /// A platform id probes may report besides the built-in battery's and --battery's
    /// (repeatable); summaries of other platforms are stored but kept off the timelines.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Read the client address from the last X-Forwarded-For entry, appended by the reverse proxy.
    #[arg(long)]
    pub trust_proxy: bool,
    /// A public address of this host the control must never fetch from (repeatable; the listen
    /// address and the public URL's addresses are always included).
    #[arg(long = "own-address")]
    pub own_addresses: Vec<std::net::IpAddr>,
    /// Whom the control serves: `enrolled` (requests signed by an enrolled probe), `open`
    /// (anyone: labs, public test helpers) or `off`.
    #[arg(long = "control", default_value_t = config::DEFAULT_CONTROL_MODE, value_name = "enrolled|open|off")]
    pub control_mode: config::ControlMode,
    /// How far a signed control request's time may be from this clock, seconds.
    #[arg(long, default_value_t = config::DEFAULT_CONTROL_CLOCK_TOLERANCE_SECS)]
    pub control_clock_tolerance_secs: u64,
    #[arg(long, default_value_t = config::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    #[arg(long, default_value_t = config::DEFAULT_MAX_BATCH)]
    pub max_batch: usize,
    #[arg(long, default_value_t = config::DEFAULT_FUTURE_TOLERANCE_SECS)]
    pub future_tolerance_secs: u64,
    /// The SQLite WAL's limit, bytes: past it the writer restarts the WAL between transactions.
    #[arg(long, default_value_t = config::DEFAULT_WAL_LIMIT_BYTES)]
    pub wal_limit_bytes: u64,
    /// The writer connection's SQLite page cache, bytes (1 MiB to 4 GiB).
    #[arg(long, default_value_t = config::DEFAULT_WRITER_CACHE_BYTES)]
    pub writer_cache_bytes: u64,
    /// Seconds a client has to send a request's whole header (also bounds a silent new connection).
    #[arg(long, default_value_t = config::DEFAULT_HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout_secs: u64,
    /// Seconds before a connection with no request in flight and no traffic is closed.
    #[arg(long, default_value_t = config::DEFAULT_IDLE_TIMEOUT_SECS)]
    pub idle_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body (then 408).
    #[arg(long, default_value_t = config::DEFAULT_BODY_TIMEOUT_SECS)]
    pub body_timeout_secs: u64,
    /// Connections served at once (more are answered 503 and closed); lowered to fit the
    /// descriptor limit.
    #[arg(long, default_value_t = config::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Detection parameters (TOML; `collector/detection.toml` lists them with their defaults).
    #[arg(long)]
    pub detection: Option<PathBuf>,
    #[command(flatten)]
    pub blockpages: BlockpageArgs,
}

/// `serve`'s blockpage discovery flags (docs/blockpage-discovery.md).
#[derive(Debug, clap::Args)]
pub struct BlockpageArgs {
    /// Blockpage candidates kept for discovery, the oldest dropped past it (0: discovery off;
    /// at most 100000).
    #[arg(long, default_value_t = config::DEFAULT_BLOCKPAGE_MAX_CANDIDATES)]
    pub blockpage_max_candidates: usize,
    /// A blockpage cluster is published when it spans this many probes ...
    #[arg(long, default_value_t = 2)]
    pub blockpage_min_probes: usize,
    /// ... or this many networks (country and ASN).
    #[arg(long, default_value_t = 2)]
    pub blockpage_min_networks: usize,
    /// Estimated Jaccard similarity (0.05..=1) two candidate pages need to join a cluster.
    #[arg(long, default_value_t = 0.3)]
    pub blockpage_similarity: f64,
}

impl ServeArgs {
    /// Validate into a `Config`.
    pub fn into_config(self) -> Result<Config, CollectorError> {
        let mut c = Config::new(self.data_dir);
        c.listen = self.listen;
        c.asn_db = self.asn_db;
        if self.enroll_tokens.iter().any(|t| t.trim().len() < 8) {
            return Err(CollectorError::Config("enroll tokens must be at least 8 characters".into()));
        }
        c.enroll_tokens = self.enroll_tokens;
        c.open_enrollment = self.open_enrollment;
        if self.open_enrollments_per_minute == 0 {
            // Unlike the other limits, 0 cannot mean "no limit" here: unlimited open enrollment
            // would let anyone enroll keys without bound (close it instead).
            return Err(CollectorError::Config(
                "--open-enrollments-per-minute must be at least 1 (to close open enrollment, leave out --open-enrollment)"
                    .into(),
            ));
        }
        c.open_enrollments_per_minute = self.open_enrollments_per_minute;
        c.control_per_minute = self.control_per_minute;
        c.enroll_per_minute = self.enroll_per_minute;
        c.reads_per_minute = self.reads_per_minute;
        c.control_per_key_per_minute = self.control_per_key_per_minute;
        c.control_auth_failures_per_minute = self.control_auth_failures_per_minute;
        if self.max_tracked_networks == 0 {
            return Err(CollectorError::Config("--max-tracked-networks must be positive".into()));
        }
        c.max_tracked_networks = self.max_tracked_networks;
        c.operator_token = self.operator_token.or_else(|| std::env::var("VIGIL_OPERATOR_TOKEN").ok());
        if c.operator_token.as_ref().is_some_and(|t| t.trim().len() < 16) {
            return Err(CollectorError::Config("the operator token must be at least 16 characters".into()));
        }
        if let Some(u) = &self.public_url {
            url::Url::parse(u).map_err(|e| CollectorError::Config(format!("--public-url {u:?}: {e}")))?;
        }
        c.public_url = self.public_url;
        if let Some(path) = &self.battery {
            let text = std::fs::read_to_string(path).map_err(|e| CollectorError::io("read", path, e))?;
            config::battery_platform_ids(&text)
                .map_err(|e| CollectorError::Config(format!("--battery {}: {e}", path.display())))?;
            c.battery_toml = Some(text);
        }
        for p in &self.platforms {
            vigil_report::limits::platform_id("--platform", p).map_err(|e| CollectorError::Config(e.to_string()))?;
        }
        c.platforms = self.platforms;
        c.trust_proxy = self.trust_proxy;
        c.own_addresses = self.own_addresses;
        c.control_mode = self.control_mode;
        c.control_clock_tolerance = Duration::from_secs(self.control_clock_tolerance_secs);
        if self.max_batch == 0 || self.max_body_bytes == 0 {
            return Err(CollectorError::Config("--max-batch and --max-body-bytes must be positive".into()));
        }
        c.max_body_bytes = self.max_body_bytes;
        c.max_batch = self.max_batch;
        c.future_tolerance = Duration::from_secs(self.future_tolerance_secs);
        if self.wal_limit_bytes < 1024 * 1024 {
            return Err(CollectorError::Config("--wal-limit-bytes must be at least 1 MiB (1048576)".into()));
        }
        c.wal_limit_bytes = self.wal_limit_bytes;
        if !(1024 * 1024..=4 * 1024 * 1024 * 1024).contains(&self.writer_cache_bytes) {
            return Err(CollectorError::Config(
                "--writer-cache-bytes must be from 1 MiB (1048576) to 4 GiB (4294967296)".into(),
            ));
        }
        c.writer_cache_bytes = self.writer_cache_bytes;
        if self.header_read_timeout_secs == 0
            || self.idle_timeout_secs == 0
            || self.body_timeout_secs == 0
            || self.max_connections == 0
        {
            return Err(CollectorError::Config(
                "--header-read-timeout-secs, --idle-timeout-secs, --body-timeout-secs and --max-connections must be \
                 positive"
                    .into(),
            ));
        }
        c.header_read_timeout = Duration::from_secs(self.header_read_timeout_secs);
        c.idle_timeout = Duration::from_secs(self.idle_timeout_secs);
        c.body_timeout = Duration::from_secs(self.body_timeout_secs);
        c.max_connections = self.max_connections;
        if let Some(path) = &self.detection {
            c.detection = config::load_detection(path)?;
        }
        if self.blockpages.blockpage_max_candidates > 100_000
            || !(0.05..=1.0).contains(&self.blockpages.blockpage_similarity)
            || self.blockpages.blockpage_min_probes == 0
            || self.blockpages.blockpage_min_networks == 0
        {
            return Err(CollectorError::Config(
                "--blockpage-max-candidates must be at most 100000, --blockpage-similarity within 0.05..=1, \
                 --blockpage-min-probes and --blockpage-min-networks positive"
                    .into(),
            ));
        }
        c.blockpage_max_candidates = self.blockpages.blockpage_max_candidates;
        c.blockpages.min_probes = self.blockpages.blockpage_min_probes;
        c.blockpages.min_networks = self.blockpages.blockpage_min_networks;
        c.blockpages.min_similarity = self.blockpages.blockpage_similarity;
        Ok(c)
    }
}

async fn serve(args: ServeArgs) -> Result<(), CollectorError> {
    let config = args.into_config()?;
    let listen = config.listen;
    let collector = Collector::open(config)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| CollectorError::Io {
        op: "bind",
        path: listen.to_string(),
        source: e,
    })?;
    let local =
        listener.local_addr().map_err(|e| CollectorError::Io { op: "bind", path: listen.to_string(), source: e })?;
    // Tests and scripts read this line to learn the port.
    println!("vigil-collector listening on {local}");
    collector.serve(listener, shutdown_signal()).await
}

async fn bind(listen: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), CollectorError> {
    let err = |e| CollectorError::Io { op: "bind", path: listen.to_string(), source: e };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

async fn run_demo(args: DemoArgs) -> Result<(), demo::DemoError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let end = match &args.end {
        Some(v) => demo::parse_end(v)?,
        None => now,
    };
    if end > now {
        return Err(demo::DemoError::Options(format!(
            "--end {}: in the future (ingest would refuse the measurements as future_timestamp)",
            crate::api_events::rfc3339(end)
        )));
    }
    let opts = demo::DemoOptions { end, days: args.days, probes: args.probes, seed: args.seed, step: args.step };
    opts.check()?;
    demo::refuse_real_data(&args.data_dir)?;
    let mut config = Config::new(&args.data_dir);
    config.listen = args.listen;
    if let Some(path) = &args.detection {
        config.detection = config::load_detection(path)?;
    }
    // The simulated probes stop reporting now; live detection would call them all silent.
    config.live_detection = false;
    // A fixed end: the pages show the simulated period as of its end, whatever the date.
    config.read_clock = args.end.is_some().then_some(end);
    // Bind before the long replay, so a busy port fails at once.
    let listener = if args.no_serve { None } else { Some(bind(args.listen).await?) };
    let base = format!("http://{}", listener.as_ref().map_or(args.listen, |l| l.1));
    let collector = Collector::open(config)?;
    let result = demo::load(&collector, &opts).await;
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || collector.close()).await;
            return Err(e);
        }
    };
    print!("{}", demo::summary(&result, &base));
    // Disclosures of the same truth, so the cross-check has something to show.
    match crate::demo_disclosures::write_and_import(&result.truth, result.spec.end(), &args.data_dir) {
        Ok((path, r)) => println!(
            "\nDisclosures: {} imported from {} ({} new); open {base}/disclosures or run\n  \
             vigil-collector disclosures reconcile --data-dir {}",
            r.inserted + r.updated + r.unchanged,
            path.display(),
            r.inserted,
            args.data_dir.display()
        ),
        Err(e) => eprintln!("demo: disclosures: {e}"),
    }
    drop(result);
    match listener {
        None => {
            tokio::task::spawn_blocking(move || collector.close())
                .await
                .map_err(|e| demo::DemoError::Read(e.to_string()))?;
            Ok(())
        }
        Some((listener, local)) => {
            println!(
                "vigil-collector listening on {local} (the demo data dir {}); Ctrl-C stops",
                args.data_dir.display()
            );
            Ok(collector.serve(listener, shutdown_signal()).await?)
        }
    }
}

fn verify_files(file: &PathBuf, keys: &PathBuf) -> ExitCode {
    let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()));
    let inputs = read(file).and_then(|m| Ok((m, read(keys)?))).and_then(|(m, k)| {
        Ok((
            verify::parse_envelopes(&m).map_err(|e| e.to_string())?,
            verify::parse_keys(&k).map_err(|e| e.to_string())?,
        ))
    });
    let (envelopes, keys) = match inputs {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vigil-collector verify: {e}");
            return ExitCode::from(2);
        }
    };
    let verdicts = verify::verify_all(&envelopes, &keys);
    for v in &verdicts {
        println!("{}", v.line());
    }
    let bad = verdicts.iter().filter(|v| v.result.is_err()).count();
    eprintln!("{} measurements, {} verified, {bad} failed", verdicts.len(), verdicts.len() - bad);
    if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn decoy(listen: SocketAddr, dir: &std::path::Path) -> ExitCode {
    use vigil_control::decoy;
    let config = match decoy::load_or_create(dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vigil-collector decoy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vigil-collector decoy: listen {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "vigil-collector decoy: listening on {listen}; probes pin {} (throttle.decoy_cert)",
        decoy::cert_path(dir).display()
    );
    decoy::serve(listener, config, shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Run the command line; the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => match serve(*args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigil-collector: {}: {e}", e.label());
                ExitCode::FAILURE
            }
        },
        Command::Decoy { listen, dir } => decoy(listen, &dir).await,
        Command::Verify { file, keys } => verify_files(&file, &keys),
        Command::Measurements { data_dir, limit, export, export_keys } => match inspect::recent(&data_dir, limit) {
            Ok(rows) => {
                print!("{}", inspect::table(&rows));
                let mut files = Vec::new();
                if let Some(path) = export {
                    files.push((path, Ok(inspect::envelopes_jsonl(&rows))));
                }
                if let Some(path) = export_keys {
                    files.push((path, inspect::keys_json(&data_dir)));
                }
                for (path, text) in files {
                    let written = text
                        .map_err(|e| e.to_string())
                        .and_then(|t| std::fs::write(&path, t).map_err(|e| format!("write {}: {e}", path.display())));
                    if let Err(e) = written {
                        eprintln!("vigil-collector measurements: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vigil-collector measurements: {}: {e}", e.label());
                ExitCode::FAILURE
            }
        },
        Command::Replay { file, data_dir, step, detection } => {
            let mut config = Config::new(data_dir);
            if let Some(path) = &detection {
                match config::load_detection(path) {
                    Ok(p) => config.detection = p,
                    Err(e) => {
                        eprintln!("vigil-collector replay: {}: {e}", e.label());
                        return ExitCode::from(2);
                    }
                }
            }
            match crate::replay::run_file(&file, config, step).await {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vigil-collector replay: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::ImportOoni(args) => {
            let config = match args.config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("vigil-collector import-ooni: {e}");
                    return ExitCode::from(2);
                }
            };
            match crate::ooni::run(&args.path, config, args.battery.as_deref()).await {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vigil-collector import-ooni: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo(args) => match run_demo(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigil-collector demo: {}: {e}", e.label());
                ExitCode::FAILURE
            }
        },
        Command::Disclosures { action } => crate::disclosures_cli::run(action),
        Command::Admin { action, collector, token } => {
            let Some(token) = token.or_else(|| std::env::var("VIGIL_OPERATOR_TOKEN").ok()) else {
                eprintln!("vigil-collector admin: --token or VIGIL_OPERATOR_TOKEN is required");
                return ExitCode::from(2);
            };
            let result = match &action {
                AdminAction::Probes => admin_client::probes(&collector, &token).await,
                AdminAction::Revoke { key_id } => admin_client::revoke(&collector, &token, key_id).await,
                AdminAction::RotateKey => admin_client::rotate_key(&collector, &token).await,
                AdminAction::Blockpages => admin_client::blockpages(&collector, &token).await,
                AdminAction::Promote { cluster_id, pattern } => {
                    admin_client::promote(&collector, &token, cluster_id, pattern.as_deref()).await
                }
                AdminAction::Withdraw { cluster_id } => admin_client::withdraw(&collector, &token, cluster_id).await,
            };
            match result {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vigil-collector admin: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ControlMode;

    /// `serve` with these flags: the configuration, or the command line's or the check's error.
    fn serve(extra: &[&str]) -> Result<Config, String> {
        let args = ["vigil-collector", "serve", "--data-dir", "/tmp/vigil-cli-test"].iter().chain(extra);
        match Cli::try_parse_from(args).map_err(|e| e.to_string())?.command {
            Command::Serve(args) => args.into_config().map_err(|e| e.to_string()),
            _ => unreachable!("serve parses as serve"),
        }
    }

    #[test]
    fn limits_and_platforms_come_from_flags_with_defaults() {
        let c = serve(&[]).unwrap();
        assert_eq!(
            (c.control_per_minute, c.enroll_per_minute, c.reads_per_minute, c.max_tracked_networks),
            (
                config::DEFAULT_CONTROL_PER_MINUTE,
                config::DEFAULT_ENROLL_PER_MINUTE,
                config::DEFAULT_READS_PER_MINUTE,
                config::DEFAULT_MAX_TRACKED_NETWORKS
            )
        );
        let flags = ["--control-per-minute", "1", "--enroll-per-minute", "2", "--reads-per-minute", "0"];
        let c = serve(&[&flags[..], &["--max-tracked-networks", "5", "--platform", "lab_1"]].concat()).unwrap();
        assert_eq!(
            (c.control_per_minute, c.enroll_per_minute, c.reads_per_minute, c.max_tracked_networks),
            (1, 2, 0, 5)
        );
        assert!(c.known_platforms().contains("lab_1"));
        let e = serve(&["--platform", "Not An Id"]).unwrap_err().to_string();
        assert!(e.contains("--platform must be 1 to 32 characters"), "{e}");
        assert!(serve(&["--max-tracked-networks", "0"]).is_err());
        let e = serve(&["--open-enrollment", "--open-enrollments-per-minute", "0"]).unwrap_err();
        assert!(e.contains("--open-enrollments-per-minute must be at least 1"), "{e}");
        assert_eq!(serve(&["--open-enrollments-per-minute", "1"]).unwrap().open_enrollments_per_minute, 1);
    }

    #[test]
    fn blockpage_discovery_bounds_are_flags_checked_at_start() {
        let c = serve(&[]).unwrap();
        assert_eq!(c.blockpage_max_candidates, config::DEFAULT_BLOCKPAGE_MAX_CANDIDATES);
        assert_eq!(c.blockpages, crate::blockpages_cluster::Params::default());
        let flags = ["--blockpage-max-candidates", "0", "--blockpage-min-probes", "3", "--blockpage-similarity", "0.6"];
        let c = serve(&flags).unwrap();
        assert_eq!((c.blockpage_max_candidates, c.blockpages.min_probes, c.blockpages.min_similarity), (0, 3, 0.6));
        for bad in [
            &["--blockpage-max-candidates", "100001"][..],
            &["--blockpage-similarity", "1.5"],
            &["--blockpage-similarity", "0"],
            &["--blockpage-min-networks", "0"],
        ] {
            let e = serve(bad).unwrap_err();
            assert!(e.contains("--blockpage-max-candidates must be at most 100000"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_bad_battery_file_is_refused_at_start_naming_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("battery.toml");
        let path = file.to_str().unwrap();
        for (text, problem) in [
            ("[[platform]\nid = 1", "not TOML"),
            ("[other]\nid = \"x\"\n", "no [[platform]] table"),
            ("[[platform]]\nname = \"x\"\n", "platform 1 has no string id"),
            ("[[platform]]\nid = \"lab_1\"\n[[platform]]\nid = \"Bad Id\"\n", "platform 2: platform id must be"),
            ("[[platform]]\nid = \"lab_1\"\n[[platform]]\nid = \"lab_1\"\n", "platform id \"lab_1\" is used twice"),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = serve(&["--battery", path]).unwrap_err().to_string();
            assert!(e.contains(&format!("--battery {path}: {problem}")), "{text:?}: {e}");
        }
        std::fs::write(&file, "[[platform]]\nid = \"lab_1\"\nname = \"Lab\"\n").unwrap();
        assert!(serve(&["--battery", path]).unwrap().known_platforms().contains("lab_1"));
    }

    #[test]
    fn the_writer_cache_is_a_bounded_flag() {
        assert_eq!(serve(&[]).unwrap().writer_cache_bytes, config::DEFAULT_WRITER_CACHE_BYTES);
        assert_eq!(serve(&["--writer-cache-bytes", "1048576"]).unwrap().writer_cache_bytes, 1 << 20);
        for bad in ["1048575", "4294967297"] {
            let e = serve(&["--writer-cache-bytes", bad]).unwrap_err();
            assert!(e.contains("--writer-cache-bytes must be from 1 MiB"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_control_mode_and_clock_tolerance_are_flags() {
        let c = serve(&[]).unwrap();
        assert_eq!((c.control_mode, c.control_clock_tolerance.as_secs()), (ControlMode::Enrolled, 600));
        let c = serve(&["--control", "open", "--control-clock-tolerance-secs", "30"]).unwrap();
        assert_eq!((c.control_mode, c.control_clock_tolerance.as_secs()), (ControlMode::Open, 30));
        assert_eq!(serve(&["--control", "off"]).unwrap().control_mode, ControlMode::Off);
        let c = serve(&[]).unwrap();
        assert_eq!(
            (c.control_per_key_per_minute, c.control_auth_failures_per_minute),
            (config::DEFAULT_CONTROL_PER_KEY_PER_MINUTE, config::DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE)
        );
        let c = serve(&["--control-per-key-per-minute", "7", "--control-auth-failures-per-minute", "0"]).unwrap();
        assert_eq!((c.control_per_key_per_minute, c.control_auth_failures_per_minute), (7, 0));
        let e = serve(&["--control", "public"]).unwrap_err();
        assert!(e.contains("--control") && e.contains("enrolled, open or off"), "{e}");
    }
}
