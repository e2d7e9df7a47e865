//! `GET /api/v1/timeline`: one country (or one ASN), platforms × time buckets, as JSON.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};

use crate::api_events::parse_time;
use crate::error::{ApiCode, HttpError};
use crate::server::AppState;
use crate::timeline::{self, HOUR, Timeline, TimelineQuery};

/// The default period: the last 7 days.
pub const DEFAULT_PERIOD: i64 = 7 * 86_400;
/// The default bucket is the smallest whole number of hours giving at most this many buckets.
pub const DEFAULT_BUCKETS: i64 = 168;
/// More buckets than this is a 400.
pub const MAX_BUCKETS: i64 = 2000;

const KEYS: &[&str] = &["country", "asn", "platform", "from", "to", "bucket"];

fn bad(name: &str, why: &str) -> HttpError {
    HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"))
}

/// Check the query against `now` (Unix s). `from` is rounded down to the hour, `to` up to the
/// hour and then to a whole number of buckets after `from`.
pub fn parse(q: &HashMap<String, String>, now: i64) -> Result<TimelineQuery, HttpError> {
    let mut unknown: Vec<&str> = q.keys().map(String::as_str).filter(|k| !KEYS.contains(k)).collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(bad(&unknown.join(", "), "unknown parameter"));
    }
    let cc = q.get("country").ok_or_else(|| bad("country", "required (a two-letter country code)"))?;
    let cc = cc.to_ascii_uppercase();
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad("country", "expected a two-letter country code"));
    }
    let asn = match q.get("asn") {
        Some(a) => {
            Some(a.trim_start_matches("AS").parse::<u32>().map_err(|_| bad("asn", "expected a number (e.g. 64500)"))?)
        }
        None => None,
    };
    let platform = q.get("platform").cloned();
    if let Some(p) = &platform {
        vigil_report::limits::platform_id("platform", p)
            .map_err(|e| bad("platform", &format!("expected a platform id (e.g. telegram): {e}")))?;
    }
    let to = match q.get("to") {
        Some(v) => parse_time("to", v)?,
        None => now,
    };
    let ceil_hour = |t: i64| (t + HOUR - 1).div_euclid(HOUR) * HOUR;
    let from = match q.get("from") {
        Some(v) => parse_time("from", v)?,
        None => ceil_hour(to) - DEFAULT_PERIOD,
    };
    if to <= from {
        return Err(bad("from", "must be before to"));
    }
    let (from, to) = (from.div_euclid(HOUR) * HOUR, ceil_hour(to));
    let span = to - from;
    let bucket = match q.get("bucket") {
        Some(v) => {
            let b = v.parse::<i64>().map_err(|_| bad("bucket", "expected seconds, a multiple of 3600"))?;
            if b <= 0 || b % HOUR != 0 {
                return Err(bad("bucket", "expected seconds, a multiple of 3600"));
            }
            b
        }
        None => ((span + DEFAULT_BUCKETS * HOUR - 1) / (DEFAULT_BUCKETS * HOUR) * HOUR).max(HOUR),
    };
    let n = (span + bucket - 1) / bucket;
    if n > MAX_BUCKETS {
        return Err(bad("bucket", &format!("{n} buckets; at most {MAX_BUCKETS} (choose a larger bucket)")));
    }
    Ok(TimelineQuery { cc, asn, platform, from, to: from + n * bucket, bucket })
}

/// `GET /api/v1/timeline`.
pub async fn timeline(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Timeline>, HttpError> {
    let q = parse(&q, state.config.read_now())?;
    let params = state.config.detection.clone();
    Ok(Json(state.read(move |c| timeline::build(c, &q, &params)).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_last_week_in_hours_and_limits_are_checked() {
        let now = 1_740_960_000 + 1800;
        let q = parse(&query(&[("country", "aa")]), now).unwrap();
        assert_eq!((q.cc.as_str(), q.asn, q.bucket), ("AA", None, 3600));
        assert_eq!((q.from, q.to), (1_740_960_000 + 3600 - DEFAULT_PERIOD, 1_740_960_000 + 3600));
        let q = parse(&query(&[("country", "AA"), ("from", "1325376000"), ("to", "1327968000")]), now).unwrap();
        assert_eq!((q.bucket, (q.to - q.from) / q.bucket), (5 * 3600, 144));
        let q = parse(&query(&[("country", "AA"), ("asn", "AS64500"), ("from", "2025-03-03T00:00:00Z")]), now).unwrap();
        assert_eq!((q.asn, q.from), (Some(64500), 1_740_960_000));
        for (pairs, name) in [
            (&[("asn", "1")][..], "country"),
            (&[("country", "A1")][..], "country"),
            (&[("country", "AA"), ("bucket", "1800")][..], "bucket"),
            (&[("country", "AA"), ("bucket", "3600"), ("from", "1325376000"), ("to", "1332676000")][..], "bucket"),
            (&[("country", "AA"), ("from", "1325376009"), ("to", "1325376005")][..], "from"),
            (&[("country", "AA"), ("from", "1325375999")][..], "from"),
            (&[("country", "AA"), ("platform", "Tele gram")][..], "platform"),
            (&[("country", "AA"), ("to", "soon")][..], "to"),
            (&[("country", "AA"), ("colour", "red")][..], "colour"),
        ] {
            let e = parse(&query(pairs), now).unwrap_err();
            assert_eq!(e.code, ApiCode::BadParameter);
            assert!(e.message.starts_with(name), "{pairs:?}: {}", e.message);
        }
    }
}
