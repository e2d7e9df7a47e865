//! One transfer of the throttling test: a fresh TCP connection, a TLS handshake with the arm's
//! SNI, one `GET` over HTTP/1.1, the body read until `object_bytes` or the cap, and what the
//! arrival times say (goodput after the first 32 KiB, stalls, idle windows).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use vigil_report::{Failure, ThrottleTransfer};

use crate::clock::Clock;
use crate::failure_map;

/// Bytes skipped before goodput is measured (slow start, a policer's burst).
pub const SKIP_BYTES: u64 = 32 * 1024;
/// A gap this long between arrivals is a stall.
pub const STALL: Duration = Duration::from_secs(2);
/// Bytes of the initial-rate measure.
const INITIAL_BYTES: u64 = 8 * 1024;
/// Window of the idle-fraction measure.
const WINDOW_S: f64 = 0.25;

/// Where one arm's transfer goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// `T1`, `C1`, `T2` or `C2`.
    pub arm: &'static str,
    pub addr: SocketAddr,
    pub sni: String,
    /// Path and query of the object.
    pub path: String,
    /// How the server is authenticated (webpki roots, or the decoy's pinned certificate).
    pub tls: Arc<ClientConfig>,
}

/// Bounds of one transfer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Body bytes read at most (the object's size).
    pub object_bytes: u64,
    /// The whole transfer (connect included) ends by then.
    pub cap: Duration,
}

/// Run one transfer; it never fails, a failure is recorded in the result.
pub async fn transfer(target: &Target, pass: u32, limits: Limits, clock: &Clock) -> ThrottleTransfer {
    let mut record = ThrottleTransfer {
        arm: target.arm.to_string(),
        pass,
        sni: target.sni.clone(),
        address: target.addr.to_string(),
        t0: clock.elapsed(),
        connect_ms: None,
        tls_handshake_ms: None,
        ttfb_ms: None,
        bytes: 0,
        received: 0,
        goodput_kbps: None,
        bytes_before_stall: None,
        longest_stall_ms: 0.0,
        complete: false,
        idle_fraction: None,
        initial_kbps: None,
        failure: None,
    };
    let start = Instant::now();
    let deadline = start + limits.cap;
    let ms = |from: Instant| from.elapsed().as_secs_f64() * 1000.0;
    let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(target.addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return failed(record, failure_map::from_io(&e)),
        Err(_) => return failed(record, Failure::GenericTimeout),
    };
    let _ = tcp.set_nodelay(true);
    record.connect_ms = Some(ms(start));
    let handshake_start = Instant::now();
    let name = match rustls_pki_types::ServerName::try_from(target.sni.clone()) {
        Ok(n) => n,
        Err(_) => return failed(record, Failure::unknown(format!("invalid server name {:?}", target.sni))),
    };
    let wire = Arc::new(Mutex::new(Wire::default()));
    let tcp = Counted { inner: tcp, wire: wire.clone() };
    let connect = TlsConnector::from(target.tls.clone()).connect(name, tcp);
    let mut tls = match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return failed(record, failure_map::from_io(&e)),
        Err(_) => return failed(record, Failure::GenericTimeout),
    };
    record.tls_handshake_ms = Some(ms(handshake_start));
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil-probe\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        target.path, target.sni
    );
    if let Err(e) = tls.write_all(request.as_bytes()).await {
        return failed(record, failure_map::from_io(&e));
    }
    let sent = Instant::now();
    let at_send = lock(&wire).total;
    let mut head = Vec::new();
    let mut body: u64 = 0;
    let mut expected: Option<u64> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut failure = None;
    loop {
        let n = match tokio::time::timeout_at(deadline, tls.read(&mut buf)).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                failure = Some(failure_map::from_io(&e));
                break;
            }
        };
        if record.ttfb_ms.is_none() {
            record.ttfb_ms = Some(sent.elapsed().as_secs_f64() * 1000.0);
        }
        let mut chunk = &buf[..n];
        if expected.is_none() {
            head.extend_from_slice(chunk);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                if head.len() > 16 * 1024 {
                    failure = Some(Failure::unknown("response header over 16 KiB"));
                    break;
                }
                continue;
            };
            match parse_head(&head[..end]) {
                Ok(len) => expected = Some(len.unwrap_or(limits.object_bytes).min(limits.object_bytes)),
                Err(e) => {
                    failure = Some(Failure::unknown(e));
                    break;
                }
            }
            let rest = head.len() - (end + 4);
            chunk = &buf[n - rest..n];
        }
        body += chunk.len() as u64;
        if expected.is_some_and(|e| body >= e) {
            break;
        }
    }
    let complete = expected.is_some_and(|e| body >= e);
    // Arrivals as the network delivered them (TLS records are decrypted only once whole, so a
    // flow cut inside the first 16 KiB record would show no plaintext at all).
    let arrivals: Vec<(f64, u64)> = lock(&wire)
        .arrivals
        .iter()
        .filter(|a| a.0 > sent && a.1 > at_send)
        .map(|a| (a.0.duration_since(sent).as_secs_f64(), a.1 - at_send))
        .collect();
    // An object that did not arrive whole is measured up to the cap, however the flow ended (a
    // stall, a reset, an early close): what was missing never came.
    let end_t = if complete {
        arrivals.last().map_or(0.0, |a| a.0)
    } else {
        deadline.saturating_duration_since(sent).as_secs_f64()
    };
    record.bytes = body;
    record.received = arrivals.last().map_or(0, |a| a.1);
    record.complete = complete;
    if !arrivals.is_empty() {
        let m = metrics(&arrivals, end_t, complete);
        record.goodput_kbps = Some(m.goodput_kbps);
        record.bytes_before_stall = m.bytes_before_stall;
        record.longest_stall_ms = m.longest_stall_s * 1000.0;
        record.idle_fraction = m.idle_fraction;
        record.initial_kbps = m.initial_kbps;
    }
    // A connection cut after the object started is a measured throttle (truncation), not a
    // failed transfer; before it started, it is a failure.
    if expected.is_none() || (failure.is_some() && record.received == 0) {
        return failed(record, failure.unwrap_or(Failure::GenericTimeout));
    }
    record
}

fn failed(mut record: ThrottleTransfer, failure: Failure) -> ThrottleTransfer {
    // The cap ran out before the object started: nothing arrived within it, a goodput of 0
    // (a refused or reset connection has none).
    if failure == Failure::GenericTimeout {
        record.goodput_kbps = Some(0.0);
    }
    record.failure = Some(failure);
    record
}

/// Every read from the TCP socket: (when, bytes so far).
#[derive(Default)]
struct Wire {
    total: u64,
    arrivals: Vec<(Instant, u64)>,
}

fn lock(wire: &Mutex<Wire>) -> std::sync::MutexGuard<'_, Wire> {
    wire.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP stream that logs its reads.
struct Counted {
    inner: TcpStream,
    wire: Arc<Mutex<Wire>>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            let mut w = lock(&self.wire);
            w.total += n as u64;
            let total = w.total;
            w.arrivals.push((Instant::now(), total));
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status line must say 200; returns the Content-Length when given.
fn parse_head(head: &[u8]) -> Result<Option<u64>, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("http status {code:?}, expected 200"));
    }
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            return v.trim().parse().map(Some).map_err(|_| format!("bad content-length {v:?}"));
        }
    }
    Ok(None)
}

/// What the arrival times of one transfer say.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub goodput_kbps: f64,
    pub bytes_before_stall: Option<u64>,
    pub longest_stall_s: f64,
    pub idle_fraction: Option<f64>,
    pub initial_kbps: Option<f64>,
}

/// `arrivals`: (seconds since the request, body bytes so far); `end_t`: the last byte when
/// `complete`, else when reading stopped (the cap).
pub fn metrics(arrivals: &[(f64, u64)], end_t: f64, complete: bool) -> Metrics {
    let total = arrivals.last().map_or(0, |a| a.1);
    let stall = STALL.as_secs_f64();
    let (mut prev_t, mut prev_b) = (0.0, 0u64);
    let (mut longest, mut before) = (0.0f64, None);
    let tail = if complete { None } else { Some((end_t, total)) };
    for &(t, b) in arrivals.iter().chain(tail.iter()) {
        let gap = t - prev_t;
        longest = longest.max(gap);
        if gap >= stall && before.is_none() {
            before = Some(prev_b);
        }
        (prev_t, prev_b) = (t, b);
    }
    let skip = arrivals.iter().find(|a| a.1 >= SKIP_BYTES).copied();
    let goodput_kbps = match skip {
        Some((ts, bs)) if total > bs && end_t > ts => (total - bs) as f64 * 8.0 / (end_t - ts) / 1000.0,
        _ => match arrivals.first() {
            Some(&(t1, _)) if end_t > t1 && total > 0 => total as f64 * 8.0 / (end_t - t1).max(1e-3) / 1000.0,
            _ => 0.0,
        },
    };
    let idle_fraction = skip.and_then(|(ts, _)| {
        let windows = ((end_t - ts) / WINDOW_S).floor() as usize;
        if windows < 4 {
            return None;
        }
        let mut busy = vec![false; windows];
        for &(t, _) in arrivals.iter().filter(|a| a.0 > ts) {
            let k = ((t - ts) / WINDOW_S) as usize;
            if k < windows {
                busy[k] = true;
            }
        }
        Some(busy.iter().filter(|b| !**b).count() as f64 / windows as f64)
    });
    // The rate of the first 8 KiB, from the first byte on: a policer's token bucket lets a burst
    // through at line rate, a shaper's queue does not.
    let initial_kbps = arrivals.first().and_then(|&(t1, _)| {
        let &(t2, b2) = arrivals.iter().find(|a| a.1 >= INITIAL_BYTES)?;
        Some(b2 as f64 * 8.0 / (t2 - t1).max(1e-3) / 1000.0)
    });
    Metrics { goodput_kbps, bytes_before_stall: before, longest_stall_s: longest, idle_fraction, initial_kbps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goodput_skips_the_first_32_kib() {
        // 16 KiB at once (a burst), then 1 KiB every 10 ms: 100 KiB/s after the skip.
        let mut a = vec![(0.01, 16 * 1024)];
        for k in 1..=144u64 {
            a.push((0.01 + k as f64 * 0.01, 16 * 1024 + k * 1024));
        }
        let m = metrics(&a, a.last().unwrap().0, true);
        assert!((m.goodput_kbps - 1024.0 * 8.0 / 10.0).abs() < 5.0, "{m:?}");
        assert_eq!(m.bytes_before_stall, None);
        assert_eq!(m.idle_fraction, Some(0.0));
        // The first 8 KiB came in one read: far faster than the rest.
        assert!(m.initial_kbps.unwrap() > 10.0 * m.goodput_kbps, "{m:?}");
    }

    #[test]
    fn truncation_is_a_stall_after_16_kib() {
        let a = vec![(0.01, 8000), (0.02, 16000)];
        let m = metrics(&a, 8.0, false);
        assert_eq!(m.bytes_before_stall, Some(16000));
        assert!((m.longest_stall_s - 7.98).abs() < 1e-9);
        assert!(m.goodput_kbps < 20.0, "{m:?}");
    }

    #[test]
    fn the_header_must_say_200() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12"), Ok(Some(12)));
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nServer: x"), Ok(None));
        assert!(parse_head(b"HTTP/1.1 403 Forbidden").is_err());
    }
}
