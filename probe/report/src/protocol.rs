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

/// The error codes of `ApiError.code` (`collector/openapi.json`), typed, with what a probe does
/// about each. The wire format is the string; [`ErrorCode::parse`] never fails: a code this
/// version does not know (from a newer collector) is [`ErrorCode::Other`], which
/// [`ErrorCode::retry`] treats as transient, and which the probe retries a bounded number of
/// times before giving up on it (see `docs/probe-spool.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MalformedJson,
    BadBody,
    /// The request body is over the collector's limit (HTTP 413), or, per item, the item is.
    BodyTooLarge,
    /// More measurements in one batch than the collector accepts (HTTP 413).
    BatchTooLarge,
    BadFormat,
    UnknownKey,
    RevokedKey,
    BadSignature,
    BadSignatureEncoding,
    BadPayload,
    /// The measurement is dated ahead of the collector's clock (beyond its tolerance).
    FutureTimestamp,
    /// The measurement is dated before the collector's lower bound.
    TooOld,
    IdConflict,
    BadKeyEncoding,
    BadProof,
    WeakKey,
    BadToken,
    EnrollmentClosed,
    RateLimited,
    AdminDisabled,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    StorageError,
    Internal,
    BadRequest,
    TargetNotPublic,
    /// A code this version does not know, kept verbatim.
    Other(String),
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

impl ErrorCode {
    /// Every known code (not `Other`), for tests and documentation.
    pub const KNOWN: [ErrorCode; 28] = [
        ErrorCode::MalformedJson,
        ErrorCode::BadBody,
        ErrorCode::BodyTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::BadFormat,
        ErrorCode::UnknownKey,
        ErrorCode::RevokedKey,
        ErrorCode::BadSignature,
        ErrorCode::BadSignatureEncoding,
        ErrorCode::BadPayload,
        ErrorCode::FutureTimestamp,
        ErrorCode::TooOld,
        ErrorCode::IdConflict,
        ErrorCode::BadKeyEncoding,
        ErrorCode::BadProof,
        ErrorCode::WeakKey,
        ErrorCode::BadToken,
        ErrorCode::EnrollmentClosed,
        ErrorCode::RateLimited,
        ErrorCode::AdminDisabled,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::StorageError,
        ErrorCode::Internal,
        ErrorCode::BadRequest,
        ErrorCode::TargetNotPublic,
        ErrorCode::Other(String::new()),
    ];

    /// The code as it is on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::BadBody => "bad_body",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::BadFormat => "bad_format",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::RevokedKey => "revoked_key",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::BadSignatureEncoding => "bad_signature_encoding",
            ErrorCode::BadPayload => "bad_payload",
            ErrorCode::FutureTimestamp => "future_timestamp",
            ErrorCode::TooOld => "too_old",
            ErrorCode::IdConflict => "id_conflict",
            ErrorCode::BadKeyEncoding => "bad_key_encoding",
            ErrorCode::BadProof => "bad_proof",
            ErrorCode::WeakKey => "weak_key",
            ErrorCode::BadToken => "bad_token",
            ErrorCode::EnrollmentClosed => "enrollment_closed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::AdminDisabled => "admin_disabled",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::Internal => "internal",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TargetNotPublic => "target_not_public",
            ErrorCode::Other(code) => code,
        }
    }

    /// The typed code of `code`; unknown codes are kept as [`ErrorCode::Other`].
    pub fn parse(code: &str) -> ErrorCode {
        ErrorCode::KNOWN[..ErrorCode::KNOWN.len() - 1]
            .iter()
            .find(|known| known.as_str() == code)
            .cloned()
            .unwrap_or_else(|| ErrorCode::Other(code.to_string()))
    }

    /// What to do about a measurement (or request) refused with this code. An unknown code is
    /// `ItemLater`: a newer collector may have a transient reason this version cannot name (the
    /// probe bounds how often it retries one).
    pub fn retry(&self) -> Retry {
        match self {
            ErrorCode::FutureTimestamp | ErrorCode::Other(_) => Retry::ItemLater,
            ErrorCode::RateLimited | ErrorCode::StorageError | ErrorCode::Internal => Retry::CollectorLater,
            ErrorCode::BodyTooLarge => Retry::SetAside,
            ErrorCode::BatchTooLarge => Retry::SmallerBatch,
            ErrorCode::MalformedJson
            | ErrorCode::BadBody
            | ErrorCode::BadFormat
            | ErrorCode::UnknownKey
            | ErrorCode::RevokedKey
            | ErrorCode::BadSignature
            | ErrorCode::BadSignatureEncoding
            | ErrorCode::BadPayload
            | ErrorCode::TooOld
            | ErrorCode::IdConflict
            | ErrorCode::BadKeyEncoding
            | ErrorCode::BadProof
            | ErrorCode::WeakKey
            | ErrorCode::BadToken
            | ErrorCode::EnrollmentClosed
            | ErrorCode::AdminDisabled
            | ErrorCode::Unauthorized
            | ErrorCode::NotFound
            | ErrorCode::MethodNotAllowed
            | ErrorCode::BadRequest
            | ErrorCode::TargetNotPublic => Retry::Never,
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
    /// The typed code.
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
        for code in &ErrorCode::KNOWN[..ErrorCode::KNOWN.len() - 1] {
            assert_eq!(&ErrorCode::parse(code.as_str()), code);
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
        for code in ["bad_signature", "bad_payload", "revoked_key", "too_old", "unknown_key", "bad_format"] {
            assert_eq!(ErrorCode::parse(code).retry(), Retry::Never, "{code}");
        }
        assert_eq!(ErrorCode::parse("body_too_large").retry(), Retry::SetAside);
        assert_eq!(ErrorCode::FutureTimestamp.retry(), Retry::ItemLater);
        assert_eq!(ErrorCode::RateLimited.retry(), Retry::CollectorLater);
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
}
