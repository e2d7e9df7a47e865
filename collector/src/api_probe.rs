//! What probes call: enrollment, batched submission, and the signed probe configuration.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use time::OffsetDateTime;
use vigil_report::protocol::{
    ApiError, EnrollRequest, EnrollResponse, ItemResult, ItemStatus, ProbeConfigStatement, SubmitAck,
};
use vigil_report::signed::{SignError, encode_public_key, key_id, verify_enrollment_proof};
use vigil_report::{STATEMENT_FORMAT, Signed};

use crate::asn::AsnInfo;
use crate::config::secret_eq;
use crate::error::{ApiCode, HttpError};
use crate::ingest::{CheckContext, Checked, check_parallel, parse_request};
use crate::probe_keys::ProbeKey;
use crate::server::{AppState, now_rfc3339};
use crate::writer::{EnrollOutcome, InsertOutcome};

/// Where a request came from, as ASN and country only: the address is looked up and dropped
/// here, never stored or logged.
#[derive(Debug, Clone)]
pub struct Origin(pub AsnInfo);

/// The address the trusted proxy saw: the LAST `X-Forwarded-For` entry (the one the proxy
/// appended). Earlier entries are written by the client and could claim any network.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse().ok().or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address (the peer's, or with `trust_proxy` the proxy's last `X-Forwarded-For`
/// entry): for the ASN lookup and the rate limits' network key only, never stored or logged.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, trust_proxy: bool) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if trust_proxy { forwarded_for(headers).or(peer) } else { peer }
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Origin, Self::Rejection> {
        let ip = client_ip(&parts.headers, &parts.extensions, state.config.trust_proxy);
        Ok(Origin(ip.map_or_else(AsnInfo::unknown, |ip| state.asn.lookup(ip))))
    }
}

/// Where an enrollment came from: the client's address, for its network's rate only.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.headers, &parts.extensions, state.config.trust_proxy)))
    }
}

fn body_error(rejection: BytesRejection, limit: usize) -> HttpError {
    match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::BodyTooLarge,
            format!("request body is larger than {limit} bytes"),
        ),
        other => HttpError::bad_request(ApiCode::BadBody, format!("could not read the request body: {other}")),
    }
}

fn enroll_error(state: &AppState, e: HttpError) -> HttpError {
    state.metrics.enrollments.with_label_values(&[e.code.label()]).inc();
    e
}

/// Whether this enrollment is allowed: a valid token, or open enrollment within its network's rate.
fn authorize(
    state: &AppState,
    client: Option<IpAddr>,
    token: Option<&str>,
    already_enrolled: bool,
) -> Result<(), HttpError> {
    let cfg = &state.config;
    let tokens = &cfg.enroll_tokens;
    if let Some(t) = token {
        if tokens.iter().any(|good| secret_eq(good, t)) {
            return Ok(());
        }
        if !tokens.is_empty() {
            return Err(HttpError::forbidden(ApiCode::BadToken, "the enrollment token is not valid"));
        }
    }
    if !cfg.open_enrollment {
        return Err(if tokens.is_empty() {
            HttpError::forbidden(ApiCode::EnrollmentClosed, "this collector does not accept enrollments")
        } else {
            HttpError::forbidden(ApiCode::BadToken, "an enrollment token is required")
        });
    }
    if already_enrolled {
        return Ok(());
    }
    state
        .limits
        .open_enrollments
        .take(client)
        .map_err(|wait| HttpError::rate_limited(wait, "too many new enrollments from your network"))
}

/// `POST /api/v1/enroll`.
pub async fn enroll(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    body: Bytes,
) -> Result<Json<EnrollResponse>, HttpError> {
    let req: EnrollRequest = serde_json::from_slice(&body).map_err(|e| {
        enroll_error(
            &state,
            HttpError::bad_request(ApiCode::MalformedJson, format!("request body is not an enrollment: {e}")),
        )
    })?;
    if let Err(e) = vigil_report::limits::version("software_version", &req.software_version) {
        return Err(enroll_error(&state, HttpError::bad_request(ApiCode::BadField, e.to_string())));
    }
    let key = verify_enrollment_proof(&req.public_key, &req.proof).map_err(|e| {
        enroll_error(
            &state,
            match e {
                SignError::KeyEncoding => HttpError::bad_request(ApiCode::BadKeyEncoding, e.to_string()),
                _ => HttpError::bad_request(ApiCode::BadProof, format!("the proof does not verify with this key: {e}")),
            },
        )
    })?;
    if key.is_weak() {
        return Err(enroll_error(&state, HttpError::bad_request(ApiCode::WeakKey, "the key is of small order")));
    }
    let id = key_id(&key);
    let known = state.probe_keys.get(&id);
    let revoked = || HttpError::forbidden(ApiCode::RevokedKey, format!("key {id} is revoked"));
    if known.is_some_and(|k| k.revoked) {
        return Err(enroll_error(&state, revoked()));
    }
    authorize(&state, client, req.token.as_deref(), known.is_some()).map_err(|e| enroll_error(&state, e))?;
    let outcome = state
        .writer
        .enroll(
            id.clone(),
            ProbeKey { key, revoked: false },
            encode_public_key(&key),
            req.software_version,
            now_rfc3339(),
        )
        .await
        .map_err(|e| enroll_error(&state, HttpError::storage(e)))?;
    let label = match outcome {
        EnrollOutcome::New => "new",
        EnrollOutcome::Existing => "existing",
        EnrollOutcome::Revoked => return Err(enroll_error(&state, revoked())),
    };
    state.metrics.enrollments.with_label_values(&[label]).inc();
    let collector = state.current_key().verifying_key();
    Ok(Json(EnrollResponse {
        key_id: id,
        collector_key: encode_public_key(&collector),
        collector_key_id: key_id(&collector),
    }))
}

fn refused(state: &AppState, e: HttpError) -> HttpError {
    state.metrics.submissions_refused.with_label_values(&[e.code.label()]).inc();
    e
}

fn rejected(id: String, code: ApiCode, message: String) -> ItemResult {
    ItemResult { id, status: ItemStatus::Rejected, error: Some(ApiError::new(code, message)) }
}

/// `POST /api/v1/submit`: check every item, store the good ones, answer a signed ack.
pub async fn submit(
    State(state): State<AppState>,
    Origin(origin): Origin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Signed>, HttpError> {
    let started = Instant::now();
    let body = body.map_err(|r| refused(&state, body_error(r, state.config.max_body_bytes)))?;
    let max_batch = state.config.max_batch;
    let req = tokio::task::spawn_blocking(move || parse_request(&body, max_batch))
        .await
        .map_err(HttpError::storage)?
        .map_err(|e| refused(&state, e))?;
    let ctx = CheckContext {
        keys: state.probe_keys.clone(),
        now: OffsetDateTime::now_utc(),
        future_tolerance: state.config.future_tolerance,
        origin,
        platforms: Some(state.platforms.clone()),
    };
    let checked = check_parallel(req.measurements, ctx, state.parallelism).await;

    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(checked.len());
    let mut slots = Vec::new();
    let mut valid = Vec::new();
    for c in checked {
        match c {
            Checked::Valid(m) => {
                slots.push((results.len(), m.id.clone()));
                results.push(None);
                valid.push(*m);
            }
            Checked::Rejected(r) => results.push(Some(rejected(r.id, r.code, r.message))),
        }
    }
    let received_at = now_rfc3339();
    let outcomes = if valid.is_empty() {
        Vec::new()
    } else {
        let stored = state
            .writer
            .insert(received_at.clone(), valid)
            .await
            .map_err(|e| refused(&state, HttpError::storage(e)))?;
        state.detect_wanted.notify_one();
        stored
    };
    for ((slot, id), outcome) in slots.into_iter().zip(outcomes) {
        results[slot] = Some(match outcome {
            InsertOutcome::Accepted => ItemResult { id, status: ItemStatus::Accepted, error: None },
            InsertOutcome::Duplicate => ItemResult { id, status: ItemStatus::Duplicate, error: None },
            InsertOutcome::IdConflict => {
                rejected(id, ApiCode::IdConflict, "this id is already stored under another probe's key".into())
            }
            InsertOutcome::Revoked => rejected(id, ApiCode::RevokedKey, "the key was revoked".into()),
        });
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
    let m = &state.metrics.measurements;
    for r in &results {
        let code = r.error.as_ref().map_or("none", |e| e.code.as_str());
        let status = match r.status {
            ItemStatus::Accepted => "accepted",
            ItemStatus::Duplicate => "duplicate",
            ItemStatus::Rejected => "rejected",
        };
        m.with_label_values(&[status, code]).inc();
    }
    let ack = SubmitAck { kind: "ack".into(), received_at, results };
    let signed = Signed::sign_json(STATEMENT_FORMAT, &ack, &state.current_key())
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, ApiCode::Internal, e.to_string()))?;
    state.metrics.ingest_seconds.with_label_values(&[] as &[&str]).observe(started.elapsed().as_secs_f64());
    Ok(Json(signed))
}

/// `GET /api/v1/probe-config`: the configuration probes follow, signed by the collector.
pub async fn probe_config(State(state): State<AppState>) -> Result<Json<Signed>, HttpError> {
    let cfg = &state.config;
    let fingerprints = state.read(crate::blockpages_store::fingerprints).await?;
    let statement = ProbeConfigStatement {
        kind: "probe-config".into(),
        issued_at: now_rfc3339(),
        interval_minutes: cfg.interval_minutes,
        control_url: cfg.control_url(),
        battery_toml: cfg.battery_toml.clone(),
        fingerprints,
    };
    Signed::sign_json(STATEMENT_FORMAT, &statement, &state.current_key())
        .map(Json)
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, ApiCode::Internal, e.to_string()))
}
