//! The verdict: turns one endpoint's recorded observations (DNS, TCP, TLS, HTTP, control) into
//! OONI's `blocking`/`accessible` and Vigil's finer `mechanism`, without touching a socket.
//!
//! Rules follow OONI Web Connectivity (see `docs/measurement-format.md` and
//! ../shared/brief/measurement.md); where OONI stops, Vigil adds what the probe can prove alone:
//! DNS injection, known injected answers, bogons and NXDOMAIN against the DoH reference, known
//! blockpages, and SNI filtering shown by the SNI-swap control.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use vigil_report::{Blocking, DnsQuery, Failure, Mechanism, WebKeys};

use crate::bogon::Scope;

mod http_compare;
#[cfg(test)]
mod tests;

pub use http_compare::{body_proportion, headers_match, title_match};

/// A fingerprint that matched, as the classifier needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpHit {
    pub name: String,
    /// The match alone proves blocking in this country (see `fingerprint`).
    pub confirmed: bool,
    /// A national or ISP row: with a difference from the control it proves blocking anywhere.
    pub wide: bool,
}

/// Known blocking fingerprints, behind a trait so tests can supply their own.
pub trait FingerprintLookup {
    fn dns(&self, ip: IpAddr, probe_cc: &str) -> Option<FpHit>;
    fn http(&self, body: &str, headers: &BTreeMap<String, String>, probe_cc: &str) -> Vec<FpHit>;
}

/// What kind of endpoint was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Https,
    Http,
    /// `tcpconnect://host:port`: DNS and TCP only.
    Tcp,
}

/// Everything the classifier needs besides the observations.
pub struct Context<'a> {
    pub target: Target,
    /// The hostname in ASCII form (None for IP literals).
    pub host: Option<&'a str>,
    pub port: u16,
    pub probe_cc: &'a str,
    pub fingerprints: &'a dyn FingerprintLookup,
    pub scope: &'a Scope,
}

/// The verdict fields, written into `WebKeys` by [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub blocking: Blocking,
    pub accessible: Option<bool>,
    pub mechanism: Option<Mechanism>,
    pub confirmed: bool,
    pub reasons: Vec<String>,
}

impl Verdict {
    fn new(blocking: Blocking, accessible: Option<bool>) -> Self {
        Verdict { blocking, accessible, mechanism: None, confirmed: false, reasons: Vec::new() }
    }

    fn blocked(blocking: Blocking, mechanism: Mechanism, confirmed: bool, reason: String) -> Self {
        Verdict { blocking, accessible: Some(false), mechanism: Some(mechanism), confirmed, reasons: vec![reason] }
    }

    fn because(mut self, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        if !reason.is_empty() {
            self.reasons.push(reason);
        }
        self
    }
}

/// Classify `keys` in place: fills the comparison keys, `blocking`, `accessible`, `mechanism`,
/// `x_confirmed`, `x_fingerprints` and `x_reasons`.
pub fn apply(keys: &mut WebKeys, ctx: &Context) {
    let dns = analyse_dns(keys, ctx);
    keys.dns_consistency = dns.consistency.map(|c| if c { "consistent" } else { "inconsistent" }.into());
    keys.dns_experiment_failure = dns.failure.clone();
    keys.x_fingerprints = dns.fingerprints.clone();
    compare_http(keys);
    let http_hits = blockpage_hits(keys, ctx);
    keys.x_fingerprints.extend(http_hits.iter().map(|h| h.name.clone()));
    let verdict = decide(keys, ctx, &dns, &http_hits);
    keys.blocking = verdict.blocking;
    keys.accessible = verdict.accessible;
    keys.mechanism = verdict.mechanism;
    keys.x_confirmed = verdict.confirmed;
    keys.x_reasons = verdict.reasons;
}

/// What the DNS records say.
#[derive(Debug, Default)]
struct DnsFindings {
    /// Some(true/false) when there was a reference to compare with.
    consistency: Option<bool>,
    /// The probe's resolution failed (every probe-side resolver failed).
    failure: Option<Failure>,
    /// The strongest tampering mechanism seen, with whether the probe proved it alone.
    tampering: Option<(Mechanism, bool, String)>,
    fingerprints: Vec<String>,
}

/// One piece of DNS tampering evidence.
struct Finding {
    mechanism: Mechanism,
    /// Proven by the probe alone.
    proven: bool,
    /// From the system resolver (coarser failure labels than a UDP query's).
    system: bool,
    reason: String,
}

fn is_probe_side(q: &DnsQuery) -> bool {
    q.engine == "system" || q.engine == "udp"
}

fn addrs_of(q: &DnsQuery) -> impl Iterator<Item = IpAddr> + '_ {
    q.answers.iter().filter_map(|a| a.ip())
}

/// Did this UDP query receive two different answers (on-path injection)?
pub fn injected(q: &DnsQuery) -> bool {
    let mut seen = q.x_responses.iter().map(|r| {
        let set: BTreeSet<&String> = r.addrs.iter().collect();
        (r.rcode.as_str(), set)
    });
    match seen.next() {
        Some(first) => seen.any(|other| other != first),
        None => false,
    }
}

fn analyse_dns(keys: &WebKeys, ctx: &Context) -> DnsFindings {
    let mut out = DnsFindings::default();
    let Some(host) = ctx.host else { return out };
    // Group probe-side queries by resolver (A and AAAA of one resolver belong together).
    let mut resolvers: BTreeMap<(&str, &str), Vec<&DnsQuery>> = BTreeMap::new();
    // Queries for other names (redirect targets, resolved as the fetch followed them) are not
    // compared with the reference, which is this name's; they still count as evidence that needs
    // no reference (injection, known injected answers).
    let mut hops: BTreeMap<(&str, &str, &str), Vec<&DnsQuery>> = BTreeMap::new();
    for q in keys.queries.iter().filter(|q| is_probe_side(q)) {
        if same_name(&q.hostname, host) {
            resolvers.entry((q.engine.as_str(), q.resolver_address.as_str())).or_default().push(q);
        } else {
            hops.entry((q.engine.as_str(), q.resolver_address.as_str(), q.hostname.as_str())).or_default().push(q);
        }
    }
    if resolvers.is_empty() {
        return out;
    }
    let control_dns = keys.control.as_ref().map(|c| &c.dns);
    let doh: Vec<&DnsQuery> = keys.queries.iter().filter(|q| q.engine == "doh").collect();
    let doh_addrs: BTreeSet<IpAddr> = doh.iter().flat_map(|q| addrs_of(q)).collect();
    let mut reference: BTreeSet<IpAddr> = doh_addrs.clone();
    if let Some(c) = control_dns {
        reference.extend(c.addrs.iter().filter_map(|a| a.parse::<IpAddr>().ok()));
    }
    let reference_public = reference.iter().any(|ip| !ctx.scope.is_bogon(*ip));
    let have_reference = keys.control.is_some() || !doh.is_empty();
    let control_failure = control_dns.and_then(|c| c.failure.as_deref());
    let control_nxdomain = control_failure.is_some_and(|f| f == Failure::DnsNxdomain.label());
    // The control found no address for the name, whether it does not exist or has no A/AAAA
    // record (a CNAME alone): a user anywhere gets nothing to connect to. getaddrinfo cannot tell
    // the two apart (glibc reports EAI_NONAME for both), so either "no address" failure on the
    // probe's side agrees with either on the control's.
    let control_no_address = control_failure
        .is_some_and(|f| f == Failure::DnsNxdomain.label() || f == Failure::DnsNoAnswer.label())
        && control_dns.is_some_and(|c| c.addrs.is_empty());

    let mut all_failed = true;
    let mut first_failure = None;
    let mut consistent_all = true;
    let mut tampering: Vec<Finding> = Vec::new();
    // A resolver that times out or fails says more about that resolver than about the site: it
    // counts only when no other resolver of this network answered consistently.
    let mut weak: Vec<Finding> = Vec::new();
    let mut some_consistent = false;
    for ((engine, resolver), queries) in &resolvers {
        let system = *engine == "system";
        let who = if resolver.is_empty() { (*engine).to_string() } else { format!("{engine} {resolver}") };
        let addrs: BTreeSet<IpAddr> = queries.iter().flat_map(|q| addrs_of(q)).collect();
        unreferenced_evidence(queries, &who, system, &reference, ctx, &mut out.fingerprints, &mut tampering);
        if addrs.is_empty() {
            let failure = queries
                .iter()
                .find_map(|q| q.failure.clone().filter(|f| *f != Failure::DnsNoAnswer))
                .unwrap_or(Failure::DnsNoAnswer);
            if first_failure.is_none() {
                first_failure = Some(failure.clone());
            }
            if !reference.is_empty() {
                let reason = format!("{who}: {failure} while the reference resolved {host}");
                match failure {
                    // The resolver denied the name: a DoH answer proves it exists; against the
                    // control alone it is OONI's rule.
                    Failure::DnsNxdomain | Failure::DnsNoAnswer => {
                        consistent_all = false;
                        let mechanism = if failure == Failure::DnsNxdomain {
                            Mechanism::DnsNxdomain
                        } else {
                            Mechanism::DnsNoAnswer
                        };
                        tampering.push(Finding { mechanism, proven: !doh_addrs.is_empty(), system, reason });
                    }
                    Failure::GenericTimeout => {
                        weak.push(Finding { mechanism: Mechanism::DnsTimeout, proven: false, system, reason })
                    }
                    _ => weak.push(Finding { mechanism: Mechanism::DnsNoAnswer, proven: false, system, reason }),
                }
            } else if control_no_address {
                // Neither side has an address for the name: consistent, not censorship.
            } else if have_reference && keys.control.is_some() {
                consistent_all = false;
            }
            continue;
        }
        all_failed = false;
        if reference.is_empty() {
            // Nothing to compare with (no control and no DoH answer, or both failed).
            if have_reference && control_nxdomain {
                consistent_all = false;
                tampering.push(Finding {
                    mechanism: Mechanism::DnsInconsistent,
                    proven: false,
                    system,
                    reason: format!("{who}: answered while the control says {host} does not exist"),
                });
            }
            continue;
        }
        if let Some(ip) = addrs.iter().find(|ip| ctx.scope.is_bogon(**ip))
            && reference_public
            && addrs.is_disjoint(&reference)
        {
            consistent_all = false;
            tampering.push(Finding {
                mechanism: Mechanism::DnsBogon,
                proven: !doh_addrs.is_empty(),
                system,
                reason: format!("{who}: bogon answer {ip} while the reference gives public addresses"),
            });
            continue;
        }
        if !addrs.is_disjoint(&reference) || shares_asn(keys, &addrs, &reference) || tls_validated(keys, &addrs, host) {
            some_consistent = true;
            continue;
        }
        consistent_all = false;
        tampering.push(Finding {
            mechanism: Mechanism::DnsInconsistent,
            proven: false,
            system,
            reason: format!("{who}: answers share no address, network or valid certificate with the reference"),
        });
    }
    let nothing = BTreeSet::new();
    for ((engine, resolver, name), queries) in &hops {
        let system = *engine == "system";
        let who =
            if resolver.is_empty() { format!("{engine} ({name})") } else { format!("{engine} {resolver} ({name})") };
        unreferenced_evidence(queries, &who, system, &nothing, ctx, &mut out.fingerprints, &mut tampering);
    }
    if !some_consistent && !weak.is_empty() {
        // Every resolver of this network failed while the reference answered: OONI's DNS
        // blocking.
        consistent_all = false;
        // Not proof on its own: the probe's own router may be the one that is down.
        tampering.extend(weak);
    }
    if all_failed {
        out.failure = first_failure;
    }
    if have_reference && (!reference.is_empty() || keys.control.is_some()) {
        out.consistency = Some(consistent_all && tampering.is_empty());
    } else if !tampering.is_empty() {
        out.consistency = Some(false);
    }
    // Strongest evidence first: proven before unproven, a UDP resolver's precise answer before
    // the system resolver's coarser one (getaddrinfo folds timeouts into EAI_AGAIN), then by
    // mechanism strength.
    tampering.sort_by_key(|f| (!f.proven, f.system, dns_rank(f.mechanism)));
    out.tampering = tampering.into_iter().next().map(|f| (f.mechanism, f.proven, f.reason));
    out
}

/// Evidence of DNS tampering that needs no reference, from one resolver's queries for one name:
/// two different answers to one query (injection) and known injected answers. An answer in
/// `reference` (what the uncensored view also gets) is the site's own DNS, not injection,
/// whatever list it is on (e.g. a site that resolves to 127.0.0.1 everywhere).
fn unreferenced_evidence(
    queries: &[&DnsQuery],
    who: &str,
    system: bool,
    reference: &BTreeSet<IpAddr>,
    ctx: &Context,
    fingerprints: &mut Vec<String>,
    tampering: &mut Vec<Finding>,
) {
    for q in queries.iter().filter(|q| injected(q)) {
        tampering.push(Finding {
            mechanism: Mechanism::DnsInjection,
            proven: true,
            system,
            reason: format!("{who}: two different answers to one {} query (on-path injection)", q.query_type),
        });
    }
    let all_seen = queries
        .iter()
        .flat_map(|q| q.x_responses.iter().flat_map(|r| r.addrs.iter()))
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .chain(queries.iter().flat_map(|q| addrs_of(q)));
    let mut done = BTreeSet::new();
    for ip in all_seen {
        if reference.contains(&ip) || !done.insert(ip) {
            continue;
        }
        if let Some(hit) = ctx.fingerprints.dns(ip, ctx.probe_cc) {
            if !fingerprints.contains(&hit.name) {
                fingerprints.push(hit.name.clone());
            }
            tampering.push(Finding {
                mechanism: Mechanism::DnsKnownBlockpageIp,
                proven: hit.confirmed,
                system,
                reason: format!("{who}: answer {ip} is a known injected address ({})", hit.name),
            });
        }
    }
}

/// Whether a recorded query name is the measured host (`host` is ASCII; a query may carry the
/// name as typed, in Unicode, or with a final dot).
fn same_name(name: &str, host: &str) -> bool {
    let trim = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (name, host) = (trim(name), trim(host));
    name == host || url::Host::parse(&name).is_ok_and(|h| h.to_string() == host)
}

/// The final hop failed because its host (a redirect target other than the measured host) did not
/// resolve on this network: the mechanism, the hop's host and the failure.
fn redirect_dns_failure(keys: &WebKeys, ctx: &Context) -> Option<(Mechanism, String, Failure)> {
    let host = ctx.host?;
    let last = keys.requests.first()?;
    last.failure.as_ref()?;
    let hop = url::Url::parse(&last.request.url).ok()?.host_str()?.to_string();
    if same_name(&hop, host) {
        return None;
    }
    let queries: Vec<&DnsQuery> =
        keys.queries.iter().filter(|q| is_probe_side(q) && same_name(&q.hostname, &hop)).collect();
    if queries.is_empty() || queries.iter().any(|q| addrs_of(q).next().is_some()) {
        return None;
    }
    // A UDP resolver's precise failure before the system resolver's coarser one.
    let failure = queries
        .iter()
        .filter(|q| q.engine != "system")
        .chain(queries.iter().filter(|q| q.engine == "system"))
        .find_map(|q| q.failure.clone().filter(|f| *f != Failure::DnsNoAnswer))
        .unwrap_or(Failure::DnsNoAnswer);
    let mechanism = match failure {
        Failure::DnsNxdomain => Mechanism::DnsNxdomain,
        Failure::GenericTimeout => Mechanism::DnsTimeout,
        _ => Mechanism::DnsNoAnswer,
    };
    Some((mechanism, hop, failure))
}

fn dns_rank(m: Mechanism) -> u8 {
    match m {
        Mechanism::DnsInjection => 0,
        Mechanism::DnsKnownBlockpageIp => 1,
        Mechanism::DnsBogon => 2,
        Mechanism::DnsNxdomain => 3,
        Mechanism::DnsNoAnswer => 4,
        Mechanism::DnsTimeout => 5,
        _ => 6,
    }
}

fn shares_asn(keys: &WebKeys, probe: &BTreeSet<IpAddr>, reference: &BTreeSet<IpAddr>) -> bool {
    let Some(control) = &keys.control else { return false };
    let asn = |ip: &IpAddr| control.ip_info.get(&ip.to_string()).map(|i| i.asn).filter(|a| *a != 0);
    let ours: BTreeSet<u32> = probe.iter().filter_map(asn).collect();
    reference.iter().filter_map(asn).any(|a| ours.contains(&a))
}

/// A TLS handshake with the right SNI that validated on one of these addresses proves they serve
/// the real site (OONI counts such an address as consistent).
fn tls_validated(keys: &WebKeys, addrs: &BTreeSet<IpAddr>, host: &str) -> bool {
    keys.tls_handshakes.iter().any(|h| {
        h.failure.is_none()
            && !h.no_tls_verify
            && h.server_name.eq_ignore_ascii_case(host)
            && address_ip(&h.address).is_some_and(|ip| addrs.contains(&ip))
    })
}

/// The IP of an `ip:port` / `[v6]:port` address.
pub fn address_ip(address: &str) -> Option<IpAddr> {
    address.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

/// Fill OONI's HTTP comparison keys from the final response and the control's.
fn compare_http(keys: &mut WebKeys) {
    let control = keys.control.as_ref().and_then(|c| c.http_request.as_ref()).filter(|h| h.failure.is_none());
    let response = page_tx(&keys.requests).and_then(|t| t.response.as_ref());
    let (Some(control), Some(response)) = (control, response) else { return };
    keys.status_code_match = Some(i64::from(response.code) == control.status_code);
    if !response.body_is_truncated && control.body_length >= 0 {
        let p = body_proportion(response.body_length, control.body_length as u64);
        keys.body_proportion = Some(p);
        keys.body_length_match = Some(p > 0.7);
    }
    keys.headers_match = Some(headers_match(&text_headers(&response.headers), &control.headers));
    keys.title_match = title_match(response.title.as_deref().unwrap_or(""), &control.title);
}

/// A text view of received header values, for comparison and matching only (the record keeps
/// the bytes).
fn text_headers(headers: &BTreeMap<String, vigil_report::MaybeBinary>) -> BTreeMap<String, String> {
    headers.iter().map(|(k, v)| (k.clone(), v.text().into_owned())).collect()
}

/// The hop that ends the redirect chain, as the control sees it: the newest request that is not a
/// forward the probe followed from a page (meta refresh, script, frame: `http::fetch`), which the
/// control does not follow. A forward's target is searched for fingerprints, never compared.
fn page_tx(requests: &[vigil_report::HttpTransaction]) -> Option<&vigil_report::HttpTransaction> {
    let is_redirect = |t: &vigil_report::HttpTransaction| {
        t.response.as_ref().is_some_and(|r| matches!(r.code, 301 | 302 | 303 | 307 | 308))
    };
    // Requests are newest first; the redirect chain the control also follows ends at the oldest
    // hop that is not a redirect (forwards start only from such a page).
    requests.iter().rev().find(|t| !is_redirect(t)).or(requests.first())
}

/// Whether the final response differs from the control's (OONI's http-diff: NOT(status match AND
/// (body, headers or title match))); None without a control response or a response to compare.
fn http_differs_from_control(keys: &WebKeys) -> Option<bool> {
    let status = keys.status_code_match?;
    let similar =
        keys.body_length_match == Some(true) || keys.headers_match == Some(true) || keys.title_match == Some(true);
    Some(!(status && similar))
}

/// Blockpage fingerprints in any hop of the redirect chain (a redirect to a blockpage shows in
/// `header.location`, an injected page in the body).
fn blockpage_hits(keys: &WebKeys, ctx: &Context) -> Vec<FpHit> {
    let mut hits: Vec<FpHit> = Vec::new();
    for response in keys.requests.iter().filter_map(|t| t.response.as_ref()) {
        let text = crate::http::page_text(&response.body, &response.headers);
        for hit in ctx.fingerprints.http(&text, &text_headers(&response.headers), ctx.probe_cc) {
            if !hits.iter().any(|h| h.name == hit.name) {
                hits.push(hit);
            }
        }
    }
    hits
}

fn decide(keys: &WebKeys, ctx: &Context, dns: &DnsFindings, http_hits: &[FpHit]) -> Verdict {
    let has_control = keys.control.is_some();
    let control = keys.control.as_ref();
    let control_http = control.and_then(|c| c.http_request.as_ref());
    let control_http_ok = control_http.is_some_and(|h| h.failure.is_none());
    let control_tcp_ok = control.is_some_and(|c| c.tcp_connect.values().any(|t| t.status)) || control_http_ok;
    // Without a control, DoH answers that merely differ (CDNs answer per location) prove nothing:
    // only proven tampering may relabel other failures as DNS blocking.
    let proven_dns = matches!(dns.tampering, Some((_, true, _)));
    let dns_inconsistent = dns.consistency == Some(false) && (has_control || proven_dns);
    let dns_verdict = |extra: &str| {
        let (mech, proven, reason) = dns.tampering.clone().unwrap_or((
            Mechanism::DnsInconsistent,
            false,
            "DNS answers are inconsistent with the control".to_string(),
        ));
        Verdict::blocked(Blocking::Dns, mech, proven, reason).because(extra)
    };

    // 1. A known blockpage anywhere in the chain is HTTP blocking (OONI: http-diff), unless the DNS
    //    already pointed us at it, which is DNS blocking.
    //    Scope: a hit confirms alone in its row's countries; a national or ISP row elsewhere
    //    confirms with a difference from the control; and no hit, not even one in its row's
    //    country, is evidence on the page the control gets too (a news article quoting a
    //    blockpage, a CDN's challenge the control was shown as well): that page is the site's own.
    let differs = http_differs_from_control(keys);
    let confirms = |h: &FpHit| h.confirmed || (h.wide && differs == Some(true));
    let evidence = http_hits.iter().filter(|_| differs != Some(false));
    if let Some(hit) = evidence.max_by_key(|h| confirms(h)) {
        if dns_inconsistent {
            return dns_verdict(&format!("the address served a known blockpage ({})", hit.name));
        }
        let reason = format!("the response matches the known blockpage {}", hit.name);
        return Verdict::blocked(Blocking::HttpDiff, Mechanism::HttpBlockpage, confirms(hit), reason);
    }

    // 2. Proven DNS tampering stands on its own, whatever else happened.
    if let Some((_, true, _)) = &dns.tampering {
        return dns_verdict("");
    }

    // 3. DNS gave nothing to connect to.
    if let Some(failure) = &dns.failure {
        if !has_control && dns.tampering.is_none() {
            return Verdict::new(Blocking::Unknown, None)
                .because(format!("DNS failed ({failure}) and there is no control to compare with"));
        }
        if dns_inconsistent {
            return dns_verdict("");
        }
        return Verdict::new(Blocking::No, Some(false))
            .because(format!("DNS failed ({failure}) for the control too: the name does not resolve anywhere"));
    }

    let probe_ips: BTreeSet<IpAddr> = keys.queries.iter().filter(|q| is_probe_side(q)).flat_map(addrs_of).collect();
    let probe_tcp: Vec<_> = keys
        .tcp_connect
        .iter()
        .filter(|c| c.port == ctx.port)
        .filter(|c| ctx.host.is_none() || c.ip.parse().is_ok_and(|ip: IpAddr| probe_ips.contains(&ip)))
        .collect();
    let tcp_ok = probe_tcp.iter().any(|c| c.status.success);

    // The name resolves, consistently with the uncensored view, only to addresses no one outside
    // can reach (127.0.0.1, 10/8...): a misconfigured site, not censorship (OONI: false/false).
    // The uncensored view is the control or, without one, the DoH reference (a consistency
    // verdict needs one of them); Vigil's control refuses such a target outright
    // (`target_not_public`), leaving DoH as the witness.
    // (The fetch then records one request that could not be made, nothing more.)
    if probe_tcp.is_empty()
        && keys.requests.iter().all(|t| t.response.is_none())
        && dns.consistency == Some(true)
        && !probe_ips.is_empty()
        && probe_ips.iter().all(|ip| ctx.scope.is_bogon(*ip))
    {
        let listed: Vec<String> = probe_ips.iter().map(IpAddr::to_string).collect();
        return Verdict::new(Blocking::No, Some(false)).because(format!(
            "the name resolves to non-public addresses ({}) for the uncensored view too: a misconfigured site",
            listed.join(", ")
        ));
    }

    // 4. TCP: nothing connected.
    if !probe_tcp.is_empty() && !tcp_ok {
        if dns_inconsistent {
            return dns_verdict("and TCP connect failed on the addresses it gave");
        }
        let failure = probe_tcp[0].status.failure.clone().unwrap_or(Failure::GenericTimeout);
        let control_same = probe_tcp
            .iter()
            .any(|c| control.and_then(|ctl| ctl.tcp_connect.get(&endpoint(&c.ip, c.port))).is_some_and(|t| t.status));
        if control_same || control_tcp_ok {
            let mech = match failure {
                Failure::ConnectionRefused => Mechanism::TcpIpRefused,
                Failure::HostUnreachable | Failure::NetworkUnreachable => Mechanism::TcpIpUnreachable,
                _ => Mechanism::TcpIpBlackhole,
            };
            let reason = format!("TCP connect failed ({failure}) on every address while the control connected");
            return Verdict::blocked(Blocking::TcpIp, mech, false, reason);
        }
        if has_control {
            return Verdict::new(Blocking::No, Some(false))
                .because(format!("TCP connect failed ({failure}) for the control too: the site is down"));
        }
        return Verdict::new(Blocking::Unknown, None)
            .because(format!("TCP connect failed ({failure}); without a control this may be blocking or an outage"));
    }
    if probe_tcp.is_empty() && ctx.target != Target::Tcp && keys.requests.is_empty() {
        return Verdict::new(Blocking::Unknown, None).because("no address could be measured");
    }

    if ctx.target == Target::Tcp {
        if tcp_ok {
            return Verdict::new(Blocking::No, Some(true)).because("TCP connect succeeded");
        }
        return Verdict::new(Blocking::Unknown, None).because("no address could be measured");
    }

    // 5. TLS (https): the handshake with the real SNI, and the SNI-swap control.
    let tls = if ctx.target == Target::Https { tls_finding(keys, ctx, control, &probe_ips) } else { None };

    // 6. The HTTP outcome.
    let final_tx = page_tx(&keys.requests);
    let final_failure = final_tx.and_then(|t| t.failure.clone());
    if final_tx.is_none() || final_failure.is_some() {
        let failure = final_failure.unwrap_or(Failure::unknown("no HTTP request was made"));
        if dns_inconsistent {
            return dns_verdict(&format!("and the request failed ({failure})"));
        }
        if let Some(v) = tls {
            return v;
        }
        // A redirect led to a name this network does not resolve while the control, following
        // the same redirects, fetched the page: DNS blocking at that hop (OONI: "dns").
        if control_http_ok && let Some((mechanism, hop, dns_failure)) = redirect_dns_failure(keys, ctx) {
            let reason = format!(
                "the redirect target {hop} did not resolve ({dns_failure}) while the control followed the redirects and fetched the page"
            );
            return Verdict::blocked(Blocking::Dns, mechanism, false, reason);
        }
        if control_http_ok {
            let mech = match failure {
                Failure::ConnectionReset => Mechanism::HttpReset,
                Failure::GenericTimeout => Mechanism::HttpTimeout,
                Failure::Eof => Mechanism::HttpEof,
                ref f if f.is_certificate() => Mechanism::TlsCertificate,
                _ => Mechanism::HttpFailure,
            };
            let reason = format!("the request failed ({failure}) while the control fetched the page");
            return Verdict::blocked(Blocking::HttpFailure, mech, false, reason);
        }
        if has_control {
            return Verdict::new(Blocking::No, Some(false))
                .because(format!("the request failed ({failure}) and the control failed too: not censorship"));
        }
        return Verdict::new(Blocking::Unknown, None)
            .because(format!("the request failed ({failure}); without a control the cause is unknown"));
    }

    // 7. A response arrived.
    // An HTTPS response whose certificate validated is the real site (OONI's override), whatever
    // its content looks like next to the control's.
    // Only when the input was HTTPS or the final hop is the same host: an http:// input redirected
    // to some other HTTPS site (an ISP's blockpage with a valid certificate) proves nothing.
    let same_site = |t: &vigil_report::HttpTransaction| {
        ctx.target == Target::Https
            || url::Url::parse(&t.request.url).ok().and_then(|u| u.host_str().map(str::to_string)).as_deref()
                == ctx.host
    };
    if final_tx.is_some_and(|t| t.request.url.starts_with("https://") && same_site(t)) {
        return Verdict::new(Blocking::No, Some(true))
            .because("an HTTPS response with a validated certificate arrived");
    }
    match (control_http_ok, http_diff(keys)) {
        (true, true) if dns_inconsistent => dns_verdict("and the page differs from the control's"),
        (true, true) => Verdict::blocked(
            Blocking::HttpDiff,
            Mechanism::HttpDiff,
            false,
            "the page differs from the control's (status, body, headers and title)".into(),
        ),
        (true, false) => Verdict::new(Blocking::No, Some(true)).because("the page matches the control's"),
        (false, _) if has_control => Verdict::new(Blocking::Unknown, None)
            .because("a response arrived but the control could not fetch the page to compare"),
        (false, _) => Verdict::new(Blocking::Unknown, None)
            .because("a plain-HTTP response arrived; without a control it cannot be compared"),
    }
}

fn endpoint(ip: &str, port: u16) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{ip}]:{port}"),
        _ => format!("{ip}:{port}"),
    }
}

/// OONI: http-diff = NOT(status_match AND (body_match OR headers_match OR title_match)).
fn http_diff(keys: &WebKeys) -> bool {
    let yes = |v: Option<bool>| v == Some(true);
    !(yes(keys.status_code_match) && (yes(keys.body_length_match) || yes(keys.headers_match) || yes(keys.title_match)))
}

/// When every handshake with the real SNI failed: what the SNI-swap and the control say.
fn tls_finding(
    keys: &WebKeys,
    ctx: &Context,
    control: Option<&vigil_report::ControlResponse>,
    probe_ips: &BTreeSet<IpAddr>,
) -> Option<Verdict> {
    let host = ctx.host?;
    // Only the addresses this network's resolvers gave: the reference's extra addresses say
    // whether the real edge answers, not what a user here gets.
    let real: Vec<_> = keys
        .tls_handshakes
        .iter()
        .filter(|h| !h.x_sni_swap && h.server_name.eq_ignore_ascii_case(host))
        .filter(|h| address_ip(&h.address).is_some_and(|ip| probe_ips.contains(&ip)))
        .collect();
    if real.is_empty() || real.iter().any(|h| h.failure.is_none()) {
        return None;
    }
    let failure = real[0].failure.clone().unwrap_or(Failure::SslFailedHandshake);
    let control_tls_ok = control.is_some_and(|c| {
        c.tls_handshake.values().any(|t| t.status) || c.http_request.as_ref().is_some_and(|h| h.failure.is_none())
    });
    if failure.is_certificate() {
        if control_tls_ok {
            let reason = format!("the certificate did not validate ({failure}) while the control's did: interception");
            return Some(Verdict::blocked(Blocking::HttpFailure, Mechanism::TlsCertificate, false, reason));
        }
        if control.is_some() {
            return Some(Verdict::new(Blocking::No, Some(false)).because(format!(
                "the certificate did not validate ({failure}) for the control either: a misconfigured site"
            )));
        }
        return Some(
            Verdict::new(Blocking::Unknown, Some(false))
                .because(format!("the certificate did not validate ({failure}); no control to compare with")),
        );
    }
    // Reset, timeout or EOF after the ClientHello: did another SNI to the same address work?
    let swap_clean = real.iter().any(|h| {
        keys.tls_handshakes.iter().any(|s| {
            s.x_sni_swap
                && s.address == h.address
                && (s.failure.is_none() || s.failure == Some(Failure::SslFailedHandshake))
        })
    });
    // Only a connection cut after the ClientHello (reset, silence, FIN) is a censor's signature; a
    // TLS alert is the server itself refusing, e.g. a protocol rustls does not speak.
    let cut = matches!(failure, Failure::ConnectionReset | Failure::GenericTimeout | Failure::Eof);
    if swap_clean && cut {
        let mech = match failure {
            Failure::ConnectionReset => Mechanism::TlsSniReset,
            Failure::GenericTimeout => Mechanism::TlsSniTimeout,
            Failure::Eof => Mechanism::TlsSniEof,
            _ => Mechanism::TlsFailure,
        };
        let reason = format!(
            "the TLS handshake with SNI {host} failed ({failure}) while another SNI to the same address succeeded"
        );
        return Some(Verdict::blocked(Blocking::HttpFailure, mech, true, reason));
    }
    if control_tls_ok {
        let reason = format!("the TLS handshake failed ({failure}) whatever the SNI, while the control completed it");
        return Some(Verdict::blocked(Blocking::HttpFailure, Mechanism::TlsFailure, false, reason));
    }
    None
}

impl FingerprintLookup for crate::fingerprint::Fingerprints {
    fn dns(&self, ip: IpAddr, probe_cc: &str) -> Option<FpHit> {
        self.match_dns(ip, probe_cc).map(|m| FpHit {
            name: m.name().to_string(),
            confirmed: m.confirmed,
            wide: m.fingerprint.confirms_with_control_difference(),
        })
    }

    fn http(&self, body: &str, headers: &BTreeMap<String, String>, probe_cc: &str) -> Vec<FpHit> {
        use crate::fingerprint::FpScope;
        // Known false positives (a CDN's own CAPTCHA or error page) and vague words are not
        // evidence of blocking.
        self.match_http(body, headers, probe_cc)
            .into_iter()
            .filter(|m| !matches!(m.fingerprint.scope, FpScope::FalsePositive | FpScope::Vague))
            .map(|m| FpHit {
                name: m.name().to_string(),
                confirmed: m.confirmed,
                wide: m.fingerprint.confirms_with_control_difference(),
            })
            .collect()
    }
}
