//! The shutdown scenario (`flow = "shutdown"`): the real `vigil-collector` runs in the internet
//! namespace with detection on; four probes behind the ISP enroll with it. Three run the daemon
//! (`vigil-probe run`, a heartbeat every [`HEARTBEAT_S`] s); the fourth runs its battery by hand.
//! Then the ISP drops every packet (the scenario's `censor` lines): the daemons' heartbeats stop
//! and the collector must publish a provisional shutdown of the probes' ASN within a few
//! heartbeat intervals (the detection latency is reported); meanwhile the fourth probe runs its
//! battery, signs and spools every measurement, and fails to upload. Then the network comes back
//! (`restore`): the daemons deliver their spooled evidence as soon as a heartbeat gets through,
//! `vigil-probe upload` delivers the rest, and the event must be confirmed with its start and end
//! within two heartbeat intervals of the truth. The collector must hold every measurement made
//! during the outage, measured during it and received after it, with valid signatures, the
//! probes' network as origin and never their address. The probes still ask the lab's own control
//! (the collector's control refuses lab addresses).
//!
//! The daemons' heartbeats during the outage are spooled with their `network_down` records and
//! uploaded on the return: the collector must hold them (measured during the outage, received
//! after), and publish one shutdown per scope (no fragment), its end within two heartbeat
//! intervals of the return once everything is in. Last, the daemons are stopped with SIGTERM
//! (as `systemctl stop` or procd do): each must exit within [`STOP_BOUND`] and the collector must
//! hold its last words (a heartbeat with `stopping`).
//!
//! The battery is the scenario's targets, each a platform of its own; the first is the neutral
//! control. The verdicts compared with the targets are those the collector stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;

use crate::LabError;
use crate::host::ca_path;
use crate::run::{Bins, ProbeRun, by_input};
use crate::scenario::{Scenario, Target};
use crate::topology::{Role, Topology};
use crate::world::{INET_IP, ISP_IP, LAB_NET, PROBE_IP, World};
use vigil_collector::Config;
use vigil_collector::api_events::{EventFilter, EventRecord};
use vigil_collector::store::ReadPool;

/// Battery runs during the outage.
const RUNS: usize = 2;
/// After a run spooled its measurements, how long its upload may take to fail on its own.
const UPLOAD_GRACE: Duration = Duration::from_secs(2);
pub(crate) const TOKEN: &str = "lab-enroll-token";
pub(crate) const COLLECTOR_PORT: u16 = 8080;
/// The probe's network as the collector's ASN file says (`asn.csv`).
pub(crate) const PROBE_ASN: &str = "AS64510";
pub(crate) const PROBE_CC: &str = "IR";
/// The heartbeat interval of the lab's probes and the collector's detection (s): the field's
/// 300 s scaled down a hundredfold, with every detection window scaled alike
/// ([`LAB_DETECTION`]), so the lab measures detection latency in heartbeat intervals.
pub(crate) const HEARTBEAT_S: i64 = 3;
/// The collector's detection parameters in the lab (the rest are the defaults).
pub(crate) const LAB_DETECTION: &str = "heartbeat_interval = 3
active_window = 60
live_window = 4
spool_grace = 60
battery_interval = 60
report_window = 120
throttle_agree_window = 120
";
/// The shutdown flow's detection: [`LAB_DETECTION`] with `live_window` scaled like every other
/// window, the field's 600 s a hundredfold down (6 s, two heartbeat intervals; the other flows
/// keep 4 s). Heartbeats spooled in the outage's last 6 s and uploaded on the return then look
/// live, as in the field (issue 16, D1).
fn shutdown_detection() -> String {
    LAB_DETECTION.replace("live_window = 4\n", "live_window = 6\n")
}

/// Probes that run the daemon (heartbeats) through the shutdown: the default detection wants
/// three silent together.
const DAEMONS: [&str; 3] = ["b", "c", "d"];
/// A daemon stopped with SIGTERM exits within this (its last words included: the probe's
/// `daemon::LAST_WORDS_MAX`).
const STOP_BOUND: Duration = Duration::from_secs(4);
/// After the daemons drained their spools, how long the collector gets to run detection over it
/// (it runs a pass 10 s after an upload) before the published events are counted.
const SETTLE: Duration = Duration::from_secs(12);

/// Run the shutdown flow; the measurements returned are those the collector received.
pub async fn run(
    topo: &Topology,
    scenario: &Scenario,
    world: &World,
    bins: &Bins,
    dir: &Path,
    targets: &[Target],
) -> Result<ProbeRun, LabError> {
    let lab = LabCollector::start_with(topo, bins, dir, &platform_ids(targets), &shutdown_detection()).await?;
    let battery = write(dir, "battery.toml", battery_toml(targets, 1))?;
    let config = write(dir, "probe.toml", probe_toml(world, dir, &battery, scenario.timeout_ms, "state"))?;
    let config = config.display().to_string();
    let probe = Probe { topo, bin: &bins.probe, dir, config: &config };
    lab.enroll(&probe).await?;

    // Three more volunteers behind the same ISP run the daemon: their heartbeats stop with
    // the network, which is what the collector detects.
    let mut daemons = Vec::new();
    for name in DAEMONS {
        let config =
            write(dir, &format!("probe-{name}.toml"), probe_toml(world, dir, &battery, scenario.timeout_ms, name))?;
        let config = config.display().to_string();
        lab.enroll(&Probe { topo, bin: &bins.probe, dir, config: &config }).await?;
        daemons.push((start_daemon(topo, &bins.probe, dir, &config, name)?, config));
    }
    lab.wait_for_heartbeats(DAEMONS.len(), 3, Duration::from_secs(60)).await?;

    // The outage: every run measures, signs and spools; no upload can get through.
    let outage_started = SystemTime::now();
    let cut = unix(outage_started);
    let until = Instant::now() + Duration::from_secs(scenario.outage_s);
    for line in &scenario.censor {
        topo.sh(Role::Isp, line).await?;
    }
    // Watch the collector publish the shutdown while the outage lasts.
    let watcher = {
        let data = lab.data.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(events) = events(&data)
                    && let Some(e) = events.into_iter().find(|e| e.kind == "shutdown")
                {
                    return (SystemTime::now(), e);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let mut out = ProbeRun::default();
    let mut outage_ids = Vec::new();
    for n in 1..=RUNS {
        let limit = Duration::from_millis(scenario.timeout_ms * 8 + 20_000);
        let run = probe.run_once(limit).await?;
        out.notes.push(format!("outage run {n}: {}", run.note));
        out.exit_code = out.exit_code.max(run.exit_code.unwrap_or(0));
        for m in run.stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
            outage_ids.push(m["id"].as_str().unwrap_or_default().to_string());
            if m["test_name"] == "vigil_platform" && m["test_keys"]["status"] != "network_down" {
                out.failures.push(format!(
                    "run {n}: platform {} is {}, not network_down",
                    m["input"], m["test_keys"]["status"]
                ));
            }
        }
        out.stdout += &run.stdout;
    }
    let spooled = probe.spooled().await?;
    if spooled != outage_ids.len() as u64 {
        out.failures.push(format!("{spooled} measurements spooled during the outage, {} printed", outage_ids.len()));
    }
    // Keep the outage on for outage_s, and at least a second after the last measurement.
    tokio::time::sleep_until(until.max(Instant::now() + Duration::from_secs(1)).into()).await;
    let restored = SystemTime::now();
    for line in &scenario.restore {
        topo.sh(Role::Isp, line).await?;
    }
    out.notes.push(format!("outage: {:.1} s, {} measurements spooled", secs(outage_started, restored), spooled));
    match tokio::time::timeout(Duration::from_millis(100), watcher).await {
        Ok(Ok((seen, e))) => {
            let latency = secs(outage_started, seen);
            out.notes.push(format!(
                "detection latency: {latency:.1} s = {:.2} heartbeat intervals (shutdown {} published during the outage)",
                latency / HEARTBEAT_S as f64,
                e.status
            ));
            if latency > 4.0 * HEARTBEAT_S as f64 {
                out.failures.push(format!("the shutdown was published {latency:.1} s after it began"));
            }
        }
        _ => out.failures.push("no shutdown event was published during the outage".into()),
    }

    // The network is back: the spool drains to the collector.
    let upload = probe.output(&["upload", "--config", &config]).await?;
    let said = String::from_utf8_lossy(&upload.stdout).trim().to_string();
    out.notes.push(format!("after the outage: vigil-probe upload: {said} (exit {:?})", upload.status.code()));
    if !upload.status.success() {
        out.failures.push(format!("vigil-probe upload exited {:?}: {}", upload.status.code(), lossy(&upload.stderr)));
    }
    let left = probe.spooled().await?;
    if left != 0 {
        out.failures.push(format!("{left} measurements still in the spool after the upload"));
    }
    // The daemons deliver their spooled evidence as soon as a heartbeat gets through; the
    // event is then confirmed and ends.
    let back = unix(restored);
    let event = lab
        .wait_for_event(Duration::from_secs(60), |e| e.kind == "shutdown" && e.end.is_some() && e.status == "confirmed")
        .await;
    for (_, config) in &mut daemons {
        let daemon = Probe { topo, bin: &bins.probe, dir, config };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut left = daemon.spooled().await?;
        while left != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            left = daemon.spooled().await?;
        }
        if left != 0 {
            out.failures.push(format!("a daemon still holds {left} measurements 20 s after the outage"));
        }
    }
    // The daemons' outage evidence: spooled heartbeats and network_down, uploaded on the return.
    let spooled = spooled_evidence(&lab.data, cut, back);
    out.notes.push(format!(
        "daemons: {} heartbeats and {} network_down records made during the outage, all received after it{}",
        spooled.heartbeats,
        spooled.network_down,
        if spooled.early > 0 { format!(" but {} received before the return", spooled.early) } else { String::new() }
    ));
    if spooled.heartbeats < DAEMONS.len() || spooled.network_down < DAEMONS.len() || spooled.early > 0 {
        out.failures.push(format!(
            "the daemons' spooled outage evidence: {} heartbeats, {} network_down ({} received during the outage); \
             expected at least one of each per daemon, all after the return",
            spooled.heartbeats, spooled.network_down, spooled.early
        ));
    }
    // Everything is in: one shutdown per scope, its end within two heartbeat intervals.
    tokio::time::sleep(SETTLE).await;
    let all = events(&lab.data).unwrap_or_default();
    let mut per_scope: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for e in all.iter().filter(|e| e.kind == "shutdown" && e.status != "retracted") {
        let scope = format!("{}{}", e.scope.cc, e.scope.asn.map(|a| format!(" AS{a}")).unwrap_or_default());
        let end = e.end.as_deref().map(|t| format!("{:+} s", at(t) - back)).unwrap_or_else(|| "open".into());
        per_scope.entry(scope).or_default().push(format!(
            "{} {} start {:+} s end {end} rev {}",
            e.id,
            e.status,
            at(&e.start) - cut,
            e.revision
        ));
    }
    out.notes.push(format!("shutdown events per scope once everything is in: {per_scope:?}"));
    for (scope, list) in &per_scope {
        if list.len() > 1 {
            out.failures.push(format!("{} shutdown events for {scope} (one outage): {list:?}", list.len()));
        }
    }
    // The event that began with the outage (a fragment after it is counted above), as revised.
    let event = match event {
        Some(first) => {
            let last = all
                .iter()
                .filter(|e| e.kind == "shutdown" && e.status != "retracted" && e.scope == first.scope)
                .min_by_key(|e| at(&e.start))
                .cloned();
            if let Some(last) = &last
                && (last.id != first.id || last.end != first.end)
            {
                out.notes.push(format!(
                    "first confirmed {}, end {:?}; once everything is in {}, end {:?} (revision {} -> {})",
                    first.id,
                    first.end.as_deref().map(|t| at(t) - back),
                    last.id,
                    last.end.as_deref().map(|t| at(t) - back),
                    first.revision,
                    last.revision
                ));
            }
            last.or(Some(first))
        }
        None => None,
    };
    // The last words: SIGTERM, a bounded stop, and the collector holds a `stopping` heartbeat.
    let mut slowest = Duration::ZERO;
    for (child, _) in &mut daemons {
        match terminate(child).await {
            Ok(took) => slowest = slowest.max(took),
            Err(why) => out.failures.push(why),
        }
    }
    let stopping = wait_for_last_words(&lab.data, DAEMONS.len(), Duration::from_secs(5)).await;
    out.notes.push(format!(
        "SIGTERM: the daemons exited within {} ms; {stopping} of {} last words (stopping heartbeats) stored",
        slowest.as_millis(),
        DAEMONS.len()
    ));
    if slowest > STOP_BOUND {
        out.failures.push(format!("a daemon took {slowest:?} to stop after SIGTERM, more than {STOP_BOUND:?}"));
    }
    if stopping != DAEMONS.len() {
        out.failures.push(format!("{stopping} stopping heartbeats stored for {} daemons stopped", DAEMONS.len()));
    }
    match event {
        Some(e) => {
            let (start, end) = (at(&e.start), e.end.as_deref().map(at).unwrap_or_default());
            out.notes.push(format!(
                "published: shutdown {} AS{:?}, start {:+} s (±{} s), end {:+} s, {} probes, {} measurements, confidence {:.2}, \
                 revision {}",
                e.scope.cc,
                e.scope.asn.unwrap_or_default(),
                start - cut,
                e.start_uncertainty,
                end - back,
                e.probes,
                e.measurements,
                e.confidence,
                e.revision
            ));
            if e.scope.cc != PROBE_CC || e.scope.asn.map(|a| format!("AS{a}")).as_deref() != Some(PROBE_ASN) {
                out.failures.push(format!("shutdown scope {:?}, expected {PROBE_CC} {PROBE_ASN}", e.scope));
            }
            for (what, error) in [("start", start - cut), ("end", end - back)] {
                if error.abs() > 2 * HEARTBEAT_S {
                    out.failures.push(format!("shutdown {what} is {error:+} s off, more than 2 heartbeat intervals"));
                }
            }
        }
        None => {
            let all = events(&lab.data).unwrap_or_default();
            let said: Vec<String> =
                all.iter().map(|e| format!("{} {} end {:?} rev {}", e.kind, e.status, e.end, e.revision)).collect();
            out.failures.push(format!("no confirmed shutdown event with an end after the outage (events: {said:?})"));
        }
    }

    let stored = stored(lab.bin, &lab.data, dir).await?;
    let (from, to) = (utc(outage_started), utc(restored));
    let mut late = 0;
    for id in &outage_ids {
        let Some(row) = stored.get(id) else {
            out.failures.push(format!("measurement {id} made during the outage is not in the collector"));
            continue;
        };
        let received = row.received.get(..19).unwrap_or_default().replace('T', " ");
        if row.measured < from || row.measured > to {
            out.failures.push(format!("{id}: measured {}, not during the outage ({from} .. {to})", row.measured));
        }
        if received < to || received <= row.measured {
            out.failures.push(format!("{id}: received {received}, not after the outage ended ({to})"));
        } else {
            late += 1;
        }
        if row.asn != PROBE_ASN || row.cc != PROBE_CC {
            out.failures.push(format!("{id}: origin {} {}, expected {PROBE_ASN} {PROBE_CC}", row.asn, row.cc));
        }
        out.measurements.extend(by_input(&row.payload));
    }
    out.notes.push(format!("collector: {late} of {} measurements received late, after the outage", outage_ids.len()));
    check_privacy(&lab.data, &mut out.failures);
    Ok(out)
}

pub(crate) fn write(dir: &Path, name: &str, text: String) -> Result<PathBuf, LabError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| LabError::io(format!("write {}", path.display()), e)).map(|_| path)
}

/// The real `vigil-collector` in the internet namespace, with the lab's detection parameters.
pub(crate) struct LabCollector<'a> {
    pub bin: &'a Path,
    pub data: PathBuf,
    pub url: String,
    _child: Child,
}

impl<'a> LabCollector<'a> {
    /// Start the collector; `platforms` are the lab battery's ids (the collector keeps the
    /// summaries of platforms it does not know off its timelines and events).
    pub async fn start(
        topo: &Topology,
        bins: &'a Bins,
        dir: &Path,
        platforms: &[String],
    ) -> Result<LabCollector<'a>, LabError> {
        Self::start_with(topo, bins, dir, platforms, LAB_DETECTION).await
    }

    /// [`LabCollector::start`] with these detection parameters.
    pub async fn start_with(
        topo: &Topology,
        bins: &'a Bins,
        dir: &Path,
        platforms: &[String],
        detection: &str,
    ) -> Result<LabCollector<'a>, LabError> {
        let Some(bin) = &bins.collector else {
            return Err(LabError::MissingBinary {
                path: "vigil-collector".into(),
                hint: "this scenario runs the real collector: `cargo build -p vigil-collector`".into(),
            });
        };
        let asn_db = write(dir, "asn.csv", format!("10.77.1.0/24,{},{PROBE_CC}\n", &PROBE_ASN[2..]))?;
        let detection = write(dir, "detection.toml", detection.to_string())?;
        let data = dir.join("collector");
        let child = start_collector(topo, bin, &data, &asn_db, &detection, dir, platforms).await?;
        Ok(LabCollector { bin, data, url: format!("http://{INET_IP}:{COLLECTOR_PORT}"), _child: child })
    }

    pub async fn enroll(&self, probe: &Probe<'_>) -> Result<(), LabError> {
        let args = ["enroll", "--config", probe.config, "--collector", &self.url, "--token", TOKEN];
        let enroll = probe.output(&args).await?;
        if !enroll.status.success() {
            let why = String::from_utf8_lossy(&enroll.stderr).trim().to_string();
            return Err(LabError::Other(format!("vigil-probe enroll with {} failed: {why}", self.url)));
        }
        Ok(())
    }

    /// Wait until `probes` probes each have `beats` heartbeats stored.
    async fn wait_for_heartbeats(&self, probes: usize, beats: i64, limit: Duration) -> Result<(), LabError> {
        let pool = ReadPool::new(Config::new(&self.data).db_path());
        let deadline = Instant::now() + limit;
        loop {
            let counts: Vec<i64> = pool
                .with(|c| {
                    let mut stmt = c.prepare(
                        "SELECT COUNT(*) FROM observations WHERE test_name = 'vigil_heartbeat' GROUP BY key_id",
                    )?;
                    stmt.query_map([], |r| r.get(0))?.collect()
                })
                .unwrap_or_default();
            if counts.iter().filter(|n| **n >= beats).count() >= probes {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout(format!(
                    "{probes} probes with {beats} heartbeats each not seen by the collector in {} s (saw {counts:?})",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The first published event `wanted` accepts within `limit`.
    pub async fn wait_for_event(&self, limit: Duration, wanted: impl Fn(&EventRecord) -> bool) -> Option<EventRecord> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = events(&self.data).ok().and_then(|all| all.into_iter().find(|e| wanted(e))) {
                return Some(e);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// What the daemons spooled during the outage and the collector received.
struct SpooledEvidence {
    heartbeats: usize,
    network_down: usize,
    /// Of those, received before the return (they were not spooled).
    early: usize,
}

/// The heartbeats and connectivity checks (`network_down`) the collector holds that were made
/// during the outage (after the second `cut`, before the second `back`).
fn spooled_evidence(data: &Path, cut: i64, back: i64) -> SpooledEvidence {
    let pool = ReadPool::new(Config::new(data).db_path());
    let rows: Vec<(String, i64)> = pool
        .with(|c| {
            let mut stmt = c.prepare(
                "SELECT test_name, received_at FROM observations WHERE at > ?1 AND at < ?2 \
                 AND (test_name = 'vigil_heartbeat' OR (platform = 'controls' AND status = 'network_down'))",
            )?;
            stmt.query_map([cut, back], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })
        .unwrap_or_default();
    SpooledEvidence {
        heartbeats: rows.iter().filter(|(t, _)| t == "vigil_heartbeat").count(),
        network_down: rows.iter().filter(|(t, _)| t != "vigil_heartbeat").count(),
        early: rows.iter().filter(|(_, r)| *r < back).count(),
    }
}

/// SIGTERM a daemon; how long it took to exit (an error past [`STOP_BOUND`] twice: it is killed).
async fn terminate(child: &mut Child) -> Result<Duration, String> {
    let Some(pid) = child.id() else { return Err("a daemon had already exited before SIGTERM".into()) };
    let sent = Instant::now();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
    if !kill.is_ok_and(|s| s.success()) {
        return Err(format!("kill -TERM {pid} failed"));
    }
    match tokio::time::timeout(2 * STOP_BOUND, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(sent.elapsed()),
        Ok(Ok(status)) => Err(format!("a daemon exited {status} after SIGTERM, not 0")),
        Ok(Err(e)) => Err(format!("waiting for a daemon: {e}")),
        Err(_) => {
            let _ = child.start_kill();
            Err(format!("a daemon did not exit within {:?} of SIGTERM", 2 * STOP_BOUND))
        }
    }
}

/// Wait until `probes` probes each have a heartbeat saying `stopping` stored (at most `limit`);
/// how many have.
async fn wait_for_last_words(data: &Path, probes: usize, limit: Duration) -> usize {
    let pool = ReadPool::new(Config::new(data).db_path());
    let deadline = Instant::now() + limit;
    loop {
        let n: i64 = pool
            .with(|c| {
                c.query_row(
                    "SELECT COUNT(DISTINCT key_id) FROM observations WHERE test_name = 'vigil_heartbeat' \
                     AND meta LIKE '%\"stopping\":true%'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0);
        if n as usize >= probes || Instant::now() > deadline {
            return n as usize;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The events the collector has published (read from its database, as the API would list them).
pub(crate) fn events(data: &Path) -> Result<Vec<EventRecord>, String> {
    let pool = ReadPool::new(Config::new(data).db_path());
    pool.with(|c| vigil_collector::api_events::list(c, &EventFilter::default())).map_err(|e| e.to_string())
}

/// `vigil-probe run` (the daemon) in the probe's namespace; stopped when dropped.
fn start_daemon(topo: &Topology, bin: &Path, dir: &Path, config: &str, name: &str) -> Result<Child, LabError> {
    let log = dir.join(format!("probe-{name}.stderr"));
    let log = std::fs::File::create(&log).map_err(|e| LabError::io(format!("create {}", log.display()), e))?;
    topo.command(Role::Probe, bin)
        .args(["run", "--config", config])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| LabError::io(format!("start {}", bin.display()), e))
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An RFC 3339 time as Unix seconds.
pub(crate) fn at(rfc3339: &str) -> i64 {
    vigil_collector::events::rfc3339_to_unix(rfc3339).unwrap_or_default()
}

/// `vigil-probe` in the probe's namespace.
pub(crate) struct Probe<'a> {
    pub topo: &'a Topology,
    pub bin: &'a Path,
    pub dir: &'a Path,
    pub config: &'a str,
}

/// One `run --once` during the outage.
struct OutageRun {
    stdout: String,
    /// `None` when the probe had to be stopped while its upload waited.
    exit_code: Option<i32>,
    note: String,
}

impl Probe<'_> {
    fn stderr(&self) -> Result<std::fs::File, LabError> {
        let path = self.dir.join("probe.stderr");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        file.map_err(|e| LabError::io(format!("open {}", path.display()), e))
    }

    pub async fn output(&self, args: &[&str]) -> Result<std::process::Output, LabError> {
        let mut cmd = self.topo.command(Role::Probe, self.bin);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
            .await
            .map_err(|_| LabError::Timeout(format!("vigil-probe {args:?} did not finish in 90 s")))?
            .map_err(|e| LabError::io(format!("run {}", self.bin.display()), e))?;
        use std::io::Write;
        let _ = self.stderr()?.write_all(&out.stderr);
        Ok(out)
    }

    /// Measurements in the spool (`vigil-probe status --json`).
    pub async fn spooled(&self) -> Result<u64, LabError> {
        let out = self.output(&["status", "--config", self.config, "--json"]).await?;
        let status: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| LabError::Other(format!("vigil-probe status --json: {e}: {}", lossy(&out.stderr))))?;
        Ok(status["spool"]["measurements"].as_u64().unwrap_or(0))
    }

    /// `run --once --json`: wait until the run is spooled, then give its upload `UPLOAD_GRACE`
    /// to fail; if it is still waiting for the unreachable collector, stop the probe (the spool
    /// already holds everything: a stopped upload loses nothing).
    async fn run_once(&self, limit: Duration) -> Result<OutageRun, LabError> {
        let mut child = self.topo.command(Role::Probe, self.bin);
        child.args(["run", "--config", self.config, "--once", "--json"]);
        let mut child = child
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LabError::io(format!("start {}", self.bin.display()), e))?;
        let started = Instant::now();
        let mut stdout = child.stdout.take().ok_or_else(|| LabError::Other("vigil-probe has no stdout".into()))?;
        let reader = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text).await;
            text
        });
        let stderr = child.stderr.take().ok_or_else(|| LabError::Other("vigil-probe has no stderr".into()))?;
        let mut lines = BufReader::new(stderr).lines();
        let mut log = String::new();
        let spooled = tokio::time::timeout(limit, async {
            while let Ok(Some(line)) = lines.next_line().await {
                log += &format!("{line}\n");
                if line.contains("spooled") {
                    return true;
                }
            }
            false
        })
        .await;
        if spooled != Ok(true) {
            let _ = child.start_kill();
            return Err(LabError::Other(format!("vigil-probe run --once did not spool its measurements: {log}")));
        }
        let measured = started.elapsed();
        let rest = tokio::spawn(async move {
            let mut rest = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest += &format!("{line}\n");
            }
            rest
        });
        let (exit_code, how) = match tokio::time::timeout(UPLOAD_GRACE, child.wait()).await {
            Ok(Ok(status)) => (status.code(), format!("exit {:?}", status.code())),
            _ => {
                let _ = child.kill().await;
                (None, format!("upload still waiting after {} s: probe stopped", UPLOAD_GRACE.as_secs()))
            }
        };
        log += &rest.await.unwrap_or_default();
        use std::io::Write;
        let _ = self.stderr()?.write_all(log.as_bytes());
        let stdout = reader.await.unwrap_or_default();
        let upload = log.lines().find(|l| l.contains("upload failed")).map(|_| "upload failed, kept in the spool; ");
        let note = format!("measured and spooled in {:.1} s; {}{how}", measured.as_secs_f64(), upload.unwrap_or(""));
        Ok(OutageRun { stdout, exit_code, note })
    }
}

/// `vigil-collector serve` in the internet namespace; returns once it listens.
async fn start_collector(
    topo: &Topology,
    bin: &Path,
    data: &Path,
    asn_db: &Path,
    detection: &Path,
    dir: &Path,
    platforms: &[String],
) -> Result<Child, LabError> {
    let log = dir.join("collector.log");
    let log = std::fs::File::create(&log).map_err(|e| LabError::io(format!("create {}", log.display()), e))?;
    let listen = format!("{INET_IP}:{COLLECTOR_PORT}");
    let mut child = topo
        .command(Role::Inet, bin)
        .args(["serve", "--listen", &listen, "--enroll-token", TOKEN, "--data-dir"])
        .arg(data)
        .arg("--asn-db")
        .arg(asn_db)
        .arg("--detection")
        .arg(detection)
        .args(platforms.iter().flat_map(|p| ["--platform", p.as_str()]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| LabError::io(format!("start {}", bin.display()), e))?;
    let stdout = child.stdout.take().ok_or_else(|| LabError::Other("vigil-collector has no stdout".into()))?;
    let line = tokio::time::timeout(Duration::from_secs(20), BufReader::new(stdout).lines().next_line()).await;
    match line {
        Ok(Ok(Some(line))) if line.contains("listening on") => Ok(child),
        _ => Err(LabError::Other(format!(
            "vigil-collector did not start listening on {listen}: {}",
            std::fs::read_to_string(dir.join("collector.log")).unwrap_or_default().trim()
        ))),
    }
}

/// One stored measurement, from `vigil-collector measurements`.
struct Stored {
    measured: String,
    /// RFC 3339.
    received: String,
    asn: String,
    cc: String,
    payload: String,
}

/// What the collector stored, by id, read from its data dir with `vigil-collector measurements`
/// (table and export are in the same order), every signature checked with `vigil-collector verify`.
async fn stored(bin: &Path, data: &Path, dir: &Path) -> Result<HashMap<String, Stored>, LabError> {
    let (export, keys) = (dir.join("stored.jsonl"), dir.join("probe-keys.json"));
    let run = |args: Vec<&std::ffi::OsStr>| {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(args).kill_on_drop(true);
        async move { cmd.output().await.map_err(|e| LabError::io(format!("run {}", bin.display()), e)) }
    };
    let table = run(vec![
        "measurements".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--limit".as_ref(),
        "0".as_ref(),
        "--export".as_ref(),
        export.as_os_str(),
        "--export-keys".as_ref(),
        keys.as_os_str(),
    ])
    .await?;
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    let _ = std::fs::write(dir.join("stored.txt"), &text);
    if !table.status.success() {
        return Err(LabError::Other(format!("vigil-collector measurements: {}", lossy(&table.stderr))));
    }
    let verify = run(vec!["verify".as_ref(), export.as_os_str(), "--keys".as_ref(), keys.as_os_str()]).await?;
    if !verify.status.success() {
        return Err(LabError::Other(format!("stored signatures do not verify: {}", lossy(&verify.stdout))));
    }
    let envelopes = std::fs::read_to_string(&export).map_err(|e| LabError::io("read stored.jsonl", e))?;
    let mut stored = HashMap::new();
    for (row, envelope) in text.lines().skip(1).zip(envelopes.lines()) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        let envelope: Value = serde_json::from_str(envelope).unwrap_or_default();
        let payload = envelope["payload"].as_str().unwrap_or_default().to_string();
        let id = serde_json::from_str::<Value>(&payload).ok().and_then(|p| p["id"].as_str().map(String::from));
        if let (Some(id), [date, time, received, asn, cc, ..]) = (id, cells.as_slice()) {
            let (received, asn, cc) = (received.to_string(), asn.to_string(), cc.to_string());
            stored.insert(id, Stored { measured: format!("{date} {time}"), received, asn, cc, payload });
        }
    }
    Ok(stored)
}

/// The probe's address must be nowhere in the collector's files (the lab's probe is not on
/// loopback, so this is the sharpest check of "never stores the IP").
pub(crate) fn check_privacy(data: &Path, failures: &mut Vec<String>) {
    let needle = PROBE_IP.to_string();
    let Ok(entries) = std::fs::read_dir(data) else {
        failures.push(format!("cannot list {}", data.display()));
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            failures.push(format!("{} holds the probe's address {needle}", path.display()));
        }
    }
}

/// The scenario's targets as a battery: each target a platform, the first `controls` neutral controls.
pub(crate) fn battery_toml(targets: &[Target], controls: usize) -> String {
    let mut out = String::new();
    for (i, t) in targets.iter().enumerate() {
        let host = t.input.split("://").nth(1).unwrap_or(&t.input);
        let host = host.split(['/', ':']).next().unwrap_or(host);
        let kind = if i < controls { "control" } else { "platform" };
        out += &format!(
            "[[platform]]\nid = {}\nname = {}\nkind = \"{kind}\"\n",
            quote(&platform_id(&t.input, i)),
            quote(host)
        );
        out += &format!("[[platform.endpoint]]\ngroup = \"main\"\ninput = {}\n\n", quote(&t.input));
    }
    out
}

/// The configuration of probe `name`: what `run::probe_args` gives `check`, plus its own key and
/// spool, the battery and the lab's heartbeat.
pub(crate) fn probe_toml(world: &World, dir: &Path, battery: &Path, timeout_ms: u64, name: &str) -> String {
    let s = &world.services;
    let state = dir.join(format!("probe-{name}"));
    let path = |p: PathBuf| quote(&p.display().to_string());
    format!(
        "[probe]\ncountry = \"{PROBE_CC}\"\n\n\
         [dns]\nresolvers = [\"{ISP_IP}:53\", \"{}:53\"]\ndoh = \"https://{}/dns-query\"\ntimeout_ms = {timeout_ms}\n\n\
         [network]\nconnect_timeout_ms = {timeout_ms}\ntls_timeout_ms = {timeout_ms}\nhttp_timeout_ms = {timeout_ms}\n\
         ca_files = [{}]\nlab_nets = [\"{LAB_NET}\"]\n\n\
         [control]\nurl = \"http://{}/\"\n\n[battery]\nfile = {}\n\n\
         [identity]\nkey_file = {}\n\n[spool]\ndir = {}\n\n[schedule]\nheartbeat_seconds = {HEARTBEAT_S}\n",
        s.public_resolver,
        s.doh,
        path(ca_path(dir)),
        s.control,
        path(battery.to_path_buf()),
        path(state.join("probe.key")),
        path(state.join("spool")),
    )
}

/// The battery's platform id of target `i` (its host, made an identifier, and its index).
/// The platform ids of [`battery_toml`]`(targets, _)`.
pub(crate) fn platform_ids(targets: &[Target]) -> Vec<String> {
    targets.iter().enumerate().map(|(i, t)| platform_id(&t.input, i)).collect()
}

pub(crate) fn platform_id(input: &str, i: usize) -> String {
    let host = input.split("://").nth(1).unwrap_or(input);
    let host = host.split(['/', ':']).next().unwrap_or(host);
    let id: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{id}_{i}")
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

fn secs(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from).unwrap_or_default().as_secs_f64()
}

/// `t` in OONI's layout (`YYYY-MM-DD HH:MM:SS`, UTC), the probe's `measurement_start_time`.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shutdown_flow_scales_live_window_like_the_other_windows() {
        let shutdown = shutdown_detection();
        assert!(shutdown.contains("\nlive_window = 6\n") && !shutdown.contains("live_window = 4"), "{shutdown}");
        assert_eq!(shutdown.replace("live_window = 6", "live_window = 4"), LAB_DETECTION);
    }

    #[test]
    fn utc_uses_oonis_layout() {
        let at = |s| utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00:00");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(at(1_700_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn targets_become_a_battery_the_probe_reads() {
        let targets =
            [Target::clean("https://www.wikipedia.test/"), Target::clean("tcpconnect://e1.whatsapp.test:5222")];
        let text = battery_toml(&targets, 1);
        let battery: toml::Value = toml::from_str(&text).unwrap();
        let platforms = battery["platform"].as_array().unwrap();
        assert_eq!(platforms[0]["id"].as_str(), Some("www_wikipedia_test_0"));
        assert_eq!(platforms[0]["kind"].as_str(), Some("control"));
        assert_eq!(platforms[1]["endpoint"][0]["input"].as_str(), Some("tcpconnect://e1.whatsapp.test:5222"));
    }
}
