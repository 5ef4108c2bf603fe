//! Calculated query cost, as Shopify describes it: scalar and enum fields cost 0, objects 1,
//! connections 2 plus `first` (or `last`) times the cost of one node, each mutation field 10
//! (Shopify's connection and mutation formulas are unconfirmed; these are the documented
//! assumptions). The requested cost is computed from the query before execution; the actual
//! cost walks the response and counts the objects really returned.

use std::collections::HashMap;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
    OperationType, Selection, SelectionSet,
};
use async_graphql_value::{Name, Value};
use serde_json::Value as Json;

/// Flat cost of one mutation field.
pub const MUTATION_COST: u64 = 10;

/// Cost figures of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Requested (upper bound) cost.
    pub requested: u64,
    /// Whether the selected operation is a mutation.
    pub is_mutation: bool,
}

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

struct Walker<'a> {
    fragments: &'a Fragments,
    variables: &'a Json,
    defaults: HashMap<String, Json>,
}

/// Picks the operation the request runs.
pub fn select_operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|o| &o.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|o| &o.node)
        }
        _ => None,
    }
}

impl<'a> Walker<'a> {
    fn new(doc: &'a ExecutableDocument, op: &OperationDefinition, variables: &'a Json) -> Self {
        let defaults = op
            .variable_definitions
            .iter()
            .filter_map(|v| {
                v.node.default_value.as_ref().map(|d| {
                    (
                        v.node.name.node.to_string(),
                        d.node.clone().into_json().unwrap_or(Json::Null),
                    )
                })
            })
            .collect();
        Walker {
            fragments: &doc.fragments,
            variables,
            defaults,
        }
    }

    fn int_arg(&self, field: &Field, name: &str) -> Option<u64> {
        let (_, v) = field
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == name)?;
        match &v.node {
            Value::Number(n) => n.as_u64(),
            Value::Variable(var) => self
                .variables
                .get(var.as_str())
                .or_else(|| self.defaults.get(var.as_str()))
                .and_then(Json::as_u64),
            _ => None,
        }
    }

    fn list_len_arg(&self, field: &Field, name: &str) -> Option<u64> {
        let (_, v) = field
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == name)?;
        match &v.node {
            Value::List(l) => Some(l.len() as u64),
            Value::Variable(var) => self
                .variables
                .get(var.as_str())
                .and_then(Json::as_array)
                .map(|a| a.len() as u64),
            _ => None,
        }
    }

    /// Fields of a selection set with fragments inlined, grouped by response key.
    fn collect<'s>(&'s self, set: &'s SelectionSet, out: &mut Vec<(String, Vec<&'s Field>)>)
    where
        'a: 's,
    {
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => {
                    let key = f
                        .node
                        .alias
                        .as_ref()
                        .map(|a| a.node.to_string())
                        .unwrap_or_else(|| f.node.name.node.to_string());
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(&f.node),
                        None => out.push((key, vec![&f.node])),
                    }
                }
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = self.fragments.get(&s.node.fragment_name.node) {
                        self.collect(&frag.node.selection_set.node, out);
                    }
                }
                Selection::InlineFragment(i) => self.collect(&i.node.selection_set.node, out),
            }
        }
    }

    fn children<'s>(&'s self, fields: &[&'s Field]) -> Vec<(String, Vec<&'s Field>)>
    where
        'a: 's,
    {
        let mut out = Vec::new();
        for f in fields {
            self.collect(&f.selection_set.node, &mut out);
        }
        out
    }

    fn page_size(&self, field: &Field) -> Option<u64> {
        self.int_arg(field, "first")
            .or_else(|| self.int_arg(field, "last"))
            .or_else(|| {
                // A connection requested without first/last is an error at execution; it is
                // still recognised here so the cost stays an upper bound.
                let names = ["edges", "nodes", "pageInfo"];
                field
                    .selection_set
                    .node
                    .items
                    .iter()
                    .any(|s| matches!(&s.node, Selection::Field(f) if names.contains(&f.node.name.node.as_str())))
                    .then_some(0)
            })
    }

    /// Cost of one mutation field: `productSet` is priced dynamically as Shopify does since
    /// 2025-10 (10 + 0.2 per variant, rounded up); every other mutation costs 10.
    fn mutation_field_cost(&self, f: &Field) -> u64 {
        if f.name.node.as_str() != "productSet" {
            return MUTATION_COST;
        }
        let variants = f
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == "input")
            .and_then(|(_, v)| match &v.node {
                Value::Variable(var) => self
                    .variables
                    .get(var.as_str())
                    .and_then(|i| i.get("variants"))
                    .and_then(Json::as_array)
                    .map(|a| a.len() as u64),
                Value::Object(map) => match map.get("variants") {
                    Some(Value::List(l)) => Some(l.len() as u64),
                    Some(Value::Variable(var)) => self
                        .variables
                        .get(var.as_str())
                        .and_then(Json::as_array)
                        .map(|a| a.len() as u64),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or(0);
        MUTATION_COST + (2 * variants).div_ceil(10)
    }

    fn requested(&self, fields: &[(String, Vec<&Field>)]) -> u64 {
        fields
            .iter()
            .map(|(_, group)| self.requested_field(group))
            .sum()
    }

    fn requested_field(&self, group: &[&Field]) -> u64 {
        let f = group[0];
        if f.name.node.starts_with("__")
            || group.iter().all(|g| g.selection_set.node.items.is_empty())
        {
            return 0;
        }
        let kids = self.children(group);
        if let Some(n) = self.page_size(f) {
            let per_node: u64 = kids
                .iter()
                .map(|(_, g)| match g[0].name.node.as_str() {
                    "edges" => self
                        .children(g)
                        .iter()
                        .filter(|(_, eg)| eg[0].name.node.as_str() == "node")
                        .map(|(_, eg)| 1 + self.requested(&self.children(eg)))
                        .sum(),
                    "nodes" => 1 + self.requested(&self.children(g)),
                    _ => 0,
                })
                .sum();
            return 2 + n * per_node;
        }
        let mult = if f.name.node.as_str() == "nodes" {
            self.list_len_arg(f, "ids").unwrap_or(1)
        } else {
            1
        };
        mult * (1 + self.requested(&kids))
    }

    fn actual(&self, fields: &[(String, Vec<&Field>)], data: &Json) -> u64 {
        fields
            .iter()
            .map(|(key, group)| match data.get(key) {
                Some(v) => self.actual_field(group, v),
                None => 0,
            })
            .sum()
    }

    fn actual_field(&self, group: &[&Field], v: &Json) -> u64 {
        let f = group[0];
        if f.name.node.starts_with("__")
            || group.iter().all(|g| g.selection_set.node.items.is_empty())
        {
            return 0;
        }
        if v.is_null() {
            return 0;
        }
        let kids = self.children(group);
        if self.page_size(f).is_some() {
            let mut total = 2;
            for (key, g) in &kids {
                let Some(items) = v.get(key).and_then(Json::as_array) else {
                    continue;
                };
                match g[0].name.node.as_str() {
                    "edges" => {
                        let ekids = self.children(g);
                        for item in items {
                            for (ek, eg) in &ekids {
                                if eg[0].name.node.as_str() == "node"
                                    && let Some(node) = item.get(ek).filter(|n| !n.is_null())
                                {
                                    total += 1 + self.actual(&self.children(eg), node);
                                }
                            }
                        }
                    }
                    "nodes" => {
                        for item in items {
                            if !item.is_null() {
                                total += 1 + self.actual(&kids_of(self, g), item);
                            }
                        }
                    }
                    _ => {}
                }
            }
            return total;
        }
        match v {
            Json::Array(items) => items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| 1 + self.actual(&kids, i))
                .sum(),
            _ => 1 + self.actual(&kids, v),
        }
    }
}

fn kids_of<'s>(w: &'s Walker<'_>, g: &[&'s Field]) -> Vec<(String, Vec<&'s Field>)> {
    w.children(g)
}

/// Requested cost of the operation `op` in `doc`.
pub fn requested_cost(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    variables: &Json,
) -> Cost {
    let w = Walker::new(doc, op, variables);
    let mut fields = Vec::new();
    w.collect(&op.selection_set.node, &mut fields);
    if op.ty == OperationType::Mutation {
        let requested = fields
            .iter()
            .filter(|(_, g)| !g[0].name.node.starts_with("__"))
            .map(|(_, g)| w.mutation_field_cost(g[0]))
            .sum();
        Cost {
            requested,
            is_mutation: true,
        }
    } else {
        Cost {
            requested: w.requested(&fields),
            is_mutation: false,
        }
    }
}

/// Actual cost of the operation given the response `data`.
pub fn actual_cost(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    variables: &Json,
    data: &Json,
) -> u64 {
    let w = Walker::new(doc, op, variables);
    let mut fields = Vec::new();
    w.collect(&op.selection_set.node, &mut fields);
    if op.ty == OperationType::Mutation {
        fields
            .iter()
            .filter(|(k, g)| {
                !g[0].name.node.starts_with("__") && data.get(k).is_some_and(|v| !v.is_null())
            })
            .map(|(_, g)| w.mutation_field_cost(g[0]))
            .sum()
    } else {
        w.actual(&fields, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql_parser::parse_query;
    use serde_json::json;

    fn req(q: &str, vars: Json) -> u64 {
        let doc = parse_query(q).unwrap();
        let op = select_operation(&doc, None).unwrap();
        requested_cost(&doc, op, &vars).requested
    }

    #[test]
    fn connection_costs_two_plus_first_times_node() {
        assert_eq!(
            req("{ products(first: 10) { nodes { id title } } }", json!({})),
            12
        );
        assert_eq!(
            req(
                "query($n: Int) { products(first: $n) { edges { cursor node { id } } pageInfo { hasNextPage } } }",
                json!({"n": 50})
            ),
            52
        );
        // Nested connection: 2 + 10 * (1 + (2 + 5 * 1)) = 82
        assert_eq!(
            req(
                "{ products(first: 10) { nodes { id variants(first: 5) { nodes { sku } } } } }",
                json!({})
            ),
            82
        );
        // Object child: 1 per node.
        assert_eq!(
            req(
                "{ productVariants(first: 2) { nodes { id inventoryItem { id } } } }",
                json!({})
            ),
            2 + 2 * 2
        );
        assert_eq!(req("{ shop { name } }", json!({})), 1);
        assert_eq!(
            req(
                "mutation { a: productSet(input: {}) { product { id } } b: productSet(input: {}) { product { id } } }",
                json!({})
            ),
            20
        );
    }

    #[test]
    fn product_set_is_priced_per_variant() {
        let q = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id } } }";
        let vars = |n: usize| json!({"i": {"variants": vec![json!({}); n]}});
        assert_eq!(req(q, vars(0)), 10);
        assert_eq!(req(q, vars(1)), 11);
        assert_eq!(req(q, vars(5)), 11);
        assert_eq!(req(q, vars(100)), 30);
        assert_eq!(
            req(
                "mutation { productSet(input: {variants: [{}, {}, {}, {}, {}, {}]}) { product { id } } }",
                json!({})
            ),
            12
        );
    }

    #[test]
    fn fragments_are_inlined() {
        let q = "query { products(first: 3) { nodes { ...F } } } fragment F on Product { id variants(first: 2) { nodes { id } } }";
        assert_eq!(req(q, json!({})), 2 + 3 * (1 + 2 + 2));
    }

    #[test]
    fn actual_counts_returned_nodes() {
        let q = "{ products(first: 10) { nodes { id variants(first: 5) { nodes { sku } } } } }";
        let doc = parse_query(q).unwrap();
        let op = select_operation(&doc, None).unwrap();
        let data = json!({"products": {"nodes": [
            {"id": "1", "variants": {"nodes": [{"sku": "a"}, {"sku": "b"}]}},
            {"id": "2", "variants": {"nodes": []}}
        ]}});
        // 2 + (1 + 2 + 2) + (1 + 2) = 10
        assert_eq!(actual_cost(&doc, op, &json!({}), &data), 10);
    }
}
