//! The operator commands as an operator runs them (the real `weft` binary): a mistyped database
//! path is an error that creates nothing, a closed stdout pipe ends quietly, the ids `dlq list`
//! prints are the ids `dlq show` / `retry` / `discard` take, and `dlq retry --all` re-queues by
//! filter, `weft proposals` lists, counts and journals decisions, `weft lineage purge` keeps the
//! newest step of each field, and `weft status` / `weft replay` see whether `weft run` runs.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{TimeZone as _, Utc};
use serde_json::json;
use weft_store::{NewJournalEntry, NewOutboxRow, OutboxStatus, Source, StepCommit, Store};

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

#[test]
fn reading_commands_on_a_missing_database_fail_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["status", "--database", m],
        vec!["dlq", "list", "--database", m],
        vec!["dlq", "show", "#1", "--database", m],
        vec!["dlq", "retry", "--all", "--database", m],
    ] {
        let out = weft(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains("does not exist") && err.contains("typo.db"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created {m}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} left files behind"
        );
    }
}

fn entry(store: &str, i: i64) -> NewJournalEntry {
    NewJournalEntry {
        store_id: store.into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: format!("gid://shopify/Product/{i}"),
        version: "2024-03-01T10:15:30Z".into(),
        source: Source::Webhook,
        delivery_id: Some(format!("d-{store}-{i}")),
        body: json!({"id": i}),
        received_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_into_a_closed_pipe_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    // Enough stores that the output is well past a pipe's buffer.
    let entries = (0..1500)
        .map(|i| entry(&format!("store-{i:04}"), i))
        .collect();
    store.append_batch(entries).await.unwrap();
    store.close().await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["status", "--database", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        // The reader goes away, as `head -1` does.
    }
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(first.starts_with("store-0000: lag"), "{first}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "exit {:?}: {err}", out.status);

    // Through a real shell pipe too.
    let sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' status --database '{}' | head -1",
            env!("CARGO_BIN_EXE_weft"),
            path.display()
        ))
        .output()
        .unwrap();
    assert!(
        !text(&sh.stderr).contains("panicked"),
        "{}",
        text(&sh.stderr)
    );
    assert!(text(&sh.stdout).starts_with("store-0000: lag"));
}

fn outbox(key: &str, kind: &str) -> NewOutboxRow {
    NewOutboxRow {
        system: "netsuite".into(),
        kind: kind.into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: format!("idem-{key}"),
        body: json!({"key": key}),
        priority: 20,
        coalesce: false,
        resend_may_apply: false,
    }
}

/// Dead letters: s1 has a variant and a customer, s2 a variant. Returns the store.
async fn dead_letters(path: &Path) -> Store {
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    for (s, rows) in [
        ("s1", vec![outbox("A", "variant"), outbox("B", "customer")]),
        ("s2", vec![outbox("C", "variant")]),
    ] {
        let mut step = StepCommit::new(s, t0);
        step.outbox = rows;
        store.commit_step(&step).await.unwrap();
    }
    let claimed = store
        .claim_due(t0, 10, std::time::Duration::from_secs(30), None)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    for r in claimed {
        store
            .dead_letter(r.id, r.claim_token.as_deref().unwrap(), "refused", t0)
            .await
            .unwrap();
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_ids_as_listed_are_accepted_and_retry_all_requeues_by_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let store = dead_letters(&path).await;
    let db = path.to_str().unwrap();

    let list = weft(&["dlq", "list", "--database", db]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    let ids: Vec<String> = listed
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    assert!(ids.iter().all(|id| id.starts_with('#')), "{listed}");

    // `show` takes the id exactly as listed, and bare.
    for id in [ids[0].as_str(), ids[0].trim_start_matches('#')] {
        let show = weft(&["dlq", "show", id, "--database", db]);
        assert!(show.status.success(), "show {id}: {}", text(&show.stderr));
        let row: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        assert_eq!(format!("#{}", row["id"]), ids[0]);
    }
    let bad = weft(&["dlq", "show", "#x", "--database", db]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not a dead letter id"),
        "{}",
        text(&bad.stderr)
    );

    // Filters that match nothing re-queue nothing.
    let none = weft(&[
        "dlq",
        "retry",
        "--all",
        "--store",
        "s1",
        "--since",
        "2030-01-01T00:00:00Z",
        "--database",
        db,
    ]);
    assert!(none.status.success(), "{}", text(&none.stderr));
    assert!(text(&none.stdout).contains("0 dead letters queued again"));

    let retry = weft(&["dlq", "retry", "--all", "--store", "s1", "--database", db]);
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    assert!(
        text(&retry.stdout).contains("2 dead letters queued again"),
        "{}",
        text(&retry.stdout)
    );
    let s1 = store.list_outbox(Some("s1"), None, 10).await.unwrap();
    assert!(
        s1.iter().all(|r| r.status == OutboxStatus::Pending),
        "{s1:?}"
    );
    let s2 = store.list_outbox(Some("s2"), None, 10).await.unwrap();
    assert!(s2.iter().all(|r| r.status == OutboxStatus::Dead), "{s2:?}");

    // By kind across stores, and several ids at once as listed.
    let c = format!("#{}", s2[0].id);
    let retry = weft(&["dlq", "retry", &c, "--database", db]);
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let again = weft(&["dlq", "retry", &c, "#999999", "--database", db]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains(&format!("not a dead letter: {c}, #999999")),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn weft_run_on_a_taken_port_stops_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let init = weft(&["init", dir.path().to_str().unwrap()]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let host = dir.path().join("weft.toml");
    let config = std::fs::read_to_string(&host).unwrap();
    assert!(config.contains("listen = \"127.0.0.1:8080\""));
    std::fs::write(
        &host,
        config.replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(["run", host.to_str().unwrap()]);
    for var in weft_config::STARTER_ENV_VARS {
        cmd.env(var, "test-value");
    }
    let t = std::time::Instant::now();
    let out = cmd.output().unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (server.listen)"
        )),
        "{err}"
    );
    // Bound before the database was opened or any plugin loaded.
    assert!(
        !dir.path().join("weft.db").exists(),
        "the database was opened first"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    drop(taken);
}

/// `weft run` (the starter config, its platforms unreachable) with a client halfway through its
/// request head and another whose webhook body trickles in: SIGTERM ends the process within the
/// configured `shutdown_grace` plus the time the store loops take to stop.
#[test]
fn sigterm_with_slow_clients_attached_exits_within_the_grace() {
    use std::io::{Read as _, Write as _};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(
        weft(&["init", dir.path().to_str().unwrap()])
            .status
            .success()
    );
    let host = dir.path().join("weft.toml");
    let config = std::fs::read_to_string(&host).unwrap().replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"127.0.0.1:{port}\"\nshutdown_grace = \"1s\""),
    );
    std::fs::write(&host, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(["run", host.to_str().unwrap()])
        .env("WEFT_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for var in weft_config::STARTER_ENV_VARS {
        cmd.env(var, "test-value");
    }
    let mut child = cmd.spawn().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let t = std::time::Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            s.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            if r.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("weft run exited ({status}): {err}");
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(120),
            "not ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut half_head = std::net::TcpStream::connect(&addr).unwrap();
    half_head
        .write_all(b"POST /webhooks/shopify/acme HTTP/1.1\r\nx-shopify-top")
        .unwrap();
    let mut slow_body = std::net::TcpStream::connect(&addr).unwrap();
    slow_body
        .write_all(
            b"POST /webhooks/shopify/acme HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
        )
        .unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..300 {
            if slow_body.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("weft run still running 30 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = t.elapsed();
    eprintln!("weft run exited {status} {took:?} after SIGTERM with two slow clients (grace 1 s)");
    assert!(status.success(), "{status}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    drop(half_head);
    let _ = trickle.join();
}

/// `weft proposals`: lists the open proposals a step kept, and `accept` journals the operator's
/// decision (the value the operator saw) for the running host's next step; `weft status` counts
/// them; deciding a proposal that is not open is an error naming how to list them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_are_listed_counted_and_decided_by_a_journaled_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    let mut step = StepCommit::new("s1", t0);
    step.golden.push(weft_store::GoldenUpsert {
        kind: "price".into(),
        key: "LS-S".into(),
        fields: json!({"price": "49.99"}),
        field_meta: json!({"price": {"system": "netsuite", "version": "v1", "seq": 1,
            "proposed": {"system": "shopify", "value": "39.00", "version": "v2", "seq": 2,
                         "at": "2024-03-01T12:00:00Z"}}}),
    });
    store.commit_step(&step).await.unwrap();
    // The shop's observation that made the proposal.
    store.append(entry("s1", 1)).await.unwrap();
    let db = path.to_str().unwrap();

    let list = weft(&["proposals", "list", "--database", db]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert_eq!(
        text(&list.stdout).trim(),
        "s1 price LS-S price: shopify proposes \"39.00\" (agreed \"49.99\")"
    );
    let status = weft(&["status", "--json", "--store", "s1", "--database", db]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["proposals"], 1, "{s}");

    let missing = weft(&[
        "proposals",
        "accept",
        "--store",
        "s1",
        "price",
        "LS-S",
        "compare_at_price",
        "--database",
        db,
    ]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("no open proposal for price LS-S compare_at_price"),
        "{}",
        text(&missing.stderr)
    );

    let accept = weft(&[
        "proposals",
        "accept",
        "--store",
        "s1",
        "price",
        "LS-S",
        "price",
        "--database",
        db,
    ]);
    assert!(accept.status.success(), "{}", text(&accept.stderr));
    let entries = store.journal_since("s1", 0, 10).await.unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let e = &entries[1];
    assert_eq!(
        (e.system.as_str(), e.kind.as_str(), e.entity_id.as_str()),
        ("shopify", "price", "LS-S")
    );
    assert!(
        e.delivery_id
            .as_deref()
            .unwrap()
            .starts_with("weft-decision:")
    );
    assert_eq!(
        e.body["weft_decision"],
        json!({"field": "price", "accept": true, "value": "39.00"})
    );
}

/// `weft lineage purge --older-than`: rows older than that go, except each record's newest row
/// of each system's field; newer rows stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_purge_keeps_the_newest_row_of_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let seq = store.append(entry("s1", 1)).await.unwrap().seq();
    let row = |price: &str| weft_store::LineageRow {
        seq,
        kind: "price".into(),
        key: "SKU-1".into(),
        system: "shopify".into(),
        mode: "live".into(),
        mapper: "shopify-netsuite 0.1.0".into(),
        fields: json!({ "price": { "decision": "changed", "value": price } }),
        writes: json!([]),
    };
    // Three old steps set the price a year ago, one recent step set it again: the first two old
    // ones go. Another record's only (old) row stays: it explains its value.
    let long_ago = Utc::now() - chrono::TimeDelta::days(365);
    for (price, at) in [
        ("10.00", long_ago),
        ("11.00", long_ago),
        ("12.00", Utc::now() - chrono::TimeDelta::hours(1)),
    ] {
        let mut step = StepCommit::new("s1", at);
        step.lineage.push(row(price));
        if price == "10.00" {
            let mut other = row("5.00");
            other.key = "SKU-2".into();
            step.lineage.push(other);
        }
        store.commit_step(&step).await.unwrap();
    }
    store.close().await;
    let db = path.to_str().unwrap();

    let out = weft(&[
        "lineage",
        "purge",
        "--older-than",
        "90d",
        "--json",
        "--database",
        db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["deleted"], 2, "{v}");
    let store = Store::open(db).await.unwrap();
    let e = store
        .explain("s1", "price", "SKU-1", 500)
        .await
        .unwrap()
        .unwrap();
    let prices: Vec<&serde_json::Value> = e
        .steps
        .iter()
        .map(|s| &s.fields["price"]["value"])
        .collect();
    assert_eq!(prices, vec!["12.00"]);
    let e = store
        .explain("s1", "price", "SKU-2", 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.steps.len(), 1);
    store.close().await;

    // Nothing left to purge; an unknown duration is refused.
    let out = weft(&["lineage", "purge", "--older-than", "90d", "--database", db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("deleted 0 lineage rows"),
        "{}",
        text(&out.stdout)
    );
    let out = weft(&["lineage", "purge", "--older-than", "soon", "--database", db]);
    assert!(!out.status.success());
}

/// `weft run` (the starter config, its platforms unreachable) beats into its database: while
/// it runs, `weft status` names it and its store loops, and `weft replay` (which cannot take
/// turns with the host's steps) refuses, pointing to the console; after SIGTERM, `weft status`
/// says no host runs and since when, and `weft replay` goes ahead.
#[test]
fn status_and_replay_see_whether_a_host_runs() {
    use std::io::{Read as _, Write as _};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(
        weft(&["init", dir.path().to_str().unwrap()])
            .status
            .success()
    );
    let host = dir.path().join("weft.toml");
    let config = std::fs::read_to_string(&host).unwrap().replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"127.0.0.1:{port}\"\nshutdown_grace = \"1s\""),
    );
    std::fs::write(&host, config).unwrap();
    let h = host.to_str().unwrap();
    let with_env = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
        cmd.args(args).env_remove("WEFT_DATABASE_URL");
        for var in weft_config::STARTER_ENV_VARS {
            cmd.env(var, "test-value");
        }
        cmd
    };
    let mut child = with_env(&["run", h])
        .env("WEFT_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let addr = format!("127.0.0.1:{port}");
    let t = std::time::Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            s.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            if r.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("weft run exited ({status}): {err}");
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(120),
            "not ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The host's first beat names its loops (they turn, failing against unreachable platforms).
    let status = loop {
        let out = weft(&["status", "--store", "acme", "-c", h]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        // A dispatch lane per system.
        if s.contains("loop process ok")
            && s.contains("loop dispatch shopify ok")
            && s.contains("loop dispatch netsuite ok")
        {
            break s;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(120), "{s}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    eprintln!("weft status while weft run runs:\n{status}");
    assert!(
        status.contains(&format!("(pid {pid}) running since")),
        "{status}"
    );
    let replay = with_env(&["replay", "-c", h, "--store", "acme"])
        .output()
        .unwrap();
    let err = text(&replay.stderr);
    assert!(!replay.status.success());
    assert!(
        err.contains(&format!("a host (pid {pid}")) && err.contains("/console/stores/acme/replay"),
        "{err}"
    );

    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let out = weft(&["status", "--store", "acme", "-c", h]);
    let s = text(&out.stdout);
    eprintln!("weft status after it stopped:\n{s}");
    assert!(
        s.contains(&format!("NO HOST RUNNING: the last one (pid {pid}"))
            && s.contains("stopped at"),
        "{s}"
    );
    assert!(s.contains("loop process NOT RUNNING"), "{s}");
    let replay = with_env(&["replay", "-c", h, "--store", "acme"])
        .output()
        .unwrap();
    let err = text(&replay.stderr);
    assert!(!err.contains("is running on this database"), "{err}");
    assert!(replay.status.success(), "{err}");
}
