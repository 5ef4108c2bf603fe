//! The serving layer against hostile or broken clients, over real loopback sockets: the
//! connection cap answers 503 and the operations listener keeps answering, one address cannot
//! take more than its share, slow and idle connections are closed, a slow client cannot hold
//! shutdown past its grace, a deleted database stops acknowledgements, and forged headers do
//! not flood the log.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use weft_platform::signature::sign;
use weft_server::{Listeners, ServeOptions, serve_with};

struct Running {
    addr: SocketAddr,
    ops: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), weft_server::ServerError>>,
}

impl Running {
    /// Asks the server to stop and returns how long it took to return.
    async fn stop(mut self) -> Duration {
        let t = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("server returned")
            .unwrap()
            .unwrap();
        t.elapsed()
    }
}

async fn start(h: &Harness, options: ServeOptions, with_ops: bool) -> Running {
    let ops = with_ops.then(|| "127.0.0.1:0".parse().unwrap());
    let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), ops)
        .await
        .unwrap();
    let addr = listeners.intake.local_addr().unwrap();
    let ops = listeners.ops.as_ref().map(|l| l.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listeners, h.state.clone(), options, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        ops,
        stop: Some(stop),
        task,
    }
}

/// A connection from `source` (any 127.0.0.0/8 address on Linux loopback).
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{source}:0").parse().unwrap()).unwrap();
    s.connect(addr).await.unwrap()
}

/// Reads until the peer closes (or `limit` passes); returns what was read and whether it closed.
async fn read_until_close(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

/// One request over a fresh connection; returns the status line's code and the body.
async fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let (text, _) = read_until_close(&mut s, Duration::from_secs(10)).await;
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (code, body)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
}

fn signed_webhook(i: usize) -> String {
    let body = PRODUCT.replace(
        "8079745990737254412",
        &(8079745990737254412u64 + i as u64).to_string(),
    );
    let sig = sign(SECRET.as_bytes(), body.as_bytes());
    format!(
        "POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-shopify-topic: products/update\r\nx-shopify-shop-domain: acme.myshopify.com\r\nx-shopify-webhook-id: hostile-{i}\r\nx-shopify-hmac-sha256: {sig}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_answers_503_and_the_ops_listener_still_answers() {
    let h = harness(vec![acme()]).await;
    let options = ServeOptions {
        max_connections: 20,
        max_connections_per_ip: 20,
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..ServeOptions::default()
    };
    let server = start(&h, options, true).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(connect_from("127.0.0.1", server.addr).await);
    }
    // Give the accept loop time to admit all twenty.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, body) = http(server.addr, &get("/healthz")).await;
    assert_eq!(code, 503, "over the cap: {body}");
    assert_eq!(body, "too many connections; retry later");
    let (code, body) = http(server.ops.unwrap(), &get("/healthz")).await;
    // `/healthz` says how many store loops it watches ("ok (0 store loops turning)").
    assert_eq!(
        (code, body.starts_with("ok")),
        (200, true),
        "the ops listener has its own budget: {body}"
    );
    let (code, metrics) = http(server.ops.unwrap(), &get("/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("weft_http_connections_open{listener=\"intake\"} 20"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "weft_http_connections_closed_total{listener=\"intake\",reason=\"refused_cap\"} 1"
    ));

    // Slots free as clients leave.
    held.truncate(10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, _) = http(server.addr, &signed_webhook(1)).await;
    assert_eq!(code, 200);
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_more_than_its_share() {
    let h = harness(vec![acme()]).await;
    let options = ServeOptions {
        max_connections: 100,
        max_connections_per_ip: 5,
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..ServeOptions::default()
    };
    let server = start(&h, options, false).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.2", server.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = connect_from("127.0.0.2", server.addr).await;
    let (text, closed) = read_until_close(&mut sixth, Duration::from_secs(5)).await;
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
    // Another address is served.
    let mut other = connect_from("127.0.0.3", server.addr).await;
    other.write_all(get("/healthz").as_bytes()).await.unwrap();
    let (text, _) = read_until_close(&mut other, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_idle_connections_and_huge_heads_are_cut() {
    let h = harness(vec![acme()]).await;
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(500),
        ..ServeOptions::default()
    };
    let server = start(&h, options, false).await;

    // Idle from the start: closed after the idle timeout.
    let t = Instant::now();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let (_, closed) = read_until_close(&mut idle, Duration::from_secs(5)).await;
    let idle_closed_after = t.elapsed();
    assert!(closed, "an idle connection is closed");
    assert!(
        idle_closed_after >= Duration::from_millis(450)
            && idle_closed_after < Duration::from_secs(3),
        "{idle_closed_after:?}"
    );

    // Headers trickling in (a byte every 100 ms: never idle) are cut by the header timeout.
    let t = Instant::now();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let trickle = async {
        for b in b"GET /healthz HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, closed) = read_until_close(&mut slow, Duration::from_secs(5)).await;
        closed
    };
    assert!(trickle.await, "a slow head is cut");
    let slow_cut_after = t.elapsed();
    assert!(
        slow_cut_after < Duration::from_secs(3),
        "cut after {slow_cut_after:?}"
    );

    // A keep-alive client that goes quiet after its answer is closed too.
    let mut ka = TcpStream::connect(server.addr).await.unwrap();
    ka.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, closed) = read_until_close(&mut ka, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200") && closed, "{text}");

    // A head over 64 KiB is refused, not buffered without end.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let (code, _) = http(server.addr, &big).await;
    assert_eq!(code, 431);
    server.stop().await;
    eprintln!(
        "idle connection closed after {idle_closed_after:?}; trickling head cut after {slow_cut_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_cannot_hold_shutdown_past_the_grace() {
    let h = harness(vec![acme()]).await;
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(120),
        shutdown_grace: Duration::from_secs(2),
        ..ServeOptions::default()
    };
    let server = start(&h, options, false).await;
    // One client halfway through its headers, one whose request is in flight with a body that
    // trickles (the intake waits up to its 10 s body timeout for it).
    let mut half_head = TcpStream::connect(server.addr).await.unwrap();
    half_head
        .write_all(b"POST /webhooks/shopify/acme HTTP/1.1\r\nx-shopify-topic: produ")
        .await
        .unwrap();
    let mut slow_body = TcpStream::connect(server.addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nx-shopify-topic: products/update\r\n\r\n{",
        )
        .await
        .unwrap();
    let trickler = tokio::spawn(async move {
        for _ in 0..200 {
            if slow_body.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = server.stop().await;
    eprintln!("shutdown with a slow client attached took {took:?} (grace 2 s)");
    assert!(
        took < Duration::from_millis(2_800),
        "shutdown took {took:?}, grace is 2 s"
    );
    let (_, closed) = read_until_close(&mut half_head, Duration::from_secs(1)).await;
    assert!(closed, "the half-sent request's connection was closed");
    trickler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_turns_readyz_unready_and_stops_acknowledgements() {
    let h = harness(vec![acme()]).await;
    h.state.readiness().mark_ready();
    let server = start(&h, ServeOptions::default(), false).await;
    assert_eq!(http(server.addr, &signed_webhook(1)).await.0, 200);
    assert_eq!(http(server.addr, &get("/readyz")).await.0, 200);

    let db = h._dir.path().join("weft.sqlite");
    let t = Instant::now();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let unready_after = loop {
        let (code, body) = http(server.addr, &get("/readyz")).await;
        if code == 503 {
            assert!(body.contains("was deleted"), "{body}");
            assert!(body.contains("weft.sqlite"), "{body}");
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still ready after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The background check (every second) catches it without any request too; here: intake.
    let (code, body) = http(server.addr, &signed_webhook(2)).await;
    assert_eq!(code, 503, "{body}");
    let (_, metrics) = http(server.addr, &get("/metrics")).await;
    assert!(metrics.contains("weft_database_file_ok 0"), "{metrics}");
    eprintln!("deleted database noticed by /readyz after {unready_after:?}");
    assert!(unready_after < Duration::from_secs(3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_notices_a_replaced_database_without_requests() {
    let h = harness(vec![acme()]).await;
    h.state.readiness().mark_ready();
    let server = start(&h, ServeOptions::default(), false).await;
    // Let the watch make its first (passing) check, so what follows is its periodic one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!h.state.database_fault_recorded());
    let db = h._dir.path().join("weft.sqlite");
    let t = Instant::now();
    std::fs::rename(&db, h._dir.path().join("moved.sqlite")).unwrap();
    std::fs::write(&db, b"").unwrap();
    // No request at all: the watch sets the fault by itself within about a second.
    let noticed = loop {
        if h.state.database_fault_recorded() {
            break t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "not noticed in 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("replaced database noticed by the background check after {noticed:?}");
    assert!(noticed < Duration::from_millis(2_500), "{noticed:?}");
    let (code, body) = http(server.addr, &get("/readyz")).await;
    assert_eq!(code, 503);
    assert!(body.contains("was replaced"), "{body}");
    server.stop().await;
}

/// A writer that keeps everything logged, for the log-size test.
#[derive(Clone, Default)]
struct Captured(Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn forged_huge_headers_do_not_reach_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // One thread, so every task logs through this test's subscriber.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = harness(vec![acme()]).await;
        let server = start(&h, ServeOptions::default(), false).await;
        let huge = "t".repeat(60 * 1024);
        let (topic, id) = ("t".repeat(40 * 1024), "d".repeat(20 * 1024));
        for i in 0..20 {
            let body = "{}";
            let req = format!(
                "POST /webhooks/shopify/{huge} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{body}"
            );
            assert_eq!(http(server.addr, &req).await.0, 404);
            let req = format!(
                "POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\nx-shopify-topic: {topic}\r\nx-shopify-webhook-id: {id}\r\nx-shopify-hmac-sha256: forged-{i}\r\n\r\n{body}"
            );
            assert_eq!(http(server.addr, &req).await.0, 401);
        }
        server.stop().await;
    });
    let log = captured.0.lock().clone();
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("webhook with a missing or invalid signature refused"),
        "the refusals are logged: {}",
        &text[..text.len().min(2000)]
    );
    for n in [61440, 40960, 20480] {
        assert!(
            text.contains(&format!("...[{n} bytes]")),
            "clipped values say how long they were ({n})"
        );
    }
    // 40 requests, about 2.4 MB of forged path and header text: the log keeps a few KB.
    assert!(
        log.len() < 40 * 3 * 1024,
        "log is {} bytes for 40 forged requests",
        log.len()
    );
    eprintln!(
        "log for 40 forged requests with 60 KiB headers: {} bytes",
        log.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_not_cut_as_idle() {
    // The body stalls: no byte moves, but the request is the intake's until its body timeout,
    // which answers 408; the idle timeout (shorter) must not close the connection under it.
    let h = harness(vec![acme().with_body_timeout(Duration::from_millis(1500))]).await;
    let options = ServeOptions {
        idle_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = start(&h, options, false).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nx-shopify-topic: products/update\r\n\r\n{",
    )
    .await
    .unwrap();
    let t = Instant::now();
    let (text, _) = read_until_close(&mut s, Duration::from_secs(5)).await;
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "after {:?}: {text:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    server.stop().await;
}
