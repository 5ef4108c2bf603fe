//! The Sheets API v4 surface as a client sees it: reads, writes, ranges, render and input
//! options, errors.

mod common;

use common::*;
use serde_json::json;
use weft_sim_sheets::SheetsSim;

#[tokio::test]
async fn spreadsheets_get_lists_sheets_and_grids() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}?alt=json&prettyPrint=false"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["spreadsheetId"], json!(id));
    assert_eq!(r.body["properties"]["title"], "Catalog");
    assert_eq!(r.body["properties"]["locale"], "en_US");
    let s = &r.body["sheets"];
    assert_eq!(s[0]["properties"]["title"], "Products");
    assert_eq!(s[0]["properties"]["sheetId"], 0);
    assert_eq!(s[0]["properties"]["index"], 0);
    assert_eq!(
        s[0]["properties"]["gridProperties"],
        json!({"rowCount": 100, "columnCount": 8})
    );
    assert_eq!(s[1]["properties"]["title"], "Notes");
    assert_ne!(s[1]["properties"]["sheetId"], 0);
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}?ranges=Notes!A1"),
        None,
    )
    .await;
    assert_eq!(r.body["sheets"].as_array().unwrap().len(), 1);
    let r = call(&sim, &t, "GET", "/v4/spreadsheets/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})
    );
}

#[tokio::test]
async fn values_get_ranges_and_trimming() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let get = |range: &str| {
        let path = format!(
            "/v4/spreadsheets/{id}/values/{}",
            range.replace(' ', "%20").replace('!', "%21")
        );
        let (sim, t) = (sim.clone(), t.clone());
        async move { call(&sim, &t, "GET", &path, None).await }
    };
    let r = get("Products!A2:F").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["range"], "Products!A2:F100");
    assert_eq!(r.body["majorDimension"], "ROWS");
    assert_eq!(
        r.body["values"],
        json!([
            ["MUG-1", "Mug", "8.5", "25", "TRUE"],
            ["TEE-M", "T-shirt M", "19", "10", "TRUE"],
            ["CAP-1", "Cap", "12", "0", "FALSE"]
        ])
    );
    // No sheet name: the first sheet. Whole columns, whole rows, a bare title.
    assert_eq!(
        get("A1:A2").await.body["values"],
        json!([["SKU"], ["MUG-1"]])
    );
    assert_eq!(get("B:C").await.body["range"], "Products!B1:C100");
    let r = get("3:4").await;
    assert_eq!(r.body["range"], "Products!A3:H4");
    assert_eq!(r.body["values"][1][0], "CAP-1");
    let r = get("Products").await;
    assert_eq!(r.body["range"], "Products!A1:H100");
    assert_eq!(r.body["values"].as_array().unwrap().len(), 4);
    // An empty range: no `values` at all.
    let r = get("Notes!A1:C3").await;
    assert_eq!(
        r.body,
        json!({"range": "Notes!A1:C3", "majorDimension": "ROWS"})
    );
    // Quoted titles with spaces.
    sim.add_sheet(&id, "Price list", 10, 3).unwrap();
    sim.type_cell(&id, "'Price list'!B2", "x").unwrap();
    let r = get("'Price list'!A1:C").await;
    assert_eq!(r.body["range"], "'Price list'!A1:C10");
    assert_eq!(r.body["values"], json!([[], ["", "x"]]));
    // Bad ranges.
    let r = get("Nope!A1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["message"], "Unable to parse range: Nope!A1");
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(get("Products!A1:[5").await.status, 400);
    let r = get("Products!A1:A101").await;
    assert_eq!(
        r.body["error"]["message"],
        "Range (Products!A1:A101) exceeds grid limits. Max rows: 100, max columns: 8"
    );
}

#[tokio::test]
async fn render_options_and_major_dimension() {
    let sim = SheetsSim::with_defaults();
    let id = sim.create_spreadsheet("R", &[("S", 20, 5)]);
    sim.type_values(
        &id,
        "A1",
        &[vec!["$12.50", "2024-03-01", "=A1*2", "'007", "12,5"]],
    )
    .unwrap();
    let t = token(&sim).await;
    let q = |opts: &str| format!("/v4/spreadsheets/{id}/values/A1:E1?{opts}");
    let r = call(&sim, &t, "GET", &q(""), None).await;
    // A formula's value takes the automatic format: 25.
    assert_eq!(
        r.body["values"],
        json!([["$12.50", "2024-03-01", "25", "007", "12,5"]])
    );
    let r = call(
        &sim,
        &t,
        "GET",
        &q("valueRenderOption=UNFORMATTED_VALUE"),
        None,
    )
    .await;
    assert_eq!(r.body["values"], json!([[12.5, 45352, 25, "007", "12,5"]]));
    let r = call(
        &sim,
        &t,
        "GET",
        &q("valueRenderOption=UNFORMATTED_VALUE&dateTimeRenderOption=FORMATTED_STRING"),
        None,
    )
    .await;
    assert_eq!(r.body["values"][0][1], "2024-03-01");
    let r = call(&sim, &t, "GET", &q("valueRenderOption=FORMULA"), None).await;
    assert_eq!(r.body["values"][0][2], "=A1*2");
    let r = call(
        &sim,
        &t,
        "GET",
        &q("majorDimension=COLUMNS&valueRenderOption=UNFORMATTED_VALUE"),
        None,
    )
    .await;
    assert_eq!(r.body["majorDimension"], "COLUMNS");
    assert_eq!(
        r.body["values"],
        json!([[12.5], [45352], [25], ["007"], ["12,5"]])
    );
    let r = call(&sim, &t, "GET", &q("valueRenderOption=PRETTY"), None).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value at 'value_render_option'")
    );
    // Formulas follow the cells they name.
    sim.type_cell(&id, "A1", "1").unwrap();
    let r = call(
        &sim,
        &t,
        "GET",
        &q("valueRenderOption=UNFORMATTED_VALUE"),
        None,
    )
    .await;
    assert_eq!(r.body["values"][0][2], 2);
}

#[tokio::test]
async fn update_raw_and_user_entered() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let path = |r: &str, o: &str| format!("/v4/spreadsheets/{id}/values/{r}?valueInputOption={o}");
    let r = call(&sim, &t, "PUT", &path("Products!C2:D3", "USER_ENTERED"),
        Some(json!({"range": "Products!C2:D3", "majorDimension": "ROWS", "values": [["9.99", "1,200"], [null, "'42"]]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"spreadsheetId": id, "updatedRange": "Products!C2:D3", "updatedRows": 2, "updatedColumns": 2, "updatedCells": 3})
    );
    assert_eq!(
        sim.values(&id, "Products!C2:D3").unwrap(),
        vec![vec!["9.99", "1,200"], vec!["19", "42"]]
    );
    let r = call(
        &sim,
        &t,
        "PUT",
        &path("Products!C2", "RAW"),
        Some(json!({"values": [["=1+1", true, 3.5]]})),
    )
    .await;
    assert_eq!(r.status, 400, "past the range: {}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Requested writing within range [Products!C2], but tried writing to column [D]"
    );
    let r = call(
        &sim,
        &t,
        "PUT",
        &format!(
            "{}&includeValuesInResponse=true&responseValueRenderOption=UNFORMATTED_VALUE",
            path("Products!C2:E2", "RAW")
        ),
        Some(json!({"values": [["=1+1", true, 3.5]]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["updatedData"],
        json!({"range": "Products!C2:E2", "majorDimension": "ROWS", "values": [["=1+1", true, 3.5]]})
    );
    // Column-major input.
    let r = call(
        &sim,
        &t,
        "PUT",
        &path("Products!F1:F3", "USER_ENTERED"),
        Some(json!({"majorDimension": "COLUMNS", "values": [["Note", "a", "b"]]})),
    )
    .await;
    assert_eq!(r.body["updatedRange"], "Products!F1:F3");
    assert_eq!(
        sim.values(&id, "Products!F1:F3").unwrap(),
        vec![vec!["Note"], vec!["a"], vec!["b"]]
    );
    // The input option is required; a mismatched body range is refused; nothing is written.
    let r = call(
        &sim,
        &t,
        "PUT",
        &format!("/v4/spreadsheets/{id}/values/A1"),
        Some(json!({"values": [["x"]]})),
    )
    .await;
    assert_eq!(
        r.body["error"]["message"],
        "'valueInputOption' is required but not specified"
    );
    let r = call(
        &sim,
        &t,
        "PUT",
        &path("A1", "RAW"),
        Some(json!({"range": "B1", "values": [["x"]]})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(sim.values(&id, "A1").unwrap(), vec![vec!["SKU"]]);
    let r = call(
        &sim,
        &t,
        "PUT",
        &path("A1", "RAW"),
        Some(json!({"values": [[["nested"]]]})),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn batch_update_is_all_or_nothing() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let url = format!("/v4/spreadsheets/{id}/values:batchUpdate");
    let r = call(
        &sim,
        &t,
        "POST",
        &url,
        Some(json!({"valueInputOption": "USER_ENTERED", "data": [
        {"range": "Products!C2", "values": [["10"]]},
        {"range": "Nope!A1", "values": [["x"]]}]})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["message"],
        "Invalid data[1]: Unable to parse range: Nope!A1"
    );
    assert_eq!(sim.values(&id, "Products!C2").unwrap(), vec![vec!["8.5"]]);
    let r = call(
        &sim,
        &t,
        "POST",
        &url,
        Some(json!({"valueInputOption": "USER_ENTERED", "data": [
        {"range": "Products!C2", "values": [["10"]]},
        {"range": "Products!D3:E3", "values": [["7", "FALSE"]]},
        {"range": "Notes!A1", "values": [["hello"]]}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalUpdatedCells"], 4);
    assert_eq!(r.body["totalUpdatedRows"], 3);
    assert_eq!(r.body["totalUpdatedColumns"], 4);
    assert_eq!(r.body["totalUpdatedSheets"], 2);
    assert_eq!(r.body["responses"][1]["updatedRange"], "Products!D3:E3");
    assert_eq!(
        sim.values(&id, "Products!C2:E3").unwrap(),
        vec![vec!["10", "25", "TRUE"], vec!["19", "7", "FALSE"]]
    );
    // batchGet reads several ranges in one request.
    let r = call(&sim, &t, "GET", &format!("/v4/spreadsheets/{id}/values:batchGet?ranges=Products!A1:A2&ranges=Notes!A1&valueRenderOption=UNFORMATTED_VALUE"), None).await;
    assert_eq!(
        r.body["valueRanges"],
        json!([
        {"range": "Products!A1:A2", "majorDimension": "ROWS", "values": [["SKU"], ["MUG-1"]]},
        {"range": "Notes!A1", "majorDimension": "ROWS", "values": [["hello"]]}])
    );
}

#[tokio::test]
async fn append_finds_the_table() {
    let sim = SheetsSim::with_defaults();
    let id = sim.create_spreadsheet("A", &[("S", 5, 4)]);
    sim.type_values(&id, "B2", &[vec!["h1", "h2"], vec!["a", "b"]])
        .unwrap();
    let t = token(&sim).await;
    let url = |o: &str| {
        format!("/v4/spreadsheets/{id}/values/S!A1:D:append?valueInputOption=USER_ENTERED{o}")
    };
    let r = call(
        &sim,
        &t,
        "POST",
        &url(""),
        Some(json!({"values": [["c", "4"]]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tableRange"], "S!B2:C3");
    assert_eq!(r.body["updates"]["updatedRange"], "S!B4:C4");
    assert_eq!(r.body["updates"]["updatedCells"], 2);
    // Two more rows run past the 5-row grid: it grows.
    let r = call(
        &sim,
        &t,
        "POST",
        &url("&insertDataOption=OVERWRITE"),
        Some(json!({"values": [["d"], ["e"]]})),
    )
    .await;
    assert_eq!(r.body["updates"]["updatedRange"], "S!B5:B6");
    assert_eq!(
        sim.spreadsheet(&id).unwrap()["sheets"][0]["properties"]["gridProperties"]["rowCount"],
        6
    );
    // INSERT_ROWS shifts what is below.
    sim.type_cell(&id, "S!A7", "below").unwrap();
    let r = call(&sim, &t, "POST", &format!("/v4/spreadsheets/{id}/values/S!B2:C2:append?valueInputOption=RAW&insertDataOption=INSERT_ROWS"), Some(json!({"values": [["f"]]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["updates"]["updatedRange"], "S!B7");
    assert_eq!(
        sim.values(&id, "S!A7:B8").unwrap(),
        vec![vec!["", "f"], vec!["below"]]
    );
    // No table: the range's first cell.
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}/values/S!D1:D2:append?valueInputOption=RAW"),
        Some(json!({"values": [["z"]]})),
    )
    .await;
    assert!(r.body.get("tableRange").is_none());
    assert_eq!(r.body["updates"]["updatedRange"], "S!D1");
    // A one-cell range finds the whole table to its right.
    let id = sim.create_spreadsheet("B", &[("T", 10, 5)]);
    sim.type_values(
        &id,
        "A1",
        &[vec!["SKU", "Title", "Price"], vec!["A", "a", "1"]],
    )
    .unwrap();
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}/values/T!A1:append?valueInputOption=RAW"),
        Some(json!({"values": [["B", "b", 2]]})),
    )
    .await;
    assert_eq!(r.body["tableRange"], "T!A1:C2");
    assert_eq!(r.body["updates"]["updatedRange"], "T!A3:C3");
}

#[tokio::test]
async fn clear_and_structural_requests() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}/values/Products!E2:E4:clear"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.body["clearedRange"], "Products!E2:E4");
    assert_eq!(
        sim.values(&id, "Products!E1:E4").unwrap(),
        vec![vec!["Active"]]
    );
    let r = call(&sim, &t, "POST", &format!("/v4/spreadsheets/{id}:batchUpdate"), Some(json!({"requests": [
        {"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}}},
        {"addSheet": {"properties": {"title": "Log"}}},
        {"updateSheetProperties": {"properties": {"sheetId": 0, "title": "Items"}, "fields": "title"}}]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["replies"][1]["addSheet"]["properties"]["title"],
        "Log"
    );
    assert_eq!(
        sim.values(&id, "Items!A2:A3").unwrap(),
        vec![vec![], vec!["MUG-1"]]
    );
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}:batchUpdate"),
        Some(json!({"requests": [{"repeatCell": {}}]})),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn option_values_are_checked_and_batch_clear() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}/values/A1?majorDimension=DIAGONAL"),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["message"],
        "Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"DIAGONAL\""
    );
    let r = call(
        &sim,
        &t,
        "POST",
        &format!(
            "/v4/spreadsheets/{id}/values/A1:append?valueInputOption=RAW&insertDataOption=SIDEWAYS"
        ),
        Some(json!({"values": [["x"]]})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &sim,
        &t,
        "PUT",
        &format!("/v4/spreadsheets/{id}/values/A1?valueInputOption=TYPED"),
        Some(json!({"values": [["x"]]})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &sim,
        &t,
        "PUT",
        &format!("/v4/spreadsheets/{id}/values/A1?valueInputOption=RAW"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "an empty body writes nothing: {}", r.body);
    let r = raw(
        &sim,
        "PUT",
        &format!("/v4/spreadsheets/{id}/values/A1?valueInputOption=RAW"),
        Some("{".into()),
        "application/json",
        Some(&t),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON payload received.")
    );
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}/values:batchClear"),
        Some(json!({"ranges": ["Products!B2:B3", "Products!E:E"]})),
    )
    .await;
    assert_eq!(
        r.body["clearedRanges"],
        json!(["Products!B2:B3", "Products!E1:E100"])
    );
    assert_eq!(
        sim.values(&id, "Products!A1:E3").unwrap(),
        vec![
            vec!["SKU", "Title", "Price", "Stock"],
            vec!["MUG-1", "", "8.5", "25"],
            vec!["TEE-M", "", "19", "10"]
        ]
    );
    let r = call(
        &sim,
        &t,
        "POST",
        &format!("/v4/spreadsheets/{id}/values:batchClear"),
        Some(json!({"ranges": ["Products!A1", "Nope!A1"]})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        sim.values(&id, "Products!A1").unwrap(),
        vec![vec!["SKU"]],
        "all or nothing"
    );
    let r = call(&sim, &t, "DELETE", &format!("/v4/spreadsheets/{id}"), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn partial_responses() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}?fields=sheets.properties(sheetId%2Ctitle)"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["sheets"][0],
        json!({"properties": {"sheetId": 0, "title": "Products"}})
    );
    assert!(r.body.get("spreadsheetId").is_none());
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}/values/A1:B1?fields=values"),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"values": [["SKU", "Title"]]}));
    let r = call(
        &sim,
        &t,
        "GET",
        &format!("/v4/spreadsheets/{id}?fields=sheets("),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
}
