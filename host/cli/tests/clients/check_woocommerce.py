"""The WooCommerce Python client (woocommerce 3.0.0), unmodified, against `weft sandbox`.

Over plain HTTP it signs every request with OAuth 1.0a (HMAC-SHA256) in the query string, as
WooCommerce requires without TLS; a wrong secret is refused with WooCommerce's error body.
Usage: python3 check_woocommerce.py SANDBOX_JSON_FILE.
"""

import json
import sys

from woocommerce import API

info = json.load(open(sys.argv[1]))["woocommerce"]

for query_string_auth in (False, True):
    wc = API(url=info["site_url"], consumer_key=info["consumer_key"],
             consumer_secret=info["consumer_secret"], version="wc/v3", timeout=10,
             query_string_auth=query_string_auth)
    sku = f"PY-{query_string_auth}"
    r = wc.get("products", params={"per_page": 5})
    assert r.status_code == 200 and "X-WP-Total" in r.headers, (r.status_code, r.text)
    r = wc.post("products", {"name": "Python tee", "type": "simple", "regular_price": "21.99",
                             "sku": sku, "manage_stock": True, "stock_quantity": 5})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = wc.put(f"products/{pid}", {"regular_price": "19.99"})
    assert r.json()["regular_price"] == "19.99", r.text
    r = wc.post("products/batch", {"update": [{"id": pid, "stock_quantity": 7}]})
    assert r.json()["update"][0]["stock_quantity"] == 7, r.text
    r = wc.get("products", params={"sku": sku})
    assert [p["sku"] for p in r.json()] == [sku], r.text
    r = wc.delete(f"products/{pid}", params={"force": True})
    assert r.status_code == 200, r.text

bad = API(url=info["site_url"], consumer_key=info["consumer_key"], consumer_secret="cs_wrong",
          version="wc/v3")
r = bad.get("products")
assert r.status_code == 401, r.text
assert r.json()["code"] == "woocommerce_rest_authentication_error", r.text
print("OK")
