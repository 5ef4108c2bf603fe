//! Partial responses: the `fields` parameter every Google API takes (`fields=spreadsheetId,
//! sheets.properties(sheetId,title)` or `sheets/properties/title`): a comma-separated list of
//! paths, `/` or `.` stepping into a member, parentheses selecting several below one, `*` all;
//! applied to each element of an array on the way.

use serde_json::{Map, Value};

use crate::error::GoogleError;

/// One selected member and what is selected below it (nothing: all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    name: String,
    children: Vec<Node>,
}

fn parse_list(s: &[char], i: &mut usize) -> Result<Vec<Node>, ()> {
    let mut out: Vec<Node> = Vec::new();
    loop {
        let node = parse_path(s, i)?;
        merge(&mut out, node);
        match s.get(*i) {
            Some(',') => *i += 1,
            _ => return Ok(out),
        }
    }
}

fn merge(into: &mut Vec<Node>, node: Node) {
    match into.iter_mut().find(|n| n.name == node.name) {
        Some(existing) if existing.children.is_empty() || node.children.is_empty() => {
            existing.children.clear();
        }
        Some(existing) => {
            for c in node.children {
                merge(&mut existing.children, c);
            }
        }
        None => into.push(node),
    }
}

fn parse_path(s: &[char], i: &mut usize) -> Result<Node, ()> {
    let start = *i;
    while *i < s.len() && (s[*i].is_ascii_alphanumeric() || s[*i] == '_' || s[*i] == '*') {
        *i += 1;
    }
    if *i == start {
        return Err(());
    }
    let name: String = s[start..*i].iter().collect();
    let children = match s.get(*i) {
        Some('/') | Some('.') => {
            *i += 1;
            vec![parse_path(s, i)?]
        }
        Some('(') => {
            *i += 1;
            let list = parse_list(s, i)?;
            if s.get(*i) != Some(&')') {
                return Err(());
            }
            *i += 1;
            list
        }
        _ => Vec::new(),
    };
    Ok(Node { name, children })
}

/// Parses a `fields` value.
pub fn parse(spec: &str) -> Result<Vec<Node>, GoogleError> {
    let chars: Vec<char> = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let mut i = 0;
    let list = parse_list(&chars, &mut i).map_err(|_| bad(spec))?;
    if i != chars.len() {
        return Err(bad(spec));
    }
    Ok(list)
}

fn bad(spec: &str) -> GoogleError {
    GoogleError::invalid(format!("Invalid field selection {spec}"))
}

/// Keeps what `nodes` select of `v`.
pub fn select(v: &Value, nodes: &[Node]) -> Value {
    if nodes.is_empty() {
        return v.clone();
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|x| select(x, nodes)).collect()),
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, val) in o {
                let pick = nodes
                    .iter()
                    .find(|n| n.name == *k)
                    .or_else(|| nodes.iter().find(|n| n.name == "*"));
                if let Some(n) = pick {
                    out.insert(k.clone(), select(val, &n.children));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks() {
        let v = json!({"spreadsheetId": "x", "properties": {"title": "T", "locale": "en_US"},
            "sheets": [{"properties": {"sheetId": 0, "title": "A", "index": 0}},
                       {"properties": {"sheetId": 7, "title": "B", "index": 1}}]});
        let m = parse("spreadsheetId,sheets.properties(sheetId,title)").unwrap();
        assert_eq!(
            select(&v, &m),
            json!({"spreadsheetId": "x", "sheets": [{"properties": {"sheetId": 0, "title": "A"}},
                   {"properties": {"sheetId": 7, "title": "B"}}]})
        );
        let m = parse("sheets/properties/title,properties").unwrap();
        assert_eq!(
            select(&v, &m),
            json!({"properties": {"title": "T", "locale": "en_US"},
                   "sheets": [{"properties": {"title": "A"}}, {"properties": {"title": "B"}}]})
        );
        assert_eq!(select(&v, &parse("*").unwrap()), v);
        assert!(parse("sheets(").is_err());
        assert!(parse("a,,b").is_err());
    }
}
