//! Privacy requests end to end through the engine, on SQLite and on PostgreSQL
//! (`WEFT_TEST_POSTGRES_URL`; skipped, saying so, when unset): a Shopify customer and their
//! order are synced to NetSuite with the stock mapper (journal, per-system state, golden
//! records, what each system holds, cross references, outbox rows, a dead letter, an intake
//! reject); a `customers/redact` request is processed; then no byte of that customer's personal
//! data is anywhere in the database (every column of every table searched), another customer's
//! is untouched, and the customer's order still syncs (a cancellation reaches NetSuite). The
//! journal's redacted bodies keep their hashes, so the same old document read again is a
//! duplicate, and rebuilding the projections from the journal brings nothing back. A data
//! request writes one JSON file with what weft holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{PrivacyProcessor, Processor, System, Systems};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{
    AppendOutcome, NewJournalEntry, NewPrivacyRequest, OpenOptions, PrivacyAction, PrivacySubject,
    REDACTED, Source, Store,
};

const STORE: &str = "acme";

/// The customer whose data goes: every value a byte search must not find afterwards.
const PERSONAL: [&str; 12] = [
    "quill.hazelmere@example.test",
    "Quillon",
    "Hazelmere",
    "+15550199231",
    "17 Brackenfold Lane",
    "Unit 4 Larkspur Yard",
    "Thistleby",
    "Q7X 3Z9",
    "Hazelmere Brackets",
    "+15550144872",
    "Ring the brass bell twice",
    "Quillon Hazelmere",
];

/// Another customer's, which stay.
const OTHERS: [&str; 3] = ["marguerite.oakhaven@example.test", "Oakhaven", "Wrenbury"];

fn processor(db: &Store, runtime: &Runtime) -> Processor {
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: json!({"weft:systems": {"shopify": "shopify", "netsuite": "netsuite"},
                       "order_location": "1"})
        .as_object()
        .cloned()
        .unwrap(),
        limits: Limits::default(),
    };
    let bytes = weft_plugin_artifacts::stock("shopify-netsuite").expect("embedded");
    let mapper = runtime
        .mapper(&runtime.load("shopify-netsuite", bytes).unwrap(), ctx)
        .unwrap();
    Processor::new(STORE, db.clone(), systems(), mapper, Vec::new())
}

fn systems() -> Systems {
    Systems::new(vec![
        System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        },
        System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: None,
        },
    ])
}

fn entry(system: &str, kind: &str, id: &str, version: &str, body: Value) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: system.into(),
        kind: kind.into(),
        entity_id: id.into(),
        version: version.into(),
        source: if system == "shopify" {
            Source::Webhook
        } else {
            Source::Cdc
        },
        delivery_id: None,
        body,
        received_at: Utc::now(),
    }
}

/// An address from `[first, last, company, address1, address2, city, zip, phone]`.
fn address(a: [&str; 8]) -> Value {
    let [first, last, company, a1, a2, city, zip, phone] = a;
    json!({"first_name": first, "last_name": last, "company": company, "address1": a1,
           "address2": a2, "city": city, "province_code": "ON", "country_code": "CA",
           "zip": zip, "phone": phone})
}

fn customer(id: &str, email: &str, first: &str, last: &str, phone: &str, addr: Value) -> Value {
    let mut a = addr;
    a["default"] = json!(true);
    json!({"id": id, "email": email, "first_name": first, "last_name": last, "phone": phone,
           "tags": "", "updated_at": "2026-11-26T10:00:00Z", "addresses": [a]})
}

fn order(
    id: &str,
    customer: Value,
    email: Value,
    addr: Value,
    note: Value,
    version: &str,
    cancelled: bool,
) -> Value {
    json!({"id": id, "name": format!("#{id}"), "email": email,
           "created_at": "2026-11-26T10:00:00Z", "updated_at": version,
           "customer": customer,
           "line_items": [{"id": "1", "sku": "LS-S", "quantity": 1, "price": "49.00",
                           "variant_id": "44", "product_id": "88", "tax_lines": [],
                           "discount_allocations": []}],
           "total_price": "49.00", "currency": "CAD", "financial_status": "paid",
           "cancelled_at": if cancelled { json!(version) } else { Value::Null },
           "subtotal_price": "49.00", "total_discounts": "0.00", "total_tax": "0.00",
           "total_shipping": "0.00", "taxes_included": false,
           "billing_address": addr, "shipping_address": addr,
           "shipping_lines": [], "discount_codes": [], "payment_gateway_names": ["manual"],
           "note": note})
}

fn quill_address() -> Value {
    address([
        "Quillon",
        "Hazelmere",
        "Hazelmere Brackets",
        "17 Brackenfold Lane",
        "Unit 4 Larkspur Yard",
        "Thistleby",
        "Q7X 3Z9",
        "+15550144872",
    ])
}

/// A test database on one backend, and how to search it byte for byte.
struct Db {
    store: Store,
    url: String,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("weft.db").display());
    Db {
        store: Store::open(&url).await.unwrap(),
        url,
        schema: None,
        _dir: dir,
    }
}

async fn postgres() -> Option<Db> {
    let Ok(url) = std::env::var("WEFT_TEST_POSTGRES_URL") else {
        println!("skipping the PostgreSQL run: WEFT_TEST_POSTGRES_URL is unset");
        return None;
    };
    let schema = format!(
        "weft_privacy_{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let store = Store::open_with(
        &url,
        OpenOptions {
            postgres_schema: Some(schema.clone()),
            ..OpenOptions::default()
        },
    )
    .await
    .unwrap();
    Some(Db {
        store,
        url,
        schema: Some(schema),
        _dir: tempfile::tempdir().unwrap(),
    })
}

impl Db {
    /// Every cell of every table, as bytes (a PostgreSQL row as its text form, where `bytea`
    /// is hex: the needles are looked for in hex too).
    async fn cells(&self) -> Vec<(String, Vec<u8>)> {
        use sqlx::{Connection, Row};
        let mut out = Vec::new();
        match &self.schema {
            None => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let tables: Vec<String> = sqlx::query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
                for t in tables {
                    let cols: Vec<String> =
                        sqlx::query(&format!("SELECT name FROM pragma_table_info('{t}')"))
                            .fetch_all(&mut c)
                            .await
                            .unwrap()
                            .iter()
                            .map(|r| r.get::<String, _>(0))
                            .collect();
                    for col in cols {
                        for r in
                            sqlx::query(&format!("SELECT CAST(\"{col}\" AS BLOB) FROM \"{t}\""))
                                .fetch_all(&mut c)
                                .await
                                .unwrap()
                        {
                            if let Some(b) = r.get::<Option<Vec<u8>>, _>(0) {
                                out.push((format!("{t}.{col}"), b));
                            }
                        }
                    }
                }
            }
            Some(schema) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let tables: Vec<String> = sqlx::query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                )
                .bind(schema)
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
                for t in tables {
                    for r in sqlx::query(&format!("SELECT t::text FROM \"{schema}\".\"{t}\" t"))
                        .fetch_all(&mut c)
                        .await
                        .unwrap()
                    {
                        out.push((t.clone(), r.get::<String, _>(0).into_bytes()));
                    }
                }
            }
        }
        out
    }

    /// Where `needle` occurs (case-insensitively, as text or as hex).
    async fn find(&self, needles: &[&str]) -> Vec<(String, String)> {
        let cells = self.cells().await;
        let mut found = Vec::new();
        for n in needles {
            let lower = n.to_lowercase();
            let hex: String = n.bytes().map(|b| format!("{b:02x}")).collect();
            for (place, bytes) in &cells {
                let text = String::from_utf8_lossy(bytes).to_lowercase();
                if text.contains(&lower) || text.contains(&hex) {
                    found.push(((*n).to_owned(), place.clone()));
                }
            }
        }
        found
    }

    async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            use sqlx::Connection;
            self.store.close().await;
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

async fn settle(p: &Processor) {
    for _ in 0..20 {
        if p.step(100).await.unwrap().entries == 0 {
            return;
        }
    }
}

/// The NetSuite rows of `key`'s `kind` in the outbox.
async fn netsuite_writes(db: &Store, kind: &str, key: &str) -> Vec<weft_store::OutboxRow> {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.system == "netsuite" && r.kind == kind && r.key == key)
        .collect()
}

async fn redact_then_search(db: Db) {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(db._dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let store = &db.store;
    let p = processor(store, &runtime);

    // Two customers and their orders arrive from Shopify.
    let quill = customer(
        "7001",
        "quill.hazelmere@example.test",
        "Quillon",
        "Hazelmere",
        "+15550199231",
        quill_address(),
    );
    let quill_entry = entry(
        "shopify",
        "customer",
        "7001",
        "2026-11-26T10:00:00Z",
        quill.clone(),
    );
    store.append(quill_entry.clone()).await.unwrap();
    let marg_addr = address([
        "Marguerite",
        "Oakhaven",
        "",
        "3 Mill Row",
        "",
        "Wrenbury",
        "W1 2AB",
        "+15550100000",
    ]);
    store
        .append(entry(
            "shopify",
            "customer",
            "7002",
            "2026-11-26T10:00:00Z",
            customer(
                "7002",
                "marguerite.oakhaven@example.test",
                "Marguerite",
                "Oakhaven",
                "+15550100000",
                marg_addr.clone(),
            ),
        ))
        .await
        .unwrap();
    let quill_ref = json!({"id": "7001", "email": "quill.hazelmere@example.test",
                           "first_name": "Quillon", "last_name": "Hazelmere"});
    store
        .append(entry(
            "shopify",
            "order",
            "8001",
            "2026-11-26T10:01:00Z",
            order(
                "8001",
                quill_ref,
                json!("quill.hazelmere@example.test"),
                quill_address(),
                json!("Ring the brass bell twice"),
                "2026-11-26T10:01:00Z",
                false,
            ),
        ))
        .await
        .unwrap();
    store
        .append(entry(
            "shopify",
            "order",
            "8002",
            "2026-11-26T10:01:00Z",
            order(
                "8002",
                json!({"id": "7002", "email": "marguerite.oakhaven@example.test",
                                 "first_name": "Marguerite", "last_name": "Oakhaven"}),
                json!("marguerite.oakhaven@example.test"),
                marg_addr,
                Value::Null,
                "2026-11-26T10:01:00Z",
                false,
            ),
        ))
        .await
        .unwrap();
    settle(&p).await;
    assert!(!netsuite_writes(store, "customer", "7001").await.is_empty());
    assert!(!netsuite_writes(store, "order", "8001").await.is_empty());

    // NetSuite's copies as its change capture reads them.
    store
        .append(entry(
            "netsuite",
            "customer",
            "301",
            "2026-11-26T10:02:00Z",
            json!({"id": "301", "externalId": "shopify-customer-7001", "entityId": "CUST301",
                   "companyName": "Hazelmere Brackets", "firstName": "Quillon",
                   "lastName": "Hazelmere", "email": "quill.hazelmere@example.test",
                   "phone": "+15550199231", "isPerson": true,
                   "lastModifiedDate": "2026-11-26T10:02:00Z",
                   "addressBook": {"items": [{"defaultBilling": true, "defaultShipping": true,
                     "isResidential": false, "addressBookAddress": {"addressee": "Hazelmere Brackets",
                     "attention": "Quillon Hazelmere", "addr1": "17 Brackenfold Lane",
                     "addr2": "Unit 4 Larkspur Yard", "city": "Thistleby", "zip": "Q7X 3Z9",
                     "country": "CA", "addrPhone": "+15550144872"}}]}}),
        ))
        .await
        .unwrap();
    store
        .append(entry(
            "netsuite",
            "order",
            "9001",
            "2026-11-26T10:03:00Z",
            json!({"id": "9001", "externalId": "shopify-order-8001", "tranId": "SO9001",
                   "entity": {"id": "301", "refName": "Quillon Hazelmere"},
                   "tranDate": "2026-11-26", "orderStatus": "B", "memo": "#8001",
                   "item": {"items": [{"item": {"id": "1201", "refName": "LS-S"}, "quantity": 1,
                                       "rate": 49.0, "amount": 49.0}]},
                   "billingAddress": {"addressee": "Hazelmere Brackets", "attention": "Quillon Hazelmere",
                     "addr1": "17 Brackenfold Lane", "city": "Thistleby", "zip": "Q7X 3Z9",
                     "country": "CA", "addrPhone": "+15550144872",
                     "addrText": "Quillon Hazelmere\n17 Brackenfold Lane\nThistleby Q7X 3Z9"},
                   "custbody_shopify_note": "Ring the brass bell twice",
                   "lastModifiedDate": "2026-11-26T10:03:00Z"}),
        ))
        .await
        .unwrap();
    settle(&p).await;

    // A write that died with NetSuite's message naming the customer, and an intake reject.
    let claimed = store
        .claim_due(
            Utc::now() + chrono::Duration::hours(1),
            100,
            Duration::from_secs(60),
            Some(STORE),
        )
        .await
        .unwrap();
    let dead = claimed
        .iter()
        .find(|r| r.kind == "order" && r.key == "8001")
        .expect("the order write was claimed");
    store
        .dead_letter(
            dead.id,
            dead.claim_token.as_deref().unwrap(),
            "Invalid entity reference: customer quill.hazelmere@example.test (Quillon Hazelmere)",
            Utc::now(),
        )
        .await
        .unwrap();
    for r in claimed.iter().filter(|r| r.id != dead.id) {
        store
            .retry(
                r.id,
                r.claim_token.as_deref().unwrap(),
                Utc::now(),
                "test",
                Utc::now(),
            )
            .await
            .unwrap();
    }
    store
        .record_reject(
            STORE,
            "a customers/update delivery whose body has no id",
            &json!({"x-shopify-topic": "customers/update"}),
            br#"{"email": "quill.hazelmere@example.test", "first_name": "Quillon"}"#,
            Utc::now(),
        )
        .await
        .unwrap();

    let before = db.find(&PERSONAL).await;
    assert!(before.len() > 30, "the data is there before: {before:?}");
    assert!(!db.find(&OTHERS).await.is_empty());

    // The request, as the intake stores it, then processed.
    let (id, new) = store
        .record_privacy_request(&NewPrivacyRequest {
            store_id: STORE.into(),
            system: "shopify".into(),
            action: PrivacyAction::Redact,
            delivery_id: Some("c-1".into()),
            subject: PrivacySubject {
                customer_ids: vec!["7001".into()],
                emails: vec!["quill.hazelmere@example.test".into()],
                phones: vec!["+15550199231".into()],
                orders: vec!["8001".into()],
            },
            received_at: Utc::now(),
        })
        .await
        .unwrap();
    assert!(new);
    let privacy = PrivacyProcessor::new(STORE, store.clone(), systems());
    let started = Instant::now();
    let pass = privacy.run_pending().await.unwrap();
    let took = started.elapsed();
    println!(
        "redaction ({:?}): {} rows, {} fields in {:?}; {} places held the data before",
        store.backend(),
        pass.rows,
        pass.fields,
        took,
        before.len()
    );
    assert_eq!(pass.completed, 1);
    assert!(pass.rows >= 10, "{pass:?}");

    let after = db.find(&PERSONAL).await;
    assert!(
        after.is_empty(),
        "personal data left after redaction: {after:?}"
    );
    assert!(!db.find(&[REDACTED]).await.is_empty());
    // The other customer is untouched.
    for v in OTHERS {
        assert!(!db.find(&[v]).await.is_empty(), "{v} was lost");
    }
    let req = &store.privacy_requests(Some(STORE), false).await.unwrap()[0];
    assert_eq!(req.id, id);
    assert_eq!(req.status, "done");
    let report = req.report.as_ref().unwrap();
    assert_eq!(report["total_rows"].as_u64(), Some(pass.rows));
    assert!(report["rows"]["journal"].as_u64().unwrap() >= 4, "{report}");
    assert!(report["rows"]["golden"].as_u64().unwrap() >= 2, "{report}");
    assert!(
        report["rows"]["intake_rejects"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert_eq!(req.subject.customer_ids, vec!["7001".to_string()]);
    let redacted_entry = store
        .journal_since(STORE, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.system == "shopify" && e.kind == "customer" && e.entity_id == "7001")
        .unwrap();
    assert_eq!(redacted_entry.body["email"], REDACTED);
    assert_eq!(redacted_entry.body["id"], "7001");

    // The same old document read again (a poll's overlap) is a duplicate, not new data.
    assert!(matches!(
        store.append(quill_entry).await.unwrap(),
        AppendOutcome::Duplicate(_)
    ));

    // The order still syncs: Shopify (which erased the customer too) cancels it.
    store
        .append(entry(
            "shopify",
            "order",
            "8001",
            "2026-11-26T11:00:00Z",
            order(
                "8001",
                json!({"id": "7001", "email": null, "first_name": null, "last_name": null}),
                Value::Null,
                Value::Null,
                Value::Null,
                "2026-11-26T11:00:00Z",
                true,
            ),
        ))
        .await
        .unwrap();
    settle(&p).await;
    let writes = netsuite_writes(store, "order", "8001").await;
    let cancel = writes
        .iter()
        .find(|r| {
            matches!(r.status, weft_store::OutboxStatus::Pending)
                && r.body["body"]["orderStatus"] == "C"
        })
        .unwrap_or_else(|| panic!("the cancellation was not planned for NetSuite: {writes:?}"));
    assert!(
        cancel.body["body"]["entity"]["externalId"]
            .as_str()
            .is_some_and(|e| e.ends_with("7001")),
        "{}",
        cancel.body
    );

    // Rebuilding the projections from the journal brings nothing back.
    store.rebuild_projections(STORE).await.unwrap();
    settle(&p).await;
    let after = db.find(&PERSONAL).await;
    assert!(
        after.is_empty(),
        "personal data back after a rebuild: {after:?}"
    );

    // A data request for the other customer: one JSON file with what weft holds.
    store
        .record_privacy_request(&NewPrivacyRequest {
            store_id: STORE.into(),
            system: "shopify".into(),
            action: PrivacyAction::Export,
            delivery_id: Some("c-2".into()),
            subject: PrivacySubject {
                customer_ids: vec!["7002".into()],
                orders: vec!["8002".into()],
                ..PrivacySubject::default()
            },
            received_at: Utc::now(),
        })
        .await
        .unwrap();
    let exports = db._dir.path().join("exports");
    let pass = PrivacyProcessor::new(STORE, store.clone(), systems())
        .with_export_dir(&exports)
        .run_pending()
        .await
        .unwrap();
    assert_eq!(pass.completed, 1);
    let files: Vec<_> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let text = doc.to_string();
    for v in OTHERS {
        assert!(text.contains(v), "{v} missing from the export");
    }
    assert!(!text.contains("Hazelmere"));
    let kinds: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"customer") && kinds.contains(&"order"),
        "{kinds:?}"
    );
    assert!(!doc["journal"].as_array().unwrap().is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the export is readable by its owner only");
    }
    let done = store.privacy_requests(Some(STORE), true).await.unwrap();
    assert!(done.is_empty(), "{done:?}");

    db.cleanup().await;
}

#[tokio::test]
async fn redaction_leaves_no_byte_of_the_customer_and_orders_sync_on_sqlite() {
    redact_then_search(sqlite().await).await;
}

#[tokio::test]
async fn redaction_leaves_no_byte_of_the_customer_and_orders_sync_on_postgres() {
    let Some(db) = postgres().await else { return };
    redact_then_search(db).await;
}
