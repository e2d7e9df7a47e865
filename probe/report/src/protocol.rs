//! The probe ↔ collector HTTP API bodies (JSON). Paths live in `collector/openapi.json`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signed::{SignError, Signed, key_id};

/// `POST /api/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The probe's Ed25519 public key, standard base64.
    pub public_key: String,
    /// Proof of possession: `signed::enrollment_proof`.
    pub proof: String,
    /// Enrollment token, when the collector requires one.
    #[serde(default)]
    pub token: Option<String>,
    pub software_version: String,
}

/// Answer to an enrollment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub key_id: String,
    /// The collector's current public key (the probe pins it) and its id.
    pub collector_key: String,
    pub collector_key_id: String,
}

/// `POST /api/v1/submit`: a batch of signed measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub measurements: Vec<Signed>,
}

/// The payload of the collector-signed acknowledgement of a batch (a `Signed` statement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitAck {
    /// `"ack"`.
    pub kind: String,
    /// When the collector stored the batch (UTC, RFC 3339).
    pub received_at: String,
    /// One entry per submitted measurement, in order.
    pub results: Vec<ItemResult>,
}

/// What became of one measurement of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The measurement's id, or empty when it could not be read.
    pub id: String,
    pub status: ItemStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored now.
    Accepted,
    /// Stored before (a retry): acknowledged again, stored once.
    Duplicate,
    /// Refused; `error` says why, and its code whether it may be accepted later
    /// ([`ErrorCode::retry`]: e.g. `future_timestamp` may, `bad_signature` never).
    Rejected,
}

impl ItemStatus {
    /// The collector has this measurement: the probe may delete its copy.
    pub fn is_stored(self) -> bool {
        matches!(self, ItemStatus::Accepted | ItemStatus::Duplicate)
    }
}

/// An error, as every endpoint reports it: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable short label, e.g. `bad_signature`, `unknown_key`, `body_too_large`.
    pub code: String,
    /// What is wrong, for a human.
    pub message: String,
}

/// Defines [`ApiCode`] from one list: each line is a variant, its label and what it means.
macro_rules! api_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $label:literal,)+) => {
        /// Every `error.code` the collector answers (in an error body or a rejected batch item):
        /// the one list `collector/openapi.json`'s `ApiError.code` enum is checked against.
        /// Adding a code is one line here (and one in the document, which a test demands).
        /// Readers keep `ApiError::code` as text: a newer collector may answer a code this
        /// version does not know ([`ApiError::api_code`] is then `None`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ApiCode {
            $($(#[doc = $doc])+ #[serde(rename = $label)] $variant,)+
        }

        impl ApiCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ApiCode] = &[$(ApiCode::$variant),+];

            /// The stable snake_case label sent on the wire.
            pub const fn label(self) -> &'static str {
                match self {
                    $(ApiCode::$variant => $label,)+
                }
            }

            /// The code with this label, if this version knows it.
            pub fn from_label(label: &str) -> Option<ApiCode> {
                match label {
                    $($label => Some(ApiCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

api_codes! {
    /// The request body is not the JSON the route expects.
    MalformedJson = "malformed_json",
    /// The request body could not be read.
    BadBody = "bad_body",
    /// The request body is over the route's size limit.
    BodyTooLarge = "body_too_large",
    /// A submission holds more measurements than a batch may.
    BatchTooLarge = "batch_too_large",
    /// A signed envelope's format is not the one expected.
    BadFormat = "bad_format",
    /// The signing key is not enrolled.
    UnknownKey = "unknown_key",
    /// The signing key is revoked.
    RevokedKey = "revoked_key",
    /// The signature does not verify.
    BadSignature = "bad_signature",
    /// The signature is not valid base64 of 64 bytes.
    BadSignatureEncoding = "bad_signature_encoding",
    /// The signed payload is not a valid measurement.
    BadPayload = "bad_payload",
    /// The measurement is dated too far in the future: retry later.
    FutureTimestamp = "future_timestamp",
    /// The id is already stored under another probe's key.
    IdConflict = "id_conflict",
    /// A public key is not valid base64 of 32 bytes.
    BadKeyEncoding = "bad_key_encoding",
    /// The enrollment proof does not verify.
    BadProof = "bad_proof",
    /// The key is of small order.
    WeakKey = "weak_key",
    /// The enrollment token is missing or wrong.
    BadToken = "bad_token",
    /// The collector takes no enrollments.
    EnrollmentClosed = "enrollment_closed",
    /// Too many requests: retry later.
    RateLimited = "rate_limited",
    /// No operator token is configured: the admin API is off.
    AdminDisabled = "admin_disabled",
    /// The operator token is missing or wrong.
    Unauthorized = "unauthorized",
    /// No such route or resource.
    NotFound = "not_found",
    /// The route does not accept the method.
    MethodNotAllowed = "method_not_allowed",
    /// A query or path parameter is unknown, missing or out of its bounds (the message names it).
    BadParameter = "bad_parameter",
    /// An uploaded file cannot be read (the message says where).
    BadFile = "bad_file",
    /// The database could not be read or written: retry later.
    StorageError = "storage_error",
    /// The collector failed unexpectedly.
    Internal = "internal",
    /// A chart's SVG could not be read back for rendering.
    ChartSvgInvalid = "chart_svg_invalid",
    /// A chart is too large to render as PNG.
    ChartTooLarge = "chart_too_large",
    /// A chart's PNG could not be encoded.
    ChartPngEncode = "chart_png_encode",
    /// The control's request is malformed.
    BadRequest = "bad_request",
    /// The control refuses a target that is not a public address.
    TargetNotPublic = "target_not_public",
    /// The control refuses an address of its own host.
    TargetOwnAddress = "target_own_address",
    /// A signed request's time is too far from the collector's clock.
    ClockSkew = "clock_skew",
    /// The control is switched off on this collector.
    ControlDisabled = "control_disabled",
    /// A string field of a submitted item is too long or has characters outside its set (the
    /// message names the field).
    BadField = "bad_field",
    /// The measurement is dated before the collector's floor (2012-01-01).
    TimestampTooOld = "timestamp_too_old",
    /// The request's body did not arrive within the body timeout.
    RequestTimeout = "request_timeout",
    /// The collector serves as many connections as it may: retry later.
    TooManyConnections = "too_many_connections",
    /// A blockpage fingerprint's pattern is empty, too long, or not in every member's page of
    /// the cluster (the message names the member).
    BadPattern = "bad_pattern",
    /// As many promoted fingerprints are active as a probe configuration carries.
    TooManyFingerprints = "too_many_fingerprints",
}

impl std::fmt::Display for ApiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl ApiError {
    pub fn new(code: ApiCode, message: impl Into<String>) -> ApiError {
        ApiError { code: code.label().to_string(), message: message.into() }
    }

    /// The code, if this version knows it.
    pub fn api_code(&self) -> Option<ApiCode> {
        ApiCode::from_label(&self.code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

/// The payload of the collector-signed probe configuration (`GET /api/v1/probe-config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfigStatement {
    /// `"probe-config"`.
    pub kind: String,
    pub issued_at: String,
    /// Minutes between battery runs.
    pub interval_minutes: u32,
    /// The control endpoint probes should use.
    pub control_url: Option<String>,
    /// A battery (TOML, the probe's battery file format) replacing the built-in one, if any.
    pub battery_toml: Option<String>,
    /// Blockpage fingerprints the collector's operator promoted from discovered clusters, used
    /// beside the built-in ones (absent from older collectors: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<LocalFingerprint>,
}

/// A blockpage fingerprint promoted on the collector (a cluster of unmatched blockpages an operator
/// confirmed), with the columns of an OONI fingerprint row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalFingerprint {
    /// `local.<id>`: never an OONI or built-in name.
    pub name: String,
    /// `body`, or `header.<lowercase name>`.
    pub location_found: String,
    /// `contains`, `prefix` or `full` (no regular expressions: they come from the network).
    pub pattern_type: String,
    pub pattern: String,
    /// Uppercase ISO country codes the cluster was seen in: a match confirms blocking there,
    /// elsewhere only together with a difference from the control.
    pub expected_countries: Vec<String>,
}

/// The payload of a key rotation statement, signed by the OLD collector key: probes that pinned
/// the old key follow the chain to the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// `"key-rotation"`.
    pub kind: String,
    pub issued_at: String,
    pub new_key: String,
    pub new_key_id: String,
}

/// One probe key as the collector publishes it (`GET /api/v1/probe-keys`), for offline checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedKey {
    pub key_id: String,
    pub public_key: String,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
}

/// What a client does about an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// It will never be accepted unchanged: give up on it (a probe moves it to `rejected/`).
    Never,
    /// This item may be accepted later (e.g. a `future_timestamp` once its time has passed):
    /// keep it, go on with the others, retry it after a backoff.
    ItemLater,
    /// The collector is busy or failing (`rate_limited`, `storage_error`, 5xx): keep everything,
    /// stop for now and retry after a backoff.
    CollectorLater,
    /// Too large for the collector: set it aside, it will never fit; go on with the others.
    SetAside,
    /// The batch has too many measurements: send fewer at a time.
    SmallerBatch,
}

impl ApiCode {
    /// What a client does about a request or item refused with this code.
    pub const fn retry(self) -> Retry {
        match self {
            ApiCode::FutureTimestamp => Retry::ItemLater,
            ApiCode::RateLimited
            | ApiCode::StorageError
            | ApiCode::Internal
            | ApiCode::RequestTimeout
            | ApiCode::TooManyConnections => Retry::CollectorLater,
            ApiCode::BodyTooLarge => Retry::SetAside,
            ApiCode::BatchTooLarge => Retry::SmallerBatch,
            _ => Retry::Never,
        }
    }
}

/// An error code as a client reads it: one this version knows, or one from a newer collector,
/// kept verbatim. [`ErrorCode::retry`] treats an unknown code as transient for the item
/// (`ItemLater`); the probe bounds how often it retries one (`docs/probe-spool.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Known(ApiCode),
    Other(String),
}

impl ErrorCode {
    /// The typed code of `label`; unknown labels are kept as [`ErrorCode::Other`].
    pub fn parse(label: &str) -> ErrorCode {
        ApiCode::from_label(label).map_or_else(|| ErrorCode::Other(label.to_string()), ErrorCode::Known)
    }

    /// The code as it is on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Known(c) => c.label(),
            ErrorCode::Other(label) => label,
        }
    }

    /// What to do about a measurement (or request) refused with this code.
    pub fn retry(&self) -> Retry {
        match self {
            ErrorCode::Known(c) => c.retry(),
            ErrorCode::Other(_) => Retry::ItemLater,
        }
    }

    /// Waiting may help: the same request or item may be accepted later.
    pub fn is_transient(&self) -> bool {
        matches!(self.retry(), Retry::ItemLater | Retry::CollectorLater | Retry::SmallerBatch)
    }

    /// A code this version does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, ErrorCode::Other(_))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ApiError {
    /// The code as a client reads it (unknown codes kept verbatim).
    pub fn kind(&self) -> ErrorCode {
        ErrorCode::parse(&self.code)
    }
}

/// Header of a signed request: the id of the enrolled probe key that signed it.
pub const REQUEST_KEY_HEADER: &str = "x-vigil-key-id";
/// Header of a signed request: when it was signed, Unix seconds (decimal).
pub const REQUEST_TIME_HEADER: &str = "x-vigil-time";
/// Header of a signed request: the Ed25519 signature of [`request_signing_input`], standard base64.
pub const REQUEST_SIGNATURE_HEADER: &str = "x-vigil-signature";
/// First line of what a signed request's signature covers (no other signed format starts so).
pub const REQUEST_DOMAIN: &str = "vigil-request-v1";

/// What a probe signs to authenticate a request (the control's, `POST /api/v1/control`):
///
/// ```text
/// "vigil-request-v1" \n METHOD \n path \n unix_time \n hex(sha256(body))
/// ```
///
/// `path` is the request URL's path as the probe sends it (no query), `METHOD` upper case.
pub fn request_signing_input(method: &str, path: &str, unix_time: i64, body: &[u8]) -> Vec<u8> {
    let digest: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    format!("{REQUEST_DOMAIN}\n{}\n{path}\n{unix_time}\n{digest}", method.to_ascii_uppercase()).into_bytes()
}

/// The authentication of one request: the three header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSignature {
    pub key_id: String,
    pub unix_time: i64,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub signature: String,
}

impl RequestSignature {
    /// Sign a request with the probe's key.
    pub fn sign(key: &SigningKey, method: &str, path: &str, unix_time: i64, body: &[u8]) -> RequestSignature {
        let signature = key.sign(&request_signing_input(method, path, unix_time, body));
        RequestSignature {
            key_id: key_id(&key.verifying_key()),
            unix_time,
            signature: B64.encode(signature.to_bytes()),
        }
    }

    /// The headers that carry it, as (name, value).
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (REQUEST_KEY_HEADER, self.key_id.clone()),
            (REQUEST_TIME_HEADER, self.unix_time.to_string()),
            (REQUEST_SIGNATURE_HEADER, self.signature.clone()),
        ]
    }

    /// Check the signature (strict Ed25519) with `key`, the key `key_id` names.
    pub fn verify(&self, key: &VerifyingKey, method: &str, path: &str, body: &[u8]) -> Result<(), SignError> {
        let bytes = B64.decode(self.signature.trim()).map_err(|_| SignError::SignatureEncoding)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignError::SignatureEncoding)?;
        let message = request_signing_input(method, path, self.unix_time, body);
        key.verify_strict(&message, &Signature::from_bytes(&bytes)).map_err(|_| SignError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_transient() {
        for &code in ApiCode::ALL {
            assert_eq!(ErrorCode::parse(code.label()), ErrorCode::Known(code));
        }
        let newer = ErrorCode::parse("quota_exceeded_v9");
        assert_eq!(newer, ErrorCode::Other("quota_exceeded_v9".into()));
        assert_eq!(newer.to_string(), "quota_exceeded_v9");
        assert!(newer.is_transient() && newer.is_unknown());
    }

    #[test]
    fn transient_and_permanent_codes() {
        for code in ["future_timestamp", "rate_limited", "storage_error", "internal", "batch_too_large"] {
            assert!(ErrorCode::parse(code).is_transient(), "{code}");
        }
        for code in ["bad_signature", "bad_payload", "revoked_key", "timestamp_too_old", "unknown_key", "bad_format"] {
            assert_eq!(ErrorCode::parse(code).retry(), Retry::Never, "{code}");
        }
        assert_eq!(ErrorCode::parse("body_too_large").retry(), Retry::SetAside);
        assert_eq!(ApiCode::FutureTimestamp.retry(), Retry::ItemLater);
        assert_eq!(ApiCode::RateLimited.retry(), Retry::CollectorLater);
    }

    #[test]
    fn signed_requests_verify_only_as_signed() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let body = br#"{"http_request":"https://example.com/"}"#;
        let sig = RequestSignature::sign(&key, "post", "/api/v1/control", 1_700_000_000, body);
        assert_eq!(sig.key_id, key_id(&key.verifying_key()));
        let vk = key.verifying_key();
        sig.verify(&vk, "POST", "/api/v1/control", body).unwrap();
        assert_eq!(sig.verify(&vk, "POST", "/api/v1/control", b"{}"), Err(SignError::BadSignature), "other body");
        assert_eq!(sig.verify(&vk, "POST", "/api/v1/submit", body), Err(SignError::BadSignature), "other path");
        assert_eq!(sig.verify(&vk, "GET", "/api/v1/control", body), Err(SignError::BadSignature), "other method");
        let later = RequestSignature { unix_time: sig.unix_time + 1, ..sig.clone() };
        assert_eq!(later.verify(&vk, "POST", "/api/v1/control", body), Err(SignError::BadSignature), "other time");
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(sig.verify(&other, "POST", "/api/v1/control", body), Err(SignError::BadSignature));
        let garbled = RequestSignature { signature: "AAAA".into(), ..sig.clone() };
        assert_eq!(garbled.verify(&vk, "POST", "/api/v1/control", body), Err(SignError::SignatureEncoding));
        let names: Vec<&str> = sig.headers().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, [REQUEST_KEY_HEADER, REQUEST_TIME_HEADER, REQUEST_SIGNATURE_HEADER]);
    }

    #[test]
    fn the_signing_input_is_the_documented_text() {
        let input = request_signing_input("post", "/api/v1/control", 42, b"");
        let empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            String::from_utf8(input).unwrap(),
            format!("vigil-request-v1\nPOST\n/api/v1/control\n42\n{empty_sha256}")
        );
    }

    #[test]
    fn each_code_serialises_as_its_label_and_labels_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in ApiCode::ALL {
            let label = c.label();
            assert!(seen.insert(label), "{label} twice");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{label}");
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{label}\""));
            assert_eq!(serde_json::from_str::<ApiCode>(&format!("\"{label}\"")).unwrap(), c);
            assert_eq!(ApiCode::from_label(label), Some(c));
        }
        assert_eq!(ApiCode::from_label("no_such_code"), None);
        assert_eq!(ApiError::new(ApiCode::BadParameter, "x").api_code(), Some(ApiCode::BadParameter));
    }
}
