//! Replay benchmark (issue 16, item 7): a simulated 30-day fleet of 200 probes (20 ASNs in 5
//! countries, a shutdown and a block in it) written as replay JSON Lines, then `replay` of its
//! first N lines from the file at `--step 300` into SQLite in a temporary directory: lines per
//! second, peak RSS of the replay alone, and where the time went (index, store, detection).
//!
//! `cargo bench -p vigil-collector --bench replay --profile bench-fast` (environment:
//! `VIGIL_BENCH_LINES`, default 40000, 0 for the whole file; `VIGIL_BENCH_DAYS`, default 30;
//! `VIGIL_BENCH_PROBES`, default 200; `VIGIL_BENCH_STEP`, default 300; `VIGIL_BENCH_WRITER_CACHE`,
//! the writer's page cache in bytes, default the collector's).
//!
//! Issue 16's goal is 10,000 lines/s at step 300 on the whole month (`VIGIL_BENCH_LINES=0`:
//! 4.0 million lines, about 7 minutes on 2 shared cores: 9,431-10,350 lines/s on 2026-12-08,
//! 4,954 the day before);
//! the default N is a quick look (the first 8 hours: the database and the window still small).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use vigil_collector::replay::{ReplayOptions, replay_file};
use vigil_collector::{Collector, Config};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};

/// 2025-01-01 00:00 UTC: fixed, and in the past (ingest refuses future times).
const T0: i64 = 1_735_689_600;
const D: i64 = 86_400;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `VmHWM` (peak resident set) of this process, KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Set in the child process that replays the file (so its peak RSS is the replay's alone).
const CHILD: &str = "VIGIL_BENCH_REPLAY_FILE";

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Ok(path) = std::env::var(CHILD) {
        replay(Path::new(&path), env("VIGIL_BENCH_STEP", 300));
        return;
    }
    let limit = env("VIGIL_BENCH_LINES", 40_000) as usize;
    let days = env("VIGIL_BENCH_DAYS", 30);
    let probes = env("VIGIL_BENCH_PROBES", 200) as usize;
    let step = env("VIGIL_BENCH_STEP", 300);
    let countries: Vec<CountrySpec> = ["AA", "BB", "CC", "DD", "EE"]
        .iter()
        .enumerate()
        .map(|(i, cc)| CountrySpec { cc: cc.to_string(), asns: (0..4).map(|a| 100 + 10 * i as u32 + a).collect() })
        .collect();
    let spec = FleetSpec::new(16, T0, days, probes, countries);
    let truth = [
        TruthEvent {
            cc: "AA".into(),
            asn: Some(100),
            kind: TruthKind::Shutdown,
            start: T0 + 3 * D,
            end: T0 + 3 * D + 6 * 3600,
        },
        TruthEvent {
            cc: "BB".into(),
            asn: Some(111),
            kind: TruthKind::Block { platform: "telegram".into(), mechanism: vigil_report::Mechanism::TlsSniReset },
            start: T0 + D,
            end: T0 + 9 * D,
        },
    ];
    let t = Instant::now();
    let fleet = simulate(&spec, &truth);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("fleet.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let (mut total, mut written, mut bytes) = (0usize, 0usize, 0usize);
    let mut span = (i64::MAX, i64::MIN);
    for o in &fleet.observations {
        let Some(m) = measurement_json(o) else { continue };
        total += 1;
        if limit > 0 && written >= limit {
            continue;
        }
        let line = json!({"probe": o.probe, "received_at": o.received_at, "measurement": m}).to_string();
        writeln!(out, "{line}").expect("write");
        written += 1;
        bytes += line.len() + 1;
        span = (span.0.min(o.received_at), span.1.max(o.received_at));
    }
    out.flush().expect("flush");
    drop(out);
    drop(fleet);
    println!(
        "fleet: {days} days, {probes} probes: {total} replay lines ({:.1} s to simulate and write); \
         replaying the first N = {written} ({:.1} MB, {:.2} days of recorded time) at --step {step}",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        (span.1 - span.0) as f64 / D as f64
    );

    // The replay in a fresh process: the simulator's memory is not counted.
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .env(CHILD, &path)
        .status()
        .expect("runs the replay");
    assert!(status.success(), "the replay failed: {status}");
}

fn replay(path: &Path, step: i64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let before = peak_rss_kib().unwrap_or(0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("data");
    let (report, wall) = runtime.block_on(async {
        let mut config = Config::new(&db);
        let cache = env("VIGIL_BENCH_WRITER_CACHE", 0);
        if cache > 0 {
            config.writer_cache_bytes = cache as u64;
        }
        let collector = Collector::open(config).expect("opens");
        let state = collector.state().clone();
        let opts = ReplayOptions { step, source: "replay", progress: false };
        let t = Instant::now();
        let report = replay_file(&state, path, opts).await.expect("replays");
        let wall = t.elapsed();
        drop(state);
        tokio::task::spawn_blocking(move || collector.close()).await.expect("close");
        (report, wall)
    });
    let peak = peak_rss_kib().unwrap_or(0);
    let secs = wall.as_secs_f64();
    println!(
        "replay: {} lines in {secs:.1} s = {:.0} lines/s ({:.0} us per line); goal 10000 lines/s",
        report.lines,
        report.lines as f64 / secs,
        1e6 * secs / report.lines.max(1) as f64
    );
    println!(
        "  stored {}, rejected {}, duplicates {}; {} detection passes, {} steps skipped; {} events, {} revisions",
        report.accepted,
        report.rejected.len(),
        report.duplicates,
        report.passes,
        report.skipped_steps,
        report.new_events,
        report.revisions
    );
    let tm = report.timings;
    let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / secs;
    println!(
        "  phases: index {:.2} s ({:.0}%), sign+check+store {:.2} s ({:.0}%), detection {:.2} s ({:.0}%, {:.1} ms per pass)",
        tm.index.as_secs_f64(),
        pct(tm.index),
        tm.store.as_secs_f64(),
        pct(tm.store),
        tm.detect.as_secs_f64(),
        pct(tm.detect),
        1e3 * tm.detect.as_secs_f64() / report.passes.max(1) as f64
    );
    println!(
        "  peak RSS of the replay process: {:.0} MB (at its start {:.0} MB)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
