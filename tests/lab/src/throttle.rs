//! The throttling stage (`[throttle]` in a scenario): the real decoy (`vigil-collector decoy`)
//! runs in the internet namespace on 10.77.2.2:443, and `vigil-probe throttle --json` runs in the
//! probe's namespace with the censor in place — arm T1/C1 against the decoy (the scenario's
//! `sni` vs an innocuous one), arm T2/C2 the scenario's `object` vs the world's control object.
//! The run's verdict (and mechanism, and throttled arm) must be the scenario's. `aa = true`
//! sends two innocuous SNIs and repeats the run `runs` times (`VIGIL_LAB_AA_RUNS` overrides):
//! every `throttled` is a false positive.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::LabError;
use crate::run::{Bins, ProbeRun};
use crate::shutdown::{LabCollector, PROBE_ASN, PROBE_CC, Probe, events, probe_toml, write};
use crate::topology::{Role, Topology};
use crate::world::{INET_IP, World};

/// The control object of arm C2 (a neutral site of `world.toml`).
pub const CONTROL_OBJECT: &str = "https://static.wikipedia.test/vigil/object";

/// What a scenario's throttling stage runs and expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSpec {
    /// T1's SNI (sent to the decoy).
    pub sni: String,
    /// T2's object (https:// on the platform's CDN); none: no T2/C2 arms.
    pub object: Option<String>,
    /// `ok`, `throttled`, `inconclusive`, or `not_throttled` (ok or inconclusive).
    pub verdict: String,
    /// `policer`, `shaper`, `handshake_delay`, `truncation`.
    pub mechanism: Option<String>,
    /// The arm that must be throttled (`sni` or `cdn`); the other must not be.
    pub arm: Option<String>,
    /// The probe's per-transfer cap (ms).
    #[serde(default = "default_cap")]
    pub cap_ms: u64,
    /// A/A: two innocuous SNIs (`sni` is then unused).
    #[serde(default)]
    pub aa: bool,
    /// Runs (A/A).
    #[serde(default = "one")]
    pub runs: u32,
    /// Then three probes upload two runs each to the real collector, which must publish a
    /// throttling event (platform, scope, >= 2 probes, the throttled rate within `rate_kbps`).
    #[serde(default)]
    pub publish: bool,
    /// With `publish`: the range the event's rate must fall in (kbit/s).
    pub rate_kbps: Option<[f64; 2]>,
}

fn default_cap() -> u64 {
    2500
}

fn one() -> u32 {
    1
}

impl ThrottleSpec {
    /// The docs table's words.
    pub fn describe(&self) -> String {
        let mut text = format!("throttling test: `{}`", self.verdict);
        if let Some(m) = &self.mechanism {
            text += &format!(" / `{m}`");
        }
        if let Some(a) = &self.arm {
            text += &format!(" (arm {})", if a == "sni" { "T1/C1" } else { "T2/C2" });
        }
        if self.aa {
            text += &format!(", A/A x{}", self.runs);
        }
        if self.publish {
            text += "; the collector publishes a throttling event (platform, ASN, >= 2 probes, the throttled rate)";
        }
        text
    }
}

/// The decoy, stopped when dropped.
pub struct Decoy {
    _child: Child,
    pub cert: std::path::PathBuf,
}

/// Start `vigil-collector decoy` on 10.77.2.2:443 in the internet namespace.
pub async fn start_decoy(topo: &Topology, bins: &Bins, dir: &Path) -> Result<Decoy, LabError> {
    let Some(bin) = &bins.collector else {
        return Err(LabError::MissingBinary {
            path: "vigil-collector".into(),
            hint: "the throttling stage runs the decoy: `cargo build -p vigil-collector`".into(),
        });
    };
    let decoy_dir = dir.join("decoy");
    let mut child = topo
        .command(Role::Inet, bin)
        .args(["decoy", "--listen", &format!("{INET_IP}:443"), "--dir"])
        .arg(&decoy_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::io(format!("start {}", bin.display()), e))?;
    let stderr = child.stderr.take().ok_or_else(|| LabError::Other("the decoy has no stderr".into()))?;
    let line = tokio::time::timeout(Duration::from_secs(20), BufReader::new(stderr).lines().next_line()).await;
    match line {
        Ok(Ok(Some(line))) if line.contains("listening on") => {
            Ok(Decoy { _child: child, cert: vigil_control::decoy::cert_path(&decoy_dir) })
        }
        other => Err(LabError::Other(format!("vigil-collector decoy did not start: {other:?}"))),
    }
}

/// The battery of the stage: a neutral control and the platform `target` with its throttle table.
fn battery(spec: &ThrottleSpec) -> String {
    let object = spec.object.as_ref().map(|o| format!("object = {}\n", quote(o))).unwrap_or_default();
    format!(
        "[[platform]]\nid = \"control\"\nname = \"Control\"\nkind = \"control\"\n\
         [[platform.endpoint]]\ngroup = \"main\"\ninput = \"https://www.wikipedia.test/\"\n\n\
         [[platform]]\nid = \"target\"\nname = \"Target\"\nkind = \"platform\"\n\
         [platform.throttle]\nsni = {}\n{object}\
         [[platform.endpoint]]\ngroup = \"main\"\ninput = {}\n",
        quote(&spec.sni),
        quote(&format!("https://{}/", spec.sni)),
    )
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The probe configuration of the stage (`name`: its own key and spool).
pub fn config(world: &World, dir: &Path, spec: &ThrottleSpec, decoy: &Decoy, name: &str) -> Result<String, LabError> {
    let battery = write(dir, &format!("throttle-battery-{name}.toml"), battery(spec))?;
    let mut text = probe_toml(world, dir, &battery, 4000, name);
    text += &format!(
        "\n[throttle]\ndecoy = \"{INET_IP}:443\"\ndecoy_cert = {}\ncontrol_object = \"{CONTROL_OBJECT}\"\n\
         cap_ms = {}\ngap_ms = 100\nconfirm_delay_s = 1\n",
        quote(&decoy.cert.display().to_string()),
        spec.cap_ms,
    );
    Ok(write(dir, &format!("throttle-{name}.toml"), text)?.display().to_string())
}

/// Run the stage; `out` gets the failures and one note per run.
pub async fn run(
    topo: &Topology,
    spec: &ThrottleSpec,
    world: &World,
    bins: &Bins,
    dir: &Path,
    out: &mut ProbeRun,
) -> Result<(), LabError> {
    let decoy = start_decoy(topo, bins, dir).await?;
    let config = config(world, dir, spec, &decoy, "throttle")?;
    let probe = Probe { topo, bin: &bins.probe, dir, config: &config };
    let runs = if spec.aa {
        std::env::var("VIGIL_LAB_AA_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(spec.runs)
    } else {
        spec.runs
    };
    let mut args = vec!["throttle", "--json", "--no-spool", "--config", &config];
    if spec.aa {
        args.push("--aa");
    }
    let (mut false_positives, mut first_passes, mut inconclusive, mut bytes) = (0u32, 0u32, 0u32, 0u64);
    for _ in 0..runs {
        let o = probe.output(&args).await?;
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        out.stdout += &stdout;
        let Some(m) = stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).next() else {
            out.failures.push(format!("throttle: no measurement (exit {:?})", o.status.code()));
            return Ok(());
        };
        let k = &m["test_keys"];
        bytes += k["bytes_received"].as_u64().unwrap_or(0);
        if spec.aa {
            false_positives += u32::from(k["verdict"] == "throttled");
            inconclusive += u32::from(k["verdict"] == "inconclusive");
            let arms = k["arms"].as_array().into_iter().flatten();
            first_passes += u32::from(arms.clone().any(|a| a["pass"] == 1 && a["verdict"] == "throttled"));
            continue;
        }
        out.notes.push(format!("throttle: {}", summary(k)));
        out.failures.extend(compare(spec, k));
        let want_code = if k["verdict"] == "throttled" { 1 } else { 0 };
        if o.status.code() != Some(want_code) {
            out.failures.push(format!("vigil-probe throttle exited {:?}, expected {want_code}", o.status.code()));
        }
    }
    if spec.publish {
        publish(topo, spec, world, bins, dir, &decoy, out).await?;
    }
    if spec.aa {
        out.notes.push(format!(
            "throttle A/A: {runs} runs, {false_positives} false positives ({first_passes} throttled first passes, \
             {inconclusive} inconclusive), {} bytes per run",
            bytes / u64::from(runs.max(1))
        ));
        // The goal is <= 0.5 %; a single chance false positive in a few CI runs is not a failure.
        if f64::from(false_positives) > (0.005 * f64::from(runs)).max(1.0) {
            out.failures.push(format!("throttle A/A: {false_positives} false positives in {runs} runs"));
        }
    }
    Ok(())
}

/// Probes of the publication, and runs each (the default detection: two CUSUM steps of three probes).
const PUBLISHERS: [&str; 3] = ["t1", "t2", "t3"];
const PUBLISH_RUNS: usize = 2;

/// Three probes enroll with the real collector and upload `PUBLISH_RUNS` runs each (the probes
/// run at once); the collector must publish a throttling event.
async fn publish(
    topo: &Topology,
    spec: &ThrottleSpec,
    world: &World,
    bins: &Bins,
    dir: &Path,
    decoy: &Decoy,
    out: &mut ProbeRun,
) -> Result<(), LabError> {
    let lab = LabCollector::start(topo, bins, dir, &["control".into(), "target".into()]).await?;
    let mut configs = Vec::new();
    for name in PUBLISHERS {
        let config = config(world, dir, spec, decoy, name)?;
        lab.enroll(&Probe { topo, bin: &bins.probe, dir, config: &config }).await?;
        configs.push(config);
    }
    let probes: Vec<Probe<'_>> = configs.iter().map(|c| Probe { topo, bin: &bins.probe, dir, config: c }).collect();
    for n in 0..PUBLISH_RUNS {
        let args: Vec<[&str; 3]> = probes.iter().map(|p| ["throttle", "--config", p.config]).collect();
        let (a, b, c) =
            tokio::join!(probes[0].output(&args[0]), probes[1].output(&args[1]), probes[2].output(&args[2]));
        for o in [a?, b?, c?] {
            if o.status.code() != Some(1) {
                out.failures.push(format!("publish: a throttling run exited {:?}, expected 1", o.status.code()));
            }
        }
        out.notes.push(format!(
            "publish: throttled run {} of {PUBLISH_RUNS} by {} probes uploaded",
            n + 1,
            probes.len()
        ));
    }
    let found = lab.wait_for_event(Duration::from_secs(30), |e| e.kind == "throttling").await;
    let Some(e) = found else {
        let all = events(&lab.data).unwrap_or_default();
        let said: Vec<String> = all.iter().map(|e| format!("{} {:?}", e.kind, e.platforms)).collect();
        out.failures.push(format!("publish: no throttling event published (events: {said:?})"));
        return Ok(());
    };
    out.notes.push(format!(
        "published: throttling of {:?} in {} AS{} at {:?} kbit/s ({}), {} probes, {} measurements, {}",
        e.platforms,
        e.scope.cc,
        e.scope.asn.unwrap_or_default(),
        e.rate_kbps,
        e.mechanism.as_deref().unwrap_or("no mechanism"),
        e.probes,
        e.measurements,
        e.status
    ));
    if e.platforms != ["target"] {
        out.failures.push(format!("publish: event platforms {:?}, expected [\"target\"]", e.platforms));
    }
    if e.scope.cc != PROBE_CC || e.scope.asn.map(|a| format!("AS{a}")).as_deref() != Some(PROBE_ASN) {
        out.failures.push(format!("publish: event scope {:?}, expected {PROBE_CC} {PROBE_ASN}", e.scope));
    }
    if e.probes < 2 {
        out.failures.push(format!("publish: the event counts {} probes, expected at least 2", e.probes));
    }
    if let Some([lo, hi]) = spec.rate_kbps
        && !e.rate_kbps.is_some_and(|r| (lo..=hi).contains(&r))
    {
        out.failures.push(format!("publish: event rate {:?} kbit/s, expected {lo}-{hi}", e.rate_kbps));
    }
    if spec.mechanism.is_some() && e.mechanism != spec.mechanism {
        out.failures.push(format!("publish: event mechanism {:?}, expected {:?}", e.mechanism, spec.mechanism));
    }
    Ok(())
}

/// One line: verdict, mechanism, ratio, rates, per-arm verdicts, bytes.
pub fn summary(k: &Value) -> String {
    let arms: Vec<String> = k["arms"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    format!(
                        "{}#{}={} ratio={:.3} p={} T={:.0} C={:.0} kbit/s hs {:.0}/{:.0} ms{}",
                        a["arm"].as_str().unwrap_or("?"),
                        a["pass"],
                        a["verdict"].as_str().unwrap_or("?"),
                        a["ratio"].as_f64().unwrap_or(f64::NAN),
                        a["p_goodput"].as_f64().map_or("-".into(), |p| format!("{p:.3}")),
                        a["target_goodput_kbps"].as_f64().unwrap_or(f64::NAN),
                        a["control_goodput_kbps"].as_f64().unwrap_or(f64::NAN),
                        a["target_handshake_ms"].as_f64().unwrap_or(f64::NAN),
                        a["control_handshake_ms"].as_f64().unwrap_or(f64::NAN),
                        a["mechanism"].as_str().map(|m| format!(" {m}")).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} {} ratio={:.4} ({}), {} bytes",
        k["verdict"].as_str().unwrap_or("?"),
        k["mechanism"].as_str().unwrap_or("-"),
        k["ratio"].as_f64().unwrap_or(f64::NAN),
        arms.join("; "),
        k["bytes_received"]
    )
}

/// What differs from the spec.
pub fn compare(spec: &ThrottleSpec, k: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    let verdict = k["verdict"].as_str().unwrap_or("?");
    let ok = match spec.verdict.as_str() {
        "not_throttled" => verdict != "throttled",
        want => verdict == want,
    };
    if !ok {
        failures.push(format!("throttle: verdict {verdict}, expected {} ({})", spec.verdict, summary(k)));
    }
    if let Some(want) = &spec.mechanism
        && k["mechanism"].as_str() != Some(want)
    {
        failures.push(format!("throttle: mechanism {}, expected {want}", k["mechanism"]));
    }
    if let Some(want) = &spec.arm {
        for a in k["arms"].as_array().into_iter().flatten().filter(|a| a["pass"] == 1) {
            let throttled = a["verdict"] == "throttled";
            if (a["arm"] == want.as_str()) != throttled {
                failures.push(format!(
                    "throttle: arm {} is {}, expected the {want} arm alone throttled",
                    a["arm"], a["verdict"]
                ));
            }
        }
    }
    if spec.verdict == "throttled" && k["confirmed"] != true {
        failures.push("throttle: a throttled verdict without a confirmation rerun".into());
    }
    failures
}
