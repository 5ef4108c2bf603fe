//! `weft demo`: the main job on embedded defaults. Starts simulated Shopify and NetSuite stores,
//! a host over SQLite in a temporary directory, generates merchant and ERP activity under
//! webhook chaos, lets weft converge, and verifies field by field that both systems agree.
//!
//! Drift is judged through the store's own mapping: both systems are read afresh through the
//! connectors, mapped to canonical records by the same mapper plugin, and compared per record
//! and field. Orders must each be exactly one NetSuite sales order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};
use weft_engine::Timing;
use weft_netsuite::{NetSuiteClient, NetSuiteConfig, RecordRef, inventory_level_docs};
use weft_ratelimit::{ConcurrencyGovernor, ShopifyCostLimiter};
use weft_runtime::types::{EntityKind, FromCanonicalOutcome, PlatformDoc, ToCanonicalOutcome};
use weft_runtime::{Limits, MapperInstance, Runtime, RuntimeConfig, StoreCtx};
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::checkout::{
    Address, CheckoutSpec, DiscountInput, ShippingLineInput, TaxRateInput,
};
use weft_sim_shopify::{
    ChaosConfig, CustomerFields, NewOrder, NewOrderLine, ShopifySim, VariantEdit,
};
use weft_store::Store;

use crate::app::{Host, StoreSetup};
use crate::platforms;

pub use weft_engine::Ownership;
pub use weft_sim_shopify::PlanPreset;

/// What `weft demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed for every simulator and the activity generator.
    pub seed: u64,
    /// Merchant + ERP edits to generate, across all stores.
    pub events: usize,
    /// Webhook drop rate.
    pub drop_rate: f64,
    /// Webhook duplicate rate.
    pub duplicate_rate: f64,
    /// Webhook reorder window.
    pub reorder_ms: u64,
    /// Rate of late, stale redeliveries.
    pub late_rate: f64,
    /// Number of stores.
    pub stores: usize,
    /// Catalog size per store.
    pub items: usize,
    /// Show progress on stderr.
    pub progress: bool,
    /// Longest time to wait for convergence.
    pub settle_timeout: Duration,
    /// Keep the database in this directory instead of a temporary one.
    pub keep: Option<std::path::PathBuf>,
    /// The storefront synced with NetSuite.
    pub storefront: Storefront,
    /// Field owners and what a non-owner's change does (`[policy]`); none by default, so
    /// every side's edits flow.
    pub ownership: Ownership,
    /// The simulated shops' plan: their GraphQL query budget (standard: 1,000 points restored
    /// at 100 a second; plus: 10,000 at 1,000).
    pub shopify_plan: PlanPreset,
    /// Whether NetSuite runs weft's push script ([`crate::demo_push`]), with the webhooks'
    /// chaos; change capture catches what it loses.
    pub erp_push: bool,
    /// Deletions per store during the run (Shopify stores only): this many deletions by the
    /// merchant in Shopify (in turn a product of one SKU of its own, every variant of an
    /// option group, one variant of an option group) and
    /// as many NetSuite items made inactive, spread over the events; their delete webhooks go
    /// through the same chaos, so a full read must find what a dropped one lost. At the end
    /// every deleted product must be archived in NetSuite and never recreated in Shopify, every
    /// inactive item archived in Shopify, and every other product active on both sides
    /// (checked by [`verify_deletes`]; its problems count as drift).
    pub deletes: usize,
    /// The stores' `[deletes]` action for variants and products: `Archive` (the default) or
    /// `Delete` (a deleted Shopify product's items are removed from NetSuite, or kept
    /// inactive there when transactions depend on them, as NetSuite refuses the delete).
    pub delete_action: weft_engine::OnDelete,
}

/// The storefront platform of a demo store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Storefront {
    /// Shopify (the default).
    #[default]
    Shopify,
    /// WooCommerce ([`crate::demo_woo`]).
    #[value(name = "woocommerce")]
    WooCommerce,
    /// BigCommerce ([`crate::demo_bc`]).
    #[value(name = "bigcommerce")]
    BigCommerce,
    /// Magento 2 / Adobe Commerce ([`crate::demo_magento`]).
    Magento,
}

impl Storefront {
    /// The platform's name.
    pub fn platform(self) -> &'static str {
        match self {
            Storefront::Shopify => weft_shopify::PLATFORM,
            Storefront::WooCommerce => weft_woocommerce::PLATFORM,
            Storefront::BigCommerce => weft_bigcommerce::PLATFORM,
            Storefront::Magento => weft_magento::PLATFORM,
        }
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 1,
            events: 400,
            drop_rate: 0.05,
            duplicate_rate: 0.05,
            reorder_ms: 200,
            late_rate: 0.02,
            stores: 1,
            items: 12,
            progress: true,
            settle_timeout: Duration::from_secs(120),
            keep: None,
            storefront: Storefront::Shopify,
            ownership: Ownership::default(),
            shopify_plan: PlanPreset::Standard,
            erp_push: true,
            deletes: 0,
            delete_action: weft_engine::OnDelete::Archive,
        }
    }
}

/// The verification report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReport {
    /// Seed used.
    pub seed: u64,
    /// Stores run.
    pub stores: usize,
    /// Edits generated (merchant + ERP).
    pub events: usize,
    /// Of which in Shopify (merchant).
    pub merchant_events: usize,
    /// Of which in NetSuite (ERP).
    pub erp_events: usize,
    /// Sales orders fulfilled in NetSuite (item fulfilments transformed from them, each with
    /// a tracking number).
    pub fulfilments: usize,
    /// Of which partial (fewer units than the order committed).
    pub partial_fulfilments: usize,
    /// Shopify orders cancelled (with restock) before they shipped.
    pub cancellations: usize,
    /// Shopify order edits committed after NetSuite had the sales order (a line lowered or
    /// removed, a variant added); each must change the sales order's lines once.
    pub order_edits: usize,
    /// Of which adding a variant (a new sales order line).
    pub order_edit_additions: usize,
    /// Of which raising a line by a unit (the sales order's line orders one more).
    pub order_edit_raises: usize,
    /// Refunds of units not shipped yet (restock `CANCEL`): the sales order's line shrinks,
    /// and the credit memo credits them on the refund item (counted in `refunds` too).
    pub refunds_cancelling: usize,
    /// NetSuite fulfilments found exactly once in Shopify on their order, with their tracking
    /// number, carrier, URL and units (the rest is drift).
    pub fulfilments_matched: usize,
    /// Shopify refunds: of shipped units (each line returned to stock or not), and of units
    /// not shipped yet (`refunds_cancelling`).
    pub refunds: usize,
    /// Of which with units returned to stock.
    pub refunds_restocked: usize,
    /// Of which refunding part of what shipped.
    pub partial_refunds: usize,
    /// Shopify refunds found as exactly one NetSuite credit memo with their lines (returned
    /// units on the item at the order's location, the others on the refund item); the rest is
    /// drift, as is a credit memo no refund made.
    pub refunds_matched: usize,
    /// Storefront stock that did not show what the ERP owns and was written back
    /// (`stock_overridden`: a sale whose order weft had not read yet, or a manual change).
    pub stock_overridden: i64,
    /// Webhook deliveries Shopify attempted to make (one per event per subscription).
    pub webhooks_sent: u64,
    /// Deliveries the chaos dropped.
    pub webhooks_dropped: u64,
    /// Deliveries sent twice.
    pub webhooks_duplicated: u64,
    /// Deliveries held back out of order.
    pub webhooks_reordered: u64,
    /// Stale copies of old payloads delivered late.
    pub webhooks_late: u64,
    /// Changes the reconciliation polls found that no webhook had delivered.
    pub recovered: i64,
    /// Whether NetSuite pushed its changes (weft's user event script).
    pub erp_push: bool,
    /// Saves the push script ran for.
    pub erp_pushes: u64,
    /// Of which lost by the chaos.
    pub erp_pushes_dropped: u64,
    /// Sent twice.
    pub erp_pushes_duplicated: u64,
    /// Held back out of order.
    pub erp_pushes_reordered: u64,
    /// Changes NetSuite change capture found that no push had delivered (`recovered_push`).
    pub erp_push_recovered: i64,
    /// Deliveries ignored as duplicates (journal dedupe + same version).
    pub duplicates_ignored: i64,
    /// Entries ignored because a newer version was already known (stale retries, reordering).
    pub stale_ignored: i64,
    /// Field conflicts the resolvers settled.
    pub conflicts_resolved: i64,
    /// Changes by a system that does not own the field, written back (`[policy] on_change`).
    pub changes_reverted: i64,
    /// Writes applied to the platforms.
    pub writes_applied: i64,
    /// Compare-and-set writes found stale and re-merged.
    pub writes_stale: i64,
    /// Dead letters left.
    pub dead_letters: i64,
    /// The first dead letters, for a person to read.
    pub dead_letter_details: Vec<String>,
    /// Throttled responses from Shopify (GraphQL + REST) and NetSuite (over the limit).
    pub throttled: u64,
    /// Shopify orders placed.
    pub orders: usize,
    /// Shopify orders that are exactly one NetSuite sales order.
    pub orders_matched: usize,
    /// Orders whose totals add up in both systems (Shopify: line items − discounts + shipping +
    /// tax = total; NetSuite: subtotal + discountTotal + taxTotal + shippingCost = total) and
    /// agree, and whose sales order holds every field the mapper writes.
    pub orders_reconciled: usize,
    /// Records compared between the systems.
    pub records_compared: usize,
    /// Prices in the shop's other currency (Shopify's price list, NetSuite's pricing matrix)
    /// found equal on both sides.
    pub currency_prices_matched: usize,
    /// Variants whose product's custom collections (Shopify's membership, NetSuite's
    /// collections field) were found equal on both sides.
    pub collections_matched: usize,
    /// Fields that differ, records missing on one side, and orders not exactly once in NetSuite.
    pub drift: usize,
    /// The first differences, for a person to read.
    pub drift_details: Vec<String>,
    /// What weft decided, step by step, for the first records that differ (their lineage, the
    /// newest steps): so a drift seen once, on CI say, can be followed without its database.
    pub drift_lineage: Vec<String>,
    /// Quantities that do not match the demo's own ledger of what it generated, per SKU and
    /// location: NetSuite on hand = opening + receipts - fulfilled; NetSuite committed + back
    /// ordered = ordered - fulfilled; Shopify available = NetSuite available - back ordered
    /// (= opening + receipts - ordered). Both systems may agree and still be wrong (a sale
    /// counted twice moves both alike), which drift cannot see. Not counted in `drift`, but
    /// `weft demo` fails when it is not 0.
    pub stock_mismatches: usize,
    /// The first stock mismatches, for a person to read.
    pub stock_details: Vec<String>,
    /// What the storefront's own chaos did, by name (Magento: bulks and their operations
    /// failed retriably or without a status); empty for the others.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storefront_chaos: BTreeMap<String, u64>,
    /// Shopify products the merchant deleted ([`DemoOptions::deletes`]).
    pub products_deleted: usize,
    /// Variants the merchant deleted from a product that kept others.
    pub variants_deleted: usize,
    /// Of their variants (SKUs), and those variants.
    pub skus_deleted: usize,
    /// NetSuite items made inactive.
    pub items_deactivated: usize,
    /// `products/delete` webhooks the chaos dropped (a full read must find those deletions).
    pub delete_webhooks_dropped: u64,
    /// `products/delete` webhooks never sent: the first deletion of each store is made while
    /// its subscription is gone (a full read must find those).
    pub delete_webhooks_lost: u64,
    /// Deletions weft applied (`deletes_applied`).
    pub deletes_applied: i64,
    /// Records a product's newer document no longer carried, deleted on that system
    /// (`children_removed`: a variant and its price for each variant deleted).
    pub children_removed: i64,
    /// Deletions the mass-delete guard held (`deletes_held`).
    pub deletes_held: i64,
    /// Records whose deleting system showed them again (`deletes_recreated`).
    pub deletes_recreated: i64,
    /// Records a deletion removed from the other systems (`deletes_removing`, `delete` action).
    pub deletes_removing: i64,
    /// Records whose deletion was the echo of weft's own removal (`deletes_echoed`).
    pub deletes_echoed: i64,
    /// Deleted or inactive SKUs found archived (or removed) on the other side, as the policy
    /// says.
    pub archived_matched: usize,
    /// Of those, SKUs deleted in Shopify whose NetSuite item is gone (`delete` action).
    pub items_removed: usize,
    /// SKUs nobody deleted found active on both sides.
    pub kept_active: usize,
    /// Wall time of the whole run.
    pub seconds: f64,
}

struct DemoStore {
    id: String,
    shopify: ShopifySim,
    netsuite: NetSuiteSim,
    _servers: (weft_sim_shopify::SimHandle, weft_sim_netsuite::SimServer),
    shopify_url: String,
    netsuite_url: String,
    location: u64,
    skus: Vec<String>,
    /// The option group (handle) of each SKU that has one.
    groups: BTreeMap<String, String>,
    /// Sizes added to option groups in NetSuite during the run.
    added_sizes: usize,
    customers: Vec<u64>,
    orders: Vec<u64>,
    /// Each order's SKU and units (the demo's orders have one line).
    order_skus: BTreeMap<u64, (String, i64)>,
    /// NetSuite fulfilments made: order, tracking number, units shipped.
    shipments: Vec<(u64, String, i64)>,
    /// Orders cancelled in Shopify (never shipped).
    cancelled: BTreeSet<u64>,
    /// Orders edited in Shopify, or refunded before they shipped (never shipped after).
    edited: BTreeSet<u64>,
    /// Order edits committed, and of which adding a variant.
    /// Order edits: all, adding a variant, raising a line.
    edits: (usize, usize, usize),
    /// Refunds with restock `CANCEL`.
    cancel_refunds: usize,
    /// Refunds made in Shopify: order, refund id, units, whether returned to stock.
    refunds: Vec<(u64, u64, i64, bool)>,
    /// What moved each SKU's stock: NetSuite item id, units received there, units ordered in
    /// Shopify (the stock both systems must end with).
    stock: BTreeMap<String, StockLedger>,
    /// SKUs whose Shopify product the merchant deleted.
    deleted: BTreeSet<String>,
    /// SKUs whose NetSuite item was made inactive.
    deactivated: BTreeSet<String>,
    /// The store's `[deletes]` action for variants and products.
    delete_action: weft_engine::OnDelete,
}

/// One SKU's stock movements in the demo, for [`verify_stock`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockLedger {
    /// The NetSuite inventory item's internal id.
    pub item_id: String,
    /// Units on hand in NetSuite before weft started.
    pub opening: i64,
    /// Units received in NetSuite since.
    pub received: i64,
    /// Units ordered in Shopify since.
    pub ordered: i64,
    /// Units fulfilled (shipped) in NetSuite since.
    pub fulfilled: i64,
    /// Units of orders cancelled in Shopify (before they shipped) since.
    pub cancelled: i64,
    /// Units refunded in Shopify and returned to stock since (a NetSuite credit memo puts
    /// them back on hand; refunded units not returned move nothing).
    pub restocked: i64,
    /// Units removed from open orders before they shipped, by order edits and `CANCEL`
    /// refunds (the sales order's line shrinks or closes, releasing its commitment).
    pub edited: i64,
}

impl StockLedger {
    /// What a storefront can sell once quiet: opening + received - ordered + cancelled (every
    /// order is committed in the ERP or shipped, or cancelled).
    pub fn expected(&self) -> i64 {
        self.opening + self.received - self.ordered + self.cancelled + self.restocked + self.edited
    }

    /// NetSuite's on hand: opening + received - fulfilled + restocked returns (a sale leaves
    /// on hand when it ships, never before and never twice; a returned unit comes back once).
    pub fn on_hand(&self) -> i64 {
        self.opening + self.received - self.fulfilled + self.restocked
    }

    /// NetSuite's open demand (committed + back ordered): ordered - fulfilled - cancelled -
    /// edited away.
    pub fn open_demand(&self) -> i64 {
        self.ordered - self.fulfilled - self.cancelled - self.edited
    }
}

/// Units of opening stock of every demo item.
pub(crate) const OPENING_STOCK: i64 = 50;

pub(crate) const API_VERSION: &str = "2026-04";
pub(crate) const NS_LOCATION: &str = "1";

/// The stock mapper's config of a demo store: its location, the simulator's discount item
/// (id 1) for order discounts and its ship items (1 Ground, 2 Express) for Shopify's shipping
/// rate codes.
/// The demo shop's other currency: its ISO code and its NetSuite currency id (the
/// simulator's 3, EUR).
pub(crate) const DEMO_CURRENCY: (&str, &str) = ("EUR", "3");

/// The custom collections of the demo's shop (NetSuite's items name them by handle).
const DEMO_COLLECTIONS: [&str; 3] = ["basics", "summer", "sale"];

/// The main demo's mapper config: [`mapper_config`], the shop's second currency and its
/// collections.
fn demo_mapper_config(location: u64) -> Value {
    let mut c = mapper_config(location);
    c["currencies"] = json!({ DEMO_CURRENCY.0: DEMO_CURRENCY.1 });
    c["collections_field"] = json!("custitem_web_collections");
    c
}

pub(crate) fn mapper_config(location: u64) -> Value {
    json!({
        "locations": { location.to_string(): NS_LOCATION },
        "discount_item": "1",
        "refund_item": weft_sim_netsuite::NON_INVENTORY_REFUND_ITEM.to_string(),
        "ship_methods": { "STANDARD": "1", "EXPRESS": "2" },
        "matrix_options": { "Size": "custitem_size", "Colour": "custitem_colour", "Fit": "custitem_fit" },
        "custom_fields": { "material": "custitem_material" },
    })
}

/// The option group of the demo's item `k` of store `i`: items with `k % 10 < 4` are children
/// of a product with three options (Size, Colour, Fit), `4..6` of a product with one (Size);
/// the others are products of their own. `(handle, [(matrix option field, value)])`.
fn option_group(i: usize, k: usize) -> Option<(String, Vec<(&'static str, &'static str)>)> {
    let (j, g) = (k % 10, k / 10);
    match j {
        0..4 => Some((
            format!("tee-{i}-{g}"),
            vec![
                ("custitem_size", ["S", "M", "S", "M"][j]),
                ("custitem_colour", ["Black", "Black", "White", "White"][j]),
                ("custitem_fit", "Regular"),
            ],
        )),
        4..6 => Some((
            format!("cap-{i}-{g}"),
            vec![("custitem_size", ["M", "L"][j - 4])],
        )),
        _ => None,
    }
}

/// The catalog fields of a demo item: product-level ones (the same for every child of an
/// option group, as NetSuite's "update matrix children" keeps them) and its own weight.
pub(crate) fn catalog_fields(name: &str, k: usize) -> Value {
    json!({
        "displayName": format!("Demo {name}"),
        "salesDescription": format!("<p>Demo {name}.</p>"),
        "vendorName": "Acme",
        "custitem_web_product_type": "Apparel",
        "custitem_web_category": "aa-1-13-8",
        "custitem_web_tags": "cotton, demo",
        "custitem_web_images": json!([
            {"url": format!("https://cdn.example.com/{name}.jpg"), "alt": format!("Demo {name}")},
            {"url": format!("https://cdn.example.com/{name}-back.jpg"), "alt": null}
        ]).to_string(),
        "pageTitle": format!("Demo {name} | Acme"),
        "storeDescription": format!("The demo {name}."),
        "custitem_material": "Cotton",
        "weight": ([0.2, 0.35, 0.5])[k % 3],
        "weightUnit": {"id": "3"},
    })
}

/// A shopper's checkout: addresses (a company on some billing addresses), one of two shipping
/// rates, VAT, a discount code on about half the orders (a percentage or a fixed amount), the
/// gateway and sometimes a note.
fn demo_checkout(rng: &mut ChaCha8Rng, n: usize) -> CheckoutSpec {
    let address = Address {
        first_name: Some("Ada".into()),
        last_name: Some(format!("Shopper{n}")),
        address1: Some(format!("{} Analytical Row", rng.random_range(1..200))),
        city: Some("London".into()),
        country_code: Some("GB".into()),
        zip: Some("SW1Y 4JH".into()),
        phone: Some("+442071234567".into()),
        ..Address::default()
    };
    let mut billing = address.clone();
    if rng.random_bool(0.3) {
        billing.company = Some("Engines Ltd".into());
    }
    let (title, code, price) = if rng.random_bool(0.7) {
        ("Standard", "STANDARD", "4.95")
    } else {
        ("Express", "EXPRESS", "12.00")
    };
    let discount_code = match rng.random_range(0..4) {
        0 => Some(DiscountInput {
            code: "TEN".into(),
            value_type: "percentage".into(),
            value: "10".into(),
        }),
        1 => Some(DiscountInput {
            code: "FIVEOFF".into(),
            value_type: "fixed_amount".into(),
            value: "5.00".into(),
        }),
        _ => None,
    };
    CheckoutSpec {
        billing_address: Some(billing),
        shipping_address: Some(address),
        shipping_lines: vec![ShippingLineInput {
            title: title.into(),
            code: Some(code.into()),
            price: price.into(),
        }],
        tax_lines: vec![TaxRateInput {
            title: "VAT".into(),
            rate: "0.2".into(),
        }],
        discount_code,
        gateway: Some("shopify_payments".into()),
        note: rng
            .random_bool(0.2)
            .then(|| "Leave with the porter.".into()),
        financial_status: None,
    }
}

/// Runs the demo and returns its report (drift 0 means both systems agree).
pub async fn run(opts: DemoOptions) -> Result<DemoReport> {
    match opts.storefront {
        Storefront::Shopify => {}
        Storefront::WooCommerce => {
            return crate::demo_storefront::run::<crate::demo_woo::Woo>(opts).await;
        }
        Storefront::BigCommerce => {
            return crate::demo_storefront::run::<crate::demo_bc::Bc>(opts).await;
        }
        Storefront::Magento => {
            return crate::demo_storefront::run::<crate::demo_magento::Mg>(opts).await;
        }
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = match &opts.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            anyhow::ensure!(
                !d.join("weft.db").exists(),
                "{} already holds a weft.db; pick an empty directory",
                d.display()
            );
            d.clone()
        }
        None => tmp.path().to_owned(),
    };
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("weft.db").display()
    ))
    .await
    .context("cannot open the demo database")?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })?;
    let stock = |name: &str| -> Result<Arc<weft_runtime::Plugin>> {
        let bytes = weft_plugin_artifacts::stock(name)
            .ok_or_else(|| anyhow!("stock plugin {name} is not embedded in this build"))?;
        Ok(runtime.load(name, bytes)?)
    };
    let mapper = stock("shopify-netsuite")?;
    let owners = stock("system-of-record")?;
    let counter = stock("counter-merge")?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);

    say(&opts, "starting simulators");
    let mut stores = Vec::new();
    for i in 0..opts.stores {
        stores.push(start_store(&opts, i).await?);
    }
    let mut setups = Vec::new();
    for s in &stores {
        let creds = s
            .netsuite
            .credentials()
            .into_iter()
            .next()
            .map(connector_credentials)
            .context("the NetSuite simulator has no credentials")?;
        let mut plugin_config = demo_mapper_config(s.location);
        plugin_config["owners"] =
            json!({ "*": "netsuite", "variant.title": "shopify", "customer.*": "shopify" });
        setups.push(StoreSetup {
            id: s.id.clone(),
            systems: sim_systems(
                &opts,
                &s.id,
                &s.shopify,
                &s.shopify_url,
                &s.netsuite_url,
                creds,
                &s.netsuite,
            ),
            mapper: mapper.clone().into(),
            resolvers: vec![
                ("inventory-level.quantity".into(), counter.clone().into()),
                ("*".into(), owners.clone().into()),
            ],
            plugin_config: plugin_config.as_object().cloned().unwrap_or_default(),
            limits: Limits::default(),
            timing: Timing {
                poll_interval: Duration::from_secs(3),
                process_idle: Duration::from_millis(50),
                dispatch_idle: Duration::from_millis(50),
                ..Timing::default()
            },
            poll_overlap: Duration::from_secs(5),
            public_url: None,
            stock: Default::default(),
            ownership: opts.ownership.clone(),
            deletes: weft_engine::DeletePolicy {
                kinds: ["variant", "product"]
                    .iter()
                    .map(|k| ((*k).to_owned(), opts.delete_action))
                    .collect(),
                ..Default::default()
            },
        });
    }
    let host = Host::start(db.clone(), &runtime, setups, "127.0.0.1:0".parse()?).await?;
    for s in &stores {
        subscribe_shopify(
            &s.shopify,
            &format!("http://{}/webhooks/shopify/{}", host.addr, s.id),
        )?;
        crate::demo_push::deploy(&opts, &s.netsuite, host.addr, &s.id);
    }

    say(&opts, "initial sync: NetSuite catalog to Shopify");
    host.poll_now();
    settle(&host, &stores, &opts).await?;
    for s in &mut stores {
        let missing: Vec<_> = s
            .skus
            .iter()
            .filter(|sku| s.shopify.variant_by_sku(sku).is_none())
            .cloned()
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "store {}: the initial sync did not create {} products in Shopify (e.g. {})",
            s.id,
            missing.len(),
            missing[0]
        );
        for k in 0..4 {
            // Some buyers with an address book: a home address, and a company one as default.
            let address = |company: Option<&str>, street: &str| Address {
                first_name: Some(format!("Buyer{k}")),
                last_name: Some("Demo".into()),
                company: company.map(str::to_owned),
                address1: Some(street.into()),
                city: Some("London".into()),
                country_code: Some("GB".into()),
                zip: Some(format!("SW1A {k}AA")),
                ..Address::default()
            };
            let addresses = match k {
                0 => Some(vec![
                    address(Some("Demo Ltd"), "1 Market St"),
                    address(None, "2 Home Rd"),
                ]),
                1 => Some(vec![address(None, "3 Park Ln")]),
                _ => None,
            };
            let id = s
                .shopify
                .create_customer(CustomerFields {
                    email: Some(format!("buyer{k}@{}.example", s.id)),
                    first_name: Some(format!("Buyer{k}")),
                    last_name: Some("Demo".into()),
                    addresses,
                    // The company buyer is tax exempt and a wholesale account; two buyers
                    // subscribed to email marketing, one still confirming.
                    tags: Some(match k {
                        0 => vec!["wholesale".into(), "vip".into()],
                        1 => vec!["newsletter".into()],
                        _ => Vec::new(),
                    }),
                    tax_exempt: Some(k == 0),
                    email_marketing: Some(
                        match k {
                            0 | 1 => "SUBSCRIBED",
                            2 => "PENDING",
                            _ => "NOT_SUBSCRIBED",
                        }
                        .into(),
                    ),
                    ..CustomerFields::default()
                })
                .map_err(|e| anyhow!("{e}"))?;
            s.customers.push(id);
        }
    }
    settle(&host, &stores, &opts).await?;

    say(
        &opts,
        &format!("generating {} events with webhook chaos", opts.events),
    );
    let mut report = DemoReport {
        seed: opts.seed,
        stores: opts.stores,
        events: opts.events,
        ..DemoReport::default()
    };
    let bar = progress_bar(&opts, opts.events as u64);
    // Deletions (Shopify) and deactivations (NetSuite) alternate, spread evenly over the run.
    let deletions = 2 * opts.deletes;
    for n in 0..opts.events {
        for j in 0..deletions {
            if n == (j + 1) * opts.events / (deletions + 1) {
                for s in &mut stores {
                    if j % 2 == 0 {
                        delete_in_shopify(s, j / 2, &mut rng, &mut report)?;
                    } else {
                        deactivate_in_netsuite(s, &mut rng, &mut report)?;
                    }
                }
            }
        }
        let si = rng.random_range(0..stores.len());
        let s = &mut stores[si];
        let sku = s.skus[rng.random_range(0..s.skus.len())].clone();
        let roll = rng.random_range(0..100);
        if roll < 55 {
            report.merchant_events += 1;
            // The merchant cannot edit a product they deleted, and an archived one takes no
            // orders: those become a customer's edit.
            let roll = if s.deleted.contains(&sku)
                || (s.deactivated.contains(&sku) && (20..45).contains(&roll))
            {
                54
            } else {
                roll
            };
            merchant_event(s, &sku, roll, &mut rng)?;
        } else if roll < 65 {
            report.erp_events += 1;
            if let Some(partial) = erp_fulfil(s, &mut rng) {
                report.fulfilments += 1;
                report.partial_fulfilments += usize::from(partial);
            }
        } else {
            report.erp_events += 1;
            erp_event(s, &sku, roll, &mut rng)?;
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
        if n % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    say(&opts, "letting webhooks, polls and writes settle");
    if opts.deletes > 0 {
        // A full read of every system, as the schedule's full resync would: it finds the
        // products whose delete webhook the chaos dropped.
        for s in &stores {
            s.shopify.wait_webhooks_idle(opts.settle_timeout).await;
        }
        let requests = host.resync_now();
        let deadline = Instant::now() + opts.settle_timeout;
        while !host.polled_since(&requests) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the full read did not finish within {:?}",
                opts.settle_timeout
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    settle(&host, &stores, &opts).await?;

    // The warehouse ships about half of the orders now that NetSuite has them all, some in
    // part: a sale must leave NetSuite's on hand once, at shipping, and move nothing else.
    say(&opts, "shipping orders from NetSuite");
    for s in &mut stores {
        for _ in 0..s.orders.len() / 2 {
            if let Some(partial) = erp_fulfil(s, &mut rng) {
                report.fulfilments += 1;
                report.partial_fulfilments += usize::from(partial);
            }
        }
    }
    settle(&host, &stores, &opts).await?;

    // Shoppers change orders that have not shipped: the merchant edits them in Shopify (a line
    // lowered or removed, a variant added) or refunds units before they ship (`CANCEL`). The
    // sales order's lines must follow once: NetSuite commits what is still ordered. These
    // orders are not shipped afterwards.
    say(&opts, "editing unshipped orders in Shopify");
    for s in &mut stores {
        for _ in 0..s.orders.len().div_ceil(2) {
            shopper_edit(s, &mut rng)?;
        }
    }
    settle(&host, &stores, &opts).await?;

    // Shoppers send some of what shipped back, and the merchant refunds it in Shopify: all or
    // part, returned to stock or not. Each refund must be one NetSuite credit memo, and a
    // returned unit must come back on hand in NetSuite once.
    say(&opts, "refunding returns in Shopify");
    for s in &mut stores {
        for _ in 0..s.shipments.len().div_ceil(3) {
            shopper_refund(s, &mut rng)?;
        }
    }
    settle(&host, &stores, &opts).await?;

    say(&opts, "verifying both systems field by field");
    for s in &stores {
        let ctx = StoreCtx {
            store_id: s.id.clone(),
            config: demo_mapper_config(s.location)
                .as_object()
                .cloned()
                .unwrap_or_default(),
            limits: Limits::default(),
        };
        let m = runtime.mapper(&mapper, ctx)?;
        let drifted = verify(s, &m, &mut report).await?;
        report
            .drift_lineage
            .extend(drift_lineage(&db, &s.id, &drifted).await);
        let status = db.status(&s.id).await?;
        let c = |k: &str| status.counters.get(k).copied().unwrap_or(0);
        report.recovered += c("recovered");
        crate::demo_push::report(&mut report, &s.netsuite, &status.counters);
        report.duplicates_ignored += c("duplicate_ignored")
            + status
                .counters
                .iter()
                .filter(|(k, _)| k.starts_with("journal_duplicate_"))
                .map(|(_, v)| *v)
                .sum::<i64>();
        report.stale_ignored += status
            .counters
            .iter()
            .filter(|(k, _)| k.starts_with("stale_ignored"))
            .map(|(_, v)| *v)
            .sum::<i64>();
        report.conflicts_resolved += c("conflicts_resolved");
        report.changes_reverted += c("changes_reverted");
        report.stock_overridden += c("stock_overridden");
        report.writes_applied += c("writes_applied");
        report.writes_stale += c("writes_stale");
        report.deletes_applied += c("deletes_applied");
        report.children_removed += c("children_removed");
        report.deletes_held += c("deletes_held");
        for h in db.held_deletes(&s.id).await? {
            report.dead_letter_details.push(format!(
                "{} held deletion of {} {} {} ({} {} records): {}",
                s.id, h.system, h.kind, h.entity_id, h.records, h.record_kind, h.reason
            ));
        }
        report.deletes_recreated += c("deletes_recreated");
        report.deletes_removing += c("deletes_removing");
        report.deletes_echoed += c("deletes_echoed");
        report.delete_webhooks_dropped += s
            .shopify
            .webhook_log()
            .iter()
            .filter(|d| d.dropped && d.topic == weft_sim_shopify::Topic::ProductsDelete)
            .count() as u64;
        report.dead_letters += status.outbox.dead;
        for d in db.list_dead_letters(Some(&s.id), 20).await? {
            report.dead_letter_details.push(format!(
                "{} {} {}/{} {}: {}",
                d.store_id,
                d.system,
                d.kind,
                d.key,
                d.op,
                d.last_error.unwrap_or_default()
            ));
        }
        let ws = s.shopify.webhook_stats();
        report.webhooks_sent += ws.deliveries;
        report.webhooks_dropped += ws.dropped;
        report.webhooks_duplicated += ws.duplicated;
        report.webhooks_reordered += ws.reordered;
        report.webhooks_late += ws.late;
        let ss = s.shopify.stats();
        report.throttled +=
            ss.throttled_graphql + ss.throttled_rest + s.netsuite.stats().over_limit;
        report.orders += s.orders.len();
    }
    host.stop().await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn start_store(opts: &DemoOptions, i: usize) -> Result<DemoStore> {
    let seed = opts.seed.wrapping_mul(1000).wrapping_add(i as u64);
    let shopify = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(seed)
            .chaos(ChaosConfig {
                drop_rate: opts.drop_rate,
                duplicate_rate: opts.duplicate_rate,
                reorder_window_ms: opts.reorder_ms,
                late_rate: opts.late_rate,
                ..ChaosConfig::default()
            })
            .time_compression(3600.0)
            .plan(opts.shopify_plan)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .map_err(|e| anyhow!("{e}"))?,
    );
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(seed)).map_err(|e| anyhow!("{e}"))?;
    let sh = shopify
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let ns = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let shopify_url = sh.base_url.clone();
    let netsuite_url = ns.base_url();
    let location = *shopify
        .location_ids()
        .first()
        .context("the Shopify simulator has no location")?;
    // The shop also sells in euros, through a market whose price list weft fills with
    // NetSuite's euro prices.
    shopify
        .create_price_list("Europe", DEMO_CURRENCY.0, 0.92)
        .map_err(|e| anyhow!("{e}"))?;
    // Its custom collections, and a smart one whose rules decide its products (weft leaves
    // it alone).
    for handle in DEMO_COLLECTIONS {
        shopify
            .create_collection(&handle.to_uppercase(), Some(handle), false)
            .map_err(|e| anyhow!("{e}"))?;
    }
    shopify
        .create_collection("Everything", Some("everything"), true)
        .map_err(|e| anyhow!("{e}"))?;
    let mut skus = Vec::new();
    let mut groups = BTreeMap::new();
    let mut stock = BTreeMap::new();
    for k in 0..opts.items {
        let sku = format!("S{i}-{k:04}");
        let group = option_group(i, k);
        let mut body = match &group {
            Some((handle, _)) => catalog_fields(handle, k),
            None => catalog_fields(&format!("product {k}"), k),
        };
        body["externalId"] = json!(format!("item-{sku}"));
        body["itemId"] = json!(sku);
        body["isInactive"] = json!(false);
        body["basePrice"] = json!(10.0 + k as f64);
        // Whole cents, as NetSuite keeps a currency amount (9.00, 9.90, 10.80, ...).
        body["price"] = json!({ "items": [euro_line((900 + 90 * k) as f64 / 100.0)] });
        // Collections are the product's: one value per option group.
        let slot = if group.is_some() { k / 10 } else { k };
        body["custitem_web_collections"] = json!(["basics", "basics, summer", ""][slot % 3]);
        if let Some((handle, options)) = &group {
            let eid = format!("product-{handle}");
            let exists = netsuite
                .records(RecordType::InventoryItem)
                .iter()
                .any(|r| r["externalId"] == json!(eid));
            if !exists {
                let mut parent = catalog_fields(handle, k);
                parent["externalId"] = json!(eid);
                parent["itemId"] = json!(handle);
                parent["matrixType"] = json!("PARENT");
                netsuite
                    .erp_create(RecordType::InventoryItem, parent)
                    .map_err(|e| anyhow!("{e:?}"))?;
            }
            body["matrixType"] = json!("CHILD");
            body["parent"] = json!({"externalId": eid});
            for (field, value) in options {
                body[format!("matrixOption{field}")] = json!({"refName": value});
            }
            groups.insert(sku.clone(), handle.clone());
        }
        let id = netsuite
            .erp_create(RecordType::InventoryItem, body)
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(
                &id,
                NS_LOCATION,
                OPENING_STOCK as f64,
                Some("opening stock"),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        stock.insert(
            sku.clone(),
            StockLedger {
                item_id: id,
                opening: OPENING_STOCK,
                ..StockLedger::default()
            },
        );
        skus.push(sku);
    }
    Ok(DemoStore {
        id: format!("store-{}", i + 1),
        shopify,
        netsuite,
        _servers: (sh, ns),
        shopify_url,
        netsuite_url,
        location,
        skus,
        groups,
        added_sizes: 0,
        customers: Vec::new(),
        orders: Vec::new(),
        order_skus: BTreeMap::new(),
        shipments: Vec::new(),
        cancelled: BTreeSet::new(),
        edited: BTreeSet::new(),
        edits: (0, 0, 0),
        cancel_refunds: 0,
        refunds: Vec::new(),
        stock,
        deleted: BTreeSet::new(),
        delete_action: opts.delete_action,
        deactivated: BTreeSet::new(),
    })
}

fn merchant_event(s: &mut DemoStore, sku: &str, roll: u32, rng: &mut ChaCha8Rng) -> Result<()> {
    let err = |e: weft_sim_shopify::SimError| anyhow!("{e}");
    match roll {
        0..20 => {
            let variant = s
                .shopify
                .variant_by_sku(sku)
                .with_context(|| format!("no Shopify variant for {sku}"))?;
            let cents = rng.random_range(500..9000);
            s.shopify
                .edit_variant(
                    variant,
                    VariantEdit {
                        price: Some(format!("{}.{:02}", cents / 100, cents % 100)),
                        ..VariantEdit::default()
                    },
                )
                .map_err(err)?;
        }
        20..45 => {
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            let quantity = rng.random_range(1..3);
            let checkout = demo_checkout(rng, s.orders.len());
            let order = s
                .shopify
                .place_order(NewOrder {
                    customer_id: Some(customer.to_string()),
                    line_items: vec![NewOrderLine {
                        sku: Some(sku.to_owned()),
                        quantity,
                        ..NewOrderLine::default()
                    }],
                    checkout,
                    ..NewOrder::default()
                })
                .map_err(err)?;
            s.orders.push(order);
            s.order_skus.insert(order, (sku.to_owned(), quantity));
            s.stock.entry(sku.to_owned()).or_default().ordered += quantity;
        }
        45..50 if !s.orders.is_empty() => {
            // The shopper cancels an order that has not shipped; its units go back on sale.
            let order = s.orders[rng.random_range(0..s.orders.len())];
            let shipped = s.shipments.iter().any(|(o, _, _)| *o == order);
            // (An order of a product the merchant deleted is not restocked: nothing to put
            // the units back on in Shopify.)
            if !shipped
                && !s.cancelled.contains(&order)
                && let Some((sku, units)) = s.order_skus.get(&order).cloned()
                && !s.deleted.contains(&sku)
            {
                s.shopify
                    .cancel_order_with(order, true, "CUSTOMER")
                    .map_err(err)?;
                s.cancelled.insert(order);
                s.stock.entry(sku).or_default().cancelled += units;
            }
        }
        50..54 if !s.shipments.is_empty() => shopper_refund(s, rng)?,
        _ => {
            // A change to a customer's phone, tags, tax exemption or marketing consent.
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            let edit = match rng.random_range(0..4) {
                0 => CustomerFields {
                    phone: Some(format!("+4420{:07}", rng.random_range(0..10_000_000))),
                    ..CustomerFields::default()
                },
                1 => CustomerFields {
                    tags: Some(
                        ["vip", "wholesale", "newsletter", "returns"]
                            .into_iter()
                            .filter(|_| rng.random_bool(0.5))
                            .map(str::to_owned)
                            .collect(),
                    ),
                    ..CustomerFields::default()
                },
                2 => CustomerFields {
                    tax_exempt: Some(rng.random_bool(0.5)),
                    ..CustomerFields::default()
                },
                _ => CustomerFields {
                    email_marketing: Some(
                        ["SUBSCRIBED", "UNSUBSCRIBED", "PENDING"][rng.random_range(0..3)].into(),
                    ),
                    ..CustomerFields::default()
                },
            };
            s.shopify.edit_customer(customer, edit).map_err(err)?;
        }
    }
    Ok(())
}

/// A shopper's change to an order that has not shipped (nor been cancelled or changed
/// before), made by the merchant in Shopify: one unit fewer (restocked) or, of a one-unit line,
/// one more, the line removed and another variant added, a variant added, or one unit refunded
/// before shipping (`CANCEL`).
fn shopper_edit(s: &mut DemoStore, rng: &mut ChaCha8Rng) -> Result<()> {
    let err = |e: weft_sim_shopify::SimError| anyhow!("{e}");
    let order = s.orders[rng.random_range(0..s.orders.len())];
    if s.cancelled.contains(&order)
        || s.edited.contains(&order)
        || s.shipments.iter().any(|(o, _, _)| *o == order)
    {
        return Ok(());
    }
    let Some((sku, units)) = s.order_skus.get(&order).cloned() else {
        return Ok(());
    };
    let Some((_, lines)) = s.shopify.order_lines(order) else {
        return Ok(());
    };
    let Some(&line) = lines.first() else {
        return Ok(());
    };
    let other = s.skus[rng.random_range(0..s.skus.len())].clone();
    let Some(other_variant) = s.shopify.variant_by_sku(&other) else {
        return Ok(());
    };
    s.edited.insert(order);
    match rng.random_range(0..4) {
        0 if units > 1 => {
            s.shopify
                .edit_order(order, vec![(line, units - 1, true)], vec![])
                .map_err(err)?;
            s.stock.entry(sku).or_default().edited += 1;
            s.edits.0 += 1;
        }
        0 if !s.deleted.contains(&sku) => {
            // One unit more of the same line.
            s.shopify
                .edit_order(order, vec![(line, units + 1, false)], vec![])
                .map_err(err)?;
            s.stock.entry(sku.clone()).or_default().ordered += 1;
            s.order_skus.insert(order, (sku, units + 1));
            s.edits.0 += 1;
            s.edits.2 += 1;
        }
        1 => {
            s.shopify
                .edit_order(order, vec![(line, 0, true)], vec![(other_variant, 1)])
                .map_err(err)?;
            s.stock.entry(sku).or_default().edited += units;
            s.stock.entry(other).or_default().ordered += 1;
            s.edits.0 += 1;
            s.edits.1 += 1;
        }
        2 => {
            s.shopify
                .edit_order(order, vec![], vec![(other_variant, 2)])
                .map_err(err)?;
            s.stock.entry(other).or_default().ordered += 2;
            s.edits.0 += 1;
            s.edits.1 += 1;
        }
        _ => {
            let refund = s
                .shopify
                .refund_order(
                    order,
                    vec![weft_sim_shopify::lifecycle::RefundLineSpec {
                        line_item_id: line,
                        quantity: 1,
                        restock_type: "CANCEL".to_owned(),
                        location_id: None,
                    }],
                    Some("shopper changed their mind".to_owned()),
                )
                .map_err(err)?;
            s.refunds.push((order, refund, 1, false));
            s.stock.entry(sku).or_default().edited += 1;
            s.cancel_refunds += 1;
        }
    }
    Ok(())
}

/// A shopper's refund of units Shopify shows shipped, made by the merchant: one or all of
/// them, returned to stock (`RETURN`) or not (`NO_RESTOCK`), at most two refunds per order
/// (the reconciliation poll reads an order's first two). An order with nothing left to
/// refund, or whose fulfilment has not reached Shopify yet, is left alone.
fn shopper_refund(s: &mut DemoStore, rng: &mut ChaCha8Rng) -> Result<()> {
    let order = s.shipments[rng.random_range(0..s.shipments.len())].0;
    if s.refunds.iter().filter(|r| r.0 == order).count() >= 2 {
        return Ok(());
    }
    let Some((sku, _)) = s.order_skus.get(&order).cloned() else {
        return Ok(());
    };
    if s.deleted.contains(&sku) {
        // Its product is gone from Shopify: nothing to return the units to.
        return Ok(());
    }
    let shipped: i64 = s.shopify.fulfillments(order).iter().map(|f| f.units).sum();
    let refunded: i64 = s.refunds.iter().filter(|r| r.0 == order).map(|r| r.2).sum();
    let left = shipped - refunded;
    let Some((_, lines)) = s.shopify.order_lines(order) else {
        return Ok(());
    };
    if left <= 0 || lines.is_empty() {
        return Ok(());
    }
    let units = if left > 1 && rng.random_range(0..2) == 0 {
        1
    } else {
        left
    };
    let restock = rng.random_range(0..3) != 0;
    let refund = s
        .shopify
        .refund_order(
            order,
            vec![weft_sim_shopify::lifecycle::RefundLineSpec {
                line_item_id: lines[0],
                quantity: units,
                restock_type: if restock { "RETURN" } else { "NO_RESTOCK" }.to_owned(),
                location_id: None,
            }],
            Some("shopper return".to_owned()),
        )
        .map_err(|e| anyhow!("{e}"))?;
    s.refunds.push((order, refund, units, restock));
    if restock {
        s.stock.entry(sku).or_default().restocked += units;
    }
    Ok(())
}

/// Checks that every Shopify refund (`refunds`: order, refund id, units, returned to stock)
/// is exactly one NetSuite credit memo (external id from the refund) with one line: the
/// units on the order's item at the demo location when returned, else on the refund item;
/// and that NetSuite has no credit memo no refund made. Each problem is one drift;
/// `records_compared` counts refunds.
pub(crate) fn verify_refunds(
    netsuite: &NetSuiteSim,
    refunds: &[(u64, u64, i64, bool)],
    item_of_order: impl Fn(u64) -> Option<String>,
) -> Verification {
    let mut report = Verification::default();
    let memos = netsuite.records(RecordType::CreditMemo);
    for (order, refund, units, restock) in refunds {
        report.records_compared += 1;
        let eid = format!("shopify-refund-{order}_23{refund}");
        let found: Vec<&Value> = memos
            .iter()
            .filter(|m| m["externalId"] == json!(eid))
            .collect();
        let [memo] = found[..] else {
            drift(
                &mut report,
                format!(
                    "refund {refund} of order {order}: {} NetSuite credit memos, expected 1",
                    found.len()
                ),
            );
            continue;
        };
        let lines = memo["item"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let want_item = if *restock {
            item_of_order(*order)
        } else {
            Some(weft_sim_netsuite::NON_INVENTORY_REFUND_ITEM.to_string())
        };
        let ok = lines.len() == 1
            && Some(
                lines[0]["item"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ) == want_item
            && lines[0]["quantity"].as_f64() == Some(*units as f64)
            && (!restock || lines[0]["location"]["id"] == json!(NS_LOCATION));
        if !ok {
            drift(
                &mut report,
                format!(
                    "refund {refund} of order {order} ({units} units, returned {restock}): NetSuite credit memo {eid} has lines {}",
                    Value::Array(lines)
                ),
            );
        }
    }
    for m in &memos {
        let eid = m["externalId"].as_str().unwrap_or_default();
        if !refunds
            .iter()
            .any(|(o, r, _, _)| eid == format!("shopify-refund-{o}_23{r}"))
        {
            drift(
                &mut report,
                format!(
                    "NetSuite credit memo {eid} ({}) that no refund made",
                    m["id"]
                ),
            );
        }
    }
    report
}

/// A size added to the option group of `sku` in NetSuite: a new child item of its matrix
/// parent, which weft must add to the same Shopify product as a variant (checked by
/// [`verify`]). The new SKU joins the stock ledger (opening 0) but not the SKUs later events
/// pick, as it reaches Shopify only once weft has synced it.
fn add_size(s: &mut DemoStore, sku: &str) -> Result<()> {
    let handle = s.groups[sku].clone();
    let template = s
        .netsuite
        .records(RecordType::InventoryItem)
        .into_iter()
        .find(|r| r["externalId"] == json!(format!("item-{sku}")))
        .with_context(|| format!("no NetSuite item for {sku}"))?;
    s.added_sizes += 1;
    let size = format!("XL{}", s.added_sizes);
    let new_sku = format!("{sku}-{size}");
    let mut body = json!({
        "externalId": format!("item-{new_sku}"),
        "itemId": new_sku,
        "isInactive": false,
        "basePrice": 15.0,
        "matrixType": "CHILD",
        "parent": {"externalId": format!("product-{handle}")},
    });
    // The product-level fields of its siblings (the parent's, in NetSuite's terms).
    for k in [
        "displayName",
        "salesDescription",
        "vendorName",
        "custitem_web_product_type",
        "custitem_web_category",
        "custitem_web_tags",
        "custitem_web_images",
        "pageTitle",
        "storeDescription",
        "custitem_material",
        "custitem_web_collections",
        "weight",
    ] {
        if let Some(v) = template.get(k) {
            body[k] = v.clone();
        }
    }
    body["weightUnit"] = json!({"id": "3"});
    for (k, v) in template.as_object().into_iter().flatten() {
        if k.starts_with("matrixOption") {
            let value = if k == "matrixOptioncustitem_size" {
                json!(size)
            } else {
                v["refName"].clone()
            };
            body[k.as_str()] = json!({ "refName": value });
        }
    }
    let id = s
        .netsuite
        .erp_create(RecordType::InventoryItem, body)
        .map_err(|e| anyhow!("{e:?}"))?;
    s.groups.insert(new_sku.clone(), handle);
    s.stock.insert(
        new_sku,
        StockLedger {
            item_id: id,
            ..StockLedger::default()
        },
    );
    Ok(())
}

/// Whether nobody deleted `sku` or made it inactive yet.
fn untouched(s: &DemoStore, sku: &str) -> bool {
    !s.deleted.contains(sku) && !s.deactivated.contains(sku)
}

/// The SKUs of each option group whose SKUs nobody deleted or made inactive, by handle. (Not
/// one a size was added to in NetSuite: the size may not be in Shopify yet.)
fn untouched_groups(s: &DemoStore) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for (sku, handle) in &s.groups {
        groups.entry(handle).or_default().push(sku.clone());
    }
    groups
        .into_values()
        .filter(|skus| skus.iter().all(|k| untouched(s, k) && s.skus.contains(k)))
        .collect()
}

/// The merchant's deletion number `j` of the run, in turn: the product of one SKU of its own,
/// every variant of an option group (the product), one variant of an option group (the
/// product keeps the others), among those nobody deleted or made inactive yet. The ERP goes on editing its items (prices, receipts, descriptions);
/// none of that may bring the product back in Shopify. (A size added to the deleted group in
/// NetSuite would be a new record that weft creates in Shopify as a product of its own: the
/// demo adds none there.)
fn delete_in_shopify(
    s: &mut DemoStore,
    j: usize,
    rng: &mut ChaCha8Rng,
    report: &mut DemoReport,
) -> Result<()> {
    if j % 3 == 2 {
        return remove_variant_in_shopify(s, rng, report);
    }
    let mut candidates: Vec<Vec<String>> = if j % 3 == 1 {
        // Option groups with every SKU untouched, smallest first (a cap's two sizes).
        let mut g = untouched_groups(s);
        g.sort_by_key(Vec::len);
        let smallest = g.first().map_or(0, Vec::len);
        g.retain(|skus| skus.len() == smallest);
        g
    } else {
        Vec::new()
    };
    if candidates.is_empty() {
        candidates = s
            .skus
            .iter()
            .filter(|k| !s.groups.contains_key(*k) && untouched(s, k))
            .map(|k| vec![k.clone()])
            .collect();
    }
    anyhow::ensure!(
        !candidates.is_empty(),
        "store {}: no product left to delete",
        s.id
    );
    let skus = candidates.swap_remove(rng.random_range(0..candidates.len()));
    let product = s
        .shopify
        .variant_by_sku(&skus[0])
        .and_then(|v| s.shopify.product_of_variant(v))
        .with_context(|| format!("no Shopify product for {}", skus[0]))?;
    // The first deletion of each store is never delivered (its subscription is gone while the
    // merchant deletes, as when Shopify removed it after failed deliveries): only a full read
    // can find it. The chaos may drop others.
    let lose = j == 0;
    let subscriptions: Vec<_> = s
        .shopify
        .subscriptions()
        .into_iter()
        .filter(|x| lose && x.topic == weft_sim_shopify::Topic::ProductsDelete)
        .collect();
    for x in &subscriptions {
        s.shopify.unsubscribe_webhook(x.id);
    }
    let deleted = s.shopify.delete_product(product);
    for x in &subscriptions {
        s.shopify
            .subscribe_webhook(x.topic, &x.uri)
            .map_err(|e| anyhow!("{e}"))?;
    }
    deleted.map_err(|e| anyhow!("{e}"))?;
    report.delete_webhooks_lost += subscriptions.len() as u64;
    report.products_deleted += 1;
    report.skus_deleted += skus.len();
    s.deleted.extend(skus);
    Ok(())
}

/// Refuses a `--deletes` that the store's mass-delete guard (its default `[deletes]`: more
/// than 10% of a kind, at least 3 records, within a minute) would hold for an operator: the
/// run's deletions come within a minute of each other, and a held deletion is never archived,
/// so the run would report drift it was asked to cause. Each store's deletion `j` removes one
/// SKU (`j % 3 == 0`), an option group of at least two (`1`), or one variant of a group (`2`,
/// outside the guard).
pub fn deletes_fit_the_guard(deletes: usize, items: usize) -> Result<()> {
    let guard = weft_engine::DeletePolicy::default();
    let removed: usize = (0..deletes)
        .map(|j| match j % 3 {
            0 => 1,
            1 => 2,
            _ => 0,
        })
        .sum();
    let held = removed as u64 >= guard.guard_min
        && (removed as u64) * 100 > guard.guard_percent * items as u64;
    anyhow::ensure!(
        !held,
        "--deletes {deletes} deletes {removed} of each store's {items} items within about a minute, \
         more than the mass-delete guard lets through ({}%): it would hold them for an operator; \
         use --items {} or more",
        guard.guard_percent,
        (removed as u64 * 100).div_ceil(guard.guard_percent.max(1))
    );
    Ok(())
}

/// The merchant deletes one variant of an option group whose variants nobody deleted or made
/// inactive (Shopify keeps the product with the others; its `products/update` goes through the
/// chaos, so a read may be what finds it): weft archives that item in NetSuite and never
/// recreates the variant. A store without such a group deletes a product instead.
fn remove_variant_in_shopify(
    s: &mut DemoStore,
    rng: &mut ChaCha8Rng,
    report: &mut DemoReport,
) -> Result<()> {
    let mut candidates = untouched_groups(s);
    candidates.retain(|skus| skus.len() >= 2);
    if candidates.is_empty() {
        return delete_in_shopify(s, 0, rng, report);
    }
    let group = &candidates[rng.random_range(0..candidates.len())];
    let sku = group[rng.random_range(0..group.len())].clone();
    let variant = s
        .shopify
        .variant_by_sku(&sku)
        .with_context(|| format!("no Shopify variant for {sku}"))?;
    s.shopify
        .delete_variant(variant)
        .map_err(|e| anyhow!("{e}"))?;
    report.variants_deleted += 1;
    report.skus_deleted += 1;
    s.deleted.insert(sku);
    Ok(())
}

/// The ERP makes one item of its own (no option group) inactive, among those nobody deleted or
/// made inactive yet: weft archives its Shopify product.
fn deactivate_in_netsuite(
    s: &mut DemoStore,
    rng: &mut ChaCha8Rng,
    report: &mut DemoReport,
) -> Result<()> {
    let candidates: Vec<String> = s
        .skus
        .iter()
        .filter(|k| {
            !s.groups.contains_key(*k) && !s.deleted.contains(*k) && !s.deactivated.contains(*k)
        })
        .cloned()
        .collect();
    anyhow::ensure!(
        !candidates.is_empty(),
        "store {}: no item left to make inactive",
        s.id
    );
    let sku = candidates[rng.random_range(0..candidates.len())].clone();
    s.netsuite
        .erp_update(
            RecordType::InventoryItem,
            &format!("eid:item-{sku}"),
            json!({ "isInactive": true }),
        )
        .map_err(|e| anyhow!("{e:?}"))?;
    report.items_deactivated += 1;
    s.deactivated.insert(sku);
    Ok(())
}

/// Checks the run's deletions against the store's `[deletes]` policy: a SKU whose Shopify
/// product was deleted is in no Shopify product (never recreated) and its NetSuite item is
/// inactive (`archive`), or gone, or inactive because transactions kept it (`delete`); a SKU
/// whose NetSuite item was made inactive is on an archived Shopify product and still inactive
/// in NetSuite; every other SKU is on an active Shopify product and active in NetSuite
/// (nothing archived or removed that nobody deleted). Each problem is one drift;
/// `records_compared` counts the SKUs checked. Returns also the SKUs archived or removed as
/// asked, those kept active, and those removed from NetSuite.
fn verify_deletes(
    s: &DemoStore,
    action: weft_engine::OnDelete,
) -> (Verification, usize, usize, usize) {
    let mut report = Verification::default();
    let (mut archived, mut kept, mut removed) = (0, 0, 0);
    let removing = action == weft_engine::OnDelete::Delete;
    let items = s.netsuite.records(RecordType::InventoryItem);
    let inactive = |sku: &str| -> Option<bool> {
        items
            .iter()
            .find(|r| r["externalId"] == json!(format!("item-{sku}")))
            .map(|r| r["isInactive"] == json!(true))
    };
    let shop_status = |sku: &str| -> Option<String> {
        let product = s
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| s.shopify.product_of_variant(v))?;
        s.shopify.product_json(product)["status"]
            .as_str()
            .map(str::to_ascii_lowercase)
    };
    for sku in s.stock.keys() {
        report.records_compared += 1;
        let erp = inactive(sku);
        let shop = shop_status(sku);
        let (ok, want) = if s.deleted.contains(sku) && removing {
            if erp.is_none() {
                removed += 1;
            }
            (
                shop.is_none() && erp != Some(false),
                "deleted in Shopify: in no Shopify product, removed from NetSuite (or inactive there when transactions keep it)",
            )
        } else if s.deleted.contains(sku) {
            (
                shop.is_none() && erp == Some(true),
                "deleted in Shopify: in no Shopify product, inactive in NetSuite",
            )
        } else if s.deactivated.contains(sku) {
            (
                shop.as_deref() == Some("archived") && erp == Some(true),
                "inactive in NetSuite: archived in Shopify, inactive in NetSuite",
            )
        } else {
            (
                shop.as_deref() == Some("active") && erp == Some(false),
                "kept: active in Shopify and NetSuite",
            )
        };
        match (ok, s.deleted.contains(sku) || s.deactivated.contains(sku)) {
            (true, true) => archived += 1,
            (true, false) => kept += 1,
            (false, _) => drift(
                &mut report,
                format!(
                    "{sku} ({want}): Shopify product status {shop:?}, NetSuite inactive {erp:?}"
                ),
            ),
        }
    }
    (report, archived, kept, removed)
}

/// Fulfils one of the store's Shopify orders in NetSuite, as a warehouse would: all it
/// committed, or one unit of a line of two or more (a partial fulfilment), with a tracking
/// number. An order whose sales order weft has not created yet, or that has nothing left to
/// ship, is left alone. Returns whether it fulfilled, and whether partially.
fn erp_fulfil(s: &mut DemoStore, rng: &mut ChaCha8Rng) -> Option<bool> {
    let order = *s.orders.get(rng.random_range(0..s.orders.len().max(1)))?;
    if s.cancelled.contains(&order) {
        return None;
    }
    let so = format!("eid:shopify-order-{order}");
    let (sku, units) = s.order_skus.get(&order)?.clone();
    let item = s.stock.get(&sku)?.item_id.clone();
    let before = s.netsuite.quantities(&item, NS_LOCATION);
    let partial = rng.random_range(0..2) == 0;
    let tracking = format!("1Z{:016}", rng.random_range(0..10_000_000_000_u64));
    let lines: Vec<(u64, f64)> = if partial { vec![(1, 1.0)] } else { vec![] };
    s.netsuite
        .erp_fulfil(&so, &lines, &[tracking.as_str()], Some("ups"))
        .ok()?;
    let after = s.netsuite.quantities(&item, NS_LOCATION);
    let shipped = (before.on_hand - after.on_hand).round() as i64;
    s.stock.entry(sku).or_default().fulfilled += shipped;
    s.shipments.push((order, tracking, shipped));
    Some(shipped < units)
}

/// A NetSuite pricing-matrix line: the Base Price level's price in the demo's other currency.
fn euro_line(price: f64) -> Value {
    json!({
        "currencyPage": { "id": DEMO_CURRENCY.1 },
        "priceLevel": { "id": "1" },
        "quantity": { "value": 0 },
        "price": price,
    })
}

fn erp_event(s: &mut DemoStore, sku: &str, roll: u32, rng: &mut ChaCha8Rng) -> Result<()> {
    let err = |e: weft_sim_netsuite::NsError| anyhow!("{e:?}");
    let eid = format!("eid:item-{sku}");
    match roll {
        // (Not to a group whose Shopify product the merchant deleted: see `delete_in_shopify`.)
        92..94 if s.groups.contains_key(sku) && s.added_sizes < 3 && !s.deleted.contains(sku) => {
            add_size(s, sku)?
        }
        55..75 => {
            // The price, and in a third of the edits the price in the shop's other currency.
            // (Derived from what is drawn already: a new draw would change the rest of a seed's
            // activity, which tests rely on.)
            let cents: i64 = rng.random_range(500..9000);
            let mut edit = json!({ "basePrice": cents as f64 / 100.0 });
            if roll < 62 {
                let euro_cents = cents * 92 / 100 + roll as i64;
                edit["price"] = json!({ "items": [euro_line(euro_cents as f64 / 100.0)] });
            }
            s.netsuite
                .erp_update(RecordType::InventoryItem, &eid, edit)
                .map_err(err)?;
        }
        75..92 => {
            let units: i64 = rng.random_range(1..20);
            s.netsuite
                .erp_adjust_inventory(&eid, NS_LOCATION, units as f64, Some("receipt"))
                .map_err(err)?;
            s.stock.entry(sku.to_owned()).or_default().received += units;
        }
        _ => {
            // A product-level field: NetSuite applies an edit of a matrix parent to every
            // child ("update matrix children"), so the demo edits the whole option group.
            let n: i32 = rng.random_range(0..1000);
            let description = format!("<p>Revised {n}.</p>");
            let mut edit = json!({ "salesDescription": description });
            if n % 2 == 0 {
                // The product's collections: any of the shop's custom ones, or none (picked by
                // the bits of the number drawn, so the rest of the activity stays the seed's).
                let picked: Vec<&str> = DEMO_COLLECTIONS
                    .into_iter()
                    .enumerate()
                    .filter(|(b, _)| (n >> (b + 1)) & 1 == 1)
                    .map(|(_, c)| c)
                    .collect();
                edit["custitem_web_collections"] = json!(picked.join(", "));
            }
            let siblings: Vec<String> = match s.groups.get(sku) {
                Some(g) => s
                    .groups
                    .iter()
                    .filter(|(_, h)| *h == g)
                    .map(|(k, _)| k.clone())
                    .collect(),
                None => vec![sku.to_owned()],
            };
            for sibling in siblings {
                s.netsuite
                    .erp_update(
                        RecordType::InventoryItem,
                        &format!("eid:item-{sibling}"),
                        edit.clone(),
                    )
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// What the simulated shop's product reads carry: its other currencies (those of its price
/// lists) and its collections if it has any.
fn shop_reads(shop: &ShopifySim) -> platforms::ShopifyReads {
    platforms::ShopifyReads {
        currencies: shop
            .price_lists()
            .into_iter()
            .map(|(_, currency)| currency)
            .collect(),
        collections: !shop.collections().is_empty(),
        ..Default::default()
    }
}

/// A demo store's two systems: the simulated shop at `shop_url` (its first token and its
/// secrets) and the simulated NetSuite account at `netsuite_url` with `creds` (pushes on as
/// `opts` says).
pub(crate) fn sim_systems(
    opts: &DemoOptions,
    store_id: &str,
    shop: &ShopifySim,
    shop_url: &str,
    netsuite_url: &str,
    creds: weft_netsuite::Credentials,
    netsuite: &NetSuiteSim,
) -> Vec<crate::app::SystemSetup> {
    let reads = shop_reads(shop);
    vec![
        platforms::shopify_system_reading(
            weft_shopify::PLATFORM,
            &shop.config().shop_domain,
            shop_url,
            API_VERSION,
            &shop.config().access_tokens[0],
            shop.config()
                .client_secrets
                .iter()
                .map(|x| x.as_bytes().to_vec())
                .collect(),
            reads,
        ),
        crate::demo_push::netsuite_system(
            opts,
            store_id,
            netsuite_url,
            creds,
            netsuite.config().concurrency_limit,
        ),
    ]
}

/// Waits until every store is quiet: webhooks delivered, journal processed, outbox drained, and
/// a final poll round found nothing new.
async fn settle(host: &Host, stores: &[DemoStore], opts: &DemoOptions) -> Result<()> {
    let ids: Vec<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    settle_host(host, &ids, opts.settle_timeout, |left| async move {
        for s in stores {
            s.shopify.wait_webhooks_idle(left).await;
        }
    })
    .await
}

/// Subscribes the simulated shop's webhooks to `url` for the topics weft subscribes to in a
/// real shop (`weft_shopify::webhook::TOPICS`), not every topic the simulator can fire: a topic
/// weft does not read would only be kept as malformed at intake.
pub(crate) fn subscribe_shopify(shop: &ShopifySim, url: &str) -> Result<()> {
    for name in weft_shopify::webhook::TOPICS {
        let topic = weft_sim_shopify::state::Topic::parse(name)
            .ok_or_else(|| anyhow!("the Shopify simulator has no webhook topic {name}"))?;
        shop.subscribe_webhook(topic, url)
            .map_err(|e| anyhow!("cannot subscribe to Shopify's {name} webhooks: {e}"))?;
    }
    Ok(())
}

/// Waits until the sources are idle (`wait_sources`, given the time it may take), then until two
/// rounds in a row are quiet: every poller of every store completed a round started after the
/// request (so the platforms were read afresh), nothing is behind in the journal, queued, in
/// flight or parked, and no store's journal head moved.
///
/// `timeout` is the time allowed without progress: whenever the stores' backlog (entries
/// unprocessed, writes queued or in flight, readings parked) reaches a new low, the deadline
/// moves to at least `timeout / 2` from then, up to three times `timeout` in all. A slow machine
/// catching up is given the time it needs; a run that keeps changing without its backlog ever
/// shrinking (a write repeated without end) still ends at the deadline. On timeout the error
/// names what each store was still doing, so a run that never settles says why.
pub(crate) async fn settle_host<F, Fut>(
    host: &Host,
    ids: &[&str],
    timeout: Duration,
    mut wait_sources: F,
) -> Result<()>
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let mut progress = Progress {
        deadline: started + timeout,
        cap: started + timeout * 3,
        timeout,
        lowest: i64::MAX,
    };
    let mut start_head: HashMap<&str, i64> = HashMap::new();
    for id in ids {
        start_head.insert(id, host.db.status(id).await?.journal_head);
    }
    progress.observe(backlog(host, ids).await?);
    wait_sources(progress.left()).await;
    let mut quiet_rounds = 0;
    let mut last_head: HashMap<&str, i64> = HashMap::new();
    let mut busy: Vec<String> = vec!["no quiet round was observed yet".into()];
    while quiet_rounds < 2 {
        anyhow::ensure!(
            Instant::now() < progress.deadline,
            "weft did not settle within {:?}; still busy: {}",
            started.elapsed(),
            busy.join("; ")
        );
        let requests = host.poll_now();
        let mut checked = Instant::now();
        while !host.polled_since(&requests) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if checked.elapsed() >= Duration::from_secs(1) {
                checked = Instant::now();
                progress.observe(backlog(host, ids).await?);
            }
            if Instant::now() >= progress.deadline {
                // Which pollers are still in a round, and since when.
                let pollers: Vec<String> = host
                    .loops
                    .report()
                    .into_iter()
                    .filter(|l| l.name.starts_with("poll"))
                    .map(|l| format!("{} {}: {}", l.store, l.name, l.detail))
                    .collect();
                // What each store did since the settle began: a round that never ends, or
                // sources that never go idle, show here as the journal moving.
                let mut stores = Vec::new();
                for id in ids {
                    let st = host.db.status(id).await?;
                    let from = last_head
                        .get(id)
                        .or(start_head.get(id))
                        .copied()
                        .unwrap_or(0);
                    stores.push(format!(
                        "store {id}: {} unprocessed, {} writes pending, {} in flight, {} parked, \
                         journal head {} (from {from}{})",
                        st.lag,
                        st.outbox.pending,
                        st.outbox.inflight,
                        st.parked,
                        st.journal_head,
                        journaled_since(host, id, from).await?
                    ));
                }
                anyhow::bail!(
                    "weft did not settle within {:?} (waiting for a poll round); still busy: \
                     {}; pollers: {}; {}",
                    started.elapsed(),
                    busy.join("; "),
                    pollers.join("; "),
                    stores.join("; ")
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        wait_sources(progress.left().min(Duration::from_secs(5))).await;
        busy.clear();
        let mut total = 0;
        for id in ids {
            let st = host.db.status(id).await?;
            total += st.lag + st.outbox.pending + st.outbox.inflight + st.parked;
            let before = last_head.insert(id, st.journal_head);
            let mut what = Vec::new();
            if st.lag > 0 {
                what.push(format!("{} journal entries unprocessed", st.lag));
            }
            if st.outbox.pending > 0 || st.outbox.inflight > 0 {
                what.push(format!(
                    "{} writes pending, {} in flight",
                    st.outbox.pending, st.outbox.inflight
                ));
            }
            if st.parked > 0 {
                what.push(format!("{} stock readings parked", st.parked));
            }
            if before != Some(st.journal_head) {
                let mut line = format!(
                    "journal head moved from {} to {}",
                    before.map_or("none".into(), |h| h.to_string()),
                    st.journal_head
                );
                if let Some(from) = before {
                    line.push_str(&journaled_since(host, id, from).await?);
                }
                what.push(line);
            }
            if !what.is_empty() {
                busy.push(format!("store {id}: {}", what.join(", ")));
            }
        }
        progress.observe(total);
        quiet_rounds = if busy.is_empty() { quiet_rounds + 1 } else { 0 };
    }
    Ok(())
}

/// A settle's deadline, moved on while the backlog keeps reaching new lows.
struct Progress {
    deadline: Instant,
    cap: Instant,
    timeout: Duration,
    lowest: i64,
}

impl Progress {
    fn observe(&mut self, backlog: i64) {
        if backlog < self.lowest {
            self.lowest = backlog;
            let later = (Instant::now() + self.timeout / 2).min(self.cap);
            self.deadline = self.deadline.max(later);
        }
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Entries unprocessed, writes queued or in flight and readings parked, over `ids`.
async fn backlog(host: &Host, ids: &[&str]) -> Result<i64> {
    let mut total = 0;
    for id in ids {
        let st = host.db.status(id).await?;
        total += st.lag + st.outbox.pending + st.outbox.inflight + st.parked;
    }
    Ok(total)
}

/// What a store journaled after `seq`, by system, kind and source, with the entities seen most
/// often: when a run does not settle, this names what keeps changing.
async fn journaled_since(host: &Host, store: &str, seq: i64) -> Result<String> {
    let entries = host.db.journal_range(store, None, None, seq, 2_000).await?;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_entity: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        *by_kind
            .entry(format!("{} {} {}", e.system, e.kind, e.source))
            .or_default() += 1;
        *by_entity
            .entry(format!("{} {} {}", e.system, e.kind, e.entity_id))
            .or_default() += 1;
    }
    let mut top: Vec<(String, usize)> = by_entity.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(5);
    let cut = |v: &str| v.chars().take(400).collect::<String>();
    // The most frequent entity's last documents, and the writes still queued or in flight.
    let mut detail = String::new();
    if let Some((entity, _)) = top.first() {
        for e in entries
            .iter()
            .rev()
            .filter(|e| format!("{} {} {}", e.system, e.kind, e.entity_id) == *entity)
            .take(3)
        {
            detail.push_str(&format!(
                "; seq {} version {}: {}",
                e.seq,
                e.version,
                cut(&e.body.to_string())
            ));
        }
    }
    for status in [
        weft_store::OutboxStatus::Inflight,
        weft_store::OutboxStatus::Pending,
    ] {
        for r in host.db.list_outbox(Some(store), Some(status), 5).await? {
            detail.push_str(&format!(
                "; {} write {} {} {} {} (attempt {}, last error {:?}): {}",
                status.as_str(),
                r.system,
                r.kind,
                r.key,
                r.op,
                r.attempts,
                r.last_error,
                cut(&r.body.to_string())
            ));
        }
    }
    Ok(format!(
        " ({} entries: {by_kind:?}; most often {top:?}{detail})",
        entries.len()
    ))
}

/// Returns the records found to differ (for their lineage).
async fn verify(
    s: &DemoStore,
    mapper: &MapperInstance,
    report: &mut DemoReport,
) -> Result<Vec<(String, String)>> {
    let v = verify_store_except(
        &s.shopify,
        &s.shopify_url,
        &s.netsuite,
        &s.netsuite_url,
        &s.orders,
        mapper,
        &s.deleted,
    )
    .await?;
    // A deleted product's stock is checked in NetSuite only.
    let stock = verify_ledger_except(
        &s.netsuite,
        &s.stock,
        "Shopify available",
        |sku| {
            s.shopify
                .variant_by_sku(sku)
                .and_then(|v| s.shopify.inventory_item_of(v))
                .and_then(|item| s.shopify.available(item, s.location))
        },
        &s.deleted,
    );
    let (deletes, archived, kept, removed) = verify_deletes(s, s.delete_action);
    report.archived_matched += archived;
    report.items_removed += removed;
    report.kept_active += kept;
    report.drift += deletes.drift;
    for d in deletes.drift_details {
        if report.drift_details.len() < 20 {
            report.drift_details.push(d);
        }
    }
    // Each option group is one Shopify product holding every child item as a variant.
    let mut products: BTreeMap<&str, Vec<Option<u64>>> = BTreeMap::new();
    for (sku, handle) in s.groups.iter().filter(|(k, _)| !s.deleted.contains(*k)) {
        let product = s
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| s.shopify.product_of_variant(v));
        products.entry(handle).or_default().push(product);
    }
    for (handle, ids) in products {
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != 1 || distinct[0].is_none() {
            report.drift += 1;
            if report.drift_details.len() < 20 {
                report.drift_details.push(format!(
                    "option group {handle}: its items are Shopify products {ids:?}, not one"
                ));
            }
        }
    }
    let shipped = verify_fulfilments(&s.shopify, &s.orders, &s.shipments);
    let refunded = verify_refunds(&s.netsuite, &s.refunds, |order| {
        let (sku, _) = s.order_skus.get(&order)?;
        Some(s.stock.get(sku)?.item_id.clone())
    });
    report.refunds += s.refunds.len();
    report.refunds_restocked += s.refunds.iter().filter(|r| r.3).count();
    report.partial_refunds += s
        .refunds
        .iter()
        .filter(|(o, _, units, _)| {
            !s.edited.contains(o)
                && s.order_skus
                    .get(o)
                    .is_some_and(|(_, ordered)| units < ordered)
        })
        .count();
    report.refunds_matched +=
        refunded.records_compared - refunded.drift.min(refunded.records_compared);
    report.drift += refunded.drift;
    for d in refunded.drift_details {
        if report.drift_details.len() < 20 {
            report.drift_details.push(d);
        }
    }
    report.cancellations += s.cancelled.len();
    report.order_edits += s.edits.0;
    report.order_edit_additions += s.edits.1;
    report.order_edit_raises += s.edits.2;
    report.refunds_cancelling += s.cancel_refunds;
    report.fulfilments_matched +=
        shipped.records_compared - shipped.drift.min(shipped.records_compared);
    report.drift += shipped.drift;
    for d in shipped.drift_details {
        if report.drift_details.len() < 20 {
            report.drift_details.push(d);
        }
    }
    report.records_compared += v.records_compared;
    report.currency_prices_matched += v.currency_prices_matched;
    report.collections_matched += v.collections_matched;
    if v.collections_matched == 0 && !s.skus.is_empty() {
        report.drift += 1;
        report.drift_details.push(format!(
            "store {}: no product's collections were compared",
            s.id
        ));
    }
    if v.currency_prices_matched == 0 && !s.skus.is_empty() {
        // Every item has a euro price in NetSuite: none compared means the shop's were not
        // read, not that they agree.
        report.drift += 1;
        report.drift_details.push(format!(
            "store {}: no price in {} was compared",
            s.id, DEMO_CURRENCY.0
        ));
    }
    report.orders_matched += v.orders_matched;
    report.orders_reconciled += v.orders_reconciled;
    report.drift += v.drift;
    for d in v.drift_details {
        if report.drift_details.len() < 20 {
            report.drift_details.push(d);
        }
    }
    report.stock_mismatches += stock.drift;
    for d in stock.drift_details {
        if report.stock_details.len() < 20 {
            report.stock_details.push(d);
        }
    }
    Ok(v.drifted)
}

/// Checks stock in one store against the demo's ledger, per SKU at the demo location (see
/// [`DemoReport::stock_mismatches`]): NetSuite on hand, NetSuite open demand (committed + back
/// ordered) and Shopify available. Both systems agreeing is not enough: a sale counted twice,
/// or an adjustment lost, moves both sides alike, and only this check sees it. Each quantity
/// that differs is one drift.
pub fn verify_stock(
    shopify: &ShopifySim,
    netsuite: &NetSuiteSim,
    location: u64,
    ledger: &BTreeMap<String, StockLedger>,
) -> Verification {
    verify_ledger(netsuite, ledger, "Shopify available", |sku| {
        shopify
            .variant_by_sku(sku)
            .and_then(|v| shopify.inventory_item_of(v))
            .and_then(|item| shopify.available(item, location))
    })
}

/// [`verify_stock`] for any storefront: `shows` is what the storefront (`what` names its
/// quantity in the report) shows for a SKU.
pub(crate) fn verify_ledger(
    netsuite: &NetSuiteSim,
    ledger: &BTreeMap<String, StockLedger>,
    what: &str,
    shows: impl Fn(&str) -> Option<i64>,
) -> Verification {
    verify_ledger_except(netsuite, ledger, what, shows, &BTreeSet::new())
}

/// [`verify_ledger`] where the SKUs in `gone` were deleted from the storefront: only
/// NetSuite's quantities are checked for them.
pub(crate) fn verify_ledger_except(
    netsuite: &NetSuiteSim,
    ledger: &BTreeMap<String, StockLedger>,
    what: &str,
    shows: impl Fn(&str) -> Option<i64>,
    gone: &BTreeSet<String>,
) -> Verification {
    let mut report = Verification::default();
    for (sku, l) in ledger {
        if gone.contains(sku)
            && netsuite
                .record(RecordType::InventoryItem, &l.item_id)
                .is_none()
        {
            // Deleted from the storefront and removed from NetSuite too (`[deletes]` action
            // `delete`): no stock is kept for it anywhere ([`verify_deletes`] checks it).
            continue;
        }
        report.records_compared += 1;
        let q = netsuite.quantities(&l.item_id, NS_LOCATION);
        let story = format!(
            "opening {} + received {} - ordered {} - fulfilled {} - cancelled {} + restocked {} - edited away {}",
            l.opening, l.received, l.ordered, l.fulfilled, l.cancelled, l.restocked, l.edited
        );
        if q.on_hand != l.on_hand() as f64 {
            drift(
                &mut report,
                format!(
                    "stock {sku}: NetSuite on hand {}, expected {} ({story})",
                    q.on_hand,
                    l.on_hand()
                ),
            );
        }
        if q.committed + q.back_ordered != l.open_demand() as f64 {
            drift(
                &mut report,
                format!(
                    "stock {sku}: NetSuite committed {} + back ordered {}, expected {} ({story})",
                    q.committed,
                    q.back_ordered,
                    l.open_demand()
                ),
            );
        }
        let expected = l.expected();
        // (A SKU gone from the storefront shows nothing there to compare.)
        let shop = (!gone.contains(sku)).then(|| shows(sku));
        let erp_sellable = (q.available - q.back_ordered).round() as i64;
        if shop.is_some_and(|shown| shown != Some(expected)) || erp_sellable != expected {
            drift(
                &mut report,
                format!(
                    "stock {sku}: {what} {shop:?}, NetSuite available - back ordered {erp_sellable}, expected {expected} ({story})"
                ),
            );
        }
    }
    report
}

/// Checks that every NetSuite fulfilment (`shipments`: order, tracking number, units) is
/// exactly one fulfilment of its Shopify order with that tracking number, the carrier's name
/// and tracking page, and the same units, and that no order of `orders` has a fulfilment
/// NetSuite did not make. Each problem is one drift; `records_compared` counts shipments.
pub fn verify_fulfilments(
    shopify: &ShopifySim,
    orders: &[u64],
    shipments: &[(u64, String, i64)],
) -> Verification {
    let mut report = Verification::default();
    for (order, tracking, units) in shipments {
        report.records_compared += 1;
        let found: Vec<_> = shopify
            .fulfillments(*order)
            .into_iter()
            .filter(|f| f.tracking_number.as_deref() == Some(tracking.as_str()))
            .collect();
        match found.as_slice() {
            [f] if f.units == *units
                && f.tracking_company.as_deref() == Some("ups")
                && f.tracking_url
                    .as_deref()
                    .is_some_and(|u| u.contains(tracking.as_str())) => {}
            [f] => drift(
                &mut report,
                format!(
                    "fulfilment {tracking} of order {order}: Shopify has {} units, carrier {:?}, url {:?}; NetSuite shipped {units} with ups",
                    f.units, f.tracking_company, f.tracking_url
                ),
            ),
            many => drift(
                &mut report,
                format!(
                    "fulfilment {tracking} of order {order}: {} fulfilments in Shopify, expected 1",
                    many.len()
                ),
            ),
        }
    }
    for order in orders {
        for f in shopify.fulfillments(*order) {
            let made = shipments
                .iter()
                .any(|(o, t, _)| o == order && f.tracking_number.as_deref() == Some(t.as_str()));
            if !made {
                drift(
                    &mut report,
                    format!(
                        "order {order}: Shopify fulfilment {} ({:?}) that NetSuite did not make",
                        f.id, f.tracking_number
                    ),
                );
            }
        }
    }
    report
}

/// What [`verify_store`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Records compared between the systems.
    pub records_compared: usize,
    /// Prices in other currencies found equal on both sides.
    pub currency_prices_matched: usize,
    /// Variants whose collections were found equal on both sides.
    pub collections_matched: usize,
    /// Shopify orders that are exactly one NetSuite sales order.
    pub orders_matched: usize,
    /// Orders whose totals add up and agree in both systems and whose sales order holds every
    /// field the mapper writes (see [`verify_orders`]).
    pub orders_reconciled: usize,
    /// Fields that differ, records missing on one side, and orders not exactly once in NetSuite.
    pub drift: usize,
    /// The first differences, for a person to read.
    pub drift_details: Vec<String>,
    /// The first records found to differ (kind, key), whose lineage the report shows
    /// ([`drift_lineage`]).
    pub drifted: Vec<(String, String)>,
}

/// Reads both simulated systems of one store afresh (Shopify through its API at `shopify_url`,
/// NetSuite through its API at `netsuite_url`), maps them to canonical records with `mapper`
/// and compares them per record and field; each of `orders` (Shopify order ids) must be exactly
/// one NetSuite sales order (external id `shopify-order-<id>`).
pub async fn verify_store(
    shopify_sim: &ShopifySim,
    shopify_url: &str,
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
    orders: &[u64],
    mapper: &MapperInstance,
) -> Result<Verification> {
    verify_store_except(
        shopify_sim,
        shopify_url,
        netsuite_sim,
        netsuite_url,
        orders,
        mapper,
        &BTreeSet::new(),
    )
    .await
}

/// [`verify_store`] for a store whose merchant deleted the Shopify products of the SKUs in
/// `gone`: their NetSuite records are not expected in Shopify ([`verify_deletes`] checks them
/// archived there instead); anything else is compared as usual.
pub(crate) async fn verify_store_except(
    shopify_sim: &ShopifySim,
    shopify_url: &str,
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
    orders: &[u64],
    mapper: &MapperInstance,
    gone: &BTreeSet<String>,
) -> Result<Verification> {
    let mut report = Verification::default();
    let mut config = ShopifyConfig::new(
        shopify_url,
        API_VERSION,
        &shopify_sim.config().access_tokens[0],
    );
    // The verifier shares the shop's bucket with the host: one order per call asks for a
    // small share (the demo's orders have one line).
    config.paging.orders = 1;
    config.paging.line_items = 5;
    let reads = shop_reads(shopify_sim);
    (config.currencies, config.collections) = (reads.currencies, reads.collections);
    let shopify = ShopifyClient::new(config, ShopifyCostLimiter::new())?;
    let netsuite = verifier_client(netsuite_sim, netsuite_url)?;
    let mut shop_docs = Vec::new();
    for entity in [
        Entity::Products,
        Entity::Customers,
        Entity::InventoryLevels { location_id: None },
    ] {
        let read = loop {
            // The verifier shares the shop's cost bucket with the host: wait when throttled.
            match shopify.read_since(&entity, None).await {
                Ok(r) => break r,
                Err(e) if e.is_retryable() => {
                    tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        for d in read.docs {
            shop_docs.push(PlatformDoc {
                system: "shopify".into(),
                kind: kind(d.kind.as_str()),
                id: d.id,
                version: d.updated_at,
                body: d.body.to_string(),
            });
        }
    }
    let erp_docs = netsuite_docs(netsuite_sim, &netsuite).await?;
    let shop = canonical(mapper, shop_docs).await?;
    let mut erp = canonical(mapper, erp_docs).await?;
    erp.retain(|(kind, key), _| {
        !(matches!(kind.as_str(), "variant" | "price") && gone.contains(key))
    });
    compare(&shop, &erp, ("Shopify", "shopify"), "netsuite", &mut report);
    // Orders: each exactly one sales order.
    let sales: Vec<Value> = netsuite_sim.records(RecordType::SalesOrder);
    let mut by_ext: BTreeMap<String, usize> = BTreeMap::new();
    for so in &sales {
        if let Some(e) = so["externalId"].as_str() {
            *by_ext.entry(e.to_owned()).or_default() += 1;
        }
    }
    for o in orders {
        match by_ext.get(&format!("shopify-order-{o}")) {
            Some(1) => report.orders_matched += 1,
            Some(n) => drift(
                &mut report,
                format!("order {o}: {n} sales orders in NetSuite"),
            ),
            None => drift(
                &mut report,
                format!("order {o}: no sales order in NetSuite"),
            ),
        }
    }
    verify_orders(&shopify, &netsuite, orders, mapper, &mut report).await?;
    Ok(report)
}

/// A NetSuite client for the verifier (its own governor: it reads while the host may still run).
pub(crate) fn verifier_client(
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
) -> Result<NetSuiteClient> {
    let creds = netsuite_sim
        .credentials()
        .into_iter()
        .next()
        .map(connector_credentials)
        .context("no credentials")?;
    Ok(NetSuiteClient::new(
        NetSuiteConfig::new(netsuite_url, creds),
        ConcurrencyGovernor::new("verify", 4),
        "verify",
    )?)
}

/// Every NetSuite item (with its levels) and customer, read afresh, as platform documents.
pub(crate) async fn netsuite_docs(
    netsuite_sim: &NetSuiteSim,
    netsuite: &NetSuiteClient,
) -> Result<Vec<PlatformDoc>> {
    let mut erp_docs = Vec::new();
    for (rt, rname, k) in [
        (RecordType::InventoryItem, "inventoryItem", "variant"),
        (RecordType::Customer, "customer", "customer"),
    ] {
        for rec in netsuite_sim.records(rt) {
            let id = rec["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| rec["id"].to_string());
            let Some(full) = netsuite
                .get_record(rname, &RecordRef::Id(id.clone()))
                .await?
            else {
                continue;
            };
            let version = full["lastModifiedDate"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if k == "variant" {
                for level in inventory_level_docs(&full) {
                    erp_docs.push(PlatformDoc {
                        system: "netsuite".into(),
                        kind: EntityKind::InventoryLevel,
                        id: format!(
                            "{}@{}",
                            level["item_id"].as_str().unwrap_or(""),
                            level["location_id"].as_str().unwrap_or("")
                        ),
                        version: version.clone(),
                        body: level.to_string(),
                    });
                }
            }
            erp_docs.push(PlatformDoc {
                system: "netsuite".into(),
                kind: kind(k),
                id,
                version,
                body: full.to_string(),
            });
        }
    }
    Ok(erp_docs)
}

/// Compares a storefront's canonical records (`label` in messages, system `system`) with
/// another system's (`versus`: NetSuite's, or a shop's against a sheet), field by field; orders
/// are checked apart.
pub(crate) fn compare(
    shop: &Canon,
    erp: &Canon,
    (label, system): (&str, &str),
    versus: &str,
    report: &mut Verification,
) {
    for (key, fields) in shop {
        if key.0 == "order" {
            continue;
        }
        let Some(other) = erp.get(key) else {
            drift(report, format!("{} {}: in {label} only", key.0, key.1));
            drifted(report, key);
            continue;
        };
        report.records_compared += 1;
        for (f, v) in fields {
            if let Some(w) = other.get(f)
                && !same(v, w)
            {
                drifted(report, key);
                drift(
                    report,
                    format!("{} {} .{f}: {system} {v} vs {versus} {w}", key.0, key.1),
                );
            }
        }
        // Collections and other currencies: a fresh read carries them whenever the ERP's
        // record does.
        match (fields.get("collections"), other.get("collections")) {
            (Some(v), Some(w)) if same(v, w) => report.collections_matched += 1,
            (None, Some(w)) => drift(
                report,
                format!(
                    "{} {} .collections: not read from {label}, {versus} {w}",
                    key.0, key.1
                ),
            ),
            _ => {}
        }
        match (fields.get("currencies"), other.get("currencies")) {
            (Some(Value::Object(prices)), Some(w)) if same(&Value::Object(prices.clone()), w) => {
                report.currency_prices_matched += prices.values().filter(|p| !p.is_null()).count();
            }
            (None, Some(w)) => drift(
                report,
                format!(
                    "{} {} .currencies: not read from {label}, {versus} {w}",
                    key.0, key.1
                ),
            ),
            _ => {}
        }
    }
    for key in erp.keys() {
        if (key.0 == "variant" || key.0 == "price") && !shop.contains_key(key) {
            drift(report, format!("{} {}: in {versus} only", key.0, key.1));
        }
    }
}

/// Decimal text (`"12.30"`, `12.3`) as cents, rounded to the cent.
pub(crate) fn cents(v: &Value) -> Option<i64> {
    let f = match v {
        Value::String(s) => s.parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        Value::Null => 0.0,
        _ => return None,
    };
    Some((f * 100.0).round() as i64)
}

/// Each order read afresh from Shopify's API (`nodes(ids:)`, normalized as the poller does)
/// and its sales order from NetSuite's: Shopify's totals add up (Σ price × quantity −
/// `total_discounts` + `total_shipping` + `total_tax` = `total_price`), NetSuite's add up
/// (`subtotal` + `discountTotal` + `taxTotal` + `shippingCost` = `total`), both totals are
/// equal, and the sales order holds every field the mapper writes for the order (the mapper,
/// given the sales order as the target's current document, returns no command). Each failure
/// is one drift; an order passing all is reconciled.
pub async fn verify_orders(
    shopify: &ShopifyClient,
    netsuite: &NetSuiteClient,
    orders: &[u64],
    mapper: &MapperInstance,
    report: &mut Verification,
) -> Result<()> {
    let ids: Vec<String> = orders.iter().map(u64::to_string).collect();
    let docs = loop {
        match shopify.fetch(&Entity::Orders, &ids).await {
            Ok(d) => break d,
            Err(e) if e.is_retryable() => {
                tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let pdocs: Vec<PlatformDoc> = docs
        .iter()
        .map(|d| PlatformDoc {
            system: "shopify".into(),
            kind: EntityKind::Order,
            id: d.id.clone(),
            version: d.updated_at.clone(),
            body: d.body.to_string(),
        })
        .collect();
    let m = mapper.clone();
    let outcomes = tokio::task::spawn_blocking(move || m.to_canonical(&pdocs)).await??;
    for (doc, outcome) in docs.iter().zip(outcomes) {
        let id = &doc.id;
        let b = &doc.body;
        let lines: Option<i64> = b["line_items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| Some(cents(&l["price"])? * l["quantity"].as_i64()?))
            .sum();
        let shop_total = cents(&b["total_price"]);
        let shop_sum = (|| {
            Some(
                lines? - cents(&b["total_discounts"])?
                    + cents(&b["total_shipping"])?
                    + cents(&b["total_tax"])?,
            )
        })();
        if shop_sum.is_none() || shop_sum != shop_total {
            drift(
                report,
                format!(
                    "order {id}: Shopify totals do not add up: lines - discounts + shipping + tax = {shop_sum:?}, total {shop_total:?}"
                ),
            );
            continue;
        }
        let Some(so) = netsuite
            .get_record(
                "salesOrder",
                &RecordRef::ExternalId(format!("shopify-order-{id}")),
            )
            .await?
        else {
            continue; // counted above as missing
        };
        let ns_total = cents(&so["total"]);
        let ns_sum = (|| {
            Some(
                cents(&so["subtotal"])?
                    + cents(&so["discountTotal"])?
                    + cents(&so["taxTotal"])?
                    + cents(&so["shippingCost"])?,
            )
        })();
        if ns_sum.is_none() || ns_sum != ns_total {
            drift(
                report,
                format!(
                    "order {id}: NetSuite totals do not add up: subtotal + discount + tax + shipping = {ns_sum:?}, total {ns_total:?}"
                ),
            );
            continue;
        }
        if ns_total != shop_total {
            drift(
                report,
                format!("order {id}: total {shop_total:?} in Shopify, {ns_total:?} in NetSuite"),
            );
            continue;
        }
        let ToCanonicalOutcome::Mapped(records) = outcome else {
            drift(report, format!("order {id}: the mapper did not map it"));
            continue;
        };
        let Some(record) = records.into_iter().find(|r| r.kind == EntityKind::Order) else {
            drift(
                report,
                format!("order {id}: the mapper made no order record"),
            );
            continue;
        };
        let req = weft_runtime::types::WriteRequest {
            deleted: false,
            target: "netsuite".into(),
            record,
            current: Some(so.to_string()),
            target_id: so["id"].as_str().map(str::to_owned),
        };
        let m = mapper.clone();
        let out = tokio::task::spawn_blocking(move || m.from_canonical(&[req])).await??;
        match out.first() {
            Some(FromCanonicalOutcome::Commands(c)) if c.is_empty() => {
                report.orders_reconciled += 1;
            }
            Some(FromCanonicalOutcome::Commands(c)) => drift(
                report,
                format!(
                    "order {id}: the sales order does not hold what the mapper writes: {}",
                    c[0].body
                ),
            ),
            other => drift(report, format!("order {id}: mapper answered {other:?}")),
        }
    }
    Ok(())
}

/// The simulator's credentials as the connector takes them.
pub(crate) fn connector_credentials(
    c: weft_sim_netsuite::Credentials,
) -> weft_netsuite::Credentials {
    weft_netsuite::Credentials {
        account_id: c.realm,
        consumer_key: c.consumer_key,
        consumer_secret: c.consumer_secret,
        token_id: c.token_id,
        token_secret: c.token_secret,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        _ => a == b,
    }
}

pub(crate) fn drift(report: &mut Verification, detail: String) {
    report.drift += 1;
    if report.drift_details.len() < 20 {
        report.drift_details.push(detail);
    }
}

/// Records whose lineage a report shows, at most.
const LINEAGE_RECORDS: usize = 4;
/// Newest lineage steps shown per record.
const LINEAGE_STEPS: u32 = 12;

/// Notes record `key` (kind, key) as differing, for its lineage.
pub(crate) fn drifted(report: &mut Verification, key: &(String, String)) {
    if report.drifted.len() < LINEAGE_RECORDS && !report.drifted.contains(key) {
        report.drifted.push(key.clone());
    }
}

/// The lineage of each of `records` (kind, key) in store `store`, one line per step, newest
/// [`LINEAGE_STEPS`]: the journal entry (source, system, version, when received), what each
/// field was decided to be, and the writes planned from it as they ended.
pub async fn drift_lineage(db: &Store, store: &str, records: &[(String, String)]) -> Vec<String> {
    let cut = |v: &str| v.chars().take(600).collect::<String>();
    let mut out = Vec::new();
    // A record that differs in two comparisons (sheet and shop, shop and ERP) is shown once.
    let mut seen = std::collections::BTreeSet::new();
    for (kind, key) in records
        .iter()
        .filter(|r| seen.insert(*r))
        .take(LINEAGE_RECORDS)
    {
        let steps = match db.lineage_steps(store, kind, key, LINEAGE_STEPS).await {
            Ok(steps) => steps,
            Err(e) => {
                out.push(format!("{kind} {key}: lineage not read: {e}"));
                continue;
            }
        };
        if steps.is_empty() {
            out.push(format!(
                "{kind} {key}: no lineage (weft never took a step for it)"
            ));
        }
        for st in steps {
            let writes: Vec<String> = st
                .writes
                .iter()
                .map(|w| {
                    format!(
                        "{} {} {} {}",
                        w.system,
                        w.op,
                        w.status,
                        cut(&w.desired.to_string())
                    )
                })
                .collect();
            out.push(format!(
                "{kind} {key} #{} seq {} {} {} v{} received {} fields {} writes [{}]",
                st.id,
                st.seq,
                if st.source.is_empty() {
                    "-"
                } else {
                    &st.source
                },
                if st.system.is_empty() {
                    "-"
                } else {
                    &st.system
                },
                st.version.as_deref().unwrap_or("-"),
                st.received_at
                    .map(|t| t.format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_else(|| "-".into()),
                cut(&st.fields.to_string()),
                writes.join("; "),
            ));
        }
    }
    out
}

pub(crate) type Canon = BTreeMap<(String, String), serde_json::Map<String, Value>>;

pub(crate) async fn canonical(mapper: &MapperInstance, docs: Vec<PlatformDoc>) -> Result<Canon> {
    let m = mapper.clone();
    let outcomes = tokio::task::spawn_blocking(move || m.to_canonical(&docs)).await??;
    let mut out = Canon::new();
    for o in outcomes {
        if let ToCanonicalOutcome::Mapped(records) = o {
            for r in records {
                let fields: Value = serde_json::from_str(&r.fields)?;
                out.insert(
                    (weft_engine::sync::kind_str(r.kind).to_owned(), r.key),
                    fields.as_object().cloned().unwrap_or_default(),
                );
            }
        }
    }
    Ok(out)
}

pub(crate) fn kind(s: &str) -> EntityKind {
    weft_engine::sync::parse_kind(s).unwrap_or(EntityKind::Product)
}

pub(crate) fn say(opts: &DemoOptions, msg: &str) {
    if opts.progress {
        eprintln!("weft demo: {msg}");
    }
}

pub(crate) fn progress_bar(opts: &DemoOptions, len: u64) -> Option<indicatif::ProgressBar> {
    opts.progress.then(|| {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template("  {bar:40} {pos}/{len} events")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

#[cfg(test)]
mod tests {
    use super::deletes_fit_the_guard;

    #[test]
    fn deletes_the_guard_would_hold_are_refused_with_the_items_needed() {
        assert!(deletes_fit_the_guard(0, 1).is_ok());
        assert!(
            deletes_fit_the_guard(1, 12).is_ok(),
            "one SKU is under the guard's minimum"
        );
        // A SKU and a group of two: 3 of 12 is 25%.
        let e = deletes_fit_the_guard(2, 12).unwrap_err().to_string();
        assert!(e.contains("use --items 30 or more"), "{e}");
        assert!(deletes_fit_the_guard(2, 30).is_ok());
        // The third deletion removes one variant, outside the guard.
        assert!(deletes_fit_the_guard(3, 40).is_ok());
        assert!(deletes_fit_the_guard(5, 40).is_err(), "6 of 40");
    }
}
