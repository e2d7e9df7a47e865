//! One scenario end to end: build the namespaces, start the servers and the ISP (resolver and
//! censor program), start a packet capture on the router, apply the censor's rules, run the real
//! `vigil-probe` in the probe's namespace, and compare its verdicts with the scenario's. On
//! failure the capture, the probe's output and the logs are kept in `tests/artifacts/lab/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::host::{HostSpec, ca_path};
use crate::scenario::{Expect, Flow, Scenario, Target};
use crate::topology::{Role, Topology};
use crate::world::{ISP_IP, LAB_NET, World};
use crate::{LabError, censor};

/// The binaries the lab runs.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `vigil-lab` itself (its `host` subcommand runs in the namespaces).
    pub lab: PathBuf,
    pub probe: PathBuf,
    /// `vigil-collector`, for the shutdown scenario.
    pub collector: Option<PathBuf>,
}

/// How a scenario went.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    /// Everything that differed from the expectation (empty: passed).
    pub failures: Vec<String>,
    /// One line per target: what the probe said.
    pub lines: Vec<String>,
    pub duration: Duration,
    /// Where the trace and logs were kept (failures only).
    pub artifacts: Option<PathBuf>,
    /// Not run, and why (the scenario's `pending`).
    pub pending: Option<String>,
    /// It failed as its `known_failure` says (the failures are in `lines`).
    pub known_failure: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The capture files and logs of one run.
struct RunDir(PathBuf);

impl RunDir {
    fn create(id: &str) -> Result<RunDir, LabError> {
        let dir = std::env::temp_dir().join(format!("vigil-lab-{id}"));
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
        Ok(RunDir(dir))
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn log(&self, file: &str) -> Result<std::fs::File, LabError> {
        let path = self.path(file);
        std::fs::File::create(&path).map_err(|e| LabError::io(format!("create {}", path.display()), e))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `scenario` in a fresh lab built from `world`.
pub async fn run_scenario(scenario: &Scenario, world: &World, bins: &Bins) -> Result<Outcome, LabError> {
    let started = Instant::now();
    if let Some(why) = &scenario.pending {
        let name = scenario.name.clone();
        let pending = Some(why.clone());
        return Ok(Outcome {
            name,
            failures: Vec::new(),
            lines: Vec::new(),
            duration: Duration::ZERO,
            artifacts: None,
            pending,
            known_failure: None,
        });
    }
    let topo = Topology::create(world).await?;
    let dir = RunDir::create(topo.id())?;
    let spec = HostSpec {
        world: world.clone(),
        dir: dir.0.clone(),
        isp_resolver: scenario.isp_resolver.clone(),
        inject: scenario.inject.clone(),
        control_timeout_ms: scenario.timeout_ms.saturating_sub(500).max(1000),
    };
    let spec_file = dir.path("spec.json");
    let json = serde_json::to_string(&spec).map_err(|e| LabError::Other(format!("encode host spec: {e}")))?;
    std::fs::write(&spec_file, json).map_err(|e| LabError::io("write spec.json", e))?;

    let _inet = start_host(&topo, Role::Inet, bins, &spec_file, &dir).await?;
    let _isp = start_host(&topo, Role::Isp, bins, &spec_file, &dir).await?;
    let mut capture = start_capture(&topo, &dir).await?;
    let mut rules = censor::rules(&scenario.inject);
    rules.extend(scenario.censor.iter().cloned());
    // A shutdown starts its outage itself, once the probe has enrolled.
    let censored_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if scenario.flow == Flow::Check {
        for line in &rules {
            topo.sh(Role::Isp, line).await?;
        }
    }
    rules.extend(scenario.restore.iter().cloned());

    let targets = scenario.targets(&world.bystanders.inputs);
    let mut probe = match scenario.flow {
        Flow::Check if targets.is_empty() => ProbeRun::default(),
        Flow::Check => check(&topo, scenario, world, bins, &dir, &targets).await?,
        Flow::Shutdown => crate::shutdown::run(&topo, scenario, world, bins, &dir.0, &targets).await?,
    };
    if let Some(spec) = &scenario.throttle {
        crate::throttle::run(&topo, spec, world, bins, &dir.0, &mut probe).await?;
    }
    let (mut failures, mut lines) = compare(&targets, &probe);
    failures.extend(probe.failures.iter().cloned());
    lines.extend(probe.notes.iter().cloned());
    if scenario.publish {
        let published = crate::publish::run(&topo, scenario, world, bins, &dir.0, censored_at).await?;
        failures.extend(published.failures);
        lines.extend(published.notes);
    }

    // A known failure: its failures are reported as such; passing means the flag must go.
    let mut known_failure = None;
    if let Some(why) = &scenario.known_failure {
        if failures.is_empty() {
            failures.push(format!("marked known_failure ({why}) but it passed: remove the flag"));
        } else {
            lines.extend(failures.drain(..).map(|f| format!("! known failure: {f}")));
            known_failure = Some(why.clone());
        }
    }

    // Let tcpdump write its last packets, then keep the evidence if the scenario failed.
    if let Some(pid) = capture.id() {
        crate::topology::signal(&[pid.to_string()], "INT");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), capture.wait()).await;
    let mut outcome = Outcome {
        name: scenario.name.clone(),
        failures,
        lines,
        duration: started.elapsed(),
        artifacts: None,
        pending: None,
        known_failure,
    };
    std::fs::write(dir.path("probe.jsonl"), &probe.stdout).map_err(|e| LabError::io("write probe.jsonl", e))?;
    std::fs::write(dir.path("rules.txt"), rules.join("\n") + "\n").map_err(|e| LabError::io("write rules.txt", e))?;
    if !outcome.passed() || outcome.known_failure.is_some() || std::env::var_os("VIGIL_LAB_KEEP").is_some() {
        outcome.artifacts = Some(keep_artifacts(&scenario.name, &dir)?);
    }
    Ok(outcome)
}

/// Start `vigil-lab host` in `role`'s namespace and wait for its `ready`.
async fn start_host(topo: &Topology, role: Role, bins: &Bins, spec: &Path, dir: &RunDir) -> Result<Child, LabError> {
    let (flag, log) = match role {
        Role::Inet => ("inet", "host-inet.log"),
        _ => ("isp", "host-isp.log"),
    };
    let mut child = topo
        .command(role, &bins.lab)
        .arg("host")
        .arg("--spec")
        .arg(spec)
        .args(["--role", flag])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(dir.log(log)?)
        .spawn()
        .map_err(|e| LabError::io(format!("start {}", bins.lab.display()), e))?;
    let stdout = child.stdout.take().ok_or_else(|| LabError::Other("host has no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    match ready {
        Ok(Ok(Some(line))) if line == "ready" => Ok(child),
        Ok(_) => {
            let _ = child.wait().await;
            let err = std::fs::read_to_string(dir.path(log)).unwrap_or_default();
            Err(LabError::Other(format!("the {flag} host failed to start: {}", err.trim())))
        }
        Err(_) => Err(LabError::Timeout(format!("the {flag} host did not start in 20 s"))),
    }
}

/// `tcpdump` on every interface of the ISP router, writing `trace.pcap`.
async fn start_capture(topo: &Topology, dir: &RunDir) -> Result<Child, LabError> {
    let mut child = topo
        .command(Role::Isp, "tcpdump")
        .args(["-i", "any", "-n", "-U", "-w"])
        .arg(dir.path("trace.pcap"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::io("start tcpdump", e))?;
    let stderr = child.stderr.take().ok_or_else(|| LabError::Other("tcpdump has no stderr".into()))?;
    let mut lines = BufReader::new(stderr).lines();
    // tcpdump says "listening on any ..." once the capture runs.
    let listening = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("listening on") {
                return true;
            }
        }
        false
    })
    .await;
    if listening != Ok(true) {
        return Err(LabError::Other("tcpdump did not start capturing on the ISP router".into()));
    }
    Ok(child)
}

/// What the probe printed.
#[derive(Debug, Default)]
pub struct ProbeRun {
    pub exit_code: i32,
    pub stdout: String,
    pub measurements: HashMap<String, Value>,
    /// What a flow found wrong besides the verdicts (e.g. a measurement the collector lacks).
    pub failures: Vec<String>,
    /// What a flow has to say besides the verdicts, one line each.
    pub notes: Vec<String>,
}

/// Common probe options: the lab's resolvers, DoH, control, CA and net.
pub fn probe_args(world: &World, dir: &Path, timeout_ms: u64) -> Vec<String> {
    let s = &world.services;
    let mut args: Vec<String> = vec!["--resolver".into(), format!("{ISP_IP}:53")];
    args.extend(["--resolver".into(), format!("{}:53", s.public_resolver)]);
    args.extend(["--doh".into(), format!("https://{}/dns-query", s.doh)]);
    args.extend(["--control".into(), format!("http://{}/", s.control)]);
    args.extend(["--ca-file".into(), ca_path(dir).display().to_string()]);
    args.extend(["--lab-net".into(), LAB_NET.into(), "--country".into(), "IR".into()]);
    args.extend(["--timeout-ms".into(), timeout_ms.to_string()]);
    args
}

async fn check(
    topo: &Topology,
    scenario: &Scenario,
    world: &World,
    bins: &Bins,
    dir: &RunDir,
    targets: &[Target],
) -> Result<ProbeRun, LabError> {
    let mut cmd = topo.command(Role::Probe, &bins.probe);
    cmd.args(["check", "--json"]).args(probe_args(world, &dir.0, scenario.timeout_ms));
    cmd.args(targets.iter().map(|t| t.input.as_str()));
    cmd.stdin(Stdio::null()).stderr(dir.log("probe.stderr")?);
    let limit = Duration::from_millis(scenario.timeout_ms * 8 + 20_000);
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| LabError::Timeout(format!("vigil-probe check did not finish in {} s", limit.as_secs())))?
        .map_err(|e| LabError::io(format!("run {}", bins.probe.display()), e))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(ProbeRun {
        exit_code: out.status.code().unwrap_or(-1),
        measurements: by_input(&stdout),
        stdout,
        ..Default::default()
    })
}

/// Measurements keyed by `input` (web measurements only; platform summaries skipped).
pub fn by_input(stdout: &str) -> HashMap<String, Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["test_name"] == "vigil_web_connectivity")
        .filter_map(|m| Some((m["input"].as_str()?.to_string(), m)))
        .collect()
}

/// Compare the probe's verdicts with the expectations: (failures, one line per target).
pub fn compare(targets: &[Target], probe: &ProbeRun) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    for target in targets {
        let want = target.expect();
        let Some(m) = probe.measurements.get(&target.input) else {
            failures.push(format!("{}: no measurement", target.input));
            continue;
        };
        let keys = &m["test_keys"];
        let got = Expect {
            blocking: keys["blocking"].clone(),
            accessible: keys["accessible"].clone(),
            mechanism: keys["mechanism"].clone(),
        };
        let http_ms = keys["requests"][0]["t"]
            .as_f64()
            .zip(keys["requests"][0]["t0"].as_f64())
            .map(|(t, t0)| ((t - t0) * 1000.0).round() as u64);
        let timing = http_ms.map(|ms| format!(" http={ms}ms")).unwrap_or_default();
        let system = system_failure(keys);
        let system_note = match (&target.system_failure, &system) {
            (None, _) => String::new(),
            (Some(_), got) => format!(" system_dns={}", got.as_deref().unwrap_or("null")),
        };
        lines.push(format!("{}: {got}{timing}{system_note}", target.input));
        if got != want {
            failures.push(format!("{}: expected {want}, got {got}; reasons {}", target.input, keys["x_reasons"]));
        }
        if let Some(want) = target.confirmed
            && keys["x_confirmed"] != Value::Bool(want)
        {
            failures.push(format!("{}: x_confirmed is {}, expected {want}", target.input, keys["x_confirmed"]));
        }
        if let Some(want) = &target.system_failure
            && system.as_deref().unwrap_or("null") != want
        {
            failures.push(format!(
                "{}: the system resolver's failure is {}, expected {want}",
                target.input,
                system.as_deref().unwrap_or("null")
            ));
        }
        if let Some(min) = target.min_http_ms
            && http_ms.is_none_or(|ms| ms < min)
        {
            failures.push(format!("{}: the HTTP exchange took {http_ms:?} ms, expected >= {min} ms", target.input));
        }
        if let Some(max) = target.max_http_ms
            && http_ms.is_none_or(|ms| ms > max)
        {
            failures.push(format!("{}: the HTTP exchange took {http_ms:?} ms, expected <= {max} ms", target.input));
        }
    }
    let blocked = targets.iter().any(|t| t.expect().blocking.is_string());
    let want_code = if blocked { 1 } else { 0 };
    if probe.exit_code != want_code {
        failures.push(format!("vigil-probe exited {}, expected {want_code}", probe.exit_code));
    }
    (failures, lines)
}

/// The failure of the system resolver's first query (for the input's own host), if it failed.
fn system_failure(keys: &Value) -> Option<String> {
    let queries = keys["queries"].as_array()?;
    let system = queries.iter().find(|q| q["engine"] == "system")?;
    system["failure"].as_str().map(str::to_string)
}

/// Copy the trace, the probe's output, the rules and the logs to `tests/artifacts/lab/`.
fn keep_artifacts(name: &str, dir: &RunDir) -> Result<PathBuf, LabError> {
    let out = crate::artifacts_dir();
    std::fs::create_dir_all(&out).map_err(|e| LabError::io(format!("create {}", out.display()), e))?;
    let copies = [
        ("trace.pcap", format!("{name}.pcap")),
        ("probe.jsonl", format!("{name}.probe.jsonl")),
        ("probe.stderr", format!("{name}.probe.stderr")),
        ("rules.txt", format!("{name}.rules.txt")),
        ("host-inet.log", format!("{name}.host-inet.log")),
        ("host-isp.log", format!("{name}.host-isp.log")),
        ("collector.log", format!("{name}.collector.log")),
        ("stored.txt", format!("{name}.stored.txt")),
        ("probe-b.stderr", format!("{name}.probe-b.stderr")),
        ("probe-c.stderr", format!("{name}.probe-c.stderr")),
        ("probe-d.stderr", format!("{name}.probe-d.stderr")),
    ];
    for (from, to) in copies {
        let _ = std::fs::copy(dir.path(from), out.join(to));
    }
    Ok(out.join(format!("{name}.pcap")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn run_with(system: Value) -> ProbeRun {
        let m = serde_json::json!({
            "test_name": "vigil_web_connectivity",
            "input": "https://cname-only.test/",
            "test_keys": {
                "blocking": false, "accessible": false, "mechanism": null,
                "queries": [
                    {"engine": "udp", "failure": "dns_no_answer"},
                    {"engine": "system", "failure": system},
                ],
            },
        });
        ProbeRun { measurements: by_input(&m.to_string()), ..Default::default() }
    }

    #[test]
    fn the_system_resolvers_failure_is_compared_when_the_scenario_names_it() {
        let s = Scenario::parse(
            "x",
            "about = \"a\"\nrule = \"r\"\nooni = \"o\"\n[[target]]\ninput = \"https://cname-only.test/\"\n\
             accessible = false\nsystem_failure = \"dns_nxdomain_error\"\n",
        )
        .unwrap();
        let (failures, lines) = compare(&s.target, &run_with(Value::from("dns_nxdomain_error")));
        assert!(failures.is_empty(), "{failures:?}");
        assert!(lines[0].ends_with("system_dns=dns_nxdomain_error"), "{lines:?}");
        // glibc's other "no address" code is another label: the lab says so.
        let (failures, _) = compare(&s.target, &run_with(Value::from("dns_no_answer")));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("dns_no_answer, expected dns_nxdomain_error"), "{failures:?}");
        let (failures, _) = compare(&s.target, &run_with(Value::Null));
        assert!(failures[0].contains("is null"), "{failures:?}");
    }
}
