//! Customer saves through the Magento connector against its simulator over HTTP: an existing
//! customer saved whole (`PUT /V1/customers/{id}`), its addresses kept when left out and
//! replaced when sent, and Magento's refusals (a missing customer, a required field left
//! empty, an email another customer has) as permanent errors with Magento's message.

use std::sync::Arc;

use serde_json::json;
use weft_magento::{BulkSettings, MagentoConnection, MgClient, MgConfig};
use weft_platform::{Connection, ConnectorError, EntityKind, WriteCommand, WriteOp};
use weft_sim_magento::{DEFAULT_TOKEN, MagentoSim, SimConfig};

fn save(id: &str, body: serde_json::Value) -> WriteCommand {
    WriteCommand {
        system: "magento".into(),
        kind: EntityKind::Customer,
        op: WriteOp::Upsert,
        target_id: Some(id.into()),
        external_id: None,
        body,
        idempotency_key: format!("customer-{id}"),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn existing_customers_are_saved_whole_and_refusals_are_magentos() {
    let sim = MagentoSim::new(SimConfig::default());
    let handle = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let client = MgClient::new(MgConfig::new(&handle.base_url, "default", DEFAULT_TOKEN)).unwrap();
    let conn = MagentoConnection::new(Arc::new(client), BulkSettings::default());
    let ann = sim
        .save_customer(
            json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
            "addresses": [{"city": "Austin", "telephone": "555"}]}),
        )
        .unwrap();
    let id = ann["id"].as_u64().unwrap().to_string();
    sim.save_customer(json!({"email": "bob@example.com", "firstname": "Bob", "lastname": "Roe"}))
        .unwrap();

    // A new name: saved; the addresses, left out, are kept.
    sim.advance(std::time::Duration::from_secs(2));
    let out = conn
        .execute(&save(
            &id,
            json!({"email": "ann@example.com", "firstname": "Annie", "lastname": "Lee",
                "website_id": 1}),
        ))
        .await
        .unwrap();
    assert_eq!(out.target_id, id);
    assert!(out.applied);
    let doc = out.document.unwrap();
    assert_eq!(doc["firstname"], "Annie");
    assert_eq!(doc["addresses"][0]["telephone"], "555");
    assert_ne!(
        out.version.as_deref(),
        Some(ann["updated_at"].as_str().unwrap())
    );

    // A new telephone travels on the addresses, which replace the customer's.
    let out = conn
        .execute(&save(
            &id,
            json!({"email": "ann@example.com", "firstname": "Annie", "lastname": "Lee",
                "website_id": 1, "addresses": [{"city": "Austin", "telephone": "777"}]}),
        ))
        .await
        .unwrap();
    assert_eq!(out.document.unwrap()["addresses"][0]["telephone"], "777");

    // Refusals: permanent, in Magento's words.
    let refused = |r: Result<_, ConnectorError>| match r {
        Err(ConnectorError::Permanent {
            status, message, ..
        }) => (status, message),
        other => panic!("expected a permanent error, got {other:?}"),
    };
    let (status, message) = refused(
        conn.execute(&save(
            "99",
            json!({"email": "x@example.com", "firstname": "X", "lastname": "Y"}),
        ))
        .await,
    );
    assert_eq!(status, 404);
    assert!(message.contains("customerId = 99"), "{message}");
    let (status, message) = refused(
        conn.execute(&save(
            &id,
            json!({"email": "ann@example.com", "firstname": "", "lastname": "Lee"}),
        ))
        .await,
    );
    assert_eq!(status, 400);
    assert!(
        message.contains("\"firstname\" is a required value"),
        "{message}"
    );
    let (status, message) = refused(
        conn.execute(&save(
            &id,
            json!({"email": "bob@example.com", "firstname": "Annie", "lastname": "Lee"}),
        ))
        .await,
    );
    assert_eq!(status, 400);
    assert!(message.contains("same email address"), "{message}");
    assert_eq!(
        sim.state()["customers"][0]["email"],
        "ann@example.com",
        "a refused save changes nothing"
    );
    handle.shutdown().await;
}
