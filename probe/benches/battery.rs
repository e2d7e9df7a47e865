//! The whole built-in battery against a fake censored ISP on loopback (vigil-testkit's world):
//! runs the real `vigil-probe run --once --json` and reports wall time against the longest
//! timeout, the probe's CPU time and peak RSS, and whether every platform verdict is the one the
//! world expects (exit code 1 if not).
//!
//! `cargo bench -p vigil-probe --bench battery [-- --timeout-ms N] [--concurrency N] [--profile clean|demo]`

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_testkit::world::{FakeWorld, Profile, Timeouts, WorldOptions, parse_battery_toml};

const PROBE: &str = env!("CARGO_BIN_EXE_vigil-probe");
/// Targets: the battery finishes within the longest timeout plus this, in at most this much RSS.
const WALL_SLACK: Duration = Duration::from_secs(2);
const RSS_TARGET_KIB: u64 = 16 * 1024;

fn parse_args() -> Result<WorldOptions, String> {
    let mut options = WorldOptions { profile: Profile::Demo, ..WorldOptions::default() };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            args.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).ok_or(format!("{name} takes a number above 0"))
        };
        match flag.as_str() {
            // cargo bench passes --bench to harness-less benches.
            "--bench" => {}
            "--timeout-ms" => options.timeouts = Timeouts::all(number("--timeout-ms")?),
            "--concurrency" => options.concurrency = Some(number("--concurrency")? as usize),
            "--profile" => {
                let value = args.next().unwrap_or_default();
                options.profile = value.parse().map_err(|e| format!("--profile: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("battery bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(bench(options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("battery bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// What one run of the probe produced.
struct Run {
    wall: Duration,
    endpoints: Vec<Value>,
    platforms: Vec<Value>,
    cpu_s: Option<f64>,
    rss_kib: Option<u64>,
}

/// Run the battery; true when every platform verdict is the expected one.
async fn bench(options: WorldOptions) -> Result<bool, String> {
    let listed = Command::new(PROBE).args(["battery", "--toml"]).output().map_err(|e| format!("{PROBE}: {e}"))?;
    let text = String::from_utf8(listed.stdout).map_err(|e| format!("battery --toml: {e}"))?;
    let battery = parse_battery_toml(&text).map_err(|e| format!("battery --toml: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let world = FakeWorld::start(&battery, &options, dir.path()).await.map_err(|e| e.to_string())?;
    let config = world.config_path().to_path_buf();
    // The world serves from this runtime's workers while the probe runs.
    let run = tokio::task::spawn_blocking(move || run_probe(&config)).await.map_err(|e| e.to_string())??;

    println!("\nbattery bench: profile {:?}, {:?}, concurrency {}", options.profile, options.timeouts, {
        options.concurrency.map_or("default".to_string(), |n| n.to_string())
    });
    let verdicts_ok = compare(&world, &run);
    let longest = options.timeouts.longest();
    let over = run.wall.saturating_sub(longest);
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    println!();
    println!("endpoints measured        {}", run.endpoints.len());
    println!("wall time                 {:.2} s", run.wall.as_secs_f64());
    println!("longest timeout           {:.2} s", longest.as_secs_f64());
    println!(
        "wall - longest timeout    {:.2} s   target <= {:.0} s: {}",
        run.wall.as_secs_f64() - longest.as_secs_f64(),
        WALL_SLACK.as_secs_f64(),
        met(over <= WALL_SLACK)
    );
    match run.cpu_s {
        Some(cpu) => println!("probe CPU time            {cpu:.2} s"),
        None => println!("probe CPU time            (no `stats:` line on stderr)"),
    }
    match run.rss_kib {
        Some(kib) => println!(
            "probe peak RSS            {:.1} MiB   target <= {} MiB: {}",
            kib as f64 / 1024.0,
            RSS_TARGET_KIB / 1024,
            met(kib <= RSS_TARGET_KIB)
        ),
        None => println!("probe peak RSS            (no `stats:` line on stderr)"),
    }
    println!("verdicts                  {}", if verdicts_ok { "all as expected" } else { "SOME DIFFER (see above)" });
    Ok(verdicts_ok)
}

fn run_probe(config: &std::path::Path) -> Result<Run, String> {
    let started = Instant::now();
    let out = Command::new(PROBE)
        .args(["run", "--once", "--json", "--config"])
        .arg(config)
        .env("VIGIL_STATS", "1")
        .output()
        .map_err(|e| format!("{PROBE}: {e}"))?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("vigil-probe run failed ({}): {stderr}", out.status));
    }
    let (mut endpoints, mut platforms) = (Vec::new(), Vec::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let m: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
        match m["test_name"].as_str() {
            Some(vigil_report::PLATFORM_TEST_NAME) => platforms.push(m),
            _ => endpoints.push(m),
        }
    }
    let stat = |key: &str| {
        let line = stderr.lines().find(|l| l.starts_with("stats:"))?;
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')).map(str::to_string)
    };
    Ok(Run {
        wall,
        endpoints,
        platforms,
        cpu_s: stat("cpu_s").and_then(|v| v.parse().ok()),
        rss_kib: stat("peak_rss_kib").and_then(|v| v.parse().ok()),
    })
}

/// Print expected against measured verdicts (platforms, then any endpoint that differs).
fn compare(world: &FakeWorld, run: &Run) -> bool {
    let label = |status: &Value, mechanism: &Value| format!("{} {}", text(status), text(mechanism));
    println!("\n{:<12} {:<30} {:<30}", "platform", "expected", "probe");
    let mut all_ok = true;
    for p in world.expected() {
        let got = run.platforms.iter().find(|m| m["test_keys"]["platform"] == p.id.as_str());
        let want = label(
            &serde_json::to_value(p.status).unwrap_or_default(),
            &serde_json::to_value(p.mechanism).unwrap_or_default(),
        );
        let seen =
            got.map_or("(missing)".to_string(), |m| label(&m["test_keys"]["status"], &m["test_keys"]["mechanism"]));
        let ok = want == seen;
        all_ok &= ok;
        println!("{:<12} {want:<30} {seen:<30} {}", p.id, if ok { "ok" } else { "DIFFERS" });
    }
    for want in world.endpoints() {
        let Some(m) = run.endpoints.iter().find(|m| m["input"] == want.input.as_str()) else {
            println!("endpoint {}: no measurement", want.input);
            all_ok = false;
            continue;
        };
        let k = &m["test_keys"];
        let expected = serde_json::json!([want.verdict.blocking, want.verdict.accessible, want.verdict.mechanism]);
        let seen = serde_json::json!([k["blocking"], k["accessible"], k["mechanism"]]);
        if expected != seen {
            all_ok = false;
            println!(
                "endpoint {} ({}): expected {expected}, probe {seen}: {}",
                want.input, want.platform, k["x_reasons"]
            );
        }
    }
    all_ok
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
