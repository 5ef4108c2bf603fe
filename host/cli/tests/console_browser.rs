//! The console of a running host, driven by a real headless Chromium (the distribution's
//! `chromium` package; `.ci/run` installs it). A Shopify shop and a NetSuite account run as
//! simulators; the real host syncs them and serves the console. The ERP raises a price while
//! the merchant has withdrawn the app's `write_products` scope, so Shopify refuses the write
//! (`ACCESS_DENIED`) and it becomes a dead letter; then the merchant edits the same price in
//! Shopify, a conflict the store's resolver settles for the ERP. The operator logs in with the
//! token, opens the store list, searches the SKU, reads its lineage naming the resolver and
//! Shopify's refusal; the merchant approves the scope again; the operator retries the dead
//! letters, and the host's dispatcher delivers them: the record page shows every write done and
//! the shop holds the ERP's price. Screenshots of each page are written under
//! `target/console-screenshots/`.
//!
//! Skips, saying so, when no Chromium is installed, unless `WEFT_REQUIRE_BROWSER` is set
//! (CI sets it), which makes a missing browser a failure.
//!
//! The browser is driven over the Chrome DevTools Protocol on a WebSocket, with the few lines
//! of client this needs written here (text frames, no extensions) rather than a crate.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, ensure};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use weft::app::{Host, StoreSetup};
use weft_runtime::Limits;
use weft_server::{ConsoleOptions, Listeners, ServeOptions};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{ShopifySim, VariantEdit};

const TOKEN: &str = "browser-console-token-0123456789";
const STORE: &str = "acme";
const SKU: &str = "WS-M";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const SETTLE: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("console-screenshots")
}

/// A CDP session on one page target over a WebSocket.
struct Cdp {
    stream: TcpStream,
    next: u64,
}

impl Cdp {
    async fn connect(ws_url: &str) -> Cdp {
        let rest = ws_url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Cdp { stream, next: 0 }
    }

    async fn send_text(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x08];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next whole text message (fragments joined; pings and the like skipped).
    async fn read_text(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).await.unwrap();
            let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).await.unwrap();
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).await.unwrap();
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            match opcode {
                0x1 | 0x0 => {
                    message.extend(payload);
                    if fin {
                        return String::from_utf8(message).unwrap();
                    }
                }
                0x8 => panic!("the browser closed the DevTools connection"),
                _ => {}
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send_text(&json!({"id": id, "method": method, "params": params}).to_string())
            .await;
        loop {
            let msg: Value = serde_json::from_str(&self.read_text().await).unwrap();
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Waits until the page at `path_prefix` has loaded and its text contains `text`.
    async fn wait_for(&mut self, path_prefix: &str, text: &str) -> String {
        for _ in 0..200 {
            let state = self
                .eval("JSON.stringify([location.pathname, document.readyState, document.body ? document.body.innerText : ''])")
                .await;
            if let Some(s) = state.as_str() {
                let v: Value = serde_json::from_str(s).unwrap();
                let body = v[2].as_str().unwrap_or("").to_owned();
                if v[0].as_str().is_some_and(|p| p.starts_with(path_prefix))
                    && v[1] == "complete"
                    && body.contains(text)
                {
                    return body;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("page {path_prefix} never showed `{text}`: {body}");
    }

    /// Waits until the page at `path_prefix` has loaded without an element of id `id` (a form
    /// posted and its answer shown).
    async fn wait_for_gone(&mut self, path_prefix: &str, id: &str) {
        let probe = format!(
            "JSON.stringify([location.pathname, document.readyState, !!document.getElementById('{id}')])"
        );
        for _ in 0..200 {
            if let Some(s) = self.eval(&probe).await.as_str() {
                let v: Value = serde_json::from_str(s).unwrap();
                if v[0].as_str().is_some_and(|p| p.starts_with(path_prefix))
                    && v[1] == "complete"
                    && v[2] == false
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("page {path_prefix} still shows #{id}: {body}");
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    async fn screenshot(&mut self, name: &str) {
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// Waits until `done` holds, checking every 100 ms, or fails after `limit` naming `what`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while !done().await? {
        ensure!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The shop's price of `SKU`.
fn shop_price(shop: &ShopifySim) -> Option<String> {
    let variant = shop.variant_by_sku(SKU)?;
    let product = shop.product_of_variant(variant)?;
    shop.product_json(product)["variants"]
        .as_array()?
        .iter()
        .find(|v| v["sku"] == SKU)
        .and_then(|v| v["price"].as_str())
        .map(str::to_owned)
}

/// Starts Chromium and returns it with a DevTools session on its page.
async fn browser(
    path: &std::path::Path,
    profile: &std::path::Path,
) -> (tokio::process::Child, Cdp) {
    let mut child = tokio::process::Command::new(path)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1366,900",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let browser_ws = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                return url.trim().to_owned();
            }
        }
        panic!("chromium exited without a DevTools address");
    })
    .await
    .expect("chromium says where DevTools listens");
    // Keep reading its stderr so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let devtools = browser_ws
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let targets: Value = reqwest::get(format!("http://{devtools}/json/list"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page_ws = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned();
    let mut cdp = Cdp::connect(&page_ws).await;
    cdp.call("Page.enable", json!({})).await;
    (child, cdp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_record_reads_why_and_retries_its_dead_letter() -> Result<()> {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("WEFT_REQUIRE_BROWSER").is_none(),
            "WEFT_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium to run this test)");
        return Ok(());
    };
    // `WEFT_TEST_LOG=info cargo test --test console_browser` shows the host's log.
    common::init_log();
    let (shop, shop_server) = common::serve_shopify(43, API_VERSION).await?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(44)).map_err(|e| anyhow!("{e}"))?;
    let ns_server = netsuite
        .serve(TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let item = netsuite
        .erp_create(
            RecordType::InventoryItem,
            json!({
                "externalId": format!("item-{SKU}"), "itemId": SKU,
                "displayName": "Wool sweater, M", "isInactive": false, "basePrice": 49.99,
            }),
        )
        .map_err(|e| anyhow!("{e:?}"))?;
    netsuite
        .erp_adjust_inventory(&item, NS_LOCATION, 12.0, Some("opening stock"))
        .map_err(|e| anyhow!("{e:?}"))?;
    let location = *shop.location_ids().first().context("a location")?;

    let dir = tempfile::tempdir()?;
    let (db, runtime) = common::store_and_runtime(dir.path()).await?;
    let stock = |name: &str| common::stock(&runtime, name);
    let setup = StoreSetup {
        id: STORE.into(),
        systems: vec![
            common::shopify_system("shopify", &shop, &shop_server.base_url, API_VERSION),
            common::netsuite_system(&netsuite, STORE, &ns_server.base_url())?,
        ],
        mapper: stock("shopify-netsuite")?,
        resolvers: vec![
            ("inventory-level.quantity".into(), stock("counter-merge")?),
            ("*".into(), stock("system-of-record")?),
        ],
        plugin_config: json!({
            "locations": { location.to_string(): NS_LOCATION },
            "owners": { "*": "netsuite", "customer.*": "shopify" },
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
        limits: Limits::default(),
        timing: common::quick_timing(Duration::from_secs(1)),
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    };
    let host = Host::start_with_console(
        db.clone(),
        &runtime,
        vec![setup],
        Listeners::bind("127.0.0.1:0".parse()?, None).await?,
        ServeOptions::default(),
        Some(ConsoleOptions::new(TOKEN.as_bytes().to_vec())),
    )
    .await?;
    shop.subscribe_all(&format!("http://{}/webhooks/shopify/{STORE}", host.addr))
        .map_err(|e| anyhow!("{e}"))?;
    host.poll_now();
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    ensure!(
        shop_price(&shop).as_deref() == Some("49.99"),
        "the item reached the shop: {:?}",
        shop_price(&shop)
    );

    // The merchant reinstalls the app without `write_products`; the ERP raises the price:
    // Shopify refuses the write, for good.
    let all = weft_sim_shopify::scopes::ALL_SCOPES;
    let without: Vec<&str> = all
        .iter()
        .copied()
        .filter(|s| *s != "write_products")
        .chain(["read_products"])
        .collect();
    shop.set_access_scopes(&without);
    netsuite
        .erp_update(
            RecordType::InventoryItem,
            &item,
            json!({"basePrice": 59.90}),
        )
        .map_err(|e| anyhow!("{e:?}"))?;
    wait_until(
        SETTLE,
        "the refused write becoming a dead letter",
        || async { Ok(db.status(STORE).await?.outbox.dead > 0) },
    )
    .await?;
    // The merchant changes the same price in Shopify: both systems changed it, and the store's
    // resolver decides (the ERP owns prices).
    let variant = shop.variant_by_sku(SKU).context("the variant")?;
    shop.edit_variant(
        variant,
        VariantEdit {
            price: Some("39.00".into()),
            ..VariantEdit::default()
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    // One dead letter: each newer write of the record replaced the one refused before it.
    let dead = db.list_dead_letters(Some(STORE), 10).await?;
    ensure!(dead.len() == 1, "{dead:?}");
    for d in &dead {
        ensure!(
            d.system == "shopify"
                && d.last_error.as_deref().is_some_and(|m| {
                    m.contains("code ACCESS_DENIED")
                        && m.contains("Required access: `write_products` access scope.")
                }),
            "{d:?}"
        );
    }
    ensure!(shop_price(&shop).as_deref() == Some("39.00"));
    // The agreed price is still the ERP's: the conflict the resolver settled for it does not
    // make the shop its source.
    let explained = db
        .explain(STORE, "price", SKU, 500)
        .await?
        .context("the record is known")?
        .field("price");
    ensure!(
        explained.golden["price"] == "59.90"
            && explained.provenance["price"]["system"] == "netsuite",
        "{:?} from {:?}",
        explained.golden,
        explained.provenance
    );

    let profile = tempfile::tempdir()?;
    let (mut child, mut cdp) = browser(&chromium, profile.path()).await;
    let base = format!("http://{}", host.addr);

    // Without the token: the login form, nothing else.
    cdp.goto(&format!("{base}/console")).await;
    let login = cdp.wait_for("/console", "Console token").await;
    ensure!(!login.contains(STORE), "{login}");
    cdp.screenshot("1-login").await;
    cdp.eval(&format!(
        "document.querySelector('input[name=token]').value = '{TOKEN}'; document.querySelector('form').submit(); true"
    ))
    .await;

    // The store list.
    let stores = cdp.wait_for("/console", "Last poll per source").await;
    ensure!(stores.contains(STORE), "{stores}");
    cdp.screenshot("2-stores").await;

    // Search the SKU from the store page (keyboard: `/` focuses the search).
    cdp.eval(&format!(
        "document.querySelector('a[href=\"/console/stores/{STORE}\"]').click(); true"
    ))
    .await;
    cdp.wait_for(&format!("/console/stores/{STORE}"), "Recent activity")
        .await;
    cdp.call(
        "Input.dispatchKeyEvent",
        json!({"type": "keyDown", "key": "/", "code": "Slash", "text": "/"}),
    )
    .await;
    let focused = cdp
        .eval("document.activeElement && document.activeElement.id")
        .await;
    ensure!(focused == "q", "`/` focuses the search: {focused}");
    cdp.call("Input.insertText", json!({"text": SKU})).await;
    cdp.eval("document.getElementById('q').form.submit(); true")
        .await;
    // The SKU names the record of each kind; the operator opens its price.
    let found = cdp
        .wait_for(
            &format!("/console/stores/{STORE}/search"),
            &format!("price {SKU}"),
        )
        .await;
    ensure!(found.contains(&format!("variant {SKU}")), "{found}");
    cdp.screenshot("3-search").await;
    cdp.eval(&format!(
        "Array.from(document.querySelectorAll('main a, a')).find(a => a.textContent.trim() === 'price {SKU}').click(); true"
    ))
    .await;
    let record_path = format!("/console/stores/{STORE}/records/price/");
    let record = cdp.wait_for(&record_path, "Lineage").await;
    ensure!(
        record.contains("resolver system-of-record ")
            && record.contains("(rule *) decided take netsuite"),
        "the lineage names the resolver that decided: {record}"
    );
    ensure!(
        record.contains("Required access: `write_products` access scope."),
        "{record}"
    );
    cdp.screenshot("4-record-lineage").await;

    // The dead letters, with Shopify's words.
    let dead_path = format!("/console/stores/{STORE}/dead");
    cdp.goto(&format!("{base}{dead_path}")).await;
    cdp.wait_for(&dead_path, "Required access: `write_products` access scope")
        .await;
    cdp.screenshot("5-dead-letters").await;

    // The merchant approves the scope again; the operator retries each dead letter.
    shop.set_access_scopes(all);
    for d in &dead {
        cdp.eval(&format!(
            "document.querySelector('#dead-{} button').click(); true",
            d.id
        ))
        .await;
        cdp.wait_for_gone(&dead_path, &format!("dead-{}", d.id))
            .await;
    }
    cdp.wait_for(&dead_path, "No dead letters").await;
    cdp.screenshot("6-retried").await;

    // The host's dispatcher delivers them: the shop holds the ERP's price, every write of the
    // record is done.
    wait_until(SETTLE, "the retried writes being delivered", || async {
        let st = db.status(STORE).await?;
        Ok(st.outbox.pending == 0 && st.outbox.inflight == 0)
    })
    .await?;
    ensure!(
        shop_price(&shop).as_deref() == Some("59.90"),
        "the shop holds {:?}",
        shop_price(&shop)
    );
    ensure!(db.status(STORE).await?.outbox.dead == 0);
    cdp.goto(&format!("{base}{record_path}{}", SKU.replace('-', "%2D")))
        .await;
    let settled = cdp.wait_for(&record_path, "Lineage").await;
    let badges = cdp
        .eval("Array.from(document.querySelectorAll('.badge')).map(b => b.textContent).join(',')")
        .await;
    let badges = badges.as_str().unwrap_or_default().to_owned();
    // Each write is done, or was replaced by a newer write of the record before it was sent.
    ensure!(
        badges.split(',').any(|b| b == "done")
            && badges.split(',').all(|b| b == "done" || b == "superseded"),
        "every write of the record is settled: {badges}\n{settled}"
    );
    cdp.screenshot("7-settled").await;

    let _ = child.kill().await;
    host.stop().await;
    Ok(())
}
