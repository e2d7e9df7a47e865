//! Who may use the control (`POST /api/v1/control`): in `enrolled` mode (the default) only a
//! request signed by an enrolled, unrevoked probe key (`vigil_report::protocol::RequestSignature`,
//! its time within the tolerance), limited per key, refusals limited per client network; `open`
//! serves anyone (labs, public test helpers), limited per network (`routes.rs`); `off` no one.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use time::OffsetDateTime;
use vigil_report::protocol::{REQUEST_KEY_HEADER, REQUEST_SIGNATURE_HEADER, REQUEST_TIME_HEADER, RequestSignature};
use vigil_report::signed::SignError;

use crate::api_probe::client_ip;
use crate::config::{Config, ControlMode};
use crate::error::{ApiCode, HttpError};
use crate::routes::CONTROL_PATH;
use crate::server::AppState;

/// The longest value accepted in one of the three headers (a key id is 32 characters, a
/// signature 88).
const MAX_HEADER_LEN: usize = 128;

/// The control router as `state.config.control_mode` says it is served.
pub fn guard(state: AppState, control: Router) -> Router {
    match state.config.control_mode {
        ControlMode::Open => control,
        ControlMode::Off => Router::new().fallback(disabled),
        ControlMode::Enrolled => control.layer(middleware::from_fn_with_state(state, check)),
    }
}

async fn disabled() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, ApiCode::ControlDisabled, "this collector serves no control (--control off)")
}

fn unauthorized(code: ApiCode, message: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Checks a request's signature before the control sees it; the body is read (bounded) to be
/// hashed and handed on unchanged. A refused request counts against its network's bucket of
/// failed authentications (over it: 429, still before any work for the control); an
/// authenticated one against its key's bucket, so probes behind one address share nothing.
async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = client_ip(request.headers(), request.extensions(), state.config.trust_proxy);
    let (parts, body) = request.into_parts();
    let (key_id, body) = match authenticate(&state, &parts, body).await {
        Ok(ok) => ok,
        Err(refusal) => {
            let failures = &state.limits.control_auth_failures;
            let taken = failures.take(ip);
            let metrics = &state.metrics;
            metrics.rate_limit_networks.with_label_values(&["control_auth"]).set(failures.tracked() as i64);
            return match taken {
                Ok(()) => refusal.into_response(),
                Err(wait) => {
                    metrics.rate_limited.with_label_values(&["control_auth"]).inc();
                    let what = "too many refused control requests from your network (sign them with an enrolled key)";
                    HttpError::rate_limited(wait, what).into_response()
                }
            };
        }
    };
    let keys = &state.limits.control_keys;
    let taken = keys.take_id(&key_id);
    state.metrics.rate_limit_networks.with_label_values(&["control_key"]).set(keys.tracked() as i64);
    if let Err(wait) = taken {
        state.metrics.rate_limited.with_label_values(&["control_key"]).inc();
        return HttpError::rate_limited(wait, &format!("too many control requests signed by key {key_id}"))
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The signing key's id and the body of a request whose signature holds, or why it is refused.
async fn authenticate(state: &AppState, parts: &Parts, body: Body) -> Result<(String, Bytes), HttpError> {
    let signature = signature(&parts.headers)?;
    let key = match state.probe_keys.get(&signature.key_id) {
        None => {
            let message = format!("key {} is not enrolled with this collector", signature.key_id);
            return Err(unauthorized(ApiCode::UnknownKey, message));
        }
        Some(k) if k.revoked => {
            return Err(unauthorized(ApiCode::RevokedKey, format!("key {} was revoked", signature.key_id)));
        }
        Some(k) => k.key,
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let tolerance = i64::try_from(state.config.control_clock_tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(signature.unix_time) > tolerance.unsigned_abs() {
        let message = format!(
            "the request was signed at {} (Unix seconds) and the collector's clock says {now}: more than {tolerance} s apart",
            signature.unix_time
        );
        return Err(unauthorized(ApiCode::ClockSkew, message));
    }
    let body = read_body(&parts.headers, body).await?;
    let paths = signed_paths(&state.config);
    let mut verified = Ok(());
    for path in &paths {
        verified = signature.verify(&key, parts.method.as_str(), path, &body);
        if verified.is_ok() {
            break;
        }
    }
    if let Err(e) = verified {
        let message = format!("{e} (signed: method, path {}, time and body; docs/collector.md)", paths.join(" or "));
        let code = match e {
            SignError::SignatureEncoding => ApiCode::BadSignatureEncoding,
            _ => ApiCode::BadSignature,
        };
        return Err(unauthorized(code, message));
    }
    Ok((signature.key_id, body))
}

/// The paths a probe may have signed: [`CONTROL_PATH`], and the path of the `control_url`
/// announced to probes when `--public-url` has a prefix (a reverse proxy that strips it).
fn signed_paths(config: &Config) -> Vec<String> {
    let mut paths = vec![CONTROL_PATH.to_string()];
    let announced = config.control_url().and_then(|u| url::Url::parse(&u).ok()).map(|u| u.path().to_string());
    paths.extend(announced.filter(|p| p != CONTROL_PATH));
    paths
}

/// The three headers, or why they are unusable.
fn signature(headers: &HeaderMap) -> Result<RequestSignature, HttpError> {
    let get = |name: &str| -> Result<Option<String>, HttpError> {
        let Some(value) = headers.get(name) else { return Ok(None) };
        match value.to_str() {
            Ok(v) if v.len() <= MAX_HEADER_LEN => Ok(Some(v.trim().to_string())),
            _ => Err(unauthorized(
                ApiCode::BadSignatureEncoding,
                format!("header {name} is not ASCII text of at most {MAX_HEADER_LEN} bytes"),
            )),
        }
    };
    let (key_id, time, signature) =
        (get(REQUEST_KEY_HEADER)?, get(REQUEST_TIME_HEADER)?, get(REQUEST_SIGNATURE_HEADER)?);
    let (Some(key_id), Some(time), Some(signature)) = (key_id, time, signature) else {
        return Err(unauthorized(
            ApiCode::Unauthorized,
            format!(
                "this control serves enrolled probes only: sign the request with the probe's key \
                 (headers {REQUEST_KEY_HEADER}, {REQUEST_TIME_HEADER}, {REQUEST_SIGNATURE_HEADER})"
            ),
        ));
    };
    let unix_time = time.parse::<i64>().map_err(|_| {
        unauthorized(
            ApiCode::BadSignatureEncoding,
            format!("header {REQUEST_TIME_HEADER} is not Unix seconds: {time:?}"),
        )
    })?;
    // The signature's encoding is checked here too, before the key is looked up (the documented
    // order: every encoding fault is `bad_signature_encoding`, whatever the key).
    let decoded = B64.decode(&signature).ok().filter(|b| b.len() == 64);
    if decoded.is_none() {
        return Err(unauthorized(
            ApiCode::BadSignatureEncoding,
            format!("header {REQUEST_SIGNATURE_HEADER} is not standard base64 of 64 bytes"),
        ));
    }
    Ok(RequestSignature { key_id, unix_time, signature })
}

/// The body, at most the control's limit; a declared or actual length over it is `body_too_large`.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, HttpError> {
    let limit = vigil_control::MAX_REQUEST_BYTES;
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::BodyTooLarge,
            format!("request body larger than {limit} bytes"),
        )
    };
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            cause = c.source();
        }
        HttpError::bad_request(ApiCode::BadRequest, format!("unreadable body: {e}"))
    })
}
