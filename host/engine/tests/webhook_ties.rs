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
    /// A first read that runs while this entry is journaled and shows this body (the shop's
    /// state when the read began).
    overtaken: Mutex<Option<(Store, NewJournalEntry, Value)>>,
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
        let mut now = self.now.lock().unwrap().clone();
        let overtaken = self.overtaken.lock().unwrap().take();
        Some(Box::pin(async move {
            if let Some((db, mut entry, shown)) = overtaken {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                entry.received_at = chrono::Utc::now();
                db.append(entry).await.unwrap();
                // The read ends a moment after the entry was received: a read begun in the
                // same millisecond as an entry's receipt counts as overtaken by it (receipts
                // are kept to the millisecond), so without this the next read could be too.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                now = Some(shown);
            }
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
        overtaken: Mutex::new(None),
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

/// Found by the 20%-loss convergence run (an option group's variant archived during the first
/// sync): a tie's read again ran while a poll journaled the product with a variant just added;
/// the read, begun before that, showed the product without it and was journaled as the later
/// observation of the second, so the variant looked removed. A read overtaken by an entry of
/// the entity is not taken as the later one: the entity is read again, the newest state (the
/// poll's) wins, and the older read's value is never written anywhere.
#[tokio::test]
async fn a_read_again_overtaken_by_a_newer_reading_is_not_taken_as_the_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let mut newer = shop_product("shopify", "69.99", T1);
    newer.source = weft_store::Source::Poll;
    let shop = shop(Some(newer.body.clone()), true);
    let older = shop_product("shopify", "59.99", T1).body;
    *shop.overtaken.lock().unwrap() = Some((db.clone(), newer, older));
    let p = store_with(&db, &runtime, shop.clone());
    agreed(&db, &p).await;

    // A tie; while the shop is read again, a poll journals the shop's newer state.
    db.append(delivered("59.99", T1, "d-0")).await.unwrap();
    for _ in 0..4 {
        p.step(100).await.unwrap();
    }

    assert_eq!(golden_price(&db).await.0, json!("69.99"));
    let writes = price_writes(&db, "netsuite").await;
    assert!(
        writes.iter().all(|w| w["price"] != json!("59.99")),
        "the older read's price reached NetSuite: {writes:?}"
    );
    // The first read was overtaken; the second, begun after the poll was journaled, settled
    // the tie; the poll's document, a tie itself in the next step, was read once more.
    assert_eq!(counter(&db, "tie_read_overtaken").await, 1);
    assert_eq!(shop.rereads.load(Ordering::SeqCst), 3);
}

/// The shop's product at `version` with one variant per SKU of `skus`; `read`: as a read
/// carries it (with SEO, which webhooks never do).
fn product_of(skus: &[&str], version: &str, read: bool) -> NewJournalEntry {
    let mut e = shop_product("shopify", "49.99", version);
    let variant = e.body["variants"][0].clone();
    e.body["variants"] = Value::Array(
        skus.iter()
            .enumerate()
            .map(|(i, sku)| {
                let mut v = variant.clone();
                v["id"] = json!(format!("44000000000000000{i:02}"));
                v["title"] = json!(sku);
                v["sku"] = json!(sku);
                v["inventory_item_id"] = json!(format!("55000000000000000{i:02}"));
                v
            })
            .collect(),
    );
    if read {
        e.body["seo"] = json!({"title": null, "description": null});
        e.source = weft_store::Source::Poll;
    }
    e
}

/// Found by the deletes convergence run: a variant deleted in the shop reached weft as a
/// product document of the held second without it (a webhook, then a poll's read of the same
/// state). The webhook's tie was settled by reading the product, journaled as the later
/// observation; the poll's document, equal to that read, must not be applied in journal order
/// (as a document of the same second it says nothing about what it no longer lists): the
/// variant is removed once, by the read's entry.
#[tokio::test]
async fn a_tie_equal_to_the_read_still_removes_what_the_product_no_longer_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let now = product_of(&[SKU], T1, true).body;
    let shop = shop(Some(now), true);
    let p = store_with(&db, &runtime, shop.clone());
    db.append(erp_item(49.99, T0)).await.unwrap();
    let mut both = product_of(&[SKU, "LS-M"], T1, false);
    both.delivery_id = Some("d-1".into());
    db.append(both).await.unwrap();
    p.step(100).await.unwrap();
    let active = |f: Value| f["active"].clone();
    let m = db.golden(STORE, "variant", "LS-M").await.unwrap().unwrap();
    assert_eq!(active(m.fields), json!(true));

    // LS-M deleted in the same second: the webhook, then a poll's read of the product.
    let mut hook = product_of(&[SKU], T1, false);
    hook.delivery_id = Some("d-2".into());
    db.append(hook).await.unwrap();
    db.append(product_of(&[SKU], T1, true)).await.unwrap();
    for _ in 0..3 {
        p.step(100).await.unwrap();
    }

    let m = db.golden(STORE, "variant", "LS-M").await.unwrap().unwrap();
    assert_eq!(
        active(m.fields.clone()),
        json!(false),
        "the deleted variant is archived: {m:?}"
    );
    let s = db.golden(STORE, "variant", SKU).await.unwrap().unwrap();
    assert_eq!(active(s.fields), json!(true));
}
