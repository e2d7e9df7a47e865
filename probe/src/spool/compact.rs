//! Before a measurement is signed and spooled: decide whether it is a routine success or evidence,
//! and shrink it for upload (routine successes lose their HTTP bodies; evidence keeps a capped one).

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use vigil_report::{
    Blocking, MEASUREMENT_FORMAT, Measurement, PlatformKeys, PlatformStatus, Signed, ThrottleVerdict, ThrottlingKeys,
    WebKeys,
};

/// What the spool's drop policy sheds first (routine) and last (evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An endpoint with `blocking: false` and `accessible: true`, or a platform summary `ok`.
    Routine,
    /// Everything else: blocking found, failures, unknown verdicts.
    Evidence,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Routine => "routine",
            Class::Evidence => "evidence",
        }
    }

    pub fn from_label(text: &str) -> Option<Class> {
        match text {
            "routine" => Some(Class::Routine),
            "evidence" => Some(Class::Evidence),
            _ => None,
        }
    }
}

pub fn web_class(m: &Measurement<WebKeys>) -> Class {
    if m.test_keys.blocking == Blocking::No && m.test_keys.accessible == Some(true) {
        Class::Routine
    } else {
        Class::Evidence
    }
}

pub fn platform_class(m: &Measurement<PlatformKeys>) -> Class {
    if m.test_keys.status == PlatformStatus::Ok { Class::Routine } else { Class::Evidence }
}

/// Cut every HTTP body to `cap` bytes (a text body at a character boundary, a binary one at the
/// byte). `body_length` keeps the size
/// received, and `body_is_truncated` becomes true whenever the body was cut.
pub fn cap_bodies(m: &mut Measurement<WebKeys>, cap: usize) {
    for response in m.test_keys.requests.iter_mut().filter_map(|t| t.response.as_mut()) {
        if response.body.len() > cap {
            response.body.truncate(cap);
            response.body_is_truncated = true;
        }
    }
}

/// The upload form of an endpoint measurement: routine successes keep no body, evidence keeps
/// at most `evidence_body_bytes`.
pub fn compact_web(m: &Measurement<WebKeys>, evidence_body_bytes: u64) -> (Class, Measurement<WebKeys>) {
    let class = web_class(m);
    let cap = match class {
        Class::Routine => 0,
        Class::Evidence => usize::try_from(evidence_body_bytes).unwrap_or(usize::MAX),
    };
    let mut m = m.clone();
    cap_bodies(&mut m, cap);
    (class, m)
}

/// Compact and sign an endpoint measurement.
pub fn seal_web(m: &Measurement<WebKeys>, evidence_body_bytes: u64, key: &SigningKey) -> (Class, Signed) {
    let (class, m) = compact_web(m, evidence_body_bytes);
    (class, sign(&m, key))
}

/// Sign a platform summary (it has no bodies to compact).
pub fn seal_platform(m: &Measurement<PlatformKeys>, key: &SigningKey) -> (Class, Signed) {
    (platform_class(m), sign(m, key))
}

/// Sign a throttling run: routine when `ok`, evidence otherwise.
pub fn seal_throttling(m: &Measurement<ThrottlingKeys>, key: &SigningKey) -> (Class, Signed) {
    let class = if m.test_keys.verdict == ThrottleVerdict::Ok { Class::Routine } else { Class::Evidence };
    (class, sign(m, key))
}

fn sign<T: Serialize>(value: &T, key: &SigningKey) -> Signed {
    // Measurements are plain data: serialising them cannot fail (non-finite floats become null).
    let payload = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    Signed::sign(MEASUREMENT_FORMAT, payload, key)
}

/// The `id` inside a signed measurement's payload (empty when it cannot be read).
pub fn measurement_id(s: &Signed) -> String {
    #[derive(Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_str::<IdOnly>(&s.payload).map(|m| m.id).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_report::{HttpRequest, HttpResponse, HttpTransaction};

    pub(crate) fn web(blocking: Blocking, accessible: Option<bool>, body: &str) -> Measurement<WebKeys> {
        let json = serde_json::json!({
            "id": "m1", "data_format_version": "0.2.0", "measurement_start_time": "2024-01-01 00:00:00",
            "test_start_time": "2024-01-01 00:00:00", "input": "https://x.test/", "test_name": "vigil_web_connectivity",
            "test_version": "0.1.0", "software_name": "vigil-probe", "software_version": "0", "probe_asn": "AS0",
            "probe_cc": "ZZ", "resolver_ip": null, "test_runtime": 1.0,
            "test_keys": {"client_resolver": null, "queries": [], "tcp_connect": [], "tls_handshakes": [],
                "requests": [], "control": null, "control_failure": null, "dns_experiment_failure": null,
                "dns_consistency": null, "http_experiment_failure": null, "body_length_match": null,
                "body_proportion": null, "status_code_match": null, "headers_match": null, "title_match": null,
                "blocking": null, "accessible": null, "mechanism": null, "x_confirmed": false, "x_reasons": []}
        });
        let mut m: Measurement<WebKeys> = serde_json::from_value(json).unwrap();
        m.test_keys.blocking = blocking;
        m.test_keys.accessible = accessible;
        m.test_keys.requests.push(HttpTransaction {
            request: HttpRequest { method: "GET".into(), url: "https://x.test/".into(), headers: Default::default() },
            response: Some(HttpResponse {
                code: 200,
                headers: Default::default(),
                headers_list: Vec::new(),
                body: body.into(),
                body_is_truncated: false,
                body_length: body.len() as u64,
                title: Some("X".into()),
            }),
            failure: None,
            t0: 0.0,
            t: 0.1,
        });
        m
    }

    fn response(m: &Measurement<WebKeys>) -> &HttpResponse {
        m.test_keys.requests[0].response.as_ref().unwrap()
    }

    #[test]
    fn routine_successes_lose_their_body_but_keep_length_and_title() {
        let m = web(Blocking::No, Some(true), "hello world");
        let (class, c) = compact_web(&m, 65536);
        assert_eq!(class, Class::Routine);
        assert_eq!(response(&c).body, "");
        assert_eq!(response(&c).body_length, 11);
        assert_eq!(response(&c).title.as_deref(), Some("X"));
        assert!(response(&c).body_is_truncated);
    }

    #[test]
    fn evidence_keeps_its_body_up_to_the_cap_on_a_char_boundary() {
        let m = web(Blocking::HttpDiff, Some(false), "ééééé");
        let (class, c) = compact_web(&m, 5);
        assert_eq!(class, Class::Evidence);
        assert_eq!(response(&c).body, "éé");
        assert!(response(&c).body_is_truncated);
        let (_, c) = compact_web(&m, 65536);
        assert_eq!(response(&c).body, "ééééé");
        assert!(!response(&c).body_is_truncated);
        // Unknown verdicts and "not blocked but inaccessible" are evidence too.
        assert_eq!(web_class(&web(Blocking::Unknown, None, "")), Class::Evidence);
        assert_eq!(web_class(&web(Blocking::No, Some(false), "")), Class::Evidence);
    }

    #[test]
    fn a_binary_body_is_cut_at_the_byte_and_stays_binary_evidence() {
        let mut m = web(Blocking::HttpDiff, Some(false), "");
        let bytes = vec![0xc4, 0xee, 0xf1, 0xf2, 0xff, 0x00];
        m.test_keys.requests[0].response.as_mut().unwrap().body = vigil_report::MaybeBinary::from_bytes(bytes.clone());
        let (_, c) = compact_web(&m, 3);
        assert_eq!(response(&c).body.as_bytes(), &bytes[..3]);
        assert!(matches!(response(&c).body, vigil_report::MaybeBinary::Binary(_)));
        assert!(response(&c).body_is_truncated);
    }

    #[test]
    fn sealed_measurements_verify_and_carry_their_id() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let (_, s) = seal_web(&web(Blocking::No, Some(true), "b"), 10, &key);
        s.verify(MEASUREMENT_FORMAT, &key.verifying_key()).unwrap();
        assert_eq!(measurement_id(&s), "m1");
    }
}
