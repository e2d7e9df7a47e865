//! The control's HTTP face: `POST /` with a JSON [`ControlRequest`], answered with a
//! [`ControlResponse`] or an [`ErrorBody`] (`bad_request`, `body_too_large`, `target_not_public`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use vigil_report::ControlRequest;
use vigil_report::protocol::{ApiError, ErrorBody};

use crate::{ControlConfig, ControlError, measure};

/// The largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// `POST /`: the control endpoint probes ask.
pub fn router(cfg: Arc<ControlConfig>) -> axum::Router {
    axum::Router::new().route("/", post(handle)).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)).with_state(cfg)
}

async fn handle(State(cfg): State<Arc<ControlConfig>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(&ControlError::BodyTooLarge(MAX_REQUEST_BYTES));
        }
        Err(rejection) => {
            return error_response(&ControlError::BadRequest(format!("unreadable body: {}", rejection.body_text())));
        }
    };
    let request: ControlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error_response(&ControlError::BadRequest(format!("invalid ControlRequest JSON: {e}"))),
    };
    match measure(&request, &cfg).await {
        Ok(response) => Json(response).into_response(),
        Err(e) => error_response(&e),
    }
}

fn error_response(err: &ControlError) -> Response {
    let body = ErrorBody { error: ApiError { code: err.code().to_string(), message: err.to_string() } };
    (err.status(), Json(body)).into_response()
}
