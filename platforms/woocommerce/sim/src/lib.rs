//! An in-process, embeddable simulator of the WooCommerce REST API v3 and WooCommerce webhooks.
//!
//! weft's WooCommerce connector and its demo are tested against this simulator, so it follows
//! the real API's paths, parameters, headers, shapes, limits and error bodies; a client library
//! written for WooCommerce works against it unmodified. Start one with [`WooSim::new`] and
//! [`WooSim::serve`] (or mount [`WooSim::router`] in-process).
//!
//! # What it models
//!
//! - **Routes** under `/wp-json/wc/v3/`: `products`, `products/{id}/variations`, `customers`,
//!   `orders`, `webhooks`, each with `GET` list, `POST` create, `GET`/`PUT`/`PATCH`/`POST`/
//!   `DELETE` one, and `…/batch` (`POST`/`PUT`/`PATCH`). `_method` and
//!   `X-HTTP-Method-Override` are honoured. Unknown routes get `rest_no_route` (404).
//! - **Products**: simple and variable (also grouped/external as plain records); `sku`
//!   (unique across products and variations, case-insensitive, trashed ones excluded; a
//!   duplicate is `product_invalid_sku` 400 with `resource_id` and `unique_sku`),
//!   `regular_price`/`sale_price`/`price` as strings (a number is `rest_invalid_param`, "is not
//!   of type string"), `on_sale`, `manage_stock`, `stock_quantity` (null when not managed),
//!   `stock_status` (derived from the quantity and `backorders` when managed), `status`,
//!   `date_created(_gmt)`, `date_modified(_gmt)`, `total_sales`, `variations`, `_links`. A
//!   variable product's `price` is its cheapest variation's; a variation reads `manage_stock:
//!   "parent"` and the parent's quantity when only the parent manages stock. Variations share
//!   the products' id space; `GET /products/{variation_id}` returns the variation (as
//!   WooCommerce does) but lists do not include variations.
//! - **Orders**: line items by `product_id`, `variation_id` (a variation id given as
//!   `product_id` is resolved) or `sku`, with `price` as a JSON number and totals as strings;
//!   statuses `pending processing on-hold completed cancelled refunded failed checkout-draft`;
//!   `set_paid` (payment_complete: `processing`, `date_paid`). Stock is reduced once when the
//!   order reaches `processing`, `completed` or `on-hold` and restored when it goes to
//!   `cancelled` or `pending` (`wc_maybe_reduce_stock_levels` / `wc_maybe_increase_stock_levels`,
//!   tracked like `_order_stock_reduced`), on whichever record manages the stock; `total_sales`
//!   follows.
//! - **Refunds** (`/orders/{id}/refunds`, as `wc_create_refund`): the amount (or the lines'
//!   `refund_total`) must be positive (400 `woocommerce_rest_invalid_order_refund`) and within
//!   what is left (500 `woocommerce_rest_cannot_create_order_refund`, "Invalid refund amount.");
//!   `api_refund` defaults to true and no simulated gateway refunds automatically (500, "…does
//!   not support automatic refunds." for `bacs`/`cheque`/`cod`, "…does not exist." otherwise);
//!   `api_restock` (default true) puts refunded quantities back in stock; a full refund sets the
//!   order `refunded`; `order.updated` fires. Refunds cannot be trashed; deleting one does not
//!   take stock back.
//! - **Customers**: `email` required and unique (`registration-error-email-exists`), billing and
//!   shipping addresses merged on update; a missing one is 404 `wc_user_invalid_id` ("Invalid
//!   user ID.", WooCommerce 9.x's permission check, before anything else). Delete needs
//!   `force=true` (501 `woocommerce_rest_trash_not_supported` otherwise), as for webhooks.
//! - **Deletes**: products, variations and orders go to the trash without `force` (a second
//!   trash is 410 `woocommerce_rest_already_trashed`, "The product_variation has already been
//!   deleted." on the variations endpoint); trashing a product trashes its variations
//!   (`WC_Post_Data::trash_post`). `force=true` deletes (through the products endpoint, a
//!   variable product with its variations). `DELETE /products/{id}` refuses a variation's id
//!   (404 `woocommerce_rest_invalid_product_id`, "To manipulate product variations you should
//!   use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint."); `DELETE
//!   /products/{p}/variations/{id}` finds the record by `id` alone and never compares `p`, as
//!   WooCommerce's variations controller does (404 `woocommerce_rest_product_variation_invalid_id`
//!   when it is missing). DELETE answers with the resource as it was before (WooCommerce
//!   renders the answer first: a trashed product's answer still shows its old `status`).
//! - **Pagination**: `page` (≥ 1), `per_page` (1–100, default 10), `offset`; anything else is
//!   400 `rest_invalid_param` with WordPress's `params`/`details`. `X-WP-Total`,
//!   `X-WP-TotalPages` and `Link: <…>; rel="prev", <…>; rel="next"` (the request's own query
//!   with `page` replaced). Filters: `modified_after`/`modified_before`/`after`/`before`
//!   (RFC 3339, strict; a malformed date is `rest_invalid_param` "Invalid date."),
//!   `dates_are_gmt`, `orderby` (per resource, validated), `order`, `include`, `exclude`, `sku`
//!   (comma list), `status` (comma list), `type`, `parent`, `search`, `customer`, `product`,
//!   `email`.
//! - **Errors**: `{"code","message","data":{"status",…}}` with WooCommerce's codes
//!   (`woocommerce_rest_product_invalid_id`, `woocommerce_rest_product_variation_invalid_id`,
//!   `woocommerce_rest_shop_order_invalid_id`, `wc_user_invalid_id` for customers,
//!   `woocommerce_rest_shop_webhook_invalid_id`, `rest_invalid_param`, `rest_invalid_json`,
//!   `product_invalid_sku`, `woocommerce_rest_request_entity_too_large`, …). Batch items that
//!   fail carry `{"id", "error":{…}}` in place, the rest succeed.
//! - **Batch**: `create + update + delete` above 100 items (configurable) is 413
//!   `woocommerce_rest_request_entity_too_large`, "Unable to accept more than 100 items for this
//!   request."; batch deletes are forced, as in WooCommerce.
//! - **Authentication**: consumer key/secret as HTTP Basic or as `consumer_key`/
//!   `consumer_secret` query parameters; one-legged OAuth 1.0a in the query or an
//!   `Authorization: OAuth` header (HMAC-SHA1 or HMAC-SHA256, key `consumer_secret&`, base string
//!   over the request URL and every query parameter but `oauth_signature`, timestamp within
//!   15 minutes of the host's real clock, a reused nonce refused). Errors are 401
//!   `woocommerce_rest_authentication_error` with WooCommerce's messages ("Consumer key is
//!   invalid.", "Consumer secret is invalid.", "Invalid signature - provided signature does not
//!   match.", "Invalid timestamp.", "Invalid nonce - nonce has already been used."). No
//!   credentials: 401 `woocommerce_rest_cannot_view` / `_cannot_create` / `_cannot_edit` /
//!   `_cannot_delete` / `_cannot_batch`. A read-only key on a write: 401 "The API key provided
//!   does not have write permissions." (WooCommerce's `check_permissions` answers 401, not 403).
//! - **Webhooks** (`/webhooks` CRUD; the secret defaults to the creating key's consumer secret
//!   and is shown only in create/update answers, the `edit` context; updating an unknown id is
//!   400 "ID is invalid."). Creating an active webhook sends `deliver_ping`'s unsigned form
//!   POST `webhook_id=N`; only a 200 clears its pending state, and saving it active again while
//!   pending pings again; a failed ping is not a delivery failure. Topics `product|order|customer.created|updated|deleted`
//!   (+ `restored`), only to `active` webhooks. One POST per (event, webhook) with
//!   `X-WC-Webhook-Source` (site URL + `/`), `-Topic`, `-Resource`, `-Event`, `-Signature`
//!   (base64 HMAC-SHA256 of the exact body with the secret), `-ID`, `-Delivery-ID`,
//!   `User-Agent: WooCommerce/… Hookshot (WordPress/…)`. The body is `wp_json_encode` of the
//!   resource as GET returns it (`/` written `\/`, non-ASCII `\uXXXX`), `{"id":N}` for deletes.
//!   `product.deleted` fires when a product or variation is **trashed** (its only hook is
//!   `wp_trash_post`): once per record trashed (a product, then each variation trashed with
//!   it), and never for a `force=true` deletion or a batch delete (woocommerce/woocommerce#28541,
//!   #31620); `customer.deleted` fires for every customer deleted.
//!   Success is a status in 200..303; **nothing is ever re-sent**; a failure when
//!   `failure_count` is already above 5 sets the webhook `disabled` (the 7th consecutive
//!   failure), a success resets the count. Stock changes made by orders save the product
//!   (`product.updated`, `date_modified` moves) unless `order_stock_saves_product` is off.
//! - **Chaos** (seeded, decided when the event fires): drop rate, duplicate rate (same delivery
//!   id), reorder window, delay rate/length. [`WooSim::webhook_log`] and
//!   [`WooSim::webhook_stats`] say what happened to each delivery.
//! - **Host throttling** (optional, WooCommerce has none): a token bucket answering 429 or 503
//!   with `Retry-After`, and [`WooSim::set_unavailable`] for the next N requests.
//! - **Merchant activity** (Rust API on [`WooSim`] and `/_sim/...`, see [`merchant`]): create
//!   and edit products, variations, stock, prices, customers; shopper checkouts (paid orders,
//!   stock reduced); order status changes; refunds with or without restock; deletes; each fires webhooks. Inspection: state dump,
//!   request log, creates per kind split by API vs merchant, delivery log, webhook health, and a
//!   stock ledger (every change of a stock figure with its cause: API, merchant or an order).
//!
//! Checked by hand against unmodified client libraries over plain HTTP (OAuth 1.0a): the Python
//! `woocommerce` 3.0.0 package and the Node `@woocommerce/woocommerce-rest-api` package list,
//! create, update, batch and delete. (The Python package leaves `/` unencoded in the signature
//! base string, so a parameter value holding `/` fails its signature here as it does against
//! WooCommerce, which `rawurlencode`s twice.)
//!
//! # What it assumes where the documentation is silent
//!
//! - OAuth parameters are read as PHP reads `$_GET`: a repeated key keeps its last value;
//!   array parameters (`k[]=…`) are signed as plain repeated pairs, not WooCommerce's
//!   `k%5B0%5D` expansion.
//! - A variation's change does not move its parent's `date_modified` nor fire
//!   `product.updated` for the parent; neither does a variation's deletion (trashed or
//!   forced), which leaves the parent in place, a variable product with fewer (or no)
//!   variations.
//! - Trashing a variable product fires `product.deleted` for the product before its
//!   variations' (WordPress runs `wp_trash_post`'s handlers in the order they were added; the
//!   webhook's and `WC_Post_Data::trash_post`'s order is not documented).
//! - Every customer has the `customer` role, so the endpoint's role check (only `customer`
//!   and `subscriber` users may be deleted, 401 otherwise) never refuses, and every deletion
//!   fires `customer.deleted`. A batch update of a missing customer answers like a single
//!   `PUT` (404 `wc_user_invalid_id`; WooCommerce's batch skips the permission check and says
//!   400 `woocommerce_rest_invalid_id`).
//! - Basic auth and query-string keys are accepted over plain HTTP (WooCommerce only takes them
//!   over HTTPS; a local sandbox has no TLS), OAuth 1.0a is accepted too. The OAuth base URL is
//!   the configured `site_url` + path, else `http://{Host}` + path (`https` with
//!   `X-Forwarded-Proto: https`). Form-encoded bodies are not part of the signature.
//! - A key with `write` permission is refused on reads with "…does not have read permissions."
//! - Resource timestamps come from the shop clock (a fixed base time + elapsed tokio time +
//!   advances, whole seconds); the site zone defaults to UTC−05:00 so `date_modified` (local)
//!   and `date_modified_gmt` differ. A date filter without a zone is read in the site zone, or in
//!   UTC with `dates_are_gmt=true`; one with a zone is converted. Comparisons are strict.
//! - Customers ignore date filters (WooCommerce's customers endpoint has none); their default
//!   order is `name` ascending, other lists `date` descending, ties broken by id.
//! - Webhook payloads are snapshotted when the event fires (WooCommerce's synchronous mode), so a
//!   delayed or reordered delivery can carry a stale resource; `payload_at_delivery` builds them
//!   when sent instead, as WooCommerce's default asynchronous delivery does.
//!   Variations fire `product.*` with the variation's own representation.
//! - Re-activating a webhook resets its failure count.
//! - Delivery URLs on loopback and private addresses are allowed (WooCommerce's
//!   `wp_safe_remote_post` refuses them unless a filter allows them); http is accepted.
//! - Webhook delivery is asynchronous (Action Scheduler in WooCommerce): every delivery is
//!   queued and sent by a background task, in the order the reorder window allows.
//! - Ids: products, variations and orders share one counter from 10 (WordPress posts);
//!   customers from 2 (user 1 is the admin); webhooks from 1. Order keys and delivery ids
//!   come from the seed.
//!
//! # What it does NOT model
//!
//! - Coupons, taxes, shipping, fees, attributes/terms/categories endpoints, reports,
//!   settings, system status, `context=edit`, `_fields`/`_embed`, HEAD bodies, multiple stock
//!   locations (WooCommerce core has one stock figure per product), reserved stock, low-stock
//!   notifications, product `date_on_sale_*` schedules.
//! - Editing an order's line items after creation (refused with
//!   `woocommerce_rest_sim_unsupported`).
//! - `action.*` topics are accepted but never fire; webhook `api_version` other than v3;
//!   de-duplication of several updates of one resource within one request.
//! - HPOS order ids (a separate counter) and the legacy `rest_route=` URL form.
//!
//! # Layout
//!
//! [`config`] settings; [`store`] resources, rules and fired events; [`http`] the REST surface;
//! [`auth`] keys and OAuth; [`webhooks`] delivery and chaos; [`merchant`] the `/_sim` routes;
//! [`sim`] the handle and Rust API; [`error`] the WordPress error shape.

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod inspect;
pub mod merchant;
pub mod sim;
pub mod store;
pub mod webhooks;

pub use config::{
    ApiKey, ChaosConfig, ConfigError, DEFAULT_KEY, DEFAULT_SECRET, KeyPermissions, LimitStatus,
    READ_ONLY_KEY, READ_ONLY_SECRET, RateLimit, SimConfig, WebhookConfig,
};
pub use error::WcError;
pub use inspect::RequestRecord;
pub use sim::{OrderLine, SimError, SimHandle, WooSim};
pub use store::{Actor, Kind, StockChange};
pub use webhooks::{CopyKind, DeliveryRecord, WebhookStats, php_json, sign};
