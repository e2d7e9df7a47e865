//! `vigil-collector demo`: a simulated fleet with known events, replayed through ingest and
//! detection into a data dir, then compared with what was published.
//!
//! The fleet ends at `--end` (by default now; tests fix it). Its countries use ISO 3166's user-assigned codes (XA, XB, XC) and its
//! networks documentation AS numbers (64496-64511, 65536-65551), so nobody mistakes demo data
//! for a real country. Its probes are enrolled as `demo:<run>:<label>`; a data dir holding
//! measurements of any other probe is refused (demo data mixes only with demo data).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;
use vigil_detect::sim::score::{Expected, Score, expected, score};
use vigil_detect::sim::{CountrySpec, Fleet, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};
use vigil_detect::{DetectedEvent, Status};
use vigil_report::Mechanism;

use crate::api_events::rfc3339;
use crate::config::Config;
use crate::replay::{ReplayOptions, ReplayReport, replay_with};
use crate::server::Collector;

const H: i64 = 3600;
const D: i64 = 86_400;

/// The software version prefix of the demo's probe keys.
pub const SOURCE: &str = "demo";
/// Default length of the simulated period (days).
pub const DEFAULT_DAYS: i64 = 7;
/// Default number of probes.
pub const DEFAULT_PROBES: usize = 40;
/// Default seed.
pub const DEFAULT_SEED: u64 = 2024;
/// Detection runs every this many seconds of simulated time (the revisions a live collector writes).
pub const DEFAULT_STEP: i64 = 3 * H;

/// The earliest and latest `--end` (2000-01-01 and 2100-01-01 UTC).
pub const END_RANGE: std::ops::RangeInclusive<i64> = 946_684_800..=4_102_444_800;

/// `--end`: RFC 3339 or Unix seconds, within [`END_RANGE`].
pub fn parse_end(v: &str) -> Result<i64, DemoError> {
    let t = v.parse::<i64>().ok().or_else(|| crate::events::rfc3339_to_unix(v));
    let end = t.ok_or_else(|| DemoError::Options(format!("--end {v}: expected RFC 3339 or Unix seconds")))?;
    DemoOptions { end, days: DEFAULT_DAYS, probes: DEFAULT_PROBES, seed: 0, step: DEFAULT_STEP }.check()?;
    Ok(end)
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Options(String),
    #[error(
        "{path} holds {count} measurements from real probes; the demo only adds to an empty data dir or one \
         holding demo data (use another --data-dir)"
    )]
    RealData { path: String, count: i64 },
    #[error("{path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error(transparent)]
    Collector(#[from] crate::CollectorError),
    #[error(transparent)]
    Replay(#[from] crate::replay::ReplayError),
    #[error("{0}")]
    Read(String),
}

impl DemoError {
    /// A stable short label.
    pub fn label(&self) -> &'static str {
        match self {
            DemoError::Options(_) => "bad_option",
            DemoError::RealData { .. } => "real_data",
            DemoError::Db { .. } | DemoError::Read(_) => "storage",
            DemoError::Collector(e) => e.label(),
            DemoError::Replay(_) => "replay",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// The simulated period ends here (Unix s): `--end`, by default now.
    pub end: i64,
    pub days: i64,
    pub probes: usize,
    pub seed: u64,
    /// Seconds of simulated time between detection passes.
    pub step: i64,
}

impl DemoOptions {
    pub fn check(&self) -> Result<(), DemoError> {
        if !END_RANGE.contains(&self.end) {
            return Err(DemoError::Options(format!(
                "--end {}: expected a time in years 2000 to 2099",
                crate::api_events::rfc3339(self.end)
            )));
        }
        if !(2..=14).contains(&self.days) {
            return Err(DemoError::Options(format!("--days {}: expected 2 to 14", self.days)));
        }
        if !(16..=2000).contains(&self.probes) {
            return Err(DemoError::Options(format!("--probes {}: expected 16 to 2000", self.probes)));
        }
        if self.step < 60 {
            return Err(DemoError::Options(format!("--step {}: expected at least 60 seconds", self.step)));
        }
        Ok(())
    }
}

/// The demo countries and their networks.
pub fn countries() -> Vec<CountrySpec> {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    vec![c("XA", &[64496, 64497, 64498]), c("XB", &[64499, 64500]), c("XC", &[65536, 65537])]
}

/// The fleet and its ground truth: a block per mechanism family, an ASN shutdown, a national
/// shutdown, a nightly curfew, throttling and one block still going on at the end. Times are
/// fractions of the period (so any length from 2 days works); the curfew follows the clock
/// (22:00-04:00 UTC every night inside the period). Events of one network never overlap.
pub fn scenario(o: &DemoOptions) -> (FleetSpec, Vec<TruthEvent>) {
    let start = o.end - o.days * D;
    let spec = FleetSpec::new(o.seed, start, o.days, o.probes, countries());
    let at = |f: f64| start + ((f * (o.days * D) as f64) as i64 / 60) * 60;
    let ev = |cc: &str, asn: Option<u32>, kind: TruthKind, start: i64, end: i64| TruthEvent {
        cc: cc.into(),
        asn,
        kind,
        start,
        end,
    };
    let block = |platform: &str, mechanism| TruthKind::Block { platform: platform.into(), mechanism };
    let mut truth = vec![
        ev("XA", Some(64496), block("whatsapp", Mechanism::DnsInjection), at(0.10), at(0.40)),
        ev("XA", Some(64497), block("facebook", Mechanism::HttpBlockpage), at(0.15), at(0.45)),
        ev("XA", Some(64497), TruthKind::Shutdown, at(0.55), at(0.55) + 3 * H),
        // Still going on: no end inside the period.
        ev("XA", None, block("signal", Mechanism::TcpIpBlackhole), at(0.75), o.end + 30 * D),
        ev("XC", Some(65536), block("twitter", Mechanism::TlsSniReset), at(0.10), at(0.35)),
        ev("XC", Some(65537), block("telegram", Mechanism::TcpIpRefused), at(0.20), at(0.45)),
        ev("XC", None, TruthKind::Shutdown, at(0.55), at(0.55) + 5 * H),
        ev("XC", Some(65536), TruthKind::Throttle { platform: "youtube".into(), rate_kbps: 150.0 }, at(0.70), at(0.92)),
    ];
    let mut night = start - start.rem_euclid(D) + 22 * H;
    while night + 6 * H <= o.end - H {
        if night >= start + 4 * H {
            truth.push(ev("XB", None, TruthKind::Shutdown, night, night + 6 * H));
        }
        night += D;
    }
    (spec, truth)
}

/// The fleet as replay lines: `{"probe", "received_at", "measurement"}`.
pub fn replay_lines(fleet: &Fleet) -> String {
    let mut text = String::new();
    for o in &fleet.observations {
        if let Some(m) = measurement_json(o) {
            let line = json!({"probe": o.probe, "received_at": o.received_at, "measurement": m});
            text.push_str(&line.to_string());
            text.push('\n');
        }
    }
    text
}

/// Refuse a data dir whose database holds measurements of probes other than the demo's.
pub fn refuse_real_data(data_dir: &Path) -> Result<(), DemoError> {
    let path = Config::new(data_dir).db_path();
    if !path.exists() {
        return Ok(());
    }
    let db = |source| DemoError::Db { path: path.display().to_string(), source };
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db)?;
    let has_table: bool = conn
        .query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'measurements'", [], |r| {
            r.get(0)
        })
        .map_err(db)?;
    if !has_table {
        return Ok(());
    }
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM measurements WHERE key_id NOT IN
                 (SELECT key_id FROM probes WHERE software_version LIKE 'demo:%')",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if count > 0 {
        return Err(DemoError::RealData { path: path.display().to_string(), count });
    }
    Ok(())
}

/// What the demo did, for the summary.
#[derive(Debug, Clone)]
pub struct DemoResult {
    pub spec: FleetSpec,
    pub truth: Vec<TruthEvent>,
    pub fleet: Fleet,
    pub replay: ReplayReport,
    /// The published events (every revision's latest), retracted ones included.
    pub published: Vec<DetectedEvent>,
    pub score: Score,
}

/// Simulate and replay into the opened collector (progress on stderr).
pub async fn load(collector: &Collector, o: &DemoOptions) -> Result<DemoResult, DemoError> {
    o.check()?;
    let (spec, truth) = scenario(o);
    let started = std::time::Instant::now();
    let fleet = simulate(&spec, &truth);
    let text = replay_lines(&fleet);
    eprintln!(
        "demo: simulated {} probes in {} countries over {} days ({} measurements, {:.1} s); replaying through \
         ingest and detection",
        spec.probes,
        spec.countries.len(),
        o.days,
        text.lines().count(),
        started.elapsed().as_secs_f64()
    );
    let state = collector.state().clone();
    let opts = ReplayOptions { step: o.step, source: SOURCE, progress: true };
    let replay = replay_with(&state, &text, opts).await?;
    drop(text);
    let published = state
        .read(|c| crate::events::load_stored(c, 0))
        .await
        .map_err(|e| DemoError::Read(e.message))?
        .into_iter()
        .map(|p| p.event)
        .collect::<Vec<_>>();
    let score = score(&expected(&spec, &fleet, &truth), &published);
    eprintln!("demo: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(DemoResult { spec, truth, fleet, replay, published, score })
}

fn time(t: i64) -> String {
    let s = rfc3339(t);
    s.get(..16).map(|s| s.replace('T', " ")).unwrap_or(s)
}

fn minutes(secs: i64) -> String {
    let m = (secs.abs() + 30) / 60;
    let sign = if m == 0 {
        ""
    } else if secs > 0 {
        "+"
    } else {
        "-"
    };
    format!("{sign}{m} min")
}

fn scope(cc: &str, asn: Option<u32>) -> String {
    match asn {
        Some(a) => format!("{cc} AS{a}"),
        None => format!("{cc} (national)"),
    }
}

fn mechanism_label(m: Mechanism) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn truth_line(t: &TruthEvent, end: i64) -> String {
    let what = match &t.kind {
        TruthKind::Block { platform, mechanism } => {
            format!("blocking {platform} by {}", mechanism_label(*mechanism))
        }
        TruthKind::Shutdown => "shutdown".to_string(),
        TruthKind::Throttle { platform, rate_kbps } => format!("throttling {platform} to {rate_kbps} kbit/s"),
        TruthKind::Retire { probes, .. } => format!("{probes} probes retired"),
        TruthKind::CollectorCut => "the collector unreachable".to_string(),
        TruthKind::PowerCut { probes } => format!("power cut of {probes} probes"),
    };
    let until = if t.end > end { "ongoing".to_string() } else { time(t.end) };
    format!("{what}, {}, {} .. {until}", scope(&t.cc, t.asn), time(t.start))
}

/// The published event best matching an expected one (same type, scope, platform, overlapping
/// period; the smallest start error).
fn best<'a>(x: &Expected, published: &'a [DetectedEvent]) -> Option<&'a DetectedEvent> {
    published
        .iter()
        .filter(|d| d.status != Status::Retracted)
        .filter(|d| d.kind.label() == x.label && d.scope == x.scope && d.kind.platform() == x.platform.as_deref())
        .filter(|d| d.start < x.end && d.end.unwrap_or(i64::MAX) > x.start)
        .min_by_key(|d| (d.start - x.start).abs())
}

fn event_line(d: &DetectedEvent, x: &Expected, end: i64) -> String {
    let mut s = format!("{} {}", d.kind.label(), scope(&d.scope.cc, d.scope.asn));
    if let vigil_detect::EventType::Blocking { platform, mechanism, .. } = &d.kind {
        let _ = write!(s, " {platform} {}", mechanism.map(mechanism_label).unwrap_or_default());
    }
    if let vigil_detect::EventType::Throttling { platform, rate_kbps, .. } = &d.kind {
        let _ = write!(s, " {platform} {}", rate_kbps.map(|r| format!("{r:.0} kbit/s")).unwrap_or_default());
    }
    let status = serde_json::to_value(d.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let _ = write!(s, ", {status}, start {}", minutes(d.start - x.start));
    match d.end {
        Some(e) if x.end <= end => {
            let _ = write!(s, ", end {}", minutes(e - x.end));
        }
        Some(e) => {
            let _ = write!(s, ", ended {}", time(e));
        }
        None if x.end > end => s.push_str(", ongoing (as it is)"),
        None => s.push_str(", still open"),
    }
    let _ = write!(s, " [{}]", d.id);
    s
}

/// The summary: every ground-truth event next to the published events it matched, the
/// precision and recall, the other published events, and the URLs to open at `base`.
pub fn summary(r: &DemoResult, base: &str) -> String {
    let end = r.spec.end();
    let mut out = String::new();
    let rr = &r.replay;
    let _ = writeln!(
        out,
        "Replayed {} measurements ({} stored, {} rejected), {} detection passes: {} events, {} revisions.\n",
        rr.lines,
        rr.accepted,
        rr.rejected.len(),
        rr.passes,
        rr.new_events,
        rr.revisions
    );
    let _ = writeln!(out, "Ground truth (times UTC) and the published event each matched (start/end error):");
    let mut shown = std::collections::HashSet::new();
    for t in &r.truth {
        let _ = writeln!(out, "  TRUE  {}", truth_line(t, end));
        for x in expected(&r.spec, &r.fleet, std::slice::from_ref(t)) {
            match best(&x, &r.published) {
                Some(d) => {
                    shown.insert(d.id.clone());
                    let _ = writeln!(out, "     -> {}", event_line(d, &x, end));
                }
                None if x.required => {
                    let _ = writeln!(out, "     -> MISSED {} {}", x.label, scope(&x.scope.cc, x.scope.asn));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "     -> not published {} {} (too few probes there to require it)",
                        x.label,
                        scope(&x.scope.cc, x.scope.asn)
                    );
                }
            }
        }
    }
    let others: Vec<&DetectedEvent> =
        r.published.iter().filter(|d| d.status != Status::Retracted && !shown.contains(&d.id)).collect();
    if !others.is_empty() {
        let _ = writeln!(out, "Published events matching no ground truth (false positives):");
        for d in others {
            let asn = d.scope.asn;
            let end = d.end.map(time).unwrap_or_else(|| "ongoing".into());
            let platform = d.kind.platform().unwrap_or("*");
            let _ = writeln!(
                out,
                "  {} {} {platform} {} .. {end} [{}]",
                d.kind.label(),
                scope(&d.scope.cc, asn),
                time(d.start),
                d.id
            );
        }
    }
    let s = &r.score;
    let _ = writeln!(
        out,
        "\nprecision {:.3} ({} of {} published events are true), recall {:.3} ({} of {} required events found)",
        s.precision, s.matched_detected, s.detected, s.recall, s.matched_required, s.required
    );
    let retracted = r.published.iter().filter(|d| d.status == Status::Retracted).count();
    if retracted > 0 {
        let _ = writeln!(out, "({retracted} retracted events are kept with their revisions, not scored)");
    }
    let _ = writeln!(out, "\nOpen:");
    let _ = writeln!(out, "  the dashboard: {base}/");
    for path in ["/api/v1/events", "/api/v1/events.csv", "/api/v1/feed.atom"] {
        let _ = writeln!(out, "  {base}{path}");
    }
    for c in &r.spec.countries {
        let _ = writeln!(
            out,
            "  {cc}: {base}/country/{cc}  {base}/api/v1/timeline?country={cc}  {base}/api/v1/charts/country/{cc}.svg  \
             {base}/api/v1/charts/country/{cc}.png",
            cc = c.cc
        );
        for a in &c.asns {
            let _ = writeln!(out, "      {base}/api/v1/charts/asn/{a}.svg");
        }
    }
    if let Some(d) = r.published.iter().find(|d| d.status != Status::Retracted) {
        let _ = writeln!(
            out,
            "  one event: {base}/event/{id}  {base}/api/v1/events/{id}  {base}/api/v1/charts/event/{id}.svg",
            id = d.id
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_has_every_kind_of_event_in_demo_codes() {
        let o = DemoOptions { end: 1_763_900_000, days: 2, probes: 40, seed: 1, step: DEFAULT_STEP };
        let (spec, truth) = scenario(&o);
        assert_eq!(spec.end(), o.end);
        let families: std::collections::BTreeSet<String> = truth
            .iter()
            .filter_map(|t| match &t.kind {
                TruthKind::Block { mechanism, .. } => Some(format!("{:?}", mechanism.family())),
                _ => None,
            })
            .collect();
        assert_eq!(families.len(), 4, "{families:?}");
        assert!(truth.iter().any(|t| t.kind == TruthKind::Shutdown && t.asn.is_some()));
        assert!(truth.iter().filter(|t| t.kind == TruthKind::Shutdown && t.cc == "XB").count() >= 1, "a curfew");
        assert!(truth.iter().any(|t| matches!(t.kind, TruthKind::Throttle { .. })));
        assert!(truth.iter().any(|t| t.end > o.end), "one ongoing");
        assert!(truth.iter().all(|t| t.cc.starts_with('X') && t.start >= spec.start && t.start < o.end));
        for c in &spec.countries {
            assert!(c.asns.iter().all(|a| (64496..=64511).contains(a) || (65536..=65551).contains(a)));
        }
    }

    #[test]
    fn options_are_checked() {
        let o = DemoOptions { end: 1_763_900_000, days: 1, probes: 40, seed: 1, step: DEFAULT_STEP };
        assert!(o.check().unwrap_err().to_string().contains("--days"));
        let o = DemoOptions { days: 2, probes: 3, ..o };
        assert!(o.check().unwrap_err().to_string().contains("--probes"));
        let o = DemoOptions { end: 0, days: 2, ..o };
        assert!(
            o.check().unwrap_err().to_string().contains("--end 1970-01-01T00:00:00Z: expected a time in years 2000")
        );
    }

    #[test]
    fn the_end_is_rfc3339_or_unix_seconds_within_bounds() {
        assert_eq!(parse_end("2026-12-07T09:40:00Z").unwrap(), 1_796_636_400);
        assert_eq!(parse_end("1796636400").unwrap(), 1_796_636_400);
        assert!(parse_end("yesterday").unwrap_err().to_string().contains("--end yesterday: expected RFC 3339"));
        assert!(parse_end("2100-01-01T00:00:01Z").unwrap_err().to_string().contains("years 2000 to 2099"));
        assert!(parse_end("1999-12-31T23:59:59Z").is_err());
    }
}
