//! Stock conservation against weft's own writes, without crashes: the processing step (stock
//! mapper, `counter-merge` for quantities) and the outbox settled as the dispatcher settles it.
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
use weft_engine::{Processor, ResolverRule};
use weft_platform::WriteOutcome;
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
    _dir: tempfile::TempDir,
}

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
            "owners": { "*": "netsuite" },
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
    let processor = Processor::new(STORE, db.clone(), systems, mapper, rules);
    let start = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
    Env {
        start,
        db,
        processor,
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

    async fn journal(&self, system: &str, id: &str, version: &str, source: Source, body: Value) {
        let outcome = self
            .db
            .append(NewJournalEntry {
                store_id: STORE.into(),
                system: system.into(),
                kind: "inventory-level".into(),
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
            // A stock write answers with the level's id (`item@location`), on both platforms.
            target_id: if row.system == "shopify" {
                SHOPIFY_LEVEL.into()
            } else {
                NETSUITE_LEVEL.into()
            },
            version: Some(self.at(secs)),
            document: None,
            children: Vec::new(),
            applied: true,
        };
        let completion = weft_engine::dispatch::applied_completion(row, &outcome);
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
            .filter(|r| r.system == system)
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
