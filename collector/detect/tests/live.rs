//! The collector's loop, replayed: detection every few minutes on what had arrived by then,
//! reconciled with what was published. An ASN shutdown must be published provisionally within
//! 2 heartbeat intervals of its start, then revised (never rewritten) into a confirmed event
//! with refined times once the probes' spooled evidence arrives; nothing else is published.

use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{Change, EventType, Params, PublishedEvent, Status, detect, reconcile};

const T0: i64 = 1_740_960_000;
const D: i64 = 86_400;

#[test]
fn a_shutdown_is_published_live_then_confirmed_by_revisions() {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(11, T0, 2, 30, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let (cut, back) = (T0 + D + 10 * 3600 + 420, T0 + D + 12 * 3600 + 1500);
    let truth = [TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: cut, end: back }];
    let fleet = simulate(&spec, &truth);
    let params = Params::default();
    let interval = params.heartbeat_interval;

    // One-minute steps around the cut, five-minute steps after it.
    let steps = (cut - 300..cut + 900).step_by(60).chain((cut + 900..back + 7200).step_by(300));
    let mut published: Vec<PublishedEvent> = Vec::new();
    let mut first_seen = None;
    let mut reasons = Vec::new();
    for now in steps {
        let detected = detect(&fleet.observations, &params, now);
        for change in reconcile(&published, &detected, now) {
            match change {
                Change::New(e) => {
                    first_seen.get_or_insert(now);
                    published.push(PublishedEvent { event: e, revision: 1, published_at: now });
                }
                Change::Revised { id, revision, event, reason, .. } => {
                    let p = published.iter_mut().find(|p| p.event.id == id).expect("revises a published event");
                    assert_eq!(revision, p.revision + 1);
                    *p = PublishedEvent { event, revision, published_at: now };
                    reasons.push(reason);
                }
                Change::Unchanged { .. } => {}
            }
        }
    }
    for p in &published {
        let e = &p.event;
        eprintln!(
            "published {} rev {} {:?} {:?} {}..{:?}",
            e.id,
            p.revision,
            e.status,
            e.scope,
            e.start - cut,
            e.end.map(|x| x - back)
        );
    }
    eprintln!("reasons: {reasons:#?}");
    let latency = first_seen.expect("published") - cut;
    eprintln!("detection latency: {latency} s");
    assert!(latency <= 2 * interval, "latency {latency} s");

    assert_eq!(published.len(), 1, "only the shutdown is published");
    let p = &published[0];
    assert!(matches!(p.event.kind, EventType::Shutdown));
    assert_eq!(p.event.scope.asn, Some(100));
    assert_eq!(p.event.status, Status::Confirmed);
    assert!(p.revision >= 2);
    assert!(reasons.iter().any(|r| r.contains("confirmed: spooled evidence arrived")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("ended")), "{reasons:?}");
    let (start_err, end_err) = (p.event.start - cut, p.event.end.expect("ended") - back);
    eprintln!("start error {start_err} s, end error {end_err} s");
    assert!(start_err.abs() <= 2 * interval && end_err.abs() <= 2 * interval);
}
