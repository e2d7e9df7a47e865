//! Operator endpoints, behind `Authorization: Bearer <operator token>`: list probes, revoke a
//! key, rotate the collector key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use vigil_report::protocol::KeyRotation;
use vigil_report::signed::{encode_public_key, key_id};
use vigil_report::{STATEMENT_FORMAT, Signed};

use crate::config::secret_eq;
use crate::error::{ApiCode, HttpError};
use crate::keys;
use crate::server::{AppState, now_rfc3339};
use crate::store::{self, ProbeRow};

/// Check the operator token (`admin_disabled` when none is configured, `unauthorized` when wrong).
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), HttpError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    authorize_token(state, given)
}

/// Check an operator token given some other way (the operator page's form).
pub fn authorize_token(state: &AppState, given: Option<&str>) -> Result<(), HttpError> {
    let Some(expected) = &state.config.operator_token else {
        return Err(HttpError::forbidden(ApiCode::AdminDisabled, "no operator token is configured"));
    };
    match given {
        Some(t) if secret_eq(expected, t) => Ok(()),
        _ => Err(HttpError::new(StatusCode::UNAUTHORIZED, ApiCode::Unauthorized, "missing or wrong operator token")),
    }
}

/// `GET /api/v1/admin/probes`.
pub async fn probes(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<ProbeRow>>, HttpError> {
    authorize(&state, &headers)?;
    Ok(Json(state.read(store::probes).await?))
}

/// The answer to a revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub key_id: String,
    pub revoked_at: String,
}

/// `POST /api/v1/admin/probes/{key_id}/revoke` (idempotent: the first revocation time stays).
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key_id): Path<String>,
) -> Result<Json<Revoked>, HttpError> {
    authorize(&state, &headers)?;
    match state.writer.revoke(key_id.clone(), now_rfc3339()).await.map_err(HttpError::storage)? {
        Some(revoked_at) => Ok(Json(Revoked { key_id, revoked_at })),
        None => Err(HttpError::not_found(format!("no probe with key id {key_id:?}"))),
    }
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, ApiCode::Internal, e.to_string())
}

/// `POST /api/v1/admin/rotate-key`: a new collector key, announced by a statement signed with
/// the old one. The new key is staged on disk, the statement committed, then the key promoted.
pub async fn rotate_key(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Signed>, HttpError> {
    authorize(&state, &headers)?;
    let _one_at_a_time = state.rotation.lock().await;
    let old = state.current_key();
    let new = keys::generate().map_err(internal)?;
    let key_path = state.config.key_path();
    let staged = keys::staged_path(&key_path);
    let staged_key = new.clone();
    tokio::task::spawn_blocking(move || keys::write(&staged, &staged_key))
        .await
        .map_err(internal)?
        .map_err(HttpError::storage)?;
    let vk = new.verifying_key();
    let now = now_rfc3339();
    let rotation = KeyRotation {
        kind: "key-rotation".into(),
        issued_at: now.clone(),
        new_key: encode_public_key(&vk),
        new_key_id: key_id(&vk),
    };
    let statement = Signed::sign_json(STATEMENT_FORMAT, &rotation, &old).map_err(internal)?;
    let text = serde_json::to_string(&statement).map_err(internal)?;
    state
        .writer
        .rotate(key_id(&old.verifying_key()), key_id(&vk), encode_public_key(&vk), text, now)
        .await
        .map_err(HttpError::storage)?;
    tokio::task::spawn_blocking(move || keys::recover_rotation(&key_path, |_| true))
        .await
        .map_err(internal)?
        .map_err(HttpError::storage)?;
    *state.collector_key.write().unwrap_or_else(|e| e.into_inner()) = new;
    Ok(Json(statement))
}
