//! Which addresses the control may connect to: never loopback, private, link-local or other
//! non-public addresses, nor the collector's own (configured ones and, in the field, every address
//! of every interface of the host, [`LocalAddresses`]), so a probe cannot turn the control against
//! the network or the host it runs on. A lab may declare networks that count as public.
//!
//! The ranges are `vigil_report::addr`'s, the same list the probe uses.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use vigil_report::addr;

use crate::local::LocalAddresses;

/// The address a connection to `ip` really reaches (see [`vigil_report::addr::reached`]).
fn effective(ip: IpAddr) -> IpAddr {
    addr::reached(ip)
}

/// True if `ip` is not a globally reachable unicast address (OONI's "bogon"), lab nets aside.
pub fn is_non_public(ip: IpAddr) -> bool {
    addr::is_non_public(ip)
}

/// Why the policy refuses an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Loopback, private, link-local, documentation, multicast... (outside the lab nets).
    NotPublic,
    /// An address of the collector's own host: configured, or on one of its interfaces.
    OwnAddress,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotPublic => "refused: not a public address",
            Refusal::OwnAddress => "refused: an address of the control's own host",
        })
    }
}

/// The addresses the control may connect to.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    allow_nets: Vec<IpNet>,
    own_addrs: Vec<IpAddr>,
    /// The host's interface addresses, read of the moment (none: not checked, tests and labs).
    local: Option<Arc<LocalAddresses>>,
}

impl TargetPolicy {
    /// A control in the field: every non-public address is refused.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// A control in a lab: addresses inside `allow_nets` count as public (own addresses aside).
    pub fn lab(allow_nets: Vec<IpNet>) -> Self {
        Self { allow_nets, ..Self::default() }
    }

    /// The collector's own addresses: always refused, even inside a lab net.
    pub fn with_own_addresses(mut self, addrs: Vec<IpAddr>) -> Self {
        self.own_addrs = addrs.into_iter().map(effective).collect();
        self
    }

    /// Every address of every interface of the host is the collector's own too, read from
    /// `local` at each check (the collector: [`LocalAddresses::system`]).
    pub fn with_local_interfaces(mut self, local: Arc<LocalAddresses>) -> Self {
        self.local = Some(local);
        self
    }

    /// True if the control may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.check(ip).is_ok()
    }

    /// Whether the control may connect to `ip`, and if not, why. Own addresses are refused even
    /// inside a lab net.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let reached = effective(ip);
        if self.own_addrs.contains(&reached) {
            return Err(Refusal::OwnAddress);
        }
        if let Some(local) = &self.local
            && local.current().iter().any(|own| effective(*own) == reached)
        {
            return Err(Refusal::OwnAddress);
        }
        let in_lab = self.allow_nets.iter().any(|net| net.contains(&ip) || net.contains(&reached));
        if in_lab || !is_non_public(ip) { Ok(()) } else { Err(Refusal::NotPublic) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn public_only_refuses_every_non_public_range() {
        let field = TargetPolicy::public_only();
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
        ];
        for s in refused {
            assert!(!field.allows(ip(s)), "{s} must be refused");
            assert!(is_non_public(ip(s)), "{s} is not public");
        }
        let allowed = ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2a00:1450::1", "::ffff:8.8.8.8"];
        for s in allowed {
            assert!(field.allows(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn lab_nets_count_as_public_but_own_addresses_never_do() {
        let lab = TargetPolicy::lab(vec![net("127.0.0.0/8"), net("::1/128")]).with_own_addresses(vec![
            ip("127.0.0.1"),
            ip("198.51.100.1"),
            ip("8.8.4.4"),
        ]);
        assert!(lab.allows(ip("127.0.0.2")));
        assert!(lab.allows(ip("::1")));
        assert!(lab.allows(ip("::ffff:127.0.0.2")), "mapped form of a lab address");
        assert!(!lab.allows(ip("127.0.0.1")), "own address inside the lab net");
        assert!(!lab.allows(ip("::ffff:127.0.0.1")), "own address, IPv4-mapped");
        assert!(!lab.allows(ip("64:ff9b::808:404")), "own public address through NAT64");
        assert!(!lab.allows(ip("8.8.4.4")), "own public address");
        assert!(!lab.allows(ip("10.0.0.1")), "outside the lab nets");
        assert!(lab.allows(ip("8.8.8.8")));
        assert_eq!(lab.check(ip("8.8.4.4")), Err(Refusal::OwnAddress));
        assert_eq!(lab.check(ip("10.0.0.1")), Err(Refusal::NotPublic));
    }

    /// Issue 14, item 4: a host address that nobody configured (the listen address was 0.0.0.0)
    /// is refused because it is on an interface, in every form that reaches it.
    #[test]
    fn every_interface_address_is_refused_as_own() {
        let interfaces = || Ok(vec![ip("127.0.0.1"), ip("100.128.0.1"), ip("2a00:1450::5"), ip("fe80::1")]);
        let local = Arc::new(LocalAddresses::new(interfaces, std::time::Duration::from_secs(60)).unwrap());
        let field = TargetPolicy::public_only().with_own_addresses(vec![ip("8.8.4.4")]).with_local_interfaces(local);
        for own in ["100.128.0.1", "::ffff:100.128.0.1", "64:ff9b::6480:1", "2a00:1450::5", "8.8.4.4"] {
            assert_eq!(field.check(ip(own)), Err(Refusal::OwnAddress), "{own}");
        }
        assert_eq!(field.check(ip("127.0.0.1")), Err(Refusal::OwnAddress), "loopback is an interface too");
        assert_eq!(field.check(ip("10.0.0.1")), Err(Refusal::NotPublic));
        assert_eq!(field.check(ip("100.128.0.2")), Ok(()), "a neighbour of the host is not the host");
        assert!(field.allows(ip("8.8.8.8")));
    }

    #[test]
    fn interface_addresses_follow_the_system_as_it_changes() {
        let now = Arc::new(std::sync::Mutex::new(vec![ip("100.128.0.1")]));
        let seen = now.clone();
        let source = move || Ok(seen.lock().unwrap().clone());
        let local = Arc::new(LocalAddresses::new(source, std::time::Duration::ZERO).unwrap());
        let field = TargetPolicy::public_only().with_local_interfaces(local);
        assert!(!field.allows(ip("100.128.0.1")));
        assert!(field.allows(ip("100.128.0.9")));
        *now.lock().unwrap() = vec![ip("100.128.0.9")];
        assert!(field.allows(ip("100.128.0.1")), "an address the host gave up");
        assert!(!field.allows(ip("100.128.0.9")), "an address the host took since the start");
    }
}
