//! The throttling test on loopback against the real decoy (`vigil_control::decoy`): a clean run
//! is not throttled (ABBA, fresh connections, the early stop), a wrong pin fails the decoy arms, the `vigil-probe throttle`
//! binary signs and spools its runs, and the A/A false-positive check (ignored by default:
//! `VIGIL_AA_RUNS=1000 cargo test -p vigil-probe --test throttle -- --ignored`).

use std::path::Path;
use std::process::Command;

use vigil_probe::battery::ThrottleTarget;
use vigil_probe::config::Config;
use vigil_probe::throttle::Tester;
use vigil_report::ThrottleVerdict;

struct Decoy {
    addr: std::net::SocketAddr,
    dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn decoy() -> Decoy {
    let dir = tempfile::tempdir().unwrap();
    let tls = vigil_control::decoy::load_or_create(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(vigil_control::decoy::serve(listener, tls, async {
        let _ = rx.await;
    }));
    Decoy { addr, dir, _stop: tx }
}

fn config(decoy: &Decoy, work: &Path) -> Config {
    let mut c = Config::default();
    c.throttle.decoy = decoy.addr.to_string();
    c.throttle.decoy_cert = Some(vigil_control::decoy::cert_path(decoy.dir.path()));
    c.throttle.gap_ms = 0;
    c.throttle.confirm_delay_s = 0;
    c.identity.key_file = work.join("probe.key");
    c.spool.dir = work.join("spool");
    // The decoy listens on loopback: a lab net, or the probe refuses to measure it.
    c.network.lab_nets = vec!["127.0.0.0/8".into()];
    c
}

fn job() -> (String, ThrottleTarget) {
    ("x".into(), ThrottleTarget { sni: "abs.twimg.com".into(), object: None })
}

#[tokio::test]
async fn a_clean_path_is_not_throttled() {
    let d = decoy().await;
    let work = tempfile::tempdir().unwrap();
    let tester = Tester::new(&config(&d, work.path())).unwrap();
    let m = tester.run_platform(&job(), "2026-01-01 00:00:00").await;
    let k = &m.test_keys;
    // A 160 KiB loopback transfer lasts a fraction of a millisecond, so its goodput is mostly
    // scheduling noise: the verdict may be ok or inconclusive, never throttled (the lab asserts
    // `ok` on real links).
    assert_ne!(k.verdict, ThrottleVerdict::Throttled, "{k:?}");
    // A noisy first pass that looked throttled is rerun (and cleared): judge the first pass.
    let first: Vec<_> = k.arms.iter().filter(|a| a.pass == 1).collect();
    assert_eq!(first.len(), 1, "{k:?}");
    // Two clean pairs end it early; loopback's microsecond transfers are noisy enough that
    // sometimes all four pairs run.
    let a = first[0];
    assert!((a.early_stop && a.pairs == 2) || (!a.early_stop && a.pairs == 4), "{a:?}");
    // ABBA: T C C T ..., each a complete 160 KiB object over a fresh connection.
    let order: Vec<&str> = k.transfers.iter().filter(|t| t.pass == 1).map(|t| t.arm.as_str()).collect();
    assert_eq!(order[..4], ["T1", "C1", "C1", "T1"]);
    assert_eq!(order.len(), 2 * a.pairs as usize);
    assert!(k.transfers.iter().all(|t| t.complete && t.bytes == 160 * 1024 && t.failure.is_none()), "{k:?}");
    assert!(
        k.transfers
            .iter()
            .all(|t| t.tls_handshake_ms.is_some() && t.ttfb_ms.is_some() && t.goodput_kbps > Some(1000.0))
    );
    assert_eq!(k.transfers[0].sni, "abs.twimg.com");
    assert_ne!(k.transfers[1].sni, "abs.twimg.com");
    assert_eq!(k.bytes_received, k.transfers.len() as u64 * 160 * 1024);
}

#[tokio::test]
async fn a_local_decoy_is_refused_outside_a_lab() {
    let d = decoy().await;
    let work = tempfile::tempdir().unwrap();
    let mut c = config(&d, work.path());
    c.network.lab_nets.clear();
    let Err(err) = Tester::new(&c) else { panic!("a loopback decoy without a lab net must be refused") };
    assert!(err.contains("throttle.decoy") && err.contains("not a public address"), "{err}");
}

#[tokio::test]
async fn a_wrong_pin_fails_every_decoy_transfer() {
    let d = decoy().await;
    let other = decoy().await;
    let work = tempfile::tempdir().unwrap();
    let mut c = config(&d, work.path());
    c.throttle.decoy_cert = Some(vigil_control::decoy::cert_path(other.dir.path()));
    let m = Tester::new(&c).unwrap().run_platform(&job(), "2026-01-01 00:00:00").await;
    let k = &m.test_keys;
    assert_eq!((k.verdict, k.reason.as_deref()), (ThrottleVerdict::Inconclusive, Some("control_failed")), "{k:?}");
    assert!(k.transfers.iter().all(|t| t.failure.is_some() && t.bytes == 0));
}

#[tokio::test]
async fn the_binary_signs_and_spools_its_runs() {
    let d = decoy().await;
    let work = tempfile::tempdir().unwrap();
    let c = config(&d, work.path());
    let path = work.path().join("probe.toml");
    std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
    let bin = env!("CARGO_BIN_EXE_vigil-probe");
    let path2 = path.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin).args(["throttle", "--json", "--platform", "x", "--config"]).arg(&path2).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["test_name"], "vigil_throttling");
    assert_ne!(lines[0]["test_keys"]["verdict"], "throttled");
    let status = Command::new(bin).args(["status", "--json", "--config"]).arg(&path).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["spool"]["measurements"], 1, "{status}");
    // An unknown platform is a usage error naming it.
    let bad = Command::new(bin).args(["throttle", "--platform", "nope", "--config"]).arg(&path).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"nope\""));
}

/// A/A: both arms send innocuous SNIs, so every `throttled` is a false positive. The real
/// schedule (early stop, confirmation rerun without delay) and decision, on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: the false-positive check (VIGIL_AA_RUNS, default 1000)"]
async fn aa_false_positive_rate() {
    let runs: usize = std::env::var("VIGIL_AA_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let d = decoy().await;
    let work = tempfile::tempdir().unwrap();
    let mut tester = Tester::new(&config(&d, work.path())).unwrap();
    tester.aa = true;
    let (mut throttled, mut first_pass, mut inconclusive, mut bytes) = (0, 0, 0, 0u64);
    for _ in 0..runs {
        let m = tester.run_platform(&job(), "2026-01-01 00:00:00").await;
        let k = &m.test_keys;
        assert_ne!(k.transfers[0].sni, "abs.twimg.com");
        throttled += usize::from(k.verdict == ThrottleVerdict::Throttled);
        inconclusive += usize::from(k.verdict == ThrottleVerdict::Inconclusive);
        first_pass += usize::from(k.arms.iter().any(|a| a.pass == 1 && a.verdict == ThrottleVerdict::Throttled));
        bytes += k.bytes_received;
    }
    let rate = throttled as f64 / runs as f64;
    eprintln!(
        "A/A on loopback: {runs} runs, {throttled} throttled ({:.3} %), {first_pass} throttled first passes, \
         {inconclusive} inconclusive, {} bytes per run",
        100.0 * rate,
        bytes / runs as u64
    );
    assert!(rate <= 0.005, "false-positive rate {rate}");
}
