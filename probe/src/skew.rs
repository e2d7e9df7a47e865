//! The probe's clock offset from the collector's signed time: estimated from upload
//! acknowledgements (`received_at`, signed with the pinned key), kept in the spool's `clock.json`
//! across restarts, and applied to the timestamps of new measurements before they are signed
//! (never to a signed one). See `docs/probe-spool.md` and `docs/measurement-format.md`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vigil_report::Measurement;

/// The annotation recording the correction applied to a measurement's timestamps: whole seconds
/// added to the probe's clock (negative when the probe's clock was fast).
pub const ANNOTATION: &str = "vigil_clock_correction_s";
/// Offsets larger than this are not applied: a clock a day off has no time source at all, and one
/// answer should not move the record by more (the estimate is kept and shown by `status`).
pub const MAX_CORRECTION: Duration = Duration::from_secs(24 * 3600);
/// Offsets smaller than this (or than the round trip they were measured over) are noise.
pub const MIN_CORRECTION: Duration = Duration::from_secs(2);
/// A round trip longer than this says too little about when the collector read its clock.
pub const MAX_SAMPLE_RTT: Duration = Duration::from_secs(30);
/// A correction is applied only to measurements taken (by the corrected clock) less than this
/// long after the sample it came from: without a fresh sample (a shutdown, no ack) the clock may
/// have been fixed meanwhile (NTP), and an old correction would then mis-date evidence.
pub const MAX_CORRECTION_AGE: Duration = Duration::from_secs(24 * 3600);
/// Nor to measurements taken (by the corrected clock) more than this long before the sample: the
/// clock was stepped back since (a battery run that started before the ack is well within it).
pub const MAX_CORRECTION_LEAD: Duration = Duration::from_secs(3600);
/// An unchanged correction is rewritten with its fresh sample's time at most this often (so it
/// does not expire while acks keep confirming it, without writing flash at every ack).
pub const CLOCK_REFRESH: Duration = Duration::from_secs(3600);

/// The wall clock, injectable (tests fix it).
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl WallClock {
    pub fn new(now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> WallClock {
        WallClock(Arc::new(now))
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WallClock({})", self.now())
    }
}

/// The system's clock.
pub fn system_clock() -> WallClock {
    WallClock::new(OffsetDateTime::now_utc)
}

/// One estimate of the probe's clock minus the collector's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Probe clock minus collector clock, milliseconds (positive: the probe is fast).
    pub offset_ms: i64,
    pub rtt_ms: u64,
    /// The collector's time of the ack.
    pub collector_time: OffsetDateTime,
}

impl Sample {
    /// From the local times a submission was `sent` and its ack `received`, and the ack's signed
    /// `received_at`: the collector read its clock about half way through the round trip. None
    /// when the round trip is negative (the local clock was stepped) or too long to say much.
    pub fn new(sent: OffsetDateTime, received: OffsetDateTime, received_at: &str) -> Option<Sample> {
        let collector_time = OffsetDateTime::parse(received_at, &Rfc3339).ok()?;
        let rtt = received - sent;
        if rtt.is_negative() || rtt > MAX_SAMPLE_RTT {
            return None;
        }
        let middle = sent + rtt / 2;
        let offset: time::Duration = middle - collector_time;
        let offset_ms = i64::try_from(offset.whole_milliseconds()).ok()?;
        Some(Sample { offset_ms, rtt_ms: u64::try_from(rtt.whole_milliseconds()).unwrap_or(u64::MAX), collector_time })
    }
}

/// What `clock.json` holds: the correction applied to new measurements and the estimate it
/// came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockState {
    /// Whole seconds added to the probe's clock in new measurements (0: none).
    pub correction_s: i64,
    /// The last estimate: probe clock minus collector clock, milliseconds.
    pub measured_offset_ms: i64,
    /// The round trip of that estimate, milliseconds.
    pub rtt_ms: u64,
    /// When it was measured, by the collector's clock (RFC 3339); empty: never.
    pub measured_at: String,
    /// The estimate is over [`MAX_CORRECTION`] and is not applied.
    pub ignored: bool,
}

impl ClockState {
    /// The state a sample leads to: the offset rounded to seconds, unless it is noise (under
    /// [`MIN_CORRECTION`] or the round trip: no correction) or nonsense (over
    /// [`MAX_CORRECTION`]: ignored, no correction).
    pub fn from_sample(sample: &Sample) -> ClockState {
        let size = sample.offset_ms.unsigned_abs();
        let ignored = size > MAX_CORRECTION.as_millis() as u64;
        let noise = size < (MIN_CORRECTION.as_millis() as u64).max(sample.rtt_ms);
        let correction_s = if ignored || noise { 0 } else { -((sample.offset_ms as f64 / 1000.0).round() as i64) };
        ClockState {
            correction_s,
            measured_offset_ms: sample.offset_ms,
            rtt_ms: sample.rtt_ms,
            measured_at: sample.collector_time.format(&Rfc3339).unwrap_or_default(),
            ignored,
        }
    }

    /// The state as read from `clock.json`: a correction over [`MAX_CORRECTION`] (which
    /// [`ClockState::from_sample`] never makes: a damaged or edited file) is not applied.
    pub fn checked(mut self) -> ClockState {
        if self.correction_s.unsigned_abs() > MAX_CORRECTION.as_secs() {
            self.correction_s = 0;
            self.ignored = true;
        }
        self
    }

    /// When the estimate was made, by the collector's clock.
    pub fn measured(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.measured_at, &Rfc3339).ok()
    }

    /// The correction (whole seconds) for a measurement taken at `t` by the probe's clock: none
    /// when there is no correction, when it is over [`MAX_CORRECTION`], or when `t` corrected is
    /// more than [`MAX_CORRECTION_AGE`] after the sample (stale) or more than
    /// [`MAX_CORRECTION_LEAD`] before it (the clock was stepped back since).
    pub fn correction_at(&self, t: OffsetDateTime) -> Option<i64> {
        if self.correction_s == 0 || self.correction_s.unsigned_abs() > MAX_CORRECTION.as_secs() {
            return None;
        }
        let corrected = t.checked_add(time::Duration::seconds(self.correction_s))?;
        let measured = self.measured()?;
        let age_s = (corrected - measured).whole_seconds();
        let (max_age, max_lead) = (MAX_CORRECTION_AGE.as_secs() as i64, MAX_CORRECTION_LEAD.as_secs() as i64);
        (-max_lead..=max_age).contains(&age_s).then_some(self.correction_s)
    }

    /// Shift `m`'s `measurement_start_time` and `test_start_time` by the correction (see
    /// [`ClockState::correction_at`], judged at `measurement_start_time`) and record it in the
    /// [`ANNOTATION`]. Nothing changes when there is no correction for it, or when a shifted time
    /// would not be a valid timestamp.
    pub fn apply<K>(&self, m: &mut Measurement<K>) {
        let Some(start) = crate::timestamp::parse(&m.measurement_start_time) else { return };
        let Some(correction_s) = self.correction_at(start) else { return };
        let shift = time::Duration::seconds(correction_s);
        let shifted = |text: &str| {
            let t = crate::timestamp::parse(text)?.checked_add(shift)?;
            (1..=9999).contains(&t.year()).then(|| crate::timestamp::format(t))
        };
        let (Some(start), Some(test_start)) = (shifted(&m.measurement_start_time), shifted(&m.test_start_time)) else {
            return;
        };
        (m.measurement_start_time, m.test_start_time) = (start, test_start);
        m.annotations.insert(ANNOTATION.into(), correction_s.to_string());
    }

    /// `m` corrected by [`ClockState::apply`] (the one way every new measurement is corrected).
    pub fn corrected<K: Clone>(&self, m: &Measurement<K>) -> Measurement<K> {
        let mut m = m.clone();
        self.apply(&mut m);
        m
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn an_offset_is_the_middle_of_the_round_trip_minus_the_collectors_time() {
        let sent = datetime!(2026-03-01 10:20:00 UTC);
        let s = Sample::new(sent, sent + time::Duration::milliseconds(400), "2026-03-01T10:00:00.200Z").unwrap();
        assert_eq!((s.offset_ms, s.rtt_ms), (1_200_000, 400));
        let state = ClockState::from_sample(&s);
        assert_eq!((state.correction_s, state.ignored), (-1200, false));
        assert_eq!(state.measured_at, "2026-03-01T10:00:00.2Z");
        // A stepped clock or a slow answer gives no sample.
        assert!(Sample::new(sent, sent - time::Duration::seconds(1), "2026-03-01T10:00:00Z").is_none());
        assert!(Sample::new(sent, sent + time::Duration::seconds(31), "2026-03-01T10:00:00Z").is_none());
        assert!(Sample::new(sent, sent, "yesterday").is_none());
    }

    #[test]
    fn noise_and_nonsense_are_not_applied() {
        let at = datetime!(2026-03-01 10:00:00 UTC);
        let state = |offset_ms, rtt_ms| ClockState::from_sample(&Sample { offset_ms, rtt_ms, collector_time: at });
        assert_eq!(state(1_500, 10).correction_s, 0, "under 2 s");
        assert_eq!(state(2_500, 3_000).correction_s, 0, "under the round trip");
        assert_eq!(state(-90_400, 100).correction_s, 90, "a slow clock is moved forward");
        let wild = state(2 * 24 * 3600 * 1000, 100);
        assert_eq!((wild.correction_s, wild.ignored), (0, true));
    }
}
