//! A record's lineage (`weft_store::Store::explain`) names, in order, every step that decided
//! one of its fields: the observation (system, source, version), the mapper, the merge decision
//! (a one-sided change, an echo, a conflict with the resolver, its rule and its decision, a
//! refusal with its reason) and the writes each caused.

mod common;

use common::*;
use serde_json::json;

fn decisions(e: &weft_store::Explanation) -> Vec<(String, String, String)> {
    e.steps
        .iter()
        .filter_map(|s| {
            let d = s.fields.get("price")?;
            Some((
                s.system.clone(),
                s.source.clone(),
                d["decision"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn a_conflict_is_explained_step_by_step_naming_the_resolver() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(
        &db,
        &runtime,
        &["shopify"],
        &[
            ("*", "system-of-record"),
            ("inventory-level.quantity", "counter-merge"),
        ],
        json!({ "owners": { "*": "netsuite" } }),
    );
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    // The shop changes it (one-sided: taken, written to the ERP), then the ERP changes it from
    // the old value: a conflict, which the owner (netsuite) wins.
    db.append(shop_product("shopify", "39.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(erp_item(59.0, T2)).await.unwrap();
    let report = p.step(100).await.unwrap();
    assert_eq!(report.conflicts, 1, "{report:?}");

    let started = std::time::Instant::now();
    let e = db
        .explain(STORE, "price", SKU, 500)
        .await
        .unwrap()
        .expect("the record is known")
        .field("price");
    let elapsed = started.elapsed();
    assert_eq!(
        decisions(&e),
        vec![
            ("netsuite".into(), "cdc".into(), "changed".into()),
            ("shopify".into(), "webhook".into(), "echo".into()),
            ("shopify".into(), "webhook".into(), "changed".into()),
            ("netsuite".into(), "cdc".into(), "conflict".into()),
        ],
        "{e:#?}"
    );
    let conflict = e.steps.last().unwrap();
    let d = &conflict.fields["price"];
    assert_eq!(d["value"], "59.00", "{d}");
    assert_eq!(d["base"], "49.99", "{d}");
    assert_eq!(d["other"], "39.00", "{d}");
    assert_eq!(d["resolver"]["rule"], "*", "{d}");
    assert_eq!(d["resolver"]["decided"], "take netsuite", "{d}");
    assert!(
        d["resolver"]["resolver"]
            .as_str()
            .is_some_and(|r| r.starts_with("system-of-record ")),
        "{d}"
    );
    assert_eq!(conflict.version.as_deref(), Some(T2));
    assert!(
        conflict.mapper.starts_with("shopify-netsuite "),
        "{}",
        conflict.mapper
    );
    // The writes each step caused, and where they stand.
    let shop_change = &e.steps[2];
    assert_eq!(shop_change.writes.len(), 1, "{shop_change:#?}");
    assert_eq!(shop_change.writes[0].system, "netsuite");
    assert_eq!(shop_change.writes[0].desired["price"], "39.00");
    assert_eq!(conflict.writes.len(), 1, "{conflict:#?}");
    assert_eq!(
        (
            conflict.writes[0].system.as_str(),
            conflict.writes[0].status.as_str()
        ),
        ("shopify", "pending")
    );
    assert_eq!(conflict.writes[0].desired["price"], "59.00");
    // The golden value, each copy, and who made the agreed value.
    assert_eq!(e.golden["price"], "59.00");
    assert_eq!(e.provenance["price"]["system"], "netsuite");
    let copy = |s: &str| e.copies.iter().find(|c| c.system == s).unwrap().fields["price"].clone();
    assert_eq!(
        (copy("shopify"), copy("netsuite")),
        (json!("39.00"), json!("59.00"))
    );
    // Found by its SKU, and by a system's id of it.
    let found = db.find_records(STORE, SKU, 10).await.unwrap();
    assert!(
        found.iter().any(|f| f.kind == "price" && f.key == SKU),
        "{found:?}"
    );
    let mut by_id = Vec::new();
    for id in ["7", "4400000000000000001", "8812345678901234567"] {
        by_id.extend(db.find_records(STORE, id, 10).await.unwrap());
    }
    assert!(
        by_id.iter().any(|f| f.kind == "price" && f.key == SKU),
        "{by_id:?}"
    );
    let text: Vec<String> = e
        .steps
        .iter()
        .map(|s| weft_store::describe_decision(&s.fields["price"]))
        .collect();
    assert!(
        text[3]
            .contains("conflict: \"59.00\" (changed from \"49.99\") against the agreed \"39.00\"")
            && text[3].contains("decided take netsuite -> \"59.00\""),
        "{text:#?}"
    );
    eprintln!(
        "explain of a price with {} steps: {:?}",
        e.steps.len(),
        elapsed
    );
}

#[tokio::test]
async fn a_refusal_is_explained_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(
        &db,
        &runtime,
        &["shopify"],
        &[
            ("*", "price-guard"),
            ("inventory-level.quantity", "counter-merge"),
        ],
        json!({ "action": "refuse" }),
    );
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(shop_product("shopify", "4.99", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let e = db
        .explain(STORE, "price", SKU, 500)
        .await
        .unwrap()
        .unwrap()
        .field("price");
    let last = e.steps.last().unwrap();
    let d = &last.fields["price"];
    assert_eq!(d["decision"], "refused", "{d}");
    assert_eq!(d["value"], "4.99");
    assert_eq!(d["kept"], "49.99");
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("more than 20% below netsuite price 49.99")),
        "{d}"
    );
    assert!(
        d["resolver"]["resolver"]
            .as_str()
            .is_some_and(|r| r.starts_with("price-guard ")),
        "{d}"
    );
    // The agreed price is written back to the shop.
    assert_eq!(last.writes.len(), 1, "{last:#?}");
    assert_eq!(last.writes[0].system, "shopify");
    assert_eq!(last.writes[0].desired["price"], "49.99");
}

/// A purge of old lineage (`weft lineage purge`, `[console] lineage_retention`) keeps the
/// newest row of each system's field, so every current value is still explained: after a
/// conflict, the shop's echo of the agreed price and a later ERP change supersede the shop's
/// change and the conflict, which go; the first observations stay (they are still the newest
/// for the other fields).
#[tokio::test]
async fn a_purge_keeps_what_explains_each_current_value() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(
        &db,
        &runtime,
        &["shopify"],
        &[
            ("*", "system-of-record"),
            ("inventory-level.quantity", "counter-merge"),
        ],
        json!({ "owners": { "*": "netsuite" } }),
    );
    let before_any = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(shop_product("shopify", "39.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(erp_item(59.0, T2)).await.unwrap();
    p.step(100).await.unwrap();
    // The shop shows the agreed 59.00 (an echo), then the ERP changes it once more.
    db.append(shop_product("shopify", "59.00", T3))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(erp_item(61.0, "2026-11-26T10:20:00Z"))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let explain = || async {
        db.explain(STORE, "price", SKU, 500)
            .await
            .unwrap()
            .expect("the record is known")
    };
    let whole = explain().await;
    let row = |system: &str, source: &str, decision: &str| {
        (system.to_owned(), source.to_owned(), decision.to_owned())
    };
    assert_eq!(
        decisions(&whole.field("price")),
        vec![
            row("netsuite", "cdc", "changed"),
            row("shopify", "webhook", "echo"),
            row("shopify", "webhook", "changed"),
            row("netsuite", "cdc", "conflict"),
            row("shopify", "webhook", "echo"),
            row("netsuite", "cdc", "changed"),
        ],
        "{whole:#?}"
    );
    assert_eq!(whole.golden["price"], "61.00");

    // Nothing is older than a time before every step: nothing goes.
    assert_eq!(db.purge_lineage(STORE, before_any).await.unwrap(), 0);
    assert_eq!(explain().await, whole);

    // Everything is old: only the newest row of each system's field stays.
    let deleted = db
        .purge_lineage(STORE, chrono::Utc::now() + chrono::TimeDelta::seconds(1))
        .await
        .unwrap();
    let e = explain().await;
    assert_eq!(
        decisions(&e.field("price")),
        vec![
            // Still the newest of each system's other fields (sku, compare_at_price).
            row("netsuite", "cdc", "changed"),
            row("shopify", "webhook", "echo"),
            // The newest of each system's price.
            row("shopify", "webhook", "echo"),
            row("netsuite", "cdc", "changed"),
        ],
        "{e:#?}"
    );
    assert_eq!(whole.steps.len() - e.steps.len(), 2, "{e:#?}");
    assert!(deleted >= 2, "{deleted}");
    // The agreed value and each copy are unchanged, and still explained by the last step.
    assert_eq!(e.golden, whole.golden);
    assert_eq!(e.copies, whole.copies);
    let last = e.field("price").steps.last().unwrap().clone();
    assert_eq!(last.fields["price"]["value"], e.golden["price"]);
    // Every field any step decided still has its newest step.
    for step in &whole.steps {
        for f in step.fields.as_object().unwrap().keys() {
            let newest = whole
                .steps
                .iter()
                .rev()
                .find(|s| s.system == step.system && s.fields.get(f).is_some())
                .unwrap();
            assert!(
                e.steps.iter().any(|s| s.id == newest.id),
                "the newest step of {} {f} was purged",
                step.system
            );
        }
    }
    // A second purge finds nothing more.
    assert_eq!(
        db.purge_lineage(STORE, chrono::Utc::now() + chrono::TimeDelta::seconds(1))
            .await
            .unwrap(),
        0
    );
}

/// One price's history through every kind of step, named in order by `weft explain`'s reading
/// (`Store::explain`): a mapper bug's damage (NetSuite's prices read in cents), a conflict the
/// owner's resolver decides, a storefront change reverted because the ERP owns the price
/// (`[policy]`, set after the conflict), then a replay through the fixed mapper repairing it.
#[tokio::test]
async fn a_conflict_an_owner_revert_and_a_replay_are_named_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let buggy = runtime
        .load(
            "buggy-shopify-netsuite",
            &std::fs::read(weft_plugin_artifacts::TESTING_BUGGY_MAPPER).unwrap(),
        )
        .unwrap();
    let fixed = stock(&runtime, "shopify-netsuite");
    let resolvers = [
        ("*", "system-of-record"),
        ("inventory-level.quantity", "counter-merge"),
    ];
    let config = json!({ "owners": { "*": "netsuite" } });
    let owned = || {
        weft_engine::Ownership::new(
            [("price.price".to_owned(), "netsuite".to_owned())],
            std::iter::empty(),
        )
    };
    // 1. The buggy mapper: agreed, the shop's change, then the ERP's: a conflict.
    let live = processor_with(
        &db,
        &runtime,
        &["shopify"],
        &resolvers,
        config.clone(),
        &buggy,
    );
    db.append(erp_item(12.5, T0)).await.unwrap();
    db.append(shop_product("shopify", "1250.00", T0))
        .await
        .unwrap();
    live.step(100).await.unwrap();
    db.append(shop_product("shopify", "39.00", T1))
        .await
        .unwrap();
    live.step(100).await.unwrap();
    db.append(erp_item(59.0, T2)).await.unwrap();
    assert_eq!(live.step(100).await.unwrap().conflicts, 1);
    // 2. The ERP now owns the price: the shop's next change is reverted.
    let live = processor_with(
        &db,
        &runtime,
        &["shopify"],
        &resolvers,
        config.clone(),
        &buggy,
    )
    .with_ownership(owned());
    db.append(shop_product("shopify", "45.00", T3))
        .await
        .unwrap();
    live.step(100).await.unwrap();
    // 3. The mapper is fixed; the journal is replayed through it.
    let replay = processor_with(&db, &runtime, &["shopify"], &resolvers, config, &fixed)
        .with_ownership(owned());
    let entries = db.journal_range(STORE, None, None, 0, 1000).await.unwrap();
    let r = replay
        .process(entries, weft_engine::Mode::Replay)
        .await
        .unwrap();
    assert_eq!(r.writes, 1, "{r:?}");

    let e = db
        .explain(STORE, "price", SKU, 500)
        .await
        .unwrap()
        .expect("the record is known")
        .field("price");
    let named: Vec<(String, String, String, String, serde_json::Value)> = e
        .steps
        .iter()
        .filter_map(|s| {
            let d = s.fields.get("price")?;
            Some((
                s.mode.clone(),
                s.system.clone(),
                s.mapper.split(' ').next().unwrap_or("").to_owned(),
                d["decision"].as_str().unwrap_or("").to_owned(),
                d["value"].clone(),
            ))
        })
        .collect();
    let step = |mode: &str, system: &str, mapper: &str, decision: &str, value: &str| {
        (
            mode.to_owned(),
            system.to_owned(),
            mapper.to_owned(),
            decision.to_owned(),
            json!(value),
        )
    };
    let bug = "buggy-shopify-netsuite";
    assert_eq!(
        named,
        vec![
            step("live", "netsuite", bug, "changed", "1250.00"),
            step("live", "shopify", bug, "echo", "1250.00"),
            step("live", "shopify", bug, "changed", "39.00"),
            step("live", "netsuite", bug, "conflict", "5900.00"),
            step("live", "shopify", bug, "owner-reverted", "5900.00"),
            step("replay", "netsuite", "shopify-netsuite", "changed", "59.00"),
        ],
        "{e:#?}"
    );
    let text: Vec<String> = e
        .steps
        .iter()
        .filter_map(|s| s.fields.get("price"))
        .map(weft_store::describe_decision)
        .collect();
    eprintln!("{text:#?}");
    assert!(
        text[3].contains("resolver system-of-record") && text[3].contains("decided take netsuite"),
        "{text:#?}"
    );
    assert!(
        text[4].contains("does not own the field; netsuite owns it"),
        "{text:#?}"
    );
    // The replay's repair is written to the shop, and is the agreed value now.
    let repair = e.steps.last().unwrap();
    assert_eq!(repair.mode, "replay");
    assert_eq!(repair.writes.len(), 1, "{repair:#?}");
    assert_eq!(repair.writes[0].system, "shopify");
    assert_eq!(repair.writes[0].desired["price"], "59.00");
    assert_eq!(e.golden["price"], "59.00");
}
