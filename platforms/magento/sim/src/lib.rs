//! An in-process, embeddable simulator of the Magento 2 / Adobe Commerce REST API (Magento Open
//! Source 2.4 on PaaS): products, Multi-Source Inventory source items, customers, orders, and
//! the **asynchronous bulk API** whose results arrive later.
//!
//! weft's Magento connector is tested against this simulator, so it follows the real API's
//! paths, `searchCriteria` parameters, envelopes, limits and error bodies. Start one with
//! [`MagentoSim::new`] and [`MagentoSim::serve`] (or mount [`MagentoSim::router`]); the API root
//! is `{base_url}/rest/{store_code}`.
//!
//! # What it models
//!
//! - **Products**: `GET /V1/products?searchCriteria…` (list), `POST /V1/products`
//!   (`{"product": {…}}`, saved by `sku`: created or updated), `GET`/`PUT /V1/products/{sku}`,
//!   `DELETE /V1/products/{sku}` (answers `true`; an unknown SKU is 404 "The product that was
//!   requested doesn't exist…"; the product's source items go with it).
//!   A product: `id`, `sku`, `name`, `attribute_set_id` (4), `price`, `status` (1 enabled,
//!   2 disabled), `visibility` (4), `type_id` (`simple`), `weight`, `created_at`, `updated_at`
//!   (`YYYY-MM-DD HH:MM:SS`, UTC, to the second), `custom_attributes`
//!   (`[{"attribute_code","value"}]`, merged by code on save). A create without `name` or
//!   `price`, or a negative or non-numeric `price`, is refused (400, or operation status 3 in a
//!   bulk).
//! - **Search criteria** (every list): `searchCriteria[filter_groups][g][filters][f][field|value|condition_type]`
//!   (groups AND, filters of a group OR; `eq` (default), `neq`, `gt`, `gteq`, `lt`, `lteq`,
//!   `in`, `nin`, `like` with `%`), `searchCriteria[sortOrders][n][field|direction]`,
//!   `searchCriteria[pageSize]`, `searchCriteria[currentPage]` (from 1). Answer
//!   `{"items", "search_criteria", "total_count"}`. **A page past the last answers the last page
//!   again** (magento/magento2 #25619, #17295), never an empty list; a connector must stop on
//!   `total_count`. With the web API input limits on (2.4.3+ default, [`SimConfig::input_limits`]):
//!   a `pageSize` above 300 is 400, no `pageSize` means 20, and a synchronous array input is
//!   at most 20 entities (an async bulk at most 5000).
//! - **Multi-Source Inventory**: sources (`default` and the configured ones); source items
//!   (`sku`, `source_code`, `quantity`, `status`: 0 out of stock, 1 in stock) through
//!   `GET /V1/inventory/source-items?searchCriteria…` and `POST /V1/inventory/source-items`
//!   (`{"sourceItems": [...]}`, all or nothing; unknown SKU or source is 400 "Validation
//!   Failed" with `errors`).
//! - **Customers**: `GET /V1/customers/search?searchCriteria…`, `GET /V1/customers/{id}`
//!   (`id`, `email`, `firstname`, `lastname`, `website_id`, `group_id`, `addresses`,
//!   `created_at`, `updated_at`), `PUT /V1/customers/{id}` (`{"customer": {…}}`: `email`,
//!   `firstname`, `lastname` required, `addresses` replaced when given and kept when left
//!   out, an email another customer has refused), `DELETE /V1/customers/{id}` (answers
//!   `true`; an unknown id is 404 "No such entity with %fieldName = %fieldValue"; their orders
//!   stay, with `customer_id` null).
//! - **Orders**: `GET /V1/orders?searchCriteria…`, `GET /V1/orders/{id}` (`entity_id`,
//!   `increment_id`, `state`, `status`, `customer_*`, `customer_is_guest`, money fields,
//!   `order_currency_code`, `billing_address`, `items` with `item_id`, `sku`, `name`,
//!   `qty_ordered`, `price`, `row_total`, `product_id`, `created_at`, `updated_at`).
//! - **Asynchronous bulk API**: `POST /rest/{store}/async/bulk/V1/products` (an array of
//!   `{"product": {…}}`) and `POST /rest/{store}/async/bulk/V1/inventory/source-items` (an array
//!   of `{"sourceItems": [...]}`) answer 202 `{"bulk_uuid", "request_items": [{"id",
//!   "data_hash", "status": "accepted"|"rejected", "error_message"}], "errors"}`; an item that
//!   is not the topic's shape is rejected at once (status 5). Accepted operations are applied
//!   later by the simulated `async.operations.all` consumer. `GET /V1/bulk/{uuid}/status` and
//!   `GET /V1/bulk/{uuid}/detailed-status` answer `operations_list` with each operation's
//!   `status` (1 complete, 2 failed and retriable, 3 failed and must change, 4 open,
//!   5 rejected), `result_message` and `error_code`; an unknown uuid is 404.
//! - **Authentication**: an integration access token as `Authorization: Bearer …` (what
//!   `oauth/consumer/enable_integration_as_bearer = 1` allows); missing or wrong is 401
//!   `{"message": "The consumer isn't authorized to access %resources.", "parameters":
//!   {"resources": "…"}}`. An unknown store code is 400.
//! - **Errors**: `{"message": "…%1…", "parameters": [...]}` (or named parameters), 404 for a
//!   missing record, 400 for a body that is not JSON or not the endpoint's shape.
//! - **Chaos** ([`ChaosConfig`], seeded): the share of accepted operations that fail
//!   retriably (status 2, a lock wait), the consumer's delay before an operation is applied
//!   (late results), and the share of bulks whose status never arrives (their operations stay
//!   open forever; they are applied or not, [`ChaosConfig::lost_bulk_applies`]).
//! - **Merchant activity** (`/_sim/…` and the Rust API on [`MagentoSim`]): create and edit
//!   products, prices and source quantities, customers, a shopper's order (it takes its lines'
//!   quantities from the order's source); inspection of state, the request log and bulks.
//!
//! # What it assumes where the documentation is silent
//!
//! - The consumer applies an operation `consumer_delay` (plus up to `consumer_jitter`, seeded)
//!   after its bulk was accepted; the simulator applies every operation that is due before it
//!   answers any request, so every answer sees the catalog as of its own time. A failed
//!   operation is not retried by the simulator (Magento's consumer does not re-queue a
//!   failed operation by itself; the client re-submits).
//! - A product's `updated_at` moves on every save that changes it (REST, bulk or merchant); a
//!   source item has no time stamp (the MSI table has none) and its save does not move the
//!   product's `updated_at`.
//! - `PUT /V1/customers/{id}` keeps the addresses when `addresses` is left out (what Magento
//!   2.2+ does) and moves `updated_at` only when a field changed.
//! - Orders take stock from the order's source item at placement (MSI reservations and
//!   salable quantity are not modelled) and never move a product's `updated_at`.
//! - The 400 for a too large page says `Maximum SearchCriteria pageSize is %1` with the limit.
//! - The message of a retriable failure is a MySQL lock wait; of a must-change one, Magento's
//!   validation message of the refused field.
//! - Ids: products, customers and orders from 1; increment ids `000000001`…
//! - Deletes (`DELETE /V1/products/{sku}`, `DELETE /V1/customers/{id}`): Magento Open Source
//!   sends nothing when a record is deleted (no webhooks; Adobe Commerce's webhooks and I/O
//!   events are not modelled): the record is simply no longer listed, and its id never comes
//!   back (a product made again under the same SKU gets a new id). Neither is refused for what
//!   depends on it: a simple product with orders or in a bulk still open is deleted (the
//!   orders keep their lines; an open save of its SKU, applied later, makes a new product),
//!   and so is a customer with orders (`sales_order.customer_id` is set to null by the foreign
//!   key; the order's `updated_at` and `customer_is_guest` do not change, as no Magento code
//!   saves the order). Both answer `true`, as `deleteById` returns it. The token grants every
//!   resource, so `Magento_Customer::manage`, which deleting a customer needs, is only named in
//!   the 401.
//!
//! # What it does NOT model
//!
//! OAuth 1.0a signed requests, admin and customer tokens, configurable and bundle products,
//! categories, images, prices per website or customer group, stocks and sales channels,
//! reservations and source selection, shipments, invoices, credit memos, order editing,
//! `/async/V1/…` single-request endpoints, `PATCH`, the SaaS `…/V1/async/…` form, GraphQL,
//! SOAP.
//!
//! # Layout
//!
//! [`config`] settings; [`search`] `searchCriteria` parsing and evaluation; [`store`] records,
//! rules and the bulk consumer; [`http`] the REST surface and `/_sim`; [`sim`] the handle and
//! Rust API; [`error`] the error shape.

pub mod config;
pub mod error;
pub mod http;
pub mod search;
pub mod sim;
pub mod store;

pub use config::{ChaosConfig, DEFAULT_SOURCE, DEFAULT_STORE_CODE, DEFAULT_TOKEN, SimConfig};
pub use error::MgError;
pub use sim::{MagentoSim, RequestRecord, SimHandle};
pub use store::{
    BulkRecord, OrderLine, STATUS_COMPLETE, STATUS_MUST_CHANGE, STATUS_OPEN, STATUS_REJECTED,
    STATUS_RETRIABLE,
};
