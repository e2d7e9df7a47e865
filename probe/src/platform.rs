//! A platform's verdict from its endpoints' verdicts.
//!
//! Endpoints of one group are alternatives (WhatsApp's e1..e16 on 443 and 5222): a group is
//! blocked only if all of them are blocked, reachable if any is. The platform is blocked when one
//! of its groups is blocked; network down when every endpoint of every platform and control fails.

use std::collections::BTreeMap;

use vigil_report::{Blocking, Mechanism, PlatformEndpoint, PlatformStatus};

/// One group's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupStatus {
    Reachable,
    Blocked,
    Unknown,
}

fn group_status(endpoints: &[&PlatformEndpoint]) -> GroupStatus {
    if endpoints.iter().any(|e| e.accessible == Some(true)) {
        GroupStatus::Reachable
    } else if !endpoints.is_empty() && endpoints.iter().all(|e| e.blocking.is_blocked()) {
        GroupStatus::Blocked
    } else {
        GroupStatus::Unknown
    }
}

/// Summarise one platform: status, dominant mechanism, and reasons.
pub fn summarise(endpoints: &[PlatformEndpoint]) -> (PlatformStatus, Option<Mechanism>, Vec<String>) {
    let mut groups: BTreeMap<&str, Vec<&PlatformEndpoint>> = BTreeMap::new();
    for e in endpoints {
        groups.entry(e.group.as_str()).or_default().push(e);
    }
    let mut reasons = Vec::new();
    let mut blocked_groups = Vec::new();
    let mut all_reachable = true;
    for (group, members) in &groups {
        match group_status(members) {
            GroupStatus::Blocked => {
                reasons.push(format!("group {group}: all {} endpoints blocked", members.len()));
                blocked_groups.push(*group);
                all_reachable = false;
            }
            GroupStatus::Unknown => {
                reasons.push(format!("group {group}: no endpoint reachable, blocking not shown"));
                all_reachable = false;
            }
            GroupStatus::Reachable => {}
        }
    }
    if !blocked_groups.is_empty() {
        let mut counts: BTreeMap<Mechanism, usize> = BTreeMap::new();
        for e in endpoints.iter().filter(|e| blocked_groups.contains(&e.group.as_str())) {
            if let Some(m) = e.mechanism {
                *counts.entry(m).or_default() += 1;
            }
        }
        let mechanism = counts.into_iter().max_by_key(|(_, n)| *n).map(|(m, _)| m);
        return (PlatformStatus::Blocked, mechanism, reasons);
    }
    if all_reachable {
        reasons.push("every endpoint group has a reachable endpoint".into());
        return (PlatformStatus::Ok, None, reasons);
    }
    (PlatformStatus::Unknown, None, reasons)
}

/// Nothing at all worked: every endpoint of every platform and control failed without a verdict
/// of blocking — the network itself is down (a shutdown, or the probe's own uplink).
pub fn network_down(all: &[PlatformEndpoint]) -> bool {
    !all.is_empty() && all.iter().all(|e| e.accessible != Some(true) && e.blocking != Blocking::No)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(group: &str, blocking: Blocking, accessible: Option<bool>, mechanism: Option<Mechanism>) -> PlatformEndpoint {
        PlatformEndpoint {
            input: format!("tcpconnect://{group}:443"),
            group: group.into(),
            measurement_id: "m".into(),
            blocking,
            accessible,
            mechanism,
        }
    }

    #[test]
    fn a_group_is_blocked_only_if_all_endpoints_are() {
        let tcp = Some(Mechanism::TcpIpBlackhole);
        let some = vec![
            ep("endpoints", Blocking::TcpIp, Some(false), tcp),
            ep("endpoints", Blocking::No, Some(true), None),
            ep("web", Blocking::No, Some(true), None),
        ];
        assert_eq!(summarise(&some).0, PlatformStatus::Ok);
        let all = vec![
            ep("endpoints", Blocking::TcpIp, Some(false), tcp),
            ep("endpoints", Blocking::TcpIp, Some(false), tcp),
            ep("web", Blocking::No, Some(true), None),
        ];
        let (status, mech, reasons) = summarise(&all);
        assert_eq!((status, mech), (PlatformStatus::Blocked, tcp));
        assert!(reasons[0].contains("endpoints"));
    }

    #[test]
    fn unknown_when_failing_without_proof() {
        let eps = vec![ep("web", Blocking::Unknown, None, None)];
        assert_eq!(summarise(&eps).0, PlatformStatus::Unknown);
        assert!(network_down(&eps));
        assert!(!network_down(&[ep("web", Blocking::No, Some(true), None)]));
    }

    #[test]
    fn dominant_mechanism_wins() {
        let eps = vec![
            ep("web", Blocking::Dns, Some(false), Some(Mechanism::DnsNxdomain)),
            ep("web", Blocking::Dns, Some(false), Some(Mechanism::DnsNxdomain)),
            ep("web", Blocking::HttpFailure, Some(false), Some(Mechanism::TlsSniReset)),
        ];
        assert_eq!(summarise(&eps).1, Some(Mechanism::DnsNxdomain));
    }
}
