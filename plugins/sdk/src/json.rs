//! JSON helpers that read platform documents with errors naming the exact path.
//!
//! ```
//! use weft_plugin_sdk::json::{parse, Node};
//! let doc = parse("product", r#"{"variants":[{"sku":5}]}"#).unwrap();
//! let root = Node::root("product", &doc);
//! let err = root.array("variants").unwrap()[0].str("sku").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid input: product.variants[0].sku: expected string, found number"
//! );
//! ```

use crate::types::ItemError;
use serde_json::{Map, Number, Value};

/// Parses JSON text, naming the document in the error.
pub fn parse(what: &str, text: &str) -> Result<Value, ItemError> {
    serde_json::from_str(text)
        .map_err(|e| ItemError::InvalidInput(format!("{what}: not valid JSON: {e}")))
}

/// The JSON type name used in error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON value together with its path from the document root, for error messages.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    path: String,
    value: &'a Value,
}

impl<'a> Node<'a> {
    /// The root of a document named `name` (the name starts every error path).
    pub fn root(name: &str, value: &'a Value) -> Node<'a> {
        Node {
            path: name.to_owned(),
            value,
        }
    }

    /// The path of this node, e.g. `product.variants[0]`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value itself.
    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// An `invalid-input` error about this node.
    pub fn error(&self, message: impl std::fmt::Display) -> ItemError {
        ItemError::InvalidInput(format!("{}: {message}", self.path))
    }

    fn child_path(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    fn as_object(&self) -> Result<&'a Map<String, Value>, ItemError> {
        self.value
            .as_object()
            .ok_or_else(|| self.error(format!("expected object, found {}", type_name(self.value))))
    }

    /// The raw value of `field`, `None` when absent or `null`.
    pub fn get(&self, field: &str) -> Result<Option<Node<'a>>, ItemError> {
        Ok(match self.as_object()?.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(Node {
                path: self.child_path(field),
                value: v,
            }),
        })
    }

    /// `field`, which must be present and not `null`.
    pub fn field(&self, field: &str) -> Result<Node<'a>, ItemError> {
        self.get(field)?
            .ok_or_else(|| ItemError::InvalidInput(format!("{}: missing", self.child_path(field))))
    }

    /// A required string field (may be empty).
    pub fn str(&self, field: &str) -> Result<&'a str, ItemError> {
        let node = self.field(field)?;
        node.value
            .as_str()
            .ok_or_else(|| node.error(format!("expected string, found {}", type_name(node.value))))
    }

    /// An optional text field: absent, `null` and `""` all give `None`.
    pub fn opt_str(&self, field: &str) -> Result<Option<&'a str>, ItemError> {
        match self.get(field)? {
            None => Ok(None),
            Some(node) => match node.value.as_str() {
                Some("") => Ok(None),
                Some(s) => Ok(Some(s)),
                None => {
                    Err(node.error(format!("expected string, found {}", type_name(node.value))))
                }
            },
        }
    }

    /// A required id: a non-empty string, or an integer JSON number turned into its decimal text.
    pub fn id(&self, field: &str) -> Result<String, ItemError> {
        let node = self.field(field)?;
        node.as_id()
    }

    /// An optional id (absent, `null` or `""` give `None`).
    pub fn opt_id(&self, field: &str) -> Result<Option<String>, ItemError> {
        match self.get(field)? {
            None => Ok(None),
            Some(node) if node.value.as_str() == Some("") => Ok(None),
            Some(node) => node.as_id().map(Some),
        }
    }

    /// This node as an id (see [`Node::id`]).
    pub fn as_id(&self) -> Result<String, ItemError> {
        match self.value {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::String(_) => Err(self.error("expected id, found empty string")),
            Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
            other => Err(self.error(format!(
                "expected id (string or integer), found {}",
                type_name(other)
            ))),
        }
    }

    /// A required integer (a JSON number without a fractional part, or a string of one).
    pub fn i64(&self, field: &str) -> Result<i64, ItemError> {
        self.field(field)?.as_i64()
    }

    /// An optional integer.
    pub fn opt_i64(&self, field: &str) -> Result<Option<i64>, ItemError> {
        self.get(field)?.map(|n| n.as_i64()).transpose()
    }

    /// This node as an integer (see [`Node::i64`]).
    pub fn as_i64(&self) -> Result<i64, ItemError> {
        match self.value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Ok(i);
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
                    _ => Err(self.error(format!("expected integer, found {n}"))),
                }
            }
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| self.error(format!("expected integer, found string {s:?}"))),
            other => Err(self.error(format!("expected integer, found {}", type_name(other)))),
        }
    }

    /// A required boolean.
    pub fn bool(&self, field: &str) -> Result<bool, ItemError> {
        let node = self.field(field)?;
        node.value
            .as_bool()
            .ok_or_else(|| node.error(format!("expected boolean, found {}", type_name(node.value))))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ItemError> {
        match self.get(field)? {
            None => Ok(None),
            Some(node) => node.value.as_bool().map(Some).ok_or_else(|| {
                node.error(format!("expected boolean, found {}", type_name(node.value)))
            }),
        }
    }

    /// A required decimal (string or number), normalised by [`normalize_decimal`].
    pub fn decimal(&self, field: &str) -> Result<String, ItemError> {
        self.field(field)?.as_decimal()
    }

    /// An optional decimal (absent, `null` or `""` give `None`).
    pub fn opt_decimal(&self, field: &str) -> Result<Option<String>, ItemError> {
        match self.get(field)? {
            None => Ok(None),
            Some(node) if node.value.as_str() == Some("") => Ok(None),
            Some(node) => node.as_decimal().map(Some),
        }
    }

    /// This node as a normalised decimal string.
    pub fn as_decimal(&self) -> Result<String, ItemError> {
        let text = match self.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => number_text(n),
            other => {
                return Err(self.error(format!("expected decimal, found {}", type_name(other))));
            }
        };
        normalize_decimal(&text)
            .ok_or_else(|| self.error(format!("expected decimal, found {text:?}")))
    }

    /// A required object field.
    pub fn obj(&self, field: &str) -> Result<Node<'a>, ItemError> {
        let node = self.field(field)?;
        node.as_object()?;
        Ok(node)
    }

    /// An optional object field.
    pub fn opt_obj(&self, field: &str) -> Result<Option<Node<'a>>, ItemError> {
        match self.get(field)? {
            None => Ok(None),
            Some(node) => {
                node.as_object()?;
                Ok(Some(node))
            }
        }
    }

    /// A required array field, as nodes with indexed paths (`field[0]`, ...).
    pub fn array(&self, field: &str) -> Result<Vec<Node<'a>>, ItemError> {
        let node = self.field(field)?;
        node.elements()
    }

    /// An optional array field (absent or `null` give an empty list).
    pub fn opt_array(&self, field: &str) -> Result<Vec<Node<'a>>, ItemError> {
        match self.get(field)? {
            None => Ok(Vec::new()),
            Some(node) => node.elements(),
        }
    }

    /// The elements of this array node.
    pub fn elements(&self) -> Result<Vec<Node<'a>>, ItemError> {
        let items = self.value.as_array().ok_or_else(|| {
            self.error(format!("expected array, found {}", type_name(self.value)))
        })?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| Node {
                path: format!("{}[{i}]", self.path),
                value: v,
            })
            .collect())
    }
}

fn number_text(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    let text = n.to_string();
    if text.contains(['e', 'E']) && f.is_finite() {
        // Exponent notation (tiny or huge values): print positionally.
        let fixed = format!("{f:.12}");
        fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Normalises a decimal: optional sign, digits, optional fraction; at least two decimals and no
/// trailing zeros beyond them (`"49"` → `"49.00"`, `"1.2300"` → `"1.23"`, `"1.2345"` stays).
/// `None` when the text is not a plain decimal.
pub fn normalize_decimal(text: &str) -> Option<String> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut frac = frac.trim_end_matches('0').to_owned();
    while frac.len() < 2 {
        frac.push('0');
    }
    let is_zero = int == "0" && frac.bytes().all(|b| b == b'0');
    let sign = if neg && !is_zero { "-" } else { "" };
    Some(format!("{sign}{int}.{frac}"))
}

/// A normalised decimal string as a JSON number (for targets that store prices as numbers).
pub fn decimal_to_number(decimal: &str) -> Option<Value> {
    let f: f64 = decimal.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// Whether two JSON values are the same for sync purposes: `null` and `""` are equal, numbers
/// compare by value, and objects/arrays compare element-wise with the same rule.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            let present = |m: &Map<String, Value>, k: &str| {
                m.get(k)
                    .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
            };
            x.keys()
                .chain(y.keys())
                .all(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => same_value(p, q),
                    _ => !present(x, k) && !present(y, k),
                })
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_the_field_and_types() {
        let v = json!({"a": {"b": [1, "x", {"c": true}]}, "n": null, "e": ""});
        let root = Node::root("doc", &v);
        let b = root.obj("a").unwrap().array("b").unwrap();
        assert_eq!(b[2].path(), "doc.a.b[2]");
        assert_eq!(
            b[2].str("c").unwrap_err().to_string(),
            "invalid input: doc.a.b[2].c: expected string, found boolean"
        );
        assert_eq!(
            root.str("zzz").unwrap_err(),
            ItemError::InvalidInput("doc.zzz: missing".into())
        );
        assert_eq!(root.opt_str("n").unwrap(), None);
        assert_eq!(root.opt_str("e").unwrap(), None);
        assert_eq!(root.opt_str("zzz").unwrap(), None);
        assert_eq!(root.opt_array("n").unwrap().len(), 0);
        assert!(
            b[0].str("x")
                .unwrap_err()
                .to_string()
                .contains("expected object")
        );
    }

    #[test]
    fn ids_are_strings_even_when_numbers_exceed_2_pow_53() {
        let v: Value =
            serde_json::from_str(r#"{"id": 271878346596884015, "s": "12", "f": 1.5, "e": ""}"#)
                .unwrap();
        let root = Node::root("level", &v);
        assert_eq!(root.id("id").unwrap(), "271878346596884015");
        assert_eq!(root.id("s").unwrap(), "12");
        assert!(
            root.id("f")
                .unwrap_err()
                .to_string()
                .contains("expected id")
        );
        assert_eq!(root.opt_id("e").unwrap(), None);
        assert!(
            root.id("e")
                .unwrap_err()
                .to_string()
                .contains("empty string")
        );
    }

    #[test]
    fn integers_accept_whole_floats_and_reject_fractions() {
        let v = json!({"a": 3, "b": 4.0, "c": 4.5, "d": "7", "e": "x"});
        let root = Node::root("r", &v);
        assert_eq!(root.i64("a").unwrap(), 3);
        assert_eq!(root.i64("b").unwrap(), 4);
        assert!(root.i64("c").is_err());
        assert_eq!(root.i64("d").unwrap(), 7);
        assert!(root.i64("e").is_err());
        assert_eq!(root.opt_i64("zz").unwrap(), None);
    }

    #[test]
    fn decimals_normalise() {
        assert_eq!(normalize_decimal("49").as_deref(), Some("49.00"));
        assert_eq!(normalize_decimal("49.5").as_deref(), Some("49.50"));
        assert_eq!(normalize_decimal("1.2300").as_deref(), Some("1.23"));
        assert_eq!(normalize_decimal("1.2345").as_deref(), Some("1.2345"));
        assert_eq!(normalize_decimal("007.10").as_deref(), Some("7.10"));
        assert_eq!(normalize_decimal(".5").as_deref(), Some("0.50"));
        assert_eq!(normalize_decimal("-0.0").as_deref(), Some("0.00"));
        assert_eq!(normalize_decimal("-3").as_deref(), Some("-3.00"));
        assert_eq!(normalize_decimal("1e3"), None);
        assert_eq!(normalize_decimal("abc"), None);
        assert_eq!(normalize_decimal(""), None);
        let v = json!({"n": 49.0, "s": "49.00", "t": 1e-7, "b": true});
        let root = Node::root("p", &v);
        assert_eq!(root.decimal("n").unwrap(), "49.00");
        assert_eq!(root.decimal("s").unwrap(), "49.00");
        assert_eq!(root.decimal("t").unwrap(), "0.0000001");
        assert!(root.decimal("b").is_err());
        assert_eq!(decimal_to_number("49.90"), Some(json!(49.9)));
    }

    #[test]
    fn same_value_treats_null_and_empty_alike() {
        assert!(same_value(&json!(null), &json!("")));
        assert!(same_value(&json!(49), &json!(49.0)));
        assert!(!same_value(&json!(49), &json!(49.5)));
        assert!(same_value(&json!({"a": null}), &json!({})));
        assert!(same_value(&json!({"a": ""}), &json!({"b": null})));
        assert!(!same_value(&json!({"a": "x"}), &json!({})));
        assert!(same_value(&json!([1, {"x": null}]), &json!([1.0, {}])));
        assert!(!same_value(&json!([1]), &json!([1, 2])));
    }
}
