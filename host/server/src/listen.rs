//! Serving HTTP to clients that may be hostile: connection caps, per-address fairness,
//! timeouts for slow and idle clients, and a shutdown with a deadline.
//!
//! Every connection is one task running hyper's HTTP/1.1 server (the axum router is the
//! service); this module decides which connections get a task and how long they may keep it:
//!
//! - **Cap.** At most [`ServeOptions::max_connections`] connections are open on a listener.
//!   One more is accepted, answered `503 Service Unavailable` (`Connection: close`,
//!   `Retry-After: 1`, a one-line body, written without waiting: a client that does not read it
//!   just gets the close) and closed at once, so a refused client learns why instead of
//!   hanging in the kernel's backlog, and holds no file descriptor.
//! - **Fairness.** At most [`ServeOptions::max_connections_per_ip`] of them come from one
//!   source address (IPv6: one /64, what one host usually owns); the rest are refused the same
//!   way. Behind a reverse proxy every client has the proxy's address: raise this to the cap.
//! - **Slow headers.** A request head must be complete within
//!   [`ServeOptions::header_read_timeout`] of the moment the server starts waiting for it (the
//!   connection opened, or the previous response was sent), or the connection is closed
//!   (hyper's `header_read_timeout`). The head may be at most [`MAX_HEADER_BYTES`]; a larger
//!   one is refused with 431 by hyper.
//! - **Idle.** A connection with no request being handled that moves no byte in either
//!   direction for [`ServeOptions::idle_timeout`] is closed: a keep-alive client that went
//!   quiet, and also one that stopped reading its response (which the header timeout does not
//!   see). Request bodies have the intake's own per-store body timeout.
//! - **Shutdown.** When the shutdown future completes, listeners stop accepting, connections
//!   with no request in flight are closed at once (a slow client is never waited for), and
//!   requests in flight get up to [`ServeOptions::shutdown_grace`] to be answered; whatever is
//!   left then is dropped. A journal append already queued still commits (intake runs it in its
//!   own task), only its answer is lost, and Shopify retries it.
//! - **Operations listener.** `/metrics`, `/healthz` and `/readyz` are always served on the
//!   intake listener too, but a host exposed to the internet should give them their own
//!   listener ([`Listeners::ops`], config `server.ops_listen`): it has its own small connection
//!   budget ([`OPS_MAX_CONNECTIONS`]), so probes and scrapes are answered while the intake's
//!   budget is exhausted by an attack.
//! - **File descriptors.** When `accept` fails for lack of descriptors (`EMFILE`, `ENFILE`) the
//!   loop pauses briefly and retries instead of spinning, and says so at most every 10 s. Keep
//!   the caps (intake + operations + the database pool) below the process's descriptor limit.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// Largest request head (request line and headers) accepted: 64 KiB. Shopify's are about 1 KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Connections the operations listener accepts at once (and per source address).
pub const OPS_MAX_CONNECTIONS: usize = 32;

/// What a refused connection is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 33\r\n\r\ntoo many connections; retry later";

/// Limits of the HTTP listeners. See the module documentation for what each one does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time allowed for a complete request head, from connection open or the previous response
    /// (default 10 s).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no byte moved for this long is closed
    /// (default 30 s; a waiting keep-alive connection is closed after the shorter of this and
    /// `header_read_timeout`).
    pub idle_timeout: Duration,
    /// Connections open at once on the intake listener (default 4096).
    pub max_connections: usize,
    /// Connections open at once from one source address (IPv6: one /64) (default 256).
    pub max_connections_per_ip: usize,
    /// How long requests in flight at shutdown may take to be answered (default 10 s).
    pub shutdown_grace: Duration,
    /// Largest webhook body a store accepts, in bytes (default 1 MiB; `[server]
    /// webhook_max_body_kb`).
    pub max_body_bytes: usize,
    /// How far ahead of this host's clock a delivery's version may be (default 5 min;
    /// `[server] future_version_skew`).
    pub max_future_skew: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            shutdown_grace: Duration::from_secs(10),
            max_body_bytes: crate::intake::DEFAULT_MAX_BODY_BYTES,
            max_future_skew: crate::intake::DEFAULT_MAX_FUTURE_SKEW,
        }
    }
}

/// The sockets [`serve_with`](crate::serve_with) serves: the intake listener (webhooks and the
/// operations endpoints) and, optionally, an operations-only listener with its own budget.
#[derive(Debug)]
pub struct Listeners {
    /// Webhooks, `/metrics`, `/healthz`, `/readyz`.
    pub intake: TcpListener,
    /// `/metrics`, `/healthz`, `/readyz` only, with [`OPS_MAX_CONNECTIONS`].
    pub ops: Option<TcpListener>,
}

impl Listeners {
    /// Binds the intake listener on `intake` and, when given, the operations listener on
    /// `ops`. A clash (address in use, no permission) is an error naming the address, so the
    /// host can stop before it starts anything else.
    pub async fn bind(intake: SocketAddr, ops: Option<SocketAddr>) -> std::io::Result<Listeners> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {addr} ({what}): {e}"))
            })
        };
        let intake = bind(intake, "server.listen").await?;
        let ops = match ops {
            Some(a) => Some(bind(a, "server.ops_listen").await?),
            None => None,
        };
        Ok(Listeners { intake, ops })
    }
}

/// The address a connection is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

/// Open connections of one listener, in total and per source address.
#[derive(Debug, Default)]
struct Tracker {
    inner: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees its slot.
struct Slot {
    tracker: Arc<Tracker>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.tracker.inner.lock();
        g.0 -= 1;
        if let Some(n) = g.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.key);
            }
        }
    }
}

enum Refused {
    Full,
    PerAddress,
}

fn admit(tracker: &Arc<Tracker>, ip: IpAddr, max: usize, per_ip: usize) -> Result<Slot, Refused> {
    let key = source_key(ip);
    let mut g = tracker.inner.lock();
    if g.0 >= max {
        return Err(Refused::Full);
    }
    let n = g.1.entry(key).or_insert(0);
    if *n >= per_ip {
        return Err(Refused::PerAddress);
    }
    *n += 1;
    g.0 += 1;
    Ok(Slot {
        tracker: Arc::clone(tracker),
        key,
    })
}

/// What a connection has been doing, for the idle timeout.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last byte read or written.
    last_ms: AtomicU64,
    /// Requests handed to the router and not answered yet.
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When the connection becomes idle if nothing moves.
    fn idle_deadline(&self, idle: Duration) -> tokio::time::Instant {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        tokio::time::Instant::from_std(last + idle)
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }
}

/// Counts a request as in flight until dropped (answered, or cancelled).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A socket that records when bytes move.
struct Tracked {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Limits one accept loop applies.
#[derive(Debug, Clone)]
pub(crate) struct LoopLimits {
    pub(crate) name: &'static str,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
}

/// Counters a listener keeps (read by `/metrics`).
#[derive(Debug, Default)]
pub(crate) struct ListenerStats {
    pub(crate) open: AtomicUsize,
    pub(crate) refused_full: AtomicU64,
    pub(crate) refused_per_ip: AtomicU64,
    pub(crate) timed_out_idle: AtomicU64,
}

/// Accepts on `listener` and serves `app` until `shutdown` turns true, then closes idle
/// connections, gives requests in flight `shutdown_grace`, and drops the rest.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: LoopLimits,
    stats: Arc<ListenerStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracker = Arc::new(Tracker::default());
    let mut conns = JoinSet::new();
    let mut last_fd_warning: Option<Instant> = None;
    let conn_stop = shutdown.clone();
    loop {
        tokio::select! {
            biased;
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    match admit(&tracker, peer.ip(), limits.max_connections, limits.max_connections_per_ip) {
                        Ok(slot) => {
                            let (app, limits, stats, shutdown) =
                                (app.clone(), limits.clone(), Arc::clone(&stats), conn_stop.clone());
                            conns.spawn(serve_conn(stream, app, limits, stats, slot, shutdown));
                        }
                        Err(why) => {
                            let counter = match why {
                                Refused::Full => &stats.refused_full,
                                Refused::PerAddress => &stats.refused_per_ip,
                            };
                            if counter.fetch_add(1, Ordering::Relaxed) % 1000 == 0 {
                                tracing::warn!(
                                    listener = limits.name,
                                    reason = match why {
                                        Refused::Full => "connection cap reached",
                                        Refused::PerAddress => "per-address cap reached",
                                    },
                                    "refusing connections with 503 (logged once per 1000)"
                                );
                            }
                            // Never wait on a refused client: what fits in the socket buffer
                            // is sent, then the socket is closed.
                            let _ = stream.try_write(REFUSAL);
                        }
                    }
                }
                Err(e) => {
                    let out_of_fds = matches!(e.raw_os_error(), Some(23 | 24)); // ENFILE, EMFILE
                    if last_fd_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        last_fd_warning = Some(Instant::now());
                        tracing::warn!(listener = limits.name, error = %e, "accept failed");
                    }
                    if out_of_fds {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
        }
    }
    drop(listener);
    let open = conns.len();
    if open > 0 {
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                listener = limits.name,
                left = conns.len(),
                grace_ms = limits.shutdown_grace.as_millis() as u64,
                "requests still running after the shutdown grace; closing their connections"
            );
            conns.shutdown().await;
        }
    }
}

async fn serve_conn(
    stream: TcpStream,
    app: Router,
    limits: LoopLimits,
    stats: Arc<ListenerStats>,
    slot: Slot,
    mut shutdown: watch::Receiver<bool>,
) {
    let _slot = slot;
    stats.open.fetch_add(1, Ordering::Relaxed);
    struct Open(Arc<ListenerStats>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _open = Open(Arc::clone(&stats));
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Tracked {
        io: stream,
        activity: Arc::clone(&activity),
    });
    let svc = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            let guard = InFlight(Arc::clone(&activity));
            let fut = app.clone().oneshot(req.map(Body::new));
            async move {
                let r = fut.await;
                drop(guard);
                r
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut stopping = false;
    let mut wake = activity.idle_deadline(limits.idle_timeout);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(wake) => {
                let now = tokio::time::Instant::now();
                let idle_at = activity.idle_deadline(limits.idle_timeout);
                if idle_at > now {
                    wake = idle_at;
                } else if activity.busy() {
                    // A request is being handled (its answer touches the activity when done):
                    // look again later rather than spin.
                    wake = now + limits.idle_timeout;
                } else {
                    stats.timed_out_idle.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            _ = async { let _ = shutdown.wait_for(|s| *s).await; }, if !stopping => {
                if !activity.busy() {
                    return;
                }
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Runs until `fut` completes or the watch turns true.
pub(crate) fn shutdown_channel(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(source_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn caps_count_in_total_and_per_address_and_free_on_drop() {
        let t = Arc::new(Tracker::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = admit(&t, a, 3, 2).ok().unwrap();
        let _s2 = admit(&t, a, 3, 2).ok().unwrap();
        assert!(matches!(admit(&t, a, 3, 2), Err(Refused::PerAddress)));
        let _s3 = admit(&t, b, 3, 2).ok().unwrap();
        assert!(matches!(admit(&t, b, 3, 2), Err(Refused::Full)));
        drop(s1);
        assert!(admit(&t, a, 3, 2).is_ok());
    }
}
