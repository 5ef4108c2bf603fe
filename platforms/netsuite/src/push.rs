//! NetSuite pushes: the notifications weft's user event script
//! (`platforms/netsuite/suitescript/weft_push.js`) posts after a record weft syncs is saved.
//!
//! They are **hints**, treated as storefront webhooks are: a fast path that may drop,
//! duplicate or reorder, never the truth.
//!
//! - **The notification** is a small JSON body, `{"account", "recordType", "id", "event",
//!   "lastModifiedDate", "deliveryId"}` (record types as SuiteScript names them:
//!   `inventoryitem`, `customer`, `salesorder`, `itemfulfillment`, `inventoryadjustment`,
//!   `creditmemo`;
//!   events `create`, `edit`, `xedit`, `delete`), signed in [`SIGNATURE_HEADER`] with the
//!   base64 HMAC-SHA256 of the raw body under the push secret
//!   ([`weft_platform::signature`]). Every accepted secret is tried in constant time, so a
//!   secret is rotated by accepting the new one beside the old one, changing the script's
//!   API secret, then removing the old one.
//! - **Intake** checks the signature and the account (the body's `account` must be the
//!   system's: one script could be deployed in a sandbox and production with one secret),
//!   journals the notification as a hint (kind [`HINT_KIND`], entity `<recordType>:<id>`,
//!   delivery id the script's `deliveryId`, so a duplicate dedupes) and wakes the system's
//!   [`HintFetcher`] through its [`HintBus`].
//! - **The fetcher** ([`NsHints`]) reads what a burst of hints names, each record once, through
//!   the same [`Reader`] as change capture (so the journal dedupes what both read), under the
//!   account's concurrency governor like every request: items with their stock levels,
//!   customers, sales orders and fulfilments, and the stock levels of the items an order, a
//!   fulfilment, an inventory adjustment or a credit memo (a refund's returned units) moved. A deleted record fetches nothing.
//! - **Deletions**: an item or customer deleted (event `delete`) is journaled at once as a
//!   tombstone of it ([`weft_platform::webhook::tombstone`], kind `variant` or `customer`, at
//!   the deletion's time), not as a hint. Change capture by `lastModifiedDate` cannot see a
//!   deletion; its read of SuiteQL's `deletedrecord` journals the same tombstone, so one whose
//!   notification is lost is captured by the next round.
//! - **Polling adapts** ([`PushPace`]): while pushes arrive and change capture finds nothing
//!   they missed, it may poll at a relaxed interval (`push_poll_interval_secs`); it goes back
//!   to the normal interval as soon as pushes stop for that long or a round finds a change
//!   the pushes did not deliver (a gap), counted as `recovered_push`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::BoxFuture;
use http::HeaderMap;
use serde_json::Value;
use weft_platform::hints::{HintBus, HintFetcher, HintSource};
use weft_platform::webhook::{HINT_KIND, clip, header_str};
use weft_platform::{SourceError, WebhookDelivery, WebhookIntake, WebhookSecret};
use weft_store::{NewJournalEntry, Source};

use crate::RecordRef;
use crate::poll::Reader;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-weft-signature";
/// The header naming the delivery (for logs; the signed body's `deliveryId` is the one kept).
pub const DELIVERY_HEADER: &str = "x-weft-delivery";
/// The header naming `<recordType>/<event>` (for logs).
pub const TOPIC_HEADER: &str = "x-weft-topic";

/// What the script posts for, as SuiteScript names the record types, with the REST record
/// type and journal kind weft reads them as (`None`: read only for the stock it moved).
pub const RECORD_TYPES: [(&str, &str, Option<&str>); 6] = [
    ("inventoryitem", "inventoryItem", Some("variant")),
    ("customer", "customer", Some("customer")),
    ("salesorder", "salesOrder", Some("order")),
    ("itemfulfillment", "itemFulfillment", Some("fulfillment")),
    ("inventoryadjustment", "inventoryAdjustment", None),
    ("creditmemo", "creditMemo", None),
];

/// The user events the script posts for.
pub const EVENTS: [&str; 4] = ["create", "edit", "xedit", "delete"];

/// The transaction record types whose lines move stock.
const STOCK_MOVING: [&str; 3] = ["salesOrder", "itemFulfillment", "inventoryAdjustment"];

/// NetSuite's push intake for one system.
#[derive(Debug, Clone, Default)]
pub struct NsPush {
    bus: Option<Arc<HintBus>>,
}

impl NsPush {
    /// An intake waking the fetcher of `bus`.
    pub fn new(bus: Option<Arc<HintBus>>) -> Self {
        NsPush { bus }
    }
}

/// The account id as accounts compare: upper case, `-` as `_` (`1234567-sb1` is
/// `1234567_SB1`).
fn account_key(a: &str) -> String {
    a.trim().to_ascii_uppercase().replace('-', "_")
}

impl WebhookIntake for NsPush {
    fn secret_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn describe(&self, headers: &HeaderMap) -> (String, String) {
        (
            header_str(headers, TOPIC_HEADER)
                .unwrap_or_default()
                .to_owned(),
            header_str(headers, DELIVERY_HEADER)
                .unwrap_or_default()
                .to_owned(),
        )
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], secrets: &[WebhookSecret]) -> bool {
        header_str(headers, SIGNATURE_HEADER)
            .is_some_and(|sig| weft_platform::signature::verify(secrets, body, sig))
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw: &[u8],
        account: Option<&str>,
    ) -> Result<WebhookDelivery, String> {
        let v: Value =
            serde_json::from_slice(raw).map_err(|e| format!("body is not valid JSON: {e}"))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim);
        let record_type = text("recordType")
            .ok_or("no `recordType`: not a weft push notification")?
            .to_ascii_lowercase();
        if !RECORD_TYPES.iter().any(|(t, _, _)| *t == record_type) {
            return Err(format!(
                "record type `{}` is not one weft syncs (deploy the script on {})",
                clip(&record_type),
                RECORD_TYPES.map(|t| t.0).join(", ")
            ));
        }
        let id = match v.get("id") {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("no `id`: not a weft push notification".into()),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 20 {
            return Err(format!("`id` {} is not a NetSuite internal id", clip(&id)));
        }
        let event = text("event").ok_or("no `event`")?;
        if !EVENTS.contains(&event) {
            return Err(format!(
                "event `{}` is not one the script posts ({})",
                clip(event),
                EVENTS.join(", ")
            ));
        }
        let delivery = text("deliveryId")
            .filter(|d| !d.is_empty())
            .ok_or("no `deliveryId`")?;
        if delivery.len() > 128 {
            return Err("`deliveryId` is longer than 128 bytes".into());
        }
        let modified = text("lastModifiedDate").ok_or("no `lastModifiedDate`")?;
        let modified = crate::cdc::parse_netsuite_date(modified).ok_or_else(|| {
            format!(
                "`lastModifiedDate` {} is not an ISO 8601 time",
                clip(modified)
            )
        })?;
        if let Some(ours) = account {
            let theirs = text("account").unwrap_or_default();
            if account_key(theirs) != account_key(ours) {
                return Err(format!(
                    "notification from account `{}`, not this system's `{ours}`",
                    clip(theirs)
                ));
            }
        }
        let deleted_kind = RECORD_TYPES
            .iter()
            .find(|(t, _, _)| *t == record_type)
            .and_then(|(_, _, kind)| *kind)
            .filter(|k| matches!(*k, "variant" | "customer"));
        if event == "delete"
            && let Some(kind) = deleted_kind
        {
            // Nothing to fetch: the record is gone. A tombstone of what weft reads it as, at
            // the deletion's time (the script's `lastModifiedDate`).
            return Ok(WebhookDelivery {
                kind: kind.to_owned(),
                body: weft_platform::webhook::tombstone(&id),
                entity_id: id,
                version: weft_platform::version::format_ts(modified),
                delivery_id: Some(delivery.to_owned()),
            });
        }
        if let Some(bus) = &self.bus {
            bus.push();
        }
        Ok(WebhookDelivery {
            kind: HINT_KIND.into(),
            entity_id: format!("{record_type}:{id}"),
            version: weft_platform::version::format_ts(modified),
            delivery_id: Some(delivery.to_owned()),
            body: v,
        })
    }
}

/// Reads what NetSuite hints name.
pub struct NsHints {
    reader: Reader,
}

impl NsHints {
    /// A hint source reading through `reader`.
    pub fn new(reader: Reader) -> Self {
        NsHints { reader }
    }

    async fn read(&self, hints: &[String]) -> Result<Vec<NewJournalEntry>, SourceError> {
        let mut ids: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        let now = Utc::now().to_rfc3339();
        for h in hints {
            let Some((t, id)) = h.split_once(':') else {
                continue;
            };
            let Some((_, rest, _)) = RECORD_TYPES.iter().find(|(st, _, _)| *st == t) else {
                continue;
            };
            ids.entry(*rest)
                .or_default()
                .push((id.to_owned(), now.clone()));
        }
        let mut entries = Vec::new();
        let mut moved: BTreeMap<String, chrono::DateTime<Utc>> = BTreeMap::new();
        for (_, rest, kind) in RECORD_TYPES {
            let Some(rows) = ids.get(rest) else { continue };
            match kind {
                Some(kind) => {
                    let (read, _) = self
                        .reader
                        .record_entries(rest, kind, rows, Source::Webhook)
                        .await?;
                    if STOCK_MOVING.contains(&rest) {
                        for e in read.iter().filter(|e| e.kind == kind) {
                            if let Some(at) = crate::cdc::parse_netsuite_date(&e.version) {
                                moved.insert(e.entity_id.clone(), at);
                            }
                        }
                    }
                    entries.extend(read);
                }
                None => {
                    // Read only for when it moved stock (its date).
                    for (id, _) in rows {
                        let rec = self
                            .reader
                            .client
                            .get_record(rest, &RecordRef::Id(id.clone()))
                            .await?;
                        if let Some(at) = rec
                            .as_ref()
                            .and_then(|r| r.get("lastModifiedDate"))
                            .and_then(Value::as_str)
                            .and_then(crate::cdc::parse_netsuite_date)
                        {
                            moved.insert(id.clone(), at);
                        }
                    }
                }
            }
        }
        if !moved.is_empty() {
            let (stock, _) = self.reader.stock_entries(&moved, Source::Webhook).await?;
            entries.extend(stock);
        }
        Ok(entries)
    }
}

impl HintSource for NsHints {
    fn fetch<'a>(
        &'a self,
        hints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NewJournalEntry>, SourceError>> {
        Box::pin(self.read(hints))
    }
}

/// What a system's pushes are set to.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// The bus its intake and its fetcher share.
    pub bus: Arc<HintBus>,
    /// How long a burst of hints gathers before it is fetched.
    pub gather: Duration,
    /// The relaxed change-capture interval while pushes arrive (`None`: change capture keeps
    /// the store's interval).
    pub relaxed_poll: Option<Duration>,
}

impl PushSettings {
    /// Pushes through `bus`, fetched after 100 ms of gathering, polling unchanged.
    pub fn new(bus: Arc<HintBus>) -> Self {
        PushSettings {
            bus,
            gather: Duration::from_millis(100),
            relaxed_poll: None,
        }
    }

    /// A fetcher of this system's hints.
    pub fn fetcher(&self, reader: Reader) -> Arc<HintFetcher> {
        let (store, system, db) = (
            reader.store_id.clone(),
            reader.system.clone(),
            reader.db.clone(),
        );
        HintFetcher::new(
            store,
            system,
            db,
            Arc::new(NsHints::new(reader)),
            self.bus.clone(),
            self.gather,
        )
    }
}

/// When change capture may skip a round because pushes keep the system current.
#[derive(Debug, Clone)]
pub struct PushPace {
    bus: Arc<HintBus>,
    relaxed: Option<Duration>,
    state: Arc<Mutex<PaceState>>,
}

#[derive(Debug, Default)]
struct PaceState {
    last_round: Option<Instant>,
    gap: bool,
}

impl PushPace {
    /// Rounds at most every `relaxed` while `bus` hears pushes (at least one in the last
    /// `relaxed`) and the last round found nothing they missed (`None`: every round runs).
    pub fn new(bus: Arc<HintBus>, relaxed: Option<Duration>) -> Self {
        PushPace {
            bus,
            relaxed,
            state: Arc::default(),
        }
    }

    /// Whether the round due now may be skipped.
    pub fn may_skip(&self) -> bool {
        let Some(relaxed) = self.relaxed else {
            return false;
        };
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.gap {
            return false;
        }
        let pushing = self
            .bus
            .last_received()
            .is_some_and(|t| t.elapsed() < relaxed);
        let recent = st.last_round.is_some_and(|t| t.elapsed() < relaxed);
        pushing && recent
    }

    /// A round ran and journaled `journaled` changes the pushes had not (a gap when not 0).
    pub fn round_done(&self, journaled: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.last_round = Some(Instant::now());
        st.gap = journaled > 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(account: &str, rt: &str, id: Value, event: &str) -> Vec<u8> {
        json!({"account": account, "recordType": rt, "id": id, "event": event,
               "lastModifiedDate": "2026-01-15T12:00:00.000Z", "deliveryId": "d-1"})
        .to_string()
        .into_bytes()
    }

    fn signed(secret: &str, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            weft_platform::signature::sign(secret.as_bytes(), body)
                .parse()
                .unwrap(),
        );
        h
    }

    #[test]
    fn signature_with_rotation() {
        let w = NsPush::default();
        let b = body("123", "inventoryitem", json!("7"), "edit");
        let secrets = [WebhookSecret::new("new"), WebhookSecret::new("old")];
        assert!(w.verify(&signed("new", &b), &b, &secrets));
        assert!(w.verify(&signed("old", &b), &b, &secrets), "rotation");
        assert!(!w.verify(&signed("other", &b), &b, &secrets));
        assert!(
            !w.verify(&signed("new", &b), b"{}", &secrets),
            "body changed"
        );
        assert!(!w.verify(&HeaderMap::new(), &b, &secrets), "unsigned");
    }

    #[test]
    fn a_notification_is_a_hint() {
        let bus = HintBus::new();
        let w = NsPush::new(Some(bus.clone()));
        let d = w
            .parse(
                &HeaderMap::new(),
                &body("1234567_sb1", "inventoryitem", json!(7), "xedit"),
                Some("1234567-SB1"),
            )
            .unwrap();
        assert_eq!(d.kind, HINT_KIND);
        assert_eq!(d.entity_id, "inventoryitem:7");
        assert_eq!(d.version, "2026-01-15T12:00:00Z");
        assert_eq!(d.delivery_id.as_deref(), Some("d-1"));
        assert_eq!(bus.received(), 1);
    }

    #[test]
    fn an_item_or_customer_deleted_is_a_tombstone_not_a_hint() {
        let bus = HintBus::new();
        let w = NsPush::new(Some(bus.clone()));
        for (rt, kind) in [("inventoryitem", "variant"), ("customer", "customer")] {
            let d = w
                .parse(
                    &HeaderMap::new(),
                    &body("123", rt, json!(7), "delete"),
                    Some("123"),
                )
                .unwrap();
            assert_eq!(d.kind, kind);
            assert_eq!(d.entity_id, "7");
            assert!(weft_platform::webhook::is_tombstone(&d.body), "{}", d.body);
            assert_eq!(d.version, "2026-01-15T12:00:00Z");
            assert_eq!(d.delivery_id.as_deref(), Some("d-1"));
        }
        assert_eq!(bus.received(), 0, "nothing to fetch");
        // A sales order deleted is still a hint (it fetches nothing).
        let d = w
            .parse(
                &HeaderMap::new(),
                &body("123", "salesorder", json!(9), "delete"),
                Some("123"),
            )
            .unwrap();
        assert_eq!(d.kind, HINT_KIND);
    }

    #[test]
    fn foreign_or_malformed_notifications_are_refused_clearly() {
        let w = NsPush::default();
        let h = HeaderMap::new();
        let e = w
            .parse(
                &h,
                &body("999", "customer", json!("1"), "edit"),
                Some("123"),
            )
            .unwrap_err();
        assert!(e.contains("account `999`"), "{e}");
        let e = w
            .parse(&h, &body("123", "vendor", json!("1"), "edit"), None)
            .unwrap_err();
        assert!(e.contains("`vendor` is not one weft syncs"), "{e}");
        let e = w
            .parse(&h, &body("123", "customer", json!("1"), "view"), None)
            .unwrap_err();
        assert!(e.contains("event `view`"), "{e}");
        let e = w
            .parse(&h, &body("123", "customer", json!("x1"), "edit"), None)
            .unwrap_err();
        assert!(e.contains("internal id"), "{e}");
        assert!(w.parse(&h, b"[]", None).is_err());
    }

    #[test]
    fn pace_relaxes_only_while_pushes_arrive_without_gaps() {
        let bus = HintBus::new();
        let pace = PushPace::new(bus.clone(), Some(Duration::from_secs(60)));
        assert!(!PushPace::new(bus.clone(), None).may_skip());
        assert!(!pace.may_skip(), "no round yet");
        pace.round_done(0);
        assert!(!pace.may_skip(), "no push yet");
        bus.push();
        assert!(pace.may_skip());
        pace.round_done(2);
        assert!(!pace.may_skip(), "a gap: back to the normal interval");
        pace.round_done(0);
        assert!(pace.may_skip());
    }
}
