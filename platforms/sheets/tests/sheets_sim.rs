//! The Google Sheets connector against the simulator: tokens, quota, change capture as a
//! snapshot diff, problem rows, status write-back, and row writes by key.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use weft_platform::{
    BatchResult, Connection, EntityKind, Poller, SourceCtx, WriteCommand, WriteOp,
};
use weft_sheets::{
    Layout, QuotaLimiter, ServiceAccountKey, SheetsClient, SheetsConnection, TokenSource,
};
use weft_sim_sheets::{SheetsSim, SimHandle};
use weft_store::{Completion, NewOutboxRow, SetAside, StepCommit, Store};

const STORE: &str = "s1";
const SYSTEM: &str = "sheet";

struct Rig {
    sim: SheetsSim,
    _server: SimHandle,
    id: String,
    db: Store,
    conn: Arc<SheetsConnection>,
    poller: Arc<dyn Poller>,
    _dir: tempfile::TempDir,
}

async fn rig_with(limits: (u32, u32)) -> Rig {
    let sim = SheetsSim::with_defaults();
    let server = sim.serve_local().await.unwrap();
    let id = sim.create_spreadsheet("Catalog", &[("Products", 200, 10)]);
    sim.type_values(
        &id,
        "Products!A1",
        &[
            vec!["SKU", "Title", "Price", "Stock", "Active", "Vendor"],
            vec!["MUG-1", "Mug", "8.50", "25", "TRUE", "Acme"],
            vec!["TEE-M", "T-shirt M", "19", "10", "TRUE"],
            vec!["CAP-1", "Cap", "12", "0", "FALSE"],
        ],
    )
    .unwrap();
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
        Arc::new(QuotaLimiter::new(limits.0, limits.1)),
    ));
    // Each write reads at once (sharing only a read in flight), as these tests count reads
    // per call; `a_write_batch_shares_the_change_capture_s_read` runs the default wait.
    let conn = Arc::new(
        SheetsConnection::new(client, Layout::default(), Some("Products".into()), 2)
            .with_read_wait(Duration::ZERO),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let poller = conn
        .change_sources(&SourceCtx {
            store_id: STORE.into(),
            system: SYSTEM.into(),
            db: db.clone(),
            overlap: Duration::from_secs(1),
            webhook_url: None,
        })
        .remove(0);
    Rig {
        sim,
        _server: server,
        id,
        db,
        conn,
        poller,
        _dir: dir,
    }
}

async fn rig() -> Rig {
    rig_with((50, 50)).await
}

impl Rig {
    async fn journal(&self) -> Vec<weft_store::JournalEntry> {
        self.db.journal_since(STORE, 0, 10_000).await.unwrap()
    }
    async fn poll(&self) -> u64 {
        self.poller.poll().await.unwrap().journaled
    }
    fn sheet(&self, range: &str) -> Vec<Vec<String>> {
        self.sim.values(&self.id, range).unwrap()
    }
    /// What the engine does: processes the journal up to its head, setting aside `refused`.
    async fn process(&self, refused: &[(&str, &str)]) {
        self.process_with(refused, vec![]).await
    }

    /// As [`Rig::process`], planning `outbox` writes to other systems.
    async fn process_with(&self, refused: &[(&str, &str)], outbox: Vec<NewOutboxRow>) {
        let entries = self.journal().await;
        let head = entries.last().map_or(0, |e| e.seq);
        let set_aside = refused
            .iter()
            .filter_map(|(key, reason)| {
                let e = entries.iter().rev().find(|e| e.entity_id == *key)?;
                Some(SetAside {
                    seq: e.seq,
                    stage: "to-canonical".into(),
                    target: String::new(),
                    system: SYSTEM.into(),
                    kind: e.kind.clone(),
                    entity_id: e.entity_id.clone(),
                    reason: reason.to_string(),
                    at: Utc::now(),
                })
            })
            .collect();
        // As the engine does: a row it maps now clears what was set aside for it before.
        let clear_set_aside = entries
            .iter()
            .filter(|e| !refused.iter().any(|(key, _)| e.entity_id == *key))
            .map(|e| (e.system.clone(), e.kind.clone(), e.entity_id.clone()))
            .collect();
        self.db
            .commit_step(&StepCommit {
                outbox,
                advance_cursor_to: Some(head),
                set_aside,
                clear_set_aside,
                ..StepCommit::new(STORE, Utc::now())
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn rows_are_journaled_once_and_only_their_changes() {
    let r = rig().await;
    assert_eq!(r.poll().await, 3);
    let j = r.journal().await;
    // The sheet's first reading is a first sync: a backfill, whose writes queue behind live
    // ones.
    assert!(j.iter().all(|e| e.source == weft_store::Source::Backfill));
    let mug = j.iter().find(|e| e.entity_id == "MUG-1").unwrap();
    assert_eq!(mug.kind, "variant");
    assert_eq!(
        mug.body,
        json!({"id": "MUG-1", "sheet": "Products", "sku": "MUG-1", "title": "Mug", "price": 8.5,
               "stock": 25, "active": true, "extra": {"Vendor": "Acme"}})
    );
    assert!(
        weft_platform::version::Version::parse(&mug.version)
            != weft_platform::version::Version::Opaque(mug.version.clone())
    );
    assert_eq!(r.poll().await, 0, "nothing changed");
    // Moving rows and columns around is not a change.
    r.sim
        .sort_rows(&r.id, Some("Products"), 2, "C", true)
        .unwrap();
    r.sim.insert_rows(&r.id, Some("Products"), 3, 2).unwrap();
    r.sim
        .move_column(&r.id, Some("Products"), "D", "A")
        .unwrap();
    assert_eq!(r.poll().await, 0);
    // A price edit is one row's change.
    let row = r
        .sheet("Products!B1:B9")
        .iter()
        .position(|x| x.first().is_some_and(|k| k == "TEE-M"))
        .unwrap()
        + 1;
    r.sim
        .type_cell(&r.id, &format!("Products!D{row}"), "21.5")
        .unwrap();
    assert_eq!(r.poll().await, 1);
    let last = r.journal().await.pop().unwrap();
    assert_eq!(
        (last.entity_id.as_str(), &last.body["price"]),
        ("TEE-M", &json!(21.5))
    );
    assert_eq!(
        last.source,
        weft_store::Source::Poll,
        "an edit found later is live"
    );
}

#[tokio::test]
async fn a_renamed_header_stops_reading_and_loses_no_edit() {
    let r = rig().await;
    assert_eq!(r.poll().await, 3);
    r.sim
        .type_cell(&r.id, "Products!C1", "Price (USD)")
        .unwrap();
    r.sim.type_cell(&r.id, "Products!C2", "9").unwrap();
    assert_eq!(r.poll().await, 0);
    let rep = r.conn.report();
    assert!(
        rep.sheet.as_deref().is_some_and(|s| s.contains("`Price`")),
        "{rep:?}"
    );
    assert_eq!(
        r.poll().await,
        0,
        "still refused: no row journaled with its price gone"
    );
    r.sim.type_cell(&r.id, "Products!C1", "Price").unwrap();
    assert_eq!(r.poll().await, 1, "the edit made meanwhile arrives");
    assert_eq!(r.journal().await.pop().unwrap().body["price"], json!(9));
    assert!(r.conn.report().sheet.is_none());
}

#[tokio::test]
async fn problem_rows_are_reported_in_the_status_column() {
    let r = rig().await;
    r.sim
        .type_values(
            &r.id,
            "Products!A5",
            &[
                vec!["HAT-1", "Hat"],            // half-typed: no price yet
                vec!["", "No key", "3"],         // no SKU
                vec!["MUG-1", "Mug again", "1"], // a duplicate key
                vec!["BAG-1", "Bag", "12,5"],    // a typo, for the mapper to refuse
            ],
        )
        .unwrap();
    assert_eq!(r.poll().await, 3, "TEE-M, CAP-1 and BAG-1");
    let keys: Vec<String> = r
        .journal()
        .await
        .iter()
        .map(|e| e.entity_id.clone())
        .collect();
    assert!(!keys.contains(&"MUG-1".to_string()) && !keys.contains(&"HAT-1".to_string()));
    let rep = r.conn.report();
    let msgs: Vec<(u32, &str)> = rep
        .rows
        .iter()
        .map(|p| (p.row, p.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        vec![
            (2, "SKU `MUG-1` is on rows 2, 7"),
            (5, "incomplete row: Price empty"),
            (6, "no SKU in this row"),
            (7, "SKU `MUG-1` is on rows 2, 7"),
        ]
    );
    // weft added its two columns and wrote the problems by key.
    assert_eq!(
        r.sheet("Products!G1:H1"),
        vec![vec!["weft status", "weft synced at"]]
    );
    assert_eq!(
        r.sheet("Products!G5"),
        vec![vec!["incomplete row: Price empty"]]
    );
    assert_eq!(
        r.sheet("Products!G2"),
        vec![vec!["SKU `MUG-1` is on rows 2, 7"]]
    );
    assert_eq!(r.sheet("Products!G6"), vec![vec!["no SKU in this row"]]);
    // The engine refuses the typo and processes the rest: the reason and `synced` come back.
    r.process(&[(
        "BAG-1",
        "mapper `sheet` refused: price '12,5' is not a number",
    )])
    .await;
    assert_eq!(r.poll().await, 0, "status cells are not merchant edits");
    assert_eq!(
        r.sheet("Products!G8"),
        vec![vec!["mapper `sheet` refused: price '12,5' is not a number"]]
    );
    assert_eq!(r.sheet("Products!G3")[0][0], "synced");
    assert!(r.sheet("Products!H3")[0][0].ends_with('Z'));
    // The person completes the row and fixes the typo: both sync.
    r.sim.type_cell(&r.id, "Products!C5", "15").unwrap();
    r.sim.type_cell(&r.id, "Products!C8", "12.5").unwrap();
    assert_eq!(r.poll().await, 2);
    r.process(&[]).await;
    r.poll().await;
    assert_eq!(r.sheet("Products!G5")[0][0], "synced");
    assert_eq!(r.sheet("Products!G8")[0][0], "synced");
    // Another status round writes nothing new.
    r.poll().await;
    assert_eq!(r.conn.report().statuses_written, 0);
    // The keyless row moves down; it keeps its status, and no status lands on another row.
    r.sim.insert_rows(&r.id, Some("Products"), 2, 1).unwrap();
    r.poll().await;
    assert_eq!(r.sheet("Products!G7"), vec![vec!["no SKU in this row"]]);
    // Given a key, it syncs.
    r.sim.type_cell(&r.id, "Products!A7", "ORPHAN-1").unwrap();
    assert_eq!(r.poll().await, 1);
    r.process(&[]).await;
    r.poll().await;
    assert_eq!(r.sheet("Products!G7")[0][0], "synced");
}

#[tokio::test]
async fn a_removed_row_is_deleted_only_when_it_stays_gone() {
    let r = rig().await;
    r.poll().await;
    // Cut and paste: gone for one round, back in another place.
    r.sim.delete_rows(&r.id, Some("Products"), 2, 1).unwrap();
    assert_eq!(r.poll().await, 0);
    r.sim
        .type_values(
            &r.id,
            "Products!A10",
            &[vec!["MUG-1", "Mug", "8.50", "25", "TRUE", "Acme"]],
        )
        .unwrap();
    assert_eq!(r.poll().await, 0, "the same row elsewhere");
    r.sim.delete_rows(&r.id, Some("Products"), 10, 1).unwrap();
    assert_eq!(r.poll().await, 0);
    assert_eq!(r.poll().await, 1);
    let last = r.journal().await.pop().unwrap();
    assert_eq!(
        last.body,
        json!({"id": "MUG-1", "sheet": "Products", "deleted": true})
    );
}

fn cmd(key: &str, op: WriteOp, body: Value, expected: Option<i64>) -> WriteCommand {
    WriteCommand {
        system: SYSTEM.into(),
        kind: EntityKind::Variant,
        op,
        target_id: Some(key.into()),
        external_id: None,
        body,
        idempotency_key: format!("k-{key}"),
        expected_quantity: expected,
    }
}

#[tokio::test]
async fn writes_find_rows_by_key_when_they_run() {
    let r = rig().await;
    let commands = vec![
        cmd(
            "CAP-1",
            WriteOp::SetQuantity,
            json!({"quantity": 4}),
            Some(0),
        ),
        cmd(
            "MUG-1",
            WriteOp::Upsert,
            json!({"fields": {"price": 9.25}}),
            None,
        ),
        cmd(
            "NEW-1",
            WriteOp::Upsert,
            json!({"fields": {"title": "New", "price": 5, "stock": 1, "active": true}}),
            None,
        ),
        cmd(
            "TEE-M",
            WriteOp::SetQuantity,
            json!({"quantity": 3}),
            Some(99),
        ),
        cmd(
            "MUG-1",
            WriteOp::Upsert,
            json!({"fields": {"colour": "red"}}),
            None,
        ),
    ];
    let (calls, errors) = r.conn.plan_batches(&commands).await;
    assert!(errors.is_empty());
    assert_eq!(calls.len(), 1);
    // The person re-sorts between planning and sending: rows are found at write time.
    r.sim
        .sort_rows(&r.id, Some("Products"), 2, "A", true)
        .unwrap();
    let before = r.sim.stats();
    let results = r.conn.send_batch(&calls[0].input, "call-1").await.unwrap();
    let after = r.sim.stats();
    assert_eq!(
        after["reads"].as_u64().unwrap() - before["reads"].as_u64().unwrap(),
        1
    );
    assert_eq!(
        after["writes"].as_u64().unwrap() - before["writes"].as_u64().unwrap(),
        2,
        "one batchUpdate, one append"
    );
    let ok: Vec<bool> = results
        .iter()
        .map(|x| matches!(x, BatchResult::Applied(_)))
        .collect();
    assert_eq!(ok, vec![true, true, true, false, false]);
    assert!(matches!(&results[3], BatchResult::Failed(e) if e.is_stale()));
    let BatchResult::Applied(o) = &results[1] else {
        unreachable!()
    };
    assert_eq!(o.target_id, "MUG-1");
    assert_eq!(o.document.as_ref().unwrap()["price"], json!(9.25));
    let rows = r.sheet("Products!A1:H6");
    let find = |k: &str| {
        rows.iter()
            .find(|x| x.first().is_some_and(|c| c == k))
            .unwrap()
            .clone()
    };
    assert_eq!(find("MUG-1")[2], "9.25");
    assert_eq!(find("CAP-1")[3], "4");
    assert_eq!(find("TEE-M")[3], "10");
    assert_eq!(&find("NEW-1")[..5], &["NEW-1", "New", "5", "1", "TRUE"]);
    assert_eq!(find("MUG-1")[6], "synced");
    // weft's own write reads back as the document it reported, so it is no surprise.
    assert_eq!(r.poll().await, 4);
    let j = r.journal().await;
    let mug = j.iter().rev().find(|e| e.entity_id == "MUG-1").unwrap();
    assert_eq!(&mug.body, o.document.as_ref().unwrap());
    // One write alone.
    let out = r
        .conn
        .execute(&cmd(
            "TEE-M",
            WriteOp::Upsert,
            json!({"key": "TEE-M", "title": "Tee"}),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(out.document.unwrap()["title"], "Tee");
}

#[tokio::test]
async fn one_token_exchange_then_refresh_when_refused() {
    let r = rig().await;
    for _ in 0..3 {
        r.poll().await;
    }
    assert_eq!(r.conn.client().tokens().exchanges(), 1);
    // The simulator's clock passes the token's hour (the client's does not): the API refuses
    // the cached token, the client exchanges once more and carries on.
    r.sim.advance_clock(Duration::from_secs(3700));
    r.poll().await;
    assert_eq!(r.conn.client().tokens().exchanges(), 2);
    r.sim.revoke_tokens();
    r.poll().await;
    assert_eq!(r.conn.client().tokens().exchanges(), 3);
}

#[tokio::test]
async fn outages_and_throttles_are_classified() {
    let r = rig().await;
    r.sim.set_unavailable(1);
    let e = r.poller.poll().await.unwrap_err();
    assert!(
        matches!(e, weft_platform::SourceError::Connector(ref c) if c.is_retryable()),
        "{e}"
    );
    assert_eq!(r.poll().await, 3);
}

#[tokio::test(start_paused = true)]
async fn steady_reading_is_never_throttled() {
    // Read as fast as a host could ask, for three minutes of the (paused) clock: the limiter
    // spaces the reads under the simulator's 60 per minute per user, so none is refused.
    let sim = SheetsSim::with_defaults();
    let server = sim.serve_local().await.unwrap();
    let id = sim.create_spreadsheet("Catalog", &[("Products", 20, 5)]);
    let key = sim.service_account_json(None).unwrap().to_string();
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenSource::new(
        ServiceAccountKey::from_json(&key).unwrap(),
        None,
        http.clone(),
    ));
    let client = SheetsClient::new(
        http,
        &server.base_url,
        &id,
        tokens,
        Arc::new(QuotaLimiter::new(50, 50)),
    );
    let start = tokio::time::Instant::now();
    let mut reads = 0;
    while start.elapsed() < Duration::from_secs(180) {
        client.get("'Products'").await.unwrap();
        reads += 1;
    }
    assert!((150..=200).contains(&reads), "{reads} reads");
    assert_eq!(sim.throttled(), 0);
    assert_eq!(client.counts(), (reads, 0));
    // Without the limiter's headroom the quota is met, and a 429 is an outage to wait out.
    let key = sim.service_account_json(None).unwrap().to_string();
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenSource::new(
        ServiceAccountKey::from_json(&key).unwrap(),
        None,
        http.clone(),
    ));
    let greedy = SheetsClient::new(
        http,
        &server.base_url,
        &id,
        tokens,
        Arc::new(QuotaLimiter::new(1000, 1000)),
    );
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = greedy.get("'Products'").await {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("a 429");
    assert!(err.is_retryable() && err.retry_after().is_some(), "{err}");
}

#[tokio::test]
async fn the_key_file_is_checked() {
    assert!(ServiceAccountKey::from_json("{").is_err());
    assert!(ServiceAccountKey::from_json(r#"{"type":"service_account","client_email":"a","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#).is_err());
    let e = ServiceAccountKey::from_json(r#"{"type":"user"}"#).unwrap_err();
    assert!(e.to_string().contains("service_account"));
}

fn shop_write(kind: &str, key: &str) -> NewOutboxRow {
    NewOutboxRow {
        system: "shop".into(),
        kind: kind.into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: format!("w-{key}"),
        body: json!({}),
        priority: 30,
        coalesce: true,
        resend_may_apply: false,
    }
}

#[tokio::test]
async fn a_row_is_synced_when_its_writes_elsewhere_are_done() {
    let r = rig().await;
    assert_eq!(r.poll().await, 3);
    r.process_with(
        &[],
        vec![
            shop_write("variant", "TEE-M"),
            shop_write("inventory-level", "CAP-1@loc-1"),
        ],
    )
    .await;
    r.poll().await;
    assert_eq!(
        r.sheet("Products!G1:G4"),
        vec![vec!["weft status"], vec!["synced"]],
        "MUG-1 only"
    );
    // The shop refuses the T-shirt and takes the cap's stock.
    let claimed =
        r.db.claim_due(
            Utc::now() + chrono::Duration::seconds(1),
            10,
            Duration::from_secs(30),
            Some(STORE),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for row in claimed {
        let token = row.claim_token.clone().unwrap();
        if row.key == "TEE-M" {
            r.db.dead_letter(row.id, &token, "price must be greater than 0", Utc::now())
                .await
                .unwrap();
        } else {
            r.db.complete(row.id, &token, &Completion::default(), Utc::now())
                .await
                .unwrap();
        }
    }
    r.poll().await;
    assert_eq!(
        r.sheet("Products!G3"),
        vec![vec!["shop: price must be greater than 0"]]
    );
    assert_eq!(r.sheet("Products!G4"), vec![vec!["synced"]]);
    assert!(r.sheet("Products!H3").is_empty(), "never synced: no time");
}

#[tokio::test(start_paused = true)]
async fn two_accounts_of_one_project_share_its_budget() {
    use weft_sim_sheets::{OTHER_ACCOUNT, QuotaLimits, SimConfig};
    // Each account may read 50 a minute, but the project only 80: the shared project budget
    // (70) keeps both under it.
    let sim = SheetsSim::new(SimConfig {
        quota: QuotaLimits {
            reads_per_user: 60,
            reads_per_project: 80,
            writes_per_user: 60,
            writes_per_project: 80,
        },
        ..SimConfig::default()
    });
    let server = sim.serve_local().await.unwrap();
    let id = sim.create_spreadsheet("Catalog", &[("Products", 20, 5)]);
    let project = Arc::new(QuotaLimiter::new(70, 70));
    let client = |email: Option<&str>| {
        let key = sim.service_account_json(email).unwrap().to_string();
        let http = reqwest::Client::new();
        let tokens = Arc::new(TokenSource::new(
            ServiceAccountKey::from_json(&key).unwrap(),
            None,
            http.clone(),
        ));
        Arc::new(
            SheetsClient::new(
                http,
                &server.base_url,
                &id,
                tokens,
                Arc::new(QuotaLimiter::new(50, 50)),
            )
            .with_project_limiter(project.clone()),
        )
    };
    let (a, b) = (client(None), client(Some(OTHER_ACCOUNT)));
    let run = |c: Arc<SheetsClient>| async move {
        let start = tokio::time::Instant::now();
        while start.elapsed() < Duration::from_secs(180) {
            c.get("'Products'").await.unwrap();
        }
    };
    tokio::join!(run(a.clone()), run(b.clone()));
    assert_eq!(sim.throttled(), 0);
    let total = a.counts().0 + b.counts().0;
    assert!((200..=290).contains(&total), "{total} reads in 3 minutes");
}

#[tokio::test]
async fn a_sheet_not_shared_with_weft_is_an_outage_that_says_so() {
    let r = rig().await;
    r.sim
        .share(&r.id, weft_sim_sheets::DEFAULT_ACCOUNT, false)
        .unwrap();
    let Err(weft_platform::SourceError::Connector(e)) = r.poller.poll().await else {
        panic!("expected a refusal");
    };
    assert!(e.is_outage(), "{e}");
    assert!(
        e.to_string()
            .contains("not shared with the service account weft-sync@"),
        "{e}"
    );
    r.sim
        .share(&r.id, weft_sim_sheets::DEFAULT_ACCOUNT, true)
        .unwrap();
    assert_eq!(r.poll().await, 3);
}

#[tokio::test(start_paused = true)]
async fn the_token_is_kept_until_five_minutes_before_it_expires() {
    let sim = SheetsSim::with_defaults();
    let server = sim.serve_local().await.unwrap();
    let key = sim.service_account_json(None).unwrap().to_string();
    let tokens = TokenSource::new(
        ServiceAccountKey::from_json(&key).unwrap(),
        None,
        reqwest::Client::new(),
    );
    let first = tokens.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(54 * 60)).await;
    assert_eq!(tokens.token().await.unwrap(), first);
    assert_eq!(tokens.exchanges(), 1);
    tokio::time::advance(Duration::from_secs(2 * 60)).await;
    let second = tokens.token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(tokens.exchanges(), 2);
    // Concurrent callers share one exchange.
    tokio::time::advance(Duration::from_secs(3600)).await;
    let (a, b) = tokio::join!(tokens.token(), tokens.token());
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(tokens.exchanges(), 3);
    drop(server);
}

#[tokio::test]
async fn a_big_sheet_is_one_read_per_round() {
    let r = rig().await;
    let rows: Vec<Vec<String>> = (0..5000)
        .map(|i| {
            vec![
                format!("BIG-{i:05}"),
                format!("Item {i}"),
                format!("{}.99", i % 300),
                format!("{}", i % 50),
                "TRUE".into(),
            ]
        })
        .collect();
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|x| x.iter().map(String::as_str).collect())
        .collect();
    r.sim.type_values(&r.id, "Products!A5", &refs).unwrap();
    let reads = |s: &SheetsSim| s.stats()["reads"].as_u64().unwrap();
    let before = reads(&r.sim);
    let t = std::time::Instant::now();
    assert_eq!(r.poll().await, 5003);
    let first = t.elapsed();
    let t = std::time::Instant::now();
    r.sim.type_cell(&r.id, "Products!C2500", "1.25").unwrap();
    assert_eq!(r.poll().await, 1);
    let second = t.elapsed();
    assert_eq!(reads(&r.sim) - before, 2, "one read per round");
    println!("5,003 rows: first round {first:?}, a round with one change {second:?}");
}

#[tokio::test]
async fn a_row_weft_has_read_is_never_appended_again_once_removed() {
    let r = rig().await;
    let row = r
        .sim
        .row_of(&r.id, Some("Products"), "SKU", "TEE-M")
        .unwrap()
        .unwrap();
    r.sim.delete_rows(&r.id, Some("Products"), row, 1).unwrap();
    let commands = vec![
        cmd(
            "TEE-M",
            WriteOp::SetQuantity,
            json!({"quantity": 4, "only_if_present": true}),
            Some(10),
        ),
        cmd(
            "TEE-M",
            WriteOp::Upsert,
            json!({"fields": {"price": 21}, "only_if_present": true}),
            None,
        ),
        // A product weft has never read on the sheet is appended, incomplete as it is: its
        // price and stock follow once it exists, and the answer says what the row holds.
        cmd(
            "NEW-2",
            WriteOp::Upsert,
            json!({"fields": {"title": "New"}}),
            None,
        ),
    ];
    let (calls, errors) = r.conn.plan_batches(&commands).await;
    assert!(errors.is_empty());
    let results = r.conn.send_batch(&calls[0].input, "call-2").await.unwrap();
    assert!(matches!(&results[0], BatchResult::Failed(e) if e.is_stale()));
    assert!(matches!(&results[1], BatchResult::Failed(e) if e.is_stale()));
    let BatchResult::Applied(o) = &results[2] else {
        panic!("{results:?}")
    };
    let doc = o.document.as_ref().expect("an appended row is answered");
    assert_eq!(doc["title"], json!("New"));
    assert_eq!(doc["price"], Value::Null);
    let rows = r.sheet("Products!A1:A10");
    assert!(!rows.iter().any(|x| x.first().is_some_and(|c| c == "TEE-M")));
    assert_eq!(
        rows.iter()
            .filter(|x| x.first().is_some_and(|c| c == "NEW-2"))
            .count(),
        1
    );
}

/// weft's write lands after the change capture's last read, so that read's snapshot holds the
/// row as it was before the write. A person who types the old value back (an undo) before the
/// next round changes the row from what weft wrote: the round reads it, though the row is again
/// what the snapshot holds. Each row weft wrote is read back once, whatever it shows.
#[tokio::test]
async fn a_person_s_undo_of_weft_s_write_is_read() {
    let r = rig().await;
    assert_eq!(r.poll().await, 3);
    r.process(&[]).await;
    let written = r
        .conn
        .execute(&cmd(
            "MUG-1",
            WriteOp::Upsert,
            json!({"fields": {"price": 9.25}, "expected": {"price": 8.5}, "only_if_present": true}),
            None,
        ))
        .await
        .unwrap();
    assert!(written.applied);
    r.conn
        .execute(&cmd(
            "TEE-M",
            WriteOp::Upsert,
            json!({"fields": {"title": "Tee"}}),
            None,
        ))
        .await
        .unwrap();
    r.sim
        .retype(&r.id, Some("Products"), "SKU", "MUG-1", "Price", |shown| {
            assert_eq!(shown, "9.25");
            "8.50".into()
        })
        .unwrap();
    assert_eq!(r.poll().await, 2, "the undo, and TEE-M as weft wrote it");
    let j = r.journal().await;
    let mug = j.iter().rev().find(|e| e.entity_id == "MUG-1").unwrap();
    assert_eq!(mug.body["price"], json!(8.5));
    let tee = j.iter().rev().find(|e| e.entity_id == "TEE-M").unwrap();
    assert_eq!(tee.body["title"], json!("Tee"));
    // Read once: the next round finds nothing new.
    assert_eq!(r.poll().await, 0);
}

#[tokio::test]
async fn a_person_retypes_a_cell_found_by_key_and_header() {
    let r = rig().await;
    r.sim
        .sort_rows(&r.id, Some("Products"), 2, "A", true)
        .unwrap();
    let typed = r
        .sim
        .retype(&r.id, Some("Products"), "SKU", "MUG-1", "Stock", |shown| {
            (shown.parse::<i64>().unwrap() + 5).to_string()
        })
        .unwrap();
    assert_eq!(typed.as_deref(), Some("30"));
    assert!(
        r.sim
            .rename_header(&r.id, Some("Products"), "Stock", "Qty")
            .unwrap()
    );
    assert_eq!(
        r.sim
            .retype(&r.id, Some("Products"), "SKU", "MUG-1", "Stock", |_| "1"
                .into())
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_cell_the_person_changed_since_weft_read_it_is_not_written_over() {
    let r = rig().await;
    // weft read MUG-1 at 8.50; the person types a typo before weft's write lands.
    r.sim.type_cell(&r.id, "Products!C2", "abc").unwrap();
    let commands = vec![
        cmd(
            "MUG-1",
            WriteOp::Upsert,
            json!({"fields": {"price": 9.5}, "expected": {"price": 8.5}, "only_if_present": true}),
            None,
        ),
        cmd(
            "TEE-M",
            WriteOp::Upsert,
            json!({"fields": {"price": 21}, "expected": {"price": 19}, "only_if_present": true}),
            None,
        ),
    ];
    let (calls, _) = r.conn.plan_batches(&commands).await;
    let results = r.conn.send_batch(&calls[0].input, "call-3").await.unwrap();
    assert!(matches!(&results[0], BatchResult::Failed(e) if e.is_stale()));
    assert!(matches!(&results[1], BatchResult::Applied(_)));
    let rows = r.sheet("Products!A1:C3");
    assert_eq!(rows[1][2], "abc", "the person's edit stays");
    assert_eq!(rows[2][2], "21");
}

/// A write batch waits for the change capture's next read and uses it: a round and the
/// batches waiting meanwhile are one read request, and a round's status write-back reads
/// nothing more. With no round coming, a batch reads the sheet itself once the wait is over.
#[tokio::test]
async fn a_write_batch_shares_the_change_capture_s_read() {
    let r = rig().await;
    let conn = Arc::new(
        SheetsConnection::new(
            r.conn.client().clone(),
            Layout::default(),
            Some("Products".into()),
            2,
        )
        .with_read_wait(Duration::from_secs(2)),
    );
    let poller = conn
        .change_sources(&SourceCtx {
            store_id: STORE.into(),
            system: SYSTEM.into(),
            db: r.db.clone(),
            overlap: Duration::from_secs(1),
            webhook_url: None,
        })
        .remove(0);
    let reads = |s: &SheetsSim| s.stats()["reads"].as_u64().unwrap();
    // The first round journals three rows; processed, its next round writes their status
    // from its own read.
    let before = reads(&r.sim);
    assert_eq!(poller.poll().await.unwrap().journaled, 3);
    r.process(&[]).await;
    poller.poll().await.unwrap();
    assert_eq!(reads(&r.sim) - before, 2, "two rounds, statuses included");
    assert_eq!(r.sheet("Products!G2:G4"), vec![vec!["synced"]; 3]);

    let commands = [
        cmd(
            "MUG-1",
            WriteOp::Upsert,
            json!({"fields": {"price": 9.75}}),
            None,
        ),
        cmd(
            "CAP-1",
            WriteOp::SetQuantity,
            json!({"quantity": 6}),
            Some(0),
        ),
    ];
    let before = reads(&r.sim);
    let t = std::time::Instant::now();
    let (a, b, ()) = tokio::join!(
        conn.execute(&commands[0]),
        conn.execute(&commands[1]),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            poller.poll().await.unwrap();
        }
    );
    assert!(a.unwrap().applied && b.unwrap().applied);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(
        reads(&r.sim) - before,
        1,
        "the round's read served both writes"
    );
    assert_eq!(r.sheet("Products!C2:D2"), vec![vec!["9.75", "25"]]);
    assert_eq!(r.sheet("Products!D4"), vec![vec!["6"]]);

    // No round: the batch reads itself after the wait, and its guard still sees the person's
    // edit made before it was asked for.
    r.sim.type_cell(&r.id, "Products!D4", "2").unwrap();
    let before = reads(&r.sim);
    let t = std::time::Instant::now();
    let stale = conn
        .execute(&cmd(
            "CAP-1",
            WriteOp::SetQuantity,
            json!({"quantity": 9}),
            Some(6),
        ))
        .await;
    assert!(t.elapsed() >= Duration::from_secs(2));
    assert!(
        matches!(stale, Err(weft_platform::ConnectorError::Stale { .. })),
        "{stale:?}"
    );
    assert_eq!(reads(&r.sim) - before, 1);
    assert_eq!(r.sheet("Products!D4"), vec![vec!["2"]]);
}

/// The status write-back finds rows in its round's read, so a re-sort just before it lands
/// sends a status to the wrong row: each round writes every status the sheet does not show,
/// so the next round puts both rows right.
#[tokio::test]
async fn a_status_the_sheet_does_not_show_is_written_again() {
    let r = rig().await;
    assert_eq!(r.poll().await, 3);
    r.process(&[("CAP-1", "mapper `sheet` refused: price 'x' is not a number")])
        .await;
    r.poll().await;
    assert_eq!(
        r.sheet("Products!G2:G4"),
        vec![
            vec!["synced"],
            vec!["synced"],
            vec!["mapper `sheet` refused: price 'x' is not a number"]
        ]
    );
    // A misdirected write-back: the refusal on MUG-1's row, `synced` on CAP-1's.
    r.sim
        .type_values(
            &r.id,
            "Products!G2",
            &[
                vec!["mapper `sheet` refused: price 'x' is not a number"],
                vec!["synced"],
                vec!["synced"],
            ],
        )
        .unwrap();
    assert_eq!(r.poll().await, 0, "status cells are not merchant edits");
    assert_eq!(
        r.sheet("Products!G2:G4"),
        vec![
            vec!["synced"],
            vec!["synced"],
            vec!["mapper `sheet` refused: price 'x' is not a number"]
        ]
    );
    let writes = |s: &SheetsSim| s.stats()["writes"].as_u64().unwrap();
    let before = writes(&r.sim);
    r.poll().await;
    assert_eq!(
        writes(&r.sim),
        before,
        "nothing to put right: nothing written"
    );
}
