//! The server's limits against hostile clients, on a real collector on 127.0.0.1: streamed
//! responses under compression, timeouts, connection cap and declared body sizes.

#[path = "api/support.rs"]
mod support;

use std::io::Read as _;
use std::time::Duration;

use support::{Server, config, key, measurement};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// GET `path` asking for gzip; the status, the Content-Encoding and the decoded body.
async fn get_gzip(s: &Server, path: &str) -> (u16, Option<String>, String) {
    let resp = s.http.get(format!("{}{path}", s.base)).header("accept-encoding", "gzip").send().await.unwrap();
    let status = resp.status().as_u16();
    let encoding = resp.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
    let raw = resp.bytes().await.expect("the whole body arrives");
    let body = if encoding.as_deref() == Some("gzip") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut text).expect("valid gzip");
        text
    } else {
        String::from_utf8(raw.to_vec()).unwrap()
    };
    (status, encoding, body)
}

async fn assert_gzip_export_equals_plain(s: &Server) {
    let (status, plain) = s.get("/api/v1/measurements.jsonl").await;
    assert_eq!(status, 200, "{plain}");
    for _ in 0..3 {
        let (status, encoding, body) = get_gzip(s, "/api/v1/measurements.jsonl").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(encoding.as_deref(), Some("gzip"));
        assert_eq!(body, plain);
    }
    let (status, body) = s.get("/api/v1/health").await;
    assert_eq!(status, 200, "the collector still answers: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_export_is_whole_and_leaves_the_server_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    // Empty database: the stream ends at once.
    assert_gzip_export_equals_plain(&s).await;
    let (status, plain) = s.get("/api/v1/measurements.jsonl").await;
    assert_eq!((status, plain.as_str()), (200, ""));

    let k = key(7);
    let collector = s.enroll(&k).await;
    let batch: Vec<_> = (0..40).map(|i| measurement(&k, &format!("gz-{i:03}"))).collect();
    s.submit_ok(&batch, &collector).await;
    assert_gzip_export_equals_plain(&s).await;
    let (_, plain) = s.get("/api/v1/measurements.jsonl").await;
    assert_eq!(plain.lines().count(), 40);
    s.stop().await;
}

/// A configuration with short limits; `set` changes some.
fn short(dir: &std::path::Path, set: impl FnOnce(&mut vigil_collector::Config)) -> vigil_collector::Config {
    let mut c = config(dir);
    c.header_read_timeout = Duration::from_secs(20);
    c.idle_timeout = Duration::from_secs(20);
    c.body_timeout = Duration::from_secs(20);
    set(&mut c);
    c
}

const PATIENCE: Duration = Duration::from_secs(5);

/// Read until the server closes the connection (EOF or reset) or `PATIENCE` passes; what arrived
/// and whether the connection was closed.
async fn read_to_close(s: &mut TcpStream) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// Read one response (head and Content-Length body) from a kept-alive connection.
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if got.len() >= end + 4 + len {
                    let status = head[9..12].parse().unwrap();
                    return (status, String::from_utf8_lossy(&got[end + 4..end + 4 + len]).into_owned());
                }
            }
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole response: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response in time")
}

fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

const HEALTH: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nhost: t\r\n\r\n";
const HEALTH_CLOSE: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(short(dir.path(), |c| c.idle_timeout = Duration::from_millis(300))).await;
    // A connection that never sends anything.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    // A kept-alive connection after one answered request.
    let mut kept = TcpStream::connect(s.addr).await.unwrap();
    kept.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut kept).await.0, 200);
    let t = std::time::Instant::now();
    let (got, closed) = read_to_close(&mut silent).await;
    assert!(closed && got.is_empty(), "a silent connection stays open: {got:?}");
    let (got, closed) = read_to_close(&mut kept).await;
    assert!(closed && got.is_empty(), "an idle kept-alive connection stays open: {got:?}");
    assert!(t.elapsed() >= Duration::from_millis(200), "closed before the idle timeout");
    // A request in flight is not idle: a body paused for longer than the idle timeout is read.
    let k = key(5);
    let body = serde_json::to_string(&vigil_report::protocol::EnrollRequest {
        public_key: vigil_report::signed::encode_public_key(&k.verifying_key()),
        proof: vigil_report::signed::enrollment_proof(&k),
        token: Some(support::TOKEN.into()),
        software_version: "test".into(),
    })
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/enroll HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{first}",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    c.write_all(rest.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut c).await;
    assert_eq!(status, 200, "{answer}");
    // Still serving.
    let (status, _) = s.get("/api/v1/health").await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowloris_header_is_dropped_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(short(dir.path(), |c| c.header_read_timeout = Duration::from_millis(300))).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: t\r\n").await.unwrap();
    // One more header line every 100 ms: never idle, never complete.
    let t = std::time::Instant::now();
    let mut closed = false;
    for i in 0..50 {
        if c.write_all(format!("x-slow-{i}: a\r\n").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(100), c.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(n)) => {
                let got = String::from_utf8_lossy(&buf[..n]).into_owned();
                assert_ne!(status_of(&got), Some(200), "a partial header was answered: {got}");
                closed = true;
                break;
            }
            Ok(Err(_)) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the partial header kept the connection for {:?}", t.elapsed());
    assert!(t.elapsed() < PATIENCE, "{:?}", t.elapsed());
    let (status, _) = s.get("/api/v1/health").await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_is_answered_408() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(short(dir.path(), |c| c.body_timeout = Duration::from_millis(300))).await;
    for path in ["/api/v1/submit", "/api/v1/enroll"] {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        // A byte every 50 ms: the body would take 50 s.
        let mut answer = String::new();
        for _ in 0..100 {
            if c.write_all(b" ").await.is_err() {
                break;
            }
            let mut buf = [0u8; 4096];
            if let Ok(r) = tokio::time::timeout(Duration::from_millis(50), c.read(&mut buf)).await {
                answer = String::from_utf8_lossy(&buf[..r.unwrap_or(0)]).into_owned();
                break;
            }
        }
        assert_eq!(status_of(&answer), Some(408), "{path}: {answer:?}");
        assert!(answer.contains("\"request_timeout\""), "{answer}");
        let (_, closed) = read_to_close(&mut c).await;
        assert!(closed, "{path}: the connection stays open after the 408");
    }
    // A whole body in time is served as before.
    let (status, body) = s.enroll_with(&key(3), Some(support::TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_length_over_the_limit_is_answered_413_before_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(short(dir.path(), |_| {})).await;
    let over_default = (vigil_collector::config::DEFAULT_MAX_OTHER_BODY_BYTES + 1).to_string();
    let cases = [
        ("/api/v1/submit", "100000000000"),
        ("/api/v1/enroll", over_default.as_str()),
        ("/api/v1/control", "100000000000"),
        ("/api/v1/admin/disclosures", "100000000000"),
        ("/api/v1/admin/rotate-key", over_default.as_str()),
    ];
    for (path, length) in cases {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        // Not one byte of the body is sent.
        let (got, closed) = read_to_close(&mut c).await;
        assert_eq!(status_of(&got), Some(413), "{path}: {got:?}");
        assert!(got.contains("\"body_too_large\""), "{path}: {got}");
        assert!(closed, "{path}: the connection waits for a body it refused");
    }
    // Within the limit, a body is read as before.
    let k = key(4);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "small-1")], &collector).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(short(dir.path(), |c| c.max_connections = 4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        held.push(c);
    }
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut extra = TcpStream::connect(s.addr).await.unwrap();
        let _ = extra.write_all(HEALTH_CLOSE).await;
        let (got, closed) = read_to_close(&mut extra).await;
        assert!(closed, "a connection over the cap waits");
        assert!(got.is_empty() || status_of(&got) == Some(503), "over the cap: {got}");
        if !got.is_empty() {
            assert!(got.contains("\"too_many_connections\""), "{got}");
        }
        assert!(t.elapsed() < Duration::from_secs(2), "refused after {:?}", t.elapsed());
    }
    // The held connections still work, and a freed slot takes a new client.
    held[0].write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut held[0]).await.0, 200);
    drop(held.pop());
    let mut answered = false;
    for _ in 0..50 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(HEALTH_CLOSE).await.unwrap();
        let (got, _) = read_to_close(&mut c).await;
        if status_of(&got) == Some(200) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "a freed slot never took a new client");
    drop(held);
    s.stop().await;
}
