//! Public read endpoints: published keys, stored measurements, health, metrics, the OpenAPI
//! document, and the JSON answers for unknown routes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vigil_report::Signed;
use vigil_report::protocol::PublishedKey;

use crate::error::{ApiCode, HttpError};
use crate::server::AppState;
use crate::store;

/// The hand-written OpenAPI 3.1 document of this API.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `GET /api/v1/collector-keys`: the key rotation statements, oldest first.
pub async fn collector_keys(State(state): State<AppState>) -> Result<Json<Vec<Signed>>, HttpError> {
    let rows = state.read(store::rotations).await?;
    let statements = rows
        .iter()
        .map(|text| serde_json::from_str(text))
        .collect::<Result<Vec<Signed>, _>>()
        .map_err(HttpError::storage)?;
    Ok(Json(statements))
}

/// `GET /api/v1/probe-keys`: every enrolled probe key, revoked ones with their revocation time.
pub async fn probe_keys(State(state): State<AppState>) -> Result<Json<Vec<PublishedKey>>, HttpError> {
    Ok(Json(state.read(store::published_keys).await?))
}

/// `GET /api/v1/measurements/{id}`: the stored envelope, as the probe signed it.
pub async fn measurement(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Signed>, HttpError> {
    let wanted = id.clone();
    match state.read(move |c| store::measurement(c, &wanted)).await? {
        Some(signed) => Ok(Json(signed)),
        None => Err(HttpError::not_found(format!("no measurement with id {id:?}"))),
    }
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    schema_version: i64,
    probes: u64,
    measurements: u64,
    collector_key_id: String,
}

/// `GET /api/v1/health`.
pub async fn health(State(state): State<AppState>) -> Result<Response, HttpError> {
    let (version, counts) = state.read(|c| Ok((store::schema_version(c)?, store::counts(c)?))).await?;
    let key = vigil_report::signed::key_id(&state.current_key().verifying_key());
    let body = Health {
        status: "ok",
        schema_version: version,
        probes: counts.probes,
        measurements: counts.measurements,
        collector_key_id: key,
    };
    Ok(Json(body).into_response())
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let db = state.config.db_path();
    let text = tokio::task::spawn_blocking(move || state.metrics.render(&db)).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

pub async fn not_found() -> HttpError {
    HttpError::not_found("no such route")
}

pub async fn method_not_allowed() -> HttpError {
    HttpError::new(StatusCode::METHOD_NOT_ALLOWED, ApiCode::MethodNotAllowed, "this route does not accept that method")
}
