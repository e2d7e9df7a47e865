//! The fake world's censor: profiles as data (which platform is blocked, and how), and the
//! verdicts a correct probe must reach for each endpoint and platform.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use vigil_report::{Blocking, Mechanism, PlatformStatus};

/// How the censor treats one host (a name or an IP literal) on the probe's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Censor {
    /// The ISP resolver answers NXDOMAIN.
    DnsNxdomain,
    /// An on-path injector answers first with the blockpage server, the real answer follows.
    DnsInjection,
    /// The ISP resolver answers the ISP's blockpage server (self-signed certificate on 443).
    DnsBlockpage,
    /// The path resets the connection after a ClientHello with this SNI.
    TlsSniReset,
    /// The path drops everything after a ClientHello with this SNI (handshake timeout).
    TlsSniDrop,
    /// The path answers SYNs with RST.
    TcpRefused,
    /// The path drops SYNs.
    TcpBlackhole,
}

impl Censor {
    /// One line for people: what the censor does.
    pub fn describe(self) -> &'static str {
        match self {
            Censor::DnsNxdomain => "ISP resolver answers NXDOMAIN",
            Censor::DnsInjection => "DNS injection: a forged answer (blockpage server) races the real one",
            Censor::DnsBlockpage => "ISP resolver points at the ISP's blockpage server",
            Censor::TlsSniReset => "TLS reset after the ClientHello (SNI filter)",
            Censor::TlsSniDrop => "TLS dropped after the ClientHello (SNI filter, handshake times out)",
            Censor::TcpRefused => "TCP connect refused (RST to SYN)",
            Censor::TcpBlackhole => "TCP SYNs dropped (blackhole)",
        }
    }

    /// Acts through DNS, so it cannot touch an IP literal.
    pub fn is_dns(self) -> bool {
        matches!(self, Censor::DnsNxdomain | Censor::DnsInjection | Censor::DnsBlockpage)
    }

    /// What a correct probe concludes for an endpoint of `scheme` on a host treated this way.
    pub fn verdict(self, scheme: Scheme) -> Verdict {
        let blocked = |blocking, mechanism| Verdict { blocking, accessible: Some(false), mechanism: Some(mechanism) };
        match (self, scheme) {
            (Censor::DnsNxdomain, _) => blocked(Blocking::Dns, Mechanism::DnsNxdomain),
            (Censor::DnsInjection, _) => blocked(Blocking::Dns, Mechanism::DnsInjection),
            (Censor::DnsBlockpage, _) => blocked(Blocking::Dns, Mechanism::DnsInconsistent),
            (Censor::TlsSniReset, Scheme::Https) => blocked(Blocking::HttpFailure, Mechanism::TlsSniReset),
            (Censor::TlsSniDrop, Scheme::Https) => blocked(Blocking::HttpFailure, Mechanism::TlsSniTimeout),
            // An SNI filter never sees plain HTTP or a bare TCP connect.
            (Censor::TlsSniReset | Censor::TlsSniDrop, _) => Verdict::clean(),
            (Censor::TcpRefused, _) => blocked(Blocking::TcpIp, Mechanism::TcpIpRefused),
            (Censor::TcpBlackhole, _) => blocked(Blocking::TcpIp, Mechanism::TcpIpBlackhole),
        }
    }
}

/// What kind of endpoint an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    Http,
    /// `tcpconnect://host:port`.
    Tcp,
}

/// The verdict keys of one endpoint measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub blocking: Blocking,
    pub accessible: Option<bool>,
    pub mechanism: Option<Mechanism>,
}

impl Verdict {
    /// Reachable, not blocked.
    pub fn clean() -> Verdict {
        Verdict { blocking: Blocking::No, accessible: Some(true), mechanism: None }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accessible = self.accessible.map_or("null", |a| if a { "true" } else { "false" });
        let mechanism = self.mechanism.map(Mechanism::label).unwrap_or_else(|| "-".into());
        write!(f, "{} accessible={accessible} {mechanism}", self.blocking.label())
    }
}

/// Which censor the fake world plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// No censorship: every platform is reachable.
    #[default]
    Clean,
    /// A censored ISP that blocks a few platforms, each in another way, so every mechanism shows.
    Demo,
}

/// One censorship rule: every host of `platform`'s endpoints (of `group`, when given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub platform: &'static str,
    pub group: Option<&'static str>,
    pub censor: Censor,
}

const fn rule(platform: &'static str, group: Option<&'static str>, censor: Censor) -> Rule {
    Rule { platform, group, censor }
}

const DEMO: &[Rule] = &[
    rule("facebook", None, Censor::DnsNxdomain),
    rule("instagram", None, Censor::DnsInjection),
    rule("x", None, Censor::TlsSniReset),
    rule("tiktok", None, Censor::TlsSniDrop),
    rule("telegram", Some("datacenters"), Censor::TcpBlackhole),
    rule("telegram", Some("web"), Censor::TcpRefused),
    rule("vk", None, Censor::DnsBlockpage),
];

impl Profile {
    /// The rules, in priority order (a host named by two rules gets the first).
    pub fn rules(self) -> &'static [Rule] {
        match self {
            Profile::Clean => &[],
            Profile::Demo => DEMO,
        }
    }

    /// The censor for an endpoint of `platform` in `group`, if a rule names it.
    pub fn censor_for(self, platform: &str, group: &str) -> Option<Censor> {
        self.rules().iter().find(|r| r.platform == platform && r.group.is_none_or(|g| g == group)).map(|r| r.censor)
    }
}

/// A profile name that is neither `clean` nor `demo`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?} (expected clean or demo)")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, UnknownProfile> {
        match s {
            "clean" => Ok(Profile::Clean),
            "demo" => Ok(Profile::Demo),
            other => Err(UnknownProfile(other.to_string())),
        }
    }
}

/// What the probe must say about one endpoint of the rewritten battery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointExpectation {
    pub platform: String,
    pub group: String,
    /// The input as the battery wrote it.
    pub original: String,
    /// The input rewritten to the fakes (what the probe measures and reports).
    pub input: String,
    pub censor: Option<Censor>,
    pub verdict: Verdict,
}

/// What the probe must say about one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformExpectation {
    pub id: String,
    pub status: PlatformStatus,
    pub mechanism: Option<Mechanism>,
    /// How the censor treats it, for people ("clean", or each censored host and how).
    pub how: String,
}

/// A platform's expected status from its endpoints' expected verdicts: a group is blocked when
/// all its endpoints are, reachable when one is; the mechanism is the commonest among the
/// endpoints of blocked groups (ties to the last in [`Mechanism`] order, as `BTreeMap` max does).
pub fn expect_platform(id: &str, endpoints: &[EndpointExpectation]) -> PlatformExpectation {
    let mine: Vec<&EndpointExpectation> = endpoints.iter().filter(|e| e.platform == id).collect();
    let mut groups: BTreeMap<&str, Vec<&EndpointExpectation>> = BTreeMap::new();
    for e in &mine {
        groups.entry(e.group.as_str()).or_default().push(e);
    }
    let mut counts: BTreeMap<Mechanism, usize> = BTreeMap::new();
    let mut blocked = false;
    let mut reachable = true;
    for members in groups.values() {
        if members.iter().any(|e| e.verdict.accessible == Some(true)) {
            continue;
        }
        reachable = false;
        if members.iter().all(|e| e.verdict.blocking.is_blocked()) {
            blocked = true;
            for m in members.iter().filter_map(|e| e.verdict.mechanism) {
                *counts.entry(m).or_default() += 1;
            }
        }
    }
    let (status, mechanism) = if blocked {
        (PlatformStatus::Blocked, counts.into_iter().max_by_key(|(_, n)| *n).map(|(m, _)| m))
    } else if reachable {
        (PlatformStatus::Ok, None)
    } else {
        (PlatformStatus::Unknown, None)
    };
    let mut how: BTreeMap<Censor, Vec<String>> = BTreeMap::new();
    for e in &mine {
        if let Some(c) = e.censor {
            let hosts = how.entry(c).or_default();
            let host = host_of(&e.original);
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
    }
    let how = if how.is_empty() {
        "clean".to_string()
    } else {
        let parts: Vec<String> = how
            .into_iter()
            .map(|(c, hosts)| {
                let shown = if hosts.len() > 3 { format!("{} hosts", hosts.len()) } else { hosts.join(", ") };
                format!("{} ({shown})", c.describe())
            })
            .collect();
        parts.join("; ")
    };
    PlatformExpectation { id: id.to_string(), status, mechanism, how }
}

/// The host of an input, for descriptions (the input itself when it does not parse).
fn host_of(input: &str) -> String {
    url::Url::parse(input).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| input.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(platform: &str, group: &str, censor: Option<Censor>, scheme: Scheme) -> EndpointExpectation {
        EndpointExpectation {
            platform: platform.into(),
            group: group.into(),
            original: format!("https://{group}.{platform}.test/"),
            input: String::new(),
            censor,
            verdict: censor.map_or(Verdict::clean(), |c| c.verdict(scheme)),
        }
    }

    #[test]
    fn demo_rules_pick_platform_and_group() {
        let demo = Profile::Demo;
        assert_eq!(demo.censor_for("facebook", "cdn"), Some(Censor::DnsNxdomain));
        assert_eq!(demo.censor_for("telegram", "datacenters"), Some(Censor::TcpBlackhole));
        assert_eq!(demo.censor_for("telegram", "web"), Some(Censor::TcpRefused));
        assert_eq!(demo.censor_for("telegram", "website"), None);
        assert_eq!(demo.censor_for("whatsapp", "web"), None);
        assert_eq!(Profile::Clean.censor_for("facebook", "web"), None);
        assert_eq!("demo".parse::<Profile>(), Ok(Profile::Demo));
        assert!("strict".parse::<Profile>().unwrap_err().to_string().contains("strict"));
    }

    #[test]
    fn sni_filters_only_touch_https() {
        assert_eq!(Censor::TlsSniReset.verdict(Scheme::Tcp), Verdict::clean());
        assert_eq!(Censor::TlsSniDrop.verdict(Scheme::Https).mechanism, Some(Mechanism::TlsSniTimeout));
        assert_eq!(Censor::TcpBlackhole.verdict(Scheme::Http).blocking, Blocking::TcpIp);
    }

    #[test]
    fn platform_is_blocked_when_one_group_is_wholly_blocked() {
        let eps = vec![
            ep("tg", "web", Some(Censor::TcpRefused), Scheme::Https),
            ep("tg", "dc", Some(Censor::TcpBlackhole), Scheme::Http),
            ep("tg", "dc", Some(Censor::TcpBlackhole), Scheme::Http),
            ep("tg", "site", None, Scheme::Https),
            ep("other", "web", None, Scheme::Https),
        ];
        let p = expect_platform("tg", &eps);
        assert_eq!((p.status, p.mechanism), (PlatformStatus::Blocked, Some(Mechanism::TcpIpBlackhole)));
        assert!(p.how.contains("blackhole") && p.how.contains("refused"), "{}", p.how);
        let half = vec![ep("wa", "e", Some(Censor::TcpBlackhole), Scheme::Tcp), ep("wa", "e", None, Scheme::Tcp)];
        assert_eq!(expect_platform("wa", &half).status, PlatformStatus::Ok);
        assert_eq!(expect_platform("other", &eps).how, "clean");
    }
}
