//! WooCommerce change capture by `modified_after` watermark: webhooks are a fast path, not the
//! truth (WooCommerce never re-sends a failed delivery, so this is the only safety net).
//!
//! Every round reads, per stream, what changed since the stream's watermark minus the overlap
//! (`modified_after=…&dates_are_gmt=true&orderby=modified&order=asc&per_page=100`), journals it
//! and commits the new watermark (the newest `date_modified_gmt` read) in the same transaction:
//!
//! - `<system>:products`: products, then the variations of every variable product weft knows
//!   (variations are not in the products list, and a variation's change does not move its
//!   parent's `date_modified`). Each product or variation that manages its own stock also
//!   yields its `inventory-level` document ([`crate::level_doc`]): a sale saves the product, so
//!   stock changes are found with it.
//!   Deletions: every round also lists the products trashed since the watermark
//!   (`status=trash`; trashing moves `date_modified`) and journals each as a tombstone
//!   ([`weft_platform::webhook::tombstone`]) at that version; a full read lists every product
//!   and journals a tombstone for each one weft holds that is no longer there at all (deleted
//!   for good, `force=true`), versioned by the read (a deleted id never comes back). This is
//!   what finds a deletion whose `product.deleted` delivery was lost.
//! - `<system>:orders`: orders.
//! - `<system>:customers`: WooCommerce's customers endpoint has no date filter, so every round
//!   lists them all (the journal recognises what it holds; only changes count), and journals a
//!   tombstone for each customer weft holds that is no longer listed (deleted; customers cannot
//!   be trashed), versioned by the read: what finds a lost `customer.deleted`.
//!
//! A document weft already holds with the same version and body is not journaled again; the
//! rest are changes the webhooks did not deliver and count as `recovered`. Versions are to the
//! second: a body different from the known one at the same second is journaled just after it
//! ([`weft_platform::poll::observed_version`]). The overlap must cover one round's length: a
//! variation changed while the round read another parent's variations is read again next round.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use weft_platform::poll::{FirstSync, Held, later, minus, observed_version, round_source};
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::{WooClient, id_text, level_doc, version_of};

/// WooCommerce change capture for one store's system.
pub struct WooPoller {
    store_id: String,
    system: String,
    name: String,
    db: Store,
    client: Arc<WooClient>,
    overlap: Duration,
    /// Variable products seen (their variations are read every round).
    parents: std::sync::Mutex<Option<BTreeSet<u64>>>,
    first_sync: FirstSync,
}

/// One document to journal.
struct Doc {
    kind: &'static str,
    id: String,
    version: String,
    body: Value,
    /// Whether its version is WooCommerce's (and so may move the stream's watermark); a
    /// deletion found by a full read is versioned by weft's clock instead.
    site_version: bool,
}

fn docs_of(record: &Value, kind: &'static str) -> Vec<Doc> {
    let (Some(id), Some(version)) = (record.get("id").and_then(id_text), version_of(record)) else {
        return Vec::new();
    };
    let mut out = vec![Doc {
        kind,
        id: id.clone(),
        version: version.clone(),
        body: record.clone(),
        site_version: true,
    }];
    if kind == "product"
        && let Some(level) = level_doc(record)
    {
        out.push(Doc {
            kind: "inventory-level",
            id,
            version,
            body: level,
            site_version: true,
        });
    }
    out
}

impl WooPoller {
    /// A poller reading with `overlap` before its watermarks.
    pub fn new(
        store_id: impl Into<String>,
        system: impl Into<String>,
        db: Store,
        client: Arc<WooClient>,
        overlap: Duration,
    ) -> Self {
        let system = system.into();
        WooPoller {
            store_id: store_id.into(),
            name: format!("{system}-poll"),
            system,
            db,
            client,
            overlap,
            parents: std::sync::Mutex::new(None),
            first_sync: FirstSync::default(),
        }
    }

    fn since_query(since: Option<&str>) -> Vec<(String, String)> {
        let mut q = vec![
            ("orderby".to_owned(), "modified".to_owned()),
            ("order".to_owned(), "asc".to_owned()),
        ];
        if let Some(s) = since {
            q.push(("modified_after".into(), s.to_owned()));
            q.push(("dates_are_gmt".into(), "true".into()));
        }
        q
    }

    async fn mark(&self, stream: &str) -> Result<Option<String>, SourceError> {
        Ok(self
            .db
            .watermark(&self.store_id, stream)
            .await?
            .and_then(|v| {
                v.get("modified_gmt")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }))
    }

    /// The variable products whose variations are read: learned once from a listing, then
    /// from every product read.
    async fn parents(&self, read: &[Value]) -> Result<Vec<u64>, SourceError> {
        let known = self
            .parents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut set = match known {
            Some(s) => s,
            None => {
                let q = vec![
                    ("type".to_owned(), "variable".to_owned()),
                    ("status".to_owned(), "any".to_owned()),
                ];
                self.client
                    .list_all("products", &q)
                    .await?
                    .iter()
                    .filter_map(|p| p.get("id").and_then(Value::as_u64))
                    .collect()
            }
        };
        for p in read {
            if p.get("type").and_then(Value::as_str) == Some("variable")
                && let Some(id) = p.get("id").and_then(Value::as_u64)
            {
                set.insert(id);
            }
        }
        let out = set.iter().copied().collect();
        *self.parents.lock().unwrap_or_else(|e| e.into_inner()) = Some(set);
        Ok(out)
    }

    /// Journals `docs` and moves `stream`'s watermark to the newest version read, together.
    /// A round that reads whole (`whole`: a full resync, or a first sync) journals as a
    /// backfill ([`round_source`]). What a round after the first sync journals is counted as
    /// `recovered` (changes the webhooks did not bring); a first sync's reading is not.
    async fn commit(
        &self,
        stream: &str,
        (whole, first): (bool, bool),
        mark: Option<String>,
        docs: Vec<Doc>,
        read_at: chrono::DateTime<Utc>,
        report: &mut PollReport,
    ) -> Result<(), SourceError> {
        let now = Utc::now();
        let source = round_source(whole, Source::Poll);
        let mut newest: Option<String> = mark;
        let mut entries = Vec::with_capacity(docs.len());
        for d in docs {
            if d.kind != "inventory-level" {
                report.read += 1;
            }
            if d.site_version {
                newest = Some(match newest {
                    Some(n) => later(n, d.version.clone()),
                    None => d.version.clone(),
                });
            }
            let version = observed_version(
                &self.db,
                &self.store_id,
                &self.system,
                d.kind,
                &d.id,
                &d.version,
                &d.body,
                Some(read_at),
            )
            .await?;
            entries.push(NewJournalEntry {
                store_id: self.store_id.clone(),
                system: self.system.clone(),
                kind: d.kind.into(),
                entity_id: d.id,
                version,
                source,
                delivery_id: None,
                body: d.body,
                received_at: now,
            });
        }
        let outcomes = match newest {
            Some(next) => {
                self.db
                    .append_with_watermark(
                        entries,
                        &self.store_id,
                        WatermarkUpdate {
                            stream: stream.to_owned(),
                            value: json!({ "modified_gmt": next }),
                        },
                        now,
                    )
                    .await?
            }
            None if entries.is_empty() => return Ok(()),
            None => self.db.append_batch(entries).await?,
        };
        let inserted = outcomes.iter().filter(|o| o.is_inserted()).count() as i64;
        report.journaled += inserted as u64;
        if inserted > 0 && !first {
            self.db
                .bump_counter(&self.store_id, "recovered", inserted)
                .await?;
        }
        Ok(())
    }

    /// Tombstones of `kind` for what `held` has that a full listing (read from `began`) did
    /// not show.
    async fn vanished(
        &self,
        kind: &'static str,
        held: Held,
        listed: impl Fn(&str) -> bool,
        began: chrono::DateTime<Utc>,
    ) -> Result<Vec<Doc>, SourceError> {
        Ok(held
            .vanished(&self.db, &self.store_id, &self.system, listed, began)
            .await?
            .into_iter()
            .map(|v| Doc {
                kind,
                body: weft_platform::webhook::tombstone(&v.id),
                id: v.id,
                version: v.version,
                site_version: false,
            })
            .collect())
    }

    /// One round; `full` reads everything, not only what changed since the watermarks.
    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let mut report = PollReport::default();
        let first = self
            .first_sync
            .pending(&self.db, &self.store_id, &self.system)
            .await?;
        let whole = full || first;
        // Products and their variations.
        let stream = format!("{}:products", self.system);
        let mark = self.mark(&stream).await?;
        let since = mark
            .as_deref()
            .filter(|_| !full)
            .map(|m| minus(m, self.overlap));
        // Read before the listing, so nothing created since can look deleted.
        let held = if full {
            Held::read(&self.db, &self.store_id, &self.system, "product").await?
        } else {
            Held::none("product")
        };
        let began = Utc::now();
        let mut q = Self::since_query(since.as_deref());
        q.push(("status".into(), "any".into()));
        let products = self.client.list_all("products", &q).await?;
        let mut tq = Self::since_query(since.as_deref());
        tq.push(("status".into(), "trash".into()));
        let trashed = self.client.list_all("products", &tq).await?;
        let parents = self.parents(&products).await?;
        let mut listed: BTreeSet<String> = BTreeSet::new();
        let mut docs: Vec<Doc> = products
            .iter()
            .flat_map(|p| docs_of(p, "product"))
            .collect();
        for t in &trashed {
            if let (Some(id), Some(version)) = (t.get("id").and_then(id_text), version_of(t)) {
                docs.push(Doc {
                    kind: "product",
                    body: weft_platform::webhook::tombstone(&id),
                    id,
                    version,
                    site_version: true,
                });
            }
        }
        let vq = Self::since_query(since.as_deref());
        for parent in parents {
            match self
                .client
                .list_all(&format!("products/{parent}/variations"), &vq)
                .await
            {
                Ok(vs) => docs.extend(vs.iter().flat_map(|v| docs_of(v, "product"))),
                // A variable product deleted since it was seen.
                Err(weft_platform::ConnectorError::Permanent { status: 404, .. }) => {
                    if let Some(s) = self
                        .parents
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                    {
                        s.remove(&parent);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if full {
            listed.extend(
                docs.iter()
                    .filter(|d| d.kind == "product")
                    .map(|d| d.id.clone()),
            );
            docs.extend(
                self.vanished("product", held, |id| listed.contains(id), began)
                    .await?,
            );
        }
        self.commit(&stream, (whole, first), mark, docs, began, &mut report)
            .await?;
        // Orders.
        let stream = format!("{}:orders", self.system);
        let mark = self.mark(&stream).await?;
        let since = mark
            .as_deref()
            .filter(|_| !full)
            .map(|m| minus(m, self.overlap));
        let mut q = Self::since_query(since.as_deref());
        q.push(("status".into(), "any".into()));
        let began = Utc::now();
        let orders = self.client.list_all("orders", &q).await?;
        let docs = orders.iter().flat_map(|o| docs_of(o, "order")).collect();
        self.commit(&stream, (whole, first), mark, docs, began, &mut report)
            .await?;
        // Customers: no date filter in WooCommerce; every round reads them all, so every round
        // sees which were deleted (a lost `customer.deleted`).
        let stream = format!("{}:customers", self.system);
        let mark = self.mark(&stream).await?;
        let held = Held::read(&self.db, &self.store_id, &self.system, "customer").await?;
        let began = Utc::now();
        let customers = self.client.list_all("customers", &[]).await?;
        let mut docs: Vec<Doc> = customers
            .iter()
            .flat_map(|c| docs_of(c, "customer"))
            .collect();
        let listed: BTreeSet<String> = docs.iter().map(|d| d.id.clone()).collect();
        docs.extend(
            self.vanished("customer", held, |id| listed.contains(id), began)
                .await?,
        );
        self.commit(&stream, (whole, first), mark, docs, began, &mut report)
            .await?;
        if first {
            self.first_sync.done();
        }
        Ok(report)
    }
}

impl Poller for WooPoller {
    /// A safety net behind the webhooks.
    fn reconciles(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(true))
    }
}
