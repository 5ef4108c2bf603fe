//! Webhook intake, per platform: how a delivery is authenticated and what it says.
//!
//! The server owns everything that is the same for every platform (the route, the body cap and
//! timeout, the journal, the answers); a platform's [`WebhookIntake`] says whether a delivery
//! is authentic and turns it into the document it carries.

use http::HeaderMap;
use serde_json::Value;

/// A webhook signing secret. Its `Debug` never prints the value and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Wraps a secret's bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        WebhookSecret(secret.into())
    }

    /// The secret's bytes (for signing and verifying only).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The journal kind of a *hint* (see [`weft_store::HINT_KIND`]): the platform's own change
/// source fetches the entity it names ([`crate::hints`]).
pub use weft_store::HINT_KIND;

/// The body field that marks a document as a deletion (a *tombstone*).
pub const DELETED_FIELD: &str = "weft_deleted";

/// The document that says entity `id` was deleted: `{"id": id, "weft_deleted": true}`. A
/// platform journals a deletion (a delete webhook, a record gone from a full read) as this,
/// under the entity's journal kind and id, versioned by when it was deleted (or seen gone).
pub fn tombstone(id: &str) -> Value {
    serde_json::json!({ "id": id, DELETED_FIELD: true })
}

/// Whether `doc` is a [`tombstone`].
pub fn is_tombstone(doc: &Value) -> bool {
    doc.get(DELETED_FIELD).and_then(Value::as_bool) == Some(true)
}

/// The document an authenticated delivery carries.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// The document's journal kind.
    pub kind: String,
    /// Its id in the platform.
    pub entity_id: String,
    /// Its version (modification time).
    pub version: String,
    /// The platform's delivery id, when it sends one (deduplicates retries).
    pub delivery_id: Option<String>,
    /// The document, in the platform's normalized shape.
    pub body: Value,
}

/// A delivery that is a privacy request (a platform's mandatory customer redaction, data
/// request or account redaction) rather than a document: the server stores it durably before
/// answering and the store's runner processes it (`weft_store::Store::redact_subject`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyDelivery {
    /// What the platform asks for.
    pub action: weft_store::PrivacyAction,
    /// Whom it is about: the customer's ids, emails and phones and the orders named.
    pub subject: weft_store::PrivacySubject,
    /// The platform's delivery id (a retried delivery is the same request).
    pub delivery_id: Option<String>,
}

/// One platform's webhooks.
pub trait WebhookIntake: Send + Sync {
    /// Headers never kept with a refused delivery: the signature and anything that could carry
    /// a credential (`authorization`, `cookie` and `proxy-authorization` are never kept
    /// anyway).
    fn secret_headers(&self) -> &'static [&'static str];

    /// What to call the delivery in logs: its topic and delivery id, when the headers say.
    fn describe(&self, headers: &HeaderMap) -> (String, String);

    /// Whether the request is the platform's delivery test (a ping sent when a subscription is
    /// created, unsigned), to be answered 200 and not journaled. Checked before the signature:
    /// nothing of it is stored. The default: the platform sends none.
    fn is_ping(&self, _headers: &HeaderMap, _body: &[u8]) -> bool {
        false
    }

    /// Whether the delivery is signed with one of `secrets`, in constant time.
    fn verify(&self, headers: &HeaderMap, body: &[u8], secrets: &[WebhookSecret]) -> bool;

    /// Whether an authenticated delivery is a privacy request: `None` when it is not (it is
    /// then [`WebhookIntake::parse`]d as a document), `Some(Err(reason))` when it is one that
    /// cannot be read or is addressed to another account than `account` (refused with 400 and
    /// kept, like a malformed document). The default: the platform sends none.
    fn privacy_request(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
        _account: Option<&str>,
    ) -> Option<Result<PrivacyDelivery, String>> {
        None
    }

    /// The document an authenticated delivery carries, or why it cannot be one (the request
    /// is refused with 400 and kept for inspection): a body that is not the topic's resource,
    /// or a delivery addressed to another account than `account` (the system's own, e.g. its
    /// shop domain, when the platform names it in its deliveries: apps share one signing
    /// secret across accounts, so the signature alone does not say whose delivery it is).
    fn parse(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        account: Option<&str>,
    ) -> Result<WebhookDelivery, String>;
}

/// A header's value as trimmed text, when present and not empty.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// At most 128 bytes of a client-supplied value, for messages and logs.
pub fn clip(v: &str) -> &str {
    if v.len() <= 128 {
        return v;
    }
    let mut end = 128;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    &v[..end]
}
