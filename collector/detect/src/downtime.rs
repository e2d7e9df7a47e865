//! The collector's own downtime, as detection's input: the stretches in which the collector
//! could not hear the fleet (not running, or running but receiving nothing from anyone), so
//! that silence it caused is never read as the networks' (rules in [`crate::detect`](mod@crate::detect)).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::obs::Observation;
use crate::params::Params;

/// Why the collector could not hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The collector was not running (between the last moment it knew it was alive and its
    /// next start). A start with no downtime before it is a gap of length zero: it still
    /// starts a grace period.
    Down,
    /// The collector ran but received nothing from anyone for at least
    /// [`Params::collector_quiet`] (its uplink, most likely).
    Quiet,
}

/// One stretch `[start, end)` (Unix s) the collector could not hear; `end` None = still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub start: i64,
    pub end: Option<i64>,
    pub kind: GapKind,
}

/// The collector's gaps, in any order. `Downtime::default()` = always up (offline replays and
/// the simulator, whose recorded arrivals are the truth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downtime {
    pub gaps: Vec<Gap>,
}

impl Downtime {
    /// The stretches detection treats as deaf, merged and sorted: every gap that counts,
    /// extended by the grace period after its end (`i64::MAX` while open).
    ///
    /// A [`GapKind::Quiet`] stretch counts only when the probes heard in the `active_window`
    /// before it spanned at least `collector_quiet_min_countries` countries ([`quiet_is_own`]):
    /// a fleet that lives in one country cannot tell its collector's uplink from that country's
    /// shutdown (which silences many networks at once), and for such a fleet the silence stays
    /// the networks'.
    pub fn deaf(&self, obs: &[Observation], params: &Params, now: i64) -> Vec<(i64, i64)> {
        let grace = params.collector_grace();
        let mut receipts: Vec<(i64, &str, u32)> = Vec::new();
        if self.gaps.iter().any(|g| g.kind == GapKind::Quiet) {
            receipts =
                obs.iter().filter(|o| o.received_at <= now).map(|o| (o.received_at, o.cc.as_str(), o.asn)).collect();
            receipts.sort_unstable();
        }
        let mut out: Vec<(i64, i64)> = self
            .gaps
            .iter()
            .filter(|g| g.start <= now)
            .filter(|g| g.kind == GapKind::Down || quiet_is_own(heard_countries(&receipts, g.start, params), params))
            .map(|g| (g.start, g.end.map_or(i64::MAX, |e| e.max(g.start).saturating_add(grace))))
            .collect();
        out.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(out.len());
        for (a, b) in out {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }
}

/// Whether a quiet stretch (nothing received from anyone) before which the collector heard
/// from `countries` countries is the collector's own: only its uplink silences everyone in
/// every country at once. A silence of a fleet in fewer countries may be a national shutdown,
/// and is left to detection (published, provisional, as any shutdown).
pub fn quiet_is_own(countries: usize, params: &Params) -> bool {
    countries >= params.collector_quiet_min_countries
}

/// Distinct countries the collector received something from in the `active_window` before
/// its last receipt at or before `t` (so a quiet stretch that follows a restart is judged by
/// the fleet heard before the collector went down). `receipts` are sorted.
fn heard_countries(receipts: &[(i64, &str, u32)], t: i64, params: &Params) -> usize {
    let end = receipts.partition_point(|r| r.0 <= t);
    let Some(&(last, ..)) = end.checked_sub(1).and_then(|i| receipts.get(i)) else { return 0 };
    let start = receipts.partition_point(|r| r.0 < last - params.active_window);
    let countries: BTreeSet<&str> = receipts[start..end].iter().map(|&(_, cc, _)| cc).collect();
    countries.len()
}

/// Where a probe's silence from `onset` (its last sign of life), silent after `threshold`, is
/// heard, given the merged deaf stretches: `Some(onset)` when no deaf stretch touches
/// `[onset, onset + threshold]`; the end of the deaf stretch that does (the silence is counted
/// only from when the collector could hear it again); None when that stretch is still open.
pub(crate) fn heard_from(deaf: &[(i64, i64)], onset: i64, threshold: i64) -> Option<i64> {
    let mut from = onset;
    for &(a, b) in deaf {
        if a <= from.saturating_add(threshold) && b > from {
            if b == i64::MAX {
                return None;
            }
            from = b;
        }
    }
    Some(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::What;

    fn hb(probe: &str, asn: u32, t: i64) -> Observation {
        Observation {
            at: t,
            received_at: t,
            probe: probe.into(),
            cc: if asn >= 100 { "BB".into() } else { "AA".into() },
            asn,
            measurement_id: None,
            what: What::Heartbeat,
            meta: Default::default(),
        }
    }

    #[test]
    fn deaf_stretches_get_grace_merge_and_quiet_needs_two_countries() {
        let p = Params::default();
        let g = p.collector_grace();
        let down = |start, end| Gap { start, end, kind: GapKind::Down };
        let quiet = |start, end| Gap { start, end, kind: GapKind::Quiet };
        let d = Downtime { gaps: vec![down(5000, Some(6000)), down(1000, Some(1000)), down(6500, Some(7000))] };
        assert_eq!(d.deaf(&[], &p, 10_000), [(1000, 1000 + g), (5000, 7000 + g)]);
        // A quiet stretch: heard from two countries before it, or from one (however many
        // networks: a national shutdown silences them all at once, and must stay visible).
        let two = [hb("a", 1, 4000), hb("b", 200, 4100)];
        let one = [hb("a", 1, 4000), hb("b", 2, 4050), hb("c", 3, 4100)];
        let d = Downtime { gaps: vec![quiet(4200, None)] };
        assert_eq!(d.deaf(&two, &p, 10_000), [(4200, i64::MAX)]);
        assert!(d.deaf(&one, &p, 10_000).is_empty(), "one country, three networks: not the collector's");
        // Judged by the last fleet heard, however long before (a restart after a long downtime).
        let d = Downtime { gaps: vec![quiet(40_000, None)] };
        assert_eq!(d.deaf(&two, &p, 50_000), [(40_000, i64::MAX)]);
        // Gaps after now are not known yet.
        assert!(Downtime { gaps: vec![down(20_000, None)] }.deaf(&[], &p, 10_000).is_empty());
    }

    #[test]
    fn silence_is_heard_only_from_the_end_of_a_deaf_stretch() {
        let deaf = [(1000, 2000), (2100, 2500), (9000, i64::MAX)];
        assert_eq!(heard_from(&deaf, 0, 450), Some(0), "silent before the collector went down");
        assert_eq!(heard_from(&deaf, 600, 450), Some(2500), "due during the gap: heard from its end");
        assert_eq!(heard_from(&deaf, 1500, 450), Some(2500));
        assert_eq!(heard_from(&deaf, 3000, 450), Some(3000));
        assert_eq!(heard_from(&deaf, 8700, 450), None, "still deaf");
    }
}
