//! Durability under SIGKILL: a child process appends through a `JournalWriter` from many tasks
//! and prints every acknowledgement; the parent kills it with SIGKILL at a random point, five
//! times over the same database file. Every acknowledged append must be in the journal after
//! each restart, and the database must open cleanly (WAL recovery) every time.
//!
//! The child is this same test binary re-run on `crash_child_process` with an environment
//! variable naming the database; without the variable that test returns at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use weft_store::{GroupCommitConfig, JournalWriter, NewJournalEntry, Source, Store};

const CHILD_ENV: &str = "WEFT_STORE_CRASH_CHILD_DB";

#[test]
fn crash_child_process() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: u32 = std::env::var("WEFT_STORE_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Store::open(&path).await.unwrap();
        let writer = JournalWriter::spawn(store, GroupCommitConfig::default());
        let mut tasks = Vec::new();
        for t in 0..32 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let delivery = format!("r{round}-t{t}-{i}");
                    let e = NewJournalEntry {
                        store_id: "crash".into(),
                        system: "shopify".into(),
                        kind: "product".into(),
                        entity_id: delivery.clone(),
                        version: "2026-11-26T10:00:00Z".into(),
                        source: Source::Webhook,
                        delivery_id: Some(delivery.clone()),
                        body: json!({"id": delivery, "title": "x".repeat(400)}),
                        received_at: Utc::now(),
                    };
                    let seq = writer.append(e).await.unwrap().seq();
                    println!("ack {seq} {delivery}");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("crash.sqlite")
        .to_string_lossy()
        .into_owned();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(i64, String)> = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Kill after a varying number of acknowledgements (deterministic per round).
    for (round, kill_after) in [(0_u32, 150_usize), (1, 37), (2, 400), (3, 1), (4, 250)] {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env("WEFT_STORE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let (seq, delivery) = rest.split_once(' ').unwrap();
            acked.push((seq.parse().unwrap(), delivery.to_owned()));
            seen += 1;
            if seen >= kill_after {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: child must have been killed"
        );

        rt.block_on(async {
            let store = Store::open(&path).await.unwrap();
            for (seq, delivery) in &acked {
                let entry = store.journal_entry(*seq).await.unwrap();
                let entry = entry.unwrap_or_else(|| {
                    panic!("round {round}: acknowledged seq {seq} ({delivery}) is missing")
                });
                assert_eq!(&entry.entity_id, delivery);
            }
            let all = store.journal_since("crash", 0, 1_000_000).await.unwrap();
            let mut ids: Vec<_> = all.iter().map(|e| e.entity_id.as_str()).collect();
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "no delivery journaled twice");
            assert!(n >= acked.len());
            store.close().await;
        });
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(acked.len() >= 838);
}
