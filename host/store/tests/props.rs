//! Property tests: version keys sort as the instants they name, body hashes ignore key order,
//! and the journal inserts exactly one entry per distinct observation whatever the order and
//! repetition of deliveries.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use weft_store::{NewJournalEntry, Source, Store, body_hash, version_key};

fn instant() -> impl Strategy<Value = (i64, u32, i32)> {
    // seconds in 2000..2100, nanoseconds, offset in minutes (-12h..+14h)
    (
        946_684_800_i64..4_102_444_800,
        0_u32..1_000_000_000,
        -720_i32..=840,
    )
}

fn render((secs, nanos, offset_min): (i64, u32, i32)) -> (DateTime<Utc>, String) {
    let utc = Utc.timestamp_opt(secs, nanos).unwrap();
    let off = FixedOffset::east_opt(offset_min * 60).unwrap();
    (utc, utc.with_timezone(&off).to_rfc3339())
}

proptest! {
    #[test]
    fn version_keys_sort_like_instants(a in instant(), b in instant()) {
        let (ta, sa) = render(a);
        let (tb, sb) = render(b);
        let ka = version_key(&sa).unwrap();
        let kb = version_key(&sb).unwrap();
        prop_assert_eq!(ta.cmp(&tb), ka.cmp(&kb), "{} vs {}", sa, sb);
    }

    #[test]
    fn body_hash_ignores_key_order(
        fields in prop::collection::btree_map("[a-z_]{1,8}", any::<i32>(), 1..12),
        seed in any::<u64>(),
    ) {
        let forward: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let mut keys: Vec<_> = fields.keys().cloned().collect();
        // Deterministic shuffle by seed.
        let mut x = seed | 1;
        for i in (1..keys.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            keys.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let shuffled: Map<String, Value> = keys.iter().map(|k| (k.clone(), json!(fields[k]))).collect();
        let a = json!({"outer": Value::Object(forward), "list": [1, 2]});
        let b = json!({"list": [1, 2], "outer": Value::Object(shuffled)});
        prop_assert_eq!(body_hash(&a), body_hash(&b));
        prop_assert_ne!(body_hash(&a), body_hash(&json!({"list": [2, 1], "outer": a["outer"].clone()})));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Deliveries drawn with repetition from a small pool of observations (webhook and poll
    /// copies of the same document) in any order: exactly one insert per distinct observation.
    #[test]
    fn one_journal_entry_per_observation(
        picks in prop::collection::vec((0_usize..4, 0_usize..3, any::<bool>()), 1..40)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = Store::open("sqlite::memory:").await.unwrap();
            let mut distinct = HashSet::new();
            let mut inserted = 0;
            for (entity, version, by_poll) in &picks {
                let v = format!("2026-11-26T10:00:0{version}Z");
                let e = NewJournalEntry {
                    store_id: "s".into(),
                    system: "shopify".into(),
                    kind: "product".into(),
                    entity_id: entity.to_string(),
                    version: v.clone(),
                    source: if *by_poll { Source::Poll } else { Source::Webhook },
                    delivery_id: None,
                    body: json!({"id": entity.to_string(), "updated_at": v}),
                    received_at: Utc::now(),
                };
                distinct.insert((*entity, *version));
                if store.append(e).await.unwrap().is_inserted() {
                    inserted += 1;
                }
            }
            assert_eq!(inserted, distinct.len());
            let dupes: i64 = store.counters("s").await.unwrap().values().sum();
            assert_eq!(dupes as usize, picks.len() - distinct.len());
            store.close().await;
        });
    }
}
