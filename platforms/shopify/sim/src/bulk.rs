//! Bulk query operations: `bulkOperationRunQuery`, their progress (`currentBulkOperation`,
//! `node(id:)` on a `BulkOperation`) and the JSONL result file.
//!
//! # What Shopify documents (and this module enforces)
//!
//! - `bulkOperationRunQuery(query:, groupObjects:)` returns `bulkOperation` (status `CREATED`)
//!   or `userErrors { field message code }` with `BulkOperationUserErrorCode` `INVALID` (the
//!   query is not a valid bulk query) or `OPERATION_IN_PROGRESS` (the app already runs as many
//!   bulk queries as its API version allows on the shop: one before `2026-01`, five from
//!   `2026-01`).
//! - The query must contain at least one connection, at most five connections, nested at most
//!   two levels deep (`products { variants { ... } }`). A field that does not exist is an
//!   `INVALID` user error, reported when the operation is created.
//! - Status goes `CREATED` -> `RUNNING` -> `COMPLETED` or `FAILED` (with `errorCode`
//!   `ACCESS_DENIED`, `INTERNAL_SERVER_ERROR` or `TIMEOUT` and, when some data was written,
//!   `partialDataUrl`); `objectCount` counts every object written so far, `rootObjectCount`
//!   only the root connection's; `url` is null when the query returned nothing.
//! - The result is JSONL: one object per line, connections flattened: each node of a nested
//!   connection is a line of its own carrying `__parentId`, the id of the node it hangs off.
//!   With `groupObjects: false` (the default from 2026-07) children do not follow their parent
//!   directly; with `true` they do. The URL needs no access token (a signed storage URL).
//! - Polling and creating are ordinary GraphQL calls under the cost bucket (a mutation 10
//!   points, a `node` read 1); the work of the operation itself is not charged to the bucket.
//!
//! # Assumptions (not published, or simplified)
//!
//! - The operation reads the shop as it goes, page after page of 250 root nodes (the page
//!   size and a pause between pages are settable for tests, [`crate::ShopifySim::set_bulk_pacing`]):
//!   edits made while it runs show in the pages read after them, not in those read before.
//! - Ungrouped output writes each page's root nodes, then their children, each parent's
//!   children in the connection's order. Pagination arguments (`first`, `after`, `last`,
//!   `before`) are ignored: every node of every connection is written.
//! - Fragment spreads are refused as `INVALID`; inline fragments are kept.
//! - The user error message for a running operation follows Shopify's wording as seen in the
//!   field ("A bulk query operation for this app and shop is already in progress: <id>.").
//! - Not modelled: bulk mutations, `bulkOperationCancel`, `bulk_operations/finish` webhooks,
//!   the `EXPIRED` status (files never expire), the ten-day limit, `ACCESS_DENIED`.
//! - [`crate::ShopifySim::fail_next_bulk`] makes the next operation fail with an error code
//!   after a number of pages (partial data kept at `partialDataUrl`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::Value;

use crate::graphql::ReqCtx;
use crate::ids::gid;
use crate::sim::Shared;

/// First bulk operation id (above 2^53, like every simulator id).
const FIRST_ID: u64 = 9_007_199_254_900_001;

/// A bulk operation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkStatus {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Done; the file is at `url`.
    Completed,
    /// Failed; see `error_code`.
    Failed,
}

/// One bulk operation.
#[derive(Debug, Clone)]
pub struct BulkOpRec {
    /// Numeric id.
    pub id: u64,
    /// Status.
    pub status: BulkStatus,
    /// `ACCESS_DENIED`, `INTERNAL_SERVER_ERROR` or `TIMEOUT` once failed.
    pub error_code: Option<String>,
    /// Shop time of creation.
    pub created_at: DateTime<Utc>,
    /// Shop time of completion.
    pub completed_at: Option<DateTime<Utc>>,
    /// Objects written.
    pub object_count: u64,
    /// Root objects written.
    pub root_object_count: u64,
    /// Size of the result file.
    pub file_size: Option<u64>,
    /// The result file's URL.
    pub url: Option<String>,
    /// The partial result's URL (failed operations).
    pub partial_data_url: Option<String>,
    /// The query as given.
    pub query: String,
}

impl BulkOpRec {
    /// `gid://shopify/BulkOperation/N`.
    pub fn gid(&self) -> String {
        gid("BulkOperation", self.id)
    }
    fn running(&self) -> bool {
        matches!(self.status, BulkStatus::Created | BulkStatus::Running)
    }
}

/// Counters of bulk operations (for tests and benchmarks).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BulkStats {
    /// Operations created.
    pub created: u64,
    /// Operations completed.
    pub completed: u64,
    /// Operations failed.
    pub failed: u64,
    /// Creations refused because operations were running.
    pub refused_in_progress: u64,
    /// Creations refused as invalid queries.
    pub refused_invalid: u64,
}

#[derive(Debug)]
struct Inner {
    ops: Vec<BulkOpRec>,
    files: HashMap<u64, Arc<String>>,
    fail_next: Option<(String, usize)>,
    page_size: usize,
    page_pause: Duration,
    stats: BulkStats,
}

/// The shop's bulk operations.
#[derive(Debug)]
pub struct BulkOps {
    inner: Mutex<Inner>,
}

impl Default for BulkOps {
    fn default() -> Self {
        BulkOps {
            inner: Mutex::new(Inner {
                ops: Vec::new(),
                files: HashMap::new(),
                fail_next: None,
                page_size: 250,
                page_pause: Duration::ZERO,
                stats: BulkStats::default(),
            }),
        }
    }
}

/// Why an operation could not be created: Shopify's user error code and message.
#[derive(Debug, Clone)]
pub struct BulkRefusal {
    /// `INVALID` or `OPERATION_IN_PROGRESS`.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl BulkOps {
    /// An operation by numeric id.
    pub fn get(&self, id: u64) -> Option<BulkOpRec> {
        let i = self.inner.lock();
        i.ops.iter().find(|o| o.id == id).cloned()
    }

    /// The app's most recent operation.
    pub fn current(&self) -> Option<BulkOpRec> {
        self.inner.lock().ops.last().cloned()
    }

    /// A result file by operation id.
    pub fn file(&self, id: u64) -> Option<Arc<String>> {
        self.inner.lock().files.get(&id).cloned()
    }

    /// Counters.
    pub fn stats(&self) -> BulkStats {
        self.inner.lock().stats.clone()
    }

    /// Root nodes per page and the pause between pages.
    pub fn set_pacing(&self, page_size: usize, pause: Duration) {
        let mut i = self.inner.lock();
        i.page_size = page_size.clamp(1, 250);
        i.page_pause = pause;
    }

    /// The next operation fails with `code` once it has written `after_pages` pages.
    pub fn fail_next(&self, code: &str, after_pages: usize) {
        self.inner.lock().fail_next = Some((code.to_owned(), after_pages));
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut BulkOpRec)) {
        let mut i = self.inner.lock();
        if let Some(op) = i.ops.iter_mut().find(|o| o.id == id) {
            f(op);
        }
    }
}

/// What a bulk query reads: the root connection, and connections nested in its nodes.
#[derive(Debug, Clone)]
struct Plan {
    root: String,
    root_args: String,
    root_fields: String,
    nested: Vec<Nested>,
}

#[derive(Debug, Clone)]
struct Nested {
    key: String,
    name: String,
    args: String,
    fields: String,
}

const PAGING_ARGS: [&str; 4] = ["first", "after", "last", "before"];

fn invalid(message: impl Into<String>) -> BulkRefusal {
    BulkRefusal {
        code: "INVALID",
        message: message.into(),
    }
}

/// The node selection of a connection field (`nodes { … }` or `edges { node { … } }`).
fn connection_nodes(f: &Field) -> Option<&SelectionSet> {
    for item in &f.selection_set.node.items {
        if let Selection::Field(sub) = &item.node {
            match sub.node.name.node.as_str() {
                "nodes" => return Some(&sub.node.selection_set.node),
                "edges" => {
                    for e in &sub.node.selection_set.node.items {
                        if let Selection::Field(n) = &e.node
                            && n.node.name.node.as_str() == "node"
                        {
                            return Some(&n.node.selection_set.node);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    None
}

fn print_args(f: &Field) -> String {
    let mut out = String::new();
    for (name, value) in &f.arguments {
        if PAGING_ARGS.contains(&name.node.as_str()) {
            continue;
        }
        let _ = write!(out, ", {}: {}", name.node, value.node);
    }
    out
}

fn print_selection(set: &SelectionSet, out: &mut String) -> Result<(), BulkRefusal> {
    for item in &set.items {
        print_item(&item.node, out)?;
    }
    Ok(())
}

fn print_item(item: &Selection, out: &mut String) -> Result<(), BulkRefusal> {
    match item {
        Selection::Field(f) => print_field(&f.node, out),
        Selection::InlineFragment(fr) => {
            out.push_str(" ...");
            if let Some(tc) = &fr.node.type_condition {
                let _ = write!(out, " on {}", tc.node.on.node);
            }
            out.push_str(" {");
            print_selection(&fr.node.selection_set.node, out)?;
            out.push_str(" }");
            Ok(())
        }
        Selection::FragmentSpread(_) => {
            Err(invalid("Bulk queries cannot contain fragment spreads."))
        }
    }
}

fn print_field(f: &Field, out: &mut String) -> Result<(), BulkRefusal> {
    out.push(' ');
    if let Some(a) = &f.alias {
        let _ = write!(out, "{}: ", a.node);
    }
    out.push_str(&f.name.node);
    if !f.arguments.is_empty() {
        let args: Vec<String> = f
            .arguments
            .iter()
            .map(|(n, v)| format!("{}: {}", n.node, v.node))
            .collect();
        let _ = write!(out, "({})", args.join(", "));
    }
    if !f.selection_set.node.items.is_empty() {
        out.push_str(" {");
        print_selection(&f.selection_set.node, out)?;
        out.push_str(" }");
    }
    Ok(())
}

fn plan(doc: &ExecutableDocument) -> Result<Plan, BulkRefusal> {
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.values().next().expect("one operation")
        }
        DocumentOperations::Multiple(_) => {
            return Err(invalid("Bulk queries must contain exactly one operation."));
        }
    };
    if op.node.ty != OperationType::Query {
        return Err(invalid("Bulk queries must be queries."));
    }
    let fields: Vec<&Positioned<Field>> = op
        .node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|s| match &s.node {
            Selection::Field(f) => Some(f),
            _ => None,
        })
        .collect();
    let [root] = fields.as_slice() else {
        return Err(invalid(
            "Bulk queries must contain exactly one top-level field.",
        ));
    };
    let Some(root_nodes) = connection_nodes(&root.node) else {
        return Err(invalid(
            "Bulk queries must contain at least one connection.",
        ));
    };
    let mut root_fields = String::new();
    let mut nested = Vec::new();
    for item in &root_nodes.items {
        match &item.node {
            Selection::Field(f) => match connection_nodes(&f.node) {
                Some(child) => {
                    let mut fields = String::new();
                    for c in &child.items {
                        if let Selection::Field(cf) = &c.node
                            && connection_nodes(&cf.node).is_some()
                        {
                            return Err(invalid(
                                "Bulk queries cannot contain connections with a nesting depth greater than 2.",
                            ));
                        }
                    }
                    print_selection(child, &mut fields)?;
                    nested.push(Nested {
                        key: f
                            .node
                            .alias
                            .as_ref()
                            .map_or_else(|| f.node.name.node.to_string(), |a| a.node.to_string()),
                        name: f.node.name.node.to_string(),
                        args: print_args(&f.node),
                        fields,
                    });
                }
                None => print_field(&f.node, &mut root_fields)?,
            },
            other => print_item(other, &mut root_fields)?,
        }
    }
    if nested.len() + 1 > 5 {
        return Err(invalid(
            "Bulk queries cannot contain more than 5 connections.",
        ));
    }
    Ok(Plan {
        root: root.node.name.node.to_string(),
        root_args: print_args(&root.node),
        root_fields,
        nested,
    })
}

impl Plan {
    fn page_query(&self, first: usize, after: Option<&str>) -> String {
        let after = after.map_or(String::new(), |a| format!(", after: {}", quoted(a)));
        let mut nested = String::new();
        for n in &self.nested {
            let _ = write!(
                nested,
                " weftSimConn_{key}: {name}(first: 250{args}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }}",
                key = n.key,
                name = n.name,
                args = n.args,
                fields = n.fields
            );
        }
        format!(
            "query {{ weftSimRoot: {root}(first: {first}{after}{args}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ weftSimId: id weftSimType: __typename {fields}{nested} }} }} }}",
            root = self.root,
            args = self.root_args,
            fields = self.root_fields,
        )
    }

    fn more_query(&self, n: &Nested, parent: &str, ty: &str, after: &str) -> String {
        format!(
            "query {{ node(id: {id}) {{ ... on {ty} {{ weftSimConn: {name}(first: 250, after: {after}{args}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }} }} }} }}",
            id = quoted(parent),
            name = n.name,
            after = quoted(after),
            args = n.args,
            fields = n.fields
        )
    }
}

fn quoted(s: &str) -> String {
    async_graphql_value::Value::String(s.to_owned()).to_string()
}

async fn execute(shared: &Arc<Shared>, query: String, version: &str) -> Result<Value, String> {
    let request = async_graphql::Request::new(query)
        .data(shared.clone())
        .data(ReqCtx::new(version));
    // Boxed as a trait object: this runs inside a resolver of the same schema.
    let running: std::pin::Pin<
        Box<dyn std::future::Future<Output = async_graphql::Response> + Send + '_>,
    > = Box::pin(shared.schema.execute(request));
    let response = running.await;
    if !response.errors.is_empty() {
        return Err(response
            .errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; "));
    }
    response.data.into_json().map_err(|e| e.to_string())
}

/// Creates a bulk query operation (the `bulkOperationRunQuery` resolver) and starts it.
pub async fn run_query(
    shared: &Arc<Shared>,
    query: &str,
    group_objects: bool,
    version: &str,
) -> Result<BulkOpRec, BulkRefusal> {
    let refuse = |r: BulkRefusal| {
        let mut i = shared.bulk.inner.lock();
        if r.code == "INVALID" {
            i.stats.refused_invalid += 1;
        } else {
            i.stats.refused_in_progress += 1;
        }
        r
    };
    let doc = async_graphql_parser::parse_query(query)
        .map_err(|e| refuse(invalid(format!("Invalid bulk query: {e}"))))?;
    let plan = plan(&doc).map_err(refuse)?;
    // Fields that do not exist are reported now, as Shopify does: one page of one node.
    execute(shared, plan.page_query(1, None), version)
        .await
        .map_err(|e| refuse(invalid(format!("Invalid bulk query: {e}"))))?;
    let limit = if version == "unstable" || version >= "2026-01" {
        5
    } else {
        1
    };
    let now = shared.state.lock().clock.now();
    let rec = {
        let mut i = shared.bulk.inner.lock();
        let running: Vec<String> = i
            .ops
            .iter()
            .filter(|o| o.running())
            .map(BulkOpRec::gid)
            .collect();
        if running.len() >= limit {
            i.stats.refused_in_progress += 1;
            return Err(BulkRefusal {
                code: "OPERATION_IN_PROGRESS",
                message: format!(
                    "A bulk query operation for this app and shop is already in progress: {}.",
                    running[0]
                ),
            });
        }
        let id = FIRST_ID + i.ops.len() as u64;
        let rec = BulkOpRec {
            id,
            status: BulkStatus::Created,
            error_code: None,
            created_at: now,
            completed_at: None,
            object_count: 0,
            root_object_count: 0,
            file_size: None,
            url: None,
            partial_data_url: None,
            query: query.to_owned(),
        };
        i.ops.push(rec.clone());
        i.stats.created += 1;
        rec
    };
    tokio::spawn(run(
        shared.clone(),
        rec.id,
        plan,
        group_objects,
        version.to_owned(),
    ));
    Ok(rec)
}

fn file_url(shared: &Shared, id: u64) -> String {
    let base = shared
        .base_url
        .get()
        .cloned()
        .unwrap_or_else(|| "http://shopify-sim.invalid".to_owned());
    format!("{base}/_sim/bulk/{id}.jsonl")
}

async fn run(shared: Arc<Shared>, id: u64, plan: Plan, grouped: bool, version: String) {
    shared.bulk.update(id, |o| o.status = BulkStatus::Running);
    let (page_size, pause, fail) = {
        let mut i = shared.bulk.inner.lock();
        (i.page_size, i.page_pause, i.fail_next.take())
    };
    let mut out = String::new();
    let (mut objects, mut roots) = (0u64, 0u64);
    let mut after: Option<String> = None;
    let mut page = 0usize;
    let result: Result<(), String> = loop {
        if let Some((code, pages)) = &fail
            && page >= *pages
        {
            break Err(code.clone());
        }
        let data = match execute(
            &shared,
            plan.page_query(page_size, after.as_deref()),
            &version,
        )
        .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "simulated bulk operation page failed");
                break Err("INTERNAL_SERVER_ERROR".to_owned());
            }
        };
        let conn = &data["weftSimRoot"];
        let nodes = conn["nodes"].as_array().cloned().unwrap_or_default();
        let mut children_lines = String::new();
        for node in nodes {
            let Value::Object(mut obj) = node else {
                continue;
            };
            let parent = obj
                .remove("weftSimId")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let ty = obj
                .remove("weftSimType")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut children: Vec<Value> = Vec::new();
            for n in &plan.nested {
                let Some(Value::Object(c)) = obj.remove(&format!("weftSimConn_{}", n.key)) else {
                    continue;
                };
                let mut conn = Value::Object(c);
                loop {
                    children.extend(conn["nodes"].as_array().cloned().unwrap_or_default());
                    let next = conn
                        .pointer("/pageInfo/hasNextPage")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let cursor = conn
                        .pointer("/pageInfo/endCursor")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let (true, Some(cursor)) = (next, cursor) else {
                        break;
                    };
                    match execute(&shared, plan.more_query(n, &parent, &ty, &cursor), &version)
                        .await
                    {
                        Ok(d) => conn = d["node"]["weftSimConn"].clone(),
                        Err(_) => break,
                    }
                }
            }
            push_line(&mut out, &Value::Object(obj));
            objects += 1;
            roots += 1;
            let target = if grouped {
                &mut out
            } else {
                &mut children_lines
            };
            for c in children {
                let Value::Object(mut c) = c else { continue };
                c.insert("__parentId".into(), Value::String(parent.clone()));
                push_line(target, &Value::Object(c));
                objects += 1;
            }
        }
        out.push_str(&children_lines);
        shared.bulk.update(id, |o| {
            o.object_count = objects;
            o.root_object_count = roots;
        });
        page += 1;
        let next = conn
            .pointer("/pageInfo/endCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (
            conn.pointer("/pageInfo/hasNextPage")
                .and_then(Value::as_bool),
            next,
        ) {
            (Some(true), Some(c)) => after = Some(c),
            _ => break Ok(()),
        }
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
        }
    };
    let now = shared.state.lock().clock.now();
    let size = out.len() as u64;
    let has_data = !out.is_empty();
    let url = file_url(&shared, id);
    let mut i = shared.bulk.inner.lock();
    i.files.insert(id, Arc::new(out));
    match result {
        Ok(()) => i.stats.completed += 1,
        Err(_) => i.stats.failed += 1,
    }
    if let Some(op) = i.ops.iter_mut().find(|o| o.id == id) {
        match result {
            Ok(()) => {
                op.status = BulkStatus::Completed;
                op.completed_at = Some(now);
                op.file_size = has_data.then_some(size);
                op.url = has_data.then_some(url);
            }
            Err(code) => {
                op.status = BulkStatus::Failed;
                op.error_code = Some(code);
                op.partial_data_url = has_data.then_some(url);
            }
        }
    }
}

fn push_line(out: &mut String, v: &Value) {
    out.push_str(&v.to_string());
    out.push('\n');
}
