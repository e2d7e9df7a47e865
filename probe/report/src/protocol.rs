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
