//! An in-process, embeddable simulator of one NetSuite account's SuiteTalk REST web services,
//! faithful in what weft's connector depends on. Embed it with [`NetSuiteSim::new`], then
//! [`NetSuiteSim::serve`] on a listener (or mount [`NetSuiteSim::router`]).
//!
//! # Modelled
//!
//! - **Record API** `/services/rest/record/v1/{type}`, `/{type}/{id}`, `/{type}/eid:{externalId}`
//!   and `/{type}/{id}/{sublist}` for `inventoryItem`, `customer`, `salesOrder`,
//!   `inventoryAdjustment`, `creditMemo` and (read-only) `location`: GET (record JSON with `links`, ids as
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
//! - **Inventory** per item and location: `quantityOnHand`, `quantityCommitted`,
//!   `quantityAvailable` (= on hand - committed), `quantityOnOrder` (always 0: purchase orders
//!   are not modelled; receipts are adjustments) and `quantityBackOrdered`, read-only in the
//!   item's `locations` sublist and in SuiteQL `inventoryitemlocations`. On hand moves only by
//!   transactions: `inventoryAdjustment` lines' `adjustQtyBy` (applied on create, re-applied as a
//!   difference when the adjustment is edited, so a repeated upsert by one externalId applies
//!   once, reversed on delete) and item fulfilments (below). **A transaction does not move the
//!   item's `lastModifiedDate`**: the quantities are sums over transaction lines, not fields of
//!   the item record, and integrators of real NetSuite capture stock from the transactions that
//!   move it (sales orders, fulfilments, receipts, adjustments, refunds), not from the item
//!   (an integrator's list of what changes available quantity, found with `search`: "so when we
//!   integrate the real-time stock to external applications ... these records need to be
//!   considered"; no Oracle page says the item's date moves, and the item record's fields do not
//!   include the quantities). So weft reads changed stock transactions (`transaction`,
//!   `transactionline`) and then the items they touch.
//! - **Commitments**: an open sales order line commits what remains to fulfil (quantity -
//!   fulfilled) at its location (the line's `location`, else the order's `location`, else the
//!   account's first location, standing for the default-location preference), up to what the
//!   location has available, in order of entry; the rest is back ordered and committed when
//!   stock arrives (NetSuite's "commit as available"). Closing a line (`isClosed`), cancelling
//!   (`orderStatus` `C`, refused once anything was fulfilled) or closing the order (`H`)
//!   releases the commitment. Line `line`, `quantityCommitted`, `quantityFulfilled` and
//!   `quantityBackOrdered` are read-only. An order with fulfilments cannot lose, re-point or
//!   shrink below its fulfilled quantity a fulfilled line, nor be deleted.
//! - **Item fulfilments** (`itemFulfillment`, SuiteQL type `ItemShip`): created only by
//!   `POST /salesOrder/{id}/!transform/itemFulfillment` (a direct POST is refused), body
//!   optional: `item.items[{orderLine, quantity, itemReceive}]` (no lines = every committed
//!   quantity), `package.items[{packageTrackingNumber, packageDescr, packageWeight}]`,
//!   `shipCarrier`, `shipMethod`, `shipStatus` (default `C`, shipped), `externalId`,
//!   `custbody_*`. A line ships at most its committed quantity ("fulfil based on commitment");
//!   the fulfilment lowers on hand and the line's commitment, and moves the order to `D`
//!   (partially fulfilled) or `F` (pending billing), modifying the order. Its item lines cannot
//!   be edited (delete and transform again); deleting it puts the stock back.
//! - **Credit memos** (`creditMemo`, SuiteQL type `CustCred`; REST POST, PUT on `eid:` as
//!   upsert, PATCH, DELETE like other transactions): `entity` and at least one `item` line
//!   required; a line is `{item, quantity, rate, amount, description, location}`, `amount`
//!   defaults to rate × quantity, read-only `total` = Σ line amounts, `tranId` auto `CM1`....
//!   **Stock, as NetSuite documents it** (Oracle, "Issuing a Customer Credit Memo": "a credit
//!   memo created from a return authorization has no impact on inventory; however, a
//!   stand-alone credit memo does impact inventory"): every line of an **inventory item**
//!   returns its quantity to on hand at the line's location (else the memo's `location`, else
//!   the default location), posted on create, re-posted as a difference on edit (a repeated
//!   upsert by one externalId returns stock once), reversed on delete; commitments are then
//!   re-run (back orders may be filled). A refund whose units are not returned is credited on
//!   a **non-inventory item** (integrators' practice: "remove any inventory items ... replace
//!   with a non-inventory item"): the account has one, id 1 "Refund - Not Returned"
//!   (`NON_INVENTORY_REFUND_ITEM`; non-inventory items are not served as records), whose lines
//!   move no stock. **Assumptions**: `createdFrom` is not written (NetSuite sets it when a
//!   memo is transformed from an invoice or a return authorization, neither modelled), so a
//!   memo names its order in `otherRefNum` and custom body fields; return authorizations and
//!   item receipts are not modelled. A memo's lines show in SuiteQL `transactionline` with
//!   positive quantities (they add to stock).
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
//! - **Catalog fields of items**: `weight` (a number) and `weightUnit` (a reference to the fixed
//!   units 1 lb, 2 oz, 3 kg, 4 g), `pageTitle` and `storeDescription` (web store SEO title and
//!   description). Images, product types and tags have no standard REST item field: integrators
//!   keep them in custom item fields (`custitem_*`).
//! - **Pricing matrix**: an item's `price` sublist (as Oracle's "Working with the Pricing
//!   Sublist on Item Records" shows it), lines `{currencyPage, priceLevel, quantity: {value},
//!   price}`: currencies 1 USD, 2 GBP, 3 EUR, 4 CAD; price levels 1 Base Price, 2..4
//!   Alternate Price 1..3, 5 Online Price; one price per currency, level and quantity break.
//!   **Assumption**: `basePrice` is kept apart from the matrix (NetSuite shows the base
//!   currency's Base Price line there; the simulator does not derive one from the other).
//! - **Matrix items** (assumed REST shape, as the Oracle pages found with `search` describe the
//!   SOAP one): `matrixType` `PARENT` or `CHILD` (plain text; absent for an ordinary item), a
//!   child's `parent` (the "Subitem of" reference, which must be a `PARENT`, else
//!   `INVALID_MATRIX_PARENT` "Item {1} is not a parent matrix item.") and one field per matrix
//!   option, `matrixOption<custitem field>` (`matrixOptioncustitem_size`), rendered
//!   `{id, refName}`. A child names at least one option (`USER_ERROR`), no two children of a
//!   parent share a combination (`DUP_MATRIX_OPTN_ABBRV`); a parent has no parent and no
//!   option values. Option values are written `{"id"}` or `{"refName"}`; **assumption**: a
//!   name the option's list does not have yet is added to it (in NetSuite the list is a custom
//!   list the administrator extends first). Children are full items (their own prices, stock,
//!   names); SuiteQL `item` has `matrixtype` and `parent`.
//! - **Customer address book**: the `addressBook` sublist, lines `{defaultBilling,
//!   defaultShipping, isResidential, label, addressBookAddress}` (the address subrecord of
//!   sales orders); one line is the default billing and one the default shipping address (a
//!   later line checked as default unchecks the earlier ones, as the UI does).
//! - **Customer tax and consent**: `taxable` (a new customer is taxable: the simulator assumes
//!   the "Customers Default to Taxable" accounting preference) and `globalSubscriptionStatus`,
//!   a list value `{id, refName}` (1 Soft Opt-In, 2 Soft Opt-Out, 3 Confirmed Opt-In,
//!   4 Confirmed Opt-Out; a new customer is 2: assumed, the REST docs do not give the
//!   default).
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
//! - **weft's push script** ([`push`], [`NetSuiteSim::push_to`]): after each create, edit or
//!   delete the user event script posts a signed notification to weft, with seeded drops,
//!   duplicates, reordering and delay; an unreachable weft never blocks a save.
//!
//! # Not modelled
//!
//! OAuth 2.0 (bearer tokens are refused), REST web services' `Prefer: respond-async` jobs and
//! idempotency keys, batch operations, the flexible short over-run of the concurrency limit,
//! per-integration limit allocation, `governanceLimits`, request-size limit (bodies are capped
//! at 104 MB without NetSuite's error text), other record types (invoices, purchase orders,
//! item receipts, return authorizations; subsidiaries and accounts exist only as reference
//! targets `1`), price level and currency records (their ids are fixed lists), negative-stock preferences (stock may go
//! negative; commitments never exceed what is on hand), pick/pack stages (a fulfilment is
//! shipped at once), role permissions, user date-format and
//! time-zone preferences (all times UTC), `fields=` projection, SuiteQL joins / GROUP BY /
//! functions beyond `TO_CHAR`, `TO_TIMESTAMP`, `TO_DATE`, and HTTPS (serve it behind TLS if a
//! client insists).

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod filter;
pub mod oauth1;
pub mod push;
pub mod records;
mod server;
pub mod suiteql;

mod activity;
mod sim;

pub use activity::ActivityEvent;
pub use config::{DEFAULT_CONCURRENCY_LIMIT, IntegrationConfig, SimConfig, TokenConfig};
pub use error::{ConfigError, NsError};
pub use oauth1::Credentials;
pub use push::{PushConfig, PushStats};
pub use records::{NON_INVENTORY_REFUND_ITEM, Quantities, RecordType, Saved, WriteCounts};
pub use sim::{
    IntegrationStats, LoginAuditEntry, NetSuiteSim, RequestLogEntry, SimServer, SimStats,
};
