//! An in-process, embeddable simulator of the Shopify Admin API and Shopify webhooks.
//!
//! weft's connectors, its rate limiter and its demo are tested against this simulator, so it
//! follows the real API's paths, headers, shapes, limits and error shapes; a client library
//! written for Shopify works against it unmodified. Start one with [`ShopifySim::new`] and
//! [`ShopifySim::serve`] (or mount [`ShopifySim::router`] in-process).
//!
//! # What it models
//!
//! - **Admin GraphQL** at `POST /admin/api/{version}/graphql.json` (JSON or
//!   `application/graphql` bodies), a real GraphQL server (async-graphql) with Shopify's type and
//!   field names for products, variants, inventory items and levels per location (`quantities(names:)`),
//!   locations, customers, orders, webhook subscriptions, `node`/`nodes`, `shop`.
//! - **Auth**: `X-Shopify-Access-Token`; a wrong or missing token gets 401 with Shopify's body.
//!   Unknown API versions get 404. Every response carries `X-Shopify-API-Version`.
//! - **Access scopes** ([`scopes`]): the app holds the scopes the merchant approved (default:
//!   all the simulator's API needs; [`ShopifySim::set_access_scopes`] withdraws or approves
//!   them); a top-level field the app lacks the scope for resolves to `null` with an
//!   `ACCESS_DENIED` error naming the required scope (REST: 403).
//! - **Ids** are `gid://shopify/Type/N` with N above 2^53 (first id 9007199254740993), so a
//!   client that parses ids as floats fails at once. Inventory level ids carry
//!   `?inventory_item_id=` as Shopify's do.
//! - **Pagination**: `first`/`after`, `last`/`before`, `reverse`, `sortKey`, `edges{cursor node}`,
//!   `nodes`, `pageInfo{hasNextPage hasPreviousPage startCursor endCursor}`; keyset cursors
//!   (base64 JSON `{last_id,last_value}`); more than 250 per page is an error
//!   (`MAX_PAGE_SIZE_EXCEEDED`), as is giving neither `first` nor `last`.
//! - **Search** (`query:`): `updated_at:>'…'`, `>=`, `<`, `<=`, `created_at`, `id:>N`, `sku:`,
//!   `email:`, `AND`/`OR`/`NOT`/`-`, quoted values, bare words; unknown fields are ignored, as
//!   Shopify does. Timestamps have second precision (ties are real).
//! - **Catalog**: products carry up to three options (`options { name values }`, variants'
//!   `selectedOptions`), `seo { title description }`, a category of the standard product
//!   taxonomy (`category { id name fullName }`, set by `productSet` `category:
//!   "gid://shopify/TaxonomyCategory/<id>"`; the simulator knows no taxonomy names, so the id
//!   stands in for them), images (`images(first:)` with `url` and `altText`, in order; REST `images[{src, alt, position}]`; set by `productSet` `files`
//!   by URL, which replaces the list), metafields (`metafields(first:, namespace:)`; set by
//!   `productSet` `metafields`, which creates or updates and keeps the others; removed by
//!   `metafieldsDelete`; a blank value is a user error), and per variant a weight
//!   (`inventoryItem.measurement.weight { unit value }`; REST `weight`, `weight_unit`,
//!   `grams`). Webhook bodies carry no category, SEO fields or metafields, as Shopify's do
//!   not (metafields only for a subscription that names their namespaces). Customers carry addresses
//!   (`addresses`, `defaultAddress`; REST `addresses[]` with `default` and
//!   `default_address`); `customerCreate` / `customerUpdate` `addresses` is the full list and
//!   its first address becomes the default (assumption).
//! - **Mutations**: `productSet` (list fields are the full desired state: missing variants are
//!   deleted; variants need `optionValues`; `variants` and `productOptions` go together, as
//!   since 2024-07; an option's values are exactly the given ones),
//!   `productVariantsBulkUpdate` (SKU via `inventoryItem.sku`; `inventoryQuantities` refused),
//!   the mutations most clients call beside it (`productCreate` with options and its one
//!   variant, `productUpdate`, `productDelete`, `productVariantsBulkCreate` with its
//!   standalone-variant `strategy` and initial quantities, `productVariantsBulkDelete`; see
//!   `graphql/schema/product_crud.rs`), `inventorySetQuantities` (2026-04+:
//!   every quantity must carry `changeFromQuantity`, explicit null opts out, omission is a user
//!   error, a mismatch is `CHANGE_FROM_QUANTITY_STALE`; older versions use `compareQuantity` /
//!   `ignoreCompareQuantity` and `COMPARE_QUANTITY_STALE`; negative quantities and repeated
//!   item/location pairs are user errors; all-or-nothing),
//!   `inventoryAdjustQuantities` (2026-04+: the `@idempotent(key:)` directive is mandatory, a
//!   runtime error otherwise), `customerCreate`, `customerUpdate`, `webhookSubscriptionCreate`,
//!   `webhookSubscriptionDelete`, and an order's life (see [`lifecycle`]): `fulfillmentCreate`
//!   (one fulfilment order per call, `trackingInfo {number url company}`, at most each line's
//!   remaining quantity), `orderCancel` (`restock`, refused once anything shipped; runs at once,
//!   job `done`), `refundCreate` (`restockType` `RETURN` / `CANCEL` / `NO_RESTOCK` per line;
//!   `@idempotent` mandatory from 2026-04), order editing (`orderEditBegin` returning a
//!   `CalculatedOrder`, `orderEditSetQuantity` lowering a line with or without `restock`,
//!   `orderEditAddVariant`, `orderEditCommit`; `orders/edited` and `orders/updated` fire on
//!   commit). Orders have `fulfillmentOrders` (one per order),
//!   `fulfillments`, `refunds`, `displayFulfillmentStatus`; line items `currentQuantity` and
//!   `unfulfilledQuantity`. `userErrors { field message code }` as Shopify shapes them;
//!   at most 250 items per input array (`MAX_INPUT_SIZE_EXCEEDED`).
//! - **Price lists with fixed prices** ([`price_lists`], its header lists what is enforced and
//!   assumed): `priceList(id:)`, `priceLists` (`sortKey: ID | NAME`), `PriceList { id name
//!   currency fixedPricesCount prices(originType:, query:) }` filtered by `product_id` /
//!   `variant_id` (numeric, `OR`-able), `PriceListPrice { price compareAtPrice originType
//!   variant }`, and `priceListFixedPricesAdd` / `Delete` / `Update` with
//!   `PriceListPriceUserError` codes (`PRICE_LIST_NOT_FOUND`, `PRICE_LIST_CURRENCY_MISMATCH`,
//!   `VARIANT_NOT_FOUND`, `BLANK` for an empty call), all or nothing, `read_products` /
//!   `write_products`. Markets and catalogs are not modelled: the merchant API creates lists
//!   ([`ShopifySim::create_price_list`]); a variant without a fixed price has a relative price
//!   converted by the list's rate (default 1, rounded to the cent, no adjustment). Deleting a
//!   variant or product drops its fixed prices; no webhook fires and no `updatedAt` moves.
//! - **Collections and product membership** ([`collections`], its header lists what is
//!   enforced and assumed): `collection(id:)`, `collectionByHandle`, `collectionByIdentifier`,
//!   `collections` (`query:` on `handle`, `title`, `collection_type`, `product_id`, `id`,
//!   `updated_at`; `sortKey: ID | TITLE | UPDATED_AT`), `collectionsCount`, `Collection { id
//!   handle title updatedAt ruleSet productsCount products hasProduct }`,
//!   `Product.collections`, `products(query: "collection_id:N")`, `collectionCreate`
//!   (handle from the title, made unique with `-1`, `-2`...), `collectionAddProducts` (custom
//!   collections only, all or nothing, a product already in it is an error),
//!   `collectionAddProductsV2` and `collectionRemoveProducts` (jobs, done at once; `job(id:)`),
//!   `collectionDelete`; smart collections with simple `TAG`/`TITLE`/`TYPE`/`VENDOR` rules.
//!   `collections/create`, `collections/update` (also on membership changes) and
//!   `collections/delete` fire; membership changes neither move a product's `updatedAt` nor
//!   fire `products/update` (assumption); deleting a product drops it from every collection
//!   silently. Merchant API [`ShopifySim::create_collection`], `add_to_collection`,
//!   `remove_from_collection`, `collections_of`, `collections` and `/_sim/collections` routes.
//! - **`@idempotent(key:)`** on any mutation field: a repeated key returns the ORIGINAL result
//!   and applies nothing; the same key with different arguments is
//!   `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`; a concurrent use is `IDEMPOTENCY_CONCURRENT_REQUEST`.
//!   Keys are kept for the simulator's lifetime.
//! - **Calculated query cost**: scalar/enum 0, object 1, connection `2 + first × node cost`,
//!   `nodes(ids:)` per id, mutation field 10 (an assumption), except `productSet`, priced as
//!   Shopify does since 2025-10: 10 + 0.2 per variant, rounded up. Requested cost above 1,000 is rejected with
//!   `MAX_COST_EXCEEDED` before execution; the bucket must hold the requested cost, else the
//!   `THROTTLED` shape (HTTP 200 by default, 429 configurable) with `actualQueryCost: null`;
//!   after execution requested − actual is refunded (actual counts objects returned).
//!   `extensions.cost.throttleStatus` is on every GraphQL response. One leaky bucket per
//!   simulator (= per app per shop), on `tokio::time` so a paused clock drives it.
//! - **Plan presets** ([`PlanPreset`]): standard 1,000 pts @ 100/s, advanced 2,000 @ 200/s,
//!   plus 10,000 @ 1,000/s, enterprise 20,000 @ 2,000/s (restore rates documented; bucket sizes
//!   assumed), or any `maximumAvailable`/`restoreRate`.
//! - **REST-style limits** on `GET /admin/api/{v}/shop.json` and `/products/count.json`:
//!   request bucket (standard 40 @ 2/s), `X-Shopify-Shop-Api-Call-Limit: n/40`, 429 with
//!   `Retry-After` (integer seconds) and Shopify's "Exceeded 2 calls per second" body.
//! - **Inventory by named quantity** per item and location: `available`, `committed`,
//!   `reserved`, `damaged`, `safety_stock`, `quality_control`, `incoming`, and the derived
//!   `unavailable` (the four set-aside states) and `on_hand` (available + committed +
//!   unavailable), as `quantities(names:)` returns them. An order moves its quantities from
//!   available to committed; a fulfilment lowers committed (so on hand); a cancellation or a
//!   `CANCEL` refund line returns committed to available (without restock: out of on hand); a
//!   `RETURN` refund line adds to available and on hand. `inventorySetQuantities` and
//!   `inventoryAdjustQuantities` move available (on hand follows).
//! - **Webhooks** for `products/create`, `products/update`, `inventory_levels/update`,
//!   `orders/create`, `orders/updated`, `orders/cancelled`, `orders/fulfilled`,
//!   `orders/partially_fulfilled`, `fulfillments/create`, `refunds/create`, `customers/create`,
//!   `customers/update`, `collections/create`, `collections/update`, `collections/delete`
//!   (`{"id": N}` only), `products/delete` (body `{"id": N}` only, as Shopify sends it;
//!   merchant API `delete_product`): REST-shaped
//!   bodies (a product's first 100 variants in full, every variant's id and `updated_at` in
//!   `variant_gids`, as Shopify's product payloads have since the 2,000-variant limit; snake_case, numeric ids as JSON numbers above 2^53, `admin_graphql_api_id`, tags
//!   as a comma-joined string, timestamps in the shop's UTC offset, default `-05:00`), headers
//!   `X-Shopify-Topic`, `-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with the oldest
//!   unrevoked client secret), `-Shop-Domain`, `-API-Version`, `-Webhook-Id` (stable across
//!   retries and copies), `-Event-Id` (shared by all subscriptions of one change),
//!   `-Triggered-At`. 1 s connect / 5 s total timeout; non-2xx or timeout is retried 8 times over
//!   4 hours (exponential, each delay twice the last) with the original payload, delays divided
//!   by a compression factor; an API-created subscription is deleted after 8 consecutive
//!   deliveries exhaust their retries. Changes made by the app through GraphQL fire webhooks too.
//! - **Compliance webhooks** ([`compliance`]): `customers/redact` (after erasing the customer
//!   in the shop), `customers/data_request` and `shop/redact`, signed the same way, to the app's
//!   compliance URL (`POST /_sim/compliance/uri`; `POST /_sim/compliance/customers/{id}/redact`,
//!   `.../data_request`, `/_sim/compliance/shop/redact`).
//! - **Chaos** (seeded, decided when the event fires): drop rate, duplicate rate, reorder/delay
//!   window (ms), late-delivery rate (a stale copy of the original payload delivered again after
//!   a nominal hour, compressed). [`ShopifySim::webhook_stats`] and [`ShopifySim::webhook_log`]
//!   report per delivery: dropped, duplicated, late, reordered, delivered, failed, attempts.
//! - **Merchant activity** (Rust API and `/_sim/...` HTTP, ids as decimal strings): create/edit
//!   products and variants, set/adjust stock at a location, create/edit customers, place orders
//!   (available moves to committed; `orders/create` + `inventory_levels/update`), fulfil them
//!   with tracking, cancel them (with or without restock; `orders/cancelled` + `orders/updated`),
//!   refund lines with a restock type, create price lists and set or remove fixed prices.
//!   Inspection: state dump, request log, creates per type split by API vs
//!   merchant, throttled counts, webhook stats.
//! - **Bulk query operations** ([`bulk`], its header lists what is enforced and assumed):
//!   `bulkOperationRunQuery` (one running query per app and shop before `2026-01`, five
//!   from `2026-01`, else `OPERATION_IN_PROGRESS`; at most five connections two levels deep,
//!   else `INVALID`), `currentBulkOperation` and `node(id:)` with status, `errorCode`,
//!   `objectCount`, `rootObjectCount`, `url` / `partialDataUrl`; the JSONL file (nested
//!   connections flattened with `__parentId`, grouped or not) at `/_sim/bulk/{id}.jsonl`; the
//!   shop read page by page while it runs; `productVariantsCount` (up to `limit`, 10,000 by
//!   default, then `AT_LEAST`). Counters in [`ShopifySim::bulk_stats`]; failures on demand
//!   ([`ShopifySim::fail_next_bulk`]).
//! - **Determinism**: ids, webhook/event ids and chaos come from the seed; timestamps are a
//!   settable base time plus elapsed `tokio::time` (so a paused clock makes them exact).
//!
//! # What it does NOT model
//!
//! - Bulk mutations, bulk cancellation, `bulk_operations/finish` webhooks, staged uploads, metafields, media, publications, markets,
//!   catalogs, `priceListCreate` / `priceListUpdate` / `priceListDelete`, quantity rules and
//!   price breaks, discounts, fulfillments, refunds, draft orders, transactions, taxes,
//!   shipping, addresses.
//! - Inventory states other than `available` (`on_hand` mirrors it; `committed`, `reserved`,
//!   etc. read 0; orders decrement `available` directly); inventory items' `updatedAt` does not
//!   move when quantities change (levels have their own `updatedAt`); no `products/update` is
//!   fired for stock changes.
//! - Asynchronous `productSet` (`synchronous: false` is refused with an error).
//! - Of collections: `collectionUpdate`, `collectionReorderProducts`, `collectionDuplicate`,
//!   `sortOrder`, images, SEO, metafields, publications, rule columns beyond tag, title, type
//!   and vendor, and collections in bulk-query JSONL (bulk queries do not reach them).
//! - Exact Shopify error message texts where unpublished (page-size, idempotency, missing
//!   `changeFromQuantity` codes are documented assumptions), interface cost as the max of
//!   fragments (fragments are summed), the 25,000-object pagination depth cap, search relevance.
//! - Webhook `includeFields`/filters, XML format, `X-Shopify-Name`, EventBridge/PubSub
//!   endpoints, HTTPS-only callback URLs (http is accepted for local receivers), the
//!   up-to-a-day natural lateness (only chaos lateness), subscriptions declared in app TOML.
//! - One app per shop: every access token shares the single cost bucket.
//!
//! # Layout
//!
//! [`config`] settings and plan presets; [`state`] entities and every change; [`graphql`] schema,
//! resolvers and cost; [`bucket`] leaky buckets; [`webhooks`] delivery and chaos; [`merchant`]
//! merchant API and `/_sim` routes; [`http`] the router; [`inspect`] counters and request log.

pub mod bucket;
pub mod bulk;
pub mod checkout;
pub mod collections;
pub mod compliance;
pub mod config;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod inspect;
pub mod lifecycle;
pub mod merchant;
pub mod price_lists;
pub mod scopes;
pub mod search;
pub mod sim;
pub mod state;
pub mod webhooks;

pub use compliance::ComplianceDelivery;
pub use config::{
    ChaosConfig, ConfigError, PlanPreset, SimConfig, SimConfigBuilder, ThrottleStatusCode,
    WebhookConfig,
};
pub use inspect::{RequestRecord, SimStats};
pub use merchant::{
    CreatedProduct, CustomerFields, ImageSpec, MetafieldSpec, NewOrder, NewOrderLine, NewProduct,
    NewVariant, ProductEdit, ProductExtras, ShippedFulfillment, VariantEdit,
};
pub use sim::{ShopifySim, SimError, SimHandle};
pub use state::Topic;
pub use webhooks::{CopyKind, DeliveryRecord, Subscription, WebhookStats, sign};
