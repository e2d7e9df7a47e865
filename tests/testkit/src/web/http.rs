//! The HTTP side of a [`super::WebServer`]: answers each request as its site's behaviour says.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

use super::{State, WebBehaviour};

/// Serve HTTP/1.1 on `io` until the client leaves; true when a [`WebBehaviour::ResetOnHost`]
/// request asks the caller to reset the TCP connection. A [`WebBehaviour::CloseOnHost`] request
/// ends it at once (`io` is dropped: FIN).
pub(super) async fn serve<IO>(state: &Arc<State>, io: IO, sni: Option<String>) -> bool
where
    IO: AsyncRead + AsyncWrite + Unpin + Send,
{
    let cut = Cut { reset: Arc::new(Notify::new()), close: Arc::new(Notify::new()) };
    let service = {
        let (state, cut) = (state.clone(), cut.clone());
        hyper::service::service_fn(move |req| respond(state.clone(), sni.clone(), cut.clone(), req))
    };
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = conn => false,
        _ = cut.reset.notified() => true,
        _ = cut.close.notified() => false,
    }
}

/// How a request asks its connection to end before any answer.
#[derive(Clone)]
struct Cut {
    reset: Arc<Notify>,
    close: Arc<Notify>,
}

async fn respond(
    state: Arc<State>,
    sni: Option<String>,
    cut: Cut,
    req: Request<Incoming>,
) -> Result<Response<Payload>, Infallible> {
    let host = request_host(&req).or(sni);
    state.requests.add(host.as_deref().unwrap_or(""));
    let Some(site) = state.site(host.as_deref()) else {
        return Ok(response(404, &[], Payload::text("no such site")));
    };
    Ok(match &site.behaviour {
        WebBehaviour::Page { status, title, body_len, headers } => {
            response(*status, headers, Payload::text(&page(title, *body_len)))
        }
        WebBehaviour::Body { status, body, headers } => response(*status, headers, Payload::text(body)),
        WebBehaviour::Redirect { location, status } => {
            response(*status, &[(LOCATION.to_string(), location.clone())], Payload::text(""))
        }
        WebBehaviour::RedirectLoop => {
            let hop = req.uri().path().strip_prefix("/hop/").and_then(|n| n.parse::<u64>().ok());
            let next = format!("/hop/{}", hop.unwrap_or(0) + 1);
            response(302, &[(LOCATION.to_string(), next)], Payload::text(""))
        }
        WebBehaviour::Large(len) => response(200, &[], Payload::Filler(*len)),
        WebBehaviour::ResetOnHost => {
            cut.reset.notify_one();
            std::future::pending().await
        }
        WebBehaviour::CloseOnHost => {
            cut.close.notify_one();
            std::future::pending().await
        }
        WebBehaviour::Trickle => response(200, &[], Payload::trickle()),
        WebBehaviour::Hang => std::future::pending().await,
        // TLS-level behaviours seen over plain HTTP (or under another SNI): an ordinary page.
        WebBehaviour::TlsResetOnSni | WebBehaviour::TlsDropOnSni | WebBehaviour::TlsFinOnSni => {
            let title = host.unwrap_or_default();
            response(200, &[], Payload::text(&page(&title, 0)))
        }
    })
}

/// The Host header (or the URI's authority) without its port.
fn request_host(req: &Request<Incoming>) -> Option<String> {
    let raw = match req.headers().get(HOST).and_then(|v| v.to_str().ok()) {
        Some(host) => host.to_string(),
        None => req.uri().authority()?.as_str().to_string(),
    };
    Some(strip_port(&raw).to_string())
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

/// An HTML page titled `title`, padded with text to `body_len` bytes when that is longer than
/// the bare page.
pub(crate) fn page(title: &str, body_len: usize) -> String {
    let head = format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><p>");
    let tail = "</p></body></html>\n";
    let filler = "Lorem ipsum dolor sit amet. ".repeat(body_len / 28 + 1);
    let pad = body_len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", &filler[..pad])
}

fn response(status: u16, headers: &[(String, String)], body: Payload) -> Response<Payload> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = match response.body() {
        Payload::Filler(_) | Payload::Trickle(_) => "application/octet-stream",
        Payload::Bytes(_) => "text/html; charset=utf-8",
    };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A response body: fixed bytes, `n` generated bytes streamed in chunks, or an endless trickle.
pub(super) enum Payload {
    Bytes(Option<Bytes>),
    Filler(usize),
    /// [`TRICKLE`] bytes each time the timer fires, forever.
    Trickle(Pin<Box<tokio::time::Sleep>>),
}

/// The trickle: this many bytes every [`TRICKLE_EVERY`] (160 B/s).
const TRICKLE: usize = 32;
const TRICKLE_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

const CHUNK: usize = 16 * 1024;
static FILLER: [u8; CHUNK] = [b'v'; CHUNK];

impl Payload {
    fn text(text: &str) -> Self {
        Payload::Bytes(Some(Bytes::copy_from_slice(text.as_bytes())))
    }

    fn trickle() -> Self {
        Payload::Trickle(Box::pin(tokio::time::sleep(TRICKLE_EVERY)))
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            Payload::Trickle(timer) => {
                std::task::ready!(timer.as_mut().poll(cx));
                timer.as_mut().reset(tokio::time::Instant::now() + TRICKLE_EVERY);
                Some(Frame::data(Bytes::from_static(&FILLER[..TRICKLE])))
            }
            Payload::Bytes(bytes) => bytes.take().map(Frame::data),
            Payload::Filler(0) => None,
            Payload::Filler(left) => {
                let n = (*left).min(CHUNK);
                *left -= n;
                Some(Frame::data(Bytes::from_static(&FILLER[..n])))
            }
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Payload::Bytes(None) | Payload::Filler(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Payload::Bytes(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Payload::Filler(left) => SizeHint::with_exact(*left as u64),
            Payload::Trickle(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_padded_to_the_asked_length() {
        assert_eq!(page("Hello", 5000).len(), 5000);
        assert!(page("Hello", 5000).contains("<title>Hello</title>"));
        assert!(page("Hello", 10).len() > 10, "never truncated below the bare page");
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("[::1]:443"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("example.com"), "example.com");
    }
}
