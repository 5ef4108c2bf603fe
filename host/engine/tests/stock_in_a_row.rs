//! Stock kept as a member of a larger document (a Google Sheet's row: title, price, stock):
//! weft's stock write to it answers with the row's key, and its result is journaled as that
//! row ([`Platform::document_kind`](weft_platform::Platform::document_kind) of
//! `inventory-level`). A reading of the row taken before the write landed is then older than
//! the result, so stale after it: it is not taken for the level changing back to the
//! quantity the write replaced (with counters, that was a phantom receipt of what was sold).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use weft_engine::{Processor, ResolverRule, StockOwner, StockPolicy};
use weft_platform::{EntityKind, Platform, WriteOutcome};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{NewJournalEntry, OutboxRow, Source, Store};

const STORE: &str = "acme";
const SKU: &str = "SKU-1";
const KEY: &str = "SKU-1@1";
const SHOPIFY_LEVEL: &str = "5500000000000000001@61000000001";

struct Env {
    start: chrono::DateTime<Utc>,
    db: Store,
    processor: Processor,
    _dir: tempfile::TempDir,
}

/// A sheet and a shop, quantities as counters (no stock owner).
async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
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
    let stock = |name: &str| {
        let bytes = weft_plugin_artifacts::stock(name).expect("stock plugin is embedded");
        runtime.load(name, bytes).unwrap()
    };
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: json!({
            "locations": { "61000000001": "1" },
            "sheet_location": "1",
            "owners": { "*": "sheet" },
            "weft:systems": { "sheet": weft_sheets::PLATFORM, "shopify": "shopify" },
        })
        .as_object()
        .cloned()
        .unwrap(),
        limits: Limits::default(),
    };
    let rules = vec![
        ResolverRule {
            pattern: "inventory-level.quantity".into(),
            resolver: runtime
                .resolver(&stock("counter-merge"), ctx.clone())
                .unwrap(),
        },
        ResolverRule {
            pattern: "*".into(),
            resolver: runtime
                .resolver(&stock("system-of-record"), ctx.clone())
                .unwrap(),
        },
    ];
    let mapper = runtime.mapper(&stock("shopify-netsuite"), ctx).unwrap();
    let systems = weft_engine::Systems::new(vec![
        weft_engine::System {
            name: "sheet".into(),
            platform: Arc::new(weft_sheets::Sheets),
            connection: None,
        },
        weft_engine::System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        },
    ]);
    let processor =
        Processor::new(STORE, db.clone(), systems, mapper, rules).with_stock(StockPolicy {
            owner: StockOwner::Counters,
            buffer: 0,
        });
    Env {
        start: Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap(),
        db,
        processor,
        _dir: dir,
    }
}

impl Env {
    fn at(&self, secs: i64) -> String {
        (self.start + chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    async fn journal(&self, system: &str, kind: &str, id: &str, version: String, body: Value) {
        let outcome = self
            .db
            .append(NewJournalEntry {
                store_id: STORE.into(),
                system: system.into(),
                kind: kind.into(),
                entity_id: id.into(),
                version,
                source: Source::Poll,
                delivery_id: None,
                body,
                received_at: Utc::now(),
            })
            .await
            .unwrap();
        assert!(outcome.is_inserted());
    }

    /// The sheet's row as a round reads it, at `secs`.
    async fn sheet_shows(&self, secs: i64, price: f64, stock: i64) {
        self.journal(
            "sheet",
            "variant",
            SKU,
            self.at(secs),
            json!({
                "id": SKU, "sheet": "Products", "sku": SKU, "title": "Mug",
                "description": "", "price": price, "compare_at_price": null,
                "stock": stock, "active": true, "extra": {},
            }),
        )
        .await;
    }

    async fn shopify_shows(&self, secs: i64, available: i64) {
        let version = self.at(secs);
        self.journal(
            "shopify",
            "inventory-level",
            SHOPIFY_LEVEL,
            version.clone(),
            json!({
                "inventory_item_id": "5500000000000000001",
                "location_id": "61000000001",
                "available": available,
                "updated_at": version,
                "sku": SKU,
            }),
        )
        .await;
    }

    async fn step(&self) -> weft_engine::StepReport {
        self.processor.step(100).await.unwrap()
    }

    async fn golden(&self, kind: &str, key: &str) -> Value {
        self.db
            .golden(STORE, kind, key)
            .await
            .unwrap()
            .expect("a golden record")
            .fields
    }

    async fn holds(&self, system: &str) -> i64 {
        let t = self
            .db
            .target_state(STORE, system, "inventory-level", KEY)
            .await
            .unwrap()
            .expect("a target state");
        t.fields["quantity"].as_i64().unwrap()
    }

    /// The stock writes queued for `system`: the quantity each would set.
    async fn queued_stock(&self, system: &str) -> Vec<i64> {
        let status = weft_store::OutboxStatus::Pending;
        let rows = self
            .db
            .list_outbox(Some(STORE), Some(status), 100)
            .await
            .unwrap();
        rows.into_iter()
            .filter(|r| r.system == system && r.kind == "inventory-level")
            .map(|r| r.body["desired"]["quantity"].as_i64().unwrap())
            .collect()
    }

    /// Claims the due stock write to the sheet, as the dispatcher does.
    async fn send_to_sheet(&self) -> OutboxRow {
        let rows = self
            .db
            .claim_due(Utc::now(), 64, Duration::from_secs(120), Some(STORE))
            .await
            .unwrap();
        let mut mine: Vec<OutboxRow> = rows
            .into_iter()
            .filter(|r| r.system == "sheet" && r.kind == "inventory-level")
            .collect();
        assert_eq!(mine.len(), 1, "one stock write to the sheet is due");
        mine.remove(0)
    }

    /// Records `row` as applied when the sheet answered at `secs`, as the dispatcher does.
    async fn applied(&self, row: &OutboxRow, secs: i64) {
        let outcome = WriteOutcome {
            // The sheet answers with the row's key.
            target_id: SKU.into(),
            version: Some(self.at(secs)),
            document: None,
            children: Vec::new(),
            applied: true,
            created: false,
        };
        let level_kind = weft_sheets::Sheets.document_kind(EntityKind::InventoryLevel);
        let completion =
            weft_engine::dispatch::applied_completion(row, &outcome, level_kind.as_str());
        assert_eq!(completion.journal.len(), 1);
        assert_eq!(
            completion.journal[0].kind, "variant",
            "journaled as the row"
        );
        self.db
            .complete(
                row.id,
                row.claim_token.as_deref().unwrap(),
                &completion,
                Utc::now(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_row_read_before_weft_s_stock_write_landed_is_stale_after_its_result() {
    let e = env().await;
    e.sheet_shows(0, 10.0, 50).await;
    e.shopify_shows(0, 50).await;
    e.step().await;
    assert_eq!(e.golden("inventory-level", KEY).await["quantity"], 50);
    // A sale in the shop: 45 is written to the sheet, guarded by the 50 it holds.
    e.shopify_shows(2, 45).await;
    e.step().await;
    assert_eq!(e.queued_stock("sheet").await, vec![45]);
    let write = e.send_to_sheet().await;
    // A round reads the row before the write lands: it still shows 50.
    e.sheet_shows(3, 10.0, 50).await;
    assert_eq!(e.step().await.parked, 1, "it waits for the write's result");
    e.applied(&write, 4).await;
    let report = e.step().await;
    assert!(report.stale >= 1, "{report:?}");
    assert_eq!(
        e.golden("inventory-level", KEY).await["quantity"],
        45,
        "the sale stands: no phantom receipt of 5"
    );
    assert_eq!(e.holds("sheet").await, 45);
    assert!(
        e.queued_stock("shopify").await.is_empty(),
        "nothing written back"
    );
    // The next round reads the row as the write left it, with the person's new price: the
    // price is a change, the stock is not.
    e.sheet_shows(5, 12.5, 45).await;
    e.step().await;
    assert_eq!(e.golden("inventory-level", KEY).await["quantity"], 45);
    assert_eq!(e.golden("price", SKU).await["price"], "12.50");
    assert!(e.queued_stock("shopify").await.is_empty());
}
