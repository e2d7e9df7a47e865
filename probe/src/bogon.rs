//! Which addresses the probe may measure: bogons (private, reserved, local) are off limits unless the
//! operator lists them as a lab network.
//!
//! Volunteer safety rule: a probe on someone's home network never connects to local or private
//! addresses (RIPE Atlas does the same), so a DNS answer pointing at 192.168.1.1 is reported, not
//! followed. Lab nets (e.g. 10.99.0.0/16 in a test bed) count as public.

use std::net::IpAddr;

use ipnet::IpNet;
use vigil_report::addr;

/// The set of addresses the probe may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    lab_nets: Vec<IpNet>,
}

impl Scope {
    /// A probe in the field: every bogon is off limits.
    pub fn field() -> Self {
        Self::default()
    }

    /// A probe in a lab: addresses inside `nets` count as public even if they are bogons.
    pub fn lab(nets: Vec<IpNet>) -> Self {
        Self { lab_nets: nets }
    }

    /// The operator's lab networks (empty in the field).
    pub fn lab_nets(&self) -> &[IpNet] {
        &self.lab_nets
    }

    fn in_lab(&self, ip: IpAddr) -> bool {
        self.lab_nets.iter().any(|net| net.contains(&ip))
    }

    /// True if `ip` is private, reserved, local or otherwise not global, and not in a lab net.
    pub fn is_bogon(&self, ip: IpAddr) -> bool {
        if self.in_lab(ip) || self.in_lab(addr::reached(ip)) {
            return false;
        }
        addr::is_non_public(ip)
    }

    /// True if the probe may connect to `ip` (it is not a bogon, or it is in a lab net).
    pub fn may_measure(&self, ip: IpAddr) -> bool {
        !self.is_bogon(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // The ranges themselves are tested in `vigil_report::addr`; here, the scope around them.

    #[test]
    fn mapped_and_nat64_addresses_are_judged_by_their_ipv4() {
        let field = Scope::field();
        assert!(field.is_bogon(ip("::ffff:192.168.1.1")));
        assert!(field.is_bogon(ip("::ffff:127.0.0.1")));
        assert!(field.may_measure(ip("::ffff:8.8.8.8")));
        assert!(field.is_bogon(ip("64:ff9b::10.0.0.1")));
        assert!(field.is_bogon(ip("64:ff9b::a9fe:a9fe"))); // 169.254.169.254
        assert!(field.may_measure(ip("64:ff9b::1.1.1.1")));
    }

    #[test]
    fn lab_nets_override_bogons_and_nothing_else() {
        let lab = Scope::lab(vec!["10.99.0.0/16".parse().unwrap(), "fd00:99::/32".parse().unwrap()]);
        assert!(lab.may_measure(ip("10.99.1.2")));
        assert!(lab.may_measure(ip("::ffff:10.99.1.2")));
        assert!(lab.may_measure(ip("64:ff9b::10.99.0.1")));
        assert!(lab.may_measure(ip("fd00:99::53")));
        assert!(lab.is_bogon(ip("10.98.0.1")));
        assert!(lab.is_bogon(ip("fd00:98::1")));
        assert!(lab.is_bogon(ip("127.0.0.1")));
        assert!(lab.may_measure(ip("8.8.8.8")));
        assert_eq!(lab.lab_nets().len(), 2);
        assert!(Scope::field().is_bogon(ip("10.99.1.2")));
    }
}
