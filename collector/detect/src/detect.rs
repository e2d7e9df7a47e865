//! Detection: a pure function from the observations of a time window to the events they
//! support. The collector calls it with every observation of the window it keeps (28 days
//! gives the throttling baseline its history); only observations received by `now` are used,
//! so replaying a window with an earlier `now` shows what was known then.
//!
//! Rules (parameters in [`Params`]):
//! - **Blocking** per (country, ASN, platform), `blocking` module: a run is blocked evidence
//!   when the platform's status is `blocked` and the probe's neutral controls of that run did
//!   not all fail. An episode opens at the first blocked run, and ends when at least half of the
//!   probes that reported the platform during it (recently) see it ok again (and at least two of
//!   them, if two reported). It is an event when ≥ 2 probes each saw ≥ 2 blocked runs in a
//!   row, or one probe saw ≥ 5 in a row. Confidence = agreement × support, agreement =
//!   blocked runs / (blocked + ok runs) during the episode, support = 1 − exp(−runs / 4).
//!   Confirmed once ended or with twice the minimum evidence; provisional before.
//! - **Shutdown** per ASN (`shutdown` module, built on `liveness`): each probe's outages are
//!   the stretches with no sign of life for longer than its silence threshold, or with
//!   `network_down` reports. Outages of ≥ 3 probes (or ≥ 60 % of the ASN's active probes, and
//!   ≥ 2) starting within 2 heartbeat intervals make an event. Start = median over those probes
//!   of the middle of [last sign of life, first `network_down`] (or last sign + half an
//!   interval while no spooled evidence is in); end = the time by which half of them are back.
//!   Probes back for `spool_grace` without any `network_down` record of the gap were powered
//!   off, not cut off: they are set aside, and the event is dropped (a published one retracted)
//!   unless the others still meet the minimum. Provisional until the probes with spooled
//!   evidence alone meet it; then confirmed. Probes habitually offline at that time of day (on
//!   ≥ 2 earlier days, outside evidenced outages: IODA's inpainting) do not count.
//!   Confidence = support × agreement, support = 1 − 0.5^probes, agreement = share of the
//!   returned probes that brought evidence (0.6 while none is back).
//! - **The collector's own downtime** ([`Downtime`], `crate::downtime`): the collector says
//!   when it could not hear the fleet — not running, or running but receiving nothing from
//!   anyone for `collector_quiet` (counted only when the fleet heard just before spanned ≥ 2
//!   networks) — and each such stretch, and each start, is followed by a grace of
//!   `collector_grace_intervals` heartbeat intervals for the probes to reconnect. A silence
//!   that would have become one (its last sign of life + its threshold) inside a deaf stretch
//!   is counted only from the stretch's end: a probe back by then has no outage, one still
//!   silent then has an outage whose start lies between its last sign and that end; while the
//!   collector is still deaf, none. Outages with spooled `network_down` records are evidence
//!   on their own and are kept whatever the collector's state, so a real shutdown that
//!   overlapped the collector's downtime is still found (confirmed) once the probes upload.
//! - **Country shutdown** (`country` module): more than half of the country's ASNs with ≥ 2
//!   active probes (and ≥ 2 ASNs) in shutdown at once; times are the medians of theirs.
//! - **Throttling** per (country, ASN, platform), `throttling` module: a baseline of
//!   r = ln(T/C) per hour-of-day × weekday/weekend (median, 1.4826 × MAD floored at 0.1),
//!   robust z per step (median over probes of ≥ 3 probes or ≥ 5 runs), a lower one-sided CUSUM
//!   (k = 0.5, h = 5); an episode (as for blocking, a run being a hit when throttled or z < −3)
//!   is an event when the CUSUM alarmed in it, ≥ 2 probes said throttled within 2 h, and it
//!   has blocking's minimum evidence (≥ 2 probes with ≥ 2 hits in a row, or one with ≥ 5):
//!   the probes' 0.5 % false-throttled runs then never make an event by coincidence.
//!   Confidence and status as for blocking.

mod blocking;
mod country;
mod episode;
mod liveness;
mod shutdown;
mod throttling;

use std::collections::HashMap;

use crate::downtime::Downtime;
use crate::event::{DetectedEvent, Evidence, SetAside, event_id};
use crate::obs::Observation;
use crate::params::Params;
use crate::stats::median_i64;

/// What one run of the rules gives: the events, and the clusters set aside as explained.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Detection {
    pub events: Vec<DetectedEvent>,
    pub set_aside: Vec<SetAside>,
}

/// The rules over everything in `obs` received by `now` (what a [`crate::Detector`] runs).
pub(crate) fn detect_batch(obs: &[Observation], params: &Params, now: i64, downtime: &Downtime) -> Detection {
    let mut view = View::new(obs, params, now);
    view.deaf = downtime.deaf(obs, params, now);
    let mut events = Vec::new();
    let mut asn_shutdowns = Vec::new();
    let mut lives = Vec::new();
    for group in &view.groups {
        let live = liveness::Liveness::new(&view, group, None);
        asn_shutdowns.extend(shutdown::detect(&view, group, &live));
        events.extend(blocking::detect_tail(&view, group, None));
        events.extend(throttling::detect_tail(&view, group, None));
        lives.push((group.cc.as_str(), live));
    }
    events.extend(country::detect(&view, &asn_shutdowns, &lives));
    events.extend(asn_shutdowns);
    Detection { events: finish(events), set_aside: Vec::new() }
}

/// Give every event its id (a `-2`, `-3`... suffix when two share one) and sort them.
fn finish(mut events: Vec<DetectedEvent>) -> Vec<DetectedEvent> {
    events.sort_by(|a, b| (a.start, &a.scope, a.kind.label()).cmp(&(b.start, &b.scope, b.kind.label())));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &mut events {
        let id = event_id(&e.scope, &e.kind, e.start);
        let n = seen.entry(id.clone()).or_insert(0);
        *n += 1;
        e.id = if *n == 1 { id } else { format!("{id}-{n}") };
    }
    events
}

/// The observations received by `now`, with each probe's clock skew corrected, grouped by
/// (country, ASN).
pub(crate) struct View<'a> {
    pub obs: &'a [Observation],
    /// Corrected time of each observation (indexed like `obs`).
    pub t: Vec<i64>,
    /// A small number per probe (indexed like `obs`).
    pub probe: Vec<u32>,
    pub params: &'a Params,
    pub now: i64,
    pub groups: Vec<Group>,
    /// The collector's deaf stretches, merged, grace included ([`Downtime::deaf`]).
    pub deaf: Vec<(i64, i64)>,
}

/// The observations of one (country, ASN), sorted by corrected time.
pub(crate) struct Group {
    pub cc: String,
    pub asn: u32,
    pub idx: Vec<usize>,
}

impl<'a> View<'a> {
    fn new(obs: &'a [Observation], params: &'a Params, now: i64) -> Self {
        let mut numbers: HashMap<&str, u32> = HashMap::new();
        let probe: Vec<u32> = obs
            .iter()
            .map(|o| {
                let next = numbers.len() as u32;
                *numbers.entry(o.probe.as_str()).or_insert(next)
            })
            .collect();
        let mut offsets: Vec<Vec<i64>> = vec![Vec::new(); numbers.len()];
        for (o, &p) in obs.iter().zip(&probe).filter(|(o, _)| o.received_at <= now) {
            let d = o.received_at - o.at;
            if d.abs() <= params.live_window {
                offsets[p as usize].push(d);
            }
        }
        let offset: Vec<i64> = offsets.iter_mut().map(|v| median_i64(v).unwrap_or(0)).collect();
        let t: Vec<i64> = obs.iter().zip(&probe).map(|(o, &p)| o.at + offset[p as usize]).collect();
        let mut slots: HashMap<(&str, u32), usize> = HashMap::new();
        let mut by_asn: Vec<Vec<(i64, usize)>> = Vec::new();
        for (i, o) in obs.iter().enumerate().filter(|(_, o)| o.received_at <= now) {
            let n = by_asn.len();
            let slot = *slots.entry((o.cc.as_str(), o.asn)).or_insert(n);
            if slot == n {
                by_asn.push(Vec::new());
            }
            by_asn[slot].push((t[i], i));
        }
        let mut keys: Vec<((&str, u32), usize)> = slots.into_iter().collect();
        keys.sort_unstable();
        let groups = keys
            .into_iter()
            .map(|((cc, asn), slot)| {
                let mut v = std::mem::take(&mut by_asn[slot]);
                v.sort_unstable();
                Group { cc: cc.to_string(), asn, idx: v.into_iter().map(|(_, i)| i).collect() }
            })
            .collect();
        View { obs, t, probe, params, now, groups, deaf: Vec::new() }
    }

    /// The evidence record of observation `i`.
    pub fn evidence(&self, i: usize) -> Evidence {
        let o = &self.obs[i];
        Evidence {
            probe: o.probe.clone(),
            at: o.at,
            received_at: o.received_at,
            measurement_id: o.measurement_id.clone(),
        }
    }
}

/// Middle and half-width of the interval [a, b].
pub(crate) fn bracket(a: i64, b: i64) -> (i64, i64) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (lo + (hi - lo) / 2, (hi - lo + 1) / 2)
}

#[cfg(test)]
mod tests;
