//! A full resync against the Shopify simulator: it re-reads everything, journals only what the
//! journal does not hold yet, and finds a change whose timestamp fell behind the watermark
//! (a shop clock that jumped back further than the overlap), which incremental rounds miss.

use std::sync::Arc;
use std::time::Duration;

use weft_platform::Poller;
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::ShopifyReconciler;
use weft_shopify::{ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{NewProduct, NewVariant, ProductEdit, ShopifySim, SimConfig};
use weft_store::{OpenOptions, Store};

#[tokio::test]
async fn full_resync_journals_only_real_differences_and_finds_what_the_watermark_hid() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let mut products = Vec::new();
    for p in 0..5 {
        let created = sim
            .create_product(NewProduct {
                title: format!("Product {p}"),
                body_html: None,
                vendor: None,
                product_type: None,
                tags: Vec::new(),
                status: None,
                option_name: None,
                variants: vec![NewVariant {
                    sku: Some(format!("SKU-{p}")),
                    price: "10.00".into(),
                    compare_at_price: None,
                    barcode: None,
                    option: None,
                    available: Some(3),
                }],
            })
            .unwrap();
        products.push(created.id);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open_with(
        &dir.path().join("weft.sqlite").to_string_lossy(),
        OpenOptions::default(),
    )
    .await
    .unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(handle.base_url.clone(), "2026-04", "shpat_sim_access_token"),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let poller = ShopifyReconciler::new(
        "acme",
        "shopify",
        db.clone(),
        Arc::new(client),
        Duration::ZERO,
    );

    // First round: everything is new (5 products, 5 inventory levels).
    let first = poller.poll().await.unwrap();
    assert_eq!(first.journaled, 10);
    // A stream's first read is a first sync: a backfill, whose writes queue behind live ones.
    assert!(
        db.journal_since("acme", 0, 100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.source == weft_store::Source::Backfill)
    );
    // A full resync with nothing changed reads everything again and journals nothing.
    let full = poller.poll_full().await.unwrap();
    assert_eq!(full.read, first.read);
    assert_eq!(full.journaled, 0);

    // The shop's clock jumps back an hour, then a product is edited: its `updated_at` is
    // behind the watermark, so an incremental round does not see it; a full resync does.
    sim.skew_clock(chrono::Duration::hours(-1));
    sim.edit_product(
        products[2],
        ProductEdit {
            title: Some("Renamed while the clock was wrong".into()),
            ..ProductEdit::default()
        },
    )
    .unwrap();
    let incremental = poller.poll().await.unwrap();
    assert_eq!(incremental.journaled, 0);
    let full = poller.poll_full().await.unwrap();
    assert_eq!(full.journaled, 1, "{full:?}");
    // The full resync's find is a recovery; the first read's ten documents were not.
    let counters = db.counters("acme").await.unwrap();
    assert_eq!(counters.get("recovered"), Some(&1));
    // And the watermark did not move backwards: the next incremental round is quiet.
    assert_eq!(poller.poll().await.unwrap().journaled, 0);
}
