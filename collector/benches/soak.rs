//! Soak benchmark of the server's limits: a real collector (this benchmark re-run as a child
//! process, so its descriptors are its own) on 127.0.0.1, 500 slow clients (idle, slowloris
//! headers, slow bodies, mixed) connected at once; meanwhile a normal client measures the latency
//! of 400 new requests paced over 8 s (`GET /api/v1/health` and a timeline read on an empty store,
//! a new connection each; before and after the idle timeout freed slots) and the
//! descriptors the collector holds, at the peak and after its timeouts have fired. Run twice: with
//! the machine's descriptor limit, and with `RLIMIT_NOFILE` 256 (the collector fits its connection
//! cap under it: clients over the cap are answered 503 at once, and new requests never hang).
//!
//! `cargo bench -p vigil-collector --bench soak --profile bench-fast` (about 60 s). The collector
//! runs with the default header (10 s) and idle (5 s) timeouts and a 15 s body timeout (the default
//! 60 s would make the run long; the mechanism is the same).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use vigil_collector::{Collector, Config};

const SLOW_CLIENTS: usize = 500;
const REQUESTS: usize = 400;
/// Between two new requests.
const PACE: Duration = Duration::from_millis(20);
const BODY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the slow clients keep at it (longer than every timeout).
const SLOW_FOR: Duration = Duration::from_secs(22);
const CHILD_ENV: &str = "VIGIL_SOAK_CHILD_NOFILE";
/// 2026-01-01 00:00 UTC: a fixed week for the timeline read.
const FROM: i64 = 1_767_225_600;

fn main() {
    if let Ok(nofile) = std::env::var(CHILD_ENV) {
        child(nofile.parse().expect("descriptor limit"));
        return;
    }
    let _ = rlimit::increase_nofile_limit(8192);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let start = Instant::now();
    let mut rows = Vec::new();
    for nofile in [0u64, 256] {
        rows.extend(rt.block_on(soak(nofile)));
    }
    println!();
    println!(
        "{SLOW_CLIENTS} slow clients (125 idle, 125 slowloris, 125 slow bodies, 125 mixed); {REQUESTS} new requests \
         each run"
    );
    println!(
        "| RLIMIT_NOFILE | cap | requests at | answered 200 | 503 | failed/hung | p50 ms | p95 ms | p99 ms | max ms | fds before | fds \
         peak | fds after timeouts | slow closed by server |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!("(whole run {:.0} s)", start.elapsed().as_secs_f64());
}

/// The collector process: serve on 127.0.0.1:0 until stdin closes.
fn child(nofile: u64) {
    if nofile > 0 {
        rlimit::setrlimit(rlimit::Resource::NOFILE, nofile, nofile).expect("setrlimit");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path());
    config.body_timeout = BODY_TIMEOUT;
    config.live_detection = false;
    let cap = vigil_collector::limits::fitted_cap(config.max_connections);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let collector = Collector::open(config).expect("collector opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{} {cap}", listener.local_addr().expect("addr"));
        let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = closed.send(());
        });
        collector
            .serve(listener, async {
                let _ = stdin_closed.await;
            })
            .await
            .expect("serve");
    });
}

fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Idle,
    Slowloris,
    SlowBody,
    /// One whole request kept alive, then silence.
    KeptIdle,
    /// Half a body, then silence.
    StalledBody,
}

/// One slow client: true if the server closed it before `SLOW_FOR`.
async fn slow_client(addr: SocketAddr, kind: Kind) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else { return true };
    let opening: &[u8] = match kind {
        Kind::Idle => b"",
        Kind::Slowloris => b"GET /api/v1/health HTTP/1.1\r\nhost: soak\r\n",
        Kind::SlowBody => b"POST /api/v1/submit HTTP/1.1\r\nhost: soak\r\ncontent-length: 100000\r\n\r\n{",
        Kind::KeptIdle => b"GET /api/v1/health HTTP/1.1\r\nhost: soak\r\n\r\n",
        Kind::StalledBody => {
            b"POST /api/v1/enroll HTTP/1.1\r\nhost: soak\r\ncontent-length: 1000\r\n\r\n{\"public_key\":"
        }
    };
    if s.write_all(opening).await.is_err() {
        return true;
    }
    let end = tokio::time::Instant::now() + SLOW_FOR;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 2048];
    let mut i = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => return false,
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            },
            _ = tick.tick() => {
                i += 1;
                let more = match kind {
                    Kind::Slowloris => format!("x-slow-{i}: a\r\n"),
                    Kind::SlowBody => " ".to_string(),
                    _ => String::new(),
                };
                if !more.is_empty() && s.write_all(more.as_bytes()).await.is_err() {
                    return true;
                }
            }
        }
    }
}

#[derive(Default)]
struct Phase {
    ok: usize,
    busy: usize,
    failed: usize,
    ms: Vec<f64>,
}

struct Row {
    nofile: String,
    cap: String,
    when: &'static str,
    p: Phase,
    fds_before: usize,
    fds_peak: usize,
    fds_after: usize,
    closed: usize,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = |p: f64| {
            let ms = &self.p.ms;
            if ms.is_empty() {
                return f64::NAN;
            }
            ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1]
        };
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {}/{} |",
            self.nofile,
            self.cap,
            self.when,
            self.p.ok,
            self.p.busy,
            self.p.failed,
            q(0.50),
            q(0.95),
            q(0.99),
            q(1.0),
            self.fds_before,
            self.fds_peak,
            self.fds_after,
            self.closed,
            SLOW_CLIENTS
        )
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One new connection, one request: the status (0: failed) and the time it took.
async fn one_request(addr: SocketAddr, path: &str) -> (u16, f64) {
    let t = Instant::now();
    let request = format!("GET {path} HTTP/1.1\r\nhost: soak\r\nconnection: close\r\n\r\n");
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(request.as_bytes()).await.ok()?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.ok()?;
        std::str::from_utf8(got.get(9..12)?).ok()?.parse::<u16>().ok()
    })
    .await;
    (answer.ok().flatten().unwrap_or(0), t.elapsed().as_secs_f64() * 1000.0)
}

async fn soak(nofile: u64) -> Vec<Row> {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, nofile.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the collector");
    let pid = child.id();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("stdout")), &mut line)
        .expect("the collector's address");
    let server = Server(child);
    let (addr, cap) = line.trim().split_once(' ').expect("address and cap");
    let addr: SocketAddr = addr.parse().expect("address");
    let label = if nofile == 0 { "machine's".to_string() } else { nofile.to_string() };
    eprintln!("soak: collector pid {pid} on {addr}, descriptor limit {label}, connection cap {cap}");
    let fds_before = descriptors(pid);

    let kinds = [Kind::Idle, Kind::Slowloris, Kind::SlowBody, Kind::KeptIdle, Kind::StalledBody];
    let mut slow = Vec::new();
    let t0 = tokio::time::Instant::now();
    for i in 0..SLOW_CLIENTS {
        // 125 of each of the first three; the mixed 125 alternate between the last two.
        let kind = match i % 4 {
            3 => kinds[3 + (i / 4) % 2],
            k => kinds[k],
        };
        slow.push(tokio::spawn(slow_client(addr, kind)));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut fds_peak = descriptors(pid);

    let timeline = format!("/api/v1/timeline?country=ZZ&from={FROM}&to={}&bucket=3600", FROM + 7 * 86_400);
    // Paced over 8 s: the first half while every slow client is connected (before the idle
    // timeout, 5 s), the second after the idle ones were closed.
    let mut phases = [Phase::default(), Phase::default()];
    for i in 0..REQUESTS {
        tokio::time::sleep_until(t0 + Duration::from_millis(900) + PACE * i as u32).await;
        let path = if i % 2 == 0 { "/api/v1/health" } else { timeline.as_str() };
        let (status, t) = one_request(addr, path).await;
        let phase = &mut phases[usize::from(t0.elapsed() >= Duration::from_secs(5))];
        match status {
            200 => phase.ok += 1,
            503 => phase.busy += 1,
            _ => phase.failed += 1,
        }
        phase.ms.push(t);
        if i % 10 == 0 {
            fds_peak = fds_peak.max(descriptors(pid));
        }
    }
    // Every timeout has fired by then (the slow clients give up later, at SLOW_FOR).
    tokio::time::sleep_until(t0 + BODY_TIMEOUT + Duration::from_secs(2)).await;
    let fds_after = descriptors(pid);
    let mut closed = 0;
    for s in slow {
        closed += usize::from(s.await.unwrap_or(false));
    }
    drop(server);
    let [first, second] = phases;
    let row = |when: &'static str, mut p: Phase| {
        p.ms.sort_by(f64::total_cmp);
        Row { nofile: label.clone(), cap: cap.to_string(), when, p, fds_before, fds_peak, fds_after, closed }
    };
    vec![row("0.9-5 s", first), row("5-9 s", second)]
}
