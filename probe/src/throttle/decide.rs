//! The decision, without sockets: one arm's target transfers against its control transfers
//! ([`decide_arm`]), the early stop ([`clean_pairs`]), and a run's verdict from its arms and the
//! confirmation rerun ([`combine`]). Rules and thresholds: `docs/throttling.md`.

use vigil_report::{ThrottleArm, ThrottleMechanism, ThrottleTransfer, ThrottleVerdict};

use super::stats::{mann_whitney_less, median};
use super::transfer::SKIP_BYTES;

/// The thresholds of the decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gates {
    pub alpha: f64,
    /// Throttled only at a median ratio at most this.
    pub throttled_ratio: f64,
    /// Severe at most this.
    pub severe_ratio: f64,
    /// Ok above this.
    pub ok_ratio: f64,
    /// The control goodput a throttled verdict needs.
    pub min_control_kbps: f64,
    /// Handshake throttling: the target's median handshake over the control's at least this ...
    pub handshake_factor: f64,
    /// ... and longer by at least this (ms).
    pub handshake_extra_ms: f64,
    /// A throttled flow whose first 8 KiB came at least this many times faster than its goodput
    /// passed a token bucket's burst (policer); else it was queued from the start (shaper).
    pub policer_burst: f64,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            alpha: 0.05,
            throttled_ratio: 0.5,
            severe_ratio: 0.1,
            ok_ratio: 0.7,
            min_control_kbps: 1000.0,
            handshake_factor: 3.0,
            handshake_extra_ms: 1000.0,
            policer_burst: 4.0,
        }
    }
}

/// Goodputs of the transfers that measured one: a transfer that hit the cap before its first
/// byte counts as 0; a refused, reset or unauthenticated one has none.
fn goodputs(ts: &[&ThrottleTransfer]) -> Vec<f64> {
    ts.iter().filter_map(|t| t.goodput_kbps).collect()
}

fn handshakes(ts: &[&ThrottleTransfer]) -> Vec<f64> {
    ts.iter().filter_map(|t| t.tls_handshake_ms).collect()
}

/// The first two pairs are clean: each pair's goodput ratio in 0.7-1.4 and no handshake delay.
pub fn clean_pairs(pairs: &[(&ThrottleTransfer, &ThrottleTransfer)], gates: &Gates) -> bool {
    pairs.len() >= 2
        && pairs.iter().take(2).all(|(t, c)| {
            let ratio = match (t.goodput_kbps, c.goodput_kbps) {
                (Some(a), Some(b)) if b > 0.0 && t.failure.is_none() && c.failure.is_none() => a / b,
                _ => return false,
            };
            let (th, ch) = (t.tls_handshake_ms.unwrap_or(f64::INFINITY), c.tls_handshake_ms.unwrap_or(0.0));
            (0.7..=1.4).contains(&ratio) && th < ch * gates.handshake_factor + gates.handshake_extra_ms
        })
}

/// Decide one arm of one pass.
pub fn decide_arm(
    arm: &str,
    pass: u32,
    targets: &[&ThrottleTransfer],
    controls: &[&ThrottleTransfer],
    early_stop: bool,
    gates: &Gates,
) -> ThrottleArm {
    let (tg, cg) = (goodputs(targets), goodputs(controls));
    let (th, ch) = (handshakes(targets), handshakes(controls));
    let (t_med, c_med) = (median(&tg), median(&cg));
    let ratio = match (t_med, c_med) {
        (Some(t), Some(c)) if c > 0.0 => Some(t / c),
        _ => None,
    };
    let (th_med, ch_med) = (median(&th), median(&ch));
    let mut out = ThrottleArm {
        arm: arm.to_string(),
        pass,
        verdict: ThrottleVerdict::Inconclusive,
        mechanism: None,
        reason: None,
        ratio,
        p_goodput: mann_whitney_less(&tg, &cg),
        p_handshake: mann_whitney_less(&ch, &th),
        target_goodput_kbps: t_med,
        control_goodput_kbps: c_med,
        target_handshake_ms: th_med,
        control_handshake_ms: ch_med,
        pairs: targets.len().min(controls.len()) as u32,
        early_stop,
    };
    let significant = |p: Option<f64>| p.is_some_and(|p| p < gates.alpha);
    if cg.len() < 2 {
        out.reason = Some("control_failed".into());
        return out;
    }
    if tg.is_empty() || targets.iter().all(|t| t.received == 0) {
        // No target transfer got a byte while the controls worked: blocking, the web test's case.
        out.reason = Some("target_failed".into());
        return out;
    }
    let handshake_delayed = match (th_med, ch_med) {
        (Some(t), Some(c)) => {
            t >= c * gates.handshake_factor && t - c >= gates.handshake_extra_ms && significant(out.p_handshake)
        }
        _ => false,
    };
    let ratio = ratio.unwrap_or(0.0);
    let slow = significant(out.p_goodput) && ratio <= gates.throttled_ratio;
    if slow && c_med.unwrap_or(0.0) < gates.min_control_kbps {
        out.reason = Some("link_too_slow".into());
    } else if slow {
        out.verdict = ThrottleVerdict::Throttled;
        out.mechanism = Some(mechanism(targets, gates));
    } else if handshake_delayed {
        out.verdict = ThrottleVerdict::Throttled;
        out.mechanism = Some(ThrottleMechanism::HandshakeDelay);
    } else if ratio > gates.ok_ratio {
        out.verdict = ThrottleVerdict::Ok;
    } else {
        out.reason = Some(if ratio <= gates.throttled_ratio { "not_significant" } else { "mid_ratio" }.into());
    }
    out
}

/// How a slow target arm was slowed: truncation (most transfers stalled for good within the
/// first 32 KiB), a policer (a burst at line rate, then the target rate), else a shaper.
fn mechanism(targets: &[&ThrottleTransfer], gates: &Gates) -> ThrottleMechanism {
    let ok: Vec<&&ThrottleTransfer> = targets.iter().filter(|t| t.goodput_kbps.is_some()).collect();
    let truncated = ok.iter().filter(|t| !t.complete && t.bytes_before_stall.is_some_and(|b| b <= SKIP_BYTES)).count();
    if 2 * truncated > ok.len() {
        return ThrottleMechanism::Truncation;
    }
    let burst: Vec<f64> =
        ok.iter().filter_map(|t| Some(t.initial_kbps? / t.goodput_kbps.filter(|g| *g > 0.0)?)).collect();
    if median(&burst).is_some_and(|b| b >= gates.policer_burst) {
        ThrottleMechanism::Policer
    } else {
        ThrottleMechanism::Shaper
    }
}

/// A run's verdict: throttled when an arm was throttled in the first pass and again in the
/// confirmation pass (`confirmed`); a first pass alone is `inconclusive` (`unconfirmed`). Else ok
/// when every arm is ok, inconclusive otherwise. Returns the deciding arm too.
pub fn combine(arms: &[ThrottleArm]) -> (ThrottleVerdict, Option<String>, bool, Option<&ThrottleArm>) {
    let first: Vec<&ThrottleArm> = arms.iter().filter(|a| a.pass == 1).collect();
    if let Some(a) = first.iter().find(|a| a.verdict == ThrottleVerdict::Throttled) {
        let again = arms.iter().find(|b| b.pass == 2 && b.arm == a.arm);
        return match again {
            Some(b) if b.verdict == ThrottleVerdict::Throttled => (ThrottleVerdict::Throttled, None, true, Some(b)),
            Some(b) => (ThrottleVerdict::Inconclusive, Some("unconfirmed".into()), false, Some(b)),
            None => (ThrottleVerdict::Inconclusive, Some("unconfirmed".into()), false, Some(a)),
        };
    }
    if first.is_empty() {
        return (ThrottleVerdict::Inconclusive, Some("no_arms".into()), false, None);
    }
    match first.iter().find(|a| a.verdict != ThrottleVerdict::Ok) {
        Some(a) => (ThrottleVerdict::Inconclusive, a.reason.clone(), false, Some(a)),
        None => {
            let worst = first.iter().min_by(|a, b| a.ratio.unwrap_or(1.0).total_cmp(&b.ratio.unwrap_or(1.0)));
            (ThrottleVerdict::Ok, None, false, worst.copied())
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
