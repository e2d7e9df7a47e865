//! Detection parameters, every default written once (the detection brief's first values).

use serde::{Deserialize, Serialize};

/// Everything detection can be tuned with. `Params::default()` holds the brief's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Nominal heartbeat interval (s).
    pub heartbeat_interval: i64,
    /// A probe is silent after this many heartbeat intervals without a sign of life (more if
    /// its own cadence, median + 3 robust sigmas, is slower).
    pub silence_intervals: f64,
    /// Longest nominal time between two battery runs (s).
    pub battery_interval: i64,
    /// A probe counts as reporting a platform when its latest run is this recent (s).
    pub report_window: i64,
    /// A probe is active when it showed a sign of life this recently (s).
    pub active_window: i64,
    /// An [`crate::What::Alive`] counts as a sign of life when uploaded within this (s).
    pub live_window: i64,
    /// A heartbeat proves the network only when it arrived this soon after it was made, clock
    /// offset corrected (s); a later one proves power.
    pub heartbeat_live_lag: i64,
    /// A probe's clock offset is corrected only when larger than this (s): probes correct their
    /// own clocks.
    pub skew_min: i64,

    /// Blocking: distinct probes, each with `block_min_consecutive` blocked runs in a row...
    pub block_min_probes: usize,
    /// ...or one probe with this many blocked runs in a row.
    pub block_min_measurements: usize,
    pub block_min_consecutive: usize,
    /// An event ends when this fraction of the probes reporting it sees it ok again.
    pub end_ok_fraction: f64,
    /// What one OONI run weighs toward the minimum evidence (and toward the oks in a row that
    /// close an episode), a Vigil run weighing 1.
    pub ooni_weight: f64,

    /// Shutdown: this many probes of an ASN silent (or network down) together...
    pub shutdown_min_probes: usize,
    /// ...or this fraction of the ASN's active probes (and at least `shutdown_min_fraction_probes`).
    pub shutdown_min_fraction: f64,
    pub shutdown_min_fraction_probes: usize,
    /// "Together": onsets within this many heartbeat intervals.
    pub shutdown_together_intervals: i64,
    /// Probes back for this long without spooled evidence of the outage retract it (s).
    pub spool_grace: i64,
    /// ...unless their heartbeats still report a spool backlog; at most this long (s).
    pub spool_grace_max: i64,
    /// A shutdown resting on the silence of a few probes, with no silence elsewhere, is
    /// `unknown` after this (s); a probe silent this long no longer holds a blocking or
    /// throttling episode open...
    pub unknown_after: i64,
    /// ...and any shutdown resting on silence alone after this (s).
    pub silence_max: i64,
    /// A probe offline at the same time of day on this many earlier days (with no evidence of
    /// a network outage) is habitually off then and does not count toward a shutdown.
    pub habit_days: usize,
    /// Country shutdown: more than this fraction of the country's ASNs with probes...
    pub country_min_fraction: f64,
    /// ...and at least this many ASNs.
    pub country_min_asns: usize,

    /// The collector's own downtime (`crate::downtime`): after it starts, and after any
    /// stretch it could not hear the fleet, silence counts only once this many heartbeat
    /// intervals have passed (the probes reconnect first).
    pub collector_grace_intervals: f64,
    /// Nothing received from anyone for this many heartbeat intervals: the collector counts
    /// itself cut off (its uplink) for that stretch...
    pub collector_quiet_intervals: f64,
    /// ...when the probes heard just before it spanned at least this many countries: only the
    /// collector's own uplink silences everyone in every country at once (a fleet in one country
    /// cannot tell its collector's uplink from a national shutdown, and publishes the shutdown).
    pub collector_quiet_min_countries: usize,

    /// Throttling CUSUM reference value and alarm threshold (robust z units).
    pub cusum_k: f64,
    pub cusum_h: f64,
    /// A step's z is clipped at −clip before it enters the CUSUM, so one step cannot alarm.
    pub cusum_clip: f64,
    /// Floor of the baseline's robust scale (ln ratio units).
    pub scale_floor: f64,
    /// Scale of the prior used when there is no history at all.
    pub prior_scale: f64,
    /// Runs a baseline cell needs before it is used (else a coarser fallback).
    pub baseline_min_runs: usize,
    /// Days of history a baseline looks back.
    pub baseline_days: i64,
    /// One CUSUM step needs this many probes or `step_min_runs` runs.
    pub step_min_probes: usize,
    pub step_min_runs: usize,
    /// A run this far below its baseline (robust z) counts as throttled evidence.
    pub throttle_hit_z: f64,
    /// Throttled verdicts from this many distinct probes within `throttle_agree_window`.
    pub throttle_min_probes: usize,
    pub throttle_agree_window: i64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            heartbeat_interval: 300,
            silence_intervals: 1.5,
            battery_interval: 3600,
            report_window: 2 * 3600,
            active_window: 1800,
            live_window: 600,
            heartbeat_live_lag: 120,
            skew_min: 120,
            block_min_probes: 2,
            block_min_measurements: 5,
            block_min_consecutive: 2,
            end_ok_fraction: 0.5,
            ooni_weight: 0.5,
            shutdown_min_probes: 3,
            shutdown_min_fraction: 0.6,
            shutdown_min_fraction_probes: 2,
            shutdown_together_intervals: 2,
            spool_grace: 1800,
            spool_grace_max: 6 * 3600,
            unknown_after: 86_400,
            silence_max: 14 * 86_400,
            habit_days: 2,
            country_min_fraction: 0.5,
            country_min_asns: 2,
            collector_grace_intervals: 3.0,
            collector_quiet_intervals: 1.5,
            collector_quiet_min_countries: 2,
            cusum_k: 0.5,
            cusum_h: 5.0,
            cusum_clip: 4.0,
            scale_floor: 0.1,
            prior_scale: 0.25,
            baseline_min_runs: 5,
            baseline_days: 28,
            step_min_probes: 3,
            step_min_runs: 5,
            throttle_hit_z: -3.0,
            throttle_min_probes: 2,
            throttle_agree_window: 2 * 3600,
        }
    }
}

impl Params {
    /// Seconds without a sign of life after which a probe of nominal cadence is silent.
    pub fn silence(&self) -> i64 {
        (self.silence_intervals * self.heartbeat_interval as f64).round() as i64
    }

    /// Seconds after a collector gap (or start) before silence counts.
    pub fn collector_grace(&self) -> i64 {
        (self.collector_grace_intervals * self.heartbeat_interval as f64).round() as i64
    }

    /// Seconds with nothing received from anyone that make a quiet stretch.
    pub fn collector_quiet(&self) -> i64 {
        (self.collector_quiet_intervals * self.heartbeat_interval as f64).round() as i64
    }
}
