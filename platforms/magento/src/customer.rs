//! Customer writes: a synchronous save of an existing customer (`PUT /V1/customers/{id}`,
//! `{"customer": {…}}`). Customers are created in Magento (a shopper registers), not by weft;
//! the mapper sends the whole customer Magento requires (`email`, `firstname`, `lastname`,
//! `website_id`) and, to change a telephone, the customer's addresses with it (Magento keeps the
//! addresses of a save that leaves them out). A save is the same save when sent again.

use reqwest::Method;
use serde_json::{Value, json};
use weft_platform::write::{bad_field, missing};
use weft_platform::{ConnectorError, EntityKind, WriteCommand, WriteOp, WriteOutcome};

use crate::PLATFORM;
use crate::client::MgClient;
use crate::normalize;

/// Whether `cmd` is a customer save.
pub fn is_customer_save(cmd: &WriteCommand) -> bool {
    cmd.kind == EntityKind::Customer && cmd.op == WriteOp::Upsert
}

/// Saves customer `cmd.target_id` with `cmd.body` (the customer's fields).
pub async fn save(client: &MgClient, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
    let id = cmd
        .target_id
        .as_deref()
        .ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
    let Ok(numeric) = id.parse::<u64>() else {
        return Err(bad_field(
            PLATFORM,
            "target_id",
            "not a Magento customer id",
        ));
    };
    let Some(fields) = cmd.body.as_object() else {
        return Err(bad_field(PLATFORM, "body", "not an object"));
    };
    let mut customer = fields.clone();
    customer.insert("id".into(), json!(numeric));
    let saved = client
        .call(
            Method::PUT,
            &format!("/V1/customers/{numeric}"),
            Some(&json!({ "customer": Value::Object(customer) })),
        )
        .await?
        .unwrap_or(Value::Null);
    let doc = normalize::customer(&saved).ok_or_else(|| ConnectorError::Transport {
        system: PLATFORM,
        message: format!("customer save answered without id or updated_at: {saved}"),
        retryable: false,
    })?;
    Ok(WriteOutcome {
        target_id: doc.id,
        version: Some(doc.version),
        document: Some(doc.body),
        children: Vec::new(),
        applied: true,
        created: false,
    })
}
