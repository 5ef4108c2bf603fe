//! Change data capture from NetSuite by `lastModifiedDate` watermark, with an id tie-break.
//!
//! A sweep starts at `watermark.last_modified - overlap` (`>=`, so rows sharing the
//! watermark's timestamp, and rows committed late with an earlier timestamp within the overlap
//! window, are read again rather than skipped) and walks the table in `(lastModifiedDate, id)`
//! order with **keyset** paging: each page asks for rows strictly after the last row of the
//! previous page. Offset paging is not used because a row modified during the sweep moves to
//! the end of the order and shifts every later row down one offset, so one would be skipped.
//!
//! The watermark a page reports is the greatest `(lastModifiedDate, id)` seen so far in the
//! sweep (never less than the starting watermark). Because pages arrive in order, every row at
//! or before it has been delivered: the caller journals the page's rows and only then commits
//! the page's watermark. Rows seen twice (the overlap window) are the journal's to recognise.
//!
//! [`CdcCursor`] is pure (no I/O) so the property tests can drive it against an in-memory
//! table; [`super::NetSuiteClient::cdc_page`] runs it over SuiteQL.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

/// How far CDC has read one source: the greatest `(lastModifiedDate, id)` journaled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Watermark {
    /// The row's `lastModifiedDate`.
    pub last_modified: DateTime<Utc>,
    /// The row's internal id (the tie-break among rows with the same timestamp).
    pub last_id: String,
}

impl Watermark {
    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.last_modified, &self.last_id)
    }
}

/// Orders internal ids numerically when both are decimal (as SuiteQL orders a numeric `id`),
/// else as text.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    let num = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if num(a) && num(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

fn cmp_keys(a: (DateTime<Utc>, &str), b: (DateTime<Utc>, &str)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| cmp_ids(a.1, b.1))
}

/// What CDC reads: a SuiteQL table, extra columns and an optional extra condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdcSource {
    /// The SuiteQL table, e.g. `item`, `customer`, `transaction`.
    pub table: String,
    /// Columns to select besides `id` and `lastModifiedDate`.
    pub columns: Vec<String>,
    /// A condition AND-ed to the change filter, e.g. `type = 'SalesOrd'`.
    pub filter: Option<String>,
}

impl CdcSource {
    /// A source over `table` selecting only `id` and `lastModifiedDate`.
    pub fn table(table: impl Into<String>) -> Self {
        CdcSource {
            table: table.into(),
            columns: Vec::new(),
            filter: None,
        }
    }

    /// The SuiteQL source for a record type weft syncs: `inventoryItem` -> `item` (inventory
    /// parts), `customer` -> `customer`, `salesOrder` -> `transaction` (sales orders),
    /// `itemFulfillment` -> `transaction` (item fulfilments, type `ItemShip`).
    pub fn for_record_type(record_type: &str) -> Option<Self> {
        Some(match record_type {
            "inventoryItem" => CdcSource {
                table: "item".into(),
                columns: vec!["itemId".into()],
                filter: Some("itemType = 'InvtPart'".into()),
            },
            "customer" => CdcSource::table("customer"),
            "salesOrder" => CdcSource {
                table: "transaction".into(),
                columns: vec!["tranId".into()],
                filter: Some("type = 'SalesOrd'".into()),
            },
            "itemFulfillment" => CdcSource {
                table: "transaction".into(),
                columns: vec!["tranId".into()],
                filter: Some("type = 'ItemShip'".into()),
            },
            _ => return None,
        })
    }
}

/// One SuiteQL page to fetch: rows with `lastModifiedDate >= lower` and, after the first
/// page, strictly after `after` in `(lastModifiedDate, id)` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// Inclusive lower bound of `lastModifiedDate` (watermark minus overlap).
    pub lower: Option<DateTime<Utc>>,
    /// Keyset cursor: the last row of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Page size.
    pub limit: u32,
}

/// A `lastModifiedDate` literal in the SuiteQL dialect weft uses (UTC).
pub fn date_literal(t: DateTime<Utc>) -> String {
    let fmt = if t.timestamp_subsec_nanos() == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.f").to_string()
    };
    let mask = if t.timestamp_subsec_nanos() == 0 {
        "YYYY-MM-DD HH24:MI:SS"
    } else {
        "YYYY-MM-DD HH24:MI:SS.FF"
    };
    format!("TO_TIMESTAMP('{fmt}', '{mask}')")
}

fn id_literal(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id.to_owned()
    } else {
        format!("'{}'", id.replace('\'', "''"))
    }
}

impl PageQuery {
    /// Renders the page as SuiteQL over `source`.
    pub fn to_suiteql(&self, source: &CdcSource) -> String {
        // SuiteQL renders date-times in the user's date preference (`M/D/YYYY`, no time), so
        // the timestamp is selected through TO_CHAR.
        let mut cols = vec![
            "id".to_owned(),
            "TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified".to_owned(),
        ];
        cols.extend(
            source
                .columns
                .iter()
                .filter(|c| {
                    !c.eq_ignore_ascii_case("id") && !c.eq_ignore_ascii_case("lastModifiedDate")
                })
                .cloned(),
        );
        let mut conds = Vec::new();
        if let Some(f) = &source.filter {
            conds.push(format!("({f})"));
        }
        if let Some(l) = self.lower {
            conds.push(format!("lastModifiedDate >= {}", date_literal(l)));
        }
        if let Some((t, id)) = &self.after {
            let lit = date_literal(*t);
            conds.push(format!(
                "(lastModifiedDate > {lit} OR (lastModifiedDate = {lit} AND id > {}))",
                id_literal(id)
            ));
        }
        let mut q = format!("SELECT {} FROM {}", cols.join(", "), source.table);
        if !conds.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&conds.join(" AND "));
        }
        q.push_str(" ORDER BY lastModifiedDate ASC, id ASC");
        q
    }
}

/// One changed row.
#[derive(Debug, Clone, PartialEq)]
pub struct CdcRow {
    /// The internal id.
    pub id: String,
    /// Its `lastModifiedDate`.
    pub last_modified: DateTime<Utc>,
    /// Every selected column (lower-case keys, as SuiteQL returns them).
    pub values: Value,
}

/// One page of changes and the watermark that is safe to commit once they are journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct CdcPage {
    /// Rows in `(lastModifiedDate, id)` order, strictly after the previous page's.
    pub rows: Vec<CdcRow>,
    /// The greatest key delivered by this sweep so far (never below the starting watermark);
    /// `None` only when there was no watermark and nothing has been read.
    pub watermark: Option<Watermark>,
}

/// Why a CDC page could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdcError {
    /// A row lacks `id` or `lastModifiedDate`, or the date cannot be parsed.
    #[error("netsuite cdc row {index} of {table}: {reason}")]
    BadRow {
        /// The table read.
        table: String,
        /// Row index within the page.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The server returned rows out of `(lastModifiedDate, id)` order.
    #[error("netsuite cdc page of {table} is not ordered by (lastModifiedDate, id) at row {index}")]
    Unordered {
        /// The table read.
        table: String,
        /// Row index within the page.
        index: usize,
    },
    /// The server said more rows follow but returned none past the cursor.
    #[error("netsuite cdc of {table} made no progress past ({at}, {id})")]
    NoProgress {
        /// The table read.
        table: String,
        /// The cursor timestamp.
        at: String,
        /// The cursor id.
        id: String,
    },
}

/// What a sweep needs fetched next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The newest row of the source when the sweep starts: `SELECT ... ORDER BY
    /// lastModifiedDate DESC, id DESC` with limit 1 ([`CdcCursor::head_suiteql`]).
    Head,
    /// The next page of changes.
    Page(PageQuery),
}

/// A CDC sweep in progress: which page to fetch next and what watermark the delivered rows
/// allow.
///
/// The watermark a sweep commits is the last delivered row, but never beyond the source's
/// newest row as of the sweep's start (its *head*). A row committed during the sweep can carry
/// a `lastModifiedDate` behind the sweep's cursor (commit delay, clock skew) and be passed
/// over; its timestamp is at least (sweep start − skew) ≥ (head − overlap), which is where the
/// next sweep begins. Rows delivered beyond the head are simply read again next time.
#[derive(Debug, Clone)]
pub struct CdcCursor {
    source: CdcSource,
    lower: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, String)>,
    /// `None` until the head is fetched; `Some(None)` when the source was empty.
    head: Option<Option<(DateTime<Utc>, String)>>,
    watermark: Option<Watermark>,
    page_size: u32,
    done: bool,
}

impl CdcCursor {
    /// Starts a sweep from the committed `watermark` (or from the beginning) re-reading
    /// `overlap` before it. `overlap` must exceed the worst clock skew / commit delay between
    /// a row's `lastModifiedDate` and its becoming visible.
    pub fn new(
        source: CdcSource,
        watermark: Option<Watermark>,
        overlap: Duration,
        page_size: u32,
    ) -> Self {
        let overlap = TimeDelta::from_std(overlap).unwrap_or(TimeDelta::MAX);
        let lower = watermark.as_ref().map(|w| {
            let l = w
                .last_modified
                .checked_sub_signed(overlap)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            // Whole seconds, rounded down: NetSuite stores seconds, and a lower bound may
            // only ever include more.
            DateTime::from_timestamp(l.timestamp(), 0).unwrap_or(l)
        });
        CdcCursor {
            source,
            lower,
            after: None,
            head: None,
            watermark,
            page_size: page_size.clamp(1, 1000),
            done: false,
        }
    }

    /// The source being read.
    pub fn source(&self) -> &CdcSource {
        &self.source
    }

    /// The watermark covering everything delivered so far.
    pub fn watermark(&self) -> Option<&Watermark> {
        self.watermark.as_ref()
    }

    /// Whether the sweep has reached the end of the table.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What to fetch next, or `None` when the sweep is complete.
    pub fn next_fetch(&self) -> Option<Fetch> {
        if self.done {
            return None;
        }
        if self.head.is_none() {
            return Some(Fetch::Head);
        }
        Some(Fetch::Page(PageQuery {
            lower: self.lower,
            after: self.after.clone(),
            limit: self.page_size,
        }))
    }

    /// The SuiteQL of the head fetch (run it with limit 1).
    pub fn head_suiteql(&self) -> String {
        let mut q = format!(
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM {}",
            self.source.table
        );
        if let Some(f) = &self.source.filter {
            q.push_str(&format!(" WHERE ({f})"));
        }
        q.push_str(" ORDER BY lastModifiedDate DESC, id DESC");
        q
    }

    /// Consumes the result of [`Fetch::Head`] (zero or one row).
    pub fn absorb_head(&mut self, items: Vec<Value>) -> Result<(), CdcError> {
        let head = match items.into_iter().next() {
            None => None,
            Some(item) => {
                let (id, t) = self.key_of(&item, 0)?;
                Some((t, id))
            }
        };
        self.head = Some(head);
        Ok(())
    }

    fn key_of(&self, item: &Value, index: usize) -> Result<(String, DateTime<Utc>), CdcError> {
        let bad = |reason: &str| CdcError::BadRow {
            table: self.source.table.clone(),
            index,
            reason: reason.to_owned(),
        };
        let id = field_ci(item, "id")
            .and_then(super::client::id_text)
            .ok_or_else(|| bad("no `id`"))?;
        let lm = field_ci(item, "lastmodified")
            .or_else(|| field_ci(item, "lastmodifieddate"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `lastModifiedDate`"))?;
        let t = parse_netsuite_date(lm)
            .ok_or_else(|| bad(&format!("unparseable lastModifiedDate `{lm}`")))?;
        Ok((id, t))
    }

    /// Consumes the rows of the page returned for [`Fetch::Page`].
    pub fn absorb(&mut self, items: Vec<Value>, has_more: bool) -> Result<CdcPage, CdcError> {
        let mut rows: Vec<CdcRow> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let (id, last_modified) = self.key_of(&item, index)?;
            // Defensive: drop rows the server should not have returned.
            if let Some(l) = self.lower
                && last_modified < l
            {
                continue;
            }
            if let Some((t, aid)) = &self.after
                && cmp_keys((last_modified, &id), (*t, aid)) != Ordering::Greater
            {
                continue;
            }
            if let Some(prev) = rows.last()
                && cmp_keys((last_modified, &id), (prev.last_modified, &prev.id))
                    != Ordering::Greater
            {
                return Err(CdcError::Unordered {
                    table: self.source.table.clone(),
                    index,
                });
            }
            rows.push(CdcRow {
                id,
                last_modified,
                values: item,
            });
        }
        match rows.last() {
            Some(last) => {
                self.after = Some((last.last_modified, last.id.clone()));
                // Never past the head (see the type's docs); the head is known once a page
                // is fetched, and an empty head means nothing may be committed this sweep.
                let candidate = match self.head.as_ref().and_then(|h| h.as_ref()) {
                    Some((ht, hid)) => {
                        if cmp_keys((last.last_modified, &last.id), (*ht, hid)) == Ordering::Greater
                        {
                            Some((*ht, hid.clone()))
                        } else {
                            Some((last.last_modified, last.id.clone()))
                        }
                    }
                    None => None,
                };
                if let Some((t, id)) = candidate {
                    let advance = match &self.watermark {
                        None => true,
                        Some(w) => cmp_keys((t, &id), w.key()) == Ordering::Greater,
                    };
                    if advance {
                        self.watermark = Some(Watermark {
                            last_modified: t,
                            last_id: id,
                        });
                    }
                }
                self.done = !has_more;
            }
            None if has_more => {
                let (at, id) = self
                    .after
                    .clone()
                    .map(|(t, id)| (t.to_rfc3339_opts(SecondsFormat::AutoSi, true), id))
                    .unwrap_or_else(|| ("start".into(), String::new()));
                return Err(CdcError::NoProgress {
                    table: self.source.table.clone(),
                    at,
                    id,
                });
            }
            None => self.done = true,
        }
        Ok(CdcPage {
            rows,
            watermark: self.watermark.clone(),
        })
    }
}

/// A field by case-insensitive name (SuiteQL returns column names in lower case).
fn field_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.get(name).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Parses a NetSuite date-time: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.f]` / `...T...` read as UTC.
pub fn parse_netsuite_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn row(id: u64, s: i64) -> Value {
        json!({"id": id.to_string(), "lastmodified": t(s).format("%Y-%m-%d %H:%M:%S").to_string(), "links": []})
    }

    #[test]
    fn query_rendering() {
        let src = CdcSource::for_record_type("salesOrder").unwrap();
        let q = PageQuery {
            lower: Some(t(0)),
            after: Some((t(5), "42".into())),
            limit: 100,
        };
        assert_eq!(
            q.to_suiteql(&src),
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified, tranId FROM transaction WHERE (type = 'SalesOrd') \
             AND lastModifiedDate >= TO_TIMESTAMP('2023-11-14 22:13:20', 'YYYY-MM-DD HH24:MI:SS') \
             AND (lastModifiedDate > TO_TIMESTAMP('2023-11-14 22:13:25', 'YYYY-MM-DD HH24:MI:SS') \
             OR (lastModifiedDate = TO_TIMESTAMP('2023-11-14 22:13:25', 'YYYY-MM-DD HH24:MI:SS') AND id > 42)) \
             ORDER BY lastModifiedDate ASC, id ASC"
        );
        let first = PageQuery {
            lower: None,
            after: None,
            limit: 10,
        };
        assert_eq!(
            first.to_suiteql(&CdcSource::table("customer")),
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM customer \
             ORDER BY lastModifiedDate ASC, id ASC"
        );
    }

    #[test]
    fn overlap_rewinds_and_floors_to_seconds() {
        let wm = Watermark {
            last_modified: DateTime::from_timestamp(1_700_000_100, 700_000_000).unwrap(),
            last_id: "9".into(),
        };
        let c = CdcCursor::new(
            CdcSource::table("customer"),
            Some(wm.clone()),
            Duration::from_secs(60),
            50,
        );
        assert_eq!(c.next_fetch(), Some(Fetch::Head));
        let mut c = c;
        c.absorb_head(vec![]).unwrap();
        assert_eq!(page_query(&c).lower, Some(t(40)));
        assert_eq!(c.watermark(), Some(&wm));
    }

    #[test]
    fn watermark_never_moves_back_and_ties_page_by_id() {
        let wm = Watermark {
            last_modified: t(10),
            last_id: "5".into(),
        };
        let mut c = CdcCursor::new(
            CdcSource::table("item"),
            Some(wm.clone()),
            Duration::from_secs(10),
            2,
        );
        c.absorb_head(vec![row(2, 11)]).unwrap();
        // Overlap re-reads rows before the watermark: it must not move back.
        let p = c.absorb(vec![row(3, 2), row(4, 10)], true).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.watermark, Some(wm.clone()));
        assert_eq!(page_query(&c).after, Some((t(10), "4".into())));
        // Same timestamp, ids 5 (the old watermark) and 10 (numerically after 9).
        let p = c.absorb(vec![row(5, 10), row(10, 10)], true).unwrap();
        assert_eq!(
            p.watermark,
            Some(Watermark {
                last_modified: t(10),
                last_id: "10".into()
            })
        );
        let p = c.absorb(vec![row(2, 11)], false).unwrap();
        assert_eq!(p.watermark.unwrap().last_id, "2");
        assert!(c.is_done());
        assert_eq!(c.next_fetch(), None);
    }

    #[test]
    fn bad_pages_are_reported() {
        let mut c = CdcCursor::new(CdcSource::table("item"), None, Duration::ZERO, 2);
        c.absorb_head(vec![row(9, 9)]).unwrap();
        assert!(matches!(
            c.clone().absorb(vec![row(2, 1), row(1, 1)], true),
            Err(CdcError::Unordered { index: 1, .. })
        ));
        assert!(matches!(
            c.clone().absorb(vec![json!({"id": "1"})], true),
            Err(CdcError::BadRow { .. })
        ));
        c.absorb(vec![row(1, 1)], true).unwrap();
        // The server ignored the keyset condition and returned the same row again.
        assert!(matches!(
            c.absorb(vec![row(1, 1)], true),
            Err(CdcError::NoProgress { .. })
        ));
    }

    #[test]
    fn ids_compare_numerically() {
        assert_eq!(cmp_ids("9", "10"), Ordering::Less);
        assert_eq!(cmp_ids("010", "10"), Ordering::Equal);
        assert_eq!(cmp_ids("b", "a"), Ordering::Greater);
    }

    #[test]
    fn dates_parse_in_netsuite_forms() {
        assert_eq!(parse_netsuite_date("2023-11-14T22:13:20Z"), Some(t(0)));
        assert_eq!(parse_netsuite_date("2023-11-14 22:13:20"), Some(t(0)));
        assert_eq!(parse_netsuite_date("2023-11-14T23:13:20+01:00"), Some(t(0)));
        assert_eq!(parse_netsuite_date("14/11/2023"), None);
    }

    /// An in-memory NetSuite table for the property test: rows `(id, lastModifiedDate)`
    /// answering [`PageQuery`]s as SuiteQL would.
    struct Table {
        rows: std::collections::BTreeMap<u64, (i64, u32)>,
    }

    impl Table {
        fn page(&self, q: &PageQuery) -> (Vec<Value>, bool) {
            let mut hits: Vec<(i64, u64)> = self
                .rows
                .iter()
                .map(|(id, (ts, _))| (*ts, *id))
                .filter(|(ts, _)| q.lower.is_none_or(|l| t(*ts) >= l))
                .filter(|(ts, id)| {
                    q.after.as_ref().is_none_or(|(at, aid)| {
                        cmp_keys((t(*ts), &id.to_string()), (*at, aid)) == Ordering::Greater
                    })
                })
                .collect();
            hits.sort();
            let more = hits.len() > q.limit as usize;
            hits.truncate(q.limit as usize);
            (hits.into_iter().map(|(ts, id)| row(id, ts)).collect(), more)
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Modify row `id`: the clock advances by `advance` seconds, and the row's
        /// lastModifiedDate is the clock minus `skew` (a commit that became visible late).
        Modify { id: u64, advance: i64, skew: i64 },
        /// Fetch one page of the current sweep (starting one from the committed watermark).
        Poll,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (1u64..=12, prop_oneof![3 => Just(0i64), 1 => Just(1i64), 1 => 2i64..5], 0i64..=3)
                .prop_map(|(id, advance, skew)| Step::Modify { id, advance, skew }),
            2 => Just(Step::Poll),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// With the overlap at least the worst skew, no change is skipped: after the steps
        /// and one final sweep, every row was delivered at its latest version; the watermark
        /// never moves back and never passes a row not yet delivered.
        #[test]
        fn no_change_is_skipped(
            steps in proptest::collection::vec(step(), 1..80),
            page_size in 1u32..5,
        ) {
            let overlap = Duration::from_secs(3);
            let mut table = Table { rows: Default::default() };
            let mut clock = 0i64;
            let mut committed: Option<Watermark> = None;
            let mut cursor: Option<CdcCursor> = None;
            let mut seen: std::collections::HashMap<u64, u32> = Default::default();
            let poll = |table: &Table,
                            cursor: &mut Option<CdcCursor>,
                            committed: &mut Option<Watermark>,
                            seen: &mut std::collections::HashMap<u64, u32>| {
                let c = cursor.get_or_insert_with(|| {
                    CdcCursor::new(CdcSource::table("customer"), committed.clone(), overlap, page_size)
                });
                if c.next_fetch() == Some(Fetch::Head) {
                    // Sweeps start by reading the newest row, as the client does.
                    let head = table.rows.iter().map(|(id, (ts, _))| (*ts, *id)).max_by(|a, b| {
                        cmp_keys((t(a.0), &a.1.to_string()), (t(b.0), &b.1.to_string()))
                    });
                    c.absorb_head(head.map(|(ts, id)| row(id, ts)).into_iter().collect()).unwrap();
                }
                let q = page_query(c);
                let (items, more) = table.page(&q);
                let page = c.absorb(items, more).expect("well-formed page");
                for r in &page.rows {
                    let id: u64 = r.id.parse().unwrap();
                    seen.insert(id, table.rows[&id].1);
                }
                // The watermark covers only what was delivered: it is the old one, or at or
                // before this page's last row.
                if let Some(new) = page.watermark.as_ref() && Some(new) != committed.as_ref() {
                    let last = page.rows.last().expect("the watermark moved without rows");
                    assert!(cmp_keys(new.key(), (last.last_modified, &last.id)) != Ordering::Greater);
                }
                if let (Some(old), Some(new)) = (committed.as_ref(), page.watermark.as_ref()) {
                    assert!(cmp_keys(new.key(), old.key()) != Ordering::Less, "watermark moved back");
                }
                *committed = page.watermark.clone();
                if c.is_done() {
                    *cursor = None;
                }
            };
            for s in &steps {
                match s {
                    Step::Modify { id, advance, skew } => {
                        clock += advance;
                        let ts = (clock - skew).max(0);
                        let v = table.rows.get(id).map_or(1, |(_, v)| v + 1);
                        table.rows.insert(*id, (ts, v));
                    }
                    Step::Poll => poll(&table, &mut cursor, &mut committed, &mut seen),
                }
            }
            // Finish the sweep in progress, then run one complete sweep.
            while cursor.is_some() {
                poll(&table, &mut cursor, &mut committed, &mut seen);
            }
            poll(&table, &mut cursor, &mut committed, &mut seen);
            while cursor.is_some() {
                poll(&table, &mut cursor, &mut committed, &mut seen);
            }
            for (id, (_, v)) in &table.rows {
                proptest::prop_assert_eq!(seen.get(id), Some(v), "row {} skipped", id);
            }
        }
    }

    /// The overlap is what protects late commits: without it the same history loses a change.
    #[test]
    fn without_overlap_a_late_commit_is_lost() {
        let wm = Some(Watermark {
            last_modified: t(10),
            last_id: "1".into(),
        });
        // Row 2 commits after the sweep that set the watermark but carries lastModifiedDate 8.
        let mut c = CdcCursor::new(CdcSource::table("customer"), wm.clone(), Duration::ZERO, 10);
        c.absorb_head(vec![row(2, 8)]).unwrap();
        assert!(
            page_query(&c).lower.unwrap() > t(8),
            "a zero overlap starts after the late row"
        );
        let mut c = CdcCursor::new(CdcSource::table("customer"), wm, Duration::from_secs(2), 10);
        c.absorb_head(vec![row(1, 10)]).unwrap();
        assert!(page_query(&c).lower.unwrap() <= t(8));
        let page = c.absorb(vec![row(2, 8), row(1, 10)], false).unwrap();
        assert_eq!(page.rows.len(), 2);
    }

    /// Rows delivered beyond the sweep's head are not committed past the head.
    #[test]
    fn watermark_stops_at_the_head() {
        let mut c = CdcCursor::new(CdcSource::table("customer"), None, Duration::ZERO, 10);
        c.absorb_head(vec![row(3, 5)]).unwrap();
        let page = c.absorb(vec![row(3, 5), row(7, 9)], false).unwrap();
        assert_eq!(page.rows.len(), 2);
        assert_eq!(
            page.watermark,
            Some(Watermark {
                last_modified: t(5),
                last_id: "3".into()
            })
        );
        // An empty source at the start commits nothing this sweep.
        let mut c = CdcCursor::new(CdcSource::table("customer"), None, Duration::ZERO, 10);
        c.absorb_head(vec![]).unwrap();
        assert_eq!(c.absorb(vec![row(1, 1)], false).unwrap().watermark, None);
        assert_eq!(
            c.head_suiteql(),
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM customer \
             ORDER BY lastModifiedDate DESC, id DESC"
        );
    }

    fn page_query(c: &CdcCursor) -> PageQuery {
        match c.next_fetch() {
            Some(Fetch::Page(q)) => q,
            other => panic!("expected a page fetch, got {other:?}"),
        }
    }
}
