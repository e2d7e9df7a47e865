//! Local fingerprints end to end: `vigil-probe run --once` against a loopback web server serving a
//! blockpage no built-in row knows, and a fake collector signing (Ed25519) the probe
//! configuration that carries a promoted row. The probe confirms the blockpage only once it has
//! received that configuration, keeps it across runs and outages, refuses forged and replayed
//! statements, refuses a bad row alone, and follows the collector's key rotation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::SigningKey;
use serde_json::Value;
use vigil_report::protocol::{
    EnrollRequest, EnrollResponse, ItemResult, ItemStatus, KeyRotation, LocalFingerprint, ProbeConfigStatement,
    SubmitAck, SubmitRequest,
};
use vigil_report::signed::{encode_public_key, key_id, verify_enrollment_proof};
use vigil_report::{STATEMENT_FORMAT, Signed};
use vigil_testkit::{DnsBehaviour, DnsServer, Site, WebBehaviour, WebServer, Zone};

/// A blockpage that no built-in fingerprint matches.
const NOVEL: &str = "<html><title>Diqqat</title><body>Ushbu sahifa vakolatli organ qarori bilan cheklangan. \
                     Ref 7731</body></html>";
const PATTERN: &str = "vakolatli organ qarori bilan cheklangan";

// ---------------------------------------------------------------- fake collector

#[derive(Clone)]
struct Fake {
    key: SigningKey,
    /// What `GET /api/v1/probe-config` answers (None: 503).
    config: Arc<Mutex<Option<Signed>>>,
    /// Requests for the configuration so far.
    fetches: Arc<AtomicUsize>,
    /// Served at /api/v1/collector-keys.
    chain: Arc<Mutex<Vec<Signed>>>,
}

async fn enroll(State(f): State<Fake>, Json(req): Json<EnrollRequest>) -> Response {
    let Ok(key) = verify_enrollment_proof(&req.public_key, &req.proof) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let collector = f.key.verifying_key();
    Json(EnrollResponse {
        key_id: key_id(&key),
        collector_key: encode_public_key(&collector),
        collector_key_id: key_id(&collector),
    })
    .into_response()
}

async fn submit(State(f): State<Fake>, Json(req): Json<SubmitRequest>) -> Response {
    let results = req
        .measurements
        .iter()
        .map(|m| ItemResult {
            id: vigil_probe::spool::compact::measurement_id(m),
            status: ItemStatus::Accepted,
            error: None,
        })
        .collect();
    let ack = SubmitAck { kind: "ack".into(), received_at: "2026-01-01T00:00:00Z".into(), results };
    Json(Signed::sign_json(STATEMENT_FORMAT, &ack, &f.key).unwrap()).into_response()
}

async fn probe_config(State(f): State<Fake>) -> Response {
    f.fetches.fetch_add(1, Ordering::SeqCst);
    match f.config.lock().unwrap().clone() {
        Some(statement) => Json(statement).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn collector_keys(State(f): State<Fake>) -> Json<Vec<Signed>> {
    Json(f.chain.lock().unwrap().clone())
}

async fn fake_collector() -> (Fake, String) {
    let fake = Fake {
        key: SigningKey::from_bytes(&[7; 32]),
        config: Arc::new(Mutex::new(None)),
        fetches: Arc::default(),
        chain: Arc::default(),
    };
    let app = Router::new()
        .route("/api/v1/enroll", post(enroll))
        .route("/api/v1/submit", post(submit))
        .route("/api/v1/probe-config", get(probe_config))
        .route("/api/v1/collector-keys", get(collector_keys))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, url)
}

fn local_row(name: &str, pattern_type: &str, pattern: &str) -> LocalFingerprint {
    LocalFingerprint {
        name: name.into(),
        location_found: "body".into(),
        pattern_type: pattern_type.into(),
        pattern: pattern.into(),
        expected_countries: vec!["UZ".into()],
    }
}

/// A probe configuration issued at `issued_at`, signed by `key`.
fn statement(issued_at: &str, fingerprints: Vec<LocalFingerprint>, key: &SigningKey) -> Signed {
    let config = ProbeConfigStatement {
        kind: "probe-config".into(),
        issued_at: issued_at.into(),
        interval_minutes: 60,
        control_url: None,
        battery_toml: None,
        fingerprints,
    };
    Signed::sign_json(STATEMENT_FORMAT, &config, key).unwrap()
}

// ---------------------------------------------------------------- the probe

struct Setup {
    _web: WebServer,
    _dns: DnsServer,
    dir: tempfile::TempDir,
    config: PathBuf,
    novel: String,
    resolver: String,
}

async fn setup() -> Setup {
    // Not 127.0.0.1: a DNS answer of 127.0.0.1 matches a built-in row (`cl.dns_br_localhost`).
    let web = WebServer::start(
        "127.0.0.9:0".parse::<SocketAddr>().unwrap(),
        None,
        vec![
            Site::new(&["novel.test"], WebBehaviour::body(200, NOVEL)),
            Site::new(&["neutral.test"], WebBehaviour::page("Neutral", 2000)),
        ],
    )
    .await;
    let at = DnsBehaviour::Answer(vec![web.ip()]);
    let zone = Zone::new().with("novel.test", at.clone()).with("neutral.test", at);
    let dns = DnsServer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap(), zone).await;
    let dir = tempfile::tempdir().unwrap();
    let port = web.addr().port();
    let novel = format!("http://novel.test:{port}/");
    let battery = format!(
        "[[platform]]\nid = \"chat\"\nname = \"Chat\"\nkind = \"platform\"\n[[platform.endpoint]]\ngroup = \"web\"\n\
         input = \"{novel}\"\n\n[[platform]]\nid = \"neutral\"\nname = \"Neutral\"\nkind = \"control\"\n\
         [[platform.endpoint]]\ngroup = \"web\"\ninput = \"http://neutral.test:{port}/\"\n"
    );
    std::fs::write(dir.path().join("battery.toml"), battery).unwrap();
    let mut config = vigil_probe::config::Config::default();
    config.probe.country = "UZ".into();
    config.dns.system = false;
    config.dns.resolvers = vec![dns.addr().to_string()];
    config.dns.doh = String::new();
    config.dns.timeout_ms = 2000;
    config.network.lab_nets = vec!["127.0.0.0/8".into()];
    config.network.connect_timeout_ms = 2000;
    config.network.tls_timeout_ms = 2000;
    config.network.http_timeout_ms = 2000;
    config.battery.file = Some(dir.path().join("battery.toml"));
    config.identity.key_file = dir.path().join("id/probe.key");
    config.spool.dir = dir.path().join("spool");
    config.throttle.enabled = false;
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let resolver = dns.addr().to_string();
    Setup { _web: web, _dns: dns, dir, config: path, novel, resolver }
}

async fn cli(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil-probe")).args(args).output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// `run --once --json`: the measurement of the novel blockpage's endpoint, and stderr.
async fn run_once(s: &Setup) -> (Value, String) {
    let (code, out, err) = cli(&["run", "--once", "--json", "--config", s.config.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let novel = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .find(|m| m["input"] == s.novel.as_str() && m["test_name"] == "vigil_web_connectivity")
        .unwrap_or_else(|| panic!("no measurement of {}: {out}", s.novel));
    (novel, err)
}

fn confirmed_by_local(m: &Value) -> bool {
    let k = &m["test_keys"];
    k["blocking"] == "http-diff"
        && k["mechanism"] == "http_blockpage"
        && k["x_confirmed"] == true
        && k["x_fingerprints"] == serde_json::json!(["local.c17"])
}

fn kept(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("id/probe-config.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_fingerprint_from_the_signed_configuration_confirms_a_novel_blockpage_and_is_kept() {
    let s = setup().await;
    let (fake, url) = fake_collector().await;
    let c = s.config.to_str().unwrap();
    let (code, _, err) = cli(&["enroll", "--config", c, "--collector", &url]).await;
    assert_eq!(code, 0, "{err}");

    // 1. A configuration without local rows: the built-in rows do not know the page.
    let old = statement("2026-01-01T00:00:00Z", vec![], &fake.key);
    *fake.config.lock().unwrap() = Some(old.clone());
    let (m, err) = run_once(&s).await;
    let k = &m["test_keys"];
    assert!(!confirmed_by_local(&m), "{m}");
    assert!(k["x_fingerprints"].as_array().is_none_or(Vec::is_empty), "{m}");
    assert_eq!(k["x_confirmed"], false, "{m}");
    assert_ne!(k["mechanism"], "http_blockpage", "{m}");
    assert!(err.contains("probe configuration issued at 2026-01-01T00:00:00Z kept (0 local fingerprints)"), "{err}");

    // 2. The operator promotes the cluster: the next run receives it and confirms the page.
    let promoted = statement("2026-01-02T00:00:00Z", vec![local_row("local.c17", "contains", PATTERN)], &fake.key);
    *fake.config.lock().unwrap() = Some(promoted.clone());
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert_eq!(kept(s.dir.path()), serde_json::to_value(&promoted).unwrap(), "kept verbatim, signature included");

    // The collector dates each answer anew: the same rows are not written again.
    let redated = statement("2026-01-02T06:00:00Z", vec![local_row("local.c17", "contains", PATTERN)], &fake.key);
    *fake.config.lock().unwrap() = Some(redated);
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert!(!err.contains("probe configuration issued at"), "{err}");
    assert_eq!(kept(s.dir.path()), serde_json::to_value(&promoted).unwrap(), "not rewritten");

    // 3. The collector is down: a new process uses the kept configuration.
    *fake.config.lock().unwrap() = None;
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert!(err.contains("probe configuration not refreshed (collector_busy"), "{err}");

    // 4. A statement signed by another key is refused; the kept one stays.
    let forged = statement("2026-01-03T00:00:00Z", vec![], &SigningKey::from_bytes(&[9; 32]));
    *fake.config.lock().unwrap() = Some(forged);
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert!(err.contains("does not verify with the pinned key"), "{err}");
    assert_eq!(kept(s.dir.path()), serde_json::to_value(&promoted).unwrap());

    // 5. A replay of the older, genuinely signed statement is ignored.
    *fake.config.lock().unwrap() = Some(old);
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert!(err.contains("issued at 2026-01-01T00:00:00Z is older than the kept one: ignored"), "{err}");

    // 6. A newer statement with a regexp row beside the good one: the bad row alone is refused.
    let mixed = statement(
        "2026-01-04T00:00:00Z",
        vec![local_row("local.c18", "regexp", "vakolatli.*cheklangan"), local_row("local.c17", "contains", PATTERN)],
        &fake.key,
    );
    *fake.config.lock().unwrap() = Some(mixed);
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert!(err.contains("local fingerprint #0 (\"local.c18\") refused: pattern_type \"regexp\""), "{err}");

    // `check --config` uses the kept rows too (without fetching); without a configuration file,
    // the built-in rows alone.
    let check = |with_config: bool| {
        let mut args = vec!["check", "--json"];
        if with_config {
            args.extend(["--config", c]);
        } else {
            args.extend(["--no-system-resolver", "--no-doh", "--lab-net", "127.0.0.0/8", "--country", "UZ"]);
        }
        let resolver = s.resolver.clone();
        let novel = s.novel.clone();
        async move {
            let mut args: Vec<String> = args.into_iter().map(String::from).collect();
            if !with_config {
                args.extend(["--resolver".into(), resolver]);
            }
            args.push(novel);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let (_, out, err) = cli(&refs).await;
            (serde_json::from_str::<Value>(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")), err)
        }
    };
    // 7. The collector rotated its key: the probe follows the signed rotation and keeps the
    // configuration the new key signed.
    let new_key = SigningKey::from_bytes(&[8; 32]);
    let rotation = KeyRotation {
        kind: "key-rotation".into(),
        issued_at: "2026-01-05T00:00:00Z".into(),
        new_key: encode_public_key(&new_key.verifying_key()),
        new_key_id: key_id(&new_key.verifying_key()),
    };
    fake.chain.lock().unwrap().push(Signed::sign_json(STATEMENT_FORMAT, &rotation, &fake.key).unwrap());
    let rotated = statement("2026-01-05T00:00:00Z", vec![local_row("local.c17", "full", NOVEL)], &new_key);
    *fake.config.lock().unwrap() = Some(rotated.clone());
    let (m, err) = run_once(&s).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert_eq!(kept(s.dir.path()), serde_json::to_value(&rotated).unwrap());
    let pin: Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir.path().join("id/collector.json")).unwrap()).unwrap();
    assert_eq!(pin["collector_key_id"], key_id(&new_key.verifying_key()), "re-pinned");

    let fetches = fake.fetches.load(Ordering::SeqCst);
    assert_eq!(fetches, 8, "one fetch per run");
    let (m, err) = check(true).await;
    assert!(confirmed_by_local(&m), "{m}\n{err}");
    assert_eq!(fake.fetches.load(Ordering::SeqCst), fetches, "check fetches nothing");
    let (m, err) = check(false).await;
    assert!(!confirmed_by_local(&m) && m["test_keys"]["x_confirmed"] == false, "{m}\n{err}");
}
