// Node clients, unmodified, against `weft sandbox`: googleapis (Sheets, a self-signed
// service-account JWT: google-auth-library sends token exchanges to Google's fixed URL), the
// WooCommerce REST client (OAuth 1.0a over HTTP) and Shopify's admin-api-client (GraphQL; it
// always builds an https:// URL from the shop domain, so its documented customFetchApi hook
// sends the request to the sandbox). Usage: node check_node.mjs SANDBOX_JSON_FILE.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { google } from 'googleapis';
import WooPkg from '@woocommerce/woocommerce-rest-api';
import { createAdminApiClient } from '@shopify/admin-api-client';

const info = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// Google Sheets.
const sa = info.sheets.service_account;
const jwt = new google.auth.JWT({
  email: sa.client_email, key: sa.private_key, keyId: sa.private_key_id,
  scopes: ['https://www.googleapis.com/auth/spreadsheets'],
});
jwt.useJWTAccessWithScope = true;
const sheets = google.sheets({ version: 'v4', auth: jwt, rootUrl: info.sheets.base_url + '/' });
const sid = info.sheets.spreadsheet_id;
const tab = info.sheets.sheet;
let r = await sheets.spreadsheets.get({ spreadsheetId: sid });
assert.deepEqual(r.data.sheets.map((s) => s.properties.title), [tab]);
r = await sheets.spreadsheets.values.get({ spreadsheetId: sid, range: `${tab}!A1:B1` });
assert.deepEqual(r.data.values, [['SKU', 'Title']]);
r = await sheets.spreadsheets.values.append({
  spreadsheetId: sid, range: tab, valueInputOption: 'RAW',
  requestBody: { values: [['NODE-1', 'From Node']] },
});
assert.equal(r.data.updates.updatedRows, 1);
r = await sheets.spreadsheets.values.batchUpdate({
  spreadsheetId: sid,
  requestBody: { valueInputOption: 'USER_ENTERED', data: [{ range: `${tab}!B2`, values: [['node']] }] },
});
assert.equal(r.data.totalUpdatedCells, 1);
r = await sheets.spreadsheets.values.batchGet({
  spreadsheetId: sid, ranges: ['A1:A2', `${tab}!B2`], valueRenderOption: 'UNFORMATTED_VALUE',
});
assert.deepEqual(r.data.valueRanges[1].values, [['node']]);

// WooCommerce.
const Woo = WooPkg.default || WooPkg;
const wc = new Woo({
  url: info.woocommerce.site_url, consumerKey: info.woocommerce.consumer_key,
  consumerSecret: info.woocommerce.consumer_secret, version: 'wc/v3',
});
r = await wc.post('products', { name: 'Node tee', regular_price: '9.99', sku: 'NODE-TEE' });
assert.equal(r.status, 201);
r = await wc.put(`products/${r.data.id}`, { regular_price: '8.99' });
assert.equal(r.data.regular_price, '8.99');
const badWoo = new Woo({
  url: info.woocommerce.site_url, consumerKey: info.woocommerce.consumer_key,
  consumerSecret: 'cs_wrong', version: 'wc/v3',
});
await assert.rejects(badWoo.get('products'), (e) => e.response.status === 401);

// Shopify.
const base = info.shopify.base_url;
const shopify = createAdminApiClient({
  storeDomain: info.shopify.shop_domain,
  apiVersion: info.shopify.api_versions.at(-1),
  accessToken: info.shopify.access_token,
  customFetchApi: (url, init) => fetch(url.replace(/^https:\/\/[^/]+/, base), init),
});
let res = await shopify.request('query { shop { name myshopifyDomain } }');
assert.equal(res.errors, undefined, JSON.stringify(res.errors));
assert.equal(res.data.shop.myshopifyDomain, info.shopify.shop_domain);
assert.ok(res.extensions.cost.throttleStatus.maximumAvailable > 0);
res = await shopify.request(
  `mutation($p: ProductCreateInput!) { productCreate(product: $p) {
     product { id variants(first: 1) { nodes { id } } } userErrors { field message } } }`,
  { variables: { p: { title: 'From Node', productOptions: [{ name: 'Size', values: [{ name: 'S' }] }] } } },
);
assert.equal(res.errors, undefined, JSON.stringify(res.errors));
assert.deepEqual(res.data.productCreate.userErrors, []);
const product = res.data.productCreate.product;
res = await shopify.request(
  `mutation($id: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkCreate(productId: $id, variants: $v) {
     productVariants { id } userErrors { field message code } } }`,
  { variables: { id: product.id, v: [{ optionValues: [{ optionName: 'Size', name: 'M' }], price: '12.00', inventoryItem: { sku: 'NODE-M' } }] } },
);
assert.deepEqual(res.data.productVariantsBulkCreate.userErrors, []);
res = await shopify.request(
  `mutation($id: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $id, variants: $v) {
     productVariants { price } userErrors { field message } } }`,
  { variables: { id: product.id, v: [{ id: product.variants.nodes[0].id, price: '10.50' }] } },
);
assert.equal(res.data.productVariantsBulkUpdate.productVariants[0].price, '10.50');
res = await shopify.request(
  'mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { message } } }',
  { variables: { id: product.id } },
);
assert.equal(res.data.productDelete.deletedProductId, product.id);
console.log('OK');
