//! Data in words, in the reader's language: states, event kinds, mechanisms, scopes, durations,
//! and UTC times (always written `YYYY-MM-DD HH:MM UTC`, digits left to right in every language).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::i18n::Lang;
use crate::model::{Event, Scope, State};

/// `2026-12-04T02:00:00Z` (the `datetime` attribute; empty outside 1970..9999).
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| d.format(&Rfc3339).ok()).unwrap_or_default()
}

/// `2026-12-04 02:00` (UTC).
pub fn utc_minutes(t: i64) -> String {
    let s = rfc3339(t);
    s.get(..16).map(|s| s.replace('T', " ")).unwrap_or(s)
}

/// `2026-12-04` (UTC).
pub fn utc_day(t: i64) -> String {
    rfc3339(t).get(..10).unwrap_or_default().to_string()
}

/// A duration in whole minutes, hours and days: `2 d 3 h`, `45 min`.
pub fn duration(lang: &Lang, secs: i64) -> String {
    let m = (secs.max(0) + 30) / 60;
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(lang.f("dur_days", &[("n", &d)]));
    }
    if h > 0 {
        parts.push(lang.f("dur_hours", &[("n", &h)]));
    }
    if min > 0 && d == 0 {
        parts.push(lang.f("dur_minutes", &[("n", &min)]));
    }
    if parts.is_empty() {
        return lang.f("dur_minutes", &[("n", &0)]);
    }
    parts.join(" ")
}

/// A state in words (the legend, the tables).
pub fn state(lang: &Lang, s: State) -> &str {
    lang.t(match s {
        State::Shutdown => "state_shutdown",
        State::BlockedDns => "state_blocked_dns",
        State::BlockedTcpIp => "state_blocked_tcp_ip",
        State::BlockedTlsSni => "state_blocked_tls_sni",
        State::BlockedHttp => "state_blocked_http",
        State::Throttled => "state_throttled",
        State::Anomaly => "state_anomaly",
        State::Reachable => "state_reachable",
        State::CollectorDown => "state_collector_down",
        State::NoData => "state_no_data",
    })
}

/// A translated label for a stable code (`kind_`, `status_`, `mech_`, `family_` prefixes); the
/// code itself when no translation has it (a newer collector's label).
pub fn code(lang: &Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}{code}");
    let t = lang.t(&key);
    if t == key { code.to_string() } else { t.to_string() }
}

/// `XA`, `XA · AS64496`.
pub fn scope(s: &Scope) -> String {
    match s.asn {
        Some(a) => format!("{} · AS{a}", s.cc),
        None => s.cc.clone(),
    }
}

/// The place an event is in, in words: `XA (national)` or `AS64496 (XA)`.
pub fn place(lang: &Lang, s: &Scope) -> String {
    match s.asn {
        Some(a) => lang.f("place_asn", &[("asn", &a), ("cc", &s.cc)]),
        None => lang.f("place_country", &[("cc", &s.cc)]),
    }
}

/// What happened: `Blocking of whatsapp`, `Shutdown (all platforms)`.
pub fn what(lang: &Lang, e: &Event) -> String {
    let kind = code(lang, "kind_", &e.kind);
    match e.platforms.as_slice() {
        [] => lang.f("what_all", &[("kind", &kind)]),
        ps => lang.f("what_of", &[("kind", &kind), ("platforms", &ps.join(", "))]),
    }
}

/// The event's title: `Blocking of whatsapp in AS64496 (XA)`.
pub fn title(lang: &Lang, e: &Event) -> String {
    lang.f("event_title", &[("what", &what(lang, e)), ("place", &place(lang, &e.scope))])
}

/// How: the mechanism, the throttled rate, or both (a throttle's rate and how it acted).
pub fn how(lang: &Lang, e: &Event) -> Option<String> {
    let rate = e.rate_kbps.map(|r| lang.f("rate_kbps", &[("n", &format!("{r:.0}"))]));
    match (e.mechanism.as_deref().map(|m| code(lang, "mech_", m)), rate) {
        (Some(m), Some(r)) => Some(format!("{r} · {m}")),
        (m, r) => m.or(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::by_code;

    #[test]
    fn times_and_durations() {
        assert_eq!(utc_minutes(1_740_960_000 + 3660), "2025-03-03 01:01");
        assert_eq!(utc_day(1_740_960_000), "2025-03-03");
        assert_eq!(rfc3339(1_740_960_000), "2025-03-03T00:00:00Z");
        let en = by_code("en").unwrap();
        assert_eq!(duration(en, 45 * 60), "45 min");
        assert_eq!(duration(en, 3 * 3600 + 120), "3 h 2 min");
        assert_eq!(duration(en, 2 * 86_400 + 3600 + 60), "2 d 1 h");
        assert_eq!(duration(en, 0), "0 min");
        assert_eq!(code(en, "mech_", "dns_injection"), "DNS injection (forged answers)");
        assert_eq!(code(en, "mech_", "quantum_tunnel"), "quantum_tunnel");
        assert!(by_code("ar").unwrap().t("state_shutdown") != en.t("state_shutdown"));
    }
}
