//! An in-process, embeddable simulator of the Google Sheets API v4 and of Google's OAuth 2.0
//! token endpoint for service accounts.
//!
//! weft's Google Sheets connector is tested against it, and `weft sandbox` can serve it, so it
//! follows the real API's paths, parameters, shapes, limits and error bodies: a client library
//! pointed at its base URL with the key file from `/_sim/service-account` works unmodified.
//! Start one with [`SheetsSim::new`] and [`SheetsSim::serve`] (or mount [`SheetsSim::router`]).
//!
//! # What it models
//!
//! - **Methods** (gRPC transcoding paths under `/v4/spreadsheets/`): `spreadsheets.get`
//!   (`GET {id}`: title, locale, sheets with `sheetId`, `title`, `index`, `sheetType`,
//!   `gridProperties.rowCount/columnCount`; `ranges=` narrows the sheets), `values.get`
//!   (`GET {id}/values/{range}`), `values.batchGet` (`GET {id}/values:batchGet?ranges=…`),
//!   `values.update` (`PUT {id}/values/{range}`), `values.batchUpdate`
//!   (`POST {id}/values:batchUpdate`), `values.append` (`POST {id}/values/{range}:append`),
//!   `values.clear`, `values.batchClear`, and the structural `spreadsheets.batchUpdate`
//!   subset ([`structure`]). `fields=` partial responses are honoured ([`fields`]); the other
//!   standard query parameters (`alt`, `prettyPrint`, `$.xgafv`, `key`, `quotaUser`) are
//!   accepted and ignored; `access_token=` works like the header.
//! - **A1 ranges** ([`a1`]): `Sheet1!A1:B2`, no sheet name (the first sheet), a bare sheet
//!   title (the whole sheet), quoted titles (`'My sheet'!A1`, `''` for a quote), open-ended
//!   `A2:F`, whole columns `A:C`, whole rows `2:5`, reversed corners, `$` anchors. A range
//!   that does not parse or names no sheet is 400 "Unable to parse range: …"; a side past the
//!   grid is 400 "Range (…) exceeds grid limits. Max rows: R, max columns: C". Responses write
//!   the range resolved against the grid (`Sheet1!A2:F1000`), titles quoted only when needed.
//! - **Values** ([`cell`]): `majorDimension` `ROWS`/`COLUMNS`; `valueRenderOption`
//!   `FORMATTED_VALUE` (default: strings as shown), `UNFORMATTED_VALUE` (numbers and booleans
//!   as JSON), `FORMULA`; `dateTimeRenderOption` `SERIAL_NUMBER`/`FORMATTED_STRING`. Trailing
//!   empty cells of a row and trailing empty rows are left out, `values` itself when nothing is
//!   left; empty cells inside a row are `""`.
//! - **Input** (`valueInputOption`, required on writes: "'valueInputOption' is required but not
//!   specified"): `RAW` stores strings as they are (`"12"`, `"=1+1"` and `"'x"` stay text);
//!   `USER_ENTERED` parses as a person typing in en_US: `12`, `-3.5`, `1,234.5` (groups of
//!   three), `$12.50`, `12%`, `1e3` are numbers (`12,5` and `abc` stay text), `TRUE`/`FALSE`
//!   booleans, `2024-03-01`, `3/1/2024`, `2024-03-01 14:30`, `14:30` dates and times (serial
//!   numbers shown in the typed pattern), a leading `'` keeps the rest as text, `=` starts a
//!   formula ([`formula`]: arithmetic, references, `SUM`; evaluated when read). JSON `null`
//!   leaves a cell as it is, `""` empties it.
//! - **Write responses**: `updatedRange` (the cells written), `updatedRows`,
//!   `updatedColumns`, `updatedCells`, `updatedData` with `includeValuesInResponse`;
//!   `values:batchUpdate` totals and one response per range, applied all or nothing (an error
//!   names the item: "Invalid data[1]: Unable to parse range: …"); writing past the request's
//!   range is 400 "Requested writing within range [R], but tried writing to row [N]".
//!   `values:append` finds the table (the first run of rows with data in the range's columns)
//!   and writes after its last row from its first column (`tableRange`, `updates`),
//!   `insertDataOption` `OVERWRITE` (the grid grows when the rows run past its end) or
//!   `INSERT_ROWS`.
//! - **Quotas** ([`quota`]): read requests (`get`, `batchGet`, `spreadsheets.get`) and write
//!   requests (updates, appends, clears, `batchUpdate`) each limited to 60 per minute per user
//!   and 300 per minute per project (configurable), answered with 429 and Google's
//!   `RESOURCE_EXHAUSTED` body (`Quota exceeded for quota metric 'Write requests' and limit
//!   'Write requests per minute per user' …`, `ErrorInfo` with `RATE_LIMIT_EXCEEDED` and
//!   `quota_limit`, a `Help` link).
//! - **Errors**: Google's `{"error":{"code","message","status","details"?}}`: 400
//!   `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED` (no credentials: "Request is missing required
//!   authentication credential…"; unknown or expired token: "Request had invalid
//!   authentication credentials…", with `WWW-Authenticate: Bearer`), 403 `PERMISSION_DENIED`
//!   ("Request had insufficient authentication scopes." for a read-only token writing), 404
//!   `NOT_FOUND` ("Requested entity was not found."), 429, 503 `UNAVAILABLE` on demand; 403
//!   `PERMISSION_DENIED` "The caller does not have permission" for an account the spreadsheet
//!   is not shared with ([`SheetsSim::share`]; at first every issued account may open it).
//! - **OAuth 2.0 for service accounts** ([`auth`]): `/_sim/service-account` returns the key
//!   file Google's console downloads (`type`, `project_id`, `private_key_id`, PKCS#8
//!   `private_key`, `client_email`, `client_id`, `token_uri` = this simulator's `/token`, …).
//!   `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an
//!   `assertion`: an RS256 JWT whose signature is checked with the account's public key
//!   (`kid`, when given, must be the key's id), `aud` the token URL (or Google's
//!   `https://oauth2.googleapis.com/token`), `iat`/`exp` at most an hour apart and current,
//!   `scope` present. Answers `{"access_token":"ya29.…","expires_in":3599,"token_type":"Bearer"}`;
//!   refusals are `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}` and
//!   Google's other texts (`unsupported_grant_type`, `invalid_scope`, audience and
//!   short-lived token messages). Tokens expire after `token_lifetime` of the simulator clock.
//!   A self-signed JWT is accepted as the bearer token too ("service account authorization
//!   without OAuth", which Google's libraries use with JWT access enabled): signed by an issued
//!   account, at most an hour long and current, with a `scope` claim or an `aud` of
//!   `https://sheets.googleapis.com/` (or this simulator's URL).
//!   Reads need one of the spreadsheets, spreadsheets.readonly or drive scopes; writes the
//!   spreadsheets or drive ones.
//! - **A person** ([`SheetsSim`] methods and `/_sim/...`, see [`person`]): typing values (as
//!   `USER_ENTERED`), inserting, deleting and sorting rows, moving columns, renaming headers,
//!   and seeded chaos ([`SheetsSim::person_chaos`], [`chaos`]): cell edits, typos (`12,5`,
//!   `abc`) in number columns, blank rows inserted, complete rows added, half-typed rows (a
//!   key and a title only), rows deleted, re-sorts, renamed and moved column headers.
//!   Inspection: the request log, counters, the sheet as a person sees it.
//!
//! Checked by hand with unmodified client libraries over plain HTTP: Python
//! `google-auth` 2.63 (`service_account.Credentials` from the `/_sim/service-account` key
//! file: it signs the JWT and exchanges it at the file's `token_uri`) with
//! `google-api-python-client` 2.202 (`build("sheets", "v4", static_discovery=True,
//! client_options={"api_endpoint": url})`): `spreadsheets.get`, `values.get`, `update`,
//! `append`, `batchUpdate`, `batchGet`, and a bad range's `HttpError` 400; and Node
//! `@googleapis/sheets` 14 with `google-auth-library` 10 (`rootUrl` the simulator, a `JWT` client
//! with `useJWTAccessWithScope`, since that library always exchanges tokens at Google's own
//! endpoint): `spreadsheets.get`, `values.get`, `update`, `append`, and a 400.
//!
//! # What it assumes where the documentation is silent
//!
//! - The quota window is a fixed minute of the simulator clock (tokio time since creation plus
//!   [`SheetsSim::advance_clock`]), refilled whole when the minute turns ("quotas refill every
//!   minute"); a refused request is not counted; no `Retry-After` header is sent (Google sends
//!   none on Sheets 429s).
//! - JWT times are checked against the host's real clock (clients sign with theirs), with
//!   300 s of allowance for an `iat` ahead of it; tokens expire on the simulator clock, so
//!   tests with a paused clock can expire them. A `sub` claim other than the account itself
//!   (domain-wide delegation) is refused with `unauthorized_client`. Scopes are accepted when
//!   they are `https://www.googleapis.com/auth/…` URLs.
//! - A range side explicitly past the grid is refused on reads as well as writes (observed for
//!   rows); open sides clamp to the grid. A value range whose `range` in the body of
//!   `values.update` differs from the URL's is refused with 400 ("Invalid ValueRange range: …",
//!   our wording). `updatedCells` counts the cells given a value (nulls not counted).
//! - The display of automatic-format numbers keeps up to 10 decimals and drops trailing zeros
//!   (`12.50` shows `12.5`); `$` input shows two decimals; thousands-grouped input keeps its
//!   grouping and its typed decimals. Times are shown with seconds.
//! - Formulas are the small subset above; other functions are `#NAME?`. Sorting puts numbers
//!   before booleans before text, empty keys last. The chaos edits act on sheets whose first
//!   row holds headers.
//!
//! # What it does NOT model
//!
//! - Cell formats beyond what typing sets, `spreadsheets.batchUpdate` beyond the subset,
//!   developer metadata, data filters (`…ByDataFilter`), named ranges, protected ranges,
//!   `includeGridData`, R1C1 notation, locales other than en_US, the 10-million-cell limit,
//!   Drive (creating spreadsheets is a `/_sim` call), API keys for public sheets.
//!
//! # Choices
//!
//! **ring** signs and verifies RS256 (`RSA_PKCS1_SHA256` / `RSA_PKCS1_2048_8192_SHA256`): it
//! is already in the workspace through rustls, reads Google's PKCS#8 keys as they are, and its
//! RSA is constant-time; the `rsa` crate would add a second RSA implementation with an open
//! timing advisory (RUSTSEC-2023-0071). ring cannot generate RSA keys, so the simulator's two
//! keys were generated once (`openssl genpkey`) and are embedded: sandbox keys valid only here.
//!
//! # Layout
//!
//! [`a1`] ranges; [`cell`] values, input and rendering; [`formula`]; [`fields`] partial
//! responses; [`book`] the grid;
//! [`structure`] structural requests; [`auth`] service accounts and tokens; [`quota`];
//! [`http`] the API surface; [`person`] the `/_sim` routes; [`chaos`] a person's seeded edits;
//! [`sim`] the handle; [`error`] Google's error bodies.

pub mod a1;
pub mod auth;
pub mod book;
pub mod cell;
pub mod chaos;
pub mod error;
pub mod fields;
pub mod formula;
pub mod http;
pub mod person;
pub mod quota;
pub mod sim;
pub mod structure;

pub use auth::{SCOPE_READONLY, SCOPE_SPREADSHEETS, sign_jwt};
pub use error::GoogleError;
pub use quota::{Group, QuotaLimits};
pub use sim::{
    ChaosMix, DEFAULT_ACCOUNT, OTHER_ACCOUNT, PROJECT_ID, PROJECT_NUMBER, PersonEdit,
    RequestRecord, SheetsSim, SimConfig, SimHandle,
};
