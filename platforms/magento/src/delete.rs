//! Deletes: a product (a canonical `variant`: a simple product is the sellable item) by
//! `DELETE /V1/products/{sku}`, a customer by `DELETE /V1/customers/{id}`, one request each
//! (never in a bulk: Magento's bulk API has no delete topic weft uses, and a delete is rare).
//!
//! - **Product** (`variant`, or `product`): `target_id` is the product's entity id (the id its
//!   documents are journaled under). Magento deletes by SKU, so the product is first found by
//!   its id (`searchCriteria` on `entity_id`, the read change capture uses): a product not
//!   listed is gone already, a SKU renamed in Magento since is still the product deleted, and
//!   another product that took the SKU since (a new id) is never touched. The body's `sku`
//!   (what weft last saw) is only logged beside the one deleted. Its source items go with it;
//!   their readings are forgotten by the [`LevelClock`], so a product made again under that
//!   SKU has its levels journaled afresh.
//! - **Customer**: `target_id` is the customer id; nothing else is needed. The customer is read
//!   first (`GET /V1/customers/{id}`, 404: gone already) for the time it was last saved.
//!
//! A 404 (never there, or deleted since: Magento's `NoSuchEntityException`) is success: the
//! record is gone. The outcome's document is [`weft_platform::webhook::tombstone`] of the id
//! (the shape and id the change capture journals for a product or customer it no longer
//! lists), versioned by weft's clock when Magento answered (Magento sends nothing when a record
//! is deleted and keeps no trace of it to read a time from), or one second after the record's
//! last `updated_at` when that is later (Magento's clock ahead of weft's: a tombstone must be
//! newer than what it deletes, as [`weft_platform::poll::Held::vanished`] places its own).

use chrono::Utc;
use reqwest::Method;
use serde_json::Value;
use weft_platform::version::deletion_version;
use weft_platform::write::{bad_field, missing, unsupported};
use weft_platform::{ConnectorError, EntityKind, WriteCommand, WriteOp, WriteOutcome};

use crate::PLATFORM;
use crate::client::{MgClient, filter};
use crate::normalize;
use crate::poll::{LevelClock, record_identity};

/// Whether `cmd` is a delete this connector performs.
pub fn is_delete(cmd: &WriteCommand) -> bool {
    cmd.op == WriteOp::Delete
}

/// The numeric id of `cmd`'s target.
fn target(cmd: &WriteCommand, what: &str) -> Result<u64, ConnectorError> {
    let id = cmd
        .target_id
        .as_deref()
        .ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
    id.trim()
        .parse::<u64>()
        .map_err(|_| bad_field(PLATFORM, "target_id", &format!("not a Magento {what} id")))
}

/// Whether `e` says the record does not exist (Magento's `NoSuchEntityException`; not the 404
/// of a path no route matches, which says the base URL or store code is wrong).
fn not_found(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Permanent { status: 404, message, .. }
        if !message.contains("does not match any route"))
}

/// What a removed record leaves: its tombstone, versioned now or one second after `updated_at`
/// (the record's last save as Magento answered it, when read), whichever is later.
fn removed(id: u64, updated_at: Option<&Value>) -> WriteOutcome {
    let saved = updated_at.and_then(Value::as_str).map(normalize::version);
    WriteOutcome::removed(
        &id.to_string(),
        deletion_version(Utc::now(), saved.as_deref()),
    )
}

/// Removes `cmd`'s record (see the module's doc).
pub async fn delete(
    client: &MgClient,
    levels: &LevelClock,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    match cmd.kind {
        EntityKind::Product | EntityKind::Variant => delete_product(client, levels, cmd).await,
        EntityKind::Customer => {
            let id = target(cmd, "customer")?;
            let path = format!("/V1/customers/{id}");
            let customer = match client.get(&path).await {
                Ok(c) => c,
                Err(e) if not_found(&e) => return Ok(removed(id, None)),
                Err(e) => return Err(e),
            };
            match client.call(Method::DELETE, &path, None).await {
                Ok(_) => {}
                // Deleted between the read and the delete.
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e),
            }
            Ok(removed(id, customer.get("updated_at")))
        }
        _ => Err(unsupported(PLATFORM, cmd)),
    }
}

async fn delete_product(
    client: &MgClient,
    levels: &LevelClock,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    let id = target(cmd, "product")?;
    let listed = client
        .search(
            "/V1/products",
            &filter(0, "entity_id", &id.to_string(), "eq"),
            "entity_id",
            record_identity,
        )
        .await?;
    let Some(product) = listed
        .iter()
        .find(|p| p["id"].as_u64() == Some(id) || p["id"].as_str() == Some(&id.to_string()))
    else {
        // Not listed: deleted already (in Magento, or by an earlier send of this write).
        return Ok(removed(id, None));
    };
    let Some(sku) = product["sku"].as_str() else {
        return Err(ConnectorError::Transport {
            system: PLATFORM,
            message: format!("product {id} listed without a sku: {product}"),
            retryable: false,
        });
    };
    match client
        .call(Method::DELETE, &format!("/V1/products/{}", enc(sku)), None)
        .await
    {
        Ok(_) => {}
        // Deleted between the read and the delete.
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let held_sku = cmd.body.get("sku").and_then(Value::as_str);
    tracing::debug!(product = id, sku, held_sku, "magento product deleted");
    levels.forget_sku(sku);
    Ok(removed(id, product.get("updated_at")))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
