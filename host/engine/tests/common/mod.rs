//! Shared fixtures of the engine tests that run one store of Shopify shops and NetSuite through
//! the stock plugins: the store, its processor, a Shopify product and a NetSuite item as
//! journal entries, and what the golden record and the outbox hold for the SKU's price; a
//! dispatcher over a Shopify connection that counts what it sends.
#![allow(dead_code)] // each test binary uses a part

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{Processor, ResolverRule, System, Systems};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{NewJournalEntry, Source, Store};

pub const STORE: &str = "acme";
pub const SKU: &str = "LS-S";

pub fn stock(runtime: &Runtime, name: &str) -> Arc<weft_runtime::Plugin> {
    let bytes = weft_plugin_artifacts::stock(name).expect("stock plugin is embedded");
    runtime.load(name, bytes).unwrap()
}

pub fn systems(shops: &[&str]) -> Systems {
    let mut v: Vec<System> = shops
        .iter()
        .map(|name| System {
            name: (*name).into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        })
        .collect();
    v.push(System {
        name: "netsuite".into(),
        platform: Arc::new(weft_netsuite::NetSuite),
        connection: None,
    });
    Systems::new(v)
}

pub fn processor(
    db: &Store,
    runtime: &Runtime,
    shops: &[&str],
    resolvers: &[(&str, &str)],
    config: Value,
) -> Processor {
    let mapper = stock(runtime, "shopify-netsuite");
    processor_with(db, runtime, shops, resolvers, config, &mapper)
}

/// [`processor`] with another mapper than the stock one.
pub fn processor_with(
    db: &Store,
    runtime: &Runtime,
    shops: &[&str],
    resolvers: &[(&str, &str)],
    config: Value,
    mapper: &Arc<weft_runtime::Plugin>,
) -> Processor {
    processor_over(db, runtime, systems(shops), resolvers, config, mapper)
}

/// [`processor_with`] over `systems` (Shopify shops and `netsuite`, e.g. with connections).
pub fn processor_over(
    db: &Store,
    runtime: &Runtime,
    systems: Systems,
    resolvers: &[(&str, &str)],
    mut config: Value,
    mapper: &Arc<weft_runtime::Plugin>,
) -> Processor {
    let platforms: serde_json::Map<String, Value> = systems
        .iter()
        .map(|s| (s.name.clone(), json!(s.platform.name())))
        .collect();
    config["weft:systems"] = Value::Object(platforms);
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: config.as_object().cloned().unwrap(),
        limits: Limits::default(),
    };
    let rules = resolvers
        .iter()
        .map(|(pattern, name)| ResolverRule {
            pattern: (*pattern).into(),
            resolver: runtime
                .resolver(&stock(runtime, name), ctx.clone())
                .unwrap(),
        })
        .collect();
    let mapper = runtime.mapper(mapper, ctx).unwrap();
    Processor::new(STORE, db.clone(), systems, mapper, rules)
}

pub async fn open(dir: &tempfile::TempDir) -> (Store, Runtime) {
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("weft.db").display()
    ))
    .await
    .unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    (db, runtime)
}

pub fn shop_product(system: &str, price: &str, version: &str) -> NewJournalEntry {
    shop_product_by(system, price, "Acme", version)
}

pub fn shop_product_by(system: &str, price: &str, vendor: &str, version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: system.into(),
        kind: "product".into(),
        entity_id: "8812345678901234567".into(),
        version: version.into(),
        source: Source::Webhook,
        delivery_id: None,
        body: json!({
            "id": "8812345678901234567", "title": "Linen Shirt", "body_html": "<p>Linen.</p>",
            "vendor": vendor, "product_type": "Shirts", "handle": "linen-shirt",
            "status": "active", "tags": "", "updated_at": version,
            "variants": [{"id": "4400000000000000001", "product_id": "8812345678901234567",
                          "title": "S", "sku": SKU, "price": price, "compare_at_price": null,
                          "barcode": null, "inventory_item_id": "5500000000000000001",
                          "updated_at": version}]
        }),
        received_at: Utc::now(),
    }
}

pub fn erp_item(price: f64, version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "netsuite".into(),
        kind: "variant".into(),
        entity_id: "7".into(),
        version: version.into(),
        source: Source::Cdc,
        delivery_id: None,
        body: json!({
            "id": "7", "itemId": SKU, "displayName": "Linen Shirt S",
            "basePrice": price, "isInactive": false, "lastModifiedDate": version,
        }),
        received_at: Utc::now(),
    }
}

/// The store's counter `name` (0 when never bumped).
pub async fn counter(db: &Store, name: &str) -> i64 {
    db.counters(STORE)
        .await
        .unwrap()
        .get(name)
        .copied()
        .unwrap_or(0)
}

pub async fn golden_price(db: &Store) -> (Value, Value) {
    let g = db.golden(STORE, "price", SKU).await.unwrap().unwrap();
    (g.fields["price"].clone(), g.field_meta["price"].clone())
}

/// Writes of `kind` queued to `system` for the SKU.
pub async fn writes(db: &Store, system: &str, kind: &str) -> Vec<Value> {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.system == system && r.key == SKU && r.kind == kind)
        .map(|r| r.body["desired"].clone())
        .collect()
}

pub async fn price_writes(db: &Store, system: &str) -> Vec<Value> {
    writes(db, system, "price").await
}

pub const T0: &str = "2026-11-26T10:00:00Z";
pub const T1: &str = "2026-11-26T10:05:00Z";
pub const T2: &str = "2026-11-26T10:10:00Z";
pub const T3: &str = "2026-11-26T10:15:00Z";

/// An upsert of variant `key` to `system` (price 10.00), as a step queues it.
pub fn variant_row(system: &str, key: &str) -> weft_store::NewOutboxRow {
    weft_store::NewOutboxRow {
        system: system.into(),
        kind: "variant".into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: format!("weft-test-{system}-{key}"),
        body: json!({
            "system": system,
            "kind": "variant",
            "op": "upsert",
            "target_id": key,
            "external_id": null,
            "body": { "price": "10.00" },
            "desired": { "price": "10.00" },
        }),
        priority: 20,
        coalesce: false,
        resend_may_apply: false,
    }
}

/// What a connection answers for `command` it applied.
pub fn applied(command: &weft_platform::WriteCommand) -> weft_platform::WriteOutcome {
    weft_platform::WriteOutcome {
        target_id: command.target_id.clone().unwrap_or_default(),
        version: None,
        document: None,
        children: Vec::new(),
        applied: true,
        created: false,
    }
}

/// A connection that counts the writes it is asked to send and applies them all.
pub struct Counting {
    pub sent: Arc<std::sync::atomic::AtomicUsize>,
}

impl weft_platform::Connection for Counting {
    fn platform(&self) -> Arc<dyn weft_platform::Platform> {
        Arc::new(weft_shopify::Shopify)
    }

    fn execute<'a>(
        &'a self,
        command: &'a weft_platform::WriteCommand,
    ) -> futures::future::BoxFuture<
        'a,
        Result<weft_platform::WriteOutcome, weft_platform::ConnectorError>,
    > {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Ok(applied(command)) })
    }

    fn change_sources(
        &self,
        _ctx: &weft_platform::SourceCtx,
    ) -> Vec<Arc<dyn weft_platform::Poller>> {
        Vec::new()
    }
}

/// A dispatcher of `STORE` writing to one Shopify shop through [`Counting`] on `sent`, with a
/// seeded backoff of 1 to 20 ms.
pub fn counting_dispatcher(
    db: Store,
    sent: &Arc<std::sync::atomic::AtomicUsize>,
) -> weft_engine::Dispatcher {
    let systems = Systems::new(vec![System {
        name: "shopify".into(),
        platform: Arc::new(weft_shopify::Shopify),
        connection: Some(Arc::new(Counting { sent: sent.clone() })),
    }]);
    let backoff = Arc::new(weft_ratelimit::Backoff::seeded(
        weft_ratelimit::BackoffConfig {
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(20),
            max_retries: 10,
        },
        7,
    ));
    weft_engine::Dispatcher::new(STORE, db, systems, backoff)
}
