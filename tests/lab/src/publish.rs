//! Publication (`publish = true` on a check scenario): after the check, the censor still in
//! place, two probes behind the ISP enroll with the real `vigil-collector` (detection on), each
//! runs its battery twice (`vigil-probe run --once`, signed and uploaded) — the scenario's targets
//! as platforms, the neutral bystanders as controls. The collector must publish one blocking
//! event per blocked target: the right platform, mechanism and scope (the probes' country and
//! ASN), a start between the censor's first rule and the end of the first blocked run, and no event for a
//! target expected clean. With `restore` lines the censor is then lifted, each probe runs once
//! more, and the event's end bracket (midpoint ± half-width) must hold the restore and lie between
//! the blocked runs and that run.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::LabError;
use crate::run::ProbeRun;
use crate::scenario::{Scenario, Target};
use crate::shutdown::{
    LabCollector, PROBE_ASN, PROBE_CC, Probe, at, battery_toml, events, platform_id, platform_ids, probe_toml, write,
};
use crate::topology::{Role, Topology};
use crate::world::World;

/// Probes, and blocked runs each (the default detection wants two probes, two runs in a row).
const PROBES: [&str; 2] = ["p1", "p2"];
const RUNS: usize = 2;
/// Neutral controls of the battery, from the world's bystanders.
const CONTROLS: [&str; 2] = ["https://www.wikipedia.test/", "http://example.test/"];

/// Run the publication stage; `censored_at` is when the censor's first rule went in (Unix s).
pub async fn run(
    topo: &Topology,
    scenario: &Scenario,
    world: &World,
    bins: &crate::run::Bins,
    dir: &Path,
    censored_at: i64,
) -> Result<ProbeRun, LabError> {
    let mut out = ProbeRun::default();
    let mut battery: Vec<Target> = CONTROLS.iter().map(|c| Target::clean(c)).collect();
    battery.extend(scenario.target.iter().filter(|t| !CONTROLS.contains(&t.input.as_str())).cloned());
    let lab = LabCollector::start(topo, bins, dir, &platform_ids(&battery)).await?;
    let battery_file = write(dir, "battery.toml", battery_toml(&battery, CONTROLS.len()))?;
    let mut configs = Vec::new();
    for name in PROBES {
        let text = probe_toml(world, dir, &battery_file, scenario.timeout_ms, name);
        let config = write(dir, &format!("probe-{name}.toml"), text)?.display().to_string();
        lab.enroll(&Probe { topo, bin: &bins.probe, dir, config: &config }).await?;
        configs.push(config);
    }
    let probes = [
        Probe { topo, bin: &bins.probe, dir, config: &configs[0] },
        Probe { topo, bin: &bins.probe, dir, config: &configs[1] },
    ];

    let mut first_blocked_run = None;
    for n in 0..RUNS {
        runs(&probes, &mut out).await?;
        first_blocked_run.get_or_insert(now());
        out.notes.push(format!("publish: blocked run {} of {RUNS} by {} probes uploaded", n + 1, probes.len()));
    }
    let restored = if scenario.restore.is_empty() {
        None
    } else {
        let at = now();
        for line in &scenario.restore {
            topo.sh(Role::Isp, line).await?;
        }
        runs(&probes, &mut out).await?;
        Some((at, now()))
    };
    let first_blocked_run = first_blocked_run.unwrap_or_default();

    // Every blocked target its event; every clean one none (checked once the blocked targets'
    // events show that detection has run over every upload).
    let mut clean = Vec::new();
    for (i, target) in battery.iter().enumerate().skip(CONTROLS.len()) {
        let platform = platform_id(&target.input, i);
        let want = target.mechanism.clone().filter(|_| target.expect().blocking.is_string());
        let Some(mechanism) = want else {
            clean.push((target.input.clone(), platform));
            continue;
        };
        let ended = restored.is_some();
        let found = lab
            .wait_for_event(Duration::from_secs(30), |e| {
                e.kind == "blocking" && e.platforms.contains(&platform) && (!ended || e.end.is_some())
            })
            .await;
        let Some(e) = found else {
            let all = events(&lab.data).unwrap_or_default();
            let said: Vec<String> = all.iter().map(|e| format!("{} {:?} {:?}", e.kind, e.platforms, e.end)).collect();
            out.failures
                .push(format!("{}: no blocking event published for {platform} (events: {said:?})", target.input));
            continue;
        };
        let start = at(&e.start);
        out.notes.push(format!(
            "published: blocking of {platform} in {} AS{}, mechanism {}, start {:+} s after the censor (±{} s), end {}, \
             {} probes, {} measurements, {}",
            e.scope.cc,
            e.scope.asn.unwrap_or_default(),
            e.mechanism.as_deref().unwrap_or("-"),
            start - censored_at,
            e.start_uncertainty,
            e.end.as_deref().map_or("ongoing".to_string(), |t| format!(
                "{:+} s after the restore (±{} s)",
                at(t) - restored.map_or(0, |r| r.0),
                e.end_uncertainty.unwrap_or(0)
            )),
            e.probes,
            e.measurements,
            e.status
        ));
        if e.mechanism.as_deref() != Some(mechanism.as_str()) {
            out.failures.push(format!("{}: event mechanism {:?}, expected {mechanism}", target.input, e.mechanism));
        }
        if e.scope.cc != PROBE_CC || e.scope.asn.map(|a| format!("AS{a}")).as_deref() != Some(PROBE_ASN) {
            out.failures.push(format!("{}: event scope {:?}, expected {PROBE_CC} {PROBE_ASN}", target.input, e.scope));
        }
        // Measurement times have one-second resolution.
        if start < censored_at - 1 || start > first_blocked_run + 1 {
            out.failures.push(format!(
                "{}: event start {start} is not between the censor ({censored_at}) and the end of the first \
                 blocked run ({first_blocked_run})",
                target.input
            ));
        }
        // The published end is the midpoint of the last blocked run and the first clean one, ± half
        // the gap: the restore must lie in that bracket, and the bracket between the blocked runs
        // and the run after the restore.
        if let (Some((lifted, rerun)), Some(end)) = (restored, e.end.as_deref().map(at)) {
            let half = e.end_uncertainty.unwrap_or(0);
            let (lo, hi) = (end - half, end + half);
            if lo > lifted + 1 || hi < lifted - 1 || lo < first_blocked_run - 1 || hi > rerun + 1 {
                out.failures.push(format!(
                    "{}: event end {end} ± {half} s does not bracket the restore ({lifted}) between the blocked runs \
                     ({first_blocked_run}) and the run after the restore ({rerun})",
                    target.input
                ));
            }
        }
        if e.probes < PROBES.len() {
            out.failures.push(format!(
                "{}: the event counts {} probes, expected {}",
                target.input,
                e.probes,
                PROBES.len()
            ));
        }
    }
    let published = events(&lab.data).map_err(LabError::Other)?;
    for (input, platform) in clean {
        if let Some(e) = published.iter().find(|e| e.platforms.contains(&platform)) {
            out.failures.push(format!("{input}: expected clean, but the collector published {} {}", e.kind, e.id));
        }
    }
    crate::shutdown::check_privacy(&lab.data, &mut out.failures);
    Ok(out)
}

/// One `run --once --json` by both probes at once (each uploads what it measured).
async fn runs(probes: &[Probe<'_>; 2], out: &mut ProbeRun) -> Result<(), LabError> {
    let args = |p: &Probe<'_>| ["run", "--config", p.config, "--once", "--json"].map(String::from);
    let (a0, a1) = (args(&probes[0]), args(&probes[1]));
    let (a0, a1): (Vec<&str>, Vec<&str>) =
        (a0.iter().map(|s| s.as_str()).collect(), a1.iter().map(|s| s.as_str()).collect());
    let (a, b) = tokio::join!(probes[0].output(&a0), probes[1].output(&a1));
    for output in [a?, b?] {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let platforms = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["test_name"] == "vigil_platform")
            .count();
        if platforms == 0 || !String::from_utf8_lossy(&output.stderr).contains("uploaded") {
            out.failures.push(format!(
                "vigil-probe run --once measured {platforms} platforms and did not upload: {}",
                crate::shutdown::lossy(&output.stderr)
            ));
        }
    }
    Ok(())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
