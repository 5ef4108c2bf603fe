"""NetSuite token-based authentication with requests-oauthlib (OAuth 1.0a, HMAC-SHA256, the
account as realm), unmodified, against `weft sandbox`: record reads and writes, SuiteQL, and a
wrong secret refused. Usage: python3 check_netsuite.py SANDBOX_JSON_FILE.
"""

import json
import sys

import requests
from requests_oauthlib import OAuth1

info = json.load(open(sys.argv[1]))["netsuite"]
c = info["credentials"][0]
base = info["base_url"].rstrip("/") + "/services/rest"


def tba(secret):
    return OAuth1(c["consumer_key"], secret, c["token_id"], c["token_secret"],
                  signature_method="HMAC-SHA256", realm=c["realm"])


auth = tba(c["consumer_secret"])
r = requests.post(f"{base}/record/v1/inventoryItem", auth=auth,
                  json={"itemId": "PY-NS-1", "displayName": "From Python", "basePrice": 5.5})
assert r.status_code == 204, r.text
location = r.headers["Location"]
r = requests.patch(location, auth=auth, json={"basePrice": 6.25})
assert r.status_code == 204, r.text
r = requests.get(location, auth=auth)
assert r.json()["basePrice"] == 6.25, r.text
r = requests.post(f"{base}/query/v1/suiteql", params={"limit": 5}, auth=auth,
                  headers={"Prefer": "transient"},
                  json={"q": "SELECT id, itemid FROM item WHERE itemid = 'PY-NS-1'"})
assert r.status_code == 200 and r.json()["count"] == 1, r.text
r = requests.get(f"{base}/record/v1/inventoryItem", auth=tba("wrong"))
assert r.status_code == 401, r.text
print("OK")
