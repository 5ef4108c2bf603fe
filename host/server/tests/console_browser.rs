//! The console driven by a real headless Chromium (the distribution's `chromium` package;
//! `.ci/run` installs it): log in with the token, open the store list, search a SKU both
//! systems changed, see its lineage naming the resolver that decided, retry its dead letter
//! and see it leave the dead letters, then see the write settle (done) once it is sent.
//! Screenshots of each page are written under `target/console-screenshots/`.
//!
//! Skips, saying so, when no Chromium is installed, unless `WEFT_REQUIRE_BROWSER` is set
//! (CI sets it), which makes a missing browser a failure.
//!
//! The browser is driven over the Chrome DevTools Protocol on a WebSocket, with the few lines
//! of client this needs written here (text frames, no extensions) rather than a crate.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use weft_server::ConsoleOptions;
use weft_store::{Completion, TargetStateUpsert};

const TOKEN: &str = "browser-console-token-0123456789";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_record_reads_why_and_retries_its_dead_letter() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("WEFT_REQUIRE_BROWSER").is_none(),
            "WEFT_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium to run this test)");
        return;
    };
    // The store: a price both systems changed, settled by the resolver, whose write to the
    // shop was refused for good.
    let h = harness(vec![acme()]).await;
    h.state
        .set_console(ConsoleOptions::new(TOKEN.as_bytes().to_vec()));
    conflicted_price(&h.store, "WS-M", 0).await;
    let dead = dead_letter_all(&h.store, "Price must be positive (Shopify userErrors)").await;
    assert_eq!(dead.len(), 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(weft_server::serve(listener, h.state.clone(), async move {
        let _ = stopped.await;
    }));

    let profile = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(&browser)
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
        .arg(format!("--user-data-dir={}", profile.path().display()))
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
    let base = format!("http://{addr}");

    // Without the token: the login form, nothing else.
    cdp.goto(&format!("{base}/console")).await;
    let login = cdp.wait_for("/console", "Console token").await;
    assert!(!login.contains("acme"), "{login}");
    cdp.screenshot("1-login").await;
    cdp.eval(&format!(
        "document.querySelector('input[name=token]').value = '{TOKEN}'; document.querySelector('form').submit(); true"
    ))
    .await;

    // The store list.
    let stores = cdp.wait_for("/console", "Last poll per source").await;
    assert!(stores.contains("acme"), "{stores}");
    cdp.screenshot("2-stores").await;

    // Search the SKU from the store page (keyboard: `/` focuses the search).
    cdp.eval("document.querySelector('a[href=\"/console/stores/acme\"]').click(); true")
        .await;
    cdp.wait_for("/console/stores/acme", "Recent activity")
        .await;
    cdp.call(
        "Input.dispatchKeyEvent",
        json!({"type": "keyDown", "key": "/", "code": "Slash", "text": "/"}),
    )
    .await;
    let focused = cdp
        .eval("document.activeElement && document.activeElement.id")
        .await;
    assert_eq!(focused, "q", "`/` focuses the search");
    cdp.call("Input.insertText", json!({"text": "WS-M"})).await;
    cdp.eval("document.getElementById('q').form.submit(); true")
        .await;
    let record = cdp
        .wait_for("/console/stores/acme/records/price/", "Lineage")
        .await;
    assert!(
        record.contains("resolver system-of-record 0.2.0 (rule *) decided take netsuite"),
        "{record}"
    );
    assert!(record.contains("Price must be positive"), "{record}");
    cdp.screenshot("3-record-lineage").await;

    // Retry the dead letter.
    cdp.goto(&format!("{base}/console/stores/acme/dead")).await;
    cdp.wait_for("/console/stores/acme/dead", "Price must be positive")
        .await;
    cdp.screenshot("4-dead-letters").await;
    cdp.eval(&format!(
        "document.querySelector('#dead-{} button').click(); true",
        dead[0]
    ))
    .await;
    cdp.wait_for("/console/stores/acme/dead", "No dead letters")
        .await;
    cdp.screenshot("5-retried").await;
    let row = h.store.outbox_row(dead[0]).await.unwrap().unwrap();
    assert_eq!(row.status.as_str(), "pending", "retried: due again");

    // The dispatcher sends it and the shop takes it: the record page shows it settled.
    let now = Utc::now();
    let claimed = h
        .store
        .claim_due(now, 10, Duration::from_secs(60), Some("acme"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    h.store
        .complete(
            claimed[0].id,
            claimed[0].claim_token.as_deref().unwrap(),
            &Completion {
                target_states: vec![TargetStateUpsert {
                    system: "shopify".into(),
                    kind: "price".into(),
                    key: "WS-M".into(),
                    fields: json!({"price": "59.90", "compare_at": null}),
                }],
                ..Completion::default()
            },
            now,
        )
        .await
        .unwrap();
    cdp.goto(&format!("{base}/console/stores/acme/records/price/WS%2DM"))
        .await;
    let settled = cdp
        .wait_for("/console/stores/acme/records/price/", "Lineage")
        .await;
    assert!(!settled.contains("Price must be positive"), "{settled}");
    let badge = cdp
        .eval("Array.from(document.querySelectorAll('.badge')).map(b => b.textContent).join(',')")
        .await;
    assert_eq!(badge, "done,done", "the write is done: {badge}");
    cdp.screenshot("6-settled").await;

    let _ = child.kill().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
