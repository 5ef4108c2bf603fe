//! An in-process, embeddable simulator of one NetSuite account's SuiteTalk REST web services,
//! faithful in what weft's connector depends on. Embed it with [`NetSuiteSim::new`], then
//! [`NetSuiteSim::serve`] on a listener (or mount [`NetSuiteSim::router`]).
//!
//! # Modelled
//!
//! - **Record API** `/services/rest/record/v1/{type}`, `/{type}/{id}`, `/{type}/eid:{externalId}`
//!   and `/{type}/{id}/{sublist}` for `inventoryItem`, `customer`, `salesOrder`,
//!   `inventoryAdjustment` and (read-only) `location`: GET (record JSON with `links`, ids as
//!   strings, references as `{links, id, refName}`, `lastModifiedDate` as
//!   `YYYY-MM-DDTHH:MM:SSZ`, sublists collapsed to `{links}` unless `?expandSubResources=true`);
//!   collection GET with `limit` (max 1000) / `offset` paging (`links`, `count`, `hasMore`,
//!   `items` of `{links, id}`, `offset`, `totalResults`) and `q=` filtering (e.g.
//!   `lastModifiedDate ON_OR_AFTER "2026-01-01T00:00:00Z"`); POST (204 + `Location`); PATCH (204;
//!   sublist lines are added unless `?replace=<sublist>`); PUT on `eid:` = upsert (204, creates
//!   or updates, sublists replaced; PUT on an internal id is 405); DELETE (204; refused while
//!   dependent transactions exist).
//! - **Exact field sets** (see `docs/document-shapes.md`): unknown or read-only fields are
//!   `INVALID_FIELD`, wrong types `INVALID_FLD_VALUE`, references to missing records
//!   `INVALID_KEY_OR_REF` (by `{id}` or `{externalId}`), bad external ids (only letters, digits,
//!   `_`, `-`) `INVALID_ID`, duplicate external ids `DUP_RCRD`, duplicate `itemId` `DUP_ITEM`,
//!   missing mandatory values `USER_ERROR` ("Please enter value(s) for: ..."). Custom fields
//!   `custitem_*` (items), `custentity_*` (customers), `custbody_*` (transactions) are free.
//!   Errors use NetSuite's shape `{type, title, status, o:errorDetails[{detail, o:errorCode,
//!   o:errorPath?, o:errorQueryParam?}]}`.
//! - **Inventory**: an item's `locations` sublist (one line per location, `quantityOnHand` =
//!   `quantityAvailable`) is read-only; quantities change only through `inventoryAdjustment`,
//!   whose lines' `adjustQtyBy` are applied on create, re-applied as a difference when the
//!   adjustment is edited (so a repeated upsert by one externalId applies once), reversed on
//!   delete, and bump the items' `lastModifiedDate`.
//! - **Sales orders**: `entity` and at least one line required; line `amount` = quantity × rate
//!   (rate defaults to the item's `basePrice`), `tranId` auto `SO1001`..., `orderStatus` a
//!   letter `A`..`H` (default `B`), rendered as the plain letter. `billingAddress` /
//!   `shippingAddress` are address subrecords (`addressee`, `attention`, `addr1`..`addr3`,
//!   `city`, `state`, `zip`, `country` as a two-letter code, `addrPhone`; `addrText` rendered,
//!   read-only), written whole. Shipping: `shipMethod` (a ship item: ids 1 Ground, 2 Express,
//!   3 Pickup), `shippingCost`. Taxes are the **legacy** model with amounts given rather than
//!   computed from tax codes (assumption: the simulator has no tax engine): line `taxRate1`
//!   (percent) and `tax1Amt`, header `shippingTax1Amt`. An order discount is `discountItem`
//!   (a discount item: id 1 Web Discount) with `discountRate` as a negative amount (a
//!   percentage string is not modelled); a rate without an item is refused. Line custom
//!   columns `custcol_*` are free. Read-only, computed on every write: `subtotal` (Σ line
//!   amounts), `discountTotal` (= `discountRate`), `taxTotal` (Σ `tax1Amt` +
//!   `shippingTax1Amt`), `total` = subtotal + discountTotal + taxTotal + shippingCost.
//! - **SuiteQL** `POST /services/rest/query/v1/suiteql` with `Prefer: transient` (400 without)
//!   and `{"q": ...}`: a real parser for the SELECT subset in [`suiteql`] (tables `item`,
//!   `customer`, `transaction`, `inventoryitemlocations`, `location`), `limit` ≤ 1000 /
//!   `offset` paging, 100,000-row cap, NetSuite's value rendering (see [`suiteql`]: dates come
//!   back as `M/D/YYYY` unless `TO_CHAR` is used).
//! - **Token-based auth** (OAuth 1.0a, HMAC-SHA256 only), really verified on every request: realm
//!   = account id, known consumer key and token (token must belong to the consumer), nonce ≥ 6
//!   characters and not reused, timestamp within 5 minutes of the simulator's clock, signature
//!   over the RFC 5849 base string (query parameters included). Every refusal is 401
//!   `INVALID_LOGIN_ATTEMPT`; the real reason is kept in [`NetSuiteSim::login_audit`] as NetSuite
//!   keeps it in its Login Audit Trail. [`oauth1`] exports the signing functions for clients.
//! - **Concurrency governance**: one in-flight counter per account, shared by every integration
//!   and token; a request over the limit is answered at once with 429 and
//!   `"Concurrent request limit exceeded. Request blocked."`, code `CONCURRENCY_LIMIT_EXCEEDED`.
//!   **The exact REST status and code are UNCONFIRMED** (platforms.md §2.4: 429 per Oracle's
//!   "Too Many Requests" wording; RESTlets answer 400 `SSS_REQUEST_LIMIT_EXCEEDED`).
//!   Optional artificial latency per request holds the slot, so concurrency matters.
//!   Tracked: high-water mark, over-limit answers, per-integration counts.
//! - **ERP user activity** (Rust methods `erp_*` and HTTP under `/_sim/erp/...`): create and edit
//!   records, adjust stock, seed a catalogue, seeded random activity; a second-granularity clock
//!   that can be frozen (many edits share one `lastModifiedDate`) and advanced.
//!   **Inspection** (Rust and `/_sim/...`): state dump, request log, login audit trail, writes
//!   per record type (API and ERP separately), over-limit count, concurrency high-water mark.
//!
//! # Not modelled
//!
//! OAuth 2.0 (bearer tokens are refused), REST web services' `Prefer: respond-async` jobs and
//! idempotency keys, batch operations, the flexible short over-run of the concurrency limit,
//! per-integration limit allocation, `governanceLimits`, request-size limit (bodies are capped
//! at 104 MB without NetSuite's error text), other record types (item fulfilments, invoices,
//! subsidiaries and accounts exist only as reference targets `1`), price levels and currencies,
//! committed / back-ordered quantities (available = on hand), negative-stock preferences
//! (stock may go negative), sales-order fulfilment, role permissions, user date-format and
//! time-zone preferences (all times UTC), `fields=` projection, SuiteQL joins / GROUP BY /
//! functions beyond `TO_CHAR`, `TO_TIMESTAMP`, `TO_DATE`, and HTTPS (serve it behind TLS if a
//! client insists).

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod filter;
pub mod oauth1;
pub mod records;
mod server;
pub mod suiteql;

mod activity;
mod sim;

pub use activity::ActivityEvent;
pub use config::{DEFAULT_CONCURRENCY_LIMIT, IntegrationConfig, SimConfig, TokenConfig};
pub use error::{ConfigError, NsError};
pub use oauth1::Credentials;
pub use records::{RecordType, WriteCounts};
pub use sim::{
    IntegrationStats, LoginAuditEntry, NetSuiteSim, RequestLogEntry, SimServer, SimStats,
};
