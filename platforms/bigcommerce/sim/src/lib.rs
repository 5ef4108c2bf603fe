//! An in-process, embeddable simulator of the BigCommerce REST API (V3 catalog, customers,
//! inventory and hooks; V2 orders) with its store-wide request quota and thin webhooks.
//!
//! weft's BigCommerce connector is tested against this simulator, so it follows the real
//! API's paths, parameters, headers, envelopes, limits and error bodies. Start one with
//! [`BcSim::new`] and [`BcSim::serve`] (or mount [`BcSim::router`] in-process); the API root is
//! `{base_url}/stores/{store_hash}`.
//!
//! # What it models
//!
//! - **Catalog (V3)**: `/v3/catalog/products` (`GET` list, `POST`, `PUT` batch of up to 10,
//!   `DELETE` by filter, at most 250), `/v3/catalog/products/{id}` (`GET`, `PUT`, `DELETE`),
//!   `/v3/catalog/products/{id}/variants` (`GET`, `POST`) and `/{vid}` (`GET`, `PUT`,
//!   `DELETE`), `/v3/catalog/variants` (`GET`, `PUT` batch of up to 50). Deletes answer 204
//!   with no body. Every product has a base variant (its `sku`, `base_variant_id`), option
//!   variants beside it; `price` is a JSON number (a string is 422), a variant's `price` is
//!   `null` when it takes the product's (`calculated_price` says which applies);
//!   `inventory_level` (the sum over locations), `inventory_tracking` (`none`, `product`,
//!   `variant`), `date_created`, `date_modified` (`2026-01-15T12:00:00+00:00`). SKUs are unique
//!   across all variants, case-insensitive (409); product names are unique (409). Batches are
//!   all or nothing.
//! - **Filters and pages (V3)**: `id`, `id:in`, `id:not_in`, `id:min`, `id:max`, `id:greater`,
//!   `id:less`, `sku`, `sku:in`, `name`, `product_id:in` (variants), `email:in` (customers),
//!   `date_modified`, `date_modified:min`, `date_modified:max` (inclusive; RFC 3339, RFC 2822,
//!   `YYYY-MM-DD[THH:MM:SS]` in UTC, or unix seconds), `include=variants`, `sort`,
//!   `direction`. `page` (from 1) and `limit` (1–250, default 50; above 250 is 413, as the
//!   status-code table says); `meta.pagination` with `total`, `count`, `per_page`,
//!   `current_page`, `total_pages` and `links` (`previous`, `current`, `next` as `?…`
//!   queries). Single resources come as `{"data": …, "meta": {}}`.
//! - **Customers (V3)**: `/v3/customers` `GET`, `POST` (array), `PUT` (array), `DELETE`
//!   (`id:in`, 204; without `id:in` 204 and nothing deleted, as the reference says); `email`,
//!   `first_name`, `last_name` required on create, email unique (422).
//! - **Inventory (V3)**: locations (`/v3/inventory/locations`; location 1 is the default one);
//!   stock per variant and location; `PUT /v3/inventory/adjustments/absolute` and
//!   `POST /v3/inventory/adjustments/relative` (`items` with `location_id`, `quantity` and
//!   exactly one of `sku`, `variant_id`, `product_id`; up to 2000 items; all or nothing; an
//!   unknown location is 422 `Location not found, identities: [3,2]`; a level outside
//!   0..=1,000,000,000 is 422; answers `{"transaction_id"}`); `/v3/inventory/items` with
//!   `variant_id:in`, `product_id:in`, `sku:in`, `location_id:in` (per location
//!   `available_to_sell` and `total_inventory_onhand`).
//! - **Orders (V2)**: `/v2/orders` (`GET` list as a bare array, **204 with no body when
//!   empty**; `min_id`, `max_id`, `status_id`, `customer_id`, `min_date_modified`,
//!   `max_date_modified`, `min_date_created`, `max_date_created`, `sort=field:dir`, `page`,
//!   `limit`; `POST`), `/v2/orders/count`, `/v2/orders/{id}` (`GET`, `PUT` with `status_id`),
//!   `/v2/orders/{id}/products`, `/v2/order_statuses` (the fifteen statuses, 0 Incomplete to
//!   14 Partially Refunded). Dates are RFC 2822; money is a string with four decimals. An
//!   order takes its lines' stock at the default location when it is in a status that holds
//!   stock and gives it back when it leaves one (see below).
//! - **Errors**: V3 `{"status","title","type","errors"}`, V2 `[{"status","message"}]`; 404 for
//!   an unknown record or route, 400 for a body that is not JSON.
//! - **Authentication**: `X-Auth-Token` against the configured tokens (constant time); missing
//!   or wrong is 401 in the version's error shape ("No credentials were supplied in the
//!   request." / "The credentials supplied in the request are invalid."). A wrong store hash is
//!   404.
//! - **The store-wide quota**: `requests_per_window` per window (150 per 30 s on Standard and
//!   Plus, 450 on Pro, [`Plan`]), shared by every app on the store. Every authenticated
//!   response carries `X-Rate-Limit-Requests-Left`, `X-Rate-Limit-Requests-Quota`,
//!   `X-Rate-Limit-Time-Window-Ms` and `X-Rate-Limit-Time-Reset-Ms`; over the quota the answer
//!   is 429 with the same headers (left 0). **Other apps** on the store spend
//!   `background_per_window` of each window, evenly over it or in a burst at its start
//!   (configurable, and changeable while running, [`BcSim::set_background_load`]); what they spend and what was refused to
//!   anyone is kept per window ([`BcSim::quota_windows`]).
//! - **Webhooks** (`/v3/hooks` `GET`, `POST`, `GET`/`PUT`/`DELETE` one): `scope` (a `/*` suffix
//!   subscribes to a family), `destination`, `is_active`, custom `headers` sent with every
//!   callback (the only shared secret: BigCommerce does not sign callbacks). Scopes fired:
//!   `store/product/created|updated|deleted`, `store/product/inventory/updated` (adjustments
//!   and catalog stock writes), `store/product/inventory/order/updated` (orders),
//!   `store/order/created|updated|statusUpdated`, `store/customer/created|updated|deleted`,
//!   `store/sku/deleted` (an option variant deleted; its `data` also carries
//!   `"sku": {"product_id","variant_id"}`, as the events reference shows for `store/sku/*`). The
//!   body is thin: `{"scope","store_id","data":{"type","id"},"hash","created_at","producer":"stores/{hash}"}`.
//!   Only a 2xx acknowledges; otherwise the callback is retried after each delay of
//!   `retry_delays`, and when the last retry fails the hook is deactivated
//!   (`is_active: false`), its other pending callbacks are abandoned, and nothing more is sent
//!   to it until it is activated again. Seeded chaos: drop, duplicate (same body and `hash`),
//!   reorder window. [`BcSim::webhook_log`] and [`BcSim::webhook_stats`] say what happened.
//! - **Merchant activity** ([`merchant`], `/_sim/...`, and the Rust API on [`BcSim`]): create
//!   and edit products, variants, stock, customers, locations; a shopper's order; order status
//!   changes; other apps' load; the clock. Inspection: state, request log, quota windows,
//!   webhook log and counters, stock ledger (every change of a level with its cause).
//!
//! The four rate-limit header names are the ones BigCommerce's own Python client reads
//! (`bigcommerce` 0.23.4, `connection.py`, `OAuthConnection._handle_response`). Checked by hand
//! with that client (its connection builds `https://` URLs; only the scheme was changed to
//! reach the plain-HTTP simulator): a V3 product list with `data`/`meta`, its parsing of the
//! rate-limit headers, V2 order statuses, an empty V2 order list (204, which it reads as
//! `{}`), and a V2 404 in the V2 error shape.
//!
//! # What it assumes where the documentation is silent
//!
//! - A variant's change and any stock change of its variants (adjustments, orders) move the
//!   **product's** `date_modified`, so a `date_modified:min` read of products with
//!   `include=variants` sees every catalog and stock change. (Real BigCommerce may not move
//!   it on inventory adjustments; a connector that also trusts
//!   `store/product/inventory/updated` hints and full resyncs is safe either way.)
//! - The catalog's `inventory_level` of a variant or product is its sum over all locations;
//!   writing `inventory_level` through the catalog sets the level at the default location.
//! - Requests without valid credentials are refused before the quota and spend none; they
//!   carry no rate-limit headers. `/_sim` spends no quota.
//! - Windows are consecutive fixed windows from the simulator's start; other apps' requests
//!   arrive evenly, are refused (not retried) when nothing is left, and a 429 spends nothing.
//!   The 429 body is the V3 (or V2) error shape; there is no `Retry-After` header (the reset
//!   header says when).
//! - `hash` is the SHA-1 (hex) of `{"scope","data","created_at"}` as compact JSON: duplicates
//!   and retries of one callback carry the same hash, two events differ.
//! - The retry schedule (60 s, 180 s, 180 s, 20 min, 1 h, 2 h, 6 h, 12 h ×3: about 48 hours) and
//!   deactivation after the last retry fails are the simulator's reading of "retries over
//!   about 48 hours, then deactivation"; both are configurable.
//! - Destinations may be `http` and any port unless `require_https` is set (BigCommerce
//!   requires `https` on 443; a local sandbox has no TLS). Hooks work at once (BigCommerce may
//!   take up to a minute).
//! - Orders hold stock in every status but 0 Incomplete, 4 Refunded, 5 Cancelled and
//!   6 Declined, at the default location, for products whose `inventory_tracking` is not
//!   `none`; stock may go negative through orders (not through adjustments).
//! - Batch limits: 10 products, 50 variants per `PUT` (the reference's recollection).
//! - Deletes (the reference documents only the 204): `DELETE /v3/catalog/products/{id}` of a
//!   product that does not exist is 404 (like `GET`); so is a variant delete naming a variant
//!   the product does not have (another product's variant too). A product's **base variant**
//!   cannot be deleted alone (422, "delete the product instead"): every product keeps one.
//!   Deleting an option variant removes its stock, moves the product's `date_modified` and
//!   fires `store/product/updated` for the product (as creating or editing a variant does
//!   here) and `store/sku/deleted` with the variant's `sku_id`; deleting a product fires
//!   `store/product/deleted` only (no `store/sku/deleted` per variant), deleting a customer
//!   `store/customer/deleted`. `DELETE /v3/customers?id:in=` passes over ids that do not exist
//!   (204). `DELETE /v3/catalog/products` without one of the list's filters (`id…`, `sku…`,
//!   `name`, `date_modified…`) is refused (422: "you must include a filter"), and one matching
//!   more than 250 products too. A deleted customer's orders keep their `customer_id`.
//! - Unknown query parameters are ignored.
//! - Ids: products from 111, variants from 70, orders from 100, customers from 1, locations
//!   from 2, hooks from 20172984.
//!
//! # What it does NOT model
//!
//! Options and modifiers as resources, categories, brands, images, custom fields, metafields,
//! price lists, carts and checkouts, shipments, refunds as resources, order editing beyond the
//! status, coupons and taxes, V2 hooks, `X-Auth-Client`, the Unlimited/Enterprise per-resource
//! limits, the 90-day inactivity deactivation, domain blocklisting, GraphQL.
//!
//! # Layout
//!
//! [`config`] settings; [`quota`] the store-wide quota; [`store`] resources, rules and events;
//! [`http`] the REST surface; [`webhooks`] callbacks and chaos; [`merchant`] the `/_sim` routes;
//! [`sim`] the handle and Rust API; [`error`] the error shapes.

pub mod config;
pub mod error;
pub mod http;
pub mod merchant;
pub mod quota;
pub mod sim;
pub mod store;
pub mod webhooks;

pub use config::{
    BackgroundShape, ChaosConfig, ConfigError, DEFAULT_STORE_HASH, DEFAULT_TOKEN, Plan,
    QuotaConfig, SimConfig, WebhookConfig,
};
pub use error::BcError;
pub use quota::WindowStats;
pub use sim::{BcSim, OrderLine, RequestRecord, SimError, SimHandle};
pub use store::{Actor, DEFAULT_LOCATION, StockChange};
pub use webhooks::{DeliveryRecord, WebhookStats};
