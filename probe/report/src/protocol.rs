//! The probe ↔ collector HTTP API bodies (JSON). Paths live in `collector/openapi.json`.

use serde::{Deserialize, Serialize};

use crate::signed::Signed;

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
    /// Refused; `error` says why. The probe must not retry it unchanged.
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

#[cfg(test)]
mod tests {
    use super::*;

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
