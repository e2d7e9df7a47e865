//! The route table: every route the collector serves, recorded as it is added so the OpenAPI
//! document can be checked against it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::api_admin;
use crate::api_events;
use crate::api_probe;
use crate::api_public;
use crate::config::DEFAULT_MAX_BODY_BYTES;
use crate::server::AppState;

/// A router under construction and the (method, path) pairs it serves.
struct Table {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl Table {
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Table
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path));
        self
    }

    /// Mount another crate's router at `path`; it serves `method` there.
    fn nest(mut self, method: Method, path: &'static str, router: Option<Router>) -> Table {
        if let Some(r) = router {
            self.router = self.router.nest_service(path, r);
        }
        self.routes.push((method, path));
        self
    }
}

/// Where the control (vigil-control's `POST /`) is mounted.
pub const CONTROL_PATH: &str = "/api/v1/control";

fn build(max_body_bytes: usize, control: Option<Router>) -> Table {
    let t = Table { router: Router::new(), routes: Vec::new() };
    let submit = api_probe::submit.layer(DefaultBodyLimit::max(max_body_bytes));
    // The import reads its body itself, after checking the operator token, up to its own limit.
    let disclosure_import = crate::api_disclosures::import.layer(DefaultBodyLimit::disable());
    let t = t
        .add(Method::POST, "/api/v1/enroll", api_probe::enroll)
        .add(Method::POST, "/api/v1/submit", submit)
        .add(Method::GET, "/api/v1/probe-config", api_probe::probe_config)
        .add(Method::GET, "/api/v1/collector-keys", api_public::collector_keys)
        .add(Method::GET, "/api/v1/probe-keys", api_public::probe_keys)
        .add(Method::GET, "/api/v1/measurements", crate::api_measurements::list)
        .add(Method::GET, "/api/v1/measurements.jsonl", crate::api_measurements::export)
        .add(Method::GET, "/api/v1/measurements/{id}", api_public::measurement)
        .add(Method::GET, "/api/v1/events", api_events::list_events)
        .add(Method::GET, "/api/v1/events.csv", api_events::list_events_csv)
        .add(Method::GET, "/api/v1/events/{id}", api_events::event)
        .add(Method::GET, "/api/v1/events/{id}/evidence", api_events::event_evidence)
        .add(Method::GET, "/api/v1/feed.atom", api_events::feed)
        .add(Method::GET, "/api/v1/disclosures", crate::api_disclosures::list)
        .add(Method::GET, "/api/v1/reconciliation", crate::api_disclosures::reconciliation)
        .add(Method::GET, "/api/v1/reconciliation.csv", crate::api_disclosures::reconciliation_csv)
        .add(Method::GET, "/api/v1/scorecard", crate::api_disclosures::scorecard)
        .add(Method::GET, "/api/v1/scorecard.csv", crate::api_disclosures::scorecard_csv)
        .add(Method::GET, "/disclosures", crate::web::disclosures)
        .add(Method::GET, "/api/v1/timeline", crate::api_timeline::timeline)
        .add(Method::GET, "/api/v1/charts/country/{file}", crate::api_charts::country)
        .add(Method::GET, "/api/v1/charts/asn/{file}", crate::api_charts::asn)
        .add(Method::GET, "/api/v1/charts/event/{file}", crate::api_charts::event)
        .add(Method::GET, "/api/v1/health", api_public::health)
        .add(Method::GET, "/metrics", api_public::metrics)
        .add(Method::GET, "/api/v1/openapi.json", api_public::openapi)
        .add(Method::GET, "/api/v1/admin/probes", api_admin::probes)
        .add(Method::POST, "/api/v1/admin/probes/{key_id}/revoke", api_admin::revoke)
        .add(Method::POST, "/api/v1/admin/rotate-key", api_admin::rotate_key)
        .add(Method::GET, "/", crate::web::overview)
        .add(Method::GET, "/country/{cc}", crate::web::country)
        .add(Method::GET, "/asn/{asn}", crate::web::asn)
        .add(Method::GET, "/event/{id}", crate::web::event)
        .add(Method::GET, "/static/{file}", crate::web::asset)
        .add(Method::POST, "/api/v1/admin/disclosures", disclosure_import);
    t.nest(Method::POST, CONTROL_PATH, control)
}

/// Every (method, path) the router serves, in axum's path syntax (`{param}`, as OpenAPI).
pub fn table() -> Vec<(Method, &'static str)> {
    build(DEFAULT_MAX_BODY_BYTES, None).routes
}

/// The collector's router, with the control router mounted at [`CONTROL_PATH`].
pub fn router(state: AppState, control: Router) -> Router {
    let bodies = std::sync::Arc::new(body_limits(&state.config));
    build(state.config.max_body_bytes, Some(control))
        .router
        .fallback(api_public::not_found)
        .method_not_allowed_fallback(api_public::method_not_allowed)
        // A declared body over the route's limit gets 413 before it is read; a slow one 408.
        .layer(axum::middleware::from_fn_with_state(bodies, crate::limits::guard_body))
        // gzip for clients that ask (browsers: pages, feeds, CSV, JSON, SVG shrink several times;
        // PNGs are left alone); probes do not ask, so submissions and acks are unchanged.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
        // A handler that panics answers 500 instead of dropping the connection (release builds
        // abort on panic: there the cure is not panicking).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// The request body limit of each route that takes one: submit, the control and the disclosure
/// import have their own; every other route the small default.
pub fn body_limits(config: &crate::config::Config) -> crate::limits::BodyLimits {
    crate::limits::BodyLimits {
        routes: vec![
            ("/api/v1/submit", config.max_body_bytes),
            (CONTROL_PATH, vigil_control::MAX_REQUEST_BYTES),
            ("/api/v1/admin/disclosures", crate::api_disclosures::MAX_IMPORT_BYTES),
        ],
        default: config.max_other_body_bytes,
        timeout: config.body_timeout,
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::error::HttpError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        .into_response()
}
