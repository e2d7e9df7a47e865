//! Measurement queries for researchers: filtered pages of stored measurements, and an
//! OONI-compatible JSON Lines export.

/// Schema migration 4: the indexes measurement queries page through.
pub const MIGRATION: &str = "CREATE INDEX measurements_start ON measurements (measurement_start_time, seq);
    CREATE INDEX measurements_cc_start ON measurements (cc, measurement_start_time, seq);";
