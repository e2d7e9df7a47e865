//! Disclosed times: a date (a whole UTC day) or an RFC 3339 time normalised to UTC, and how
//! precise each is.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// 9999-12-31T23:59:59Z (as the event API).
const LAST_TIME: i64 = 253_402_300_799;

/// How precise a disclosed time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// A date without a time of day: the whole UTC day.
    Day,
    /// A time to the second (RFC 3339, normalised to UTC).
    Second,
}

/// A disclosed point in time: `at` is Unix seconds (for a date: 00:00 UTC of that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct When {
    pub at: i64,
    pub granularity: Granularity,
}

impl When {
    pub fn day(at: i64) -> When {
        When { at: at.div_euclid(DAY) * DAY, granularity: Granularity::Day }
    }

    pub fn second(at: i64) -> When {
        When { at, granularity: Granularity::Second }
    }

    /// The period it stands for: `[at, at + 1 day)` for a date, `[at, at]` for a time.
    pub fn granule(self) -> (i64, i64) {
        match self.granularity {
            Granularity::Day => (self.at, self.at + DAY),
            Granularity::Second => (self.at, self.at),
        }
    }

    /// `YYYY-MM-DD` for a date, RFC 3339 in UTC for a time.
    pub fn text(self) -> String {
        let t = OffsetDateTime::from_unix_timestamp(self.at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        match self.granularity {
            Granularity::Day => format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
            Granularity::Second => t.format(&Rfc3339).unwrap_or_default(),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for When {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        let s = String::deserialize(d)?;
        parse_when(&s).map_err(serde::de::Error::custom)
    }
}

fn in_range(t: i64) -> Result<i64, String> {
    if (0..=LAST_TIME).contains(&t) { Ok(t) } else { Err("expected a time in years 1970..9999".into()) }
}

/// A calendar date as 00:00 UTC of that day.
pub fn date_at(year: i32, month: u8, day: u8) -> Result<i64, String> {
    let month = Month::try_from(month).map_err(|_| format!("month {month} does not exist"))?;
    let d = Date::from_calendar_date(year, month, day).map_err(|e| format!("no such date: {e}"))?;
    in_range(d.midnight().assume_utc().unix_timestamp())
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `YYYY-MM-DD` (or `YYYY/MM/DD`) as a date.
pub fn parse_iso_date(s: &str) -> Option<Result<i64, String>> {
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    if parts.len() != 3 || parts[0].len() != 4 || s.contains('-') && s.contains('/') {
        return None;
    }
    let (y, m, d) = (digits(parts[0])?, digits(parts[1])?, digits(parts[2])?);
    Some(date_at(y as i32, m.min(255) as u8, d.min(255) as u8))
}

/// A disclosed time: `YYYY-MM-DD` (a whole UTC day), or RFC 3339 with a UTC offset (`Z` or
/// `±HH:MM`; seconds may be left out), normalised to UTC.
pub fn parse_when(s: &str) -> Result<When, String> {
    let s = s.trim();
    if let Some(day) = parse_iso_date(s) {
        return day.map(When::day);
    }
    let parsed = OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        // `2025-03-04T10:15Z` / `...T10:15+03:30`: no seconds.
        let (date_time, offset) = s.split_at(s.find(['Z', 'z', '+']).or_else(|| s.rfind('-').filter(|&i| i > 10))?);
        (date_time.len() == 16).then(|| OffsetDateTime::parse(&format!("{date_time}:00{offset}"), &Rfc3339).ok())?
    });
    match parsed {
        Some(t) => in_range(t.unix_timestamp()).map(When::second),
        None if s.len() >= 16 && s.as_bytes().get(10).is_some_and(|b| *b == b'T' || *b == b' ') => Err(format!(
            "{s:?}: expected RFC 3339 with a UTC offset (e.g. 2025-03-04T10:15:00Z or 2025-03-04T13:15:00+03:00)"
        )),
        None => Err(format!("{s:?}: expected a date (YYYY-MM-DD) or an RFC 3339 time")),
    }
}
