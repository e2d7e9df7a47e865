//! The WAL stays bounded under saturating ingest (issue 14, item 3): several clients submit
//! signed batches (6,400 measurements of ~2.5 KB) to a real collector as fast as it answers, with a small WAL limit; the WAL
//! file, sampled all along, never passes the limit plus one write transaction, it is emptied
//! once ingest stops, and every acknowledged measurement is stored.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vigil_collector::checkpoint::wal_size;
use vigil_report::Signed;

use crate::support::{Server, config, key, payload_at, sign};

const LIMIT: u64 = 2 * 1024 * 1024;
const CLIENTS: usize = 4;
const BATCH: usize = 100;
const BATCHES_PER_CLIENT: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_bounded_under_saturating_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.wal_limit_bytes = LIMIT;
    let server = Arc::new(Server::start(cfg).await);
    let db = dir.path().join("vigil.sqlite");
    let keys: Vec<_> = (0..CLIENTS).map(|i| key(40 + i as u8)).collect();
    let mut collector_key = None;
    for k in &keys {
        collector_key = Some(server.enroll(k).await);
    }
    let collector_key = collector_key.unwrap();
    // Batches of ~2.5 KB measurements, signed beforehand on every core.
    let start = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let batches: Vec<Vec<Vec<Signed>>> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(c, k)| {
                s.spawn(move || {
                    (0..BATCHES_PER_CLIENT)
                        .map(|b| {
                            (0..BATCH)
                                .map(|i| sign(k, payload_at(&format!("wal-{c}-{b:03}-{i:03}"), start, 2000)))
                                .collect()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, db) = (peak.clone(), done.clone(), db.clone());
        std::thread::spawn(move || {
            let mut samples = 0u64;
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(wal_size(&db), Ordering::Relaxed);
                samples += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            samples
        })
    };
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let t0 = Instant::now();
    let clients: Vec<_> = batches
        .into_iter()
        .map(|mine| {
            let (server, acked) = (server.clone(), acked.clone());
            tokio::spawn(async move {
                for batch in &mine {
                    let ack = server.submit_ok(batch, &collector_key).await;
                    let mut acked = acked.lock().unwrap();
                    for (m, r) in batch.iter().zip(&ack.results) {
                        if r.status.is_stored() {
                            let id = m.payload_as::<serde_json::Value>().unwrap()["id"].as_str().unwrap().to_string();
                            acked.insert(id);
                        }
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let ingest = t0.elapsed();
    // Once ingest stops, the WAL is emptied.
    let mut emptied = false;
    for _ in 0..200 {
        if wal_size(&db) == 0 {
            emptied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let db_size = std::fs::metadata(&db).unwrap().len();
    eprintln!(
        "{} measurements acknowledged in {ingest:?}; WAL peak {peak} bytes (limit {LIMIT}, {samples} samples), database {db_size} bytes",
        acked.len()
    );
    assert!(acked.len() >= CLIENTS * BATCH, "ingest ran: {}", acked.len());
    assert!(db_size > 4 * LIMIT, "far more was written than the limit: {db_size}");
    // The bound: the limit plus one write transaction (at most an eighth of the limit in
    // measurements; its frames, whole pages with indexes and observations, several times that).
    assert!(peak <= 2 * LIMIT, "WAL peak {peak} bytes over twice the limit {LIMIT}");
    assert!(emptied, "the WAL is emptied once ingest stops: {} bytes", wal_size(&db));

    let server = Arc::into_inner(server).expect("the clients are done");
    let conn = server.db();
    let mut stmt = conn.prepare("SELECT id FROM measurements").unwrap();
    let stored: BTreeSet<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    drop(stmt);
    drop(conn);
    let missing: Vec<_> = acked.difference(&stored).take(5).collect();
    assert!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    server.stop().await;
}
