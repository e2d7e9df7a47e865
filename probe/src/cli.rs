//! The `vigil-probe` command line: parse arguments, load the configuration, call the library.
//!
//! Exit codes: 0 = done (for `check`: no blocking found); 1 = `check` found blocking; 2 = bad
//! usage or configuration; 3 = the probe could not run (e.g. TLS setup failed).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::battery::{Battery, Input};
use crate::config::{Config, parse_resolver};
use crate::measure::Origin;
use crate::{output, runner};

pub const EXIT_OK: i32 = 0;
pub const EXIT_BLOCKING_FOUND: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_RUNTIME: i32 = 3;

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
    /// Run the platform battery from a configuration file.
    Run(RunArgs),
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
}

/// Run the command line; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Check(args) => check(args).await,
        Command::Run(args) => run(args).await,
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
        Ok(e) => Arc::new(e),
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
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

async fn run(args: RunArgs) -> i32 {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    if !args.once {
        return fail(EXIT_USAGE, "only --once is supported yet: schedule runs with cron, procd or a systemd timer");
    }
    let battery = match &config.battery.file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match Battery::from_toml(&text) {
                Ok(b) => b,
                Err(e) => return fail(EXIT_USAGE, format!("battery.file {}: {e}", path.display())),
            },
            Err(e) => return fail(EXIT_USAGE, format!("battery.file {}: {e}", path.display())),
        },
        None => Battery::builtin(),
    };
    let battery = if config.battery.platforms.is_empty() {
        battery
    } else {
        match battery.select(&config.battery.platforms) {
            Ok(b) => b,
            Err(e) => return fail(EXIT_USAGE, format!("battery.platforms: {e}")),
        }
    };
    let engine = match runner::engine(&config) {
        Ok(e) => Arc::new(e),
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let total = battery.platforms.iter().map(|p| p.endpoints.len()).sum::<usize>();
    let json = args.json;
    let mut done = 0usize;
    let out = runner::run_battery(engine, &battery, config.network.concurrency, |m| {
        done += 1;
        if json {
            print_json(m);
        } else {
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
