//! Scrubbing of free text: IP addresses in error strings and reasons are replaced with
//! `[scrubbed]` before a measurement is signed, as OONI scrubs its failure strings, so an error
//! message that quotes the probe's own or its router's address never gets published.
//!
//! Addresses the probe deliberately measured (those in a measurement's structured fields: DNS
//! answers, connected endpoints, the control's addresses) may stay: they are published anyway.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::{ControlResponse, Failure, PlatformKeys, ThrottlingKeys, WebKeys};

/// What an address in free text is replaced with.
pub const SCRUBBED: &str = "[scrubbed]";

/// `text` with every IPv4 and IPv6 address not in `keep` replaced by [`SCRUBBED`] (an IPv4 address
/// with a port keeps its port; an IPv6 zone is scrubbed with the address).
pub fn scrub(text: &str, keep: &BTreeSet<IpAddr>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_addr_char) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail.find(|c: char| !is_addr_char(c)).unwrap_or(tail.len());
        scrub_run(&tail[..len], keep, &mut out);
        rest = &tail[len..];
        // An IPv6 zone (`fe80::1%eth0`) names the probe's own interface: drop it with the address.
        if out.ends_with(SCRUBBED) && rest.starts_with('%') {
            let zone = rest[1..]
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
                .map_or(rest.len(), |i| i + 1);
            rest = &rest[zone..];
        }
    }
    out.push_str(rest);
    out
}

fn is_addr_char(c: char) -> bool {
    c.is_ascii_hexdigit() || c == ':' || c == '.'
}

/// One run of hex digits, colons and dots: the whole run as an IPv6 address, or the IPv4
/// addresses inside it (`1.2.3.4:443`, `word1.2.3.4`).
fn scrub_run(run: &str, keep: &BTreeSet<IpAddr>, out: &mut String) {
    let trimmed = run.trim_end_matches(['.', ':']);
    let suffix = &run[trimmed.len()..];
    if trimmed.matches(':').count() >= 2
        && trimmed.contains(|c: char| c.is_ascii_hexdigit())
        && let Ok(ip) = trimmed.parse::<IpAddr>()
    {
        out.push_str(if keep.contains(&ip) { trimmed } else { SCRUBBED });
        out.push_str(suffix);
        return;
    }
    // IPv4 candidates: maximal runs of digits and dots inside the run.
    let mut rest = run;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(tail.len());
        let candidate = tail[..len].trim_end_matches('.');
        // Glued to a word (`host1.2.3.4`) it is still scrubbed; five parts (a version string)
        // or a part over 255 is not an address.
        match candidate.parse::<Ipv4Addr>() {
            Ok(v4) => {
                let ip = IpAddr::V4(v4);
                out.push_str(if keep.contains(&ip) { candidate } else { SCRUBBED });
                rest = &tail[candidate.len()..];
            }
            _ => {
                out.push_str(&tail[..len]);
                rest = &tail[len..];
            }
        }
    }
    out.push_str(rest);
}

impl Failure {
    /// This failure with the addresses in its free text scrubbed (labels have none).
    pub fn scrubbed(&self, keep: &BTreeSet<IpAddr>) -> Failure {
        match self {
            Failure::Unknown(text) => Failure::Unknown(scrub(text, keep)),
            known => known.clone(),
        }
    }
}

fn scrub_failure(failure: &mut Option<Failure>, keep: &BTreeSet<IpAddr>) {
    if let Some(f) = failure {
        *f = f.scrubbed(keep);
    }
}

fn scrub_string(text: &mut Option<String>, keep: &BTreeSet<IpAddr>) {
    if let Some(t) = text {
        *t = scrub(t, keep);
    }
}

fn address_ip(address: &str) -> Option<IpAddr> {
    address.parse::<std::net::SocketAddr>().map(|s| s.ip()).ok().or_else(|| address.parse().ok())
}

impl ControlResponse {
    /// The addresses this answer measured: the target's addresses and the endpoints connected to.
    pub fn measured_addresses(&self) -> BTreeSet<IpAddr> {
        let mut keep: BTreeSet<IpAddr> = self.dns.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        keep.extend(self.tcp_connect.keys().chain(self.tls_handshake.keys()).filter_map(|a| address_ip(a)));
        keep.extend(self.ip_info.keys().filter_map(|a| a.parse::<IpAddr>().ok()));
        keep
    }

    /// Scrub the failure texts of the control's own answer before it is sent (a probe scrubs again
    /// before signing, but one that predates scrubbing would not): addresses other than
    /// [`Self::measured_addresses`] become `[scrubbed]`.
    pub fn scrub_own_free_text(&mut self) {
        let keep = self.measured_addresses();
        self.scrub_free_text(&keep);
    }

    fn scrub_free_text(&mut self, keep: &BTreeSet<IpAddr>) {
        scrub_string(&mut self.dns.failure, keep);
        for t in self.tcp_connect.values_mut() {
            scrub_string(&mut t.failure, keep);
        }
        for t in self.tls_handshake.values_mut() {
            scrub_string(&mut t.failure, keep);
        }
        if let Some(h) = &mut self.http_request {
            scrub_string(&mut h.failure, keep);
        }
    }
}

impl WebKeys {
    /// The addresses this measurement deliberately measured: the resolvers asked, DNS answers (and every address of
    /// every UDP response), the endpoints connected to and the control's addresses.
    pub fn measured_addresses(&self) -> BTreeSet<IpAddr> {
        let mut keep = BTreeSet::new();
        for q in &self.queries {
            // The resolvers asked are published in `resolver_address` anyway.
            keep.extend(address_ip(&q.resolver_address));
            keep.extend(q.answers.iter().filter_map(|a| a.ip()));
            keep.extend(q.x_responses.iter().flat_map(|r| &r.addrs).filter_map(|a| a.parse::<IpAddr>().ok()));
        }
        keep.extend(self.tcp_connect.iter().filter_map(|c| c.ip.parse::<IpAddr>().ok()));
        keep.extend(self.tls_handshakes.iter().filter_map(|h| address_ip(&h.address)));
        if let Some(c) = &self.control {
            keep.extend(c.measured_addresses());
        }
        keep
    }

    /// Scrub every free-text field (failure texts, the control's failures, reasons): addresses
    /// other than [`Self::measured_addresses`] become `[scrubbed]`.
    pub fn scrub_free_text(&mut self) {
        let keep = self.measured_addresses();
        for q in &mut self.queries {
            scrub_failure(&mut q.failure, &keep);
        }
        for c in &mut self.tcp_connect {
            scrub_failure(&mut c.status.failure, &keep);
        }
        for h in &mut self.tls_handshakes {
            scrub_failure(&mut h.failure, &keep);
        }
        for r in &mut self.requests {
            scrub_failure(&mut r.failure, &keep);
        }
        if let Some(c) = &mut self.control {
            c.scrub_free_text(&keep);
        }
        scrub_string(&mut self.control_failure, &keep);
        scrub_failure(&mut self.dns_experiment_failure, &keep);
        scrub_failure(&mut self.http_experiment_failure, &keep);
        for r in &mut self.x_reasons {
            *r = scrub(r, &keep);
        }
    }
}

impl ThrottlingKeys {
    /// Scrub every free-text field (reasons and failure texts); the transfers' server addresses
    /// (the decoy and the platform's CDN, deliberately measured) stay.
    pub fn scrub_free_text(&mut self) {
        let keep: BTreeSet<IpAddr> = self.transfers.iter().filter_map(|t| address_ip(&t.address)).collect();
        scrub_string(&mut self.reason, &keep);
        for a in &mut self.arms {
            scrub_string(&mut a.reason, &keep);
        }
        for t in &mut self.transfers {
            scrub_failure(&mut t.failure, &keep);
        }
    }
}

impl PlatformKeys {
    /// Scrub the reasons (a `network_down` record's say why each control failed): addresses
    /// other than `keep`, those the probe connected to, become `[scrubbed]`.
    pub fn scrub_free_text(&mut self, keep: &BTreeSet<IpAddr>) {
        for r in &mut self.reasons {
            *r = scrub(r, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> BTreeSet<IpAddr> {
        BTreeSet::new()
    }

    #[test]
    fn ipv4_and_ipv6_addresses_are_scrubbed_wherever_they_stand() {
        let cases = [
            ("connect to 192.168.1.23:443 failed", "connect to [scrubbed]:443 failed"),
            ("from 10.0.0.1.", "from [scrubbed]."),
            ("peer=8.8.8.8,retry", "peer=[scrubbed],retry"),
            ("tcp connect error: [2a01:db8:1234::5]:443: refused", "tcp connect error: [[scrubbed]]:443: refused"),
            ("bind fe80::1%eth0 failed", "bind [scrubbed] failed"),
            ("mapped ::ffff:192.0.2.1 here", "mapped [scrubbed] here"),
            ("addr 2001:db8::1", "addr [scrubbed]"),
            ("host1.2.3.4", "host[scrubbed]"),
        ];
        for (text, want) in cases {
            assert_eq!(scrub(text, &none()), want, "{text}");
        }
    }

    #[test]
    fn text_without_addresses_is_unchanged() {
        for text in [
            "unknown_failure: tls handshake eof",
            "at 12:30:45 on dead:beef",
            "version 1.2.3 and 1.2.3.4.5 and 300.1.1.1",
            "cafe face 0xff :: ::: a.b",
            "résumé: ünïcode 10 ms",
            "",
        ] {
            assert_eq!(scrub(text, &none()), text, "{text}");
        }
    }

    #[test]
    fn measured_addresses_stay() {
        let keep: BTreeSet<IpAddr> = ["93.184.216.34".parse().unwrap(), "2606:2800:220:1::1".parse().unwrap()].into();
        assert_eq!(
            scrub("93.184.216.34:443 reset by 192.168.1.1 via 2606:2800:220:1::1", &keep),
            "93.184.216.34:443 reset by [scrubbed] via 2606:2800:220:1::1"
        );
    }

    #[test]
    fn unknown_failures_are_scrubbed_and_labels_left_alone() {
        let f = Failure::unknown("io error from 100.64.3.9");
        assert_eq!(f.scrubbed(&none()).label(), "unknown_failure: io error from [scrubbed]");
        assert_eq!(Failure::ConnectionReset.scrubbed(&none()), Failure::ConnectionReset);
    }

    #[test]
    fn every_free_text_field_of_web_keys_is_scrubbed_but_measured_addresses_stay() {
        let leak = "unknown_failure: read from 192.168.1.50:51234 to 93.184.216.34:443";
        let scrubbed = "unknown_failure: read from [scrubbed]:51234 to 93.184.216.34:443";
        let json = serde_json::json!({
            "client_resolver": null,
            "queries": [{"engine": "udp", "resolver_address": "9.9.9.9:53", "hostname": "x.test", "query_type": "A",
                "answers": [{"answer_type": "A", "ipv4": "93.184.216.34", "ttl": 60}], "failure": leak, "t0": 0.0, "t": 0.0}],
            "tcp_connect": [{"ip": "93.184.216.34", "port": 443, "status": {"success": false, "failure": leak}, "t0": 0.0, "t": 0.0}],
            "tls_handshakes": [{"address": "93.184.216.34:443", "server_name": "x.test", "failure": leak, "tls_version": null,
                "cipher_suite": null, "negotiated_protocol": null, "no_tls_verify": false, "t0": 0.0, "t": 0.0}],
            "requests": [{"request": {"method": "GET", "url": "https://x.test/", "headers": {}}, "response": null,
                "failure": leak, "t0": 0.0, "t": 0.0}],
            "control": {"dns": {"failure": null, "addrs": ["93.184.216.34"]},
                "tcp_connect": {"93.184.216.34:443": {"status": false, "failure": leak}},
                "tls_handshake": {}, "http_request": {"body_length": -1, "failure": leak, "title": "", "headers": {}, "status_code": 0},
                "ip_info": {}},
            "control_failure": leak,
            "dns_experiment_failure": leak,
            "dns_consistency": null,
            "http_experiment_failure": leak,
            "body_length_match": null, "body_proportion": null, "status_code_match": null, "headers_match": null,
            "title_match": null, "blocking": null, "accessible": null, "mechanism": null, "x_confirmed": false,
            "x_reasons": [format!("the request failed ({leak})"), "udp 9.9.9.9:53: answer 93.184.216.34".to_string()]
        });
        let mut keys: WebKeys = serde_json::from_value(json).unwrap();
        keys.scrub_free_text();
        let text = serde_json::to_string(&keys).unwrap();
        assert!(!text.contains("192.168.1.50"), "{text}");
        assert_eq!(text.matches(scrubbed).count(), 10, "every free-text field: {text}");
        assert_eq!(keys.tcp_connect[0].ip, "93.184.216.34");
        assert_eq!(keys.x_reasons[1], "udp 9.9.9.9:53: answer 93.184.216.34", "the resolver asked is published anyway");
    }

    #[test]
    fn platform_reasons_are_scrubbed_but_the_connected_address_stays() {
        let mut keys = PlatformKeys {
            platform: "controls".into(),
            kind: "control".into(),
            status: crate::PlatformStatus::NetworkDown,
            mechanism: None,
            endpoints: Vec::new(),
            reasons: vec![
                "tcpconnect://a.test:443: tcp 93.184.216.34:443: connection_refused".into(),
                "check task failed: bind 192.168.1.7:5000 via fe80::1%wlan0".into(),
            ],
        };
        keys.scrub_free_text(&["93.184.216.34".parse().unwrap()].into());
        assert_eq!(keys.reasons[0], "tcpconnect://a.test:443: tcp 93.184.216.34:443: connection_refused");
        assert_eq!(keys.reasons[1], "check task failed: bind [scrubbed]:5000 via [scrubbed]");
    }

    #[test]
    fn the_controls_own_answer_is_scrubbed_but_its_measured_addresses_stay() {
        let leak = "unknown_failure: connect 93.184.216.34:443 from 10.1.2.3:5000 via fd00::7";
        let mut c: ControlResponse = serde_json::from_value(serde_json::json!({
            "dns": {"failure": null, "addrs": ["93.184.216.34"]},
            "tcp_connect": {"93.184.216.34:443": {"status": false, "failure": leak}},
            "tls_handshake": {"[2606:2800:220:1::1]:443": {"server_name": "x.test", "status": false, "failure": leak}},
            "http_request": {"body_length": -1, "failure": leak, "title": "", "headers": {}, "status_code": -1},
            "ip_info": {}
        }))
        .unwrap();
        c.scrub_own_free_text();
        let want = "unknown_failure: connect 93.184.216.34:443 from [scrubbed]:5000 via [scrubbed]";
        assert_eq!(c.tcp_connect["93.184.216.34:443"].failure.as_deref(), Some(want));
        assert_eq!(c.tls_handshake["[2606:2800:220:1::1]:443"].failure.as_deref(), Some(want));
        assert_eq!(c.http_request.unwrap().failure.as_deref(), Some(want));
    }
}
