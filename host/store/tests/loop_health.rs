//! The store loops' recorded health and the host's beat (`host_beats`, `loop_health`), on
//! SQLite and PostgreSQL (PostgreSQL runs when `WEFT_TEST_POSTGRES_URL` is set): written,
//! replaced by a later host, read back in order; a host is live until its beat is
//! `STALE_BEATS` intervals old or it stopped cleanly; old hosts without loops are forgotten.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{TestDb, t0};
use weft_store::{HostBeat, LoopHealthRecord, STALE_BEATS};

fn record(host: &HostBeat, store: &str, name: &str, healthy: bool) -> LoopHealthRecord {
    LoopHealthRecord {
        store_id: store.into(),
        name: name.into(),
        host: host.host.clone(),
        healthy,
        state: if healthy { "running" } else { "stopped" }.into(),
        detail: if healthy {
            "idle, last turn 0 s ago".into()
        } else {
            "stopped: the loop panicked".into()
        },
        rounds: 7,
        last_round: Some(t0()),
        last_error: (!healthy).then(|| "HTTP 503".into()),
        interval: Duration::from_millis(250),
        deadline: Duration::from_secs(30),
        unhealthy_since: (!healthy).then(t0),
        updated_at: t0(),
    }
}

async fn loop_health_is_recorded_replaced_and_judged(db: &TestDb) {
    let store = &db.store;
    let beat = Duration::from_secs(2);
    let first = HostBeat::starting(100, t0(), beat);
    store
        .record_loop_health(
            &first,
            &[
                record(&first, "s1", "process", true),
                record(&first, "s1", "poll netsuite", false),
                record(&first, "s2", "dispatch", true),
            ],
        )
        .await
        .unwrap();
    let loops = store.loop_health(Some("s1")).await.unwrap();
    assert_eq!(
        loops,
        vec![
            record(&first, "s1", "poll netsuite", false),
            record(&first, "s1", "process", true),
        ]
    );
    assert_eq!(store.loop_health(None).await.unwrap().len(), 3);
    assert_eq!(store.host_beats().await.unwrap(), vec![first.clone()]);
    // Live until 5 beats after its last one.
    assert!(first.is_live(t0() + TimeDelta::seconds(10)));
    assert!(!first.is_live(t0() + TimeDelta::milliseconds(10_001)));
    assert_eq!(STALE_BEATS, 5);

    // A later host (a restart) replaces the rows it writes; its beat is the newest.
    let mut second = HostBeat::starting(200, t0() + TimeDelta::minutes(1), beat);
    store
        .record_loop_health(&second, &[record(&second, "s1", "poll netsuite", true)])
        .await
        .unwrap();
    let loops = store.loop_health(Some("s1")).await.unwrap();
    assert_eq!(loops[0], record(&second, "s1", "poll netsuite", true));
    assert_eq!(loops[1].host, first.host);
    let hosts = store.host_beats().await.unwrap();
    assert_eq!(
        hosts.iter().map(|h| h.pid).collect::<Vec<_>>(),
        vec![200, 100]
    );

    // It stops cleanly: not live, whatever its beat's age.
    second.stopped_at = Some(second.beat_at);
    store.record_loop_health(&second, &[]).await.unwrap();
    let hosts = store.host_beats().await.unwrap();
    assert_eq!(hosts[0].stopped_at, second.stopped_at);
    assert!(!hosts[0].is_live(second.beat_at));

    // Old hosts still named by a loop's row are kept; the others are forgotten.
    let third = HostBeat::starting(300, t0() + TimeDelta::minutes(2), beat);
    store.record_loop_health(&third, &[]).await.unwrap();
    let n = store
        .forget_old_hosts(t0() + TimeDelta::days(30))
        .await
        .unwrap();
    assert_eq!(n, 1, "only the host without loops goes");
    let left: Vec<i64> = store
        .host_beats()
        .await
        .unwrap()
        .iter()
        .map(|h| h.pid)
        .collect();
    assert_eq!(left, vec![200, 100]);
}

suite!(loop_health_is_recorded_replaced_and_judged);
