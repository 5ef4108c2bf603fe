//! `searchCriteria`: parsing the bracketed query parameters and evaluating them over JSON
//! records (filters, sort, pages with Magento's repeated last page).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::config::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::error::MgError;

/// One filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The field.
    pub field: String,
    /// The value (comma separated for `in`/`nin`).
    pub value: String,
    /// The condition (`eq` when none is given).
    pub condition: String,
}

/// Parsed search criteria.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Criteria {
    /// Groups (AND) of filters (OR).
    pub groups: Vec<Vec<Filter>>,
    /// Sort orders: field and whether ascending.
    pub sort: Vec<(String, bool)>,
    /// `pageSize`.
    pub page_size: Option<usize>,
    /// `currentPage`.
    pub current_page: Option<usize>,
}

/// Parses the `searchCriteria[…]` parameters of a raw query.
pub fn parse(query: &str) -> Result<Criteria, MgError> {
    let mut groups: BTreeMap<usize, BTreeMap<usize, BTreeMap<String, String>>> = BTreeMap::new();
    let mut sorts: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    let mut c = Criteria::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let Some(rest) = k.strip_prefix("searchCriteria") else {
            continue;
        };
        let parts: Vec<&str> = rest
            .split('[')
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_end_matches(']'))
            .collect();
        let num = |s: &str| -> Result<usize, MgError> {
            s.parse().map_err(|_| {
                MgError::bad_request("\"%fieldName\" is not a valid number.")
                    .params(json!({"fieldName": k}))
            })
        };
        match parts.as_slice() {
            ["filter_groups" | "filterGroups", g, "filters", f, name] => {
                groups
                    .entry(num(g)?)
                    .or_default()
                    .entry(num(f)?)
                    .or_default()
                    .insert(canon(name), v.into_owned());
            }
            ["sortOrders" | "sort_orders", n, name] => {
                sorts
                    .entry(num(n)?)
                    .or_default()
                    .insert(canon(name), v.into_owned());
            }
            ["pageSize" | "page_size"] => c.page_size = Some(num(&v)?),
            ["currentPage" | "current_page"] => c.current_page = Some(num(&v)?),
            _ => {}
        }
    }
    for (_, filters) in groups {
        let mut g = Vec::new();
        for (_, f) in filters {
            let Some(field) = f.get("field") else {
                return Err(MgError::bad_request(
                    "\"%fieldName\" is required. Enter and try again.",
                )
                .params(json!({"fieldName": "field"})));
            };
            g.push(Filter {
                field: field.clone(),
                value: f.get("value").cloned().unwrap_or_default(),
                condition: f
                    .get("condition_type")
                    .cloned()
                    .unwrap_or_else(|| "eq".into()),
            });
        }
        c.groups.push(g);
    }
    for (_, s) in sorts {
        if let Some(field) = s.get("field") {
            let asc = !s
                .get("direction")
                .is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            c.sort.push((field.clone(), asc));
        }
    }
    Ok(c)
}

fn canon(name: &str) -> String {
    match name {
        "conditionType" => "condition_type".into(),
        other => other.to_owned(),
    }
}

/// A record's field; `entity_id` is the `id` of records that answer with `id`.
fn field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    record
        .get(name)
        .or_else(|| (name == "entity_id").then(|| record.get("id")).flatten())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn like(value: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return value.eq_ignore_ascii_case(pattern);
    }
    let v = value.to_lowercase();
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        let p = p.to_lowercase();
        if p.is_empty() {
            continue;
        }
        if i == 0 {
            if !v.starts_with(&p) {
                return false;
            }
            pos = p.len();
        } else if i == parts.len() - 1 {
            return v[pos..].ends_with(&p);
        } else {
            match v[pos..].find(&p) {
                Some(at) => pos += at + p.len(),
                None => return false,
            }
        }
    }
    true
}

impl Filter {
    fn matches(&self, record: &Value) -> Result<bool, MgError> {
        let got = field(record, &self.field).and_then(text);
        let list = || self.value.split(',').map(str::trim).collect::<Vec<_>>();
        Ok(match self.condition.as_str() {
            "null" => got.is_none(),
            "notnull" => got.is_some(),
            cond => {
                let Some(got) = got else { return Ok(false) };
                let o = compare(&got, &self.value);
                match cond {
                    "eq" => o == Ordering::Equal,
                    "neq" => o != Ordering::Equal,
                    "gt" => o == Ordering::Greater,
                    "gteq" | "from" => o != Ordering::Less,
                    "lt" => o == Ordering::Less,
                    "lteq" | "to" => o != Ordering::Greater,
                    "in" => list().iter().any(|x| compare(&got, x) == Ordering::Equal),
                    "nin" => !list().iter().any(|x| compare(&got, x) == Ordering::Equal),
                    "like" => like(&got, &self.value),
                    "nlike" => !like(&got, &self.value),
                    other => {
                        return Err(MgError::bad_request(
                            "Invalid value of \"%1\" provided for the %2 field.",
                        )
                        .params(json!([other, "condition_type"])));
                    }
                }
            }
        })
    }
}

/// Evaluates `c` over `records` (already in their default order): the `{"items",
/// "search_criteria", "total_count"}` answer. A page past the last is the last page again.
pub fn answer(c: &Criteria, records: Vec<Value>, input_limits: bool) -> Result<Value, MgError> {
    let mut kept = Vec::new();
    for r in records {
        let mut ok = true;
        for g in &c.groups {
            let mut any = false;
            for f in g {
                if f.matches(&r)? {
                    any = true;
                    break;
                }
            }
            if !any {
                ok = false;
                break;
            }
        }
        if ok {
            kept.push(r);
        }
    }
    if !c.sort.is_empty() {
        kept.sort_by(|a, b| {
            for (name, asc) in &c.sort {
                let x = field(a, name).and_then(text).unwrap_or_default();
                let y = field(b, name).and_then(text).unwrap_or_default();
                let o = compare(&x, &y);
                if o != Ordering::Equal {
                    return if *asc { o } else { o.reverse() };
                }
            }
            Ordering::Equal
        });
    }
    let total = kept.len();
    let size = match (c.page_size, input_limits) {
        (Some(n), true) if n > MAX_PAGE_SIZE => {
            return Err(
                MgError::bad_request("Maximum SearchCriteria pageSize is %1")
                    .params(json!([MAX_PAGE_SIZE])),
            );
        }
        (Some(0), _) | (None, false) => total.max(1),
        (Some(n), _) => n,
        (None, true) => DEFAULT_PAGE_SIZE,
    };
    let pages = total.div_ceil(size).max(1);
    let page = c.current_page.unwrap_or(1).max(1).min(pages);
    let items: Vec<Value> = kept
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut sc = json!({
        "filter_groups": c.groups.iter().map(|g| json!({"filters": g.iter().map(|f| json!({
            "field": f.field, "value": f.value, "condition_type": f.condition})).collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
    });
    if !c.sort.is_empty() {
        sc["sort_orders"] = c
            .sort
            .iter()
            .map(|(f, asc)| json!({"field": f, "direction": if *asc {"ASC"} else {"DESC"}}))
            .collect();
    }
    if let Some(n) = c.page_size {
        sc["page_size"] = json!(n);
    }
    if let Some(p) = c.current_page {
        sc["current_page"] = json!(p);
    }
    Ok(json!({ "items": items, "search_criteria": sc, "total_count": total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_pages_with_the_repeated_last_page() {
        let q = "searchCriteria[filter_groups][0][filters][0][field]=updated_at&searchCriteria[filter_groups][0][filters][0][value]=2026-01-15%2012:00:05&searchCriteria[filter_groups][0][filters][0][condition_type]=gteq&searchCriteria[pageSize]=2&searchCriteria[currentPage]=9";
        let c = parse(q).unwrap();
        assert_eq!(c.groups[0][0].condition, "gteq");
        let recs: Vec<Value> = (0..7)
            .map(|i| json!({"id": i, "updated_at": format!("2026-01-15 12:00:0{i}")}))
            .collect();
        let a = answer(&c, recs, true).unwrap();
        assert_eq!(a["total_count"], 2);
        let ids: Vec<i64> = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![5, 6], "page 9 of 1 is the last page again");
        assert!(like("Blue Shirt", "%shirt"));
        assert!(!like("Blue Shirt", "red%"));
    }
}
