//! Ingest benchmark: (a) this machine's raw Ed25519 verification rate (single strict verifies on every
//! core, and batch verification), (b) signed measurements per second through the real HTTP
//! endpoint into SQLite in a temporary directory, and the ratio ingest / raw.
//!
//! `cargo bench -p vigil-collector --bench ingest --profile bench-fast` (environment:
//! `VIGIL_BENCH_MEASUREMENTS`, default 40000; `VIGIL_BENCH_CLIENTS`, default 4).
//!
//! Saturating mode (`VIGIL_BENCH_SATURATE=60`, seconds): the clients submit fresh measurements
//! at full speed for that long (a signing thread per core keeps a queue of batches full; it shares
//! the CPU with the collector); every 10 s and at the end it reports the ingest rate, the WAL's
//! peak size and the database's size (sampled every 5 ms), then the WAL once ingest stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;
use vigil_collector::{Collector, Config};
use vigil_report::protocol::{EnrollRequest, SubmitAck, SubmitRequest};
use vigil_report::signed::{encode_public_key, enrollment_proof};
use vigil_report::{MEASUREMENT_FORMAT, STATEMENT_FORMAT, Signed};

const BATCH: usize = 500;
const PROBES: u8 = 16;
const TOKEN: &str = "bench-token-123";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A measurement of about 2 KB, shaped like a web-connectivity result.
fn payload(id: &str, start: &str) -> String {
    let q = |engine: &str, t: f64| {
        json!({"engine": engine, "resolver_address": "8.8.8.8:53", "hostname": "www.example.org", "query_type": "A",
               "answers": [{"answer_type": "A", "ipv4": "93.184.215.14", "ttl": 300}], "failure": null, "t0": t, "t": t + 0.02})
    };
    let m = json!({
        "id": id, "data_format_version": "0.2.0", "measurement_start_time": start, "test_start_time": start,
        "input": "https://www.example.org/", "test_name": "vigil_web_connectivity", "test_version": "0.1.0",
        "software_name": "vigil-probe", "software_version": "0.1.0", "probe_asn": "AS0", "probe_cc": "ZZ",
        "resolver_ip": "192.0.2.53", "test_runtime": 1.234, "annotations": {"platform": "example"},
        "test_keys": {
            "platform": "example", "endpoint_group": "web", "client_resolver": "192.0.2.53",
            "queries": [q("system", 0.001), q("udp", 0.002), q("doh", 0.003)],
            "tcp_connect": [{"ip": "93.184.215.14", "port": 443, "status": {"success": true, "failure": null}, "t0": 0.05, "t": 0.09}],
            "tls_handshakes": [{"address": "93.184.215.14:443", "server_name": "www.example.org", "failure": null,
                "tls_version": "TLSv1.3", "cipher_suite": "TLS_AES_128_GCM_SHA256", "negotiated_protocol": "h2",
                "no_tls_verify": false, "x_sni_swap": false, "t0": 0.09, "t": 0.2}],
            "requests": [{"request": {"method": "GET", "url": "https://www.example.org/", "headers": {"user-agent": "vigil"}},
                "response": {"code": 200, "headers": {"content-type": "text/html"}, "body": "<html><title>Example Domain</title>...</html>",
                    "body_is_truncated": false, "body_length": 1256, "title": "Example Domain"}, "failure": null, "t0": 0.2, "t": 0.4}],
            "control": null, "control_failure": null, "dns_experiment_failure": null, "dns_consistency": "consistent",
            "http_experiment_failure": null, "body_length_match": true, "body_proportion": 1.0, "status_code_match": true,
            "headers_match": true, "title_match": true, "blocking": false, "accessible": true, "mechanism": null,
            "x_confirmed": false, "x_reasons": ["the probe saw what the control saw: same addresses, same TLS, same page"]
        }
    });
    serde_json::to_string(&m).expect("serialises")
}

fn keys() -> Vec<SigningKey> {
    (1..=PROBES).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
}

/// Sign `n` measurements, round-robin over the keys, on every core.
fn sign_all(keys: &[SigningKey], n: usize, threads: usize) -> Vec<Signed> {
    let start = OffsetDateTime::now_utc()
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .expect("formats");
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = start.clone();
                s.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| {
                            Signed::sign(
                                MEASUREMENT_FORMAT,
                                payload(&format!("bench-{i:08}"), &start),
                                &keys[i % keys.len()],
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("signer")).collect()
    })
}

struct Raw {
    single: f64,
    batch: f64,
}

fn raw_rate(signed: &[Signed], keys: &[SigningKey], threads: usize) -> Raw {
    let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
    let items: Vec<(Vec<u8>, Signature, VerifyingKey)> = signed
        .iter()
        .enumerate()
        .map(|(i, s)| (s.signed_message(), s.signature().expect("valid"), vks[i % vks.len()]))
        .collect();
    let per = items.len().div_ceil(threads);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for chunk in items.chunks(per) {
            s.spawn(move || {
                for (m, sig, k) in chunk {
                    k.verify_strict(m, sig).expect("verifies");
                }
            });
        }
    });
    let single = items.len() as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for chunk in items.chunks(per) {
            s.spawn(move || {
                for group in chunk.chunks(64) {
                    let m: Vec<&[u8]> = group.iter().map(|(m, _, _)| m.as_slice()).collect();
                    let sigs: Vec<Signature> = group.iter().map(|(_, s, _)| *s).collect();
                    let ks: Vec<VerifyingKey> = group.iter().map(|(_, _, k)| *k).collect();
                    ed25519_dalek::verify_batch(&m, &sigs, &ks).expect("verifies");
                }
            });
        }
    });
    let batch = items.len() as f64 / t0.elapsed().as_secs_f64();
    Raw { single, batch }
}

async fn ingest(signed: Vec<Signed>, keys: &[SigningKey], clients: usize) -> (f64, Duration) {
    let run = start(keys).await;
    let (http, base, collector_key) = (run.http.clone(), run.base.clone(), run.collector_key);
    let total = signed.len();
    let bodies: Vec<String> = signed
        .chunks(BATCH)
        .map(|c| serde_json::to_string(&SubmitRequest { measurements: c.to_vec() }).expect("json"))
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (queue, http, base) = (queue.clone(), http.clone(), base.clone());
            tokio::spawn(async move {
                let mut acked = 0;
                loop {
                    let Some(body) = queue.lock().expect("queue").pop() else { return acked };
                    let resp = http.post(format!("{base}/api/v1/submit")).body(body).send().await.expect("submit");
                    let text = resp.text().await.expect("ack");
                    let signed: Signed = serde_json::from_str(&text).expect("an ack");
                    signed.verify(STATEMENT_FORMAT, &collector_key).expect("signed ack");
                    let ack: SubmitAck = signed.payload_as().expect("ack payload");
                    acked += ack.results.iter().filter(|r| r.status.is_stored()).count();
                }
            })
        })
        .collect();
    let mut acked = 0;
    for t in tasks {
        acked += t.await.expect("client");
    }
    let elapsed = t0.elapsed();
    assert_eq!(acked, total, "every measurement acknowledged as stored");
    let _ = run.stop.send(());
    run.server.await.expect("server").expect("served");
    (total as f64 / elapsed.as_secs_f64(), elapsed)
}

/// A started collector on 127.0.0.1 with the bench's probes enrolled.
struct Running {
    _dir: tempfile::TempDir,
    db: PathBuf,
    base: String,
    http: reqwest::Client,
    collector_key: VerifyingKey,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), vigil_collector::CollectorError>>,
}

async fn start(keys: &[SigningKey]) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path());
    config.enroll_tokens = vec![TOKEN.into()];
    let db = config.db_path();
    let collector = Collector::open(config).expect("opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().build().expect("client");
    let mut collector_key = None;
    for k in keys {
        let req = EnrollRequest {
            public_key: encode_public_key(&k.verifying_key()),
            proof: enrollment_proof(k),
            token: Some(TOKEN.into()),
            software_version: "bench".into(),
        };
        let resp =
            http.post(format!("{base}/api/v1/enroll")).body(serde_json::to_string(&req).expect("json")).send().await;
        let text = resp.expect("enroll").text().await.expect("body");
        let r: vigil_report::protocol::EnrollResponse = serde_json::from_str(&text).expect("enrolled");
        collector_key = Some(vigil_report::signed::decode_public_key(&r.collector_key).expect("key"));
    }
    Running { _dir: dir, db, base, http, collector_key: collector_key.expect("a probe"), stop, server }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn wal_of(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

const MIB: f64 = 1024.0 * 1024.0;

/// Four (or `clients`) clients at full speed for `secs` seconds, fresh measurements all along.
async fn saturate(keys: Vec<SigningKey>, clients: usize, secs: u64, signers: usize) {
    let run = start(&keys).await;
    let (wal, db) = (wal_of(&run.db), run.db.clone());
    let stop_at = Instant::now() + Duration::from_secs(secs);
    // Signers keep a bounded queue of request bodies full.
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(4 * clients);
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let next = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(keys);
    let start_time = OffsetDateTime::now_utc()
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .expect("formats");
    let signer_threads: Vec<_> = (0..signers)
        .map(|_| {
            let (tx, next, keys, start_time) = (tx.clone(), next.clone(), keys.clone(), start_time.clone());
            std::thread::spawn(move || {
                while Instant::now() < stop_at {
                    let first = next.fetch_add(BATCH, Ordering::Relaxed);
                    let batch: Vec<Signed> = (first..first + BATCH)
                        .map(|i| {
                            let id = format!("sat-{i:09}");
                            Signed::sign(MEASUREMENT_FORMAT, payload(&id, &start_time), &keys[i % keys.len()])
                        })
                        .collect();
                    let body = serde_json::to_string(&SubmitRequest { measurements: batch }).expect("json");
                    if tx.send(body).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // The sampler: WAL peak and database size every 5 ms.
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, wal) = (peak.clone(), done.clone(), wal.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(file_size(&wal), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let acked = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (rx, http, base, acked) = (rx.clone(), run.http.clone(), run.base.clone(), acked.clone());
            let collector_key = run.collector_key;
            tokio::spawn(async move {
                loop {
                    let rx2 = rx.clone();
                    let body = tokio::task::spawn_blocking(move || rx2.lock().expect("queue").recv().ok());
                    let Some(body) = body.await.expect("queue") else { return };
                    let resp = http.post(format!("{base}/api/v1/submit")).body(body).send().await.expect("submit");
                    let text = resp.text().await.expect("ack");
                    let signed: Signed = serde_json::from_str(&text).expect("an ack");
                    signed.verify(STATEMENT_FORMAT, &collector_key).expect("signed ack");
                    let ack: SubmitAck = signed.payload_as().expect("ack payload");
                    acked.fetch_add(ack.results.iter().filter(|r| r.status.is_stored()).count(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    let report = |label: &str| {
        let n = acked.load(Ordering::Relaxed);
        println!(
            "{label:>6}: {n:>8} acknowledged, {:>7.0} /s; WAL now {:>7.1} MiB, peak {:>7.1} MiB; database {:>7.1} MiB",
            n as f64 / t0.elapsed().as_secs_f64(),
            file_size(&wal) as f64 / MIB,
            peak.load(Ordering::Relaxed) as f64 / MIB,
            file_size(&db) as f64 / MIB,
        );
    };
    while Instant::now() + Duration::from_secs(10) <= stop_at {
        tokio::time::sleep(Duration::from_secs(10)).await;
        report(&format!("{:.0} s", t0.elapsed().as_secs_f64()));
    }
    for t in tasks {
        t.await.expect("client");
    }
    for s in signer_threads {
        let _ = s.join();
    }
    report("end");
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("2 s after the last acknowledgement: WAL {:.1} MiB", file_size(&wal) as f64 / MIB);
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let _ = run.stop.send(());
    run.server.await.expect("server").expect("served");
}

fn main() {
    let n = env_usize("VIGIL_BENCH_MEASUREMENTS", 40_000);
    let clients = env_usize("VIGIL_BENCH_CLIENTS", 4);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let keys = keys();
    let saturate_secs = env_usize("VIGIL_BENCH_SATURATE", 0);
    if saturate_secs > 0 {
        println!("saturating ingest: {clients} clients at full speed for {saturate_secs} s, batches of {BATCH}");
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        rt.block_on(saturate(keys, clients, saturate_secs as u64, threads));
        return;
    }
    let signed = sign_all(&keys, n, threads);
    let avg = signed.iter().map(|s| s.payload.len()).sum::<usize>() / signed.len().max(1);
    println!("{n} signed measurements, payload {avg} bytes on average, {threads} cores");
    let raw = raw_rate(&signed, &keys, threads);
    println!("raw Ed25519 verify, single, {threads} threads: {:>9.0} /s", raw.single);
    println!("raw Ed25519 verify_batch(64), {threads} threads: {:>9.0} /s", raw.batch);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (rate, elapsed) = rt.block_on(ingest(signed, &keys, clients));
    println!(
        "ingest over HTTP into SQLite, batches of {BATCH}, {clients} clients: {rate:>9.0} /s ({:.2} s)",
        elapsed.as_secs_f64()
    );
    println!("ingest / raw single: {:.0} %", 100.0 * rate / raw.single);
    println!("ingest / raw batch:  {:.0} %", 100.0 * rate / raw.batch);
}
