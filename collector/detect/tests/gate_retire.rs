//! Issue 16 gate (D4, owner E1 "shutdown semantics"): the probes of a small ASN retire
//! together (unplugged for good, no record of an outage), and in another ASN they are stopped
//! with last words (their last heartbeat says `stopping`). Nothing may stay open for ever: no
//! event open at the end that is not `Unknown` after `unknown_after` (forever-open = 0), and an
//! event of those ASNs is either absent or `Unknown`.
//!
//! Before (main 92eec45, `cargo test -p vigil-detect --test gate_retire -- --ignored
//! --nocapture`, 5 s) it FAILED: ASN 102 (2 probes, retired at 34 h) and ASN 109 (3 probes,
//! stopped with `stopping` at 40 h) were both published as Provisional shutdowns still open at
//! the end (day 5): forever-open 2, precision 0.000 (2 decoy publications). Silence-only outages
//! were open to `now` and never settled, so the shutdown stayed open for ever.
//! After (branch i16-e1, D4): forever-open 0. ASN 109's last words excuse its silence at once
//! (nothing published); ASN 102 is published as a `basis = silence` provisional shutdown, then
//! `unknown` (ended at the lapse) 24 h later: 1 decoy publication, none open.

use std::collections::BTreeMap;

use vigil_detect::sim::live::publish;
use vigil_detect::sim::score::{expected, live};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_detect::{Params, Status};

const T0: i64 = 1_740_960_000; // Monday 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

#[test]
fn probes_that_retire_together_leave_nothing_open() {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut spec = FleetSpec::new(31, T0, 5, 40, vec![c("AA", &[100, 101, 102, 103, 104, 105, 106, 107, 108, 109])]);
    spec.platforms = ["whatsapp", "telegram"].map(String::from).to_vec();
    spec.throttling = false;
    spec.noise.spool_heartbeats = true;
    spec.noise.churn = 0.0;
    // The ASNs' sizes do not depend on the truth: pick the smallest ones with 2 and 3 probes.
    let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
    simulate(&spec, &[]).probes.iter().for_each(|p| *sizes.entry(p.asn).or_default() += 1);
    let two = *sizes.iter().find(|(_, n)| **n == 2).expect("an ASN of 2 probes").0;
    let three = *sizes.iter().find(|(_, n)| **n == 3).expect("an ASN of 3 probes").0;
    eprintln!("ASN sizes {sizes:?}: {two} (2 probes) retires, {three} (3 probes) is stopped with last words");
    let retire = |asn, probes, stopping, start| TruthEvent {
        cc: "AA".into(),
        asn: Some(asn),
        kind: TruthKind::Retire { probes, stopping },
        start,
        end: start,
    };
    let truth = [retire(two, 2, false, T0 + D + 10 * H), retire(three, 3, true, T0 + D + 16 * H)];
    let params = Params::default();
    let (fleet, published) = publish(&spec, &truth, &params, 3600);
    let s = live(&expected(&spec, &fleet, &truth), &truth, &published, &params);
    eprintln!("{}", s.report("retire, step 3600"));
    let open: Vec<String> = published
        .current()
        .iter()
        .filter(|r| r.event.scope.asn.is_none_or(|a| a == two || a == three))
        .filter(|r| !matches!(r.event.status, Status::Retracted | Status::Unknown))
        .map(|r| {
            format!("{} {:?} {:?} end {:?}", r.event.id, r.event.status, r.event.scope, r.event.end.map(|e| e - T0))
        })
        .collect();
    eprintln!("  current events of those ASNs (or the country), neither retracted nor unknown: {open:?}");
    assert!(s.forever_open.is_empty() && open.is_empty(), "forever open {:?}; {open:?}", s.forever_open);
}
