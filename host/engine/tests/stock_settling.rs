//! Stock against weft's own writes, without crashes: the processing step (stock mapper,
//! `counter-merge` for quantities) and the outbox settled as the dispatcher settles it.
//!
//! The last tests (`owner_*`) run a store whose ERP owns the stock (the default): a sale is the
//! order, counted once; a storefront shows the ERP's quantity less the orders the ERP has not
//! committed, less the buffer. The others run a store without an owner (`[stock] owner =
//! "none"`): quantities are counters and every side's change counts.
//!
//! Platforms version stock to the second, and a reading taken while weft's write is in flight
//! may or may not show the write. The dispatcher journals each applied stock write's result
//! with the level's version after it; the step:
//! - sets aside readings journaled after the write was queued until the result is applied,
//!   then judges them against what the write set (a sale after the write counts once; the echo
//!   of the write is no change), never against what it replaced (that was the phantom: a sale
//!   read while a +10 receipt was being written counted as +9);
//! - treats readings older than the write's version, or of its second showing the quantity it
//!   replaced, as stale;
//! - merges the write's guard quantity like a reading (the platform's compare-and-set proved the
//!   level held it), so a change weft had not read yet counts once;
//! - never lets a step's record of what a side holds overwrite a newer one (the step is refused
//!   whole and re-run).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use weft_engine::{Processor, ResolverRule, StockOwner, StockPolicy};
use weft_platform::{EntityKind, WriteOutcome};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{
    NewJournalEntry, ObservedTarget, OutboxRow, Source, StepCommit, Store, StoreError,
    TargetStateUpsert,
};

const STORE: &str = "acme";
const SKU: &str = "SKU-1";
/// The canonical key of the one stock level: `<sku>@<NetSuite location>`.
const KEY: &str = "SKU-1@1";
const SHOPIFY_LEVEL: &str = "5500000000000000001@61000000001";
const NETSUITE_LEVEL: &str = "1201@1";

struct Env {
    /// The platforms' clock at the start (it is not the host's).
    start: chrono::DateTime<Utc>,
    db: Store,
    processor: Processor,
    systems: weft_engine::Systems,
    _dir: tempfile::TempDir,
}

/// A store without a stock owner: quantities are counters.
async fn env() -> Env {
    env_with(StockPolicy {
        owner: StockOwner::Counters,
        buffer: 0,
    })
    .await
}

async fn env_with(policy: StockPolicy) -> Env {
    let systems = weft_engine::Systems::new(vec![
        weft_engine::System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        },
        weft_engine::System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: None,
        },
    ]);
    let config = json!({
        "locations": { "61000000001": "1" },
        "owners": { "*": "netsuite" },
        "default_customer": "7",
    });
    env_over(policy, systems, config).await
}

/// A store syncing `systems` (named as the mapper's `weft:systems`), `config` the mapper's.
async fn env_over(policy: StockPolicy, systems: weft_engine::Systems, mut config: Value) -> Env {
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
    config["weft:systems"] = systems
        .iter()
        .map(|s| (s.name.clone(), json!(s.platform.name())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: config.as_object().cloned().unwrap(),
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
    let processor =
        Processor::new(STORE, db.clone(), systems.clone(), mapper, rules).with_stock(policy);
    let start = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
    Env {
        start,
        db,
        processor,
        systems,
        _dir: dir,
    }
}

impl Env {
    /// A platform version `secs` seconds after the test's start.
    fn at(&self, secs: i64) -> String {
        (self.start + chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// Journals a Shopify reading of the level (a webhook or poll page).
    async fn shopify_shows(&self, secs: i64, available: i64) {
        let version = self.at(secs);
        self.journal(
            "shopify",
            SHOPIFY_LEVEL,
            &version,
            Source::Webhook,
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

    /// Journals a NetSuite reading of the level (change capture).
    async fn netsuite_shows(&self, secs: i64, on_hand: i64) {
        let version = self.at(secs);
        self.journal(
            "netsuite",
            NETSUITE_LEVEL,
            &version,
            Source::Cdc,
            json!({
                "item_id": "1201",
                "sku": SKU,
                "location_id": "1",
                "quantity_on_hand": on_hand,
                "last_modified_date": version,
            }),
        )
        .await;
    }

    /// Journals a sheet's row as a round reads it (its stock a cell of the row).
    async fn sheet_shows(&self, secs: i64, price: f64, stock: i64) {
        let version = self.at(secs);
        self.journal_doc(
            ("sheet", "variant", SKU),
            &version,
            Source::Poll,
            json!({
                "id": SKU, "sheet": "Products", "sku": SKU, "title": "Mug",
                "description": "", "price": price, "compare_at_price": null,
                "stock": stock, "active": true, "extra": {},
            }),
        )
        .await;
    }

    /// Journals a reading of the level's own document.
    async fn journal(&self, system: &str, id: &str, version: &str, source: Source, body: Value) {
        self.journal_doc((system, "inventory-level", id), version, source, body)
            .await;
    }

    /// Journals `system`'s document `kind`/`id`, once.
    async fn journal_doc(
        &self,
        (system, kind, id): (&str, &str, &str),
        version: &str,
        source: Source,
        body: Value,
    ) {
        let outcome = self
            .db
            .append(NewJournalEntry {
                store_id: STORE.into(),
                system: system.into(),
                kind: kind.into(),
                entity_id: id.into(),
                version: version.into(),
                source,
                delivery_id: None,
                body,
                received_at: Utc::now(),
            })
            .await
            .unwrap();
        assert!(outcome.is_inserted(), "{system} {version} journaled once");
    }

    /// Runs the processing step over everything journaled.
    async fn step(&self) -> weft_engine::StepReport {
        self.processor.step(100).await.unwrap()
    }

    /// The agreed quantity.
    async fn golden(&self) -> i64 {
        let g = self
            .db
            .golden(STORE, "inventory-level", KEY)
            .await
            .unwrap()
            .expect("the level has a golden record");
        g.fields["quantity"].as_i64().unwrap()
    }

    /// What weft records `system` as holding.
    async fn holds(&self, system: &str) -> i64 {
        let t = self
            .db
            .target_state(STORE, system, "inventory-level", KEY)
            .await
            .unwrap()
            .expect("a target state");
        t.fields["quantity"].as_i64().unwrap()
    }

    /// Claims the due write to `system` (marks it in flight, as the dispatcher does).
    async fn send(&self, system: &str) -> OutboxRow {
        let rows = self
            .db
            .claim_due(Utc::now(), 64, Duration::from_secs(120), Some(STORE))
            .await
            .unwrap();
        let mut mine: Vec<OutboxRow> = rows.into_iter().filter(|r| r.system == system).collect();
        assert_eq!(mine.len(), 1, "one write to {system} is due");
        mine.remove(0)
    }

    /// Records `row` as applied at the platform's version `secs`, exactly as the dispatcher
    /// does (its result journaled with the level's version).
    async fn applied(&self, row: &OutboxRow, secs: i64) {
        let outcome = WriteOutcome {
            // A stock write answers with the level's id (`item@location`) on Shopify and
            // NetSuite, with the row's key on a sheet.
            target_id: match row.system.as_str() {
                "shopify" => SHOPIFY_LEVEL.into(),
                "sheet" => SKU.into(),
                _ => NETSUITE_LEVEL.into(),
            },
            version: Some(self.at(secs)),
            document: None,
            children: Vec::new(),
            applied: true,
            created: false,
        };
        // Journaled as the platform's document carrying the level, as the dispatcher does.
        let level_kind = self
            .systems
            .platform(&row.system)
            .expect("a system of the store")
            .document_kind(EntityKind::InventoryLevel);
        let completion =
            weft_engine::dispatch::applied_completion(row, &outcome, level_kind.as_str());
        assert_eq!(
            completion.journal.len(),
            1,
            "a stock write journals its result"
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

    /// Records `row` as refused by the platform's compare-and-set, as the dispatcher does.
    async fn refused_as_stale(&self, row: &OutboxRow) {
        let completion = weft_engine::dispatch::refused_completion(row);
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

    /// The quantity each queued (pending) write to `system` would set, in order.
    async fn queued(&self, system: &str) -> Vec<i64> {
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

    /// The compare-and-set guard of each queued (pending) write to `system`, in order.
    async fn queued_guards(&self, system: &str) -> Vec<Option<i64>> {
        let status = weft_store::OutboxStatus::Pending;
        let rows = self
            .db
            .list_outbox(Some(STORE), Some(status), 100)
            .await
            .unwrap();
        rows.into_iter()
            .filter(|r| r.system == system)
            .map(|r| r.body["expected_quantity"].as_i64())
            .collect()
    }

    /// Both sides agree on `opening`; an ERP receipt brings NetSuite to `received` and weft's
    /// write of it to Shopify is in flight.
    async fn receipt_in_flight(&self, opening: i64, received: i64) -> OutboxRow {
        self.start_at(opening).await;
        self.netsuite_shows(10, received).await;
        self.step().await;
        self.send("shopify").await
    }

    /// Both sides agree on `qty` to begin with.
    async fn start_at(&self, qty: i64) {
        self.netsuite_shows(0, qty).await;
        self.shopify_shows(0, qty).await;
        self.step().await;
        assert_eq!(self.golden().await, qty);
        assert_eq!(
            (self.holds("shopify").await, self.holds("netsuite").await),
            (qty, qty)
        );
        assert!(self.queued("shopify").await.is_empty());
        assert!(self.queued("netsuite").await.is_empty());
    }
}

#[tokio::test]
async fn a_sale_read_while_a_write_is_in_flight_counts_once() {
    let e = env().await;
    // An ERP receipt (+10) is being written to Shopify (50 -> 60) when a sale of one lands
    // right after it; Shopify's webhook (59) arrives before the write's answer.
    let write = e.receipt_in_flight(50, 60).await;
    e.shopify_shows(31, 59).await;
    let report = e.step().await;
    assert_eq!(report.parked, 1, "{report:?}");
    assert_eq!(
        e.golden().await,
        60,
        "nothing is decided from the ambiguous reading"
    );
    assert!(e.queued("netsuite").await.is_empty());
    // The answer: applied at 30. The reading is judged against the 60 weft set: one sale.
    e.applied(&write, 30).await;
    let report = e.step().await;
    assert_eq!(report.parked, 0, "{report:?}");
    assert_eq!(
        e.golden().await,
        59,
        "50 + 10 received - 1 sold (not 50 + 10 + 9)"
    );
    assert_eq!(e.holds("shopify").await, 59);
    assert_eq!(e.queued("netsuite").await, vec![59]);
    assert!(e.queued("shopify").await.is_empty());
}

#[tokio::test]
async fn the_echo_of_a_write_in_flight_is_not_a_change() {
    let e = env().await;
    e.start_at(50).await;
    // Two ERP receipts (+10, +10). The first is being written to Shopify when the second is
    // merged, so a second Shopify write is queued behind it.
    e.netsuite_shows(10, 60).await;
    e.step().await;
    assert_eq!(e.queued("shopify").await, vec![60]);
    let first = e.send("shopify").await;
    e.netsuite_shows(20, 70).await;
    e.step().await;
    assert_eq!(e.golden().await, 70);
    // The queued write is guarded by what Shopify holds once the first lands (60), not by the
    // 50 the first replaces: sales that took the level back to 50 must fail it, not be undone.
    assert_eq!(e.queued_guards("shopify").await, vec![Some(60)]);
    // Shopify's webhook for weft's first write arrives before its answer.
    e.shopify_shows(30, 60).await;
    let report = e.step().await;
    assert_eq!(report.parked, 1, "{report:?}");
    e.applied(&first, 30).await;
    let report = e.step().await;
    assert_eq!(report.conflicts, 0, "{report:?}");
    assert_eq!(
        e.golden().await,
        70,
        "50 + two receipts of 10: the echo of weft's own 60 is no sale of Shopify's"
    );
    assert_eq!(e.holds("shopify").await, 60);
    assert!(
        e.queued("netsuite").await.is_empty(),
        "NetSuite already holds 70: no adjustment"
    );
    // The second write lands; its echo changes nothing either.
    let second = e.send("shopify").await;
    e.applied(&second, 40).await;
    e.shopify_shows(40, 70).await;
    e.step().await;
    assert_eq!(e.golden().await, 70);
    assert!(e.queued("netsuite").await.is_empty());
    assert!(e.queued("shopify").await.is_empty());
}

#[tokio::test]
async fn a_reading_from_before_a_write_is_stale_after_its_result() {
    let e = env().await;
    // An ERP receipt (+5) is written to Shopify, guarded by the 50 Shopify held.
    let write = e.receipt_in_flight(50, 55).await;
    // Two readings from before the write landed (at 12) arrive while it is in flight: an
    // older version, and one of the write's own second showing the quantity it replaced.
    e.shopify_shows(11, 50).await;
    e.db.append(NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: "inventory-level".into(),
        entity_id: SHOPIFY_LEVEL.into(),
        version: e.at(12),
        source: Source::Poll,
        delivery_id: None,
        body: json!({
            "inventory_item_id": "5500000000000000001",
            "location_id": "61000000001",
            "available": 50,
            "updated_at": e.at(12),
            "sku": SKU,
            "read_by": "a poll before the write", // a different document of the same second
        }),
        received_at: Utc::now(),
    })
    .await
    .unwrap();
    assert_eq!(e.step().await.parked, 2);
    e.applied(&write, 12).await;
    let report = e.step().await;
    assert_eq!(report.stale, 2, "{report:?}");
    assert_eq!(e.golden().await, 55, "Shopify holds 55: it did not sell 5");
    assert_eq!(e.holds("shopify").await, 55);
    assert!(
        e.queued("netsuite").await.is_empty(),
        "no phantom adjustment of NetSuite"
    );
    // A sale after the write is a real change, even one that brings the level back to the
    // quantity the write replaced.
    e.shopify_shows(13, 50).await;
    let report = e.step().await;
    assert_eq!(report.stale, 0, "{report:?}");
    assert_eq!(e.golden().await, 50);
    assert_eq!(e.queued("netsuite").await, vec![50]);
}

#[tokio::test]
async fn a_reading_of_the_write_s_second_journaled_after_its_result_is_stale() {
    for owner in [StockOwner::Counters, StockOwner::Erp] {
        let e = env_with(StockPolicy { owner, buffer: 0 }).await;
        // A receipt (+5) is written to Shopify guarded by 50 and lands at 12; its result is
        // recorded by one step.
        let write = e.receipt_in_flight(50, 55).await;
        e.applied(&write, 12).await;
        e.step().await;
        assert_eq!(e.holds("shopify").await, 55);
        // Then a poll page read just before the write, in its second, is journaled: it shows
        // the quantity the write replaced. Applied, it would have weft believe Shopify holds
        // 50 and send 55 guarded by 50, which Shopify refuses, again and again.
        e.shopify_shows(12, 50).await;
        let report = e.step().await;
        assert_eq!(report.stale, 1, "{report:?}");
        assert_eq!(e.holds("shopify").await, 55);
        assert_eq!(e.golden().await, 55);
        assert!(e.queued("shopify").await.is_empty());
        assert!(e.queued("netsuite").await.is_empty());
    }
}

#[tokio::test]
async fn late_readings_from_before_a_write_change_nothing() {
    let e = env().await;
    // A receipt (+10) is written to Shopify guarded by 50. Before it is sent, Shopify sells 2
    // and gets 2 back (a return): the guard matches again and the write lands. The sale's and
    // the return's webhooks arrive late, after the result, at older versions.
    let write = e.receipt_in_flight(50, 60).await;
    e.applied(&write, 20).await;
    e.step().await;
    e.shopify_shows(15, 48).await;
    e.step().await;
    e.shopify_shows(16, 50).await;
    e.step().await;
    assert_eq!(
        e.golden().await,
        60,
        "the round trip nets to nothing: 50 + 10"
    );
    assert_eq!(e.holds("shopify").await, 60);
    assert!(e.queued("netsuite").await.is_empty());
    assert!(e.queued("shopify").await.is_empty());
}

#[tokio::test]
async fn a_write_refused_as_stale_releases_the_readings_it_held() {
    let e = env().await;
    let write = e.receipt_in_flight(50, 60).await;
    // Shopify sold 3 before the write reached it: the compare-and-set refuses it.
    e.shopify_shows(11, 47).await;
    assert_eq!(e.step().await.parked, 1);
    e.refused_as_stale(&write).await;
    e.step().await;
    assert_eq!(e.golden().await, 57, "50 + 10 received - 3 sold");
    assert_eq!(e.holds("shopify").await, 47);
    assert_eq!(e.queued("shopify").await, vec![57]);
    assert_eq!(e.queued_guards("shopify").await, vec![Some(47)]);
    assert_eq!(e.queued("netsuite").await, vec![57]);
}

#[tokio::test]
async fn a_stale_pre_write_reading_of_a_new_level_does_not_undo_the_initial_stock() {
    let e = env().await;
    // NetSuite holds 55 of a new item; Shopify's level of the new variant shows 0 until weft
    // sets it. A poll read it as 0 before the write and is journaled while it is in flight.
    e.netsuite_shows(0, 55).await;
    e.step().await;
    e.shopify_shows(0, 0).await;
    e.step().await;
    // Counter merge of a first sight: the engine now agrees on a quantity and writes Shopify.
    let agreed = e.golden().await;
    let write = e.send("shopify").await;
    e.shopify_shows(1, 0).await;
    e.applied(&write, 2).await;
    let report = e.step().await;
    assert_eq!(report.stale, 1, "{report:?}");
    assert_eq!(e.golden().await, agreed);
    assert_eq!(e.holds("shopify").await, agreed);
}

#[tokio::test]
async fn a_step_never_overwrites_a_target_state_recorded_after_it_read() {
    let e = env().await;
    let upsert = |qty: i64| TargetStateUpsert {
        system: "netsuite".into(),
        kind: "inventory-level".into(),
        key: KEY.into(),
        fields: json!({ "sku": SKU, "location": "1", "quantity": qty }),
    };
    let mut first = StepCommit::new(STORE, Utc::now());
    first.observed_targets.push(ObservedTarget {
        upsert: upsert(65),
        read: None,
    });
    e.db.commit_step(&first).await.unwrap();
    assert_eq!(e.holds("netsuite").await, 65);
    // A write completes: NetSuite holds 64 now.
    let mut completed = StepCommit::new(STORE, Utc::now());
    completed.target_states.push(upsert(64));
    e.db.commit_step(&completed).await.unwrap();
    // A step that read 65 before that completion must not record its 65 over the 64.
    let mut stale = StepCommit::new(STORE, Utc::now());
    stale.observed_targets.push(ObservedTarget {
        upsert: upsert(65),
        read: Some(upsert(65).fields),
    });
    stale.advance_cursor_to = Some(7);
    let err = e.db.commit_step(&stale).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TargetChanged { system, key, .. } if system == "netsuite" && key == KEY),
        "{err}"
    );
    assert_eq!(e.holds("netsuite").await, 64);
    assert_eq!(
        e.db.cursor(STORE).await.unwrap(),
        0,
        "nothing of the step applied"
    );
    // A step that read the record as it is now records over it; one that saw no record while
    // there is one is refused too.
    let mut fresh = StepCommit::new(STORE, Utc::now());
    fresh.observed_targets.push(ObservedTarget {
        upsert: upsert(63),
        read: Some(upsert(64).fields),
    });
    e.db.commit_step(&fresh).await.unwrap();
    assert_eq!(e.holds("netsuite").await, 63);
    let mut blind = StepCommit::new(STORE, Utc::now());
    blind.observed_targets.push(ObservedTarget {
        upsert: upsert(1),
        read: None,
    });
    assert!(matches!(
        e.db.commit_step(&blind).await,
        Err(StoreError::TargetChanged { .. })
    ));
    assert_eq!(e.holds("netsuite").await, 63);
}

#[tokio::test]
async fn readings_after_the_echo_chain_from_what_the_write_set() {
    let e = env().await;
    // An ERP receipt (+10) is written to Shopify; its echo and then a sale of 2 arrive before
    // the write's answer.
    let write = e.receipt_in_flight(50, 60).await;
    e.shopify_shows(11, 60).await;
    e.step().await;
    e.shopify_shows(12, 58).await;
    e.step().await;
    assert_eq!(e.golden().await, 60);
    e.applied(&write, 11).await;
    e.step().await;
    assert_eq!(e.golden().await, 58);
    assert_eq!(e.holds("shopify").await, 58);
    // The next sale counts once.
    e.shopify_shows(13, 57).await;
    e.step().await;
    assert_eq!(e.golden().await, 57, "50 + 10 received - 3 sold");
    assert_eq!(e.queued("netsuite").await, vec![57]);
}

#[tokio::test]
async fn a_receipt_landing_during_weft_s_netsuite_adjustment_counts_once() {
    let e = env().await;
    e.start_at(50).await;
    // A Shopify sale (50 -> 49) is written to NetSuite: read 50, check the guard, adjust by -1.
    // A receipt of 5 lands between that read and the adjustment, so NetSuite ends at 54, and
    // change capture reads 54 at the adjustment's own second while weft waits for its answer.
    e.shopify_shows(10, 49).await;
    e.step().await;
    let write = e.send("netsuite").await;
    e.netsuite_shows(20, 54).await;
    assert_eq!(e.step().await.parked, 1);
    e.applied(&write, 20).await;
    let report = e.step().await;
    assert_eq!(report.stale, 0, "{report:?}");
    assert_eq!(e.golden().await, 54, "50 - 1 sold + 5 received");
    assert_eq!(e.holds("netsuite").await, 54);
    assert_eq!(e.queued("shopify").await, vec![54]);
    assert!(e.queued("netsuite").await.is_empty());
}

#[tokio::test]
async fn a_write_queued_behind_one_that_never_landed_is_planned_again_when_refused() {
    let e = env().await;
    // A receipt (+10) is being written to Shopify; a second (+10) is queued behind it, guarded
    // by the 60 the first would leave.
    let first = e.receipt_in_flight(50, 60).await;
    e.netsuite_shows(20, 70).await;
    e.step().await;
    assert_eq!(e.queued_guards("shopify").await, vec![Some(60)]);
    // weft is killed before the first call was saved, so it was never sent; on restart it is
    // due again, and the newer row replaces it.
    e.db.retry(
        first.id,
        first.claim_token.as_deref().unwrap(),
        Utc::now(),
        "weft stopped while this write was in flight",
        Utc::now(),
    )
    .await
    .unwrap();
    // The second is refused: Shopify still holds 50, not 60. No new reading will come (the
    // level has not moved), yet the level must be written again, from 50.
    let second = e.send("shopify").await;
    e.refused_as_stale(&second).await;
    e.step().await;
    assert_eq!(e.queued("shopify").await, vec![70]);
    assert_eq!(e.queued_guards("shopify").await, vec![Some(50)]);
    assert_eq!(e.golden().await, 70);
}

#[tokio::test]
async fn a_change_that_lands_on_the_agreed_quantity_still_counts() {
    let e = env().await;
    e.start_at(50).await;
    // NetSuite receives 2 (golden 52); before weft's write reaches Shopify, two units are
    // returned there: Shopify shows 52 too, by a change of its own, not by weft's write.
    e.netsuite_shows(10, 52).await;
    e.step().await;
    e.shopify_shows(11, 52).await;
    e.step().await;
    assert_eq!(e.golden().await, 54, "50 + 2 received + 2 returned");
    assert_eq!(e.queued("netsuite").await, vec![54]);
    assert_eq!(e.queued("shopify").await, vec![54]);
    assert_eq!(e.queued_guards("shopify").await, vec![Some(52)]);
}

/// A store whose ERP owns the stock (the default), with `buffer` units held back.
async fn owner_env(buffer: i64) -> Env {
    let e = env_with(StockPolicy {
        owner: StockOwner::Erp,
        buffer,
    })
    .await;
    assert_eq!(e.processor.stock_owner(), Some("netsuite"));
    e
}

impl Env {
    /// NetSuite keeps `qty` on hand, nothing committed, and Shopify shows it: weft agrees.
    async fn both_keep(&self, qty: i64) {
        self.netsuite_keeps(0, qty, 0).await;
        self.shopify_shows(0, qty).await;
        self.step().await;
        assert_eq!(
            (self.golden().await, self.holds("shopify").await),
            (qty, qty)
        );
    }

    /// Journals NetSuite's level as NetSuite keeps it: on hand, and committed to sales orders.
    async fn netsuite_keeps(&self, secs: i64, on_hand: i64, committed: i64) {
        let version = self.at(secs);
        self.journal(
            "netsuite",
            NETSUITE_LEVEL,
            &version,
            Source::Cdc,
            json!({
                "item_id": "1201", "sku": SKU, "location_id": "1",
                "quantity_on_hand": on_hand, "quantity_committed": committed,
                "quantity_available": on_hand - committed, "quantity_backordered": 0,
                "quantity_sellable": on_hand - committed, "last_modified_date": version,
            }),
        )
        .await;
    }

    /// Journals a Shopify order of `quantity` units of the SKU (a guest checkout).
    async fn shopify_order(&self, secs: i64, id: &str, quantity: i64, cancelled: bool) {
        let version = self.at(secs);
        let outcome = self
            .db
            .append(NewJournalEntry {
                store_id: STORE.into(),
                system: "shopify".into(),
                kind: "order".into(),
                entity_id: id.into(),
                version: version.clone(),
                source: Source::Webhook,
                delivery_id: None,
                body: json!({
                    "id": id, "name": format!("#{id}"), "email": null, "customer": null,
                    "created_at": self.at(0), "updated_at": version, "currency": "EUR",
                    "total_price": format!("{}.00", 10 * quantity),
                    "financial_status": "paid",
                    "cancelled_at": if cancelled { json!(version) } else { Value::Null },
                    "line_items": [{"id": "1", "sku": SKU, "quantity": quantity, "price": "10.00"}],
                }),
                received_at: Utc::now(),
            })
            .await
            .unwrap();
        assert!(outcome.is_inserted());
    }

    /// Sends the queued sales order and records it created as NetSuite's `so_id` at `secs`,
    /// as the dispatcher does (the created record journaled as an observation).
    async fn sales_order_created(&self, secs: i64, so_id: &str) {
        let row = self.send("netsuite").await;
        assert_eq!(row.kind, "order");
        let outcome = WriteOutcome {
            target_id: so_id.into(),
            version: Some(self.at(secs)),
            document: None,
            children: Vec::new(),
            applied: true,
            created: false,
        };
        let completion =
            weft_engine::dispatch::applied_completion(&row, &outcome, "inventory-level");
        self.db
            .complete(
                row.id,
                row.claim_token.as_deref().unwrap(),
                &completion,
                Utc::now(),
            )
            .await
            .unwrap();
        let version = self.at(secs);
        let outcome = self
            .db
            .append(NewJournalEntry {
                store_id: STORE.into(),
                system: "netsuite".into(),
                kind: "order".into(),
                entity_id: so_id.into(),
                version: version.clone(),
                source: Source::Poll,
                delivery_id: None,
                body: json!({"id": so_id, "externalId": format!("shopify-order-{}", row.key),
                             "lastModifiedDate": version}),
                received_at: Utc::now(),
            })
            .await
            .unwrap();
        assert!(outcome.is_inserted());
    }

    async fn counter(&self, name: &str) -> i64 {
        self.db
            .counters(STORE)
            .await
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Stock writes queued for `system`.
    async fn stock_writes(&self, system: &str) -> usize {
        let status = weft_store::OutboxStatus::Pending;
        self.db
            .list_outbox(Some(STORE), Some(status), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.system == system && r.kind == "inventory-level")
            .count()
    }
}

#[tokio::test]
async fn owner_a_sale_fulfilled_in_the_erp_is_deducted_once() {
    let e = owner_env(0).await;
    e.both_keep(50).await;

    // A sale of 2 in Shopify: the order and the level that shows it (in either order).
    e.shopify_shows(5, 48).await;
    e.shopify_order(5, "1001", 2, false).await;
    e.step().await;
    assert_eq!(
        e.golden().await,
        50,
        "the ERP's quantity is not adjusted for a sale"
    );
    assert_eq!(
        e.stock_writes("netsuite").await,
        0,
        "a sale is never an adjustment"
    );
    assert_eq!(
        e.stock_writes("shopify").await,
        0,
        "Shopify shows 50 - 2 pending"
    );
    assert_eq!(e.counter("stock_overridden").await, 0);

    // The sales order lands in NetSuite, which commits it: available 48.
    e.sales_order_created(6, "9001").await;
    e.step().await;
    e.netsuite_keeps(6, 50, 2).await;
    e.step().await;
    assert_eq!(e.golden().await, 48);
    assert_eq!(
        e.stock_writes("shopify").await,
        0,
        "48 committed, none pending"
    );

    // The warehouse fulfils it: on hand 48, committed 0, available still 48.
    e.netsuite_keeps(20, 48, 0).await;
    e.step().await;
    assert_eq!(e.golden().await, 48, "fulfilled once: 50 - 2");
    assert_eq!(e.holds("shopify").await, 48);
    assert_eq!(e.stock_writes("shopify").await, 0);
    assert_eq!(e.stock_writes("netsuite").await, 0);
}

#[tokio::test]
async fn owner_pending_demand_waits_for_a_reading_that_shows_the_sales_order() {
    let e = owner_env(0).await;
    e.both_keep(50).await;
    e.shopify_order(5, "1001", 3, false).await;
    e.shopify_shows(5, 47).await;
    e.step().await;
    e.sales_order_created(8, "9001").await;
    e.step().await;
    // A reading taken before the sales order (older version) does not release the demand.
    e.netsuite_keeps(7, 50, 0).await;
    e.step().await;
    assert_eq!(e.stock_writes("shopify").await, 0, "still 50 - 3 pending");
    // The one that shows it does, and nothing moves.
    e.netsuite_keeps(8, 50, 3).await;
    e.step().await;
    assert_eq!(e.golden().await, 47);
    assert_eq!(e.stock_writes("shopify").await, 0);
    // A receipt in the ERP reaches Shopify as itself.
    e.netsuite_keeps(30, 60, 3).await;
    e.step().await;
    assert_eq!(e.queued("shopify").await, vec![57]);
}

#[tokio::test]
async fn owner_a_storefront_change_that_is_not_a_sale_is_overwritten_and_counted() {
    let e = owner_env(0).await;
    e.both_keep(50).await;
    e.shopify_shows(5, 40).await;
    e.step().await;
    assert_eq!(e.counter("stock_overridden").await, 1);
    assert_eq!(e.golden().await, 50, "the owner's quantity stands");
    assert_eq!(e.queued("shopify").await, vec![50]);
    assert_eq!(e.queued_guards("shopify").await, vec![Some(40)]);
    assert_eq!(e.stock_writes("netsuite").await, 0);
}

#[tokio::test]
async fn owner_a_cancelled_order_gives_its_units_back_before_the_erp_saw_it() {
    let e = owner_env(0).await;
    e.both_keep(50).await;
    e.shopify_order(5, "1001", 2, false).await;
    e.step().await;
    // Shopify's level was not read yet: weft writes 48 (50 - 2 pending).
    assert_eq!(e.queued("shopify").await, vec![48]);
    e.shopify_order(9, "1001", 2, true).await;
    e.step().await;
    // Cancelled before NetSuite had it: nothing pending, and Shopify, which still shows 50,
    // must not get the 48 queued before.
    assert!(e.queued("shopify").await.is_empty());
    assert_eq!(e.stock_writes("netsuite").await, 0);
}

#[tokio::test]
async fn owner_the_buffer_is_held_back_from_storefronts() {
    let e = owner_env(3).await;
    e.both_keep(50).await;
    assert_eq!(e.queued("shopify").await, vec![47]);
    assert_eq!(e.golden().await, 50);
    e.netsuite_keeps(10, 2, 0).await;
    e.step().await;
    assert_eq!(
        e.queued("shopify").await,
        vec![0],
        "a buffer larger than the stock shows 0, not -1"
    );
}

/// A sheet and a shop, quantities as counters: the sheet's stock is a cell of its row.
async fn sheet_env() -> Env {
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
    let config = json!({
        "locations": { "61000000001": "1" },
        "sheet_location": "1",
        "owners": { "*": "sheet" },
    });
    let policy = StockPolicy {
        owner: StockOwner::Counters,
        buffer: 0,
    };
    env_over(policy, systems, config).await
}

/// Where stock is a member of a larger document (a sheet's row), weft's stock write answers
/// with that document's id and its result is journaled as that document
/// (`Platform::document_kind` of `inventory-level`). A row read before the write landed is
/// then older than the result: stale after it, not the level going back to the quantity the
/// write replaced (a phantom receipt of what was sold).
#[tokio::test]
async fn a_row_read_before_weft_s_stock_write_landed_is_stale_after_its_result() {
    let e = sheet_env().await;
    e.sheet_shows(0, 10.0, 50).await;
    e.shopify_shows(0, 50).await;
    e.step().await;
    assert_eq!(e.golden().await, 50);
    // A sale in the shop: 45 is written to the sheet, guarded by the 50 it holds.
    e.shopify_shows(2, 45).await;
    e.step().await;
    assert_eq!(e.queued("sheet").await, vec![45]);
    let write = e.send("sheet").await;
    // A round reads the row before the write lands: it still shows 50.
    e.sheet_shows(3, 10.0, 50).await;
    assert_eq!(e.step().await.parked, 1, "it waits for the write's result");
    e.applied(&write, 4).await;
    let report = e.step().await;
    assert_eq!(report.stale, 1, "{report:?}");
    assert_eq!(
        e.golden().await,
        45,
        "the sale stands: no phantom receipt of 5"
    );
    assert_eq!(e.holds("sheet").await, 45);
    assert!(e.queued("shopify").await.is_empty(), "nothing written back");
    // The next round reads the row as the write left it, with the person's new price: the
    // price is a change, the stock is not.
    e.sheet_shows(5, 12.5, 45).await;
    e.step().await;
    assert_eq!(e.golden().await, 45);
    let price = e.db.golden(STORE, "price", SKU).await.unwrap().unwrap();
    assert_eq!(price.fields["price"], "12.50");
    assert!(e.queued("shopify").await.is_empty());
}
