//! NetSuite connector: SuiteTalk REST record API and SuiteQL, signed with OAuth 1.0a TBA.
//!
//! Every request holds a permit of the account's [`crate::gate::ConcurrencyGate`] while in
//! flight. Errors are parsed from `o:errorDetails`: 429, `SSS_REQUEST_LIMIT_EXCEEDED` and the
//! other concurrency-limit codes, 5xx and timeouts are retryable (honouring `Retry-After`);
//! other 4xx are permanent and keep NetSuite's message.

pub mod cdc;
mod client;
pub mod oauth;

use std::time::Duration;

use serde_json::{Value, json};

pub use cdc::{CdcCursor, CdcError, CdcPage, CdcRow, CdcSource, Fetch, PageQuery, Watermark};
pub use client::{
    NetSuiteClient, NetSuiteConfig, RecordRef, SuiteQlPage, check_external_id, sanitize_external_id,
};
pub use oauth::Credentials;

use crate::ConnectorError;

/// Every change of one CDC sweep, and the watermark to commit once they are journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct CdcBatch {
    /// Changed rows in `(lastModifiedDate, id)` order.
    pub rows: Vec<CdcRow>,
    /// The watermark covering every row (the starting one when nothing changed).
    pub watermark: Option<Watermark>,
}

fn cdc_err(e: CdcError) -> ConnectorError {
    ConnectorError::Transport {
        system: "netsuite",
        message: e.to_string(),
        retryable: false,
    }
}

impl NetSuiteClient {
    /// Fetches the next page of a CDC sweep; `None` when the sweep is complete. Journal the
    /// page's rows, then commit its watermark.
    pub async fn cdc_page(
        &self,
        cursor: &mut CdcCursor,
    ) -> Result<Option<CdcPage>, ConnectorError> {
        loop {
            match cursor.next_fetch() {
                None => return Ok(None),
                Some(Fetch::Head) => {
                    let head = self.suiteql(&cursor.head_suiteql(), 1, 0).await?;
                    cursor.absorb_head(head.items).map_err(cdc_err)?;
                }
                Some(Fetch::Page(q)) => {
                    let sql = q.to_suiteql(cursor.source());
                    let page = self.suiteql(&sql, q.limit, 0).await?;
                    return cursor
                        .absorb(page.items, page.has_more)
                        .map(Some)
                        .map_err(cdc_err);
                }
            }
        }
    }

    /// Runs a whole CDC sweep of `source` from `watermark` (minus `overlap`). For large
    /// backlogs prefer [`Self::cdc_page`] and commit the watermark page by page.
    pub async fn changes_since(
        &self,
        source: CdcSource,
        watermark: Option<Watermark>,
        overlap: Duration,
        page_size: u32,
    ) -> Result<CdcBatch, ConnectorError> {
        let mut cursor = CdcCursor::new(source, watermark, overlap, page_size);
        let mut rows = Vec::new();
        while let Some(page) = self.cdc_page(&mut cursor).await? {
            rows.extend(page.rows);
        }
        Ok(CdcBatch {
            rows,
            watermark: cursor.watermark().cloned(),
        })
    }
}

/// Derives the `inventory-level` documents of an inventoryItem record (read with
/// `expandSubResources=true`) from its `locations` sublist:
/// `{item_id, sku, location_id, quantity_on_hand, last_modified_date}`, one per location.
pub fn inventory_level_docs(item: &Value) -> Vec<Value> {
    let item_id = item.get("id").and_then(client::id_text);
    let sku = item.get("itemId").cloned().unwrap_or(Value::Null);
    let lmd = item.get("lastModifiedDate").cloned().unwrap_or(Value::Null);
    let lines = item
        .pointer("/locations/items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    lines
        .iter()
        .filter_map(|l| {
            let loc = l
                .get("location")
                .and_then(|x| x.get("id").or(Some(x)))
                .and_then(client::id_text)?;
            let qty = l.get("quantityOnHand").cloned().unwrap_or(json!(0));
            Some(json!({
                "item_id": item_id,
                "sku": sku,
                "location_id": loc,
                "quantity_on_hand": qty,
                "last_modified_date": lmd,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_levels_come_from_the_locations_sublist() {
        let item = json!({
            "id": "1001", "itemId": "WS-M", "lastModifiedDate": "2024-03-01T15:15:30Z",
            "locations": {"items": [
                {"location": {"id": "1", "refName": "Main"}, "quantityOnHand": 7, "quantityAvailable": 5},
                {"location": {"id": "2"}, "quantityOnHand": 0}
            ]}
        });
        let docs = inventory_level_docs(&item);
        assert_eq!(
            docs,
            vec![
                json!({"item_id": "1001", "sku": "WS-M", "location_id": "1", "quantity_on_hand": 7,
                       "last_modified_date": "2024-03-01T15:15:30Z"}),
                json!({"item_id": "1001", "sku": "WS-M", "location_id": "2", "quantity_on_hand": 0,
                       "last_modified_date": "2024-03-01T15:15:30Z"}),
            ]
        );
        assert!(inventory_level_docs(&json!({"id": "1"})).is_empty());
    }
}
