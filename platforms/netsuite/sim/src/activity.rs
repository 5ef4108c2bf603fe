//! ERP user activity: records created and edited as a NetSuite user would in the UI (each
//! write bumps `lastModifiedDate` on the simulator's clock), a seeded catalogue, and seeded
//! random activity for demos and convergence tests. These writes bypass authentication and
//! the concurrency limit, like a user's browser session, but not validation.

use crate::error::NsError;
use crate::records::{Quantities, RecordType, WriteTarget};
use crate::sim::{NetSuiteSim, State};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};

/// One change made by [`NetSuiteSim::erp_random_activity`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ActivityEvent {
    /// A new inventory item.
    ItemCreated {
        /// Internal id.
        id: String,
        /// SKU (`itemId`).
        item_id: String,
    },
    /// `basePrice` changed.
    PriceChanged {
        /// Item internal id.
        id: String,
        /// New price.
        base_price: f64,
    },
    /// `displayName` changed.
    ItemRenamed {
        /// Item internal id.
        id: String,
        /// New display name.
        display_name: String,
    },
    /// Stock moved by an inventory adjustment.
    StockAdjusted {
        /// Item internal id.
        item: String,
        /// Location id.
        location: String,
        /// Quantity delta.
        delta: f64,
        /// The adjustment's internal id.
        adjustment: String,
    },
    /// A new customer.
    CustomerCreated {
        /// Internal id.
        id: String,
    },
    /// A customer's email or phone changed.
    CustomerEdited {
        /// Internal id.
        id: String,
        /// Field changed.
        field: String,
    },
}

const ADJECTIVES: &[&str] = &[
    "Linen", "Wool", "Cotton", "Denim", "Silk", "Canvas", "Leather", "Merino", "Hemp", "Cashmere",
];
const NOUNS: &[&str] = &[
    "Shirt", "Scarf", "Jacket", "Tote", "Cap", "Sweater", "Apron", "Belt", "Sock", "Blanket",
];
const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman",
    "Thompson",
];

fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn price(rng: &mut impl Rng) -> f64 {
    (rng.random_range(5..200) as f64) + 0.99
}

impl State {
    fn write(
        &mut self,
        rt: RecordType,
        target: WriteTarget,
        body: Value,
        now: DateTime<Utc>,
    ) -> Result<String, NsError> {
        let replace = ["item".to_owned(), "inventory".to_owned()];
        self.db
            .write(rt, target, &body, &replace, now)
            .map(|o| o.id.to_string())
    }

    fn adjust(
        &mut self,
        item: &str,
        location: &str,
        delta: f64,
        memo: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, NsError> {
        let mut body = json!({
            "adjLocation": {"id": location},
            "inventory": {"items": [{"item": {"id": item}, "location": {"id": location}, "adjustQtyBy": delta}]},
        });
        if let Some(m) = memo {
            body["memo"] = json!(m);
        }
        self.write(
            RecordType::InventoryAdjustment,
            WriteTarget::Create,
            body,
            now,
        )
    }

    fn create_item(&mut self, now: DateTime<Utc>) -> Result<(String, String), NsError> {
        let mut n = self.db.count(RecordType::InventoryItem) + 1;
        let sku = loop {
            let s = format!("SKU-{n:05}");
            if !self.db.item_id_taken(&s) {
                break s;
            }
            n += 1;
        };
        let name = format!(
            "{} {}",
            pick(&mut self.rng, ADJECTIVES),
            pick(&mut self.rng, NOUNS)
        );
        let p = price(&mut self.rng);
        let id = self.write(
            RecordType::InventoryItem,
            WriteTarget::Create,
            json!({
                "itemId": sku,
                "displayName": name,
                "salesDescription": format!("{name}, made to last."),
                "vendorName": "Acme Textiles",
                "basePrice": p,
            }),
            now,
        )?;
        for loc in self.db.location_ids() {
            let q = self.rng.random_range(0..100);
            if q > 0 {
                self.adjust(
                    &id,
                    &loc.to_string(),
                    q as f64,
                    Some("opening balance"),
                    now,
                )?;
            }
        }
        Ok((id, sku))
    }

    fn create_customer(&mut self, now: DateTime<Utc>) -> Result<String, NsError> {
        let first = pick(&mut self.rng, FIRST);
        let last = pick(&mut self.rng, LAST);
        let n: u32 = self.rng.random_range(1..10_000);
        let phone: u32 = self.rng.random_range(0..10_000_000);
        self.write(
            RecordType::Customer,
            WriteTarget::Create,
            json!({
                "isPerson": true,
                "firstName": first,
                "lastName": last,
                "email": format!("{}.{}{n}@example.com", first.to_lowercase(), last.to_lowercase()),
                "phone": format!("+1555{phone:07}"),
            }),
            now,
        )
    }
}

impl NetSuiteSim {
    /// Creates a record as an ERP user (`body` in REST record shape); returns its internal id.
    pub fn erp_create(&self, rt: RecordType, body: Value) -> Result<String, NsError> {
        let now = self.inner.clock.now_secs();
        self.inner
            .state
            .lock()
            .write(rt, WriteTarget::Create, body, now)
    }

    /// Edits a record as an ERP user (`id` internal or `eid:...`); sublists in `body` replace
    /// the record's lines.
    pub fn erp_update(&self, rt: RecordType, id: &str, body: Value) -> Result<(), NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let id = s.db.resolve_segment(rt, id)?;
        s.write(rt, WriteTarget::Update(id), body, now).map(|_| ())
    }

    /// Deletes a record as an ERP user (`id` internal or `eid:...`); weft's push script posts
    /// its `delete` event.
    pub fn erp_delete(&self, rt: RecordType, id: &str) -> Result<(), NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let id = s.db.resolve_segment(rt, id)?;
        s.db.delete(rt, id, now)
    }

    /// Moves stock of `item` at `location` by `delta` through a new inventory adjustment;
    /// returns the adjustment's internal id.
    pub fn erp_adjust_inventory(
        &self,
        item: &str,
        location: &str,
        delta: f64,
        memo: Option<&str>,
    ) -> Result<String, NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let item = s.db.resolve_segment(RecordType::InventoryItem, item)?;
        s.adjust(&item.to_string(), location, delta, memo, now)
    }

    /// Every quantity NetSuite keeps of an item (internal id) at a location.
    pub fn quantities(&self, item: &str, location: &str) -> Quantities {
        let s = self.inner.state.lock();
        match (item.parse(), location.parse()) {
            (Ok(i), Ok(l)) => s.db.quantities(i, l),
            _ => Quantities::default(),
        }
    }

    /// Fulfils a sales order (`id` internal or `eid:...`) as a warehouse user would: transforms
    /// it into an item fulfilment. `lines` are `(order line number, quantity)`; empty = every
    /// committed quantity. `tracking` numbers become package lines; `carrier` is `shipCarrier`.
    /// Returns the fulfilment's internal id.
    pub fn erp_fulfil(
        &self,
        sales_order: &str,
        lines: &[(u64, f64)],
        tracking: &[&str],
        carrier: Option<&str>,
    ) -> Result<String, NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let so = s.db.resolve_segment(RecordType::SalesOrder, sales_order)?;
        let mut body = json!({});
        if !lines.is_empty() {
            body["item"] = json!({"items": lines
                .iter()
                .map(|(n, q)| json!({"orderLine": n, "quantity": q, "itemReceive": true}))
                .collect::<Vec<_>>()});
        }
        if !tracking.is_empty() {
            body["package"] = json!({"items": tracking
                .iter()
                .map(|t| json!({"packageTrackingNumber": t}))
                .collect::<Vec<_>>()});
        }
        if let Some(c) = carrier {
            body["shipCarrier"] = json!(c);
        }
        s.db.transform_fulfillment(so, &body, now)
            .map(|o| o.id.to_string())
    }

    /// Quantity on hand of an item (internal id) at a location.
    pub fn on_hand(&self, item: &str, location: &str) -> f64 {
        let s = self.inner.state.lock();
        match (item.parse(), location.parse()) {
            (Ok(i), Ok(l)) => s.db.on_hand(i, l),
            _ => 0.0,
        }
    }

    /// Creates `items` inventory items (SKUs `SKU-00001`..., opening stock per location) and
    /// `customers` customers, deterministically per seed; returns their internal ids.
    pub fn erp_seed_catalog(
        &self,
        items: usize,
        customers: usize,
    ) -> Result<(Vec<String>, Vec<String>), NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let mut item_ids = Vec::with_capacity(items);
        for _ in 0..items {
            item_ids.push(s.create_item(now)?.0);
        }
        let mut customer_ids = Vec::with_capacity(customers);
        for _ in 0..customers {
            customer_ids.push(s.create_customer(now)?);
        }
        Ok((item_ids, customer_ids))
    }

    /// Performs `steps` random ERP edits (price changes, stock adjustments, renames, customer
    /// edits and creations, new items), deterministic per seed and call sequence.
    pub fn erp_random_activity(&self, steps: usize) -> Result<Vec<ActivityEvent>, NsError> {
        let now = self.inner.clock.now_secs();
        let mut s = self.inner.state.lock();
        let mut events = Vec::with_capacity(steps);
        for _ in 0..steps {
            let items: Vec<u64> = s.db.all(RecordType::InventoryItem).map(|r| r.id).collect();
            let customers: Vec<u64> = s.db.all(RecordType::Customer).map(|r| r.id).collect();
            let roll = s.rng.random_range(0..100);
            let event = if items.is_empty() || roll < 5 {
                let (id, item_id) = s.create_item(now)?;
                ActivityEvent::ItemCreated { id, item_id }
            } else if roll < 35 {
                let id = items[s.rng.random_range(0..items.len())].to_string();
                let p = price(&mut s.rng);
                s.write(
                    RecordType::InventoryItem,
                    WriteTarget::Update(id.parse().expect("id")),
                    json!({"basePrice": p}),
                    now,
                )?;
                ActivityEvent::PriceChanged { id, base_price: p }
            } else if roll < 70 {
                let item = items[s.rng.random_range(0..items.len())].to_string();
                let locs = s.db.location_ids();
                let location = locs[s.rng.random_range(0..locs.len())].to_string();
                let mut delta = s.rng.random_range(-10..=20) as f64;
                if delta == 0.0 {
                    delta = 1.0;
                }
                let adjustment = s.adjust(&item, &location, delta, Some("cycle count"), now)?;
                ActivityEvent::StockAdjusted {
                    item,
                    location,
                    delta,
                    adjustment,
                }
            } else if roll < 85 {
                let id = items[s.rng.random_range(0..items.len())].to_string();
                let name = format!(
                    "{} {}",
                    pick(&mut s.rng, ADJECTIVES),
                    pick(&mut s.rng, NOUNS)
                );
                s.write(
                    RecordType::InventoryItem,
                    WriteTarget::Update(id.parse().expect("id")),
                    json!({"displayName": name}),
                    now,
                )?;
                ActivityEvent::ItemRenamed {
                    id,
                    display_name: name,
                }
            } else if customers.is_empty() || roll < 92 {
                ActivityEvent::CustomerCreated {
                    id: s.create_customer(now)?,
                }
            } else {
                let id = customers[s.rng.random_range(0..customers.len())].to_string();
                let n: u32 = s.rng.random_range(0..10_000_000);
                let (field, body) = if n.is_multiple_of(2) {
                    ("phone", json!({"phone": format!("+1555{n:07}")}))
                } else {
                    (
                        "email",
                        json!({"email": format!("customer{n}@example.com")}),
                    )
                };
                s.write(
                    RecordType::Customer,
                    WriteTarget::Update(id.parse().expect("id")),
                    body,
                    now,
                )?;
                ActivityEvent::CustomerEdited {
                    id,
                    field: field.to_owned(),
                }
            };
            events.push(event);
        }
        Ok(events)
    }
}
