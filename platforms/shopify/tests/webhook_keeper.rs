//! The webhook keeper against the Shopify simulator: it subscribes weft's URL to every topic
//! weft reads, leaves a complete set alone, and repairs a subscription that was deleted.

use std::sync::Arc;

use weft_platform::Poller;
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::webhook::{TOPICS, WebhookKeeper, missing_subscriptions};
use weft_shopify::{ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{ShopifySim, SimConfig};

const URL: &str = "https://weft.example.com/webhooks/shopify/acme";

#[tokio::test]
async fn the_keeper_creates_checks_and_repairs_subscriptions() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let client = Arc::new(
        ShopifyClient::new(
            ShopifyConfig::new(handle.base_url.clone(), "2026-04", "shpat_sim_access_token"),
            ShopifyCostLimiter::new(),
        )
        .unwrap(),
    );
    // Another app's subscription to another address does not count.
    client
        .graphql(
            "mutation { webhookSubscriptionCreate(topic: PRODUCTS_UPDATE, webhookSubscription: {callbackUrl: \"https://other.example.com/hook\", format: JSON}) { userErrors { message } } }",
            serde_json::json!({}),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        missing_subscriptions(&client, URL).await.unwrap(),
        TOPICS.to_vec()
    );

    let keeper = WebhookKeeper::new("acme", "shopify", client.clone(), URL);
    assert_eq!(keeper.name(), "shopify-webhooks");
    keeper.poll().await.unwrap();
    let ours: Vec<_> = sim
        .subscriptions()
        .into_iter()
        .filter(|s| s.uri == URL)
        .collect();
    assert_eq!(ours.len(), TOPICS.len(), "one subscription per topic");
    assert!(
        missing_subscriptions(&client, URL)
            .await
            .unwrap()
            .is_empty()
    );

    // A second round creates nothing.
    keeper.poll().await.unwrap();
    assert_eq!(
        sim.subscriptions().iter().filter(|s| s.uri == URL).count(),
        TOPICS.len()
    );

    // Somebody deletes one: the next round puts it back.
    let gone = &ours[0];
    client
        .graphql(
            "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }",
            serde_json::json!({ "id": format!("gid://shopify/WebhookSubscription/{}", gone.id) }),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        sim.subscriptions().iter().filter(|s| s.uri == URL).count(),
        TOPICS.len() - 1
    );
    keeper.poll_full().await.unwrap();
    assert_eq!(
        sim.subscriptions().iter().filter(|s| s.uri == URL).count(),
        TOPICS.len()
    );
    assert!(
        missing_subscriptions(&client, URL)
            .await
            .unwrap()
            .is_empty()
    );
}
