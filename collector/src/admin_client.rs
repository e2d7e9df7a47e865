//! A thin HTTP client for the admin endpoints (`vigil-collector admin ...`).

use reqwest::Method;
use vigil_report::protocol::ErrorBody;

/// Errors talking to a collector's admin API.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url}: {status}: {code}: {message}")]
    Api { url: String, status: u16, code: String, message: String },
}

/// Call `method path` on `collector` with the operator token; the answer's JSON text.
pub async fn call(collector: &str, token: &str, method: Method, path: &str) -> Result<String, AdminError> {
    call_with(collector, token, method, path, None).await
}

/// [`call`] with a JSON body.
pub async fn call_with(
    collector: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<String, AdminError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}{path}", collector.trim_end_matches('/'));
    let http = |source| AdminError::Http { url: url.clone(), source };
    let client = reqwest::Client::builder().build().map_err(http)?;
    let mut req = client.request(method, &url).bearer_auth(token);
    if let Some(b) = body {
        req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b);
    }
    let resp = req.send().await.map_err(http)?;
    let status = resp.status();
    let text = resp.text().await.map_err(http)?;
    if status.is_success() {
        return Ok(text);
    }
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => ("http_error".to_string(), text),
    };
    Err(AdminError::Api { url, status: status.as_u16(), code, message })
}

pub async fn probes(collector: &str, token: &str) -> Result<String, AdminError> {
    call(collector, token, Method::GET, "/api/v1/admin/probes").await
}

pub async fn revoke(collector: &str, token: &str, key_id: &str) -> Result<String, AdminError> {
    call(collector, token, Method::POST, &format!("/api/v1/admin/probes/{key_id}/revoke")).await
}

pub async fn rotate_key(collector: &str, token: &str) -> Result<String, AdminError> {
    call(collector, token, Method::POST, "/api/v1/admin/rotate-key").await
}

pub async fn blockpages(collector: &str, token: &str) -> Result<String, AdminError> {
    call(collector, token, Method::GET, "/api/v1/blockpage-candidates?limit=50").await
}

pub async fn promote(
    collector: &str,
    token: &str,
    cluster_id: &str,
    pattern: Option<&str>,
) -> Result<String, AdminError> {
    let body = serde_json::json!({ "pattern": pattern }).to_string();
    let path = format!("/api/v1/admin/blockpage-candidates/{cluster_id}/promote");
    call_with(collector, token, Method::POST, &path, Some(body)).await
}

pub async fn withdraw(collector: &str, token: &str, cluster_id: &str) -> Result<String, AdminError> {
    call(collector, token, Method::POST, &format!("/api/v1/admin/blockpage-candidates/{cluster_id}/withdraw")).await
}
