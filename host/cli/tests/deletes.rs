//! The mass-delete guard as an operator meets it: a poll round that would delete 30% of the
//! catalog (a bad read) is held, `weft status` and `/metrics` say so, `weft deletes list` shows
//! exactly those deletions, and `weft deletes release` (the real binary) hands exactly those
//! back to the engine, whose next step applies them and nothing else.

use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{DeletePolicy, Processor, ResolverRule, System, Systems};
use weft_platform::webhook::tombstone;
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{NewJournalEntry, Source, Store};

const STORE: &str = "acme";
const T0: &str = "2026-11-26T10:00:00Z";
const T1: &str = "2026-11-26T10:05:00Z";

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env_remove("WEFT_DATABASE_URL")
        .output()
        .expect("run weft")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn processor(db: &Store, runtime: &Runtime) -> Processor {
    let config = json!({"weft:systems": {"shopify": "shopify", "netsuite": "netsuite"}});
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: config.as_object().cloned().unwrap(),
        limits: Limits::default(),
    };
    let plugin = |name: &str| {
        runtime
            .load(name, weft_plugin_artifacts::stock(name).unwrap())
            .unwrap()
    };
    let rules = vec![ResolverRule {
        pattern: "*".into(),
        resolver: runtime
            .resolver(&plugin("last-write-wins"), ctx.clone())
            .unwrap(),
    }];
    let systems = Systems::new(vec![
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
    ]);
    let mapper = runtime.mapper(&plugin("shopify-netsuite"), ctx).unwrap();
    Processor::new(STORE, db.clone(), systems, mapper, rules).with_deletes(DeletePolicy::default())
}

fn product_id(n: u32) -> String {
    format!("88123456789{n:02}")
}

fn entry(
    system: &str,
    kind: &str,
    id: &str,
    version: &str,
    source: Source,
    body: Value,
) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: system.into(),
        kind: kind.into(),
        entity_id: id.into(),
        version: version.into(),
        source,
        delivery_id: None,
        body,
        received_at: Utc::now(),
    }
}

fn shop_product(n: u32) -> NewJournalEntry {
    let id = product_id(n);
    entry(
        "shopify",
        "product",
        &id,
        T0,
        Source::Poll,
        json!({
            "id": id, "title": format!("Shirt {n}"), "body_html": "", "vendor": "Acme",
            "product_type": "Shirts", "handle": format!("shirt-{n}"), "status": "active",
            "tags": "", "updated_at": T0,
            "variants": [{"id": format!("44000000000000{n:02}"), "product_id": id, "title": "S",
                          "sku": format!("SH-{n}"), "price": "20.00", "compare_at_price": null,
                          "barcode": null, "inventory_item_id": format!("55000000000000{n:02}"),
                          "updated_at": T0}]
        }),
    )
}

fn erp_item(n: u32) -> NewJournalEntry {
    entry(
        "netsuite",
        "variant",
        &format!("{}", 700 + n),
        T0,
        Source::Cdc,
        json!({"id": format!("{}", 700 + n), "itemId": format!("SH-{n}"),
               "displayName": format!("Shirt {n}"), "basePrice": 20.0, "isInactive": false,
               "lastModifiedDate": T0}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_read_is_held_shown_and_released_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Store::open(&url).await.unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let p = processor(&db, &runtime);
    for n in 1..=10 {
        db.append(erp_item(n)).await.unwrap();
        db.append(shop_product(n)).await.unwrap();
    }
    p.step(1000).await.unwrap();
    let before = db
        .list_outbox(Some(STORE), None, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .max()
        .unwrap_or(0);

    // One poll round reads the catalog without products 3, 6 and 8.
    for n in [3, 6, 8] {
        db.append(entry(
            "shopify",
            "product",
            &product_id(n),
            T1,
            Source::Poll,
            tombstone(&product_id(n)),
        ))
        .await
        .unwrap();
    }
    p.step(1000).await.unwrap();
    let d = path.to_str().unwrap();

    let status = weft(&["status", "--store", STORE, "--database", d]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(
        text(&status.stdout).contains("DELETES HELD 3"),
        "{}",
        text(&status.stdout)
    );
    let json_status = weft(&["status", "--store", STORE, "--json", "--database", d]);
    let v: Value = serde_json::from_slice(&json_status.stdout).unwrap();
    assert_eq!(v["deletes_held"], 3, "{v}");

    let metrics = weft_server::Metrics::new();
    metrics.refresh_from_store(&db).await.unwrap();
    let rendered = metrics.render();
    assert!(
        rendered.contains("weft_deletes_held{store=\"acme\"} 3"),
        "{rendered}"
    );

    let list = weft(&[
        "deletes",
        "list",
        "--store",
        STORE,
        "--json",
        "--database",
        d,
    ]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let mut listed: Vec<String> = text(&list.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["entity_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, vec![product_id(3), product_id(6), product_id(8)]);
    // Nothing was applied while held.
    for n in 1..=10 {
        let g = db
            .golden(STORE, "variant", &format!("SH-{n}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.fields["active"], json!(true));
    }

    let release = weft(&["deletes", "release", "--store", STORE, "--database", d]);
    assert!(release.status.success(), "{}", text(&release.stderr));
    assert!(
        text(&release.stdout).contains("3 deletion(s) released"),
        "{}",
        text(&release.stdout)
    );
    let again = weft(&["deletes", "release", "--store", STORE, "--database", d]);
    assert!(
        text(&again.stdout).contains("no held deletions"),
        "{}",
        text(&again.stdout)
    );

    p.step(1000).await.unwrap();
    for n in 1..=10 {
        let g = db
            .golden(STORE, "variant", &format!("SH-{n}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.fields["active"], json!(![3, 6, 8].contains(&n)), "SH-{n}");
    }
    let mut archived: Vec<String> = db
        .list_outbox(Some(STORE), None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.id > before)
        .inspect(|r| {
            assert_eq!(
                r.system, "netsuite",
                "nothing is written to the shop: {r:?}"
            )
        })
        .filter(|r| r.body["desired"]["active"] == json!(false))
        .map(|r| r.key)
        .collect();
    archived.sort();
    archived.dedup();
    assert_eq!(archived, vec!["SH-3", "SH-6", "SH-8"]);
    assert_eq!(db.status(STORE).await.unwrap().deletes_held, 0);
}

/// A store file of `[deletes]` lines: the actions and the guard are read, and `delete` (which
/// the plugin contract cannot carry) and unknown actions are refused with their line.
#[test]
fn deletes_config_is_read_and_checked() {
    let write = |deletes: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stores")).unwrap();
        std::fs::write(dir.path().join("weft.toml"), "stores_dir = \"stores\"\n").unwrap();
        let store = format!(
            r#"[store]
id = "acme"

[shopify]
shop = "acme.myshopify.com"
access_token = {{ env = "T" }}
webhook_secrets = [{{ env = "W" }}]

[netsuite]
account_id = "123456"
consumer_key = {{ env = "CK" }}
consumer_secret = {{ env = "CS" }}
token_id = {{ env = "TI" }}
token_secret = {{ env = "TS" }}

[deletes]
{deletes}
"#
        );
        std::fs::write(dir.path().join("stores").join("acme.toml"), store).unwrap();
        let host = dir.path().join("weft.toml");
        (dir, host)
    };
    let (_dir, path) = write(
        "variant = \"archive\"\ncustomer = \"ignore\"\nproduct = \"delete\"\nguard_percent = 25\nguard_min = 5",
    );
    let c = weft::platforms::load_config(&path).unwrap();
    let d = &c.stores[0].deletes;
    assert_eq!(d.action("variant"), weft_config::DeleteAction::Archive);
    assert_eq!(d.action("customer"), weft_config::DeleteAction::Ignore);
    assert_eq!(d.action("product"), weft_config::DeleteAction::Delete);
    assert_eq!(
        d.action("order"),
        weft_config::DeleteAction::Archive,
        "the default"
    );
    assert_eq!((d.guard_percent, d.guard_min), (25, 5));

    let (_dir, path) = write(
        "order = \"delete\"\nproduct = \"archve\"\nguard_percent = 150\nvariants = \"ignore\"",
    );
    let diags = weft::platforms::load_config(&path).unwrap_err();
    let text = diags.to_string();
    assert_eq!(diags.len(), 4, "{text}");
    assert!(
        text.contains("`delete` for `order` in [deletes] is not supported"),
        "{text}"
    );
    assert!(
        text.contains("only product, variant, customer records are removed"),
        "{text}"
    );
    assert!(
        text.contains("unknown action `archve` for `product` in [deletes]"),
        "{text}"
    );
    assert!(
        text.contains("`guard_percent` in [deletes] must be between 0 and 100"),
        "{text}"
    );
    assert!(
        text.contains("unknown key `variants` in [deletes]"),
        "{text}"
    );
}
