//! A person's seeded edits (cell edits, typos, inserted, deleted, added, half-typed and
//! re-sorted rows, renamed and moved headers) between change-capture rounds: after each
//! burst, the last document journaled for every key is what the sheet shows, a key gone from
//! the sheet is journaled as deleted, and no key is journaled from two rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use weft_platform::{Connection, SourceCtx};
use weft_sheets::table::text;
use weft_sheets::{
    Layout, QuotaLimiter, ServiceAccountKey, SheetsClient, SheetsConnection, TokenSource,
};
use weft_sim_sheets::{ChaosMix, QuotaLimits, SheetsSim, SimConfig};
use weft_store::Store;

#[tokio::test]
async fn the_journal_follows_a_person_editing() {
    // The quota is not what this test is about: room for a few hundred rounds a minute.
    let big = 100_000;
    let sim = SheetsSim::new(SimConfig {
        quota: QuotaLimits {
            reads_per_user: big,
            reads_per_project: big,
            writes_per_user: big,
            writes_per_project: big,
        },
        ..SimConfig::default()
    });
    let server = sim.serve_local().await.unwrap();
    let id = sim.create_spreadsheet("Catalog", &[("Products", 100, 10)]);
    let mut rows = vec![vec![
        "SKU".to_string(),
        "Title".into(),
        "Price".into(),
        "Stock".into(),
        "Active".into(),
    ]];
    for i in 0..20 {
        rows.push(vec![
            format!("SKU-{i:02}"),
            format!("Item {i}"),
            format!("{}.50", 5 + i),
            format!("{}", 10 + i),
            "TRUE".into(),
        ]);
    }
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    sim.type_values(&id, "Products!A1", &refs).unwrap();
    let key = sim.service_account_json(None).unwrap().to_string();
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenSource::new(
        ServiceAccountKey::from_json(&key).unwrap(),
        None,
        http.clone(),
    ));
    let client = Arc::new(SheetsClient::new(
        http,
        &server.base_url,
        &id,
        tokens,
        Arc::new(QuotaLimiter::new(1000, 1000)),
    ));
    let conn = SheetsConnection::new(client, Layout::default(), Some("Products".into()), 2);
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let poller = conn
        .change_sources(&SourceCtx {
            store_id: "s".into(),
            system: "sheet".into(),
            db: db.clone(),
            overlap: Duration::from_secs(1),
            webhook_url: None,
        })
        .remove(0);
    let mix = ChaosMix {
        rename_header: 1,
        ..ChaosMix::default()
    };
    let mut renames = 0;
    poller.poll().await.unwrap();
    for burst in 0..40u64 {
        let edits = sim
            .person_chaos(&id, Some("Products"), "SKU", 100 + burst, 8, &mix)
            .unwrap();
        poller.poll().await.unwrap();
        if conn.report().sheet.is_some() {
            // A header was renamed: nothing is read until the person puts it back.
            renames += 1;
            let before = db.journal_since("s", 0, 100_000).await.unwrap().len();
            poller.poll().await.unwrap();
            assert_eq!(
                db.journal_since("s", 0, 100_000).await.unwrap().len(),
                before
            );
        }
        let headers = sim.values(&id, "Products!1:1").unwrap().remove(0);
        for (c, h) in headers.iter().enumerate() {
            if let Some(orig) = h.strip_suffix(" (new)") {
                sim.type_cell(
                    &id,
                    &format!("Products!{}1", weft_sheets::col_letters(c)),
                    orig,
                )
                .unwrap();
            }
        }
        poller.poll().await.unwrap();
        poller.poll().await.unwrap();
        assert!(
            conn.report().sheet.is_none(),
            "burst {burst}: {:?}",
            conn.report()
        );
        // What the sheet shows now, by key (complete rows with a unique key only).
        let shown = sim.values(&id, "Products").unwrap();
        let headers = shown[0].clone();
        let col = |h: &str| headers.iter().position(|x| x == h).unwrap();
        let (k, t, p, s, a) = (
            col("SKU"),
            col("Title"),
            col("Price"),
            col("Stock"),
            col("Active"),
        );
        let cell = |r: &Vec<String>, c: usize| r.get(c).cloned().unwrap_or_default();
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for r in &shown[1..] {
            let key = cell(r, k);
            if !key.is_empty() {
                *count.entry(key).or_default() += 1;
            }
        }
        let journal = db.journal_since("s", 0, 100_000).await.unwrap();
        let mut last: BTreeMap<String, Value> = BTreeMap::new();
        for e in &journal {
            last.insert(e.entity_id.clone(), e.body.clone());
        }
        for r in &shown[1..] {
            let key = cell(r, k);
            if key.is_empty() || count[&key] > 1 || cell(r, t).is_empty() || cell(r, p).is_empty() {
                continue;
            }
            let doc = last
                .get(&key)
                .unwrap_or_else(|| panic!("burst {burst}: {key} never journaled ({edits:?})"));
            for (field, c) in [("title", t), ("price", p), ("stock", s), ("active", a)] {
                assert_eq!(
                    text(&doc[field]),
                    cell(r, c),
                    "burst {burst}: {key}.{field}"
                );
            }
        }
        for (key, doc) in &last {
            if doc.get("deleted").is_some() {
                assert!(
                    !count.contains_key(key),
                    "burst {burst}: {key} deleted but on the sheet"
                );
            } else {
                assert!(
                    count.contains_key(key),
                    "burst {burst}: {key} gone but not journaled as deleted"
                );
            }
        }
    }
    assert!(renames > 0, "the seeds rename a header at least once");
}
