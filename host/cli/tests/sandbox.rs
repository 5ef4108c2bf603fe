//! `weft sandbox --json` prints every simulator's URLs and credentials as one JSON object on the
//! first line of stdout once they are ready, and they answer as the real APIs do.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn sandbox_prints_ready_simulators_as_json_on_its_first_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["sandbox", "--json", "--seed", "7", "--drop-rate", "0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weft sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the first line");
    let info: serde_json::Value = serde_json::from_str(&line).expect("first line is JSON");

    let graphql = info["shopify"]["graphql_url"].as_str().unwrap().to_owned();
    let token = info["shopify"]["access_token"].as_str().unwrap().to_owned();
    let netsuite = info["netsuite"]["base_url"].as_str().unwrap().to_owned();
    assert!(info["netsuite"]["credentials"][0]["consumer_key"].is_string());
    assert_eq!(info["seed"], 7);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        // Shopify: a real GraphQL answer with cost extensions, and 401 without the token.
        let ok: serde_json::Value = http
            .post(&graphql)
            .header("X-Shopify-Access-Token", &token)
            .json(&serde_json::json!({"query": "{ shop { name } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            ok["extensions"]["cost"]["throttleStatus"].is_object(),
            "{ok}"
        );
        let denied = http
            .post(&graphql)
            .json(&serde_json::json!({"query": "{ shop { name } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 401);
        // NetSuite: unsigned requests are refused with NetSuite's error shape.
        let ns = http
            .get(format!("{netsuite}/services/rest/record/v1/customer/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(ns.status(), 401);
        let body: serde_json::Value = ns.json().await.unwrap();
        assert!(body["o:errorDetails"].is_array(), "{body}");
        // WooCommerce: a key and secret over Basic list products; without them, WooCommerce's
        // error shape.
        let api = info["woocommerce"]["api_url"].as_str().unwrap();
        let key = info["woocommerce"]["consumer_key"].as_str().unwrap();
        let secret = info["woocommerce"]["consumer_secret"].as_str().unwrap();
        let ok = http
            .get(format!("{api}/products"))
            .basic_auth(key, Some(secret))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().contains_key("x-wp-totalpages"));
        let denied = http.get(format!("{api}/products")).send().await.unwrap();
        assert_eq!(denied.status(), 401);
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(body["code"], "woocommerce_rest_cannot_view", "{body}");
        // BigCommerce: the token lists products with the store quota's headers; without it,
        // BigCommerce's V3 error shape.
        let api = info["bigcommerce"]["api_url"].as_str().unwrap();
        let token = info["bigcommerce"]["access_token"].as_str().unwrap();
        let ok = http
            .get(format!("{api}/v3/catalog/products"))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["x-rate-limit-requests-quota"], "150");
        let body: serde_json::Value = ok.json().await.unwrap();
        assert!(body["meta"]["pagination"].is_object(), "{body}");
        let denied = http
            .get(format!("{api}/v3/catalog/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 401);
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(body["status"], 401, "{body}");
        // Magento: the integration token as a Bearer token lists products; without it,
        // Magento's error shape.
        let api = info["magento"]["api_url"].as_str().unwrap();
        let token = info["magento"]["access_token"].as_str().unwrap();
        let ok: serde_json::Value = http
            .get(format!("{api}/V1/products?searchCriteria[pageSize]=10"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ok["total_count"], 0, "{ok}");
        let denied = http.get(format!("{api}/V1/products")).send().await.unwrap();
        assert_eq!(denied.status(), 401);
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(
            body["message"], "The consumer isn't authorized to access %resources.",
            "{body}"
        );
        // Google Sheets: the sample sheet, read with the key file through the JWT exchange;
        // without a token, Google's error shape.
        let sheets = &info["sheets"];
        let base = sheets["base_url"].as_str().unwrap();
        let book = sheets["spreadsheet_id"].as_str().unwrap();
        let denied = http
            .get(format!(
                "{base}/v4/spreadsheets/{book}/values/Products!A1:G1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 401);
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{body}");
        let key = weft_sheets::ServiceAccountKey::from_json(&sheets["service_account"].to_string())
            .unwrap();
        let client = weft_sheets::SheetsClient::new(
            http.clone(),
            base,
            book,
            std::sync::Arc::new(weft_sheets::TokenSource::new(key, None, http.clone())),
            std::sync::Arc::new(weft_sheets::QuotaLimiter::new(5, 5)),
        );
        let rows = client.get("Products!A1:G2").await.unwrap();
        assert_eq!(rows[0][0], "SKU");
        assert_eq!(rows[1][0], "MUG-1");
    });
    child.kill().ok();
    child.wait().ok();
}
