//! Measurement queries for researchers against the real collector on 127.0.0.1: signed
//! measurements enrolled and submitted through the real path (two origins, told apart by a
//! trusted proxy's X-Forwarded-For), then filtered, paged (also while new data arrives) and
//! exported as OONI-compatible JSON Lines.

#[path = "api/support.rs"]
mod support;

use std::collections::HashSet;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use support::{Server, config, error_code, key, ooni_time, sign, value};
use time::{Duration, OffsetDateTime};
use vigil_report::protocol::SubmitRequest;
use vigil_report::signed::key_id;
use vigil_report::{MEASUREMENT_FORMAT, Signed};

/// One measurement as submitted, and what the collector should know about it.
#[derive(Debug, Clone)]
struct Sent {
    id: String,
    start: OffsetDateTime,
    key_id: String,
    cc: &'static str,
    asn: u32,
    input: String,
    test_name: &'static str,
    payload: Value,
}

/// The submitting address's origin in tests/data/ip2asn-test.tsv.
const US: (&str, u32, Option<&str>) = ("US", 13335, Some("1.0.0.7"));
const NL: (&str, u32, Option<&str>) = ("NL", 64512, None);

struct World {
    server: Server,
    keys: Vec<SigningKey>,
    sent: Vec<Sent>,
    base: OffsetDateTime,
    _dir: tempfile::TempDir,
}

fn payload(id: &str, start: OffsetDateTime, input: &str, test_name: &str, i: usize) -> Value {
    json!({
        "id": id,
        "data_format_version": "0.2.0",
        "measurement_start_time": ooni_time(start),
        "test_start_time": ooni_time(start - Duration::seconds(30)),
        "input": input,
        "test_name": test_name,
        "test_version": "0.1.0",
        "software_name": "vigil-probe",
        "software_version": "0.1.0",
        "probe_asn": "AS0",
        "probe_cc": "ZZ",
        "resolver_ip": "192.0.2.53",
        "test_runtime": 1.25 + i as f64 / 8.0,
        "annotations": {"network_type": "wifi"},
        "test_keys": {
            "blocking": false,
            "accessible": true,
            "x_reasons": [format!("reason {i}")],
            "x_extra": {"nested": [1, 2.5, null, "é\u{1F600}"], "big": 12_345_678_901_i64},
        },
    })
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.asn_db = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip2asn-test.tsv"));
        c.trust_proxy = true;
        let server = Server::start(c).await;
        let keys = vec![key(1), key(2)];
        for k in &keys {
            server.enroll(k).await;
        }
        let base = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::days(2);
        let mut w = World { server, keys, sent: Vec::new(), base, _dir: dir };
        // 60 measurements, submitted out of start-time order, three per start second.
        let order: Vec<usize> = (0..60).map(|i| (i * 7) % 60).collect();
        w.submit("a", &order, 0).await;
        w
    }

    /// Submit measurement `n` for each n (start = base + n/3 minutes), in batches by key and origin.
    async fn submit(&mut self, tag: &str, ns: &[usize], minute_offset: i64) {
        let mut batches = std::collections::BTreeMap::new();
        for &n in ns {
            let k = n % 2;
            let us = n % 4 == 0;
            let origin = if us { US } else { NL };
            let start = self.base + Duration::minutes(minute_offset + (n / 3) as i64);
            let id = format!("{tag}-{n:03}");
            let input = if n % 3 == 0 { "https://a.example/" } else { "https://b.example/" };
            let test_name = if n % 5 == 0 { "vigil_platform" } else { "vigil_web_connectivity" };
            let p = payload(&id, start, input, test_name, n);
            let signed = sign(&self.keys[k], p.to_string());
            let sent = Sent {
                id,
                start,
                key_id: key_id(&self.keys[k].verifying_key()),
                cc: origin.0,
                asn: origin.1,
                input: input.into(),
                test_name,
                payload: p,
            };
            batches.entry((k, us)).or_insert_with(Vec::new).push((signed, sent));
        }
        for ((_, us), batch) in batches {
            let body =
                serde_json::to_string(&SubmitRequest { measurements: batch.iter().map(|b| b.0.clone()).collect() })
                    .unwrap();
            let forwarded = if us { US.2 } else { NL.2 };
            let headers: Vec<(&str, &str)> = forwarded.map(|f| ("x-forwarded-for", f)).into_iter().collect();
            let (status, text) =
                self.server.request(reqwest::Method::POST, "/api/v1/submit", Some(body), &headers).await;
            assert_eq!(status, 200, "{text}");
            assert!(!text.contains("rejected"), "{text}");
            // Stored in batch order: seq follows `sent`.
            self.sent.extend(batch.into_iter().map(|b| b.1));
        }
    }

    /// The ids matching `keep`, in the API's order (start time, then arrival).
    fn expected(&self, keep: impl Fn(&Sent) -> bool) -> Vec<String> {
        let mut v: Vec<(OffsetDateTime, usize, &Sent)> =
            self.sent.iter().enumerate().filter(|(_, s)| keep(s)).map(|(i, s)| (s.start, i, s)).collect();
        v.sort_by_key(|(t, i, _)| (*t, *i));
        v.into_iter().map(|(_, _, s)| s.id.clone()).collect()
    }

    fn by_id(&self, id: &str) -> &Sent {
        self.sent.iter().find(|s| s.id == id).unwrap()
    }

    async fn page(&self, query: &str) -> (Vec<Value>, Option<String>) {
        let (status, body) = self.server.get(&format!("/api/v1/measurements?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        let v = value(&body);
        let next = v["next"].as_str().map(str::to_string);
        (v["results"].as_array().unwrap().clone(), next)
    }

    /// Every page of `query` with `limit`, following `next`.
    async fn all_pages(&self, query: &str, limit: usize) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let (rows, next) = self.page(&format!("{query}&limit={limit}{c}")).await;
            assert!(rows.len() <= limit);
            ids.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_string()));
            match next {
                Some(n) => {
                    assert_eq!(rows.len(), limit, "only full pages have a next");
                    cursor = Some(n);
                }
                None => return ids,
            }
        }
    }

    async fn bad(&self, path: &str, names: &str) {
        let (status, body) = self.server.get(path).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "bad_parameter"), "{path}: {body}");
        assert!(value(&body)["error"]["message"].as_str().unwrap().starts_with(names), "{path}: {body}");
    }
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_pages_and_bad_parameters() {
    let mut w = World::start().await;
    let all = w.expected(|_| true);
    assert_eq!(all.len(), 60);

    // Each filter, alone and combined, against what was sent.
    let k2 = key_id(&w.keys[1].verifying_key());
    let since = w.base + Duration::minutes(5);
    let until = w.base + Duration::minutes(12);
    let cases: Vec<(String, Vec<String>)> = vec![
        ("".into(), all.clone()),
        ("country=US".into(), w.expected(|s| s.cc == "US")),
        ("country=nl".into(), w.expected(|s| s.cc == "NL")),
        ("asn=AS13335".into(), w.expected(|s| s.asn == 13335)),
        ("asn=64512".into(), w.expected(|s| s.asn == 64512)),
        ("test_name=vigil_platform".into(), w.expected(|s| s.test_name == "vigil_platform")),
        ("input=https%3A%2F%2Fa.example%2F".into(), w.expected(|s| s.input == "https://a.example/")),
        (format!("probe={k2}"), w.expected(|s| s.key_id == k2)),
        (
            format!("since={}&until={}", since.unix_timestamp(), rfc3339(until).replace('+', "%2B")),
            w.expected(|s| s.start >= since && s.start < until),
        ),
        (
            format!("country=US&since={}&test_name=vigil_web_connectivity", rfc3339(since)),
            w.expected(|s| s.cc == "US" && s.start >= since && s.test_name == "vigil_web_connectivity"),
        ),
    ];
    for (q, want) in &cases {
        assert!(!want.is_empty() || q.is_empty());
        let (rows, next) = w.page(&format!("{q}&limit=1000")).await;
        assert_eq!(&ids(&rows), want, "{q}");
        assert_eq!(next, None);
        // Paged in sevens: every measurement exactly once, in order.
        assert_eq!(&w.all_pages(q, 7).await, want, "{q} in pages");
    }

    // A result: the probe's signed facts, the collector's origin, a link to the signed envelope.
    let (rows, _) = w.page("limit=1").await;
    let r = &rows[0];
    let s = w.by_id(r["id"].as_str().unwrap()).clone();
    let fields: HashSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    let want_fields = [
        "id",
        "key_id",
        "test_name",
        "input",
        "measurement_start_time",
        "received_at",
        "probe_cc",
        "probe_asn",
        "signed_url",
    ];
    assert_eq!(fields, want_fields.into_iter().collect());
    assert_eq!(r["key_id"], s.key_id);
    assert_eq!(r["probe_cc"], s.cc);
    assert_eq!(r["probe_asn"], format!("AS{}", s.asn));
    assert_eq!(r["measurement_start_time"], ooni_time(s.start));
    assert_eq!(r["input"], s.input);
    let (status, body) = w.server.get(r["signed_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let signed: Signed = serde_json::from_str(&body).unwrap();
    let k = w.keys.iter().find(|k| key_id(&k.verifying_key()) == s.key_id).unwrap();
    signed.verify(MEASUREMENT_FORMAT, &k.verifying_key()).expect("the linked envelope verifies");

    // The default page is 100, the maximum 1000.
    let (rows, next) = w.page("").await;
    assert_eq!((rows.len(), next), (60, None));
    w.page("limit=1000").await;

    // Stable pages while data arrives: a cursor taken before new measurements keeps its place;
    // the new ones that start after it appear exactly once, the ones before it never.
    let (first, next) = w.page("limit=10").await;
    let cursor = next.unwrap();
    let (before, _) = w.page(&format!("limit=10&cursor={cursor}")).await;
    w.submit("early", &[0, 1, 2], -30).await; // before everything: behind the cursor
    w.submit("late", &[5, 40, 90, 91], 0).await; // one behind the cursor, three after it
    let (again, _) = w.page(&format!("limit=10&cursor={cursor}")).await;
    assert_eq!(ids(&again), ids(&before), "the page after a cursor does not shift");
    let mut seen = ids(&first);
    let mut c = Some(cursor);
    while let Some(cur) = c {
        let (rows, next) = w.page(&format!("limit=10&cursor={cur}")).await;
        seen.extend(ids(&rows));
        c = next;
    }
    let last_of_first = ids(&first)[9].clone();
    let after: Vec<String> = w.expected(|_| true).into_iter().skip_while(|id| *id != last_of_first).skip(1).collect();
    assert_eq!(seen[10..], after[..]);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 63, "every measurement once, but those behind the cursor");
    for id in ["early-000", "early-001", "early-002", "late-005"] {
        assert!(!seen.contains(&id.to_string()), "{id} is behind the cursor");
    }
    for id in ["late-040", "late-090", "late-091"] {
        assert!(seen.contains(&id.to_string()), "{id} arrived after the cursor was taken");
    }

    // Bad parameters: 400 naming the parameter.
    for (q, name) in [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("bogus=1", "bogus"),
        ("country=USA", "country"),
        ("asn=ASx", "asn"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=", "cursor"),
        ("test_name=", "test_name"),
    ] {
        w.bad(&format!("/api/v1/measurements?{q}"), name).await;
        w.bad(&format!("/api/v1/measurements.jsonl?{q}"), name).await;
    }
    w.bad("/api/v1/measurements?limit=1001", "limit").await;
    w.bad("/api/v1/measurements.jsonl?limit=100001", "limit").await;
    let (status, _) = w.server.get("/api/v1/measurements.jsonl?limit=100000").await;
    assert_eq!(status, 200);
    w.server.stop().await;
}

/// The JSON Lines export of `path` (status 200): its lines and its next link.
async fn export(w: &World, path: &str) -> (Vec<Value>, Option<String>) {
    let resp = w.server.http.get(format!("{}{path}", w.server.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let link = resp.headers().get("link").map(|l| l.to_str().unwrap().to_string());
    let next = link.map(|l| {
        assert!(l.ends_with(">; rel=\"next\""), "{l}");
        l.trim_start_matches('<').split_once('>').unwrap().0.to_string()
    });
    let body = resp.text().await.unwrap();
    let lines = body.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    (lines, next)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jsonl_export_is_ooni_compatible_and_pages_with_link_headers() {
    let w = World::start().await;
    let all = w.expected(|_| true);

    let (lines, next) = export(&w, "/api/v1/measurements.jsonl").await;
    assert_eq!(next, None);
    let uids: Vec<String> = lines.iter().map(|l| l["measurement_uid"].as_str().unwrap().to_string()).collect();
    assert_eq!(uids, all);
    for line in &lines {
        let s = w.by_id(line["measurement_uid"].as_str().unwrap());
        // OONI's top-level fields, set from what the collector knows.
        assert_eq!(line["probe_cc"], s.cc);
        assert_eq!(line["probe_asn"], format!("AS{}", s.asn));
        assert_eq!(line["probe_ip"], "127.0.0.1");
        // The probe cannot send a report id (the payload is checked at ingest): one per probe, test and run.
        let start = s.payload["test_start_time"].as_str().unwrap().replace(['-', ':'], "").replace(' ', "T");
        let test = s.test_name.replace('_', "");
        assert_eq!(line["report_id"], format!("{start}Z_{test}_{}_{}_n1_{}", s.cc, s.asn, s.key_id));
        for f in ["data_format_version", "measurement_start_time", "test_start_time", "test_name", "software_name"] {
            assert!(line[f].is_string(), "{f} in {line}");
        }
        let url = line["annotations"]["vigil_signature_url"].as_str().unwrap();
        assert_eq!(url, format!("/api/v1/measurements/{}", s.id));
        assert_eq!(line["annotations"]["vigil_key_id"], s.key_id);
        // Everything else is the signed payload's, unchanged.
        let mut rest = line.clone();
        let o = rest.as_object_mut().unwrap();
        for k in ["measurement_uid", "probe_cc", "probe_asn", "probe_ip", "report_id"] {
            o.remove(k);
        }
        let a = o["annotations"].as_object_mut().unwrap();
        a.remove("vigil_key_id");
        a.remove("vigil_signature_url");
        let mut signed = s.payload.clone();
        let o = signed.as_object_mut().unwrap();
        for k in ["probe_cc", "probe_asn"] {
            o.remove(k);
        }
        assert_eq!(rest, signed);
    }

    // Filters as the list; pages through Link headers: all, once, in order.
    let (lines, _) = export(&w, "/api/v1/measurements.jsonl?country=US&asn=AS13335").await;
    let want = w.expected(|s| s.cc == "US");
    assert_eq!(lines.iter().map(|l| l["measurement_uid"].as_str().unwrap()).collect::<Vec<_>>(), want);
    let mut got = Vec::new();
    let mut path = Some("/api/v1/measurements.jsonl?limit=25&test_name=vigil_web_connectivity".to_string());
    let mut pages = 0;
    while let Some(p) = path {
        let (lines, next) = export(&w, &p).await;
        assert!(lines.len() <= 25);
        got.extend(lines.iter().map(|l| l["measurement_uid"].as_str().unwrap().to_string()));
        path = next;
        pages += 1;
    }
    assert_eq!(got, w.expected(|s| s.test_name == "vigil_web_connectivity"));
    assert_eq!(pages, 2);
    // The list's cursors and the export's are the same.
    let (rows, next) = w.page("limit=25").await;
    let (lines, _) = export(&w, &format!("/api/v1/measurements.jsonl?cursor={}", next.unwrap())).await;
    assert_eq!(ids(&rows).len() + lines.len(), 60);
    assert_eq!(lines[0]["measurement_uid"], all[25]);
    // Nothing matches: an empty body.
    let (lines, next) = export(&w, "/api/v1/measurements.jsonl?country=IR").await;
    assert!(lines.is_empty() && next.is_none());
}
