//! The GraphQL documents the Shopify connector sends, and their requested-cost estimates.
//!
//! Estimates follow Shopify's published cost rules (object = 1, connection = 2 + first × the
//! node's cost, mutation = 10) and only seed the cost budget for the first call of each
//! document: after that the client uses the `requestedQueryCost` the server reported.

/// Fields selected on each product variant.
pub const VARIANT_FIELDS: &str = "id title sku price compareAtPrice barcode updatedAt selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } }";

// The field sets of each entity, shared by the paged reads and the by-id fetches (so both
// normalize to the same document). Macros, because `concat!` needs literals.
macro_rules! product_fields {
    () => {
        "id title descriptionHtml vendor productType handle status tags updatedAt
      seo { title description } category { id }
      options { name values }
      images(first: 10) { nodes { url altText } }
      metafields(first: 10) { nodes { namespace key type value } }
      collections(first: 8) @include(if: $collections) { pageInfo { hasNextPage } nodes { handle ruleSet { appliedDisjunctively } } }
      variants(first: $variants) {
        pageInfo { hasNextPage endCursor }
        nodes { id title sku price compareAtPrice barcode updatedAt selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } } }
      }"
    };
}
macro_rules! customer_fields {
    () => {
        "id email firstName lastName phone tags taxExempt updatedAt
      emailMarketingConsent { marketingState }
      addresses { firstName lastName company address1 address2 city provinceCode countryCodeV2 zip phone }
      defaultAddress { firstName lastName company address1 address2 city provinceCode countryCodeV2 zip phone }"
    };
}
macro_rules! order_fields {
    () => {
        "id name email createdAt updatedAt cancelledAt currencyCode displayFinancialStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      subtotalPriceSet { shopMoney { amount } }
      totalDiscountsSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      taxesIncluded discountCodes paymentGatewayNames note
      billingAddress { firstName lastName company address1 address2 city provinceCode countryCodeV2 zip phone }
      shippingAddress { firstName lastName company address1 address2 city provinceCode countryCodeV2 zip phone }
      shippingLines(first: 5) {
        nodes { title code originalPriceSet { shopMoney { amount } } taxLines { title rate priceSet { shopMoney { amount } } } }
      }
      customer { id email firstName lastName }
      lineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id sku quantity currentQuantity
          originalUnitPriceSet { shopMoney { amount } }
          taxLines { title rate priceSet { shopMoney { amount } } }
          discountAllocations { allocatedAmountSet { shopMoney { amount } } }
          variant { id }
          product { id }
        }
      }
      refunds(first: 2) {
        id createdAt note
        refundLineItems(first: 5) {
          pageInfo { hasNextPage }
          nodes { quantity restockType location { id } lineItem { id sku } }
        }
      }"
    };
}

/// Page of products with their first variants.
pub const PRODUCTS: &str = concat!(
    "query WeftProducts($first: Int!, $after: String, $query: String, $variants: Int!, $collections: Boolean!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ",
    product_fields!(),
    " }
  }
}"
);

/// Further pages of one product's variants (when a product has more than fit in [`PRODUCTS`]).
pub const PRODUCT_VARIANTS: &str = r#"query WeftProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id title sku price compareAtPrice barcode updatedAt selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } } }
    }
  }
}"#;

/// One product by id, with its first variants.
pub const PRODUCT: &str = concat!(
    "query WeftProduct($id: ID!, $variants: Int!, $collections: Boolean!) {
  product(id: $id) { ",
    product_fields!(),
    " }
}"
);

/// Page of customers.
pub const CUSTOMERS: &str = concat!(
    "query WeftCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ",
    customer_fields!(),
    " }
  }
}"
);

/// Page of orders with their line items.
pub const ORDERS: &str = concat!(
    "query WeftOrders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ",
    order_fields!(),
    " }
  }
}"
);

/// Products by id (`nodes`), each with its first variants.
pub const PRODUCTS_BY_ID: &str = concat!(
    "query WeftProductsById($ids: [ID!]!, $variants: Int!, $collections: Boolean!) {
  nodes(ids: $ids) { ... on Product { ",
    product_fields!(),
    " } }
}"
);

/// Customers by id (`nodes`).
pub const CUSTOMERS_BY_ID: &str = concat!(
    "query WeftCustomersById($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Customer { ",
    customer_fields!(),
    " } }
}"
);

/// Orders by id (`nodes`), each with its first line items.
pub const ORDERS_BY_ID: &str = concat!(
    "query WeftOrdersById($ids: [ID!]!, $lines: Int!) {
  nodes(ids: $ids) { ... on Order { ",
    order_fields!(),
    " } }
}"
);

/// Page of the ids and `updatedAt` of products changed since a time: the cheap first half of a
/// reconciliation round (one point per node), so only what weft has not read yet is fetched.
pub const LIST_PRODUCTS: &str = r#"query WeftListProducts($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt }
  }
}"#;

/// Like [`LIST_PRODUCTS`], for customers.
pub const LIST_CUSTOMERS: &str = r#"query WeftListCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt }
  }
}"#;

/// Like [`LIST_PRODUCTS`], for orders.
pub const LIST_ORDERS: &str = r#"query WeftListOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt }
  }
}"#;

/// The shop's locations.
pub const LOCATIONS: &str = r#"query WeftLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id name }
  }
}"#;

/// Page of inventory items with their levels at every location. (Levels are read through
/// their items rather than `Location.inventoryLevels`, which the simulator does not offer;
/// filtering by `updated_at` happens client-side, as the levels' own `updatedAt` is not
/// searchable through items.)
pub const INVENTORY_ITEMS: &str = r#"query WeftInventoryItems($first: Int!, $after: String, $levels: Int!) {
  inventoryItems(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id sku
      inventoryLevels(first: $levels) {
        pageInfo { hasNextPage endCursor }
        nodes { id updatedAt quantities(names: ["available"]) { name quantity } location { id } }
      }
    }
  }
}"#;

/// Further pages of one inventory item's levels.
pub const ITEM_LEVELS: &str = r#"query WeftItemLevels($id: ID!, $first: Int!, $after: String) {
  inventoryItem(id: $id) {
    id sku
    inventoryLevels(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id updatedAt quantities(names: ["available"]) { name quantity } location { id } }
    }
  }
}"#;

/// A product's options and variants with their option values (to build a `productSet` that
/// keeps the variants a write does not mention), a page of [`PRODUCT_FOR_SET_PAGE`] variants
/// at a time.
pub const PRODUCT_FOR_SET: &str = r#"query WeftProductForSet($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    id
    options { name }
    variants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku title selectedOptions { name value } }
    }
  }
}"#;

/// Variants per page of [`PRODUCT_FOR_SET`]: its reservation (2 + 2 points a variant, 84)
/// stays small beside a live write, where a page of 250 asked for half a standard bucket
/// (504 points) before every product write, most of them for a product of a few variants.
pub const PRODUCT_FOR_SET_PAGE: u32 = 40;

/// A product by handle (to add a variant to the product of an option group weft has not
/// written to yet).
pub const PRODUCT_BY_HANDLE: &str = r#"query WeftProductByHandle($query: String!) {
  products(first: 1, query: $query) {
    nodes { id handle }
  }
}"#;

/// Deletes metafields (a custom field cleared on the other side).
pub const METAFIELDS_DELETE: &str = r#"mutation WeftMetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { key namespace ownerId }
    userErrors { field message }
  }
}"#;

/// Variants by SKU (to find the product a retried create already made, or an inventory item).
pub const VARIANTS_BY_SKU: &str = r#"query WeftVariantsBySku($query: String!) {
  productVariants(first: 10, query: $query) {
    nodes { id sku product { id } inventoryItem { id } }
  }
}"#;

/// One inventory level (the re-read after a stale compare-and-set).
pub const INVENTORY_LEVEL: &str = r#"query WeftInventoryLevel($item: ID!, $location: ID!) {
  inventoryItem(id: $item) {
    id sku
    inventoryLevel(locationId: $location) {
      id updatedAt
      quantities(names: ["available"]) { name quantity }
      item { id sku }
      location { id }
    }
  }
}"#;

/// Upsert of a product and its variants (list fields are the full desired state).
pub const PRODUCT_SET: &str = r#"mutation WeftProductSet($input: ProductSetInput!, $collections: Boolean!) {
  productSet(input: $input, synchronous: true) {
    product {
      id title descriptionHtml vendor productType handle status tags updatedAt
      seo { title description } category { id }
      options { name values }
      images(first: 10) { nodes { url altText } }
      metafields(first: 10) { nodes { namespace key type value } }
      collections(first: 8) @include(if: $collections) { pageInfo { hasNextPage } nodes { handle ruleSet { appliedDisjunctively } } }
      variants(first: 250) {
        pageInfo { hasNextPage endCursor }
        nodes { id title sku price compareAtPrice barcode updatedAt selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } } }
      }
    }
    userErrors { field message code }
  }
}"#;

/// Price / barcode updates of variants of one product.
pub const VARIANTS_BULK_UPDATE: &str = r#"mutation WeftVariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    product { id updatedAt }
    productVariants { id title sku price compareAtPrice barcode updatedAt selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } } }
    userErrors { field message code }
  }
}"#;

/// Deletes a product with its variants.
pub const PRODUCT_DELETE: &str = r#"mutation WeftProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input) {
    deletedProductId
    userErrors { field message }
  }
}"#;

/// Deletes variants of one product (never its last one).
pub const VARIANTS_BULK_DELETE: &str = r#"mutation WeftVariantsBulkDelete($productId: ID!, $variantsIds: [ID!]!) {
  productVariantsBulkDelete(productId: $productId, variantsIds: $variantsIds) {
    product { id updatedAt }
    userErrors { field message code }
  }
}"#;

/// Deletes a customer (refused for one with orders).
pub const CUSTOMER_DELETE: &str = r#"mutation WeftCustomerDelete($input: CustomerDeleteInput!) {
  customerDelete(input: $input) {
    deletedCustomerId
    userErrors { field message }
  }
}"#;

/// Absolute quantities with compare-and-set; `{IDEMPOTENT}` is replaced by
/// `@idempotent(key: "…")` (or nothing, for a call sent without a key).
pub const INVENTORY_SET_QUANTITIES: &str = r#"mutation WeftInventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input){IDEMPOTENT} {
    inventoryAdjustmentGroup { id createdAt reason changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}"#;

/// The [`INVENTORY_SET_QUANTITIES`] document to send: with `@idempotent(key:)` when a key is
/// given, without it otherwise.
pub fn inventory_set_quantities(idempotency_key: Option<&str>) -> String {
    let directive = idempotency_key
        .map(|k| format!(" @idempotent(key: {})", string_literal(k)))
        .unwrap_or_default();
    INVENTORY_SET_QUANTITIES.replace("{IDEMPOTENT}", &directive)
}

/// Deltas with an idempotency key; `{KEY}` is replaced by a GraphQL string literal.
pub const INVENTORY_ADJUST_QUANTITIES: &str = r#"mutation WeftInventoryAdjust($input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: {KEY}) {
    inventoryAdjustmentGroup { id createdAt reason changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}"#;

/// An order's fulfilment orders and their lines (what `fulfillmentCreate` ships from).
pub const ORDER_FULFILLMENT_ORDERS: &str = r#"query WeftFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 10) {
      nodes { id status lineItems(first: 50) { nodes { id sku totalQuantity remainingQuantity } } }
    }
  }
}"#;

/// Expected cost of [`ORDER_FULFILLMENT_ORDERS`] (1 + 10 × (1 + 50)).
pub const ORDER_FULFILLMENT_ORDERS_COST: u32 = 20;

/// `fulfillmentCreate` under an idempotency key.
pub const FULFILLMENT_CREATE: &str = r#"mutation WeftFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) @idempotent(key: {KEY}) {
    fulfillment { id status createdAt trackingInfo { number company url } }
    userErrors { field message }
  }
}"#;

/// Customers matching a search (used to find an existing customer before creating one).
pub const CUSTOMER_SEARCH: &str = concat!(
    r#"query WeftCustomerSearch($query: String!) {
  customers(first: 1, query: $query) {
    nodes { "#,
    customer_fields!(),
    r#" }
  }
}"#
);

/// Create a customer.
pub const CUSTOMER_CREATE: &str = concat!(
    r#"mutation WeftCustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) {
    customer { "#,
    customer_fields!(),
    r#" }
    userErrors { field message }
  }
}"#
);

/// Update a customer.
pub const CUSTOMER_UPDATE: &str = concat!(
    r#"mutation WeftCustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) {
    customer { "#,
    customer_fields!(),
    r#" }
    userErrors { field message }
  }
}"#
);

/// Change a customer's email marketing consent (`customerUpdate` refuses it).
pub const CUSTOMER_CONSENT_UPDATE: &str = concat!(
    r#"mutation WeftCustomerConsent($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { "#,
    customer_fields!(),
    r#" }
    userErrors { field message code }
  }
}"#
);

/// The shop's price lists with their currencies (one per market or catalog).
pub const PRICE_LISTS: &str = r#"query WeftPriceLists($first: Int!, $after: String) {
  priceLists(first: $first, after: $after) {
    nodes { id name currency }
    pageInfo { hasNextPage endCursor }
  }
}"#;

/// The fixed prices of one price list for the products a search names
/// (`product_id:1 OR product_id:2`).
pub const PRICE_LIST_PRICES: &str = r#"query WeftPriceListPrices($id: ID!, $first: Int!, $after: String, $query: String!) {
  priceList(id: $id) {
    id currency
    prices(first: $first, after: $after, originType: FIXED, query: $query) {
      nodes { price { amount currencyCode } compareAtPrice { amount currencyCode } variant { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"#;

/// Fixed prices of a price list set and removed in one call.
pub const PRICE_LIST_FIXED_PRICES_UPDATE: &str = r#"mutation WeftPriceListFixedPrices($id: ID!, $add: [PriceListPriceInput!]!, $delete: [ID!]!) {
  priceListFixedPricesUpdate(priceListId: $id, pricesToAdd: $add, variantIdsToDelete: $delete) {
    pricesAdded { variant { id } }
    deletedFixedPriceVariantIds
    userErrors { field code message }
  }
}"#;

/// Price list prices read per call (each costs its node, its two amounts and its variant).
pub const PRICE_LIST_PAGE: u32 = 100;

/// A collection by handle (the search matches words: the caller keeps the exact handle).
pub const COLLECTION_BY_HANDLE: &str = r#"query WeftCollectionByHandle($query: String!) {
  collections(first: 10, query: $query) {
    nodes { id handle title ruleSet { appliedDisjunctively } }
  }
}"#;

/// Products added to a custom collection.
pub const COLLECTION_ADD_PRODUCTS: &str = r#"mutation WeftCollectionAdd($id: ID!, $productIds: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $productIds) {
    collection { id }
    userErrors { field message }
  }
}"#;

/// Products removed from a custom collection (Shopify answers with a job).
pub const COLLECTION_REMOVE_PRODUCTS: &str = r#"mutation WeftCollectionRemove($id: ID!, $productIds: [ID!]!) {
  collectionRemoveProducts(id: $id, productIds: $productIds) {
    job { id done }
    userErrors { field message }
  }
}"#;

/// Whether an asynchronous job is done.
pub const JOB: &str = r#"query WeftJob($id: ID!) {
  job(id: $id) { id done }
}"#;

/// Estimated requested cost of a connection of `first` nodes each costing `node`.
pub fn connection_cost(first: u32, node: u32) -> u32 {
    2 + first * node
}

/// Estimated cost of a [`PRODUCTS`] page.
pub fn products_cost(first: u32, variants: u32) -> u32 {
    connection_cost(first, product_cost(variants))
}

/// Estimated cost of one product node with its first `variants` variants: product (1) + seo
/// (1) + category (1) + options (1) + images (10) + metafields (10) + collections (8, each with
/// its rule set) + variants connection of
/// variant (1) + selectedOptions (1) + inventoryItem (1) + measurement (1) + weight (1).
pub fn product_cost(variants: u32) -> u32 {
    4 + 2 * connection_cost(10, 1) + connection_cost(8, 2) + connection_cost(variants, 5)
}

/// Variants read with one product by id (the single-query maximum allows ~190).
pub const PRODUCT_VARIANTS_PER_READ: u32 = 150;

/// Estimated cost of one customer node: the customer (1), its email marketing consent (1),
/// its addresses (1) and its default address (1).
pub const CUSTOMER_COST: u32 = 4;

/// Estimated cost of an [`ORDERS`] page.
pub fn orders_cost(first: u32, lines: u32) -> u32 {
    connection_cost(first, order_cost(lines))
}

/// Estimated cost of one order node of [`ORDERS`] / [`ORDERS_BY_ID`] with `lines` line items.
pub fn order_cost(lines: u32) -> u32 {
    // order 1 + totalPriceSet 1 + shopMoney 1 + customer 1 + four more money sets (2 each) +
    // two addresses (1 each) + shipping lines (5 × (line 1 + price set 2 + tax lines 3)) +
    // lines (line 1 + price set 2 + variant 1 + product 1 + tax lines 3 + allocations 3) +
    // the first 2 refunds (refund 1 + 5 lines of (line 1 + location 1 + line item 1))
    14 + connection_cost(5, 6) + connection_cost(lines, 11) + 2 * (1 + connection_cost(5, 3))
}

/// Estimated cost of a mutation.
pub const MUTATION_COST: u32 = 10;

/// Renders a GraphQL string literal (for the `@idempotent` key, inlined so any server that
/// reads the directive from the document sees it).
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_page_costs_fit_the_single_query_maximum() {
        assert!(products_cost(8, 15) <= 1000, "{}", products_cost(8, 15));
        assert!(orders_cost(4, 15) <= 1000, "{}", orders_cost(4, 15));
        assert_eq!(connection_cost(250, 1), 252);
    }

    #[test]
    fn literal_escapes() {
        assert_eq!(string_literal("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string_literal("k-1"), "\"k-1\"");
    }
}
