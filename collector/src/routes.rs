//! The route table: every route the collector serves, recorded as it is added so the OpenAPI
//! document can be checked against it.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};

use crate::api_admin;
use crate::api_events;
use crate::api_probe;
use crate::api_probe::client_ip;
use crate::api_public;
use crate::config::{ControlMode, DEFAULT_MAX_BODY_BYTES};
use crate::error::HttpError;
use crate::ratelimit::Class;
use crate::server::AppState;

/// A router under construction, the (method, path) pairs it serves and those rate-limited per
/// client network (with the state, when building the served router).
struct Table {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
    limited: Vec<(Method, &'static str, Class)>,
    state: Option<AppState>,
}

/// Count the request against its client network's bucket of `class`: over the limit, 429
/// `rate_limited` with `Retry-After`. The address is hashed into the key and dropped.
async fn limit(State((state, class)): State<(AppState, Class)>, req: Request, next: Next) -> Response {
    let ip = client_ip(req.headers(), req.extensions(), state.config.trust_proxy);
    let buckets = state.limits.of(class);
    let taken = buckets.take(ip);
    state.metrics.rate_limit_networks.with_label_values(&[class.label()]).set(buckets.tracked() as i64);
    match taken {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            state.metrics.rate_limited.with_label_values(&[class.label()]).inc();
            let what = format!("too many {} requests from your network", class.label());
            HttpError::rate_limited(wait, &what).into_response()
        }
    }
}

impl Table {
    fn add<H, T>(self, method: Method, path: &'static str, handler: H) -> Table
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(method, path, handler, None)
    }

    /// A route rate-limited per client network as `class`.
    fn limited<H, T>(self, class: Class, method: Method, path: &'static str, handler: H) -> Table
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(method, path, handler, Some(class))
    }

    fn route<H, T>(mut self, method: Method, path: &'static str, handler: H, class: Option<Class>) -> Table
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        let mut route = on(filter, handler);
        if let (Some(class), Some(state)) = (class, &self.state) {
            route = route.layer(from_fn_with_state((state.clone(), class), limit));
        }
        self.router = self.router.route(path, route);
        if let Some(class) = class {
            self.limited.push((method.clone(), path, class));
        }
        self.routes.push((method, path));
        self
    }

    /// Mount another crate's router at `path`; it serves `method` there, limited as `class`.
    fn nest(mut self, class: Class, method: Method, path: &'static str, router: Option<Router>) -> Table {
        if let Some(mut r) = router {
            // The enrolled-only control is limited after authentication, per probe key (and
            // failed authentications per network): `control_auth`.
            let enrolled_control = |s: &AppState| class == Class::Control && s.config.control_mode != ControlMode::Open;
            if let Some(state) = self.state.as_ref().filter(|s| !enrolled_control(s)) {
                r = r.layer(from_fn_with_state((state.clone(), class), limit));
            }
            self.router = self.router.nest_service(path, r);
        }
        self.limited.push((method.clone(), path, class));
        self.routes.push((method, path));
        self
    }
}

/// Where the control (vigil-control's `POST /`) is mounted.
pub const CONTROL_PATH: &str = "/api/v1/control";

fn build(max_body_bytes: usize, control: Option<Router>, state: Option<AppState>) -> Table {
    let t = Table { router: Router::new(), routes: Vec::new(), limited: Vec::new(), state };
    let read = Class::Read;
    let submit = api_probe::submit.layer(DefaultBodyLimit::max(max_body_bytes));
    // The import reads its body itself, after checking the operator token, up to its own limit.
    let disclosure_import = crate::api_disclosures::import.layer(DefaultBodyLimit::disable());
    let t = t
        .limited(Class::Enroll, Method::POST, "/api/v1/enroll", api_probe::enroll)
        .add(Method::POST, "/api/v1/submit", submit)
        .add(Method::GET, "/api/v1/probe-config", api_probe::probe_config)
        .add(Method::GET, "/api/v1/collector-keys", api_public::collector_keys)
        .add(Method::GET, "/api/v1/probe-keys", api_public::probe_keys)
        .limited(read, Method::GET, "/api/v1/measurements", crate::api_measurements::list)
        .limited(read, Method::GET, "/api/v1/measurements.jsonl", crate::api_measurements::export)
        .add(Method::GET, "/api/v1/measurements/{id}", api_public::measurement)
        .limited(read, Method::GET, "/api/v1/events", api_events::list_events)
        .limited(read, Method::GET, "/api/v1/events.csv", api_events::list_events_csv)
        .add(Method::GET, "/api/v1/events/{id}", api_events::event)
        .limited(read, Method::GET, "/api/v1/events/{id}/evidence", api_events::event_evidence)
        .add(Method::GET, "/api/v1/feed.atom", api_events::feed)
        .limited(read, Method::GET, "/api/v1/disclosures", crate::api_disclosures::list)
        .limited(read, Method::GET, "/api/v1/reconciliation", crate::api_disclosures::reconciliation)
        .limited(read, Method::GET, "/api/v1/reconciliation.csv", crate::api_disclosures::reconciliation_csv)
        .limited(read, Method::GET, "/api/v1/scorecard", crate::api_disclosures::scorecard)
        .limited(read, Method::GET, "/api/v1/scorecard.csv", crate::api_disclosures::scorecard_csv)
        .limited(read, Method::GET, "/disclosures", crate::web::disclosures)
        .limited(read, Method::GET, "/api/v1/timeline", crate::api_timeline::timeline)
        .limited(read, Method::GET, "/api/v1/charts/country/{file}", crate::api_charts::country)
        .limited(read, Method::GET, "/api/v1/charts/asn/{file}", crate::api_charts::asn)
        .limited(read, Method::GET, "/api/v1/charts/event/{file}", crate::api_charts::event)
        .add(Method::GET, "/api/v1/health", api_public::health)
        .add(Method::GET, "/metrics", api_public::metrics)
        .add(Method::GET, "/api/v1/openapi.json", api_public::openapi)
        .add(Method::GET, "/api/v1/admin/probes", api_admin::probes)
        .add(Method::POST, "/api/v1/admin/probes/{key_id}/revoke", api_admin::revoke)
        .add(Method::POST, "/api/v1/admin/rotate-key", api_admin::rotate_key)
        .limited(read, Method::GET, "/api/v1/blockpage-candidates", crate::api_blockpages::list)
        .add(Method::POST, "/api/v1/admin/blockpage-candidates/{id}/promote", crate::api_blockpages::promote)
        .add(Method::POST, "/api/v1/admin/blockpage-candidates/{id}/withdraw", crate::api_blockpages::withdraw)
        .limited(read, Method::GET, "/operator/blockpages", crate::web_blockpages::list)
        .add(Method::POST, "/operator/blockpages/{id}/promote", crate::web_blockpages::promote)
        .limited(read, Method::GET, "/", crate::web::overview)
        .limited(read, Method::GET, "/country/{cc}", crate::web::country)
        .limited(read, Method::GET, "/asn/{asn}", crate::web::asn)
        .limited(read, Method::GET, "/event/{id}", crate::web::event)
        .add(Method::GET, "/static/{file}", crate::web::asset)
        .add(Method::POST, "/api/v1/admin/disclosures", disclosure_import);
    t.nest(Class::Control, Method::POST, CONTROL_PATH, control)
}

/// Every (method, path) the router serves, in axum's path syntax (`{param}`, as OpenAPI).
pub fn table() -> Vec<(Method, &'static str)> {
    build(DEFAULT_MAX_BODY_BYTES, None, None).routes
}

/// The routes rate-limited per client network, and as what (they may answer 429).
pub fn rate_limited() -> Vec<(Method, &'static str, Class)> {
    build(DEFAULT_MAX_BODY_BYTES, None, None).limited
}

/// The collector's router, with the control router mounted at [`CONTROL_PATH`].
pub fn router(state: AppState, control: Router) -> Router {
    let bodies = std::sync::Arc::new(body_limits(&state.config));
    build(state.config.max_body_bytes, Some(control), Some(state.clone()))
        .router
        // Every route's query is checked against its parameters' bounds (`params`) first.
        .route_layer(axum::middleware::from_fn(crate::params::check))
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
    crate::error::HttpError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        crate::error::ApiCode::Internal,
        "internal error",
    )
    .into_response()
}
