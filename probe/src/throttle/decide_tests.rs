//! The decision rules on hand-made transfers.

use super::*;

fn tr(arm: &str, goodput: f64, handshake: f64) -> ThrottleTransfer {
    ThrottleTransfer {
        arm: arm.into(),
        pass: 1,
        sni: "x.example".into(),
        address: "192.0.2.1:443".into(),
        t0: 0.0,
        connect_ms: Some(1.0),
        tls_handshake_ms: Some(handshake),
        ttfb_ms: Some(1.0),
        bytes: 163_840,
        received: 170_000,
        goodput_kbps: Some(goodput),
        bytes_before_stall: None,
        longest_stall_ms: 10.0,
        complete: true,
        idle_fraction: Some(0.0),
        initial_kbps: Some(goodput),
        failure: None,
    }
}

fn arm_of(t: &[ThrottleTransfer], c: &[ThrottleTransfer]) -> ThrottleArm {
    let t: Vec<&ThrottleTransfer> = t.iter().collect();
    let c: Vec<&ThrottleTransfer> = c.iter().collect();
    decide_arm("sni", 1, &t, &c, false, &Gates::default())
}

fn controls(kbps: f64) -> Vec<ThrottleTransfer> {
    (0..4).map(|k| tr("C1", kbps * (1.0 + k as f64 / 50.0), 20.0)).collect()
}

#[test]
fn a_policed_target_is_throttled_and_severe_by_ratio() {
    let t: Vec<_> = (0..4)
        .map(|k| {
            let mut x = tr("T1", 128.0 + k as f64, 20.0);
            x.initial_kbps = Some(50_000.0);
            x
        })
        .collect();
    let a = arm_of(&t, &controls(20_000.0));
    assert_eq!(a.verdict, ThrottleVerdict::Throttled);
    assert_eq!(a.mechanism, Some(ThrottleMechanism::Policer));
    assert!(a.ratio.unwrap() < 0.1 && a.p_goodput.unwrap() < 0.05, "{a:?}");
}

#[test]
fn a_smooth_slow_target_is_a_shaper() {
    let t: Vec<_> = (0..4).map(|k| tr("T1", 125.0 + k as f64, 20.0)).collect();
    let a = arm_of(&t, &controls(20_000.0));
    assert_eq!((a.verdict, a.mechanism), (ThrottleVerdict::Throttled, Some(ThrottleMechanism::Shaper)));
}

#[test]
fn a_stall_within_32_kib_is_truncation() {
    let t: Vec<_> = (0..4)
        .map(|_| {
            let mut x = tr("T1", 16.0, 20.0);
            x.complete = false;
            x.bytes = 16_000;
            x.bytes_before_stall = Some(16_000);
            x
        })
        .collect();
    let a = arm_of(&t, &controls(20_000.0));
    assert_eq!((a.verdict, a.mechanism), (ThrottleVerdict::Throttled, Some(ThrottleMechanism::Truncation)));
}

#[test]
fn a_slow_handshake_with_normal_goodput_is_handshake_delay() {
    let t: Vec<_> = (0..4).map(|k| tr("T1", 20_000.0 + k as f64, 3200.0 + k as f64)).collect();
    let a = arm_of(&t, &controls(20_000.0));
    assert_eq!((a.verdict, a.mechanism), (ThrottleVerdict::Throttled, Some(ThrottleMechanism::HandshakeDelay)));
}

#[test]
fn significance_without_effect_is_ok_and_a_slow_control_is_inconclusive() {
    // Every target a little slower than every control (p = 1/70) at a ratio of 0.95: congestion.
    let t: Vec<_> = (0..4).map(|k| tr("T1", 1900.0 + k as f64, 20.0)).collect();
    let a = arm_of(&t, &controls(2000.0));
    assert!(a.p_goodput.unwrap() < 0.05);
    assert_eq!(a.verdict, ThrottleVerdict::Ok);
    // A 600 kbit/s link: the control itself is too slow to tell.
    let t: Vec<_> = (0..4).map(|k| tr("T1", 100.0 + k as f64, 20.0)).collect();
    let a = arm_of(&t, &controls(600.0));
    assert_eq!((a.verdict, a.reason.as_deref()), (ThrottleVerdict::Inconclusive, Some("link_too_slow")));
    // Half speed on two pairs only: not significant.
    let t: Vec<_> = (0..2).map(|k| tr("T1", 1000.0 + k as f64, 20.0)).collect();
    let a = arm_of(&t, &controls(4000.0)[..2]);
    assert_eq!((a.verdict, a.reason.as_deref()), (ThrottleVerdict::Inconclusive, Some("not_significant")));
}

#[test]
fn failed_controls_are_inconclusive() {
    let mut c = controls(2000.0);
    for x in &mut c[1..] {
        x.failure = Some(vigil_report::Failure::ConnectionRefused);
        x.goodput_kbps = None;
    }
    let a = arm_of(&controls(2000.0), &c);
    assert_eq!(a.reason.as_deref(), Some("control_failed"));
}

#[test]
fn a_target_that_never_got_a_byte_is_blocking_not_throttling() {
    let t: Vec<_> = (0..4)
        .map(|_| {
            let mut x = tr("T1", 0.0, 20.0);
            x.bytes = 0;
            x.received = 0;
            x.failure = Some(vigil_report::Failure::GenericTimeout);
            x
        })
        .collect();
    let a = arm_of(&t, &controls(20_000.0));
    assert_eq!((a.verdict, a.reason.as_deref()), (ThrottleVerdict::Inconclusive, Some("target_failed")));
}

#[test]
fn early_stop_needs_two_clean_pairs() {
    let g = Gates::default();
    let (t, c) = (tr("T1", 1000.0, 20.0), tr("C1", 1100.0, 20.0));
    assert!(clean_pairs(&[(&t, &c), (&t, &c)], &g));
    let slow = tr("T1", 500.0, 20.0);
    assert!(!clean_pairs(&[(&t, &c), (&slow, &c)], &g));
    let late = tr("T1", 1000.0, 3000.0);
    assert!(!clean_pairs(&[(&late, &c), (&t, &c)], &g));
    assert!(!clean_pairs(&[(&t, &c)], &g));
}

#[test]
fn a_throttled_first_pass_needs_the_rerun_to_agree() {
    let t: Vec<_> = (0..4).map(|k| tr("T1", 125.0 + k as f64, 20.0)).collect();
    let throttled = arm_of(&t, &controls(20_000.0));
    let ok = arm_of(&controls(20_000.0), &controls(20_000.0));
    let mut again = throttled.clone();
    again.pass = 2;
    let (v, _, confirmed, _) = combine(&[throttled.clone(), again]);
    assert_eq!((v, confirmed), (ThrottleVerdict::Throttled, true));
    let mut cleared = ok.clone();
    cleared.pass = 2;
    let (v, reason, _, _) = combine(&[throttled.clone(), cleared]);
    assert_eq!((v, reason.as_deref()), (ThrottleVerdict::Inconclusive, Some("unconfirmed")));
    let (v, _, _, _) = combine(&[ok]);
    assert_eq!(v, ThrottleVerdict::Ok);
}
