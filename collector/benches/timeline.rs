//! Timeline benchmark: a store of 10 million measurements (2,000 probes in 20 countries × 5
//! ASNs: heartbeats every 5 minutes and a platform summary per platform per hour, with a few
//! hundred published events whose blocks and shutdowns show in the data), written with the
//! writer's SQL (the measurement row, its observation, the timeline counts) in large
//! transactions; then the real server on 127.0.0.1 answers 1,000 `GET /api/v1/timeline` with a
//! random country, ASN, platform and a period of 1, 7 or 30 days: p50/p95/p99/max.
//!
//! `cargo bench -p vigil-collector --bench timeline --profile bench-fast [-- <measurements>]`
//! (or `VIGIL_BENCH_TIMELINE_MEASUREMENTS`; default 10,000,000). The store is kept in
//! `target/vigil-bench-timeline-<count>/` and reused when complete. Signatures are random bytes
//! (nothing here verifies them; the ingest benchmark measures verification).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use vigil_collector::{Collector, Config, events, timeline};
use vigil_detect::obs::{Meta, PlatformKind, StoredMeasurement, format_utc, observe};
use vigil_detect::{Change, DetectedEvent, EventType, Observation, Scope, Status, What};
use vigil_report::{MEASUREMENT_FORMAT, Mechanism, MechanismFamily, PlatformStatus};

const PROBES: usize = 2000;
const COUNTRIES: usize = 20;
const ASNS: usize = 5;
const PLATFORMS: [&str; 6] = ["whatsapp", "telegram", "signal", "facebook", "twitter", "youtube"];
const HEARTBEATS_PER_HOUR: i64 = 12;
/// 2026-01-01 00:00 UTC: in the past, so the server's detection passes (last 14 days) find
/// nothing to do while the benchmark runs.
const START: i64 = 1_767_225_600;
const H: i64 = 3600;
const D: i64 = 86_400;
const TX_ROWS: usize = 200_000;
const REQUESTS: usize = 1000;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex128(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

fn cc(c: usize) -> String {
    format!("V{}", (b'A' + c as u8) as char)
}

fn asn(c: usize, a: usize) -> u32 {
    64_500 + (c * 10 + a) as u32
}

struct Probe {
    key_id: String,
    c: usize,
    a: usize,
    minute: i64,
}

fn count_arg() -> usize {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok());
    let env = std::env::var("VIGIL_BENCH_TIMELINE_MEASUREMENTS").ok().and_then(|v| v.parse().ok());
    arg.or(env).unwrap_or(10_000_000)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

/// The published events: per country 8 blocks, 3 shutdowns and 3 throttlings (a few retracted).
fn make_events(rng: &mut Rng, hours: i64) -> Vec<DetectedEvent> {
    let families = [
        (MechanismFamily::Dns, Mechanism::DnsNxdomain),
        (MechanismFamily::TcpIp, Mechanism::TcpIpBlackhole),
        (MechanismFamily::TlsSni, Mechanism::TlsSniReset),
        (MechanismFamily::Http, Mechanism::HttpBlockpage),
    ];
    let mut out = Vec::new();
    for c in 0..COUNTRIES {
        for i in 0..14 {
            let asn_scope = if rng.below(4) == 0 { None } else { Some(asn(c, rng.below(ASNS as u64) as usize)) };
            let platform = PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize].to_string();
            let (kind, hours_long) = match i {
                0..8 => {
                    let (family, mechanism) = families[rng.below(4) as usize];
                    (
                        EventType::Blocking { platform, family: Some(family), mechanism: Some(mechanism) },
                        2 + rng.below(46),
                    )
                }
                8..11 => (EventType::Shutdown, 2 + rng.below(6)),
                _ => (EventType::Throttling { platform, rate_kbps: Some(64.0), mechanism: None }, 6 + rng.below(66)),
            };
            let start = START + rng.below((hours * H) as u64) as i64;
            let end = start + hours_long as i64 * H + rng.below(H as u64) as i64;
            let status = if rng.below(10) == 0 { Status::Retracted } else { Status::Confirmed };
            out.push(DetectedEvent {
                id: format!("{}-{}-{}-{:016x}", kind.label(), cc(c), asn_scope.unwrap_or(0), rng.next()),
                scope: Scope { cc: cc(c), asn: asn_scope },
                kind,
                start,
                start_uncertainty: 300,
                end: Some(end),
                end_uncertainty: Some(300),
                probes: 5,
                measurements: 40,
                evidence: Vec::new(),
                confidence: 0.9,
                status,
                basis: vigil_detect::Basis::Evidence,
                cannot_tell: Vec::new(),
                sources: Vec::new(),
            });
        }
    }
    out
}

/// What the truth does to one observation at `at`: None = silent (shut down), else the
/// blocking mechanism of `platform` if blocked.
fn truth(evs: &[DetectedEvent], c: &str, asn: u32, platform: Option<&str>, at: i64) -> Option<Option<Mechanism>> {
    let mut blocked = None;
    for e in evs {
        let live = e.status != Status::Retracted && e.scope.cc == c && e.scope.asn.is_none_or(|a| a == asn);
        if !live || at < e.start || at >= e.end.unwrap_or(i64::MAX) {
            continue;
        }
        match &e.kind {
            EventType::Shutdown => return None,
            EventType::Blocking { platform: p, mechanism, .. } if Some(p.as_str()) == platform => blocked = *mechanism,
            _ => {}
        }
    }
    Some(blocked)
}

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).unwrap().as_str().unwrap().to_string()
}

fn heartbeat_payload(id: &str, t: &str, asn: u32, cc: &str, uptime: i64) -> String {
    format!(
        r#"{{"id":"{id}","data_format_version":"0.2.0","measurement_start_time":"{t}","test_start_time":"{t}","input":null,"test_name":"vigil_heartbeat","test_version":"0.1.0","software_name":"vigil-probe","software_version":"0.1.0","probe_asn":"AS{asn}","probe_cc":"{cc}","resolver_ip":null,"test_runtime":0.04,"annotations":{{}},"test_keys":{{"spooled":0,"uptime_s":{uptime},"spool_bytes":0,"dropped_routine":0,"dropped_evidence":0,"rejected":0}}}}"#
    )
}

#[allow(clippy::too_many_arguments)]
fn platform_payload(
    id: &str,
    t: &str,
    asn: u32,
    cc: &str,
    platform: &str,
    m: Option<Mechanism>,
    e1: &str,
    e2: &str,
) -> String {
    let (status, mech, blocking, accessible) = match m {
        None => ("ok", "null".to_string(), "false", "true"),
        Some(m) => {
            let blocking = match m.family() {
                MechanismFamily::Dns => "\"dns\"",
                MechanismFamily::TcpIp => "\"tcp_ip\"",
                MechanismFamily::TlsSni => "\"http-failure\"",
                MechanismFamily::Http => "\"http-diff\"",
            };
            ("blocked", format!("\"{}\"", label(&m)), blocking, "false")
        }
    };
    format!(
        r#"{{"id":"{id}","data_format_version":"0.2.0","measurement_start_time":"{t}","test_start_time":"{t}","input":"{platform}","test_name":"vigil_platform","test_version":"0.1.0","software_name":"vigil-probe","software_version":"0.1.0","probe_asn":"AS{asn}","probe_cc":"{cc}","resolver_ip":null,"test_runtime":2.5,"annotations":{{}},"test_keys":{{"platform":"{platform}","kind":"platform","status":"{status}","mechanism":{mech},"endpoints":[{{"input":"https://web.{platform}.example/","group":"web","measurement_id":"{e1}","blocking":{blocking},"accessible":{accessible},"mechanism":{mech}}},{{"input":"tcpconnect://api.{platform}.example:443","group":"api","measurement_id":"{e2}","blocking":{blocking},"accessible":{accessible},"mechanism":{mech}}}],"reasons":[]}}}}"#
    )
}

/// Writes in explicit transactions of about [`TX_ROWS`] measurements.
struct Builder<'a> {
    tx: &'a Connection,
    rows: usize,
}

impl Builder<'_> {
    /// One measurement, as the writer stores it: the row, its observation, the counts.
    fn put(&mut self, p: &Probe, test_name: &str, payload: &str, sig: &str, o: &Observation) -> rusqlite::Result<()> {
        let t = format_utc(o.at);
        let received = format!("{}Z", format_utc(o.received_at).replace(' ', "T"));
        let id = o.measurement_id.as_deref().unwrap_or_default();
        self.tx
            .prepare_cached(
                "INSERT INTO measurements (id, key_id, test_name, input, measurement_start_time, received_at, asn, cc,
                     claimed_asn, claimed_cc, format, payload, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT(id) DO NOTHING",
            )?
            .execute(params![
                id,
                p.key_id,
                test_name,
                match &o.what {
                    What::Platform { platform, .. } => Some(platform.as_str()),
                    _ => None,
                },
                t,
                received,
                o.asn,
                o.cc,
                format!("AS{}", o.asn),
                o.cc,
                MEASUREMENT_FORMAT,
                payload,
                sig
            ])?;
        events::insert_observation(self.tx, test_name, o)?;
        timeline::record(self.tx, o, &p.key_id)?;
        self.rows += 1;
        Ok(())
    }
}

/// Build the store of `n` measurements; returns the hours of data.
fn build(dir: &Path, n: usize) -> Result<i64, Box<dyn std::error::Error>> {
    let config = Config::new(dir);
    Collector::open(config.clone())?.close();
    let mut conn = Connection::open(config.db_path())?;
    conn.pragma_update(None, "cache_size", -4_000_000)?; // 4 GB: the id indexes stay in memory
    let mut rng = Rng(0x5eed);
    let per_hour = PROBES as i64 * (HEARTBEATS_PER_HOUR + PLATFORMS.len() as i64);
    let hours = (n as i64 + per_hour - 1) / per_hour;
    let probes: Vec<Probe> = (0..PROBES)
        .map(|i| Probe {
            key_id: rng.hex128(),
            c: i % COUNTRIES,
            a: (i / COUNTRIES) % ASNS,
            minute: rng.below(5) as i64,
        })
        .collect();
    let evs = make_events(&mut rng, hours + 24);
    {
        let tx = conn.transaction()?;
        for p in &probes {
            let pk = format!("{}{}", rng.hex128(), "AAAA");
            tx.execute(
                "INSERT INTO probes (key_id, public_key, software_version, enrolled_at) VALUES (?1, ?2, '0.1.0', ?3)",
                params![p.key_id, pk, "2025-12-31T00:00:00Z"],
            )?;
        }
        let changes: Vec<Change> = evs.iter().cloned().map(Change::New).collect();
        events::write_changes(&tx, &changes, START + hours * H)?;
        tx.commit()?;
    }
    println!(
        "building {n} measurements: {} probes, {COUNTRIES} countries × {ASNS} ASNs, {hours} h ({:.1} days), {} events",
        PROBES,
        hours as f64 / 24.0,
        evs.len()
    );
    let sig = "A".repeat(86) + "==";
    let started = Instant::now();
    conn.execute_batch("BEGIN")?;
    let mut b = Builder { tx: &conn, rows: 0 };
    let mut checked = (false, false);
    let mut committed = 0;
    // Hours until `n` (shut-down probes are silent, so a little more than `hours`).
    let mut h = 0;
    'hours: loop {
        let hour = START + h * H;
        for p in &probes {
            let (c, a) = (cc(p.c), asn(p.c, p.a));
            for k in 0..HEARTBEATS_PER_HOUR {
                let at = hour + (k * 5 + p.minute) * 60;
                if truth(&evs, &c, a, None, at).is_none() {
                    continue; // shut down: silent
                }
                let id = rng.hex128();
                let payload = heartbeat_payload(&id, &format_utc(at), a, &c, at - START);
                let o = Observation {
                    at,
                    received_at: at + 2,
                    probe: p.key_id.clone(),
                    cc: c.clone(),
                    asn: a,
                    measurement_id: Some(id),
                    what: What::Heartbeat,
                    meta: Meta { backlog: Some(0), uptime: Some((at - START) as u64), ..Meta::default() },
                };
                if !checked.0 {
                    check(&o, "vigil_heartbeat", &payload);
                    checked.0 = true;
                }
                b.put(p, "vigil_heartbeat", &payload, &sig, &o)?;
            }
            let run = hour + (p.minute * 7 + 3) * 60;
            for platform in PLATFORMS {
                let Some(mechanism) = truth(&evs, &c, a, Some(platform), run) else { continue };
                let id = rng.hex128();
                let payload =
                    platform_payload(&id, &format_utc(run), a, &c, platform, mechanism, &rng.hex128(), &rng.hex128());
                let o = Observation {
                    at: run,
                    received_at: run + 3,
                    probe: p.key_id.clone(),
                    cc: c.clone(),
                    asn: a,
                    measurement_id: Some(id),
                    what: What::Platform {
                        platform: platform.to_string(),
                        kind: PlatformKind::Platform,
                        status: if mechanism.is_some() { PlatformStatus::Blocked } else { PlatformStatus::Ok },
                        family: mechanism.map(Mechanism::family),
                        mechanism,
                    },
                    meta: Meta::default(),
                };
                if !checked.1 && mechanism.is_some() {
                    check(&o, "vigil_platform", &payload);
                    checked.1 = true;
                }
                b.put(p, "vigil_platform", &payload, &sig, &o)?;
            }
            if b.rows >= n {
                break 'hours;
            }
        }
        if b.rows - committed >= TX_ROWS {
            committed = b.rows;
            conn.execute_batch("COMMIT; BEGIN")?;
            let secs = started.elapsed().as_secs_f64();
            let rate = b.rows as f64 / secs;
            println!(
                "  {:>10} measurements ({:>5.1} %) in {secs:>6.0} s: {rate:>7.0}/s, about {:.0} s left",
                b.rows,
                100.0 * b.rows as f64 / n as f64,
                (n - b.rows.min(n)) as f64 / rate
            );
        }
        h += 1;
    }
    let hours = h + 1;
    let rows = b.rows;
    conn.execute_batch("COMMIT")?;
    conn.execute(
        "UPDATE probes SET measurements = ?1 / 2000, last_seen = ?2",
        params![rows as i64, format_utc(START)],
    )?;
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    let took = started.elapsed();
    println!("built {rows} measurements in {:.0} s ({:.0}/s)", took.as_secs_f64(), rows as f64 / took.as_secs_f64());
    std::fs::write(dir.join("complete"), format!("{rows} {hours} {:.0}\n", took.as_secs_f64()))?;
    Ok(hours)
}

/// The payload must yield the observation the benchmark stores (as ingest would derive it).
fn check(o: &Observation, test_name: &str, payload: &str) {
    let row = StoredMeasurement {
        id: o.measurement_id.as_deref().unwrap(),
        key_id: &o.probe,
        test_name,
        measurement_start_time: &format_utc(o.at),
        received_at: o.received_at,
        asn: o.asn,
        cc: &o.cc,
        payload,
    };
    assert_eq!(&observe(&row).expect("payload parses"), o, "{payload}");
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = count_arg();
    let dir = target_dir().join(format!("vigil-bench-timeline-{n}"));
    let marker = dir.join("complete");
    let hours = match std::fs::read_to_string(&marker) {
        Ok(s) => {
            let f: Vec<&str> = s.split_whitespace().collect();
            println!("reusing {} ({} measurements; building took {} s)", dir.display(), f[0], f[2]);
            f[1].parse()?
        }
        Err(_) => {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            build(&dir, n)?
        }
    };
    let size = dir_size(&dir);
    println!("store: {:.2} GB in {}", size as f64 / 1e9, dir.display());

    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let collector = Collector::open(Config::new(&dir))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/api/v1/timeline", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(collector.serve(listener, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let mut rng = Rng(42);
        let mut times = Vec::with_capacity(REQUESTS);
        let (mut cells, mut bytes, mut events) = (0usize, 0usize, 0usize);
        for i in 0..REQUESTS + 20 {
            let c = rng.below(COUNTRIES as u64) as usize;
            let days = [1, 7, 30][rng.below(3) as usize];
            let to = START + (1 + rng.below(hours as u64 + 24)) as i64 * H;
            let mut url = format!("{base}?country={}&from={}&to={to}", cc(c), to - days * D);
            if rng.below(2) == 0 {
                url.push_str(&format!("&asn={}", asn(c, rng.below(ASNS as u64) as usize)));
            }
            if rng.below(3) == 0 {
                url.push_str(&format!("&platform={}", PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize]));
            }
            let t = Instant::now();
            let r = client.get(&url).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            let took = t.elapsed();
            assert!(status.is_success(), "{url}: {status} {}", String::from_utf8_lossy(&body));
            if i >= 20 {
                times.push(took);
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                let rows = v["rows"].as_array().unwrap();
                cells += rows.iter().map(|r| r["cells"].as_array().unwrap().len()).sum::<usize>();
                events += v["events"].as_array().unwrap().len();
                bytes += body.len();
            }
        }
        times.sort();
        println!(
            "{REQUESTS} GET /api/v1/timeline (1, 7 or 30 days, random country / ASN / platform): \
             p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p95 <= 50 ms)",
            pct(&times, 0.50),
            pct(&times, 0.95),
            pct(&times, 0.99),
            pct(&times, 1.0)
        );
        println!(
            "per answer on average: {} cells, {:.1} events, {} bytes",
            cells / REQUESTS,
            events as f64 / REQUESTS as f64,
            bytes / REQUESTS
        );
        let _ = stop.send(());
        server.await??;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
