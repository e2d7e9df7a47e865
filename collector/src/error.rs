//! Errors: the JSON error every endpoint answers with, and the collector's startup errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use vigil_report::protocol::ApiCode;
use vigil_report::protocol::{ApiError, ErrorBody};

/// An HTTP error answered as `{"error": {"code", "message"}}`; `code` is one of [`ApiCode`]'s
/// stable labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: ApiCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ApiCode, message: impl Into<String>) -> HttpError {
        HttpError { status, code, message: message.into(), retry_after: None }
    }

    pub fn bad_request(code: ApiCode, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn forbidden(code: ApiCode, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, ApiCode::NotFound, message)
    }

    /// 429 `rate_limited` with a `Retry-After` of `wait` (rounded up to whole seconds).
    pub fn rate_limited(wait: std::time::Duration, what: &str) -> HttpError {
        let secs = crate::ratelimit::retry_after_secs(wait);
        let message = format!("{what}; try again in {secs} s");
        HttpError {
            retry_after: Some(secs),
            ..HttpError::new(StatusCode::TOO_MANY_REQUESTS, ApiCode::RateLimited, message)
        }
    }

    /// The database could not be read or written: the request may be retried.
    pub fn storage(err: impl std::fmt::Display) -> HttpError {
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, ApiCode::StorageError, format!("storage failed: {err}"))
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ApiError::new(self.code, self.message.clone()) }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// Errors starting or running the collector (not per request).
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
    #[error("database {path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("database {path} has schema version {found}, newer than this collector knows ({known})")]
    SchemaTooNew { path: String, found: i64, known: i64 },
    #[error("collector key {path}: {message}")]
    Key { path: String, message: String },
    #[error("ASN database {path}, line {line}: {message}")]
    AsnDb { path: String, line: usize, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("the storage writer has stopped")]
    WriterGone,
}

impl CollectorError {
    /// A stable short label for logs and exit messages.
    pub fn label(&self) -> &'static str {
        match self {
            CollectorError::Io { .. } => "io_error",
            CollectorError::Db { .. } => "db_error",
            CollectorError::SchemaTooNew { .. } => "schema_too_new",
            CollectorError::Key { .. } => "key_error",
            CollectorError::AsnDb { .. } => "asn_db_error",
            CollectorError::Config(_) => "config_invalid",
            CollectorError::WriterGone => "writer_gone",
        }
    }

    pub fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> CollectorError {
        CollectorError::Io { op, path: path.display().to_string(), source }
    }
}
