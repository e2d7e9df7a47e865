//! Scenario files (`tests/lab/scenarios/<name>.toml`): the censor's rules (shell lines run on
//! the ISP router, built-in censor programs, a lying ISP resolver), the targets, and the verdict
//! the probe must reach for each. Adding a scenario is writing one file.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use vigil_testkit::{DnsBehaviour, Zone};

use crate::LabError;
use crate::censor::Program;

/// How the probe is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// `vigil-probe check --json TARGETS` once, with the censor in place.
    #[default]
    Check,
    /// A shutdown: every packet dropped, the probe measures and spools, then the network comes
    /// back and the probe uploads to the real collector.
    Shutdown,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file name without `.toml`.
    #[serde(skip)]
    pub name: String,
    /// One line: what is emulated (and who did it in the real world).
    pub about: String,
    /// The censor rule in a few words, for the docs table.
    pub rule: String,
    /// What OONI's Web Connectivity would say, for the docs table.
    pub ooni: String,
    /// Shell lines run in the ISP namespace, in order (iptables, nft, tc...).
    #[serde(default)]
    pub censor: Vec<String>,
    /// Built-in censor programs (packet forgery); their iptables lines run before `censor`.
    #[serde(default)]
    pub inject: Vec<Program>,
    /// The ISP resolver lies: name → `"ip[,ip]"`, `"nxdomain"`, `"servfail"`, `"refused"` or `"silent"`.
    #[serde(default)]
    pub isp_resolver: BTreeMap<String, String>,
    /// Also check the world's bystander targets, expected clean.
    #[serde(default = "yes")]
    pub bystanders: bool,
    /// The probe's one timeout for DNS, connect, TLS and HTTP (ms).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub flow: Flow,
    /// For `flow = "shutdown"`: how long every packet is dropped (s), at least.
    #[serde(default)]
    pub outage_s: u64,
    /// Shell lines run on the ISP router that lift the censor: for `flow = "shutdown"` they end
    /// the outage (the `censor` lines then start it, after the probe enrolled, instead of before
    /// the probe runs); with `publish` they end the block.
    #[serde(default)]
    pub restore: Vec<String>,
    /// For `flow = "check"`: then publish. Two probes upload their batteries to the real collector
    /// and it must publish a blocking event per blocked target (see `publish.rs`); with
    /// `restore` lines the censor is lifted and the event must end.
    #[serde(default)]
    pub publish: bool,
    /// Not run yet, and why (e.g. a binary it needs does not exist yet). Reported, never hidden.
    pub pending: Option<String>,
    /// Run, but known to fail today, and why (a defect being fixed elsewhere): its failures are
    /// printed as KNOWN FAILURE and do not fail the lab; once it passes, the lab fails until the
    /// flag is removed, so the scenario is enabled when the fix lands.
    pub known_failure: Option<String>,
    /// For `flow = "check"`: then the throttling test against the decoy (see `throttle.rs`).
    pub throttle: Option<crate::throttle::ThrottleSpec>,
    /// The web targets (none: only the throttling test runs).
    #[serde(default)]
    pub target: Vec<Target>,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u64 {
    2000
}

/// One measured input and what the probe must say about it. Omitted fields mean a clean
/// result: `blocking = false`, `accessible = true`, no mechanism.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub input: String,
    /// `false`, `"dns"`, `"tcp_ip"`, `"http-failure"`, `"http-diff"` or `"null"`.
    #[serde(default = "no")]
    pub blocking: toml::Value,
    /// `true`, `false` or `"null"`.
    #[serde(default = "yes_value")]
    pub accessible: toml::Value,
    pub mechanism: Option<String>,
    /// `x_confirmed`: the probe proved the block alone (injection, SNI-swap, DoH...).
    pub confirmed: Option<bool>,
    /// The final HTTP exchange took at least this long (proves a throttle acted).
    pub min_http_ms: Option<u64>,
    /// ... at most this long (proves a bystander was not throttled).
    pub max_http_ms: Option<u64>,
    /// The failure label of the system resolver's (getaddrinfo's) query for the input's host,
    /// e.g. `"dns_nxdomain_error"`; `"null"`: it resolved.
    pub system_failure: Option<String>,
}

fn no() -> toml::Value {
    toml::Value::Boolean(false)
}

fn yes_value() -> toml::Value {
    toml::Value::Boolean(true)
}

/// The verdict triple as it appears in a measurement's `test_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub blocking: Value,
    pub accessible: Value,
    pub mechanism: Value,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blocking={} accessible={} mechanism={}", self.blocking, self.accessible, self.mechanism)
    }
}

fn json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) if s == "null" => Value::Null,
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::String(other.to_string()),
    }
}

impl Target {
    /// A clean bystander.
    pub fn clean(input: &str) -> Target {
        Target {
            input: input.to_string(),
            blocking: no(),
            accessible: yes_value(),
            mechanism: None,
            confirmed: None,
            min_http_ms: None,
            max_http_ms: None,
            system_failure: None,
        }
    }

    pub fn expect(&self) -> Expect {
        Expect {
            blocking: json(&self.blocking),
            accessible: json(&self.accessible),
            mechanism: self.mechanism.clone().map_or(Value::Null, Value::String),
        }
    }
}

impl Scenario {
    /// Parse `text` as the scenario `name`.
    pub fn parse(name: &str, text: &str) -> Result<Scenario, String> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.name = name.to_string();
        for t in &scenario.target {
            let e = t.expect();
            let blocking_ok = matches!(&e.blocking, Value::Bool(false) | Value::Null)
                || matches!(&e.blocking, Value::String(s) if ["dns", "tcp_ip", "http-failure", "http-diff"].contains(&s.as_str()));
            if !blocking_ok {
                return Err(format!("target {}: unknown blocking {}", t.input, e.blocking));
            }
            if !matches!(e.accessible, Value::Bool(_) | Value::Null) {
                return Err(format!("target {}: accessible must be true, false or \"null\"", t.input));
            }
        }
        for (name, value) in &scenario.isp_resolver {
            parse_behaviour(value).map_err(|e| format!("isp_resolver.{name}: {e}"))?;
        }
        if scenario.flow == Flow::Shutdown && (scenario.outage_s == 0 || scenario.restore.is_empty()) {
            return Err("flow = \"shutdown\" needs outage_s and restore".into());
        }
        if scenario.flow == Flow::Check && !scenario.restore.is_empty() && !scenario.publish {
            return Err("restore is only for flow = \"shutdown\" or publish = true".into());
        }
        if scenario.target.is_empty() && scenario.throttle.is_none() {
            return Err("a scenario needs a [[target]] or a [throttle] stage".into());
        }
        if scenario.flow == Flow::Shutdown && scenario.throttle.is_some() {
            return Err("[throttle] is only for flow = \"check\"".into());
        }
        if let Some(t) = &scenario.throttle
            && !["ok", "throttled", "inconclusive", "not_throttled"].contains(&t.verdict.as_str())
        {
            return Err(format!(
                "throttle.verdict: {:?} is not ok, throttled, inconclusive or not_throttled",
                t.verdict
            ));
        }
        if scenario.flow == Flow::Shutdown && scenario.publish {
            return Err("publish = true is only for flow = \"check\" (a shutdown publishes anyway)".into());
        }
        Ok(scenario)
    }

    /// Load `dir/<name>.toml`.
    pub fn load(path: &Path) -> Result<Scenario, LabError> {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(format!("read {}", path.display()), e))?;
        Self::parse(&name, &text).map_err(|message| LabError::Parse { file: path.display().to_string(), message })
    }

    /// Every scenario in `dir`, sorted by name.
    pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, LabError> {
        let entries = std::fs::read_dir(dir).map_err(|e| LabError::io(format!("list {}", dir.display()), e))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Scenario::load(p)).collect()
    }

    /// The targets to measure: the scenario's, then the bystanders it does not already name.
    pub fn targets(&self, bystanders: &[String]) -> Vec<Target> {
        let mut targets = self.target.clone();
        if self.bystanders {
            for input in bystanders {
                if !targets.iter().any(|t| &t.input == input) {
                    targets.push(Target::clean(input));
                }
            }
        }
        targets
    }

    /// The ISP resolver's zone: the truth with this scenario's lies.
    pub fn isp_zone(&self, truth: &Zone) -> Zone {
        lying_zone(truth, &self.isp_resolver)
    }
}

/// A copy of `truth` with `lies` (name → `"ip[,ip]"` or a failure keyword; invalid ones skipped).
pub fn lying_zone(truth: &Zone, lies: &BTreeMap<String, String>) -> Zone {
    let zone = truth.deep_copy();
    for (name, value) in lies {
        if let Ok(behaviour) = parse_behaviour(value) {
            zone.set(name, behaviour);
        }
    }
    zone
}

fn parse_behaviour(value: &str) -> Result<DnsBehaviour, String> {
    Ok(match value {
        "nxdomain" => DnsBehaviour::NxDomain,
        "servfail" => DnsBehaviour::ServFail,
        "refused" => DnsBehaviour::Refused,
        "silent" => DnsBehaviour::Silent,
        addrs => DnsBehaviour::Answer(
            addrs
                .split(',')
                .map(|a| a.trim().parse::<IpAddr>().map_err(|e| format!("{a:?}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses() {
        let all = Scenario::load_all(&crate::lab_dir().join("scenarios")).unwrap();
        assert!(all.len() >= 20, "{} scenarios", all.len());
        for s in &all {
            assert!(!s.target.is_empty() || s.throttle.is_some(), "{}: no target", s.name);
        }
    }

    #[test]
    fn omitted_expectations_mean_clean_and_null_is_spelled_out() {
        let s = Scenario::parse(
            "x",
            "about = \"a\"\nrule = \"r\"\nooni = \"o\"\n[[target]]\ninput = \"https://a.test/\"\n\
             [[target]]\ninput = \"https://b.test/\"\nblocking = \"null\"\naccessible = \"null\"\n\
             [[target]]\ninput = \"https://c.test/\"\nblocking = \"dns\"\naccessible = false\nmechanism = \"dns_nxdomain\"\n",
        )
        .unwrap();
        let clean = Expect { blocking: Value::Bool(false), accessible: Value::Bool(true), mechanism: Value::Null };
        assert_eq!(s.target[0].expect(), clean);
        assert_eq!(s.target[1].expect().blocking, Value::Null);
        assert_eq!(s.target[1].expect().accessible, Value::Null);
        assert_eq!(s.target[2].expect().mechanism, Value::String("dns_nxdomain".into()));
        let targets = s.targets(&["https://a.test/".to_string(), "https://z.test/".to_string()]);
        assert_eq!(targets.len(), 4, "bystanders already named are not added twice");
    }

    #[test]
    fn mistakes_in_a_scenario_are_named() {
        let base = "about = \"a\"\nrule = \"r\"\nooni = \"o\"\n";
        let err = Scenario::parse("x", &format!("{base}[[target]]\ninput = \"u\"\nblocking = \"dsn\"\n")).unwrap_err();
        assert!(err.contains("dsn"), "{err}");
        let err = Scenario::parse("x", &format!("{base}colour = 1\n[[target]]\ninput = \"u\"\n")).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err =
            Scenario::parse("x", &format!("{base}[isp_resolver]\n\"a.test\" = \"nope\"\n[[target]]\ninput = \"u\"\n"))
                .unwrap_err();
        assert!(err.contains("isp_resolver.a.test"), "{err}");
    }
}
