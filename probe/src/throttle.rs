//! The throttling test (`docs/throttling.md`): per platform, paired transfers of the same
//! object over fresh TLS connections — the platform's SNI against an innocuous SNI to the same
//! decoy server (T1/C1: SNI-keyed throttles) and the platform's CDN object against a control
//! object elsewhere (T2/C2: IP-keyed throttles) — in ABBA order, within a byte budget. A run is
//! `throttled` only when a one-sided exact Mann-Whitney test, a large effect and a fast enough
//! control agree, twice (a confirmation rerun).

pub mod decide;
pub mod pin;
pub mod stats;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rustls::ClientConfig;
use vigil_report::{
    Measurement, THROTTLING_TEST_NAME, ThrottleArm, ThrottleMechanism, ThrottleTransfer, ThrottleVerdict,
    ThrottlingKeys,
};

use crate::battery::{Battery, ThrottleTarget};
use crate::bogon::Scope;
use crate::clock::Clock;
use crate::config::{Config, ThrottleSection};
use decide::{Gates, clean_pairs, combine, decide_arm};
use transfer::{Limits, Target, transfer};

/// The test, set up from a configuration.
#[derive(Debug, Clone)]
pub struct Tester {
    pub settings: ThrottleSection,
    pub gates: Gates,
    /// A/A run: arm T1 sends a second innocuous SNI instead of the platform's (false-positive check).
    pub aa: bool,
    decoy: Option<(SocketAddr, Arc<ClientConfig>)>,
    webpki: Arc<ClientConfig>,
    scope: Scope,
    asn: String,
    cc: String,
}

/// One platform to test: its id and arms.
pub type Job = (String, ThrottleTarget);

impl Tester {
    /// Load the decoy's pinned certificate and the trust roots of the CDN arms.
    pub fn new(config: &Config) -> Result<Tester, String> {
        let s = &config.throttle;
        let decoy = match (s.decoy.is_empty(), &s.decoy_cert) {
            (true, _) => None,
            (false, Some(cert)) => {
                let addr: SocketAddr =
                    s.decoy.parse().map_err(|_| format!("throttle.decoy: {:?} is not ip:port", s.decoy))?;
                Some((addr, pin::pinned_config(cert)?))
            }
            (false, None) => return Err("throttle.decoy_cert: needed with throttle.decoy".into()),
        };
        let webpki = crate::tls::client_config(&config.network.ca_files).map_err(|e| e.to_string())?;
        let scope = Scope::lab(config.network.lab_nets.iter().filter_map(|n| n.parse().ok()).collect());
        if let Some((addr, _)) = &decoy
            && !scope.may_measure(addr.ip())
        {
            return Err(crate::config::decoy_not_public(*addr));
        }
        let gates = Gates { min_control_kbps: s.min_control_kbps, ..Gates::default() };
        Ok(Tester {
            settings: s.clone(),
            gates,
            aa: false,
            decoy,
            webpki,
            scope,
            asn: config.probe.asn.clone(),
            cc: config.probe.country.clone(),
        })
    }

    /// Whether there is anything to test with (a decoy or a control object).
    pub fn usable(&self) -> bool {
        self.decoy.is_some() || !self.settings.control_object.is_empty()
    }

    /// The platforms to test: `throttle.platforms` (each must have a throttle table), or every
    /// battery platform that has one.
    pub fn jobs(&self, battery: &Battery) -> Result<Vec<Job>, String> {
        let mut jobs = Vec::new();
        for p in &battery.platforms {
            let wanted = self.settings.platforms.is_empty() || self.settings.platforms.contains(&p.id);
            if let (true, Some(t)) = (wanted, &p.throttle) {
                jobs.push((p.id.clone(), t.clone()));
            }
        }
        if let Some(missing) = self.settings.platforms.iter().find(|id| !jobs.iter().any(|(j, _)| j == *id)) {
            return Err(format!(
                "throttle.platforms: {missing:?} is not a battery platform with a [platform.throttle] table"
            ));
        }
        Ok(jobs)
    }

    fn limits(&self) -> Limits {
        Limits { object_bytes: self.settings.object_bytes, cap: Duration::from_millis(self.settings.cap_ms) }
    }

    /// Resolve an https:// object URL into a target the probe may measure.
    async fn object_target(&self, arm: &'static str, url: &str) -> Result<Target, String> {
        let url = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let host = url.host_str().ok_or("no host")?.trim_matches(['[', ']']).to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| format!("{host}: {e}"))?;
        let addr = addrs
            .filter(|a| a.is_ipv4())
            .find(|a| self.scope.may_measure(a.ip()))
            .ok_or_else(|| format!("{host}: no address the probe may measure"))?;
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path = format!("{path}?{q}");
        }
        Ok(Target { arm, addr, sni: host, path, tls: self.webpki.clone() })
    }

    /// The arms of one platform: (name, target, control), or the reason an arm cannot run.
    async fn arms(
        &self,
        job: &ThrottleTarget,
        innocuous: &str,
    ) -> Vec<(&'static str, Result<(Target, Target), String>)> {
        let mut arms = Vec::new();
        if let Some((addr, tls)) = &self.decoy {
            let target = |arm, sni: &str| Target {
                arm,
                addr: *addr,
                sni: sni.to_string(),
                path: format!("{}?bytes={}", self.settings.decoy_path, self.settings.object_bytes),
                tls: tls.clone(),
            };
            arms.push(("sni", Ok((target("T1", &job.sni), target("C1", innocuous)))));
        }
        if let (Some(object), false) = (&job.object, self.settings.control_object.is_empty()) {
            let t = self.object_target("T2", object).await;
            let c = self.object_target("C2", &self.settings.control_object).await;
            arms.push(("cdn", t.and_then(|t| c.map(|c| (t, c)))));
        }
        arms
    }

    /// Run one arm: T/C pairs in ABBA order until `pairs`, the budget, or two clean pairs.
    async fn run_arm(
        &self,
        name: &str,
        (t, c): &(Target, Target),
        pass: u32,
        clock: &Clock,
        used: &mut u64,
        log: &mut Vec<ThrottleTransfer>,
    ) -> ThrottleArm {
        let s = &self.settings;
        let mut pairs: Vec<(ThrottleTransfer, ThrottleTransfer)> = Vec::new();
        let mut early = false;
        for k in 0..s.pairs {
            if *used + 2 * s.object_bytes > s.budget_bytes {
                break;
            }
            let order = if k % 2 == 0 { [t, c] } else { [c, t] };
            let mut got = Vec::with_capacity(2);
            for target in order {
                if !log.is_empty() {
                    tokio::time::sleep(Duration::from_millis(s.gap_ms)).await;
                }
                let x = transfer(target, pass, self.limits(), clock).await;
                *used += x.bytes;
                log.push(x.clone());
                got.push(x);
            }
            let (a, b) = (got.remove(0), got.remove(0));
            pairs.push(if k % 2 == 0 { (a, b) } else { (b, a) });
            let refs: Vec<(&ThrottleTransfer, &ThrottleTransfer)> = pairs.iter().map(|(a, b)| (a, b)).collect();
            if k == 1 && clean_pairs(&refs, &self.gates) {
                early = true;
                break;
            }
        }
        let ts: Vec<&ThrottleTransfer> = pairs.iter().map(|p| &p.0).collect();
        let cs: Vec<&ThrottleTransfer> = pairs.iter().map(|p| &p.1).collect();
        decide_arm(name, pass, &ts, &cs, early, &self.gates)
    }

    /// Test one platform: a first pass, and a confirmation rerun of the throttled arms after
    /// `confirm_delay_s`. The target SNI may be overridden (an A/A run sends an innocuous one).
    pub async fn run_platform(&self, job: &Job, test_start_time: &str) -> Measurement<ThrottlingKeys> {
        let clock = Clock::start();
        let mut names: Vec<String> = self.settings.innocuous_snis.clone();
        names.shuffle(&mut rand::rng());
        let innocuous = names.first().cloned().unwrap_or_default();
        let mut target = job.1.clone();
        if self.aa {
            // Another innocuous name (the same one if only one is configured).
            target.sni = names.get(1).unwrap_or(&innocuous).clone();
        }
        let arms = self.arms(&target, &innocuous).await;
        let (mut used, mut log, mut results) = (0u64, Vec::new(), Vec::new());
        for (name, arm) in &arms {
            match arm {
                Ok(arm) => results.push(self.run_arm(name, arm, 1, &clock, &mut used, &mut log).await),
                Err(e) => results.push(unrunnable(name, e)),
            }
        }
        let throttled: Vec<String> =
            results.iter().filter(|a| a.verdict == ThrottleVerdict::Throttled).map(|a| a.arm.clone()).collect();
        if !throttled.is_empty() {
            tokio::time::sleep(Duration::from_secs(self.settings.confirm_delay_s)).await;
            used = 0;
            for (name, arm) in arms.iter().filter(|(n, _)| throttled.iter().any(|t| t == n)) {
                if let Ok(arm) = arm {
                    results.push(self.run_arm(name, arm, 2, &clock, &mut used, &mut log).await);
                }
            }
        }
        let keys = keys(&job.0, results, log);
        let mut m = crate::envelope(
            THROTTLING_TEST_NAME,
            Some(job.0.clone()),
            test_start_time.to_string(),
            self.asn.clone(),
            self.cc.clone(),
            keys,
        );
        m.test_runtime = clock.elapsed();
        m
    }

    /// Test every job in turn (one platform at a time: transfers never compete).
    pub async fn run_all(
        &self,
        jobs: &[Job],
        mut each: impl FnMut(&Measurement<ThrottlingKeys>),
    ) -> Vec<Measurement<ThrottlingKeys>> {
        let start = crate::timestamp::now();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let m = self.run_platform(job, &start).await;
            each(&m);
            out.push(m);
        }
        out
    }
}

fn unrunnable(name: &str, reason: &str) -> ThrottleArm {
    ThrottleArm {
        arm: name.to_string(),
        pass: 1,
        verdict: ThrottleVerdict::Inconclusive,
        mechanism: None,
        reason: Some(format!("setup_failed: {reason}")),
        ratio: None,
        p_goodput: None,
        p_handshake: None,
        target_goodput_kbps: None,
        control_goodput_kbps: None,
        target_handshake_ms: None,
        control_handshake_ms: None,
        pairs: 0,
        early_stop: false,
    }
}

/// The test keys of a run from its arms and transfers.
fn keys(platform: &str, arms: Vec<ThrottleArm>, transfers: Vec<ThrottleTransfer>) -> ThrottlingKeys {
    let (verdict, reason, confirmed, deciding) = combine(&arms);
    let deciding = deciding.cloned();
    // The collector skips a ratio of 0 (unknown); a measured throttle keeps a tiny positive one.
    // A handshake throttle's effect is in the handshake (the goodput may be normal): its ratio is
    // the control's handshake time over the target's.
    let handshake = verdict == ThrottleVerdict::Throttled
        && deciding.as_ref().is_some_and(|a| a.mechanism == Some(ThrottleMechanism::HandshakeDelay));
    let ratio = match &deciding {
        Some(a) if handshake => match (a.control_handshake_ms, a.target_handshake_ms) {
            (Some(c), Some(t)) if t > 0.0 => c / t,
            _ => 0.0,
        },
        Some(a) => a.ratio.unwrap_or(0.0),
        None => 0.0,
    };
    let ratio = if verdict == ThrottleVerdict::Throttled { ratio.max(1e-4) } else { ratio };
    let mut k = ThrottlingKeys::summary(
        platform,
        ratio,
        verdict,
        deciding.as_ref().filter(|_| verdict == ThrottleVerdict::Throttled).and_then(|a| a.target_goodput_kbps),
        deciding.as_ref().and_then(|a| a.control_goodput_kbps),
    );
    k.severe = verdict == ThrottleVerdict::Throttled && ratio <= decide::Gates::default().severe_ratio;
    k.mechanism = deciding.as_ref().filter(|_| verdict == ThrottleVerdict::Throttled).and_then(|a| a.mechanism);
    k.reason = reason;
    k.confirmed = confirmed;
    k.bytes_received = transfers.iter().map(|t| t.bytes).sum();
    k.arms = arms;
    k.transfers = transfers;
    k.scrub_free_text();
    k
}
