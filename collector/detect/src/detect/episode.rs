//! Episodes of a per-run signal across the probes of one ASN (blocked runs of a platform,
//! throttled runs): where one starts, when it ends (the end rule), and its start/end brackets.

use std::collections::HashMap;

use super::bracket;

/// One run of one probe: a hit (blocked, throttled) or ok.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample<'a> {
    pub t: i64,
    pub probe: &'a str,
    pub hit: bool,
    /// Index of the observation.
    pub idx: usize,
}

/// A stretch from the first hit to the end rule (or to now, when still open).
#[derive(Debug)]
pub(crate) struct Episode<'a> {
    /// Every sample from the opening hit on (hits and oks).
    pub samples: Vec<Sample<'a>>,
    /// The latest ok sample before the opening hit.
    pub last_ok_before: Option<i64>,
    /// Closed: (the last hit, the first ok after it).
    pub end: Option<(i64, i64)>,
}

struct Open<'a> {
    samples: Vec<Sample<'a>>,
    last_ok_before: Option<i64>,
    latest: HashMap<&'a str, (i64, bool)>,
    last_hit: i64,
    first_ok_after_hit: Option<i64>,
}

/// Cut time-sorted samples into episodes. An episode closes on an ok sample when, among the
/// probes whose latest sample is within `report_window`, at least `end_fraction` (and at least
/// two, when two or more report) see it ok.
pub(crate) fn episodes<'a>(samples: &[Sample<'a>], end_fraction: f64, report_window: i64) -> Vec<Episode<'a>> {
    let mut out = Vec::new();
    let mut open: Option<Open<'a>> = None;
    let mut last_ok = None;
    for &s in samples {
        let Some(cur) = open.as_mut() else {
            if s.hit {
                open = Some(Open {
                    samples: vec![s],
                    last_ok_before: last_ok,
                    latest: HashMap::from([(s.probe, (s.t, true))]),
                    last_hit: s.t,
                    first_ok_after_hit: None,
                });
            } else {
                last_ok = Some(s.t);
            }
            continue;
        };
        cur.samples.push(s);
        cur.latest.insert(s.probe, (s.t, s.hit));
        if s.hit {
            cur.last_hit = s.t;
            cur.first_ok_after_hit = None;
            continue;
        }
        last_ok = Some(s.t);
        let first_ok = *cur.first_ok_after_hit.get_or_insert(s.t);
        let (mut reporting, mut ok) = (0usize, 0usize);
        for &(t, hit) in cur.latest.values() {
            if s.t - t <= report_window {
                reporting += 1;
                ok += usize::from(!hit);
            }
        }
        if ok as f64 >= end_fraction * reporting as f64 && ok >= reporting.min(2) {
            let done = open.take().expect("episode is open");
            out.push(Episode {
                samples: done.samples,
                last_ok_before: done.last_ok_before,
                end: Some((done.last_hit, first_ok)),
            });
        }
    }
    if let Some(cur) = open {
        out.push(Episode { samples: cur.samples, last_ok_before: cur.last_ok_before, end: None });
    }
    out
}

impl<'a> Episode<'a> {
    pub fn hits(&self) -> impl Iterator<Item = &Sample<'a>> {
        self.samples.iter().filter(|s| s.hit)
    }

    /// Each probe's longest run of consecutive hits.
    pub fn streaks(&self) -> HashMap<&'a str, usize> {
        let mut cur: HashMap<&str, usize> = HashMap::new();
        let mut best: HashMap<&str, usize> = HashMap::new();
        for s in &self.samples {
            let c = cur.entry(s.probe).or_insert(0);
            *c = if s.hit { *c + 1 } else { 0 };
            let b = best.entry(s.probe).or_insert(0);
            *b = (*b).max(*c);
        }
        best
    }

    /// Start estimate and uncertainty; `unknown` is the uncertainty when nothing was seen ok
    /// before.
    pub fn start(&self, unknown: i64) -> (i64, i64) {
        let first = self.samples[0].t;
        match self.last_ok_before {
            Some(ok) => bracket(ok, first),
            None => (first, unknown),
        }
    }

    /// End estimate and uncertainty; None while open.
    pub fn end_estimate(&self) -> (Option<i64>, Option<i64>) {
        match self.end {
            Some((hit, ok)) => {
                let (m, u) = bracket(hit, ok);
                (Some(m), Some(u))
            }
            None => (None, None),
        }
    }

    /// The time the episode closed at (its first ok after the last hit), or `now`.
    pub fn until(&self, now: i64) -> i64 {
        self.end.map_or(now, |(_, ok)| ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, probe: &str, hit: bool) -> Sample<'_> {
        Sample { t, probe, hit, idx: 0 }
    }

    #[test]
    fn one_stray_hit_is_closed_by_two_oks_and_a_real_episode_by_half_the_probes() {
        let v = [
            s(0, "a", false),
            s(10, "b", true), // stray
            s(20, "a", false),
            s(30, "c", false), // two oks out of three reporting: closed
            s(100, "a", true),
            s(110, "b", true),
            s(120, "c", true),
            s(200, "a", false), // 1 of 3 ok: still open
            s(210, "b", false), // 2 of 3 ok: closed
            s(300, "c", true),
        ];
        let e = episodes(&v, 0.5, 1000);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].end, Some((10, 20)));
        assert_eq!(e[1].last_ok_before, Some(30));
        assert_eq!(e[1].start(999), (65, 35));
        assert_eq!(e[1].end, Some((120, 200)));
        assert_eq!(e[1].end_estimate(), (Some(160), Some(40)));
        assert_eq!(e[2].end, None);
        assert_eq!(e[2].start(999), (210 + 45, 45));
    }

    #[test]
    fn stale_probes_do_not_hold_an_episode_open() {
        let v = [s(0, "a", true), s(10, "b", true), s(5000, "b", false)];
        assert_eq!(episodes(&v, 0.5, 1000)[0].end, Some((10, 5000)));
        assert_eq!(episodes(&v, 0.5, 10_000)[0].end, None);
    }

    #[test]
    fn streaks_count_consecutive_hits_per_probe() {
        let v = [s(0, "a", true), s(1, "b", true), s(2, "a", true), s(3, "a", false), s(4, "a", true), s(5, "b", true)];
        let e = Episode { samples: v.to_vec(), last_ok_before: None, end: None };
        let st = e.streaks();
        assert_eq!((st["a"], st["b"]), (2, 2));
        assert_eq!(e.hits().count(), 5);
    }
}
