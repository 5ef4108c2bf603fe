//! NetSuite: everything weft knows about NetSuite, behind the platform interface
//! ([`weft_platform`]).
//!
//! - [`NetSuiteClient`]: SuiteTalk REST record API and SuiteQL, signed with OAuth 1.0a TBA
//!   ([`oauth`]). Every request holds a permit of the account's concurrency governor while in
//!   flight. Errors are parsed from `o:errorDetails`: 429, `SSS_REQUEST_LIMIT_EXCEEDED` and the
//!   other concurrency-limit codes, 5xx and timeouts are retryable (honouring `Retry-After`);
//!   other 4xx are permanent and keep NetSuite's message.
//! - [`cdc`] and [`poll`]: change capture by `lastModifiedDate` watermark with an id tie-break.
//! - [`push`]: the notifications of weft's user event script (`suitescript/weft_push.js`):
//!   verified, journaled as hints, fetched once per burst; change capture stays the safety net.
//! - [`write`]: write execution (upserts by external id; stock through adjustments).
//! - [`NetSuite`] and [`NetSuiteConnection`]: the platform interface.
//! - The simulator is the `weft-sim-netsuite` crate in `sim/` beside this one.

pub mod cdc;
mod client;
pub mod config;
pub mod oauth;
pub mod poll;
pub mod push;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use weft_platform::{
    Connection, EntityKind, Idempotency, Platform, Poller, Prepared, Role, SourceCtx, StockFields,
    WriteCommand, WriteOp, WriteOutcome,
};

pub use cdc::{CdcCursor, CdcError, CdcPage, CdcRow, CdcSource, Fetch, PageQuery, Watermark};
pub use client::{
    NetSuiteClient, NetSuiteConfig, RecordRef, SuiteQlPage, check_external_id, sanitize_external_id,
};
pub use oauth::Credentials;
pub use poll::{NetSuiteCdc, Reader};
pub use push::{NsPush, PushPace, PushSettings};
pub(crate) use weft_platform::{ConnectorError, error, gate};

/// The platform's name.
pub const PLATFORM: &str = "netsuite";

/// The NetSuite platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetSuite;

impl Platform for NetSuite {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::Erp
    }

    /// A person's data in NetSuite records (customer, salesOrder, itemFulfillment) and in the
    /// customer and sales order write bodies.
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "customer" => &[
                "firstName",
                "middleName",
                "lastName",
                "salutation",
                "email",
                "altEmail",
                "phone",
                "altPhone",
                "mobilePhone",
                "homePhone",
                "fax",
                "companyName",
                "addressBook",
                "defaultAddress",
                "comments",
            ],
            "order" => &[
                "email",
                "billingAddress",
                "shippingAddress",
                "billAddress",
                "shipAddress",
                "custbody_shopify_note",
            ],
            "fulfillment" => &["shippingAddress", "shipAddress"],
            _ => &[],
        }
    }

    /// Prices are fields of the item record (journal kind `variant`).
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        match canonical {
            EntityKind::Price => EntityKind::Variant,
            k => k,
        }
    }

    fn stock_fields(&self) -> StockFields {
        StockFields {
            quantity: "quantity_sellable",
            version: "last_modified_date",
        }
    }

    /// NetSuite stock moves only by adjustment (of on hand, which moves what the level can
    /// sell one for one). A delta computed when the write is planned
    /// would be applied twice if a second change were planned before the first landed, so a
    /// mapper's adjustment of a level becomes a set of the golden quantity, and the connector
    /// computes the delta when the write executes (read, compare, adjust under an external id
    /// derived from the idempotency key). Such a write, once sent, may have applied: it is
    /// sent again and finds its adjustment by key, never replaced.
    fn prepare_write(&self, mut command: WriteCommand, desired: &Map<String, Value>) -> Prepared {
        if command.kind != EntityKind::InventoryLevel || command.op != WriteOp::AdjustQuantity {
            return Prepared {
                command,
                idempotency: Idempotency::Keyed,
            };
        }
        let (item, location) = split_level_id(command.target_id.as_deref())
            .or_else(|| adjustment_ids(&command.body))
            .unwrap_or_default();
        let quantity = desired.get("quantity").and_then(Value::as_i64);
        let (false, Some(quantity)) = (item.is_empty(), quantity) else {
            return Prepared {
                command,
                idempotency: Idempotency::Keyed,
            };
        };
        let mut extra = command.body.take();
        if let Some(o) = extra.as_object_mut() {
            o.remove("inventory");
            o.remove("adjLocation");
        }
        command.body = json!({
            "item_id": item,
            "location_id": location,
            "quantity_sellable": quantity,
            "adjustment": extra,
        });
        command.op = WriteOp::SetQuantity;
        command.target_id = Some(item);
        Prepared {
            command,
            idempotency: Idempotency::SentMayHaveApplied,
        }
    }
}

/// The NetSuite platform of one system that receives pushes from weft's user event script:
/// NetSuite in every respect, with a webhook intake that hands hints to its bus.
#[derive(Debug, Clone)]
pub struct NetSuiteWithPush {
    bus: Arc<weft_platform::hints::HintBus>,
}

impl NetSuiteWithPush {
    /// The platform of a system whose intake wakes the fetcher of `bus`.
    pub fn new(bus: Arc<weft_platform::hints::HintBus>) -> Self {
        NetSuiteWithPush { bus }
    }
}

impl Platform for NetSuiteWithPush {
    fn name(&self) -> &'static str {
        NetSuite.name()
    }
    fn role(&self) -> Role {
        NetSuite.role()
    }
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        NetSuite.document_kind(canonical)
    }
    fn stock_fields(&self) -> StockFields {
        NetSuite.stock_fields()
    }
    fn prepare_write(&self, command: WriteCommand, desired: &Map<String, Value>) -> Prepared {
        NetSuite.prepare_write(command, desired)
    }
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        NetSuite.personal_fields(kind)
    }
    fn webhooks(&self) -> Option<Arc<dyn weft_platform::WebhookIntake>> {
        Some(Arc::new(NsPush::new(Some(self.bus.clone()))))
    }
    fn hint_bus(&self) -> Option<Arc<weft_platform::hints::HintBus>> {
        Some(self.bus.clone())
    }
}

fn split_level_id(id: Option<&str>) -> Option<(String, String)> {
    let (item, location) = id?.split_once('@')?;
    Some((item.to_owned(), location.to_owned()))
}

/// The item and location of an `inventoryAdjustment` body's first line.
fn adjustment_ids(body: &Value) -> Option<(String, String)> {
    let line = body.pointer("/inventory/items/0")?;
    let item = line.pointer("/item/id")?.as_str()?.to_owned();
    let location = line
        .pointer("/location/id")
        .or_else(|| body.pointer("/adjLocation/id"))?
        .as_str()?
        .to_owned();
    Some((item, location))
}

/// One store's connection to one NetSuite account.
#[derive(Debug, Clone)]
pub struct NetSuiteConnection {
    client: Arc<NetSuiteClient>,
    push: Option<PushSettings>,
}

impl NetSuiteConnection {
    /// A connection through `client`.
    pub fn new(client: Arc<NetSuiteClient>) -> Self {
        NetSuiteConnection { client, push: None }
    }

    /// The same, receiving pushes from weft's user event script as `push` says: a fetcher
    /// of their hints joins its change sources, and change capture may relax while they
    /// arrive.
    pub fn with_push(mut self, push: PushSettings) -> Self {
        self.push = Some(push);
        self
    }

    /// The client.
    pub fn client(&self) -> &Arc<NetSuiteClient> {
        &self.client
    }
}

impl Connection for NetSuiteConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        match &self.push {
            Some(p) => Arc::new(NetSuiteWithPush::new(p.bus.clone())),
            None => Arc::new(NetSuite),
        }
    }

    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(write::execute(&self.client, command))
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    fn reread<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<weft_platform::EntityRead>, ConnectorError>>> {
        let record_type = match kind {
            "variant" | "inventory-level" => "inventoryItem",
            "customer" => "customer",
            _ => return None,
        };
        let (record_id, location) = match kind {
            "inventory-level" => {
                let (item, location) = id.split_once('@')?;
                (item, Some(location))
            }
            _ => (id, None),
        };
        Some(Box::pin(async move {
            let Some(record) = self
                .client
                .get_record(record_type, &RecordRef::Id(record_id.to_owned()))
                .await?
            else {
                return Ok(None);
            };
            let modified = record
                .get("lastModifiedDate")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let Some(location) = location else {
                return Ok(modified.map(|version| weft_platform::EntityRead {
                    version,
                    body: record,
                }));
            };
            // A level is versioned by the newest transaction that moved it, which the item
            // does not show; a read now is no older than the level delivered, so it carries
            // the later of the item's date and the delivered level's (as change capture
            // stamps a level with the later of the two).
            let dates = [
                modified.as_deref(),
                delivered.get("last_modified_date").and_then(Value::as_str),
            ];
            let Some(version) = dates
                .into_iter()
                .flatten()
                .filter_map(cdc::parse_netsuite_date)
                .max()
            else {
                return Ok(None);
            };
            let version = version.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Ok(inventory_level_docs(&record)
                .into_iter()
                .find(|l| l["location_id"].as_str() == Some(location))
                .map(|mut level| {
                    level["last_modified_date"] = Value::String(version.clone());
                    weft_platform::EntityRead {
                        version,
                        body: level,
                    }
                }))
        }))
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        let cdc = NetSuiteCdc::new(
            ctx.store_id.clone(),
            ctx.system.clone(),
            ctx.db.clone(),
            self.client.clone(),
            ctx.overlap,
        );
        let Some(push) = &self.push else {
            return vec![Arc::new(cdc)];
        };
        let fetcher = push.fetcher(cdc.reader().clone());
        fetcher.start();
        let cdc = cdc.with_pace(PushPace::new(push.bus.clone(), push.relaxed_poll));
        let sources: Vec<Arc<dyn Poller>> = vec![Arc::new(cdc), fetcher];
        sources
    }
}

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
/// `{item_id, sku, location_id, quantity_on_hand, quantity_committed, quantity_available,
/// quantity_on_order, quantity_backordered, quantity_sellable, last_modified_date}`, one per
/// location. `quantity_sellable` (available less back ordered: what the level can still
/// promise) is the level's stock quantity for the engine. The item's
/// `lastModifiedDate` is the version here; the change capture of stock transactions replaces it
/// with the newest transaction's (see [`poll`]).
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
            let q = |k: &str| l.get(k).cloned().unwrap_or(json!(0));
            let n = |k: &str| l.get(k).and_then(Value::as_f64).map(|x| x.round() as i64);
            let on_hand = q("quantityOnHand");
            let available = n("quantityAvailable").unwrap_or_else(|| {
                n("quantityOnHand").unwrap_or(0) - n("quantityCommitted").unwrap_or(0)
            });
            Some(json!({
                "item_id": item_id,
                "sku": sku,
                "location_id": loc,
                "quantity_on_hand": on_hand,
                "quantity_committed": q("quantityCommitted"),
                "quantity_available": available,
                "quantity_on_order": q("quantityOnOrder"),
                "quantity_backordered": q("quantityBackOrdered"),
                "quantity_sellable": available - n("quantityBackOrdered").unwrap_or(0),
                "last_modified_date": lmd,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With pushes on, a system is NetSuite in every respect but its intake: a privacy
    /// redaction finds the same personal fields (it once found none), and the host can reach
    /// its hint bus.
    #[test]
    fn netsuite_with_push_answers_as_netsuite() {
        let bus = weft_platform::hints::HintBus::new();
        let pushed = NetSuiteWithPush::new(bus.clone());
        for kind in [
            "customer",
            "order",
            "fulfillment",
            "variant",
            "inventory-level",
        ] {
            assert_eq!(
                pushed.personal_fields(kind),
                NetSuite.personal_fields(kind),
                "{kind}"
            );
        }
        assert!(!pushed.personal_fields("customer").is_empty());
        assert_eq!(pushed.name(), NetSuite.name());
        assert_eq!(pushed.role(), NetSuite.role());
        assert!(pushed.hint_bus().is_some_and(|b| Arc::ptr_eq(&b, &bus)));
        assert!(NetSuite.hint_bus().is_none());
    }

    #[test]
    fn inventory_levels_come_from_the_locations_sublist() {
        let item = json!({
            "id": "1001", "itemId": "WS-M", "lastModifiedDate": "2024-03-01T15:15:30Z",
            "locations": {"items": [
                {"location": {"id": "1", "refName": "Main"}, "quantityOnHand": 7,
                 "quantityCommitted": 2, "quantityAvailable": 5, "quantityOnOrder": 0,
                 "quantityBackOrdered": 1},
                {"location": {"id": "2"}, "quantityOnHand": 0}
            ]}
        });
        let docs = inventory_level_docs(&item);
        assert_eq!(
            docs,
            vec![
                json!({"item_id": "1001", "sku": "WS-M", "location_id": "1", "quantity_on_hand": 7,
                       "quantity_committed": 2, "quantity_available": 5, "quantity_on_order": 0,
                       "quantity_backordered": 1, "quantity_sellable": 4,
                       "last_modified_date": "2024-03-01T15:15:30Z"}),
                json!({"item_id": "1001", "sku": "WS-M", "location_id": "2", "quantity_on_hand": 0,
                       "quantity_committed": 0, "quantity_available": 0, "quantity_on_order": 0,
                       "quantity_backordered": 0, "quantity_sellable": 0,
                       "last_modified_date": "2024-03-01T15:15:30Z"}),
            ]
        );
        assert!(inventory_level_docs(&json!({"id": "1"})).is_empty());
    }
}
