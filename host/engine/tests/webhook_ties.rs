//! A delivered document of the second weft holds, with another body, is settled by reading the
//! entity again (`Connection::reread`), not by delivery order: versions are to the second, and
//! a webhook sent before an edit (or before weft's own write) can arrive after a read of the
//! result. Applying it would write the older value to the other systems.
//!
//! - The platform still shows what weft holds: the delivery was late; nothing is applied or
//!   written.
//! - The platform shows the delivered body: it is journaled just after the known version and
//!   applied by the next step.
//! - A connection that cannot read the entity again: the delivery is applied in journal order,
//!   as before.
//! - A poll's read is the later observation only when it began after everything journaled of
//!   the entity was received (`observed_version`); one begun before (a write's result journaled
//!   while it read) is a tie like a delivery, settled the same way.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use weft_engine::{Processor, System, Systems};
use weft_platform::{
    Connection, ConnectorError, EntityRead, Platform, Poller, SourceCtx, WriteCommand, WriteOutcome,
};
use weft_runtime::Runtime;
use weft_store::{NewJournalEntry, Store};

/// A Shopify connection whose shop shows `now` for any entity read again (`None`: it cannot
/// read entities again), counting the reads.
struct Shop {
    now: Mutex<Option<Value>>,
    rereads: AtomicUsize,
    can_reread: bool,
}

impl Connection for Shop {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(weft_shopify::Shopify)
    }

    fn execute<'a>(
        &'a self,
        _command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        unreachable!("the tests only step")
    }

    fn reread<'a>(
        &'a self,
        _kind: &'a str,
        _id: &'a str,
        _delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<EntityRead>, ConnectorError>>> {
        if !self.can_reread {
            return None;
        }
        self.rereads.fetch_add(1, Ordering::SeqCst);
        let now = self.now.lock().unwrap().clone();
        Some(Box::pin(async move {
            Ok(now.map(|body| EntityRead {
                version: body["updated_at"].as_str().unwrap().to_owned(),
                body,
            }))
        }))
    }

    fn change_sources(&self, _ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        Vec::new()
    }
}

fn store_with(db: &Store, runtime: &Runtime, shop: Arc<Shop>) -> Processor {
    let systems = Systems::new(vec![
        System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: Some(shop),
        },
        System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: None,
        },
    ]);
    processor_over(
        db,
        runtime,
        systems,
        &[("*", "last-write-wins")],
        json!({}),
        &stock(runtime, "shopify-netsuite"),
    )
}

fn delivered(price: &str, version: &str, delivery: &str) -> NewJournalEntry {
    let mut e = shop_product("shopify", price, version);
    e.delivery_id = Some(delivery.into());
    e
}

/// Both systems agree on 49.99; the shop's product is held at `T1` from a delivery.
async fn agreed(db: &Store, p: &Processor) {
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(delivered("49.99", T1, "d-1")).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(db).await.0, json!("49.99"));
}

/// The shop's product as weft holds it.
async fn held_product(db: &Store) -> weft_store::EntityState {
    db.entity_state(STORE, "shopify", "product", "8812345678901234567")
        .await
        .unwrap()
        .unwrap()
}

fn shop(now: Option<Value>, can_reread: bool) -> Arc<Shop> {
    Arc::new(Shop {
        now: Mutex::new(now),
        rereads: AtomicUsize::new(0),
        can_reread,
    })
}

#[tokio::test]
async fn a_late_delivery_of_the_held_second_is_not_applied_when_the_shop_still_shows_the_held_body()
{
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let held = shop_product("shopify", "49.99", T1).body;
    let shop = shop(Some(held), true);
    let p = store_with(&db, &runtime, shop.clone());
    agreed(&db, &p).await;

    // Sent before the state weft holds, delivered after it: same second, older body.
    db.append(delivered("59.99", T1, "d-0")).await.unwrap();
    p.step(100).await.unwrap();
    p.step(100).await.unwrap();

    assert_eq!(shop.rereads.load(Ordering::SeqCst), 1);
    assert_eq!(counter(&db, "tie_settled_by_read").await, 1);
    assert_eq!(golden_price(&db).await.0, json!("49.99"));
    assert!(
        price_writes(&db, "netsuite").await.is_empty(),
        "the late delivery's price must not reach NetSuite"
    );
    let state = held_product(&db).await;
    assert_eq!(state.body["variants"][0]["price"], json!("49.99"));
}

#[tokio::test]
async fn a_delivery_the_shop_confirms_is_applied_just_after_the_held_version() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let newer = shop_product("shopify", "59.99", T1).body;
    let shop = shop(Some(newer), true);
    let p = store_with(&db, &runtime, shop.clone());
    agreed(&db, &p).await;

    // The later edit of the same second.
    db.append(delivered("59.99", T1, "d-2")).await.unwrap();
    p.step(100).await.unwrap();
    p.step(100).await.unwrap();

    assert_eq!(shop.rereads.load(Ordering::SeqCst), 1);
    assert_eq!(golden_price(&db).await.0, json!("59.99"));
    let writes = price_writes(&db, "netsuite").await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["price"], json!("59.99"));
    let state = held_product(&db).await;
    assert_eq!(state.version, "2026-11-26T10:05:00.000001Z");
}

#[tokio::test]
async fn without_a_way_to_read_again_the_delivery_is_applied_in_journal_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let shop = shop(None, false);
    let p = store_with(&db, &runtime, shop.clone());
    agreed(&db, &p).await;

    db.append(delivered("59.99", T1, "d-2")).await.unwrap();
    p.step(100).await.unwrap();

    assert_eq!(counter(&db, "tie_settled_by_read").await, 0);
    assert_eq!(golden_price(&db).await.0, json!("59.99"));
}

#[tokio::test]
async fn a_read_begun_before_what_weft_holds_was_journaled_is_a_tie_not_the_later_observation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let shop = shop(Some(shop_product("shopify", "49.99", T1).body), true);
    let p = store_with(&db, &runtime, shop.clone());
    let began = chrono::Utc::now() - chrono::Duration::seconds(5);
    agreed(&db, &p).await;
    let other = shop_product("shopify", "59.99", T1).body;
    let id = "8812345678901234567";

    // Begun before the held document was journaled: it may be the older one.
    let v = weft_platform::poll::observed_version(
        &db,
        STORE,
        "shopify",
        "product",
        id,
        T1,
        &other,
        Some(began),
    )
    .await
    .unwrap();
    assert_eq!(
        v, T1,
        "journaled at the held version, for the step to read again"
    );
    // Begun after: the platform's state then is the later observation.
    let v = weft_platform::poll::observed_version(
        &db,
        STORE,
        "shopify",
        "product",
        id,
        T1,
        &other,
        Some(chrono::Utc::now()),
    )
    .await
    .unwrap();
    assert_eq!(v, "2026-11-26T10:05:00.000001Z");

    // The tie is settled by the read again: the shop still shows 49.99.
    let mut e = shop_product("shopify", "59.99", T1);
    e.source = weft_store::Source::Poll;
    db.append(e).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(shop.rereads.load(Ordering::SeqCst), 1);
    assert_eq!(golden_price(&db).await.0, json!("49.99"));
    assert!(price_writes(&db, "netsuite").await.is_empty());
}

#[tokio::test]
async fn a_delivery_lacking_only_what_webhooks_never_carry_is_the_held_document_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let shop = shop(None, true);
    let p = store_with(&db, &runtime, shop.clone());
    db.append(erp_item(49.99, T0)).await.unwrap();
    // A read carries SEO (which Shopify's product webhooks never do).
    let mut read = shop_product("shopify", "49.99", T1);
    read.body["seo"] = json!({"title": "Linen Shirt | Acme", "description": null});
    read.delivery_id = Some("poll-1".into());
    db.append(read).await.unwrap();
    p.step(100).await.unwrap();

    // The webhook of the same state: nothing to settle, nothing to read again.
    db.append(delivered("49.99", T1, "d-1")).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(shop.rereads.load(Ordering::SeqCst), 0);
    assert_eq!(counter(&db, "duplicate_ignored").await, 1);
    assert!(held_product(&db).await.body.get("seo").is_some());

    // One that shows another price in the second still is a tie.
    db.append(delivered("59.99", T1, "d-2")).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(shop.rereads.load(Ordering::SeqCst), 1);
}

/// Found by the convergence loop (a customer's tags): a step settles an earlier tie by reading
/// the entity again and the read is a poll's document already journaled in the same batch, so
/// journaling it is refused as a duplicate; a newer webhook is applied; then that poll's
/// document, a tie with the webhook, is the platform's latest state and must be applied, not
/// dropped as "read in this step already" when nothing of the read was journaled.
#[tokio::test]
async fn a_tied_reading_equal_to_what_the_step_read_again_is_applied_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let mut poll = shop_product("shopify", "79.99", T2);
    poll.source = weft_store::Source::Poll;
    let shop = shop(Some(poll.body.clone()), true);
    let p = store_with(&db, &runtime, shop.clone());
    agreed(&db, &p).await;

    // A late delivery of the held second, a webhook of the next second, and the poll's read of
    // that second (the shop's state now), all in one step.
    db.append(delivered("59.99", T1, "d-0")).await.unwrap();
    db.append(delivered("69.99", T2, "d-3")).await.unwrap();
    db.append(poll).await.unwrap();
    p.step(100).await.unwrap();
    p.step(100).await.unwrap();

    assert_eq!(shop.rereads.load(Ordering::SeqCst), 1);
    assert_eq!(golden_price(&db).await.0, json!("79.99"));
    let writes = price_writes(&db, "netsuite").await;
    assert_eq!(
        writes.last().map(|w| w["price"].clone()),
        Some(json!("79.99")),
        "{writes:?}"
    );
    let state = held_product(&db).await;
    assert_eq!(state.body["variants"][0]["price"], json!("79.99"));
}
