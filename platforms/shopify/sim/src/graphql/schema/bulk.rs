//! The GraphQL face of bulk query operations ([`crate::bulk`]): `bulkOperationRunQuery`,
//! `currentBulkOperation`, the `BulkOperation` object (also a `Node`) and
//! `productVariantsCount` (how a client sizes a catalog before choosing a bulk read).

use super::*;
use crate::bulk::{BulkOpRec, BulkStatus};

/// `BulkOperationStatus`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum BulkOperationStatus {
    /// Canceled.
    Canceled,
    /// Cancelation started.
    Canceling,
    /// Completed.
    Completed,
    /// Created.
    Created,
    /// The URL expired.
    Expired,
    /// Failed; see `errorCode`.
    Failed,
    /// Running.
    Running,
}

/// `BulkOperationErrorCode`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum BulkOperationErrorCode {
    /// Missing access scopes.
    AccessDenied,
    /// Internal errors; partial data.
    InternalServerError,
    /// Timeouts; partial data.
    Timeout,
}

/// `BulkOperationType`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum BulkOperationType {
    /// A bulk query.
    Query,
    /// A bulk mutation.
    Mutation,
}

/// `BulkOperationUserErrorCode`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum BulkOperationUserErrorCode {
    /// The input value is invalid.
    Invalid,
    /// Bulk operations limit reached.
    LimitReached,
    /// A bulk operation is already in progress.
    OperationInProgress,
}

/// An asynchronous bulk operation.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct BulkOperation {
    /// Id.
    #[graphql(skip)]
    pub gid: ID,
    /// Status.
    pub status: BulkOperationStatus,
    /// Error code of a failed operation.
    pub error_code: Option<BulkOperationErrorCode>,
    /// Creation time.
    pub created_at: DateTimeScalar,
    /// Completion time.
    pub completed_at: Option<DateTimeScalar>,
    /// Objects written so far.
    pub object_count: UnsignedInt64,
    /// Root objects written so far.
    pub root_object_count: UnsignedInt64,
    /// Size of the result file.
    pub file_size: Option<UnsignedInt64>,
    /// The JSONL result.
    pub url: Option<Url>,
    /// The partial JSONL result of a failed operation.
    pub partial_data_url: Option<Url>,
    /// The query.
    pub query: String,
    /// Query or mutation.
    #[graphql(name = "type")]
    pub kind: BulkOperationType,
}

impl From<BulkOpRec> for BulkOperation {
    fn from(o: BulkOpRec) -> Self {
        BulkOperation {
            gid: ID(o.gid()),
            status: match o.status {
                BulkStatus::Created => BulkOperationStatus::Created,
                BulkStatus::Running => BulkOperationStatus::Running,
                BulkStatus::Completed => BulkOperationStatus::Completed,
                BulkStatus::Failed => BulkOperationStatus::Failed,
            },
            error_code: o.error_code.as_deref().map(|c| match c {
                "ACCESS_DENIED" => BulkOperationErrorCode::AccessDenied,
                "TIMEOUT" => BulkOperationErrorCode::Timeout,
                _ => BulkOperationErrorCode::InternalServerError,
            }),
            created_at: dt(o.created_at),
            completed_at: o.completed_at.map(dt),
            object_count: UnsignedInt64(o.object_count.to_string()),
            root_object_count: UnsignedInt64(o.root_object_count.to_string()),
            file_size: o.file_size.map(|s| UnsignedInt64(s.to_string())),
            url: o.url.map(Url),
            partial_data_url: o.partial_data_url.map(Url),
            query: o.query,
            kind: BulkOperationType::Query,
        }
    }
}

#[async_graphql::ComplexObject]
impl BulkOperation {
    /// Id.
    pub async fn id(&self) -> ID {
        self.gid.clone()
    }
}

/// A bulk operation's user error.
#[derive(SimpleObject, Clone)]
pub struct BulkOperationUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<BulkOperationUserErrorCode>,
}

/// `bulkOperationRunQuery`'s payload.
#[derive(SimpleObject, Clone)]
pub struct BulkOperationRunQueryPayload {
    /// The new operation.
    pub bulk_operation: Option<BulkOperation>,
    /// Errors.
    pub user_errors: Vec<BulkOperationUserError>,
}

pub(super) async fn run_query(
    ctx: &Context<'_>,
    query: String,
    group_objects: bool,
) -> BulkOperationRunQueryPayload {
    let version = ctx
        .data::<ReqCtx>()
        .map(|r| r.version.clone())
        .unwrap_or_default();
    match crate::bulk::run_query(shared(ctx), &query, group_objects, &version).await {
        Ok(rec) => BulkOperationRunQueryPayload {
            bulk_operation: Some(rec.into()),
            user_errors: Vec::new(),
        },
        Err(r) => BulkOperationRunQueryPayload {
            bulk_operation: None,
            user_errors: vec![BulkOperationUserError {
                field: (r.code == "INVALID").then(|| vec!["query".to_owned()]),
                message: r.message,
                code: Some(match r.code {
                    "INVALID" => BulkOperationUserErrorCode::Invalid,
                    _ => BulkOperationUserErrorCode::OperationInProgress,
                }),
            }],
        },
    }
}

pub(super) fn current(ctx: &Context<'_>) -> Option<BulkOperation> {
    shared(ctx).bulk.current().map(Into::into)
}

pub(super) fn by_id(ctx: &Context<'_>, id: u64) -> Option<BulkOperation> {
    shared(ctx).bulk.get(id).map(Into::into)
}

/// Default and maximum of `productVariantsCount(limit:)`.
const COUNT_LIMIT: i64 = 10_000;

pub(super) fn variants_count(
    ctx: &Context<'_>,
    query: Option<String>,
    limit: Option<i32>,
) -> Count {
    let q = search_of(&query);
    let st = shared(ctx).state.lock();
    let n = st
        .products
        .values()
        .filter(|p| {
            let skus: Vec<String> = p
                .variant_ids
                .iter()
                .filter_map(|v| st.variants.get(v).and_then(|v| v.sku.clone()))
                .collect();
            q.matches(&ProductProbe(p, skus))
        })
        .map(|p| p.variant_ids.len() as i64)
        .sum::<i64>();
    let limit = limit.map_or(COUNT_LIMIT, i64::from);
    if n > limit {
        Count {
            count: limit,
            precision: CountPrecision::AtLeast,
        }
    } else {
        Count {
            count: n,
            precision: CountPrecision::Exact,
        }
    }
}
