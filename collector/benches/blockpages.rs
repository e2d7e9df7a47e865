//! Blockpage discovery benchmark: the writer's extraction (parse, normalise, sign) of candidate
//! pages of about 20 KB, then a table at the cap (N candidates: 200 templates with per-request
//! variation and unique pages) in SQLite in a temporary directory, and the public listing's time
//! (clustering every candidate, describing the first page of 20).
//!
//! `cargo bench -p vigil-collector --bench blockpages --profile bench-fast [-- <candidates>]`
//! (default 10,000, the default cap).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_collector::api_blockpages::{Cache, DEFAULT_LIMIT, listing};
use vigil_collector::blockpages::candidate;
use vigil_collector::blockpages_cluster::Params;
use vigil_collector::{blockpages_store, store};

const WORDS: [&str; 24] = [
    "access",
    "blocked",
    "network",
    "court",
    "order",
    "ministry",
    "information",
    "page",
    "site",
    "law",
    "provider",
    "restricted",
    "request",
    "resource",
    "national",
    "authority",
    "content",
    "decision",
    "internet",
    "filter",
    "policy",
    "category",
    "contact",
    "service",
];

fn sentence(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

/// A page of `template` (the same text for a template, a per-request id) padded to ~20 KB.
fn body(template: u64, request: u64, pad: &str) -> String {
    let mut rng = StdRng::seed_from_u64(template);
    let paragraphs: Vec<String> = (0..8).map(|_| format!("<p>{}</p>", sentence(&mut rng, 25))).collect();
    format!(
        "<html><head><title>Blocked {template}</title><style>.t{template}{{color:red}}</style></head><body>\
         <h1 class=\"notice\">{}</h1>{}<p>Request {request} at 10.0.0.{}</p><script>{pad}</script></body></html>",
        sentence(&mut rng, 6),
        paragraphs.join(""),
        request % 250
    )
}

fn payload(id: &str, body: &str) -> String {
    serde_json::json!({
        "id": id, "input": "https://example.org/", "test_name": "vigil_web_connectivity",
        "test_keys": {"blocking": "http-diff", "requests": [{"response": {"body": body, "headers": {}, "title": "Blocked"}}]}
    })
    .to_string()
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let pad = "var x = 1;".repeat(1500);
    let mut rng = StdRng::seed_from_u64(7);
    let payloads: Vec<String> = (0..n)
        .map(|i| {
            // Four in five pages come from 200 templates, the rest are one of a kind.
            let template = if rng.random_bool(0.8) { rng.random_range(0..200) } else { 1_000_000 + i as u64 };
            payload(&format!("m{i}"), &body(template, rng.random(), &pad))
        })
        .collect();
    let bytes: usize = payloads.iter().map(String::len).sum();

    let started = Instant::now();
    let pages: Vec<_> = payloads.iter().map(|p| candidate("vigil_web_connectivity", p).expect("a candidate")).collect();
    let took = started.elapsed().as_secs_f64();
    println!(
        "extraction: {n} payloads of {:.1} KB in {took:.2} s: {:.0} pages/s, {:.1} MB/s",
        bytes as f64 / n as f64 / 1000.0,
        n as f64 / took,
        bytes as f64 / took / 1e6
    );

    let dir = tempfile::tempdir().unwrap();
    let mut conn = store::open_and_migrate(&dir.path().join("vigil.sqlite")).unwrap();
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    for (i, page) in pages.iter().enumerate() {
        let (id, key) = (format!("m{i}"), format!("k{}", i % 50));
        let src = blockpages_store::Source {
            measurement_id: &id,
            key_id: &key,
            cc: "ZZ",
            asn: (i % 7) as u32,
            seen_at: "2026-01-01 00:00:00",
        };
        blockpages_store::add(&tx, &src, page).unwrap();
    }
    blockpages_store::prune(&tx, n).unwrap();
    tx.commit().unwrap();
    println!("insert: {n} candidates in {:.2} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let members = blockpages_store::members(&conn).unwrap();
    let loaded = started.elapsed().as_secs_f64();
    let groups = vigil_collector::blockpages_cluster::cluster(&members, &Params::default());
    println!(
        "clustering alone: load {:.0} ms, LSH and union-find {:.0} ms ({} groups)",
        loaded * 1000.0,
        (started.elapsed().as_secs_f64() - loaded) * 1000.0,
        groups.len()
    );
    for _ in 0..3 {
        let started = Instant::now();
        let l = listing(&conn, &Params::default(), &Cache::default(), 0, DEFAULT_LIMIT).unwrap();
        println!(
            "listing: {} candidates, {} published clusters (largest {}), first page in {:.0} ms",
            l.candidates,
            l.total,
            l.clusters.first().map_or(0, |c| c.size),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let cache = Cache::default();
    listing(&conn, &Params::default(), &cache, 0, DEFAULT_LIMIT).unwrap();
    let started = Instant::now();
    listing(&conn, &Params::default(), &cache, 0, DEFAULT_LIMIT).unwrap();
    println!(
        "listing again, candidates unchanged (cached clustering): {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
