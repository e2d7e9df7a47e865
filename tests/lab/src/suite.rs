//! Running many scenarios: preflight (root, tools, stale labs), the binaries, a few scenarios at
//! a time, a summary; and the scenario table of `docs/lab.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::run::{Bins, Outcome, run_scenario};
use crate::scenario::Flow;
use crate::{LabError, Scenario, World, topology};

/// Scenarios run at once (each has its own namespaces); `VIGIL_LAB_JOBS` overrides.
pub const DEFAULT_JOBS: usize = 3;

/// The binaries next to `lab` (`target/<profile>/`): `vigil-probe` and, when a scenario needs it
/// (`need_collector`), `vigil-collector`. `VIGIL_PROBE_BIN` / `VIGIL_COLLECTOR_BIN` override. A
/// missing or stale binary (older than its sources) is rebuilt when run under cargo.
pub fn find_bins(lab: PathBuf, need_collector: bool) -> Result<Bins, LabError> {
    let dir = lab.parent().map(Path::to_path_buf).unwrap_or_default();
    let probe_sources = ["probe/src", "probe/report/src", "probe/data", "probe/Cargo.toml"];
    let probe = fresh_bin(&dir, "vigil-probe", "VIGIL_PROBE_BIN", &probe_sources)?;
    let collector = if need_collector {
        let sources = [
            "collector/src",
            "collector/control/src",
            "collector/detect/src",
            "dashboard/src",
            "probe/report/src",
            "collector/Cargo.toml",
        ];
        Some(fresh_bin(&dir, "vigil-collector", "VIGIL_COLLECTOR_BIN", &sources)?)
    } else {
        None
    };
    Ok(Bins { lab, probe, collector })
}

/// `dir/NAME` rebuilt when missing or older than `sources` (or `$ENV` as given), which must exist.
fn fresh_bin(dir: &Path, name: &str, env: &str, sources: &[&str]) -> Result<PathBuf, LabError> {
    let bin = match std::env::var_os(env) {
        Some(path) => PathBuf::from(path),
        None => {
            let bin = dir.join(name);
            if newest(&bin).is_none_or(|built| sources.iter().any(|s| newest(&workspace().join(s)) > Some(built))) {
                rebuild(name, &bin)?;
            }
            bin
        }
    };
    if !bin.exists() {
        return Err(LabError::MissingBinary {
            path: bin.display().to_string(),
            hint: format!("build it first: `cargo build -p {name}` (scripts/test.sh does)"),
        });
    }
    Ok(bin)
}

fn workspace() -> PathBuf {
    crate::lab_dir().join("../..")
}

/// The newest modification time of a file or of any file under a directory.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let entries = std::fs::read_dir(path).ok()?;
    entries.filter_map(|e| e.ok()).filter_map(|e| newest(&e.path())).max()
}

/// `cargo build -p PACKAGE` when running under cargo (`CARGO` is set); otherwise an error
/// saying what to build.
fn rebuild(package: &str, bin: &Path) -> Result<(), LabError> {
    let hint = format!("{} is missing or older than its sources: run `cargo build -p {package}`", bin.display());
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Err(LabError::MissingBinary { path: bin.display().to_string(), hint });
    };
    println!("building {package} (missing or stale)");
    let status = std::process::Command::new(cargo)
        .args(["build", "-p", package, "--bin", package])
        .current_dir(workspace())
        .status()
        .map_err(|e| LabError::io(format!("run cargo build -p {package}"), e))?;
    if !status.success() {
        return Err(LabError::MissingBinary { path: bin.display().to_string(), hint });
    }
    Ok(())
}

/// Scenarios whose name contains one of `filters` (all when none).
pub fn select(all: Vec<Scenario>, filters: &[String]) -> Vec<Scenario> {
    all.into_iter().filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str()))).collect()
}

/// Run `scenarios`, `jobs` at a time, printing each outcome as it finishes.
pub async fn run_all(scenarios: Vec<Scenario>, world: &World, bins: &Bins, jobs: usize) -> Vec<Outcome> {
    let gate = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = JoinSet::new();
    for scenario in scenarios {
        let (gate, world, bins) = (gate.clone(), world.clone(), bins.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let started = Instant::now();
            match run_scenario(&scenario, &world, &bins).await {
                Ok(outcome) => outcome,
                Err(e) => Outcome {
                    name: scenario.name.clone(),
                    failures: vec![format!("the lab failed: {e}")],
                    lines: Vec::new(),
                    duration: started.elapsed(),
                    artifacts: None,
                    pending: None,
                    known_failure: None,
                },
            }
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = set.join_next().await {
        let outcome = match done {
            Ok(outcome) => outcome,
            Err(e) => Outcome {
                name: "?".into(),
                failures: vec![format!("scenario task panicked: {e}")],
                lines: Vec::new(),
                duration: Duration::ZERO,
                artifacts: None,
                pending: None,
                known_failure: None,
            },
        };
        print_outcome(&outcome);
        outcomes.push(outcome);
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    outcomes
}

fn print_outcome(o: &Outcome) {
    if let Some(why) = &o.pending {
        println!("scenario {} ... PENDING (not run): {why}", o.name);
        return;
    }
    let status = match (&o.known_failure, o.passed()) {
        (Some(why), _) => format!("KNOWN FAILURE ({why})"),
        (None, true) => "ok".into(),
        (None, false) => "FAILED".into(),
    };
    println!("scenario {} ... {status} ({:.1} s)", o.name, o.duration.as_secs_f64());
    for line in &o.lines {
        println!("    {line}");
    }
    for failure in &o.failures {
        println!("  ! {failure}");
    }
    if let Some(path) = &o.artifacts {
        println!("  packet trace and logs kept: {}", path.display());
    }
}

/// Everything a run needs: preflight, stale cleanup, signal teardown, then the scenarios.
/// Returns true when every selected scenario passed.
pub async fn main(lab_bin: PathBuf, filters: &[String]) -> Result<bool, LabError> {
    topology::preflight()?;
    let stale = topology::remove_stale();
    if !stale.is_empty() {
        println!("removed {} stale lab(s) left by killed runs: {}", stale.len(), stale.join(", "));
    }
    topology::install_signal_teardown();
    let world = World::load(&crate::lab_dir().join("world.toml"))?;
    let scenarios = select(Scenario::load_all(&crate::lab_dir().join("scenarios"))?, filters);
    if scenarios.is_empty() {
        return Err(LabError::Other(format!("no scenario matches {filters:?}")));
    }
    let need_collector = scenarios
        .iter()
        .any(|s| (s.flow == Flow::Shutdown || s.publish || s.throttle.is_some()) && s.pending.is_none());
    let bins = find_bins(lab_bin, need_collector)?;
    // The longest scenarios first (the throttling ones with a publication stage, the shutdown,
    // then the other throttling ones), so they overlap the others.
    let mut scenarios = scenarios;
    scenarios.sort_by_key(|s| match (&s.throttle, s.flow) {
        (Some(t), _) if t.publish => 0,
        (_, Flow::Shutdown) => 1,
        (Some(_), _) => 2,
        _ => 3,
    });
    let jobs = std::env::var("VIGIL_LAB_JOBS").ok().and_then(|j| j.parse().ok()).unwrap_or(DEFAULT_JOBS);
    println!("running {} lab scenario(s), {jobs} at a time", scenarios.len());
    let started = Instant::now();
    let outcomes = run_all(scenarios, &world, &bins, jobs).await;
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.passed()).map(|o| o.name.as_str()).collect();
    let pending: Vec<&str> = outcomes.iter().filter(|o| o.pending.is_some()).map(|o| o.name.as_str()).collect();
    let known: Vec<&str> = outcomes.iter().filter(|o| o.known_failure.is_some()).map(|o| o.name.as_str()).collect();
    println!(
        "\nlab result: {} passed, {} failed, {} known failures{}, {} pending{}, in {:.1} s{}",
        outcomes.len() - failed.len() - pending.len() - known.len(),
        failed.len(),
        known.len(),
        if known.is_empty() { String::new() } else { format!(" ({})", known.join(", ")) },
        pending.len(),
        if pending.is_empty() { String::new() } else { format!(" ({})", pending.join(", ")) },
        started.elapsed().as_secs_f64(),
        if failed.is_empty() { String::new() } else { format!(" (failed: {})", failed.join(", ")) }
    );
    Ok(failed.is_empty())
}

/// The scenario table of `docs/lab.md` (Markdown).
pub fn table(scenarios: &[Scenario]) -> String {
    let mut out = String::from(
        "| scenario | censor rule | expected verdict (Vigil) | what OONI would say |\n|---|---|---|---|\n",
    );
    for s in scenarios {
        let verdicts: Vec<String> = s.target.iter().filter_map(verdict_cell).collect();
        let mut verdict = match (verdicts.is_empty(), s.target.is_empty()) {
            (false, _) => verdicts.join("; "),
            (true, false) => "all accessible, no blocking".to_string(),
            (true, true) => String::new(),
        };
        if let Some(t) = &s.throttle {
            verdict = if verdict.is_empty() { t.describe() } else { format!("{verdict}; {}", t.describe()) };
        }
        if s.flow == Flow::Shutdown {
            verdict += "; platforms `network_down`; every measurement reaches the collector after the outage; \
                        the collector publishes the ASN's shutdown during it and confirms it after";
        }
        if s.publish {
            verdict += "; the collector publishes each block (platform, mechanism, ASN, start) and its end";
        }
        let pending = match (&s.pending, &s.known_failure) {
            (Some(_), _) => " (pending)",
            (None, Some(_)) => " (known failure)",
            (None, None) => "",
        };
        let row = [format!("`{}`{pending}", s.name), s.rule.clone(), verdict, s.ooni.clone()];
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// What the table says about one target: blocked, no verdict, inaccessible, or slow; nothing
/// when clean.
fn verdict_cell(t: &crate::scenario::Target) -> Option<String> {
    let e = t.expect();
    if let Some(blocking) = e.blocking.as_str() {
        let mechanism = e.mechanism.as_str().map(|m| format!(" / `{m}`")).unwrap_or_default();
        let system = t.system_failure.as_ref().map(|f| format!(" (system resolver: `{f}`)")).unwrap_or_default();
        return Some(format!("{}: `{blocking}`{mechanism}{system}", t.input));
    }
    if e.blocking.is_null() {
        let accessible = if e.accessible.is_null() { String::new() } else { format!(", accessible {}", e.accessible) };
        return Some(format!("{}: no verdict (`null`){accessible}", t.input));
    }
    if e.accessible == serde_json::Value::Bool(false) {
        let system = t.system_failure.as_ref().map(|f| format!(" (system resolver: `{f}`)")).unwrap_or_default();
        return Some(format!("{}: not blocking, not accessible{system}", t.input));
    }
    t.min_http_ms.map(|ms| format!("{}: accessible, slow (>= {ms} ms)", t.input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_table_is_up_to_date() {
        let scenarios = Scenario::load_all(&crate::lab_dir().join("scenarios")).unwrap();
        let docs = std::fs::read_to_string(crate::lab_dir().join("../../docs/lab.md")).unwrap();
        assert!(
            docs.contains(&table(&scenarios)),
            "docs/lab.md's table is stale: regenerate it with `cargo run -p vigil-lab -- table`"
        );
    }

    #[test]
    fn filters_select_by_substring() {
        let all = Scenario::load_all(&crate::lab_dir().join("scenarios")).unwrap();
        let dns = select(all.clone(), &["dns_".to_string()]);
        assert!(!dns.is_empty() && dns.iter().all(|s| s.name.contains("dns_")));
        assert_eq!(select(all.clone(), &[]).len(), all.len());
    }
}
