//! Checking a submitted batch: the request as a whole, then each measurement (format, key,
//! payload, timestamp, signature). Pure and synchronous; the signature work is spread over the
//! cores by `check_parallel` and uses Ed25519 batch verification.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::IgnoredAny;
use time::OffsetDateTime;
use time::PrimitiveDateTime;
use time::macros::format_description;
use vigil_report::limits::{self, BadField, FIRST_TIME, FIRST_TIME_TEXT};
use vigil_report::protocol::SubmitRequest;
use vigil_report::{MEASUREMENT_FORMAT, Measurement, PLATFORM_TEST_NAME, Signed, THROTTLING_TEST_NAME};

use crate::asn::AsnInfo;
use crate::error::{ApiCode, HttpError};
use crate::probe_keys::ProbeKeys;
use crate::writer::{NewMeasurement, Parsed};
use vigil_detect::obs::{ObsError, What, what_of};

/// Signatures verified together; a failing group is re-checked one by one.
const VERIFY_GROUP: usize = 64;
/// Longest accepted measurement id.
const MAX_ID_LEN: usize = 128;

/// One item refused before storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The measurement's id when it could be read, else empty.
    pub id: String,
    pub code: ApiCode,
    pub message: String,
}

/// The outcome of checking one item.
#[derive(Debug, Clone)]
pub enum Checked {
    Valid(Box<NewMeasurement>),
    Rejected(Rejection),
}

/// What the checks need besides the items.
#[derive(Debug, Clone)]
pub struct CheckContext {
    pub keys: Arc<ProbeKeys>,
    pub now: OffsetDateTime,
    pub future_tolerance: Duration,
    /// Where the batch came from (already mapped from the address, which is gone).
    pub origin: AsnInfo,
    /// The platform ids the collector's battery knows; a summary of another platform is stored
    /// as evidence but kept apart (no platform observation, no timeline row). None: every
    /// well-formed id is known (replay of the operator's own recordings).
    pub platforms: Option<Arc<HashSet<String>>>,
}

/// Parse the request body and apply the batch limit.
pub fn parse_request(body: &[u8], max_batch: usize) -> Result<SubmitRequest, HttpError> {
    let req: SubmitRequest = serde_json::from_slice(body).map_err(|e| {
        HttpError::bad_request(ApiCode::MalformedJson, format!("request body is not a submission: {e}"))
    })?;
    if req.measurements.len() > max_batch {
        return Err(HttpError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::BatchTooLarge,
            format!("{} measurements in one batch; at most {max_batch} are accepted", req.measurements.len()),
        ));
    }
    Ok(req)
}

/// The payload fields the collector reads; `test_keys` is any JSON value (skipped, not built).
type Header = Measurement<IgnoredAny>;

/// Every free string of the envelope that is stored in a column or shown to readers.
fn check_fields(h: &Header) -> Result<(), BadField> {
    limits::test_name(&h.test_name)?;
    if let Some(input) = &h.input {
        limits::text("input", input, limits::MAX_INPUT)?;
    }
    limits::version("software_name", &h.software_name)?;
    limits::version("software_version", &h.software_version)?;
    limits::version("test_version", &h.test_version)?;
    limits::version("data_format_version", &h.data_format_version)?;
    limits::asn_label(&h.probe_asn)?;
    limits::country(&h.probe_cc)?;
    if let Some(r) = &h.resolver_ip {
        limits::version("resolver_ip", r)?;
    }
    limits::annotations(h.annotations.iter())
}

/// For a platform or throttling summary: whether the collector's battery knows its platform
/// (true for other tests), or why it is refused. The platform is read from the very observation
/// the writer will store (`what`, from [`what_of`], the parse `observe` uses), so no payload
/// shape can carry a platform past this check. A summary that does not parse as its test's keys
/// yields no observation: it is stored as evidence but kept apart (unknown), never counted as
/// known.
fn check_summary(
    test_name: &str,
    what: &Result<What, ObsError>,
    known: Option<&HashSet<String>>,
) -> Result<bool, String> {
    if test_name != PLATFORM_TEST_NAME && test_name != THROTTLING_TEST_NAME {
        return Ok(true);
    }
    let platform = match what {
        Ok(What::Platform { platform, .. } | What::Throttling { platform, .. }) => platform,
        Ok(_) => return Ok(true),
        Err(ObsError::BadKind(e)) => return Err(e.to_string()),
        Err(_) => return Ok(false),
    };
    limits::platform_id("test_keys.platform", platform).map_err(|e| e.to_string())?;
    Ok(known.is_none_or(|k| k.contains(platform)))
}

struct Candidate {
    item: NewMeasurement,
    key: VerifyingKey,
    signature: Signature,
}

fn reject(id: &str, code: ApiCode, message: impl Into<String>) -> Checked {
    Checked::Rejected(Rejection { id: id.to_string(), code, message: message.into() })
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let layout = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, layout).ok().map(PrimitiveDateTime::assume_utc)
}

/// Everything but the signature check.
fn precheck(signed: Signed, ctx: &CheckContext) -> Result<Candidate, Checked> {
    let header: Result<Header, _> = serde_json::from_str(&signed.payload);
    let id = header.as_ref().map(|h| h.id.clone()).unwrap_or_default();
    if signed.format != MEASUREMENT_FORMAT {
        return Err(reject(
            &id,
            ApiCode::BadFormat,
            format!("format {:?} is not {MEASUREMENT_FORMAT:?}", signed.format),
        ));
    }
    let Some(probe) = ctx.keys.get(&signed.key_id) else {
        return Err(reject(&id, ApiCode::UnknownKey, format!("key {:?} is not enrolled", signed.key_id)));
    };
    if probe.revoked {
        return Err(reject(&id, ApiCode::RevokedKey, format!("key {} is revoked", signed.key_id)));
    }
    let signature = match signed.signature() {
        Ok(s) => s,
        Err(e) => return Err(reject(&id, ApiCode::BadSignatureEncoding, e.to_string())),
    };
    let header = match header {
        Ok(h) => h,
        Err(e) => return Err(reject("", ApiCode::BadPayload, format!("payload is not a measurement: {e}"))),
    };
    if header.id.is_empty() || header.id.len() > MAX_ID_LEN || !header.id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(reject(
            "",
            ApiCode::BadPayload,
            format!("id must be 1 to {MAX_ID_LEN} printable ASCII characters"),
        ));
    }
    let Some(start) = parse_time(&header.measurement_start_time) else {
        return Err(reject(&id, ApiCode::BadPayload, "measurement_start_time is not YYYY-MM-DD HH:MM:SS"));
    };
    if start.unix_timestamp() < FIRST_TIME {
        return Err(reject(
            &id,
            ApiCode::TimestampTooOld,
            format!(
                "measurement_start_time {} is before {FIRST_TIME_TEXT}, the oldest time the collector accepts",
                header.measurement_start_time
            ),
        ));
    }
    if start > ctx.now + ctx.future_tolerance {
        return Err(reject(
            &id,
            ApiCode::FutureTimestamp,
            format!(
                "measurement_start_time {} is more than {} s ahead of the collector's clock",
                header.measurement_start_time,
                ctx.future_tolerance.as_secs()
            ),
        ));
    }
    if let Err(e) = check_fields(&header) {
        return Err(reject(&id, ApiCode::BadField, e.to_string()));
    }
    // Parsed once: checked here, and carried to the writer for the observation it stores.
    let what = what_of(&header.test_name, &signed.payload);
    let platform_known = match check_summary(&header.test_name, &what, ctx.platforms.as_deref()) {
        Ok(known) => known,
        Err(message) => return Err(reject(&id, ApiCode::BadField, message)),
    };
    let parsed = Parsed::with(what.ok(), &header.test_name, &signed.payload);
    let item = NewMeasurement {
        id: header.id,
        key_id: signed.key_id,
        test_name: header.test_name,
        input: header.input,
        measurement_start_time: header.measurement_start_time,
        asn: ctx.origin.asn,
        cc: ctx.origin.cc.clone(),
        claimed_asn: header.probe_asn,
        claimed_cc: header.probe_cc,
        format: signed.format,
        payload: signed.payload,
        signature: signed.signature,
        received_at: None,
        platform_known,
        parsed: Some(parsed),
    };
    Ok(Candidate { item, key: probe.key, signature })
}

fn message(item: &NewMeasurement) -> Vec<u8> {
    let mut m = Vec::with_capacity(item.format.len() + 1 + item.payload.len());
    m.extend_from_slice(item.format.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(item.payload.as_bytes());
    m
}

/// Verify each signature on its own, strictly (no small-order points, canonical encodings: what
/// libsodium and the published offline recipe accept), so everything the collector stores
/// verifies for anyone. Batch verification would be faster, but a signer can craft signatures that
/// pass a batch and fail a strict single check.
fn verify_group(group: Vec<Candidate>, out: &mut Vec<Checked>) {
    for c in group {
        if c.key.verify_strict(&message(&c.item), &c.signature).is_ok() {
            out.push(Checked::Valid(Box::new(c.item)));
        } else {
            out.push(reject(&c.item.id, ApiCode::BadSignature, "signature does not verify with the enrolled key"));
        }
    }
}

/// Check items in order on the current thread.
pub fn check_items(items: Vec<Signed>, ctx: &CheckContext) -> Vec<Checked> {
    let mut out: Vec<Checked> = Vec::with_capacity(items.len());
    // Indices into `out` of candidates waiting for their signature check.
    let mut slots: Vec<usize> = Vec::new();
    let mut group: Vec<Candidate> = Vec::new();
    let mut verified: Vec<Checked> = Vec::new();
    for signed in items {
        match precheck(signed, ctx) {
            Ok(c) => {
                slots.push(out.len());
                out.push(reject("", ApiCode::Internal, "not checked"));
                group.push(c);
                if group.len() == VERIFY_GROUP {
                    verify_group(std::mem::take(&mut group), &mut verified);
                }
            }
            Err(r) => out.push(r),
        }
    }
    verify_group(group, &mut verified);
    for (slot, v) in slots.into_iter().zip(verified) {
        out[slot] = v;
    }
    out
}

/// Check items this process has just signed itself, with keys it holds (`replay`): every check
/// but the signature's, which could only confirm what the caller did. Results keep the order.
pub fn check_own_items(items: Vec<Signed>, ctx: &CheckContext) -> Vec<Checked> {
    items
        .into_iter()
        .map(|signed| match precheck(signed, ctx) {
            Ok(c) => Checked::Valid(Box::new(c.item)),
            Err(r) => r,
        })
        .collect()
}

/// Check a batch spread over `parallelism` blocking threads; results keep the batch order.
pub async fn check_parallel(items: Vec<Signed>, ctx: CheckContext, parallelism: usize) -> Vec<Checked> {
    let per = items.len().div_ceil(parallelism.max(1)).max(VERIFY_GROUP);
    let mut chunks = Vec::new();
    let mut rest = items;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ctx = ctx.clone();
            tokio::task::spawn_blocking(move || check_items(chunk, &ctx))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(v) => out.extend(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_keys::ProbeKey;
    use ed25519_dalek::SigningKey;
    use vigil_report::signed::key_id;

    fn payload(id: &str) -> String {
        format!(
            r#"{{"id":"{id}","data_format_version":"0.2.0","measurement_start_time":"2026-01-02 03:04:05",
            "test_start_time":"2026-01-02 03:04:05","input":null,"test_name":"t","test_version":"1",
            "software_name":"s","software_version":"1","probe_asn":"AS0","probe_cc":"ZZ","resolver_ip":null,
            "test_runtime":0.5,"test_keys":{{"any":["json"]}}}}"#
        )
    }

    /// A probe key made from `seed`, enrolled, and a check context a minute after the payloads'
    /// start (fixed: the tests hold whatever the date) for a submitter in AS64500, NL, whose
    /// battery knows `platforms` (None: any).
    fn enrolled(seed: u8, platforms: Option<&[&str]>) -> (SigningKey, CheckContext) {
        let k = SigningKey::from_bytes(&[seed; 32]);
        let keys = Arc::new(ProbeKeys::default());
        keys.insert(key_id(&k.verifying_key()), ProbeKey { key: k.verifying_key(), revoked: false });
        let ctx = CheckContext {
            keys,
            now: OffsetDateTime::from_unix_timestamp(1_767_323_045 + 60).unwrap(),
            future_tolerance: Duration::from_secs(600),
            origin: AsnInfo { asn: 64500, cc: "NL".into() },
            platforms: platforms.map(|p| Arc::new(p.iter().map(|s| s.to_string()).collect::<HashSet<String>>())),
        };
        (k, ctx)
    }

    /// A summary `test_name` with these `test_keys`, checked against the built-in battery.
    fn check_summary_keys(test_name: &str, test_keys: serde_json::Value) -> Checked {
        let (k, ctx) = enrolled(2, Some(&["telegram"]));
        let mut m: serde_json::Value = serde_json::from_str(&payload("s1")).unwrap();
        m["test_name"] = test_name.into();
        m["test_keys"] = test_keys;
        let mut out = check_items(vec![Signed::sign(MEASUREMENT_FORMAT, m.to_string(), &k)], &ctx);
        out.remove(0)
    }

    #[test]
    fn the_platform_checked_is_the_one_observed_whatever_the_payload_shape() {
        let bad = "ctl\u{1}\u{b}plat";
        let throttling = |platform: &str| {
            serde_json::json!({"platform": platform, "kind": 5, "ratio": 0.01, "verdict": "throttled",
                "throttled_rate_kbps": 100.0, "control_goodput_kbps": 20000.0})
        };
        // test_keys as a sequence: serde reads a struct from an array of its fields in order.
        let platform = |platform: &str| serde_json::json!([platform, "platform", "blocked", null, [], []]);
        for (test_name, keys) in [(THROTTLING_TEST_NAME, throttling(bad)), (PLATFORM_TEST_NAME, platform(bad))] {
            match check_summary_keys(test_name, keys) {
                Checked::Rejected(r) => {
                    assert_eq!(r.code, ApiCode::BadField, "{test_name}");
                    assert!(r.message.starts_with("test_keys.platform must be"), "{test_name}: {}", r.message);
                }
                Checked::Valid(_) => panic!("{test_name}: a control-character platform was accepted"),
            }
        }
        // The same shapes with a well-formed id: known or kept apart by the observed platform.
        for (test_name, keys, known) in [
            (THROTTLING_TEST_NAME, throttling("telegram"), true),
            (THROTTLING_TEST_NAME, throttling("made-up"), false),
            (PLATFORM_TEST_NAME, platform("telegram"), true),
            (PLATFORM_TEST_NAME, platform("made-up"), false),
            // Not a summary at all: stored as evidence, never counted as known.
            (PLATFORM_TEST_NAME, serde_json::json!({"platform": "telegram"}), false),
            (THROTTLING_TEST_NAME, serde_json::json!([1, 2]), false),
        ] {
            match check_summary_keys(test_name, keys.clone()) {
                Checked::Valid(m) => assert_eq!(m.platform_known, known, "{test_name} {keys}"),
                Checked::Rejected(r) => panic!("{test_name} {keys}: {r:?}"),
            }
        }
        let odd_kind = serde_json::json!(["telegram", "weird", "blocked", null, [], []]);
        assert!(matches!(check_summary_keys(PLATFORM_TEST_NAME, odd_kind), Checked::Rejected(r)
            if r.code == ApiCode::BadField && r.message.starts_with("test_keys.kind must be")));
    }

    #[tokio::test]
    async fn one_bad_signature_among_many_is_found_and_order_is_kept() {
        let (k, ctx) = enrolled(1, None);
        let mut items: Vec<Signed> =
            (0..150).map(|i| Signed::sign(MEASUREMENT_FORMAT, payload(&format!("m{i}")), &k)).collect();
        items[70].payload = items[70].payload.replace("\"t\"", "\"u\"");
        items[140].format = "other".into();
        let out = check_parallel(items, ctx, 2).await;
        assert_eq!(out.len(), 150);
        for (i, c) in out.iter().enumerate() {
            match (i, c) {
                (70, Checked::Rejected(r)) => assert_eq!((r.id.as_str(), r.code), ("m70", ApiCode::BadSignature)),
                (140, Checked::Rejected(r)) => assert_eq!(r.code, ApiCode::BadFormat),
                (_, Checked::Valid(m)) => {
                    assert_eq!(m.id, format!("m{i}"));
                    assert_eq!((m.asn, m.cc.as_str(), m.claimed_asn.as_str()), (64500, "NL", "AS0"));
                }
                (i, other) => panic!("item {i}: {other:?}"),
            }
        }
    }

    /// The observation the writer stores from the parse the check carried (`NewMeasurement.parsed`)
    /// is exactly the one `observe` makes of the stored row, for every kind of payload: simulated
    /// platform, control, throttling and heartbeat summaries, and summaries that do not parse.
    #[test]
    fn the_observation_carried_from_the_check_is_the_one_observe_makes_of_the_stored_row() {
        use crate::writer::observation_of;
        use vigil_detect::obs::{StoredMeasurement, observe};
        use vigil_detect::sim::{CountrySpec, FleetSpec, measurement_json, simulate};

        // One platform the battery knows, so summaries of the others are kept apart.
        let (k, ctx) = enrolled(3, Some(&["telegram"]));
        let t0 = 1_767_323_045 - 86_400;
        let spec = FleetSpec::new(5, t0, 1, 4, vec![CountrySpec { cc: "AA".into(), asns: vec![100] }]);
        let mut payloads: Vec<String> =
            simulate(&spec, &[]).observations.iter().filter_map(measurement_json).map(|m| m.to_string()).collect();
        let odd = |test_name: &str, keys: serde_json::Value| {
            let mut m: serde_json::Value = serde_json::from_str(&payload("odd")).unwrap();
            m["test_name"] = test_name.into();
            m["test_keys"] = keys;
            m.to_string()
        };
        payloads.push(odd(PLATFORM_TEST_NAME, serde_json::json!({"platform": "telegram"})));
        payloads.push(odd(THROTTLING_TEST_NAME, serde_json::json!([1, 2])));
        payloads.push(odd(vigil_detect::obs::HEARTBEAT_TEST_NAME, serde_json::json!("not keys")));
        payloads.push(payload("other-test"));
        let items = payloads.iter().map(|p| Signed::sign(MEASUREMENT_FORMAT, p.clone(), &k)).collect();
        let (mut kinds, mut apart) = (HashSet::new(), 0);
        for c in check_items(items, &ctx) {
            let Checked::Valid(m) = c else { panic!("{c:?}") };
            let row = StoredMeasurement {
                id: &m.id,
                key_id: &m.key_id,
                test_name: &m.test_name,
                measurement_start_time: &m.measurement_start_time,
                received_at: 1_767_323_000,
                asn: m.asn,
                cc: &m.cc,
                payload: &m.payload,
            };
            let carried = observation_of(&row, m.parsed.as_ref(), m.platform_known);
            assert!(m.parsed.is_some(), "{}", m.payload);
            assert_eq!(carried, observation_of(&row, None, m.platform_known), "{}", m.payload);
            if m.platform_known {
                assert_eq!(carried, observe(&row).ok(), "{}", m.payload);
            } else {
                apart += 1;
            }
            kinds.insert(carried.map(|o| std::mem::discriminant(&o.what)));
        }
        // Heartbeat, platform, throttling, alive, and no observation at all; some kept apart.
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        assert!(apart > 0);
    }
}
