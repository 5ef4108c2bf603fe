"""Google's own Python clients against `weft sandbox`'s Sheets simulator, unmodified.

google-api-python-client with a service-account key file (the JWT-bearer exchange at the
key file's token_uri, then a self-signed JWT used directly), and gspread. Usage:
python3 check_sheets.py SANDBOX_JSON_FILE. Exits non-zero on the first broken expectation.
"""

import json
import sys

from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

info = json.load(open(sys.argv[1]))["sheets"]
base = info["base_url"].rstrip("/")
sid = info["spreadsheet_id"]
tab = info["sheet"]
key = info["service_account"]
scopes = ["https://www.googleapis.com/auth/spreadsheets"]

creds = service_account.Credentials.from_service_account_info(key, scopes=scopes)
svc = build("sheets", "v4", credentials=creds, client_options={"api_endpoint": base})
values = svc.spreadsheets().values()

meta = svc.spreadsheets().get(spreadsheetId=sid).execute()
assert [s["properties"]["title"] for s in meta["sheets"]] == [tab], meta
assert creds.token and creds.token.startswith("ya29."), "token from the key file's token_uri"

rows = values.get(spreadsheetId=sid, range=f"{tab}!A1:F").execute()["values"]
header = rows[0]
assert header[0] == "SKU" and "Price" in header, header
price_col = chr(ord("A") + header.index("Price"))

r = values.update(spreadsheetId=sid, range=f"{tab}!{price_col}2",
                  valueInputOption="USER_ENTERED", body={"values": [["12.50"]]}).execute()
assert r["updatedCells"] == 1, r
got = values.get(spreadsheetId=sid, range=f"{tab}!{price_col}2",
                 valueRenderOption="UNFORMATTED_VALUE").execute()
assert got["values"] == [[12.5]], got

r = values.append(spreadsheetId=sid, range=tab, valueInputOption="RAW",
                  insertDataOption="INSERT_ROWS", body={"values": [["PY-1", "From Python"]]}).execute()
assert r["updates"]["updatedRows"] == 1, r
appended = r["updates"]["updatedRange"]

r = values.batchGet(spreadsheetId=sid, ranges=[f"{tab}!A1:B2", "A1:A3"],
                    majorDimension="COLUMNS").execute()
assert r["valueRanges"][0]["values"][0][0] == "SKU", r
assert r["valueRanges"][1]["majorDimension"] == "COLUMNS", r

row = appended.split("!")[1].split(":")[0].lstrip("A")  # "Products!A6:B6" -> "6"
r = values.batchUpdate(spreadsheetId=sid, body={
    "valueInputOption": "USER_ENTERED",
    "data": [{"range": f"{tab}!B{row}", "values": [["Renamed"]]}]}).execute()
assert r["totalUpdatedCells"] == 1, r
assert values.get(spreadsheetId=sid, range=f"{tab}!A{row}:B{row}").execute()["values"] == [
    ["PY-1", "Renamed"]]

r = svc.spreadsheets().get(spreadsheetId=sid, fields="sheets.properties.title").execute()
assert r == {"sheets": [{"properties": {"title": tab}}]}, r

try:
    values.get(spreadsheetId="no-such-sheet", range="A1").execute()
    raise AssertionError("an unknown spreadsheet must be refused")
except HttpError as e:
    assert e.resp.status == 404, e

# A self-signed JWT as the bearer token (no token exchange).
jwt_creds = service_account.Credentials.from_service_account_info(
    key, scopes=scopes, always_use_jwt_access=True)
svc2 = build("sheets", "v4", credentials=jwt_creds, client_options={"api_endpoint": base},
             always_use_jwt_access=True)
r = svc2.spreadsheets().values().get(spreadsheetId=sid, range="A1:B1").execute()
assert r["values"] == [["SKU", "Title"]], r

# gspread: its endpoint constants point at the sandbox; the library itself is untouched.
import gspread
import gspread.http_client as http_client
import gspread.urls as urls

google = "https://sheets.googleapis.com/v4/spreadsheets"
for module in (urls, http_client):
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, str) and value.startswith(google):
            setattr(module, name, value.replace(google, base + "/v4/spreadsheets"))

gc = gspread.service_account_from_dict(key)
ws = gc.open_by_key(sid).worksheet(tab)
records = ws.get_all_records()
assert records and "SKU" in records[0], records
ws.update_acell("B2", "Renamed by gspread")
assert ws.acell("B2").value == "Renamed by gspread"
ws.append_row(["PY-2", "gspread row"])
assert ws.find("PY-2").col == 1
assert ws.batch_get(["A1:B1"])[0] == [["SKU", "Title"]]
print("OK")
