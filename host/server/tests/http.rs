//! Over real HTTP (`serve` on 127.0.0.1:0): a burst of concurrent deliveries group-committed,
//! `/metrics` scraped and parsed with a Prometheus text-format parser, `/healthz` and `/readyz`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use prometheus_parse::{Scrape, Value};
use weft_server::{WebhookOutcome, serve};

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), weft_server::ServerError>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(h: &Harness) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

fn product(i: usize) -> String {
    PRODUCT
        .replace(
            "8079745990737254412",
            &(8079745990737254412u64 + i as u64).to_string(),
        )
        .replace("Wool Sweater", &format!("Wool Sweater {i}"))
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    body: String,
    id: String,
    secret: &str,
) -> reqwest::StatusCode {
    client
        .post(format!("http://{addr}/webhooks/shopify/acme"))
        .header("x-shopify-topic", "products/update")
        .header("x-shopify-shop-domain", "acme.myshopify.com")
        .header("x-shopify-webhook-id", id)
        .header(
            "x-shopify-hmac-sha256",
            weft_platform::signature::sign(secret.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_200_concurrent_deliveries_is_group_committed() {
    let h = harness(vec![acme()]).await;
    let srv = start(&h).await;
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            let addr = srv.addr;
            tokio::spawn(async move {
                post(&client, addr, product(i), format!("burst-{i}"), SECRET).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), reqwest::StatusCode::OK);
    }
    let entries = h.store.journal_since("acme", 0, 1000).await.unwrap();
    assert_eq!(entries.len(), 200);
    let stats = h.state.writer().stats();
    assert_eq!(stats.entries, 200);
    assert!(
        stats.batches < 200,
        "group commit should use fewer transactions than requests: {stats:?}"
    );
    assert_eq!(h.notified.lock().len(), 200);
    assert_eq!(
        h.state.metrics().webhooks("acme", WebhookOutcome::Accepted),
        200
    );
    srv.stop().await;
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a Value {
    &scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"))
        .value
}

fn scalar(v: &Value) -> f64 {
    match v {
        Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => *x,
        other => panic!("not a scalar: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_and_parse_with_their_labels() {
    let h = harness(vec![acme()]).await;
    let srv = start(&h).await;
    let client = reqwest::Client::new();
    assert_eq!(
        post(&client, srv.addr, product(1), "m-1".into(), SECRET).await,
        200
    );
    assert_eq!(
        post(&client, srv.addr, product(1), "m-1".into(), SECRET).await,
        200
    );
    assert_eq!(
        post(&client, srv.addr, product(2), "m-2".into(), "wrong").await,
        401
    );
    let m = h.state.metrics();
    m.inc_throttled("acme", "shopify");
    m.inc_throttled("acme", "shopify");
    m.inc_throttled("acme", "netsuite");
    m.observe_plugin_call("acme", "shopify-netsuite", Duration::from_millis(3), None);
    m.observe_plugin_call(
        "acme",
        "shopify-netsuite",
        Duration::from_millis(40),
        Some("timeout"),
    );
    h.store.bump_counter("acme", "recovered", 3).await.unwrap();
    h.store
        .bump_counter("acme", "webhooks_reactivated", 2)
        .await
        .unwrap();
    h.store
        .bump_counter("acme", "stale_ignored_webhook", 2)
        .await
        .unwrap();
    h.store
        .bump_counter("acme", "stale_ignored_poll", 1)
        .await
        .unwrap();

    let resp = client
        .get(format!("http://{}/metrics", srv.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();

    let acme = ("store", "acme");
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_webhooks_received_total",
            &[acme, ("outcome", "accepted")]
        )),
        1.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_webhooks_received_total",
            &[acme, ("outcome", "duplicate")]
        )),
        1.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_webhooks_received_total",
            &[acme, ("outcome", "bad_signature")]
        )),
        1.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_webhooks_received_total",
            &[acme, ("outcome", "too_large")]
        )),
        0.0
    );
    assert_eq!(scalar(find(&scrape, "weft_journal_lag", &[acme])), 1.0);
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_outbox_depth",
            &[acme, ("status", "pending")]
        )),
        0.0
    );
    assert_eq!(scalar(find(&scrape, "weft_dead_letters", &[acme])), 0.0);
    assert_eq!(
        scalar(find(&scrape, "weft_stock_readings_waiting", &[acme])),
        0.0
    );
    assert_eq!(
        scalar(find(&scrape, "weft_webhooks_recovered_total", &[acme])),
        3.0
    );
    assert_eq!(
        scalar(find(&scrape, "weft_stale_ignored_total", &[acme])),
        3.0
    );
    assert_eq!(
        scalar(find(&scrape, "weft_webhooks_reactivated_total", &[acme])),
        2.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_journal_duplicates_total",
            &[acme, ("source", "webhook")]
        )),
        1.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_throttled_total",
            &[acme, ("system", "shopify")]
        )),
        2.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_throttled_total",
            &[acme, ("system", "netsuite")]
        )),
        1.0
    );
    assert_eq!(
        scalar(find(
            &scrape,
            "weft_plugin_errors_total",
            &[acme, ("plugin", "shopify-netsuite"), ("kind", "timeout")]
        )),
        1.0
    );
    match find(
        &scrape,
        "weft_plugin_seconds",
        &[acme, ("plugin", "shopify-netsuite")],
    ) {
        Value::Histogram(buckets) => {
            let at = |le: f64| buckets.iter().find(|b| b.less_than == le).unwrap().count;
            assert_eq!(at(0.001), 0.0);
            assert_eq!(at(0.005), 1.0);
            assert_eq!(at(0.05), 2.0);
            assert_eq!(at(f64::INFINITY), 2.0);
        }
        other => panic!("weft_plugin_seconds is not a histogram: {other:?}"),
    }
    match find(&scrape, "weft_intake_ack_seconds", &[acme]) {
        Value::Histogram(buckets) => {
            assert_eq!(
                buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .unwrap()
                    .count,
                2.0
            );
        }
        other => panic!("weft_intake_ack_seconds is not a histogram: {other:?}"),
    }
    assert!(scrape.docs.contains_key("weft_journal_lag"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_up_and_readyz_flips_with_the_host_and_the_database() {
    let h = harness(vec![acme()]).await;
    let srv = start(&h).await;
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let client = client.clone();
        let addr = srv.addr;
        async move {
            let r = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    let (status, reason) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("host starting"), "{reason}");

    h.state.readiness().mark_ready();
    assert_eq!(get("/readyz").await.0, 200);

    h.state.readiness().mark_not_ready("shutting down");
    let (status, reason) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("shutting down"), "{reason}");

    h.state.readiness().mark_ready();
    h.store.close().await;
    let (status, reason) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("database"), "{reason}");
    assert_eq!(get("/healthz").await.0, 200);
    srv.stop().await;
}
