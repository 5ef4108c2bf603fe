//! 5,000 hostile connections at once (half idle, half trickling their request head a byte at a
//! time, reconnecting whenever they are cut) from twenty loopback addresses, while signed
//! webhooks keep arriving: every webhook is acknowledged with a p99 close to the idle one, and
//! `/healthz` answers on both listeners. Alone in its file: it needs about 10,000 descriptors
//! (both ends of every connection live in this process).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use weft_platform::signature::sign;
use weft_server::{Listeners, ServeOptions, serve_with};

const ATTACKERS: usize = 5_000;
const ADDRESSES: usize = 20;

async fn request(addr: SocketAddr, req: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn signed_webhook(i: usize) -> String {
    let body = PRODUCT.replace(
        "8079745990737254412",
        &(8079745990737254412u64 + i as u64).to_string(),
    );
    let sig = sign(SECRET.as_bytes(), body.as_bytes());
    format!(
        "POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-shopify-topic: products/update\r\nx-shopify-shop-domain: acme.myshopify.com\r\nx-shopify-webhook-id: attack-{i}\r\nx-shopify-hmac-sha256: {sig}\r\n\r\n{body}",
        body.len()
    )
}

/// Sends `n` signed webhooks, 4 at a time, each on a new connection; returns every latency,
/// sorted, after asserting each was acknowledged with 200.
async fn webhooks(addr: SocketAddr, from: usize, n: usize) -> Vec<Duration> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        tasks.spawn(async move {
            let mut lat = Vec::new();
            for i in (w..n).step_by(4) {
                let t = Instant::now();
                let code = request(addr, &signed_webhook(from + i)).await;
                assert_eq!(code, 200, "webhook {} not acknowledged", from + i);
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all.sort();
    all
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// One hostile client: connects from `source`, then idles (`trickle == false`) or sends its
/// head a byte every 200 ms, until the server cuts it; then does it again, until `stop`.
async fn attacker(addr: SocketAddr, source: String, trickle: bool, stop: Arc<AtomicBool>) {
    let head = b"POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\nx-shopify-topic: products/update\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    while !stop.load(Ordering::Relaxed) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), socket.connect(addr)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if trickle {
            for b in head.iter().cycle() {
                if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Cut by the server: the read side sees the close.
                let mut probe = [0u8; 64];
                if let Ok(Ok(0)) = tokio::time::timeout(Duration::ZERO, s.read(&mut probe)).await {
                    break;
                }
            }
        } else {
            let mut sink = [0u8; 1024];
            let _ = s.read(&mut sink).await;
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn raise_fd_limit(needed: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < needed {
        rlimit::Resource::NOFILE.set(hard, hard).unwrap();
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(
        soft >= needed,
        "this test needs {needed} file descriptors, the hard limit is {hard}"
    );
}

async fn open_connections(ops: SocketAddr) -> usize {
    let mut s = TcpStream::connect(ops).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf.lines()
        .find_map(|l| l.strip_prefix("weft_http_connections_open{listener=\"intake\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_and_health_are_answered_under_5000_slow_and_idle_connections() {
    raise_fd_limit(2 * ATTACKERS as u64 + 1_000);
    let h = harness(vec![acme()]).await;
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(4),
        idle_timeout: Duration::from_secs(3),
        max_connections: ATTACKERS + 1_000,
        max_connections_per_ip: ATTACKERS / ADDRESSES + 50,
        shutdown_grace: Duration::from_secs(2),
        ..ServeOptions::default()
    };
    let listeners = Listeners::bind(
        "127.0.0.1:0".parse().unwrap(),
        Some("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let addr = listeners.intake.local_addr().unwrap();
    let ops = listeners.ops.as_ref().unwrap().local_addr().unwrap();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listeners, h.state.clone(), options, async {
        let _ = stopped.await;
    }));

    // Warm up, then the idle figure.
    webhooks(addr, 0, 20).await;
    let idle = webhooks(addr, 1_000, 200).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    for k in 0..ATTACKERS {
        let source = format!("127.0.1.{}", 1 + k % ADDRESSES);
        attackers.push(tokio::spawn(attacker(
            addr,
            source,
            k % 2 == 0,
            Arc::clone(&stop),
        )));
        if k % 250 == 249 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let t = Instant::now();
    let mut peak = 0;
    while t.elapsed() < Duration::from_secs(30) {
        peak = peak.max(open_connections(ops).await);
        if peak >= ATTACKERS * 9 / 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        peak >= ATTACKERS * 9 / 10,
        "the attack reached only {peak} open connections"
    );

    // Under attack, for at least two rounds of the header and idle timeouts (clients cut and
    // reconnecting), webhooks and health checks on both listeners.
    let health = async {
        let mut answered = 0;
        for _ in 0..10 {
            let get = "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
            assert_eq!(
                request(addr, get).await,
                200,
                "/healthz on the intake listener"
            );
            assert_eq!(request(ops, get).await, 200, "/healthz on the ops listener");
            answered += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        answered
    };
    let (attacked, answered) = tokio::join!(webhooks(addr, 10_000, 400), health);
    assert_eq!(answered, 10);
    let during = open_connections(ops).await;
    let metrics = {
        let mut s = TcpStream::connect(ops).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        buf
    };
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.abort();
    }

    let (idle50, idle99) = (pct(&idle, 0.5), pct(&idle, 0.99));
    let (att50, att99) = (pct(&attacked, 0.5), pct(&attacked, 0.99));
    let closed: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("weft_http_connections_closed_total"))
        .collect();
    eprintln!(
        "idle: p50 {idle50:?} p99 {idle99:?}; under {ATTACKERS} hostile connections (peak {peak} open, {during} at the end): p50 {att50:?} p99 {att99:?}; {closed:?}"
    );
    // "Within their normal p99": on a shared 2-core machine the idle p99 itself wanders, so the
    // bound is three times it plus 250 ms of scheduling noise.
    assert!(
        att99 <= idle99 * 3 + Duration::from_millis(250),
        "p99 under attack {att99:?} vs idle {idle99:?}"
    );

    let t = Instant::now();
    let _ = stop_server.send(());
    server.await.unwrap().unwrap();
    eprintln!("shutdown took {:?}", t.elapsed());
}
