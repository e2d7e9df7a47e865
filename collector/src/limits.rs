//! The HTTP serve loop and its limits: header, idle and body timeouts, a cap on connections
//! (refused at once over it), and declared body sizes answered 413 before the body is read.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, FD_RESERVE};
use crate::error::{ApiCode, HttpError};

/// The limits of the serve loop, from the configuration.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// Connections served at once (already fitted to the descriptor limit, see [`fitted_cap`]).
    pub max_connections: usize,
}

impl ServeLimits {
    pub fn from_config(c: &Config) -> ServeLimits {
        ServeLimits {
            header_read_timeout: c.header_read_timeout,
            idle_timeout: c.idle_timeout,
            max_connections: fitted_cap(c.max_connections),
        }
    }
}

/// `configured`, lowered so that the connections and [`FD_RESERVE`] other descriptors fit the
/// process's descriptor limit (`RLIMIT_NOFILE`): past it, accepting fails and every new client
/// waits, while under it a client over the cap is told so at once.
pub fn fitted_cap(configured: usize) -> usize {
    let soft = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) if soft != rlimit::INFINITY => soft,
        _ => return configured.max(1),
    };
    let room = soft.saturating_sub(FD_RESERVE).max(soft / 2).max(1);
    let cap = configured.min(usize::try_from(room).unwrap_or(usize::MAX)).max(1);
    if cap < configured {
        eprintln!(
            "vigil-collector: serving at most {cap} connections at once (not {configured}): the descriptor limit \
             is {soft} and {FD_RESERVE} are kept for the database and the control"
        );
    }
    cap.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize)
}

/// When a connection last moved a byte, and whether a request is being handled on it.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity { start: Instant::now(), last: AtomicU64::new(0), busy: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// When to look again whether the connection has been idle for `idle`.
    fn next_check(&self, idle: Duration) -> Instant {
        if self.busy.load(Ordering::Relaxed) > 0 { Instant::now() + idle } else { self.last() + idle }
    }

    fn idle_for(&self, idle: Duration) -> bool {
        self.busy.load(Ordering::Relaxed) == 0 && self.last() + idle <= Instant::now()
    }
}

/// A request in flight on a connection (it is not idle meanwhile).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records when it last read or wrote a byte.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accept errors that concern one connection only: go on at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted)
}

/// Answer a connection over the cap with a 503 (if the socket takes it at once) and close it.
fn refuse(tcp: TcpStream) {
    let body = HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ApiCode::TooManyConnections,
        "the collector serves as many connections as it can; retry in a moment",
    )
    .body();
    let body = serde_json::to_string(&body).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: \
         1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tcp.try_write(format!("{head}{body}").as_bytes());
}

/// Serve `app` on `listener` with `limits` until `shutdown` is cancelled; then stop accepting,
/// let requests in flight finish for up to `grace`, and close what is left.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(cap));
    // Cancelled when the grace period is over: the connections left are dropped.
    let kill = CancellationToken::new();
    let mut pause = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => {
                pause = Duration::ZERO;
                c
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: spinning would not help, and
                // connections closing meanwhile free what the next accept needs.
                if pause.is_zero() {
                    eprintln!("vigil-collector: accepting connections failed ({e}); retrying");
                }
                pause = (pause * 2).clamp(Duration::from_millis(10), Duration::from_millis(500));
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refuse(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = connection(tcp, peer, app.clone(), limits.clone(), shutdown.clone(), kill.clone());
        tokio::spawn(async move {
            conn.await;
            drop(permit);
        });
    }
    drop(listener);
    // Every slot back: every connection closed.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all)).await.is_err() {
        kill.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
    }
}

/// Serve one connection until the client closes it, a limit closes it, or the shutdown does.
fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
    kill: CancellationToken,
) -> impl Future<Output = ()> + Send {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: tcp, activity: activity.clone() });
    let router = TowerToHyperService::new(app);
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::new(&tracked);
        let response = hyper::service::Service::call(&router, req);
        async move {
            let r = response.await;
            drop(busy);
            r
        }
    });
    async move {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
        let mut conn = pin!(builder.serve_connection(io, service));
        let mut draining = false;
        loop {
            let check = activity.next_check(limits.idle_timeout);
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = shutdown.cancelled(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = kill.cancelled() => break,
                _ = tokio::time::sleep_until(check) => {
                    if activity.idle_for(limits.idle_timeout) {
                        break;
                    }
                }
            }
        }
    }
}

/// Body limits by route, and the time a whole body may take.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Routes with their own limit (exact paths).
    pub routes: Vec<(&'static str, usize)>,
    /// Every other route.
    pub default: usize,
    pub timeout: Duration,
}

impl BodyLimits {
    pub fn for_path(&self, path: &str) -> usize {
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        self.routes.iter().find(|(p, _)| *p == path).map_or(self.default, |(_, n)| *n)
    }
}

fn too_large(limit: usize) -> Response {
    let e = HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ApiCode::BodyTooLarge,
        format!("request body is larger than {limit} bytes"),
    );
    closing(e.into_response())
}

fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

const ENDED: u8 = 1;
const EXPIRED: u8 = 2;
const OVERSIZE: u8 = 3;

/// A request body that fails once its deadline passes or it grows over its limit; `state`
/// tells the middleware which.
struct Guarded {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    seen: usize,
    limit: usize,
    state: Arc<AtomicU8>,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.state.load(Ordering::Relaxed) {
            ENDED => return Poll::Ready(None),
            EXPIRED | OVERSIZE => return Poll::Ready(Some(Err("request body refused".into()))),
            _ => {}
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.seen = this.seen.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                if this.seen > this.limit {
                    this.state.store(OVERSIZE, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(format!("request body over {} bytes", this.limit).into())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.state.store(ENDED, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.state.store(EXPIRED, Ordering::Relaxed);
                    return Poll::Ready(Some(Err("request body timed out".into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: a declared body over the route's limit is answered 413 before it is read; a body
/// that takes longer than the timeout is answered 408, one that grows over the limit 413.
pub async fn guard_body(State(limits): State<Arc<BodyLimits>>, req: Request, next: Next) -> Response {
    let limit = limits.for_path(req.uri().path());
    let declared =
        req.headers().get(header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
    match declared {
        // hyper refuses an unparsable Content-Length before the request gets here.
        Some(Some(n)) if n > limit as u64 => return too_large(limit),
        Some(Some(0)) => return next.run(req).await,
        None if !req.headers().contains_key(header::TRANSFER_ENCODING) => return next.run(req).await,
        _ => {}
    }
    let state = Arc::new(AtomicU8::new(0));
    let guarded = state.clone();
    let timeout = limits.timeout;
    let req = req.map(move |inner| {
        Body::new(Guarded { inner, deadline: Box::pin(tokio::time::sleep(timeout)), seen: 0, limit, state: guarded })
    });
    let response = next.run(req).await;
    match state.load(Ordering::Relaxed) {
        EXPIRED => closing(
            HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                ApiCode::RequestTimeout,
                format!("the request body did not arrive within {} s", timeout.as_secs_f64()),
            )
            .into_response(),
        ),
        OVERSIZE => too_large(limit),
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_have_their_own_limits_and_the_rest_the_default() {
        let l = BodyLimits {
            routes: vec![("/api/v1/submit", 100), ("/api/v1/control", 10)],
            default: 5,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(l.for_path("/api/v1/submit"), 100);
        assert_eq!(l.for_path("/api/v1/control/"), 10);
        assert_eq!(l.for_path("/api/v1/enroll"), 5);
        assert_eq!(l.for_path("/api/v1/submit/x"), 5);
        assert_eq!(l.for_path("/"), 5);
    }

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let cap = fitted_cap(usize::MAX);
        assert!(cap >= 1);
        if soft != rlimit::INFINITY {
            assert!((cap as u64) < soft, "{cap} connections do not fit {soft} descriptors");
        }
        assert_eq!(fitted_cap(3), 3);
    }
}
