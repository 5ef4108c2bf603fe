//! Serves a Google Sheets simulator with a product sheet and prints its URL, the spreadsheet
//! id and where to fetch the service-account key file, for trying clients against it by hand:
//! `cargo run -p weft-sim-sheets --example serve_sheets [-- 127.0.0.1:8098]`.
//!
//! A client then reads the key file from `<url>/_sim/service-account`, exchanges a signed JWT
//! at its `token_uri`, and calls `<url>/v4/spreadsheets/<id>/values/Products!A1:F`.

use serde_json::json;
use weft_sim_sheets::{SheetsSim, SimConfig};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let local = listener.local_addr().expect("address");
    let sim = SheetsSim::new(SimConfig {
        base_url: Some(format!("http://{local}")),
        ..SimConfig::default()
    });
    let id = sim.create_spreadsheet("Catalog", &[("Products", 1000, 26)]);
    sim.type_values(
        &id,
        "Products!A1",
        &[
            vec![
                "SKU",
                "Title",
                "Description",
                "Price",
                "Compare at price",
                "Stock",
                "Active",
            ],
            vec!["MUG-1", "Mug", "A white mug", "8.50", "", "25", "TRUE"],
            vec![
                "TEE-M",
                "T-shirt M",
                "Cotton",
                "19.00",
                "24.00",
                "10",
                "TRUE",
            ],
            vec!["CAP-1", "Cap", "", "12", "", "0", "FALSE"],
        ],
    )
    .expect("seed the sheet");
    let handle = sim.serve(listener).await.expect("serve");
    println!(
        "{}",
        json!({"url": handle.base_url, "spreadsheet_id": id,
            "service_account": format!("{}/_sim/service-account", handle.base_url),
            "token_uri": sim.token_url()})
    );
    tokio::signal::ctrl_c().await.expect("ctrl-c");
    handle.shutdown().await;
}
